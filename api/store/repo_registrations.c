#include "api/store/repo_registrations.h"

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "api/common/roles.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define STANDING_COLUMNS                                                                           \
    "CASE WHEN a.id IS NOT NULL THEN 'approved' ELSE COALESCE(r.status, 'none') END, "             \
    "a.paddle_number, a.limit_minor, " KITO_SQL_DT_TO_MS("r.requested_at") ", " KITO_SQL_DT_TO_MS( \
        "r.decided_at") ", acc.name, acc.email, acc.id, r.id"

static kito_err standing_from_row(const kito_sql_row *row, kito_registration *out)
{
    kito_sql_copy(row, 0, out->status, sizeof(out->status));
    out->paddle_number = (uint32_t)kito_sql_u64(row, 1);
    out->limit_minor = kito_sql_i64(row, 2);
    out->requested_at_ms = kito_sql_i64(row, 3);
    out->decided_at_ms = kito_sql_i64(row, 4);
    kito_sql_copy(row, 5, out->buyer_name, sizeof(out->buyer_name));
    kito_sql_copy(row, 6, out->buyer_email, sizeof(out->buyer_email));
    out->buyer_id = kito_sql_u64(row, 7);
    return KITO_OK;
}

/* Where query_text puts the first column of the first row. */
typedef struct first_ctx {
    char *buf;
    size_t cap;
    bool seen;
} first_ctx;

static kito_err first_text(void *ud, const kito_sql_row *row)
{
    first_ctx *f = ud;
    if (!f->seen)
        kito_sql_copy(row, 0, f->buf, f->cap);
    f->seen = true;
    return KITO_OK;
}

static kito_err one_standing(void *ud, const kito_sql_row *row)
{
    return standing_from_row(row, ud);
}

/* Reads buyer_id's standing in sale s into *out. */
static kito_err read_standing(kito_db_conn *db, const kito_sale *s, uint64_t buyer_id,
                              kito_registration *out)
{
    size_t rows = 0;
    memset(out, 0, sizeof(*out));
    out->sale_id = s->id;
    snprintf(out->currency, sizeof(out->currency), "%s", s->in.currency);
    kito_sql_param p[] = {KITO_SQL_U64(s->id), KITO_SQL_U64(s->id), KITO_SQL_U64(buyer_id)};
    kito_err e =
        kito_sql_query(db,
                       "SELECT " STANDING_COLUMNS " FROM accounts acc"
                       " LEFT JOIN sale_registrations r"
                       "   ON r.sale_id = ? AND r.buyer_id = acc.id"
                       " LEFT JOIN sale_approvals a ON a.sale_id = ? AND a.buyer_id = acc.id"
                       " WHERE acc.id = ?",
                       p, COUNT(p), one_standing, out, &rows);
    if (e == KITO_OK && rows == 0)
        e = KITO_E_NOT_FOUND;
    return e;
}

/* The sale is still taking approvals and revocations: not closed, settled or cancelled. */
static kito_err sale_takes_approvals(const kito_sale *s, kito_verr *ve)
{
    if (strcmp(s->status, "draft") == 0 || strcmp(s->status, "published") == 0 ||
        strcmp(s->status, "open") == 0)
        return KITO_OK;
    kito_verr_set(ve, "", "the sale is %s; its approvals can no longer change", s->status);
    return KITO_E_CONFLICT;
}

/* The arguments of a registration write, for its transaction body (kito_sql_transaction runs
 * the body again when InnoDB gave up a lock, so each body resets its outputs first). */
typedef struct registration_tx {
    const kito_actor *actor;
    uint64_t id; /* the sale */
    uint64_t buyer_id;
    const kito_approval_input *in; /* approve only */
    kito_registration *out;        /* register and approve */
    bool *created;                 /* register and approve */
    kito_verr *ve;
} registration_tx;

static kito_err register_tx(kito_db_conn *db, void *ud)
{
    registration_tx *t = ud;
    const kito_actor *actor = t->actor;
    uint64_t id = t->id;
    kito_registration *out = t->out;
    bool *created = t->created;
    kito_verr *ve = t->ve;
    kito_sale s;
    size_t rows = 0;
    *created = false;
    if (ve != NULL)
        *ve = (kito_verr){{0}};
    kito_err e = kito_sales_read_locked(db, id, &s);
    if (e == KITO_OK && !kito_sale_visible(actor, &s))
        e = KITO_E_NOT_FOUND;
    if (e == KITO_OK && strcmp(s.status, "published") != 0 && strcmp(s.status, "open") != 0) {
        kito_verr_set(ve, "", "the sale is %s; it takes no registrations", s.status);
        e = KITO_E_CONFLICT;
    }
    kito_sql_param p[] = {KITO_SQL_U64(id), KITO_SQL_U64(actor->account_id)};
    if (e == KITO_OK)
        e = kito_sql_query(db,
                           "SELECT id FROM sale_registrations WHERE sale_id = ? AND buyer_id = ?"
                           " FOR UPDATE",
                           p, 2, NULL, NULL, &rows);
    if (e == KITO_OK && rows == 0) {
        kito_sql_result res = {0};
        e = kito_sql_exec(db,
                          "INSERT INTO sale_registrations (sale_id, buyer_id, status, requested_at)"
                          " VALUES (?, ?, 'pending', UTC_TIMESTAMP(3))",
                          p, 2, &res);
        if (e == KITO_OK)
            e = kito_audit(db, actor->account_id, "sale.register", "sale", id, NULL, actor->ip);
        *created = e == KITO_OK;
    }
    if (e == KITO_OK)
        e = read_standing(db, &s, actor->account_id, out);
    return e;
}

