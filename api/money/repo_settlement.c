#include "api/money/repo_settlement.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/store/audit.h"
#include "api/common/render.h"
#include "api/store/sql.h"
#include "api/common/validate.h"
#include "engine/fees.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define STR2(x) #x
#define STR(x) STR2(x)
#define DUE_DAYS STR(KITO_SETTLEMENT_INVOICE_DUE_DAYS)

/* Milliseconds since the epoch <-> DATETIME(3) in UTC, whatever the session's time zone
 * (FROM_UNIXTIME and UNIX_TIMESTAMP would convert through it). */
#define MS_TO_DT(param) "(TIMESTAMP'1970-01-01 00:00:00' + INTERVAL (" param " * 1000) MICROSECOND)"
#define DT_TO_MS(col)                                                                              \
    "(TIMESTAMPDIFF(MICROSECOND, TIMESTAMP'1970-01-01 00:00:00', " col ") DIV 1000)"

static void copy_col(const kito_sql_row *row, unsigned col, char *buf, size_t cap)
{
    kito_sql_copy(row, col, buf, cap);
}

/* ---- the settlement worker's writes -----------------------------------------------------------
 */

/* What MySQL knows about the lot of an outbox entry. */
struct lot_facts {
    bool found;
    uint64_t lot_id, sale_id, stone_id, seller_id;
    char state[16];
    char country[3], species[25];
    char currency[4];
    int32_t premium_bps, commission_bps;
    uint64_t association_id;
    int32_t levy_bps;
    uint64_t settlement_id; /* 0 = not settled */
    char winner_role[16];   /* "" = no such account */
    uint64_t rate_id;       /* 0 = no royalty rate */
    int32_t rate_bps;
};

struct facts_ctx {
    const struct kito_outbox_entry *entries;
    size_t n;
    struct lot_facts *facts; /* facts[i] for entries[i] */
};

static kito_err read_facts(void *ud, const kito_sql_row *row)
{
    struct facts_ctx *c = ud;
    size_t i = (size_t)kito_sql_u64(row, 0);
    if (i >= c->n)
        return KITO_E_INTERNAL;
    struct lot_facts *f = &c->facts[i];
    f->found = true;
    f->lot_id = kito_sql_u64(row, 1);
    f->sale_id = kito_sql_u64(row, 2);
    copy_col(row, 3, f->state, sizeof(f->state));
    f->stone_id = kito_sql_u64(row, 4);
    f->seller_id = kito_sql_u64(row, 5);
    copy_col(row, 6, f->country, sizeof(f->country));
    copy_col(row, 7, f->species, sizeof(f->species));
    copy_col(row, 8, f->currency, sizeof(f->currency));
    f->premium_bps = (int32_t)kito_sql_i64(row, 9);
    f->commission_bps = (int32_t)kito_sql_i64(row, 10);
    f->association_id = kito_sql_u64(row, 11);
    f->levy_bps = (int32_t)kito_sql_i64(row, 12);
    f->settlement_id = kito_sql_u64(row, 13);
    copy_col(row, 14, f->winner_role, sizeof(f->winner_role));
    f->rate_id = kito_sql_u64(row, 15);
    f->rate_bps = (int32_t)kito_sql_i64(row, 16);
    return KITO_OK;
}

/* The royalty rate in force now for the stone: its exact species before the country's '*', the
 * latest effective_from <= now; stones are sold rough unless said otherwise (DEMO-DATA.md). */
#define RATE_PICK                                                                                  \
    " FROM royalty_rates r WHERE r.country = st.origin_country AND r.form = 'rough'"               \
    " AND r.species IN (st.species, '*') AND r.effective_from <= UTC_TIMESTAMP(3)"                 \
    " ORDER BY r.species = '*', r.effective_from DESC, r.id DESC LIMIT 1"

/* Dumps doc (taking its reference) into *text (free with free()). */
static kito_err dump(json_t *doc, char **text)
{
    *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return *text != NULL ? KITO_OK : KITO_E_NOMEM;
}

/* One query for the whole batch: the entries' lots joined through JSON_TABLE (i = the entry's
 * index; STRAIGHT_JOIN makes the JSON rows drive the joins by primary key -- left to itself the
 * optimizer scanned lots once per batch, 650 ms a batch at 10,000 lots). No row locks:
 * settlements.lot_id UNIQUE is what makes a concurrent settle fail. */
static kito_err load_facts(kito_db_conn *db, const struct kito_outbox_entry *e, size_t n,
                           struct lot_facts *facts)
{
    memset(facts, 0, n * sizeof(*facts));
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++)
        json_array_append_new(arr,
                              json_pack("{s:I,s:I,s:I}", "i", (json_int_t)i, "l",
                                        (json_int_t)e[i].lot_id, "w", (json_int_t)e[i].winner));
    char *text;
    kito_err err = dump(arr, &text);
    if (err != KITO_OK)
        return err;
    struct facts_ctx c = {e, n, facts};
    kito_sql_param p[] = {KITO_SQL_TEXT(text)};
    err = kito_sql_query(
        db,
        "SELECT STRAIGHT_JOIN j.i, l.id, l.sale_id, l.state, st.id, st.seller_id, "
        "st.origin_country, st.species,"
        " s.currency, s.buyer_premium_bps, s.commission_bps, mp.association_id,"
        " COALESCE(a.levy_bps, 0), (SELECT se.id FROM settlements se WHERE se.lot_id = l.id),"
        " w.role, (SELECT r.id" RATE_PICK "), (SELECT r.rate_bps" RATE_PICK ")"
        " FROM JSON_TABLE(?, '$[*]' COLUMNS (i INT PATH '$.i', lot_id BIGINT UNSIGNED PATH '$.l',"
        " winner BIGINT UNSIGNED PATH '$.w')) j"
        " JOIN lots l ON l.id = j.lot_id JOIN sales s ON s.id = l.sale_id"
        " JOIN stones st ON st.id = l.stone_id"
        " LEFT JOIN miner_profiles mp ON mp.account_id = st.seller_id"
        " LEFT JOIN associations a ON a.id = mp.association_id"
        " LEFT JOIN accounts w ON w.id = j.winner",
        p, 1, read_facts, &c, NULL);
    free(text);
    return err;
}

static void reject(struct kito_settle_report *out, const char *fmt, const char *a, const char *b)
{
    out->outcome = KITO_SETTLE_REJECT;
    snprintf(out->reason, sizeof(out->reason), fmt, a, b);
}

/* Decides one entry from its facts; for a sold lot that can settle, computes *amounts and
 * *levy_bps. Writes nothing. */
