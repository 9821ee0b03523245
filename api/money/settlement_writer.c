#include "api/money/settlement_writer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/money/ledger.h"
#include "api/money/royalty.h"
#include "api/store/audit.h"
#include "api/store/sql.h"
#include "engine/command.h"
#include "engine/fees.h"

#define STR2(x) #x
#define STR(x) STR2(x)
#define DUE_DAYS STR(KITO_SETTLEMENT_INVOICE_DUE_DAYS)

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
    uint64_t buyer_id;      /* the winning account: the winner, or the buyer whose paddle won */
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
    kito_sql_copy(row, 3, f->state, sizeof(f->state));
    f->stone_id = kito_sql_u64(row, 4);
    f->seller_id = kito_sql_u64(row, 5);
    kito_sql_copy(row, 6, f->country, sizeof(f->country));
    kito_sql_copy(row, 7, f->species, sizeof(f->species));
    kito_sql_copy(row, 8, f->currency, sizeof(f->currency));
    f->premium_bps = (int32_t)kito_sql_i64(row, 9);
    f->commission_bps = (int32_t)kito_sql_i64(row, 10);
    f->association_id = kito_sql_u64(row, 11);
    f->levy_bps = (int32_t)kito_sql_i64(row, 12);
    f->settlement_id = kito_sql_u64(row, 13);
    kito_sql_copy(row, 14, f->winner_role, sizeof(f->winner_role));
    f->buyer_id = kito_sql_u64(row, 15);
    return KITO_OK;
}

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
    /* A floor paddle's win (live sales: KITO_PADDLE_BIDDER, engine/command.h) is the buyer the
     * sale's approvals give that paddle number (the bid service checked one held it when the
     * clerk entered the bid: api/live/bid_service.c): p = the paddle, w = 0. */
    for (size_t i = 0; arr != NULL && i < n; i++) {
        bool paddle = (e[i].winner & KITO_PADDLE_FLAG) != 0;
        uint64_t who = e[i].winner & ~KITO_PADDLE_FLAG;
        json_array_append_new(arr, json_pack("{s:I,s:I,s:I,s:I}", "i", (json_int_t)i, "l",
                                             (json_int_t)e[i].lot_id, "w",
                                             (json_int_t)(paddle ? 0 : who), "p",
                                             (json_int_t)(paddle ? who : 0)));
    }
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
        " w.role, w.id"
        " FROM JSON_TABLE(?, '$[*]' COLUMNS (i INT PATH '$.i', lot_id BIGINT UNSIGNED PATH '$.l',"
        " winner BIGINT UNSIGNED PATH '$.w', paddle BIGINT UNSIGNED PATH '$.p')) j"
        " JOIN lots l ON l.id = j.lot_id JOIN sales s ON s.id = l.sale_id"
        " JOIN stones st ON st.id = l.stone_id"
        " LEFT JOIN miner_profiles mp ON mp.account_id = st.seller_id"
        " LEFT JOIN associations a ON a.id = mp.association_id"
        " LEFT JOIN sale_approvals sa ON j.paddle > 0 AND sa.sale_id = l.sale_id"
        " AND sa.paddle_number = j.paddle"
        " LEFT JOIN accounts w ON w.id = IF(j.paddle > 0, sa.buyer_id, j.winner)",
        p, 1, read_facts, &c, NULL);
    free(text);
    if (err != KITO_OK)
        return err;
    /* The royalty rate of each stone, by the one rule (api/money/royalty.h), at one instant of
     * the database's clock for the whole batch. Stones are sold rough: nothing records a cut
     * stone yet (DEMO-DATA.md: cut and polished has its own, lower rate). */
    kito_royalty_rate *rates = NULL;
    size_t n_rates = 0;
    int64_t now_ms = 0;
    err = kito_royalty_load(db, &rates, &n_rates, &now_ms);
    for (size_t i = 0; err == KITO_OK && i < n; i++) {
        if (!facts[i].found)
            continue;
        ptrdiff_t k =
            kito_royalty_pick(rates, n_rates, facts[i].country, facts[i].species, "rough", now_ms);
        if (k >= 0) {
            facts[i].rate_id = rates[k].id;
            facts[i].rate_bps = rates[k].rate_bps;
        }
    }
    free(rates);
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
        if (e->winner & KITO_PADDLE_FLAG)
            snprintf(a, sizeof(a), "paddle %" PRIu64, e->winner & ~KITO_PADDLE_FLAG);
        else
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
    if (n <= 0 || !kito_ledger_postings_balanced(postings, (size_t)n))
        return KITO_E_INTERNAL;
    for (int i = 0; i < n; i++) {
        uint64_t party = kito_ledger_posting_party(postings[i].account, f->buyer_id, f->seller_id);
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
        (json_int_t)f->stone_id, "buyer", (json_int_t)f->buyer_id, "miner",
        (json_int_t)f->seller_id, "cur", f->currency, "h", (json_int_t)a->hammer_minor, "pbps",
        (int)f->premium_bps, "p", (json_int_t)a->buyer_premium_minor, "ship",
        (json_int_t)a->shipping_minor, "tot", (json_int_t)a->buyer_total_minor, "cbps",
        (int)f->commission_bps, "com", (json_int_t)a->commission_minor, "rid",
        (json_int_t)f->rate_id, "rc", f->country, "rbps", (int)f->rate_bps, "roy",
        (json_int_t)a->royalty_minor, "lbps", (int)levy_bps, "levy", (json_int_t)a->levy_minor,
        "net", (json_int_t)a->miner_net_minor, "oid", e->id, "c", (json_int_t)e->closed_at_ms,
        "asn", (json_int_t)f->association_id);
    if (s == NULL || json_array_append_new(d->settlements, s) != 0)
        return KITO_E_NOMEM;
    d->n_settled++;
    return KITO_OK;
}

