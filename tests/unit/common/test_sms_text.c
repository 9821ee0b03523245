/* api/common/sms_text.h: every milestone message, in both languages, with the longest values a
 * market gives, fits one GSM-7 SMS. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/common/sms_text.h"

Test(sms_text, every_message_fits_one_gsm7_sms_in_both_languages)
{
    /* the longest of each value: an id, a variety, amounts in the billions, a 40-byte name */
    const char *v[] = {"stn_000000000000c", "4999999999.99", "4999999999.99", "TZS",
                       "999999.99",         "999999.99",     "4999999999.99"};
    const char *names[] = {"stn_000000000000c", "Arusha Gem Fair organised by the TAWOMA",
                           "+255712345678", "ABCD1234EF"};
    for (int k = 0; k < KITO_SMS_KIND_COUNT; k++)
        for (int l = 0; l < 2; l++) {
            char out[KITO_SMS_TEXT_SIZE];
            const char *const *vals = v;
            const char *mixed[7];
            if (k == KITO_SMS_LOT_OPENED) {
                memcpy(mixed, v, sizeof(mixed));
                mixed[1] = names[1]; /* the sale's title */
                mixed[2] = "9999";
                vals = mixed;
            }
            if (k == KITO_SMS_OFFERED || k == KITO_SMS_PAYOUT_SENT) {
                memcpy(mixed, v, sizeof(mixed));
                mixed[1] = names[1];
                mixed[2] = names[2];
                mixed[3] = names[3];
                vals = mixed;
            }
            kito_sms_text((kito_sms_kind)k, l == 1 ? "sw" : "en", vals, out);
            size_t septets = 0;
            cr_assert(kito_sms_text_gsm7(out, &septets), "not GSM-7: %s", out);
            cr_assert_leq(septets, KITO_SMS_SEGMENT_CHARS, "%zu septets: %s", septets, out);
            cr_assert(strncmp(out, "Kito: ", 6) == 0, "%s", out);
        }
}

Test(sms_text, the_sold_message_carries_the_breakdown)
{
    const char *v[] = {"stn_000000000000c", "USD", "100", "5", "6", "1", "88"};
    char out[KITO_SMS_TEXT_SIZE];
    kito_sms_text(KITO_SMS_SOLD, "en", v, out);
    cr_assert_str_eq(out, "Kito: stone stn_000000000000c SOLD. USD: hammer 100, commission 5, "
                          "royalty 6, levy 1. Your net 88.");
}

Test(sms_text, the_lot_opened_message_names_sale_lot_and_opening)
{
    const char *v[] = {"stn_000000000000c", "Arusha Gem Fair", "12", "USD", "400"};
    char out[KITO_SMS_TEXT_SIZE];
    kito_sms_text(KITO_SMS_LOT_OPENED, "sw", v, out);
    cr_assert_str_eq(out, "Kito: jiwe stn_000000000000c liko mnadani Arusha Gem Fair kura 12, bei "
                          "ya kuanzia USD 400. Tutakutumia matokeo.");
}

Test(sms_text, amounts_show_two_decimals_only_when_there_are_cents)
{
    char out[KITO_SMS_MONEY_SIZE];
    kito_sms_money(120000, out);
    cr_assert_str_eq(out, "1200");
    kito_sms_money(120050, out);
    cr_assert_str_eq(out, "1200.50");
    kito_sms_money(-5, out);
    cr_assert_str_eq(out, "-0.05");
    kito_sms_money(INT64_MIN, out);
    cr_assert_str_eq(out, "-92233720368547758.08");
}

Test(sms_text, a_long_value_is_cut_on_a_whole_character_without_a_trailing_space)
{
    /* 40 bytes end inside "and" + space: the space goes; the figures stay */
    const char *v[] = {"stn_000000000000c", "Online: Tanzanite, Tsavorite and Spinel from Arusha",
                       "1", "USD", "600"};
    char out[KITO_SMS_TEXT_SIZE];
    kito_sms_text(KITO_SMS_LOT_OPENED, "en", v, out);
    cr_assert(strstr(out, "sale Online: Tanzanite, Tsavorite and Spinel as lot 1, opening at USD "
                          "600.") != NULL,
              "%s", out);
    /* a two-byte character cut in half is left out whole */
    const char *w[] = {"stn_000000000000c",
                       "Mnada wa Mirerani na Arusha, Tanzania, \xc3\xa9t\xc3\xa9", "1", "USD",
                       "600"};
    kito_sms_text(KITO_SMS_LOT_OPENED, "en", w, out);
    cr_assert(strstr(out, "Arusha, Tanzania, as lot 1") != NULL, "%s", out);
    cr_assert(kito_sms_text_gsm7(out, NULL), "%s", out);
}
