/*
 * Exponential backoff: the wait before trying again after a failure, doubling from a first wait
 * up to a cap, back to the first wait after a success. One rule for every reconnect and retry
 * (Redis link, book store, MySQL connections, settlement worker, payout status queries). Pure;
 * a kito_backoff belongs to whoever retries (one thread).
 */
#ifndef KITO_BACKOFF_H
#define KITO_BACKOFF_H

#include <stdint.h>

typedef struct kito_backoff {
    uint32_t min_ms;  /* the first wait */
    uint32_t max_ms;  /* the cap it doubles up to (>= min_ms) */
    uint32_t next_ms; /* the wait the next failure gets */
} kito_backoff;

/* A backoff whose next wait is min_ms. */
void kito_backoff_init(kito_backoff *b, uint32_t min_ms, uint32_t max_ms);

/* After a failure: the wait to use now; the one after it doubles, up to max_ms. */
uint32_t kito_backoff_next(kito_backoff *b);

/* After a success: the next failure waits min_ms again. */
void kito_backoff_reset(kito_backoff *b);

/* The wait after `failures` earlier failures in a row (0: the first wait): min_ms x 2^failures,
 * at most max_ms. For a retry whose count is stored (a row's column) rather than held. */
uint64_t kito_backoff_after(uint64_t min_ms, uint64_t max_ms, uint32_t failures);

#endif
