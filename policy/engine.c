/* engine.c -- the working state of a decision cycle: free-count buckets per cluster x
 * pool x SKU, quota and fair-share tables, and the evaluation of a job on a cluster. */
#include "policy/engine.h"

#include "base/err.h"
#include "base/hash.h"
#include "base/job.h"
#include "base/mem.h"
#include "policy/nodefit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string maps (open addressing, FNV-1a) ------------------------------------------ */

static void strmap_build(struct engine_strmap *m, const char *const *names, size_t n)
{
    size_t size = 16;

    while (size < n * 2 + 1)
        size *= 2;
    m->slots = xcalloc(size, sizeof(*m->slots));
    m->mask = size - 1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)hash_fnv1a_str(names[i]) & m->mask;

        while (m->slots[h]) {
            if (strcmp(names[m->slots[h] - 1], names[i]) == 0)
                break; /* duplicate name: the first one wins */
            h = (h + 1) & m->mask;
        }
        if (!m->slots[h])
            m->slots[h] = i + 1;
    }
}

long engine_strmap_find(const struct engine_strmap *m, const char *const *names, const char *key)
{
    size_t h;

    if (!m->slots || !key)
        return -1;
    h = (size_t)hash_fnv1a_str(key) & m->mask;
    while (m->slots[h]) {
        if (strcmp(names[m->slots[h] - 1], key) == 0)
            return (long)(m->slots[h] - 1);
        h = (h + 1) & m->mask;
    }
    return -1;
}

/* ---- buckets ------------------------------------------------------------------------ */

static void bucket_add(struct engine_group *G, size_t pos, int f)
{
    G->bits[(size_t)f * G->words + pos / 64] |= 1ULL << (pos % 64);
    G->cnt[f]++;
}

static void bucket_del(struct engine_group *G, size_t pos, int f)
{
    G->bits[(size_t)f * G->words + pos / 64] &= ~(1ULL << (pos % 64));
    G->cnt[f]--;
}

struct engine_group *engine_group_of(struct engine *en, size_t c, enum snapshot_pool p, int k)
{
    return &en->groups[(c * SNAPSHOT_POOL_COUNT + (size_t)p) * en->n_skus + (size_t)k];
}

static void bump(struct engine *en, struct engine_group *G)
{
    G->ver++;
    en->gver[(size_t)G->pool * en->n_skus + (size_t)G->sku]++;
}

int engine_slots(struct engine_group *G, int g, bool readonly)
{
    int slots = 0;

    if (g <= 0)
        return 0;
    if (g < ENGINE_SLOT_CACHE && G->slot_ver[g] == G->ver + 1)
        return G->slot_cache[g];
    for (int f = g; f <= G->maxf; f++)
        slots += G->cnt[f] * (f / g);
    if (!readonly && g < ENGINE_SLOT_CACHE) {
        G->slot_cache[g] = slots;
        G->slot_ver[g] = G->ver + 1;
    }
    return slots;
}

int engine_nodes_with(const struct engine_group *G, int g)
{
    int n = 0;

    for (int f = g > 0 ? g : 1; f <= G->maxf; f++)
        n += G->cnt[f];
    return n;
}

static int slots_empty_scan(const struct engine *en, const struct engine_group *G, int g)
{
    int slots = 0;

    for (size_t i = 0; i < G->n; i++) {
        const struct snapshot_node *n = &en->s->nodes[G->nodes[i]];

        if (n->schedulable && n->allocatable > 0)
            slots += n->allocatable / g;
    }
    return slots;
}

int engine_slots_empty(const struct engine *en, const struct engine_group *G, int g)
{
    if (g <= 0)
        return 0;
    if (g < ENGINE_SLOT_CACHE && (G->empty_known & (1U << g)))
        return G->empty_cache[g];
    return slots_empty_scan(en, G, g);
}

int engine_slots_unreserved(const struct engine *en, const struct engine_group *G, int g)
{
    int slots = 0;

    if (g <= 0)
        return 0;
    for (int f = g; f <= G->maxf; f++)
        slots += G->cnt[f] * (f / g);
    for (size_t i = 0; i < G->n && G->n_reserved; i++)
        if (en->reserved_by[G->nodes[i]])
            slots += en->nfree[G->nodes[i]] / g;
    return slots;
}

/* Names in w the job holding a reservation on G's nodes (none when no node is reserved)
 * when it is of job's namespace; of another, only that it is: a tenant learns nothing of the
 * others' jobs (docs/security.md). */
static void reserved_holder(const struct engine *en, const struct engine_group *G, size_t job,
                            struct policy_why *w)
{
    for (size_t i = 0; i < G->n; i++) {
        size_t j = en->reserved_by[G->nodes[i]];

        if (!j)
            continue;
        if (en->jobs[j - 1].ns == en->jobs[job].ns) {
            w->by_ns = en->in->queue[j - 1].ns;
            w->by_name = en->in->queue[j - 1].name;
        } else {
            w->by_other_ns = true;
        }
        return;
    }
}

long engine_take(struct engine *en, struct engine_group *G, size_t j, bool scored, bool track,
                 struct nodefit_eval *ev)
{
    const struct engine_job *ej = &en->jobs[j];
    int g = ej->per_worker, seen = 0, best_f = 0;
    long best = -1;
    bool rated = false;
    struct nodefit_eval be, e1;

    memset(&be, 0, sizeof(be));
    for (int f = g; f <= G->maxf && seen < ENGINE_FIT_CANDIDATES; f++) {
        const uint64_t *words = &G->bits[(size_t)f * G->words];

        for (size_t i = 0; G->cnt[f] && i < G->words && seen < ENGINE_FIT_CANDIDATES; i++) {
            for (uint64_t b = words[i]; b && seen < ENGINE_FIT_CANDIDATES; b &= b - 1) {
                size_t pos = i * 64 + (size_t)__builtin_ctzll(b), node = G->nodes[pos];

                if (en->ncpu[node] < ej->cpu || en->nmem[node] < ej->mem)
                    continue;
                seen++;
                if (best < 0) {
                    best = (long)pos;
                    best_f = f;
                    rated = scored && engine_fit_score(en, node, j, &be);
                    if (!rated)
                        goto found; /* best fit decides */
                } else if (engine_fit_score(en, node, j, &e1) && nodefit_eval_cmp(&e1, &be) < 0) {
                    be = e1;
                    best = (long)pos;
                    best_f = f;
                }
            }
        }
    }
found:
    if (best < 0)
        return -1;
    {
        size_t node = G->nodes[best];

        bucket_del(G, (size_t)best, best_f);
        bucket_add(G, (size_t)best, best_f - g);
        en->nfree[node] -= g;
        engine_node_use(en, node, j, 1);
        if (track)
            bump(en, G);
        if (ev)
            *ev = be;
        return (long)node;
    }
}