static kito_err add_lot(struct batch_docs *d, const struct kito_outbox_entry *e,
                        const struct lot_facts *f)
{
    const bool sold = e->result == KITO_OUTBOX_SOLD;
    json_t *l = json_pack("{s:I,s:s,s:I}", "l", (json_int_t)e->lot_id, "s",
                          sold                              ? "sold"
                          : e->result == KITO_OUTBOX_UNSOLD ? "unsold"
                                                            : "withdrawn",
                          "c", (json_int_t)e->closed_at_ms);
    if (l == NULL ||
        json_object_set_new(l, "h", sold ? json_integer(e->hammer_minor) : json_null()) != 0 ||
        json_object_set_new(l, "w", sold ? json_integer((json_int_t)f->buyer_id) : json_null()) !=
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
    kito_err e =
        kito_sql_exec(db,
                      "UPDATE lots x JOIN " LOTS_TABLE " ON j.l = x.id SET x.state = j.s,"
                      " x.hammer_minor = j.h, x.winner_id = j.w, x.closed_at = " KITO_SQL_MS_TO_DT(
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
            " t.id, j.oid, " KITO_SQL_MS_TO_DT(
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

kito_err kito_settlement_writer_apply_batch(kito_db_conn *db, const struct kito_outbox_entry *e,
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
            err = add_lot(&d, &e[i], &facts[i]);
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

kito_err kito_settlement_writer_apply(kito_db_conn *db, const struct kito_outbox_entry *e,
                                      struct kito_settle_report *out)
{
    return kito_settlement_writer_apply_batch(db, e, 1, out);
}

kito_err kito_settlement_writer_reject(kito_db_conn *db, const struct kito_outbox_entry *e,
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
                         p, KITO_N(p), NULL);
}

kito_err kito_settlement_writer_sale_close(kito_db_conn *db, uint64_t sale_id)
{
    kito_sql_param p[] = {KITO_SQL_U64(sale_id), KITO_SQL_U64(sale_id)};
    return kito_sql_exec(db,
                         "UPDATE sales SET status = 'closed', updated_at = UTC_TIMESTAMP(3)"
                         " WHERE id = ? AND status IN ('published', 'open') AND NOT EXISTS"
                         " (SELECT 1 FROM lots l WHERE l.sale_id = ?"
                         " AND l.state IN ('scheduled', 'open', 'closing'))",
                         p, KITO_N(p), NULL);
}
