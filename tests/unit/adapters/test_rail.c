/* The payout rails' pure drivers (api/adapters/rail.h): MTN MoMo and Airtel Money requests as
 * their providers document them, their answers (acceptance, status enquiry, token), and what
 * cannot be read staying unknown. No socket. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/adapters/rail.h"

static const kito_rail_conf momo_conf = {.base_url = "http://127.0.0.1:9",
                                         .client_id = "7f2c5a8e-1b3d-4c6e-9f0a-2b4d6e8f0a1c",
                                         .client_secret = "key",
                                         .subscription_key = "sub",
                                         .environment = "sandbox",
                                         .timeout_ms = 1000};
static const kito_rail_conf airtel_conf = {.base_url = "http://127.0.0.1:9",
                                           .client_id = "cid",
                                           .client_secret = "secret",
                                           .pin = "ENCRYPTEDPIN",
                                           .timeout_ms = 1000};

static bool has_header(const kito_rail_request *r, const char *h)
{
    for (size_t i = 0; i < KITO_RAIL_HEADERS_MAX; i++)
        if (strcmp(r->headers[i], h) == 0)
            return true;
    return false;
}

Test(rail, drivers_by_rail_name)
{
    cr_assert_eq(kito_rail_find("mpesa"), &kito_rail_mpesa);
    cr_assert_eq(kito_rail_find("mtn_momo"), &kito_rail_momo);
    cr_assert_eq(kito_rail_find("airtel_money"), &kito_rail_airtel);
    cr_assert_null(kito_rail_find("tnm_mpamba"));
    cr_assert_null(kito_rail_find(NULL));
}

Test(rail, momo_reference_is_a_uuid_v4)
{
    uint8_t rnd[16];
    memset(rnd, 0xff, sizeof(rnd));
    char ref[KITO_RAIL_REF_SIZE];
    kito_rail_momo.make_reference(7, 1, rnd, ref);
    cr_assert_eq(strlen(ref), 36);
    cr_assert_eq(ref[14], '4');
    cr_assert(strchr("89ab", ref[19]) != NULL);
}

Test(rail, momo_token_and_transfer)
{
    kito_rail_request r;
    cr_assert_eq(kito_rail_momo.build_token(&momo_conf, &r), KITO_OK);
    cr_assert_str_eq(r.path, "/disbursement/token/");
    cr_assert(has_header(&r, "Ocp-Apim-Subscription-Key: sub"));
    cr_assert(strncmp(r.headers[0], "Authorization: Basic ", 21) == 0);
    kito_rail_request_clear(&r);
    char tok[64];
    int64_t life;
    const char *ans =
        "{\"access_token\":\"abc\",\"token_type\":\"access_token\",\"expires_in\":3600}";
    cr_assert(kito_rail_token_parse(200, ans, strlen(ans), tok, sizeof(tok), &life));
    cr_assert_str_eq(tok, "abc");
    cr_assert_eq(life, 3600);
    const char *airtel_ans =
        "{\"access_token\":\"x\",\"expires_in\":\"180\",\"token_type\":\"bearer\"}";
    cr_assert(kito_rail_token_parse(200, airtel_ans, strlen(airtel_ans), tok, sizeof(tok), &life));
    cr_assert_eq(life, 180);
    cr_assert_not(kito_rail_token_parse(401, ans, strlen(ans), tok, sizeof(tok), &life));
    cr_assert_not(
        kito_rail_token_parse(200, "{\"access_token\":\"x\"}", 20, tok, sizeof(tok), &life));

    kito_rail_transfer t = {.reference = "a00616e3-0195-471a-a9db-9dc9e38da9ea",
                            .amount_units = 2358,
                            .currency = "ZMW",
                            .country = "ZM",
                            .msisdn = "+260971000303",
                            .remarks = "Kito payout",
                            .payout_id = "pay_0000000000001"};
    cr_assert_eq(kito_rail_momo.build_transfer(&momo_conf, &t, &r), KITO_OK);
    cr_assert_str_eq(r.method, "POST");
    cr_assert_str_eq(r.path, "/disbursement/v1_0/transfer");
    cr_assert(r.bearer);
    cr_assert(has_header(&r, "X-Reference-Id: a00616e3-0195-471a-a9db-9dc9e38da9ea"));
    cr_assert(has_header(&r, "X-Target-Environment: sandbox"));
    cr_assert_str_eq(json_string_value(json_object_get(r.body, "amount")), "2358");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.body, "payee"), "partyId")),
        "260971000303");
    kito_rail_request_clear(&r);
    t.amount_units = 0;
    cr_assert_eq(kito_rail_momo.build_transfer(&momo_conf, &t, &r), KITO_E_VALIDATION);
    kito_rail_request_clear(&r);
}

Test(rail, momo_answers)
{
    const char *ref = "a00616e3-0195-471a-a9db-9dc9e38da9ea";
    kito_rail_answer a;
    kito_rail_momo.parse_acceptance(202, NULL, 0, ref, &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_ACCEPTED);
    /* a reference seen before: it arrived, so its outcome is asked for, never assumed */
    kito_rail_momo.parse_acceptance(409, "{\"code\":\"RESOURCE_ALREADY_EXIST\"}", 33, ref, &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_UNKNOWN);
    kito_rail_momo.parse_acceptance(400, "{\"code\":\"INVALID\"}", 18, ref, &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_REFUSED);
    kito_rail_momo.parse_acceptance(0, NULL, 0, ref, &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_UNKNOWN);
    kito_rail_momo.parse_acceptance(500, "oops", 4, ref, &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_UNKNOWN);

    kito_rail_result res;
    const char *ok = "{\"amount\":\"2358\",\"currency\":\"ZMW\",\"financialTransactionId\":\"MM1\","
                     "\"externalId\":\"pay_1\",\"payee\":{\"partyIdType\":\"MSISDN\",\"partyId\":"
                     "\"260971000303\"},\"status\":\"SUCCESSFUL\"}";
    cr_assert_eq(kito_rail_momo.parse_status(200, ok, strlen(ok), ref, &res),
                 KITO_RAIL_STATUS_FINAL);
    cr_assert(res.success);
    cr_assert(res.has_amount);
    cr_assert_eq(res.amount_units, 2358);
    cr_assert_str_eq(res.currency, "ZMW");
    cr_assert_str_eq(res.wallet, "260971000303");
    cr_assert_str_eq(res.transaction_id, "MM1");
    const char *failed = "{\"status\":\"FAILED\",\"reason\":{\"code\":\"PAYEE_NOT_FOUND\"}}";
    cr_assert_eq(kito_rail_momo.parse_status(200, failed, strlen(failed), ref, &res),
                 KITO_RAIL_STATUS_FINAL);
    cr_assert_not(res.success);
    cr_assert_str_eq(res.code, "FAILED:PAYEE_NOT_FOUND");
    const char *pending = "{\"status\":\"PENDING\"}";
    cr_assert_eq(kito_rail_momo.parse_status(200, pending, strlen(pending), ref, &res),
                 KITO_RAIL_STATUS_PENDING);
    cr_assert_eq(kito_rail_momo.parse_status(404, "{}", 2, ref, &res), KITO_RAIL_STATUS_NOT_FOUND);
    cr_assert_eq(kito_rail_momo.parse_status(200, "{\"status\":\"SUCCESSFUL\"}", 23, ref, &res),
                 KITO_RAIL_STATUS_UNKNOWN, "a success without its receipt is not readable");
    cr_assert_eq(kito_rail_momo.parse_status(200, "not json", 8, ref, &res),
                 KITO_RAIL_STATUS_UNKNOWN);
}

