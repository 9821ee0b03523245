/* The HTTP edge under abuse (issue 15, findings of an outside review):
 *   4  one address may hold only so many connections, and a TLS handshake only so long;
 *   8  metrics are served on a loopback listener only, never on the public port;
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
