/*
 * The MTN MoMo and Airtel Money rails end to end (issue 19): a paid USD settlement of a Zambian
 * or Malawian miner -> the payout worker in a real kitod -> a real rails_sim process per rail
 * (sims/rails_sim.c, speaking each provider's disbursement API) -> accepted, then resolved by
 * the provider's status enquiry -> payout succeeded and its ledger transaction, in the real
 * MariaDB. Per rail: the full path with the OAuth token cached; failure then retry then
 * success; a lost answer resolved by the status enquiry; a refused token (401) refreshed once;
 * an untrusted success held as an anomaly (MoMo: a wrong amount; Airtel's answers carry no amount,
 * currency or wallet, and without its callback a success after a recorded failure is never
 * heard of: that case is covered for M-Pesa in test_payouts.c). After every test each ledger
 * transaction sums to zero per currency, and every payout was paid at most once, counted at the
 * simulator.
 *
 * Wallet numbers end in the simulator's mode digits: 95 fail once, 97 lost answer, 99 wrong
 * amount; others succeed.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

struct rail {
    const char *name;    /* rails_sim --rail */
    const char *rail;    /* payouts.rail */
    const char *country; /* her country */
    const char *prefix;  /* her wallet's country code */
    const char *currency;
    const char *rate; /* USD -> currency */
    int port;
    pid_t pid;
};

static struct rail momo = {"momo", "mtn_momo", "ZM", "+260", "ZMW", "26.50", 0, 0};
static struct rail airtel_zm = {"airtel", "airtel_money", "ZM", "+260", "ZMW", "26.50", 0, 0};
static struct rail airtel_mw = {"airtel", "airtel_money", "MW", "+265", "MWK", "1735.00", 0, 0};
static struct kito_kitod kd;

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

static long sim_call(const struct rail *r, const char *method, const char *path, json_t **out)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", r->port, path);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "POST") == 0)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
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

static void sim_start(struct rail *r)
{
    r->port = kito_harness_free_port();
    char bin[1024], port[16], log[512];
    snprintf(bin, sizeof(bin), "%s/sims/rails_sim", getenv("KITO_TEST_BUILD"));
    snprintf(port, sizeof(port), "%d", r->port);
    snprintf(log, sizeof(log), "%s", kito_harness_var("logs/rails_sim.log"));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (freopen(log, "a", stderr) != NULL)
            dup2(fileno(stderr), 1);
        char *argv[] = {bin,
                        "--rail",
                        (char *)r->name,
                        "--port",
                        port,
                        "--delay-ms",
                        "200",
                        "--late-ms",
                        "1500",
                        "--hang-ms",
                        "1500",
                        "--cacert",
                        (char *)kito_harness_var("tls/ca.pem"),
                        NULL};
        execv(bin, argv);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 100; i++) {
        if (sim_call(r, "GET", "/healthz", NULL) == 200)
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("rails_sim --rail %s did not start; see %s", r->name, log);
}

static void sim_stop(struct rail *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
        r->pid = 0;
    }
}

/* Transfers the simulator received for payout pid: how many, how many paid; tokens issued. */
static void sim_count(const struct rail *r, const char *pid, int *received, int *paid, int *tokens)
{
    json_t *doc = NULL;
    cr_assert_eq(sim_call(r, "GET", "/kito-sim/payments", &doc), 200);
    *received = *paid = 0;
    json_t *list = json_object_get(doc, "payments"), *p;
    size_t i;
    json_array_foreach(list, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "payout")), pid) != 0)
            continue;
        (*received)++;
        *paid += json_is_true(json_object_get(p, "paid"));
    }
    if (tokens != NULL)
        *tokens = (int)json_integer_value(json_object_get(doc, "tokens_issued"));
    json_decref(doc);
}

static const char *extra_env[4]; /* a test's own settings for its next kitod_up */

