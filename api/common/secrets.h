/*
 * What makes a PIN or a password too easy to guess (issue 15, finding 10: `password`, `12345678`,
 * `1212`, `0007` and `2000` were accepted). OWASP Authentication Cheat Sheet, "Password Strength
 * Controls": check new passwords against a list of common ones; NIST SP 800-63B, 5.1.1.2: refuse
 * values from lists of commonly used or compromised secrets and repetitive or sequential ones.
 * A PIN has 10,000 to 1,000,000 values, and attackers try the popular ones first: the patterns
 * below refuse those without shrinking the space much (at least 90% of four-digit PINs stay).
 *
 * Pure; the common-password table is built into the program from Debian's john-data
 * (ops/common-passwords.sh). Any thread.
 */
#ifndef KITO_SECRETS_H
#define KITO_SECRETS_H

#include <stdbool.h>
#include <stddef.h>

/* Why pin (len ASCII digits, 4 to 6) is refused, as the rest of a sentence that begins with the
 * field's name ("must not be ... like 1212"), or NULL when it follows none of these patterns, in
 * this order:
 *   - one digit repeated: 0000, 777777
 *   - consecutive digits up or down, also across 9-0: 1234, 9876, 7890, 890123
 *   - a shorter group repeated: 1212, 6969, 1010, 123123, 121212
 *   - digits in doubled pairs: 1122, 9900, 112233
 *   - a year 1900-2099 (four digits), or five or six digits that begin or end with one (199012,
 *     122000: a year and a month or a day)
 *   - all digits but one the same: 0007, 1000, 5455, 99989
 *   - beginning with 00 (a short number padded with zeros): 0042, 001234
 * Static storage. */
const char *kito_secrets_pin_weakness(const char *pin, size_t len);

/* True when password[0..len), with ASCII letters folded to lower case, is one of the common
 * passwords of the built-in list (john-data's password.lst, entries of 8 to 128 bytes). */
bool kito_secrets_password_common(const char *password, size_t len);

/* How many passwords the built-in list holds. */
size_t kito_secrets_common_count(void);

#endif
