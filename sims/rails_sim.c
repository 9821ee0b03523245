/*
 * rails_sim: a local MTN MoMo or Airtel Money disbursement provider for tests and the demo
 * (issue 19). One program, one rail per process (--rail momo | airtel), speaking the protocol of
 * api/adapters/rail_momo.c or rail_airtel.c (whose header comments cite the providers'
 * documentation) over plain HTTP on a local port.
 *
 *   --rail momo
 *     POST /disbursement/token/                Basic auth + Ocp-Apim-Subscription-Key -> token
 *     POST /disbursement/v1_0/transfer          Bearer, X-Reference-Id (UUID), X-Target-Environment
 *                                               -> 202; 409 for a reference seen before
 *     GET  /disbursement/v1_0/transfer/{ref}    -> 200 {status PENDING|SUCCESSFUL|FAILED, amount,
 *                                               currency, payee, financialTransactionId}; 404
 *   --rail airtel
 *     POST /auth/oauth2/token                   {client_id, client_secret, grant_type} -> token
 *     POST /standard/v2/disbursements/          Bearer, X-Country, X-Currency -> 200 TIP; 409 for
 *                                               a transaction.id seen before
 *     GET  /standard/v2/disbursements/{id}      -> 200 {data.transaction.status TIP|TS|TF}; 404
 *   both
 *     GET  /kito-sim/payments                   every transfer received (payout id, wallet,
 *                                               amount asked and paid, result), tokens issued
 *     POST /kito-sim/revoke-tokens              every token issued so far is refused (401) from
 *                                               now on: tests the client's refresh after a 401
 *     GET  /healthz                             200
 *
 * A call with a missing, unknown, expired or revoked token gets 401. Tokens live --token-ttl-s
 * (MoMo: 3600, as MTN's; Airtel: 180, as Airtel's).
 *
 * Modes, by the last two digits of the wallet (as mpesa_sim): 91 failure, 92 timeout (pending
 * forever), 95 fail_once (the first transfer to a wallet fails), 96 refuse (400 at once:
 * nothing paid), 97 hang (pays, then holds the answer for --hang-ms and closes without one: a
 * lost answer), 99 wrong_amount (pays and reports one unit more; Airtel does not report amounts),
 * 90 fail_then_succeed (FAILED after --delay-ms, then SUCCESSFUL from --late-ms on); others
 * succeed after --delay-ms. MoMo's callback: a transfer with an X-Callback-Url gets the status
 * document POSTed there once when it is final (as MTN documents: once, no retry), verified with
 * --cacert; 93 duplicate_callback sends it twice, 94 late_callback after --late-ms, 98
 * no_callback never (the status enquiry must resolve it); /kito-sim/payments counts
 * callbacks_delivered.
 *
 * Flags: --rail, --port (required), --bind (127.0.0.1), --delay-ms (200), --late-ms (3000),
 * --hang-ms (15000), --cacert PATH / --insecure (how kitod is called back), --latency-ms (0:
 * every provider call is answered this much later, as a real provider's round trip;
 * /kito-sim/payments reports in_flight_max, the most calls being answered at once),
 * --token-ttl-s.
 */
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sims/simlib.h"

#define PAYMENTS_MAX 100000
#define TOKENS_MAX 4096

typedef enum mode {
    SUCCESS,
    FAILURE,
    TIMEOUT,
    FAIL_ONCE,
    REFUSE,
    HANG,
    WRONG_AMOUNT,
    FAIL_THEN_SUCCEED,
    DUPLICATE_CALLBACK,
    LATE_CALLBACK,
    NO_CALLBACK
} mode;
static const char *const mode_names[] = {
    "success",    "failure",      "timeout",           "fail_once",          "refuse",
    "hang",       "wrong_amount", "fail_then_succeed", "duplicate_callback", "late_callback",
    "no_callback"};

static sim_options common = {
    .bind = "127.0.0.1", .delay_ms = 200, .late_ms = 3000, .hang_ms = 15000};
static struct {
    bool airtel;
    long token_ttl_s, latency_ms;
} opt;