static void decide(const struct kito_outbox_entry *e, const struct lot_facts *f,
                   struct kito_settle_report *out, struct kito_settlement_amounts *amounts,
                   int32_t *levy_bps)
{
    memset(out, 0, sizeof(*out));
    char a[48], b[48];
    if (!f->found) {
        snprintf(a, sizeof(a), "%" PRIu64, e->lot_id);
        reject(out, "MySQL has no lot %s%s", a, "");
        return;
    }
    if (f->settlement_id != 0) {
        out->outcome = KITO_SETTLE_REPLAY;
        out->settlement_id = f->settlement_id;
        return;
    }
    if (f->sale_id != e->sale_id || f->seller_id != e->seller_id) {
        snprintf(a, sizeof(a), "%" PRIu64 "/%" PRIu64, f->sale_id, f->seller_id);
        snprintf(b, sizeof(b), "%" PRIu64 "/%" PRIu64, e->sale_id, e->seller_id);
        reject(out, "MySQL's sale/seller %s differ from the outbox's %s", a, b);
        return;
    }
    if (strcmp(f->currency, e->currency) != 0) {
        reject(out, "the sale's currency %s differs from the outbox's %s", f->currency,
               e->currency);
        return;
    }
    if (e->result != KITO_OUTBOX_SOLD) {
        /* a replayed unsold entry rewrites the same state: harmless */
        if (strcmp(f->state, "sold") == 0)
            reject(out, "the lot is sold in MySQL but the outbox says %s%s",
                   e->result == KITO_OUTBOX_UNSOLD ? "unsold" : "withdrawn", "");
        else
            out->outcome = KITO_SETTLE_FINAL;
        return;
    }
    if (strcmp(f->winner_role, "buyer") != 0) {
        snprintf(a, sizeof(a), "%" PRIu64, e->winner);
        reject(out, "the winner %s is not a buyer account%s", a, "");
        return;
    }
    if (f->rate_id == 0) {
        out->outcome = KITO_SETTLE_WAIT;
        snprintf(out->reason, sizeof(out->reason),
                 "no royalty rate for %s %s rough; set one with kitoctl royalty set", f->country,
                 f->species);
        return;
    }
    const struct kito_fee_rates rates = {
        .buyer_premium_bps = f->premium_bps,
        .commission_bps = f->commission_bps,
        .royalty_bps = f->rate_bps,
        .levy_bps = f->association_id != 0 ? f->levy_bps : 0,
        .shipping_minor = 0,
    };
    kito_err err = kito_fees_compute(e->hammer_minor, &rates, amounts);
    if (err != KITO_OK) {
        reject(out, "the fees cannot be computed: %s%s", kito_err_message(err), "");
        return;
    }
    *levy_bps = rates.levy_bps;
    out->outcome = KITO_SETTLE_SETTLED;
}

kito_err kito_ledger_post(kito_db_conn *db, const char *kind, const char *reference,
                          const char *currency, const char *memo, const kito_ledger_line *lines,
                          size_t n, uint64_t *tx_id)
{
    if (n > KITO_LEDGER_LINES_MAX)
        return KITO_E_INTERNAL;
    /* every currency sums to zero: each line's currency is checked against the sum of all lines
     * in it (n is small) */
    size_t written = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t sum = 0;
        if (lines[i].currency == NULL)
            return KITO_E_INTERNAL;
        for (size_t k = 0; k < n; k++) {
            if (strcmp(lines[k].currency, lines[i].currency) != 0)
                continue;
            if (__builtin_add_overflow(sum, lines[k].amount_minor, &sum))
                return KITO_E_INTERNAL;
        }
        if (sum != 0)
            return KITO_E_INTERNAL;
        written += lines[i].amount_minor != 0;
    }
    if (written == 0)
        return KITO_E_INTERNAL;
    kito_sql_param p[] = {KITO_SQL_TEXT(kind), KITO_SQL_TEXT(reference), KITO_SQL_TEXT(currency),
                          KITO_SQL_TEXT_OR_NULL(memo)};
    kito_sql_result res;
    kito_err e = kito_sql_exec(db,
                               "INSERT INTO ledger_transactions (kind, reference, currency, memo)"
                               " VALUES (?, ?, ?, ?)",
                               p, N(p), &res);
    if (e != KITO_OK)
        return e;
    *tx_id = res.insert_id;
    char sql[128 + KITO_LEDGER_LINES_MAX * 18] =
        "INSERT INTO ledger_entries (transaction_id, account_code, party_id, amount_minor,"
        " currency) VALUES ";
    kito_sql_param q[KITO_LEDGER_LINES_MAX * 5];
    size_t nq = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].amount_minor == 0)
            continue;
        strcat(sql, nq == 0 ? "(?, ?, ?, ?, ?)" : ", (?, ?, ?, ?, ?)");
        q[nq++] = KITO_SQL_U64(*tx_id);
        q[nq++] = KITO_SQL_I64(lines[i].account);
        q[nq++] = lines[i].party != 0 ? KITO_SQL_U64(lines[i].party) : KITO_SQL_NULL;
        q[nq++] = KITO_SQL_I64(lines[i].amount_minor);
        q[nq++] = KITO_SQL_TEXT(lines[i].currency);
    }
    return kito_sql_exec(db, sql, q, nq, NULL);
}

/* The JSON documents one batch writes from (JSON_TABLE sources). */
struct batch_docs {
    json_t *lots;        /* every SETTLED or FINAL lot: l, s(tate), h, w, c(losed ms) */
    json_t *settlements; /* every SETTLED lot: the settlement's columns */
    json_t *entries;     /* every posting of those: l, a(ccount), p(arty), m(inor), cur */
    size_t n_settled;
};

static kito_err add_settled(struct batch_docs *d, const struct kito_outbox_entry *e,
                            const struct lot_facts *f, const struct kito_settlement_amounts *a,
                            int32_t levy_bps)
{
    struct kito_posting postings[KITO_SETTLEMENT_POSTINGS_MAX];
    int n = kito_fees_postings(a, postings);
    /* pair assertion: what is written must balance (fees.h asserts it too) */
    if (n <= 0 || !kito_settlement_postings_balanced(postings, (size_t)n))
        return KITO_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        uint64_t party =
            kito_settlement_posting_party(postings[i].account, e->winner, f->seller_id);
        json_t *p = json_pack("{s:I,s:i,s:I,s:s}", "l", (json_int_t)e->lot_id, "a",
                              (int)postings[i].account, "m", (json_int_t)postings[i].amount_minor,
                              "cur", f->currency);
        if (p == NULL ||
            json_object_set_new(p, "p",
                                party != 0 ? json_integer((json_int_t)party) : json_null()) != 0 ||
            json_array_append_new(d->entries, p) != 0)
            return KITO_E_NOMEM;
    }
    json_t *s = json_pack(
        "{s:I,s:I,s:I,s:I,s:I,s:s,s:I,s:i,s:I,s:I,s:I,s:i,s:I,s:I,s:s,s:i,s:I,s:i,s:I,s:I,s:s,s:I"
        ",s:I}",
        "l", (json_int_t)e->lot_id, "sale", (json_int_t)f->sale_id, "stone",
        (json_int_t)f->stone_id, "buyer", (json_int_t)e->winner, "miner", (json_int_t)f->seller_id,
        "cur", f->currency, "h", (json_int_t)a->hammer_minor, "pbps", (int)f->premium_bps, "p",
        (json_int_t)a->buyer_premium_minor, "ship", (json_int_t)a->shipping_minor, "tot",
        (json_int_t)a->buyer_total_minor, "cbps", (int)f->commission_bps, "com",
        (json_int_t)a->commission_minor, "rid", (json_int_t)f->rate_id, "rc", f->country, "rbps",
        (int)f->rate_bps, "roy", (json_int_t)a->royalty_minor, "lbps", (int)levy_bps, "levy",
        (json_int_t)a->levy_minor, "net", (json_int_t)a->miner_net_minor, "oid", e->id, "c",
        (json_int_t)e->closed_at_ms, "asn", (json_int_t)f->association_id);
    if (s == NULL || json_array_append_new(d->settlements, s) != 0)
        return KITO_E_NOMEM;
    d->n_settled++;
    return KITO_OK;
}

