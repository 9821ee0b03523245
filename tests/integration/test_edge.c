/* The HTTP edge under abuse (issue 15, findings of an outside review):
 *   4  one address may hold only so many connections, and a TLS handshake only so long;
 *   7  a request whose HTTP/1.1 framing is ambiguous is refused and its connection closed;
 *   8  metrics are served on a loopback listener only, never on the public port;
 *   9  the plain-HTTP redirect goes to the configured public host whatever Host says.
 * Each test starts its own kitod with the settings it is about (the raw sockets and TLS client
 * here are what curl would not send). */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static struct kito_kitod kd;

static void kitod_down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(edge, .fini = kitod_down, .timeout = 60);

/* Starts kitod with env added (NULL-terminated "NAME=value", may be NULL) and waits for 200. */
static void kitod_up(const char *const *env)
{
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200, "kitod never became healthy");
}

/* A TCP connection from 127.0.0.1 to port on 127.0.0.1 (connected: the kernel completed it, kitod
 * may not have accepted it yet). */
static int tcp_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "connect to port %d: %s", port,
              strerror(errno));
    return fd;
}

/* Whether the server closed fd (end of file or reset) within ms. kitod never speaks first on a
 * connection (TLS waits for the ClientHello, HTTP for a request), so anything readable is a close.
 */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, ms) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* ---- finding 4: connections per address, TLS handshake time ------------------------------ */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until kitod has seen the close of every public connection so far (the start's health
 * checks), reading kito_connections_open on the metrics listener. */
static void wait_public_connections_closed(void)
{
    for (int i = 0; i < 60; i++) {
        struct kito_http_resp r;
        cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0);
        bool none = strstr(r.body, "\nkito_connections_open 0\n") != NULL;
        kito_http_resp_free(&r);
        if (none)
            return;
        kito_harness_sleep_ms(50);
    }
    cr_assert_fail("kitod still counts a public connection 3 s after the last one closed");
}

Test(edge, connections_over_the_per_address_limit_are_closed_at_once)
{
    static const char *const env[] = {"KITO_MAX_CONNECTIONS_PER_ADDRESS=8", NULL};
    kitod_up(env);
    wait_public_connections_closed();
    int held[8], extra[4];
    for (int i = 0; i < 8; i++)
        held[i] = tcp_connect(kd.https_port);
    kito_harness_sleep_ms(300); /* kitod has accepted them */
    for (int i = 0; i < 4; i++) {
        extra[i] = tcp_connect(kd.https_port);
        cr_expect(closed_within(extra[i], 1500),
                  "connection %d from 127.0.0.1, over the limit of 8, stayed open", 9 + i);
    }
    /* both public listeners count against the same address */
    int plain = tcp_connect(kd.http_port);
    cr_expect(closed_within(plain, 1500), "the plain-HTTP port let a 13th connection in");
    for (int i = 0; i < 8; i++)
        cr_expect(!closed_within(held[i], 0), "connection %d, under the limit, was closed", i + 1);

    /* the operator's way in: the loopback metrics listener is not under the per-address limit */
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/healthz", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0,
                 "/healthz on the metrics listener did not answer while the address was full");
    cr_expect_eq(r.status, 200, "body: %s", r.body);
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0);
    cr_expect(strstr(r.body, "\nkito_connections_rejected_per_address_total 5\n") != NULL,
              "the 5 refusals are not counted: %.3000s", r.body);
    kito_http_resp_free(&r);

    /* closing them gives the address its connections back */
    for (int i = 0; i < 8; i++)
        close(held[i]);
    for (int i = 0; i < 4; i++)
        close(extra[i]);
    close(plain);
    cr_expect_eq(kito_harness_wait_health(&kd, 200, 3000), 200,
                 "the public port still refuses 127.0.0.1 after its connections closed");
}

