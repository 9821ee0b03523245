/*
 * What the C benchmarks (tests/bench/bench_*.c) share: their clocks, and the way a benchmark
 * gives up. A benchmark prints BENCH lines; it asserts nothing (tests do).
 */
#ifndef KITO_BENCH_H
#define KITO_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds of CPU this thread has used: on a shared machine it leaves out the time the thread
 * waited to run, which wall time cannot (the machine's other tenants still disturb the caches). */
static inline double bench_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Ends the benchmark: "<name>: <what>" on stderr, exit status 1. */
static inline void bench_die(const char *name, const char *what)
{
    fprintf(stderr, "%s: %s\n", name, what);
    exit(1);
}

#endif
