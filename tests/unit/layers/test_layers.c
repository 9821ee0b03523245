/* The layers of api/ (api/README.md): a file includes only files of its own layer or of a layer
 * below it, and engine/ includes nothing of api/. Read from the sources themselves, so a new
 * include that crosses a layer upward fails here with the file and the line. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>

/* What each layer may include besides itself (api/README.md, the table). */
static const struct {
    const char *layer;
    const char *may;
} rules[] = {
    {"http", " live money phone store adapters common "},
    {"live", " store adapters common "},
    {"money", " store adapters common "},
    {"phone", " store adapters common "},
    {"store", " adapters common "},
    {"adapters", " common "},
    {"common", " "},
};

/* Known exceptions, each with the work that removes it: a stale entry fails too. */
static const struct {
    const char *file;
    const char *includes;
} exceptions[] = {
    {NULL, NULL}, /* none today; an entry names a file, the layer it may include, and why */
};

static bool exception_used[sizeof(exceptions) / sizeof(exceptions[0])];

static bool excepted(const char *file, const char *target)
{
    for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
        if (exceptions[i].file != NULL && strcmp(exceptions[i].file, file) == 0 &&
            strcmp(exceptions[i].includes, target) == 0) {
            exception_used[i] = true;
            return true;
        }
    return false;
}

/* Checks every #include "api/<layer>/..." of one file; returns the number of violations. */
static int check_file(const char *dir, const char *layer, const char *name, const char *may)
{
    char path[1024], rel[256], line[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(rel, sizeof(rel), "%s/%s", layer, name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    int bad = 0, n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        n++;
        char target[32];
        if (sscanf(line, " #include \"api/%31[a-z]/", target) != 1)
            continue;
        if (strcmp(target, layer) == 0 || excepted(rel, target))
            continue;
        char padded[40];
        snprintf(padded, sizeof(padded), " %s ", target);
        if (may == NULL || strstr(may, padded) == NULL) {
            cr_log_error("api/%s:%d includes api/%s/ (a %s file may include:%s)", rel, n, target,
                         layer, may != NULL ? may : " nothing of api/");
            bad++;
        }
    }
    fclose(f);
    return bad;
}

static int check_dir(const char *layer, const char *may)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/api/%s", KITO_SOURCE_DIR, layer);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no folder %s", dir);
    int bad = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 2 && e->d_name[len - 2] == '.' &&
            (e->d_name[len - 1] == 'c' || e->d_name[len - 1] == 'h'))
            bad += check_file(dir, layer, e->d_name, may);
    }
    closedir(d);
    return bad;
}

Test(layers, no_file_includes_a_layer_above_its_own)
{
    int bad = 0;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
        bad += check_dir(rules[i].layer, rules[i].may);
    cr_assert_eq(bad, 0, "%d includes cross a layer upward (see the log and api/README.md)", bad);
    for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
        cr_expect(exceptions[i].file == NULL || exception_used[i],
                  "the exception for %s -> %s is no longer needed: remove it", exceptions[i].file,
                  exceptions[i].includes);
}

Test(layers, the_engine_includes_nothing_of_api)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/engine", KITO_SOURCE_DIR);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    int bad = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (len > 2 && e->d_name[len - 2] == '.')
            bad += check_file(dir, "engine", e->d_name, NULL);
    }
    closedir(d);
    cr_assert_eq(bad, 0, "the engine includes api/ (it must stay pure: engine/README.md)");
}
