/*
 * Settlement end to end (issue 7): outbox entries in the real Redis -> the settlement worker
 * inside kitod -> settlements, invoices and a balanced ledger in the real MariaDB; replays,
 * MySQL outages and kill -9 settle every lot exactly once; payments; reconciliation; the
 * settlement endpoints. After every test, every ledger transaction must sum to zero per currency.
 *
 * Lots are made by SQL with lots.state 'open' (not 'scheduled'), so the bidding code never loads
 * them into the market: the outbox entries these tests write are the only close they get.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <mysql.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "api/store/lease.h"
#include "tests/integration/harness.h"

static struct kito_kitod kd;

/* A fresh connection per call: the harness's cached one does not survive a MariaDB restart. */
static long long fresh_i64(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long fresh_i64(const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    MYSQL *db = mysql_init(NULL);
    cr_assert(db != NULL);
    cr_assert(mysql_real_connect(db, "127.0.0.1", "kito", getenv("KITO_TEST_MYSQL_PASSWORD"),
                                 "kito", (unsigned)atoi(getenv("KITO_TEST_MYSQL_PORT")), NULL,
                                 0) != NULL,
              "cannot connect: %s", mysql_error(db));
    cr_assert(mysql_query(db, sql) == 0, "SQL failed: %s\n%s", mysql_error(db), sql);
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = res != NULL ? mysql_fetch_row(res) : NULL;
    long long v = row != NULL && row[0] != NULL ? atoll(row[0]) : -1;
    if (res != NULL)
        mysql_free_result(res);
    mysql_close(db);
    return v;
}

/* DESIGN.md: "The sum of every transaction is zero per currency -- a test checks it after every
 * change." Called in every test's teardown. */
static void ledger_check(void)
{
    long long bad =
        fresh_i64("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries"
                  " GROUP BY transaction_id, currency HAVING SUM(amount_minor) <> 0) x");
    cr_assert_eq(bad, 0, "%lld ledger transactions do not sum to zero", bad);
    long long empty = fresh_i64("SELECT COUNT(*) FROM ledger_transactions t WHERE NOT EXISTS"
                                " (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)");
    cr_assert_eq(empty, 0, "%lld ledger transactions have no entries", empty);
}

static void up(void)
{
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200, "kitod never became healthy");
}

static void down(void)
{
    kito_harness_service("mysql_start"); /* whatever a test did, leave the services running */
    kito_harness_kitod_stop(&kd, 5000);
    ledger_check();
}

TestSuite(settlement, .init = up, .fini = down, .timeout = 120);

/* ---- fixtures -------------------------------------------------------------------------------- */

struct world {
    unsigned long long organizer, miner, buyer, association, sale;
    char org_token[44], buyer_token[44], miner_token[44];
    char currency[4];
};

/* The worked example's rates: TZ zoisite rough 6% (DEMO-DATA.md), a 1% association levy, a 10%
 * buyer's premium and a 5% commission. */
static void world_make(struct world *w, const char *currency)
{
    memset(w, 0, sizeof(*w));
    snprintf(w->currency, sizeof(w->currency), "%s", currency);
    kito_harness_sql("INSERT IGNORE INTO royalty_rates (country, species, form, rate_bps,"
                     " effective_from, source) VALUES ('TZ', 'zoisite', 'rough', 600,"
                     " '2020-01-01 00:00:00', 'test')");
    w->organizer = kito_harness_account("organizer", NULL, 0);
    w->miner = kito_harness_account("miner", NULL, 0);
    w->buyer = kito_harness_account("buyer", NULL, 0);
    w->association = kito_harness_sql("INSERT INTO associations (name, country, levy_bps) VALUES"
                                      " ('Test Women Miners %d %llu', 'TZ', 100)",
                                      (int)getpid(), w->miner);
    kito_harness_sql("INSERT INTO miner_profiles (account_id, association_id, country,"
                     " payout_msisdn, payout_rail) VALUES (%llu, %llu, 'TZ', '+255700000001',"
                     " 'mpesa')",
                     w->miner, w->association);
    w->sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " buyer_premium_bps, commission_bps, ladder_json, status) VALUES (%llu, 'Settlement test',"
        " 'timed', '%s', UTC_TIMESTAMP(3) - INTERVAL 2 DAY, UTC_TIMESTAMP(3) - INTERVAL 1 DAY,"
        " 1000, 500, '[{\"from_minor\":0,\"step_minor\":100}]', 'open')",
        w->organizer, currency);
    kito_harness_session(w->organizer, w->org_token);
    kito_harness_session(w->buyer, w->buyer_token);
    kito_harness_session(w->miner, w->miner_token);
}

/* A stone of the miner and its lot (state 'open'); returns the lot id. */
static unsigned long long lot_make(struct world *w, const char *country, const char *species,
                                   int weight_cct)
{
    static int number;
    unsigned long long stone = kito_harness_sql(
        "INSERT INTO stones (seller_id, listed_by, species, weight_cct, origin_country, status)"
        " VALUES (%llu, %llu, '%s', %d, '%s', 'listed')",
        w->miner, w->miner, species, weight_cct, country);
    number++;
    return kito_harness_sql("INSERT INTO lots (sale_id, stone_id, lot_number, position,"
                            " opening_minor, state) VALUES (%llu, %llu, %d, %d, 100, 'open')",
                            w->sale, stone, number, number - 1);
}

