/* Consent over HTTPS against the real MariaDB (issue 15, finding 1; DESIGN.md, "Consent": a stone
 * enters a sale only when its miner, or her agent on her behalf, has offered it to that organiser
 * or sale). The reviewer's case first: organiser B put miner M's certified stone into her own
 * sale and published it, and the rightful organiser A then got 409. Then withdrawals, sale-only
 * offers, who may speak for a miner, who sees what, bad requests, and a withdrawal racing a lot.
 * Stones are arranged by SQL (kito_harness_stone); offers go through the API. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/validate.h"
#include "api/store/repo_offers.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(consent, 120);

typedef kito_who who;

/* ---- helpers --------------------------------------------------------------------------------- */

/* A request with an optional bearer token and a JSON body (printf-style; NULL: none). */
#define call(w, method, path, ...) kito_harness_callf(&kd, w, NULL, method, path, __VA_ARGS__)
#define str kito_harness_str
#define count kito_harness_count

static unsigned long long key_of(const char *prefix, const char *id)
{
    uint64_t k = 0;
    cr_assert_eq(kito_id_parse(prefix, id, &k), KITO_OK, "bad id %s", id);
    return (unsigned long long)k;
}

/* A draft timed sale of w starting tomorrow; its id into id. */
static void new_sale(const who *w, char id[KITO_ID_SIZE])
{
    char s[KITO_TIME_SIZE], e[KITO_TIME_SIZE];
    cr_assert_eq(kito_time_format(((int64_t)time(NULL) + 86400) * 1000, s), KITO_OK);
    cr_assert_eq(kito_time_format(((int64_t)time(NULL) + 3 * 86400) * 1000, e), KITO_OK);
    struct kito_http_resp r = call(w, "POST", "/v1/sales",
                                   "{\"title\":\"Consent test sale\",\"format\":\"timed\","
                                   "\"starts_at\":\"%s\",\"ends_at\":\"%s\"}",
                                   s, e);
    kito_harness_expect(&r, 201, "create sale");
    snprintf(id, KITO_ID_SIZE, "%s", str(&r, "id"));
    kito_http_resp_free(&r);
}

/* POST /v1/stones/{stone}/offers as w with body (the caller frees). */
static struct kito_http_resp offer(const who *w, const char *stone, const char *body)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/stones/%s/offers", stone);
    return call(w, "POST", path, "%s", body);
}

/* An offer of stone by w to organiser org that must be made (201); its id into id. */
static void offer_to(const who *w, const char *stone, const who *org, char id[KITO_ID_SIZE])
{
    char body[128];
    snprintf(body, sizeof(body), "{\"organizer_id\":\"%s\"}", org->acc);
    struct kito_http_resp r = offer(w, stone, body);
    kito_harness_expect(&r, 201, "offer");
    snprintf(id, KITO_ID_SIZE, "%s", str(&r, "id"));
    kito_http_resp_free(&r);
}

/* DELETE /v1/stones/{stone}/offers/{id} as w (the caller frees). */
static struct kito_http_resp withdraw(const who *w, const char *stone, const char *id)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/stones/%s/offers/%s", stone, id);
    return call(w, "DELETE", path, NULL);
}

/* POST /v1/sales/{sale}/lots of stone as w (the caller frees). */
static struct kito_http_resp add_lot(const who *w, const char *sale, const char *stone)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", sale);
    return call(w, "POST", path, "{\"stone_id\":\"%s\",\"opening\":10000}", stone);
}

/* Everything a refused lot could have written about the stone or by organiser w. */
static long long footprint(const who *w, const char *stone)
{
    unsigned long long k = key_of(KITO_ID_STONE, stone);
    return count("SELECT (SELECT COUNT(*) FROM lots WHERE stone_id = %llu)"
                 " + (SELECT COUNT(*) FROM audit_log WHERE actor_id = %llu)"
                 " + (SELECT COUNT(*) FROM provenance_events WHERE stone_id = %llu)"
                 " + (SELECT COUNT(*) FROM stones WHERE id = %llu AND status <> 'certified')"
                 " + (SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu)",
                 k, w->id, k, k, k);
}

