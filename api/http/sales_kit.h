/*
 * What the sales, lots and registrations handlers share (internal to api/http/routes_sales.c,
 * routes_lots.c and routes_registrations.c): the job one request carries to a MySQL worker and
 * back, its answers, list paging, and the renderers of a sale, a lot and a registration.
 * Loop thread, except where a comment says a worker.
 */
#ifndef KITO_SALES_KIT_H
#define KITO_SALES_KIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api/common/query.h"
#include "api/common/validate.h"
#include "api/http/req_db.h"
#include "api/http/request.h"
#include "api/store/repo_lots.h"
#include "api/store/repo_registrations.h"
#include "api/store/repo_sales.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#define PAGE_DEFAULT 20
#define PAGE_MAX 100

/* Everything one request needs on the worker and back on the loop. Allocated per request with
 * calloc (about 60 KB: the sale's texts are large) and freed by job_free. */
typedef struct kito__sales_job {
    kito_actor actor;
    char ip[64];
    uint64_t id;        /* the sale or lot in the path */
    uint64_t buyer_id;  /* DELETE .../approvals/{buyer_id} */
    const json_t *body; /* borrowed from the request, which outlives the job */
    kito_err err;
    kito_verr ve;
    bool created;

    kito_sale_input sale_in;
    kito_lot_input lot_in;
    kito_lot_patch lot_patch;
    kito_approval_input approval;
    char reason[KITO_LOT_REASON_MAX * 4 + 1];
    uint64_t *order; /* owned: lot ids of a reorder */
    size_t order_n;

    kito_sale sale;
    kito_lot lot;
    kito_registration reg;

    /* lists */
    uint8_t cursor_key[KITO_CURSOR_KEY_LEN];
    const char *status; /* filters: borrowed from the job's query copy below */
    const char *format;
    const char *currency;
    kito_lots_filter
        lots; /* GET .../lots: species, search words, weights (strings borrowed as above) */
    char words[KITO_LOTS_SEARCH_WORDS][KITO_LOTS_SEARCH_WORD_MAX + 1];
    int64_t min_price_minor, max_price_minor; /* 0 = unbounded; applied to the live price */
    kito_query query;
    kito_cursor after;
    bool has_after;
    uint32_t limit;
    size_t seen;
    kito_cursor last;  /* the last row put on the page */
    const char *scope; /* the list's cursor scope (page_query) */
    json_t *items;     /* owned until rendered */
} kito__sales_job;

/* A job for r with its actor and address filled in; NULL when out of memory. */
kito__sales_job *kito__sales_job_new(kito_req *r);

/* Frees j and what it owns; j may be NULL. */
void kito__sales_job_free(kito__sales_job *j);

/* Runs run(db, j) on a MySQL worker, then done(r, j) on the loop if r is still there; j is
 * freed (kito__sales_job_free, which also frees a list page built on the worker) either way. */
kito_err kito__sales_submit(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done,
                            kito__sales_job *j);

/* Answers err with "field: reason" from ve when there is one. */
void kito__sales_respond_err(kito_req *r, kito_err err, const kito_verr *ve);

/* A request refused before its job ran (a bad path id or body): answers err with j's ve
 * (kito__sales_respond_err), frees j, and returns KITO_OK (the request is answered). */
kito_err kito__sales_refuse(kito_req *r, kito_err err, kito__sales_job *j);

/* A job that failed on the worker: the client's fault gets its message, ours is logged. */
void kito__sales_respond_job_err(kito_req *r, kito__sales_job *j);

/* Action routes (publish, cancel, withdraw, register) take no body or a small JSON object; a
 * body that is there must be JSON and is returned parsed (*out, owned) or NULL. Responds on
 * failure and returns false. */
bool kito__sales_optional_body(kito_req *r, json_t **out);

/* A body that must be absent or {} (publish, cancel, register). Responds and returns false
 * otherwise. */
bool kito__sales_empty_body(kito_req *r);

/* Parses the query string against allowed names and reads cursor and limit for scope. Responds
 * and returns false on a bad one. */
bool kito__sales_page_query(kito_req *r, kito__sales_job *j, const char *const *allowed,
                            const char *scope);

/* A filter value from the query, checked against allowed (NULL-terminated). */
bool kito__sales_query_enum(kito_req *r, kito__sales_job *j, const char *name,
                            const char *const *allowed, const char **out);

/* Counts a list row; true if it belongs on the page (the one past the limit only says that
 * another page exists). */
bool kito__sales_page_take(kito__sales_job *j, int64_t sort_key, uint64_t id);

/* Responds with the page in j->items, or with the job's error. */
void kito__sales_respond_page(kito_req *r, kito__sales_job *j);

/* The done half of every list job. */
void kito__sales_done_list(kito_req *r, void *arg);

/* A sale as the API shows it (a new reference; NULL when out of memory). */
json_t *kito__render_sale(const kito_sale *s);

/* A lot as viewer sees it: the reserve only for the sale's organiser and operators. In a timed
 * or tender sale, ends_at is the planned close of the lot (staggered; soft close may extend it
 * once bidding runs). */
json_t *kito__render_lot(const kito_lot *l, const kito_sale *s, const kito_actor *viewer);

/* A buyer's registration and approval as the API shows it (a new reference). */
json_t *kito__render_registration(const kito_registration *g);

/* Starts a job on the sale named in the path: 404 for an id that names nothing. */
kito_err kito__sales_sale_job(kito_req *r, kito_req_db_run_fn run, kito_req_db_done_fn done);

#endif
