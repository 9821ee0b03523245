/*
 * The MTN MoMo rail (Zambia): the Disbursement product of MTN's MoMo Open API
 * (momodeveloper.mtn.com, "Disbursement" v1_0), as MTN documents it:
 *
 *   POST {base}/disbursement/token/
 *        Authorization: Basic base64(<API user>:<API key>), Ocp-Apim-Subscription-Key
 *     -> 200 {"access_token", "token_type": "access_token", "expires_in": 3600}
 *   POST {base}/disbursement/v1_0/transfer
 *        Authorization: Bearer, X-Reference-Id: <UUID v4>, X-Target-Environment,
 *        Ocp-Apim-Subscription-Key
 *        {"amount": "<string>", "currency", "externalId", "payee": {"partyIdType": "MSISDN",
 *         "partyId": "<digits>"}, "payerMessage", "payeeNote"}
 *     -> 202 Accepted (no body): the transfer is taken; 409 when the X-Reference-Id was used
 *        already (the request arrived before: its outcome is asked for, never assumed);
 *        400/403 {"code", "message"}: refused
 *   GET  {base}/disbursement/v1_0/transfer/{X-Reference-Id}
 *     -> 200 {"amount", "currency", "financialTransactionId", "externalId",
 *             "payee": {"partyIdType", "partyId"}, "status": "PENDING" | "SUCCESSFUL" |
 *             "FAILED", "reason": {"code", "message"} or "<code>"}
 *     -> 404 {"code": "RESOURCE_NOT_FOUND"}: never received
 *
 * X-Reference-Id is the reference the payout attempt owns: MTN refuses a second transfer with it,
 * so a resent attempt can never pay twice.
 *
 * The callback (momodeveloper.mtn.com/api-documentation/callback): with an X-Callback-Url header
 * on the transfer, MTN sends the final result once, by POST or PUT, its body "similar to the
 * response returned by the status check" (the GET above); "there is no retry on the callback",
 * so the status enquiry stays the fallback. The body carries externalId but not the
 * X-Reference-Id, so Kito puts the reference in the URL it asks for (&ref=), and the callback is
 * read by parse_status against that reference (http/routes_payouts.c).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/adapters/rail.h"
#include "api/common/crypto.h"

#define MOMO_TOKEN_PATH "/disbursement/token/"
#define MOMO_TRANSFER_PATH "/disbursement/v1_0/transfer"

/* RFC 4122 version 4 from 16 random bytes. */
static void make_reference(uint64_t payout_id, uint32_t attempt_no, const uint8_t rnd[16],
                           char out[KITO_RAIL_REF_SIZE])
{
    uint8_t b[16];
    (void)payout_id, (void)attempt_no;
    memcpy(b, rnd, 16);
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    char hex[33];
    kito_crypto_hex(b, 16, hex);
    snprintf(out, KITO_RAIL_REF_SIZE, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
}

static kito_err common_headers(const kito_rail_conf *conf, kito_rail_request *r)
{
    kito_err e =
        kito_rail_request_header(r, "Ocp-Apim-Subscription-Key: %s",
                                 conf->subscription_key != NULL ? conf->subscription_key : "");
    if (e == KITO_OK && conf->environment != NULL && conf->environment[0] != '\0')
        e = kito_rail_request_header(r, "X-Target-Environment: %s", conf->environment);
    return e;
}

static kito_err build_token(const kito_rail_conf *conf, kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    if (conf->client_id == NULL || conf->client_secret == NULL || conf->client_id[0] == '\0')
        return KITO_E_VALIDATION;
    char pair[512], b64[700];
    int n = snprintf(pair, sizeof(pair), "%s:%s", conf->client_id, conf->client_secret);
    if (n < 0 || (size_t)n >= sizeof(pair) ||
        kito_crypto_b64_encode(KITO_B64_STD, pair, (size_t)n, b64, sizeof(b64)) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), MOMO_TOKEN_PATH);
    kito_err e = kito_rail_request_header(out, "Authorization: Basic %s", b64);
    if (e == KITO_OK)
        e = kito_rail_request_header(out, "Ocp-Apim-Subscription-Key: %s",
                                     conf->subscription_key != NULL ? conf->subscription_key : "");
    return e;
}

/* An integer that may come as a JSON number or a decimal string ("3600", "180"). */
static bool int_of(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 18)
        return false;
    char *end;
    long long x = strtoll(json_string_value(v), &end, 10);
    if (*end != '\0')
        return false;
    *out = x;
    return true;
}

/* The OAuth answer both MoMo and Airtel give: {"access_token", "expires_in"} (a number at MTN,
 * a string at Airtel). */
bool kito_rail_token_parse(long http_status, const char *body, size_t len, char *token, size_t cap,
                           int64_t *expires_in_s)
{
    if (http_status != 200 || body == NULL)
        return false;
    json_t *doc = json_loadb(body, len, 0, NULL);
    const json_t *t = json_object_get(doc, "access_token");
    int64_t life = 0;
    bool ok = json_is_string(t) && json_string_length(t) > 0 && json_string_length(t) < cap &&
              int_of(json_object_get(doc, "expires_in"), &life) && life > 0 &&
              life <= 366LL * 24 * 3600;
    if (ok) {
        memcpy(token, json_string_value(t), json_string_length(t) + 1);
        *expires_in_s = life;
    }
    json_decref(doc);
    return ok;
}

