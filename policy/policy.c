/* policy.c -- one decision cycle: order the queue (priority with aging, then weighted fair
 * share between namespaces), place each job on its best-scoring feasible cluster, reserve
 * nodes for blocked head jobs, and report pending reasons. Configuration and state too. */
#include "policy/policy.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "policy/engine.h"
#include "policy/nodefit.h"
#include "policy/reclaim.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ---------------------------------------------------------------- */

int policy_config_validate(const struct policy_config *c, struct err *e)
{
    const struct {
        const char *name;
        double v;
    } nonneg[] = {
        {"policy.w_fit", c->w_fit},
        {"policy.w_cost", c->w_cost},
        {"policy.w_locality", c->w_locality},
        {"policy.w_freshness", c->w_freshness},
        {"policy.w_sku", c->w_sku},
        {"policy.w_borrow", c->w_borrow},
        {"policy.default_cost", c->default_cost},
        {"policy.aging_per_hour", c->aging_per_hour},
        {"policy.aging_max", c->aging_max},
        {"policy.max_reservations", c->max_reservations},
        {"policy.reserve_after_s", (double)c->reserve_after_s},
        {"policy.max_checkpoint_loss_s", (double)c->max_checkpoint_loss_s},
        {"policy.min_lease_s", (double)c->min_lease_s},
        {"policy.idle_lease_s", (double)c->idle_lease_s},
        {"policy.min_runtime_s", (double)c->min_runtime_s},
        {"policy.reclaim_rate_per_hour", c->reclaim_rate_per_hour},
        {"policy.relend_backoff_s", (double)c->relend_backoff_s},
        {"policy.grace_period_s", (double)c->grace_period_s},
        {"policy.reclaim_settle_s", (double)c->reclaim_settle_s},
    };

    for (size_t i = 0; i < sizeof(nonneg) / sizeof(nonneg[0]); i++)
        if (!(nonneg[i].v >= 0) || isinf(nonneg[i].v))
            return err_set(e, ERR_CONFIG, nonneg[i].name, "%s must be a finite number >= 0, not %g",
                           nonneg[i].name, nonneg[i].v);
    if (!(c->cost_reference > 0))
        return err_set(e, ERR_CONFIG, "policy.cost_reference",
                       "policy.cost_reference must be > 0, not %g", c->cost_reference);
    if (c->max_data_age_s < 1)
        return err_set(e, ERR_CONFIG, "policy.max_data_age_s",
                       "policy.max_data_age_s must be >= 1, not %lld",
                       (long long)c->max_data_age_s);
    if (c->fair_share_half_life_s < 1)
        return err_set(e, ERR_CONFIG, "policy.fair_share_half_life_s",
                       "policy.fair_share_half_life_s must be >= 1, not %lld",
                       (long long)c->fair_share_half_life_s);
    if (c->reclaim_k < 1)
        return err_set(e, ERR_CONFIG, "policy.reclaim_k", "policy.reclaim_k must be >= 1, not %d",
                       c->reclaim_k);
    if (c->reclaim_burst < 1)
        return err_set(e, ERR_CONFIG, "policy.reclaim_burst",
                       "policy.reclaim_burst must be >= 1, not %d", c->reclaim_burst);
    if (c->relend_backoff_max_s < c->relend_backoff_s)
        return err_set(e, ERR_CONFIG, "policy.relend_backoff_max_s",
                       "policy.relend_backoff_max_s %lld is below relend_backoff_s %lld",
                       (long long)c->relend_backoff_max_s, (long long)c->relend_backoff_s);
    if (c->preempt_min_runtime_s < 0)
        return err_set(e, ERR_CONFIG, "policy.preempt_min_runtime_s",
                       "policy.preempt_min_runtime_s must be >= 0, not %lld",
                       (long long)c->preempt_min_runtime_s);
    if (c->preempt_budget < 0 || c->preempt_budget > POLICY_PREEMPT_BUDGET_MAX)
        return err_set(e, ERR_CONFIG, "policy.preempt_budget",
                       "policy.preempt_budget must be in [0, %d], not %d",
                       POLICY_PREEMPT_BUDGET_MAX, c->preempt_budget);
    /* The window matters only to preemption: a config without the preemption knobs (all
     * zero) is valid, with preemption off. */
    if (c->preemption && c->preempt_window_s < 1)
        return err_set(e, ERR_CONFIG, "policy.preempt_window_s",
                       "policy.preempt_window_s must be >= 1 while policy.preemption is on, not "
                       "%lld",
                       (long long)c->preempt_window_s);
    if (c->grace_period_max_s < 1)
        return err_set(e, ERR_CONFIG, "policy.grace_period_max_s",
                       "policy.grace_period_max_s must be >= 1, not %lld",
                       (long long)c->grace_period_max_s);
    return 0;
}

/* Decays every namespace's GPU-hours to now and adds what running jobs used since the
 * previous cycle. Namespaces are looked up through a sorted index so 100,000 running jobs
 * do not cost a linear search each. */
static int cmp_usage(const void *a, const void *b)
{
    return strcmp(((const struct policy_usage *)a)->ns, ((const struct policy_usage *)b)->ns);
}

static void update_usage(struct policy_state *st, const struct policy_input *in)
{
    const struct policy_config *cfg = in->cfg;
    int64_t now = in->now_ms, last = st->last_now_ms;
    double hl_ms = (double)cfg->fair_share_half_life_s * 1000.0;

    for (size_t r = 0; r < in->n_running; r++)
        if (in->running[r].ns)
            (void)policy_state_usage(st, in->running[r].ns, true);
    if (st->n_usage > 1)
        qsort(st->usage, st->n_usage, sizeof(*st->usage), cmp_usage);
    for (size_t i = 0; i < st->n_usage; i++) {
        struct policy_usage *u = &st->usage[i];

        if (u->as_of_ms > 0 && now > u->as_of_ms) {
            double f = exp2(-(double)(now - u->as_of_ms) / hl_ms);

            for (size_t k = 0; k < SNAPSHOT_SKU_MAX; k++)
                u->gpu_hours[k] *= f;
        }
        if (now > u->as_of_ms)
            u->as_of_ms = now;
    }
    if (last > 0 && now > last) {
        for (size_t r = 0; r < in->n_running; r++) {
            const struct policy_running *ru = &in->running[r];
            struct policy_usage key, *u;
            int64_t from = ru->started_ms > last ? ru->started_ms : last;

            if (!ru->ns || ru->sku < 0 || ru->sku >= SNAPSHOT_SKU_MAX || now <= from)
                continue;
            memset(&key, 0, sizeof(key));
            snprintf(key.ns, sizeof(key.ns), "%s", ru->ns);
            u = bsearch(&key, st->usage, st->n_usage, sizeof(*st->usage), cmp_usage);
            if (u)
                u->gpu_hours[ru->sku] += (double)ru->gpus * (double)(now - from) / 3.6e6;
        }
    }
    if (now > st->last_now_ms)
        st->last_now_ms = now;
}

/* ---- names and sentences ------------------------------------------------------------ */

const char *policy_reason_name(enum policy_reason r)
{
    switch (r) {
    case POLICY_REASON_NONE: return "none";
    case POLICY_REASON_INVALID_SPEC: return "invalid_spec";
    case POLICY_REASON_UNKNOWN_SKU: return "unknown_sku";
    case POLICY_REASON_NO_CLUSTERS: return "no_clusters";
    case POLICY_REASON_AFFINITY: return "affinity";
    case POLICY_REASON_CORDONED: return "cordoned";
    case POLICY_REASON_UNHEALTHY: return "unhealthy";
    case POLICY_REASON_STALE: return "stale";
    case POLICY_REASON_NO_SKU_NODES: return "no_sku_nodes";
    case POLICY_REASON_NEVER_FITS: return "never_fits";
    case POLICY_REASON_INSUFFICIENT: return "insufficient_capacity";
    case POLICY_REASON_RESERVED: return "reserved";
    case POLICY_REASON_QUOTA: return "quota";
    case POLICY_REASON_NOT_PREEMPTIBLE: return "not_preemptible";
    case POLICY_REASON_LENDING_CLOSED: return "lending_closed";
    case POLICY_REASON_LENDING_BACKOFF: return "lending_backoff";
    case POLICY_REASON_NO_LENDABLE: return "no_lendable";
    case POLICY_REASON_LEASE_TOO_SHORT: return "lease_too_short";
    case POLICY_REASON_NO_SERVING_POOL: return "no_serving_pool";
    case POLICY_REASON_MISSING_PREREQ: return "missing_prerequisite";
    case POLICY_REASON_NODE_RESOURCES: return "node_resources";
    case POLICY_REASON_COUNT: break;
    }
    return "unknown";
}

const char *policy_reclaim_reason_name(enum policy_reclaim_reason r)
{
    switch (r) {
    case POLICY_RECLAIM_DEFICIT: return "serving_deficit";
    case POLICY_RECLAIM_LEASE_END: return "lease_end";
    case POLICY_RECLAIM_QUOTA: return "quota_reclaim";
    case POLICY_RECLAIM_PRIORITY: return "priority";
    case POLICY_RECLAIM_ANNOUNCED: return "serving_announced";
    case POLICY_RECLAIM_FORECAST: return "serving_forecast";
    case POLICY_RECLAIM_BACKFILL: return "backfill";
    }
    return "unknown";
}

/* "cluster b: KubeRayInstalled is False: <the connector's message>"; a prerequisite not
 * checked yet only keeps borrowed placements away, and says so. */
/* What a cluster's state costs a job no other cluster could hold. */
static const char *only_tail(const struct policy_why *w)
{
    return w->only ? "; no cluster that takes placements could hold the job, even idle" : "";
}

static void prereq_format(const struct policy_why *w, const struct snapshot *snap, const char *cl,
                          char *out, size_t size)
{
    const struct snapshot_prereq_status *ps = NULL;

    if (w->cluster >= 0 && (size_t)w->cluster < snap->n_clusters &&
        (unsigned)w->prereq < SNAPSHOT_PREREQ_COUNT)
        ps = &snap->clusters[w->cluster].prereqs[w->prereq];
    if (ps && ps->state == SNAPSHOT_PREREQ_MISSING)
        snprintf(out, size, "cluster %s: %s is False: %s%s", cl, snapshot_prereq_name(w->prereq),
                 ps->message, only_tail(w));
    else
        snprintf(out, size,
                 "cluster %s: %s is not checked yet; serving GPUs are lent only once it is True%s",
                 cl, snapshot_prereq_name(w->prereq), only_tail(w));
}

/* A clusterAffinity that names no member cluster: which clusters are members, the first
 * AFFINITY_NAMES_MAX of them. */
#define AFFINITY_NAMES_MAX 8
static void affinity_none(const struct snapshot *snap, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "clusterAffinity names no member cluster (members: ");

    for (size_t c = 0; c < snap->n_clusters && c < AFFINITY_NAMES_MAX && used < size; c++)
        used += (size_t)snprintf(out + used, size - used, "%s%s", c ? ", " : "",
                                 snap->clusters[c].name);
    if (used < size && snap->n_clusters > AFFINITY_NAMES_MAX)
        used += (size_t)snprintf(out + used, size - used, " and %zu more",
                                 snap->n_clusters - AFFINITY_NAMES_MAX);
    if (used < size)
        snprintf(out + used, size - used, ")");
}