/* The ids of a list page's items, as one comma-separated string. */
static void item_ids(const struct kito_http_resp *r, char *out, size_t cap)
{
    size_t i, n = 0;
    json_t *item;
    out[0] = '\0';
    json_array_foreach(json_object_get(r->json, "items"), i, item)
    {
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n > 0 ? "," : "",
                              json_string_value(json_object_get(item, "id")));
        cr_assert_lt(n, cap);
    }
}

/* ---- the reviewer's case --------------------------------------------------------------------- */

Test(consent, another_organiser_cannot_take_a_stone_offered_to_one)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer"),
        b = kito_harness_person("organizer");
    char stone[KITO_ID_SIZE], offer_id[KITO_ID_SIZE], sale_a[KITO_ID_SIZE], sale_b[KITO_ID_SIZE],
        path[160];
    kito_harness_stone(m.id, m.id, true, stone);

    /* M offers her stone to A (any of A's sales) */
    unsigned long long offer_key = kito_harness_offer(stone, a.id);
    kito_id_format(KITO_ID_OFFER, offer_key, offer_id, sizeof(offer_id));

    /* B puts the stone in her own sale: refused, nothing written, and her sale stays empty */
    new_sale(&b, sale_b);
    long long before = footprint(&b, stone);
    struct kito_http_resp r = add_lot(&b, sale_b, stone);
    kito_assert_error(&r, 403, "no_consent");
    cr_assert(strstr(r.body, "stone_id") != NULL, "%s", r.body);
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&b, stone), before, "a refused lot wrote something");
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale_b);
    r = call(&b, "POST", path, NULL);
    kito_assert_error(&r, 409, "conflict"); /* no lot to publish */
    kito_http_resp_free(&r);

    /* A, to whom it was offered, makes her lot; the audit names the offer it rests on */
    new_sale(&a, sale_a);
    r = add_lot(&a, sale_a, stone);
    kito_harness_expect(&r, 201, "the rightful organiser's lot");
    unsigned long long lot = key_of(KITO_ID_LOT, str(&r, "id"));
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE action = 'lot.create'"
                       " AND entity_id = %llu AND JSON_VALUE(detail_json, '$.offer_id') = '%s'",
                       lot, offer_id),
                 1);

    /* B again, now that the stone is in A's lot: still no consent (and no word of where it is) */
    r = add_lot(&b, sale_b, stone);
    kito_assert_error(&r, 403, "no_consent");
    cr_assert(strstr(r.body, "lot_") == NULL, "B learns of A's lot: %s", r.body);
    kito_http_resp_free(&r);
}

/* ---- withdrawals ----------------------------------------------------------------------------- */

