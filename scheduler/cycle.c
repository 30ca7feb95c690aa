/* cycle.c -- one cycle: lost placements (step 1), the gauges, and the order of the steps.
 * The steps are in decide.c, dispatch.c and track.c; what they share in transitions.c
 * (the batch) and views.c (the clusters). */
#include "scheduler/internal.h"

/* ---- step 1: clusters and lost placements --------------------------------------------------- */

static void step_lost(struct cycle *c)
{
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];
        struct store_transition *t;

        if (j->phase == PHASE_LOST) {
            if (j->cancel_requested) {
                t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
                t->message = "cancelled by the user while its cluster was lost";
            } else {
                t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Requeued");
                t->message = "requeued after its cluster was lost; placed again anywhere";
            }
            continue;
        }
        if (!sched_placed_phase(j->phase) || !j->cluster[0] || !sched_cluster_lost(c, j->cluster))
            continue;
        t = sched_batch_add(&c->b, k, j, PHASE_LOST, "ClusterLost");
        t->message = sched_batch_own(&c->b, xasprintf("cluster %s unreachable for longer than its "
                                                      "lost-timeout",
                                                      j->cluster));
    }
    sched_apply(c, NULL);
    sched_batch_reset(&c->b);
}

static void update_gauges(struct cycle *c)
{
    struct sched *s = c->s;
    struct metrics *m = &s->m;

    pthread_mutex_lock(&m->mu);
    memset(m->queue, 0, sizeof(m->queue));
    m->n_queue_sku = 0;
    m->n_borrowed = 0;
    for (size_t k = 0; k < c->jobs.n; k++) {
        const struct store_sched_job *j = &c->jobs.v[k];
        const char *sku = j->sku_placed[0] ? j->sku_placed : j->sku;
        size_t i;

        for (i = 0; i < m->n_queue_sku; i++)
            if (strcmp(m->queue_sku[i], sku) == 0)
                break;
        if (i == m->n_queue_sku && i < METRIC_SKUS)
            snprintf(m->queue_sku[m->n_queue_sku++], sizeof(m->queue_sku[0]), "%s", sku);
        if (i < METRIC_SKUS)
            m->queue[i][j->phase]++;
        if (sched_placed_phase(j->phase) && strcmp(j->pool, POOL_BORROWED) == 0) {
            for (i = 0; i < m->n_borrowed; i++)
                if (strcmp(m->borrowed[i].cluster, j->cluster) == 0 &&
                    strcmp(m->borrowed[i].sku, sku) == 0)
                    break;
            if (i == m->n_borrowed) {
                m->borrowed = xrealloc(m->borrowed, (m->n_borrowed + 1) * sizeof(*m->borrowed));
                memset(&m->borrowed[i], 0, sizeof(m->borrowed[i]));
                snprintf(m->borrowed[i].cluster, sizeof(m->borrowed[i].cluster), "%s", j->cluster);
                snprintf(m->borrowed[i].sku, sizeof(m->borrowed[i].sku), "%s", sku);
                m->n_borrowed++;
            }
            m->borrowed[i].gpus += j->gpu_count;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void sched_cycle_run(struct sched *s, bool gc, bool track)
{
    struct cycle c = {0};
    struct err e = {0};
    int64_t t0 = clock_mono_ns();
    double secs;

    c.s = s;
    c.now = clock_realtime_ms();
    if (store_sched_load(s->store, &c.jobs, &e)) {
        LOG(LOG_WARN, "sched", "event=load_failed msg=\"%s\"", e.msg);
        return;
    }
    spec_cache_prune(s->specs, &c.jobs);
    sched_step_decide(&c);
    if (!c.cv) { /* nothing to decide: still read the clusters for the steps below */
        const struct cluster_snapshot *cs = poller_read_begin(s->poller);

        sched_read_clusters(&c, cs);
        poller_read_end(s->poller);
    }
    sched_detect_lost(&c);
    step_lost(&c);
    sched_step_preempt(&c, true);
    sched_step_dispatch(&c);
    sched_step_track(&c, gc, track || gc);
    sched_step_cancel_queued(&c);
    update_gauges(&c);
    if (c.deposed)
        leader_resign(s->leader);
    secs = (double)(clock_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&s->m.mu);
    s->m.cycles++;
    s->m.cycle_seconds_sum += secs;
    s->m.cycle_seconds_last = secs;
    {
        static const double le[7] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 5};
        int b = 0;

        while (b < 7 && secs > le[b])
            b++;
        s->m.cycle_buckets[b]++;
    }
    pthread_mutex_unlock(&s->m.mu);
    pthread_mutex_lock(&s->mu);
    s->status.cycles++;
    s->status.last_cycle_ms = clock_realtime_ms();
    pthread_mutex_unlock(&s->mu);
    sched_batch_free(&c.b);
    free(c.cv);
    store_sched_jobs_free(&c.jobs);
}
