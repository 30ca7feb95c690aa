/* whatif_engine.c -- event loop, federation state, the policy driver and the baselines. */
#include "whatif/whatif_engine.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/forecast_set.h"
#include "policy/tz.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000LL

/* ---- names and options ------------------------------------------------------------------ */

const char *whatif_sched_name(enum whatif_sched s)
{
    switch (s) {
    case WHATIF_OURS: return "ours";
    case WHATIF_OURS_NO_BORROW: return "ours-no-borrow";
    case WHATIF_FIFO: return "fifo";
    case WHATIF_MOST_FREE: return "most-free";
    case WHATIF_ORDERED_FIRST_FIT: return "ordered-first-fit";
    case WHATIF_OURS_FORECAST: return "ours-forecast";
    case WHATIF_OURS_PROACTIVE: return "ours-proactive";
    case WHATIF_SCHED_COUNT: break;
    }
    return "unknown";
}

int whatif_sched_parse(const char *s, enum whatif_sched *out, struct err *e)
{
    for (int i = 0; i < WHATIF_SCHED_COUNT; i++)
        if (strcmp(s, whatif_sched_name((enum whatif_sched)i)) == 0) {
            *out = (enum whatif_sched)i;
            return 0;
        }
    return err_set(e, ERR_INVALID, "scheduler",
                   "scheduler '%s' is not one of ours, ours-no-borrow, fifo, most-free, "
                   "ordered-first-fit, ours-forecast, ours-proactive",
                   s);
}

const char *whatif_eta_name(enum whatif_eta m)
{
    switch (m) {
    case WHATIF_ETA_OFF: return "off";
    case WHATIF_ETA_HISTORY: return "history";
    case WHATIF_ETA_ORACLE: return "oracle";
    }
    return "unknown";
}

int whatif_eta_parse(const char *s, enum whatif_eta *out, struct err *e)
{
    for (int i = WHATIF_ETA_OFF; i <= WHATIF_ETA_ORACLE; i++)
        if (strcmp(s, whatif_eta_name((enum whatif_eta)i)) == 0) {
            *out = (enum whatif_eta)i;
            return 0;
        }
    return err_set(e, ERR_INVALID, "eta", "eta '%s' is not one of off, history, oracle", s);
}

void whatif_opts_defaults(struct whatif_opts *o, const struct policy_config *policy)
{
    memset(o, 0, sizeof(*o));
    o->cycle_s = 60;
    o->demand_step_s = 300;
    o->window_s = 0;
    o->drain_s = 30 * 86400.0;
    o->cfg = *policy;
    o->eta = WHATIF_ETA_OFF;
    o->checkpoint_write_s = 60;
    o->eta_opts.default_runtime_s = 4 * 3600;
    o->eta_opts.step_s = 3600;
    o->eta_opts.max_events = 2000;
    o->eta_opts.max_work = INT64_MAX;
}

double whatif_reclaim_bound_s(const struct whatif_opts *o)
{
    /* Detection: reclaim_k snapshots (one a cycle) and reclaim_settle_s from the first,
     * judged at cycle boundaries. */
    double settle = ceil((double)o->cfg.reclaim_settle_s / (double)o->cycle_s) + 1;
    double k = ((double)o->cfg.reclaim_k > settle ? (double)o->cfg.reclaim_k : settle) *
               (double)o->cycle_s;
    double g = (double)o->cfg.grace_period_s;

    if (g > (double)o->cfg.grace_period_max_s)
        g = (double)o->cfg.grace_period_max_s;
    if (g < 1)
        g = 1;
    return (k > (double)o->cfg.min_runtime_s ? k : (double)o->cfg.min_runtime_s) +
           (double)o->cycle_s + g;
}

/* The schedulers that run policy_decide(). */
static bool is_policy(enum whatif_sched s)
{
    return s == WHATIF_OURS || s == WHATIF_OURS_NO_BORROW || s == WHATIF_OURS_FORECAST ||
           s == WHATIF_OURS_PROACTIVE;
}

static bool uses_forecast(enum whatif_sched s)
{
    return s == WHATIF_OURS_FORECAST || s == WHATIF_OURS_PROACTIVE;
}

/* ---- state ---------------------------------------------------------------------------------- */

enum jst { J_FUTURE = 0, J_QUEUED, J_RUNNING, J_PREEMPTING, J_DONE };

struct jstate {
    enum jst st;
    int attempt;
    double remaining; /* share of the work still to do */
    int cluster, opt, sku;
    enum snapshot_pool pool;
    int *wnode; /* node of each worker, n_workers */
    int n_workers;
    int64_t start_ms, queued_since_ms, first_start_ms, done_ms, lease_end_ms;
    int64_t wait_ms;
    int64_t eta_at_ms; /* when its start was estimated; -1 = not yet */
    int64_t eta_ms;    /* the estimate; -1 = none (capped or never placed) */
    bool eta_capped;
    int64_t kept_ms;      /* a checkpoint-first victim's kept running time; -1: by checkpoint_s */
    bool lending_reclaim; /* reclaimed to give serving GPUs back (not priority, quota) */
    /* A checkpoint-first victim: its deadline and when it is deleted (-1: none); whether it
     * wrote its checkpoint in time. */
    int64_t ckpt_by_ms, ckpt_delete_ms;
    bool ckpt_in_time;
};

struct node {
    int cluster, sku;
    enum snapshot_pool pool;
    int alloc, ours, serving;
    char name[48];
};

/* Serving replicas of one cluster x SKU. */
struct sgroup {
    int cluster, sku, demand; /* demand: index into the cluster's demand list, -1 = none */
    int *nodes;
    int n_nodes, gpus;
    int want, placed;       /* GPUs asked for by serving, GPUs they hold */
    int64_t unmet_since_ms; /* -1 when met */
    int64_t unmet_borrow_since_ms;
    int64_t last_ms;
    size_t *pending; /* serving pods waiting for GPUs, by arrival (pod mode) */
    size_t n_pending;
};

/* A serving pod (with a serving trace): its group, when it got GPUs (-1 = not yet) and the
 * node of each of its GPUs. */
struct spod {
    struct whatif_spod p;
    int group;
    bool alive;
    int64_t placed_ms; /* -1: not (yet) */
    int64_t gone_ms;   /* left before it got GPUs; -1: not */
    int *gnode;
};

/* GPU-time integrator of one cluster x pool x SKU. queued: at the last cycle a queued job
 * accepted this SKU, so its free GPUs (training pools) count in idle_queued_ms. */
struct pstat {
    int cluster, sku;
    enum snapshot_pool pool;
    int gpus, ours, serving;
    bool queued;
    double ours_ms, serving_ms, idle_queued_ms;
    int64_t last_ms;
};

enum ev_kind {
    EV_COMPLETE = 0,
    EV_KILL,
    EV_SPOD_LEAVE,
    EV_DEMAND,
    EV_SPOD_ARRIVE,
    EV_ARRIVAL,
    EV_CYCLE,
    EV_WINDOW_END
};

struct ev {
    int64_t t;
    int kind;
    uint64_t seq;
    size_t job;
    int attempt;
};

struct sim {
    const struct whatif_layout *l;
    const struct whatif_jobs *J;
    const struct whatif_opts *o;
    enum whatif_sched sched;
    struct node *nodes;
    size_t n_nodes;
    size_t *cl_first, *cl_count; /* node range per cluster */
    struct sgroup *sg;
    size_t n_sg;
    struct pstat *ps;
    size_t n_ps;
    int *node_ps; /* pstat of each node */
    int *node_sg; /* serving group of each node, -1 */
    struct jstate *js;
    struct ev *heap;
    size_t n_heap, cap_heap;
    uint64_t seq;
    int64_t now, window_ms, end_ms;
    size_t n_active; /* jobs not done and already arrived */
    size_t n_future;
    int borrowers; /* running jobs on serving pools */
    /* policy */
    struct snapshot *snap;
    struct policy_state *pst;
    struct policy_job *queue;
    double *tp; /* --declared-throughput: job i's throughputs at [i * (1 + WHATIF_ALT_MAX)] */
    struct policy_running *running;
    size_t *qidx, *ridx;
    struct policy_config cfg;
    int64_t *idle_since;
    /* serving pods (pod mode) and the forecasts learned from serving use */
    struct spod *spods;
    size_t n_spods;
    struct forecast_set *fset;
    struct policy_forecast *fc;
    /* queue ETAs: runtimes of finished jobs (median mode), and per cycle the running
     * placements with their plans, the runtimes assumed */
    int64_t *done_rt_s;
    const char **done_ns;
    size_t n_done;
    struct policy_running *eta_run;
    struct job_node_use *plan; /* the running placements' node plans, one arena */
    int64_t *eta_rlim, *eta_rexp, *eta_qexp;
    /* results */
    struct whatif_report *r;
    uint64_t digest;
    double unmet_gpu_ms, want_gpu_ms;
};

/* ---- events --------------------------------------------------------------------------------- */

static bool ev_less(const struct ev *a, const struct ev *b)
{
    if (a->t != b->t)
        return a->t < b->t;
    if (a->kind != b->kind)
        return a->kind < b->kind;
    return a->seq < b->seq;
}

