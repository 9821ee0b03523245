/* SMS to miners through the outbox (issue 18): real kitod -> a real at_sms_sim process
 * (sims/at_sms_sim.c, Africa's Talking's SMS API) on a free port -> its delivery reports back to
 * kitod over HTTPS. A milestone writes one message in its own transaction; the sender sends it
 * once; a gateway that cannot take it now is tried again; a refusal is final; a duplicate
 * delivery report changes nothing. The mode of a number is its last two digits (the sim's
 * comment). */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

#define SMS_TOKEN "sms-report-secret-0123456789"
#define USSD_TOKEN "ussd-gateway-secret-0123456789"

static struct kito_kitod kd;
static int sim_port;
static pid_t sim_pid;
static char sim_log[1024];

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    char **buf = ud;
    size_t old = *buf != NULL ? strlen(*buf) : 0;
    char *b = realloc(*buf, old + size * n + 1);
    cr_assert(b != NULL);
    memcpy(b + old, data, size * n);
    b[old + size * n] = '\0';
    *buf = b;
    return size * n;
}

static long sim_call(const char *method, const char *path, const char *body, json_t **out)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sim_port, path);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (out != NULL)
        *out = buf != NULL ? json_loads(buf, 0, NULL) : NULL;
    free(buf);
    return status;
}

/* Starts kitod; with sender false its SMS sender does not run (no KITO_AT_BASE_URL): messages
 * wait in the outbox. */
static void kitod_start(bool sender)
{
    char url[64], env0[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", sim_port);
    snprintf(env0, sizeof(env0), "KITO_AT_BASE_URL=%s", sender ? url : "");
    const char *env[] = {env0,
                         "KITO_AT_USERNAME=sandbox",
                         "KITO_AT_API_KEY=test-api-key",
                         "KITO_AT_TIMEOUT_MS=1000",
                         "KITO_SMS_INTERVAL_MS=50",
                         "KITO_SMS_CALLBACK_TOKEN=" SMS_TOKEN,
                         "KITO_USSD_CALLBACK_TOKEN=" USSD_TOKEN,
                         NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200, "kitod never became healthy");
    char body[256];
    snprintf(body, sizeof(body),
             "{\"url\":\"https://localhost:%d/v1/sms/callbacks/delivery?token=" SMS_TOKEN "\"}",
             kd.https_port);
    cr_assert_eq(sim_call("POST", "/kito-sim/callback-url", body, NULL), 200);
}

/* kill -9: no shutdown, no goodbye. */
static void kitod_kill9(void)
{
    kill(kd.pid, SIGKILL);
    waitpid(kd.pid, NULL, 0);
    kd.pid = 0;
}

static void up(void)
{
    sim_port = kito_harness_free_port();
    snprintf(sim_log, sizeof(sim_log), "%s", kito_harness_var("logs/at_sms_sim.log"));
    char bin[1024], port[16], cacert[1024];
    snprintf(bin, sizeof(bin), "%s/sims/at_sms_sim", getenv("KITO_TEST_BUILD"));
    snprintf(port, sizeof(port), "%d", sim_port);
    snprintf(cacert, sizeof(cacert), "%s", kito_harness_var("tls/ca.pem"));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (freopen(sim_log, "a", stderr) != NULL)
            dup2(fileno(stderr), 1);
        char *argv[] = {bin,          "--port", port,        "--cacert", cacert,
                        "--delay-ms", "50",     "--hang-ms", "3000",     NULL};
        execv(bin, argv);
        _exit(127);
    }
    sim_pid = pid;
    int i = 0;
    while (i++ < 100 && sim_call("GET", "/healthz", NULL, NULL) != 200)
        kito_harness_sleep_ms(50);
    cr_assert_lt(i, 100, "at_sms_sim did not start; see %s", sim_log);
    /* Every test program shares the database, and the others write SMS no sender of theirs
     * sends (settlements, payouts, certificates ...): without this, this kitod's sender would
     * first work through their backlog -- some to numbers whose last digits are the sim's slow
     * modes -- and this test's own message would wait behind it (seen: still pending after 4 s
     * in a full run). */
    kito_harness_sql("UPDATE sms_outbox SET state = 'failed', failure_reason = 'left by an"
                     " earlier test program' WHERE state IN ('pending', 'sending')");
    kitod_start(true);
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = 0;
    }
}

TestSuite(sms, .init = up, .fini = down, .timeout = 120);

