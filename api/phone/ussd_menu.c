/*
 * The USSD menu's screens and transitions (api/phone/ussd_menu.h). Every screen is written by
 * one function from the session and, for lists, the facts an effect found; every string the
 * miner reads is in the table below, in English and Swahili.
 */
#include "api/phone/ussd_menu.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api/common/validate.h"

/* ---- what she reads ---------------------------------------------------------------------- */

typedef enum msg {
    M_LANG,
    M_REG_NAME,
    M_REG_ASSOC,
    M_REG_ASSOC_NONE,
    M_REG_WALLET,
    M_REG_WALLET_NUMBER,
    M_REG_PIN,
    M_REG_PIN2,
    M_REG_DONE,
    M_REG_TAKEN,
    M_MAIN,
    M_LIST_SPECIES,
    M_LIST_SPECIES_OTHER,
    M_LIST_FORM,
    M_LIST_WEIGHT_CT,
    M_LIST_WEIGHT_G,
    M_LIST_PIECES,
    M_LIST_SITE,
    M_LIST_OFFER,
    M_LIST_DONE,
    M_STONES_HEAD,
    M_STONES_NONE,
    M_OFFER_STONE,
    M_OFFER_NONE,
    M_OFFER_TARGET,
    M_OFFER_NO_TARGET,
    M_OFFER_PIN,
    M_OFFER_DONE,
    M_OFFER_REFUSED,
    M_RESULTS_PIN,
    M_RESULTS_HEAD,
    M_RESULTS_NONE,
    M_CPIN_CURRENT,
    M_CPIN_NEW,
    M_CPIN_NEW2,
    M_CPIN_DONE,
    M_WALLET_NUMBER,
    M_WALLET_PIN,
    M_WALLET_DONE,
    M_WALLET_SAME,
    M_PIN_WRONG,
    M_PIN_PAUSED,
    M_BAD_CHOICE,
    M_BAD_NAME,
    M_BAD_NUMBER,
    M_BAD_WALLET,
    M_BAD_PIN,
    M_PIN_MISMATCH,
    M_BAD_WEIGHT,
    M_BAD_SITE,
    M_UNKNOWN_SPECIES,
    M_BYE,
    M_SORRY,
    M_EXPIRED,
    M_COUNT
} msg;

