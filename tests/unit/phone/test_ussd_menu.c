/*
 * api/phone/ussd_menu.h: the miner's USSD menu without HTTP or MySQL. A fake gateway keeps the
 * session's `text` as Africa's Talking does (inputs joined by '*') and a fake service answers
 * effects. Every screen of both languages and all four countries is reached, none is over 182
 * characters, and listing a stone takes at most 6 screens on every path.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/phone/ussd_menu.h"

/* What the fake service answers. */
typedef struct fake {
    bool registered;
    bool sw;
    kito_ussd_outcome pin; /* answer to PIN effects */
    size_t items;          /* rows in lists */
    size_t item_len;       /* their characters: 0 means 24; the service writes at most 95 */
    unsigned effects;      /* effects run */
    kito_ussd_effect last_effect;
    kito_ussd_request last_req;
} fake;

typedef struct gw {
    kito_ussd_session s;
    char text[KITO_USSD_TEXT_MAX + 1];
    char reply[KITO_USSD_REPLY_SIZE];
    bool seen[KITO_USSD_S_COUNT];
    fake *f;
} gw;

static void answer(fake *f, kito_ussd_effect fx, const kito_ussd_request *rq, kito_ussd_facts *out)
{
    memset(out, 0, sizeof(*out));
    f->effects++;
    f->last_effect = fx;
    f->last_req = *rq;
    switch (fx) {
    case KITO_USSD_FX_LOOKUP:
        out->account_id = f->registered ? 7 : 0;
        out->lang_known = f->registered;
        out->lang = f->sw ? KITO_USSD_SW : KITO_USSD_EN;
        return;
    case KITO_USSD_FX_REGISTER:
        out->new_id = 7;
        return;
    case KITO_USSD_FX_LIST_STONE:
        snprintf(out->reference, sizeof(out->reference), "stn_000000000000c");
        return;
    case KITO_USSD_FX_OFFER:
    case KITO_USSD_FX_RESULTS:
    case KITO_USSD_FX_PIN_CHECK:
    case KITO_USSD_FX_SET_WALLET:
        out->outcome = f->pin;
        out->hold_s = 86400;
        out->tries_left = 2;
        out->retry_after_s = 1800;
        if (f->pin != KITO_USSD_OK)
            return;
        break;
    default:
        break;
    }
    size_t len = f->item_len != 0 ? f->item_len : 24;
    out->item_count = f->items;
    for (size_t i = 0; i < f->items; i++) {
        out->items[i].id = 100 + i;
        out->items[i].kind = 1;
        memset(out->items[i].text, 'x', len);
        out->items[i].text[len] = 0;
        memcpy(out->items[i].text, "Tanzanite", 9);
    }
}

static void check_reply(const char *reply)
{
    cr_assert(strncmp(reply, "CON ", 4) == 0 || strncmp(reply, "END ", 4) == 0,
              "a reply starts with CON or END: \"%s\"", reply);
    cr_assert_leq(kito_ussd_menu_chars(reply), KITO_USSD_SCREEN_MAX,
                  "%zu characters on one screen: \"%s\"", kito_ussd_menu_chars(reply), reply);
}

/* One gateway request with input appended (NULL: the first, empty text). */
static const char *send(gw *g, const char *input)
{
    if (input != NULL) {
        size_t n = strlen(g->text);
        snprintf(g->text + n, sizeof(g->text) - n, "%s%s", n > 0 || g->s.text_len > 0 ? "*" : "",
                 input);
    }
    kito_ussd_out out;
    kito_ussd_menu_step(&g->s, g->text, strlen(g->text), &out);
    for (int i = 0; out.effect != KITO_USSD_FX_NONE && i < 4; i++) {
        kito_ussd_facts f;
        kito_ussd_effect fx = out.effect;
        answer(g->f, fx, &out.req, &f);
        kito_ussd_menu_resume(&g->s, fx, &f, &out);
    }
    cr_assert_eq(out.effect, KITO_USSD_FX_NONE);
    check_reply(out.reply);
    memcpy(g->reply, out.reply, sizeof(g->reply));
    if (g->s.screen < KITO_USSD_S_COUNT)
        g->seen[g->s.screen] = true;
    return g->reply;
}

static void dial(gw *g, fake *f, const char *phone)
{
    memset(g, 0, sizeof(*g));
    g->f = f;
    kito_ussd_menu_begin(&g->s, phone);
    send(g, NULL);
}

