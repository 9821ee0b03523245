#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/common/crypto.h"

static void unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
}

/* ---- SHA-256 ---- */

Test(sha256, known_vectors)
{
    char hex[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_crypto_sha256_hex(NULL, 0, hex), KITO_OK);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    cr_assert_eq(kito_crypto_sha256_hex("abc", 3, hex), KITO_OK);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* FIPS 180-2 two-block message */
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    cr_assert_eq(kito_crypto_sha256_hex(m, strlen(m), hex), KITO_OK);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* ---- base64 ---- */

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block), each twice through one keyed
 * context (every message starts afresh), and a message split nowhere vs HMAC() one-shot. */
Test(hmac, rfc4231_vectors_and_reuse)
{
    struct {
        const char *key_hex, *msg, *mac_hex;
    } v[] = {
        {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
        {"4a656665", "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t key[131], mac[KITO_SHA256_LEN], want[KITO_SHA256_LEN];
        size_t key_len;
        if (v[i].key_hex != NULL) {
            key_len = strlen(v[i].key_hex) / 2;
            unhex(v[i].key_hex, key);
        } else {
            key_len = sizeof(key);
            memset(key, 0xaa, sizeof(key));
        }
        unhex(v[i].mac_hex, want);
        kito_hmac *h = NULL;
        cr_assert_eq(kito_hmac_new(key, key_len, &h), KITO_OK);
        for (int round = 0; round < 2; round++) {
            memset(mac, 0, sizeof(mac));
            cr_assert_eq(kito_hmac_sha256(h, v[i].msg, strlen(v[i].msg), mac), KITO_OK);
            cr_assert_arr_eq(mac, want, sizeof(want), "vector %zu, round %d", i + 1, round);
        }
        kito_hmac_free(h);
    }
    kito_hmac_free(NULL);
}

Test(b64, rfc4648_vectors)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    char buf[32];
    uint8_t raw[32];
    size_t n;
    for (size_t i = 0; i < 7; i++) {
        cr_assert_eq(kito_crypto_b64_encode(KITO_B64_STD, in[i], strlen(in[i]), buf, sizeof(buf)),
                     KITO_OK);
        cr_assert_str_eq(buf, std[i]);
        cr_assert_eq(kito_crypto_b64_len(KITO_B64_STD, strlen(in[i])), strlen(std[i]));
        cr_assert_eq(kito_crypto_b64_encode(KITO_B64_URL, in[i], strlen(in[i]), buf, sizeof(buf)),
                     KITO_OK);
        cr_assert_str_eq(buf, url[i]);
        cr_assert_eq(kito_crypto_b64_len(KITO_B64_URL, strlen(in[i])), strlen(url[i]));
        cr_assert_eq(
            kito_crypto_b64_decode(KITO_B64_STD, std[i], strlen(std[i]), raw, sizeof(raw), &n),
            KITO_OK);
        cr_assert_eq(n, strlen(in[i]));
        cr_assert_eq(memcmp(raw, in[i], n), 0);
        cr_assert_eq(
            kito_crypto_b64_decode(KITO_B64_URL, url[i], strlen(url[i]), raw, sizeof(raw), &n),
            KITO_OK);
        cr_assert_eq(n, strlen(in[i]));
        cr_assert_eq(memcmp(raw, in[i], n), 0);
    }
}

Test(b64, alphabets_differ)
{
    const uint8_t bytes[] = {0xfb, 0xff, 0xbf};
    char buf[8];
    kito_crypto_b64_encode(KITO_B64_STD, bytes, 3, buf, sizeof(buf));
    cr_assert_str_eq(buf, "+/+/");
    kito_crypto_b64_encode(KITO_B64_URL, bytes, 3, buf, sizeof(buf));
    cr_assert_str_eq(buf, "-_-_");
}

Test(b64, refuses_non_canonical_and_foreign_input)
{
    uint8_t raw[16];
    size_t n;
    static const char *bad_std[] = {
        "Zg", "Zg=", "Zh==", "Zm9=", "Z===", "====", "Zm9v=", "Zm-v", "Zm_v", "Zm 9", "Zg=A", "A"};
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++)
        cr_assert_eq(kito_crypto_b64_decode(KITO_B64_STD, bad_std[i], strlen(bad_std[i]), raw,
                                            sizeof(raw), &n),
                     KITO_E_VALIDATION, "%s", bad_std[i]);
    static const char *bad_url[] = {"Zg==", "Zh", "Zm+v", "Zm/v", "A", "Zm9vY"};
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        cr_assert_eq(kito_crypto_b64_decode(KITO_B64_URL, bad_url[i], strlen(bad_url[i]), raw,
                                            sizeof(raw), &n),
                     KITO_E_VALIDATION, "%s", bad_url[i]);
}