static const char *const text[M_COUNT][2] = {
    /* her language is not known yet: both */
    [M_LANG] = {"Karibu Kito / Welcome to Kito\n1 English\n2 Kiswahili",
                "Karibu Kito / Welcome to Kito\n1 English\n2 Kiswahili"},
    [M_REG_NAME] = {"Register with Kito.\nYour full name:", "Jisajili na Kito.\nJina lako kamili:"},
    [M_REG_ASSOC] = {"Your association:", "Chama chako:"},
    [M_REG_ASSOC_NONE] = {"0 None", "0 Hakuna"},
    [M_REG_WALLET] = {"Payouts go to mobile money.\n1 This phone\n2 Another number",
                      "Malipo yatatumwa kwa pesa ya simu.\n1 Simu hii\n2 Namba nyingine"},
    [M_REG_WALLET_NUMBER] = {"Mobile money number, e.g. 0712345678:",
                             "Namba ya pesa ya simu, mf. 0712345678:"},
    [M_REG_PIN] = {"Choose a PIN of 4 to 6 digits:", "Chagua PIN ya tarakimu 4 hadi 6:"},
    [M_REG_PIN2] = {"Enter the PIN again:", "Weka PIN tena:"},
    [M_REG_DONE] = {"You are registered.", "Umesajiliwa."},
    [M_REG_TAKEN] = {"This phone is registered already. Please dial again.",
                     "Simu hii imeshasajiliwa. Tafadhali piga tena."},
    [M_MAIN] = {"Kito\n1 List a stone\n2 My stones\n3 Offer a stone to a sale\n4 My results\n"
                "5 Change PIN\n6 Change payout number\n0 Exit",
                "Kito\n1 Orodhesha jiwe\n2 Mawe yangu\n3 Toa jiwe kwa mnada\n4 Matokeo yangu\n"
                "5 Badilisha PIN\n6 Badilisha namba ya malipo\n0 Toka"},
    [M_LIST_SPECIES] = {"Which stone?", "Jiwe gani?"},
    [M_LIST_SPECIES_OTHER] = {"Other: type its name", "Jingine: andika jina"},
    [M_LIST_FORM] = {"1 Rough, carats\n2 Rough, grams\n3 Cut, carats\n4 Cut, grams",
                     "1 Ghafi, karati\n2 Ghafi, gramu\n3 Limekatwa, karati\n4 Limekatwa, gramu"},
    [M_LIST_WEIGHT_CT] = {"Weight in carats, e.g. 12.5:", "Uzito kwa karati, mf. 12.5:"},
    [M_LIST_WEIGHT_G] = {"Weight in grams, e.g. 2.5:", "Uzito kwa gramu, mf. 2.5:"},
    [M_LIST_PIECES] = {"How many pieces?", "Vipande vingapi?"},
    [M_LIST_SITE] = {"Where was it found? (mine or place)", "Lilipatikana wapi? (mgodi au mahali)"},
    [M_LIST_OFFER] = {"Best price a local buyer offered, in %s (0 if none):",
                      "Bei bora aliyotoa mnunuzi wa hapa, kwa %s (0 kama hakuna):"},
    [M_LIST_DONE] = {"Stone listed. Reference:\n%s\nTell the valuer this reference.",
                     "Jiwe limeorodheshwa. Kumbukumbu:\n%s\nMpe mthamini kumbukumbu hii."},
    [M_STONES_HEAD] = {"Your stones:", "Mawe yako:"},
    [M_STONES_NONE] = {"You have no stones yet.", "Bado huna mawe."},
    [M_OFFER_STONE] = {"Which stone to offer?", "Jiwe gani utoe?"},
    [M_OFFER_NONE] = {"No stone is ready: a stone needs a valuation certificate first.",
                      "Hakuna jiwe tayari: jiwe linahitaji cheti cha uthamini kwanza."},
    [M_OFFER_TARGET] = {"Offer it to:", "Litoe kwa:"},
    [M_OFFER_NO_TARGET] = {"No sale is taking stones now.", "Hakuna mnada unaopokea mawe sasa."},
    [M_OFFER_PIN] = {"Enter your PIN to agree to this offer:", "Weka PIN yako kukubali ofa hii:"},
    [M_OFFER_DONE] = {"Offered. The organiser may now put your stone in a sale.",
                      "Limetolewa. Mwandaaji sasa anaweza kuliweka jiwe lako mnadani."},
    [M_OFFER_REFUSED] = {"Not offered: the stone or sale is not open for it now.",
                         "Halijatolewa: jiwe au mnada haupo wazi kwa hili sasa."},
    [M_RESULTS_PIN] = {"Enter your PIN to see your results:", "Weka PIN yako kuona matokeo:"},
    [M_RESULTS_HEAD] = {"Hammer-commission-royalty-levy=net:",
                        "Bei-kamisheni-mrabaha-ushuru=halisi:"},
    [M_RESULTS_NONE] = {"No stone of yours has been sold yet.",
                        "Bado hakuna jiwe lako lililouzwa."},
    [M_CPIN_CURRENT] = {"Enter your current PIN:", "Weka PIN yako ya sasa:"},
    [M_CPIN_NEW] = {"New PIN of 4 to 6 digits:", "PIN mpya ya tarakimu 4 hadi 6:"},
    [M_CPIN_NEW2] = {"Enter the new PIN again:", "Weka PIN mpya tena:"},
    [M_CPIN_DONE] = {"Your PIN is changed.", "PIN yako imebadilishwa."},
    [M_WALLET_NUMBER] = {"New mobile money number for payouts, e.g. 0712345678:",
                         "Namba mpya ya pesa ya simu kwa malipo, mf. 0712345678:"},
    [M_WALLET_PIN] = {"Enter your PIN to send payouts to %s:",
                      "Weka PIN yako ili malipo yatumwe kwa %s:"},
    [M_WALLET_DONE] = {"Payouts now go to %s. For your safety they wait %u hours. An SMS went to "
                       "your old number.",
                       "Malipo sasa yataenda kwa %s. Kwa usalama wako yatasubiri saa %u. SMS "
                       "imetumwa kwa namba yako ya zamani."},
    [M_WALLET_SAME] = {"That is your payout number already.",
                       "Hiyo tayari ni namba yako ya malipo."},
    [M_PIN_WRONG] = {"Wrong PIN. %u tries left.", "PIN si sahihi. Majaribio %u yamebaki."},
    [M_PIN_PAUSED] = {"Too many wrong PINs. Try again in %u minutes.",
                      "PIN zimekosewa mara nyingi. Jaribu tena baada ya dakika %u."},
    [M_BAD_CHOICE] = {"Please choose a number from the list.",
                      "Tafadhali chagua namba kwenye orodha."},
    [M_BAD_NAME] = {"Please type your name (2 to 60 letters).",
                    "Tafadhali andika jina lako (herufi 2 hadi 60)."},
    [M_BAD_NUMBER] = {"Please type a whole number.", "Tafadhali andika namba kamili."},
    [M_BAD_WALLET] = {"That is not a mobile number of your country.",
                      "Hiyo si namba ya simu ya nchi yako."},
    [M_BAD_PIN] = {"That PIN is too easy to guess. Choose another.",
                   "PIN hiyo ni rahisi kukisia. Chagua nyingine."},
    [M_PIN_MISMATCH] = {"The PINs differ. Start again.", "PIN hazilingani. Anza tena."},
    [M_BAD_WEIGHT] = {"Please type the weight like 12.5", "Tafadhali andika uzito kama 12.5"},
    [M_BAD_SITE] = {"Please type the place (2 to 100 letters).",
                    "Tafadhali andika mahali (herufi 2 hadi 100)."},
    [M_UNKNOWN_SPECIES] = {"Unknown stone. Choose a number or type another name.",
                           "Jiwe halijulikani. Chagua namba au andika jina jingine."},
    [M_BYE] = {"Thank you for using Kito.", "Asante kwa kutumia Kito."},
    [M_SORRY] = {"Sorry, Kito cannot do this now. Please try again later.",
                 "Samahani, Kito haiwezi kufanya hili sasa. Tafadhali jaribu baadaye."},
    [M_EXPIRED] = {"Your session has expired. Please dial again.",
                   "Muda wako umekwisha. Tafadhali piga tena."},
};

static const char *say(const kito_ussd_session *s, msg m)
{
    return text[m][s->lang == KITO_USSD_SW ? 1 : 0];
}

