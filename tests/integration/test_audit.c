/* The audit trail and `kitoctl audit` (issue 15, "Audit"): who (an account, or the system), what,
 * when and from where (the client's address; kitoctl:<user>@<host> for the operator's command
 * line, whose actions used to carry neither actor nor address), filtered by entity, actor and
 * time, newest first. The payout worker's send is in the trail too (test_payouts.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(audit, 120);

/* `kitoctl ARGS` against the test database; stdout (and stderr) into out; the exit status. */
static int kitoctl(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd),
             "KITO_MYSQL_HOST=127.0.0.1 KITO_MYSQL_PORT=$KITO_TEST_MYSQL_PORT KITO_MYSQL_USER=kito"
             " KITO_MYSQL_PASSWORD=$KITO_TEST_MYSQL_PASSWORD KITO_MYSQL_DB=kito"
             " '%s/api/kitoctl' %s </dev/null 2>&1",
             getenv("KITO_TEST_BUILD"), args);
    return kito_harness_sh(cmd, out, cap);
}

/* The fields of the first row after the header: id at actor from action entity detail. */
static int first_row(const char *out, char fields[7][512])
{
    const char *line = strchr(out, '\n');
    cr_assert(strncmp(out, "id\tat\tactor\tfrom\taction\tentity\tdetail\n", 38) == 0,
              "no header: %s", out);
    if (line == NULL || line[1] == '\0')
        return 0;
    return sscanf(line + 1,
                  "%511[^\t]\t%511[^\t]\t%511[^\t]\t%511[^\t]\t%511[^\t]\t%511[^\t]\t%511[^\n]",
                  fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], fields[6]);
}

Test(audit, kitoctl_actions_say_who_ran_them)
{
    char out[8192], args[512], f[7][512];
    /* a rate no other test sets: a species of our own, effective at a unique instant */
    char from[KITO_TIME_SIZE];
    kito_harness_at(-(long)(getpid() % 100000) - 86400, from);
    snprintf(args, sizeof(args),
             "royalty set --country TZ --species garnet --rate-bps 450 --effective-from %s"
             " --source audit-test",
             from);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "royalty set: %s", out);
    unsigned long long id = strtoull(out, NULL, 10);
    cr_assert_gt(id, 0, "%s", out);

    snprintf(args, sizeof(args), "audit --entity royalty_rate:%llu", id);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_eq(first_row(out, f), 7, "no row for the rate: %s", out);
    cr_expect_str_eq(f[2], "system");
    cr_expect(strncmp(f[3], "kitoctl:", 8) == 0 && strchr(f[3], '@') != NULL,
              "from: %s (want kitoctl:user@host)", f[3]);
    cr_expect_str_eq(f[4], "royalty.set");
    char want[64];
    snprintf(want, sizeof(want), "royalty_rate:%llu", id);
    cr_expect_str_eq(f[5], want);
    cr_expect(strstr(f[6], "\"rate_bps\":450") != NULL, "detail: %s", f[6]);
    /* and in the table itself */
    char ip[64];
    kito_harness_sql_value(ip, sizeof(ip),
                           "SELECT ip FROM audit_log WHERE entity = 'royalty_rate' AND entity_id ="
                           " %llu",
                           id);
    cr_expect(strncmp(ip, "kitoctl:", 8) == 0, "audit_log.ip: %s", ip);
}

Test(audit, api_actions_say_who_and_from_where_filtered_by_actor_entity_and_time)
{
    kito_who org = kito_harness_person("organizer");
    char a[KITO_TIME_SIZE], b[KITO_TIME_SIZE], out[8192], args[512], f[7][512];
    struct kito_http_resp r = kito_harness_callf(
        &kd, &org, NULL, "POST", "/v1/sales",
        "{\"title\":\"Audited sale\",\"format\":\"timed\",\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
        kito_harness_at(3600, a), kito_harness_at(7200, b));
    kito_harness_expect(&r, 201, "create sale");
    char sale[KITO_ID_SIZE];
    snprintf(sale, sizeof(sale), "%s", kito_harness_str(&r, "id"));
    kito_http_resp_free(&r);

    snprintf(args, sizeof(args), "audit --actor %s --limit 5", org.acc);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_eq(first_row(out, f), 7, "no row by the organiser: %s", out);
    char who[80];
    snprintf(who, sizeof(who), "%s(organizer)", org.acc);
    cr_expect_str_eq(f[2], who);
    cr_expect_str_eq(f[3], "127.0.0.1");
    cr_expect_str_eq(f[4], "sale.create");
    char want[64];
    snprintf(want, sizeof(want), "sale:%s", sale);
    cr_expect_str_eq(f[5], want);

    /* by entity, by API id; and newest first */
    snprintf(args, sizeof(args), "audit --entity %s --limit 1", want);
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_eq(first_row(out, f), 7, "%s", out);
    cr_expect_str_eq(f[4], "sale.create");
    cr_expect_eq(strchr(strchr(out, '\n') + 1, '\n')[1], '\0', "--limit 1 gave more: %s", out);

    /* since: a minute ago finds it, tomorrow finds nothing */
    snprintf(args, sizeof(args), "audit --actor %s --since %s", org.acc, kito_harness_at(-60, a));
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "%s", out);
    cr_expect_eq(first_row(out, f), 7, "nothing since a minute ago: %s", out);
    snprintf(args, sizeof(args), "audit --actor %s --since %s", org.acc, kito_harness_at(86400, a));
    cr_assert_eq(kitoctl(args, out, sizeof(out)), 0, "%s", out);
    cr_expect_eq(first_row(out, f), 0, "rows from tomorrow: %s", out);

    /* the system's own rows only */
    cr_assert_eq(kitoctl("audit --actor system --limit 20", out, sizeof(out)), 0, "%s", out);
    for (const char *l = strchr(out, '\n'); l != NULL && l[1] != '\0'; l = strchr(l + 1, '\n'))
        cr_expect(strstr(l + 1, "\tsystem\t") != NULL || strchr(l + 1, '\t') == NULL,
                  "--actor system shows: %.120s", l + 1);
}

Test(audit, bad_filters_exit_2)
{
    char out[2048];
    static const char *const bad[] = {"audit --limit 0",         "audit --limit 10001",
                                      "audit --since yesterday", "audit --entity Sale",
                                      "audit --entity sale:x",   "audit --actor bob",
                                      "audit --what 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(kitoctl(bad[i], out, sizeof(out)), 2, "`kitoctl %s`: %s", bad[i], out);
}