static kito_err add_lot(struct batch_docs *d, const struct kito_outbox_entry *e)
{
    const bool sold = e->result == KITO_OUTBOX_SOLD;
    json_t *l = json_pack("{s:I,s:s,s:I}", "l", (json_int_t)e->lot_id, "s",
                          sold                              ? "sold"
                          : e->result == KITO_OUTBOX_UNSOLD ? "unsold"
                                                            : "withdrawn",
                          "c", (json_int_t)e->closed_at_ms);
    if (l == NULL ||
        json_object_set_new(l, "h", sold ? json_integer(e->hammer_minor) : json_null()) != 0 ||
        json_object_set_new(l, "w", sold ? json_integer((json_int_t)e->winner) : json_null()) !=
            0 ||
        json_array_append_new(d->lots, l) != 0)
        return KITO_E_NOMEM;
    return KITO_OK;
}

/* The settlement's ledger reference of JSON_TABLE row j, in the column's own character set and
 * collation so the join uses the (kind, reference) key instead of scanning the ledger. */
#define LOT_REF "CONVERT(CONCAT('lot:', j.l) USING ascii) COLLATE ascii_bin"

#define LOTS_TABLE                                                                                 \
    "JSON_TABLE(?, '$[*]' COLUMNS (l BIGINT UNSIGNED PATH '$.l', s VARCHAR(16) PATH '$.s',"        \
    " h BIGINT PATH '$.h', w BIGINT UNSIGNED PATH '$.w', c BIGINT PATH '$.c')) j"

/* The set-based writes of a batch: a fixed number of statements whatever its size. */
static kito_err write_batch(kito_db_conn *db, const char *lots, const char *settlements,
                            const char *entries, size_t n_settled)
{
    kito_sql_param pl[] = {KITO_SQL_TEXT(lots)};
    kito_err e = kito_sql_exec(db,
                               "UPDATE lots x JOIN " LOTS_TABLE " ON j.l = x.id SET x.state = j.s,"
                               " x.hammer_minor = j.h, x.winner_id = j.w, x.closed_at = " MS_TO_DT(
                                   "j.c") ", x.updated_at = UTC_TIMESTAMP(3)",
                               pl, 1, NULL);
    if (e != KITO_OK || n_settled == 0)
        return e;
    kito_sql_param ps[] = {KITO_SQL_TEXT(settlements)};
    e = kito_sql_exec(db,
                      "UPDATE stones st JOIN lots x ON x.stone_id = st.id JOIN JSON_TABLE(?,"
                      " '$[*]' COLUMNS (l BIGINT UNSIGNED PATH '$.l')) j ON j.l = x.id"
                      " SET st.status = 'sold', st.updated_at = UTC_TIMESTAMP(3)",
                      ps, 1, NULL);
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO ledger_transactions (kind, reference, currency)"
                          " SELECT 'settlement', CONCAT('lot:', j.l), j.cur FROM JSON_TABLE(?,"
                          " '$[*]' COLUMNS (n FOR ORDINALITY, l BIGINT UNSIGNED PATH '$.l',"
                          " cur CHAR(3) PATH '$.cur')) j ORDER BY j.n",
                          ps, 1, NULL);
    kito_sql_param pe[] = {KITO_SQL_TEXT(entries)};
    if (e == KITO_OK)
        e = kito_sql_exec(
            db,
            "INSERT INTO ledger_entries (transaction_id, account_code, party_id,"
            " amount_minor, currency) SELECT STRAIGHT_JOIN t.id, j.a, j.p, j.m, j.cur FROM"
            " JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY, l BIGINT UNSIGNED PATH"
            " '$.l', a INT PATH '$.a', p BIGINT UNSIGNED PATH '$.p', m BIGINT PATH"
            " '$.m', cur CHAR(3) PATH '$.cur')) j JOIN ledger_transactions t ON"
            " t.kind = 'settlement' AND t.reference = " LOT_REF ""
            " ORDER BY j.n",
            pe, 1, NULL);
    if (e == KITO_OK)
        e = kito_sql_exec(
            db,
            "INSERT INTO settlements (lot_id, sale_id, stone_id, buyer_id, miner_id,"
            " association_id, currency, hammer_minor, buyer_premium_bps, buyer_premium_minor,"
            " shipping_minor, buyer_total_minor, commission_bps, commission_minor,"
            " royalty_rate_id, royalty_country, royalty_rate_bps, royalty_minor, levy_rate_bps,"
            " levy_minor, miner_net_minor, ledger_transaction_id, outbox_entry_id, closed_at)"
            " SELECT STRAIGHT_JOIN j.l, j.sale, j.stone, j.buyer, j.miner, NULLIF(j.asn, 0), "
            "j.cur, j.h, j.pbps,"
            " j.p, j.ship, j.tot, j.cbps, j.com, j.rid, j.rc, j.rbps, j.roy, j.lbps, j.levy, j.net,"
            " t.id, j.oid, " MS_TO_DT(
                "j.c") " FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                       " n FOR ORDINALITY, l BIGINT UNSIGNED PATH '$.l', sale BIGINT UNSIGNED PATH "
                       "'$.sale',"
                       " stone BIGINT UNSIGNED PATH '$.stone', buyer BIGINT UNSIGNED PATH "
                       "'$.buyer',"
                       " miner BIGINT UNSIGNED PATH '$.miner', asn BIGINT UNSIGNED PATH '$.asn',"
                       " cur CHAR(3) PATH '$.cur', h BIGINT PATH '$.h', pbps INT PATH '$.pbps',"
                       " p BIGINT PATH '$.p', ship BIGINT PATH '$.ship', tot BIGINT PATH '$.tot',"
                       " cbps INT PATH '$.cbps', com BIGINT PATH '$.com', rid BIGINT UNSIGNED PATH "
                       "'$.rid',"
                       " rc CHAR(2) PATH '$.rc', rbps INT PATH '$.rbps', roy BIGINT PATH '$.roy',"
                       " lbps INT PATH '$.lbps', levy BIGINT PATH '$.levy', net BIGINT PATH "
                       "'$.net',"
                       " oid VARCHAR(41) PATH '$.oid', c BIGINT PATH '$.c')) j"
                       " JOIN ledger_transactions t ON t.kind = 'settlement'"
                       " AND t.reference = " LOT_REF " ORDER BY j.n",
            ps, 1, NULL);
    kito_sql_result res;
    if (e == KITO_OK)
        e = kito_sql_exec(
            db,
            "INSERT INTO invoices (settlement_id, buyer_id, sale_id, number,"
            " amount_minor, currency, issued_at, due_at) SELECT STRAIGHT_JOIN s.id, s.buyer_id,"
            " s.sale_id, CONCAT('INV-', LPAD(s.id, 10, '0')), s.buyer_total_minor,"
            " s.currency, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3) + INTERVAL " DUE_DAYS
            " DAY FROM JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY,"
            " l BIGINT UNSIGNED PATH '$.l')) j JOIN settlements s ON s.lot_id = j.l"
            " ORDER BY j.n",
            ps, 1, &res);
    if (e == KITO_OK && res.affected_rows != n_settled)
        return KITO_E_INTERNAL; /* a settlement without its invoice: never commit that */
    if (e == KITO_OK)
        e = kito_sql_exec(
            db,
            "INSERT INTO audit_log (actor_id, action, entity, entity_id, detail_json)"
            " SELECT STRAIGHT_JOIN NULL, 'settlement.create', 'settlement', s.id, "
            "JSON_OBJECT('outbox_entry',"
            " s.outbox_entry_id, 'lot', s.lot_id, 'buyer', s.buyer_id, 'invoice', i.id,"
            " 'currency', s.currency, 'hammer_minor', s.hammer_minor, 'buyer_premium_minor',"
            " s.buyer_premium_minor, 'buyer_total_minor', s.buyer_total_minor,"
            " 'commission_minor', s.commission_minor, 'royalty_minor', s.royalty_minor,"
            " 'levy_minor', s.levy_minor, 'miner_net_minor', s.miner_net_minor,"
            " 'buyer_premium_bps', s.buyer_premium_bps, 'commission_bps', s.commission_bps,"
            " 'royalty_bps', s.royalty_rate_bps, 'levy_bps', s.levy_rate_bps)"
            " FROM JSON_TABLE(?, '$[*]' COLUMNS (n FOR ORDINALITY, l BIGINT UNSIGNED PATH '$.l')) j"
            " JOIN settlements s ON s.lot_id = j.l JOIN invoices i ON i.settlement_id = s.id"
            " ORDER BY j.n",
            ps, 1, &res);
    if (e == KITO_OK && res.affected_rows != n_settled)
        return KITO_E_INTERNAL;
    /* pair assertion: read back what was written and refuse to commit a ledger transaction of
     * this batch that does not sum to zero */
    size_t rows = 0;
    if (e == KITO_OK)
        e = kito_sql_query(
            db,
            "SELECT STRAIGHT_JOIN t.id FROM JSON_TABLE(?, '$[*]' COLUMNS (l BIGINT UNSIGNED PATH"
            " '$.l')) j JOIN ledger_transactions t ON t.kind = 'settlement' AND"
            " t.reference = " LOT_REF " JOIN ledger_entries le ON"
            " le.transaction_id = t.id GROUP BY t.id, le.currency"
            " HAVING SUM(le.amount_minor) <> 0",
            ps, 1, NULL, NULL, &rows);
    if (e == KITO_OK && rows != 0)
        return KITO_E_INTERNAL;
    return e;
}

