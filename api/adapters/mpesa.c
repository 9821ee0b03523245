#include "api/adapters/mpesa.h"

#include <assert.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/crypto.h"

/* ---- small helpers ------------------------------------------------------------------------- */

static void copy_cut(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

static void set_why(char *why, size_t why_size, const char *msg)
{
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "%s", msg);
}

/* "+" then 8..15 digits, the first not 0 (E.164, as accounts store it). */
static bool msisdn_ok(const char *s)
{
    if (s == NULL || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    size_t n = 0;
    for (const char *p = s + 1; *p != '\0'; p++, n++)
        if (*p < '0' || *p > '9')
            return false;
    return n >= 8 && n <= 15;
}

/* 1..max bytes of printable ASCII. */
static bool printable(const char *s, size_t max)
{
    if (s == NULL || *s == '\0' || strlen(s) > max)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p > 0x7e)
            return false;
    return true;
}

static bool conf_ok(const kito_mpesa_conf *c)
{
    return c != NULL && c->base_url != NULL && c->base_url[0] != '\0' && c->initiator != NULL &&
           c->initiator[0] != '\0' && c->security_credential != NULL && c->shortcode != NULL &&
           c->shortcode[0] != '\0' && c->callback_base != NULL && c->callback_base[0] != '\0' &&
           c->callback_token != NULL;
}

/* ---- requests ------------------------------------------------------------------------------ */

kito_err kito_mpesa_result_url(const kito_mpesa_conf *conf, const char *path, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    const char *base = conf->callback_base;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--; /* "https://x/" and "https://x" name the same base */
    int n = snprintf(out, cap, "%.*s%s?token=", (int)bl, base, path);
    if (n < 0 || (size_t)n >= cap)
        return KITO_E_CAPACITY;
    size_t at = (size_t)n;
    for (const unsigned char *p = (const unsigned char *)conf->callback_token; *p != '\0'; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (at + (plain ? 1 : 3) >= cap)
            return KITO_E_CAPACITY;
        if (plain) {
            out[at++] = (char)*p;
        } else {
            out[at++] = '%';
            out[at++] = hex[*p >> 4];
            out[at++] = hex[*p & 15];
        }
    }
    out[at] = '\0';
    return KITO_OK;
}

kito_err kito_mpesa_b2c_build(const kito_mpesa_conf *conf, const kito_mpesa_b2c *req, json_t **out)
{
    char url[1024];
    *out = NULL;
    if (!conf_ok(conf) || req->amount_units < 1 || req->amount_units > KITO_MPESA_AMOUNT_MAX ||
        !msisdn_ok(req->msisdn) || !printable(req->originator_conversation_id, 64) ||
        !printable(req->remarks, 100) || !printable(req->occasion, 100))
        return KITO_E_VALIDATION;
    if (kito_mpesa_result_url(conf, KITO_MPESA_CALLBACK_PATH, url, sizeof(url)) != KITO_OK)
        return KITO_E_VALIDATION;
    /* Field order as Daraja's documentation lists them; jansson keeps insertion order. */
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s}",
                  "OriginatorConversationID", req->originator_conversation_id, "InitiatorName",
                  conf->initiator, "SecurityCredential", conf->security_credential, "CommandID",
                  "BusinessPayment", "Amount", (json_int_t)req->amount_units, "PartyA",
                  conf->shortcode, "PartyB", req->msisdn + 1, "Remarks", req->remarks,
                  "QueueTimeOutURL", url, "ResultURL", url, "Occasion", req->occasion);
    if (doc == NULL)
        return KITO_E_NOMEM;
    *out = doc;
    return KITO_OK;
}