void engine_give(struct engine *en, size_t node, size_t j, bool track)
{
    struct engine_group *G = &en->groups[en->ngroup[node]];
    int f = en->nfree[node], g = en->jobs[j].per_worker;

    en->nfree[node] = f + g;
    engine_node_use(en, node, j, -1);
    if (en->reserved_by[node])
        return;
    bucket_del(G, en->npos[node], f);
    bucket_add(G, en->npos[node], f + g);
    if (track)
        bump(en, G);
}

void engine_reserve(struct engine *en, size_t node, size_t j)
{
    struct engine_group *G;

    if (en->ngroup[node] < 0 || en->reserved_by[node])
        return;
    G = &en->groups[en->ngroup[node]];
    bucket_del(G, en->npos[node], en->nfree[node]);
    en->reserved_by[node] = j + 1;
    G->n_reserved++;
    bump(en, G);
}

size_t engine_unreserve(struct engine *en, size_t node)
{
    struct engine_group *G;
    size_t holder = en->reserved_by[node];

    if (!holder || en->ngroup[node] < 0)
        return 0;
    G = &en->groups[en->ngroup[node]];
    en->reserved_by[node] = 0;
    G->n_reserved--;
    bucket_add(G, en->npos[node], en->nfree[node]);
    bump(en, G);
    return holder;
}

/* Takes gpus from a node outside the buckets' normal flow (in-flight plans). */
static void node_consume(struct engine *en, size_t node, int gpus)
{
    struct engine_group *G;
    int f = en->nfree[node];
    int nf = f - gpus < 0 ? 0 : f - gpus;

    if (en->ngroup[node] < 0) {
        en->nfree[node] = nf;
        return;
    }
    G = &en->groups[en->ngroup[node]];
    bucket_del(G, en->npos[node], f);
    bucket_add(G, en->npos[node], nf);
    en->nfree[node] = nf;
}

