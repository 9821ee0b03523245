/*
 * The M-Pesa Daraja B2C driver (DESIGN.md, "Settlement and payouts"; issue 7).
 *
 * Pure functions (no I/O, any thread): build the B2C payment request and the status query,
 * parse the synchronous answers and the result callbacks, convert and round amounts, compare the
 * callback token in constant time. Unit-tested and fuzzed without a socket. The HTTP (and the
 * OAuth token) are the rail client's (api/adapters/rail.h, rail_client.c): one client for every
 * rail. The one function here that touches a file is kito_mpesa_security_credential, called once
 * when the payout worker starts.
 *
 * Authentication, as Daraja documents it (developer.safaricom.co.ke, "Authorization"):
 *   GET {base}/oauth/v1/generate?grant_type=client_credentials
 *     Authorization: Basic base64(consumer key ":" consumer secret)
 *   -> 200 {"access_token": "...", "expires_in": "3599"}   (seconds, as a string)
 *   and every API call carries "Authorization: Bearer <access_token>"; an expired or unknown
 *   token gets 401 {"requestId", "errorCode": "404.001.03", "errorMessage": "Invalid Access
 *   Token"}.
 * SecurityCredential ("Getting Started", "Security Credentials"): the initiator's password
 * encrypted with the M-Pesa public key certificate (X.509), RSA with PKCS #1 v1.5 padding (not
 * OAEP), base64-encoded. The sandbox and production certificates differ; the operator supplies
 * the file (KITO_MPESA_CERT).
 *
 * The protocol, as Daraja documents it:
 *   POST {base}/mpesa/b2c/v3/paymentrequest
 *     {"OriginatorConversationID", "InitiatorName", "SecurityCredential", "CommandID":
 *      "BusinessPayment", "Amount": <whole units>, "PartyA": shortcode, "PartyB": msisdn
 *      without '+', "Remarks", "QueueTimeOutURL", "ResultURL", "Occasion"}
 *   -> 200 {"ConversationID", "OriginatorConversationID", "ResponseCode": "0",
 *           "ResponseDescription"}                       accepted, result comes later
 *   -> 4xx {"requestId", "errorCode", "errorMessage"}    refused: nothing was paid
 *   then POST ResultURL {"Result": {"ResultType", "ResultCode", "ResultDesc",
 *      "OriginatorConversationID", "ConversationID", "TransactionID", "ResultParameters":
 *      {"ResultParameter": [{"Key", "Value"}, ...]}, "ReferenceData": ...}}
 *
 * The Transaction Status query ("Transaction Status", an asynchronous API) for an attempt whose
 * answer was lost:
 *   POST {base}/mpesa/transactionstatus/v1/query
 *     {"Initiator", "SecurityCredential", "CommandID": "TransactionStatusQuery",
 *      "OriginatorConversationID": the payment's, "PartyA": shortcode, "IdentifierType": "4"
 *      (an organisation shortcode), "ResultURL", "QueueTimeOutURL", "Remarks", "Occasion"}
 *   -> 200 {"OriginatorConversationID", "ConversationID", "ResponseCode": "0",
 *           "ResponseDescription"}                          taken: the answer comes later
 *   then POST ResultURL (Kito's is .../v1/payouts/callbacks/mpesa/status) {"Result":
 *      {"ResultType", "ResultCode", "ResultDesc", "OriginatorConversationID" (the query's),
 *       "ConversationID", "TransactionID", "ResultParameters": {"ResultParameter": [
 *       {"Key": "DebitPartyName"}, {"Key": "CreditPartyName", "Value": "254708374149 - John
 *       Doe"}, {"Key": "OriginatorConversationID", "Value": the payment's}, {"Key":
 *       "InitiatedTime"}, {"Key": "DebitAccountType"}, {"Key": "DebitPartyCharges"}, {"Key":
 *       "TransactionReason"}, {"Key": "ReasonType"}, {"Key": "TransactionStatus", "Value":
 *       "Completed"}, {"Key": "FinalisedTime"}, {"Key": "Amount", "Value": 300}, {"Key":
 *       "ConversationID"}, {"Key": "ReceiptNo", "Value": "MBN31H462N"}]},
 *       "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": the query's Occasion}}}}
 * Kito sends the payment's OriginatorConversationID as the query's Occasion too, so a result
 * whose parameters leave it out is still matched.
 */
#ifndef KITO_MPESA_H
#define KITO_MPESA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"