typedef struct payment {
    char reference[80], payout[101], wallet[24], currency[4], txn[24];
    int64_t amount, paid;
    mode mode;
    bool failed_first;                  /* fail_once: this one fails */
    int64_t final_at_ms, success_at_ms; /* 0: never */
    int callbacks;                      /* MoMo callbacks delivered (HTTP 2xx) */
} payment;

typedef struct token {
    char value[48];
    int64_t expires_ms;
    bool revoked;
} token;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static payment *payments;
static size_t payment_count;
static token tokens[TOKENS_MAX];
static size_t token_count;
static uint64_t counter;
static long in_flight, in_flight_max; /* provider calls being answered now, and the most at once */
static char run_prefix[5];

/* The status line's reason is always "X": clients read the code. */
static void respond(int fd, int status, json_t *doc)
{
    sim_respond_json(fd, status, "X", doc);
}

static json_t *momo_error(const char *code, const char *message)
{
    return json_pack("{s:s, s:s}", "code", code, "message", message);
}

static json_t *airtel_status(bool success, const char *response_code, const char *message)
{
    return json_pack("{s:s, s:s, s:b, s:s, s:s}", "response_code", response_code, "code",
                     success ? "200" : "400", "success", success, "result_code",
                     success ? "ESB000010" : "ESB000001", "message", message);
}

/* An error answer in the rail's own shape: Airtel's status object or MoMo's {code, message}. */
static void rail_error(int fd, int status, const char *airtel_code, const char *airtel_message,
                       const char *momo_code, const char *momo_message)
{
    respond(fd, status,
            opt.airtel
                ? json_pack("{s:o}", "status", airtel_status(false, airtel_code, airtel_message))
                : momo_error(momo_code, momo_message));
}

static bool token_ok(const char *head)
{
    char auth[256];
    if (!sim_header(head, "Authorization", auth, sizeof(auth)) || strncmp(auth, "Bearer ", 7) != 0)
        return false;
    bool ok = false;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < token_count && !ok; i++)
        ok = strcmp(tokens[i].value, auth + 7) == 0 && !tokens[i].revoked &&
             sim_now_ms() < tokens[i].expires_ms;
    pthread_mutex_unlock(&mu);
    return ok;
}

static void unauthorized(int fd)
{
    rail_error(fd, 401, "DP00900001000", "Invalid token", "NOT_AUTHORIZED",
               "Access token is missing, invalid or expired");
}

static void handle_token(int fd, const char *head, const char *body, size_t len)
{
    bool ok;
    char v[512];
    if (opt.airtel) {
        json_t *doc = json_loadb(body, len, 0, NULL);
        const char *id = json_string_value(json_object_get(doc, "client_id"));
        const char *secret = json_string_value(json_object_get(doc, "client_secret"));
        const char *grant = json_string_value(json_object_get(doc, "grant_type"));
        ok = id != NULL && id[0] != '\0' && secret != NULL && secret[0] != '\0' && grant != NULL &&
             strcmp(grant, "client_credentials") == 0;
        json_decref(doc);
    } else {
        ok = sim_header(head, "Authorization", v, sizeof(v)) && strncmp(v, "Basic ", 6) == 0 &&
             strlen(v) > 10 && sim_header(head, "Ocp-Apim-Subscription-Key", v, sizeof(v)) &&
             v[0] != '\0';
    }
    if (!ok) {
        unauthorized(fd);
        return;
    }
    pthread_mutex_lock(&mu);
    token *t = &tokens[token_count < TOKENS_MAX ? token_count++ : TOKENS_MAX - 1];
    snprintf(t->value, sizeof(t->value), "%s-token-%s-%" PRIu64, opt.airtel ? "airtel" : "momo",
             run_prefix, ++counter);
    t->expires_ms = sim_now_ms() + opt.token_ttl_s * 1000;
    t->revoked = false;
    json_t *out = opt.airtel ? json_pack("{s:s, s:s, s:s}", "access_token", t->value, "expires_in",
                                         "", "token_type", "bearer")
                             : json_pack("{s:s, s:s, s:I}", "access_token", t->value, "token_type",
                                         "access_token", "expires_in", (json_int_t)opt.token_ttl_s);
    pthread_mutex_unlock(&mu);
    if (opt.airtel) {
        char ttl[24];
        snprintf(ttl, sizeof(ttl), "%ld", opt.token_ttl_s); /* Airtel sends it as a string */
        json_object_set_new(out, "expires_in", json_string(ttl));
    }
    sim_log("token issued");
    respond(fd, 200, out);
}

