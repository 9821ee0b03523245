/*
 * Payouts end to end (issue 7): a paid settlement (arranged with SQL) -> the payout worker in a
 * real kitod -> a real mpesa_sim process (sims/mpesa_sim.c) on a free port -> its result
 * callback over HTTPS into kitod -> payout succeeded and its ledger transaction, in the real
 * MariaDB. Faults: failure then retry, duplicate callback, late failure after success, forged
 * callbacks, provider timeout, a lost answer, kitod killed mid-way. The no-double-payment check
 * counts payments at the provider (the simulator), not only rows in our database. After every
 * test, every ledger transaction sums to zero per currency.
 *
 * Wallet numbers end in the simulator's mode digits: 91 failure, 92 timeout, 93 duplicate,
 * 94 late, 95 fail once, 97 hang, 98 accepted without a ConversationID; others succeed.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/adapters/mpesa.h"
#include "api/common/validate.h"
#include "tests/integration/harness.h"

#define TOKEN "test-callback-token-0123456789abcdef"
#define WALLET_HOLD_S "5"

static struct kito_kitod kd;
static pid_t sim_pid;
static int sim_port;
static char sim_log[512];

/* ---- the simulator --------------------------------------------------------------------------- */

static size_t on_sim_body(char *data, size_t size, size_t n, void *ud)
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

/* One plain-HTTP call to the simulator; returns the status, the body parsed into *out. */
static long sim_call(const char *method, const char *path, const char *body, json_t **out)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sim_port, path);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_sim_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 3000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (out != NULL)
        *out = buf != NULL ? json_loads(buf, 0, NULL) : NULL;
    free(buf);
    return status;
}

static void sim_start(void)
{
    sim_port = kito_harness_free_port();
    snprintf(sim_log, sizeof(sim_log), "%s", kito_harness_var("logs/mpesa_sim.log"));
    char bin[1024], port[16], cacert[1024];
    snprintf(bin, sizeof(bin), "%s/sims/mpesa_sim", getenv("KITO_TEST_BUILD"));
    snprintf(port, sizeof(port), "%d", sim_port);
    snprintf(cacert, sizeof(cacert), "%s", kito_harness_var("tls/ca.pem"));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* both streams to the log: a leaked simulator must never hold the test's stdout */
        if (freopen(sim_log, "a", stderr) != NULL)
            dup2(fileno(stderr), 1);
        char *argv[] = {bin,   "--port",    port,   "--cacert",  cacert, "--delay-ms",
                        "200", "--late-ms", "2500", "--hang-ms", "4000", NULL};
        execv(bin, argv);
        _exit(127);
    }
    sim_pid = pid;
    for (int i = 0; i < 100; i++) {
        if (sim_call("GET", "/healthz", NULL, NULL) == 200)
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("mpesa_sim did not start; see %s", sim_log);
}

static void sim_stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = 0;
    }
}

/* Points the simulator's callbacks at the running kitod. */
static void sim_point_at_kitod(void)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"callback_base\":\"https://localhost:%d\"}", kd.https_port);
    cr_assert_eq(sim_call("POST", "/kito-sim/callback-base", body, NULL), 200);
}

/* Payments the simulator received for occasion (the payout id): how many, and how many paid. */
static void sim_payments(const char *occasion, int *received, int *paid, int *callbacks)
{
    json_t *doc = NULL;
    cr_assert_eq(sim_call("GET", "/kito-sim/payments", NULL, &doc), 200);
    *received = *paid = 0;
    if (callbacks != NULL)
        *callbacks = 0;
    json_t *list = json_object_get(doc, "payments"), *p;
    size_t i;
    json_array_foreach(list, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "Occasion")), occasion) != 0)
            continue;
        (*received)++;
        if (json_integer_value(json_object_get(p, "ResultCode")) == 0)
            (*paid)++;
        if (callbacks != NULL)
            *callbacks += (int)json_integer_value(json_object_get(p, "callbacks_delivered"));
    }
    json_decref(doc);
}

/* ---- kitod ------------------------------------------------------------------------------------
 */

static int kitoctl_run(const char *args, char *out, size_t cap);
static const char *extra_env[4]; /* a test's own settings for its next kitod_up */

static void kitod_up(void)
{
    static char base[128];
    snprintf(base, sizeof(base), "KITO_MPESA_BASE_URL=http://127.0.0.1:%d", sim_port);
    const char *env[] = {base, "KITO_MPESA_INITIATOR=kito_test",
                         "KITO_MPESA_SECURITY_CREDENTIAL=c2ltdWxhdG9yLWNyZWRlbnRpYWw=",
                         "KITO_MPESA_SHORTCODE=600000",
                         /* the simulator is pointed at the real port once kitod has one */
                         "KITO_MPESA_CALLBACK_BASE=https://localhost:1",
                         "KITO_MPESA_CALLBACK_TOKEN=" TOKEN, "KITO_MPESA_TIMEOUT_MS=1500",
                         "KITO_PAYOUT_INTERVAL_MS=100", "KITO_PAYOUT_CHECK_AFTER_MS=2500",
                         /* a wallet change's hold, short enough to wait out in a test */
                         "KITO_PAYOUT_WALLET_HOLD_S=" WALLET_HOLD_S, NULL};
    const char *all[32];
    size_t n = 0;
    for (size_t i = 0; env[i] != NULL; i++)
        all[n++] = env[i];
    for (size_t i = 0; i < 3 && extra_env[i] != NULL; i++)
        all[n++] = extra_env[i];
    all[n] = NULL;
    kito_harness_kitod_start(&kd, all);
    /* a busy shared machine can take a while; leave nothing running if it never does */
    if (kito_harness_wait_health(&kd, 200, 20000) != 200) {
        kito_harness_kitod_stop(&kd, 5000);
        sim_stop();
        cr_assert_fail("kitod never became healthy; see %s", kd.log_path);
    }
    sim_point_at_kitod();
}

/* ---- the ledger -------------------------------------------------------------------------------
 */

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
    long long bad =
        value_i64("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries"
                  " GROUP BY transaction_id, currency HAVING SUM(amount_minor) <> 0) x");
    cr_assert_eq(bad, 0, "%lld ledger transactions do not sum to zero", bad);
    long long empty = value_i64("SELECT COUNT(*) FROM ledger_transactions t WHERE NOT EXISTS"
                                " (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)");
    cr_assert_eq(empty, 0, "%lld ledger transactions have no entries", empty);
}

static void suite_up(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    sim_start();
    kitod_up();
}