static void ev_push(struct sim *S, int64_t t, int kind, size_t job, int attempt)
{
    size_t i;

    if (S->n_heap == S->cap_heap) {
        S->cap_heap = S->cap_heap ? S->cap_heap * 2 : 1024;
        S->heap = xrealloc(S->heap, S->cap_heap * sizeof(*S->heap));
    }
    i = S->n_heap++;
    S->heap[i] = (struct ev){t, kind, S->seq++, job, attempt};
    while (i > 0 && ev_less(&S->heap[i], &S->heap[(i - 1) / 2])) {
        struct ev x = S->heap[i];

        S->heap[i] = S->heap[(i - 1) / 2];
        S->heap[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
}

static struct ev ev_pop(struct sim *S)
{
    struct ev top = S->heap[0];
    size_t i = 0;

    S->heap[0] = S->heap[--S->n_heap];
    for (;;) {
        size_t a = 2 * i + 1, b = a + 1, m = i;

        if (a < S->n_heap && ev_less(&S->heap[a], &S->heap[m]))
            m = a;
        if (b < S->n_heap && ev_less(&S->heap[b], &S->heap[m]))
            m = b;
        if (m == i)
            break;
        {
            struct ev x = S->heap[i];

            S->heap[i] = S->heap[m];
            S->heap[m] = x;
        }
        i = m;
    }
    return top;
}

static void mix(struct sim *S, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        S->digest ^= (v >> (8 * i)) & 0xff;
        S->digest *= 1099511628211ULL;
    }
}

/* ---- accounting -------------------------------------------------------------------------------- */

/* Adds GPU-time of every pool from its last change to now, clipped to the window. */
static void ps_advance(struct sim *S, struct pstat *p)
{
    int64_t a = p->last_ms < S->window_ms ? p->last_ms : S->window_ms;
    int64_t b = S->now < S->window_ms ? S->now : S->window_ms;

    if (b > a) {
        int idle = p->gpus - p->ours - p->serving;

        p->ours_ms += (double)p->ours * (double)(b - a);
        p->serving_ms += (double)p->serving * (double)(b - a);
        if (p->queued && p->pool == SNAPSHOT_POOL_TRAINING && idle > 0)
            p->idle_queued_ms += (double)idle * (double)(b - a);
    }
    p->last_ms = S->now;
}

/* After a cycle: which training pools a queued job would take (any of its SKUs), for
 * whatif_report.idle_queued_gpu_hours. */
static void track_queued(struct sim *S)
{
    bool want[SNAPSHOT_SKU_MAX + 1] = {false};

    for (size_t i = 0; i < S->J->n; i++) {
        const struct whatif_job *j = &S->J->v[i];

        if (S->js[i].st != J_QUEUED)
            continue;
        for (int k = 0; k < j->n_skus; k++)
            if (j->skus[k] >= 0 && j->skus[k] < SNAPSHOT_SKU_MAX)
                want[j->skus[k]] = true;
    }
    for (size_t i = 0; i < S->n_ps; i++) {
        struct pstat *p = &S->ps[i];

        if (p->pool == SNAPSHOT_POOL_TRAINING && p->queued != want[p->sku]) {
            ps_advance(S, p);
            p->queued = want[p->sku];
        }
    }
}

static void node_add_ours(struct sim *S, int n, int g)
{
    struct pstat *p = &S->ps[S->node_ps[n]];

    ps_advance(S, p);
    S->nodes[n].ours += g;
    p->ours += g;
}

static void sg_unmet_track(struct sim *S, struct sgroup *g)
{
    int unmet = g->want - g->placed;
    bool borrowed = false;

    for (int i = 0; i < g->n_nodes && !borrowed; i++)
        borrowed = S->nodes[g->nodes[i]].ours > 0;
    if (unmet > 0) {
        if (g->unmet_since_ms < 0)
            g->unmet_since_ms = S->now;
        if (borrowed && g->unmet_borrow_since_ms < 0)
            g->unmet_borrow_since_ms = S->now;
    }
    if (unmet <= 0 && g->unmet_since_ms >= 0) {
        double d = (double)(S->now - g->unmet_since_ms) / 1000.0;

        if (d > S->r->max_unmet_s)
            S->r->max_unmet_s = d;
        g->unmet_since_ms = -1;
    }
    if ((unmet <= 0 || !borrowed) && g->unmet_borrow_since_ms >= 0) {
        double d = (double)(S->now - g->unmet_borrow_since_ms) / 1000.0;

        if (d > S->r->max_unmet_borrowed_s)
            S->r->max_unmet_borrowed_s = d;
        g->unmet_borrow_since_ms = -1;
    }
}

/* Integrates unmet demand up to now (before want or placed change). */
static void sg_advance(struct sim *S, struct sgroup *g)
{
    if (S->now > g->last_ms && g->want > g->placed)
        S->unmet_gpu_ms += (double)(g->want - g->placed) * (double)(S->now - g->last_ms);
    if (S->now > g->last_ms)
        S->want_gpu_ms += (double)g->want * (double)(S->now - g->last_ms);
    g->last_ms = S->now;
}

/* Moves serving replicas toward want: new replicas take free GPUs on the lowest-index
 * nodes; replicas scale down from the highest-index nodes. Replicas never move. */
static void sg_fill(struct sim *S, struct sgroup *g)
{
    sg_advance(S, g);
    for (int i = 0; i < g->n_nodes && g->placed < g->want; i++) {
        struct node *n = &S->nodes[g->nodes[i]];
        int free = n->alloc - n->ours - n->serving;
        int take = g->want - g->placed < free ? g->want - g->placed : free;

        if (take <= 0)
            continue;
        ps_advance(S, &S->ps[S->node_ps[g->nodes[i]]]);
        n->serving += take;
        S->ps[S->node_ps[g->nodes[i]]].serving += take;
        g->placed += take;
    }
    for (int i = g->n_nodes - 1; i >= 0 && g->placed > g->want; i--) {
        struct node *n = &S->nodes[g->nodes[i]];
        int drop = g->placed - g->want < n->serving ? g->placed - g->want : n->serving;

        if (drop <= 0)
            continue;
        ps_advance(S, &S->ps[S->node_ps[g->nodes[i]]]);
        n->serving -= drop;
        S->ps[S->node_ps[g->nodes[i]]].serving -= drop;
        g->placed -= drop;
    }
    sg_unmet_track(S, g);
}

/* Free GPUs of a serving group's nodes. */
static int sg_free(const struct sim *S, const struct sgroup *g)
{
    int f = 0;

    for (int i = 0; i < g->n_nodes; i++) {
        const struct node *n = &S->nodes[g->nodes[i]];

        f += n->alloc - n->ours - n->serving;
    }
    return f;
}

/* Pod mode: waiting serving pods take free GPUs in arrival order, each all or nothing (a
 * pod that does not fit waits and the next may go: the Kubernetes scheduler does not block
 * on one pod), GPU by GPU on the lowest-index nodes with room, as replicas do. */
static void spod_fill(struct sim *S, struct sgroup *g)
{
    size_t k = 0;
    int free = sg_free(S, g);

    sg_advance(S, g);
    for (size_t i = 0; i < g->n_pending; i++) {
        struct spod *p = &S->spods[g->pending[i]];
        int need = p->p.gpus, got = 0;

        if (need > free) {
            g->pending[k++] = g->pending[i];
            continue;
        }
        p->gnode = xcalloc((size_t)need + 1, sizeof(int));
        for (int x = 0; x < g->n_nodes && got < need; x++) {
            struct node *n = &S->nodes[g->nodes[x]];

            while (n->alloc - n->ours - n->serving > 0 && got < need) {
                ps_advance(S, &S->ps[S->node_ps[g->nodes[x]]]);
                n->serving++;
                S->ps[S->node_ps[g->nodes[x]]].serving++;
                p->gnode[got++] = g->nodes[x];
            }
        }
        free -= need;
        g->placed += need;
        p->placed_ms = S->now;
    }
    g->n_pending = k;
    sg_unmet_track(S, g);
}

static void spod_arrive(struct sim *S, size_t i)
{
    struct spod *p = &S->spods[i];
    struct sgroup *g = &S->sg[p->group];

    sg_advance(S, g);
    p->alive = true;
    g->want += p->p.gpus;
    g->pending[g->n_pending++] = i;
    spod_fill(S, g);
}

static void spod_leave(struct sim *S, size_t i)
{
    struct spod *p = &S->spods[i];
    struct sgroup *g = &S->sg[p->group];

    if (!p->alive)
        return;
    sg_advance(S, g);
    p->alive = false;
    g->want -= p->p.gpus;
    if (p->placed_ms >= 0) {
        for (int x = 0; x < p->p.gpus; x++) {
            int n = p->gnode[x];

            ps_advance(S, &S->ps[S->node_ps[n]]);
            S->nodes[n].serving--;
            S->ps[S->node_ps[n]].serving--;
        }
        g->placed -= p->p.gpus;
        free(p->gnode);
        p->gnode = NULL;
    } else {
        size_t k = 0;

        for (size_t x = 0; x < g->n_pending; x++)
            if (g->pending[x] != i)
                g->pending[k++] = g->pending[x];
        g->n_pending = k;
        p->gone_ms = S->now; /* its wait ends here: it never got GPUs */
    }
    spod_fill(S, g);
}

/* Serving demand takes what a borrower freed. */
static void group_fill(struct sim *S, struct sgroup *g)
{
    if (S->spods)
        spod_fill(S, g);
    else
        sg_fill(S, g);
}

static void demand_step(struct sim *S)
{
    double t = (double)S->now / 1000.0;

    for (size_t i = 0; i < S->n_sg; i++) {
        struct sgroup *g = &S->sg[i];
        int want = 0;

        if (g->demand >= 0)
            want = (int)floor(whatif_demand_share(S->l, (size_t)g->cluster, (size_t)g->demand, t) *
                                  g->gpus +
                              0.5);
        sg_advance(S, g);
        g->want = want;
        sg_fill(S, g);
    }
}

/* ---- jobs ------------------------------------------------------------------------------------------ */

static int opt_of(const struct whatif_job *j, int sku)
{
    for (int i = 0; i < j->n_skus; i++)
        if (j->skus[i] == sku)
            return i;
    return -1;
}

static void start_job(struct sim *S, size_t ji, int cluster, enum snapshot_pool pool, int sku,
                      const int *wnodes, int n_workers, int64_t lease_end_ms)
{
    const struct whatif_job *j = &S->J->v[ji];
    struct jstate *x = &S->js[ji];
    int64_t dur;

    x->opt = opt_of(j, sku);
    if (x->opt < 0)
        x->opt = 0;
    x->wait_ms += S->now - x->queued_since_ms;
    x->st = J_RUNNING;
    x->cluster = cluster;
    x->pool = pool;
    x->sku = sku;
    x->start_ms = S->now;
    x->lease_end_ms = lease_end_ms;
    if (x->first_start_ms < 0)
        x->first_start_ms = S->now;
    x->n_workers = n_workers;
    x->wnode = xrealloc(x->wnode, (size_t)(n_workers + 1) * sizeof(int));
    for (int w = 0; w < n_workers; w++) {
        const struct node *n = &S->nodes[wnodes[w]];

        x->wnode[w] = wnodes[w];
        node_add_ours(S, wnodes[w], j->gpus_per_worker);
        /* A decision that over-commits a node is a bug here or in the scheduler; count it
         * rather than hide it. */
        if (n->ours + n->serving > n->alloc)
            S->r->overcommits++;
    }
    if (pool == SNAPSHOT_POOL_SERVING)
        S->borrowers++;
    dur = (int64_t)ceil(x->remaining * j->duration_s[x->opt] * 1000.0);
    if (dur < 1)
        dur = 1;
    ev_push(S, S->now + dur, EV_COMPLETE, ji, x->attempt);
    mix(S, (uint64_t)S->now);
    mix(S, ji);
    mix(S, ((uint64_t)cluster << 32) | ((uint64_t)pool << 16) | (uint64_t)sku);
    for (int w = 0; w < n_workers; w++)
        mix(S, (uint64_t)wnodes[w]);
}

/* Frees the job's GPUs and lets waiting serving replicas take them. */
static void release(struct sim *S, size_t ji)
{
    const struct whatif_job *j = &S->J->v[ji];
    struct jstate *x = &S->js[ji];

    for (int w = 0; w < x->n_workers; w++)
        node_add_ours(S, x->wnode[w], -j->gpus_per_worker);
    if (x->pool == SNAPSHOT_POOL_SERVING) {
        double held = (double)(S->now - x->start_ms) * j->gpus;

        S->borrowers--;
        S->r->borrowed_gpu_hours += held / 3.6e6;
    }
    for (int w = 0; w < x->n_workers; w++)
        if (S->node_sg[x->wnode[w]] >= 0)
            group_fill(S, &S->sg[S->node_sg[x->wnode[w]]]);
    x->n_workers = 0;
}

/* The training work done by now (the window's end), in GPU-hours on each job's fastest
 * SKU (whatif_report.work_gpu_hours). */
static double work_done_gpu_hours(const struct sim *S)
{
    double sum = 0;

    for (size_t i = 0; i < S->J->n; i++) {
        const struct whatif_job *j = &S->J->v[i];
        const struct jstate *x = &S->js[i];
        double left = x->remaining, fastest = j->duration_s[0];

        for (int k = 1; k < j->n_skus; k++)
            if (j->duration_s[k] < fastest)
                fastest = j->duration_s[k];
        if (x->st == J_RUNNING || x->st == J_PREEMPTING)
            left -= (double)(S->now - x->start_ms) / 1000.0 / j->duration_s[x->opt];
        if (x->st == J_FUTURE)
            left = 1;
        if (left < 0)
            left = 0;
        sum += (1 - left) * fastest * j->gpus / 3600.0;
    }
    return sum;
}

static void complete(struct sim *S, size_t ji, int attempt)
{
    struct jstate *x = &S->js[ji];

    if (x->attempt != attempt || (x->st != J_RUNNING && x->st != J_PREEMPTING))
        return; /* superseded by a reclaim */
    release(S, ji);
    x->st = J_DONE;
    x->remaining = 0;
    x->done_ms = S->now;
    S->n_active--;
    if (S->done_rt_s) {
        S->done_rt_s[S->n_done] = (int64_t)ceil(S->J->v[ji].duration_s[x->opt]);
        S->done_ns[S->n_done++] = S->J->v[ji].ns;
    }
}

/* The grace period is over: the job stops, keeps the work up to its last checkpoint, and
 * goes back to the queue. */
static void kill_job(struct sim *S, size_t ji, int attempt)
{
    const struct whatif_job *j = &S->J->v[ji];
    struct jstate *x = &S->js[ji];
    double ran = (double)(S->now - x->start_ms) / 1000.0, kept = 0, dur;

    if (x->attempt != attempt || x->st != J_PREEMPTING)
        return;
    if (x->kept_ms >= 0) {
        kept = (double)x->kept_ms / 1000.0;
        S->r->ckpt_in_time += x->ckpt_in_time;
    } else if (j->checkpoint_s > 0)
        kept = floor(ran / (double)j->checkpoint_s) * (double)j->checkpoint_s;
    if (kept > ran)
        kept = ran;
    dur = j->duration_s[x->opt];
    x->remaining -= kept / dur;
    if (x->remaining < 1e-9)
        x->remaining = 1e-9;
    S->r->lost_gpu_hours += (ran - kept) * j->gpus / 3600.0;
    if (x->lending_reclaim)
        S->r->lost_lending_gpu_hours += (ran - kept) * j->gpus / 3600.0;
    x->kept_ms = -1;
    x->ckpt_by_ms = x->ckpt_delete_ms = -1;
    x->ckpt_in_time = false;
    x->lending_reclaim = false;
    release(S, ji);
    x->st = J_QUEUED;
    x->attempt++;
    x->queued_since_ms = S->now;
    mix(S, 0xdeadULL ^ (uint64_t)S->now);
    mix(S, ji);
}

/* ---- snapshot for the policy ---------------------------------------------------------------------- */

static int build_world(struct sim *S, struct err *e)
{
    const struct whatif_layout *l = S->l;
    size_t n = 0, k = 0;

    S->cl_first = xcalloc(l->n_clusters + 1, sizeof(size_t));
    S->cl_count = xcalloc(l->n_clusters + 1, sizeof(size_t));
    for (size_t c = 0; c < l->n_clusters; c++)
        for (size_t p = 0; p < l->clusters[c].n_pools; p++)
            n += (size_t)l->clusters[c].pools[p].nodes;
    if (n == 0 || n > WHATIF_NODES_MAX)
        return err_set(e, ERR_INVALID, "layout", "the layout has %zu nodes; 1 to %d are supported",
                       n, WHATIF_NODES_MAX);
    S->nodes = xcalloc(n + 1, sizeof(*S->nodes));
    S->node_ps = xcalloc(n + 1, sizeof(int));
    S->node_sg = xcalloc(n + 1, sizeof(int));
    S->n_nodes = n;
    S->ps = xcalloc(l->n_clusters * SNAPSHOT_POOL_COUNT * l->n_skus + 1, sizeof(*S->ps));
    S->sg = xcalloc(l->n_clusters * l->n_skus + 1, sizeof(*S->sg));
    for (size_t c = 0; c < l->n_clusters; c++) {
        const struct whatif_cluster *cl = &l->clusters[c];

        S->cl_first[c] = k;
        for (size_t p = 0; p < cl->n_pools; p++) {
            const struct whatif_pool *wp = &cl->pools[p];
            int psi = -1, sgi = -1;

            for (size_t i = 0; i < S->n_ps; i++)
                if (S->ps[i].cluster == (int)c && S->ps[i].pool == wp->pool &&
                    S->ps[i].sku == wp->sku)
                    psi = (int)i;
            if (psi < 0) {
                psi = (int)S->n_ps++;
                S->ps[psi].cluster = (int)c;
                S->ps[psi].pool = wp->pool;
                S->ps[psi].sku = wp->sku;
            }
            if (wp->pool == SNAPSHOT_POOL_SERVING) {
                for (size_t i = 0; i < S->n_sg; i++)
                    if (S->sg[i].cluster == (int)c && S->sg[i].sku == wp->sku)
                        sgi = (int)i;
                if (sgi < 0) {
                    sgi = (int)S->n_sg++;
                    S->sg[sgi].cluster = (int)c;
                    S->sg[sgi].sku = wp->sku;
                    S->sg[sgi].demand = -1;
                    S->sg[sgi].unmet_since_ms = -1;
                    S->sg[sgi].unmet_borrow_since_ms = -1;
                    S->sg[sgi].nodes = xcalloc(n + 1, sizeof(int));
                    for (size_t d = 0; d < cl->n_demand; d++)
                        if (cl->demand[d].sku == wp->sku)
                            S->sg[sgi].demand = (int)d;
                }
            }
            for (int i = 0; i < wp->nodes; i++, k++) {
                struct node *nd = &S->nodes[k];

                nd->cluster = (int)c;
                nd->sku = wp->sku;
                nd->pool = wp->pool;
                nd->alloc = wp->gpus_per_node;
                snprintf(nd->name, sizeof(nd->name), "%s-%s-%s-%zu", cl->name,
                         wp->pool == SNAPSHOT_POOL_SERVING ? "srv" : "trn", l->skus[wp->sku],
                         k - S->cl_first[c]);
                S->node_ps[k] = psi;
                S->ps[psi].gpus += nd->alloc;
                S->node_sg[k] = sgi;
                if (sgi >= 0) {
                    S->sg[sgi].nodes[S->sg[sgi].n_nodes++] = (int)k;
                    S->sg[sgi].gpus += nd->alloc;
                }
            }
        }
        S->cl_count[c] = k - S->cl_first[c];
    }
    return 0;
}

static void fill_snapshot(struct sim *S, bool lending)
{
    const struct whatif_layout *l = S->l;
    struct snapshot *s = S->snap;

    s->taken_ms = l->start_epoch_ms + S->now;
    s->seq++;
    for (size_t c = 0; c < l->n_clusters; c++) {
        const struct whatif_cluster *cl = &l->clusters[c];
        struct snapshot_cluster *sc = &s->clusters[c];
        bool idle = cl->serving.present;

        sc->health = SNAPSHOT_HEALTH_READY;
        sc->last_poll_ms = s->taken_ms;
        sc->serving = cl->serving;
        if (!lending)
            sc->serving.lend_policy = SNAPSHOT_LEND_NEVER;
        else if (cl->serving.present && uses_forecast(S->sched) &&
                 S->o->forecast_lending == WHATIF_FORECAST_LEND_ANY_HOUR) {
            /* Lending from the forecast at any hour it allows; the idle rule until it
             * knows the pool. */
            sc->serving.lend_policy = SNAPSHOT_LEND_FORECAST;
            sc->serving.n_windows = 0;
        }
        for (size_t k = 0; k < l->n_skus; k++) {
            struct snapshot_agg *a = snapshot_agg(s, c, SNAPSHOT_POOL_SERVING, (int)k);

            a->pending_serving = 0;
            a->reserve = cl->serving.present ? cl->serving.reserve_gpus : 0;
        }
        for (size_t i = 0; i < S->n_sg; i++) {
            const struct sgroup *g = &S->sg[i];
            int free = 0;

            if (g->cluster != (int)c)
                continue;
            snapshot_agg(s, c, SNAPSHOT_POOL_SERVING, g->sku)->pending_serving =
                g->want > g->placed ? g->want - g->placed : 0;
            for (int x = 0; x < g->n_nodes; x++) {
                const struct node *nd = &S->nodes[g->nodes[x]];

                free += nd->alloc - nd->ours - nd->serving;
            }
            if (g->want > g->placed || free <= cl->serving.reserve_gpus)
                idle = false;
        }
        /* The connector tracks how long the pool has been idle; so do we. */
        if (!idle)
            S->idle_since[c] = 0;
        else if (S->idle_since[c] == 0)
            S->idle_since[c] = s->taken_ms;
        sc->serving.idle_since_ms = S->idle_since[c];
    }
    for (size_t i = 0; i < S->n_nodes; i++) {
        struct snapshot_node *sn = &s->nodes[i];

        sn->used = S->nodes[i].ours + S->nodes[i].serving;
        sn->borrowed = S->nodes[i].pool == SNAPSHOT_POOL_SERVING ? S->nodes[i].ours : 0;
    }
    snapshot_compute_aggregates(s);
}

static int init_snapshot(struct sim *S, struct err *e)
{
    const struct whatif_layout *l = S->l;
    struct snapshot *s = NULL;

    if (snapshot_new(l->n_clusters, S->n_nodes, l->n_skus, &s, e))
        return -1;
    for (size_t k = 0; k < l->n_skus; k++)
        snprintf(s->sku_names[k], sizeof(s->sku_names[k]), "%s", l->skus[k]);
    for (size_t c = 0; c < l->n_clusters; c++) {
        struct snapshot_cluster *sc = &s->clusters[c];
        const struct whatif_cluster *cl = &l->clusters[c];

        snprintf(sc->name, sizeof(sc->name), "%s", cl->name);
        snprintf(sc->region, sizeof(sc->region), "%s", cl->region);
        snprintf(sc->provider, sizeof(sc->provider), "sim");
        snprintf(sc->tz, sizeof(sc->tz), "%s", cl->tz);
        for (size_t k = 0; k < l->n_skus && k < WHATIF_SKUS_MAX; k++)
            sc->cost_per_gpu_hour[k] = cl->cost[k];
        sc->node_first = S->cl_first[c];
        sc->n_nodes = S->cl_count[c];
    }
    for (size_t i = 0; i < S->n_nodes; i++) {
        struct snapshot_node *sn = &s->nodes[i];

        snprintf(sn->name, sizeof(sn->name), "%s", S->nodes[i].name);
        sn->sku = S->nodes[i].sku;
        sn->pool = S->nodes[i].pool;
        sn->allocatable = S->nodes[i].alloc;
        sn->schedulable = true;
    }
    S->snap = s;
    return 0;
}

/* ---- queue ETAs ----------------------------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The median (mean = false) or mean runtime of the finished jobs of namespace ns (3 or
 * more), else of every finished job, else 0 (the estimate's default then). scratch has
 * room for n_done values. */
static int64_t history_runtime(const struct sim *S, const char *ns, bool mean, int64_t *scratch)
{
    size_t n = 0;
    double sum = 0;

    for (size_t i = 0; i < S->n_done; i++)
        if (strcmp(S->done_ns[i], ns) == 0)
            scratch[n++] = S->done_rt_s[i];
    if (n < 3) {
        n = S->n_done;
        if (n)
            memcpy(scratch, S->done_rt_s, n * sizeof(*scratch));
    }
    if (n == 0)
        return 0;
    if (mean) {
        for (size_t i = 0; i < n; i++)
            sum += (double)scratch[i];
        return (int64_t)ceil(sum / (double)n);
    }
    qsort(scratch, n, sizeof(*scratch), cmp_i64);
    return scratch[n / 2];
}

/* What the estimate is told of job ji's runtime (its attempt now): in oracle mode its true
 * runtime as a limit; else its max_runtime_s as a limit, or from the history as expected:
 * for a running job the median (the estimate extends it once the job outlives it), for a
 * queued one the mean, since what the queue ahead costs is the sum of its runtimes. */
static void runtime_of(const struct sim *S, size_t ji, int opt, bool queued, int64_t *scratch,
                       int64_t *limit, int64_t *expected)
{
    const struct whatif_job *j = &S->J->v[ji];

    *limit = 0;
    *expected = 0;
    if (S->o->eta == WHATIF_ETA_ORACLE)
        *limit = (int64_t)ceil(S->js[ji].remaining * j->duration_s[opt]);
    else if (j->max_runtime_s > 0)
        *limit = j->max_runtime_s;
    else
        *expected = history_runtime(S, j->ns, queued, scratch);
}

/* Estimates, on this cycle's inputs and before it decides, the start of every queued job
 * not estimated yet. The running placements come with their plans (cycle_policy()), so the
 * estimate can free their GPUs as they end. */
static int estimate_new(struct sim *S, const struct policy_input *in, struct err *e)
{
    int64_t t0 = clock_mono_ns(), *scratch;
    struct policy_input ein = *in;
    struct eta_runtimes rt = {S->eta_rlim, S->eta_rexp, S->eta_qexp};
    bool any = false;
    int rc = -1;

    for (size_t q = 0; q < in->n_queue && !any; q++)
        any = S->js[S->qidx[q]].eta_at_ms < 0;
    if (!any)
        return 0;
    scratch = xcalloc(S->n_done + 1, sizeof(*scratch));
    for (size_t r = 0; r < in->n_running; r++) {
        S->eta_run[r] = in->running[r];
        runtime_of(S, S->ridx[r], S->js[S->ridx[r]].opt, false, scratch, &S->eta_rlim[r],
                   &S->eta_rexp[r]);
    }
    /* A queued job's max_runtime_s is in the policy input already; the oracle's limit and
     * the median are expectations the policy must not see. */
    for (size_t q = 0; q < in->n_queue; q++) {
        int64_t lim;

        runtime_of(S, S->qidx[q], 0, true, scratch, &lim, &S->eta_qexp[q]);
        if (S->o->eta == WHATIF_ETA_ORACLE)
            S->eta_qexp[q] = lim;
    }
    ein.running = S->eta_run;
    for (size_t q = 0; q < in->n_queue; q++) {
        struct jstate *x = &S->js[S->qidx[q]];
        struct eta_result er;

        if (x->eta_at_ms >= 0)
            continue;
        if (eta_estimate(&ein, &rt, S->pst, q, &S->o->eta_opts, &er, e))
            goto out;
        x->eta_at_ms = S->now;
        x->eta_ms = er.placed ? er.start_ms - S->l->start_epoch_ms : -1;
        x->eta_capped = er.capped;
    }
    rc = 0;
out:
    free(scratch);
    S->r->eta.cpu_s += (double)(clock_mono_ns() - t0) / 1e9;
    return rc;
}

/* ---- serving-demand forecasts ---- */

/* Learns each serving pool's demand now, as the scheduler learns a capacity sample:
 * forecast_demand(used, borrowed, pending) of the pool. */
static int forecasts_learn(struct sim *S, struct err *e)
{
    for (size_t i = 0; i < S->n_sg; i++) {
        const struct sgroup *g = &S->sg[i];
        const struct whatif_cluster *cl = &S->l->clusters[g->cluster];
        int borrowed = 0;

        for (int x = 0; x < g->n_nodes; x++)
            borrowed += S->nodes[g->nodes[x]].ours;
        if (forecast_set_learn(S->fset, cl->name, S->l->skus[g->sku], cl->tz,
                               S->l->start_epoch_ms + S->now,
                               forecast_demand(g->placed + borrowed, borrowed,
                                               g->want > g->placed ? g->want - g->placed : 0),
                               e))
            return -1;
    }
    return 0;
}

/* One policy_forecast per serving pool, from the step now falls in (scheduler/forecasts.c);
 * a pool not learned yet has every step unknown. */
static void forecasts_fill(struct sim *S, int64_t now_ms)
{
    int64_t from = now_ms - now_ms % FORECAST_SLOT_MS;
    size_t n = forecast_set_count(S->fset);

    for (size_t i = 0; i < S->n_sg; i++) {
        const struct sgroup *g = &S->sg[i];
        struct policy_forecast *pf = &S->fc[i];
        const struct forecast *f = NULL;

        pf->cluster = S->l->clusters[g->cluster].name;
        pf->sku = g->sku;
        pf->from_ms = from;
        for (size_t k = 0; k < n && !f; k++) {
            const char *cl, *sku;
            const struct forecast *x = forecast_set_at(S->fset, k, &cl, &sku);

            if (strcmp(cl, pf->cluster) == 0 && strcmp(sku, S->l->skus[g->sku]) == 0)
                f = x;
        }
        if (f)
            forecast_set_high(f, from, pf->high, POLICY_FORECAST_STEPS);
        else
            for (int k = 0; k < POLICY_FORECAST_STEPS; k++)
                pf->high[k] = -1;
    }
}

/* ---- deciding: the policy ------------------------------------------------------------------------ */

static int cycle_policy(struct sim *S, struct err *e)
{
    const struct whatif_layout *l = S->l;
    size_t nq = 0, nr = 0;
    struct policy_input in;
    struct policy_result *res = NULL;
    int *wn = NULL;
    size_t nw = 0;

    for (size_t i = 0; i < S->J->n; i++) {
        const struct whatif_job *j = &S->J->v[i];
        const struct jstate *x = &S->js[i];

        if (x->st == J_QUEUED) {
            struct policy_job *q = &S->queue[nq];

            memset(q, 0, sizeof(*q));
            q->id = i + 1;
            q->ns = j->ns;
            q->name = j->name;
            q->sku = j->skus[0];
            for (int a = 1; a < j->n_skus && a - 1 < POLICY_ALT_SKUS_MAX; a++)
                q->alt_skus[q->n_alt_skus++] = j->skus[a];
            q->throughput = S->tp ? &S->tp[i * (1 + WHATIF_ALT_MAX)] : NULL;
            q->gpu_count = j->gpus;
            q->gpus_per_worker = j->gpus_per_worker;
            q->priority = j->priority;
            q->preemptible = j->preemptible;
            q->created_ms = l->start_epoch_ms + (int64_t)(j->arrival_s * 1000.0);
            q->queued_ms = l->start_epoch_ms + x->queued_since_ms;
            q->attempt = x->attempt;
            q->max_runtime_s = j->max_runtime_s;
            q->checkpoint_interval_s = j->checkpoint_s;
            S->qidx[nq++] = i;
        } else if (x->st == J_RUNNING || x->st == J_PREEMPTING) {
            struct policy_running *ru = &S->running[nr];
            int64_t ran = S->now - x->start_ms;

            memset(ru, 0, sizeof(*ru));
            ru->id = i + 1;
            ru->ns = j->ns;
            ru->name = j->name;
            ru->cluster = l->clusters[x->cluster].name;
            ru->pool = x->pool;
            ru->sku = x->sku;
            ru->gpus = j->gpus;
            ru->priority = j->priority;
            ru->preemptible = j->preemptible;
            ru->started_ms = l->start_epoch_ms + x->start_ms;
            if (j->checkpoint_s > 0 && ran >= j->checkpoint_s * SEC)
                ru->last_checkpoint_ms =
                    ru->started_ms + ran / (j->checkpoint_s * SEC) * (j->checkpoint_s * SEC);
            ru->lease_end_ms = x->lease_end_ms > 0 ? l->start_epoch_ms + x->lease_end_ms : 0;
            ru->reclaiming = x->st == J_PREEMPTING;
            /* Asked to checkpoint and not deleted yet: the policy may escalate it. */
            if (x->st == J_PREEMPTING && x->ckpt_by_ms >= 0 && S->now < x->ckpt_delete_ms)
                ru->checkpoint_by_ms = l->start_epoch_ms + x->ckpt_by_ms;
            ru->in_snapshot = true;
            /* The nodes it holds, as the scheduler passes them: quota reclaim and priority
             * preemption choose victims by their plans. */
            ru->plan = &S->plan[nw];
            ru->n_plan = (size_t)x->n_workers;
            for (int k = 0; k < x->n_workers; k++, nw++) {
                S->plan[nw].node = S->snap->nodes[x->wnode[k]].name;
                S->plan[nw].gpus = j->gpus_per_worker;
            }
            S->ridx[nr++] = i;
        }
    }
    /* Nothing to place and nothing borrowed: the cycle cannot decide anything. */
    if (nq == 0 && S->borrowers == 0)
        return 0;
    fill_snapshot(S, S->sched != WHATIF_OURS_NO_BORROW);
    memset(&in, 0, sizeof(in));
    in.snap = S->snap;
    in.queue = S->queue;
    in.n_queue = nq;
    in.running = S->running;
    in.n_running = nr;
    in.cfg = &S->cfg;
    in.now_ms = l->start_epoch_ms + S->now;
    if (S->fset) {
        forecasts_fill(S, in.now_ms);
        in.forecasts = S->fc;
        in.n_forecasts = S->n_sg;
    }
    if (S->o->eta != WHATIF_ETA_OFF && estimate_new(S, &in, e))
        return -1;
    {
        int64_t t0 = clock_mono_ns();

        if (policy_decide(&in, S->pst, &res, e))
            return -1;
        S->r->decide_s += (double)(clock_mono_ns() - t0) / 1e9;
    }
    S->r->decisions++;
    for (size_t i = 0; i < res->n_reclaims; i++) {
        const struct policy_reclaim *rc = &res->reclaims[i];
        size_t ji = S->ridx[rc->running];
        struct jstate *x = &S->js[ji];

        int64_t kill_at = S->now + rc->grace_s * SEC;

        if (x->st == J_PREEMPTING && rc->checkpoint_by_ms == 0 && x->ckpt_by_ms >= 0 &&
            S->now < x->ckpt_delete_ms) {
            /* Escalated: pods are Pending and this checkpoint-first victim is deleted now,
             * keeping only its periodic checkpoints. Its earlier kill comes later and finds
             * the job requeued (another attempt). */
            x->kept_ms = -1;
            x->ckpt_by_ms = x->ckpt_delete_ms = -1;
            x->ckpt_in_time = false;
            S->r->reclaims_escalated++;
            ev_push(S, kill_at, EV_KILL, ji, x->attempt);
            mix(S, 0xe5cULL ^ (uint64_t)S->now);
            mix(S, ji);
            continue;
        }
        if (x->st != J_RUNNING)
            continue;
        x->st = J_PREEMPTING;
        x->kept_ms = -1;
        x->lending_reclaim = rc->reason != POLICY_RECLAIM_PRIORITY &&
                             rc->reason != POLICY_RECLAIM_QUOTA &&
                             rc->reason != POLICY_RECLAIM_BACKFILL;
        S->r->reclaims++;
        if (rc->reason == POLICY_RECLAIM_LEASE_END)
            S->r->reclaims_lease_end++;
        else if (rc->reason == POLICY_RECLAIM_PRIORITY)
            S->r->reclaims_priority++;
        else if (rc->reason == POLICY_RECLAIM_BACKFILL)
            S->r->reclaims_backfill++;
        else if (rc->reason == POLICY_RECLAIM_QUOTA)
            S->r->reclaims_quota++;
        else if (rc->reason == POLICY_RECLAIM_ANNOUNCED || rc->reason == POLICY_RECLAIM_FORECAST)
            S->r->reclaims_ahead++;
        else
            S->r->reclaims_deficit++;
        if (rc->checkpoint_by_ms > 0) {
            /* Checkpoint first: deleted once its checkpoint is written, or at the
             * deadline, then the grace period. */
            struct whatif_ckpt ck;

            whatif_ckpt_first(x->start_ms, S->J->v[ji].checkpoint_s * SEC, S->now,
                              rc->checkpoint_by_ms - l->start_epoch_ms,
                              S->o->checkpoint_write_s * SEC, rc->grace_s * SEC, &ck);
            kill_at = ck.kill_ms;
            x->kept_ms = ck.kept_ms;
            x->ckpt_in_time = ck.in_time;
            x->ckpt_by_ms = rc->checkpoint_by_ms - l->start_epoch_ms;
            x->ckpt_delete_ms = ck.delete_ms;
            S->r->ckpt_asked++;
        }
        ev_push(S, kill_at, EV_KILL, ji, x->attempt);
        mix(S, 0xbeefULL ^ (uint64_t)S->now);
        mix(S, ji);
    }
    for (size_t i = 0; i < res->n_placements; i++) {
        const struct policy_placement *p = &res->placements[i];
        size_t ji = S->qidx[p->job];

        wn = xrealloc(wn, (p->n_workers + 1) * sizeof(int));
        for (size_t w = 0; w < p->n_workers; w++)
            wn[w] = (int)p->workers[w].node;
        start_job(S, ji, p->cluster, p->pool, p->sku, wn, (int)p->n_workers,
                  p->lease_end_ms > 0 ? p->lease_end_ms - l->start_epoch_ms : 0);
    }
    free(wn);
    policy_result_free(&res);
    return 0;
}

/* ---- deciding: the baselines ----------------------------------------------------------------------- */

/* First-fit of a gang on cluster c's training nodes of sku: fills wn and returns true when
 * every worker found a node (lowest index first). */
static bool first_fit(struct sim *S, size_t c, int sku, int workers, int per, int *wn, int *freeg)
{
    int got = 0;

    for (size_t i = S->cl_first[c]; i < S->cl_first[c] + S->cl_count[c]; i++) {
        const struct node *n = &S->nodes[i];

        freeg[i] = n->alloc - n->ours - n->serving;
    }
    for (size_t i = S->cl_first[c]; i < S->cl_first[c] + S->cl_count[c] && got < workers; i++) {
        const struct node *n = &S->nodes[i];

        if (n->pool != SNAPSHOT_POOL_TRAINING || n->sku != sku)
            continue;
        while (freeg[i] >= per && got < workers) {
            freeg[i] -= per;
            wn[got++] = (int)i;
        }
    }
    return got == workers;
}

static int free_gpus(const struct sim *S, size_t c, int sku)
{
    int f = 0;

    for (size_t i = S->cl_first[c]; i < S->cl_first[c] + S->cl_count[c]; i++) {
        const struct node *n = &S->nodes[i];

        if (n->pool == SNAPSHOT_POOL_TRAINING && n->sku == sku)
            f += n->alloc - n->ours - n->serving;
    }
    return f;
}

struct qitem {
    int64_t since;
    size_t job;
};

/* Arrival order: when the job (re-)entered the queue, then trace order. */
static int cmp_qitem(const void *a, const void *b)
{
    const struct qitem *x = a, *y = b;

    if (x->since != y->since)
        return x->since < y->since ? -1 : 1;
    return (x->job > y->job) - (x->job < y->job);
}

static void cycle_baseline(struct sim *S)
{
    size_t nq = 0;
    int *wn = xcalloc(S->n_nodes + 1, sizeof(int)), *best_wn = xcalloc(S->n_nodes + 1, sizeof(int));
    int *freeg = xcalloc(S->n_nodes + 1, sizeof(int));

    struct qitem *qs = xcalloc(S->J->n + 1, sizeof(*qs));

    for (size_t i = 0; i < S->J->n; i++)
        if (S->js[i].st == J_QUEUED)
            qs[nq++] = (struct qitem){S->js[i].queued_since_ms, i};
    if (nq == 0)
        goto out;
    qsort(qs, nq, sizeof(*qs), cmp_qitem);
    S->r->decisions++;
    for (size_t q = 0; q < nq; q++) {
        size_t ji = qs[q].job;
        const struct whatif_job *j = &S->J->v[ji];
        int workers = j->gpus / j->gpus_per_worker, best_c = -1, best_k = -1, best_free = -1;

        for (int o = 0; o < j->n_skus && (best_c < 0 || S->sched == WHATIF_MOST_FREE); o++) {
            int k = j->skus[o];

            for (size_t c = 0; c < S->l->n_clusters; c++) {
                int f;

                if (!first_fit(S, c, k, workers, j->gpus_per_worker, wn, freeg))
                    continue;
                f = free_gpus(S, c, k);
                if (best_c < 0 || (S->sched == WHATIF_MOST_FREE && f > best_free)) {
                    best_c = (int)c;
                    best_k = k;
                    best_free = f;
                    memcpy(best_wn, wn, (size_t)workers * sizeof(int));
                }
                if (S->sched != WHATIF_MOST_FREE)
                    break;
            }
        }
        if (best_c < 0) {
            if (S->sched == WHATIF_FIFO)
                break; /* strict FIFO: the head waits and so does everyone behind it */
            continue;
        }
        start_job(S, ji, best_c, SNAPSHOT_POOL_TRAINING, best_k, best_wn, workers, 0);
    }
out:
    free(qs);
    free(wn);
    free(best_wn);
    free(freeg);
}

/* ---- the loop -------------------------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The p-quantile (nearest rank) of v[0..n); sorts v. */
static double pct(double *v, size_t n, double p)
{
    size_t k;

    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), cmp_double);
    k = (size_t)ceil(p * (double)n) - 1;
    if (k >= n)
        k = n - 1;
    return v[k];
}