static const char *const phones[] = {"+254712345678", "+255712345678", "+260971234567",
                                     "+265991234567"};

Test(ussd_menu, registration_in_both_languages)
{
    for (int lang = 1; lang <= 2; lang++) {
        fake f = {.items = 3};
        gw g;
        dial(&g, &f, "+255712345678");
        cr_assert(strstr(g.reply, "1 English\n2 Kiswahili") != NULL, "%s", g.reply);
        send(&g, lang == 1 ? "1" : "2");
        cr_assert(strstr(g.reply, lang == 1 ? "Your full name" : "Jina lako") != NULL, "%s",
                  g.reply);
        send(&g, "Amina Mushi");
        cr_assert_eq(f.last_effect, KITO_USSD_FX_ASSOCIATIONS);
        cr_assert(strstr(g.reply, "1 Tanzanite") != NULL, "associations listed: %s", g.reply);
        send(&g, "2");
        cr_assert_eq(g.s.association_id, 101);
        send(&g, "2"); /* another wallet */
        send(&g, "0713000111");
        cr_assert_str_eq(g.s.wallet, "+255713000111", "a national number takes her prefix");
        send(&g, "1234");
        cr_assert_eq(g.s.screen, KITO_USSD_S_REG_PIN, "1234 is refused by the shared PIN rule");
        send(&g, "4826");
        send(&g, "4862");
        cr_assert_eq(g.s.screen, KITO_USSD_S_REG_PIN, "PINs that differ start over");
        send(&g, "4826");
        send(&g, "4826");
        cr_assert_eq(f.last_effect, KITO_USSD_FX_REGISTER);
        cr_assert_str_eq(f.last_req.pin, "4826");
        cr_assert_eq(g.s.screen, KITO_USSD_S_MAIN, "%s", g.reply);
        cr_assert(strstr(g.reply, lang == 1 ? "1 List a stone" : "1 Orodhesha jiwe") != NULL, "%s",
                  g.reply);
        cr_assert_eq(g.s.lang, lang == 1 ? KITO_USSD_EN : KITO_USSD_SW);
        /* no PIN is kept in the session */
        cr_assert_null(memmem(&g.s, sizeof(g.s), "4826", 4), "a PIN in the session");
    }
}

Test(ussd_menu, a_wallet_of_another_country_is_refused)
{
    fake f = {.items = 1};
    gw g;
    dial(&g, &f, "+254712345678");
    send(&g, "1");
    send(&g, "Wanjiru");
    send(&g, "0");
    send(&g, "2");
    send(&g, "+255712345678");
    cr_assert_eq(g.s.screen, KITO_USSD_S_REG_WALLET_NUMBER);
    cr_assert(strstr(g.reply, "not a mobile number of your country") != NULL, "%s", g.reply);
}

/* Lists a stone: returns the screens from the species screen to the reference, inclusive of the
 * species screen and exclusive of the END. */
static int list_stone(gw *g, const char *species, const char *form)
{
    send(g, "1");
    cr_assert_eq(g->s.screen, KITO_USSD_S_LIST_SPECIES, "%s", g->reply);
    int screens = 1;
    const char *answers[] = {species, form, "12.5", "3", "Mirerani block D", "150000"};
    for (size_t i = 0; i < 6; i++) {
        send(g, answers[i]);
        if (g->s.screen == KITO_USSD_S_ENDED)
            break;
        screens++;
    }
    cr_assert_eq(g->s.screen, KITO_USSD_S_ENDED, "listing ended: %s", g->reply);
    cr_assert(strstr(g->reply, "stn_000000000000c") != NULL, "the reference: %s", g->reply);
    return screens;
}

Test(ussd_menu, listing_takes_at_most_six_screens_on_every_path)
{
    const char *forms[] = {"1", "2", "3", "4"};
    for (size_t p = 0; p < 4; p++)
        for (int sw = 0; sw < 2; sw++)
            for (size_t fo = 0; fo < 4; fo++) {
                /* every number of her country's list, and "other" by name */
                const char *picks[] = {"1", "2", "3", "4", "opal", "Yakuti", "AMETHYST"};
                for (size_t k = 0; k < sizeof(picks) / sizeof(picks[0]); k++) {
                    fake f = {.registered = true, .sw = sw};
                    gw g;
                    dial(&g, &f, phones[p]);
                    int n = list_stone(&g, picks[k], forms[fo]);
                    cr_assert_leq(n, KITO_USSD_LIST_SCREENS_MAX, "%d screens to list a stone", n);
                    cr_assert_eq(f.last_effect, KITO_USSD_FX_LIST_STONE);
                    cr_assert_eq(f.last_req.local_offer_minor, 15000000);
                    cr_assert_str_eq(f.last_req.shape, fo < 2 ? "rough" : "cut");
                    cr_assert_eq(g.s.weight_cct, fo == 1 || fo == 3 ? 6250 : 1250,
                                 "grams are five carats");
                }
            }
}

