/*
 * Kito error codes: one X-macro gives the enum, the stable code string that
 * clients see and a human message (the libuv model).
 *
 * Codes are negative and never renumbered once landed: journals and logs keep
 * them. KITO_OK is 0. The engine and every adapter return these; errno,
 * hiredis and MySQL errors become a kito_err at the boundary and their detail
 * is logged there. The mapping to HTTP status lives in api/, not here: the
 * engine knows nothing of HTTP.
 *
 * To add a code: append a line with the next free number in its block.
 */
#ifndef KITO_ERR_H
#define KITO_ERR_H

/* XX(NAME, number, "stable_code", "message") */
#define KITO_ERR_MAP(XX)                                                                           \
    /* auction engine refusals (-1 .. -99) */                                                      \
    XX(LOT_NOT_OPEN, -1, "lot_not_open", "the lot is not open for bidding")                        \
    XX(BELOW_ASK, -2, "below_ask", "the amount is below the current ask")                          \
    XX(OWN_LOT, -3, "own_lot", "a seller cannot bid on her own lot")                               \
    XX(NOT_APPROVED, -4, "not_approved", "the buyer is not approved for this sale")                \
    XX(LOT_CLOSED, -5, "lot_closed", "the lot has closed")                                         \
    XX(BAD_AMOUNT, -6, "bad_amount", "the amount must be a positive whole number of minor units")  \
    XX(UNKNOWN_LOT, -7, "unknown_lot", "no such lot")                                              \
    XX(DUPLICATE, -8, "duplicate", "this command was already applied")                             \
    XX(BAD_STATE, -9, "bad_state", "the action is not allowed in the lot's current state")         \
    XX(WRONG_FORMAT, -10, "wrong_format", "the action does not apply to this auction format")      \
    XX(NOTHING_TO_UNDO, -11, "nothing_to_undo", "there is no bid to undo")                         \
    XX(LOT_EXISTS, -12, "lot_exists", "a lot with this id is already loaded")                      \
    XX(CAPACITY, -13, "capacity", "a fixed limit was reached")                                     \
    XX(BAD_LADDER, -14, "bad_ladder", "the increment ladder is not valid")                         \
    XX(BAD_COMMAND, -15, "bad_command", "the command is not valid")                                \
    XX(BAD_SNAPSHOT, -16, "bad_snapshot", "the snapshot is damaged or of another version")         \
    XX(NOT_ABOVE_OWN_MAX, -17, "not_above_own_max",                                                \
       "a new maximum must be above your current maximum")                                         \
    XX(UNCHANGED, -18, "unchanged", "the bid already stands at this amount")                       \
    XX(LOT_PAUSED, -19, "lot_paused", "the lot is paused")                                         \
    XX(ALREADY_LEADING, -20, "already_leading", "this bidder already holds the lead")              \
    XX(RESERVE_NOT_MET, -21, "reserve_not_met", "the reserve is not met; pass the lot instead")    \
    XX(NO_BID, -22, "no_bid", "there is no bid to sell to")                                        \
    XX(ASK_NOT_ABOVE_PRICE, -23, "ask_not_above_price", "the ask must be above the current price") \
    XX(NOT_DUE, -24, "not_due", "the lot is not due to open or close yet")                         \
    /* request and service errors (-100 ..) */                                                     \
    XX(BAD_REQUEST, -100, "bad_request", "the request is not valid")                               \
    XX(MALFORMED_JSON, -101, "malformed_json", "the body is not valid JSON")                       \
    XX(VALIDATION, -102, "validation_failed", "a field is missing or not valid")                   \
    XX(UNAUTHORIZED, -103, "unauthorized", "sign in first")                                        \
    XX(FORBIDDEN, -104, "forbidden", "you may not do this")                                        \
    XX(NOT_FOUND, -105, "not_found", "no such resource")                                           \
    XX(METHOD_NOT_ALLOWED, -106, "method_not_allowed", "this method is not allowed here")          \
    XX(CONFLICT, -107, "conflict", "the request conflicts with the current state")                 \
    XX(PAYLOAD_TOO_LARGE, -108, "payload_too_large", "the request body is too large")              \
    XX(RATE_LIMITED, -109, "rate_limited", "too many requests; slow down")                         \
    XX(UNAVAILABLE, -110, "unavailable", "a service is unavailable; try again shortly")            \
    XX(INTERNAL, -111, "internal", "an internal error occurred")                                   \
    XX(NOMEM, -112, "out_of_memory", "out of memory")                                              \
    XX(IO, -113, "io_error", "an input or output error occurred")                                  \
    XX(DB, -114, "database_error", "the database reported an error")                               \
    XX(CONFIG, -115, "bad_config", "the configuration is not valid")                               \
    XX(UNSUPPORTED_MEDIA, -116, "unsupported_media_type", "this content type is not accepted")     \
    XX(LOCKED, -117, "locked", "too many failed attempts; try again later")                        \
    XX(OVER_LIMIT, -118, "over_limit", "the amount is above your spending limit for this sale")    \
    XX(NO_CONSENT, -119, "no_consent",                                                             \
       "the stone's miner has not offered it to this organiser or sale")                           \
    XX(BUSY, -130, "busy", "too many requests of this kind are waiting; try again shortly")        \
    XX(TIMEOUT, -131, "timeout", "the request did not finish within its time limit")

typedef enum kito_err {
    KITO_OK = 0,
#define KITO__ERR_ENUM(name, num, code, msg) KITO_E_##name = (num),
    KITO_ERR_MAP(KITO__ERR_ENUM)
#undef KITO__ERR_ENUM
} kito_err;

/* The stable machine code of err ("below_ask"); "ok" for KITO_OK and "unknown"
 * for a number that is not in the map. Never NULL; static storage. */
const char *kito_err_code(kito_err err);

/* A one-sentence English message for err; never NULL; static storage. */
const char *kito_err_message(kito_err err);

#endif
