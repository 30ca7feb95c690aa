/* sched.c -- the scheduler thread and its cycle: lost clusters, decide, persist, dispatch,
 * track, cancel, reclaim, garbage-collect. See sched.h for the contract. */
#include "scheduler/sched.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/prom.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/k8s.h"
#include "cluster/poller.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "scheduler/leader.h"
#include "cluster/manifest.h"
#include "scheduler/clients.h"
#include "scheduler/sched_state.h"
#include "store/sched.h"
#include "store/store.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_TRAINING "training"
#define POOL_BORROWED "serving-borrowed"
#define CLUSTERS_MAX  4096
#define LATENCY_RING  1024 /* reclaim latency samples kept for the percentiles */
#define METRIC_SKUS   SKU_MAX

/* ---- metrics ------------------------------------------------------------------------------ */

struct dispatch_errors {
    char cluster[64];
    uint64_t n;
};

struct borrowed_gauge {
    char cluster[64];
    char sku[32];
    int gpus;
};

struct metrics {
    pthread_mutex_t mu;
    uint64_t cycles;
    double cycle_seconds_sum;
    double cycle_seconds_last;
    uint64_t cycle_buckets[8]; /* <= 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, +Inf */
    uint64_t placements;
    uint64_t dispatched;
    uint64_t succeeded, failed, cancelled, requeued, lost;
    struct dispatch_errors *derr;
    size_t n_derr;
    uint64_t reclaims;
    double lost_gpu_hours;
    double req_ms[LATENCY_RING]; /* snapshot -> delete request */
    size_t n_req;
    double freed_ms[LATENCY_RING]; /* snapshot -> pods gone */
    size_t n_freed;
    /* gauges of the last cycle */
    int64_t queue[METRIC_SKUS][PHASE_COUNT];
    char queue_sku[METRIC_SKUS][32];
    size_t n_queue_sku;
    struct borrowed_gauge *borrowed;
    size_t n_borrowed;
};

static void metrics_dispatch_error(struct metrics *m, const char *cluster)
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

static void ring_add(double *ring, size_t *n, double v)
{
    ring[*n % LATENCY_RING] = v;
    (*n)++;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the ring's samples; -1 when empty. */
static double ring_pct(const double *ring, size_t n, double q)
{
    size_t k = n < LATENCY_RING ? n : LATENCY_RING, at;
    double *v, r;

    if (k == 0)
        return -1;
    v = xmalloc(k * sizeof(*v));
    memcpy(v, ring, k * sizeof(*v));
    qsort(v, k, sizeof(*v), cmp_double);
    at = (size_t)ceil(q * (double)k);
    r = v[at > 0 ? at - 1 : 0];
    free(v);
    return r;
}

/* ---- the scheduler ------------------------------------------------------------------------- */

/* What the scheduler remembers about a cluster between cycles. */
struct cluster_mem {
    char name[64];
    int64_t bad_since_ms; /* wall clock when we first saw it unreachable or missing; 0: fine */
    bool lost;            /* its jobs were declared Lost */
};

struct sched {
    struct sched_options o;
    char *dsn, *holder, *priority_class, *priority_class_borrowed;
    json_t *annotations;
    struct policy_config policy;
    struct store *store;
    struct poller *poller;
    struct leader *leader;
    struct sched_clients *clients;
    struct policy_state *pstate;

    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards stop, wake and status */
    bool stop;
    bool wake;
    struct sched_status status;

    int64_t epoch;
    int64_t next_gc_ms;    /* monotonic */
    int64_t next_sync_ms;  /* monotonic */
    uint64_t last_seq;     /* poller publications seen */
    int64_t next_state_ms; /* monotonic: next save of the policy state */
    char *saved_state;     /* the policy state as last saved */
    struct cluster_mem *cmem;
    size_t n_cmem;
    struct metrics m;
};

void sched_options_default(struct sched_options *o)
{
    memset(o, 0, sizeof(*o));
    o->holder = "fedsched";
    o->cycle_interval_ms = 1000;
    o->min_cycle_gap_ms = 100;
    o->leader_retry_ms = 1000;
    o->leader_renew_ms = 1000;
    o->request_timeout_ms = 10000;
    o->backoff_base_s = 10;
    o->backoff_max_s = 600;
    o->max_dispatch_failures = 10;
    o->gc_interval_ms = 60000;
    o->missing_grace_s = 60;
    o->start_timeout_s = 900;
    o->registry_sync_ms = 10000;
    o->default_lost_timeout_s = 900;
    o->priority_class = "";
    o->priority_class_borrowed = "fedsched-borrowed";
}

int sched_new(const struct sched_options *o, struct store *st, struct poller *p, struct sched **out,
              struct err *e)
{
    struct sched *s;

    if (!o->dsn || !*o->dsn)
        return err_set(e, ERR_CONFIG, "database.dsn", "the scheduler needs the database DSN");
    if (o->cycle_interval_ms < 1 || o->min_cycle_gap_ms < 0 || o->backoff_base_s < 0 ||
        o->backoff_max_s < o->backoff_base_s || o->max_dispatch_failures < 1 ||
        o->gc_interval_ms < 1 || o->missing_grace_s < 0 || o->start_timeout_s < 0)
        return err_set(e, ERR_CONFIG, "scheduler", "scheduler options out of range");
    if (o->policy && policy_config_validate(o->policy, e))
        return -1;
    s = xcalloc(1, sizeof(*s));
    s->o = *o;
    s->dsn = xstrdup(o->dsn);
    s->holder = xstrdup(o->holder ? o->holder : "fedsched");
    s->priority_class = xstrdup(o->priority_class ? o->priority_class : "");
    s->priority_class_borrowed =
        xstrdup(o->priority_class_borrowed ? o->priority_class_borrowed : "");
    s->annotations = o->annotations ? json_deep_copy(o->annotations) : NULL;
    s->o.dsn = s->dsn;
    s->o.holder = s->holder;
    s->o.priority_class = s->priority_class;
    s->o.priority_class_borrowed = s->priority_class_borrowed;
    s->o.annotations = s->annotations;
    s->o.skus = o->skus ? o->skus : sku_catalogue();
    if (o->policy)
        s->policy = *o->policy;
    else
        policy_config_defaults(&s->policy);
    s->store = st;
    s->poller = p;
    if (leader_new(s->dsn, s->holder, o->leader_retry_ms, o->leader_renew_ms, &s->leader, e)) {
        free(s->dsn);
        free(s->holder);
        free(s->priority_class);
        free(s->priority_class_borrowed);
        json_decref(s->annotations);
        free(s);
        return -1;
    }
    s->clients = sched_clients_new(o->request_timeout_ms);
    s->pstate = policy_state_new();
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->m.mu, NULL);
    *out = s;
    return 0;
}

void sched_free(struct sched **sp)
{
    struct sched *s;

    if (!sp || !*sp)
        return;
    s = *sp;
    sched_stop(s);
    leader_free(&s->leader);
    sched_clients_free(&s->clients);
    policy_state_free(&s->pstate);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->m.mu);
    free(s->m.derr);
    free(s->m.borrowed);
    free(s->cmem);
    free(s->saved_state);
    free(s->dsn);
    free(s->holder);
    free(s->priority_class);
    free(s->priority_class_borrowed);
    json_decref(s->annotations);
    free(s);
    *sp = NULL;
}