static void suite_down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    sim_stop();
    ledger_check();
}

TestSuite(payouts, .init = suite_up, .fini = suite_down, .timeout = 90);

/* ---- arranging a paid settlement --------------------------------------------------------------
 */

struct sold {
    unsigned long long miner, buyer, settlement, sale, lot;
    char currency[4];
    char msisdn[20];
    char miner_token[44];
};

static void arrange_paid(struct sold *s);

/* A Kenyan miner (payout wallet ending in suffix), a USD sale, a sold lot, its settlement with a
 * balanced ledger transaction, and its invoice, not paid yet. Hammer USD 100.00: premium 10.00,
 * commission 5.00, royalty 6.00, miner net 89.00. same_miner: another sale of hers instead. */
static void arrange_unpaid_sale(struct sold *s, const char *suffix, const char *currency,
                                const struct sold *same_miner)
{
    static unsigned counter;
    counter++;
    memset(s, 0, sizeof(*s));
    s->buyer = kito_harness_account("buyer", NULL, 0);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    if (same_miner != NULL) { /* another sale of hers */
        s->miner = same_miner->miner;
        memcpy(s->msisdn, same_miner->msisdn, sizeof(s->msisdn));
        memcpy(s->miner_token, same_miner->miner_token, sizeof(s->miner_token));
    } else {
        s->miner = kito_harness_account("miner", NULL, 0);
        snprintf(s->msisdn, sizeof(s->msisdn), "+2547%02u%04u%s", (unsigned)getpid() % 100,
                 counter % 10000, suffix);
        kito_harness_sql("INSERT INTO miner_profiles (account_id, country, payout_msisdn,"
                         " payout_rail) VALUES (%llu, 'KE', '%s', 'mpesa')",
                         s->miner, s->msisdn);
        kito_harness_session(s->miner, s->miner_token);
    }
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at, ladder_json,"
        " status) VALUES (%llu, 'Payout test', 'timed', '%s', UTC_TIMESTAMP(3) - INTERVAL 2 DAY,"
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
        " 'payout-test-%llu', '%s', 'arranged by test_payouts')",
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
    s->sale = sale;
    s->lot = lot;
    snprintf(s->currency, sizeof(s->currency), "%s", currency);
}

/* The invoice of arrange_unpaid's settlement, paid: from here the payout worker may act. */
static void arrange_paid(struct sold *s)
{
    unsigned long long sale = s->sale, lot = s->lot;
    const char *currency = s->currency;
    /* paid last, with the buyer's payment and its ledger transaction (cash debit, receivable
     * credit) as `kitoctl payment record` makes them: from here the payout worker may act */
    unsigned long long invoice = kito_harness_sql(
        "INSERT INTO invoices (settlement_id, buyer_id, sale_id, number, status, amount_minor,"
        " paid_minor, currency, issued_at, due_at, paid_at) VALUES (%llu, %llu, %llu,"
        " 'INV-77%010llu', 'paid', 11000, 11000, '%s', UTC_TIMESTAMP(3) - INTERVAL 1 HOUR,"
        " UTC_TIMESTAMP(3) + INTERVAL 3 DAY, UTC_TIMESTAMP(3))",
        s->settlement, s->buyer, sale, s->settlement, currency);
    unsigned long long ptx = kito_harness_sql(
        "INSERT INTO ledger_transactions (kind, reference, currency, memo) VALUES ('payment',"
        " 'PAYOUT-TEST-%llu', '%s', 'arranged by test_payouts')",
        lot, currency);
    kito_harness_sql("INSERT INTO ledger_entries (transaction_id, account_code, party_id,"
                     " amount_minor, currency) VALUES (%llu, 7, NULL, 11000, '%s'),"
                     " (%llu, 1, %llu, -11000, '%s')",
                     ptx, currency, ptx, s->buyer, currency);
    kito_harness_sql("INSERT INTO payments (invoice_id, amount_minor, currency, reference,"
                     " ledger_transaction_id) VALUES (%llu, 11000, '%s', 'PAYOUT-TEST-%llu', %llu)",
                     invoice, currency, lot, ptx);
}

static void arrange_unpaid(struct sold *s, const char *suffix, const char *currency)
{
    arrange_unpaid_sale(s, suffix, currency, NULL);
}

/* arrange_unpaid, then paid. */
static void arrange(struct sold *s, const char *suffix, const char *currency)
{
    arrange_unpaid(s, suffix, currency);
    arrange_paid(s);
}

/* Another paid sale of the miner of same_miner. */
static void arrange_sale(struct sold *s, const char *suffix, const char *currency,
                         const struct sold *same_miner)
{
    arrange_unpaid_sale(s, suffix, currency, same_miner);
    arrange_paid(s);
}

static void set_rate(const char *rate)
{
    char cmd[2048], out[256];
    snprintf(cmd, sizeof(cmd),
             "KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=%s KITO_MYSQL_USER=kito"
             " KITO_MYSQL_PASSWORD='%s' KITO_MYSQL_DB=kito %s/api/kitoctl fx set --from USD"
             " --to KES --rate %s",
             getenv("KITO_TEST_MYSQL_PORT"), getenv("KITO_TEST_MYSQL_PASSWORD"),
             getenv("KITO_TEST_BUILD"), rate);
    cr_assert_eq(kito_harness_sh(cmd, out, sizeof(out)), 0, "kitoctl fx set failed: %s", out);
    kito_harness_sleep_ms(5); /* effective_from has millisecond resolution */
}

/* Waits (up to timeout_ms) for the settlement's payout to reach state; returns its id. */
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

/* Exactly one succeeded attempt, one payout ledger transaction, one payment at the provider. */
static void assert_paid_once(unsigned long long payout)
{
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu"
                           " AND state = 'succeeded'",
                           payout),
                 1);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payout'"
                           " AND reference = '%s'",
                           pay_id(payout)),
                 1);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'payout.succeeded'"
                           " AND entity_id = %llu",
                           payout),
                 1);
    int received, paid;
    sim_payments(pay_id(payout), &received, &paid, NULL);
    cr_assert_eq(paid, 1, "the provider paid %s %d times", pay_id(payout), paid);
}

