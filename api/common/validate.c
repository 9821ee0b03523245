#include "api/common/validate.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api/common/secrets.h"

/* ---- error detail ---------------------------------------------------------------------------- */

/* Cuts a truncated string back to a whole UTF-8 sequence, so the message stays valid JSON text. */
static void utf8_trim(char *s)
{
    size_t len = strlen(s);
    while (len > 0 && !kito_utf8_valid(s, len, NULL))
        s[--len] = '\0';
}

kito_err kito_verr_set(kito_verr *ve, const char *field, const char *fmt, ...)
{
    if (ve == NULL)
        return KITO_E_VALIDATION;
    snprintf(ve->field, sizeof(ve->field), "%s", field != NULL ? field : "");
    utf8_trim(ve->field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ve->reason, sizeof(ve->reason), fmt, ap);
    va_end(ap);
    utf8_trim(ve->reason);
    return KITO_E_VALIDATION;
}

/* ---- text ------------------------------------------------------------------------------------ */

/* Decodes the code point at s[*i] into *cp and advances *i; false if the bytes there are not
 * well-formed UTF-8. */
static bool utf8_next(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
    uint8_t c = s[*i];
    size_t need;
    uint32_t v;
    if (c < 0x80) {
        *cp = c;
        (*i)++;
        return true;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
    } else {
        return false;
    }
    if (len - *i - 1 < need)
        return false;
    for (size_t k = 1; k <= need; k++) {
        uint8_t b = s[*i + k];
        if ((b & 0xC0) != 0x80)
            return false;
        v = (v << 6) | (b & 0x3F);
    }
    if (need == 2 && (v < 0x800 || (v >= 0xD800 && v <= 0xDFFF)))
        return false;
    if (need == 3 && (v < 0x10000 || v > 0x10FFFF))
        return false;
    *cp = v;
    *i += need + 1;
    return true;
}

bool kito_utf8_valid(const char *s, size_t len, size_t *code_points)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, n = 0;
    uint32_t cp;
    while (i < len) {
        if (!utf8_next(p, len, &i, &cp))
            return false;
        n++;
    }
    if (code_points != NULL)
        *code_points = n;
    return true;
}

static bool is_control(uint32_t cp, unsigned flags)
{
    if ((flags & KITO_TEXT_MULTILINE) && (cp == '\n' || cp == '\r' || cp == '\t'))
        return false;
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029;
}

/* The text rules on s[0..len): UTF-8, no controls, min_cp..max_cp code points. */
static kito_err check_text(const char *field, const char *s, size_t len, size_t min_cp,
                           size_t max_cp, unsigned flags, kito_verr *ve)
{
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0, n = 0;
    uint32_t cp;
    while (i < len) {
        if (!utf8_next(p, len, &i, &cp))
            return kito_verr_set(ve, field, "must be valid UTF-8");
        if (is_control(cp, flags))
            return kito_verr_set(ve, field, "must not contain control characters");
        if (++n > max_cp)
            return kito_verr_set(ve, field, "must be at most %zu characters long", max_cp);
    }
    if (n < min_cp) {
        if (min_cp == 1)
            return kito_verr_set(ve, field, "must not be empty");
        return kito_verr_set(ve, field, "must be at least %zu characters long", min_cp);
    }
    return KITO_OK;
}

kito_err kito_validate_text(const char *field, const char *s, size_t min_cp, size_t max_cp,
                            unsigned flags, kito_verr *ve)
{
    if (s == NULL)
        return kito_verr_set(ve, field, "is required");
    return check_text(field, s, strlen(s), min_cp, max_cp, flags, ve);
}

kito_err kito_validate_enum(const char *field, const char *s, const char *const *allowed,
                            size_t *index, kito_verr *ve)
{
    char list[KITO_VERR_REASON_SIZE - 16];
    size_t used = 0;
    for (size_t i = 0; allowed[i] != NULL; i++) {
        if (s != NULL && strcmp(s, allowed[i]) == 0) {
            if (index != NULL)
                *index = i;
            return KITO_OK;
        }
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i > 0 ? ", " : "", allowed[i]);
        if (n > 0 && used + (size_t)n < sizeof(list))
            used += (size_t)n;
    }
    list[used] = '\0';
    return kito_verr_set(ve, field, "must be one of: %s", list);
}

/* ---- people ---------------------------------------------------------------------------------- */

