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
 *   POST /mpesa/transactionstatus/v1/query Transaction Status, asynchronous as Daraja's: 200
 *                                          {ResponseCode "0"} says the query was taken; the result
 *                                          ({"Result": ... ResultParameters with
 *                                          TransactionStatus "Completed"/"Failed"/"Pending",
 *                                          ReceiptNo, Amount, CreditPartyName,
 *                                          OriginatorConversationID}) goes to the query's
 *                                          ResultURL; for a payment it never got, ResultCode 1
 *   GET  /kito-sim/payments                every payment it received, for tests
 *   POST /kito-sim/callback-base           {"callback_base": "https://127.0.0.1:PORT"}: send
 *                                          callbacks there (keeping the ResultURL's path and
 *                                          query) -- tests start kitod on a port chosen later
 *   GET  /oauth/v1/generate?grant_type=client_credentials
 *                                          Daraja's OAuth: Basic base64(consumer key:secret)
 *                                          (--consumer-key, --consumer-secret) -> 200
 *                                          {"access_token", "expires_in": "<--token-ttl-s>"};
 *                                          wrong credentials -> 400 errorCode 400.008.01
 *   POST /kito-sim/expire-tokens           every token issued so far expires now: the next
 *                                          call gets 401 (tests the client's refresh)
 *   POST /mpesa/c2b/v2/registerurl         Daraja C2B Register URL: {ShortCode, ResponseType,
 *                                          ConfirmationURL, ValidationURL}
 *   POST /kito-sim/c2b                     plays a customer paying the paybill (BillRefNumber,
 *                                          Amount, MSISDN, ShortCode[, TransID, times]):
 *                                          validation, then confirmation(s), to the URLs
 *                                          registered
 *   GET  /healthz                          200
 *
 * Every Daraja call (B2C, status) needs "Authorization: Bearer <token>" with a token this
 * simulator issued that has not expired, else 401 {"errorCode": "404.001.03", "errorMessage":
 * "Invalid Access Token"}. The SecurityCredential is decrypted with --key (the private key of the
 * certificate kitod encrypts with, made by the test or `ops/kito run` with openssl, never
 * committed) and compared with --initiator-password: like Daraja, a wrong one is accepted and
 * then fails with ResultCode 2001 ("The initiator information is invalid."); nothing is paid.
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
 *   lost       pays (success) but holds the answer like hang AND never calls the ResultURL:
 *              only a Transaction Status query can tell Kito the outcome
 * --status-result normal|late|duplicate|none: a status result comes after --delay-ms, after
 * --late-ms, twice, or never.
 * The mode of a request is chosen by the last two digits of PartyB: 89 lost, 91 failure, 92
 * timeout, 93 duplicate, 94 late, 95 fail_once, 96 refuse, 97 hang, 98 no_conversation_id, 99
 * wrong_amount, 90 fail_then_succeed; any other wallet gets --mode (default success). A callback
 * that cannot be delivered (kitod down, not 200) is retried every 500 ms up to --callback-tries
 * times.
 *
 * Flags (or environment): --port (KITO_MPESA_SIM_PORT, required), --bind (127.0.0.1), --mode,
 * --delay-ms (200), --late-ms (3000), --hang-ms (15000), --callback-tries (20), --cacert PATH
 * (KITO_MPESA_SIM_CACERT) or --insecure (no certificate check: demo only), --callback-base URL,
 * --consumer-key and --consumer-secret (KITO_MPESA_SIM_CONSUMER_KEY, _SECRET; required),
 * --token-ttl-s (3599), --key PATH (the private key, PEM; required) and --initiator-password
 * (KITO_MPESA_SIM_INITIATOR_PASSWORD; required). Prefer the environment for the secrets: a
 * command line is visible to every user of the machine.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_MAX 65536
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
    FAIL_THEN_SUCCEED,
    LOST
} mode;
static const char *const mode_names[] = {
    "success",           "failure", "timeout", "duplicate",          "late",
    "fail_once",         "refuse",  "hang",    "no_conversation_id", "wrong_amount",
    "fail_then_succeed", "lost"};

/* What the simulator does with the result of a Transaction Status query (--status-result). */
typedef enum status_result {
    STATUS_NORMAL,
    STATUS_LATE,
    STATUS_DUPLICATE,
    STATUS_NONE
} status_result;
static const char *const status_result_names[] = {"normal", "late", "duplicate", "none"};

static struct {
    const char *bind;
    int port;
    mode mode;
    long delay_ms, late_ms, hang_ms, callback_tries, token_ttl_s;
    const char *cacert;
    bool insecure;
    char callback_base[512];
    const char *consumer_key, *consumer_secret, *initiator_password;
    status_result status_result;
    EVP_PKEY *key; /* decrypts SecurityCredential */
} opt = {.bind = "127.0.0.1",
         .mode = SUCCESS,
         .delay_ms = 200,
         .late_ms = 3000,
         .hang_ms = 15000,
         .callback_tries = 20,
         .token_ttl_s = 3599};

