/*
 * Signed valuation certificates and provenance over HTTPS against the real MariaDB (issue 4;
 * DESIGN.md, "Valuation certificates"): a valuer certifies a stone; the certificate is fetched,
 * verified by the endpoint and offline with the openssl command line alone; a correction
 * supersedes it; tampering with a certificate or a provenance event in the database is reported.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common/crypto.h"
#include "api/common/qr_svg.h"
#include "api/http/http_error.h"
#include "api/common/validate.h"
#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(certificates, 120);

/* ---- helpers --------------------------------------------------------------------------------- */

#define call_raw(method, path, body, len, ctype, token)                                            \
    kito_harness_call_raw(&kd, token, method, path, body, len, ctype)
#define call(method, path, json, token) kito_harness_call_json(&kd, token, method, path, json)

static const char *str(const json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    cr_assert(s != NULL, "member %s missing", name);
    return s;
}

static bool flag(const json_t *o, const char *name)
{
    const json_t *v = json_object_get(o, name);
    cr_assert(json_is_boolean(v), "member %s is not a boolean", name);
    return json_is_true(v);
}

static unsigned long long count(const char *fmt, unsigned long long arg)
{
    char sql[512], out[32];
    snprintf(sql, sizeof(sql), fmt, arg);
    kito_harness_sql_value(out, sizeof(out), "%s", sql);
    return strtoull(out, NULL, 10);
}

/* The world of one test: a miner's stone with a photo, and a valuer. */
typedef struct world {
    unsigned long long miner, valuer, stone;
    char miner_token[44], valuer_token[44];
    char stone_id[32], photo[65];
} world;

static void make_world(world *w)
{
    w->miner = kito_harness_account("miner", NULL, 0);
    kito_harness_session(w->miner, w->miner_token);
    w->valuer = kito_harness_account("valuer", NULL, 0);
    kito_harness_session(w->valuer, w->valuer_token);
    struct kito_http_resp r = call(
        "POST", "/v1/stones",
        "{\"species\":\"zoisite\",\"variety\":\"tanzanite\",\"weight_ct\":\"3.2\","
        "\"origin\":{\"country\":\"TZ\",\"region\":\"Manyara\",\"site\":\"Mirerani Block D\"}}",
        w->miner_token);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    snprintf(w->stone_id, sizeof(w->stone_id), "%s", str(r.json, "id"));
    uint64_t key = 0;
    cr_assert_eq(kito_id_parse("stn", w->stone_id, &key), KITO_OK);
    w->stone = key;
    kito_http_resp_free(&r);

    static const char png_b64[] =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGPYYNUDAAMU"
        "AXdfnKGvAAAAAElFTkSuQmCC";
    uint8_t png[128];
    size_t n = 0;
    cr_assert_eq(
        kito_crypto_b64_decode(KITO_B64_STD, png_b64, strlen(png_b64), png, sizeof(png), &n),
        KITO_OK);
    char path[96];
    snprintf(path, sizeof(path), "/v1/stones/%s/photos", w->stone_id);
    r = call_raw("POST", path, png, n, "image/png", w->valuer_token);
    cr_assert(r.status == 201 || r.status == 200, "%ld %s", r.status, r.body);
    snprintf(w->photo, sizeof(w->photo), "%s", str(r.json, "sha256"));
    kito_http_resp_free(&r);
}

/* A certificate body for w's stone; extra is spliced in before the closing brace ("" or
 * ",\"supersedes\":\"crt_...\""). */
static void cert_body(const world *w, const char *weight, const char *extra, char *out, size_t cap)
{
    snprintf(out, cap,
             "{\"weight_ct\":\"%s\",\"piece_count\":1,\"shape\":\"oval\","
             "\"cutting_style\":\"mixed cut\",\"measurements_mm\":{\"length\":\"9.12\","
             "\"width\":7.05,\"depth\":\"4.80\"},\"color\":\"violetish blue\","
             "\"transparency\":\"transparent\",\"phenomenon\":null,\"treatment\":\"heated\","
             "\"species\":\"zoisite\",\"variety\":\"tanzanite\",\"geographic_origin\":"
             "{\"country\":\"TZ\",\"region\":\"Manyara\",\"site\":\"Mirerani Block D\"},"
             "\"photos\":[\"%s\"],\"estimated_value\":{\"low\":150000,\"high\":220000,"
             "\"currency\":\"USD\"},\"report_comments\":\"Minor inclusions.\\nNo fissures.\"%s}",
             weight, w->photo, extra);
}

