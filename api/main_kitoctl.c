/*
 * kitoctl: the operator's command line (issue 4: "Organizer, valuer and operator accounts are
 * created by an operator command line tool ... which also creates the first operator").
 *
 * It talks to MySQL directly and synchronously, with the same KITO_MYSQL_* variables as kitod
 * (api/common/config.h; ops/kito.env.sample), through the same repositories, so an account made
 * here is made exactly as the API would make it, with its audit row (actor NULL: the system).
 *
 * Exit status: 0 done; 1 the database refused or failed (unreachable, duplicate, ...); 2 the
 * command line or the input is not valid — nothing was sent to the database.
 *
 * Commands are rows of one table (group, verb, function, usage): a later issue adds a row and a
 * function, nothing else. Secrets never come from the command line (it shows in `ps` and shell
 * history): the first line of stdin holds the password or PIN.
 */
#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "api/common/log.h"
#include "api/common/config.h"
#include "api/store/db.h"
#include "api/adapters/mpesa.h"
#include "api/money/fx.h"
#include "api/money/payouts.h"
#include "api/store/repo_accounts.h"
#include "api/money/payments.h"
#include "api/money/reconcile.h"
#include "api/money/royalty.h"
#include "api/store/audit.h"
#include "api/store/sql.h"
#include "api/common/validate.h"

#define EXIT_DB 1
#define EXIT_USAGE 2

/* ---- options --------------------------------------------------------------------------------- */

#define OPTIONS_MAX 16

/* The options one command accepts, and after parsing their values. */
typedef struct options {
    const char *names[OPTIONS_MAX]; /* "name", "email"...; a trailing '!' marks a flag */
    const char *values[OPTIONS_MAX];
    bool set[OPTIONS_MAX];
    size_t count;
} options;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kitoctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return EXIT_USAGE;
}

/* Parses --name value, --name=value and --flag arguments against o's names. EXIT_USAGE with a
 * message for an unknown, repeated or valueless option or a stray argument; 0 otherwise. */
static int options_parse(options *o, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return usage_error("unexpected argument '%s' (see kitoctl help)", a);
        a += 2;
        const char *eq = strchr(a, '=');
        size_t n = eq != NULL ? (size_t)(eq - a) : strlen(a);
        size_t k = 0;
        bool flag = false;
        for (; k < o->count; k++) {
            size_t len = strlen(o->names[k]);
            flag = o->names[k][len - 1] == '!';
            if ((flag ? len - 1 : len) == n && strncmp(o->names[k], a, n) == 0)
                break;
        }
        if (k == o->count)
            return usage_error("unknown option --%.*s (see kitoctl help)", (int)n, a);
        if (o->set[k])
            return usage_error("--%.*s is given twice", (int)n, a);
        o->set[k] = true;
        if (flag) {
            if (eq != NULL)
                return usage_error("--%.*s takes no value", (int)n, a);
            continue;
        }
        if (eq != NULL)
            o->values[k] = eq + 1;
        else if (i + 1 < argc)
            o->values[k] = argv[++i];
        else
            return usage_error("--%.*s needs a value", (int)n, a);
    }
    return 0;
}

/* The value of option name, or NULL when not given. */
static const char *opt(const options *o, const char *name)
{
    for (size_t k = 0; k < o->count; k++)
        if (strcmp(o->names[k], name) == 0)
            return o->set[k] ? o->values[k] : NULL;
    return NULL;
}

/* ---- the database ---------------------------------------------------------------------------- */

/* The connection settings, as kitod reads them (same variables and defaults). */
static kito_db_params db_params;
static char db_port_text[8];

static const char *env_or(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : dflt;
}

/* Opens the connection; NULL (with a message) when the settings are bad or MySQL cannot be
 * reached. Close with db_close (commands use db_get). */
static kito_db_conn *db_open(void)
{
    uint64_t port;
    snprintf(db_port_text, sizeof(db_port_text), "%s", env_or("KITO_MYSQL_PORT", "3307"));
    if (!kito_config_parse_uint(db_port_text, 1, 65535, &port)) {
        fprintf(stderr, "kitoctl: KITO_MYSQL_PORT=%s is not a port number\n", db_port_text);
        return NULL;
    }
    db_params = (kito_db_params){
        .host = env_or("KITO_MYSQL_HOST", "127.0.0.1"),
        .port = (unsigned)port,
        .user = env_or("KITO_MYSQL_USER", "kito"),
        .password = getenv("KITO_MYSQL_PASSWORD") != NULL ? getenv("KITO_MYSQL_PASSWORD") : "",
        .database = env_or("KITO_MYSQL_DB", "kito"),
    };
    if (kito_db_library_init() != KITO_OK) {
        fprintf(stderr, "kitoctl: the MySQL client library did not start\n");
        return NULL;
    }
    kito_db_conn *c = kito_db_worker_ops()->start(&db_params);
    char why[256];
    if (c == NULL || kito_db_ping(c, why, sizeof(why)) != KITO_OK) {
        fprintf(stderr, "kitoctl: cannot reach MySQL: %s\n", c != NULL ? why : "out of memory");
        if (c != NULL)
            kito_db_worker_ops()->stop(c, &db_params);
        kito_db_library_end();
        return NULL;
    }
    return c;
}