/* Posts a result callback for ocid to kitod with the given token (NULL: none). */
static long post_callback(const char *token, const char *ocid, int result_code, const char *txn)
{
    char body[1024], path[256];
    snprintf(body, sizeof(body),
             "{\"Result\":{\"ResultType\":0,\"ResultCode\":%d,\"ResultDesc\":\"test\","
             "\"OriginatorConversationID\":\"%s\",\"ConversationID\":\"AG_TEST\","
             "\"TransactionID\":\"%s\"}}",
             result_code, ocid, txn);
    if (token != NULL)
        snprintf(path, sizeof(path), "/v1/payouts/callbacks/mpesa?token=%s", token);
    else
        snprintf(path, sizeof(path), "/v1/payouts/callbacks/mpesa");
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), headers, 0, &r), 0);
    long status = r.status;
    if (status == 200) {
        cr_assert_eq(json_integer_value(json_object_get(r.json, "ResultCode")), 0);
        cr_assert_str_eq(json_string_value(json_object_get(r.json, "ResultDesc")), "Accepted");
    }
    kito_http_resp_free(&r);
    return status;
}

static struct kito_http_resp get_as(const char *token, const char *path)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *headers[] = {auth, NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", path, NULL, 0, headers, 0, &r), 0);
    return r;
}

/* ---- tests -------------------------------------------------------------------------------------
 */

Test(payouts, paid_settlement_to_payout_succeeded_with_the_ledger_balanced)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "10", "USD");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    /* the rate is copied onto the payout, and the amount is converted half up, paid whole */
    long long rate = value_i64("SELECT rate_micros FROM payouts WHERE id = %llu", id);
    int64_t local, units, rem;
    cr_assert_eq(kito_mpesa_convert(8900, 2, 2, rate, &local, &units, &rem), KITO_OK);
    cr_assert_eq(value_i64("SELECT amount_minor FROM payouts WHERE id = %llu", id), local);
    cr_assert_eq(value_i64("SELECT paid_units FROM payouts WHERE id = %llu", id), units);
    cr_assert_eq(value_i64("SELECT remainder_minor FROM payouts WHERE id = %llu", id), rem);
    cr_assert_eq(value_i64("SELECT exchange_rate_id IS NOT NULL FROM payouts WHERE id = %llu", id),
                 1);
    assert_paid_once(id);
    /* the trail (issue 15): made, attempted, sent (the money leaves), succeeded */
    char trail[256];
    value_text(trail, sizeof(trail),
               "SELECT GROUP_CONCAT(action ORDER BY id SEPARATOR ' ') FROM audit_log WHERE"
               " entity = 'payout' AND entity_id = %llu",
               id);
    cr_assert_str_eq(trail, "payout.create payout.attempt payout.send payout.succeeded");
    /* the provider was asked for exactly the whole units, to the wallet without '+' */
    char req[2048];
    value_text(req, sizeof(req), "SELECT request_json FROM payout_attempts WHERE payout_id = %llu",
               id);
    json_t *doc = json_loads(req, 0, NULL);
    cr_assert_not_null(doc, "%s", req);
    cr_assert_eq(json_integer_value(json_object_get(doc, "Amount")), units);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "PartyB")), s.msisdn + 1);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "SecurityCredential")), "***",
                     "the credential is never stored");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "Occasion")), pay_id(id));
    json_decref(doc);
    /* the miner's payable in USD is cleared; KES: the remainder stays owed to her */
    cr_assert_eq(value_i64("SELECT COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE"
                           " account_code = 2 AND party_id = %llu AND currency = 'USD'",
                           s.miner),
                 0);
    cr_assert_eq(value_i64("SELECT -COALESCE(SUM(amount_minor), 0) FROM ledger_entries WHERE"
                           " account_code = 2 AND party_id = %llu AND currency = 'KES'",
                           s.miner),
                 rem);
    cr_assert_eq(value_i64("SELECT -SUM(e.amount_minor) FROM ledger_entries e JOIN"
                           " ledger_transactions t ON t.id = e.transaction_id WHERE t.reference ="
                           " '%s' AND e.account_code = 8",
                           pay_id(id)),
                 units * 100);
    ledger_check();

    /* the endpoints: the miner sees it, another miner does not, the operator does */
    char path[128];
    snprintf(path, sizeof(path), "/v1/payouts/%s", pay_id(id));
    struct kito_http_resp r = get_as(s.miner_token, path);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "succeeded");
    cr_assert_eq(json_array_size(json_object_get(r.json, "attempt_list")), 1);
    kito_http_resp_free(&r);
    char other[44], op[44];
    kito_harness_session(kito_harness_account("miner", NULL, 0), other);
    r = get_as(other, path);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    kito_harness_session(kito_harness_account("operator", NULL, 0), op);
    r = get_as(op, path);
    cr_assert_eq(r.status, 200);
    kito_http_resp_free(&r);
    r = get_as(s.miner_token, "/v1/me/payouts?state=succeeded&limit=5");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(r.json, "items"), 0), "id")),
                     pay_id(id));
    kito_http_resp_free(&r);
    r = get_as(s.miner_token, "/v1/me/payouts?state=lost");
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
}

Test(payouts, same_currency_payout_needs_no_rate)
{
    struct sold s;
    arrange(&s, "11", "KES");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    cr_assert_eq(value_i64("SELECT rate_micros FROM payouts WHERE id = %llu", id), 1000000);
    /* KES 89.00: 89 shillings, nothing left over */
    cr_assert_eq(value_i64("SELECT paid_units FROM payouts WHERE id = %llu", id), 89);
    cr_assert_eq(value_i64("SELECT remainder_minor FROM payouts WHERE id = %llu", id), 0);
    assert_paid_once(id);
}

Test(payouts, failure_then_retry_is_a_new_attempt_then_success)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "95", "USD"); /* fail once */
    unsigned long long id = wait_state(&s, "failed", 10000);
    char code[32];
    value_text(code, sizeof(code),
               "SELECT result_code FROM payout_attempts WHERE payout_id = %llu AND attempt_no = 1",
               id);
    cr_assert_str_eq(code, "2001");
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference = '%s'", pay_id(id)), 0,
        "a failed payout posts nothing");
    /* only a failed payout can be retried, with kitoctl */
    char cmd[2048], out[256];
    snprintf(cmd, sizeof(cmd),
             "KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=%s KITO_MYSQL_USER=kito"
             " KITO_MYSQL_PASSWORD='%s' %s/api/kitoctl payout retry --payout %s",
             getenv("KITO_TEST_MYSQL_PORT"), getenv("KITO_TEST_MYSQL_PASSWORD"),
             getenv("KITO_TEST_BUILD"), pay_id(id));
    cr_assert_eq(kito_harness_sh(cmd, out, sizeof(out)), 0, "%s", out);
    wait_state(&s, "succeeded", 10000);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 2);
    char ocid1[80], ocid2[80];
    value_text(ocid1, sizeof(ocid1),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu"
               " AND attempt_no = 1",
               id);
    value_text(ocid2, sizeof(ocid2),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu"
               " AND attempt_no = 2",
               id);
    cr_assert_str_neq(ocid1, ocid2, "a retry is a new request, never the old one again");
    assert_paid_once(id);
    /* a succeeded payout cannot be retried */
    cr_assert_neq(kito_harness_sh(cmd, out, sizeof(out)), 0);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 2);
}

