/* engine.h -- internal to policy/: the working state of one decision cycle (free GPUs per
 * node in per-cluster x pool x SKU free-count buckets, quota and fair-share tables, lending
 * status) and the evaluation of one job on one cluster. policy.c drives it; explain.c
 * re-evaluates jobs against what is left after the cycle.
 * Not a public API: the scheduler and the API use policy.h and explain.h only.
 * Threads: an engine is built and mutated by one thread during policy_decide(); after that,
 * engine_eval_cluster() with readonly=true may run from any number of threads at once. */
#ifndef POLICY_ENGINE_H
#define POLICY_ENGINE_H

#include "policy/lease.h"
#include "policy/policy.h"
#include "policy/tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_SLOT_CACHE 17              /* per-worker sizes 1..16 are cached */
#define ENGINE_UNMETERED  (INT64_MAX / 4) /* free CPU or memory of a node of unknown size */
/* A worker's node is chosen by nodefit among the first this many nodes that can take it,
 * tightest GPU fit first: enough to see every distinct kind of node a cluster has in
 * practice, and a bound on the cost of a take in a cluster of thousands of nodes. */
#define ENGINE_FIT_CANDIDATES 16

struct nodefit_eval;

/* The nodes of one cluster x pool x SKU, bucketed by free GPUs: bits[f] is a bitmap over
 * the group's nodes with exactly f free (reserved nodes are in no bucket). The lowest set
 * bit is the lowest snapshot index, which makes node choice deterministic. */
struct engine_group {
    size_t *nodes; /* snapshot node indices, ascending */
    size_t n;
    int maxf;     /* largest allocatable GPU count among the nodes */
    size_t words; /* 64-bit words per bucket bitmap */
    uint64_t *bits;
    int *cnt; /* nodes per free count, maxf + 1 entries */
    int n_reserved;
    uint32_t ver; /* bumped by every real allocation: invalidates slot caches */
    int slot_cache[ENGINE_SLOT_CACHE];
    uint32_t slot_ver[ENGINE_SLOT_CACHE];
    int empty_cache[ENGINE_SLOT_CACHE]; /* slots when every node is empty; static */
    uint32_t empty_known;               /* bit g set when empty_cache[g] is filled */
    int pool, sku;                      /* what the group holds */
    /* The distinct sizes of its schedulable nodes (GPUs, CPU, memory) and how many nodes
     * have each: a cluster has a few kinds of node, so what fits them all when empty is
     * counted per kind (engine_fit_slots_empty()). */
    struct engine_kind *kinds;
    size_t n_kinds;
};

struct engine_kind {
    int gpus;
    int64_t cpu, mem; /* ENGINE_UNMETERED when unknown */
    int count;
};

/* A queued job, prepared once per cycle. */
struct engine_job {
    int ns;
    int workers;
    int per_worker;
    int64_t cpu, mem; /* one worker's CPU (millicores) and memory (MiB) request; 0 = none */
    int opts[1 + POLICY_ALT_SKUS_MAX]; /* SKU ids to try, primary first, unknown dropped */
    int n_opts;
    /* Cost per unit of work (policy_job.throughput): the price of a GPU-hour on opts[o] is
     * multiplied by engine.wf[wf + o] = best declared throughput / throughput on opts[o];
     * wf is -1 (every factor 1) when the job did not declare a throughput for each opt. */
    long wf;
    int64_t eff_prio;           /* priority + aging bonus */
    enum policy_reason invalid; /* INVALID_SPEC / UNKNOWN_SKU, else NONE */
    size_t aff_first;           /* resolved affinity clusters: engine.aff[aff_first ..] */
    int n_aff;
    bool has_aff; /* the job named clusters (even unknown ones) */
    int n_avoid;  /* policy_job.avoid_clusters resolved: engine.aff[aff_first + n_aff ..] */
};

/* Lending status of one cluster x SKU serving pool this cycle. */
struct engine_lend {
    bool lending;
    enum policy_reason why; /* when !lending */
    int64_t lease_end_ms;
    struct lease_out lease; /* the bound that set lease_end_ms and budget (policy/lease.h) */
    int64_t backoff_left_s;
    int stuck;   /* GPUs of Pending serving pods no node can take (nothing is lent then) */
    int budget;  /* GPUs still lendable this cycle */
    long status; /* index into the result's pool statuses, -1 = none */
};

/* A feasible candidate with its score. */
struct engine_cand {
    int cluster;
    int sku;
    int opt; /* index into engine_job.opts */
    enum snapshot_pool pool;
    struct policy_score sc;
};

struct engine_strmap {
    size_t *slots; /* index + 1, 0 = empty */
    size_t mask;
};

struct engine {
    const struct policy_input *in;
    const struct snapshot *s;
    const struct policy_config *cfg;
    int64_t now;
    size_t n_clusters, n_skus, n_groups;

