/*
 * One interface for payout rails (issue 19; DESIGN.md, "Settlement and payouts": "Every rail a
 * miner can choose must pay, through one rail interface, each with its simulator").
 *
 * A rail is a driver: pure functions (no I/O, any thread) that build the provider's requests and
 * read its answers, in Kito's terms. The HTTP, the OAuth token (fetched, cached, refreshed before
 * it expires, refreshed once and the call retried after a 401) and the timeout are the shared
 * client's (kito_rail_client), so a driver never touches a socket and is unit-tested and fuzzed
 * without one. Adding a rail (TNM Mpamba, Tigo Pesa) is one driver file, its line in
 * kito_rail_find, and its simulator.
 *
 * The words: a transfer is one attempt; its reference is Kito's id for it, unique forever and
 * sent to the provider as the key the provider deduplicates on (Daraja's
 * OriginatorConversationID, MoMo's X-Reference-Id, Airtel's transaction.id), so that a retry of
 * the same attempt can never pay twice; a retry of a payout is a new attempt with a new reference.
 *
 * Threads: drivers anywhere; a client belongs to one thread (the payout worker).
 */
#ifndef KITO_RAIL_H
#define KITO_RAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "engine/err.h"

#define KITO_RAIL_REF_SIZE 65   /* a reference or a provider id: 64 bytes + NUL */
#define KITO_RAIL_TXN_SIZE 65   /* the provider's transaction id (receipt) */
#define KITO_RAIL_CODE_SIZE 33  /* a result code ("2001", "FAILED:PAYEE_NOT_FOUND", "TF") */
#define KITO_RAIL_DESC_SIZE 257 /* a description, cut */
#define KITO_RAIL_HEADERS_MAX 8 /* headers one request carries besides Authorization */
#define KITO_RAIL_TOKEN_SIZE 2048

/* Where a provider is and who Kito is to it; strings borrowed (from kito_config). A driver uses
 * the fields its provider has and ignores the others. */
typedef struct kito_rail_conf {
    const char *base_url;         /* "https://sandbox.momodeveloper.mtn.com" or the simulator */
    const char *client_id;        /* MoMo API user (UUID), Airtel client_id, Daraja consumer key */
    const char *client_secret;    /* MoMo API key, Airtel client_secret (secret) */
    const char *subscription_key; /* MoMo Ocp-Apim-Subscription-Key (secret) */
    const char *environment;      /* MoMo X-Target-Environment ("sandbox", "mtnzambia") */
    const char *pin;              /* Airtel: the disbursement PIN, already encrypted (secret) */
    const void *mpesa;            /* Daraja: its kito_mpesa_conf (api/adapters/mpesa.h) */
    uint32_t timeout_ms;          /* one HTTP call at most */
    const char *callback_url;     /* MoMo X-Callback-Url, "...?token=...": the reference is
                                     added as &ref=; NULL or "": no callback asked for */
} kito_rail_conf;

/* One transfer (attempt) as Kito means it. */
typedef struct kito_rail_transfer {
    const char *reference; /* Kito's id for the attempt: unique, <= 64 bytes */
    int64_t amount_units;  /* whole units of currency, >= 1 */
    const char *currency;  /* "ZMW" */
    const char *country;   /* ISO 3166 alpha-2 of the wallet ("ZM"): Airtel's X-Country */
    const char *msisdn;    /* E.164 "+260971234567" */
    const char *remarks;   /* shown to the miner; printable ASCII, <= 100 bytes */
    const char *payout_id; /* "pay_..." (Daraja Occasion, MoMo externalId) */
} kito_rail_transfer;

/* An HTTP request a driver built: the client sends it to conf->base_url + path. */
typedef struct kito_rail_request {
    char method[8]; /* "POST", "GET" */
    char path[512];
    json_t *body; /* NULL for none; owned: kito_rail_request_clear frees it */
    char headers[KITO_RAIL_HEADERS_MAX][512]; /* "Name: value"; "" ends the list */
    bool bearer;                              /* the client adds "Authorization: Bearer <token>" */
} kito_rail_request;

void kito_rail_request_clear(kito_rail_request *r);