Test(payouts, duplicate_callback_changes_nothing)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "93", "USD");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    int received = 0, paid = 0, callbacks = 0;
    for (int i = 0; i < 50 && callbacks < 2; i++) {
        sim_payments(pay_id(id), &received, &paid, &callbacks);
        kito_harness_sleep_ms(100);
    }
    cr_assert_eq(callbacks, 2, "the simulator delivered %d callbacks", callbacks);
    assert_paid_once(id);
    /* and once more by hand */
    char ocid[80], txn[40];
    value_text(ocid, sizeof(ocid),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu", id);
    value_text(txn, sizeof(txn),
               "SELECT transaction_id FROM payout_attempts WHERE payout_id = %llu", id);
    cr_assert_eq(post_callback(TOKEN, ocid, 0, txn), 200);
    assert_paid_once(id);
}

Test(payouts, late_failure_after_success_changes_nothing)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "12", "USD");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    char ocid[80];
    value_text(ocid, sizeof(ocid),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu", id);
    cr_assert_eq(post_callback(TOKEN, ocid, 2001, "LATEFAIL01"), 200);
    char state[32];
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "succeeded");
    cr_assert_str_eq(value_text(state, sizeof(state),
                                "SELECT state FROM payout_attempts WHERE payout_id = %llu", id),
                     "succeeded");
    assert_paid_once(id);
}

Test(payouts, forged_callbacks_are_refused_and_unknown_ids_ignored)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "92", "USD"); /* timeout: stays submitted, so a forged success would show */
    unsigned long long id = wait_state(&s, "submitted", 10000);
    char ocid[80], state[32];
    for (int i = 0; i < 50; i++) {
        value_text(state, sizeof(state), "SELECT state FROM payout_attempts WHERE payout_id = %llu",
                   id);
        if (strcmp(state, "accepted") == 0)
            break;
        kito_harness_sleep_ms(100);
    }
    value_text(ocid, sizeof(ocid),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu", id);
    cr_assert_eq(post_callback("wrong-token-0123456789abcdef01234", ocid, 0, "FORGED0001"), 401);
    cr_assert_eq(post_callback(NULL, ocid, 0, "FORGED0002"), 401);
    cr_assert_eq(post_callback(TOKEN "x", ocid, 0, "FORGED0003"), 401);
    cr_assert_eq(post_callback("", ocid, 0, "FORGED0004"), 401);
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "submitted");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE transaction_id LIKE"
                           " 'FORGED%%'"),
                 0);
    /* right token, unknown OriginatorConversationID: acknowledged, ignored */
    cr_assert_eq(post_callback(TOKEN, "kito-unknown-1-0000", 0, "UNKNOWN001"), 200);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE transaction_id ="
                           " 'UNKNOWN001'"),
                 0);
    /* right token, not a result: 400, nothing changes */
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payouts/callbacks/mpesa?token=" TOKEN,
                           "{\"Result\":{\"ResultCode\":0}}", 27, headers, 0, &r),
                 0);
    kito_assert_error(&r, 400, "bad_request");
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payouts/callbacks/mpesa?token=" TOKEN, "{\"Res", 5,
                           headers, 0, &r),
                 0);
    cr_assert_eq(r.status, 400);
    kito_http_resp_free(&r);
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "submitted");
}

/* The callback token is a credential: whoever reads kitod's log (which names every attempt's
 * OriginatorConversationID) must not find it there, or could forge results. */
Test(payouts, the_callback_token_never_reaches_the_log)
{
    cr_assert_eq(post_callback(TOKEN, "kito-unknown-2-0000", 0, "UNKNOWN002"), 200);
    kito_harness_sleep_ms(600); /* the access log is flushed every 200 ms */
    FILE *f = fopen(kd.log_path, "r");
    cr_assert(f != NULL);
    char line[4096];
    bool logged = false, leaked = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        logged |= strstr(line, "\"route\":\"/v1/payouts/callbacks/mpesa\"") != NULL;
        leaked |= strstr(line, TOKEN) != NULL;
    }
    fclose(f);
    cr_assert(logged, "the callbacks are not in the access log");
    cr_assert(!leaked, "the callback token is in kitod's log (%s)", kd.log_path);
}

Test(payouts, provider_timeout_stays_submitted_and_is_never_resent)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "92", "USD");
    unsigned long long id = wait_state(&s, "submitted", 10000);
    /* past KITO_PAYOUT_CHECK_AFTER_MS: the worker asks, the provider says "in progress" */
    for (int i = 0; i < 80; i++) {
        if (value_i64("SELECT checks FROM payout_attempts WHERE payout_id = %llu", id) >= 1)
            break;
        kito_harness_sleep_ms(100);
    }
    cr_assert_geq(value_i64("SELECT checks FROM payout_attempts WHERE payout_id = %llu", id), 1);
    char state[32];
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "submitted");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1);
    int received, paid;
    sim_payments(pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1, "the provider got the request %d times", received);
}

Test(payouts, lost_answer_is_never_resent_and_the_result_still_lands)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "97", "USD"); /* hang: paid, but the answer never comes back */
    unsigned long long id = wait_state(&s, "succeeded", 15000);
    assert_paid_once(id);
    int received, paid;
    sim_payments(pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1, "a request with an unknown outcome was sent again");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1);
}

Test(payouts, acceptance_without_conversation_id_is_never_taken_for_a_refusal)
{
    set_rate("129.50");
    struct sold s;
    /* ResponseCode "0" without a ConversationID: the provider took the request and pays it. Had
     * Kito failed the attempt, the success callback would be ignored and the payout left failed,
     * to be retried by an operator -- and paid a second time. */
    arrange(&s, "98", "USD");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    assert_paid_once(id);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1);
}

