/*
 * Small builders for the API's JSON conventions (issue 4): ids are opaque strings
 * (api/common/validate.h, kito_id_format), money is {"amount": minor units, "currency": "USD"},
 * times are RFC 3339 UTC strings, rates are basis points. Every kito_render_* function returns a
 * new reference (jansson), or NULL on allocation failure, which json_object_set_new tolerates by
 * failing as a whole. The kito_jw_* writers below write the same text without a tree.
 */
#ifndef KITO_RENDER_H
#define KITO_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* "lot_00000000000a1" for (prefix "lot", key). */
json_t *kito_render_id(const char *prefix, uint64_t key);

/* {"amount": amount_minor, "currency": currency} */
json_t *kito_render_money(int64_t amount_minor, const char *currency);

/* "2026-11-27T15:00:00Z" (milliseconds only when not zero) */
json_t *kito_render_time(int64_t ms_since_epoch);

/* A list page: {"items": items, "next_cursor": cursor or null}. Takes items' reference. */
json_t *kito_render_page(json_t *items, const char *next_cursor);

/* ---- direct writing ----------------------------------------------------------------------------
 *
 * The same conventions written straight into a caller's buffer, for the hot responses (a bid's
 * 201) where building a jansson tree and dumping it costs a few dozen allocations per request.
 * The text is what kito_json_render makes of the equivalent tree (compact, members in the order
 * written, strings escaped as jansson escapes them), so either way of rendering a document gives
 * the same bytes. The writer never writes past cap: if the text does not fit, or a value cannot
 * be written, failed is set and stays set; the caller then answers otherwise. Commas and colons are
 * the caller's (written with kito_jw_raw). */
typedef struct kito_jw {
    char *buf;
    size_t cap; /* bytes of buf */
    size_t len; /* bytes written; buf is NUL-terminated */
    bool failed;
} kito_jw;

/* Starts writing into buf (cap >= 1 bytes, borrowed). */
void kito_jw_init(kito_jw *w, char *buf, size_t cap);

/* Appends n bytes as they are (punctuation, keys: "\"key\":"). Inline, as is kito_jw_lit: most
 * calls are literals, whose length and copy the compiler then folds (a bid's 201 makes ~30). */
static inline void kito_jw_raw(kito_jw *w, const char *s, size_t n)
{
    if (w->failed || n >= w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* Appends a NUL-terminated literal as it is. */
static inline void kito_jw_lit(kito_jw *w, const char *s)
{
    kito_jw_raw(w, s, strlen(s));
}

/* Appends s, valid UTF-8, as a JSON string (quoted; '"', '\\' and control bytes escaped as
 * jansson escapes them, everything else as it is). */
void kito_jw_string(kito_jw *w, const char *s);

/* Appends a JSON integer. */
void kito_jw_int(kito_jw *w, int64_t v);

/* Appends true or false. */
void kito_jw_bool(kito_jw *w, bool v);

/* As kito_render_id, kito_render_money and kito_render_time; a value those return NULL for
 * (an invalid id or time) sets failed. */
void kito_jw_id(kito_jw *w, const char *prefix, uint64_t key);
void kito_jw_money(kito_jw *w, int64_t amount_minor, const char *currency);
void kito_jw_time(kito_jw *w, int64_t ms_since_epoch);

#endif
