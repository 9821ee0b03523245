#include "api/money/fx.h"

#include <string.h>

#include "api/adapters/mpesa.h"
#include "api/store/audit.h"
#include "api/store/sql.h"

kito_err kito_fx_set(kito_db_conn *db, const char *from, const char *to, int64_t rate_micros,
                     uint64_t actor_id, uint64_t *id)
{
    if (strcmp(from, to) == 0 || rate_micros <= 0)
        return KITO_E_VALIDATION;
    kito_err e = kito_sql_begin(db);
    if (e != KITO_OK)
        return e;
    uint64_t new_id = 0;
    e = kito_repo_fx_insert(db, from, to, rate_micros, actor_id, &new_id);
    if (e == KITO_OK) {
        json_t *detail = json_pack("{s:s, s:s, s:I}", "from", from, "to", to, "rate_micros",
                                   (json_int_t)rate_micros);
        e = kito_audit(db, actor_id, "fx.set", "exchange_rate", new_id, detail, NULL);
        json_decref(detail);
    }
    e = kito_sql_end(db, e);
    if (e != KITO_OK)
        return e;
    if (id != NULL)
        *id = new_id;
    return KITO_OK;
}

kito_err kito_fx_quote_for(kito_db_conn *db, const kito_payout_source *src, kito_fx_quote *out)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(src->source_currency, src->currency) == 0) {
        out->rate_micros = 1000000;
    } else {
        kito_fx_rate rate;
        kito_err e = kito_repo_fx_current(db, src->source_currency, src->currency, &rate);
        if (e != KITO_OK)
            return e;
        if (!rate.found)
            return KITO_E_NOT_FOUND;
        out->rate_id = rate.id;
        out->rate_micros = rate.micros;
        out->rate_effective_ms = rate.effective_ms;
        out->rate_age_ms = rate.age_ms;
    }
    return kito_mpesa_convert(src->miner_net, src->from_exp, src->to_exp, out->rate_micros,
                              &out->local_minor, &out->whole_units, &out->remainder_minor);
}