Test(consent, a_withdrawn_offer_blocks_and_a_lot_holds_its_offer)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer");
    char stone[KITO_ID_SIZE], first[KITO_ID_SIZE], second[KITO_ID_SIZE], sale[KITO_ID_SIZE],
        path[160];
    kito_harness_stone(m.id, m.id, true, stone);
    new_sale(&a, sale);
    offer_to(&m, stone, &a, first);

    struct kito_http_resp r = withdraw(&m, stone, first);
    kito_harness_expect(&r, 200, "withdraw");
    cr_assert(json_is_false(json_object_get(r.json, "live")));
    cr_assert_str_eq(str(&r, "withdrawn_by"), m.acc);
    cr_assert(json_is_string(json_object_get(r.json, "withdrawn_at")));
    kito_http_resp_free(&r);
    r = withdraw(&m, stone, first);
    kito_harness_expect(&r, 200, "withdraw again: unchanged");
    kito_http_resp_free(&r);

    long long before = footprint(&a, stone);
    r = add_lot(&a, sale, stone);
    kito_assert_error(&r, 403, "no_consent");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&a, stone), before, "a refused lot wrote something");

    /* offered again: a new offer, the withdrawn one kept as history */
    offer_to(&m, stone, &a, second);
    cr_assert_str_neq(first, second);
    r = add_lot(&a, sale, stone);
    kito_harness_expect(&r, 201, "lot on the new offer");
    char lot[KITO_ID_SIZE];
    snprintf(lot, sizeof(lot), "%s", str(&r, "id"));
    kito_http_resp_free(&r);

    /* the sale holds the stone on this consent: the lot goes first, then the offer */
    r = withdraw(&m, stone, second);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/lots/%s/withdraw", lot);
    r = call(&a, "POST", path, NULL);
    kito_harness_expect(&r, 200, "withdraw the lot");
    kito_http_resp_free(&r);
    r = withdraw(&m, stone, second);
    kito_harness_expect(&r, 200, "withdraw the offer once the lot is gone");
    kito_http_resp_free(&r);

    /* every offer and withdrawal is in the audit trail, once */
    unsigned long long sk = key_of(KITO_ID_STONE, stone);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'stone' AND entity_id = %llu"
                       " AND action = 'stone.offer' AND actor_id = %llu",
                       sk, m.id),
                 2);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'stone' AND entity_id = %llu"
                       " AND action = 'stone.offer_withdraw' AND actor_id = %llu",
                       sk, m.id),
                 2);
}

Test(consent, an_offer_to_one_sale_opens_that_sale_only)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer");
    char stone[KITO_ID_SIZE], one[KITO_ID_SIZE], other[KITO_ID_SIZE], body[128];
    kito_harness_stone(m.id, m.id, true, stone);
    new_sale(&a, one);
    new_sale(&a, other);
    snprintf(body, sizeof(body), "{\"sale_id\":\"%s\"}", one);
    struct kito_http_resp r = offer(&m, stone, body);
    kito_harness_expect(&r, 201, "offer to one sale");
    cr_assert_str_eq(str(&r, "sale_id"), one);
    cr_assert_str_eq(str(&r, "organizer_id"), a.acc); /* the sale's organiser */
    cr_assert_str_eq(str(&r, "miner_id"), m.acc);
    cr_assert_str_eq(str(&r, "offered_by"), m.acc);
    cr_assert(json_is_false(json_object_get(r.json, "on_behalf")));
    cr_assert(json_is_true(json_object_get(r.json, "live")));
    char id[KITO_ID_SIZE];
    snprintf(id, sizeof(id), "%s", str(&r, "id"));
    kito_http_resp_free(&r);
    /* offering the same thing again is the same offer, written once */
    r = offer(&m, stone, body);
    kito_harness_expect(&r, 200, "the same offer again");
    cr_assert_str_eq(str(&r, "id"), id);
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu",
                       key_of(KITO_ID_STONE, stone)),
                 1);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE action = 'stone.offer'"
                       " AND entity_id = %llu",
                       key_of(KITO_ID_STONE, stone)),
                 1);

    long long before = footprint(&a, stone);
    r = add_lot(&a, other, stone);
    kito_assert_error(&r, 403, "no_consent");
    kito_http_resp_free(&r);
    cr_assert_eq(footprint(&a, stone), before, "a refused lot wrote something");
    r = add_lot(&a, one, stone);
    kito_harness_expect(&r, 201, "lot in the sale it was offered to");
    kito_http_resp_free(&r);
}

/* ---- who speaks for the miner ---------------------------------------------------------------- */

