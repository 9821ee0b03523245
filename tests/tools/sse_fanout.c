/*
 * sse_fanout: the live-feed fan-out benchmark client (tests/bench/bench_api.sh). One thread,
 * epoll and OpenSSL: N separate HTTPS/1.1 connections (each its own TLS session, as N browsers
 * would be) subscribe to GET /v1/sales/{sale}/live; then one more keep-alive connection places
 * bids one at a time (POST /v1/lots/{lot}/bids, rotating the buyers' tokens, increasing
 * amounts), and for each accepted bid the tool times how long until the LAST of the N clients
 * has received the resulting `event: book` frame.
 *
 *   sse_fanout PORT CA_PEM SALE_ID LOT_ID CLIENTS BIDS TOKENS_FILE FIRST_AMOUNT STEP
 *
 * The server certificate is verified against CA_PEM for the name "localhost". TOKENS_FILE holds
 * bearer tokens of approved buyers, one a line. Times are from the moment the bid's request is
 * written (so they include the bid's own processing and Redis's fsync: conservative) to the
 * moment the last client's read returned the frame. Prints:
 *
 *   FANOUT clients=N bids=B ok=K p50_ms=.. p99_ms=.. max_ms=.. bid_p50_ms=.. after_201_p99_ms=..
 *          dropped=.. client_cpu_ms_per_bid=.. server_cpu_ms_per_bid=..
 *
 * and exits 0 if every bid was accepted and every client saw every frame, 1 otherwise. The CPU
 * figures are the CPU time this tool, and the server if FANOUT_SERVER_PID names it (else -1),
 * spent over the bids, divided by the bids: what one fan-out costs each side (steadier than the
 * wall-clock times on a shared machine, though contention still inflates them). FANOUT_VERBOSE
 * set prints a line per bid on stderr. The tool reads each readable socket once (OpenSSL
 * read-ahead) so that its own cost stays below the server's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { C_CONNECTING = 1, C_HANDSHAKE, C_SENDING, C_HEADERS, C_STREAM, C_DEAD };

struct client {
    int fd;
    SSL *ssl;
    int state;
    uint32_t books; /* "event: book" frames seen */
    uint8_t match;  /* bytes of the pattern matched so far */
    char head[512]; /* response head, until the blank line */
    size_t head_len;
    bool is_bidder;
};

static const char pattern[] = "\nevent: book\n";
static SSL_CTX *ctx;
static int ep;
static struct sockaddr_in server;
static char sale_id[64], lot_id[64];
static uint32_t n_clients, n_bids;
static uint32_t *reach; /* reach[k]: clients that have seen k book frames */
static double *done_at; /* when reach[k] hit n_clients */
static uint32_t streaming, dead;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time (user + system) of this process, ms. */
static double cpu_ms_self(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
           (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

/* CPU time of process pid (from /proc, in clock ticks), ms; -1 if unknown. */
static double cpu_ms_of(long pid)
{
    char path[64], line[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, fp);
    fclose(fp);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the command name may hold spaces */
    unsigned long ut, st;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

static void die(const char *m)
{
    fprintf(stderr, "sse_fanout: %s\n", m);
    exit(2);
}

static void watch(struct client *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, op, c->fd, &ev) != 0)
        die("epoll_ctl");
}

static void kill_client(struct client *c)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_STREAM)
        streaming--;
    c->state = C_DEAD;
    dead++;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void start_connect(struct client *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        die("socket (raise ulimit -n)");
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&server, sizeof(server)) != 0 && errno != EINPROGRESS)
        die("connect");
    c->state = C_CONNECTING;
    watch(c, EPOLLOUT, EPOLL_CTL_ADD);
}

static void readable(struct client *c);