static void kitod_up(void)
{
    static char momo_url[128], airtel_url[128];
    snprintf(momo_url, sizeof(momo_url), "KITO_MOMO_BASE_URL=http://127.0.0.1:%d", momo.port);
    snprintf(airtel_url, sizeof(airtel_url), "KITO_AIRTEL_BASE_URL=http://127.0.0.1:%d",
             airtel_zm.port);
    const char *env[] = {momo_url,
                         "KITO_MOMO_API_USER=7f2c5a8e-1b3d-4c6e-9f0a-2b4d6e8f0a1c",
                         "KITO_MOMO_API_KEY=test-momo-api-key",
                         "KITO_MOMO_SUBSCRIPTION_KEY=test-momo-subscription-key",
                         "KITO_MOMO_TARGET_ENVIRONMENT=sandbox",
                         airtel_url,
                         "KITO_AIRTEL_CLIENT_ID=test-airtel-client",
                         "KITO_AIRTEL_CLIENT_SECRET=test-airtel-secret",
                         "KITO_AIRTEL_PIN=dGVzdC1lbmNyeXB0ZWQtcGlu",
                         "KITO_MPESA_TIMEOUT_MS=900",
                         "KITO_PAYOUT_INTERVAL_MS=100",
                         extra_env[0] != NULL ? extra_env[0] : "KITO_PAYOUT_CHECK_AFTER_MS=1000",
                         extra_env[1],
                         extra_env[2],
                         NULL};
    kito_harness_kitod_start(&kd, env);
    if (kito_harness_wait_health(&kd, 200, 20000) != 200) {
        kito_harness_kitod_stop(&kd, 5000);
        sim_stop(&momo);
        sim_stop(&airtel_zm);
        cr_assert_fail("kitod never became healthy; see %s", kd.log_path);
    }
}

static long long value_i64(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long value_i64(const char *fmt, ...)
{
    char sql[4096], out[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    if (kito_harness_sql_value(out, sizeof(out), "%s", sql) == 0 || out[0] == '\0')
        return -1;
    return atoll(out);
}

static char *value_text(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static char *value_text(char *out, size_t cap, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    kito_harness_sql_value(out, cap, "%s", sql);
    return out;
}

/* DESIGN.md: every ledger transaction sums to zero per currency (and none is empty). */
static void ledger_check(void)
{
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries"
                           " GROUP BY transaction_id, currency HAVING SUM(amount_minor) <> 0) x"),
                 0, "a ledger transaction does not sum to zero");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM ledger_transactions t WHERE NOT EXISTS"
                           " (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)"),
                 0);
}

static void suite_up(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim_start(&momo);
    sim_start(&airtel_zm);
    airtel_mw.port = airtel_zm.port; /* one Airtel provider, many countries */
    kitod_up();
}

static void suite_down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    sim_stop(&momo);
    sim_stop(&airtel_zm);
    ledger_check();
}

TestSuite(rails, .init = suite_up, .fini = suite_down, .timeout = 90);

struct sold {
    unsigned long long miner, buyer, settlement;
    char msisdn[20];
    char miner_token[44];
};

