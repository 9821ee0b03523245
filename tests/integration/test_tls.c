/* TLS configuration and HTTP/2 abuse (issue 2): testssl.sh finds nothing HIGH or CRITICAL, and
 * an HTTP/2 Rapid Reset flood (CVE-2023-44487) gets its connection closed while others are served.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

KITO_SUITE_WITH_KITOD(tls, 600);

Test(tls, testssl_finds_nothing_high_or_critical)
{
    char json_path[600], cmd[2048];
    snprintf(json_path, sizeof(json_path), "%s", kito_harness_var("logs/testssl.json"));
    unlink(json_path);
    /* The certificate is signed by the test's local CA: --add-ca makes the chain trusted, so
     * what remains is the server's TLS configuration. */
    snprintf(cmd, sizeof(cmd),
             "testssl --quiet --warnings off --color 0 --fast --sneaky "
             "--add-ca '%s' --ip 127.0.0.1 --jsonfile '%s' https://localhost:%d "
             ">'%s' 2>&1",
             kito_harness_var("tls/ca.pem"), json_path, kd.https_port,
             kito_harness_var("logs/testssl.txt"));
    kito_harness_sh(cmd, NULL, 0); /* its exit code counts findings; the JSON says which */

    json_error_t jerr;
    json_t *findings = json_load_file(json_path, 0, &jerr);
    cr_assert(json_is_array(findings), "testssl wrote no JSON (%s); see %s", jerr.text,
              kito_harness_var("logs/testssl.txt"));
    size_t i, bad = 0, protocol_rows = 0;
    json_t *f;
    json_array_foreach(findings, i, f)
    {
        const char *id = json_string_value(json_object_get(f, "id"));
        const char *sev = json_string_value(json_object_get(f, "severity"));
        const char *text = json_string_value(json_object_get(f, "finding"));
        if (id != NULL && (strncmp(id, "TLS1", 4) == 0 || strncmp(id, "SSLv", 4) == 0))
            protocol_rows++;
        /* The one finding about the certificate file rather than kitod: a local test CA runs
         * no OCSP responder or CRL. A production certificate from a public CA carries both. */
        if (id != NULL && strcmp(id, "cert_revocation") == 0)
            continue;
        if (sev != NULL && (strcmp(sev, "HIGH") == 0 || strcmp(sev, "CRITICAL") == 0)) {
            bad++;
            cr_log_error("testssl %s: %s: %s", sev, id ? id : "?", text ? text : "");
        }
    }
    cr_assert(protocol_rows >= 4, "testssl did not scan the protocols (only %zu rows)",
              protocol_rows);
    cr_assert_eq(bad, 0, "testssl rated %zu findings HIGH or CRITICAL (see above)", bad);
    json_decref(findings);
}

Test(tls, rapid_reset_flood_is_cut_off_and_others_are_served)
{
    char cmd[1024], out[4096];
    snprintf(cmd, sizeof(cmd), "'%s/tests/h2_rapid_reset' 127.0.0.1 %d 100000 10 2>&1",
             getenv("KITO_TEST_BUILD"), kd.https_port);
    kito_harness_sh(cmd, out, sizeof(out));
    const char *line = strstr(out, "RAPID_RESET ");
    cr_assert(line != NULL, "the flood client printed no result: %s", out);
    long sent = -1, closed = -1;
    const char *s = strstr(line, "streams_sent=");
    const char *c = strstr(line, "closed_by_server=");
    cr_assert(s != NULL && c != NULL, "unparsable: %s", line);
    sent = strtol(s + strlen("streams_sent="), NULL, 10);
    closed = strtol(c + strlen("closed_by_server="), NULL, 10);
    cr_assert_eq(closed, 1, "the server never closed the flooding connection: %s", line);
    cr_assert(sent < 100000, "the flood got all its streams through before the close: %s", line);

    struct kito_http_resp r;
    cr_assert_eq(kito_http(&kd, "GET", "/healthz", NULL, 0, NULL, KITO_HTTP_H2, &r), 0);
    cr_assert_eq(r.status, 200, "a well-behaved client was not served after the flood");
    kito_http_resp_free(&r);
}