kito_err kito_mpesa_status_build(const kito_mpesa_conf *conf, const char *originator_id,
                                 json_t **out)
{
    char url[1024];
    *out = NULL;
    if (!conf_ok(conf) || !printable(originator_id, 64))
        return KITO_E_VALIDATION;
    if (kito_mpesa_result_url(conf, KITO_MPESA_STATUS_CALLBACK_PATH, url, sizeof(url)) != KITO_OK)
        return KITO_E_VALIDATION;
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Initiator",
                  conf->initiator, "SecurityCredential", conf->security_credential, "CommandID",
                  "TransactionStatusQuery", "OriginatorConversationID", originator_id, "PartyA",
                  conf->shortcode, "IdentifierType", "4", "ResultURL", url, "QueueTimeOutURL", url,
                  "Remarks", "payout status", "Occasion", originator_id);
    if (doc == NULL)
        return KITO_E_NOMEM;
    *out = doc;
    return KITO_OK;
}

/* ---- answers ------------------------------------------------------------------------------- */

/* A string field (or a number, written out) copied into dst; "" when absent or another type. */
static void field_text(const json_t *obj, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(obj, name);
    if (json_is_string(v))
        copy_cut(dst, cap, json_string_value(v));
    else if (json_is_integer(v))
        snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
    else
        dst[0] = '\0';
}

void kito_mpesa_response_parse(long http_status, const char *body, size_t len,
                               kito_mpesa_response *out)
{
    memset(out, 0, sizeof(*out));
    out->ack = KITO_MPESA_ACK_UNKNOWN;
    if (http_status == 0)
        return;
    json_t *doc = NULL;
    if (body != NULL && len > 0 && len <= KITO_MPESA_BODY_MAX)
        doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    if (json_is_object(doc)) {
        field_text(doc, "ConversationID", out->conversation_id, sizeof(out->conversation_id));
        field_text(doc, "OriginatorConversationID", out->originator_conversation_id,
                   sizeof(out->originator_conversation_id));
        field_text(doc, "ResponseCode", out->code, sizeof(out->code));
        field_text(doc, "ResponseDescription", out->desc, sizeof(out->desc));
        if (out->code[0] == '\0') {
            field_text(doc, "errorCode", out->code, sizeof(out->code));
            field_text(doc, "errorMessage", out->desc, sizeof(out->desc));
        }
    }
    if (http_status == 200 && json_is_object(doc) && json_object_get(doc, "ResponseCode") != NULL) {
        /* "0" (Daraja sends a string) or 0 accepts; any other code is a refusal. An acceptance
         * without its ConversationID is not one we can be sure of, but it is no refusal either:
         * the provider may pay it, so it is asked about (unknown), never failed. */
        if (strcmp(out->code, "0") != 0)
            out->ack = KITO_MPESA_ACK_REFUSED;
        else if (out->conversation_id[0] != '\0')
            out->ack = KITO_MPESA_ACK_ACCEPTED;
    } else if (http_status >= 400 && http_status < 500 && http_status != 408) {
        /* The gateway refused the request itself (validation, authentication, throttling):
         * it was never queued, so nothing will be paid for it. 408 is a timeout: unknown. */
        out->ack = KITO_MPESA_ACK_REFUSED;
    }
    /* 5xx, 3xx, a 200 we cannot read: unknown, to be asked about */
    json_decref(doc);
}

/* An integer, or a string holding only one (Daraja is not consistent about ResultCode). */
static bool integer_of(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = strlen(s);
    if (n == 0 || n > 18)
        return false;
    int64_t x = 0;
    bool neg = s[0] == '-';
    for (size_t i = neg ? 1 : 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        x = x * 10 + (s[i] - '0');
    }
    if (neg && n == 1)
        return false;
    *out = neg ? -x : x;
    return true;
}

