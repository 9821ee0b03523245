/* api/adapters/africastalking.h: the gateway's answers, read without a socket. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/adapters/africastalking.h"

static kito_at_result parse(long status, const char *body)
{
    kito_at_result r;
    kito_at_sms_parse(status, body, body != NULL ? strlen(body) : 0, &r);
    return r;
}

#define ANSWER(code, id)                                                                           \
    "{\"SMSMessageData\":{\"Message\":\"Sent to 1/1\",\"Recipients\":[{\"statusCode\":" code       \
    ",\"number\":\"+255712345678\",\"status\":\"Success\",\"cost\":\"KES "                         \
    "0.8\",\"messageId\":\"" id "\"}]}}"

Test(africastalking, status_codes_decide)
{
    kito_at_result r = parse(201, ANSWER("101", "ATXid_1"));
    cr_assert_eq(r.verdict, KITO_AT_TAKEN);
    cr_assert_str_eq(r.message_id, "ATXid_1");
    cr_assert_eq(parse(201, ANSWER("102", "ATXid_2")).verdict, KITO_AT_TAKEN);
    cr_assert_eq(parse(201, ANSWER("403", "None")).verdict, KITO_AT_REFUSED);
    cr_assert_eq(parse(201, ANSWER("406", "None")).verdict, KITO_AT_REFUSED);
    cr_assert_eq(parse(201, ANSWER("500", "None")).verdict, KITO_AT_TRY_LATER);
    cr_assert_eq(parse(201, ANSWER("101", "None")).verdict, KITO_AT_REFUSED, "no id, not taken");
    cr_assert_eq(parse(503, "busy").verdict, KITO_AT_TRY_LATER);
    cr_assert_eq(parse(401, "The supplied authentication is invalid").verdict, KITO_AT_REFUSED);
    cr_assert_eq(parse(200, "not json").verdict, KITO_AT_UNKNOWN);
    cr_assert_eq(parse(201, "{\"SMSMessageData\":{\"Recipients\":[]}}").verdict, KITO_AT_UNKNOWN);
}