kito_err kito_repo_settlement_apply_batch(kito_db_conn *db, const struct kito_outbox_entry *e,
                                          size_t n, struct kito_settle_report *out)
{
    if (n == 0)
        return KITO_OK;
    struct lot_facts *facts = calloc(n, sizeof(*facts));
    struct batch_docs d = {json_array(), json_array(), json_array(), 0};
    char *lots = NULL, *settlements = NULL, *entries = NULL;
    kito_err err = facts == NULL || d.lots == NULL || d.settlements == NULL || d.entries == NULL
                       ? KITO_E_NOMEM
                       : load_facts(db, e, n, facts);
    size_t n_lots = 0;
    for (size_t i = 0; err == KITO_OK && i < n; i++) {
        struct kito_settlement_amounts amounts;
        int32_t levy_bps = 0;
        decide(&e[i], &facts[i], &out[i], &amounts, &levy_bps);
        /* the same lot twice in one batch (a retried close): settle it once */
        for (size_t k = 0; k < i; k++) {
            if (e[k].lot_id != e[i].lot_id ||
                (out[k].outcome != KITO_SETTLE_SETTLED && out[k].outcome != KITO_SETTLE_FINAL))
                continue;
            if (out[i].outcome != out[k].outcome || e[i].result != e[k].result) {
                err = KITO_E_CONFLICT; /* two different results: let the caller go one by one */
                goto next;
            }
            out[i].outcome =
                out[i].outcome == KITO_SETTLE_SETTLED ? KITO_SETTLE_REPLAY : KITO_SETTLE_FINAL;
            goto next;
        }
        if (out[i].outcome == KITO_SETTLE_SETTLED)
            err = add_settled(&d, &e[i], &facts[i], &amounts, levy_bps);
        if (err == KITO_OK &&
            (out[i].outcome == KITO_SETTLE_SETTLED || out[i].outcome == KITO_SETTLE_FINAL)) {
            err = add_lot(&d, &e[i]);
            n_lots++;
        }
    next:;
    }
    size_t n_settled = d.n_settled;
    if (err == KITO_OK && (err = dump(json_incref(d.lots), &lots)) == KITO_OK &&
        (err = dump(json_incref(d.settlements), &settlements)) == KITO_OK &&
        (err = dump(json_incref(d.entries), &entries)) == KITO_OK && n_lots > 0)
        err = write_batch(db, lots, settlements, entries, n_settled);
    json_decref(d.lots);
    json_decref(d.settlements);
    json_decref(d.entries);
    free(lots);
    free(settlements);
    free(entries);
    free(facts);
    return err;
}

kito_err kito_repo_settlement_apply(kito_db_conn *db, const struct kito_outbox_entry *e,
                                    struct kito_settle_report *out)
{
    return kito_repo_settlement_apply_batch(db, e, 1, out);
}

kito_err kito_repo_settlement_reject(kito_db_conn *db, const struct kito_outbox_entry *e,
                                     const char *reason)
{
    char fields[800];
    kito_outbox_entry_json(e, fields, sizeof(fields));
    kito_sql_param p[] = {
        KITO_SQL_TEXT(e->id[0] != '\0' ? e->id : "0-0"),
        e->lot_id != 0 ? KITO_SQL_U64(e->lot_id) : KITO_SQL_NULL,
        KITO_SQL_TEXT(fields),
        KITO_SQL_TEXTN(reason, strnlen(reason, 200)),
    };
    return kito_sql_exec(db,
                         "INSERT IGNORE INTO settlement_rejects (outbox_entry_id, lot_id,"
                         " fields_json, reason) VALUES (?, ?, ?, ?)",
                         p, N(p), NULL);
}

kito_err kito_repo_settlement_sale_close(kito_db_conn *db, uint64_t sale_id)
{
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(sale_id)};
    return kito_sql_exec(db,
                         "UPDATE sales SET status = 'closed', updated_at = UTC_TIMESTAMP(3)"
                         " WHERE id = ? AND status IN ('published', 'open') AND NOT EXISTS"
                         " (SELECT 1 FROM lots l WHERE l.sale_id = ?"
                         " AND l.state IN ('scheduled', 'open', 'closing'))",
                         p, N(p), NULL);
}

/* ---- royalty rates ----------------------------------------------------------------------------
 */