/* ---- build ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void build_clusters(struct engine *en)
{
    const struct snapshot *s = en->s;
    const struct policy_config *cfg = en->cfg;

    en->cl_block = xcalloc(en->n_clusters + 1, sizeof(*en->cl_block));
    en->cl_age_s = xcalloc(en->n_clusters + 1, sizeof(*en->cl_age_s));
    en->tz = xcalloc(en->n_clusters + 1, sizeof(*en->tz));
    en->tz_bad = xcalloc(en->n_clusters + 1, sizeof(*en->tz_bad));
    en->cl_names = xcalloc(en->n_clusters + 1, sizeof(*en->cl_names));
    for (size_t c = 0; c < en->n_clusters; c++) {
        const struct snapshot_cluster *cl = &s->clusters[c];
        struct policy_why *w = &en->cl_block[c];
        int64_t age_ms = cl->last_poll_ms > 0 ? en->now - cl->last_poll_ms : INT64_MAX / 2;

        en->cl_names[c] = cl->name;
        en->cl_age_s[c] = age_ms < 0 ? 0 : age_ms / 1000;
        w->cluster = (int)c;
        w->sku = -1;
        if (cl->cordoned)
            w->reason = POLICY_REASON_CORDONED;
        else if (cl->health != SNAPSHOT_HEALTH_READY &&
                 !(cl->health == SNAPSHOT_HEALTH_DEGRADED && cfg->place_on_degraded))
            w->reason = POLICY_REASON_UNHEALTHY;
        else if (cl->last_poll_ms <= 0 || age_ms > cfg->max_data_age_s * 1000)
            w->reason = POLICY_REASON_STALE;
        w->value = cl->last_poll_ms > 0 ? en->cl_age_s[c] : -1;
        w->have = (int)cl->health;
        if (tz_parse(cl->tz, &en->tz[c], NULL))
            en->tz_bad[c] = true;
    }
    strmap_build(&en->cl_map, en->cl_names, en->n_clusters);
}

static void build_groups(struct engine *en)
{
    const struct snapshot *s = en->s;
    size_t *fill;

    en->n_groups = en->n_clusters * SNAPSHOT_POOL_COUNT * en->n_skus;
    en->groups = xcalloc(en->n_groups + 1, sizeof(*en->groups));
    en->nfree = xcalloc(s->n_nodes + 1, sizeof(*en->nfree));
    en->npos = xcalloc(s->n_nodes + 1, sizeof(*en->npos));
    en->ngroup = xcalloc(s->n_nodes + 1, sizeof(*en->ngroup));
    en->reserved_by = xcalloc(s->n_nodes + 1, sizeof(*en->reserved_by));
    fill = xcalloc(en->n_groups + 1, sizeof(*fill));
    for (size_t c = 0; c < en->n_clusters; c++) {
        const struct snapshot_cluster *cl = &s->clusters[c];

        for (size_t i = cl->node_first; i < cl->node_first + cl->n_nodes; i++) {
            const struct snapshot_node *n = &s->nodes[i];
            struct engine_group *G;

            en->ngroup[i] = -1;
            en->nfree[i] = snapshot_node_free(n);
            if (n->sku < 0)
                continue;
            G = engine_group_of(en, c, n->pool, n->sku);
            en->ngroup[i] = (int32_t)(G - en->groups);
            G->n++;
            if (n->allocatable > G->maxf)
                G->maxf = n->allocatable;
        }
    }
    for (size_t gi = 0; gi < en->n_groups; gi++) {
        struct engine_group *G = &en->groups[gi];

        G->sku = (int)(gi % en->n_skus);
        G->pool = (int)((gi / en->n_skus) % SNAPSHOT_POOL_COUNT);
        G->nodes = xcalloc(G->n + 1, sizeof(*G->nodes));
        G->words = (G->n + 63) / 64;
        if (!G->words)
            G->words = 1;
        G->bits = xcalloc((size_t)(G->maxf + 1) * G->words, sizeof(*G->bits));
        G->cnt = xcalloc((size_t)G->maxf + 1, sizeof(*G->cnt));
        G->ver = 1;
    }
    for (size_t i = 0; i < s->n_nodes; i++) {
        struct engine_group *G;
        size_t pos;

        if (en->ngroup[i] < 0)
            continue;
        G = &en->groups[en->ngroup[i]];
        pos = fill[en->ngroup[i]]++;
        G->nodes[pos] = i;
        en->npos[i] = (uint32_t)pos;
        bucket_add(G, pos, en->nfree[i]);
    }
    free(fill);
    for (size_t gi = 0; gi < en->n_groups; gi++) {
        struct engine_group *G = &en->groups[gi];

        for (int g = 1; g < ENGINE_SLOT_CACHE; g++) {
            G->empty_cache[g] = slots_empty_scan(en, G, g);
            G->empty_known |= 1U << g;
        }
    }
}

static long node_in_cluster(const struct engine *en, size_t c, const char *name)
{
    const struct snapshot_cluster *cl = &en->s->clusters[c];

    for (size_t i = cl->node_first; i < cl->node_first + cl->n_nodes; i++)
        if (strcmp(en->s->nodes[i].name, name) == 0)
            return (long)i;
    return -1;
}

static void apply_inflight(struct engine *en)
{
    const struct policy_input *in = en->in;

    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];
        long c;

        if (ru->in_snapshot || !ru->plan)
            continue;
        c = engine_strmap_find(&en->cl_map, en->cl_names, ru->cluster);
        if (c < 0)
            continue;
        for (size_t p = 0; p < ru->n_plan; p++) {
            long node = ru->plan[p].node ? node_in_cluster(en, (size_t)c, ru->plan[p].node) : -1;

            if (node >= 0 && ru->plan[p].gpus > 0) {
                int64_t workers = policy_plan_workers(ru, p);

                node_consume(en, (size_t)node, ru->plan[p].gpus);
                engine_node_take_resources(en, (size_t)node, workers * ru->cpu_m_per_worker,
                                           workers * ru->mem_mib_per_worker);
            }
        }
    }
}

static void build_namespaces(struct engine *en, const struct policy_state *st)
{
    const struct policy_input *in = en->in;
    size_t n =
        in->n_queue + in->n_running + in->n_quotas + in->n_namespaces + (st ? st->n_usage : 0);
    const char **all = xcalloc(n + 1, sizeof(*all));
    size_t m = 0, u = 0;

    for (size_t i = 0; i < in->n_queue; i++)
        all[m++] = in->queue[i].ns ? in->queue[i].ns : "";
    for (size_t i = 0; i < in->n_running; i++)
        all[m++] = in->running[i].ns ? in->running[i].ns : "";
    for (size_t i = 0; i < in->n_quotas; i++)
        all[m++] = in->quotas[i].ns ? in->quotas[i].ns : "";
    for (size_t i = 0; i < in->n_namespaces; i++)
        all[m++] = in->namespaces[i].ns ? in->namespaces[i].ns : "";
    for (size_t i = 0; st && i < st->n_usage; i++)
        all[m++] = st->usage[i].ns;
    qsort(all, m, sizeof(*all), cmp_str);
    for (size_t i = 0; i < m; i++)
        if (u == 0 || strcmp(all[u - 1], all[i]) != 0)
            all[u++] = all[i];
    en->ns_names = all;
    en->n_ns = u;
    strmap_build(&en->ns_map, en->ns_names, en->n_ns);
}

static int ns_of(const struct engine *en, const char *ns)
{
    return (int)engine_strmap_find(&en->ns_map, en->ns_names, ns ? ns : "");
}

int engine_cmp_u64(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

    return (a > b) - (a < b);
}

bool engine_id_in(const uint64_t *ids, size_t n, uint64_t id)
{
    return n && bsearch(&id, ids, n, sizeof(*ids), engine_cmp_u64);
}

uint64_t engine_reserve_key(const struct engine *en, size_t node, uint64_t job_id)
{
    /* Groups are laid out cluster by cluster (engine_group_of()). */
    const char *cl = en->cl_names[(size_t)en->ngroup[node] / (SNAPSHOT_POOL_COUNT * en->n_skus)];
    const char *name = en->s->nodes[node].name;
    uint64_t h = hash_fnv1a(HASH_FNV1A_BASIS, &job_id, sizeof(job_id));

    h = hash_fnv1a(h, cl, strlen(cl) + 1);
    return hash_fnv1a(h, name, strlen(name));
}

static void build_fairshare(struct engine *en, const struct policy_state *st)
{
    const struct policy_input *in = en->in;
    size_t K = en->n_skus;
    double hl_h = (double)en->cfg->fair_share_half_life_s / 3600.0;

    en->ns_weight = xcalloc(en->n_ns + 1, sizeof(*en->ns_weight));
    en->ns_share = xcalloc(en->n_ns + 1, sizeof(*en->ns_share));
    en->ns_avg = xcalloc(en->n_ns * K + 1, sizeof(*en->ns_avg));
    en->ns_run = xcalloc(en->n_ns * K + 1, sizeof(*en->ns_run));
    en->sku_cap = xcalloc(K + 1, sizeof(*en->sku_cap));
    for (size_t i = 0; i < en->n_ns; i++)
        en->ns_weight[i] = 1.0;
    for (size_t i = 0; i < in->n_namespaces; i++) {
        int ns = ns_of(en, in->namespaces[i].ns);

        if (ns >= 0 && in->namespaces[i].weight > 0)
            en->ns_weight[ns] = in->namespaces[i].weight;
    }
    for (size_t i = 0; st && i < st->n_usage; i++) {
        int ns = ns_of(en, st->usage[i].ns);

        for (size_t k = 0; ns >= 0 && k < K; k++)
            en->ns_avg[(size_t)ns * K + k] = hl_h > 0 ? st->usage[i].gpu_hours[k] / hl_h : 0.0;
    }
    /* GPUs held now, but not those of backfilled jobs: they run on a reservation's
     * sufferance, and counting them turned two namespaces' order over every cycle (the one
     * with backfilled jobs went second and reserved nothing, its backfilled jobs were
     * evicted for the other's reservations, its share fell, and it went first again). Their
     * GPU-hours still count in the decayed usage. */
    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];
        int ns = ns_of(en, ru->ns);

        if (ns >= 0 && ru->sku >= 0 && (size_t)ru->sku < K && ru->gpus > 0 &&
            !(st && engine_id_in(st->backfill, st->n_backfill, ru->id)))
            en->ns_run[(size_t)ns * K + (size_t)ru->sku] += ru->gpus;
    }
    for (size_t c = 0; c < en->n_clusters; c++)
        for (size_t k = 0; k < K; k++)
            en->sku_cap[k] += snapshot_agg_const(en->s, c, SNAPSHOT_POOL_TRAINING, (int)k)->total;
    for (size_t k = 0; k < K; k++)
        if (en->sku_cap[k] < 1)
            en->sku_cap[k] = 1;
    for (size_t ns = 0; ns < en->n_ns; ns++) {
        double share = 0;

        for (size_t k = 0; k < K; k++) {
            double v = (en->ns_avg[ns * K + k] + en->ns_run[ns * K + k]) / en->sku_cap[k];

            if (v > share)
                share = v;
        }
        en->ns_share[ns] = share / en->ns_weight[ns];
    }
}

