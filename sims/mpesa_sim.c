/*
 * mpesa_sim: a local M-Pesa Daraja B2C provider for tests and the demo (issue 7). It speaks the
 * protocol of api/adapters/mpesa.h over plain HTTP on a local port (no TLS: it is a local stand-in
 * for the provider, reached by kitod on 127.0.0.1; the callbacks it makes to kitod ARE https, since
 * kitod only speaks TLS, verified against --cacert).
 *
 *   POST /mpesa/b2c/v3/paymentrequest      validates the B2C fields like Daraja (400 with an
 *                                          errorCode otherwise; a repeated
 *                                          OriginatorConversationID is refused), answers
 *                                          {ConversationID, OriginatorConversationID (echoed),
 *                                          ResponseCode "0", ResponseDescription}, then calls
 *                                          the ResultURL back as the mode says
 *   POST /mpesa/transactionstatus/v1/query by OriginatorConversationID: 200 with the payment's
 *                                          "Result" once it is final, 200 without it while it
 *                                          is not, 404 {errorCode} when it never got it
 *   GET  /kito-sim/payments                every payment it received, for tests
 *   POST /kito-sim/callback-base           {"callback_base": "https://127.0.0.1:PORT"}: send
 *                                          callbacks there (keeping the ResultURL's path and
 *                                          query) -- tests start kitod on a port chosen later
 *   GET  /healthz                          200
 *
 * Modes (what happens after a payment request is accepted):
 *   success    calls back ResultCode 0 with a TransactionID after --delay-ms
 *   failure    calls back ResultCode 2001 ("The initiator information is invalid.")
 *   timeout    never calls back; a status query says "in progress" forever
 *   duplicate  calls back success twice
 *   late       calls back success after --late-ms
 *   fail_once  the first request to a wallet fails (2001), later ones succeed
 *   refuse     answers the request itself with 400 errorCode 500.001.1001: nothing is paid
 *   hang       pays (success, callback as usual) but holds the answer for --hang-ms and closes
 *              without one: the client's outcome is unknown
 *   no_conversation_id  pays (success, callback as usual) but its answer, ResponseCode "0",
 *              carries no ConversationID
 *   wrong_amount  pays one unit more than asked and says so (TransactionAmount): Kito must hold
 *              the payout as an anomaly (issue 19)
 *   fail_then_succeed  calls back failure (2001) after --delay-ms, then success for the same
 *              request after --late-ms (and status queries say paid from then): a success after
 *              a recorded failure, which Kito must hold as an anomaly (issue 19)
 * The mode of a request is chosen by the last two digits of PartyB: 91 failure, 92 timeout,
 * 93 duplicate, 94 late, 95 fail_once, 96 refuse, 97 hang, 98 no_conversation_id,
 * 99 wrong_amount, 90 fail_then_succeed; any other wallet gets --mode (default success). A callback
 * that cannot be delivered (kitod down, not 200) is retried every 500 ms up to --callback-tries
 * times.
 *
 * Flags (or environment): --port (KITO_MPESA_SIM_PORT, required), --bind (127.0.0.1), --mode,
 * --delay-ms (200), --late-ms (3000), --hang-ms (15000), --callback-tries (20), --cacert PATH
 * (KITO_MPESA_SIM_CACERT) or --insecure (no certificate check: demo only), --callback-base URL.
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

typedef enum mode {
    SUCCESS,
    FAILURE,
    TIMEOUT,
    DUPLICATE,
    LATE,
    FAIL_ONCE,
    REFUSE,
    HANG,
    NO_CONVERSATION_ID,
    WRONG_AMOUNT,
    FAIL_THEN_SUCCEED
} mode;
static const char *const mode_names[] = {
    "success",          "failure", "timeout", "duplicate",          "late",
    "fail_once",        "refuse",  "hang",    "no_conversation_id", "wrong_amount",
    "fail_then_succeed"};

static sim_options common = {
    .bind = "127.0.0.1", .mode = SUCCESS, .delay_ms = 200, .late_ms = 3000, .hang_ms = 15000};
static struct {
    long callback_tries;
    char callback_base[512];
} opt = {.callback_tries = 20};

typedef struct payment {
    char ocid[65], conversation_id[40], transaction_id[16];
    char party_b[20], occasion[101], result_url[1024];
    char public_name[48]; /* Daraja's ReceiverPartyPublicName: "254708374149 - John Doe" */
    int64_t amount;       /* asked for */
    int64_t paid;         /* what the provider pays and reports (wrong_amount: amount + 1) */
    mode mode;
    int result_code;     /* decided when accepted */
    int64_t final_at_ms; /* the result is final (status queries return it) from then; 0 never */
    int callbacks_delivered;
} payment;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static payment *payments;
static size_t payment_count;
static uint64_t counter;
static char run_prefix[5]; /* makes TransactionIDs unique across runs */