Test(b64, capacity_is_checked)
{
    char small[4];
    uint8_t raw[2];
    size_t n;
    cr_assert_eq(kito_crypto_b64_encode(KITO_B64_STD, "foo", 3, small, sizeof(small)),
                 KITO_E_CAPACITY);
    cr_assert_str_eq(small, "");
    cr_assert_eq(kito_crypto_b64_decode(KITO_B64_STD, "Zm9v", 4, raw, sizeof(raw), &n),
                 KITO_E_CAPACITY);
}

/* ---- scrypt ---- */

Test(scrypt, rfc7914_vector)
{
    /* RFC 7914 section 12: scrypt("password", "NaCl", N=1024, r=8, p=16, dkLen=64) */
    uint8_t want[64], got[64];
    unhex("fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
          "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640",
          want);
    kito_scrypt_params p = {.n = 1024, .r = 8, .p = 16};
    cr_assert_eq(kito_crypto_scrypt("password", 8, "NaCl", 4, &p, got, sizeof(got)), KITO_OK);
    cr_assert_eq(memcmp(got, want, 64), 0);
}

Test(scrypt, refuses_out_of_bounds_parameters)
{
    uint8_t out[32];
    kito_scrypt_params bad[] = {
        {.n = 512, .r = 8, .p = 1},      {.n = 3000, .r = 8, .p = 1},
        {.n = 1u << 21, .r = 1, .p = 1}, {.n = 1024, .r = 0, .p = 1},
        {.n = 1024, .r = 17, .p = 1},    {.n = 1024, .r = 8, .p = 0},
        {.n = 1u << 20, .r = 4, .p = 1}, /* 512 MiB: above the memory bound */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_crypto_scrypt("pw", 2, "salt", 4, &bad[i], out, sizeof(out)),
                     KITO_E_VALIDATION, "case %zu", i);
    cr_assert_eq(kito_crypto_scrypt("pw", 2, "salt", 4, &kito_scrypt_test, out, 65),
                 KITO_E_VALIDATION);
}

Test(secret, hash_then_verify)
{
    char stored[KITO_SECRET_STORED_SIZE], again[KITO_SECRET_STORED_SIZE];
    bool match = true;
    cr_assert_eq(kito_crypto_secret_hash("4821", 4, &kito_scrypt_test, stored, sizeof(stored)),
                 KITO_OK);
    cr_assert_eq(strncmp(stored, "scrypt$N=1024,r=8,p=1$", 22), 0, "%s", stored);
    /* 22 + 24 (salt) + 1 + 44 (hash) */
    cr_assert_eq(strlen(stored), 91, "%s", stored);
    cr_assert_eq(kito_crypto_secret_verify("4821", 4, stored, &match), KITO_OK);
    cr_assert(match);
    cr_assert_eq(kito_crypto_secret_verify("4822", 4, stored, &match), KITO_OK);
    cr_assert_not(match);
    cr_assert_eq(kito_crypto_secret_verify("482", 3, stored, &match), KITO_OK);
    cr_assert_not(match);
    cr_assert_eq(kito_crypto_secret_verify("", 0, stored, &match), KITO_OK);
    cr_assert_not(match);
    /* a fresh salt each time */
    cr_assert_eq(kito_crypto_secret_hash("4821", 4, &kito_scrypt_test, again, sizeof(again)),
                 KITO_OK);
    cr_assert_str_neq(stored, again);
}

