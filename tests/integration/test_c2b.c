/*
 * Payments in by M-Pesa paybill (issue 19): a real kitod registers its C2B URLs with a real
 * mpesa_sim (Daraja "Register URL": ShortCode, ResponseType, ConfirmationURL, ValidationURL), and
 * the simulator plays a buyer paying the paybill with her invoice number as the account number:
 * the ValidationURL first (C2B00012 "invalid account number" refuses it), then the
 * ConfirmationURL with Daraja's fields (TransactionType, TransID, TransTime, TransAmount,
 * BusinessShortCode, BillRefNumber, MSISDN, FirstName...). Recorded once by TransID; a partial
 * payment is a payment, an over-payment keeps its excess as the buyer's credit; the ledger
 * balances; nothing is lost.
 */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/integration/harness.h"
#include "tests/integration/harness_mpesa.h"

#define TOKEN "c2b-test-callback-token-0123456789"

static struct kito_kitod kd;
static struct kito_mpesa_sim sim;

static void suite_up(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    kito_mpesa_sim_start(&sim, NULL);
    const char *env[16] = {"KITO_MPESA_INITIATOR=kito_test", "KITO_MPESA_TIMEOUT_MS=1500",
                           "KITO_PAYOUT_INTERVAL_MS=100", "KITO_PAYOUT_CHECK_AFTER_MS=2500",
                           "KITO_PAY_MPESA_PAYBILL=" KITO_MPESA_SIM_PAYBILL};
    kito_mpesa_sim_env(&sim, TOKEN, NULL, env + 5);
    kito_harness_kitod_start(&kd, env);
    if (kito_harness_wait_health(&kd, 200, 20000) != 200) {
        kito_harness_kitod_stop(&kd, 5000);
        kito_mpesa_sim_stop(&sim);
        cr_assert_fail("kitod never became healthy; see %s", kd.log_path);
    }
    kito_mpesa_sim_point_at(&sim, kd.https_port);
}

static void suite_down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
    kito_mpesa_sim_stop(&sim);
    kito_mpesa_ledger_check();
}

TestSuite(c2b, .init = suite_up, .fini = suite_down, .timeout = 90);

/* The simulated buyer pays amount (KES, "50.00") to the paybill with account ref; returns the
 * simulator's answer (TransID, validation, paid, confirmations_accepted). Retries while kitod has
 * not registered its URLs yet (400). */
static json_t *pay(const char *ref, const char *amount, const char *trans_id, int times)
{
    char body[512];
    snprintf(body, sizeof(body),
             "{\"BillRefNumber\":\"%s\",\"Amount\":\"%s\",\"MSISDN\":\"254708374149\","
             "\"ShortCode\":\"" KITO_MPESA_SIM_PAYBILL "\",\"times\":%d%s%s%s}",
             ref, amount, times, trans_id != NULL ? ",\"TransID\":\"" : "",
             trans_id != NULL ? trans_id : "", trans_id != NULL ? "\"" : "");
    for (int i = 0; i < 100; i++) {
        json_t *out = NULL;
        long st = kito_mpesa_sim_call(&sim, "POST", "/kito-sim/c2b", body, &out);
        if (st == 200)
            return out;
        json_decref(out);
        kito_harness_sleep_ms(100);
    }
    cr_assert_fail("the simulator never had kitod's C2B URLs registered");
    return NULL;
}