/* ", 16 CPU and 64 GiB each" (the parts requested), or "" when a worker asks for neither. */
static void worker_request(const struct policy_why *w, char *out, size_t size)
{
    char cpu[32] = "", mem[32] = "";

    if (w->cpu_m > 0)
        snprintf(cpu, sizeof(cpu), "%g CPU", (double)w->cpu_m / 1000.0);
    if (w->mem_mib > 0)
        snprintf(mem, sizeof(mem), "%g GiB", (double)w->mem_mib / 1024.0);
    if (cpu[0] || mem[0])
        snprintf(out, size, ", %s%s%s each", cpu, cpu[0] && mem[0] ? " and " : "", mem);
    else
        out[0] = '\0';
}

void policy_why_format(const struct policy_why *w, const struct snapshot *snap, char *out,
                       size_t size)
{
    const char *sku = w->sku >= 0 && (size_t)w->sku < snap->n_skus ? snap->sku_names[w->sku] : "?";
    const char *pool = w->pool == SNAPSHOT_POOL_SERVING ? " (borrowed serving)" : "";
    const char *cl = w->cluster >= 0 && (size_t)w->cluster < snap->n_clusters
                         ? snap->clusters[w->cluster].name
                         : "any cluster";

    switch (w->reason) {
    case POLICY_REASON_NONE: snprintf(out, size, "%s%s: fits", sku, pool); break;
    case POLICY_REASON_INVALID_SPEC:
        snprintf(out, size, "gpuCount %d is not a positive multiple of gpusPerWorker %d", w->need,
                 w->per_worker);
        break;
    case POLICY_REASON_UNKNOWN_SKU:
        snprintf(out, size, "no instance type of the job is known in the capacity snapshot");
        break;
    case POLICY_REASON_NO_CLUSTERS: snprintf(out, size, "no member clusters"); break;
    case POLICY_REASON_AFFINITY:
        if (w->only)
            affinity_none(snap, out, size);
        else
            snprintf(out, size, "%s is not in clusterAffinity", cl);
        break;
    case POLICY_REASON_CORDONED:
        snprintf(out, size, "cluster %s is cordoned%s", cl, only_tail(w));
        break;
    case POLICY_REASON_UNHEALTHY:
        snprintf(out, size, "cluster %s is %s%s", cl,
                 snapshot_health_name((enum snapshot_health)w->have), only_tail(w));
        break;
    case POLICY_REASON_STALE:
        if (w->value < 0)
            snprintf(out, size, "cluster %s has never been polled%s", cl, only_tail(w));
        else
            snprintf(out, size, "cluster stale for %lld s%s", (long long)w->value, only_tail(w));
        break;
    case POLICY_REASON_NO_SKU_NODES:
        snprintf(out, size, "%s%s: no nodes of this type", sku, pool);
        break;
    case POLICY_REASON_NEVER_FITS: {
        char each[64], down[96] = "";

        worker_request(w, each, sizeof(each));
        if (w->down_nodes > 0)
            snprintf(down, sizeof(down),
                     "; %d node%s with %d GPUs take%s no pods of ours (NotReady, cordoned or "
                     "tainted)",
                     w->down_nodes, w->down_nodes == 1 ? "" : "s", w->down_gpus,
                     w->down_nodes == 1 ? "s" : "");
        snprintf(out, size, "%s%s: needs %d worker%s of %d GPUs%s, only %d fit even when idle%s%s",
                 sku, pool, w->workers, w->workers == 1 ? "" : "s", w->per_worker, each, w->have,
                 w->aff ? " in the clusters of its clusterAffinity" : "", down);
        break;
    }
    case POLICY_REASON_NODE_RESOURCES: {
        char each[64];
        const char *nh = w->nodes == 1 ? " has" : "s have";

        worker_request(w, each, sizeof(each));
        snprintf(out, size,
                 "%s%s: needs %d worker%s of %d GPUs%s; %d node%s %d GPUs free, but with the CPU "
                 "and memory beside them there is room for %d (%lld short of CPU, %lld of "
                 "memory)",
                 sku, pool, w->workers, w->workers == 1 ? "" : "s", w->per_worker, each, w->nodes,
                 nh, w->per_worker, w->have, (long long)w->value, (long long)w->value2);
        break;
    }
    case POLICY_REASON_INSUFFICIENT:
    case POLICY_REASON_RESERVED: {
        char tail[96] = "";
        const char *ws = w->workers == 1 ? "" : "s";
        const char *nh = w->nodes == 1 ? " has" : "s have";

        if (w->reason == POLICY_REASON_RESERVED && w->by_name)
            snprintf(tail, sizeof(tail), "; the rest is reserved for %s/%s",
                     w->by_ns ? w->by_ns : "-", w->by_name);
        else if (w->reason == POLICY_REASON_RESERVED && w->by_other_ns)
            snprintf(tail, sizeof(tail), "; the rest is reserved for a job of another namespace");
        if (w->cluster < 0)
            snprintf(out, size, "%s: needs %d worker%s of %d GPUs, at most %d fit in any cluster",
                     sku, w->workers, ws, w->per_worker, w->have);
        else if (w->have == w->nodes)
            snprintf(out, size, "%s%s: needs %d worker%s of %d GPUs, %d node%s %d free%s", sku,
                     pool, w->workers, ws, w->per_worker, w->nodes, nh, w->per_worker, tail);
        else
            snprintf(out, size,
                     "%s%s: needs %d worker%s of %d GPUs, %d node%s %d free (room for %d "
                     "workers)%s",
                     sku, pool, w->workers, ws, w->per_worker, w->nodes, nh, w->per_worker, w->have,
                     tail);
        break;
    }
    case POLICY_REASON_QUOTA:
        snprintf(out, size,
                 "quota %s/%s exhausted: uses %d GPUs, needs %d more, limit %lld (nominal %lld)%s",
                 w->ns ? w->ns : "?", sku, w->have, w->need, (long long)w->value,
                 (long long)w->value2,
                 w->in_nominal ? "; only preemptible jobs may run above nominal quota" : "");
        break;
    case POLICY_REASON_NOT_PREEMPTIBLE:
        snprintf(out, size, "%s: serving GPUs are lent only to preemptible jobs%s", sku,
                 w->only ? "; no training nodes could hold the job even idle: set "
                           "spec.scheduling.preemptible to run on lent GPUs"
                         : "");
        break;
    case POLICY_REASON_LENDING_CLOSED:
        snprintf(out, size, "%s: outside lending window", sku);
        break;
    case POLICY_REASON_LENDING_BACKOFF:
        snprintf(out, size, "%s: serving pool reclaimed recently, lending resumes in %lld s", sku,
                 (long long)w->value);
        break;
    case POLICY_REASON_NO_LENDABLE:
        if (w->value2 > 0)
            snprintf(out, size,
                     "%s: nothing lent while %lld GPUs of Pending serving pods fit no node", sku,
                     (long long)w->value2);
        else
            snprintf(out, size, "%s: %d serving GPUs lendable (free - reserve - pending), needs %d",
                     sku, w->have, w->need);
        break;
    case POLICY_REASON_LEASE_TOO_SHORT: {
        char rt[32] = "unknown", ck[32] = "none";

        if (w->value2 > 0)
            snprintf(rt, sizeof(rt), "%lld s", (long long)w->value2);
        if (w->have > 0)
            snprintf(ck, sizeof(ck), "every %d s", w->have);
        snprintf(out, size,
                 "%s: lease ends in %lld s, too short for this job (maxRuntime %s, "
                 "checkpoints %s)",
                 sku, (long long)w->value, rt, ck);
        break;
    }
    case POLICY_REASON_NO_SERVING_POOL:
        snprintf(out, size, "cluster %s has no serving pool", cl);
        break;
    case POLICY_REASON_MISSING_PREREQ: prereq_format(w, snap, cl, out, size); break;
    case POLICY_REASON_COUNT: snprintf(out, size, "unknown"); break;
    }
}

