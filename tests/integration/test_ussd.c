/* The miner's USSD channel over HTTPS against real Redis and MariaDB (issue 18; DESIGN.md,
 * "Phone channel"). Whole sessions are replayed as Africa's Talking's gateway sends them: one
 * form POST per screen with sessionId, serviceCode, phoneNumber, networkCode and text (the
 * inputs so far joined by '*'), answered with text/plain "CON ..." or "END ...". Register, list a
 * stone, my stones, offer (consent), results and PIN change, in English and Swahili; the
 * gateway's secret; the per-phone PIN throttle that nobody on the web can trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/common/validate.h"
#include "tests/integration/harness.h"

#define TOKEN "ussd-test-secret-0123456789"

static struct kito_kitod kd;

static void up(void)
{
    static const char *const env[] = {"KITO_USSD_CALLBACK_TOKEN=" TOKEN, NULL};
    kito_harness_kitod_start(&kd, env);
    cr_assert_eq(kito_harness_wait_health(&kd, 200, 5000), 200, "kitod never became healthy");
}

static void down(void)
{
    kito_harness_kitod_stop(&kd, 5000);
}

TestSuite(ussd, .init = up, .fini = down, .timeout = 120);

/* ---- the fake gateway ------------------------------------------------------------------------ */

typedef struct session {
    char id[64];
    char phone[20];
    char text[2048];
    char reply[1024];
} session;

/* Form-encodes s into out (RFC 1866 as the gateway posts it: '+' for space, %XX otherwise). */
static void form_value(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s != 0 && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '*' || c == '-' || c == '.' || c == '_')
            out[n++] = (char)c;
        else if (c == ' ')
            out[n++] = '+';
        else
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", c);
    }
    out[n] = 0;
}

/* Posts the session's current text with token (NULL: none); returns the status. */
static long post(session *s, const char *token)
{
    char phone[64], text[4096], body[4400], path[128];
    form_value(phone, sizeof(phone), s->phone);
    form_value(text, sizeof(text), s->text);
    snprintf(body, sizeof(body),
             "sessionId=%s&serviceCode=%%2A384%%2A18%%23&phoneNumber=%s&networkCode=63902&text=%s",
             s->id, phone, text);
    if (token != NULL)
        snprintf(path, sizeof(path), "/v1/ussd?token=%s", token);
    else
        snprintf(path, sizeof(path), "/v1/ussd");
    struct kito_http_resp r = kito_harness_call_raw(&kd, NULL, "POST", path, body, strlen(body),
                                                    "application/x-www-form-urlencoded");
    long status = r.status;
    snprintf(s->reply, sizeof(s->reply), "%s", r.body != NULL ? r.body : "");
    if (status == 200) {
        char ct[128] = "";
        cr_assert(kito_http_header(&r, "content-type", ct, sizeof(ct)));
        cr_assert(strncmp(ct, "text/plain", 10) == 0, "content type %s", ct);
        cr_assert(strncmp(s->reply, "CON ", 4) == 0 || strncmp(s->reply, "END ", 4) == 0,
                  "reply: %s", s->reply);
        size_t chars = 0;
        cr_assert(kito_utf8_valid(s->reply, strlen(s->reply), &chars));
        cr_assert_leq(chars, 182, "%zu characters: %s", chars, s->reply);
    }
    kito_http_resp_free(&r);
    return status;
}

static void dial(session *s, const char *phone)
{
    static unsigned n;
    memset(s, 0, sizeof(*s));
    snprintf(s->id, sizeof(s->id), "ATUid_%d_%u", (int)getpid(), ++n);
    snprintf(s->phone, sizeof(s->phone), "%s", phone);
    cr_assert_eq(post(s, TOKEN), 200, "%s", s->reply);
}

/* Types input on the current screen and expects the next reply to contain want. */
static void type(session *s, const char *input, const char *want)
{
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof(s->text) - n, "%s%s", n > 0 ? "*" : "", input);
    cr_assert_eq(post(s, TOKEN), 200, "%s", s->reply);
    if (want != NULL)
        cr_assert(strstr(s->reply, want) != NULL, "after \"%s\" wanted \"%s\", got:\n%s", input,
                  want, s->reply);
}

