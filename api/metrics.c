/* metrics.c -- request counters and duration histograms by route, in Prometheus text
 * format. Series are few (routes x methods x codes), so a locked array is plenty. */
#include "api/internal.h"

#include "base/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double bucket_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                       0.05,   0.1,   0.25,   0.5,   1.0,  2.5};
#define NBUCKETS (sizeof(bucket_bounds) / sizeof(bucket_bounds[0]))

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

void metrics_observe(struct api_metrics *m, const char *method, const char *route, int status,
                     int64_t duration_ns)
{
    double secs = (double)duration_ns / 1e9;
    struct series *s = NULL;

    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n && !s; i++)
        if (m->s[i].status == status && strcmp(m->s[i].route, route) == 0 &&
            strcmp(m->s[i].method, method) == 0)
            s = &m->s[i];
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
    for (size_t i = 0; i < m->n; i++)
        buf_printf(
            out, "fedsched_http_requests_total{route=\"%s\",method=\"%s\",code=\"%d\"} %llu\n",
            m->s[i].route, m->s[i].method, m->s[i].status, (unsigned long long)m->s[i].count);
    buf_puts(out, "# HELP fedsched_http_request_duration_seconds Time from the request's "
                  "first byte to the response.\n"
                  "# TYPE fedsched_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->n; i++) {
        const struct series *s = &m->s[i];
        uint64_t cum = 0;

        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += s->buckets[b];
            buf_printf(out,
                       "fedsched_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                       "code=\"%d\",le=\"%g\"} %llu\n",
                       s->route, s->method, s->status, bucket_bounds[b], (unsigned long long)cum);
        }
        buf_printf(out,
                   "fedsched_http_request_duration_seconds_bucket{route=\"%s\",method=\"%s\","
                   "code=\"%d\",le=\"+Inf\"} %llu\n"
                   "fedsched_http_request_duration_seconds_sum{route=\"%s\",method=\"%s\","
                   "code=\"%d\"} %.6f\n"
                   "fedsched_http_request_duration_seconds_count{route=\"%s\",method=\"%s\","
                   "code=\"%d\"} %llu\n",
                   s->route, s->method, s->status, (unsigned long long)s->count, s->route,
                   s->method, s->status, s->sum_s, s->route, s->method, s->status,
                   (unsigned long long)s->count);
    }
    pthread_mutex_unlock(&m->mu);
}