static void arrange(struct sold *s, const struct rail *r, const char *suffix)
{
    static unsigned counter;
    counter++;
    memset(s, 0, sizeof(*s));
    s->miner = kito_harness_account("miner", NULL, 0);
    s->buyer = kito_harness_account("buyer", NULL, 0);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    snprintf(s->msisdn, sizeof(s->msisdn), "%s9%02u%04u%s", r->prefix, (unsigned)getpid() % 100,
             counter % 10000, suffix);
    /* her rail comes from her account, as registration records it */
    kito_harness_sql("INSERT INTO miner_profiles (account_id, country, payout_msisdn, payout_rail)"
                     " VALUES (%llu, '%s', '%s', '%s')",
                     s->miner, r->country, s->msisdn, r->rail);
    const char *currency = "USD";
    kito_harness_session(s->miner, s->miner_token);
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at, ladder_json,"
        " status) VALUES (%llu, 'Rails test', 'timed', '%s', UTC_TIMESTAMP(3) - INTERVAL 2 DAY,"
        " UTC_TIMESTAMP(3) - INTERVAL 1 DAY,"
        " '[{\"from_minor\":0,\"step_minor\":100}]', 'closed')",
        org, currency);
    unsigned long long stone = kito_harness_sql(
        "INSERT INTO stones (seller_id, listed_by, species, weight_cct, origin_country, status)"
        " VALUES (%llu, %llu, 'garnet', 150, 'KE', 'listed')",
        s->miner, s->miner);
    unsigned long long lot = kito_harness_sql(
        "INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor, state,"
        " hammer_minor, winner_id, closed_at) VALUES (%llu, %llu, 1, 0, 100, 'sold', 10000, %llu,"
        " UTC_TIMESTAMP(3))",
        sale, stone, s->buyer);
    long long rate = value_i64("SELECT id FROM royalty_rates ORDER BY id LIMIT 1");
    if (rate < 0)
        rate = (long long)kito_harness_sql(
            "INSERT INTO royalty_rates (country, species, rate_bps, effective_from) VALUES"
            " ('KE', '*', 600, '2001-01-01 00:00:00')");
    unsigned long long tx = kito_harness_sql(
        "INSERT INTO ledger_transactions (kind, reference, currency, memo) VALUES ('settlement',"
        " 'rails-test-%llu', '%s', 'arranged by test_rails')",
        lot, currency);
    kito_harness_sql("INSERT INTO ledger_entries (transaction_id, account_code, party_id,"
                     " amount_minor, currency) VALUES (%llu, 1, %llu, 11000, '%s'),"
                     " (%llu, 2, %llu, -8900, '%s'), (%llu, 3, NULL, -1500, '%s'),"
                     " (%llu, 4, NULL, -600, '%s')",
                     tx, s->buyer, currency, tx, s->miner, currency, tx, currency, tx, currency);
    s->settlement = kito_harness_sql(
        "INSERT INTO settlements (lot_id, sale_id, stone_id, buyer_id, miner_id, currency,"
        " hammer_minor, buyer_premium_bps, buyer_premium_minor, buyer_total_minor, commission_bps,"
        " commission_minor, royalty_rate_id, royalty_country, royalty_rate_bps, royalty_minor,"
        " miner_net_minor, ledger_transaction_id, outbox_entry_id, closed_at) VALUES (%llu, %llu,"
        " %llu, %llu, %llu, '%s', 10000, 1000, 1000, 11000, 500, 500, %lld, 'KE', 600, 600, 8900,"
        " %llu, '1-%llu', UTC_TIMESTAMP(3))",
        lot, sale, stone, s->buyer, s->miner, currency, rate, tx, lot);
    /* paid last, with the buyer's payment and its ledger transaction (cash debit, receivable
     * credit) as `kitoctl payment record` makes them: from here the payout worker may act */
    unsigned long long invoice = kito_harness_sql(
        "INSERT INTO invoices (settlement_id, buyer_id, sale_id, number, status, amount_minor,"
        " paid_minor, currency, issued_at, due_at, paid_at) VALUES (%llu, %llu, %llu,"
        " 'INV-78%010llu', 'paid', 11000, 11000, '%s', UTC_TIMESTAMP(3) - INTERVAL 1 HOUR,"
        " UTC_TIMESTAMP(3) + INTERVAL 3 DAY, UTC_TIMESTAMP(3))",
        s->settlement, s->buyer, sale, s->settlement, currency);
    unsigned long long ptx = kito_harness_sql(
        "INSERT INTO ledger_transactions (kind, reference, currency, memo) VALUES ('payment',"
        " 'RAILS-TEST-%llu', '%s', 'arranged by test_rails')",
        lot, currency);
    kito_harness_sql("INSERT INTO ledger_entries (transaction_id, account_code, party_id,"
                     " amount_minor, currency) VALUES (%llu, 7, NULL, 11000, '%s'),"
                     " (%llu, 1, %llu, -11000, '%s')",
                     ptx, currency, ptx, s->buyer, currency);
    kito_harness_sql("INSERT INTO payments (invoice_id, amount_minor, currency, reference,"
                     " ledger_transaction_id) VALUES (%llu, 11000, '%s', 'RAILS-TEST-%llu', %llu)",
                     invoice, currency, lot, ptx);
}