/* XADDs an outbox entry exactly as api/live/bookstore.c writes it. */
static void xadd(const struct world *w, unsigned long long lot, const char *result,
                 unsigned long long winner, long long hammer)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "redis-cli -p %s XADD outbox:settlement '*' lot_id %llu sale_id %llu seller_id %llu"
             " winner %llu hammer_minor %lld currency %s result %s reason %d seq 7 ends_at_ms 0"
             " closed_at_ms %lld format 0 >/dev/null",
             getenv("KITO_TEST_REDIS_PORT"), lot, w->sale, w->miner, winner, hammer, w->currency,
             result, strcmp(result, "unsold") == 0 ? 1 : 0, (long long)time(NULL) * 1000);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0, "XADD failed");
}

static void sold(const struct world *w, unsigned long long lot, long long hammer)
{
    xadd(w, lot, "sold", w->buyer, hammer);
}

/* Waits until the lot has left 'open' in MySQL (the worker wrote its result). */
static bool wait_final(unsigned long long lot, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (fresh_i64("SELECT COUNT(*) FROM lots WHERE id = %llu AND state <> 'open'", lot) == 1)
            return true;
        usleep(100 * 1000);
    }
    return false;
}

static long long settlement_i64(unsigned long long lot, const char *column)
{
    return fresh_i64("SELECT %s FROM settlements WHERE lot_id = %llu", column, lot);
}

/* ---- the worked example ---------------------------------------------------------------------- */

Test(settlement, worked_example_settles_with_exact_parts)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long half = lot_make(&w, "TZ", "zoisite", 312);
    unsigned long long odd = lot_make(&w, "TZ", "zoisite", 150);
    sold(&w, half, 123450); /* $1,234.50: commission and levy land on exactly .5 */
    sold(&w, odd, 123457);  /* $1,234.57: nothing divides evenly */
    cr_assert(wait_final(half, 10000) && wait_final(odd, 10000), "the lots were not settled");

    /* 123450: premium 12345, total 135795; commission 6172.5 -> 6173; royalty 7407;
     * levy 1234.5 -> 1235; net 123450 - 6173 - 7407 - 1235 = 108635 */
    cr_assert_eq(settlement_i64(half, "buyer_premium_minor"), 12345);
    cr_assert_eq(settlement_i64(half, "buyer_total_minor"), 135795);
    cr_assert_eq(settlement_i64(half, "commission_minor"), 6173);
    cr_assert_eq(settlement_i64(half, "royalty_minor"), 7407);
    cr_assert_eq(settlement_i64(half, "levy_minor"), 1235);
    cr_assert_eq(settlement_i64(half, "miner_net_minor"), 108635);
    cr_assert_eq(settlement_i64(half, "royalty_rate_bps"), 600);
    cr_assert_eq(settlement_i64(half, "levy_rate_bps"), 100);
    /* 123457: premium 12345.7 -> 12346, total 135803; commission 6172.85 -> 6173;
     * royalty 7407.42 -> 7407; levy 1234.57 -> 1235; net 108642 */
    cr_assert_eq(settlement_i64(odd, "buyer_premium_minor"), 12346);
    cr_assert_eq(settlement_i64(odd, "buyer_total_minor"), 135803);
    cr_assert_eq(settlement_i64(odd, "commission_minor"), 6173);
    cr_assert_eq(settlement_i64(odd, "royalty_minor"), 7407);
    cr_assert_eq(settlement_i64(odd, "levy_minor"), 1235);
    cr_assert_eq(settlement_i64(odd, "miner_net_minor"), 108642);

    /* the lot, the stone, the invoice (due in 3 days), the ledger, the audit trail */
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM lots WHERE id = %llu AND state = 'sold' AND"
                           " hammer_minor = 123450 AND winner_id = %llu AND closed_at IS NOT NULL",
                           half, w.buyer),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM stones st JOIN lots l ON l.stone_id = st.id"
                           " WHERE l.id = %llu AND st.status = 'sold'",
                           half),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM invoices i JOIN settlements s ON s.id ="
                           " i.settlement_id WHERE s.lot_id = %llu AND i.status = 'issued' AND"
                           " i.amount_minor = 135795 AND i.buyer_id = %llu AND"
                           " TIMESTAMPDIFF(HOUR, i.issued_at, i.due_at) = 72",
                           half, w.buyer),
                 1);
    unsigned long long tx = (unsigned long long)settlement_i64(half, "ledger_transaction_id");
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM ledger_entries WHERE transaction_id = %llu", tx),
                 5);
    cr_assert_eq(fresh_i64("SELECT amount_minor FROM ledger_entries WHERE transaction_id = %llu"
                           " AND account_code = 1 AND party_id = %llu",
                           tx, w.buyer),
                 135795);
    cr_assert_eq(fresh_i64("SELECT amount_minor FROM ledger_entries WHERE transaction_id = %llu"
                           " AND account_code = 2 AND party_id = %llu",
                           tx, w.miner),
                 -108635);
    cr_assert_eq(fresh_i64("SELECT amount_minor FROM ledger_entries WHERE transaction_id = %llu"
                           " AND account_code = 3",
                           tx),
                 -(12345 + 6173));
    cr_assert_eq(fresh_i64("SELECT SUM(amount_minor) FROM ledger_entries WHERE"
                           " transaction_id = %llu",
                           tx),
                 0);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM audit_log a JOIN settlements s ON a.entity ="
                           " 'settlement' AND a.entity_id = s.id WHERE s.lot_id = %llu AND"
                           " a.action = 'settlement.create'",
                           half),
                 1);
    /* both lots final: the sale is closed */
    cr_assert_eq(
        fresh_i64("SELECT COUNT(*) FROM sales WHERE id = %llu AND status = 'closed'", w.sale), 1);
}