static json_t *daraja_error(const char *code, const char *message)
{
    char rid[32];
    snprintf(rid, sizeof(rid), "sim-%" PRIu64, __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST));
    return json_pack("{s:s, s:s, s:s}", "requestId", rid, "errorCode", code, "errorMessage",
                     message);
}

/* ---- callbacks ------------------------------------------------------------------------------- */

static json_t *result_doc(const payment *p)
{
    json_t *res;
    if (p->result_code == 0) {
        res = json_pack(
            "{s:i, s:i, s:s, s:s, s:s, s:s, s:{s:[{s:s, s:I}, {s:s, s:s}, {s:s, s:s}, {s:s, s:s}]},"
            " s:{s:{s:s, s:s}}}",
            "ResultType", 0, "ResultCode", 0, "ResultDesc",
            "The service request is processed successfully.", "OriginatorConversationID", p->ocid,
            "ConversationID", p->conversation_id, "TransactionID", p->transaction_id,
            "ResultParameters", "ResultParameter", "Key", "TransactionAmount", "Value",
            (json_int_t)p->paid, "Key", "TransactionReceipt", "Value", p->transaction_id, "Key",
            "B2CRecipientIsRegisteredCustomer", "Value", "Y", "Key", "ReceiverPartyPublicName",
            "Value", p->public_name, "ReferenceData", "ReferenceItem", "Key", "QueueTimeoutURL",
            "Value", p->result_url);
    } else {
        res = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:{s:{s:s, s:s}}}", "ResultType", 0,
                        "ResultCode", p->result_code, "ResultDesc",
                        "The initiator information is invalid.", "OriginatorConversationID",
                        p->ocid, "ConversationID", p->conversation_id, "TransactionID",
                        p->transaction_id, "ReferenceData", "ReferenceItem", "Key",
                        "QueueTimeoutURL", "Value", p->result_url);
    }
    return res;
}

/* The URL to call: the ResultURL, or its path and query on --callback-base. */
static void target_url(const char *result_url, char *out, size_t cap)
{
    pthread_mutex_lock(&mu);
    const char *scheme = strstr(result_url, "://");
    const char *path = scheme != NULL ? strchr(scheme + 3, '/') : NULL;
    if (opt.callback_base[0] != '\0' && path != NULL)
        snprintf(out, cap, "%s%s", opt.callback_base, path);
    else
        snprintf(out, cap, "%s", result_url);
    pthread_mutex_unlock(&mu);
}

static bool deliver_once(const char *url, const char *body)
{
    const char *error;
    long status = sim_post(&common.tls, url, "application/json", body, &error);
    if (status != 200)
        sim_log("callback to %.60s...: %s (HTTP %ld)", url, error, status);
    return status == 200;
}

typedef struct callback_plan {
    size_t index; /* into payments */
    long wait_ms;
    int times;
    bool now_paid; /* fail_then_succeed: the payment turns paid before this callback */
} callback_plan;

static void *callback_thread(void *arg)
{
    callback_plan *plan = arg;
    sim_sleep_ms(plan->wait_ms);
    pthread_mutex_lock(&mu);
    if (plan->now_paid)
        payments[plan->index].result_code = 0;
    payment p = payments[plan->index];
    pthread_mutex_unlock(&mu);
    json_t *doc = json_pack("{s:o}", "Result", result_doc(&p));
    char *body = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    char url[1200];
    for (int k = 0; k < plan->times && body != NULL; k++) {
        bool ok = false;
        for (long t = 0; t < opt.callback_tries && !ok; t++) {
            target_url(p.result_url, url, sizeof(url));
            ok = deliver_once(url, body);
            if (!ok)
                sim_sleep_ms(500);
        }
        if (ok) {
            pthread_mutex_lock(&mu);
            payments[plan->index].callbacks_delivered++;
            pthread_mutex_unlock(&mu);
            sim_log("callback %d/%d for %s delivered (ResultCode %d)", k + 1, plan->times, p.ocid,
                    p.result_code);
        }
    }
    free(body);
    free(plan);
    return NULL;
}

