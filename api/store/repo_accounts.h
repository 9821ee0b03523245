/*
 * The accounts repository (issue 4, "Accounts and roles"): accounts, miners' profiles (payout
 * wallet, association), associations, and the rules that tie them to the market's countries
 * (DEMO-DATA.md: a payout rail must be one of the miner's country's mobile-money rails).
 *
 * Every function that talks to MySQL runs on a MySQL worker thread (api/http/req_db.h) or in
 * kitoctl, with the caller's kito_db_conn, and maps MySQL errors as api/store/sql.h says. Each
 * change is one transaction with its audit row (api/store/audit.h). The pure helpers (rails, views)
 * are thread-safe.
 *
 * Secrets (passwords and PINs) are hashed here with scrypt (kito_crypto_secret_hash, default
 * cost): about 0.2 s of CPU (api/common/crypto.h), which is why these functions must never run on
 * the loop.
 */
#ifndef KITO_REPO_ACCOUNTS_H
#define KITO_REPO_ACCOUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/store/db.h"
#include "api/common/validate.h"
#include "engine/err.h"

/* Buffer sizes, each with room for the NUL (the column widths of schemas/002_accounts.sql). */
#define KITO_ACCOUNT_NAME_SIZE 481  /* VARCHAR(120) of utf8mb4: up to 4 bytes a code point */
#define KITO_ACCOUNT_PHONE_SIZE 17  /* E.164: '+' and at most 15 digits */
#define KITO_ACCOUNT_EMAIL_SIZE 255 /* VARCHAR(254) */
#define KITO_ACCOUNT_ROLE_SIZE 17   /* VARCHAR(16) */
#define KITO_ACCOUNT_RAIL_SIZE 17   /* VARCHAR(16) */
#define KITO_ACCOUNT_SECRET_SIZE                                                                   \
    129 /* a password is at most 128 bytes (kito_validate_password)                                \
         */
#define KITO_ASSOCIATION_NAME_SIZE 481

/* An account as stored, with the miner's profile when it has one. Never holds a secret. */
typedef struct kito_account {
    uint64_t id;
    char role[KITO_ACCOUNT_ROLE_SIZE]; /* "miner", "buyer", "valuer", "organizer", "operator" */
    char name[KITO_ACCOUNT_NAME_SIZE];
    char phone[KITO_ACCOUNT_PHONE_SIZE]; /* "" when none */
    char email[KITO_ACCOUNT_EMAIL_SIZE]; /* "" when none */
    char country[3];                     /* "" when none */
    char locale[3];                      /* "en" or "sw" */
    char status[KITO_ACCOUNT_ROLE_SIZE]; /* "active", "suspended", "closed" */
    int64_t created_at_ms;
    bool has_profile;        /* a miner_profiles row exists (the fields below are set) */
    uint64_t association_id; /* 0 when she belongs to none */
    char payout_msisdn[KITO_ACCOUNT_PHONE_SIZE];
    char payout_rail[KITO_ACCOUNT_RAIL_SIZE];
    int64_t payout_held_until_ms; /* payouts to this wallet wait until then since she changed to
                                     it (issue 15, finding 5); 0 when they do not wait */
} kito_account;

/* What creating an account needs; every field already validated by the caller
 * (kito_account_new_validate or kitoctl's own checks) except what needs the database
 * (uniqueness, the association's existence and country). */
typedef struct kito_account_new {
    char role[KITO_ACCOUNT_ROLE_SIZE];
    char name[KITO_ACCOUNT_NAME_SIZE];
    char phone[KITO_ACCOUNT_PHONE_SIZE]; /* "" when none */
    char email[KITO_ACCOUNT_EMAIL_SIZE]; /* "" when none */
    char country[3];                     /* "" when none; a miner's is her phone's country */
    char locale[3];                      /* "" means the default, "en" */
    char secret[KITO_ACCOUNT_SECRET_SIZE];
    bool secret_is_pin; /* stored as secret_kind 'pin' (miners) or 'password' */
    /* miners only */
    uint64_t association_id; /* 0 = none */
    char payout_msisdn[KITO_ACCOUNT_PHONE_SIZE];
    char payout_rail[KITO_ACCOUNT_RAIL_SIZE];
} kito_account_new;

/* A change to one's own profile; a field is changed only when its has_ flag is set. */
typedef struct kito_account_patch {
    bool has_name, has_locale, has_payout_msisdn, has_payout_rail;
    char name[KITO_ACCOUNT_NAME_SIZE];
    char locale[3];
    char payout_msisdn[KITO_ACCOUNT_PHONE_SIZE];
    char payout_rail[KITO_ACCOUNT_RAIL_SIZE];
    /* a payout wallet change (the caller checked her PIN or password first): payouts to the new
     * wallet wait payout_hold_s; "api" or "ussd" is recorded */
    uint32_t payout_hold_s;
    const char *channel; /* static; NULL counts as "api" */
} kito_account_patch;

/* An association of miners. */
typedef struct kito_association {
    uint64_t id;
    char name[KITO_ASSOCIATION_NAME_SIZE];
    char country[3];
    int32_t levy_bps;
    int64_t created_at_ms;
} kito_association;

