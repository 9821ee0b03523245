#include "tests/integration/harness_mpesa.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/integration/harness.h"

void kito_mpesa_sim_keys(char cert[512], char key[512])
{
    char dir[400];
    snprintf(dir, sizeof(dir), "%s", kito_harness_var("mpesa"));
    snprintf(cert, 512, "%s/cert.pem", dir);
    snprintf(key, 512, "%s/key.pem", dir);
    if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
        return;
    /* a throwaway test pair: RSA 2048 like Safaricom's certificates; written under temporary
     * names and renamed, so a half-written pair is never used */
    char cmd[2048], out[1024];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s' && chmod 700 '%s' && openssl req -x509 -newkey rsa:2048 -nodes"
             " -keyout '%s.tmp' -out '%s.tmp' -subj /CN=mpesa-sim-test -days 2 2>&1 &&"
             " mv '%s.tmp' '%s' && mv '%s.tmp' '%s'",
             dir, dir, key, cert, key, key, cert, cert);
    cr_assert_eq(kito_harness_sh(cmd, out, sizeof(out)), 0, "openssl: %s", out);
}

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

long kito_mpesa_sim_call(const struct kito_mpesa_sim *s, const char *method, const char *path,
                         const char *body, json_t **out)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", s->port, path);
    CURL *c = curl_easy_init();
    char *buf = NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
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

void kito_mpesa_sim_start(struct kito_mpesa_sim *s, const char *const *extra_args)
{
    memset(s, 0, sizeof(*s));
    kito_mpesa_sim_keys(s->cert, s->key);
    s->port = kito_harness_free_port();
    snprintf(s->log, sizeof(s->log), "%s", kito_harness_var("logs/mpesa_sim.log"));
    char bin[1024], port[16], cacert[1024];
    snprintf(bin, sizeof(bin), "%s/sims/mpesa_sim", getenv("KITO_TEST_BUILD"));
    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(cacert, sizeof(cacert), "%s", kito_harness_var("tls/ca.pem"));
    const char *argv[64] = {bin,
                            "--port",
                            port,
                            "--cacert",
                            cacert,
                            "--delay-ms",
                            "200",
                            "--late-ms",
                            "2500",
                            "--hang-ms",
                            "4000",
                            "--consumer-key",
                            KITO_MPESA_SIM_CONSUMER_KEY,
                            "--consumer-secret",
                            KITO_MPESA_SIM_CONSUMER_SECRET,
                            "--initiator-password",
                            KITO_MPESA_SIM_INITIATOR_PASSWORD,
                            "--key",
                            s->key};
    size_t n = 19;
    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 63; i++)
        argv[n++] = extra_args[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* both streams to the log: a leaked simulator must never hold the test's stdout */
        if (freopen(s->log, "a", stderr) != NULL)
            dup2(fileno(stderr), 1);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    for (int i = 0; i < 100; i++) {
        if (kito_mpesa_sim_call(s, "GET", "/healthz", NULL, NULL) == 200)
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("mpesa_sim did not start; see %s", s->log);
}

void kito_mpesa_sim_stop(struct kito_mpesa_sim *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

size_t kito_mpesa_sim_env(struct kito_mpesa_sim *s, const char *callback_token,
                          const char *password, const char **env)
{
    snprintf(s->env_buf[0], sizeof(s->env_buf[0]), "KITO_MPESA_BASE_URL=http://127.0.0.1:%d",
             s->port);
    snprintf(s->env_buf[1], sizeof(s->env_buf[1]), "KITO_MPESA_CERT=%s", s->cert);
    snprintf(s->env_buf[2], sizeof(s->env_buf[2]), "KITO_MPESA_INITIATOR_PASSWORD=%s",
             password != NULL ? password : KITO_MPESA_SIM_INITIATOR_PASSWORD);
    snprintf(s->env_buf[3], sizeof(s->env_buf[3]), "KITO_MPESA_CALLBACK_TOKEN=%s", callback_token);
    snprintf(s->env_buf[4], sizeof(s->env_buf[4]),
             "KITO_MPESA_CONSUMER_KEY=" KITO_MPESA_SIM_CONSUMER_KEY);
    snprintf(s->env_buf[5], sizeof(s->env_buf[5]),
             "KITO_MPESA_CONSUMER_SECRET=" KITO_MPESA_SIM_CONSUMER_SECRET);
    snprintf(s->env_buf[6], sizeof(s->env_buf[6]),
             "KITO_MPESA_SHORTCODE=" KITO_MPESA_SIM_SHORTCODE);
    /* the simulator is pointed at the real port once kitod has one */
    snprintf(s->env_buf[7], sizeof(s->env_buf[7]), "KITO_MPESA_CALLBACK_BASE=https://localhost:1");
    for (size_t i = 0; i < 8; i++)
        env[i] = s->env_buf[i];
    return 8;
}

void kito_mpesa_sim_point_at(const struct kito_mpesa_sim *s, int https_port)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"callback_base\":\"https://localhost:%d\"}", https_port);
    cr_assert_eq(kito_mpesa_sim_call(s, "POST", "/kito-sim/callback-base", body, NULL), 200);
}

long long kito_mpesa_sim_counter(const struct kito_mpesa_sim *s, const char *name)
{
    json_t *doc = NULL;
    cr_assert_eq(kito_mpesa_sim_call(s, "GET", "/kito-sim/payments", NULL, &doc), 200);
    long long v = (long long)json_integer_value(json_object_get(doc, name));
    json_decref(doc);
    return v;
}