#define TOKENS_MAX 4096
typedef struct token {
    char value[48];
    int64_t expires_ms;
} token;
static token tokens[TOKENS_MAX];
static size_t token_count;
static uint64_t unauthorized_calls; /* 401s answered: the client's retries after a refresh */
static uint64_t status_queries;     /* Transaction Status queries taken */

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
    bool credential_ok; /* the SecurityCredential decrypted to --initiator-password */
} payment;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static payment *payments;
static size_t payment_count;
static uint64_t counter;
static char run_prefix[5]; /* makes TransactionIDs unique across runs */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("mpesa_sim: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
}

/* ---- HTTP ------------------------------------------------------------------------------------ */

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void respond(int fd, int status, const char *reason, json_t *doc)
{
    char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    size_t len = body != NULL ? strlen(body) : 0;
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, len);
    send_all(fd, head, (size_t)n);
    if (body != NULL)
        send_all(fd, body, len);
    free(body);
}

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
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, NULL);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
    if (opt.cacert != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opt.cacert);
    if (opt.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (devnull != NULL)
        fclose(devnull);
    if (rc != CURLE_OK || status != 200)
        logmsg("callback to %.60s...: %s (HTTP %ld)", url, curl_easy_strerror(rc), status);
    return rc == CURLE_OK && status == 200;
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
    sleep_ms(plan->wait_ms);
    pthread_mutex_lock(&mu);
    if (plan->now_paid && payments[plan->index].credential_ok)
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
                sleep_ms(500);
        }
        if (ok) {
            pthread_mutex_lock(&mu);
            payments[plan->index].callbacks_delivered++;
            pthread_mutex_unlock(&mu);
            logmsg("callback %d/%d for %s delivered (ResultCode %d)", k + 1, plan->times, p.ocid,
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
    pthread_t t;
    if (plan == NULL)
        return;
    *plan = (callback_plan){index, wait_ms, times, now_paid};
    if (pthread_create(&t, NULL, callback_thread, plan) != 0) {
        free(plan);
        return;
    }
    pthread_detach(t);
}

/* ---- OAuth and SecurityCredential ------------------------------------------------------------ */

/* A header's value in the request head (case-insensitive name), copied into out. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, nl) == 0 && p[2 + nl] == ':') {
            const char *v = p + 3 + nl;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            snprintf(out, cap, "%.*s", (int)n, v);
            return true;
        }
        if (p[2] == '\r')
            break; /* end of the head */
    }
    return false;
}

/* Daraja's OAuth: GET /oauth/v1/generate?grant_type=client_credentials with Basic auth. */
static void handle_token(int fd, const char *head)
{
    char auth[512], want[512], b64[700];
    snprintf(want, sizeof(want), "%s:%s", opt.consumer_key, opt.consumer_secret);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)want, (int)strlen(want));
    if (!header_value(head, "Authorization", auth, sizeof(auth)) ||
        strncmp(auth, "Basic ", 6) != 0 || strcmp(auth + 6, b64) != 0) {
        logmsg("token refused: wrong consumer key or secret");
        respond(fd, 400, "Bad Request",
                daraja_error("400.008.01", "Invalid Authentication passed"));
        return;
    }
    pthread_mutex_lock(&mu);
    token *t = &tokens[token_count < TOKENS_MAX ? token_count++ : TOKENS_MAX - 1];
    uint8_t rnd[12];
    FILE *ur = fopen("/dev/urandom", "rb");
    if (ur == NULL || fread(rnd, 1, sizeof(rnd), ur) != sizeof(rnd))
        memset(rnd, (int)token_count, sizeof(rnd));
    if (ur != NULL)
        fclose(ur);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(t->value + 2 * i, 3, "%02x", rnd[i]);
    t->expires_ms = now_ms() + opt.token_ttl_s * 1000;
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", opt.token_ttl_s); /* Daraja sends it as a string */
    json_t *out = json_pack("{s:s, s:s}", "access_token", t->value, "expires_in", ttl);
    size_t issued = token_count;
    pthread_mutex_unlock(&mu);
    logmsg("token %zu issued (%ld s)", issued, opt.token_ttl_s);
    respond(fd, 200, "OK", out);
}

/* true when the request carries a live token; else answers 401 as Daraja does. */
static bool bearer_ok(int fd, const char *head)
{
    char auth[256];
    bool ok = false;
    if (header_value(head, "Authorization", auth, sizeof(auth)) &&
        strncmp(auth, "Bearer ", 7) == 0) {
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < token_count && !ok; i++)
            ok = strcmp(tokens[i].value, auth + 7) == 0 && now_ms() < tokens[i].expires_ms;
        pthread_mutex_unlock(&mu);
    }
    if (!ok) {
        __atomic_add_fetch(&unauthorized_calls, 1, __ATOMIC_SEQ_CST);
        logmsg("401: missing, unknown or expired access token");
        respond(fd, 401, "Unauthorized", daraja_error("404.001.03", "Invalid Access Token"));
    }
    return ok;
}

/* Decrypts a SecurityCredential (base64 of RSA PKCS #1 v1.5) and compares it with the
 * initiator password. */
