/* A Redis Cluster client on the loop: see redis_cluster.h. */
#include "api/adapters/redis_cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>

#include "api/adapters/redis.h"
#include "api/adapters/redis_slots.h"
#include "api/common/log.h"

#define SEEDS_MAX 8
#define CONNS_MAX (KITO_REDIS_MAX_NODES + SEEDS_MAX)
#define REDIRECTS_MAX 16 /* a command bounced more often than this gets the last redirection */

struct conn {
    kito_redis_cluster *cl;
    char host[KITO_REDIS_HOST_SIZE];
    int port;
    redisAsyncContext *ac; /* NULL when not connected (hiredis frees a context it drops) */
};

struct req {
    kito_redis_cluster *cl;
    kito_redis_cluster_cb *cb;
    void *privdata;
    char *cmd; /* RESP, made once (redisFormatCommandArgv) */
    size_t len;
    uint64_t deadline_ms;
    uint16_t slot;
    int redirects;
    bool asking; /* this send goes to ask_host:ask_port, after ASKING */
    char ask_host[KITO_REDIS_HOST_SIZE];
    int ask_port;
    struct req *next; /* in the waiting list */
};

struct kito_redis_cluster {
    uv_loop_t *loop;
    char user[128], password[128];
    uint32_t timeout_ms, retry_ms;
    struct {
        char host[KITO_REDIS_HOST_SIZE];
        int port;
    } seeds[SEEDS_MAX];
    int n_seeds;
    kito_redis_slot_map map, fresh; /* fresh: where CLUSTER SLOTS is read before it is taken */
    bool map_stale;                 /* read it again */
    bool refreshing;                /* a CLUSTER SLOTS is in flight */
    unsigned refresh_from;          /* round robin over the nodes asked */
    struct conn conns[CONNS_MAX];
    int n_conns;
    struct req *waiting, **waiting_tail;
    struct kito_redis_cluster_stats stats;
    uv_timer_t timer;
    bool closing;
};

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata);

static bool usable(const struct conn *c)
{
    return c->ac != NULL && !(c->ac->c.flags & (REDIS_DISCONNECTING | REDIS_FREEING));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct conn *c = ac->data;
    if (status != REDIS_OK) { /* hiredis frees the context after this returns */
        c->ac = NULL;
        c->cl->map_stale = true;
    }
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    struct conn *c = ac->data;
    c->ac = NULL;
    c->cl->map_stale = true;
}

static void on_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
    (void)ac;
    struct conn *c = privdata;
    redisReply *reply = reply_;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        kito_log("redis_cluster", "AUTH refused by %s:%d: %s", c->host, c->port, reply->str);
}

