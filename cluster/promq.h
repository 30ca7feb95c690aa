/* promq.h -- a serving pool's optional demand query: one instant query to a
 * Prometheus-compatible HTTP API (GET <base>/api/v1/query?query=...), its answer read
 * strictly into one figure of GPUs, and what that figure adds to the pool's announced
 * serving demand (docs/clusters.md, "Demand query").
 * Not responsible for when queries are asked or where results are kept (poller.c). */
#ifndef CLUSTER_PROMQ_H
#define CLUSTER_PROMQ_H

#include "cluster/cluster_config.h"
#include "policy/snapshot.h"

#include <stddef.h>
#include <stdint.h>

struct err;

/* What became of one query: only PROMQ_OK gives a figure. The names are the label values
 * of fedsched_cluster_demand_query_total{result}. */
enum promq_result {
    PROMQ_OK = 0,
    PROMQ_TIMEOUT,      /* no whole answer within timeoutMs */
    PROMQ_CONNECT,      /* refused, reset, DNS, TLS */
    PROMQ_HTTP,         /* a status other than 200 without a Prometheus error body */
    PROMQ_ERROR,        /* {"status":"error"}: a bad query (400), one that cannot be
                            executed (422), a timeout or abort on the server (503) */
    PROMQ_MALFORMED,    /* not a Prometheus answer: bad JSON, too large or deep, wrong shape,
                            a matrix or string result */
    PROMQ_EMPTY,        /* an empty vector: the query matched no series */
    PROMQ_SEVERAL,      /* several series: the query must aggregate them (sum()) */
    PROMQ_NOT_A_NUMBER, /* NaN, +Inf, -Inf, a native histogram, not a number */
    PROMQ_NEGATIVE,     /* below 0 */
    PROMQ_STALE,        /* evaluated further than maxAgeSeconds from our clock */
};
#define PROMQ_RESULTS 11
const char *promq_result_name(enum promq_result r); /* "ok", "timeout", ... */

/* The largest answer read; a longer one is PROMQ_MALFORMED. One number needs a few hundred
 * bytes; a query that returns thousands of series is a mistake we refuse cheaply. */
#define PROMQ_BODY_MAX (64 * 1024)

struct promq_answer {
    enum promq_result result;
    double value;    /* GPUs (finite, >= 0) when result is PROMQ_OK, else 0 */
    int64_t at_ms;   /* the sample's evaluation time when PROMQ_OK, else 0 */
    char error[200]; /* "" when PROMQ_OK; else what went wrong, valid UTF-8, values quoted */
};

/* Writes base + "/api/v1/query?query=" + query percent-encoded (RFC 3986 unreserved bytes
 * kept) into out. A trailing '/' of base is dropped. Fails with ERR_TOO_LARGE when out is
 * too small; out is written only on success. */
int promq_url(const char *base, const char *query, char *out, size_t size, struct err *e);

/* Reads an answer: status is the HTTP status, body its len bytes (any bytes: hostile input
 * never crashes or reads out of bounds). Only the shapes of the Prometheus HTTP API count:
 * {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},
 * "value":[<unix seconds>,"<number>"]}]}} with exactly one series, or
 * {"resultType":"scalar","result":[<unix seconds>,"<number>"]}. The sample must have been
 * evaluated within max_age_ms of now_ms (either side). Never fails: out says how it went. */
void promq_parse(long status, const char *body, size_t len, int64_t now_ms, int64_t max_age_ms,
                 struct promq_answer *out);

/* Asks q once and blocks until the answer, q->timeout_ms at most (connect included), then
 * reads it with promq_parse(). No credentials are sent, redirects are not followed, the
 * body is capped at PROMQ_BODY_MAX. cancel (may be NULL) is read atomically while the
 * request runs: non-zero ends it at once (PROMQ_CONNECT, "cancelled"), so a shutdown never
 * waits for a slow server. Thread-safe (a handle of its own per call); libcurl must have
 * been initialised (curl_global_init). */
void promq_fetch(const struct cluster_demand_query *q, int64_t now_ms, const int *cancel,
                 struct promq_answer *out);

/* The GPUs a figure adds to serving aggregate a: the figure (rounded up, at most
 * K8S_GPUS_MAX) is the serving GPUs the pool wants on that SKU in all, so only what it
 * wants beyond what serving already uses (used - borrowed), waits for (pending_serving) and
 * has announced is added: max(0, figure - that). Adds it to a->announced_serving and
 * lowers a->lendable accordingly (lendable = max(0, free - reserve - pending - announced));
 * returns it. A negative or non-finite figure adds nothing. */
int promq_announce(struct snapshot_agg *a, double figure);

#endif
