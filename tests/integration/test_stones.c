/*
 * Stones and photos over HTTPS against the real MariaDB (issue 4, "Stones and certificates"):
 * listing by a miner and by a valuer on her behalf, validation with nothing written on refusal,
 * row rules for edits, filters and pagination, photo upload by content with its cache headers.
 * The route table's role checks are test_authz.c's; here are the row rules.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/common/crypto.h"
#include "api/http/http_error.h"
#include "api/common/validate.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(stones, 120);

/* ---- helpers --------------------------------------------------------------------------------- */

/* A request with an optional bearer token and a body of the given content type. */
#define call_raw(method, path, body, len, ctype, token)                                            \
    kito_harness_call_raw(&kd, token, method, path, body, len, ctype)
#define call(method, path, json, token) kito_harness_call_json(&kd, token, method, path, json)

/* A signed-in account of role: *id gets its key, token its bearer token. */
static void person(const char *role, unsigned long long *id, char token[44])
{
    *id = kito_harness_account(role, NULL, 0);
    kito_harness_session(*id, token);
}

static const char *id_text(const char *prefix, unsigned long long key, char buf[32])
{
    cr_assert_eq(kito_id_format(prefix, key, buf, 32), KITO_OK);
    return buf;
}

static unsigned long long count(const char *fmt, unsigned long long arg)
{
    char sql[512], out[32];
    snprintf(sql, sizeof(sql), fmt, arg);
    kito_harness_sql_value(out, sizeof(out), "%s", sql);
    return strtoull(out, NULL, 10);
}

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    cr_assert(s != NULL, "member %s missing", name);
    return s;
}

static const char STONE_BODY[] =
    "{\"species\":\"zoisite\",\"variety\":\"tanzanite\",\"weight_ct\":\"3.12\",\"piece_count\":1,"
    "\"shape\":\"rough\",\"colour\":\"violetish blue\",\"origin\":{\"country\":\"TZ\","
    "\"region\":\"Manyara\",\"site\":\"Mirerani Block D\"},\"notes\":\"found in the eastern pit\"}";

/* Lists STONE_BODY as a miner; returns the stone's key (and its id text in id). */
static unsigned long long list_stone(const char *token, const char *body, char id[32])
{
    struct kito_http_resp r = call("POST", "/v1/stones", body, token);
    cr_assert_eq(r.status, 201, "POST /v1/stones: %ld %s", r.status, r.body);
    snprintf(id, 32, "%s", str(r.json, "id"));
    uint64_t key = 0;
    cr_assert_eq(kito_id_parse("stn", id, &key), KITO_OK);
    kito_http_resp_free(&r);
    return (unsigned long long)key;
}

/* A 1x1 PNG (with correct CRCs) and a 16x16 baseline JPEG, as real clients send them. */
static const char PNG_B64[] = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGPYYNUDAAMU"
                              "AXdfnKGvAAAAAElFTkSuQmCC";
static const char JPEG_B64[] =
    "/9j/4AAQSkZJRgABAQEAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJ"
    "DRENDg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBAQEBAQEBD/wAARCAAQABADASIAAhEBAxEB/8QAFgABAQEAAAAAAAAAAAAAAAAABwQF/8QAJBAA"
    "AQQBBAICAwAAAAAAAAAAAQIDBAYFBwgSExEiABQJMTL/xAAVAQEBAAAAAAAAAAAAAAAAAAAABv/EACMRAAECBQMFAAAA"
    "AAAAAAAAAAECEQMEBQYhABIxFRZhgeH/2gAMAwEAAhEDEQA/ABSm0mobc8HmExLUlRzzEWPkJWW+ulrsaUVAseUgslSl"
    "H9LKuPryIKuWPZdskzXmm3fX5m2nF4GlVxx/HOpx4ks51+MiU/Iaad7UcUo4tILoS4kqcWkezS0hO/HvuRp0rO6hWnWO"
    "1UisZVuFi4GFeyEpmGepa5S5SWVPuciFKRFLgSrwetnyPIB+Vb4N9mKhQMzo5po9XLdDs9d6ZVix2VEhiL9kuNPxw2gE"
    "KcDQ/rs8AuA8VAe0vdl7VOYn+27flGAUgmITjbhSmCg3BYlyeWDkMolvw4KOp1KM6iCNvngZHwetf//Z";

