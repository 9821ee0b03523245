#include "api/money/royalty.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/store/audit.h"
#include "api/store/sql.h"

kito_err kito_royalty_set(kito_db_conn *db, const char *country, const char *species,
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
                          " IF(? = 0, UTC_TIMESTAMP(3), " KITO_SQL_MS_TO_DT("?") "), ?, ?)",
                          p, KITO_N(p), &res);
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

ptrdiff_t kito_royalty_pick(const kito_royalty_rate *rates, size_t n, const char *country,
                            const char *species, const char *form, int64_t at_ms)
{
    ptrdiff_t best = -1;
    bool best_exact = false;
    for (size_t i = 0; i < n; i++) {
        const kito_royalty_rate *r = &rates[i];
        bool exact = strcmp(r->species, species) == 0;
        if (strcmp(r->country, country) != 0 || strcmp(r->form, form) != 0 ||
            r->effective_from_ms > at_ms || !(exact || strcmp(r->species, "*") == 0))
            continue;
        if (best >= 0) {
            const kito_royalty_rate *b = &rates[best];
            if (best_exact != exact) {
                if (best_exact)
                    continue; /* her species' own rate beats the country's "*" */
            } else if (r->effective_from_ms < b->effective_from_ms ||
                       (r->effective_from_ms == b->effective_from_ms && r->id < b->id)) {
                continue;
            }
        }
        best = (ptrdiff_t)i;
        best_exact = exact;
    }
    return best;
}

struct load_ctx {
    kito_royalty_rate *rates;
    size_t n, cap;
    int64_t now_ms;
};

static kito_err load_row(void *ud, const kito_sql_row *row)
{
    struct load_ctx *c = ud;
    if (c->n == c->cap) {
        size_t cap = c->cap != 0 ? c->cap * 2 : 64;
        kito_royalty_rate *grown = realloc(c->rates, cap * sizeof(*grown));
        if (grown == NULL)
            return KITO_E_NOMEM;
        c->rates = grown;
        c->cap = cap;
    }
    kito_royalty_rate *r = &c->rates[c->n++];
    memset(r, 0, sizeof(*r));
    r->id = kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, r->country, sizeof(r->country));
    kito_sql_copy(row, 2, r->species, sizeof(r->species));
    kito_sql_copy(row, 3, r->form, sizeof(r->form));
    r->rate_bps = (int32_t)kito_sql_i64(row, 4);
    r->effective_from_ms = kito_sql_i64(row, 5);
    r->set_by = kito_sql_u64(row, 6);
    kito_sql_copy(row, 7, r->source, sizeof(r->source));
    c->now_ms = kito_sql_i64(row, 8);
    return KITO_OK;
}

kito_err kito_royalty_load(kito_db_conn *db, kito_royalty_rate **rates, size_t *n, int64_t *now_ms)
{
    struct load_ctx c = {0};
    kito_err
        e =
            kito_sql_query(
                db,
                "SELECT r.id, r.country, r.species, r.form, r.rate_bps, " KITO_SQL_DT_TO_MS(
                    "r.effective_from") ", r.set_by, r.source, " KITO_SQL_DT_TO_MS("UTC_TIMESTAMP("
                                                                                   "3)") " FROM "
                                                                                         "royalty_"
                                                                                         "rates r "
                                                                                         "ORDER BY "
                                                                                         "r."
                                                                                         "country, "
                                                                                         "r."
                                                                                         "species, "
                                                                                         "r.form,"
                                                                                         " r."
                                                                                         "effective"
                                                                                         "_from "
                                                                                         "DESC, "
                                                                                         "r.id",
                NULL, 0, load_row, &c, NULL);
    if (e != KITO_OK) {
        free(c.rates);
        return e;
    }
    /* with no row there is no clock either: nothing can be picked, so none is needed */
    *rates = c.rates;
    *n = c.n;
    *now_ms = c.now_ms;
    return KITO_OK;
}

kito_err kito_royalty_list(kito_db_conn *db, kito_royalty_fn fn, void *ud)
{
    kito_royalty_rate *rates = NULL;
    size_t n = 0;
    int64_t now_ms = 0;
    kito_err e = kito_royalty_load(db, &rates, &n, &now_ms);
    for (size_t i = 0; e == KITO_OK && i < n; i++) {
        /* in force: the rule picks this row for its own key */
        rates[i].current = kito_royalty_pick(rates, n, rates[i].country, rates[i].species,
                                             rates[i].form, now_ms) == (ptrdiff_t)i;
        e = fn(ud, &rates[i]);
    }
    free(rates);
    return e;
}
