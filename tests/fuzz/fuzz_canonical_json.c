/*
 * Fuzz target: canonical JSON (api/common/canonical_json.h).
 * Any JSON jansson accepts is canonicalised; when that succeeds the output must be valid UTF-8,
 * parse back to an equal value, and be its own canonical form (a fixed point). A refusal is only
 * ever a validation or capacity error.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/canonical_json.h"
#include "api/common/validate.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_error_t jerr;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL)
        return 0;
    char *out = NULL;
    size_t len = 0;
    kito_err err = kito_canonical_json(v, &out, &len);
    if (err != KITO_OK) {
        CHECK(err == KITO_E_VALIDATION || err == KITO_E_CAPACITY);
        CHECK(out == NULL);
        json_decref(v);
        return 0;
    }
    CHECK(out != NULL && strlen(out) <= len && out[len] == '\0');
    CHECK(kito_utf8_valid(out, len, NULL));
    json_t *back = json_loadb(out, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    CHECK(back != NULL);
    CHECK(json_equal(v, back));
    char *again = NULL;
    size_t again_len = 0;
    CHECK(kito_canonical_json(back, &again, &again_len) == KITO_OK);
    CHECK(again_len == len && memcmp(out, again, len) == 0);
    /* no whitespace outside strings: every space, tab or newline byte sits inside a string */
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = out[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            else
                CHECK((unsigned char)c >= 0x20);
        } else if (c == '"') {
            in_string = 1;
        } else {
            CHECK(c != ' ' && c != '\n' && c != '\t' && c != '\r');
        }
    }
    free(again);
    json_decref(back);
    free(out);
    json_decref(v);
    return 0;
}