static bool all_digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* The four markets: prefix digits, country, allowed national number lengths (0 = unused). */
static const struct {
    const char *prefix;
    const char *country;
    size_t national[2];
} markets[] = {
    {"254", "KE", {9, 0}},
    {"255", "TZ", {9, 0}},
    {"260", "ZM", {9, 0}},
    {"265", "MW", {9, 7}},
};

kito_err kito_validate_phone(const char *field, const char *s, kito_verr *ve)
{
    static const char why[] = "must be an E.164 number like +255712345678";
    if (s == NULL || s[0] != '+')
        return kito_verr_set(ve, field, why);
    size_t len = strnlen(s + 1, 17);
    if (len < 8 || len > 15 || !all_digits(s + 1, len) || s[1] == '0')
        return kito_verr_set(ve, field, why);
    for (size_t i = 0; i < sizeof(markets) / sizeof(markets[0]); i++) {
        if (strncmp(s + 1, markets[i].prefix, 3) != 0)
            continue;
        size_t national = len - 3;
        if (national != markets[i].national[0] && national != markets[i].national[1])
            return kito_verr_set(ve, field, "has the wrong number of digits for +%s",
                                 markets[i].prefix);
    }
    return KITO_OK;
}

const char *kito_validate_phone_country(const char *e164)
{
    if (kito_validate_phone("phone", e164, NULL) != KITO_OK)
        return NULL;
    for (size_t i = 0; i < sizeof(markets) / sizeof(markets[0]); i++)
        if (strncmp(e164 + 1, markets[i].prefix, 3) == 0)
            return markets[i].country;
    return NULL;
}

kito_err kito_validate_pin(const char *field, const char *s, kito_verr *ve)
{
    if (s == NULL)
        return kito_verr_set(ve, field, "must be 4 to 6 digits");
    size_t len = strnlen(s, 8);
    if (len < 4 || len > 6 || !all_digits(s, len))
        return kito_verr_set(ve, field, "must be 4 to 6 digits");
    /* the PINs attackers try first (issue 15, finding 10; the rules: api/common/secrets.h) */
    const char *why = kito_secrets_pin_weakness(s, len);
    return why != NULL ? kito_verr_set(ve, field, "%s", why) : KITO_OK;
}

kito_err kito_validate_email(const char *field, const char *s, kito_verr *ve)
{
    static const char why[] = "must be an e-mail address like name@example.com";
    if (s == NULL)
        return kito_verr_set(ve, field, why);
    size_t len = strnlen(s, 256);
    if (len > 254)
        return kito_verr_set(ve, field, "must be at most 254 bytes long");
    if (!kito_utf8_valid(s, len, NULL))
        return kito_verr_set(ve, field, "must be valid UTF-8");
    const char *at = NULL;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c == 0x7F || strchr("()<>[]\\,;:\"", c) != NULL)
            return kito_verr_set(ve, field, why);
        if (c == '@') {
            if (at != NULL)
                return kito_verr_set(ve, field, why);
            at = s + i;
        }
    }
    if (at == NULL || at == s || at - s > 64)
        return kito_verr_set(ve, field, why);
    const char *domain = at + 1;
    size_t dlen = len - (size_t)(domain - s);
    if (dlen < 3 || memchr(domain, '.', dlen) == NULL || strstr(domain, "..") != NULL ||
        domain[0] == '.' || domain[0] == '-' || domain[dlen - 1] == '.' || domain[dlen - 1] == '-')
        return kito_verr_set(ve, field, why);
    return KITO_OK;
}

kito_err kito_validate_password(const char *field, const char *s, kito_verr *ve)
{
    if (s == NULL)
        return kito_verr_set(ve, field, "must be 8 to 128 bytes long");
    size_t len = strnlen(s, 130);
    if (len < 8 || len > 128)
        return kito_verr_set(ve, field, "must be 8 to 128 bytes long");
    if (!kito_utf8_valid(s, len, NULL))
        return kito_verr_set(ve, field, "must be valid UTF-8");
    /* OWASP Authentication Cheat Sheet: check new passwords against a list of common ones (issue
     * 15, finding 10; the list: api/common/secrets.h) */
    if (kito_secrets_password_common(s, len))
        return kito_verr_set(ve, field,
                             "must not be one of the most common passwords, which attackers try "
                             "first; a few unrelated words together are easy to remember and hard "
                             "to guess");
    return KITO_OK;
}

/* ---- codes ----------------------------------------------------------------------------------- */

kito_err kito_validate_currency(const char *field, const char *s, kito_verr *ve)
{
    static const char *const codes[] = {"USD", "KES", "TZS", "ZMW", "MWK", "EUR", "GBP", NULL};
    return kito_validate_enum(field, s, codes, NULL, ve);
}