/* Advances the TLS handshake; on completion writes the request. */
static void handshake(struct client *c)
{
    if (c->ssl == NULL) {
        c->ssl = SSL_new(ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        SSL_set1_host(c->ssl, "localhost");
        SSL_set_connect_state(c->ssl);
        c->state = C_HANDSHAKE;
    }
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        c->state = C_SENDING;
        if (!c->is_bidder) {
            char req[256];
            int n = snprintf(req, sizeof(req),
                             "GET /v1/sales/%s/live HTTP/1.1\r\nHost: localhost\r\n"
                             "Accept: text/event-stream\r\n\r\n",
                             sale_id);
            if (SSL_write(c->ssl, req, n) != n)
                die("request write did not complete at once");
            c->state = C_HEADERS;
        }
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
        if (!c->is_bidder && SSL_has_pending(c->ssl))
            readable(c); /* read ahead with the handshake: epoll would not report it */
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        watch(c, EPOLLIN, EPOLL_CTL_MOD);
    else if (e == SSL_ERROR_WANT_WRITE)
        watch(c, EPOLLOUT, EPOLL_CTL_MOD);
    else {
        ERR_print_errors_fp(stderr);
        kill_client(c);
    }
}

static void on_bytes(struct client *c, const char *p, size_t n)
{
    size_t i = 0;
    if (c->state == C_HEADERS) {
        for (; i < n && c->state == C_HEADERS; i++) {
            if (c->head_len < sizeof(c->head) - 1)
                c->head[c->head_len++] = p[i];
            c->head[c->head_len] = '\0';
            if (c->head_len >= 4 && strcmp(c->head + c->head_len - 4, "\r\n\r\n") == 0) {
                if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) {
                    fprintf(stderr, "sse_fanout: subscription refused: %.60s\n", c->head);
                    kill_client(c);
                    return;
                }
                c->state = C_STREAM;
                c->match = 1; /* as if after a newline */
                streaming++;
            }
        }
    }
    for (; i < n; i++) {
        char ch = p[i];
        if (ch == pattern[c->match]) {
            if (++c->match == sizeof(pattern) - 1) {
                c->books++;
                if (c->books <= n_bids && ++reach[c->books] == n_clients)
                    done_at[c->books] = now_ms();
                c->match = 1; /* the pattern's last newline starts the next line */
            }
        } else {
            c->match = ch == '\n' ? 1 : 0;
        }
    }
}

/* One read(2) per readable socket: with read-ahead, OpenSSL fills its buffer with whatever the
 * socket holds in one call, and SSL_read hands it out a record at a time. Records left whole in
 * the buffer are read now; once none is (SSL_has_pending false), the socket is left to epoll
 * (level-triggered) rather than read again only to meet EAGAIN. */