Test(rail, airtel_transfer_and_answers)
{
    kito_rail_transfer t = {.reference = "kito1x1xabcdef",
                            .amount_units = 154415,
                            .currency = "MWK",
                            .country = "MW",
                            .msisdn = "+265991000404",
                            .remarks = "Kito payout",
                            .payout_id = "pay_0000000000002"};
    kito_rail_request r;
    cr_assert_eq(kito_rail_airtel.build_transfer(&airtel_conf, &t, &r), KITO_OK);
    cr_assert_str_eq(r.path, "/standard/v2/disbursements/");
    cr_assert(has_header(&r, "X-Country: MW"));
    cr_assert(has_header(&r, "X-Currency: MWK"));
    /* the national number, without the country code */
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r.body, "payee"), "msisdn")),
                     "991000404");
    cr_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.body, "transaction"), "id")),
        "kito1x1xabcdef");
    kito_rail_request_clear(&r);
    t.country = "ZM"; /* a Malawian number cannot be paid as a Zambian one */
    cr_assert_eq(kito_rail_airtel.build_transfer(&airtel_conf, &t, &r), KITO_E_VALIDATION);
    kito_rail_request_clear(&r);

    kito_rail_answer a;
    const char *tip = "{\"data\":{\"transaction\":{\"id\":\"kito1x1xabcdef\",\"status\":\"TIP\"}},"
                      "\"status\":{\"success\":true,\"response_code\":\"DP00900001006\"}}";
    kito_rail_airtel.parse_acceptance(200, tip, strlen(tip), "kito1x1xabcdef", &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_ACCEPTED);
    cr_assert_not(a.final);
    const char *ts = "{\"data\":{\"transaction\":{\"id\":\"kito1x1xabcdef\",\"status\":\"TS\","
                     "\"airtel_money_id\":\"AM1\"}},\"status\":{\"success\":true}}";
    kito_rail_airtel.parse_acceptance(200, ts, strlen(ts), "kito1x1xabcdef", &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_ACCEPTED);
    cr_assert(a.final);
    cr_assert(a.result.success);
    cr_assert_str_eq(a.result.transaction_id, "AM1");
    kito_rail_airtel.parse_acceptance(200, "{\"status\":{\"success\":false}}", 28, "x", &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_REFUSED);
    kito_rail_airtel.parse_acceptance(409, "{}", 2, "x", &a);
    cr_assert_eq(a.ack, KITO_RAIL_ACK_UNKNOWN);

    kito_rail_result res;
    cr_assert_eq(kito_rail_airtel.parse_status(200, ts, strlen(ts), "kito1x1xabcdef", &res),
                 KITO_RAIL_STATUS_FINAL);
    cr_assert(res.success);
    cr_assert_not(res.has_amount, "Airtel reports no amount");
    cr_assert_eq(kito_rail_airtel.parse_status(200, ts, strlen(ts), "another", &res),
                 KITO_RAIL_STATUS_UNKNOWN, "an answer about another transaction");
    cr_assert_eq(kito_rail_airtel.parse_status(200, tip, strlen(tip), "kito1x1xabcdef", &res),
                 KITO_RAIL_STATUS_PENDING);
    cr_assert_eq(kito_rail_airtel.parse_status(404, "{}", 2, "kito1x1xabcdef", &res),
                 KITO_RAIL_STATUS_NOT_FOUND);
    t.country = "MW";
    cr_assert_eq(kito_rail_airtel.build_status(&airtel_conf, &t, "", &r), KITO_OK);
    cr_assert_str_eq(r.path, "/standard/v2/disbursements/kito1x1xabcdef?transactionType=B2C");
    kito_rail_request_clear(&r);
}

