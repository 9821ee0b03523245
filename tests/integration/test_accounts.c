/* Accounts, sessions, sign-in throttling and associations over HTTPS against the real MariaDB
 * (issue 4, "Accounts and roles").
 *
 * Every request here leaves from a loopback address of its own (127.x.y.z, derived from the
 * test's process id; Criterion runs each test in its own process), so the per-address sign-in
 * counters of one test never touch another test's, nor other suites' (which use 127.0.0.1). */
#include <criterion/criterion.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/http/http_error.h"
#include "tests/integration/harness.h"

static struct kito_kitod kd;
static char src[32]; /* this test's source address */

static void up(void)
{
    unsigned pid = (unsigned)getpid();
    snprintf(src, sizeof(src), "127.%u.%u.%u", 1 + (pid >> 16) % 250, (pid >> 8) & 255,
             1 + (pid & 255) % 250);
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(accounts, .init = up, .fini = down, .timeout = 120);

/* ---- helpers --------------------------------------------------------------------------------- */

static size_t collect(char *data, size_t size, size_t nmemb, void *ud)
{
    char **p = ud;
    size_t have = *p != NULL ? strlen(*p) : 0, n = size * nmemb;
    char *q = realloc(*p, have + n + 1);
    if (q == NULL)
        return 0;
    memcpy(q + have, data, n);
    q[have + n] = '\0';
    *p = q;
    return n;
}

/* One request from src (or from `from` when not NULL) with an optional bearer token; a JSON
 * body gets its Content-Type. The response is the harness's shape (free with
 * kito_http_resp_free). */
static struct kito_http_resp call_from(const char *from, const char *method, const char *path,
                                       const char *body, const char *token)
{
    struct kito_http_resp out = {0};
    CURL *c = curl_easy_init();
    cr_assert(c != NULL);
    char url[512], resolve[64], auth[128];
    snprintf(url, sizeof(url), "https://localhost:%d%s", kd.https_port, path);
    snprintf(resolve, sizeof(resolve), "localhost:%d:127.0.0.1", kd.https_port);
    struct curl_slist *res = curl_slist_append(NULL, resolve);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    hdrs = curl_slist_append(hdrs, "User-Agent: kito-test/1 (accounts)");
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    char *b = NULL, *h = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_RESOLVE, res);
    curl_easy_setopt(c, CURLOPT_INTERFACE, from != NULL ? from : src);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_CAINFO, kito_harness_var("tls/ca.pem"));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.status);
    out.body = b != NULL ? b : strdup("");
    out.body_len = strlen(out.body);
    out.headers = h != NULL ? h : strdup("");
    out.json = json_loads(out.body, 0, NULL);
    curl_slist_free_all(hdrs);
    curl_slist_free_all(res);
    curl_easy_cleanup(c);
    return out;
}

static struct kito_http_resp call(const char *method, const char *path, const char *body,
                                  const char *token)
{
    return call_from(NULL, method, path, body, token);
}

static long validation_status(void)
{
    return kito_http_status(KITO_E_VALIDATION);
}

/* A fresh phone number of the given market prefix ("2547" Kenya, "26097" Zambia...) with as many
 * digits as that country's mobiles have, unique per process and call. */
static void fresh_phone(char *out, size_t cap, const char *prefix)
{
    static unsigned counter;
    counter++;
    unsigned long long v = (unsigned long long)(getpid() % 100000) * 1000 + counter % 1000;
    size_t digits = 12 - strlen(prefix); /* the market's mobiles: 3 + 9 digits */
    unsigned long long mod = 1;
    for (size_t i = 0; i < digits; i++)
        mod *= 10;
    snprintf(out, cap, "+%s%0*llu", prefix, (int)digits, v % mod);
}

static void fresh_email(char *out, size_t cap, const char *who)
{
    static unsigned counter;
    snprintf(out, cap, "%s.%d.%u.%ld@example.test", who, (int)getpid(), ++counter,
             (long)time(NULL) % 100000);
}

static const char *str(const struct kito_http_resp *r, const char *key)
{
    return json_string_value(json_object_get(r->json, key));
}

/* The account id (numeric) behind an "acc_..." id, from the database. */
static unsigned long long count(const char *fmt, const char *arg)
{
    char sql[512], v[32];
    snprintf(sql, sizeof(sql), fmt, arg);
    kito_harness_sql_value(v, sizeof(v), "%s", sql);
    return strtoull(v, NULL, 10);
}

static struct kito_http_resp register_miner(const char *phone, const char *pin, const char *rail)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"role\":\"miner\",\"name\":\"Neema Mollel\",\"phone\":\"%s\",\"pin\":\"%s\","
             "\"locale\":\"sw\",\"payout\":{\"rail\":\"%s\"}}",
             phone, pin, rail);
    return call("POST", "/v1/accounts", body, NULL);
}