Test(payouts, kitod_killed_midway_pays_exactly_once_after_restart)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "94", "USD"); /* late: the callback comes 2.5 s after the request */
    unsigned long long id = wait_state(&s, "submitted", 10000);
    char state[32] = "";
    for (int i = 0; i < 50 && strcmp(state, "accepted") != 0; i++) {
        value_text(state, sizeof(state), "SELECT state FROM payout_attempts WHERE payout_id = %llu",
                   id);
        kito_harness_sleep_ms(50);
    }
    cr_assert_str_eq(state, "accepted");
    kill(kd.pid, SIGKILL);
    waitpid(kd.pid, NULL, 0);
    kd.pid = 0;
    kito_harness_sleep_ms(3000); /* the callback finds nobody and is retried by the provider */
    kitod_up();
    wait_state(&s, "succeeded", 15000);
    assert_paid_once(id);
    int received, paid;
    sim_payments(pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1);
}

/* Several senders (KITO_PAYOUT_SENDERS, 8 by default) and kitod killed with SIGKILL while a
 * batch is between sending and recording: on restart every miner is paid, none twice (counted
 * at the provider as well as in MySQL). The batch mixes prompt results, late callbacks (94) and
 * lost answers (97: paid, no answer), so the kill finds attempts queued, sending and accepted. */
Test(payouts, kitod_killed_mid_batch_pays_everyone_exactly_once, .timeout = 150)
{
    enum { N = 24 };
    static const char *const modes[] = {"10", "94", "97"};
    set_rate("129.50");
    struct sold s[N];
    for (int i = 0; i < N; i++)
        arrange(&s[i], modes[i % 3], "USD");
    char in[64 * N] = "", *at = in;
    for (int i = 0; i < N; i++)
        at += snprintf(at, sizeof(in) - (size_t)(at - in), "%s%llu", i > 0 ? "," : "",
                       s[i].settlement);
    /* kill once some of the batch is paid and some is still out with the provider */
    long long done = 0, out = 0;
    for (int i = 0; i < 200; i++) {
        done = value_i64("SELECT COUNT(*) FROM payouts WHERE settlement_id IN (%s)"
                         " AND state = 'succeeded'",
                         in);
        out = value_i64("SELECT COUNT(*) FROM payout_attempts a JOIN payouts p ON"
                        " p.id = a.payout_id WHERE p.settlement_id IN (%s)"
                        " AND a.state IN ('sending', 'accepted')",
                        in);
        if (done >= 1 && out >= 1)
            break;
        kito_harness_sleep_ms(25);
    }
    cr_assert(done >= 1 && out >= 1, "never caught the batch mid-way (%lld paid, %lld out)", done,
              out);
    kill(kd.pid, SIGKILL);
    waitpid(kd.pid, NULL, 0);
    kd.pid = 0;
    kito_harness_sleep_ms(1000);
    kitod_up();
    for (int i = 0; i < N; i++) {
        unsigned long long id = wait_state(&s[i], "succeeded", 40000);
        assert_paid_once(id);
        int received, paid;
        sim_payments(pay_id(id), &received, &paid, NULL);
        cr_assert_eq(received, 1, "%s was sent %d times", pay_id(id), received);
    }
}

/* ---- limits per transfer and rate age (KITO_PAYOUT_LIMITS, KITO_FX_MAX_AGE_S) ---------------- */

static void kitod_restart_with(const char *a, const char *b)
{
    kito_harness_kitod_stop(&kd, 5000);
    extra_env[0] = a;
    extra_env[1] = b;
    extra_env[2] = NULL;
    kitod_up();
}

/* Waits until the n payouts of a settlement have all succeeded. */
static void wait_parts_succeeded(unsigned long long settlement, long long n, int timeout_ms)
{
    long long done = 0;
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        done = value_i64("SELECT COUNT(*) FROM payouts WHERE settlement_id = %llu"
                         " AND state = 'succeeded'",
                         settlement);
        if (done == n)
            return;
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("settlement %llu: %lld of %lld payouts succeeded", settlement, done, n);
}

/* Waits for a settlement's hold and returns its reason and detail. */
static void wait_hold(unsigned long long settlement, char *reason, char *detail, size_t cap)
{
    for (int waited = 0; waited <= 10000; waited += 100) {
        value_text(reason, 32, "SELECT reason FROM payout_holds WHERE settlement_id = %llu",
                   settlement);
        if (reason[0] != '\0') {
            value_text(detail, cap, "SELECT detail FROM payout_holds WHERE settlement_id = %llu",
                       settlement);
            return;
        }
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("settlement %llu was never held", settlement);
}

/* Above the rail's maximum: USD 89.00 at 129.50 is KES 11,525 (and 50 cents kept for her),
 * over three transfers of at most 5,000, each its own payout, attempt, reference and ledger
 * transaction; together exactly the whole, each paid exactly once at the provider. */
Test(payouts, above_the_rail_maximum_the_payout_is_split_and_summed_in_the_ledger)
{
    kitod_restart_with("KITO_PAYOUT_LIMITS=mpesa:KES:100:5000", NULL);
    set_rate("129.50");
    struct sold s;
    arrange(&s, "10", "USD");
    wait_parts_succeeded(s.settlement, 3, 20000);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payouts WHERE settlement_id = %llu", s.settlement),
                 3);
    cr_assert_eq(
        value_i64("SELECT SUM(paid_units) FROM payouts WHERE settlement_id = %llu", s.settlement),
        11525);
    cr_assert_eq(
        value_i64("SELECT MAX(paid_units) FROM payouts WHERE settlement_id = %llu", s.settlement),
        3842);
    cr_assert_eq(
        value_i64("SELECT SUM(source_minor) FROM payouts WHERE settlement_id = %llu", s.settlement),
        8900);
    /* the ledger: her USD payable is debited exactly her net, over the three transactions */
    cr_assert_eq(value_i64("SELECT SUM(e.amount_minor) FROM ledger_entries e JOIN payouts p ON"
                           " p.ledger_transaction_id = e.transaction_id WHERE p.settlement_id ="
                           " %llu AND e.account_code = 2 AND e.currency = 'USD'",
                           s.settlement),
                 8900);
    cr_assert_eq(value_i64("SELECT SUM(e.amount_minor) FROM ledger_entries e JOIN payouts p ON"
                           " p.ledger_transaction_id = e.transaction_id WHERE p.settlement_id ="
                           " %llu AND e.account_code = 8",
                           s.settlement),
                 -1152500);
    /* per rail and day, what the provider confirmed and what the ledger credited agree */
    char out[8192];
    cr_assert_eq(kitoctl_run("payout totals", out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "\tmpesa\tKES\t") != NULL && strstr(out, "\tok") != NULL, "%s", out);
    cr_assert(strstr(out, "MISMATCH") == NULL, "%s", out);
    long long first =
        value_i64("SELECT MIN(id) FROM payouts WHERE settlement_id = %llu", s.settlement);
    for (long long id = first; id < first + 3; id++) {
        assert_paid_once((unsigned long long)id);
        int received, paid;
        sim_payments(pay_id((unsigned long long)id), &received, &paid, NULL);
        cr_assert_eq(received, 1);
    }
}