/* Reads ResultParameters.ResultParameter: an array of {Key, Value}, or one such object. */
static kito_err read_parameters(const json_t *params, kito_mpesa_result *out, char *why,
                                size_t why_size)
{
    if (params == NULL || json_is_null(params) || json_is_string(params))
        return KITO_OK; /* failures carry none (or an empty string) */
    if (!json_is_object(params)) {
        set_why(why, why_size, "Result.ResultParameters must be an object");
        return KITO_E_VALIDATION;
    }
    const json_t *list = json_object_get(params, "ResultParameter");
    size_t n = json_is_array(list) ? json_array_size(list) : json_is_object(list) ? 1 : 0;
    if (list != NULL && !json_is_array(list) && !json_is_object(list)) {
        set_why(why, why_size, "Result.ResultParameters.ResultParameter must be a list");
        return KITO_E_VALIDATION;
    }
    if (n > KITO_MPESA_PARAMS_MAX) {
        set_why(why, why_size, "too many ResultParameter entries");
        return KITO_E_VALIDATION;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_is_array(list) ? json_array_get(list, i) : list;
        const json_t *key = json_object_get(p, "Key"), *val = json_object_get(p, "Value");
        if (!json_is_object(p) || !json_is_string(key)) {
            set_why(why, why_size, "a ResultParameter has no Key");
            return KITO_E_VALIDATION;
        }
        if (strcmp(json_string_value(key), "TransactionAmount") == 0) {
            double d;
            if (json_is_integer(val)) {
                out->transaction_amount = (int64_t)json_integer_value(val);
            } else if (json_is_real(val) && (d = json_real_value(val)) >= 0 && d < 1e15 &&
                       d == (double)(int64_t)d) {
                out->transaction_amount = (int64_t)d;
            } else if (!integer_of(val, &out->transaction_amount)) {
                set_why(why, why_size, "TransactionAmount must be a whole number");
                return KITO_E_VALIDATION;
            }
            out->has_amount = true;
        } else if (strcmp(json_string_value(key), "TransactionReceipt") == 0) {
            if (json_is_string(val))
                copy_cut(out->receipt, sizeof(out->receipt), json_string_value(val));
        } else if (strcmp(json_string_value(key), "ReceiverPartyPublicName") == 0 &&
                   json_is_string(val)) {
            /* Daraja: "254708374149 - John Doe"; the leading digits are the wallet paid (kept
             * only when they look like one, so a name alone compares as "not reported") */
            const char *v = json_string_value(val);
            size_t d = 0;
            while (v[d] >= '0' && v[d] <= '9' && d < sizeof(out->receiver_msisdn) - 1)
                d++;
            if (d >= 8 && (v[d] == '\0' || v[d] == ' ' || v[d] == '-')) {
                memcpy(out->receiver_msisdn, v, d);
                out->receiver_msisdn[d] = '\0';
            }
        }
    }
    return KITO_OK;
}

/* A string field of at most cap-1 bytes: absent is fine (required = false), anything else
 * (another type, too long) is refused. */
static kito_err string_field(const json_t *obj, const char *name, bool required, char *dst,
                             size_t cap, char *why, size_t why_size)
{
    const json_t *v = json_object_get(obj, name);
    dst[0] = '\0';
    if (v == NULL || json_is_null(v)) {
        if (!required)
            return KITO_OK;
    } else if (json_is_string(v) && json_string_length(v) < cap &&
               (!required || json_string_length(v) > 0) &&
               strlen(json_string_value(v)) == json_string_length(v)) {
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return KITO_OK;
    }
    if (why != NULL && why_size > 0)
        snprintf(why, why_size, "Result.%s must be a string of %s%zu bytes", name,
                 required ? "1 to " : "at most ", cap - 1);
    return KITO_E_VALIDATION;
}

