/* reclaim.c -- serving pools: deficit hysteresis, victim choice (least lost work first),
 * rate limit, re-lend back-off, and which pools lend this cycle. */
#include "policy/reclaim.h"

#include "base/mem.h"
#include "policy/engine.h"
#include "policy/lease.h"
#include "policy/lend.h"

#include <stdlib.h>
#include <string.h>

#define HOUR_MS 3600000.0

struct victim {
    size_t r; /* running index */
    double lost;
};

double policy_lost_gpu_hours(const struct policy_running *ru, int64_t now)
{
    int64_t since =
        ru->last_checkpoint_ms > ru->started_ms ? ru->last_checkpoint_ms : ru->started_ms;
    int64_t ms = now > since ? now - since : 0;

    return (double)ru->gpus * (double)ms / HOUR_MS;
}

int64_t policy_plan_workers(const struct policy_running *ru, size_t p)
{
    return ru->gpus_per_worker > 0 ? ru->plan[p].gpus / ru->gpus_per_worker : 1;
}

/* Victim order: least lost work, then lowest priority, then youngest, then id. */
bool reclaim_victim_before(const struct policy_running *x, double lost_x,
                           const struct policy_running *y, double lost_y)
{
    if (lost_x != lost_y)
        return lost_x < lost_y;
    if (x->priority != y->priority)
        return x->priority < y->priority;
    if (x->started_ms != y->started_ms)
        return x->started_ms > y->started_ms;
    return x->id < y->id;
}

static bool victim_before(const struct policy_input *in, const struct victim *a,
                          const struct victim *b)
{
    const struct policy_running *x = &in->running[a->r], *y = &in->running[b->r];

    if (reclaim_victim_before(x, a->lost, y, b->lost))
        return true;
    if (reclaim_victim_before(y, b->lost, x, a->lost))
        return false;
    return a->r < b->r;
}

static void sort_victims(const struct policy_input *in, struct victim *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct victim t = v[i];
        size_t j = i;

        while (j > 0 && victim_before(in, &t, &v[j - 1])) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = t;
    }
}

int64_t policy_grace_s(const struct policy_config *cfg)
{
    int64_t g = cfg->grace_period_s;

    if (g > cfg->grace_period_max_s)
        g = cfg->grace_period_max_s;
    return g < 1 ? 1 : g;
}

static void add_reclaim(struct policy_result *r, size_t *cap, const struct policy_reclaim *rc)
{
    if (r->n_reclaims == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        r->reclaims = xrealloc(r->reclaims, *cap * sizeof(*r->reclaims));
    }
    r->reclaims[r->n_reclaims++] = *rc;
}

static void refill(struct policy_pool_state *ps, const struct policy_config *cfg, int64_t now)
{
    int64_t cap = (int64_t)cfg->reclaim_burst * 1000;

    if (ps->tokens_at_ms <= 0) {
        ps->tokens_milli = cap;
        ps->tokens_at_ms = now;
        return;
    }
    if (now > ps->tokens_at_ms) {
        double add = (double)(now - ps->tokens_at_ms) * cfg->reclaim_rate_per_hour / 3600.0;

        ps->tokens_milli += (int64_t)add;
        ps->tokens_at_ms = now;
    }
    if (ps->tokens_milli > cap)
        ps->tokens_milli = cap;
}

static void start_backoff(struct policy_pool_state *ps, const struct policy_config *cfg,
                          int64_t now)
{
    int64_t b = cfg->relend_backoff_s;

    /* A quiet period as long as the longest back-off forgets earlier reclaims. */
    if (ps->last_reclaim_ms > 0 && now - ps->last_reclaim_ms > cfg->relend_backoff_max_s * 1000)
        ps->backoff_level = 0;
    for (int i = 0; i < ps->backoff_level && b < cfg->relend_backoff_max_s; i++)
        b *= 2;
    if (b > cfg->relend_backoff_max_s)
        b = cfg->relend_backoff_max_s;
    if (ps->backoff_level < 30)
        ps->backoff_level++;
    ps->backoff_until_ms = now + b * 1000;
    ps->last_reclaim_ms = now;
}

