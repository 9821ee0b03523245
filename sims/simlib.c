/* simlib: the provider simulators' shared scaffolding (see simlib.h). */
#include "sims/simlib.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *sim_name = "sim";

void sim_set_name(const char *name)
{
    sim_name = name;
}

void sim_log(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", sim_name);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
}

int64_t sim_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sim_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void sim_run_prefix(char out[5])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
    for (int k = 0; k < 4; k++, seed /= 26)
        out[k] = (char)('A' + seed % 26);
    out[4] = '\0';
}

bool sim_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = s != NULL ? strtol(s, &end, 10) : 0;
    if (s == NULL || *s == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
        return false;
    *out = v;
    return true;
}

/* ---- answers --------------------------------------------------------------------------------- */

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void sim_respond_raw(int fd, int status, const char *reason, const char *type, const char *body,
                     size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n",
                     status, reason, type, len);
    if (n > 0 && (size_t)n < sizeof(head))
        send_all(fd, head, (size_t)n);
    if (body != NULL)
        send_all(fd, body, len);
}

void sim_respond_json(int fd, int status, const char *reason, json_t *doc)
{
    char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    sim_respond_raw(fd, status, reason, "application/json", body, body != NULL ? strlen(body) : 0);
    free(body);
}

/* ---- requests -------------------------------------------------------------------------------- */

bool sim_header(const char *head, const char *name, char *out, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof(pat), "\r\n%s:", name);
    const char *h = strcasestr(head, pat);
    if (h == NULL)
        return false;
    h += strlen(pat);
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, "\r\n");
    if (n >= cap)
        return false;
    memcpy(out, h, n);
    out[n] = '\0';
    return true;
}

const char *sim_json_str(const json_t *doc, const char *name)
{
    const json_t *v = json_object_get(doc, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

bool sim_is(const sim_request *r, const char *method, const char *path)
{
    return strcmp(r->method, method) == 0 && strcmp(r->path, path) == 0;
}

typedef struct connection_arg {
    int fd;
    sim_handler handle;
    sim_malformed malformed;
} connection_arg;

/* Reads one request (head, then Content-Length bytes of body), hands it to the handler, closes. */
static void *connection(void *arg)
{
    connection_arg c = *(connection_arg *)arg;
    free(arg);
    char *buf = malloc(SIM_REQUEST_MAX + 1);
    size_t have = 0, head_len = 0, body_len = 0;
    while (buf != NULL && have < SIM_REQUEST_MAX) {
        ssize_t n = recv(c.fd, buf + have, SIM_REQUEST_MAX - have, 0);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        head_len = (size_t)(end - buf) + 4;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        body_len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        if (head_len + body_len <= have || head_len + body_len > SIM_REQUEST_MAX)
            break;
    }
    if (buf == NULL || head_len == 0 || head_len + body_len > have) {
        if (buf != NULL && have > 0 && c.malformed != NULL)
            c.malformed(c.fd);
        goto out;
    }
    sim_request r = {.fd = c.fd, .body = buf + head_len, .body_len = body_len};
    sscanf(buf, "%7s %511s", r.method, r.path);
    buf[head_len - 2] = '\0'; /* the head ends at its last CRLF; the body follows */
    r.head = buf;
    c.handle(&r);
out:
    free(buf);
    close(c.fd);
    return NULL;
}

bool sim_spawn(void *(*fn)(void *), void *arg)
{
    pthread_t t;
    if (pthread_create(&t, NULL, fn, arg) != 0)
        return false;
    pthread_detach(t);
    return true;
}

int sim_serve(const char *bind_addr, long port, const char *mode, sim_handler handle,
              sim_malformed malformed)
{
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (lfd < 0 || inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        sim_log("cannot start (socket or --bind %s)", bind_addr);
        return 1;
    }
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 128) != 0) {
        sim_log("cannot listen on %s:%ld: %s", bind_addr, port, strerror(errno));
        return 1;
    }
    if (mode != NULL)
        sim_log("listening on http://%s:%ld (default mode %s)", bind_addr, port, mode);
    else
        sim_log("listening on http://%s:%ld", bind_addr, port);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED)
                sim_sleep_ms(10);
            continue;
        }
        connection_arg *c = malloc(sizeof(*c));
        if (c != NULL)
            *c = (connection_arg){fd, handle, malformed};
        if (c == NULL || !sim_spawn(connection, c)) {
            free(c);
            close(fd);
        }
    }
}

