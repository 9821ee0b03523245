/*
 * Accounts, sessions and associations (issue 4, "Accounts and roles"). Thin handlers
 * (CONVENTIONS.md, 10): validate the body on the loop, run the repository
 * (api/store/repo_accounts.h, api/store/repo_sessions.h) on a MySQL worker — scrypt included, never
 * on the loop — and render.
 *
 * Status codes beyond the usual: sign-in throttling answers 429 with code "rate_limited" while
 * attempts are slowed and "locked" while the address is locked, for this account or for all, with a
 * Retry-After header in seconds (KITO_E_LOCKED maps to 429 in api/http/http_error.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/log.h"
#include "api/http/auth.h"
#include "api/http/http_error.h"
#include "api/common/query.h"
#include "api/common/render.h"
#include "api/store/repo_accounts.h"
#include "api/store/repo_sessions.h"
#include "api/http/req_db.h"
#include "api/http/routes.h"
#include "api/http/server.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

/* One uniform answer for every failed sign-in, whatever failed (unknown account or wrong
 * secret), so the answer does not tell which. */
static const char SIGNIN_FAILED[] = "the phone number or e-mail address and the PIN or password "
                                    "do not match an account";

/* ---- helpers --------------------------------------------------------------------------------- */

/* The User-Agent as printable ASCII, cut to fit (the column is 255 characters). */
static void user_agent(const kito_req *r, char out[256])
{
    out[0] = '\0';
    ssize_t i = h2o_find_header(&r->h2o->headers, H2O_TOKEN_USER_AGENT, -1);
    if (i == -1)
        return;
    h2o_iovec_t v = r->h2o->headers.entries[i].value;
    size_t n = 0;
    for (size_t k = 0; k < v.len && n < 255; k++)
        out[n++] = v.base[k] >= 0x20 && v.base[k] < 0x7f ? v.base[k] : '?';
    out[n] = '\0';
}

/* A string member of r->body, or NULL when absent or null (the shape check ran before). */
static const char *member(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src != NULL ? src : "");
}

/* Answers a throttled attempt: 429 and Retry-After. */
static void respond_throttled(kito_req *r, kito_err e, uint32_t retry_after_s)
{
    if (kito_req_alive(r)) {
        char v[16];
        int n = snprintf(v, sizeof(v), "%u", (unsigned)retry_after_s);
        h2o_add_header(&r->h2o->pool, &r->h2o->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                       h2o_strdup(&r->h2o->pool, v, (size_t)n).base, (size_t)n);
    }
    char msg[160];
    snprintf(msg, sizeof(msg),
             e == KITO_E_LOCKED ? "too many failed sign-ins; locked, try again in %u seconds"
                                : "too many failed sign-ins; try again in %u seconds",
             (unsigned)retry_after_s);
    kito_respond_error(r, e, msg);
}

/* Answers a failure that has no better message with its code's stock one. */
static void respond_failure(kito_req *r, kito_err e, const char *what)
{
    (void)what;
    kito_respond_error(r, e, NULL);
}

/* ---- POST /v1/accounts ----------------------------------------------------------------------- */

static const kito_field payout_fields[] = {
    {.name = "msisdn", .type = KITO_FT_STRING, .max = 16},
    {.name = "rail", .type = KITO_FT_STRING, .required = true, .max = 16},
};
static const kito_shape payout_shape = {payout_fields, 2};

static const kito_field miner_fields[] = {
    {.name = "role", .type = KITO_FT_STRING, .required = true, .max = 16},
    {.name = "name", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 120},
    {.name = "phone", .type = KITO_FT_STRING, .required = true, .max = 16},
    {.name = "pin", .type = KITO_FT_STRING, .required = true, .max = 16},
    {.name = "locale", .type = KITO_FT_STRING, .nullable = true, .max = 8},
    {.name = "association_id", .type = KITO_FT_STRING, .nullable = true, .max = 32},
    {.name = "payout", .type = KITO_FT_OBJECT, .required = true, .shape = &payout_shape},
};
static const kito_shape miner_shape = {miner_fields,
                                       sizeof(miner_fields) / sizeof(miner_fields[0])};

