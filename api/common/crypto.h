/*
 * Kito cryptography: secret hashing (scrypt), session tokens, Ed25519 certificate signing,
 * SHA-256 and base64. OpenSSL 3 only; no other dependency.
 *
 * Every function here is safe to call from any thread at the same time, except where a comment
 * says otherwise: a kito_signer is read-only after it is created and may be shared by threads.
 * Functions never print; failures come back as kito_err and the OpenSSL error queue is cleared.
 */
#ifndef KITO_CRYPTO_H
#define KITO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* ---- random bytes, SHA-256, base64 ---------------------------------------------------------- */

#define KITO_SHA256_LEN 32
/* 64 lowercase hex digits and a NUL. */
#define KITO_SHA256_HEX_SIZE 65

/* Fills buf with len bytes from the OpenSSL CSPRNG (RAND_bytes). KITO_E_INTERNAL if the
 * generator failed (never returns weak bytes). */
kito_err kito_crypto_random(void *buf, size_t len);

/* SHA-256 of len bytes at data (data may be NULL when len is 0) into out. KITO_E_INTERNAL on an
 * OpenSSL failure. */
kito_err kito_crypto_sha256(const void *data, size_t len, uint8_t out[KITO_SHA256_LEN]);

/* A keyed HMAC-SHA256, set up once and used many times: the key schedule and the algorithms are
 * prepared at kito_hmac_new (OpenSSL 3 otherwise looks HMAC and SHA-256 up in its provider store
 * on every one-shot HMAC() call, which cost more than the hashing in kitod's bid path). One
 * thread at a time per kito_hmac. */
typedef struct kito_hmac kito_hmac;

/* A new HMAC-SHA256 keyed with key[0..len). KITO_E_NOMEM or KITO_E_INTERNAL. */
kito_err kito_hmac_new(const void *key, size_t len, kito_hmac **out);

/* HMAC-SHA256(key, msg[0..len)) into out (msg may be NULL when len is 0). KITO_E_INTERNAL on an
 * OpenSSL failure. */
kito_err kito_hmac_sha256(kito_hmac *h, const void *msg, size_t len, uint8_t out[KITO_SHA256_LEN]);

/* Frees h (and clears its key schedule). Accepts NULL. */
void kito_hmac_free(kito_hmac *h);

/* SHA-256 of data as 64 lowercase hex digits and a NUL, written to out (photos are stored by it,
 * provenance events chain by it). KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_crypto_sha256_hex(const void *data, size_t len, char out[KITO_SHA256_HEX_SIZE]);

/* Writes n bytes as lowercase hex and a NUL into out (2n + 1 bytes). Never fails. */
void kito_crypto_hex(const void *in, size_t n, char *out);

/* The two base64 forms Kito uses (RFC 4648): section 4 standard alphabet with '=' padding (for
 * stored hashes, signatures and keys, so `base64 -d` reads them) and section 5 URL-safe alphabet
 * without padding (for tokens and cursors, which travel in headers and query strings). */
typedef enum kito_b64 {
    KITO_B64_STD, /* A-Z a-z 0-9 + /, padded with '=' */
    KITO_B64_URL  /* A-Z a-z 0-9 - _, no padding */
} kito_b64;

/* Length of the encoding of n bytes, without the NUL. */
size_t kito_crypto_b64_len(kito_b64 variant, size_t n);

/* Encodes n bytes into out as a NUL-terminated string. KITO_E_CAPACITY if out_size is smaller
 * than kito_crypto_b64_len(variant, n) + 1 (out is then set to "" when out_size > 0). */
kito_err kito_crypto_b64_encode(kito_b64 variant, const void *in, size_t n, char *out,
                                size_t out_size);

/* Decodes text[0..len) into out, storing the byte count in *out_len. Strict: only the variant's
 * alphabet, its padding rule, and canonical trailing bits are accepted, so every byte string has
 * exactly one accepted encoding. KITO_E_VALIDATION for anything else, KITO_E_CAPACITY if out_size
 * is too small. */
kito_err kito_crypto_b64_decode(kito_b64 variant, const char *text, size_t len, uint8_t *out,
                                size_t out_size, size_t *out_len);

/* ---- password and PIN hashing (scrypt) ------------------------------------------------------ */

/* scrypt cost: N (a power of two), r, p (RFC 7914). */
typedef struct kito_scrypt_params {
    uint64_t n; /* CPU/memory cost; memory is about 128 * r * n bytes */
    uint32_t r; /* block size */
    uint32_t p; /* parallelism (computed sequentially by OpenSSL) */
} kito_scrypt_params;

