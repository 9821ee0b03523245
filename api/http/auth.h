/*
 * Authentication and role checks for every route (issue 4, "Accounts and roles").
 *
 * Who may call a route is part of the route itself (kito_route.roles, api/http/router.h): the route
 * table is the authorization matrix, kept in one place, and the dispatcher enforces it before a
 * handler runs. What a role may do to a particular row (a miner edits her own stones only) is
 * the repository's check, since it needs the row.
 *
 *   roles == 0, no KITO_ROUTE_AUTH_OPTIONAL   public: no token is looked at
 *   roles == 0, KITO_ROUTE_AUTH_OPTIONAL      public, but a valid token is resolved (a lot page
 *                                             says "you are leading"); a bad token is a 401
 *   roles != 0                                a valid token of one of these roles, else 401/403
 *
 * Tokens: `Authorization: Bearer <token>`; the token is 43 base64url characters
 * (api/common/crypto.h). A browser holds the same token in a cookie instead (issue 16):
 * KITO_SESSION_COOKIE, set by sign-in when the page asks for it (`"cookie": true`), HttpOnly so no
 * script can read it. The session behind it is the same row as a bearer token's. A request with no
 * Authorization header is authenticated by the cookie, with two differences:
 *   - a request that changes something (any method but GET and HEAD) must come from one of our
 *     own pages (kito_auth_same_origin), else 403 forbidden: SameSite=Lax already keeps the
 *     cookie off cross-site POSTs, and this check does not depend on the browser honouring it;
 *   - on a KITO_ROUTE_AUTH_OPTIONAL route a stale cookie (expired or signed out) means anonymous,
 *     not 401: public pages must keep working for a visitor whose session ran out; the answer
 *     clears the cookie, so the next request does not look it up again.
 * Bearer-token clients see no change: the cookie is looked at only without an Authorization
 * header.
 * The server keeps a small cache of resolved sessions (KITO_AUTH_CACHE_SLOTS entries, each valid
 * for at most KITO_AUTH_CACHE_TTL_MS and never past the session's expiry), so bids do not cost a
 * MySQL round trip each. It is KITO_AUTH_CACHE_WAYS-way set-associative by the token's digest; a
 * full set gives up the entry that runs out first. (Direct-mapped, 4 of the API benchmark's 201
 * buyers shared slots in pairs, evicted each other, and every request of theirs went to MySQL.) An
 * entry used within KITO_AUTH_REFRESH_AHEAD_MS of running out (half of that to all of it, by token:
 * sessions cached together are not refreshed together) is looked up again in the background while
 * the cache goes on answering, so a busy client does not wait for MySQL every TTL: a live session
 * stays cached, a revoked or expired one leaves the cache when the lookup comes back. A session
 * revoked by this process leaves the cache at once (kito_auth_forget); one revoked elsewhere stops
 * working within the TTL.
 *
 * Idle timeout (issue 15): a session unused for its role's KITO_SESSION_IDLE_<ROLE>_S stops
 * working (401), besides its absolute expiry. Its last use (sessions.last_seen_at) is recorded
 * when a lookup finds it live and at least KITO_SESSION_TOUCH_S since the last record -- at most
 * one MySQL write per session per touch interval, none per request -- and a cached entry never
 * outlives the session's idle end.
 *
 * Threads: the loop thread only.
 */
#ifndef KITO_AUTH_H
#define KITO_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/roles.h"
#include "engine/err.h"

#define KITO_AUTH_CACHE_SLOTS 16384
#define KITO_AUTH_CACHE_WAYS 4 /* set-associative: a session lives in one set of 4 entries */
#define KITO_AUTH_CACHE_SETS (KITO_AUTH_CACHE_SLOTS / KITO_AUTH_CACHE_WAYS)
#define KITO_AUTH_CACHE_TTL_MS 15000
#define KITO_AUTH_REFRESH_AHEAD_MS 5000 /* used this close to running out: looked up again */

struct kito_auth_slot;

/* The session cache of one server. */
typedef struct kito_auth {
    struct kito_auth_slot *slots; /* KITO_AUTH_CACHE_SETS sets of KITO_AUTH_CACHE_WAYS */
    uint64_t hits, misses;        /* for metrics */
    uint64_t refreshes;           /* background lookups started (KITO_AUTH_REFRESH_AHEAD_MS) */
} kito_auth;

/* Allocates the cache. KITO_E_NOMEM on failure. */
kito_err kito_auth_init(kito_auth *a);

/* Frees the cache; a may be zeroed or NULL. */
void kito_auth_dispose(kito_auth *a);

/* Drops a session from the cache (after sign-out); token_sha256 is the hex digest. */
void kito_auth_forget(kito_auth *a, const char *token_sha256);

/* The cache set (0 .. KITO_AUTH_CACHE_SETS - 1) a session's entry lives in, by its token's hex
 * digest. */
size_t kito_auth_cache_set(const char *token_sha256);

struct kito_req;

/* The session cookie's name. The __Host- prefix makes the browser refuse it unless it is Secure,
 * has Path=/ and no Domain: no subdomain can set or shadow it. */
#define KITO_SESSION_COOKIE "__Host-kito"

/* Sets the browser's session cookie on r's response: the token, for max_age_s seconds; HttpOnly
 * (no script reads it), Secure, SameSite=Lax, Path=/. A token of NULL clears it (Max-Age=0). */
void kito_auth_set_cookie(struct kito_req *r, const char *token, long long max_age_s);

/* True when r was sent by a page of this site: its Origin header is https://<the request's
 * Host>, or, without an Origin header, Sec-Fetch-Site says same-origin. A request with neither
 * is not from a page of ours (browsers send Origin on every non-GET fetch). */
bool kito_auth_same_origin(const struct kito_req *r);

/* Resolves the caller of r as its route asks (see above), then calls run(r) with r->principal
 * set; or answers 401 unauthorized / 403 forbidden / 503 unavailable itself and never calls run.
 * May finish asynchronously (a MySQL lookup on the server's worker pool). */
void kito_auth_dispatch(struct kito_req *r, void (*run)(struct kito_req *r));

#endif
