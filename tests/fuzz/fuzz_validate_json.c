/*
 * Fuzz target: JSON request decoding and validation (api/common/validate.h).
 * Bytes go through kito_json_parse (api/http/json.h, as kitod parses request bodies), then the
 * strict field reader for the shapes of the issue-4 requests (account registration, valuation
 * certificate, sale), then the field validators on whatever members are present. Besides "no crash"
 * it checks that refusals name a field and give a reason in valid UTF-8 (so the error body can
 * always be built), that accepted values are in their documented ranges, and that times and ids
 * round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/json.h"
#include "api/common/validate.h"
#include "tests/fuzz/fuzz.h"

/* kitod's default limit for JSON bodies (KITO_JSON_BODY_MAX) */
#define FUZZ_BODY_MAX (64 * 1024)

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* POST /v1/accounts */
static const kito_field account_fields[] = {
    {"role", KITO_FT_STRING, .required = true, .min = 1, .max = 16},
    {"name", KITO_FT_STRING, .required = true, .min = 1, .max = 120},
    {"phone", KITO_FT_STRING, .max = 16},
    {"pin", KITO_FT_STRING, .max = 6},
    {"email", KITO_FT_STRING, .max = 254},
    {"password", KITO_FT_STRING, .max = 128},
    {"country", KITO_FT_STRING, .max = 2},
    {"association_id", KITO_FT_STRING, .nullable = true, .max = 32},
    {"payout_msisdn", KITO_FT_STRING, .nullable = true, .max = 16},
};
static const kito_shape account_shape = {account_fields, COUNT(account_fields)};

/* POST /v1/stones/{id}/certificates */
static const kito_field measurement_fields[] = {
    {"length_mm", KITO_FT_DECIMAL, .required = true},
    {"width_mm", KITO_FT_DECIMAL, .required = true},
    {"depth_mm", KITO_FT_DECIMAL},
};
static const kito_shape measurement_shape = {measurement_fields, COUNT(measurement_fields)};
static const kito_field origin_fields[] = {
    {"country", KITO_FT_STRING, .required = true, .max = 2},
    {"region", KITO_FT_STRING, .max = 80},
    {"site", KITO_FT_STRING, .max = 120},
};
static const kito_shape origin_shape = {origin_fields, COUNT(origin_fields)};
static const kito_field estimate_fields[] = {
    {"low_minor", KITO_FT_INTEGER, .required = true},
    {"high_minor", KITO_FT_INTEGER, .required = true},
    {"currency", KITO_FT_STRING, .required = true, .max = 3},
};
static const kito_shape estimate_shape = {estimate_fields, COUNT(estimate_fields)};
static const kito_field certificate_fields[] = {
    {"species", KITO_FT_STRING, .required = true, .min = 1, .max = 40},
    {"variety", KITO_FT_STRING, .min = 1, .max = 40},
    {"weight_ct", KITO_FT_DECIMAL, .required = true},
    {"piece_count", KITO_FT_INTEGER, .required = true},
    {"shape", KITO_FT_STRING, .max = 40},
    {"cutting_style", KITO_FT_STRING, .max = 40},
    {"measurements", KITO_FT_OBJECT, .shape = &measurement_shape},
    {"color", KITO_FT_STRING, .max = 80},
    {"transparency", KITO_FT_STRING, .max = 40},
    {"phenomenon", KITO_FT_STRING, .nullable = true, .max = 80},
    {"treatment", KITO_FT_STRING, .nullable = true, .max = 120},
    {"geographic_origin", KITO_FT_OBJECT, .required = true, .shape = &origin_shape},
    {"estimate", KITO_FT_OBJECT, .shape = &estimate_shape},
    {"photos", KITO_FT_ARRAY, .max = 12, .item = KITO_FT_STRING},
    {"report_comments", KITO_FT_TEXT, .nullable = true, .max = 2000},
    {"supersedes_id", KITO_FT_STRING, .nullable = true, .max = 32},
};
static const kito_shape certificate_shape = {certificate_fields, COUNT(certificate_fields)};

/* POST /v1/sales */
static const kito_field step_fields[] = {
    {"from_minor", KITO_FT_INTEGER, .required = true},
    {"step_minor", KITO_FT_INTEGER, .required = true},
};
static const kito_shape step_shape = {step_fields, COUNT(step_fields)};
static const kito_field sale_fields[] = {
    {"title", KITO_FT_STRING, .required = true, .min = 1, .max = 120},
    {"venue", KITO_FT_STRING, .nullable = true, .max = 120},
    {"online", KITO_FT_BOOL},
    {"format", KITO_FT_STRING, .required = true, .max = 8},
    {"currency", KITO_FT_STRING, .required = true, .max = 3},
    {"starts_at", KITO_FT_STRING, .required = true, .max = 40},
    {"ends_at", KITO_FT_STRING, .required = true, .max = 40},
    {"soft_close_s", KITO_FT_INTEGER},
    {"stagger_s", KITO_FT_INTEGER},
    {"buyer_premium_bps", KITO_FT_INTEGER},
    {"commission_bps", KITO_FT_INTEGER},
    {"tender_pricing", KITO_FT_STRING, .max = 8},
    {"ladder", KITO_FT_ARRAY, .min = 1, .max = 32, .item = KITO_FT_OBJECT, .shape = &step_shape},
};
static const kito_shape sale_shape = {sale_fields, COUNT(sale_fields)};

