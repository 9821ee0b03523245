#include "api/common/canonical_json.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/json_escape.h"
#include "api/common/validate.h"

/* Output buffer; the first error sticks and later writes are ignored. */
typedef struct out {
    char *p;
    size_t len;
    size_t cap;
    kito_err err;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->err != KITO_OK)
        return;
    if (n > KITO_CANONICAL_MAX_BYTES - o->len) {
        o->err = KITO_E_CAPACITY;
        return;
    }
    if (o->len + n + 1 > o->cap) {
        size_t cap = o->cap == 0 ? 256 : o->cap;
        while (cap < o->len + n + 1)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (p == NULL) {
            o->err = KITO_E_NOMEM;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = '\0';
}

static void put_string(out *o, const char *s, size_t len)
{
    size_t run = 0; /* start of the bytes not yet written */
    put(o, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (!kito_json_needs_escape((unsigned char)s[i]))
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        char esc[6];
        put(o, esc, kito_json_escape((unsigned char)s[i], "0123456789abcdef", esc));
    }
    put(o, s + run, len - run);
    put(o, "\"", 1);
}

/* Streams a valid UTF-8 string as UTF-16 code units. */
typedef struct u16iter {
    const uint8_t *s;
    size_t len;
    size_t i;
    uint16_t pending; /* low surrogate still to deliver, or 0 */
} u16iter;

/* The next code unit, or -1 at the end. */
static int32_t u16_next(u16iter *it)
{
    if (it->pending != 0) {
        uint16_t u = it->pending;
        it->pending = 0;
        return u;
    }
    if (it->i >= it->len)
        return -1;
    uint8_t c = it->s[it->i];
    uint32_t cp;
    size_t n;
    if (c < 0x80) {
        cp = c;
        n = 1;
    } else if (c < 0xE0) {
        cp = c & 0x1F;
        n = 2;
    } else if (c < 0xF0) {
        cp = c & 0x0F;
        n = 3;
    } else {
        cp = c & 0x07;
        n = 4;
    }
    for (size_t k = 1; k < n && it->i + k < it->len; k++)
        cp = (cp << 6) | (it->s[it->i + k] & 0x3F);
    it->i += n;
    if (cp < 0x10000)
        return (int32_t)cp;
    cp -= 0x10000;
    it->pending = (uint16_t)(0xDC00 + (cp & 0x3FF));
    return (int32_t)(0xD800 + (cp >> 10));
}

int kito_canonical_key_cmp(const char *a, size_t a_len, const char *b, size_t b_len)
{
    u16iter x = {(const uint8_t *)a, a_len, 0, 0}, y = {(const uint8_t *)b, b_len, 0, 0};
    for (;;) {
        int32_t u = u16_next(&x), v = u16_next(&y);
        if (u != v)
            return u < v ? -1 : 1; /* -1 (end) sorts first: a prefix precedes its extensions */
        if (u < 0)
            return 0;
    }
}

typedef struct member {
    const char *key;
    size_t key_len;
    json_t *value;
} member;

static int member_cmp(const void *a, const void *b)
{
    const member *x = a, *y = b;
    return kito_canonical_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

static void put_value(out *o, const json_t *v, int depth);

static void put_object(out *o, const json_t *v, int depth)
{
    size_t n = json_object_size(v), i = 0;
    const char *key;
    size_t key_len;
    json_t *value;
    member *members = n > 0 ? calloc(n, sizeof(*members)) : NULL;
    if (n > 0 && members == NULL) {
        o->err = KITO_E_NOMEM;
        return;
    }
    json_object_keylen_foreach((json_t *)v, key, key_len, value)
    {
        assert(i < n);
        if (memchr(key, '\0', key_len) != NULL || !kito_utf8_valid(key, key_len, NULL)) {
            o->err = KITO_E_VALIDATION;
            goto out;
        }
        members[i++] = (member){key, key_len, value};
    }
    assert(i == n);
    if (n > 1)
        qsort(members, n, sizeof(*members), member_cmp);
    put(o, "{", 1);
    for (i = 0; i < n && o->err == KITO_OK; i++) {
        if (i > 0)
            put(o, ",", 1);
        put_string(o, members[i].key, members[i].key_len);
        put(o, ":", 1);
        put_value(o, members[i].value, depth + 1);
    }
    put(o, "}", 1);
out:
    free(members);
}

static void put_value(out *o, const json_t *v, int depth)
{
    char num[24];
    if (o->err != KITO_OK)
        return;
    if (depth > KITO_CANONICAL_MAX_DEPTH) {
        o->err = KITO_E_VALIDATION;
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        put_object(o, v, depth);
        return;
    case JSON_ARRAY:
        put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && o->err == KITO_OK; i++) {
            if (i > 0)
                put(o, ",", 1);
            put_value(o, json_array_get(v, i), depth + 1);
        }
        put(o, "]", 1);
        return;
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (!kito_utf8_valid(s, len, NULL)) {
            o->err = KITO_E_VALIDATION;
            return;
        }
        put_string(o, s, len);
        return;
    }
    case JSON_INTEGER: {
        json_int_t n = json_integer_value(v);
        if (n > KITO_CANONICAL_INT_MAX || n < -KITO_CANONICAL_INT_MAX) {
            o->err = KITO_E_VALIDATION;
            return;
        }
        int len = snprintf(num, sizeof(num), "%lld", (long long)n);
        put(o, num, (size_t)len);
        return;
    }
    case JSON_REAL:
        o->err = KITO_E_VALIDATION; /* no floats in signed documents */
        return;
    case JSON_TRUE:
        put(o, "true", 4);
        return;
    case JSON_FALSE:
        put(o, "false", 5);
        return;
    case JSON_NULL:
        put(o, "null", 4);
        return;
    }
    o->err = KITO_E_VALIDATION;
}

kito_err kito_canonical_json(const json_t *value, char **out_text, size_t *out_len)
{
    out o = {0};
    *out_text = NULL;
    if (out_len != NULL)
        *out_len = 0;
    if (value == NULL)
        return KITO_E_VALIDATION;
    put_value(&o, value, 0);
    if (o.err != KITO_OK) {
        free(o.p);
        return o.err;
    }
    assert(o.p != NULL);
    *out_text = o.p;
    if (out_len != NULL)
        *out_len = o.len;
    return KITO_OK;
}