void sched_wake(struct sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->wake = true;
    pthread_mutex_unlock(&s->mu);
}

void sched_get_status(struct sched *s, struct sched_status *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->status;
    pthread_mutex_unlock(&s->mu);
}

/* ---- one cycle ------------------------------------------------------------------------------ */

/* Transitions gathered during a step and applied together; the strings they point to are
 * owned here until the batch is applied. */
struct batch {
    struct store_transition *t;
    size_t *job; /* index of each transition's job in the cycle's job list */
    size_t n, cap;
    char **owned;
    size_t n_owned, cap_owned;
};

static char *batch_own(struct batch *b, char *s)
{
    if (b->n_owned == b->cap_owned) {
        b->cap_owned = b->cap_owned ? b->cap_owned * 2 : 64;
        b->owned = xrealloc(b->owned, b->cap_owned * sizeof(*b->owned));
    }
    b->owned[b->n_owned++] = s;
    return s;
}

static struct store_transition *batch_add(struct batch *b, size_t job,
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

static void batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    b->n_owned = 0;
    b->n = 0;
}

static void batch_free(struct batch *b)
{
    batch_reset(b);
    free(b->t);
    free(b->job);
    free(b->owned);
    memset(b, 0, sizeof(*b));
}

/* Per-cluster view of the cycle. */
struct cview {
    char name[64];
    int snap; /* index in the snapshot, -1 when the poller does not know it */
    enum snapshot_health health;
    int64_t last_success_ms;
    int64_t poll_started_ms; /* start of the last good poll: what it saw includes pods bound
                                before this */
    int64_t lost_timeout_s;
    bool reachable; /* worth calling this cycle */
    bool broken;    /* a call failed at the transport level this cycle */
    bool lost;
};

struct cycle {
    struct sched *s;
    int64_t now;
    int64_t snap_taken_ms;
    struct store_sched_jobs jobs;
    struct cview *cv;
    size_t n_cv;
    struct batch b;
    bool deposed;
};

static struct cview *cview_find(struct cycle *c, const char *name)
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

static bool placed_phase(enum job_phase p)
{
    return p == PHASE_ADMITTED || p == PHASE_DISPATCHED || p == PHASE_RUNNING ||
           p == PHASE_PREEMPTING;
}

/* Applies the batch; on success updates the in-memory jobs that changed (so later steps
 * of the cycle see them), on a superseded epoch marks the cycle deposed. Returns the
 * number applied. */
static size_t apply(struct cycle *c, bool *applied_out)
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
static void read_snapshot_clusters(struct cycle *c, const struct cluster_snapshot *cs, size_t extra)
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

static void read_clusters(struct cycle *c, const struct cluster_snapshot *cs)
{
    struct sched *s = c->s;
    size_t n_names = sched_clients_count(s->clients);

    read_snapshot_clusters(c, cs, n_names);
    /* Clusters in the registry the poller has not picked up yet (or never will). */
    for (size_t i = 0; i < n_names; i++) {
        const char *name = sched_clients_name(s->clients, i);
        struct cview *v;

        if (cview_find(c, name))
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
                LOG(LOG_WARN, "sched", "event=cluster_lost cluster=%s unreachable_s=%" PRId64,
                    v->name, (c->now - since) / 1000);
            m->lost = true;
        }
        v->lost = m->lost;
    }
    /* Placements in clusters that left the registry and the poller alike. */
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (placed_phase(j->phase) && j->cluster[0] && !cview_find(c, j->cluster)) {
            struct cluster_mem *m = cmem_get(s, j->cluster);

            if (!m->bad_since_ms)
                m->bad_since_ms = c->now;
            if (c->now - m->bad_since_ms > (int64_t)s->o.default_lost_timeout_s * 1000)
                m->lost = true;
        }
    }
}

static bool cluster_lost(struct cycle *c, const char *name)
{
    struct cview *v = cview_find(c, name);

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
                t = batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
                t->message = "cancelled by the user while its cluster was lost";
            } else {
                t = batch_add(&c->b, k, j, PHASE_QUEUED, "Requeued");
                t->message = "requeued after its cluster was lost; placed again anywhere";
            }
            continue;
        }
        if (!placed_phase(j->phase) || !j->cluster[0] || !cluster_lost(c, j->cluster))
            continue;
        t = batch_add(&c->b, k, j, PHASE_LOST, "ClusterLost");
        t->message = batch_own(&c->b, xasprintf("cluster %s unreachable for longer than its "
                                                "lost-timeout",
                                                j->cluster));
    }
    apply(c, NULL);
    batch_reset(&c->b);
}

/* ---- step 2: decide and persist --------------------------------------------------------------- */

/* Splits a comma list in place into at most max pointers. */
static size_t split_list(char *s, const char **out, size_t max)
{
    size_t n = 0;

    while (s && *s && n < max) {
        char *comma = strchr(s, ',');

        out[n++] = s;
        if (!comma)
            break;
        *comma = '\0';
        s = comma + 1;
    }
    return n;
}

/* Node plan JSON [["node", gpus], ...], one entry per node. */
static char *plan_json(const struct snapshot *snap, const struct policy_placement *p)
{
    struct buf b;

    buf_init(&b, 0);
    buf_puts(&b, "[");
    for (size_t w = 0; w < p->n_workers; w++) {
        int gpus = 0;
        bool seen = false;

        for (size_t k = 0; k < w && !seen; k++)
            seen = p->workers[k].node == p->workers[w].node;
        if (seen)
            continue;
        for (size_t k = w; k < p->n_workers; k++)
            if (p->workers[k].node == p->workers[w].node)
                gpus += p->workers[k].gpus;
        buf_puts(&b, b.len > 1 ? ",[" : "[");
        policy_json_str(&b, snap->nodes[p->workers[w].node].name);
        buf_printf(&b, ",%d]", gpus);
    }
    buf_puts(&b, "]");
    return buf_steal(&b);
}

static const char *reclaim_reason_code(enum policy_reclaim_reason r)
{
    switch (r) {
    case POLICY_RECLAIM_DEFICIT: return "ServingDemand";
    case POLICY_RECLAIM_LEASE_END: return "LeaseEnded";
    case POLICY_RECLAIM_QUOTA: return "QuotaReclaim";
    }
    return "Reclaimed";
}

struct decide_ctx {
    struct policy_job *queue;
    size_t *qidx; /* queue entry -> job index */
    size_t n_queue;
    struct policy_running *running;
    size_t *ridx;
    size_t n_running;
    const char **lists; /* alt SKU / affinity / node pointers, per job */
    struct policy_node_use *uses;
};

static void decide_ctx_free(struct decide_ctx *d)
{
    free(d->queue);
    free(d->qidx);
    free(d->running);
    free(d->ridx);
    free(d->lists);
    free(d->uses);
}

