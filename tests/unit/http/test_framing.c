/* api/http/framing: request heads framed two ways are found (RFC 9112, 6.3; issue 15, finding 7),
 * heads framed one way are left alone. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/http/framing.h"

static kito_framing check(const char *head)
{
    return kito_framing_check(head, strlen(head));
}

Test(framing, one_way_of_framing_is_ok)
{
    cr_expect_eq(check("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), KITO_FRAMING_OK);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"), KITO_FRAMING_OK);
    cr_expect_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                 KITO_FRAMING_OK);
    /* the same length again is one length (RFC 9110, 8.6), also as a list or with zeros */
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n{}"),
                 KITO_FRAMING_OK);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2 , 02\r\n\r\n"),
                 KITO_FRAMING_OK);
}

Test(framing, length_and_chunked_is_found_in_any_order_and_case)
{
    cr_expect_eq(
        check("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"),
        KITO_FRAMING_LENGTH_AND_CHUNKED);
    cr_expect_eq(
        check("POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\nCONTENT-LENGTH: 0\r\n\r\n"),
        KITO_FRAMING_LENGTH_AND_CHUNKED);
    /* bare LF line ends, as h2o's parser accepts */
    cr_expect_eq(check("POST / HTTP/1.1\nContent-Length: 5\nTransfer-Encoding: chunked\n\n"),
                 KITO_FRAMING_LENGTH_AND_CHUNKED);
}

Test(framing, lengths_that_differ_or_are_not_numbers_are_found)
{
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n"),
                 KITO_FRAMING_LENGTHS_DIFFER);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2, 3\r\n\r\n"),
                 KITO_FRAMING_LENGTHS_DIFFER);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: +2\r\n\r\n"),
                 KITO_FRAMING_LENGTHS_DIFFER);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length:\r\n\r\n"),
                 KITO_FRAMING_LENGTHS_DIFFER);
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n"),
                 KITO_FRAMING_LENGTHS_DIFFER);
}

Test(framing, transfer_encoding_twice_is_found)
{
    cr_expect_eq(check("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
                       "Transfer-Encoding: chunked\r\n\r\n"),
                 KITO_FRAMING_ENCODINGS_REPEATED);
}

Test(framing, only_the_head_is_read)
{
    /* the body and a pipelined request after the empty line are not this request's fields */
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 43\r\n\r\n"
                       "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
                 KITO_FRAMING_OK);
    /* a folded line continues the field before it and names none; a name needs its colon */
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nX-A: 1\r\n"
                       " Transfer-Encoding: chunked\r\nTransfer-Encoding chunked\r\n\r\n"),
                 KITO_FRAMING_OK);
    cr_expect_eq(
        check("POST / HTTP/1.1\r\nX-Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        KITO_FRAMING_OK);
    /* a head cut short is judged on what is there */
    cr_expect_eq(check("POST / HTTP/1.1\r\nContent-Length: 2\r\nTransfer-Enc"), KITO_FRAMING_OK);
    cr_expect_eq(kito_framing_check("", 0), KITO_FRAMING_OK);
}

Test(framing, every_verdict_has_a_message_citing_the_rfc)
{
    kito_framing all[] = {KITO_FRAMING_LENGTH_AND_CHUNKED, KITO_FRAMING_LENGTHS_DIFFER,
                          KITO_FRAMING_ENCODINGS_REPEATED};
    for (size_t i = 0; i < 3; i++)
        cr_expect(strstr(kito_framing_message(all[i]), "RFC 9112") != NULL);
}
