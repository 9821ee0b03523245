/*
 * Africa's Talking's SMS API (api/adapters/africastalking.h).
 */
#include "api/adapters/africastalking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#define ANSWER_MAX 65536

void kito_at_sms_parse(long http_status, const char *body, size_t len, kito_at_result *out)
{
    memset(out, 0, sizeof(*out));
    if (http_status >= 500) {
        out->verdict = KITO_AT_TRY_LATER;
        snprintf(out->status, sizeof(out->status), "HTTP %ld", http_status);
        return;
    }
    if (http_status >= 400) {
        out->verdict = KITO_AT_REFUSED;
        snprintf(out->status, sizeof(out->status), "HTTP %ld", http_status);
        return;
    }
    json_t *doc = body != NULL ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *r =
        json_array_get(json_object_get(json_object_get(doc, "SMSMessageData"), "Recipients"), 0);
    json_t *code = json_object_get(r, "statusCode");
    if (http_status < 200 || http_status > 299 || !json_is_integer(code)) {
        /* 2xx without a recipient's verdict: it may have gone */
        out->verdict = KITO_AT_UNKNOWN;
        snprintf(out->status, sizeof(out->status), "unreadable (HTTP %d)",
                 (int)(http_status % 1000));
        json_decref(doc);
        return;
    }
    out->status_code = (int)json_integer_value(code);
    const char *id = json_string_value(json_object_get(r, "messageId"));
    const char *st = json_string_value(json_object_get(r, "status"));
    snprintf(out->status, sizeof(out->status), "%s", st != NULL ? st : "");
    if (out->status_code >= 100 && out->status_code <= 102 && id != NULL && id[0] != 0 &&
        strcmp(id, "None") != 0) {
        out->verdict = KITO_AT_TAKEN;
        snprintf(out->message_id, sizeof(out->message_id), "%s", id);
    } else if (out->status_code >= 500) {
        out->verdict = KITO_AT_TRY_LATER;
    } else {
        out->verdict = KITO_AT_REFUSED;
    }
    json_decref(doc);
}

typedef struct answer {
    char *body;
    size_t len;
} answer;

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    answer *a = ud;
    size_t n = size * nmemb;
    if (a->len + n > ANSWER_MAX)
        return 0;
    char *b = realloc(a->body, a->len + n + 1);
    if (b == NULL)
        return 0;
    memcpy(b + a->len, data, n);
    a->body = b;
    a->len += n;
    b[a->len] = 0;
    return n;
}

/* Appends name=value form-encoded to buf. */
static void field(CURL *c, char **buf, const char *name, const char *value)
{
    char *v = curl_easy_escape(c, value, 0);
    size_t have = *buf != NULL ? strlen(*buf) : 0;
    size_t need = have + strlen(name) + (v != NULL ? strlen(v) : 0) + 3;
    char *b = realloc(*buf, need);
    if (b == NULL || v == NULL) {
        curl_free(v);
        if (b != NULL)
            *buf = b;
        return;
    }
    snprintf(b + have, need - have, "%s%s=%s", have > 0 ? "&" : "", name, v);
    *buf = b;
    curl_free(v);
}

void kito_at_sms_send(const kito_at_conf *conf, const char *to, const char *message,
                      kito_at_result *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = KITO_AT_TRY_LATER;
    CURL *c = curl_easy_init();
    char url[1100], key[600];
    snprintf(url, sizeof(url), "%s/version1/messaging", conf->base_url);
    snprintf(key, sizeof(key), "apiKey: %s", conf->api_key);
    char *form = NULL;
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    struct curl_slist *h2 = h != NULL ? curl_slist_append(h, key) : NULL;
    if (c == NULL || h2 == NULL) {
        snprintf(out->status, sizeof(out->status), "out of memory");
        curl_easy_cleanup(c);
        curl_slist_free_all(h);
        return;
    }
    h = h2;
    field(c, &form, "username", conf->username);
    field(c, &form, "to", to);
    field(c, &form, "message", message);
    if (conf->sender != NULL && conf->sender[0] != 0)
        field(c, &form, "from", conf->sender);
    answer a = {0};
    long timeout = conf->timeout_ms > 0 ? (long)conf->timeout_ms : 10000;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form != NULL ? form : "");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout < 5000 ? timeout : 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &a);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    CURLcode rc = form != NULL ? curl_easy_perform(c) : CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        kito_at_sms_parse(status, a.body, a.len, out);
    } else {
        /* nothing reached the gateway when the connection never opened; after that, maybe */
        bool before = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                      rc == CURLE_OUT_OF_MEMORY;
        out->verdict = before ? KITO_AT_TRY_LATER : KITO_AT_UNKNOWN;
        snprintf(out->status, sizeof(out->status), "%s", curl_easy_strerror(rc));
    }
    free(a.body);
    free(form);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
}
