#include "api/common/render.h"

#include <stdio.h>
#include <string.h>

#include "api/common/json_escape.h"
#include "api/common/validate.h"

json_t *kito_render_id(const char *prefix, uint64_t key)
{
    char id[KITO_ID_SIZE];
    if (kito_id_format(prefix, key, id, sizeof(id)) != KITO_OK)
        return NULL;
    return json_string(id);
}

json_t *kito_render_money(int64_t amount_minor, const char *currency)
{
    return json_pack("{s:I,s:s}", "amount", (json_int_t)amount_minor, "currency", currency);
}

json_t *kito_render_time(int64_t ms_since_epoch)
{
    char t[KITO_TIME_SIZE];
    if (kito_time_format(ms_since_epoch, t) != KITO_OK)
        return NULL;
    return json_string(t);
}

json_t *kito_render_page(json_t *items, const char *next_cursor)
{
    return json_pack("{s:o,s:s?}", "items", items, "next_cursor", next_cursor);
}

/* ---- direct writing -------------------------------------------------------------------------- */

void kito_jw_init(kito_jw *w, char *buf, size_t cap)
{
    *w = (kito_jw){.buf = buf, .cap = cap};
    if (cap > 0)
        buf[0] = '\0';
    else
        w->failed = true;
}

void kito_jw_string(kito_jw *w, const char *s)
{
    kito_jw_raw(w, "\"", 1);
    for (const char *run = s;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c != '\0' && !kito_json_needs_escape(c))
            continue;
        kito_jw_raw(w, run, (size_t)(s - run));
        if (c == '\0')
            break;
        char esc[6];
        kito_jw_raw(w, esc, kito_json_escape(c, "0123456789ABCDEF", esc)); /* jansson's case */
        run = s + 1;
    }
    kito_jw_raw(w, "\"", 1);
}

void kito_jw_int(kito_jw *w, int64_t v)
{
    /* two digits a division: amounts in minor units run to 10 or more digits, ~7 a bid's 201 */
    static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
                                   "25262728293031323334353637383940414243444546474849"
                                   "50515253545556575859606162636465666768697071727374"
                                   "75767778798081828384858687888990919293949596979899";
    char t[24];
    char *p = t + sizeof(t);
    uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;
    while (u >= 100) {
        p -= 2;
        memcpy(p, pairs + 2 * (u % 100), 2);
        u /= 100;
    }
    if (u >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * u, 2);
    } else {
        *--p = (char)('0' + u);
    }
    if (v < 0)
        *--p = '-';
    kito_jw_raw(w, p, (size_t)(t + sizeof(t) - p));
}

void kito_jw_bool(kito_jw *w, bool v)
{
    if (v)
        kito_jw_raw(w, "true", 4);
    else
        kito_jw_raw(w, "false", 5);
}

/* Appends s[0..n) quoted, for text made here of characters JSON never escapes (ids, times, a
 * currency code): kito_jw_string's byte-by-byte scan was a fifth of writing a bid's 201. */
static void put_quoted(kito_jw *w, const char *s, size_t n)
{
    if (w->failed || n + 2 >= w->cap - w->len) {
        w->failed = true;
        return;
    }
    char *p = w->buf + w->len;
    p[0] = '"';
    memcpy(p + 1, s, n);
    p[n + 1] = '"';
    p[n + 2] = '\0';
    w->len += n + 2;
}

void kito_jw_id(kito_jw *w, const char *prefix, uint64_t key)
{
    char id[KITO_ID_SIZE];
    if (kito_id_format(prefix, key, id, sizeof(id)) != KITO_OK) {
        w->failed = true;
        return;
    }
    put_quoted(w, id, strlen(id)); /* a prefix of [a-z] (checked), '_', base-32 digits */
}

void kito_jw_money(kito_jw *w, int64_t amount_minor, const char *currency)
{
    kito_jw_raw(w, "{\"amount\":", 10);
    kito_jw_int(w, amount_minor);
    kito_jw_raw(w, ",\"currency\":", 12);
    const char *c = currency;
    if (c[0] >= 'A' && c[0] <= 'Z' && c[1] >= 'A' && c[1] <= 'Z' && c[2] >= 'A' && c[2] <= 'Z' &&
        c[3] == '\0')
        put_quoted(w, c, 3); /* an ISO 4217 code, as every currency here is */
    else
        kito_jw_string(w, currency);
    kito_jw_raw(w, "}", 1);
}

void kito_jw_time(kito_jw *w, int64_t ms_since_epoch)
{
    char t[KITO_TIME_SIZE];
    if (kito_time_format(ms_since_epoch, t) != KITO_OK) {
        w->failed = true;
        return;
    }
    put_quoted(w, t, strlen(t)); /* digits and -:T.Z */
}
