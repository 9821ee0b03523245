/*
 * The SMS a miner gets at each milestone (issue 18; DESIGN.md, "Phone channel"), in English or
 * Swahili, written from a kind and its values. Pure: the outbox (api/store/repo_sms.h) calls it
 * in the transaction of the event. Texts use the GSM 03.38 default alphabet only and stay within
 * one 160-character SMS with the values a market gives (longer values are cut, never the
 * message's sense); kito_sms_text_gsm7 says whether a text would go as GSM-7.
 *
 * Threads: any.
 */
#ifndef KITO_SMS_TEXT_H
#define KITO_SMS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Characters one SMS holds in GSM-7; the outbox allows three parts. */
#define KITO_SMS_SEGMENT_CHARS 160
#define KITO_SMS_TEXT_SIZE 481

typedef enum kito_sms_kind {
    KITO_SMS_STONE_RECEIVED, /* v[0] reference, v[1] stone, v[2] weight ct */
    KITO_SMS_CERTIFIED,      /* v[0] reference, v[1] low, v[2] high, v[3] currency */
    KITO_SMS_OFFERED,        /* v[0] reference, v[1] organiser or sale */
    KITO_SMS_SOLD,           /* v[0] reference, v[1] currency, v[2] hammer, v[3] commission,
                                v[4] royalty, v[5] levy, v[6] net */
    KITO_SMS_NOT_SOLD,       /* v[0] reference */
    KITO_SMS_PAYOUT_SENT,    /* v[0] amount, v[1] currency, v[2] wallet, v[3] transaction id */
    KITO_SMS_PAYOUT_FAILED,  /* v[0] amount, v[1] currency, v[2] wallet */
    KITO_SMS_WALLET_CHANGED, /* v[0] old wallet, v[1] new wallet, v[2] hours payouts wait */
    KITO_SMS_KIND_COUNT
} kito_sms_kind;

/* The kind's name as stored ("stone_received" ...), or NULL. */
const char *kito_sms_kind_name(kito_sms_kind kind);

/* Writes kind's message in lang ("sw" for Swahili, anything else English) from values v (as many
 * as the kind names; NULL counts as "") into out (KITO_SMS_TEXT_SIZE bytes). */
void kito_sms_text(kito_sms_kind kind, const char *lang, const char *const *v,
                   char out[KITO_SMS_TEXT_SIZE]);

/* True when every character of s is in the GSM 03.38 default alphabet (one septet; the
 * extension table's ^{}\[~]|€ count as two in *septets). *septets may be NULL. */
bool kito_sms_text_gsm7(const char *s, size_t *septets);

#endif
