/*
 * Payout benchmark (issue 19: "BENCH payouts_per_sec from invoice paid to payout succeeded
 * against the simulators, with the simulators' own latency set to 50 ms"). Starts its own Redis
 * (port 6388) and MariaDB (port 3388, ops/mariadb/kito.cnf) with data under
 * $KITO_BENCH_VAR/payouts-*, and an MTN MoMo simulator (sims/rails_sim --rail momo, port 9561)
 * that answers every call after --latency-ms 50 and settles transfers at once. A sale of n lots
 * is settled by the real settlement worker (its invoices left unpaid), the payout worker is
 * started against the simulator, and the clock starts when every invoice is marked paid; it
 * stops when every payout has succeeded (created, converted USD -> ZMW, sent, asked about after
 * KITO_PAYOUT_CHECK_AFTER_MS, recorded with its ledger transaction).
 *
 *   payouts_per_sec                 2,000 payouts, KITO_PAYOUT_SENDERS at its default
 *   payouts_per_sec_one_at_a_time   the baseline, same run: 100 payouts, KITO_PAYOUT_SENDERS=1
 *                                   (what the worker did before issue 19)
 *
 * Afterwards it checks what it measured: every payout succeeded with exactly one attempt, the
 * simulator received exactly one transfer per payout, every ledger transaction sums to zero.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "api/common/config.h"
#include "api/money/payout_worker.h"
#include "api/money/settlement.h"
#include "api/store/db.h"

#define BENCH_REDIS_PORT 6388
#define BENCH_MYSQL_PORT 3388
#define BENCH_SIM_PORT 9561
#define BENCH_SIM_LATENCY "50"

static const char *root, *var;
static pid_t sim_pid; /* the simulator, stopped on the way out whatever happens */
static char redis_dir[1024], mysql_dir[1024], secrets[1100], password[128];
static char redis_password[128], redis_admin_password[128]; /* ops/lib.sh's ACL users */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    if (sim_pid > 0)
        kill(sim_pid, SIGTERM);
    fprintf(stderr, "bench_payouts: %s\n", what);
    exit(1);
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
    snprintf(redis_dir, sizeof(redis_dir), "%s/payouts-redis", var);
    snprintf(mysql_dir, sizeof(mysql_dir), "%s/payouts-mysql", var);
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
    double t0 = now_s();
    if (kito_settlement_start(&p, &w) != KITO_OK)
        die("the worker did not start");
    struct kito_settlement_stats st;
    for (;;) {
        kito_settlement_stats(w, &st);
        if (st.entries >= total)
            break;
        if (now_s() - t0 > 600)
            die("settling took more than 10 minutes");
        usleep(1000);
    }
    double dt = now_s() - t0;
    kito_settlement_stop(w);
    if (st.settled != total || st.rejected != 0)
        die("not every entry was settled");
    return dt;
}

static void sim_start(void)
{
    char bin[1200], port[16], logf[1200];
    snprintf(bin, sizeof(bin), "%s/sims/rails_sim",
             getenv("KITO_BENCH_BUILD") != NULL ? getenv("KITO_BENCH_BUILD") : "build/release");
    snprintf(port, sizeof(port), "%d", BENCH_SIM_PORT);
    snprintf(logf, sizeof(logf), "%s/payouts-rails_sim.log", var);
    sim_pid = fork();
    if (sim_pid < 0)
        die("cannot fork");
    if (sim_pid == 0) {
        if (freopen(logf, "w", stderr) != NULL)
            dup2(fileno(stderr), 1);
        char *argv[] = {bin,          "--rail", "momo",         "--port",          port,
                        "--delay-ms", "0",      "--latency-ms", BENCH_SIM_LATENCY, NULL};
        execv(bin, argv);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        if (shf("curl -sf http://127.0.0.1:%d/healthz >/dev/null 2>&1", BENCH_SIM_PORT) == 0)
            return;
        usleep(50000);
    }
    die("rails_sim did not start");
}

static void sim_stop(void)
{
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        waitpid(sim_pid, NULL, 0);
        sim_pid = 0;
    }
}

/* The payout worker's settings, as kitod would read them from its environment. */
static const char *bench_env(const char *name, void *ud)
{
    static char base[64], mysql_port[16];
    const char *senders = ud;
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", BENCH_SIM_PORT);
    snprintf(mysql_port, sizeof(mysql_port), "%d", BENCH_MYSQL_PORT);
    static const char *const fixed[][2] = {
        {"KITO_MOMO_API_USER", "7f2c5a8e-1b3d-4c6e-9f0a-2b4d6e8f0a1c"},
        {"KITO_MOMO_API_KEY", "bench-momo-api-key"},
        {"KITO_MOMO_SUBSCRIPTION_KEY", "bench-momo-subscription-key"},
        {"KITO_MOMO_TARGET_ENVIRONMENT", "sandbox"},
        {"KITO_MPESA_TIMEOUT_MS", "900"},
        {"KITO_TLS_CERT", "unused-by-the-payout-worker.pem"},
        {"KITO_TLS_KEY", "unused-by-the-payout-worker.pem"},
        {"KITO_PAYOUT_INTERVAL_MS", "100"},
        {"KITO_PAYOUT_CHECK_AFTER_MS", "1000"},
    };
    if (strcmp(name, "KITO_MOMO_BASE_URL") == 0)
        return base;
    if (strcmp(name, "KITO_PAYOUT_SENDERS") == 0)
        return senders;
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(name, fixed[i][0]) == 0)
            return fixed[i][1];
    return NULL;
}

/* Settles an n-lot sale, then pays its miners: the seconds from "invoices paid" to "every
 * payout succeeded". senders NULL: the default. */