static void build_inputs(struct cycle *c, const struct cluster_snapshot *cs, struct decide_ctx *d)
{
    const struct snapshot *snap = cs->snap;
    size_t n = c->jobs.n, nl = 0, nu = 0;

    d->queue = xcalloc(n + 1, sizeof(*d->queue));
    d->qidx = xcalloc(n + 1, sizeof(*d->qidx));
    d->running = xcalloc(n + 1, sizeof(*d->running));
    d->ridx = xcalloc(n + 1, sizeof(*d->ridx));
    d->lists = xcalloc(n * 64 + 1, sizeof(*d->lists));
    d->uses = xcalloc(n * 16 + 1, sizeof(*d->uses));
    for (size_t k = 0; k < n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase == PHASE_QUEUED && !j->cancel_requested && j->not_before_ms <= c->now) {
            struct policy_job *q = &d->queue[d->n_queue];
            const char **alts = &d->lists[nl];
            size_t na = split_list(j->alt_skus, alts, POLICY_ALT_SKUS_MAX);

            q->id = (uint64_t)j->id;
            q->ns = j->ns;
            q->name = j->name;
            q->sku = snapshot_sku_find(snap, j->sku);
            for (size_t a = 0; a < na; a++)
                q->alt_skus[q->n_alt_skus++] = snapshot_sku_find(snap, alts[a]);
            q->gpu_count = j->gpu_count;
            q->gpus_per_worker = j->gpus_per_worker;
            q->priority = j->priority;
            q->preemptible = j->preemptible;
            q->created_ms = j->created_ms;
            q->queued_ms = j->queued_ms;
            q->attempt = j->attempt;
            q->max_runtime_s = j->max_runtime_s;
            q->checkpoint_interval_s = j->checkpoint_interval_s;
            q->affinity = &d->lists[nl];
            q->n_affinity = split_list(j->affinity, &d->lists[nl], 64);
            nl += q->n_affinity;
            d->qidx[d->n_queue++] = k;
        } else if (placed_phase(j->phase) && j->cluster[0] &&
                   snapshot_cluster_find(snap, j->cluster) >= 0) {
            struct policy_running *r = &d->running[d->n_running];
            struct cview *v = cview_find(c, j->cluster);
            const char *nodes[16];
            size_t np = split_list(j->node_plan, nodes, 16);

            r->id = (uint64_t)j->id;
            r->ns = j->ns;
            r->name = j->name;
            r->cluster = j->cluster;
            r->pool = strcmp(j->pool, POOL_BORROWED) == 0 ? SNAPSHOT_POOL_SERVING
                                                          : SNAPSHOT_POOL_TRAINING;
            r->sku = snapshot_sku_find(snap, j->sku_placed[0] ? j->sku_placed : j->sku);
            r->gpus = j->gpu_count;
            r->priority = j->priority;
            r->preemptible = j->preemptible;
            r->started_ms = j->started_ms ? j->started_ms : j->admitted_ms;
            r->last_checkpoint_ms = j->last_checkpoint_ms;
            r->lease_end_ms = j->lease_end_ms;
            r->reclaiming = j->phase == PHASE_PREEMPTING;
            /* Its pods count in the snapshot once a good poll started after they were
             * created; until then the policy holds the plan's GPUs itself. */
            r->in_snapshot = j->dispatched_ms > 0 && v && v->poll_started_ms > j->dispatched_ms;
            r->plan = &d->uses[nu];
            for (size_t u = 0; u < np; u++) {
                char *eq = strrchr((char *)nodes[u], '=');

                if (!eq)
                    continue;
                *eq = '\0';
                d->uses[nu].node = nodes[u];
                d->uses[nu].gpus = (int)strtol(eq + 1, NULL, 10);
                nu++;
                r->n_plan++;
            }
            d->ridx[d->n_running++] = k;
        }
    }
}

static void step_decide(struct cycle *c)
{
    struct sched *s = c->s;
    const struct cluster_snapshot *cs;
    struct decide_ctx d = {0};
    struct policy_input in = {0};
    struct policy_quota *quotas = NULL;
    struct policy_result *res = NULL;
    struct err e = {0};

    cs = poller_read_begin(s->poller);
    read_clusters(c, cs);
    build_inputs(c, cs, &d);
    /* With placements running the policy still has work: reclaims, and the fair-share
     * usage they add up. */
    if (d.n_queue == 0 && d.n_running == 0) {
        poller_read_end(s->poller);
        decide_ctx_free(&d);
        return;
    }
    in.snap = cs->snap;
    in.queue = d.queue;
    in.n_queue = d.n_queue;
    in.running = d.running;
    in.n_running = d.n_running;
    in.cfg = &s->policy;
    in.now_ms = c->now;
    quotas = xcalloc(s->o.n_quotas + 1, sizeof(*quotas));
    in.quotas = quotas;
    in.n_quotas = policy_quotas_resolve(cs->snap, s->o.quotas, s->o.n_quotas, quotas);
    in.namespaces = s->o.weights;
    in.n_namespaces = s->o.n_weights;
    if (policy_decide(&in, s->pstate, &res, &e)) {
        free(quotas);
        poller_read_end(s->poller);
        LOG(LOG_ERROR, "sched", "event=policy_failed field=%s msg=\"%s\"", e.field, e.msg);
        decide_ctx_free(&d);
        return;
    }
    for (size_t i = 0; i < res->n_placements; i++) {
        const struct policy_placement *p = &res->placements[i];
        size_t k = d.qidx[p->job];
        struct store_sched_job *j = &c->jobs.v[k];
        struct store_transition *t = batch_add(&c->b, k, j, PHASE_ADMITTED, "Placed");
        struct explain *x = NULL;
        struct buf xb;

        t->cluster = cs->snap->clusters[p->cluster].name;
        t->pool = p->pool == SNAPSHOT_POOL_SERVING ? POOL_BORROWED : POOL_TRAINING;
        t->sku = cs->snap->sku_names[p->sku];
        t->node_plan_json = batch_own(&c->b, plan_json(cs->snap, p));
        t->lease_end_ms = p->lease_end_ms;
        t->over_quota = p->over_quota;
        buf_init(&xb, 0);
        if (explain_job(&in, res, p->job, &x, NULL) == 0 && explain_json(&in, x, &xb) == 0)
            t->placement_json = batch_own(&c->b, buf_steal(&xb));
        buf_free(&xb);
        explain_free(&x);
        if (p->has_runner_up)
            t->message = batch_own(
                &c->b,
                xasprintf("placed on %s (%s, %s, %zu workers), score %.3f; runner-up %s %.3f",
                          t->cluster, t->pool, t->sku, p->n_workers, p->chosen.total,
                          cs->snap->clusters[p->runner_up.cluster].name, p->runner_up.total));
        else
            t->message = batch_own(&c->b, xasprintf("placed on %s (%s, %s, %zu workers), "
                                                    "score %.3f; the only candidate",
                                                    t->cluster, t->pool, t->sku, p->n_workers,
                                                    p->chosen.total));
        /* The strings above point into the snapshot: copy them before it is released. */
        t->cluster = batch_own(&c->b, xstrdup(t->cluster));
        t->sku = batch_own(&c->b, xstrdup(t->sku));
    }
    for (size_t i = 0; i < res->n_reclaims; i++) {
        const struct policy_reclaim *r = &res->reclaims[i];
        size_t k = d.ridx[r->running];
        struct store_sched_job *j = &c->jobs.v[k];
        struct store_transition *t;
        const char *cl = cs->snap->clusters[r->cluster].name;
        const char *sku = r->sku >= 0 ? cs->snap->sku_names[r->sku] : "?";

        if (j->phase == PHASE_PREEMPTING)
            continue;
        t = batch_add(&c->b, k, j, PHASE_PREEMPTING, reclaim_reason_code(r->reason));
        t->reclaim_reason = policy_reclaim_reason_name(r->reason);
        t->gpus = j->gpu_count;
        t->deficit = r->deficit;
        t->lost_gpu_hours = r->lost_gpu_hours;
        t->grace_s = (int)r->grace_s;
        t->snapshot_ms = cs->snap->taken_ms;
        switch (r->reason) {
        case POLICY_RECLAIM_DEFICIT:
            t->message = batch_own(
                &c->b,
                xasprintf(
                    "reclaimed for serving: %s %s serving pool short of %d GPUs "
                    "(pending serving demand %d, reserve %d); grace %" PRId64
                    " s, %.2f GPU-hours since the last checkpoint lost",
                    cl, sku, r->deficit,
                    snapshot_agg_const(cs->snap, (size_t)r->cluster, SNAPSHOT_POOL_SERVING, r->sku)
                        ? snapshot_agg_const(cs->snap, (size_t)r->cluster, SNAPSHOT_POOL_SERVING,
                                             r->sku)
                              ->pending_serving
                        : 0,
                    snapshot_agg_const(cs->snap, (size_t)r->cluster, SNAPSHOT_POOL_SERVING, r->sku)
                        ? snapshot_agg_const(cs->snap, (size_t)r->cluster, SNAPSHOT_POOL_SERVING,
                                             r->sku)
                              ->reserve
                        : 0,
                    r->grace_s, r->lost_gpu_hours));
            break;
        case POLICY_RECLAIM_LEASE_END:
            t->message = batch_own(
                &c->b, xasprintf("the lease on borrowed %s serving GPUs in %s ends; grace %" PRId64
                                 " s, %.2f GPU-hours since the last checkpoint lost",
                                 sku, cl, r->grace_s, r->lost_gpu_hours));
            break;
        case POLICY_RECLAIM_QUOTA:
            t->message = batch_own(
                &c->b,
                xasprintf("%s GPUs in %s returned to namespace %s's nominal quota (for %s); grace "
                          "%" PRId64 " s, %.2f GPU-hours since the last checkpoint lost",
                          sku, cl, d.queue[r->for_job].ns, d.queue[r->for_job].name, r->grace_s,
                          r->lost_gpu_hours));
            break;
        }
    }
    poller_read_end(s->poller);
    policy_result_free(&res);
    free(quotas);
    /* The policy's strings now all live in the batch or the job list. */
    apply(c, NULL);
    batch_reset(&c->b);
    decide_ctx_free(&d);
}

