/* Weak secrets (issue 15, finding 10): the most common passwords, from a list a Debian package
 * keeps (john-data's password.lst), and the PIN patterns people pick first, are refused with a
 * reason that names the field. Through kito_validate_password and kito_validate_pin, the entry
 * points registration and secret changes use. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "api/common/secrets.h"
#include "api/common/validate.h"

Test(secrets, the_most_common_passwords_are_refused)
{
    static const char *common[] = {"password",   "12345678",  "PASSWORD",   "Password", "iloveyou",
                                   "qwertyuiop", "password1", "1234567890", "sunshine"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        kito_verr ve = {{0}};
        cr_assert_eq(kito_validate_password("password", common[i], &ve), KITO_E_VALIDATION, "%s",
                     common[i]);
        cr_assert_str_eq(ve.field, "password");
        cr_assert(strstr(ve.reason, "common") != NULL, "%s: %s", common[i], ve.reason);
    }
}

Test(secrets, other_passwords_pass)
{
    static const char *fine[] = {"correct horse battery", "kito-demo-2026",
                                 "fair and square 2026",  "Ndege wa mbuga 7",
                                 "tanzanite-lover-77",    "12345679x"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        kito_verr ve = {{0}};
        cr_assert_eq(kito_validate_password("password", fine[i], &ve), KITO_OK, "%s: %s", fine[i],
                     ve.reason);
    }
}

/* The table the build writes (ops/common-passwords.sh). */
extern const char *const kito__common_passwords[];
extern const size_t kito__common_passwords_count;

Test(secrets, the_list_comes_from_the_package_and_is_sorted)
{
    for (size_t i = 1; i < kito__common_passwords_count; i++)
        cr_assert_lt(strcmp(kito__common_passwords[i - 1], kito__common_passwords[i]), 0, "%s, %s",
                     kito__common_passwords[i - 1], kito__common_passwords[i]);
    for (size_t i = 0; i < kito__common_passwords_count; i++)
        cr_assert(kito_secrets_password_common(kito__common_passwords[i],
                                               strlen(kito__common_passwords[i])),
                  "%s", kito__common_passwords[i]);
    /* john-data 1.9.0 lists 3,546 passwords; some 630 of them are 8 bytes or longer */
    cr_assert_gt(kito_secrets_common_count(), 500);
    cr_assert(kito_secrets_password_common("password", 8));
    cr_assert(kito_secrets_password_common("PassWord", 8));
    cr_assert_not(kito_secrets_password_common("passwor", 7));
    cr_assert_not(kito_secrets_password_common("password!", 9));
}

/* Each refused pattern, with the reason the client sees (field "pin"). */
Test(secrets, common_pin_patterns_are_refused)
{
    static const struct {
        const char *pin, *reason_part;
    } weak[] = {
        {"1212", "repeated"},      {"6969", "repeated"},      {"123123", "repeated"},
        {"121212", "repeated"},    {"1010", "repeated"},      {"1122", "pairs"},
        {"112233", "pairs"},       {"0007", "all but one"},   {"1000", "all but one"},
        {"5455", "all but one"},   {"0042", "begin with 00"}, {"001234", "begin with 00"},
        {"2000", "year"},          {"1999", "year"},          {"2026", "year"},
        {"199012", "year"},        {"122000", "year"},        {"0000", "one digit"},
        {"1234", "consecutive"},   {"9876", "consecutive"},   {"7890", "consecutive"},
        {"890123", "consecutive"},
    };
    for (size_t i = 0; i < sizeof(weak) / sizeof(weak[0]); i++) {
        kito_verr ve = {{0}};
        cr_assert_eq(kito_validate_pin("pin", weak[i].pin, &ve), KITO_E_VALIDATION, "%s",
                     weak[i].pin);
        cr_assert_str_eq(ve.field, "pin");
        cr_assert(strstr(ve.reason, weak[i].reason_part) != NULL, "%s: \"%s\" lacks \"%s\"",
                  weak[i].pin, ve.reason, weak[i].reason_part);
    }
}

Test(secrets, other_pins_pass_and_most_of_the_space_is_left)
{
    static const char *fine[] = {"4826",  "5937",   "7391", "2819",  "3017",  "0912",
                                 "48261", "482619", "1243", "90210", "135790"};
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        kito_verr ve = {{0}};
        cr_assert_eq(kito_validate_pin("pin", fine[i], &ve), KITO_OK, "%s: %s", fine[i], ve.reason);
    }
    /* the rules must not shrink the space an attacker searches by much */
    unsigned ok = 0;
    for (unsigned n = 0; n < 10000; n++) {
        char pin[8];
        snprintf(pin, sizeof(pin), "%04u", n);
        ok += kito_validate_pin("pin", pin, NULL) == KITO_OK;
    }
    cr_assert_geq(ok, 9000, "only %u of 10000 four-digit PINs are allowed", ok);
}
