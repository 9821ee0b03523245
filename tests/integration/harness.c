#include "tests/integration/harness.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *env_or_die(const char *name)
{
    const char *v = getenv(name);
    cr_assert(v != NULL && *v != '\0',
              "%s is not set: run the integration tests through "
              "`ops/kito test integration`",
              name);
    return v;
}

/* Four buffers in turn, so one call's result survives the next three (several in one printf). */
static char *path_buffer(void)
{
    static char bufs[4][1024];
    static unsigned next;
    return bufs[next++ % 4];
}

const char *kito_harness_path(const char *rel)
{
    char *buf = path_buffer();
    snprintf(buf, 1024, "%s/%s", env_or_die("KITO_TEST_ROOT"), rel);
    return buf;
}

const char *kito_harness_var(const char *rel)
{
    char *buf = path_buffer();
    snprintf(buf, 1024, "%s/%s", env_or_die("KITO_TEST_VAR"), rel);
    return buf;
}

int kito_harness_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof(a);
    cr_assert(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

void kito_harness_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether one of the first n entries of envp sets the variable that entry ("NAME=value") sets. */
static bool env_has(char *const *envp, size_t n, const char *entry)
{
    const char *eq = strchr(entry, '=');
    size_t nl = eq ? (size_t)(eq - entry) : strlen(entry);
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], entry, nl) == 0 && envp[i][nl] == '=')
            return true;
    return false;
}

int kito_harness_next_https_port;

void kito_harness_kitod_start(struct kito_kitod *k, const char *const *extra_env)
{
    memset(k, 0, sizeof(*k));
    k->https_port =
        kito_harness_next_https_port > 0 ? kito_harness_next_https_port : kito_harness_free_port();
    kito_harness_next_https_port = 0;
    k->http_port = kito_harness_free_port();
    while (k->http_port == k->https_port)
        k->http_port = kito_harness_free_port();
    k->metrics_port = kito_harness_free_port();
    while (k->metrics_port == k->https_port || k->metrics_port == k->http_port)
        k->metrics_port = kito_harness_free_port();
    snprintf(k->log_path, sizeof(k->log_path), "%s/logs/kitod-%d-%d.log",
             env_or_die("KITO_TEST_VAR"), (int)getpid(), k->https_port);

    char vars[24][600];
    int n = 0;
    const char *var = env_or_die("KITO_TEST_VAR");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_BIND=127.0.0.1");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_HTTPS_PORT=%d", k->https_port);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_HTTP_PORT=%d", k->http_port);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_METRICS_PORT=%d", k->metrics_port);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_TLS_CERT=%s/tls/cert.pem", var);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_TLS_KEY=%s/tls/key.pem", var);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_REDIS_HOST=127.0.0.1");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_REDIS_PORT=%s", env_or_die("KITO_TEST_REDIS_PORT"));
    snprintf(vars[n++], sizeof(vars[0]), "KITO_REDIS_USER=kito");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_REDIS_PASSWORD=%s",
             env_or_die("KITO_TEST_REDIS_PASSWORD"));
    snprintf(vars[n++], sizeof(vars[0]), "KITO_MYSQL_HOST=127.0.0.1");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_MYSQL_PORT=%s", env_or_die("KITO_TEST_MYSQL_PORT"));
    snprintf(vars[n++], sizeof(vars[0]), "KITO_MYSQL_USER=kito");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_MYSQL_PASSWORD=%s",
             env_or_die("KITO_TEST_MYSQL_PASSWORD"));
    snprintf(vars[n++], sizeof(vars[0]), "KITO_MYSQL_DB=kito");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_STOREFRONT_DIR=%s/storefront",
             env_or_die("KITO_TEST_ROOT"));
    snprintf(vars[n++], sizeof(vars[0]), "KITO_SIGNING_KEY=%s/keys/signing-ed25519.pem", var);
    snprintf(vars[n++], sizeof(vars[0]), "KITO_ACCESS_LOG=-");
    snprintf(vars[n++], sizeof(vars[0]), "KITO_PHOTO_DIR=%s/photos", var);

    /* environment: extra_env, then ours, then the inherited one, each minus the names an earlier
     * one set (getenv returns the first match, so extra_env overrides ours) */
    char *envp[512];
    size_t e = 0;
    for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL && e < 300; i++)
        envp[e++] = (char *)extra_env[i];
    for (int i = 0; i < n; i++)
        if (!env_has(envp, e, vars[i]))
            envp[e++] = vars[i];
    for (char **p = environ; *p != NULL && e < 510; p++)
        if (!env_has(envp, e, *p))
            envp[e++] = *p;
    envp[e] = NULL;

    char bin[1024];
    snprintf(bin, sizeof(bin), "%s/api/kitod", env_or_die("KITO_TEST_BUILD"));
    char keys[1024];
    snprintf(keys, sizeof(keys), "mkdir -p '%s/keys' '%s/logs'", var, var);
    cr_assert(system(keys) == 0);

    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        FILE *f = freopen(k->log_path, "a", stdout);
        if (f != NULL)
            dup2(fileno(stdout), 2);
        char *argv[] = {bin, NULL};
        execve(bin, argv, envp);
        _exit(127);
    }
    k->pid = pid;

    for (int i = 0; i < 200; i++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            k->pid = 0;
            cr_assert_fail("kitod exited during start (status %d); see %s", st, k->log_path);
        }
        struct kito_http_resp r;
        if (kito_http(k, "GET", "/healthz", NULL, 0, NULL, 0, &r) == 0) {
            kito_http_resp_free(&r);
            return;
        }
        kito_harness_sleep_ms(50);
    }
    kito_harness_kitod_stop(k, 1000);
    cr_assert_fail("kitod did not answer /healthz within 10 s; see %s", k->log_path);
}