/* Below the rail's minimum a sale waits, held with the reason; her next sale on the rail brings
 * the total over it, and one payout pays both. */
Test(payouts, below_the_rail_minimum_sales_wait_and_are_paid_together)
{
    kitod_restart_with("KITO_PAYOUT_LIMITS=mpesa:KES:20000:0", NULL);
    set_rate("129.50");
    struct sold a, b;
    arrange(&a, "10", "USD");
    char reason[32], detail[600];
    wait_hold(a.settlement, reason, detail, sizeof(detail));
    cr_assert_str_eq(reason, "below_minimum");
    cr_assert(strstr(detail, "KES 11525 from 1 sale is below mpesa's minimum of KES 20000") != NULL,
              "%s", detail);
    kito_harness_sleep_ms(500);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payouts WHERE miner_id = %llu", a.miner), 0);
    arrange_sale(&b, "10", "USD", &a);
    unsigned long long id = wait_state(&b, "succeeded", 15000);
    cr_assert_eq(value_i64("SELECT paid_units FROM payouts WHERE id = %llu", id), 23051);
    cr_assert_eq(value_i64("SELECT source_minor FROM payouts WHERE id = %llu", id), 17800);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_members WHERE payout_id = %llu AND"
                           " settlement_id IN (%llu, %llu)",
                           id, a.settlement, b.settlement),
                 2);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_holds WHERE settlement_id IN (%llu, %llu)",
                           a.settlement, b.settlement),
                 0);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payouts WHERE miner_id = %llu", a.miner), 1);
    assert_paid_once(id);
}

/* A rate older than KITO_FX_MAX_AGE_S holds the payout with the reason; a new rate releases it. */
Test(payouts, a_stale_exchange_rate_holds_the_payout_until_a_new_one)
{
    kitod_restart_with("KITO_FX_MAX_AGE_S=2", NULL);
    set_rate("129.50");
    kito_harness_sleep_ms(3000);
    struct sold s;
    arrange(&s, "10", "USD");
    char reason[32], detail[600];
    wait_hold(s.settlement, reason, detail, sizeof(detail));
    cr_assert_str_eq(reason, "fx_stale");
    cr_assert(strstr(detail, "the newest USD to KES exchange rate is") != NULL, "%s", detail);
    cr_assert(strstr(detail, "kitoctl fx set") != NULL, "%s", detail);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payouts WHERE settlement_id = %llu", s.settlement),
                 0);
    set_rate("129.50");
    unsigned long long id = wait_state(&s, "succeeded", 15000);
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM payout_holds WHERE settlement_id = %llu", s.settlement), 0);
    assert_paid_once(id);
}

/* The database itself refuses a second success, whatever the code does (proof of the rule). */
Test(payouts, the_schema_refuses_a_second_success)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "13", "USD");
    unsigned long long id = wait_state(&s, "succeeded", 10000);
    unsigned e = kito_harness_sql_errno(
        "INSERT INTO payout_attempts (payout_id, attempt_no, originator_conversation_id,"
        " request_json, state, transaction_id) VALUES (%llu, 9, 'kito-forged-%llu', '{}',"
        " 'succeeded', 'SECOND%llu')",
        id, id, id);
    cr_assert_eq(e, 1062, "a second succeeded attempt: error %u, want 1062", e);
    /* nor two open attempts at once */
    e = kito_harness_sql_errno(
        "INSERT INTO payout_attempts (payout_id, attempt_no, originator_conversation_id,"
        " request_json) VALUES (%llu, 10, 'kito-open-a-%llu', '{}'), (%llu, 11,"
        " 'kito-open-b-%llu', '{}')",
        id, id, id, id);
    cr_assert_eq(e, 1062, "two open attempts: error %u, want 1062", e);
    /* nor one M-Pesa transaction on two attempts */
    char txn[40];
    value_text(txn, sizeof(txn),
               "SELECT transaction_id FROM payout_attempts WHERE payout_id = %llu", id);
    e = kito_harness_sql_errno(
        "INSERT INTO payout_attempts (payout_id, attempt_no, originator_conversation_id,"
        " request_json, state, transaction_id) VALUES (%llu, 12, 'kito-txn-%llu', '{}',"
        " 'failed', '%s')",
        id, id, txn);
    cr_assert_neq(e, 0, "one M-Pesa transaction on two attempts was accepted");
    /* nor a second payout for the settlement */
    e = kito_harness_sql_errno(
        "INSERT INTO payouts (settlement_id, miner_id, msisdn, rail, currency, amount_minor,"
        " paid_units, remainder_minor, source_minor, source_currency, rate_micros) SELECT"
        " settlement_id, miner_id, msisdn, rail, currency, amount_minor, paid_units,"
        " remainder_minor, source_minor, source_currency, rate_micros FROM payouts WHERE id ="
        " %llu",
        id);
    cr_assert_eq(e, 1062, "a second payout: error %u, want 1062", e);
    assert_paid_once(id);
}

/* ---- anomalies: held for the operator, never trusted (issue 19; issue 15 finding 6) --------- */

/* Runs kitoctl with args against the test database; returns its exit status. */
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

/* The payout is held: state anomaly, one unresolved anomaly row of kind, `kitoctl reconcile`
 * names it, `kitoctl payout retry` refuses it, and the worker sends nothing more for it. Then
 * the row is resolved (as the operator would) so that the later programs find reconcile clean. */