Test(ussd_menu, the_same_text_again_gets_the_same_answer)
{
    fake f = {.registered = true};
    gw g;
    dial(&g, &f, "+255712345678");
    send(&g, "1");
    char first[KITO_USSD_REPLY_SIZE];
    memcpy(first, g.reply, sizeof(first));
    unsigned effects = f.effects;
    send(&g, NULL); /* the gateway retries the request */
    cr_assert_str_eq(g.reply, first);
    cr_assert_eq(f.effects, effects, "a retry runs nothing again");
    /* a text that does not continue the session ends it */
    strcpy(g.text, "9*9*9");
    send(&g, NULL);
    cr_assert(strncmp(g.reply, "END ", 4) == 0, "%s", g.reply);
}

Test(ussd_menu, a_star_typed_in_an_answer_does_not_shift_the_next)
{
    fake f = {.registered = true};
    gw g;
    dial(&g, &f, "+255712345678");
    send(&g, "1");
    send(&g, "1");
    send(&g, "1");
    send(&g, "2.5");
    send(&g, "1");
    send(&g, "Pit *3* east");
    cr_assert_str_eq(g.s.site, "Pit *3* east");
    send(&g, "0");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_LIST_STONE);
}

Test(ussd_menu, wrong_pins_reask_and_a_pause_ends)
{
    fake f = {.registered = true, .pin = KITO_USSD_PIN_WRONG, .items = 2};
    gw g;
    dial(&g, &f, "+260971234567");
    send(&g, "4");
    send(&g, "1111");
    cr_assert_eq(g.s.screen, KITO_USSD_S_RESULTS_PIN);
    cr_assert(strstr(g.reply, "Wrong PIN. 2 tries left.") != NULL, "%s", g.reply);
    f.pin = KITO_USSD_PIN_PAUSED;
    send(&g, "2222");
    cr_assert(strstr(g.reply, "END Too many wrong PINs. Try again in 30 minutes.") != NULL, "%s",
              g.reply);
    f.pin = KITO_USSD_OK;
    dial(&g, &f, "+260971234567");
    send(&g, "4");
    send(&g, "4826");
    cr_assert(strncmp(g.reply, "END Hammer-commission-royalty-levy=net:", 39) == 0, "%s", g.reply);
}

Test(ussd_menu, pin_change_checks_the_current_pin_first)
{
    fake f = {.registered = true, .sw = true};
    gw g;
    dial(&g, &f, "+255712345678");
    send(&g, "5");
    send(&g, "4826");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_PIN_CHECK);
    cr_assert_eq(g.s.screen, KITO_USSD_S_CPIN_NEW);
    send(&g, "1111");
    cr_assert_eq(g.s.screen, KITO_USSD_S_CPIN_NEW, "0000-like PINs are refused");
    send(&g, "5937");
    send(&g, "5937");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_SET_PIN);
    cr_assert_str_eq(f.last_req.pin, "5937");
    cr_assert(strstr(g.reply, "END PIN yako imebadilishwa.") != NULL, "%s", g.reply);
}

/* Issue 18 menu 6, issue 15 finding 5: the new number (of her country), then her PIN; the
 * service gets both, and she is told of the hold and the SMS to her old number. */