int kito_harness_kitod_stop(struct kito_kitod *k, int timeout_ms)
{
    if (k->pid <= 0)
        return 0;
    int st = 0;
    kill(k->pid, SIGTERM);
    for (int waited = 0; waited < timeout_ms; waited += 20) {
        if (waitpid(k->pid, &st, WNOHANG) == k->pid) {
            k->pid = 0;
            return st;
        }
        kito_harness_sleep_ms(20);
    }
    kill(k->pid, SIGKILL);
    waitpid(k->pid, &st, 0);
    k->pid = 0;
    return st;
}

struct buf {
    char *p;
    size_t len;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
    struct buf *b = ud;
    size_t n = size * nmemb;
    char *p = realloc(b->p, b->len + n + 1);
    if (p == NULL)
        return 0;
    memcpy(p + b->len, data, n);
    b->p = p;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

int kito_http(const struct kito_kitod *k, const char *method, const char *path, const char *body,
              size_t body_len, const char *const *headers, unsigned flags,
              struct kito_http_resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    cr_assert(c != NULL);
    char url[2048];
    if (flags & KITO_HTTP_PLAIN)
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", k->http_port, path);
    else if (flags & KITO_HTTP_OPS)
        snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", k->metrics_port, path);
    else
        snprintf(url, sizeof(url), "https://localhost:%d%s", k->https_port, path);
    /* localhost resolves to 127.0.0.1 without asking the system resolver */
    char resolve[64];
    snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", k->https_port);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hdrs = curl_slist_append(hdrs, headers[i]);
    struct buf b = {0}, h = {0};

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, res);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CAINFO, kito_harness_var("tls/ca.pem"));
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                     (flags & KITO_HTTP_H2) ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    if (hdrs != NULL)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &out->http_version);
        out->body = b.p != NULL ? b.p : strdup("");
        out->body_len = b.len;
        out->headers = h.p != NULL ? h.p : strdup("");
        out->json = json_loadb(out->body, out->body_len, 0, NULL);
    } else {
        free(b.p);
        free(h.p);
    }
    curl_slist_free_all(hdrs);
    curl_slist_free_all(res);
    curl_easy_cleanup(c);
    return (int)rc;
}