static const kito_field buyer_fields[] = {
    {.name = "role", .type = KITO_FT_STRING, .required = true, .max = 16},
    {.name = "name", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 120},
    {.name = "email", .type = KITO_FT_STRING, .required = true, .max = 254},
    {.name = "password", .type = KITO_FT_STRING, .required = true, .max = 128},
    {.name = "country", .type = KITO_FT_STRING, .nullable = true, .max = 2},
    {.name = "locale", .type = KITO_FT_STRING, .nullable = true, .max = 8},
};
static const kito_shape buyer_shape = {buyer_fields,
                                       sizeof(buyer_fields) / sizeof(buyer_fields[0])};

typedef struct register_job {
    kito_account_new in;
    char ip[46];
    kito_err err;
    kito_verr ve;
    kito_account out;
} register_job;

static void register_run(kito_db_conn *db, void *arg)
{
    register_job *j = arg;
    j->err = kito_sql_log_failure(
        "account registration",
        kito_repo_account_create(db, &j->in, "account.register", 0, true, j->ip, &j->out, &j->ve));
}

static void register_done(kito_req *r, void *arg)
{
    register_job *j = arg;
    if (j->err == KITO_OK)
        kito_respond_json(r, 201, kito_account_view(&j->out));
    else if (j->err == KITO_E_VALIDATION && j->ve.field[0] != '\0')
        kito_respond_invalid(r, &j->ve);
    else if (j->err == KITO_E_CONFLICT)
        kito_respond_error(r, KITO_E_CONFLICT,
                           j->in.phone[0] != '\0'
                               ? "an account with this phone number already exists"
                               : "an account with this e-mail address already exists");
    else
        respond_failure(r, j->err, "account registration");
    explicit_bzero(j->in.secret, sizeof(j->in.secret));
}