static void build_quotas(struct engine *en)
{
    const struct policy_input *in = en->in;
    size_t K = en->n_skus, N = en->n_ns * K;

    en->q_managed = xcalloc(K + 1, sizeof(*en->q_managed));
    en->q_nominal = xcalloc(N + 1, sizeof(int));
    en->q_borrow = xcalloc(N + 1, sizeof(int));
    en->q_lend = xcalloc(N + 1, sizeof(int));
    en->q_usage = xcalloc(N + 1, sizeof(int));
    en->cohort_cap = xcalloc(K + 1, sizeof(int64_t));
    en->cohort_used = xcalloc(K + 1, sizeof(int64_t));
    /* A namespace without a row for a managed SKU has nominal 0, may borrow without limit
     * and has nothing to lend. */
    for (size_t i = 0; i < N; i++)
        en->q_borrow[i] = -1;
    for (size_t i = 0; i < in->n_quotas; i++) {
        const struct policy_quota *q = &in->quotas[i];
        int ns = ns_of(en, q->ns);
        size_t x;

        if (ns < 0 || q->sku < 0 || (size_t)q->sku >= K)
            continue;
        x = (size_t)ns * K + (size_t)q->sku;
        en->q_managed[q->sku] = true;
        en->q_nominal[x] = q->nominal > 0 ? q->nominal : 0;
        en->q_borrow[x] = q->borrowing_limit;
        en->q_lend[x] =
            q->lending_limit < 0
                ? en->q_nominal[x]
                : (q->lending_limit < en->q_nominal[x] ? q->lending_limit : en->q_nominal[x]);
    }
    for (size_t r = 0; r < in->n_running; r++) {
        const struct policy_running *ru = &in->running[r];
        int ns = ns_of(en, ru->ns);

        if (ns >= 0 && ru->sku >= 0 && (size_t)ru->sku < K && ru->gpus > 0)
            en->q_usage[(size_t)ns * K + (size_t)ru->sku] += ru->gpus;
    }
    for (size_t k = 0; k < K; k++) {
        if (!en->q_managed[k])
            continue;
        for (size_t ns = 0; ns < en->n_ns; ns++) {
            size_t x = ns * K + k;
            int guaranteed = en->q_nominal[x] - en->q_lend[x];
            int above = en->q_usage[x] - guaranteed;

            en->cohort_cap[k] += en->q_lend[x];
            en->cohort_used[k] += above > 0 ? above : 0;
        }
    }
}

/* The factors that turn a price per GPU-hour into a price per unit of work for a job
 * whose opts[o] has the declared throughput tp[o]: the best throughput over each one, kept
 * in en->wf (ej->wf their offset). Without a finite figure > 0 for every opt, none (-1). */
static void work_factors(struct engine *en, struct engine_job *ej, const double *tp)
{
    double best = 0;

    ej->wf = -1;
    for (int o = 0; o < ej->n_opts; o++) {
        if (!(tp[o] > 0) || !isfinite(tp[o]))
            return;
        if (tp[o] > best)
            best = tp[o];
    }
    if (!(best > 0))
        return; /* no opts */
    if (en->n_wf + (size_t)ej->n_opts > en->cap_wf) {
        en->cap_wf = en->cap_wf * 2 + (size_t)ej->n_opts;
        en->wf = xrealloc(en->wf, en->cap_wf * sizeof(*en->wf));
    }
    ej->wf = (long)en->n_wf;
    for (int o = 0; o < ej->n_opts; o++)
        en->wf[en->n_wf++] = best / tp[o];
}

