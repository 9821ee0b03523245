#include "api/http/h2_guard.h"

#include <assert.h>

void kito_h2_guard_init(kito_h2_guard *g, uint32_t rate, uint64_t now_ms)
{
    assert(rate > 0);
    g->rate = rate;
    g->tokens_milli = (uint64_t)rate * 1000;
    g->last_ms = now_ms;
    g->abandoned = 0;
}

bool kito_h2_guard_charge(kito_h2_guard *g, uint64_t now_ms)
{
    const uint64_t cap = (uint64_t)g->rate * 1000;
    if (now_ms > g->last_ms) {
        uint64_t elapsed = now_ms - g->last_ms;
        /* rate tokens per 1000 ms = rate milli-tokens per ms; cap the product first */
        uint64_t refill = elapsed >= 1000 ? cap : elapsed * g->rate;
        g->tokens_milli = g->tokens_milli + refill > cap ? cap : g->tokens_milli + refill;
        g->last_ms = now_ms;
    }
    g->abandoned++;
    if (g->tokens_milli < 1000)
        return false;
    g->tokens_milli -= 1000;
    return true;
}