/* POST /v1/accounts: a miner or a buyer registers. Staff accounts come from kitoctl. */
kito_err kito_post_accounts(kito_req *r)
{
    kito_verr ve = {{0}};
    const json_t *role_v = json_object_get(r->body, "role");
    const char *role = json_string_value(role_v);
    if (role == NULL) {
        kito_verr_set(&ve, "role",
                      role_v == NULL || json_is_null(role_v) ? "is required" : "must be a string");
        return kito_respond_invalid(r, &ve);
    }
    const bool miner = strcmp(role, "miner") == 0;
    if (!miner && strcmp(role, "buyer") != 0) {
        if (kito_role_parse(role, strlen(role)) != 0) {
            kito_respond_error(r, KITO_E_FORBIDDEN,
                               "only miners and buyers register themselves; staff accounts are "
                               "made by an operator");
            return KITO_OK;
        }
        kito_verr_set(&ve, "role", "must be one of: miner, buyer");
        return kito_respond_invalid(r, &ve);
    }
    if (kito_validate_object(r->body, miner ? &miner_shape : &buyer_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);

    register_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    kito_err e;
    if (miner) {
        const json_t *payout = json_object_get(r->body, "payout");
        e = kito_account_new_validate(&j->in, role, member(r->body, "name"),
                                      member(r->body, "phone"), NULL, NULL,
                                      member(r->body, "locale"), member(r->body, "pin"),
                                      member(payout, "msisdn"), member(payout, "rail"), &ve);
        const char *asn = member(r->body, "association_id");
        if (e == KITO_OK && asn != NULL)
            e = kito_validate_id("association_id", KITO_ID_ASSOCIATION, asn, &j->in.association_id,
                                 &ve);
    } else {
        e = kito_account_new_validate(&j->in, role, member(r->body, "name"), NULL,
                                      member(r->body, "email"), member(r->body, "country"),
                                      member(r->body, "locale"), member(r->body, "password"), NULL,
                                      NULL, &ve);
    }
    if (e != KITO_OK) {
        explicit_bzero(j, sizeof(*j));
        free(j);
        return kito_respond_invalid(r, &ve);
    }
    kito_req_client_ip(r, j->ip);
    return kito_req_db_hash(r, register_run, register_done, j);
}

/* ---- POST /v1/sessions ----------------------------------------------------------------------- */

static const kito_field signin_fields[] = {
    {.name = "phone", .type = KITO_FT_STRING, .nullable = true, .max = 16},
    {.name = "email", .type = KITO_FT_STRING, .nullable = true, .max = 254},
    {.name = "pin", .type = KITO_FT_STRING, .nullable = true, .max = 16},
    {.name = "password", .type = KITO_FT_STRING, .nullable = true, .max = 128},
    {.name = "cookie", .type = KITO_FT_BOOL, .nullable = true},
};
static const kito_shape signin_shape = {signin_fields, 5};

typedef struct signin_job {
    kito_signin in;
    bool cookie; /* a page signs in: the token goes into the session cookie, not the body */
    kito_err err;
    kito_signin_result out;
} signin_job;

/* Sets the browser's session cookie for as long as the session lives (api/http/auth.h); a token
 * of NULL clears it. */
static void set_session_cookie(kito_req *r, const char *token, int64_t expires_at_ms)
{
    long long max_age = 0;
    if (token != NULL) {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        max_age = (expires_at_ms - ((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000)) / 1000;
        if (max_age < 1)
            max_age = 1;
    }
    kito_auth_set_cookie(r, token, max_age);
}

static void signin_run(kito_db_conn *db, void *arg)
{
    signin_job *j = arg;
    j->err = kito_sql_log_failure(
        "sign-in", kito_repo_session_signin(db, &kito_signin_policy_default, &j->in, &j->out));
    explicit_bzero(j->in.secret, sizeof(j->in.secret));
}

static void signin_done(kito_req *r, void *arg)
{
    signin_job *j = arg;
    switch (j->err) {
    case KITO_OK:
        if (j->cookie) {
            set_session_cookie(r, j->out.token, j->out.expires_at_ms);
            kito_respond_json(r, 201,
                              json_pack("{s:o, s:o}", "expires_at",
                                        kito_render_time(j->out.expires_at_ms), "account",
                                        kito_account_view(&j->out.account)));
            break;
        }
        kito_respond_json(r, 201,
                          json_pack("{s:s, s:o, s:o}", "token", j->out.token, "expires_at",
                                    kito_render_time(j->out.expires_at_ms), "account",
                                    kito_account_view(&j->out.account)));
        break;
    case KITO_E_UNAUTHORIZED:
        kito_respond_error(r, KITO_E_UNAUTHORIZED, SIGNIN_FAILED);
        break;
    case KITO_E_RATE_LIMITED:
    case KITO_E_LOCKED:
        respond_throttled(r, j->err, j->out.retry_after_s);
        break;
    case KITO_E_FORBIDDEN:
        kito_respond_error(r, KITO_E_FORBIDDEN, "this account is suspended or closed");
        break;
    default:
        respond_failure(r, j->err, "sign-in");
    }
    explicit_bzero(j->out.token, sizeof(j->out.token));
}

/* POST /v1/sessions: sign in with {"phone","pin"} or {"email","password"}. */
kito_err kito_post_sessions(kito_req *r)
{
    kito_verr ve = {{0}};
    if (kito_validate_object(r->body, &signin_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *phone = member(r->body, "phone"), *email = member(r->body, "email");
    const char *pin = member(r->body, "pin"), *password = member(r->body, "password");
    if ((phone == NULL) == (email == NULL)) {
        kito_verr_set(&ve, "phone", "or email is required (exactly one of them)");
        return kito_respond_invalid(r, &ve);
    }
    if ((pin == NULL) == (password == NULL)) {
        kito_verr_set(&ve, "pin", "or password is required (exactly one of them)");
        return kito_respond_invalid(r, &ve);
    }
    const char *secret = pin != NULL ? pin : password;
    const bool cookie = json_is_true(json_object_get(r->body, "cookie"));
    /* a page signing in sets a cookie: only one of our pages may (no login forgery) */
    if (cookie && !kito_auth_same_origin(r)) {
        kito_respond_error(r, KITO_E_FORBIDDEN,
                           "a cookie session can only be started from a Kito page (Origin)");
        return KITO_OK;
    }
    if (phone != NULL && kito_validate_phone("phone", phone, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    if (email != NULL && kito_validate_email("email", email, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    if (secret[0] == '\0' || strlen(secret) >= KITO_ACCOUNT_SECRET_SIZE) {
        kito_verr_set(&ve, pin != NULL ? "pin" : "password", "must be 1 to 128 bytes long");
        return kito_respond_invalid(r, &ve);
    }
    signin_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->cookie = cookie;
    copy_str(j->in.phone, sizeof(j->in.phone), phone);
    copy_str(j->in.email, sizeof(j->in.email), email);
    copy_str(j->in.secret, sizeof(j->in.secret), secret);
    kito_req_client_ip(r, j->in.ip);
    user_agent(r, j->in.user_agent);
    return kito_req_db_hash(r, signin_run, signin_done, j);
}

/* ---- DELETE /v1/sessions/current ------------------------------------------------------------- */

typedef struct signout_job {
    uint64_t account_id, session_id;
    char token_sha256[65];
    char ip[46];
    kito_err err;
} signout_job;

static void signout_run(kito_db_conn *db, void *arg)
{
    signout_job *j = arg;
    j->err = kito_sql_log_failure(
        "sign-out", kito_repo_session_revoke(db, j->account_id, j->session_id, j->ip));
}

static void signout_done(kito_req *r, void *arg)
{
    signout_job *j = arg;
    if (j->err != KITO_OK) {
        respond_failure(r, j->err, "sign-out");
        return;
    }
    /* again: a lookup that read the session before the revocation may have cached it since */
    kito_auth_forget(&r->server->auth, j->token_sha256);
    set_session_cookie(r, NULL, 0); /* a page's cookie goes with its session */
    kito_respond_bytes(r, 204, "application/json", "", 0);
}

/* DELETE /v1/sessions/current: signs out; the token stops working at once. */
kito_err kito_delete_sessions_current(kito_req *r)
{
    signout_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->account_id = r->principal.account_id;
    j->session_id = r->principal.session_id;
    memcpy(j->token_sha256, r->principal.token_sha256, sizeof(j->token_sha256));
    kito_req_client_ip(r, j->ip);
    /* forget it now, not after the database answered: a request racing the sign-out must not
     * find it in the cache (it then asks MySQL, which has it revoked or soon will) */
    kito_auth_forget(&r->server->auth, r->principal.token_sha256);
    return kito_req_db(r, signout_run, signout_done, j);
}

/* ---- GET and PATCH /v1/accounts/me ----------------------------------------------------------- */

typedef struct me_job {
    uint64_t account_id;
    kito_account_patch patch;               /* PATCH only */
    char current[KITO_ACCOUNT_SECRET_SIZE]; /* PATCH of the payout wallet: her PIN or password */
    char ip[46];
    kito_err err;
    kito_verr ve;
    kito_account out;
    uint32_t retry_after_s;
} me_job;

static void me_get_run(kito_db_conn *db, void *arg)
{
    me_job *j = arg;
    j->err = kito_sql_log_failure("own account", kito_repo_account_get(db, j->account_id, &j->out));
}

static void me_patch_run(kito_db_conn *db, void *arg)
{
    me_job *j = arg;
    j->err = KITO_OK;
    /* a payout wallet moves money: her PIN or password again, as for a sign-in from this
     * address (issue 15, finding 5: a bearer token alone must not redirect her payouts) */
    if (j->patch.has_payout_msisdn || j->patch.has_payout_rail)
        j->err = kito_repo_account_check_secret(db, &kito_signin_policy_default, j->account_id,
                                                j->current, j->ip, &j->retry_after_s);
    explicit_bzero(j->current, sizeof(j->current));
    if (j->err == KITO_OK)
        j->err = kito_repo_account_update(db, j->account_id, &j->patch, j->ip, &j->out, &j->ve);
    kito_sql_log_failure("account update", j->err);
}

static void me_done(kito_req *r, void *arg)
{
    me_job *j = arg;
    if (j->err == KITO_OK)
        kito_respond_json(r, 200, kito_account_view(&j->out));
    else if (j->err == KITO_E_VALIDATION && j->ve.field[0] != '\0')
        kito_respond_invalid(r, &j->ve);
    else if (j->err == KITO_E_FORBIDDEN)
        kito_respond_error(r, KITO_E_FORBIDDEN, "the current PIN or password is wrong");
    else if (j->err == KITO_E_RATE_LIMITED || j->err == KITO_E_LOCKED)
        respond_throttled(r, j->err, j->retry_after_s);
    else
        respond_failure(r, j->err, "own account");
}

/* GET /v1/accounts/me: the caller's own account, with her miner's profile. */
kito_err kito_get_accounts_me(kito_req *r)
{
    me_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->account_id = r->principal.account_id;
    return kito_req_db(r, me_get_run, me_done, j);
}

static const kito_field patch_payout_fields[] = {
    {.name = "msisdn", .type = KITO_FT_STRING, .max = 16},
    {.name = "rail", .type = KITO_FT_STRING, .max = 16},
};
static const kito_shape patch_payout_shape = {patch_payout_fields, 2};

static const kito_field patch_fields[] = {
    {.name = "name", .type = KITO_FT_STRING, .min = 1, .max = 120},
    {.name = "locale", .type = KITO_FT_STRING, .max = 8},
    {.name = "payout", .type = KITO_FT_OBJECT, .shape = &patch_payout_shape},
    {.name = "current", .type = KITO_FT_STRING, .max = 128},
};
static const kito_shape patch_shape = {patch_fields, 4};

/* PATCH /v1/accounts/me: name, locale, and a miner's payout wallet. */
kito_err kito_patch_accounts_me(kito_req *r)
{
    kito_verr ve = {{0}};
    static const char *const locales[] = {"en", "sw", NULL};
    if (kito_validate_object(r->body, &patch_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *name = member(r->body, "name"), *locale = member(r->body, "locale");
    const json_t *payout = json_object_get(r->body, "payout");
    const char *msisdn = member(payout, "msisdn"), *rail = member(payout, "rail");
    if (locale != NULL && kito_validate_enum("locale", locale, locales, NULL, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    if (name == NULL && locale == NULL && msisdn == NULL && rail == NULL) {
        kito_verr_set(&ve, "body", "must change at least one of name, locale, payout");
        return kito_respond_invalid(r, &ve);
    }
    if ((msisdn != NULL || rail != NULL) && r->principal.role != KITO_ROLE_MINER) {
        kito_verr_set(&ve, "payout", "only miners have a payout wallet");
        return kito_respond_invalid(r, &ve);
    }
    const char *current = member(r->body, "current");
    if ((msisdn != NULL || rail != NULL) && (current == NULL || current[0] == '\0')) {
        kito_verr_set(&ve, "current", "your PIN is required to change the payout wallet");
        return kito_respond_invalid(r, &ve);
    }
    me_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->account_id = r->principal.account_id;
    kito_account_patch *p = &j->patch;
    p->has_name = name != NULL;
    p->has_locale = locale != NULL;
    p->has_payout_msisdn = msisdn != NULL;
    p->has_payout_rail = rail != NULL;
    copy_str(p->name, sizeof(p->name), name);
    copy_str(p->locale, sizeof(p->locale), locale);
    copy_str(p->payout_msisdn, sizeof(p->payout_msisdn), msisdn);
    copy_str(p->payout_rail, sizeof(p->payout_rail), rail);
    p->payout_hold_s = r->server->cfg->payout_wallet_hold_s;
    p->channel = "api";
    if (msisdn != NULL || rail != NULL)
        copy_str(j->current, sizeof(j->current), current);
    kito_req_client_ip(r, j->ip);
    if (msisdn != NULL || rail != NULL) /* her PIN is verified: scrypt */
        return kito_req_db_hash(r, me_patch_run, me_done, j);
    return kito_req_db(r, me_patch_run, me_done, j);
}

/* ---- POST /v1/accounts/me/secret ------------------------------------------------------------- */

static const kito_field secret_fields[] = {
    {.name = "current", .type = KITO_FT_STRING, .required = true, .max = 128},
    {.name = "new", .type = KITO_FT_STRING, .required = true, .max = 128},
};
static const kito_shape secret_shape = {secret_fields, 2};

typedef struct secret_job {
    uint64_t account_id, session_id;
    char current[KITO_ACCOUNT_SECRET_SIZE], new_secret[KITO_ACCOUNT_SECRET_SIZE];
    char ip[46];
    kito_err err;
    kito_verr ve;
    kito_revoked out;
} secret_job;

static void secret_run(kito_db_conn *db, void *arg)
{
    secret_job *j = arg;
    j->err = kito_repo_account_change_secret(db, &kito_signin_policy_default, j->account_id,
                                             j->session_id, j->current, j->new_secret, j->ip,
                                             &j->out, &j->ve);
    kito_sql_log_failure("secret change", j->err);
    explicit_bzero(j->current, sizeof(j->current));
    explicit_bzero(j->new_secret, sizeof(j->new_secret));
}

static void secret_done(kito_req *r, void *arg)
{
    secret_job *j = arg;
    switch (j->err) {
    case KITO_OK:
        for (size_t i = 0; i < j->out.digest_count; i++)
            kito_auth_forget(&r->server->auth, j->out.digests[i]);
        kito_respond_json(r, 200, json_pack("{s:I}", "sessions_revoked", (json_int_t)j->out.count));
        break;
    case KITO_E_VALIDATION:
        kito_respond_invalid(r, &j->ve);
        break;
    case KITO_E_FORBIDDEN:
        kito_respond_error(r, KITO_E_FORBIDDEN, "the current PIN or password is wrong");
        break;
    case KITO_E_RATE_LIMITED:
    case KITO_E_LOCKED:
        respond_throttled(r, j->err, j->out.retry_after_s);
        break;
    default:
        respond_failure(r, j->err, "secret change");
    }
}

/* POST /v1/accounts/me/secret: changes the PIN or password and signs out every other session. */
kito_err kito_post_accounts_me_secret(kito_req *r)
{
    kito_verr ve = {{0}};
    if (kito_validate_object(r->body, &secret_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *current = member(r->body, "current"), *new_secret = member(r->body, "new");
    if (strlen(current) >= KITO_ACCOUNT_SECRET_SIZE ||
        strlen(new_secret) >= KITO_ACCOUNT_SECRET_SIZE) {
        kito_verr_set(&ve, "new", "must be at most 128 bytes long");
        return kito_respond_invalid(r, &ve);
    }
    secret_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    j->account_id = r->principal.account_id;
    j->session_id = r->principal.session_id;
    copy_str(j->current, sizeof(j->current), current);
    copy_str(j->new_secret, sizeof(j->new_secret), new_secret);
    kito_req_client_ip(r, j->ip);
    return kito_req_db_hash(r, secret_run, secret_done, j);
}

/* ---- associations ---------------------------------------------------------------------------- */

#define ASSOCIATIONS_PAGE_MAX 100

typedef struct associations_job {
    /* list */
    char country[3];
    uint64_t after_id;
    uint32_t limit;
    json_t *items;
    bool more;
    uint64_t last_id;
    /* create */
    char name[KITO_ASSOCIATION_NAME_SIZE];
    int32_t levy_bps;
    uint64_t actor_id;
    char ip[46];
    kito_association created;
    kito_err err;
} associations_job;

static kito_err association_item(void *ud, const kito_association *a)
{
    associations_job *j = ud;
    j->last_id = a->id;
    return json_array_append_new(j->items, kito_association_view(a)) == 0 ? KITO_OK : KITO_E_NOMEM;
}

static void associations_list_run(kito_db_conn *db, void *arg)
{
    associations_job *j = arg;
    j->items = json_array();
    j->err = j->items == NULL
                 ? KITO_E_NOMEM
                 : kito_repo_association_list(db, j->country[0] ? j->country : NULL, j->after_id,
                                              j->limit, association_item, j, &j->more);
    kito_sql_log_failure("association list", j->err);
}

static void associations_list_done(kito_req *r, void *arg)
{
    associations_job *j = arg;
    if (j->err != KITO_OK) {
        json_decref(j->items);
        respond_failure(r, j->err, "association list");
        return;
    }
    char cursor[KITO_CURSOR_SIZE] = "";
    if (j->more && kito_query_cursor_encode(r->server->cursor_key, "associations",
                                            (kito_cursor){(int64_t)j->last_id, j->last_id},
                                            cursor) != KITO_OK) {
        json_decref(j->items);
        kito_respond_error(r, KITO_E_INTERNAL, NULL);
        return;
    }
    kito_respond_json(r, 200, kito_render_page(j->items, j->more ? cursor : NULL));
}

/* GET /v1/associations?country=TZ&limit=20&cursor=...: public, by id. */
kito_err kito_get_associations(kito_req *r)
{
    kito_verr ve = {{0}};
    kito_query q;
    static const char *const allowed[] = {"country", "limit", "cursor", NULL};
    int64_t limit;
    if (kito_req_query(r, allowed, &q, &ve) != KITO_OK ||
        kito_query_get_int(&q, "limit", 1, ASSOCIATIONS_PAGE_MAX, 20, &limit, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *country = kito_query_get(&q, "country");
    if (country != NULL && kito_validate_origin_country("country", country, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    kito_cursor c = {0, 0};
    const char *cursor = kito_query_get(&q, "cursor");
    if (cursor != NULL &&
        kito_query_cursor_decode(r->server->cursor_key, "associations", cursor, &c, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    associations_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    copy_str(j->country, sizeof(j->country), country);
    j->after_id = c.id;
    j->limit = (uint32_t)limit;
    return kito_req_db(r, associations_list_run, associations_list_done, j);
}

static const kito_field association_fields[] = {
    {.name = "name", .type = KITO_FT_STRING, .required = true, .min = 1, .max = 120},
    {.name = "country", .type = KITO_FT_STRING, .required = true, .max = 2},
    {.name = "levy_bps", .type = KITO_FT_INTEGER, .nullable = true},
};
static const kito_shape association_shape = {association_fields, 3};

static void associations_create_run(kito_db_conn *db, void *arg)
{
    associations_job *j = arg;
    j->err = kito_repo_association_create(db, j->name, j->country, j->levy_bps, j->actor_id, j->ip,
                                          &j->created);
    kito_sql_log_failure("association create", j->err);
}

static void associations_create_done(kito_req *r, void *arg)
{
    associations_job *j = arg;
    if (j->err == KITO_OK)
        kito_respond_json(r, 201, kito_association_view(&j->created));
    else if (j->err == KITO_E_CONFLICT)
        kito_respond_error(r, KITO_E_CONFLICT,
                           "this country already has an association of that name");
    else
        respond_failure(r, j->err, "association create");
}

/* POST /v1/associations (operator): {"name", "country", "levy_bps"}. */
kito_err kito_post_associations(kito_req *r)
{
    kito_verr ve = {{0}};
    if (kito_validate_object(r->body, &association_shape, &ve) != KITO_OK)
        return kito_respond_invalid(r, &ve);
    const char *country = member(r->body, "country");
    int32_t levy = 0;
    const json_t *levy_v = json_object_get(r->body, "levy_bps");
    if (kito_validate_origin_country("country", country, &ve) != KITO_OK ||
        (levy_v != NULL && !json_is_null(levy_v) &&
         kito_validate_bps("levy_bps", levy_v, &levy, &ve) != KITO_OK))
        return kito_respond_invalid(r, &ve);
    associations_job *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return KITO_E_NOMEM;
    copy_str(j->name, sizeof(j->name), member(r->body, "name"));
    copy_str(j->country, sizeof(j->country), country);
    j->levy_bps = levy;
    j->actor_id = r->principal.account_id;
    kito_req_client_ip(r, j->ip);
    return kito_req_db(r, associations_create_run, associations_create_done, j);
}
