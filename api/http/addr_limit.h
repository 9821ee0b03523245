/*
 * Open connections per client address (issue 15, finding 4: 4,200 idle connections from one
 * host filled KITO_MAX_CONNECTIONS and took /healthz down with everything else). kitod counts its
 * public connections by address and closes at once a connection from an address that already
 * holds KITO_MAX_CONNECTIONS_PER_ADDRESS.
 *
 * An address is an IPv4 address, or the /64 prefix of an IPv6 address: a /64 is what one
 * subscriber is usually given, so counting whole IPv6 addresses would give one host 2^64 budgets.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as the IPv4 address.
 *
 * A fixed table made at start (no allocation per connection; CONVENTIONS.md, 15): open
 * addressing, at most half full, keyed with SipHash-2-4 under a random key so that a client
 * cannot pick addresses (it may own a /48 of IPv6) that collide into long probe chains.
 * Loop thread only.
 */
#ifndef KITO_ADDR_LIMIT_H
#define KITO_ADDR_LIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "engine/err.h"

/* An address as counted: 16 bytes, IPv4 in its IPv4-mapped IPv6 form, IPv6 cut to /64. */
typedef struct kito_addr_key {
    uint8_t bytes[16];
} kito_addr_key;

struct kito_addr_slot;

typedef struct kito_addr_limit {
    struct kito_addr_slot *slots; /* capacity slots; a slot with open == 0 is empty */
    uint32_t capacity;            /* a power of two, at least 2 x addresses_max */
    uint32_t addresses_max;       /* distinct addresses counted at most */
    uint32_t addresses;           /* distinct addresses with an open connection now */
    uint32_t per_address_max;     /* open connections one address may hold */
    uint64_t hash_key[2];         /* SipHash key */
} kito_addr_limit;

/* Makes the table for up to addresses_max distinct addresses (kitod passes KITO_MAX_CONNECTIONS:
 * every counted address holds at least one open connection), each allowed per_address_max open
 * connections; hash_key is 16 random bytes (copied). KITO_E_NOMEM, or KITO_E_CONFIG when a bound
 * is 0 or addresses_max is over 2^30. */
kito_err kito_addr_limit_init(kito_addr_limit *l, uint32_t addresses_max, uint32_t per_address_max,
                              const uint8_t hash_key[16]);

/* Frees the table. Accepts a zeroed or disposed l. */
void kito_addr_limit_dispose(kito_addr_limit *l);

/* The key of a peer address (AF_INET or AF_INET6). false for any other family. */
bool kito_addr_limit_key(const struct sockaddr *sa, kito_addr_key *out);

/* Counts one more open connection from key and returns true; *open (may be NULL) gets the
 * address's count including it. At the bound returns false and counts nothing: when key already
 * holds per_address_max connections (*open gets that count), or when addresses_max distinct
 * addresses are counted and key is not one of them (*open gets 0). */
bool kito_addr_limit_acquire(kito_addr_limit *l, const kito_addr_key *key, uint32_t *open);

/* Counts one connection from key as closed. Only for a key whose acquire returned true (asserted).
 */
void kito_addr_limit_release(kito_addr_limit *l, const kito_addr_key *key);

/* Open connections counted for key now (0 when none). */
uint32_t kito_addr_limit_open(const kito_addr_limit *l, const kito_addr_key *key);

/* SipHash-2-4 (Aumasson and Bernstein, 2012) of a 16-byte key under key k; exposed for its test
 * vectors. */
uint64_t kito_addr_limit_siphash(const uint64_t k[2], const uint8_t in[16]);

#endif
