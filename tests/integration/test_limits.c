/*
 * Bounds on what one kind of request may hold up (issue 15, "What an operator expects"):
 *   - scrypt has a pool of its own (KITO_HASH_WORKERS, KITO_HASH_QUEUE_MAX; api/http/req_db.h):
 *     a flood of sign-ins is answered 503 "busy" with Retry-After once its short queue is full,
 *     and a request that only reads MySQL is answered while the sign-ins are still hashing;
 *   - an asynchronous handler's MySQL or Redis work has a time limit (KITO_REQUEST_TIMEOUT_MS):
 *     504 "timeout", and what completes later is discarded without harm.
 * Ordering and status codes are asserted, never wall time: the machine is shared.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/common/crypto.h"
#include "tests/integration/harness.h"

/* One hashing worker and room for three jobs: a dozen sign-ins overflow it at once. */
#define FLOOD 12
/* The time limit of the stall tests: below the Redis link's 1.5 s PING timeout (after which it
 * drops the connection and the waiting callbacks get no reply) and MySQL's 2 s read timeout. */
#define LIMIT_MS "700"
#define USSD_TOKEN "limits-ussd-secret-0123456789"

static struct kito_kitod kd;

static void kitod_up(const char *const *env)
{
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 20000), 200, "kitod never became healthy");
}

static void up(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* whatever a test did: the services go on and kitod stops */
static void down(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "kill -CONT $(cat '%s') $(cat '%s') 2>/dev/null; true",
             kito_harness_var("mysql/mysqld.pid"), kito_harness_var("redis/redis.pid"));
    kito_harness_sh(cmd, NULL, 0);
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(limits, .init = up, .fini = down, .timeout = 120);

/* ---- requests from threads (the harness's helpers assert, which only the main thread may) --- */

static char ca_path[1024];
static atomic_int finished; /* answers so far, in the order they came */

typedef struct call {
    pthread_t thread;
    const char *method, *path;
    char body[256];
    char auth[128];
    long status;
    char code[32];
    bool retry_after;
    int order; /* position among all answers (0 = first) */
    double latency_ms;
} call;

static size_t keep_body(char *data, size_t size, size_t n, void *ud)
{
    call *c = ud;
    const char *p = memmem(data, size * n, "\"code\":\"", 8);
    if (p != NULL) {
        p += 8;
        size_t len = 0;
        while (p + len < data + size * n && p[len] != '"' && len + 1 < sizeof(c->code))
            len++;
        memcpy(c->code, p, len);
        c->code[len] = 0;
    }
    return size * n;
}

static size_t keep_header(char *data, size_t size, size_t n, void *ud)
{
    call *c = ud;
    if (size * n >= 12 && strncasecmp(data, "retry-after:", 12) == 0)
        c->retry_after = true;
    return size * n;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void *run_call(void *arg)
{
    call *c = arg;
    char url[256], resolve[64];
    snprintf(url, sizeof(url), "https://localhost:%d%s", kd.https_port, c->path);
    snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", kd.https_port);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (c->auth[0] != 0)
        h = curl_slist_append(h, c->auth);
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_RESOLVE, res);
    curl_easy_setopt(e, CURLOPT_CAINFO, ca_path);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, c->method);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 30000L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
    if (c->body[0] != 0)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, keep_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, keep_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    double t0 = now_ms();
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &c->status);
    c->latency_ms = now_ms() - t0;
    c->order = atomic_fetch_add(&finished, 1);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    curl_slist_free_all(res);
    return NULL;
}

static void start(call *c)
{
    cr_assert_eq(pthread_create(&c->thread, NULL, run_call, c), 0);
}

/* ---- the hashing pool ------------------------------------------------------------------------ */

/* FLOOD miners sign in at once with their right PIN, stored at the production scrypt cost (the
 * harness's accounts use a cheap one). While the one hashing worker is busy with them, a request
 * that only reads MySQL (GET /v1/accounts/me) is answered before sign-ins still queued: before
 * the pool, the sign-ins held both MySQL workers and the read waited behind every one of them.
 * The queue's bound answers the rest 503 "busy" with Retry-After at once. */