/* The borrowers on (c, k) that may be taken, least lost work first (*n of them). With
 * chosen, those not yet victims: not chosen this cycle, past the minimum runtime; without,
 * the checkpoint-first victims still waiting for their checkpoint (escalate). */
static struct victim *collect_victims(const struct engine *en, int c, int k, const long *rcl,
                                      const bool *chosen, size_t *n)
{
    const struct policy_input *in = en->in;
    struct victim *v = xcalloc(in->n_running + 1, sizeof(*v));

    *n = 0;
    for (size_t i = 0; i < in->n_running; i++) {
        const struct policy_running *ru = &in->running[i];

        if (ru->pool != SNAPSHOT_POOL_SERVING || rcl[i] != c || ru->sku != k)
            continue;
        if (chosen && (ru->reclaiming || chosen[i] || ru->gpus <= 0 ||
                       en->now - ru->started_ms < en->cfg->min_runtime_s * 1000))
            continue;
        if (!chosen && (!ru->reclaiming || ru->checkpoint_by_ms <= en->now))
            continue;
        v[*n].r = i;
        v[*n].lost = policy_lost_gpu_hours(ru, en->now);
        (*n)++;
    }
    sort_victims(in, v, *n);
    return v;
}

/* What a pool is short of, and why (reclaim_run). */
struct shortfall {
    int need;     /* GPUs to reclaim */
    int need_now; /* of these, for pods Pending now: deleted at once */
    int deficit;
    enum policy_reclaim_reason ahead; /* the reason of the rest: ANNOUNCED or FORECAST */
};

/* Reclaims victim v of (c, k) for reason (checkpoint_by_ms 0: deleted at once) when the
 * pool's reclaim tokens allow it; false (and the pool marked rate-limited) when not. */
static bool take_victim(const struct engine *en, struct policy_pool_state *ps, int c, int k,
                        const struct victim *v, enum policy_reclaim_reason reason,
                        int64_t checkpoint_by_ms, int deficit, bool *chosen,
                        struct policy_result *r, size_t *cap, struct policy_pool_status *st)
{
    struct policy_reclaim rc;

    if (ps->tokens_milli < 1000) {
        st->rate_limited = true;
        return false;
    }
    ps->tokens_milli -= 1000;
    memset(&rc, 0, sizeof(rc));
    rc.running = v->r;
    rc.cluster = c;
    rc.sku = k;
    rc.reason = reason;
    rc.checkpoint_by_ms = checkpoint_by_ms;
    rc.deficit = deficit;
    rc.lost_gpu_hours = v->lost;
    rc.grace_s = policy_grace_s(en->cfg);
    add_reclaim(r, cap, &rc);
    chosen[v->r] = true;
    return true;
}

/* Picks victims on (c, k) covering sf->need GPUs, the first sf->need_now of them deleted at
 * once and the rest checkpoint first; appends them and returns GPUs taken. */
static int pick_victims(struct engine *en, struct policy_pool_state *ps, int c, int k,
                        const struct shortfall *sf, const long *rcl, bool *chosen,
                        struct policy_result *r, size_t *cap, struct policy_pool_status *st)
{
    const struct policy_input *in = en->in;
    const struct policy_config *cfg = en->cfg;
    size_t n, kept = 0;
    struct victim *v = collect_victims(en, c, k, rcl, chosen, &n);
    int sum = 0, taken = 0;

    while (kept < n && sum < sf->need)
        sum += in->running[v[kept++].r].gpus;
    /* Second pass: drop victims that turned out unnecessary, costliest first. */
    for (size_t i = kept; i-- > 0;) {
        int g = in->running[v[i].r].gpus;

        if (sum - g >= sf->need) {
            sum -= g;
            memmove(&v[i], &v[i + 1], (kept - i - 1) * sizeof(*v));
            kept--;
        }
    }
    for (size_t i = 0; i < kept; i++) {
        /* Demand ahead, not waiting yet: time to checkpoint. */
        bool ahead = taken >= sf->need_now;
        int64_t by = ahead ? en->now + cfg->checkpoint_deadline_s * 1000 : 0;

        if (!take_victim(en, ps, c, k, &v[i], ahead ? sf->ahead : POLICY_RECLAIM_DEFICIT, by,
                         sf->deficit, chosen, r, cap, st))
            break;
        taken += in->running[v[i].r].gpus;
    }
    free(v);
    return taken;
}

