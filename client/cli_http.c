/* cli_http.c -- libcurl requests for the client verbs, with retries and back-off. */
#include "client/cli_http.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_FIRST_MS 200
#define BACKOFF_MAX_MS   5000

struct cli_http {
    char *base;
    char *auth; /* "Authorization: Bearer ..." or NULL */
    int64_t retry_ms;
    int verbose;
    CURL *curl;
};

int cli_http_new(const struct cli_http_opts *o, struct cli_http **out, struct err *e)
{
    struct cli_http *h;
    size_t n;

    if (!o->base_url || !*o->base_url)
        return err_set(e, ERR_CONFIG, "FEDSCHED_URL", "FEDSCHED_URL is empty");
    if (strncmp(o->base_url, "http://", 7) != 0 && strncmp(o->base_url, "https://", 8) != 0)
        return err_set(e, ERR_CONFIG, "FEDSCHED_URL",
                       "FEDSCHED_URL \"%s\" must start with http:// or https://", o->base_url);
    h = xcalloc(1, sizeof(*h));
    h->base = xstrdup(o->base_url);
    n = strlen(h->base);
    while (n > 0 && h->base[n - 1] == '/')
        h->base[--n] = '\0';
    if (o->token && *o->token)
        h->auth = xasprintf("Authorization: Bearer %s", o->token);
    h->retry_ms = o->retry_ms;
    h->verbose = o->verbose;
    h->curl = curl_easy_init();
    if (!h->curl) {
        cli_http_free(&h);
        return err_set(e, ERR_INTERNAL, NULL, "cannot initialise libcurl");
    }
    *out = h;
    return 0;
}

void cli_http_free(struct cli_http **hp)
{
    struct cli_http *h;

    if (!hp || !*hp)
        return;
    h = *hp;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    free(h->auth);
    free(h);
    *hp = NULL;
}

void cli_http_set_retry(struct cli_http *h, int64_t retry_ms)
{
    h->retry_ms = retry_ms > 0 ? retry_ms : 0;
}

void cli_http_reply_clear(struct cli_http_reply *r)
{
    free(r->body);
    memset(r, 0, sizeof(*r));
}

static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
    struct buf *b = cls;

    return buf_append(b, p, size * n) ? 0 : size * n;
}

static int retryable_status(long st)
{
    return st == 502 || st == 503 || st == 504 || st == 429;
}

/* One attempt. Returns the CURLcode; *status is the HTTP status when one arrived. */
static CURLcode attempt(struct cli_http *h, const char *method, const char *url, const char *body,
                        const char *idem_key, long timeout_s, struct buf *b, long *status)
{
    struct curl_slist *hdr = NULL;
    char key_hdr[200];
    CURLcode rc;

    curl_easy_reset(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "fedsched-cli");
    hdr = curl_slist_append(hdr, "Accept: application/json");
    hdr = curl_slist_append(hdr, "Expect:");
    if (h->auth)
        hdr = curl_slist_append(hdr, h->auth);
    if (idem_key) {
        snprintf(key_hdr, sizeof(key_hdr), "Idempotency-Key: %s", idem_key);
        hdr = curl_slist_append(hdr, key_hdr);
    }
    if (body) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdr);
    *status = 0;
    rc = curl_easy_perform(h->curl);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all(hdr);
    return rc;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