/* ---- member-cluster calls ------------------------------------------------------------------- */

static bool transport_error(enum err_code code)
{
    return code == ERR_UNAVAILABLE || code == ERR_TIMEOUT;
}

static struct k8s_client *client_for(struct cycle *c, const char *cluster,
                                     const struct cluster_config **cfg, struct cview **vout)
{
    struct cview *v = cview_find(c, cluster);

    *vout = v;
    if (!v || v->broken)
        return NULL;
    return sched_clients_get(c->s->clients, cluster, cfg);
}

static enum k8s_job_kind kind_of(const struct store_sched_job *j)
{
    return strcmp(j->framework, "ray") == 0 ? K8S_KIND_RAYJOB : K8S_KIND_JOB;
}

/* Deletes the object of j's current attempt. Returns 0 when the delete was accepted or the
 * object is already gone. */
static int delete_object(struct cycle *c, const struct store_sched_job *j, const char *propagation,
                         int grace_s, struct err *e)
{
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *k = client_for(c, j->cluster, &cfg, &v);
    char name[MANIFEST_NAME_MAX];

    if (!k)
        return err_set(e, ERR_UNAVAILABLE, "cluster", "cluster %s cannot be reached", j->cluster);
    manifest_object_name(j->uid, j->attempt, name, sizeof(name));
    if (k8s_job_delete(k, kind_of(j), cfg->job_namespace, name, propagation, grace_s, NULL, e) &&
        e->code != ERR_NOT_FOUND) {
        if (transport_error(e->code) && v)
            v->broken = true;
        return -1;
    }
    return 0;
}

/* ---- step 3: reclaim deletes ----------------------------------------------------------------- */

static int grace_of(const struct sched *s)
{
    int64_t g = s->policy.grace_period_s;

    if (g < 1)
        g = 1;
    if (s->policy.grace_period_max_s > 0 && g > s->policy.grace_period_max_s)
        g = s->policy.grace_period_max_s;
    return (int)g;
}

/* A Preempting job's object is deleted in the foreground: the object stays (with a
 * deletion timestamp) until its pods are gone, so "object absent" means "GPUs free". */
static void step_preempt(struct cycle *c, bool only_new)
{
    struct sched *s = c->s;

    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];
        struct err e = {0};

        if (j->phase != PHASE_PREEMPTING || (only_new && j->preempt_requested_ms != c->now))
            continue;
        if (!leader_fresh(s->leader, 5000))
            return;
        if (delete_object(c, j, "Foreground", grace_of(s), &e))
            LOG(LOG_WARN, "sched", "event=reclaim_delete_failed job=%s/%s cluster=%s msg=\"%s\"",
                j->ns, j->name, j->cluster, e.msg);
        else if (only_new) {
            pthread_mutex_lock(&s->m.mu);
            s->m.reclaims++;
            ring_add(s->m.req_ms, &s->m.n_req, (double)(clock_realtime_ms() - c->snap_taken_ms));
            pthread_mutex_unlock(&s->m.mu);
            LOG(LOG_INFO, "sched",
                "event=reclaim_requested job=%s/%s cluster=%s latency_ms=%" PRId64, j->ns, j->name,
                j->cluster, clock_realtime_ms() - c->snap_taken_ms);
        }
    }
}

/* ---- step 4: dispatch ------------------------------------------------------------------------- */

static void dispatch_failed(struct cycle *c, size_t k, const char *reason, const char *msg)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    int failures = j->dispatch_failures + 1;
    struct store_transition *t;

    if (failures >= s->o.max_dispatch_failures) {
        t = batch_add(&c->b, k, j, PHASE_FAILED, "DispatchFailed");
        t->message = batch_own(
            &c->b, xasprintf("gave up after %d failed dispatches; last: %s", failures, msg));
        return;
    }
    {
        int64_t backoff = (int64_t)s->o.backoff_base_s * 1000;

        for (int i = 1; i < failures && backoff < (int64_t)s->o.backoff_max_s * 1000; i++)
            backoff *= 2;
        if (backoff > (int64_t)s->o.backoff_max_s * 1000)
            backoff = (int64_t)s->o.backoff_max_s * 1000;
        t = batch_add(&c->b, k, j, PHASE_QUEUED, reason);
        t->failed_dispatch = true;
        t->not_before_ms = c->now + backoff;
        t->message =
            batch_own(&c->b, xasprintf("dispatch to %s failed (%s); retry after %" PRId64 " s",
                                       j->cluster, msg, backoff / 1000));
    }
}

