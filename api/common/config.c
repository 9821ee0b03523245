#include "api/common/config.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

static kito_err fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static kito_err fail(char *err, size_t err_size, const char *fmt, ...)
{
    if (err != NULL && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return KITO_E_CONFIG;
}

bool kito_config_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

bool kito_config_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (s == NULL || *s == '\0' || strlen(s) > 20)
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
            return false;
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* Returns the variable's value, or NULL when unset or empty (empty means "use the default"). */
static const char *lookup(kito_config_getenv_fn getenv_fn, void *ud, const char *name)
{
    const char *v = getenv_fn(name, ud);
    return (v != NULL && *v != '\0') ? v : NULL;
}

static kito_err get_string(kito_config_getenv_fn getenv_fn, void *ud, const char *name,
                           const char *def, char *dst, size_t dst_size, char *err, size_t err_size)
{
    const char *v = lookup(getenv_fn, ud, name);
    if (v == NULL)
        v = def;
    if (strlen(v) >= dst_size)
        return fail(err, err_size, "%s is too long (at most %zu bytes)", name, dst_size - 1);
    memcpy(dst, v, strlen(v) + 1);
    return KITO_OK;
}

static kito_err get_uint(kito_config_getenv_fn getenv_fn, void *ud, const char *name, uint64_t def,
                         uint64_t min, uint64_t max, uint64_t *out, char *err, size_t err_size)
{
    const char *v = lookup(getenv_fn, ud, name);
    if (v == NULL) {
        *out = def;
        return KITO_OK;
    }
    if (!kito_config_parse_uint(v, min, max, out))
        return fail(err, err_size, "%s=%s is not a whole number from %llu to %llu", name, v,
                    (unsigned long long)min, (unsigned long long)max);
    return KITO_OK;
}

static kito_err get_port(kito_config_getenv_fn getenv_fn, void *ud, const char *name, uint16_t def,
                         bool zero_ok, uint16_t *out, char *err, size_t err_size)
{
    uint64_t v;
    kito_err e = get_uint(getenv_fn, ud, name, def, zero_ok ? 0 : 1, 65535, &v, err, err_size);
    if (e != KITO_OK)
        return fail(err, err_size, "%s=%s is not a TCP port (%s..65535)", name,
                    lookup(getenv_fn, ud, name), zero_ok ? "0" : "1");
    *out = (uint16_t)v;
    return KITO_OK;
}

static kito_err get_bool(kito_config_getenv_fn getenv_fn, void *ud, const char *name, bool def,
                         bool *out, char *err, size_t err_size)
{
    const char *v = lookup(getenv_fn, ud, name);
    if (v == NULL) {
        *out = def;
        return KITO_OK;
    }
    if (!kito_config_parse_bool(v, out))
        return fail(err, err_size, "%s=%s is not a boolean (use 1 or 0)", name, v);
    return KITO_OK;
}

static bool is_numeric_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Host names for Redis/MySQL: letters, digits, '.', '-', ':' (IPv6), '_'; nothing a shell or a
 * log line would trip on. */
static bool is_host(const char *s)
{
    if (*s == '\0')
        return false;
    for (const char *p = s; *p != '\0'; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '_'))
            return false;
    }
    return true;
}

/* KITO_PUBLIC_HOST: a host name ([A-Za-z0-9.-]) or a bracketed IPv6 literal, then optionally
 * ":port". It goes into a Location header as is, so nothing else may be in it. */
