#include "api/common/secrets.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* The table ops/common-passwords.sh writes into the build folder: lower case, sorted by strcmp. */
extern const char *const kito__common_passwords[];
extern const size_t kito__common_passwords_count;

/* The longest password validation lets through (api/common/validate.h). */
#define PASSWORD_MAX 128

/* Whether s[0..len) is a group of `period` digits repeated (period < len, dividing it). */
static bool repeats(const char *s, size_t len, size_t period)
{
    if (period >= len || len % period != 0)
        return false;
    for (size_t i = period; i < len; i++)
        if (s[i] != s[i - period])
            return false;
    return true;
}

/* Whether every step from one digit to the next is step (+1 or -1), counting 9 -> 0 as +1. */
static bool consecutive(const char *s, size_t len, int step)
{
    for (size_t i = 1; i < len; i++)
        if ((s[i - 1] - '0' + step + 10) % 10 != s[i] - '0')
            return false;
    return true;
}

/* Whether s[0..4) is a year from 1900 to 2099. */
static bool year(const char *s)
{
    return (s[0] == '1' && s[1] == '9') || (s[0] == '2' && s[1] == '0');
}

const char *kito_secrets_pin_weakness(const char *pin, size_t len)
{
    assert(len >= 4 && len <= 6);
    if (repeats(pin, len, 1))
        return "must not be one digit repeated like 0000";
    if (consecutive(pin, len, 1) || consecutive(pin, len, -1))
        return "must not be a run of consecutive digits like 1234";
    for (size_t period = 2; period <= len / 2; period++)
        if (repeats(pin, len, period))
            return "must not be a group of digits repeated like 1212";
    bool pairs = len % 2 == 0;
    for (size_t i = 0; pairs && i < len; i += 2)
        pairs = pin[i] == pin[i + 1];
    if (pairs)
        return "must not be digits in pairs like 1122";
    if (year(pin) || (len > 4 && year(pin + len - 4)))
        return "must not be or contain a year like 1990 or 2000";
    /* all but one the same: the most frequent digit fills len - 1 places */
    unsigned seen[10] = {0};
    for (size_t i = 0; i < len; i++)
        seen[pin[i] - '0']++;
    for (int d = 0; d < 10; d++)
        if (seen[d] == len - 1)
            return "must not have all but one digit the same like 0007";
    if (pin[0] == '0' && pin[1] == '0')
        return "must not begin with 00 like 0042";
    return NULL;
}

static int by_text(const void *key, const void *member)
{
    return strcmp(key, *(const char *const *)member);
}

bool kito_secrets_password_common(const char *password, size_t len)
{
    char folded[PASSWORD_MAX + 1];
    if (len < 1 || len > PASSWORD_MAX || memchr(password, '\0', len) != NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = password[i];
        folded[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    folded[len] = '\0';
    return bsearch(folded, kito__common_passwords, kito__common_passwords_count,
                   sizeof(kito__common_passwords[0]), by_text) != NULL;
}

size_t kito_secrets_common_count(void)
{
    return kito__common_passwords_count;
}