static void dispatch_one(struct cycle *c, size_t k, const struct store_sched_spec *sp)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *client = client_for(c, j->cluster, &cfg, &v);
    struct manifest_in mi = {0};
    char name[MANIFEST_NAME_MAX];
    enum k8s_job_kind kind = K8S_KIND_JOB;
    json_t *obj = NULL, *existing = NULL;
    struct err e = {0};

    if (!client && v && v->broken) {
        /* Another call to the cluster just failed at the transport level: do not wait for
         * this one to time out too. Not counted as this job's failure. */
        struct store_transition *t = batch_add(&c->b, k, j, PHASE_QUEUED, "ClusterUnavailable");

        t->not_before_ms = c->now + (int64_t)s->o.backoff_base_s * 1000;
        t->message =
            batch_own(&c->b, xasprintf("%s did not answer this cycle; requeued", j->cluster));
        return;
    }
    if (!client) {
        metrics_dispatch_error(&s->m, j->cluster);
        dispatch_failed(c, k, "ClusterUnavailable", "no client for the cluster");
        return;
    }
    mi.uid = j->uid;
    mi.attempt = j->attempt;
    mi.ns = j->ns;
    mi.name = j->name;
    mi.framework = j->framework;
    mi.spec_json = sp->spec_json;
    mi.labels_json = sp->labels_json;
    mi.sku = j->sku_placed[0] ? j->sku_placed : j->sku;
    mi.gpu_count = j->gpu_count;
    mi.gpus_per_worker = j->gpus_per_worker;
    mi.max_runtime_s = j->max_runtime_s;
    mi.borrowed = strcmp(j->pool, POOL_BORROWED) == 0;
    mi.cluster = cfg;
    mi.skus = s->o.skus;
    mi.grace_s = grace_of(s);
    mi.priority_class = s->o.priority_class;
    mi.priority_class_borrowed = s->o.priority_class_borrowed;
    mi.annotations = s->o.annotations;
    if (manifest_build(&mi, &kind, &obj, &e)) {
        struct store_transition *t = batch_add(&c->b, k, j, PHASE_FAILED, "InvalidSpec");

        t->message = batch_own(&c->b, xasprintf("cannot build the %s object: %s",
                                                kind == K8S_KIND_JOB ? "Job" : "RayJob", e.msg));
        goto out;
    }
    if (k8s_job_create(client, kind, cfg->job_namespace, obj, NULL, NULL, &e) == 0) {
        struct store_transition *t = batch_add(&c->b, k, j, PHASE_DISPATCHED, "Dispatched");

        manifest_object_name(j->uid, j->attempt, name, sizeof(name));
        t->message = batch_own(&c->b, xasprintf("created %s %s/%s in %s",
                                                kind == K8S_KIND_JOB ? "Job" : "RayJob",
                                                cfg->job_namespace, name, j->cluster));
        goto out;
    }
    if (e.code == ERR_CONFLICT) {
        /* AlreadyExists: ours from an earlier try (a crash between create and commit), or
         * somebody else's object under our name. */
        struct err ge = {0};

        manifest_object_name(j->uid, j->attempt, name, sizeof(name));
        if (k8s_job_get(client, kind, cfg->job_namespace, name, &existing, NULL, &ge) == 0 &&
            manifest_object_is(existing, j->uid, j->attempt)) {
            struct store_transition *t = batch_add(&c->b, k, j, PHASE_DISPATCHED, "Dispatched");

            t->message = batch_own(&c->b, xasprintf("found %s/%s already created in %s",
                                                    cfg->job_namespace, name, j->cluster));
            goto out;
        }
        metrics_dispatch_error(&s->m, j->cluster);
        dispatch_failed(c, k, "NameTaken", "an object with our name and other labels exists");
        goto out;
    }
    if (transport_error(e.code) && v)
        v->broken = true;
    metrics_dispatch_error(&s->m, j->cluster);
    LOG(LOG_WARN, "sched", "event=dispatch_failed job=%s/%s cluster=%s code=%s msg=\"%s\"", j->ns,
        j->name, j->cluster, err_code_name(e.code), e.msg);
    dispatch_failed(c, k, "DispatchFailed", e.msg);
out:
    json_decref(obj);
    json_decref(existing);
}

/* Dispatches the Admitted jobs in chunks: one query fetches the chunk's specs, one
 * statement persists its outcomes (so a crash loses little and the API sees progress). */
#define DISPATCH_CHUNK 256

static void dispatch_chunk(struct cycle *c, const size_t *ks, size_t n)
{
    int64_t ids[DISPATCH_CHUNK] = {0};
    struct store_sched_spec *specs = NULL;
    size_t n_specs = 0, at = 0;
    struct err e = {0};

    for (size_t i = 0; i < n; i++)
        ids[i] = c->jobs.v[ks[i]].id;
    if (store_sched_specs(c->s->store, ids, n, &specs, &n_specs, &e)) {
        LOG(LOG_WARN, "sched", "event=spec_failed n=%zu msg=\"%s\"", n, e.msg);
        return; /* the database is in trouble; the next cycle retries */
    }
    /* ks is in id order (the job list is) and so are the specs. */
    for (size_t i = 0; i < n && !c->deposed; i++) {
        while (at < n_specs && specs[at].id < ids[i])
            at++;
        if (at == n_specs || specs[at].id != ids[i])
            continue; /* deleted meanwhile */
        if (!leader_fresh(c->s->leader, 5000))
            break;
        dispatch_one(c, ks[i], &specs[at]);
    }
    store_sched_specs_free(&specs, n_specs);
    apply(c, NULL);
    batch_reset(&c->b);
}

static void step_dispatch(struct cycle *c)
{
    size_t ks[DISPATCH_CHUNK], n = 0;

    for (size_t k = 0; k < c->jobs.n && !c->deposed; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase != PHASE_ADMITTED)
            continue;
        if (j->cancel_requested) {
            struct err e = {0};
            struct store_transition *t;

            /* A crash may have come between create and commit: delete to be sure. */
            if (delete_object(c, j, "Background", -1, &e) && !cluster_lost(c, j->cluster))
                continue;
            t = batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
            t->message = "cancelled by the user before it was dispatched";
            continue;
        }
        ks[n++] = k;
        if (n == DISPATCH_CHUNK) {
            dispatch_chunk(c, ks, n);
            n = 0;
        }
    }
    if (n)
        dispatch_chunk(c, ks, n);
    apply(c, NULL);
    batch_reset(&c->b);
}

/* ---- step 5: tracking, cancellation, reclaim completion, GC --------------------------------- */

struct uid_ref {
    const char *uid;
    size_t job;
};

static int cmp_uid_ref(const void *a, const void *b)
{
    return strcmp(((const struct uid_ref *)a)->uid, ((const struct uid_ref *)b)->uid);
}

/* The message of the object's final condition (Job) or its status message (RayJob). */
static void final_message(enum k8s_job_kind kind, const json_t *obj, char *out, size_t size)
{
    const json_t *st = json_object_get(obj, "status"), *cond;
    size_t i;

    out[0] = '\0';
    if (kind == K8S_KIND_RAYJOB) {
        const char *m = json_string_value(json_object_get(st, "message"));

        snprintf(out, size, "%s", m ? m : "");
        return;
    }
    json_array_foreach(json_object_get(st, "conditions"), i, cond)
    {
        const char *type = json_string_value(json_object_get(cond, "type"));
        const char *status = json_string_value(json_object_get(cond, "status"));
        const char *m = json_string_value(json_object_get(cond, "message"));

        if (type && status && strcmp(status, "True") == 0 &&
            (strcmp(type, "Complete") == 0 || strcmp(type, "Failed") == 0) && m)
            snprintf(out, size, "%s", m);
    }
}

