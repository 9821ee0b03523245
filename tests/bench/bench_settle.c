/*
 * Settlement benchmark (issue 7). Starts its own Redis (port 6398, strict profile) and MariaDB
 * (port 3398, ops/mariadb/kito.cnf: innodb_flush_log_at_trx_commit = 1), data under
 * $KITO_BENCH_VAR/settle-*, applies the migrations, and stops both at the end.
 *
 *   settle_1000_lots_seconds   a 1,000-lot sale: its 1,000 outbox entries (every lot sold) are
 *                              in the stream, then the settlement worker starts; the time until
 *                              every lot is settled and acknowledged. Goal (issue 7): < 1 s.
 *   settle_lots_per_sec        the same for a 10,000-lot sale, end to end: outbox entries ->
 *                              settlements, invoices, ledger transactions and audit rows
 *                              committed in MySQL and the entries XACKed.
 *
 * Afterwards it checks what it measured: every lot settled exactly once, every ledger transaction
 * sums to zero, nothing pending in the group.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "api/store/db.h"
#include "api/money/settlement.h"
#include "tests/bench/bench.h"

#define BENCH_REDIS_PORT 6398
#define BENCH_MYSQL_PORT 3398

static const char *root, *var;
static char redis_dir[1024], mysql_dir[1024], secrets[1100], password[128];
static char redis_password[128], redis_admin_password[128]; /* ops/lib.sh's ACL users */

static void die(const char *what)
{
    bench_die("bench_settle", what);
}

static int shf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int shf(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Runs SQL through the mariadb client as root on the bench socket; the first value of the
 * output, if any, into out. */
static long long sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql(const char *fmt, ...)
{
    char q[8192], path[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q, sizeof(q), fmt, ap);
    va_end(ap);
    snprintf(path, sizeof(path), "%s/bench.sql", mysql_dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        die("cannot write the SQL file");
    fputs(q, f);
    fclose(f);
    char cmd[3000];
    snprintf(cmd, sizeof(cmd), "mariadb --socket=%s/mysql.sock -uroot -N -B kito < %s", mysql_dir,
             path);
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        die("cannot run mariadb");
    char line[256] = "";
    long long v = -1;
    if (fgets(line, sizeof(line), p) != NULL)
        v = atoll(line);
    while (fgets(line, sizeof(line), p) != NULL) {
    }
    if (pclose(p) != 0)
        die("a SQL statement failed");
    return v;
}

static void services_up(void)
{
    snprintf(redis_dir, sizeof(redis_dir), "%s/settle-redis", var);
    snprintf(mysql_dir, sizeof(mysql_dir), "%s/settle-mysql", var);
    snprintf(secrets, sizeof(secrets), "%s/secrets.env", mysql_dir);
    shf("bash -c '. %s/ops/lib.sh; redis_stop %s %d %s; mysql_stop %s' >/dev/null 2>&1", root,
        redis_dir, BENCH_REDIS_PORT, secrets, mysql_dir);
    if (shf("rm -rf '%s' '%s' && mkdir -p '%s'", redis_dir, mysql_dir, mysql_dir) != 0)
        die("cannot clear the bench folders");
    if (shf("bash -c '. %s/ops/lib.sh; redis_start %s %d strict %s && mysql_start %s %d &&"
            " mysql_bootstrap %s kito %s' >/dev/null",
            root, redis_dir, BENCH_REDIS_PORT, secrets, mysql_dir, BENCH_MYSQL_PORT, mysql_dir,
            secrets) != 0)
        die("cannot start Redis and MariaDB");
    if (shf("%s/ops/migrate.sh --socket=%s/mysql.sock -uroot kito 2>/dev/null", root, mysql_dir) !=
        0)
        die("the migrations failed");
    FILE *f = fopen(secrets, "r");
    char line[256];
    if (f == NULL)
        die("cannot read the bench secrets");
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        if (strcmp(line, "KITO_MYSQL_PASSWORD") == 0)
            snprintf(password, sizeof(password), "%s", eq + 1);
        else if (strcmp(line, "KITO_REDIS_PASSWORD") == 0)
            snprintf(redis_password, sizeof(redis_password), "%s", eq + 1);
        else if (strcmp(line, "KITO_REDIS_ADMIN_PASSWORD") == 0)
            snprintf(redis_admin_password, sizeof(redis_admin_password), "%s", eq + 1);
    }
    fclose(f);
    if (password[0] == '\0' || redis_password[0] == '\0' || redis_admin_password[0] == '\0')
        die("the bench secrets are incomplete");
}

static void services_down(void)
{
    shf("bash -c '. %s/ops/lib.sh; redis_stop %s %d %s; mysql_stop %s' >/dev/null 2>&1", root,
        redis_dir, BENCH_REDIS_PORT, secrets, mysql_dir);
}

/* A sale of n lots (stones TZ zoisite of one miner with a 1% association levy), in one go with
 * MariaDB's sequence engine. Returns the sale id; *first_lot the first of n consecutive lot ids. */
static long long sale_make(int n, long long *first_lot)
{
    long long sale = sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " buyer_premium_bps, commission_bps, ladder_json, status) VALUES ((SELECT id FROM accounts"
        " WHERE role = 'organizer' LIMIT 1), 'Bench sale of %d lots', 'timed', 'USD',"
        " UTC_TIMESTAMP(3) - INTERVAL 2 DAY, UTC_TIMESTAMP(3) - INTERVAL 1 DAY, 1000, 500,"
        " '[{\"from_minor\":0,\"step_minor\":100}]', 'open'); SELECT LAST_INSERT_ID();",
        n);
    long long stone0 =
        sql("INSERT INTO stones (seller_id, listed_by, species, weight_cct,"
            " origin_country, status) SELECT m.id, m.id, 'zoisite', 100 + s.seq %% 900,"
            " 'TZ', 'listed' FROM seq_1_to_%d s, (SELECT id FROM accounts WHERE"
            " role = 'miner' LIMIT 1) m ORDER BY s.seq; SELECT LAST_INSERT_ID();",
            n);
    *first_lot = sql("INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor,"
                     " state) SELECT %lld, %lld + s.seq - 1, s.seq, s.seq - 1, 100, 'open' FROM"
                     " seq_1_to_%d s ORDER BY s.seq; SELECT LAST_INSERT_ID();",
                     sale, stone0, n);
    return sale;
}

