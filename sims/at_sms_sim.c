/*
 * at_sms_sim: a local Africa's Talking SMS gateway for tests and the demo (issue 18). It speaks
 * the protocol of api/adapters/africastalking.h over plain HTTP on a local port (a stand-in for
 * the provider, reached by kitod on 127.0.0.1); the delivery reports it sends to kitod are
 * HTTPS, checked against --cacert.
 *
 *   POST /version1/messaging   form username, to, message, from; header apiKey (401 without):
 *                              {"SMSMessageData": {"Message": "Sent to 1/1 ...", "Recipients":
 *                              [{"statusCode", "number", "status", "cost", "messageId"}]}},
 *                              then a delivery report as the mode says
 *   GET  /kito-sim/sms         every message it took, as JSON (?phone=+255... for one phone)
 *   GET  /kito-sim/inbox       the same as a page a person reads (?phone=...)
 *   POST /kito-sim/callback-url  {"url":
 * "https://127.0.0.1:PORT/v1/sms/callbacks/delivery?token=..."}: where delivery reports go (tests
 * start kitod on a port chosen later) GET  /healthz              200
 *
 * Modes, by the last two digits of `to` (any other number gets --mode, default success):
 *   success           statusCode 101, then a report "Success"
 *   81 failure        statusCode 500 InternalServerError every time (the sender retries)
 *   82 rejected       statusCode 403 InvalidPhoneNumber (refused for good)
 *   83 timeout        takes the message but answers only after --hang-ms (past kitod's timeout)
 *   84 duplicate      statusCode 101, then the "Success" report twice
 *   85 fail_once      the first message to the number gets 500, later ones 101
 *   86 undelivered    statusCode 101, then a report "Failed" (UserInBlacklist)
 * Every message taken is also written to the log (stderr): "SMS to +255...: text".
 *
 * Flags: --port N (required), --bind (127.0.0.1), --mode NAME, --delay-ms (100), --hang-ms
 * (15000), --cacert PATH or --insecure, --callback-url URL.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/common/query.h"
#include "sims/simlib.h"

#define MESSAGES_MAX 100000

typedef enum mode { SUCCESS, FAILURE, REJECTED, TIMEOUT, DUPLICATE, FAIL_ONCE, UNDELIVERED } mode;
static const char *const mode_names[] = {"success",   "failure",   "rejected",   "timeout",
                                         "duplicate", "fail_once", "undelivered"};

static sim_options common = {
    .bind = "127.0.0.1", .mode = SUCCESS, .delay_ms = 100, .hang_ms = 15000};
static struct {
    char callback_url[1024];
} opt;

typedef struct message {
    char to[20], id[40], text[481];
    int status_code;
    int reports; /* delivered to kitod */
} message;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static message *messages;
static size_t message_count;
static char run_prefix[5];

/* The status line's reason: "OK" for 200, "Error" otherwise (clients read the code). */
static void respond_raw(int fd, int status, const char *type, const char *body)
{
    sim_respond_raw(fd, status, status == 200 ? "OK" : "Error", type, body, strlen(body));
}

static void respond(int fd, int status, json_t *doc)
{
    char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    respond_raw(fd, status, "application/json", body != NULL ? body : "{}");
    free(body);
}

/* ---- delivery reports ------------------------------------------------------------------------ */

typedef struct report {
    size_t index;
    const char *status, *reason;
    int times;
} report;

static bool deliver_once(const char *url, const char *body)
{
    return sim_post(&common.tls, url, NULL, body, NULL) == 200;
}

static void *report_thread(void *arg)
{
    report *r = arg;
    sim_sleep_ms(common.delay_ms);
    pthread_mutex_lock(&mu);
    message m = messages[r->index];
    char url[1024];
    snprintf(url, sizeof(url), "%s", opt.callback_url);
    pthread_mutex_unlock(&mu);
    char body[1024]; /* room for every field at its longest */
    snprintf(body, sizeof(body), "id=%s&status=%s&phoneNumber=%%2B%s&networkCode=63902%s%s", m.id,
             r->status, m.to + 1, r->reason != NULL ? "&failureReason=" : "",
             r->reason != NULL ? r->reason : "");
    for (int k = 0; k < r->times && url[0] != 0; k++) {
        bool ok = false;
        for (int t = 0; t < 20 && !ok; t++)
            if (!(ok = deliver_once(url, body)))
                sim_sleep_ms(500);
        if (ok) {
            pthread_mutex_lock(&mu);
            messages[r->index].reports++;
            pthread_mutex_unlock(&mu);
        }
        sim_log("report %s for %s: %s", r->status, m.id, ok ? "delivered" : "not delivered");
    }
    free(r);
    return NULL;
}