Test(secret, hash_refuses_small_buffer_and_long_secret)
{
    char stored[40];
    static char big[KITO_SECRET_MAX_LEN + 1];
    memset(big, 'x', sizeof(big));
    cr_assert_eq(kito_crypto_secret_hash("pw", 2, &kito_scrypt_test, stored, sizeof(stored)),
                 KITO_E_CAPACITY);
    cr_assert_str_eq(stored, "");
    char ok[KITO_SECRET_STORED_SIZE];
    cr_assert_eq(kito_crypto_secret_hash(big, sizeof(big), &kito_scrypt_test, ok, sizeof(ok)),
                 KITO_E_VALIDATION);
}

Test(secret, default_cost_verifies)
{
    char stored[KITO_SECRET_STORED_SIZE];
    bool match = false;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(kito_crypto_secret_hash("correct horse", 13, NULL, stored, sizeof(stored)),
                 KITO_OK);
    clock_gettime(CLOCK_MONOTONIC, &b);
    cr_assert_eq(strncmp(stored, "scrypt$N=16384,r=8,p=5$", 23), 0, "%s", stored);
    cr_assert_eq(kito_crypto_secret_verify("correct horse", 13, stored, &match), KITO_OK);
    cr_assert(match);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    cr_log_info("scrypt default hash took %.1f ms", ms);
    /* the point of the cost: a hash is never cheap */
    cr_assert_gt(ms, 5.0);
}

Test(secret, malformed_stored_strings_are_refused)
{
    char stored[KITO_SECRET_STORED_SIZE];
    bool match = true;
    cr_assert_eq(kito_crypto_secret_hash("4821", 4, &kito_scrypt_test, stored, sizeof(stored)),
                 KITO_OK);
    const char *salt_hash = strchr(stored + 7, '$'); /* "$<salt>$<hash>" */
    char buf[256];
    static const char *heads[] = {
        "bcrypt$N=1024,r=8,p=1",     "scrypt$N=1000,r=8,p=1",
        "scrypt$N=01024,r=8,p=1",    "scrypt$N=1024,r=08,p=1",
        "scrypt$N=1024,r=8,p=1,x=1", "scrypt$N=2097152,r=8,p=1",
        "scrypt$N=1024,r=8",         "scrypt$N=1024,r=0,p=1",
        "scrypt$N=-1024,r=8,p=1",    "scrypt$n=1024,r=8,p=1",
        "scrypt$N=1024,r=8,p=99",    "scrypt$N=99999999999999999999,r=8,p=1",
    };
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", heads[i], salt_hash);
        cr_assert_eq(kito_crypto_secret_verify("4821", 4, buf, &match), KITO_E_INTERNAL, "%s", buf);
        cr_assert_not(match);
    }
    static const char *whole[] = {
        "",
        "scrypt$N=1024,r=8,p=1$",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAB==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=$",
    };
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++)
        cr_assert_eq(kito_crypto_secret_verify("4821", 4, whole[i], &match), KITO_E_INTERNAL, "%s",
                     whole[i]);
    cr_assert_eq(kito_crypto_secret_verify("4821", 4, NULL, &match), KITO_E_INTERNAL);
    /* the well-formed all-zero row parses and simply does not match */
    cr_assert_eq(kito_crypto_secret_verify("4821", 4,
                                           "scrypt$N=1024,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$"
                                           "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                                           &match),
                 KITO_OK);
    cr_assert_not(match);
}

Test(secret, flipping_a_hash_character_fails_to_match)
{
    char stored[KITO_SECRET_STORED_SIZE];
    bool match = true;
    kito_crypto_secret_hash("s3cret-pass", 11, &kito_scrypt_test, stored, sizeof(stored));
    size_t last = strlen(stored) - 3; /* inside the hash, before the padding */
    stored[last] = stored[last] == 'A' ? 'B' : 'A';
    cr_assert_eq(kito_crypto_secret_verify("s3cret-pass", 11, stored, &match), KITO_OK);
    cr_assert_not(match);
}

