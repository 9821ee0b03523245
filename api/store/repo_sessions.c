#include "api/store/repo_sessions.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "api/common/log.h"
#include "api/store/audit.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

const kito_signin_policy kito_signin_policy_default = {
    .pair = {.window_s = 15 * 60, .slow_after = 5, .lock_after = 10},
    .address = {.window_s = 15 * 60, .slow_after = 20, .lock_after = 50},
    .account = {.window_s = 24 * 3600, .slow_after = 5, .lock_after = 0},
    .known_address_days = 90,
    .lock_s = 15 * 60,
    .delay_max_s = 5 * 60,
};

static uint32_t ceil_s(int64_t ms)
{
    int64_t s = (ms + 999) / 1000;
    return s < 1 ? 1 : s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
}

kito_err kito_signin_throttle_check(const kito_signin_policy *pol, const kito_signin_rule *rule,
                                    const kito_signin_counter *c, uint32_t *retry_after_s)
{
    *retry_after_s = 0;
    /* a rule without a lock never refuses as locked, whatever an old row says */
    if (rule->lock_after != 0 && c->locked_for_ms > 0) {
        *retry_after_s = ceil_s(c->locked_for_ms);
        return KITO_E_LOCKED;
    }
    /* a counter whose first failure left the window counts for nothing any more */
    if (c->failures < rule->slow_after || c->since_first_ms > (int64_t)rule->window_s * 1000)
        return KITO_OK;
    uint32_t steps = c->failures - rule->slow_after;
    uint64_t delay_s = steps >= 32 ? pol->delay_max_s : (uint64_t)1 << steps;
    if (delay_s > pol->delay_max_s)
        delay_s = pol->delay_max_s;
    int64_t wait_ms = (int64_t)delay_s * 1000 - c->since_last_ms;
    if (wait_ms <= 0)
        return KITO_OK;
    *retry_after_s = ceil_s(wait_ms);
    return KITO_E_RATE_LIMITED;
}

int64_t kito_session_lifetime_s(const char *role)
{
    if (strcmp(role, "miner") == 0 || strcmp(role, "buyer") == 0)
        return 30 * 24 * 3600;
    return 12 * 3600;
}

/* ---- counters -------------------------------------------------------------------------------- */

kito_err kito_signin_counter_row(void *ud, const kito_sql_row *row)
{
    kito_signin_counter *c = ud;
    c->failures = (uint32_t)kito_sql_u64(row, 0);
    c->since_first_ms = kito_sql_i64(row, 1);
    c->since_last_ms = kito_sql_i64(row, 2);
    c->locked_for_ms = kito_sql_i64(row, 3);
    return KITO_OK;
}

static kito_err counter_read(kito_db_conn *db, const char *scope, const char *subject,
                             kito_signin_counter *c)
{
    memset(c, 0, sizeof(*c));
    kito_sql_param p[] = {KITO_SQL_TEXT(scope), KITO_SQL_TEXT(subject)};
    return kito_sql_query(db,
                          "SELECT " KITO_SIGNIN_COUNTER_COLUMNS
                          " FROM signin_lockouts WHERE scope = ? AND subject = ?",
                          p, 2, kito_signin_counter_row, c, NULL);
}

/* Counts one failure for (scope, subject) under rule; *locked_now says whether this one began a
 * lock. Assignments of ON DUPLICATE KEY UPDATE run left to right, each seeing the ones before. */
static kito_err counter_fail(kito_db_conn *db, const kito_signin_policy *pol,
                             const kito_signin_rule *rule, const char *scope, const char *subject,
                             bool *locked_now)
{
    kito_sql_param p[] = {KITO_SQL_TEXT(scope),           KITO_SQL_TEXT(subject),
                          KITO_SQL_U64(rule->window_s),   KITO_SQL_U64(rule->lock_after),
                          KITO_SQL_U64(rule->lock_after), KITO_SQL_U64(pol->lock_s)};
    kito_err e = kito_sql_exec(
        db,
        "INSERT INTO signin_lockouts (scope, subject, failures) VALUES (?, ?, 1)"
        " ON DUPLICATE KEY UPDATE"
        " failures = IF(first_failure_at < UTC_TIMESTAMP(3) - INTERVAL ? SECOND, 1, failures + 1),"
        " first_failure_at = IF(failures = 1, UTC_TIMESTAMP(3), first_failure_at),"
        " last_failure_at = UTC_TIMESTAMP(3),"
        " locked_until = IF(? > 0 AND failures >= ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND, NULL)",
        p, KITO_N(p), NULL);
    if (e != KITO_OK)
        return e;
    kito_signin_counter c;
    if ((e = counter_read(db, scope, subject, &c)) != KITO_OK)
        return e;
    *locked_now = rule->lock_after != 0 && c.failures == rule->lock_after;
    return KITO_OK;
}

