#include "api/common/crypto.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* OWASP-equivalent scrypt cost, measured: api/common/crypto.h */
const kito_scrypt_params kito_scrypt_default = {.n = 16384, .r = 8, .p = 5};
const kito_scrypt_params kito_scrypt_test = {.n = 1024, .r = 8, .p = 1};

struct kito_signer {
    EVP_PKEY *pkey;
    uint8_t pub[KITO_ED25519_PUB_LEN];
    char key_id[KITO_KEY_ID_SIZE];
};

/* OpenSSL keeps a per-thread error queue; we report through kito_err, so drop what it queued
 * rather than let a later, unrelated caller find it. */
static kito_err ossl_fail(kito_err err)
{
    ERR_clear_error();
    return err;
}

/* ---- random, SHA-256, hex -------------------------------------------------------------------- */

kito_err kito_crypto_random(void *buf, size_t len)
{
    assert(buf != NULL || len == 0);
    while (len > 0) {
        int chunk = len > (1u << 20) ? (1 << 20) : (int)len;
        if (RAND_bytes(buf, chunk) != 1)
            return ossl_fail(KITO_E_INTERNAL);
        buf = (uint8_t *)buf + chunk;
        len -= (size_t)chunk;
    }
    return KITO_OK;
}

/* SHA-256 fetched once for the process: given EVP_sha256(), OpenSSL 3 fetches the algorithm from
 * its provider store on every EVP_Digest (in kitod's bid path the fetch took ~95% of a bearer
 * token's digest). NULL if the fetch failed; then EVP_sha256() is used. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* Each thread's digest context, made at its first digest and freed when the thread exits: a
 * one-shot EVP_Digest makes and frees one per call (every bid digests its bearer token and its
 * Idempotency-Key: ~40% of each digest's time went to that). */
static pthread_key_t sha256_ctx_key;
static bool sha256_ctx_key_ok;

static void sha256_ctx_free(void *ctx)
{
    EVP_MD_CTX_free(ctx);
}

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    ERR_clear_error();
    sha256_ctx_key_ok = pthread_key_create(&sha256_ctx_key, sha256_ctx_free) == 0;
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md != NULL ? sha256_md : EVP_sha256();
}

