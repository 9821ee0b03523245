/* The backup drill (issue 15, "Backups and restore, drilled"; ops/BACKUP.md): `ops/kito backup`
 * of the test stores while bids are taken and lots settle, `ops/kito restore` onto fresh folders
 * on other ports, then the checksums of every money table and of the books (the lots' journals
 * and the settlement outbox) of the restored copy against the source as it was at the backup:
 * each table up to the restored copy's highest id, each stream up to its restored length (the
 * source goes on meanwhile; `ops/kito checksums --upto`). The money tables here have one writer
 * each during the backup (the settlement worker, the payout worker), so rows are committed in id
 * order and the copy must be an exact prefix. Everything acknowledged before the backup began
 * must be in it, and kitod must start on it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

static struct kito_kitod kd;
static char backup_dir[400], restore_var[400], restore_env[700];

static void up(void)
{
    static const char *const env[] = {"KITO_BID_BUYER_RATE=1000", "KITO_BID_BUYER_BURST=1000",
                                      "KITO_BID_ADDR_RATE=1000", "KITO_BID_ADDR_BURST=1000", NULL};
    snprintf(backup_dir, sizeof(backup_dir), "%s", kito_harness_var("backups/drill"));
    snprintf(restore_var, sizeof(restore_var), "%s", kito_harness_var("restore"));
    kito_harness_sh("rm -rf \"$KITO_TEST_VAR\"/backups/drill* \"$KITO_TEST_VAR/restore\"", NULL, 0);
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200, "kitod never became healthy");
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    if (restore_env[0] != '\0') {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "%s \"$KITO_TEST_ROOT/ops/kito\" stop >/dev/null 2>&1",
                 restore_env);
        kito_harness_sh(cmd, NULL, 0);
    }
    kito_harness_sh("rm -rf \"$KITO_TEST_VAR\"/backups/drill* \"$KITO_TEST_VAR/restore\"", NULL, 0);
}

TestSuite(backup, .init = up, .fini = down, .timeout = 240);

static long long now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- the market: a timed sale taking bids, and lots settling ----------------------------------
 */

struct market {
    kito_who org, buyer[2];
    char sale[KITO_ID_SIZE], lot[2][KITO_ID_SIZE];
    unsigned long long lot_key[2];
    long long amount[2]; /* the next bid on each lot */
    int bids;            /* acknowledged (201) */
    /* settlements: lots made by SQL in a TZS sale (no exchange rate needed for the payout) */
    unsigned long long miner, settle_sale, settle_lots[40];
    int settle_made, settle_sent;
};