static bool deleting(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

static void track_job(struct cycle *c, size_t k, const json_t *obj, enum k8s_job_kind kind)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct store_transition *t;
    char reason[64], msg[256];
    struct err e = {0};

    if (j->cancel_requested) {
        if (obj && !deleting(obj) && delete_object(c, j, "Background", -1, &e))
            return;
        t = batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
        t->message =
            batch_own(&c->b, xasprintf("cancelled by the user; deleted from %s", j->cluster));
        return;
    }
    if (j->phase == PHASE_PREEMPTING) {
        if (!obj) {
            int64_t freed = clock_realtime_ms();

            t = batch_add(&c->b, k, j, PHASE_QUEUED, "Preempted");
            t->preempted = true;
            t->message = batch_own(&c->b, xasprintf("reclaimed from %s; its GPUs are free; "
                                                    "requeued",
                                                    j->cluster));
            pthread_mutex_lock(&s->m.mu);
            ring_add(s->m.freed_ms, &s->m.n_freed,
                     (double)(freed - (j->preempt_requested_ms ? j->preempt_requested_ms : freed)));
            pthread_mutex_unlock(&s->m.mu);
        } else if (!deleting(obj) && leader_fresh(s->leader, 5000)) {
            delete_object(c, j, "Foreground", grace_of(s), &e);
        }
        return;
    }
    if (!obj) {
        /* Absent right after creation can be a lagging cache on a real API server; absent
         * for longer, somebody deleted it: run the attempt again elsewhere. */
        int64_t since = j->dispatched_ms ? j->dispatched_ms : j->admitted_ms;

        if (c->now - since < (int64_t)s->o.missing_grace_s * 1000)
            return;
        t = batch_add(&c->b, k, j, PHASE_QUEUED, "ObjectMissing");
        t->message =
            batch_own(&c->b, xasprintf("its %s vanished from %s; requeued",
                                       kind == K8S_KIND_JOB ? "Job" : "RayJob", j->cluster));
        return;
    }
    switch (k8s_job_state_of(kind, obj, reason, sizeof(reason))) {
    case K8S_JOB_PENDING:
        /* Placed on capacity the member cluster's own scheduler cannot find (the
         * snapshot was stale, or it packs differently): give the GPUs back and place the
         * job again rather than hold them forever. */
        if (s->o.start_timeout_s > 0 && j->phase == PHASE_DISPATCHED && j->dispatched_ms &&
            c->now - j->dispatched_ms > (int64_t)s->o.start_timeout_s * 1000 && !deleting(obj) &&
            delete_object(c, j, "Background", -1, &e) == 0) {
            t = batch_add(&c->b, k, j, PHASE_QUEUED, "StartTimeout");
            t->message = batch_own(&c->b, xasprintf("workers not all running in %s after %d s;"
                                                    " deleted and requeued",
                                                    j->cluster, s->o.start_timeout_s));
        }
        break;
    case K8S_JOB_RUNNING:
        if (j->phase == PHASE_DISPATCHED) {
            t = batch_add(&c->b, k, j, PHASE_RUNNING, "Running");
            t->message = batch_own(&c->b, xasprintf("all workers running in %s", j->cluster));
        }
        break;
    case K8S_JOB_SUCCEEDED:
        final_message(kind, obj, msg, sizeof(msg));
        t = batch_add(&c->b, k, j, PHASE_SUCCEEDED,
                      reason[0] ? batch_own(&c->b, xstrdup(reason)) : "Completed");
        t->message =
            batch_own(&c->b, xasprintf("completed in %s%s%s", j->cluster, msg[0] ? ": " : "", msg));
        break;
    case K8S_JOB_FAILED:
        if (strcmp(reason, "PodFailurePolicy") == 0) {
            /* Our pod-failure rule fired: Kubernetes evicted or preempted a worker. */
            t = batch_add(&c->b, k, j, PHASE_QUEUED, "Disrupted");
            t->preempted = true;
            t->message = batch_own(&c->b, xasprintf("a worker was evicted or preempted in %s;"
                                                    " requeued",
                                                    j->cluster));
            break;
        }
        final_message(kind, obj, msg, sizeof(msg));
        t = batch_add(&c->b, k, j, PHASE_FAILED,
                      reason[0] ? batch_own(&c->b, xstrdup(reason)) : "Failed");
        t->message =
            batch_own(&c->b, xasprintf("failed in %s%s%s", j->cluster, msg[0] ? ": " : "", msg));
        break;
    }
}

/* Deletes the objects in items that no live attempt at this cluster owns. live is sorted
 * by uid. */
static void collect(struct cycle *c, struct cview *v, const json_t *items, enum k8s_job_kind kind,
                    const struct uid_ref *live, size_t n_live)
{
    const struct cluster_config *cfg = NULL;
    struct k8s_client *client = sched_clients_get(c->s->clients, v->name, &cfg);
    size_t i;
    const json_t *obj;

    json_array_foreach(items, i, obj)
    {
        char uid[64];
        int attempt = 0;
        struct uid_ref key = {uid, 0}, *hit;
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        struct err e = {0};

        if (!name || deleting(obj) || !manifest_object_owner(obj, uid, sizeof(uid), &attempt))
            continue;
        hit = bsearch(&key, live, n_live, sizeof(*live), cmp_uid_ref);
        if (hit) {
            const struct store_sched_job *j = &c->jobs.v[hit->job];

            if (placed_phase(j->phase) && j->attempt == attempt && strcmp(j->cluster, v->name) == 0)
                continue;
        }
        if (!client || v->broken || !leader_fresh(c->s->leader, 5000))
            return;
        if (k8s_job_delete(client, kind, cfg->job_namespace, name, "Background", -1, NULL, &e) &&
            e.code != ERR_NOT_FOUND) {
            LOG(LOG_WARN, "sched", "event=gc_failed cluster=%s object=%s msg=\"%s\"", v->name, name,
                e.msg);
            if (transport_error(e.code))
                v->broken = true;
            continue;
        }
        LOG(LOG_INFO, "sched", "event=gc_deleted cluster=%s object=%s uid=%s attempt=%d", v->name,
            name, uid, attempt);
    }
}

/* Finds the item named name in a list (items are few per cluster compared with a hash's
 * set-up cost; the list is walked once per job otherwise, so index it). */
static json_t *index_items(const json_t *items)
{
    json_t *idx = json_object();
    size_t i;
    json_t *obj;

    json_array_foreach(items, i, obj)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

        if (name)
            json_object_set(idx, name, obj);
    }
    return idx;
}

/* Applies what tracking found; the objects of jobs that just ended are deleted at once
 * (their outcome is recorded), which keeps the lists the next cycles parse short. */
static void finish_tracked(struct cycle *c)
{
    size_t n = c->b.n;
    bool *ok = xcalloc(n + 1, sizeof(*ok));

    apply(c, ok);
    for (size_t i = 0; i < n && !c->deposed; i++) {
        const struct store_transition *t = &c->b.t[i];
        struct err e = {0};

        if (!ok[i] || (t->to != PHASE_SUCCEEDED && t->to != PHASE_FAILED))
            continue;
        if (!leader_fresh(c->s->leader, 5000))
            break;
        if (delete_object(c, &c->jobs.v[c->b.job[i]], "Background", -1, &e))
            LOG(LOG_DEBUG, "sched", "event=finished_delete_failed job=%s msg=\"%s\"",
                c->jobs.v[c->b.job[i]].name, e.msg);
    }
    free(ok);
    batch_reset(&c->b);
}

