/*
 * What the storefront's pages get from the server besides their files (issue 16, "Serving"):
 * the security headers of every response and the HTML "not found" page.
 *
 * Threads: the loop thread only.
 */
#ifndef KITO_PAGES_H
#define KITO_PAGES_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

struct kito_req;

/* The page file answered with status 404 for an unknown page, under KITO_STOREFRONT_DIR. */
#define KITO_PAGES_NOT_FOUND_FILE "/404.html"
/* The largest 404 page read (bytes); a bigger file is cut there. */
#define KITO_PAGES_NOT_FOUND_MAX 16384

/* Adds the security headers every HTTPS response carries (with HSTS, set by the server):
 * Content-Security-Policy (scripts, styles, images and connections from this origin only, no
 * inline script, no framing: frame-ancestors 'none'), Referrer-Policy and X-Frame-Options. */
void kito_pages_security_headers(h2o_req_t *req);

/* True when path (normalized, len bytes) names a page rather than the API: not under /v1/ or
 * /.well-known/, not /healthz or /metrics. */
bool kito_pages_is_page_path(const char *path, size_t len);

/* Answers 404 for r's path: the storefront's 404 page (text/html) for a page path a browser
 * asked for (GET or HEAD), else the JSON error. */
void kito_pages_not_found(struct kito_req *r);

#endif