static size_t decode(const char *b64, uint8_t *out, size_t cap)
{
    size_t n = 0;
    cr_assert_eq(kito_crypto_b64_decode(KITO_B64_STD, b64, strlen(b64), out, cap, &n), KITO_OK);
    return n;
}

/* ---- listing --------------------------------------------------------------------------------- */

Test(stones, a_miner_lists_her_stone)
{
    unsigned long long miner;
    char token[44], id[32], acc[32];
    person("miner", &miner, token);
    struct kito_http_resp r = call("POST", "/v1/stones", STONE_BODY, token);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    cr_assert_str_eq(str(r.json, "seller_id"), id_text("acc", miner, acc));
    cr_assert_str_eq(str(r.json, "listed_by"), acc);
    cr_assert_str_eq(str(r.json, "species"), "zoisite");
    cr_assert_str_eq(str(r.json, "weight_ct"), "3.12");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "weight_cct")), 312);
    cr_assert_str_eq(str(json_object_get(r.json, "origin"), "site"), "Mirerani Block D");
    cr_assert_str_eq(str(r.json, "status"), "draft");
    cr_assert_str_eq(str(r.json, "notes"), "found in the eastern pit");
    cr_assert(json_is_null(json_object_get(r.json, "certificate_id")));
    cr_assert_eq(json_array_size(json_object_get(r.json, "photos")), 0);
    snprintf(id, sizeof(id), "%s", str(r.json, "id"));
    kito_http_resp_free(&r);

    uint64_t key;
    cr_assert_eq(kito_id_parse("stn", id, &key), KITO_OK);
    cr_assert_eq(count("SELECT COUNT(*) FROM provenance_events WHERE stone_id = %llu AND seq = 1"
                       " AND kind = 'found'",
                       key),
                 1);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'stone' AND entity_id = %llu"
                       " AND action = 'stone.create'",
                       key),
                 1);

    char path[64];
    snprintf(path, sizeof(path), "/v1/stones/%s", id);
    r = call("GET", path, NULL, NULL); /* public */
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(str(r.json, "id"), id);
    kito_http_resp_free(&r);
}

Test(stones, a_valuer_lists_on_a_miners_behalf)
{
    unsigned long long miner, valuer, buyer;
    char mt[44], vt[44], bt[44], macc[32], vacc[32], bacc[32], body[1024];
    person("miner", &miner, mt);
    person("valuer", &valuer, vt);
    person("buyer", &buyer, bt);
    id_text("acc", miner, macc);
    id_text("acc", valuer, vacc);
    id_text("acc", buyer, bacc);

    snprintf(body, sizeof(body),
             "{\"species\":\"beryl\",\"variety\":\"emerald\",\"weight_ct\":12.5,"
             "\"origin\":{\"country\":\"ZM\",\"region\":\"Lufwanyama\"},\"seller_id\":\"%s\"}",
             macc);
    struct kito_http_resp r = call("POST", "/v1/stones", body, vt);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    cr_assert_str_eq(str(r.json, "seller_id"), macc);
    cr_assert_str_eq(str(r.json, "listed_by"), vacc);
    cr_assert_str_eq(str(r.json, "weight_ct"), "12.50");
    cr_assert_eq(json_integer_value(json_object_get(r.json, "piece_count")), 1);
    kito_http_resp_free(&r);

    long invalid = kito_http_status(KITO_E_VALIDATION);
    unsigned long long before = count("SELECT COUNT(*) FROM stones WHERE listed_by = %llu", valuer);
    /* a valuer must name the miner */
    r = call("POST", "/v1/stones", STONE_BODY, vt);
    kito_assert_error(&r, invalid, "validation_failed");
    cr_assert(strstr(r.body, "seller_id") != NULL, "%s", r.body);
    kito_http_resp_free(&r);
    /* and she must be a miner */
    snprintf(body, sizeof(body),
             "{\"species\":\"beryl\",\"weight_ct\":\"1\",\"origin\":{\"country\":\"ZM\"},"
             "\"seller_id\":\"%s\"}",
             bacc);
    r = call("POST", "/v1/stones", body, vt);
    kito_assert_error(&r, invalid, "validation_failed");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM stones WHERE listed_by = %llu", valuer), before);

    /* a miner lists her own stones only */
    unsigned long long other;
    char ot[44];
    person("miner", &other, ot);
    snprintf(body, sizeof(body),
             "{\"species\":\"beryl\",\"weight_ct\":\"1\",\"origin\":{\"country\":\"ZM\"},"
             "\"seller_id\":\"%s\"}",
             macc);
    r = call("POST", "/v1/stones", body, ot);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM stones WHERE listed_by = %llu", other), 0);
}

