#include "api/common/csv.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool reserve(kito_csv *c, size_t more)
{
    if (c->failed)
        return false;
    if (c->len + more + 1 <= c->cap)
        return true;
    size_t want = c->cap > 0 ? c->cap : 1024;
    while (want < c->len + more + 1)
        want *= 2;
    if (want > KITO_CSV_MAX) {
        c->failed = true;
        return false;
    }
    char *b = realloc(c->buf, want);
    if (b == NULL) {
        c->failed = true;
        return false;
    }
    c->buf = b;
    c->cap = want;
    return true;
}

static void put(kito_csv *c, const char *s, size_t n)
{
    if (!reserve(c, n))
        return;
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

static void separator(kito_csv *c)
{
    if (c->in_row)
        put(c, ",", 1);
    c->in_row = true;
}

void kito_csv_text(kito_csv *c, const char *s)
{
    separator(c);
    if (s == NULL || s[0] == '\0')
        return;
    bool formula = strchr("=+-@\t\r", s[0]) != NULL;
    bool quote = formula || strpbrk(s, ",\"\r\n") != NULL;
    if (quote)
        put(c, "\"", 1);
    if (formula)
        put(c, "'", 1);
    for (const char *p = s; *p != '\0'; p++) {
        size_t run = strcspn(p, "\"");
        put(c, p, run);
        p += run;
        if (*p == '\0')
            break;
        put(c, "\"\"", 2);
    }
    if (quote)
        put(c, "\"", 1);
}

void kito_csv_int(kito_csv *c, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    separator(c);
    put(c, b, (size_t)n);
}

void kito_csv_minor(kito_csv *c, int64_t minor)
{
    char b[32];
    /* the magnitude as unsigned: INT64_MIN has no positive int64_t */
    uint64_t m = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    int n =
        snprintf(b, sizeof(b), "%s%" PRIu64 ".%02" PRIu64, minor < 0 ? "-" : "", m / 100, m % 100);
    separator(c);
    put(c, b, (size_t)n);
}

void kito_csv_end_row(kito_csv *c)
{
    put(c, "\r\n", 2);
    c->in_row = false;
}

void kito_csv_free(kito_csv *c)
{
    if (c == NULL)
        return;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}
