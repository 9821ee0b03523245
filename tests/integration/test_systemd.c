/* The systemd units (issue 15; ops/systemd/): rendered by ops/systemd/render.sh against this
 * checkout and build, they pass `systemd-analyze verify` without a word, and `systemd-analyze
 * security --offline` rates each one "OK" or better (exposure at most 2.0 of 10): a dedicated or
 * dynamic user, NoNewPrivileges, ProtectSystem=strict with only the service's own state
 * writable, PrivateTmp, no capabilities (kitod keeps CAP_NET_BIND_SERVICE for port 443), a
 * system-call filter, the stores reachable from loopback only. Needs nothing running. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/integration/harness.h"

TestSuite(systemd, .timeout = 120);

static const char *const units[] = {"kitod.service",          "kito-redis.service",
                                    "kito-mariadb.service",   "kito-mpesa-sim.service",
                                    "kito-sms-sim.service",   "kito-momo-sim.service",
                                    "kito-airtel-sim.service"};

static const char *render(void)
{
    static char dir[600];
    char cmd[1600], out[2048];
    snprintf(dir, sizeof(dir), "%s", kito_harness_var("systemd"));
    snprintf(cmd, sizeof(cmd),
             "rm -rf '%s' && \"$KITO_TEST_ROOT/ops/systemd/render.sh\" '%s' \"$KITO_TEST_ROOT\""
             " \"$KITO_TEST_BUILD\" 2>&1",
             dir, dir);
    cr_assert_eq(kito_harness_sh(cmd, out, sizeof(out)), 0, "render.sh failed: %s", out);
    return dir;
}

Test(systemd, the_units_verify)
{
    const char *dir = render();
    char cmd[1200], out[8192];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && systemd-analyze verify ./kitod.service ./kito-redis.service"
             " ./kito-mariadb.service ./kito-mpesa-sim.service ./kito-sms-sim.service"
             " ./kito-momo-sim.service ./kito-airtel-sim.service 2>&1",
             dir);
    int rc = kito_harness_sh(cmd, out, sizeof(out));
    cr_expect_eq(rc, 0, "systemd-analyze verify failed:\n%s", out);
    cr_expect_str_eq(out, "", "systemd-analyze verify warns:\n%s", out);
}

Test(systemd, every_unit_is_hardened)
{
    const char *dir = render();
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        char cmd[1200], out[16384];
        /* --threshold: exit status 1 when the exposure is above 2.0 (20 of 100) */
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && systemd-analyze security --offline=yes --threshold=20 ./%s 2>&1", dir,
                 units[i]);
        int rc = kito_harness_sh(cmd, out, sizeof(out));
        const char *overall = strstr(out, "Overall exposure level");
        cr_expect_eq(rc, 0, "%s is exposed beyond 2.0: %s", units[i],
                     overall != NULL ? overall : out);
        /* the directives the issue names, each present */
        static const char *const must[] = {"NoNewPrivileges=yes", "ProtectSystem=strict",
                                           "PrivateTmp=yes", "SystemCallFilter=@system-service"};
        for (size_t k = 0; k < sizeof(must) / sizeof(must[0]); k++) {
            snprintf(cmd, sizeof(cmd), "grep -qx '%s' '%s/%s'", must[k], dir, units[i]);
            cr_expect_eq(kito_harness_sh(cmd, NULL, 0), 0, "%s lacks %s", units[i], must[k]);
        }
        snprintf(cmd, sizeof(cmd), "grep -Eqx '(User=kito.*|DynamicUser=yes)' '%s/%s'", dir,
                 units[i]);
        cr_expect_eq(kito_harness_sh(cmd, NULL, 0), 0, "%s runs as no dedicated user", units[i]);
    }
}
