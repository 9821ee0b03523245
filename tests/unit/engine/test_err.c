#include <criterion/criterion.h>
#include <string.h>

#include "engine/err.h"

Test(err, codes_are_stable_strings)
{
    cr_assert_str_eq(kito_err_code(KITO_OK), "ok");
    cr_assert_str_eq(kito_err_code(KITO_E_BELOW_ASK), "below_ask");
    cr_assert_str_eq(kito_err_code(KITO_E_NOT_FOUND), "not_found");
    cr_assert_str_eq(kito_err_code((kito_err)-9999), "unknown");
    cr_assert_eq(KITO_E_BELOW_ASK, -2);
}

Test(err, every_code_has_a_message_and_a_unique_code)
{
    static const kito_err all[] = {
#define X(name, num, code, msg) KITO_E_##name,
        KITO_ERR_MAP(X)
#undef X
    };
    size_t n = sizeof(all) / sizeof(all[0]);
    for (size_t i = 0; i < n; i++) {
        cr_assert(all[i] < 0);
        cr_assert(strlen(kito_err_message(all[i])) > 0);
        for (size_t j = i + 1; j < n; j++) {
            cr_assert_neq(all[i], all[j]);
            cr_assert_str_neq(kito_err_code(all[i]), kito_err_code(all[j]));
        }
    }
}
