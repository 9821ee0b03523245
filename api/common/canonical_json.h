/*
 * Canonical JSON for signing (RFC 8785, JSON Canonicalization Scheme, restricted to integers).
 *
 * The bytes a certificate's signature covers must not depend on how the JSON was built or
 * printed. This module writes a jansson value in exactly one way:
 *   - object members sorted by their names compared as UTF-16 code units (RFC 8785 section
 *     3.2.3); for names made of ASCII or of characters below U+E000 this is the same as bytewise
 *     UTF-8 order;
 *   - no whitespace outside strings;
 *   - strings escaped minimally: only '"', '\\' and U+0000..U+001F, the latter as \b \t \n \f \r
 *     or \u00xx with lowercase hex; everything else, including '/', DEL and non-ASCII, verbatim;
 *   - true, false, null as literals;
 *   - integers in plain decimal, limited to the I-JSON safe range |n| <= 2^53 - 1 so that every
 *     JCS implementation (which read numbers as IEEE doubles) prints the same digits.
 * Reals are refused: weights are integer hundredths of a carat and money integer minor units.
 *
 * Stateless and thread-safe.
 */
#ifndef KITO_CANONICAL_JSON_H
#define KITO_CANONICAL_JSON_H

#include <stddef.h>

#include <jansson.h>

#include "engine/err.h"

/* Nesting deeper than this is refused (certificates are 3 levels deep). */
#define KITO_CANONICAL_MAX_DEPTH 32
/* Output longer than this is refused (the certificates column is a MEDIUMTEXT, 16 MiB). */
#define KITO_CANONICAL_MAX_BYTES ((size_t)1 << 20)
/* Largest integer magnitude accepted: 2^53 - 1. */
#define KITO_CANONICAL_INT_MAX 9007199254740991LL

/* Writes the canonical form of value into a new NUL-terminated buffer: *out (free with free())
 * and its length without the NUL in *out_len (may be NULL). On failure *out is NULL and:
 * KITO_E_VALIDATION if value holds a real, an integer outside +-(2^53 - 1), a string or member
 * name that is not valid UTF-8 (member names must not contain U+0000 either), or nesting deeper
 * than KITO_CANONICAL_MAX_DEPTH; KITO_E_CAPACITY if the output would exceed
 * KITO_CANONICAL_MAX_BYTES; KITO_E_NOMEM if allocation failed. value is borrowed. */
kito_err kito_canonical_json(const json_t *value, char **out, size_t *out_len);

/* Compares two UTF-8 strings (byte lengths given) as sequences of UTF-16 code units, the RFC 8785
 * member order: negative, zero or positive like strcmp. Both must be valid UTF-8 (unchecked). */
int kito_canonical_key_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

#endif
