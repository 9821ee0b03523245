/*
 * The miner's USSD menu (issue 18; DESIGN.md, "Phone channel") as a pure state machine: a screen
 * of input in, a screen of text out. No I/O, no clock, no allocation: what needs the database
 * (who is this phone, register her, list a stone, check her PIN ...) comes out as an effect
 * request, which the caller carries out (api/phone/ussd.h, on a MySQL worker) and feeds back
 * with kito_ussd_menu_resume. Tests walk every screen without HTTP or MySQL
 * (tests/unit/phone/test_ussd_menu.c).
 *
 * The gateway's protocol (Africa's Talking USSD callback, https://developers.africastalking.com/
 * docs/ussd/overview): each request carries `text`, every input of the session so far joined by
 * `*` ("" on the first screen, then "1", "1*Amina", ...); the answer is plain text beginning
 * "CON " (another screen follows) or "END " (the session ends), at most 182 characters a screen
 * (KITO_USSD_SCREEN_MAX, the prefix included). The session remembers how much of `text` it has
 * consumed, so the newest input is what follows, whatever it holds (a '*' typed in a site name
 * does not shift later inputs); the same text again (the gateway retrying) gets the same answer.
 *
 * No PIN is ever kept in the session (which lives in Redis): a PIN goes into the effect request
 * of the screen that asked for it and is checked there; registration's "PIN again" screen reads
 * the first PIN back from `text`, which the gateway resends on every screen anyway.
 *
 * Menus are in English and Swahili: the account's language, or the one a first-time caller picks.
 */
#ifndef KITO_USSD_MENU_H
#define KITO_USSD_MENU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters one screen may have, "CON "/"END " included (the gateway's limit). */
#define KITO_USSD_SCREEN_MAX 182
/* Bytes of a reply buffer: a screen of at most 182 code points of up to 4 bytes and a NUL. */
#define KITO_USSD_REPLY_SIZE (4 * KITO_USSD_SCREEN_MAX + 1)
/* Bytes of one input kept or passed on (a name, a site); longer inputs are refused. */
#define KITO_USSD_INPUT_MAX 120
/* Bytes of `text` a session may grow to; beyond it the session ends (a gateway's sessions are
 * about 180 s and 20-odd screens long at most). */
#define KITO_USSD_TEXT_MAX 2048
/* Choices one numbered list shows at most (1..9 fit one key). */
#define KITO_USSD_PICKS_MAX 6
/* Screens of the list-a-stone path at most, from the species screen to the one before the
 * reference (issue 18: "at most 6 screens"). */
#define KITO_USSD_LIST_SCREENS_MAX 6

typedef enum kito_ussd_lang { KITO_USSD_EN = 0, KITO_USSD_SW = 1 } kito_ussd_lang;

/* Where the session stands: the screen shown last, whose answer comes next. */
typedef enum kito_ussd_screen {
    KITO_USSD_S_START = 0, /* nothing shown yet */
    KITO_USSD_S_LANG,      /* first-time caller: 1 English 2 Kiswahili */
    KITO_USSD_S_REG_NAME,
    KITO_USSD_S_REG_ASSOC,
    KITO_USSD_S_REG_WALLET,        /* 1 this phone 2 another number */
    KITO_USSD_S_REG_WALLET_NUMBER, /* the other number */
    KITO_USSD_S_REG_PIN,
    KITO_USSD_S_REG_PIN2,
    KITO_USSD_S_MAIN,
    KITO_USSD_S_LIST_SPECIES,
    KITO_USSD_S_LIST_FORM, /* rough or cut, carats or grams */
    KITO_USSD_S_LIST_WEIGHT,
    KITO_USSD_S_LIST_PIECES,
    KITO_USSD_S_LIST_SITE,
    KITO_USSD_S_LIST_OFFER, /* best local offer, 0 for none */
    KITO_USSD_S_OFFER_STONE,
    KITO_USSD_S_OFFER_TARGET,
    KITO_USSD_S_OFFER_PIN,
    KITO_USSD_S_RESULTS_PIN,
    KITO_USSD_S_CPIN_CURRENT,
    KITO_USSD_S_CPIN_NEW,
    KITO_USSD_S_CPIN_NEW2,
    KITO_USSD_S_WALLET_NUMBER, /* change payout wallet: the new number */
    KITO_USSD_S_WALLET_PIN,    /* ... her PIN to agree */
    KITO_USSD_S_ENDED,         /* an END was sent */
    KITO_USSD_S_COUNT
} kito_ussd_screen;

