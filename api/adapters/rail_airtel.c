/*
 * The Airtel Money rail (Zambia, Malawi; also Kenya and Tanzania): Airtel Africa's Open API
 * (developers.airtel.africa), "Disbursement APIs" v2, as Airtel documents it:
 *
 *   POST {base}/auth/oauth2/token
 *        {"client_id", "client_secret", "grant_type": "client_credentials"}
 *     -> 200 {"access_token", "expires_in": "180", "token_type": "bearer"} (expires_in a string)
 *   POST {base}/standard/v2/disbursements/
 *        Authorization: Bearer, X-Country: ZM, X-Currency: ZMW
 *        {"payee": {"msisdn": "<national number, no country code>", "wallet_type": "NORMAL"},
 *         "reference": "<text>", "pin": "<the PIN encrypted with Airtel's public key>",
 *         "transaction": {"amount": <number>, "id": "<partner's unique id>", "type": "B2C"}}
 *     -> 200 {"data": {"transaction": {"reference_id", "airtel_money_id", "id",
 *             "status": "TS" | "TF" | "TIP" | "TA", "message"}},
 *             "status": {"response_code", "code", "success", "result_code", "message"}}
 *        TS success, TF failed, TIP in progress, TA ambiguous (asked again later)
 *   GET  {base}/standard/v2/disbursements/{transaction.id}?transactionType=B2C
 *        Authorization: Bearer, X-Country, X-Currency
 *     -> 200 the same "data.transaction" with the current status; 404: never received
 *
 * transaction.id is the reference the payout attempt owns: Airtel refuses a second transaction
 * with the same id, so a resent attempt can never pay twice. Airtel's answers carry no amount,
 * currency or wallet: for this rail only a success after a recorded failure can be told apart
 * as an anomaly. The PIN is a secret: money/payout_worker.c masks "pin" in what it stores.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/rail.h"
#include "api/common/crypto.h"

#define AIRTEL_TOKEN_PATH "/auth/oauth2/token"
#define AIRTEL_DISBURSE_PATH "/standard/v2/disbursements/"

static void make_reference(uint64_t payout_id, uint32_t attempt_no, const uint8_t rnd[16],
                           char out[KITO_RAIL_REF_SIZE])
{
    char hex[33];
    kito_crypto_hex(rnd, 8, hex);
    hex[16] = '\0';
    snprintf(out, KITO_RAIL_REF_SIZE, "kito%" PRIu64 "x%ux%s", payout_id, attempt_no, hex);
}

static kito_err build_token(const kito_rail_conf *conf, kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    if (conf->client_id == NULL || conf->client_id[0] == '\0' || conf->client_secret == NULL)
        return KITO_E_VALIDATION;
    out->body = json_pack("{s:s, s:s, s:s}", "client_id", conf->client_id, "client_secret",
                          conf->client_secret, "grant_type", "client_credentials");
    if (out->body == NULL)
        return KITO_E_NOMEM;
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), AIRTEL_TOKEN_PATH);
    return KITO_OK;
}

/* The national number Airtel wants: the E.164 number without its country code. */
static const char *national(const char *msisdn, const char *country)
{
    static const struct {
        const char *country, *code;
    } codes[] = {{"ZM", "+260"}, {"MW", "+265"}, {"KE", "+254"}, {"TZ", "+255"}};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (country != NULL && strcmp(country, codes[i].country) == 0 &&
            strncmp(msisdn, codes[i].code, 4) == 0 && strlen(msisdn) >= 4 + 7)
            return msisdn + 4;
    return NULL;
}

static kito_err country_headers(const kito_rail_transfer *t, kito_rail_request *r)
{
    kito_err e = kito_rail_request_header(r, "X-Country: %s", t->country);
    if (e == KITO_OK)
        e = kito_rail_request_header(r, "X-Currency: %s", t->currency);
    return e;
}

static kito_err build_transfer(const kito_rail_conf *conf, const kito_rail_transfer *t,
                               kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    const char *msisdn = t->msisdn != NULL ? national(t->msisdn, t->country) : NULL;
    if (t->amount_units < 1 || msisdn == NULL || t->reference == NULL || t->reference[0] == '\0')
        return KITO_E_VALIDATION;
    out->body = json_pack("{s:{s:s, s:s}, s:s, s:s, s:{s:I, s:s, s:s}}", "payee", "msisdn", msisdn,
                          "wallet_type", "NORMAL", "reference", t->payout_id, "pin",
                          conf->pin != NULL ? conf->pin : "", "transaction", "amount",
                          (json_int_t)t->amount_units, "id", t->reference, "type", "B2C");
    if (out->body == NULL)
        return KITO_E_NOMEM;
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), AIRTEL_DISBURSE_PATH);
    out->bearer = true;
    return country_headers(t, out);
}

