/* api/store/repo_phone.h: the miner's multiple (DESIGN.md, "Consent": her net / the best local
 * offer she reported), the pure part of "my results". */
#include <criterion/criterion.h>
#include <stdint.h>

#include "api/store/repo_phone.h"

Test(repo_phone, the_multiple_is_her_net_over_her_local_offer_in_tenths_half_up)
{
    cr_assert_eq(kito_phone_multiple_tenths(300000, 100000), 30); /* 3.0x */
    cr_assert_eq(kito_phone_multiple_tenths(345000, 100000), 35); /* 3.45 -> 3.5 */
    cr_assert_eq(kito_phone_multiple_tenths(344999, 100000), 34);
    cr_assert_eq(kito_phone_multiple_tenths(50000, 100000), 5); /* below the local offer: 0.5x */
    cr_assert_eq(kito_phone_multiple_tenths(0, 100000), 0);
    /* the largest amounts do not overflow */
    cr_assert_eq(kito_phone_multiple_tenths(INT64_C(1000000000000000), 1),
                 INT64_C(10000000000000000));
}

Test(repo_phone, no_offer_or_a_negative_net_has_no_multiple)
{
    cr_assert_eq(kito_phone_multiple_tenths(300000, 0), -1);
    cr_assert_eq(kito_phone_multiple_tenths(300000, -5), -1);
    cr_assert_eq(kito_phone_multiple_tenths(-1, 100000), -1);
}
