/*
 * Photos sized for phones (issue 16: "photos ... sized for phones"; "thumbnails included" in a
 * page's 100 KB): a stored photo (api/adapters/photos.h) scaled down to fit a square of
 * KITO_THUMB_WIDTHS pixels and written as a JPEG (quality KITO_THUMB_QUALITY), made once and
 * kept beside the photo as <photo_dir>/<xx>/<sha256>.w<width>.jpg (written to a temporary name
 * and renamed, so a reader never sees half of one). A photo already that small is re-encoded
 * all the same (the same URL always answers a JPEG).
 *
 * Decoding: libjpeg-turbo (its DCT scaling does most of the shrinking for JPEGs) and libpng's
 * simplified API (transparency composed over white); then an area-average resample.
 * Bounds: photos of at most KITO_THUMB_SOURCE_PIXELS pixels (a larger one is refused rather than
 * decoded whole).
 *
 * Blocking: call on a worker thread, never on the event loop. Thread-safe.
 */
#ifndef KITO_THUMBS_H
#define KITO_THUMBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* The widths served: cards in a sale's list (72 CSS px at up to 2x) and a lot page's photos
 * (up to 320 CSS px at 2x). */
#define KITO_THUMB_SMALL 160
#define KITO_THUMB_LARGE 640
#define KITO_THUMB_QUALITY 78
#define KITO_THUMB_SOURCE_PIXELS (50u * 1000 * 1000)

/* True when width is one of the widths served. */
bool kito_thumb_width_valid(uint32_t width);

/* Scales the picture in bytes[0..len) (mime "image/jpeg" or "image/png") to fit a width x width
 * square, keeping its proportions, as a JPEG in a new buffer (*out, free with free(); *out_len).
 * *w and *h get its size (may be NULL). Pure. KITO_E_VALIDATION for bytes that do not decode,
 * KITO_E_CAPACITY for a picture over KITO_THUMB_SOURCE_PIXELS, KITO_E_NOMEM. */
kito_err kito_thumb_make(const void *bytes, size_t len, const char *mime, uint32_t width,
                         char **out, size_t *out_len, uint32_t *w, uint32_t *h);

/* Reads the sized copy of photo sha (width) from dir, making and keeping it first when there is
 * none (from the photo, whose type is mime). *out as kito_thumb_make. KITO_E_NOT_FOUND when the
 * photo is missing, KITO_E_IO when the copy cannot be written (it is still answered), errors of
 * kito_thumb_make. */
kito_err kito_thumb_get(const char *dir, const char *sha, const char *mime, uint32_t width,
                        char **out, size_t *out_len);

#endif
