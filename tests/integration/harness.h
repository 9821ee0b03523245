/*
 * Integration-test harness: starts a real kitod against the test command's Redis and MariaDB
 * (ops/test.sh starts those and exports KITO_TEST_*), and talks HTTPS to it with libcurl,
 * verifying the server's certificate against the test CA (no "insecure" mode).
 *
 * Every function that can fail aborts the current Criterion test with a message (cr_assert), so
 * tests read as a story. Not thread-safe; one kitod per test process.
 */
#ifndef KITO_HARNESS_H
#define KITO_HARNESS_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "api/common/validate.h"

struct kito_kitod {
    pid_t pid;
    int https_port;
    int http_port;
    int metrics_port;   /* the loopback listener for /metrics and /healthz (KITO_METRICS_PORT) */
    char log_path[512]; /* kitod's stdout and stderr */
};

/* Starts kitod on free ports and waits until /healthz answers (any status). Photos go under
 * $KITO_TEST_VAR/photos. extra_env is a
 * NULL-terminated list of "NAME=value" strings added to (and overriding) the defaults; may be
 * NULL. */
void kito_harness_kitod_start(struct kito_kitod *k, const char *const *extra_env);

/* When not 0, the next kitod_start listens on this HTTPS port (then it is 0 again): for a
 * provider that must be told kitod's URL before kitod starts (MoMo's X-Callback-Url). */
extern int kito_harness_next_https_port;

/* Declares `static struct kito_kitod kd;` and a Criterion suite whose every test gets a fresh
 * kitod that has answered /healthz with 200 (and is stopped after the test). */