static void schedule_callback(size_t index, long wait_ms, int times, bool now_paid)
{
    callback_plan *plan = malloc(sizeof(*plan));
    if (plan == NULL)
        return;
    *plan = (callback_plan){index, wait_ms, times, now_paid};
    if (!sim_spawn(callback_thread, plan))
        free(plan);
}

/* ---- B2C ------------------------------------------------------------------------------------- */

static bool digits(const char *s, size_t min, size_t max)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool url_ok(const char *s)
{
    return s != NULL && strlen(s) < 1000 &&
           (strncmp(s, "https://", 8) == 0 || strncmp(s, "http://", 7) == 0);
}

static mode mode_for(const char *party_b)
{
    size_t n = strlen(party_b);
    if (n >= 2 && party_b[n - 2] == '9' && party_b[n - 1] >= '1' && party_b[n - 1] <= '9')
        return (mode)(party_b[n - 1] - '0'); /* 91 failure ... 99 wrong_amount */
    if (n >= 2 && party_b[n - 2] == '9' && party_b[n - 1] == '0')
        return FAIL_THEN_SUCCEED;
    return (mode)common.mode;
}

static void handle_b2c(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *ocid = sim_json_str(doc, "OriginatorConversationID"),
               *party_b = sim_json_str(doc, "PartyB");
    const char *cmd = sim_json_str(doc, "CommandID"), *url = sim_json_str(doc, "ResultURL");
    const json_t *amount = json_object_get(doc, "Amount");
    const char *bad = NULL;
    if (!json_is_object(doc))
        bad = "Bad Request - Invalid JSON";
    else if (sim_json_str(doc, "InitiatorName") == NULL ||
             sim_json_str(doc, "InitiatorName")[0] == '\0')
        bad = "Bad Request - Invalid InitiatorName";
    else if (sim_json_str(doc, "SecurityCredential") == NULL ||
             sim_json_str(doc, "SecurityCredential")[0] == '\0')
        bad = "Bad Request - Invalid SecurityCredential";
    else if (cmd == NULL ||
             (strcmp(cmd, "BusinessPayment") != 0 && strcmp(cmd, "SalaryPayment") != 0 &&
              strcmp(cmd, "PromotionPayment") != 0))
        bad = "Bad Request - Invalid CommandID";
    else if (!json_is_integer(amount) || json_integer_value(amount) < 1)
        bad = "Bad Request - Invalid Amount";
    else if (!digits(sim_json_str(doc, "PartyA"), 5, 10))
        bad = "Bad Request - Invalid PartyA";
    else if (!digits(party_b, 9, 15))
        bad = "Bad Request - Invalid PartyB";
    else if (sim_json_str(doc, "Remarks") == NULL || strlen(sim_json_str(doc, "Remarks")) < 1 ||
             strlen(sim_json_str(doc, "Remarks")) > 100)
        bad = "Bad Request - Invalid Remarks";
    else if (!url_ok(url) || !url_ok(sim_json_str(doc, "QueueTimeOutURL")))
        bad = "Bad Request - Invalid ResultURL";
    else if (ocid == NULL || strlen(ocid) < 1 || strlen(ocid) > 64)
        bad = "Bad Request - Invalid OriginatorConversationID";
    if (bad != NULL) {
        sim_log("B2C refused: %s", bad);
        sim_respond_json(fd, 400, "Bad Request", daraja_error("400.002.02", bad));
        json_decref(doc);
        return;
    }
    mode m = mode_for(party_b);
    if (m == REFUSE) {
        sim_log("B2C %s refused (mode refuse)", ocid);
        sim_respond_json(fd, 400, "Bad Request",
                         daraja_error("500.001.1001",
                                      "Unable to lock subscriber, a transaction is "
                                      "already in process for the current subscriber"));
        json_decref(doc);
        return;
    }
    pthread_mutex_lock(&mu);
    bool duplicate = false, failed_before = false;
    for (size_t i = 0; i < payment_count; i++) {
        duplicate |= strcmp(payments[i].ocid, ocid) == 0;
        failed_before |= strcmp(payments[i].party_b, party_b) == 0 && payments[i].mode == FAIL_ONCE;
    }
    if (duplicate || payment_count >= PAYMENTS_MAX) {
        pthread_mutex_unlock(&mu);
        sim_respond_json(fd, 400, "Bad Request",
                         daraja_error("400.002.05", duplicate ? "Duplicate OriginatorConversationID"
                                                              : "Too many requests"));
        json_decref(doc);
        return;
    }
    size_t index = payment_count++;
    payment *p = &payments[index];
    memset(p, 0, sizeof(*p));
    uint64_t n = ++counter;
    snprintf(p->ocid, sizeof(p->ocid), "%s", ocid);
    snprintf(p->conversation_id, sizeof(p->conversation_id), "AG_SIM_%08" PRIu64 "_%06u", n,
             (unsigned)(sim_now_ms() % 1000000));
    /* 10 characters like Daraja's receipts, unique across simulator runs: 4 from the run,
     * 6 from the counter (base 36) */
    static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    uint64_t x = n;
    for (int k = 9; k >= 4; k--, x /= 36)
        p->transaction_id[k] = b36[x % 36];
    memcpy(p->transaction_id, run_prefix, 4);
    p->transaction_id[10] = '\0';
    snprintf(p->party_b, sizeof(p->party_b), "%s", party_b);
    snprintf(p->occasion, sizeof(p->occasion), "%s",
             sim_json_str(doc, "Occasion") != NULL ? sim_json_str(doc, "Occasion") : "");
    snprintf(p->result_url, sizeof(p->result_url), "%s", url);
    snprintf(p->public_name, sizeof(p->public_name), "%s - Kito Miner", party_b);
    p->amount = (int64_t)json_integer_value(amount);
    p->paid = m == WRONG_AMOUNT ? p->amount + 1 : p->amount;
    p->mode = m;
    p->result_code =
        (m == FAILURE || m == FAIL_THEN_SUCCEED || (m == FAIL_ONCE && !failed_before)) ? 2001 : 0;
    long wait = m == LATE ? common.late_ms : common.delay_ms;
    p->final_at_ms = m == TIMEOUT ? 0 : sim_now_ms() + wait;
    json_t *ack = json_pack("{s:s, s:s, s:s, s:s}", "ConversationID", p->conversation_id,
                            "OriginatorConversationID", p->ocid, "ResponseCode", "0",
                            "ResponseDescription", "Accept the service request successfully.");
    if (m == NO_CONVERSATION_ID)
        json_object_del(ack, "ConversationID");
    pthread_mutex_unlock(&mu);
    sim_log("B2C %s accepted: %" PRId64 " to %s, mode %s, result %d", ocid,
            (int64_t)json_integer_value(amount), party_b, mode_names[m], p->result_code);
    json_decref(doc);
    if (m != TIMEOUT)
        schedule_callback(index, wait, m == DUPLICATE ? 2 : 1, false);
    if (m == FAIL_THEN_SUCCEED)
        schedule_callback(index, common.late_ms, 1, true);
    if (m == HANG) {
        json_decref(ack);
        sim_sleep_ms(common.hang_ms); /* the client gives up first; we close without an answer */
        return;
    }
    sim_respond_json(fd, 200, "OK", ack);
}