static bool credential_ok(const char *b64)
{
    size_t len = b64 != NULL ? strlen(b64) : 0;
    if (len == 0 || len > 2048 || opt.key == NULL)
        return false;
    unsigned char raw[2048], plain[1024];
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)len);
    if (n <= 0)
        return false;
    while (len > 0 && b64[len - 1] == '=') { /* EVP_DecodeBlock counts the padding */
        n--;
        len--;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(opt.key, NULL);
    size_t out = sizeof(plain);
    bool ok = ctx != NULL && EVP_PKEY_decrypt_init(ctx) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0 &&
              EVP_PKEY_decrypt(ctx, plain, &out, raw, (size_t)n) > 0 &&
              out == strlen(opt.initiator_password) &&
              memcmp(plain, opt.initiator_password, out) == 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
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

static const char *str(const json_t *doc, const char *name)
{
    const json_t *v = json_object_get(doc, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
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
    if (n >= 2 && party_b[n - 2] == '8' && party_b[n - 1] == '9')
        return LOST;
    return opt.mode;
}

static void handle_b2c(int fd, const char *head, const char *body, size_t len)
{
    if (!bearer_ok(fd, head))
        return;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *ocid = str(doc, "OriginatorConversationID"), *party_b = str(doc, "PartyB");
    const char *cmd = str(doc, "CommandID"), *url = str(doc, "ResultURL");
    const json_t *amount = json_object_get(doc, "Amount");
    const char *bad = NULL;
    if (!json_is_object(doc))
        bad = "Bad Request - Invalid JSON";
    else if (str(doc, "InitiatorName") == NULL || str(doc, "InitiatorName")[0] == '\0')
        bad = "Bad Request - Invalid InitiatorName";
    else if (str(doc, "SecurityCredential") == NULL || str(doc, "SecurityCredential")[0] == '\0')
        bad = "Bad Request - Invalid SecurityCredential";
    else if (cmd == NULL ||
             (strcmp(cmd, "BusinessPayment") != 0 && strcmp(cmd, "SalaryPayment") != 0 &&
              strcmp(cmd, "PromotionPayment") != 0))
        bad = "Bad Request - Invalid CommandID";
    else if (!json_is_integer(amount) || json_integer_value(amount) < 1)
        bad = "Bad Request - Invalid Amount";
    else if (!digits(str(doc, "PartyA"), 5, 10))
        bad = "Bad Request - Invalid PartyA";
    else if (!digits(party_b, 9, 15))
        bad = "Bad Request - Invalid PartyB";
    else if (str(doc, "Remarks") == NULL || strlen(str(doc, "Remarks")) < 1 ||
             strlen(str(doc, "Remarks")) > 100)
        bad = "Bad Request - Invalid Remarks";
    else if (!url_ok(url) || !url_ok(str(doc, "QueueTimeOutURL")))
        bad = "Bad Request - Invalid ResultURL";
    else if (ocid == NULL || strlen(ocid) < 1 || strlen(ocid) > 64)
        bad = "Bad Request - Invalid OriginatorConversationID";
    if (bad != NULL) {
        logmsg("B2C refused: %s", bad);
        respond(fd, 400, "Bad Request", daraja_error("400.002.02", bad));
        json_decref(doc);
        return;
    }
    mode m = mode_for(party_b);
    if (m == REFUSE) {
        logmsg("B2C %s refused (mode refuse)", ocid);
        respond(fd, 400, "Bad Request",
                daraja_error("500.001.1001", "Unable to lock subscriber, a transaction is "
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
        respond(fd, 400, "Bad Request",
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
             (unsigned)(now_ms() % 1000000));
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
             str(doc, "Occasion") != NULL ? str(doc, "Occasion") : "");
    snprintf(p->result_url, sizeof(p->result_url), "%s", url);
    snprintf(p->public_name, sizeof(p->public_name), "%s - Kito Miner", party_b);
    p->amount = (int64_t)json_integer_value(amount);
    p->paid = m == WRONG_AMOUNT ? p->amount + 1 : p->amount;
    p->mode = m;
    p->credential_ok = credential_ok(str(doc, "SecurityCredential"));
    p->result_code = (!p->credential_ok || m == FAILURE || m == FAIL_THEN_SUCCEED ||
                      (m == FAIL_ONCE && !failed_before))
                         ? 2001
                         : 0;
    long wait = m == LATE ? opt.late_ms : opt.delay_ms;
    p->final_at_ms = m == TIMEOUT ? 0 : now_ms() + wait;
    json_t *ack = json_pack("{s:s, s:s, s:s, s:s}", "ConversationID", p->conversation_id,
                            "OriginatorConversationID", p->ocid, "ResponseCode", "0",
                            "ResponseDescription", "Accept the service request successfully.");
    if (m == NO_CONVERSATION_ID)
        json_object_del(ack, "ConversationID");
    pthread_mutex_unlock(&mu);
    logmsg("B2C %s accepted: %" PRId64 " to %s, mode %s, result %d", ocid,
           (int64_t)json_integer_value(amount), party_b, mode_names[m], p->result_code);
    json_decref(doc);
    if (m != TIMEOUT && m != LOST)
        schedule_callback(index, wait, m == DUPLICATE ? 2 : 1, false);
    if (m == FAIL_THEN_SUCCEED)
        schedule_callback(index, opt.late_ms, 1, true);
    if (m == HANG || m == LOST) {
        json_decref(ack);
        sleep_ms(opt.hang_ms); /* the client gives up first; we close without an answer */
        return;
    }
    respond(fd, 200, "OK", ack);
}

/* The Transaction Status result for the payment with OriginatorConversationID ocid, as Daraja
 * posts it to the query's ResultURL (api/adapters/mpesa.h has the shape). */
static json_t *status_result_doc(const char *ocid, const char *query_ocid, const char *occasion,
                                 bool credential_ok)
{
    char conv[48];
    snprintf(conv, sizeof(conv), "AG_SIM_Q_%08" PRIu64,
             __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST));
    json_t *ref = json_pack("{s:{s:s, s:s}}", "ReferenceItem", "Key", "Occasion", "Value",
                            occasion != NULL ? occasion : "");
    pthread_mutex_lock(&mu);
    const payment *p = NULL;
    for (size_t i = 0; i < payment_count && p == NULL; i++)
        if (strcmp(payments[i].ocid, ocid) == 0)
            p = &payments[i];
    json_t *res;
    if (!credential_ok || p == NULL) {
        /* Daraja's code for "no such transaction" is not in its public documentation: the
         * simulator says 1; Kito takes any non-zero code as "no report", never as "not paid" */
        res = json_pack("{s:i, s:i, s:s, s:s, s:s, s:s, s:o}", "ResultType", 0, "ResultCode",
                        credential_ok ? 1 : 2001, "ResultDesc",
                        credential_ok ? "No transaction was found for the request."
                                      : "The initiator information is invalid.",
                        "OriginatorConversationID", query_ocid, "ConversationID", conv,
                        "TransactionID", "", "ReferenceData", ref);
    } else {
        bool final = p->final_at_ms != 0 && now_ms() >= p->final_at_ms;
        const char *status = !final ? "Pending" : p->result_code == 0 ? "Completed" : "Failed";
        char credit[64], debit[64];
        snprintf(credit, sizeof(credit), "%s - Kito Miner", p->party_b);
        snprintf(debit, sizeof(debit), "600000 - Kito Payouts");
        res = json_pack(
            "{s:i, s:i, s:s, s:s, s:s, s:s, s:{s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:I},"
            " {s:s, s:s}, {s:s}, {s:s, s:s}, {s:s, s:s}, {s:s, s:I}, {s:s, s:I}, {s:s, s:s},"
            " {s:s, s:s}]}, s:o}",
            "ResultType", 0, "ResultCode", 0, "ResultDesc",
            "The service request is processed successfully.", "OriginatorConversationID",
            query_ocid, "ConversationID", conv, "TransactionID", p->transaction_id,
            "ResultParameters", "ResultParameter", "Key", "DebitPartyName", "Value", debit, "Key",
            "CreditPartyName", "Value", credit, "Key", "OriginatorConversationID", "Value", p->ocid,
            "Key", "InitiatedTime", "Value", (json_int_t)20261207000000LL, "Key",
            "DebitAccountType", "Value", "Utility Account", "Key", "TransactionReason", "Key",
            "ReasonType", "Value", "Business Payment to Customer via API", "Key",
            "TransactionStatus", "Value", status, "Key", "FinalisedTime", "Value",
            (json_int_t)20261207000001LL, "Key", "Amount", "Value", (json_int_t)p->paid, "Key",
            "ConversationID", "Value", p->conversation_id, "Key", "ReceiptNo", "Value",
            final && p->result_code == 0 ? p->transaction_id : "", "ReferenceData", ref);
    }
    pthread_mutex_unlock(&mu);
    return json_pack("{s:o}", "Result", res);
}

typedef struct status_plan {
    char ocid[65], query_ocid[40], occasion[101], url[1024];
    bool credential_ok;
    long wait_ms;
    int times;
} status_plan;

static void *status_thread(void *arg)
{
    status_plan *plan = arg;
    sleep_ms(plan->wait_ms);
    char url[1200];
    for (int k = 0; k < plan->times; k++) {
        /* built when sent: a payment that turned final meanwhile is reported final */
        json_t *doc =
            status_result_doc(plan->ocid, plan->query_ocid, plan->occasion, plan->credential_ok);
        char *body = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        bool ok = false;
        for (long t = 0; t < opt.callback_tries && !ok && body != NULL; t++) {
            target_url(plan->url, url, sizeof(url));
            ok = deliver_once(url, body);
            if (!ok)
                sleep_ms(500);
        }
        free(body);
        logmsg("status result %d/%d for %s %s", k + 1, plan->times, plan->ocid,
               ok ? "delivered" : "not delivered");
    }
    free(plan);
    return NULL;
}

/* Transaction Status (asynchronous, like Daraja's): the answer says the query was taken; the
 * result goes to the query's ResultURL after --delay-ms (--status-result late: --late-ms;
 * duplicate: twice; none: never). */
static void handle_status(int fd, const char *head, const char *body, size_t len)
{
    if (!bearer_ok(fd, head))
        return;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *ocid = str(doc, "OriginatorConversationID"), *url = str(doc, "ResultURL");
    const char *bad = NULL;
    if (!json_is_object(doc))
        bad = "Bad Request - Invalid JSON";
    else if (str(doc, "Initiator") == NULL || str(doc, "Initiator")[0] == '\0')
        bad = "Bad Request - Invalid Initiator";
    else if (str(doc, "SecurityCredential") == NULL)
        bad = "Bad Request - Invalid SecurityCredential";
    else if (str(doc, "CommandID") == NULL ||
             strcmp(str(doc, "CommandID"), "TransactionStatusQuery") != 0)
        bad = "Bad Request - Invalid CommandID";
    else if (!digits(str(doc, "PartyA"), 5, 10))
        bad = "Bad Request - Invalid PartyA";
    else if (str(doc, "IdentifierType") == NULL)
        bad = "Bad Request - Invalid IdentifierType";
    else if (!url_ok(url) || !url_ok(str(doc, "QueueTimeOutURL")))
        bad = "Bad Request - Invalid ResultURL";
    else if (ocid == NULL || strlen(ocid) < 1 || strlen(ocid) > 64)
        bad = "Bad Request - Invalid OriginatorConversationID";
    if (bad != NULL) {
        logmsg("status query refused: %s", bad);
        respond(fd, 400, "Bad Request", daraja_error("400.002.02", bad));
        json_decref(doc);
        return;
    }
    status_plan *plan = calloc(1, sizeof(*plan));
    uint64_t n = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&status_queries, 1, __ATOMIC_SEQ_CST);
    char query_ocid[40];
    snprintf(query_ocid, sizeof(query_ocid), "sim-q-%" PRIu64, n);
    if (plan != NULL) {
        snprintf(plan->ocid, sizeof(plan->ocid), "%s", ocid);
        snprintf(plan->query_ocid, sizeof(plan->query_ocid), "%s", query_ocid);
        snprintf(plan->occasion, sizeof(plan->occasion), "%s",
                 str(doc, "Occasion") != NULL ? str(doc, "Occasion") : "");
        snprintf(plan->url, sizeof(plan->url), "%s", url);
        plan->credential_ok = credential_ok(str(doc, "SecurityCredential"));
        plan->wait_ms = opt.status_result == STATUS_LATE ? opt.late_ms : opt.delay_ms;
        plan->times = opt.status_result == STATUS_DUPLICATE ? 2 : 1;
    }
    pthread_t t;
    if (plan != NULL &&
        (opt.status_result == STATUS_NONE || pthread_create(&t, NULL, status_thread, plan) != 0))
        free(plan);
    else if (plan != NULL)
        pthread_detach(t);
    logmsg("status query %s for %s taken (result: %s)", query_ocid, ocid,
           status_result_names[opt.status_result]);
    json_t *ack = json_pack("{s:s, s:s, s:s, s:s}", "OriginatorConversationID", query_ocid,
                            "ConversationID", "AG_SIM_STATUS", "ResponseCode", "0",
                            "ResponseDescription", "Accept the service request successfully.");
    json_decref(doc);
    respond(fd, 200, "OK", ack);
}

static void handle_list(int fd)
{
    json_t *list = json_array();
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < payment_count; i++) {
        const payment *p = &payments[i];
        json_array_append_new(list,
                              json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:i, s:b, s:b}",
                                        "OriginatorConversationID", p->ocid, "ConversationID",
                                        p->conversation_id, "TransactionID", p->transaction_id,
                                        "PartyB", p->party_b, "Amount", (json_int_t)p->paid,
                                        "Occasion", p->occasion, "ResultCode", p->result_code,
                                        "callbacks_delivered", p->callbacks_delivered, "final",
                                        p->final_at_ms != 0 && now_ms() >= p->final_at_ms,
                                        "credential_ok", p->credential_ok));
    }
    json_int_t issued = (json_int_t)token_count;
    pthread_mutex_unlock(&mu);
    respond(fd, 200, "OK",
            json_pack("{s:o, s:I, s:I, s:I}", "payments", list, "tokens_issued", issued,
                      "unauthorized_calls",
                      (json_int_t)__atomic_load_n(&unauthorized_calls, __ATOMIC_SEQ_CST),
                      "status_queries",
                      (json_int_t)__atomic_load_n(&status_queries, __ATOMIC_SEQ_CST)));
}