static void sale_open(struct market *m)
{
    char a[KITO_TIME_SIZE], b[KITO_TIME_SIZE], path[160];
    m->org = kito_harness_person("organizer");
    /* starts 4 s ahead: lots, approvals and the publish must fit before it under a loaded CI
     * machine (at 1 s the publish once came too late: 409 "must be in the future") */
    struct kito_http_resp r = kito_harness_callf(
        &kd, &m->org, NULL, "POST", "/v1/sales",
        "{\"title\":\"Backup drill\",\"format\":\"timed\",\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
        kito_harness_at(4, a), kito_harness_at(600, b));
    kito_harness_expect(&r, 201, "create sale");
    snprintf(m->sale, sizeof(m->sale), "%s", kito_harness_str(&r, "id"));
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", m->sale);
    for (int i = 0; i < 2; i++) {
        char stone[KITO_ID_SIZE];
        kito_harness_offered_stone(m->org.id, stone);
        r = kito_harness_callf(&kd, &m->org, NULL, "POST", path,
                               "{\"stone_id\":\"%s\",\"opening\":10000}", stone);
        kito_harness_expect(&r, 201, "add lot");
        snprintf(m->lot[i], KITO_ID_SIZE, "%s", kito_harness_str(&r, "id"));
        uint64_t k = 0;
        kito_id_parse(KITO_ID_LOT, m->lot[i], &k);
        m->lot_key[i] = k;
        m->amount[i] = 10000;
        kito_http_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/sales/%s/approvals", m->sale);
    for (int i = 0; i < 2; i++) {
        m->buyer[i] = kito_harness_person("buyer");
        r = kito_harness_callf(&kd, &m->org, NULL, "POST", path,
                               "{\"buyer_id\":\"%s\",\"paddle_number\":%d}", m->buyer[i].acc,
                               i + 1);
        kito_harness_expect(&r, 201, "approve");
        kito_http_resp_free(&r);
    }
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", m->sale);
    r = kito_harness_call(&kd, &m->org, NULL, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);
}

/* One bid on lot i by the buyer who is not leading; true when acknowledged. Before the sale
 * opens a bid is refused, which is what the first calls wait out. */
static bool bid(struct market *m, int i)
{
    char path[160], key[64];
    snprintf(path, sizeof(path), "/v1/lots/%s/bids", m->lot[i]);
    snprintf(key, sizeof(key), "drill-%d-%d-%lld", (int)getpid(), m->bids, now_ms());
    struct kito_http_resp r = kito_harness_callf(&kd, &m->buyer[m->bids % 2], key, "POST", path,
                                                 "{\"amount\":%lld}", m->amount[i]);
    bool ok = r.status == 201;
    if (!ok)
        cr_log_info("bid %lld on %s: %ld %s", m->amount[i], m->lot[i], r.status, r.body);
    kito_http_resp_free(&r);
    if (ok) {
        m->bids++;
        m->amount[i] += 100000; /* far above the ask: every bid is accepted */
    }
    return ok;
}

static void settlements_prepare(struct market *m)
{
    kito_harness_sql("INSERT IGNORE INTO royalty_rates (country, species, form, rate_bps,"
                     " effective_from, source) VALUES ('TZ', 'zoisite', 'rough', 600,"
                     " '2020-01-01 00:00:00', 'test')");
    m->miner = kito_harness_account("miner", NULL, 0);
    kito_harness_sql("INSERT INTO miner_profiles (account_id, country, payout_msisdn,"
                     " payout_rail) VALUES (%llu, 'TZ', '+255700000077', 'mpesa')",
                     m->miner);
    m->settle_sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " buyer_premium_bps, commission_bps, ladder_json, status) VALUES (%llu, 'Drill settled',"
        " 'timed', 'TZS', UTC_TIMESTAMP(3) - INTERVAL 2 DAY, UTC_TIMESTAMP(3) - INTERVAL 1 DAY,"
        " 1000, 500, '[{\"from_minor\":0,\"step_minor\":100}]', 'open')",
        m->org.id);
    for (int i = 0; i < 40; i++) {
        unsigned long long stone = kito_harness_sql(
            "INSERT INTO stones (seller_id, listed_by, species, weight_cct, origin_country,"
            " status) VALUES (%llu, %llu, 'zoisite', 250, 'TZ', 'listed')",
            m->miner, m->miner);
        m->settle_lots[i] = kito_harness_sql(
            "INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor, state)"
            " VALUES (%llu, %llu, %d, %d, 100, 'open')",
            m->settle_sale, stone, i + 1, i);
    }
    m->settle_made = 40;
}

/* The next lot is sold to buyer 0: its outbox entry, as api/live/bookstore.c writes it. */
static void settle_next(struct market *m, redisContext *c)
{
    cr_assert(m->settle_sent < m->settle_made, "out of lots to settle");
    unsigned long long lot = m->settle_lots[m->settle_sent++];
    redisReply *r = redisCommand(
        c,
        "XADD outbox:settlement * lot_id %llu sale_id %llu seller_id %llu winner %llu"
        " hammer_minor %lld currency TZS result sold reason 0 seq 7 ends_at_ms 0 closed_at_ms %lld"
        " format 0",
        lot, m->settle_sale, m->miner, m->buyer[0].id, 250000LL + m->settle_sent * 1000, now_ms());
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING, "XADD failed");
    freeReplyObject(r);
}

static void wait_settled(struct market *m, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (kito_harness_count("SELECT COUNT(*) FROM settlements WHERE sale_id = %llu",
                               m->settle_sale) == m->settle_sent)
            return;
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("the settlement worker did not settle %d lots", m->settle_sent);
}

/* ---- helpers --------------------------------------------------------------------------------- */

/* `ops/kito ARGS` against the test stores (env "") or another stack (env: its variables). */
static int kito(const char *env, const char *args, char *out, size_t cap)
{
    char cmd[4096];
    int n = snprintf(cmd, sizeof(cmd), "%s \"$KITO_TEST_ROOT/ops/kito\" %s 2>&1", env, args);
    cr_assert(n > 0 && (size_t)n < sizeof(cmd), "ops/kito command too long");
    return kito_harness_sh(cmd, out, cap);
}

