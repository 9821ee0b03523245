/* api/config: defaults, overrides, and refusals of bad values with a message naming the
 * variable. */
#include <criterion/criterion.h>
#include <string.h>

#include "api/common/config.h"

/* A fake environment: NULL-terminated name/value pairs. */
static const char *fake_getenv(const char *name, void *ud)
{
    const char *const *kv = ud;
    for (size_t i = 0; kv[i] != NULL; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static kito_err load(const char *const *kv, kito_config *cfg, char *err)
{
    return kito_config_load(cfg, fake_getenv, (void *)kv, err, 256);
}

#define TLS "KITO_TLS_CERT", "/c.pem", "KITO_TLS_KEY", "/k.pem"

Test(config, defaults_when_only_tls_is_set)
{
    const char *kv[] = {TLS, NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(kv, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.bind, "127.0.0.1");
    cr_expect_eq(c.https_port, 8443);
    cr_expect_eq(c.http_port, 8080);
    cr_expect_str_eq(c.tls_cert, "/c.pem");
    cr_expect_str_eq(c.tls_key, "/k.pem");
    cr_expect(c.http2);
    cr_expect_str_eq(c.redis_host, "127.0.0.1");
    cr_expect_eq(c.redis_port, 6380);
    cr_expect_str_eq(c.mysql_host, "127.0.0.1");
    cr_expect_eq(c.mysql_port, 3307);
    cr_expect_str_eq(c.mysql_user, "kito");
    cr_expect_str_eq(c.mysql_password, "");
    cr_expect_str_eq(c.mysql_db, "kito");
    cr_expect_str_eq(c.storefront_dir, "storefront");
    cr_expect_str_eq(c.access_log, "-");
    cr_expect_eq(c.max_connections, 4096);
    cr_expect_eq(c.max_connections_per_address, 256);
    cr_expect_eq(c.tls_handshake_timeout_ms, 10000);
    cr_expect_eq(c.metrics_port, 9464);
    cr_expect_str_eq(c.public_host, "localhost:8443", "the redirect goes to localhost:HTTPS port");
    cr_expect_eq(c.json_body_max, 65536);
    cr_expect_eq(c.h2_reset_max, 200);
    cr_expect_eq(c.mysql_workers, 2);
    cr_expect_eq(c.shutdown_grace_ms, 5000);
    cr_expect_eq(c.snapshot_every, 1000);
}

Test(config, overrides)
{
    const char *kv[] = {TLS,
                        "KITO_BIND",
                        "::1",
                        "KITO_HTTPS_PORT",
                        "9443",
                        "KITO_HTTP_PORT",
                        "0",
                        "KITO_HTTP2",
                        "off",
                        "KITO_REDIS_HOST",
                        "redis.local",
                        "KITO_REDIS_PORT",
                        "6391",
                        "KITO_MYSQL_PASSWORD",
                        "s3cret",
                        "KITO_MYSQL_DB",
                        "kito_test",
                        "KITO_ACCESS_LOG",
                        "/var/log/kito.log",
                        "KITO_MAX_CONNECTIONS",
                        "10",
                        "KITO_JSON_BODY_MAX",
                        "1024",
                        "KITO_H2_RESET_MAX",
                        "50",
                        "KITO_SNAPSHOT_EVERY",
                        "10",
                        "KITO_MAX_CONNECTIONS_PER_ADDRESS",
                        "4",
                        "KITO_TLS_HANDSHAKE_TIMEOUT_MS",
                        "2500",
                        "KITO_METRICS_PORT",
                        "0",
                        "KITO_PUBLIC_HOST",
                        "kito.example:9443",
                        NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(kv, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.bind, "::1");
    cr_expect_eq(c.https_port, 9443);
    cr_expect_eq(c.http_port, 0, "0 disables the redirect listener");
    cr_expect_not(c.http2);
    cr_expect_str_eq(c.redis_host, "redis.local");
    cr_expect_eq(c.redis_port, 6391);
    cr_expect_str_eq(c.mysql_password, "s3cret");
    cr_expect_str_eq(c.mysql_db, "kito_test");
    cr_expect_str_eq(c.access_log, "/var/log/kito.log");
    cr_expect_eq(c.max_connections, 10);
    cr_expect_eq(c.json_body_max, 1024);
    cr_expect_eq(c.h2_reset_max, 50);
    cr_expect_eq(c.snapshot_every, 10);
    cr_expect_eq(c.max_connections_per_address, 4);
    cr_expect_eq(c.tls_handshake_timeout_ms, 2500);
    cr_expect_eq(c.metrics_port, 0, "0 disables the metrics listener");
    cr_expect_str_eq(c.public_host, "kito.example:9443");
}

Test(config, public_host_defaults_to_localhost_and_takes_names_or_ipv6)
{
    const char *on_443[] = {TLS, "KITO_HTTPS_PORT", "443", NULL};
    const char *v6[] = {TLS, "KITO_PUBLIC_HOST", "[2001:db8::1]:8443", NULL};
    const char *bare[] = {TLS, "KITO_PUBLIC_HOST", "kito.example", NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(on_443, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.public_host, "localhost", "no :443 in the default");
    cr_assert_eq(load(v6, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.public_host, "[2001:db8::1]:8443");
    cr_assert_eq(load(bare, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.public_host, "kito.example");
}

Test(config, empty_means_default)
{
    const char *kv[] = {TLS, "KITO_HTTPS_PORT", "", "KITO_HTTP2", "", NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(kv, &c, err), KITO_OK, "%s", err);
    cr_expect_eq(c.https_port, 8443);
    cr_expect(c.http2);
}

/* Each bad setting is refused with KITO_E_CONFIG and a message naming it. */
static void expect_refused(const char *name, const char *value)
{
    const char *kv[] = {TLS, name, value, NULL};
    kito_config c;
    char err[256] = "";
    cr_expect_eq(load(kv, &c, err), KITO_E_CONFIG, "%s=%s was accepted", name, value);
    cr_expect(strstr(err, name) != NULL, "the message for %s=%s does not name it: %s", name, value,
              err);
}

Test(config, bad_ports_are_refused)
{
    expect_refused("KITO_HTTPS_PORT", "0");
    expect_refused("KITO_HTTPS_PORT", "65536");
    expect_refused("KITO_HTTPS_PORT", "-1");
    expect_refused("KITO_HTTPS_PORT", "84 43");
    expect_refused("KITO_HTTPS_PORT", "8443x");
    expect_refused("KITO_HTTPS_PORT", "99999999999999999999999");
    expect_refused("KITO_HTTP_PORT", "http");
    expect_refused("KITO_REDIS_PORT", "0");
    expect_refused("KITO_MYSQL_PORT", "70000");
}

Test(config, bad_booleans_are_refused)
{
    expect_refused("KITO_HTTP2", "2");
    expect_refused("KITO_HTTP2", "maybe");
    expect_refused("KITO_HTTP2", "truee");
}

Test(config, bad_numbers_and_addresses_are_refused)
{
    expect_refused("KITO_MAX_CONNECTIONS", "0");
    expect_refused("KITO_JSON_BODY_MAX", "12");
    expect_refused("KITO_JSON_BODY_MAX", "1e6");
    expect_refused("KITO_H2_RESET_MAX", "0");
    expect_refused("KITO_SNAPSHOT_EVERY", "0");
    expect_refused("KITO_SNAPSHOT_EVERY", "1000001");
    expect_refused("KITO_BIND", "localhost");
    expect_refused("KITO_BIND", "300.1.1.1");
    expect_refused("KITO_REDIS_HOST", "evil host");
    expect_refused("KITO_MYSQL_HOST", "a;b");
    expect_refused("KITO_MAX_CONNECTIONS_PER_ADDRESS", "0");
    expect_refused("KITO_TLS_HANDSHAKE_TIMEOUT_MS", "50");
    expect_refused("KITO_TLS_HANDSHAKE_TIMEOUT_MS", "600001");
    expect_refused("KITO_METRICS_PORT", "65536");
    /* it goes into a Location header: a host and an optional port, nothing else */
    expect_refused("KITO_PUBLIC_HOST", "evil.example/path");
    expect_refused("KITO_PUBLIC_HOST", "a b");
    expect_refused("KITO_PUBLIC_HOST", "kito.example:0");
    expect_refused("KITO_PUBLIC_HOST", "kito.example:70000");
    expect_refused("KITO_PUBLIC_HOST", "kito.example:");
    expect_refused("KITO_PUBLIC_HOST", "user@kito.example");
    expect_refused("KITO_PUBLIC_HOST", "[2001:db8::zz]");
    expect_refused("KITO_PUBLIC_HOST", "[]");
    expect_refused("KITO_PUBLIC_HOST", "kito.example\r\nSet-Cookie: a=b");
}

Test(config, same_port_twice_is_refused)
{
    const char *kv[] = {TLS, "KITO_HTTPS_PORT", "9000", "KITO_HTTP_PORT", "9000", NULL};
    const char *metrics[] = {TLS, "KITO_METRICS_PORT", "8443", NULL};
    const char *both_off[] = {TLS, "KITO_HTTP_PORT", "0", "KITO_METRICS_PORT", "0", NULL};
    kito_config c;
    char err[256];
    cr_expect_eq(load(kv, &c, err), KITO_E_CONFIG);
    cr_expect_eq(load(metrics, &c, err), KITO_E_CONFIG);
    cr_expect(strstr(err, "KITO_METRICS_PORT") != NULL, "%s", err);
    cr_expect_eq(load(both_off, &c, err), KITO_OK, "two listeners off are not a clash: %s", err);
}

Test(config, tls_paths_are_required)
{
    const char *none[] = {NULL};
    const char *cert_only[] = {"KITO_TLS_CERT", "/c.pem", NULL};
    kito_config c;
    char err[256];
    cr_expect_eq(load(none, &c, err), KITO_E_CONFIG);
    cr_expect(strstr(err, "KITO_TLS_CERT") != NULL, "%s", err);
    cr_expect_eq(load(cert_only, &c, err), KITO_E_CONFIG);
    cr_expect(strstr(err, "KITO_TLS_KEY") != NULL, "%s", err);
}

Test(config, parse_helpers)
{
    bool b = false;
    uint64_t v = 0;
    cr_expect(kito_config_parse_bool("YES", &b) && b);
    cr_expect(kito_config_parse_bool("0", &b) && !b);
    cr_expect_not(kito_config_parse_bool("", &b));
    cr_expect(kito_config_parse_uint("18446744073709551615", 0, UINT64_MAX, &v) && v == UINT64_MAX);
    cr_expect_not(kito_config_parse_uint("18446744073709551616", 0, UINT64_MAX, &v),
                  "overflow must be refused");
    cr_expect_not(kito_config_parse_uint("+5", 0, 10, &v));
    cr_expect_not(kito_config_parse_uint("11", 0, 10, &v));
}

/* Redis credentials (issue 15, finding 2): kitod AUTHs as user kito when given a password. */
Test(config, redis_credentials)
{
    const char *none[] = {TLS, NULL};
    const char *given[] = {TLS, "KITO_REDIS_USER", "app", "KITO_REDIS_PASSWORD", "0123abcd", NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(none, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.redis_user, "kito");
    cr_expect_str_eq(c.redis_password, "", "no password: no AUTH");
    cr_assert_eq(load(given, &c, err), KITO_OK, "%s", err);
    cr_expect_str_eq(c.redis_user, "app");
    cr_expect_str_eq(c.redis_password, "0123abcd");
    expect_refused("KITO_REDIS_USER", "two words");
    expect_refused("KITO_REDIS_PASSWORD", "has space");
    /* the refusal never repeats the password */
    const char *bad[] = {TLS, "KITO_REDIS_PASSWORD", "sekrit\tpw", NULL};
    cr_assert_eq(load(bad, &c, err), KITO_E_CONFIG);
    cr_expect(strstr(err, "sekrit") == NULL, "the message shows the password: %s", err);
}

/* Session idle limits (issue 15): per role, each longer than the touch interval. */
Test(config, session_idle_limits)
{
    const char *none[] = {TLS, NULL};
    const char *given[] = {TLS, "KITO_SESSION_IDLE_BUYER_S", "3", "KITO_SESSION_TOUCH_S", "1",
                           NULL};
    kito_config c;
    char err[256];
    cr_assert_eq(load(none, &c, err), KITO_OK, "%s", err);
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 2), 7 * 86400, "buyer");
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 0), 86400, "miner");
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 1), 12 * 3600, "valuer");
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 3), 12 * 3600, "organizer");
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 4), 1800, "operator");
    cr_expect_eq(kito_config_session_idle_s(&c, 0), 0, "anonymous");
    cr_expect_eq(c.session_touch_s, 300);
    cr_assert_eq(load(given, &c, err), KITO_OK, "%s", err);
    cr_expect_eq(kito_config_session_idle_s(&c, 1u << 2), 3);
    cr_expect_eq(c.session_touch_s, 1);
    expect_refused("KITO_SESSION_IDLE_BUYER_S", "0");
    expect_refused("KITO_SESSION_IDLE_OPERATOR_S", "300"); /* not longer than the touch, 300 */
    expect_refused("KITO_SESSION_IDLE_MINER_S", "2592001");
    expect_refused("KITO_SESSION_TOUCH_S", "0");
}
