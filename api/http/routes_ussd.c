/*
 * POST /v1/ussd: the USSD gateway's callback (issue 18; DESIGN.md, "Phone channel").
 *
 * Africa's Talking's format (https://developers.africastalking.com/docs/ussd/handle_sessions):
 * a form POST (application/x-www-form-urlencoded) with sessionId, serviceCode, phoneNumber,
 * networkCode and text (the session's inputs joined by '*', "" on the first screen); the answer
 * is text/plain beginning "CON " (more to come) or "END " (done), at most 182 characters.
 *
 * Thin: authenticate the gateway (?token=, KITO_USSD_CALLBACK_TOKEN, constant time; the access
 * log masks `token` values), parse the form, read the session from Redis, step the pure menu
 * (api/phone/ussd_menu.h); a screen that needs the database goes to a MySQL worker
 * (api/phone/ussd.h through kito_req_db), so the loop never waits on MySQL. The session is
 * written back to Redis (with KITO_USSD_SESSION_TTL_S) before the answer leaves, on the same
 * connection as the next request's read, so that read always sees it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/async.h>
#include <openssl/crypto.h>

#include "api/common/log.h"
#include "api/common/query.h"
#include "api/common/validate.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/phone/ussd.h"

#define KEY_PREFIX "ussd:session:"
#define SESSION_ID_MAX 100

/* The loop is never blocked and the gateway is never left without an answer: when Redis or the
 * workers cannot help, she reads this (both languages: her account's is not known). */
static const char busy[] = "END Kito is busy, please try again soon.\n"
                           "Kito ina shughuli nyingi, tafadhali jaribu tena baadaye.";

typedef struct ussd_job {
    kito_server *server; /* borrowed: outlives every request */
    kito_req *r;         /* retained across the Redis read */
    kito_ussd_session s;
    kito_ussd_out out;
    char key[sizeof(KEY_PREFIX) + SESSION_ID_MAX];
    char phone[KITO_USSD_INPUT_MAX + 1];
    char ip[46];
    size_t text_len;
    char text[KITO_USSD_TEXT_MAX + 1];
} ussd_job;

static void reply(kito_req *r, const char *text)
{
    kito_respond_bytes(r, 200, "text/plain; charset=utf-8", text, strlen(text));
}

static void on_saved(redisAsyncContext *ac, void *reply_, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *rep = reply_;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
        kito_log("ussd", "session not saved: %s", rep != NULL ? rep->str : "no connection");
}

/* Writes the session back with its TTL; not waited for (see the top). */
static void save(ussd_job *j)
{
    redisAsyncContext *ac = kito_redis_context(&j->server->redis);
    if (ac == NULL ||
        redisAsyncCommand(ac, on_saved, NULL, "SET %s %b EX %u", j->key, (const char *)&j->s,
                          sizeof(j->s), (unsigned)j->server->cfg->ussd_session_ttl_s) != REDIS_OK)
        kito_log("ussd", "session not saved: Redis unavailable");
}

static void run_effects(kito_db_conn *db, void *arg)
{
    ussd_job *j = arg;
    kito_ussd_run(db, &j->s, j->ip, j->server->cfg->payout_wallet_hold_s, &j->out);
}

static void done_effects(kito_req *r, void *arg)
{
    ussd_job *j = arg;
    reply(r, j->out.reply);
}

/* Runs on the loop once the worker is done, whether or not the gateway is still there: what
 * was done for her (an account, a stone) is in the session either way. */
static void free_effects_job(void *arg)
{
    ussd_job *j = arg;
    if (j->out.effect == KITO_USSD_FX_NONE)
        save(j);
    OPENSSL_cleanse(j, sizeof(*j)); /* the text holds her PINs */
    free(j);
}