void kito_http_ok(const struct kito_kitod *k, const char *method, const char *path,
                  const char *body, struct kito_http_resp *out)
{
    static const char *const json[] = {"Content-Type: application/json", NULL};
    int rc = kito_http(k, method, path, body, body ? strlen(body) : 0, body ? json : NULL, 0, out);
    cr_assert_eq(rc, 0, "%s %s: no response (%s)", method, path, curl_easy_strerror((CURLcode)rc));
}

void kito_http_resp_free(struct kito_http_resp *r)
{
    free(r->body);
    free(r->headers);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

bool kito_http_header(const struct kito_http_resp *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; line != NULL && *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(line + len - v);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return true;
        }
        line = end ? end + 2 : NULL;
    }
    return false;
}

void kito_assert_error(const struct kito_http_resp *r, long status, const char *code)
{
    cr_assert_eq(r->status, status, "status %ld, expected %ld; body: %s", r->status, status,
                 r->body);
    cr_assert(r->json != NULL, "error body is not JSON: %s", r->body);
    json_t *err = json_object_get(r->json, "error");
    cr_assert(json_is_object(err), "no error object: %s", r->body);
    const char *got = json_string_value(json_object_get(err, "code"));
    cr_assert(got != NULL && strcmp(got, code) == 0, "error code %s, expected %s",
              got ? got : "(none)", code);
    const char *msg = json_string_value(json_object_get(err, "message"));
    cr_assert(msg != NULL && *msg != '\0', "error without a message: %s", r->body);
}

int kito_harness_sh(const char *command, char *out, size_t cap)
{
    FILE *p = popen(command, "r");
    if (p == NULL)
        return -1;
    size_t n = 0;
    char tmp[4096];
    size_t got;
    while ((got = fread(tmp, 1, sizeof(tmp), p)) > 0) {
        if (out != NULL && n + 1 < cap) {
            size_t take = got < cap - 1 - n ? got : cap - 1 - n;
            memcpy(out + n, tmp, take);
            n += take;
        }
    }
    if (out != NULL && cap > 0)
        out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void kito_harness_redis_pause(double seconds)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd),
             "p=$(cat '%s') && kill -STOP $p && { (sleep %.3f; kill -CONT $p) >/dev/null 2>&1 & }",
             kito_harness_var("redis/redis.pid"), seconds);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0, "cannot stop Redis");
}

redisContext *kito_harness_redis(void)
{
    const char *port = env_or_die("KITO_TEST_REDIS_PORT");
    redisContext *c = redisConnect("127.0.0.1", atoi(port));
    cr_assert(c != NULL && !c->err, "cannot reach the test Redis on port %s", port);
    redisReply *r = redisCommand(c, "AUTH %s", env_or_die("KITO_TEST_REDIS_ADMIN_PASSWORD"));
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "the test Redis refused the admin: %s",
              r != NULL && r->type == REDIS_REPLY_ERROR ? r->str : "no answer");
    freeReplyObject(r);
    return c;
}

int kito_harness_service(const char *action)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "bash -c '. \"%s/ops/lib.sh\" && case %s in "
             "redis_start) redis_start \"$TEST_VAR/redis\" $TEST_REDIS_PORT strict;; "
             "redis_stop) redis_stop \"$TEST_VAR/redis\" $TEST_REDIS_PORT;; "
             "redis_kill) redis_kill \"$TEST_VAR/redis\";; "
             "mysql_start) mysql_start \"$TEST_VAR/mysql\" $TEST_MYSQL_PORT;; "
             "mysql_stop) mysql_stop \"$TEST_VAR/mysql\";; "
             "*) exit 64;; esac' >/dev/null 2>&1",
             env_or_die("KITO_TEST_ROOT"), action);
    return kito_harness_sh(cmd, NULL, 0);
}

long kito_harness_wait_health(const struct kito_kitod *k, long want_status, int timeout_ms)
{
    long last = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        struct kito_http_resp r;
        if (kito_http(k, "GET", "/healthz", NULL, 0, NULL, 0, &r) == 0) {
            last = r.status;
            kito_http_resp_free(&r);
            if (last == want_status)
                return last;
        }
        kito_harness_sleep_ms(100);
    }
    return last;
}

