#include "api/adapters/photos.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/common/log.h"

#define PATH_CAP 1200

const char *kito_photo_detect(const void *bytes, size_t len)
{
    static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
    const unsigned char *b = bytes;
    if (b == NULL || len < KITO_PHOTO_MIN_BYTES)
        return NULL;
    /* PNG: the signature, then the first chunk must be IHDR (length 13). */
    if (memcmp(b, png, sizeof(png)) == 0 && memcmp(b + 12, "IHDR", 4) == 0)
        return "image/png";
    /* JPEG: SOI (FF D8) followed by a marker (FF xx). */
    if (b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        return "image/jpeg";
    return NULL;
}

const char *kito_photo_content_type(const char *value, size_t len)
{
    if (value == NULL)
        return NULL;
    size_t n = 0;
    while (n < len && value[n] != ';' && value[n] != ' ' && value[n] != '\t')
        n++;
    if (n == 9 && strncasecmp(value, "image/png", 9) == 0)
        return "image/png";
    if ((n == 10 && strncasecmp(value, "image/jpeg", 10) == 0) ||
        (n == 9 && strncasecmp(value, "image/jpg", 9) == 0))
        return "image/jpeg";
    return NULL;
}

bool kito_photo_sha_valid(const char *s, size_t len)
{
    if (s == NULL || len != 64)
        return false;
    for (size_t i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

kito_err kito_photo_path(const char *dir, const char *sha, char *out, size_t cap)
{
    if (!kito_photo_sha_valid(sha, sha != NULL ? strlen(sha) : 0))
        return KITO_E_VALIDATION;
    int n = snprintf(out, cap, "%s/%.2s/%s", dir, sha, sha);
    if (n < 0 || (size_t)n >= cap)
        return KITO_E_CAPACITY;
    return KITO_OK;
}

static kito_err make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return KITO_OK;
    kito_log(NULL, "cannot create %s: %s", path, strerror(errno));
    return KITO_E_IO;
}

/* mkdir -p for dir (which is short: a configured path). */
static kito_err make_dirs(const char *dir)
{
    char buf[PATH_CAP];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof(buf))
        return KITO_E_IO;
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i < n; i++) {
        if (buf[i] != '/')
            continue;
        buf[i] = '\0';
        kito_err e = make_dir(buf);
        buf[i] = '/';
        if (e != KITO_OK)
            return e;
    }
    return make_dir(buf);
}

static kito_err write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return KITO_E_IO;
        p += w;
        len -= (size_t)w;
    }
    return KITO_OK;
}

kito_err kito_photo_store(const char *dir, const void *bytes, size_t len,
                          char sha[KITO_SHA256_HEX_SIZE])
{
    kito_err e = kito_crypto_sha256_hex(bytes, len, sha);
    if (e != KITO_OK)
        return e;
    char path[PATH_CAP], fan[PATH_CAP], tmp[PATH_CAP];
    if (kito_photo_path(dir, sha, path, sizeof(path)) != KITO_OK)
        return KITO_E_IO;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
        return KITO_OK; /* content-addressed: already there */
    snprintf(fan, sizeof(fan), "%s/%.2s", dir, sha);
    if ((e = make_dirs(fan)) != KITO_OK)
        return e;
    uint8_t rnd[8];
    char rnd_hex[17];
    if (kito_crypto_random(rnd, sizeof(rnd)) != KITO_OK)
        return KITO_E_INTERNAL;
    kito_crypto_hex(rnd, sizeof(rnd), rnd_hex);
    int n = snprintf(tmp, sizeof(tmp), "%s/.tmp-%s-%s", fan, sha, rnd_hex);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return KITO_E_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        kito_log(NULL, "cannot create %s: %s", tmp, strerror(errno));
        return KITO_E_IO;
    }
    e = write_all(fd, bytes, len);
    if (e == KITO_OK && fsync(fd) != 0)
        e = KITO_E_IO;
    if (close(fd) != 0)
        e = KITO_E_IO;
    if (e == KITO_OK && rename(tmp, path) != 0)
        e = KITO_E_IO;
    if (e != KITO_OK) {
        kito_log(NULL, "cannot store photo %s: %s", path, strerror(errno));
        unlink(tmp);
        return e;
    }
    /* make the rename itself durable */
    int dfd = open(fan, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return KITO_OK;
}

kito_err kito_photo_read(const char *dir, const char *sha, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    char path[PATH_CAP];
    if (kito_photo_path(dir, sha, path, sizeof(path)) != KITO_OK)
        return KITO_E_NOT_FOUND;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? KITO_E_NOT_FOUND : KITO_E_IO;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (size_t)st.st_size > KITO_PHOTO_MAX_BYTES) {
        close(fd);
        return KITO_E_IO;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        close(fd);
        return KITO_E_NOMEM;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (got != size) {
        free(buf);
        return KITO_E_IO;
    }
    *out = buf;
    *len = size;
    return KITO_OK;
}
