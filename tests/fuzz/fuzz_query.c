/*
 * Fuzz target: the query-string parser and pagination cursors (api/common/query.h).
 * Checks, besides "no crash": a parsed query holds at most 32 parameters with well-formed
 * names and UTF-8 values, lookups find what parsing stored, a refusal leaves nothing behind and
 * names the field in valid UTF-8, and cursors round-trip while any other text is refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/query.h"
#include "tests/fuzz/fuzz.h"

static const uint8_t key[KITO_CURSOR_KEY_LEN] = "fuzz-cursor-key-0123456789abcdef";

static void check_cursor_text(const uint8_t *data, size_t size)
{
    char text[64];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    kito_cursor c;
    kito_verr ve;
    kito_err err = kito_query_cursor_decode(key, "lots", text, &c, &ve);
    if (err == KITO_OK) {
        /* only a cursor we made decodes: encoding it again gives the same text */
        char again[KITO_CURSOR_SIZE];
        CHECK(kito_query_cursor_encode(key, "lots", c, again) == KITO_OK);
        CHECK(strcmp(again, text) == 0);
    } else {
        CHECK(err == KITO_E_VALIDATION);
    }
    /* and a cursor made from these bytes always round-trips */
    kito_cursor made = {0, 0}, back;
    memcpy(&made.sort_key, data, size < 8 ? size : 8);
    if (size > 8)
        memcpy(&made.id, data + 8, size - 8 < 8 ? size - 8 : 8);
    char enc[KITO_CURSOR_SIZE];
    CHECK(kito_query_cursor_encode(key, "sales", made, enc) == KITO_OK);
    CHECK(kito_query_cursor_decode(key, "sales", enc, &back, NULL) == KITO_OK);
    CHECK(back.sort_key == made.sort_key && back.id == made.id);
    CHECK(kito_query_cursor_decode(key, "lots", enc, &back, NULL) == KITO_E_VALIDATION);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kito_query q;
    kito_verr ve = {{0}};
    kito_err err = kito_query_parse((const char *)data, size, &q, &ve);
    if (err == KITO_OK) {
        CHECK(q.count <= KITO_QUERY_MAX_PARAMS);
        for (size_t i = 0; i < q.count; i++) {
            const char *name = q.params[i].name, *value = q.params[i].value;
            size_t len = strlen(name);
            CHECK(len >= 1 && len <= KITO_QUERY_NAME_MAX);
            CHECK(
                strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
                len);
            CHECK(kito_utf8_valid(value, strlen(value), NULL));
            CHECK(kito_query_get(&q, name) == value); /* names are unique */
        }
        static const char *const allowed[] = {"limit", "cursor", "species", NULL};
        kito_query_check_allowed(&q, allowed, &ve);
        int64_t limit;
        if (kito_query_get_int(&q, "limit", 1, 100, 20, &limit, &ve) == KITO_OK)
            CHECK(limit >= 1 && limit <= 100);
        const char *cursor = kito_query_get(&q, "cursor");
        kito_cursor c;
        if (cursor != NULL)
            kito_query_cursor_decode(key, "lots", cursor, &c, &ve);
    } else {
        CHECK(err == KITO_E_VALIDATION);
        CHECK(q.count == 0);
        CHECK(kito_utf8_valid(ve.field, strlen(ve.field), NULL));
        CHECK(kito_utf8_valid(ve.reason, strlen(ve.reason), NULL));
        CHECK(ve.reason[0] != '\0');
    }
    check_cursor_text(data, size);
    return 0;
}
