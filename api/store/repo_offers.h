/*
 * Consent: a miner's offers of her stones to organisers and sales (issue 15; DESIGN.md,
 * "Settlement and payouts": "a stone enters a sale only when its miner (or her association's
 * agent on her behalf, recorded as such) has offered it to that organiser or sale";
 * schemas/012_stone_offers.sql). The request decoder (pure) and the repository.
 *
 * Row rules (the route table says which roles may call; this module says which rows):
 *   - an offer is made, and withdrawn, by the stone's miner herself or by the valuer who listed
 *     the stone for her (stones.listed_by), recorded as on her behalf. No other valuer, and no
 *     operator, may speak for her: nothing in Kito ties them to her or her association, and any
 *     valuer may certify any stone, so certifying is not consent. Others get KITO_E_FORBIDDEN;
 *   - an offer goes to one organiser (any of her sales) or to one draft sale (that sale only);
 *   - only a stone that can go into a lot now is offered: it has a current certificate, is not
 *     sold or withdrawn, and is in no lot that is neither unsold nor withdrawn (KITO_E_CONFLICT);
 *   - the same live offer made again is no new row (*created false); after a withdrawal, a new
 *     offer is a new row and the withdrawn one stays as history;
 *   - an offer is withdrawn while its stone is in no such lot (KITO_E_CONFLICT otherwise): a sale
 *     that holds the stone holds it on the consent it was given;
 *   - a stone's offers are seen by its miner, the listing valuer and operators; an organiser sees
 *     the ones made to her.
 * The offer stays live after its stone goes into a lot: if the lot is withdrawn or unsold, the
 * same organiser may lot the stone again (DESIGN.md: a stone "can be offered again after it fails
 * to sell") until the miner withdraws the offer.
 *
 * Every offer and withdrawal writes its audit row (api/store/audit.h; "stone.offer",
 * "stone.offer_withdraw") in its own transaction; a refused request writes nothing. Every change
 * locks the stone's row, as api/store/repo_lots.c does before it checks consent
 * (kito_offers_consent), so a lot and a withdrawal of its offer never both succeed; an offer to a
 * sale locks the sale (shared) before the stone, the order a lot locks them in.
 *
 * Threads: the decoder anywhere; the rest on a MySQL worker (api/req_db.h).
 */
#ifndef KITO_REPO_OFFERS_H
#define KITO_REPO_OFFERS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/query.h"
#include "api/common/validate.h"
#include "api/store/db.h"
#include "api/store/repo_sales.h"
#include "engine/err.h"

#define KITO_ID_OFFER "ofr"

/* Offers one list page may hold, and the default page. */
#define KITO_OFFER_PAGE_MAX 100
#define KITO_OFFER_PAGE_DEFAULT 20

/* POST /v1/stones/{id}/offers, decoded: exactly one of the two is non-zero. */
typedef struct kito_offer_input {
    uint64_t organizer_id; /* to this organiser: any of her sales */
    uint64_t sale_id;      /* to this sale only */
} kito_offer_input;

/* Decodes {"organizer_id": "acc_..."} or {"sale_id": "sal_..."} (one, not both).
 * KITO_E_VALIDATION with ve naming the field; pure; body borrowed. */
kito_err kito_offer_decode(const json_t *body, kito_offer_input *out, kito_verr *ve);

/* Offers stone_id as in (rules above). *created is true when a new offer was written, false when
 * the same live offer already stood (nothing written). *out gets the offer's view (new reference):
 * {id, stone_id, miner_id, organizer_id, sale_id (or null), offered_by, on_behalf (true when an
 * agent made it for the miner), created_at, withdrawn_at, withdrawn_by, live}.
 * Errors: KITO_E_NOT_FOUND (no such stone), KITO_E_FORBIDDEN (not the miner or her listing
 * valuer), KITO_E_VALIDATION (organizer_id not an active organiser, sale_id not a sale),
 * KITO_E_CONFLICT (the stone cannot go into a lot now, or the sale is not a draft); ve->reason
 * says which. */
kito_err kito_offers_make(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                          const kito_offer_input *in, bool *created, json_t **out, kito_verr *ve);

/* One page of stone_id's offers that actor may see, newest first: *items a new array of views,
 * *more whether another page follows (then *next is the cursor position of the last item).
 * after (may be NULL) continues after a cursor; limit 1..KITO_OFFER_PAGE_MAX.
 * KITO_E_NOT_FOUND (no such stone), KITO_E_FORBIDDEN (a miner or valuer not speaking for it). */
kito_err kito_offers_list(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                          const kito_cursor *after, uint32_t limit, json_t **items, bool *more,
                          kito_cursor *next);

/* Withdraws offer offer_id of stone_id and reads it into *out (new reference). An offer already
 * withdrawn is answered as it is (nothing written). KITO_E_NOT_FOUND (no such stone, or the offer
 * is not this stone's), KITO_E_FORBIDDEN, KITO_E_CONFLICT (the stone is in a lot). */
kito_err kito_offers_withdraw(kito_db_conn *db, const kito_actor *actor, uint64_t stone_id,
                              uint64_t offer_id, json_t **out, kito_verr *ve);

/* Inside the caller's transaction, after it has locked stone_id's row: the live offer that lets
 * the stone into sale sale_id of organizer_id (one to that sale, preferred, or one to the
 * organiser) into *offer_id. KITO_E_NO_CONSENT when there is none. A locking read, so it sees
 * the latest committed withdrawal whatever the transaction's snapshot. */
kito_err kito_offers_consent(kito_db_conn *db, uint64_t stone_id, uint64_t organizer_id,
                             uint64_t sale_id, uint64_t *offer_id);

/* Adds to every stone view in items (an array of objects whose "id" is a stone id, borrowed) the
 * live offers made to organizer_id that can still fill a lot: "offers": [{id, sale_id (or
 * null), created_at}], to her (sale_id null) or to one of her draft sales. */
kito_err kito_offers_attach(kito_db_conn *db, uint64_t organizer_id, json_t *items);

#endif