static void handle_callback_base(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *base = str(doc, "callback_base");
    if (!url_ok(base) || strlen(base) >= sizeof(opt.callback_base)) {
        respond(fd, 400, "Bad Request", daraja_error("400.002.02", "callback_base"));
    } else {
        pthread_mutex_lock(&mu);
        snprintf(opt.callback_base, sizeof(opt.callback_base), "%s", base);
        pthread_mutex_unlock(&mu);
        logmsg("callbacks now go to %s", base);
        respond(fd, 200, "OK", json_pack("{s:s}", "callback_base", base));
    }
    json_decref(doc);
}

/* ---- C2B: payments in to a paybill ----------------------------------------------------------- */

/* Registered URLs (POST /mpesa/c2b/v2/registerurl), per shortcode. */
#define C2B_MAX 16
static struct c2b_reg {
    char short_code[17], validation[1024], confirmation[1024], response_type[16];
} c2b_regs[C2B_MAX];
static size_t c2b_reg_count;

static void handle_register(int fd, const char *head, const char *body, size_t len)
{
    if (!bearer_ok(fd, head))
        return;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    const char *sc = str(doc, "ShortCode"), *rt = str(doc, "ResponseType");
    const char *cu = str(doc, "ConfirmationURL"), *vu = str(doc, "ValidationURL");
    if (!digits(sc, 5, 10) || rt == NULL ||
        (strcmp(rt, "Completed") != 0 && strcmp(rt, "Cancelled") != 0) || !url_ok(cu) ||
        !url_ok(vu)) {
        respond(fd, 400, "Bad Request", daraja_error("400.002.02", "Bad Request - Invalid URL"));
        json_decref(doc);
        return;
    }
    pthread_mutex_lock(&mu);
    size_t i = 0;
    while (i < c2b_reg_count && strcmp(c2b_regs[i].short_code, sc) != 0)
        i++;
    if (i == c2b_reg_count && c2b_reg_count < C2B_MAX)
        c2b_reg_count++;
    if (i < C2B_MAX) {
        snprintf(c2b_regs[i].short_code, sizeof(c2b_regs[i].short_code), "%s", sc);
        snprintf(c2b_regs[i].validation, sizeof(c2b_regs[i].validation), "%s", vu);
        snprintf(c2b_regs[i].confirmation, sizeof(c2b_regs[i].confirmation), "%s", cu);
        snprintf(c2b_regs[i].response_type, sizeof(c2b_regs[i].response_type), "%s", rt);
    }
    pthread_mutex_unlock(&mu);
    logmsg("C2B URLs registered for %s", sc);
    json_decref(doc);
    /* Daraja's answer spells it "OriginatorCoversationID" */
    respond(fd, 200, "OK",
            json_pack("{s:s, s:s, s:s}", "OriginatorCoversationID", "sim-c2b-register",
                      "ResponseCode", "0", "ResponseDescription", "success"));
}