/* ---- species and currencies (DEMO-DATA.md, "Countries"; GIA species names) ---------------- */

static const kito_ussd_species species_table[] = {
    {"KE", "Tsavorite", "garnet", "tsavorite"},
    {"KE", "Ruby", "corundum", "ruby"},
    {"KE", "Tourmaline", "tourmaline", NULL},
    {"KE", "Rhodolite", "garnet", "rhodolite"},
    {"TZ", "Tanzanite", "zoisite", "tanzanite"},
    {"TZ", "Sapphire", "corundum", "sapphire"},
    {"TZ", "Spinel", "spinel", NULL},
    {"TZ", "Ruby", "corundum", "ruby"},
    {"TZ", "Tourmaline", "tourmaline", NULL},
    {"TZ", "Garnet", "garnet", NULL},
    {"ZM", "Emerald", "beryl", "emerald"},
    {"ZM", "Amethyst", "quartz", "amethyst"},
    {"ZM", "Aquamarine", "beryl", "aquamarine"},
    {"ZM", "Tourmaline", "tourmaline", NULL},
    {"MW", "Aquamarine", "beryl", "aquamarine"},
    {"MW", "Rhodolite", "garnet", "rhodolite"},
    {"MW", "Sapphire", "corundum", "sapphire"},
    {"MW", "Tourmaline", "tourmaline", NULL},
    {"MW", "Amazonite", "feldspar", "amazonite"},
    /* "other": matched by the name she types (every species of schemas/003 and some varieties) */
    {NULL, "Corundum", "corundum", NULL},
    {NULL, "Beryl", "beryl", NULL},
    {NULL, "Zoisite", "zoisite", NULL},
    {NULL, "Garnet", "garnet", NULL},
    {NULL, "Spinel", "spinel", NULL},
    {NULL, "Tourmaline", "tourmaline", NULL},
    {NULL, "Quartz", "quartz", NULL},
    {NULL, "Feldspar", "feldspar", NULL},
    {NULL, "Chrysoberyl", "chrysoberyl", NULL},
    {NULL, "Topaz", "topaz", NULL},
    {NULL, "Zircon", "zircon", NULL},
    {NULL, "Olivine", "olivine", NULL},
    {NULL, "Peridot", "olivine", "peridot"},
    {NULL, "Cordierite", "cordierite", NULL},
    {NULL, "Iolite", "cordierite", "iolite"},
    {NULL, "Kyanite", "kyanite", NULL},
    {NULL, "Opal", "opal", NULL},
    {NULL, "Tanzanite", "zoisite", "tanzanite"},
    {NULL, "Ruby", "corundum", "ruby"},
    {NULL, "Sapphire", "corundum", "sapphire"},
    {NULL, "Emerald", "beryl", "emerald"},
    {NULL, "Aquamarine", "beryl", "aquamarine"},
    {NULL, "Amethyst", "quartz", "amethyst"},
    {NULL, "Tsavorite", "garnet", "tsavorite"},
    {NULL, "Rhodolite", "garnet", "rhodolite"},
    {NULL, "Spessartine", "garnet", "spessartine"},
    {NULL, "Amazonite", "feldspar", "amazonite"},
    /* Swahili names in use */
    {NULL, "Rubi", "corundum", "ruby"},
    {NULL, "Yakuti", "corundum", "sapphire"},
    {NULL, "Zumaridi", "beryl", "emerald"},
};

#define SPECIES_N (sizeof(species_table) / sizeof(species_table[0]))

const kito_ussd_species *kito_ussd_menu_species(size_t i)
{
    return i < SPECIES_N ? &species_table[i] : NULL;
}

const char *kito_ussd_menu_currency(const char *country)
{
    static const char *const map[][2] = {
        {"KE", "KES"}, {"TZ", "TZS"}, {"ZM", "ZMW"}, {"MW", "MWK"}};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(map[i][0], country) == 0)
            return map[i][1];
    return NULL;
}

/* ---- helpers ------------------------------------------------------------------------------ */

size_t kito_ussd_menu_chars(const char *reply)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)reply; *p != 0; p++)
        if ((*p & 0xC0) != 0x80)
            n++;
    return n;
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Copies at most max characters of src into dst (cap bytes), never cutting a UTF-8 sequence. */
static void copy_chars(char *dst, size_t cap, const char *src, size_t max)
{
    size_t chars = 0, i = 0;
    while (src[i] != 0) {
        size_t len = 1;
        unsigned char c = (unsigned char)src[i];
        if (c >= 0xF0)
            len = 4;
        else if (c >= 0xE0)
            len = 3;
        else if (c >= 0xC0)
            len = 2;
        if (chars + 1 > max || i + len + 1 > cap)
            break;
        for (size_t k = 0; k < len && src[i + k] != 0; k++)
            dst[i + k] = src[i + k];
        i += len;
        chars++;
    }
    dst[i] = 0;
}

/* A screen being written: lines are added only while the whole stays within the limit. */
typedef struct screen {
    char buf[KITO_USSD_REPLY_SIZE];
    size_t chars; /* of buf, with the 4 of the "CON " or "END " to come */
} screen;

static void screen_init(screen *sc)
{
    sc->buf[0] = 0;
    sc->chars = 4;
}

/* Adds line (with a newline before it unless it is the first); false when it does not fit,
 * reserving `keep` characters for what must still follow. */