Test(edge, tls_handshakes_not_finished_in_time_are_closed)
{
    static const char *const env[] = {"KITO_TLS_HANDSHAKE_TIMEOUT_MS=1000", NULL};
    kitod_up(env);
    long long t0 = now_ms();
    int idle = tcp_connect(kd.https_port);
    int half = tcp_connect(kd.https_port);
    /* a TLS record header announcing a 512-byte ClientHello, then only its first bytes */
    static const unsigned char partial[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01,
                                            0x00, 0x01, 0xfc, 0x03, 0x03};
    cr_assert_eq(send(half, partial, sizeof(partial), 0), (ssize_t)sizeof(partial));
    cr_expect(closed_within(idle, 4000),
              "a connection that never began its handshake was open after 4 s (timeout 1 s)");
    cr_expect(closed_within(half, 1000), "a half-done handshake was open after 4 s (timeout 1 s)");
    long long took = now_ms() - t0;
    cr_expect(took >= 700, "closed after %lld ms, before the 1 s handshake timeout", took);
    close(idle);
    close(half);

    /* a finished handshake is not under it: the connection is then HTTP's (idle up to 10 s) */
    char text[4096] = "";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, kito_harness_var("tls/ca.pem"), NULL);
    int fd = tcp_connect(kd.https_port);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    cr_assert_eq(SSL_connect(ssl), 1);
    kito_harness_sleep_ms(1800);
    static const char get[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    cr_assert_eq(SSL_write(ssl, get, sizeof(get) - 1), (int)sizeof(get) - 1);
    int n = SSL_read(ssl, text, sizeof(text) - 1);
    cr_expect(n > 0 && strncmp(text, "HTTP/1.1 200 ", 13) == 0, "after 1.8 s idle: %.200s",
              n > 0 ? text : "(nothing)");
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

/* ---- finding 7: ambiguous HTTP/1.1 framing (RFC 9112, 6.3) -------------------------------- */

/* A raw HTTP/1.1 client over TLS (OpenSSL), for requests curl refuses to send: what it read. */
struct raw_resp {
    char text[16384]; /* everything received, NUL-terminated */
    size_t len;
    bool closed; /* the server closed the connection (rather than the read timing out) */
};

/* Sends request as is over a fresh TLS connection (HTTP/1.1 by ALPN, certificate checked against
 * the test CA) and reads until the server closes or nothing came for wait_ms. */
static void tls_exchange(int port, const char *request, int wait_ms, struct raw_resp *out)
{
    memset(out, 0, sizeof(*out));
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    cr_assert(ctx != NULL);
    cr_assert(SSL_CTX_load_verify_locations(ctx, kito_harness_var("tls/ca.pem"), NULL) == 1);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    int fd = tcp_connect(port);
    struct timeval tv = {wait_ms / 1000, (wait_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    cr_assert_eq(SSL_connect(ssl), 1, "TLS handshake with kitod failed");
    size_t want = strlen(request);
    cr_assert_eq(SSL_write(ssl, request, (int)want), (int)want);
    for (;;) {
        int n = SSL_read(ssl, out->text + out->len, (int)(sizeof(out->text) - 1 - out->len));
        if (n > 0) {
            out->len += (size_t)n;
            if (out->len == sizeof(out->text) - 1)
                break;
            continue;
        }
        int e = SSL_get_error(ssl, n);
        /* EOF with or without close_notify, or a reset: closed. A receive timeout: not. */
        out->closed = e == SSL_ERROR_ZERO_RETURN ||
                      (e == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK);
        break;
    }
    out->text[out->len] = '\0';
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

/* How many responses the text holds: status lines "HTTP/1.1 NNN " (a body ends without a line
 * break, so the next one may follow it on the same line; no body here holds that text). */
static int responses_in(const struct raw_resp *r)
{
    int n = 0;
    for (const char *p = r->text; (p = strstr(p, "HTTP/1.1 ")) != NULL; p++)
        n += p[9] >= '1' && p[9] <= '5' && p[10] >= '0' && p[10] <= '9' && p[11] >= '0' &&
             p[11] <= '9' && p[12] == ' ';
    return n;
}

/* The framing refusal: one 400 in the JSON error shape, Connection: close, then the close. */
static void expect_framing_refused(const struct raw_resp *r, const char *what)
{
    cr_expect(strncmp(r->text, "HTTP/1.1 400 ", 13) == 0, "%s was answered: %.300s", what, r->text);
    cr_expect(strcasestr(r->text, "\r\nconnection: close\r\n") != NULL,
              "%s: the 400 does not say Connection: close: %.300s", what, r->text);
    cr_expect(strstr(r->text, "\"code\":\"bad_request\"") != NULL,
              "%s: not the JSON error shape with code bad_request: %.600s", what, r->text);
    cr_expect(r->closed, "%s: the connection stayed open after the 400", what);
    cr_expect_eq(responses_in(r), 1, "%s: %d responses on the connection: %.1200s", what,
                 responses_in(r), r->text);
}

Test(edge, content_length_with_transfer_encoding_is_refused_and_closed)
{
    kitod_up(NULL);
    /* A front proxy that believes Content-Length would take the chunked terminator and the GET
     * behind it as this request's body; a server that believes Transfer-Encoding answers two
     * requests. kitod answers neither: one 400, and the connection ends. */
    static const char req[] = "POST /v1/echo HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 2\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "2\r\n{}\r\n0\r\n\r\n"
                              "GET /v1/no-such-thing HTTP/1.1\r\nHost: localhost\r\n\r\n";
    struct raw_resp r;
    tls_exchange(kd.https_port, req, 3000, &r);
    expect_framing_refused(&r, "Content-Length with Transfer-Encoding");

    /* the order of the two does not matter */
    static const char req2[] = "POST /v1/echo HTTP/1.1\r\n"
                               "Host: localhost\r\n"
                               "Transfer-Encoding: chunked\r\n"
                               "Content-Type: application/json\r\n"
                               "content-length: 7\r\n"
                               "\r\n"
                               "2\r\n{}\r\n0\r\n\r\n";
    tls_exchange(kd.https_port, req2, 3000, &r);
    expect_framing_refused(&r, "Transfer-Encoding then Content-Length");
}

Test(edge, two_different_content_lengths_are_refused_and_closed)
{
    kitod_up(NULL);
    static const char req[] = "POST /v1/echo HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 2\r\n"
                              "Content-Length: 40\r\n"
                              "\r\n"
                              "{}GET /v1/no-such-thing HTTP/1.1\r\nHost: x\r\n\r\n";
    struct raw_resp r;
    tls_exchange(kd.https_port, req, 3000, &r);
    expect_framing_refused(&r, "two different Content-Length values");

    /* the plain-HTTP listener refuses it too, rather than redirecting it */
    int fd = tcp_connect(kd.http_port);
    cr_assert_eq(send(fd, req, sizeof(req) - 1, 0), (ssize_t)sizeof(req) - 1);
    char buf[4096];
    size_t len = 0;
    ssize_t n;
    struct timeval tv = {3, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while (len < sizeof(buf) - 1 && (n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) > 0)
        len += (size_t)n;
    buf[len] = '\0';
    cr_expect(strncmp(buf, "HTTP/1.1 400 ", 13) == 0, "the plain port answered: %.300s", buf);
    close(fd);
}

Test(edge, well_framed_requests_keep_their_connection)
{
    kitod_up(NULL);
    /* the same length twice is one length (RFC 9110, 8.6); then a second request, pipelined */
    static const char req[] = "POST /v1/echo HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Content-Type: application/json\r\n"
                              "Content-Length: 2\r\n"
                              "Content-Length: 2\r\n"
                              "\r\n"
                              "{}"
                              "POST /v1/echo HTTP/1.1\r\n"
                              "Host: localhost\r\n"
                              "Content-Type: application/json\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "2\r\n{}\r\n0\r\n\r\n";
    struct raw_resp r;
    tls_exchange(kd.https_port, req, 1500, &r);
    cr_expect_eq(responses_in(&r), 2, "%.1200s", r.text);
    cr_expect(strncmp(r.text, "HTTP/1.1 200 ", 13) == 0, "%.300s", r.text);
    cr_expect_not(r.closed, "a well-framed request lost its keep-alive connection");
}

/* ---- finding 8: metrics on loopback only -------------------------------------------------- */

/* The local address a TCP socket listens on for port, from /proc/net/tcp ("0100007F" is
 * 127.0.0.1, "00000000" any); false when nothing listens there over IPv4. */
static bool listening_address(int port, char addr[9])
{
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert(f != NULL);
    char line[512];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL) {
        char local[64], state[8];
        unsigned p;
        if (sscanf(line, " %*d: %63s %*s %7s", local, state) != 2)
            continue;
        char *colon = strchr(local, ':');
        if (colon == NULL || sscanf(colon + 1, "%x", &p) != 1)
            continue;
        if ((int)p == port && strcmp(state, "0A") == 0 && colon - local == 8) {
            memcpy(addr, local, 8);
            addr[8] = '\0';
            found = true;
        }
    }
    fclose(f);
    return found;
}

Test(edge, metrics_are_served_on_a_loopback_listener_only)
{
    /* public listeners on every address, so that "loopback only" is a difference */
    static const char *const env[] = {"KITO_BIND=0.0.0.0", NULL};
    kitod_up(env);
    struct kito_http_resp r;
    kito_http_ok(&kd, "GET", "/metrics", NULL, &r);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_H2, &r), 0);
    kito_assert_error(&r, 404, "not_found");
    kito_http_resp_free(&r);

    cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0,
                 "nothing answers on the metrics port %d", kd.metrics_port);
    cr_expect_eq(r.status, 200);
    char ct[128];
    cr_expect(kito_http_header(&r, "content-type", ct, sizeof(ct)) &&
                  strstr(ct, "text/plain") != NULL,
              "content-type %s", ct);
    cr_expect(strstr(r.body, "# TYPE") != NULL, "not Prometheus text: %.400s", r.body);
    kito_http_resp_free(&r);
    cr_assert_eq(kito_http(&kd, "GET", "/v1/sales", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0);
    kito_assert_error(&r, 404, "not_found"); /* the API is not on the metrics listener */
    kito_http_resp_free(&r);

    char addr[9];
    cr_assert(listening_address(kd.metrics_port, addr), "nothing listens on port %d",
              kd.metrics_port);
    cr_expect_str_eq(addr, "0100007F", "the metrics listener is bound to %s, not 127.0.0.1", addr);
    cr_assert(listening_address(kd.https_port, addr));
    cr_expect_str_eq(addr, "00000000", "KITO_BIND=0.0.0.0 was not applied (%s)", addr);
}

Test(edge, the_metrics_listener_has_its_own_bound)
{
    kitod_up(NULL);
    int held[16];
    for (int i = 0; i < 16; i++)
        held[i] = tcp_connect(kd.metrics_port);
    kito_harness_sleep_ms(300);
    int extra = tcp_connect(kd.metrics_port);
    cr_expect(closed_within(extra, 1500), "a 17th connection to the metrics listener stayed open");
    for (int i = 0; i < 16; i++)
        cr_expect(!closed_within(held[i], 0), "connection %d, under the bound, was closed", i + 1);
    close(extra);
    close(held[0]);
    kito_harness_sleep_ms(200);
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/metrics", NULL, 0, NULL, KITO_HTTP_OPS, &r), 0,
                 "a freed slot on the metrics listener was not reused");
    cr_expect_eq(r.status, 200);
    kito_http_resp_free(&r);
    for (int i = 1; i < 16; i++)
        close(held[i]);
}

/* ---- finding 9: the redirect's host -------------------------------------------------------- */

static void expect_location(const char *path, const char *method, const char *want)
{
    static const char *const evil[] = {"Host: evil.example", NULL};
    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, method, path, NULL, 0, evil, KITO_HTTP_PLAIN, &r), 0);
    cr_expect(r.status == 301 || r.status == 308, "status %ld", r.status);
    char loc[512] = "";
    cr_expect(kito_http_header(&r, "location", loc, sizeof(loc)), "no Location");
    cr_expect_str_eq(loc, want, "%s %s with Host: evil.example went to %s", method, path, loc);
    kito_http_resp_free(&r);
}

Test(edge, redirect_goes_to_the_configured_public_host_whatever_host_says)
{
    static const char *const env[] = {"KITO_PUBLIC_HOST=shop.example:4443", NULL};
    kitod_up(env);
    expect_location("/lots/7?lang=sw", "GET", "https://shop.example:4443/lots/7?lang=sw");
    expect_location("/v1/echo", "POST", "https://shop.example:4443/v1/echo");
}

Test(edge, redirect_defaults_to_localhost_at_the_https_port)
{
    kitod_up(NULL);
    char want[128];
    snprintf(want, sizeof(want), "https://localhost:%d/lots/7", kd.https_port);
    expect_location("/lots/7", "GET", want);
}