bool policy_same_ns(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

int policy_preemption_format(const struct policy_input *in, const struct policy_pending *p,
                             char *out, size_t size)
{
    const char *ns = in->queue[p->job].ns;
    size_t len, named = 0, others = 0;

    if (!p->preempting)
        return -1;
    len = (size_t)snprintf(out, size, "waiting for the preemption of");
    for (size_t i = 0; i < p->n_victims && len < size; i++) {
        const struct policy_running *ru = &in->running[p->victims[i]];

        /* A victim of another namespace is counted, not named (docs/security.md). */
        if (!policy_same_ns(ru->ns, ns)) {
            others++;
            continue;
        }
        len += (size_t)snprintf(out + len, size - len, "%s %s/%s", named++ ? "," : "", ru->ns,
                                ru->name);
    }
    if (others && len < size)
        len += (size_t)snprintf(out + len, size - len, "%s %zu job%s of another namespace",
                                named ? "," : "", others, others == 1 ? "" : "s");
    if (len < size)
        snprintf(out + len, size - len, " in cluster %s",
                 in->snap->clusters[p->victims_cluster].name);
    return 0;
}

uint32_t policy_framework_prereqs(const char *framework)
{
    if (framework && strcmp(framework, "ray") == 0)
        return (1u << SNAPSHOT_PREREQ_KUBERAY) | (1u << SNAPSHOT_PREREQ_RAY_PERMISSIONS);
    return 0;
}

/* ---- the cycle ---------------------------------------------------------------------- */

struct cycle {
    struct engine *en;
    struct policy_result *r;
    size_t cap_place;
    struct policy_worker *workers; /* every placement's workers, one arena */
    size_t n_workers, cap_workers;
    size_t *w_first; /* per placement, offset into workers */
    int n_reservations;
    int n_own_quota; /* preemption attempts within a quota this cycle (max_reservations) */
    bool *quota_ok;
    bool *over;
    /* quota reclaim */
    long *run_cluster;  /* per running placement: snapshot cluster, -1 unknown */
    bool *run_borrower; /* runs above its namespace's nominal quota */
    bool *run_chosen;   /* already a victim this cycle */
    size_t *run_node;   /* resolved node of each plan entry, flattened */
    size_t *run_node_first;
    /* priority preemption */
    struct policy_state *st;
    size_t *victims; /* every preempting pending job's victims, one arena */
    size_t n_victims, cap_victims;
    size_t *v_first;   /* per pending entry, offset into victims */
    bool has_victims;  /* some running training job is preemptible */
    int lowest_victim; /* and the lowest priority among them */
    int *ns_lowest;    /* per namespace: the same among its own, INT_MAX when none */
    int *q_stopping;   /* per namespace x SKU: GPUs of its placements being reclaimed */
    /* backfill behind reservations */
    int *avail;   /* per node: GPUs a reserving job could have (reserve_for) */
    size_t *held; /* the nodes the last reservation holds */
    size_t n_held;
    int held_c;         /* and their cluster */
    bool *run_backfill; /* per running placement: placed by backfill (policy_state) */
};

/* qsort has no context argument in C11: the comparator sees the engine through the
 * array element itself. */
struct order_item {
    int64_t eff;
    int ns;
    int64_t queued;
    int64_t created;
    uint64_t id;
    size_t j;
};

static int cmp_order(const void *pa, const void *pb)
{
    const struct order_item *a = pa, *b = pb;

    if (a->eff != b->eff)
        return a->eff > b->eff ? -1 : 1;
    if (a->ns != b->ns)
        return a->ns < b->ns ? -1 : 1;
    if (a->queued != b->queued)
        return a->queued < b->queued ? -1 : 1;
    if (a->created != b->created)
        return a->created < b->created ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->j < b->j ? -1 : (a->j > b->j);
}

/* Best slots for (pool, SKU, per-worker g) over every cluster that accepts placements,
 * cached per version. *blk / *blk_c receive the best among clusters that take no
 * placements (cordoned, stale, unhealthy) and which one, so an early rejection can still
 * name the real obstacle; *res (when not NULL) the best among clusters that accept
 * placements with their reservations ignored, so it can tell room that is reserved. */
static int global_slots(struct engine *en, enum snapshot_pool p, int k, int g, int *blk, int *blk_c,
                        int *res)
{
    size_t pk = (size_t)p * en->n_skus + (size_t)k;
    size_t x = pk * ENGINE_SLOT_CACHE + (size_t)g;
    int best = 0, bb = 0, bc = -1, br = 0;

    if (g < ENGINE_SLOT_CACHE && en->gmax_ver[x] == en->gver[pk]) {
        *blk = en->gblk[x];
        *blk_c = en->gblk_c[x];
        if (res)
            *res = en->gres[x];
        return en->gmax[x];
    }
    for (size_t c = 0; c < en->n_clusters; c++) {
        struct engine_group *G = engine_group_of(en, c, p, k);
        int s = engine_slots(G, g, false);

        /* Clusters that take no placements would otherwise keep their free GPUs visible
         * forever and defeat the early rejection. */
        if (en->cl_block[c].reason != POLICY_REASON_NONE) {
            if (s > bb) {
                bb = s;
                bc = (int)c;
            }
            continue;
        }
        if (s > best)
            best = s;
        if (G->n_reserved) {
            s = engine_slots_unreserved(en, G, g);
            br = s > br ? s : br;
        }
    }
    if (g < ENGINE_SLOT_CACHE) {
        en->gmax[x] = best;
        en->gblk[x] = bb;
        en->gblk_c[x] = bc;
        en->gres[x] = br;
        en->gmax_ver[x] = en->gver[pk];
    }
    *blk = bb;
    *blk_c = bc;
    if (res)
        *res = br;
    return best;
}

/* The most workers of job j any cluster of its clusterAffinity would hold with nothing
 * running (pool p, SKU k), by GPUs and, when j asks for them, CPU and memory; *gpus the
 * most by GPUs alone; *open the most of such a cluster that takes placements, and *blk_c
 * (when still -1) one that takes none but would hold the gang. */
static int global_slots_empty(struct engine *en, size_t j, enum snapshot_pool p, int k, int *gpus,
                              int *open, int *blk_c)
{
    const struct engine_job *ej = &en->jobs[j];
    int best = 0;

    for (size_t c = 0; c < en->n_clusters; c++) {
        const struct engine_group *G;
        int s;

        if (!engine_job_allows(en, ej, (int)c))
            continue;
        G = engine_group_of(en, c, p, k);
        s = engine_slots_empty(en, G, ej->per_worker);
        *gpus = s > *gpus ? s : *gpus;
        /* Once a cluster that takes placements holds the gang, the rest only matter by GPUs
         * (the job neither never fits nor waits for a blocked cluster): skip the count. */
        if ((ej->cpu || ej->mem) && s >= ej->workers && *open < ej->workers) {
            int f = engine_fit_slots_empty(en, G, j);

            s = f < s ? f : s;
        }
        if (s > best)
            best = s;
        if (en->cl_block[c].reason == POLICY_REASON_NONE)
            *open = s > *open ? s : *open;
        else if (s >= ej->workers && *blk_c < 0)
            *blk_c = (int)c;
    }
    return best;
}

/* The nodes of SKU k in the job's clusters (training pool, and serving for a preemptible
 * job) that take no pods of ours but could hold a worker, for a never_fits message. */
static void count_down(struct engine *en, const struct engine_job *ej, int k, bool serving,
                       struct policy_why *w)
{
    if (k < 0)
        return;
    for (size_t c = 0; c < en->n_clusters; c++) {
        if (engine_job_allows(en, ej, (int)c)) {
            engine_group_down(en, engine_group_of(en, c, SNAPSHOT_POOL_TRAINING, k), ej, w);
            if (serving)
                engine_group_down(en, engine_group_of(en, c, SNAPSHOT_POOL_SERVING, k), ej, w);
        }
    }
}

/* Whether serving pools of job j's clusters could hold its gang when idle, were it
 * preemptible, though no training pool could: then the job never runs only because it is
 * not preemptible, and w says so. */
static bool serving_would_hold(struct cycle *cy, size_t j, struct policy_why *w)
{
    struct engine *en = cy->en;
    const struct engine_job *ej = &en->jobs[j];

    for (int o = 0; o < ej->n_opts; o++) {
        int gpus = 0, open = 0, blk_c = -1;

        if (cy->quota_ok[o] && global_slots_empty(en, j, SNAPSHOT_POOL_SERVING, ej->opts[o], &gpus,
                                                  &open, &blk_c) >= ej->workers) {
            w->reason = POLICY_REASON_NOT_PREEMPTIBLE;
            w->sku = ej->opts[o];
            w->pool = SNAPSHOT_POOL_SERVING;
            w->only = true;
            return true;
        }
    }
    return false;
}

static void add_pending(struct cycle *cy, size_t j, const struct policy_why *why, bool reserving)
{
    struct policy_pending *p = &cy->r->pending[cy->r->n_pending++];

    p->job = j;
    p->why = *why;
    p->reserving = reserving;
}

static void place(struct cycle *cy, size_t j, const struct engine_cand *best,
                  const struct engine_cand *runner, bool has_runner, int n_cand)
{
    struct engine *en = cy->en;
    const struct policy_job *job = &en->in->queue[j];
    const struct engine_job *ej = &en->jobs[j];
    struct engine_group *G = engine_group_of(en, (size_t)best->cluster, best->pool, best->sku);
    struct policy_placement *pl;
    size_t K = en->n_skus;

    if (cy->r->n_placements == cy->cap_place) {
        cy->cap_place = cy->cap_place ? cy->cap_place * 2 : 64;
        cy->r->placements = xrealloc(cy->r->placements, cy->cap_place * sizeof(*pl));
        cy->w_first = xrealloc(cy->w_first, cy->cap_place * sizeof(*cy->w_first));
    }
    cy->w_first[cy->r->n_placements] = cy->n_workers;
    pl = &cy->r->placements[cy->r->n_placements++];
    memset(pl, 0, sizeof(*pl));
    pl->job = j;
    pl->cluster = best->cluster;
    pl->pool = best->pool;
    pl->sku = best->sku;
    pl->chosen = best->sc;
    pl->runner_up = has_runner ? runner->sc : pl->runner_up;
    pl->has_runner_up = has_runner;
    pl->n_candidates = n_cand;
    pl->over_quota = cy->over[best->opt];
    for (int w = 0; w < ej->workers; w++) {
        struct nodefit_eval ev;
        long node = engine_take(en, G, j, true, true, &ev);
        bool scored = ev.choice.n > 0;

        if (cy->n_workers == cy->cap_workers) {
            cy->cap_workers = cy->cap_workers ? cy->cap_workers * 2 : 256;
            cy->workers = xrealloc(cy->workers, cy->cap_workers * sizeof(*cy->workers));
        }
        cy->workers[cy->n_workers].node = (size_t)node;
        cy->workers[cy->n_workers].gpus = ej->per_worker;
        cy->workers[cy->n_workers].scored = scored;
        cy->workers[cy->n_workers].stranded_gpus = scored ? ev.frag_delta / NODEFIT_MILLI : 0;
        cy->n_workers++;
    }
    pl->n_workers = (size_t)ej->workers;
    engine_quota_take(en, ej->ns, best->sku, job->gpu_count);
    if (ej->ns >= 0) {
        size_t x = (size_t)ej->ns * K + (size_t)best->sku;
        double v;

        en->ns_run[x] += job->gpu_count;
        v = (en->ns_avg[x] + en->ns_run[x]) / en->sku_cap[best->sku] / en->ns_weight[ej->ns];
        if (v > en->ns_share[ej->ns])
            en->ns_share[ej->ns] = v;
    }
    if (best->pool == SNAPSHOT_POOL_SERVING) {
        struct engine_lend *L = &en->lend[(size_t)best->cluster * K + (size_t)best->sku];

        L->budget -= job->gpu_count;
        pl->lease_end_ms = L->lease_end_ms;
        if (L->status >= 0)
            cy->r->pools[L->status].lent += job->gpu_count;
    }
}

/* What job j could use on a set of nodes once some running placements stop: per node, the
 * free GPUs, CPU and memory (ENGINE_UNMETERED: not known, never binds), with the placements
 * counted in added back. The set is a group's nodes (position npos) or a list of nodes
 * (position in the list). Nodes another job than j holds give j nothing. */
struct room {
    const struct engine_group *G;
    const size_t *nodes;
    size_t n;
    int *gpus;
    int64_t *cpu, *mem;
};

static void room_init(struct room *rm, const struct engine *en, const struct engine_group *G,
                      const size_t *nodes, size_t n, size_t j)
{
    rm->G = G;
    rm->nodes = G ? G->nodes : nodes;
    rm->n = G ? G->n : n;
    rm->gpus = xcalloc(rm->n + 1, sizeof(*rm->gpus));
    rm->cpu = xcalloc(rm->n + 1, sizeof(*rm->cpu));
    rm->mem = xcalloc(rm->n + 1, sizeof(*rm->mem));
    for (size_t i = 0; i < rm->n; i++) {
        size_t node = rm->nodes[i];

        if (en->reserved_by[node] && en->reserved_by[node] != j + 1)
            continue;
        rm->gpus[i] = en->nfree[node];
        rm->cpu[i] = en->ncpu[node];
        rm->mem[i] = en->nmem[node];
    }
}

static void room_free(struct room *rm)
{
    free(rm->gpus);
    free(rm->cpu);
    free(rm->mem);
}

/* Position in the room of plan entry p of running placement r, or -1: not one of its nodes,
 * or a node another job than j holds (its resources would not go to j). */
static long room_pos(const struct cycle *cy, const struct room *rm, size_t r, size_t p, size_t j)
{
    const struct engine *en = cy->en;
    size_t node = cy->run_node[cy->run_node_first[r] + p];

    if (node == SIZE_MAX || (en->reserved_by[node] && en->reserved_by[node] != j + 1))
        return -1;
    if (rm->G)
        return en->ngroup[node] == (int32_t)(rm->G - en->groups) ? (long)en->npos[node] : -1;
    for (size_t i = 0; i < rm->n; i++)
        if (rm->nodes[i] == node)
            return (long)i;
    return -1;
}

static void add_unless_unmetered(int64_t *v, int64_t d)
{
    if (*v != ENGINE_UNMETERED)
        *v += d;
}

/* Adds (sign 1) or removes (-1) what running placement r holds on the room's nodes: its
 * GPUs, and its workers' CPU and memory. Returns the GPUs counted. */
static int room_add(const struct cycle *cy, struct room *rm, size_t r, size_t j, int sign)
{
    const struct policy_running *ru = &cy->en->in->running[r];
    int n = 0;

    for (size_t p = 0; p < ru->n_plan; p++) {
        long i = room_pos(cy, rm, r, p, j);
        int64_t workers;

        if (i < 0)
            continue;
        workers = policy_plan_workers(ru, p);
        rm->gpus[i] += sign * ru->plan[p].gpus;
        add_unless_unmetered(&rm->cpu[i], sign * workers * ru->cpu_m_per_worker);
        add_unless_unmetered(&rm->mem[i], sign * workers * ru->mem_mib_per_worker);
        n += ru->plan[p].gpus;
    }
    return n;
}

/* Whether running placement r holds any of the room's nodes. */
static bool room_holds(const struct cycle *cy, const struct room *rm, size_t r, size_t j)
{
    for (size_t p = 0; p < cy->en->in->running[r].n_plan; p++)
        if (room_pos(cy, rm, r, p, j) >= 0)
            return true;
    return false;
}

/* Marks in touched the room positions running placement r holds. */
static void room_mark(const struct cycle *cy, const struct room *rm, size_t r, size_t j,
                      bool *touched)
{
    for (size_t p = 0; p < cy->en->in->running[r].n_plan; p++) {
        long i = room_pos(cy, rm, r, p, j);

        if (i >= 0)
            touched[i] = true;
    }
}

/* Workers of job j the room's node i takes. */
static int room_workers(const struct engine *en, const struct room *rm, size_t i, size_t j)
{
    int k;

    if (!en->s->nodes[rm->nodes[i]].schedulable)
        return 0;
    k = engine_workers_on(&en->jobs[j], rm->gpus[i], rm->cpu[i], rm->mem[i]);
    return k > 0 ? k : 0;
}

static int room_slots(const struct engine *en, const struct room *rm, size_t j)
{
    int slots = 0;

    for (size_t i = 0; i < rm->n; i++)
        slots += room_workers(en, rm, i, j);
    return slots;
}

/* Whether running placement r was placed by backfill (on nodes a reservation held) and
 * gives way to queued job j: every backfilled job is preemptible and of no higher priority
 * than the reservations it used; j must be of no lower priority than it. */
static bool gives_way(const struct cycle *cy, size_t j, size_t r)
{
    const struct engine *en = cy->en;
    const struct policy_running *ru = &en->in->running[r];

    return ru->preemptible && ru->pool == SNAPSHOT_POOL_TRAINING && ru->n_plan && !ru->reclaiming &&
           !cy->run_chosen[r] && cy->run_backfill[r] && ru->priority <= en->in->queue[j].priority;
}

/* GPUs per node that job j could have without waiting for any work to end: those of
 * placements being reclaimed and of placements that overtook j (added to cy->avail, which
 * holds the working free GPUs of every node). */
static void avail_for(struct cycle *cy, size_t j)
{
    struct engine *en = cy->en;
    const struct policy_input *in = en->in;

    for (size_t i = 0; i < en->s->n_nodes; i++)
        cy->avail[i] = en->nfree[i];
    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];

        if (ru->pool != SNAPSHOT_POOL_TRAINING || !(ru->reclaiming || gives_way(cy, j, r)))
            continue;
        for (size_t p = 0; p < ru->n_plan; p++) {
            size_t node = cy->run_node[cy->run_node_first[r] + p];

            if (node != SIZE_MAX && !en->reserved_by[node] && en->s->nodes[node].sku == ru->sku &&
                en->s->nodes[node].pool == SNAPSHOT_POOL_TRAINING)
                cy->avail[node] += ru->plan[p].gpus;
        }
    }
}