static mode mode_for(const char *wallet)
{
    size_t n = strlen(wallet);
    if (n < 2 || wallet[n - 2] != '9')
        return SUCCESS;
    switch (wallet[n - 1]) {
    case '1':
        return FAILURE;
    case '2':
        return TIMEOUT;
    case '5':
        return FAIL_ONCE;
    case '6':
        return REFUSE;
    case '7':
        return HANG;
    case '9':
        return WRONG_AMOUNT;
    case '0':
        return FAIL_THEN_SUCCEED;
    case '3':
        return DUPLICATE_CALLBACK;
    case '4':
        return LATE_CALLBACK;
    case '8':
        return NO_CALLBACK;
    default:
        return SUCCESS;
    }
}

/* Records a transfer; returns its index, or -1 for a reference seen before. */
static long record(const char *reference, const char *payout, const char *wallet,
                   const char *currency, int64_t amount, mode m)
{
    pthread_mutex_lock(&mu);
    bool failed_before = false;
    for (size_t i = 0; i < payment_count; i++) {
        if (strcmp(payments[i].reference, reference) == 0) {
            pthread_mutex_unlock(&mu);
            return -1;
        }
        failed_before |= strcmp(payments[i].wallet, wallet) == 0 && payments[i].mode == FAIL_ONCE;
    }
    if (payment_count >= PAYMENTS_MAX) {
        pthread_mutex_unlock(&mu);
        return -1;
    }
    size_t index = payment_count++;
    payment *p = &payments[index];
    memset(p, 0, sizeof(*p));
    snprintf(p->reference, sizeof(p->reference), "%s", reference);
    snprintf(p->payout, sizeof(p->payout), "%s", payout);
    snprintf(p->wallet, sizeof(p->wallet), "%s", wallet);
    snprintf(p->currency, sizeof(p->currency), "%s", currency);
    snprintf(p->txn, sizeof(p->txn), "%s%s%06" PRIu64, opt.airtel ? "AM" : "MM", run_prefix,
             ++counter);
    p->amount = amount;
    p->paid = m == WRONG_AMOUNT ? amount + 1 : amount;
    p->mode = m;
    p->failed_first = m == FAIL_ONCE && !failed_before;
    int64_t now = sim_now_ms();
    p->final_at_ms = m == TIMEOUT ? 0 : now + common.delay_ms;
    p->success_at_ms = m == FAIL_THEN_SUCCEED                              ? now + common.late_ms
                       : (m == FAILURE || p->failed_first || m == TIMEOUT) ? 0
                                                                           : p->final_at_ms;
    pthread_mutex_unlock(&mu);
    sim_log("transfer %s: %" PRId64 " %s to %s (payout %s), mode %s", reference, amount, currency,
            wallet, payout, mode_names[m]);
    return (long)index;
}

/* "SUCCESSFUL", "FAILED" or "PENDING" now, for payment p (mu held). */
static const char *state_of(const payment *p)
{
    int64_t now = sim_now_ms();
    if (p->success_at_ms != 0 && now >= p->success_at_ms)
        return "SUCCESSFUL";
    if (p->final_at_ms != 0 && now >= p->final_at_ms)
        return "FAILED";
    return "PENDING";
}

/* MoMo's status document for p (mu held): the enquiry's answer and the callback's body. */
static json_t *momo_status_locked(const payment *p)
{
    const char *st = state_of(p);
    bool paid = strcmp(st, "SUCCESSFUL") == 0;
    char amount[24];
    snprintf(amount, sizeof(amount), "%" PRId64, p->paid);
    json_t *out =
        json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:s}", "amount", amount, "currency",
                  p->currency, "financialTransactionId", paid ? p->txn : "", "externalId",
                  p->payout, "payee", "partyIdType", "MSISDN", "partyId", p->wallet, "status", st);
    if (strcmp(st, "FAILED") == 0)
        json_object_set_new(out, "reason",
                            json_pack("{s:s, s:s}", "code", "PAYEE_NOT_FOUND", "message",
                                      "The payee could not be found"));
    return out;
}