static void build_jobs(struct engine *en)
{
    const struct policy_input *in = en->in;
    const struct policy_config *cfg = en->cfg;
    int max_workers = 1;

    en->jobs = xcalloc(in->n_queue + 1, sizeof(*en->jobs));
    for (size_t j = 0; j < in->n_queue; j++) {
        const struct policy_job *job = &in->queue[j];
        struct engine_job *ej = &en->jobs[j];
        int64_t since = job->queued_ms ? job->queued_ms : job->created_ms;
        double wait_h = since > 0 && en->now > since ? (double)(en->now - since) / 3.6e6 : 0.0;
        double bonus = floor(cfg->aging_per_hour * wait_h);
        double tp[1 + POLICY_ALT_SKUS_MAX];

        ej->ns = ns_of(en, job->ns);
        ej->cpu = job->cpu_m_per_worker > 0 ? job->cpu_m_per_worker : 0;
        ej->mem = job->mem_mib_per_worker > 0 ? job->mem_mib_per_worker : 0;
        if (job_workers(job->gpu_count, job->gpus_per_worker, &ej->per_worker, &ej->workers)) {
            ej->per_worker = job->gpus_per_worker > 0 ? job->gpus_per_worker : job->gpu_count;
            ej->invalid = POLICY_REASON_INVALID_SPEC;
        }
        if (ej->workers > max_workers)
            max_workers = ej->workers;
        if (job->sku >= 0 && (size_t)job->sku < en->n_skus) {
            tp[ej->n_opts] = job->throughput ? job->throughput[0] : 0;
            ej->opts[ej->n_opts++] = job->sku;
        }
        for (size_t a = 0; a < job->n_alt_skus && a < POLICY_ALT_SKUS_MAX; a++) {
            int k = job->alt_skus[a];
            bool dup = false;

            for (int o = 0; o < ej->n_opts; o++)
                dup = dup || ej->opts[o] == k;
            if (!dup && k >= 0 && (size_t)k < en->n_skus) {
                tp[ej->n_opts] = job->throughput ? job->throughput[1 + a] : 0;
                ej->opts[ej->n_opts++] = k;
            }
        }
        work_factors(en, ej, tp);
        if (!ej->invalid && ej->n_opts == 0)
            ej->invalid = POLICY_REASON_UNKNOWN_SKU;
        if (cfg->aging_max > 0 && bonus > cfg->aging_max)
            bonus = cfg->aging_max;
        ej->eff_prio = (int64_t)job->priority + (int64_t)bonus;
        ej->has_aff = job->n_affinity > 0;
        ej->aff_first = en->n_aff;
        for (size_t a = 0; a < job->n_affinity + job->n_avoid_clusters; a++) {
            const char *name =
                a < job->n_affinity ? job->affinity[a] : job->avoid_clusters[a - job->n_affinity];
            long c = engine_strmap_find(&en->cl_map, en->cl_names, name);

            if (c < 0)
                continue;
            if (en->n_aff == en->cap_aff) {
                en->cap_aff = en->cap_aff ? en->cap_aff * 2 : 256;
                en->aff = xrealloc(en->aff, en->cap_aff * sizeof(*en->aff));
            }
            en->aff[en->n_aff++] = (int)c;
            if (a < job->n_affinity)
                ej->n_aff++;
            else
                ej->n_avoid++;
        }
    }
    en->scratch = xcalloc((size_t)max_workers + 1, sizeof(*en->scratch));
    en->n_scratch = (size_t)max_workers;
}

int engine_build(struct engine *en, const struct policy_input *in, const struct policy_state *st,
                 struct err *e)
{
    memset(en, 0, sizeof(*en));
    if (snapshot_validate(in->snap, e))
        return -1;
    en->in = in;
    en->s = in->snap;
    en->cfg = in->cfg;
    en->now = in->now_ms;
    en->n_clusters = in->snap->n_clusters;
    en->n_skus = in->snap->n_skus;
    build_clusters(en);
    build_groups(en);
    engine_fit_build(en);
    apply_inflight(en);
    build_namespaces(en, st);
    build_fairshare(en, st);
    build_quotas(en);
    en->lend = xcalloc(en->n_clusters * en->n_skus + 1, sizeof(*en->lend));
    en->gver = xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus + 1, sizeof(*en->gver));
    en->gmax = xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus * ENGINE_SLOT_CACHE + 1, sizeof(int));
    en->gmax_ver =
        xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus * ENGINE_SLOT_CACHE + 1, sizeof(uint32_t));
    en->gblk = xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus * ENGINE_SLOT_CACHE + 1, sizeof(int));
    en->gblk_c = xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus * ENGINE_SLOT_CACHE + 1, sizeof(int));
    en->gres = xcalloc(SNAPSHOT_POOL_COUNT * en->n_skus * ENGINE_SLOT_CACHE + 1, sizeof(int));
    for (size_t i = 0; i < SNAPSHOT_POOL_COUNT * en->n_skus; i++)
        en->gver[i] = 1;
    build_jobs(en);
    engine_fit_profile(en);
    return 0;
}

void engine_free(struct engine *en)
{
    if (!en)
        return;
    engine_fit_free(en);
    for (size_t gi = 0; en->groups && gi < en->n_groups; gi++) {
        free(en->groups[gi].nodes);
        free(en->groups[gi].bits);
        free(en->groups[gi].cnt);
    }
    free(en->groups);
    free(en->nfree);
    free(en->npos);
    free(en->ngroup);
    free(en->reserved_by);
    free(en->cl_block);
    free(en->cl_age_s);
    free(en->tz);
    free(en->tz_bad);
    free(en->cl_names);
    free(en->cl_map.slots);
    free(en->lend);
    free(en->ns_names);
    free(en->ns_map.slots);
    free(en->ns_weight);
    free(en->ns_avg);
    free(en->ns_run);
    free(en->ns_share);
    free(en->sku_cap);
    free(en->q_managed);
    free(en->q_nominal);
    free(en->q_borrow);
    free(en->q_lend);
    free(en->q_usage);
    free(en->cohort_cap);
    free(en->cohort_used);
    free(en->gver);
    free(en->gmax);
    free(en->gmax_ver);
    free(en->gblk);
    free(en->gblk_c);
    free(en->gres);
    free(en->scratch);
    free(en->jobs);
    free(en->wf);
    free(en->aff);
    memset(en, 0, sizeof(*en));
}

/* ---- quotas ------------------------------------------------------------------------ */

int engine_quota_check(const struct engine *en, int ns, int k, int g, bool preemptible, bool *over,
                       struct policy_why *why)
{
    size_t x;
    int u, n, guaranteed, before, after;

    *over = false;
    if (ns < 0 || !en->q_managed[k])
        return 0;
    x = (size_t)ns * en->n_skus + (size_t)k;
    u = en->q_usage[x];
    n = en->q_nominal[x];
    if (u + g <= n)
        return 0;
    memset(why, 0, sizeof(*why));
    why->reason = POLICY_REASON_QUOTA;
    why->cluster = -1;
    why->sku = k;
    why->have = u;
    why->need = g;
    why->value2 = n;
    why->ns = en->ns_names[ns];
    if (!preemptible) {
        why->value = n;
        why->in_nominal = true;
        return -1;
    }
    if (en->q_borrow[x] >= 0 && u + g - n > en->q_borrow[x]) {
        why->value = (int64_t)n + en->q_borrow[x];
        return -1;
    }
    guaranteed = n - en->q_lend[x];
    before = u - guaranteed > 0 ? u - guaranteed : 0;
    after = u + g - guaranteed > 0 ? u + g - guaranteed : 0;
    if (en->cohort_used[k] + (after - before) > en->cohort_cap[k]) {
        /* The cohort has no unused quota left to lend: report the cohort's capacity. */
        why->value = en->cohort_cap[k] - en->cohort_used[k] + u - guaranteed;
        if (why->value < n)
            why->value = n;
        return -1;
    }
    *over = true;
    return 0;
}