/* The number a list on the screen gives the line containing name ("3 Name" -> "3"). */
static void number_of(const session *s, const char *name, char out[4])
{
    const char *p = strstr(s->reply, name);
    cr_assert(p != NULL, "\"%s\" is not on the screen:\n%s", name, s->reply);
    while (p > s->reply && p[-1] != '\n')
        p--;
    snprintf(out, 4, "%.*s", (int)strcspn(p, " "), p);
}

/* Like number_of, pressing "98 More" until name is on the screen (at most 400 pages: the test
 * database holds every test's organisers and draft sales). */
static void number_on_pages(session *s, const char *name, char out[4])
{
    for (int page = 0; page < 400 && strstr(s->reply, name) == NULL; page++) {
        cr_assert(strstr(s->reply, "98 More") != NULL || strstr(s->reply, "98 Zaidi") != NULL,
                  "\"%s\" is on no page; the last:\n%s", name, s->reply);
        size_t n = strlen(s->text);
        snprintf(s->text + n, sizeof(s->text) - n, "*98");
        cr_assert_eq(post(s, TOKEN), 200, "%s", s->reply);
    }
    number_of(s, name, out);
}

static const char *fresh_phone(void)
{
    static char phone[20];
    static unsigned n;
    snprintf(phone, sizeof(phone), "+2556%04u%04u", (unsigned)getpid() % 10000, ++n);
    return phone;
}

/* ---- the gateway's secret ---------------------------------------------------------------------
 */

Test(ussd, the_gateway_secret_is_required)
{
    session s = {.id = "sec1", .phone = "+255712000001"};
    cr_assert_eq(post(&s, NULL), 401);
    cr_assert_eq(post(&s, "ussd-test-secret-wrong-wrong"), 401);
    cr_assert_eq(post(&s, TOKEN), 200);
    /* the access log masks it (api/http/server.c) */
    char out[256] = "";
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "grep -c '%s' '%s' || true", TOKEN, kd.log_path);
    kito_harness_sh(cmd, out, sizeof(out));
    cr_assert_eq(atoi(out), 0, "the secret is in kitod's log");
}

Test(ussd, a_form_that_is_not_the_gateways_is_refused)
{
    struct kito_http_resp r =
        kito_harness_call_raw(&kd, NULL, "POST", "/v1/ussd?token=" TOKEN, "sessionId=x&text=", 17,
                              "application/x-www-form-urlencoded");
    kito_assert_error(&r, 400, "bad_request");
    kito_http_resp_free(&r);
}

/* ---- register -------------------------------------------------------------------------------- */

Test(ussd, a_first_time_caller_registers_in_swahili)
{
    char assoc_name[64];
    snprintf(assoc_name, sizeof(assoc_name), "AAA Chama cha Wachimbaji %d", (int)getpid());
    unsigned long long assoc = kito_harness_sql(
        "INSERT INTO associations (name, country, levy_bps) VALUES ('%s', 'TZ', 100)", assoc_name);
    const char *phone = fresh_phone();
    session s;
    dial(&s, phone);
    cr_assert(strstr(s.reply, "CON Karibu Kito / Welcome to Kito\n1 English\n2 Kiswahili") != NULL,
              "%s", s.reply);
    type(&s, "2", "Jina lako kamili");
    type(&s, "Neema Mushi", "Chama chako");
    char pick[4];
    number_of(&s, assoc_name, pick);
    type(&s, pick, "1 Simu hii");
    type(&s, "1", "PIN ya tarakimu 4 hadi 6");
    type(&s, "1234", "PIN hiyo ni rahisi kukisia"); /* the shared PIN rule */
    type(&s, "5937", "Weka PIN tena");
    type(&s, "5937", "CON Umesajiliwa.\nKito\n1 Orodhesha jiwe");

    char v[64];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT CONCAT(a.role, ',', a.locale, ',', a.country, ',',"
                           " p.association_id, ',', p.payout_msisdn) FROM accounts a"
                           " JOIN miner_profiles p ON p.account_id = a.id WHERE a.phone = '%s'",
                           phone);
    char want[128];
    snprintf(want, sizeof(want), "miner,sw,TZ,%llu,%s", assoc, phone);
    cr_assert_str_eq(v, want);
    /* she signs in on the web with the same PIN */
    struct kito_http_resp r = kito_harness_callf(&kd, NULL, NULL, "POST", "/v1/sessions",
                                                 "{\"phone\":\"%s\",\"pin\":\"5937\"}", phone);
    kito_harness_expect(&r, 201, "web sign-in with the PIN chosen on USSD");
    kito_http_resp_free(&r);
    /* the same phone dialling again is known, in her language */
    dial(&s, phone);
    cr_assert(strncmp(s.reply, "CON Kito\n1 Orodhesha jiwe", 25) == 0, "%s", s.reply);
}

