/* cycle.c -- one cycle: the batch of transitions and its application, the clusters' view
 * and lost placements (step 1), the gauges, and the order of the steps. */
#include "scheduler/internal.h"

void *sched_batch_own(struct batch *b, void *p)
{
    if (b->n_owned == b->cap_owned) {
        b->cap_owned = b->cap_owned ? b->cap_owned * 2 : 64;
        b->owned = xrealloc(b->owned, b->cap_owned * sizeof(*b->owned));
    }
    b->owned[b->n_owned++] = p;
    return p;
}

struct store_transition *sched_batch_add(struct batch *b, size_t job,
                                         const struct store_sched_job *j, enum job_phase to,
                                         const char *reason)
{
    struct store_transition *t;

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->t = xrealloc(b->t, b->cap * sizeof(*b->t));
        b->job = xrealloc(b->job, b->cap * sizeof(*b->job));
    }
    t = &b->t[b->n];
    memset(t, 0, sizeof(*t));
    t->job_id = j->id;
    t->from = j->phase;
    t->attempt = j->attempt;
    t->to = to;
    t->reason = reason;
    b->job[b->n] = job;
    b->n++;
    return t;
}

void sched_batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    b->n_owned = 0;
    b->n = 0;
}

static void batch_free(struct batch *b)
{
    sched_batch_reset(b);
    free(b->t);
    free(b->job);
    free(b->owned);
    memset(b, 0, sizeof(*b));
}

/* Per-cluster view of the cycle. */

struct cview *sched_cview_find(struct cycle *c, const char *name)
{
    for (size_t i = 0; i < c->n_cv; i++)
        if (strcmp(c->cv[i].name, name) == 0)
            return &c->cv[i];
    return NULL;
}

static struct cluster_mem *cmem_get(struct sched *s, const char *name)
{
    for (size_t i = 0; i < s->n_cmem; i++)
        if (strcmp(s->cmem[i].name, name) == 0)
            return &s->cmem[i];
    s->cmem = xrealloc(s->cmem, (s->n_cmem + 1) * sizeof(*s->cmem));
    memset(&s->cmem[s->n_cmem], 0, sizeof(*s->cmem));
    snprintf(s->cmem[s->n_cmem].name, sizeof(s->cmem[0].name), "%s", name);
    return &s->cmem[s->n_cmem++];
}

bool sched_placed_phase(enum job_phase p)
{
    return p == PHASE_ADMITTED || p == PHASE_DISPATCHED || p == PHASE_RUNNING ||
           p == PHASE_PREEMPTING;
}

/* Applies the batch; on success updates the in-memory jobs that changed (so later steps
 * of the cycle see them), on a superseded epoch marks the cycle deposed. Returns the
 * number applied. */
size_t sched_apply(struct cycle *c, bool *applied_out)
{
    struct sched *s = c->s;
    struct err e = {0};
    bool *applied;
    size_t n_ok = 0;

    if (c->b.n == 0 || c->deposed)
        return 0;
    applied = xcalloc(c->b.n, sizeof(*applied));
    if (store_sched_apply(s->store, s->epoch, c->b.t, c->b.n, applied, &e)) {
        if (e.code == ERR_CONFLICT)
            c->deposed = true;
        LOG(e.code == ERR_CONFLICT ? LOG_WARN : LOG_ERROR, "sched",
            "event=apply_failed n=%zu code=%s msg=\"%s\"", c->b.n, err_code_name(e.code), e.msg);
        free(applied);
        return 0;
    }
    for (size_t i = 0; i < c->b.n; i++) {
        const struct store_transition *t = &c->b.t[i];
        struct store_sched_job *j = &c->jobs.v[c->b.job[i]];

        if (applied_out)
            applied_out[i] = applied[i];
        if (!applied[i])
            continue;
        n_ok++;
        j->phase = t->to;
        switch (t->to) {
        case PHASE_ADMITTED:
            snprintf(j->cluster, sizeof(j->cluster), "%s", t->cluster ? t->cluster : "");
            snprintf(j->pool, sizeof(j->pool), "%s", t->pool ? t->pool : "");
            snprintf(j->sku_placed, sizeof(j->sku_placed), "%s", t->sku ? t->sku : "");
            j->admitted_ms = c->now;
            j->lease_end_ms = t->lease_end_ms;
            break;
        case PHASE_DISPATCHED: j->dispatched_ms = c->now; break;
        case PHASE_RUNNING: j->started_ms = t->at_ms ? t->at_ms : c->now; break;
        case PHASE_PREEMPTING: j->preempt_requested_ms = c->now; break;
        case PHASE_QUEUED:
            if (t->from != PHASE_QUEUED)
                j->attempt++;
            j->cluster[0] = '\0';
            j->pool[0] = '\0';
            j->sku_placed[0] = '\0';
            j->not_before_ms = t->not_before_ms;
            j->dispatched_ms = 0;
            j->started_ms = 0;
            j->dispatch_failures += t->failed_dispatch;
            j->preemptions += t->preempted;
            break;
        default: break;
        }
    }
    pthread_mutex_lock(&s->m.mu);
    for (size_t i = 0; i < c->b.n; i++) {
        if (!applied[i])
            continue;
        switch (c->b.t[i].to) {
        case PHASE_ADMITTED: s->m.placements++; break;
        case PHASE_DISPATCHED: s->m.dispatched++; break;
        case PHASE_SUCCEEDED: s->m.succeeded++; break;
        case PHASE_FAILED: s->m.failed++; break;
        case PHASE_CANCELLED: s->m.cancelled++; break;
        case PHASE_LOST: s->m.lost++; break;
        case PHASE_QUEUED: s->m.requeued++; break;
        default: break;
        }
    }
    pthread_mutex_unlock(&s->m.mu);
    free(applied);
    return n_ok;
}

