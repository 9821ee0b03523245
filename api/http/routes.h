/*
 * Every handler kitod serves, declared here so that the route table (api/http/routes.c) — which is
 * also the authorization matrix — stands in one place. Handlers live in the routes_<area>.c
 * files and follow api/http/router.h's kito_handler_fn contract.
 */
#ifndef KITO_ROUTES_H
#define KITO_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "api/http/request.h"
#include "api/http/router.h"

/* The route table: *count gets its length. cfg-dependent limits are filled from json_body_max. */
const kito_route *kito_routes_table(size_t json_body_max, size_t *count);

/* ---- system (routes_system.c) ---- */
kito_err kito_get_healthz(kito_req *r);
kito_err kito_get_metrics(kito_req *r);
kito_err kito_post_echo(kito_req *r);

/* ---- accounts and sessions (routes_accounts.c) ---- */
/* POST /v1/accounts (public): a miner or buyer registers; 201 with the account. */
kito_err kito_post_accounts(kito_req *r);
/* POST /v1/sessions (public): sign in; 201 {token, expires_at, account}; 401, 429. */
kito_err kito_post_sessions(kito_req *r);
/* DELETE /v1/sessions/current (any role): sign out; 204. */
kito_err kito_delete_sessions_current(kito_req *r);
/* GET /v1/accounts/me (any role): the caller's account. */
kito_err kito_get_accounts_me(kito_req *r);
/* PATCH /v1/accounts/me (any role): name, locale, a miner's payout wallet. */
kito_err kito_patch_accounts_me(kito_req *r);
/* POST /v1/accounts/me/secret (any role): change the PIN or password; revokes other sessions. */
kito_err kito_post_accounts_me_secret(kito_req *r);
/* GET /v1/associations (public): the miners' associations, paginated. */
kito_err kito_get_associations(kito_req *r);
/* POST /v1/associations (operator): create an association. */
kito_err kito_post_associations(kito_req *r);

/* ---- stones, photos, certificates, provenance (routes_stones.c) ---- */
kito_err kito_post_stones(kito_req *r);      /* POST /v1/stones */
kito_err kito_get_stones(kito_req *r);       /* GET /v1/stones */
kito_err kito_get_stone(kito_req *r);        /* GET /v1/stones/{id} */
kito_err kito_patch_stone(kito_req *r);      /* PATCH /v1/stones/{id} */
kito_err kito_post_stone_photo(kito_req *r); /* POST /v1/stones/{id}/photos (raw body) */
kito_err kito_get_photo(kito_req *r);
kito_err kito_get_photo_sized(kito_req *r);        /* GET /v1/photos/{sha256} */
kito_err kito_post_stone_certificate(kito_req *r); /* POST /v1/stones/{id}/certificates */
kito_err kito_get_certificate(kito_req *r);        /* GET /v1/certificates/{id} */
kito_err kito_get_certificate_verify(kito_req *r); /* GET /v1/certificates/{id}/verify */
kito_err kito_get_certificate_qr_svg(kito_req *r); /* GET /v1/certificates/{id}/qr.svg */
kito_err kito_get_stone_provenance(kito_req *r);   /* GET /v1/stones/{id}/provenance */
kito_err kito_get_signing_key_pem(kito_req *r);    /* GET /.well-known/kito-signing-key.pem */
kito_err kito_get_signing_keys(kito_req *r);       /* GET /.well-known/kito-keys.json */

/* ---- consent: offers of stones to organisers and sales (routes_offers.c) ---- */
/* POST /v1/stones/{id}/offers (miner, her listing valuer): {"organizer_id"} or {"sale_id"};
 * 201 new, 200 the same live offer again; 403, 404, 409, 422. */
kito_err kito_post_stone_offers(kito_req *r);
/* GET /v1/stones/{id}/offers (miner, listing valuer, operator: all; organiser: hers); paginated. */
kito_err kito_get_stone_offers(kito_req *r);
/* DELETE /v1/stones/{id}/offers/{offer_id} (miner, listing valuer): 200 withdrawn; 409 in a lot. */
kito_err kito_delete_stone_offer(kito_req *r);
/* GET /v1/me/offered-stones (organiser): stones offered to her that can go into a lot now. */
kito_err kito_get_me_offered_stones(kito_req *r);

/* ---- sales, lots, approvals (routes_sales.c) ---- */
kito_err kito_post_sales(kito_req *r);              /* new draft sale (organizer) */
kito_err kito_get_sales(kito_req *r);               /* list: public + own drafts */
kito_err kito_get_sale(kito_req *r);                /* one sale: public, drafts to the owner */
kito_err kito_patch_sale(kito_req *r);              /* change a draft (owner) */
kito_err kito_post_sale_publish(kito_req *r);       /* draft -> published (owner) */
kito_err kito_post_sale_cancel(kito_req *r);        /* cancel before the start (owner) */
kito_err kito_post_sale_lots(kito_req *r);          /* add a lot to a draft (owner) */
kito_err kito_get_sale_lots(kito_req *r);           /* a sale's lots, running order (public) */
kito_err kito_post_sale_lots_order(kito_req *r);    /* reorder a draft's lots (owner) */
kito_err kito_get_lot(kito_req *r);                 /* one lot (public; reserve to the owner) */
kito_err kito_patch_lot(kito_req *r);               /* opening, reserve of a draft's lot (owner) */
kito_err kito_post_lot_withdraw(kito_req *r);       /* withdraw before it is sold (owner) */
kito_err kito_post_sale_registrations(kito_req *r); /* a buyer asks to bid (idempotent) */
kito_err kito_get_sale_registrations(kito_req *r);  /* pending and approved buyers (owner) */
kito_err kito_post_sale_approvals(kito_req *r);     /* approve a buyer, paddle, limit (owner) */
kito_err kito_delete_sale_approval(kito_req *r);    /* revoke or decline (owner) */
kito_err kito_get_sale_approval(kito_req *r);       /* the buyer's own standing */