kito_err kito_mpesa_result_from_json(const json_t *doc, kito_mpesa_result *out, char *why,
                                     size_t why_size)
{
    memset(out, 0, sizeof(*out));
    const json_t *res = json_object_get(doc, "Result");
    if (!json_is_object(doc) || !json_is_object(res)) {
        set_why(why, why_size, "the body must be an object with a Result object");
        return KITO_E_VALIDATION;
    }
    if (!integer_of(json_object_get(res, "ResultCode"), &out->result_code)) {
        set_why(why, why_size, "Result.ResultCode must be an integer");
        return KITO_E_VALIDATION;
    }
    const json_t *type = json_object_get(res, "ResultType");
    if (type != NULL && !integer_of(type, &out->result_type)) {
        set_why(why, why_size, "Result.ResultType must be an integer");
        return KITO_E_VALIDATION;
    }
    kito_err e;
    if ((e = string_field(res, "OriginatorConversationID", true, out->originator_conversation_id,
                          sizeof(out->originator_conversation_id), why, why_size)) != KITO_OK ||
        (e = string_field(res, "ConversationID", false, out->conversation_id,
                          sizeof(out->conversation_id), why, why_size)) != KITO_OK ||
        (e = string_field(res, "TransactionID", false, out->transaction_id,
                          sizeof(out->transaction_id), why, why_size)) != KITO_OK)
        return e;
    const json_t *desc = json_object_get(res, "ResultDesc");
    if (desc != NULL && !json_is_string(desc) && !json_is_null(desc)) {
        set_why(why, why_size, "Result.ResultDesc must be a string");
        return KITO_E_VALIDATION;
    }
    if (json_is_string(desc))
        copy_cut(out->result_desc, sizeof(out->result_desc), json_string_value(desc));
    if ((e = read_parameters(json_object_get(res, "ResultParameters"), out, why, why_size)) !=
        KITO_OK)
        return e;
    if (out->result_code == 0 && out->transaction_id[0] == '\0') {
        if (out->receipt[0] == '\0') {
            set_why(why, why_size, "a successful Result needs a TransactionID");
            return KITO_E_VALIDATION;
        }
        copy_cut(out->transaction_id, sizeof(out->transaction_id), out->receipt);
    }
    return KITO_OK;
}

kito_err kito_mpesa_result_parse(const char *body, size_t len, kito_mpesa_result *out, char *why,
                                 size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (body == NULL || len == 0 || len > KITO_MPESA_BODY_MAX) {
        set_why(why, why_size, "the body is empty or too large");
        return KITO_E_MALFORMED_JSON;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        set_why(why, why_size, jerr.text);
        return KITO_E_MALFORMED_JSON;
    }
    kito_err e = kito_mpesa_result_from_json(doc, out, why, why_size);
    json_decref(doc);
    return e;
}

kito_mpesa_status kito_mpesa_status_ack_parse(long http_status, const char *body, size_t len)
{
    if (http_status != 200 || body == NULL || len == 0 || len > KITO_MPESA_BODY_MAX)
        return KITO_MPESA_STATUS_UNKNOWN;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    char code[KITO_MPESA_CODE_SIZE] = "";
    if (json_is_object(doc))
        field_text(doc, "ResponseCode", code, sizeof(code));
    json_decref(doc);
    /* taken: Daraja posts the answer to the query's ResultURL later */
    return strcmp(code, "0") == 0 ? KITO_MPESA_STATUS_PENDING : KITO_MPESA_STATUS_UNKNOWN;
}

/* A whole amount: a JSON integer, a real without a fraction (Daraja writes 300 or 1.0), or a
 * decimal string ("300", "300.00"). */
static bool whole_amount(const json_t *v, int64_t *out)
{
    double d;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return *out >= 0;
    }
    if (json_is_real(v) && (d = json_real_value(v)) >= 0 && d < 1e15 && d == (double)(int64_t)d) {
        *out = (int64_t)d;
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *t = json_string_value(v);
    int64_t x = 0;
    size_t i = 0;
    for (; t[i] >= '0' && t[i] <= '9' && i < 15; i++)
        x = x * 10 + (t[i] - '0');
    if (i == 0)
        return false;
    if (t[i] == '.')
        for (i++; t[i] == '0'; i++) {
        }
    if (t[i] != '\0')
        return false;
    *out = x;
    return true;
}

/* The leading wallet digits of a party name ("254708374149 - John Doe"), "" when none. */
static void party_msisdn(const char *v, char *out, size_t cap)
{
    size_t d = 0;
    out[0] = '\0';
    while (v[d] >= '0' && v[d] <= '9' && d < cap - 1)
        d++;
    if (d >= 8 && (v[d] == '\0' || v[d] == ' ' || v[d] == '-')) {
        memcpy(out, v, d);
        out[d] = '\0';
    }
}

