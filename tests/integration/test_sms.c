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
    char url[64], env0[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", sim_port);
    snprintf(env0, sizeof(env0), "KITO_AT_BASE_URL=%s", url);
    const char *env[] = {env0,
                         "KITO_AT_USERNAME=sandbox",
                         "KITO_AT_API_KEY=test-api-key",
                         "KITO_AT_TIMEOUT_MS=1000",
                         "KITO_SMS_INTERVAL_MS=50",
                         "KITO_SMS_CALLBACK_TOKEN=" SMS_TOKEN,
                         NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200, "kitod never became healthy");
    char body[256];
    snprintf(body, sizeof(body),
             "{\"url\":\"https://localhost:%d/v1/sms/callbacks/delivery?token=" SMS_TOKEN "\"}",
             kd.https_port);
    cr_assert_eq(sim_call("POST", "/kito-sim/callback-url", body, NULL), 200);
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

TestSuite(sms, .init = up, .fini = down, .timeout = 60);

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
    int reports = 0;
    cr_assert_eq(sim_messages(phone, &reports, text, sizeof(text)), 1, "exactly one message");
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
