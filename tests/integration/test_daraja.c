/*
 * Daraja as the real service works (issue 19): a real kitod pays through a real mpesa_sim that
 * checks what Safaricom checks. Field and endpoint names are Daraja's (developer.safaricom.co.ke):
 *   - OAuth: GET /oauth/v1/generate?grant_type=client_credentials with Basic consumer key and
 *     secret gives {"access_token", "expires_in": "3599"}; every API call carries it as a Bearer
 *     token; an expired one gets 401 errorCode 404.001.03 "Invalid Access Token".
 *   - SecurityCredential: the initiator password encrypted with M-Pesa's X.509 certificate (RSA,
 *     PKCS #1 v1.5), base64. The simulator decrypts it with the certificate's private key (made by
 *     openssl for this run); a wrong one fails the B2C with ResultCode 2001.
 * Each test starts its own simulator (its flags differ) and kitod.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_mpesa.h"

#define TOKEN "daraja-test-callback-token-0123456789"

static struct kito_kitod kd;
static struct kito_mpesa_sim sim;

/* The simulator with sim_args (NULL-terminated, may be NULL), then kitod paying through it with
 * password as the initiator password (NULL: the right one). */
static void up(const char *const *sim_args, const char *password)
{
    kito_mpesa_sim_start(&sim, sim_args);
    const char *env[16] = {"KITO_MPESA_INITIATOR=kito_test", "KITO_MPESA_TIMEOUT_MS=1500",
                           "KITO_PAYOUT_INTERVAL_MS=100", "KITO_PAYOUT_CHECK_AFTER_MS=2500"};
    kito_mpesa_sim_env(&sim, TOKEN, password, env + 4);
    kito_harness_kitod_start(&kd, env);
    if (kito_harness_wait_health(&kd, 200, 20000) != 200) {
        kito_harness_kitod_stop(&kd, 5000);
        kito_mpesa_sim_stop(&sim);
        cr_assert_fail("kitod never became healthy; see %s", kd.log_path);
    }
    kito_mpesa_sim_point_at(&sim, kd.https_port);
}

static void suite_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void suite_down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    kito_mpesa_sim_stop(&sim);
    kito_mpesa_ledger_check();
}

TestSuite(daraja, .init = suite_init, .fini = suite_down, .timeout = 90);

/* The simulator's record of the payment for payout id: paid (ResultCode 0), whether the
 * SecurityCredential decrypted to the initiator password. -1 when it has none. */
static int sim_paid(unsigned long long payout, bool *credential_ok)
{
    char occasion[32];
    cr_assert_eq(kito_id_format("pay", payout, occasion, sizeof(occasion)), KITO_OK);
    json_t *doc = NULL;
    cr_assert_eq(kito_mpesa_sim_call(&sim, "GET", "/kito-sim/payments", NULL, &doc), 200);
    json_t *p;
    size_t i;
    int paid = -1;
    json_array_foreach(json_object_get(doc, "payments"), i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "Occasion")), occasion) != 0)
            continue;
        paid = json_integer_value(json_object_get(p, "ResultCode")) == 0 ? 1 : 0;
        if (credential_ok != NULL)
            *credential_ok = json_is_true(json_object_get(p, "credential_ok"));
    }
    json_decref(doc);
    return paid;
}

Test(daraja, one_token_is_fetched_cached_and_refreshed_once_after_a_401)
{
    up(NULL, NULL);
    struct kito_sold a, b;
    kito_mpesa_sold(&a, "21", "KES");
    unsigned long long pa = kito_mpesa_wait_payout(&a, "succeeded", 15000);
    bool cred = false;
    cr_assert_eq(sim_paid(pa, &cred), 1);
    cr_assert(cred, "the SecurityCredential did not decrypt to the initiator password");
    /* the Basic credentials were right and a token served the request (one per sender thread
     * at most: KITO_PAYOUT_SENDERS share it, but two may fetch at once) */
    long long tokens = kito_mpesa_sim_counter(&sim, "tokens_issued");
    cr_assert(tokens >= 1 && tokens <= 4, "%lld tokens", tokens);
    cr_assert_eq(kito_mpesa_sim_counter(&sim, "unauthorized_calls"), 0);
    /* the provider expires it early (revoked, rotated): the next call gets 401, and the client
     * fetches one new token and sends the same request once more */
    cr_assert_eq(kito_mpesa_sim_call(&sim, "POST", "/kito-sim/expire-tokens", "{}", NULL), 200);
    kito_mpesa_sold(&b, "22", "KES");
    unsigned long long pb = kito_mpesa_wait_payout(&b, "succeeded", 15000);
    cr_assert_eq(sim_paid(pb, NULL), 1, "paid once");
    cr_assert_gt(kito_mpesa_sim_counter(&sim, "tokens_issued"), tokens, "no new token");
    cr_assert_geq(kito_mpesa_sim_counter(&sim, "unauthorized_calls"), 1);
    cr_assert_eq(
        kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", pb), 1,
        "a 401 is not a failed attempt");
}