/* Adds a header ("Name: value" from fmt). KITO_E_CAPACITY when full or too long. */
kito_err kito_rail_request_header(kito_rail_request *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* What the provider said to a transfer, synchronously. */
typedef enum kito_rail_ack {
    KITO_RAIL_ACK_ACCEPTED, /* taken; the result follows (callback or status enquiry) */
    KITO_RAIL_ACK_REFUSED,  /* definitely refused: nothing was or will be paid for it */
    KITO_RAIL_ACK_UNKNOWN,  /* no answer, a 5xx, a duplicate reference, an answer we cannot read:
                               the outcome is unknown and must be asked for, never assumed */
} kito_rail_ack;

/* A final result, from a callback, a status enquiry or a synchronous answer. Fields the
 * provider did not report are "" / false: only what it reports can be compared. */
typedef struct kito_rail_result {
    char reference[KITO_RAIL_REF_SIZE];   /* Kito's reference it is about ("" if not said) */
    char provider_id[KITO_RAIL_REF_SIZE]; /* the provider's id for the request ("" if none) */
    bool success;
    char code[KITO_RAIL_CODE_SIZE];
    char desc[KITO_RAIL_DESC_SIZE];
    char transaction_id[KITO_RAIL_TXN_SIZE]; /* the receipt; required for a success */
    bool has_amount;
    int64_t amount_units;
    char currency[4];
    char wallet[17]; /* digits, with or without '+' */
} kito_rail_result;

typedef struct kito_rail_answer {
    kito_rail_ack ack;
    char provider_id[KITO_RAIL_REF_SIZE];
    char code[KITO_RAIL_CODE_SIZE];
    char desc[KITO_RAIL_DESC_SIZE];
    bool final;              /* ACCEPTED with the result already in the answer (Airtel "TS") */
    kito_rail_result result; /* when final */
} kito_rail_answer;

typedef enum kito_rail_status {
    KITO_RAIL_STATUS_FINAL,     /* result holds the final result */
    KITO_RAIL_STATUS_PENDING,   /* the provider has it, not final yet */
    KITO_RAIL_STATUS_NOT_FOUND, /* the provider never received it */
    KITO_RAIL_STATUS_UNKNOWN,   /* no readable answer: ask again later */
} kito_rail_status;

/* A driver. Every function is pure. build_* return KITO_E_VALIDATION for input out of shape (the
 * attempt is then failed by Kito without being sent), KITO_E_NOMEM. parse_* never fail: what
 * cannot be read is UNKNOWN. http_status 0 means no answer came. */
typedef struct kito_rail_driver {
    const char *name; /* payouts.rail: "mpesa", "mtn_momo", "airtel_money" */
    /* A new reference for attempt attempt_no of payout payout_id from 16 random bytes. */
    void (*make_reference)(uint64_t payout_id, uint32_t attempt_no, const uint8_t rnd[16],
                           char out[KITO_RAIL_REF_SIZE]);
    /* The token request; NULL when the rail has no OAuth (the simulator's Daraja). */
    kito_err (*build_token)(const kito_rail_conf *conf, kito_rail_request *out);
    /* Reads a token answer: true with the token and its lifetime in seconds. */
    bool (*parse_token)(long http_status, const char *body, size_t len, char *token, size_t cap,
                        int64_t *expires_in_s);
    kito_err (*build_transfer)(const kito_rail_conf *conf, const kito_rail_transfer *t,
                               kito_rail_request *out);
    void (*parse_acceptance)(long http_status, const char *body, size_t len, const char *reference,
                             kito_rail_answer *out);
    /* The status enquiry of the transfer with reference (provider_id: what the acceptance said,
     * may be ""); t gives the country and currency some providers need in headers. */
    kito_err (*build_status)(const kito_rail_conf *conf, const kito_rail_transfer *t,
                             const char *provider_id, kito_rail_request *out);
    kito_rail_status (*parse_status)(long http_status, const char *body, size_t len,
                                     const char *reference, kito_rail_result *out);
} kito_rail_driver;

/* The OAuth answer MoMo and Airtel give ({"access_token", "expires_in"}: a number or a
 * decimal string): true with the token (cap bytes at most) and its lifetime. Pure. */
bool kito_rail_token_parse(long http_status, const char *body, size_t len, char *token, size_t cap,
                           int64_t *expires_in_s);

/* A Daraja result (api/adapters/mpesa.h) in the rail's terms: the callback route uses it. */
struct kito_mpesa_result;
void kito_rail_mpesa_result(const struct kito_mpesa_result *m, kito_rail_result *out);

/* The driver of a rail by its name (payouts.rail), NULL for a rail without one yet. */
const kito_rail_driver *kito_rail_find(const char *name);

extern const kito_rail_driver kito_rail_mpesa;  /* adapters/rail_mpesa.c: Daraja B2C */
extern const kito_rail_driver kito_rail_momo;   /* adapters/rail_momo.c: MTN MoMo */
extern const kito_rail_driver kito_rail_airtel; /* adapters/rail_airtel.c: Airtel Money */

/* ---- the shared client ------------------------------------------------------------------------
 */

typedef struct kito_rail_http {
    long status; /* 0 when no answer came (refused, reset, timed out, aborted) */
    char *body;  /* malloc'd, NUL-terminated, may be NULL */
    size_t len;
    char error[256];
} kito_rail_http;

void kito_rail_http_free(kito_rail_http *h);

typedef bool (*kito_rail_abort_fn)(void *ud);

/* One rail's client: its driver, configuration and cached token. */
typedef struct kito_rail_client {
    const kito_rail_driver *driver;
    kito_rail_conf conf;
    char token[KITO_RAIL_TOKEN_SIZE]; /* "" when none */
    int64_t token_refresh_at_ms;      /* refresh from then on: before it expires */
    uint32_t tokens_fetched;          /* for tests and logs */
} kito_rail_client;

/* Sends r (blocking, conf.timeout_ms at most per HTTP call; a worker thread only). When the
 * request wants a bearer token, a cached one is used while it is fresh and a new one fetched
 * otherwise; a 401 answer drops it, fetches a new one and sends r once more (a 401 means the
 * provider refused the call before acting on it, and the reference deduplicates anyway).
 * KITO_OK when an HTTP answer came (any status, in out), KITO_E_UNAVAILABLE when none did (or no
 * token could be had: out->status is 0), KITO_E_NOMEM. Call kito_rail_http_free on out always. */
kito_err kito_rail_client_send(kito_rail_client *c, const kito_rail_request *r,
                               kito_rail_abort_fn abort_fn, void *abort_ud, kito_rail_http *out);

/* Copies at most cap-1 bytes of src (NULL: "") into dst. */
void kito_rail_copy(char *dst, size_t cap, const char *src);

#endif
