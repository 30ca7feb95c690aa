/* metrics_routes.c -- GET /metrics: the request metrics (metrics.c), jobs by phase, the
 * lost-work ledger's counters, the connector's (the poller's snapshot), the scheduler's (attached with
 * api_attach_scheduler()) and the audit trail's, and whether the database answered. */
#include "api/internal.h"

#include "base/clock.h"
#include "base/prom.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "store/ledger.h"
#include "store/store.h"

#include <stdlib.h>

void api_attach_scheduler(struct api *a, int (*fn)(void *arg, struct buf *b), void *arg)
{
    a->sched_metrics = fn;
    a->sched_metrics_arg = arg;
}

/* The connector's metrics, when a poller is attached (api_attach_clusters()). */
static void cluster_metrics(struct api *a, struct buf *out)
{
    const struct cluster_snapshot *cs;

    if (!a->poller)
        return;
    cs = poller_read_begin(a->poller);
    cluster_snapshot_prometheus(cs, clock_realtime_ms(), out);
    poller_read_end(a->poller);
}

/* The lost-work ledger's counters, by cluster, placed SKU and cause, summed from the
 * reclaims table on each scrape: they equal the ledger by construction, and only grow as
 * its rows are never deleted nor changed in these columns. Left out (and store_up 0) when
 * the database does not answer. */
static int ledger_metrics(struct api *a, struct buf *out, struct err *e)
{
    static const char *const fam[2][2] = {
        {"fedsched_preemptions_total",
         "Attempts whose work was lost (ledger rows), by cause: reclaim of borrowed or "
         "over-quota GPUs, priority preemption, failure retry."},
        {"fedsched_lost_gpu_seconds_total",
         "GPU-seconds of work lost since the last checkpoint, by cause, as the ledger records "
         "(its GPU-hours x 3600: Prometheus names time in seconds)."}};
    struct store_ledger_total *t = NULL;
    size_t n = 0;

    if (store_ledger_totals(a->store, &t, &n, e))
        return -1;
    for (int f = 0; f < 2; f++) {
        buf_printf(out, "# HELP %s %s\n# TYPE %s counter\n", fam[f][0], fam[f][1], fam[f][0]);
        for (size_t i = 0; i < n; i++) {
            char cl[PROM_LABEL_MAX], sku[PROM_LABEL_MAX], cause[PROM_LABEL_MAX];

            buf_printf(out, "%s{cluster=\"%s\",sku=\"%s\",cause=\"%s\"} ", fam[f][0],
                       prom_label(cl, sizeof(cl), t[i].cluster),
                       prom_label(sku, sizeof(sku), t[i].sku),
                       prom_label(cause, sizeof(cause), t[i].cause));
            if (f == 0)
                buf_printf(out, "%lld\n", (long long)t[i].count);
            else
                buf_printf(out, "%.17g\n", t[i].lost_gpu_hours * 3600.0);
        }
    }
    free(t);
    return 0;
}

/* The attached scheduler's metrics; nothing when none is attached. */
static void scheduler_metrics(struct api *a, struct buf *out)
{
    if (a->sched_metrics)
        a->sched_metrics(a->sched_metrics_arg, out);
}

void h_metrics(struct api *a, const struct api_request *req, const struct route_params *p,
               struct api_response *resp)
{
    struct buf out;
    int64_t counts[PHASE_COUNT];
    struct err e = {0};

    (void)req;
    (void)p;
    buf_init(&out, 0);
    metrics_render(a->metrics, &out);
    /* Jobs by phase come from the database; when it is down the series are left out and
     * fedsched_store_up says why, rather than failing the whole scrape. */
    if (store_job_counts(a->store, counts, &e) == 0) {
        buf_puts(&out, "# HELP fedsched_jobs Jobs by phase.\n# TYPE fedsched_jobs gauge\n");
        for (int i = 0; i < PHASE_COUNT; i++) {
            char phase[PROM_LABEL_MAX];

            buf_printf(&out, "fedsched_jobs{phase=\"%s\"} %lld\n",
                       prom_label(phase, sizeof(phase), job_phase_name((enum job_phase)i)),
                       (long long)counts[i]);
        }
    }
    if (e.code == ERR_NONE)
        ledger_metrics(a, &out, &e);
    cluster_metrics(a, &out);
    scheduler_metrics(a, &out);
    queue_memo_metrics(a, &out);
    queue_views_metrics(a, &out);
    access_metrics(a, &out);
    buf_printf(&out,
               "# HELP fedsched_store_up Whether the last database query of this scrape "
               "succeeded.\n# TYPE fedsched_store_up gauge\nfedsched_store_up %d\n",
               e.code == ERR_NONE ? 1 : 0);
    resp_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&out));
}