/* ---- calls back to kitod --------------------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    (void)ptr;
    (void)userdata;
    return size * nmemb;
}

long sim_post(const sim_tls *tls, const char *url, const char *content_type, const char *body,
              const char **error)
{
    CURL *c = curl_easy_init();
    if (error != NULL)
        *error = "out of memory";
    if (c == NULL)
        return 0;
    char type[128];
    struct curl_slist *h = NULL;
    if (content_type != NULL) {
        snprintf(type, sizeof(type), "Content-Type: %s", content_type);
        h = curl_slist_append(NULL, type);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    if (tls->cacert != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, tls->cacert);
    if (tls->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (error != NULL)
        *error = curl_easy_strerror(rc);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

/* ---- flags ----------------------------------------------------------------------------------- */

static bool flag_take(const sim_flag *f, const char *v)
{
    switch (f->kind) {
    case SIM_FLAG_LONG:
        return sim_parse_long(v, f->min, f->max, f->out);
    case SIM_FLAG_STRING:
        *(const char **)f->out = v;
        return true;
    case SIM_FLAG_TEXT:
        if (v[0] == '\0' || strlen(v) >= f->cap || (f->valid != NULL && !f->valid(v)))
            return false;
        memcpy(f->out, v, strlen(v) + 1);
        return true;
    case SIM_FLAG_CHOICE:
        for (long k = 0; k < f->min; k++)
            if (strcmp(v, f->choices[k]) == 0) {
                *(int *)f->out = (int)k;
                return true;
            }
        return false;
    case SIM_FLAG_SET:
        *(bool *)f->out = true;
        return true;
    }
    return false;
}

bool sim_parse_flags(int argc, char **argv, const sim_flag *flags, size_t n)
{
    for (int i = 1; i < argc; i++) {
        const sim_flag *f = NULL;
        for (size_t k = 0; k < n && f == NULL; k++)
            if (strcmp(argv[i], flags[k].name) == 0)
                f = &flags[k];
        if (f == NULL)
            return false;
        const char *v = f->kind == SIM_FLAG_SET ? "" : i + 1 < argc ? argv[++i] : NULL;
        if (v == NULL || !flag_take(f, v))
            return false;
    }
    return true;
}

bool sim_parse_args(int argc, char **argv, sim_options *o, unsigned with, const char *const *modes,
                    size_t n_modes, const sim_flag *own, size_t n_own)
{
    sim_flag flags[32] = {
        {"--port", SIM_FLAG_LONG, &o->port, 1, 65535, NULL, 0, NULL},
        {"--bind", SIM_FLAG_STRING, &o->bind, 0, 0, NULL, 0, NULL},
        {"--delay-ms", SIM_FLAG_LONG, &o->delay_ms, 0, 600000, NULL, 0, NULL},
        {"--hang-ms", SIM_FLAG_LONG, &o->hang_ms, 0, 600000, NULL, 0, NULL},
    };
    size_t n = 4;
    if (with & SIM_WITH_MODE)
        flags[n++] =
            (sim_flag){"--mode", SIM_FLAG_CHOICE, &o->mode, (long)n_modes, 0, modes, 0, NULL};
    if (with & SIM_WITH_LATE)
        flags[n++] = (sim_flag){"--late-ms", SIM_FLAG_LONG, &o->late_ms, 0, 600000, NULL, 0, NULL};
    if (with & SIM_WITH_TLS) {
        flags[n++] = (sim_flag){"--cacert", SIM_FLAG_STRING, &o->tls.cacert, 0, 0, NULL, 0, NULL};
        flags[n++] = (sim_flag){"--insecure", SIM_FLAG_SET, &o->tls.insecure, 0, 0, NULL, 0, NULL};
    }
    for (size_t k = 0; k < n_own && n < sizeof(flags) / sizeof(flags[0]); k++)
        flags[n++] = own[k];
    return sim_parse_flags(argc, argv, flags, n) && o->port != 0 && o->bind != NULL;
}

int sim_usage(const char *text)
{
    fprintf(stderr, "%s(see the comment at the top of sims/%.*s.c)\n", text,
            (int)strcspn(sim_name, "["), sim_name);
    return 2;
}