/* Issues a certificate; returns its id text in id. */
static void issue(const world *w, const char *weight, const char *extra, char id[32])
{
    char body[2048], path[96];
    cert_body(w, weight, extra, body, sizeof(body));
    snprintf(path, sizeof(path), "/v1/stones/%s/certificates", w->stone_id);
    struct kito_http_resp r = call("POST", path, body, w->valuer_token);
    cr_assert_eq(r.status, 201, "%ld %s", r.status, r.body);
    snprintf(id, 32, "%s", str(r.json, "id"));
    kito_http_resp_free(&r);
}

static json_t *verify(const char *id)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/certificates/%s/verify", id);
    struct kito_http_resp r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    json_t *v = json_incref(r.json);
    kito_http_resp_free(&r);
    return v;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f != NULL, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/* ---- tests ----------------------------------------------------------------------------------- */

Test(certificates, issued_fetched_and_verified_online_and_offline)
{
    world w;
    make_world(&w);
    char id[32], path[96];
    issue(&w, "3.12", "", id);

    snprintf(path, sizeof(path), "/v1/certificates/%s", id);
    struct kito_http_resp r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    const json_t *doc = json_object_get(r.json, "certificate");
    cr_assert_str_eq(str(doc, "id"), id);
    cr_assert_str_eq(str(doc, "stone_id"), w.stone_id);
    cr_assert_str_eq(str(doc, "format"), "kito-certificate/1");
    cr_assert_eq(json_integer_value(json_object_get(doc, "version")), 1);
    cr_assert_eq(json_integer_value(json_object_get(doc, "weight_cct")), 312);
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(doc, "measurements_um"), "length")),
        9120);
    cr_assert_eq(
        json_integer_value(json_object_get(json_object_get(doc, "estimated_value"), "low")),
        150000);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(doc, "photos"), 0)), w.photo);
    cr_assert_str_eq(str(r.json, "algorithm"), "Ed25519");
    cr_assert(json_is_null(json_object_get(doc, "supersedes")));
    char acc[32];
    kito_id_format("acc", w.valuer, acc, sizeof(acc));
    cr_assert_str_eq(str(json_object_get(doc, "valuer"), "id"), acc);

    /* offline: the canonical bytes, the signature and the published key, openssl alone */
    const char *canonical = str(r.json, "canonical");
    const char *sig_b64 = str(r.json, "signature");
    uint8_t sig[64];
    size_t sig_len = 0;
    cr_assert_eq(
        kito_crypto_b64_decode(KITO_B64_STD, sig_b64, strlen(sig_b64), sig, sizeof(sig), &sig_len),
        KITO_OK);
    char key_id[32];
    snprintf(key_id, sizeof(key_id), "%s", str(r.json, "key_id"));
    struct kito_http_resp pem = call("GET", "/.well-known/kito-signing-key.pem", NULL, NULL);
    cr_assert_eq(pem.status, 200);
    cr_assert(strstr(pem.body, "-----BEGIN PUBLIC KEY-----") != NULL);

    char dir[600], doc_path[700], sig_path[700], pem_path[700], cmd[2600];
    snprintf(dir, sizeof(dir), "%s/cert-offline-%d", kito_harness_var("tmp"), (int)getpid());
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0);
    snprintf(doc_path, sizeof(doc_path), "%s/doc.json", dir);
    snprintf(sig_path, sizeof(sig_path), "%s/sig.bin", dir);
    snprintf(pem_path, sizeof(pem_path), "%s/pub.pem", dir);
    write_file(doc_path, canonical, strlen(canonical));
    write_file(sig_path, sig, sig_len);
    write_file(pem_path, pem.body, pem.body_len);
    snprintf(cmd, sizeof(cmd),
             "openssl pkeyutl -verify -pubin -inkey '%s' -rawin -in '%s' -sigfile '%s' >/dev/null "
             "2>&1",
             pem_path, doc_path, sig_path);
    cr_assert_eq(kito_harness_sh(cmd, NULL, 0), 0, "openssl refused a genuine certificate");
    /* one byte changed: 3.12 ct becomes 4.12 ct */
    char *forged = strdup(canonical);
    char *w312 = strstr(forged, "\"weight_cct\":312");
    cr_assert(w312 != NULL);
    w312[13] = '4';
    write_file(doc_path, forged, strlen(forged));
    free(forged);
    cr_assert_neq(kito_harness_sh(cmd, NULL, 0), 0, "openssl accepted a changed certificate");
    kito_http_resp_free(&pem);
    kito_http_resp_free(&r);

    /* the published key set names the key */
    r = call("GET", "/.well-known/kito-keys.json", NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(json_is_string(json_object_get(r.json, key_id)), "%s", r.body);
    kito_http_resp_free(&r);

    /* the endpoint agrees */
    json_t *v = verify(id);
    cr_assert(flag(v, "genuine"));
    cr_assert(flag(v, "current"));
    cr_assert(json_is_null(json_object_get(v, "superseded_by")));
    cr_assert(flag(v, "stone_provenance_intact"));
    json_decref(v);

    /* the stone is certified, described as the certificate says, with a 'valued' event */
    snprintf(path, sizeof(path), "/v1/stones/%s", w.stone_id);
    r = call("GET", path, NULL, NULL);
    cr_assert_str_eq(str(r.json, "certificate_id"), id);
    cr_assert_str_eq(str(r.json, "status"), "certified");
    cr_assert_str_eq(str(r.json, "weight_ct"), "3.12");
    kito_http_resp_free(&r);
    snprintf(path, sizeof(path), "/v1/stones/%s/provenance", w.stone_id);
    r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200);
    json_t *events = json_object_get(r.json, "events");
    cr_assert_eq(json_array_size(events), 2, "%s", r.body);
    cr_assert_str_eq(str(json_array_get(events, 0), "kind"), "found");
    cr_assert_str_eq(str(json_array_get(events, 1), "kind"), "valued");
    cr_assert_str_eq(str(json_array_get(events, 1), "prev_hash"),
                     str(json_array_get(events, 0), "hash"));
    cr_assert(flag(r.json, "intact"));
    cr_assert(json_is_null(json_object_get(r.json, "broken_at_seq")));
    kito_http_resp_free(&r);

    /* a certified stone's description is the certificate's: the seller edits notes only */
    snprintf(path, sizeof(path), "/v1/stones/%s", w.stone_id);
    r = call("PATCH", path, "{\"weight_ct\":\"5\"}", w.miner_token);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);
    r = call("PATCH", path, "{\"notes\":\"certified by Kito\"}", w.miner_token);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    kito_http_resp_free(&r);
}

