/*
 * JSON string escapes (RFC 8259, section 7), shared by the two writers that produce JSON text
 * themselves: canonical JSON (api/common/canonical_json.c, RFC 8785: lower-case hex) and the
 * API's direct writer (api/common/render.c, kito_jw_string: upper-case hex, as jansson writes).
 */
#ifndef KITO_JSON_ESCAPE_H
#define KITO_JSON_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Must byte c be escaped inside a JSON string? ('"', '\\' and the control characters.) */
static inline bool kito_json_needs_escape(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\';
}

/* The escape of c (one kito_json_needs_escape accepts) into out: the two-character form where
 * JSON has one (\" \\ \b \f \n \r \t), otherwise \u00XX with hex digits from digits
 * ("0123456789abcdef" or upper case). Returns its length: 2 or 6. */
static inline size_t kito_json_escape(unsigned char c, const char digits[16], char out[6])
{
    static const char short_form[] = "\"\"\\\\\bb\ff\nn\rr\tt";
    out[0] = '\\';
    for (size_t i = 0; i + 1 < sizeof(short_form); i += 2)
        if ((unsigned char)short_form[i] == c) {
            out[1] = short_form[i + 1];
            return 2;
        }
    memcpy(out + 1, "u00", 3);
    out[4] = digits[c >> 4];
    out[5] = digits[c & 15];
    return 6;
}

#endif