static bool is_authority(const char *s)
{
    const char *p = s;
    if (*p == '[') {
        for (p++; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                  (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.';
             p++)
            ;
        if (*p != ']' || p == s + 1)
            return false;
        p++;
    } else {
        for (; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               *p == '.' || *p == '-';
             p++)
            ;
        if (p == s)
            return false;
    }
    if (*p == '\0')
        return true;
    uint64_t port;
    return *p == ':' && kito_config_parse_uint(p + 1, 1, 65535, &port);
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        kito_err try_e_ = (expr);                                                                  \
        if (try_e_ != KITO_OK)                                                                     \
            return try_e_;                                                                         \
    } while (0)

/* The payout provider (api/adapters/mpesa.h). All or nothing: with KITO_MPESA_BASE_URL set, the
 * consumer key and secret (OAuth), the initiator and its password, the certificate file,
 * shortcode, callback base (https) and callback token must be too. Whether the certificate can
 * be read is checked when the payout worker starts. */
static kito_err load_mpesa(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                           size_t err_size)
{
    uint64_t v;
    TRY(get_string(env, ud, "KITO_MPESA_BASE_URL", "", cfg->mpesa_base_url,
                   sizeof(cfg->mpesa_base_url), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_INITIATOR", "", cfg->mpesa_initiator,
                   sizeof(cfg->mpesa_initiator), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_CONSUMER_KEY", "", cfg->mpesa_consumer_key,
                   sizeof(cfg->mpesa_consumer_key), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_CONSUMER_SECRET", "", cfg->mpesa_consumer_secret,
                   sizeof(cfg->mpesa_consumer_secret), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_INITIATOR_PASSWORD", "", cfg->mpesa_initiator_password,
                   sizeof(cfg->mpesa_initiator_password), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_CERT", "", cfg->mpesa_cert, sizeof(cfg->mpesa_cert), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_MPESA_SHORTCODE", "", cfg->mpesa_shortcode,
                   sizeof(cfg->mpesa_shortcode), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_CALLBACK_BASE", "", cfg->mpesa_callback_base,
                   sizeof(cfg->mpesa_callback_base), err, err_size));
    TRY(get_string(env, ud, "KITO_MPESA_CALLBACK_TOKEN", "", cfg->mpesa_callback_token,
                   sizeof(cfg->mpesa_callback_token), err, err_size));
    TRY(get_uint(env, ud, "KITO_MPESA_TIMEOUT_MS", 10000, 100, 120000, &v, err, err_size));
    cfg->mpesa_timeout_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_PAYOUT_INTERVAL_MS", 500, 10, 600000, &v, err, err_size));
    cfg->payout_interval_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_PAYOUT_CHECK_AFTER_MS", 60000, 200, 86400000, &v, err, err_size));
    cfg->payout_check_after_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_PAYOUT_SENDERS", 8, 1, 32, &v, err, err_size));
    cfg->payout_senders = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_FX_MAX_AGE_S", 7 * 86400, 0, 366 * 86400, &v, err, err_size));
    cfg->fx_max_age_s = (uint32_t)v;
    char limits[1024];
    TRY(get_string(env, ud, "KITO_PAYOUT_LIMITS", "", limits, sizeof(limits), err, err_size));
    if (!kito_config_parse_payout_limits(limits, cfg->payout_limits, KITO_PAYOUT_LIMITS_MAX,
                                         &cfg->payout_limit_count, err, err_size))
        return KITO_E_CONFIG;
    if (cfg->mpesa_callback_token[0] != '\0' && strlen(cfg->mpesa_callback_token) < 16)
        return fail(err, err_size, "KITO_MPESA_CALLBACK_TOKEN must have at least 16 characters");
    if (cfg->mpesa_base_url[0] == '\0')
        return KITO_OK;
    if (strncmp(cfg->mpesa_base_url, "https://", 8) != 0 &&
        strncmp(cfg->mpesa_base_url, "http://", 7) != 0)
        return fail(err, err_size, "KITO_MPESA_BASE_URL=%s must start with https:// or http://",
                    cfg->mpesa_base_url);
    if (cfg->mpesa_initiator[0] == '\0' || cfg->mpesa_shortcode[0] == '\0' ||
        cfg->mpesa_callback_token[0] == '\0' || cfg->mpesa_callback_base[0] == '\0' ||
        cfg->mpesa_consumer_key[0] == '\0' || cfg->mpesa_consumer_secret[0] == '\0' ||
        cfg->mpesa_initiator_password[0] == '\0' || cfg->mpesa_cert[0] == '\0')
        return fail(err, err_size,
                    "KITO_MPESA_BASE_URL is set: set KITO_MPESA_CONSUMER_KEY, "
                    "KITO_MPESA_CONSUMER_SECRET, KITO_MPESA_INITIATOR, "
                    "KITO_MPESA_INITIATOR_PASSWORD, KITO_MPESA_CERT, KITO_MPESA_SHORTCODE, "
                    "KITO_MPESA_CALLBACK_BASE and KITO_MPESA_CALLBACK_TOKEN too");
    if (!kito_config_parse_uint(cfg->mpesa_shortcode, 1, 9999999999ULL, &v))
        return fail(err, err_size, "KITO_MPESA_SHORTCODE=%s is not a number", cfg->mpesa_shortcode);
    if (strncmp(cfg->mpesa_callback_base, "https://", 8) != 0)
        return fail(err, err_size, "KITO_MPESA_CALLBACK_BASE=%s must be an https:// URL",
                    cfg->mpesa_callback_base);
    /* a status query before the request itself timed out could race it */
    if (cfg->payout_check_after_ms <= cfg->mpesa_timeout_ms)
        return fail(err, err_size,
                    "KITO_PAYOUT_CHECK_AFTER_MS must be longer than KITO_MPESA_TIMEOUT_MS");
    return KITO_OK;
}

/* How buyers pay (struct kito_config_payment): free text shown to them, bounded, printable. */
static kito_err load_payment(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                             size_t err_size)
{
    struct kito_config_payment *p = &cfg->pay;
    TRY(get_string(env, ud, "KITO_PAY_BANK_NAME", "", p->bank_name, sizeof(p->bank_name), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_PAY_BANK_ACCOUNT_NAME", "", p->bank_account_name,
                   sizeof(p->bank_account_name), err, err_size));
    TRY(get_string(env, ud, "KITO_PAY_BANK_ACCOUNT", "", p->bank_account, sizeof(p->bank_account),
                   err, err_size));
    TRY(get_string(env, ud, "KITO_PAY_BANK_SWIFT", "", p->bank_swift, sizeof(p->bank_swift), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_PAY_MPESA_PAYBILL", "", p->mpesa_paybill,
                   sizeof(p->mpesa_paybill), err, err_size));
    for (const char *c = p->mpesa_paybill; *c != '\0'; c++)
        if (*c < '0' || *c > '9')
            return fail(err, err_size, "KITO_PAY_MPESA_PAYBILL must be digits");
    if (p->bank_name[0] != '\0' && p->bank_account[0] == '\0')
        return fail(err, err_size, "KITO_PAY_BANK_ACCOUNT is required with KITO_PAY_BANK_NAME");
    return KITO_OK;
}

/* The other rails (api/adapters/rail.h): each all or nothing, like M-Pesa. */
static kito_err load_rails(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                           size_t err_size)
{
    static const struct {
        const char *name;
        size_t offset, size;
    } vars[] = {
#define RAIL_VAR(name, field)                                                                      \
    {name, offsetof(kito_config, field), sizeof(((kito_config *)0)->field)}
        RAIL_VAR("KITO_MOMO_BASE_URL", momo_base_url),
        RAIL_VAR("KITO_MOMO_API_USER", momo_api_user),
        RAIL_VAR("KITO_MOMO_API_KEY", momo_api_key),
        RAIL_VAR("KITO_MOMO_SUBSCRIPTION_KEY", momo_subscription_key),
        RAIL_VAR("KITO_MOMO_TARGET_ENVIRONMENT", momo_target_environment),
        RAIL_VAR("KITO_AIRTEL_BASE_URL", airtel_base_url),
        RAIL_VAR("KITO_AIRTEL_CLIENT_ID", airtel_client_id),
        RAIL_VAR("KITO_AIRTEL_CLIENT_SECRET", airtel_client_secret),
        RAIL_VAR("KITO_AIRTEL_PIN", airtel_pin),
#undef RAIL_VAR
    };
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        TRY(get_string(env, ud, vars[i].name, i == 4 ? "sandbox" : "", (char *)cfg + vars[i].offset,
                       vars[i].size, err, err_size));
    /* MoMo's callback (optional): both or neither */
    TRY(get_string(env, ud, "KITO_MOMO_CALLBACK_BASE", "", cfg->momo_callback_base,
                   sizeof(cfg->momo_callback_base), err, err_size));
    TRY(get_string(env, ud, "KITO_MOMO_CALLBACK_TOKEN", "", cfg->momo_callback_token,
                   sizeof(cfg->momo_callback_token), err, err_size));
    if ((cfg->momo_callback_base[0] == '\0') != (cfg->momo_callback_token[0] == '\0'))
        return fail(err, err_size,
                    "set KITO_MOMO_CALLBACK_BASE and KITO_MOMO_CALLBACK_TOKEN together");
    if (cfg->momo_callback_token[0] != '\0' && strlen(cfg->momo_callback_token) < 16)
        return fail(err, err_size, "KITO_MOMO_CALLBACK_TOKEN must have at least 16 characters");
    for (const char *c = cfg->momo_callback_token; *c != '\0'; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              *c == '-' || *c == '_'))
            return fail(err, err_size,
                        "KITO_MOMO_CALLBACK_TOKEN may hold only letters, digits, - and _");
    if (cfg->momo_callback_base[0] != '\0' &&
        (strncmp(cfg->momo_callback_base, "https://", 8) != 0 ||
         strlen(cfg->momo_callback_base) > 300)) /* it must fit a header with token and ref */
        return fail(err, err_size,
                    "KITO_MOMO_CALLBACK_BASE=%.300s must be an https:// URL of at most 300 bytes",
                    cfg->momo_callback_base);
    /* vars[0..4] are MoMo's (base first), vars[5..8] Airtel's */
    for (size_t first = 0; first < 9; first = first == 0 ? 5 : 9) {
        size_t last = first == 0 ? 5 : 9;
        const char *base = (const char *)cfg + vars[first].offset;
        if (base[0] == '\0')
            continue;
        if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
            return fail(err, err_size, "%s=%s must start with https:// or http://",
                        vars[first].name, base);
        for (size_t k = first + 1; k < last; k++)
            if (((const char *)cfg + vars[k].offset)[0] == '\0')
                return fail(err, err_size, "%s is set: set %s too", vars[first].name, vars[k].name);
        if (cfg->payout_check_after_ms <= cfg->mpesa_timeout_ms)
            return fail(err, err_size,
                        "KITO_PAYOUT_CHECK_AFTER_MS must be longer than KITO_MPESA_TIMEOUT_MS");
    }
    return KITO_OK;
}