kito_err kito_mpesa_status_result_from_json(const json_t *doc, kito_mpesa_result *out,
                                            kito_mpesa_status *status, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    *status = KITO_MPESA_STATUS_UNKNOWN;
    const json_t *res = json_object_get(doc, "Result");
    if (!json_is_object(doc) || !json_is_object(res)) {
        set_why(why, why_size, "the body must be an object with a Result object");
        return KITO_E_VALIDATION;
    }
    int64_t code;
    if (!integer_of(json_object_get(res, "ResultCode"), &code)) {
        set_why(why, why_size, "Result.ResultCode must be an integer");
        return KITO_E_VALIDATION;
    }
    const json_t *desc = json_object_get(res, "ResultDesc");
    if (json_is_string(desc))
        copy_cut(out->result_desc, sizeof(out->result_desc), json_string_value(desc));
    /* the payment it is about: the parameter, else the Occasion Kito sent with the query */
    char status_text[32] = "";
    const json_t *params =
        json_object_get(json_object_get(res, "ResultParameters"), "ResultParameter");
    size_t n = json_is_array(params) ? json_array_size(params) : 0;
    if (n > KITO_MPESA_PARAMS_MAX) {
        set_why(why, why_size, "too many ResultParameter entries");
        return KITO_E_VALIDATION;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(params, i);
        const char *key = json_string_value(json_object_get(p, "Key"));
        const json_t *val = json_object_get(p, "Value");
        if (key == NULL || val == NULL)
            continue; /* Daraja leaves some keys without a Value */
        const char *text = json_string_value(val);
        if (strcmp(key, "OriginatorConversationID") == 0 && text != NULL)
            copy_cut(out->originator_conversation_id, sizeof(out->originator_conversation_id),
                     text);
        else if (strcmp(key, "ConversationID") == 0 && text != NULL)
            copy_cut(out->conversation_id, sizeof(out->conversation_id), text);
        else if (strcmp(key, "ReceiptNo") == 0 && text != NULL)
            copy_cut(out->transaction_id, sizeof(out->transaction_id), text);
        else if (strcmp(key, "TransactionStatus") == 0 && text != NULL)
            copy_cut(status_text, sizeof(status_text), text);
        else if (strcmp(key, "CreditPartyName") == 0 && text != NULL)
            party_msisdn(text, out->receiver_msisdn, sizeof(out->receiver_msisdn));
        else if (strcmp(key, "Amount") == 0) {
            if (!whole_amount(val, &out->transaction_amount)) {
                set_why(why, why_size, "Amount must be a whole number");
                return KITO_E_VALIDATION;
            }
            out->has_amount = true;
        }
    }
    if (out->originator_conversation_id[0] == '\0') {
        const json_t *item =
            json_object_get(json_object_get(res, "ReferenceData"), "ReferenceItem");
        const char *key = json_string_value(json_object_get(item, "Key"));
        const char *val = json_string_value(json_object_get(item, "Value"));
        if (key != NULL && strcmp(key, "Occasion") == 0 && val != NULL)
            copy_cut(out->originator_conversation_id, sizeof(out->originator_conversation_id), val);
    }
    if (out->originator_conversation_id[0] == '\0' ||
        strlen(out->originator_conversation_id) > 64) {
        set_why(why, why_size, "the result names no OriginatorConversationID of a payment");
        return KITO_E_VALIDATION;
    }
    if (code != 0) {
        out->result_code = code;
        *status = KITO_MPESA_STATUS_NOT_FOUND;
        return KITO_OK;
    }
    if (strcmp(status_text, "Completed") == 0) {
        if (out->transaction_id[0] == '\0') {
            set_why(why, why_size, "a Completed transaction needs its ReceiptNo");
            return KITO_E_VALIDATION;
        }
        out->result_code = 0;
        *status = KITO_MPESA_STATUS_FINAL;
    } else if (strcmp(status_text, "Failed") == 0 || strcmp(status_text, "Declined") == 0 ||
               strcmp(status_text, "Cancelled") == 0 || strcmp(status_text, "Expired") == 0) {
        out->result_code = 1;
        out->transaction_id[0] = '\0'; /* not paid: no receipt to keep */
        snprintf(out->result_desc, sizeof(out->result_desc), "TransactionStatus: %s", status_text);
        *status = KITO_MPESA_STATUS_FINAL;
    } else {
        *status = KITO_MPESA_STATUS_PENDING;
    }
    return KITO_OK;
}