/* Job i's queueing delay in seconds so far: the time queued before each start, and for a
 * job still queued the time since it (re-)entered the queue. False when it has neither
 * started nor is queued. */
static bool job_wait_s(const struct sim *S, size_t i, double *wait_s)
{
    const struct jstate *x = &S->js[i];
    int64_t w = x->wait_ms;

    if (x->first_start_ms < 0 && x->st != J_QUEUED)
        return false;
    if (x->st == J_QUEUED)
        w += S->now - x->queued_since_ms;
    *wait_s = (double)w / 1000.0;
    return true;
}

/* Completion and waiting times over the jobs of namespace ns (every job when NULL): jobs
 * that finished count their completion time, jobs that started or still wait their time
 * queued. jct and wait are scratch for J->n values. Returns the jobs completed. */
static size_t job_times(const struct sim *S, const char *ns, double *jct, double *wait,
                        double *avg_jct, double *p95_jct, double *avg_wait, double *p95_wait)
{
    const struct whatif_jobs *J = S->J;
    size_t nd = 0, nw = 0;
    double sj = 0, sw = 0;

    for (size_t i = 0; i < J->n; i++) {
        const struct jstate *x = &S->js[i];

        if (ns && strcmp(J->v[i].ns, ns) != 0)
            continue;
        if (x->st == J_DONE) {
            jct[nd] = (double)x->done_ms / 1000.0 - J->v[i].arrival_s;
            sj += jct[nd++];
        }
        if (job_wait_s(S, i, &wait[nw]))
            sw += wait[nw++];
    }
    *avg_jct = nd ? sj / (double)nd : 0;
    *p95_jct = pct(jct, nd, 0.95);
    *avg_wait = nw ? sw / (double)nw : 0;
    *p95_wait = pct(wait, nw, 0.95);
    return nd;
}

