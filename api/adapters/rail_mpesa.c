/* The Daraja B2C rail (api/adapters/rail.h) over the protocol functions of api/adapters/mpesa.h,
 * which cite Safaricom's documentation. Daraja's result comes to a callback (ResultURL,
 * http/routes_payouts.c); the status enquiry is Daraja's asynchronous Transaction Status, whose
 * result comes to a callback of its own (mpesa.h). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "api/adapters/mpesa.h"
#include "api/adapters/rail.h"
#include "api/common/crypto.h"

void kito_rail_mpesa_result(const kito_mpesa_result *m, kito_rail_result *out)
{
    memset(out, 0, sizeof(*out));
    kito_rail_copy(out->reference, sizeof(out->reference), m->originator_conversation_id);
    kito_rail_copy(out->provider_id, sizeof(out->provider_id), m->conversation_id);
    out->success = m->result_code == 0;
    snprintf(out->code, sizeof(out->code), "%" PRId64, m->result_code);
    kito_rail_copy(out->desc, sizeof(out->desc), m->result_desc);
    kito_rail_copy(out->transaction_id, sizeof(out->transaction_id), m->transaction_id);
    out->has_amount = m->has_amount;
    out->amount_units = m->transaction_amount;
    /* Daraja B2C pays KES and does not say so: currency stays "" (not reported) */
    kito_rail_copy(out->wallet, sizeof(out->wallet), m->receiver_msisdn);
}

/* Kito's OriginatorConversationID: unique by the random part, readable by the rest. */
static void make_reference(uint64_t payout_id, uint32_t attempt_no, const uint8_t rnd[16],
                           char out[KITO_RAIL_REF_SIZE])
{
    char hex[33];
    kito_crypto_hex(rnd, 8, hex);
    hex[16] = '\0';
    snprintf(out, KITO_RAIL_REF_SIZE, "kito-%" PRIu64 "-%u-%s", payout_id, attempt_no, hex);
}

/* Daraja's OAuth (mpesa.h): GET the generate endpoint with the consumer key and secret as Basic
 * credentials; the answer is {"access_token", "expires_in": "3599"} (kito_rail_token_parse). */
static kito_err build_token(const kito_rail_conf *conf, kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    if (conf->client_id == NULL || conf->client_secret == NULL || conf->client_id[0] == '\0' ||
        conf->client_secret[0] == '\0')
        return KITO_E_VALIDATION;
    char pair[512], b64[700];
    int n = snprintf(pair, sizeof(pair), "%s:%s", conf->client_id, conf->client_secret);
    if (n < 0 || (size_t)n >= sizeof(pair) ||
        kito_crypto_b64_encode(KITO_B64_STD, pair, (size_t)n, b64, sizeof(b64)) != KITO_OK)
        return KITO_E_VALIDATION;
    snprintf(out->method, sizeof(out->method), "GET");
    snprintf(out->path, sizeof(out->path), "%s", KITO_MPESA_PATH_TOKEN);
    return kito_rail_request_header(out, "Authorization: Basic %s", b64);
}

static kito_err build_transfer(const kito_rail_conf *conf, const kito_rail_transfer *t,
                               kito_rail_request *out)
{
    memset(out, 0, sizeof(*out));
    kito_mpesa_b2c b = {.originator_conversation_id = t->reference,
                        .amount_units = t->amount_units,
                        .msisdn = t->msisdn,
                        .remarks = t->remarks,
                        .occasion = t->payout_id};
    /* Daraja's request carries no currency: the shortcode's (KES for Safaricom; the demo's
     * Tanzanian M-Pesa wallets go through the same simulator until Vodacom's API has a rail) */
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), "%s", KITO_MPESA_PATH_B2C);
    out->bearer = true;
    return kito_mpesa_b2c_build(conf->mpesa, &b, &out->body);
}

static void parse_acceptance(long http_status, const char *body, size_t len, const char *reference,
                             kito_rail_answer *out)
{
    kito_mpesa_response r;
    (void)reference;
    memset(out, 0, sizeof(*out));
    kito_mpesa_response_parse(http_status, body, len, &r);
    out->ack = r.ack == KITO_MPESA_ACK_ACCEPTED  ? KITO_RAIL_ACK_ACCEPTED
               : r.ack == KITO_MPESA_ACK_REFUSED ? KITO_RAIL_ACK_REFUSED
                                                 : KITO_RAIL_ACK_UNKNOWN;
    kito_rail_copy(out->provider_id, sizeof(out->provider_id), r.conversation_id);
    kito_rail_copy(out->code, sizeof(out->code), r.code);
    kito_rail_copy(out->desc, sizeof(out->desc), r.desc);
}

static kito_err build_status(const kito_rail_conf *conf, const kito_rail_transfer *t,
                             const char *provider_id, kito_rail_request *out)
{
    (void)provider_id;
    memset(out, 0, sizeof(*out));
    snprintf(out->method, sizeof(out->method), "POST");
    snprintf(out->path, sizeof(out->path), "%s", KITO_MPESA_PATH_STATUS);
    out->bearer = true;
    return kito_mpesa_status_build(conf->mpesa, t->reference, &out->body);
}

/* Daraja answers a Transaction Status query asynchronously (mpesa.h): the synchronous answer only
 * says the query was taken, and the result comes to KITO_MPESA_STATUS_CALLBACK_PATH
 * (http/routes_payouts.c), which applies it. Either way there is nothing final here: UNKNOWN
 * (ask again later, with the worker's backoff, until the result has landed), never PENDING,
 * which would say the provider has the payment. */
static kito_rail_status parse_status(long http_status, const char *body, size_t len,
                                     const char *reference, kito_rail_result *out)
{
    (void)http_status, (void)body, (void)len, (void)reference;
    memset(out, 0, sizeof(*out));
    return KITO_RAIL_STATUS_UNKNOWN;
}

const kito_rail_driver kito_rail_mpesa = {
    .name = "mpesa",
    .make_reference = make_reference,
    .build_token = build_token,
    .parse_token = kito_rail_token_parse,
    .build_transfer = build_transfer,
    .parse_acceptance = parse_acceptance,
    .build_status = build_status,
    .parse_status = parse_status,
};
