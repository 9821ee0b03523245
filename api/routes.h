/*
 * Every handler kitod serves, declared here so that the route table (api/routes.c) — which is
 * also the authorization matrix — stands in one place. Handlers live in the routes_<area>.c
 * files and follow api/router.h's kito_handler_fn contract.
 */
#ifndef KITO_ROUTES_H
#define KITO_ROUTES_H

#include <stddef.h>

#include "api/request.h"
#include "api/router.h"

/* The route table: *count gets its length. cfg-dependent limits are filled from json_body_max. */
const kito_route *kito_routes_table(size_t json_body_max, size_t *count);

/* ---- system (routes_system.c) ---- */
kito_err kito_get_healthz(kito_req *r);
kito_err kito_get_metrics(kito_req *r);
kito_err kito_post_echo(kito_req *r);

/* ---- accounts and sessions (routes_accounts.c) ---- */

/* ---- stones, photos, certificates, provenance (routes_stones.c) ---- */

/* ---- sales, lots, approvals (routes_sales.c) ---- */

#endif