Test(certificates, a_correction_supersedes_and_the_old_one_stays_genuine)
{
    world w;
    make_world(&w);
    char first[32], second[32], extra[96], body[2048], path[96];
    issue(&w, "3.12", "", first);

    /* a second certificate must say what it corrects */
    cert_body(&w, "3.15", "", body, sizeof(body));
    snprintf(path, sizeof(path), "/v1/stones/%s/certificates", w.stone_id);
    struct kito_http_resp r = call("POST", path, body, w.valuer_token);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    snprintf(extra, sizeof(extra), ",\"supersedes\":\"%s\"", first);
    issue(&w, "3.15", extra, second);
    cr_assert_str_neq(first, second);

    json_t *v = verify(first);
    cr_assert(flag(v, "genuine"), "an old certificate stays genuine");
    cr_assert(!flag(v, "current"));
    cr_assert_str_eq(str(v, "superseded_by"), second);
    json_decref(v);
    v = verify(second);
    cr_assert(flag(v, "genuine"));
    cr_assert(flag(v, "current"));
    json_decref(v);

    snprintf(path, sizeof(path), "/v1/certificates/%s", second);
    r = call("GET", path, NULL, NULL);
    const json_t *doc = json_object_get(r.json, "certificate");
    cr_assert_eq(json_integer_value(json_object_get(doc, "version")), 2);
    cr_assert_str_eq(str(doc, "supersedes"), first);
    kito_http_resp_free(&r);

    /* superseding the old one again would fork the chain */
    cert_body(&w, "3.16", extra, body, sizeof(body));
    snprintf(path, sizeof(path), "/v1/stones/%s/certificates", w.stone_id);
    r = call("POST", path, body, w.valuer_token);
    kito_assert_error(&r, 409, "conflict");
    kito_http_resp_free(&r);

    /* another stone's certificate is not this stone's to correct */
    world w2;
    make_world(&w2);
    cert_body(&w2, "3.16", extra, body, sizeof(body));
    snprintf(path, sizeof(path), "/v1/stones/%s/certificates", w2.stone_id);
    r = call("POST", path, body, w2.valuer_token);
    kito_assert_error(&r, kito_http_status(KITO_E_VALIDATION), "validation_failed");
    cr_assert(strstr(r.body, "supersedes") != NULL, "%s", r.body);
    kito_http_resp_free(&r);
    cr_assert_eq(count("SELECT COUNT(*) FROM certificates WHERE stone_id = %llu", w2.stone), 0);
    cr_assert_eq(count("SELECT COUNT(*) FROM certificates WHERE stone_id = %llu", w.stone), 2);

    snprintf(path, sizeof(path), "/v1/stones/%s", w.stone_id);
    r = call("GET", path, NULL, NULL);
    cr_assert_str_eq(str(r.json, "certificate_id"), second);
    cr_assert_str_eq(str(r.json, "weight_ct"), "3.15");
    kito_http_resp_free(&r);
}