/* The queueing delay of the jobs of more than one worker, the multi-node gangs that
 * reservations protect from starvation. */
static void gang_waits(const struct sim *S, struct whatif_report *r)
{
    double sum = 0, w;

    for (size_t i = 0; i < S->J->n; i++) {
        const struct whatif_job *j = &S->J->v[i];

        if (j->gpus <= j->gpus_per_worker || !job_wait_s(S, i, &w))
            continue;
        sum += w;
        r->gangs++;
        if (w > r->gang_max_wait_s)
            r->gang_max_wait_s = w;
    }
    r->gang_avg_wait_s = r->gangs ? sum / (double)r->gangs : 0;
}

static void summarise_eta(struct sim *S)
{
    struct whatif_eta_stats *st = &S->r->eta;
    size_t n = S->J->n;
    double *abs_h = xcalloc(n + 1, sizeof(double)), *abs_w = xcalloc(n + 1, sizeof(double));
    double *rel = xcalloc(n + 1, sizeof(double)), *sgn = xcalloc(n + 1, sizeof(double));

    for (size_t i = 0; i < n; i++) {
        const struct jstate *x = &S->js[i];
        double err_ms, wait_ms;

        if (x->eta_at_ms < 0)
            continue;
        st->estimated++;
        if (x->eta_ms < 0) {
            st->no_estimate++;
            st->capped += x->eta_capped;
            continue;
        }
        if (x->first_start_ms < 0)
            continue;
        err_ms = (double)(x->eta_ms - x->first_start_ms);
        wait_ms = (double)(x->first_start_ms - x->eta_at_ms);
        abs_h[st->measured++] = fabs(err_ms) / 3.6e6;
        if (wait_ms >= (double)(S->o->cycle_s * SEC)) {
            sgn[st->waited] = err_ms / 3.6e6;
            abs_w[st->waited] = fabs(err_ms) / 3.6e6;
            rel[st->waited++] = fabs(err_ms) / wait_ms;
        }
    }
    st->p50_abs_h = pct(abs_h, st->measured, 0.5);
    st->p90_abs_h = pct(abs_h, st->measured, 0.9);
    st->p50_signed_h = pct(sgn, st->waited, 0.5);
    st->p50_abs_waited_h = pct(abs_w, st->waited, 0.5);
    st->p90_abs_waited_h = pct(abs_w, st->waited, 0.9);
    st->p50_rel = pct(rel, st->waited, 0.5);
    st->p90_rel = pct(rel, st->waited, 0.9);
    free(abs_h);
    free(abs_w);
    free(rel);
    free(sgn);
}