/* ---- pending pods that fit no node ------------------------------------------------------ */

/* The free GPUs, CPU and memory of the serving nodes of one (cluster, SKU), as the pending
 * serving pods would find them. */
struct pod_room {
    const struct snapshot *s;
    const struct engine_group *G;
    int *gpus;
    int64_t *cpu, *mem;
};

static void pod_room_init(struct pod_room *rm, const struct engine *en,
                          const struct engine_group *G)
{
    rm->s = en->s;
    rm->G = G;
    rm->gpus = xcalloc(G->n + 1, sizeof(*rm->gpus));
    rm->cpu = xcalloc(G->n + 1, sizeof(*rm->cpu));
    rm->mem = xcalloc(G->n + 1, sizeof(*rm->mem));
    for (size_t i = 0; i < G->n; i++) {
        size_t node = G->nodes[i];

        if (!en->s->nodes[node].schedulable)
            continue;
        rm->gpus[i] = en->nfree[node];
        rm->cpu[i] = en->ncpu[node];
        rm->mem[i] = en->nmem[node];
    }
}

static void pod_room_free(struct pod_room *rm)
{
    free(rm->gpus);
    free(rm->cpu);
    free(rm->mem);
}

/* Whether node i takes pod pp, the pending pod with bit `bit` in pending_barred: allowed by
 * the pod's own constraints, schedulable, with its GPUs, CPU and memory free, and never
 * more than the node has (a borrower given back cannot free what the node does not hold,
 * whatever the snapshot and the plans say). */
static bool pod_fits(const struct pod_room *rm, size_t i, const struct snapshot_pending_pod *pp,
                     unsigned bit)
{
    const struct snapshot_node *n = &rm->s->nodes[rm->G->nodes[i]];

    return !(n->pending_barred & bit) && n->schedulable && rm->gpus[i] >= pp->gpus &&
           n->allocatable >= pp->gpus && rm->cpu[i] >= pp->cpu_m &&
           (n->cpu_alloc_m <= 0 || n->cpu_alloc_m >= pp->cpu_m) && rm->mem[i] >= pp->mem_mib &&
           (n->mem_alloc_mib <= 0 || n->mem_alloc_mib >= pp->mem_mib);
}

/* Gives back (sign 1) what borrower r holds on the room's nodes, or takes it again (-1). */
static void pod_room_add(const struct engine *en, struct pod_room *rm, size_t r, int sign)
{
    const struct policy_running *ru = &en->in->running[r];

    for (size_t p = 0; p < ru->n_plan; p++) {
        int64_t workers = policy_plan_workers(ru, p);

        for (size_t i = 0; i < rm->G->n && ru->plan[p].node; i++) {
            if (strcmp(en->s->nodes[rm->G->nodes[i]].name, ru->plan[p].node) != 0)
                continue;
            rm->gpus[i] += sign * ru->plan[p].gpus;
            if (rm->cpu[i] != ENGINE_UNMETERED)
                rm->cpu[i] += sign * workers * ru->cpu_m_per_worker;
            if (rm->mem[i] != ENGINE_UNMETERED)
                rm->mem[i] += sign * workers * ru->mem_mib_per_worker;
            break;
        }
    }
}

static bool holds_node(const struct engine *en, const struct pod_room *rm, size_t r, size_t i)
{
    const struct policy_running *ru = &en->in->running[r];
    const char *name = en->s->nodes[rm->G->nodes[i]].name;

    for (size_t p = 0; p < ru->n_plan; p++)
        if (ru->plan[p].node && strcmp(ru->plan[p].node, name) == 0)
            return true;
    return false;
}

/* The least costly of victims v (n, cheapest first; those not chosen yet) on node i of the
 * room whose going lets pod pp fit there: marks them in pick (n) and returns their lost
 * work, or -1 when even all of them do not make room. Leaves the room as it was. */
