/* api/common/qr_svg.h: a certificate's QR code. The SVG is read back into modules (its path's
 * runs), compared with libqrencode's symbol, checked for the three finder patterns, and decoded
 * by ZBar (zbarimg, Debian's zbar-tools) from a bitmap of what the SVG draws: the code scans to
 * exactly the URL it was given. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common/qr_svg.h"

static const char URL[] = "https://kito.example:8443/verify.html?id=crt_0000000000042";

/* The modules an SVG of kito_qr_svg draws: side x side, from its "Mx yhNv1h-Nz" runs. */
static bool *svg_modules(const char *svg, int *side)
{
    int w = 0, h = 0;
    const char *vb = strstr(svg, "viewBox=\"0 0 ");
    cr_assert_not_null(vb);
    cr_assert_eq(sscanf(vb, "viewBox=\"0 0 %d %d\"", &w, &h), 2);
    cr_assert_eq(w, h);
    bool *m = calloc((size_t)w * (size_t)w, 1);
    const char *p = strstr(svg, " d=\"");
    cr_assert_not_null(p);
    p += 4;
    int x, y, run, back;
    while (*p == 'M') {
        int used = 0;
        cr_assert_eq(sscanf(p, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back, &used), 4, "at %.20s", p);
        cr_assert_eq(run, back);
        cr_assert(x >= KITO_QR_QUIET && y >= KITO_QR_QUIET && x + run <= w - KITO_QR_QUIET &&
                  y < w - KITO_QR_QUIET);
        for (int i = 0; i < run; i++)
            m[y * w + x + i] = true;
        p += used;
    }
    cr_assert_eq(strncmp(p, "\"/></svg>", 9), 0);
    *side = w;
    return m;
}

Test(qr_svg, draws_exactly_the_symbol_libqrencode_made)
{
    size_t len = 0;
    char *svg = kito_qr_svg(URL, &len);
    cr_assert_not_null(svg);
    cr_assert_eq(len, strlen(svg));
    int width = 0, side = 0;
    bool *want = NULL;
    cr_assert(kito_qr_modules(URL, &width, &want));
    /* 59 bytes at level M: version 4 (33 modules) holds 62 */
    cr_assert_eq(width, 33, "version %d", (width - 17) / 4);
    bool *got = svg_modules(svg, &side);
    cr_assert_eq(side, width + 2 * KITO_QR_QUIET);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            bool in = x >= KITO_QR_QUIET && y >= KITO_QR_QUIET && x < side - KITO_QR_QUIET &&
                      y < side - KITO_QR_QUIET;
            bool w = in && want[(y - KITO_QR_QUIET) * width + (x - KITO_QR_QUIET)];
            cr_assert_eq(got[y * side + x], w, "module (%d, %d)", x, y);
        }
    /* the finder patterns: top left, top right, bottom left (7x7: ring, gap, 3x3 core) */
    int corners[3][2] = {{0, 0}, {width - 7, 0}, {0, width - 7}};
    for (int c = 0; c < 3; c++)
        for (int dy = 0; dy < 7; dy++)
            for (int dx = 0; dx < 7; dx++) {
                bool ring = dx == 0 || dy == 0 || dx == 6 || dy == 6;
                bool core = dx >= 2 && dx <= 4 && dy >= 2 && dy <= 4;
                cr_assert_eq(want[(corners[c][1] + dy) * width + corners[c][0] + dx], ring || core,
                             "finder %d at (%d, %d)", c, dx, dy);
            }
    free(got);
    free(want);
    free(svg);
}

Test(qr_svg, zbar_reads_back_the_url)
{
    if (access("/usr/bin/zbarimg", X_OK) != 0)
        cr_skip_test("zbarimg is not installed (apt-get install zbar-tools)");
    char *svg = kito_qr_svg(URL, NULL);
    int side = 0;
    bool *m = svg_modules(svg, &side);
    /* the SVG's modules as a plain bitmap (PBM), 6 pixels a module */
    char path[] = "/tmp/kito-qr-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    int scale = 6;
    fprintf(f, "P1\n%d %d\n", side * scale, side * scale);
    for (int y = 0; y < side * scale; y++) {
        for (int x = 0; x < side * scale; x++)
            fputs(m[(y / scale) * side + x / scale] ? "1 " : "0 ", f);
        fputc('\n', f);
    }
    fclose(f);
    char cmd[128], out[256] = "";
    snprintf(cmd, sizeof(cmd), "zbarimg --quiet --raw 'PBM:%s' 2>/dev/null", path);
    FILE *z = popen(cmd, "r");
    cr_assert_not_null(z);
    size_t n = fread(out, 1, sizeof(out) - 1, z);
    out[n] = '\0';
    int rc = pclose(z);
    unlink(path);
    if (n > 0 && out[n - 1] == '\n')
        out[n - 1] = '\0';
    cr_assert_eq(rc, 0, "zbarimg: %s", out);
    cr_assert_str_eq(out, URL);
    free(m);
    free(svg);
}

Test(qr_svg, same_text_same_bytes)
{
    char *a = kito_qr_svg(URL, NULL), *b = kito_qr_svg(URL, NULL);
    cr_assert_str_eq(a, b);
    free(a);
    free(b);
}

Test(qr_svg, refuses_empty_and_too_long_text)
{
    cr_assert_null(kito_qr_svg("", NULL));
    cr_assert_null(kito_qr_svg(NULL, NULL));
    char long_text[KITO_QR_TEXT_MAX + 2];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    cr_assert_null(kito_qr_svg(long_text, NULL));
    long_text[KITO_QR_TEXT_MAX] = '\0'; /* exactly the most */
    char *svg = kito_qr_svg(long_text, NULL);
    cr_assert_not_null(svg);
    free(svg);
}