Test(consent, only_the_miner_or_the_valuer_who_listed_for_her_may_offer)
{
    who m = kito_harness_person("miner"), m2 = kito_harness_person("miner"),
        v = kito_harness_person("valuer"), v2 = kito_harness_person("valuer"),
        a = kito_harness_person("organizer");
    char stone[KITO_ID_SIZE], body[128], id[KITO_ID_SIZE];
    unsigned long long sk = kito_harness_stone(m.id, v.id, true, stone); /* listed by v for m */
    snprintf(body, sizeof(body), "{\"organizer_id\":\"%s\"}", a.acc);

    /* an unrelated valuer, another miner: refused, nothing written */
    const who *strangers[] = {&v2, &m2};
    for (int i = 0; i < 2; i++) {
        struct kito_http_resp r = offer(strangers[i], stone, body);
        kito_assert_error(&r, 403, "forbidden");
        kito_http_resp_free(&r);
    }
    cr_assert_eq(count("SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu", sk), 0);
    cr_assert_eq(
        count("SELECT COUNT(*) FROM audit_log WHERE actor_id IN (%llu, %llu)", v2.id, m2.id), 0);
    /* the schema refuses it too, whatever writes it */
    cr_assert_neq(kito_harness_sql_errno("INSERT INTO stone_offers (stone_id, miner_id, listed_by,"
                                         " organizer_id, offered_by, offered_by_role) VALUES"
                                         " (%llu, %llu, %llu, %llu, %llu, 'valuer')",
                                         sk, m.id, v.id, a.id, v2.id),
                  0);

    /* the valuer who listed it for her: made on her behalf, and recorded as such */
    struct kito_http_resp r = offer(&v, stone, body);
    kito_harness_expect(&r, 201, "the listing valuer's offer");
    cr_assert_str_eq(str(&r, "offered_by"), v.acc);
    cr_assert_str_eq(str(&r, "miner_id"), m.acc);
    cr_assert(json_is_true(json_object_get(r.json, "on_behalf")));
    snprintf(id, sizeof(id), "%s", str(&r, "id"));
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE action = 'stone.offer'"
                       " AND actor_id = %llu AND entity_id = %llu"
                       " AND JSON_VALUE(detail_json, '$.on_behalf_of') = '%s'",
                       v.id, sk, m.acc),
                 1);

    /* the unrelated valuer cannot withdraw it either; the miner can withdraw her agent's offer */
    r = withdraw(&v2, stone, id);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    r = withdraw(&m, stone, id);
    kito_harness_expect(&r, 200, "the miner withdraws her agent's offer");
    kito_http_resp_free(&r);
}

/* ---- who sees what --------------------------------------------------------------------------- */

