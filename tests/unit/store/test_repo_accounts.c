/* The pure rules of the accounts and sessions repositories: payout rails by country, new-account
 * validation (shared by POST /v1/accounts and kitoctl), the account view, the sign-in throttle's
 * verdicts and session lifetimes. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/store/repo_accounts.h"
#include "api/store/repo_sessions.h"

Test(rails, each_country_has_its_own)
{
    cr_assert(kito_account_rail_allowed("KE", "mpesa"));
    cr_assert(kito_account_rail_allowed("TZ", "tigo_pesa"));
    cr_assert(kito_account_rail_allowed("ZM", "mtn_momo"));
    cr_assert(kito_account_rail_allowed("MW", "tnm_mpamba"));
    cr_assert(kito_account_rail_allowed("MW", "airtel_money"));
    cr_assert_not(kito_account_rail_allowed("KE", "tigo_pesa"));
    cr_assert_not(kito_account_rail_allowed("ZM", "mpesa"));
    cr_assert_not(kito_account_rail_allowed("UG", "mpesa"));
    cr_assert_not(kito_account_rail_allowed(NULL, "mpesa"));
    cr_assert_not(kito_account_rail_allowed("KE", NULL));
}

Test(payout, number_and_rail_must_match_the_country)
{
    kito_verr ve;
    cr_assert_eq(kito_account_payout_validate("payout", "TZ", "+255712345678", "mpesa", &ve),
                 KITO_OK);
    cr_assert_eq(kito_account_payout_validate("payout", "TZ", "+254712345678", "mpesa", &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "payout.msisdn");
    cr_assert_eq(kito_account_payout_validate("payout", "TZ", "+255712345678", "mtn_momo", &ve),
                 KITO_E_VALIDATION);
    cr_assert_str_eq(ve.field, "payout.rail");
    cr_assert(strstr(ve.reason, "tigo_pesa") != NULL, "%s", ve.reason);
}

Test(new_account, a_miner_gets_her_phones_country_and_a_default_wallet)
{
    kito_account_new a;
    kito_verr ve;
    cr_assert_eq(kito_account_new_validate(&a, "miner", "Neema", "+260971234567", NULL, NULL, NULL,
                                           "5937", NULL, NULL, &ve),
                 KITO_OK, "%s %s", ve.field, ve.reason);
    cr_assert_str_eq(a.country, "ZM");
    cr_assert_str_eq(a.payout_rail, "mtn_momo");
    cr_assert_str_eq(a.payout_msisdn, "+260971234567");
    cr_assert_str_eq(a.locale, "en");
    cr_assert(a.secret_is_pin);
}

Test(new_account, refusals_name_the_field)
{
    kito_account_new a;
    kito_verr ve;
    static const struct {
        const char *role, *phone, *email, *country, *secret, *rail, *field;
    } cases[] = {
        {"miner", "+447700900123", NULL, NULL, "5937", NULL, "phone"},
        {"miner", "+255712345678", NULL, NULL, "1234", NULL, "pin"},
        {"miner", "+255712345678", NULL, "KE", "5937", NULL, "country"},
        {"miner", "+255712345678", NULL, NULL, "5937", "mtn_momo", "payout.rail"},
        {"miner", NULL, NULL, NULL, "5937", NULL, "phone"},
        {"miner", "+255712345678", "m@x.test", NULL, "5937", NULL, "email"},
        {"buyer", NULL, "b@x.test", NULL, "short", NULL, "password"},
        {"buyer", "+255712345678", NULL, NULL, "long enough", NULL, "email"},
        {"buyer", NULL, "b@x.test", NULL, "long enough", "mpesa", "payout"},
        {"valuer", NULL, NULL, NULL, "long enough", NULL, "email"},
        {"admin", NULL, "a@x.test", NULL, "long enough", NULL, "role"},
        {"buyer", NULL, "b@x.test", "de", "long enough", NULL, "country"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&ve, 0, sizeof(ve));
        kito_err e = kito_account_new_validate(&a, cases[i].role, "Name", cases[i].phone,
                                               cases[i].email, cases[i].country, NULL,
                                               cases[i].secret, NULL, cases[i].rail, &ve);
        cr_assert_eq(e, KITO_E_VALIDATION, "case %zu accepted", i);
        cr_assert_str_eq(ve.field, cases[i].field, "case %zu: %s %s", i, ve.field, ve.reason);
    }
    /* staff may use a phone of any country */
    cr_assert_eq(kito_account_new_validate(&a, "valuer", "V", "+447700900123", NULL, "GB", NULL,
                                           "long enough", NULL, NULL, &ve),
                 KITO_OK);
    cr_assert_not(a.secret_is_pin);
}

