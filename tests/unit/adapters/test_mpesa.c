/* The M-Pesa Daraja B2C driver's pure half (api/adapters/mpesa.h): request building, answer and
 * callback parsing (malformed input included), the callback token, amount conversion and
 * rounding. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/adapters/mpesa.h"

static const kito_mpesa_conf conf = {
    .base_url = "http://127.0.0.1:9",
    .initiator = "kito_api",
    .security_credential = "c2VjcmV0",
    .shortcode = "600000",
    .callback_base = "https://kito.example/",
    .callback_token = "tok en/+secret-0123456789",
    .timeout_ms = 1000,
};

static const kito_mpesa_b2c good = {
    .originator_conversation_id = "kito-1-1-00ff",
    .amount_units = 12950,
    .msisdn = "+254712345678",
    .remarks = "Kito payout",
    .occasion = "pay_0000000000001",
};

Test(mpesa, b2c_request_has_every_daraja_field)
{
    json_t *doc;
    cr_assert_eq(kito_mpesa_b2c_build(&conf, &good, &doc), KITO_OK);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "InitiatorName")), "kito_api");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "SecurityCredential")), "c2VjcmV0");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "CommandID")), "BusinessPayment");
    cr_assert_eq(json_integer_value(json_object_get(doc, "Amount")), 12950);
    cr_assert(json_is_integer(json_object_get(doc, "Amount")), "M-Pesa takes whole units");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "PartyA")), "600000");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "PartyB")), "254712345678");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "Remarks")), "Kito payout");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "Occasion")), "pay_0000000000001");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "OriginatorConversationID")),
                     "kito-1-1-00ff");
    const char *url = json_string_value(json_object_get(doc, "ResultURL"));
    cr_assert_str_eq(url, "https://kito.example/v1/payouts/callbacks/mpesa"
                          "?token=tok%20en%2F%2Bsecret-0123456789");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "QueueTimeOutURL")), url);
    cr_assert_eq(json_object_size(doc), 11);
    json_decref(doc);
}

Test(mpesa, b2c_request_refuses_bad_input)
{
    json_t *doc = (json_t *)1;
    kito_mpesa_b2c b = good;
    b.amount_units = 0;
    cr_assert_eq(kito_mpesa_b2c_build(&conf, &b, &doc), KITO_E_VALIDATION);
    cr_assert_null(doc);
    b = good;
    b.amount_units = KITO_MPESA_AMOUNT_MAX + 1;
    cr_assert_eq(kito_mpesa_b2c_build(&conf, &b, &doc), KITO_E_VALIDATION);
    const char *bad_msisdn[] = {"254712345678", "+0712345678", "+2547", "+25471234567x", ""};
    for (size_t i = 0; i < sizeof(bad_msisdn) / sizeof(bad_msisdn[0]); i++) {
        b = good;
        b.msisdn = bad_msisdn[i];
        cr_assert_eq(kito_mpesa_b2c_build(&conf, &b, &doc), KITO_E_VALIDATION, "%s", bad_msisdn[i]);
    }
    b = good;
    b.remarks = "line\nbreak";
    cr_assert_eq(kito_mpesa_b2c_build(&conf, &b, &doc), KITO_E_VALIDATION);
    kito_mpesa_conf c = conf;
    c.shortcode = "";
    cr_assert_eq(kito_mpesa_b2c_build(&c, &good, &doc), KITO_E_VALIDATION);
}

Test(mpesa, status_query_names_the_attempt)
{
    json_t *doc;
    cr_assert_eq(kito_mpesa_status_build(&conf, "kito-1-1-00ff", &doc), KITO_OK);
    cr_assert_str_eq(json_string_value(json_object_get(doc, "CommandID")),
                     "TransactionStatusQuery");
    cr_assert_str_eq(json_string_value(json_object_get(doc, "OriginatorConversationID")),
                     "kito-1-1-00ff");
    json_decref(doc);
}

static kito_mpesa_response parsed(long status, const char *body)
{
    kito_mpesa_response r;
    kito_mpesa_response_parse(status, body, body != NULL ? strlen(body) : 0, &r);
    return r;
}

static kito_mpesa_ack ack_of(long status, const char *body)
{
    return parsed(status, body).ack;
}

#define ACCEPTED_BODY                                                                              \
    "{\"ConversationID\":\"AG_1\",\"OriginatorConversationID\":\"kito-1\","                        \
    "\"ResponseCode\":\"0\",\"ResponseDescription\":\"Accept\"}"
#define REFUSED_BODY                                                                               \
    "{\"requestId\":\"1\",\"errorCode\":\"400.002.02\","                                           \
    "\"errorMessage\":\"Bad Request - Invalid PartyB\"}"

Test(mpesa, synchronous_answers)
{
    static const struct {
        long status;
        const char *body;
        kito_mpesa_ack ack;
    } answers[] = {
        {200, ACCEPTED_BODY, KITO_MPESA_ACK_ACCEPTED},
        {200, "{\"ConversationID\":\"AG_1\",\"ResponseCode\":0}", KITO_MPESA_ACK_ACCEPTED},
        {200, "{\"ConversationID\":\"AG_1\",\"ResponseCode\":\"1\"}", KITO_MPESA_ACK_REFUSED},
        {400, REFUSED_BODY, KITO_MPESA_ACK_REFUSED},
        /* what we cannot be sure of is unknown, never refused */
        {0, NULL, KITO_MPESA_ACK_UNKNOWN},
        {500, REFUSED_BODY, KITO_MPESA_ACK_UNKNOWN},
        {503, "oops", KITO_MPESA_ACK_UNKNOWN},
        {408, REFUSED_BODY, KITO_MPESA_ACK_UNKNOWN},
        {200, "not json", KITO_MPESA_ACK_UNKNOWN},
        {200, "{\"ConversationID\":\"AG\"}", KITO_MPESA_ACK_UNKNOWN},
        {302, "{}", KITO_MPESA_ACK_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        cr_assert_eq(ack_of(answers[i].status, answers[i].body), answers[i].ack, "%ld %s",
                     answers[i].status, answers[i].body != NULL ? answers[i].body : "(none)");
    kito_mpesa_response r = parsed(200, ACCEPTED_BODY);
    cr_assert_str_eq(r.conversation_id, "AG_1");
    cr_assert_str_eq(r.originator_conversation_id, "kito-1");
    r = parsed(400, REFUSED_BODY);
    cr_assert_str_eq(r.code, "400.002.02");
    cr_assert_str_eq(r.desc, "Bad Request - Invalid PartyB");
}