/* ---- replays and unsold lots ----------------------------------------------------------------- */

Test(settlement, replayed_entry_settles_nothing_twice)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 200);
    unsigned long long unsold = lot_make(&w, "TZ", "zoisite", 90);
    sold(&w, lot, 50001);
    sold(&w, lot, 50001); /* the same close written twice (a retried batch) */
    xadd(&w, unsold, "unsold", 0, 0);
    cr_assert(wait_final(lot, 10000) && wait_final(unsold, 10000));
    usleep(1500 * 1000);  /* let the duplicate be read and acknowledged */
    sold(&w, lot, 50001); /* and once more, later */
    usleep(1500 * 1000);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot), 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'settlement'"
                           " AND reference = 'lot:%llu'",
                           lot),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM invoices i JOIN settlements s ON s.id ="
                           " i.settlement_id WHERE s.lot_id = %llu",
                           lot),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM lots WHERE id = %llu AND state = 'unsold' AND"
                           " hammer_minor IS NULL",
                           unsold),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", unsold), 0);
    /* nothing left pending for our lots */
    char out[64];
    cr_assert_eq(kito_harness_sh("redis-cli -p $KITO_TEST_REDIS_PORT XPENDING outbox:settlement"
                                 " settlement | head -1",
                                 out, sizeof(out)),
                 0);
}

/* ---- the miner's SMS (issue 18) -------------------------------------------------------------- */

/* The stone's id as the API shows it ("stn_..."), from its lot. */
static void stone_ref(unsigned long long lot, char out[KITO_ID_SIZE])
{
    long long stone = fresh_i64("SELECT stone_id FROM lots WHERE id = %llu", lot);
    kito_id_format(KITO_ID_STONE, (uint64_t)stone, out, KITO_ID_SIZE);
}

static void sms_text_of(const char *key, char *out, size_t cap)
{
    kito_harness_sql_value(out, cap, "SELECT message FROM sms_outbox WHERE dedupe_key = '%s'", key);
}

Test(settlement, sold_and_not_sold_each_send_her_one_sms_in_her_language)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 312);
    unsigned long long unsold = lot_make(&w, "TZ", "zoisite", 90);
    sold(&w, lot, 123450);
    sold(&w, lot, 123450); /* a replay */
    xadd(&w, unsold, "unsold", 0, 0);
    cr_assert(wait_final(lot, 10000) && wait_final(unsold, 10000));
    char ref[KITO_ID_SIZE], key[64], text[600], want[300];
    stone_ref(lot, ref);
    snprintf(key, sizeof(key), "sold:%llu", lot);
    sms_text_of(key, text, sizeof(text));
    /* the worked example's parts: the same figures as the settlement row */
    snprintf(want, sizeof(want),
             "Kito: stone %s SOLD. USD: hammer 1234.50, commission 61.73, royalty 74.07, levy "
             "12.35. Your net 1086.35.",
             ref);
    cr_assert_str_eq(text, want);
    stone_ref(unsold, ref);
    snprintf(key, sizeof(key), "not_sold:%llu", unsold);
    sms_text_of(key, text, sizeof(text));
    snprintf(want, sizeof(want),
             "Kito: stone %s was not sold. It stays yours; you can offer it again.", ref);
    cr_assert_str_eq(text, want);
    usleep(1500 * 1000); /* the replay read and acknowledged */
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM sms_outbox WHERE account_id = %llu", w.miner), 2,
                 "one message per lot, the replay none");

    /* in Swahili for a miner who chose it */
    struct world sw;
    world_make(&sw, "USD");
    kito_harness_sql("UPDATE accounts SET locale = 'sw' WHERE id = %llu", sw.miner);
    unsigned long long lot2 = lot_make(&sw, "TZ", "zoisite", 150);
    sold(&sw, lot2, 10000);
    cr_assert(wait_final(lot2, 10000));
    snprintf(key, sizeof(key), "sold:%llu", lot2);
    sms_text_of(key, text, sizeof(text));
    cr_assert(strstr(text, "LIMEUZWA. USD: bei 100, kamisheni 5, mrabaha 6, ushuru 1. Chako 88.") !=
                  NULL,
              "%s", text);
}

/* ---- MySQL down while lots close ------------------------------------------------------------- */