void engine_quota_take(struct engine *en, int ns, int k, int g)
{
    size_t x;
    int guaranteed, before, after;

    if (ns < 0)
        return;
    x = (size_t)ns * en->n_skus + (size_t)k;
    guaranteed = en->q_nominal[x] - en->q_lend[x];
    before = en->q_usage[x] - guaranteed > 0 ? en->q_usage[x] - guaranteed : 0;
    en->q_usage[x] += g;
    after = en->q_usage[x] - guaranteed > 0 ? en->q_usage[x] - guaranteed : 0;
    if (en->q_managed[k])
        en->cohort_used[k] += after - before;
}

/* ---- evaluation ---------------------------------------------------------------------- */

int engine_why_rank(enum policy_reason r)
{
    switch (r) {
    case POLICY_REASON_NONE: return 0;
    case POLICY_REASON_AFFINITY: return 1;
    case POLICY_REASON_CORDONED:
    case POLICY_REASON_UNHEALTHY:
    case POLICY_REASON_STALE:
    case POLICY_REASON_MISSING_PREREQ: return 2;
    case POLICY_REASON_NO_SERVING_POOL: return 3;
    case POLICY_REASON_NO_SKU_NODES: return 4;
    case POLICY_REASON_NOT_PREEMPTIBLE: return 5;
    case POLICY_REASON_NEVER_FITS: return 6;
    case POLICY_REASON_LENDING_CLOSED:
    case POLICY_REASON_LENDING_BACKOFF: return 7;
    case POLICY_REASON_NO_LENDABLE:
    case POLICY_REASON_LEASE_TOO_SHORT: return 8;
    case POLICY_REASON_INSUFFICIENT:
    case POLICY_REASON_NODE_RESOURCES: return 9;
    case POLICY_REASON_RESERVED: return 11;
    case POLICY_REASON_QUOTA: return 12;
    case POLICY_REASON_INVALID_SPEC:
    case POLICY_REASON_UNKNOWN_SKU:
    case POLICY_REASON_NO_CLUSTERS: return 13;
    case POLICY_REASON_COUNT: break;
    }
    return 0;
}

/* A cluster that has room but takes no placements (cordoned, stale, unhealthy) is closer
 * than one that is merely full: its state is the one thing in the way. */
static int why_rank(const struct policy_why *w)
{
    return w->room ? 10 : engine_why_rank(w->reason);
}

bool engine_why_better(const struct policy_why *a, const struct policy_why *b)
{
    int ra = why_rank(a), rb = why_rank(b);

    if (b->reason == POLICY_REASON_NONE)
        return a->reason != POLICY_REASON_NONE;
    if (ra != rb)
        return ra > rb;
    return a->have > b->have;
}

int engine_cand_cmp(const struct engine *en, const struct engine_cand *a,
                    const struct engine_cand *b)
{
    int c;

    if (a->sc.total != b->sc.total)
        return a->sc.total > b->sc.total ? -1 : 1;
    if (a->pool != b->pool)
        return a->pool == SNAPSHOT_POOL_TRAINING ? -1 : 1;
    if (a->opt != b->opt)
        return a->opt < b->opt ? -1 : 1;
    c = strcmp(en->cl_names[a->cluster], en->cl_names[b->cluster]);
    if (c)
        return c;
    return a->cluster < b->cluster ? -1 : (a->cluster > b->cluster);
}

static void note(const struct policy_why *w, struct policy_why *why, struct policy_why *all,
                 size_t *n_all, size_t cap_all)
{
    if (all && *n_all < cap_all)
        all[(*n_all)++] = *w;
    if (engine_why_better(w, why))
        *why = *w;
}

/* Fit term: GPUs placed / (GPUs placed + GPUs left free on the nodes the plan touches),
 * found by placing the gang for real and undoing it. */
static double trial_fit(struct engine *en, struct engine_group *G, size_t j)
{
    int workers = en->jobs[j].workers, g = en->jobs[j].per_worker;
    long placed = 0, left = 0;
    int got = 0;

    for (int w = 0; w < workers; w++) {
        long node = engine_take(en, G, j, false, false, NULL);

        if (node < 0)
            break;
        en->scratch[got++] = (size_t)node;
        placed += g;
    }
    for (int i = 0; i < got; i++) {
        bool seen = false;

        for (int k = 0; k < i && !seen; k++)
            seen = en->scratch[k] == en->scratch[i];
        if (!seen)
            left += en->nfree[en->scratch[i]];
    }
    for (int i = got - 1; i >= 0; i--)
        engine_give(en, en->scratch[i], j, false);
    return placed ? (double)placed / (double)(placed + left) : 0.0;
}

static void score(struct engine *en, size_t j, struct engine_cand *cand, int aff_pos,
                  struct engine_group *G, bool with_fit)
{
    const struct policy_job *job = &en->in->queue[j];
    const struct engine_job *ej = &en->jobs[j];
    const struct snapshot_cluster *cl = &en->s->clusters[cand->cluster];
    const struct policy_config *cfg = en->cfg;
    struct policy_score *sc = &cand->sc;
    double cost = cl->cost_per_gpu_hour[cand->sku];
    double loc = 0;
    int parts = 0;
    double age = (double)(en->cl_age_s[cand->cluster]);

