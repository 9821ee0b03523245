#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/canonical_json.h"

/* Parses text (which must be valid JSON) and returns its canonical form; NULL on refusal, with
 * the error in *err. The caller frees the result. */
static char *canon(const char *text, kito_err *err)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    cr_assert_not_null(v, "test input does not parse: %s", jerr.text);
    char *out = NULL;
    size_t len = 0;
    *err = kito_canonical_json(v, &out, &len);
    json_decref(v);
    if (*err == KITO_OK)
        cr_assert_eq(strlen(out), len);
    else
        cr_assert_null(out);
    return out;
}

static void expect(const char *in, const char *want)
{
    kito_err err;
    char *got = canon(in, &err);
    cr_assert_eq(err, KITO_OK, "%s refused: %s", in, kito_err_code(err));
    cr_assert_str_eq(got, want);
    free(got);
}

static void refuse(const char *in, kito_err want)
{
    kito_err err;
    char *got = canon(in, &err);
    cr_assert_eq(err, want, "%s: got %s", in, kito_err_code(err));
    free(got);
}

Test(canonical, sorts_keys_and_drops_whitespace)
{
    expect("{ \"b\" : 1, \"a\" : 2 }", "{\"a\":2,\"b\":1}");
    expect("{\"z\": [1, 2, {\"y\": true, \"x\": null}], \"a\": \"hi\", \"m\": false}",
           "{\"a\":\"hi\",\"m\":false,\"z\":[1,2,{\"x\":null,\"y\":true}]}");
    /* a prefix sorts before its extensions; uppercase before lowercase */
    expect("{\"ab\":1,\"a\":2,\"B\":3,\"\":4}", "{\"\":4,\"B\":3,\"a\":2,\"ab\":1}");
}

Test(canonical, scalars_and_empty_containers)
{
    expect("{}", "{}");
    expect("[]", "[]");
    expect("[[],{},[{}]]", "[[],{},[{}]]");
    expect("\"abc\"", "\"abc\"");
    expect("0", "0");
    expect("-17", "-17");
    expect("true", "true");
    expect("null", "null");
}

Test(canonical, escapes_minimally)
{
    /* controls get short escapes or \u00xx (lowercase); '/', DEL and non-ASCII stay verbatim */
    expect("[\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\\\/\\u007f\\u00e9\\u20ac\\u001f\"]",
           "[\"\\u0001\\b\\t\\n\\f\\r\\\"\\\\/\x7f\xc3\xa9\xe2\x82\xac\\u001f\"]");
    /* keys are escaped the same way */
    expect("{\"a\\nb\":1}", "{\"a\\nb\":1}");
    /* a surrogate pair becomes the 4-byte UTF-8 sequence */
    expect("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
}

Test(canonical, rfc8785_utf16_key_order)
{
    /* RFC 8785 section 3.2.3: sorting by UTF-16 code units puts U+1F600 (D83D DE00) before
     * U+FB33, the opposite of bytewise UTF-8 order. */
    expect("{\"\\u20ac\":\"Euro Sign\",\"\\r\":\"Carriage Return\","
           "\"\\ufb33\":\"Hebrew Letter Dalet With Dagesh\",\"1\":\"One\","
           "\"\\ud83d\\ude00\":\"Emoji: Grinning Face\",\"\\u0080\":\"Control\","
           "\"\\u00f6\":\"Latin Small Letter O With Diaeresis\"}",
           "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\xc2\x80\":\"Control\","
           "\"\xc3\xb6\":\"Latin Small Letter O With Diaeresis\",\"\xe2\x82\xac\":\"Euro Sign\","
           "\"\xf0\x9f\x98\x80\":\"Emoji: Grinning Face\","
           "\"\xef\xac\xb3\":\"Hebrew Letter Dalet With Dagesh\"}");
}

Test(canonical, key_cmp)
{
    cr_assert_lt(kito_canonical_key_cmp("a", 1, "b", 1), 0);
    cr_assert_gt(kito_canonical_key_cmp("b", 1, "a", 1), 0);
    cr_assert_eq(kito_canonical_key_cmp("abc", 3, "abc", 3), 0);
    cr_assert_lt(kito_canonical_key_cmp("ab", 2, "abc", 3), 0);
    cr_assert_lt(kito_canonical_key_cmp("", 0, "a", 1), 0);
    /* U+1F600 < U+FB33 in UTF-16, > in UTF-8 */
    cr_assert_lt(kito_canonical_key_cmp("\xf0\x9f\x98\x80", 4, "\xef\xac\xb3", 3), 0);
    cr_assert_gt(strcmp("\xf0\x9f\x98\x80", "\xef\xac\xb3"), 0);
    /* below U+E000 both orders agree */
    cr_assert_lt(kito_canonical_key_cmp("\xc3\xb6", 2, "\xe2\x82\xac", 3), 0);
}

Test(canonical, integers_within_safe_range_only)
{
    expect("[9007199254740991,-9007199254740991]", "[9007199254740991,-9007199254740991]");
    refuse("[9007199254740992]", KITO_E_VALIDATION);
    refuse("[-9007199254740992]", KITO_E_VALIDATION);
}

Test(canonical, reals_are_refused)
{
    refuse("{\"weight\":1.5}", KITO_E_VALIDATION);
    refuse("[1.0]", KITO_E_VALIDATION);
    refuse("[1e3]", KITO_E_VALIDATION);
    refuse("{\"deep\":{\"deeper\":[0,0.1]}}", KITO_E_VALIDATION);
}

Test(canonical, insertion_order_does_not_matter)
{
    json_t *a = json_object(), *b = json_object();
    json_object_set_new(a, "weight_cct", json_integer(1250));
    json_object_set_new(a, "species", json_string("beryl"));
    json_object_set_new(a, "variety", json_string("emerald"));
    json_object_set_new(b, "variety", json_string("emerald"));
    json_object_set_new(b, "weight_cct", json_integer(1250));
    json_object_set_new(b, "species", json_string("beryl"));
    char *x = NULL, *y = NULL;
    cr_assert_eq(kito_canonical_json(a, &x, NULL), KITO_OK);
    cr_assert_eq(kito_canonical_json(b, &y, NULL), KITO_OK);
    cr_assert_str_eq(x, y);
    cr_assert_str_eq(x, "{\"species\":\"beryl\",\"variety\":\"emerald\",\"weight_cct\":1250}");
    free(x);
    free(y);
    json_decref(a);
    json_decref(b);
}

Test(canonical, a_certificate)
{
    expect("{\n"
           "  \"version\": 1,\n"
           "  \"stone_id\": \"stn_0000000000007\",\n"
           "  \"species\": \"zoisite\", \"variety\": \"tanzanite\",\n"
           "  \"weight_cct\": 312, \"piece_count\": 1,\n"
           "  \"measurements_um\": {\"length\": 9120, \"width\": 7050, \"depth\": 4800},\n"
           "  \"geographic_origin\": {\"country\": \"TZ\", \"region\": \"Manyara\", "
           "\"site\": \"Mirerani Block D\"},\n"
           "  \"estimate\": {\"low_minor\": 150000, \"high_minor\": 220000, \"currency\": "
           "\"USD\"},\n"
           "  \"photos\": [\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"],\n"
           "  \"treatment\": null,\n"
           "  \"issued_at\": \"2026-11-27T15:00:00Z\"\n"
           "}",
           "{\"estimate\":{\"currency\":\"USD\",\"high_minor\":220000,\"low_minor\":150000},"
           "\"geographic_origin\":{\"country\":\"TZ\",\"region\":\"Manyara\","
           "\"site\":\"Mirerani Block D\"},\"issued_at\":\"2026-11-27T15:00:00Z\","
           "\"measurements_um\":{\"depth\":4800,\"length\":9120,\"width\":7050},"
           "\"photos\":[\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\"],"
           "\"piece_count\":1,\"species\":\"zoisite\",\"stone_id\":\"stn_0000000000007\","
           "\"treatment\":null,\"variety\":\"tanzanite\",\"version\":1,\"weight_cct\":312}");
}