Test(secret, needs_rehash)
{
    char stored[KITO_SECRET_STORED_SIZE];
    kito_crypto_secret_hash("pw", 2, &kito_scrypt_test, stored, sizeof(stored));
    cr_assert(kito_crypto_secret_needs_rehash(stored, NULL));
    cr_assert_not(kito_crypto_secret_needs_rehash(stored, &kito_scrypt_test));
    cr_assert_not(kito_crypto_secret_needs_rehash("garbage", NULL));
}

/* ---- tokens ---- */

Test(token, shape_and_digest)
{
    char a[KITO_TOKEN_SIZE], b[KITO_TOKEN_SIZE], d[KITO_SHA256_HEX_SIZE], e[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_crypto_token_new(a), KITO_OK);
    cr_assert_eq(kito_crypto_token_new(b), KITO_OK);
    cr_assert_eq(strlen(a), 43);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    cr_assert_eq(kito_crypto_token_digest(a, d), KITO_OK);
    cr_assert_eq(kito_crypto_sha256_hex(a, 43, e), KITO_OK);
    cr_assert_str_eq(d, e);
    cr_assert_eq(strlen(d), 64);
}

Test(token, digest_of_a_known_token)
{
    /* 32 zero bytes in base64url */
    const char *t = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    char d[KITO_SHA256_HEX_SIZE], e[KITO_SHA256_HEX_SIZE];
    cr_assert_eq(kito_crypto_token_digest(t, d), KITO_OK);
    kito_crypto_sha256_hex(t, strlen(t), e);
    cr_assert_str_eq(d, e);
}

Test(token, digest_refuses_what_cannot_be_a_token)
{
    char d[KITO_SHA256_HEX_SIZE];
    static const char *bad[] = {
        "",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* standard alphabet */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  /* non-zero trailing bits */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kito_crypto_token_digest(bad[i], d), KITO_E_UNAUTHORIZED, "%s", bad[i]);
    cr_assert_eq(kito_crypto_token_digest(NULL, d), KITO_E_UNAUTHORIZED);
}

/* ---- Ed25519 ---- */

#define RFC8032_T1_PUB "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC8032_T1_SIG                                                                             \
    "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw=="

Test(ed25519, rfc8032_test_1)
{
    uint8_t seed[32], pub[32];
    kito_signer *s = NULL;
    char b64[KITO_ED25519_PUB_B64_SIZE], sig[KITO_ED25519_SIG_B64_SIZE];
    bool valid = false;
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed);
    unhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub);
    cr_assert_eq(kito_crypto_signer_from_seed(seed, &s), KITO_OK);
    cr_assert_eq(memcmp(kito_crypto_signer_public_raw(s), pub, 32), 0);
    kito_crypto_signer_public_b64(s, b64);
    cr_assert_str_eq(b64, RFC8032_T1_PUB);
    cr_assert_eq(kito_crypto_sign(s, "", 0, sig), KITO_OK);
    cr_assert_str_eq(sig, RFC8032_T1_SIG);
    cr_assert_eq(kito_crypto_verify_b64(RFC8032_T1_PUB, "", 0, RFC8032_T1_SIG, &valid), KITO_OK);
    cr_assert(valid);
    /* any other message fails */
    cr_assert_eq(kito_crypto_verify_b64(RFC8032_T1_PUB, "x", 1, RFC8032_T1_SIG, &valid), KITO_OK);
    cr_assert_not(valid);
    /* key id: first 16 hex of sha256(raw public key) */
    char hex[KITO_SHA256_HEX_SIZE];
    kito_crypto_sha256_hex(pub, 32, hex);
    cr_assert_eq(strlen(kito_crypto_signer_key_id(s)), 16);
    cr_assert_eq(strncmp(kito_crypto_signer_key_id(s), hex, 16), 0);
    kito_crypto_signer_free(s);
}

