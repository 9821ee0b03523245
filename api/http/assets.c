/* Versioned URLs for the storefront's scripts and styles (api/http/assets.h). */
#include "api/http/assets.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/common/crypto.h"
#include "api/common/log.h"

/* The longest reference looked at: a quoted string longer than this is not a path of ours. */
#define REF_MAX 200

static bool has_suffix(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool is_asset_name(const char *s, size_t len)
{
    return has_suffix(s, len, ".html") || has_suffix(s, len, ".js") || has_suffix(s, len, ".css");
}

/* Only scripts and styles are versioned: a page's own URL is what a person links to. */
static bool is_versioned(const char *s, size_t len)
{
    return has_suffix(s, len, ".js") || has_suffix(s, len, ".css");
}

const char *kito_assets_content_type(const char *path)
{
    size_t len = strlen(path);
    /* the names h2o's mime map knows (as its file handler sends them): its compress filter
     * looks the type up there to decide whether to gzip */
    if (has_suffix(path, len, ".html"))
        return "text/html";
    if (has_suffix(path, len, ".css"))
        return "text/css";
    return "application/javascript";
}

/* ---- rewriting (pure) ------------------------------------------------------------------------ */

typedef struct buf {
    char *p;
    size_t len, cap;
} buf;

static bool buf_put(buf *b, const char *s, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap * 2 > b->len + n ? b->cap * 2 : b->len + n;
        char *p = realloc(b->p, cap);
        if (p == NULL)
            return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

kito_err kito_assets_rewrite(const char *in, size_t len, kito_asset_version_fn version, void *ud,
                             char **out, size_t *out_len)
{
    buf b = {malloc(len + 256), 0, len + 256};
    if (b.p == NULL)
        return KITO_E_NOMEM;
    size_t copied = 0; /* in[0..copied) is in b */
    for (size_t i = 0; i + 2 < len; i++) {
        char q = in[i];
        if ((q != '"' && q != '\'') || in[i + 1] != '/' || in[i + 2] == '/')
            continue;
        size_t j = i + 1;
        while (j < len && j - i <= REF_MAX && in[j] != q && in[j] != '\n' && in[j] != '?' &&
               in[j] != '#' && in[j] != ' ')
            j++;
        if (j >= len || in[j] != q)
            continue; /* too long, another line, or a query or fragment already */
        const char *ref = in + i + 1;
        size_t ref_len = j - i - 1;
        const char *v = is_versioned(ref, ref_len) ? version(ud, ref, ref_len) : NULL;
        if (v == NULL)
            continue;
        if (!buf_put(&b, in + copied, j - copied) || !buf_put(&b, "?v=", 3) ||
            !buf_put(&b, v, strlen(v))) {
            free(b.p);
            return KITO_E_NOMEM;
        }
        copied = j; /* the closing quote is copied with what follows */
        i = j;
    }
    if (!buf_put(&b, in + copied, len - copied)) {
        free(b.p);
        return KITO_E_NOMEM;
    }
    *out = b.p;
    *out_len = b.len;
    return KITO_OK;
}

/* ---- the set --------------------------------------------------------------------------------- */

static kito_asset *find(kito_assets *a, const char *path, size_t len)
{
    for (size_t i = 0; i < a->n; i++)
        if (strlen(a->items[i].path) == len && memcmp(a->items[i].path, path, len) == 0)
            return &a->items[i];
    return NULL;
}

static void hash_hex(const char *data, size_t len, char out[KITO_ASSET_HASH_LEN + 1])
{
    char hex[KITO_SHA256_HEX_SIZE];
    if (kito_crypto_sha256_hex(data, len, hex) != KITO_OK)
        snprintf(hex, sizeof(hex), "%0*d", KITO_ASSET_HASH_LEN, 0);
    memcpy(out, hex, KITO_ASSET_HASH_LEN);
    out[KITO_ASSET_HASH_LEN] = '\0';
}

static kito_err version_of(kito_assets *a, kito_asset *x);

/* The resolver while hashing: the referenced file's version, versioning it first. A reference
 * back to a file still being versioned (an import cycle) takes its raw content's hash. */
static const char *resolve(void *ud, const char *path, size_t len)
{
    kito_assets *a = ud;
    kito_asset *x = find(a, path, len);
    if (x == NULL)
        return NULL;
    if (x->state == 1)
        return x->raw_hash;
    return version_of(a, x) == KITO_OK ? x->hash : NULL;
}

static kito_err version_of(kito_assets *a, kito_asset *x)
{
    if (x->state == 2)
        return KITO_OK;
    x->state = 1;
    kito_err e = kito_assets_rewrite(x->raw, x->raw_len, resolve, a, &x->body, &x->body_len);
    if (e == KITO_OK)
        hash_hex(x->body, x->body_len, x->hash);
    x->state = 2;
    return e;
}

static void read_file(kito_assets *a, const char *full, const char *url, const struct stat *st)
{
    if (a->n == KITO_ASSETS_MAX || st->st_size > KITO_ASSET_BYTES_MAX ||
        strlen(url) >= KITO_ASSET_PATH_MAX) {
        kito_log("assets", "not versioned (past the bounds): %s", url);
        return;
    }
    FILE *f = fopen(full, "rb");
    if (f == NULL)
        return;
    kito_asset *x = &a->items[a->n];
    memset(x, 0, sizeof(*x));
    x->raw = malloc((size_t)st->st_size + 1);
    x->raw_len = x->raw != NULL ? fread(x->raw, 1, (size_t)st->st_size, f) : 0;
    fclose(f);
    if (x->raw == NULL || x->raw_len != (size_t)st->st_size) {
        free(x->raw);
        x->raw = NULL;
        return;
    }
    snprintf(x->path, sizeof(x->path), "%s", url);
    x->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    x->size = st->st_size;
    hash_hex(x->raw, x->raw_len, x->raw_hash);
    a->n++;
}

/* Reads the assets under dir + url (url "" is the top), depth levels deep at most. */
static void read_dir(kito_assets *a, const char *url, int depth)
{
    char full[4096 + KITO_ASSET_PATH_MAX];
    snprintf(full, sizeof(full), "%s%s", a->dir, url);
    DIR *d = opendir(full);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ., .. and hidden files */
        char child_url[KITO_ASSET_PATH_MAX * 2], child[sizeof(full) + KITO_ASSET_PATH_MAX];
        snprintf(child_url, sizeof(child_url), "%s/%s", url, e->d_name);
        snprintf(child, sizeof(child), "%s%s", a->dir, child_url);
        struct stat st;
        if (stat(child, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode) && depth > 0 && strcmp(e->d_name, "node_modules") != 0)
            read_dir(a, child_url, depth - 1);
        else if (S_ISREG(st.st_mode) && is_asset_name(e->d_name, strlen(e->d_name)))
            read_file(a, child, child_url, &st);
    }
    closedir(d);
}

static void items_free(kito_assets *a)
{
    for (size_t i = 0; a->items != NULL && i < a->n; i++) {
        free(a->items[i].raw);
        free(a->items[i].body);
    }
    a->n = 0;
}

void kito_assets_free(kito_assets *a)
{
    if (a == NULL)
        return;
    items_free(a);
    free(a->items);
    a->items = NULL;
}

kito_err kito_assets_load(kito_assets *a, const char *dir)
{
    items_free(a);
    if (a->items == NULL && (a->items = calloc(KITO_ASSETS_MAX, sizeof(*a->items))) == NULL)
        return KITO_E_NOMEM;
    if (dir != a->dir)
        snprintf(a->dir, sizeof(a->dir), "%s", dir);
    size_t n = strlen(a->dir);
    while (n > 0 && a->dir[n - 1] == '/')
        a->dir[--n] = '\0';
    read_dir(a, "", KITO_ASSETS_DEPTH);
    for (size_t i = 0; i < a->n; i++) {
        kito_err e = version_of(a, &a->items[i]);
        if (e != KITO_OK) {
            items_free(a);
            return e;
        }
    }
    return KITO_OK;
}

/* True when the file behind x is not what was read (changed, replaced or gone). */
static bool changed(const kito_assets *a, const kito_asset *x)
{
    char full[4096 + KITO_ASSET_PATH_MAX];
    snprintf(full, sizeof(full), "%s%s", a->dir, x->path);
    struct stat st;
    if (stat(full, &st) != 0)
        return true;
    int64_t mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    return mtime_ns != x->mtime_ns || st.st_size != x->size;
}

const kito_asset *kito_assets_get(kito_assets *a, const char *path, size_t len)
{
    char p[KITO_ASSET_PATH_MAX];
    if (a == NULL || a->items == NULL || len == 0 || len >= sizeof(p) - sizeof("index.html"))
        return NULL;
    memcpy(p, path, len);
    p[len] = '\0';
    if (p[len - 1] == '/')
        memcpy(p + len, "index.html", sizeof("index.html")), len += sizeof("index.html") - 1;
    kito_asset *x = find(a, p, len);
    if (x != NULL && changed(a, x)) {
        /* a developer's edit, or a deploy: read the set again (every hash above may move) */
        if (kito_assets_load(a, a->dir) != KITO_OK)
            return NULL;
        x = find(a, p, len);
    }
    return x;
}
