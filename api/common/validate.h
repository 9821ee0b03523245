/*
 * Input validation: every field a client can send is checked here before it touches state
 * (DESIGN.md, "Bad input and faults").
 *
 * Each validator returns KITO_OK or KITO_E_VALIDATION and, on failure, fills a kito_verr (when one
 * is given) with the field's name and an English reason the API puts in its error body, e.g.
 *     field "pin", reason "must not be a run of consecutive digits like 1234".
 * Validators take the field's name from the caller so the message names what the client sent.
 * Nothing here allocates; nothing keeps state; all are thread-safe. Money and weights are parsed
 * from text into integers: no floating point is used to compute a value (see kito_validate_carats
 * for the one place a JSON number arrives as a double).
 */
#ifndef KITO_VALIDATE_H
#define KITO_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"

/* ---- error detail ---------------------------------------------------------------------------- */

#define KITO_VERR_FIELD_SIZE 96
#define KITO_VERR_REASON_SIZE 192

/* Which field failed and why; both NUL-terminated, truncated to fit. */
typedef struct kito_verr {
    char
        field[KITO_VERR_FIELD_SIZE]; /* "phone", "measurements.length_mm", "ladder[2].step_minor" */
    char reason[KITO_VERR_REASON_SIZE]; /* "must be an E.164 number like +255712345678" */
} kito_verr;

/* Records field and a printf-style reason in ve (ve may be NULL) and returns KITO_E_VALIDATION,
 * so a validator can `return kito_verr_set(ve, field, "...")`. */
