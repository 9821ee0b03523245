/*
 * HTTP/1.1 message framing (issue 15, finding 7): whether a request head says in one way only
 * how long its body is. RFC 9112, 6.3: a request with both Transfer-Encoding and Content-Length
 * "ought to be handled as an error" and the server "MUST close the connection after responding";
 * Content-Length values that differ make the framing invalid (400, then close). h2o 2.2.5 settles
 * such a request on its own (Transfer-Encoding over Content-Length, the first of several
 * Content-Lengths) and drops those fields from the parsed request; a proxy in front that settled
 * it the other way would see a different next request on the connection (request smuggling). So
 * api/http/server.c reads the head again, as h2o received it, with this.
 *
 * Pure: no h2o, no I/O; any thread. tests/fuzz/fuzz_framing.c feeds it arbitrary bytes.
 */
#ifndef KITO_FRAMING_H
#define KITO_FRAMING_H

#include <stddef.h>

typedef enum kito_framing {
    KITO_FRAMING_OK = 0,
    KITO_FRAMING_LENGTH_AND_CHUNKED, /* Content-Length and Transfer-Encoding both present */
    KITO_FRAMING_LENGTHS_DIFFER,     /* Content-Length values differ, or one is not a number */
    KITO_FRAMING_ENCODINGS_REPEATED, /* Transfer-Encoding in more than one field line */
} kito_framing;

/* Reads the request head at the start of bytes (len bytes; the body and further requests may
 * follow and are not read) up to its empty line, the way h2o's parser splits it: lines end in LF
 * or CRLF, a line starting with a space or tab continues the previous field, field names are
 * compared without regard to case. Returns KITO_FRAMING_OK for a head with at most one way of
 * framing, including the same Content-Length repeated (RFC 9110, 8.6) and a head cut short by
 * len. */
kito_framing kito_framing_check(const char *bytes, size_t len);

/* An English sentence for the client saying what is wrong with f (static storage). */
const char *kito_framing_message(kito_framing f);

#endif
