/* api/http/addr_limit: connections per client address (issue 15, finding 4), its bounds, how
 * addresses are grouped, and a table that stays right through any order of opens and closes. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/addr_limit.h"

static const uint8_t KEY[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

static kito_addr_key v4(const char *text)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, text, &a.sin_addr), 1);
    kito_addr_key k;
    cr_assert(kito_addr_limit_key((struct sockaddr *)&a, &k));
    return k;
}

static kito_addr_key v6(const char *text)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    cr_assert_eq(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
    kito_addr_key k;
    cr_assert(kito_addr_limit_key((struct sockaddr *)&a, &k));
    return k;
}

/* OpenSSL's SipHash-2-4 (EVP_MAC "SIPHASH", 8-byte output) of in under key. */
static uint64_t openssl_siphash(const uint8_t key[16], const uint8_t in[16])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    cr_assert(mac != NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    size_t out_size = 8;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &out_size),
                           OSSL_PARAM_construct_end()};
    cr_assert_eq(EVP_MAC_init(ctx, key, 16, params), 1);
    cr_assert_eq(EVP_MAC_update(ctx, in, 16), 1);
    uint8_t out[8];
    size_t len;
    cr_assert_eq(EVP_MAC_final(ctx, out, &len, sizeof(out)), 1);
    cr_assert_eq(len, 8);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | out[i];
    return v;
}

Test(addr_limit, siphash_is_siphash_2_4)
{
    /* the reference vector: key 00..0f, message 00..0f (Aumasson and Bernstein, vectors.h) */
    uint64_t k[2] = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
    cr_expect_eq(kito_addr_limit_siphash(k, KEY), 0x3f2acc7f57c29bdbULL);
    srand(7);
    for (int n = 0; n < 100; n++) {
        uint8_t key[16], in[16];
        for (int i = 0; i < 16; i++) {
            key[i] = (uint8_t)rand();
            in[i] = (uint8_t)rand();
        }
        uint64_t kk[2] = {0, 0};
        for (int i = 7; i >= 0; i--) {
            kk[0] = (kk[0] << 8) | key[i];
            kk[1] = (kk[1] << 8) | key[8 + i];
        }
        cr_assert_eq(kito_addr_limit_siphash(kk, in), openssl_siphash(key, in), "input %d", n);
    }
}

Test(addr_limit, an_address_gets_per_address_max_then_is_refused_until_one_closes)
{
    kito_addr_limit l;
    cr_assert_eq(kito_addr_limit_init(&l, 100, 3, KEY), KITO_OK);
    kito_addr_key a = v4("203.0.113.7"), b = v4("203.0.113.8");
    uint32_t open;
    for (uint32_t i = 1; i <= 3; i++) {
        cr_assert(kito_addr_limit_acquire(&l, &a, &open));
        cr_expect_eq(open, i);
    }
    cr_expect_not(kito_addr_limit_acquire(&l, &a, &open), "a fourth connection was counted");
    cr_expect_eq(open, 3);
    cr_expect_eq(kito_addr_limit_open(&l, &a), 3, "a refusal changed the count");
    cr_expect(kito_addr_limit_acquire(&l, &b, NULL), "another address was refused");
    kito_addr_limit_release(&l, &a);
    cr_expect(kito_addr_limit_acquire(&l, &a, &open), "a closed connection was not given back");
    cr_expect_eq(open, 3);
    for (int i = 0; i < 3; i++)
        kito_addr_limit_release(&l, &a);
    kito_addr_limit_release(&l, &b);
    cr_expect_eq(l.addresses, 0);
    cr_expect_eq(kito_addr_limit_open(&l, &a), 0);
    kito_addr_limit_dispose(&l);
}

Test(addr_limit, at_addresses_max_a_new_address_is_refused_and_known_ones_are_not)
{
    kito_addr_limit l;
    cr_assert_eq(kito_addr_limit_init(&l, 4, 10, KEY), KITO_OK);
    kito_addr_key k[5] = {v4("10.0.0.1"), v4("10.0.0.2"), v4("10.0.0.3"), v4("10.0.0.4"),
                          v4("10.0.0.5")};
    for (int i = 0; i < 4; i++)
        cr_assert(kito_addr_limit_acquire(&l, &k[i], NULL));
    uint32_t open = 99;
    cr_expect_not(kito_addr_limit_acquire(&l, &k[4], &open));
    cr_expect_eq(open, 0);
    cr_expect(kito_addr_limit_acquire(&l, &k[0], NULL), "a counted address was refused");
    kito_addr_limit_release(&l, &k[1]);
    cr_expect(kito_addr_limit_acquire(&l, &k[4], NULL), "a freed place was not reused");
    kito_addr_limit_dispose(&l);
}

Test(addr_limit, ipv6_counts_by_64_and_mapped_ipv4_as_ipv4)
{
    kito_addr_key a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff:1:2:3");
    kito_addr_key c = v6("2001:db8:1:3::1");
    cr_expect_eq(memcmp(&a, &b, sizeof(a)), 0, "one /64 counted as two addresses");
    cr_expect_neq(memcmp(&a, &c, sizeof(a)), 0, "two /64s counted as one");
    kito_addr_key m = v6("::ffff:192.0.2.1"), four = v4("192.0.2.1");
    cr_expect_eq(memcmp(&m, &four, sizeof(m)), 0, "::ffff:192.0.2.1 is not 192.0.2.1");
    struct sockaddr un = {.sa_family = AF_UNIX};
    kito_addr_key k;
    cr_expect_not(kito_addr_limit_key(&un, &k));
}

Test(addr_limit, bounds_of_zero_are_refused)
{
    kito_addr_limit l;
    cr_expect_eq(kito_addr_limit_init(&l, 0, 1, KEY), KITO_E_CONFIG);
    cr_expect_eq(kito_addr_limit_init(&l, 1, 0, KEY), KITO_E_CONFIG);
    kito_addr_limit_dispose(&l); /* a refused init leaves a table dispose accepts */
}

/* Random opens and closes over more addresses than the table may hold, against a plain array:
 * every count stays right, so deletion never loses a key behind it in a probe run. */
Test(addr_limit, counts_match_a_model_through_random_churn)
{
    enum { ADDRS = 300, MAX_ADDRS = 64, PER = 4 };
    kito_addr_limit l;
    cr_assert_eq(kito_addr_limit_init(&l, MAX_ADDRS, PER, KEY), KITO_OK);
    static kito_addr_key keys[ADDRS];
    static uint32_t model[ADDRS];
    uint32_t distinct = 0;
    for (int i = 0; i < ADDRS; i++) {
        char text[32];
        snprintf(text, sizeof(text), "198.51.%d.%d", i / 200, i % 200);
        keys[i] = v4(text);
    }
    srand(15);
    for (int step = 0; step < 200000; step++) {
        int i = rand() % ADDRS;
        if (rand() % 2 == 0) {
            bool want = model[i] < PER && (model[i] > 0 || distinct < MAX_ADDRS);
            cr_assert_eq(kito_addr_limit_acquire(&l, &keys[i], NULL), want, "step %d", step);
            if (want) {
                distinct += model[i] == 0;
                model[i]++;
            }
        } else if (model[i] > 0) {
            kito_addr_limit_release(&l, &keys[i]);
            model[i]--;
            distinct -= model[i] == 0;
        }
        if (step % 997 == 0)
            for (int j = 0; j < ADDRS; j++)
                cr_assert_eq(kito_addr_limit_open(&l, &keys[j]), model[j], "step %d key %d", step,
                             j);
    }
    cr_expect_eq(l.addresses, distinct);
    kito_addr_limit_dispose(&l);
}