/* ---- bids and clerk (routes_bids.c) ---- */
kito_err kito_post_lot_bids(kito_req *r);    /* a bid (buyer), Idempotency-Key; 201 after Redis */
kito_err kito_get_lot_my_bid(kito_req *r);   /* the buyer's own bid on a lot (tender: sealed) */
kito_err kito_post_lot_clerk(kito_req *r);   /* a live clerk action (organiser, operator) */
kito_err kito_get_me_bids(kito_req *r);      /* the buyer's standing bids and their lots */
kito_err kito_get_me_wins(kito_req *r);      /* the lots the buyer won */
kito_err kito_put_me_watchlist(kito_req *r); /* watch a lot (buyer); 204 */
kito_err kito_delete_me_watchlist(kito_req *r); /* stop watching (buyer); 204 */
kito_err kito_get_me_watchlist(kito_req *r);    /* watched lots with their views (buyer) */

/* ---- live feed (routes_feed.c) ---- */
/* GET /v1/sales/{id}/live (public): the sale's public lot events as Server-Sent Events; resumes
 * after Last-Event-ID (header or ?last_event_id=); 404, 422, 503 at the subscriber bound. */
kito_err kito_get_sale_live(kito_req *r);

/* ---- payouts (routes_payouts.c) ---- */
/* POST /v1/payouts/callbacks/mpesa (public, authenticated by ?token=): a B2C result; 200 (also
 * duplicates and unknown ids: ignored), 400, 401 bad token, 503. */
kito_err kito_post_payouts_callback_mpesa(kito_req *r);
/* POST /v1/payouts/callbacks/mpesa/status (public, ?token=): a Transaction Status result; a final
 * one is applied as a B2C result; 200, 400, 401, 503. */
kito_err kito_post_payouts_callback_mpesa_status(kito_req *r);
/* ---- payments in (routes_payments_in.c) ---- */
/* POST /v1/payments/callbacks/mpesa/validation (public, ?token=): Daraja C2B validation; 200
 * {"ResultCode": "0"} for an invoice number, "C2B00012" for an unknown account number; 400, 401,
 * 503. */
kito_err kito_post_payments_mpesa_validation(kito_req *r);
/* POST /v1/payments/callbacks/mpesa/confirmation (public, ?token=): a paybill payment, recorded
 * once by TransID (money/c2b.h); 200 (also a repeat), 400, 401, 503. */
kito_err kito_post_payments_mpesa_confirmation(kito_req *r);
/* true when the request carries the M-Pesa callback token (?token=, KITO_MPESA_CALLBACK_TOKEN,
 * compared in constant time); otherwise answers 401 and returns false. */
bool kito_mpesa_callback_authorized(kito_req *r);
kito_err kito_post_payouts_callback_momo(kito_req *r); /* POST and PUT (MTN sends either) */
/* GET /v1/me/payouts (miner): her payouts, paginated, ?state=; 422. */
kito_err kito_get_me_payouts(kito_req *r);
/* GET /v1/payouts/{id} (operator; the miner herself): the payout and its attempts; 404. */
kito_err kito_get_payout(kito_req *r);

/* ---- settlement (routes_settlement.c) ---- */
/* GET /v1/sales/{id}/settlements (organizer of the sale, operator): paginated; 404, 422. */
kito_err kito_get_sale_settlements(kito_req *r);
/* GET /v1/me/invoices (buyer): her invoices, paginated. */
kito_err kito_get_me_invoices(kito_req *r);
kito_err kito_get_payment_methods(kito_req *r);
kito_err kito_get_exchange_rates(kito_req *r);
/* GET /v1/me/sales (miner): her settled lots with the breakdown, paginated. */
kito_err kito_get_me_sales(kito_req *r);
/* GET /v1/sales/{id}/results (public once a lot closed): revenue, % sold, per carat...; 404. */
kito_err kito_get_sale_results(kito_req *r);
/* GET /v1/sales/{id}/results.csv (organizer, operator): every lot and its settlement as CSV. */
kito_err kito_get_sale_results_csv(kito_req *r);
/* POST /v1/invoices/{id}/payments (organizer of the sale, operator): 201, 200 replay, 404, 409,
 * 422. */
kito_err kito_post_invoice_payments(kito_req *r);

/* ---- the miner's phone channel (routes_ussd.c) ---- */
/* POST /v1/ussd (the USSD gateway, ?token=): Africa's Talking's form; text/plain CON/END. */
kito_err kito_post_ussd(kito_req *r);
/* POST /v1/sms/callbacks/delivery (the SMS gateway, ?token=): a delivery report (routes_sms.c). */
kito_err kito_post_sms_delivery(kito_req *r);

#endif
