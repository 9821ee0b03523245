/* The OpenAPI document matches the code (issue 4): every route of the route table is documented
 * with its method, every documented operation exists, and schemas/openapi.yaml is what
 * ops/openapi.sh makes of the fragments in schemas/openapi/. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/router.h"
#include "api/http/routes.h"

#define OPS_MAX 512

static struct op {
    char method[8];
    char path[200];
    char operation_id[100]; /* "" when the operation has none */
} ops[OPS_MAX];
static size_t nops;

/* Reads (method, path) pairs: "  /v1/x:" opens a path, "    get:" adds an operation. */
static void load_document(void)
{
    FILE *f = fopen(KITO_SOURCE_DIR "/schemas/openapi.yaml", "r");
    cr_assert(f != NULL, "schemas/openapi.yaml is missing");
    char line[1024], path[200] = "";
    bool in_paths = false;
    nops = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != ' ' && line[0] != '#' && line[0] != '\0')
            in_paths = strcmp(line, "paths:") == 0;
        if (!in_paths)
            continue;
        size_t len = strlen(line);
        if (strncmp(line, "  /", 3) == 0 && line[len - 1] == ':') {
            snprintf(path, sizeof(path), "%.*s", (int)(len - 3), line + 2);
        } else if (strncmp(line, "    ", 4) == 0 && islower((unsigned char)line[4]) &&
                   line[len - 1] == ':' && path[0] != '\0') {
            static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
            for (size_t i = 0; i < 5; i++)
                if (strncmp(line + 4, methods[i], strlen(methods[i])) == 0 &&
                    len == 5 + strlen(methods[i])) {
                    cr_assert(nops < OPS_MAX);
                    snprintf(ops[nops].method, sizeof(ops[nops].method), "%s", methods[i]);
                    snprintf(ops[nops].path, sizeof(ops[nops].path), "%s", path);
                    ops[nops].operation_id[0] = '\0';
                    nops++;
                }
        } else if (strncmp(line, "      operationId: ", 19) == 0 && nops > 0) {
            size_t cap = sizeof(ops[nops - 1].operation_id);
            int n = snprintf(ops[nops - 1].operation_id, cap, "%s", line + 19);
            cr_assert(n >= 0 && (size_t)n < cap, "operationId longer than %zu bytes: %s", cap - 1,
                      line + 19);
        }
    }
    fclose(f);
}

/* The route's method as the document spells it ("get"): the router's name for it, lower-cased. */
static const char *doc_method(const kito_route *route, char name[16])
{
    size_t n = kito_method_allow_header(route->method, name, 16);
    for (size_t i = 0; i < n; i++)
        name[i] = (char)tolower((unsigned char)name[i]);
    return name;
}

/* Whether the document's operation op is the route (the same method and path pattern). */
static bool documents(const struct op *op, const kito_route *route)
{
    char method[16];
    return strcmp(op->path, route->pattern) == 0 &&
           strcmp(op->method, doc_method(route, method)) == 0;
}

/* Whether some operation of the document is the route. */
static bool route_documented(const kito_route *route)
{
    for (size_t k = 0; k < nops; k++) {
        if (documents(&ops[k], route))
            return true;
    }
    return false;
}

/* Whether some route of routes[0 .. n) is the operation. */
static bool op_served(const struct op *op, const kito_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (documents(op, &routes[i]))
            return true;
    }
    return false;
}

Test(openapi, every_route_is_documented)
{
    load_document();
    size_t n;
    const kito_route *routes = kito_routes_table(65536, &n);
    char method[16];
    for (size_t i = 0; i < n; i++)
        cr_expect(route_documented(&routes[i]), "%s %s is served but not in schemas/openapi.yaml",
                  doc_method(&routes[i], method), routes[i].pattern);
}

Test(openapi, every_documented_operation_is_served)
{
    load_document();
    cr_assert(nops > 0, "no operations read from the document");
    size_t n;
    const kito_route *routes = kito_routes_table(65536, &n);
    for (size_t k = 0; k < nops; k++)
        cr_expect(op_served(&ops[k], routes, n), "%s %s is documented but kitod does not serve it",
                  ops[k].method, ops[k].path);
}

Test(openapi, document_is_assembled_from_the_fragments)
{
    int rc = system("bash " KITO_SOURCE_DIR "/ops/openapi.sh --check");
    cr_assert_eq(rc, 0, "schemas/openapi.yaml is stale: run ops/openapi.sh");
}

/* The operationId an operation must have (issue 15, finding 11): stable because it is made of
 * what identifies the operation, its method and path: the method, then each path segment but
 * "v1" and the parameters in PascalCase, words split at '-', '_' and '.', and a segment followed
 * by a parameter without its plural s. POST /v1/lots/{id}/bids is postLotBids, GET
 * /.well-known/kito-keys.json getWellKnownKitoKeysJson. */
static void expected_operation_id(const char *method, const char *path, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", method);
    const char *p = path;
    while (*p != '\0' && n + 1 < cap) {
        while (*p == '/')
            p++;
        size_t len = strcspn(p, "/");
        const char *next = p + len + (p[len] == '/');
        bool param = len > 0 && p[0] == '{';
        bool v1 = len == 2 && strncmp(p, "v1", 2) == 0;
        if (len > 0 && !param && !v1) {
            size_t use = len;
            if (next[0] == '{' && p[len - 1] == 's')
                use--; /* "lots/{id}": one lot */
            bool upper = true;
            for (size_t i = 0; i < use && n + 1 < cap; i++) {
                if (strchr("-_.", p[i]) != NULL) {
                    upper = true;
                    continue;
                }
                out[n++] = upper ? (char)toupper((unsigned char)p[i]) : p[i];
                upper = false;
            }
            out[n] = '\0';
        }
        p += len;
    }
}

Test(openapi, every_operation_has_its_stable_operation_id)
{
    load_document();
    cr_assert(nops > 0);
    for (size_t k = 0; k < nops; k++) {
        char want[100];
        expected_operation_id(ops[k].method, ops[k].path, want, sizeof(want));
        cr_expect_str_eq(ops[k].operation_id, want, "%s %s: operationId \"%s\", want \"%s\"",
                         ops[k].method, ops[k].path, ops[k].operation_id, want);
    }
    char id[100];
    expected_operation_id("post", "/v1/lots/{id}/bids", id, sizeof(id));
    cr_assert_str_eq(id, "postLotBids");
}

/* Issue 15, finding 11: the bid route documented 422 for a malformed body, where kitod answers a
 * body that is not JSON with 400 malformed_json (api/http/json.c). */
Test(openapi, the_bid_route_documents_malformed_json_as_400)
{
    FILE *f = fopen(KITO_SOURCE_DIR "/schemas/openapi.yaml", "r");
    cr_assert(f != NULL);
    static char doc[1 << 20];
    size_t len = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[len] = '\0';
    char *bids = strstr(doc, "\n  /v1/lots/{id}/bids:\n");
    cr_assert(bids != NULL);
    const char *end = strstr(bids + 1, "\n  /");
    if (end != NULL)
        doc[end - doc] = '\0'; /* the bid route's lines only */
    cr_assert(strstr(bids, "400\n        `malformed_json`") != NULL ||
                  strstr(bids, "400 `malformed_json`") != NULL,
              "the bid route does not say that a body that is not JSON is 400 malformed_json");
    cr_assert(strstr(bids, "malformed body or amount is 422") == NULL);
}
