/* eta.c -- queue position and estimated start by forward simulation with policy_decide()
 * (see eta.h). */
#include "policy/eta.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/snapshot.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eta_opts_validate(const struct eta_opts *o, struct err *e)
{
    if (o->default_runtime_s < 1)
        return err_set(e, ERR_INVALID, "eta.default_runtime_s",
                       "eta.default_runtime_s must be >= 1, not %lld",
                       (long long)o->default_runtime_s);
    if (o->step_s < 1)
        return err_set(e, ERR_INVALID, "eta.step_s", "eta.step_s must be >= 1, not %lld",
                       (long long)o->step_s);
    if (o->max_events < 1)
        return err_set(e, ERR_INVALID, "eta.max_events", "eta.max_events must be >= 1, not %d",
                       o->max_events);
    if (o->max_work < 1)
        return err_set(e, ERR_INVALID, "eta.max_work", "eta.max_work must be >= 1, not %lld",
                       (long long)o->max_work);
    return 0;
}

/* ---- copies the simulation may change ------------------------------------------------ */

/* A copy of n elements of size bytes each; NULL when n is 0. */
static void *copy_of(const void *src, size_t n, size_t size)
{
    void *c;

    if (n == 0)
        return NULL;
    c = xcalloc(n, size);
    memcpy(c, src, n * size);
    return c;
}

static struct policy_state *state_copy(const struct policy_state *st)
{
    struct policy_state *c = policy_state_new();

    if (!st)
        return c;
    c->last_now_ms = st->last_now_ms;
    c->pools = copy_of(st->pools, st->n_pools, sizeof(*c->pools));
    c->n_pools = c->cap_pools = st->n_pools;
    c->preempts = copy_of(st->preempts, st->n_preempts, sizeof(*c->preempts));
    c->n_preempts = c->cap_preempts = st->n_preempts;
    c->usage = copy_of(st->usage, st->n_usage, sizeof(*c->usage));
    c->n_usage = c->cap_usage = st->n_usage;
    c->backfill = copy_of(st->backfill, st->n_backfill, sizeof(*c->backfill));
    c->n_backfill = c->cap_backfill = st->n_backfill;
    c->reserved = copy_of(st->reserved, st->n_reserved, sizeof(*c->reserved));
    c->n_reserved = c->cap_reserved = st->n_reserved;
    return c;
}

int eta_snapshot_copy(const struct snapshot *s, struct snapshot **out, struct err *e)
{
    struct snapshot *c = NULL;
    size_t n_aggs = s->n_clusters * SNAPSHOT_POOL_COUNT * s->n_skus;

    if (snapshot_new(s->n_clusters, s->n_nodes, s->n_skus, &c, e))
        return -1;
    c->taken_ms = s->taken_ms;
    c->seq = s->seq;
    memcpy(c->sku_names, s->sku_names, sizeof(c->sku_names));
    if (s->n_clusters)
        memcpy(c->clusters, s->clusters, s->n_clusters * sizeof(*c->clusters));
    if (s->n_nodes)
        memcpy(c->nodes, s->nodes, s->n_nodes * sizeof(*c->nodes));
    if (n_aggs)
        memcpy(c->aggs, s->aggs, n_aggs * sizeof(*c->aggs));
    *out = c;
    return 0;
}

/* ---- position ------------------------------------------------------------------------- */

static bool shares_sku(const struct policy_job *a, const struct policy_job *b)
{
    int ka[1 + POLICY_ALT_SKUS_MAX], kb[1 + POLICY_ALT_SKUS_MAX];
    size_t na = 0, nb = 0;

    ka[na++] = a->sku;
    for (size_t i = 0; i < a->n_alt_skus && i < POLICY_ALT_SKUS_MAX; i++)
        ka[na++] = a->alt_skus[i];
    kb[nb++] = b->sku;
    for (size_t i = 0; i < b->n_alt_skus && i < POLICY_ALT_SKUS_MAX; i++)
        kb[nb++] = b->alt_skus[i];
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            if (ka[i] >= 0 && ka[i] == kb[j])
                return true;
    return false;
}

/* The policy's order is priority with aging, then weighted fair share between namespaces,
 * as run_queue() walks the queue. With every cluster cordoned the cycle places nothing,
 * so it visits every job in that order and reports each one pending, in visit order: the
 * order at the start of a cycle, read from the policy itself rather than re-implemented.
 * Caller frees *res. */