static int kitoctl_run(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=%s KITO_MYSQL_USER=kito"
             " KITO_MYSQL_PASSWORD='%s' KITO_MYSQL_DB=kito %s/api/kitoctl %s",
             getenv("KITO_TEST_MYSQL_PORT"), getenv("KITO_TEST_MYSQL_PASSWORD"),
             getenv("KITO_TEST_BUILD"), args);
    return kito_harness_sh(cmd, out, cap);
}

static void set_rate(const struct rail *r)
{
    char args[128], out[256];
    snprintf(args, sizeof(args), "fx set --from USD --to %s --rate %s", r->currency, r->rate);
    cr_assert_eq(kitoctl_run(args, out, sizeof(out)), 0, "kitoctl fx set failed: %s", out);
    kito_harness_sleep_ms(5);
}

static unsigned long long wait_state(const struct sold *s, const char *state, int timeout_ms)
{
    char got[32] = "";
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        value_text(got, sizeof(got), "SELECT state FROM payouts WHERE settlement_id = %llu",
                   s->settlement);
        if (strcmp(got, state) == 0)
            return (unsigned long long)value_i64("SELECT id FROM payouts WHERE settlement_id ="
                                                 " %llu",
                                                 s->settlement);
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("payout of settlement %llu is '%s', not '%s' after %d ms", s->settlement, got,
                   state, timeout_ms);
    return 0;
}

static const char *pay_id(unsigned long long id)
{
    static char bufs[4][KITO_ID_SIZE];
    static unsigned next;
    char *b = bufs[next++ % 4];
    cr_assert_eq(kito_id_format("pay", id, b, KITO_ID_SIZE), KITO_OK);
    return b;
}

/* One succeeded attempt, one payout ledger transaction, one payment at the provider. */
static void assert_paid_once(const struct rail *r, unsigned long long id)
{
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu"
                           " AND state = 'succeeded'",
                           id),
                 1);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payout'"
                           " AND reference = '%s'",
                           pay_id(id)),
                 1);
    int received, paid;
    sim_count(r, pay_id(id), &received, &paid, NULL);
    cr_assert_eq(paid, 1, "%s paid %s %d times", r->name, pay_id(id), paid);
    ledger_check();
}

static void full_path(struct rail *r)
{
    set_rate(r);
    struct sold s;
    arrange(&s, r, "10");
    unsigned long long id = wait_state(&s, "succeeded", 15000);
    char rail[32], cur[8];
    cr_assert_str_eq(value_text(rail, sizeof(rail), "SELECT rail FROM payouts WHERE id = %llu", id),
                     r->rail);
    cr_assert_str_eq(
        value_text(cur, sizeof(cur), "SELECT currency FROM payouts WHERE id = %llu", id),
        r->currency);
    assert_paid_once(r, id);
    char req[2048];
    value_text(req, sizeof(req), "SELECT request_json FROM payout_attempts WHERE payout_id = %llu",
               id);
    cr_assert(strstr(req, "dGVzdC1lbmNyeXB0ZWQtcGlu") == NULL, "the PIN was stored: %s", req);
    /* the miner's USD payable is cleared; her local-currency remainder stays owed to her */
    cr_assert_eq(value_i64("SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE"
                           " account_code = 2 AND party_id = %llu AND currency = 'USD'",
                           s.miner),
                 0);
}

Test(rails, momo_zambia_full_path)
{
    full_path(&momo);
}
Test(rails, airtel_zambia_full_path)
{
    full_path(&airtel_zm);
}
Test(rails, airtel_malawi_full_path)
{
    full_path(&airtel_mw);
}

static void failure_retry_success(struct rail *r)
{
    set_rate(r);
    struct sold s;
    arrange(&s, r, "95"); /* the first transfer to this wallet fails */
    unsigned long long id = wait_state(&s, "failed", 15000);
    char args[128], out[256];
    snprintf(args, sizeof(args), "payout retry --payout %s", pay_id(id));
    cr_assert_eq(kitoctl_run(args, out, sizeof(out)), 0, "%s", out);
    wait_state(&s, "succeeded", 15000);
    cr_assert_eq(value_i64("SELECT COUNT(DISTINCT originator_conversation_id) FROM payout_attempts"
                           " WHERE payout_id = %llu",
                           id),
                 2, "a retry is a new transfer with a new reference");
    int received, paid;
    sim_count(r, pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 2);
    assert_paid_once(r, id);
}

