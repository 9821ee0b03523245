/* The certificate request decoder and document builder (api/store/repo_certificates.h): what the
 * valuer sends becomes exactly the document the platform signs. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/common/canonical_json.h"
#include "api/common/crypto.h"
#include "api/store/repo_certificates.h"

static const char REQUEST[] =
    "{\"weight_ct\":\"3.12\",\"piece_count\":1,\"shape\":\"oval\",\"cutting_style\":\"mixed cut\","
    "\"measurements_mm\":{\"length\":\"9.12\",\"width\":7.05,\"depth\":\"4.8\"},"
    "\"color\":\"violetish blue\",\"transparency\":\"transparent\",\"phenomenon\":null,"
    "\"treatment\":\"heated\",\"species\":\"zoisite\",\"variety\":\"tanzanite\","
    "\"geographic_origin\":{\"country\":\"TZ\",\"region\":\"Manyara\",\"site\":\"Mirerani\"},"
    "\"photos\":[\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"],"
    "\"estimated_value\":{\"low\":150000,\"high\":220000,\"currency\":\"USD\"},"
    "\"report_comments\":\"Minor inclusions.\",\"supersedes\":\"crt_0000000000003\"}";

static json_t *parse(const char *s)
{
    json_error_t err;
    json_t *v = json_loads(s, JSON_REJECT_DUPLICATES, &err);
    cr_assert_not_null(v, "%s", err.text);
    return v;
}

Test(certificates, decodes_a_full_request)
{
    json_t *body = parse(REQUEST);
    kito_certificate_request req;
    kito_verr ve = {{0}};
    cr_assert_eq(kito_certificate_request_decode(body, &req, &ve), KITO_OK, "%s %s", ve.field,
                 ve.reason);
    cr_assert_eq(req.weight_cct, 312);
    cr_assert(req.has_measurements);
    cr_assert_eq(req.length_um, 9120);
    cr_assert_eq(req.width_um, 7050);
    cr_assert_eq(req.depth_um, 4800);
    cr_assert_null(req.phenomenon);
    cr_assert_eq(req.photo_count, 1);
    cr_assert_eq(req.value_low, 150000);
    cr_assert_eq(req.supersedes_id, 3);
    cr_assert_str_eq(req.origin_site, "Mirerani");
    json_decref(body);
}

Test(certificates, refusals_name_the_field)
{
    static const struct {
        const char *from, *to, *field;
    } cases[] = {
        {"\"weight_ct\":\"3.12\"", "\"weight_ct\":3.125", "weight_ct"},
        {"\"width\":7.05", "\"width\":\"1000.01\"", "measurements_mm.width"},
        {"\"high\":220000", "\"high\":149999", "estimated_value.high"},
        {"\"currency\":\"USD\"", "\"currency\":\"usd\"", "estimated_value.currency"},
        {"\"transparency\":\"transparent\"", "\"transparency\":\"Opaque\"", "transparency"},
        {"\"photos\":[\"9f", "\"photos\":[\"9F", "photos[0]"},
        {"\"supersedes\":\"crt_0000000000003\"", "\"supersedes\":\"crt_3\"", "supersedes"},
        {"\"piece_count\":1", "\"piece_count\":0", "piece_count"},
        {"\"color\":\"violetish blue\",", "", "color"},
        {"\"piece_count\":1", "\"piece_count\":1,\"clarity\":\"VS\"", "clarity"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[2048];
        const char *at = strstr(REQUEST, cases[i].from);
        cr_assert_not_null(at, "case %zu", i);
        snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - REQUEST), REQUEST, cases[i].to,
                 at + strlen(cases[i].from));
        json_t *body = parse(buf);
        kito_certificate_request req;
        kito_verr ve = {{0}};
        cr_assert_eq(kito_certificate_request_decode(body, &req, &ve), KITO_E_VALIDATION,
                     "case %zu", i);
        cr_assert_str_eq(ve.field, cases[i].field, "case %zu: %s", i, ve.reason);
        json_decref(body);
    }
    /* the same photo twice */
    char buf[2048];
    const char *sha = "\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"";
    const char *at = strstr(REQUEST, sha);
    snprintf(buf, sizeof(buf), "%.*s%s,%s", (int)(at - REQUEST + strlen(sha)), REQUEST, "", sha);
    snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s", at + strlen(sha));
    json_t *body = parse(buf);
    kito_certificate_request req;
    kito_verr ve = {{0}};
    cr_assert_eq(kito_certificate_request_decode(body, &req, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "photos[1]");
    json_decref(body);
}

