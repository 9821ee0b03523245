/* The provenance hash recipe (api/store/repo_provenance.h), checked against the bytes written out
 * by hand, so the recipe in the header is what the code does and anyone can re-verify a chain. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/common/crypto.h"
#include "api/store/repo_provenance.h"

/* 2026-11-27T15:00:00.250Z */
#define AT_MS 1795791600250LL

Test(provenance, hash_is_sha256_of_the_documented_canonical_json)
{
    json_t *payload = json_pack("{s:s, s:I, s:{s:s}}", "species", "zoisite", "weight_cct",
                                (json_int_t)312, "origin", "country", "TZ");
    char got[KITO_SHA256_HEX_SIZE], want[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_provenance_hash(7, 1, "found", payload, KITO_PROVENANCE_GENESIS, AT_MS, got),
                 KITO_OK);
    static const char bytes[] =
        "{\"at\":\"2026-11-27T15:00:00.250Z\",\"kind\":\"found\",\"payload\":{\"origin\":"
        "{\"country\":\"TZ\"},\"species\":\"zoisite\",\"weight_cct\":312},\"prev_hash\":\""
        "0000000000000000000000000000000000000000000000000000000000000000\",\"seq\":1,"
        "\"stone_id\":\"stn_0000000000007\"}";
    cr_assert_eq(kito_crypto_sha256_hex(bytes, strlen(bytes), want), KITO_OK);
    cr_assert_str_eq(got, want);

    /* whole seconds have no fraction; a NULL payload is {} */
    cr_assert_eq(kito_provenance_hash(7, 2, "valued", NULL, got, 1795791600000LL, want), KITO_OK);
    char expect_bytes[400], expect[KITO_SHA256_HEX_SIZE];
    snprintf(expect_bytes, sizeof(expect_bytes),
             "{\"at\":\"2026-11-27T15:00:00Z\",\"kind\":\"valued\",\"payload\":{},"
             "\"prev_hash\":\"%s\",\"seq\":2,\"stone_id\":\"stn_0000000000007\"}",
             got);
    cr_assert_eq(kito_crypto_sha256_hex(expect_bytes, strlen(expect_bytes), expect), KITO_OK);
    cr_assert_str_eq(want, expect);
    json_decref(payload);
}

Test(provenance, every_field_changes_the_hash)
{
    json_t *p = json_pack("{s:i}", "n", 1);
    json_t *q = json_pack("{s:i}", "n", 2);
    char base[KITO_SHA256_HEX_SIZE], h[KITO_SHA256_HEX_SIZE];
    const char *g = KITO_PROVENANCE_GENESIS;
    cr_assert_eq(kito_provenance_hash(1, 1, "found", p, g, AT_MS, base), KITO_OK);
    cr_assert_eq(kito_provenance_hash(2, 1, "found", p, g, AT_MS, h), KITO_OK);
    cr_assert_str_neq(h, base);
    cr_assert_eq(kito_provenance_hash(1, 2, "found", p, g, AT_MS, h), KITO_OK);
    cr_assert_str_neq(h, base);
    cr_assert_eq(kito_provenance_hash(1, 1, "sold", p, g, AT_MS, h), KITO_OK);
    cr_assert_str_neq(h, base);
    cr_assert_eq(kito_provenance_hash(1, 1, "found", q, g, AT_MS, h), KITO_OK);
    cr_assert_str_neq(h, base);
    cr_assert_eq(kito_provenance_hash(1, 1, "found", p, g, AT_MS + 1, h), KITO_OK);
    cr_assert_str_neq(h, base);
    cr_assert_eq(kito_provenance_hash(1, 1, "found", p, base, AT_MS, h), KITO_OK);
    cr_assert_str_neq(h, base);
    json_decref(p);
    json_decref(q);
}

Test(provenance, bad_inputs_are_refused)
{
    char h[KITO_SHA256_HEX_SIZE];
    const char *g = KITO_PROVENANCE_GENESIS;
    cr_assert_eq(kito_provenance_hash(1, 1, "stolen", NULL, g, AT_MS, h), KITO_E_VALIDATION);
    cr_assert_eq(kito_provenance_hash(1, 0, "found", NULL, g, AT_MS, h), KITO_E_VALIDATION);
    cr_assert_eq(kito_provenance_hash(0, 1, "found", NULL, g, AT_MS, h), KITO_E_VALIDATION);
    cr_assert_eq(kito_provenance_hash(1, 1, "found", NULL, "abc", AT_MS, h), KITO_E_VALIDATION);
    cr_assert_eq(kito_provenance_hash(
                     1, 1, "found", NULL,
                     "000000000000000000000000000000000000000000000000000000000000000A", AT_MS, h),
                 KITO_E_VALIDATION);
    json_t *real = json_pack("{s:f}", "w", 3.12);
    cr_assert_eq(kito_provenance_hash(1, 1, "found", real, g, AT_MS, h), KITO_E_VALIDATION);
    json_decref(real);
    json_t *arr = json_array();
    cr_assert_eq(kito_provenance_hash(1, 1, "found", arr, g, AT_MS, h), KITO_E_VALIDATION);
    json_decref(arr);
    cr_assert(kito_provenance_kind_valid("shipped"));
    cr_assert(!kito_provenance_kind_valid("Found"));
    cr_assert(!kito_provenance_kind_valid(NULL));
}