Test(view, never_shows_a_secret_and_shows_the_miners_wallet)
{
    kito_account a = {
        .id = 42, .created_at_ms = 1795000000000LL, .has_profile = true, .association_id = 7};
    strcpy(a.role, "miner");
    strcpy(a.name, "Neema");
    strcpy(a.phone, "+255712345678");
    strcpy(a.locale, "sw");
    strcpy(a.status, "active");
    strcpy(a.country, "TZ");
    strcpy(a.payout_msisdn, "+255712345678");
    strcpy(a.payout_rail, "mpesa");
    json_t *v = kito_account_view(&a);
    cr_assert_not_null(v);
    cr_assert_str_eq(json_string_value(json_object_get(v, "id")), "acc_000000000001a");
    cr_assert(json_is_null(json_object_get(v, "email")));
    json_t *m = json_object_get(v, "miner");
    cr_assert_str_eq(json_string_value(json_object_get(m, "association_id")), "asn_0000000000007");
    cr_assert_null(json_object_get(v, "secret_hash"));
    json_decref(v);
}

static kito_signin_counter counter(uint32_t failures, int64_t since_first_ms, int64_t since_last_ms,
                                   int64_t locked_for_ms)
{
    return (kito_signin_counter){failures, since_first_ms, since_last_ms, locked_for_ms};
}

Test(throttle, slows_exponentially_then_locks)
{
    const kito_signin_policy *p = &kito_signin_policy_default;
    uint32_t ra;
    kito_signin_counter c = counter(4, 1000, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_OK);
    c = counter(5, 1000, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(ra, 1);
    c = counter(5, 1000, 1000, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_OK);
    c = counter(7, 1000, 500, 0); /* 4 s after the 7th */
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(ra, 4);
    c = counter(40, 1000, 0, 0); /* capped */
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(ra, p->delay_max_s);
    c = counter(10, 1000, 0, 899001);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_E_LOCKED);
    cr_assert_eq(ra, 900);
    /* a counter whose first failure left the window counts for nothing */
    c = counter(9, 16 * 60 * 1000, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_OK);
    c = counter(9, 16 * 60 * 1000, 0, -5);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_OK);
}

/* Issue 15, finding 3: the account-wide counter only slows (strangers' addresses), never locks,
 * so that failures from anywhere cannot lock the owner out; its window is a day. */
Test(throttle, the_account_rule_slows_and_never_locks)
{
    const kito_signin_policy *p = &kito_signin_policy_default;
    uint32_t ra;
    cr_assert_eq(p->account.lock_after, 0);
    kito_signin_counter c = counter(10, 60 * 1000, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->account, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(ra, 32);
    /* a lock left on an account row by older code is not honoured */
    c = counter(10, 60 * 1000, 40 * 1000, 600 * 1000);
    cr_assert_eq(kito_signin_throttle_check(p, &p->account, &c, &ra), KITO_OK);
    c = counter(1000, 60 * 1000, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->account, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(ra, p->delay_max_s);
    /* failures of the last day still count (a pair counter would have started over) */
    c = counter(9, 20 * 3600 * 1000LL, 0, 0);
    cr_assert_eq(kito_signin_throttle_check(p, &p->account, &c, &ra), KITO_E_RATE_LIMITED);
    cr_assert_eq(kito_signin_throttle_check(p, &p->pair, &c, &ra), KITO_OK);
}

Test(sessions, staff_sessions_are_short)
{
    cr_assert_eq(kito_session_lifetime_s("miner"), 30 * 86400);
    cr_assert_eq(kito_session_lifetime_s("buyer"), 30 * 86400);
    cr_assert_eq(kito_session_lifetime_s("organizer"), 12 * 3600);
    cr_assert_eq(kito_session_lifetime_s("valuer"), 12 * 3600);
    cr_assert_eq(kito_session_lifetime_s("operator"), 12 * 3600);
}