/* A miner whose phone ends in the two digits tail (the sim's mode), with a session. */
static kito_who miner_ending(unsigned tail, char phone[20])
{
    static unsigned n;
    kito_who w = kito_harness_person("miner");
    snprintf(phone, 20, "+2556%04u%02u%02u", (unsigned)getpid() % 10000, ++n % 100, tail);
    kito_harness_sql("UPDATE accounts SET phone = '%s' WHERE id = %llu", phone, w.id);
    return w;
}

/* Lists a stone as w through the API; returns its key. */
static unsigned long long list_stone(const kito_who *w)
{
    struct kito_http_resp r =
        kito_harness_callf(&kd, w, NULL, "POST", "/v1/stones",
                           "{\"species\":\"zoisite\",\"variety\":\"tanzanite\",\"weight_ct\":3.12,"
                           "\"origin\":{\"country\":\"TZ\"}}");
    kito_harness_expect(&r, 201, "list a stone");
    uint64_t key = 0;
    cr_assert_eq(kito_id_parse(KITO_ID_STONE, kito_harness_str(&r, "id"), &key), KITO_OK);
    kito_http_resp_free(&r);
    return (unsigned long long)key;
}

/* Waits until the stone's message reaches state (2 s at most); returns its row as text. */
static void wait_state(unsigned long long stone, const char *state, char *row, size_t cap)
{
    for (int i = 0; i < 80; i++) {
        kito_harness_sql_value(row, cap,
                               "SELECT CONCAT_WS('|', state, attempts, message) FROM sms_outbox"
                               " WHERE dedupe_key = 'stone_received:%llu'",
                               stone);
        if (strncmp(row, state, strlen(state)) == 0 && row[strlen(state)] == '|')
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("message of stone %llu not %s: %s", stone, state, row);
}

/* Messages the sim took for phone (all attempts), and reports it delivered for them. */
static int sim_messages(const char *phone, int *reports, char *last, size_t cap)
{
    char path[128], enc[64];
    snprintf(enc, sizeof(enc), "%%2B%s", phone + 1);
    snprintf(path, sizeof(path), "/kito-sim/sms?phone=%s", enc);
    json_t *doc = NULL;
    cr_assert_eq(sim_call("GET", path, NULL, &doc), 200);
    json_t *list = json_object_get(doc, "messages"), *m;
    size_t i;
    int n = 0;
    if (reports != NULL)
        *reports = 0;
    json_array_foreach(list, i, m)
    {
        n++;
        if (reports != NULL)
            *reports += (int)json_integer_value(json_object_get(m, "reports"));
        if (last != NULL)
            snprintf(last, cap, "%s", json_string_value(json_object_get(m, "message")));
    }
    json_decref(doc);
    return n;
}

Test(sms, a_listed_stone_sends_one_message_with_its_reference)
{
    char phone[20], row[600], text[600];
    kito_who w = miner_ending(10, phone);
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "delivered", row, sizeof(row));
    char ref[KITO_ID_SIZE];
    kito_id_format(KITO_ID_STONE, stone, ref, sizeof(ref));
    /* kitod records the report before the gateway has its answer (and counts it): wait for both */
    int reports = 0, messages = 0;
    for (int i = 0; i < 40 && reports < 1; i++) {
        messages = sim_messages(phone, &reports, text, sizeof(text));
        if (reports < 1)
            kito_harness_sleep_ms(50);
    }
    cr_assert_eq(messages, 1, "exactly one message");
    cr_assert_eq(reports, 1);
    char want[200];
    snprintf(want, sizeof(want),
             "Kito: we received your stone %s (tanzanite, 3.12 ct). Tell the valuer this "
             "reference.",
             ref);
    cr_assert_str_eq(text, want);
    cr_assert_leq(strlen(text), 160, "one SMS");
}

Test(sms, in_her_language)
{
    char phone[20], row[600], text[600];
    kito_who w = miner_ending(11, phone);
    kito_harness_sql("UPDATE accounts SET locale = 'sw' WHERE id = %llu", w.id);
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "delivered", row, sizeof(row));
    sim_messages(phone, NULL, text, sizeof(text));
    cr_assert(strncmp(text, "Kito: tumepokea jiwe lako stn_", 30) == 0, "%s", text);
}

Test(sms, a_gateway_that_cannot_take_it_now_is_tried_again)
{
    char phone[20], row[600];
    kito_who w = miner_ending(85, phone); /* fail_once */
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "delivered", row, sizeof(row)); /* after a 1 s backoff */
    cr_assert(strncmp(row, "delivered|2|", 12) == 0, "two attempts: %s", row);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 2, "one refused, one taken");
}

