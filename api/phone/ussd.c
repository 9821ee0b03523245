/*
 * The USSD service (api/phone/ussd.h): one function per effect, each filling kito_ussd_facts.
 */
#include "api/phone/ussd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "api/common/log.h"
#include "api/common/roles.h"
#include "api/common/validate.h"
#include "api/store/repo_accounts.h"
#include "api/store/repo_offers.h"
#include "api/store/repo_phone.h"
#include "api/store/repo_sales.h"
#include "api/store/repo_stones.h"
#include "api/store/sql.h"

/* Effects one request may chain at most (an effect's answer is a screen in every case today;
 * the bound keeps a future mistake from looping). */
#define CHAIN_MAX 4

static const char *word(const kito_ussd_session *s, const char *en, const char *sw)
{
    return s->lang == KITO_USSD_SW ? sw : en;
}

/* minor units with two decimals, as "1200" or "1200.50" */
static void money(char *out, size_t cap, int64_t minor)
{
    const char *sign = minor < 0 ? "-" : "";
    uint64_t v = minor < 0 ? (uint64_t)(-(minor + 1)) + 1 : (uint64_t)minor;
    if (v % 100 == 0)
        snprintf(out, cap, "%s%" PRIu64, sign, v / 100);
    else
        snprintf(out, cap, "%s%" PRIu64 ".%02" PRIu64, sign, v / 100, v % 100);
}

/* "tanzanite" -> "Tanzanite": stones keep GIA's lower-case names */
static void capitalise(char *s)
{
    if (s[0] >= 'a' && s[0] <= 'z')
        s[0] = (char)(s[0] - 'a' + 'A');
}

static void failed(kito_ussd_facts *f, const char *what, kito_err e)
{
    kito_sql_log_failure(what, e);
    kito_log("ussd", "%s failed: %s", what, kito_err_code(e));
    f->outcome = KITO_USSD_FAILED;
}

/* A PIN check's verdict as facts; true when the PIN was right. */
static bool pin_ok(kito_db_conn *db, const kito_ussd_session *s, const char *pin,
                   kito_ussd_facts *f)
{
    uint64_t account_id = 0;
    kito_err e =
        kito_phone_pin_check(db, s->phone, pin, &account_id, &f->tries_left, &f->retry_after_s);
    if (e == KITO_OK && account_id == s->account_id)
        return true;
    if (e == KITO_OK || e == KITO_E_FORBIDDEN)
        f->outcome = KITO_USSD_PIN_WRONG;
    else if (e == KITO_E_RATE_LIMITED || e == KITO_E_LOCKED)
        f->outcome = KITO_USSD_PIN_PAUSED;
    else
        failed(f, "ussd pin check", e);
    return false;
}

static void lookup(kito_db_conn *db, kito_ussd_session *s, kito_ussd_facts *f)
{
    kito_phone_account a;
    kito_err e = kito_phone_account_get(db, s->phone, &a);
    if (e != KITO_OK)
        return failed(f, "ussd lookup", e);
    if (a.id == 0)
        return;
    if (strcmp(a.role, "miner") != 0 || strcmp(a.status, "active") != 0) {
        /* staff or a suspended miner: the menu is for active miners only */
        f->outcome = KITO_USSD_FAILED;
        kito_log("ussd", "phone of account %" PRIu64 " (%s, %s) dialled the menu: refused", a.id,
                 a.role, a.status);
        return;
    }
    f->account_id = a.id;
    f->lang_known = true;
    f->lang = strcmp(a.locale, "sw") == 0 ? KITO_USSD_SW : KITO_USSD_EN;
}

static void associations(kito_db_conn *db, kito_ussd_session *s, kito_ussd_facts *f)
{
    kito_phone_target rows[KITO_USSD_PICKS_MAX];
    size_t n = 0;
    kito_err e = kito_phone_associations(db, s->country, rows, KITO_USSD_PICKS_MAX, &n);
    if (e != KITO_OK)
        return failed(f, "ussd associations", e);
    for (size_t i = 0; i < n; i++) {
        kito_ussd_item *it = &f->items[f->item_count++];
        it->id = rows[i].id;
        snprintf(it->text, sizeof(it->text), "%.60s", rows[i].name);
    }
}