kito_err kito_validate_time_zone(const char *field, const char *s, kito_verr *ve)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > KITO_TIME_ZONE_MAX)
        return kito_verr_set(ve, field, "must be a time zone name such as Africa/Nairobi");
    int segments = 1;
    bool at_start = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '/') {
            if (at_start)
                return kito_verr_set(ve, field, "must be a time zone name such as Africa/Nairobi");
            segments++;
            at_start = true;
            continue;
        }
        /* a segment starts with a letter: no "..", no hidden files, no absolute paths */
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (!at_start && ((c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-'));
        if (!ok)
            return kito_verr_set(ve, field, "must be a time zone name such as Africa/Nairobi");
        at_start = false;
    }
    if (at_start || segments > 3)
        return kito_verr_set(ve, field, "must be a time zone name such as Africa/Nairobi");
    char path[sizeof("/usr/share/zoneinfo/") + KITO_TIME_ZONE_MAX];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", s);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return kito_verr_set(ve, field, "is not a time zone of the tz database");
    return KITO_OK;
}

kito_err kito_validate_origin_country(const char *field, const char *s, kito_verr *ve)
{
    static const char *const codes[] = {"KE", "TZ", "ZM", "MW", NULL};
    return kito_validate_enum(field, s, codes, NULL, ve);
}

kito_err kito_validate_country(const char *field, const char *s, kito_verr *ve)
{
    if (s == NULL || strnlen(s, 3) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z')
        return kito_verr_set(ve, field, "must be a two-letter ISO 3166 country code like TZ");
    return KITO_OK;
}

/* ---- numbers --------------------------------------------------------------------------------- */

kito_err kito_validate_carats_text(const char *field, const char *s, int64_t *hundredths,
                                   kito_verr *ve)
{
    static const char why[] = "must be a weight in carats with at most 2 decimals, like 12.34";
    int64_t whole = 0, frac = 0;
    size_t i = 0, digits = 0;
    if (s == NULL)
        return kito_verr_set(ve, field, why);
    for (; s[i] >= '0' && s[i] <= '9'; i++) {
        if (++digits > 9) /* 10^9 ct is far above the maximum: stop before overflow */
            return kito_verr_set(ve, field, "must be at most 1000000 carats");
        whole = whole * 10 + (s[i] - '0');
    }
    if (digits == 0 || (s[0] == '0' && digits > 1))
        return kito_verr_set(ve, field, why);
    if (s[i] == '.') {
        i++;
        size_t fd = 0;
        for (; s[i] >= '0' && s[i] <= '9'; i++) {
            if (++fd > 2)
                return kito_verr_set(ve, field, why);
            frac = frac * 10 + (s[i] - '0');
        }
        if (fd == 0)
            return kito_verr_set(ve, field, why);
        if (fd == 1)
            frac *= 10;
    }
    if (s[i] != '\0')
        return kito_verr_set(ve, field, why);
    int64_t v = whole * 100 + frac;
    if (v <= 0)
        return kito_verr_set(ve, field, "must be more than zero carats");
    if (v > KITO_CARATS_MAX_HUNDREDTHS)
        return kito_verr_set(ve, field, "must be at most 1000000 carats");
    *hundredths = v;
    return KITO_OK;
}

kito_err kito_validate_carats(const char *field, const json_t *v, int64_t *hundredths,
                              kito_verr *ve)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strlen(s) != json_string_length(v))
            return kito_verr_set(ve, field, "must not contain U+0000");
        return kito_validate_carats_text(field, s, hundredths, ve);
    }
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        if (n <= 0)
            return kito_verr_set(ve, field, "must be more than zero carats");
        if (n > KITO_CARATS_MAX_HUNDREDTHS / 100)
            return kito_verr_set(ve, field, "must be at most 1000000 carats");
        *hundredths = (int64_t)n * 100;
        return KITO_OK;
    }
    if (json_is_real(v)) {
        /* The shortest text that reads back as the same double is the decimal the client wrote
         * (for up to 15 significant digits); from here on the value is parsed as text. */
        double d = json_real_value(v);
        char buf[40];
        if (!isfinite(d))
            return kito_verr_set(ve, field, "must be a finite number");
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, d);
            if (strtod(buf, NULL) == d)
                break;
        }
        if (strpbrk(buf, "eE") != NULL)
            return kito_verr_set(ve, field, "must be a plain decimal number of carats");
        return kito_validate_carats_text(field, buf, hundredths, ve);
    }
    return kito_verr_set(ve, field, "must be a number or a decimal string of carats");
}