Test(certificates, builds_the_documented_document)
{
    json_t *body = parse(REQUEST);
    kito_certificate_request req;
    cr_assert_eq(kito_certificate_request_decode(body, &req, NULL), KITO_OK);
    kito_certificate_meta meta = {.certificate_id = 4,
                                  .version = 2,
                                  .supersedes_id = 3,
                                  .stone_id = 7,
                                  .valuer_id = 9,
                                  .valuer_name = "Neema Mollel",
                                  .issued_at_ms = 1795791600250LL,
                                  .key_id = "0123456789abcdef"};
    json_t *doc = NULL;
    cr_assert_eq(kito_certificate_document(&req, &meta, &doc), KITO_OK);
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(kito_canonical_json(doc, &text, &len), KITO_OK);
    static const char want[] =
        "{\"color\":\"violetish blue\",\"cutting_style\":\"mixed cut\",\"estimated_value\":"
        "{\"currency\":\"USD\",\"high\":220000,\"low\":150000},\"format\":\"kito-certificate/1\","
        "\"geographic_origin\":{\"country\":\"TZ\",\"region\":\"Manyara\",\"site\":\"Mirerani\"},"
        "\"id\":\"crt_0000000000004\",\"issued_at\":\"2026-11-27T15:00:00.250Z\","
        "\"key_id\":\"0123456789abcdef\",\"measurements_um\":{\"depth\":4800,\"length\":9120,"
        "\"width\":7050},\"phenomenon\":null,\"photos\":"
        "[\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"],"
        "\"piece_count\":1,\"report_comments\":\"Minor inclusions.\",\"shape\":\"oval\","
        "\"species\":\"zoisite\",\"stone_id\":\"stn_0000000000007\",\"supersedes\":"
        "\"crt_0000000000003\",\"transparency\":\"transparent\",\"treatment\":\"heated\","
        "\"valuer\":{\"id\":\"acc_0000000000009\",\"name\":\"Neema Mollel\"},"
        "\"variety\":\"tanzanite\",\"version\":2,\"weight_cct\":312}";
    cr_assert_str_eq(text, want);

    /* signed and verified over exactly these bytes */
    kito_signer *signer = NULL;
    cr_assert_eq(kito_crypto_signer_generate(&signer), KITO_OK);
    char sig[KITO_ED25519_SIG_B64_SIZE], pub[KITO_ED25519_PUB_B64_SIZE];
    cr_assert_eq(kito_crypto_sign(signer, text, len, sig), KITO_OK);
    kito_crypto_signer_public_b64(signer, pub);
    bool valid = false;
    cr_assert_eq(kito_crypto_verify_b64(pub, text, len, sig, &valid), KITO_OK);
    cr_assert(valid);
    text[len - 2] = '3'; /* 312 -> 313 */
    cr_assert_eq(kito_crypto_verify_b64(pub, text, len, sig, &valid), KITO_OK);
    cr_assert(!valid);
    kito_crypto_signer_free(signer);
    free(text);
    json_decref(doc);

    /* a first certificate supersedes nothing; optional members are null, not missing */
    json_t *minimal = parse("{\"weight_ct\":1,\"shape\":\"rough\",\"color\":\"green\","
                            "\"species\":\"beryl\",\"geographic_origin\":{\"country\":\"ZM\"},"
                            "\"estimated_value\":{\"low\":1,\"high\":1,\"currency\":\"ZMW\"}}");
    cr_assert_eq(kito_certificate_request_decode(minimal, &req, NULL), KITO_OK);
    meta.supersedes_id = 0;
    meta.version = 1;
    cr_assert_eq(kito_certificate_document(&req, &meta, &doc), KITO_OK);
    cr_assert(json_is_null(json_object_get(doc, "supersedes")));
    cr_assert(json_is_null(json_object_get(doc, "measurements_um")));
    cr_assert(json_is_null(json_object_get(json_object_get(doc, "geographic_origin"), "site")));
    cr_assert_eq(json_array_size(json_object_get(doc, "photos")), 0);
    cr_assert_eq(json_integer_value(json_object_get(doc, "weight_cct")), 100);
    json_decref(doc);
    meta.certificate_id = 0;
    cr_assert_eq(kito_certificate_document(&req, &meta, &doc), KITO_E_VALIDATION);
    json_decref(minimal);
    json_decref(body);
}