kito_err kito_registrations_register(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                     kito_registration *out, bool *created, kito_verr *ve)
{
    registration_tx t = {.actor = actor, .id = id, .out = out, .created = created, .ve = ve};
    return kito_sql_transaction(db, register_tx, &t, KITO_SQL_TX_ATTEMPTS);
}

kito_err kito_registrations_standing(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                     kito_registration *out)
{
    kito_sale s;
    kito_err e = kito_sales_get(db, actor, id, &s);
    if (e == KITO_OK)
        e = read_standing(db, &s, actor->account_id, out);
    return e;
}

/* Reads the first column of the first row as text into buf (cap bytes; "" for SQL NULL);
 * *found says whether there was a row. */
static kito_err query_text(kito_db_conn *db, const char *sql, const kito_sql_param *p, size_t n,
                           char *buf, size_t cap, bool *found)
{
    first_ctx f = {buf, cap, false};
    buf[0] = '\0';
    kito_err e = kito_sql_query(db, sql, p, n, first_text, &f, NULL);
    *found = f.seen;
    return e;
}

/* The buyer must be a buyer account in good standing. */
static kito_err check_buyer(kito_db_conn *db, uint64_t buyer_id, kito_verr *ve)
{
    char state[40];
    bool found;
    kito_sql_param p[] = {KITO_SQL_U64(buyer_id)};
    kito_err e = query_text(db, "SELECT CONCAT(role, ' ', status) FROM accounts WHERE id = ?", p, 1,
                            state, sizeof(state), &found);
    if (e != KITO_OK)
        return e;
    if (!found || strncmp(state, "buyer ", 6) != 0)
        return kito_verr_set(ve, "buyer_id", "is not a buyer account");
    if (strcmp(state, "buyer active") != 0)
        return kito_verr_set(ve, "buyer_id", "is not an active account");
    return KITO_OK;
}

/* A buyer's current approval in the sale, if any. */
typedef struct approval_row {
    bool found;
    uint32_t paddle_number;
    int64_t limit_minor; /* 0 = none */
} approval_row;

static kito_err one_approval(void *ud, const kito_sql_row *row)
{
    approval_row *a = ud;
    a->found = true;
    a->paddle_number = (uint32_t)kito_sql_u64(row, 0);
    a->limit_minor = kito_sql_i64(row, 1);
    return KITO_OK;
}

static kito_err read_approval(kito_db_conn *db, uint64_t sale_id, uint64_t buyer_id,
                              approval_row *out)
{
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(buyer_id)};
    *out = (approval_row){0};
    return kito_sql_query(db,
                          "SELECT paddle_number, limit_minor FROM sale_approvals"
                          " WHERE sale_id = ? AND buyer_id = ? FOR UPDATE",
                          p, 2, one_approval, out, NULL);
}

/* The paddle number to give: the one asked for (refused when another buyer holds it), the
 * buyer's current one, or the sale's highest + 1. The sale row is locked, so two approvals in
 * one sale cannot pick the same number. */
static kito_err choose_paddle(kito_db_conn *db, uint64_t sale_id, const kito_approval_input *in,
                              const approval_row *cur, uint32_t *paddle, kito_verr *ve)
{
    char text[24];
    bool found;
    if (in->paddle_number != 0) {
        kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(in->paddle_number),
                              KITO_SQL_U64(in->buyer_id)};
        kito_err e = query_text(db,
                                "SELECT buyer_id FROM sale_approvals WHERE sale_id = ? AND"
                                " paddle_number = ? AND buyer_id <> ?",
                                p, 3, text, sizeof(text), &found);
        if (e == KITO_OK && found) {
            kito_verr_set(ve, "paddle_number", "%u is another buyer's paddle in this sale",
                          (unsigned)in->paddle_number);
            e = KITO_E_CONFLICT;
        }
        *paddle = in->paddle_number;
        return e;
    }
    if (cur->found && cur->paddle_number != 0) {
        *paddle = cur->paddle_number;
        return KITO_OK;
    }
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e = query_text(db,
                            "SELECT COALESCE(MAX(paddle_number), 0) + 1 FROM sale_approvals"
                            " WHERE sale_id = ?",
                            p, 1, text, sizeof(text), &found);
    unsigned long long next = strtoull(text, NULL, 10);
    if (e == KITO_OK && (next < 1 || next > KITO_PADDLE_MAX)) {
        kito_verr_set(ve, "paddle_number", "no paddle number is left; give one explicitly");
        e = KITO_E_CONFLICT;
    }
    *paddle = (uint32_t)next;
    return e;
}