Test(ussd, registration_in_english_with_another_wallet)
{
    const char *phone = fresh_phone();
    session s;
    dial(&s, phone);
    type(&s, "1", "Your full name");
    type(&s, "Amina Juma", NULL);
    if (strstr(s.reply, "Your association") != NULL)
        type(&s, "0", "1 This phone");
    type(&s, "2", "Mobile money number");
    type(&s, "+254712345678", "not a mobile number of your country");
    type(&s, "0754000111", "Choose a PIN");
    type(&s, "5937", "again");
    type(&s, "5937", "You are registered.");
    char v[64];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT p.payout_msisdn FROM accounts a JOIN miner_profiles p"
                           " ON p.account_id = a.id WHERE a.phone = '%s'",
                           phone);
    cr_assert_str_eq(v, "+255754000111");
}

/* ---- list, my stones, offer --------------------------------------------------------------- */

Test(ussd, list_a_stone_then_see_it_in_my_stones)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    session s;
    dial(&s, phone);
    cr_assert(strstr(s.reply, "1 List a stone") != NULL, "%s", s.reply);
    type(&s, "1", "1 Tanzanite");
    type(&s, "1", "1 Rough, carats");
    type(&s, "2", "Weight in grams");
    type(&s, "2.5", "How many pieces");
    type(&s, "3", "Where was it found");
    type(&s, "Mirerani block D", "in TZS (0 if none)");
    type(&s, "150,000", "END Stone listed. Reference:\nstn_");
    char ref[32];
    snprintf(ref, sizeof(ref), "%.17s", strstr(s.reply, "stn_"));
    uint64_t key = 0;
    cr_assert_eq(kito_id_parse(KITO_ID_STONE, ref, &key), KITO_OK, "%s", ref);
    char v[200];
    kito_harness_sql_value(v, sizeof(v),
                           "SELECT CONCAT_WS(',', seller_id, listed_by, species, variety,"
                           " weight_cct, piece_count, shape, origin_country, origin_site,"
                           " local_offer_minor, local_offer_currency, status)"
                           " FROM stones WHERE id = %llu",
                           (unsigned long long)key);
    char want[200];
    snprintf(want, sizeof(want),
             "%llu,%llu,zoisite,tanzanite,1250,3,rough,TZ,Mirerani block D,15000000,TZS,draft",
             miner, miner);
    cr_assert_str_eq(v, want);
    /* the valuer finds it by the reference */
    char path[64];
    snprintf(path, sizeof(path), "/v1/stones/%s", ref);
    struct kito_http_resp r = kito_harness_call_json(&kd, NULL, "GET", path, NULL);
    kito_harness_expect(&r, 200, "the stone by its reference");
    kito_http_resp_free(&r);

    dial(&s, phone);
    type(&s, "2", "END Your stones:\nTanzanite 12.50ct: awaiting valuation");
}

Test(ussd, offer_a_certified_stone_to_an_organiser_through_consent)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    char stone[KITO_ID_SIZE];
    unsigned long long stone_key = kito_harness_stone(miner, miner, true, stone);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    char org_name[64];
    snprintf(org_name, sizeof(org_name), "AAA Arusha Gem Fair %d", (int)getpid());
    kito_harness_sql("UPDATE accounts SET name = '%s' WHERE id = %llu", org_name, org);
    kito_harness_sql("INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
                     " ladder_json) VALUES (%llu, 'USSD offer test', 'timed', 'USD',"
                     " UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE, UTC_TIMESTAMP(3) + INTERVAL 2 DAY,"
                     " '[{\"from_minor\":0,\"step_minor\":500}]')",
                     org);

    session s;
    dial(&s, phone);
    type(&s, "3", "Which stone to offer?");
    type(&s, "1", "Offer it to:");
    char pick[4];
    number_on_pages(&s, org_name, pick);
    type(&s, pick, "Enter your PIN");
    type(&s, "0000", "Wrong PIN. 4 tries left.");
    cr_assert_eq(
        kito_harness_count("SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu", stone_key), 0,
        "a wrong PIN offers nothing");
    type(&s, KITO_HARNESS_PIN, "END Offered.");
    /* the offer is the API's own: offered by her, not on her behalf, audited */
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM stone_offers WHERE stone_id = %llu"
                                    " AND organizer_id = %llu AND offered_by = %llu"
                                    " AND offered_by_role = 'miner' AND withdrawn_at IS NULL",
                                    stone_key, org, miner),
                 1);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM audit_log WHERE action = 'stone.offer'"
                                    " AND entity_id = %llu AND actor_id = %llu",
                                    stone_key, miner),
                 1);
    dial(&s, phone);
    type(&s, "2", "offered");
}