Test(certificates, tampering_is_detected)
{
    world w;
    make_world(&w);
    char id[32];
    issue(&w, "3.12", "", id);
    uint64_t key;
    cr_assert_eq(kito_id_parse("crt", id, &key), KITO_OK);

    /* the stored document changed behind the signature's back */
    kito_harness_sql("UPDATE certificates SET canonical_json = REPLACE(canonical_json,"
                     " '\"weight_cct\":312', '\"weight_cct\":412') WHERE id = %llu",
                     (unsigned long long)key);
    json_t *v = verify(id);
    cr_assert(!flag(v, "genuine"));
    cr_assert(flag(v, "stone_provenance_intact"));
    json_decref(v);

    /* a provenance event's payload changed: the chain breaks there */
    kito_harness_sql("UPDATE provenance_events SET payload_json = REPLACE(payload_json,"
                     " '\"weight_cct\":320', '\"weight_cct\":9999') WHERE stone_id = %llu"
                     " AND seq = 1",
                     w.stone);
    v = verify(id);
    cr_assert(!flag(v, "stone_provenance_intact"));
    json_decref(v);
    char path[96];
    snprintf(path, sizeof(path), "/v1/stones/%s/provenance", w.stone_id);
    struct kito_http_resp r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200);
    cr_assert(!flag(r.json, "intact"));
    cr_assert_eq(json_integer_value(json_object_get(r.json, "broken_at_seq")), 1, "%s", r.body);
    kito_http_resp_free(&r);

    /* a genuine document copied onto another certificate's row is not genuine there */
    world w2;
    make_world(&w2);
    char id2[32];
    issue(&w2, "1.00", "", id2);
    uint64_t key2;
    cr_assert_eq(kito_id_parse("crt", id2, &key2), KITO_OK);
    world w3;
    make_world(&w3);
    char id3[32];
    issue(&w3, "2.00", "", id3);
    uint64_t key3;
    cr_assert_eq(kito_id_parse("crt", id3, &key3), KITO_OK);
    kito_harness_sql("UPDATE certificates c3 JOIN certificates c2 ON c2.id = %llu"
                     " SET c3.canonical_json = c2.canonical_json, c3.signature = c2.signature"
                     " WHERE c3.id = %llu",
                     (unsigned long long)key2, (unsigned long long)key3);
    v = verify(id3);
    cr_assert(!flag(v, "genuine"));
    json_decref(v);
    v = verify(id2);
    cr_assert(flag(v, "genuine"));
    json_decref(v);
}