static double victims_on(const struct engine *en, struct pod_room *rm, size_t i,
                         const struct victim *v, size_t n, const bool *chosen,
                         const struct snapshot_pending_pod *pp, unsigned bit, bool *pick)
{
    double lost = 0;
    bool fits = pod_fits(rm, i, pp, bit);

    memset(pick, 0, n * sizeof(*pick));
    for (size_t a = 0; a < n && !fits; a++) {
        if (chosen[v[a].r] || !holds_node(en, rm, v[a].r, i))
            continue;
        pick[a] = true;
        lost += v[a].lost;
        pod_room_add(en, rm, v[a].r, 1);
        fits = pod_fits(rm, i, pp, bit);
    }
    for (size_t a = 0; a < n; a++)
        if (pick[a])
            pod_room_add(en, rm, v[a].r, -1);
    return fits ? lost : -1;
}

/* The pending serving pods of (c, k), largest first, each on the node it fits most tightly
 * (fewest free GPUs); the GPUs of those that fit no node are returned. The borrowers
 * already leaving (reclaiming, or chosen this cycle) count as gone. With take, each pod
 * that fits nowhere gets the victims (borrowers past their minimum runtime) that make
 * room on one node at the least lost work, deleted at once, as far as the pool's reclaim
 * tokens allow; *taken receives their GPUs. */
static int stuck_pods(struct engine *en, struct policy_pool_state *ps, int c, int k,
                      const long *rcl, bool *chosen, bool take, struct policy_result *r,
                      size_t *cap, struct policy_pool_status *st, int *taken)
{
    const struct policy_input *in = en->in;
    const struct snapshot_serving_pool *sv = &en->s->clusters[c].serving;
    const struct engine_group *G = engine_group_of(en, (size_t)c, SNAPSHOT_POOL_SERVING, k);
    struct pod_room rm;
    struct victim *v = NULL;
    bool *pick = NULL, *best_pick = NULL;
    size_t n = 0;
    int stuck = 0;

    if (sv->n_pending == 0 || G->n == 0)
        return 0;
    pod_room_init(&rm, en, G);
    for (size_t i = 0; i < in->n_running; i++) {
        const struct policy_running *ru = &in->running[i];

        if (ru->pool == SNAPSHOT_POOL_SERVING && rcl[i] == c && ru->sku == k &&
            (ru->reclaiming || chosen[i]))
            pod_room_add(en, &rm, i, 1);
    }
    if (take) {
        v = collect_victims(en, c, k, rcl, chosen, &n);
        pick = xcalloc(n + 1, sizeof(*pick));
        best_pick = xcalloc(n + 1, sizeof(*best_pick));
    }
    for (size_t p = 0; p < sv->n_pending; p++) {
        const struct snapshot_pending_pod *pp = &sv->pending[p];
        unsigned bit = 1u << p;
        long at = -1;
        double best = -1;
        int allowed;

        if (pp->sku != k)
            continue;
        /* A pod that no node of the pool may take waits for other nodes: borrowers here
         * cannot help it. */
        snapshot_pending_nodes(en->s, (size_t)c, p, &allowed);
        if (allowed == 0)
            continue;
        for (size_t i = 0; i < G->n; i++)
            if (pod_fits(&rm, i, pp, bit) && (at < 0 || rm.gpus[i] < rm.gpus[at]))
                at = (long)i;
        if (at < 0) {
            stuck += pp->gpus;
            for (size_t i = 0; take && i < G->n; i++) {
                double lost = victims_on(en, &rm, i, v, n, chosen, pp, bit, pick);

                if (lost >= 0 && (best < 0 || lost < best)) {
                    best = lost;
                    at = (long)i;
                    memcpy(best_pick, pick, n * sizeof(*pick));
                }
            }
            for (size_t a = 0; at >= 0 && a < n; a++) {
                if (!best_pick[a] || chosen[v[a].r])
                    continue;
                if (!take_victim(en, ps, c, k, &v[a], POLICY_RECLAIM_DEFICIT, 0, pp->gpus, chosen,
                                 r, cap, st)) {
                    at = -1;
                    break;
                }
                r->reclaims[r->n_reclaims - 1].pod = pp;
                r->reclaims[r->n_reclaims - 1].node = en->s->nodes[G->nodes[at]].name;
                *taken += in->running[v[a].r].gpus;
                pod_room_add(en, &rm, v[a].r, 1);
            }
        }
        if (at >= 0 && pod_fits(&rm, (size_t)at, pp, bit)) {
            rm.gpus[at] -= pp->gpus;
            if (rm.cpu[at] != ENGINE_UNMETERED)
                rm.cpu[at] -= pp->cpu_m;
            if (rm.mem[at] != ENGINE_UNMETERED)
                rm.mem[at] -= pp->mem_mib;
        }
    }
    free(v);
    free(pick);
    free(best_pick);
    pod_room_free(&rm);
    return stuck;
}