static int visit_order(const struct policy_input *in, const struct policy_state *st,
                       struct policy_result **res, struct err *e)
{
    struct snapshot *snap = NULL;
    struct policy_state *cst = state_copy(st);
    struct policy_input ci = *in;
    int rc = -1;

    if (eta_snapshot_copy(in->snap, &snap, e))
        goto out;
    for (size_t c = 0; c < snap->n_clusters; c++)
        snap->clusters[c].cordoned = true;
    ci.snap = snap;
    rc = policy_decide(&ci, cst, res, e);
out:
    policy_state_free(&cst);
    snapshot_free(&snap);
    return rc;
}

static int position(const struct policy_input *in, const struct policy_state *st, size_t job,
                    struct eta_result *out, struct err *e)
{
    struct policy_result *res = NULL;

    if (visit_order(in, st, &res, e))
        return -1;
    for (size_t p = 0; p < res->n_pending && res->pending[p].job != job; p++) {
        const struct policy_job *q = &in->queue[res->pending[p].job];

        if (!shares_sku(q, &in->queue[job]))
            continue;
        out->ahead_jobs++;
        out->ahead_gpus += q->gpu_count;
    }
    out->position = out->ahead_jobs + 1;
    policy_result_free(&res);
    return 0;
}

#define ETA_IDLE_HORIZON_MS (7LL * 86400 * 1000)
#define ETA_ALL             SIZE_MAX /* simulate() until the queue is empty */

/* ---- the forward simulation ------------------------------------------------------------ */

/* A placement holding GPUs in the simulation, and when it is expected to end. */
struct sim_run {
    struct policy_running ru;
    int64_t end_ms;
    struct job_node_use *plan; /* owned for placements the simulation made; else NULL */
};

struct sim {
    struct snapshot *snap;
    struct policy_state *st;
    struct policy_job *queue;
    size_t *qorig;  /* queue entry -> index in the input's queue */
    int64_t *qrt_s; /* queue entry -> runtime it is expected to run */
    size_t n_queue;
    struct sim_run *run;
    size_t n_run, cap_run;
    struct policy_running *ru; /* the input's view of run, rebuilt per decision */
    int64_t *starts;           /* per input queue entry, its simulated start; NULL: unused */
    bool *never; /* per input queue entry: a decision gave it a final reason (final_reason()) */
};

/* Whether w keeps a job out for as long as the inputs stay as they are: nothing the
 * simulation changes (jobs ending, time passing, windows opening) can place it. */
static bool final_reason(const struct policy_why *w)
{
    switch (w->reason) {
    case POLICY_REASON_INVALID_SPEC:
    case POLICY_REASON_UNKNOWN_SKU:
    case POLICY_REASON_NO_CLUSTERS:
    case POLICY_REASON_NEVER_FITS: return true;
    case POLICY_REASON_AFFINITY: return w->cluster < 0; /* it names no member cluster */
    default: return false;
    }
}

/* The first of two runtimes that is known, else the default. */
static int64_t runtime_s(int64_t first_s, int64_t second_s, const struct eta_opts *o)
{
    if (first_s > 0)
        return first_s;
    return second_s > 0 ? second_s : o->default_runtime_s;
}

static void run_add(struct sim *S, const struct policy_running *ru, int64_t end_ms,
                    struct job_node_use *plan)
{
    if (S->n_run == S->cap_run) {
        S->cap_run = S->cap_run ? S->cap_run * 2 : 64;
        S->run = xrealloc(S->run, S->cap_run * sizeof(*S->run));
    }
    S->run[S->n_run].ru = *ru;
    S->run[S->n_run].end_ms = end_ms;
    S->run[S->n_run].plan = plan;
    S->n_run++;
}

static int64_t less_floor0(int64_t v, int64_t d)
{
    return v > d ? v - d : 0;
}

/* Ends placement i: a placement the snapshot counts gives its GPUs, and its workers' CPU
 * and memory, back to its nodes (the policy subtracts the plans of the others itself, so
 * dropping them is enough). */