Test(stones, bad_fields_are_refused_and_nothing_is_written)
{
    unsigned long long miner;
    char token[44];
    person("miner", &miner, token);
    static const struct {
        const char *body;
        const char *field; /* the message names it */
    } cases[] = {
        {"{\"weight_ct\":\"1\",\"origin\":{\"country\":\"TZ\"}}", "species"},
        {"{\"species\":\"diamond\",\"weight_ct\":\"1\",\"origin\":{\"country\":\"TZ\"}}",
         "species"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"1.005\",\"origin\":{\"country\":\"TZ\"}}",
         "weight_ct"},
        {"{\"species\":\"garnet\",\"weight_ct\":0,\"origin\":{\"country\":\"TZ\"}}", "weight_ct"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"-2\",\"origin\":{\"country\":\"TZ\"}}",
         "weight_ct"},
        {"{\"species\":\"garnet\",\"weight_ct\":true,\"origin\":{\"country\":\"TZ\"}}",
         "weight_ct"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"piece_count\":0,"
         "\"origin\":{\"country\":\"TZ\"}}",
         "piece_count"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"piece_count\":1.5,"
         "\"origin\":{\"country\":\"TZ\"}}",
         "piece_count"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"UG\"}}",
         "origin.country"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\"}", "origin"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"TZ\","
         "\"mine\":\"x\"}}",
         "origin.mine"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"TZ\"},"
         "\"colour\":\"red\\u0007\"}",
         "colour"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"TZ\"},"
         "\"variety\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
         "variety"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"TZ\"},"
         "\"price\":5}",
         "price"},
        {"{\"species\":\"garnet\",\"weight_ct\":\"2\",\"origin\":{\"country\":\"TZ\"},"
         "\"seller_id\":\"lot_0000000000001\"}",
         "seller_id"},
    };
    long invalid = kito_http_status(KITO_E_VALIDATION);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct kito_http_resp r = call("POST", "/v1/stones", cases[i].body, token);
        kito_assert_error(&r, invalid, "validation_failed");
        const char *msg =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
        cr_assert(msg != NULL && strstr(msg, cases[i].field) != NULL, "case %zu: %s", i, r.body);
        kito_http_resp_free(&r);
    }
    cr_assert_eq(count("SELECT COUNT(*) FROM stones WHERE seller_id = %llu", miner), 0);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE actor_id = %llu", miner), 0);
}

Test(stones, only_the_seller_or_a_valuer_edits)
{
    unsigned long long miner, other, valuer;
    char mt[44], ot[44], vt[44], id[32], path[64];
    person("miner", &miner, mt);
    person("miner", &other, ot);
    person("valuer", &valuer, vt);
    unsigned long long key = list_stone(mt, STONE_BODY, id);
    snprintf(path, sizeof(path), "/v1/stones/%s", id);

    struct kito_http_resp r = call("PATCH", path, "{\"weight_ct\":\"3.10\"}", ot);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT weight_cct FROM stones WHERE id = %llu", key), 312);

    r = call("PATCH", path, "{\"weight_ct\":\"3.10\",\"variety\":null}", mt);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(str(r.json, "weight_ct"), "3.10");
    cr_assert(json_is_null(json_object_get(r.json, "variety")));
    kito_http_resp_free(&r);

    r = call("PATCH", path, "{\"colour\":\"blue\"}", vt);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(str(r.json, "colour"), "blue");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM audit_log WHERE entity = 'stone' AND entity_id = %llu"
                       " AND action = 'stone.update'",
                       key),
                 2);

    r = call("PATCH", path, "{}", mt);
    kito_assert_error(&r, kito_http_status(KITO_E_VALIDATION), "validation_failed");
    kito_http_resp_free(&r);
    r = call("PATCH", path, "{\"species\":null}", mt);
    kito_assert_error(&r, kito_http_status(KITO_E_VALIDATION), "validation_failed");
    kito_http_resp_free(&r);
    r = call("PATCH", "/v1/stones/stn_00000000zzzzz", "{\"colour\":\"red\"}", mt);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    /* once the stone is in a lot that is neither unsold nor withdrawn, it is fixed */
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " ladder_json) VALUES (%llu, 'Arusha gem fair', 'timed', 'USD',"
        " UTC_TIMESTAMP(3) + INTERVAL 1 DAY, UTC_TIMESTAMP(3) + INTERVAL 2 DAY,"
        " '[{\"from_minor\":0,\"step_minor\":100}]')",
        org);
    unsigned long long lot =
        kito_harness_sql("INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor)"
                         " VALUES (%llu, %llu, 1, 1, 10000)",
                         sale, key);
    r = call("PATCH", path, "{\"notes\":\"more\"}", mt);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    kito_harness_sql("UPDATE lots SET state = 'withdrawn' WHERE id = %llu", lot);
    r = call("PATCH", path, "{\"notes\":\"more\"}", mt);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    kito_http_resp_free(&r);
}