#define KITO_SUITE_WITH_KITOD(suite, timeout_s)                                                    \
    static struct kito_kitod kd;                                                                   \
    static void suite##_up(void)                                                                   \
    {                                                                                              \
        kito_harness_kitod_start(&kd, NULL);                                                       \
        cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200, "kitod never became healthy"); \
    }                                                                                              \
    static void suite##_down(void)                                                                 \
    {                                                                                              \
        kito_harness_kitod_stop(&kd, 5000);                                                        \
    }                                                                                              \
    TestSuite(suite, .init = suite##_up, .fini = suite##_down, .timeout = (timeout_s))

/* Sends SIGTERM and waits up to timeout_ms; then SIGKILL. Returns the exit status as
 * waitpid(2) reports it. Safe to call twice. */
int kito_harness_kitod_stop(struct kito_kitod *k, int timeout_ms);

enum {
    KITO_HTTP_H2 = 1 << 0,    /* negotiate HTTP/2 (ALPN); the default is HTTP/1.1 */
    KITO_HTTP_PLAIN = 1 << 1, /* plain http:// to the redirect port, no TLS */
    KITO_HTTP_OPS = 1 << 2,   /* plain http:// to the loopback metrics listener */
};

struct kito_http_resp {
    long status;
    long http_version; /* CURL_HTTP_VERSION_1_1 or CURL_HTTP_VERSION_2_0 */
    char *body;        /* NUL-terminated */
    size_t body_len;
    char *headers; /* raw response header block, NUL-terminated */
    json_t *json;  /* body parsed as JSON, or NULL when it is not JSON */
};

/* One request to kitod. headers is a NULL-terminated list of "Name: value" lines or NULL; body
 * may be NULL (body_len ignored) or binary (body_len bytes). Returns the transport result: 0 on
 * a response, the curl error code when no response came (connection refused, reset ...). */
int kito_http(const struct kito_kitod *k, const char *method, const char *path, const char *body,
              size_t body_len, const char *const *headers, unsigned flags,
              struct kito_http_resp *out);

/* kito_http with a NUL-terminated body that must get a response (asserts transport success). */
void kito_http_ok(const struct kito_kitod *k, const char *method, const char *path,
                  const char *body, struct kito_http_resp *out);

void kito_http_resp_free(struct kito_http_resp *r);

/* The value of response header name (case-insensitive), copied into buf; false if absent. */
bool kito_http_header(const struct kito_http_resp *r, const char *name, char *buf, size_t cap);

/* Asserts the response is the JSON error shape {"error":{"code":code,"message":"..."}} with
 * the given status. */
void kito_assert_error(const struct kito_http_resp *r, long status, const char *code);

/* Runs a lib.sh shell function against the test services, e.g. "redis_stop" or "mysql_start";
 * returns its exit status. Known: redis_start, redis_stop, redis_kill, mysql_start, mysql_stop. */
int kito_harness_service(const char *action);

/* A connection to the test Redis as its admin (the default user, KITO_TEST_REDIS_ADMIN_PASSWORD;
 * kitod's own user may not run FLUSHDB and the like). Free with redisFree. */
redisContext *kito_harness_redis(void);

/* Stops the test Redis (SIGSTOP) now and lets it go on (SIGCONT) after seconds, without waiting:
 * what a stall of Redis looks like to kitod (commands it has already sent run when it wakes). */
void kito_harness_redis_pause(double seconds);

/* Polls GET /healthz every 100 ms until it returns want_status or timeout_ms passes; returns the
 * last status seen. */
long kito_harness_wait_health(const struct kito_kitod *k, long want_status, int timeout_ms);

/* Path of a file under the repository / the test var folder (a static buffer, valid until the
 * fourth call after this one). */
const char *kito_harness_path(const char *relative_to_root);
const char *kito_harness_var(const char *relative_to_var);

/* Runs a shell command, capturing up to cap-1 bytes of its stdout into out (may be NULL).
 * Returns the exit status (or -1). */
int kito_harness_sh(const char *command, char *out, size_t cap);

#endif

/* ---- direct database access, for arranging and checking state ---------------------------- */

/* Runs one SQL statement (printf-style) on the test database as the application user. Returns
 * the insert id (0 when none); asserts on error. */
unsigned long long kito_harness_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Runs a query and copies the first column of its first row into out ("" when no row or NULL).
 * Returns the number of rows. */
unsigned long long kito_harness_sql_value(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The password (buyers, staff) or PIN (miners) of every account made by kito_harness_account. */
#define KITO_HARNESS_PASSWORD "correct horse battery"
#define KITO_HARNESS_PIN "4826"

/* Makes an active account of role ("miner", "buyer", "valuer", "organizer", "operator") with a
 * unique phone or e-mail derived from a counter and the process id, written into contact (may be
 * NULL, cap bytes). Returns its id. */
unsigned long long kito_harness_account(const char *role, char *contact, size_t cap);

/* Makes a live session for account_id, as sign-in would, and writes its bearer token (44 bytes
 * with the NUL) into token. Returns the session id. */
unsigned long long kito_harness_session(unsigned long long account_id, char token[44]);

/* The same for a token the caller made (kito_crypto_token_new): its session, live for a day. */
unsigned long long kito_harness_session_for(unsigned long long account_id, const char *token);

/* A stone of miner (listed by listed_by: she herself or a valuer), made by SQL; with a version 1
 * certificate issued by a test valuer when certified (the signature is a placeholder: for tests
 * that do not verify it). Its API id ("stn_...") goes into id. Returns its key. */
unsigned long long kito_harness_stone(unsigned long long miner, unsigned long long listed_by,
                                      bool certified, char id[KITO_ID_SIZE]);

/* Consent (DESIGN.md, "Consent"; api/store/repo_offers.h): the miner of stone_id (the API's id,
 * "stn_...") offers it to organiser organizer_id (any of her sales), as POST
 * /v1/stones/{id}/offers by the miner would, written by SQL for tests that arrange their stones
 * by SQL. Returns the offer's key. Idempotent like the API: an offer already live is returned. */
unsigned long long kito_harness_offer(const char *stone_id, unsigned long long organizer_id);

/* Runs one SQL statement (printf-style) that is expected to be refused; returns MariaDB's error
 * number (0 if it succeeded). For checking the schema's own constraints. */
unsigned int kito_harness_sql_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- people and requests, the shape most tests share ------------------------------------ */

/* One person with a session: key, bearer token and the API's id ("acc_..."). */
typedef struct kito_who {
    unsigned long long id;
    char token[44];
    char acc[KITO_ID_SIZE];
} kito_who;

/* Makes an active account of role (kito_harness_account) with a live session. */
kito_who kito_harness_person(const char *role);

/* One request to k that must get a response: bearer token of w (may be NULL), an
 * Idempotency-Key (may be NULL) and a body sent as application/json (may be NULL). */
struct kito_http_resp kito_harness_call(const struct kito_kitod *k, const kito_who *w,
                                        const char *idempotency_key, const char *method,
                                        const char *path, const char *json);

/* One request to k that must get a response, with a bearer token (may be NULL) and a body of
 * any content type (body and content_type may be NULL). */
struct kito_http_resp kito_harness_call_raw(const struct kito_kitod *k, const char *token,
                                            const char *method, const char *path, const void *body,
                                            size_t len, const char *content_type);

/* kito_harness_call with the body made printf-style from body_fmt (NULL: no body; at most 16 KiB
 * once formatted). */
struct kito_http_resp kito_harness_callf(const struct kito_kitod *k, const kito_who *w,
                                         const char *idempotency_key, const char *method,
                                         const char *path, const char *body_fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* kito_harness_call with a bearer token instead of a person (token may be NULL). */
struct kito_http_resp kito_harness_call_json(const struct kito_kitod *k, const char *token,
                                             const char *method, const char *path,
                                             const char *json);

/* The number the first column of the first row of a SQL query says (printf-style), 0 if none. */
long long kito_harness_count(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The string member name of r's JSON body; the test fails when there is none. Borrowed from r. */
const char *kito_harness_str(const struct kito_http_resp *r, const char *name);

/* RFC 3339 UTC of now + offset_s seconds, into buf (returned). */
const char *kito_harness_at(long offset_s, char buf[KITO_TIME_SIZE]);

/* A certified stone of a test miner (one per test program), listed by her and offered to
 * organizer_id (consent: kito_harness_offer); its API id goes into id. Returns its key. */
unsigned long long kito_harness_offered_stone(unsigned long long organizer_id,
                                              char id[KITO_ID_SIZE]);

/* Asserts r's status; on failure the message shows what and the body. */
void kito_harness_expect(const struct kito_http_resp *r, long status, const char *what);

/* A free TCP port on the loopback address (bound and released). */
int kito_harness_free_port(void);

void kito_harness_sleep_ms(long ms);
