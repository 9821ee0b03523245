/*
 * The route table of kitod, and with it the authorization matrix (issue 4): for every method and
 * path, the handler, the body limit and the roles that may call it (0 = public; api/http/auth.h).
 * The dispatcher enforces the roles before any handler runs; tests walk this table
 * (tests/integration/test_authz.c). Row-level rules (only the seller edits her stone) are the
 * repositories' and are tested there.
 */
#include "api/http/routes.h"

#include "api/http/auth.h"
#include "api/http/server.h"

#define JSON KITO_ROUTE_JSON_BODY
#define OPT KITO_ROUTE_AUTH_OPTIONAL
#define SELF_AUTH KITO_ROUTE_SELF_AUTH
#define ANY KITO_ROLES_ANY
#define MINER KITO_ROLE_MINER
#define VALUER KITO_ROLE_VALUER
#define BUYER KITO_ROLE_BUYER
#define ORGANIZER KITO_ROLE_ORGANIZER
#define OPERATOR KITO_ROLE_OPERATOR
#define GET KITO_METHOD_GET
#define POST KITO_METHOD_POST
#define PUT KITO_METHOD_PUT
#define PATCH KITO_METHOD_PATCH
#define DELETE KITO_METHOD_DELETE

/* A body limit for routes without a JSON body of their own size: the configured JSON limit. */
#define JSON_MAX 0