static bool screen_add(screen *sc, const char *line, size_t keep)
{
    size_t n = kito_ussd_menu_chars(line) + (sc->buf[0] != 0 ? 1 : 0);
    size_t used = strlen(sc->buf);
    if (sc->chars + n + keep > KITO_USSD_SCREEN_MAX || used + strlen(line) + 2 > sizeof(sc->buf))
        return false;
    if (sc->buf[0] != 0)
        sc->buf[used++] = '\n';
    memcpy(sc->buf + used, line, strlen(line) + 1);
    sc->chars += n;
    return true;
}

/* out = prefix + body, cut to the buffer (body is already cut to the screen's characters). */
static void put_reply(char out[KITO_USSD_REPLY_SIZE], const char *prefix, const char *body)
{
    size_t p = strlen(prefix), n = strlen(body);
    if (p + n + 1 > KITO_USSD_REPLY_SIZE)
        n = KITO_USSD_REPLY_SIZE - 1 - p;
    memcpy(out, prefix, p);
    memcpy(out + p, body, n);
    out[p + n] = 0;
}

/* Writes "CON " + prompt as the reply and remembers the prompt for a re-ask. */
static void con(kito_ussd_session *s, kito_ussd_out *out, kito_ussd_screen next, const char *prompt)
{
    s->screen = next;
    copy_chars(s->prompt, sizeof(s->prompt), prompt, KITO_USSD_SCREEN_MAX - 4);
    put_reply(out->reply, "CON ", s->prompt);
    memcpy(s->reply, out->reply, sizeof(s->reply));
    out->effect = KITO_USSD_FX_NONE;
    out->end = false;
    assert(kito_ussd_menu_chars(out->reply) <= KITO_USSD_SCREEN_MAX);
}

/* Writes "END " + message; the session is over. */
static void end(kito_ussd_session *s, kito_ussd_out *out, const char *message)
{
    char cut[KITO_USSD_REPLY_SIZE];
    copy_chars(cut, sizeof(cut), message, KITO_USSD_SCREEN_MAX - 4);
    put_reply(out->reply, "END ", cut);
    memcpy(s->reply, out->reply, sizeof(s->reply));
    s->screen = KITO_USSD_S_ENDED;
    out->effect = KITO_USSD_FX_NONE;
    out->end = true;
}

/* Re-asks the screen shown last, with why the answer was refused above it (the prompt's tail is
 * cut when both do not fit: the error and the first lines matter most). */
static void reask(kito_ussd_session *s, kito_ussd_out *out, const char *why)
{
    char body[KITO_USSD_REPLY_SIZE * 2];
    snprintf(body, sizeof(body), "%s\n%s", why, s->prompt);
    char cut[KITO_USSD_REPLY_SIZE];
    copy_chars(cut, sizeof(cut), body, KITO_USSD_SCREEN_MAX - 4);
    put_reply(out->reply, "CON ", cut);
    memcpy(s->reply, out->reply, sizeof(s->reply));
    out->effect = KITO_USSD_FX_NONE;
    out->end = false;
}

static void effect(kito_ussd_out *out, kito_ussd_effect fx)
{
    out->effect = fx;
    out->req.effect = fx;
    out->reply[0] = 0;
}

/* A choice 1..n typed as one or two digits; 0 when it is none. */
static unsigned choice(const char *in, unsigned n)
{
    if (in[0] < '0' || in[0] > '9' || (in[1] != 0 && (in[1] < '0' || in[1] > '9' || in[2] != 0)))
        return 0;
    unsigned v = (unsigned)(in[0] - '0');
    if (in[1] != 0)
        v = v * 10 + (unsigned)(in[1] - '0');
    return v >= 1 && v <= n ? v : 0;
}

/* A whole number of at most 12 digits (commas and spaces between digits allowed). */
static bool parse_whole(const char *in, int64_t *out)
{
    int64_t v = 0;
    int digits = 0;
    for (const char *p = in; *p != 0; p++) {
        if (*p == ',' || *p == ' ')
            continue;
        if (*p < '0' || *p > '9' || ++digits > 12)
            return false;
        v = v * 10 + (*p - '0');
    }
    if (digits == 0)
        return false;
    *out = v;
    return true;
}

bool kito_ussd_menu_parse_centi(const char *s, int64_t *centi)
{
    int64_t whole = 0, frac = 0;
    int wd = 0, fd = 0;
    const char *p = s;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++wd > 9)
            return false;
        whole = whole * 10 + (*p - '0');
    }
    if (*p == '.' || *p == ',') {
        for (p++; *p >= '0' && *p <= '9'; p++) {
            if (++fd > 2)
                return false;
            frac = frac * 10 + (*p - '0');
        }
        if (fd == 0)
            return false;
    }
    if (*p != 0 || wd == 0)
        return false;
    if (fd == 1)
        frac *= 10;
    *centi = whole * 100 + frac;
    return *centi > 0;
}

/* ---- screens ------------------------------------------------------------------------------- */

static void show_main(kito_ussd_session *s, kito_ussd_out *out, const char *before)
{
    char body[KITO_USSD_REPLY_SIZE];
    if (before != NULL)
        snprintf(body, sizeof(body), "%s\n%s", before, say(s, M_MAIN));
    else
        snprintf(body, sizeof(body), "%s", say(s, M_MAIN));
    s->pin_ok = false;
    con(s, out, KITO_USSD_S_MAIN, body);
}