/* The connection to host:port, connecting if there is none; NULL when it cannot be had now. */
static struct conn *conn_to(kito_redis_cluster *cl, const char *host, int port)
{
    struct conn *c = NULL;
    for (int i = 0; i < cl->n_conns; i++)
        if (cl->conns[i].port == port && strcmp(cl->conns[i].host, host) == 0) {
            c = &cl->conns[i];
            break;
        }
    if (!c) {
        if (cl->n_conns == CONNS_MAX)
            return NULL;
        c = &cl->conns[cl->n_conns++];
        memset(c, 0, sizeof(*c));
        c->cl = cl;
        snprintf(c->host, sizeof(c->host), "%s", host);
        c->port = port;
    }
    if (usable(c))
        return c;
    if (c->ac) /* still being torn down: not before the next turn */
        return NULL;
    redisAsyncContext *ac = redisAsyncConnect(host, port);
    if (!ac)
        return NULL;
    if (ac->err || kito_redis_attach(ac, cl->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        return NULL;
    }
    ac->data = c;
    c->ac = ac;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (kito_redis_auth(ac, cl->user, cl->password, on_auth, c) != REDIS_OK) {
        c->ac = NULL;
        redisAsyncFree(ac);
        return NULL;
    }
    return c;
}

static void finish(struct req *r, redisReply *reply)
{
    r->cb(reply, r->privdata);
    free(r->cmd);
    free(r);
}

/* Sends r where it belongs now; false when there is nowhere to send it yet. */
static bool send_req(struct req *r)
{
    kito_redis_cluster *cl = r->cl;
    const char *host;
    int port;
    if (r->asking) {
        host = r->ask_host;
        port = r->ask_port;
    } else {
        const kito_redis_node *n = kito_redis_slot_master(&cl->map, r->slot);
        if (!n)
            return false;
        host = n->host;
        port = n->port;
    }
    struct conn *c = conn_to(cl, host, port);
    if (!c)
        return false;
    if (r->asking && redisAsyncCommand(c->ac, NULL, NULL, "ASKING") != REDIS_OK)
        return false;
    if (redisAsyncFormattedCommand(c->ac, on_reply, r, r->cmd, r->len) != REDIS_OK)
        return false;
    cl->stats.in_flight++;
    return true;
}

static void wait_req(struct req *r)
{
    kito_redis_cluster *cl = r->cl;
    r->next = NULL;
    *cl->waiting_tail = r;
    cl->waiting_tail = &r->next;
    cl->stats.waiting++;
}

/* Errors that pass: the cluster is electing, loading or moving keys. */
static bool transient(const redisReply *reply)
{
    static const char *const kinds[] = {"CLUSTERDOWN", "TRYAGAIN", "MASTERDOWN", "LOADING"};
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strncmp(reply->str, kinds[i], strlen(kinds[i])) == 0)
            return true;
    return false;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct req *r = privdata;
    kito_redis_cluster *cl = r->cl;
    redisReply *reply = reply_;
    cl->stats.in_flight--;
    r->asking = false;
    if (cl->closing) {
        finish(r, NULL);
        return;
    }
    if (!reply || (reply->type == REDIS_REPLY_ERROR && transient(reply))) {
        /* resent by the timer, never from here: this context may be being freed */
        cl->stats.retried++;
        cl->map_stale = true;
        wait_req(r);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        kito_redis_redirect rd = kito_redis_redirect_read(reply->str, reply->len);
        if (rd.kind != KITO_REDIS_NOT_REDIRECT && ++r->redirects <= REDIRECTS_MAX) {
            const struct conn *from = ac->data;
            const char *host = rd.host[0] ? rd.host : from->host;
            if (rd.kind == KITO_REDIS_MOVED) {
                cl->stats.moved++;
                kito_redis_slot_map_move(&cl->map, rd.slot, host, rd.port);
                cl->map_stale =
                    true; /* one slot learnt; the rest of the move read in the background */
            } else {
                cl->stats.asked++;
                r->asking = true;
                snprintf(r->ask_host, sizeof(r->ask_host), "%s", host);
                r->ask_port = rd.port;
            }
            if (!send_req(r))
                wait_req(r);
            return;
        }
    }
    finish(r, reply);
}

/* Sends the waiting commands again; those past their deadline get NULL. */
static void resend_waiting(kito_redis_cluster *cl)
{
    struct req *list = cl->waiting;
    cl->waiting = NULL;
    cl->waiting_tail = &cl->waiting;
    cl->stats.waiting = 0;
    uint64_t now = uv_now(cl->loop);
    while (list) {
        struct req *r = list;
        list = r->next;
        if (now >= r->deadline_ms) {
            cl->stats.timed_out++;
            finish(r, NULL);
        } else if (!send_req(r)) {
            wait_req(r);
        }
    }
}

static void on_slots(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_redis_cluster *cl = privdata;
    redisReply *reply = reply_;
    cl->refreshing = false;
    if (cl->closing)
        return;
    const struct conn *from = ac->data;
    if (reply && kito_redis_slot_map_read(&cl->fresh, reply, from->host) == KITO_OK &&
        kito_redis_slot_map_holes(&cl->fresh) < KITO_REDIS_SLOTS) {
        cl->map = cl->fresh;
        cl->map_stale = false;
        cl->stats.refreshed++;
        cl->stats.masters = (uint32_t)cl->map.n_masters;
        resend_waiting(cl);
    } else {
        cl->refresh_from++; /* ask another node next time */
    }
}

/* Sends CLUSTER SLOTS to the next node that can be reached: the map's nodes, then the seeds. */
static void refresh(kito_redis_cluster *cl)
{
    if (cl->refreshing)
        return;
    int n = cl->map.n_nodes + cl->n_seeds;
    for (int tried = 0; tried < n; tried++) {
        unsigned i = cl->refresh_from++ % (unsigned)n;
        const char *host = i < (unsigned)cl->map.n_nodes
                               ? cl->map.nodes[i].host
                               : cl->seeds[i - (unsigned)cl->map.n_nodes].host;
        int port = i < (unsigned)cl->map.n_nodes ? cl->map.nodes[i].port
                                                 : cl->seeds[i - (unsigned)cl->map.n_nodes].port;
        struct conn *c = conn_to(cl, host, port);
        if (c && redisAsyncCommand(c->ac, on_slots, cl, "CLUSTER SLOTS") == REDIS_OK) {
            cl->refreshing = true;
            cl->refresh_from--; /* ask the same node again while it answers */
            return;
        }
    }
}