Test(sms, a_refusal_is_final)
{
    char phone[20], row[600];
    kito_who w = miner_ending(82, phone); /* rejected: InvalidPhoneNumber */
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "failed", row, sizeof(row));
    kito_harness_sleep_ms(1500);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1, "not sent again");
}

Test(sms, a_duplicate_delivery_report_changes_nothing)
{
    char phone[20], row[600];
    kito_who w = miner_ending(84, phone); /* duplicate reports */
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "delivered", row, sizeof(row));
    int reports = 0;
    for (int i = 0; i < 40 && reports < 2; i++) {
        sim_messages(phone, &reports, NULL, 0);
        kito_harness_sleep_ms(50);
    }
    cr_assert_eq(reports, 2, "both reports reached kitod");
    char row2[600];
    wait_state(stone, "delivered", row2, sizeof(row2));
    cr_assert_str_eq(row, row2);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1);
}

Test(sms, a_timeout_is_never_sent_twice)
{
    char phone[20], row[600];
    kito_who w = miner_ending(83, phone); /* the answer comes after kitod gave up */
    unsigned long long stone = list_stone(&w);
    wait_state(stone, "unknown", row, sizeof(row));
    kito_harness_sleep_ms(1500);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1, "not sent again");
}

Test(sms, reports_need_the_token)
{
    struct kito_http_resp r =
        kito_harness_call_raw(&kd, NULL, "POST", "/v1/sms/callbacks/delivery?token=nope",
                              "id=x&status=Success", 19, "application/x-www-form-urlencoded");
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
}

/* ---- the milestones that happen in the market, and crashes (issue 18) ------------------------ */

/* Waits (timeout_ms) until the message keyed key reaches state; returns its row as text. */
static void wait_key_state(const char *key, const char *state, char *row, size_t cap,
                           int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        kito_harness_sql_value(row, cap,
                               "SELECT CONCAT_WS('|', state, attempts, message) FROM sms_outbox"
                               " WHERE dedupe_key = '%s'",
                               key);
        if (strncmp(row, state, strlen(state)) == 0 && row[strlen(state)] == '|')
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("message %s not %s: %s", key, state, row);
}

/* Waits (15 s) until the message keyed key went to the gateway once: 'sent' or 'delivered' (a
 * delivery report may go to the kitod that was killed: then it stays 'sent'; the sim's count
 * is what proves the delivery). */
static void wait_key_sent_once(const char *key)
{
    for (int waited = 0; waited <= 15000; waited += 50) {
        if (kito_harness_count("SELECT COUNT(*) FROM sms_outbox WHERE dedupe_key = '%s' AND"
                               " state IN ('sent', 'delivered') AND attempts = 1",
                               key) == 1)
            return;
        kito_harness_sleep_ms(50);
    }
    char row[600];
    kito_harness_sql_value(row, sizeof(row),
                           "SELECT CONCAT_WS('|', state, attempts, message) FROM sms_outbox"
                           " WHERE dedupe_key = '%s'",
                           key);
    cr_assert_fail("message %s not sent once: %s", key, row);
}

/* A timed sale of org's, opening in 3 s (a loaded machine takes a while to publish), with one lot
 * of the miner's certified stone (offered to org: consent), published. Returns the lot's key; ref
 * gets the stone's id. */
static unsigned long long opening_lot(const kito_who *miner, char ref[KITO_ID_SIZE])
{
    kito_who org = kito_harness_person("organizer");
    kito_harness_stone(miner->id, miner->id, true, ref);
    kito_harness_offer(ref, org.id);
    char a[KITO_TIME_SIZE], b[KITO_TIME_SIZE], path[160], sale[KITO_ID_SIZE];
    struct kito_http_resp r =
        kito_harness_callf(&kd, &org, NULL, "POST", "/v1/sales",
                           "{\"title\":\"Kasigau Gem Fair\",\"format\":\"timed\","
                           "\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
                           kito_harness_at(3, a), kito_harness_at(600, b));
    kito_harness_expect(&r, 201, "create sale");
    snprintf(sale, sizeof(sale), "%s", kito_harness_str(&r, "id"));
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    r = kito_harness_callf(&kd, &org, NULL, "POST", path, "{\"stone_id\":\"%s\",\"opening\":40000}",
                           ref);
    kito_harness_expect(&r, 201, "add lot");
    uint64_t lot = 0;
    cr_assert_eq(kito_id_parse(KITO_ID_LOT, kito_harness_str(&r, "id"), &lot), KITO_OK);
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = kito_harness_callf(&kd, &org, NULL, "POST", path, NULL);
    cr_assert(r.status == 200 || r.status == 201, "publish: %ld %s", r.status, r.body);
    kito_http_resp_free(&r);
    return (unsigned long long)lot;
}