    if (!(cost > 0))
        cost = cfg->default_cost;
    sc->price_per_gpu_hour = cost;
    sc->work_factor = ej->wf >= 0 ? en->wf[ej->wf + cand->opt] : 1.0;
    cost *= sc->work_factor;
    sc->cluster = cand->cluster;
    sc->pool = cand->pool;
    sc->sku = cand->sku;
    sc->fit = with_fit ? trial_fit(en, G, j) : 0.0;
    sc->cost = 1.0 / (1.0 + cost / cfg->cost_reference);
    if (ej->has_aff && ej->n_aff > 0 && aff_pos >= 0) {
        loc += 1.0 - (double)aff_pos / (double)ej->n_aff;
        parts++;
    }
    if (job->region && *job->region) {
        loc += strcmp(job->region, cl->region) == 0 ? 1.0 : 0.0;
        parts++;
    }
    sc->locality = parts ? loc / parts : 0.0;
    sc->freshness = cfg->max_data_age_s > 0 ? 1.0 - age / (double)cfg->max_data_age_s : 1.0;
    if (sc->freshness < 0)
        sc->freshness = 0;
    sc->sku_pref = 1.0 - (double)cand->opt / (double)ej->n_opts;
    sc->borrowed = cand->pool == SNAPSHOT_POOL_SERVING ? 1.0 : 0.0;
    sc->total = cfg->w_fit * sc->fit + cfg->w_cost * sc->cost + cfg->w_locality * sc->locality +
                cfg->w_freshness * sc->freshness + cfg->w_sku * sc->sku_pref -
                cfg->w_borrow * sc->borrowed;
}

/* Capacity verdict of one group for queue job j: NONE when the gang fits now. Nodes the job
 * itself reserved count as its own (that matters when explaining it after the cycle). */
static void group_verdict(struct engine *en, struct engine_group *G, size_t j, bool readonly,
                          struct policy_why *w)
{
    const struct engine_job *ej = &en->jobs[j];
    int g = ej->per_worker, W = ej->workers;
    int slots = engine_slots(G, g, readonly);
    int nodes = engine_nodes_with(G, g);

    for (size_t i = 0; i < G->n && G->n_reserved; i++) {
        size_t node = G->nodes[i];

        if (en->reserved_by[node] == j + 1) {
            slots += en->nfree[node] / g;
            nodes += en->nfree[node] >= g;
        }
    }
    w->workers = W;
    w->per_worker = g;
    if (slots >= W && !ej->cpu && !ej->mem) {
        w->reason = POLICY_REASON_NONE;
        return;
    }
    if (slots >= W) {
        /* The GPUs are there in whole-worker slots; are the CPU and memory beside them? */
        if (engine_fit_slots(en, G, j, W, NULL) >= W) {
            w->reason = POLICY_REASON_NONE;
            return;
        }
        w->cpu_m = ej->cpu;
        w->mem_mib = ej->mem;
        w->nodes = nodes;
        w->have = engine_fit_slots_empty(en, G, j);
        if (w->have < W) {
            w->reason = POLICY_REASON_NEVER_FITS;
            engine_group_down(en, G, ej, w);
            return;
        }
        w->have = engine_fit_slots(en, G, j, W, w);
        w->reason = POLICY_REASON_NODE_RESOURCES;
        return;
    }
    w->have = slots;
    w->nodes = nodes;
    if (engine_slots_empty(en, G, g) < W) {
        w->reason = POLICY_REASON_NEVER_FITS;
        w->have = engine_slots_empty(en, G, g);
        engine_group_down(en, G, ej, w);
    } else if ((ej->cpu || ej->mem) && engine_fit_slots_empty(en, G, j) < W) {
        w->reason = POLICY_REASON_NEVER_FITS;
        w->have = engine_fit_slots_empty(en, G, j);
        w->cpu_m = ej->cpu;
        w->mem_mib = ej->mem;
        engine_group_down(en, G, ej, w);
    } else if (G->n_reserved && engine_slots_unreserved(en, G, g) >= W) {
        w->reason = POLICY_REASON_RESERVED;
        reserved_holder(en, G, j, w);
    } else {
        w->reason = POLICY_REASON_INSUFFICIENT;
    }
}

static bool lease_fits(const struct engine *en, const struct policy_job *job,
                       const struct engine_lend *L, struct policy_why *w)
{
    int64_t left_ms = L->lease_end_ms - en->now;
    bool fits;

    w->value = left_ms > 0 ? left_ms / 1000 : 0;
    w->value2 = job->max_runtime_s;
    w->have =
        (int)(job->checkpoint_interval_s < INT32_MAX ? job->checkpoint_interval_s : INT32_MAX);
    if (left_ms < en->cfg->min_lease_s * 1000)
        return false;
    fits = job->max_runtime_s > 0 && job->max_runtime_s * 1000 <= left_ms;
    fits = fits || (job->checkpoint_interval_s > 0 &&
                    job->checkpoint_interval_s <= en->cfg->max_checkpoint_loss_s);
    return fits;
}

/* Whether the gang of job j fits in cluster c now, in training or (when preemptible)
 * serving capacity of an option its quota allows: then the cluster's state, not its
 * capacity, is what keeps the job away. */
static bool cluster_has_room(struct engine *en, size_t j, int c, const bool *quota_ok,
                             bool readonly)
{
    const struct engine_job *ej = &en->jobs[j];
    bool room = false;

    for (int o = 0; o < ej->n_opts && !room; o++) {
        if (!quota_ok[o])
            continue;
        room = engine_slots(engine_group_of(en, (size_t)c, SNAPSHOT_POOL_TRAINING, ej->opts[o]),
                            ej->per_worker, readonly) >= ej->workers;
        room = room ||
               (en->in->queue[j].preemptible &&
                engine_slots(engine_group_of(en, (size_t)c, SNAPSHOT_POOL_SERVING, ej->opts[o]),
                             ej->per_worker, readonly) >= ej->workers);
    }
    return room;
}

/* Borrowed capacity that would take the job is not lent until the borrowed pods'
 * PriorityClass is known to exist: without it every borrowed pod would be refused, and
 * borrowed pods must stay the first to be preempted. */
static void borrowed_prereq(const struct snapshot_cluster *cl, struct policy_why *w)
{
    enum snapshot_prereq_state st = cl->prereqs[SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED].state;

    if (w->reason != POLICY_REASON_NONE ||
        (st != SNAPSHOT_PREREQ_MISSING && st != SNAPSHOT_PREREQ_UNKNOWN))
        return;
    w->reason = POLICY_REASON_MISSING_PREREQ;
    w->prereq = SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED;
    w->room = true;
}

/* The first prerequisite job j needs that cluster c is known to miss; -1 when none.
 * Prerequisites not checked or not answered yet do not count: dispatch reports what
 * really fails, and the next check corrects the picture. */
