#include "api/common/query.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/common/crypto.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes src[0..len) into dst (which has room for len + 1 bytes), NUL-terminating it; stores
 * the decoded length in *out_len. false on a bad escape or %00. */
static bool percent_decode(const char *src, size_t len, char *dst, size_t *out_len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '+') {
            dst[o++] = ' ';
        } else if (c == '%') {
            if (len - i < 3)
                return false;
            int hi = hex_value(src[i + 1]), lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return false;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        } else if (c == '\0') {
            return false;
        } else {
            dst[o++] = c;
        }
    }
    dst[o] = '\0';
    *out_len = o;
    return true;
}

static bool name_ok(const char *s, size_t len)
{
    if (len < 1 || len > KITO_QUERY_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

/* Decodes one "name=value" pair into q; on failure fills ve. */
static kito_err add_pair(kito_query *q, const char *pair, size_t len, size_t *used, kito_verr *ve)
{
    const char *eq = memchr(pair, '=', len);
    size_t name_len = eq != NULL ? (size_t)(eq - pair) : len;
    const char *raw_value = eq != NULL ? eq + 1 : pair + len;
    size_t raw_value_len = eq != NULL ? len - name_len - 1 : 0;
    char *name = q->buf + *used, *value;
    size_t n, v;

    if (q->count == KITO_QUERY_MAX_PARAMS)
        return kito_verr_set(ve, "query", "must have at most %d parameters", KITO_QUERY_MAX_PARAMS);
    /* Decoded text is never longer than its source, and the source fits in the buffer. */
    assert(*used + len + 2 <= sizeof(q->buf));
    if (!percent_decode(pair, name_len, name, &n) || !name_ok(name, n))
        return kito_verr_set(ve, "query", "has a malformed parameter name");
    value = name + n + 1;
    if (!percent_decode(raw_value, raw_value_len, value, &v))
        return kito_verr_set(ve, name, "has a malformed percent escape");
    if (kito_validate_text(name, value, 0, KITO_QUERY_MAX_BYTES, 0, ve) != KITO_OK)
        return KITO_E_VALIDATION;
    if (kito_query_get(q, name) != NULL)
        return kito_verr_set(ve, name, "must be given only once");
    q->params[q->count++] = (kito_query_param){name, value};
    *used += n + 1 + v + 1;
    return KITO_OK;
}

kito_err kito_query_parse(const char *qs, size_t len, kito_query *q, kito_verr *ve)
{
    size_t used = 0;
    q->count = 0;
    q->buf[0] = '\0';
    if (len > 0 && qs[0] == '?') {
        qs++;
        len--;
    }
    if (len > KITO_QUERY_MAX_BYTES)
        return kito_verr_set(ve, "query", "must be at most %d bytes", KITO_QUERY_MAX_BYTES);
    size_t start = 0;
    while (start < len) {
        const char *amp = memchr(qs + start, '&', len - start);
        size_t end = amp != NULL ? (size_t)(amp - qs) : len;
        if (end > start) {
            kito_err err = add_pair(q, qs + start, end - start, &used, ve);
            if (err != KITO_OK) {
                q->count = 0;
                return err;
            }
        }
        start = end + 1;
    }
    return KITO_OK;
}

const char *kito_query_get(const kito_query *q, const char *name)
{
    for (size_t i = 0; i < q->count; i++)
        if (strcmp(q->params[i].name, name) == 0)
            return q->params[i].value;
    return NULL;
}

kito_err kito_query_check_allowed(const kito_query *q, const char *const *allowed, kito_verr *ve)
{
    for (size_t i = 0; i < q->count; i++) {
        bool known = false;
        for (size_t k = 0; allowed[k] != NULL && !known; k++)
            known = strcmp(q->params[i].name, allowed[k]) == 0;
        if (!known)
            return kito_verr_set(ve, q->params[i].name, "is not a known parameter");
    }
    return KITO_OK;
}

kito_err kito_query_get_int(const kito_query *q, const char *name, int64_t min, int64_t max,
                            int64_t dflt, int64_t *out, kito_verr *ve)
{
    const char *s = kito_query_get(q, name);
    assert(min <= max);
    if (s == NULL) {
        *out = dflt;
        return KITO_OK;
    }
    bool neg = s[0] == '-';
    const char *d = s + (neg ? 1 : 0);
    size_t len = strnlen(d, 21);
    int64_t v = 0;
    if (len == 0 || len > 19)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        if (d[i] < '0' || d[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, d[i] - '0', &v))
            goto bad;
    }
    if (neg)
        v = -v;
    if (v < min || v > max)
        goto bad;
    *out = v;
    return KITO_OK;
bad:
    return kito_verr_set(ve, name, "must be a whole number from %lld to %lld", (long long)min,
                         (long long)max);
}

/* ---- cursors --------------------------------------------------------------------------------- */

#define CURSOR_BODY 17 /* version + sort key + id */
#define CURSOR_TAG 8
#define CURSOR_RAW (CURSOR_BODY + CURSOR_TAG)

static bool scope_ok(const char *scope)
{
    size_t n = 0;
    if (scope == NULL)
        return false;
    for (; scope[n] != '\0'; n++)
        if (n >= 32 || !((scope[n] >= 'a' && scope[n] <= 'z') || scope[n] == '_'))
            return false;
    return n > 0;
}

static kito_err cursor_tag(const uint8_t key[KITO_CURSOR_KEY_LEN], const char *scope,
                           const uint8_t body[CURSOR_BODY], uint8_t tag[CURSOR_TAG])
{
    uint8_t input[33 + CURSOR_BODY], mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    size_t n = strlen(scope);
    assert(n <= 32);
    memcpy(input, scope, n);
    input[n] = 0; /* separates scope from body: no scope is a prefix trick away from another */
    memcpy(input + n + 1, body, CURSOR_BODY);
    if (HMAC(EVP_sha256(), key, KITO_CURSOR_KEY_LEN, input, n + 1 + CURSOR_BODY, mac, &mac_len) ==
            NULL ||
        mac_len < CURSOR_TAG) {
        ERR_clear_error();
        return KITO_E_INTERNAL;
    }
    memcpy(tag, mac, CURSOR_TAG);
    return KITO_OK;
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

kito_err kito_query_cursor_encode(const uint8_t key[KITO_CURSOR_KEY_LEN], const char *scope,
                                  kito_cursor c, char out[KITO_CURSOR_SIZE])
{
    uint8_t raw[CURSOR_RAW];
    out[0] = '\0';
    if (!scope_ok(scope))
        return KITO_E_VALIDATION;
    raw[0] = KITO_CURSOR_VERSION;
    put_be64(raw + 1, (uint64_t)c.sort_key);
    put_be64(raw + 9, c.id);
    kito_err err = cursor_tag(key, scope, raw, raw + CURSOR_BODY);
    if (err != KITO_OK)
        return err;
    return kito_crypto_b64_encode(KITO_B64_URL, raw, sizeof(raw), out, KITO_CURSOR_SIZE);
}

kito_err kito_query_cursor_decode(const uint8_t key[KITO_CURSOR_KEY_LEN], const char *scope,
                                  const char *text, kito_cursor *c, kito_verr *ve)
{
    uint8_t raw[CURSOR_RAW], tag[CURSOR_TAG];
    size_t n;
    if (!scope_ok(scope) || text == NULL || strnlen(text, KITO_CURSOR_SIZE) != KITO_CURSOR_SIZE - 1)
        goto bad;
    if (kito_crypto_b64_decode(KITO_B64_URL, text, KITO_CURSOR_SIZE - 1, raw, sizeof(raw), &n) !=
            KITO_OK ||
        n != CURSOR_RAW || raw[0] != KITO_CURSOR_VERSION)
        goto bad;
    if (cursor_tag(key, scope, raw, tag) != KITO_OK)
        return KITO_E_INTERNAL;
    if (CRYPTO_memcmp(tag, raw + CURSOR_BODY, CURSOR_TAG) != 0)
        goto bad;
    c->sort_key = (int64_t)get_be64(raw + 1);
    c->id = get_be64(raw + 9);
    return KITO_OK;
bad:
    return kito_verr_set(ve, "cursor", "is not a cursor this list gave out");
}
