/* lease.c -- lendable GPUs and lease end from the serving-demand forecast (lease.h). */
#include "policy/lease.h"

#include "policy/engine.h"

#include <string.h>

_Static_assert(LEASE_STEPS == POLICY_FORECAST_STEPS, "a forecast step is a lease step");

#define DAY_MS (24 * 3600 * 1000LL)

const char *lease_bound_name(enum lease_bound b)
{
    switch (b) {
    case LEASE_BOUND_NONE: return "none";
    case LEASE_BOUND_WINDOW_END: return "window_end";
    case LEASE_BOUND_IDLE_LEASE: return "idle_lease";
    case LEASE_BOUND_FORECAST: return "forecast_peak";
    case LEASE_BOUND_HORIZON: return "forecast_horizon";
    case LEASE_BOUND_MIN_LEASE: return "min_lease";
    }
    return "none";
}

/* GPUs serving must keep beyond what it holds: what waits now, or the forecast's rise. */
static int wanted(const struct lease_in *in, int peak)
{
    int rise = peak - in->serving_use;

    return rise > in->pending ? rise : in->pending;
}

void lease_fit(const struct lease_in *in, const struct lease_forecast *f, struct lease_out *out)
{
    int64_t i0, hard_end, min_end = in->now_ms + in->min_lease_ms, peak_at = 0;
    int peak = -1;

    out->lendable = in->free_gpus - in->reserve - in->pending;
    out->end_ms = in->end_ms;
    out->bound = in->end_bound;
    out->peak = -1;
    out->peak_at_ms = 0;
    if (!f || in->now_ms < f->from_ms)
        return;
    i0 = (in->now_ms - f->from_ms) / LEASE_STEP_MS;
    if (i0 >= LEASE_STEPS || f->high[i0] < 0)
        return;
    hard_end = in->end_ms;
    if (in->now_ms + DAY_MS < hard_end || f->from_ms + LEASE_STEPS * LEASE_STEP_MS < hard_end) {
        hard_end = in->now_ms + DAY_MS;
        if (f->from_ms + LEASE_STEPS * LEASE_STEP_MS < hard_end)
            hard_end = f->from_ms + LEASE_STEPS * LEASE_STEP_MS;
        out->bound = LEASE_BOUND_HORIZON;
    }
    out->end_ms = hard_end;
    for (int64_t i = i0; i < LEASE_STEPS; i++) {
        int64_t start = f->from_ms + i * LEASE_STEP_MS;
        int h = f->high[i];

        if (start < in->now_ms)
            start = in->now_ms;
        if (start >= hard_end)
            break;
        if (h < 0) {
            out->end_ms = start;
            out->bound = LEASE_BOUND_HORIZON;
            break;
        }
        if (i == i0 || start < min_end) {
            /* Any lease covers the step at now, and the minimum lease the steps it spans,
             * whatever they cost. */
            if (h > peak) {
                peak = h;
                peak_at = start;
            }
            continue;
        }
        if (wanted(in, h) > wanted(in, peak)) {
            out->end_ms = start;
            out->bound = LEASE_BOUND_FORECAST;
            out->peak_at_ms = start;
            break;
        }
    }
    out->peak = peak;
    out->lendable = in->free_gpus - in->reserve - wanted(in, peak);
    if (out->lendable <= 0 && wanted(in, peak) > in->pending) {
        out->bound = LEASE_BOUND_MIN_LEASE;
        out->peak_at_ms = peak_at;
    }
}

const struct policy_forecast *lease_forecast_of(const struct engine *en, size_t c, int k)
{
    const struct policy_input *in = en->in;

    for (size_t i = 0; i < in->n_forecasts; i++)
        if (in->forecasts[i].sku == k && in->forecasts[i].cluster &&
            strcmp(in->forecasts[i].cluster, en->s->clusters[c].name) == 0)
            return &in->forecasts[i];
    return NULL;
}

int lease_peak_ahead(const struct policy_forecast *pf, int64_t now_ms, int64_t lead_ms)
{
    int64_t i0;
    int peak = -1;

    if (!pf || now_ms < pf->from_ms)
        return -1;
    i0 = (now_ms - pf->from_ms) / LEASE_STEP_MS;
    for (int64_t i = i0; i < LEASE_STEPS; i++) {
        int h = pf->high[i];

        if (i > i0 && pf->from_ms + i * LEASE_STEP_MS >= now_ms + lead_ms)
            break;
        if (h < 0)
            break;
        if (h > peak)
            peak = h;
    }
    return peak;
}

int lease_pool(const struct engine *en, size_t c, int k, int lendable, int64_t end_ms,
               enum lease_bound end_bound, struct engine_lend *L)
{
    const struct snapshot_agg *a = snapshot_agg_const(en->s, c, SNAPSHOT_POOL_SERVING, k);
    const struct policy_forecast *pf = lease_forecast_of(en, c, k);
    struct lease_forecast f;
    struct lease_in li;

    memset(&li, 0, sizeof(li));
    li.now_ms = en->now;
    li.end_ms = end_ms;
    li.end_bound = end_bound;
    /* lendable = free now - reserve - (pending + announced): the fixed rules' figure;
     * demand known now is both, which the forecast's rise may exceed */
    li.free_gpus = lendable + a->reserve + a->pending_serving + a->announced_serving;
    li.reserve = a->reserve;
    li.pending = a->pending_serving + a->announced_serving;
    li.serving_use = a->used - a->borrowed;
    li.min_lease_ms = en->cfg->min_lease_s * 1000;
    if (pf) {
        f.from_ms = pf->from_ms;
        f.high = pf->high;
    }
    lease_fit(&li, pf ? &f : NULL, &L->lease);
    L->lease_end_ms = L->lease.end_ms;
    return L->lease.lendable;
}
