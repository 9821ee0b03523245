#include "api/money/outbox.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool field_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

/* A decimal number of at most 19 digits with an optional '-' (when allow_negative). */
static bool parse_i64(const char *s, size_t len, bool allow_negative, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len > 0 && s[0] == '-' && allow_negative) {
        neg = true;
        i = 1;
    }
    if (i == len || len - i > 19)
        return false;
    int64_t v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, s[i] - '0', &v))
            return false;
    }
    *out = neg ? -v : v;
    return true;
}

static bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    int64_t v;
    if (!parse_i64(s, len, false, &v))
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Any 64-bit unsigned decimal: a winner may be a floor paddle, KITO_PADDLE_BIDDER(p), whose top
 * bit is set (engine/command.h). */
static bool parse_u64_full(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 20)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (__builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

bool kito_outbox_entry_id_valid(const char *id)
{
    size_t n = strlen(id), dash = 0, digits = 0;
    if (n == 0 || n >= KITO_OUTBOX_ENTRY_ID_SIZE)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (id[i] == '-') {
            if (dash++ > 0 || digits == 0)
                return false;
            digits = 0;
        } else if (id[i] >= '0' && id[i] <= '9')
            digits++;
        else
            return false;
    }
    return dash == 1 && digits > 0;
}

kito_err kito_outbox_entry_parse(const char *id, const char *const *fields, const size_t *lens,
                                 size_t n, struct kito_outbox_entry *out, char *why,
                                 size_t why_size)
{
    enum {
        F_LOT,
        F_SALE,
        F_SELLER,
        F_WINNER,
        F_HAMMER,
        F_CUR,
        F_RESULT,
        F_REASON,
        F_SEQ,
        F_ENDS,
        F_CLOSED,
        F_FORMAT,
        F_COUNT
    };
    static const char *const names[F_COUNT] = {
        "lot_id", "sale_id", "seller_id", "winner",     "hammer_minor", "currency",
        "result", "reason",  "seq",       "ends_at_ms", "closed_at_ms", "format"};
    bool seen[F_COUNT] = {false};
    struct kito_outbox_entry e;
    memset(&e, 0, sizeof(e));
    if (id == NULL || !kito_outbox_entry_id_valid(id)) {
        snprintf(why, why_size, "the entry id is not <ms>-<seq>");
        return KITO_E_VALIDATION;
    }
    snprintf(e.id, sizeof(e.id), "%s", id);
    if (n % 2 != 0) {
        snprintf(why, why_size, "the entry has an odd number of field strings");
        return KITO_E_VALIDATION;
    }
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *name = fields[i], *v = fields[i + 1];
        size_t nl = lens[i], vl = lens[i + 1];
        int f = 0;
        while (f < F_COUNT && !field_is(name, nl, names[f]))
            f++;
        if (f == F_COUNT)
            continue; /* a later writer's field */
        if (seen[f]) {
            snprintf(why, why_size, "field %s is repeated", names[f]);
            return KITO_E_VALIDATION;
        }
        seen[f] = true;
        bool ok = true;
        int64_t i64 = 0;
        uint64_t u64 = 0;
        switch (f) {
        case F_LOT:
            ok = parse_u64(v, vl, &e.lot_id) && e.lot_id > 0;
            break;
        case F_SALE:
            ok = parse_u64(v, vl, &e.sale_id) && e.sale_id > 0;
            break;
        case F_SELLER:
            ok = parse_u64(v, vl, &e.seller_id) && e.seller_id > 0;
            break;
        case F_WINNER:
            ok = parse_u64_full(v, vl, &e.winner);
            break;
        case F_HAMMER:
            ok = parse_i64(v, vl, true, &e.hammer_minor);
            break;
        case F_CUR:
            ok = vl == 3;
            for (size_t k = 0; ok && k < 3; k++)
                ok = v[k] >= 'A' && v[k] <= 'Z';
            if (ok)
                memcpy(e.currency, v, 3);
            break;
        case F_RESULT:
            if (field_is(v, vl, "sold"))
                e.result = KITO_OUTBOX_SOLD;
            else if (field_is(v, vl, "unsold"))
                e.result = KITO_OUTBOX_UNSOLD;
            else if (field_is(v, vl, "withdrawn"))
                e.result = KITO_OUTBOX_WITHDRAWN;
            else
                ok = false;
            break;
        case F_REASON:
            ok = parse_u64(v, vl, &u64) && u64 <= 255;
            e.reason = (uint32_t)u64;
            break;
        case F_SEQ:
            ok = parse_u64(v, vl, &u64) && u64 <= UINT32_MAX;
            e.seq = (uint32_t)u64;
            break;
        case F_ENDS:
            ok = parse_i64(v, vl, true, &e.ends_at_ms);
            break;
        case F_CLOSED:
            ok = parse_i64(v, vl, false, &i64) && i64 > 0;
            e.closed_at_ms = i64;
            break;
        case F_FORMAT:
            ok = parse_u64(v, vl, &u64) && u64 <= 255;
            e.format = (uint32_t)u64;
            break;
        }
        if (!ok) {
            snprintf(why, why_size, "field %s has a bad value '%.*s'", names[f],
                     (int)(vl > 40 ? 40 : vl), v);
            return KITO_E_VALIDATION;
        }
    }
    /* what settlement needs; the rest (reason, seq, ends_at_ms, format) is informative */
    static const int required[] = {F_LOT,    F_SALE, F_SELLER, F_WINNER,
                                   F_HAMMER, F_CUR,  F_RESULT, F_CLOSED};
    for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
        if (!seen[required[k]]) {
            snprintf(why, why_size, "field %s is missing", names[required[k]]);
            return KITO_E_VALIDATION;
        }
    if (e.result == KITO_OUTBOX_SOLD && (e.winner == 0 || e.hammer_minor <= 0)) {
        snprintf(why, why_size, "a sold lot needs a winner and a positive hammer_minor");
        return KITO_E_VALIDATION;
    }
    if (e.result != KITO_OUTBOX_SOLD && (e.winner != 0 || e.hammer_minor != 0)) {
        snprintf(why, why_size, "an unsold or withdrawn lot has no winner and no hammer");
        return KITO_E_VALIDATION;
    }
    *out = e;
    return KITO_OK;
}

static const char *result_name(enum kito_outbox_result r)
{
    return r == KITO_OUTBOX_SOLD ? "sold" : r == KITO_OUTBOX_UNSOLD ? "unsold" : "withdrawn";
}

void kito_outbox_entry_json(const struct kito_outbox_entry *e, char *out, size_t out_size)
{
    snprintf(out, out_size,
             "{\"id\":\"%s\",\"lot_id\":%" PRIu64 ",\"sale_id\":%" PRIu64 ",\"seller_id\":%" PRIu64
             ",\"winner\":%" PRIu64 ",\"hammer_minor\":%" PRId64
             ",\"currency\":\"%s\",\"result\":\"%s\",\"reason\":%" PRIu32 ",\"seq\":%" PRIu32
             ",\"ends_at_ms\":%" PRId64 ",\"closed_at_ms\":%" PRId64 ",\"format\":%" PRIu32 "}",
             e->id, e->lot_id, e->sale_id, e->seller_id, e->winner, e->hammer_minor, e->currency,
             result_name(e->result), e->reason, e->seq, e->ends_at_ms, e->closed_at_ms, e->format);
}
