/*
 * What every fuzz target (tests/fuzz/fuzz_*.c) shares: the libFuzzer entry point they define and
 * the check that turns a broken property into a crash the fuzzer (or tests/fuzz/driver.c) reports.
 */
#ifndef KITO_FUZZ_H
#define KITO_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* Runs the target on one input; always returns 0 (libFuzzer's contract). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property every input must keep: when x is false the run aborts (a finding). */
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            abort();                                                                               \
    } while (0)

#endif