static void on_session(redisAsyncContext *ac, void *reply_, void *priv)
{
    (void)ac;
    ussd_job *j = priv;
    kito_req *r = j->r;
    redisReply *rep = reply_;
    if (!kito_req_alive(r))
        goto out_free;
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        kito_log("ussd", "session read failed: %s", rep != NULL ? rep->str : "no connection");
        reply(r, busy);
        goto out_free;
    }
    if (rep->type == REDIS_REPLY_STRING && rep->len == sizeof(j->s)) {
        memcpy(&j->s, rep->str, sizeof(j->s));
        /* a session of another version, or of another phone, is not this one's */
        if (j->s.version != KITO_USSD_SESSION_VERSION || strcmp(j->s.phone, j->phone) != 0 ||
            j->s.screen >= KITO_USSD_S_COUNT)
            kito_ussd_menu_begin(&j->s, j->phone);
    } else {
        kito_ussd_menu_begin(&j->s, j->phone);
    }
    kito_ussd_menu_step(&j->s, j->text, j->text_len, &j->out);
    if (j->out.effect == KITO_USSD_FX_NONE) {
        save(j);
        reply(r, j->out.reply);
        goto out_free;
    }
    j->r = NULL;
    /* an effect that checks her PIN hashes it: on the hashing pool (api/http/req_db.h) */
    kito_err e = j->out.req.pin[0] != 0
                     ? kito_req_db_hash_owned(r, run_effects, done_effects, free_effects_job, j)
                     : kito_req_db_owned(r, run_effects, done_effects, free_effects_job, j);
    if (e != KITO_OK)
        reply(r, busy); /* the job was freed: nothing was done, the session stays as it was */
    kito_req_release(r);
    return;

out_free:
    kito_req_release(r);
    OPENSSL_cleanse(j, sizeof(*j));
    free(j);
}

static bool token_ok(const char *configured, const char *presented)
{
    size_t n = strlen(configured);
    return n > 0 && presented != NULL && strlen(presented) == n &&
           CRYPTO_memcmp(configured, presented, n) == 0;
}

/* A gateway's session id: 1 to 100 characters of [A-Za-z0-9._-]. */
static bool session_id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n <= SESSION_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* POST /v1/ussd (public; authenticated by ?token=, compared in constant time): 200 text/plain
 * "CON ..." or "END ..."; 401 without the token; 400 for a form that is not the gateway's. */
kito_err kito_post_ussd(kito_req *r)
{
    kito_query q;
    kito_verr ve = {{0}};
    const char *token = NULL;
    h2o_req_t *req = r->h2o;
    if (req->query_at != SIZE_MAX &&
        kito_query_parse(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1, &q,
                         &ve) == KITO_OK)
        token = kito_query_get(&q, "token");
    if (!token_ok(r->server->cfg->ussd_callback_token, token)) {
        kito_log("ussd", "callback from %s refused: bad token", r->remote);
        kito_respond_error(r, KITO_E_UNAUTHORIZED, "the callback token is missing or wrong");
        return KITO_OK;
    }
    if (kito_query_parse(req->entity.base, req->entity.len, &q, &ve) != KITO_OK) {
        kito_respond_error(r, KITO_E_BAD_REQUEST, "the body must be the gateway's form");
        return KITO_OK;
    }
    const char *session_id = kito_query_get(&q, "sessionId");
    const char *phone = kito_query_get(&q, "phoneNumber");
    const char *text = kito_query_get(&q, "text");
    if (text == NULL)
        text = "";
    if (session_id == NULL || !session_id_ok(session_id)) {
        kito_respond_error(r, KITO_E_BAD_REQUEST, "sessionId is missing or malformed");
        return KITO_OK;
    }
    /* the gateway vouches for the number: it is her identity (DESIGN.md, "Phone channel") */
    if (phone == NULL || kito_validate_phone("phoneNumber", phone, &ve) != KITO_OK ||
        kito_validate_phone_country(phone) == NULL) {
        kito_respond_error(r, KITO_E_BAD_REQUEST,
                           "phoneNumber must be an E.164 number of a market country");
        return KITO_OK;
    }
    size_t text_len = strlen(text);
    if (text_len > KITO_USSD_TEXT_MAX) {
        reply(r, "END Session too long. Please dial again.\nTafadhali piga tena.");
        return KITO_OK;
    }
    redisAsyncContext *ac = kito_redis_context(&r->server->redis);
    if (ac == NULL) {
        reply(r, busy);
        return KITO_OK;
    }
    ussd_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->server = r->server;
    j->r = r;
    snprintf(j->key, sizeof(j->key), KEY_PREFIX "%s", session_id);
    snprintf(j->phone, sizeof(j->phone), "%s", phone);
    kito_req_client_ip(r, j->ip);
    memcpy(j->text, text, text_len + 1);
    j->text_len = text_len;
    kito_req_retain(r);
    if (redisAsyncCommand(ac, on_session, j, "GET %s", j->key) != REDIS_OK) {
        kito_req_release(r);
        free(j);
        reply(r, busy);
    }
    return KITO_OK;
}