static const char *source_env(void)
{
    return "KITO_VAR=\"$KITO_TEST_VAR\" KITO_REDIS_PORT=$KITO_TEST_REDIS_PORT"
           " KITO_MYSQL_PORT=$KITO_TEST_MYSQL_PORT";
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The value of name in the restored stack's secrets.env, into out. */
static void restored_secret(const char *name, char *out, size_t cap)
{
    char cmd[900];
    snprintf(cmd, sizeof(cmd), "sed -n 's/^%s=//p' '%s/secrets.env'", name, restore_var);
    kito_harness_sh(cmd, out, cap);
    out[strcspn(out, "\n")] = '\0';
    cr_assert(out[0] != '\0', "the restored stack has no %s", name);
}

/* ---- the drill ------------------------------------------------------------------------------ */

Test(backup, a_backup_taken_under_load_restores_every_money_row_and_every_bid)
{
    static struct market m;
    memset(&m, 0, sizeof(m));
    redisContext *rc = kito_harness_redis();
    sale_open(&m);
    settlements_prepare(&m);

    /* before the backup: bids (the sale opens within a second), settlements, a payment, a
     * payout and its attempt, so that no money table is empty */
    for (long long until = now_ms() + 10000; m.bids < 6 && now_ms() < until;)
        if (!bid(&m, m.bids % 2))
            kito_harness_sleep_ms(100);
    cr_assert_eq(m.bids, 6, "the sale never took bids");
    for (int i = 0; i < 4; i++)
        settle_next(&m, rc);
    wait_settled(&m, 10000);
    char inv[KITO_ID_SIZE], path[96];
    long long due =
        kito_harness_count("SELECT amount_minor FROM invoices WHERE sale_id = %llu ORDER BY id"
                           " LIMIT 1",
                           m.settle_sale);
    kito_id_format(
        "inv",
        (uint64_t)kito_harness_count("SELECT id FROM invoices WHERE sale_id = %llu ORDER BY id"
                                     " LIMIT 1",
                                     m.settle_sale),
        inv, sizeof(inv));
    snprintf(path, sizeof(path), "/v1/invoices/%s/payments", inv);
    struct kito_http_resp r =
        kito_harness_callf(&kd, &m.org, NULL, "POST", path,
                           "{\"amount\":%lld,\"reference\":\"DRILL-%d\"}", due, (int)getpid());
    kito_harness_expect(&r, 201, "payment");
    kito_http_resp_free(&r);
    unsigned long long payout = 0;
    for (int waited = 0; payout == 0 && waited < 10000; waited += 100) {
        payout = (unsigned long long)kito_harness_count(
            "SELECT IFNULL(MAX(p.id), 0) FROM payouts p JOIN settlements s ON s.id ="
            " p.settlement_id WHERE s.sale_id = %llu",
            m.settle_sale);
        kito_harness_sleep_ms(100);
    }
    cr_assert(payout != 0, "the payout worker made no payout for the paid invoice");
    kito_harness_sql(
        "INSERT INTO payout_attempts (payout_id, attempt_no, originator_conversation_id,"
        " request_json, state, result_code, result_desc) VALUES (%llu, 1,"
        " 'drill-%llu', '{}', 'failed', '2001', 'The initiator information is"
        " invalid.')",
        payout, payout);

    /* what was acknowledged before the backup began */
    long long journal_before[2];
    for (int i = 0; i < 2; i++) {
        redisReply *x = redisCommand(rc, "XLEN lot:{%llu}:journal", m.lot_key[i]);
        journal_before[i] = x->integer;
        freeReplyObject(x);
    }
    long long settlements_before = kito_harness_count("SELECT COUNT(*) FROM settlements");

    /* the backup, in the background, while bids and settlements go on */
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof(cmd),
             "(%s \"$KITO_TEST_ROOT/ops/kito\" backup '%s' >'%s.log' 2>&1; echo $? >'%s.rc') "
             ">/dev/null 2>&1 &",
             source_env(), backup_dir, backup_dir, backup_dir);
    kito_harness_sh("mkdir -p \"$KITO_TEST_VAR/backups\"", NULL, 0);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0);
    char rc_path[500];
    snprintf(rc_path, sizeof(rc_path), "%s.rc", backup_dir);
    int bids_during = 0, settled_during = 0;
    long long deadline = now_ms() + 60000;
    while (!file_exists(rc_path) && now_ms() < deadline) {
        bids_during += bid(&m, bids_during % 2) ? 1 : 0;
        if (m.settle_sent < m.settle_made) {
            settle_next(&m, rc);
            settled_during++;
        }
        kito_harness_sleep_ms(20);
    }
    kito_harness_sleep_ms(200); /* the rc file is written, then closed */
    snprintf(cmd, sizeof(cmd), "cat '%s.rc' '%s.log'", backup_dir, backup_dir);
    kito_harness_sh(cmd, out, sizeof(out));
    cr_assert(strncmp(out, "0\n", 2) == 0, "ops/kito backup failed:\n%s", out);
    cr_assert_gt(bids_during, 0, "no bid was taken while the backup ran");
    cr_assert_gt(settled_during, 0, "no lot was sent to settlement while the backup ran");
    wait_settled(&m, 15000);
    cr_log_info("backup: %d bids and %d settlements sent while it ran", bids_during,
                settled_during);

    /* the restore: fresh folders, other ports */
    snprintf(restore_env, sizeof(restore_env),
             "KITO_VAR='%s' KITO_REDIS_PORT=%d KITO_MYSQL_PORT=%d", restore_var,
             kito_harness_free_port(), kito_harness_free_port());
    snprintf(cmd, sizeof(cmd), "restore '%s'", backup_dir);
    cr_assert_eq(kito(restore_env, cmd, out, sizeof(out)), 0, "ops/kito restore failed:\n%s", out);

    /* before and after: the restored copy, and the source up to it */
    char restored_sums[500], source_sums[500];
    snprintf(restored_sums, sizeof(restored_sums), "%s/restored.sums", restore_var);
    snprintf(source_sums, sizeof(source_sums), "%s/source.sums", restore_var);
    snprintf(cmd, sizeof(cmd), "checksums >'%s'", restored_sums);
    cr_assert_eq(kito(restore_env, cmd, out, sizeof(out)), 0, "checksums (restored): %s", out);
    snprintf(cmd, sizeof(cmd), "checksums --upto '%s' >'%s'", restored_sums, source_sums);
    cr_assert_eq(kito(source_env(), cmd, out, sizeof(out)), 0, "checksums (source): %s", out);
    snprintf(cmd, sizeof(cmd), "diff '%s' '%s' && grep -v '^stream' '%s'", restored_sums,
             source_sums, restored_sums);
    int differ = kito_harness_sh(cmd, out, sizeof(out));
    cr_assert_eq(differ, 0, "the restored copy differs from the source at the backup:\n%s", out);
    cr_log_info("restored and source agree:\n%s", out);
    static const char *const tables[] = {"settlements",         "invoices",       "payments",
                                         "ledger_transactions", "ledger_entries", "payouts",
                                         "payout_attempts"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char want[64];
        snprintf(want, sizeof(want), "table %s rows 0 ", tables[i]);
        cr_expect(strstr(out, want) == NULL, "%s is empty in the drill", tables[i]);
    }

    /* nothing acknowledged before the backup is missing */
    for (int i = 0; i < 2; i++) {
        char want[700], line[160];
        snprintf(want, sizeof(want), "grep '^stream lot:{%llu}:journal ' '%s'", m.lot_key[i],
                 restored_sums);
        kito_harness_sh(want, line, sizeof(line));
        long long n = 0;
        cr_assert_eq(sscanf(line, "stream %*s entries %lld", &n), 1, "lot %s is not in the copy",
                     m.lot[i]);
        cr_expect_geq(n, journal_before[i], "lot %s: %lld journal entries, %lld before", m.lot[i],
                      n, journal_before[i]);
    }
    snprintf(cmd, sizeof(cmd), "awk '$2 == \"settlements\" { print $4 }' '%s'", restored_sums);
    kito_harness_sh(cmd, out, sizeof(out));
    cr_expect_geq(atoll(out), settlements_before, "settlements lost: %s", out);

    /* kitod starts on the copy and rebuilds its books */
    char rport[16], mport[16], rpass[128], mpass[128];
    sscanf(strstr(restore_env, "KITO_REDIS_PORT=") + 16, "%15[0-9]", rport);
    sscanf(strstr(restore_env, "KITO_MYSQL_PORT=") + 16, "%15[0-9]", mport);
    restored_secret("KITO_REDIS_PASSWORD", rpass, sizeof(rpass));
    restored_secret("KITO_MYSQL_PASSWORD", mpass, sizeof(mpass));
    char e[5][600];
    snprintf(e[0], sizeof(e[0]), "KITO_REDIS_PORT=%s", rport);
    snprintf(e[1], sizeof(e[1]), "KITO_MYSQL_PORT=%s", mport);
    snprintf(e[2], sizeof(e[2]), "KITO_REDIS_PASSWORD=%s", rpass);
    snprintf(e[3], sizeof(e[3]), "KITO_MYSQL_PASSWORD=%s", mpass);
    snprintf(e[4], sizeof(e[4]), "KITO_SIGNING_KEY=%s/keys/signing-ed25519.pem", restore_var);
    const char *const renv[] = {e[0], e[1], e[2], e[3], e[4], NULL};
    struct kito_kitod restored;
    kito_harness_kitod_start(&restored, renv);
    long health = kito_harness_wait_health(&restored, 200, 15000);
    kito_harness_kitod_stop(&restored, 5000);
    snprintf(cmd, sizeof(cmd), "grep -h 'order books recovered' '%s'", restored.log_path);
    kito_harness_sh(cmd, out, sizeof(out));
    cr_expect_eq(health, 200, "kitod is not healthy on the restored copy (%s)", restored.log_path);
    cr_expect(strstr(out, " 0 damaged") != NULL, "kitod on the copy: %s", out);
    redisFree(rc);
}