/* A pair counter's subject: the account's subject, '/', the address. */
static void pair_subject(const char *subject, const char *ip, char out[KITO_SIGNIN_PAIR_SIZE])
{
    snprintf(out, KITO_SIGNIN_PAIR_SIZE, "%s/%s", subject, ip);
}

/* After a success: the failures of this account from this address are forgotten. */
static kito_err counter_clear_pair(kito_db_conn *db, uint64_t account_id, const char *ip)
{
    char subject[24], pair[KITO_SIGNIN_PAIR_SIZE];
    snprintf(subject, sizeof(subject), "%" PRIu64, account_id);
    pair_subject(subject, ip, pair);
    kito_sql_param p[] = {KITO_SQL_TEXT(pair)};
    return kito_sql_exec(db, "DELETE FROM signin_lockouts WHERE scope = 'pair' AND subject = ?", p,
                         1, NULL);
}

static kito_err known_row(void *ud, const kito_sql_row *row)
{
    (void)row;
    *(bool *)ud = true;
    return KITO_OK;
}

/* Whether ip is her address: a session of account_id was created from it within the policy's
 * days. Asked for unknown identifiers too (account_id 0, never found), so that both cost one
 * query. */
static kito_err address_known(kito_db_conn *db, const kito_signin_policy *pol, uint64_t account_id,
                              const char *ip, bool *known)
{
    *known = false;
    kito_sql_param p[] = {KITO_SQL_U64(account_id), KITO_SQL_TEXT(ip),
                          KITO_SQL_U64(pol->known_address_days)};
    return kito_sql_query(db,
                          "SELECT 1 FROM sessions WHERE account_id = ? AND ip = ?"
                          " AND created_at > UTC_TIMESTAMP(3) - INTERVAL ? DAY LIMIT 1",
                          p, KITO_N(p), known_row, known, NULL);
}

/* The throttle of one account (subject: its id, or unknown_subject's) from ip, after the
 * address's own check: the pair counter, then the account-wide one unless ip is hers (issue 15,
 * finding 3: the account-wide counter only slows strangers, never locks, never holds her).
 * Both slowing: the longer wait. */
static kito_err throttle_account(kito_db_conn *db, const kito_signin_policy *pol,
                                 uint64_t account_id, const char *subject, const char *ip,
                                 uint32_t *retry_after_s)
{
    char pair[KITO_SIGNIN_PAIR_SIZE];
    pair_subject(subject, ip, pair);
    kito_signin_counter c;
    kito_err e = counter_read(db, "pair", pair, &c);
    if (e != KITO_OK)
        return e;
    kito_err verdict = kito_signin_throttle_check(pol, &pol->pair, &c, retry_after_s);
    if (verdict == KITO_E_LOCKED)
        return verdict;
    bool known = false;
    if ((e = address_known(db, pol, account_id, ip, &known)) != KITO_OK)
        return e;
    if (known)
        return verdict;
    if ((e = counter_read(db, "account", subject, &c)) != KITO_OK)
        return e;
    uint32_t account_wait_s = 0;
    if (kito_signin_throttle_check(pol, &pol->account, &c, &account_wait_s) != KITO_OK) {
        if (account_wait_s > *retry_after_s)
            *retry_after_s = account_wait_s;
        verdict = KITO_E_RATE_LIMITED;
    }
    return verdict;
}

/* The account counter's subject for an identifier that no account has. The throttle must treat
 * it as it treats an account, or its 429 where a stranger gets 401 tells which accounts exist;
 * and the account scope takes only numbers (schemas/002_accounts.sql): "19" and 18 digits of the
 * identifier's SHA-256, a number above any BIGINT UNSIGNED and so never an account's id. The
 * e-mail column matches without regard to case, so "A@x" and "a@x" count as one, as they would
 * for an account. */
