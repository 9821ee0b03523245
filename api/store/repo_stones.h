/*
 * Stones and their photos in MySQL (schemas/003_stones_certificates.sql, 005_stone_notes.sql):
 * listing a stone, reading and filtering them, editing, attaching photos. Row rules live here
 * (api/http/auth.h: the route table says which roles may call; this module says which rows):
 *   - a miner lists her own stones; a valuer lists on a miner's behalf and names her (seller_id);
 *   - the seller herself or any valuer edits a stone or adds photos; others get KITO_E_FORBIDDEN;
 *   - a stone in a lot that is not unsold or withdrawn (lots.live_stone_id), or sold, is not
 *     edited (KITO_E_CONFLICT); once certified, only its notes change: the physical description
 *     is the current certificate's (a correction is a superseding certificate, which updates it).
 *
 * Decoders are pure (any thread); functions taking a kito_db_conn run on a MySQL worker
 * (api/http/req_db.h) and open their own transaction for a change (one per change, with the audit
 * row and the provenance event in it).
 */
#ifndef KITO_REPO_STONES_H
#define KITO_REPO_STONES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/crypto.h"
#include "api/store/db.h"
#include "api/common/query.h"
#include "api/common/validate.h"
#include "engine/err.h"

/* Photos one stone may have; the 21st upload is refused with KITO_E_CONFLICT. */
#define KITO_STONE_PHOTOS_MAX 20
/* Notes: at most this many code points. */
#define KITO_STONE_NOTES_MAX 2000
/* Stones one list page may hold, and the default page. */
#define KITO_STONE_PAGE_MAX 100
#define KITO_STONE_PAGE_DEFAULT 20

/* The species a stone may be (GIA names; the CHECK of schemas/003), NULL-terminated. */
extern const char *const kito_stone_species[];
/* The statuses a stone may have, NULL-terminated. */
extern const char *const kito_stone_statuses[];

/* Which members of a kito_stone_input were given (PATCH changes only those). */
enum {
    KITO_STONE_F_SPECIES = 1u << 0,
    KITO_STONE_F_VARIETY = 1u << 1,
    KITO_STONE_F_WEIGHT = 1u << 2,
    KITO_STONE_F_PIECES = 1u << 3,
    KITO_STONE_F_SHAPE = 1u << 4,
    KITO_STONE_F_COLOUR = 1u << 5,
    KITO_STONE_F_ORIGIN = 1u << 6, /* country, region and site together */
    KITO_STONE_F_NOTES = 1u << 7,
    KITO_STONE_F_SELLER = 1u << 8,
};
/* The fields a certificate fixes (everything but notes and seller). */
#define KITO_STONE_F_PHYSICAL 0x7fu

/* A decoded POST or PATCH body. Strings are borrowed from the JSON body (keep it alive while the
 * input is used); NULL means "none" (PATCH: cleared) for the optional ones. */
typedef struct kito_stone_input {
    unsigned given; /* KITO_STONE_F_* */
    const char *species;
    const char *variety;
    int64_t weight_cct; /* hundredths of a carat */
    int64_t piece_count;
    const char *shape;
    const char *colour;
    const char *origin_country; /* KE TZ ZM MW */
    const char *origin_region;
    const char *origin_site;
    const char *notes;
    uint64_t seller_id; /* 0 = not given */
    /* the best price a local buyer offered her (USSD "list a stone", api/phone/ussd.h): minor
     * units of local_offer_currency; 0 = none. Create only; the JSON decoder leaves it 0. */
    int64_t local_offer_minor;
    const char *local_offer_currency;
} kito_stone_input;

/* Decodes a POST /v1/stones body (patch false: species, weight_ct and origin.country required,
 * piece_count defaults to 1) or a PATCH body (patch true: any subset, at least one member; no
 * seller_id). Unknown members, wrong types, bad values: KITO_E_VALIDATION with ve naming the
 * field. body is borrowed and must outlive *in. */
kito_err kito_stone_input_decode(const json_t *body, bool patch, kito_stone_input *in,
                                 kito_verr *ve);