/* Lists fedsched's objects per cluster and moves the jobs there along. all: every placed
 * job (a new snapshot came, or the timer); otherwise only those waiting on us (cancel
 * requests, reclaims), so a burst of submissions does not re-list every cluster each
 * cycle. */
static void step_track(struct cycle *c, bool gc, bool all)
{
    struct sched *s = c->s;
    struct uid_ref *live = xcalloc(c->jobs.n + 1, sizeof(*live));
    size_t n_live = 0;
    char selector[128];

    snprintf(selector, sizeof(selector), "%s=%s", K8S_LABEL_MANAGED_BY, K8S_MANAGED_BY);
    for (size_t k = 0; k < c->jobs.n; k++)
        live[n_live++] = (struct uid_ref){c->jobs.v[k].uid, k};
    qsort(live, n_live, sizeof(*live), cmp_uid_ref);
    for (size_t ci = 0; ci < c->n_cv && !c->deposed; ci++) {
        struct cview *v = &c->cv[ci];
        const struct cluster_config *cfg = NULL;
        struct k8s_client *client;
        json_t *items[2] = {NULL, NULL}, *idx[2] = {NULL, NULL};
        bool need[2] = {gc, gc}, any = false;
        struct err e = {0};

        for (size_t k = 0; k < c->jobs.n; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];

            if ((j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING ||
                 j->phase == PHASE_PREEMPTING) &&
                (all || j->cancel_requested || j->phase == PHASE_PREEMPTING) &&
                strcmp(j->cluster, v->name) == 0) {
                need[kind_of(j)] = true;
                any = true;
            }
        }
        if (!any && !gc)
            continue;
        /* A cluster the poller has given up on (it backs off for up to a minute) is still
         * tried at collection time: that is how stale copies go as soon as it is back. */
        if (v->broken || ((!v->reachable || v->lost) && !gc))
            continue;
        client = sched_clients_get(s->clients, v->name, &cfg);
        if (!client)
            continue;
        for (int kind = 0; kind < 2; kind++) {
            if (!need[kind])
                continue;
            if (k8s_job_list(client, (enum k8s_job_kind)kind, cfg->job_namespace, selector,
                             &items[kind], &e)) {
                /* A cluster without KubeRay answers 404 for RayJobs: nothing of ours there. */
                if (kind == K8S_KIND_RAYJOB && e.code == ERR_NOT_FOUND && !any) {
                    items[kind] = json_array();
                    continue;
                }
                LOG(LOG_WARN, "sched", "event=list_failed cluster=%s kind=%d msg=\"%s\"", v->name,
                    kind, e.msg);
                if (transport_error(e.code))
                    v->broken = true;
                break;
            }
            idx[kind] = index_items(items[kind]);
        }
        if (v->broken || (need[0] && !idx[0]) || (need[1] && !idx[1])) {
            for (int kind = 0; kind < 2; kind++) {
                json_decref(items[kind]);
                json_decref(idx[kind]);
            }
            continue;
        }
        for (size_t k = 0; k < c->jobs.n; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];
            char name[MANIFEST_NAME_MAX];
            enum k8s_job_kind kind = kind_of(j);

            if (!(j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING ||
                  j->phase == PHASE_PREEMPTING) ||
                strcmp(j->cluster, v->name) != 0)
                continue;
            manifest_object_name(j->uid, j->attempt, name, sizeof(name));
            track_job(c, k, json_object_get(idx[kind], name), kind);
        }
        /* Persist what tracking found before collecting, so an object is only deleted
         * once no live attempt owns it in the database either. */
        finish_tracked(c);
        if (gc && !c->deposed)
            for (int kind = 0; kind < 2; kind++)
                if (items[kind])
                    collect(c, v, items[kind], (enum k8s_job_kind)kind, live, n_live);
        for (int kind = 0; kind < 2; kind++) {
            json_decref(items[kind]);
            json_decref(idx[kind]);
        }
    }
    free(live);
}

/* Queued jobs whose cancel arrived after a requeue end here (the API ends Queued ones at
 * once, but a job may be requeued after the request). */
