/*
 * QR codes as SVG images (issue 17: a certificate's printable page carries a QR code that opens
 * its verify URL). The symbol is made by libqrencode (Debian's libqrencode-dev, ISO/IEC 18004);
 * this module only draws it. Pure: no I/O; any thread (libqrencode's encoder is reentrant).
 */
#ifndef KITO_QR_SVG_H
#define KITO_QR_SVG_H

#include <stdbool.h>
#include <stddef.h>

/* The longest text kito_qr_svg encodes (a URL of ours is under 100 bytes); a longer one is
 * refused rather than drawn as a symbol too dense to print small. */
#define KITO_QR_TEXT_MAX 512

/* The quiet zone around the symbol, in modules (ISO/IEC 18004 asks for 4). */
#define KITO_QR_QUIET 4

/* Encodes text (8-bit byte mode, error correction level M: a printed page may be scuffed, and M
 * keeps a URL at version 4-6) and draws it as a standalone SVG document: a white square of
 * (width + 2 * KITO_QR_QUIET) modules with one black path of the dark modules, one unit per
 * module, crispEdges. Returns a new NUL-terminated buffer (free with free()) and its length
 * without the NUL in *len (may be NULL); NULL when text is empty or longer than
 * KITO_QR_TEXT_MAX, or memory runs out. */
char *kito_qr_svg(const char *text, size_t *len);

/* The module matrix kito_qr_svg draws, for tests: *width modules a side, row by row, true for a
 * dark module, in a new buffer (free with free()). false on the same failures. */
bool kito_qr_modules(const char *text, int *width, bool **modules);

#endif