Test(stones, lists_filter_and_paginate)
{
    unsigned long long miner;
    char token[44], acc[32], id[32], path[256];
    person("miner", &miner, token);
    id_text("acc", miner, acc);
    list_stone(token,
               "{\"species\":\"garnet\",\"variety\":\"tsavorite\",\"weight_ct\":\"0.85\","
               "\"origin\":{\"country\":\"KE\",\"region\":\"Taita Taveta\"}}",
               id);
    list_stone(token,
               "{\"species\":\"garnet\",\"variety\":\"rhodolite\",\"weight_ct\":\"4.20\","
               "\"origin\":{\"country\":\"MW\"}}",
               id);
    list_stone(token, STONE_BODY, id);

    snprintf(path, sizeof(path), "/v1/stones?seller=%s&limit=2", acc);
    struct kito_http_resp r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 2);
    cr_assert_str_eq(str(json_array_get(items, 0), "id"), id); /* newest first */
    char cursor[64];
    snprintf(cursor, sizeof(cursor), "%s", str(r.json, "next_cursor"));
    kito_http_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/stones?seller=%s&limit=2&cursor=%s", acc, cursor);
    r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1);
    cr_assert(json_is_null(json_object_get(r.json, "next_cursor")));
    kito_http_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/stones?seller=%s&species=garnet&min_weight_ct=1", acc);
    r = call("GET", path, NULL, NULL);
    items = json_object_get(r.json, "items");
    cr_assert_eq(json_array_size(items), 1, "%s", r.body);
    cr_assert_str_eq(str(json_array_get(items, 0), "variety"), "rhodolite");
    kito_http_resp_free(&r);

    snprintf(path, sizeof(path), "/v1/stones?seller=%s&country=KE&max_weight_ct=0.85", acc);
    r = call("GET", path, NULL, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "items")), 1, "%s", r.body);
    kito_http_resp_free(&r);

    static const char *const bad[] = {
        "/v1/stones?limit=101",          "/v1/stones?limit=0",
        "/v1/stones?species=ruby",       "/v1/stones?country=US",
        "/v1/stones?colour=red",         "/v1/stones?cursor=abc",
        "/v1/stones?min_weight_ct=1.5x", "/v1/stones?seller=stn_0000000000001",
        "/v1/stones?status=lost",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = call("GET", bad[i], NULL, NULL);
        kito_assert_error(&r, kito_http_status(KITO_E_VALIDATION), "validation_failed");
        kito_http_resp_free(&r);
    }
}

/* ---- photos ---------------------------------------------------------------------------------- */