static void assert_held(unsigned long long id, const char *kind)
{
    char state[32], out[4096];
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "anomaly");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_anomalies WHERE payout_id = %llu AND"
                           " kind = '%s' AND resolved_at IS NULL",
                           id, kind),
                 1, "no unresolved '%s' anomaly for %s", kind, pay_id(id));
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM audit_log WHERE action = 'payout.anomaly'"
                           " AND entity_id = %llu",
                           id),
                 1);
    cr_assert_eq(kitoctl_run("reconcile", out, sizeof(out)), 1, "reconcile: %s", out);
    char want[64];
    snprintf(want, sizeof(want), "payout %s", pay_id(id));
    cr_assert(strstr(out, "payout_anomaly") != NULL && strstr(out, want) != NULL &&
                  strstr(out, kind) != NULL,
              "reconcile does not report %s (%s): %s", pay_id(id), kind, out);
    char args[128];
    snprintf(args, sizeof(args), "payout retry --payout %s", pay_id(id));
    cr_assert_neq(kitoctl_run(args, out, sizeof(out)), 0, "a held payout was retried: %s", out);
    long long attempts =
        value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id);
    kito_harness_sleep_ms(400); /* a few worker passes */
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id),
                 attempts);
    /* the operator resolves it with a reason (kitoctl payout resolve): audited, it stays held */
    snprintf(args, sizeof(args), "payout resolve --payout %s", pay_id(id));
    cr_assert_neq(kitoctl_run(args, out, sizeof(out)), 0, "resolved without a reason: %s", out);
    snprintf(args, sizeof(args),
             "payout resolve --payout %s --reason 'checked the statement: paid once, kept'",
             pay_id(id));
    cr_assert_eq(kitoctl_run(args, out, sizeof(out)), 0, "%s", out);
    cr_assert(strstr(out, "resolved") != NULL, "%s", out);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_anomalies WHERE payout_id = %llu AND"
                           " resolved_at IS NOT NULL AND resolution = 'checked the statement:"
                           " paid once, kept'",
                           id),
                 value_i64("SELECT COUNT(*) FROM payout_anomalies WHERE payout_id = %llu", id));
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM audit_log WHERE action ="
                           " 'payout.anomaly_resolved' AND entity_id = %llu",
                           id),
                 1);
    cr_assert_str_eq(
        value_text(state, sizeof(state), "SELECT state FROM payouts WHERE id = %llu", id),
        "anomaly");
    cr_assert_neq(kitoctl_run(args, out, sizeof(out)), 0, "resolved twice: %s", out);
    ledger_check();
}

/* Posts a raw result callback body. */
static long post_raw_callback(const char *body)
{
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payouts/callbacks/mpesa?token=" TOKEN, body,
                           strlen(body), headers, 0, &r),
                 0);
    long status = r.status;
    kito_http_resp_free(&r);
    return status;
}

Test(payouts, wrong_amount_success_is_held_as_an_anomaly)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "99", "USD"); /* the simulator pays one unit more and says so */
    unsigned long long id = wait_state(&s, "anomaly", 10000);
    char state[32];
    cr_assert_str_eq(value_text(state, sizeof(state),
                                "SELECT state FROM payout_attempts WHERE payout_id = %llu", id),
                     "anomaly");
    cr_assert_eq(value_i64("SELECT reported_amount_units FROM payout_anomalies WHERE payout_id ="
                           " %llu",
                           id),
                 value_i64("SELECT paid_units + 1 FROM payouts WHERE id = %llu", id));
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference = '%s'", pay_id(id)), 0,
        "an untrusted success posted to the ledger");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu AND"
                           " state = 'succeeded'",
                           id),
                 0);
    int received, paid;
    sim_payments(pay_id(id), &received, &paid, NULL);
    cr_assert_eq(received, 1);
    assert_held(id, "amount");
}

Test(payouts, late_success_after_a_recorded_failure_is_held_as_an_anomaly)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "90", "USD"); /* failure after 200 ms, then success for the same request */
    unsigned long long id = wait_state(&s, "failed", 10000);
    wait_state(&s, "anomaly", 10000);
    char state[32];
    cr_assert_str_eq(value_text(state, sizeof(state),
                                "SELECT state FROM payout_attempts WHERE payout_id = %llu", id),
                     "failed", "a final attempt never changes");
    cr_assert_str_eq(value_text(state, sizeof(state),
                                "SELECT payout_state FROM payout_anomalies WHERE payout_id = %llu",
                                id),
                     "failed");
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference = '%s'", pay_id(id)),
        0);
    assert_held(id, "success_after_failure");
}

/* The case that pays twice: attempt 1 failed, the operator retried, attempt 2 paid, and then the
 * provider says attempt 1 paid too. Held; the one ledger transaction stays; the same report again
 * is one anomaly. */
Test(payouts, success_for_a_failed_attempt_after_a_paid_retry_is_held)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "95", "USD"); /* fail once */
    unsigned long long id = wait_state(&s, "failed", 10000);
    char args[128], out[512];
    snprintf(args, sizeof(args), "payout retry --payout %s", pay_id(id));
    cr_assert_eq(kitoctl_run(args, out, sizeof(out)), 0, "%s", out);
    wait_state(&s, "succeeded", 10000);
    char ocid1[80], txn[40];
    value_text(ocid1, sizeof(ocid1),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu"
               " AND attempt_no = 1",
               id);
    snprintf(txn, sizeof(txn), "LATEPAY%llu", id);
    cr_assert_eq(post_callback(TOKEN, ocid1, 0, txn), 200);
    cr_assert_eq(post_callback(TOKEN, ocid1, 0, txn), 200);
    char state[32];
    cr_assert_str_eq(value_text(state, sizeof(state),
                                "SELECT payout_state FROM payout_anomalies WHERE payout_id = %llu",
                                id),
                     "succeeded");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payout' AND"
                           " reference = '%s'",
                           pay_id(id)),
                 1);
    assert_held(id, "success_after_failure");
}

Test(payouts, success_to_another_wallet_is_held_as_an_anomaly)
{
    set_rate("129.50");
    struct sold s;
    arrange(&s, "92", "USD"); /* timeout: the real result never comes */
    unsigned long long id = wait_state(&s, "submitted", 10000);
    char state[32] = "";
    for (int i = 0; i < 50 && strcmp(state, "accepted") != 0; i++) {
        value_text(state, sizeof(state), "SELECT state FROM payout_attempts WHERE payout_id = %llu",
                   id);
        kito_harness_sleep_ms(100);
    }
    char ocid[80], body[1024];
    value_text(ocid, sizeof(ocid),
               "SELECT originator_conversation_id FROM payout_attempts WHERE payout_id = %llu", id);
    long long units = value_i64("SELECT paid_units FROM payouts WHERE id = %llu", id);
    /* the right amount, as Daraja reports it, to someone else's wallet */
    snprintf(body, sizeof(body),
             "{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"ResultDesc\":\"ok\","
             "\"OriginatorConversationID\":\"%s\",\"ConversationID\":\"AG_WALLET\","
             "\"TransactionID\":\"WALLET%llu\",\"ResultParameters\":{\"ResultParameter\":["
             "{\"Key\":\"TransactionAmount\",\"Value\":%lld},"
             "{\"Key\":\"ReceiverPartyPublicName\",\"Value\":\"254700000001 - Someone Else\"}]}}}",
             ocid, id, units);
    cr_assert_eq(post_raw_callback(body), 200);
    cr_assert_eq(
        value_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference = '%s'", pay_id(id)),
        0);
    assert_held(id, "wallet");
}