Test(consent, offers_are_seen_by_the_miner_and_by_the_organiser_they_were_made_to)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer"),
        b = kito_harness_person("organizer"), v2 = kito_harness_person("valuer"),
        op = kito_harness_person("operator");
    char s1[KITO_ID_SIZE], s2[KITO_ID_SIZE], s3[KITO_ID_SIZE], id[KITO_ID_SIZE], sale[KITO_ID_SIZE],
        path[160], ids[512], body[128];
    kito_harness_stone(m.id, m.id, true, s1);
    kito_harness_stone(m.id, m.id, true, s2);
    kito_harness_stone(m.id, m.id, true, s3);
    offer_to(&m, s1, &a, id);
    offer_to(&m, s1, &b, id);
    offer_to(&m, s3, &b, id);

    /* a stone's offers: all of them to the miner and operators, hers to an organiser */
    snprintf(path, sizeof(path), "/v1/stones/%s/offers", s1);
    const who *viewers[] = {&m, &op, &a, &b};
    const size_t seen[] = {2, 2, 1, 1};
    for (int i = 0; i < 4; i++) {
        struct kito_http_resp r = call(viewers[i], "GET", path, NULL);
        kito_harness_expect(&r, 200, "stone offers");
        cr_assert_eq(json_array_size(json_object_get(r.json, "items")), seen[i], "%s", r.body);
        kito_http_resp_free(&r);
    }
    struct kito_http_resp r = call(&v2, "GET", path, NULL);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/stones/%s/offers?limit=1", s1);
    r = call(&m, "GET", path, NULL);
    kito_harness_expect(&r, 200, "first page");
    cr_assert(json_is_string(json_object_get(r.json, "next_cursor")), "%s", r.body);
    kito_http_resp_free(&r);

    /* the organiser's list: the stones offered to her, with the offers */
    r = call(&a, "GET", "/v1/me/offered-stones", NULL);
    kito_harness_expect(&r, 200, "A's offered stones");
    item_ids(&r, ids, sizeof(ids));
    cr_assert_str_eq(ids, s1);
    json_t *offers = json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "offers");
    cr_assert_eq(json_array_size(offers), 1);
    cr_assert(json_is_null(json_object_get(json_array_get(offers, 0), "sale_id")));
    kito_http_resp_free(&r);

    /* a sale's own offer shows with its sale; a stone in a lot leaves the list */
    new_sale(&a, sale);
    snprintf(body, sizeof(body), "{\"sale_id\":\"%s\"}", sale);
    r = offer(&m, s2, body);
    kito_harness_expect(&r, 201, "offer to A's sale");
    kito_http_resp_free(&r);
    r = add_lot(&a, sale, s1);
    kito_harness_expect(&r, 201, "lot of s1");
    kito_http_resp_free(&r);
    r = call(&a, "GET", "/v1/me/offered-stones", NULL);
    kito_harness_expect(&r, 200, "A's offered stones after a lot");
    item_ids(&r, ids, sizeof(ids));
    cr_assert_str_eq(ids, s2);
    offers = json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "offers");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(offers, 0), "sale_id")),
                     sale);
    kito_http_resp_free(&r);

    /* B's list: s3 (s1 is in A's lot now) */
    r = call(&b, "GET", "/v1/me/offered-stones", NULL);
    kito_harness_expect(&r, 200, "B's offered stones");
    item_ids(&r, ids, sizeof(ids));
    cr_assert_str_eq(ids, s3);
    kito_http_resp_free(&r);
}

/* ---- bad requests ---------------------------------------------------------------------------- */

Test(consent, bad_offers_are_refused_and_write_nothing)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer"),
        buyer = kito_harness_person("buyer");
    char stone[KITO_ID_SIZE], bare[KITO_ID_SIZE], sale[KITO_ID_SIZE], other[KITO_ID_SIZE],
        body[160], path[160];
    unsigned long long sk = kito_harness_stone(m.id, m.id, true, stone);
    kito_harness_stone(m.id, m.id, false, bare);
    const char *bad[] = {
        "{}",
        "{\"organizer_id\":null}",
        "{\"organizer_id\":\"sal_0000000000001\"}",
        "{\"organizer_id\":7}",
        "{\"organizer_id\":\"acc_0000000000001\",\"sale_id\":\"sal_0000000000001\"}",
        "{\"organizer_id\":\"acc_0000000000001\",\"note\":\"x\"}",
        "{\"sale_id\":\"sal_00000000zzzzz\"}",
        "{\"organizer_id\":\"acc_00000000zzzzz\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kito_http_resp r = offer(&m, stone, bad[i]);
        kito_assert_error(&r, 422, "validation_failed");
        kito_http_resp_free(&r);
    }
    snprintf(body, sizeof(body), "{\"organizer_id\":\"%s\"}", buyer.acc);
    struct kito_http_resp r = offer(&m, stone, body);
    kito_assert_error(&r, 422, "validation_failed"); /* not an organiser */
    kito_http_resp_free(&r);

    snprintf(body, sizeof(body), "{\"organizer_id\":\"%s\"}", a.acc);
    r = offer(&m, "stn_00000000zzzzz", body);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = offer(&m, bare, body);
    kito_assert_error(&r, 409, "conflict"); /* not certified yet */
    kito_http_resp_free(&r);

    /* a sale that no longer takes lots */
    new_sale(&a, sale);
    new_sale(&a, other);
    char lot_stone[KITO_ID_SIZE], id[KITO_ID_SIZE];
    kito_harness_stone(m.id, m.id, true, lot_stone);
    offer_to(&m, lot_stone, &a, id);
    r = add_lot(&a, sale, lot_stone);
    kito_harness_expect(&r, 201, "lot");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/sales/%s/publish", sale);
    r = call(&a, "POST", path, NULL);
    kito_harness_expect(&r, 200, "publish");
    kito_http_resp_free(&r);
    snprintf(body, sizeof(body), "{\"sale_id\":\"%s\"}", sale);
    r = offer(&m, stone, body);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    /* a stone already in a lot */
    snprintf(body, sizeof(body), "{\"sale_id\":\"%s\"}", other);
    r = offer(&m, lot_stone, body);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    cr_assert_eq(count("SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu", sk), 0);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE action = 'stone.offer'"
                       " AND entity_id = %llu",
                       sk),
                 0);
}

