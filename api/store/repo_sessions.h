/*
 * Sessions and sign-in throttling (issue 4: "tokens are random (256 bits), stored hashed, expire,
 * and can be revoked"; "repeated failed sign-ins slow down and then lock for a while (per account
 * and per address)"), changed by issue 15, finding 3: a lock that strangers can set is a lock on
 * the owner (ten wrong PINs from ten addresses locked a miner out, renewably). OWASP's
 * Authentication Cheat Sheet ("Account Lockout", "Login Throttling"): slow guessing down per
 * account and per address, and never let an attacker deny the owner.
 *
 * Three counters (signin_lockouts, schemas/013_signin_no_account_lock.sql), each failure counted
 * in all three, and a row per failure (signin_failures) for the record:
 *   pair     one account from one address: slowed, then that address is locked out of that
 *            account for lock_s. The guesser at one address stops; nobody else is touched.
 *   address  one address, whatever the account: slowed, then locked (someone trying many
 *            accounts' PINs from one place).
 *   account  one account, from every address: only slows, and only attempts from addresses that
 *            are not hers, and never locks. "Her address" is one a session of hers was created
 *            from in the last known_address_days: there she is held only by her own pair
 *            counter, so a stranger elsewhere cannot keep her out; a guesser spread over many
 *            addresses still waits the account's delay between guesses.
 * An identifier that no account has gets counters of its own, so that it is slowed and locked
 * exactly like an account and the answers do not tell which accounts exist (it has no sessions, as
 * an account that never signed in from that address has none).
 *
 * A counter counts failures since its first one and starts again once that is older than its
 * rule's window. While a counter stands at slow_after or more, an attempt sooner than
 * 2^(failures - slow_after) seconds (capped at delay_max_s) after its last failure is refused with
 * KITO_E_RATE_LIMITED without looking at the secret; at lock_after (pair, address) the subject is
 * locked for lock_s (KITO_E_LOCKED). Both come with the seconds to wait (Retry-After). A successful
 * sign-in clears the pair counter (her own typing mistakes are forgotten) but neither the account's
 * (a guesser elsewhere keeps his delay) nor the address's (one good account does not reset the
 * count of someone guessing others' PINs from the same address). Attempts refused unseen are not
 * counted. The checks and the record are separate statements around the hash, so simultaneous
 * attempts may each pass the check: the overshoot is bounded by the number of MySQL workers.
 *
 * Known limits: addresses are compared exactly (an IPv6 client that rotates its privacy address
 * is new each time; a carrier-grade NAT puts many people, the owner and a guesser perhaps, behind
 * one address). The phone channel (USSD) keeps its own per-phone counter (ussd_pin_failures,
 * api/store/repo_phone.h) that these never touch, so that nobody on the web can lock her phone out
 * (DESIGN.md, "Phone channel").
 *
 * MySQL functions: a worker thread (or kitoctl) with its kito_db_conn; errors as api/store/sql.h.
 */
#ifndef KITO_REPO_SESSIONS_H
#define KITO_REPO_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/crypto.h"
#include "api/store/db.h"
#include "api/store/repo_accounts.h"
#include "api/store/sql.h"
#include "engine/err.h"

/* One counter's thresholds. */
typedef struct kito_signin_rule {
    uint32_t window_s;   /* failures older than this (since the first) start over */
    uint32_t slow_after; /* failures before attempts are slowed */
    uint32_t lock_after; /* failures before the subject is locked; 0: never locked */
} kito_signin_rule;

/* A pair counter's subject: an account subject (20 digits at most), '/', an address (45 at most).
 */
#define KITO_SIGNIN_PAIR_SIZE 72

/* The throttle's thresholds. */
typedef struct kito_signin_policy {
    kito_signin_rule pair;       /* one account from one address */
    kito_signin_rule address;    /* one address, whatever the account */
    kito_signin_rule account;    /* one account from addresses not hers: lock_after must be 0 */
    uint32_t known_address_days; /* a session created from an address this recently makes it hers */
    uint32_t lock_s;             /* how long a lock lasts */
    uint32_t delay_max_s;        /* cap of the exponential delay */
} kito_signin_policy;

/* pair: 15-minute window, slowed after 5 failures and locked for 15 minutes after 10 (issue 4's
 * numbers, now for one address only). address: slowed after 20 and locked after 50: East African
 * mobile networks put many subscribers behind one carrier-grade NAT address, and a lock at 10 would
 * shut a whole network's miners out because of a few mistyped PINs. account: a 24-hour window,
 * slowed after 5, never locked; at the 5-minute cap a guesser spread over any number of addresses
 * gets about 300 guesses a day, where issue 4's lock allowed about 960. Her address: a session from
 * it in the last 90 days. */
extern const kito_signin_policy kito_signin_policy_default;

/* A counter as read back: failures, age of its first and last failure, remaining lock. */
typedef struct kito_signin_counter {
    uint32_t failures;      /* 0 when there is no row */
    int64_t since_first_ms; /* now - first_failure_at */
    int64_t since_last_ms;  /* now - last_failure_at */
    int64_t locked_for_ms;  /* locked_until - now; <= 0 when not locked */
} kito_signin_counter;

/* The columns of a failure counter's row (failures, first_failure_at, last_failure_at,
 * locked_until: signin_lockouts, and the phone channel's ussd_pin_failures) as
 * kito_signin_counter_row reads them: "SELECT " KITO_SIGNIN_COUNTER_COLUMNS " FROM ...". */
