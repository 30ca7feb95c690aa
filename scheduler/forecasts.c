/* forecasts.c -- step 2's serving-demand forecasts for lending: the scheduler's own
 * forecast set (policy/forecast_set.h), learned from the capacity samples at most once a
 * minute, and one policy_forecast per serving pool of the snapshot that has one. */
#include "scheduler/internal.h"

#include "policy/forecast_set.h"
#include "store/forecast.h"

#define SCHED_FORECAST_EVERY_MS 60000

struct learn {
    struct forecast_set *set;
    const struct snapshot *snap;
};

static int learn_row(const struct store_serving_sample *x, void *arg, struct err *e)
{
    const struct learn *l = arg;
    int c = snapshot_cluster_find(l->snap, x->cluster);

    if (c < 0)
        return 0;
    return forecast_set_learn(l->set, x->cluster, x->sku, l->snap->clusters[c].tz, x->ts_ms,
                              forecast_demand(x->used, x->borrowed, x->pending_demand), e);
}

void sched_forecasts(struct cycle *c, const struct snapshot *snap, struct decide_ctx *d)
{
    struct sched *s = c->s;
    int64_t from = c->now - c->now % FORECAST_SLOT_MS;
    size_t n;

    if (!s->forecasts)
        s->forecasts = forecast_set_new();
    /* Samples are learned in their cluster's local time, from the snapshot; before the
     * first snapshot with clusters in it there is nothing to learn them by (and nothing to
     * lend), and reading then would mark every sample read, unlearned. */
    if (c->now >= s->next_forecast_ms && snap->n_clusters > 0) {
        struct learn l = {s->forecasts, snap};
        int64_t since = forecast_set_read_from(s->forecasts, c->now), until = c->now + 1;
        struct err e = {0};

        s->next_forecast_ms = c->now + SCHED_FORECAST_EVERY_MS;
        /* A failed read keeps what was learned and lends from it; the next read retries. */
        if (store_serving_samples(s->store, since, until, learn_row, &l, &e))
            LOG(LOG_WARN, "sched", "event=forecast_read_failed field=%s msg=\"%s\"", e.field,
                e.msg);
        else
            forecast_set_read_done(s->forecasts, until);
    }
    n = forecast_set_count(s->forecasts);
    d->forecasts = xcalloc(n + 1, sizeof(*d->forecasts));
    d->n_forecasts = 0;
    for (size_t i = 0; i < n; i++) {
        const char *cl, *sku;
        const struct forecast *f = forecast_set_at(s->forecasts, i, &cl, &sku);
        int ci = snapshot_cluster_find(snap, cl), k = snapshot_sku_find(snap, sku);
        struct policy_forecast *pf = &d->forecasts[d->n_forecasts];

        if (ci < 0 || k < 0 || !snap->clusters[ci].serving.present)
            continue;
        pf->cluster = snap->clusters[ci].name;
        pf->sku = k;
        pf->from_ms = from;
        forecast_set_high(f, from, pf->high, POLICY_FORECAST_STEPS);
        d->n_forecasts++;
    }
}