Test(mpesa, accepted_without_a_conversation_id_is_unknown_not_refused)
{
    /* ResponseCode 0 says the provider took the request: it may pay it. Without a
     * ConversationID we cannot be sure of that answer, so it is asked about, never failed (a
     * failed attempt ignores its late success callback, and a retry would pay twice). */
    cr_assert_eq(ack_of(200,
                        "{\"OriginatorConversationID\":\"kito-1\",\"ResponseCode\":\"0\","
                        "\"ResponseDescription\":\"Accept the service request successfully.\"}"),
                 KITO_MPESA_ACK_UNKNOWN);
    cr_assert_eq(ack_of(200, "{\"ConversationID\":\"\",\"ResponseCode\":0}"),
                 KITO_MPESA_ACK_UNKNOWN);
}

static const char success_cb[] =
    "{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"ResultDesc\":\"The service request is "
    "processed successfully.\",\"OriginatorConversationID\":\"kito-7-1-ab\",\"ConversationID\":"
    "\"AG_20191219_00004e48cf7e3533f581\",\"TransactionID\":\"NLJ41HAY6Q\",\"ResultParameters\":"
    "{\"ResultParameter\":[{\"Key\":\"TransactionAmount\",\"Value\":10},{\"Key\":"
    "\"TransactionReceipt\",\"Value\":\"NLJ41HAY6Q\"},{\"Key\":"
    "\"B2CChargesPaidAccountAvailableFunds\",\"Value\":-4510.00},{\"Key\":"
    "\"ReceiverPartyPublicName\",\"Value\":\"254708374149 - John Doe\"}]},\"ReferenceData\":"
    "{\"ReferenceItem\":{\"Key\":\"QueueTimeoutURL\",\"Value\":\"https://x/\"}}}}";