Test(limits, a_sign_in_flood_is_bounded_and_never_holds_up_a_database_read)
{
    static const char *const env[] = {"KITO_HASH_WORKERS=1", "KITO_HASH_QUEUE_MAX=3", NULL};
    kitod_up(env);
    snprintf(ca_path, sizeof(ca_path), "%s", kito_harness_var("tls/ca.pem"));
    char prod_hash[KITO_SECRET_STORED_SIZE];
    cr_assert_eq(kito_crypto_secret_hash(KITO_HARNESS_PIN, strlen(KITO_HARNESS_PIN), NULL,
                                         prod_hash, sizeof(prod_hash)),
                 KITO_OK);
    static call signins[FLOOD];
    for (int i = 0; i < FLOOD; i++) {
        char phone[32];
        unsigned long long id = kito_harness_account("miner", phone, sizeof(phone));
        kito_harness_sql("UPDATE accounts SET secret_hash = '%s' WHERE id = %llu", prod_hash, id);
        signins[i] = (call){.method = "POST", .path = "/v1/sessions"};
        snprintf(signins[i].body, sizeof(signins[i].body), "{\"phone\":\"%s\",\"pin\":\"%s\"}",
                 phone, KITO_HARNESS_PIN);
    }
    kito_who reader = kito_harness_person("buyer");
    static call read = {.method = "GET", .path = "/v1/accounts/me"};
    snprintf(read.auth, sizeof(read.auth), "Authorization: Bearer %s", reader.token);
    /* the reader's session is in kitod's cache after one use: the read below is the MySQL job of
     * the handler itself */
    struct kito_http_resp r = kito_harness_call(&kd, &reader, NULL, "GET", "/v1/accounts/me", NULL);
    kito_harness_expect(&r, 200, "a first read");
    kito_http_resp_free(&r);

    atomic_store(&finished, 0);
    for (int i = 0; i < FLOOD; i++)
        start(&signins[i]);
    kito_harness_sleep_ms(150); /* the flood is in: one hashing, the queue full */
    start(&read);
    pthread_join(read.thread, NULL);
    for (int i = 0; i < FLOOD; i++)
        pthread_join(signins[i].thread, NULL);

    int ok = 0, busy = 0, after_read = 0;
    double signin_ms_max = 0;
    for (int i = 0; i < FLOOD; i++) {
        call *c = &signins[i];
        if (c->status == 201) {
            ok++;
            if (c->order > read.order)
                after_read++;
            if (c->latency_ms > signin_ms_max)
                signin_ms_max = c->latency_ms;
        } else {
            cr_assert_eq(c->status, 503, "sign-in %d: %ld", i, c->status);
            cr_assert_str_eq(c->code, "busy");
            cr_assert(c->retry_after, "a busy answer says when to come back");
            busy++;
        }
    }
    cr_assert_eq(read.status, 200, "the read: %ld", read.status);
    cr_log_info("hash pool: %d signed in, %d busy; the read took %.0f ms and came before %d of the"
                " sign-ins (slowest %.0f ms)",
                ok, busy, read.latency_ms, after_read, signin_ms_max);
    fprintf(stderr,
            "FIGURE hash_pool signed_in=%d busy=%d read_ms=%.0f read_before_signins=%d"
            " signin_ms_max=%.0f\n",
            ok, busy, read.latency_ms, after_read, signin_ms_max);
    cr_assert_geq(busy, 1, "the queue's bound was never reached");
    cr_assert_leq(ok, FLOOD - busy);
    cr_assert_geq(ok, 2, "too few sign-ins were taken to judge the order");
    /* the hashing worker takes one at a time: at least the last one taken finished after the
     * read, which no sign-in held up */
    cr_assert_geq(after_read, 1, "the read waited behind every sign-in");
}

/* ---- time limits ----------------------------------------------------------------------------- */

/* Stops one of the test services (SIGSTOP) now and lets it go on after seconds, without waiting
 * (the suite's fini lets it go on too, whatever happens). pidfile: under the test var folder. */