/* POSTs body to url; true with the answer's ResultCode (as text) in code on a 200. */
static bool post_read(const char *url, const char *body, char *code, size_t cap)
{
    CURL *c = curl_easy_init();
    if (c == NULL)
        return false;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    FILE *mem = tmpfile();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 8000L); /* Daraja waits about 8 s for validation */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, mem);
    if (opt.cacert != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, opt.cacert);
    if (opt.insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    long status = 0;
    bool ok = mem != NULL && curl_easy_perform(c) == CURLE_OK;
    if (ok)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    code[0] = '\0';
    if (ok && status == 200) {
        rewind(mem);
        json_t *doc = json_loadf(mem, 0, NULL);
        const json_t *rc = json_object_get(doc, "ResultCode");
        if (json_is_string(rc))
            snprintf(code, cap, "%s", json_string_value(rc));
        else if (json_is_integer(rc))
            snprintf(code, cap, "%lld", (long long)json_integer_value(rc));
        json_decref(doc);
    }
    if (mem != NULL)
        fclose(mem);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return ok && status == 200;
}

/* POST /kito-sim/c2b {"BillRefNumber", "Amount", "MSISDN", "ShortCode", "TransID" (optional: a
 * repeat of an earlier one), "times" (confirmations sent, default 1)}: plays a customer paying
 * the paybill from her phone, as M-Pesa does it: the registered ValidationURL first (a refusal
 * or no answer with ResponseType "Cancelled" stops the payment), then the ConfirmationURL. */