Test(mpesa, success_callback)
{
    kito_mpesa_result r;
    char why[200];
    cr_assert_eq(kito_mpesa_result_parse(success_cb, strlen(success_cb), &r, why, sizeof(why)),
                 KITO_OK, "%s", why);
    cr_assert_eq(r.result_code, 0);
    cr_assert_str_eq(r.originator_conversation_id, "kito-7-1-ab");
    cr_assert_str_eq(r.conversation_id, "AG_20191219_00004e48cf7e3533f581");
    cr_assert_str_eq(r.transaction_id, "NLJ41HAY6Q");
    cr_assert(r.has_amount);
    cr_assert_eq(r.transaction_amount, 10);
    cr_assert_str_eq(r.receipt, "NLJ41HAY6Q");
    /* the wallet paid, for the anomaly check (issue 19): the digits before " - Name" */
    cr_assert_str_eq(r.receiver_msisdn, "254708374149");
}

Test(mpesa, failure_callback)
{
    const char *cb = "{\"Result\":{\"ResultType\":0,\"ResultCode\":2001,\"ResultDesc\":\"The "
                     "initiator information is invalid.\",\"OriginatorConversationID\":\"o-1\","
                     "\"ConversationID\":\"AG_2\",\"TransactionID\":\"NLJ0000000\","
                     "\"ReferenceData\":{\"ReferenceItem\":{\"Key\":\"QueueTimeoutURL\","
                     "\"Value\":\"https://x\"}}}}";
    kito_mpesa_result r;
    cr_assert_eq(kito_mpesa_result_parse(cb, strlen(cb), &r, NULL, 0), KITO_OK);
    cr_assert_eq(r.result_code, 2001);
    cr_assert_str_eq(r.result_desc, "The initiator information is invalid.");
    cr_assert(!r.has_amount);
    /* ResultCode as a string, one ResultParameter as an object: both seen from Daraja */
    const char *cb2 = "{\"Result\":{\"ResultCode\":\"0\",\"OriginatorConversationID\":\"o-2\","
                      "\"TransactionID\":\"T2\",\"ResultParameters\":{\"ResultParameter\":"
                      "{\"Key\":\"TransactionAmount\",\"Value\":\"25\"}}}}";
    cr_assert_eq(kito_mpesa_result_parse(cb2, strlen(cb2), &r, NULL, 0), KITO_OK);
    cr_assert_eq(r.result_code, 0);
    cr_assert_eq(r.transaction_amount, 25);
}

