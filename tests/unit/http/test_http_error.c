/* api/http_error: every kito_err has a status in 400..599 and one JSON error shape. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api/http/http_error.h"

static const kito_err ALL[] = {
#define KITO__ALL(name, num, code, msg) KITO_E_##name,
    KITO_ERR_MAP(KITO__ALL)
#undef KITO__ALL
};

Test(http_error, every_code_maps_to_an_error_status)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++) {
        int st = kito_http_status(ALL[i]);
        cr_expect(st >= 400 && st <= 599, "%s maps to %d", kito_err_code(ALL[i]), st);
        cr_expect_str_neq(kito_http_reason(st), "Error", "%d has no reason phrase", st);
    }
}

Test(http_error, the_statuses_the_design_names)
{
    cr_expect_eq(kito_http_status(KITO_OK), 200);
    cr_expect_eq(kito_http_status(KITO_E_NOT_FOUND), 404);
    cr_expect_eq(kito_http_status(KITO_E_METHOD_NOT_ALLOWED), 405);
    cr_expect_eq(kito_http_status(KITO_E_PAYLOAD_TOO_LARGE), 413);
    cr_expect_eq(kito_http_status(KITO_E_MALFORMED_JSON), 400);
    cr_expect_eq(kito_http_status(KITO_E_VALIDATION), 422);
    cr_expect_eq(kito_http_status(KITO_E_UNAUTHORIZED), 401);
    cr_expect_eq(kito_http_status(KITO_E_RATE_LIMITED), 429);
    cr_expect_eq(kito_http_status(KITO_E_UNSUPPORTED_MEDIA), 415);
    cr_expect_eq(kito_http_status(KITO_E_UNAVAILABLE), 503);
    cr_expect_eq(kito_http_status(KITO_E_INTERNAL), 500);
    /* engine refusals */
    cr_expect_eq(kito_http_status(KITO_E_BELOW_ASK), 422);
    cr_expect_eq(kito_http_status(KITO_E_BAD_AMOUNT), 422);
    cr_expect_eq(kito_http_status(KITO_E_LOT_CLOSED), 409);
    cr_expect_eq(kito_http_status(KITO_E_LOT_NOT_OPEN), 409);
    cr_expect_eq(kito_http_status(KITO_E_DUPLICATE), 409);
    cr_expect_eq(kito_http_status(KITO_E_BAD_STATE), 409);
    cr_expect_eq(kito_http_status(KITO_E_OWN_LOT), 403);
    cr_expect_eq(kito_http_status(KITO_E_NOT_APPROVED), 403);
    cr_expect_eq(kito_http_status(KITO_E_NO_CONSENT), 403); /* DESIGN.md, "Consent" */
    cr_expect_eq(kito_http_status(KITO_E_UNKNOWN_LOT), 404);
    cr_expect_eq(kito_http_status((kito_err)-9999), 500, "an unknown number is our bug");
}

/* Parses a body and checks it is exactly {"error": {"code": code, "message": message}}. */
static void expect_shape(const char *body, size_t len, const char *code, const char *message)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    cr_assert_not_null(doc, "not JSON: %s (%s)", body, jerr.text);
    cr_expect_eq(json_object_size(doc), 1, "extra members: %s", body);
    json_t *e = json_object_get(doc, "error");
    cr_assert(json_is_object(e), "%s", body);
    cr_expect_eq(json_object_size(e), 2, "%s", body);
    cr_expect_str_eq(json_string_value(json_object_get(e, "code")), code);
    cr_expect_str_eq(json_string_value(json_object_get(e, "message")), message);
    json_decref(doc);
}

Test(http_error, body_shape_with_the_stock_message)
{
    size_t len = 0;
    char *body = kito_http_error_body(KITO_E_NOT_FOUND, NULL, &len);
    cr_assert_not_null(body);
    cr_expect_eq(len, strlen(body));
    expect_shape(body, len, "not_found", kito_err_message(KITO_E_NOT_FOUND));
    free(body);
}

Test(http_error, body_shape_with_a_custom_message_is_escaped)
{
    size_t len;
    char *body = kito_http_error_body(KITO_E_MALFORMED_JSON, "near \"}\\\n", &len);
    cr_assert_not_null(body);
    expect_shape(body, len, "malformed_json", "near \"}\\\n");
    free(body);
}

Test(http_error, a_message_that_is_not_utf8_falls_back_to_the_stock_one)
{
    size_t len;
    char *body = kito_http_error_body(KITO_E_BAD_REQUEST, "bad \xff byte", &len);
    cr_assert_not_null(body);
    expect_shape(body, len, "bad_request", kito_err_message(KITO_E_BAD_REQUEST));
    free(body);
}

Test(http_error, every_code_renders)
{
    for (size_t i = 0; i < sizeof(ALL) / sizeof(ALL[0]); i++) {
        size_t len;
        char *body = kito_http_error_body(ALL[i], NULL, &len);
        cr_assert_not_null(body);
        expect_shape(body, len, kito_err_code(ALL[i]), kito_err_message(ALL[i]));
        free(body);
    }
}
