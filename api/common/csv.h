/*
 * CSV text (RFC 4180: fields separated by commas, rows ended by CRLF, a field holding a comma,
 * quote, CR or LF quoted with its quotes doubled) written into a growing buffer, for the exports
 * an organiser opens in a spreadsheet (issue 17: a sale's results). Pure; any thread.
 */
#ifndef KITO_CSV_H
#define KITO_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most a document may grow to; beyond it the writer fails (a sale has at most 1000 lots: a
 * few hundred KB). */
#define KITO_CSV_MAX ((size_t)8 << 20)

typedef struct kito_csv {
    char *buf;   /* NUL-terminated text so far; owned; free with kito_csv_free */
    size_t len;  /* bytes without the NUL */
    size_t cap;  /* bytes of buf */
    bool in_row; /* a field was written in the current row (the next one needs a comma) */
    bool failed; /* memory ran out or KITO_CSV_MAX was reached: the text is incomplete */
} kito_csv;

/* A text field. A value a spreadsheet would run as a formula (first character = + - @, a tab or
 * a CR: OWASP, "CSV Injection") gets a leading apostrophe, so a stone's free-text variety cannot
 * become a formula on the organiser's machine. NULL writes an empty field. */
void kito_csv_text(kito_csv *c, const char *s);

/* An integer field. */
void kito_csv_int(kito_csv *c, int64_t v);

/* An amount of minor units as a decimal with two places ("1250.50", "-3.05"). */
void kito_csv_minor(kito_csv *c, int64_t minor);

/* Ends the current row (CRLF). */
void kito_csv_end_row(kito_csv *c);

/* Frees the buffer (c itself is the caller's); NULL-safe. */
void kito_csv_free(kito_csv *c);

#endif