Test(certificates, row_rules_and_bad_requests_change_nothing)
{
    world w;
    make_world(&w);
    char body[2048], path[96];
    long invalid = kito_http_status(KITO_E_VALIDATION);
    snprintf(path, sizeof(path), "/v1/stones/%s/certificates", w.stone_id);

    static const struct {
        const char *from, *to, *field;
    } edits[] = {
        {"\"weight_ct\":\"3.12\"", "\"weight_ct\":\"3.125\"", "weight_ct"},
        {"\"length\":\"9.12\"", "\"length\":\"9.123\"", "measurements_mm.length"},
        {"\"width\":7.05", "\"width\":0", "measurements_mm.width"},
        {"\"depth\":\"4.80\"", "\"depth\":\"4.80\",\"girdle\":1", "measurements_mm.girdle"},
        {"\"high\":220000", "\"high\":100000", "estimated_value.high"},
        {"\"low\":150000", "\"low\":-5", "estimated_value.low"},
        {"\"currency\":\"USD\"", "\"currency\":\"XAU\"", "estimated_value.currency"},
        {"\"transparency\":\"transparent\"", "\"transparency\":\"clear\"", "transparency"},
        {"\"species\":\"zoisite\"", "\"species\":\"diamond\"", "species"},
        {"\"country\":\"TZ\"", "\"country\":\"BR\"", "geographic_origin.country"},
        {"\"shape\":\"oval\",", "", "shape"},
        {"\"piece_count\":1", "\"piece_count\":1,\"grade\":\"AAA\"", "grade"},
        {"\"piece_count\":1", "\"piece_count\":1,\"supersedes\":\"stn_0000000000001\"",
         "supersedes"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        char good[2048];
        cert_body(&w, "3.12", "", good, sizeof(good));
        char *at = strstr(good, edits[i].from);
        cr_assert(at != NULL, "case %zu", i);
        snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - good), good, edits[i].to,
                 at + strlen(edits[i].from));
        struct kito_http_resp r = call("POST", path, body, w.valuer_token);
        kito_assert_error(&r, invalid, "validation_failed");
        cr_assert(strstr(r.body, edits[i].field) != NULL, "case %zu: %s", i, r.body);
        kito_http_resp_free(&r);
    }

    /* a photo that is not this stone's */
    cert_body(&w, "3.12", "", body, sizeof(body));
    char *ph = strstr(body, w.photo);
    memcpy(ph, "00000000", 8);
    struct kito_http_resp r = call("POST", path, body, w.valuer_token);
    kito_assert_error(&r, invalid, "validation_failed");
    cr_assert(strstr(r.body, "photos[0]") != NULL, "%s", r.body);
    kito_http_resp_free(&r);

    /* an unknown stone */
    cert_body(&w, "3.12", "", body, sizeof(body));
    r = call("POST", "/v1/stones/stn_00000000zzzzz/certificates", body, w.valuer_token);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    cr_assert_eq(count("SELECT COUNT(*) FROM certificates WHERE stone_id = %llu", w.stone), 0);
    cr_assert_eq(count("SELECT COUNT(*) FROM provenance_events WHERE stone_id = %llu", w.stone), 1);

    r = call("GET", "/v1/certificates/crt_00000000zzzzz", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/certificates/stn_0000000000001/verify", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/stones/stn_00000000zzzzz/provenance", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}

/* Issue 17: the printable certificate's QR code is this server's verify page for it, at the
 * configured public address (here the default, localhost and the HTTPS port); the symbol's
 * decoding is tests/unit/common/test_qr_svg.c's, and the browser test scans the printed page. */
Test(certificates, qr_code_encodes_the_verify_page)
{
    world w;
    make_world(&w);
    char id[32], path[96];
    issue(&w, "3.12", "", id);
    snprintf(path, sizeof(path), "/v1/certificates/%s/qr.svg", id);
    struct kito_http_resp r = call("GET", path, NULL, NULL);
    cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
    char value[64];
    cr_assert(kito_http_header(&r, "content-type", value, sizeof(value)));
    cr_assert_str_eq(value, "image/svg+xml");
    char url[128];
    snprintf(url, sizeof(url), "https://localhost:%d/verify.html?id=%s", kd.https_port, id);
    char *want = kito_qr_svg(url, NULL);
    cr_assert_not_null(want);
    cr_assert_str_eq(r.body, want);
    free(want);
    kito_http_resp_free(&r);

    r = call("GET", "/v1/certificates/crt_0000000000zzz/qr.svg", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    r = call("GET", "/v1/certificates/stn_0000000000001/qr.svg", NULL, NULL);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
}