/* ---- C2B ----------------------------------------------------------------------------------- */

/* A C2B text field: absent or null is "", a number is written out, anything else refused. */
static bool c2b_text(const json_t *doc, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(doc, name);
    dst[0] = '\0';
    if (v == NULL || json_is_null(v))
        return true;
    if (json_is_string(v)) {
        if (json_string_length(v) >= cap)
            return false;
        memcpy(dst, json_string_value(v), json_string_length(v) + 1);
        return strlen(dst) == json_string_length(v);
    }
    if (json_is_integer(v)) {
        snprintf(dst, cap, "%lld", (long long)json_integer_value(v));
        return true;
    }
    return false;
}

/* A part of the payer's name: cut to fit (a long name never refuses a payment); "" when
 * absent; false only for another type. */
static bool name_part(const json_t *doc, const char *name, char *dst, size_t cap)
{
    const json_t *v = json_object_get(doc, name);
    dst[0] = '\0';
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return false;
    copy_cut(dst, cap, json_string_value(v));
    return true;
}

/* "10", "10.5", "10.00" (or a JSON number) into cents; false for anything else or <= 0. */
static bool c2b_amount(const json_t *v, int64_t *cents)
{
    char t[32];
    if (json_is_integer(v))
        snprintf(t, sizeof(t), "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(t, sizeof(t), "%.2f", json_real_value(v));
    else if (json_is_string(v) && json_string_length(v) < sizeof(t))
        snprintf(t, sizeof(t), "%s", json_string_value(v));
    else
        return false;
    int64_t whole = 0, frac = 0;
    size_t i = 0, fd = 0;
    for (; t[i] >= '0' && t[i] <= '9' && i < 13; i++)
        whole = whole * 10 + (t[i] - '0');
    if (i == 0)
        return false;
    if (t[i] == '.')
        for (i++; t[i] >= '0' && t[i] <= '9' && fd < 2; i++, fd++)
            frac = frac * 10 + (t[i] - '0');
    if (t[i] != '\0')
        return false;
    if (fd == 1)
        frac *= 10;
    *cents = whole * 100 + frac;
    return *cents > 0;
}

kito_err kito_mpesa_c2b_from_json(const json_t *doc, kito_mpesa_c2b *out, char *why,
                                  size_t why_size)
{
    memset(out, 0, sizeof(*out));
    char first[41], middle[41], last[41];
    if (!json_is_object(doc)) {
        set_why(why, why_size, "the body must be a JSON object");
        return KITO_E_VALIDATION;
    }
    if (!c2b_text(doc, "TransactionType", out->trans_type, sizeof(out->trans_type)) ||
        !c2b_text(doc, "TransID", out->trans_id, sizeof(out->trans_id)) ||
        !c2b_text(doc, "TransTime", out->trans_time, sizeof(out->trans_time)) ||
        !c2b_text(doc, "BusinessShortCode", out->short_code, sizeof(out->short_code)) ||
        !c2b_text(doc, "BillRefNumber", out->bill_ref, sizeof(out->bill_ref)) ||
        !c2b_text(doc, "MSISDN", out->msisdn, sizeof(out->msisdn)) ||
        !name_part(doc, "FirstName", first, sizeof(first)) ||
        !name_part(doc, "MiddleName", middle, sizeof(middle)) ||
        !name_part(doc, "LastName", last, sizeof(last))) {
        set_why(why, why_size, "a C2B field has the wrong type or is too long");
        return KITO_E_VALIDATION;
    }
    if (!printable(out->trans_id, 32)) {
        set_why(why, why_size, "TransID must be 1 to 32 printable characters");
        return KITO_E_VALIDATION;
    }
    if (!c2b_amount(json_object_get(doc, "TransAmount"), &out->amount_minor)) {
        set_why(why, why_size, "TransAmount must be a positive amount with at most 2 decimals");
        return KITO_E_VALIDATION;
    }
    size_t tl = strlen(out->trans_time);
    for (size_t i = 0; i < tl; i++)
        if (out->trans_time[i] < '0' || out->trans_time[i] > '9')
            tl = 0;
    if (tl != 14) {
        set_why(why, why_size, "TransTime must be YYYYMMDDHHMMSS");
        return KITO_E_VALIDATION;
    }
    snprintf(out->payer_name, sizeof(out->payer_name), "%s%s%s%s%s", first,
             middle[0] != '\0' ? " " : "", middle, last[0] != '\0' ? " " : "", last);
    if (out->trans_type[0] == '\0')
        snprintf(out->trans_type, sizeof(out->trans_type), "Pay Bill");
    return KITO_OK;
}

kito_err kito_mpesa_c2b_register_build(const kito_mpesa_conf *conf, const char *shortcode,
                                       json_t **out)
{
    char vurl[1024], curl_[1024];
    *out = NULL;
    if (conf == NULL || conf->callback_base == NULL || conf->callback_token == NULL ||
        shortcode == NULL || shortcode[0] == '\0' ||
        kito_mpesa_result_url(conf, KITO_MPESA_C2B_VALIDATION_PATH, vurl, sizeof(vurl)) !=
            KITO_OK ||
        kito_mpesa_result_url(conf, KITO_MPESA_C2B_CONFIRMATION_PATH, curl_, sizeof(curl_)) !=
            KITO_OK)
        return KITO_E_VALIDATION;
    /* "Cancelled": when Kito cannot answer the validation, M-Pesa refuses the payment rather
     * than take money for an account number nobody checked */
    *out = json_pack("{s:s, s:s, s:s, s:s}", "ShortCode", shortcode, "ResponseType", "Cancelled",
                     "ConfirmationURL", curl_, "ValidationURL", vurl);
    return *out != NULL ? KITO_OK : KITO_E_NOMEM;
}

/* ---- callback authentication --------------------------------------------------------------- */

bool kito_mpesa_token_equal(const char *configured, const char *presented, size_t presented_len)
{
    uint8_t a[KITO_SHA256_LEN], b[KITO_SHA256_LEN];
    if (configured == NULL || configured[0] == '\0' || presented == NULL)
        return false;
    /* Hashing first makes the comparison independent of both lengths. */
    if (kito_crypto_sha256(configured, strlen(configured), a) != KITO_OK ||
        kito_crypto_sha256(presented, presented_len, b) != KITO_OK)
        return false;
    return CRYPTO_memcmp(a, b, sizeof(a)) == 0;
}

/* ---- amounts ------------------------------------------------------------------------------- */

static const int64_t pow10_table[] = {1, 10, 100, 1000, 10000, 100000, 1000000};

kito_err kito_mpesa_convert(int64_t source_minor, unsigned from_exp, unsigned to_exp,
                            int64_t rate_micros, int64_t *local_minor, int64_t *whole_units,
                            int64_t *remainder_minor)
{
    if (source_minor < 0 || rate_micros <= 0 || from_exp > 4 || to_exp > 4)
        return KITO_E_VALIDATION;
    /* local = source / 10^from * rate / 10^6 * 10^to, half up; 10^15 * 10^15 * 10^4 < 2^127 */
    unsigned __int128 num = (unsigned __int128)source_minor * (unsigned __int128)rate_micros *
                            (unsigned __int128)pow10_table[to_exp];
    unsigned __int128 den = (unsigned __int128)1000000 * (unsigned __int128)pow10_table[from_exp];
    unsigned __int128 local = (num + den / 2) / den;
    unsigned __int128 unit = (unsigned __int128)pow10_table[to_exp];
    if (local / unit > (unsigned __int128)KITO_MPESA_AMOUNT_MAX)
        return KITO_E_VALIDATION;
    *local_minor = (int64_t)local;
    *whole_units = (int64_t)(local / unit);
    *remainder_minor = (int64_t)(local % unit);
    assert(*whole_units * pow10_table[to_exp] + *remainder_minor == *local_minor);
    return KITO_OK;
}

bool kito_mpesa_rate_parse(const char *text, int64_t *rate_micros)
{
    if (text == NULL || *text == '\0')
        return false;
    int64_t whole = 0, frac = 0;
    size_t wd = 0, fd = 0;
    const char *p = text;
    for (; *p >= '0' && *p <= '9'; p++, wd++) {
        if (wd >= 9)
            return false;
        whole = whole * 10 + (*p - '0');
    }
    if (wd == 0)
        return false;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, fd++) {
            if (fd >= 6)
                return false;
            frac = frac * 10 + (*p - '0');
        }
        if (fd == 0)
            return false;
    }
    if (*p != '\0')
        return false;
    int64_t micros = whole * 1000000 + frac * pow10_table[6 - fd];
    if (micros <= 0)
        return false;
    *rate_micros = micros;
    return true;
}