static void do_register(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                        const char *ip, kito_ussd_facts *f)
{
    kito_account_new n;
    kito_verr ve = {{0}};
    /* the shared rules (kito_validate_pin among them), as POST /v1/accounts applies them */
    kito_err e = kito_account_new_validate(&n, "miner", s->name, s->phone, NULL, NULL,
                                           s->lang == KITO_USSD_SW ? "sw" : "en", rq->pin,
                                           s->wallet[0] != 0 ? s->wallet : NULL, NULL, &ve);
    if (e == KITO_OK) {
        n.association_id = s->association_id;
        kito_account acc;
        e = kito_repo_account_create(db, &n, "account.register", 0, true, ip, &acc, &ve);
        if (e == KITO_OK)
            f->new_id = acc.id;
    }
    if (e == KITO_E_CONFLICT)
        f->outcome = KITO_USSD_TAKEN;
    else if (e == KITO_E_VALIDATION) {
        f->outcome = KITO_USSD_REFUSED;
        snprintf(f->reason, sizeof(f->reason), "%s %s", ve.field, ve.reason);
        kito_log("ussd", "registration refused: %s", f->reason);
    } else if (e != KITO_OK)
        failed(f, "ussd register", e);
}

static void list_stone(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                       const char *ip, kito_ussd_facts *f)
{
    kito_stone_input in = {
        .given = KITO_STONE_F_SPECIES | KITO_STONE_F_WEIGHT | KITO_STONE_F_PIECES |
                 KITO_STONE_F_SHAPE | KITO_STONE_F_ORIGIN,
        .species = rq->species,
        .variety = rq->variety,
        .weight_cct = s->weight_cct,
        .piece_count = s->pieces,
        .shape = rq->shape,
        .origin_country = s->country,
        .origin_site = s->site,
        .local_offer_minor = rq->local_offer_minor,
        .local_offer_currency = kito_ussd_menu_currency(s->country),
    };
    if (rq->variety != NULL)
        in.given |= KITO_STONE_F_VARIETY;
    uint64_t id = 0;
    kito_verr ve = {{0}};
    kito_err e = kito_stone_create(db, &in, s->account_id, KITO_ROLE_MINER, ip, &id, &ve);
    if (e != KITO_OK)
        return failed(f, "ussd list stone", e);
    f->new_id = id;
    kito_id_format(KITO_ID_STONE, id, f->reference, sizeof(f->reference));
}

static void stone_line(const kito_ussd_session *s, const kito_phone_stone *st, char *out,
                       size_t cap)
{
    char w[32], a[32], b[32], state[80];
    money(w, sizeof(w), st->weight_cct);
    if (st->lot_state[0] != 0 && strcmp(st->lot_state, "sold") == 0) {
        money(a, sizeof(a), st->hammer_minor);
        if (st->hammer_currency[0] != 0)
            snprintf(state, sizeof(state), "%s %s %s", word(s, "sold at", "imeuzwa"), a,
                     st->hammer_currency);
        else
            snprintf(state, sizeof(state), "%s", word(s, "sold", "imeuzwa"));
    } else if (strcmp(st->lot_state, "unsold") == 0 && !st->offered) {
        snprintf(state, sizeof(state), "%s", word(s, "not sold", "haikuuzwa"));
    } else if (st->lot_state[0] != 0 && strcmp(st->lot_state, "unsold") != 0 &&
               strcmp(st->lot_state, "withdrawn") != 0) {
        snprintf(state, sizeof(state),
                 word(s, "in sale %" PRIu64 " lot %u", "mnada %" PRIu64 " kura %u"), st->sale_id,
                 st->lot_number);
    } else if (strcmp(st->status, "withdrawn") == 0) {
        snprintf(state, sizeof(state), "%s", word(s, "withdrawn", "imeondolewa"));
    } else if (st->offered) {
        snprintf(state, sizeof(state), "%s", word(s, "offered", "imetolewa"));
    } else if (st->certified) {
        money(a, sizeof(a), st->estimate_low);
        money(b, sizeof(b), st->estimate_high);
        snprintf(state, sizeof(state), "%s %.24s-%.24s %.3s",
                 word(s, "certified, est.", "ina cheti, mak."), a, b, st->estimate_currency);
    } else {
        snprintf(state, sizeof(state), "%s", word(s, "awaiting valuation", "inasubiri uthamini"));
    }
    char line[160];
    snprintf(line, sizeof(line), "%.24s %sct: %s", st->label, w, state);
    snprintf(out, cap, "%.95s", line);
}