kito_err kito_repo_royalty_set(kito_db_conn *db, const char *country, const char *species,
                               const char *form, int32_t rate_bps, int64_t effective_from_ms,
                               const char *source, uint64_t actor_id, uint64_t *id_out)
{
    kito_sql_param p[] = {
        KITO_SQL_TEXT(country),
        KITO_SQL_TEXT(species),
        KITO_SQL_TEXT(form),
        KITO_SQL_I64(rate_bps),
        KITO_SQL_I64(effective_from_ms),
        KITO_SQL_I64(effective_from_ms),
        actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL,
        KITO_SQL_TEXT_OR_NULL(source),
    };
    kito_sql_result res;
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = kito_sql_exec(db,
                          "INSERT INTO royalty_rates (country, species, form, rate_bps,"
                          " effective_from, set_by, source) VALUES (?, ?, ?, ?,"
                          " IF(? = 0, UTC_TIMESTAMP(3), " MS_TO_DT("?") "), ?, ?)",
                          p, N(p), &res);
    if (e == KITO_OK) {
        json_t *d = json_pack("{s:s,s:s,s:s,s:i}", "country", country, "species", species, "form",
                              form, "rate_bps", (int)rate_bps);
        e = d != NULL
                ? kito_audit(db, actor_id, "royalty.set", "royalty_rate", res.insert_id, d, NULL)
                : KITO_E_NOMEM;
        json_decref(d);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK)
        return e;
    if (id_out != NULL)
        *id_out = res.insert_id;
    return KITO_OK;
}

struct royalty_list_ctx {
    kito_royalty_fn fn;
    void *ud;
};

static kito_err royalty_row(void *ud, const kito_sql_row *row)
{
    struct royalty_list_ctx *c = ud;
    kito_royalty_rate r;
    memset(&r, 0, sizeof(r));
    r.id = kito_sql_u64(row, 0);
    copy_col(row, 1, r.country, sizeof(r.country));
    copy_col(row, 2, r.species, sizeof(r.species));
    copy_col(row, 3, r.form, sizeof(r.form));
    r.rate_bps = (int32_t)kito_sql_i64(row, 4);
    r.effective_from_ms = kito_sql_i64(row, 5);
    r.set_by = kito_sql_u64(row, 6);
    copy_col(row, 7, r.source, sizeof(r.source));
    r.current = kito_sql_i64(row, 8) != 0;
    return c->fn(c->ud, &r);
}

kito_err kito_repo_royalty_list(kito_db_conn *db, kito_royalty_fn fn, void *ud)
{
    struct royalty_list_ctx c = {fn, ud};
    return kito_sql_query(
        db,
        "SELECT r.id, r.country, r.species, r.form, r.rate_bps, " DT_TO_MS(
            "r.effective_from") ", r.set_by, r.source, r.effective_from <= UTC_TIMESTAMP(3) AND "
                                "NOT EXISTS (SELECT 1 FROM"
                                " royalty_rates n WHERE n.country = r.country AND n.species = "
                                "r.species AND n.form = r.form"
                                " AND n.effective_from <= UTC_TIMESTAMP(3) AND (n.effective_from > "
                                "r.effective_from OR"
                                " (n.effective_from = r.effective_from AND n.id > r.id)))"
                                " FROM royalty_rates r ORDER BY r.country, r.species, r.form, "
                                "r.effective_from DESC, r.id",
        NULL, 0, royalty_row, &c, NULL);
}

/* ---- invoices and payments --------------------------------------------------------------------
 */

struct invoice_facts {
    bool found;
    uint64_t id, buyer_id, organizer_id;
    char status[8], currency[4];
    int64_t amount_minor, paid_minor;
};

static kito_err read_invoice(void *ud, const kito_sql_row *row)
{
    struct invoice_facts *f = ud;
    f->found = true;
    f->id = kito_sql_u64(row, 0);
    f->buyer_id = kito_sql_u64(row, 1);
    f->organizer_id = kito_sql_u64(row, 2);
    copy_col(row, 3, f->status, sizeof(f->status));
    copy_col(row, 4, f->currency, sizeof(f->currency));
    f->amount_minor = kito_sql_i64(row, 5);
    f->paid_minor = kito_sql_i64(row, 6);
    return KITO_OK;
}

struct payment_facts {
    bool found;
    uint64_t id, invoice_id;
    int64_t amount_minor;
};

static kito_err read_payment(void *ud, const kito_sql_row *row)
{
    struct payment_facts *f = ud;
    f->found = true;
    f->id = kito_sql_u64(row, 0);
    f->invoice_id = kito_sql_u64(row, 1);
    f->amount_minor = kito_sql_i64(row, 2);
    return KITO_OK;
}

static kito_err load_invoice(kito_db_conn *db, uint64_t id, struct invoice_facts *f)
{
    memset(f, 0, sizeof(*f));
    kito_sql_param p[] = {KITO_SQL_U64(id)};
    return kito_sql_query(db,
                          "SELECT i.id, i.buyer_id, s.organizer_id, i.status, i.currency,"
                          " i.amount_minor, i.paid_minor FROM invoices i JOIN sales s ON"
                          " s.id = i.sale_id WHERE i.id = ? FOR UPDATE",
                          p, 1, read_invoice, f, NULL);
}

static void payment_out(kito_payment_result *out, uint64_t payment_id,
                        const struct invoice_facts *f, int64_t amount, int64_t paid,
                        const char *status, bool replay)
{
    out->payment_id = payment_id;
    out->invoice_id = f->id;
    snprintf(out->invoice_status, sizeof(out->invoice_status), "%s", status);
    out->amount_minor = amount;
    out->invoice_amount_minor = f->amount_minor;
    out->paid_minor = paid;
    snprintf(out->currency, sizeof(out->currency), "%s", f->currency);
    out->replay = replay;
}

