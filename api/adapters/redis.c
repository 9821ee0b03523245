#include "api/adapters/redis.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/log.h"

/* ---- hiredis on the loop (both Redis connections use it) ------------------------------------ */

/* hiredis's own libuv adapter (hiredis/adapters/libuv.h) calls uv_poll_start on every
 * addRead/addWrite, and hiredis calls addWrite once per queued command; libuv's uv_poll_start
 * first takes the descriptor out of epoll (one epoll_ctl system call each time), so a batch of
 * 8,000 commands cost 8,000 system calls. This adapter does the same job but touches the poll
 * handle only when the set of events changes. Error status: both directions are tried, so hiredis
 * sees the error and reports the loss (as hiredis >= 1.0's adapter does). */
struct kr_events {
    redisAsyncContext *ac; /* NULL once hiredis cleaned up */
    uv_poll_t handle;
    int events;
};

static void ev_poll(uv_poll_t *h, int status, int events)
{
    struct kr_events *p = h->data;
    int ev = status < 0 ? p->events : events;
    if (p->ac != NULL && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac != NULL && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->ac);
}

static void ev_set(struct kr_events *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    if (events != 0)
        uv_poll_start(&p->handle, events, ev_poll);
    else
        uv_poll_stop(&p->handle);
}

static void ev_add_read(void *d)
{
    struct kr_events *p = d;
    ev_set(p, p->events | UV_READABLE);
}

static void ev_del_read(void *d)
{
    struct kr_events *p = d;
    ev_set(p, p->events & ~UV_READABLE);
}

static void ev_add_write(void *d)
{
    struct kr_events *p = d;
    ev_set(p, p->events | UV_WRITABLE);
}

static void ev_del_write(void *d)
{
    struct kr_events *p = d;
    ev_set(p, p->events & ~UV_WRITABLE);
}

static void ev_closed(uv_handle_t *h)
{
    free(h->data);
}

static void ev_cleanup(void *d)
{
    struct kr_events *p = d;
    p->ac = NULL; /* the context may be gone by the time the handle closes */
    uv_close((uv_handle_t *)&p->handle, ev_closed);
}

int kito_redis_attach(redisAsyncContext *ac, uv_loop_t *loop)
{
    if (ac->ev.data != NULL)
        return REDIS_ERR;
    struct kr_events *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return REDIS_ERR;
    if (uv_poll_init(loop, &p->handle, ac->c.fd) != 0) {
        free(p);
        return REDIS_ERR;
    }
    p->handle.data = p;
    p->ac = ac;
    ac->ev.data = p;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    return REDIS_OK;
}

int kito_redis_auth(redisAsyncContext *ac, const char *user, const char *password,
                    redisCallbackFn *fn, void *privdata)
{
    if (password == NULL || password[0] == '\0')
        return REDIS_OK;
    if (user == NULL || user[0] == '\0')
        return redisAsyncCommand(ac, fn, privdata, "AUTH %s", password);
    return redisAsyncCommand(ac, fn, privdata, "AUTH %s %s", user, password);
}

bool kito_redis_reply_is_auth_error(const redisReply *reply)
{
    return reply != NULL && reply->type == REDIS_REPLY_ERROR &&
           (strncmp(reply->str, "WRONGPASS", 9) == 0 || strncmp(reply->str, "NOAUTH", 6) == 0 ||
            strncmp(reply->str, "NOPERM", 6) == 0 ||
            strstr(reply->str, "without any password configured") != NULL);
}

static void start_connect(kito_redis *r);
static void on_reconnect(uv_timer_t *t);

static void set_error(kito_redis *r, const char *what, const char *detail)
{
    snprintf(r->last_error, sizeof(r->last_error), "%s%s%s", what, detail ? ": " : "",
             detail ? detail : "");
}

static void schedule_reconnect(kito_redis *r)
{
    r->ac = NULL;
    r->connected = false;
    r->ok = false;
    r->ping_in_flight = false;
    if (r->stopping)
        return;
    uv_timer_start(&r->reconnect, on_reconnect, kito_backoff_next(&r->backoff), 0);
}

static void on_reconnect(uv_timer_t *t)
{
    start_connect(t->data);
}

/* Drops the connection on our initiative (timeouts). Callbacks that follow from the free see a
 * context that is no longer r->ac and do nothing. */
static void drop(kito_redis *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    set_error(r, why, NULL);
    schedule_reconnect(r);
    if (ac != NULL)
        redisAsyncFree(ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    kito_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK) {
        set_error(r, "connect", ac->errstr);
        schedule_reconnect(r); /* hiredis frees ac after this callback */
        return;
    }
    r->connected = true;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    kito_redis *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK)
        set_error(r, "disconnected", ac->errstr);
    schedule_reconnect(r); /* hiredis frees ac after this callback */
}