/* This thread's context, or NULL (then a one-shot digest is used). */
static EVP_MD_CTX *sha256_ctx(void)
{
    if (!sha256_ctx_key_ok)
        return NULL;
    EVP_MD_CTX *ctx = pthread_getspecific(sha256_ctx_key);
    if (ctx == NULL && (ctx = EVP_MD_CTX_new()) != NULL &&
        pthread_setspecific(sha256_ctx_key, ctx) != 0) {
        EVP_MD_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

kito_err kito_crypto_sha256(const void *data, size_t len, uint8_t out[KITO_SHA256_LEN])
{
    static const uint8_t empty[1];
    unsigned int n = 0;
    if (data == NULL) {
        assert(len == 0);
        data = empty;
    }
    const EVP_MD *md = sha256();
    EVP_MD_CTX *ctx = sha256_ctx();
    int ok = ctx != NULL ? EVP_DigestInit_ex2(ctx, md, NULL) == 1 &&
                               EVP_DigestUpdate(ctx, data, len) == 1 &&
                               EVP_DigestFinal_ex(ctx, out, &n) == 1
                         : EVP_Digest(data, len, out, &n, md, NULL) == 1;
    if (!ok || n != KITO_SHA256_LEN)
        return ossl_fail(KITO_E_INTERNAL);
    return KITO_OK;
}

struct kito_hmac {
    EVP_MAC_CTX *ctx; /* keyed once; EVP_MAC_init with no key starts a new message */
};

kito_err kito_hmac_new(const void *key, size_t len, kito_hmac **out)
{
    static const uint8_t empty[1];
    *out = NULL;
    kito_hmac *h = calloc(1, sizeof(*h));
    if (h == NULL)
        return KITO_E_NOMEM;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    h->ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                           OSSL_PARAM_construct_end()};
    if (h->ctx == NULL || EVP_MAC_init(h->ctx, len > 0 ? key : empty, len, params) != 1) {
        kito_hmac_free(h);
        return ossl_fail(KITO_E_INTERNAL);
    }
    *out = h;
    return KITO_OK;
}

kito_err kito_hmac_sha256(kito_hmac *h, const void *msg, size_t len, uint8_t out[KITO_SHA256_LEN])
{
    size_t n = 0;
    assert(msg != NULL || len == 0);
    if (EVP_MAC_init(h->ctx, NULL, 0, NULL) != 1 ||
        (len > 0 && EVP_MAC_update(h->ctx, msg, len) != 1) ||
        EVP_MAC_final(h->ctx, out, &n, KITO_SHA256_LEN) != 1 || n != KITO_SHA256_LEN)
        return ossl_fail(KITO_E_INTERNAL);
    return KITO_OK;
}

void kito_hmac_free(kito_hmac *h)
{
    if (h == NULL)
        return;
    EVP_MAC_CTX_free(h->ctx); /* (the HMAC provider cleanses its key schedule) */
    free(h);
}

void kito_crypto_hex(const void *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

kito_err kito_crypto_sha256_hex(const void *data, size_t len, char out[KITO_SHA256_HEX_SIZE])
{
    uint8_t md[KITO_SHA256_LEN];
    kito_err err = kito_crypto_sha256(data, len, md);
    if (err != KITO_OK)
        return err;
    kito_crypto_hex(md, sizeof(md), out);
    return KITO_OK;
}

/* ---- base64 ---------------------------------------------------------------------------------- */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t kito_crypto_b64_len(kito_b64 variant, size_t n)
{
    if (variant == KITO_B64_STD)
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

kito_err kito_crypto_b64_encode(kito_b64 variant, const void *in, size_t n, char *out,
                                size_t out_size)
{
    const char *alpha = variant == KITO_B64_STD ? b64_std : b64_url;
    const uint8_t *p = in;
    if (n > (SIZE_MAX / 4) * 3 - 3 || out_size < kito_crypto_b64_len(variant, n) + 1) {
        if (out_size > 0)
            out[0] = '\0';
        return KITO_E_CAPACITY;
    }
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        if (variant == KITO_B64_STD) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = alpha[v >> 18];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (variant == KITO_B64_STD)
            out[o++] = '=';
    }
    assert(o == kito_crypto_b64_len(variant, n));
    out[o] = '\0';
    return KITO_OK;
}

static int b64_value(kito_b64 variant, char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (variant == KITO_B64_STD)
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

kito_err kito_crypto_b64_decode(kito_b64 variant, const char *text, size_t len, uint8_t *out,
                                size_t out_size, size_t *out_len)
{
    size_t body = len;
    *out_len = 0;
    if (variant == KITO_B64_STD) {
        if (len % 4 != 0)
            return KITO_E_VALIDATION;
        if (len > 0 && text[len - 1] == '=')
            body--;
        if (len > 1 && text[len - 2] == '=')
            body--;
    } else if (len % 4 == 1) {
        return KITO_E_VALIDATION;
    }
    size_t rem = body % 4;
    if (rem == 1)
        return KITO_E_VALIDATION;
    size_t need = body / 4 * 3 + (rem == 0 ? 0 : rem - 1);
    if (need > out_size)
        return KITO_E_CAPACITY;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < body; i++) {
        int v = b64_value(variant, text[i]);
        if (v < 0)
            return KITO_E_VALIDATION;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Canonical form only: the bits left over after the last byte must be zero. */
    if (acc != 0)
        return KITO_E_VALIDATION;
    assert(o == need);
    *out_len = o;
    return KITO_OK;
}

/* ---- scrypt ---------------------------------------------------------------------------------- */

static bool scrypt_params_ok(const kito_scrypt_params *p)
{
    if (p->n < KITO_SCRYPT_N_MIN || p->n > KITO_SCRYPT_N_MAX || (p->n & (p->n - 1)) != 0)
        return false;
    if (p->r < 1 || p->r > 16 || p->p < 1 || p->p > 16)
        return false;
    return 128u * p->r * p->n <= KITO_SCRYPT_MAXMEM;
}

kito_err kito_crypto_scrypt(const void *pw, size_t pw_len, const void *salt, size_t salt_len,
                            const kito_scrypt_params *params, uint8_t *out, size_t out_len)
{
    if (!scrypt_params_ok(params) || out_len == 0 || out_len > 64 || pw_len > KITO_SECRET_MAX_LEN ||
        salt_len > 64)
        return KITO_E_VALIDATION;
    static const char empty[1];
    /* Room for the working memory plus the p * 128 * r byte B buffer. */
    uint64_t maxmem = 128u * params->r * (params->n + 2) + 128u * params->r * params->p + 4096;
    uint32_t r = params->r, p = params->p;
    uint64_t n = params->n;
    kito_err err = KITO_E_INTERNAL;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx == NULL)
        goto out;
    OSSL_PARAM op[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
                                          (void *)(pw_len > 0 ? pw : empty), pw_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
                                          (void *)(salt_len > 0 ? salt : empty), salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(kctx, out, out_len, op) == 1)
        err = KITO_OK;
out:
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return err == KITO_OK ? err : ossl_fail(err);
}

kito_err kito_crypto_secret_hash(const char *secret, size_t secret_len,
                                 const kito_scrypt_params *params, char *out, size_t out_size)
{
    uint8_t salt[KITO_SECRET_SALT_LEN], hash[KITO_SECRET_HASH_LEN];
    char salt_b64[32], hash_b64[48];
    if (params == NULL)
        params = &kito_scrypt_default;
    if (out_size > 0)
        out[0] = '\0';
    if (secret_len > KITO_SECRET_MAX_LEN || !scrypt_params_ok(params))
        return KITO_E_VALIDATION;
    kito_err err = kito_crypto_random(salt, sizeof(salt));
    if (err == KITO_OK)
        err =
            kito_crypto_scrypt(secret, secret_len, salt, sizeof(salt), params, hash, sizeof(hash));
    if (err != KITO_OK)
        goto out;
    kito_crypto_b64_encode(KITO_B64_STD, salt, sizeof(salt), salt_b64, sizeof(salt_b64));
    kito_crypto_b64_encode(KITO_B64_STD, hash, sizeof(hash), hash_b64, sizeof(hash_b64));
    int n = snprintf(out, out_size, "scrypt$N=%" PRIu64 ",r=%" PRIu32 ",p=%" PRIu32 "$%s$%s",
                     params->n, params->r, params->p, salt_b64, hash_b64);
    if (n < 0 || (size_t)n >= out_size) {
        if (out_size > 0)
            out[0] = '\0';
        err = KITO_E_CAPACITY;
    }
out:
    OPENSSL_cleanse(hash, sizeof(hash));
    return err;
}

/* Reads a decimal number without sign or leading zeros, up to max, ending at a given character. */
static bool parse_uint_until(const char **s, char end, uint64_t max, uint64_t *out)
{
    const char *p = *s;
    uint64_t v = 0;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > max)
            return false;
    }
    if (*p != end)
        return false;
    *out = v;
    *s = p + 1;
    return true;
}