static void step_cancel_queued(struct cycle *c)
{
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase == PHASE_QUEUED && j->cancel_requested) {
            struct store_transition *t = batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");

            t->message = "cancelled by the user";
        }
    }
    apply(c, NULL);
    batch_reset(&c->b);
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
        if (placed_phase(j->phase) && strcmp(j->pool, POOL_BORROWED) == 0) {
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

static void cycle_run(struct sched *s, bool gc, bool track)
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
    step_decide(&c);
    if (!c.cv) { /* nothing to decide: still read the clusters for the steps below */
        const struct cluster_snapshot *cs = poller_read_begin(s->poller);

        read_clusters(&c, cs);
        poller_read_end(s->poller);
    }
    detect_lost(&c);
    step_lost(&c);
    step_preempt(&c, true);
    step_dispatch(&c);
    step_track(&c, gc, track || gc);
    step_cancel_queued(&c);
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

/* ---- the policy state across leaders ------------------------------------------------------ */

#define STATE_SAVE_MS 5000

static void load_state(struct sched *s)
{
    char *text = NULL;
    struct err e = {0};

    free(s->saved_state);
    s->saved_state = NULL;
    if (store_sched_state_load(s->store, &text, &e)) {
        LOG(LOG_WARN, "sched", "event=state_load_failed msg=\"%s\"", e.msg);
        return;
    }
    if (!text)
        return;
    if (sched_state_from_json(text, s->pstate, &e)) {
        /* Starting empty is always safe. */
        LOG(LOG_WARN, "sched", "event=state_unreadable field=%s msg=\"%s\"", e.field, e.msg);
        policy_state_free(&s->pstate);
        s->pstate = policy_state_new();
        free(text);
        return;
    }
    LOG(LOG_INFO, "sched", "event=state_loaded pools=%zu namespaces=%zu", s->pstate->n_pools,
        s->pstate->n_usage);
    s->saved_state = text;
}

/* Saves the policy state when it changed; a superseded epoch means we no longer lead. */
static void save_state(struct sched *s)
{
    char *text = sched_state_to_json(s->pstate);
    struct err e = {0};

    if (!text || (s->saved_state && strcmp(text, s->saved_state) == 0)) {
        free(text);
        return;
    }
    if (store_sched_state_save(s->store, s->epoch, text, &e)) {
        LOG(LOG_WARN, "sched", "event=state_save_failed msg=\"%s\"", e.msg);
        if (e.code == ERR_CONFLICT)
            leader_resign(s->leader);
        free(text);
        return;
    }
    free(s->saved_state);
    s->saved_state = text;
}

/* ---- the thread ------------------------------------------------------------------------------ */

static bool should_stop(struct sched *s)
{
    bool stop;

    pthread_mutex_lock(&s->mu);
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static bool take_wake(struct sched *s)
{
    bool w;

    pthread_mutex_lock(&s->mu);
    w = s->wake;
    s->wake = false;
    pthread_mutex_unlock(&s->mu);
    return w;
}

static void set_leading(struct sched *s, bool leading, int64_t epoch)
{
    pthread_mutex_lock(&s->mu);
    if (leading && !s->status.leader)
        s->status.leader_since_ms = clock_realtime_ms();
    if (!leading)
        s->status.leader_since_ms = 0;
    s->status.leader = leading;
    s->status.epoch = leading ? epoch : 0;
    pthread_mutex_unlock(&s->mu);
}

static void *run(void *arg)
{
    struct sched *s = arg;
    int64_t last_cycle = 0, last_track = 0;
    uint64_t track_seq = 0;

    while (!should_stop(s)) {
        int64_t epoch = 0, now;
        bool gained = false, woken, gc = false;

        if (!leader_poll(s->leader, &epoch, &gained)) {
            set_leading(s, false, 0);
            leader_wait(s->leader, s->o.leader_retry_ms < 200 ? s->o.leader_retry_ms : 200);
            continue;
        }
        now = clock_mono_ms();
        if (gained) {
            struct err e = {0};

            /* A new term: the policy state is rebuilt (losing it is safe), and the first
             * cycles repair whatever the previous leader left half done. */
            policy_state_free(&s->pstate);
            s->pstate = policy_state_new();
            load_state(s);
            s->epoch = epoch;
            s->n_cmem = 0;
            s->next_sync_ms = 0;
            s->next_gc_ms = now + s->o.gc_interval_ms / 4;
            if (sched_clients_sync(s->clients, s->store, s->o.skus, &e))
                LOG(LOG_WARN, "sched", "event=clients_sync_failed msg=\"%s\"", e.msg);
            LOG(LOG_INFO, "sched", "event=reconcile epoch=%" PRId64, epoch);
        }
        set_leading(s, true, epoch);
        if (now >= s->next_sync_ms) {
            struct err e = {0};

            if (sched_clients_sync(s->clients, s->store, s->o.skus, &e))
                LOG(LOG_WARN, "sched", "event=clients_sync_failed msg=\"%s\"", e.msg);
            s->next_sync_ms = now + s->o.registry_sync_ms;
        }
        if (now >= s->next_gc_ms) {
            gc = true;
            s->next_gc_ms = now + s->o.gc_interval_ms;
        }
        if (now >= s->next_state_ms) {
            save_state(s);
            s->next_state_ms = now + STATE_SAVE_MS;
        }
        last_cycle = clock_mono_ms();
        {
            uint64_t seq = poller_published(s->poller);
            bool track =
                gained || seq != track_seq || last_cycle - last_track >= s->o.cycle_interval_ms;

            if (track) {
                track_seq = seq;
                last_track = last_cycle;
            }
            cycle_run(s, gc, track);
        }
        /* Sleep until something happens: a notification, a new snapshot, a wake request,
         * the timer; but never cycle more often than min_cycle_gap_ms. */
        woken = false;
        while (!should_stop(s)) {
            int64_t waited = clock_mono_ms() - last_cycle;
            uint64_t seq = poller_published(s->poller);
            int64_t left = s->o.cycle_interval_ms - waited;

            if (waited >= s->o.min_cycle_gap_ms && (woken || take_wake(s) || seq != s->last_seq)) {
                s->last_seq = seq;
                break;
            }
            if (left <= 0)
                break;
            if (leader_wait(s->leader, (int)(left < 50 ? left : 50)))
                woken = true;
            if (!leader_fresh(s->leader, (int64_t)s->o.leader_renew_ms * 5))
                break;
        }
    }
    leader_resign(s->leader);
    set_leading(s, false, 0);
    return NULL;
}

int sched_start(struct sched *s, struct err *e)
{
    if (s->running)
        return err_set(e, ERR_INTERNAL, NULL, "scheduler already running");
    s->stop = false;
    if (pthread_create(&s->thread, NULL, run, s) != 0)
        return err_set(e, ERR_INTERNAL, NULL, "cannot start the scheduler thread");
    s->running = true;
    return 0;
}

void sched_stop(struct sched *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    s->running = false;
}

/* ---- metrics ---------------------------------------------------------------------------------- */

/* A summary of the ring's recent samples; NaN quantiles while there are none. */
static int latency_summary(struct buf *b, const char *name, const char *help, const double *ring,
                           size_t n)
{
    static const double q[2] = {0.5, 0.99};
    int rc = buf_printf(b, "# HELP %s %s\n# TYPE %s summary\n", name, help, name);

    for (int i = 0; i < 2; i++) {
        double v = ring_pct(ring, n, q[i]);

        if (v < 0)
            rc |= buf_printf(b, "%s{quantile=\"%g\"} NaN\n", name, q[i]);
        else
            rc |= buf_printf(b, "%s{quantile=\"%g\"} %.1f\n", name, q[i], v);
    }
    return rc | buf_printf(b, "%s_count %zu\n", name, n);
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
    rc |= latency_summary(b, "fedsched_scheduler_reclaim_request_ms",
                          "Snapshot showing the deficit to delete request (recent reclaims).",
                          m->req_ms, m->n_req);
    rc |=
        latency_summary(b, "fedsched_scheduler_reclaim_freed_ms",
                        "Delete request to GPUs free (recent reclaims).", m->freed_ms, m->n_freed);
    pthread_mutex_unlock(&m->mu);
    return rc ? -1 : 0;
}

/* ---- explanations --------------------------------------------------------------------- */

int sched_explain(struct sched *s, const char *ns, const char *name, struct buf *out, struct err *e)
{
    struct cycle c = {.s = s, .now = clock_realtime_ms()};
    const struct cluster_snapshot *cs;
    struct decide_ctx d = {0};
    struct policy_input in = {0};
    struct policy_quota *quotas = NULL;
    struct policy_state *st = policy_state_new();
    struct policy_result *res = NULL;
    struct explain *x = NULL;
    char *state = NULL;
    long idx = -1;
    int rc = -1;

    if (store_sched_load(s->store, &c.jobs, e)) {
        policy_state_free(&st);
        return -1;
    }
    /* Fair-share usage and hysteresis as the leader last saved them; this thread may not
     * touch the live state, and the what-if cycle must not change it. */
    if (store_sched_state_load(s->store, &state, NULL) == 0 && state)
        sched_state_from_json(state, st, NULL);
    free(state);
    cs = poller_read_begin(s->poller);
    read_snapshot_clusters(&c, cs, 0);
    build_inputs(&c, cs, &d);
    in.snap = cs->snap;
    in.queue = d.queue;
    in.n_queue = d.n_queue;
    in.running = d.running;
    in.n_running = d.n_running;
    in.cfg = &s->policy;
    in.now_ms = c.now;
    quotas = xcalloc(s->o.n_quotas + 1, sizeof(*quotas));
    in.quotas = quotas;
    in.n_quotas = policy_quotas_resolve(cs->snap, s->o.quotas, s->o.n_quotas, quotas);
    in.namespaces = s->o.weights;
    in.n_namespaces = s->o.n_weights;
    if (policy_decide(&in, st, &res, e) == 0) {
        idx = explain_find(&in, ns, name);
        if (idx < 0)
            err_set(e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s is not queued", ns, name);
        else if (explain_job(&in, res, (size_t)idx, &x, e) == 0 && explain_json(&in, x, out) == 0)
            rc = 0;
    }
    poller_read_end(s->poller);
    explain_free(&x);
    policy_result_free(&res);
    policy_state_free(&st);
    free(quotas);
    decide_ctx_free(&d);
    free(c.cv);
    store_sched_jobs_free(&c.jobs);
    return rc;
}
