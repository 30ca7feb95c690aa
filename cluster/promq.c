/* promq.c -- a serving pool's demand query: one Prometheus instant query, read strictly. */
#include "cluster/promq.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"

#include <curl/curl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *promq_result_name(enum promq_result r)
{
    static const char *const names[PROMQ_RESULTS] = {
        "ok",    "timeout", "connect",      "http",     "error", "malformed",
        "empty", "several", "not_a_number", "negative", "stale"};

    return r >= 0 && r < PROMQ_RESULTS ? names[r] : "malformed";
}

int promq_url(const char *base, const char *query, char *out, size_t size, struct err *e)
{
    size_t blen = strlen(base), n;
    struct buf b;
    int rc = 0;

    while (blen && base[blen - 1] == '/')
        blen--;
    buf_init(&b, size);
    rc |= buf_printf(&b, "%.*s/api/v1/query?query=", (int)blen, base);
    /* A space too becomes %20: '+' means a space only in forms (Prometheus reads both). */
    rc |= buf_url_escape(&b, query);
    n = b.len;
    if (rc || n + 1 > size) {
        buf_free(&b);
        return err_set(e, ERR_TOO_LARGE, "servingPool.demandQuery",
                       "the query URL is longer than %zu bytes", size - 1);
    }
    memcpy(out, b.data, n);
    out[n] = '\0';
    buf_free(&b);
    return 0;
}

