/*
 * Provenance hash chains (api/store/repo_provenance.h has the recipe).
 */
#include "api/store/repo_provenance.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/common/canonical_json.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

static const char *const kinds[] = {"found", "valued", "listed", "sold", "shipped", NULL};

bool kito_provenance_kind_valid(const char *kind)
{
    if (kind == NULL)
        return false;
    for (size_t i = 0; kinds[i] != NULL; i++)
        if (strcmp(kind, kinds[i]) == 0)
            return true;
    return false;
}

static bool hex64(const char *s)
{
    if (s == NULL || strlen(s) != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

kito_err kito_provenance_hash(uint64_t stone_id, uint32_t seq, const char *kind,
                              const json_t *payload, const char *prev_hash, int64_t at_ms,
                              char out[KITO_SHA256_HEX_SIZE])
{
    out[0] = '\0';
    if (!kito_provenance_kind_valid(kind) || !hex64(prev_hash) || seq == 0 || stone_id == 0)
        return KITO_E_VALIDATION;
    if (payload != NULL && !json_is_object(payload))
        return KITO_E_VALIDATION;
    char at[KITO_TIME_SIZE], sid[KITO_ID_SIZE];
    if (kito_time_format(at_ms, at) != KITO_OK)
        return KITO_E_VALIDATION;
    if (kito_id_format(KITO_ID_STONE, stone_id, sid, sizeof(sid)) != KITO_OK)
        return KITO_E_VALIDATION;
    json_t *p = payload != NULL ? json_incref((json_t *)payload) : json_object();
    json_t *doc = json_pack("{s:s, s:s, s:o, s:s, s:I, s:s}", "at", at, "kind", kind, "payload", p,
                            "prev_hash", prev_hash, "seq", (json_int_t)seq, "stone_id", sid);
    if (doc == NULL)
        return KITO_E_NOMEM;
    char *text = NULL;
    size_t len = 0;
    kito_err e = kito_canonical_json(doc, &text, &len);
    json_decref(doc);
    if (e != KITO_OK)
        return e;
    e = kito_crypto_sha256_hex(text, len, out);
    free(text);
    return e;
}

/* ---- append ---------------------------------------------------------------------------------- */

typedef struct last_event {
    bool found;
    uint32_t seq;
    char hash[KITO_SHA256_HEX_SIZE];
} last_event;

static kito_err last_row(void *ud, const kito_sql_row *row)
{
    last_event *l = ud;
    l->found = true;
    l->seq = (uint32_t)kito_sql_u64(row, 0);
    kito_sql_copy(row, 1, l->hash, sizeof(l->hash));
    return KITO_OK;
}

static kito_err count_row(void *ud, const kito_sql_row *row)
{
    (void)row;
    *(bool *)ud = true;
    return KITO_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

kito_err kito_provenance_append(kito_db_conn *db, uint64_t stone_id, const char *kind,
                                const json_t *payload, uint64_t actor_id)
{
    if (!kito_provenance_kind_valid(kind) || (payload != NULL && !json_is_object(payload)))
        return KITO_E_VALIDATION;
    json_t *empty = payload == NULL ? json_object() : NULL;
    const json_t *p = payload != NULL ? payload : empty;
    char *payload_text = NULL;
    kito_err e = kito_canonical_json(p, &payload_text, NULL);
    if (e != KITO_OK)
        goto out;

    /* The stone's row is the lock every append of this stone queues on: it exists even before
     * the first event, whose row would be nothing to lock. */
    kito_sql_param sp[] = {KITO_SQL_U64(stone_id)};
    bool stone = false;
    e = kito_sql_query(db, "SELECT id FROM stones WHERE id = ? FOR UPDATE", sp, 1, count_row,
                       &stone, NULL);
    if (e != KITO_OK)
        goto out;
    if (!stone) {
        e = KITO_E_NOT_FOUND;
        goto out;
    }
    last_event last = {0};
    e = kito_sql_query(db,
                       "SELECT seq, hash FROM provenance_events WHERE stone_id = ?"
                       " ORDER BY seq DESC LIMIT 1 FOR UPDATE",
                       sp, 1, last_row, &last, NULL);
    if (e != KITO_OK)
        goto out;
    if (last.found && last.seq >= KITO_PROVENANCE_EVENTS_MAX) {
        e = KITO_E_CAPACITY;
        goto out;
    }
    uint32_t seq = last.found ? last.seq + 1 : 1;
    const char *prev = last.found ? last.hash : KITO_PROVENANCE_GENESIS;
    int64_t at_ms = now_ms();
    char hash[KITO_SHA256_HEX_SIZE];
    e = kito_provenance_hash(stone_id, seq, kind, p, prev, at_ms, hash);
    if (e != KITO_OK)
        goto out;
    /* at goes in as an offset from the epoch so the session time zone plays no part. */
    kito_sql_param ip[] = {
        KITO_SQL_U64(stone_id),
        KITO_SQL_U64(seq),
        KITO_SQL_TEXT(kind),
        KITO_SQL_TEXT(payload_text),
        KITO_SQL_TEXT(prev),
        KITO_SQL_TEXT(hash),
        actor_id != 0 ? KITO_SQL_U64(actor_id) : KITO_SQL_NULL,
        KITO_SQL_I64(at_ms),
    };
    e = kito_sql_exec(db,
                      "INSERT INTO provenance_events (stone_id, seq, kind, payload_json, prev_hash,"
                      " hash, actor_id, at) VALUES (?, ?, ?, ?, ?, ?, ?,"
                      " " KITO_SQL_MS_TO_DT("?") ")",
                      ip, KITO_N(ip), NULL);
out:
    free(payload_text);
    json_decref(empty);
    return e;
}

/* ---- read and verify ------------------------------------------------------------------------- */

/* Columns: id, seq, kind, payload_json, prev_hash, hash, actor_id, at in ms since the epoch. */
static const char select_events[] =
    "SELECT id, seq, kind, payload_json, prev_hash, hash, actor_id,"
    " " KITO_SQL_DT_TO_MS(
        "at") " FROM provenance_events WHERE stone_id = ? ORDER BY seq LIMIT 1000";

typedef struct reader {
    uint64_t stone_id;
    kito_provenance_list *list; /* NULL: verify only */
    kito_provenance_check check;
    char prev[KITO_SHA256_HEX_SIZE];
} reader;

static void mark_broken(reader *rd, uint32_t seq)
{
    if (rd->check.intact) {
        rd->check.intact = false;
        rd->check.broken_at_seq = seq;
    }
}

static kito_err event_row(void *ud, const kito_sql_row *row)
{
    reader *rd = ud;
    uint32_t expected = rd->check.events + 1;
    kito_provenance_event ev = {0};
    ev.id = kito_sql_u64(row, 0);
    ev.seq = (uint32_t)kito_sql_u64(row, 1);
    kito_sql_copy(row, 2, ev.kind, sizeof(ev.kind));
    size_t plen = 0;
    const char *ptext = kito_sql_text(row, 3, &plen);
    kito_sql_copy(row, 4, ev.prev_hash, sizeof(ev.prev_hash));
    kito_sql_copy(row, 5, ev.hash, sizeof(ev.hash));
    ev.actor_id = kito_sql_u64(row, 6);
    ev.at_ms = kito_sql_i64(row, 7);
    if (ptext != NULL)
        ev.payload = json_loadb(ptext, plen, JSON_REJECT_DUPLICATES, NULL);

    if (ev.seq != expected) {
        mark_broken(rd, expected);
    } else if (strcmp(ev.prev_hash, rd->prev) != 0 || !json_is_object(ev.payload)) {
        mark_broken(rd, ev.seq);
    } else {
        char want[KITO_SHA256_HEX_SIZE];
        kito_err e = kito_provenance_hash(rd->stone_id, ev.seq, ev.kind, ev.payload, ev.prev_hash,
                                          ev.at_ms, want);
        if (e == KITO_E_NOMEM) {
            json_decref(ev.payload);
            return e;
        }
        if (e != KITO_OK || strcmp(want, ev.hash) != 0)
            mark_broken(rd, ev.seq);
    }
    /* The next event must point at this one's stored hash. */
    memcpy(rd->prev, ev.hash, sizeof(rd->prev));
    rd->check.events++;

    if (rd->list == NULL) {
        json_decref(ev.payload);
        return KITO_OK;
    }
    kito_provenance_list *l = rd->list;
    kito_provenance_event *grown = realloc(l->events, (l->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        json_decref(ev.payload);
        return KITO_E_NOMEM;
    }
    l->events = grown;
    l->events[l->count++] = ev;
    return KITO_OK;
}

static kito_err read_chain(kito_db_conn *db, uint64_t stone_id, kito_provenance_list *list,
                           kito_provenance_check *check)
{
    reader rd = {.stone_id = stone_id, .list = list, .check = {.intact = true}};
    memcpy(rd.prev, KITO_PROVENANCE_GENESIS, sizeof(rd.prev));
    kito_sql_param p[] = {KITO_SQL_U64(stone_id)};
    kito_err e = kito_sql_query(db, select_events, p, 1, event_row, &rd, NULL);
    *check = rd.check;
    return e;
}

kito_err kito_provenance_verify(kito_db_conn *db, uint64_t stone_id, kito_provenance_check *result)
{
    *result = (kito_provenance_check){.intact = true};
    return read_chain(db, stone_id, NULL, result);
}

kito_err kito_provenance_list_read(kito_db_conn *db, uint64_t stone_id, kito_provenance_list *out)
{
    *out = (kito_provenance_list){0};
    kito_err e = read_chain(db, stone_id, out, &out->check);
    if (e != KITO_OK)
        kito_provenance_list_free(out);
    return e;
}

void kito_provenance_list_free(kito_provenance_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++)
        json_decref(list->events[i].payload);
    free(list->events);
    *list = (kito_provenance_list){0};
}
