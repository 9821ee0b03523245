#include "api/http/pages.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/request.h"
#include "api/http/server.h"

/* 'self' only: every script is a file of ours (no inline script, no eval), styles too; images
 * may also be data: URLs (the pages' empty favicon). frame-ancestors 'none': no site may frame
 * a page with a bid button in it (clickjacking). */
static const char CSP[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; font-src 'self'; "
                          "object-src 'none'; base-uri 'none'; form-action 'self'; "
                          "frame-ancestors 'none'";

void kito_pages_security_headers(h2o_req_t *req)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("content-security-policy"), 0,
                          NULL, CSP, sizeof(CSP) - 1);
    /* a lot's URL is no secret, but a buyer's pages are nobody else's business */
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("referrer-policy"), 0, NULL,
                          H2O_STRLIT("same-origin"));
    /* for browsers that predate frame-ancestors */
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-frame-options"), 0, NULL,
                          H2O_STRLIT("DENY"));
}

static bool has_prefix(const char *p, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(p, prefix, n) == 0;
}

bool kito_pages_is_page_path(const char *path, size_t len)
{
    if (has_prefix(path, len, "/v1/") || (len == 3 && memcmp(path, "/v1", 3) == 0) ||
        has_prefix(path, len, "/.well-known/"))
        return false;
    return !(len == 8 && memcmp(path, "/healthz", 8) == 0) &&
           !(len == 8 && memcmp(path, "/metrics", 8) == 0);
}

void kito_pages_not_found(kito_req *r)
{
    h2o_req_t *req = r->h2o;
    h2o_iovec_t p = req->path_normalized;
    if (!kito_pages_is_page_path(p.base, p.len) ||
        (r->method != KITO_METHOD_GET && r->method != KITO_METHOD_HEAD)) {
        kito_respond_error(r, KITO_E_NOT_FOUND, NULL);
        return;
    }
    char full[PATH_MAX];
    int len = snprintf(full, sizeof(full), "%s" KITO_PAGES_NOT_FOUND_FILE,
                       r->server->cfg->storefront_dir);
    /* a small local file, read on the loop like the file handler's own open and stat */
    FILE *f = len > 0 && (size_t)len < sizeof(full) ? fopen(full, "rb") : NULL;
    char *body = f != NULL ? h2o_mem_alloc_pool(&req->pool, KITO_PAGES_NOT_FOUND_MAX) : NULL;
    size_t n = body != NULL ? fread(body, 1, KITO_PAGES_NOT_FOUND_MAX, f) : 0;
    if (f != NULL)
        fclose(f);
    if (n == 0) {
        kito_respond_error(r, KITO_E_NOT_FOUND, NULL);
        return;
    }
    kito_respond_bytes_cached(r, 404, "text/html; charset=utf-8", "no-cache", NULL, body, n);
}