/* Workers of job j node takes when idle: its allocatable GPUs, CPU and memory. */
static int idle_workers(const struct engine *en, size_t node, size_t j)
{
    const struct snapshot_node *n = &en->s->nodes[node];

    return engine_workers_on(&en->jobs[j], n->allocatable,
                             n->cpu_alloc_m > 0 ? n->cpu_alloc_m : ENGINE_UNMETERED,
                             n->mem_alloc_mib > 0 ? n->mem_alloc_mib : ENGINE_UNMETERED);
}

/* The nodes of group G job j would reserve, into cand: the most available first (lowest
 * index among equals), enough to hold the gang when idle (GPUs, CPU and memory). Returns how many
 * (0 when the group cannot hold it), and in *drain the GPUs of work on them that j has to
 * wait for. Selection, not a sort: a gang needs few of a group's nodes. */
static size_t reserve_nodes(const struct cycle *cy, const struct engine_group *G, size_t j,
                            size_t *cand, int *drain)
{
    const struct engine *en = cy->en;
    const struct engine_job *ej = &en->jobs[j];
    size_t n = 0, m = 0;
    int cover = 0;

    for (size_t i = 0; i < G->n; i++) {
        size_t node = G->nodes[i];

        if (!en->reserved_by[node] && en->s->nodes[node].schedulable &&
            idle_workers(en, node, j) > 0)
            cand[n++] = node;
    }
    *drain = 0;
    for (; m < n && cover < ej->workers; m++) {
        size_t b = m, t;
        int a;

        for (size_t i = m + 1; i < n; i++)
            if (cy->avail[cand[i]] > cy->avail[cand[b]] ||
                (cy->avail[cand[i]] == cy->avail[cand[b]] && cand[i] < cand[b]))
                b = i;
        t = cand[m];
        cand[m] = cand[b];
        cand[b] = t;
        a = en->s->nodes[cand[m]].allocatable;
        cover += idle_workers(en, cand[m], j);
        *drain += a > cy->avail[cand[m]] ? a - cy->avail[cand[m]] : 0;
    }
    return cover >= ej->workers ? m : 0;
}

/* Holds nodes for a job blocked by capacity, so later (smaller) jobs cannot keep taking
 * the GPUs it waits for: on the cluster and SKU where the least running work stands
 * between it and its start (GPUs of jobs that overtook it count as free, since it may
 * evict them), the nodes with the most such GPUs, enough to hold the gang once their
 * running work ends. Fills cy->held / cy->n_held with the nodes. */
static bool reserve_for(struct cycle *cy, size_t j)
{
    struct engine *en = cy->en;
    const struct engine_job *ej = &en->jobs[j];
    int best_c = -1, best_k = -1, best_drain = 0;
    struct engine_group *G;
    size_t *cand;
    size_t n = 0;

    avail_for(cy, j);
    cand = xcalloc(en->s->n_nodes + 1, sizeof(*cand));
    for (size_t c = 0; c < en->n_clusters; c++) {
        bool aff_ok = !ej->has_aff;

        for (int a = 0; a < ej->n_aff && !aff_ok; a++)
            aff_ok = en->aff[ej->aff_first + (size_t)a] == (int)c;
        if (!aff_ok || en->cl_block[c].reason != POLICY_REASON_NONE)
            continue;
        for (int o = 0; o < ej->n_opts; o++) {
            int k = ej->opts[o], drain;

            if (!cy->quota_ok[o])
                continue;
            G = engine_group_of(en, c, SNAPSHOT_POOL_TRAINING, k);
            if (G->n == 0 || engine_fit_slots_empty(en, G, j) < ej->workers ||
                reserve_nodes(cy, G, j, cand, &drain) == 0)
                continue;
            if (best_c < 0 || drain < best_drain ||
                (drain == best_drain && strcmp(en->cl_names[c], en->cl_names[best_c]) < 0)) {
                best_drain = drain;
                best_c = (int)c;
                best_k = k;
            }
        }
    }
    if (best_c >= 0) {
        int drain;

        G = engine_group_of(en, (size_t)best_c, SNAPSHOT_POOL_TRAINING, best_k);
        n = reserve_nodes(cy, G, j, cand, &drain);
        for (size_t i = 0; i < n; i++)
            engine_reserve(en, cand[i], j);
    }
    cy->n_held = 0;
    cy->held_c = best_c;
    for (size_t i = 0; i < n; i++)
        cy->held[cy->n_held++] = cand[i];
    free(cand);
    return n > 0;
}

/* Job j reserved cy->held. When the nodes would hold its gang without the placements that
 * overtook it (backfill), evicts the fewest of those, least lost work first, and leaves j
 * pending with the placements it waits for, as a priority preemption does. Only when j held
 * the same nodes in the previous cycle: which blocked jobs reserve, and which nodes each
 * gets, can change from one cycle to the next (the queue order moves with aging's whole
 * points and with fair share; max_reservations attempts), and a job that holds the nodes
 * every other cycle would otherwise evict backfilled jobs that are backfilled again the
 * cycle after, over and over. Placements already stopping count in either case. */
static bool evict_for(struct cycle *cy, size_t j, const struct policy_why *why)
{
    struct engine *en = cy->en;
    const struct policy_input *in = en->in;
    const struct engine_job *ej = &en->jobs[j];
    size_t *cand = xcalloc(in->n_running + 1, sizeof(*cand)), n = 0, kept = 0, first;
    struct room rm;
    bool ok = false, steady = cy->n_held > 0;
    struct policy_pending *p;

    for (size_t i = 0; i < cy->n_held && steady; i++)
        steady = engine_id_in(cy->st->reserved, cy->st->n_reserved,
                              engine_reserve_key(en, cy->held[i], in->queue[j].id));

    /* The held nodes' room, counting placements being reclaimed. */
    room_init(&rm, en, NULL, cy->held, cy->n_held, j);
    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];

        if (ru->pool != SNAPSHOT_POOL_TRAINING || cy->n_held == 0 ||
            ru->sku != en->s->nodes[cy->held[0]].sku || cy->run_cluster[r] != (long)cy->held_c ||
            !room_holds(cy, &rm, r, j))
            continue;
        if (ru->reclaiming)
            room_add(cy, &rm, r, j, 1);
        if (ru->reclaiming || (steady && gives_way(cy, j, r)))
            cand[n++] = r;
    }
    {
        int slots;
        size_t stopping = 0;

        /* Placements being reclaimed first (they cost nothing more), then least lost work. */
        for (size_t i = 1; i < n; i++) {
            size_t t = cand[i], x = i;

            while (x > 0 && ((in->running[t].reclaiming && !in->running[cand[x - 1]].reclaiming) ||
                             (in->running[t].reclaiming == in->running[cand[x - 1]].reclaiming &&
                              reclaim_victim_before(
                                  &in->running[t], policy_lost_gpu_hours(&in->running[t], en->now),
                                  &in->running[cand[x - 1]],
                                  policy_lost_gpu_hours(&in->running[cand[x - 1]], en->now))))) {
                cand[x] = cand[x - 1];
                x--;
            }
            cand[x] = t;
        }
        while (stopping < n && in->running[cand[stopping]].reclaiming)
            stopping++;
        slots = room_slots(en, &rm, j);
        kept = stopping;
        while (slots < ej->workers && kept < n) {
            room_add(cy, &rm, cand[kept++], j, 1);
            slots = room_slots(en, &rm, j);
        }
        ok = slots >= ej->workers && kept > 0;
        if (ok) {
            /* Drop the new victims the others already cover, costliest first. */
            for (size_t i = kept; i-- > stopping;) {
                room_add(cy, &rm, cand[i], j, -1);
                if (room_slots(en, &rm, j) >= ej->workers) {
                    memmove(&cand[i], &cand[i + 1], (kept - i - 1) * sizeof(*cand));
                    kept--;
                } else {
                    room_add(cy, &rm, cand[i], j, 1);
                }
            }
        }
        if (ok) {
            for (size_t i = 0; i < kept; i++) {
                size_t r = cand[i];
                struct policy_reclaim rc;

                if (in->running[r].reclaiming)
                    continue;
                memset(&rc, 0, sizeof(rc));
                rc.running = r;
                rc.for_job = j;
                rc.cluster = (int)cy->run_cluster[r];
                rc.sku = in->running[r].sku;
                rc.reason = POLICY_RECLAIM_BACKFILL;
                rc.deficit = in->queue[j].gpu_count;
                rc.lost_gpu_hours = policy_lost_gpu_hours(&in->running[r], en->now);
                rc.grace_s = policy_grace_s(en->cfg);
                cy->r->reclaims =
                    xrealloc(cy->r->reclaims, (cy->r->n_reclaims + 1) * sizeof(*cy->r->reclaims));
                cy->r->reclaims[cy->r->n_reclaims++] = rc;
                cy->run_chosen[r] = true;
            }
            first = cy->n_victims;
            for (size_t i = 0; i < kept; i++) {
                if (cy->n_victims == cy->cap_victims) {
                    cy->cap_victims = cy->cap_victims ? cy->cap_victims * 2 : 16;
                    cy->victims = xrealloc(cy->victims, cy->cap_victims * sizeof(*cy->victims));
                }
                cy->victims[cy->n_victims++] = cand[i];
            }
            add_pending(cy, j, why, true);
            p = &cy->r->pending[cy->r->n_pending - 1];
            p->preempting = true;
            p->victims_cluster = (int)cy->run_cluster[cand[0]];
            p->n_victims = cy->n_victims - first;
            cy->v_first[cy->r->n_pending - 1] = first;
        }
    }
    free(cand);
    room_free(&rm);
    return ok;
}

