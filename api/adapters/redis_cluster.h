/*
 * A Redis Cluster client on the loop (issue 20; ops/SCALE.md, step 2): hiredis 0.14 (Debian 12)
 * has none, and hiredis-cluster needs hiredis >= 1.0. It keeps one async connection per node it
 * has to speak to, the slot map (api/adapters/redis_slots.h) read from CLUSTER SLOTS, and sends
 * each command to the master of the slot the caller names:
 *   - MOVED: the slot moved for good (a failover, a resharding): the map takes the new owner at
 *     once, the command is sent there, and the whole map is read again in the background;
 *   - ASK: the slot is migrating: ASKING and the command go to the named node, the map is kept;
 *   - a lost connection, CLUSTERDOWN, TRYAGAIN, MASTERDOWN, LOADING: the command waits, the map is
 *     read again from any node that answers (the seeds included), and the command is resent,
 *     until its deadline (params.timeout_ms) -- then its callback gets NULL.
 * A resent command may have been executed before its connection was lost: commands must be
 * idempotent by construction (the journal's XADD carries its explicit id `<seq>-0`, so a second
 * copy is refused by Redis itself: "equal or smaller than the target stream top item").
 * Commands to one node go out in the order they were given (one pipeline per node); a command
 * that waits for a retry may be overtaken by later ones: callers that need order chain them.
 *
 * Threads: the loop's thread only. Replies belong to hiredis and are freed after the callback.
 */
#ifndef KITO_REDIS_CLUSTER_H
#define KITO_REDIS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>
#include <uv.h>

#include "engine/err.h"

typedef struct kito_redis_cluster kito_redis_cluster;

/* The command's answer, or NULL when it could not be had before its deadline (or the client is
 * closing). An error reply (other than a redirection or a transient cluster error) is an answer. */
typedef void kito_redis_cluster_cb(redisReply *reply, void *privdata);

struct kito_redis_cluster_params {
    const char *seeds;    /* "host:port[,host:port...]": where to read the map first */
    const char *user;     /* ACL user; "" for the default user */
    const char *password; /* "" for none */
    uint32_t timeout_ms;  /* a command's deadline, from when it was given (default 10,000) */
    uint32_t retry_ms;    /* how often a waiting command is retried (default 100) */
};

struct kito_redis_cluster_stats {
    uint64_t moved;     /* MOVED redirections followed */
    uint64_t asked;     /* ASK redirections followed */
    uint64_t retried;   /* commands resent after a lost connection or a transient error */
    uint64_t refreshed; /* slot maps read */
    uint64_t timed_out; /* commands answered NULL at their deadline */
    uint32_t waiting;   /* commands waiting for a retry now */
    uint32_t in_flight; /* commands sent and not yet answered */
    uint32_t masters;   /* in the current map */
};

/* Starts the client: connects to the first seed and reads the map. KITO_E_CONFIG when seeds
 * holds no valid host:port or a credential is longer than 127 bytes. Commands may be given at
 * once: they wait for the map. */
kito_err kito_redis_cluster_create(uv_loop_t *loop, const struct kito_redis_cluster_params *p,
                                   kito_redis_cluster **out);

/* Sends argv (argc arguments of the given lengths) to the master of slot (kito_redis_key_slot
 * of the command's key; every key of one command must share it). cb gets the answer.
 * KITO_E_NOMEM, cb not called, when the command cannot be held. */
kito_err kito_redis_cluster_command(kito_redis_cluster *cl, uint16_t slot, int argc,
                                    const char **argv, const size_t *argvlen,
                                    kito_redis_cluster_cb *cb, void *privdata);

void kito_redis_cluster_stats(const kito_redis_cluster *cl, struct kito_redis_cluster_stats *out);

/* Answers every waiting and in-flight command with NULL, disconnects, and frees the client once
 * its handles closed (the loop must run a little longer). */
void kito_redis_cluster_close(kito_redis_cluster *cl);

#endif