/* Splits a stored form into its parameters, salt and hash; false if anything is off. */
static bool secret_parse(const char *stored, kito_scrypt_params *params,
                         uint8_t salt[KITO_SECRET_SALT_LEN], uint8_t hash[KITO_SECRET_HASH_LEN])
{
    static const char scheme[] = "scrypt$N=";
    uint64_t n, r, p;
    size_t got;
    if (stored == NULL || strnlen(stored, KITO_SECRET_STORED_SIZE) >= KITO_SECRET_STORED_SIZE)
        return false;
    if (strncmp(stored, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *s = stored + sizeof(scheme) - 1;
    if (!parse_uint_until(&s, ',', KITO_SCRYPT_N_MAX, &n) || strncmp(s, "r=", 2) != 0)
        return false;
    s += 2;
    if (!parse_uint_until(&s, ',', 16, &r) || strncmp(s, "p=", 2) != 0)
        return false;
    s += 2;
    if (!parse_uint_until(&s, '$', 16, &p))
        return false;
    *params = (kito_scrypt_params){.n = n, .r = (uint32_t)r, .p = (uint32_t)p};
    if (!scrypt_params_ok(params))
        return false;
    const char *dollar = strchr(s, '$');
    if (dollar == NULL)
        return false;
    if (kito_crypto_b64_decode(KITO_B64_STD, s, (size_t)(dollar - s), salt, KITO_SECRET_SALT_LEN,
                               &got) != KITO_OK ||
        got != KITO_SECRET_SALT_LEN)
        return false;
    s = dollar + 1;
    if (kito_crypto_b64_decode(KITO_B64_STD, s, strlen(s), hash, KITO_SECRET_HASH_LEN, &got) !=
            KITO_OK ||
        got != KITO_SECRET_HASH_LEN)
        return false;
    return true;
}

kito_err kito_crypto_secret_verify(const char *secret, size_t secret_len, const char *stored,
                                   bool *match)
{
    kito_scrypt_params params;
    uint8_t salt[KITO_SECRET_SALT_LEN], want[KITO_SECRET_HASH_LEN], got[KITO_SECRET_HASH_LEN];
    *match = false;
    if (!secret_parse(stored, &params, salt, want))
        return KITO_E_INTERNAL;
    /* Too long to be a secret we hashed: still spend the time, so length does not show. */
    bool too_long = secret_len > KITO_SECRET_MAX_LEN;
    kito_err err = kito_crypto_scrypt(secret, too_long ? 0 : secret_len, salt, sizeof(salt),
                                      &params, got, sizeof(got));
    if (err == KITO_OK)
        *match = !too_long && CRYPTO_memcmp(got, want, sizeof(got)) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return err;
}

bool kito_crypto_secret_needs_rehash(const char *stored, const kito_scrypt_params *params)
{
    kito_scrypt_params have;
    uint8_t salt[KITO_SECRET_SALT_LEN], hash[KITO_SECRET_HASH_LEN];
    if (params == NULL)
        params = &kito_scrypt_default;
    if (!secret_parse(stored, &have, salt, hash))
        return false;
    return have.n != params->n || have.r != params->r || have.p != params->p;
}

/* ---- session tokens -------------------------------------------------------------------------- */

kito_err kito_crypto_token_new(char out[KITO_TOKEN_SIZE])
{
    uint8_t raw[KITO_TOKEN_BYTES];
    out[0] = '\0';
    kito_err err = kito_crypto_random(raw, sizeof(raw));
    if (err == KITO_OK)
        err = kito_crypto_b64_encode(KITO_B64_URL, raw, sizeof(raw), out, KITO_TOKEN_SIZE);
    OPENSSL_cleanse(raw, sizeof(raw));
    return err;
}

kito_err kito_crypto_token_digest(const char *token, char out[KITO_SHA256_HEX_SIZE])
{
    uint8_t raw[KITO_TOKEN_BYTES];
    size_t n;
    out[0] = '\0';
    if (token == NULL || strnlen(token, KITO_TOKEN_SIZE) != KITO_TOKEN_LEN)
        return KITO_E_UNAUTHORIZED;
    if (kito_crypto_b64_decode(KITO_B64_URL, token, KITO_TOKEN_LEN, raw, sizeof(raw), &n) !=
            KITO_OK ||
        n != KITO_TOKEN_BYTES)
        return KITO_E_UNAUTHORIZED;
    OPENSSL_cleanse(raw, sizeof(raw));
    return kito_crypto_sha256_hex(token, KITO_TOKEN_LEN, out);
}

/* ---- Ed25519 --------------------------------------------------------------------------------- */

/* Takes ownership of pkey (freed on failure too). */
static kito_err signer_wrap(EVP_PKEY *pkey, kito_signer **out)
{
    uint8_t md[KITO_SHA256_LEN];
    size_t len = KITO_ED25519_PUB_LEN;
    *out = NULL;
    if (pkey == NULL)
        return ossl_fail(KITO_E_INTERNAL);
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return ossl_fail(KITO_E_CONFIG);
    }
    kito_signer *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        EVP_PKEY_free(pkey);
        return KITO_E_NOMEM;
    }
    s->pkey = pkey;
    if (EVP_PKEY_get_raw_public_key(pkey, s->pub, &len) != 1 || len != KITO_ED25519_PUB_LEN ||
        kito_crypto_sha256(s->pub, sizeof(s->pub), md) != KITO_OK) {
        kito_crypto_signer_free(s);
        return ossl_fail(KITO_E_INTERNAL);
    }
    kito_crypto_hex(md, (KITO_KEY_ID_SIZE - 1) / 2, s->key_id);
    *out = s;
    return KITO_OK;
}

