/*
 * Signed valuation certificates (DESIGN.md, "Valuation certificates"; field names follow GIA's
 * report results, DEMO-DATA.md "Certificate vocabulary").
 *
 * A certificate is a JSON document the server builds from a valuer's request, writes in canonical
 * form (api/common/canonical_json.h) and signs with the platform's Ed25519 key
 * (api/common/crypto.h). The row keeps exactly the signed bytes, the signature and the key id; it
 * never changes. A correction is a new version that supersedes the current one (schemas/003: one
 * chain per stone, the highest version is current). Anyone can check a certificate offline:
 *
 *     openssl pkeyutl -verify -pubin -inkey kito-signing-key.pem -rawin \
 *         -in canonical.json -sigfile signature.bin       # signature.bin = base64 -d of it
 *
 * The document (version 1 of the format; integers only, so the canonical form is exact):
 *   {"format": "kito-certificate/1", "id": "crt_...", "version": 1, "supersedes": null|"crt_...",
 *    "stone_id": "stn_...", "issued_at": "2026-11-27T15:00:00.250Z", "key_id": "<16 hex>",
 *    "valuer": {"id": "acc_...", "name": "..."},
 *    "species", "variety", "weight_cct" (hundredths of a carat), "piece_count", "shape",
 *    "cutting_style", "measurements_um": {"length", "width", "depth"} (micrometres) | null,
 *    "color", "transparency", "phenomenon", "treatment",
 *    "geographic_origin": {"country", "region", "site"}, "photos": [sha256 hex...],
 *    "estimated_value": {"low", "high" (minor units), "currency"}, "report_comments"}
 * Optional members that were not given are null, so every version-1 document has every member.
 *
 * Decoding and building are pure (any thread). Functions taking a kito_db_conn run on a MySQL
 * worker (api/http/req_db.h); a kito_signer may be shared by threads.
 */
#ifndef KITO_REPO_CERTIFICATES_H
#define KITO_REPO_CERTIFICATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/crypto.h"
#include "api/store/db.h"
#include "api/store/repo_stones.h"
#include "api/common/validate.h"
#include "engine/err.h"

#define KITO_CERTIFICATE_FORMAT "kito-certificate/1"
/* Longest report_comments, in code points. */
#define KITO_CERTIFICATE_COMMENTS_MAX 2000
/* Largest measurement: 1000.00 mm, in micrometres. */
#define KITO_CERTIFICATE_MM_MAX_UM 1000000

/* GIA transparency terms, NULL-terminated. */
extern const char *const kito_certificate_transparencies[];

/* A decoded POST /v1/stones/{id}/certificates body. Strings are borrowed from the JSON body;
 * NULL = not given. */
typedef struct kito_certificate_request {
    const char *species;
    const char *variety;
    int64_t weight_cct;
    int64_t piece_count; /* 1 when not given */
    const char *shape;
    const char *cutting_style;
    bool has_measurements;
    int64_t length_um, width_um, depth_um; /* from mm with at most 2 decimals */
    const char *color;
    const char *transparency;
    const char *phenomenon;
    const char *treatment;
    const char *origin_country; /* KE TZ ZM MW */
    const char *origin_region;
    const char *origin_site;
    const char *photos[KITO_STONE_PHOTOS_MAX]; /* sha256 hex, distinct */
    size_t photo_count;
    int64_t value_low, value_high; /* minor units, low <= high */
    const char *currency;
    const char *report_comments;
    uint64_t supersedes_id; /* 0 = a first certificate */
} kito_certificate_request;

/* Decodes and validates a request body (strict: unknown members refused). Required: weight_ct,
 * shape, color, species, geographic_origin.country, estimated_value {low, high, currency}.
 * KITO_E_VALIDATION with ve naming the field. body is borrowed and must outlive *req. */
kito_err kito_certificate_request_decode(const json_t *body, kito_certificate_request *req,
                                         kito_verr *ve);

/* Who and when: what the server adds to the valuer's fields. */
typedef struct kito_certificate_meta {
    uint64_t certificate_id;
    uint32_t version;
    uint64_t supersedes_id; /* 0 = none */
    uint64_t stone_id;
    uint64_t valuer_id;
    const char *valuer_name;
    int64_t issued_at_ms;
    const char *key_id;
} kito_certificate_meta;

/* Builds the document above (a new reference in *out). KITO_E_VALIDATION if a meta value cannot
 * be rendered (key 0, time out of range), KITO_E_NOMEM. */
kito_err kito_certificate_document(const kito_certificate_request *req,
                                   const kito_certificate_meta *meta, json_t **out);

/* Issues a certificate for a stone, in one transaction: checks the chain (a stone's first
 * certificate has no supersedes, else KITO_E_CONFLICT; a correction must supersede the stone's
 * current certificate: an older one is KITO_E_CONFLICT, another stone's KITO_E_VALIDATION), that
 * every photo is one of this stone's (KITO_E_VALIDATION naming photos[i]) and that the stone is
 * not in a live lot or sold (KITO_E_CONFLICT); registers the signer's key in signing_keys; writes
 * the row with the canonical document and its signature; brings the stone's description in line
 * with the certificate (status draft becomes certified); appends a 'valued' provenance event and
 * the audit row. *certificate_id gets the new key. KITO_E_NOT_FOUND for an unknown stone. */
kito_err kito_certificate_issue(kito_db_conn *db, const kito_signer *signer, uint64_t stone_id,
                                const kito_certificate_request *req, uint64_t valuer_id,
                                const char *ip, uint64_t *certificate_id, kito_verr *ve);

/* GET /v1/certificates/{id}: {"id", "stone_id", "version", "certificate": the signed document,
 * "canonical": the exact signed string, "signature": base64, "key_id", "algorithm": "Ed25519",
 * "superseded_by": id | null}. KITO_E_NOT_FOUND for an unknown id. */
kito_err kito_certificate_read(kito_db_conn *db, uint64_t certificate_id, json_t **out);

/* GET /v1/certificates/{id}/verify: {"certificate_id", "genuine", "current", "superseded_by",
 * "stone_id", "stone_provenance_intact", "key_id"}. genuine: the signature is valid over the
 * stored canonical bytes with key_id's public key (the running signer's own key when key_id is
 * its, else signing_keys), and the signed document names this certificate, its stone and its
 * version (so a valid document copied onto another row is not genuine). KITO_E_NOT_FOUND. */
kito_err kito_certificate_verify(kito_db_conn *db, const kito_signer *signer,
                                 uint64_t certificate_id, json_t **out);

/* Registers signer's public key in signing_keys (INSERT IGNORE). Errors as api/store/sql.h. */
kito_err kito_signing_key_register(kito_db_conn *db, const kito_signer *signer);

/* {key_id: public key base64, ...}: every key in signing_keys plus the signer's own. */
kito_err kito_signing_keys_list(kito_db_conn *db, const kito_signer *signer, json_t **out);

#endif