typedef struct callback_plan {
    size_t index;
    char url[700];
    int copies;   /* 2: duplicate_callback */
    long wait_ms; /* from the transfer */
} callback_plan;

/* MoMo's callback (momodeveloper.mtn.com/api-documentation/callback): once, by POST, the status
 * document, to the X-Callback-Url of the transfer; no retry (MTN's rule). duplicate_callback
 * sends it twice; late_callback after --late-ms. */
static void *callback_thread(void *arg)
{
    callback_plan *c = arg;
    sim_sleep_ms(c->wait_ms);
    for (int k = 0; k < c->copies; k++) {
        pthread_mutex_lock(&mu);
        json_t *doc = momo_status_locked(&payments[c->index]);
        pthread_mutex_unlock(&mu);
        char *body = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        long status =
            body != NULL ? sim_post(&common.tls, c->url, "application/json", body, NULL) : 0;
        free(body);
        pthread_mutex_lock(&mu);
        if (status >= 200 && status < 300)
            payments[c->index].callbacks++;
        pthread_mutex_unlock(&mu);
        sim_log("callback %d for %s: HTTP %ld", k + 1, payments[c->index].reference, status);
    }
    free(c);
    return NULL;
}

/* Plans the callback of transfer index to url, as its mode says. */
static void plan_callback(size_t index, const char *url, mode m)
{
    if (m == NO_CALLBACK || m == TIMEOUT || m == HANG || url[0] == '\0')
        return;
    callback_plan *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->index = index;
    snprintf(c->url, sizeof(c->url), "%s", url);
    c->copies = m == DUPLICATE_CALLBACK ? 2 : 1;
    c->wait_ms = m == LATE_CALLBACK || m == FAIL_THEN_SUCCEED ? common.late_ms : common.delay_ms;
    if (!sim_spawn(callback_thread, c))
        free(c);
}