static void summarise(struct sim *S)
{
    struct whatif_report *r = S->r;
    const struct whatif_jobs *J = S->J;
    double *jct = xcalloc(J->n + 1, sizeof(double)), *wait = xcalloc(J->n + 1, sizeof(double));
    double train_ms = 0, train_cap = 0, srv_ms = 0, srv_cap = 0;
    const char **names = xcalloc(J->n + 1, sizeof(char *));
    size_t n_names = 0;

    /* The run ended at the window's end, every job done, before its event came. */
    if (r->work_gpu_hours < 0)
        r->work_gpu_hours = work_done_gpu_hours(S);
    /* Stretches of unmet demand still open at the end count up to the end. */
    for (size_t i = 0; i < S->n_sg; i++) {
        struct sgroup *g = &S->sg[i];

        sg_advance(S, g);
        if (g->unmet_since_ms >= 0 &&
            (double)(S->now - g->unmet_since_ms) / 1000.0 > r->max_unmet_s)
            r->max_unmet_s = (double)(S->now - g->unmet_since_ms) / 1000.0;
        if (g->unmet_borrow_since_ms >= 0 &&
            (double)(S->now - g->unmet_borrow_since_ms) / 1000.0 > r->max_unmet_borrowed_s)
            r->max_unmet_borrowed_s = (double)(S->now - g->unmet_borrow_since_ms) / 1000.0;
    }
    for (size_t i = 0; i < S->n_ps; i++)
        ps_advance(S, &S->ps[i]);
    r->jobs = J->n;
    for (size_t i = 0; i < J->n; i++) {
        const struct jstate *x = &S->js[i];

        if (x->first_start_ms < 0)
            r->never_placed++;
        else if (x->st != J_DONE)
            r->unfinished++;
    }
    r->completed =
        job_times(S, NULL, jct, wait, &r->avg_jct_s, &r->p95_jct_s, &r->avg_wait_s, &r->p95_wait_s);
    gang_waits(S, r);
    /* Per namespace, names in sorted order. */
    for (size_t i = 0; i < J->n; i++) {
        bool dup = false;

        for (size_t k = 0; k < n_names && !dup; k++)
            dup = strcmp(names[k], J->v[i].ns) == 0;
        if (!dup)
            names[n_names++] = J->v[i].ns;
    }
    for (size_t i = 1; i < n_names; i++) {
        const char *t = names[i];
        size_t k = i;

        while (k > 0 && strcmp(names[k - 1], t) > 0) {
            names[k] = names[k - 1];
            k--;
        }
        names[k] = t;
    }
    r->ns = xcalloc(n_names + 1, sizeof(*r->ns));
    r->n_ns = n_names;
    for (size_t k = 0; k < n_names; k++) {
        struct whatif_ns_stats *ns = &r->ns[k];

        snprintf(ns->ns, sizeof(ns->ns), "%s", names[k]);
        for (size_t i = 0; i < J->n; i++)
            ns->jobs += strcmp(J->v[i].ns, names[k]) == 0;
        ns->completed = job_times(S, names[k], jct, wait, &ns->avg_jct_s, &ns->p95_jct_s,
                                  &ns->avg_wait_s, &ns->p95_wait_s);
    }
    r->pools = xcalloc(S->n_ps + 1, sizeof(*r->pools));
    r->n_pools = S->n_ps;
    for (size_t i = 0; i < S->n_ps; i++) {
        const struct pstat *p = &S->ps[i];
        double cap = (double)p->gpus * (double)S->window_ms;
        struct whatif_pool_stats *o = &r->pools[i];

        o->cluster = p->cluster;
        o->pool = p->pool;
        o->sku = p->sku;
        o->gpus = p->gpus;
        o->util = cap > 0 ? p->ours_ms / cap : 0;
        o->serving_util = cap > 0 ? p->serving_ms / cap : 0;
        if (p->pool == SNAPSHOT_POOL_TRAINING) {
            train_ms += p->ours_ms;
            train_cap += cap;
            r->idle_queued_gpu_hours += p->idle_queued_ms / 3.6e6;
        } else {
            srv_ms += p->ours_ms + p->serving_ms;
            srv_cap += cap;
        }
    }
    r->training_util = train_cap > 0 ? train_ms / train_cap : 0;
    r->serving_util = srv_cap > 0 ? srv_ms / srv_cap : 0;
    r->overall_util = train_cap + srv_cap > 0 ? (train_ms + srv_ms) / (train_cap + srv_cap) : 0;
    r->unmet_serving_gpu_hours = S->unmet_gpu_ms / 3.6e6;
    r->serving_wanted_gpu_hours = S->want_gpu_ms / 3.6e6;
    if (S->spods) {
        double *w = xcalloc(S->n_spods + 1, sizeof(double)), sum = 0;
        size_t m = 0;

        for (size_t i = 0; i < S->n_spods; i++) {
            const struct spod *p = &S->spods[i];
            int64_t end;

            if (p->p.arrive_ms > S->now)
                continue;
            end = p->placed_ms >= 0 ? p->placed_ms : p->gone_ms >= 0 ? p->gone_ms : S->now;
            w[m] = (double)(end - p->p.arrive_ms) / 1000.0;
            sum += w[m];
            if (w[m] > 0)
                r->spods_waited++;
            if (w[m] > r->spod_wait_max_s)
                r->spod_wait_max_s = w[m];
            m++;
        }
        r->spods = m;
        r->spod_wait_avg_s = m ? sum / (double)m : 0;
        r->spod_wait_p50_s = whatif_pct(w, m, 0.5);
        r->spod_wait_p99_s = whatif_pct(w, m, 0.99);
        /* Sorted now: the pods that waited are the last spods_waited. */
        r->spod_waited_p50_s = whatif_pct(w + (m - r->spods_waited), r->spods_waited, 0.5);
        r->spod_waited_p99_s = whatif_pct(w + (m - r->spods_waited), r->spods_waited, 0.99);
        free(w);
    }
    r->window_s = (double)S->window_ms / 1000.0;
    r->end_s = (double)S->now / 1000.0;
    r->reclaim_bound_s = whatif_reclaim_bound_s(S->o);
    r->digest = S->digest;
    if (r->eta_mode != WHATIF_ETA_OFF)
        summarise_eta(S);
    free(jct);
    free(wait);
    free(names);
}