static void run_end(struct sim *S, size_t i)
{
    const struct policy_running *ru = &S->run[i].ru;
    int c = ru->cluster ? snapshot_cluster_find(S->snap, ru->cluster) : -1;

    if (ru->in_snapshot && c >= 0) {
        const struct snapshot_cluster *cl = &S->snap->clusters[c];

        for (size_t p = 0; p < ru->n_plan; p++)
            for (size_t n = cl->node_first; n < cl->node_first + cl->n_nodes; n++) {
                struct snapshot_node *nd = &S->snap->nodes[n];
                int64_t workers;

                if (!ru->plan[p].node || strcmp(nd->name, ru->plan[p].node) != 0)
                    continue;
                workers = policy_plan_workers(ru, p);
                nd->used = nd->used > ru->plan[p].gpus ? nd->used - ru->plan[p].gpus : 0;
                nd->cpu_used_m = less_floor0(nd->cpu_used_m, workers * ru->cpu_m_per_worker);
                nd->mem_used_mib = less_floor0(nd->mem_used_mib, workers * ru->mem_mib_per_worker);
                if (nd->pool == SNAPSHOT_POOL_SERVING)
                    nd->borrowed =
                        nd->borrowed > ru->plan[p].gpus ? nd->borrowed - ru->plan[p].gpus : 0;
                break;
            }
    }
    free(S->run[i].plan);
    S->run[i] = S->run[--S->n_run];
}

/* Starts queue entry q of the simulation as placement p of a decision at t. */
static void start(struct sim *S, const struct policy_placement *p, size_t q, int64_t t)
{
    const struct policy_job *job = &S->queue[q];
    struct job_node_use *plan = xcalloc(p->n_workers + 1, sizeof(*plan));
    struct policy_running ru;

    for (size_t w = 0; w < p->n_workers; w++) {
        plan[w].node = S->snap->nodes[p->workers[w].node].name;
        plan[w].gpus = p->workers[w].gpus;
    }
    memset(&ru, 0, sizeof(ru));
    ru.id = job->id;
    ru.ns = job->ns;
    ru.name = job->name;
    ru.cluster = S->snap->clusters[p->cluster].name;
    ru.pool = p->pool;
    ru.sku = p->sku;
    ru.gpus = job->gpu_count;
    ru.priority = job->priority;
    ru.preemptible = job->preemptible;
    ru.started_ms = t;
    ru.lease_end_ms = p->lease_end_ms;
    ru.in_snapshot = false;
    /* Held on its nodes as a plan not yet in the snapshot: GPUs, CPU and memory. */
    ru.gpus_per_worker = job->gpus_per_worker;
    ru.cpu_m_per_worker = job->cpu_m_per_worker;
    ru.mem_mib_per_worker = job->mem_mib_per_worker;
    ru.plan = plan;
    ru.n_plan = p->n_workers;
    run_add(S, &ru, t + S->qrt_s[q] * 1000, plan);
}

/* Moves the snapshot to t: clusters keep the data age they had at now, so a fresh
 * snapshot does not go stale in simulated time. */
static void snapshot_at(struct snapshot *s, const struct snapshot *orig, int64_t now, int64_t t)
{
    s->taken_ms = orig->taken_ms + (t - now);
    s->seq = orig->seq + (uint64_t)(t - now);
    for (size_t c = 0; c < s->n_clusters; c++)
        if (orig->clusters[c].last_poll_ms > 0)
            s->clusters[c].last_poll_ms = orig->clusters[c].last_poll_ms + (t - now);
    snapshot_compute_aggregates(s);
}

/* One decision at t. Returns 1 when the target (input queue index; ETA_ALL: none) was
 * placed, 2 when it got a final reason (it will never be; for ETA_ALL, when every job left
 * has one), 0 otherwise, -1 on failure. */
static int decide_at(struct sim *S, const struct policy_input *in, size_t target, int64_t t,
                     struct err *e)
{
    struct policy_input ci = *in;
    struct policy_result *res = NULL;
    bool *gone = NULL;
    int found = 0;
    size_t m = 0;