/* ---- quota reclaim ------------------------------------------------------------------ */

struct qr_order {
    int ns, sku;
    int64_t started;
    uint64_t id;
    size_t r;
};

static int cmp_qr(const void *pa, const void *pb)
{
    const struct qr_order *a = pa, *b = pb;

    if (a->ns != b->ns)
        return a->ns < b->ns ? -1 : 1;
    if (a->sku != b->sku)
        return a->sku < b->sku ? -1 : 1;
    if (a->started != b->started)
        return a->started < b->started ? -1 : 1;
    if (a->id != b->id)
        return a->id < b->id ? -1 : 1;
    return a->r < b->r ? -1 : (a->r > b->r);
}

/* Which running placements are quota borrowers (the part of a namespace's use of a managed
 * SKU above its nominal quota, counting the earliest started first), where they run, and on
 * which nodes. */
static void prepare_quota_reclaim(struct cycle *cy)
{
    struct engine *en = cy->en;
    const struct policy_input *in = en->in;
    size_t n = in->n_running, K = en->n_skus, total = 0;
    struct qr_order *ord = xcalloc(n + 1, sizeof(*ord));
    size_t m = 0;

    cy->run_cluster = xcalloc(n + 1, sizeof(*cy->run_cluster));
    cy->run_borrower = xcalloc(n + 1, sizeof(*cy->run_borrower));
    cy->run_chosen = xcalloc(n + 1, sizeof(*cy->run_chosen));
    cy->run_node_first = xcalloc(n + 1, sizeof(*cy->run_node_first));
    cy->ns_lowest = xcalloc(en->n_ns + 1, sizeof(*cy->ns_lowest));
    cy->q_stopping = xcalloc(en->n_ns * K + 1, sizeof(*cy->q_stopping));
    for (size_t i = 0; i < en->n_ns; i++)
        cy->ns_lowest[i] = INT_MAX;
    for (size_t r = 0; r < n; r++)
        total += in->running[r].n_plan;
    cy->run_node = xcalloc(total + 1, sizeof(*cy->run_node));
    total = 0;
    for (size_t r = 0; r < n; r++) {
        const struct policy_running *ru = &in->running[r];
        long c = engine_strmap_find(&en->cl_map, en->cl_names, ru->cluster);
        int ns = (int)engine_strmap_find(&en->ns_map, en->ns_names, ru->ns ? ru->ns : "");

        cy->run_cluster[r] = c;
        cy->run_node_first[r] = total;
        for (size_t p = 0; p < ru->n_plan; p++) {
            size_t node = SIZE_MAX;

            if (c >= 0 && ru->plan[p].node) {
                const struct snapshot_cluster *cl = &en->s->clusters[c];

                for (size_t i = cl->node_first; i < cl->node_first + cl->n_nodes; i++)
                    if (strcmp(en->s->nodes[i].name, ru->plan[p].node) == 0) {
                        node = i;
                        break;
                    }
            }
            cy->run_node[total++] = node;
        }
        if (ns >= 0 && ru->sku >= 0 && (size_t)ru->sku < K && en->q_managed[ru->sku])
            ord[m++] = (struct qr_order){ns, ru->sku, ru->started_ms, ru->id, r};
        if (ru->preemptible && ru->pool == SNAPSHOT_POOL_TRAINING &&
            (!cy->has_victims || ru->priority < cy->lowest_victim)) {
            cy->has_victims = true;
            cy->lowest_victim = ru->priority;
        }
        if (ru->preemptible && ru->pool == SNAPSHOT_POOL_TRAINING && ns >= 0 &&
            ru->priority < cy->ns_lowest[ns])
            cy->ns_lowest[ns] = ru->priority;
        if (ru->reclaiming && ns >= 0 && ru->sku >= 0 && (size_t)ru->sku < K)
            cy->q_stopping[(size_t)ns * K + (size_t)ru->sku] += ru->gpus;
    }
    if (m > 1)
        qsort(ord, m, sizeof(*ord), cmp_qr);
    for (size_t i = 0; i < m;) {
        size_t e = i;
        int used = 0, nominal = en->q_nominal[(size_t)ord[i].ns * K + (size_t)ord[i].sku];

        while (e < m && ord[e].ns == ord[i].ns && ord[e].sku == ord[i].sku) {
            used += in->running[ord[e].r].gpus;
            cy->run_borrower[ord[e].r] = used > nominal;
            e++;
        }
        i = e;
    }
    free(ord);
}

static void free_quota_reclaim(struct cycle *cy)
{
    free(cy->run_cluster);
    free(cy->run_borrower);
    free(cy->run_chosen);
    free(cy->run_node);
    free(cy->run_node_first);
    free(cy->ns_lowest);
    free(cy->q_stopping);
}

/* Who may be a victim of a site: a quota reclaim takes other namespaces' quota borrowers;
 * a priority preemption takes lower-priority jobs of the preemptor's namespace, and of
 * other namespaces only their quota borrowers (on an SKU without quotas every namespace
 * shares one queue, so any lower-priority job); a preemption within the quota, for a job
 * its own namespace's quota refuses, only lower-priority jobs of that namespace, enough of
 * them to bring it within its nominal quota (Kueue's withinClusterQueue: LowerPriority). */
enum site_kind {
    SITE_QUOTA,
    SITE_PRIORITY,
    SITE_OWN_QUOTA,
};

struct qr_site {
    int cluster, sku;
    enum site_kind kind;
    size_t *victims; /* new victims, in the order taken */
    size_t n_victims;
    size_t *free_nodes; /* nodes free now that the room counts on too (snapshot indices) */
    size_t n_free_nodes;
    double lost;
};

static bool site_victim(const struct cycle *cy, size_t j, size_t r, int k, enum site_kind kind)
{
    const struct engine *en = cy->en;
    const struct policy_running *ru = &en->in->running[r];
    const struct policy_job *job = &en->in->queue[j];
    bool same_ns = ru->ns && job->ns && strcmp(ru->ns, job->ns) == 0;
    int64_t min_runtime_s =
        kind == SITE_QUOTA ? en->cfg->min_runtime_s : en->cfg->preempt_min_runtime_s;

    if (!ru->preemptible || cy->run_chosen[r] || !ru->n_plan ||
        en->now - ru->started_ms < min_runtime_s * 1000)
        return false;
    if (kind == SITE_QUOTA)
        return cy->run_borrower[r] && !same_ns;
    if (kind == SITE_OWN_QUOTA)
        return ru->priority < job->priority && same_ns;
    return ru->priority < job->priority && (same_ns || !en->q_managed[k] || cy->run_borrower[r]);
}

/* Victims before others on borrowed quota first, then reclaim's order (least lost work). */
static bool site_before(const struct cycle *cy, size_t a, size_t b)
{
    const struct policy_running *x = &cy->en->in->running[a], *y = &cy->en->in->running[b];

    if (cy->run_borrower[a] != cy->run_borrower[b])
        return cy->run_borrower[a];
    return reclaim_victim_before(x, policy_lost_gpu_hours(x, cy->en->now), y,
                                 policy_lost_gpu_hours(y, cy->en->now));
}

/* Finds the victims of the kind on cluster c, SKU k whose GPUs, CPU and memory (with those
 * of placements already being reclaimed there, on nodes no other job holds) make room for
 * job j and who hold at least need GPUs between them (the quota they must give back), at
 * most max_new of them, and the nodes free now that the room needs besides. Returns true
 * and fills site (caller frees with site_free()) when possible. */
static bool find_site(struct cycle *cy, size_t j, int c, int k, enum site_kind kind, int max_new,
                      int need, struct qr_site *site)
{
    struct engine *en = cy->en;
    const struct policy_input *in = en->in;
    const struct engine_job *ej = &en->jobs[j];
    struct engine_group *G = engine_group_of(en, (size_t)c, SNAPSHOT_POOL_TRAINING, k);
    struct room rm;
    bool *touched;
    int slots = 0, freed = 0;
    size_t *cand, n = 0, kept = 0, stopping = 0;
    bool ok;

    if (G->n == 0 || engine_fit_slots_empty(en, G, j) < ej->workers)
        return false;
    room_init(&rm, en, G, NULL, 0, j);
    touched = xcalloc(G->n + 1, sizeof(*touched));
    cand = xcalloc(in->n_running + 1, sizeof(*cand));
    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];

        if (cy->run_cluster[r] != c || ru->sku != k || ru->pool != SNAPSHOT_POOL_TRAINING)
            continue;
        if (ru->reclaiming) {
            /* Will be free soon anyway. */
            if (room_add(cy, &rm, r, j, 1) > 0) {
                room_mark(cy, &rm, r, j, touched);
                stopping++;
            }
            continue;
        }
        if (site_victim(cy, j, r, k, kind))
            cand[n++] = r;
    }
    for (size_t i = 1; i < n; i++) {
        size_t t = cand[i], x = i;

        while (x > 0 && site_before(cy, t, cand[x - 1])) {
            cand[x] = cand[x - 1];
            x--;
        }
        cand[x] = t;
    }
    ok = room_slots(en, &rm, j) >= ej->workers && need <= 0;
    while (!ok && kept < n) {
        freed += in->running[cand[kept]].gpus;
        room_add(cy, &rm, cand[kept++], j, 1);
        ok = room_slots(en, &rm, j) >= ej->workers && freed >= need;
    }
    if (ok) {
        /* Second pass: drop victims the others already cover, costliest first. */
        for (size_t i = kept; i-- > 0;) {
            int g = in->running[cand[i]].gpus;

            room_add(cy, &rm, cand[i], j, -1);
            if (room_slots(en, &rm, j) >= ej->workers && freed - g >= need) {
                memmove(&cand[i], &cand[i + 1], (kept - i - 1) * sizeof(*cand));
                kept--;
                freed -= g;
            } else {
                room_add(cy, &rm, cand[i], j, 1);
            }
        }
    }
    /* A preemption that needs more victims than the cluster's budget allows, or that has
     * nothing to wait for (the job would fit without: something else keeps it away), is
     * no preemption. */
    ok = ok && (int)kept <= max_new && (kind == SITE_QUOTA || kept + stopping > 0);
    if (ok) {
        site->cluster = c;
        site->sku = k;
        site->kind = kind;
        site->victims = cand;
        site->n_victims = kept;
        site->lost = 0;
        site->free_nodes = xcalloc(G->n + 1, sizeof(*site->free_nodes));
        site->n_free_nodes = 0;
        for (size_t i = 0; i < kept; i++) {
            site->lost += policy_lost_gpu_hours(&in->running[cand[i]], en->now);
            room_mark(cy, &rm, cand[i], j, touched);
        }
        /* The room is the nodes being freed and, when they are not enough, nodes free now
         * (lowest index first): those have to be held for j too. */
        for (size_t i = 0; i < G->n; i++)
            if (touched[i])
                slots += room_workers(en, &rm, i, j);
        for (size_t i = 0; i < G->n && slots < ej->workers; i++) {
            int w = touched[i] ? 0 : room_workers(en, &rm, i, j);

            if (w > 0) {
                slots += w;
                site->free_nodes[site->n_free_nodes++] = G->nodes[i];
            }
        }
        cand = NULL;
    }
    free(cand);
    room_free(&rm);
    free(touched);
    return ok;
}