static kito_err unknown_subject(const char *identifier, char subject[24])
{
    char folded[KITO_ACCOUNT_EMAIL_SIZE];
    size_t n = strnlen(identifier, sizeof(folded) - 1);
    for (size_t i = 0; i < n; i++)
        folded[i] = (char)tolower((unsigned char)identifier[i]);
    uint8_t md[KITO_SHA256_LEN];
    kito_err e = kito_crypto_sha256(folded, n, md);
    if (e != KITO_OK)
        return e;
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | md[i];
    snprintf(subject, 24, "19%018" PRIu64, v % 1000000000000000000u);
    return KITO_OK;
}

/* A failed attempt, for record_failure's transaction body. */
typedef struct failure {
    const kito_signin_policy *pol;
    uint64_t account_id; /* 0: no account has the identifier */
    const char *subject; /* the account counter's: the account's id, or unknown_subject's */
    const char *identifier, *ip, *reason;
} failure;

static kito_err record_failure_tx(kito_db_conn *db, void *ud)
{
    const failure *f = ud;
    const kito_signin_policy *pol = f->pol;
    char pair[KITO_SIGNIN_PAIR_SIZE];
    pair_subject(f->subject, f->ip, pair);
    kito_sql_param p[] = {f->account_id != 0 ? KITO_SQL_U64(f->account_id) : KITO_SQL_NULL,
                          KITO_SQL_TEXT(f->identifier), KITO_SQL_TEXT(f->ip)};
    kito_err e = kito_sql_exec(
        db, "INSERT INTO signin_failures (account_id, identifier, ip) VALUES (?, ?, ?)", p, 3,
        NULL);
    bool pair_locked = false, address_locked = false, never = false;
    if (e == KITO_OK)
        e = counter_fail(db, pol, &pol->pair, "pair", pair, &pair_locked);
    if (e == KITO_OK)
        e = counter_fail(db, pol, &pol->address, "address", f->ip, &address_locked);
    if (e == KITO_OK)
        e = counter_fail(db, pol, &pol->account, "account", f->subject, &never);
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:s}", "reason", f->reason);
        e = d != NULL ? kito_audit(db, 0, "session.fail", "account", f->account_id, d, f->ip)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    if (e == KITO_OK && pair_locked && f->account_id != 0) {
        /* this address is locked out of this account; the account itself never is */
        json_t *d = json_pack("{s:s, s:i}", "scope", "pair", "lock_s", (int)pol->lock_s);
        e = d != NULL ? kito_audit(db, 0, "account.lock", "account", f->account_id, d, f->ip)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    if (e == KITO_OK && address_locked) {
        json_t *d = json_pack("{s:s, s:i}", "scope", "address", "lock_s", (int)pol->lock_s);
        e = d != NULL ? kito_audit(db, 0, "address.lock", "address", 0, d, f->ip) : KITO_E_NOMEM;
        json_decref(d);
    }
    return e;
}

/* Records a failed attempt in one transaction: the failure row, the three counters, the audit
 * rows. Simultaneous failures update the same counter rows: a deadlock among them is retried. */
static kito_err record_failure(kito_db_conn *db, const kito_signin_policy *pol, uint64_t account_id,
                               const char *subject, const char *identifier, const char *ip,
                               const char *reason)
{
    failure f = {pol, account_id, subject, identifier, ip, reason};
    return kito_sql_transaction(db, record_failure_tx, &f, KITO_SQL_TX_ATTEMPTS);
}

/* ---- sign-in --------------------------------------------------------------------------------- */

/* A stored hash no account has, verified when the identifier matches nobody, so that an unknown
 * identifier costs the same scrypt time as a wrong secret. Made once per process. */
static char dummy_hash[KITO_SECRET_STORED_SIZE];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_make(void)
{
    static const char not_a_secret[] = "kito: no account has this secret";
    if (kito_crypto_secret_hash(not_a_secret, sizeof(not_a_secret) - 1, NULL, dummy_hash,
                                sizeof(dummy_hash)) != KITO_OK)
        dummy_hash[0] = '\0';
}

typedef struct found {
    uint64_t id;
    char hash[KITO_SECRET_STORED_SIZE];
    char status[KITO_ACCOUNT_ROLE_SIZE];
    char role[KITO_ACCOUNT_ROLE_SIZE];
    char kind[9];
} found;