/* ---- SecurityCredential -------------------------------------------------------------------- */

/* The certificate in path: PEM ("-----BEGIN CERTIFICATE-----") or DER (Safaricom's .cer files
 * come both ways). NULL when it is neither. */
static X509 *read_certificate(const char *path)
{
    BIO *b = BIO_new_file(path, "rb");
    if (b == NULL)
        return NULL;
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (x == NULL && BIO_reset(b) == 0)
        x = d2i_X509_bio(b, NULL);
    BIO_free(b);
    return x;
}

kito_err kito_mpesa_security_credential(const char *cert_path, const char *password, char *out,
                                        size_t cap, char *why, size_t why_size)
{
    if (cap > 0)
        out[0] = '\0';
    if (cert_path == NULL || cert_path[0] == '\0' || password == NULL || password[0] == '\0') {
        set_why(why, why_size, "the certificate file and the initiator password are required");
        return KITO_E_CONFIG;
    }
    X509 *x = read_certificate(cert_path);
    if (x == NULL) {
        if (why != NULL && why_size > 0)
            snprintf(why, why_size, "%s is not a readable X.509 certificate (PEM or DER)",
                     cert_path);
        return KITO_E_CONFIG;
    }
    kito_err e = KITO_E_INTERNAL;
    uint8_t *cipher = NULL;
    EVP_PKEY *key = X509_get0_pubkey(x); /* borrowed from x */
    EVP_PKEY_CTX *ctx = key != NULL ? EVP_PKEY_CTX_new(key, NULL) : NULL;
    size_t n = 0, plen = strlen(password);
    if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
        set_why(why, why_size, "the certificate's key is not an RSA key");
        e = KITO_E_CONFIG;
        goto out;
    }
    /* Daraja: RSA, PKCS #1 v1.5 padding (not OAEP); at most the key size - 11 bytes of input */
    if (plen + 11 > (size_t)EVP_PKEY_get_size(key)) {
        set_why(why, why_size, "the initiator password is too long for the certificate's key");
        e = KITO_E_CONFIG;
        goto out;
    }
    if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_encrypt(ctx, NULL, &n, (const uint8_t *)password, plen) <= 0 ||
        (cipher = OPENSSL_malloc(n)) == NULL ||
        EVP_PKEY_encrypt(ctx, cipher, &n, (const uint8_t *)password, plen) <= 0) {
        set_why(why, why_size, "OpenSSL could not encrypt the initiator password");
        goto out;
    }
    e = kito_crypto_b64_encode(KITO_B64_STD, cipher, n, out, cap) == KITO_OK ? KITO_OK
                                                                             : KITO_E_CAPACITY;
    if (e != KITO_OK)
        set_why(why, why_size, "the SecurityCredential does not fit");
out:
    OPENSSL_free(cipher);
    EVP_PKEY_CTX_free(ctx);
    X509_free(x);
    return e;
}
