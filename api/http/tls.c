#include "api/http/tls.h"

#include <h2o.h>
#include <openssl/err.h>
#include <stdio.h>

static kito_err fail(SSL_CTX *ctx, kito_err e, const char *what, char *err, size_t err_size)
{
    char detail[256] = "";
    unsigned long code = ERR_get_error();
    if (code != 0)
        ERR_error_string_n(code, detail, sizeof(detail));
    ERR_clear_error();
    snprintf(err, err_size, "%s%s%s", what, detail[0] ? ": " : "", detail);
    SSL_CTX_free(ctx);
    return e;
}

/* ALPN lists in h2o's form: an array of iovecs ended by {NULL, 0}. */
static const h2o_iovec_t ALPN_HTTP1_ONLY[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

kito_err kito_tls_create(const char *cert_path, const char *key_path, bool http2, SSL_CTX **out,
                         char *err, size_t err_size)
{
    *out = NULL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return fail(NULL, KITO_E_INTERNAL, "SSL_CTX_new", err, err_size);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1)
        return fail(ctx, KITO_E_INTERNAL, "cannot limit TLS to 1.2 and 1.3", err, err_size);
    if (SSL_CTX_set_cipher_list(ctx, KITO_TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, KITO_TLS13_CIPHERSUITES) != 1)
        return fail(ctx, KITO_E_INTERNAL, "cannot set the cipher suites", err, err_size);
    if (SSL_CTX_set1_groups_list(ctx, KITO_TLS_GROUPS) != 1)
        return fail(ctx, KITO_E_INTERNAL, "cannot set the key exchange groups", err, err_size);
    /* DHE suites only reach clients of an RSA certificate; let OpenSSL size the group. */
    SSL_CTX_set_dh_auto(ctx, 1);
    /* Mozilla's intermediate profile leaves the choice to the client; testssl.sh rates "no
     * cipher order" HIGH, and the issue wants it clean. So the server orders (all suites are
     * strong; AES-GCM first) but lets ChaCha20 win when the client lists it first, which is
     * what the client-choice rule is for: phones without AES hardware. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);

    if (SSL_CTX_use_certificate_chain_file(ctx, cert_path) != 1) {
        char what[1200];
        snprintf(what, sizeof(what), "cannot load the certificate chain %s (KITO_TLS_CERT)",
                 cert_path);
        return fail(ctx, KITO_E_CONFIG, what, err, err_size);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1) {
        char what[1200];
        snprintf(what, sizeof(what), "cannot load the private key %s (KITO_TLS_KEY)", key_path);
        return fail(ctx, KITO_E_CONFIG, what, err, err_size);
    }
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(ctx, KITO_E_CONFIG, "KITO_TLS_KEY does not match KITO_TLS_CERT", err, err_size);
    h2o_ssl_register_alpn_protocols(ctx, http2 ? h2o_http2_alpn_protocols : ALPN_HTTP1_ONLY);
    *out = ctx;
    return KITO_OK;
}
