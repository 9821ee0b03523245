/*
 * TLS for kitod: an OpenSSL 3 server context on Mozilla's "intermediate" profile (TLS 1.2 and
 * 1.3 only; the intermediate cipher list for 1.2; groups X25519, P-256, P-384; the client's
 * cipher preference; no compression, no renegotiation; session tickets on) with ALPN h2 and
 * http/1.1 (or http/1.1 alone).
 */
#ifndef KITO_TLS_H
#define KITO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "engine/err.h"

/* Mozilla intermediate (v5.7) cipher suites for TLS 1.2. */
#define KITO_TLS12_CIPHERS                                                                         \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"                                   \
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"
#define KITO_TLS13_CIPHERSUITES                                                                    \
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define KITO_TLS_GROUPS "X25519:prime256v1:secp384r1"

/* Creates the server context from a PEM certificate chain and key. http2 offers "h2" first in
 * ALPN. On failure returns KITO_E_CONFIG (unreadable or mismatched certificate/key) or
 * KITO_E_INTERNAL and writes the reason (OpenSSL's included) into err; *out is then NULL.
 * Free with SSL_CTX_free. */
kito_err kito_tls_create(const char *cert_path, const char *key_path, bool http2, SSL_CTX **out,
                         char *err, size_t err_size);

#endif