/* What the caller must do before the next screen can be written. */
typedef enum kito_ussd_effect {
    KITO_USSD_FX_NONE = 0,     /* out->reply is ready */
    KITO_USSD_FX_LOOKUP,       /* who is this phone: her account and language, or none */
    KITO_USSD_FX_ASSOCIATIONS, /* the associations of her country */
    KITO_USSD_FX_REGISTER,     /* create her account (name, association, wallet, PIN, language) */
    KITO_USSD_FX_LIST_STONE,   /* list a stone for her */
    KITO_USSD_FX_MY_STONES,    /* her stones and the state of each */
    KITO_USSD_FX_OFFERABLE,    /* her stones that can be offered now */
    KITO_USSD_FX_TARGETS,      /* organisers and draft sales to offer to */
    KITO_USSD_FX_OFFER,        /* PIN, then the offer (api/store/repo_offers.h) */
    KITO_USSD_FX_RESULTS,      /* PIN, then her settled lots */
    KITO_USSD_FX_PIN_CHECK,    /* PIN only (before a PIN change) */
    KITO_USSD_FX_SET_PIN,      /* the new PIN (after a PIN check in this session) */
    KITO_USSD_FX_SET_WALLET,   /* PIN, then her payout wallet becomes s->wallet (issue 15,
                                  finding 5: SMS to the old number, payouts to it held) */
} kito_ussd_effect;

/* The session: everything that must survive between two gateway requests. Plain bytes, no
 * pointers, so it is stored in Redis as it is (with its version and size checked on read). */
#define KITO_USSD_SESSION_VERSION 1
typedef struct kito_ussd_session {
    uint32_t version;
    uint32_t screen;         /* kito_ussd_screen */
    uint32_t lang;           /* kito_ussd_lang */
    uint32_t text_len;       /* bytes of `text` consumed so far */
    uint64_t text_hash;      /* FNV-1a of those bytes: a request must continue them */
    uint32_t last_start;     /* where the newest input consumed began in `text` */
    uint32_t last_len;       /* its length */
    char phone[17];          /* the gateway's phoneNumber (E.164); the session is bound to it */
    char country[3];         /* her country, from her phone's prefix */
    uint64_t account_id;     /* 0 while she is not registered */
    bool pin_ok;             /* a PIN check passed in this session (PIN change) */
    uint32_t pin_tries_left; /* from the last wrong-PIN answer, for the message */
    /* registration draft */
    char name[KITO_USSD_INPUT_MAX + 1];
    uint64_t association_id;
    char wallet[17]; /* "" = this phone; a wallet change: the new number */
    /* listing draft */
    uint32_t species; /* index into the species table (kito_ussd_menu_species) */
    uint32_t form;    /* 1 rough carats, 2 rough grams, 3 cut carats, 4 cut grams */
    int64_t weight_cct;
    int64_t pieces;
    char site[KITO_USSD_INPUT_MAX + 1];
    /* the numbered list on screen: what each number picks */
    uint32_t pick_count;
    uint64_t pick_ids[KITO_USSD_PICKS_MAX];
    uint8_t pick_kinds[KITO_USSD_PICKS_MAX]; /* offer targets: 1 organiser, 2 sale */
    uint64_t offer_stone_id;
    /* the prompt shown last (re-shown under an error) and the whole last reply (resent when the
     * gateway repeats a request) */
    char prompt[KITO_USSD_REPLY_SIZE];
    char reply[KITO_USSD_REPLY_SIZE];
} kito_ussd_session;

/* One row of a list a screen shows (stones, results, targets). Text is already short. */
#define KITO_USSD_ITEM_TEXT 96
typedef struct kito_ussd_item {
    uint64_t id;
    uint8_t kind; /* targets: 1 organiser, 2 sale */
    char text[KITO_USSD_ITEM_TEXT];
} kito_ussd_item;

#define KITO_USSD_ITEMS_MAX 8

