/* kitod keeps running through Redis and MariaDB restarts and reports them on /healthz (issue 2). */
#include <criterion/criterion.h>
#include <string.h>

#include "tests/integration/harness.h"

static struct kito_kitod kd;

static void up(void)
{
    kito_harness_kitod_start(&kd, NULL);
}

static void down(void)
{
    /* whatever a test did, leave the services running for the next program */
    kito_harness_service("redis_start");
    kito_harness_service("mysql_start");
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(outage, .init = up, .fini = down, .timeout = 120);

static bool service_ok(const struct kito_kitod *k, const char *name)
{
    struct kito_http_resp r;
    kito_http_ok(k, "GET", "/healthz", NULL, &r);
    bool ok = json_is_true(json_object_get(json_object_get(r.json, name), "ok"));
    kito_http_resp_free(&r);
    return ok;
}

Test(outage, redis_stop_shows_503_and_recovers)
{
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);
    cr_assert_eq(kito_harness_service("redis_kill"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 503, 5000), 503, "no 503 while Redis is down");
    cr_assert(!service_ok(&kd, "redis"));
    cr_assert(service_ok(&kd, "mysql"), "MySQL reported down while only Redis is");
    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200,
                 "no recovery after Redis came back");
    cr_assert(service_ok(&kd, "redis"));
}

Test(outage, mysql_stop_shows_503_and_recovers)
{
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200);
    cr_assert_eq(kito_harness_service("mysql_stop"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 503, 8000), 503, "no 503 while MariaDB is down");
    cr_assert(!service_ok(&kd, "mysql"));
    cr_assert(service_ok(&kd, "redis"));
    cr_assert_eq(kito_harness_service("mysql_start"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 10000), 200,
                 "no recovery after MariaDB came back");
}

Test(outage, kitod_starts_while_redis_is_down_and_recovers)
{
    kito_harness_kitod_stop(&kd, 5000);
    cr_assert_eq(kito_harness_service("redis_kill"), 0);
    kito_harness_kitod_start(&kd, NULL);
    cr_assert_eq(kito_harness_wait_health(&kd, 503, 3000), 503);
    cr_assert_eq(kito_harness_service("redis_start"), 0);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 8000), 200);
}