static double pay(redisContext *r, int n, const char *senders)
{
    long long first;
    long long sale = sale_make(n, &first);
    outbox_fill(r, sale, first, n);
    settle((uint64_t)n);
    kito_config cfg;
    char err[256];
    if (kito_config_load(&cfg, bench_env, (void *)senders, err, sizeof(err)) != KITO_OK) {
        fprintf(stderr, "bench_payouts: %s\n", err);
        die("the settings were refused");
    }
    kito_db_params db = {"127.0.0.1", BENCH_MYSQL_PORT, "kito", password, "kito"};
    kito_payouts *w;
    if (kito_payouts_start(&cfg, &db, &w) != KITO_OK)
        die("the payout worker did not start");
    double t0 = now_s();
    sql("UPDATE invoices SET status = 'paid', paid_minor = amount_minor,"
        " paid_at = UTC_TIMESTAMP(3) WHERE sale_id = %lld",
        sale);
    for (;;) {
        long long done = sql("SELECT COUNT(*) FROM payouts p JOIN settlements s ON"
                             " s.id = p.settlement_id WHERE s.sale_id = %lld"
                             " AND p.state = 'succeeded'",
                             sale);
        if (done == n)
            break;
        if (now_s() - t0 > 600)
            die("paying took more than 10 minutes");
        usleep(20000);
    }
    double dt = now_s() - t0;
    kito_payouts_stop(w);
    if (sql("SELECT COUNT(*) FROM payout_attempts a JOIN payouts p ON p.id = a.payout_id"
            " JOIN settlements s ON s.id = p.settlement_id WHERE s.sale_id = %lld",
            sale) != n)
        die("a payout needed more than one attempt");
    return dt;
}

int main(void)
{
    root = getenv("KITO_BENCH_ROOT") != NULL ? getenv("KITO_BENCH_ROOT") : ".";
    var = getenv("KITO_BENCH_VAR") != NULL ? getenv("KITO_BENCH_VAR") : "var/bench";
    signal(SIGPIPE, SIG_IGN);
    if (kito_db_library_init() != KITO_OK)
        die("the MySQL client library did not start");
    services_up();
    sql("INSERT INTO accounts (role, name, email, secret_kind, secret_hash) VALUES"
        " ('organizer', 'Bench Organizer', 'org@bench.test', 'password', 'scrypt$x'),"
        " ('buyer', 'Bench Buyer', 'buyer@bench.test', 'password', 'scrypt$x');"
        "INSERT INTO accounts (role, name, phone, secret_kind, secret_hash, country) VALUES"
        " ('miner', 'Bench Miner', '+260971000010', 'pin', 'scrypt$x', 'ZM');"
        "INSERT INTO associations (name, country, levy_bps) VALUES ('Bench Association', 'TZ', "
        "100);"
        "INSERT INTO miner_profiles (account_id, association_id, country, payout_msisdn,"
        " payout_rail) SELECT a.id, s.id, 'ZM', '+260971000010', 'mtn_momo' FROM accounts a,"
        " associations s WHERE a.role = 'miner';"
        "INSERT INTO royalty_rates (country, species, form, rate_bps, effective_from) VALUES"
        " ('TZ', 'zoisite', 'rough', 600, '2020-01-01');"
        "INSERT INTO exchange_rates (from_currency, to_currency, rate_micros, effective_from)"
        " VALUES ('USD', 'ZMW', 26500000, UTC_TIMESTAMP(3) - INTERVAL 1 MINUTE);");
    redisContext *r = redisConnect("127.0.0.1", BENCH_REDIS_PORT);
    if (r == NULL || r->err)
        die("cannot connect to the bench Redis");
    redisReply *auth = redisCommand(r, "AUTH %s", redis_admin_password);
    if (auth == NULL || auth->type == REDIS_REPLY_ERROR)
        die("the bench Redis refused the admin password");
    freeReplyObject(auth);
    sim_start();

    enum { BASELINE_N = 100, N = 2000 };
    double t_one = pay(r, BASELINE_N, "1");
    fprintf(stderr, "bench_payouts: %d payouts one at a time in %.3f s\n", BASELINE_N, t_one);
    double t_many = pay(r, N, NULL);
    fprintf(stderr, "bench_payouts: %d payouts with the default senders in %.3f s\n", N, t_many);

    /* check what was measured */
    if (sql("SELECT COUNT(*) FROM payouts WHERE state = 'succeeded'") != BASELINE_N + N ||
        sql("SELECT COUNT(*) FROM payout_attempts WHERE state = 'succeeded'") != BASELINE_N + N ||
        sql("SELECT COUNT(*) FROM ledger_transactions WHERE kind = 'payout'") != BASELINE_N + N)
        die("not every payout succeeded exactly once");
    if (sql("SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY"
            " transaction_id, currency HAVING SUM(amount_minor) <> 0) x") != 0)
        die("a ledger transaction does not sum to zero");
    char cmd[256];
    snprintf(cmd, sizeof(cmd),
             "curl -sf http://127.0.0.1:%d/kito-sim/payments | jq '.payments | length'",
             BENCH_SIM_PORT);
    FILE *p = popen(cmd, "r");
    char line[64] = "";
    if (p == NULL || fgets(line, sizeof(line), p) == NULL || atoi(line) != BASELINE_N + N)
        die("the simulator did not receive exactly one transfer per payout");
    pclose(p);
    sim_stop();
    redisFree(r);
    services_down();
    kito_db_library_end();
    printf("BENCH payouts_per_sec %.0f\n", N / t_many);
    printf("BENCH payouts_per_sec_one_at_a_time %.1f\n", BASELINE_N / t_one);
    return 0;
}