static void schedule_report(size_t index, const char *status, const char *reason, int times)
{
    report *r = malloc(sizeof(*r));
    if (r == NULL)
        return;
    *r = (report){index, status, reason, times};
    if (!sim_spawn(report_thread, r))
        free(r);
}

/* ---- the API --------------------------------------------------------------------------------- */

static mode mode_for(const char *to)
{
    size_t n = strlen(to);
    int tail = n >= 2 ? atoi(to + n - 2) : 0;
    return tail >= 81 && tail <= 86 ? (mode)(tail - 80) : (mode)common.mode;
}

static bool seen_number(const char *to)
{
    for (size_t i = 0; i < message_count; i++)
        if (strcmp(messages[i].to, to) == 0)
            return true;
    return false;
}

static void handle_send(int fd, const char *head, const char *body, size_t len)
{
    if (strcasestr(head, "\r\napikey:") == NULL) {
        respond_raw(fd, 401, "text/plain", "The supplied authentication is invalid");
        return;
    }
    kito_query q;
    kito_verr ve;
    if (kito_query_parse(body, len, &q, &ve) != KITO_OK || kito_query_get(&q, "username") == NULL ||
        kito_query_get(&q, "to") == NULL || kito_query_get(&q, "message") == NULL) {
        respond_raw(fd, 400, "text/plain", "Request is missing required form field");
        return;
    }
    const char *to = kito_query_get(&q, "to"), *text = kito_query_get(&q, "message");
    mode m = mode_for(to);
    pthread_mutex_lock(&mu);
    bool first = !seen_number(to);
    int code = 101;
    if (m == FAILURE || (m == FAIL_ONCE && first))
        code = 500;
    else if (m == REJECTED)
        code = 403;
    size_t index = message_count;
    if (message_count < MESSAGES_MAX) {
        message *msg = &messages[message_count++];
        snprintf(msg->to, sizeof(msg->to), "%s", to);
        snprintf(msg->text, sizeof(msg->text), "%s", text);
        msg->status_code = code;
        if (code == 101)
            snprintf(msg->id, sizeof(msg->id), "ATXid_%s%06zu", run_prefix, index);
        else
            snprintf(msg->id, sizeof(msg->id), "None");
    }
    message msg = messages[index];
    pthread_mutex_unlock(&mu);
    sim_log("SMS to %s (%s, statusCode %d): %s", to, mode_names[m], code, text);
    const char *status = code == 101   ? "Success"
                         : code == 403 ? "InvalidPhoneNumber"
                                       : "InternalServerError";
    json_t *doc =
        json_pack("{s:{s:s, s:[{s:i, s:s, s:s, s:s, s:s}]}}", "SMSMessageData", "Message",
                  code == 101 ? "Sent to 1/1 Total Cost: KES 0.8000" : "Sent to 0/1 Total Cost: 0",
                  "Recipients", "statusCode", code, "number", to, "status", status, "cost",
                  code == 101 ? "KES 0.8000" : "0", "messageId", msg.id);
    if (m == TIMEOUT)
        sim_sleep_ms(common.hang_ms);
    respond(fd, 201, doc);
    if (code != 101)
        return;
    if (m == UNDELIVERED)
        schedule_report(index, "Failed", "UserInBlacklist", 1);
    else
        schedule_report(index, "Success", NULL, m == DUPLICATE ? 2 : 1);
}