/* Pods Pending now, and the victims asked to checkpoint are not deleted yet: the least
 * costly of them, covering need GPUs, are deleted at once (reason DEFICIT, no
 * checkpoint_by_ms). They are victims already, so neither the rate limit nor the minimum
 * runtime applies. Returns the GPUs escalated. */
static int escalate(struct engine *en, int c, int k, int need, int deficit, const long *rcl,
                    struct policy_result *r, size_t *cap)
{
    const struct policy_input *in = en->in;
    size_t n;
    struct victim *v = collect_victims(en, c, k, rcl, NULL, &n);
    int taken = 0;

    for (size_t i = 0; i < n && taken < need; i++) {
        struct policy_reclaim rc;

        memset(&rc, 0, sizeof(rc));
        rc.running = v[i].r;
        rc.cluster = c;
        rc.sku = k;
        rc.reason = POLICY_RECLAIM_DEFICIT;
        rc.deficit = deficit;
        rc.lost_gpu_hours = v[i].lost;
        rc.grace_s = policy_grace_s(en->cfg);
        add_reclaim(r, cap, &rc);
        taken += in->running[v[i].r].gpus;
    }
    free(v);
    return taken;
}

/* lend_policy window, idle, window-or-idle: open inside a window or once idle long enough,
 * for the lease the later of the two gives, fitted to the forecast if there is one. Returns
 * whether the pool is open, and sets *lendable. */
static bool lending_by_rules(struct engine *en, size_t c, int k, int *lendable,
                             struct engine_lend *L)
{
    const struct snapshot_serving_pool *sp = &en->s->clusters[c].serving;
    bool win = false, idle = false;
    int64_t win_end = 0, end = 0;

    if ((sp->lend_policy == SNAPSHOT_LEND_WINDOW ||
         sp->lend_policy == SNAPSHOT_LEND_WINDOW_OR_IDLE) &&
        !en->tz_bad[c])
        win = lend_window_open(sp, &en->tz[c], en->now, &win_end);
    if (sp->lend_policy == SNAPSHOT_LEND_IDLE || sp->lend_policy == SNAPSHOT_LEND_WINDOW_OR_IDLE)
        idle = lend_idle_enough(sp, en->now);
    if (!win && !idle)
        return false;
    if (win)
        end = win_end;
    if (idle && en->now + en->cfg->idle_lease_s * 1000 > end)
        end = en->now + en->cfg->idle_lease_s * 1000;
    *lendable =
        lease_pool(en, c, k, *lendable, end,
                   win && end == win_end ? LEASE_BOUND_WINDOW_END : LEASE_BOUND_IDLE_LEASE, L);
    return true;
}

/* lend_policy forecast: the forecast decides when and for how long. While its step at now
 * is known the pool lends for the lease lease_fit() gives up to 24 h ahead, or, when
 * lending windows are set, only inside one and up to its end (an admin's override). Until
 * the forecast knows the pool (its first week), the idle rule. */
static bool lending_by_forecast(struct engine *en, size_t c, int k, int *lendable,
                                struct engine_lend *L)
{
    const struct snapshot_serving_pool *sp = &en->s->clusters[c].serving;
    int64_t win_end = 0;

