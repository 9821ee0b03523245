/*
 * Engine commands: the only input that changes a lot (DESIGN.md, "Parts and data flow"). A
 * command is a plain value; the engine never keeps a pointer to one.
 *
 * Identity. Every command carries a caller-chosen 64-bit id. The engine remembers the ids of the
 * accepted commands of each lot for a bounded window (kito_engine_limits.recent_commands) and
 * answers a second arrival of the same (lot, id) with KITO_E_DUPLICATE and the first seq,
 * changing nothing. Id 0 means "no id": such a command is never deduplicated (the engine's own
 * OPEN/CLOSE from kito_engine_tick use it).
 *
 * Journal. Only accepted commands need journaling. kito_command_encode writes the compact,
 * versioned, endian-stable record below, with the seq the engine gave the command;
 * kito_command_decode reads it back or refuses damaged input with KITO_E_BAD_COMMAND.
 *
 *   byte 0      version (1)
 *   byte 1      type (enum kito_command_type)
 *   byte 2      flags (KITO_CMD_F_*)
 *   byte 3      arg (SET_STEP: enum kito_step_mode; else 0)
 *   bytes 4-11  id, little-endian u64
 *   varint      lot_id            (LEB128, canonical)
 *   varint      seq
 *   svarint     now_ms            (zigzag LEB128)
 *   varint      actor
 *   svarint     amount_minor
 *   4 bytes     CRC-32C of all preceding bytes, little-endian
 *
 * A timed bid is typically 30-35 bytes; the maximum is KITO_COMMAND_ENCODED_MAX.
 *
 * All functions are pure and may be called from any thread.
 */
#ifndef KITO_COMMAND_H
#define KITO_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define KITO_COMMAND_VERSION 1
#define KITO_COMMAND_ENCODED_MAX 64

/* The numbering is journaled: never renumber. */
enum kito_command_type {
    KITO_CMD_BID = 1,          /* online bid: timed maximum, tender bid, live online/absentee max */
    KITO_CMD_FLOOR_BID = 2,    /* live: clerk enters a floor bid for paddle `actor` */
    KITO_CMD_OPEN = 3,         /* live: clerk opens; timed/tender: due open (kito_engine_tick) */
    KITO_CMD_CLOSE = 4,        /* timed/tender: due close and award (kito_engine_tick) */
    KITO_CMD_SET_ASK = 5,      /* live: clerk calls a new ask */
    KITO_CMD_SET_STEP = 6,     /* live: clerk changes the step (arg: kito_step_mode) */
    KITO_CMD_UNDO = 7,         /* live: clerk undoes the last bid */
    KITO_CMD_FAIR_WARNING = 8, /* live: open -> closing */
    KITO_CMD_SOLD = 9,         /* live: hammer to the leader at the price */
    KITO_CMD_PASS = 10,        /* live: close unsold */
    KITO_CMD_PAUSE = 11,       /* live */
    KITO_CMD_RESUME = 12,      /* live */
    KITO_CMD_WITHDRAW = 13,    /* organiser, any format: withdraw the lot */
};
#define KITO_CMD_TYPE_MAX 13

/* SET_STEP modes (journaled: never renumber). */
enum kito_step_mode {
    KITO_STEP_MANUAL = 1, /* step := amount_minor */
    KITO_STEP_HALVE = 2,  /* step := current step / 2 (at least 1 minor unit) */
    KITO_STEP_DOUBLE = 3, /* step := current step x 2 */
    KITO_STEP_LADDER = 4, /* back to the sale's ladder */
};

/* The adapter checked that `actor` is approved for the lot's sale (DESIGN.md: "a buyer must be
 * approved for the sale"). Approval data lives in MySQL; carrying the fact in the command keeps
 * the engine's state to its lots and makes a journal replay independent of later approval
 * changes, the same way the buyer's identity arrives already authenticated. A BID without it is
 * refused with KITO_E_NOT_APPROVED. */
#define KITO_CMD_F_APPROVED 0x01u
#define KITO_CMD_F_ALL 0x01u

/* Online bidder ids are account ids below 2^63. Floor paddles live in their own namespace: the
 * engine records paddle p as bidder KITO_PADDLE_BIDDER(p), so views and events distinguish them. */
#define KITO_PADDLE_FLAG (UINT64_C(1) << 63)
#define KITO_PADDLE_BIDDER(p) ((uint64_t)(p) | KITO_PADDLE_FLAG)

struct kito_command {
    uint64_t id;          /* caller-chosen, unique per lot; 0 = not deduplicated */
    uint64_t lot_id;      /* nonzero */
    uint64_t actor;       /* BID: buyer account id (1 .. 2^63-1); FLOOR_BID: paddle number
                             (1 .. 2^63-1); other types: the clerk or organiser, for audit only */
    int64_t amount_minor; /* BID: maximum (timed, live) or sealed bid (tender); FLOOR_BID: the
                             bid; SET_ASK: new ask; SET_STEP manual: new step; else 0 */
    int64_t now_ms;       /* the caller's clock, ms since the epoch (the engine reads none) */
    uint32_t seq;         /* journal position: 0 from clients; set by kito_engine_tick on the
                             commands it applied and by kito_command_decode; checked by
                             kito_engine_replay */
    uint8_t type;         /* enum kito_command_type */
    uint8_t flags;        /* KITO_CMD_F_* */
    uint8_t arg;          /* SET_STEP: enum kito_step_mode; else 0 */
    uint8_t reserved;     /* zero */
};

/* Checks the shape of cmd (known type, flags and arg, nonzero lot id, reserved zero). Amounts
 * and state are the engine's business. Returns KITO_OK or KITO_E_BAD_COMMAND. */
kito_err kito_command_check(const struct kito_command *cmd);

/* Writes the journal record of cmd (including cmd->seq) into buf. On success sets *len (<=
 * KITO_COMMAND_ENCODED_MAX). Fails with KITO_E_BAD_COMMAND if cmd fails kito_command_check, or
 * KITO_E_CAPACITY if cap is too small; buf's contents are then unspecified. */
kito_err kito_command_encode(const struct kito_command *cmd, uint8_t *buf, size_t cap, size_t *len);

/* Reads a journal record of exactly len bytes into *out. Refuses anything damaged -- wrong
 * version, bad checksum, truncation, trailing bytes, non-canonical varints, unknown type, flags
 * or arg -- with KITO_E_BAD_COMMAND and leaves *out untouched. Never reads past buf + len. */
kito_err kito_command_decode(const uint8_t *buf, size_t len, struct kito_command *out);

/* "bid", "floor_bid", ... for logs; "unknown" for anything else. Static storage. */
const char *kito_command_type_name(uint8_t type);

#endif