    snapshot_at(S->snap, in->snap, in->now_ms, t);
    S->ru = xrealloc(S->ru, (S->n_run + 1) * sizeof(*S->ru));
    for (size_t i = 0; i < S->n_run; i++)
        S->ru[i] = S->run[i].ru;
    ci.snap = S->snap;
    ci.queue = S->queue;
    ci.n_queue = S->n_queue;
    ci.running = S->ru;
    ci.n_running = S->n_run;
    ci.now_ms = t;
    if (policy_decide(&ci, S->st, &res, e))
        return -1;
    /* Reclaims and priority preemptions end their victims after the grace period; they are
     * not put back in the queue (when they would run again is unknowable). */
    for (size_t i = 0; i < res->n_reclaims; i++) {
        struct sim_run *r = &S->run[res->reclaims[i].running];
        int64_t end = t + res->reclaims[i].grace_s * 1000;

        r->ru.reclaiming = true;
        if (end < r->end_ms)
            r->end_ms = end;
    }
    for (size_t p = 0; p < res->n_pending; p++)
        if (res->pending[p].job < S->n_queue && final_reason(&res->pending[p].why))
            S->never[S->qorig[res->pending[p].job]] = true;
    if (target != ETA_ALL && S->never[target])
        found = 2; /* it never starts: no need to simulate on */
    gone = xcalloc(S->n_queue + 1, sizeof(*gone));
    for (size_t i = 0; i < res->n_placements; i++) {
        size_t q = res->placements[i].job;

        if (S->qorig[q] == target)
            found = 1;
        if (S->starts)
            S->starts[S->qorig[q]] = t;
        start(S, &res->placements[i], q, t);
        gone[q] = true;
    }
    for (size_t q = 0; q < S->n_queue; q++)
        if (!gone[q]) {
            S->queue[m] = S->queue[q];
            S->qorig[m] = S->qorig[q];
            S->qrt_s[m] = S->qrt_s[q];
            m++;
        }
    S->n_queue = m;
    free(gone);
    policy_result_free(&res);
    if (target == ETA_ALL && m > 0) { /* the whole queue: on while one left may start */
        found = 2;
        for (size_t q = 0; q < m && found == 2; q++)
            if (!S->never[S->qorig[q]])
                found = 0;
    }
    return found;
}

static void sim_free(struct sim *S)
{
    for (size_t i = 0; i < S->n_run; i++)
        free(S->run[i].plan);
    free(S->run);
    free(S->ru);
    free(S->queue);
    free(S->qorig);
    free(S->qrt_s);
    policy_state_free(&S->st);
    snapshot_free(&S->snap);
}

/* When running placement r is expected to end (see eta_estimate()). */
static int64_t running_end(const struct policy_input *in, const struct eta_runtimes *rt, size_t r,
                           const struct eta_opts *o, struct eta_result *out)
{
    const struct policy_running *ru = &in->running[r];
    int64_t limit = rt && rt->running_limit_s ? rt->running_limit_s[r] : 0;
    int64_t exp = rt && rt->running_expected_s ? rt->running_expected_s[r] : 0;
    int64_t end, now = in->now_ms;

    if (limit > 0) {
        out->running_known++;
        end = ru->started_ms + limit * 1000;
        if (end > now)
            return end;
        out->overdue++;
        return now + 1;
    }
    out->running_assumed++;
    end = ru->started_ms + runtime_s(exp, 0, o) * 1000;
    if (end > now)
        return end;
    out->overdue++;
    return now + (now > ru->started_ms ? now - ru->started_ms : 1);
}

/* Simulates until queue entry job is placed (out->placed, out->start_ms) or, for ETA_ALL,
 * until the queue is empty; starts (NULL: not wanted) gets each entry's start, -1 for those
 * not placed. The decisions do not depend on job: only where the simulation stops does. */
static int simulate(const struct policy_input *in, const struct eta_runtimes *rt,
                    const struct policy_state *st, size_t job, const struct eta_opts *o,
                    struct eta_result *out, int64_t *starts, bool *never, struct err *e)
{
    struct sim S;
    int64_t t = in->now_ms;
    int rc = -1;

