/*
 * The M-Pesa Daraja simulator (sims/mpesa_sim.c) for integration tests: its key pair and
 * certificate (made with openssl at test time, never committed), the process, plain-HTTP calls to
 * it, and the KITO_MPESA_* settings that point a kitod at it. Used by test_payouts, test_daraja
 * and test_c2b. Every function aborts the current Criterion test on failure.
 */
#ifndef KITO_HARNESS_MPESA_H
#define KITO_HARNESS_MPESA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What the simulator and kitod share: the Daraja app's consumer key and secret, the initiator's
 * password (kitod encrypts it with the certificate, the simulator decrypts it with the key). */
#define KITO_MPESA_SIM_CONSUMER_KEY "kito-test-consumer-key"
#define KITO_MPESA_SIM_CONSUMER_SECRET "kito-test-consumer-secret"
#define KITO_MPESA_SIM_INITIATOR_PASSWORD "Kito-Initiator-Test-2026"
#define KITO_MPESA_SIM_SHORTCODE "600000"
#define KITO_MPESA_SIM_PAYBILL "600100"

struct kito_mpesa_sim {
    pid_t pid;
    int port;
    char log[512];
    char cert[512]; /* the public certificate kitod gets (KITO_MPESA_CERT) */
    char key[512];  /* its private key, the simulator's --key */
    /* the KITO_MPESA_* strings kito_mpesa_sim_env points at */
    char env_buf[8][600];
};

/* Makes the RSA key and self-signed certificate under $KITO_TEST_VAR/mpesa (once: later calls
 * reuse them) and writes their paths. */
void kito_mpesa_sim_keys(char cert[512], char key[512]);

/* Starts mpesa_sim on a free port with the shared secrets and key, callbacks checked against the
 * test CA, --delay-ms 200 --late-ms 2500 --hang-ms 4000, then extra_args (NULL-terminated, may
 * be NULL; later flags win). Waits until it answers /healthz. */
void kito_mpesa_sim_start(struct kito_mpesa_sim *s, const char *const *extra_args);

void kito_mpesa_sim_stop(struct kito_mpesa_sim *s);

/* One plain-HTTP call to the simulator: the status (0: no answer), the body parsed into *out
 * (may be NULL; free with json_decref). */
long kito_mpesa_sim_call(const struct kito_mpesa_sim *s, const char *method, const char *path,
                         const char *body, json_t **out);

/* Fills env[0..n) with the KITO_MPESA_* settings for this simulator (strings kept in s) and
 * returns n (at most 8); env is not NULL-terminated by this. The callback base is a placeholder
 * until kito_mpesa_sim_point_at tells the simulator kitod's real port. password NULL: the right
 * initiator password. */
size_t kito_mpesa_sim_env(struct kito_mpesa_sim *s, const char *callback_token,
                          const char *password, const char **env);

/* Sends the simulator's callbacks to https://localhost:https_port. */
void kito_mpesa_sim_point_at(const struct kito_mpesa_sim *s, int https_port);

/* A simulator's list field (GET /kito-sim/payments): "tokens_issued", "unauthorized_calls". */
long long kito_mpesa_sim_counter(const struct kito_mpesa_sim *s, const char *name);

/* A paid settlement (arranged with SQL) the payout worker pays. */
struct kito_sold {
    unsigned long long miner, buyer, settlement;
    char msisdn[20];
    char miner_token[44];
    char buyer_token[44], organizer_token[44];
    unsigned long long sale;
    char invoice[32]; /* its number, "INV-77..." */
    unsigned long long invoice_id;
};

/* A Kenyan miner (M-Pesa wallet ending in suffix: the simulator's mode digits), a sale in
 * currency, a sold lot, its settlement with a balanced ledger transaction, and its invoice, paid.
 * Hammer 100.00: premium 10.00, commission 5.00, royalty 6.00, miner net 89.00. */
void kito_mpesa_sold(struct kito_sold *s, const char *suffix, const char *currency);

/* As kito_mpesa_sold; paid false leaves the invoice issued with nothing paid. */
void kito_mpesa_sold_invoice(struct kito_sold *s, const char *suffix, const char *currency,
                             bool paid);

/* Waits (up to timeout_ms) for the settlement's payout to reach state; returns its id. */
unsigned long long kito_mpesa_wait_payout(const struct kito_sold *s, const char *state,
                                          int timeout_ms);

/* DESIGN.md: every ledger transaction sums to zero per currency (and none is empty). */
void kito_mpesa_ledger_check(void);

#endif
