/* api/http/assets: the storefront's scripts and styles get versioned URLs; a change in a file
 * moves its version and the version of every file that imports it (issue 16, "Serving"). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/http/assets.h"

static const char *fixed(void *ud, const char *path, size_t len)
{
    (void)ud;
    if (len == 7 && memcmp(path, "/api.js", 7) == 0)
        return "aaaaaaaaaaaa";
    if (len == 8 && memcmp(path, "/app.css", 8) == 0)
        return "cccccccccccc";
    return NULL;
}

static char *rewrite(const char *in)
{
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(kito_assets_rewrite(in, strlen(in), fixed, NULL, &out, &len), KITO_OK);
    char *s = malloc(len + 1);
    memcpy(s, out, len);
    s[len] = '\0';
    free(out);
    return s;
}

static void expect_rewrite(const char *in, const char *want)
{
    char *got = rewrite(in);
    cr_expect_str_eq(got, want, "%s", in);
    free(got);
}

Test(assets, known_references_are_versioned_in_either_quote)
{
    expect_rewrite("import { el } from '/api.js';", "import { el } from '/api.js?v=aaaaaaaaaaaa';");
    expect_rewrite("<link rel=\"stylesheet\" href=\"/app.css\">",
                   "<link rel=\"stylesheet\" href=\"/app.css?v=cccccccccccc\">");
    expect_rewrite("'/api.js''/app.css'", "'/api.js?v=aaaaaaaaaaaa''/app.css?v=cccccccccccc'");
}

Test(assets, everything_else_is_left_as_written)
{
    static const char *const same[] = {
        "fetch('/v1/sales')",     /* not an asset */
        "href: '/me.html'",       /* a page: its URL is what a person links to */
        "'/api.js?v=1'",          /* a version already */
        "'/api.js#x'",            /* a fragment */
        "'//cdn.example/api.js'", /* another site */
        "'./api.js'",             /* relative */
        "'/api.js",               /* no closing quote */
        "'/api.js\"",             /* another quote */
        "'/other.js'",            /* not one of ours */
        "'/api.js\n'",            /* across a line */
        "",
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        expect_rewrite(same[i], same[i]);
}

/* A storefront in a temporary folder: name -> text. */
static char dir[64];

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static void make_dir(void)
{
    snprintf(dir, sizeof(dir), "/tmp/kito-assets-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    char sub[128];
    snprintf(sub, sizeof(sub), "%s/console", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    put("i18n.js", "export const t = 1;\n");
    put("api.js", "import { t } from '/i18n.js';\n");
    put("sale.js", "import '/api.js';\nimport '/live.js';\n");
    put("live.js", "import '/sale.js';\n"); /* a cycle: sale -> live -> sale */
    put("app.css", "body{}\n");
    put("sale.html",
        "<link href=\"/app.css\"><script type=\"module\" src=\"/sale.js\"></script>\n");
    put("console/index.html", "<script type=\"module\" src=\"/console/c.js\"></script>\n");
    put("console/c.js", "import '/api.js';\n");
    put("photo.jpg", "not an asset");
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static char *hash_of(kito_assets *a, const char *path)
{
    const kito_asset *x = kito_assets_get(a, path, strlen(path));
    cr_assert_not_null(x, "%s is served", path);
    return strdup(x->hash);
}

Test(assets, a_change_moves_the_versions_of_every_file_above_it, .init = make_dir,
     .fini = remove_dir)
{
    kito_assets a = {0};
    cr_assert_eq(kito_assets_load(&a, dir), KITO_OK);
    cr_assert_eq(a.n, 8, "every .html, .js and .css, in folders too; nothing else");
    cr_assert_null(kito_assets_get(&a, "/photo.jpg", 10));
    const kito_asset *page = kito_assets_get(&a, "/sale.html", 10);
    cr_assert_not_null(page);
    char *api = hash_of(&a, "/api.js"), *i18n = hash_of(&a, "/i18n.js"),
         *sale = hash_of(&a, "/sale.js"), *css = hash_of(&a, "/app.css"),
         *console = hash_of(&a, "/console/c.js");
    char want[256];
    snprintf(want, sizeof(want), "href=\"/app.css?v=%s\"", css);
    cr_assert(memmem(page->body, page->body_len, want, strlen(want)) != NULL, "%.*s",
              (int)page->body_len, page->body);
    snprintf(want, sizeof(want), "src=\"/sale.js?v=%s\"", sale);
    cr_assert(memmem(page->body, page->body_len, want, strlen(want)) != NULL);
    const kito_asset *index = kito_assets_get(&a, "/console/", 9);
    cr_assert_not_null(index, "a folder's index.html");
    snprintf(want, sizeof(want), "/console/c.js?v=%s", console);
    cr_assert(memmem(index->body, index->body_len, want, strlen(want)) != NULL);

    /* i18n.js changes: its version moves, and so do api.js's and everything importing api.js;
     * app.css's does not */
    sleep(1); /* a later mtime on every file system */
    put("i18n.js", "export const t = 2;\n");
    char *i18n2 = hash_of(&a, "/i18n.js"), *api2 = hash_of(&a, "/api.js"),
         *sale2 = hash_of(&a, "/sale.js"), *css2 = hash_of(&a, "/app.css"),
         *console2 = hash_of(&a, "/console/c.js");
    cr_expect_str_neq(i18n2, i18n);
    cr_expect_str_neq(api2, api);
    cr_expect_str_neq(sale2, sale);
    cr_expect_str_neq(console2, console);
    cr_expect_str_eq(css2, css);
    const kito_asset *x = kito_assets_get(&a, "/api.js", 7);
    snprintf(want, sizeof(want), "'/i18n.js?v=%s'", i18n2);
    cr_assert(memmem(x->body, x->body_len, want, strlen(want)) != NULL);
    cr_assert_str_eq(kito_assets_content_type("/api.js"), "application/javascript");
    cr_assert_str_eq(kito_assets_content_type("/sale.html"), "text/html");
    cr_assert_str_eq(kito_assets_content_type("/app.css"), "text/css");
    free(api), free(i18n), free(sale), free(css), free(console);
    free(api2), free(i18n2), free(sale2), free(css2), free(console2);
    kito_assets_free(&a);
}