static const kito_route table[] = {
    /* method, pattern, handler, body_max, flags, metrics name, roles */

    /* ---- system ---- */
    {GET, "/healthz", kito_get_healthz, 0, 0, NULL, 0},
    /* GET /metrics is not here: it is served on the loopback metrics listener only (issue 15,
     * finding 8; api/http/server.c), and the public port answers it 404 */
    {POST, "/v1/echo", kito_post_echo, JSON_MAX, JSON, NULL, 0},

    /* ---- accounts and sessions ---- */
    {POST, "/v1/accounts", kito_post_accounts, JSON_MAX, JSON, NULL, 0},
    {GET, "/v1/accounts/me", kito_get_accounts_me, 0, 0, NULL, ANY},
    {PATCH, "/v1/accounts/me", kito_patch_accounts_me, JSON_MAX, JSON, NULL, ANY},
    {POST, "/v1/accounts/me/secret", kito_post_accounts_me_secret, JSON_MAX, JSON, NULL, ANY},
    {POST, "/v1/sessions", kito_post_sessions, JSON_MAX, JSON, NULL, 0},
    {DELETE, "/v1/sessions/current", kito_delete_sessions_current, 0, 0, NULL, ANY},
    {GET, "/v1/associations", kito_get_associations, 0, 0, NULL, 0},
    {POST, "/v1/associations", kito_post_associations, JSON_MAX, JSON, NULL, OPERATOR},

    /* ---- stones, photos, certificates, provenance ---- */
    {POST, "/v1/stones", kito_post_stones, JSON_MAX, JSON, NULL, MINER | VALUER},
    {GET, "/v1/stones", kito_get_stones, 0, 0, NULL, 0},
    {GET, "/v1/stones/{id}", kito_get_stone, 0, 0, NULL, 0},
    {PATCH, "/v1/stones/{id}", kito_patch_stone, JSON_MAX, JSON, NULL, MINER | VALUER},
    /* raw JPEG/PNG body, not JSON; KITO_PHOTO_MAX_BYTES (api/adapters/photos.h) */
    {POST, "/v1/stones/{id}/photos", kito_post_stone_photo, (size_t)8 << 20, 0, NULL,
     MINER | VALUER},
    {GET, "/v1/photos/{sha256}", kito_get_photo, 0, 0, NULL, 0},
    /* the photo sized for phones: 160 or 640 px (api/adapters/thumbs.h) */
    {GET, "/v1/photos/{sha256}/sized/{width}", kito_get_photo_sized, 0, 0, NULL, 0},
    {POST, "/v1/stones/{id}/certificates", kito_post_stone_certificate, JSON_MAX, JSON, NULL,
     VALUER},
    {GET, "/v1/certificates/{id}", kito_get_certificate, 0, 0, NULL, 0},
    {GET, "/v1/certificates/{id}/verify", kito_get_certificate_verify, 0, 0, NULL, 0},
    {GET, "/v1/certificates/{id}/qr.svg", kito_get_certificate_qr_svg, 0, 0, NULL, 0},
    {GET, "/v1/stones/{id}/provenance", kito_get_stone_provenance, 0, 0, NULL, 0},
    /* consent (DESIGN.md): the miner, or the valuer who listed the stone for her, offers it to
     * an organiser or a sale; row rules in api/store/repo_offers.h */
    {POST, "/v1/stones/{id}/offers", kito_post_stone_offers, 1024, JSON, NULL, MINER | VALUER},
    {GET, "/v1/stones/{id}/offers", kito_get_stone_offers, 0, 0, NULL,
     MINER | VALUER | ORGANIZER | OPERATOR},
    {DELETE, "/v1/stones/{id}/offers/{offer_id}", kito_delete_stone_offer, 0, 0, NULL,
     MINER | VALUER},
    {GET, "/v1/me/offered-stones", kito_get_me_offered_stones, 0, 0, NULL, ORGANIZER},
    {GET, "/.well-known/kito-signing-key.pem", kito_get_signing_key_pem, 0, 0, NULL, 0},
    {GET, "/.well-known/kito-keys.json", kito_get_signing_keys, 0, 0, NULL, 0},

    /* ---- sales, lots, approvals ---- */
    {POST, "/v1/sales", kito_post_sales, JSON_MAX, JSON, NULL, ORGANIZER},
    {GET, "/v1/sales", kito_get_sales, 0, OPT, NULL, 0},
    {GET, "/v1/sales/{id}", kito_get_sale, 0, OPT, NULL, 0},
    {PATCH, "/v1/sales/{id}", kito_patch_sale, JSON_MAX, JSON, NULL, ORGANIZER | OPERATOR},
    {POST, "/v1/sales/{id}/publish", kito_post_sale_publish, 1024, 0, NULL, ORGANIZER | OPERATOR},
    {POST, "/v1/sales/{id}/cancel", kito_post_sale_cancel, 1024, 0, NULL, ORGANIZER | OPERATOR},
    {POST, "/v1/sales/{id}/lots", kito_post_sale_lots, JSON_MAX, JSON, NULL, ORGANIZER | OPERATOR},
    {GET, "/v1/sales/{id}/lots", kito_get_sale_lots, 0, OPT, NULL, 0},
    {POST, "/v1/sales/{id}/lots/order", kito_post_sale_lots_order, JSON_MAX, JSON, NULL,
     ORGANIZER | OPERATOR},
    {GET, "/v1/lots/{id}", kito_get_lot, 0, OPT, NULL, 0},
    {PATCH, "/v1/lots/{id}", kito_patch_lot, JSON_MAX, JSON, NULL, ORGANIZER | OPERATOR},
    {POST, "/v1/lots/{id}/withdraw", kito_post_lot_withdraw, 4096, 0, NULL, ORGANIZER | OPERATOR},
    {POST, "/v1/sales/{id}/registrations", kito_post_sale_registrations, 1024, 0, NULL, BUYER},
    {GET, "/v1/sales/{id}/registrations", kito_get_sale_registrations, 0, 0, NULL,
     ORGANIZER | OPERATOR},
    {POST, "/v1/sales/{id}/approvals", kito_post_sale_approvals, JSON_MAX, JSON, NULL,
     ORGANIZER | OPERATOR},
    {DELETE, "/v1/sales/{id}/approvals/{buyer_id}", kito_delete_sale_approval, 0, 0, NULL,
     ORGANIZER | OPERATOR},
    {GET, "/v1/sales/{id}/approval", kito_get_sale_approval, 0, 0, NULL, BUYER},

    /* ---- bids and clerk ---- */
    {POST, "/v1/lots/{id}/bids", kito_post_lot_bids, 1024, JSON, NULL, BUYER},
    {GET, "/v1/lots/{id}/my-bid", kito_get_lot_my_bid, 0, 0, NULL, BUYER},
    {POST, "/v1/lots/{id}/clerk", kito_post_lot_clerk, 1024, JSON, NULL, ORGANIZER | OPERATOR},
    {GET, "/v1/me/bids", kito_get_me_bids, 0, 0, NULL, BUYER},
    {GET, "/v1/me/wins", kito_get_me_wins, 0, 0, NULL, BUYER},
    {PUT, "/v1/me/watchlist/{id}", kito_put_me_watchlist, 64, 0, NULL, BUYER}, /* body ignored */
    {DELETE, "/v1/me/watchlist/{id}", kito_delete_me_watchlist, 0, 0, NULL, BUYER},
    {GET, "/v1/me/watchlist", kito_get_me_watchlist, 0, 0, NULL, BUYER},

    /* ---- live feed ---- */
    /* OPT: a signed-in buyer's own notices come on her stream (api/live/feed.h) */
    {GET, "/v1/sales/{id}/live", kito_get_sale_live, 0, OPT, NULL, 0},

    /* ---- payouts ---- */
    /* public: the provider calls it; authenticated by the ?token= it was given
       (api/adapters/mpesa.h) */
    {POST, "/v1/payouts/callbacks/mpesa", kito_post_payouts_callback_mpesa, 65536, JSON | SELF_AUTH,
     NULL, 0},
    {POST, "/v1/payouts/callbacks/mpesa/status", kito_post_payouts_callback_mpesa_status, 65536,
     JSON | SELF_AUTH, NULL, 0},
    /* public: M-Pesa paybill payments in (Daraja C2B), ?token= like the payout callbacks */
    {POST, "/v1/payments/callbacks/mpesa/validation", kito_post_payments_mpesa_validation, 16384,
     JSON | SELF_AUTH, NULL, 0},
    {POST, "/v1/payments/callbacks/mpesa/confirmation", kito_post_payments_mpesa_confirmation,
     16384, JSON | SELF_AUTH, NULL, 0},
    /* MTN MoMo's transfer result, by POST or PUT (momodeveloper.mtn.com, "Callback") */
    {POST, "/v1/payouts/callbacks/momo", kito_post_payouts_callback_momo, 16384, JSON | SELF_AUTH,
     NULL, 0},
    {PUT, "/v1/payouts/callbacks/momo", kito_post_payouts_callback_momo, 16384, JSON | SELF_AUTH,
     NULL, 0},
    {GET, "/v1/me/payouts", kito_get_me_payouts, 0, 0, NULL, MINER},
    {GET, "/v1/payouts/{id}", kito_get_payout, 0, 0, NULL, MINER | OPERATOR},

    /* ---- the miner's phone channel (issue 18) ---- */
    /* public: the USSD gateway calls it; authenticated by ?token= (KITO_USSD_CALLBACK_TOKEN);
     * a form body, not JSON (api/http/routes_ussd.c) */
    {POST, "/v1/ussd", kito_post_ussd, 4096, SELF_AUTH, NULL, 0},
    /* public: the SMS gateway's delivery reports; ?token= (KITO_SMS_CALLBACK_TOKEN); a form */
    {POST, "/v1/sms/callbacks/delivery", kito_post_sms_delivery, 4096, SELF_AUTH, NULL, 0},

    /* ---- settlement ---- */
    {GET, "/v1/sales/{id}/settlements", kito_get_sale_settlements, 0, 0, NULL,
     ORGANIZER | OPERATOR},
    {GET, "/v1/me/invoices", kito_get_me_invoices, 0, 0, NULL, BUYER},
    {GET, "/v1/payment-methods", kito_get_payment_methods, 0, 0, NULL, 0},
    /* public: estimates in a buyer's currency (api/store/repo_fx.h) */
    {GET, "/v1/exchange-rates", kito_get_exchange_rates, 0, 0, NULL, 0},
    {GET, "/v1/me/sales", kito_get_me_sales, 0, 0, NULL, MINER},
    {GET, "/v1/sales/{id}/results", kito_get_sale_results, 0, 0, NULL, 0},
    {GET, "/v1/sales/{id}/results.csv", kito_get_sale_results_csv, 0, 0, NULL,
     ORGANIZER | OPERATOR},
    {POST, "/v1/invoices/{id}/payments", kito_post_invoice_payments, 4096, JSON, NULL,
     ORGANIZER | OPERATOR},
};

const kito_route *kito_routes_table(size_t json_body_max, size_t *count)
{
    static kito_route routes[sizeof(table) / sizeof(table[0])];
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        routes[i] = table[i];
        if ((routes[i].flags & JSON) != 0 && routes[i].body_max == JSON_MAX)
            routes[i].body_max = json_body_max;
    }
    *count = sizeof(table) / sizeof(table[0]);
    return routes;
}

kito_err kito_server_add_routes(kito_server *s)
{
    size_t n;
    const kito_route *routes = kito_routes_table(s->cfg->json_body_max, &n);
    for (size_t i = 0; i < n; i++) {
        kito_err e = kito_router_add(&s->router, &routes[i]);
        if (e != KITO_OK)
            return e;
    }
    return KITO_OK;
}