int cli_http_do(struct cli_http *h, const char *method, const char *path, const char *body,
                const char *idem_key, long timeout_s, struct cli_http_reply *out, struct err *e)
{
    char *url = xasprintf("%s%s", h->base, path);
    int64_t deadline = clock_mono_ms() + h->retry_ms, backoff = BACKOFF_FIRST_MS;
    struct buf b;
    int rc = -1;

    buf_init(&b, (size_t)CLI_HTTP_MAX_BODY);
    for (int n = 1;; n++) {
        long status = 0;
        CURLcode cc;
        char why[256];

        buf_reset(&b);
        cc = attempt(h, method, url, body, idem_key, timeout_s, &b, &status);
        if (cc == CURLE_WRITE_ERROR) {
            err_set(e, ERR_TOO_LARGE, NULL, "%s %s: reply larger than %ld bytes", method, url,
                    CLI_HTTP_MAX_BODY);
            goto out;
        }
        if (cc == CURLE_OK && !retryable_status(status))
            break;
        if (cc == CURLE_OK)
            snprintf(why, sizeof(why), "HTTP %ld", status);
        else
            snprintf(why, sizeof(why), "%s", curl_easy_strerror(cc));
        if (clock_mono_ms() + backoff > deadline) {
            if (cc == CURLE_OK)
                break; /* the last 5xx is the answer; the caller explains it */
            err_set(e, ERR_UNAVAILABLE, "FEDSCHED_URL", "%s %s: %s (%d attempt%s)", method, url,
                    why, n, n == 1 ? "" : "s");
            goto out;
        }
        if (h->verbose)
            fprintf(stderr, "fedsched: %s %s: %s; retrying in %.1f s\n", method, path, why,
                    (double)backoff / 1000.0);
        sleep_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &out->status);
    if (!b.data)
        buf_puts(&b, "");
    out->len = b.len;
    out->body = buf_steal(&b);
    rc = 0;
out:
    buf_free(&b);
    free(url);
    return rc;
}

/* "field: message", or the message alone. */
static size_t cause_text(const json_t *cause, char *out, size_t size)
{
    const char *field = json_string_value(json_object_get(cause, "field"));
    const char *msg = json_string_value(json_object_get(cause, "message"));
    int n = snprintf(out, size, "%s%s%s", field ? field : "", field ? ": " : "",
                     msg ? msg : "(no message)");

    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

void cli_http_error_text(const struct cli_http_reply *r, char *out, size_t size)
{
    json_t *root = json_loads(r->body ? r->body : "", 0, NULL);
    json_t *err = json_object_get(root, "error");
    json_t *causes = json_object_get(err, "causes");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    size_t used, i;
    json_t *cause;

    if (!code || !msg) {
        snprintf(out, size, "HTTP %ld: %.200s", r->status,
                 r->body && *r->body ? r->body : "(empty reply)");
        json_decref(root);
        return;
    }
    used = (size_t)snprintf(out, size, "%ld %s: ", r->status, code);
    if (used >= size) {
        json_decref(root);
        return;
    }
    if (json_array_size(causes) < 2) {
        cause_text(err, out + used, size - used);
        json_decref(root);
        return;
    }
    /* Every cause on a line of its own, as kubectl lists a Status's causes. */
    used += (size_t)snprintf(out + used, size - used, "%zu problems", json_array_size(causes));
    json_array_foreach(causes, i, cause)
    {
        if (used + 4 >= size)
            break;
        used += (size_t)snprintf(out + used, size - used, "\n  ");
        used += cause_text(cause, out + used, size - used);
    }
    if (used + 2 < size && json_integer_value(json_object_get(err, "moreCauses")) > 0)
        snprintf(out + used, size - used, "\n  and %lld more",
                 (long long)json_integer_value(json_object_get(err, "moreCauses")));
    json_decref(root);
}

void cli_http_new_key(char *out, size_t size)
{
    unsigned char raw[16];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    char hex[40];

    while (fd >= 0 && got < sizeof(raw)) {
        ssize_t n = read(fd, raw + got, sizeof(raw) - got);

        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    if (got < sizeof(raw)) {
        /* No kernel randomness: time and pid still make a collision unlikely. */
        int64_t t = clock_realtime_ms() ^ ((int64_t)getpid() << 40) ^ clock_mono_ns();

        for (size_t i = 0; i < sizeof(raw); i++)
            raw[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
    }
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", raw[i]);
    snprintf(out, size, "fedsched-cli-%s", hex);
}