kito_err kito_verr_set(kito_verr *ve, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- text ------------------------------------------------------------------------------------ */

/* True if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Stores the number of code points in *code_points when not NULL. */
bool kito_utf8_valid(const char *s, size_t len, size_t *code_points);

/* Flags for kito_validate_text. */
#define KITO_TEXT_MULTILINE 1u /* also allow line feed, carriage return and tab */

/* A NUL-terminated string that is valid UTF-8, holds between min_cp and max_cp code points and no
 * control characters (U+0000..U+001F, U+007F..U+009F, and U+2028/U+2029; see flags). */
kito_err kito_validate_text(const char *field, const char *s, size_t min_cp, size_t max_cp,
                            unsigned flags, kito_verr *ve);

/* s is one of allowed, a NULL-terminated list; its position goes to *index when not NULL. The
 * reason lists the allowed values (as many as fit). */
kito_err kito_validate_enum(const char *field, const char *s, const char *const *allowed,
                            size_t *index, kito_verr *ve);

/* ---- people ---------------------------------------------------------------------------------- */

/* An E.164 number: '+', then 8 to 15 digits, the first not 0. For the four market prefixes the
 * national number length is checked too: +254, +255 and +260 take 9 digits after the prefix,
 * +265 takes 9 (mobile) or 7 (fixed line). */
kito_err kito_validate_phone(const char *field, const char *s, kito_verr *ve);

/* The ISO 3166 alpha-2 country of a market phone number by its prefix: "KE" (+254), "TZ" (+255),
 * "ZM" (+260), "MW" (+265); NULL for any other or malformed number. Static storage. */
const char *kito_validate_phone_country(const char *e164);

/* A miner's PIN: 4 to 6 ASCII digits that follow none of the patterns attackers try first
 * (kito_secrets_pin_weakness, api/common/secrets.h: 0000, 1234, 1212, 1122, 2000, 0007, 0042...).
 */
kito_err kito_validate_pin(const char *field, const char *s, kito_verr *ve);

/* A pragmatic e-mail address: at most 254 bytes, valid UTF-8, exactly one '@', a local part of 1
 * to 64 bytes, a domain with a '.' that neither starts nor ends with '.' or '-' nor holds "..",
 * and no whitespace, control characters or any of ()<>[]\,;:" anywhere. */
kito_err kito_validate_email(const char *field, const char *s, kito_verr *ve);

/* A password: valid UTF-8 of 8 to 128 bytes, not one of the most common passwords whatever its
 * case (kito_secrets_password_common, api/common/secrets.h). */
kito_err kito_validate_password(const char *field, const char *s, kito_verr *ve);

/* ---- codes ----------------------------------------------------------------------------------- */

/* An ISO 4217 code Kito trades in: USD, KES, TZS, ZMW, MWK, EUR or GBP. */
kito_err kito_validate_currency(const char *field, const char *s, kito_verr *ve);

/* A time zone of the IANA tz database ("Africa/Dar_es_Salaam", "UTC"): one to three segments of
 * letters, digits, '_', '+' and '-' (no "." or ".."), at most KITO_TIME_ZONE_MAX bytes, that
 * names a zone file under /usr/share/zoneinfo (Debian's tzdata, the same database browsers use).
 * Reads the file system (one stat), so not for the hot path. */
#define KITO_TIME_ZONE_MAX 64
kito_err kito_validate_time_zone(const char *field, const char *s, kito_verr *ve);

/* A stone's country of origin: KE, TZ, ZM or MW. */
kito_err kito_validate_origin_country(const char *field, const char *s, kito_verr *ve);

/* Any ISO 3166 alpha-2 shape: exactly two uppercase ASCII letters (buyers' and venues'
 * countries; the list of assigned codes is not checked). */
kito_err kito_validate_country(const char *field, const char *s, kito_verr *ve);

/* ---- numbers ----------------------------------------------------------------------------------
 */

/* Largest weight accepted: 1,000,000.00 ct, in hundredths. */
#define KITO_CARATS_MAX_HUNDREDTHS 100000000LL
/* Largest amount accepted: 10^15 minor units (below 2^53, so canonical JSON carries it). */
#define KITO_AMOUNT_MAX 1000000000000000LL

/* A weight in carats written as a decimal string: digits, optionally '.' and one or two digits;
 * no sign, exponent, spaces, or leading zeros ("0.5" yes, "00.5" and ".5" no). Must be above zero
 * and at most KITO_CARATS_MAX_HUNDREDTHS. On success *hundredths = carats * 100 exactly. */
kito_err kito_validate_carats_text(const char *field, const char *s, int64_t *hundredths,
                                   kito_verr *ve);

/* A weight from JSON: a string (as kito_validate_carats_text), an integer (whole carats), or a
 * real. jansson has already turned a real into a double, so its text is rebuilt as the shortest
 * decimal that reads back as the same double (exact for up to 15 significant digits, which covers
 * every valid weight) and then parsed as text; 1.005 is refused, 1.10 gives 110. Reals that print
 * in exponent form (1e6) are refused. Needs LC_NUMERIC to be "C" (the default; kitod never calls
 * setlocale). */
kito_err kito_validate_carats(const char *field, const json_t *v, int64_t *hundredths,
                              kito_verr *ve);

/* A JSON integer with min <= value <= max. Reals (even 5.0), strings and booleans are refused. */
kito_err kito_validate_int(const char *field, const json_t *v, int64_t min, int64_t max,
                           int64_t *out, kito_verr *ve);

/* A money amount from JSON: an integer count of minor units, 1..KITO_AMOUNT_MAX. */
kito_err kito_validate_amount(const char *field, const json_t *v, int64_t *minor, kito_verr *ve);

/* A money amount from text (query strings): ASCII digits without sign or leading zeros, parsed
 * with overflow checks, 1..KITO_AMOUNT_MAX. */
kito_err kito_validate_amount_text(const char *field, const char *s, int64_t *minor, kito_verr *ve);

/* A rate in basis points from JSON: an integer 0..10000. */
kito_err kito_validate_bps(const char *field, const json_t *v, int32_t *bps, kito_verr *ve);

/* ---- time ------------------------------------------------------------------------------------ */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" and a NUL fit in this. */
#define KITO_TIME_SIZE 32
/* Accepted range: 1970-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z. */
#define KITO_TIME_MAX_MS 253402300799999LL

/* An RFC 3339 UTC timestamp, "2026-11-27T15:00:00Z" or with 1 to 9 fractional digits
 * ("...:00.5Z"), uppercase 'T' and 'Z' only, no offsets, no leap second, within the accepted range.
 * *ms gets milliseconds since the Unix epoch; digits beyond milliseconds are dropped. */
kito_err kito_validate_time(const char *field, const char *s, int64_t *ms, kito_verr *ve);

/* Formats ms since the epoch as "2026-11-27T15:00:00Z", or with exactly three fractional digits
 * ("...:00.250Z") when ms is not a whole second. KITO_E_VALIDATION if ms is outside the accepted
 * range (out is then ""). */
kito_err kito_time_format(int64_t ms, char out[KITO_TIME_SIZE]);

/* ---- ids ------------------------------------------------------------------------------------- */

/* Public ids are opaque strings that map one-to-one onto BIGINT UNSIGNED keys:
 *     <prefix> "_" <13 characters of Crockford base32, lowercase>
 * e.g. lot 1 is "lot_0000000000001". The 13 characters carry the 64-bit key big-endian (65 bits,
 * so the first character is at most 'f'); fixed width keeps string order equal to key order. The
 * prefix names the kind, so an account id given where a lot id belongs is refused. Key 0 is never
 * an id (AUTO_INCREMENT starts at 1). Exactly one string maps to each key: uppercase, the
 * ambiguous letters i l o u, other lengths and other prefixes are refused. */
#define KITO_ID_PREFIX_MAX 8
#define KITO_ID_DIGITS 13
#define KITO_ID_SIZE (KITO_ID_PREFIX_MAX + 1 + KITO_ID_DIGITS + 1)

#define KITO_ID_ACCOUNT "acc"
#define KITO_ID_ASSOCIATION "asn"
#define KITO_ID_SESSION "ses"
#define KITO_ID_STONE "stn"
#define KITO_ID_PHOTO "pho"
#define KITO_ID_CERTIFICATE "crt"
#define KITO_ID_EVENT "evt"
#define KITO_ID_SALE "sal"
#define KITO_ID_LOT "lot"

/* Writes the id of key under prefix (1 to 8 lowercase ASCII letters) into out. KITO_E_VALIDATION
 * if the prefix is malformed or key is 0; KITO_E_CAPACITY if out_size is too small (out is then ""
 * when out_size > 0). */
kito_err kito_id_format(const char *prefix, uint64_t key, char *out, size_t out_size);

/* Reads an id made by kito_id_format with the same prefix into *key. KITO_E_VALIDATION for any
 * other string (including the right shape with another prefix). */
kito_err kito_id_parse(const char *prefix, const char *s, uint64_t *key);

/* kito_id_parse with a message naming field ("must be a lot id like lot_0000000000001"). */
kito_err kito_validate_id(const char *field, const char *prefix, const char *s, uint64_t *key,
                          kito_verr *ve);

/* ---- request bodies: api/http/json.h parses them (kito_json_parse); the shapes are checked here
 * ----
 */

/* The JSON type a field must have. */
typedef enum kito_ftype {
    KITO_FT_STRING,  /* one-line text: UTF-8, code-point length bounds, no control characters */
    KITO_FT_TEXT,    /* as STRING, and line feeds, carriage returns and tabs are allowed */
    KITO_FT_INTEGER, /* a JSON integer (no reals) */
    KITO_FT_BOOL,    /* true or false */
    KITO_FT_DECIMAL, /* a JSON number or a string: a weight, checked by kito_validate_carats */
    KITO_FT_OBJECT,  /* an object checked against shape */
    KITO_FT_ARRAY,   /* an array of item, at most max elements */
} kito_ftype;

struct kito_shape;

/* One allowed member of an object. */
typedef struct kito_field {
    const char *name;               /* member name */
    kito_ftype type;                /* what its value must be */
    bool required;                  /* absent (or null) is refused */
    bool nullable;                  /* null is accepted and means absent */
    uint32_t min;                   /* STRING/TEXT: fewest code points; ARRAY: fewest elements */
    uint32_t max;                   /* STRING/TEXT: most code points (0 = 200);
                                       ARRAY: most elements (0 = 100) */
    kito_ftype item;                /* ARRAY: the type of each element */
    const struct kito_shape *shape; /* OBJECT, or ARRAY of OBJECT: the members of the nested
                                       object(s) */
} kito_field;

/* The members an object may have. */
typedef struct kito_shape {
    const kito_field *fields;
    size_t count;
} kito_shape;

/* Nesting deeper than this (objects in arrays in objects...) is refused. */
#define KITO_SHAPE_MAX_DEPTH 8

/* Checks obj against shape in one call: obj is an object; each member is named in shape (unknown
 * members are refused, by name); each has its type and bounds (nested shapes recursively); every
 * required member is present and not null. KITO_E_VALIDATION at the first problem (unknown
 * members are reported before anything else), with ve->field a path such as
 * "measurements.length_mm" or "ladder[1].step_minor". Values are only type-checked here; ranges and
 * formats of particular fields (phone, amount, time...) are checked by the validators above. obj is
 * borrowed. */
kito_err kito_validate_object(const json_t *obj, const kito_shape *shape, kito_verr *ve);

#endif