Test(daraja, a_token_is_refreshed_before_it_expires)
{
    /* a 12 s token is used for 2 s (the client refreshes a fifth of its life early, at least
     * 10 s: rail_client.c), so the second payout 3 s later needs a new one and never sees 401 */
    const char *args[] = {"--token-ttl-s", "12", NULL};
    up(args, NULL);
    struct kito_sold a, b;
    kito_mpesa_sold(&a, "23", "KES");
    kito_mpesa_wait_payout(&a, "succeeded", 15000);
    long long tokens = kito_mpesa_sim_counter(&sim, "tokens_issued");
    cr_assert_geq(tokens, 1);
    kito_harness_sleep_ms(3000);
    kito_mpesa_sold(&b, "24", "KES");
    kito_mpesa_wait_payout(&b, "succeeded", 15000);
    cr_assert_gt(kito_mpesa_sim_counter(&sim, "tokens_issued"), tokens, "the old token was kept");
    cr_assert_eq(kito_mpesa_sim_counter(&sim, "unauthorized_calls"), 0,
                 "the token was used after it expired");
}

Test(daraja, without_a_token_nothing_is_claimed_and_it_is_sent_once_one_comes)
{
    up(NULL, NULL);
    kito_harness_kitod_stop(&kd, 5000);
    /* (the first kitod may have fetched a token for attempts earlier tests left open) */
    long long tokens = kito_mpesa_sim_counter(&sim, "tokens_issued");
    const char *env[16] = {"KITO_MPESA_INITIATOR=kito_test", "KITO_MPESA_TIMEOUT_MS=1500",
                           "KITO_PAYOUT_INTERVAL_MS=100", "KITO_PAYOUT_CHECK_AFTER_MS=2500"};
    kito_mpesa_sim_env(&sim, TOKEN, NULL, env + 4);
    env[4 + 5] = "KITO_MPESA_CONSUMER_SECRET=not-the-secret"; /* kito_mpesa_sim_env order */
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 20000), 200);
    kito_mpesa_sim_point_at(&sim, kd.https_port);
    struct kito_sold a;
    kito_mpesa_sold(&a, "25", "KES");
    unsigned long long id = kito_mpesa_wait_payout(&a, "submitted", 15000);
    kito_harness_sleep_ms(2500);
    /* the provider refuses the token (400.008.01): no request went out, and the attempt was
     * never claimed, so its outcome is not unknown: it waits, queued */
    cr_assert_eq(sim_paid(id, NULL), -1, "a request went out without a token");
    cr_assert_eq(kito_mpesa_sim_counter(&sim, "tokens_issued"), tokens);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu"
                                    " AND state = 'queued'",
                                    id),
                 1, "an attempt was claimed without a token");
    /* the operator fixes the secret: the same attempt goes out, once */
    kito_harness_kitod_stop(&kd, 5000);
    kito_mpesa_sim_env(&sim, TOKEN, NULL, env + 4);
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 20000), 200);
    kito_mpesa_sim_point_at(&sim, kd.https_port);
    kito_mpesa_wait_payout(&a, "succeeded", 15000);
    cr_assert_eq(sim_paid(id, NULL), 1);
    cr_assert_eq(
        kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1);
}

Test(daraja, a_wrong_initiator_password_is_refused_by_the_provider_and_pays_nothing)
{
    up(NULL, "not-the-initiator-password");
    struct kito_sold a;
    kito_mpesa_sold(&a, "26", "KES");
    unsigned long long id = kito_mpesa_wait_payout(&a, "failed", 15000);
    bool cred = true;
    cr_assert_eq(sim_paid(id, &cred), 0, "the provider paid with a wrong credential");
    cr_assert(!cred);
    char code[32] = "";
    kito_harness_sql_value(code, sizeof(code),
                           "SELECT result_code FROM payout_attempts WHERE payout_id = %llu"
                           " ORDER BY attempt_no DESC LIMIT 1",
                           id);
    cr_assert_str_eq(code, "2001", "Daraja's 'The initiator information is invalid.'");
    char pid[32];
    cr_assert_eq(kito_id_format("pay", id, pid, sizeof(pid)), KITO_OK);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM ledger_transactions WHERE kind ="
                                    " 'payout' AND reference = '%s'",
                                    pid),
                 0, "nothing paid, nothing posted: the miner is still owed");
}

/* ---- Transaction Status: the answer to a payment was lost (issue 19) -------------------------
 * Wallets ending in 89: the simulator pays, never answers the B2C request and never calls its
 * ResultURL. Only the asynchronous Transaction Status query (its result posted to
 * /v1/payouts/callbacks/mpesa/status, ResultParameters TransactionStatus "Completed", ReceiptNo,
 * Amount, CreditPartyName, OriginatorConversationID) can tell Kito it was paid. */