Test(mpesa, malformed_callbacks_are_refused)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "null",
        "{\"Result\":1}",
        "{\"result\":{}}",
        "{\"Result\":{}}",
        "{\"Result\":{\"ResultCode\":\"x\",\"OriginatorConversationID\":\"o\"}}",
        "{\"Result\":{\"ResultCode\":1.5,\"OriginatorConversationID\":\"o\"}}",
        "{\"Result\":{\"ResultCode\":1}}",
        "{\"Result\":{\"ResultCode\":1,\"OriginatorConversationID\":\"\"}}",
        "{\"Result\":{\"ResultCode\":1,\"OriginatorConversationID\":7}}",
        "{\"Result\":{\"ResultCode\":1,\"OriginatorConversationID\":\"o\",\"TransactionID\":[]}}",
        "{\"Result\":{\"ResultCode\":1,\"OriginatorConversationID\":\"o\",\"ResultDesc\":{}}}",
        "{\"Result\":{\"ResultCode\":0,\"OriginatorConversationID\":\"o\"}}", /* no receipt */
        "{\"Result\":{\"ResultCode\":0,\"OriginatorConversationID\":\"o\",\"TransactionID\":\"T\","
        "\"ResultParameters\":{\"ResultParameter\":[{\"Key\":\"TransactionAmount\","
        "\"Value\":1.5}]}}}",
        "{\"Result\":{\"ResultCode\":0,\"OriginatorConversationID\":\"o\",\"TransactionID\":\"T\","
        "\"ResultParameters\":{\"ResultParameter\":[{\"Value\":1}]}}}",
        "{\"Result\":{\"ResultCode\":1,\"ResultCode\":0,\"OriginatorConversationID\":\"o\"}}",
        "{\"Result\":{\"ResultCode\":0,\"OriginatorConversationID\":\"o\",\"TransactionID\":"
        "\"T12345678901234567890123456789012345\"}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kito_mpesa_result r;
        char why[200] = "";
        kito_err e = kito_mpesa_result_parse(bad[i], strlen(bad[i]), &r, why, sizeof(why));
        cr_assert(e == KITO_E_MALFORMED_JSON || e == KITO_E_VALIDATION, "accepted: %s", bad[i]);
        cr_assert(why[0] != '\0', "no reason for %s", bad[i]);
    }
    char ocid[80];
    memset(ocid, 'a', 65);
    ocid[65] = '\0';
    char body[200];
    snprintf(body, sizeof(body),
             "{\"Result\":{\"ResultCode\":1,\"OriginatorConversationID\":\"%s\"}}", ocid);
    kito_mpesa_result r;
    cr_assert_eq(kito_mpesa_result_parse(body, strlen(body), &r, NULL, 0), KITO_E_VALIDATION);
}

/* Daraja's Transaction Status: the synchronous answer only says the query was taken; the result
 * comes to the ResultURL with the payment in ResultParameters (mpesa.h). */
