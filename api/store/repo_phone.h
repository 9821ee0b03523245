/*
 * What the miner's phone channel reads and writes that no other repository does (issue 18;
 * schemas/014_phone_channel.sql): her account by phone, the USSD PIN check with its per-phone
 * throttle, a PIN set from USSD, and the short lists USSD screens show (her stones and their
 * state, the stones she can offer, the organisers to offer to, her settled lots).
 * Registering, listing and offering go through the repositories the API uses
 * (repo_accounts.h, repo_stones.h, repo_offers.h).
 *
 * PIN throttle: the gateway vouches for the phone number, so failures are counted per phone in
 * ussd_pin_failures, apart from web sign-in's per-account counters (repo_sessions.h): nobody on
 * the web can pause her phone, and her phone's mistakes do not lock her web sign-in. The verdict
 * is kito_signin_throttle_check's under kito_phone_pin_policy's pair rule.
 *
 * Threads: a MySQL worker (api/http/req_db.h) with its connection; errors as api/store/sql.h.
 */
#ifndef KITO_REPO_PHONE_H
#define KITO_REPO_PHONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/store/db.h"
#include "api/store/repo_sessions.h"
#include "engine/err.h"

/* Window 15 minutes; from the 3rd wrong PIN each try waits 2^(n-3) s; the 5th pauses PIN
 * actions for that phone for 30 minutes. Tighter than web sign-in's account counter: a
 * 4-digit PIN is weaker than a password, and only her own phone can be counted here. */
extern const kito_signin_policy kito_phone_pin_policy;

/* The account a phone belongs to. */
typedef struct kito_phone_account {
    uint64_t id; /* 0: no account has this phone */
    char role[17];
    char status[17];
    char locale[3];
} kito_phone_account;

/* Reads the account of phone into *out (id 0 when none). */
kito_err kito_phone_account_get(kito_db_conn *db, const char *phone, kito_phone_account *out);

/* Checks pin for the miner whose phone this is. KITO_OK (her counter cleared) with *account_id;
 * KITO_E_FORBIDDEN for a wrong PIN (counted; *tries_left before the pause) or an account that is
 * not an active miner's; KITO_E_RATE_LIMITED / KITO_E_LOCKED (*retry_after_s) while the phone
 * is slowed or paused, without looking at the PIN. Takes an scrypt verify's time. */
kito_err kito_phone_pin_check(kito_db_conn *db, const char *phone, const char *pin,
                              uint64_t *account_id, uint32_t *tries_left, uint32_t *retry_after_s);

/* Replaces miner account_id's PIN with new_pin (validated by kito_validate_pin: KITO_E_VALIDATION
 * with ve), revokes her web sessions and audits "account.secret_change" ({"kind":"pin",
 * "channel":"ussd"}) in one transaction. The caller checked her current PIN in this session.
 * Revoked tokens cached on the loop stop working within the session cache's TTL. */
kito_err kito_phone_pin_set(kito_db_conn *db, uint64_t account_id, const char *new_pin,
                            kito_verr *ve);

/* Her language from now on ("en" or "sw"; the menu's switch): accounts.locale of miner
 * account_id. KITO_E_NOT_FOUND when she is not an active miner. */
kito_err kito_phone_set_locale(kito_db_conn *db, uint64_t account_id, const char *locale);

/* One of her stones as the "my stones" screen shows it. */
typedef struct kito_phone_stone {
    uint64_t id;
    char label[41]; /* variety, or species */
    int64_t weight_cct;
    char status[16];      /* stones.status */
    bool certified;       /* has a certificate */
    int64_t estimate_low; /* the current certificate's estimate, minor units (0 if none) */
    int64_t estimate_high;
    char estimate_currency[4];
    bool offered;     /* a live offer stands */
    uint64_t sale_id; /* the newest lot holding it: its sale, 0 if none */
    uint32_t lot_number;
    char lot_state[16];   /* scheduled, open, closing, sold, unsold, withdrawn */
    int64_t hammer_minor; /* settled: the hammer price */
    char hammer_currency[4];
} kito_phone_stone;

/* Her newest stones after the first `offset`, at most max, into out; *count gets how many, *more
 * whether others follow (a next page). offerable_only: only stones that can be offered now
 * (certified, not sold or withdrawn, in no lot still running). */
kito_err kito_phone_stones(kito_db_conn *db, uint64_t miner_id, bool offerable_only,
                           uint32_t offset, kito_phone_stone *out, size_t max, size_t *count,
                           bool *more);

/* An organiser or a sale she may offer stones to. */
typedef struct kito_phone_target {
    uint64_t id;
    uint8_t kind; /* 1 organiser (any of her sales), 2 one sale */
    char name[61];
    int64_t starts_at_ms; /* a sale's start, 0 for an organiser */
} kito_phone_target;

/* Her country's associations by name, at most max (a menu reads better in that order). */
kito_err kito_phone_associations(kito_db_conn *db, const char *country, kito_phone_target *out,
                                 size_t max, size_t *count);

/* Where miner_id may offer a stone: draft sales that have not started, of organisers she has
 * offered a stone to before (soonest first; consent to that sale only: a draft is not public),
 * then active organisers by name (any of her sales); after the first `offset`, at most max;
 * *more whether others follow. */
kito_err kito_phone_targets(kito_db_conn *db, uint64_t miner_id, uint32_t offset,
                            kito_phone_target *out, size_t max, size_t *count, bool *more);

/* One of her settled lots. */
typedef struct kito_phone_result {
    uint64_t stone_id;
    char label[41];
    char currency[4];
    int64_t hammer_minor, commission_minor, royalty_minor, levy_minor, net_minor;
    char payout_state[16]; /* "" while there is no payout (the buyer has not paid) */
    /* her multiple (DESIGN.md, "Consent": her net / the best local offer she reported when she
     * listed the stone), in tenths, half up: 34 is 3.4x; -1 when she gave no offer or her net
     * cannot be put in the offer's currency yet (no payout and no exchange rate) */
    int64_t multiple_tenths;
} kito_phone_result;

/* net_minor / offer_minor in tenths, half up (both in one currency); -1 when offer_minor < 1 or
 * net_minor < 0. Pure. */
int64_t kito_phone_multiple_tenths(int64_t net_minor, int64_t offer_minor);

/* Her settled lots, newest first, after the first `offset`, at most max; *more whether others
 * follow. */
kito_err kito_phone_results(kito_db_conn *db, uint64_t miner_id, uint32_t offset,
                            kito_phone_result *out, size_t max, size_t *count, bool *more);

#endif