#define KITO_MPESA_ID_SIZE 65     /* OriginatorConversationID, ConversationID: 64 bytes + NUL */
#define KITO_MPESA_TXN_SIZE 33    /* TransactionID ("NLJ41HAY6Q") */
#define KITO_MPESA_DESC_SIZE 257  /* ResultDesc, ResponseDescription, errorMessage (cut) */
#define KITO_MPESA_CODE_SIZE 33   /* errorCode ("400.002.02") */
#define KITO_MPESA_BODY_MAX 65536 /* a provider answer or callback larger than this is refused */
#define KITO_MPESA_PARAMS_MAX 32  /* ResultParameter entries read at most */
#define KITO_MPESA_AMOUNT_MAX 999999999LL /* whole units one B2C request may carry at most */

/* Where the provider is and who we are to it; strings borrowed (from kito_config). */
typedef struct kito_mpesa_conf {
    const char *base_url;            /* "https://api.safaricom.co.ke" or the simulator */
    const char *initiator;           /* InitiatorName */
    const char *security_credential; /* SecurityCredential, made by
                                        kito_mpesa_security_credential (secret; never logged) */
    const char *shortcode;           /* PartyA */
    const char *callback_base;       /* the public https base the provider calls back */
    const char *callback_token;      /* secret; appended to ResultURL as ?token= */
    uint32_t timeout_ms;             /* whole-request timeout of one call */
} kito_mpesa_conf;

/* One B2C payment request as Kito means it. */
typedef struct kito_mpesa_b2c {
    const char *originator_conversation_id; /* Kito's, unique per attempt */
    int64_t amount_units;                   /* whole units of the local currency, >= 1 */
    const char *msisdn;                     /* E.164, "+254712345678" ('+' is dropped) */
    const char *remarks;                    /* 1..100 bytes of printable ASCII */
    const char *occasion;                   /* the payout id */
} kito_mpesa_b2c;

/* Builds the B2C request document. KITO_E_VALIDATION when an input is out of shape (amount out
 * of 1..KITO_MPESA_AMOUNT_MAX, msisdn not E.164, empty configuration); KITO_E_NOMEM. *out is a
 * new reference. */
kito_err kito_mpesa_b2c_build(const kito_mpesa_conf *conf, const kito_mpesa_b2c *req, json_t **out);

/* The ResultURL (and QueueTimeOutURL) for conf: callback_base + path (KITO_MPESA_CALLBACK_PATH or
 * KITO_MPESA_STATUS_CALLBACK_PATH) + "?token=" + the token (percent-encoded). KITO_E_CAPACITY
 * when it does not fit in cap. */
kito_err kito_mpesa_result_url(const kito_mpesa_conf *conf, const char *path, char *out,
                               size_t cap);

/* Builds the Transaction Status query for one earlier payment, by its OriginatorConversationID;
 * its result is to come to KITO_MPESA_STATUS_CALLBACK_PATH. KITO_E_VALIDATION as b2c_build. */
kito_err kito_mpesa_status_build(const kito_mpesa_conf *conf, const char *originator_id,
                                 json_t **out);

/* What the provider said to a request, synchronously. */
typedef enum kito_mpesa_ack {
    KITO_MPESA_ACK_ACCEPTED, /* ResponseCode "0": the request is queued, the result follows */
    KITO_MPESA_ACK_REFUSED,  /* a definite refusal (4xx with errorCode, ResponseCode != 0):
                                nothing was or will be paid for this request */
    KITO_MPESA_ACK_UNKNOWN,  /* no answer, a 5xx or an answer we cannot read: the outcome is
                                unknown and must be asked for, never assumed */
} kito_mpesa_ack;

typedef struct kito_mpesa_response {
    kito_mpesa_ack ack;
    char conversation_id[KITO_MPESA_ID_SIZE];
    char originator_conversation_id[KITO_MPESA_ID_SIZE];
    char code[KITO_MPESA_CODE_SIZE]; /* ResponseCode or errorCode */
    char desc[KITO_MPESA_DESC_SIZE]; /* ResponseDescription or errorMessage */
} kito_mpesa_response;

/* Reads the synchronous answer to a B2C request: http_status 0 means no response arrived.
 * Never fails: what cannot be read is KITO_MPESA_ACK_UNKNOWN. */
void kito_mpesa_response_parse(long http_status, const char *body, size_t len,
                               kito_mpesa_response *out);