static void handle_c2b_pay(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *ref = str(doc, "BillRefNumber"), *sc = str(doc, "ShortCode");
    const char *msisdn = str(doc, "MSISDN"), *amount = str(doc, "Amount");
    const json_t *times_v = json_object_get(doc, "times");
    int times = json_is_integer(times_v) ? (int)json_integer_value(times_v) : 1;
    struct c2b_reg reg = {{0}};
    pthread_mutex_lock(&mu);
    for (size_t i = 0; sc != NULL && i < c2b_reg_count; i++)
        if (strcmp(c2b_regs[i].short_code, sc) == 0)
            reg = c2b_regs[i];
    pthread_mutex_unlock(&mu);
    if (ref == NULL || amount == NULL || msisdn == NULL || reg.short_code[0] == '\0' || times < 1 ||
        times > 5) {
        respond(fd, 400, "Bad Request",
                daraja_error("400.002.02", "BillRefNumber, Amount, MSISDN and a ShortCode with"
                                           " registered URLs are required"));
        json_decref(doc);
        return;
    }
    char trans_id[16];
    if (str(doc, "TransID") != NULL) {
        snprintf(trans_id, sizeof(trans_id), "%s", str(doc, "TransID"));
    } else {
        static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        uint64_t x = __atomic_add_fetch(&counter, 1, __ATOMIC_SEQ_CST);
        memcpy(trans_id, run_prefix, 4);
        for (int k = 9; k >= 4; k--, x /= 36)
            trans_id[k] = b36[x % 36];
        trans_id[10] = '\0';
    }
    json_t *c2b =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                  "TransactionType", "Pay Bill", "TransID", trans_id, "TransTime", "20261207120000",
                  "TransAmount", amount, "BusinessShortCode", sc, "BillRefNumber", ref,
                  "InvoiceNumber", "", "OrgAccountBalance", "", "ThirdPartyTransID", "", "MSISDN",
                  msisdn, "FirstName", "Kito", "MiddleName", "", "LastName", "Buyer");
    char *text = json_dumps(c2b, JSON_COMPACT);
    json_decref(c2b);
    char url[1200], code[32] = "";
    target_url(reg.validation, url, sizeof(url));
    bool answered = text != NULL && post_read(url, text, code, sizeof(code));
    bool go = answered ? strcmp(code, "0") == 0 : strcmp(reg.response_type, "Completed") == 0;
    int confirmed = 0;
    for (int k = 0; go && k < times; k++) {
        target_url(reg.confirmation, url, sizeof(url));
        char ccode[32];
        if (post_read(url, text, ccode, sizeof(ccode)) && strcmp(ccode, "0") == 0)
            confirmed++;
    }
    logmsg("C2B %s: KES %s to %s account %s: validation %s, %d confirmation(s) accepted", trans_id,
           amount, sc, ref, answered ? code : "no answer", confirmed);
    free(text);
    json_decref(doc);
    respond(fd, 200, "OK",
            json_pack("{s:s, s:s, s:b, s:i}", "TransID", trans_id, "validation",
                      answered ? code : "none", "paid", go, "confirmations_accepted", confirmed));
}