int engine_missing_prereq(const struct engine *en, size_t j, int c)
{
    const struct snapshot_cluster *cl = &en->s->clusters[c];
    uint32_t need = (1u << SNAPSHOT_PREREQ_NAMESPACE) | (1u << SNAPSHOT_PREREQ_PERMISSIONS) |
                    (1u << SNAPSHOT_PREREQ_PRIORITY_CLASS) | en->in->queue[j].prereqs;

    for (int p = 0; p < SNAPSHOT_PREREQ_COUNT; p++)
        if ((need & (1u << p)) && cl->prereqs[p].state == SNAPSHOT_PREREQ_MISSING)
            return p;
    return -1;
}

/* Cluster c's place in the job's clusterAffinity, -1 when it is not there. */
static int aff_pos_of(const struct engine *en, const struct engine_job *ej, int c)
{
    for (int a = 0; a < ej->n_aff; a++)
        if (en->aff[ej->aff_first + (size_t)a] == c)
            return a;
    return -1;
}

bool engine_job_allows(const struct engine *en, const struct engine_job *ej, int c)
{
    return !ej->has_aff || aff_pos_of(en, ej, c) >= 0;
}

bool engine_job_avoids(const struct engine *en, const struct engine_job *ej, int c)
{
    const int *avoid = &en->aff[ej->aff_first + (size_t)ej->n_aff];

    for (int a = 0; a < ej->n_avoid; a++)
        if (avoid[a] == c)
            return true;
    return false;
}

int engine_eval_cluster(struct engine *en, size_t j, int c, const bool *quota_ok, bool with_score,
                        bool readonly, struct engine_cand *best, struct policy_why *why,
                        struct policy_why *all, size_t *n_all, size_t cap_all)
{
    const struct policy_job *job = &en->in->queue[j];
    const struct engine_job *ej = &en->jobs[j];
    const struct snapshot_cluster *cl = &en->s->clusters[c];
    bool no_pool_noted = false;
    int aff_pos = -1;
    int found = 0;

    memset(why, 0, sizeof(*why));
    why->cluster = c;
    if (ej->has_aff) {
        aff_pos = aff_pos_of(en, ej, c);
        if (aff_pos < 0) {
            struct policy_why w = {.reason = POLICY_REASON_AFFINITY, .cluster = c, .sku = -1};

            note(&w, why, all, n_all, cap_all);
            return 0;
        }
    }
    if (en->cl_block[c].reason != POLICY_REASON_NONE) {
        struct policy_why w = en->cl_block[c];

        w.room = cluster_has_room(en, j, c, quota_ok, readonly);
        note(&w, why, all, n_all, cap_all);
        return 0;
    }
    if (engine_missing_prereq(en, j, c) >= 0) {
        struct policy_why w = {.reason = POLICY_REASON_MISSING_PREREQ, .cluster = c, .sku = -1};

        w.prereq = (enum snapshot_prereq)engine_missing_prereq(en, j, c);
        w.room = cluster_has_room(en, j, c, quota_ok, readonly);
        note(&w, why, all, n_all, cap_all);
        return 0;
    }
    for (int o = 0; o < ej->n_opts; o++) {
        int k = ej->opts[o];
        struct engine_group *G;
        struct policy_why w;

        if (!quota_ok[o])
            continue;
        /* Dedicated training capacity. */
        G = engine_group_of(en, (size_t)c, SNAPSHOT_POOL_TRAINING, k);
        memset(&w, 0, sizeof(w));
        w.cluster = c;
        w.sku = k;
        w.pool = SNAPSHOT_POOL_TRAINING;
        w.need = job->gpu_count;
        if (G->n == 0) {
            w.reason = POLICY_REASON_NO_SKU_NODES;
        } else {
            group_verdict(en, G, j, readonly, &w);
        }
        if (w.reason == POLICY_REASON_NONE) {
            struct engine_cand cand = {c, k, o, SNAPSHOT_POOL_TRAINING, {0}};

            score(en, j, &cand, aff_pos, G, with_score);
            if (all && *n_all < cap_all)
                all[(*n_all)++] = w;
            if (!found || engine_cand_cmp(en, &cand, best) < 0)
                *best = cand;
            found = 1;
        } else {
            note(&w, why, all, n_all, cap_all);
        }
        /* Borrowed serving capacity. */
        memset(&w, 0, sizeof(w));
        w.cluster = c;
        w.sku = k;
        w.pool = SNAPSHOT_POOL_SERVING;
        w.need = job->gpu_count;
        w.workers = ej->workers;
        w.per_worker = ej->per_worker;
        G = engine_group_of(en, (size_t)c, SNAPSHOT_POOL_SERVING, k);
        if (!cl->serving.present) {
            w.reason = POLICY_REASON_NO_SERVING_POOL;
        } else if (G->n == 0) {
            w.reason = POLICY_REASON_NO_SKU_NODES;
        } else if (!job->preemptible) {
            w.reason = POLICY_REASON_NOT_PREEMPTIBLE;
        } else {
            const struct engine_lend *L = &en->lend[(size_t)c * en->n_skus + (size_t)k];

            if (!L->lending) {
                w.reason = L->why;
                w.value = L->backoff_left_s;
                w.value2 = L->stuck;
                w.have = L->budget;
            } else if (L->budget < job->gpu_count) {
                w.reason = POLICY_REASON_NO_LENDABLE;
                w.have = L->budget;
            } else if (!lease_fits(en, job, L, &w)) {
                w.reason = POLICY_REASON_LEASE_TOO_SHORT;
            } else {
                group_verdict(en, G, j, readonly, &w);
            }
            borrowed_prereq(cl, &w);
        }
        if (w.reason == POLICY_REASON_NONE) {
            struct engine_cand cand = {c, k, o, SNAPSHOT_POOL_SERVING, {0}};

            score(en, j, &cand, aff_pos, G, with_score);
            if (all && *n_all < cap_all)
                all[(*n_all)++] = w;
            if (!found || engine_cand_cmp(en, &cand, best) < 0)
                *best = cand;
            found = 1;
        } else if (w.reason != POLICY_REASON_NO_SERVING_POOL || (all && !no_pool_noted)) {
            /* The cluster has no serving pool: said once, not once per SKU option. */
            no_pool_noted = no_pool_noted || w.reason == POLICY_REASON_NO_SERVING_POOL;
            note(&w, why, all, n_all, cap_all);
        }
    }
    return found;
}
