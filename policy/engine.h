/* engine.h -- internal to policy/: the working state of one decision cycle (free GPUs per
 * node in per-cluster x pool x SKU free-count buckets, quota and fair-share tables, lending
 * status) and the evaluation of one job on one cluster. policy.c drives it; explain.c
 * re-evaluates jobs against what is left after the cycle.
 * Not a public API: the scheduler and the API use policy.h and explain.h only.
 * Threads: an engine is built and mutated by one thread during policy_decide(); after that,
 * engine_eval_cluster() with readonly=true may run from any number of threads at once. */
#ifndef POLICY_ENGINE_H
#define POLICY_ENGINE_H

#include "policy/policy.h"
#include "policy/tz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_SLOT_CACHE 17 /* per-worker sizes 1..16 are cached */

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
};

/* A queued job, prepared once per cycle. */
struct engine_job {
    int ns;
    int workers;
    int per_worker;
    int opts[1 + POLICY_ALT_SKUS_MAX]; /* SKU ids to try, primary first, unknown dropped */
    int n_opts;
    int64_t eff_prio;           /* priority + aging bonus */
    enum policy_reason invalid; /* INVALID_SPEC / UNKNOWN_SKU, else NONE */
    size_t aff_first;           /* resolved affinity clusters: engine.aff[aff_first ..] */
    int n_aff;
    bool has_aff; /* the job named clusters (even unknown ones) */
};

/* Lending status of one cluster x SKU serving pool this cycle. */
struct engine_lend {
    bool lending;
    enum policy_reason why; /* when !lending */
    int64_t lease_end_ms;
    int64_t backoff_left_s;
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

    struct engine_group *groups; /* (cluster * 2 + pool) * n_skus + sku */
    int *nfree;                  /* working free GPUs per node */
    uint32_t *npos;              /* position of the node in its group */
    int32_t *ngroup;             /* group of the node, -1 when none (unknown SKU) */
    size_t *reserved_by;         /* queue index + 1 of the job holding the node; 0 = none */

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

    size_t *scratch; /* nodes of a trial plan (max workers of any job) */
    size_t n_scratch;

    struct engine_job *jobs; /* one per queued job */
    int *aff;                /* resolved affinity cluster indices */
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

/* Takes one worker of g GPUs from the group (best fit: the fullest node that still has g
 * free, lowest index among equals). Returns the node, or -1. track: bump versions. */
long engine_take(struct engine *en, struct engine_group *G, int g, bool track);
/* Gives g GPUs back to node (undo of a trial). */
void engine_give(struct engine *en, size_t node, int g, bool track);
/* Removes node from its group's buckets on behalf of queue job j. */
void engine_reserve(struct engine *en, size_t node, size_t j);

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

/* The first prerequisite queue job j needs that cluster c is known to miss; -1 when none. */
int engine_missing_prereq(const struct engine *en, size_t j, int c);

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