/* KITO_REDIS_USER and KITO_REDIS_PASSWORD: sent as AUTH user password on every Redis connection
 * (ops/kito makes an ACL user "kito"; ops/REDIS.md, "Access"). An empty password means no AUTH,
 * so, as with KITO_MYSQL_PASSWORD, empty is a value. Neither may hold spaces or control
 * characters: they would not survive the env file, and a log line naming the user must stay one
 * line. The password is never put in a message. */
static kito_err load_redis_auth(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                                size_t err_size)
{
    TRY(get_string(env, ud, "KITO_REDIS_USER", "kito", cfg->redis_user, sizeof(cfg->redis_user),
                   err, err_size));
    for (const char *p = cfg->redis_user; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f)
            return fail(err, err_size, "KITO_REDIS_USER has a space or a control character");
    const char *pw = env("KITO_REDIS_PASSWORD", ud);
    if (pw == NULL)
        pw = "";
    if (strlen(pw) >= sizeof(cfg->redis_password))
        return fail(err, err_size, "KITO_REDIS_PASSWORD is too long (at most %zu bytes)",
                    sizeof(cfg->redis_password) - 1);
    for (const char *p = pw; *p != '\0'; p++)
        if (*p <= ' ' || *p == 0x7f)
            return fail(err, err_size, "KITO_REDIS_PASSWORD has a space or a control character");
    memcpy(cfg->redis_password, pw, strlen(pw) + 1);
    return KITO_OK;
}

