/* api/h2_guard: the rapid-reset token bucket. */
#include <criterion/criterion.h>

#include "api/http/h2_guard.h"

Test(h2_guard, a_burst_of_rate_passes_and_the_next_trips)
{
    kito_h2_guard g;
    kito_h2_guard_init(&g, 100, 5000);
    for (int i = 0; i < 100; i++)
        cr_assert(kito_h2_guard_charge(&g, 5000), "stream %d tripped", i);
    cr_expect_not(kito_h2_guard_charge(&g, 5000));
    cr_expect_eq(g.abandoned, 101);
}

Test(h2_guard, refills_at_rate_per_second)
{
    kito_h2_guard g;
    kito_h2_guard_init(&g, 100, 0);
    for (int i = 0; i < 100; i++)
        kito_h2_guard_charge(&g, 0);
    cr_expect(kito_h2_guard_charge(&g, 10), "10 ms refill 1 token at 100/s");
    cr_expect_not(kito_h2_guard_charge(&g, 10));
    /* a client resetting 50 streams a second, forever, never trips a 100/s guard */
    for (uint64_t t = 1000; t < 60000; t += 20)
        cr_assert(kito_h2_guard_charge(&g, t), "tripped at %llu ms", (unsigned long long)t);
}

Test(h2_guard, bucket_never_exceeds_its_size)
{
    kito_h2_guard g;
    kito_h2_guard_init(&g, 10, 0);
    int passed = 0;
    for (int i = 0; i < 100; i++)
        passed += kito_h2_guard_charge(&g, 3600000);
    cr_expect_eq(passed, 10, "an idle hour gives 10 tokens, not 36000");
}

Test(h2_guard, clock_going_back_is_harmless)
{
    kito_h2_guard g;
    kito_h2_guard_init(&g, 1, 1000);
    cr_expect(kito_h2_guard_charge(&g, 1000));
    cr_expect_not(kito_h2_guard_charge(&g, 10));
}