static kito_err found_row(void *ud, const kito_sql_row *row)
{
    found *f = ud;
    f->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, f->hash, sizeof(f->hash));
    kito_sql_copy(row, 2, f->status, sizeof(f->status));
    kito_sql_copy(row, 3, f->role, sizeof(f->role));
    kito_sql_copy(row, 4, f->kind, sizeof(f->kind));
    return KITO_OK;
}

#define FOUND_COLUMNS "id, secret_hash, status, role, secret_kind"

static kito_err verify(const char *secret, const char *stored, bool *match)
{
    *match = false;
    kito_err e = kito_crypto_secret_verify(secret, strlen(secret), stored, match);
    if (e != KITO_OK)
        kito_log(NULL, "a stored secret hash is malformed (%s)", kito_err_code(e));
    return e;
}

static kito_err expiry_row(void *ud, const kito_sql_row *row)
{
    *(int64_t *)ud = kito_sql_i64(row, 0);
    return KITO_OK;
}

/* The session of a successful sign-in, in one transaction. */
static kito_err open_session(kito_db_conn *db, const kito_signin *in, const found *f,
                             const char *new_hash, kito_signin_result *out)
{
    char digest[KITO_SHA256_HEX_SIZE];
    kito_err e = kito_crypto_token_new(out->token);
    if (e == KITO_OK)
        e = kito_crypto_token_digest(out->token, digest);
    if (e != KITO_OK)
        return e;
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
    kito_sql_param p[] = {
        KITO_SQL_TEXT(digest),
        KITO_SQL_U64(f->id),
        KITO_SQL_I64(kito_session_lifetime_s(f->role)),
        KITO_SQL_TEXT(in->ip),
        in->user_agent[0] != '\0' ? KITO_SQL_TEXT(in->user_agent) : KITO_SQL_NULL,
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO sessions (token_sha256, account_id, expires_at, ip, user_agent)"
                      " VALUES (?, ?, UTC_TIMESTAMP(3) + INTERVAL ? SECOND, ?, ?)",
                      p, 5, &res);
    if (e != KITO_OK)
        goto out_rollback;
    out->session_id = res.insert_id;
    kito_sql_param sp[] = {KITO_SQL_U64(out->session_id)};
    e = kito_sql_query(db, "SELECT " KITO_SQL_DT_TO_MS("expires_at") " FROM sessions WHERE id = ?",
                       sp, 1, expiry_row, &out->expires_at_ms, NULL);
    if (e == KITO_OK)
        e = counter_clear_pair(db, f->id, in->ip);
    if (e == KITO_OK && new_hash != NULL) {
        /* only if nobody changed the secret meanwhile */
        kito_sql_param hp[] = {KITO_SQL_TEXT(new_hash), KITO_SQL_U64(f->id),
                               KITO_SQL_TEXT(f->hash)};
        e = kito_sql_exec(db,
                          "UPDATE accounts SET secret_hash = ? WHERE id = ? AND secret_hash = ?",
                          hp, 3, NULL);
    }
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:o}", "session_id", json_integer((json_int_t)out->session_id));
        e = d != NULL ? kito_audit(db, f->id, "session.create", "account", f->id, d, in->ip)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    if (e == KITO_OK)
        e = kito_sql_commit(db);
    if (e != KITO_OK)
        goto out_rollback;
    return KITO_OK;

out_rollback:
    kito_sql_rollback(db);
    return e;
}