static void show_species(kito_ussd_session *s, kito_ussd_out *out)
{
    screen sc;
    screen_init(&sc);
    screen_add(&sc, say(s, M_LIST_SPECIES), 0);
    unsigned n = 0;
    char line[64];
    s->pick_count = 0;
    for (size_t i = 0; i < SPECIES_N && n < 9; i++) {
        const kito_ussd_species *sp = &species_table[i];
        if (sp->country == NULL || strcmp(sp->country, s->country) != 0)
            continue;
        snprintf(line, sizeof(line), "%u %s", ++n, sp->label);
        screen_add(&sc, line, 0);
        if (s->pick_count < KITO_USSD_PICKS_MAX)
            s->pick_ids[s->pick_count++] = i;
    }
    screen_add(&sc, say(s, M_LIST_SPECIES_OTHER), 0);
    con(s, out, KITO_USSD_S_LIST_SPECIES, sc.buf);
}

/* A numbered list from an effect's items: head, "1 ...", ..., tail (may be NULL); picks are kept.
 */
static void show_list(kito_ussd_session *s, kito_ussd_out *out, kito_ussd_screen next,
                      const char *head, const kito_ussd_facts *f, const char *tail)
{
    screen sc;
    screen_init(&sc);
    screen_add(&sc, head, 0);
    size_t keep = tail != NULL ? kito_ussd_menu_chars(tail) + 1 : 0;
    s->pick_count = 0;
    char line[KITO_USSD_ITEM_TEXT + 8];
    for (size_t i = 0; i < f->item_count && s->pick_count < KITO_USSD_PICKS_MAX; i++) {
        snprintf(line, sizeof(line), "%u %s", s->pick_count + 1, f->items[i].text);
        if (!screen_add(&sc, line, keep))
            break;
        s->pick_ids[s->pick_count] = f->items[i].id;
        s->pick_kinds[s->pick_count] = f->items[i].kind;
        s->pick_count++;
    }
    if (tail != NULL)
        screen_add(&sc, tail, 0);
    con(s, out, next, sc.buf);
}

/* An END with a list of lines under head; what does not fit is left out. */
static void end_list(kito_ussd_session *s, kito_ussd_out *out, const char *head,
                     const kito_ussd_facts *f)
{
    screen sc;
    screen_init(&sc);
    screen_add(&sc, head, 0);
    for (size_t i = 0; i < f->item_count; i++)
        if (!screen_add(&sc, f->items[i].text, 0))
            break;
    end(s, out, sc.buf);
}

static void pin_answer(kito_ussd_session *s, kito_ussd_out *out, const kito_ussd_facts *f)
{
    char m[KITO_USSD_REPLY_SIZE];
    if (f->outcome == KITO_USSD_PIN_WRONG) {
        snprintf(m, sizeof(m), say(s, M_PIN_WRONG), f->tries_left);
        reask(s, out, m);
    } else if (f->outcome == KITO_USSD_PIN_PAUSED) {
        unsigned minutes = (f->retry_after_s + 59) / 60;
        snprintf(m, sizeof(m), say(s, M_PIN_PAUSED), minutes > 0 ? minutes : 1);
        end(s, out, m);
    } else {
        end(s, out, say(s, M_SORRY));
    }
}

/* ---- input handling, one function per screen ---------------------------------------------- */

/* A mobile-money number she typed, into out as E.164: a national number (0712345678) takes her
 * country's prefix; the wallet must be of her country (a rail of that country pays it:
 * api/store/repo_accounts.h). false when it is not. */
static bool parse_wallet(const kito_ussd_session *s, const char *in, char out[17])
{
    char e164[32];
    char prefix[6];
    memcpy(prefix, s->phone, 4);
    prefix[4] = 0;
    if (in[0] == '0' && strlen(in) < 16)
        snprintf(e164, sizeof(e164), "%s%.15s", prefix, in + 1); /* in: < 16 */
    else
        snprintf(e164, sizeof(e164), "%s", in);
    const char *cc = kito_validate_phone_country(e164);
    if (kito_validate_phone("wallet", e164, NULL) != KITO_OK || cc == NULL ||
        strcmp(cc, s->country) != 0)
        return false;
    snprintf(out, 17, "%.16s", e164);
    return true;
}

static bool pin_valid(const char *in)
{
    return kito_validate_pin("pin", in, NULL) == KITO_OK;
}