    if (lease_peak_ahead(lease_forecast_of(en, c, k), en->now, 0) < 0) {
        if (!lend_idle_enough(sp, en->now))
            return false;
        *lendable = lease_pool(en, c, k, *lendable, en->now + en->cfg->idle_lease_s * 1000,
                               LEASE_BOUND_IDLE_LEASE, L);
        return true;
    }
    if (sp->n_windows == 0) {
        *lendable =
            lease_pool(en, c, k, *lendable, en->now + 24 * 3600 * 1000LL, LEASE_BOUND_HORIZON, L);
        return true;
    }
    if (en->tz_bad[c] || !lend_window_open(sp, &en->tz[c], en->now, &win_end))
        return false;
    *lendable = lease_pool(en, c, k, *lendable, win_end, LEASE_BOUND_WINDOW_END, L);
    return true;
}

static void lending(struct engine *en, size_t c, int k, const struct policy_pool_state *ps,
                    int *lendable, struct engine_lend *L)
{
    const struct snapshot_serving_pool *sp = &en->s->clusters[c].serving;
    bool open;

    L->lending = false;
    L->budget = 0;
    L->lease = (struct lease_out){.peak = -1};
    if (!sp->present) {
        L->why = POLICY_REASON_NO_SERVING_POOL;
        return;
    }
    if (en->cl_block[c].reason != POLICY_REASON_NONE) {
        L->why = en->cl_block[c].reason;
        return;
    }
    open = sp->lend_policy == SNAPSHOT_LEND_FORECAST ? lending_by_forecast(en, c, k, lendable, L)
                                                     : lending_by_rules(en, c, k, lendable, L);
    if (!open) {
        L->why = POLICY_REASON_LENDING_CLOSED;
        return;
    }
    if (ps && en->now < ps->backoff_until_ms) {
        L->why = POLICY_REASON_LENDING_BACKOFF;
        L->backoff_left_s = (ps->backoff_until_ms - en->now + 999) / 1000;
        return;
    }
    if (*lendable <= 0) {
        L->why = POLICY_REASON_NO_LENDABLE;
        return;
    }
    L->lending = true;
    L->why = POLICY_REASON_NONE;
    L->budget = *lendable;
}

