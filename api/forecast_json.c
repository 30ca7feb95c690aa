/* forecast_json.c -- the serving-demand forecasts behind GET /v1/capacity, learned
 * incrementally from the capacity samples (the contract: forecast_json.h). */
#include "api/forecast_json.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/forecast.h"
#include "policy/forecast_set.h"
#include "store/forecast.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct api_forecasts {
    pthread_mutex_t mu;
    struct forecast_set *set;
};

/* One refresh: the forecasts and the clusters it may learn for. */
struct refresh {
    struct forecast_set *set;
    const struct api_forecast_cluster *clusters;
    size_t n;
};

struct api_forecasts *api_forecasts_new(void)
{
    struct api_forecasts *f = xcalloc(1, sizeof(*f));

    pthread_mutex_init(&f->mu, NULL);
    f->set = forecast_set_new();
    return f;
}

void api_forecasts_free(struct api_forecasts **fp)
{
    struct api_forecasts *f;

    if (!fp || !*fp)
        return;
    f = *fp;
    forecast_set_free(&f->set);
    pthread_mutex_destroy(&f->mu);
    free(f);
    *fp = NULL;
}

static int learn_row(const struct store_serving_sample *x, void *arg, struct err *e)
{
    struct refresh *r = arg;
    size_t c;

    for (c = 0; c < r->n && strcmp(r->clusters[c].name, x->cluster) != 0; c++)
        ;
    if (c == r->n)
        return 0;
    return forecast_set_learn(r->set, x->cluster, x->sku, r->clusters[c].tz, x->ts_ms,
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

static json_t *entry_json(const char *cluster, const char *sku, const struct forecast *f,
                          int64_t now_ms)
{
    struct forecast_estimate est;
    int64_t slot0 = now_ms - now_ms % FORECAST_SLOT_MS;
    json_t *next = json_array();

    /* Local slots start on UTC quarter hours in every zone whose offset is a whole
     * number of quarter hours, which is all of them today. */
    for (int i = 1; i <= API_FORECAST_STEPS; i++) {
        int64_t at = slot0 + (int64_t)i * FORECAST_SLOT_MS;

        forecast_predict(f, at, &est);
        json_array_append_new(next, estimate_json("at", at, &est));
    }
    forecast_predict(f, now_ms, &est);
    return json_pack("{s:s,s:s,s:s,s:o,s:o}", "cluster", cluster, "sku", sku, "pool", "serving",
                     "now", estimate_json("slotStart", slot0, &est), "next24h", next);
}

/* Learns the samples since the previous read; called with f->mu held. */
static int refresh_locked(struct api_forecasts *f, struct store *s,
                          const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                          struct err *e)
{
    struct refresh r = {.set = f->set, .clusters = clusters, .n = n};
    int64_t since = forecast_set_read_from(f->set, now_ms), until = now_ms + 1;

    /* Samples are learned in their cluster's local time, from the snapshot: before a
     * snapshot with clusters there is nothing to learn them by, and reading then would mark
     * every sample read, unlearned (as scheduler/forecasts.c). */
    if (since < until && n > 0) {
        if (store_serving_samples(s, since, until, learn_row, &r, e))
            return -1;
        forecast_set_read_done(f->set, until);
    }
    return 0;
}

int api_forecasts_refresh(struct api_forecasts *f, struct store *s,
                          const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                          struct err *e)
{
    int rc;

    pthread_mutex_lock(&f->mu);
    rc = refresh_locked(f, s, clusters, n, now_ms, e);
    pthread_mutex_unlock(&f->mu);
    return rc;
}

/* The mean of p50 and of p95 over the slots [from_ms, to_ms) touches; unknown when any is. */
static void mean_of(const struct forecast *fc, int64_t from_ms, int64_t to_ms,
                    struct forecast_estimate *out)
{
    int slots = 0;

    *out = (struct forecast_estimate){0};
    for (int64_t t = from_ms - from_ms % FORECAST_SLOT_MS; t < to_ms; t += FORECAST_SLOT_MS) {
        struct forecast_estimate est;

        forecast_predict(fc, t, &est);
        if (!est.known) {
            *out = (struct forecast_estimate){0};
            return;
        }
        out->p50 += est.p50;
        out->p95 += est.p95;
        if (slots == 0 || est.weight_s < out->weight_s)
            out->weight_s = est.weight_s;
        slots++;
    }
    if (slots > 0) {
        out->known = true;
        out->p50 /= slots;
        out->p95 /= slots;
    }
}

void api_forecasts_mean(struct api_forecasts *f, const char *cluster, const char *sku,
                        int64_t from_ms, int64_t to_ms, struct forecast_estimate *out)
{
    *out = (struct forecast_estimate){0};
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < forecast_set_count(f->set); i++) {
        const char *cl, *sk;
        const struct forecast *fc = forecast_set_at(f->set, i, &cl, &sk);

        if (strcmp(cl, cluster) == 0 && strcmp(sk, sku) == 0) {
            mean_of(fc, from_ms, to_ms, out);
            break;
        }
    }
    pthread_mutex_unlock(&f->mu);
}

json_t *api_forecasts_json(struct api_forecasts *f, struct store *s,
                           const struct api_forecast_cluster *clusters, size_t n, int64_t now_ms,
                           struct err *e)
{
    json_t *out = NULL;

    pthread_mutex_lock(&f->mu);
    if (refresh_locked(f, s, clusters, n, now_ms, e))
        goto out;
    out = json_array();
    for (size_t c = 0; c < n; c++)
        for (size_t i = 0; i < forecast_set_count(f->set); i++) {
            const char *cl, *sku;
            const struct forecast *fc = forecast_set_at(f->set, i, &cl, &sku);

            if (strcmp(cl, clusters[c].name) == 0)
                json_array_append_new(out, entry_json(cl, sku, fc, now_ms));
        }
out:
    pthread_mutex_unlock(&f->mu);
    return out;
}