/* ---- a paid settlement ------------------------------------------------------------------- */

/* A Kenyan miner (payout wallet ending in suffix), a USD sale, a sold lot, its settlement with a
 * balanced ledger transaction, and its invoice, paid. Hammer USD 100.00: premium 10.00, commission
 * 5.00, royalty 6.00, miner net 89.00. */
void kito_mpesa_sold_invoice(struct kito_sold *s, const char *suffix, const char *currency,
                             bool paid)
{
    static unsigned counter;
    counter++;
    memset(s, 0, sizeof(*s));
    s->miner = kito_harness_account("miner", NULL, 0);
    s->buyer = kito_harness_account("buyer", NULL, 0);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    snprintf(s->msisdn, sizeof(s->msisdn), "+2547%02u%04u%s", (unsigned)getpid() % 100,
             counter % 10000, suffix);
    kito_harness_sql("INSERT INTO miner_profiles (account_id, country, payout_msisdn, payout_rail)"
                     " VALUES (%llu, 'KE', '%s', 'mpesa')",
                     s->miner, s->msisdn);
    kito_harness_session(s->miner, s->miner_token);
    kito_harness_session(s->buyer, s->buyer_token);
    kito_harness_session(org, s->organizer_token);
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at, ladder_json,"
        " status) VALUES (%llu, 'Payout test', 'timed', '%s', UTC_TIMESTAMP(3) - INTERVAL 2 DAY,"
        " UTC_TIMESTAMP(3) - INTERVAL 1 DAY,"
        " '[{\"from_minor\":0,\"step_minor\":100}]', 'closed')",
        org, currency);
    s->sale = sale;
    unsigned long long stone = kito_harness_sql(
        "INSERT INTO stones (seller_id, listed_by, species, weight_cct, origin_country, status)"
        " VALUES (%llu, %llu, 'garnet', 150, 'KE', 'listed')",
        s->miner, s->miner);
    unsigned long long lot = kito_harness_sql(
        "INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor, state,"
        " hammer_minor, winner_id, closed_at) VALUES (%llu, %llu, 1, 0, 100, 'sold', 10000, %llu,"
        " UTC_TIMESTAMP(3))",
        sale, stone, s->buyer);
    long long rate = kito_harness_count("SELECT id FROM royalty_rates ORDER BY id LIMIT 1");
    if (rate <= 0)
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
    /* paid last, with the buyer's payment and its ledger transaction (cash debit, receivable
     * credit) as `kitoctl payment record` makes them: from here the payout worker may act */
    snprintf(s->invoice, sizeof(s->invoice), "INV-77%010llu", s->settlement);
    if (!paid) { /* issued: the buyer still owes all of it */
        s->invoice_id = kito_harness_sql(
            "INSERT INTO invoices (settlement_id, buyer_id, sale_id, number, status, amount_minor,"
            " currency, issued_at, due_at) VALUES (%llu, %llu, %llu, '%s', 'issued', 11000, '%s',"
            " UTC_TIMESTAMP(3) - INTERVAL 1 HOUR, UTC_TIMESTAMP(3) + INTERVAL 3 DAY)",
            s->settlement, s->buyer, sale, s->invoice, currency);
        return;
    }
    unsigned long long invoice = kito_harness_sql(
        "INSERT INTO invoices (settlement_id, buyer_id, sale_id, number, status, amount_minor,"
        " paid_minor, currency, issued_at, due_at, paid_at) VALUES (%llu, %llu, %llu,"
        " 'INV-77%010llu', 'paid', 11000, 11000, '%s', UTC_TIMESTAMP(3) - INTERVAL 1 HOUR,"
        " UTC_TIMESTAMP(3) + INTERVAL 3 DAY, UTC_TIMESTAMP(3))",
        s->settlement, s->buyer, sale, s->settlement, currency);
    s->invoice_id = invoice;
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

void kito_mpesa_sold(struct kito_sold *s, const char *suffix, const char *currency)
{
    kito_mpesa_sold_invoice(s, suffix, currency, true);
}

/* Waits (up to timeout_ms) for the settlement's payout to reach state; returns its id. */
unsigned long long kito_mpesa_wait_payout(const struct kito_sold *s, const char *state,
                                          int timeout_ms)
{
    char got[32] = "";
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        kito_harness_sql_value(got, sizeof(got),
                               "SELECT state FROM payouts WHERE settlement_id = %llu",
                               s->settlement);
        if (strcmp(got, state) == 0)
            return (unsigned long long)kito_harness_count(
                "SELECT id FROM payouts WHERE settlement_id ="
                " %llu",
                s->settlement);
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("payout of settlement %llu is '%s', not '%s' after %d ms", s->settlement, got,
                   state, timeout_ms);
    return 0;
}

/* DESIGN.md: every ledger transaction sums to zero per currency (and none is empty). */
void kito_mpesa_ledger_check(void)
{
    long long bad =
        kito_harness_count("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries"
                           " GROUP BY transaction_id, currency HAVING SUM(amount_minor) <> 0) x");
    cr_assert_eq(bad, 0, "%lld ledger transactions do not sum to zero", bad);
    long long empty =
        kito_harness_count("SELECT COUNT(*) FROM ledger_transactions t WHERE NOT EXISTS"
                           " (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)");
    cr_assert_eq(empty, 0, "%lld ledger transactions have no entries", empty);
}
