/*
 * The payout tables' SQL (schemas/010_payouts.sql, 016_payout_anomalies.sql): payouts,
 * payout_attempts, payout_anomalies, and the exchange-rate rows a payout is made with. Rows in,
 * rows out; no rule lives here: which state follows which is api/money/payout_rules.h, the
 * transactions that apply it are api/money/payouts.c, the worker api/money/payout_worker.c.
 *
 * Every function runs on the thread that owns db (a MySQL worker job, the payout worker,
 * kitoctl), inside the caller's transaction when it has one. Failures are database errors
 * (kito_err from api/store/sql.h) unless a function says otherwise; nothing is left half-done
 * that the caller's rollback would not undo.
 */
#ifndef KITO_REPO_PAYOUTS_H
#define KITO_REPO_PAYOUTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/adapters/mpesa.h"
#include "api/adapters/rail.h"
#include "api/common/validate.h"
#include "api/store/db.h"
#include "engine/err.h"

#define KITO_ID_PAYOUT "pay"
#define KITO_PAYOUT_BATCH 50 /* rows one worker step handles at most per tick */

/* ---- records --------------------------------------------------------------------------------- */

typedef struct kito_payout {
    uint64_t id;
    uint64_t settlement_id;
    uint64_t miner_id;
    char msisdn[17];
    char rail[17];
    char currency[4];     /* the miner's local currency */
    int64_t amount_minor; /* converted, half up */
    int64_t paid_units;   /* whole units sent (amount_minor rounded down) */
    int64_t remainder_minor;
    int64_t source_minor; /* the settlement's miner net */
    char source_currency[4];
    uint64_t exchange_rate_id; /* 0: same currency, no rate row */
    int64_t rate_micros;
    char state[17];
    uint32_t attempts;
    uint64_t ledger_transaction_id;               /* 0 until succeeded */
    int64_t created_ms, updated_ms, succeeded_ms; /* succeeded_ms 0 until succeeded */
    uint64_t current_attempt_id;                  /* 0 before the first attempt */
    uint32_t part_no, parts; /* part part_no of parts (1 of 1 unless split: 028_payout_limits) */
    int64_t held_until_ms; /* a pending payout to a wallet she changed to lately waits until
                              then (KITO_PAYOUT_HELD_UNTIL_SQL); 0 when it does not wait */
} kito_payout;

/* SQL: when the hold on payout alias p ends (DATETIME(3)), or NULL when it is not held. A payout
 * is held while its miner's change to its wallet (msisdn and rail) is younger than the hold she
 * got then (issue 15, finding 5; schemas/017_payout_wallet_changes.sql): the worker gives a held
 * pending payout no attempt (kito_repo_payout_pending), and the payout shows the hold to her and
 * the operator. */
#define KITO_PAYOUT_HELD_UNTIL_SQL(p)                                                              \
    "(SELECT MAX(w.hold_until) FROM payout_wallet_changes w WHERE w.account_id = " p ".miner_id"   \
    " AND w.new_msisdn = " p ".msisdn AND w.new_rail = " p ".rail"                                 \
    " AND w.hold_until > UTC_TIMESTAMP(3))"

typedef struct kito_payout_attempt {
    uint64_t id;
    uint64_t payout_id;
    uint32_t attempt_no;
    char originator_conversation_id[KITO_MPESA_ID_SIZE];
    char conversation_id[KITO_MPESA_ID_SIZE];
    char state[17];
    char result_code[33];
    char result_desc[257];
    char transaction_id[KITO_MPESA_TXN_SIZE];
    int64_t created_ms, updated_ms;
} kito_payout_attempt;

/* An attempt's identity and state, as the state machine needs it. */
typedef struct kito_payout_attempt_key {
    bool found;
    uint64_t id, payout_id;
    char state[17];
} kito_payout_attempt_key;

/* "pay_..." for id (never fails: "pay_?" on a formatting error). */
void kito_payout_format_id(uint64_t id, char out[KITO_ID_SIZE]);

/* ---- payouts --------------------------------------------------------------------------------- */

/* One payout, locked for the transaction when lock. KITO_E_NOT_FOUND. */
kito_err kito_repo_payout_load(kito_db_conn *db, uint64_t id, bool lock, kito_payout *out);

typedef kito_err (*kito_payout_fn)(void *ud, const kito_payout *p);
typedef kito_err (*kito_payout_attempt_fn)(void *ud, const kito_payout_attempt *a);