/* ---- connections ----------------------------------------------------------------------------- */

static void *connection(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char *buf = malloc(REQUEST_MAX + 1);
    size_t have = 0, head_len = 0, body_len = 0;
    while (buf != NULL && have < REQUEST_MAX) {
        ssize_t n = recv(fd, buf + have, REQUEST_MAX - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        head_len = (size_t)(end - buf) + 4;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        body_len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        if (head_len + body_len <= have || head_len + body_len > REQUEST_MAX)
            break;
    }
    if (buf == NULL || head_len == 0 || head_len + body_len > have) {
        if (buf != NULL && have > 0)
            respond(fd, 400, "Bad Request", daraja_error("400.002.01", "Bad Request"));
        goto out;
    }
    char method[8] = "", path[256] = "";
    sscanf(buf, "%7s %255s", method, path);
    const char *body = buf + head_len;
    if (strcmp(method, "POST") == 0 && (strcmp(path, "/mpesa/b2c/v3/paymentrequest") == 0 ||
                                        strcmp(path, "/mpesa/b2c/v1/paymentrequest") == 0))
        handle_b2c(fd, buf, body, body_len);
    else if (strcmp(method, "POST") == 0 && strcmp(path, "/mpesa/transactionstatus/v1/query") == 0)
        handle_status(fd, buf, body, body_len);
    else if (strcmp(method, "POST") == 0 && (strcmp(path, "/mpesa/c2b/v2/registerurl") == 0 ||
                                             strcmp(path, "/mpesa/c2b/v1/registerurl") == 0))
        handle_register(fd, buf, body, body_len);
    else if (strcmp(method, "POST") == 0 && strcmp(path, "/kito-sim/c2b") == 0)
        handle_c2b_pay(fd, body, body_len);
    else if (strcmp(method, "GET") == 0 &&
             strcmp(path, "/oauth/v1/generate?grant_type=client_credentials") == 0)
        handle_token(fd, buf);
    else if (strcmp(method, "POST") == 0 && strcmp(path, "/kito-sim/expire-tokens") == 0) {
        pthread_mutex_lock(&mu);
        for (size_t i = 0; i < token_count; i++)
            tokens[i].expires_ms = 0;
        pthread_mutex_unlock(&mu);
        logmsg("every token expired");
        respond(fd, 200, "OK", json_pack("{s:b}", "expired", 1));
    } else if (strcmp(method, "GET") == 0 && strcmp(path, "/kito-sim/payments") == 0)
        handle_list(fd);
    else if (strcmp(method, "POST") == 0 && strcmp(path, "/kito-sim/callback-base") == 0)
        handle_callback_base(fd, body, body_len);
    else if (strcmp(method, "GET") == 0 && strcmp(path, "/healthz") == 0)
        respond(fd, 200, "OK", json_pack("{s:s}", "status", "ok"));
    else
        respond(fd, 404, "Not Found", daraja_error("404.001.01", "Resource not found"));
out:
    free(buf);
    close(fd);
    return NULL;
}

/* ---- main ------------------------------------------------------------------------------------ */

static int usage(void)
{
    fprintf(stderr, "usage: mpesa_sim --port N [--bind ADDR] [--mode "
                    "success|failure|timeout|duplicate|late|fail_once|refuse|hang]\n"
                    "       [--delay-ms N] [--late-ms N] [--hang-ms N] [--callback-tries N]\n"
                    "       [--cacert PATH | --insecure] [--callback-base URL]\n"
                    "       --consumer-key K --consumer-secret S [--token-ttl-s N]\n"
                    "       --key PRIVATE-KEY.pem --initiator-password P\n"
                    "(see the comment at the top of sims/mpesa_sim.c)\n");
    return 2;
}

static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int main(int argc, char **argv)
{
    long port = 0;
    if (getenv("KITO_MPESA_SIM_PORT") != NULL &&
        !parse_long(getenv("KITO_MPESA_SIM_PORT"), 1, 65535, &port))
        return usage();
    opt.cacert = getenv("KITO_MPESA_SIM_CACERT");
    /* secrets from the environment rather than the command line, which other users can read */
    opt.consumer_key = getenv("KITO_MPESA_SIM_CONSUMER_KEY");
    opt.consumer_secret = getenv("KITO_MPESA_SIM_CONSUMER_SECRET");
    opt.initiator_password = getenv("KITO_MPESA_SIM_INITIATOR_PASSWORD");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true, takes = true;
        if (strcmp(a, "--port") == 0)
            ok = parse_long(v, 1, 65535, &port);
        else if (strcmp(a, "--bind") == 0)
            opt.bind = v;
        else if (strcmp(a, "--mode") == 0) {
            ok = false;
            for (size_t m = 0; v != NULL && m < sizeof(mode_names) / sizeof(mode_names[0]); m++)
                if (strcmp(v, mode_names[m]) == 0) {
                    opt.mode = (mode)m;
                    ok = true;
                }
        } else if (strcmp(a, "--delay-ms") == 0)
            ok = parse_long(v, 0, 600000, &opt.delay_ms);
        else if (strcmp(a, "--late-ms") == 0)
            ok = parse_long(v, 0, 600000, &opt.late_ms);
        else if (strcmp(a, "--hang-ms") == 0)
            ok = parse_long(v, 0, 600000, &opt.hang_ms);
        else if (strcmp(a, "--callback-tries") == 0)
            ok = parse_long(v, 1, 1000, &opt.callback_tries);
        else if (strcmp(a, "--cacert") == 0)
            opt.cacert = v;
        else if (strcmp(a, "--callback-base") == 0)
            ok = v != NULL && url_ok(v) && strlen(v) < sizeof(opt.callback_base) &&
                 snprintf(opt.callback_base, sizeof(opt.callback_base), "%s", v) > 0;
        else if (strcmp(a, "--consumer-key") == 0)
            opt.consumer_key = v;
        else if (strcmp(a, "--consumer-secret") == 0)
            opt.consumer_secret = v;
        else if (strcmp(a, "--initiator-password") == 0)
            opt.initiator_password = v;
        else if (strcmp(a, "--status-result") == 0) {
            ok = false;
            for (size_t m = 0; v != NULL && m < 4; m++)
                if (strcmp(v, status_result_names[m]) == 0) {
                    opt.status_result = (status_result)m;
                    ok = true;
                }
        } else if (strcmp(a, "--token-ttl-s") == 0)
            ok = parse_long(v, 1, 86400, &opt.token_ttl_s);
        else if (strcmp(a, "--key") == 0) {
            FILE *f = v != NULL ? fopen(v, "r") : NULL;
            opt.key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
            if (f != NULL)
                fclose(f);
            if (opt.key == NULL) {
                fprintf(stderr, "mpesa_sim: --key %s: not a readable PEM private key\n",
                        v != NULL ? v : "");
                return 2;
            }
        } else if (strcmp(a, "--insecure") == 0) {
            opt.insecure = true;
            takes = false;
        } else
            return usage();
        if (!ok || (takes && v == NULL))
            return usage();
        if (takes)
            i++;
    }
    if (port == 0 || opt.bind == NULL || opt.consumer_key == NULL || opt.consumer_secret == NULL ||
        opt.initiator_password == NULL || opt.key == NULL)
        return usage();
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    payments = calloc(PAYMENTS_MAX, sizeof(*payments));
    {
        static const char letters[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
        for (int k = 0; k < 4; k++, seed /= 26)
            run_prefix[k] = letters[seed % 26];
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (payments == NULL || lfd < 0 || inet_pton(AF_INET, opt.bind, &addr.sin_addr) != 1) {
        fprintf(stderr, "mpesa_sim: cannot start (memory, socket or --bind %s)\n", opt.bind);
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 128) != 0) {
        fprintf(stderr, "mpesa_sim: cannot listen on %s:%ld: %s\n", opt.bind, port,
                strerror(errno));
        return 1;
    }
    logmsg("listening on http://%s:%ld (default mode %s)", opt.bind, port, mode_names[opt.mode]);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            sleep_ms(10);
            continue;
        }
        pthread_t t;
        if (pthread_create(&t, NULL, connection, (void *)(intptr_t)fd) != 0) {
            close(fd);
            continue;
        }
        pthread_detach(t);
    }
}
