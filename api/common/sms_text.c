/*
 * The milestone messages (api/common/sms_text.h). Each template leaves room for its values: the
 * unit test fills them with the longest a market gives and checks one SMS holds the result.
 */
#include "api/common/sms_text.h"

#include <stdio.h>
#include <string.h>

static const char *const names[KITO_SMS_KIND_COUNT] = {
    "stone_received", "certified",   "offered",       "sold",
    "not_sold",       "payout_sent", "payout_failed", "wallet_changed",
};

/* English, Swahili; values in order as %s. */
static const char *const templates[KITO_SMS_KIND_COUNT][2] = {
    [KITO_SMS_STONE_RECEIVED] = {"Kito: we received your stone %s (%s, %s ct). Tell the valuer "
                                 "this reference.",
                                 "Kito: tumepokea jiwe lako %s (%s, karati %s). Mpe mthamini "
                                 "kumbukumbu hii."},
    [KITO_SMS_CERTIFIED] = {"Kito: stone %s is certified. Estimate %s-%s %s. Dial the menu to "
                            "offer it to a sale.",
                            "Kito: jiwe %s limepata cheti. Makadirio %s-%s %s. Piga menyu "
                            "kulitoa kwa mnada."},
    [KITO_SMS_OFFERED] = {"Kito: you offered stone %s to %s. It can now enter their sale.",
                          "Kito: umetoa jiwe %s kwa %s. Sasa linaweza kuingia mnadani."},
    [KITO_SMS_SOLD] = {"Kito: stone %s SOLD. %s: hammer %s, commission %s, royalty %s, levy %s. "
                       "Your net %s.",
                       "Kito: jiwe %s LIMEUZWA. %s: bei %s, kamisheni %s, mrabaha %s, ushuru %s. "
                       "Chako %s."},
    [KITO_SMS_NOT_SOLD] = {"Kito: stone %s was not sold. It stays yours; you can offer it again.",
                           "Kito: jiwe %s halikuuzwa. Ni lako; unaweza kulitoa tena."},
    [KITO_SMS_PAYOUT_SENT] = {"Kito: we paid you %s %s to %s. Transaction %s.",
                              "Kito: tumekulipa %s %s kwa %s. Muamala %s."},
    [KITO_SMS_PAYOUT_FAILED] = {"Kito: payout of %s %s to %s failed. We will try again; call "
                                "your association if your number changed.",
                                "Kito: malipo ya %s %s kwa %s yameshindwa. Tutajaribu tena; "
                                "piga chama chako kama namba imebadilika."},
    /* to the OLD wallet number (issue 15, finding 5): a stolen session must not move her money
     * unseen */
    [KITO_SMS_WALLET_CHANGED] = {"Kito: your payout wallet changed from %s to %s. Payouts to it "
                                 "wait %s hours. Not you? Call your association now.",
                                 "Kito: namba ya malipo imebadilishwa kutoka %s kwenda %s. Malipo "
                                 "kwake yatasubiri saa %s. Si wewe? Piga chama chako sasa."},
};

static const unsigned counts[KITO_SMS_KIND_COUNT] = {3, 4, 2, 7, 1, 4, 3, 3};

const char *kito_sms_kind_name(kito_sms_kind kind)
{
    return (unsigned)kind < KITO_SMS_KIND_COUNT ? names[kind] : NULL;
}

void kito_sms_text(kito_sms_kind kind, const char *lang, const char *const *v,
                   char out[KITO_SMS_TEXT_SIZE])
{
    out[0] = 0;
    if ((unsigned)kind >= KITO_SMS_KIND_COUNT)
        return;
    const char *t = templates[kind][lang != NULL && strcmp(lang, "sw") == 0 ? 1 : 0];
    /* values are cut to 40 bytes each: a long organiser name must not push the figures out */
    char a[7][41];
    for (unsigned i = 0; i < 7; i++)
        snprintf(a[i], sizeof(a[i]), "%s", i < counts[kind] && v[i] != NULL ? v[i] : "");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    snprintf(out, KITO_SMS_TEXT_SIZE, t, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
#pragma GCC diagnostic pop
}

bool kito_sms_text_gsm7(const char *s, size_t *septets)
{
    /* the default alphabet's ASCII part; the rest of it (accented letters, Greek) is not used
     * by these texts, so anything beyond ASCII counts as not GSM-7 */
    static const char ext[] = "^{}\\[~]|";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != 0; p++) {
        if (*p >= 0x80 || (*p < 0x20 && *p != '\n' && *p != '\r') || *p == '`')
            return false;
        n += strchr(ext, *p) != NULL ? 2 : 1;
    }
    if (septets != NULL)
        *septets = n;
    return true;
}