Test(mpesa, status_answers)
{
    const char *taken = "{\"OriginatorConversationID\":\"q-1\",\"ConversationID\":\"AG\","
                        "\"ResponseCode\":\"0\",\"ResponseDescription\":\"ok\"}";
    cr_assert_eq(kito_mpesa_status_ack_parse(200, taken, strlen(taken)), KITO_MPESA_STATUS_PENDING);
    const char *refused =
        "{\"requestId\":\"1\",\"errorCode\":\"400.002.02\",\"errorMessage\":\"x\"}";
    cr_assert_eq(kito_mpesa_status_ack_parse(400, refused, strlen(refused)),
                 KITO_MPESA_STATUS_UNKNOWN);
    cr_assert_eq(kito_mpesa_status_ack_parse(0, NULL, 0), KITO_MPESA_STATUS_UNKNOWN);

    kito_mpesa_result r;
    kito_mpesa_status st;
    json_t *doc = json_loads(
        "{\"Result\":{\"ResultType\":0,\"ResultCode\":0,\"ResultDesc\":\"ok\","
        "\"OriginatorConversationID\":\"query-1\",\"ConversationID\":\"AG_Q\","
        "\"TransactionID\":\"QQQ\",\"ResultParameters\":{\"ResultParameter\":["
        "{\"Key\":\"DebitPartyName\",\"Value\":\"600000 - Kito\"},"
        "{\"Key\":\"CreditPartyName\",\"Value\":\"254708374149 - John Doe\"},"
        "{\"Key\":\"OriginatorConversationID\",\"Value\":\"kito-7-1-ab\"},"
        "{\"Key\":\"TransactionReason\"},"
        "{\"Key\":\"TransactionStatus\",\"Value\":\"Completed\"},"
        "{\"Key\":\"Amount\",\"Value\":300.0},"
        "{\"Key\":\"ConversationID\",\"Value\":\"AG_P\"},"
        "{\"Key\":\"ReceiptNo\",\"Value\":\"MBN31H462N\"}]},"
        "\"ReferenceData\":{\"ReferenceItem\":{\"Key\":\"Occasion\",\"Value\":\"kito-7-1-ab\"}}}}",
        0, NULL);
    cr_assert_eq(kito_mpesa_status_result_from_json(doc, &r, &st, NULL, 0), KITO_OK);
    cr_assert_eq(st, KITO_MPESA_STATUS_FINAL);
    cr_assert_str_eq(r.originator_conversation_id, "kito-7-1-ab", "the payment's, not the query's");
    cr_assert_str_eq(r.transaction_id, "MBN31H462N");
    cr_assert_str_eq(r.conversation_id, "AG_P");
    cr_assert_str_eq(r.receiver_msisdn, "254708374149");
    cr_assert(r.has_amount);
    cr_assert_eq(r.transaction_amount, 300);
    cr_assert_eq(r.result_code, 0);
    json_decref(doc);

    /* failed; then the payment named only by the Occasion Kito sent */
    doc = json_loads("{\"Result\":{\"ResultCode\":\"0\",\"ResultParameters\":{\"ResultParameter\":["
                     "{\"Key\":\"TransactionStatus\",\"Value\":\"Failed\"}]},"
                     "\"ReferenceData\":{\"ReferenceItem\":{\"Key\":\"Occasion\","
                     "\"Value\":\"kito-8-1-cd\"}}}}",
                     0, NULL);
    cr_assert_eq(kito_mpesa_status_result_from_json(doc, &r, &st, NULL, 0), KITO_OK);
    cr_assert_eq(st, KITO_MPESA_STATUS_FINAL);
    cr_assert_neq(r.result_code, 0);
    cr_assert_str_eq(r.originator_conversation_id, "kito-8-1-cd");
    json_decref(doc);

    /* not final yet; no report (non-zero ResultCode); a Completed without a receipt; no payment */
    const char *cases[][2] = {
        {"{\"Result\":{\"ResultCode\":0,\"ResultParameters\":{\"ResultParameter\":[{\"Key\":"
         "\"OriginatorConversationID\",\"Value\":\"k-1\"},{\"Key\":\"TransactionStatus\","
         "\"Value\":\"Pending\"}]}}}",
         "pending"},
        {"{\"Result\":{\"ResultCode\":1,\"ResultDesc\":\"not found\",\"ReferenceData\":"
         "{\"ReferenceItem\":{\"Key\":\"Occasion\",\"Value\":\"k-1\"}}}}",
         "not_found"},
        {"{\"Result\":{\"ResultCode\":0,\"ResultParameters\":{\"ResultParameter\":[{\"Key\":"
         "\"OriginatorConversationID\",\"Value\":\"k-1\"},{\"Key\":\"TransactionStatus\","
         "\"Value\":\"Completed\"}]}}}",
         "invalid"},
        {"{\"Result\":{\"ResultCode\":0}}", "invalid"},
        {"{\"Result\":{\"ResultCode\":0,\"ResultParameters\":{\"ResultParameter\":[{\"Key\":"
         "\"OriginatorConversationID\",\"Value\":\"k-1\"},{\"Key\":\"Amount\",\"Value\":\"1.5\"}"
         "]}}}",
         "invalid"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        doc = json_loads(cases[i][0], 0, NULL);
        cr_assert_not_null(doc, "%s", cases[i][0]);
        char why[200] = "";
        kito_err e = kito_mpesa_status_result_from_json(doc, &r, &st, why, sizeof(why));
        if (strcmp(cases[i][1], "invalid") == 0) {
            cr_assert_eq(e, KITO_E_VALIDATION, "%s", cases[i][0]);
            cr_assert(why[0] != '\0');
        } else {
            cr_assert_eq(e, KITO_OK, "%s: %s", cases[i][0], why);
            cr_assert_eq(st,
                         strcmp(cases[i][1], "pending") == 0 ? KITO_MPESA_STATUS_PENDING
                                                             : KITO_MPESA_STATUS_NOT_FOUND,
                         "%s", cases[i][0]);
        }
        json_decref(doc);
    }
}

Test(mpesa, token_comparison)
{
    const char *t = "0123456789abcdef0123";
    cr_assert(kito_mpesa_token_equal(t, t, strlen(t)));
    cr_assert(!kito_mpesa_token_equal(t, "0123456789abcdef0124", 20));
    cr_assert(!kito_mpesa_token_equal(t, "0123456789abcdef012", 19));
    cr_assert(!kito_mpesa_token_equal(t, "", 0));
    cr_assert(!kito_mpesa_token_equal(t, NULL, 0));
    cr_assert(!kito_mpesa_token_equal("", "", 0), "an unset token accepts nothing");
}

Test(mpesa, conversion_and_rounding)
{
    /* source minor units (exponent from) at rate_micros -> local minor units, then the whole
     * units M-Pesa pays and the local minor units that remain */
    static const struct {
        const char *what;
        int64_t source;
        unsigned from, to;
        int64_t rate_micros;
        kito_err err;
        int64_t local, units, rem;
    } cases[] = {
        /* clang-format off */
        {"USD 100.00 at 129.50 KES = KES 12950.00", 10000, 2, 2, 129500000, KITO_OK,
         1295000, 12950, 0},
        {"USD 0.01 at 129.50: KES 1.295 -> half up to 1.30; 1 shilling paid, 30 cents remain", 1,
         2, 2, 129500000, KITO_OK, 130, 1, 30},
        {"below half rounds down: 0.01005 -> 0.01", 1, 2, 2, 1005000, KITO_OK, 1, 0, 1},
        {"exactly half rounds up: 0.015 -> 0.02", 1, 2, 2, 1500000, KITO_OK, 2, 0, 2},
        {"just under half rounds down: 0.01499999 -> 0.01", 1, 2, 2, 1499999, KITO_OK, 1, 0, 1},
        {"USD 1234.57 at 2585.123456 TZS: 3191515.865... -> 3191515.87", 123457, 2, 2,
         2585123456, KITO_OK, 319151587, 3191515, 87},
        {"same currency: identity", 98765, 2, 2, 1000000, KITO_OK, 98765, 987, 65},
        {"exponents differ: 0-exponent source (like JPY) to 2", 100, 0, 2, 860000, KITO_OK,
         8600, 86, 0},
        {"the largest payable amount: no overflow", 99999999900LL, 2, 2, 1000000, KITO_OK,
         99999999900LL, KITO_MPESA_AMOUNT_MAX, 0},
        {"past the M-Pesa bound", 1000000000000000LL, 2, 2, 1000000, KITO_E_VALIDATION},
        {"the largest amount at the largest rate", 1000000000000000LL, 2, 2, 1000000000000000LL,
         KITO_E_VALIDATION},
        {"a negative amount", -1, 2, 2, 1000000, KITO_E_VALIDATION},
        {"a zero rate", 1, 2, 2, 0, KITO_E_VALIDATION},
        {"an exponent over 4", 1, 5, 2, 1, KITO_E_VALIDATION},
        {"zero stays zero", 0, 2, 2, 129500000, KITO_OK, 0, 0, 0},
        /* clang-format on */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t local, units, rem;
        cr_assert_eq(kito_mpesa_convert(cases[i].source, cases[i].from, cases[i].to,
                                        cases[i].rate_micros, &local, &units, &rem),
                     cases[i].err, "%s", cases[i].what);
        if (cases[i].err != KITO_OK)
            continue;
        cr_assert_eq(local, cases[i].local, "%s: local %lld", cases[i].what, (long long)local);
        cr_assert_eq(units, cases[i].units, "%s: units %lld", cases[i].what, (long long)units);
        cr_assert_eq(rem, cases[i].rem, "%s: remainder %lld", cases[i].what, (long long)rem);
    }
}

Test(mpesa, rate_text)
{
    int64_t m;
    cr_assert(kito_mpesa_rate_parse("129.50", &m));
    cr_assert_eq(m, 129500000);
    cr_assert(kito_mpesa_rate_parse("2585", &m));
    cr_assert_eq(m, 2585000000);
    cr_assert(kito_mpesa_rate_parse("0.000001", &m));
    cr_assert_eq(m, 1);
    cr_assert(kito_mpesa_rate_parse("999999999.999999", &m));
    static const char *const bad[] = {"",          "0",   "0.0", "-1",         "1.", ".5",
                                      "1.2345678", "1e3", "1,5", "1234567890", " 1", "1 "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert(!kito_mpesa_rate_parse(bad[i], &m), "accepted '%s'", bad[i]);
}

/* Daraja C2B validation and confirmation bodies ("Customer To Business"): TransID, TransTime,
 * TransAmount as a string, BillRefNumber, the payer's names (cut, never refused). */
Test(mpesa, c2b_bodies)
{
    char longname[200];
    memset(longname, 'N', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    char body[1024];
    snprintf(body, sizeof(body),
             "{\"TransactionType\":\"Pay Bill\",\"TransID\":\"RKTQDM7W6S\","
             "\"TransTime\":\"20191122063845\",\"TransAmount\":\"10.5\","
             "\"BusinessShortCode\":\"600638\",\"BillRefNumber\":\"INV-0000000012\","
             "\"InvoiceNumber\":\"\",\"OrgAccountBalance\":\"49197.00\",\"ThirdPartyTransID\":\"\","
             "\"MSISDN\":\"2547 ***** 126\",\"FirstName\":\"%s\",\"MiddleName\":\"\","
             "\"LastName\":\"Doe\"}",
             longname);
    json_t *doc = json_loads(body, 0, NULL);
    cr_assert_not_null(doc);
    kito_mpesa_c2b c;
    char why[200] = "";
    cr_assert_eq(kito_mpesa_c2b_from_json(doc, &c, why, sizeof(why)), KITO_OK, "%s", why);
    cr_assert_str_eq(c.trans_id, "RKTQDM7W6S");
    cr_assert_eq(c.amount_minor, 1050);
    cr_assert_str_eq(c.bill_ref, "INV-0000000012");
    cr_assert_str_eq(c.short_code, "600638");
    cr_assert_eq(strlen(c.payer_name), 40 + 1 + 3, "%s", c.payer_name);
    json_decref(doc);
    const char *bad[] = {
        "{\"TransID\":\"\",\"TransTime\":\"20191122063845\",\"TransAmount\":\"10\"}",
        "{\"TransID\":\"A1\",\"TransTime\":\"2019\",\"TransAmount\":\"10\"}",
        "{\"TransID\":\"A1\",\"TransTime\":\"20191122063845\",\"TransAmount\":\"0\"}",
        "{\"TransID\":\"A1\",\"TransTime\":\"20191122063845\",\"TransAmount\":\"1.005\"}",
        "{\"TransID\":\"A1\",\"TransTime\":\"20191122063845\",\"TransAmount\":\"-5\"}",
        "{\"TransID\":\"A1\",\"TransTime\":\"20191122063845\",\"TransAmount\":\"10\","
        "\"BillRefNumber\":[1]}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = json_loads(bad[i], 0, NULL);
        why[0] = '\0';
        cr_assert_eq(kito_mpesa_c2b_from_json(doc, &c, why, sizeof(why)), KITO_E_VALIDATION, "%s",
                     bad[i]);
        cr_assert(why[0] != '\0');
        json_decref(doc);
    }
}