Test(settlement, mysql_outage_loses_nothing)
{
    struct world w;
    world_make(&w, "USD");
    enum { LOTS = 20 };
    unsigned long long lots[LOTS];
    for (int i = 0; i < LOTS; i++)
        lots[i] = lot_make(&w, "TZ", "zoisite", 100 + i);
    cr_assert_eq(kito_harness_service("mysql_stop"), 0);
    for (int i = 0; i < LOTS; i++)
        sold(&w, lots[i], 10000 + i * 37);
    usleep(2500 * 1000); /* the worker reads the entries, cannot write, backs off */
    cr_assert_eq(kito_harness_service("mysql_start"), 0);
    for (int i = 0; i < LOTS; i++)
        cr_assert(wait_final(lots[i], 20000), "lot %d never settled after MySQL returned", i);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE sale_id = %llu", w.sale), LOTS);
    cr_assert_eq(
        fresh_i64("SELECT COUNT(DISTINCT lot_id) FROM settlements WHERE sale_id = %llu", w.sale),
        LOTS);
}

/* ---- kill -9 inside the transaction ---------------------------------------------------------- */

Test(settlement, kill9_mid_transaction_settles_exactly_once)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 444);
    /* a kitod whose worker waits 4 s before each COMMIT: a window to kill it inside */
    kito_harness_kitod_stop(&kd, 5000);
    const char *env[] = {"KITO_SETTLEMENT_TEST_COMMIT_DELAY_MS=4000", NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200);
    sold(&w, lot, 77777);
    usleep(1500 * 1000); /* read, written, not committed */
    kill(kd.pid, SIGKILL);
    int st;
    waitpid(kd.pid, &st, 0);
    kd.pid = 0;
    usleep(500 * 1000);
    /* Nothing of the killed transaction survives. (On a test Redis shared with other kitods --
     * other suites running at the same time -- one of them may settle the entry meanwhile, since
     * every kitod is consumer "kitod" of the group; then it must be whole, never half.) */
    long long n = fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot);
    cr_assert(n == 0 || n == 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM invoices i JOIN settlements s ON s.id ="
                           " i.settlement_id WHERE s.lot_id = %llu",
                           lot),
                 n, "a half settlement survived the kill");
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference ="
                           " 'lot:%llu'",
                           lot),
                 n, "a half settlement survived the kill");
    cr_assert_eq(fresh_i64("SELECT state = 'open' FROM lots WHERE id = %llu", lot), n == 0);
    /* her SMS is written in the settlement's transaction: with it or not at all */
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM sms_outbox WHERE dedupe_key = 'sold:%llu'", lot),
                 n, "the SMS and the settlement disagree after the kill");
    kito_harness_kitod_start(&kd, NULL); /* the entry is still pending: settled now */
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200);
    cr_assert(wait_final(lot, 15000), "the pending entry was not settled after the restart");
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot), 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM sms_outbox WHERE dedupe_key = 'sold:%llu'", lot),
                 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM ledger_transactions WHERE reference ="
                           " 'lot:%llu'",
                           lot),
                 1);
}

/* ---- a lock conflict is not a reason to give up a lot ---------------------------------------- */

/* A connection as MariaDB's root over the test server's socket (for SET GLOBAL). */
static MYSQL *root_connect(void)
{
    MYSQL *db = mysql_init(NULL);
    cr_assert(db != NULL);
    cr_assert(mysql_real_connect(db, NULL, "root", NULL, NULL, 0,
                                 kito_harness_var("mysql/mysql.sock"), 0) != NULL,
              "cannot connect as root: %s", mysql_error(db));
    return db;
}

Test(settlement, lock_timeouts_leave_the_lot_pending_never_rejected)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 321);
    /* a worker whose lock waits give up after 1 s instead of 50 (a long transaction elsewhere) */
    MYSQL *root = root_connect();
    cr_assert(mysql_query(root, "SET GLOBAL innodb_lock_wait_timeout = 1") == 0);
    kito_harness_kitod_stop(&kd, 5000);
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200);
    /* another transaction holds the lot's row while the lot closes: the batch and then the
     * entry alone both time out waiting for it */
    MYSQL *holder = mysql_init(NULL);
    cr_assert(mysql_real_connect(holder, "127.0.0.1", "kito", getenv("KITO_TEST_MYSQL_PASSWORD"),
                                 "kito", (unsigned)atoi(getenv("KITO_TEST_MYSQL_PORT")), NULL,
                                 0) != NULL);
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT id FROM lots WHERE id = %llu FOR UPDATE", lot);
    cr_assert(mysql_query(holder, "BEGIN") == 0 && mysql_query(holder, sql) == 0);
    mysql_free_result(mysql_store_result(holder));
    sold(&w, lot, 123456);
    usleep(4000 * 1000);
    mysql_query(holder, "ROLLBACK");
    mysql_close(holder);
    mysql_query(root, "SET GLOBAL innodb_lock_wait_timeout = 50");
    mysql_close(root);
    /* the lock is gone: the lot settles, once, and nothing says it never can */
    cr_assert(wait_final(lot, 15000), "the lot was given up after a lock wait timeout");
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot), 1);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlement_rejects WHERE lot_id = %llu", lot), 0);
}

/* ---- a rate the operator has not set yet ----------------------------------------------------- */

