#include "api/http/addr_limit.h"

#include <assert.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

struct kito_addr_slot {
    kito_addr_key key;
    uint32_t hash; /* low bits of the key's SipHash: its home slot, kept for deletion */
    uint32_t open; /* 0 = empty slot */
};

/* ---- SipHash-2-4 over 16 bytes ------------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13);                                                                         \
        v1 ^= v0;                                                                                  \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16);                                                                         \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21);                                                                         \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17);                                                                         \
        v1 ^= v2;                                                                                  \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

uint64_t kito_addr_limit_siphash(const uint64_t k[2], const uint8_t in[16])
{
    uint64_t v0 = 0x736f6d6570736575ULL ^ k[0];
    uint64_t v1 = 0x646f72616e646f6dULL ^ k[1];
    uint64_t v2 = 0x6c7967656e657261ULL ^ k[0];
    uint64_t v3 = 0x7465646279746573ULL ^ k[1];
    for (int i = 0; i < 2; i++) {
        uint64_t m = load_le64(in + 8 * i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)16 << 56; /* the length; no tail bytes */
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- the table ------------------------------------------------------------------------------ */

kito_err kito_addr_limit_init(kito_addr_limit *l, uint32_t addresses_max, uint32_t per_address_max,
                              const uint8_t hash_key[16])
{
    memset(l, 0, sizeof(*l));
    if (addresses_max == 0 || per_address_max == 0 || addresses_max > (1u << 30))
        return KITO_E_CONFIG;
    uint32_t capacity = 16;
    while (capacity < 2 * addresses_max)
        capacity <<= 1;
    l->slots = calloc(capacity, sizeof(*l->slots));
    if (l->slots == NULL)
        return KITO_E_NOMEM;
    l->capacity = capacity;
    l->addresses_max = addresses_max;
    l->per_address_max = per_address_max;
    l->hash_key[0] = load_le64(hash_key);
    l->hash_key[1] = load_le64(hash_key + 8);
    return KITO_OK;
}

void kito_addr_limit_dispose(kito_addr_limit *l)
{
    free(l->slots);
    memset(l, 0, sizeof(*l));
}

bool kito_addr_limit_key(const struct sockaddr *sa, kito_addr_key *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->bytes[10] = out->bytes[11] = 0xff;
        memcpy(out->bytes + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            memcpy(out->bytes, &in6->sin6_addr, 16); /* the IPv4 address, in this same form */
        else
            memcpy(out->bytes, &in6->sin6_addr, 8); /* its /64 */
        return true;
    }
    return false;
}

static uint32_t hash_of(const kito_addr_limit *l, const kito_addr_key *key)
{
    return (uint32_t)kito_addr_limit_siphash(l->hash_key, key->bytes);
}

/* The slot holding key, or the empty slot where it would go. The table is never full (at most
 * half), so the probe ends. */
static uint32_t find(const kito_addr_limit *l, const kito_addr_key *key, uint32_t hash)
{
    uint32_t mask = l->capacity - 1;
    uint32_t i = hash & mask;
    while (l->slots[i].open != 0 &&
           (l->slots[i].hash != hash || memcmp(&l->slots[i].key, key, sizeof(*key)) != 0))
        i = (i + 1) & mask;
    return i;
}

bool kito_addr_limit_acquire(kito_addr_limit *l, const kito_addr_key *key, uint32_t *open)
{
    assert(l->slots != NULL);
    uint32_t hash = hash_of(l, key);
    struct kito_addr_slot *s = &l->slots[find(l, key, hash)];
    if (s->open == 0) {
        if (l->addresses == l->addresses_max) {
            if (open != NULL)
                *open = 0;
            return false;
        }
        s->key = *key;
        s->hash = hash;
        l->addresses++;
        assert(l->addresses * 2 <= l->capacity);
    } else if (s->open >= l->per_address_max) {
        if (open != NULL)
            *open = s->open;
        return false;
    }
    s->open++;
    if (open != NULL)
        *open = s->open;
    return true;
}

void kito_addr_limit_release(kito_addr_limit *l, const kito_addr_key *key)
{
    uint32_t mask = l->capacity - 1;
    uint32_t i = find(l, key, hash_of(l, key));
    assert(l->slots[i].open > 0);
    if (--l->slots[i].open > 0)
        return;
    /* Empty slot i without a tombstone (backward-shift deletion): an entry further along the
     * probe run moves into the hole when the hole lies between its home slot and where it is, so
     * every remaining key stays reachable from its home without crossing an empty slot. */
    for (uint32_t j = (i + 1) & mask; l->slots[j].open != 0; j = (j + 1) & mask) {
        uint32_t home = l->slots[j].hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            l->slots[i] = l->slots[j];
            i = j;
        }
    }
    memset(&l->slots[i], 0, sizeof(l->slots[i]));
    l->addresses--;
}

uint32_t kito_addr_limit_open(const kito_addr_limit *l, const kito_addr_key *key)
{
    return l->slots[find(l, key, hash_of(l, key))].open;
}