/* An effect to carry out: the fields its kind names. Never stored. */
typedef struct kito_ussd_request {
    kito_ussd_effect effect;
    char pin[KITO_USSD_INPUT_MAX + 1]; /* OFFER, RESULTS, PIN_CHECK, SET_PIN (the new one),
                                          REGISTER, SET_WALLET */
    /* REGISTER: s->name, s->association_id, s->wallet, s->lang */
    /* LIST_STONE */
    const char *species;       /* GIA species, static */
    const char *variety;       /* static or NULL */
    const char *shape;         /* "rough" or "cut" */
    int64_t local_offer_minor; /* 0 = none; in kito_ussd_menu_currency(country) */
    /* SET_WALLET: s->wallet */
    /* OFFER: s->offer_stone_id, target */
    uint64_t target_id;
    uint8_t target_kind; /* 1 organiser, 2 sale */
} kito_ussd_request;

/* Outcomes of effects, in the order of kito_ussd_effect that use them. */
typedef enum kito_ussd_outcome {
    KITO_USSD_OK = 0,
    KITO_USSD_PIN_WRONG,  /* tries_left says how many before a pause */
    KITO_USSD_PIN_PAUSED, /* retry_after_s */
    KITO_USSD_REFUSED,    /* the rule said no: reason (English) says why (SET_WALLET: the
                             wallet is hers already) */
    KITO_USSD_TAKEN,      /* REGISTER: the phone has an account already */
    KITO_USSD_FAILED,     /* the server could not do it now */
} kito_ussd_outcome;

/* What an effect found. */
typedef struct kito_ussd_facts {
    kito_ussd_outcome outcome;
    uint32_t tries_left;
    uint32_t retry_after_s;
    char reason[300]; /* English, for the log */
    /* LOOKUP */
    uint64_t account_id; /* 0: not registered */
    bool lang_known;
    kito_ussd_lang lang;
    /* ASSOCIATIONS, MY_STONES, OFFERABLE, TARGETS, RESULTS: rows to show */
    size_t item_count;
    kito_ussd_item items[KITO_USSD_ITEMS_MAX];
    /* REGISTER: the new account; LIST_STONE: the stone's reference ("stn_...") */
    uint64_t new_id;
    char reference[24];
    /* SET_WALLET: how long payouts to the new wallet wait */
    uint32_t hold_s;
} kito_ussd_facts;

/* One step's result: a reply ready to send (effect NONE), or an effect to carry out first. */
typedef struct kito_ussd_out {
    kito_ussd_effect effect;
    kito_ussd_request req;
    bool end;                         /* the reply ends the session (also written into it) */
    char reply[KITO_USSD_REPLY_SIZE]; /* "CON ..." or "END ..." when effect is NONE */
} kito_ussd_out;

/* Starts a session for phone (E.164, already validated): zeroes s. */
void kito_ussd_menu_begin(kito_ussd_session *s, const char *phone);

/* Feeds one gateway request: text[0..text_len) is its whole `text`. Fills out with the reply or
 * the effect to run. A request whose text is the one already answered gets the same reply again
 * (the gateway retrying); a text that does not continue the session's ends it. */
void kito_ussd_menu_step(kito_ussd_session *s, const char *text, size_t text_len,
                         kito_ussd_out *out);

/* Feeds an effect's facts back (for the effect out->effect of the last step or resume named);
 * fills out again: usually a reply, sometimes a next effect (a wrong-PIN answer never is one). */
void kito_ussd_menu_resume(kito_ussd_session *s, kito_ussd_effect done, const kito_ussd_facts *f,
                           kito_ussd_out *out);

/* ---- tables the service and tests use ---- */

/* One entry of a country's numbered species list. */
typedef struct kito_ussd_species {
    const char *country; /* "KE", "TZ", "ZM", "MW" */
    const char *label;   /* what miners call it: "Tanzanite" */
    const char *species; /* GIA species: "zoisite" */
    const char *variety; /* or NULL */
} kito_ussd_species;

/* Entry i of the species table, or NULL past its end. */
const kito_ussd_species *kito_ussd_menu_species(size_t i);

/* The local currency of a market country ("KES", "TZS", "ZMW", "MWK"), or NULL. */
const char *kito_ussd_menu_currency(const char *country);

/* Characters (UTF-8 code points) of a reply. */
size_t kito_ussd_menu_chars(const char *reply);

/* Parses a decimal weight like "12.5" or "12,50" (at most two decimals, > 0) in hundredths into
 * *centi. false otherwise. */
bool kito_ussd_menu_parse_centi(const char *s, int64_t *centi);

#endif