/* Her answer on s->screen; prev is the input before it (registration's first PIN). */
static void on_input(kito_ussd_session *s, const char *in, const char *prev, kito_ussd_out *out)
{
    char m[KITO_USSD_REPLY_SIZE];
    unsigned c;
    switch ((kito_ussd_screen)s->screen) {
    case KITO_USSD_S_LANG:
        if ((c = choice(in, 2)) == 0)
            return reask(s, out, say(s, M_BAD_CHOICE));
        s->lang = c == 2 ? KITO_USSD_SW : KITO_USSD_EN;
        return con(s, out, KITO_USSD_S_REG_NAME, say(s, M_REG_NAME));

    case KITO_USSD_S_REG_NAME: {
        size_t cp = 0;
        if (kito_validate_text("name", in, 2, 60, 0, NULL) != KITO_OK ||
            !kito_utf8_valid(in, strlen(in), &cp) || strspn(in, "0123456789 ") == strlen(in))
            return reask(s, out, say(s, M_BAD_NAME));
        snprintf(s->name, sizeof(s->name), "%s", in);
        return effect(out, KITO_USSD_FX_ASSOCIATIONS);
    }

    case KITO_USSD_S_REG_ASSOC:
        if (strcmp(in, "0") == 0)
            s->association_id = 0;
        else if ((c = choice(in, s->pick_count)) != 0)
            s->association_id = s->pick_ids[c - 1];
        else
            return reask(s, out, say(s, M_BAD_CHOICE));
        return con(s, out, KITO_USSD_S_REG_WALLET, say(s, M_REG_WALLET));

    case KITO_USSD_S_REG_WALLET:
        if ((c = choice(in, 2)) == 0)
            return reask(s, out, say(s, M_BAD_CHOICE));
        if (c == 2)
            return con(s, out, KITO_USSD_S_REG_WALLET_NUMBER, say(s, M_REG_WALLET_NUMBER));
        s->wallet[0] = 0;
        return con(s, out, KITO_USSD_S_REG_PIN, say(s, M_REG_PIN));

    case KITO_USSD_S_REG_WALLET_NUMBER:
        if (!parse_wallet(s, in, s->wallet))
            return reask(s, out, say(s, M_BAD_WALLET));
        return con(s, out, KITO_USSD_S_REG_PIN, say(s, M_REG_PIN));

    case KITO_USSD_S_REG_PIN:
        if (!pin_valid(in))
            return reask(s, out, say(s, M_BAD_PIN));
        return con(s, out, KITO_USSD_S_REG_PIN2, say(s, M_REG_PIN2));

    case KITO_USSD_S_REG_PIN2:
        if (strcmp(in, prev) != 0) {
            snprintf(m, sizeof(m), "%s\n%s", say(s, M_PIN_MISMATCH), say(s, M_REG_PIN));
            return con(s, out, KITO_USSD_S_REG_PIN, m);
        }
        effect(out, KITO_USSD_FX_REGISTER);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        return;

    case KITO_USSD_S_MAIN:
        if (strcmp(in, "0") == 0)
            return end(s, out, say(s, M_BYE));
        switch (choice(in, 6)) {
        case 1:
            return show_species(s, out);
        case 2:
            return effect(out, KITO_USSD_FX_MY_STONES);
        case 3:
            return effect(out, KITO_USSD_FX_OFFERABLE);
        case 4:
            return con(s, out, KITO_USSD_S_RESULTS_PIN, say(s, M_RESULTS_PIN));
        case 5:
            return con(s, out, KITO_USSD_S_CPIN_CURRENT, say(s, M_CPIN_CURRENT));
        case 6:
            return con(s, out, KITO_USSD_S_WALLET_NUMBER, say(s, M_WALLET_NUMBER));
        default:
            return reask(s, out, say(s, M_BAD_CHOICE));
        }

    case KITO_USSD_S_LIST_SPECIES:
        if ((c = choice(in, s->pick_count)) != 0) {
            s->species = (uint32_t)s->pick_ids[c - 1];
        } else {
            size_t i = 0;
            while (i < SPECIES_N && strcasecmp(species_table[i].label, in) != 0 &&
                   strcasecmp(species_table[i].species, in) != 0)
                i++;
            if (i == SPECIES_N)
                return reask(s, out, say(s, M_UNKNOWN_SPECIES));
            s->species = (uint32_t)i;
        }
        return con(s, out, KITO_USSD_S_LIST_FORM, say(s, M_LIST_FORM));

    case KITO_USSD_S_LIST_FORM:
        if ((c = choice(in, 4)) == 0)
            return reask(s, out, say(s, M_BAD_CHOICE));
        s->form = c;
        return con(s, out, KITO_USSD_S_LIST_WEIGHT,
                   say(s, c == 2 || c == 4 ? M_LIST_WEIGHT_G : M_LIST_WEIGHT_CT));

    case KITO_USSD_S_LIST_WEIGHT: {
        int64_t centi;
        if (!kito_ussd_menu_parse_centi(in, &centi))
            return reask(s, out, say(s, M_BAD_WEIGHT));
        /* one gram is five carats exactly (the metric carat is 200 mg) */
        int64_t cct = s->form == 2 || s->form == 4 ? centi * 5 : centi;
        if (cct < 1 || cct > 100000000) /* schemas/003: stones_weight */
            return reask(s, out, say(s, M_BAD_WEIGHT));
        s->weight_cct = cct;
        return con(s, out, KITO_USSD_S_LIST_PIECES, say(s, M_LIST_PIECES));
    }

    case KITO_USSD_S_LIST_PIECES: {
        int64_t n;
        if (!parse_whole(in, &n) || n < 1 || n > 100000)
            return reask(s, out, say(s, M_BAD_NUMBER));
        s->pieces = n;
        return con(s, out, KITO_USSD_S_LIST_SITE, say(s, M_LIST_SITE));
    }

    case KITO_USSD_S_LIST_SITE: {
        if (kito_validate_text("site", in, 2, 100, 0, NULL) != KITO_OK)
            return reask(s, out, say(s, M_BAD_SITE));
        snprintf(s->site, sizeof(s->site), "%s", in);
        const char *cur = kito_ussd_menu_currency(s->country);
        snprintf(m, sizeof(m), say(s, M_LIST_OFFER), cur != NULL ? cur : "");
        return con(s, out, KITO_USSD_S_LIST_OFFER, m);
    }

    case KITO_USSD_S_LIST_OFFER: {
        int64_t amount;
        if (!parse_whole(in, &amount))
            return reask(s, out, say(s, M_BAD_NUMBER));
        const kito_ussd_species *sp = &species_table[s->species];
        effect(out, KITO_USSD_FX_LIST_STONE);
        out->req.species = sp->species;
        out->req.variety = sp->variety;
        out->req.shape = s->form <= 2 ? "rough" : "cut";
        out->req.local_offer_minor = amount * 100; /* KES, TZS, ZMW, MWK: two decimals */
        return;
    }

    case KITO_USSD_S_OFFER_STONE:
        if (strcmp(in, "0") == 0)
            return show_main(s, out, NULL);
        if ((c = choice(in, s->pick_count)) == 0)
            return reask(s, out, say(s, M_BAD_CHOICE));
        s->offer_stone_id = s->pick_ids[c - 1];
        return effect(out, KITO_USSD_FX_TARGETS);

    case KITO_USSD_S_OFFER_TARGET:
        if (strcmp(in, "0") == 0)
            return show_main(s, out, NULL);
        if ((c = choice(in, s->pick_count)) == 0)
            return reask(s, out, say(s, M_BAD_CHOICE));
        /* the choice is kept in the first pick slot for the PIN screen */
        s->pick_ids[0] = s->pick_ids[c - 1];
        s->pick_kinds[0] = s->pick_kinds[c - 1];
        s->pick_count = 1;
        return con(s, out, KITO_USSD_S_OFFER_PIN, say(s, M_OFFER_PIN));

    case KITO_USSD_S_OFFER_PIN:
        effect(out, KITO_USSD_FX_OFFER);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        out->req.target_id = s->pick_ids[0];
        out->req.target_kind = s->pick_kinds[0];
        return;

    case KITO_USSD_S_RESULTS_PIN:
        effect(out, KITO_USSD_FX_RESULTS);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        return;

    case KITO_USSD_S_CPIN_CURRENT:
        effect(out, KITO_USSD_FX_PIN_CHECK);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        return;

    case KITO_USSD_S_CPIN_NEW:
        if (!pin_valid(in))
            return reask(s, out, say(s, M_BAD_PIN));
        return con(s, out, KITO_USSD_S_CPIN_NEW2, say(s, M_CPIN_NEW2));

    case KITO_USSD_S_CPIN_NEW2:
        if (strcmp(in, prev) != 0) {
            snprintf(m, sizeof(m), "%s\n%s", say(s, M_PIN_MISMATCH), say(s, M_CPIN_NEW));
            return con(s, out, KITO_USSD_S_CPIN_NEW, m);
        }
        if (!s->pin_ok)
            return end(s, out, say(s, M_SORRY));
        effect(out, KITO_USSD_FX_SET_PIN);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        return;

    case KITO_USSD_S_WALLET_NUMBER:
        if (!parse_wallet(s, in, s->wallet))
            return reask(s, out, say(s, M_BAD_WALLET));
        snprintf(m, sizeof(m), say(s, M_WALLET_PIN), s->wallet);
        return con(s, out, KITO_USSD_S_WALLET_PIN, m);

    case KITO_USSD_S_WALLET_PIN:
        effect(out, KITO_USSD_FX_SET_WALLET);
        snprintf(out->req.pin, sizeof(out->req.pin), "%s", in);
        return;

    case KITO_USSD_S_START:
    case KITO_USSD_S_ENDED:
    case KITO_USSD_S_COUNT:
        break;
    }
    end(s, out, say(s, M_EXPIRED));
}