static void my_stones(kito_db_conn *db, kito_ussd_session *s, bool offerable,
                      const kito_ussd_request *rq, kito_ussd_facts *f)
{
    kito_phone_stone rows[KITO_USSD_ITEMS_MAX];
    size_t n = 0;
    kito_err e =
        kito_phone_stones(db, s->account_id, offerable, rq->offset, rows,
                          offerable ? KITO_USSD_PICKS_MAX : KITO_USSD_ITEMS_MAX, &n, &f->more);
    if (e != KITO_OK)
        return failed(f, "ussd stones", e);
    for (size_t i = 0; i < n; i++) {
        kito_ussd_item *it = &f->items[f->item_count++];
        it->id = rows[i].id;
        capitalise(rows[i].label);
        if (offerable) {
            char w[32];
            money(w, sizeof(w), rows[i].weight_cct);
            snprintf(it->text, sizeof(it->text), "%.24s %sct", rows[i].label, w);
        } else {
            stone_line(s, &rows[i], it->text, sizeof(it->text));
        }
    }
}

/* A sale's start as "12 Mar" (UTC: a day is what she needs). */
static void day_month(int64_t ms, char out[16])
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) {
        out[0] = 0;
        return;
    }
    snprintf(out, 16, "%d %s", tm.tm_mday, months[tm.tm_mon % 12]);
}

/* Draft sales (that sale only; of organisers she has offered to before) first, then organisers
 * (any of her sales): DESIGN.md, "Consent": "offered it to that organiser or sale". */
static void targets(kito_db_conn *db, const kito_ussd_session *s, const kito_ussd_request *rq,
                    kito_ussd_facts *f)
{
    kito_phone_target rows[KITO_USSD_PICKS_MAX];
    size_t n = 0;
    kito_err e =
        kito_phone_targets(db, s->account_id, rq->offset, rows, KITO_USSD_PICKS_MAX, &n, &f->more);
    if (e != KITO_OK)
        return failed(f, "ussd targets", e);
    for (size_t i = 0; i < n; i++) {
        kito_ussd_item *it = &f->items[f->item_count++];
        it->id = rows[i].id;
        it->kind = rows[i].kind;
        if (rows[i].kind == 2) {
            char day[16];
            day_month(rows[i].starts_at_ms, day);
            snprintf(it->text, sizeof(it->text), "%s %.32s, %s", word(s, "Sale", "Mnada"),
                     rows[i].name, day);
        } else {
            snprintf(it->text, sizeof(it->text), "%.40s", rows[i].name);
        }
    }
}

/* Consent (DESIGN.md): the same repository function as POST /v1/stones/{id}/offers, with her
 * as the actor, after her PIN. */
