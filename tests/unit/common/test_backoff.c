/* api/common/backoff.h: the one retry rule. */
#include <criterion/criterion.h>

#include "api/common/backoff.h"

/* Expects the next waits of b to be want[0 .. n). */
static void expect_waits(kito_backoff *b, const uint32_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t wait = kito_backoff_next(b);
        cr_assert_eq(wait, want[i], "wait %zu is %u, not %u", i, wait, want[i]);
    }
}

Test(backoff, doubles_to_the_cap_and_resets)
{
    kito_backoff b;
    kito_backoff_init(&b, 100, 2000);
    expect_waits(&b, (const uint32_t[]){100, 200, 400}, 3);
    for (int i = 0; i < 10; i++)
        kito_backoff_next(&b);
    cr_assert_eq(kito_backoff_next(&b), 2000, "the cap holds");
    kito_backoff_reset(&b);
    cr_assert_eq(kito_backoff_next(&b), 100, "a success starts again from the first wait");
}

Test(backoff, a_cap_that_is_not_a_power_of_two_is_reached_not_passed)
{
    kito_backoff b;
    kito_backoff_init(&b, 300, 1000);
    expect_waits(&b, (const uint32_t[]){300, 600, 1000, 1000}, 4);
}

Test(backoff, after_n_failures)
{
    cr_assert_eq(kito_backoff_after(30000, 600000, 0), 30000);
    cr_assert_eq(kito_backoff_after(30000, 600000, 1), 60000);
    cr_assert_eq(kito_backoff_after(30000, 600000, 4), 480000);
    cr_assert_eq(kito_backoff_after(30000, 600000, 5), 600000);
    cr_assert_eq(kito_backoff_after(30000, 600000, 4000000000u), 600000, "no overflow");
}
