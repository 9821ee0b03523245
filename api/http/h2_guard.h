/*
 * The HTTP/2 Rapid Reset guard's arithmetic (CVE-2023-44487; see api/http/server.c for how streams
 * are observed). A token bucket per connection: it holds at most `rate` abandoned streams, and
 * refills `rate` per second. A stream the client abandons before its response left the server
 * costs one token; a connection that finds the bucket empty has gone over the bound and is
 * closed. Pure integer arithmetic on a caller-supplied clock; no I/O.
 */
#ifndef KITO_H2_GUARD_H
#define KITO_H2_GUARD_H

#include <stdbool.h>
#include <stdint.h>

typedef struct kito_h2_guard {
    uint64_t tokens_milli; /* tokens x 1000, so refill needs no division */
    uint64_t last_ms;      /* clock at the last charge */
    uint32_t rate;         /* bucket size and refill per second (KITO_H2_RESET_MAX) */
    uint64_t abandoned;    /* streams charged so far, for the log line */
} kito_h2_guard;

/* A full bucket of rate (> 0) tokens at time now_ms. */
void kito_h2_guard_init(kito_h2_guard *g, uint32_t rate, uint64_t now_ms);

/* Charges one abandoned stream at now_ms (a clock that never goes back; an earlier value is
 * treated as now). true while within the bound; false once the bucket was empty, i.e. more than
 * rate streams were abandoned within the last second or so: the caller closes the connection. */
bool kito_h2_guard_charge(kito_h2_guard *g, uint64_t now_ms);

#endif