static struct kito_http_resp signin_email(const char *email, const char *password)
{
    char body[512];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, password);
    return call("POST", "/v1/sessions", body, NULL);
}

/* Signs in and copies the token out; asserts success. */
static void signin_ok(const char *email, const char *password, char token[64])
{
    struct kito_http_resp r = signin_email(email, password);
    cr_assert_eq(r.status, 201, "sign-in: %ld %s", r.status, r.body);
    snprintf(token, 64, "%s", str(&r, "token"));
    cr_assert_eq(strlen(token), 43);
    kito_http_resp_free(&r);
}

/* ---- registration ---------------------------------------------------------------------------- */

Test(accounts, a_miner_registers_with_phone_and_pin)
{
    char phone[20], asn_name[64], body[600];
    fresh_phone(phone, sizeof(phone), "2547");
    snprintf(asn_name, sizeof(asn_name), "Kasigau Women Miners %d", (int)getpid());
    unsigned long long asn = kito_harness_sql(
        "INSERT INTO associations (name, country, levy_bps) VALUES ('%s', 'KE', 200)", asn_name);
    char asn_id[32] = "";
    {
        /* find it through the list, following cursors */
        char path[256] = "/v1/associations?country=KE&limit=2";
        bool found = false;
        for (int page = 0; page < 1000 && !found; page++) {
            struct kito_http_resp p = call("GET", path, NULL, NULL);
            cr_assert_eq(p.status, 200, "%s", p.body);
            json_t *items = json_object_get(p.json, "items");
            cr_assert(json_array_size(items) <= 2);
            size_t i;
            json_t *it;
            json_array_foreach(items, i, it)
            {
                if (strcmp(json_string_value(json_object_get(it, "name")), asn_name) == 0) {
                    snprintf(asn_id, sizeof(asn_id), "%s",
                             json_string_value(json_object_get(it, "id")));
                    cr_assert_eq(json_integer_value(json_object_get(it, "levy_bps")), 200);
                    found = true;
                }
            }
            const char *next = str(&p, "next_cursor");
            if (next == NULL) {
                kito_http_resp_free(&p);
                break;
            }
            snprintf(path, sizeof(path), "/v1/associations?country=KE&limit=2&cursor=%s", next);
            kito_http_resp_free(&p);
        }
        cr_assert(found, "association %llu not listed", asn);
    }

    snprintf(body, sizeof(body),
             "{\"role\":\"miner\",\"name\":\"Wanjiru Mwangi\",\"phone\":\"%s\",\"pin\":\"4826\","
             "\"association_id\":\"%s\",\"payout\":{\"rail\":\"airtel_money\"}}",
             phone, asn_id);
    struct kito_http_resp r = call("POST", "/v1/accounts", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_eq(strncmp(str(&r, "id"), "acc_", 4), 0);
    cr_assert_str_eq(str(&r, "role"), "miner");
    cr_assert_str_eq(str(&r, "phone"), phone);
    cr_assert_str_eq(str(&r, "country"), "KE");
    cr_assert_str_eq(str(&r, "locale"), "en");
    cr_assert(strstr(r.body, "4826") == NULL && strstr(r.body, "scrypt") == NULL,
              "the view leaks a secret: %s", r.body);
    json_t *m = json_object_get(r.json, "miner");
    cr_assert_str_eq(json_string_value(json_object_get(m, "association_id")), asn_id);
    json_t *payout = json_object_get(m, "payout");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "rail")), "airtel_money");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "msisdn")), phone);
    kito_http_resp_free(&r);

    char v[200];
    kito_harness_sql_value(v, sizeof(v), "SELECT secret_hash FROM accounts WHERE phone = '%s'",
                           phone);
    cr_assert_eq(strncmp(v, "scrypt$N=16384,r=8,p=5$", 23), 0, "stored %s", v);
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM audit_log l JOIN accounts a ON a.id = l.entity_id"
                           " WHERE l.action = 'account.register' AND l.entity = 'account'"
                           " AND l.actor_id = a.id AND a.phone = '%s'",
                           phone);
    cr_assert_str_eq(v, "1");

    /* and she signs in with her phone and PIN */
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"pin\":\"4826\"}", phone);
    r = call("POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "account"), "phone")), phone);
    kito_http_resp_free(&r);
}