static void handle_list(int fd, const char *path, bool page)
{
    char phone[24] = "";
    const char *q = strchr(path, '?');
    kito_query query;
    kito_verr ve;
    if (q != NULL && kito_query_parse(q + 1, strlen(q + 1), &query, &ve) == KITO_OK &&
        kito_query_get(&query, "phone") != NULL)
        snprintf(phone, sizeof(phone), "%s", kito_query_get(&query, "phone"));
    json_t *list = json_array();
    size_t cap = 1 << 20, used = 0;
    char *html = page ? malloc(cap) : NULL;
    if (html != NULL)
        used = (size_t)snprintf(html, cap,
                                "<!doctype html><meta charset=utf-8><title>SMS sent</title>"
                                "<h1>SMS the gateway took%s%s</h1><ol>",
                                phone[0] ? " for " : "", phone);
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < message_count; i++) {
        const message *m = &messages[i];
        if (phone[0] != 0 && strcmp(phone, m->to) != 0)
            continue;
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:i, s:i}", "to", m->to, "message",
                                              m->text, "messageId", m->id, "statusCode",
                                              m->status_code, "reports", m->reports));
        if (html != NULL && used + 1200 < cap) {
            used += (size_t)snprintf(html + used, cap - used, "<li><b>%s</b> (%d): ", m->to,
                                     m->status_code);
            for (const char *p = m->text; *p != 0 && used + 8 < cap; p++)
                used += (size_t)snprintf(html + used, cap - used, "%s",
                                         *p == '<'   ? "&lt;"
                                         : *p == '&' ? "&amp;"
                                                     : (char[]){*p, 0});
        }
    }
    pthread_mutex_unlock(&mu);
    if (html != NULL) {
        snprintf(html + used, cap - used, "</ol>");
        respond_raw(fd, 200, "text/html; charset=utf-8", html);
        free(html);
        json_decref(list);
        return;
    }
    respond(fd, 200, json_pack("{s:o}", "messages", list));
}

static void handle_callback_url(int fd, const char *body, size_t len)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *url = json_string_value(json_object_get(doc, "url"));
    if (url == NULL || strncmp(url, "http", 4) != 0 || strlen(url) >= sizeof(opt.callback_url)) {
        respond(fd, 400, json_pack("{s:s}", "error", "url"));
    } else {
        pthread_mutex_lock(&mu);
        snprintf(opt.callback_url, sizeof(opt.callback_url), "%s", url);
        pthread_mutex_unlock(&mu);
        respond(fd, 200, json_pack("{s:b}", "ok", 1));
    }
    json_decref(doc);
}

static void handle(const sim_request *r)
{
    int fd = r->fd;
    if (sim_is(r, "POST", "/version1/messaging"))
        handle_send(fd, r->head, r->body, r->body_len);
    else if (strcmp(r->method, "GET") == 0 && strncmp(r->path, "/kito-sim/sms", 13) == 0)
        handle_list(fd, r->path, false);
    else if (strcmp(r->method, "GET") == 0 && strncmp(r->path, "/kito-sim/inbox", 15) == 0)
        handle_list(fd, r->path, true);
    else if (sim_is(r, "POST", "/kito-sim/callback-url"))
        handle_callback_url(fd, r->body, r->body_len);
    else if (sim_is(r, "GET", "/healthz"))
        respond(fd, 200, json_pack("{s:s}", "status", "ok"));
    else
        respond(fd, 404, json_pack("{s:s}", "error", "not found"));
}

static int usage(void)
{
    return sim_usage("usage: at_sms_sim --port N [--bind ADDR] [--mode NAME] [--delay-ms N]\n"
                     "       [--hang-ms N] [--cacert PATH | --insecure] [--callback-url URL]\n");
}

int main(int argc, char **argv)
{
    sim_set_name("at_sms_sim");
    const sim_flag own[] = {
        {"--callback-url", SIM_FLAG_TEXT, opt.callback_url, 0, 0, NULL, sizeof(opt.callback_url),
         NULL},
    };
    if (!sim_parse_args(argc, argv, &common, SIM_WITH_MODE | SIM_WITH_TLS, mode_names,
                        sizeof(mode_names) / sizeof(mode_names[0]), own,
                        sizeof(own) / sizeof(own[0])))
        return usage();
    messages = calloc(MESSAGES_MAX, sizeof(*messages));
    if (messages == NULL) {
        sim_log("cannot start (memory)");
        return 1;
    }
    sim_run_prefix(run_prefix);
    return sim_serve(common.bind, common.port, mode_names[common.mode], handle, NULL);
}
