#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/common/crypto.h"
#include "api/common/query.h"

static kito_err parse(const char *qs, kito_query *q, kito_verr *ve)
{
    return kito_query_parse(qs, strlen(qs), q, ve);
}

Test(query, decodes_pairs)
{
    kito_query q;
    kito_verr ve;
    cr_assert_eq(parse("species=beryl&min_weight=1.25&q=green+garnet%21&empty=&flag", &q, &ve),
                 KITO_OK);
    cr_assert_eq(q.count, 5);
    cr_assert_str_eq(kito_query_get(&q, "species"), "beryl");
    cr_assert_str_eq(kito_query_get(&q, "min_weight"), "1.25");
    cr_assert_str_eq(kito_query_get(&q, "q"), "green garnet!");
    cr_assert_str_eq(kito_query_get(&q, "empty"), "");
    cr_assert_str_eq(kito_query_get(&q, "flag"), "");
    cr_assert_null(kito_query_get(&q, "missing"));
    cr_assert_str_eq(q.params[0].name, "species");
    cr_assert_str_eq(q.params[4].name, "flag");
}

Test(query, percent_escapes)
{
    kito_query q;
    kito_verr ve;
    cr_assert_eq(
        parse("?region=Taita%20Taveta&site=Kasigau%2fA&plus=%2B&eq=a%3Db&u=%C3%A9", &q, &ve),
        KITO_OK);
    cr_assert_str_eq(kito_query_get(&q, "region"), "Taita Taveta");
    cr_assert_str_eq(kito_query_get(&q, "site"), "Kasigau/A");
    cr_assert_str_eq(kito_query_get(&q, "plus"), "+");
    cr_assert_str_eq(kito_query_get(&q, "eq"), "a=b");
    cr_assert_str_eq(kito_query_get(&q, "u"), "\xc3\xa9");
    /* an escaped name */
    cr_assert_eq(parse("min%5Fweight=2", &q, &ve), KITO_OK);
    cr_assert_str_eq(kito_query_get(&q, "min_weight"), "2");
}

Test(query, empty_input_and_empty_pairs)
{
    kito_query q;
    kito_verr ve;
    cr_assert_eq(kito_query_parse(NULL, 0, &q, &ve), KITO_OK);
    cr_assert_eq(q.count, 0);
    cr_assert_eq(parse("?", &q, &ve), KITO_OK);
    cr_assert_eq(q.count, 0);
    cr_assert_eq(parse("&&a=1&&b=2&", &q, &ve), KITO_OK);
    cr_assert_eq(q.count, 2);
    /* only len bytes are read */
    cr_assert_eq(kito_query_parse("a=1&b=2", 3, &q, &ve), KITO_OK);
    cr_assert_eq(q.count, 1);
    cr_assert_str_eq(kito_query_get(&q, "a"), "1");
}

Test(query, refuses_bad_escapes_and_names)
{
    kito_query q;
    kito_verr ve;
    static const char *bad_values[] = {"a=%",   "a=%4",  "a=%zz", "a=%00", "a=%4g",
                                       "a=%C3", "a=%FF", "a=%0A", "a=%7F", "a=x%e2%80%a8"};
    for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
        cr_assert_eq(parse(bad_values[i], &q, &ve), KITO_E_VALIDATION, "%s", bad_values[i]);
        cr_assert_str_eq(ve.field, "a", "%s", bad_values[i]);
        cr_assert_eq(q.count, 0);
    }
    static const char *bad_names[] = {"=1",
                                      "a%20b=1",
                                      "a%=1",
                                      "%00=1",
                                      "a[]=1",
                                      "\xc3\xa9=1",
                                      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1"};
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        cr_assert_eq(parse(bad_names[i], &q, &ve), KITO_E_VALIDATION, "%s", bad_names[i]);
        cr_assert_str_eq(ve.field, "query");
    }
    /* a 32-byte name is fine */
    cr_assert_eq(parse("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa=1", &q, &ve), KITO_OK);
    /* an embedded NUL byte */
    cr_assert_eq(kito_query_parse("a=1\0b", 5, &q, &ve), KITO_E_VALIDATION);
}