static void handle_status(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *ocid = sim_json_str(doc, "OriginatorConversationID");
    if (ocid == NULL || sim_json_str(doc, "CommandID") == NULL ||
        strcmp(sim_json_str(doc, "CommandID"), "TransactionStatusQuery") != 0) {
        sim_respond_json(
            fd, 400, "Bad Request",
            daraja_error("400.002.02", "Bad Request - Invalid OriginatorConversationID"));
        json_decref(doc);
        return;
    }
    pthread_mutex_lock(&mu);
    payment *p = NULL;
    for (size_t i = 0; i < payment_count && p == NULL; i++)
        if (strcmp(payments[i].ocid, ocid) == 0)
            p = &payments[i];
    json_t *out = NULL;
    if (p != NULL) {
        out = json_pack("{s:s, s:s, s:s, s:s}", "ConversationID", p->conversation_id,
                        "OriginatorConversationID", p->ocid, "ResponseCode", "0",
                        "ResponseDescription", "Accept the service request successfully.");
        if (p->final_at_ms != 0 && sim_now_ms() >= p->final_at_ms)
            json_object_set_new(out, "Result", result_doc(p));
    }
    pthread_mutex_unlock(&mu);
    sim_log("status %s: %s", ocid,
            p == NULL                        ? "not found"
            : json_object_get(out, "Result") ? "final"
                                             : "in progress");
    json_decref(doc);
    if (out == NULL)
        sim_respond_json(fd, 404, "Not Found", daraja_error("404.001.04", "Transaction not found"));
    else
        sim_respond_json(fd, 200, "OK", out);
}