/* Paid exactly once: one succeeded attempt (of one), one payout ledger transaction, one
 * payout.succeeded audit row, one request and one payment at the provider. */
static void assert_paid_once(unsigned long long id)
{
    char pid[32];
    cr_assert_eq(kito_id_format("pay", id, pid, sizeof(pid)), KITO_OK);
    cr_assert_eq(
        kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu", id), 1,
        "a request whose answer was lost was sent again");
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu"
                                    " AND state = 'succeeded'",
                                    id),
                 1);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM ledger_transactions WHERE kind ="
                                    " 'payout' AND reference = '%s'",
                                    pid),
                 1);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM audit_log WHERE action ="
                                    " 'payout.succeeded' AND entity_id = %llu",
                                    id),
                 1);
    cr_assert_eq(sim_paid(id, NULL), 1);
}

Test(daraja, a_lost_answer_is_resolved_by_the_transaction_status_result)
{
    up(NULL, NULL);
    struct kito_sold a;
    kito_mpesa_sold(&a, "89", "KES");
    unsigned long long id = kito_mpesa_wait_payout(&a, "succeeded", 30000);
    assert_paid_once(id);
    cr_assert_geq(kito_mpesa_sim_counter(&sim, "status_queries"), 1);
    char txn[40] = "";
    kito_harness_sql_value(txn, sizeof(txn),
                           "SELECT transaction_id FROM payout_attempts WHERE payout_id = %llu", id);
    cr_assert(txn[0] != '\0', "the ReceiptNo of the status result is the attempt's receipt");
}

Test(daraja, a_late_status_result_still_lands_once)
{
    /* the result comes 2.5 s after each query: the worker asks again meanwhile, and every late
     * result is applied once */
    const char *args[] = {"--status-result", "late", NULL};
    up(args, NULL);
    struct kito_sold a;
    kito_mpesa_sold(&a, "89", "KES");
    unsigned long long id = kito_mpesa_wait_payout(&a, "succeeded", 40000);
    kito_harness_sleep_ms(3000); /* the later results land too */
    assert_paid_once(id);
}

Test(daraja, duplicate_status_results_change_nothing_and_forged_ones_are_refused)
{
    const char *args[] = {"--status-result", "duplicate", NULL};
    up(args, NULL);
    struct kito_sold a;
    kito_mpesa_sold(&a, "89", "KES");
    unsigned long long id = kito_mpesa_wait_payout(&a, "succeeded", 30000);
    kito_harness_sleep_ms(1000);
    assert_paid_once(id);

    /* the status callback is authenticated like the B2C one: no token, nothing read */
    struct kito_sold b;
    kito_mpesa_sold(&b, "92", "KES"); /* timeout: accepted, never final */
    unsigned long long pb = kito_mpesa_wait_payout(&b, "submitted", 15000);
    char ocid[80] = "";
    for (int i = 0; i < 50 && ocid[0] == '\0'; i++) {
        kito_harness_sql_value(ocid, sizeof(ocid),
                               "SELECT originator_conversation_id FROM payout_attempts WHERE"
                               " payout_id = %llu AND state = 'accepted'",
                               pb);
        kito_harness_sleep_ms(100);
    }
    cr_assert(ocid[0] != '\0');
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"ResultDesc\":\"ok\","
             "\"OriginatorConversationID\":\"forged\",\"ConversationID\":\"AG_F\","
             "\"TransactionID\":\"FORGED0001\",\"ResultParameters\":{\"ResultParameter\":["
             "{\"Key\":\"OriginatorConversationID\",\"Value\":\"%s\"},"
             "{\"Key\":\"TransactionStatus\",\"Value\":\"Completed\"},"
             "{\"Key\":\"Amount\",\"Value\":89},{\"Key\":\"ReceiptNo\",\"Value\":\"FORGED0001\"}"
             "]}}}",
             ocid);
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payouts/callbacks/mpesa/status", body, strlen(body),
                           headers, 0, &r),
                 0);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "POST",
                           "/v1/payouts/callbacks/mpesa/status?token=wrong-token-123456", body,
                           strlen(body), headers, 0, &r),
                 0);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    /* right token, a body that names no payment: 400 */
    const char *junk = "{\"Result\":{\"ResultCode\":0}}";
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payouts/callbacks/mpesa/status?token=" TOKEN, junk,
                           strlen(junk), headers, 0, &r),
                 0);
    kito_assert_error(&r, 400, "bad_request");
    kito_http_resp_free(&r);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_attempts WHERE payout_id = %llu"
                                    " AND state = 'accepted'",
                                    pb),
                 1, "a forged status result changed the attempt");
}
