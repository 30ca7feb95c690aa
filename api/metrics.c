/* metrics.c -- request counters and duration histograms by route, in Prometheus text
 * format. Series are few (route templates x known methods x codes), so a locked array is
 * plenty. No label takes a value a client chooses: routes are the router's templates
 * ("unmatched" for unknown paths) and a method outside the HTTP set counts as "other",
 * so no request can grow the page. */
#include "api/internal.h"

#include "base/mem.h"
#include "base/prom.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
#define NBUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

/* A ceiling on series, in case a future label escapes the rules above: past it requests
 * are counted in fedsched_http_series_overflow_total instead of new series. */
#define MAX_SERIES 1024

static const char *const known_methods[] = {"GET",    "HEAD",  "POST",   "PUT",
                                            "DELETE", "PATCH", "OPTIONS"};

struct series {
    char method[8];
    char route[64];
    int status;
    uint64_t count;
    double sum_s;
    uint64_t buckets[NBUCKETS]; /* non-cumulative; summed when rendered */
};

struct api_metrics {
    pthread_mutex_t mu;
    struct series *s;
    size_t n, cap;
    uint64_t overflow; /* requests not counted because MAX_SERIES was reached */
};

struct api_metrics *metrics_new(void)
{
    struct api_metrics *m = xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void metrics_free(struct api_metrics **mp)
{
    if (!mp || !*mp)
        return;
    pthread_mutex_destroy(&(*mp)->mu);
    free((*mp)->s);
    free(*mp);
    *mp = NULL;
}

const char *metrics_method_label(const char *method)
{
    for (size_t i = 0; method && i < sizeof(known_methods) / sizeof(known_methods[0]); i++)
        if (strcmp(method, known_methods[i]) == 0)
            return known_methods[i];
    return "other";
}

void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t duration_ns)
{
    double secs = (double)duration_ns / 1e9;
    struct series *s = NULL;

    method = metrics_method_label(method);
    if (!route)
        route = "unmatched";
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && !s; i++)
        if (m->s[i].status == status && strcmp(m->s[i].route, route) == 0 &&
            strcmp(m->s[i].method, method) == 0)
            s = &m->s[i];
    if (!s && m->n == MAX_SERIES) {
        m->overflow++;
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (!s) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 32;
            m->s = xrealloc(m->s, m->cap * sizeof(*m->s));
        }
        s = &m->s[m->n++];
        memset(s, 0, sizeof(*s));
        snprintf(s->method, sizeof(s->method), "%s", method);
        snprintf(s->route, sizeof(s->route), "%s", route);
        s->status = status;
    }
    s->count++;
    s->sum_s += secs;
    for (size_t b = 0; b < NBUCKETS; b++) {
        if (secs <= bucket_bounds[b]) {
            s->buckets[b]++;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_render(struct api_metrics *m, struct buf *out)
{
    pthread_mutex_lock(&m->mu);
    buf_puts(out, "# HELP fedsched_http_requests_total HTTP requests by route, method and "
                  "status code.\n# TYPE fedsched_http_requests_total counter\n");
    for (size_t i = 0; i < m->n; i++) {
        char route[PROM_LABEL_MAX], method[PROM_LABEL_MAX];

        buf_printf(out,
                   "fedsched_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
                   prom_label(route, sizeof(route), m->s[i].route),
                   prom_label(method, sizeof(method), m->s[i].method), m->s[i].status,
                   (unsigned long long)m->s[i].count);
    }
    buf_puts(out, "# HELP fedsched_http_request_duration_seconds Time from the request's "
                  "first byte to the response.\n"
                  "# TYPE fedsched_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const struct series *s = &m->s[i];
        char route[PROM_LABEL_MAX], method[PROM_LABEL_MAX], labels[2 * PROM_LABEL_MAX + 64];
        uint64_t cum = 0;

        snprintf(labels, sizeof(labels), "route=\"%s\",method=\"%s\",code=\"%d\"",
                 prom_label(route, sizeof(route), s->route),
                 prom_label(method, sizeof(method), s->method), s->status);
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += s->buckets[b];
            buf_printf(out, "fedsched_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                       labels, bucket_bounds[b], (unsigned long long)cum);
        }
        buf_printf(out,
                   "fedsched_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n"
                   "fedsched_http_request_duration_seconds_sum{%s} %.6f\n"
                   "fedsched_http_request_duration_seconds_count{%s} %llu\n",
                   labels, (unsigned long long)s->count, labels, s->sum_s, labels,
                   (unsigned long long)s->count);
    }
    buf_printf(out,
               "# HELP fedsched_http_series_overflow_total Requests left out of the request "
               "metrics because the series limit (%d) was reached.\n"
               "# TYPE fedsched_http_series_overflow_total counter\n"
               "fedsched_http_series_overflow_total %llu\n",
               MAX_SERIES, (unsigned long long)m->overflow);
    pthread_mutex_unlock(&m->mu);
}