static kito_err payment_write(kito_db_conn *db, const kito_payment_new *in,
                              kito_payment_result *out, kito_verr *ve)
{
    struct invoice_facts f;
    kito_err e = load_invoice(db, in->invoice_id, &f);
    if (e != KITO_OK)
        return e;
    if (!f.found || (in->organizer_id != 0 && f.organizer_id != in->organizer_id))
        return KITO_E_NOT_FOUND;
    /* the reference is the idempotency key: the same payment again is answered, not re-posted */
    struct payment_facts pf = {0};
    kito_sql_param pr[] = {KITO_SQL_TEXT(in->reference)};
    e = kito_sql_query(db, "SELECT id, invoice_id, amount_minor FROM payments WHERE reference = ?",
                       pr, 1, read_payment, &pf, NULL);
    if (e != KITO_OK)
        return e;
    if (pf.found) {
        if (pf.invoice_id != in->invoice_id || pf.amount_minor != in->amount_minor)
            return KITO_E_CONFLICT;
        payment_out(out, pf.id, &f, pf.amount_minor, f.paid_minor, f.status, true);
        return KITO_OK;
    }
    if (strcmp(f.status, "issued") != 0)
        return KITO_E_BAD_STATE;
    if (in->currency[0] != '\0' && strcmp(in->currency, f.currency) != 0)
        return kito_verr_set(ve, "currency", "must be the invoice's currency, %s", f.currency);
    if (in->amount_minor > f.amount_minor - f.paid_minor)
        return kito_verr_set(ve, "amount", "is more than the %lld still due",
                             (long long)(f.amount_minor - f.paid_minor));
    const kito_ledger_line lines[2] = {
        {7 /* cash */, 0, in->amount_minor, f.currency},
        {KITO_LEDGER_BUYER_RECEIVABLE, f.buyer_id, -in->amount_minor, f.currency},
    };
    uint64_t tx_id;
    e = kito_ledger_post(db, "payment", in->reference, f.currency, NULL, lines, 2, &tx_id);
    if (e != KITO_OK)
        return e;
    kito_sql_param p[] = {
        KITO_SQL_U64(f.id),
        KITO_SQL_I64(in->amount_minor),
        KITO_SQL_TEXT(f.currency),
        KITO_SQL_TEXT(in->method[0] != '\0' ? in->method : "bank_transfer"),
        KITO_SQL_TEXT(in->reference),
        in->recorded_by != 0 ? KITO_SQL_U64(in->recorded_by) : KITO_SQL_NULL,
        KITO_SQL_U64(tx_id),
    };
    kito_sql_result res;
    e = kito_sql_exec(db,
                      "INSERT INTO payments (invoice_id, amount_minor, currency, method, reference,"
                      " recorded_by, ledger_transaction_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      p, N(p), &res);
    if (e != KITO_OK)
        return e;
    int64_t paid = f.paid_minor + in->amount_minor;
    const char *status = paid == f.amount_minor ? "paid" : "issued";
    kito_sql_param u[] = {KITO_SQL_I64(paid), KITO_SQL_TEXT(status), KITO_SQL_TEXT(status),
                          KITO_SQL_U64(f.id)};
    e = kito_sql_exec(db,
                      "UPDATE invoices SET paid_minor = ?, status = ?, paid_at = IF(? = 'paid',"
                      " UTC_TIMESTAMP(3), NULL), updated_at = UTC_TIMESTAMP(3) WHERE id = ?",
                      u, N(u), NULL);
    if (e != KITO_OK)
        return e;
    json_t *d = json_pack("{s:I,s:I,s:s,s:s,s:s,s:I}", "invoice", (json_int_t)f.id, "amount_minor",
                          (json_int_t)in->amount_minor, "currency", f.currency, "reference",
                          in->reference, "invoice_status", status, "paid_minor", (json_int_t)paid);
    e = d != NULL ? kito_audit(db, in->recorded_by, "payment.record", "payment", res.insert_id, d,
                               in->ip[0] != '\0' ? in->ip : NULL)
                  : KITO_E_NOMEM;
    json_decref(d);
    if (e == KITO_OK)
        payment_out(out, res.insert_id, &f, in->amount_minor, paid, status, false);
    return e;
}

kito_err kito_repo_payment_record(kito_db_conn *db, const kito_payment_new *in,
                                  kito_payment_result *out, kito_verr *ve)
{
    memset(out, 0, sizeof(*out));
    kito_err e = kito_sql_begin(db);
    if (e == KITO_OK)
        e = payment_write(db, in, out, ve);
    if (e == KITO_OK && !out->replay)
        e = kito_sql_commit(db);
    if (e != KITO_OK || out->replay)
        kito_sql_rollback(db);
    return e;
}

/* ---- reconciliation ---------------------------------------------------------------------------
 */

struct reconcile_ctx {
    kito_reconcile_fn fn;
    void *ud;
    const char *kind;
    size_t findings;
};

static kito_err reconcile_row(void *ud, const kito_sql_row *row)
{
    struct reconcile_ctx *c = ud;
    c->findings++;
    return c->fn(c->ud, c->kind, kito_sql_u64(row, 0), kito_sql_text(row, 1, NULL));
}

kito_err kito_repo_reconcile(kito_db_conn *db, kito_reconcile_fn fn, void *ud, size_t *findings)
{
    static const struct {
        const char *kind;
        const char *sql;
    } checks[] = {
        {"ledger_unbalanced",
         "SELECT t.id, CONCAT('ledger transaction ', t.id, ' (', t.kind, ' ', t.reference,"
         " ') sums to ', COALESCE(SUM(e.amount_minor), 0), ' ', COALESCE(e.currency, t.currency),"
         " IF(COUNT(e.id) = 0, ' (no entries)', ''))"
         " FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id"
         " GROUP BY t.id, e.currency HAVING COALESCE(SUM(e.amount_minor), 0) <> 0"
         " OR COUNT(e.id) = 0 ORDER BY t.id"},
        {"invoice_mismatch",
         "SELECT i.id, CONCAT('invoice ', i.number, ' is ', i.status, ' with paid_minor ',"
         " i.paid_minor, ' of ', i.amount_minor, ' but its payments sum to ',"
         " COALESCE(p.total, 0)) FROM invoices i LEFT JOIN (SELECT invoice_id,"
         " SUM(amount_minor) AS total FROM payments GROUP BY invoice_id) p ON p.invoice_id = i.id"
         " WHERE COALESCE(p.total, 0) <> i.paid_minor"
         " OR (i.status = 'paid') <> (COALESCE(p.total, 0) = i.amount_minor)"
         " OR (i.status = 'void' AND COALESCE(p.total, 0) <> 0) ORDER BY i.id"},
        {"settlement_parts",
         "SELECT s.id, CONCAT('settlement ', s.id, ' (lot ', s.lot_id, ') parts do not add up:"
         " hammer ', s.hammer_minor, ' premium ', s.buyer_premium_minor, ' total ',"
         " s.buyer_total_minor, ' commission ', s.commission_minor, ' royalty ', s.royalty_minor,"
         " ' levy ', s.levy_minor, ' net ', s.miner_net_minor, IF(i.amount_minor <>"
         " s.buyer_total_minor, CONCAT('; invoice ', i.amount_minor), ''))"
         " FROM settlements s LEFT JOIN invoices i ON i.settlement_id = s.id"
         " WHERE s.buyer_total_minor <> s.hammer_minor + s.buyer_premium_minor + s.shipping_minor"
         " OR s.miner_net_minor <> s.hammer_minor - s.commission_minor - s.royalty_minor"
         " - s.levy_minor OR i.id IS NULL OR i.amount_minor <> s.buyer_total_minor ORDER BY s.id"},
        {"settlement_ledger",
         "SELECT s.id, CONCAT('settlement ', s.id, ' (lot ', s.lot_id, ') and its ledger"
         " transaction ', s.ledger_transaction_id, ' disagree') FROM settlements s JOIN"
         " (SELECT transaction_id,"
         " SUM(IF(account_code = 1, amount_minor, 0)) AS receivable,"
         " SUM(IF(account_code = 2, -amount_minor, 0)) AS payable,"
         " SUM(IF(account_code = 3, -amount_minor, 0)) AS revenue,"
         " SUM(IF(account_code = 4, -amount_minor, 0)) AS royalty,"
         " SUM(IF(account_code = 5, -amount_minor, 0)) AS levy"
         " FROM ledger_entries GROUP BY transaction_id) l"
         " ON l.transaction_id = s.ledger_transaction_id"
         " WHERE l.receivable <> s.buyer_total_minor OR l.payable <> s.miner_net_minor"
         " OR l.revenue <> s.buyer_premium_minor + s.commission_minor"
         " OR l.royalty <> s.royalty_minor OR l.levy <> s.levy_minor ORDER BY s.id"},
    };
    struct reconcile_ctx c = {fn, ud, NULL, 0};
    for (size_t i = 0; i < N(checks); i++) {
        c.kind = checks[i].kind;
        kito_err e = kito_sql_query(db, checks[i].sql, NULL, 0, reconcile_row, &c, NULL);
        if (e != KITO_OK)
            return e;
    }
    *findings = c.findings;
    return KITO_OK;
}

/* ---- reads for the API ------------------------------------------------------------------------
 */

static kito_err found_row(void *ud, const kito_sql_row *row)
{
    uint64_t *organizer = ud;
    *organizer = kito_sql_u64(row, 0);
    return KITO_OK;
}

kito_err kito_repo_settlement_sale_access(kito_db_conn *db, uint64_t sale_id, uint64_t viewer,
                                          bool is_operator)
{
    uint64_t organizer = 0;
    size_t rows = 0;
    kito_sql_param p[] = {KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(db, "SELECT organizer_id FROM sales WHERE id = ?", p, 1, found_row,
                                &organizer, &rows);
    if (e != KITO_OK)
        return e;
    if (rows == 0 || (!is_operator && organizer != viewer))
        return KITO_E_NOT_FOUND; /* another organizer's sale is not hers to know about */
    return KITO_OK;
}

struct list_ctx {
    json_t *items;
    uint32_t limit;
    size_t n;
    bool more;
    kito_err (*render)(const kito_sql_row *row, json_t **out);
};

static kito_err list_row(void *ud, const kito_sql_row *row)
{
    struct list_ctx *c = ud;
    if (c->n == c->limit) {
        c->more = true;
        return KITO_OK;
    }
    json_t *item = NULL;
    kito_err e = c->render(row, &item);
    if (e != KITO_OK)
        return e;
    if (json_array_append_new(c->items, item) != 0)
        return KITO_E_NOMEM;
    c->n++;
    return KITO_OK;
}

static kito_err run_list(kito_db_conn *db, const char *sql, uint64_t owner, uint64_t after_id,
                         uint32_t limit, kito_err (*render)(const kito_sql_row *, json_t **),
                         json_t **items, bool *more)
{
    struct list_ctx c = {json_array(), limit, 0, false, render};
    if (c.items == NULL)
        return KITO_E_NOMEM;
    kito_sql_param p[] = {KITO_SQL_U64(owner), KITO_SQL_U64(after_id), KITO_SQL_I64(limit + 1)};
    kito_err e = kito_sql_query(db, sql, p, N(p), list_row, &c, NULL);
    if (e != KITO_OK) {
        json_decref(c.items);
        return e;
    }
    *items = c.items;
    *more = c.more;
    return KITO_OK;
}

/* Columns shared by the settlement lists (0..19). */
#define SETTLEMENT_COLUMNS                                                                         \
    "s.id, s.lot_id, s.sale_id, s.stone_id, s.buyer_id, s.miner_id, s.currency, s.hammer_minor,"   \
    " s.buyer_premium_bps, s.buyer_premium_minor, s.shipping_minor, s.buyer_total_minor,"          \
    " s.commission_bps, s.commission_minor, s.royalty_country, s.royalty_rate_bps,"                \
    " s.royalty_minor, s.levy_rate_bps, s.levy_minor, s.miner_net_minor, " DT_TO_MS(               \
        "s.closed_at") ", i.id, i.number, i.status"

static json_t *money(const kito_sql_row *row, unsigned col, const char *currency)
{
    return kito_render_money(kito_sql_i64(row, col), currency);
}

static kito_err render_settlement(const kito_sql_row *row, json_t **out)
{
    char cur[4];
    copy_col(row, 6, cur, sizeof(cur));
    char country[3];
    copy_col(row, 14, country, sizeof(country));
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "id", kito_render_id("stl", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "lot_id", kito_render_id("lot", kito_sql_u64(row, 1)));
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 2)));
    bad |= json_object_set_new(o, "stone_id", kito_render_id("stn", kito_sql_u64(row, 3)));
    bad |= json_object_set_new(o, "buyer_id", kito_render_id("acc", kito_sql_u64(row, 4)));
    bad |= json_object_set_new(o, "miner_id", kito_render_id("acc", kito_sql_u64(row, 5)));
    bad |= json_object_set_new(o, "hammer", money(row, 7, cur));
    bad |= json_object_set_new(o, "buyer_premium_bps", json_integer(kito_sql_i64(row, 8)));
    bad |= json_object_set_new(o, "buyer_premium", money(row, 9, cur));
    bad |= json_object_set_new(o, "shipping", money(row, 10, cur));
    bad |= json_object_set_new(o, "buyer_total", money(row, 11, cur));
    bad |= json_object_set_new(o, "commission_bps", json_integer(kito_sql_i64(row, 12)));
    bad |= json_object_set_new(o, "commission", money(row, 13, cur));
    bad |= json_object_set_new(o, "royalty_country", json_string(country));
    bad |= json_object_set_new(o, "royalty_bps", json_integer(kito_sql_i64(row, 15)));
    bad |= json_object_set_new(o, "royalty", money(row, 16, cur));
    bad |= json_object_set_new(o, "levy_bps", json_integer(kito_sql_i64(row, 17)));
    bad |= json_object_set_new(o, "levy", money(row, 18, cur));
    bad |= json_object_set_new(o, "miner_net", money(row, 19, cur));
    bad |= json_object_set_new(o, "closed_at", kito_render_time(kito_sql_i64(row, 20)));
    bad |= json_object_set_new(o, "invoice_id", kito_render_id("inv", kito_sql_u64(row, 21)));
    bad |= json_object_set_new(o, "invoice_number", json_string(kito_sql_text(row, 22, NULL)));
    bad |= json_object_set_new(o, "invoice_status", json_string(kito_sql_text(row, 23, NULL)));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    *out = o;
    return KITO_OK;
}