/* Lists a stone for the caller (actor_role one KITO_ROLE_* bit): a miner for herself (seller_id
 * absent or her own, else KITO_E_FORBIDDEN), a valuer for the miner seller_id names (required;
 * KITO_E_VALIDATION naming seller_id when absent or not an active miner). Writes the stone, its
 * 'found' provenance event and the audit row in one transaction; *stone_id gets the new key.
 * Errors as api/store/sql.h otherwise. ip may be NULL. */
kito_err kito_stone_create(kito_db_conn *db, const kito_stone_input *in, uint64_t actor_id,
                           unsigned actor_role, const char *ip, uint64_t *stone_id, kito_verr *ve);

/* Applies a PATCH under the row rules above (KITO_E_NOT_FOUND, KITO_E_FORBIDDEN,
 * KITO_E_CONFLICT with a reason in ve->reason). One transaction with its audit row. */
kito_err kito_stone_update(kito_db_conn *db, uint64_t stone_id, const kito_stone_input *in,
                           uint64_t actor_id, unsigned actor_role, const char *ip, kito_verr *ve);

/* The public view of a stone: id, seller_id, listed_by, species, variety, weight_ct ("3.12"),
 * weight_cct (312), piece_count, shape, colour, origin {country, region, site}, notes, status,
 * certificate_id (current, or null), photos [{sha256, url, mime, bytes}], created_at, updated_at.
 * *out owns a new reference. KITO_E_NOT_FOUND when there is no such stone. */
kito_err kito_stone_view(kito_db_conn *db, uint64_t stone_id, json_t **out);

/* Filters of GET /v1/stones; zero/NULL members do not filter. */
typedef struct kito_stone_filter {
    const char *species;
    const char *country;
    const char *status;
    uint64_t seller_id;
    /* an organiser: only stones with a live offer to her or one of her draft sales that can go
     * into a lot now (a current certificate, not sold or withdrawn, in no lot that is neither
     * unsold nor withdrawn; api/store/repo_offers.h) */
    uint64_t offered_to;
    int64_t min_weight_cct, max_weight_cct; /* 0 = unbounded */
    bool after_given;                       /* continue after this cursor (newest first) */
    kito_cursor after;
    uint32_t limit; /* 1..KITO_STONE_PAGE_MAX */
} kito_stone_filter;

/* One page of stones, newest first: *items a new array of list views (the view above without
 * notes and photos, with cover_photo: the first photo's URL or null); *more says whether another
 * page follows and *next is then the cursor position of the last item. */
kito_err kito_stone_list(kito_db_conn *db, const kito_stone_filter *f, json_t **items, bool *more,
                         kito_cursor *next);

/* Attaches a photo to a stone: the seller or a valuer (else KITO_E_FORBIDDEN), at most
 * KITO_STONE_PHOTOS_MAX per stone (KITO_E_CONFLICT). bytes (len, mime from kito_photo_detect) are
 * written under photo_dir by SHA-256 (api/adapters/photos.h) and a photos row added with an audit
 * row, in one transaction. The same picture twice on one stone is no second row: *created is false
 * and nothing is written. sha gets the SHA-256 hex. KITO_E_NOT_FOUND for an unknown stone;
 * KITO_E_IO when the file cannot be written. */
kito_err kito_stone_photo_add(kito_db_conn *db, uint64_t stone_id, uint64_t actor_id,
                              unsigned actor_role, const char *photo_dir, const void *bytes,
                              size_t len, const char *mime, const char *ip,
                              char sha[KITO_SHA256_HEX_SIZE], bool *created);

/* *exists says whether the stone exists. Errors as api/store/sql.h. */
kito_err kito_stone_exists(kito_db_conn *db, uint64_t stone_id, bool *exists);

/* The MIME type and size of a stored photo by SHA-256 hex (any stone). KITO_E_NOT_FOUND if no
 * photos row has it. mime gets at most 15 characters. */
kito_err kito_stone_photo_find(kito_db_conn *db, const char *sha, char mime[16], uint64_t *bytes);

#endif