static void db_close(kito_db_conn *c)
{
    kito_db_worker_ops()->stop(c, &db_params);
    kito_db_library_end();
}

/* The command's connection, opened at its first use (a command refuses bad input before it
 * needs MySQL) and closed by main after the command; NULL (with a message) as db_open. */
static kito_db_conn *the_db;

static kito_db_conn *db_get(void)
{
    if (the_db == NULL)
        the_db = db_open();
    return the_db;
}

/* Reports a repository failure and returns the exit status for it. */
static int db_failed(const char *what, kito_err e)
{
    if (e == KITO_E_CONFLICT)
        fprintf(stderr, "kitoctl: %s: it already exists\n", what);
    else
        fprintf(stderr, "kitoctl: %s: %s (%s)\n", what, kito_err_message(e), kito_sql_last_error());
    return EXIT_DB;
}

/* ---- secrets --------------------------------------------------------------------------------- */

/* Reads the first line of stdin (without its line end) into buf. With a terminal, prompts on
 * stderr and turns echo off. false when there is no line or it is too long. */
static bool read_secret(const char *prompt, char *buf, size_t cap)
{
    struct termios old, quiet;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        fprintf(stderr, "%s: ", prompt);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fputs("\n", stderr);
    }
    if (!ok)
        return false;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] != '\n' && !feof(stdin))
        return false; /* longer than cap */
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    return true;
}

/* ---- commands -------------------------------------------------------------------------------- */

static int cmd_account_create(const options *o)
{
    int rc = 0;
    if (opt(o, "role") == NULL || opt(o, "name") == NULL)
        return usage_error("account create needs --role and --name (see kitoctl help)");
    const bool miner = strcmp(opt(o, "role"), "miner") == 0;
    char secret[KITO_ACCOUNT_SECRET_SIZE + 1];
    if (!read_secret(miner ? "PIN" : "password", secret, sizeof(secret)))
        return usage_error("give the %s as the first line of stdin (at most %d bytes)",
                           miner ? "PIN" : "password", KITO_ACCOUNT_SECRET_SIZE - 1);
    kito_account_new in;
    kito_verr ve;
    kito_err e = kito_account_new_validate(&in, opt(o, "role"), opt(o, "name"), opt(o, "phone"),
                                           opt(o, "email"), opt(o, "country"), opt(o, "locale"),
                                           secret, opt(o, "payout-msisdn"), opt(o, "rail"), &ve);
    if (e == KITO_OK && opt(o, "association") != NULL) {
        if (!miner)
            e = kito_verr_set(&ve, "association", "is for miners only");
        else
            e = kito_validate_id("association", KITO_ID_ASSOCIATION, opt(o, "association"),
                                 &in.association_id, &ve);
    }
    explicit_bzero(secret, sizeof(secret));
    if (e != KITO_OK) {
        /* the validators name the JSON fields; say which option or input they came from */
        const char *f = ve.field;
        const char *shown = strcmp(f, "pin") == 0 || strcmp(f, "password") == 0 ? "stdin"
                            : strncmp(f, "payout.msisdn", 13) == 0              ? "--payout-msisdn"
                            : strncmp(f, "payout.rail", 11) == 0                ? "--rail"
                                                                                : NULL;
        explicit_bzero(&in, sizeof(in));
        if (shown != NULL)
            return usage_error("%s (%s): %s", shown, f, ve.reason);
        return usage_error("--%s %s", f, ve.reason);
    }
    kito_db_conn *db = db_get();
    if (db == NULL) {
        explicit_bzero(&in, sizeof(in));
        return EXIT_DB;
    }
    kito_account out;
    e = kito_repo_account_create(db, &in, "account.create", 0, false, NULL, &out, &ve);
    const char *what = in.email[0] != '\0' ? "an account with this e-mail address"
                                           : "an account with this phone number";
    explicit_bzero(&in, sizeof(in));
    if (e == KITO_E_VALIDATION && ve.field[0] != '\0')
        rc = (fprintf(stderr, "kitoctl: --association %s\n", ve.reason), EXIT_USAGE);
    else if (e != KITO_OK)
        rc = db_failed(what, e);
    else {
        char id[KITO_ID_SIZE];
        kito_id_format(KITO_ID_ACCOUNT, out.id, id, sizeof(id));
        printf("%s\n", id);
        rc = 0;
    }
    return rc;
}

