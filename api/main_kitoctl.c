/*
 * kitoctl: the operator's command line (issue 4: "Organizer, valuer and operator accounts are
 * created by an operator command line tool ... which also creates the first operator").
 *
 * It talks to MySQL directly and synchronously, with the same KITO_MYSQL_* variables as kitod
 * (api/config.h; ops/kito.env.sample), through the same repositories, so an account made here is
 * made exactly as the API would make it, with its audit row (actor NULL: the system).
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
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "api/config.h"
#include "api/db.h"
#include "api/repo_accounts.h"
#include "api/sql.h"
#include "api/validate.h"

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
 * reached. Close with db_close. */
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

static int cmd_account_create(int argc, char **argv)
{
    options o = {.names = {"role", "name", "email", "phone", "country", "locale", "rail",
                           "payout-msisdn", "association", "password-stdin!"},
                 .count = 10};
    int rc = options_parse(&o, argc, argv);
    if (rc != 0)
        return rc;
    if (opt(&o, "role") == NULL || opt(&o, "name") == NULL)
        return usage_error("account create needs --role and --name (see kitoctl help)");
    const bool miner = strcmp(opt(&o, "role"), "miner") == 0;
    char secret[KITO_ACCOUNT_SECRET_SIZE + 1];
    if (!read_secret(miner ? "PIN" : "password", secret, sizeof(secret)))
        return usage_error("give the %s as the first line of stdin (at most %d bytes)",
                           miner ? "PIN" : "password", KITO_ACCOUNT_SECRET_SIZE - 1);
    kito_account_new in;
    kito_verr ve;
    kito_err e = kito_account_new_validate(&in, opt(&o, "role"), opt(&o, "name"), opt(&o, "phone"),
                                           opt(&o, "email"), opt(&o, "country"), opt(&o, "locale"),
                                           secret, opt(&o, "payout-msisdn"), opt(&o, "rail"), &ve);
    if (e == KITO_OK && opt(&o, "association") != NULL) {
        if (!miner)
            e = kito_verr_set(&ve, "association", "is for miners only");
        else
            e = kito_validate_id("association", KITO_ID_ASSOCIATION, opt(&o, "association"),
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
    kito_db_conn *db = db_open();
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
    db_close(db);
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

static int cmd_account_list(int argc, char **argv)
{
    options o = {.names = {"role"}, .count = 1};
    int rc = options_parse(&o, argc, argv);
    if (rc != 0)
        return rc;
    const char *role = opt(&o, "role");
    static const char *const roles[] = {"miner", "valuer", "buyer", "organizer", "operator", NULL};
    kito_verr ve;
    if (role != NULL && kito_validate_enum("role", role, roles, NULL, &ve) != KITO_OK)
        return usage_error("--role %s", ve.reason);
    kito_db_conn *db = db_open();
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
    db_close(db);
    return rc;
}

static int cmd_association_create(int argc, char **argv)
{
    options o = {.names = {"name", "country", "levy-bps"}, .count = 3};
    int rc = options_parse(&o, argc, argv);
    if (rc != 0)
        return rc;
    const char *name = opt(&o, "name"), *country = opt(&o, "country");
    kito_verr ve;
    if (name == NULL || country == NULL)
        return usage_error("association create needs --name and --country (see kitoctl help)");
    uint64_t levy = 0;
    if (kito_validate_text("name", name, 1, 120, 0, &ve) != KITO_OK)
        return usage_error("--name %s", ve.reason);
    if (kito_validate_origin_country("country", country, &ve) != KITO_OK)
        return usage_error("--country %s", ve.reason);
    if (opt(&o, "levy-bps") != NULL &&
        !kito_config_parse_uint(opt(&o, "levy-bps"), 0, 10000, &levy))
        return usage_error("--levy-bps must be a whole number of basis points from 0 to 10000");
    kito_db_conn *db = db_open();
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
    db_close(db);
    return rc;
}

static int cmd_help(int argc, char **argv);

/* The command table: a later issue adds a row (and its function) here. */
static const struct command {
    const char *group; /* "account" */
    const char *verb;  /* "create"; NULL for a command of one word (help) */
    int (*run)(int argc, char **argv);
    const char *usage; /* the arguments, for help */
    const char *about; /* one line */
} commands[] = {
    {"account", "create", cmd_account_create,
     "--role miner|buyer|valuer|organizer|operator --name NAME (--email E | --phone +E164)\n"
     "        [--country CC] [--locale en|sw] [--password-stdin]\n"
     "        miners: --phone, and optionally [--rail RAIL] [--payout-msisdn +E164]\n"
     "        [--association asn_...]",
     "create an account; the password (or a miner's PIN) is the first line of stdin; prints\n"
     "        the new id"},
    {"account", "list", cmd_account_list, "[--role ROLE]",
     "list accounts: id, role, status, contact, country, name (tab-separated)"},
    {"association", "create", cmd_association_create,
     "--name NAME --country KE|TZ|ZM|MW [--levy-bps 0..10000]",
     "create a miners' association; prints the new id"},
    {"help", NULL, cmd_help, "", "this text"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
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

int main(int argc, char **argv)
{
    if (argc < 2)
        return (cmd_help(0, NULL), EXIT_USAGE);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const struct command *c = &commands[i];
        if (strcmp(argv[1], c->group) != 0)
            continue;
        if (c->verb == NULL)
            return c->run(argc - 2, argv + 2);
        if (argc >= 3 && strcmp(argv[2], c->verb) == 0)
            return c->run(argc - 3, argv + 3);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(0, NULL);
    return usage_error("unknown command '%s%s%s' (see kitoctl help)", argv[1], argc >= 3 ? " " : "",
                       argc >= 3 ? argv[2] : "");
}