Test(canonical, output_is_a_fixed_point)
{
    const char *in = "{\"b\":[{\"d\":\"\\u0000x\",\"c\":-0}],\"a\":{\"\\u00e9\":\"\\t\"}}";
    kito_err err;
    char *once = canon(in, &err);
    cr_assert_eq(err, KITO_OK);
    char *twice = canon(once, &err);
    cr_assert_eq(err, KITO_OK);
    cr_assert_str_eq(once, twice);
    cr_assert_str_eq(once, "{\"a\":{\"\xc3\xa9\":\"\\t\"},\"b\":[{\"c\":0,\"d\":\"\\u0000x\"}]}");
    free(once);
    free(twice);
}

Test(canonical, depth_is_bounded)
{
    char deep[256];
    size_t n = 0;
    for (int i = 0; i < 33; i++)
        deep[n++] = '[';
    for (int i = 0; i < 33; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    kito_err err;
    char *out = canon(deep, &err); /* 33 levels: depth 0..32 */
    cr_assert_eq(err, KITO_OK);
    cr_assert_str_eq(out, deep);
    free(out);
    n = 0;
    for (int i = 0; i < 34; i++)
        deep[n++] = '[';
    for (int i = 0; i < 34; i++)
        deep[n++] = ']';
    deep[n] = '\0';
    refuse(deep, KITO_E_VALIDATION);
}

Test(canonical, size_is_bounded)
{
    size_t len = KITO_CANONICAL_MAX_BYTES;
    char *big = malloc(len + 1);
    memset(big, 'a', len);
    big[len] = '\0';
    json_t *v = json_string(big);
    char *out = (char *)1;
    cr_assert_eq(kito_canonical_json(v, &out, NULL), KITO_E_CAPACITY);
    cr_assert_null(out);
    json_decref(v);
    /* just under the limit passes: two quotes */
    big[len - 2] = '\0';
    v = json_string(big);
    size_t out_len = 0;
    cr_assert_eq(kito_canonical_json(v, &out, &out_len), KITO_OK);
    cr_assert_eq(out_len, len);
    free(out);
    json_decref(v);
    free(big);
}

Test(canonical, invalid_utf8_is_refused)
{
    json_t *v = json_stringn_nocheck("\xc3\x28", 2);
    char *out = NULL;
    cr_assert_eq(kito_canonical_json(v, &out, NULL), KITO_E_VALIDATION);
    json_decref(v);
    json_t *o = json_object();
    json_object_setn_new_nocheck(o, "a\0b", 3, json_integer(1));
    cr_assert_eq(kito_canonical_json(o, &out, NULL), KITO_E_VALIDATION);
    json_decref(o);
    cr_assert_eq(kito_canonical_json(NULL, &out, NULL), KITO_E_VALIDATION);
}