static void sim_free(struct sim *S)
{
    for (size_t i = 0; S->js && i < S->J->n; i++)
        free(S->js[i].wnode);
    for (size_t i = 0; S->sg && i < S->n_sg; i++) {
        free(S->sg[i].nodes);
        free(S->sg[i].pending);
    }
    for (size_t i = 0; S->spods && i < S->n_spods; i++)
        free(S->spods[i].gnode);
    free(S->spods);
    free(S->fc);
    forecast_set_free(&S->fset);
    free(S->js);
    free(S->nodes);
    free(S->node_ps);
    free(S->node_sg);
    free(S->cl_first);
    free(S->cl_count);
    free(S->sg);
    free(S->ps);
    free(S->heap);
    free(S->queue);
    free(S->tp);
    free(S->running);
    free(S->qidx);
    free(S->ridx);
    free(S->idle_since);
    free(S->done_rt_s);
    free(S->done_ns);
    free(S->eta_run);
    free(S->plan);
    free(S->eta_rlim);
    free(S->eta_rexp);
    free(S->eta_qexp);
    snapshot_free(&S->snap);
    policy_state_free(&S->pst);
}

/* Pod mode: every serving pool's pods over [0, horizon_ms), the trace read in its cluster's
 * local time (trace time 0 = Monday 00:00 local; the offset in force at the start). */