kito_err kito_repo_sale_settlements(kito_db_conn *db, uint64_t sale_id, uint64_t after_id,
                                    uint32_t limit, json_t **items, bool *more)
{
    return run_list(db,
                    "SELECT " SETTLEMENT_COLUMNS " FROM settlements s JOIN invoices i ON"
                    " i.settlement_id = s.id WHERE s.sale_id = ? AND s.id > ? ORDER BY s.id"
                    " LIMIT ?",
                    sale_id, after_id, limit, render_settlement, items, more);
}

/* The miner's view: her lot and her money; the buyer stays anonymous to her. */
static kito_err render_miner_sale(const kito_sql_row *row, json_t **out)
{
    kito_err e = render_settlement(row, out);
    if (e == KITO_OK) {
        json_object_del(*out, "buyer_id");
        json_object_del(*out, "invoice_id");
        json_object_del(*out, "invoice_number");
        /* "paid" tells her the buyer has paid, so her payout is on its way */
        json_object_set_new(
            *out, "buyer_paid",
            json_boolean(
                strcmp(json_string_value(json_object_get(*out, "invoice_status")), "paid") == 0));
        json_object_del(*out, "invoice_status");
    }
    return e;
}

kito_err kito_repo_miner_sales(kito_db_conn *db, uint64_t miner_id, uint64_t after_id,
                               uint32_t limit, json_t **items, bool *more)
{
    return run_list(db,
                    "SELECT " SETTLEMENT_COLUMNS " FROM settlements s JOIN invoices i ON"
                    " i.settlement_id = s.id WHERE s.miner_id = ? AND s.id > ? ORDER BY s.id"
                    " LIMIT ?",
                    miner_id, after_id, limit, render_miner_sale, items, more);
}

