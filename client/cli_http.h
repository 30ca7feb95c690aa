/* cli_http.h -- the client verbs' HTTP: one request to the fedsched API with the bearer
 * token, retried on network errors and on 502/503/504/429 with capped exponential
 * back-off until a time budget ends, so a CI job rides out a server restart.
 * Callers make retries of writes safe with an Idempotency-Key (POST) or by the method's
 * own idempotency (GET, DELETE). Not responsible for what the replies mean (cli.c). */
#ifndef CLIENT_CLI_HTTP_H
#define CLIENT_CLI_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct err;
struct cli_http;

#define CLI_HTTP_MAX_BODY (256L * 1024 * 1024) /* a reply larger than this is refused */

struct cli_http_opts {
    const char *base_url; /* "http://127.0.0.1:8080", no trailing slash needed */
    const char *token;    /* NULL: no Authorization header */
    int64_t retry_ms;     /* budget for retries of one request; 0: one attempt only */
    int verbose;          /* 1: one stderr line per retry */
};

/* Caller owns *out (cli_http_free). Strings in o are copied. Not thread-safe: one per
 * thread. ERR_CONFIG when base_url is empty or not http(s)://. */
int cli_http_new(const struct cli_http_opts *o, struct cli_http **out, struct err *e);
void cli_http_free(struct cli_http **h); /* NULL-safe; sets *h to NULL */

/* Changes the retry budget for the following requests (a wait uses what is left of its
 * timeout). */
void cli_http_set_retry(struct cli_http *h, int64_t retry_ms);

struct cli_http_reply {
    long status;
    char *body; /* NUL-terminated, owned; "" when empty */
    size_t len;
};

/* Sends method path (with query) and body (JSON, may be NULL). idem_key (may be NULL) is
 * sent as Idempotency-Key. timeout_s bounds each attempt. Returns 0 once any HTTP reply
 * that is not retryable arrived (any status, including 4xx and a last 5xx), filling
 * *out (cli_http_reply_clear). Fails with ERR_UNAVAILABLE when the server could not be
 * reached within the retry budget (message says why: refused, timed out, ...),
 * ERR_TOO_LARGE for an oversized reply. */
int cli_http_do(struct cli_http *h, const char *method, const char *path, const char *body,
                const char *idem_key, long timeout_s, struct cli_http_reply *out, struct err *e);
void cli_http_reply_clear(struct cli_http_reply *r);

/* Describes a non-2xx reply for people: "422 invalid: spec.resources.gpuCount: gpuCount 0
 * is not in 1..4096" from the API's {"error":{code,field,message}}; when it lists more
 * than one cause, "422 invalid: N problems" and each "field: message" on a line of its
 * own. Otherwise the status and the start of the body. */
void cli_http_error_text(const struct cli_http_reply *r, char *out, size_t size);

/* A new random key for one logical submission ("fedsched-cli-<32 hex>"). */
void cli_http_new_key(char *out, size_t size);

#endif
