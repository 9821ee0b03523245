#include "api/http/json.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/common/validate.h"

size_t kito_json_depth(const char *s, size_t len, size_t limit)
{
    size_t depth = 0, max = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++; /* skip the escaped byte: \" does not end the string */
            else if (c == '"')
                in_string = false;
            continue;
        }
        switch (c) {
        case '"':
            in_string = true;
            break;
        case '[':
        case '{':
            if (++depth > max) {
                max = depth;
                if (max > limit)
                    return limit + 1;
            }
            break;
        case ']':
        case '}':
            if (depth > 0)
                depth--;
            break;
        default:
            break;
        }
    }
    return max;
}

/* Replaces, in place, every byte of s that does not start a whole valid UTF-8 sequence, and
 * every control character, with '?': jansson quotes the bytes near an error ("invalid token
 * near '\xa7co'") and snprintf may cut a sequence short, but the reason goes into the error
 * body, which must be UTF-8. */
static void utf8_scrub(char *s)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
        if (n == 1 && c >= 0x20 && c != 0x7f) {
            i++;
        } else if (n > 1 && i + n <= len && kito_utf8_valid(s + i, n, NULL)) {
            i += n;
        } else {
            s[i++] = '?';
        }
    }
}

static void set_reason(char *reason, const char *fmt, const char *a, int line, int column)
{
    if (reason == NULL)
        return;
    if (line > 0)
        snprintf(reason, KITO_JSON_REASON_SIZE, "line %d, column %d: %s", line, column, a);
    else
        snprintf(reason, KITO_JSON_REASON_SIZE, fmt, a);
    utf8_scrub(reason);
}

kito_err kito_json_parse(const char *body, size_t len, size_t max_len, kito_json_top top,
                         json_t **out, char *reason)
{
    *out = NULL;
    if (reason != NULL)
        reason[0] = '\0';
    if (len > max_len) {
        if (reason != NULL)
            snprintf(reason, KITO_JSON_REASON_SIZE,
                     "the body is %zu bytes; at most %zu are allowed", len, max_len);
        return KITO_E_PAYLOAD_TOO_LARGE;
    }
    if (len == 0 || body == NULL) {
        set_reason(reason, "%s", "the body is empty; a JSON document was expected", 0, 0);
        return KITO_E_MALFORMED_JSON;
    }
    /* Bound the depth before jansson recurses into it. */
    if (kito_json_depth(body, len, KITO_JSON_DEPTH_MAX) > KITO_JSON_DEPTH_MAX) {
        if (reason != NULL)
            snprintf(reason, KITO_JSON_REASON_SIZE,
                     "the document is nested more than %d levels deep", KITO_JSON_DEPTH_MAX);
        return KITO_E_MALFORMED_JSON;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (doc == NULL) {
        set_reason(reason, "%s", jerr.text, jerr.line, jerr.column);
        return KITO_E_MALFORMED_JSON;
    }
    if (top == KITO_JSON_TOP_OBJECT && !json_is_object(doc)) {
        json_decref(doc);
        set_reason(reason, "%s", "the body must be a JSON object", 0, 0);
        return KITO_E_VALIDATION;
    }
    *out = doc;
    return KITO_OK;
}

char *kito_json_render(const json_t *value, size_t *len)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}

bool kito_json_is_content_type(const char *value, size_t len)
{
    static const char mime[] = "application/json";
    const size_t n = sizeof(mime) - 1;
    while (len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        len--;
    }
    if (len < n || strncasecmp(value, mime, n) != 0)
        return false;
    for (size_t i = n; i < len; i++) {
        if (value[i] == ';')
            return true;
        if (value[i] != ' ' && value[i] != '\t')
            return false;
    }
    return true;
}