/* XADDs n sold entries for lots first..first+n-1, pipelined. */
static void outbox_fill(redisContext *r, long long sale, long long first, int n)
{
    long long miner = sql("SELECT id FROM accounts WHERE role = 'miner' LIMIT 1");
    long long buyer = sql("SELECT id FROM accounts WHERE role = 'buyer' LIMIT 1");
    long long t = (long long)time(NULL) * 1000;
    for (int i = 0; i < n; i++)
        redisAppendCommand(r,
                           "XADD outbox:settlement * lot_id %lld sale_id %lld seller_id %lld"
                           " winner %lld hammer_minor %lld currency USD result sold reason 0"
                           " seq 9 ends_at_ms %lld closed_at_ms %lld format 0",
                           first + i, sale, miner, buyer, 100000LL + i * 37, t, t);
    for (int i = 0; i < n; i++) {
        redisReply *rep;
        if (redisGetReply(r, (void **)&rep) != REDIS_OK || rep->type == REDIS_REPLY_ERROR)
            die("XADD failed");
        freeReplyObject(rep);
    }
}

/* Starts a worker, waits until `total` entries are handled, stops it; the seconds it took. */
static double settle(uint64_t total)
{
    struct kito_settlement_params p;
    kito_settlement_params_default(&p);
    p.redis_port = BENCH_REDIS_PORT;
    p.redis_user = "kito";
    p.redis_password = redis_password;
    p.db = (kito_db_params){"127.0.0.1", BENCH_MYSQL_PORT, "kito", password, "kito"};
    p.consumer = "bench";
    kito_settlement *w;
    double t0 = bench_now_s();
    if (kito_settlement_start(&p, &w) != KITO_OK)
        die("the worker did not start");
    struct kito_settlement_stats st;
    for (;;) {
        kito_settlement_stats(w, &st);
        if (st.entries >= total)
            break;
        if (bench_now_s() - t0 > 600)
            die("settling took more than 10 minutes");
        usleep(1000);
    }
    double dt = bench_now_s() - t0;
    kito_settlement_stop(w);
    if (st.settled != total || st.rejected != 0)
        die("not every entry was settled");
    return dt;
}