    struct engine_group *groups;     /* (cluster * 2 + pool) * n_skus + sku */
    int *nfree;                      /* working free GPUs per node */
    int64_t *ncpu, *nmem;            /* working free CPU (millicores), memory (MiB) per node;
                             ENGINE_UNMETERED where the snapshot does not know them */
    struct nodefit_profile *profile; /* the queue's worker shapes; NULL = no GPU work queued */
    uint32_t *npos;                  /* position of the node in its group */
    int32_t *ngroup;                 /* group of the node, -1 when none (unknown SKU) */
    size_t *reserved_by;             /* queue index + 1 of the job holding the node; 0 = none */

    struct policy_why *cl_block; /* per cluster: NONE when the cluster accepts placements */
    int64_t *cl_age_s;
    struct tz_rule *tz;
    bool *tz_bad; /* the cluster's TZ rule did not parse: no window lending there */
    struct engine_strmap cl_map;
    const char **cl_names;

    struct engine_lend *lend; /* cluster * n_skus + sku */

    /* namespaces, sorted by name; index = position */
    const char **ns_names;
    size_t n_ns;
    struct engine_strmap ns_map;
    double *ns_weight;
    double *ns_avg; /* decayed GPU-hours / half-life hours, n_ns * n_skus */
    int *ns_run;    /* GPUs held now (running + placed this cycle), n_ns * n_skus */
    double *ns_share;
    double *sku_cap; /* GPUs of each SKU in the federation (training pools), at least 1 */

    /* quotas, n_ns * n_skus; managed per SKU */
    bool *q_managed;
    int *q_nominal, *q_borrow, *q_lend, *q_usage;
    int64_t *cohort_cap, *cohort_used; /* per SKU */

    /* global best slots per pool x SKU x per-worker size, for early rejection */
    uint32_t *gver; /* per pool x SKU */
    int *gmax;      /* (pool * n_skus + sku) * ENGINE_SLOT_CACHE + g */
    uint32_t *gmax_ver;
    int *gblk;   /* same index: best slots among clusters that take no placements */
    int *gblk_c; /* and which cluster that is (-1 = none) */
    int *gres;   /* same index: best slots with reservations ignored, among clusters that
                    take placements and hold reservations in that group (0 = none) */

    size_t *scratch; /* nodes of a trial plan (max workers of any job) */
    size_t n_scratch;

    struct engine_job *jobs; /* one per queued job */
    double *wf;              /* the work factors of the jobs that declare throughputs */
    size_t n_wf, cap_wf;
    int *aff; /* resolved cluster indices: each job's affinity, then the clusters it avoids */
    size_t n_aff, cap_aff;
};

/* Builds the working state from in (free GPUs from the snapshot minus in-flight plans,
 * quota usage and fair-share GPUs from running placements). usage is the fair-share state
 * (may be NULL). Fails with ERR_INVALID when the snapshot is inconsistent. */
int engine_build(struct engine *en, const struct policy_input *in, const struct policy_state *st,
                 struct err *e);
void engine_free(struct engine *en);

/* Group of cluster c, pool p, SKU k. */
struct engine_group *engine_group_of(struct engine *en, size_t c, enum snapshot_pool p, int k);

/* Workers of g GPUs that fit in the group now (reserved nodes excluded). readonly: do not
 * touch the cache (for concurrent explain). */
int engine_slots(struct engine_group *G, int g, bool readonly);
/* Nodes of the group with at least g free (reserved nodes excluded). */
int engine_nodes_with(const struct engine_group *G, int g);
/* Workers of g GPUs that would fit if the group's nodes were all empty (schedulable only). */
int engine_slots_empty(const struct engine *en, const struct engine_group *G, int g);
/* Workers of g GPUs that would fit if reservations were ignored. */
int engine_slots_unreserved(const struct engine *en, const struct engine_group *G, int g);

/* Takes one worker of queue job j from the group: a node with the worker's GPUs, CPU and
 * memory free. scored: the node nodefit scores best (least expected stranded GPU capacity,
 * then the tightest fit) among the first ENGINE_FIT_CANDIDATES in best-fit order (fullest
 * first, lowest index among equals), its evaluation in *ev when ev != NULL; otherwise the
 * first of them (trial plans). Returns the node, or -1. track: bump versions. */
long engine_take(struct engine *en, struct engine_group *G, size_t j, bool scored, bool track,
                 struct nodefit_eval *ev);
/* Gives one worker of queue job j back to node (undo of a trial). */
void engine_give(struct engine *en, size_t node, size_t j, bool track);

/* ---- node-level fit (engine_fit.c) ---- */

/* Fills ncpu and nmem from the snapshot; after the groups are built. */
void engine_fit_build(struct engine *en);
/* Builds the profile from the queued jobs; after build_jobs. */
void engine_fit_profile(struct engine *en);
void engine_fit_free(struct engine *en);
/* Workers of job j a node could take with free GPUs f, CPU cpu and memory mem
 * (ENGINE_UNMETERED never binds). */