Test(c2b, partial_repeat_and_over_payment_are_each_kept_once)
{
    struct kito_sold s;
    kito_mpesa_sold_invoice(&s, "31", "KES", false); /* owes KES 110.00 */

    /* an unknown account number is refused at validation: nothing moves, nothing is recorded */
    json_t *r = pay("INV-0000000000", "10.00", NULL, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "validation")), "C2B00012");
    cr_assert(json_is_false(json_object_get(r, "paid")));
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM mpesa_c2b_payments WHERE trans_id = '%s'",
                                    json_string_value(json_object_get(r, "TransID"))),
                 0);
    json_decref(r);

    /* KES 50.00 typed in lower case with a space: matched, a partial payment */
    char typed[40];
    snprintf(typed, sizeof(typed), "inv %s", s.invoice + 4);
    r = pay(typed, "50.00", NULL, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "validation")), "0");
    cr_assert_eq(json_integer_value(json_object_get(r, "confirmations_accepted")), 1);
    char first[16];
    snprintf(first, sizeof(first), "%s", json_string_value(json_object_get(r, "TransID")));
    json_decref(r);
    cr_assert_eq(
        kito_harness_count("SELECT paid_minor FROM invoices WHERE id = %llu", s.invoice_id), 5000);
    char state[16] = "";
    kito_harness_sql_value(state, sizeof(state),
                           "SELECT state FROM mpesa_c2b_payments WHERE trans_id = '%s'", first);
    cr_assert_str_eq(state, "partial");

    /* M-Pesa delivers the same confirmation again (twice): recorded once */
    r = pay(s.invoice, "50.00", first, 2);
    cr_assert_eq(json_integer_value(json_object_get(r, "confirmations_accepted")), 2);
    json_decref(r);
    cr_assert_eq(
        kito_harness_count("SELECT COUNT(*) FROM mpesa_c2b_payments WHERE trans_id = '%s'", first),
        1);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payments WHERE reference = '%s'", first),
                 1);
    cr_assert_eq(
        kito_harness_count("SELECT paid_minor FROM invoices WHERE id = %llu", s.invoice_id), 5000,
        "a repeated confirmation was counted twice");

    /* KES 80.00 against the 60.00 still due: 60.00 pays the invoice, 20.00 is her credit */
    r = pay(s.invoice, "80.00", NULL, 1);
    char second[16];
    snprintf(second, sizeof(second), "%s", json_string_value(json_object_get(r, "TransID")));
    json_decref(r);
    kito_harness_sql_value(state, sizeof(state), "SELECT status FROM invoices WHERE id = %llu",
                           s.invoice_id);
    cr_assert_str_eq(state, "paid");
    cr_assert_eq(kito_harness_count("SELECT applied_minor FROM mpesa_c2b_payments WHERE trans_id ="
                                    " '%s'",
                                    second),
                 6000);
    cr_assert_eq(kito_harness_count("SELECT credit_minor FROM mpesa_c2b_payments WHERE trans_id ="
                                    " '%s' AND state = 'over'",
                                    second),
                 2000);
    cr_assert_eq(kito_harness_count("SELECT -SUM(amount_minor) FROM ledger_entries WHERE"
                                    " account_code = 10 AND party_id = %llu AND currency = 'KES'",
                                    s.buyer),
                 2000, "the excess is the buyer's credit in the ledger");
    /* every shilling received is in cash: 50 + 80 */
    cr_assert_eq(kito_harness_count("SELECT SUM(e.amount_minor) FROM ledger_entries e JOIN"
                                    " ledger_transactions t ON t.id = e.transaction_id WHERE"
                                    " e.account_code = 7 AND t.reference IN ('%s', '%s',"
                                    " '%s-credit')",
                                    first, second, second),
                 13000);
    /* the invoice is paid: the miner's payout follows, to her wallet */
    unsigned long long id = kito_mpesa_wait_payout(&s, "succeeded", 20000);
    cr_assert_gt(id, 0);
    kito_mpesa_ledger_check();
}

Test(c2b, a_payment_no_invoice_takes_is_kept_and_the_callbacks_need_the_token)
{
    /* validation off (or unreachable with ResponseType Completed) still sends confirmations:
     * an unknown account number is then kept, unmatched, never dropped */
    const char *body = "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"UNMATCH001\","
                       "\"TransTime\":\"20261207120000\",\"TransAmount\":\"25.00\","
                       "\"BusinessShortCode\":\"" KITO_MPESA_SIM_PAYBILL "\","
                       "\"BillRefNumber\":\"nobody\",\"MSISDN\":\"254708374149\","
                       "\"FirstName\":\"A\"}";
    const char *headers[] = {"Content-Type: application/json", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payments/callbacks/mpesa/confirmation", body,
                           strlen(body), headers, 0, &r),
                 0);
    kito_assert_error(&r, 401, "unauthorized");
    kito_http_resp_free(&r);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM mpesa_c2b_payments WHERE trans_id ="
                                    " 'UNMATCH001'"),
                 0);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(kito_http(&kd, "POST",
                               "/v1/payments/callbacks/mpesa/confirmation?token=" TOKEN, body,
                               strlen(body), headers, 0, &r),
                     0);
        cr_assert_eq(r.status, 200, "%s", r.body);
        cr_assert_eq(json_integer_value(json_object_get(r.json, "ResultCode")), 0);
        kito_http_resp_free(&r);
    }
    cr_assert_eq(kito_harness_count("SELECT credit_minor FROM mpesa_c2b_payments WHERE trans_id ="
                                    " 'UNMATCH001' AND state = 'unmatched' AND invoice_id IS NULL"),
                 2500);
    /* not a C2B body: 400, nothing recorded */
    const char *junk = "{\"TransID\":\"\",\"TransAmount\":\"-1\"}";
    cr_assert_eq(kito_http(&kd, "POST", "/v1/payments/callbacks/mpesa/confirmation?token=" TOKEN,
                           junk, strlen(junk), headers, 0, &r),
                 0);
    kito_assert_error(&r, 400, "bad_request");
    kito_http_resp_free(&r);
    kito_mpesa_ledger_check();
}