/* Daraja's OAuth (developer.safaricom.co.ke, "Authorization"): GET the generate endpoint with
 * Basic base64(consumer key:secret); the answer's expires_in is a string ("3599"). Transfers and
 * status queries carry the token. */
Test(rail, mpesa_token_request_and_answer)
{
    const kito_rail_conf conf = {.base_url = "http://127.0.0.1:9",
                                 .client_id = "key",
                                 .client_secret = "secret",
                                 .timeout_ms = 1000};
    kito_rail_request r;
    cr_assert_eq(kito_rail_mpesa.build_token(&conf, &r), KITO_OK);
    cr_assert_str_eq(r.method, "GET");
    cr_assert_str_eq(r.path, "/oauth/v1/generate?grant_type=client_credentials");
    cr_assert(has_header(&r, "Authorization: Basic a2V5OnNlY3JldA=="), "%s", r.headers[0]);
    cr_assert(!r.bearer, "the token request itself carries no bearer token");
    kito_rail_request_clear(&r);
    const kito_rail_conf none = {.base_url = "http://127.0.0.1:9", .client_id = "key"};
    cr_assert_eq(kito_rail_mpesa.build_token(&none, &r), KITO_E_VALIDATION);
    kito_rail_request_clear(&r);
    char tok[64];
    int64_t life = 0;
    const char *ans = "{\"access_token\":\"c9SQxWWhmdVRlyh0zh8gZDTkubVF\",\"expires_in\":\"3599\"}";
    cr_assert(kito_rail_mpesa.parse_token(200, ans, strlen(ans), tok, sizeof(tok), &life));
    cr_assert_str_eq(tok, "c9SQxWWhmdVRlyh0zh8gZDTkubVF");
    cr_assert_eq(life, 3599);
    const char *bad = "{\"errorCode\":\"400.008.01\",\"errorMessage\":\"Invalid Authentication\"}";
    cr_assert(!kito_rail_mpesa.parse_token(400, bad, strlen(bad), tok, sizeof(tok), &life));
}