static void fail(struct promq_answer *out, enum promq_result r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct promq_answer *out, enum promq_result r, const char *fmt, ...)
{
    char raw[sizeof(out->error)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(raw, sizeof(raw), fmt, ap);
    va_end(ap);
    out->result = r;
    out->value = 0;
    out->at_ms = 0;
    /* The text quotes the server's bytes: make it safe for JSON, logs and metrics. */
    utf8_sanitize(out->error, sizeof(out->error), raw);
}

/* The decoded string tok, cut to fit out, with anything but printable ASCII as '?': it
 * only goes into error messages. "" when tok is not a string. */
static void quoted(const struct k8s_json *d, int tok, char *out, size_t size)
{
    if (k8s_json_str(d, tok, out, size) < 0) {
        out[0] = '\0';
        return;
    }
    for (char *p = out; *p; p++)
        if (*p < ' ' || *p > '~' || *p == '"' || *p == '\\')
            *p = '?';
}

/* A JSON number, or a string holding one as Prometheus writes sample values: digits, sign,
 * point and exponent only (strtod would also take "nan", "inf" and hex, which a sample's
 * bytes must not smuggle in). 0 with *v, or -1; *special is set for NaN and infinities. */
static int number(const struct k8s_json *d, int tok, double *v, bool *special)
{
    char txt[64];
    size_t len = 0;
    const char *raw;
    char *end;

    *special = false;
    if (k8s_json_type(d, tok) == K8S_JSON_STRING) {
        long n = k8s_json_str(d, tok, txt, sizeof(txt));

        if (n < 0 || (size_t)n >= sizeof(txt))
            return -1;
        len = (size_t)n;
    } else if (k8s_json_type(d, tok) == K8S_JSON_NUMBER) {
        raw = k8s_json_raw(d, tok, &len);
        if (!raw || len >= sizeof(txt))
            return -1;
        memcpy(txt, raw, len);
        txt[len] = '\0';
    } else {
        return -1;
    }
    if (strcmp(txt, "NaN") == 0 || strcmp(txt, "+Inf") == 0 || strcmp(txt, "-Inf") == 0 ||
        strcmp(txt, "Inf") == 0) {
        *special = true;
        return -1;
    }
    if (len == 0 || strspn(txt, "0123456789+-.eE") != len)
        return -1;
    *v = strtod(txt, &end);
    if (end != txt + len)
        return -1;
    if (!isfinite(*v)) { /* 1e999 */
        *special = true;
        return -1;
    }
    return 0;
}

/* [<unix seconds>, "<value>"] */
static void read_sample(const struct k8s_json *d, int sample, int64_t now_ms, int64_t max_age_ms,
                        struct promq_answer *out)
{
    int ts = k8s_json_child(d, sample), val = ts >= 0 ? k8s_json_next(d, sample, ts) : -1;
    char shown[40];
    double t, v;
    bool special;
    int64_t at;

    if (k8s_json_type(d, sample) != K8S_JSON_ARRAY || d->toks[sample].count != 2) {
        fail(out, PROMQ_MALFORMED, "the sample is not [time, \"value\"]");
        return;
    }
    if (number(d, ts, &t, &special) != 0 || k8s_json_type(d, ts) != K8S_JSON_NUMBER || t <= 0 ||
        t > 1e11) {
        fail(out, PROMQ_MALFORMED, "the sample's time is not a unix time in seconds");
        return;
    }
    if (k8s_json_type(d, val) != K8S_JSON_STRING) {
        fail(out, PROMQ_MALFORMED, "the sample's value is not a string");
        return;
    }
    if (number(d, val, &v, &special) != 0) {
        quoted(d, val, shown, sizeof(shown));
        fail(out, special ? PROMQ_NOT_A_NUMBER : PROMQ_MALFORMED, "value \"%s\" is not a number",
             shown);
        return;
    }
    at = (int64_t)(t * 1000.0);
    if (at < now_ms - max_age_ms || at > now_ms + max_age_ms) {
        fail(out, PROMQ_STALE, "evaluated at %.3f, %lld s from now (max %lld s)", t,
             (long long)((at > now_ms ? at - now_ms : now_ms - at) / 1000),
             (long long)(max_age_ms / 1000));
        return;
    }
    if (v < 0) {
        fail(out, PROMQ_NEGATIVE, "value %g is negative", v);
        return;
    }
    out->result = PROMQ_OK;
    out->value = v + 0.0; /* -0 reads as 0 */
    out->at_ms = at;
    out->error[0] = '\0';
}

void promq_parse(long status, const char *body, size_t len, int64_t now_ms, int64_t max_age_ms,
                 struct promq_answer *out)
{
    struct k8s_json d;
    struct err e = {0};
    char a[48], b[120];
    int st, data, rt, res, sample = -1;

    memset(out, 0, sizeof(*out));
    k8s_json_init(&d);
    if (len > PROMQ_BODY_MAX) {
        fail(out, PROMQ_MALFORMED, "an answer of %zu bytes, over %d", len, PROMQ_BODY_MAX);
        goto out;
    }
    if (k8s_json_parse(&d, body ? body : "", body ? len : 0, 8, &e) != 0 ||
        k8s_json_type(&d, 0) != K8S_JSON_OBJECT) {
        if (status != 200)
            fail(out, PROMQ_HTTP, "HTTP %ld", status);
        else
            fail(out, PROMQ_MALFORMED, "not a JSON object: %s", e.msg[0] ? e.msg : "");
        goto out;
    }
    st = k8s_json_get(&d, 0, "status");
    if (k8s_json_str_eq(&d, st, "error")) {
        quoted(&d, k8s_json_get(&d, 0, "errorType"), a, sizeof(a));
        quoted(&d, k8s_json_get(&d, 0, "error"), b, sizeof(b));
        fail(out, PROMQ_ERROR, "HTTP %ld %s: %s", status, a, b);
        goto out;
    }
    if (status != 200) {
        fail(out, PROMQ_HTTP, "HTTP %ld", status);
        goto out;
    }
    if (!k8s_json_str_eq(&d, st, "success")) {
        fail(out, PROMQ_MALFORMED, "status is not \"success\" or \"error\"");
        goto out;
    }
    data = k8s_json_get(&d, 0, "data");
    rt = k8s_json_get(&d, data, "resultType");
    res = k8s_json_get(&d, data, "result");
    if (k8s_json_str_eq(&d, rt, "scalar")) {
        sample = res;
    } else if (k8s_json_str_eq(&d, rt, "vector")) {
        int el = k8s_json_child(&d, res);

        if (k8s_json_type(&d, res) != K8S_JSON_ARRAY) {
            fail(out, PROMQ_MALFORMED, "data.result is not an array");
            goto out;
        }
        if (d.toks[res].count == 0) {
            fail(out, PROMQ_EMPTY, "the query matched no series");
            goto out;
        }
        if (d.toks[res].count > 1) {
            fail(out, PROMQ_SEVERAL, "%u series: aggregate them into one (sum())",
                 (unsigned)d.toks[res].count);
            goto out;
        }
        if (k8s_json_type(&d, el) != K8S_JSON_OBJECT) {
            fail(out, PROMQ_MALFORMED, "data.result[0] is not an object");
            goto out;
        }
        sample = k8s_json_get(&d, el, "value");
        if (sample < 0 && k8s_json_get(&d, el, "histogram") >= 0) {
            fail(out, PROMQ_NOT_A_NUMBER, "a native histogram, not a number");
            goto out;
        }
    } else {
        quoted(&d, rt, a, sizeof(a));
        fail(out, PROMQ_MALFORMED, "resultType \"%s\": want vector or scalar", a);
        goto out;
    }
    read_sample(&d, sample, now_ms, max_age_ms, out);
out:
    k8s_json_free(&d);
}

struct body {
    struct buf b;
    bool over;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct body *bd = arg;

    if (bd->b.len + size * n > PROMQ_BODY_MAX || buf_append(&bd->b, p, size * n) != 0) {
        bd->over = true;
        return 0; /* libcurl ends the transfer with CURLE_WRITE_ERROR */
    }
    return size * n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const int *cancel = arg;

    (void)dt, (void)dn, (void)ut, (void)un;
    return cancel && __atomic_load_n(cancel, __ATOMIC_RELAXED) ? 1 : 0;
}

void promq_fetch(const struct cluster_demand_query *q, int64_t now_ms, const int *cancel,
                 struct promq_answer *out)
{
    size_t cap = strlen(q->url) + 3 * strlen(q->query) + 32;
    char *url = xmalloc(cap);
    struct curl_slist *hdrs = NULL;
    struct body bd = {.over = false};
    struct err e = {0};
    CURL *h = NULL;
    CURLcode rc;
    long status = 0;

    memset(out, 0, sizeof(*out));
    buf_init(&bd.b, PROMQ_BODY_MAX);
    if (promq_url(q->url, q->query, url, cap, &e) != 0) {
        fail(out, PROMQ_MALFORMED, "%s", e.msg);
        goto out;
    }
    h = curl_easy_init();
    if (!h) {
        fail(out, PROMQ_CONNECT, "cannot set up a libcurl handle");
        goto out;
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &bd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)q->timeout_ms);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, (void *)cancel);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        if (rc == CURLE_ABORTED_BY_CALLBACK)
            fail(out, PROMQ_CONNECT, "cancelled");
        else if (bd.over)
            fail(out, PROMQ_MALFORMED, "an answer over %d bytes", PROMQ_BODY_MAX);
        else
            fail(out, rc == CURLE_OPERATION_TIMEDOUT ? PROMQ_TIMEOUT : PROMQ_CONNECT, "%s",
                 curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    promq_parse(status, bd.b.data, bd.b.len, now_ms, q->max_age_ms, out);
out:
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    buf_free(&bd.b);
    free(url);
}

int promq_announce(struct snapshot_agg *a, double figure)
{
    int64_t want, have, add, lendable;

    if (!(figure >= 0) || !isfinite(figure))
        return 0;
    want = figure >= K8S_GPUS_MAX ? K8S_GPUS_MAX : (int64_t)ceil(figure);
    have = (int64_t)a->used - a->borrowed + a->pending_serving + a->announced_serving;
    add = want - have;
    if (add <= 0)
        return 0;
    a->announced_serving =
        (int64_t)a->announced_serving + add > INT_MAX ? INT_MAX : (int)(a->announced_serving + add);
    lendable = (int64_t)a->free - a->reserve - a->pending_serving - a->announced_serving;
    a->lendable = lendable > 0 ? (int)lendable : 0;
    return (int)add;
}
