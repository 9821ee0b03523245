/*
 * Byte-level helpers shared by the command codec and the lot snapshot (internal to engine/):
 * little-endian fixed-width integers, LEB128 varints, CRC-32C. A writer never writes past its
 * capacity and a reader never reads past its end; both remember the first failure, so a caller
 * checks once at the end (the hiredis reader model).
 */
#ifndef KITO_CODEC_H
#define KITO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli) of n bytes, seeded with crc (0 to start). */
uint32_t kito__crc32c(uint32_t crc, const uint8_t *p, size_t n);

struct kito__writer {
    uint8_t *buf; /* borrowed; may be NULL when cap is 0 (measuring only) */
    size_t cap;
    size_t len;    /* bytes written, or that would have been written */
    bool overflow; /* set when len went past cap */
};

void kito__put_u8(struct kito__writer *w, uint8_t v);
void kito__put_u32(struct kito__writer *w, uint32_t v);
void kito__put_u64(struct kito__writer *w, uint64_t v);
void kito__put_bytes(struct kito__writer *w, const void *p, size_t n);
void kito__put_varint(struct kito__writer *w, uint64_t v);
/* Zigzag-encoded signed varint. */
void kito__put_svarint(struct kito__writer *w, int64_t v);

struct kito__reader {
    const uint8_t *p; /* borrowed */
    size_t len;
    size_t pos;
    bool bad; /* set on a short read or a non-canonical varint */
};

uint8_t kito__get_u8(struct kito__reader *r);
uint32_t kito__get_u32(struct kito__reader *r);
uint64_t kito__get_u64(struct kito__reader *r);
void kito__get_bytes(struct kito__reader *r, void *out, size_t n);
/* Reads a canonical LEB128 varint of at most 10 bytes: overlong forms are refused, so one
 * value has one encoding and a damaged byte cannot hide. */
uint64_t kito__get_varint(struct kito__reader *r);
int64_t kito__get_svarint(struct kito__reader *r);

#endif