Test(accounts, a_buyer_registers_with_email_and_password)
{
    char email[128], body[512];
    fresh_email(email, sizeof(email), "buyer");
    snprintf(body, sizeof(body),
             "{\"role\":\"buyer\",\"name\":\"Anna Keller\",\"email\":\"%s\","
             "\"password\":\"tanzanite-lover-77\",\"country\":\"DE\"}",
             email);
    struct kito_http_resp r = call("POST", "/v1/accounts", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(str(&r, "role"), "buyer");
    cr_assert_str_eq(str(&r, "email"), email);
    cr_assert_str_eq(str(&r, "country"), "DE");
    cr_assert(json_is_null(json_object_get(r.json, "phone")));
    cr_assert_null(json_object_get(r.json, "miner"));
    cr_assert(strstr(r.body, "tanzanite-lover") == NULL);
    kito_http_resp_free(&r);

    /* the same address again, in other case: one account per address */
    char upper[128];
    snprintf(upper, sizeof(upper), "%s", email);
    upper[0] = 'B';
    snprintf(body, sizeof(body),
             "{\"role\":\"buyer\",\"name\":\"Anna K\",\"email\":\"%s\","
             "\"password\":\"another-password-1\"}",
             upper);
    r = call("POST", "/v1/accounts", body, NULL);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    char token[64];
    signin_ok(email, "tanzanite-lover-77", token);
}

Test(accounts, a_taken_phone_is_a_conflict)
{
    char phone[20];
    fresh_phone(phone, sizeof(phone), "26097");
    struct kito_http_resp r = register_miner(phone, "5937", "mtn_momo");
    cr_assert_eq(r.status, 201, "%s", r.body);
    kito_http_resp_free(&r);
    r = register_miner(phone, "7261", "airtel_money");
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM accounts WHERE phone = '%s'", phone), 1);
}

/* A body that must be refused with status and code, naming field in its message, and write no
 * account with contact. */
static void refused(const char *body, long status, const char *code, const char *field,
                    const char *contact)
{
    struct kito_http_resp r = call("POST", "/v1/accounts", body, NULL);
    kito_assert_error(&r, status, code);
    const char *msg =
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    if (field != NULL)
        cr_assert(msg != NULL && strstr(msg, field) != NULL, "message '%s' does not name %s", msg,
                  field);
    kito_http_resp_free(&r);
    if (contact != NULL)
        cr_assert_eq(
            count("SELECT COUNT(*) FROM accounts WHERE phone = '%1$s' OR email = '%1$s'", contact),
            0, "%s was written", contact);
}

Test(accounts, every_bad_registration_is_refused_and_writes_nothing)
{
    const long v = validation_status();
    char phone[20], body[700], email[128];
    fresh_phone(phone, sizeof(phone), "2557");

#define MINER(ph, pin, extra, payout)                                                              \
    snprintf(body, sizeof(body),                                                                   \
             "{\"role\":\"miner\",\"name\":\"Test\",\"phone\":\"%s\",\"pin\":\"%s\"%s,"            \
             "\"payout\":%s}",                                                                     \
             ph, pin, extra, payout)

    MINER("+2557123", "4826", "", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "phone", "+2557123");
    MINER("+447700900123", "4826", "", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "phone", "+447700900123");
    MINER(phone, "1234", "", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "pin", phone);
    MINER(phone, "1111", "", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "pin", phone);
    MINER(phone, "12a4", "", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "pin", phone);
    MINER(phone, "4826", ",\"nickname\":\"Mama\"", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "nickname", phone);
    MINER(phone, "4826", "", "{\"rail\":\"mtn_momo\"}"); /* a Zambian rail for a Tanzanian */
    refused(body, v, "validation_failed", "payout.rail", phone);
    MINER(phone, "4826", "", "{\"rail\":\"paypal\"}");
    refused(body, v, "validation_failed", "payout.rail", phone);
    MINER(phone, "4826", "", "{\"rail\":\"mpesa\",\"msisdn\":\"+254712345678\"}");
    refused(body, v, "validation_failed", "payout.msisdn", phone);
    MINER(phone, "4826", ",\"locale\":\"fr\"", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "locale", phone);
    MINER(phone, "4826", ",\"association_id\":\"lot_0000000000001\"", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "association_id", phone);
    MINER(phone, "4826", ",\"association_id\":\"asn_0000000zzzzzz\"", "{\"rail\":\"mpesa\"}");
    refused(body, v, "validation_failed", "association_id", phone);
    snprintf(body, sizeof(body),
             "{\"role\":\"miner\",\"name\":\"Test\",\"phone\":\"%s\",\"pin\":\"4826\"}", phone);
    refused(body, v, "validation_failed", "payout", phone);
#undef MINER

    fresh_email(email, sizeof(email), "refused");
#define BUYER(em, pw, extra)                                                                       \
    snprintf(body, sizeof(body),                                                                   \
             "{\"role\":\"buyer\",\"name\":\"Test\",\"email\":\"%s\",\"password\":\"%s\"%s}", em,  \
             pw, extra)
    BUYER("not-an-email", "long enough pass", "");
    refused(body, v, "validation_failed", "email", "not-an-email");
    BUYER(email, "short", "");
    refused(body, v, "validation_failed", "password", email);
    BUYER(email, "long enough pass", ",\"country\":\"Germany\"");
    refused(body, v, "validation_failed", "country", email);
    BUYER(email, "long enough pass", ",\"phone\":\"+255712345678\"");
    refused(body, v, "validation_failed", "phone", email);
    BUYER(email, "long enough pass", ",\"name\":\"\"");
    refused(body, kito_http_status(KITO_E_MALFORMED_JSON), "malformed_json", NULL,
            email); /* a duplicate member */
#undef BUYER
    snprintf(body, sizeof(body),
             "{\"role\":\"buyer\",\"name\":\"\",\"email\":\"%s\",\"password\":\"long enough\"}",
             email);
    refused(body, v, "validation_failed", "name", email);
    snprintf(body, sizeof(body), "{\"name\":\"X\",\"email\":\"%s\",\"password\":\"long enough\"}",
             email);
    refused(body, v, "validation_failed", "role", email);

    /* staff roles come from kitoctl only; unknown roles are invalid */
    const char *staff[] = {"organizer", "valuer", "operator"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(body, sizeof(body),
                 "{\"role\":\"%s\",\"name\":\"X\",\"email\":\"%s\",\"password\":\"long enough\"}",
                 staff[i], email);
        refused(body, 403, "forbidden", NULL, email);
    }
    snprintf(body, sizeof(body),
             "{\"role\":\"admin\",\"name\":\"X\",\"email\":\"%s\",\"password\":\"long enough\"}",
             email);
    refused(body, v, "validation_failed", "role", email);
}

/* ---- sessions -------------------------------------------------------------------------------- */

/* Issue 15, finding 10: the passwords and PINs people pick first are refused, at registration and
 * at a change, with 422 and a sentence naming the field. */
Test(accounts, weak_secrets_are_refused_with_the_field_named)
{
    const long v = validation_status();
    char phone[20], email[128], body[512];
    static const char *pins[] = {"1212", "0007", "2000"};
    for (size_t i = 0; i < sizeof(pins) / sizeof(pins[0]); i++) {
        fresh_phone(phone, sizeof(phone), "2557");
        snprintf(body, sizeof(body),
                 "{\"role\":\"miner\",\"name\":\"Test\",\"phone\":\"%s\",\"pin\":\"%s\","
                 "\"payout\":{\"rail\":\"mpesa\"}}",
                 phone, pins[i]);
        refused(body, v, "validation_failed", "pin", phone);
    }
    static const char *passwords[] = {"password", "12345678", "Password1"};
    for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
        fresh_email(email, sizeof(email), "weak");
        snprintf(body, sizeof(body),
                 "{\"role\":\"buyer\",\"name\":\"Test\",\"email\":\"%s\",\"password\":\"%s\"}",
                 email, passwords[i]);
        refused(body, v, "validation_failed", "password", email);
    }

    /* a change to a weak one is refused too, and the old PIN keeps working */
    char token[64];
    fresh_phone(phone, sizeof(phone), "2557");
    struct kito_http_resp r = register_miner(phone, "5937", "mpesa");
    cr_assert_eq(r.status, 201, "%s", r.body);
    kito_http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"pin\":\"5937\"}", phone);
    r = call("POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(token, sizeof(token), "%s", str(&r, "token"));
    kito_http_resp_free(&r);
    r = call("POST", "/v1/accounts/me/secret", "{\"current\":\"5937\",\"new\":\"1212\"}", token);
    kito_assert_error(&r, v, "validation_failed");
    const char *msg =
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
    cr_assert(msg != NULL && strstr(msg, "new") != NULL, "message '%s' does not name new", msg);
    kito_http_resp_free(&r);
    r = call("POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    kito_http_resp_free(&r);
}

Test(accounts, wrong_secret_and_unknown_account_get_the_same_answer)
{
    char email[128], token[64];
    kito_harness_account("buyer", email, sizeof(email));
    signin_ok(email, KITO_HARNESS_PASSWORD, token);

    struct kito_http_resp wrong = signin_email(email, "not the password");
    kito_assert_error(&wrong, 401, "unauthorized");
    char unknown_email[128];
    fresh_email(unknown_email, sizeof(unknown_email), "nobody");
    struct kito_http_resp unknown = signin_email(unknown_email, "not the password");
    kito_assert_error(&unknown, 401, "unauthorized");
    cr_assert_str_eq(wrong.body, unknown.body);
    kito_http_resp_free(&wrong);
    kito_http_resp_free(&unknown);

    /* a phone that is nobody's, with a PIN */
    char phone[20], body[128];
    fresh_phone(phone, sizeof(phone), "2659");
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"pin\":\"4826\"}", phone);
    struct kito_http_resp r = call("POST", "/v1/sessions", body, NULL);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);

    /* both identifiers, or none, is a bad request */
    r = call("POST", "/v1/sessions", "{\"password\":\"x\"}", NULL);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("POST", "/v1/sessions",
             "{\"email\":\"a@b.test\",\"phone\":\"+255712345678\","
             "\"password\":\"x\"}",
             NULL);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);

    /* the failures are on record, with the address they came from */
    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM signin_failures WHERE identifier = '%s'"
                           " AND account_id IS NULL AND ip = '%s'",
                           unknown_email, src);
    cr_assert_str_eq(v, "1");
}