/* Session idle limits by role (api/http/auth.c). The defaults, and why (README, Configuration):
 * a buyer comes back to a timed sale over its days (7 days); a miner signs in again with a
 * four-digit PIN on what is often a shared phone (1 day); valuers and organisers work a day at
 * a time, and a live sale's console is never idle while it runs (12 hours); an operator moves
 * money and changes permissions (30 minutes, OWASP's upper bound for low-risk applications).
 * The 30-day absolute expiry still applies. */
static kito_err load_sessions(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                              size_t err_size)
{
    static const struct {
        const char *name;
        uint32_t def_s;
    } idle[KITO_CONFIG_ROLES] = {
        /* in the order of the role bits: miner, valuer, buyer, organizer, operator */
        {"KITO_SESSION_IDLE_MINER_S", 86400},   {"KITO_SESSION_IDLE_VALUER_S", 43200},
        {"KITO_SESSION_IDLE_BUYER_S", 604800},  {"KITO_SESSION_IDLE_ORGANIZER_S", 43200},
        {"KITO_SESSION_IDLE_OPERATOR_S", 1800},
    };
    uint64_t v;
    TRY(get_uint(env, ud, "KITO_SESSION_TOUCH_S", 300, 1, 3600, &v, err, err_size));
    cfg->session_touch_s = (uint32_t)v;
    for (size_t i = 0; i < KITO_CONFIG_ROLES; i++) {
        /* at most the 30-day absolute lifetime: longer would mean nothing */
        TRY(get_uint(env, ud, idle[i].name, idle[i].def_s, 1, 30u * 86400, &v, err, err_size));
        /* a limit at or under the touch interval would end sessions in use */
        if (v <= cfg->session_touch_s)
            return fail(err, err_size, "%s=%llu must be longer than KITO_SESSION_TOUCH_S (%u)",
                        idle[i].name, (unsigned long long)v, cfg->session_touch_s);
        cfg->session_idle_s[i] = (uint32_t)v;
    }
    return KITO_OK;
}