Test(stones, photos_are_stored_by_content_and_cached)
{
    unsigned long long miner, other;
    char mt[44], ot[44], id[32], path[96], sha[65], url[128], hdr[128];
    person("miner", &miner, mt);
    person("miner", &other, ot);
    unsigned long long key = list_stone(mt, STONE_BODY, id);
    snprintf(path, sizeof(path), "/v1/stones/%s/photos", id);
    uint8_t png[256], jpeg[1024];
    size_t png_len = decode(PNG_B64, png, sizeof(png));
    size_t jpeg_len = decode(JPEG_B64, jpeg, sizeof(jpeg));

    struct kito_http_resp r = call_raw("POST", path, png, png_len, "image/png", mt);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    snprintf(sha, sizeof(sha), "%s", str(r.json, "sha256"));
    snprintf(url, sizeof(url), "%s", str(r.json, "url"));
    char want[65];
    kito_crypto_sha256_hex(png, png_len, want);
    cr_assert_str_eq(sha, want);
    kito_http_resp_free(&r);

    /* the same picture again: same name, no second row */
    r = call_raw("POST", path, png, png_len, "image/png", mt);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    cr_assert_str_eq(str(r.json, "sha256"), sha);
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM photos WHERE stone_id = %llu", key), 1);

    r = call_raw("POST", path, jpeg, jpeg_len, "image/jpeg", mt);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    kito_http_resp_free(&r);

    /* on disk under its name, written whole */
    char file[900];
    snprintf(file, sizeof(file), "%s/%.2s/%s", kito_harness_var("photos"), sha, sha);
    FILE *f = fopen(file, "rb");
    cr_assert(f != NULL, "%s missing", file);
    uint8_t disk[256];
    size_t n = fread(disk, 1, sizeof(disk), f);
    fclose(f);
    cr_assert_eq(n, png_len);
    cr_assert_eq(memcmp(disk, png, n), 0);

    /* served with its type and long cache headers */
    r = call("GET", url, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.body_len, png_len);
    cr_assert_eq(memcmp(r.body, png, png_len), 0);
    cr_assert(kito_http_header(&r, "content-type", hdr, sizeof(hdr)));
    cr_assert_str_eq(hdr, "image/png");
    cr_assert(kito_http_header(&r, "cache-control", hdr, sizeof(hdr)));
    cr_assert_str_eq(hdr, "public, max-age=31536000, immutable");
    cr_assert(kito_http_header(&r, "etag", hdr, sizeof(hdr)));
    char etag[80];
    snprintf(etag, sizeof(etag), "\"%s\"", sha);
    cr_assert_str_eq(hdr, etag);
    kito_http_resp_free(&r);

    char inm[120];
    snprintf(inm, sizeof(inm), "If-None-Match: \"%s\"", sha);
    const char *h[] = {inm, NULL};
    cr_assert_eq(kito_http(&kd, "GET", url, NULL, 0, h, 0, &r), 0);
    cr_assert_eq(r.status, 304);
    kito_http_resp_free(&r);

    /* the stone view lists them */
    char spath[64];
    snprintf(spath, sizeof(spath), "/v1/stones/%s", id);
    r = call("GET", spath, NULL, NULL);
    cr_assert_eq(json_array_size(json_object_get(r.json, "photos")), 2, "%s", r.body);
    kito_http_resp_free(&r);

    /* refusals: bytes that are not what the type says, a type that is not a picture, another
     * miner's stone, an unknown photo */
    long invalid = kito_http_status(KITO_E_VALIDATION);
    r = call_raw("POST", path, jpeg, jpeg_len, "image/png", mt);
    kito_assert_error(&r, invalid, "validation_failed");
    kito_http_resp_free(&r);
    static const char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!";
    r = call_raw("POST", path, gif, sizeof(gif) - 1, "image/png", mt);
    kito_assert_error(&r, invalid, "validation_failed");
    kito_http_resp_free(&r);
    r = call_raw("POST", path, gif, sizeof(gif) - 1, "image/gif", mt);
    kito_assert_error(&r, 415, "unsupported_media_type");
    kito_http_resp_free(&r);
    r = call_raw("POST", path, png, png_len, NULL, mt);
    kito_assert_error(&r, 415, "unsupported_media_type");
    kito_http_resp_free(&r);
    r = call_raw("POST", path, png, png_len, "image/png", ot);
    kito_assert_error(&r, 403, "forbidden");
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM photos WHERE stone_id = %llu", key), 2);
    r = call("GET", "/v1/photos/0000000000000000000000000000000000000000000000000000000000000000",
             NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/photos/not-a-sha", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}

/* Issue 16: photos sized for phones (api/adapters/thumbs.h): a JPEG that fits 160 or 640 px,
 * made once and kept beside the photo, cached like the photo; other sizes are not served. */
Test(stones, photos_are_served_sized_for_phones)
{
    unsigned long long miner;
    char mt[44], id[32], path[96], url[160], hdr[128];
    person("miner", &miner, mt);
    list_stone(mt, STONE_BODY, id);
    snprintf(path, sizeof(path), "/v1/stones/%s/photos", id);
    uint8_t png[256], jpeg[1024];
    size_t png_len = decode(PNG_B64, png, sizeof(png));
    size_t jpeg_len = decode(JPEG_B64, jpeg, sizeof(jpeg));
    const struct {
        const uint8_t *bytes;
        size_t len;
        const char *mime;
    } pics[] = {{png, png_len, "image/png"}, {jpeg, jpeg_len, "image/jpeg"}};
    for (size_t k = 0; k < 2; k++) {
        struct kito_http_resp r =
            call_raw("POST", path, pics[k].bytes, pics[k].len, pics[k].mime, mt);
        cr_assert(r.status == 201 || r.status == 200, "%ld %s", r.status, r.body);
        char sha[65];
        snprintf(sha, sizeof(sha), "%s", str(r.json, "sha256"));
        snprintf(url, sizeof(url), "%s/sized/160", str(r.json, "url"));
        kito_http_resp_free(&r);

        r = call("GET", url, NULL, NULL);
        cr_assert_eq(r.status, 200, "%s: %ld %s", url, r.status, r.body);
        cr_assert(r.body_len > 2 && (uint8_t)r.body[0] == 0xFF && (uint8_t)r.body[1] == 0xD8,
                  "%s: a JPEG", pics[k].mime);
        cr_assert(kito_http_header(&r, "content-type", hdr, sizeof(hdr)));
        cr_assert_str_eq(hdr, "image/jpeg");
        cr_assert(kito_http_header(&r, "cache-control", hdr, sizeof(hdr)));
        cr_assert_str_eq(hdr, "public, max-age=31536000, immutable");
        char etag[96];
        snprintf(etag, sizeof(etag), "\"%s-w160\"", sha);
        cr_assert(kito_http_header(&r, "etag", hdr, sizeof(hdr)));
        cr_assert_str_eq(hdr, etag);
        size_t first_len = r.body_len;
        kito_http_resp_free(&r);

        /* kept beside the photo, and the kept copy is what is answered */
        char file[900];
        snprintf(file, sizeof(file), "%s/%.2s/%s.w160.jpg", kito_harness_var("photos"), sha, sha);
        struct stat st;
        cr_assert_eq(stat(file, &st), 0, "%s", file);
        cr_assert_eq((size_t)st.st_size, first_len);
        r = call("GET", url, NULL, NULL);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(r.body_len, first_len);
        kito_http_resp_free(&r);

        char inm[120];
        snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
        const char *h[] = {inm, NULL};
        cr_assert_eq(kito_http(&kd, "GET", url, NULL, 0, h, 0, &r), 0);
        cr_assert_eq(r.status, 304);
        kito_http_resp_free(&r);

        snprintf(url, sizeof(url), "/v1/photos/%s/sized/640", sha);
        r = call("GET", url, NULL, NULL);
        cr_assert_eq(r.status, 200, "the large size");
        kito_http_resp_free(&r);
        static const char *const no[] = {"161", "0", "64000", "abc", "0160", "x160", "16a0"};
        for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
            snprintf(url, sizeof(url), "/v1/photos/%s/sized/%s", sha, no[i]);
            r = call("GET", url, NULL, NULL);
            cr_assert_eq(r.status, 404, "%s: %ld", url, r.status);
            kito_http_resp_free(&r);
        }
    }
    struct kito_http_resp r =
        call("GET",
             "/v1/photos/"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/sized/160",
             NULL, NULL);
    cr_assert_eq(r.status, 404, "an unknown photo");
    kito_http_resp_free(&r);
}

Test(stones, a_stone_holds_at_most_twenty_photos)
{
    unsigned long long miner;
    char mt[44], id[32], path[96];
    person("miner", &miner, mt);
    unsigned long long key = list_stone(mt, STONE_BODY, id);
    snprintf(path, sizeof(path), "/v1/stones/%s/photos", id);
    uint8_t png[256];
    size_t png_len = decode(PNG_B64, png, sizeof(png));
    /* 21 different pictures: the PNG with a distinct trailing byte after IEND each time */
    for (int i = 0; i < 21; i++) {
        uint8_t b[300];
        memcpy(b, png, png_len);
        b[png_len] = (uint8_t)i;
        b[png_len + 1] = (uint8_t)(key & 0xff);
        b[png_len + 2] = (uint8_t)(key >> 8);
        struct kito_http_resp r = call_raw("POST", path, b, png_len + 3, "image/png", mt);
        if (i < 20)
            cr_assert_eq(r.status, 201, "photo %d: %ld %s", i, r.status, r.body);
        else
            kito_assert_error(&r, 409, "conflict");
        kito_http_resp_free(&r);
    }
    cr_assert_eq(count("SELECT COUNT(*) FROM photos WHERE stone_id = %llu", key), 20);
}