/* ---- pure rules ------------------------------------------------------------------------------ */

/* True when rail is a mobile-money payout rail of market country cc (DEMO-DATA.md): KE mpesa,
 * airtel_money; TZ mpesa, tigo_pesa, airtel_money; ZM mtn_momo, airtel_money; MW airtel_money,
 * tnm_mpamba. */
bool kito_account_rail_allowed(const char *cc, const char *rail);

/* Checks a payout wallet for a miner of country cc: msisdn is an E.164 number of that same
 * country and rail one of its rails. KITO_E_VALIDATION naming field_prefix + ".msisdn" or
 * ".rail" otherwise. */
kito_err kito_account_payout_validate(const char *field_prefix, const char *cc, const char *msisdn,
                                      const char *rail, kito_verr *ve);

/* Validates and fills a new staff, buyer or miner account from plain strings, as both the API and
 * kitoctl need: role one of the five; name 1-120 code points of one-line text; a miner has phone
 * (E.164, a market country's, which becomes her country) and a PIN (kito_validate_pin); everyone
 * else a password (kito_validate_password) and an e-mail address or (staff only) a phone; country
 * (optional) the ISO shape, and for a miner her phone's country; locale "en" or "sw" or NULL;
 * rail NULL means the country's first rail for a miner. NULL strings are absent. Does not touch
 * the database. KITO_E_VALIDATION with ve naming the field. */
kito_err kito_account_new_validate(kito_account_new *out, const char *role, const char *name,
                                   const char *phone, const char *email, const char *country,
                                   const char *locale, const char *secret, const char *msisdn,
                                   const char *rail, kito_verr *ve);

/* The public JSON view of an account (never a secret): id, role, name, phone, email, country,
 * locale, status, created_at, and for miners "miner": {association_id, payout: {msisdn, rail}}.
 * New reference, or NULL when memory runs out. */
json_t *kito_account_view(const kito_account *a);

/* {id, name, country, levy_bps, created_at}. New reference or NULL. */
json_t *kito_association_view(const kito_association *a);

/* ---- MySQL ----------------------------------------------------------------------------------- */

/* Creates an account (and a miner's profile) in one transaction with an audit row: action
 * ("account.register" for self-registration, "account.create" for kitoctl), actor actor_id (0 =
 * the system; the new account itself when actor_self is true), ip (may be NULL). Hashes the
 * secret first (scrypt, default cost) so no transaction is open during the hash. *out gets the
 * stored account. KITO_E_CONFLICT when the phone or e-mail is taken; KITO_E_VALIDATION (ve:
 * "association_id") when the association does not exist or is in another country; others as
 * api/store/sql.h. */
kito_err kito_repo_account_create(kito_db_conn *db, const kito_account_new *in, const char *action,
                                  uint64_t actor_id, bool actor_self, const char *ip,
                                  kito_account *out, kito_verr *ve);

/* Reads account id (with the miner's profile). KITO_E_NOT_FOUND when there is none. */
kito_err kito_repo_account_get(kito_db_conn *db, uint64_t id, kito_account *out);

/* Applies p to account id in one transaction with an "account.update" audit row; payout fields
 * only for a miner with a profile (KITO_E_VALIDATION "payout" otherwise, and for a rail or
 * number of another country). A payout wallet that differs from hers is a wallet change (issue
 * 15, finding 5; schemas/017_payout_wallet_changes.sql), in the same transaction: its row with
 * hold_until = now + p->payout_hold_s, an SMS to the old wallet's number (and to her phone when
 * that is another number), an "account.payout_wallet_change" audit row. The same wallet again
 * changes nothing. *out gets the account as stored afterwards. */
kito_err kito_repo_account_update(kito_db_conn *db, uint64_t id, const kito_account_patch *p,
                                  const char *ip, kito_account *out, kito_verr *ve);

/* Called once per listed account; a code other than KITO_OK stops the listing and is returned. */
typedef kito_err (*kito_account_fn)(void *ud, const kito_account *a);

/* Lists accounts by id after after_id (0 = from the start), at most limit, of role (NULL = any).
 * For kitoctl; profiles are not read. */
kito_err kito_repo_account_list(kito_db_conn *db, const char *role, uint64_t after_id,
                                uint32_t limit, kito_account_fn fn, void *ud);

/* Creates an association with an "association.create" audit row (actor 0 = the system).
 * KITO_E_CONFLICT when the country already has one of that name; KITO_E_VALIDATION for a
 * country that is not a market country. The caller validated name, country and levy. */
kito_err kito_repo_association_create(kito_db_conn *db, const char *name, const char *country,
                                      int32_t levy_bps, uint64_t actor_id, const char *ip,
                                      kito_association *out);

/* Called once per listed association. */
typedef kito_err (*kito_association_fn)(void *ud, const kito_association *a);

/* Lists associations by id after after_id, at most limit, of country (NULL = any). *more says
 * whether another row follows the last one given. */
kito_err kito_repo_association_list(kito_db_conn *db, const char *country, uint64_t after_id,
                                    uint32_t limit, kito_association_fn fn, void *ud, bool *more);

#endif