Test(query, duplicates_are_refused)
{
    kito_query q;
    kito_verr ve;
    cr_assert_eq(parse("sale=sal_0000000000001&limit=5&sale=sal_0000000000002", &q, &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "sale");
    cr_assert_str_eq(ve.reason, "must be given only once");
    cr_assert_eq(q.count, 0);
    /* the same name, spelt with an escape, is the same name */
    cr_assert_eq(parse("a=1&%61=2", &q, &ve), KITO_E_VALIDATION);
}

Test(query, bounds)
{
    kito_query q;
    kito_verr ve;
    char buf[4096];
    size_t n = 0;
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%sp%d=%d", i ? "&" : "", i, i);
    cr_assert_eq(parse(buf, &q, &ve), KITO_OK);
    cr_assert_eq(q.count, 32);
    cr_assert_str_eq(kito_query_get(&q, "p31"), "31");
    snprintf(buf + n, sizeof(buf) - n, "&p32=32");
    cr_assert_eq(parse(buf, &q, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "query");
    cr_assert_str_eq(ve.reason, "must have at most 32 parameters");

    /* exactly 2048 bytes pass, 2049 do not */
    memset(buf, 'x', sizeof(buf));
    memcpy(buf, "q=", 2);
    cr_assert_eq(kito_query_parse(buf, 2048, &q, &ve), KITO_OK);
    cr_assert_eq(strlen(kito_query_get(&q, "q")), 2046);
    cr_assert_eq(kito_query_parse(buf, 2049, &q, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.reason, "must be at most 2048 bytes");

    /* the worst case for the decode buffer: 2048 bytes in 32 pairs, 31 without '=' */
    n = 0;
    for (int i = 0; i < 31; i++) {
        buf[n++] = (char)('a' + i % 26);
        buf[n++] = (char)('a' + i / 26);
        for (int k = 2; k < 32; k++)
            buf[n++] = 'n';
        buf[n++] = '&';
    }
    buf[n++] = 'v';
    buf[n++] = '=';
    while (n < 2048)
        buf[n++] = 'x';
    cr_assert_eq(kito_query_parse(buf, n, &q, &ve), KITO_OK, "%s", ve.reason);
    cr_assert_eq(q.count, 32);
}

Test(query, allowed_and_int)
{
    kito_query q;
    kito_verr ve;
    static const char *const allowed[] = {"limit", "species", "cursor", NULL};
    int64_t v;
    cr_assert_eq(parse("limit=20&species=beryl", &q, &ve), KITO_OK);
    cr_assert_eq(kito_query_check_allowed(&q, allowed, &ve), KITO_OK);
    cr_assert_eq(kito_query_get_int(&q, "limit", 1, 100, 50, &v, &ve), KITO_OK);
    cr_assert_eq(v, 20);
    cr_assert_eq(kito_query_get_int(&q, "offset", 0, 100, 7, &v, &ve), KITO_OK);
    cr_assert_eq(v, 7);
    cr_assert_eq(parse("limit=20&specie=beryl", &q, &ve), KITO_OK);
    cr_assert_eq(kito_query_check_allowed(&q, allowed, &ve), KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "specie");
    static const char *bad[] = {"limit=0", "limit=101", "limit=",    "limit=1x",
                                "limit=-", "limit=+5",  "limit=1.5", "limit=99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse(bad[i], &q, &ve), KITO_OK);
        cr_assert_eq(kito_query_get_int(&q, "limit", 1, 100, 50, &v, &ve), KITO_E_VALIDATION, "%s",
                     bad[i]);
        cr_assert_str_eq(ve.field, "limit");
    }
    cr_assert_eq(parse("t=-5", &q, &ve), KITO_OK);
    cr_assert_eq(kito_query_get_int(&q, "t", -10, 10, 0, &v, &ve), KITO_OK);
    cr_assert_eq(v, -5);
}

/* ---- cursors ---- */

static const uint8_t key[KITO_CURSOR_KEY_LEN] = "0123456789abcdef0123456789abcde";
static const uint8_t other_key[KITO_CURSOR_KEY_LEN] = "0123456789abcdef0123456789abcdX";

Test(cursor, round_trip)
{
    char text[KITO_CURSOR_SIZE];
    kito_cursor c;
    kito_cursor cases[] = {
        {0, 1}, {1795791600000LL, 42}, {-5, UINT64_MAX}, {INT64_MIN, 0}, {INT64_MAX, 7}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cr_assert_eq(kito_query_cursor_encode(key, "lots", cases[i], text), KITO_OK);
        cr_assert_eq(strlen(text), 34);
        cr_assert_eq(
            strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 34);
        cr_assert_eq(kito_query_cursor_decode(key, "lots", text, &c, NULL), KITO_OK);
        cr_assert_eq(c.sort_key, cases[i].sort_key);
        cr_assert_eq(c.id, cases[i].id);
    }
}

Test(cursor, deterministic_and_versioned)
{
    char a[KITO_CURSOR_SIZE], b[KITO_CURSOR_SIZE];
    kito_cursor c = {1200, 9};
    kito_query_cursor_encode(key, "stones", c, a);
    kito_query_cursor_encode(key, "stones", c, b);
    cr_assert_str_eq(a, b);
    /* the first byte is the version: base64url of 0x01 starts with 'A' (000000 01....) */
    cr_assert_eq(a[0], 'A');
}

Test(cursor, every_edit_is_refused)
{
    char text[KITO_CURSOR_SIZE], edited[KITO_CURSOR_SIZE];
    kito_cursor c = {1795791600000LL, 42}, out;
    kito_verr ve;
    static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    cr_assert_eq(kito_query_cursor_encode(key, "lots", c, text), KITO_OK);
    for (size_t i = 0; i < 34; i++) {
        for (size_t k = 0; k < 64; k += 7) {
            strcpy(edited, text);
            if (edited[i] == alpha[k])
                continue;
            edited[i] = alpha[k];
            kito_err err = kito_query_cursor_decode(key, "lots", edited, &out, &ve);
            cr_assert_eq(err, KITO_E_VALIDATION, "position %zu", i);
            cr_assert_str_eq(ve.field, "cursor");
        }
    }
}

Test(cursor, other_scope_key_or_shape_is_refused)
{
    char text[KITO_CURSOR_SIZE];
    kito_cursor c = {5, 6}, out;
    kito_verr ve;
    cr_assert_eq(kito_query_cursor_encode(key, "lots", c, text), KITO_OK);
    cr_assert_eq(kito_query_cursor_decode(key, "sales", text, &out, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_query_cursor_decode(other_key, "lots", text, &out, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_query_cursor_decode(key, "lots", "", &out, &ve), KITO_E_VALIDATION);
    cr_assert_eq(kito_query_cursor_decode(key, "lots", NULL, &out, &ve), KITO_E_VALIDATION);
    char longer[64];
    snprintf(longer, sizeof(longer), "%sA", text);
    cr_assert_eq(kito_query_cursor_decode(key, "lots", longer, &out, &ve), KITO_E_VALIDATION);
    text[33] = '\0';
    cr_assert_eq(kito_query_cursor_decode(key, "lots", text, &out, &ve), KITO_E_VALIDATION);
    cr_assert_eq(
        kito_query_cursor_decode(key, "lots", "==================================", &out, &ve),
        KITO_E_VALIDATION);
    cr_assert_eq(kito_query_cursor_encode(key, "Lots", c, text), KITO_E_VALIDATION);
    cr_assert_eq(kito_query_cursor_encode(key, "", c, text), KITO_E_VALIDATION);
}

Test(cursor, another_version_is_refused)
{
    /* a well-formed 25-byte body with version 2 and a made-up tag */
    uint8_t raw[25] = {2};
    char text[64];
    kito_cursor out;
    kito_crypto_b64_encode(KITO_B64_URL, raw, sizeof(raw), text, sizeof(text));
    cr_assert_eq(strlen(text), 34);
    cr_assert_eq(kito_query_cursor_decode(key, "lots", text, &out, NULL), KITO_E_VALIDATION);
}