static kito_err print_account(void *ud, const kito_account *a)
{
    uint64_t *last = ud;
    char id[KITO_ID_SIZE];
    kito_id_format(KITO_ID_ACCOUNT, a->id, id, sizeof(id));
    printf("%s\t%s\t%s\t%s\t%s\t%s\n", id, a->role, a->status,
           a->email[0] != '\0' ? a->email : a->phone, a->country[0] != '\0' ? a->country : "-",
           a->name);
    *last = a->id;
    return KITO_OK;
}

static int cmd_account_list(const options *o)
{
    int rc = 0;
    const char *role = opt(o, "role");
    static const char *const roles[] = {"miner", "valuer", "buyer", "organizer", "operator", NULL};
    kito_verr ve;
    if (role != NULL && kito_validate_enum("role", role, roles, NULL, &ve) != KITO_OK)
        return usage_error("--role %s", ve.reason);
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    printf("id\trole\tstatus\tcontact\tcountry\tname\n");
    uint64_t after = 0, last = 0;
    kito_err e;
    do { /* pages of 500, so a big table never sits in memory at once */
        after = last;
        e = kito_repo_account_list(db, role, after, 500, print_account, &last);
    } while (e == KITO_OK && last != after);
    rc = e == KITO_OK ? 0 : db_failed("account list", e);
    return rc;
}

static int cmd_association_create(const options *o)
{
    int rc = 0;
    const char *name = opt(o, "name"), *country = opt(o, "country");
    kito_verr ve;
    if (name == NULL || country == NULL)
        return usage_error("association create needs --name and --country (see kitoctl help)");
    uint64_t levy = 0;
    if (kito_validate_text("name", name, 1, 120, 0, &ve) != KITO_OK)
        return usage_error("--name %s", ve.reason);
    if (kito_validate_origin_country("country", country, &ve) != KITO_OK)
        return usage_error("--country %s", ve.reason);
    if (opt(o, "levy-bps") != NULL && !kito_config_parse_uint(opt(o, "levy-bps"), 0, 10000, &levy))
        return usage_error("--levy-bps must be a whole number of basis points from 0 to 10000");
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    kito_association a;
    kito_err e = kito_repo_association_create(db, name, country, (int32_t)levy, 0, NULL, &a);
    if (e != KITO_OK)
        rc = db_failed("an association of this name in this country", e);
    else {
        char id[KITO_ID_SIZE];
        kito_id_format(KITO_ID_ASSOCIATION, a.id, id, sizeof(id));
        printf("%s\n", id);
    }
    return rc;
}

/* ---- settlement (issue 7): royalty rates, payments, reconciliation ----------------------------
 */

static int cmd_royalty_set(const options *o)
{
    int rc = 0;
    const char *country = opt(o, "country"), *species = opt(o, "species");
    const char *form = opt(o, "form") != NULL ? opt(o, "form") : "rough";
    kito_verr ve;
    uint64_t bps;
    int64_t from_ms = 0;
    if (country == NULL || species == NULL || opt(o, "rate-bps") == NULL)
        return usage_error("royalty set needs --country, --species and --rate-bps");
    if (kito_validate_origin_country("country", country, &ve) != KITO_OK)
        return usage_error("--country %s", ve.reason);
    size_t sl = strlen(species);
    if (!(strcmp(species, "*") == 0 ||
          (sl >= 2 && sl <= 24 && strspn(species, "abcdefghijklmnopqrstuvwxyz") == sl)))
        return usage_error("--species must be a species name in lower case (zoisite) or '*'");
    if (strcmp(form, "rough") != 0 && strcmp(form, "cut") != 0)
        return usage_error("--form must be rough or cut");
    if (!kito_config_parse_uint(opt(o, "rate-bps"), 0, 10000, &bps))
        return usage_error("--rate-bps must be a whole number of basis points from 0 to 10000");
    if (opt(o, "effective-from") != NULL &&
        kito_validate_time("effective-from", opt(o, "effective-from"), &from_ms, &ve) != KITO_OK)
        return usage_error("--effective-from %s", ve.reason);
    if (opt(o, "source") != NULL &&
        kito_validate_text("source", opt(o, "source"), 1, 200, 0, &ve) != KITO_OK)
        return usage_error("--source %s", ve.reason);
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    uint64_t id;
    kito_err e = kito_royalty_set(db, country, species, form, (int32_t)bps, from_ms,
                                  opt(o, "source"), 0, &id);
    if (e != KITO_OK)
        rc = db_failed("a rate for this country, species and form from that instant", e);
    else
        printf("%" PRIu64 "\n", id);
    return rc;
}