#define KITO_SIGNIN_COUNTER_COLUMNS                                                                \
    "failures,"                                                                                    \
    " TIMESTAMPDIFF(MICROSECOND, first_failure_at, UTC_TIMESTAMP(3)) DIV 1000,"                    \
    " TIMESTAMPDIFF(MICROSECOND, last_failure_at, UTC_TIMESTAMP(3)) DIV 1000,"                     \
    " IFNULL(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(3), locked_until) DIV 1000, 0)"

/* A kito_sql_query row callback: one row of KITO_SIGNIN_COUNTER_COLUMNS into ud, a
 * kito_signin_counter. Always KITO_OK. */
kito_err kito_signin_counter_row(void *ud, const kito_sql_row *row);

/* The throttle's verdict for one counter under rule (one of pol's): KITO_OK (go on and check the
 * secret), KITO_E_RATE_LIMITED or KITO_E_LOCKED (never for a rule with lock_after 0) with
 * *retry_after_s >= 1. Pure. */
kito_err kito_signin_throttle_check(const kito_signin_policy *pol, const kito_signin_rule *rule,
                                    const kito_signin_counter *c, uint32_t *retry_after_s);

/* Session lifetime of a role: 12 hours for staff (valuer, organizer, operator: their tokens can
 * certify stones and move sales, so a stolen one should die the same day), 30 days for miners
 * and buyers (miners sign in from basic phones on shared data bundles, where typing a PIN often
 * is the barrier; buyers expect to stay signed in as on any shop). */
int64_t kito_session_lifetime_s(const char *role);

/* A sign-in attempt. Exactly one of phone and email is set; secret is the PIN or password. */
typedef struct kito_signin {
    char phone[KITO_ACCOUNT_PHONE_SIZE];
    char email[KITO_ACCOUNT_EMAIL_SIZE];
    char secret[KITO_ACCOUNT_SECRET_SIZE];
    char ip[46];          /* the client's address, never empty ("-" when unknown) */
    char user_agent[256]; /* printable ASCII, cut; "" when none */
} kito_signin;

/* The result of kito_repo_session_signin. */
typedef struct kito_signin_result {
    char token[KITO_TOKEN_SIZE]; /* the bearer token: given once, never stored */
    uint64_t session_id;
    int64_t expires_at_ms;
    kito_account account;
    uint32_t retry_after_s; /* KITO_E_RATE_LIMITED / KITO_E_LOCKED: seconds to wait */
} kito_signin_result;

/* Signs in: throttle checks (address; account lookup; pair; account unless the address is hers),
 * scrypt verify (against a fixed dummy hash when no account matches, so the time does not tell),
 * then either a new session (token digest stored, "session.create" audited, the pair counter
 * cleared, the hash upgraded when it was made with another cost) or a recorded failure
 * ("session.fail" audited, the three counters counted, "account.lock" (scope "pair") or
 * "address.lock" audited when a lock begins).
 * KITO_OK with *out filled; KITO_E_UNAUTHORIZED for an unknown identifier or a wrong secret
 * (indistinguishable); KITO_E_RATE_LIMITED or KITO_E_LOCKED with out->retry_after_s;
 * KITO_E_FORBIDDEN for a suspended or closed account (after a correct secret only); others as
 * api/store/sql.h. */
kito_err kito_repo_session_signin(kito_db_conn *db, const kito_signin_policy *pol,
                                  const kito_signin *in, kito_signin_result *out);

/* Revokes session session_id of account_id (sets revoked_at) with a "session.revoke" audit row.
 * KITO_OK also when it was already revoked. */
kito_err kito_repo_session_revoke(kito_db_conn *db, uint64_t account_id, uint64_t session_id,
                                  const char *ip);

/* Checks account_id's current PIN or password again before a sensitive change (a payout wallet
 * change: issue 15, finding 5): the account's throttle as for a sign-in from ip, then secret.
 * KITO_OK when it is right; KITO_E_FORBIDDEN when it is wrong (counted as a failed sign-in);
 * KITO_E_RATE_LIMITED or KITO_E_LOCKED with *retry_after_s; KITO_E_NOT_FOUND. */
kito_err kito_repo_account_check_secret(kito_db_conn *db, const kito_signin_policy *pol,
                                        uint64_t account_id, const char *secret, const char *ip,
                                        uint32_t *retry_after_s);

/* How many revoked token digests kito_repo_account_change_secret hands back for the loop to drop
 * from its session cache; any beyond stop working within the cache's TTL (api/http/auth.h). */
#define KITO_REVOKED_DIGESTS_MAX 32

/* Sessions revoked by a secret change. */
typedef struct kito_revoked {
    size_t count;        /* sessions revoked */
    size_t digest_count; /* digests below (at most KITO_REVOKED_DIGESTS_MAX) */
    char digests[KITO_REVOKED_DIGESTS_MAX][KITO_SHA256_HEX_SIZE];
    uint32_t retry_after_s; /* KITO_E_RATE_LIMITED / KITO_E_LOCKED */
} kito_revoked;

/* Changes account_id's PIN or password: the account's throttle is checked as for a sign-in from
 * ip, current is verified (a wrong one counts as a failed sign-in: KITO_E_FORBIDDEN), new_secret is
 * validated for the account's kind (KITO_E_VALIDATION with ve: field "new") and hashed, and in one
 * transaction the hash is replaced, every other live session of the account revoked
 * (keep_session_id stays) and "account.secret_change" audited. */
kito_err kito_repo_account_change_secret(kito_db_conn *db, const kito_signin_policy *pol,
                                         uint64_t account_id, uint64_t keep_session_id,
                                         const char *current, const char *new_secret,
                                         const char *ip, kito_revoked *out, kito_verr *ve);

#endif
