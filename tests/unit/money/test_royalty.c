/* The royalty rule (api/money/royalty.h, kito_royalty_pick): which rate applies to a sold stone.
 * Pure: no MySQL. Rates as DEMO-DATA.md gives them for Tanzania and Kenya. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/money/royalty.h"

#define DAY_MS (24LL * 3600 * 1000)

static kito_royalty_rate rate(uint64_t id, const char *country, const char *species,
                              const char *form, int32_t bps, int64_t from_ms)
{
    kito_royalty_rate r;
    memset(&r, 0, sizeof(r));
    r.id = id;
    snprintf(r.country, sizeof(r.country), "%s", country);
    snprintf(r.species, sizeof(r.species), "%s", species);
    snprintf(r.form, sizeof(r.form), "%s", form);
    r.rate_bps = bps;
    r.effective_from_ms = from_ms;
    return r;
}

Test(royalty, the_countrys_star_rate_applies_to_every_species)
{
    kito_royalty_rate r[] = {rate(1, "TZ", "*", "rough", 600, 0),
                             rate(2, "KE", "*", "rough", 500, 0)};
    cr_assert_eq(kito_royalty_pick(r, 2, "TZ", "zoisite", "rough", DAY_MS), 0);
    cr_assert_eq(kito_royalty_pick(r, 2, "KE", "garnet", "rough", DAY_MS), 1);
    cr_assert_eq(kito_royalty_pick(r, 2, "ZM", "beryl", "rough", DAY_MS), -1,
                 "no rate for the country: none applies");
}

Test(royalty, her_species_own_rate_beats_the_star_rate_whatever_the_dates)
{
    kito_royalty_rate r[] = {rate(1, "TZ", "zoisite", "rough", 700, 10 * DAY_MS),
                             rate(2, "TZ", "*", "rough", 600, 20 * DAY_MS)};
    cr_assert_eq(kito_royalty_pick(r, 2, "TZ", "zoisite", "rough", 30 * DAY_MS), 0);
    cr_assert_eq(kito_royalty_pick(r, 2, "TZ", "spinel", "rough", 30 * DAY_MS), 1);
}

Test(royalty, a_rate_applies_only_from_its_effective_date)
{
    kito_royalty_rate r[] = {rate(1, "KE", "*", "rough", 500, 0),
                             rate(2, "KE", "*", "rough", 600, 100 * DAY_MS)};
    cr_assert_eq(kito_royalty_pick(r, 2, "KE", "garnet", "rough", 99 * DAY_MS), 0,
                 "the 2024 rate is not in force before its date");
    cr_assert_eq(kito_royalty_pick(r, 2, "KE", "garnet", "rough", 100 * DAY_MS), 1,
                 "in force from its first millisecond");
    kito_royalty_rate future[] = {rate(3, "KE", "*", "rough", 600, 100 * DAY_MS)};
    cr_assert_eq(kito_royalty_pick(future, 1, "KE", "garnet", "rough", DAY_MS), -1);
}

Test(royalty, cut_stones_have_their_own_rate)
{
    kito_royalty_rate r[] = {rate(1, "TZ", "*", "rough", 600, 0),
                             rate(2, "TZ", "*", "cut", 100, 0)};
    cr_assert_eq(kito_royalty_pick(r, 2, "TZ", "corundum", "rough", DAY_MS), 0);
    cr_assert_eq(kito_royalty_pick(r, 2, "TZ", "corundum", "cut", DAY_MS), 1);
}

Test(royalty, two_rates_from_the_same_instant_the_later_entry_wins)
{
    kito_royalty_rate r[] = {rate(8, "MW", "*", "rough", 500, DAY_MS),
                             rate(9, "MW", "*", "rough", 450, DAY_MS),
                             rate(7, "MW", "*", "rough", 400, DAY_MS)};
    cr_assert_eq(kito_royalty_pick(r, 3, "MW", "beryl", "rough", 2 * DAY_MS), 1);
}

Test(royalty, nothing_to_pick_from)
{
    cr_assert_eq(kito_royalty_pick(NULL, 0, "TZ", "zoisite", "rough", DAY_MS), -1);
}