Test(ed25519, rfc8032_test_2)
{
    uint8_t seed[32], want[64], got[64];
    kito_signer *s = NULL;
    char sig[KITO_ED25519_SIG_B64_SIZE];
    size_t n;
    unhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", seed);
    unhex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
          "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
          want);
    cr_assert_eq(kito_crypto_signer_from_seed(seed, &s), KITO_OK);
    cr_assert_eq(kito_crypto_sign(s, "\x72", 1, sig), KITO_OK);
    cr_assert_eq(kito_crypto_b64_decode(KITO_B64_STD, sig, strlen(sig), got, sizeof(got), &n),
                 KITO_OK);
    cr_assert_eq(n, 64);
    cr_assert_eq(memcmp(got, want, 64), 0);
    kito_crypto_signer_free(s);
}

Test(ed25519, tampering_is_detected)
{
    kito_signer *s = NULL, *other = NULL;
    char pub[KITO_ED25519_PUB_B64_SIZE], other_pub[KITO_ED25519_PUB_B64_SIZE];
    char sig[KITO_ED25519_SIG_B64_SIZE];
    bool valid = false;
    const char *msg = "{\"species\":\"beryl\",\"weight_cct\":1250}";
    cr_assert_eq(kito_crypto_signer_generate(&s), KITO_OK);
    cr_assert_eq(kito_crypto_signer_generate(&other), KITO_OK);
    kito_crypto_signer_public_b64(s, pub);
    kito_crypto_signer_public_b64(other, other_pub);
    cr_assert_str_neq(pub, other_pub);
    cr_assert_eq(kito_crypto_sign(s, msg, strlen(msg), sig), KITO_OK);
    cr_assert_eq(strlen(sig), 88);
    cr_assert_eq(kito_crypto_verify_b64(pub, msg, strlen(msg), sig, &valid), KITO_OK);
    cr_assert(valid);
    /* one byte of the document changed */
    char edited[64];
    strcpy(edited, msg);
    edited[strlen(edited) - 2] = '1';
    cr_assert_eq(kito_crypto_verify_b64(pub, edited, strlen(edited), sig, &valid), KITO_OK);
    cr_assert_not(valid);
    /* another key */
    cr_assert_eq(kito_crypto_verify_b64(other_pub, msg, strlen(msg), sig, &valid), KITO_OK);
    cr_assert_not(valid);
    /* the signature changed, or not a signature at all */
    char bad_sig[KITO_ED25519_SIG_B64_SIZE];
    strcpy(bad_sig, sig);
    bad_sig[10] = bad_sig[10] == 'A' ? 'B' : 'A';
    cr_assert_eq(kito_crypto_verify_b64(pub, msg, strlen(msg), bad_sig, &valid), KITO_OK);
    cr_assert_not(valid);
    cr_assert_eq(kito_crypto_verify_b64(pub, msg, strlen(msg), "not base64!", &valid), KITO_OK);
    cr_assert_not(valid);
    cr_assert_eq(kito_crypto_verify_b64(pub, msg, strlen(msg), "", &valid), KITO_OK);
    cr_assert_not(valid);
    /* a bad public key is the caller's error */
    cr_assert_eq(kito_crypto_verify_b64("AAAA", msg, strlen(msg), sig, &valid), KITO_E_VALIDATION);
    kito_crypto_signer_free(s);
    kito_crypto_signer_free(other);
}