kito_err kito_crypto_signer_generate(kito_signer **out)
{
    return signer_wrap(EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), out);
}

kito_err kito_crypto_signer_from_seed(const uint8_t seed[32], kito_signer **out)
{
    return signer_wrap(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32), out);
}

void kito_crypto_signer_free(kito_signer *signer)
{
    if (signer == NULL)
        return;
    EVP_PKEY_free(signer->pkey); /* OpenSSL wipes private key material when it frees it */
    OPENSSL_cleanse(signer, sizeof(*signer));
    free(signer);
}

static kito_err signer_create_file(const char *path, kito_signer **out)
{
    kito_err err = kito_crypto_signer_generate(out);
    if (err != KITO_OK)
        return err;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = KITO_E_IO;
        goto fail;
    }
    FILE *f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        err = KITO_E_IO;
        goto fail_unlink;
    }
    int ok = PEM_write_PrivateKey(f, (*out)->pkey, NULL, NULL, 0, NULL, NULL);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        ok = 0;
    if (fclose(f) != 0 || ok != 1) {
        err = ossl_fail(KITO_E_IO);
        goto fail_unlink;
    }
    return KITO_OK;
fail_unlink:
    unlink(path);
fail:
    kito_crypto_signer_free(*out);
    *out = NULL;
    return err;
}