/* ---- the two entry points ----------------------------------------------------------------- */

void kito_ussd_menu_begin(kito_ussd_session *s, const char *phone)
{
    memset(s, 0, sizeof(*s));
    s->version = KITO_USSD_SESSION_VERSION;
    s->screen = KITO_USSD_S_START;
    snprintf(s->phone, sizeof(s->phone), "%s", phone);
    const char *cc = kito_validate_phone_country(phone);
    snprintf(s->country, sizeof(s->country), "%s", cc != NULL ? cc : "");
}

void kito_ussd_menu_step(kito_ussd_session *s, const char *txt, size_t len, kito_ussd_out *out)
{
    memset(out, 0, sizeof(*out));
    if (s->screen == KITO_USSD_S_START) {
        /* the first request of a session has an empty text; anything else means the session's
         * state was lost (expired in Redis): start over rather than guess */
        if (len != 0)
            return end(s, out, say(s, M_EXPIRED));
        s->text_hash = fnv1a(txt, 0);
        return effect(out, KITO_USSD_FX_LOOKUP);
    }
    /* the gateway repeating the request it had no answer to: the same answer */
    if (len == s->text_len && fnv1a(txt, len) == s->text_hash) {
        memcpy(out->reply, s->reply, sizeof(out->reply));
        out->end = s->screen == KITO_USSD_S_ENDED;
        return;
    }
    if (s->screen == KITO_USSD_S_ENDED)
        return end(s, out, say(s, M_EXPIRED));
    size_t start = s->text_len == 0 ? 0 : s->text_len + 1;
    if (len > KITO_USSD_TEXT_MAX || len < start || fnv1a(txt, s->text_len) != s->text_hash ||
        (s->text_len != 0 && txt[s->text_len] != '*'))
        return end(s, out, say(s, M_EXPIRED));
    char in[KITO_USSD_INPUT_MAX + 1];
    char prev[KITO_USSD_INPUT_MAX + 1];
    size_t in_len = len - start;
    if (in_len > KITO_USSD_INPUT_MAX)
        in_len = KITO_USSD_INPUT_MAX; /* a longer answer is cut; validation refuses what matters */
    memcpy(in, txt + start, in_len);
    in[in_len] = 0;
    size_t prev_len = s->last_len <= KITO_USSD_INPUT_MAX ? s->last_len : KITO_USSD_INPUT_MAX;
    memcpy(prev, txt + s->last_start, prev_len);
    prev[prev_len] = 0;
    s->last_start = (uint32_t)start;
    s->last_len = (uint32_t)(len - start);
    s->text_len = (uint32_t)len;
    s->text_hash = fnv1a(txt, len);
    on_input(s, in, prev, out);
}