/* ---- results, PIN -------------------------------------------------------------------------- */

/* A sold, settled lot of miner's: hammer 100.00 USD, commission 5.00, royalty 6.00, levy 1.00,
 * net 88.00 (as api/money/settlement_writer.c would write it). */
static void settled(unsigned long long miner)
{
    unsigned long long buyer = kito_harness_account("buyer", NULL, 0);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at, ladder_json,"
        " status) VALUES (%llu, 'USSD results', 'timed', 'USD', UTC_TIMESTAMP(3) - INTERVAL 2 DAY,"
        " UTC_TIMESTAMP(3) - INTERVAL 1 DAY, '[{\"from_minor\":0,\"step_minor\":100}]', 'closed')",
        org);
    unsigned long long stone = kito_harness_sql(
        "INSERT INTO stones (seller_id, listed_by, species, variety, weight_cct, origin_country,"
        " status) VALUES (%llu, %llu, 'zoisite', 'tanzanite', 150, 'TZ', 'sold')",
        miner, miner);
    unsigned long long lot = kito_harness_sql(
        "INSERT INTO lots (sale_id, stone_id, lot_number, position, opening_minor, state,"
        " hammer_minor, winner_id, closed_at) VALUES (%llu, %llu, 1, 0, 100, 'sold', 10000, %llu,"
        " UTC_TIMESTAMP(3))",
        sale, stone, buyer);
    /* one rate row for every test of the program (its key is unique) */
    kito_harness_sql("INSERT IGNORE INTO royalty_rates (country, species, rate_bps, effective_from)"
                     " VALUES ('TZ', 'zoisite', 600, '2001-01-01 00:00:00')");
    unsigned long long rate = (unsigned long long)kito_harness_count(
        "SELECT id FROM royalty_rates WHERE country = 'TZ' AND species = 'zoisite' AND form ="
        " 'rough' AND effective_from = '2001-01-01 00:00:00'");
    unsigned long long tx = kito_harness_sql(
        "INSERT INTO ledger_transactions (kind, reference, currency, memo) VALUES ('settlement',"
        " 'ussd-test-%llu', 'USD', 'arranged by test_ussd')",
        lot);
    kito_harness_sql("INSERT INTO ledger_entries (transaction_id, account_code, party_id,"
                     " amount_minor, currency) VALUES (%llu, 1, %llu, 11000, 'USD'),"
                     " (%llu, 2, %llu, -8800, 'USD'), (%llu, 3, NULL, -1500, 'USD'),"
                     " (%llu, 4, NULL, -600, 'USD'), (%llu, 5, NULL, -100, 'USD')",
                     tx, buyer, tx, miner, tx, tx, tx);
    kito_harness_sql(
        "INSERT INTO settlements (lot_id, sale_id, stone_id, buyer_id, miner_id, currency,"
        " hammer_minor, buyer_premium_bps, buyer_premium_minor, buyer_total_minor, commission_bps,"
        " commission_minor, royalty_rate_id, royalty_country, royalty_rate_bps, royalty_minor,"
        " levy_rate_bps, levy_minor, miner_net_minor, ledger_transaction_id, outbox_entry_id,"
        " closed_at) VALUES (%llu, %llu, %llu, %llu, %llu, 'USD', 10000, 1000, 1000, 11000, 500,"
        " 500, %llu, 'TZ', 600, 600, 100, 100, 8800, %llu, '1-%llu', UTC_TIMESTAMP(3))",
        lot, sale, stone, buyer, miner, rate, tx, lot);
}

