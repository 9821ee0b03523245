#include "api/common/qr_svg.h"

#include <assert.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libqrencode's symbol: bit 0 of each byte is the module's colour (1 = dark; qrencode.h). */
static QRcode *encode(const char *text)
{
    size_t n = text != NULL ? strlen(text) : 0;
    if (n == 0 || n > KITO_QR_TEXT_MAX)
        return NULL;
    /* version 0: the smallest that fits; case-sensitive 8-bit mode keeps the URL exact */
    return QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M);
}

bool kito_qr_modules(const char *text, int *width, bool **modules)
{
    QRcode *q = encode(text);
    if (q == NULL)
        return false;
    size_t cells = (size_t)q->width * (size_t)q->width;
    bool *m = malloc(cells);
    if (m == NULL) {
        QRcode_free(q);
        return false;
    }
    for (size_t i = 0; i < cells; i++)
        m[i] = (q->data[i] & 1) != 0;
    *width = q->width;
    *modules = m;
    QRcode_free(q);
    return true;
}

char *kito_qr_svg(const char *text, size_t *len)
{
    QRcode *q = encode(text);
    if (q == NULL)
        return NULL;
    int w = q->width, side = w + 2 * KITO_QR_QUIET;
    assert(w >= 21 && w <= 177); /* versions 1 to 40 */
    /* Each run of dark modules in a row is one subpath "M x y h n v1 h -n z": at most
     * 30 bytes a run, at most w/2 + 1 runs a row. */
    size_t cap = 512 + (size_t)w * ((size_t)w / 2 + 1) * 30;
    char *out = malloc(cap);
    if (out == NULL) {
        QRcode_free(q);
        return NULL;
    }
    size_t n =
        (size_t)snprintf(out, cap,
                         "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
                         " width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
                         "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
                         side, side, side * 8, side * 8, side, side);
    for (int y = 0; y < w; y++) {
        for (int x = 0; x < w;) {
            if ((q->data[y * w + x] & 1) == 0) {
                x++;
                continue;
            }
            int run = 1;
            while (x + run < w && (q->data[y * w + x + run] & 1) != 0)
                run++;
            n += (size_t)snprintf(out + n, cap - n, "M%d %dh%dv1h-%dz", x + KITO_QR_QUIET,
                                  y + KITO_QR_QUIET, run, run);
            assert(n < cap);
            x += run;
        }
    }
    n += (size_t)snprintf(out + n, cap - n, "\"/></svg>\n");
    assert(n < cap);
    QRcode_free(q);
    if (len != NULL)
        *len = n;
    return out;
}
