/* kitoctl, the operator's command line (issue 4): it makes staff accounts in the real MariaDB,
 * which then sign in over HTTPS; bad input exits 2 and writes nothing; database trouble exits 1. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static struct kito_kitod kd;

/* kitoctl reads the same KITO_MYSQL_* as kitod: point them at the test database. */
static void env_for_kitoctl(void)
{
    setenv("KITO_MYSQL_HOST", "127.0.0.1", 1);
    setenv("KITO_MYSQL_PORT", getenv("KITO_TEST_MYSQL_PORT"), 1);
    setenv("KITO_MYSQL_USER", "kito", 1);
    setenv("KITO_MYSQL_PASSWORD", getenv("KITO_TEST_MYSQL_PASSWORD"), 1);
    setenv("KITO_MYSQL_DB", "kito", 1);
}

static void up(void)
{
    cr_assert(getenv("KITO_TEST_MYSQL_PORT") != NULL && getenv("KITO_TEST_MYSQL_PASSWORD") != NULL);
    env_for_kitoctl();
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(kitoctl, .init = up, .fini = down, .timeout = 120);

/* Runs `kitoctl ARGS` with stdin_line (NULL: empty stdin) as its input; stdout (and stderr when
 * with_stderr) into out. Returns the exit status. ARGS is shell text: quote it. */
static int kitoctl(const char *stdin_line, const char *args, bool with_stderr, char *out,
                   size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "printf '%%s%s' '%s' | '%s/api/kitoctl' %s %s",
             stdin_line != NULL ? "\\n" : "", stdin_line != NULL ? stdin_line : "",
             getenv("KITO_TEST_BUILD"), args, with_stderr ? "2>&1" : "2>/dev/null");
    return kito_harness_sh(cmd, out, cap);
}

static void fresh_email(char *out, size_t cap, const char *who)
{
    static unsigned counter;
    snprintf(out, cap, "%s.%d.%u.%ld@ctl.example.test", who, (int)getpid(), ++counter,
             (long)time(NULL) % 100000);
}

static unsigned long long accounts_with(const char *contact)
{
    char v[32];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM accounts WHERE email = '%s' OR phone = '%s'",
                           contact, contact);
    return strtoull(v, NULL, 10);
}

Test(kitoctl, creates_an_organizer_who_signs_in_over_https)
{
    char email[128], args[512], out[256];
    fresh_email(email, sizeof(email), "organizer");
    snprintf(args, sizeof(args),
             "account create --role organizer --name 'Arusha Gem Fair' --email '%s' --country TZ",
             email);
    int rc = kitoctl("fair and square 2026", args, false, out, sizeof(out));
    cr_assert_eq(rc, 0, "kitoctl exited %d: %s", rc, out);
    cr_assert_eq(strncmp(out, "acc_", 4), 0, "stdout: %s", out);
    cr_assert_eq(strlen(out), 18, "one id and a line feed: '%s'", out);
    out[17] = '\0';
    char id[32];
    snprintf(id, sizeof(id), "%.17s", out);

    char v[128];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT CONCAT(role, ' ', secret_kind, ' ', LEFT(secret_hash, 7))"
                           " FROM accounts WHERE email = '%s'",
                           email);
    cr_assert_str_eq(v, "organizer password scrypt$");
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT COUNT(*) FROM audit_log l JOIN accounts a ON a.id = l.entity_id"
                           " WHERE a.email = '%s' AND l.action = 'account.create'"
                           " AND l.actor_id IS NULL",
                           email);
    cr_assert_str_eq(v, "1", "an audit row by the system");

    char body[512];
    snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"fair and square 2026\"}", email);
    struct kito_http_resp r;
    kito_http_ok(&kd, "POST", "/v1/sessions", body, &r);
    cr_assert_eq(r.status, 201, "%s", r.body);
    json_t *acc = json_object_get(r.json, "account");
    cr_assert_str_eq(json_string_value(json_object_get(acc, "id")), id);
    cr_assert_str_eq(json_string_value(json_object_get(acc, "role")), "organizer");
    kito_http_resp_free(&r);

    /* it is listed */
    static char list[1 << 16];
    rc = kitoctl(NULL, "account list --role organizer", false, list, sizeof(list));
    cr_assert_eq(rc, 0);
    cr_assert(strstr(list, id) != NULL && strstr(list, email) != NULL, "%s not listed", id);

    /* and the same address again is refused by the database: exit 1 */
    rc = kitoctl("fair and square 2026", args, true, out, sizeof(out));
    cr_assert_eq(rc, 1, "duplicate: exit %d: %s", rc, out);
    cr_assert(strstr(out, "already exists") != NULL, "%s", out);
    cr_assert_eq(accounts_with(email), 1);
}

