/*
 * The miner's SMS that her lot opened (issue 18; DESIGN.md, "Phone channel": "the miner gets an
 * SMS when a lot opens"). A lot opens in the market (live/), which never waits for MySQL: the
 * server tells this module of every lot Redis has journaled open, and of every lot open after a
 * recovery, and it writes the messages to the outbox (api/store/repo_sms.h) on the MySQL worker
 * pool, batched, keyed "lot_opened:<lot>" so that a lot told of twice (a recovery after a crash
 * between the journal and the outbox) still sends one SMS.
 *
 * Bounds: at most KITO_LOT_SMS_PENDING_MAX lots wait; one job in flight at a time, carrying all
 * that waited. Beyond the bound a lot is dropped with a log line (the next recovery finds it).
 *
 * Threads: the loop thread only.
 */
#ifndef KITO_LOT_SMS_H
#define KITO_LOT_SMS_H

#include <stdint.h>

#include "api/store/worker_pool.h"
#include "engine/err.h"

#define KITO_LOT_SMS_PENDING_MAX 100000

typedef struct kito_lot_sms kito_lot_sms;

/* pool is borrowed and must outlive the module's jobs: stop the pool before kito_lot_sms_free.
 * KITO_E_NOMEM. */
kito_err kito_lot_sms_create(kito_pool *pool, kito_lot_sms **out);

/* Lot lot_id is open (Redis has it): its miner gets her SMS unless she has it already. */
void kito_lot_sms_opened(kito_lot_sms *t, uint64_t lot_id);

/* After kito_pool_stop. t may be NULL. */
void kito_lot_sms_free(kito_lot_sms *t);

#endif