static void check_verr(const kito_verr *ve)
{
    CHECK(ve->reason[0] != '\0');
    CHECK(kito_utf8_valid(ve->field, strlen(ve->field), NULL));
    CHECK(kito_utf8_valid(ve->reason, strlen(ve->reason), NULL));
}

/* Runs a string validator on member name of obj when it is a string. */
static void try_string(const json_t *obj, const char *name,
                       kito_err (*fn)(const char *, const char *, kito_verr *))
{
    const json_t *v = json_object_get(obj, name);
    kito_verr ve = {{0}};
    if (json_is_string(v) && fn(name, json_string_value(v), &ve) != KITO_OK)
        check_verr(&ve);
}

static void check_time(const char *s)
{
    int64_t ms;
    kito_verr ve = {{0}};
    if (kito_validate_time("t", s, &ms, &ve) != KITO_OK) {
        check_verr(&ve);
        return;
    }
    CHECK(ms >= 0 && ms <= KITO_TIME_MAX_MS);
    char out[KITO_TIME_SIZE];
    int64_t back;
    CHECK(kito_time_format(ms, out) == KITO_OK);
    CHECK(kito_validate_time("t", out, &back, NULL) == KITO_OK && back == ms);
}

static void check_id(const char *s)
{
    uint64_t key;
    if (kito_id_parse("acc", s, &key) != KITO_OK)
        return;
    char out[KITO_ID_SIZE];
    CHECK(key != 0);
    CHECK(kito_id_format("acc", key, out, sizeof(out)) == KITO_OK && strcmp(out, s) == 0);
}

/* Every validator on every top-level member, whatever the shape said. */
static void check_members(const json_t *obj)
{
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)obj, name, v)
    {
        kito_verr ve = {{0}};
        int64_t n;
        int32_t bps;
        if (kito_validate_carats(name, v, &n, &ve) == KITO_OK)
            CHECK(n > 0 && n <= KITO_CARATS_MAX_HUNDREDTHS);
        else
            check_verr(&ve);
        if (kito_validate_amount(name, v, &n, &ve) == KITO_OK)
            CHECK(n >= 1 && n <= KITO_AMOUNT_MAX);
        if (kito_validate_bps(name, v, &bps, &ve) == KITO_OK)
            CHECK(bps >= 0 && bps <= 10000);
        if (!json_is_string(v))
            continue;
        const char *s = json_string_value(v);
        check_time(s);
        check_id(s);
        if (kito_validate_amount_text(name, s, &n, &ve) == KITO_OK)
            CHECK(n >= 1 && n <= KITO_AMOUNT_MAX);
        const char *country = kito_validate_phone_country(s);
        if (country != NULL)
            CHECK(kito_validate_phone(name, s, NULL) == KITO_OK);
        if (kito_validate_text(name, s, 0, 50, 0, &ve) != KITO_OK)
            check_verr(&ve);
        kito_validate_email(name, s, NULL);
        kito_validate_pin(name, s, NULL);
        kito_validate_password(name, s, NULL);
        kito_validate_country(name, s, NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *obj = NULL;
    char reason[KITO_JSON_REASON_SIZE];
    kito_err err = kito_json_parse((const char *)data, size, FUZZ_BODY_MAX, KITO_JSON_TOP_OBJECT,
                                   &obj, reason);
    if (err != KITO_OK) {
        CHECK(err == KITO_E_MALFORMED_JSON || err == KITO_E_PAYLOAD_TOO_LARGE ||
              err == KITO_E_VALIDATION);
        CHECK(obj == NULL);
        CHECK(reason[0] != '\0' && kito_utf8_valid(reason, strlen(reason), NULL));
        return 0;
    }
    const kito_shape *shapes[] = {&account_shape, &certificate_shape, &sale_shape};
    for (size_t i = 0; i < COUNT(shapes); i++) {
        kito_verr sve = {{0}};
        if (kito_validate_object(obj, shapes[i], &sve) != KITO_OK)
            check_verr(&sve);
    }
    try_string(obj, "phone", kito_validate_phone);
    try_string(obj, "pin", kito_validate_pin);
    try_string(obj, "email", kito_validate_email);
    try_string(obj, "password", kito_validate_password);
    try_string(obj, "currency", kito_validate_currency);
    try_string(obj, "country", kito_validate_origin_country);
    check_members(obj);
    const json_t *origin = json_object_get(obj, "geographic_origin");
    if (json_is_object(origin))
        check_members(origin);
    json_decref(obj);
    return 0;
}