Test(kitoctl, creates_an_operator_and_a_miner)
{
    char email[128], args[512], out[256];
    fresh_email(email, sizeof(email), "operator");
    snprintf(args, sizeof(args),
             "account create --role operator --name Ops --email '%s' --password-stdin", email);
    int rc = kitoctl("keep the lights on", args, false, out, sizeof(out));
    cr_assert_eq(rc, 0, "%s", out);

    char phone[20];
    snprintf(phone, sizeof(phone), "+26599%07d", (int)(getpid() % 10000000));
    snprintf(args, sizeof(args),
             "account create --role miner --name 'Chikondi Banda' --phone '%s' --rail tnm_mpamba",
             phone);
    rc = kitoctl("5937", args, false, out, sizeof(out));
    cr_assert_eq(rc, 0, "%s", out);
    char v[128];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT CONCAT(m.country, ' ', m.payout_rail, ' ', m.payout_msisdn)"
                           " FROM miner_profiles m JOIN accounts a ON a.id = m.account_id"
                           " WHERE a.phone = '%s'",
                           phone);
    char want[128];
    snprintf(want, sizeof(want), "MW tnm_mpamba %s", phone);
    cr_assert_str_eq(v, want);
}

Test(kitoctl, bad_input_exits_2_and_writes_nothing)
{
    char email[128], args[512], out[1024];
    fresh_email(email, sizeof(email), "bad");
    static const struct {
        const char *secret;
        const char *args; /* %s: the e-mail address */
        const char *says; /* in the message */
    } cases[] = {
        {"short", "account create --role valuer --name V --email '%s'", "password"},
        {NULL, "account create --role valuer --name V --email '%s'", "stdin"},
        {"long enough secret", "account create --role admin --name V --email '%s'", "role"},
        {"long enough secret", "account create --role valuer --email '%s'", "--name"},
        {"long enough secret", "account create --role valuer --name V --email 'x%s@'", "email"},
        {"long enough secret", "account create --role valuer --name V --email '%s' --colour red",
         "--colour"},
        {"long enough secret", "account create --role valuer --name V --email '%s' --country Tz",
         "country"},
        {"long enough secret",
         "account create --role buyer --name B --phone +255712345678 "
         "--country TZ",
         "email"},
        {"1234", "account create --role miner --name M --phone +255700000001", "pin"},
        {"4826", "account create --role miner --name M --phone +447700900123", "phone"},
        {"4826", "account create --role miner --name M --phone +255700000002 --rail mtn_momo",
         "rail"},
        {"long enough secret", "account create --role valuer --name V --email '%s' --email '%s'",
         "twice"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(args, sizeof(args), cases[i].args, email, email);
        int rc = kitoctl(cases[i].secret, args, true, out, sizeof(out));
        cr_assert_eq(rc, 2, "case %zu (%s): exit %d: %s", i, args, rc, out);
        cr_assert(strstr(out, cases[i].says) != NULL, "case %zu: '%s' does not say %s", i, out,
                  cases[i].says);
        cr_assert(strstr(out, "long enough secret") == NULL, "the secret was echoed");
    }
    cr_assert_eq(accounts_with(email), 0);
    cr_assert_eq(accounts_with("+255700000001"), 0);
    cr_assert_eq(accounts_with("+255700000002"), 0);
    cr_assert_eq(accounts_with("+447700900123"), 0);

    cr_assert_eq(kitoctl(NULL, "frobnicate", true, out, sizeof(out)), 2);
    cr_assert_eq(kitoctl(NULL, "account", true, out, sizeof(out)), 2);
    cr_assert_eq(kitoctl(NULL, "help", false, out, sizeof(out)), 0);
    cr_assert(strstr(out, "account create") != NULL, "%s", out);
}

Test(kitoctl, association_create)
{
    char args[256], out[256];
    snprintf(args, sizeof(args),
             "association create --name 'Women in Mining Zambia %d' --country ZM --levy-bps 250",
             (int)getpid());
    int rc = kitoctl(NULL, args, false, out, sizeof(out));
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_eq(strncmp(out, "asn_", 4), 0, "%s", out);
    rc = kitoctl(NULL, args, true, out, sizeof(out));
    cr_assert_eq(rc, 1, "duplicate: %s", out);
    rc = kitoctl(NULL, "association create --name X --country ZM --levy-bps 10001", true, out,
                 sizeof(out));
    cr_assert_eq(rc, 2, "%s", out);
    rc = kitoctl(NULL, "association create --name X --country UG", true, out, sizeof(out));
    cr_assert_eq(rc, 2, "%s", out);
}

Test(kitoctl, an_unreachable_database_exits_1)
{
    char email[128], args[256], out[512];
    fresh_email(email, sizeof(email), "nodb");
    snprintf(args, sizeof(args), "account create --role valuer --name V --email '%s'", email);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "printf 'long enough secret\\n' | KITO_MYSQL_PORT=1 '%s/api/kitoctl' %s 2>&1",
             getenv("KITO_TEST_BUILD"), args);
    int rc = kito_harness_sh(cmd, out, sizeof(out));
    cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "cannot reach MySQL") != NULL, "%s", out);
    cr_assert_eq(accounts_with(email), 0);
}