static void site_free(struct qr_site *site)
{
    free(site->victims);
    free(site->free_nodes);
    site->victims = site->free_nodes = NULL;
}

/* Whether victims on cluster c could make room for job j: the job may go there (affinity,
 * prerequisites) and the cluster takes placements. */
static bool site_cluster_ok(const struct engine *en, size_t j, size_t c)
{
    const struct engine_job *ej = &en->jobs[j];
    bool aff_ok = !ej->has_aff;

    for (int a = 0; a < ej->n_aff && !aff_ok; a++)
        aff_ok = en->aff[ej->aff_first + (size_t)a] == (int)c;
    return aff_ok && en->cl_block[c].reason == POLICY_REASON_NONE &&
           engine_missing_prereq(en, j, (int)c) < 0;
}

/* Victims left in the cluster's priority-preemption budget now. */
static int preempt_budget_left(const struct cycle *cy, size_t c)
{
    const struct engine *en = cy->en;
    const struct policy_preempt_log *l = policy_state_preempts(cy->st, en->cl_names[c], false);

    return en->cfg->preempt_budget -
           policy_preempts_in_window(l, en->now, en->cfg->preempt_window_s);
}

/* GPUs of SKU k that job j's namespace must give back for j to run within its nominal quota
 * there, less those its placements already being reclaimed will give back; -1 when
 * preempting its own jobs cannot bring j within it (no quota on k, or j alone is larger). */
static int own_quota_need(const struct cycle *cy, size_t j, int k)
{
    const struct engine *en = cy->en;
    const struct policy_job *job = &en->in->queue[j];
    int ns = en->jobs[j].ns, need;
    size_t x;

    if (ns < 0 || !en->q_managed[k])
        return -1;
    x = (size_t)ns * en->n_skus + (size_t)k;
    if (job->gpu_count > en->q_nominal[x])
        return -1;
    need = en->q_usage[x] + job->gpu_count - en->q_nominal[x] - cy->q_stopping[x];
    return need > 0 ? need : 0;
}

/* The site of the kind that makes room for job j losing the least work (then with the
 * fewest victims): in one cluster only, never two sites for one job. */
static bool best_site(struct cycle *cy, size_t j, enum site_kind kind, struct qr_site *best)
{
    struct engine *en = cy->en;
    const struct engine_job *ej = &en->jobs[j];

    memset(best, 0, sizeof(*best));
    best->cluster = -1;
    for (int o = 0; o < ej->n_opts; o++) {
        int k = ej->opts[o], need = 0;

        if (kind == SITE_OWN_QUOTA) {
            if (cy->quota_ok[o] || (need = own_quota_need(cy, j, k)) < 0)
                continue;
        } else if (!cy->quota_ok[o] || (kind == SITE_QUOTA && (cy->over[o] || !en->q_managed[k]))) {
            continue;
        }
        for (size_t c = 0; c < en->n_clusters; c++) {
            struct qr_site site;
            int max_new = kind == SITE_QUOTA ? INT32_MAX : preempt_budget_left(cy, c);

            if (!site_cluster_ok(en, j, c) || max_new < 0 ||
                !find_site(cy, j, (int)c, k, kind, max_new, need, &site))
                continue;
            if (best->cluster < 0 || site.lost < best->lost ||
                (site.lost == best->lost && site.n_victims < best->n_victims)) {
                site_free(best);
                *best = site;
            } else {
                site_free(&site);
            }
        }
    }
    return best->cluster >= 0;
}

static void reserve_plan_nodes(struct cycle *cy, size_t r, size_t j)
{
    const struct policy_running *ru = &cy->en->in->running[r];

    for (size_t p = 0; p < ru->n_plan; p++) {
        size_t node = cy->run_node[cy->run_node_first[r] + p];

        if (node != SIZE_MAX)
            engine_reserve(cy->en, node, j);
    }
}

/* Turns the site's victims into reclaims of the given reason for job j and holds the nodes
 * where GPUs are being freed (by these victims and by earlier reclaims) for j for the rest
 * of the cycle. */
static void take_site(struct cycle *cy, size_t j, const struct qr_site *site,
                      enum policy_reclaim_reason reason)
{
    struct engine *en = cy->en;

    for (size_t i = 0; i < site->n_victims; i++) {
        size_t r = site->victims[i];
        struct policy_reclaim rc;

        memset(&rc, 0, sizeof(rc));
        rc.running = r;
        rc.for_job = j;
        rc.cluster = site->cluster;
        rc.sku = site->sku;
        rc.reason = reason;
        rc.deficit = en->in->queue[j].gpu_count;
        rc.lost_gpu_hours = policy_lost_gpu_hours(&en->in->running[r], en->now);
        rc.grace_s = policy_grace_s(en->cfg);
        rc.within_quota = site->kind == SITE_OWN_QUOTA;
        cy->r->reclaims =
            xrealloc(cy->r->reclaims, (cy->r->n_reclaims + 1) * sizeof(*cy->r->reclaims));
        cy->r->reclaims[cy->r->n_reclaims++] = rc;
        cy->run_chosen[r] = true;
        reserve_plan_nodes(cy, r, j);
    }
    for (size_t r = 0; r < en->in->n_running; r++) {
        const struct policy_running *ru = &en->in->running[r];

        if (ru->reclaiming && cy->run_cluster[r] == site->cluster && ru->sku == site->sku &&
            ru->pool == SNAPSHOT_POOL_TRAINING)
            reserve_plan_nodes(cy, r, j);
    }
    for (size_t i = 0; i < site->n_free_nodes; i++)
        engine_reserve(en, site->free_nodes[i], j);
}

/* Reclaims quota borrowers of other namespaces so that job j, which is within its nominal
 * quota, can start. */
static bool quota_reclaim_for(struct cycle *cy, size_t j)
{
    struct qr_site best;

    if (!best_site(cy, j, SITE_QUOTA, &best))
        return false;
    take_site(cy, j, &best, POLICY_RECLAIM_QUOTA);
    site_free(&best);
    return true;
}

/* Whether job j could preempt at all: preemption on and some running preemptible training
 * job of lower priority (of its own namespace, for a preemption within its quota). */
static bool preempt_candidate(const struct cycle *cy, size_t j, enum site_kind kind)
{
    const struct engine *en = cy->en;
    int prio = en->in->queue[j].priority, ns = en->jobs[j].ns;

    if (!en->cfg->preemption)
        return false;
    if (kind == SITE_OWN_QUOTA)
        return ns >= 0 && prio > cy->ns_lowest[ns];
    return cy->has_victims && prio > cy->lowest_victim;
}

/* Whether job j may try to preempt now: preemption shares the max_reservations attempts
 * per cycle with reservations and quota reclaims, which bounds what a long blocked queue
 * costs. Preemptions within a quota have max_reservations attempts of their own, so jobs
 * their quota refuses do not use up those of jobs short of capacity. */
static bool may_preempt(const struct cycle *cy, size_t j, enum site_kind kind)
{
    int used = kind == SITE_OWN_QUOTA ? cy->n_own_quota : cy->n_reservations;

    return preempt_candidate(cy, j, kind) && used < cy->en->cfg->max_reservations;
}

/* Preempts lower-priority jobs so that job j can start, within the cluster's budget, and
 * leaves j pending (reserving) with the victims it waits for: this cycle's and those still
 * stopping in the same cluster and SKU. kind is SITE_PRIORITY, or SITE_OWN_QUOTA for a job
 * its namespace's quota refuses. */
static bool preempt_for(struct cycle *cy, size_t j, const struct policy_why *why,
                        enum site_kind kind)
{
    struct engine *en = cy->en;
    struct policy_preempt_log *log;
    struct policy_pending *p;
    struct qr_site best;
    size_t first;

    if (!preempt_candidate(cy, j, kind) || !best_site(cy, j, kind, &best))
        return false;
    take_site(cy, j, &best, POLICY_RECLAIM_PRIORITY);
    log = best.n_victims ? policy_state_preempts(cy->st, en->cl_names[best.cluster], true) : NULL;
    for (size_t i = 0; i < best.n_victims; i++) {
        log->at_ms[log->next] = en->now;
        log->next = (log->next + 1) % POLICY_PREEMPT_BUDGET_MAX;
    }
    first = cy->n_victims;
    for (size_t r = 0; r < en->in->n_running; r++) {
        const struct policy_running *ru = &en->in->running[r];
        bool mine = false;

        for (size_t i = 0; i < best.n_victims && !mine; i++)
            mine = best.victims[i] == r;
        /* A job stopping on a node now held for j is one j waits for. */
        for (size_t x = 0;
             !mine && ru->reclaiming && cy->run_cluster[r] == best.cluster && ru->sku == best.sku &&
             ru->pool == SNAPSHOT_POOL_TRAINING && x < ru->n_plan;
             x++) {
            size_t node = cy->run_node[cy->run_node_first[r] + x];

            mine = node != SIZE_MAX && en->reserved_by[node] == j + 1;
        }
        if (!mine)
            continue;
        if (cy->n_victims == cy->cap_victims) {
            cy->cap_victims = cy->cap_victims ? cy->cap_victims * 2 : 16;
            cy->victims = xrealloc(cy->victims, cy->cap_victims * sizeof(*cy->victims));
        }
        cy->victims[cy->n_victims++] = r;
    }
    add_pending(cy, j, why, true);
    p = &cy->r->pending[cy->r->n_pending - 1];
    p->preempting = true;
    p->victims_cluster = best.cluster;
    p->n_victims = cy->n_victims - first;
    cy->v_first[cy->r->n_pending - 1] = first;
    site_free(&best);
    return true;
}

/* Keeps the best and the runner-up of the candidates seen so far. */
static void keep_best(const struct engine *en, const struct engine_cand *cand,
                      struct engine_cand *best, bool *found, struct engine_cand *second,
                      bool *has_second)
{
    if (!*found || engine_cand_cmp(en, cand, best) < 0) {
        if (*found) {
            *second = *best;
            *has_second = true;
        }
        *best = *cand;
        *found = true;
    } else if (!*has_second || engine_cand_cmp(en, cand, second) < 0) {
        *second = *cand;
        *has_second = true;
    }
}