Test(accounts, sign_in_returns_a_token_that_works_and_expires_later)
{
    char email[128], token[64];
    unsigned long long id = kito_harness_account("organizer", email, sizeof(email));
    struct kito_http_resp r = signin_email(email, KITO_HARNESS_PASSWORD);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(token, sizeof(token), "%s", str(&r, "token"));
    const char *expires = str(&r, "expires_at");
    cr_assert(expires != NULL && strlen(expires) >= 20);
    kito_http_resp_free(&r);

    /* only the digest is stored; staff sessions last 12 hours */
    char v[64];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT ROUND(TIMESTAMPDIFF(SECOND, created_at, expires_at) / 3600)"
                           " FROM sessions WHERE account_id = %llu ORDER BY id DESC LIMIT 1",
                           id);
    cr_assert_str_eq(v, "12");
    kito_harness_sql_value(v, sizeof(v), "SELECT COUNT(*) FROM sessions WHERE token_sha256 = '%s'",
                           token);
    cr_assert_str_eq(v, "0");
    /* the harness made the hash with the cheap test cost: sign-in upgraded it */
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT LEFT(secret_hash, 23) FROM accounts WHERE id = %llu", id);
    cr_assert_str_eq(v, "scrypt$N=16384,r=8,p=5$");

    r = call("GET", "/v1/accounts/me", NULL, token);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "role"), "organizer");
    cr_assert_str_eq(str(&r, "email"), email);
    kito_http_resp_free(&r);
}