static void handle_list(int fd)
{
    json_t *list = json_array();
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < payment_count; i++) {
        const payment *p = &payments[i];
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:i, s:b}",
                                        "OriginatorConversationID", p->ocid, "ConversationID",
                                        p->conversation_id, "TransactionID", p->transaction_id,
                                        "PartyB", p->party_b, "Amount", (json_int_t)p->paid,
                                        "Occasion", p->occasion, "ResultCode", p->result_code,
                                        "callbacks_delivered", p->callbacks_delivered, "final",
                                        p->final_at_ms != 0 && sim_now_ms() >= p->final_at_ms));
    }
    pthread_mutex_unlock(&mu);
    sim_respond_json(fd, 200, "OK", json_pack("{s:o}", "payments", list));
}

static void handle_callback_base(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *base = sim_json_str(doc, "callback_base");
    if (!url_ok(base) || strlen(base) >= sizeof(opt.callback_base)) {
        sim_respond_json(fd, 400, "Bad Request", daraja_error("400.002.02", "callback_base"));
    } else {
        pthread_mutex_lock(&mu);
        snprintf(opt.callback_base, sizeof(opt.callback_base), "%s", base);
        pthread_mutex_unlock(&mu);
        sim_log("callbacks now go to %s", base);
        sim_respond_json(fd, 200, "OK", json_pack("{s:s}", "callback_base", base));
    }
    json_decref(doc);
}

/* ---- requests ------------------------------------------------------------------------------ */

static void handle(const sim_request *r)
{
    int fd = r->fd;
    if (sim_is(r, "POST", "/mpesa/b2c/v3/paymentrequest") ||
        sim_is(r, "POST", "/mpesa/b2c/v1/paymentrequest"))
        handle_b2c(fd, r->body, r->body_len);
    else if (sim_is(r, "POST", "/mpesa/transactionstatus/v1/query"))
        handle_status(fd, r->body, r->body_len);
    else if (sim_is(r, "GET", "/kito-sim/payments"))
        handle_list(fd);
    else if (sim_is(r, "POST", "/kito-sim/callback-base"))
        handle_callback_base(fd, r->body, r->body_len);
    else if (sim_is(r, "GET", "/healthz"))
        sim_respond_json(fd, 200, "OK", json_pack("{s:s}", "status", "ok"));
    else
        sim_respond_json(fd, 404, "Not Found", daraja_error("404.001.01", "Resource not found"));
}

/* A request that could not be read: Daraja's 400. */
static void malformed(int fd)
{
    sim_respond_json(fd, 400, "Bad Request", daraja_error("400.002.01", "Bad Request"));
}

/* ---- main ------------------------------------------------------------------------------------ */

static int usage(void)
{
    return sim_usage("usage: mpesa_sim --port N [--bind ADDR] [--mode "
                     "success|failure|timeout|duplicate|late|fail_once|refuse|hang]\n"
                     "       [--delay-ms N] [--late-ms N] [--hang-ms N] [--callback-tries N]\n"
                     "       [--cacert PATH | --insecure] [--callback-base URL]\n");
}

static bool callback_base_ok(const char *v)
{
    return url_ok(v);
}

int main(int argc, char **argv)
{
    sim_set_name("mpesa_sim");
    if (getenv("KITO_MPESA_SIM_PORT") != NULL &&
        !sim_parse_long(getenv("KITO_MPESA_SIM_PORT"), 1, 65535, &common.port))
        return usage();
    common.tls.cacert = getenv("KITO_MPESA_SIM_CACERT");
    const sim_flag own[] = {
        {"--callback-tries", SIM_FLAG_LONG, &opt.callback_tries, 1, 1000, NULL, 0, NULL},
        {"--callback-base", SIM_FLAG_TEXT, opt.callback_base, 0, 0, NULL, sizeof(opt.callback_base),
         callback_base_ok},
    };
    if (!sim_parse_args(argc, argv, &common, SIM_WITH_MODE | SIM_WITH_LATE | SIM_WITH_TLS,
                        mode_names, sizeof(mode_names) / sizeof(mode_names[0]), own,
                        sizeof(own) / sizeof(own[0])))
        return usage();
    payments = calloc(PAYMENTS_MAX, sizeof(*payments));
    if (payments == NULL) {
        sim_log("cannot start (memory)");
        return 1;
    }
    sim_run_prefix(run_prefix);
    return sim_serve(common.bind, common.port, mode_names[common.mode], handle, malformed);
}