/* Payouts in id order after after_id, at most limit, optionally one miner's (miner_id != 0) and
 * one state's (state != NULL). fn's error stops the walk and is returned. */
kito_err kito_repo_payout_list(kito_db_conn *db, uint64_t miner_id, const char *state,
                               uint64_t after_id, size_t limit, kito_payout_fn fn, void *ud);

/* A payout's attempts in order. */
kito_err kito_repo_payout_attempts(kito_db_conn *db, uint64_t payout_id, kito_payout_attempt_fn fn,
                                   void *ud);

/* What a settlement's payout is made from. */
typedef struct kito_payout_source {
    bool found; /* false: the miner has no payout profile */
    uint64_t miner_id;
    char source_currency[4];
    int64_t miner_net;
    char msisdn[17], rail[17], currency[4];
    unsigned from_exp, to_exp;
} kito_payout_source;

kito_err kito_repo_payout_source(kito_db_conn *db, uint64_t settlement_id, kito_payout_source *out);

/* Settlements whose invoice is paid, that no payout pays yet (payout_members) and that can have
 * one now (a payout profile, a rate to her currency): those not held (held false, in id order)
 * or those held (held true, the least recently looked at first; payout_holds). At most max ids
 * into ids, *n of them. */
kito_err kito_repo_payout_due_settlements(kito_db_conn *db, bool held, uint64_t *ids, size_t max,
                                          size_t *n);

/* A miner's paid settlements in source_currency that no payout pays yet, in id order, with
 * their miner nets: at most max into ids and nets, *n of them. */
kito_err kito_repo_payout_waiting(kito_db_conn *db, uint64_t miner_id, const char *source_currency,
                                  uint64_t *ids, int64_t *nets, size_t max, size_t *n);

/* Records that payout group payout_id (its part 1) pays settlement_id (its net source_minor).
 * KITO_E_CONFLICT when another group pays it already. */
kito_err kito_repo_payout_member_insert(kito_db_conn *db, uint64_t settlement_id,
                                        uint64_t payout_id, int64_t source_minor);

/* Holds settlement_id's payout for reason ("fx_stale", "below_minimum") with detail (a sentence)
 * or, when it is held already, records that it was looked at again; *is_new (may be NULL) says
 * whether the hold is new. */
kito_err kito_repo_payout_hold(kito_db_conn *db, uint64_t settlement_id, const char *reason,
                               const char *detail, bool *is_new);

/* Removes settlement_id's hold, if any. */
kito_err kito_repo_payout_unhold(kito_db_conn *db, uint64_t settlement_id);

/* Inserts p (its id, state and times are ignored; the row starts pending; part_no and parts 0
 * mean 1): *id the new row's. KITO_E_CONFLICT when that part of the settlement exists already. */
kito_err kito_repo_payout_insert(kito_db_conn *db, const kito_payout *p, uint64_t *id);

/* True in *held while a change of miner_id's wallet to msisdn on rail is younger than its hold
 * (KITO_PAYOUT_HELD_UNTIL_SQL): a payout to it gets no attempt yet. */
kito_err kito_repo_payout_wallet_held(kito_db_conn *db, uint64_t miner_id, const char *msisdn,
                                      const char *rail, bool *held);

/* Pending payouts on the rails in rails ("mpesa,mtn_momo"), in id order, at most max. */
kito_err kito_repo_payout_pending(kito_db_conn *db, const char *rails, uint64_t *ids, size_t max,
                                  size_t *n);

/* payouts.state = 'submitted' with attempts and current_attempt_id. */
kito_err kito_repo_payout_set_submitted(kito_db_conn *db, uint64_t payout_id, uint32_t attempts,
                                        uint64_t attempt_id);

/* Moves a payout to state (when only_from is not NULL, only from that state). */
kito_err kito_repo_payout_set_state(kito_db_conn *db, uint64_t payout_id, const char *state,
                                    const char *only_from);

/* submitted -> succeeded with its ledger transaction. */
kito_err kito_repo_payout_set_succeeded(kito_db_conn *db, uint64_t payout_id,
                                        uint64_t ledger_transaction_id);

/* ---- attempts -------------------------------------------------------------------------------- */

/* A queued attempt with its reference. KITO_E_CONFLICT when the payout has another open attempt
 * (payout_attempts_one_open) or the reference is taken. */
