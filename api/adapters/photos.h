/*
 * Photo files of stones, stored by content (issue 4, "Photos"): a picture lives at
 *     <photo_dir>/<first two hex digits>/<sha256 hex>
 * so the same picture uploaded twice is one file, and its name is its checksum. Files are
 * written to a temporary name in the same directory, flushed (fsync) and renamed, so a crash
 * never leaves a half-written photo under a real name.
 *
 * Blocking file I/O: call the store and read functions on a worker thread (api/http/req_db.h),
 * never on the event loop. kito_photo_detect is pure. All are thread-safe.
 */
#ifndef KITO_PHOTOS_H
#define KITO_PHOTOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/common/crypto.h"
#include "engine/err.h"

/* Largest photo accepted (the route's body limit). */
#define KITO_PHOTO_MAX_BYTES ((size_t)8 << 20)
/* Smallest: a PNG signature and its IHDR chunk; anything shorter is not a picture. */
#define KITO_PHOTO_MIN_BYTES ((size_t)24)

/* The MIME type the bytes' magic number says: "image/png" (89 50 4E 47 0D 0A 1A 0A then an IHDR
 * chunk) or "image/jpeg" (FF D8 FF); NULL for anything else, including fewer than
 * KITO_PHOTO_MIN_BYTES bytes. Static storage. */
const char *kito_photo_detect(const void *bytes, size_t len);

/* The MIME type a Content-Type header value names, "image/png" or "image/jpeg" (parameters after
 * ';' and case ignored; "image/jpg" is taken as JPEG); NULL for anything else. Static storage. */
const char *kito_photo_content_type(const char *value, size_t len);

/* True if s is 64 lowercase hex digits (a photo's name). */
bool kito_photo_sha_valid(const char *s, size_t len);

/* Writes the path of photo sha under dir into out (cap bytes). KITO_E_CAPACITY if it does not
 * fit, KITO_E_VALIDATION if sha is not a photo name. */
kito_err kito_photo_path(const char *dir, const char *sha, char *out, size_t cap);

/* Stores len bytes under dir by their SHA-256 (written to sha): creates dir and the fan-out
 * directory as needed (mode 0755), skips the write when the file already exists with this size.
 * KITO_E_IO (the reason logged to stderr) when a directory or the file cannot be made;
 * KITO_E_INTERNAL on a hashing failure. */
kito_err kito_photo_store(const char *dir, const void *bytes, size_t len,
                          char sha[KITO_SHA256_HEX_SIZE]);

/* Reads photo sha from dir into a new buffer (*out, free with free(); *len its size), at most
 * KITO_PHOTO_MAX_BYTES. KITO_E_NOT_FOUND when there is no such file, KITO_E_IO on a read error
 * or a larger file, KITO_E_NOMEM. */
kito_err kito_photo_read(const char *dir, const char *sha, char **out, size_t *len);

#endif