kito_err kito_validate_int(const char *field, const json_t *v, int64_t min, int64_t max,
                           int64_t *out, kito_verr *ve)
{
    assert(min <= max);
    if (!json_is_integer(v))
        return kito_verr_set(ve, field, "must be a whole number");
    json_int_t n = json_integer_value(v);
    if (n < min || n > max)
        return kito_verr_set(ve, field, "must be between %lld and %lld", (long long)min,
                             (long long)max);
    *out = (int64_t)n;
    return KITO_OK;
}

kito_err kito_validate_amount(const char *field, const json_t *v, int64_t *minor, kito_verr *ve)
{
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > KITO_AMOUNT_MAX)
        return kito_verr_set(ve, field,
                             "must be a whole number of minor units (cents) from 1 to %lld",
                             (long long)KITO_AMOUNT_MAX);
    *minor = (int64_t)json_integer_value(v);
    return KITO_OK;
}

kito_err kito_validate_amount_text(const char *field, const char *s, int64_t *minor, kito_verr *ve)
{
    int64_t v = 0;
    size_t i = 0;
    if (s == NULL || s[0] < '1' || s[0] > '9')
        goto bad;
    for (; s[i] != '\0'; i++) {
        if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, 10, &v) ||
            __builtin_add_overflow(v, s[i] - '0', &v))
            goto bad;
    }
    if (v > KITO_AMOUNT_MAX)
        goto bad;
    *minor = v;
    return KITO_OK;
bad:
    return kito_verr_set(ve, field, "must be a whole number of minor units (cents) from 1 to %lld",
                         (long long)KITO_AMOUNT_MAX);
}

kito_err kito_validate_bps(const char *field, const json_t *v, int32_t *bps, kito_verr *ve)
{
    int64_t n;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 10000)
        return kito_verr_set(ve, field, "must be a whole number of basis points from 0 to 10000");
    n = json_integer_value(v);
    *bps = (int32_t)n;
    return KITO_OK;
}

/* ---- time ------------------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible Low-Level
 * Date Algorithms"). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n digits at s into *out. */
static bool fixed_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

kito_err kito_validate_time(const char *field, const char *s, int64_t *ms, kito_verr *ve)
{
    static const char why[] = "must be an RFC 3339 UTC time like 2026-11-27T15:00:00Z";
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned year, mon, day, hh, mm, ss, frac_ms = 0;
    if (s == NULL || strnlen(s, 20) < 20)
        return kito_verr_set(ve, field, why);
    if (!fixed_digits(s, 4, &year) || s[4] != '-' || !fixed_digits(s + 5, 2, &mon) || s[7] != '-' ||
        !fixed_digits(s + 8, 2, &day) || s[10] != 'T' || !fixed_digits(s + 11, 2, &hh) ||
        s[13] != ':' || !fixed_digits(s + 14, 2, &mm) || s[16] != ':' ||
        !fixed_digits(s + 17, 2, &ss))
        return kito_verr_set(ve, field, why);
    const char *p = s + 19;
    if (*p == '.') {
        size_t n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++) {
            if (n >= 9)
                return kito_verr_set(ve, field, why);
            if (n < 3)
                frac_ms = frac_ms * 10 + (unsigned)(*p - '0');
        }
        if (n == 0)
            return kito_verr_set(ve, field, why);
        for (; n < 3; n++)
            frac_ms *= 10;
    }
    if (p[0] != 'Z' || p[1] != '\0')
        return kito_verr_set(ve, field, why);
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] + (mon == 2 && leap) || hh > 23 ||
        mm > 59 || ss > 59)
        return kito_verr_set(ve, field, "is not a real date and time");
    if (year < 1970)
        return kito_verr_set(ve, field, "must not be before 1970");
    int64_t days = days_from_civil(year, mon, day);
    *ms = ((days * 24 + hh) * 60 + mm) * 60000 + (int64_t)ss * 1000 + frac_ms;
    assert(*ms >= 0 && *ms <= KITO_TIME_MAX_MS);
    return KITO_OK;
}

/* Writes v as exactly n decimal digits (v < 10^n). */
static char *put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + n;
}