static int kitoctl(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=$KITO_TEST_MYSQL_PORT KITO_MYSQL_USER=kito"
             " KITO_MYSQL_PASSWORD=$KITO_TEST_MYSQL_PASSWORD KITO_MYSQL_DB=kito"
             " $KITO_TEST_BUILD/api/kitoctl %s",
             args);
    return kito_harness_sh(cmd, out, cap);
}

Test(settlement, missing_royalty_rate_waits_for_the_operator)
{
    struct world w;
    world_make(&w, "USD");
    /* hide any rate an earlier run set for Malawian opal (and Malawi's catch-all) */
    kito_harness_sql("UPDATE royalty_rates SET effective_from = effective_from + INTERVAL 200 YEAR"
                     " WHERE country = 'MW' AND species IN ('opal', '*') AND effective_from <"
                     " UTC_TIMESTAMP(3)");
    unsigned long long lot = lot_make(&w, "MW", "opal", 120);
    sold(&w, lot, 9999);
    usleep(2000 * 1000);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot), 0,
                 "settled without a royalty rate");
    char out[256];
    cr_assert_eq(kitoctl("royalty set --country MW --species opal --rate-bps 500 --source test",
                         out, sizeof(out)),
                 0, "kitoctl royalty set failed");
    cr_assert(wait_final(lot, 15000), "the waiting lot did not settle once the rate was set");
    cr_assert_eq(settlement_i64(lot, "royalty_rate_bps"), 500);
    cr_assert_eq(settlement_i64(lot, "royalty_minor"), 500); /* 9999 x 5% = 499.95 -> 500 */
    char list[8192];
    cr_assert_eq(kitoctl("royalty list", list, sizeof(list)), 0);
    cr_assert(strstr(list, "MW\topal\trough\t500\t") != NULL, "royalty list: %s", list);
}

/* ---- payments -------------------------------------------------------------------------------- */

static unsigned long long invoice_of(unsigned long long lot)
{
    return (unsigned long long)fresh_i64(
        "SELECT i.id FROM invoices i JOIN settlements s ON s.id = i.settlement_id"
        " WHERE s.lot_id = %llu",
        lot);
}

static void inv_id(unsigned long long key, char out[32])
{
    /* kito_id_format("inv", key): Crockford base32, 13 characters */
    static const char digits[] = "0123456789abcdefghjkmnpqrstvwxyz";
    char tmp[14];
    for (int i = 12; i >= 0; i--) {
        tmp[i] = digits[key & 31];
        key >>= 5;
    }
    tmp[13] = '\0';
    snprintf(out, 32, "inv_%s", tmp);
}

Test(settlement, payments_move_the_invoice_to_paid)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 500);
    sold(&w, lot, 100000); /* total 110000 */
    cr_assert(wait_final(lot, 10000));
    char inv[32], path[96], body[256], auth[80];
    inv_id(invoice_of(lot), inv);
    snprintf(path, sizeof(path), "/v1/invoices/%s/payments", inv);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w.org_token);
    const char *hdr[] = {auth, "Content-Type: application/json", NULL};
    char ref[64];
    snprintf(ref, sizeof(ref), "WIRE-%d-%llu", (int)getpid(), lot);

    struct kito_http_resp r;
    snprintf(body, sizeof(body), "{\"amount\":60000,\"reference\":\"%s\"}", ref);
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), hdr, 0, &r), 0);
    cr_assert_eq(r.status, 201, "%s", r.body);
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "invoice"), "status")), "issued");
    kito_http_resp_free(&r);
    /* the same payment again: answered, not counted twice */
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), hdr, 0, &r), 0);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert(json_is_true(json_object_get(r.json, "replay")));
    kito_http_resp_free(&r);
    /* the reference for another amount: 409 */
    snprintf(body, sizeof(body), "{\"amount\":1,\"reference\":\"%s\"}", ref);
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), hdr, 0, &r), 0);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    /* more than is due: 422 */
    snprintf(body, sizeof(body), "{\"amount\":50001,\"reference\":\"%s-b\"}", ref);
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), hdr, 0, &r), 0);
    kito_assert_error(&r, 422, "validation_failed");
    kito_http_resp_free(&r);
    /* another organizer: 404; a buyer: 403 */
    unsigned long long other = kito_harness_account("organizer", NULL, 0);
    char other_tok[44], other_auth[80];
    kito_harness_session(other, other_tok);
    snprintf(other_auth, sizeof(other_auth), "Authorization: Bearer %s", other_tok);
    const char *ohdr[] = {other_auth, "Content-Type: application/json", NULL};
    cr_assert_eq(kito_http(&kd, "POST", path, body, strlen(body), ohdr, 0, &r), 0);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    /* the rest through kitoctl */
    char args[256], out[512];
    snprintf(args, sizeof(args), "payment record --invoice %s --amount 50000 --reference %s-k", inv,
             ref);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "kitoctl payment record: %s", out);
    cr_assert(strstr(out, "invoice paid") != NULL, "%s", out);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "a repeated kitoctl payment is not refused");
    cr_assert(strstr(out, "already recorded") != NULL, "%s", out);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM invoices WHERE id = %llu AND status = 'paid' AND"
                           " paid_minor = 110000 AND paid_at IS NOT NULL",
                           invoice_of(lot)),
                 1);
    /* the buyer's receivable is cleared: settlement debit 110000, payments credit 110000 */
    cr_assert_eq(fresh_i64("SELECT SUM(amount_minor) FROM ledger_entries WHERE account_code = 1"
                           " AND party_id = %llu",
                           w.buyer),
                 0);
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payment' AND"
                           " reference LIKE '%s%%'",
                           ref),
                 2);
}

