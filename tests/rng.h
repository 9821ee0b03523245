/*
 * The tests' and benchmarks' pseudo-random numbers: SplitMix64 (Steele, Lea and Flood, "Fast
 * splittable pseudorandom number generators", OOPSLA 2014), seeded by the caller so that a run is
 * repeated exactly from its seed. Not for anything secret (api/common/crypto.h is).
 */
#ifndef KITO_TESTS_RNG_H
#define KITO_TESTS_RNG_H

#include <stdint.h>

/* The next number of the sequence whose state is *state (advanced). */
static inline uint64_t kito_test_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

#endif