int main(void)
{
    root = getenv("KITO_BENCH_ROOT") != NULL ? getenv("KITO_BENCH_ROOT") : ".";
    var = getenv("KITO_BENCH_VAR") != NULL ? getenv("KITO_BENCH_VAR") : "var/bench";
    if (kito_db_library_init() != KITO_OK)
        die("the MySQL client library did not start");
    services_up();
    sql("INSERT INTO accounts (role, name, email, secret_kind, secret_hash) VALUES"
        " ('organizer', 'Bench Organizer', 'org@bench.test', 'password', 'scrypt$x'),"
        " ('buyer', 'Bench Buyer', 'buyer@bench.test', 'password', 'scrypt$x');"
        "INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country) VALUES"
        " ('miner', 'Bench Miner', '+255700000009', 'pin', 'scrypt$x', 'TZ');"
        "INSERT INTO associations (name, country, levy_bps) VALUES ('Bench Association', 'TZ', "
        "100);"
        "INSERT INTO miner_profiles (account_id, association_id, country, payout_msisdn,"
        " payout_rail) SELECT a.id, s.id, 'TZ', '+255700000009', 'mpesa' FROM accounts a,"
        " associations s WHERE a.role = 'miner';"
        "INSERT INTO royalty_rates (country, species, form, rate_bps, effective_from) VALUES"
        " ('TZ', 'zoisite', 'rough', 600, '2020-01-01');");
    redisContext *r = redisConnect("127.0.0.1", BENCH_REDIS_PORT);
    if (r == NULL || r->err)
        die("cannot connect to the bench Redis");
    redisReply *auth = redisCommand(r, "AUTH %s", redis_admin_password);
    if (auth == NULL || auth->type == REDIS_REPLY_ERROR)
        die("the bench Redis refused the admin password");
    freeReplyObject(auth);

    long long first;
    long long small = sale_make(1000, &first);
    outbox_fill(r, small, first, 1000);
    double t_small = settle(1000);
    fprintf(stderr, "bench_settle: a 1,000-lot sale settled in %.3f s\n", t_small);

    long long big = sale_make(10000, &first);
    outbox_fill(r, big, first, 10000);
    double t_big = settle(10000);
    fprintf(stderr, "bench_settle: a 10,000-lot sale settled in %.3f s\n", t_big);

    /* check what was measured */
    if (sql("SELECT COUNT(*) FROM settlements") != 11000 ||
        sql("SELECT COUNT(DISTINCT lot_id) FROM settlements") != 11000 ||
        sql("SELECT COUNT(*) FROM invoices") != 11000)
        die("the settlements are not one per lot");
    if (sql("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY"
            " transaction_id, currency HAVING SUM(amount_minor) <> 0) x") != 0)
        die("a ledger transaction does not sum to zero");
    if (sql("SELECT COUNT(*) FROM sales WHERE status = 'closed'") != 2)
        die("the sales were not closed");
    redisReply *rep = redisCommand(r, "XPENDING outbox:settlement settlement");
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->element[0]->integer != 0)
        die("entries are left pending");
    freeReplyObject(rep);
    redisFree(r);
    services_down();
    kito_db_library_end();
    printf("BENCH settle_1000_lots_seconds %.3f\n", t_small);
    printf("BENCH settle_lots_per_sec %.0f\n", 10000.0 / t_big);
    return 0;
}