kito_err kito_time_format(int64_t ms, char out[KITO_TIME_SIZE])
{
    int64_t y;
    unsigned m, d;
    out[0] = '\0';
    if (ms < 0 || ms > KITO_TIME_MAX_MS)
        return KITO_E_VALIDATION;
    int64_t days = ms / 86400000, rest = ms % 86400000;
    civil_from_days(days, &y, &m, &d);
    assert(y >= 1970 && y <= 9999);
    char *p = put_digits(out, (unsigned)y, 4);
    *p++ = '-';
    p = put_digits(p, m, 2);
    *p++ = '-';
    p = put_digits(p, d, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(rest / 3600000), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rest / 60000 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(rest / 1000 % 60), 2);
    if (rest % 1000 != 0) {
        *p++ = '.';
        p = put_digits(p, (unsigned)(rest % 1000), 3);
    }
    *p++ = 'Z';
    *p = '\0';
    assert((size_t)(p - out) < KITO_TIME_SIZE);
    return KITO_OK;
}

/* ---- ids ------------------------------------------------------------------------------------- */

static const char crockford[] = "0123456789abcdefghjkmnpqrstvwxyz";

static bool prefix_ok(const char *prefix, size_t *len)
{
    size_t n = 0;
    if (prefix == NULL)
        return false;
    for (; prefix[n] != '\0'; n++)
        if (n >= KITO_ID_PREFIX_MAX || prefix[n] < 'a' || prefix[n] > 'z')
            return false;
    *len = n;
    return n > 0;
}

kito_err kito_id_format(const char *prefix, uint64_t key, char *out, size_t out_size)
{
    size_t plen;
    if (out_size > 0)
        out[0] = '\0';
    if (!prefix_ok(prefix, &plen) || key == 0)
        return KITO_E_VALIDATION;
    if (out_size < plen + 1 + KITO_ID_DIGITS + 1)
        return KITO_E_CAPACITY;
    memcpy(out, prefix, plen);
    out[plen] = '_';
    char *digits = out + plen + 1;
    for (int i = KITO_ID_DIGITS - 1; i >= 0; i--) {
        digits[i] = crockford[key & 31];
        key >>= 5;
    }
    digits[KITO_ID_DIGITS] = '\0';
    return KITO_OK;
}

kito_err kito_id_parse(const char *prefix, const char *s, uint64_t *key)
{
    size_t plen;
    uint64_t v = 0;
    if (!prefix_ok(prefix, &plen) || s == NULL || strncmp(s, prefix, plen) != 0 || s[plen] != '_')
        return KITO_E_VALIDATION;
    const char *digits = s + plen + 1;
    if (strnlen(digits, KITO_ID_DIGITS + 1) != KITO_ID_DIGITS)
        return KITO_E_VALIDATION;
    for (size_t i = 0; i < KITO_ID_DIGITS; i++) {
        const char *hit = digits[i] != '\0' ? strchr(crockford, digits[i]) : NULL;
        if (hit == NULL)
            return KITO_E_VALIDATION;
        uint64_t d = (uint64_t)(hit - crockford);
        if (i == 0 && d > 15) /* 13 * 5 = 65 bits: the top bit must be clear */
            return KITO_E_VALIDATION;
        v = (v << 5) | d;
    }
    if (v == 0)
        return KITO_E_VALIDATION;
    *key = v;
    return KITO_OK;
}

kito_err kito_validate_id(const char *field, const char *prefix, const char *s, uint64_t *key,
                          kito_verr *ve)
{
    if (kito_id_parse(prefix, s, key) == KITO_OK)
        return KITO_OK;
    return kito_verr_set(ve, field, "must be an id like %s_0000000000001", prefix);
}

/* ---- request bodies -------------------------------------------------------------------------- */

static const char *ftype_name(kito_ftype t)
{
    switch (t) {
    case KITO_FT_STRING:
    case KITO_FT_TEXT:
        return "a string";
    case KITO_FT_INTEGER:
        return "a whole number";
    case KITO_FT_BOOL:
        return "true or false";
    case KITO_FT_DECIMAL:
        return "a number or a decimal string";
    case KITO_FT_OBJECT:
        return "an object";
    case KITO_FT_ARRAY:
        return "an array";
    }
    return "a value";
}

/* A path buffer that grows as the checker descends: "ladder[1].step_minor". */
typedef struct path {
    char buf[KITO_VERR_FIELD_SIZE];
    size_t len;
} path;

static size_t path_push(path *p, const char *fmt, const char *name, size_t index)
{
    size_t saved = p->len;
    int n = name != NULL ? snprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, name)
                         : snprintf(p->buf + p->len, sizeof(p->buf) - p->len, fmt, index);
    if (n > 0)
        p->len = p->len + (size_t)n < sizeof(p->buf) ? p->len + (size_t)n : sizeof(p->buf) - 1;
    return saved;
}