/* ---- direct database access ------------------------------------------------------------------ */

#include <mysql.h>
#include <stdarg.h>

#include "api/common/crypto.h"

static MYSQL *test_db(void)
{
    static MYSQL *db;
    if (db != NULL)
        return db;
    db = mysql_init(NULL);
    cr_assert(db != NULL);
    unsigned port = (unsigned)atoi(env_or_die("KITO_TEST_MYSQL_PORT"));
    cr_assert(mysql_real_connect(db, "127.0.0.1", "kito", env_or_die("KITO_TEST_MYSQL_PASSWORD"),
                                 "kito", port, NULL, 0) != NULL,
              "cannot connect to the test database: %s", mysql_error(db));
    mysql_query(db, "SET time_zone = '+00:00'");
    return db;
}

/* Runs the printf-formatted statement; the result (if any) is the caller's to free. */
static MYSQL_RES *run_sql(const char *fmt, va_list ap)
{
    char sql[8192];
    vsnprintf(sql, sizeof(sql), fmt, ap);
    MYSQL *db = test_db();
    cr_assert(mysql_query(db, sql) == 0, "SQL failed: %s\n%s", mysql_error(db), sql);
    return mysql_store_result(db);
}

unsigned long long kito_harness_sql(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = run_sql(fmt, ap);
    va_end(ap);
    if (res != NULL)
        mysql_free_result(res);
    return mysql_insert_id(test_db());
}

