#include "api/http/http_error.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int kito_http_status(kito_err err)
{
    switch (err) {
    case KITO_OK:
        return 200;
    /* engine refusals: the bid or action is well-formed but the rules say no */
    case KITO_E_BELOW_ASK:
    case KITO_E_BAD_AMOUNT:
    case KITO_E_WRONG_FORMAT:
    case KITO_E_BAD_LADDER:
    case KITO_E_NOT_ABOVE_OWN_MAX:
    case KITO_E_ASK_NOT_ABOVE_PRICE:
    case KITO_E_OVER_LIMIT: /* the organiser's spending limit for the buyer (issue 5) */
    case KITO_E_VALIDATION: /* well-formed JSON whose fields are wrong */
        return 422;
    case KITO_E_LOT_NOT_OPEN:
    case KITO_E_LOT_CLOSED:
    case KITO_E_DUPLICATE:
    case KITO_E_BAD_STATE:
    case KITO_E_NOTHING_TO_UNDO:
    case KITO_E_LOT_EXISTS:
    case KITO_E_CONFLICT:
    case KITO_E_UNCHANGED:
    case KITO_E_LOT_PAUSED:
    case KITO_E_ALREADY_LEADING:
    case KITO_E_RESERVE_NOT_MET:
    case KITO_E_NO_BID:
    case KITO_E_NOT_DUE:
        return 409;
    case KITO_E_OWN_LOT:
    case KITO_E_NOT_APPROVED:
    case KITO_E_FORBIDDEN:
    case KITO_E_NO_CONSENT: /* no live offer of the stone to the sale (DESIGN.md, "Consent") */
        return 403;
    case KITO_E_UNKNOWN_LOT:
    case KITO_E_NOT_FOUND:
        return 404;
    case KITO_E_BAD_COMMAND:
    case KITO_E_BAD_REQUEST:
    case KITO_E_MALFORMED_JSON:
        return 400;
    case KITO_E_UNAUTHORIZED:
        return 401;
    case KITO_E_METHOD_NOT_ALLOWED:
        return 405;
    case KITO_E_PAYLOAD_TOO_LARGE:
        return 413;
    case KITO_E_UNSUPPORTED_MEDIA:
        return 415;
    case KITO_E_RATE_LIMITED:
    case KITO_E_LOCKED:
        return 429;
    /* ours: a bound we hit, a service that is down, a bug */
    case KITO_E_CAPACITY:
    case KITO_E_UNAVAILABLE:
    case KITO_E_BUSY: /* the hashing pool's queue is full (api/http/req_db.h) */
    case KITO_E_NOMEM:
    case KITO_E_DB:
        return 503;
    case KITO_E_TIMEOUT: /* a handler's MySQL or Redis work outlived KITO_REQUEST_TIMEOUT_MS */
        return 504;
    case KITO_E_BAD_SNAPSHOT:
    case KITO_E_INTERNAL:
    case KITO_E_IO:
    case KITO_E_CONFIG:
        return 500;
    }
    return 500;
}

const char *kito_http_reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 301:
        return "Moved Permanently";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Entity";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    }
    return "Error";
}

char *kito_http_error_body(kito_err err, const char *message, size_t *len)
{
    json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", kito_err_code(err), "message",
                            message != NULL ? message : kito_err_message(err));
    if (doc == NULL && message != NULL) /* not UTF-8: say the stock sentence instead */
        doc = json_pack("{s:{s:s,s:s}}", "error", "code", kito_err_code(err), "message",
                        kito_err_message(err));
    if (doc == NULL)
        return NULL;
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (s != NULL && len != NULL)
        *len = strlen(s);
    return s;
}
