#include "api/common/backoff.h"

#include <assert.h>

void kito_backoff_init(kito_backoff *b, uint32_t min_ms, uint32_t max_ms)
{
    assert(min_ms > 0 && min_ms <= max_ms);
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    b->next_ms = min_ms;
}

uint32_t kito_backoff_next(kito_backoff *b)
{
    uint32_t wait = b->next_ms;
    b->next_ms = wait >= b->max_ms / 2 ? b->max_ms : wait * 2;
    return wait;
}

void kito_backoff_reset(kito_backoff *b)
{
    b->next_ms = b->min_ms;
}

uint64_t kito_backoff_after(uint64_t min_ms, uint64_t max_ms, uint32_t failures)
{
    uint64_t wait = min_ms;
    for (uint32_t i = 0; i < failures && wait < max_ms; i++)
        wait *= 2;
    return wait > max_ms ? max_ms : wait;
}