int engine_workers_on(const struct engine_job *ej, int f, int64_t cpu, int64_t mem);
/* Takes (sign 1) or gives back (sign -1) one worker of job j's CPU and memory on node. */
void engine_node_use(struct engine *en, size_t node, size_t j, int sign);
/* Takes cpu and memory from node (in-flight plans), at most down to 0. */
void engine_node_take_resources(struct engine *en, size_t node, int64_t cpu, int64_t mem);
/* nodefit's evaluation of one worker of job j on node; false when node or job is out of
 * nodefit's range (more than NODEFIT_GPUS_MAX GPUs) or no profile: best fit decides. */
bool engine_fit_score(const struct engine *en, size_t node, size_t j, struct nodefit_eval *out);
/* Workers of job j that fit the group now, counting GPUs, CPU and memory per node (nodes
 * reserved for other jobs excluded). Stops counting at stop unless w != NULL, in which
 * case it counts them all and sets w->value / w->value2 to the nodes with the GPUs but
 * short of CPU / memory. */
int engine_fit_slots(const struct engine *en, const struct engine_group *G, size_t j, int stop,
                     struct policy_why *w);
/* The same with every node empty (schedulable nodes only). */
int engine_fit_slots_empty(const struct engine *en, const struct engine_group *G, size_t j);
/* Adds to w->down_nodes and w->down_gpus G's nodes that take no pods of ours (NotReady,
 * cordoned, tainted) but could hold one of ej's workers when idle, and their GPUs: what
 * "even when idle" leaves out. */
void engine_group_down(const struct engine *en, const struct engine_group *G,
                       const struct engine_job *ej, struct policy_why *w);
/* Removes node from its group's buckets on behalf of queue job j. */
void engine_reserve(struct engine *en, size_t node, size_t j);
/* Gives a reserved node back to its group's buckets; returns the holder (queue index + 1),
 * 0 when the node was not reserved. */
size_t engine_unreserve(struct engine *en, size_t node);

/* Quota check of namespace ns taking g GPUs of SKU k for a job that is (or is not)
 * preemptible. Returns 0 when allowed (sets *over when above nominal), or -1 and fills why.
 * Only preemptible jobs may run above nominal quota: borrowed quota can be taken back. */
int engine_quota_check(const struct engine *en, int ns, int k, int g, bool preemptible, bool *over,
                       struct policy_why *why);
void engine_quota_take(struct engine *en, int ns, int k, int g);

/* Evaluates queue job j on cluster c over every SKU option and pool.
 * Returns 1 and fills *best when some candidate is feasible (with score when score is
 * true: this allocates trial plans and needs readonly false), else 0 and fills *why with
 * the most telling reason for this cluster. When all != NULL, appends every
 * (SKU, pool) reason and candidate verdict there (at most cap_all). quota_ok[opt] says
 * whether the job's quota allows option opt. */
int engine_eval_cluster(struct engine *en, size_t j, int c, const bool *quota_ok, bool score,
                        bool readonly, struct engine_cand *best, struct policy_why *why,
                        struct policy_why *all, size_t *n_all, size_t cap_all);

/* Whether cluster c is one where the job's starts timed out (policy_job.avoid_clusters). */
bool engine_job_avoids(const struct engine *en, const struct engine_job *ej, int c);
/* Whether cluster c is in the job's clusterAffinity (any cluster when it names none). */
bool engine_job_allows(const struct engine *en, const struct engine_job *ej, int c);

/* The first prerequisite queue job j needs that cluster c is known to miss; -1 when none. */
int engine_missing_prereq(const struct engine *en, size_t j, int c);

/* qsort/bsearch order of uint64_t values (job ids). */
int engine_cmp_u64(const void *pa, const void *pb);

/* True when id is among the n ids, sorted by engine_cmp_u64 (policy_state's backfill and
 * reserved records). */
bool engine_id_in(const uint64_t *ids, size_t n, uint64_t id);

/* The key of node (its cluster's name and its own) reserved by the job of this id, for
 * policy_state.reserved: stable from one snapshot to the next, where node indices are not.
 * node must belong to a group, as every node a reservation can hold does. */
uint64_t engine_reserve_key(const struct engine *en, size_t node, uint64_t job_id);

/* Ordering of candidates: better first (score, training before serving, preferred SKU,
 * cluster name). Returns < 0 when a is better. */
int engine_cand_cmp(const struct engine *en, const struct engine_cand *a,
                    const struct engine_cand *b);

/* Rank of a reason for summaries: the higher, the closer the job came to fitting. */
int engine_why_rank(enum policy_reason r);
/* True when a should replace b as the summary reason. */
bool engine_why_better(const struct policy_why *a, const struct policy_why *b);

/* Index of a string key in a map built over names[]; -1 when absent. */
long engine_strmap_find(const struct engine_strmap *m, const char *const *names, const char *key);

#endif