Test(accounts, sign_out_stops_the_token_at_once)
{
    char email[128], token[64];
    kito_harness_account("buyer", email, sizeof(email));
    signin_ok(email, KITO_HARNESS_PASSWORD, token);
    struct kito_http_resp r = call("GET", "/v1/accounts/me", NULL, token); /* now cached */
    cr_assert_eq(r.status, 200);
    kito_http_resp_free(&r);
    r = call("DELETE", "/v1/sessions/current", NULL, token);
    cr_assert_eq(r.status, 204, "%s", r.body);
    kito_http_resp_free(&r);
    r = call("GET", "/v1/accounts/me", NULL, token);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    r = call("DELETE", "/v1/sessions/current", NULL, token);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
}

/* ---- throttling ------------------------------------------------------------------------------ */

static long retry_after(const struct kito_http_resp *r)
{
    char v[32];
    if (!kito_http_header(r, "Retry-After", v, sizeof(v)))
        return -1;
    return atol(v);
}

/* Another loopback address for this test: src with its last number moved by k (1..249). */
static void other_address(unsigned k, char out[32])
{
    unsigned a = 0, b = 0, c = 1;
    cr_assert_eq(sscanf(src, "127.%u.%u.%u", &a, &b, &c), 3);
    snprintf(out, 32, "127.%u.%u.%u", a, b, 1 + (c - 1 + k) % 250);
}

/* A sign-in with phone and PIN from `from` (src when NULL). */
static struct kito_http_resp signin_phone_from(const char *from, const char *phone, const char *pin)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"pin\":\"%s\"}", phone, pin);
    return call_from(from, "POST", "/v1/sessions", body, NULL);
}

Test(accounts, five_failures_slow_sign_in_and_a_success_clears_them)
{
    char email[128], token[64];
    unsigned long long id = kito_harness_account("buyer", email, sizeof(email));
    for (int i = 0; i < 5; i++) {
        struct kito_http_resp r = signin_email(email, "wrong password!");
        kito_assert_error(&r, 401, "unauthorized");
        kito_http_resp_free(&r);
    }
    /* the sixth comes too soon: refused unseen, even with the right password */
    struct kito_http_resp r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 429, "rate_limited");
    cr_assert_eq(retry_after(&r), 1, "Retry-After %ld", retry_after(&r));
    kito_http_resp_free(&r);

    /* after the delay one more wrong attempt is heard; then the delay doubles */
    usleep(1100 * 1000);
    r = signin_email(email, "wrong password!");
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 429, "rate_limited");
    cr_assert_eq(retry_after(&r), 2, "Retry-After %ld", retry_after(&r));
    kito_http_resp_free(&r);

    usleep(2100 * 1000);
    signin_ok(email, KITO_HARNESS_PASSWORD, token);
    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM signin_lockouts WHERE scope = 'pair'"
                           " AND subject = '%llu/%s'",
                           id, src);
    cr_assert_str_eq(v, "0", "a success clears the counter of her account from this address");
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT failures FROM signin_lockouts WHERE scope = 'address'"
                           " AND subject = '%s'",
                           src);
    cr_assert_str_eq(v, "6", "but not the address's");
    /* a fresh failure counts from one again: no delay */
    r = signin_email(email, "wrong password!");
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    signin_ok(email, KITO_HARNESS_PASSWORD, token);
}