/* ---- reconciliation -------------------------------------------------------------------------- */

Test(settlement, reconcile_finds_a_corrupted_row)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 321);
    sold(&w, lot, 31415);
    cr_assert(wait_final(lot, 10000));
    char out[16384];
    cr_assert_eq(kitoctl("reconcile", out, sizeof(out)), 0, "reconcile is not clean: %s", out);
    unsigned long long tx = (unsigned long long)settlement_i64(lot, "ledger_transaction_id");
    /* one entry off by one minor unit */
    kito_harness_sql("UPDATE ledger_entries SET amount_minor = amount_minor + 1 WHERE"
                     " transaction_id = %llu AND account_code = 3",
                     tx);
    int rc = kitoctl("reconcile", out, sizeof(out));
    kito_harness_sql("UPDATE ledger_entries SET amount_minor = amount_minor - 1 WHERE"
                     " transaction_id = %llu AND account_code = 3",
                     tx);
    cr_assert_eq(rc, 1, "reconcile missed the unbalanced transaction");
    char want[64];
    snprintf(want, sizeof(want), "ledger_unbalanced\t%llu\t", tx);
    cr_assert(strstr(out, want) != NULL, "%s", out);
    cr_assert(strstr(out, "settlement_ledger\t") != NULL, "%s", out);
    /* an invoice marked paid without payments */
    unsigned long long inv = invoice_of(lot);
    kito_harness_sql("UPDATE invoices SET status = 'paid', paid_minor = amount_minor,"
                     " paid_at = UTC_TIMESTAMP(3) WHERE id = %llu",
                     inv);
    rc = kitoctl("reconcile", out, sizeof(out));
    kito_harness_sql("UPDATE invoices SET status = 'issued', paid_minor = 0, paid_at = NULL"
                     " WHERE id = %llu",
                     inv);
    cr_assert_eq(rc, 1);
    snprintf(want, sizeof(want), "invoice_mismatch\t%llu\t", inv);
    cr_assert(strstr(out, want) != NULL, "%s", out);
    cr_assert_eq(kitoctl("reconcile", out, sizeof(out)), 0, "not clean after repair: %s", out);
}

/* ---- endpoints ------------------------------------------------------------------------------- */

static json_t *get(const char *path, const char *token, long want)
{
    char auth[80];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token != NULL ? token : "");
    const char *hdr[] = {auth, NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", path, NULL, 0, token != NULL ? hdr : NULL, 0, &r), 0);
    cr_assert_eq(r.status, want, "GET %s: %ld %s", path, r.status, r.body);
    json_t *doc = json_incref(r.json);
    kito_http_resp_free(&r);
    return doc;
}

static void sal_id(unsigned long long key, char out[32])
{
    inv_id(key, out);
    memcpy(out, "sal", 3);
}

Test(settlement, endpoints_show_settlements_invoices_sales_and_results)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long a = lot_make(&w, "TZ", "zoisite", 250);
    unsigned long long b = lot_make(&w, "TZ", "zoisite", 150);
    unsigned long long c = lot_make(&w, "TZ", "zoisite", 100);
    char sale[32], path[96];
    sal_id(w.sale, sale);
    snprintf(path, sizeof(path), "/v1/sales/%s/results", sale);
    json_decref(get(path, NULL, 404)); /* nothing closed yet */
    sold(&w, a, 100000);
    sold(&w, b, 50000);
    xadd(&w, c, "unsold", 0, 0);
    cr_assert(wait_final(a, 10000) && wait_final(b, 10000) && wait_final(c, 10000));

    json_t *res = get(path, NULL, 200);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(res, "revenue"), "amount")),
                 150000);
    cr_assert_eq(json_integer_value(json_object_get(res, "lots_offered")), 3);
    cr_assert_eq(json_integer_value(json_object_get(res, "lots_sold")), 2);
    cr_assert_eq(json_integer_value(json_object_get(res, "sold_by_count_bps")), 6666);
    cr_assert_eq(json_integer_value(json_object_get(res, "sold_by_weight_bps")), 8000);
    /* 150000 minor over 4.00 ct = 37500 per carat */
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(res, "average_per_carat"), "amount")),
        37500);
    cr_assert_eq(json_integer_value(json_object_get(res, "bidders")), 1);
    /* net 100000: 100000 - 5000 - 6000 - 1000 = 88000; 50000: 44000 */
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(res, "paid_to_miners"), "amount")),
        132000);
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(res, "royalty_withheld"), "amount")),
        9000);
    json_decref(res);

    snprintf(path, sizeof(path), "/v1/sales/%s/settlements?limit=1", sale);
    json_t *page = get(path, w.org_token, 200);
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 1);
    const char *next = json_string_value(json_object_get(page, "next_cursor"));
    cr_assert(next != NULL);
    char path2[160];
    snprintf(path2, sizeof(path2), "/v1/sales/%s/settlements?limit=1&cursor=%s", sale, next);
    json_decref(page);
    page = get(path2, w.org_token, 200);
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 1);
    cr_assert(json_is_null(json_object_get(page, "next_cursor")));
    json_decref(page);
    json_decref(get(path, w.buyer_token, 403));
    unsigned long long other = kito_harness_account("organizer", NULL, 0);
    char other_tok[44];
    kito_harness_session(other, other_tok);
    json_decref(get(path, other_tok, 404));

    page = get("/v1/me/invoices?limit=100", w.buyer_token, 200);
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 2);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_array_get(json_object_get(page, "items"), 0), "amount"),
                     "amount")),
                 110000);
    json_decref(page);

    page = get("/v1/me/sales", w.miner_token, 200);
    json_t *items = json_object_get(page, "items");
    cr_assert_eq(json_array_size(items), 2);
    json_t *first = json_array_get(items, 0);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(first, "miner_net"), "amount")),
                 88000);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(first, "royalty"), "amount")),
                 6000);
    cr_assert_null(json_object_get(first, "buyer_id"), "the miner sees who bought");
    json_decref(page);
    json_decref(get("/v1/me/sales", w.buyer_token, 403));
}

