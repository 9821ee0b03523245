/*
 * Fuzz target: the HTTP/1.1 framing check (api/http/framing.h), which reads request heads as a
 * client sent them. Checks, besides "no crash" and no read past the input: the verdict is one of
 * the four, has a message, does not depend on bytes after the head's empty line, and a head that
 * names neither Content-Length nor Transfer-Encoding is always OK.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/http/framing.h"
#include "tests/fuzz/fuzz.h"

static bool names_a_framing_field(const char *p, size_t n)
{
    static const char *const names[] = {"content-length", "transfer-encoding"};
    for (size_t k = 0; k < 2; k++) {
        size_t nl = strlen(names[k]);
        for (size_t i = 0; i + nl <= n; i++)
            if (strncasecmp(p + i, names[k], nl) == 0)
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    kito_framing f = kito_framing_check(p, size);
    CHECK(f == KITO_FRAMING_OK || f == KITO_FRAMING_LENGTH_AND_CHUNKED ||
          f == KITO_FRAMING_LENGTHS_DIFFER || f == KITO_FRAMING_ENCODINGS_REPEATED);
    const char *msg = kito_framing_message(f);
    CHECK(msg != NULL && msg[0] != '\0');
    if (!names_a_framing_field(p, size))
        CHECK(f == KITO_FRAMING_OK);

    /* what follows the head (a body, the next request) never changes the verdict; the head ends
     * at the first empty line after the request line */
    static const char tail[] = "Content-Length: 1\r\nTransfer-Encoding: x\r\n\r\n";
    size_t head = 0;
    for (size_t i = 0; i + 1 < size && head == 0; i++) {
        if (p[i] == '\n' && p[i + 1] == '\n')
            head = i + 2;
        else if (p[i] == '\n' && i + 2 < size && p[i + 1] == '\r' && p[i + 2] == '\n')
            head = i + 3;
    }
    if (head != 0) {
        char *copy = malloc(head + sizeof(tail) - 1);
        CHECK(copy != NULL);
        memcpy(copy, p, head);
        memcpy(copy + head, tail, sizeof(tail) - 1);
        CHECK(kito_framing_check(copy, head + sizeof(tail) - 1) == f);
        free(copy);
    }
    return 0;
}