/* Trace time minus simulated time in serving group i's cluster: trace time 0 is Monday 00:00
 * local, at the offset in force at the start. */
static int group_shift(const struct sim *S, size_t i, int64_t *shift, struct err *e)
{
    /* 1970-01-05 was a Monday. */
    const int64_t monday_ms = 4 * 86400 * 1000LL;
    const struct whatif_cluster *cl = &S->l->clusters[S->sg[i].cluster];
    struct tz_rule tz;

    if (tz_parse(cl->tz, &tz, e))
        return -1;
    *shift =
        S->l->start_epoch_ms + (int64_t)tz_offset_at(&tz, S->l->start_epoch_ms) * SEC - monday_ms;
    return 0;
}

/* The forecasts learn forecast_history_s of serving demand before the run, one sample a
 * cycle, as the scheduler would have learned it from the capacity samples of a pool that did
 * not lend then (used = demand): the trace, or the layout's curves, read back in time. */
static int forecasts_history(struct sim *S, struct err *e)
{
    int64_t h = S->o->forecast_history_s * SEC, step = S->o->cycle_s * SEC;
    int64_t *shift = xcalloc(S->n_sg + 1, sizeof(int64_t));
    int rc = -1;

    for (size_t i = 0; i < S->n_sg && S->o->serving; i++)
        if (group_shift(S, i, &shift[i], e))
            goto out;
    for (int64_t t = -h; t < 0; t += step)
        for (size_t i = 0; i < S->n_sg; i++) {
            const struct sgroup *g = &S->sg[i];
            const struct whatif_cluster *cl = &S->l->clusters[g->cluster];
            int want = 0;

            if (S->o->serving)
                want = whatif_serving_at(S->o->serving, t + shift[i]);
            else if (g->demand >= 0)
                want = (int)floor(whatif_demand_share(S->l, (size_t)g->cluster, (size_t)g->demand,
                                                      (double)t / 1000.0) *
                                      g->gpus +
                                  0.5);
            if (forecast_set_learn(S->fset, cl->name, S->l->skus[g->sku], cl->tz,
                                   S->l->start_epoch_ms + t, want, e))
                goto out;
        }
    rc = 0;
out:
    free(shift);
    return rc;
}