static void readable(struct client *c)
{
    char buf[16384];
    for (;;) {
        int r = SSL_read(c->ssl, buf, sizeof(buf));
        if (r > 0) {
            on_bytes(c, buf, (size_t)r);
            if (c->state == C_DEAD || !SSL_has_pending(c->ssl))
                return;
            continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            return;
        if (e == SSL_ERROR_WANT_WRITE) {
            watch(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            return;
        }
        kill_client(c);
        return;
    }
}

static void on_event(struct client *c, uint32_t events)
{
    if (c->state == C_DEAD)
        return;
    if (c->state == C_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
        if (err != 0) {
            kill_client(c);
            return;
        }
        handshake(c);
        return;
    }
    if (c->state == C_HANDSHAKE) {
        handshake(c);
        return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        readable(c);
}

/* Runs the loop for up to ms, or until stop() says so. */
static void run(double ms, bool (*stop)(void))
{
    struct epoll_event evs[512];
    double end = now_ms() + ms;
    while (!(stop != NULL && stop())) {
        double left = end - now_ms();
        if (left <= 0)
            break;
        int n = epoll_wait(ep, evs, 512, left > 10 ? 10 : (int)left + 1);
        for (int i = 0; i < n; i++)
            on_event(evs[i].data.ptr, evs[i].events);
    }
}

static struct client *clients;
static uint32_t opened;

static bool all_streaming(void)
{
    return streaming + dead >= n_clients && opened >= n_clients;
}

/* ---- the bidder ---------------------------------------------------------------------------- */

static struct client bidder;
static char resp[8192];
static size_t resp_len;
static double resp_at;

static bool bid_answered(void)
{
    char buf[4096];
    int r;
    while ((r = SSL_read(bidder.ssl, buf, sizeof(buf))) > 0) {
        if (resp_len + (size_t)r < sizeof(resp) - 1) {
            memcpy(resp + resp_len, buf, (size_t)r);
            resp_len += (size_t)r;
            resp[resp_len] = '\0';
        }
    }
    char *h = strstr(resp, "\r\n\r\n");
    if (h == NULL)
        return false;
    char *cl = strcasestr(resp, "content-length:");
    size_t want = cl != NULL ? (size_t)atol(cl + 15) : 0;
    if ((size_t)(resp + resp_len - (h + 4)) < want)
        return false;
    if (resp_at == 0)
        resp_at = now_ms();
    return true;
}

static uint32_t current_k;
static bool frame_everywhere(void)
{
    return done_at[current_k] > 0 || reach[current_k] + dead >= n_clients;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, uint32_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp);
    uint32_t i = (uint32_t)(p * (n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    if (argc != 10) {
        fprintf(stderr, "usage: sse_fanout PORT CA_PEM SALE_ID LOT_ID CLIENTS BIDS TOKENS_FILE "
                        "FIRST_AMOUNT STEP\n");
        return 2;
    }
    snprintf(sale_id, sizeof(sale_id), "%s", argv[3]);
    snprintf(lot_id, sizeof(lot_id), "%s", argv[4]);
    n_clients = (uint32_t)atoi(argv[5]);
    n_bids = (uint32_t)atoi(argv[6]);
    long long amount = atoll(argv[8]), step = atoll(argv[9]);
    char tokens[64][64];
    uint32_t n_tokens = 0;
    FILE *tf = fopen(argv[7], "r");
    if (tf == NULL)
        die("cannot read the tokens file");
    while (n_tokens < 64 && fgets(tokens[n_tokens], sizeof(tokens[0]), tf) != NULL) {
        tokens[n_tokens][strcspn(tokens[n_tokens], "\r\n")] = '\0';
        if (tokens[n_tokens][0] != '\0')
            n_tokens++;
    }
    fclose(tf);
    if (n_tokens == 0)
        die("no tokens");

    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1)
        die("cannot load the CA");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_CTX_set_read_ahead(ctx, 1);
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)atoi(argv[1]));
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    ep = epoll_create1(0);
    clients = calloc(n_clients, sizeof(*clients));
    reach = calloc(n_bids + 2, sizeof(*reach));
    done_at = calloc(n_bids + 2, sizeof(*done_at));
    double *lat = calloc(n_bids + 1, sizeof(double)), *bid_ms = calloc(n_bids + 1, sizeof(double));
    double *after = calloc(n_bids + 1, sizeof(double));

    /* subscribe, a wave of at most 200 handshakes at a time */
    double t0 = now_ms();
    while (opened < n_clients) {
        uint32_t pending = opened - streaming - dead;
        while (pending < 200 && opened < n_clients) {
            start_connect(&clients[opened++]);
            pending++;
        }
        run(5, NULL);
        if (now_ms() - t0 > 120000)
            die("subscribing took more than 120 s");
    }
    run(60000, all_streaming);
    fprintf(stderr, "sse_fanout: %u of %u clients subscribed in %.0f ms (%u failed)\n", streaming,
            n_clients, now_ms() - t0, dead);
    if (dead > 0)
        return 1;

    /* the bidder's connection */
    bidder.is_bidder = true;
    start_connect(&bidder);
    /* drive its handshake until it is ready to send */
    for (double end = now_ms() + 5000; bidder.state != C_SENDING && now_ms() < end;)
        run(5, NULL);
    if (bidder.state != C_SENDING)
        die("the bidder could not connect");
    epoll_ctl(ep, EPOLL_CTL_DEL, bidder.fd, NULL); /* read by bid_answered() */

    /* CPU spent over the bids, here and (FANOUT_SERVER_PID) in the server: per bid, it is what
     * one fan-out costs each side, whatever else shares the machine */
    const char *spid = getenv("FANOUT_SERVER_PID");
    long server_pid = spid != NULL ? atol(spid) : 0;
    bool verbose = getenv("FANOUT_VERBOSE") != NULL; /* a line per bid on stderr */
    double cpu0 = cpu_ms_self(), scpu0 = server_pid > 0 ? cpu_ms_of(server_pid) : -1;
    uint32_t ok = 0, answered_ok = 0;
    for (uint32_t k = 1; k <= n_bids; k++) {
        char body[64], req[1024];
        int bl = snprintf(body, sizeof(body), "{\"amount\":%lld}", amount + (long long)k * step);
        int n = snprintf(req, sizeof(req),
                         "POST /v1/lots/%s/bids HTTP/1.1\r\nHost: localhost\r\n"
                         "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                         "Idempotency-Key: fanout-%d-%u\r\nContent-Length: %d\r\n\r\n%s",
                         lot_id, tokens[k % n_tokens], (int)getpid(), k, bl, body);
        resp_len = 0;
        resp[0] = '\0';
        resp_at = 0;
        current_k = k;
        double start = now_ms();
        if (SSL_write(bidder.ssl, req, n) != n)
            die("bid write failed");
        /* wait for the answer and for the frame to reach everyone */
        double end = start + 5000;
        while (now_ms() < end && !(resp_at > 0 && frame_everywhere())) {
            run(1, NULL);
            if (resp_at == 0)
                bid_answered();
        }
        if (strncmp(resp, "HTTP/1.1 201", 12) != 0) {
            fprintf(stderr, "sse_fanout: bid %u not accepted: %.300s\n", k, resp);
            if (strncmp(resp, "HTTP/1.1 429", 12) == 0) {
                run(1000, NULL); /* the per-buyer rate limit: wait and go on */
                continue;
            }
            break;
        }
        answered_ok++;
        if (done_at[k] == 0) {
            fprintf(stderr, "sse_fanout: bid %u reached %u of %u clients in 5 s\n", k, reach[k],
                    n_clients);
            break;
        }
        if (verbose)
            fprintf(
                stderr,
                "sse_fanout: bid %u: last client after %.2f ms; CPU here %.1f ms, server %.1f ms\n",
                k, done_at[k] - start, cpu_ms_self() - cpu0,
                server_pid > 0 ? cpu_ms_of(server_pid) - scpu0 : -1.0);
        lat[ok] = done_at[k] - start;
        bid_ms[ok] = resp_at - start;
        after[ok] = done_at[k] - resp_at;
        ok++;
        run(20, NULL); /* a pause between bids; the stream stays read */
    }
    double cpu = cpu_ms_self() - cpu0, scpu = scpu0 >= 0 ? cpu_ms_of(server_pid) - scpu0 : -1;
    uint32_t placed = answered_ok > 0 ? answered_ok : 1;
    double p50 = pct(lat, ok, 0.50), p99 = pct(lat, ok, 0.99), mx = pct(lat, ok, 1.0);
    double b50 = pct(bid_ms, ok, 0.50), a99 = pct(after, ok, 0.99);
    printf("FANOUT clients=%u bids=%u ok=%u p50_ms=%.2f p99_ms=%.2f max_ms=%.2f bid_p50_ms=%.2f "
           "after_201_p99_ms=%.2f dropped=%u client_cpu_ms_per_bid=%.1f "
           "server_cpu_ms_per_bid=%.1f\n",
           n_clients, n_bids, ok, p50, p99, mx, b50, a99, dead, cpu / placed,
           scpu >= 0 ? scpu / placed : -1.0);
    return ok == n_bids && dead == 0 ? 0 : 1;
}