/* Issue 16: a result outlives the process that saw it. These lots were never in this kitod's
 * order books (made by SQL, closed through the outbox), exactly like lots that closed before a
 * restart: the lot shows its recorded hammer as its price, its winner (and only she) is told she
 * won it, and her wins list it, page by page. */
Test(settlement, a_recorded_result_is_shown_though_the_books_no_longer_hold_the_lot)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long lots[3];
    for (int i = 0; i < 3; i++) {
        lots[i] = lot_make(&w, "TZ", "zoisite", 200 + i);
        sold(&w, lots[i], 100000 + i * 1000);
    }
    for (int i = 0; i < 3; i++)
        cr_assert(wait_final(lots[i], 10000));

    char id[32], path[96], other_token[44];
    kito_harness_session(kito_harness_account("buyer", NULL, 0), other_token);
    cr_assert_eq(kito_id_format(KITO_ID_LOT, lots[0], id, sizeof(id)), KITO_OK);
    snprintf(path, sizeof(path), "/v1/lots/%s", id);
    const char *tokens[] = {w.buyer_token, other_token, NULL};
    for (int k = 0; k < 3; k++) {
        json_t *lot = get(path, tokens[k], 200);
        cr_assert_str_eq(json_string_value(json_object_get(lot, "state")), "sold");
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(lot, "price"), "amount")),
                     100000, "the price is the recorded hammer (viewer %d)", k);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(lot, "hammer"), "amount")),
                     100000);
        cr_assert_eq(json_is_true(json_object_get(lot, "leader_is_you")), k == 0,
                     "only the winner is told she won (viewer %d)", k);
        json_decref(lot);
    }

    /* her wins, two a page: all three, in lot id order, from the record */
    json_t *page = get("/v1/me/wins?limit=2", w.buyer_token, 200);
    json_t *items = json_object_get(page, "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "lot_id")), id);
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(json_array_get(items, 1), "hammer"), "amount")),
                 101000);
    cr_assert(json_is_null(json_object_get(json_array_get(items, 0), "lot")));
    const char *next = json_string_value(json_object_get(page, "next_cursor"));
    cr_assert_not_null(next, "a second page");
    snprintf(path, sizeof(path), "/v1/me/wins?limit=2&cursor=%s", next);
    json_decref(page);
    page = get(path, w.buyer_token, 200);
    items = json_object_get(page, "items");
    cr_assert_eq(json_array_size(items), 1);
    cr_assert(json_is_null(json_object_get(page, "next_cursor")));
    json_decref(page);
    page = get("/v1/me/wins", other_token, 200);
    cr_assert_eq(json_array_size(json_object_get(page, "items")), 0, "nobody else's wins");
    json_decref(page);
}

/* ---- one settlement worker across the nodes (issue 20) --------------------------------------- */

static MYSQL *other_node(void)
{
    MYSQL *db = mysql_init(NULL);
    cr_assert(mysql_real_connect(db, "127.0.0.1", "kito", getenv("KITO_TEST_MYSQL_PASSWORD"),
                                 "kito", (unsigned)atoi(getenv("KITO_TEST_MYSQL_PORT")), NULL,
                                 0) != NULL,
              "cannot connect: %s", mysql_error(db));
    return db;
}

