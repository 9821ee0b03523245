/* The local stores are closed to other local users (issue 15, finding 2): Redis wants a password
 * (kitod AUTHs as an ACL user that cannot administer it), MariaDB's root signs in by the unix
 * socket only, and the data folders are 0700 with 0600 files, for the stores `ops/kito test`
 * starts exactly as for `ops/kito run` (both use ops/lib.sh). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/integration/harness.h"

TestSuite(stores, .timeout = 120);

/* redis-cli's answer to args on the test Redis as nobody in particular (no REDISCLI_AUTH). */
static void redis_cli_anonymous(const char *args, char *out, size_t cap)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "env -u REDISCLI_AUTH redis-cli -p %s %s 2>&1",
             getenv("KITO_TEST_REDIS_PORT"), args);
    kito_harness_sh(cmd, out, cap);
}

Test(stores, redis_refuses_a_client_without_the_password)
{
    char out[512];
    redis_cli_anonymous("PING", out, sizeof(out));
    cr_expect(strstr(out, "NOAUTH") != NULL, "PING without a password: %s", out);
    redis_cli_anonymous("XRANGE outbox:settlement - +", out, sizeof(out));
    cr_expect(strstr(out, "NOAUTH") != NULL, "XRANGE without a password: %s", out);
    redis_cli_anonymous("--user kito --pass wrong PING", out, sizeof(out));
    cr_expect(strstr(out, "WRONGPASS") != NULL, "a wrong password: %s", out);
}

Test(stores, kitods_redis_user_may_not_administer_redis)
{
    redisContext *c = kito_harness_redis();
    redisReply *r = redisCommand(c, "AUTH kito %s", getenv("KITO_TEST_REDIS_PASSWORD"));
    cr_assert(r != NULL && r->type == REDIS_REPLY_STATUS, "kitod's user cannot sign in");
    freeReplyObject(r);
    static const char *const refused[] = {"FLUSHALL", "CONFIG GET dir", "SHUTDOWN",    "KEYS *",
                                          "ACL LIST", "CLIENT LIST",    "BGREWRITEAOF"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        r = redisCommand(c, refused[i]);
        cr_expect(r != NULL && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOPERM", 6) == 0,
                  "kitod's user may run %s: %s", refused[i],
                  r != NULL && r->str != NULL ? r->str : "(no error)");
        if (r != NULL)
            freeReplyObject(r);
    }
    r = redisCommand(c, "PING");
    cr_expect(r != NULL && r->type == REDIS_REPLY_STATUS, "kitod's user may not PING");
    freeReplyObject(r);
    redisFree(c);
}

Test(stores, mariadb_root_is_refused_over_tcp)
{
    char cmd[512], out[512];
    /* no password, as `--auth-root-authentication-method=normal` used to allow */
    snprintf(cmd, sizeof(cmd),
             "mariadb --no-defaults -h127.0.0.1 -P%s -uroot --skip-password -N -e 'SELECT 1' 2>&1",
             getenv("KITO_TEST_MYSQL_PORT"));
    cr_expect_neq(kito_harness_sh(cmd, out, sizeof(out)), 0, "root over TCP got in: %s", out);
    /* root by the socket is the operator's way in, as the OS user root (unix_socket) */
    snprintf(cmd, sizeof(cmd),
             "mariadb --no-defaults --socket='%s' -uroot -N -e \"SELECT COUNT(*) FROM mysql.user"
             " WHERE User = '' OR (User = 'root' AND Host <> 'localhost')\" 2>&1",
             kito_harness_var("mysql/mysql.sock"));
    cr_assert_eq(kito_harness_sh(cmd, out, sizeof(out)), 0, "root by the socket: %s", out);
    cr_expect_eq(atoi(out), 0, "other root or anonymous accounts are left: %s", out);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s is missing", path);
    return st.st_mode & 07777;
}

Test(stores, data_folders_are_private)
{
    cr_expect_eq(mode_of(kito_harness_var("redis")), 0700);
    cr_expect_eq(mode_of(kito_harness_var("mysql")), 0700);
    cr_expect_eq(mode_of(kito_harness_var("mysql/data")), 0700);
    cr_expect_eq(mode_of(kito_harness_var("secrets.env")), 0600);
    cr_expect_eq(mode_of(kito_harness_var("redis/users.acl")), 0600);
    /* the append-only file holds reserves and sealed bids in plain text */
    cr_expect_eq(mode_of(kito_harness_var("redis/appendonlydir")), 0700);
    char cmd[1024], out[2048];
    snprintf(cmd, sizeof(cmd), "find '%s' '%s' -perm /077 ! -type s ! -type l | head -5",
             kito_harness_var("redis"), kito_harness_var("mysql"));
    kito_harness_sh(cmd, out, sizeof(out));
    cr_expect_str_eq(out, "", "files or folders open to others:\n%s", out);
    snprintf(cmd, sizeof(cmd), "find '%s/appendonlydir' -type f -name '*.aof' | head -1",
             kito_harness_var("redis"));
    kito_harness_sh(cmd, out, sizeof(out));
    cr_expect(strstr(out, ".aof") != NULL, "no append-only file found");
}

/* kitod's three Redis connections (the health link, the book store, the settlement worker) all
 * sign in as kito; with a wrong password kitod is unhealthy, says why, and never logs it. */
Test(stores, kitod_signs_in_to_redis_and_a_wrong_password_is_reported, .timeout = 60)
{
    struct kito_kitod k;
    kito_harness_kitod_start(&k, NULL);
    if (kito_harness_wait_health(&k, 200, 10000) != 200) {
        kito_harness_kitod_stop(&k, 5000); /* not left running after the test */
        cr_assert_fail("kitod is not healthy (%s)", k.log_path);
    }
    redisContext *c = kito_harness_redis();
    redisReply *r = redisCommand(c, "CLIENT LIST");
    cr_assert(r != NULL && r->type == REDIS_REPLY_STRING);
    size_t as_kito = 0;
    for (const char *p = r->str; (p = strstr(p, " user=kito ")) != NULL; p++)
        as_kito++;
    cr_expect_geq(as_kito, 3, "%zu connections as kito:\n%s", as_kito, r->str);
    freeReplyObject(r);
    redisFree(c);
    kito_harness_kitod_stop(&k, 5000);

    static const char *const wrong[] = {"KITO_REDIS_PASSWORD=not-the-password-4f1c", NULL};
    kito_harness_kitod_start(&k, wrong);
    /* unhealthy from the start, and it stays so (200 would mean a connection got in) */
    cr_expect_eq(kito_harness_wait_health(&k, 200, 2500), 503);
    kito_harness_kitod_stop(&k, 5000);
    char cmd[1200], out[4096];
    snprintf(cmd, sizeof(cmd), "grep -c 'refused AUTH' '%s'; grep -c 'not-the-password' '%s'",
             k.log_path, k.log_path);
    kito_harness_sh(cmd, out, sizeof(out));
    int said = 0, leaked = 0;
    cr_assert_eq(sscanf(out, "%d %d", &said, &leaked), 2, "%s", out);
    cr_expect_geq(said, 1, "kitod did not say Redis refused its AUTH (%s)", k.log_path);
    cr_expect_eq(leaked, 0, "kitod logged the password (%s)", k.log_path);
}
