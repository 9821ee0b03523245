#include <criterion/criterion.h>
#include <string.h>

#include "engine/ladder.h"

#define USD(x) ((int64_t)(x)*100)

Test(ladder, default_table_steps_at_every_boundary)
{
    struct kito_ladder l;
    kito_ladder_default(&l);
    cr_assert_eq(l.n_rungs, 10);
    /* DESIGN.md: from 0 step 5, from 100 step 10, ... from 50,000 step 5,000 (cents). */
    static const struct {
        int64_t price, step;
    } rungs[] = {
        /* a line a rung: its first price, the last below the next rung, or beyond the top */
        // clang-format off
        {0, USD(5)}, {USD(100) - 1, USD(5)},
        {USD(100), USD(10)}, {USD(199), USD(10)},
        {USD(200), USD(20)},
        {USD(500), USD(50)}, {USD(999), USD(50)},
        {USD(1000), USD(100)},
        {USD(2000), USD(200)},
        {USD(5000), USD(500)},
        {USD(10000), USD(1000)},
        {USD(20000), USD(2000)}, {USD(49999), USD(2000)},
        {USD(50000), USD(5000)}, {USD(10000000), USD(5000)},
        // clang-format on
    };
    for (size_t i = 0; i < sizeof(rungs) / sizeof(rungs[0]); i++)
        cr_assert_eq(kito_ladder_step(&l, rungs[i].price), rungs[i].step, "step at %lld cents",
                     (long long)rungs[i].price);
}

Test(ladder, next_adds_the_step_and_refuses_overflow)
{
    struct kito_ladder l;
    kito_ladder_default(&l);
    int64_t next = -1;
    cr_assert_eq(kito_ladder_next(&l, USD(95), &next), KITO_OK);
    cr_assert_eq(next, USD(100));
    cr_assert_eq(kito_ladder_next(&l, USD(100), &next), KITO_OK);
    cr_assert_eq(next, USD(110));
    next = 7;
    cr_assert_eq(kito_ladder_next(&l, KITO_AMOUNT_MAX_MINOR, &next), KITO_E_BAD_AMOUNT);
    cr_assert_eq(next, 7, "untouched on failure");
    cr_assert_eq(kito_ladder_next(&l, KITO_AMOUNT_MAX_MINOR - USD(5000), &next), KITO_OK);
    cr_assert_eq(next, KITO_AMOUNT_MAX_MINOR);
}

Test(ladder, custom_ladder_is_copied_and_used)
{
    struct kito_ladder_rung rungs[] = {{0, 100}, {1000, 250}, {10000, 1000}};
    struct kito_ladder l;
    cr_assert_eq(kito_ladder_init(&l, rungs, 3), KITO_OK);
    cr_assert_eq(kito_ladder_validate(&l), KITO_OK);
    cr_assert_eq(kito_ladder_step(&l, 999), 100);
    cr_assert_eq(kito_ladder_step(&l, 1000), 250);
    cr_assert_eq(kito_ladder_step(&l, 123456), 1000);
    struct kito_ladder d;
    kito_ladder_default(&d);
    cr_assert(!kito_ladder_equal(&l, &d));
    struct kito_ladder l2;
    cr_assert_eq(kito_ladder_init(&l2, rungs, 3), KITO_OK);
    cr_assert(kito_ladder_equal(&l, &l2));
}

Test(ladder, invalid_ladders_are_refused)
{
    struct kito_ladder l, before;
    kito_ladder_default(&l);
    before = l;
    struct kito_ladder_rung not_from_zero[] = {{1, 5}};
    struct kito_ladder_rung zero_step[] = {{0, 0}};
    struct kito_ladder_rung negative_step[] = {{0, -5}};
    struct kito_ladder_rung same_from[] = {{0, 5}, {100, 10}, {100, 20}};
    struct kito_ladder_rung falling_from[] = {{0, 5}, {200, 10}, {100, 20}};
    struct kito_ladder_rung shrinking_step[] = {{0, 50}, {100, 10}};
    struct kito_ladder_rung huge_step[] = {{0, KITO_AMOUNT_MAX_MINOR + 1}};
    struct kito_ladder_rung many[KITO_LADDER_MAX_RUNGS + 1];
    for (int i = 0; i < KITO_LADDER_MAX_RUNGS + 1; i++)
        many[i] = (struct kito_ladder_rung){i * 100, 5 + i};
    cr_assert_eq(kito_ladder_init(&l, not_from_zero, 1), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, zero_step, 1), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, negative_step, 1), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, same_from, 3), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, falling_from, 3), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, shrinking_step, 2), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, huge_step, 1), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, many, KITO_LADDER_MAX_RUNGS + 1), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, many, 0), KITO_E_BAD_LADDER);
    cr_assert_eq(kito_ladder_init(&l, NULL, 1), KITO_E_BAD_LADDER);
    cr_assert_eq(memcmp(&l, &before, sizeof(l)), 0, "a refused init leaves the ladder alone");
    cr_assert_eq(kito_ladder_init(&l, many, KITO_LADDER_MAX_RUNGS), KITO_OK);

    /* validate also catches junk in unused rungs and in the reserved word. */
    kito_ladder_default(&l);
    l.rungs[12].step_minor = 1;
    cr_assert_eq(kito_ladder_validate(&l), KITO_E_BAD_LADDER);
    kito_ladder_default(&l);
    l.reserved = 1;
    cr_assert_eq(kito_ladder_validate(&l), KITO_E_BAD_LADDER);
    kito_ladder_default(&l);
    l.n_rungs = 0;
    cr_assert_eq(kito_ladder_validate(&l), KITO_E_BAD_LADDER);
}