Test(ussd, results_need_her_pin_and_show_the_breakdown)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    kito_harness_sql("UPDATE accounts SET locale = 'sw' WHERE id = %llu", miner);
    settled(miner);
    session s;
    dial(&s, phone);
    type(&s, "4", "Weka PIN yako kuona matokeo");
    type(&s, KITO_HARNESS_PIN,
         "END Bei-kamisheni-mrabaha-ushuru=halisi:\nTanzanite 100-5-6-1=88 USD, inasubiri mnunuzi");
    dial(&s, phone);
    type(&s, "2", "Tanzanite 1.50ct: imeuzwa 100 USD");
}

Test(ussd, pin_change_then_the_web_and_the_phone_take_the_new_pin)
{
    char phone[32];
    kito_harness_account("miner", phone, sizeof(phone));
    session s;
    dial(&s, phone);
    type(&s, "5", "Enter your current PIN");
    type(&s, "1111", "Wrong PIN. 4 tries left.");
    type(&s, KITO_HARNESS_PIN, "New PIN of 4 to 6 digits");
    type(&s, "2000", NULL); /* accepted or refused by the shared rule; either way a screen */
    if (strstr(s.reply, "again") != NULL)
        type(&s, "2001", "differ"); /* a mismatch starts the new PIN over */
    type(&s, "5937", "again");
    type(&s, "5937", "END Your PIN is changed.");
    struct kito_http_resp r = kito_harness_callf(&kd, NULL, NULL, "POST", "/v1/sessions",
                                                 "{\"phone\":\"%s\",\"pin\":\"5937\"}", phone);
    kito_harness_expect(&r, 201, "web sign-in with the new PIN");
    kito_http_resp_free(&r);
    dial(&s, phone);
    type(&s, "4", NULL);
    type(&s, "5937", "END ");
    cr_assert(strstr(s.reply, "Wrong") == NULL, "%s", s.reply);
}

Test(ussd, wrong_pins_pause_her_phone_but_the_web_cannot)
{
    char phone[32];
    kito_harness_account("miner", phone, sizeof(phone));
    /* someone on the web guesses her PIN until her web sign-in locks */
    for (int i = 0; i < 10; i++) {
        struct kito_http_resp r =
            kito_harness_callf(&kd, NULL, NULL, "POST", "/v1/sessions",
                               "{\"phone\":\"%s\",\"pin\":\"9%03d\"}", phone, i);
        cr_assert(r.status == 401 || r.status == 429 || r.status == 423, "%ld", r.status);
        kito_http_resp_free(&r);
    }
    /* her phone is not locked out by that */
    session s;
    dial(&s, phone);
    type(&s, "4", NULL);
    type(&s, KITO_HARNESS_PIN, "END ");
    cr_assert(strstr(s.reply, "Wrong") == NULL && strstr(s.reply, "Too many") == NULL, "%s",
              s.reply);
    /* her own wrong PINs slow and then pause PIN actions on her phone */
    dial(&s, phone);
    type(&s, "4", NULL);
    type(&s, "1111", "4 tries left");
    type(&s, "1112", "3 tries left");
    type(&s, "1113", "2 tries left");
    /* from the third failure each try waits 2^(n-3) s: an immediate fourth is paused */
    type(&s, "1114", NULL);
    cr_assert(strstr(s.reply, "END Too many wrong PINs.") != NULL, "%s", s.reply);
    sleep(2);
    dial(&s, phone);
    type(&s, "4", NULL);
    type(&s, "1115", "1 tries left");
    sleep(3);
    type(&s, "1116", "END Too many wrong PINs. Try again in 30 minutes.");
    dial(&s, phone);
    type(&s, "4", NULL);
    type(&s, KITO_HARNESS_PIN, "END Too many wrong PINs. Try again in 30 minutes.");
}

/* ---- the gateway's habits ------------------------------------------------------------------ */

Test(ussd, a_repeated_request_gets_the_same_answer_and_expired_sessions_end)
{
    char phone[32];
    kito_harness_account("miner", phone, sizeof(phone));
    session s;
    dial(&s, phone);
    type(&s, "1", "Which stone?");
    char first[1024];
    snprintf(first, sizeof(first), "%s", s.reply);
    cr_assert_eq(post(&s, TOKEN), 200);
    cr_assert_str_eq(s.reply, first, "the gateway's retry gets the same screen");
    /* a session id Redis no longer knows, mid-session */
    snprintf(s.id, sizeof(s.id), "ATUid_forgotten_%d", (int)getpid());
    type(&s, "1", "END Your session has expired.");
    /* another phone cannot continue her session */
    session t;
    dial(&t, phone);
    snprintf(t.phone, sizeof(t.phone), "+255700000999");
    type(&t, "1", "END ");
}