kito_err kito_repo_session_signin(kito_db_conn *db, const kito_signin_policy *pol,
                                  const kito_signin *in, kito_signin_result *out)
{
    /* an account-wide lock is the lock strangers can set on her (issue 15, finding 3) */
    assert(pol->account.lock_after == 0);
    memset(out, 0, sizeof(*out));
    const bool by_phone = in->phone[0] != '\0';
    const char *identifier = by_phone ? in->phone : in->email;

    kito_signin_counter c;
    kito_err e = counter_read(db, "address", in->ip, &c);
    if (e != KITO_OK)
        return e;
    if ((e = kito_signin_throttle_check(pol, &pol->address, &c, &out->retry_after_s)) != KITO_OK)
        return e;

    found f = {0};
    kito_sql_param p[] = {KITO_SQL_TEXT(identifier)};
    size_t rows = 0;
    e = kito_sql_query(db,
                       by_phone ? "SELECT " FOUND_COLUMNS " FROM accounts WHERE phone = ?"
                                : "SELECT " FOUND_COLUMNS " FROM accounts WHERE email = ?",
                       p, 1, found_row, &f, &rows);
    if (e != KITO_OK)
        return e;
    /* an unknown identifier is counted and slowed like an account, so that the throttle's
     * answers do not tell whether it is one */
    char subject[24];
    if (rows == 1)
        snprintf(subject, sizeof(subject), "%" PRIu64, f.id);
    else if ((e = unknown_subject(identifier, subject)) != KITO_OK)
        return e;
    if ((e = throttle_account(db, pol, rows == 1 ? f.id : 0, subject, in->ip,
                              &out->retry_after_s)) != KITO_OK)
        return e;

    /* made on the first sign-in, after the throttle checks: at the production cost it takes a
     * few hundred milliseconds, which must not delay when an attempt is judged */
    pthread_once(&dummy_once, dummy_make);
    bool match = false;
    e = verify(in->secret, rows == 1 ? f.hash : dummy_hash, &match);
    if (e != KITO_OK && rows == 1)
        return KITO_E_INTERNAL;
    if (rows != 1 || !match) {
        e = record_failure(db, pol, rows == 1 ? f.id : 0, subject, identifier, in->ip,
                           rows == 1 ? "wrong_secret" : "unknown_account");
        return e != KITO_OK ? e : KITO_E_UNAUTHORIZED;
    }
    if (strcmp(f.status, "active") != 0)
        return KITO_E_FORBIDDEN;

    /* a hash of another cost (an older default, or a test fixture's) is upgraded now, while we
     * know the secret */
    char new_hash[KITO_SECRET_STORED_SIZE];
    const char *rehash = NULL;
    if (kito_crypto_secret_needs_rehash(f.hash, NULL) &&
        kito_crypto_secret_hash(in->secret, strlen(in->secret), NULL, new_hash, sizeof(new_hash)) ==
            KITO_OK)
        rehash = new_hash;
    if ((e = open_session(db, in, &f, rehash, out)) != KITO_OK)
        return e;
    return kito_repo_account_get(db, f.id, &out->account);
}

kito_err kito_repo_session_revoke(kito_db_conn *db, uint64_t account_id, uint64_t session_id,
                                  const char *ip)
{
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {KITO_SQL_U64(session_id), KITO_SQL_U64(account_id)};
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3) WHERE id = ?"
                      " AND account_id = ? AND revoked_at IS NULL",
                      p, 2, &res);
    if (e == KITO_OK && res.affected_rows > 0) {
        json_t *d = json_pack("{s:o}", "session_id", json_integer((json_int_t)session_id));
        e = d != NULL ? kito_audit(db, account_id, "session.revoke", "account", account_id, d, ip)
                      : KITO_E_NOMEM;
        json_decref(d);
    }
    return kito_sql_end(db, e);
}

/* ---- secret change --------------------------------------------------------------------------- */

static kito_err digest_row(void *ud, const kito_sql_row *row)
{
    kito_revoked *r = ud;
    if (r->digest_count < KITO_REVOKED_DIGESTS_MAX)
        kito_sql_copy(row, 0, r->digests[r->digest_count++], KITO_SHA256_HEX_SIZE);
    return KITO_OK;
}

/* The account's throttle as for a sign-in from ip, then secret against f's hash; a wrong one is
 * recorded as a failed sign-in ("wrong_current_secret") and answered KITO_E_FORBIDDEN. */
static kito_err check_secret(kito_db_conn *db, const kito_signin_policy *pol, const found *f,
                             const char *secret, const char *ip, uint32_t *retry_after_s)
{
    char subject[24];
    snprintf(subject, sizeof(subject), "%" PRIu64, f->id);
    kito_err e = throttle_account(db, pol, f->id, subject, ip, retry_after_s);
    if (e != KITO_OK)
        return e;
    bool match = false;
    if (verify(secret, f->hash, &match) != KITO_OK)
        return KITO_E_INTERNAL;
    if (!match) {
        e = record_failure(db, pol, f->id, subject, subject, ip, "wrong_current_secret");
        return e != KITO_OK ? e : KITO_E_FORBIDDEN;
    }
    return KITO_OK;
}

