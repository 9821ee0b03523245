/*
 * kitod configuration: every setting comes from a KITO_* environment variable, read once at start
 * into a kito_config and passed down (CONVENTIONS.md, 8). ops/kito.env.sample documents each one.
 *
 * An empty variable counts as unset (so `KITO_HTTP_PORT=` in an env file means the default),
 * except KITO_MYSQL_PASSWORD, whose default is empty anyway.
 */
#ifndef KITO_CONFIG_H
#define KITO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define KITO_CONFIG_HOST_SIZE 256
#define KITO_CONFIG_PATH_SIZE 1024
#define KITO_CONFIG_NAME_SIZE 128
#define KITO_CONFIG_ROLES 5 /* the KITO_ROLE_* bits of api/common/roles.h */

/* A payout rail's limits per transfer in one currency (KITO_PAYOUT_LIMITS; issue 19). */
#define KITO_PAYOUT_LIMITS_MAX 16
typedef struct kito_payout_limit {
    char rail[17];     /* payouts.rail: "mtn_momo" */
    char currency[4];  /* "ZMW" */
    int64_t min_units; /* below this a payout waits for more (0: none) */
    int64_t max_units; /* above this it is split into parts (0: none) */
} kito_payout_limit;

typedef struct kito_config {
    char bind[KITO_CONFIG_HOST_SIZE]; /* KITO_BIND: numeric IPv4/IPv6 address to listen on */
    uint16_t https_port;              /* KITO_HTTPS_PORT: 1..65535 */
    uint16_t http_port;               /* KITO_HTTP_PORT: redirect listener, 0 = none */
    uint16_t metrics_port; /* KITO_METRICS_PORT: /metrics and /healthz on 127.0.0.1, 0 = none */
    char public_host[KITO_CONFIG_HOST_SIZE];    /* KITO_PUBLIC_HOST: host[:port] of the redirect */
    char tls_cert[KITO_CONFIG_PATH_SIZE];       /* KITO_TLS_CERT: PEM chain (required) */
    char tls_key[KITO_CONFIG_PATH_SIZE];        /* KITO_TLS_KEY: PEM private key (required) */
    bool http2;                                 /* KITO_HTTP2: offer h2 in ALPN */
    char redis_host[KITO_CONFIG_HOST_SIZE];     /* KITO_REDIS_HOST */
    uint16_t redis_port;                        /* KITO_REDIS_PORT */
    char redis_user[KITO_CONFIG_NAME_SIZE];     /* KITO_REDIS_USER: the ACL user kitod AUTHs as */
    char redis_password[KITO_CONFIG_NAME_SIZE]; /* KITO_REDIS_PASSWORD (secret; never logged);
                                                   empty: no AUTH (a Redis without ACL users) */
    char mysql_host[KITO_CONFIG_HOST_SIZE];     /* KITO_MYSQL_HOST */
    uint16_t mysql_port;                        /* KITO_MYSQL_PORT */
    char mysql_user[KITO_CONFIG_NAME_SIZE];     /* KITO_MYSQL_USER */
    char mysql_password[KITO_CONFIG_NAME_SIZE]; /* KITO_MYSQL_PASSWORD (secret; never logged) */
    char mysql_db[KITO_CONFIG_NAME_SIZE];       /* KITO_MYSQL_DB */
    uint32_t mysql_workers;                     /* KITO_MYSQL_WORKERS: worker threads, 1..64 */
    uint32_t mysql_queue_max;                   /* KITO_MYSQL_QUEUE_MAX: queued jobs bound */
    uint32_t hash_workers;   /* KITO_HASH_WORKERS: threads of the pool that runs the jobs hashing a
                                PIN or password (sign-in, secret and wallet changes), apart from
                                the MySQL workers (api/http/req_db.h), 1..16 */
    uint32_t hash_queue_max; /* KITO_HASH_QUEUE_MAX: such jobs in flight at most; beyond, 503
                                "busy" with Retry-After */
    uint32_t request_timeout_ms;   /* KITO_REQUEST_TIMEOUT_MS: an asynchronous handler's MySQL or
                                      Redis work that takes longer is answered 504 "timeout" */
    uint32_t payout_wallet_hold_s; /* KITO_PAYOUT_WALLET_HOLD_S: payouts to a miner's new payout
                                      wallet wait this long after the change (86400) */
    char storefront_dir[KITO_CONFIG_PATH_SIZE]; /* KITO_STOREFRONT_DIR: static files at / */
    char signing_key[KITO_CONFIG_PATH_SIZE];    /* KITO_SIGNING_KEY: the platform's Ed25519 key
                                                   (PEM, 0600), made on first start if missing */
    char photo_dir[KITO_CONFIG_PATH_SIZE];      /* KITO_PHOTO_DIR: stone photos by SHA-256 */
    char access_log[KITO_CONFIG_PATH_SIZE];     /* KITO_ACCESS_LOG: "-" = stdout, or a path */
    uint32_t max_connections;                   /* KITO_MAX_CONNECTIONS: open connection bound */
    uint32_t max_connections_per_address; /* KITO_MAX_CONNECTIONS_PER_ADDRESS: ... from one IPv4
                                             address or IPv6 /64 (api/http/addr_limit.h) */
    uint32_t tls_handshake_timeout_ms;    /* KITO_TLS_HANDSHAKE_TIMEOUT_MS: from accept */
    size_t json_body_max;                 /* KITO_JSON_BODY_MAX: bytes, JSON routes */
    uint32_t bid_buyer_rate;    /* KITO_BID_BUYER_RATE: bids per second per buyer (default 5) */
    uint32_t bid_buyer_burst;   /* KITO_BID_BUYER_BURST: ... in a burst (10) */
    uint32_t bid_addr_rate;     /* KITO_BID_ADDR_RATE: bids per second per client address (50) */
    uint32_t bid_addr_burst;    /* KITO_BID_ADDR_BURST: ... in a burst (100) */
    uint32_t h2_reset_max;      /* KITO_H2_RESET_MAX: abandoned HTTP/2 streams a connection may have
                                   per second (token bucket of this size, refilled at this rate) */
    uint32_t shutdown_grace_ms; /* KITO_SHUTDOWN_GRACE_MS: in-flight wait on SIGTERM */
    uint32_t snapshot_every;    /* KITO_SNAPSHOT_EVERY: a lot's order-book snapshot is rewritten in
                                   Redis after this many of its commands (1000; 1 .. 1,000,000):
                                   recovery replays at most about this many commands a lot */
    /* KITO_SESSION_IDLE_<ROLE>_S: a session unused this long stops working, by role, indexed
     * like the role bits (kito_config_session_idle_s) */
    uint32_t session_idle_s[KITO_CONFIG_ROLES];
    uint32_t session_touch_s; /* KITO_SESSION_TOUCH_S: a session's last use is written to MySQL
                                 at most once per this many seconds */

    /* payouts (api/money/payouts.h, api/adapters/mpesa.h); sending is off while mpesa_base_url is
     * empty */
    char mpesa_base_url[KITO_CONFIG_PATH_SIZE];     /* KITO_MPESA_BASE_URL: http(s)://host[:port] */
    char mpesa_initiator[KITO_CONFIG_NAME_SIZE];    /* KITO_MPESA_INITIATOR: InitiatorName */
    char mpesa_consumer_key[KITO_CONFIG_NAME_SIZE]; /* KITO_MPESA_CONSUMER_KEY: Daraja app's */
    char mpesa_consumer_secret[KITO_CONFIG_NAME_SIZE];    /* KITO_MPESA_CONSUMER_SECRET (secret) */
    char mpesa_initiator_password[KITO_CONFIG_NAME_SIZE]; /* KITO_MPESA_INITIATOR_PASSWORD
                                                             (secret; never logged) */
    char mpesa_cert[KITO_CONFIG_PATH_SIZE]; /* KITO_MPESA_CERT: M-Pesa's public certificate file
                                               (PEM or DER): SecurityCredential's key */
    char mpesa_shortcode[16];               /* KITO_MPESA_SHORTCODE: PartyA, digits */
    char mpesa_callback_base[KITO_CONFIG_PATH_SIZE];  /* KITO_MPESA_CALLBACK_BASE: https://... */
    char mpesa_callback_token[KITO_CONFIG_NAME_SIZE]; /* KITO_MPESA_CALLBACK_TOKEN (secret) */
    uint32_t mpesa_timeout_ms;      /* KITO_MPESA_TIMEOUT_MS: one provider call at most */
    uint32_t payout_interval_ms;    /* KITO_PAYOUT_INTERVAL_MS: the payout worker's tick */
    uint32_t payout_check_after_ms; /* KITO_PAYOUT_CHECK_AFTER_MS: ask the provider about an
                                       attempt with no result this long after it was sent */
    uint32_t payout_senders;        /* KITO_PAYOUT_SENDERS: requests in flight per rail */
    uint32_t fx_max_age_s; /* KITO_FX_MAX_AGE_S: a payout waits rather than convert at an older
                              rate; 0: any age */
    kito_payout_limit payout_limits[KITO_PAYOUT_LIMITS_MAX]; /* KITO_PAYOUT_LIMITS */
    size_t payout_limit_count;

    /* the other payout rails (api/adapters/rail.h); each sends only when its base URL is set,
     * and then every other setting of that rail must be set too. KITO_MPESA_TIMEOUT_MS bounds
     * one call on every rail. */
    char momo_base_url[KITO_CONFIG_PATH_SIZE];         /* KITO_MOMO_BASE_URL: MTN MoMo (Zambia) */
    char momo_api_user[KITO_CONFIG_NAME_SIZE];         /* KITO_MOMO_API_USER: the API user (UUID) */
    char momo_api_key[KITO_CONFIG_NAME_SIZE];          /* KITO_MOMO_API_KEY (secret) */
    char momo_subscription_key[KITO_CONFIG_NAME_SIZE]; /* KITO_MOMO_SUBSCRIPTION_KEY (secret):
                                                          Ocp-Apim-Subscription-Key */
    char momo_target_environment[KITO_CONFIG_NAME_SIZE]; /* KITO_MOMO_TARGET_ENVIRONMENT:
                                                            X-Target-Environment ("sandbox") */
    char momo_callback_base[KITO_CONFIG_PATH_SIZE];      /* KITO_MOMO_CALLBACK_BASE: https://...;
                                                             with the token, MoMo calls back */
    char momo_callback_token[KITO_CONFIG_NAME_SIZE];     /* KITO_MOMO_CALLBACK_TOKEN (secret) */
    char airtel_base_url[KITO_CONFIG_PATH_SIZE];         /* KITO_AIRTEL_BASE_URL: Airtel Money */
    char airtel_client_id[KITO_CONFIG_NAME_SIZE];        /* KITO_AIRTEL_CLIENT_ID */
    char airtel_client_secret[KITO_CONFIG_NAME_SIZE];    /* KITO_AIRTEL_CLIENT_SECRET (secret) */
    char airtel_pin[1024]; /* KITO_AIRTEL_PIN: the disbursement PIN as Airtel wants it, already
                              encrypted with Airtel's public key (secret; never logged) */
    /* the miner's phone channel (api/http/routes_ussd.c); USSD answers 401 while the token is
     * empty */
    char ussd_callback_token[KITO_CONFIG_NAME_SIZE]; /* KITO_USSD_CALLBACK_TOKEN (secret) */
    uint32_t ussd_session_ttl_s; /* KITO_USSD_SESSION_TTL_S: a USSD session's life in Redis */
    /* SMS through Africa's Talking (api/adapters/africastalking.h); not sent while the URL is
     * empty */
    char at_base_url[KITO_CONFIG_PATH_SIZE]; /* KITO_AT_BASE_URL: http(s)://host[:port] */
    char at_username[KITO_CONFIG_NAME_SIZE]; /* KITO_AT_USERNAME */
    char at_api_key[512];                    /* KITO_AT_API_KEY (secret; never logged) */
    char at_sender[KITO_CONFIG_NAME_SIZE];   /* KITO_AT_SENDER: `from`, optional */
    uint32_t at_timeout_ms;                  /* KITO_AT_TIMEOUT_MS: one gateway call at most */
    uint32_t sms_interval_ms;                /* KITO_SMS_INTERVAL_MS: the sender's tick */
    char sms_callback_token[KITO_CONFIG_NAME_SIZE]; /* KITO_SMS_CALLBACK_TOKEN (secret): the
                                                       delivery-report callback's ?token= */

    /* how buyers pay invoices (issue 16; GET /v1/payment-methods): a method whose first
     * setting is empty is not offered */
    struct kito_config_payment {
        char bank_name[KITO_CONFIG_NAME_SIZE];         /* KITO_PAY_BANK_NAME */
        char bank_account_name[KITO_CONFIG_NAME_SIZE]; /* KITO_PAY_BANK_ACCOUNT_NAME */
        char bank_account[KITO_CONFIG_NAME_SIZE];      /* KITO_PAY_BANK_ACCOUNT: number or IBAN */
        char bank_swift[16];                           /* KITO_PAY_BANK_SWIFT: BIC */
        char mpesa_paybill[16];                        /* KITO_PAY_MPESA_PAYBILL: business number */
    } pay;
} kito_config;

