/*
 * simlib: what the provider simulators (the programs in sims/) share -- a plain-HTTP/1.1 listener
 * with one thread a connection, the request's head and body, answers, the log line, command-line
 * flags, and an HTTPS POST back to kitod (callbacks and delivery reports). Each simulator keeps its
 * protocol, its modes and its state; this is only the scaffolding under them.
 *
 * The server is deliberately small: one request a connection ("Connection: close"), a head and
 * body of at most SIM_REQUEST_MAX bytes together, Content-Length framing only. It is a local
 * stand-in for a provider, reached on 127.0.0.1 by kitod and the tests; it is not a web server.
 */
#ifndef KITO_SIMLIB_H
#define KITO_SIMLIB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest request (head and body) a simulator reads; a larger one is not answered. */
#define SIM_REQUEST_MAX 65536

/* One request, as the connection thread hands it to the simulator's handler. Every pointer is
 * borrowed and lives until the handler returns. */
typedef struct sim_request {
    int fd;           /* the connection: answer with sim_respond*; closed after the handler */
    char method[8];   /* "GET", "POST", ... */
    char path[512];   /* the request target with its query; a longer one is cut */
    const char *head; /* the request line and headers, ending before the last CRLF (NUL-ended) */
    const char *body; /* Content-Length bytes (not NUL-ended: use body_len) */
    size_t body_len;
} sim_request;

/* Names the simulator in its log lines ("mpesa_sim", "rails_sim[momo]"). Call before serving;
 * name is borrowed (a literal or a buffer that outlives the program). */
void sim_set_name(const char *name);

/* Writes "<name>: <message>\n" to stderr. */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock epoch milliseconds. */
int64_t sim_now_ms(void);

/* Sleeps ms milliseconds, resuming after a signal. */
void sim_sleep_ms(long ms);

/* Four letters A-Z drawn from the clock and the pid, NUL-ended into out[5]: makes the ids a
 * simulator hands out unique across its runs. */
void sim_run_prefix(char out[5]);

/* Strict decimal: true and *out = the value when s is a whole number in [min, max]; false (and
 * *out untouched) for NULL, empty, trailing characters, overflow or a value out of range. */
bool sim_parse_long(const char *s, long min, long max, long *out);

/* Sends a whole answer: status line "HTTP/1.1 <status> <reason>", Content-Type, Content-Length
 * and "Connection: close", then len bytes of body (body may be NULL when len is 0). A peer that
 * has gone is ignored. */
void sim_respond_raw(int fd, int status, const char *reason, const char *type, const char *body,
                     size_t len);

/* Sends doc as compact application/json and takes ownership of it (decref'd here; NULL sends an
 * empty body). */
void sim_respond_json(int fd, int status, const char *reason, json_t *doc);

/* The value of header name in head (case-insensitive name), copied NUL-ended into out; false when
 * the header is missing or its value does not fit in cap. */
bool sim_header(const char *head, const char *name, char *out, size_t cap);

/* The string member name of a JSON object, or NULL (doc NULL, not an object, member missing or
 * not a string). Borrowed from doc. */
const char *sim_json_str(const json_t *doc, const char *name);

/* Does request r have this method and exactly this path? */
bool sim_is(const sim_request *r, const char *method, const char *path);

/* Handles one request (answers on r->fd, or deliberately does not). */
typedef void (*sim_handler)(const sim_request *r);
/* Answers a request that could not be read (cut short, head or body too large, no head); NULL:
 * close without an answer. Called only when some bytes arrived. */
typedef void (*sim_malformed)(int fd);

/* Ignores SIGPIPE, sets up libcurl (for sim_post), listens on bind:port (IPv4, SO_REUSEADDR,
 * backlog 128), logs "listening on http://bind:port" (and " (default mode M)" when mode is not
 * NULL), and serves for ever, one detached thread a connection: each request goes to handle, then
 * the connection is closed. Returns 1 only when it cannot listen, after logging why. */
int sim_serve(const char *bind, long port, const char *mode, sim_handler handle,
              sim_malformed malformed);

/* Starts fn(arg) on a detached thread; false when the thread could not start (arg is then still
 * the caller's to free). */
bool sim_spawn(void *(*fn)(void *), void *arg);

/* How a simulator calls kitod back: over HTTPS checked against cacert (NULL: the system's
 * roots), or with no check at all when insecure (demo only). */
typedef struct sim_tls {
    const char *cacert;
    bool insecure;
} sim_tls;

/* POSTs body to url (with "Content-Type: <content_type>" when content_type is not NULL; curl's
 * form type otherwise), waits at most 5 s, and discards the answer's body. Returns the HTTP status,
 * or 0 when there was none; *error (when not NULL) is curl's word for the outcome. Needs
 * curl_global_init first. */
long sim_post(const sim_tls *tls, const char *url, const char *content_type, const char *body,
              const char **error);

/* A command-line flag, for sim_parse_flags. */
typedef enum sim_flag_kind {
    SIM_FLAG_LONG,   /* long *: a whole number in [min, max] */
    SIM_FLAG_STRING, /* const char **: the argument itself (borrowed from argv) */
    SIM_FLAG_TEXT,   /* char *: copied into a buffer of cap bytes; must be non-empty, fit and,
                        with valid set, pass it */
    SIM_FLAG_CHOICE, /* int *: the index of the argument among choices[0..min) */
    SIM_FLAG_SET     /* bool *: set true; takes no argument */
} sim_flag_kind;

typedef struct sim_flag {
    const char *name; /* "--port" */
    sim_flag_kind kind;
    void *out;
    long min, max;               /* LONG: the bounds; CHOICE: min is the number of choices */
    const char *const *choices;  /* CHOICE */
    size_t cap;                  /* TEXT */
    bool (*valid)(const char *); /* TEXT, optional */
} sim_flag;

/* Reads argv[1..argc) against flags[0..n): "--name value" (or "--name" for SET). False on an
 * unknown flag, a missing argument or a value the flag refuses (the caller prints its usage). */
bool sim_parse_flags(int argc, char **argv, const sim_flag *flags, size_t n);

/* The flags most simulators share, read by sim_parse_args. */
typedef struct sim_options {
    long port;        /* --port N: required */
    const char *bind; /* --bind ADDR: a numeric IPv4 address */
    int mode;         /* --mode NAME: the default mode, an index into the simulator's names */
    long delay_ms;    /* --delay-ms N (0..600000): how long a provider takes */
    long late_ms;     /* --late-ms N (0..600000): how long a late answer takes */
    long hang_ms;     /* --hang-ms N (0..600000): how long a hung answer is held */
    sim_tls tls;      /* --cacert PATH, --insecure: how kitod is called back */
} sim_options;

/* Which of the optional shared flags a simulator takes (--port, --bind, --delay-ms and --hang-ms
 * it always takes). */
enum { SIM_WITH_MODE = 1, SIM_WITH_LATE = 2, SIM_WITH_TLS = 4 };

/* Reads argv against the shared flags that with names (modes[0..n_modes) are --mode's names)
 * and the simulator's own flags (own[0..n_own)), into o, which holds the defaults on entry. False
 * on anything sim_parse_flags refuses, or when no port is set. */
bool sim_parse_args(int argc, char **argv, sim_options *o, unsigned with, const char *const *modes,
                    size_t n_modes, const sim_flag *own, size_t n_own);

/* Prints text and where the simulator's flags are described to stderr; returns 2 (the exit
 * status of a usage error). */
int sim_usage(const char *text);

#endif