kito_err kito_crypto_signer_load_or_create(const char *path, kito_signer **out, bool *created)
{
    struct stat st;
    *out = NULL;
    if (created != NULL)
        *created = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT)
            return KITO_E_IO;
        kito_err err = signer_create_file(path, out);
        if (err == KITO_OK && created != NULL)
            *created = true;
        return err;
    }
    if (fstat(fd, &st) != 0) {
        close(fd);
        return KITO_E_IO;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 077) != 0) {
        close(fd);
        return KITO_E_CONFIG;
    }
    FILE *f = fdopen(fd, "r");
    if (f == NULL) {
        close(fd);
        return KITO_E_IO;
    }
    /* The empty passphrase callback refuses encrypted keys instead of prompting on a tty. */
    EVP_PKEY *pkey = PEM_read_PrivateKey(f, NULL, NULL, (void *)"");
    fclose(f);
    if (pkey == NULL)
        return ossl_fail(KITO_E_CONFIG);
    return signer_wrap(pkey, out);
}

const char *kito_crypto_signer_key_id(const kito_signer *signer)
{
    return signer->key_id;
}

const uint8_t *kito_crypto_signer_public_raw(const kito_signer *signer)
{
    return signer->pub;
}

void kito_crypto_signer_public_b64(const kito_signer *signer, char out[KITO_ED25519_PUB_B64_SIZE])
{
    kito_err err = kito_crypto_b64_encode(KITO_B64_STD, signer->pub, sizeof(signer->pub), out,
                                          KITO_ED25519_PUB_B64_SIZE);
    assert(err == KITO_OK);
    (void)err;
}

