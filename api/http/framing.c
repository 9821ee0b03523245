#include "api/http/framing.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Checks one Content-Length field value (a comma-separated list of numbers, RFC 9110, 8.6)
 * against *seen, the length an earlier one gave (or UINT64_MAX for none). false when an element
 * is not a number or differs. */
static bool same_length(const char *v, size_t len, uint64_t *seen)
{
    size_t i = 0;
    for (;;) {
        while (i < len && is_ows(v[i]))
            i++;
        uint64_t n = 0;
        size_t digits = 0;
        for (; i < len && v[i] >= '0' && v[i] <= '9'; i++, digits++) {
            if (digits == 18) /* 10^18 bytes: beyond anything h2o would buffer */
                return false;
            n = n * 10 + (uint64_t)(v[i] - '0');
        }
        if (digits == 0)
            return false;
        if (*seen != UINT64_MAX && *seen != n)
            return false;
        *seen = n;
        while (i < len && is_ows(v[i]))
            i++;
        if (i == len)
            return true;
        if (v[i] != ',')
            return false;
        i++;
    }
}

kito_framing kito_framing_check(const char *bytes, size_t len)
{
    static const char CL[] = "content-length", TE[] = "transfer-encoding";
    unsigned lengths = 0, encodings = 0;
    bool lengths_ok = true;
    uint64_t seen = UINT64_MAX;

    const char *nl = memchr(bytes, '\n', len); /* past the request line */
    size_t at = nl != NULL ? (size_t)(nl - bytes) + 1 : len;
    while (at < len) {
        nl = memchr(bytes + at, '\n', len - at);
        if (nl == NULL)
            break; /* cut short: judge what was read */
        const char *line = bytes + at;
        size_t ll = (size_t)(nl - line);
        at += ll + 1;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break; /* the empty line: end of the head */
        if (is_ows(line[0]))
            continue; /* obs-fold: the previous field goes on, no new name */
        const char *colon = memchr(line, ':', ll);
        if (colon == NULL)
            continue;
        size_t name_len = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vl = ll - name_len - 1;
        if (name_len == sizeof(CL) - 1 && strncasecmp(line, CL, name_len) == 0) {
            lengths++;
            if (lengths_ok && !same_length(v, vl, &seen))
                lengths_ok = false;
        } else if (name_len == sizeof(TE) - 1 && strncasecmp(line, TE, name_len) == 0) {
            encodings++;
        }
    }
    if (lengths > 0 && encodings > 0)
        return KITO_FRAMING_LENGTH_AND_CHUNKED;
    if (encodings > 1)
        return KITO_FRAMING_ENCODINGS_REPEATED;
    if (!lengths_ok)
        return KITO_FRAMING_LENGTHS_DIFFER;
    return KITO_FRAMING_OK;
}

const char *kito_framing_message(kito_framing f)
{
    switch (f) {
    case KITO_FRAMING_OK:
        return "the request is framed in one way";
    case KITO_FRAMING_LENGTH_AND_CHUNKED:
        return "the request has both Content-Length and Transfer-Encoding; send one "
               "(RFC 9112, 6.3)";
    case KITO_FRAMING_LENGTHS_DIFFER:
        return "the request's Content-Length values differ or are not numbers (RFC 9112, 6.3)";
    case KITO_FRAMING_ENCODINGS_REPEATED:
        return "the request has Transfer-Encoding more than once; send it once (RFC 9112, 6.3)";
    }
    return "the request's framing is ambiguous (RFC 9112, 6.3)";
}