static kito_err build_transfer(const kito_rail_conf *conf, const kito_rail_transfer *t,
                               kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    if (t->amount_units < 1 || t->msisdn == NULL || t->msisdn[0] != '+' || strlen(t->msisdn) < 9 ||
        t->reference == NULL || strlen(t->reference) != 36)
        return KITO_E_VALIDATION;
    char amount[24];
    snprintf(amount, sizeof(amount), "%" PRId64, t->amount_units);
    out->body =
        json_pack("{s:s, s:s, s:s, s:{s:s, s:s}, s:s, s:s}", "amount", amount, "currency",
                  t->currency, "externalId", t->payout_id, "payee", "partyIdType", "MSISDN",
                  "partyId", t->msisdn + 1, "payerMessage", t->remarks, "payeeNote", t->remarks);
    if (out->body == NULL)
        return KITO_E_NOMEM;
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), MOMO_TRANSFER_PATH);
    out->bearer = true;
    kito_err e = kito_rail_request_header(out, "X-Reference-Id: %s", t->reference);
    if (e == KITO_OK && conf->callback_url != NULL && conf->callback_url[0] != '\0')
        e = kito_rail_request_header(out, "X-Callback-Url: %s&ref=%s", conf->callback_url,
                                     t->reference);
    if (e == KITO_OK)
        e = common_headers(conf, out);
    return e;
}

static void read_error(const char *body, size_t len, char *code, size_t code_cap, char *desc,
                       size_t desc_cap)
{
    json_t *doc = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    kito_rail_copy(code, code_cap, json_string_value(json_object_get(doc, "code")));
    kito_rail_copy(desc, desc_cap, json_string_value(json_object_get(doc, "message")));
    json_decref(doc);
}

static void parse_acceptance(long http_status, const char *body, size_t len, const char *reference,
                             kito_rail_answer *out)
{
    memset(out, 0, sizeof(*out));
    if (http_status == 202) {
        out->ack = KITO_RAIL_ACK_ACCEPTED;
        kito_rail_copy(out->provider_id, sizeof(out->provider_id), reference);
        return;
    }
    read_error(body, len, out->code, sizeof(out->code), out->desc, sizeof(out->desc));
    /* 400, 403 (and a 401 that survived the token refresh): refused before anything was paid.
     * 409: this X-Reference-Id exists: it arrived before, so its outcome is asked for. */
    if (http_status == 400 || http_status == 401 || http_status == 403)
        out->ack = KITO_RAIL_ACK_REFUSED;
    else
        out->ack = KITO_RAIL_ACK_UNKNOWN;
}

static kito_err build_status(const kito_rail_conf *conf, const kito_rail_transfer *t,
                             const char *provider_id, kito_rail_request *out)
{
    (void)provider_id;
    memset(out, 0, sizeof(*out));
    if (t->reference == NULL || strlen(t->reference) != 36)
        return KITO_E_VALIDATION;
    snprintf(out->method, sizeof(out->method), "GET");
    snprintf(out->path, sizeof(out->path), MOMO_TRANSFER_PATH "/%s", t->reference);
    out->bearer = true;
    return common_headers(conf, out);
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
    const char *status = json_string_value(json_object_get(doc, "status"));
    kito_rail_status st = KITO_RAIL_STATUS_UNKNOWN;
    if (status != NULL && strcmp(status, "PENDING") == 0) {
        st = KITO_RAIL_STATUS_PENDING;
    } else if (status != NULL &&
               (strcmp(status, "SUCCESSFUL") == 0 || strcmp(status, "FAILED") == 0)) {
        st = KITO_RAIL_STATUS_FINAL;
        kito_rail_copy(out->reference, sizeof(out->reference), reference);
        kito_rail_copy(out->provider_id, sizeof(out->provider_id), reference);
        out->success = strcmp(status, "SUCCESSFUL") == 0;
        const json_t *reason = json_object_get(doc, "reason");
        const char *rc = json_is_string(reason)
                             ? json_string_value(reason)
                             : json_string_value(json_object_get(reason, "code"));
        snprintf(out->code, sizeof(out->code), "%s%s%.20s", status, rc != NULL ? ":" : "",
                 rc != NULL ? rc : "");
        kito_rail_copy(out->desc, sizeof(out->desc),
                       json_string_value(json_object_get(reason, "message")));
        kito_rail_copy(out->transaction_id, sizeof(out->transaction_id),
                       json_string_value(json_object_get(doc, "financialTransactionId")));
        const char *amount = json_string_value(json_object_get(doc, "amount"));
        if (amount != NULL && amount[0] != '\0') {
            char *end;
            long long a = strtoll(amount, &end, 10);
            /* "1500" or "1500.00": whole units; anything else is reported as an amount that
             * cannot be ours (-1), so a success with it is held */
            bool whole = *end == '\0' || strspn(end, ".0") == strlen(end);
            out->has_amount = true;
            out->amount_units = whole ? a : -1;
        }
        kito_rail_copy(out->currency, sizeof(out->currency),
                       json_string_value(json_object_get(doc, "currency")));
        kito_rail_copy(
            out->wallet, sizeof(out->wallet),
            json_string_value(json_object_get(json_object_get(doc, "payee"), "partyId")));
        if (out->success && out->transaction_id[0] == '\0')
            st = KITO_RAIL_STATUS_UNKNOWN; /* a success without its receipt is not readable */
    }
    json_decref(doc);
    return st;
}

const kito_rail_driver kito_rail_momo = {
    .name = "mtn_momo",
    .make_reference = make_reference,
    .build_token = build_token,
    .parse_token = kito_rail_token_parse,
    .build_transfer = build_transfer,
    .parse_acceptance = parse_acceptance,
    .build_status = build_status,
    .parse_status = parse_status,
};