/* The early rejection found no cluster with room, but some room is reserved: the
 * per-cluster reason of the clusters whose reservations hold it, as the walk (and
 * explain) would give it, so the queue says "reserved" where explain does. Walks only
 * the clusters holding such room. Returns false when none of them says reserved. */
static bool reserved_why(struct cycle *cy, size_t j, struct policy_why *out)
{
    struct engine *en = cy->en;
    const struct engine_job *ej = &en->jobs[j];
    bool got = false;

    for (size_t c = 0; c < en->n_clusters; c++) {
        bool held = false;
        struct engine_cand cand;
        struct policy_why w;

        if (en->cl_block[c].reason != POLICY_REASON_NONE)
            continue;
        for (int o = 0; o < ej->n_opts && !held; o++) {
            struct engine_group *G = engine_group_of(en, c, SNAPSHOT_POOL_TRAINING, ej->opts[o]);

            held = cy->quota_ok[o] && G->n_reserved &&
                   engine_slots_unreserved(en, G, ej->per_worker) >= ej->workers;
        }
        if (!held)
            continue;
        memset(&cand, 0, sizeof(cand));
        if (engine_eval_cluster(en, j, (int)c, cy->quota_ok, false, false, &cand, &w, NULL, NULL,
                                0))
            continue;
        if (w.reason == POLICY_REASON_RESERVED && (!got || engine_why_better(&w, out))) {
            *out = w;
            got = true;
        }
    }
    return got;
}

static void decide_job(struct cycle *cy, size_t j)
{
    struct engine *en = cy->en;
    const struct policy_job *job = &en->in->queue[j];
    const struct engine_job *ej = &en->jobs[j];
    struct policy_why why, qwhy;
    bool any_quota = false, possible = false, never = true, held = false;
    int best_have = 0, best_empty = 0, blk = 0, blk_c = -1, blocked_c = -1, res = 0;
    int open_empty = 0, idle_blocked_c = -1, gpu_empty = 0;
    int64_t since = job->queued_ms ? job->queued_ms : job->created_ms;
    bool may_reserve = cy->n_reservations < en->cfg->max_reservations &&
                       en->now - since >= en->cfg->reserve_after_s * 1000;

    memset(&why, 0, sizeof(why));
    why.cluster = -1;
    why.sku = -1;
    if (ej->invalid) {
        why.reason = ej->invalid;
        why.need = job->gpu_count;
        why.per_worker = ej->per_worker;
        add_pending(cy, j, &why, false);
        return;
    }
    if (en->n_clusters == 0) {
        why.reason = POLICY_REASON_NO_CLUSTERS;
        add_pending(cy, j, &why, false);
        return;
    }
    if (ej->has_aff && ej->n_aff == 0) {
        /* Not "the first member is not in its affinity": none is, which the owner fixes. */
        why.reason = POLICY_REASON_AFFINITY;
        why.only = true;
        add_pending(cy, j, &why, false);
        return;
    }
    memset(&qwhy, 0, sizeof(qwhy));
    for (int o = 0; o < ej->n_opts; o++) {
        struct policy_why w;

        cy->quota_ok[o] = engine_quota_check(en, ej->ns, ej->opts[o], job->gpu_count,
                                             job->preemptible, &cy->over[o], &w) == 0;
        any_quota = any_quota || cy->quota_ok[o];
        if (!cy->quota_ok[o] && qwhy.reason == POLICY_REASON_NONE)
            qwhy = w;
    }
    if (!any_quota) {
        /* Its own namespace's lower-priority jobs may give the quota back. */
        if (may_preempt(cy, j, SITE_OWN_QUOTA)) {
            cy->n_own_quota++;
            if (preempt_for(cy, j, &qwhy, SITE_OWN_QUOTA))
                return;
        }
        add_pending(cy, j, &qwhy, false);
        return;
    }
    /* Early rejection: when no cluster has the room in whole-worker slots, the job cannot
     * be placed whatever the other rules say, so skip the per-cluster walk. */
    for (int o = 0; o < ej->n_opts && !possible; o++) {
        int k = ej->opts[o], s;

        if (!cy->quota_ok[o])
            continue;
        s = global_slots(en, SNAPSHOT_POOL_TRAINING, k, ej->per_worker, &blk, &blk_c, &res);
        held = held || res >= ej->workers;
        if (s > best_have || why.sku < 0) {
            best_have = s > best_have ? s : best_have;
            why.sku = k;
        }
        if (blk >= ej->workers && blocked_c < 0)
            blocked_c = blk_c;
        possible = s >= ej->workers;
        s = global_slots_empty(en, j, SNAPSHOT_POOL_TRAINING, k, &gpu_empty, &open_empty,
                               &idle_blocked_c);
        best_empty = s > best_empty ? s : best_empty;
        never = never && s < ej->workers;
        if (job->preemptible) {
            possible = possible || global_slots(en, SNAPSHOT_POOL_SERVING, k, ej->per_worker, &blk,
                                                &blk_c, NULL) >= ej->workers;
            if (blk >= ej->workers && blocked_c < 0)
                blocked_c = blk_c;
            s = global_slots_empty(en, j, SNAPSHOT_POOL_SERVING, k, &gpu_empty, &open_empty,
                                   &idle_blocked_c);
            best_empty = s > best_empty ? s : best_empty;
            never = never && s < ej->workers;
        }
    }
    if (!possible && blocked_c >= 0) {
        /* Room only where placements are not accepted: that cluster's state is the reason,
         * as the per-cluster walk would also conclude. */
        struct policy_why w = en->cl_block[blocked_c];

        w.room = true;
        w.only = open_empty < ej->workers;
        add_pending(cy, j, &w, false);
        return;
    }
    if (!possible && open_empty < ej->workers && idle_blocked_c >= 0) {
        /* No cluster that takes placements could hold it even idle, and one that takes none
         * could: waiting for capacity would be waiting for ever, its state is the reason. */
        struct policy_why w = en->cl_block[idle_blocked_c];

        w.only = true;
        add_pending(cy, j, &w, false);
        return;
    }
    if (!possible && never && !job->preemptible && serving_would_hold(cy, j, &why)) {
        add_pending(cy, j, &why, false);
        return;
    }
    if (!possible && (never || !may_reserve)) {
        why.reason = never ? POLICY_REASON_NEVER_FITS : POLICY_REASON_INSUFFICIENT;
        why.workers = ej->workers;
        why.per_worker = ej->per_worker;
        why.need = job->gpu_count;
        why.have = never ? best_empty : best_have;
        why.aff = never && ej->has_aff;
        if (never && gpu_empty >= ej->workers) {
            /* The GPUs would be there: a worker's CPU or memory is what never fits. */
            why.cpu_m = ej->cpu;
            why.mem_mib = ej->mem;
        }
        if (never)
            count_down(en, ej, why.sku, job->preemptible, &why);
        if (!never && held)
            reserved_why(cy, j, &why);
        if (!never && may_preempt(cy, j, SITE_PRIORITY)) {
            cy->n_reservations++;
            if (preempt_for(cy, j, &why, SITE_PRIORITY))
                return;
        }
        add_pending(cy, j, &why, false);
        return;
    }
    {
        struct engine_cand best, second, cand;
        bool found = false, has_second = false, capacity;
        int n_cand = 0;
        struct policy_why sum;

        memset(&sum, 0, sizeof(sum));
        memset(&best, 0, sizeof(best));
        memset(&second, 0, sizeof(second));
        memset(&cand, 0, sizeof(cand));
        sum.cluster = -1;
        /* The clusters where the job's starts timed out come last (a second pass): only when
         * no other takes it now (their results are then the summary's, as any cluster's). */
        for (size_t x = 0; x < (ej->n_avoid ? 2 : 1) * en->n_clusters && possible; x++) {
            size_t c = x % en->n_clusters;
            bool later = x >= en->n_clusters;
            struct policy_why w;

            if (ej->n_avoid && (engine_job_avoids(en, ej, (int)c) != later || (later && found)))
                continue;
            if (engine_eval_cluster(en, j, (int)c, cy->quota_ok, true, false, &cand, &w, NULL, NULL,
                                    0)) {
                n_cand++;
                keep_best(en, &cand, &best, &found, &second, &has_second);
            } else if (engine_why_better(&w, &sum)) {
                sum = w;
            }
        }
        if (found) {
            place(cy, j, &best, &second, has_second, n_cand);
            return;
        }
        if (!possible) {
            /* Reached only to reserve: the summary is the early-rejection one. */
            sum = why;
            sum.reason = POLICY_REASON_INSUFFICIENT;
            sum.workers = ej->workers;
            sum.per_worker = ej->per_worker;
            sum.need = job->gpu_count;
            sum.have = best_have;
            if (held)
                reserved_why(cy, j, &sum);
        }
        if (sum.reason == POLICY_REASON_NONE) {
            sum.reason = POLICY_REASON_INSUFFICIENT;
            sum.need = job->gpu_count;
        }
        /* Attempts count, not successes: a queue of jobs that cannot reserve anything must
         * not each walk every cluster. */
        capacity = sum.reason == POLICY_REASON_INSUFFICIENT ||
                   sum.reason == POLICY_REASON_RESERVED ||
                   sum.reason == POLICY_REASON_NODE_RESOURCES;
        if (capacity && (may_reserve || may_preempt(cy, j, SITE_PRIORITY))) {
            cy->n_reservations++;
            if (may_reserve && en->cfg->quota_reclaim && quota_reclaim_for(cy, j)) {
                add_pending(cy, j, &sum, true);
                cy->r->pending[cy->r->n_pending - 1].reclaiming = true;
                return;
            }
            if (preempt_for(cy, j, &sum, SITE_PRIORITY))
                return;
            if (may_reserve && reserve_for(cy, j)) {
                if (!evict_for(cy, j, &sum))
                    add_pending(cy, j, &sum, true);
                return;
            }
        }
        add_pending(cy, j, &sum, false);
    }
}

/* Namespaces of one priority level are served lowest share first; a min-heap over the
 * namespaces' runs in the sorted order, keyed by (share, namespace index). */
struct ns_run {
    int ns;
    size_t pos, end;
};

static bool run_less(const struct engine *en, const struct ns_run *a, const struct ns_run *b)
{
    double sa = a->ns >= 0 ? en->ns_share[a->ns] : 0, sb = b->ns >= 0 ? en->ns_share[b->ns] : 0;

    if (sa != sb)
        return sa < sb;
    return a->ns < b->ns;
}