static kito_err print_royalty(void *ud, const kito_royalty_rate *r)
{
    (void)ud;
    char from[KITO_TIME_SIZE];
    kito_time_format(r->effective_from_ms, from);
    printf("%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r->country, r->species, r->form, (int)r->rate_bps, from,
           r->current ? "current" : "-", r->source[0] != '\0' ? r->source : "-");
    return KITO_OK;
}

static int cmd_royalty_list(const options *o)
{
    int rc = 0;
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    printf("country\tspecies\tform\trate_bps\teffective_from\tstatus\tsource\n");
    kito_err e = kito_royalty_list(db, print_royalty, NULL);
    rc = e == KITO_OK ? 0 : db_failed("royalty list", e);
    return rc;
}

static int cmd_payment_record(const options *o)
{
    int rc = 0;
    kito_payment_new in;
    memset(&in, 0, sizeof(in));
    kito_verr ve;
    const char *ref = opt(o, "reference"), *method = opt(o, "method");
    const char *currency = opt(o, "currency");
    if (opt(o, "invoice") == NULL || opt(o, "amount") == NULL || ref == NULL)
        return usage_error("payment record needs --invoice, --amount and --reference");
    if (kito_validate_id("invoice", "inv", opt(o, "invoice"), &in.invoice_id, &ve) != KITO_OK)
        return usage_error("--invoice %s", ve.reason);
    if (kito_validate_amount_text("amount", opt(o, "amount"), &in.amount_minor, &ve) != KITO_OK)
        return usage_error("--amount %s (minor units)", ve.reason);
    size_t rl = strlen(ref);
    bool printable = rl >= 1 && rl <= 64;
    for (size_t i = 0; printable && i < rl; i++)
        printable = ref[i] >= '!' && ref[i] <= '~';
    if (!printable)
        return usage_error("--reference must be 1 to 64 printable ASCII characters, no spaces");
    static const char *const methods[] = {"bank_transfer", "card",  "mobile_money",
                                          "cash",          "other", NULL};
    if (method != NULL && kito_validate_enum("method", method, methods, NULL, &ve) != KITO_OK)
        return usage_error("--method %s", ve.reason);
    if (currency != NULL &&
        (strlen(currency) != 3 || strspn(currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3))
        return usage_error("--currency must be a three-letter code such as USD");
    snprintf(in.reference, sizeof(in.reference), "%s", ref);
    snprintf(in.method, sizeof(in.method), "%s", method != NULL ? method : "");
    snprintf(in.currency, sizeof(in.currency), "%s", currency != NULL ? currency : "");
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    kito_payment_result out;
    ve.field[0] = '\0';
    kito_err e = kito_payment_record(db, &in, &out, &ve);
    if (e == KITO_E_VALIDATION && ve.field[0] != '\0')
        rc = (fprintf(stderr, "kitoctl: --%s %s\n", ve.field, ve.reason), EXIT_USAGE);
    else if (e == KITO_E_CONFLICT)
        rc = (fprintf(stderr, "kitoctl: reference %s was recorded for another payment\n", ref),
              EXIT_DB);
    else if (e == KITO_E_BAD_STATE)
        rc = (fprintf(stderr, "kitoctl: the invoice is not awaiting payment\n"), EXIT_DB);
    else if (e != KITO_OK)
        rc = db_failed("payment record", e);
    else {
        char pid[KITO_ID_SIZE];
        kito_id_format("pay", out.payment_id, pid, sizeof(pid));
        printf("%s\t%s\tinvoice %s\tpaid %lld of %lld %s%s\n", pid,
               out.replay ? "already recorded" : "recorded", out.invoice_status,
               (long long)out.paid_minor, (long long)out.invoice_amount_minor, out.currency, "");
    }
    return rc;
}

static kito_err print_finding(void *ud, const char *kind, uint64_t id, const char *what)
{
    (void)ud;
    printf("%s\t%" PRIu64 "\t%s\n", kind, id, what != NULL ? what : "");
    return KITO_OK;
}

static int cmd_reconcile(const options *o)
{
    int rc = 0;
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    size_t findings = 0;
    kito_err e = kito_reconcile(db, print_finding, NULL, &findings);
    if (e != KITO_OK)
        rc = db_failed("reconcile", e);
    else {
        fprintf(stderr, "kitoctl: reconcile: %zu finding%s\n", findings, findings == 1 ? "" : "s");
        rc = findings == 0 ? 0 : 1;
    }
    return rc;
}

/* ---- payouts (issue 7; api/money/payouts.h)
 * ---------------------------------------------------------
 */

static int cmd_fx_set(const options *o)
{
    int rc = 0;
    const char *from = opt(o, "from"), *to = opt(o, "to"), *rate = opt(o, "rate");
    kito_verr ve;
    int64_t micros;
    if (from == NULL || to == NULL || rate == NULL)
        return usage_error("fx set needs --from, --to and --rate (see kitoctl help)");
    if (kito_validate_currency("from", from, &ve) != KITO_OK)
        return usage_error("--from %s", ve.reason);
    if (kito_validate_currency("to", to, &ve) != KITO_OK)
        return usage_error("--to %s", ve.reason);
    if (strcmp(from, to) == 0)
        return usage_error("--from and --to are the same currency");
    if (!kito_mpesa_rate_parse(rate, &micros))
        return usage_error("--rate must be a positive decimal with at most 6 decimals, like "
                           "129.50 (units of --to per unit of --from)");
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    uint64_t id = 0;
    kito_err e = kito_fx_set(db, from, to, micros, 0, &id);
    if (e != KITO_OK)
        rc = db_failed("fx set", e);
    else
        printf("%" PRIu64 "\t%s\t%s\t%" PRId64 ".%06" PRId64 "\n", id, from, to, micros / 1000000,
               micros % 1000000);
    return rc;
}

static kito_err print_payout(void *ud, const kito_payout *p)
{
    uint64_t *last = ud;
    char id[KITO_ID_SIZE], miner[KITO_ID_SIZE];
    kito_id_format(KITO_ID_PAYOUT, p->id, id, sizeof(id));
    kito_id_format(KITO_ID_ACCOUNT, p->miner_id, miner, sizeof(miner));
    /* a pending payout held after a wallet change says so, and until when (UTC) */
    char held[64] = "-";
    if (p->held_until_ms != 0 && strcmp(p->state, "pending") == 0) {
        time_t t = (time_t)(p->held_until_ms / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(held, sizeof(held), "held:wallet_changed:until:%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    printf("%s\t%s\t%s\t%s\t%" PRId64 "\t%s\t%" PRId64 "\t%s\t%u\t%s\n", id, p->state, miner,
           p->msisdn, p->paid_units, p->currency, p->source_minor, p->source_currency, p->attempts,
           held);
    *last = p->id;
    return KITO_OK;
}

static int cmd_payout_list(const options *o)
{
    int rc = 0;
    const char *state = opt(o, "state");
    static const char *const states[] = {"pending", "submitted", "succeeded",
                                         "failed",  "anomaly",   NULL};
    kito_verr ve;
    if (state != NULL && kito_validate_enum("state", state, states, NULL, &ve) != KITO_OK)
        return usage_error("--state %s", ve.reason);
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    printf("id\tstate\tminer\tmsisdn\tpaid_units\tcurrency\tsource_minor\tsource_currency"
           "\tattempts\n");
    uint64_t after = 0, last = 0;
    kito_err e;
    do {
        after = last;
        e = kito_payout_list(db, 0, state, after, 500, print_payout, &last);
    } while (e == KITO_OK && last != after);
    rc = e == KITO_OK ? 0 : db_failed("payout list", e);
    return rc;
}

static int cmd_payout_retry(const options *o)
{
    int rc = 0;
    uint64_t id;
    if (opt(o, "payout") == NULL || kito_id_parse(KITO_ID_PAYOUT, opt(o, "payout"), &id) != KITO_OK)
        return usage_error("payout retry needs --payout pay_... (see kitoctl payout list)");
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    uint32_t no = 0;
    kito_err e = kito_payout_retry(db, id, 0, &no);
    if (e == KITO_E_NOT_FOUND) {
        fprintf(stderr, "kitoctl: payout retry: no payout %s\n", opt(o, "payout"));
        rc = EXIT_DB;
    } else if (e == KITO_E_BAD_STATE) {
        fprintf(stderr,
                "kitoctl: payout retry: %s is not failed (only a failed payout gets a new "
                "attempt)\n",
                opt(o, "payout"));
        rc = EXIT_DB;
    } else if (e != KITO_OK) {
        rc = db_failed("payout retry", e);
    } else {
        printf("%s\tattempt %u queued\n", opt(o, "payout"), no);
    }
    return rc;
}

static int cmd_payout_resolve(const options *o)
{
    int rc = 0;
    uint64_t id;
    const char *reason = opt(o, "reason");
    if (opt(o, "payout") == NULL || kito_id_parse(KITO_ID_PAYOUT, opt(o, "payout"), &id) != KITO_OK)
        return usage_error("payout resolve needs --payout pay_... (see kitoctl reconcile)");
    if (reason == NULL || reason[0] == '\0')
        return usage_error("payout resolve needs --reason TEXT: what was found and done");
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    size_t n = 0;
    kito_err e = kito_payout_resolve(db, id, 0, reason, &n);
    if (e == KITO_E_VALIDATION)
        rc = usage_error("--reason must be 1 to 500 printable characters");
    else if (e == KITO_E_NOT_FOUND)
        rc =
            (fprintf(stderr, "kitoctl: payout resolve: no payout %s\n", opt(o, "payout")), EXIT_DB);
    else if (e == KITO_E_BAD_STATE)
        rc = (fprintf(stderr, "kitoctl: payout resolve: %s has no unresolved anomaly\n",
                      opt(o, "payout")),
              EXIT_DB);
    else if (e != KITO_OK)
        rc = db_failed("payout resolve", e);
    else
        printf("%s\t%zu anomal%s resolved; the payout stays held\n", opt(o, "payout"), n,
               n == 1 ? "y" : "ies");
    return rc;
}

static kito_err print_total(void *ud, const kito_payout_total *t)
{
    bool *mismatch = ud;
    bool ok = t->provider_minor == t->ledger_minor;
    *mismatch |= !ok;
    printf("%s\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%" PRId64 "\t%s\n", t->day, t->rail,
           t->currency, t->payouts, t->provider_units, t->provider_minor, t->ledger_minor,
           ok ? "ok" : "MISMATCH");
    return KITO_OK;
}

static int cmd_payout_totals(const options *o)
{
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    bool mismatch = false;
    printf("day\trail\tcurrency\tpayouts\tprovider_units\tprovider_minor\tledger_minor\tcheck\n");
    kito_err e = kito_reconcile_payout_totals(db, print_total, &mismatch);
    if (e != KITO_OK)
        return db_failed("payout totals", e);
    return mismatch ? 1 : 0;
}

/* ---- the audit trail (issue 15) ---------------------------------------------------------------
 */

/* Table families whose keys the API shows as ids ("sal_..."); the others are shown as numbers. */
static const struct {
    const char *entity, *prefix;
} entity_ids[] = {
    {"account", KITO_ID_ACCOUNT}, {"association", KITO_ID_ASSOCIATION},
    {"stone", KITO_ID_STONE},     {"certificate", KITO_ID_CERTIFICATE},
    {"sale", KITO_ID_SALE},       {"lot", KITO_ID_LOT},
    {"payout", KITO_ID_PAYOUT},   {"session", KITO_ID_SESSION},
};

static const char *entity_prefix(const char *entity)
{
    for (size_t i = 0; i < sizeof(entity_ids) / sizeof(entity_ids[0]); i++)
        if (strcmp(entity_ids[i].entity, entity) == 0)
            return entity_ids[i].prefix;
    return NULL;
}

/* --entity FAMILY or FAMILY:ID (the API's id, "sale:sal_0000000000001", or the key, "sale:1"). */
static int parse_entity(const char *arg, char *family, size_t cap, uint64_t *key)
{
    const char *colon = strchr(arg, ':');
    size_t n = colon != NULL ? (size_t)(colon - arg) : strlen(arg);
    *key = 0;
    if (n < 1 || n >= cap || strspn(arg, "abcdefghijklmnopqrstuvwxyz_") < n)
        return usage_error("--entity must be a family in lower case (sale, payout, account ...),"
                           " optionally :ID");
    memcpy(family, arg, n);
    family[n] = '\0';
    if (colon == NULL)
        return 0;
    const char *id = colon + 1, *prefix = entity_prefix(family);
    if (kito_config_parse_uint(id, 1, UINT64_MAX, key))
        return 0;
    if (prefix != NULL && kito_id_parse(prefix, id, key) == KITO_OK)
        return 0;
    return usage_error("--entity %s: the id must be a number%s%s%s", family,
                       prefix != NULL ? " or " : "", prefix != NULL ? prefix : "",
                       prefix != NULL ? "_..." : "");
}

static kito_err print_audit(void *ud, const kito_audit_row *r)
{
    (void)ud;
    char at[KITO_TIME_SIZE], actor[KITO_ID_SIZE + 24], entity[KITO_ID_SIZE + 40];
    kito_time_format(r->at_ms, at);
    if (r->actor_id != 0) {
        char acc[KITO_ID_SIZE];
        kito_id_format(KITO_ID_ACCOUNT, r->actor_id, acc, sizeof(acc));
        snprintf(actor, sizeof(actor), "%s(%s)", acc, r->actor_role);
    } else
        snprintf(actor, sizeof(actor), "system");
    const char *prefix = entity_prefix(r->entity);
    if (r->entity_id == 0)
        snprintf(entity, sizeof(entity), "%s", r->entity);
    else if (prefix != NULL) {
        char id[KITO_ID_SIZE];
        kito_id_format(prefix, r->entity_id, id, sizeof(id));
        snprintf(entity, sizeof(entity), "%s:%s", r->entity, id);
    } else
        snprintf(entity, sizeof(entity), "%s:%" PRIu64, r->entity, r->entity_id);
    printf("%" PRIu64 "\t%s\t%s\t%s\t%s\t%s\t%s\n", r->id, at, actor,
           r->from[0] != '\0' ? r->from : "-", r->action, entity,
           r->detail_json != NULL ? r->detail_json : "-");
    return KITO_OK;
}

static int cmd_audit(const options *o)
{
    kito_audit_filter f = {.limit = 50};
    char family[33];
    kito_verr ve;
    uint64_t v;
    int rc;
    if (opt(o, "entity") != NULL) {
        if ((rc = parse_entity(opt(o, "entity"), family, sizeof(family), &f.entity_id)) != 0)
            return rc;
        f.entity = family;
    }
    const char *actor = opt(o, "actor");
    if (actor != NULL && strcmp(actor, "system") == 0)
        f.actor_system = true;
    else if (actor != NULL &&
             kito_validate_id("actor", KITO_ID_ACCOUNT, actor, &f.actor_id, &ve) != KITO_OK)
        return usage_error("--actor must be an account id (acc_...) or system");
    if (opt(o, "since") != NULL &&
        kito_validate_time("since", opt(o, "since"), &f.since_ms, &ve) != KITO_OK)
        return usage_error("--since %s", ve.reason);
    if (opt(o, "limit") != NULL) {
        if (!kito_config_parse_uint(opt(o, "limit"), 1, KITO_AUDIT_LIST_MAX, &v))
            return usage_error("--limit must be a whole number from 1 to %d", KITO_AUDIT_LIST_MAX);
        f.limit = (uint32_t)v;
    }
    kito_db_conn *db = db_get();
    if (db == NULL)
        return EXIT_DB;
    printf("id\tat\tactor\tfrom\taction\tentity\tdetail\n");
    kito_err e = kito_audit_list(db, &f, print_audit, NULL);
    return e == KITO_OK ? 0 : db_failed("audit", e);
}

/* Where this kitoctl's actions come from, for the trail: "kitoctl:<user>@<host>", the user who
 * ran sudo when there is one. Characters outside printable ASCII become '?'. */
static void set_audit_origin(void)
{
    char host[64] = "?", origin[160];
    const char *user = getenv("SUDO_USER");
    if (user == NULL || user[0] == '\0') {
        const struct passwd *pw = getpwuid(geteuid());
        user = pw != NULL ? pw->pw_name : "?";
    }
    if (gethostname(host, sizeof(host)) != 0)
        snprintf(host, sizeof(host), "?");
    host[sizeof(host) - 1] = '\0';
    snprintf(origin, sizeof(origin), "kitoctl:%s@%s", user, host);
    for (char *c = origin; *c != '\0'; c++)
        if (*c < '!' || *c > '~')
            *c = '?';
    kito_audit_set_origin(origin); /* cut to the column's 45 characters */
}

static int cmd_help(const options *o);

/* The command table: a later issue adds a row (and its function) here. */
static const struct command {
    const char *group; /* "account" */
    const char *verb;  /* "create"; NULL for a command of one word (help) */
    int (*run)(const options *o);
    const char *options[OPTIONS_MAX]; /* the options it takes (options_parse), NULL-ended */
    const char *usage;                /* the arguments, for help */
    const char *about;                /* one line */
} commands[] = {
    {"account",
     "create",
     cmd_account_create,
     {"role", "name", "email", "phone", "country", "locale", "rail", "payout-msisdn", "association",
      "password-stdin!"},
     "--role miner|buyer|valuer|organizer|operator --name NAME (--email E | --phone +E164)\n"
     "        [--country CC] [--locale en|sw] [--password-stdin]\n"
     "        miners: --phone, and optionally [--rail RAIL] [--payout-msisdn +E164]\n"
     "        [--association asn_...]",
     "create an account; the password (or a miner's PIN) is the first line of stdin; prints\n"
     "        the new id"},
    {"account",
     "list",
     cmd_account_list,
     {"role"},
     "[--role ROLE]",
     "list accounts: id, role, status, contact, country, name (tab-separated)"},
    {"association",
     "create",
     cmd_association_create,
     {"name", "country", "levy-bps"},
     "--name NAME --country KE|TZ|ZM|MW [--levy-bps 0..10000]",
     "create a miners' association; prints the new id"},
    {"royalty",
     "set",
     cmd_royalty_set,
     {"country", "species", "form", "rate-bps", "effective-from", "source"},
     "--country KE|TZ|ZM|MW --species SPECIES|'*' [--form rough|cut] --rate-bps 0..10000\n"
     "        [--effective-from RFC3339] [--source TEXT]",
     "add a royalty rate (the latest effective_from <= now applies; an exact species before\n"
     "        '*'); prints the new id"},
    {"royalty",
     "list",
     cmd_royalty_list,
     {NULL},
     "",
     "list royalty rates: country, species, form, rate_bps, effective_from, current, source"},
    {"payment",
     "record",
     cmd_payment_record,
     {"invoice", "amount", "reference", "method", "currency"},
     "--invoice inv_... --amount MINOR --reference REF [--method bank_transfer|card|\n"
     "        mobile_money|cash|other] [--currency CUR]",
     "record a buyer's payment (idempotent by reference); the invoice is paid when covered"},
    {"reconcile",
     NULL,
     cmd_reconcile,
     {NULL},
     "",
     "list ledger transactions that do not sum to zero, invoices that disagree with their\n"
     "        payments, settlements whose parts or postings do not add up; exit 1 if any"},
    {"fx",
     "set",
     cmd_fx_set,
     {"from", "to", "rate"},
     "--from CUR --to CUR --rate DECIMAL",
     "add an exchange rate effective now (units of --to per unit of --from, e.g. 129.50);\n"
     "        payouts copy the rate they use"},
    {"payout",
     "list",
     cmd_payout_list,
     {"state"},
     "[--state pending|submitted|succeeded|failed|anomaly]",
     "list payouts: id, state, miner, msisdn, paid units, currency, source, attempts, and\n"
     "        why a pending one waits (held:wallet_changed:until:<UTC> after a wallet change) or "
     "-"},
    {"payout",
     "retry",
     cmd_payout_retry,
     {"payout"},
     "--payout pay_...",
     "give a failed payout a new attempt (new OriginatorConversationID); the worker sends it"},
    {"payout",
     "resolve",
     cmd_payout_resolve,
     {"payout", "reason"},
     "--payout pay_... --reason TEXT",
     "mark a held payout's anomalies resolved with the reason (audited); it stays held"},
    {"payout",
     "totals",
     cmd_payout_totals,
     {NULL},
     "",
     "per day, rail and currency: payouts the providers confirmed (units, minor units) and\n"
     "        what the ledger credited to mobile-money clearing; exit 1 if any differ"},
    {"audit",
     NULL,
     cmd_audit,
     {"entity", "actor", "since", "limit"},
     "[--entity FAMILY[:ID]] [--actor acc_...|system] [--since RFC3339] [--limit 1..10000]",
     "the audit trail, newest first (50 rows by default): id, at, actor (system: kitod\n"
     "        itself), from (the client's address, ussd, or kitoctl:user@host), action,\n"
     "        entity, detail (JSON)"},
    {"help", NULL, cmd_help, {NULL}, "", "this text"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(const options *o)
{
    (void)o;
    printf("usage: kitoctl COMMAND [OPTIONS]\n\n"
           "Talks to the MySQL database of KITO_MYSQL_HOST, _PORT, _USER, _PASSWORD and _DB.\n"
           "Exit status: 0 done, 1 the database refused or failed, 2 bad command or input.\n\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        printf("kitoctl %s%s%s %s\n        %s\n\n", commands[i].group,
               commands[i].verb != NULL ? " " : "",
               commands[i].verb != NULL ? commands[i].verb : "", commands[i].usage,
               commands[i].about);
    return 0;
}

/* Parses the command's options, runs it and closes the connection it opened. */
static int run(const struct command *c, int argc, char **argv)
{
    options o = {.count = 0};
    while (o.count < OPTIONS_MAX && c->options[o.count] != NULL) {
        o.names[o.count] = c->options[o.count];
        o.count++;
    }
    int rc = options_parse(&o, argc, argv);
    if (rc == 0)
        rc = c->run(&o);
    if (the_db != NULL)
        db_close(the_db);
    the_db = NULL;
    return rc;
}

int main(int argc, char **argv)
{
    kito_log_program("kitoctl");
    set_audit_origin();
    if (argc < 2)
        return (cmd_help(NULL), EXIT_USAGE);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0)
            continue;
        if (c->verb == NULL)
            return run(c, argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], c->verb) == 0)
            return run(c, argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(NULL);
    return usage_error("unknown command '%s%s%s' (see kitoctl help)", argv[1], argc >= 3 ? " " : "",
                       argc >= 3 ? argv[2] : "");
}