    memset(&S, 0, sizeof(S));
    S.starts = starts;
    for (size_t q = 0; starts && q < in->n_queue; q++)
        starts[q] = -1;
    if (eta_snapshot_copy(in->snap, &S.snap, e))
        return -1;
    S.st = state_copy(st);
    S.queue = xcalloc(in->n_queue + 1, sizeof(*S.queue));
    S.qorig = xcalloc(in->n_queue + 1, sizeof(*S.qorig));
    S.qrt_s = xcalloc(in->n_queue + 1, sizeof(*S.qrt_s));
    S.never = never ? never : xcalloc(in->n_queue + 1, sizeof(*S.never));
    for (size_t q = 0; q < in->n_queue; q++) {
        S.queue[q] = in->queue[q];
        S.qorig[q] = q;
        S.qrt_s[q] = runtime_s(in->queue[q].max_runtime_s,
                               rt && rt->queue_expected_s ? rt->queue_expected_s[q] : 0, o);
    }
    S.n_queue = in->n_queue;
    for (size_t r = 0; r < in->n_running; r++)
        run_add(&S, &in->running[r], running_end(in, rt, r, o, out), NULL);
    for (;;) {
        int64_t next = t + o->step_s * 1000;
        int placed;
        int64_t seen = (int64_t)(S.n_queue + S.n_run);

        if (out->events >= o->max_events || (out->events > 0 && out->work + seen > o->max_work)) {
            out->capped = true;
            break;
        }
        out->events++;
        out->work += seen;
        placed = decide_at(&S, in, job, t, e);
        if (placed < 0)
            goto out;
        if (placed == 2)
            break;
        if (placed) {
            out->placed = true;
            out->start_ms = t;
            break;
        }
        if (S.n_queue == 0)
            break;
        /* Nothing holds GPUs and the job still waits a week on: no GPU will free up for
         * it under these inputs (it never fits, or a cluster's state keeps it out), and
         * every lending window has come round once. */
        if (S.n_run == 0 && t - in->now_ms >= ETA_IDLE_HORIZON_MS)
            break;
        for (size_t i = 0; i < S.n_run; i++)
            if (S.run[i].end_ms < next)
                next = S.run[i].end_ms;
        if (next <= t)
            next = t + 1;
        t = next;
        for (size_t i = S.n_run; i-- > 0;)
            if (S.run[i].end_ms <= t)
                run_end(&S, i);
    }
    rc = 0;
out:
    if (S.never != never)
        free(S.never);
    sim_free(&S);
    return rc;
}

int eta_estimate(const struct policy_input *in, const struct eta_runtimes *rt,
                 const struct policy_state *st, size_t job, const struct eta_opts *o,
                 struct eta_result *out, struct err *e)
{
    struct eta_result r;

    if (!in || !in->snap || !in->cfg)
        return err_set(e, ERR_INVALID, "input", "eta_estimate needs a snapshot and config");
    if (job >= in->n_queue)
        return err_set(e, ERR_NOT_FOUND, "job", "queue index %zu is out of range (%zu queued)", job,
                       in->n_queue);
    if (eta_opts_validate(o, e))
        return -1;
    memset(&r, 0, sizeof(r));
    r.default_runtime_s = o->default_runtime_s;
    if (position(in, st, job, &r, e) || simulate(in, rt, st, job, o, &r, NULL, NULL, e))
        return -1;
    *out = r;
    return 0;
}

/* ---- the whole queue ------------------------------------------------------------------- */

/* The SKUs a job accepts, as bits (SNAPSHOT_SKU_MAX is 64): two jobs share a queue when
 * their masks meet, as shares_sku() says. */
static uint64_t sku_mask(const struct policy_job *j)
{
    uint64_t m = 0;

    if (j->sku >= 0 && j->sku < 64)
        m |= 1ULL << j->sku;
    for (size_t i = 0; i < j->n_alt_skus && i < POLICY_ALT_SKUS_MAX; i++)
        if (j->alt_skus[i] >= 0 && j->alt_skus[i] < 64)
            m |= 1ULL << j->alt_skus[i];
    return m;
}

/* Jobs and GPUs seen so far with one SKU mask. Queues have few distinct masks (one per
 * SKU and per list of alternatives), so summing over them keeps positions linear. */
struct mask_count {
    uint64_t mask;
    int jobs, gpus;
};

/* The jobs and GPUs of masks meeting m; adds job j's own when add. */
static void mask_ahead(struct mask_count **v, size_t *n, uint64_t m, int gpus, bool add,
                       struct eta_queue_entry *x)
{
    size_t i, own = *n;