/* Parses KITO_PAYOUT_LIMITS: "rail:CUR:min:max" entries separated by commas ("mtn_momo:ZMW:5:
 * 100000,mpesa:KES:10:250000"), min and max in whole units of CUR, max 0 for none, else max >=
 * 2 x min (so that the parts of a split are never below the minimum). At most cap entries
 * into out, *n of them. false, with a sentence in err, for anything else. Pure. */
bool kito_config_parse_payout_limits(const char *text, kito_payout_limit *out, size_t cap,
                                     size_t *n, char *err, size_t err_size);

/* Looks a variable up; returns NULL when it is not set. ud is the caller's. */
typedef const char *(*kito_config_getenv_fn)(const char *name, void *ud);

/* Fills cfg from the variables getenv_fn returns (defaults for the unset ones) and validates
 * them. On failure returns KITO_E_CONFIG and writes one English sentence naming the variable and
 * what is wrong into err (err_size bytes, always NUL-terminated); cfg is then unspecified.
 * Touches no file: whether the certificate can be read is checked when TLS is set up. */
kito_err kito_config_load(kito_config *cfg, kito_config_getenv_fn getenv_fn, void *ud, char *err,
                          size_t err_size);

/* kito_config_load over the process environment (getenv). */
kito_err kito_config_load_env(kito_config *cfg, char *err, size_t err_size);

/* The idle limit of role (one KITO_ROLE_* bit) in seconds; 0 for anything else. */
uint32_t kito_config_session_idle_s(const kito_config *cfg, unsigned role);

/* Parses a boolean setting: 1/0, true/false, yes/no, on/off (case-insensitive). false if s is
 * none of these (*out untouched). */
bool kito_config_parse_bool(const char *s, bool *out);

/* Parses a whole decimal number in [min, max] with no sign, spaces or suffix. false otherwise. */
bool kito_config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out);

#endif