/* A payment's result: the callback's "Result" object. */
typedef struct kito_mpesa_result {
    int64_t result_code; /* 0 = paid; anything else = not paid (2001 wrong initiator, ...) */
    int64_t result_type;
    char result_desc[KITO_MPESA_DESC_SIZE];
    char originator_conversation_id[KITO_MPESA_ID_SIZE];
    char conversation_id[KITO_MPESA_ID_SIZE];
    char transaction_id[KITO_MPESA_TXN_SIZE]; /* "" when absent */
    bool has_amount;
    int64_t transaction_amount;        /* ResultParameters TransactionAmount, whole units */
    char receipt[KITO_MPESA_TXN_SIZE]; /* ResultParameters TransactionReceipt */
    char receiver_msisdn[17];          /* the digits that begin ResultParameters
                                          ReceiverPartyPublicName ("254708374149 - John Doe"),
                                          "" when absent: the wallet the provider paid */
} kito_mpesa_result;

/* Reads a result callback body ({"Result": {...}}). KITO_E_MALFORMED_JSON for bytes that are
 * not JSON, KITO_E_VALIDATION (reason in why, why_size bytes) for JSON that is not a result:
 * ResultCode missing or not an integer, OriginatorConversationID missing, empty or too long,
 * fields of the wrong type, a success without a TransactionID. */
kito_err kito_mpesa_result_parse(const char *body, size_t len, kito_mpesa_result *out, char *why,
                                 size_t why_size);

/* As kito_mpesa_result_parse, from a parsed document (borrowed). */
kito_err kito_mpesa_result_from_json(const json_t *doc, kito_mpesa_result *out, char *why,
                                     size_t why_size);

/* What a Transaction Status query says about a payment. */
typedef enum kito_mpesa_status {
    KITO_MPESA_STATUS_FINAL,     /* result holds the payment's final result */
    KITO_MPESA_STATUS_PENDING,   /* the query was taken (its result comes to the callback), or
                                    the payment is not final yet */
    KITO_MPESA_STATUS_NOT_FOUND, /* the provider reported nothing on it (a non-zero ResultCode):
                                    Daraja does not document which codes mean "never received",
                                    so Kito never takes this for proof that nothing was paid */
    KITO_MPESA_STATUS_UNKNOWN,   /* no readable answer: ask again later */
} kito_mpesa_status;

/* Reads the synchronous answer to a status query: PENDING when it was taken (ResponseCode "0"),
 * UNKNOWN otherwise (a refusal of the query says nothing about the payment). */
kito_mpesa_status kito_mpesa_status_ack_parse(long http_status, const char *body, size_t len);

/* Reads a Transaction Status result callback ({"Result": {...}}, see the header comment) into
 * result, in the payment's terms: originator_conversation_id is the payment's (ResultParameter
 * OriginatorConversationID, else the Occasion Kito sent), transaction_id its ReceiptNo,
 * transaction_amount its Amount (whole units), receiver_msisdn the digits that begin
 * CreditPartyName; result_code 0 for TransactionStatus "Completed", 1 for "Failed", "Declined",
 * "Cancelled" or "Expired" (not paid). *status: FINAL for those, PENDING for any other
 * TransactionStatus, NOT_FOUND for a non-zero ResultCode. KITO_E_VALIDATION (why) for a body
 * that is not a result or names no payment; KITO_E_MALFORMED_JSON for bytes that are not JSON. */
kito_err kito_mpesa_status_result_from_json(const json_t *doc, kito_mpesa_result *result,
                                            kito_mpesa_status *status, char *why, size_t why_size);

/* ---- payments in: C2B (Daraja "Customer To Business", Register URL) ---------------------------
 * Kito registers its two URLs (POST {base}/mpesa/c2b/v2/registerurl {"ShortCode",
 * "ResponseType": "Cancelled" | "Completed" (what M-Pesa does when the ValidationURL does not
 * answer), "ConfirmationURL", "ValidationURL"}); M-Pesa then posts each payment to the paybill,
 * first to the ValidationURL (answered {"ResultCode": "0", "ResultDesc": "Accepted"} or
 * {"ResultCode": "C2B00012", "ResultDesc": "Rejected"}: invalid account number), then, once the
 * money has moved, to the ConfirmationURL (answered {"ResultCode": 0, "ResultDesc":
 * "Accepted"}), with:
 *   {"TransactionType": "Pay Bill", "TransID": "RKTQDM7W6S", "TransTime": "20191122063845",
 *    "TransAmount": "10", "BusinessShortCode": "600638", "BillRefNumber": the account number,
 *    "InvoiceNumber", "OrgAccountBalance", "ThirdPartyTransID", "MSISDN" (masked in production),
 *    "FirstName", "MiddleName", "LastName"} */