static void offer(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                  const char *ip, kito_ussd_facts *f)
{
    if (!pin_ok(db, s, rq->pin, f))
        return;
    kito_actor actor = {.account_id = s->account_id, .role = KITO_ROLE_MINER, .ip = ip};
    kito_offer_input in = {0};
    if (rq->target_kind == 2)
        in.sale_id = rq->target_id;
    else
        in.organizer_id = rq->target_id;
    bool created = false;
    json_t *view = NULL;
    kito_verr ve = {{0}};
    kito_err e = kito_offers_make(db, &actor, s->offer_stone_id, &in, &created, &view, &ve);
    json_decref(view);
    if (e == KITO_E_CONFLICT || e == KITO_E_VALIDATION || e == KITO_E_FORBIDDEN ||
        e == KITO_E_NOT_FOUND) {
        f->outcome = KITO_USSD_REFUSED;
        snprintf(f->reason, sizeof(f->reason), "%s", ve.reason);
        kito_log("ussd", "offer of stone %" PRIu64 " refused: %s", s->offer_stone_id, ve.reason);
    } else if (e != KITO_OK) {
        failed(f, "ussd offer", e);
    }
}

static void results(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                    kito_ussd_facts *f)
{
    /* a next page: her PIN passed on the first page of this session (the session is ours, in
     * Redis; the gateway cannot set this) */
    if (!rq->pin_checked && !pin_ok(db, s, rq->pin, f))
        return;
    kito_phone_result rows[KITO_USSD_ITEMS_MAX];
    size_t n = 0;
    kito_err e =
        kito_phone_results(db, s->account_id, rq->offset, rows, KITO_USSD_ITEMS_MAX, &n, &f->more);
    if (e != KITO_OK)
        return failed(f, "ussd results", e);
    for (size_t i = 0; i < n; i++) {
        kito_phone_result *r = &rows[i];
        capitalise(r->label);
        char h[32], c[32], ro[32], l[32], net[32];
        money(h, sizeof(h), r->hammer_minor);
        money(c, sizeof(c), r->commission_minor);
        money(ro, sizeof(ro), r->royalty_minor);
        money(l, sizeof(l), r->levy_minor);
        money(net, sizeof(net), r->net_minor);
        const char *p = word(s, "awaiting buyer", "inasubiri mnunuzi");
        if (strcmp(r->payout_state, "succeeded") == 0)
            p = word(s, "paid", "imelipwa");
        else if (strcmp(r->payout_state, "failed") == 0)
            p = word(s, "payout failed", "malipo yameshindwa");
        else if (r->payout_state[0] != 0)
            p = word(s, "payout on its way", "malipo yanakuja");
        /* her multiple: the measure of her share (DESIGN.md, "Consent") */
        char mult[32] = "";
        if (r->multiple_tenths >= 0)
            snprintf(mult, sizeof(mult), ", x%" PRId64 ".%" PRId64, r->multiple_tenths / 10,
                     r->multiple_tenths % 10);
        char line[256];
        snprintf(line, sizeof(line), "%.14s %s-%s-%s-%s=%s %s, %s%s", r->label, h, c, ro, l, net,
                 r->currency, p, mult);
        kito_ussd_item *it = &f->items[f->item_count++];
        it->id = r->stone_id;
        snprintf(it->text, sizeof(it->text), "%.95s", line);
    }
}

static void set_lang(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                     kito_ussd_facts *f)
{
    kito_err e = kito_phone_set_locale(db, s->account_id, rq->lang == KITO_USSD_SW ? "sw" : "en");
    if (e != KITO_OK)
        return failed(f, "ussd set language", e);
    f->lang = rq->lang;
}

static void pin_check(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                      kito_ussd_facts *f)
{
    (void)pin_ok(db, s, rq->pin, f);
}

static void set_pin(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                    kito_ussd_facts *f)
{
    kito_verr ve = {{0}};
    kito_err e = kito_phone_pin_set(db, s->account_id, rq->pin, &ve);
    if (e == KITO_E_VALIDATION) {
        f->outcome = KITO_USSD_REFUSED;
        snprintf(f->reason, sizeof(f->reason), "%s", ve.reason);
    } else if (e != KITO_OK) {
        failed(f, "ussd set pin", e);
    }
}

/* Change payout wallet (issue 18, menu 6; issue 15, finding 5): her PIN, then the same
 * repository change as PATCH /v1/accounts/me (the SMS to the old number, the hold, the audit). */
