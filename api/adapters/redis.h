/*
 * The Redis link: one async hiredis connection on the server's uv loop (kito_redis_attach), so
 * Redis work shares the loop thread with HTTP and needs no locks (DESIGN.md, Threading).
 * It reconnects on its own with exponential backoff (KITO_REDIS_BACKOFF_*) and PINGs every
 * KITO_REDIS_PING_MS; a PING unanswered for KITO_REDIS_PING_TIMEOUT_MS, or a connect that takes
 * longer than KITO_REDIS_CONNECT_TIMEOUT_MS, drops the connection and starts over (hiredis has
 * no timeouts of its own). With a password it sends AUTH first on every connection (ACL user and
 * password; ops/REDIS.md, "Access"); a refused AUTH drops the connection and is logged once until
 * a connection works again. Loop thread only.
 */
#ifndef KITO_REDIS_H
#define KITO_REDIS_H

#include <stdbool.h>
#include <stdint.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "api/common/backoff.h"

#include "engine/err.h"

#define KITO_REDIS_PING_MS 500
#define KITO_REDIS_PING_TIMEOUT_MS 1500
#define KITO_REDIS_CONNECT_TIMEOUT_MS 2000
#define KITO_REDIS_BACKOFF_MIN_MS 100
#define KITO_REDIS_BACKOFF_MAX_MS 2000

typedef struct kito_redis {
    uv_loop_t *loop;
    char host[256];
    int port;
    char user[128];        /* AUTH user; "" with no password: no AUTH */
    char password[128];    /* secret: never logged */
    bool auth_logged;      /* a refused AUTH was logged since the last good connection */
    redisAsyncContext *ac; /* NULL while disconnected */
    bool connected;        /* the connect callback said yes */
    bool ok;               /* the last PING got PONG in time */
    bool stopping;
    bool ping_in_flight;
    uint64_t ping_sent_ms;
    uint64_t connect_started_ms;
    uint64_t last_pong_ms;
    kito_backoff backoff; /* reconnect waits (api/common/backoff.h) */
    double latency_ms;    /* of the last PONG */
    char last_error[160];
    uv_timer_t tick;      /* PING, timeouts */
    uv_timer_t reconnect; /* one-shot, after the backoff */
    int handles_open;     /* timers not yet closed */
} kito_redis;

/* Attaches ac to loop, as hiredis's redisLibuvAttach does, but touches the poll handle only when
 * the events wanted change: hiredis asks for "writable" once per queued command, and the stock
 * adapter's uv_poll_start costs an epoll_ctl each time (8,000 system calls for a batch of 8,000
 * commands). REDIS_ERR leaves ac unattached. The book store and the link both use it. */
int kito_redis_attach(redisAsyncContext *ac, uv_loop_t *loop);

/* Starts connecting r to host:port on loop (the first attempt is made now), authenticating as
 * user with password unless password is "" (both copied; KITO_E_CONFIG when longer than 127
 * bytes). KITO_E_INTERNAL if the timers cannot be created. r must stay put until
 * kito_redis_stop's handles closed. */
kito_err kito_redis_start(kito_redis *r, uv_loop_t *loop, const char *host, int port,
                          const char *user, const char *password);

/* Queues AUTH on ac when password is not "" (user "" sends the one-argument form, for the
 * default user): the first command of a connection, before it is even connected (hiredis sends
 * queued commands in order). fn gets the reply with privdata. REDIS_OK when nothing was needed.
 * The book store and the link both use it. */
int kito_redis_auth(redisAsyncContext *ac, const char *user, const char *password,
                    redisCallbackFn *fn, void *privdata);

/* True when reply is AUTH's refusal or a command's NOAUTH/NOPERM: credentials, not a fault that
 * a reconnect cures. */
bool kito_redis_reply_is_auth_error(const redisReply *reply);

/* The live context for issuing commands, or NULL while disconnected. Borrowed: valid until the
 * next loop turn at most; do not keep it. */
redisAsyncContext *kito_redis_context(kito_redis *r);

/* True when connected and a PONG came within KITO_REDIS_PING_TIMEOUT_MS. */
bool kito_redis_is_ok(const kito_redis *r);

/* Stops reconnecting, disconnects (pending replies get NULL) and closes the timers; the loop must
 * run a little longer for the closes to complete (r->handles_open reaches 0). */
void kito_redis_stop(kito_redis *r);

#endif