void kito_ussd_menu_resume(kito_ussd_session *s, kito_ussd_effect done, const kito_ussd_facts *f,
                           kito_ussd_out *out)
{
    memset(out, 0, sizeof(*out));
    char m[KITO_USSD_REPLY_SIZE];
    if (f->outcome == KITO_USSD_FAILED)
        return end(s, out, say(s, M_SORRY));
    switch (done) {
    case KITO_USSD_FX_LOOKUP:
        s->account_id = f->account_id;
        if (f->lang_known)
            s->lang = f->lang;
        if (s->account_id != 0)
            return show_main(s, out, NULL);
        return con(s, out, KITO_USSD_S_LANG, say(s, M_LANG));

    case KITO_USSD_FX_ASSOCIATIONS:
        if (f->item_count == 0) {
            s->association_id = 0;
            return con(s, out, KITO_USSD_S_REG_WALLET, say(s, M_REG_WALLET));
        }
        return show_list(s, out, KITO_USSD_S_REG_ASSOC, say(s, M_REG_ASSOC), f,
                         say(s, M_REG_ASSOC_NONE));

    case KITO_USSD_FX_REGISTER:
        if (f->outcome == KITO_USSD_TAKEN)
            return end(s, out, say(s, M_REG_TAKEN));
        if (f->outcome == KITO_USSD_REFUSED) {
            snprintf(m, sizeof(m), "%s\n%s", say(s, M_BAD_PIN), say(s, M_REG_PIN));
            return con(s, out, KITO_USSD_S_REG_PIN, m);
        }
        s->account_id = f->new_id;
        return show_main(s, out, say(s, M_REG_DONE));

    case KITO_USSD_FX_LIST_STONE:
        snprintf(m, sizeof(m), say(s, M_LIST_DONE), f->reference);
        return end(s, out, m);

    case KITO_USSD_FX_MY_STONES:
        if (f->item_count == 0)
            return end(s, out, say(s, M_STONES_NONE));
        return end_list(s, out, say(s, M_STONES_HEAD), f);

    case KITO_USSD_FX_OFFERABLE:
        if (f->item_count == 0)
            return end(s, out, say(s, M_OFFER_NONE));
        return show_list(s, out, KITO_USSD_S_OFFER_STONE, say(s, M_OFFER_STONE), f, NULL);

    case KITO_USSD_FX_TARGETS:
        if (f->item_count == 0)
            return end(s, out, say(s, M_OFFER_NO_TARGET));
        return show_list(s, out, KITO_USSD_S_OFFER_TARGET, say(s, M_OFFER_TARGET), f, NULL);

    case KITO_USSD_FX_OFFER:
        if (f->outcome == KITO_USSD_PIN_WRONG || f->outcome == KITO_USSD_PIN_PAUSED)
            return pin_answer(s, out, f);
        if (f->outcome == KITO_USSD_REFUSED)
            return end(s, out, say(s, M_OFFER_REFUSED));
        return end(s, out, say(s, M_OFFER_DONE));

    case KITO_USSD_FX_RESULTS:
        if (f->outcome != KITO_USSD_OK)
            return pin_answer(s, out, f);
        if (f->item_count == 0)
            return end(s, out, say(s, M_RESULTS_NONE));
        return end_list(s, out, say(s, M_RESULTS_HEAD), f);

    case KITO_USSD_FX_PIN_CHECK:
        if (f->outcome != KITO_USSD_OK)
            return pin_answer(s, out, f);
        s->pin_ok = true;
        return con(s, out, KITO_USSD_S_CPIN_NEW, say(s, M_CPIN_NEW));

    case KITO_USSD_FX_SET_PIN:
        if (f->outcome == KITO_USSD_REFUSED) {
            snprintf(m, sizeof(m), "%s\n%s", say(s, M_BAD_PIN), say(s, M_CPIN_NEW));
            return con(s, out, KITO_USSD_S_CPIN_NEW, m);
        }
        s->pin_ok = false;
        return end(s, out, say(s, M_CPIN_DONE));

    case KITO_USSD_FX_SET_WALLET:
        if (f->outcome == KITO_USSD_PIN_WRONG || f->outcome == KITO_USSD_PIN_PAUSED)
            return pin_answer(s, out, f);
        if (f->outcome == KITO_USSD_REFUSED)
            return end(s, out, say(s, M_WALLET_SAME));
        snprintf(m, sizeof(m), say(s, M_WALLET_DONE), s->wallet, (f->hold_s + 3599) / 3600);
        return end(s, out, m);

    case KITO_USSD_FX_NONE:
        break;
    }
    end(s, out, say(s, M_SORRY));
}