/* GET path as the holder of token; the parsed answer (free with json_decref). */
static json_t *get_as(const char *token, const char *path)
{
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    const char *headers[] = {auth, NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", path, NULL, 0, headers, 0, &r), 0);
    cr_assert_eq(r.status, 200, "%s: %s", path, r.body);
    json_t *doc = json_incref(r.json);
    kito_http_resp_free(&r);
    return doc;
}

/* The item of page whose field name is value. */
static json_t *item_with(json_t *page, const char *name, const char *value)
{
    json_t *it;
    size_t i;
    json_array_foreach(json_object_get(page, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, name)), value) == 0)
            return it;
    }
    cr_assert_fail("no item with %s = %s", name, value);
    return NULL;
}

static long long amount_of(json_t *money)
{
    return (long long)json_integer_value(json_object_get(money, "amount"));
}

Test(c2b, a_usd_invoice_paid_in_shillings_is_converted_and_shown_to_buyer_and_organiser)
{
    /* USD 1 = KES 129.50 (the rate payouts use, recorded by the operator) */
    kito_harness_sql("INSERT INTO exchange_rates (from_currency, to_currency, rate_micros,"
                     " effective_from) VALUES ('USD', 'KES', 129500000, UTC_TIMESTAMP(3) -"
                     " INTERVAL 1 SECOND)");
    struct kito_sold s;
    kito_mpesa_sold_invoice(&s, "32", "USD", false); /* owes USD 110.00 */
    /* KES 15,000.00 = USD 115.83 (rounded down): 110.00 pays the invoice, 5.83 is her credit */
    json_t *r = pay(s.invoice, "15000.00", NULL, 1);
    cr_assert_str_eq(json_string_value(json_object_get(r, "validation")), "0");
    char trans[16];
    snprintf(trans, sizeof(trans), "%s", json_string_value(json_object_get(r, "TransID")));
    json_decref(r);
    cr_assert_eq(kito_harness_count("SELECT converted_minor FROM mpesa_c2b_payments WHERE"
                                    " trans_id = '%s' AND invoice_currency = 'USD'",
                                    trans),
                 11583);
    char state[16] = "";
    kito_harness_sql_value(state, sizeof(state), "SELECT status FROM invoices WHERE id = %llu",
                           s.invoice_id);
    cr_assert_str_eq(state, "paid");
    /* the conversion balances per currency through fx_conversion (account 9) */
    cr_assert_eq(kito_harness_count("SELECT SUM(e.amount_minor) FROM ledger_entries e JOIN"
                                    " ledger_transactions t ON t.id = e.transaction_id WHERE"
                                    " t.reference = '%s-fx' AND e.account_code = 7 AND"
                                    " e.currency = 'KES'",
                                    trans),
                 1500000);
    cr_assert_eq(kito_harness_count("SELECT -SUM(amount_minor) FROM ledger_entries WHERE"
                                    " account_code = 10 AND party_id = %llu AND currency = 'USD'",
                                    s.buyer),
                 583);
    kito_mpesa_ledger_check();

    /* shown: the buyer's invoice and the organiser's settlement carry what came in */
    json_t *page = get_as(s.buyer_token, "/v1/me/invoices?limit=100");
    json_t *inv = item_with(page, "number", s.invoice);
    json_t *m = json_object_get(inv, "mpesa");
    cr_assert(json_is_object(m), "the buyer's invoice does not show the M-Pesa payment");
    cr_assert_eq(amount_of(json_object_get(m, "received")), 1500000);
    cr_assert_eq(amount_of(json_object_get(m, "applied")), 11000);
    cr_assert_eq(amount_of(json_object_get(m, "credit")), 583);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "credit"), "currency")),
                     "USD");
    json_decref(page);
    char path[96], sid[32];
    cr_assert_eq(kito_id_format("sal", s.sale, sid, sizeof(sid)), KITO_OK);
    snprintf(path, sizeof(path), "/v1/sales/%s/settlements", sid);
    page = get_as(s.organizer_token, path);
    json_t *stl = item_with(page, "invoice_number", s.invoice);
    m = json_object_get(stl, "invoice_mpesa");
    cr_assert(json_is_object(m), "the organiser does not see the M-Pesa payment");
    cr_assert_eq(amount_of(json_object_get(m, "credit")), 583);
    json_decref(page);
}