Test(sms, a_lot_that_opens_sends_her_one_message_with_sale_lot_and_opening)
{
    char phone[20], row[600], text[600], key[64], ref[KITO_ID_SIZE];
    kito_who w = miner_ending(12, phone);
    kito_harness_sql("UPDATE accounts SET locale = 'sw' WHERE id = %llu", w.id);
    unsigned long long lot = opening_lot(&w, ref);
    snprintf(key, sizeof(key), "lot_opened:%llu", lot);
    wait_key_state(key, "delivered", row, sizeof(row), 15000);
    long long number = kito_harness_count("SELECT lot_number FROM lots WHERE id = %llu", lot);
    char want[300];
    snprintf(want, sizeof(want),
             "Kito: jiwe %s liko mnadani Kasigau Gem Fair kura %lld, bei ya kuanzia USD 400. "
             "Tutakutumia matokeo.",
             ref, number);
    int n = 0;
    for (int i = 0; i < 20; i++) { /* the stone's other messages were never sent: SQL-made */
        n = sim_messages(phone, NULL, text, sizeof(text));
        kito_harness_sleep_ms(50);
    }
    cr_assert_eq(n, 1, "exactly one message");
    cr_assert_str_eq(text, want);
}

Test(sms, a_lot_open_when_kitod_was_killed_before_its_sms_gets_it_once_after_the_restart)
{
    char phone[20], row[600], key[64], ref[KITO_ID_SIZE];
    kito_who w = miner_ending(13, phone);
    kito_harness_kitod_stop(&kd, 5000);
    kitod_start(false); /* the outbox fills, nothing is sent */
    unsigned long long lot = opening_lot(&w, ref);
    snprintf(key, sizeof(key), "lot_opened:%llu", lot);
    wait_key_state(key, "pending", row, sizeof(row), 15000);
    /* the crash this test stands for came between the lot's opening in Redis and its SMS in
     * MySQL: the message is not there */
    kito_harness_sql("DELETE FROM sms_outbox WHERE dedupe_key = '%s'", key);
    kitod_kill9();
    kitod_start(true);
    wait_key_sent_once(key); /* found open in the rebuilt books */
    kito_harness_sleep_ms(500);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1);
    /* and a restart with the message there adds none */
    kitod_kill9();
    kitod_start(true);
    kito_harness_sleep_ms(1000);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM sms_outbox WHERE dedupe_key = '%s'", key),
                 1);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1);
}

Test(sms, kill9_with_messages_pending_delivers_each_exactly_once)
{
    enum { N = 6 };
    char phone[20], tphone[20], key[64];
    kito_who w = miner_ending(10, phone);
    kito_who t = miner_ending(85, tphone); /* the gateway refuses her first message: a retry */
    unsigned long long stones[N], retry;
    /* messages waiting: written while no sender ran */
    kito_harness_kitod_stop(&kd, 5000);
    kitod_start(false);
    for (int i = 0; i < N; i++)
        stones[i] = list_stone(&w);
    kitod_kill9();
    /* and one in its backoff after a refusal when the next kill comes */
    kitod_start(true);
    retry = list_stone(&t);
    snprintf(key, sizeof(key), "stone_received:%llu", retry);
    for (int i = 0; i < 100 && sim_messages(tphone, NULL, NULL, 0) < 1; i++)
        kito_harness_sleep_ms(20);
    kito_harness_sleep_ms(200); /* the refusal recorded; the retry is 1 s away */
    kitod_kill9();
    kitod_start(true);
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "stone_received:%llu", stones[i]);
        wait_key_sent_once(key);
    }
    snprintf(key, sizeof(key), "stone_received:%llu", retry);
    for (int waited = 0; waited <= 8000; waited += 50) {
        if (kito_harness_count("SELECT COUNT(*) FROM sms_outbox WHERE dedupe_key = '%s' AND"
                               " state IN ('sent', 'delivered')",
                               key) == 1)
            break;
        kito_harness_sleep_ms(50);
    }
    kito_harness_sleep_ms(500);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), N, "each message exactly once");
    cr_assert_eq(sim_messages(tphone, NULL, NULL, 0), 2, "one refused, one taken");
}

Test(sms, kill9_with_a_message_in_flight_never_sends_it_again)
{
    char phone[20], row[600];
    kito_who w = miner_ending(83, phone); /* the gateway takes it, answers after 3 s */
    unsigned long long stone = list_stone(&w);
    for (int i = 0; i < 100 && sim_messages(phone, NULL, NULL, 0) < 1; i++)
        kito_harness_sleep_ms(10);
    kitod_kill9(); /* during the call: the gateway has it, kitod never heard back */
    kitod_start(true);
    wait_state(stone, "unknown", row, sizeof(row));
    kito_harness_sleep_ms(1500);
    cr_assert_eq(sim_messages(phone, NULL, NULL, 0), 1, "delivered once, never resent");
}