static void handle_transfer(int fd, const char *head, const char *body, size_t len)
{
    if (!token_ok(head)) {
        unauthorized(fd);
        return;
    }
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    char reference[80] = "", country[8] = "", currency[8] = "";
    const char *wallet = NULL, *payout = NULL;
    int64_t amount = 0;
    bool ok;
    if (opt.airtel) {
        const json_t *t = json_object_get(doc, "transaction");
        snprintf(reference, sizeof(reference), "%s",
                 json_string_value(json_object_get(t, "id")) != NULL
                     ? json_string_value(json_object_get(t, "id"))
                     : "");
        wallet = json_string_value(json_object_get(json_object_get(doc, "payee"), "msisdn"));
        payout = json_string_value(json_object_get(doc, "reference"));
        amount = json_integer_value(json_object_get(t, "amount"));
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *pin = json_string_value(json_object_get(doc, "pin"));
        ok = sim_header(head, "X-Country", country, sizeof(country)) &&
             sim_header(head, "X-Currency", currency, sizeof(currency)) && reference[0] != '\0' &&
             wallet != NULL && strlen(wallet) >= 7 && wallet[0] != '+' && payout != NULL &&
             amount >= 1 && type != NULL && strcmp(type, "B2C") == 0 && pin != NULL &&
             pin[0] != '\0';
    } else {
        char env[64];
        const char *a = json_string_value(json_object_get(doc, "amount"));
        const json_t *payee = json_object_get(doc, "payee");
        wallet = json_string_value(json_object_get(payee, "partyId"));
        payout = json_string_value(json_object_get(doc, "externalId"));
        snprintf(currency, sizeof(currency), "%s",
                 json_string_value(json_object_get(doc, "currency")) != NULL
                     ? json_string_value(json_object_get(doc, "currency"))
                     : "");
        amount = a != NULL ? strtoll(a, NULL, 10) : 0;
        ok = sim_header(head, "X-Reference-Id", reference, sizeof(reference)) &&
             strlen(reference) == 36 &&
             sim_header(head, "X-Target-Environment", env, sizeof(env)) &&
             sim_header(head, "Ocp-Apim-Subscription-Key", env, sizeof(env)) && wallet != NULL &&
             payout != NULL && amount >= 1 && strlen(currency) == 3 &&
             strcmp(json_string_value(json_object_get(payee, "partyIdType")) != NULL
                        ? json_string_value(json_object_get(payee, "partyIdType"))
                        : "",
                    "MSISDN") == 0;
    }
    if (!ok) {
        sim_log("transfer refused: malformed");
        rail_error(fd, 400, "DP00900001003", "Invalid request", "INVALID_REQUEST", "Bad request");
        json_decref(doc);
        return;
    }
    mode m = mode_for(wallet);
    if (m == REFUSE) {
        rail_error(fd, 400, "DP00900001012", "Refused by policy", "NOT_ALLOWED",
                   "The payee is not allowed to receive");
        json_decref(doc);
        return;
    }
    long index = record(reference, payout, wallet, currency, amount, m);
    json_decref(doc);
    if (index < 0) {
        /* a reference seen before: never a second payment */
        rail_error(fd, 409, "DP00900001009", "Duplicate id", "RESOURCE_ALREADY_EXIST",
                   "Duplicated reference id");
        return;
    }
    if (m == HANG) {
        sim_sleep_ms(common.hang_ms); /* the client gives up first; we close without an answer */
        return;
    }
    if (!opt.airtel) {
        char url[700];
        if (sim_header(head, "X-Callback-Url", url, sizeof(url)))
            plan_callback((size_t)index, url, m);
        respond(fd, 202, NULL);
        return;
    }
    pthread_mutex_lock(&mu);
    json_t *out =
        json_pack("{s:{s:{s:s, s:s, s:s, s:s, s:s}}, s:o}", "data", "transaction", "reference_id",
                  payments[index].txn, "airtel_money_id", "", "id", payments[index].reference,
                  "status", "TIP", "message", "In process", "status",
                  airtel_status(true, "DP00900001006", "Transaction in process"));
    pthread_mutex_unlock(&mu);
    respond(fd, 200, out);
}

static void handle_enquiry(int fd, const char *head, const char *ref)
{
    if (!token_ok(head)) {
        unauthorized(fd);
        return;
    }
    char reference[80];
    snprintf(reference, sizeof(reference), "%.*s", (int)strcspn(ref, "?"), ref);
    json_t *out = NULL;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < payment_count && out == NULL; i++) {
        const payment *p = &payments[i];
        if (strcmp(p->reference, reference) != 0)
            continue;
        const char *st = state_of(p);
        bool paid = strcmp(st, "SUCCESSFUL") == 0;
        if (opt.airtel)
            out = json_pack("{s:{s:{s:s, s:s, s:s, s:s}}, s:o}", "data", "transaction",
                            "airtel_money_id", paid ? p->txn : "", "id", p->reference, "status",
                            paid                        ? "TS"
                            : strcmp(st, "FAILED") == 0 ? "TF"
                                                        : "TIP",
                            "message", paid ? "Paid" : st, "status",
                            airtel_status(true, "DP00900001001", "Success"));
        else
            out = momo_status_locked(p);
    }
    pthread_mutex_unlock(&mu);
    if (out == NULL)
        rail_error(fd, 404, "DP00900001011", "Not found", "RESOURCE_NOT_FOUND",
                   "Requested resource was not found.");
    else
        respond(fd, 200, out);
}

static void handle_list(int fd)
{
    json_t *list = json_array();
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < payment_count; i++) {
        const payment *p = &payments[i];
        const char *st = state_of(p);
        json_array_append_new(
            list,
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:b, s:i}", "reference", p->reference,
                      "payout", p->payout, "wallet", p->wallet, "amount", (json_int_t)p->amount,
                      "paid_amount", (json_int_t)p->paid, "status", st, "mode", mode_names[p->mode],
                      "paid", strcmp(st, "SUCCESSFUL") == 0, "callbacks_delivered", p->callbacks));
    }
    json_t *out = json_pack("{s:o, s:I, s:I}", "payments", list, "tokens_issued",
                            (json_int_t)token_count, "in_flight_max", (json_int_t)in_flight_max);
    pthread_mutex_unlock(&mu);
    respond(fd, 200, out);
}