unsigned long long kito_harness_sql_value(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    MYSQL_RES *res = run_sql(fmt, ap);
    va_end(ap);
    cr_assert(res != NULL, "the query returned no result set");
    unsigned long long n = mysql_num_rows(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    snprintf(out, cap, "%s", row != NULL && row[0] != NULL ? row[0] : "");
    mysql_free_result(res);
    return n;
}

unsigned long long kito_harness_account(const char *role, char *contact, size_t cap)
{
    static unsigned counter;
    static char pw_hash[160], pin_hash[160];
    if (pw_hash[0] == '\0') {
        cr_assert(kito_crypto_secret_hash(KITO_HARNESS_PASSWORD, strlen(KITO_HARNESS_PASSWORD),
                                          &kito_scrypt_test, pw_hash, sizeof(pw_hash)) == KITO_OK);
        cr_assert(kito_crypto_secret_hash(KITO_HARNESS_PIN, strlen(KITO_HARNESS_PIN),
                                          &kito_scrypt_test, pin_hash,
                                          sizeof(pin_hash)) == KITO_OK);
    }
    counter++;
    unsigned long long id;
    char c[128];
    if (strcmp(role, "miner") == 0) {
        /* +2557 + 8 random digits: a Tanzanian mobile number. Every test of every program shares
         * the database, and each Criterion test is a process of its own: digits made of the
         * pid's last four and a per-process counter collided whenever two tests' pids ended
         * alike (a Duplicate entry failure, seen in a full run). Drawn again on a duplicate. */
        MYSQL *db = test_db();
        char sql[1024];
        for (int attempt = 0;; attempt++) {
            uint32_t r;
            cr_assert(kito_crypto_random(&r, sizeof(r)) == KITO_OK);
            snprintf(c, sizeof(c), "+2557%08u", (unsigned)(r % 100000000u));
            snprintf(sql, sizeof(sql),
                     "INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country)"
                     " VALUES ('miner', 'Test Miner %u', '%s', 'pin', '%s', 'TZ')",
                     counter, c, pin_hash);
            if (mysql_query(db, sql) == 0)
                break;
            cr_assert(mysql_errno(db) == 1062 && attempt < 20, "SQL failed: %s\n%s",
                      mysql_error(db), sql); /* 1062: ER_DUP_ENTRY */
        }
        id = mysql_insert_id(db);
    } else {
        snprintf(c, sizeof(c), "%s%u.%u@example.test", role, (unsigned)getpid(), counter);
        id = kito_harness_sql("INSERT INTO accounts (role, name, email, secret_kind, secret_hash)"
                              " VALUES ('%s', 'Test %s %u', '%s', 'password', '%s')",
                              role, role, counter, c, pw_hash);
    }
    if (contact != NULL)
        snprintf(contact, cap, "%s", c);
    return id;
}

unsigned long long kito_harness_stone(unsigned long long miner, unsigned long long listed_by,
                                      bool certified, char id[KITO_ID_SIZE])
{
    static unsigned long long valuer;
    char key[32], sig[89];
    unsigned long long stone = kito_harness_sql(
        "INSERT INTO stones (seller_id, listed_by, species, variety, weight_cct, origin_country,"
        " origin_region, colour, status) VALUES (%llu, %llu, 'zoisite', 'tanzanite', 312, 'TZ',"
        " 'Manyara', 'violet blue', '%s')",
        miner, listed_by, certified ? "certified" : "draft");
    if (certified) {
        if (valuer == 0)
            valuer = kito_harness_account("valuer", NULL, 0);
        if (kito_harness_sql_value(key, sizeof(key), "SELECT key_id FROM signing_keys LIMIT 1") ==
            0) {
            kito_harness_sql("INSERT IGNORE INTO signing_keys (key_id, public_key_b64) VALUES"
                             " ('5a1e5a1e5a1e5a1e', '%043d=')",
                             0);
            snprintf(key, sizeof(key), "5a1e5a1e5a1e5a1e");
        }
        memset(sig, 'A', 86);
        sig[86] = sig[87] = '=';
        sig[88] = '\0';
        kito_harness_sql("INSERT INTO certificates (stone_id, version, canonical_json, signature,"
                         " key_id, valuer_id) VALUES (%llu, 1, '{\"species\":\"zoisite\"}', '%s',"
                         " '%s', %llu)",
                         stone, sig, key, valuer);
    }
    cr_assert_eq(kito_id_format(KITO_ID_STONE, stone, id, KITO_ID_SIZE), KITO_OK);
    return stone;
}

unsigned long long kito_harness_offer(const char *stone_id, unsigned long long organizer_id)
{
    uint64_t stone = 0;
    char have[32];
    cr_assert_eq(kito_id_parse(KITO_ID_STONE, stone_id, &stone), KITO_OK, "not a stone id: %s",
                 stone_id);
    if (kito_harness_sql_value(have, sizeof(have),
                               "SELECT id FROM stone_offers WHERE live_stone_id = %llu"
                               " AND organizer_id = %llu AND sale_key = 0",
                               (unsigned long long)stone, organizer_id) > 0)
        return strtoull(have, NULL, 10);
    unsigned long long id = kito_harness_sql(
        "INSERT INTO stone_offers (stone_id, miner_id, listed_by, organizer_id, offered_by,"
        " offered_by_role) SELECT id, seller_id, listed_by, %llu, seller_id, 'miner'"
        " FROM stones WHERE id = %llu",
        organizer_id, (unsigned long long)stone);
    cr_assert_neq(id, 0, "no offer of %s written", stone_id);
    return id;
}

unsigned long long kito_harness_session(unsigned long long account_id, char token[44])
{
    cr_assert(kito_crypto_token_new(token) == KITO_OK);
    return kito_harness_session_for(account_id, token);
}

unsigned long long kito_harness_session_for(unsigned long long account_id, const char *token)
{
    char digest[65];
    cr_assert(kito_crypto_token_digest(token, digest) == KITO_OK);
    return kito_harness_sql("INSERT INTO sessions (token_sha256, account_id, expires_at) VALUES"
                            " ('%s', %llu, UTC_TIMESTAMP(3) + INTERVAL 1 DAY)",
                            digest, account_id);
}

unsigned int kito_harness_sql_errno(const char *fmt, ...)
{
    char sql[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    MYSQL *db = test_db();
    if (mysql_query(db, sql) != 0)
        return mysql_errno(db);
    MYSQL_RES *res = mysql_store_result(db);
    if (res != NULL)
        mysql_free_result(res);
    return 0;
}

kito_who kito_harness_person(const char *role)
{
    kito_who w;
    w.id = kito_harness_account(role, NULL, 0);
    kito_harness_session(w.id, w.token);
    cr_assert_eq(kito_id_format(KITO_ID_ACCOUNT, w.id, w.acc, sizeof(w.acc)), KITO_OK);
    return w;
}

/* One request with optional bearer token, Idempotency-Key and typed body; asserts a response. */
static struct kito_http_resp call(const struct kito_kitod *k, const char *token,
                                  const char *idempotency_key, const char *method, const char *path,
                                  const void *body, size_t len, const char *content_type)
{
    char auth[128], idem[160], ct[128];
    const char *headers[4] = {NULL, NULL, NULL, NULL};
    int h = 0;
    if (content_type != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
        headers[h++] = ct;
    }
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        headers[h++] = auth;
    }
    if (idempotency_key != NULL) {
        snprintf(idem, sizeof(idem), "Idempotency-Key: %s", idempotency_key);
        headers[h++] = idem;
    }
    struct kito_http_resp r;
    int rc = kito_http(k, method, path, body, len, headers, 0, &r);
    cr_assert_eq(rc, 0, "%s %s: no response", method, path);
    return r;
}

struct kito_http_resp kito_harness_call(const struct kito_kitod *k, const kito_who *w,
                                        const char *idempotency_key, const char *method,
                                        const char *path, const char *json)
{
    return call(k, w != NULL ? w->token : NULL, idempotency_key, method, path, json,
                json != NULL ? strlen(json) : 0, json != NULL ? "application/json" : NULL);
}

struct kito_http_resp kito_harness_call_raw(const struct kito_kitod *k, const char *token,
                                            const char *method, const char *path, const void *body,
                                            size_t len, const char *content_type)
{
    return call(k, token, NULL, method, path, body, len, content_type);
}

struct kito_http_resp kito_harness_callf(const struct kito_kitod *k, const kito_who *w,
                                         const char *idempotency_key, const char *method,
                                         const char *path, const char *body_fmt, ...)
{
    char body[16384];
    if (body_fmt != NULL) {
        va_list ap;
        va_start(ap, body_fmt);
        int n = vsnprintf(body, sizeof(body), body_fmt, ap);
        va_end(ap);
        cr_assert(n >= 0 && (size_t)n < sizeof(body), "%s %s: body too long", method, path);
    }
    return kito_harness_call(k, w, idempotency_key, method, path, body_fmt != NULL ? body : NULL);
}

struct kito_http_resp kito_harness_call_json(const struct kito_kitod *k, const char *token,
                                             const char *method, const char *path, const char *json)
{
    return call(k, token, NULL, method, path, json, json != NULL ? strlen(json) : 0,
                json != NULL ? "application/json" : NULL);
}

long long kito_harness_count(const char *fmt, ...)
{
    char sql[4096], out[32] = "";
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && (size_t)n < sizeof(sql), "query too long");
    kito_harness_sql_value(out, sizeof(out), "%s", sql);
    return atoll(out);
}

const char *kito_harness_str(const struct kito_http_resp *r, const char *name)
{
    const char *s = json_string_value(json_object_get(r->json, name));
    cr_assert(s != NULL, "no string member %s in %s", name, r->body);
    return s;
}

const char *kito_harness_at(long offset_s, char buf[KITO_TIME_SIZE])
{
    cr_assert_eq(kito_time_format(((int64_t)time(NULL) + offset_s) * 1000, buf), KITO_OK);
    return buf;
}

unsigned long long kito_harness_offered_stone(unsigned long long organizer_id,
                                              char id[KITO_ID_SIZE])
{
    static unsigned long long miner;
    if (miner == 0)
        miner = kito_harness_account("miner", NULL, 0);
    unsigned long long key = kito_harness_stone(miner, miner, true, id);
    kito_harness_offer(id, organizer_id);
    return key;
}

void kito_harness_expect(const struct kito_http_resp *r, long status, const char *what)
{
    cr_assert_eq(r->status, status, "%s: status %ld, want %ld: %s", what, r->status, status,
                 r->body);
}
