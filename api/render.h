/*
 * Small builders for the API's JSON conventions (issue 4): ids are opaque strings
 * (api/validate.h, kito_id_format), money is {"amount": minor units, "currency": "USD"}, times are
 * RFC 3339 UTC strings, rates are basis points. Every function returns a new reference (jansson),
 * or NULL on allocation failure, which json_object_set_new tolerates by failing as a whole.
 */
#ifndef KITO_RENDER_H
#define KITO_RENDER_H

#include <jansson.h>
#include <stdint.h>

/* "lot_00000000000a1" for (prefix "lot", key). */
json_t *kito_render_id(const char *prefix, uint64_t key);

/* {"amount": amount_minor, "currency": currency} */
json_t *kito_render_money(int64_t amount_minor, const char *currency);

/* "2026-11-27T15:00:00Z" (milliseconds only when not zero) */
json_t *kito_render_time(int64_t ms_since_epoch);

/* A list page: {"items": items, "next_cursor": cursor or null}. Takes items' reference. */
json_t *kito_render_page(json_t *items, const char *next_cursor);

#endif