static void handle(const sim_request *r)
{
    int fd = r->fd;
    const char *path = r->path,
               *token_path = opt.airtel ? "/auth/oauth2/token" : "/disbursement/token/";
    const char *transfer_path =
        opt.airtel ? "/standard/v2/disbursements/" : "/disbursement/v1_0/transfer";
    size_t tl = strlen(transfer_path);
    /* a provider call (not the simulator's own pages) is answered --latency-ms late, and counted
     * while it is being answered: tests see how many calls a client has in flight at most */
    bool provider = strncmp(path, "/kito-sim/", 10) != 0 && strcmp(path, "/healthz") != 0;
    if (provider) {
        pthread_mutex_lock(&mu);
        if (++in_flight > in_flight_max)
            in_flight_max = in_flight;
        pthread_mutex_unlock(&mu);
        if (opt.latency_ms > 0)
            sim_sleep_ms(opt.latency_ms);
    }
    if (sim_is(r, "POST", token_path))
        handle_token(fd, r->head, r->body, r->body_len);
    else if (sim_is(r, "POST", transfer_path))
        handle_transfer(fd, r->head, r->body, r->body_len);
    else if (strcmp(r->method, "GET") == 0 && strncmp(path, transfer_path, tl) == 0 &&
             path[tl] != '\0')
        handle_enquiry(fd, r->head, path + tl + (path[tl] == '/' ? 1 : 0));
    else if (sim_is(r, "GET", "/kito-sim/payments"))
        handle_list(fd);
    else if (sim_is(r, "POST", "/kito-sim/revoke-tokens")) {
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < token_count; i++)
            tokens[i].revoked = true;
        pthread_mutex_unlock(&mu);
        sim_log("every token revoked");
        respond(fd, 200, json_pack("{s:b}", "revoked", 1));
    } else if (sim_is(r, "GET", "/healthz"))
        respond(fd, 200, json_pack("{s:s}", "status", "ok"));
    else
        respond(fd, 404, momo_error("RESOURCE_NOT_FOUND", "No such path"));
    if (provider) {
        pthread_mutex_lock(&mu);
        in_flight--;
        pthread_mutex_unlock(&mu);
    }
}

static int usage(void)
{
    return sim_usage("usage: rails_sim --rail momo|airtel --port N [--bind ADDR] [--delay-ms N]\n"
                     "       [--late-ms N] [--hang-ms N] [--cacert PATH | --insecure]\n"
                     "       [--latency-ms N] [--token-ttl-s N]\n");
}

int main(int argc, char **argv)
{
    const char *rail = NULL;
    sim_set_name("rails_sim");
    const sim_flag own[] = {
        {"--rail", SIM_FLAG_STRING, &rail, 0, 0, NULL, 0, NULL},
        {"--token-ttl-s", SIM_FLAG_LONG, &opt.token_ttl_s, 1, 86400, NULL, 0, NULL},
        {"--latency-ms", SIM_FLAG_LONG, &opt.latency_ms, 0, 60000, NULL, 0, NULL},
    };
    if (!sim_parse_args(argc, argv, &common, SIM_WITH_LATE | SIM_WITH_TLS, NULL, 0, own,
                        sizeof(own) / sizeof(own[0])) ||
        rail == NULL || (strcmp(rail, "momo") != 0 && strcmp(rail, "airtel") != 0))
        return usage();
    opt.airtel = strcmp(rail, "airtel") == 0;
    sim_set_name(opt.airtel ? "rails_sim[airtel]" : "rails_sim[momo]");
    if (opt.token_ttl_s == 0)
        opt.token_ttl_s = opt.airtel ? 180 : 3600;
    payments = calloc(PAYMENTS_MAX, sizeof(*payments));
    if (payments == NULL) {
        sim_log("cannot start (memory)");
        return 1;
    }
    sim_run_prefix(run_prefix);
    return sim_serve(common.bind, common.port, NULL, handle, NULL);
}