/* ---- the demo's phone page (issue 18): served by the sim, dialling kitod's USSD callback ---- */

/* A second sim whose phone page dials this test's kitod. */
static pid_t phone_sim_start(int port)
{
    char bin[1024], p[16], cacert[1024], url[256], dir[1024];
    snprintf(bin, sizeof(bin), "%s/sims/at_sms_sim", getenv("KITO_TEST_BUILD"));
    snprintf(p, sizeof(p), "%d", port);
    snprintf(cacert, sizeof(cacert), "%s", kito_harness_var("tls/ca.pem"));
    snprintf(url, sizeof(url), "https://localhost:%d/v1/ussd?token=" USSD_TOKEN, kd.https_port);
    snprintf(dir, sizeof(dir), "%s", kito_harness_path("sims/phone"));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (freopen(sim_log, "a", stderr) != NULL)
            dup2(fileno(stderr), 1);
        char *argv[] = {bin, "--port",      p,   "--cacert", cacert, "--ussd-url",
                        url, "--phone-dir", dir, NULL};
        execv(bin, argv);
        _exit(127);
    }
    return pid;
}

/* A request to the phone sim on port; the body and the named header into out/header. */
static long phone_call(int port, const char *method, const char *path, const char *form,
                       char **body, const char *header, char *hval, size_t hcap)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    struct curl_slist *none = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (form != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (header != NULL && hval != NULL) {
        struct curl_header *h = NULL;
        hval[0] = 0;
        if (curl_easy_header(c, header, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
            snprintf(hval, hcap, "%s", h->value);
    }
    curl_slist_free_all(none);
    curl_easy_cleanup(c);
    if (body != NULL)
        *body = buf;
    else
        free(buf);
    return status;
}

Test(sms, the_phone_page_dials_the_menu_and_shows_her_sms)
{
    int port = kito_harness_free_port();
    pid_t pid = phone_sim_start(port);
    int i = 0;
    while (i++ < 100 && phone_call(port, "GET", "/healthz", NULL, NULL, NULL, NULL, 0) != 200)
        kito_harness_sleep_ms(50);
    char csp[512], *body = NULL;
    cr_assert_eq(
        phone_call(port, "GET", "/phone", NULL, &body, "content-security-policy", csp, sizeof(csp)),
        200);
    cr_assert(strstr(body, "<label for=\"number\"") != NULL, "%s", body);
    cr_assert(strstr(body, "<script type=\"module\" src=\"/phone/phone.js\">") != NULL);
    cr_assert(strstr(csp, "script-src 'self'") != NULL && strstr(csp, "unsafe-inline") == NULL,
              "%s", csp);
    free(body);
    cr_assert_eq(phone_call(port, "GET", "/phone/phone.js", NULL, NULL, NULL, NULL, 0), 200);
    cr_assert_eq(phone_call(port, "GET", "/phone/../at_sms_sim.c", NULL, NULL, NULL, NULL, 0), 404);

    /* a registered miner dials: her menu, then the language switch, as the gateway would carry
     * them (the inputs joined by '*') */
    char phone[20], form[256];
    kito_who w = miner_ending(14, phone);
    (void)w;
    char e164[32];
    snprintf(e164, sizeof(e164), "%%2B%s", phone + 1);
    snprintf(form, sizeof(form), "sessionId=page1&phoneNumber=%s&text=", e164);
    cr_assert_eq(phone_call(port, "POST", "/kito-sim/ussd", form, &body, NULL, NULL, 0), 200);
    cr_assert(strncmp(body, "CON Kito\n1 List a stone\n", 24) == 0, "%s", body);
    free(body);
    snprintf(form, sizeof(form), "sessionId=page1&phoneNumber=%s&text=7", e164);
    cr_assert_eq(phone_call(port, "POST", "/kito-sim/ussd", form, &body, NULL, NULL, 0), 200);
    cr_assert(strstr(body, "1 English\n2 Kiswahili") != NULL, "%s", body);
    free(body);
    /* a bad number is the page's mistake: refused before kitod */
    cr_assert_eq(phone_call(port, "POST", "/kito-sim/ussd",
                            "sessionId=x&phoneNumber=255&text=", NULL, NULL, NULL, 0),
                 400);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}
