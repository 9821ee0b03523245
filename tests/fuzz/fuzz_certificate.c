/*
 * Fuzz target: the valuation-certificate request decoder (api/store/repo_certificates.h) and, on
 * the same bytes, the stone request decoder (api/store/repo_stones.h). Bytes go through
 * kito_json_parse as kitod's dispatcher does, then the decoders. Besides "no crash" it checks that
 * a refusal names a field with a valid UTF-8 reason, that an accepted certificate request is within
 * its documented ranges, and that its document always builds and has a canonical form (no reals,
 * nothing beyond 2^53), so an accepted request can always be signed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/common/canonical_json.h"
#include "api/http/json.h"
#include "api/store/repo_certificates.h"
#include "api/store/repo_stones.h"
#include "tests/fuzz/fuzz.h"

static void check_refusal(const kito_verr *ve)
{
    /* the field may be "" only for a member whose name is "" (kito_validate_object names it) */
    CHECK(ve->reason[0] != '\0');
    CHECK(kito_utf8_valid(ve->field, strlen(ve->field), NULL));
    CHECK(kito_utf8_valid(ve->reason, strlen(ve->reason), NULL));
}

static void certificate(const json_t *body)
{
    kito_certificate_request req;
    kito_verr ve = {{0}};
    kito_err e = kito_certificate_request_decode(body, &req, &ve);
    if (e != KITO_OK) {
        CHECK(e == KITO_E_VALIDATION);
        check_refusal(&ve);
        return;
    }
    CHECK(req.weight_cct >= 1 && req.weight_cct <= KITO_CARATS_MAX_HUNDREDTHS);
    CHECK(req.piece_count >= 1 && req.piece_count <= 100000);
    CHECK(req.value_low >= 1 && req.value_low <= req.value_high &&
          req.value_high <= KITO_AMOUNT_MAX);
    CHECK(req.photo_count <= KITO_STONE_PHOTOS_MAX);
    if (req.has_measurements)
        CHECK(req.length_um > 0 && req.length_um <= KITO_CERTIFICATE_MM_MAX_UM &&
              req.width_um > 0 && req.width_um <= KITO_CERTIFICATE_MM_MAX_UM && req.depth_um > 0 &&
              req.depth_um <= KITO_CERTIFICATE_MM_MAX_UM);
    CHECK(req.species != NULL && req.shape != NULL && req.color != NULL &&
          req.origin_country != NULL && req.currency != NULL);
    kito_certificate_meta meta = {.certificate_id = 1,
                                  .version = 1,
                                  .stone_id = 1,
                                  .valuer_id = 1,
                                  .valuer_name = "Valuer",
                                  .issued_at_ms = 1795791600000LL,
                                  .key_id = "0123456789abcdef"};
    json_t *doc = NULL;
    CHECK(kito_certificate_document(&req, &meta, &doc) == KITO_OK);
    char *text = NULL;
    size_t len = 0;
    CHECK(kito_canonical_json(doc, &text, &len) == KITO_OK);
    CHECK(len > 0 && text[0] == '{');
    free(text);
    json_decref(doc);
}

static void stone(const json_t *body, bool patch)
{
    kito_stone_input in;
    kito_verr ve = {{0}};
    kito_err e = kito_stone_input_decode(body, patch, &in, &ve);
    if (e != KITO_OK) {
        CHECK(e == KITO_E_VALIDATION);
        check_refusal(&ve);
        return;
    }
    if (!patch)
        CHECK(in.species != NULL && in.origin_country != NULL && in.weight_cct >= 1);
    if (in.given & KITO_STONE_F_WEIGHT)
        CHECK(in.weight_cct >= 1 && in.weight_cct <= KITO_CARATS_MAX_HUNDREDTHS);
    if (in.given & KITO_STONE_F_PIECES)
        CHECK(in.piece_count >= 1 && in.piece_count <= 100000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    char reason[KITO_JSON_REASON_SIZE];
    if (kito_json_parse((const char *)data, size, 65536, KITO_JSON_TOP_OBJECT, &body, reason) !=
        KITO_OK)
        return 0;
    certificate(body);
    stone(body, false);
    stone(body, true);
    json_decref(body);
    return 0;
}