/* ---- a payout wallet change (issue 15, finding 5) ------------------------------------------ */

/* Her payout wallet, her wallet changes and the wallet_changed SMS to phone, as counts. */
static long long wallet_changes(unsigned long long miner)
{
    return value_i64("SELECT COUNT(*) FROM payout_wallet_changes WHERE account_id = %llu", miner);
}

static long long wallet_sms(unsigned long long miner, const char *phone)
{
    return value_i64("SELECT COUNT(*) FROM sms_outbox WHERE account_id = %llu"
                     " AND kind = 'wallet_changed' AND phone = '%s'",
                     miner, phone);
}

/* A bearer token alone does not move her payouts: without her PIN, or with a wrong one, the
 * change is refused and nothing changes. With it, the old number gets an SMS, the payout to the
 * new wallet waits the hold (the provider sees nothing, and the miner and the operator see why),
 * and is paid, once, after it. */
Test(payouts, a_wallet_change_needs_the_pin_tells_the_old_number_and_holds_the_payout)
{
    struct sold s;
    arrange_unpaid(&s, "20", "KES");
    char old[20], fresh[20], got[32];
    snprintf(old, sizeof(old), "%s", s.msisdn);
    snprintf(fresh, sizeof(fresh), "%.*s21", (int)strlen(old) - 2, old);
    kito_who miner = {.id = s.miner};
    snprintf(miner.token, sizeof(miner.token), "%s", s.miner_token);

    struct kito_http_resp r = kito_harness_callf(&kd, &miner, NULL, "PATCH", "/v1/accounts/me",
                                                 "{\"payout\":{\"msisdn\":\"%s\"}}", fresh);
    kito_harness_expect(&r, 422, "a wallet change without her PIN");
    json_t *err = json_object_get(r.json, "error");
    cr_assert_str_eq(json_string_value(json_object_get(err, "code")), "validation_failed");
    cr_assert(strncmp(json_string_value(json_object_get(err, "message")), "current ", 8) == 0, "%s",
              r.body);
    kito_http_resp_free(&r);
    r = kito_harness_callf(&kd, &miner, NULL, "PATCH", "/v1/accounts/me",
                           "{\"payout\":{\"msisdn\":\"%s\"},\"current\":\"9173\"}", fresh);
    kito_harness_expect(&r, 403, "a wallet change with a wrong PIN");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                     "forbidden");
    kito_http_resp_free(&r);
    value_text(got, sizeof(got), "SELECT payout_msisdn FROM miner_profiles WHERE account_id = %llu",
               s.miner);
    cr_assert_str_eq(got, old, "a refused change changes nothing");
    cr_assert_eq(wallet_changes(s.miner), 0);
    cr_assert_eq(wallet_sms(s.miner, old), 0);

    r = kito_harness_callf(&kd, &miner, NULL, "PATCH", "/v1/accounts/me",
                           "{\"payout\":{\"msisdn\":\"%s\"},\"current\":\"%s\"}", fresh,
                           KITO_HARNESS_PIN);
    kito_harness_expect(&r, 200, "a wallet change with her PIN");
    json_t *payout = json_object_get(json_object_get(r.json, "miner"), "payout");
    cr_assert_str_eq(json_string_value(json_object_get(payout, "msisdn")), fresh);
    cr_assert(json_is_string(json_object_get(payout, "held_until")), "%s", r.body);
    kito_http_resp_free(&r);
    cr_assert_eq(wallet_changes(s.miner), 1);
    cr_assert_eq(wallet_sms(s.miner, old), 1, "the old number is told");
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM audit_log WHERE action ="
                           " 'account.payout_wallet_change' AND entity_id = %llu",
                           s.miner),
                 1);

    /* the invoice is paid inside the hold: the payout is made for the new wallet and waits */
    arrange_paid(&s);
    long long id = -1;
    for (int i = 0; i < 100 && id < 0; i++) {
        id = value_i64("SELECT id FROM payouts WHERE settlement_id = %llu", s.settlement);
        if (id < 0)
            kito_harness_sleep_ms(50);
    }
    cr_assert(id > 0, "no payout was made");
    cr_assert_eq(value_i64("SELECT UTC_TIMESTAMP(3) < hold_until FROM payout_wallet_changes"
                           " WHERE account_id = %llu",
                           s.miner),
                 1, "the machine was too slow to look inside the hold of " WALLET_HOLD_S " s");
    kito_harness_sleep_ms(600); /* several worker passes */
    value_text(got, sizeof(got), "SELECT state FROM payouts WHERE id = %lld", id);
    cr_assert_str_eq(got, "pending", "a payout to the new wallet waits out the hold");
    int received, paid;
    sim_payments(pay_id((unsigned long long)id), &received, &paid, NULL);
    cr_assert_eq(received, 0, "the provider was asked %d times inside the hold", received);
    char path[64];
    snprintf(path, sizeof(path), "/v1/payouts/%s", pay_id((unsigned long long)id));
    r = get_as(s.miner_token, path);
    kito_harness_expect(&r, 200, "her held payout");
    json_t *hold = json_object_get(r.json, "hold");
    cr_assert_str_eq(json_string_value(json_object_get(hold, "reason")), "wallet_changed", "%s",
                     r.body);
    cr_assert(json_is_string(json_object_get(hold, "until")), "%s", r.body);
    kito_http_resp_free(&r);

    /* after the hold, it is sent, once, to the new wallet */
    unsigned long long done = wait_state(&s, "succeeded", 15000);
    assert_paid_once(done);
    value_text(got, sizeof(got), "SELECT msisdn FROM payouts WHERE id = %llu", done);
    cr_assert_str_eq(got, fresh);
    cr_assert_eq(value_i64("SELECT COUNT(*) FROM payout_attempts a JOIN payout_wallet_changes w"
                           " ON w.account_id = %llu WHERE a.payout_id = %llu"
                           " AND a.created_at < w.hold_until",
                           s.miner, done),
                 0, "no attempt was made before the hold ended");
    r = get_as(s.miner_token, path);
    cr_assert(json_is_null(json_object_get(r.json, "hold")), "%s", r.body);
    kito_http_resp_free(&r);
}
