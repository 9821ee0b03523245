/* Session idle timeouts (issue 15, "What an operator expects"): a session unused for its role's
 * KITO_SESSION_IDLE_<ROLE>_S stops working (401) while one in use goes on; its last use is
 * recorded in sessions.last_seen_at at most once per KITO_SESSION_TOUCH_S, not per request.
 * Here buyers idle out after 3 s and uses are recorded at most once a second; miners keep the
 * default (a day). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"

static struct kito_kitod kd;

static void up(void)
{
    static const char *const env[] = {"KITO_SESSION_IDLE_BUYER_S=3", "KITO_SESSION_TOUCH_S=1",
                                      NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200, "kitod never became healthy");
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(sessions, .init = up, .fini = down, .timeout = 60);

static long me(const kito_who *w)
{
    struct kito_http_resp r = kito_harness_call(&kd, w, NULL, "GET", "/v1/accounts/me", NULL);
    long status = r.status;
    if (status == 401)
        kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    return status;
}

/* Milliseconds since the session's recorded last use, or -1 when none is recorded. */
static long long ms_since_last_seen(const kito_who *w)
{
    char v[64];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT IFNULL(TIMESTAMPDIFF(MICROSECOND, last_seen_at,"
                           " UTC_TIMESTAMP(3)) DIV 1000, -1) FROM sessions WHERE account_id = %llu",
                           w->id);
    return atoll(v);
}

Test(sessions, an_unused_session_stops_working_and_one_in_use_goes_on)
{
    kito_who idle = kito_harness_person("buyer");
    kito_who busy = kito_harness_person("buyer");
    kito_who miner = kito_harness_person("miner");
    cr_assert_eq(me(&idle), 200);
    cr_assert_eq(me(&miner), 200);
    /* the busy buyer uses hers every 400 ms for 6 s, twice her idle limit */
    for (int i = 0; i < 15; i++) {
        cr_assert_eq(me(&busy), 200, "a session in use ended after %d ms", i * 400);
        kito_harness_sleep_ms(400);
    }
    long long seen = ms_since_last_seen(&busy);
    cr_expect(seen >= 0 && seen < 3000, "the busy session's last use is not recorded: %lld ms",
              seen);
    /* the idle buyer has not used hers for 6 s: gone; the miner's limit is a day */
    cr_expect_eq(me(&idle), 401, "a session idle past its limit still works");
    cr_expect_eq(me(&miner), 200, "the miner's session ended on the buyers' limit");
    /* and it stays gone when used again (the refusal does not count as a use) */
    cr_expect_eq(me(&idle), 401);
}

/* A miner's session (a day's limit) stays in the session cache for its TTL (15 s): a burst
 * within it is answered without a lookup, so without a write. */
Test(sessions, a_burst_of_requests_records_one_use)
{
    kito_who w = kito_harness_person("miner");
    kito_harness_sleep_ms(1200); /* older than the touch interval: the next lookup records */
    cr_assert_eq(me(&w), 200);
    long long first = ms_since_last_seen(&w);
    cr_assert(first >= 0 && first < 1000, "the first use was not recorded: %lld", first);
    char before[64], after[64];
    kito_harness_sql_value(before, sizeof(before),
                           "SELECT last_seen_at FROM sessions WHERE account_id = %llu", w.id);
    for (int i = 0; i < 50; i++)
        cr_assert_eq(me(&w), 200);
    kito_harness_sql_value(after, sizeof(after),
                           "SELECT last_seen_at FROM sessions WHERE account_id = %llu", w.id);
    /* 50 requests answered from the session cache: no lookup, no write */
    cr_expect_str_eq(after, before, "last_seen_at moved during a burst");
}