static kito_err render_invoice(const kito_sql_row *row, json_t **out)
{
    char cur[4];
    copy_col(row, 6, cur, sizeof(cur));
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "id", kito_render_id("inv", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "number", json_string(kito_sql_text(row, 1, NULL)));
    bad |= json_object_set_new(o, "status", json_string(kito_sql_text(row, 2, NULL)));
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 3)));
    bad |= json_object_set_new(o, "lot_id", kito_render_id("lot", kito_sql_u64(row, 4)));
    bad |= json_object_set_new(o, "amount", money(row, 5, cur));
    bad |= json_object_set_new(o, "paid", money(row, 7, cur));
    bad |= json_object_set_new(o, "hammer", money(row, 8, cur));
    bad |= json_object_set_new(o, "buyer_premium", money(row, 9, cur));
    bad |= json_object_set_new(o, "shipping", money(row, 10, cur));
    bad |= json_object_set_new(o, "issued_at", kito_render_time(kito_sql_i64(row, 11)));
    bad |= json_object_set_new(o, "due_at", kito_render_time(kito_sql_i64(row, 12)));
    bad |= json_object_set_new(o, "paid_at",
                               kito_sql_is_null(row, 13) ? json_null()
                                                         : kito_render_time(kito_sql_i64(row, 13)));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    *out = o;
    return KITO_OK;
}

kito_err kito_repo_buyer_invoices(kito_db_conn *db, uint64_t buyer_id, uint64_t after_id,
                                  uint32_t limit, json_t **items, bool *more)
{
    return run_list(
        db,
        "SELECT i.id, i.number, i.status, i.sale_id, s.lot_id, i.amount_minor,"
        " i.currency, i.paid_minor, s.hammer_minor, s.buyer_premium_minor,"
        " s.shipping_minor, " DT_TO_MS("i.issued_at") ", " DT_TO_MS("i.due_at") ", " DT_TO_MS(
            "i.paid_at") " FROM invoices i JOIN settlements s ON"
                         " s.id = i.settlement_id WHERE i.buyer_id = ? AND i.id > ? ORDER BY i.id"
                         " LIMIT ?",
        buyer_id, after_id, limit, render_invoice, items, more);
}

struct results_ctx {
    bool found;
    json_t *o;
};

static kito_err results_row(void *ud, const kito_sql_row *row)
{
    struct results_ctx *c = ud;
    c->found = true;
    char cur[4];
    copy_col(row, 1, cur, sizeof(cur));
    int64_t offered = kito_sql_i64(row, 2), closed = kito_sql_i64(row, 3);
    int64_t sold = kito_sql_i64(row, 4), revenue = kito_sql_i64(row, 5);
    int64_t weight_offered = kito_sql_i64(row, 6), weight_sold = kito_sql_i64(row, 7);
    if (closed == 0)
        return KITO_E_NOT_FOUND;
    json_t *o = json_object();
    int bad = o == NULL;
    bad |= json_object_set_new(o, "sale_id", kito_render_id("sal", kito_sql_u64(row, 0)));
    bad |= json_object_set_new(o, "status", json_string(kito_sql_text(row, 10, NULL)));
    bad |= json_object_set_new(o, "revenue", kito_render_money(revenue, cur));
    bad |= json_object_set_new(o, "lots_offered", json_integer(offered));
    bad |= json_object_set_new(o, "lots_closed", json_integer(closed));
    bad |= json_object_set_new(o, "lots_sold", json_integer(sold));
    /* percentages in basis points of the lots offered (and of their carats), rounded down */
    bad |= json_object_set_new(o, "sold_by_count_bps",
                               json_integer(offered > 0 ? sold * 10000 / offered : 0));
    bad |= json_object_set_new(
        o, "sold_by_weight_bps",
        json_integer(weight_offered > 0 ? weight_sold * 10000 / weight_offered : 0));
    bad |= json_object_set_new(o, "carats_offered_cct", json_integer(weight_offered));
    bad |= json_object_set_new(o, "carats_sold_cct", json_integer(weight_sold));
    /* average per carat: revenue / (weight_cct / 100), half up, in minor units */
    int64_t per_carat = 0;
    if (weight_sold > 0) {
        __int128 num = (__int128)revenue * 100 * 2 + weight_sold;
        per_carat = (int64_t)(num / (2 * (__int128)weight_sold));
    }
    bad |= json_object_set_new(o, "average_per_carat", kito_render_money(per_carat, cur));
    bad |= json_object_set_new(o, "bidders", json_integer(kito_sql_i64(row, 11)));
    bad |= json_object_set_new(o, "bidders_basis", json_string("distinct_winners"));
    bad |= json_object_set_new(o, "paid_to_miners", kito_render_money(kito_sql_i64(row, 8), cur));
    bad |= json_object_set_new(o, "royalty_withheld", kito_render_money(kito_sql_i64(row, 9), cur));
    if (bad) {
        json_decref(o);
        return KITO_E_NOMEM;
    }
    c->o = o;
    return KITO_OK;
}

kito_err kito_repo_sale_results(kito_db_conn *db, uint64_t sale_id, json_t **out)
{
    struct results_ctx c = {false, NULL};
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(sale_id)};
    kito_err e = kito_sql_query(
        db,
        "SELECT s.id, s.currency, COALESCE(SUM(l.state <> 'withdrawn'), 0),"
        " COALESCE(SUM(l.state IN ('sold', 'unsold')), 0), COALESCE(SUM(l.state = 'sold'), 0),"
        " COALESCE(SUM(IF(l.state = 'sold', l.hammer_minor, 0)), 0),"
        " COALESCE(SUM(IF(l.state <> 'withdrawn', st.weight_cct, 0)), 0), COALESCE(SUM(IF(l.state "
        "= 'sold', st.weight_cct, 0)), 0),"
        " (SELECT COALESCE(SUM(x.miner_net_minor), 0) FROM settlements x WHERE x.sale_id = s.id),"
        " (SELECT COALESCE(SUM(x.royalty_minor), 0) FROM settlements x WHERE x.sale_id = s.id),"
        " s.status,"
        " (SELECT COUNT(DISTINCT y.winner_id) FROM lots y WHERE y.sale_id = ? AND y.state = 'sold')"
        " FROM sales s LEFT JOIN lots l ON l.sale_id = s.id LEFT JOIN stones st ON st.id = "
        "l.stone_id"
        " WHERE s.id = ? AND s.status NOT IN ('draft', 'cancelled') GROUP BY s.id",
        p, N(p), results_row, &c, NULL);
    if (e != KITO_OK)
        return e;
    if (!c.found || c.o == NULL)
        return KITO_E_NOT_FOUND;
    *out = c.o;
    return KITO_OK;
}
