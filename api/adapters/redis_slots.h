/*
 * Redis Cluster's key space, in Kito's terms (issue 20; ops/REDIS.md, "Redis Cluster"): which of
 * the 16,384 hash slots a key lives in, which master serves a slot (the map read from
 * CLUSTER SLOTS), and what a MOVED or ASK redirection says. Pure: no I/O, any thread; the
 * cluster client that keeps connections to the masters is built on it.
 *
 * The rules are the Redis Cluster specification's ("Key distribution model", "Hash tags",
 * "Redirection and resharding":
 * https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/):
 *   - slot = CRC16(key) mod 16384, CRC16 being CRC-16/XMODEM (polynomial 0x1021, initial 0);
 *   - when the key holds a '{' followed later by a '}' with at least one byte between them, only
 *     the bytes between the first '{' and the first '}' after it are hashed (the hash tag), so
 *     `lot:{42}:journal` and `lot:{42}:snap` share a slot;
 *   - a node that does not serve a slot answers `-MOVED <slot> <host>:<port>` (the slot moved
 *     for good: update the map) or `-ASK <slot> <host>:<port>` (during a migration: send this one
 *     command, preceded by ASKING, to that node, and keep the map). Since Redis 7 the host may be
 *     empty (`:6380`, "unknown endpoint"): the same host the client is connected to.
 */
#ifndef KITO_REDIS_SLOTS_H
#define KITO_REDIS_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "engine/err.h"

#define KITO_REDIS_SLOTS 16384
#define KITO_REDIS_MAX_NODES 64 /* masters and replicas a map can name */
#define KITO_REDIS_HOST_SIZE 64 /* an address as CLUSTER SLOTS gives it: IPv4, IPv6 or a name */

/* CRC-16/XMODEM of len bytes (the cluster's key hash; check value: "123456789" -> 0x31C3). */
uint16_t kito_redis_crc16(const void *data, size_t len);

/* The hash slot of a key of len bytes (not NUL-terminated: keys are binary-safe). */
uint16_t kito_redis_key_slot(const char *key, size_t len);

typedef struct kito_redis_node {
    char host[KITO_REDIS_HOST_SIZE];
    int port;
    int master; /* index of its master in the map's nodes; -1 for a master */
} kito_redis_node;

/* Who serves each slot. A slot no master serves (a cluster being built, or a hole after a
 * failure without a replica) holds KITO_REDIS_NO_NODE. */
#define KITO_REDIS_NO_NODE 0xFF
typedef struct kito_redis_slot_map {
    kito_redis_node nodes[KITO_REDIS_MAX_NODES];
    int n_nodes;
    int n_masters;
    uint8_t owner[KITO_REDIS_SLOTS]; /* node index of the slot's master */
} kito_redis_slot_map;

/* Reads CLUSTER SLOTS's reply (an array of [start, end, [host, port, id, ...], replicas...]) into
 * map, replacing what it held. An empty host (a node that does not know its own address) becomes
 * default_host, as clients do with the address they asked. KITO_E_BAD_REQUEST, map emptied, when
 * the reply is not that shape, names a slot outside 0..16383, or names more than
 * KITO_REDIS_MAX_NODES nodes. */
kito_err kito_redis_slot_map_read(kito_redis_slot_map *map, const redisReply *reply,
                                  const char *default_host);

/* The master serving slot, or NULL when none does. */
const kito_redis_node *kito_redis_slot_master(const kito_redis_slot_map *map, uint16_t slot);

/* Slots with no master: 0 when the map covers the key space (CLUSTER INFO's cluster_state:ok
 * needs that too). */
int kito_redis_slot_map_holes(const kito_redis_slot_map *map);

typedef enum kito_redis_redirect_kind {
    KITO_REDIS_NOT_REDIRECT = 0, /* any other error, or not an error */
    KITO_REDIS_MOVED,
    KITO_REDIS_ASK,
} kito_redis_redirect_kind;

typedef struct kito_redis_redirect {
    kito_redis_redirect_kind kind;
    uint16_t slot;
    char host[KITO_REDIS_HOST_SIZE]; /* "" when the node gave none: the asking connection's host */
    int port;
} kito_redis_redirect;

/* Reads an error reply's text (without its '-'): "MOVED 3999 127.0.0.1:6381" and the like; the
 * last ':' separates the port, so an IPv6 host ("::1:6381") reads whole. Anything else, or a
 * malformed redirection, gives KITO_REDIS_NOT_REDIRECT. */
kito_redis_redirect kito_redis_redirect_read(const char *error, size_t len);

/* Moves one slot to the node at host:port in map (a MOVED redirection), adding that node as a
 * master if the map did not know it. false, map unchanged, when the map is full. */
bool kito_redis_slot_map_move(kito_redis_slot_map *map, uint16_t slot, const char *host, int port);

#endif