kito_err kito_crypto_signer_public_pem(const kito_signer *signer, char *out, size_t out_size)
{
    kito_err err = KITO_E_INTERNAL;
    char *data;
    if (out_size > 0)
        out[0] = '\0';
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio == NULL || PEM_write_bio_PUBKEY(bio, signer->pkey) != 1)
        goto out;
    long len = BIO_get_mem_data(bio, &data);
    if (len <= 0)
        goto out;
    if ((size_t)len >= out_size) {
        err = KITO_E_CAPACITY;
        goto out;
    }
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    err = KITO_OK;
out:
    BIO_free(bio);
    return err == KITO_OK || err == KITO_E_CAPACITY ? err : ossl_fail(err);
}

kito_err kito_crypto_sign(const kito_signer *signer, const void *msg, size_t len,
                          char out[KITO_ED25519_SIG_B64_SIZE])
{
    static const uint8_t empty[1];
    uint8_t sig[KITO_ED25519_SIG_LEN];
    size_t sig_len = sizeof(sig);
    kito_err err = KITO_E_INTERNAL;
    out[0] = '\0';
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        goto out;
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, signer->pkey) != 1 ||
        EVP_DigestSign(ctx, sig, &sig_len, len > 0 ? msg : empty, len) != 1 ||
        sig_len != KITO_ED25519_SIG_LEN)
        goto out;
    err = kito_crypto_b64_encode(KITO_B64_STD, sig, sig_len, out, KITO_ED25519_SIG_B64_SIZE);
out:
    EVP_MD_CTX_free(ctx);
    return err == KITO_OK ? err : ossl_fail(err);
}

/* Verifies with a public key; does not take ownership of pkey. */
static kito_err verify_with(EVP_PKEY *pkey, const void *msg, size_t len, const char *sig_b64,
                            bool *valid)
{
    static const uint8_t empty[1];
    uint8_t sig[KITO_ED25519_SIG_LEN];
    size_t sig_len;
    *valid = false;
    if (sig_b64 == NULL ||
        kito_crypto_b64_decode(KITO_B64_STD, sig_b64, strnlen(sig_b64, 128), sig, sizeof(sig),
                               &sig_len) != KITO_OK ||
        sig_len != KITO_ED25519_SIG_LEN)
        return KITO_OK;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return ossl_fail(KITO_E_NOMEM);
    kito_err err = KITO_E_INTERNAL;
    if (EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1) {
        /* 1 genuine, 0 not; OpenSSL may also report a malformed signature as an error. */
        *valid = EVP_DigestVerify(ctx, sig, sig_len, len > 0 ? msg : empty, len) == 1;
        err = KITO_OK;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return err;
}

kito_err kito_crypto_verify_b64(const char *pub_b64, const void *msg, size_t len,
                                const char *sig_b64, bool *valid)
{
    uint8_t pub[KITO_ED25519_PUB_LEN];
    size_t pub_len;
    *valid = false;
    if (pub_b64 == NULL ||
        kito_crypto_b64_decode(KITO_B64_STD, pub_b64, strnlen(pub_b64, 64), pub, sizeof(pub),
                               &pub_len) != KITO_OK ||
        pub_len != KITO_ED25519_PUB_LEN)
        return KITO_E_VALIDATION;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, sizeof(pub));
    if (pkey == NULL)
        return ossl_fail(KITO_E_VALIDATION);
    kito_err err = verify_with(pkey, msg, len, sig_b64, valid);
    EVP_PKEY_free(pkey);
    return err;
}

kito_err kito_crypto_verify_pem(const char *pub_pem, const void *msg, size_t len,
                                const char *sig_b64, bool *valid)
{
    *valid = false;
    if (pub_pem == NULL)
        return KITO_E_VALIDATION;
    size_t pem_len = strnlen(pub_pem, 4096);
    BIO *bio = BIO_new_mem_buf(pub_pem, (int)pem_len);
    if (bio == NULL)
        return ossl_fail(KITO_E_NOMEM);
    EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (pkey == NULL || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(pkey);
        return ossl_fail(KITO_E_VALIDATION);
    }
    kito_err err = verify_with(pkey, msg, len, sig_b64, valid);
    EVP_PKEY_free(pkey);
    return err;
}