/* Ten failures from one address lock that address out of the account for 15 minutes; the
 * account itself is not locked: she gets in from her own address (issue 15, finding 3). */
Test(accounts, ten_failures_lock_that_address_out_of_the_account)
{
    char email[128], home[32], body[256], token[64];
    unsigned long long id = kito_harness_account("buyer", email, sizeof(email));
    other_address(1, home);
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email,
             KITO_HARNESS_PASSWORD);
    struct kito_http_resp r = call_from(home, "POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "she signs in from home: %s", r.body);
    kito_http_resp_free(&r);

    for (int i = 0; i < 5; i++) {
        r = signin_email(email, "wrong password!");
        kito_assert_error(&r, 401, "unauthorized");
        kito_http_resp_free(&r);
    }
    /* failures 6 to 9 would need 1 + 2 + 4 + 8 s of waiting: move the clock of the counters
     * instead, to 9 failures a minute ago (the 9th's delay of 16 s has passed) */
    kito_harness_sql("UPDATE signin_lockouts SET failures = 9,"
                     " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND,"
                     " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND"
                     " WHERE (scope = 'account' AND subject = '%llu')"
                     " OR (scope = 'pair' AND subject = '%llu/%s')",
                     id, id, src);
    r = signin_email(email, "wrong password!");
    kito_assert_error(&r, 401, "unauthorized"); /* the 10th is still just wrong */
    kito_http_resp_free(&r);
    r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 429, "locked");
    long ra = retry_after(&r);
    cr_assert(ra > 890 && ra <= 900, "Retry-After %ld", ra);
    kito_http_resp_free(&r);
    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM audit_log WHERE action = 'account.lock'"
                           " AND entity_id = %llu AND detail_json LIKE '%%\"pair\"%%'",
                           id);
    cr_assert_str_eq(v, "1");

    /* from her own address she is not held at all */
    r = call_from(home, "POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "from home: %ld %s", r.status, r.body);
    kito_http_resp_free(&r);

    /* when the lock is over (and the account-wide delay of a stranger's address, 32 s after
     * the 10th failure), the right password works from here too and clears it */
    kito_harness_sql("UPDATE signin_lockouts SET locked_until = UTC_TIMESTAMP(3),"
                     " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 20 MINUTE,"
                     " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 16 MINUTE"
                     " WHERE scope = 'pair' AND subject = '%llu/%s'",
                     id, src);
    kito_harness_sql("UPDATE signin_lockouts SET"
                     " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 20 MINUTE,"
                     " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 16 MINUTE"
                     " WHERE scope = 'account' AND subject = '%llu'",
                     id);
    signin_ok(email, KITO_HARNESS_PASSWORD, token);
}

/* Issue 15, finding 3: ten wrong PINs from ten addresses locked a miner's account for 15
 * minutes, renewable forever. Strangers' failures now only slow strangers (the account-wide
 * delay, never a lock); from her own address her PIN lets her in at once. */
Test(accounts, strangers_cannot_lock_the_owner_out)
{
    char phone[24], from[32];
    unsigned long long id = kito_harness_account("miner", phone, sizeof(phone));
    struct kito_http_resp r = signin_phone_from(NULL, phone, KITO_HARNESS_PIN);
    cr_assert_eq(r.status, 201, "she signed in from her phone before: %s", r.body);
    kito_http_resp_free(&r);

    for (unsigned k = 1; k <= 5; k++) {
        other_address(k, from);
        r = signin_phone_from(from, phone, "7391");
        kito_assert_error(&r, 401, "unauthorized");
        kito_http_resp_free(&r);
    }
    /* four more over the last minute (1 + 2 + 4 + 8 s of delays: moved clock), a tenth now */
    kito_harness_sql("UPDATE signin_lockouts SET failures = 9,"
                     " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND,"
                     " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND"
                     " WHERE scope = 'account' AND subject = '%llu'",
                     id);
    other_address(6, from);
    r = signin_phone_from(from, phone, "7391");
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);

    /* a stranger's address is slowed (2^(10 - 5) s), not locked */
    other_address(7, from);
    r = signin_phone_from(from, phone, KITO_HARNESS_PIN);
    kito_assert_error(&r, 429, "rate_limited");
    long ra = retry_after(&r);
    cr_assert(ra >= 1 && ra <= 32, "Retry-After %ld", ra);
    kito_http_resp_free(&r);

    /* she, from her own address, gets in at once */
    r = signin_phone_from(NULL, phone, KITO_HARNESS_PIN);
    cr_assert_eq(r.status, 201, "the owner is held: %ld %s", r.status, r.body);
    kito_http_resp_free(&r);

    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM signin_lockouts WHERE locked_until IS NOT NULL"
                           " AND (subject = '%llu' OR subject LIKE '%llu/%%')",
                           id, id);
    cr_assert_str_eq(v, "0", "nothing of hers is locked");
}

