/*
 * Versioned URLs for the storefront's scripts and styles, with no build step (issue 16,
 * "Serving": "static files compressed ... with cache lifetimes and content-hashed or versioned
 * URLs").
 *
 * kitod reads the storefront's .html, .js and .css files at start. As it serves them it writes
 * every quoted absolute reference to one of the storefront's scripts or styles ("/api.js",
 * '/app.css') with "?v=<hash>" after it, where the hash is the first KITO_ASSET_HASH_LEN hex
 * digits of the SHA-256 of that file as served (its own references versioned first, so a change
 * in i18n.js changes the hash of api.js, which imports it, and of every page above). A request
 * naming a file's current version gets a year's cache ("immutable"); any other request (no
 * version, an old one, a page) gets "no-cache" with the hash as its ETag, so a new page never
 * runs with an old script and a browser asks for a page each time (a 304 when unchanged).
 *
 * Only absolute references are versioned: a script imported by a relative path ('./x.js') and
 * by an absolute one would be two modules to the browser. Pages and scripts of every area
 * (storefront/console/..., storefront/miner/...) are served this way.
 *
 * A file changed on disk is noticed at its next request (mtime and size) and the whole set is
 * read again. Bounds: KITO_ASSETS_MAX files of at most KITO_ASSET_BYTES_MAX bytes, directories
 * KITO_ASSETS_DEPTH deep; other files are left to h2o's file handler (served "no-cache" as
 * before). One set per server (its loop's thread only).
 */
#ifndef KITO_ASSETS_H
#define KITO_ASSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

#define KITO_ASSETS_MAX 256
#define KITO_ASSET_BYTES_MAX (512 * 1024)
#define KITO_ASSETS_DEPTH 4
#define KITO_ASSET_PATH_MAX 256
#define KITO_ASSET_HASH_LEN 12

/* One file as served. */
typedef struct kito_asset {
    char path[KITO_ASSET_PATH_MAX]; /* URL path: "/sale.js", "/console/index.html" */
    char *raw;                      /* as on disk (owned) */
    size_t raw_len;
    char *body; /* as served: references versioned (owned) */
    size_t body_len;
    char hash[KITO_ASSET_HASH_LEN + 1]; /* of body */
    char raw_hash[KITO_ASSET_HASH_LEN + 1];
    int64_t mtime_ns, size; /* what stat said when it was read */
    uint8_t state;          /* while hashing: 0 to do, 1 in progress, 2 done */
} kito_asset;

typedef struct kito_assets {
    char dir[4096]; /* the storefront directory, without a trailing '/' */
    size_t n;
    kito_asset *items; /* KITO_ASSETS_MAX (owned) */
} kito_assets;

/* Reads every .html, .js and .css file under dir into a (reset first; a previous set is freed)
 * and versions their references. KITO_OK also when dir holds none or does not exist (nothing is
 * then served from memory); KITO_E_NOMEM. Files past the bounds are skipped (logged). */
kito_err kito_assets_load(kito_assets *a, const char *dir);

/* Frees what a holds; a may be NULL. */
void kito_assets_free(kito_assets *a);

/* The asset at URL path[0..len) ("/" and "/x/" mean their index.html), or NULL. When the file
 * changed on disk since it was read, the set is read again first. */
const kito_asset *kito_assets_get(kito_assets *a, const char *path, size_t len);

/* The Content-Type of an asset path: text/html, application/javascript or text/css (the names
 * h2o's mime map knows, so its compress filter gzips them). */
const char *kito_assets_content_type(const char *path);

/* Writes in[0..len) with each quoted absolute reference that version() knows ("/x.js" -> the
 * hash) followed by "?v=<hash>", into a new buffer *out (malloc; *out_len bytes). References
 * that already carry a query or fragment are left alone. Pure. KITO_E_NOMEM. */
typedef const char *(*kito_asset_version_fn)(void *ud, const char *path, size_t len);
kito_err kito_assets_rewrite(const char *in, size_t len, kito_asset_version_fn version, void *ud,
                             char **out, size_t *out_len);

#endif