static int serving_pods_init(struct sim *S, int64_t horizon_ms, struct err *e)
{
    struct whatif_spod **per = xcalloc(S->n_sg + 1, sizeof(*per));
    size_t *n_per = xcalloc(S->n_sg + 1, sizeof(*n_per)), total = 0, k = 0;
    int rc = -1;

    for (size_t i = 0; i < S->n_sg; i++) {
        int64_t shift;

        if (group_shift(S, i, &shift, e))
            goto out;
        if (whatif_serving_pods(S->o->serving, shift, horizon_ms + 1, &per[i], &n_per[i], e))
            goto out;
        total += n_per[i];
        S->sg[i].pending = xcalloc(n_per[i] + 1, sizeof(size_t));
    }
    S->spods = xcalloc(total + 1, sizeof(*S->spods));
    for (size_t i = 0; i < S->n_sg; i++)
        for (size_t x = 0; x < n_per[i]; x++, k++) {
            struct spod *p = &S->spods[k];

            p->p = per[i][x];
            p->group = (int)i;
            p->placed_ms = -1;
            p->gone_ms = -1;
            ev_push(S, p->p.arrive_ms, EV_SPOD_ARRIVE, k, 0);
            ev_push(S, p->p.leave_ms, EV_SPOD_LEAVE, k, 0);
        }
    S->n_spods = total;
    rc = 0;
out:
    for (size_t i = 0; i < S->n_sg; i++)
        free(per[i]);
    free(per);
    free(n_per);
    return rc;
}

int whatif_run(const struct whatif_layout *l, const struct whatif_jobs *jobs, enum whatif_sched s,
               const struct whatif_opts *o, struct whatif_report **out, struct err *e)
{
    struct sim S;
    int64_t last_arrival = 0, deadline;
    int rc = -1;

    memset(&S, 0, sizeof(S));
    if (s < 0 || s >= WHATIF_SCHED_COUNT)
        return err_set(e, ERR_INVALID, "scheduler", "unknown scheduler %d", (int)s);
    if (o->cycle_s < 1 || o->demand_step_s < 1)
        return err_set(e, ERR_INVALID, "cycle_s",
                       "cycle_s %lld and demand_step_s %lld must be >= 1", (long long)o->cycle_s,
                       (long long)o->demand_step_s);
    if (policy_config_validate(&o->cfg, e))
        return -1;
    S.l = l;
    S.J = jobs;
    S.o = o;
    S.sched = s;
    S.cfg = o->cfg;
    /* Today's lending reacts to pending demand alone; proactive reclaim is the fourth
     * policy's. */
    if (s != WHATIF_OURS_PROACTIVE)
        S.cfg.proactive_reclaim = false;
    else
        S.cfg.proactive_reclaim = true;
    S.r = xcalloc(1, sizeof(*S.r));
    S.r->work_gpu_hours = -1; /* set at the window's end */
    S.r->sched = s;
    if (build_world(&S, e) || init_snapshot(&S, e))
        goto out;
    S.pst = policy_state_new();
    S.js = xcalloc(jobs->n + 1, sizeof(*S.js));
    S.queue = xcalloc(jobs->n + 1, sizeof(*S.queue));
    if (o->declared_throughput) {
        /* Each job declares the inverse of its duration on each of its SKUs. */
        S.tp = xcalloc(jobs->n * (1 + WHATIF_ALT_MAX) + 1, sizeof(*S.tp));
        for (size_t i = 0; i < jobs->n; i++)
            for (int a = 0; a < jobs->v[i].n_skus && a <= WHATIF_ALT_MAX; a++)
                S.tp[i * (1 + WHATIF_ALT_MAX) + (size_t)a] = 1.0 / jobs->v[i].duration_s[a];
    }
    S.running = xcalloc(jobs->n + 1, sizeof(*S.running));
    S.qidx = xcalloc(jobs->n + 1, sizeof(*S.qidx));
    S.ridx = xcalloc(jobs->n + 1, sizeof(*S.ridx));
    S.idle_since = xcalloc(l->n_clusters + 1, sizeof(int64_t));
    {
        size_t workers = 0;

        for (size_t i = 0; i < jobs->n; i++)
            workers += (size_t)(jobs->v[i].gpus / (jobs->v[i].gpus_per_worker > 0
                                                       ? jobs->v[i].gpus_per_worker
                                                       : jobs->v[i].gpus)) +
                       1;
        S.plan = xcalloc(workers + 1, sizeof(*S.plan));
    }
    if (o->eta != WHATIF_ETA_OFF && is_policy(s)) {
        if (eta_opts_validate(&o->eta_opts, e))
            goto out;
        S.r->eta_mode = o->eta;
        S.done_rt_s = xcalloc(jobs->n + 1, sizeof(*S.done_rt_s));
        S.done_ns = xcalloc(jobs->n + 1, sizeof(*S.done_ns));
        S.eta_run = xcalloc(jobs->n + 1, sizeof(*S.eta_run));
        S.eta_rlim = xcalloc(jobs->n + 1, sizeof(*S.eta_rlim));
        S.eta_rexp = xcalloc(jobs->n + 1, sizeof(*S.eta_rexp));
        S.eta_qexp = xcalloc(jobs->n + 1, sizeof(*S.eta_qexp));
    }
    for (size_t i = 0; i < jobs->n; i++) {
        int64_t t = (int64_t)llround(jobs->v[i].arrival_s * 1000.0);

        S.js[i].remaining = 1.0;
        S.js[i].first_start_ms = -1;
        S.js[i].eta_at_ms = -1;
        S.js[i].eta_ms = -1;
        S.js[i].kept_ms = -1;
        S.js[i].ckpt_by_ms = S.js[i].ckpt_delete_ms = -1;
        ev_push(&S, t, EV_ARRIVAL, i, 0);
        if (t > last_arrival)
            last_arrival = t;
    }
    S.n_future = jobs->n;
    S.window_ms = o->window_s > 0 ? (int64_t)(o->window_s * 1000.0) : last_arrival;
    if (S.window_ms <= 0)
        S.window_ms = 1;
    deadline = last_arrival + (int64_t)(o->drain_s * 1000.0);
    if (S.window_ms > deadline)
        deadline = S.window_ms;
    if (o->serving) {
        if (serving_pods_init(&S, deadline, e))
            goto out;
    } else {
        ev_push(&S, 0, EV_DEMAND, 0, 0);
    }
    if (uses_forecast(s)) {
        S.fset = forecast_set_new();
        S.fc = xcalloc(S.n_sg + 1, sizeof(*S.fc));
        if (o->forecast_history_s > 0 && forecasts_history(&S, e))
            goto out;
    }
    ev_push(&S, 0, EV_CYCLE, 0, 0);
    ev_push(&S, S.window_ms, EV_WINDOW_END, 0, 0);
    while (S.n_heap > 0) {
        struct ev ev = ev_pop(&S);

        if (ev.t > deadline)
            break;
        S.now = ev.t;
        switch (ev.kind) {
        case EV_COMPLETE: complete(&S, ev.job, ev.attempt); break;
        case EV_KILL: kill_job(&S, ev.job, ev.attempt); break;
        case EV_DEMAND:
            demand_step(&S);
            if (S.n_future > 0 || S.n_active > 0 || S.now < S.window_ms)
                ev_push(&S, S.now + o->demand_step_s * SEC, EV_DEMAND, 0, 0);
            break;
        case EV_SPOD_ARRIVE: spod_arrive(&S, ev.job); break;
        case EV_SPOD_LEAVE: spod_leave(&S, ev.job); break;
        case EV_WINDOW_END: S.r->work_gpu_hours = work_done_gpu_hours(&S); break;
        case EV_ARRIVAL:
            S.js[ev.job].st = J_QUEUED;
            S.js[ev.job].queued_since_ms = S.now;
            S.n_future--;
            S.n_active++;
            break;
        case EV_CYCLE:
            S.r->cycles++;
            if (S.fset && forecasts_learn(&S, e))
                goto out;
            if (is_policy(s)) {
                if (cycle_policy(&S, e))
                    goto out;
            } else {
                cycle_baseline(&S);
            }
            track_queued(&S);
            if (S.n_future > 0 || S.n_active > 0)
                ev_push(&S, S.now + o->cycle_s * SEC, EV_CYCLE, 0, 0);
            break;
        default: break;
        }
        /* Serving pods go on to the deadline; the run is over once every job is. */
        if (S.spods && S.n_future == 0 && S.n_active == 0 && S.now >= S.window_ms)
            break;
    }
    summarise(&S);
    *out = S.r;
    S.r = NULL;
    rc = 0;
out:
    whatif_report_free(&S.r);
    sim_free(&S);
    return rc;
}

void whatif_report_free(struct whatif_report **r)
{
    if (!r || !*r)
        return;
    free((*r)->ns);
    free((*r)->pools);
    free(*r);
    *r = NULL;
}