    for (i = 0; i < *n; i++) {
        if ((*v)[i].mask & m) {
            x->ahead_jobs += (*v)[i].jobs;
            x->ahead_gpus += (*v)[i].gpus;
        }
        if ((*v)[i].mask == m)
            own = i;
    }
    x->position = x->ahead_jobs + 1;
    if (!add || m == 0)
        return;
    if (own == *n) {
        *v = xrealloc(*v, (*n + 1) * sizeof(**v));
        (*v)[(*n)++] = (struct mask_count){m, 0, 0};
    }
    (*v)[own].jobs++;
    (*v)[own].gpus += gpus;
}

int eta_estimate_queue(const struct policy_input *in, const struct eta_runtimes *rt,
                       const struct policy_state *st, const struct eta_opts *o,
                       struct eta_queue *out, struct err *e)
{
    struct policy_result *res = NULL;
    struct mask_count *seen = NULL;
    size_t n_seen = 0;
    int64_t *starts = NULL;
    bool *never = NULL;
    struct eta_queue q;
    int rc = -1;

    if (!in || !in->snap || !in->cfg)
        return err_set(e, ERR_INVALID, "input", "eta_estimate_queue needs a snapshot and config");
    if (eta_opts_validate(o, e))
        return -1;
    memset(&q, 0, sizeof(q));
    q.n = in->n_queue;
    q.v = xcalloc(q.n + 1, sizeof(*q.v));
    q.basis.default_runtime_s = o->default_runtime_s;
    starts = xcalloc(q.n + 1, sizeof(*starts));
    if (visit_order(in, st, &res, e))
        goto out;
    for (size_t i = 0; i < q.n; i++)
        q.v[i].order = -1;
    for (size_t p = 0; p < res->n_pending; p++) {
        size_t j = res->pending[p].job;

        if (j >= q.n || q.v[j].order >= 0)
            continue;
        q.v[j].order = (int)p;
        mask_ahead(&seen, &n_seen, sku_mask(&in->queue[j]), in->queue[j].gpu_count, true, &q.v[j]);
    }
    /* One the visit did not report stands behind every job it did, as position() counts. */
    for (size_t j = 0; j < q.n; j++)
        if (q.v[j].order < 0)
            mask_ahead(&seen, &n_seen, sku_mask(&in->queue[j]), 0, false, &q.v[j]);
    never = xcalloc(q.n + 1, sizeof(*never));
    if (simulate(in, rt, st, ETA_ALL, o, &q.basis, starts, never, e))
        goto out;
    for (size_t j = 0; j < q.n; j++) {
        q.v[j].placed = starts[j] >= 0;
        q.v[j].start_ms = starts[j];
        q.v[j].never = !q.v[j].placed && never[j];
    }
    *out = q;
    q.v = NULL;
    rc = 0;
out:
    free(q.v);
    free(starts);
    free(never);
    free(seen);
    policy_result_free(&res);
    return rc;
}

void eta_queue_free(struct eta_queue *q)
{
    if (!q)
        return;
    free(q->v);
    q->v = NULL;
    q->n = 0;
}

void eta_json(const struct eta_result *r, struct buf *out)
{
    char ts[40];

    buf_printf(out, "{\"position\":%d,\"ahead\":{\"jobs\":%d,\"gpus\":%d},\"estimatedStart\":",
               r->position, r->ahead_jobs, r->ahead_gpus);
    if (r->placed) {
        clock_format_rfc3339(r->start_ms, ts, sizeof(ts));
        buf_printf(out, "\"%s\"", ts);
    } else {
        buf_printf(out, "null,\"noEstimate\":\"%s\"", eta_no_estimate(r->capped));
    }
    buf_puts(out, ",\"basis\":");
    eta_basis_json(r, out);
    buf_puts(out, "}");
}

const char *eta_no_estimate(bool capped)
{
    return capped ? "capped" : "never";
}

void eta_basis_json(const struct eta_result *r, struct buf *out)
{
    buf_printf(out,
               "{\"method\":\"simulation\",\"decisions\":%d,\"capped\":%s,"
               "\"runningWithMaxRuntime\":%d,\"runningAssumed\":%d,\"runningOverdue\":%d,"
               "\"assumedRuntimeSeconds\":%lld}",
               r->events, r->capped ? "true" : "false", r->running_known, r->running_assumed,
               r->overdue, (long long)r->default_runtime_s);
}