void reclaim_run(struct engine *en, struct policy_state *st, struct policy_result *r)
{
    const struct policy_input *in = en->in;
    const struct policy_config *cfg = en->cfg;
    const struct snapshot *s = en->s;
    size_t K = en->n_skus, cap_rc = 0, cap_pools = 0;
    long *rcl = xcalloc(in->n_running + 1, sizeof(*rcl));
    bool *chosen = xcalloc(in->n_running + 1, sizeof(*chosen));
    int *held = xcalloc(en->n_clusters * K + 1, sizeof(*held));         /* reclaiming already */
    int *inflight = xcalloc(en->n_clusters * K + 1, sizeof(*inflight)); /* not in snapshot */
    int *held_now = xcalloc(en->n_clusters * K + 1, sizeof(*held_now)); /* held, deleted now */

    for (size_t i = 0; i < in->n_running; i++) {
        const struct policy_running *ru = &in->running[i];
        long c;
        size_t x;

        rcl[i] = -1;
        if (ru->pool != SNAPSHOT_POOL_SERVING)
            continue;
        c = engine_strmap_find(&en->cl_map, en->cl_names, ru->cluster);
        rcl[i] = c;
        if (c < 0 || ru->sku < 0 || (size_t)ru->sku >= K)
            continue;
        x = (size_t)c * K + (size_t)ru->sku;
        if (!ru->in_snapshot)
            inflight[x] += ru->gpus;
        if (ru->reclaiming)
            held[x] += ru->gpus;
        if (ru->reclaiming && ru->checkpoint_by_ms <= en->now)
            held_now[x] += ru->gpus;
    }
    /* Lease ends come first: they are a contract, so neither the minimum runtime nor the
     * rate limit holds them back. Ahead of demand, the borrower is asked to checkpoint
     * checkpoint_deadline_s before its grace period must start. */
    for (size_t i = 0; i < in->n_running; i++) {
        const struct policy_running *ru = &in->running[i];
        int64_t del = ru->lease_end_ms - policy_grace_s(cfg) * 1000;
        int64_t ask = cfg->proactive_reclaim ? del - cfg->checkpoint_deadline_s * 1000 : del;
        struct policy_reclaim rc;

        if (ru->pool != SNAPSHOT_POOL_SERVING || ru->reclaiming || ru->lease_end_ms <= 0 ||
            en->now < ask)
            continue;
        memset(&rc, 0, sizeof(rc));
        rc.running = i;
        rc.cluster = (int)rcl[i];
        rc.sku = ru->sku;
        rc.reason = POLICY_RECLAIM_LEASE_END;
        rc.lost_gpu_hours = policy_lost_gpu_hours(ru, en->now);
        rc.grace_s = policy_grace_s(cfg);
        if (en->now < del)
            rc.checkpoint_by_ms = del;
        add_reclaim(r, &cap_rc, &rc);
        chosen[i] = true;
        if (rcl[i] >= 0 && ru->sku >= 0 && (size_t)ru->sku < K) {
            held[(size_t)rcl[i] * K + (size_t)ru->sku] += ru->gpus;
            if (!rc.checkpoint_by_ms)
                held_now[(size_t)rcl[i] * K + (size_t)ru->sku] += ru->gpus;
        }
    }
    for (size_t c = 0; c < en->n_clusters; c++) {
        const struct snapshot_cluster *cl = &s->clusters[c];
        enum policy_reason blk = en->cl_block[c].reason;
        /* Deficits are trusted only from fresh data of a healthy cluster; a cordon stops
         * placements, not reclaims. */
        bool usable = blk == POLICY_REASON_NONE || blk == POLICY_REASON_CORDONED;
        struct policy_pool_state *ps = NULL;
        bool fresh_seq;

        if (!cl->serving.present) {
            for (size_t k = 0; k < K; k++) {
                en->lend[c * K + k].status = -1;
                int none = 0;

                lending(en, c, (int)k, NULL, &none, &en->lend[c * K + k]);
            }
            continue;
        }
        ps = policy_state_pool(st, cl->name, true);
        fresh_seq = ps->last_seq != s->seq + 1;
        refill(ps, cfg, en->now);
        for (size_t k = 0; k < K; k++) {
            const struct snapshot_agg *a = snapshot_agg_const(s, c, SNAPSHOT_POOL_SERVING, (int)k);
            size_t x = c * K + k;
            int free_now = a->free - inflight[x];
            /* Serving demand: pods asking now, and replicas announced (HPAs, Deployments)
             * that have no pods yet. */
            int demand = a->pending_serving + a->announced_serving;
            int deficit_now = a->pending_serving + a->reserve - free_now;
            int deficit = demand + a->reserve - free_now;
            int lendable = free_now - a->reserve - demand;
            int stuck, none = 0;
            bool short_now;
            int peak = -1;
            struct shortfall sf = {.ahead = POLICY_RECLAIM_ANNOUNCED};
            struct policy_pool_status *pst;

            if (cfg->proactive_reclaim) {
                /* Demand the forecast's high quantile expects within the lead time, beyond
                 * what serving holds: (peak - use) + reserve - free. */
                peak = lease_peak_ahead(lease_forecast_of(en, c, (int)k), en->now,
                                        cfg->reclaim_lead_s * 1000);
                if (peak >= 0 && peak - (a->used - a->borrowed) + a->reserve - free_now > deficit) {
                    deficit = peak - (a->used - a->borrowed) + a->reserve - free_now;
                    sf.ahead = POLICY_RECLAIM_FORECAST;
                }
            } else {
                deficit_now = deficit; /* all of it is deleted at once */
            }

            if (r->n_pools == cap_pools) {
                cap_pools = cap_pools ? cap_pools * 2 : 16;
                r->pools = xrealloc(r->pools, cap_pools * sizeof(*r->pools));
            }
            pst = &r->pools[r->n_pools];
            memset(pst, 0, sizeof(*pst));
            pst->cluster = (int)c;
            pst->sku = (int)k;
            stuck = stuck_pods(en, ps, (int)c, (int)k, rcl, chosen, false, r, &cap_rc, pst, &none);
            /* Short either way: GPUs in the pool, or a node with room for a pod. */
            short_now = deficit > 0 || stuck > 0;
            if (usable && fresh_seq) {
                if (short_now && ps->streak[k] == 0)
                    ps->deficit_since_ms[k] = s->taken_ms;
                ps->streak[k] = short_now ? ps->streak[k] + 1 : 0;
            }
            pst->deficit = deficit;
            pst->deficit_now = deficit_now;
            pst->stuck = stuck;
            pst->ahead_peak = peak;
            pst->streak = ps->streak[k];
            /* Sustained: in reclaim_k snapshots in a row, and for reclaim_settle_s. The
             * snapshot in hand is current (it comes on every change), so the time runs to
             * now, not to the next snapshot. */
            if (usable && short_now && ps->streak[k] >= cfg->reclaim_k &&
                en->now - ps->deficit_since_ms[k] >= cfg->reclaim_settle_s * 1000) {
                int got = 0, picked = 0, node_got = 0;

                /* Pods no node can take first: their victims are chosen node by node. */
                if (stuck > 0) {
                    stuck_pods(en, ps, (int)c, (int)k, rcl, chosen, true, r, &cap_rc, pst,
                               &node_got);
                    held[x] += node_got;
                    held_now[x] += node_got;
                    pst->reclaimed = node_got;
                }
                if (deficit_now > held_now[x])
                    got = escalate(en, (int)c, (int)k, deficit_now - held_now[x], deficit_now, rcl,
                                   r, &cap_rc);
                held_now[x] += got;
                sf.need = deficit - held[x];
                sf.need_now = deficit_now - held_now[x];
                sf.deficit = deficit;
                if (sf.need > 0) {
                    picked =
                        pick_victims(en, ps, (int)c, (int)k, &sf, rcl, chosen, r, &cap_rc, pst);
                    pst->reclaimed += picked;
                    pst->short_by = sf.need - picked > 0 ? sf.need - picked : 0;
                }
                if (picked + node_got > 0)
                    start_backoff(ps, cfg, en->now);
            }
            /* A pod no node can take: lending more would only make that worse. */
            if (stuck > 0 && lendable > 0)
                lendable = 0;
            en->lend[x].stuck = stuck;
            lending(en, c, (int)k, ps, &lendable, &en->lend[x]);
            pst->lending = en->lend[x].lending;
            pst->closed_reason = en->lend[x].why;
            pst->lease_end_ms = en->lend[x].lease_end_ms;
            pst->lease_bound = lease_bound_name(en->lend[x].lease.bound);
            pst->forecast_peak = en->lend[x].lease.peak;
            pst->forecast_peak_at_ms = en->lend[x].lease.peak_at_ms;
            pst->lendable = lendable > 0 ? lendable : 0;
            /* Only pools that hold GPUs of this SKU are worth reporting. */
            if (a->total > 0 || held[x] || inflight[x]) {
                en->lend[x].status = (long)r->n_pools;
                r->n_pools++;
            } else {
                en->lend[x].status = -1;
            }
        }
        if (usable && fresh_seq)
            ps->last_seq = s->seq + 1;
    }
    /* A deficit reclaim in a pool closes lending there for the rest of this cycle too. */
    for (size_t c = 0; c < en->n_clusters; c++) {
        struct policy_pool_state *ps = s->clusters[c].serving.present
                                           ? policy_state_pool(st, s->clusters[c].name, false)
                                           : NULL;

        for (size_t k = 0; ps && k < K; k++) {
            struct engine_lend *L = &en->lend[c * K + k];

            if (L->lending && en->now < ps->backoff_until_ms) {
                L->lending = false;
                L->budget = 0;
                L->why = POLICY_REASON_LENDING_BACKOFF;
                L->backoff_left_s = (ps->backoff_until_ms - en->now + 999) / 1000;
                if (L->status >= 0) {
                    r->pools[L->status].lending = false;
                    r->pools[L->status].closed_reason = L->why;
                }
            }
        }
    }
    free(rcl);
    free(chosen);
    free(held);
    free(held_now);
    free(inflight);
}