Test(ed25519, public_pem_verifies)
{
    kito_signer *s = NULL;
    char pem[KITO_ED25519_PUB_PEM_SIZE], sig[KITO_ED25519_SIG_B64_SIZE];
    bool valid = false;
    uint8_t seed[32];
    unhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", seed);
    cr_assert_eq(kito_crypto_signer_from_seed(seed, &s), KITO_OK);
    cr_assert_eq(kito_crypto_signer_public_pem(s, pem, sizeof(pem)), KITO_OK);
    /* the same bytes `openssl pkey -pubout` prints for this key */
    cr_assert_str_eq(pem, "-----BEGIN PUBLIC KEY-----\n"
                          "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
                          "-----END PUBLIC KEY-----\n");
    cr_assert_eq(kito_crypto_sign(s, "lot 7", 5, sig), KITO_OK);
    cr_assert_eq(kito_crypto_verify_pem(pem, "lot 7", 5, sig, &valid), KITO_OK);
    cr_assert(valid);
    cr_assert_eq(kito_crypto_verify_pem(pem, "lot 8", 5, sig, &valid), KITO_OK);
    cr_assert_not(valid);
    cr_assert_eq(
        kito_crypto_verify_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
                               "lot 7", 5, sig, &valid),
        KITO_E_VALIDATION);
    char small[32];
    cr_assert_eq(kito_crypto_signer_public_pem(s, small, sizeof(small)), KITO_E_CAPACITY);
    kito_crypto_signer_free(s);
}

Test(ed25519, key_file_is_created_once_with_mode_0600)
{
    char dir[] = "/tmp/kito-test-key-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/signing.pem", dir);
    kito_signer *a = NULL, *b = NULL;
    bool created = false;
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &a, &created), KITO_OK);
    cr_assert(created);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &b, &created), KITO_OK);
    cr_assert_not(created);
    cr_assert_str_eq(kito_crypto_signer_key_id(a), kito_crypto_signer_key_id(b));
    /* a signature by the loaded key verifies with the created key's public key */
    char pub[KITO_ED25519_PUB_B64_SIZE], sig[KITO_ED25519_SIG_B64_SIZE];
    bool valid = false;
    kito_crypto_signer_public_b64(a, pub);
    kito_crypto_sign(b, "x", 1, sig);
    kito_crypto_verify_b64(pub, "x", 1, sig, &valid);
    cr_assert(valid);
    kito_crypto_signer_free(a);
    kito_crypto_signer_free(b);

    /* readable by others: refused */
    chmod(path, 0644);
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &a, NULL), KITO_E_CONFIG);
    cr_assert_null(a);
    /* not a key */
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("hello\n", f);
    fclose(f);
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &a, NULL), KITO_E_CONFIG);
    unlink(path);
    /* a directory that does not exist */
    snprintf(path, sizeof(path), "%s/missing/signing.pem", dir);
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &a, NULL), KITO_E_IO);
    rmdir(dir);
}

Test(ed25519, other_key_types_are_refused)
{
    char dir[] = "/tmp/kito-test-key-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[128], cmd[512];
    snprintf(path, sizeof(path), "%s/ec.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s 2>/dev/null "
             "&& chmod 600 %s",
             path, path);
    if (system(cmd) != 0)
        cr_skip_test("openssl command line not available");
    kito_signer *s = NULL;
    cr_assert_eq(kito_crypto_signer_load_or_create(path, &s, NULL), KITO_E_CONFIG);
    cr_assert_null(s);
    unlink(path);
    rmdir(dir);
}

Test(ed25519, free_accepts_null)
{
    kito_crypto_signer_free(NULL);
}

/* Issue 15, finding 10: the production cost meets OWASP's Password Storage Cheat Sheet, whose
 * scrypt minimum is N=2^17, r=8, p=1, "or" one of the settings it lists as equivalent: N=2^16 p=2,
 * N=2^15 p=3, N=2^14 p=5, N=2^13 p=10 (r=8 in all). */
Test(secret, default_cost_meets_owasp)
{
    static const struct {
        uint64_t n;
        uint32_t p;
    } owasp[] = {{1u << 17, 1}, {1u << 16, 2}, {1u << 15, 3}, {1u << 14, 5}, {1u << 13, 10}};
    const kito_scrypt_params *d = &kito_scrypt_default;
    bool meets = false;
    for (size_t i = 0; i < sizeof(owasp) / sizeof(owasp[0]); i++)
        meets = meets || (d->r >= 8 && d->n >= owasp[i].n && d->p >= owasp[i].p);
    cr_assert(meets, "N=%llu r=%u p=%u is below OWASP's scrypt minimum", (unsigned long long)d->n,
              (unsigned)d->r, (unsigned)d->p);
}