Test(accounts, an_address_with_many_failures_is_slowed_then_locked)
{
    char email[128], token[64];
    kito_harness_account("buyer", email, sizeof(email));
    /* 20 failures from this address just now (spread over many accounts, say) */
    kito_harness_sql("INSERT INTO signin_lockouts (scope, subject, failures) VALUES"
                     " ('address', '%s', 20)",
                     src);
    struct kito_http_resp r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 429, "rate_limited");
    cr_assert_eq(retry_after(&r), 1);
    kito_http_resp_free(&r);
    kito_harness_sql("UPDATE signin_lockouts SET failures = 49,"
                     " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE,"
                     " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 10 MINUTE"
                     " WHERE scope = 'address' AND subject = '%s'",
                     src);
    r = signin_email(email, "wrong password!");
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 429, "locked");
    kito_http_resp_free(&r);
    /* other addresses are not affected */
    char other[32], body[256];
    snprintf(other, sizeof(other), "%s", src);
    other[strlen(other) - 1] = other[strlen(other) - 1] == '9' ? '8' : '9';
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email,
             KITO_HARNESS_PASSWORD);
    r = call_from(other, "POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    kito_http_resp_free(&r);
    (void)token;
}

/* The throttle must not tell which accounts exist: an identifier nobody has is slowed after the
 * same failures as a real account's (else the sixth quick attempt on an e-mail address, 429 or
 * 401, says whether it is registered). */
Test(accounts, an_unknown_identifier_is_slowed_like_an_account)
{
    char known[128], unknown[128];
    kito_harness_account("buyer", known, sizeof(known));
    fresh_email(unknown, sizeof(unknown), "nobody");
    const char *who[] = {known, unknown};
    struct kito_http_resp sixth[2];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 5; i++) {
            struct kito_http_resp r = signin_email(who[k], "wrong password!");
            kito_assert_error(&r, 401, "unauthorized");
            kito_http_resp_free(&r);
        }
        sixth[k] = signin_email(who[k], "wrong password!");
        /* e-mail addresses match without regard to case: the same answer for another spelling
         * (right away: the delay is one second) */
        char upper[128];
        for (size_t i = 0; i <= strlen(who[k]); i++)
            upper[i] = (char)toupper((unsigned char)who[k][i]);
        struct kito_http_resp r = signin_email(upper, "wrong password!");
        kito_assert_error(&r, 429, "rate_limited");
        kito_http_resp_free(&r);
    }
    cr_assert_eq(sixth[1].status, sixth[0].status, "known: %ld %s; unknown: %ld %s",
                 sixth[0].status, sixth[0].body, sixth[1].status, sixth[1].body);
    kito_assert_error(&sixth[1], 429, "rate_limited");
    cr_assert_eq(retry_after(&sixth[1]), retry_after(&sixth[0]));
    kito_http_resp_free(&sixth[0]);
    kito_http_resp_free(&sixth[1]);

    /* and locked out from this address after ten, as an account is; failures 6 to 9 would need
     * 1 + 2 + 4 + 8 s of waiting: move the clock of the unknown identifier's counters instead
     * (its own, "19" and 18 digits, and the one of it from this address) */
    char body[256];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"wrong password!\"}", unknown);
    kito_harness_sql(
        "UPDATE signin_lockouts SET failures = 9,"
        " first_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND,"
        " last_failure_at = UTC_TIMESTAMP(3) - INTERVAL 60 SECOND"
        " WHERE failures = 5 AND ((scope = 'account' AND subject REGEXP '^19[0-9]{18}$')"
        " OR (scope = 'pair' AND subject = CONCAT(LEFT(subject, 20), '/%s')"
        " AND subject REGEXP '^19[0-9]{18}/'))",
        src);
    struct kito_http_resp r = call("POST", "/v1/sessions", body, NULL);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    r = call("POST", "/v1/sessions", body, NULL);
    kito_assert_error(&r, 429, "locked");
    kito_http_resp_free(&r);
}

/* ---- own account ----------------------------------------------------------------------------- */