/* Production cost: N=16384, r=8, p=5 (issue 15, finding 10). OWASP's Password Storage Cheat Sheet
 * asks scrypt for at least N=2^17, r=8, p=1 (128 MiB) or one of the settings it lists as
 * equivalent: N=2^16 p=2, N=2^15 p=3, N=2^14 p=5, N=2^13 p=10. Measured on the 2-core development
 * VM (OpenSSL 3, one hash, other work running): N=2^14 p=1 (the old default) 51-65 ms;
 * N=2^17 p=1 470-900 ms and 128 MiB; N=2^16 p=2 400-790 ms, 64 MiB; N=2^15 p=3 280-960 ms,
 * 32 MiB; N=2^14 p=5 210-640 ms, 16 MiB; N=2^13 p=10 210-750 ms. N=2^14 p=5 meets OWASP at the
 * lowest time and memory: OpenSSL runs the p lanes one after the other in one 16 MiB block, so
 * KITO_MYSQL_WORKERS hashes at once still hold 16 MiB each. The price: a sign-in or registration
 * costs a MySQL worker about 0.2 s of CPU instead of 0.06 s. Hashes of another cost are upgraded
 * at the next successful sign-in (kito_crypto_secret_needs_rehash). */
extern const kito_scrypt_params kito_scrypt_default;
/* Cheap cost for unit tests only: N=1024, r=8, p=1 (1 MiB, ~5 ms). Verification reads the cost
 * from the stored string, so hashes made with it verify without passing it again. */
extern const kito_scrypt_params kito_scrypt_test;

/* Bounds enforced on every parameter set, including those read back from a stored hash (a damaged
 * or hostile row must not make the server allocate gigabytes): 2^10 <= N <= 2^20 and a power of
 * two, 1 <= r <= 16, 1 <= p <= 16, 128 * r * N <= 256 MiB. */
#define KITO_SCRYPT_N_MIN ((uint64_t)1 << 10)
#define KITO_SCRYPT_N_MAX ((uint64_t)1 << 20)
#define KITO_SCRYPT_MAXMEM ((uint64_t)256 * 1024 * 1024)

#define KITO_SECRET_SALT_LEN 16
#define KITO_SECRET_HASH_LEN 32
/* Enough for "scrypt$N=1048576,r=16,p=16$" + 24 + "$" + 44 and a NUL, rounded up. */
#define KITO_SECRET_STORED_SIZE 128
/* Secrets longer than this are refused before hashing (passwords are limited to 128 bytes by
 * validation; this is the crypto layer's own bound). */
#define KITO_SECRET_MAX_LEN 1024

/* Raw scrypt (RFC 7914) of pw with salt into out[0..out_len). KITO_E_VALIDATION if params are out
 * of the bounds above or out_len is 0 or above 64; KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_crypto_scrypt(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                            const kito_scrypt_params *params, uint8_t *out, size_t out_len);

/* Hashes a password or PIN with a fresh random 16-byte salt and writes the self-describing stored
 * form into out (KITO_SECRET_STORED_SIZE bytes):
 *     scrypt$N=16384,r=8,p=5$<base64 salt>$<base64 32-byte hash>
 * (standard base64 with padding). params NULL means kito_scrypt_default. KITO_E_VALIDATION if
 * secret_len > KITO_SECRET_MAX_LEN or params are out of bounds; KITO_E_CAPACITY if out_size is too
 * small; KITO_E_INTERNAL on an OpenSSL failure. Takes tens of milliseconds: never call it on an
 * event loop thread. */
kito_err kito_crypto_secret_hash(const char *secret, size_t secret_len,
                                 const kito_scrypt_params *params, char *out, size_t out_size);

/* Checks secret against a stored form made by kito_crypto_secret_hash, comparing in constant time
 * (CRYPTO_memcmp). On KITO_OK, *match says whether it matched. KITO_E_INTERNAL if the stored string
 * is malformed (unknown scheme, bad numbers, parameters out of bounds, wrong salt or hash length,
 * non-canonical base64) — *match is then false. Takes as long as a hash. */
kito_err kito_crypto_secret_verify(const char *secret, size_t secret_len, const char *stored,
                                   bool *match);

/* True when stored is well formed but was made with a cost other than params (NULL = default), so
 * the caller may rehash after a successful sign-in; false otherwise (including malformed input). */
bool kito_crypto_secret_needs_rehash(const char *stored, const kito_scrypt_params *params);

/* ---- session tokens ------------------------------------------------------------------------- */

#define KITO_TOKEN_BYTES 32
/* 43 characters of unpadded base64url and a NUL. */
#define KITO_TOKEN_LEN 43
#define KITO_TOKEN_SIZE 44

/* Makes a new session token: 32 bytes from RAND_bytes, base64url without padding, into out.
 * KITO_E_INTERNAL if the generator failed. The token is given to the client once and never
 * stored; store kito_crypto_token_digest of it instead. */