/* ---- More, the language switch, a sale as the target, her multiple (issue 18) ------------- */

Test(ussd, a_long_list_of_stones_pages_with_more_and_shows_each_once)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    enum { N = 13 };
    for (int i = 0; i < N; i++)
        kito_harness_sql("INSERT INTO stones (seller_id, listed_by, species, variety, weight_cct,"
                         " origin_country, status) VALUES (%llu, %llu, 'zoisite', 'tanzanite',"
                         " %d, 'TZ', 'draft')",
                         miner, miner, 1001 + i);
    session s;
    dial(&s, phone);
    type(&s, "2", "Your stones:");
    int seen[N] = {0}, pages = 0;
    for (;;) {
        pages++;
        for (int i = 0; i < N; i++) {
            char w[32];
            snprintf(w, sizeof(w), "Tanzanite %d.%02dct", (1001 + i) / 100, (1001 + i) % 100);
            if (strstr(s.reply, w) != NULL)
                seen[i]++;
        }
        if (strncmp(s.reply, "END ", 4) == 0)
            break;
        cr_assert(strstr(s.reply, "\n98 More\n0 Back") != NULL, "%s", s.reply);
        cr_assert_lt(pages, 10);
        type(&s, "98", NULL);
    }
    cr_assert_gt(pages, 1, "13 stones do not fit one screen");
    for (int i = 0; i < N; i++)
        cr_assert_eq(seen[i], 1, "stone %d shown %d times", i, seen[i]);
}

Test(ussd, the_language_switch_is_kept_for_her_next_session_and_her_sms)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    session s;
    dial(&s, phone);
    type(&s, "7", "1 English\n2 Kiswahili");
    type(&s, "2", "CON Kito itatumia Kiswahili sasa.\nKito\n1 Orodhesha jiwe");
    char locale[8];
    kito_harness_sql_value(locale, sizeof(locale), "SELECT locale FROM accounts WHERE id = %llu",
                           miner);
    cr_assert_str_eq(locale, "sw");
    dial(&s, phone);
    cr_assert(strstr(s.reply, "1 Orodhesha jiwe") != NULL, "%s", s.reply);
    type(&s, "7", NULL);
    type(&s, "1", "Kito speaks English to you now.\nKito\n1 List a stone");
    type(&s, "9", "Please choose a number from the list.");
}

Test(ussd, a_stone_is_offered_to_one_sale_not_only_to_an_organiser)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    char stone[KITO_ID_SIZE];
    unsigned long long stone_key = kito_harness_stone(miner, miner, true, stone);
    unsigned long long org = kito_harness_account("organizer", NULL, 0);
    char title[64];
    snprintf(title, sizeof(title), "Mirerani Fair %d", (int)getpid());
    /* the soonest draft sale: first of the sales */
    unsigned long long sale = kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " ladder_json) VALUES (%llu, '%s', 'timed', 'USD', UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE,"
        " UTC_TIMESTAMP(3) + INTERVAL 2 DAY, '[{\"from_minor\":0,\"step_minor\":500}]')",
        org, title);
    /* a draft is not public: another organiser's draft, whom she never offered to, is not
     * listed to her; this one's is, once she has offered this organiser a stone before */
    unsigned long long stranger = kito_harness_account("organizer", NULL, 0);
    char secret[64];
    snprintf(secret, sizeof(secret), "Unannounced Fair %d", (int)getpid());
    kito_harness_sql(
        "INSERT INTO sales (organizer_id, title, format, currency, starts_at, ends_at,"
        " ladder_json) VALUES (%llu, '%s', 'timed', 'USD', UTC_TIMESTAMP(3) + INTERVAL 1 MINUTE,"
        " UTC_TIMESTAMP(3) + INTERVAL 2 DAY, '[{\"from_minor\":0,\"step_minor\":500}]')",
        stranger, secret);
    char earlier[KITO_ID_SIZE];
    unsigned long long earlier_key = kito_harness_stone(miner, miner, true, earlier);
    kito_harness_offer(earlier, org);
    session s;
    dial(&s, phone);
    type(&s, "3", "Which stone to offer?");
    type(&s, "1", "Offer it to:");
    char pick[4];
    number_on_pages(&s, title, pick);
    session all;
    dial(&all, phone);
    type(&all, "3", "Which stone to offer?");
    type(&all, "1", "Offer it to:");
    for (int page = 0; page < 400; page++) {
        cr_assert(strstr(all.reply, secret) == NULL, "another organiser's draft is listed:\n%s",
                  all.reply);
        if (strstr(all.reply, "98 More") == NULL)
            break;
        type(&all, "98", NULL);
    }
    cr_assert(strstr(s.reply, "Sale Mirerani Fair") != NULL, "%s", s.reply);
    type(&s, pick, "Enter your PIN");
    type(&s, KITO_HARNESS_PIN, "END Offered.");
    /* the first stone on her list: either of her two */
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM stone_offers WHERE stone_id IN (%llu,"
                                    " %llu) AND organizer_id = %llu AND sale_id = %llu AND"
                                    " offered_by = %llu AND withdrawn_at IS NULL",
                                    stone_key, earlier_key, org, sale, miner),
                 1, "consent to that sale only");
}

