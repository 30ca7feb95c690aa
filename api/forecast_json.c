/* forecast_json.c -- the serving-demand forecasts behind GET /v1/capacity, learned
 * incrementally from the capacity samples (the contract: forecast_json.h). */
#include "api/forecast_json.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/forecast.h"
#include "policy/tz.h"
#include "store/forecast.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct entry {
    char *cluster;
    char *sku;
    struct forecast *f;
};

struct api_forecasts {
    pthread_mutex_t mu;
    struct entry *e;
    size_t n, cap;
    int64_t read_until_ms; /* samples before this have been learned; 0: none read yet */
};

/* One refresh: the forecasts and the clusters it may learn for. */
struct refresh {
    struct api_forecasts *f;
    const struct api_forecast_cluster *clusters;
    size_t n;
};

struct api_forecasts *api_forecasts_new(void)
{
    struct api_forecasts *f = xcalloc(1, sizeof(*f));

    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void api_forecasts_free(struct api_forecasts **fp)
{
    struct api_forecasts *f;

    if (!fp || !*fp)
        return;
    f = *fp;
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].cluster);
        free(f->e[i].sku);
        forecast_free(&f->e[i].f);
    }
    free(f->e);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *fp = NULL;
}

static struct entry *entry_find(struct api_forecasts *f, const char *cluster, const char *sku)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->e[i].cluster, cluster) == 0 && strcmp(f->e[i].sku, sku) == 0)
            return &f->e[i];
    return NULL;
}

static int entry_add(struct api_forecasts *f, const char *cluster, const char *sku,
                     const char *tz_text, struct entry **out, struct err *e)
{
    struct forecast_params p;
    struct tz_rule tz;
    struct forecast *fc = NULL;
    struct err te = {0};

    if (tz_parse(tz_text, &tz, &te))
        return err_set(e, ERR_INVALID, "timeZone", "cluster %s: %s", cluster, te.msg);
    forecast_params_default(&p);
    if (forecast_new(&p, &tz, &fc, e))
        return -1;
    if (f->n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 8;
        f->e = xrealloc(f->e, f->cap * sizeof(*f->e));
    }
    f->e[f->n] = (struct entry){.cluster = xstrdup(cluster), .sku = xstrdup(sku), .f = fc};
    *out = &f->e[f->n++];
    return 0;
}

static int learn_row(const struct store_serving_sample *x, void *arg, struct err *e)
{
    struct refresh *r = arg;
    struct entry *en = entry_find(r->f, x->cluster, x->sku);
    size_t c;

    if (!en) {
        for (c = 0; c < r->n && strcmp(r->clusters[c].name, x->cluster) != 0; c++)
            ;
        if (c == r->n)
            return 0;
        if (entry_add(r->f, x->cluster, x->sku, r->clusters[c].tz, &en, e))
            return -1;
    }
    /* Already learned: reads overlap (see API_FORECAST_OVERLAP_MS), and a read that failed
     * half-way is read again. */
    if (x->ts_ms <= forecast_latest(en->f))
        return 0;
    return forecast_observe(en->f, x->ts_ms,
                            forecast_demand(x->used, x->borrowed, x->pending_demand), e);
}

static json_t *num_or_null(bool known, double v)
{
    return known ? json_real(v) : json_null();
}

static json_t *estimate_json(const char *key, int64_t at, const struct forecast_estimate *est)
{
    char t[40];

    clock_format_rfc3339(at, t, sizeof(t));
    return json_pack("{s:s,s:o,s:o}", key, t, "p50", num_or_null(est->known, est->p50), "p95",
                     num_or_null(est->known, est->p95));
}

static json_t *entry_json(const struct entry *en, int64_t now_ms)
{
    struct forecast_estimate est;
    int64_t slot0 = now_ms - now_ms % FORECAST_SLOT_MS;
    json_t *next = json_array();

    /* Local slots start on UTC quarter hours in every zone whose offset is a whole
     * number of quarter hours, which is all of them today. */
    for (int i = 1; i <= API_FORECAST_STEPS; i++) {
        int64_t at = slot0 + (int64_t)i * FORECAST_SLOT_MS;

        forecast_predict(en->f, at, &est);
        json_array_append_new(next, estimate_json("at", at, &est));
    }
    forecast_predict(en->f, now_ms, &est);
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "cluster", en->cluster, "sku", en->sku, "pool",
                     "serving", "now", estimate_json("slotStart", slot0, &est), "next24h", next);
}

json_t *api_forecasts_json(struct api_forecasts *f, struct store *s,
                           const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                           struct err *e)
{
    struct refresh r = {.f = f, .clusters = clusters, .n = n};
    int64_t since, until = now_ms + 1;
    json_t *out = NULL;

    pthread_mutex_lock(&f->mu);
    since = f->read_until_ms ? f->read_until_ms - API_FORECAST_OVERLAP_MS
                             : now_ms - API_FORECAST_HORIZON_MS;
    if (since < until) {
        if (store_serving_samples(s, since, until, learn_row, &r, e))
            goto out;
        f->read_until_ms = until;
    }
    out = json_array();
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < f->n; i++)
            if (strcmp(f->e[i].cluster, clusters[c].name) == 0)
                json_array_append_new(out, entry_json(&f->e[i], now_ms));
out:
    pthread_mutex_unlock(&f->mu);
    return out;
}