static long long take_lease(MYSQL *db)
{
    cr_assert_eq(mysql_query(db, "SELECT GET_LOCK('" KITO_LEASE_SETTLEMENT "', 0)"), 0, "%s",
                 mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = mysql_fetch_row(res);
    long long v = row && row[0] ? atoll(row[0]) : -1;
    mysql_free_result(res);
    return v;
}

Test(settlement, only_the_node_holding_the_lease_settles)
{
    /* kitod's worker holds the lease: another node cannot take it */
    MYSQL *other = other_node();
    for (int i = 0; i < 50 && fresh_i64("SELECT IS_USED_LOCK('" KITO_LEASE_SETTLEMENT "') IS NULL");
         i++)
        usleep(100 * 1000);
    cr_assert_eq(take_lease(other), 0, "the settlement lease is held by kitod's worker");

    /* kitod stops: its connection goes, and the lease with it; the other node takes it */
    kito_harness_kitod_stop(&kd, 5000);
    long long took = 0;
    for (int i = 0; i < 50 && (took = take_lease(other)) != 1; i++)
        usleep(100 * 1000);
    cr_assert_eq(took, 1, "the lease is free once its holder's connection ended");
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200);

    /* kitod stands by: a sold lot waits for the node holding the lease */
    struct world w;
    world_make(&w, "USD");
    unsigned long long lot = lot_make(&w, "TZ", "zoisite", 200);
    sold(&w, lot, 50001);
    cr_assert_not(wait_final(lot, 3000), "a worker without the lease settled a lot");

    /* the other node dies: kitod's worker takes the lease over and settles it, once */
    mysql_close(other);
    cr_assert(wait_final(lot, 15000), "kitod's worker did not take the lease over");
    cr_assert_eq(fresh_i64("SELECT COUNT(*) FROM settlements WHERE lot_id = %llu", lot), 1);
}

/* GET with a bearer token; the whole response (the caller frees it). */
static struct kito_http_resp get_raw(const char *path, const char *token)
{
    char auth[80];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *hdr[] = {auth, NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", path, NULL, 0, hdr, 0, &r), 0);
    return r;
}

/* Issue 17: the results as CSV, a row per lot with its settlement, for the organiser only. */
Test(settlement, results_csv_has_a_row_per_lot_with_its_settlement)
{
    struct world w;
    world_make(&w, "USD");
    unsigned long long a = lot_make(&w, "TZ", "zoisite", 250);
    unsigned long long b = lot_make(&w, "TZ", "zoisite", 150);
    kito_harness_sql(
        "UPDATE stones SET variety = '=cmd|'' /C calc''!A0' WHERE id = (SELECT stone_id"
        " FROM lots WHERE id = %llu)",
        b);
    sold(&w, a, 100000);
    xadd(&w, b, "unsold", 0, 0);
    cr_assert(wait_final(a, 10000) && wait_final(b, 10000));
    char sale[32], path[96];
    sal_id(w.sale, sale);
    snprintf(path, sizeof(path), "/v1/sales/%s/results.csv", sale);

    struct kito_http_resp r = get_raw(path, w.org_token);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    char value[128];
    cr_assert(kito_http_header(&r, "content-type", value, sizeof(value)));
    cr_assert_str_eq(value, "text/csv; charset=utf-8; header=present");
    cr_assert(kito_http_header(&r, "content-disposition", value, sizeof(value)));
    char want_name[96];
    snprintf(want_name, sizeof(want_name), "attachment; filename=\"results-%s.csv\"", sale);
    cr_assert_str_eq(value, want_name);
    cr_assert(kito_http_header(&r, "cache-control", value, sizeof(value)));
    cr_assert_str_eq(value, "no-store");
    char lot_a[32], lot_b[32], buyer[32], invoice[32];
    inv_id(a, lot_a);
    memcpy(lot_a, "lot", 3);
    inv_id(b, lot_b);
    memcpy(lot_b, "lot", 3);
    inv_id(w.buyer, buyer);
    memcpy(buyer, "acc", 3);
    cr_assert_eq(kito_harness_sql_value(invoice, sizeof(invoice),
                                        "SELECT i.number FROM invoices i JOIN settlements s ON"
                                        " s.id = i.settlement_id WHERE s.lot_id = %llu",
                                        a),
                 1);
    char want[1024];
    /* hammer 1000.00; premium 10%, commission 5%, royalty 6%, levy 1% (the worked example);
     * lot numbers come from lot_make's counter: read, not guessed */
    char na[16], nb[16];
    kito_harness_sql_value(na, sizeof(na), "SELECT lot_number FROM lots WHERE id = %llu", a);
    kito_harness_sql_value(nb, sizeof(nb), "SELECT lot_number FROM lots WHERE id = %llu", b);
    snprintf(want, sizeof(want),
             "lot_number,lot_id,state,species,variety,weight_ct,currency,hammer,buyer_premium,"
             "buyer_total,commission,royalty,levy,miner_net,buyer_id,invoice_number,"
             "invoice_status\r\n"
             "%s,%s,sold,zoisite,,2.50,USD,1000.00,100.00,1100.00,50.00,60.00,10.00,880.00,%s,%s,"
             "issued\r\n"
             "%s,%s,unsold,zoisite,\"'=cmd|' /C calc'!A0\",1.50,USD,,,,,,,,,,\r\n",
             na, lot_a, buyer, invoice, nb, lot_b);
    cr_assert_str_eq(r.body, want);
    kito_http_resp_free(&r);

    r = get_raw(path, w.buyer_token);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    unsigned long long other = kito_harness_account("organizer", NULL, 0);
    char other_tok[44];
    kito_harness_session(other, other_tok);
    r = get_raw(path, other_tok);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}