/* Reads {"data": {"transaction": {...}}, "status": {...}} into a result for reference; returns
 * the transaction status ("TS", ...) or NULL. */
static const char *read_transaction(const json_t *doc, const char *reference, kito_rail_result *res)
{
    const json_t *txn = json_object_get(json_object_get(doc, "data"), "transaction");
    const json_t *st = json_object_get(doc, "status");
    const char *status = json_string_value(json_object_get(txn, "status"));
    memset(res, 0, sizeof(*res));
    kito_rail_copy(res->reference, sizeof(res->reference), reference);
    kito_rail_copy(res->provider_id, sizeof(res->provider_id),
                   json_string_value(json_object_get(txn, "reference_id")));
    kito_rail_copy(res->transaction_id, sizeof(res->transaction_id),
                   json_string_value(json_object_get(txn, "airtel_money_id")));
    snprintf(res->code, sizeof(res->code), "%s%s%.24s", status != NULL ? status : "?",
             json_is_string(json_object_get(st, "response_code")) ? ":" : "",
             json_is_string(json_object_get(st, "response_code"))
                 ? json_string_value(json_object_get(st, "response_code"))
                 : "");
    kito_rail_copy(res->desc, sizeof(res->desc),
                   json_string_value(json_object_get(txn, "message")));
    const char *id = json_string_value(json_object_get(txn, "id"));
    if (id != NULL && strcmp(id, reference) != 0)
        return NULL; /* an answer about another transaction is not readable */
    res->success = status != NULL && strcmp(status, "TS") == 0;
    if (res->success && res->transaction_id[0] == '\0')
        return NULL;
    return status;
}

static void parse_acceptance(long http_status, const char *body, size_t len, const char *reference,
                             kito_rail_answer *out)
{
    memset(out, 0, sizeof(*out));
    json_t *doc = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    const json_t *st = json_object_get(doc, "status");
    kito_rail_copy(out->code, sizeof(out->code),
                   json_string_value(json_object_get(st, "response_code")));
    kito_rail_copy(out->desc, sizeof(out->desc), json_string_value(json_object_get(st, "message")));
    out->ack = KITO_RAIL_ACK_UNKNOWN;
    if (http_status == 200 && json_is_true(json_object_get(st, "success"))) {
        const char *status = read_transaction(doc, reference, &out->result);
        if (status != NULL) {
            out->ack = KITO_RAIL_ACK_ACCEPTED;
            kito_rail_copy(out->provider_id, sizeof(out->provider_id), out->result.provider_id);
            out->final = strcmp(status, "TS") == 0 || strcmp(status, "TF") == 0;
        }
    } else if (http_status == 400 || http_status == 401 || http_status == 403 ||
               (http_status == 200 && json_is_false(json_object_get(st, "success")))) {
        /* refused before anything moved (a bad PIN, an unknown wallet, a policy) */
        out->ack = KITO_RAIL_ACK_REFUSED;
    }
    json_decref(doc);
}

static kito_err build_status(const kito_rail_conf *conf, const kito_rail_transfer *t,
                             const char *provider_id, kito_rail_request *out)
{
    (void)conf, (void)provider_id;
    memset(out, 0, sizeof(*out));
    if (t->reference == NULL || t->reference[0] == '\0' ||
        strspn(t->reference, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
            strlen(t->reference))
        return KITO_E_VALIDATION;
    snprintf(out->method, sizeof(out->method), "GET");
    snprintf(out->path, sizeof(out->path), AIRTEL_DISBURSE_PATH "%s?transactionType=B2C",
             t->reference);
    out->bearer = true;
    return country_headers(t, out);
}

static kito_rail_status parse_status(long http_status, const char *body, size_t len,
                                     const char *reference, kito_rail_result *out)
{
    memset(out, 0, sizeof(*out));
    if (http_status == 404)
        return KITO_RAIL_STATUS_NOT_FOUND;
    if (http_status != 200 || body == NULL)
        return KITO_RAIL_STATUS_UNKNOWN;
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *status = read_transaction(doc, reference, out);
    kito_rail_status st = KITO_RAIL_STATUS_UNKNOWN;
    if (status != NULL && (strcmp(status, "TS") == 0 || strcmp(status, "TF") == 0))
        st = KITO_RAIL_STATUS_FINAL;
    else if (status != NULL && (strcmp(status, "TIP") == 0 || strcmp(status, "TA") == 0))
        st = KITO_RAIL_STATUS_PENDING;
    json_decref(doc);
    return st;
}

const kito_rail_driver kito_rail_airtel = {
    .name = "airtel_money",
    .make_reference = make_reference,
    .build_token = build_token,
    .parse_token = kito_rail_token_parse,
    .build_transfer = build_transfer,
    .parse_acceptance = parse_acceptance,
    .build_status = build_status,
    .parse_status = parse_status,
};