static void heap_push(const struct engine *en, struct ns_run *h, size_t *n, struct ns_run x)
{
    size_t i = (*n)++;

    h[i] = x;
    while (i > 0 && run_less(en, &h[i], &h[(i - 1) / 2])) {
        struct ns_run t = h[i];

        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static struct ns_run heap_pop(const struct engine *en, struct ns_run *h, size_t *n)
{
    struct ns_run top = h[0];
    size_t i = 0;

    h[0] = h[--(*n)];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;

        if (l < *n && run_less(en, &h[l], &h[m]))
            m = l;
        if (r < *n && run_less(en, &h[r], &h[m]))
            m = r;
        if (m == i)
            break;
        {
            struct ns_run t = h[i];

            h[i] = h[m];
            h[m] = t;
        }
        i = m;
    }
    return top;
}

/* Backfill: the free GPUs of nodes held by plain reservations go, for the rest of the
 * cycle, to the pending jobs that would give way to every holder (preemptible, of no
 * higher priority), in queue order; the holders evict them once the rest of their nodes'
 * work has ended (evict_for). A reservation then costs the work lost since the
 * backfillers' last checkpoints, not idle GPUs. */
static void backfill(struct cycle *cy)
{
    struct engine *en = cy->en;
    const struct policy_input *in = en->in;
    struct policy_result *r = cy->r;
    bool *plain = xcalloc(in->n_queue + 1, sizeof(*plain));
    size_t *nodes = xcalloc(en->s->n_nodes + 1, sizeof(*nodes));
    size_t *holder = xcalloc(en->s->n_nodes + 1, sizeof(*holder));
    size_t nn = 0, out = 0;
    int64_t min_prio = INT64_MAX;
    bool *drop = xcalloc(r->n_pending + 1, sizeof(*drop));
    bool *placed = xcalloc(in->n_queue + 1, sizeof(*placed));

    for (size_t p = 0; p < r->n_pending; p++)
        if (r->pending[p].reserving && !r->pending[p].preempting && !r->pending[p].reclaiming)
            plain[r->pending[p].job] = true;
    for (size_t i = 0; i < en->s->n_nodes; i++) {
        size_t h = en->reserved_by[i];

        if (!h || !plain[h - 1])
            continue;
        if (in->queue[h - 1].priority < min_prio)
            min_prio = in->queue[h - 1].priority;
        holder[nn] = engine_unreserve(en, i);
        nodes[nn++] = i;
    }
    for (size_t p = 0; p < r->n_pending && nn > 0; p++) {
        size_t j = r->pending[p].job;
        const struct policy_job *job = &in->queue[j];
        const struct engine_job *ej = &en->jobs[j];
        enum policy_reason why = r->pending[p].why.reason;
        struct engine_cand best, second, cand;
        bool found = false, has_second = false, any = false;
        int n_cand = 0;

        if (!job->preemptible || job->priority > min_prio || r->pending[p].preempting ||
            r->pending[p].reclaiming || ej->invalid ||
            (why != POLICY_REASON_INSUFFICIENT && why != POLICY_REASON_RESERVED &&
             why != POLICY_REASON_NODE_RESOURCES))
            continue;
        for (int o = 0; o < ej->n_opts; o++) {
            struct policy_why w;

            cy->quota_ok[o] = engine_quota_check(en, ej->ns, ej->opts[o], job->gpu_count,
                                                 job->preemptible, &cy->over[o], &w) == 0;
            if (cy->quota_ok[o]) {
                int blk, blk_c;

                any = any || global_slots(en, SNAPSHOT_POOL_TRAINING, ej->opts[o], ej->per_worker,
                                          &blk, &blk_c, NULL) >= ej->workers;
            }
        }
        if (!any)
            continue;
        memset(&best, 0, sizeof(best));
        memset(&second, 0, sizeof(second));
        memset(&cand, 0, sizeof(cand));
        for (size_t c = 0; c < en->n_clusters; c++) {
            struct policy_why w;

            if (!engine_eval_cluster(en, j, (int)c, cy->quota_ok, true, false, &cand, &w, NULL,
                                     NULL, 0))
                continue;
            n_cand++;
            keep_best(en, &cand, &best, &found, &second, &has_second);
        }
        if (found) {
            struct policy_state *st = cy->st;

            place(cy, j, &best, &second, has_second, n_cand);
            drop[p] = true;
            placed[j] = true;
            /* Only placements in training capacity give way to reservations. */
            if (best.pool != SNAPSHOT_POOL_TRAINING)
                continue;
            if (st->n_backfill == st->cap_backfill) {
                st->cap_backfill = st->cap_backfill ? st->cap_backfill * 2 : 16;
                st->backfill = xrealloc(st->backfill, st->cap_backfill * sizeof(*st->backfill));
            }
            st->backfill[st->n_backfill++] = job->id;
        }
    }
    /* The holders still waiting keep their nodes, for explanations. */
    for (size_t i = 0; i < nn; i++)
        if (!placed[holder[i] - 1])
            engine_reserve(en, nodes[i], holder[i] - 1);
    for (size_t p = 0; p < r->n_pending; p++) {
        if (drop[p])
            continue;
        r->pending[out] = r->pending[p];
        cy->v_first[out] = cy->v_first[p];
        out++;
    }
    r->n_pending = out;
    free(drop);
    free(placed);
    free(plain);
    free(nodes);
    free(holder);
}

static void run_queue(struct cycle *cy)
{
    struct engine *en = cy->en;
    size_t n = en->in->n_queue;
    struct order_item *ord = xcalloc(n + 1, sizeof(*ord));
    struct ns_run *heap = xcalloc(n + 1, sizeof(*heap));

    for (size_t j = 0; j < n; j++) {
        const struct policy_job *job = &en->in->queue[j];

        ord[j].eff = en->jobs[j].eff_prio;
        ord[j].ns = en->jobs[j].ns;
        ord[j].queued = job->queued_ms ? job->queued_ms : job->created_ms;
        ord[j].created = job->created_ms;
        ord[j].id = job->id;
        ord[j].j = j;
    }
    qsort(ord, n, sizeof(*ord), cmp_order);
    for (size_t lo = 0; lo < n;) {
        size_t hi = lo, nh = 0;

        while (hi < n && ord[hi].eff == ord[lo].eff)
            hi++;
        for (size_t a = lo; a < hi;) {
            size_t b = a;

            while (b < hi && ord[b].ns == ord[a].ns)
                b++;
            heap_push(en, heap, &nh, (struct ns_run){ord[a].ns, a, b});
            a = b;
        }
        while (nh > 0) {
            struct ns_run run = heap_pop(en, heap, &nh);

            decide_job(cy, ord[run.pos].j);
            run.pos++;
            if (run.pos < run.end)
                heap_push(en, heap, &nh, run);
        }
        lo = hi;
    }
    free(ord);
    free(heap);
}

/* Keeps the nodes reserved at the end of this cycle, with their holders, in st->reserved
 * for the next cycle's evict_for(). */
static void record_reserved(const struct engine *en, struct policy_state *st)
{
    st->n_reserved = 0;
    for (size_t n = 0; n < en->s->n_nodes; n++) {
        if (!en->reserved_by[n])
            continue;
        if (st->n_reserved == st->cap_reserved) {
            st->cap_reserved = st->cap_reserved ? st->cap_reserved * 2 : 16;
            st->reserved = xrealloc(st->reserved, st->cap_reserved * sizeof(*st->reserved));
        }
        st->reserved[st->n_reserved++] =
            engine_reserve_key(en, n, en->in->queue[en->reserved_by[n] - 1].id);
    }
    if (st->n_reserved > 1)
        qsort(st->reserved, st->n_reserved, sizeof(*st->reserved), engine_cmp_u64);
}

int policy_decide(const struct policy_input *in, struct policy_state *st,
                  struct policy_result **out, struct err *e)
{
    struct policy_result *r = NULL;
    struct engine *en = NULL;
    struct cycle cy;

    if (!in || !in->snap || !in->cfg || !st)
        return err_set(e, ERR_INVALID, "input", "policy_decide needs a snapshot, config and state");
    if (policy_config_validate(in->cfg, e))
        return -1;
    if (snapshot_validate(in->snap, e))
        return -1;
    update_usage(st, in);
    en = xcalloc(1, sizeof(*en));
    if (engine_build(en, in, st, e)) {
        free(en);
        return -1;
    }
    r = xcalloc(1, sizeof(*r));
    r->pending = xcalloc(in->n_queue + 1, sizeof(*r->pending));
    reclaim_run(en, st, r);
    memset(&cy, 0, sizeof(cy));
    cy.en = en;
    cy.r = r;
    cy.quota_ok = xcalloc(1 + POLICY_ALT_SKUS_MAX, sizeof(bool));
    cy.over = xcalloc(1 + POLICY_ALT_SKUS_MAX, sizeof(bool));
    cy.st = st;
    cy.v_first = xcalloc(in->n_queue + 1, sizeof(*cy.v_first));
    cy.avail = xcalloc(in->snap->n_nodes + 1, sizeof(*cy.avail));
    cy.run_backfill = xcalloc(in->n_running + 1, sizeof(*cy.run_backfill));
    {
        /* Backfilled jobs that still run keep their mark; the others leave the record. */
        size_t keep = 0;
        bool *seen = xcalloc(st->n_backfill + 1, sizeof(*seen));

        for (size_t x = 0; x < in->n_running; x++) {
            uint64_t id = in->running[x].id;
            uint64_t *f = st->n_backfill ? bsearch(&id, st->backfill, st->n_backfill,
                                                   sizeof(*st->backfill), engine_cmp_u64)
                                         : NULL;

            if (f) {
                cy.run_backfill[x] = true;
                seen[f - st->backfill] = true;
            }
        }
        for (size_t x = 0; x < st->n_backfill; x++)
            if (seen[x])
                st->backfill[keep++] = st->backfill[x];
        st->n_backfill = keep;
        free(seen);
    }
    cy.held = xcalloc(in->snap->n_nodes + 1, sizeof(*cy.held));
    prepare_quota_reclaim(&cy);
    run_queue(&cy);
    backfill(&cy);
    if (st->n_backfill > 1)
        qsort(st->backfill, st->n_backfill, sizeof(*st->backfill), engine_cmp_u64);
    record_reserved(en, st);
    free(cy.run_backfill);
    free(cy.avail);
    free(cy.held);
    free_quota_reclaim(&cy);
    r->victims = cy.victims;
    r->n_victims = cy.n_victims;
    for (size_t p = 0; p < r->n_pending; p++)
        if (r->pending[p].preempting)
            r->pending[p].victims = r->victims + cy.v_first[p];
    free(cy.v_first);
    for (size_t p = 0; p < r->n_placements; p++)
        r->placements[p].workers = cy.workers + cy.w_first[p];
    /* The workers arena is reached through the first placement; policy_result_free()
     * releases it there. */
    if (r->n_placements == 0)
        free(cy.workers);
    r->residual = (struct policy_residual *)en;
    free(cy.w_first);
    free(cy.quota_ok);
    free(cy.over);
    *out = r;
    return 0;
}

void policy_result_free(struct policy_result **r)
{
    struct engine *en;

    if (!r || !*r)
        return;
    if ((*r)->n_placements > 0)
        free((*r)->placements[0].workers);
    free((*r)->placements);
    free((*r)->pending);
    free((*r)->reclaims);
    free((*r)->pools);
    free((*r)->victims);
    en = (struct engine *)(*r)->residual;
    engine_free(en);
    free(en);
    free(*r);
    *r = NULL;
}

size_t policy_quotas_resolve(const struct snapshot *snap, const struct policy_quota_spec *specs,
                             size_t n, struct policy_quota *out)
{
    size_t used = 0;

    for (size_t i = 0; i < n; i++) {
        int sku = snapshot_sku_find(snap, specs[i].sku);

        if (sku < 0)
            continue; /* no node of that SKU anywhere now: nothing to ration */
        out[used].ns = specs[i].ns;
        out[used].sku = sku;
        out[used].nominal = specs[i].nominal;
        out[used].borrowing_limit = specs[i].borrowing_limit;
        out[used].lending_limit = specs[i].lending_limit;
        used++;
    }
    return used;
}