Test(rails, momo_failure_then_retry_then_success)
{
    failure_retry_success(&momo);
}
Test(rails, airtel_failure_then_retry_then_success)
{
    failure_retry_success(&airtel_mw);
}

static void lost_answer(struct rail *r)
{
    set_rate(r);
    struct sold s;
    arrange(&s, r, "97"); /* paid, but the answer never comes back */
    unsigned long long id = wait_state(&s, "succeeded", 15000);
    int received, paid;
    sim_count(r, pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1, "a transfer with an unknown outcome was sent again");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1);
    cr_assert_geq(value_i64("SELECT checks FROM payout_attempts WHERE payout_id = %llu", id), 0);
    assert_paid_once(r, id);
}

Test(rails, momo_lost_answer_resolved_by_the_status_enquiry)
{
    lost_answer(&momo);
}
Test(rails, airtel_lost_answer_resolved_by_the_status_enquiry)
{
    lost_answer(&airtel_zm);
}

/* The token is fetched once and reused; a token the provider refuses (401) is replaced once and
 * the call sent again, and the payout still pays once. */
static void token_refresh(struct rail *r)
{
    set_rate(r);
    struct sold a, b;
    arrange(&a, r, "11");
    unsigned long long ida = wait_state(&a, "succeeded", 15000);
    int received, paid, tokens_before, tokens_after;
    sim_count(r, pay_id(ida), &received, &paid, &tokens_before);
    cr_assert_geq(tokens_before, 1);
    cr_assert_eq(sim_call(r, "POST", "/kito-sim/revoke-tokens", NULL), 200);
    arrange(&b, r, "12");
    unsigned long long idb = wait_state(&b, "succeeded", 15000);
    sim_count(r, pay_id(idb), &received, &paid, &tokens_after);
    cr_assert_eq(tokens_after, tokens_before + 1, "tokens %d -> %d: one refresh after the 401",
                 tokens_before, tokens_after);
    cr_assert_eq(received, 1);
    assert_paid_once(r, idb);
}

Test(rails, momo_token_is_cached_and_refreshed_once_after_a_401)
{
    token_refresh(&momo);
}
Test(rails, airtel_token_is_cached_and_refreshed_once_after_a_401)
{
    token_refresh(&airtel_zm);
}

static void assert_held(const struct rail *r, unsigned long long id, const char *kind)
{
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_anomalies WHERE payout_id = %llu AND"
                           " kind = '%s'",
                           id, kind),
                 1);
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference = '%s'", pay_id(id)), 0,
        "an untrusted success was posted");
    char out[4096];
    cr_assert_eq(kitoctl_run("reconcile", out, sizeof(out)), 1, "%s", out);
    cr_assert(strstr(out, pay_id(id)) != NULL, "reconcile does not name %s: %s", pay_id(id), out);
    int received, paid;
    sim_count(r, pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1);
    kito_harness_sql("UPDATE payout_anomalies SET resolved_at = UTC_TIMESTAMP(3) WHERE"
                     " payout_id = %llu",
                     id);
    ledger_check();
}

Test(rails, momo_wrong_amount_success_is_held_as_an_anomaly)
{
    set_rate(&momo);
    struct sold s;
    arrange(&s, &momo, "99");
    unsigned long long id = wait_state(&s, "anomaly", 15000);
    assert_held(&momo, id, "amount");
}

/* ---- MTN MoMo's callback (momodeveloper.mtn.com/api-documentation/callback) ------------------ */

#define MOMO_TOKEN "test-momo-callback-token-0123456789"

/* kitod again, asking MoMo for callbacks, with status enquiries only after 4 s: a payout that
 * succeeds sooner was resolved by its callback. */
static void kitod_with_momo_callbacks(void)
{
    static char base[128];
    kito_harness_kitod_stop(&kd, 5000);
    int port = kito_harness_free_port();
    snprintf(base, sizeof(base), "KITO_MOMO_CALLBACK_BASE=https://localhost:%d", port);
    extra_env[0] = "KITO_PAYOUT_CHECK_AFTER_MS=4000";
    extra_env[1] = base;
    extra_env[2] = "KITO_MOMO_CALLBACK_TOKEN=" MOMO_TOKEN;
    kito_harness_next_https_port = port;
    kitod_up();
}