kito_err kito_repo_attempt_insert(kito_db_conn *db, uint64_t payout_id, uint32_t attempt_no,
                                  const char *reference, uint64_t *attempt_id);

/* The attempt with this reference, else (conversation_id not "") the first with this provider
 * id. out->found false when none. */
kito_err kito_repo_attempt_find(kito_db_conn *db, const char *reference,
                                const char *conversation_id, kito_payout_attempt_key *out);

/* Reads and locks one attempt (lock order: its payout first). KITO_E_NOT_FOUND. */
kito_err kito_repo_attempt_lock(kito_db_conn *db, uint64_t attempt_id,
                                kito_payout_attempt_key *out);

/* Closes an attempt in a final state ('succeeded', 'failed', 'anomaly') with the provider's code,
 * description, receipt (NULL: unchanged) and its id for the request (kept if already set; "":
 * none). KITO_E_CONFLICT when the receipt is another attempt's already. */
kito_err kito_repo_attempt_close(kito_db_conn *db, uint64_t attempt_id, const char *state,
                                 const char *code, const char *desc, const char *transaction_id,
                                 const char *conversation_id);

/* One payout_anomalies row (INSERT IGNORE: the same report twice is one row): *inserted says
 * whether this call added it. */
typedef struct kito_payout_anomaly_row {
    uint64_t payout_id, attempt_id;
    const char *kind, *payout_state, *detail;
    bool has_amount;
    int64_t amount_units;
    const char *currency, *wallet, *transaction_id; /* NULL: not reported */
} kito_payout_anomaly_row;

kito_err kito_repo_anomaly_insert(kito_db_conn *db, const kito_payout_anomaly_row *r,
                                  bool *inserted);

/* Resolves every unresolved anomaly of payout_id with reason (actor_id 0: kitoctl); *resolved
 * counts them. */
kito_err kito_repo_anomaly_resolve(kito_db_conn *db, uint64_t payout_id, uint64_t actor_id,
                                   const char *reason, size_t *resolved);

/* ---- the worker's rows ----------------------------------------------------------------------- */

/* An attempt the worker sends or asks about, with what its rail needs. */
typedef struct kito_payout_work {
    uint64_t id, payout_id;
    uint32_t checks;
    int64_t units;
    char state[17];
    char ocid[KITO_RAIL_REF_SIZE];
    char provider_id[KITO_RAIL_REF_SIZE];
    char msisdn[17], rail[17], currency[4], country[3];
} kito_payout_work;

/* Queued attempts of submitted payouts on rails, oldest first, at most max. */
kito_err kito_repo_work_queued(kito_db_conn *db, const char *rails, kito_payout_work *out,
                               size_t max, size_t *n);

/* Open attempts (sending, accepted) on rails whose next check is due, at most max. */
kito_err kito_repo_work_due_checks(kito_db_conn *db, const char *rails, kito_payout_work *out,
                                   size_t max, size_t *n);

/* queued -> sending with the stored (masked) request and the first check check_after_ms from
 * now: *claimed false when another worker took it first. */
kito_err kito_repo_attempt_claim(kito_db_conn *db, uint64_t attempt_id, const char *request_json,
                                 uint32_t check_after_ms, bool *claimed);

/* sending -> accepted, with the provider's id for it ("" none). */
kito_err kito_repo_attempt_accepted(kito_db_conn *db, uint64_t attempt_id, const char *provider_id);

/* One more status check in wait_ms; provider_has_it also moves sending -> accepted. */
kito_err kito_repo_attempt_check_later(kito_db_conn *db, uint64_t attempt_id, uint64_t wait_ms,
                                       bool provider_has_it);

/* ---- exchange rates -------------------------------------------------------------------------- */

typedef struct kito_fx_rate {
    bool found;
    uint64_t id;
    int64_t micros;
    int64_t effective_ms; /* when it took effect */
    int64_t age_ms;       /* how long ago, by the database's clock */
} kito_fx_rate;

/* The rate in effect now from -> to. out->found false when none. */
kito_err kito_repo_fx_current(kito_db_conn *db, const char *from, const char *to,
                              kito_fx_rate *out);

/* A new rate effective now; *id the row's. */
kito_err kito_repo_fx_insert(kito_db_conn *db, const char *from, const char *to,
                             int64_t rate_micros, uint64_t actor_id, uint64_t *id);

#endif
