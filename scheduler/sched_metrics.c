/* sched_metrics.c -- the scheduler's counters, gauges and reclaim latencies, and their
 * Prometheus text for /metrics. */
#include "scheduler/internal.h"

void sched_metrics_dispatch_error(struct metrics *m, const char *cluster)
{
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_derr; i++) {
        if (strcmp(m->derr[i].cluster, cluster) == 0) {
            m->derr[i].n++;
            pthread_mutex_unlock(&m->mu);
            return;
        }
    }
    m->derr = xrealloc(m->derr, (m->n_derr + 1) * sizeof(*m->derr));
    snprintf(m->derr[m->n_derr].cluster, sizeof(m->derr[0].cluster), "%s", cluster);
    m->derr[m->n_derr].n = 1;
    m->n_derr++;
    pthread_mutex_unlock(&m->mu);
}

void sched_latency_add(struct latency *l, double seconds)
{
    l->ring[l->n % LATENCY_RING] = seconds;
    l->n++;
    l->sum += seconds;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the ring's samples; -1 when empty. */
static double ring_pct(const struct latency *l, double q)
{
    size_t k = l->n < LATENCY_RING ? l->n : LATENCY_RING, at;
    double *v, r;

    if (k == 0)
        return -1;
    v = xmalloc(k * sizeof(*v));
    memcpy(v, l->ring, k * sizeof(*v));
    qsort(v, k, sizeof(*v), cmp_double);
    at = (size_t)ceil(q * (double)k);
    r = v[at > 0 ? at - 1 : 0];
    free(v);
    return r;
}

void sched_get_status(struct sched *s, struct sched_status *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->status;
    pthread_mutex_unlock(&s->mu);
}

/* ---- metrics ---------------------------------------------------------------------------------- */

/* A summary of the ring's recent samples; NaN quantiles while there are none. */
static int latency_summary(struct buf *b, const char *name, const char *help,
                           const struct latency *l)
{
    static const double q[2] = {0.5, 0.99};
    int rc = buf_printf(b, "# HELP %s %s\n# TYPE %s summary\n", name, help, name);

    for (int i = 0; i < 2; i++) {
        double v = ring_pct(l, q[i]);

        if (v < 0)
            rc |= buf_printf(b, "%s{quantile=\"%g\"} NaN\n", name, q[i]);
        else
            rc |= buf_printf(b, "%s{quantile=\"%g\"} %.3f\n", name, q[i], v);
    }
    return rc | buf_printf(b, "%s_sum %.3f\n%s_count %zu\n", name, l->sum, name, l->n);
}

int sched_metrics(struct sched *s, struct buf *b)
{
    struct metrics *m = &s->m;
    struct sched_status st;
    static const char *const le[8] = {"0.01", "0.05", "0.1", "0.25", "0.5", "1", "5", "+Inf"};
    uint64_t cum = 0;
    int rc = 0;

    sched_get_status(s, &st);
    pthread_mutex_lock(&m->mu);
    rc |= buf_printf(b,
                     "# HELP fedsched_scheduler_leader Whether this replica leads (decides and "
                     "dispatches).\n# TYPE fedsched_scheduler_leader gauge\n"
                     "fedsched_scheduler_leader %d\n"
                     "# HELP fedsched_scheduler_epoch Fencing epoch held by this replica (0 when "
                     "standing by).\n# TYPE fedsched_scheduler_epoch gauge\n"
                     "fedsched_scheduler_epoch %" PRId64 "\n",
                     st.leader ? 1 : 0, st.epoch);
    rc |= buf_puts(b, "# HELP fedsched_scheduler_cycle_seconds Duration of scheduler cycles.\n"
                      "# TYPE fedsched_scheduler_cycle_seconds histogram\n");
    for (int i = 0; i < 8; i++) {
        cum += m->cycle_buckets[i];
        rc |= buf_printf(b, "fedsched_scheduler_cycle_seconds_bucket{le=\"%s\"} %" PRIu64 "\n",
                         le[i], cum);
    }
    rc |= buf_printf(b,
                     "fedsched_scheduler_cycle_seconds_sum %.6f\n"
                     "fedsched_scheduler_cycle_seconds_count %" PRIu64 "\n",
                     m->cycle_seconds_sum, m->cycles);
    rc |= buf_printf(
        b,
        "# HELP fedsched_scheduler_transitions_total Job transitions made by this replica.\n"
        "# TYPE fedsched_scheduler_transitions_total counter\n"
        "fedsched_scheduler_transitions_total{to=\"Admitted\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Dispatched\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Succeeded\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Failed\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Cancelled\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Lost\"} %" PRIu64 "\n"
        "fedsched_scheduler_transitions_total{to=\"Queued\"} %" PRIu64 "\n"
        "# HELP fedsched_scheduler_placements_total Jobs placed (Queued -> Admitted).\n"
        "# TYPE fedsched_scheduler_placements_total counter\n"
        "fedsched_scheduler_placements_total %" PRIu64 "\n",
        m->placements, m->dispatched, m->succeeded, m->failed, m->cancelled, m->lost, m->requeued,
        m->placements);
    rc |= buf_puts(b, "# HELP fedsched_retention_deleted_total Rows deleted past their retention "
                      "(retention.*) by this replica while it led.\n"
                      "# TYPE fedsched_retention_deleted_total counter\n");
    for (int t = 0; t < STORE_RETAINED_COUNT; t++)
        rc |= buf_printf(b, "fedsched_retention_deleted_total{table=\"%s\"} %" PRIu64 "\n",
                         store_retained_name((enum store_retained)t), m->retention_deleted[t]);
    rc |= buf_printf(b,
                     "# HELP fedsched_capacity_rollups_total Quarter hours of capacity samples "
                     "summed for the reports by this replica while it led.\n"
                     "# TYPE fedsched_capacity_rollups_total counter\n"
                     "fedsched_capacity_rollups_total %" PRIu64 "\n"
                     "# HELP fedsched_capacity_rollups_pending Finished quarter hours of "
                     "capacity samples not summed yet, at the last collection pass (the reports "
                     "read their samples meanwhile).\n"
                     "# TYPE fedsched_capacity_rollups_pending gauge\n"
                     "fedsched_capacity_rollups_pending %ld\n",
                     m->rollup_quarters, m->rollup_left);
    rc |= buf_puts(b, "# HELP fedsched_scheduler_dispatch_errors_total Failed creates in member "
                      "clusters.\n# TYPE fedsched_scheduler_dispatch_errors_total counter\n");
    for (size_t i = 0; i < m->n_derr; i++) {
        char cl[PROM_LABEL_MAX];

        rc |=
            buf_printf(b, "fedsched_scheduler_dispatch_errors_total{cluster=\"%s\"} %" PRIu64 "\n",
                       prom_label(cl, sizeof(cl), m->derr[i].cluster), m->derr[i].n);
    }
    rc |= buf_puts(b, "# HELP fedsched_scheduler_jobs Live jobs by SKU and phase (last cycle).\n"
                      "# TYPE fedsched_scheduler_jobs gauge\n");
    for (size_t i = 0; i < m->n_queue_sku; i++) {
        char sku[PROM_LABEL_MAX];

        prom_label(sku, sizeof(sku), m->queue_sku[i]);
        for (int p = 0; p < PHASE_COUNT; p++)
            if (m->queue[i][p])
                rc |=
                    buf_printf(b, "fedsched_scheduler_jobs{sku=\"%s\",phase=\"%s\"} %" PRId64 "\n",
                               sku, job_phase_name((enum job_phase)p), m->queue[i][p]);
    }
    rc |= buf_puts(b, "# HELP fedsched_scheduler_borrowed_gpus GPUs of serving pools lent to "
                      "training jobs.\n# TYPE fedsched_scheduler_borrowed_gpus gauge\n");
    for (size_t i = 0; i < m->n_borrowed; i++) {
        char cl[PROM_LABEL_MAX], sku[PROM_LABEL_MAX];

        rc |= buf_printf(b, "fedsched_scheduler_borrowed_gpus{cluster=\"%s\",sku=\"%s\"} %d\n",
                         prom_label(cl, sizeof(cl), m->borrowed[i].cluster),
                         prom_label(sku, sizeof(sku), m->borrowed[i].sku), m->borrowed[i].gpus);
    }
    rc |= buf_printf(b,
                     "# HELP fedsched_scheduler_reclaims_total Borrowed jobs reclaimed.\n"
                     "# TYPE fedsched_scheduler_reclaims_total counter\n"
                     "fedsched_scheduler_reclaims_total %" PRIu64 "\n",
                     m->reclaims);
    rc |= buf_printf(
        b,
        "# HELP fedsched_scheduler_checkpoint_requests_total Reclaims made checkpoint first "
        "(the victim asked to checkpoint before its delete).\n"
        "# TYPE fedsched_scheduler_checkpoint_requests_total counter\n"
        "fedsched_scheduler_checkpoint_requests_total %" PRIu64 "\n"
        "# HELP fedsched_scheduler_checkpoint_deletes_total Checkpoint-first victims deleted, "
        "at their checkpoint or at the deadline.\n"
        "# TYPE fedsched_scheduler_checkpoint_deletes_total counter\n"
        "fedsched_scheduler_checkpoint_deletes_total{at=\"checkpoint\"} %" PRIu64 "\n"
        "fedsched_scheduler_checkpoint_deletes_total{at=\"deadline\"} %" PRIu64 "\n",
        m->ckpt_requests, m->ckpt_at_checkpoint, m->ckpt_at_deadline);
    rc |= latency_summary(b, "fedsched_scheduler_reclaim_request_seconds",
                          "Snapshot showing the deficit to delete request (quantiles over the "
                          "recent reclaims).",
                          &m->req);
    rc |= latency_summary(b, "fedsched_scheduler_reclaim_freed_seconds",
                          "Delete request to GPUs free (quantiles over the recent reclaims).",
                          &m->freed);
    pthread_mutex_unlock(&m->mu);
    return rc ? -1 : 0;
}