static void pause_service(const char *pidfile, double seconds)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd),
             "p=$(cat '%s') && kill -STOP $p && { (sleep %.3f; kill -CONT $p) >/dev/null 2>&1 & }",
             kito_harness_var(pidfile), seconds);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0, "cannot stop %s", pidfile);
}

/* kitod is alive, healthy again, and its sanitizers said nothing. */
static void kitod_unharmed(void)
{
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 15000), 200, "kitod did not recover");
    char cmd[700], out[256] = "";
    snprintf(cmd, sizeof(cmd), "grep -c -E 'AddressSanitizer|runtime error' '%s' || true",
             kd.log_path);
    kito_harness_sh(cmd, out, sizeof(out));
    cr_assert_eq(atoi(out), 0, "kitod's sanitizers reported an error; see %s", kd.log_path);
}

/* MariaDB stalls (SIGSTOP) for longer than the time limit but shorter than the driver's read
 * timeout: the request is answered 504 "timeout"; the job completes when MariaDB wakes and its
 * answer is dropped (the change it made stays: a 504 says the outcome is unknown), and kitod
 * goes on answering, with no use of the request after its end. */
Test(limits, a_stalled_database_answers_504_and_the_late_answer_is_dropped)
{
    static const char *const env[] = {"KITO_REQUEST_TIMEOUT_MS=" LIMIT_MS, NULL};
    kitod_up(env);
    kito_who w = kito_harness_person("buyer");
    struct kito_http_resp r = kito_harness_call(&kd, &w, NULL, "GET", "/v1/accounts/me", NULL);
    kito_harness_expect(&r, 200, "a read before the stall (the session is cached from here)");
    kito_http_resp_free(&r);

    pause_service("mysql/mysqld.pid", 1.6);
    r = kito_harness_call(&kd, &w, NULL, "PATCH", "/v1/accounts/me", "{\"name\":\"Late Writer\"}");
    kito_assert_error(&r, 504, "timeout");
    kito_http_resp_free(&r);
    kito_harness_sleep_ms(2500); /* MariaDB wakes; the job finishes; its answer has nowhere to go */
    kitod_unharmed();
    r = kito_harness_call(&kd, &w, NULL, "GET", "/v1/accounts/me", NULL);
    kito_harness_expect(&r, 200, "a read after the stall");
    cr_assert_str_eq(kito_harness_str(&r, "name"), "Late Writer",
                     "the late job ran to its end (its answer alone was dropped)");
    kito_http_resp_free(&r);
}

/* Redis stalls: the USSD callback waits on its session read; 504 "timeout" after the limit, and
 * the reply that comes when Redis wakes finds the request answered and does nothing (no menu
 * step, no effect). */
Test(limits, a_stalled_redis_answers_504_and_the_late_reply_is_dropped)
{
    static const char *const env[] = {"KITO_REQUEST_TIMEOUT_MS=" LIMIT_MS,
                                      "KITO_USSD_CALLBACK_TOKEN=" USSD_TOKEN, NULL};
    kitod_up(env);
    const char *body = "sessionId=ATUid_limits_1&serviceCode=%2A384%2A18%23"
                       "&phoneNumber=%2B255712000777&networkCode=63902&text=";
    pause_service("redis/redis.pid", 1.2);
    struct kito_http_resp r =
        kito_harness_call_raw(&kd, NULL, "POST", "/v1/ussd?token=" USSD_TOKEN, body, strlen(body),
                              "application/x-www-form-urlencoded");
    kito_assert_error(&r, 504, "timeout");
    kito_http_resp_free(&r);
    kito_harness_sleep_ms(2000);
    kitod_unharmed();
    r = kito_harness_call_raw(&kd, NULL, "POST", "/v1/ussd?token=" USSD_TOKEN, body, strlen(body),
                              "application/x-www-form-urlencoded");
    kito_harness_expect(&r, 200, "the same first screen after the stall");
    cr_assert(strncmp(r.body, "CON ", 4) == 0, "%s", r.body);
    kito_http_resp_free(&r);
}
