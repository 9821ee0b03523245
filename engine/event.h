/*
 * Engine events: what an accepted command changed, written into a caller-provided fixed buffer
 * (kito_engine_apply). Every event carries the lot id and the seq the command was given, so a
 * watcher detects a gap and resyncs (DESIGN.md, "Auction rules").
 *
 * Audience. An event is either PUBLIC (safe for the live feed as it stands) or BIDDER (only for
 * the account or paddle in `who`, e.g. her own maximum, a sealed tender bid, "you were outbid").
 * No event ever carries a reserve amount, a proxy maximum publicly, or -- before a tender lot
 * closes -- any public trace of its bids: tender bids and live absentee maximums yield BIDDER
 * events only, so the public feed of such a lot shows seq gaps by design.
 *
 * Every event also carries the lot's public state after the command (state, price, ask,
 * bid_count), as kito_engine_lot_view would report it.
 */
#ifndef KITO_EVENT_H
#define KITO_EVENT_H

#include <stdint.h>

/* The numbering goes to Redis streams and clients: never renumber. */
enum kito_event_type {
    KITO_EV_OPENED = 1,       /* PUBLIC: bidding opened; who = leader (live, from absentees) */
    KITO_EV_BID_ACCEPTED = 2, /* BIDDER: who's bid; amount = her maximum or sealed bid;
                                 reason = 1 if she leads (never set for tender) */
    KITO_EV_OUTBID = 3,       /* BIDDER: who no longer leads (or was outbid at once by a proxy) */
    KITO_EV_BOOK = 4,         /* PUBLIC: a bid changed the book; who = leader */
    KITO_EV_RESERVE_MET = 5,  /* PUBLIC: the price reached the (secret) reserve */
    KITO_EV_EXTENDED = 6,     /* PUBLIC: soft close; at_ms = the new end */
    KITO_EV_ASK_CHANGED = 7,  /* PUBLIC: the clerk called a new ask */
    KITO_EV_STEP_CHANGED = 8, /* PUBLIC: amount = the new step */
    KITO_EV_FAIR_WARNING = 9, /* PUBLIC */
    KITO_EV_PAUSED = 10,      /* PUBLIC */
    KITO_EV_RESUMED = 11,     /* PUBLIC */
    KITO_EV_BID_UNDONE = 12,  /* PUBLIC: who = the bidder whose bid was undone; amount = the
                                 floor bid (0 for an online maximum, which stays secret) */
    KITO_EV_SOLD = 13,        /* PUBLIC: who = winner, amount = hammer price (settlement) */
    KITO_EV_UNSOLD = 14,      /* PUBLIC: reason = enum kito_unsold_reason */
    KITO_EV_WITHDRAWN = 15,   /* PUBLIC */
};
#define KITO_EV_TYPE_MAX 15

enum kito_audience {
    KITO_AUDIENCE_PUBLIC = 1,
    KITO_AUDIENCE_BIDDER = 2,
};

enum kito_unsold_reason {
    KITO_UNSOLD_NO_BIDS = 1,
    KITO_UNSOLD_RESERVE_NOT_MET = 2,
    KITO_UNSOLD_PASSED = 3, /* live: the clerk passed a lot whose reserve was met */
};

/* 64 bytes. */
struct kito_event {
    uint64_t lot_id;
    uint64_t who;         /* see the type; 0 when none */
    int64_t amount_minor; /* see the type; 0 when none */
    int64_t price_minor;  /* public price after the command (0 while sealed or before a bid) */
    int64_t ask_minor;    /* public ask after the command (tender: the minimum bid) */
    int64_t at_ms;        /* the command's now_ms; EXTENDED: the new end */
    uint32_t seq;         /* the command's seq */
    uint32_t bid_count;   /* public bid count after the command (0 while sealed) */
    uint8_t type;         /* enum kito_event_type */
    uint8_t audience;     /* enum kito_audience */
    uint8_t state;        /* enum kito_lot_state after the command */
    uint8_t reason;       /* see the type */
};

/* "opened", "bid_accepted", ... ; "unknown" otherwise. Static storage. */
const char *kito_event_type_name(uint8_t type);

#endif
