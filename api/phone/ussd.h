/*
 * The USSD service: carries out the effects the pure menu (api/phone/ussd_menu.h) asks for,
 * through the repositories the web API uses (accounts, stones, consent offers) and the phone
 * channel's own (api/store/repo_phone.h), and feeds their facts back until a screen is ready.
 * The HTTP handler (api/http/routes_ussd.c) only parses the gateway's form, keeps the session in
 * Redis and calls this on a MySQL worker when the menu asks for an effect.
 *
 * Threads: a MySQL worker with its connection (scrypt PIN checks take tens of milliseconds).
 */
#ifndef KITO_USSD_H
#define KITO_USSD_H

#include "api/phone/ussd_menu.h"
#include "api/store/db.h"

/* Runs out->effect (and any effect its answer leads to, a few at most) for session s; out ends
 * holding a reply (effect NONE). ip is the gateway's address for the audit trail;
 * wallet_hold_s how long payouts to a wallet she changes to wait (KITO_PAYOUT_WALLET_HOLD_S).
 * Server failures become the menu's "try again later" END screen, with the detail logged. */
void kito_ussd_run(kito_db_conn *db, kito_ussd_session *s, const char *ip, uint32_t wallet_hold_s,
                   kito_ussd_out *out);

#endif