static void on_timer(uv_timer_t *t)
{
    kito_redis_cluster *cl = t->data;
    if (cl->closing)
        return;
    if (cl->map_stale)
        refresh(cl);
    if (cl->waiting)
        resend_waiting(cl);
}

kito_err kito_redis_cluster_create(uv_loop_t *loop, const struct kito_redis_cluster_params *p,
                                   kito_redis_cluster **out)
{
    const char *user = p->user ? p->user : "", *password = p->password ? p->password : "";
    if (!p->seeds || strlen(user) >= 128 || strlen(password) >= 128)
        return KITO_E_CONFIG;
    kito_redis_cluster *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return KITO_E_NOMEM;
    cl->loop = loop;
    strcpy(cl->user, user);
    strcpy(cl->password, password);
    cl->timeout_ms = p->timeout_ms ? p->timeout_ms : 10000;
    cl->retry_ms = p->retry_ms ? p->retry_ms : 100;
    cl->waiting_tail = &cl->waiting;
    cl->map_stale = true;
    memset(cl->map.owner, KITO_REDIS_NO_NODE, sizeof(cl->map.owner));

    const char *s = p->seeds;
    while (*s && cl->n_seeds < SEEDS_MAX) {
        size_t len = strcspn(s, ",");
        char one[KITO_REDIS_HOST_SIZE + 8];
        if (len > 0 && len < sizeof(one)) {
            memcpy(one, s, len);
            one[len] = '\0';
            char *colon = strrchr(one, ':');
            char *end;
            long port = colon ? strtol(colon + 1, &end, 10) : 0;
            if (colon && colon > one && (size_t)(colon - one) < KITO_REDIS_HOST_SIZE &&
                *end == '\0' && port > 0 && port <= 65535) {
                memcpy(cl->seeds[cl->n_seeds].host, one, (size_t)(colon - one));
                cl->seeds[cl->n_seeds].host[colon - one] = '\0';
                cl->seeds[cl->n_seeds++].port = (int)port;
            }
        }
        s += len + (s[len] == ',');
    }
    if (cl->n_seeds == 0 || uv_timer_init(loop, &cl->timer) != 0) {
        free(cl);
        return KITO_E_CONFIG;
    }
    cl->timer.data = cl;
    uv_timer_start(&cl->timer, on_timer, cl->retry_ms, cl->retry_ms);
    refresh(cl);
    *out = cl;
    return KITO_OK;
}

kito_err kito_redis_cluster_command(kito_redis_cluster *cl, uint16_t slot, int argc,
                                    const char **argv, const size_t *argvlen,
                                    kito_redis_cluster_cb *cb, void *privdata)
{
    struct req *r = calloc(1, sizeof(*r));
    if (!r)
        return KITO_E_NOMEM;
    int len = redisFormatCommandArgv(&r->cmd, argc, argv, argvlen);
    if (len < 0) {
        free(r);
        return KITO_E_NOMEM;
    }
    r->len = (size_t)len;
    r->cl = cl;
    r->cb = cb;
    r->privdata = privdata;
    r->slot = slot % KITO_REDIS_SLOTS;
    r->deadline_ms = uv_now(cl->loop) + cl->timeout_ms;
    if (cl->closing) {
        finish(r, NULL);
        return KITO_OK;
    }
    if (cl->waiting || !send_req(r)) /* behind those already waiting: keep the order */
        wait_req(r);
    return KITO_OK;
}

void kito_redis_cluster_stats(const kito_redis_cluster *cl, struct kito_redis_cluster_stats *out)
{
    *out = cl->stats;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void on_close_turn(uv_timer_t *t)
{
    kito_redis_cluster *cl = t->data;
    for (int i = 0; i < cl->n_conns; i++) {
        redisAsyncContext *ac = cl->conns[i].ac;
        cl->conns[i].ac = NULL;
        if (ac && !(ac->c.flags & REDIS_FREEING))
            redisAsyncFree(ac); /* in-flight commands: on_reply(NULL), answered NULL */
    }
    struct req *list = cl->waiting;
    cl->waiting = NULL;
    while (list) {
        struct req *r = list;
        list = r->next;
        finish(r, NULL);
    }
    uv_timer_stop(&cl->timer);
    uv_close((uv_handle_t *)&cl->timer, on_timer_closed);
}

void kito_redis_cluster_close(kito_redis_cluster *cl)
{
    if (cl->closing)
        return;
    cl->closing = true;
    /* in the loop's next turn, never inside a hiredis callback of a context it frees */
    uv_timer_stop(&cl->timer);
    uv_timer_start(&cl->timer, on_close_turn, 0, 0);
}