kito_err kito_crypto_token_new(char out[KITO_TOKEN_SIZE]);

/* The stored form of a token: SHA-256 of its 43 ASCII characters, as 64 lowercase hex digits.
 * KITO_E_UNAUTHORIZED if token is not exactly 43 base64url characters encoding 32 bytes (a
 * presented bearer token that cannot be ours), KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_crypto_token_digest(const char *token, char out[KITO_SHA256_HEX_SIZE]);

/* ---- Ed25519 signing ------------------------------------------------------------------------ */

#define KITO_ED25519_PUB_LEN 32
#define KITO_ED25519_SIG_LEN 64
/* Standard padded base64 sizes with the NUL: 44 + 1 and 88 + 1. */
#define KITO_ED25519_PUB_B64_SIZE 45
#define KITO_ED25519_SIG_B64_SIZE 89
/* Key id: the first 16 hex digits of SHA-256 of the raw public key, and a NUL. */
#define KITO_KEY_ID_SIZE 17
/* A public key PEM is 113 bytes; this leaves room. */
#define KITO_ED25519_PUB_PEM_SIZE 256

/* The platform's signing key: an Ed25519 private key and its derived public forms. Opaque;
 * read-only after creation, so threads may share one. Free with kito_crypto_signer_free. */
typedef struct kito_signer kito_signer;

/* Loads the PKCS#8 PEM private key at path, or, when path does not exist, generates a new key and
 * writes it there with mode 0600 (O_EXCL: never overwrites). *created (may be NULL) says which
 * happened. KITO_E_CONFIG if the file exists but is not an Ed25519 private key, or is readable or
 * writable by group or others (like ssh, a key others can read is refused); KITO_E_IO if it cannot
 * be read or written; KITO_E_NOMEM / KITO_E_INTERNAL on OpenSSL failures. On success *out owns a
 * new signer. */
kito_err kito_crypto_signer_load_or_create(const char *path, kito_signer **out, bool *created);

/* A signer with a fresh random key that lives only in memory (tests, tools). Errors as above. */
kito_err kito_crypto_signer_generate(kito_signer **out);

/* A signer from a raw 32-byte Ed25519 private key (RFC 8032 seed), for test vectors and key
 * import. KITO_E_INTERNAL if OpenSSL refuses it. */
kito_err kito_crypto_signer_from_seed(const uint8_t seed[32], kito_signer **out);

/* Frees a signer and wipes its key; NULL is a no-op. */
void kito_crypto_signer_free(kito_signer *signer);

/* The key id (16 lowercase hex digits), stored beside each signature so keys can rotate.
 * Borrowed: valid while signer lives. */
const char *kito_crypto_signer_key_id(const kito_signer *signer);

/* The raw 32-byte public key. Borrowed: valid while signer lives. */
const uint8_t *kito_crypto_signer_public_raw(const kito_signer *signer);

/* The public key as standard padded base64 of its 32 raw bytes (44 characters). Never fails. */
void kito_crypto_signer_public_b64(const kito_signer *signer, char out[KITO_ED25519_PUB_B64_SIZE]);

/* The public key as an SPKI PEM ("-----BEGIN PUBLIC KEY-----"), the form `openssl pkeyutl -verify
 * -pubin` reads, NUL-terminated in out. KITO_E_CAPACITY if out_size is too small, KITO_E_INTERNAL
 * on an OpenSSL failure. */
kito_err kito_crypto_signer_public_pem(const kito_signer *signer, char *out, size_t out_size);

/* Signs msg[0..len) (pure Ed25519, no prehash) and writes the 64-byte signature as standard padded
 * base64 (88 characters) into out. KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_crypto_sign(const kito_signer *signer, const void *msg, size_t len,
                          char out[KITO_ED25519_SIG_B64_SIZE]);

/* Verifies a base64 signature (as made by kito_crypto_sign) of msg with a raw public key. On
 * KITO_OK *valid says whether the signature is genuine; a signature that is not canonical base64 of
 * 64 bytes is simply not valid. KITO_E_VALIDATION if pub_b64 is not base64 of 32 bytes or not a
 * usable key; KITO_E_INTERNAL on an OpenSSL failure. */
kito_err kito_crypto_verify_b64(const char *pub_b64, const void *msg, size_t len,
                                const char *sig_b64, bool *valid);

/* As kito_crypto_verify_b64, with the public key as an SPKI PEM string. KITO_E_VALIDATION if the
 * PEM does not hold an Ed25519 public key. */
kito_err kito_crypto_verify_pem(const char *pub_pem, const void *msg, size_t len,
                                const char *sig_b64, bool *valid);

#endif