uint32_t kito_config_session_idle_s(const kito_config *cfg, unsigned role)
{
    for (unsigned i = 0; i < KITO_CONFIG_ROLES; i++)
        if (role == (1u << i))
            return cfg->session_idle_s[i];
    return 0;
}

/* The miner's phone channel (api/http/routes_ussd.c). */
static kito_err load_phone(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                           size_t err_size)
{
    uint64_t v;
    TRY(get_string(env, ud, "KITO_USSD_CALLBACK_TOKEN", "", cfg->ussd_callback_token,
                   sizeof(cfg->ussd_callback_token), err, err_size));
    if (cfg->ussd_callback_token[0] != '\0' && strlen(cfg->ussd_callback_token) < 16)
        return fail(err, err_size, "KITO_USSD_CALLBACK_TOKEN must have at least 16 characters");
    TRY(get_uint(env, ud, "KITO_USSD_SESSION_TTL_S", 300, 30, 3600, &v, err, err_size));
    cfg->ussd_session_ttl_s = (uint32_t)v;
    TRY(get_string(env, ud, "KITO_AT_BASE_URL", "", cfg->at_base_url, sizeof(cfg->at_base_url), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_AT_USERNAME", "", cfg->at_username, sizeof(cfg->at_username), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_AT_API_KEY", "", cfg->at_api_key, sizeof(cfg->at_api_key), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_AT_SENDER", "", cfg->at_sender, sizeof(cfg->at_sender), err,
                   err_size));
    TRY(get_uint(env, ud, "KITO_AT_TIMEOUT_MS", 10000, 100, 120000, &v, err, err_size));
    cfg->at_timeout_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_SMS_INTERVAL_MS", 500, 10, 600000, &v, err, err_size));
    cfg->sms_interval_ms = (uint32_t)v;
    TRY(get_string(env, ud, "KITO_SMS_CALLBACK_TOKEN", "", cfg->sms_callback_token,
                   sizeof(cfg->sms_callback_token), err, err_size));
    if (cfg->sms_callback_token[0] != '\0' && strlen(cfg->sms_callback_token) < 16)
        return fail(err, err_size, "KITO_SMS_CALLBACK_TOKEN must have at least 16 characters");
    if (cfg->at_base_url[0] != '\0' && (strncmp(cfg->at_base_url, "https://", 8) != 0 &&
                                        strncmp(cfg->at_base_url, "http://", 7) != 0))
        return fail(err, err_size, "KITO_AT_BASE_URL=%s must start with https:// or http://",
                    cfg->at_base_url);
    if (cfg->at_base_url[0] != '\0' && (cfg->at_username[0] == '\0' || cfg->at_api_key[0] == '\0'))
        return fail(err, err_size,
                    "KITO_AT_BASE_URL is set: set KITO_AT_USERNAME and KITO_AT_API_KEY too");
    return KITO_OK;
}