kito_err kito_repo_account_check_secret(kito_db_conn *db, const kito_signin_policy *pol,
                                        uint64_t account_id, const char *secret, const char *ip,
                                        uint32_t *retry_after_s)
{
    *retry_after_s = 0;
    found f = {0};
    kito_sql_param ap[] = {KITO_SQL_U64(account_id)};
    size_t rows = 0;
    kito_err e = kito_sql_query(db, "SELECT " FOUND_COLUMNS " FROM accounts WHERE id = ?", ap, 1,
                                found_row, &f, &rows);
    if (e != KITO_OK)
        return e;
    if (rows != 1)
        return KITO_E_NOT_FOUND;
    return check_secret(db, pol, &f, secret, ip, retry_after_s);
}

kito_err kito_repo_account_change_secret(kito_db_conn *db, const kito_signin_policy *pol,
                                         uint64_t account_id, uint64_t keep_session_id,
                                         const char *current, const char *new_secret,
                                         const char *ip, kito_revoked *out, kito_verr *ve)
{
    memset(out, 0, sizeof(*out));
    found f = {0};
    kito_sql_param ap[] = {KITO_SQL_U64(account_id)};
    size_t rows = 0;
    kito_err e = kito_sql_query(db, "SELECT " FOUND_COLUMNS " FROM accounts WHERE id = ?", ap, 1,
                                found_row, &f, &rows);
    if (e != KITO_OK)
        return e;
    if (rows != 1)
        return KITO_E_NOT_FOUND;
    const bool pin = strcmp(f.kind, "pin") == 0;
    e = pin ? kito_validate_pin("new", new_secret, ve)
            : kito_validate_password("new", new_secret, ve);
    if (e != KITO_OK)
        return e;
    if (strcmp(current, new_secret) == 0)
        return kito_verr_set(ve, "new", "must differ from the current %s",
                             pin ? "PIN" : "password");

    if ((e = check_secret(db, pol, &f, current, ip, &out->retry_after_s)) != KITO_OK)
        return e;

    char hash[KITO_SECRET_STORED_SIZE];
    if ((e = kito_crypto_secret_hash(new_secret, strlen(new_secret), NULL, hash, sizeof(hash))) !=
        KITO_OK)
        return e;
    if ((e = kito_sql_begin(db)) != KITO_OK)
        return e;
#define OTHER_SESSIONS                                                                             \
    " WHERE account_id = ? AND id <> ? AND revoked_at IS NULL AND expires_at > UTC_TIMESTAMP(3)"
    kito_sql_param sp[] = {KITO_SQL_U64(account_id), KITO_SQL_U64(keep_session_id)};
    e = kito_sql_query(
        db, "SELECT token_sha256 FROM sessions" OTHER_SESSIONS " ORDER BY id DESC FOR UPDATE", sp,
        2, digest_row, out, NULL);
    kito_sql_result res = {0};
    if (e == KITO_OK) {
        e = kito_sql_exec(db, "UPDATE sessions SET revoked_at = UTC_TIMESTAMP(3)" OTHER_SESSIONS,
                          sp, 2, &res);
        out->count = (size_t)res.affected_rows;
    }
    if (e == KITO_OK) {
        kito_sql_param hp[] = {KITO_SQL_TEXT(hash), KITO_SQL_U64(account_id)};
        e = kito_sql_exec(db,
                          "UPDATE accounts SET secret_hash = ?, updated_at = UTC_TIMESTAMP(3)"
                          " WHERE id = ?",
                          hp, 2, NULL);
    }
    if (e == KITO_OK)
        e = counter_clear_pair(db, account_id, ip);
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:s, s:I}", "kind", pin ? "pin" : "password", "sessions_revoked",
                              (json_int_t)out->count);
        e = d != NULL
                ? kito_audit(db, account_id, "account.secret_change", "account", account_id, d, ip)
                : KITO_E_NOMEM;
        json_decref(d);
    }
    if (e == KITO_OK)
        e = kito_sql_commit(db);
    if (e != KITO_OK) {
        kito_sql_rollback(db);
        out->count = out->digest_count = 0;
    }
    return e;
}