Test(ussd_menu, wallet_change_asks_the_number_then_the_pin)
{
    fake f = {.registered = true, .pin = KITO_USSD_PIN_WRONG};
    gw g;
    dial(&g, &f, "+254712345678");
    send(&g, "6");
    cr_assert_eq(g.s.screen, KITO_USSD_S_WALLET_NUMBER, "%s", g.reply);
    send(&g, "0255712345678");
    cr_assert_eq(g.s.screen, KITO_USSD_S_WALLET_NUMBER, "another country's number is refused");
    cr_assert(strstr(g.reply, "not a mobile number of your country") != NULL, "%s", g.reply);
    send(&g, "0722000111");
    cr_assert_eq(g.s.screen, KITO_USSD_S_WALLET_PIN, "%s", g.reply);
    cr_assert(strstr(g.reply, "+254722000111") != NULL, "the PIN screen names the number: %s",
              g.reply);
    cr_assert_eq(f.effects, 1, "no effect before her PIN (only the lookup)");
    send(&g, "1111");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_SET_WALLET);
    cr_assert_eq(g.s.screen, KITO_USSD_S_WALLET_PIN, "a wrong PIN asks again");
    cr_assert(strstr(g.reply, "Wrong PIN. 2 tries left.") != NULL, "%s", g.reply);
    f.pin = KITO_USSD_OK;
    send(&g, "4826");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_SET_WALLET);
    cr_assert_str_eq(f.last_req.pin, "4826");
    cr_assert_str_eq(g.s.wallet, "+254722000111");
    cr_assert(strstr(g.reply, "END Payouts now go to +254722000111. For your safety they wait 24 "
                              "hours. An SMS went to your old number.") != NULL,
              "%s", g.reply);
}

Test(ussd_menu, offer_picks_a_stone_then_an_organiser_then_asks_the_pin)
{
    fake f = {.registered = true, .items = 3};
    gw g;
    dial(&g, &f, "+265991234567");
    send(&g, "3");
    cr_assert_eq(g.s.screen, KITO_USSD_S_OFFER_STONE, "%s", g.reply);
    send(&g, "2");
    cr_assert_eq(g.s.offer_stone_id, 101);
    cr_assert_eq(g.s.screen, KITO_USSD_S_OFFER_TARGET, "%s", g.reply);
    send(&g, "1");
    send(&g, "4826");
    cr_assert_eq(f.last_effect, KITO_USSD_FX_OFFER);
    cr_assert_eq(f.last_req.target_id, 100);
    cr_assert_eq(f.last_req.target_kind, 1);
    cr_assert(strstr(g.reply, "END Offered.") != NULL, "%s", g.reply);
}

/* Random sessions over every screen: answers drawn from valid and invalid inputs, every effect
 * outcome, lists of 0 to 8 longest rows. Every screen is reached and none is too long. */
Test(ussd_menu, every_screen_is_reached_and_fits)
{
    static const char *const inputs[] = {
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "0",
        "9",
        "",
        "12.5",
        "0.01",
        "99999999",
        "Amina Mwakyusa Kibwana Salim",
        "4826",
        "1234",
        "0712345678",
        "opal",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"};
    const size_t n_inputs = sizeof(inputs) / sizeof(inputs[0]);
    const kito_ussd_outcome outcomes[] = {KITO_USSD_OK, KITO_USSD_PIN_WRONG, KITO_USSD_PIN_PAUSED};
    bool seen[KITO_USSD_S_COUNT] = {0};
    srand(18);
    for (int run = 0; run < 4000; run++) {
        fake f = {.registered = rand() % 3 != 0,
                  .sw = rand() % 2,
                  .pin = outcomes[rand() % 3],
                  .items = (size_t)(rand() % (KITO_USSD_ITEMS_MAX + 1)),
                  .item_len = (size_t)(9 + rand() % 87)}; /* up to the service's 95 */
        gw g;
        dial(&g, &f, phones[rand() % 4]);
        for (int step = 0; step < 14 && g.s.screen != KITO_USSD_S_ENDED; step++) {
            /* a correct PIN twice in a row often enough to pass the PIN screens */
            const char *in = inputs[rand() % n_inputs];
            if (g.s.screen == KITO_USSD_S_REG_PIN2 || g.s.screen == KITO_USSD_S_CPIN_NEW2)
                in = rand() % 4 != 0 ? "4826" : in;
            if (g.s.screen == KITO_USSD_S_REG_PIN || g.s.screen == KITO_USSD_S_CPIN_NEW)
                in = rand() % 4 != 0 ? "4826" : in;
            send(&g, in);
        }
        for (int i = 0; i < KITO_USSD_S_COUNT; i++)
            seen[i] |= g.seen[i];
    }
    for (int i = KITO_USSD_S_LANG; i < KITO_USSD_S_COUNT; i++)
        cr_assert(seen[i], "screen %d was never reached", i);
}
