/* The pure part of consent (api/store/repo_offers.h): the offer decoder takes exactly one target,
 * an organiser or a sale, by its opaque id, and names the field it refuses. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/store/repo_offers.h"

/* Decodes text; returns the code and fills in and ve. */
static kito_err decode(const char *text, kito_offer_input *in, kito_verr *ve)
{
    json_error_t je;
    json_t *body = json_loads(text, 0, &je);
    cr_assert(body != NULL, "bad test JSON: %s", je.text);
    memset(ve, 0, sizeof(*ve));
    memset(in, 0xa5, sizeof(*in));
    kito_err e = kito_offer_decode(body, in, ve);
    json_decref(body);
    return e;
}

Test(offer_decode, one_target_by_its_id)
{
    kito_offer_input in;
    kito_verr ve;
    cr_assert_eq(decode("{\"organizer_id\":\"acc_0000000000004\"}", &in, &ve), KITO_OK, "%s: %s",
                 ve.field, ve.reason);
    cr_assert_eq(in.organizer_id, 4);
    cr_assert_eq(in.sale_id, 0);
    cr_assert_eq(decode("{\"sale_id\":\"sal_000000000000a\",\"organizer_id\":null}", &in, &ve),
                 KITO_OK, "%s: %s", ve.field, ve.reason);
    cr_assert_eq(in.sale_id, 10);
    cr_assert_eq(in.organizer_id, 0);
}

Test(offer_decode, refusals_name_the_field)
{
    static const struct {
        const char *body, *field;
    } bad[] = {
        {"{}", "organizer_id"},
        {"{\"organizer_id\":null,\"sale_id\":null}", "organizer_id"},
        {"{\"organizer_id\":\"acc_0000000000004\",\"sale_id\":\"sal_0000000000001\"}", "sale_id"},
        {"{\"organizer_id\":\"sal_0000000000004\"}", "organizer_id"},
        {"{\"sale_id\":\"acc_0000000000004\"}", "sale_id"},
        {"{\"organizer_id\":4}", "organizer_id"},
        {"{\"organizer_id\":\"acc_0000000000004\",\"seller_id\":\"acc_1\"}", "seller_id"},
        {"[]", "body"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kito_offer_input in;
        kito_verr ve;
        cr_expect_eq(decode(bad[i].body, &in, &ve), KITO_E_VALIDATION, "%s", bad[i].body);
        cr_expect_str_eq(ve.field, bad[i].field, "%s: field %s (%s)", bad[i].body, ve.field,
                         ve.reason);
    }
}