typedef struct kito_mpesa_c2b {
    char trans_type[33];  /* TransactionType */
    char trans_id[33];    /* TransID: M-Pesa's receipt, the idempotency key */
    char trans_time[15];  /* TransTime, YYYYMMDDHHMMSS */
    int64_t amount_minor; /* TransAmount in cents (KES has 2 decimals), >= 1 */
    char short_code[17];  /* BusinessShortCode */
    char bill_ref[65];    /* BillRefNumber: the account number the payer typed */
    char msisdn[65];      /* MSISDN (may be masked or hashed) */
    char payer_name[124]; /* FirstName MiddleName LastName, each cut to 40 bytes */
} kito_mpesa_c2b;

/* Reads a validation or confirmation body. KITO_E_VALIDATION (why) for a body without a TransID
 * (1..32 printable bytes), a TransAmount that is not a positive amount with at most 2 decimals, a
 * TransTime not of 14 digits or fields of the wrong type. Pure. */
kito_err kito_mpesa_c2b_from_json(const json_t *doc, kito_mpesa_c2b *out, char *why,
                                  size_t why_size);

/* The register-URL request for shortcode: URLs are callback_base + KITO_MPESA_C2B_VALIDATION_PATH
 * and KITO_MPESA_C2B_CONFIRMATION_PATH, with ?token=. KITO_E_VALIDATION, KITO_E_NOMEM. */
kito_err kito_mpesa_c2b_register_build(const kito_mpesa_conf *conf, const char *shortcode,
                                       json_t **out);

/* Constant-time comparison of a token presented in a callback with the configured one: the time
 * depends on neither content nor length of either (both are hashed first). false when the
 * configured token is empty (callbacks are then refused). */
bool kito_mpesa_token_equal(const char *configured, const char *presented, size_t presented_len);

/* Converts source_minor (exponent from_exp) to the local currency (exponent to_exp) at rate_micros
 * (local units per source unit x 10^6), half up to the local minor unit; then splits it into
 * the whole units M-Pesa can pay (rounded down: never pay more than is owed) and the remainder
 * in local minor units. KITO_E_VALIDATION for a negative amount, a rate <= 0, an exponent over
 * 4 or a result beyond KITO_MPESA_AMOUNT_MAX whole units. */
kito_err kito_mpesa_convert(int64_t source_minor, unsigned from_exp, unsigned to_exp,
                            int64_t rate_micros, int64_t *local_minor, int64_t *whole_units,
                            int64_t *remainder_minor);

/* Parses a decimal rate ("129.50", at most 6 decimals, > 0, < 10^9) into micros. false if not. */
bool kito_mpesa_rate_parse(const char *text, int64_t *rate_micros);

/* The SecurityCredential for password: encrypted with the public key of the X.509 certificate
 * in the file cert_path (PEM or DER), RSA PKCS #1 v1.5, base64 (standard, padded) into out (cap
 * bytes). Reads the file; any thread. KITO_E_CONFIG (reason in why) when the file cannot be read,
 * is not a certificate, holds no RSA key or the password is empty or too long for the key;
 * KITO_E_CAPACITY when out is too small; KITO_E_INTERNAL on an OpenSSL failure. The result
 * differs every call (the padding is random); each one decrypts to the password. */
kito_err kito_mpesa_security_credential(const char *cert_path, const char *password, char *out,
                                        size_t cap, char *why, size_t why_size);

/* The provider paths. */
#define KITO_MPESA_PATH_TOKEN "/oauth/v1/generate?grant_type=client_credentials"
#define KITO_MPESA_PATH_B2C "/mpesa/b2c/v3/paymentrequest"
#define KITO_MPESA_PATH_STATUS "/mpesa/transactionstatus/v1/query"
#define KITO_MPESA_CALLBACK_PATH "/v1/payouts/callbacks/mpesa"
#define KITO_MPESA_STATUS_CALLBACK_PATH "/v1/payouts/callbacks/mpesa/status"
#define KITO_MPESA_PATH_C2B_REGISTER "/mpesa/c2b/v2/registerurl"
#define KITO_MPESA_C2B_VALIDATION_PATH "/v1/payments/callbacks/mpesa/validation"
#define KITO_MPESA_C2B_CONFIRMATION_PATH "/v1/payments/callbacks/mpesa/confirmation"

#endif