bool kito_config_parse_payout_limits(const char *text, kito_payout_limit *out, size_t cap,
                                     size_t *n, char *err, size_t err_size)
{
    *n = 0;
    const char *p = text;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        char entry[96], rail[32], cur[8], extra[2];
        long long min, max;
        if (len == 0 || len >= sizeof(entry) || *n >= cap) {
            snprintf(err, err_size, "KITO_PAYOUT_LIMITS: at most %zu entries \"rail:CUR:min:max\"",
                     cap);
            return false;
        }
        memcpy(entry, p, len);
        entry[len] = '\0';
        for (char *c = entry; *c != '\0'; c++)
            if (*c == ':')
                *c = ' ';
        if (sscanf(entry, "%31s %7s %lld %lld %1s", rail, cur, &min, &max, extra) != 4 ||
            strlen(rail) > 16 || strlen(cur) != 3 || min < 0 || max < 0 ||
            (max > 0 && max < 2 * min) || min > 1000000000000LL || max > 1000000000000LL) {
            snprintf(err, err_size,
                     "KITO_PAYOUT_LIMITS: \"%.40s\" is not rail:CUR:min:max (whole units, max 0 "
                     "for none or at least twice min)",
                     entry);
            return false;
        }
        kito_payout_limit *l = &out[(*n)++];
        memcpy(l->rail, rail, strlen(rail) + 1);   /* checked: at most 16 bytes */
        memcpy(l->currency, cur, strlen(cur) + 1); /* checked: 3 bytes */
        l->min_units = min;
        l->max_units = max;
        p += len;
        if (*p == ',')
            p++;
    }
    return true;
}