static int callbacks_of(const char *pid)
{
    json_t *doc = NULL;
    cr_assert_eq(sim_call(&momo, "GET", "/kito-sim/payments", &doc), 200);
    int n = 0;
    json_t *list = json_object_get(doc, "payments"), *p;
    size_t i;
    json_array_foreach(list, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "payout")), pid) == 0)
            n += (int)json_integer_value(json_object_get(p, "callbacks_delivered"));
    }
    json_decref(doc);
    return n;
}

Test(rails, momo_callback_resolves_the_transfer_and_duplicates_change_nothing)
{
    kitod_with_momo_callbacks();
    set_rate(&momo);
    struct sold one, dup;
    arrange(&one, &momo, "10");
    arrange(&dup, &momo, "93");                                 /* the simulator calls back twice */
    unsigned long long a = wait_state(&one, "succeeded", 3000); /* before any enquiry (4 s) */
    unsigned long long b = wait_state(&dup, "succeeded", 3000);
    kito_harness_sleep_ms(500);
    cr_assert_eq(callbacks_of(pay_id(a)), 1);
    cr_assert_eq(callbacks_of(pay_id(b)), 2);
    assert_paid_once(&momo, a);
    assert_paid_once(&momo, b);
    cr_assert_eq(value_i64("SELECT checks FROM payout_attempts WHERE payout_id = %llu", a), 0,
                 "a status enquiry was needed");
}

Test(rails, momo_lost_callback_is_resolved_by_the_status_enquiry)
{
    kitod_with_momo_callbacks();
    set_rate(&momo);
    struct sold s;
    arrange(&s, &momo, "98"); /* the simulator never calls back (MTN does not retry) */
    unsigned long long id = wait_state(&s, "succeeded", 15000);
    cr_assert_eq(callbacks_of(pay_id(id)), 0);
    assert_paid_once(&momo, id);
}

/* A callback with a wrong token is refused and changes nothing; one for a reference Kito does not
 * know is acknowledged and ignored; a late one after the enquiry changed nothing either. */
Test(rails, momo_forged_and_unknown_callbacks_change_nothing)
{
    kitod_with_momo_callbacks();
    set_rate(&momo);
    struct sold s;
    arrange(&s, &momo, "94"); /* late: the callback comes after 1.5 s */
    unsigned long long id = wait_state(&s, "submitted", 5000);
    char ref[80];
    for (int i = 0; i < 50; i++) {
        value_text(ref, sizeof(ref),
                   "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu",
                   id);
        if (ref[0] != '\0')
            break;
        kito_harness_sleep_ms(50);
    }
    char body[512], path[256];
    snprintf(body, sizeof(body),
             "{\"amount\":\"5\",\"currency\":\"ZMW\",\"financialTransactionId\":\"FORGED1\","
             "\"externalId\":\"%s\",\"payee\":{\"partyIdType\":\"MSISDN\",\"partyId\":\"%s\"},"
             "\"status\":\"SUCCESSFUL\"}",
             pay_id(id), s.msisdn + 1);
    snprintf(path, sizeof(path), "/v1/payouts/callbacks/momo?token=wrong-token-0123456789&ref=%s",
             ref);
    struct kito_http_resp resp = kito_harness_call(&kd, NULL, NULL, "POST", path, body);
    cr_assert_eq(resp.status, 401);
    kito_http_resp_free(&resp);
    snprintf(path, sizeof(path),
             "/v1/payouts/callbacks/momo?token=" MOMO_TOKEN
             "&ref=00000000-0000-4000-8000-000000000000");
    resp = kito_harness_call(&kd, NULL, NULL, "PUT", path, body);
    cr_assert_eq(resp.status, 200);
    kito_http_resp_free(&resp);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE transaction_id ="
                           " 'FORGED1'"),
                 0);
    id = wait_state(&s, "succeeded", 15000);
    kito_harness_sleep_ms(2000); /* the late callback arrives too */
    assert_paid_once(&momo, id);
}