Test(accounts, a_miner_reads_and_edits_her_profile)
{
    char phone[20], body[256], token[64];
    fresh_phone(phone, sizeof(phone), "2557");
    struct kito_http_resp r = register_miner(phone, "5937", "tigo_pesa");
    cr_assert_eq(r.status, 201, "%s", r.body);
    kito_http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"phone\":\"%s\",\"pin\":\"5937\"}", phone);
    r = call("POST", "/v1/sessions", body, NULL);
    cr_assert_eq(r.status, 201, "%s", r.body);
    snprintf(token, sizeof(token), "%s", str(&r, "token"));
    kito_http_resp_free(&r);

    r = call("GET", "/v1/accounts/me", NULL, token);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "locale"), "sw");
    json_t *payout = json_object_get(json_object_get(r.json, "miner"), "payout");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "rail")), "tigo_pesa");
    kito_http_resp_free(&r);

    char wallet[20];
    fresh_phone(wallet, sizeof(wallet), "2556");
    snprintf(body, sizeof(body),
             "{\"name\":\"Neema M.\",\"locale\":\"en\",\"payout\":{\"rail\":\"mpesa\","
             "\"msisdn\":\"%s\"},\"current\":\"5937\"}",
             wallet);
    r = call("PATCH", "/v1/accounts/me", body, token);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(str(&r, "name"), "Neema M.");
    payout = json_object_get(json_object_get(r.json, "miner"), "payout");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "rail")), "mpesa");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "msisdn")), wallet);
    kito_http_resp_free(&r);

    r = call("PATCH", "/v1/accounts/me",
             "{\"payout\":{\"rail\":\"tnm_mpamba\"},\"current\":\"5937\"}", token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("PATCH", "/v1/accounts/me",
             "{\"payout\":{\"msisdn\":\"+260971234567\"},\"current\":\"5937\"}", token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("PATCH", "/v1/accounts/me", "{\"role\":\"operator\"}", token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("PATCH", "/v1/accounts/me", "{}", token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    /* nothing of the refused ones stuck */
    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT payout_rail FROM miner_profiles m JOIN accounts a"
                           " ON a.id = m.account_id WHERE a.phone = '%s'",
                           phone);
    cr_assert_str_eq(v, "mpesa");

    /* a buyer has no wallet */
    char email[128], btoken[64];
    kito_harness_account("buyer", email, sizeof(email));
    signin_ok(email, KITO_HARNESS_PASSWORD, btoken);
    r = call("PATCH", "/v1/accounts/me", "{\"payout\":{\"rail\":\"mpesa\"}}", btoken);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
}

Test(accounts, a_secret_change_signs_out_the_other_sessions)
{
    char email[128], a[64], b[64];
    kito_harness_account("buyer", email, sizeof(email));
    signin_ok(email, KITO_HARNESS_PASSWORD, a);
    signin_ok(email, KITO_HARNESS_PASSWORD, b);
    struct kito_http_resp r = call("GET", "/v1/accounts/me", NULL, b); /* b is now cached */
    cr_assert_eq(r.status, 200);
    kito_http_resp_free(&r);

    r = call("POST", "/v1/accounts/me/secret",
             "{\"current\":\"not it at all\",\"new\":\"a brand new secret\"}", a);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = call("POST", "/v1/accounts/me/secret",
             "{\"current\":\"" KITO_HARNESS_PASSWORD "\",\"new\":\"short\"}", a);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);

    r = call("POST", "/v1/accounts/me/secret",
             "{\"current\":\"" KITO_HARNESS_PASSWORD "\",\"new\":\"a brand new secret\"}", a);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "sessions_revoked")), 1);
    kito_http_resp_free(&r);

    r = call("GET", "/v1/accounts/me", NULL, b);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/accounts/me", NULL, a);
    cr_assert_eq(r.status, 200, "the session that changed it stays");
    kito_http_resp_free(&r);

    r = signin_email(email, KITO_HARNESS_PASSWORD);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    char c[64];
    signin_ok(email, "a brand new secret", c);
}

/* ---- associations ---------------------------------------------------------------------------- */

Test(accounts, operators_create_associations)
{
    char token[64], email[128], body[256];
    kito_harness_account("operator", email, sizeof(email));
    signin_ok(email, KITO_HARNESS_PASSWORD, token);
    snprintf(body, sizeof(body),
             "{\"name\":\"Tanzania Women Miners %d\",\"country\":\"TZ\",\"levy_bps\":150}",
             (int)getpid());
    struct kito_http_resp r = call("POST", "/v1/associations", body, token);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_eq(strncmp(str(&r, "id"), "asn_", 4), 0);
    cr_assert_eq(json_integer_value(json_object_get(r.json, "levy_bps")), 150);
    kito_http_resp_free(&r);
    r = call("POST", "/v1/associations", body, token);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    r = call("POST", "/v1/associations", "{\"name\":\"X\",\"country\":\"UG\"}", token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("POST", "/v1/associations", "{\"name\":\"X\",\"country\":\"TZ\",\"levy_bps\":10001}",
             token);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);

    r = call("GET", "/v1/associations?limit=0", NULL, NULL);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/associations?cursor=forged", NULL, NULL);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/associations?colour=red", NULL, NULL);
    kito_assert_error(&r, validation_status(), "validation_failed");
    kito_http_resp_free(&r);
}