kito_err kito_config_load(kito_config *cfg, kito_config_getenv_fn env, void *ud, char *err,
                          size_t err_size)
{
    uint64_t v;
    memset(cfg, 0, sizeof(*cfg));
    if (err != NULL && err_size > 0)
        err[0] = '\0';

    TRY(get_string(env, ud, "KITO_BIND", "127.0.0.1", cfg->bind, sizeof(cfg->bind), err, err_size));
    if (!is_numeric_address(cfg->bind))
        return fail(err, err_size, "KITO_BIND=%s is not a numeric IPv4 or IPv6 address", cfg->bind);
    TRY(get_port(env, ud, "KITO_HTTPS_PORT", 8443, false, &cfg->https_port, err, err_size));
    TRY(get_port(env, ud, "KITO_HTTP_PORT", 8080, true, &cfg->http_port, err, err_size));
    if (cfg->http_port == cfg->https_port)
        return fail(err, err_size, "KITO_HTTP_PORT and KITO_HTTPS_PORT are both %u",
                    (unsigned)cfg->https_port);

    TRY(get_port(env, ud, "KITO_METRICS_PORT", 9464, true, &cfg->metrics_port, err, err_size));
    if (cfg->metrics_port != 0 &&
        (cfg->metrics_port == cfg->https_port || cfg->metrics_port == cfg->http_port))
        return fail(err, err_size, "KITO_METRICS_PORT=%u is also KITO_HTTPS_PORT or KITO_HTTP_PORT",
                    (unsigned)cfg->metrics_port);
    {
        char def[32];
        if (cfg->https_port == 443)
            snprintf(def, sizeof(def), "localhost");
        else
            snprintf(def, sizeof(def), "localhost:%u", (unsigned)cfg->https_port);
        TRY(get_string(env, ud, "KITO_PUBLIC_HOST", def, cfg->public_host, sizeof(cfg->public_host),
                       err, err_size));
        if (!is_authority(cfg->public_host))
            return fail(err, err_size,
                        "KITO_PUBLIC_HOST=%s is not a host name or [IPv6] with an optional :port",
                        cfg->public_host);
    }

    TRY(get_string(env, ud, "KITO_TLS_CERT", "", cfg->tls_cert, sizeof(cfg->tls_cert), err,
                   err_size));
    TRY(get_string(env, ud, "KITO_TLS_KEY", "", cfg->tls_key, sizeof(cfg->tls_key), err, err_size));
    if (cfg->tls_cert[0] == '\0')
        return fail(err, err_size, "KITO_TLS_CERT is not set (path to a PEM certificate chain)");
    if (cfg->tls_key[0] == '\0')
        return fail(err, err_size, "KITO_TLS_KEY is not set (path to a PEM private key)");
    TRY(get_bool(env, ud, "KITO_HTTP2", true, &cfg->http2, err, err_size));

    TRY(get_string(env, ud, "KITO_REDIS_HOST", "127.0.0.1", cfg->redis_host,
                   sizeof(cfg->redis_host), err, err_size));
    if (!is_host(cfg->redis_host))
        return fail(err, err_size, "KITO_REDIS_HOST=%s is not a host name or address",
                    cfg->redis_host);
    TRY(get_port(env, ud, "KITO_REDIS_PORT", 6380, false, &cfg->redis_port, err, err_size));
    TRY(load_redis_auth(cfg, env, ud, err, err_size));

    TRY(get_string(env, ud, "KITO_MYSQL_HOST", "127.0.0.1", cfg->mysql_host,
                   sizeof(cfg->mysql_host), err, err_size));
    if (!is_host(cfg->mysql_host))
        return fail(err, err_size, "KITO_MYSQL_HOST=%s is not a host name or address",
                    cfg->mysql_host);
    TRY(get_port(env, ud, "KITO_MYSQL_PORT", 3307, false, &cfg->mysql_port, err, err_size));
    TRY(get_string(env, ud, "KITO_MYSQL_USER", "kito", cfg->mysql_user, sizeof(cfg->mysql_user),
                   err, err_size));
    {
        /* The one variable where empty is a value, not "unset". */
        const char *pw = env("KITO_MYSQL_PASSWORD", ud);
        if (pw == NULL)
            pw = "";
        if (strlen(pw) >= sizeof(cfg->mysql_password))
            return fail(err, err_size, "KITO_MYSQL_PASSWORD is too long (at most %zu bytes)",
                        sizeof(cfg->mysql_password) - 1);
        memcpy(cfg->mysql_password, pw, strlen(pw) + 1);
    }
    TRY(get_string(env, ud, "KITO_MYSQL_DB", "kito", cfg->mysql_db, sizeof(cfg->mysql_db), err,
                   err_size));
    TRY(get_uint(env, ud, "KITO_MYSQL_WORKERS", 2, 1, 64, &v, err, err_size));
    cfg->mysql_workers = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_MYSQL_QUEUE_MAX", 1024, 1, 1000000, &v, err, err_size));
    cfg->mysql_queue_max = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_HASH_WORKERS", 2, 1, 16, &v, err, err_size));
    cfg->hash_workers = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_HASH_QUEUE_MAX", 16, 1, 4096, &v, err, err_size));
    cfg->hash_queue_max = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_REQUEST_TIMEOUT_MS", 10000, 100, 600000, &v, err, err_size));
    cfg->request_timeout_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_PAYOUT_WALLET_HOLD_S", 86400, 1, 30 * 86400, &v, err, err_size));
    cfg->payout_wallet_hold_s = (uint32_t)v;

    TRY(get_string(env, ud, "KITO_STOREFRONT_DIR", "storefront", cfg->storefront_dir,
                   sizeof(cfg->storefront_dir), err, err_size));
    TRY(get_string(env, ud, "KITO_SIGNING_KEY", "var/keys/signing-ed25519.pem", cfg->signing_key,
                   sizeof(cfg->signing_key), err, err_size));
    TRY(get_string(env, ud, "KITO_PHOTO_DIR", "var/photos", cfg->photo_dir, sizeof(cfg->photo_dir),
                   err, err_size));
    TRY(get_string(env, ud, "KITO_ACCESS_LOG", "-", cfg->access_log, sizeof(cfg->access_log), err,
                   err_size));
    TRY(get_uint(env, ud, "KITO_MAX_CONNECTIONS", 4096, 1, 1000000, &v, err, err_size));
    cfg->max_connections = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_MAX_CONNECTIONS_PER_ADDRESS", 256, 1, 1000000, &v, err, err_size));
    cfg->max_connections_per_address = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_TLS_HANDSHAKE_TIMEOUT_MS", 10000, 100, 600000, &v, err, err_size));
    cfg->tls_handshake_timeout_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_JSON_BODY_MAX", 65536, 256, 64u << 20, &v, err, err_size));
    cfg->json_body_max = (size_t)v;
    TRY(get_uint(env, ud, "KITO_H2_RESET_MAX", 200, 1, 1000000, &v, err, err_size));
    cfg->h2_reset_max = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_SHUTDOWN_GRACE_MS", 5000, 0, 600000, &v, err, err_size));
    cfg->shutdown_grace_ms = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_SNAPSHOT_EVERY", 1000, 1, 1000000, &v, err, err_size));
    cfg->snapshot_every = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_BID_BUYER_RATE", 5, 1, 1000000, &v, err, err_size));
    cfg->bid_buyer_rate = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_BID_BUYER_BURST", 10, 1, 1000000, &v, err, err_size));
    cfg->bid_buyer_burst = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_BID_ADDR_RATE", 50, 1, 1000000, &v, err, err_size));
    cfg->bid_addr_rate = (uint32_t)v;
    TRY(get_uint(env, ud, "KITO_BID_ADDR_BURST", 100, 1, 1000000, &v, err, err_size));
    cfg->bid_addr_burst = (uint32_t)v;
    TRY(load_payment(cfg, env, ud, err, err_size));
    TRY(load_sessions(cfg, env, ud, err, err_size));
    TRY(load_phone(cfg, env, ud, err, err_size));
    TRY(load_mpesa(cfg, env, ud, err, err_size));
    return load_rails(cfg, env, ud, err, err_size);
}

static const char *process_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

kito_err kito_config_load_env(kito_config *cfg, char *err, size_t err_size)
{
    return kito_config_load(cfg, process_getenv, NULL, err, err_size);
}