static void path_pop(path *p, size_t saved)
{
    p->len = saved;
    p->buf[saved] = '\0';
}

static kito_err check_object(const json_t *obj, const kito_shape *shape, path *p, int depth,
                             kito_verr *ve);

static kito_err check_value(const json_t *v, kito_ftype type, uint32_t min, uint32_t max,
                            kito_ftype item, const kito_shape *shape, path *p, int depth,
                            kito_verr *ve)
{
    switch (type) {
    case KITO_FT_STRING:
    case KITO_FT_TEXT: {
        if (!json_is_string(v))
            break;
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (strlen(s) != len)
            return kito_verr_set(ve, p->buf, "must not contain U+0000");
        return check_text(p->buf, s, len, min, max == 0 ? 200 : max,
                          type == KITO_FT_TEXT ? KITO_TEXT_MULTILINE : 0, ve);
    }
    case KITO_FT_INTEGER:
        if (json_is_integer(v))
            return KITO_OK;
        break;
    case KITO_FT_BOOL:
        if (json_is_boolean(v))
            return KITO_OK;
        break;
    case KITO_FT_DECIMAL:
        if (json_is_number(v))
            return KITO_OK;
        if (json_is_string(v)) /* the format is the weight validator's; bound the length here */
            return check_text(p->buf, json_string_value(v), json_string_length(v), 1, 32, 0, ve);
        break;
    case KITO_FT_OBJECT:
        if (!json_is_object(v))
            break;
        assert(shape != NULL);
        return check_object(v, shape, p, depth + 1, ve);
    case KITO_FT_ARRAY: {
        if (!json_is_array(v))
            break;
        size_t n = json_array_size(v), most = max == 0 ? 100 : max;
        if (n < min || n > most)
            return kito_verr_set(ve, p->buf, "must have %u to %zu elements", min, most);
        if (depth + 1 > KITO_SHAPE_MAX_DEPTH)
            return kito_verr_set(ve, p->buf, "is nested too deeply");
        for (size_t i = 0; i < n; i++) {
            size_t saved = path_push(p, "[%zu]", NULL, i);
            kito_err err = check_value(json_array_get(v, i), item, 0, 0, KITO_FT_STRING, shape, p,
                                       depth + 1, ve);
            path_pop(p, saved);
            if (err != KITO_OK)
                return err;
        }
        return KITO_OK;
    }
    }
    return kito_verr_set(ve, p->buf, "must be %s", ftype_name(type));
}

static kito_err check_object(const json_t *obj, const kito_shape *shape, path *p, int depth,
                             kito_verr *ve)
{
    const char *key;
    size_t key_len;
    json_t *value;
    if (depth > KITO_SHAPE_MAX_DEPTH)
        return kito_verr_set(ve, p->buf, "is nested too deeply");
    json_object_keylen_foreach((json_t *)obj, key, key_len, value)
    {
        bool known = false;
        for (size_t i = 0; i < shape->count && !known; i++)
            known =
                strlen(shape->fields[i].name) == key_len && strcmp(shape->fields[i].name, key) == 0;
        if (!known) {
            size_t saved = path_push(p, p->len > 0 ? ".%s" : "%s", key, 0);
            kito_verr_set(ve, p->buf, "is not a known field");
            path_pop(p, saved);
            return KITO_E_VALIDATION;
        }
    }
    for (size_t i = 0; i < shape->count; i++) {
        const kito_field *f = &shape->fields[i];
        json_t *v = json_object_get(obj, f->name);
        size_t saved = path_push(p, p->len > 0 ? ".%s" : "%s", f->name, 0);
        kito_err err = KITO_OK;
        if (v == NULL || (json_is_null(v) && f->nullable)) {
            if (f->required)
                err = kito_verr_set(ve, p->buf, "is required");
        } else {
            err = check_value(v, f->type, f->min, f->max, f->item, f->shape, p, depth, ve);
        }
        path_pop(p, saved);
        if (err != KITO_OK)
            return err;
    }
    return KITO_OK;
}

kito_err kito_validate_object(const json_t *obj, const kito_shape *shape, kito_verr *ve)
{
    path p = {.buf = "", .len = 0};
    if (!json_is_object(obj))
        return kito_verr_set(ve, "body", "must be a JSON object");
    return check_object(obj, shape, &p, 0, ve);
}