Test(ussd, results_show_her_multiple_of_the_local_offer)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    settled(miner);
    /* she told Kito a local buyer offered her 20.00 (in the sale's currency here): her net of
     * 88.00 is 4.4 times that */
    kito_harness_sql("UPDATE stones SET local_offer_minor = 2000, local_offer_currency = 'USD'"
                     " WHERE seller_id = %llu",
                     miner);
    session s;
    dial(&s, phone);
    type(&s, "4", "Enter your PIN");
    type(&s, KITO_HARNESS_PIN, "Tanzanite 100-5-6-1=88 USD, awaiting buyer, x4.4");
}

/* Menu 6 (issue 18; issue 15, finding 5): the new number, then her PIN. A wrong PIN changes
 * nothing; the right one moves her payouts, tells the old number by SMS and holds payouts to the
 * new wallet (the hold itself: test_payouts.c). */
Test(ussd, a_wallet_change_needs_her_pin_and_tells_the_old_number)
{
    char phone[32];
    unsigned long long miner = kito_harness_account("miner", phone, sizeof(phone));
    kito_harness_sql("INSERT INTO miner_profiles (account_id, country, payout_msisdn, payout_rail)"
                     " VALUES (%llu, 'TZ', '%s', 'mpesa')",
                     miner, phone);
    char fresh[32], national[32];
    snprintf(fresh, sizeof(fresh), "+2557%.8s", phone + 5);
    fresh[strlen(fresh) - 1] = fresh[strlen(fresh) - 1] == '9' ? '0' : fresh[strlen(fresh) - 1] + 1;
    snprintf(national, sizeof(national), "0%s", fresh + 4);
    session s;
    dial(&s, phone);
    type(&s, "6", "New mobile money number");
    type(&s, national, fresh);
    type(&s, "1111", "Wrong PIN.");
    char v[64];
    kito_harness_sql_value(
        v, sizeof(v), "SELECT payout_msisdn FROM miner_profiles WHERE account_id = %llu", miner);
    cr_assert_str_eq(v, phone, "a wrong PIN changes nothing");
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_wallet_changes"
                                    " WHERE account_id = %llu",
                                    miner),
                 0);
    type(&s, KITO_HARNESS_PIN, "END Payouts now go to");
    kito_harness_sql_value(
        v, sizeof(v), "SELECT payout_msisdn FROM miner_profiles WHERE account_id = %llu", miner);
    cr_assert_str_eq(v, fresh);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_wallet_changes"
                                    " WHERE account_id = %llu AND channel = 'ussd'"
                                    " AND old_msisdn = '%s' AND hold_until > UTC_TIMESTAMP(3)",
                                    miner, phone),
                 1);
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM sms_outbox WHERE account_id = %llu"
                                    " AND kind = 'wallet_changed' AND phone = '%s'",
                                    miner, phone),
                 1, "the old number gets an SMS");
    /* the same number again is hers already: nothing more */
    dial(&s, phone);
    type(&s, "6", NULL);
    type(&s, national, NULL);
    type(&s, KITO_HARNESS_PIN, "already");
    cr_assert_eq(kito_harness_count("SELECT COUNT(*) FROM payout_wallet_changes"
                                    " WHERE account_id = %llu",
                                    miner),
                 1);
}