/* ---- a withdrawal racing a lot --------------------------------------------------------------- */

struct lot_call {
    const who *org;
    const char *sale, *stone;
    long status;
    char code[32];
    long elapsed_ms;
};

static long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)(t.tv_sec * 1000 + t.tv_nsec / 1000000);
}

/* POST the lot from another thread; no Criterion assertion here (the main thread checks). */
static void *lot_thread(void *arg)
{
    struct lot_call *c = arg;
    char path[128], body[128], auth[96];
    snprintf(path, sizeof(path), "/v1/sales/%s/lots", c->sale);
    snprintf(body, sizeof(body), "{\"stone_id\":\"%s\",\"opening\":10000}", c->stone);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", c->org->token);
    const char *headers[] = {"Content-Type: application/json", auth, NULL};
    struct kito_http_resp r;
    long t0 = now_ms();
    if (kito_http(&kd, "POST", path, body, strlen(body), headers, 0, &r) == 0) {
        c->status = r.status;
        const char *code =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
        snprintf(c->code, sizeof(c->code), "%s", code != NULL ? code : "");
        kito_http_resp_free(&r);
    }
    c->elapsed_ms = now_ms() - t0;
    return NULL;
}

/* A lot asked for while the miner's withdrawal holds the stone: the lot waits for the stone's
 * lock and then sees the withdrawal (the check is in the lot's own transaction, after the lock). */
Test(consent, a_lot_waiting_on_a_withdrawal_sees_it)
{
    who m = kito_harness_person("miner"), a = kito_harness_person("organizer");
    char stone[KITO_ID_SIZE], id[KITO_ID_SIZE], sale[KITO_ID_SIZE], got[32];
    unsigned long long sk = kito_harness_stone(m.id, m.id, true, stone);
    new_sale(&a, sale);
    kito_id_format(KITO_ID_OFFER, kito_harness_offer(stone, a.id), id, sizeof(id));

    /* the withdrawal, as api/store/repo_offers.c does it: the stone's row first */
    kito_harness_sql("START TRANSACTION");
    kito_harness_sql_value(got, sizeof(got), "SELECT id FROM stones WHERE id = %llu FOR UPDATE",
                           sk);
    struct lot_call c = {.org = &a, .sale = sale, .stone = stone};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, lot_thread, &c), 0);
    kito_harness_sleep_ms(600); /* the lot is now waiting for the stone */
    kito_harness_sql("UPDATE stone_offers SET withdrawn_at = UTC_TIMESTAMP(3), withdrawn_by = %llu"
                     " WHERE id = %llu",
                     m.id, key_of(KITO_ID_OFFER, id));
    kito_harness_sql("COMMIT");
    pthread_join(t, NULL);
    cr_assert_eq(c.status, 403, "the lot answered %ld %s", c.status, c.code);
    cr_assert_str_eq(c.code, "no_consent");
    cr_assert_geq(c.elapsed_ms, 400, "the lot did not wait for the stone (%ld ms)", c.elapsed_ms);
    cr_assert_eq(count("SELECT COUNT(*) FROM lots WHERE stone_id = %llu", sk), 0);
}
