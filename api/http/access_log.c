#include "api/http/access_log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static void on_flush(uv_timer_t *t)
{
    kito_access_log *log = t->data;
    if (log->dirty) {
        fflush(log->out);
        log->dirty = false;
    }
}

kito_err kito_access_log_open(kito_access_log *log, const char *path, uv_loop_t *loop, char *err,
                              size_t err_size)
{
    memset(log, 0, sizeof(*log));
    if (strcmp(path, "-") == 0) {
        log->out = stdout;
    } else {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0 || (log->out = fdopen(fd, "a")) == NULL) {
            snprintf(err, err_size, "cannot open the access log %s: %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return KITO_E_IO;
        }
        log->owns_out = true;
        setvbuf(log->out, NULL, _IOFBF, 1 << 16);
    }
    if (loop != NULL && uv_timer_init(loop, &log->flush_timer) == 0) {
        log->timer_open = true;
        log->flush_timer.data = log;
        uv_timer_start(&log->flush_timer, on_flush, KITO_ACCESS_LOG_FLUSH_MS,
                       KITO_ACCESS_LOG_FLUSH_MS);
    }
    return KITO_OK;
}

/* Appends s as the inside of a JSON string: quotes, backslashes and control bytes escaped; bytes
 * >= 0x80 escaped as \u00XX so a line is valid JSON whatever the client sent. */
static size_t put_escaped(char *buf, size_t size, size_t at, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len && at + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[at++] = '\\';
            buf[at++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            memcpy(buf + at, "\\u00", 4);
            buf[at + 4] = hex[c >> 4];
            buf[at + 5] = hex[c & 15];
            at += 6;
        } else {
            buf[at++] = (char)c;
        }
    }
    return at;
}

/* Appends n bytes, cut at size - 1 (the line stays NUL-terminated). */
static size_t put_raw(char *buf, size_t size, size_t at, const char *s, size_t n)
{
    if (at + 1 >= size)
        return at;
    if (n > size - 1 - at)
        n = size - 1 - at;
    memcpy(buf + at, s, n);
    at += n;
    buf[at] = '\0';
    return at;
}

static size_t put(char *buf, size_t size, size_t at, const char *s)
{
    return put_raw(buf, size, at, s, strlen(s));
}

/* Appends v in decimal, at least `width` digits (zero-padded). */
static size_t put_uint(char *buf, size_t size, size_t at, uint64_t v, int width)
{
    char t[24];
    char *p = t + sizeof(t);
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
        width--;
    } while (v != 0 || width > 0);
    return put_raw(buf, size, at, p, (size_t)(t + sizeof(t) - p));
}

/* Formatted by hand rather than with strftime and printf: this runs for every request. */
size_t kito_access_log_format(const kito_access_entry *e, int64_t unix_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (size > 0)
        buf[0] = '\0';
    size_t at = put(buf, size, 0, "{\"time\":\"");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_year + 1900, 1);
    at = put(buf, size, at, "-");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_mon + 1, 2);
    at = put(buf, size, at, "-");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_mday, 2);
    at = put(buf, size, at, "T");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_hour, 2);
    at = put(buf, size, at, ":");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_min, 2);
    at = put(buf, size, at, ":");
    at = put_uint(buf, size, at, (uint64_t)tm.tm_sec, 2);
    at = put(buf, size, at, ".");
    at = put_uint(buf, size, at, (uint64_t)(unix_ms % 1000), 3);
    at = put(buf, size, at, "Z\",\"method\":\"");
    at = put_escaped(buf, size, at, e->method, e->method_len > 16 ? 16 : e->method_len);
    at = put(buf, size, at, "\",\"path\":\"");
    size_t path_len = e->path_len;
    bool cut = path_len > KITO_ACCESS_LOG_PATH_MAX;
    at = put_escaped(buf, size, at, e->path, cut ? KITO_ACCESS_LOG_PATH_MAX : path_len);
    at = put(buf, size, at, cut ? "...\",\"status\":" : "\",\"status\":");
    if (e->status < 0)
        at = put(buf, size, at, "-");
    at = put_uint(buf, size, at, e->status < 0 ? -(uint64_t)e->status : (uint64_t)e->status, 1);
    at = put(buf, size, at, ",\"bytes\":");
    at = put_uint(buf, size, at, e->bytes, 1);
    at = put(buf, size, at, ",\"duration_us\":");
    at = put_uint(buf, size, at, e->duration_us, 1);
    at = put(buf, size, at, ",\"protocol\":\"");
    at = put(buf, size, at, e->protocol);
    at = put(buf, size, at, "\",\"remote\":\"");
    at = put(buf, size, at, e->remote);
    at = put(buf, size, at, "\",\"route\":\"");
    at = put_escaped(buf, size, at, e->route, strlen(e->route));
    at = put(buf, size, at, e->abandoned ? "\",\"abandoned\":true}\n" : "\"}\n");
    return at;
}

void kito_access_log_write(kito_access_log *log, const kito_access_entry *e)
{
    char line[1024 + 6 * KITO_ACCESS_LOG_PATH_MAX];
    struct timeval tv;
    gettimeofday(&tv, NULL);
    size_t n = kito_access_log_format(e, (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, line,
                                      sizeof(line));
    fwrite(line, 1, n, log->out);
    log->dirty = true;
    if (!log->timer_open)
        fflush(log->out);
}

void kito_access_log_close(kito_access_log *log)
{
    if (log->out != NULL) {
        fflush(log->out);
        if (log->owns_out)
            fclose(log->out);
        log->out = NULL;
    }
    if (log->timer_open) {
        log->timer_open = false;
        uv_close((uv_handle_t *)&log->flush_timer, NULL);
    }
}
