#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "api/common/validate.h"

/* Parses a JSON value for a test; the caller decrefs. */
static json_t *J(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    cr_assert_not_null(v, "bad test JSON %s: %s", text, jerr.text);
    return v;
}

/* ---- error detail ---- */

Test(verr, set_fills_and_returns_validation)
{
    kito_verr ve;
    cr_assert_eq(kito_verr_set(&ve, "pin", "must be %d digits", 4), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "pin");
    cr_assert_str_eq(ve.reason, "must be 4 digits");
    cr_assert_eq(kito_verr_set(NULL, "pin", "x"), KITO_E_VALIDATION);
}

Test(verr, truncation_keeps_utf8_whole)
{
    kito_verr ve;
    char field[200];
    memset(field, 'a', sizeof(field));
    /* a 2-byte character straddling the 95-byte limit */
    memcpy(field + 94, "\xc3\xa9", 2);
    field[120] = '\0';
    kito_verr_set(&ve, field, "x");
    cr_assert_eq(strlen(ve.field), 94);
    cr_assert(kito_utf8_valid(ve.field, strlen(ve.field), NULL));
}

/* ---- UTF-8 and text ---- */

Test(utf8, valid_and_invalid_sequences)
{
    size_t n = 0;
    cr_assert(kito_utf8_valid("", 0, &n));
    cr_assert_eq(n, 0);
    cr_assert(kito_utf8_valid("Mirerani \xe2\x82\xac \xf0\x9f\x92\x8e", 17, &n));
    cr_assert_eq(n, 12);
    static const char *bad[] = {
        "\x80",             /* lone continuation */
        "\xc3",             /* truncated */
        "\xc0\xaf",         /* overlong '/' */
        "\xe0\x80\xaf",     /* overlong */
        "\xed\xa0\x80",     /* surrogate U+D800 */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "\xf5\x80\x80\x80",
        "\xff",
        "a\xe2\x82",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_not(kito_utf8_valid(bad[i], strlen(bad[i]), NULL), "case %zu", i);
    cr_assert(kito_utf8_valid("\xef\xbf\xbf", 3, NULL));     /* U+FFFF */
    cr_assert(kito_utf8_valid("\xf4\x8f\xbf\xbf", 4, NULL)); /* U+10FFFF */
}

Test(text, bounds_in_code_points_and_controls)
{
    kito_verr ve;
    cr_assert_eq(kito_validate_text("title", "Tsavorite parcel", 1, 100, 0, &ve), KITO_OK);
    /* 5 code points, 10 bytes */
    cr_assert_eq(kito_validate_text("t", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 1, 5, 0, &ve),
                 KITO_OK);
    cr_assert_eq(kito_validate_text("t", "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9x", 1, 5, 0, &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be at most 5 characters long");
    cr_assert_eq(kito_validate_text("title", "", 1, 5, 0, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "title");
    cr_assert_str_eq(ve.reason, "must not be empty");
    cr_assert_eq(kito_validate_text("t", "ab", 3, 5, 0, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_text("t", "a\nb", 0, 5, 0, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must not contain control characters");
    cr_assert_eq(kito_validate_text("t", "a\nb\r\n\tc", 0, 10, KITO_TEXT_MULTILINE, &ve), KITO_OK);
    cr_assert_eq(kito_validate_text("t", "a\x01", 0, 10, KITO_TEXT_MULTILINE, &ve),
                 KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_text("t", "a\x7f", 0, 10, 0, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_text("t", "a\xc2\x85", 0, 10, 0, &ve), KITO_E_VALIDATION); /* NEL */
    cr_assert_eq(kito_validate_text("t", "a\xe2\x80\xa8", 0, 10, 0, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_text("t", "a\xff", 0, 10, 0, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be valid UTF-8");
    cr_assert_eq(kito_validate_text("t", NULL, 0, 10, 0, &ve), KITO_E_VALIDATION);
}

Test(enumeration, membership_and_message)
{
    static const char *const formats[] = {"timed", "tender", "live", NULL};
    kito_verr ve;
    size_t idx = 99;
    cr_assert_eq(kito_validate_enum("format", "tender", formats, &idx, &ve), KITO_OK);
    cr_assert_eq(idx, 1);
    cr_assert_eq(kito_validate_enum("format", "Timed", formats, &idx, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "format");
    cr_assert_str_eq(ve.reason, "must be one of: timed, tender, live");
    cr_assert_eq(kito_validate_enum("format", NULL, formats, NULL, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_enum("format", "", formats, NULL, &ve), KITO_E_VALIDATION);
}

/* ---- people ---- */

Test(phone, e164_and_market_lengths)
{
    kito_verr ve;
    static const char *good[] = {"+254712345678", "+255754123456",   "+260977123456",
                                 "+265991234567", "+2651234567",     "+14155552671",
                                 "+4420794600",   "+123456789012345"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(kito_validate_phone("phone", good[i], &ve), KITO_OK, "%s: %s", good[i],
                     ve.reason);
    static const char *bad[] = {"254712345678",
                                "+0254712345",
                                "+1234567",
                                "+1234567890123456",
                                "+25471234567",
                                "+2547123456789",
                                "+26512345678",
                                "+255 754123456",
                                "+255-754123456",
                                "",
                                "+",
                                "++255754123456",
                                "+25575412345a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_validate_phone("phone", bad[i], &ve), KITO_E_VALIDATION, "%s", bad[i]);
    kito_validate_phone("phone", "+25471234567", &ve);
    cr_assert_str_eq(ve.reason, "has the wrong number of digits for +254");
    cr_assert_eq(kito_validate_phone("phone", NULL, &ve), KITO_E_VALIDATION);
}

Test(phone, country_of_market_prefixes)
{
    cr_assert_str_eq(kito_validate_phone_country("+254712345678"), "KE");
    cr_assert_str_eq(kito_validate_phone_country("+255754123456"), "TZ");
    cr_assert_str_eq(kito_validate_phone_country("+260977123456"), "ZM");
    cr_assert_str_eq(kito_validate_phone_country("+265991234567"), "MW");
    cr_assert_null(kito_validate_phone_country("+14155552671"));
    cr_assert_null(kito_validate_phone_country("+2547"));
    cr_assert_null(kito_validate_phone_country(NULL));
}

Test(pin, digits_and_weak_pins)
{
    kito_verr ve;
    static const char *good[] = {"4821", "90210", "135790", "1243", "0912"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(kito_validate_pin("pin", good[i], &ve), KITO_OK, "%s", good[i]);
    static const char *shape[] = {"123", "1234567", "12a4", " 4821", "", "４８２１"};
    for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
        cr_assert_eq(kito_validate_pin("pin", shape[i], &ve), KITO_E_VALIDATION, "%s", shape[i]);
        cr_assert_str_eq(ve.reason, "must be 4 to 6 digits");
    }
    static const char *same[] = {"0000", "1111", "99999", "777777"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        cr_assert_eq(kito_validate_pin("pin", same[i], &ve), KITO_E_VALIDATION, "%s", same[i]);
        cr_assert_str_eq(ve.reason, "must not be one digit repeated like 0000");
    }
    static const char *runs[] = {"1234", "123456", "0123", "4321", "98765", "56789"};
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        cr_assert_eq(kito_validate_pin("pin", runs[i], &ve), KITO_E_VALIDATION, "%s", runs[i]);
        cr_assert_str_eq(ve.reason, "must not be a run of consecutive digits like 1234");
    }
}

Test(email, pragmatic_rules)
{
    kito_verr ve;
    static const char *good[] = {"buyer@example.com", "a.b+gems@mail.co.tz", "x@y.io",
                                 "j\xc3\xb6rg@example.de"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        cr_assert_eq(kito_validate_email("email", good[i], &ve), KITO_OK, "%s", good[i]);
    static const char *bad[] = {"buyer",          "@example.com",        "buyer@",
                                "buyer@example",  "a@b@example.com",     "buyer@.example.com",
                                "buyer@example.", "buyer@ex..ample.com", "buy er@example.com",
                                "buyer@-ex.com",  "<buyer>@example.com", "buyer@example.com\n",
                                "a@\xff.com"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_validate_email("email", bad[i], &ve), KITO_E_VALIDATION, "%s", bad[i]);
    char longmail[300];
    memset(longmail, 'a', 250);
    strcpy(longmail + 250, "@b.co"); /* 255 bytes */
    cr_assert_eq(kito_validate_email("email", longmail, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be at most 254 bytes long");
    char local65[100];
    memset(local65, 'a', 65);
    strcpy(local65 + 65, "@b.co");
    cr_assert_eq(kito_validate_email("email", local65, &ve), KITO_E_VALIDATION);
    local65[64] = '\0';
    strcat(local65, "@b.co");
    cr_assert_eq(kito_validate_email("email", local65, &ve), KITO_OK);
}

Test(password, length_in_bytes)
{
    kito_verr ve;
    char p[200];
    cr_assert_eq(kito_validate_password("password", "1234567", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_password("password", "12345679", &ve), KITO_OK);
    memset(p, 'x', 128);
    p[128] = '\0';
    cr_assert_eq(kito_validate_password("password", p, &ve), KITO_OK);
    p[128] = 'x';
    p[129] = '\0';
    cr_assert_eq(kito_validate_password("password", p, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_password("password", "abcdefg\xff", &ve), KITO_E_VALIDATION);
}

/* ---- codes ---- */

Test(codes, currency_and_countries)
{
    kito_verr ve;
    static const char *cur[] = {"USD", "KES", "TZS", "ZMW", "MWK", "EUR", "GBP"};
    for (size_t i = 0; i < 7; i++)
        cr_assert_eq(kito_validate_currency("currency", cur[i], &ve), KITO_OK);
    cr_assert_eq(kito_validate_currency("currency", "usd", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_currency("currency", "JPY", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_currency("currency", "USDX", &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be one of: USD, KES, TZS, ZMW, MWK, EUR, GBP");

    cr_assert_eq(kito_validate_origin_country("origin_country", "TZ", &ve), KITO_OK);
    cr_assert_eq(kito_validate_origin_country("origin_country", "MW", &ve), KITO_OK);
    cr_assert_eq(kito_validate_origin_country("origin_country", "US", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_origin_country("origin_country", "tz", &ve), KITO_E_VALIDATION);

    cr_assert_eq(kito_validate_country("country", "US", &ve), KITO_OK);
    cr_assert_eq(kito_validate_country("country", "ZZ", &ve), KITO_OK);
    cr_assert_eq(kito_validate_country("country", "us", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_country("country", "USA", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_country("country", "U", &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_validate_country("country", "U1", &ve), KITO_E_VALIDATION);
}

/* ---- numbers ---- */

Test(carats, text)
{
    kito_verr ve;
    int64_t h = -1;
    struct {
        const char *in;
        int64_t want;
    } good[] = {{"12.34", 1234}, {"12.3", 1230}, {"12", 1200},          {"0.01", 1},
                {"0.5", 50},     {"3.10", 310},  {"1000000", 100000000}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_eq(kito_validate_carats_text("weight", good[i].in, &h, &ve), KITO_OK, "%s",
                     good[i].in);
        cr_assert_eq(h, good[i].want, "%s", good[i].in);
    }
    static const char *bad[] = {"",
                                "1.234",
                                "01.5",
                                ".5",
                                "1.",
                                "-1",
                                "+1",
                                "1e2",
                                " 1",
                                "1 ",
                                "1,5",
                                "0",
                                "0.00",
                                "1000000.01",
                                "0x10",
                                "NaN",
                                "1..2",
                                "12.3.4",
                                "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_validate_carats_text("weight", bad[i], &h, &ve), KITO_E_VALIDATION, "%s",
                     bad[i]);
    kito_validate_carats_text("weight", "0.00", &h, &ve);
    cr_assert_str_eq(ve.reason, "must be more than zero carats");
}

Test(carats, json_numbers_and_strings)
{
    kito_verr ve;
    int64_t h;
    struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"1.1", 110},      {"1.10", 110},           {"0.29", 29}, {"12.35", 1235}, {"3", 300},
        {"\"4.56\"", 456}, {"999999.99", 99999999}, {"0.07", 7},  {"2.675", -1}};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        json_t *v = J(good[i].in);
        kito_err err = kito_validate_carats("weight", v, &h, &ve);
        json_decref(v);
        if (good[i].want < 0) {
            cr_assert_eq(err, KITO_E_VALIDATION, "%s", good[i].in);
            continue;
        }
        cr_assert_eq(err, KITO_OK, "%s: %s", good[i].in, ve.reason);
        cr_assert_eq(h, good[i].want, "%s gave %lld", good[i].in, (long long)h);
    }
    static const char *bad[] = {"1.005", "-1.5", "0",   "0.0",       "1e-5",    "1e300",
                                "true",  "null", "[1]", "\"1.234\"", "1000001", "1e6"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *v = J(bad[i]);
        cr_assert_eq(kito_validate_carats("weight", v, &h, &ve), KITO_E_VALIDATION, "%s", bad[i]);
        json_decref(v);
    }
}

Test(numbers, int_amount_bps)
{
    kito_verr ve;
    int64_t n;
    int32_t bps;
    json_t *v = J("120");
    cr_assert_eq(kito_validate_int("soft_close_s", v, 0, 3600, &n, &ve), KITO_OK);
    cr_assert_eq(n, 120);
    cr_assert_eq(kito_validate_int("soft_close_s", v, 0, 100, &n, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be between 0 and 100");
    cr_assert_eq(kito_validate_amount("opening_minor", v, &n, &ve), KITO_OK);
    cr_assert_eq(n, 120);
    cr_assert_eq(kito_validate_bps("buyer_premium_bps", v, &bps, &ve), KITO_OK);
    cr_assert_eq(bps, 120);
    json_decref(v);

    /* Each validator on each value: amounts are 1 .. 10^15, basis points 0 .. 10000, and the
     * int range here is all of int64. A value is read back only when accepted. */
#define OK KITO_OK
#define BAD KITO_E_VALIDATION
    static const struct {
        const char *json;
        kito_err amount, bps, whole;
    } cases[] = {
        /* clang-format off */
        {"5.0", BAD, BAD, BAD}, {"\"5\"", BAD, BAD, BAD}, {"true", BAD, BAD, BAD},
        {"null", BAD, BAD, BAD}, {"{}", BAD, BAD, BAD},
        {"0", BAD, OK, OK},
        {"-1", BAD, BAD, OK},
        {"10000", OK, OK, OK},
        {"10001", OK, BAD, OK},
        {"1000000000000000", OK, BAD, OK},
        {"1000000000000001", BAD, BAD, OK},
        {"9223372036854775807", BAD, BAD, OK},
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        v = J(cases[i].json);
        json_int_t want = json_is_integer(v) ? json_integer_value(v) : 0;
        cr_assert_eq(kito_validate_amount("x", v, &n, &ve), cases[i].amount, "amount %s",
                     cases[i].json);
        cr_assert(cases[i].amount != OK || n == want, "amount %s read %lld", cases[i].json,
                  (long long)n);
        cr_assert_eq(kito_validate_bps("x", v, &bps, &ve), cases[i].bps, "bps %s", cases[i].json);
        cr_assert(cases[i].bps != OK || bps == want, "bps %s read %d", cases[i].json, bps);
        cr_assert_eq(kito_validate_int("x", v, INT64_MIN, INT64_MAX, &n, &ve), cases[i].whole,
                     "int %s", cases[i].json);
        cr_assert(cases[i].whole != OK || n == want, "int %s read %lld", cases[i].json,
                  (long long)n);
        json_decref(v);
    }
#undef OK
#undef BAD
}

Test(numbers, amount_text_with_overflow_checks)
{
    kito_verr ve;
    int64_t n;
    cr_assert_eq(kito_validate_amount_text("price_min", "150000", &n, &ve), KITO_OK);
    cr_assert_eq(n, 150000);
    cr_assert_eq(kito_validate_amount_text("price_min", "1000000000000000", &n, &ve), KITO_OK);
    static const char *bad[] = {"0",
                                "01",
                                "-5",
                                "+5",
                                "1.5",
                                "",
                                "1000000000000001",
                                "9223372036854775807",
                                "9223372036854775808",
                                "99999999999999999999999",
                                "12a"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_validate_amount_text("price_min", bad[i], &n, &ve), KITO_E_VALIDATION,
                     "%s", bad[i]);
    cr_assert_eq(kito_validate_amount_text("price_min", NULL, &n, &ve), KITO_E_VALIDATION);
}

/* ---- time ---- */

Test(time, parse_known_instants)
{
    kito_verr ve;
    int64_t ms;
    struct {
        const char *in;
        int64_t want;
    } good[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2026-11-27T15:00:00Z", 1795791600000LL},
        {"2026-11-27T15:00:00.5Z", 1795791600500LL},
        {"2026-11-27T15:00:00.123456789Z", 1795791600123LL},
        {"2000-02-29T23:59:59.999Z", 951868799999LL},
        {"2024-02-29T00:00:00Z", 1709164800000LL},
        {"9999-12-31T23:59:59.999Z", KITO_TIME_MAX_MS},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cr_assert_eq(kito_validate_time("starts_at", good[i].in, &ms, &ve), KITO_OK, "%s: %s",
                     good[i].in, ve.reason);
        cr_assert_eq(ms, good[i].want, "%s gave %lld", good[i].in, (long long)ms);
    }
}

Test(time, refuses_other_forms)
{
    kito_verr ve;
    int64_t ms;
    static const char *bad[] = {
        "2026-11-27T15:00:00",       "2026-11-27 15:00:00Z",     "2026-11-27t15:00:00z",
        "2026-11-27T15:00:00+00:00", "2026-11-27T15:00:00.Z",    "2026-11-27T15:00:00.1234567890Z",
        "2026-13-01T00:00:00Z",      "2026-02-29T00:00:00Z",     "1900-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",      "2026-11-27T24:00:00Z",     "2026-11-27T23:60:00Z",
        "2026-11-27T23:59:60Z",      "1969-12-31T23:59:59Z",     "2026-11-27",
        "26-11-27T15:00:00Z",        "2026-11-27T15:00:00Zjunk", "",
        "+2026-11-27T15:00:00Z",     "2026-00-10T00:00:00Z",     "2026-01-00T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_validate_time("ends_at", bad[i], &ms, &ve), KITO_E_VALIDATION, "%s",
                     bad[i]);
    cr_assert_eq(kito_validate_time("ends_at", NULL, &ms, &ve), KITO_E_VALIDATION);
    kito_validate_time("ends_at", "2026-02-30T00:00:00Z", &ms, &ve);
    cr_assert_str_eq(ve.field, "ends_at");
    cr_assert_str_eq(ve.reason, "is not a real date and time");
}

Test(time, format_and_round_trip)
{
    char buf[KITO_TIME_SIZE];
    cr_assert_eq(kito_time_format(0, buf), KITO_OK);
    cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
    cr_assert_eq(kito_time_format(1795791600000LL, buf), KITO_OK);
    cr_assert_str_eq(buf, "2026-11-27T15:00:00Z");
    cr_assert_eq(kito_time_format(1795791600250LL, buf), KITO_OK);
    cr_assert_str_eq(buf, "2026-11-27T15:00:00.250Z");
    cr_assert_eq(kito_time_format(KITO_TIME_MAX_MS, buf), KITO_OK);
    cr_assert_str_eq(buf, "9999-12-31T23:59:59.999Z");
    cr_assert_eq(kito_time_format(-1, buf), KITO_E_VALIDATION);
    cr_assert_str_eq(buf, "");
    cr_assert_eq(kito_time_format(KITO_TIME_MAX_MS + 1, buf), KITO_E_VALIDATION);
    /* every day boundary for 30 years, and a spread of odd instants, round-trip */
    for (int64_t ms = 0; ms < 30LL * 366 * 86400000; ms += 86400000 + 1001) {
        int64_t back;
        cr_assert_eq(kito_time_format(ms, buf), KITO_OK);
        cr_assert_eq(kito_validate_time("t", buf, &back, NULL), KITO_OK, "%s", buf);
        cr_assert_eq(back, ms, "%s", buf);
    }
}

/* ---- ids ---- */

Test(ids, format_and_parse)
{
    char id[KITO_ID_SIZE];
    uint64_t key;
    cr_assert_eq(kito_id_format(KITO_ID_LOT, 1, id, sizeof(id)), KITO_OK);
    cr_assert_str_eq(id, "lot_0000000000001");
    cr_assert_eq(kito_id_format(KITO_ID_ACCOUNT, 32, id, sizeof(id)), KITO_OK);
    cr_assert_str_eq(id, "acc_0000000000010");
    cr_assert_eq(kito_id_format(KITO_ID_STONE, 31, id, sizeof(id)), KITO_OK);
    cr_assert_str_eq(id, "stn_000000000000z");
    cr_assert_eq(kito_id_format(KITO_ID_SALE, UINT64_MAX, id, sizeof(id)), KITO_OK);
    cr_assert_str_eq(id, "sal_fzzzzzzzzzzzz");
    cr_assert_eq(kito_id_parse(KITO_ID_SALE, id, &key), KITO_OK);
    cr_assert_eq(key, UINT64_MAX);
    uint64_t samples[] = {1, 2, 31, 32, 1000, 123456789, 1ULL << 32, (1ULL << 63) + 12345};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        cr_assert_eq(kito_id_format("crt", samples[i], id, sizeof(id)), KITO_OK);
        cr_assert_eq(strlen(id), 4 + 13);
        cr_assert_eq(kito_id_parse("crt", id, &key), KITO_OK, "%s", id);
        cr_assert_eq(key, samples[i]);
    }
    /* fixed width: string order is key order */
    char a[KITO_ID_SIZE], b[KITO_ID_SIZE];
    kito_id_format("lot", 999, a, sizeof(a));
    kito_id_format("lot", 1000, b, sizeof(b));
    cr_assert_lt(strcmp(a, b), 0);
}

Test(ids, refuses_everything_else)
{
    uint64_t key;
    static const char *bad[] = {
        "lot_0000000000000",  /* key 0 */
        "lot_000000000001",   /* 12 digits */
        "lot_00000000000001", /* 14 digits */
        "LOT_0000000000001",
        "lot_000000000000A",
        "lot_000000000000i",
        "lot_000000000000l",
        "lot_000000000000o",
        "lot_000000000000u",
        "lot-0000000000001",
        "lot0000000000001",
        "sal_0000000000001", /* another kind */
        "lot_g000000000000", /* 65th bit set */
        "lot_0000000000001 ",
        "",
        "lot_",
        "lot_00000000000 1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_id_parse("lot", bad[i], &key), KITO_E_VALIDATION, "%s", bad[i]);
    cr_assert_eq(kito_id_parse("lot", NULL, &key), KITO_E_VALIDATION);
    char id[KITO_ID_SIZE];
    cr_assert_eq(kito_id_format("lot", 0, id, sizeof(id)), KITO_E_VALIDATION);
    cr_assert_eq(kito_id_format("Lot", 1, id, sizeof(id)), KITO_E_VALIDATION);
    cr_assert_eq(kito_id_format("", 1, id, sizeof(id)), KITO_E_VALIDATION);
    cr_assert_eq(kito_id_format("abcdefghi", 1, id, sizeof(id)), KITO_E_VALIDATION);
    cr_assert_eq(kito_id_format("lot", 1, id, 17), KITO_E_CAPACITY);
    cr_assert_eq(kito_id_format("abcdefgh", UINT64_MAX, id, sizeof(id)), KITO_OK);
    kito_verr ve;
    cr_assert_eq(kito_validate_id("lot_id", "lot", "acc_0000000000001", &key, &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "lot_id");
    cr_assert_str_eq(ve.reason, "must be an id like lot_0000000000001");
}

static const kito_field measurement_fields[] = {
    {"length_um", KITO_FT_INTEGER, .required = true},
    {"width_um", KITO_FT_INTEGER, .required = true},
    {"depth_um", KITO_FT_INTEGER},
};
static const kito_shape measurement_shape = {measurement_fields, 3};

static const kito_field step_fields[] = {
    {"from_minor", KITO_FT_INTEGER, .required = true},
    {"step_minor", KITO_FT_INTEGER, .required = true},
};
static const kito_shape step_shape = {step_fields, 2};

static const kito_field sample_fields[] = {
    {"title", KITO_FT_STRING, .required = true, .min = 1, .max = 10},
    {"notes", KITO_FT_TEXT, .nullable = true, .max = 50},
    {"online", KITO_FT_BOOL},
    {"weight", KITO_FT_DECIMAL},
    {"measurements", KITO_FT_OBJECT, .shape = &measurement_shape},
    {"ladder", KITO_FT_ARRAY, .min = 1, .max = 3, .item = KITO_FT_OBJECT, .shape = &step_shape},
    {"photos", KITO_FT_ARRAY, .max = 2, .item = KITO_FT_STRING},
};
static const kito_shape sample_shape = {sample_fields,
                                        sizeof(sample_fields) / sizeof(sample_fields[0])};

static void object_ok(const char *text)
{
    kito_verr ve = {0};
    json_t *v = J(text);
    cr_assert_eq(kito_validate_object(v, &sample_shape, &ve), KITO_OK, "%s: %s %s", text, ve.field,
                 ve.reason);
    json_decref(v);
}

static void object_bad(const char *text, const char *field, const char *reason)
{
    kito_verr ve = {0};
    json_t *v = J(text);
    cr_assert_eq(kito_validate_object(v, &sample_shape, &ve), KITO_E_VALIDATION, "%s", text);
    cr_assert_str_eq(ve.field, field, "%s", text);
    if (reason != NULL)
        cr_assert_str_eq(ve.reason, reason, "%s", text);
    json_decref(v);
}

Test(object, accepts_the_shape)
{
    object_ok("{\"title\":\"Sale 1\"}");
    object_ok("{\"title\":\"Sale 1\",\"notes\":null}");
    object_ok("{\"title\":\"Sale 1\",\"notes\":\"line one\\nline two\",\"online\":false,"
              "\"weight\":\"1.25\",\"measurements\":{\"length_um\":9120,\"width_um\":7050},"
              "\"ladder\":[{\"from_minor\":0,\"step_minor\":500}],\"photos\":[\"a\",\"b\"]}");
    object_ok("{\"title\":\"Sale 1\",\"weight\":1.25}");
    object_ok("{\"title\":\"Sale 1\",\"weight\":3}");
}

Test(object, refuses_with_the_field_named)
{
    object_bad("{}", "title", "is required");
    object_bad("{\"title\":null}", "title", "must be a string");
    object_bad("{\"title\":\"\"}", "title", "must not be empty");
    object_bad("{\"title\":\"12345678901\"}", "title", "must be at most 10 characters long");
    object_bad("{\"title\":\"a\\nb\"}", "title", "must not contain control characters");
    object_bad("{\"title\":5}", "title", "must be a string");
    object_bad("{\"title\":\"x\",\"tittle\":\"x\"}", "tittle", "is not a known field");
    object_bad("{\"title\":\"x\",\"online\":\"yes\"}", "online", "must be true or false");
    object_bad("{\"title\":\"x\",\"weight\":true}", "weight",
               "must be a number or a decimal string");
    object_bad("{\"title\":\"x\",\"measurements\":{\"length_um\":1}}", "measurements.width_um",
               "is required");
    object_bad("{\"title\":\"x\",\"measurements\":{\"length_um\":1,\"width_um\":2.5}}",
               "measurements.width_um", "must be a whole number");
    object_bad("{\"title\":\"x\",\"measurements\":{\"length_um\":1,\"width_um\":2,\"x\":1}}",
               "measurements.x", "is not a known field");
    object_bad("{\"title\":\"x\",\"measurements\":[]}", "measurements", "must be an object");
    object_bad("{\"title\":\"x\",\"ladder\":[]}", "ladder", "must have 1 to 3 elements");
    object_bad("{\"title\":\"x\",\"ladder\":[{},{},{},{}]}", "ladder", "must have 1 to 3 elements");
    object_bad("{\"title\":\"x\",\"ladder\":[{\"from_minor\":0,\"step_minor\":5},{\"from_minor\":"
               "10000}]}",
               "ladder[1].step_minor", "is required");
    object_bad("{\"title\":\"x\",\"ladder\":[5]}", "ladder[0]", "must be an object");
    object_bad("{\"title\":\"x\",\"photos\":[\"a\",7]}", "photos[1]", "must be a string");
    object_bad("{\"title\":\"x\",\"notes\":\"\\u0007\"}", "notes",
               "must not contain control characters");
    /* unknown members are reported first */
    object_bad("{\"zzz\":1}", "zzz", "is not a known field");
}

Test(object, not_an_object)
{
    kito_verr ve;
    json_t *v = J("[1,2]");
    cr_assert_eq(kito_validate_object(v, &sample_shape, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "body");
    json_decref(v);
    cr_assert_eq(kito_validate_object(NULL, &sample_shape, &ve), KITO_E_VALIDATION);
}

/* a shape that refers to itself, to check the depth bound */
static const kito_shape self_shape;
static const kito_field self_fields[] = {{"child", KITO_FT_OBJECT, .shape = &self_shape}};
static const kito_shape self_shape = {self_fields, 1};

Test(object, depth_is_bounded)
{
    char text[512] = "";
    for (int i = 0; i < 9; i++)
        strcat(text, "{\"child\":");
    strcat(text, "{}");
    for (int i = 0; i < 9; i++)
        strcat(text, "}");
    kito_verr ve;
    json_t *v = J(text);
    cr_assert_eq(kito_validate_object(v, &self_shape, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "is nested too deeply");
    json_decref(v);
    text[0] = '\0';
    for (int i = 0; i < 8; i++)
        strcat(text, "{\"child\":");
    strcat(text, "{}");
    for (int i = 0; i < 8; i++)
        strcat(text, "}");
    v = J(text);
    cr_assert_eq(kito_validate_object(v, &self_shape, &ve), KITO_OK);
    json_decref(v);
}