static kito_err approve_tx(kito_db_conn *db, void *ud)
{
    registration_tx *t = ud;
    const kito_actor *actor = t->actor;
    uint64_t id = t->id;
    const kito_approval_input *in = t->in;
    kito_verr *ve = t->ve;
    kito_sale s;
    approval_row cur = {0};
    uint32_t paddle = 0;
    *t->created = false;
    if (ve != NULL)
        *ve = (kito_verr){{0}};
    kito_err e = kito_sales_lock_owned(db, actor, id, &s);
    if (e == KITO_OK)
        e = sale_takes_approvals(&s, ve);
    if (e == KITO_OK)
        e = check_buyer(db, in->buyer_id, ve);
    if (e == KITO_OK)
        e = read_approval(db, id, in->buyer_id, &cur);
    if (e == KITO_OK)
        e = choose_paddle(db, id, in, &cur, &paddle, ve);
    int64_t limit = in->has_limit ? in->limit_minor : cur.limit_minor;
    kito_sql_param p[] = {
        KITO_SQL_U64(actor->account_id),
        KITO_SQL_U64(paddle),
        limit > 0 ? KITO_SQL_I64(limit) : KITO_SQL_NULL,
        KITO_SQL_U64(id),
        KITO_SQL_U64(in->buyer_id),
    };
    if (e == KITO_OK && cur.found)
        e = kito_sql_exec(db,
                          "UPDATE sale_approvals SET approved_by = ?, paddle_number = ?,"
                          " limit_minor = ?, approved_at = UTC_TIMESTAMP(3)"
                          " WHERE sale_id = ? AND buyer_id = ?",
                          p, COUNT(p), NULL);
    else if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO sale_approvals (approved_by, paddle_number, limit_minor,"
                          " sale_id, buyer_id) VALUES (?, ?, ?, ?, ?)",
                          p, COUNT(p), NULL);
    kito_sql_param q[] = {KITO_SQL_U64(id), KITO_SQL_U64(in->buyer_id),
                          KITO_SQL_U64(actor->account_id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO sale_registrations (sale_id, buyer_id, status, decided_by,"
                          " decided_at) VALUES (?, ?, 'approved', ?, UTC_TIMESTAMP(3))"
                          " ON DUPLICATE KEY UPDATE status = 'approved',"
                          " decided_by = VALUES(decided_by), decided_at = VALUES(decided_at),"
                          " updated_at = UTC_TIMESTAMP(3)",
                          q, COUNT(q), NULL);
    if (e == KITO_OK) {
        char buyer[KITO_ID_SIZE];
        kito_id_format(KITO_ID_ACCOUNT, in->buyer_id, buyer, sizeof(buyer));
        json_t *detail = json_pack(
            "{s:s,s:I,s:o,s:b}", "buyer_id", buyer, "paddle_number", (json_int_t)paddle,
            "limit_minor", limit > 0 ? json_integer(limit) : json_null(), "update", cur.found);
        e = kito_audit(db, actor->account_id, "sale.approve", "sale", id, detail, actor->ip);
        json_decref(detail);
    }
    if (e == KITO_OK)
        e = read_standing(db, &s, in->buyer_id, t->out);
    *t->created = e == KITO_OK && !cur.found;
    return e;
}

kito_err kito_registrations_approve(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                    const kito_approval_input *in, kito_registration *out,
                                    bool *created, kito_verr *ve)
{
    registration_tx t = {
        .actor = actor, .id = id, .in = in, .out = out, .created = created, .ve = ve};
    return kito_sql_transaction(db, approve_tx, &t, KITO_SQL_TX_ATTEMPTS);
}

static kito_err revoke_tx(kito_db_conn *db, void *ud)
{
    registration_tx *t = ud;
    const kito_actor *actor = t->actor;
    uint64_t id = t->id, buyer_id = t->buyer_id;
    kito_verr *ve = t->ve;
    kito_sale s;
    char status[17] = "";
    bool found = false;
    kito_sql_result res = {0};
    if (ve != NULL)
        *ve = (kito_verr){{0}};
    kito_err e = kito_sales_lock_owned(db, actor, id, &s);
    if (e == KITO_OK)
        e = sale_takes_approvals(&s, ve);
    kito_sql_param p[] = {KITO_SQL_U64(id), KITO_SQL_U64(buyer_id)};
    if (e == KITO_OK)
        e = query_text(db,
                       "SELECT status FROM sale_registrations WHERE sale_id = ? AND buyer_id = ?"
                       " FOR UPDATE",
                       p, 2, status, sizeof(status), &found);
    if (e == KITO_OK)
        e = kito_sql_exec(db, "DELETE FROM sale_approvals WHERE sale_id = ? AND buyer_id = ?", p, 2,
                          &res);
    const char *next = res.affected_rows > 0                     ? "revoked"
                       : found && strcmp(status, "pending") == 0 ? "declined"
                                                                 : NULL;
    if (e == KITO_OK && next == NULL) {
        kito_verr_set(ve, "buyer_id", "has no approval or pending request in this sale");
        e = KITO_E_NOT_FOUND;
    }
    kito_sql_param q[] = {KITO_SQL_U64(id), KITO_SQL_U64(buyer_id), KITO_SQL_TEXT(next ? next : ""),
                          KITO_SQL_U64(actor->account_id)};
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO sale_registrations (sale_id, buyer_id, status, decided_by,"
                          " decided_at) VALUES (?, ?, ?, ?, UTC_TIMESTAMP(3))"
                          " ON DUPLICATE KEY UPDATE status = VALUES(status),"
                          " decided_by = VALUES(decided_by), decided_at = VALUES(decided_at),"
                          " updated_at = UTC_TIMESTAMP(3)",
                          q, COUNT(q), NULL);
    if (e == KITO_OK) {
        char buyer[KITO_ID_SIZE];
        kito_id_format(KITO_ID_ACCOUNT, buyer_id, buyer, sizeof(buyer));
        json_t *detail = json_pack("{s:s,s:s}", "buyer_id", buyer, "status", next);
        e = kito_audit(db, actor->account_id, "sale.revoke", "sale", id, detail, actor->ip);
        json_decref(detail);
    }
    return e;
}

kito_err kito_registrations_revoke(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                   uint64_t buyer_id, kito_verr *ve)
{
    registration_tx t = {.actor = actor, .id = id, .buyer_id = buyer_id, .ve = ve};
    return kito_sql_transaction(db, revoke_tx, &t, KITO_SQL_TX_ATTEMPTS);
}

/* A page of registrations, one row at a time to the caller's fn with its registration id. */
struct registration_page {
    kito_registration_row_fn fn;
    void *ud;
    const kito_sale *sale;
    kito_registration row;
};

static kito_err registration_page_row(void *ud, const kito_sql_row *row)
{
    struct registration_page *c = ud;
    memset(&c->row, 0, sizeof(c->row));
    c->row.sale_id = c->sale->id;
    snprintf(c->row.currency, sizeof(c->row.currency), "%s", c->sale->in.currency);
    kito_err e = standing_from_row(row, &c->row);
    return e == KITO_OK ? c->fn(c->ud, kito_sql_u64(row, 8), &c->row) : e;
}

kito_err kito_registrations_list(kito_db_conn *db, const kito_actor *actor, uint64_t id,
                                 const kito_registrations_filter *f, kito_registration_row_fn fn,
                                 void *ud)
{
    kito_sale s;
    kito_err e = kito_sales_read(db, id, &s);
    if (e == KITO_OK && !kito_sale_actor_owns(actor, s.organizer_id))
        e = KITO_E_FORBIDDEN; /* another organiser: 403, as for every change (issue 4) */
    if (e != KITO_OK)
        return e;
    struct registration_page page = {.fn = fn, .ud = ud, .sale = &s};
    kito_sql_param p[] = {
        KITO_SQL_U64(id),
        KITO_SQL_TEXT_OR_NULL(f->status),
        KITO_SQL_TEXT_OR_NULL(f->status),
        KITO_SQL_U64(f->has_after ? f->after_id : 0),
        KITO_SQL_U64((uint64_t)f->limit + 1),
    };
    return kito_sql_query(db,
                          "SELECT " STANDING_COLUMNS " FROM sale_registrations r"
                          " JOIN accounts acc ON acc.id = r.buyer_id"
                          " LEFT JOIN sale_approvals a"
                          "   ON a.sale_id = r.sale_id AND a.buyer_id = r.buyer_id"
                          " WHERE r.sale_id = ?"
                          " AND ((? IS NULL AND r.status IN ('pending', 'approved'))"
                          "      OR r.status = ?)"
                          " AND r.id > ? ORDER BY r.id LIMIT ?",
                          p, COUNT(p), registration_page_row, &page, NULL);
}