static void set_wallet(kito_db_conn *db, kito_ussd_session *s, const kito_ussd_request *rq,
                       const char *ip, uint32_t hold_s, kito_ussd_facts *f)
{
    if (!pin_ok(db, s, rq->pin, f))
        return;
    kito_account cur;
    kito_err e = kito_repo_account_get(db, s->account_id, &cur);
    if (e != KITO_OK)
        return failed(f, "ussd wallet", e);
    if (strcmp(cur.payout_msisdn, s->wallet) == 0) {
        f->outcome = KITO_USSD_REFUSED;
        snprintf(f->reason, sizeof(f->reason), "the wallet is hers already");
        return;
    }
    kito_account_patch p = {.has_payout_msisdn = true, .payout_hold_s = hold_s, .channel = "ussd"};
    snprintf(p.payout_msisdn, sizeof(p.payout_msisdn), "%s", s->wallet);
    kito_verr ve = {{0}};
    kito_account after;
    e = kito_repo_account_update(db, s->account_id, &p, ip, &after, &ve);
    if (e == KITO_E_VALIDATION) {
        /* her rail does not pay that number (the menu checked its country) */
        f->outcome = KITO_USSD_REFUSED;
        snprintf(f->reason, sizeof(f->reason), "%s %s", ve.field, ve.reason);
        kito_log("ussd", "wallet change refused: %s", f->reason);
    } else if (e != KITO_OK) {
        failed(f, "ussd wallet", e);
    } else {
        f->hold_s = hold_s;
    }
}

void kito_ussd_run(kito_db_conn *db, kito_ussd_session *s, const char *ip, uint32_t wallet_hold_s,
                   kito_ussd_out *out)
{
    for (int i = 0; i < CHAIN_MAX && out->effect != KITO_USSD_FX_NONE; i++) {
        static kito_ussd_facts zero;
        kito_ussd_facts f = zero;
        kito_ussd_request rq = out->req;
        kito_ussd_effect fx = out->effect;
        /* the effects that act for her need her account: the menu only offers them to her */
        if (fx != KITO_USSD_FX_LOOKUP && fx != KITO_USSD_FX_ASSOCIATIONS &&
            fx != KITO_USSD_FX_REGISTER && s->account_id == 0)
            f.outcome = KITO_USSD_FAILED;
        else
            switch (fx) {
            case KITO_USSD_FX_LOOKUP:
                lookup(db, s, &f);
                break;
            case KITO_USSD_FX_ASSOCIATIONS:
                associations(db, s, &f);
                break;
            case KITO_USSD_FX_REGISTER:
                do_register(db, s, &rq, ip, &f);
                break;
            case KITO_USSD_FX_LIST_STONE:
                list_stone(db, s, &rq, ip, &f);
                break;
            case KITO_USSD_FX_MY_STONES:
                my_stones(db, s, false, &rq, &f);
                break;
            case KITO_USSD_FX_OFFERABLE:
                my_stones(db, s, true, &rq, &f);
                break;
            case KITO_USSD_FX_TARGETS:
                targets(db, s, &rq, &f);
                break;
            case KITO_USSD_FX_OFFER:
                offer(db, s, &rq, ip, &f);
                break;
            case KITO_USSD_FX_RESULTS:
                results(db, s, &rq, &f);
                break;
            case KITO_USSD_FX_PIN_CHECK:
                pin_check(db, s, &rq, &f);
                break;
            case KITO_USSD_FX_SET_PIN:
                set_pin(db, s, &rq, &f);
                break;
            case KITO_USSD_FX_SET_WALLET:
                set_wallet(db, s, &rq, ip, wallet_hold_s, &f);
                break;
            case KITO_USSD_FX_SET_LANG:
                set_lang(db, s, &rq, &f);
                break;
            case KITO_USSD_FX_NONE:
                break;
            }
        /* the PIN leaves memory with the request */
        memset(rq.pin, 0, sizeof(rq.pin));
        memset(out->req.pin, 0, sizeof(out->req.pin));
        kito_ussd_menu_resume(s, fx, &f, out);
    }
}
