/*
 * Who is asking: the roles of DESIGN.md's "People" and the signed-in principal of a request.
 * Shared by the route table (which roles may call a route), the session check (api/http/auth.h)
 * and the repositories that check what a role may do to a row; pure, any thread.
 */
#ifndef KITO_ROLES_H
#define KITO_ROLES_H

#include <stddef.h>
#include <stdint.h>

/* Roles as bits, so a route's allowed roles form one mask. */
#define KITO_ROLE_MINER (1u << 0)
#define KITO_ROLE_VALUER (1u << 1)
#define KITO_ROLE_BUYER (1u << 2)
#define KITO_ROLE_ORGANIZER (1u << 3)
#define KITO_ROLE_OPERATOR (1u << 4)
#define KITO_ROLES_ANY 0x1fu /* any signed-in account */

/* The signed-in caller of a request; account_id 0 when anonymous. */
typedef struct kito_principal {
    uint64_t account_id;
    uint64_t session_id;
    unsigned role;              /* one KITO_ROLE_* bit; 0 when anonymous */
    char token_sha256[65];      /* the session's token digest (hex), for sign-out */
    int64_t session_expires_ms; /* ms since the epoch */
} kito_principal;

/* The role's name ("miner") or "anonymous" for 0; static storage. */
const char *kito_role_name(unsigned role);

/* The role bit for a name, or 0 if it is not one. */
unsigned kito_role_parse(const char *name, size_t len);

#endif