/* ---- step 1: clusters and lost placements --------------------------------------------------- */

/* The clusters of the snapshot (and when the last good poll of each started). */
void sched_read_snapshot_clusters(struct cycle *c, const struct cluster_snapshot *cs, size_t extra)
{
    c->cv = xcalloc(cs->snap->n_clusters + extra + 1, sizeof(*c->cv));
    c->snap_taken_ms = cs->snap->taken_ms;
    for (size_t i = 0; i < cs->snap->n_clusters; i++) {
        struct cview *v = &c->cv[c->n_cv++];
        const struct cluster_status *st = &cs->status[i];

        snprintf(v->name, sizeof(v->name), "%s", cs->snap->clusters[i].name);
        v->snap = (int)i;
        v->health = st->health;
        v->last_success_ms = st->last_success_ms;
        v->poll_started_ms = st->last_success_ms - st->poll_duration_ms;
        v->lost_timeout_s = st->lost_timeout_s > 0 ? st->lost_timeout_s : 900;
        v->reachable =
            st->health == SNAPSHOT_HEALTH_READY || st->health == SNAPSHOT_HEALTH_DEGRADED;
    }
}

void sched_read_clusters(struct cycle *c, const struct cluster_snapshot *cs)
{
    struct sched *s = c->s;
    size_t n_names = sched_clients_count(s->clients);

    sched_read_snapshot_clusters(c, cs, n_names);
    /* Clusters in the registry the poller has not picked up yet (or never will). */
    for (size_t i = 0; i < n_names; i++) {
        const char *name = sched_clients_name(s->clients, i);
        struct cview *v;

        if (sched_cview_find(c, name))
            continue;
        v = &c->cv[c->n_cv++];
        snprintf(v->name, sizeof(v->name), "%s", name);
        v->snap = -1;
        v->health = SNAPSHOT_HEALTH_UNKNOWN;
        v->lost_timeout_s = s->o.default_lost_timeout_s;
    }
}

/* A cluster is lost once it has been unreachable (or unknown to the poller) for longer than
 * its lost-timeout, counted from its last good poll or, when it never had one in this
 * process, from when this leader first saw it bad. */
static void detect_lost(struct cycle *c)
{
    struct sched *s = c->s;

    for (size_t i = 0; i < c->n_cv; i++) {
        struct cview *v = &c->cv[i];
        struct cluster_mem *m = cmem_get(s, v->name);
        int64_t since;

        if (v->reachable) {
            if (m->lost)
                LOG(LOG_INFO, "sched", "event=cluster_back cluster=%s", v->name);
            m->bad_since_ms = 0;
            m->lost = false;
            continue;
        }
        if (!m->bad_since_ms)
            m->bad_since_ms = c->now;
        since = v->last_success_ms > 0 ? v->last_success_ms : m->bad_since_ms;
        if (c->now - since > v->lost_timeout_s * 1000) {
            if (!m->lost)
                LOG(LOG_WARN, "sched", "event=sched_cluster_lost cluster=%s unreachable_s=%" PRId64,
                    v->name, (c->now - since) / 1000);
            m->lost = true;
        }
        v->lost = m->lost;
    }
    /* Placements in clusters that left the registry and the poller alike. */
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (sched_placed_phase(j->phase) && j->cluster[0] && !sched_cview_find(c, j->cluster)) {
            struct cluster_mem *m = cmem_get(s, j->cluster);

            if (!m->bad_since_ms)
                m->bad_since_ms = c->now;
            if (c->now - m->bad_since_ms > (int64_t)s->o.default_lost_timeout_s * 1000)
                m->lost = true;
        }
    }
}

bool sched_cluster_lost(struct cycle *c, const char *name)
{
    struct cview *v = sched_cview_find(c, name);

    if (v)
        return v->lost;
    for (size_t i = 0; i < c->s->n_cmem; i++)
        if (strcmp(c->s->cmem[i].name, name) == 0)
            return c->s->cmem[i].lost;
    return false;
}

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
    detect_lost(&c);
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
    batch_free(&c.b);
    free(c.cv);
    store_sched_jobs_free(&c.jobs);
}