static void on_pong(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_redis *r = privdata;
    redisReply *reply = reply_;
    if (r->ac != ac)
        return; /* a dropped context flushing its callbacks */
    r->ping_in_flight = false;
    if (reply == NULL)
        return;
    if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0) {
        r->ok = true;
        r->last_pong_ms = uv_now(r->loop);
        r->latency_ms = (double)(r->last_pong_ms - r->ping_sent_ms);
        kito_backoff_reset(&r->backoff);
        r->last_error[0] = '\0';
        r->auth_logged = false;
    } else {
        r->ok = false;
        set_error(r, "PING", reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
    }
}

/* AUTH's answer: a refusal drops the connection (the PINGs behind it would only say NOAUTH) and
 * is logged once until a connection works again. */
static void on_auth(redisAsyncContext *ac, void *reply_, void *privdata)
{
    kito_redis *r = privdata;
    redisReply *reply = reply_;
    if (r->ac != ac || reply == NULL || reply->type != REDIS_REPLY_ERROR)
        return;
    if (!r->auth_logged)
        kito_log("redis", "Redis refused AUTH as user %s: %s", r->user[0] ? r->user : "default",
                 reply->str);
    r->auth_logged = true;
    char why[160];
    snprintf(why, sizeof(why), "AUTH: %s", reply->str);
    r->ok = false;
    drop(r, why);
}

static void start_connect(kito_redis *r)
{
    if (r->stopping)
        return;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    if (ac == NULL) {
        set_error(r, "connect", "out of memory");
        schedule_reconnect(r);
        return;
    }
    if (ac->err) {
        set_error(r, "connect", ac->errstr);
        redisAsyncFree(ac);
        schedule_reconnect(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->connected = false;
    r->connect_started_ms = uv_now(r->loop);
    if (kito_redis_attach(ac, r->loop) != REDIS_OK) {
        drop(r, "cannot attach to the loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    if (kito_redis_auth(ac, r->user, r->password, on_auth, r) != REDIS_OK)
        drop(r, "cannot queue AUTH");
}

static void on_tick(uv_timer_t *t)
{
    kito_redis *r = t->data;
    uint64_t now = uv_now(r->loop);
    if (r->ac == NULL)
        return;
    if (!r->connected) {
        if (now - r->connect_started_ms > KITO_REDIS_CONNECT_TIMEOUT_MS)
            drop(r, "connect timed out");
        return;
    }
    if (r->ping_in_flight) {
        if (now - r->ping_sent_ms > KITO_REDIS_PING_TIMEOUT_MS) {
            r->ok = false;
            drop(r, "PING timed out");
        }
        return;
    }
    if (r->ok && now - r->last_pong_ms > KITO_REDIS_PING_TIMEOUT_MS)
        r->ok = false;
    if (redisAsyncCommand(r->ac, on_pong, r, "PING") == REDIS_OK) {
        r->ping_in_flight = true;
        r->ping_sent_ms = now;
    }
}

kito_err kito_redis_start(kito_redis *r, uv_loop_t *loop, const char *host, int port,
                          const char *user, const char *password)
{
    memset(r, 0, sizeof(*r));
    if (strlen(user) >= sizeof(r->user) || strlen(password) >= sizeof(r->password))
        return KITO_E_CONFIG;
    r->loop = loop;
    snprintf(r->host, sizeof(r->host), "%s", host);
    r->port = port;
    snprintf(r->user, sizeof(r->user), "%s", user);
    snprintf(r->password, sizeof(r->password), "%s", password);
    kito_backoff_init(&r->backoff, KITO_REDIS_BACKOFF_MIN_MS, KITO_REDIS_BACKOFF_MAX_MS);
    set_error(r, "not connected yet", NULL);
    if (uv_timer_init(loop, &r->tick) != 0)
        return KITO_E_INTERNAL;
    r->handles_open++;
    if (uv_timer_init(loop, &r->reconnect) != 0) {
        kito_redis_stop(r);
        return KITO_E_INTERNAL;
    }
    r->handles_open++;
    r->tick.data = r;
    r->reconnect.data = r;
    uv_timer_start(&r->tick, on_tick, KITO_REDIS_PING_MS / 5, KITO_REDIS_PING_MS);
    start_connect(r);
    return KITO_OK;
}

redisAsyncContext *kito_redis_context(kito_redis *r)
{
    return r->connected ? r->ac : NULL;
}

bool kito_redis_is_ok(const kito_redis *r)
{
    return r->connected && r->ok;
}

static void on_timer_closed(uv_handle_t *h)
{
    kito_redis *r = h->data;
    r->handles_open--;
}

void kito_redis_stop(kito_redis *r)
{
    if (r->stopping)
        return;
    r->stopping = true;
    redisAsyncContext *ac = r->ac;
    r->ac = NULL;
    r->connected = false;
    r->ok = false;
    if (ac != NULL)
        redisAsyncFree(ac);
    if (r->tick.loop != NULL && !uv_is_closing((uv_handle_t *)&r->tick))
        uv_close((uv_handle_t *)&r->tick, on_timer_closed);
    if (r->reconnect.loop != NULL && !uv_is_closing((uv_handle_t *)&r->reconnect))
        uv_close((uv_handle_t *)&r->reconnect, on_timer_closed);
}
