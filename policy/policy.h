/* policy.h -- the placement policy engine: given a capacity snapshot, the queue, quotas,
 * running placements (borrowed leases included), the state carried between cycles and
 * `now`, decide which jobs to place where (with a node plan and a score breakdown), which
 * stay pending (and why), and which borrowed jobs to reclaim for serving.
 * Pure: no I/O, no clock, no globals, no randomness. The same input and state always give
 * the same decisions, so every rule can be replayed from a scenario file or a simulator.
 * Not responsible for persisting decisions (scheduler/), reading config files
 * (cmd/config.c) or building the snapshot (cluster/). docs/policy.md explains every
 * rule and knob with worked examples. */
#ifndef POLICY_POLICY_H
#define POLICY_POLICY_H

#include "base/job.h"
#include "policy/snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;

#define POLICY_ALT_SKUS_MAX JOB_ALT_SKUS_MAX /* the API's limit: no alternative is cut */
#define POLICY_NS_MAX       64               /* namespace names are at most 63 bytes */

/* ---- configuration ---------------------------------------------------------------- */

/* Every knob of the policy. There are no defaults in this layer: they are rows of the one
 * configuration table (cmd/config.c, "policy.*"; listed in docs/policy.md), and callers
 * pass a complete config. Times are in seconds unless named _ms. */
struct policy_config {
    /* Score weights: score = w_fit*fit + w_cost*cost + w_locality*locality +
     * w_freshness*freshness + w_sku*sku - w_borrow*borrowed (each term in [0, 1]). */
    double w_fit;
    double w_cost;
    double w_locality;
    double w_freshness;
    double w_sku;
    double w_borrow;
    double cost_reference; /* cost term = 1 / (1 + cost / cost_reference) */
    double default_cost;   /* cost per GPU-hour assumed when a cluster has none */

    int64_t max_data_age_s; /* a cluster polled longer ago than this is stale */
    bool place_on_degraded; /* Degraded clusters accept placements */

    double aging_per_hour;          /* priority points gained per hour in the queue */
    double aging_max;               /* cap on the aging bonus; 0 = no cap */
    int64_t fair_share_half_life_s; /* decay of recorded GPU-hours */
    int max_reservations;           /* head jobs per cycle that may hold nodes */
    int64_t reserve_after_s;        /* a blocked job reserves only after waiting this long */

    int64_t max_checkpoint_loss_s; /* a borrower that outlives its lease must checkpoint at
                                      least this often */
    int64_t min_lease_s;           /* no new borrower when less lease than this remains */
    int64_t idle_lease_s;          /* lease length granted under the idle policy */

    int reclaim_k;                /* deficit must persist this many snapshots */
    int64_t reclaim_settle_s;     /* and this long: from the first snapshot that showed it to
                                     now (snapshots come on change, not on a clock) */
    int64_t min_runtime_s;        /* a borrower is safe from deficit reclaim this long */
    double reclaim_rate_per_hour; /* token refill of the per-pool reclaim bucket */
    int reclaim_burst;            /* bucket size (victims) */
    int64_t relend_backoff_s;     /* first back-off before lending a pool again */
    int64_t relend_backoff_max_s; /* back-off doubles per reclaim up to this */
    int64_t grace_period_s;       /* SIGTERM-to-SIGKILL grace given to victims */
    int64_t grace_period_max_s;   /* grace is clamped to [1, this] */
    bool quota_reclaim;           /* reclaim quota borrowers for jobs within their nominal quota */

    /* Reclaim ahead of demand (docs/policy.md, "Reclaiming ahead of demand"): borrowers give
     * serving GPUs back for demand that is announced (HPA desired over current, Deployment
     * replicas without pods) or forecast within reclaim_lead_s, before it shows as Pending
     * pods; the victims are asked to checkpoint first and deleted at their checkpoint or
     * checkpoint_deadline_s after the request, whichever comes first. */
    bool proactive_reclaim;
    int64_t reclaim_lead_s;        /* how far ahead the forecast is read */
    int64_t checkpoint_deadline_s; /* a checkpoint-first victim is deleted by then */

    /* Priority preemption among training jobs (docs/policy.md, "Priority preemption"). */
    bool preemption;               /* a queued job may preempt lower-priority running jobs */
    int64_t preempt_min_runtime_s; /* a job is safe from priority preemption this long */
    int preempt_budget;            /* at most this many victims per cluster ... */
    int64_t preempt_window_s;      /* ... in any window of this length */
};

#define POLICY_PREEMPT_BUDGET_MAX 64 /* largest preempt_budget (the state keeps the times) */

/* Checks ranges (weights >= 0, times >= 0, reclaim_k >= 1, ...). Fails with ERR_CONFIG
 * naming the knob ("policy.reclaim_k"). */
int policy_config_validate(const struct policy_config *c, struct err *e);

/* ---- inputs ------------------------------------------------------------------------ */

/* A queued job, as the policy needs it. Strings are borrowed: they must outlive the call
 * and the result. SKU ids are snapshot SKU ids (snapshot_sku_find); -1 = unknown SKU. */
struct policy_job {
    uint64_t id; /* caller's stable id; the last tie-break */
    const char *ns;
    const char *name;
    int sku;
    int alt_skus[POLICY_ALT_SKUS_MAX]; /* acceptable alternatives, in preference order */
    size_t n_alt_skus;
    /* The job's declared relative throughput on each of those SKUs, in the same order
     * (sku, then alt_skus: 1 + n_alt_skus figures; borrowed), in any unit: only the ratios
     * count. When every SKU the job accepts has a figure > 0, the cost term prices work,
     * not GPU time: a SKU's cost per GPU-hour times the job's best throughput over its
     * throughput there. NULL (or a figure <= 0) = none declared. */
    const double *throughput;
    int gpu_count;
    int gpus_per_worker; /* 0 = gpu_count (one worker) */
    /* What one worker's pod requests besides GPUs, as its pod template says (the same
     * figures the manifest writes): CPU in millicores, memory in MiB; 0 = no request. A
     * node is a candidate for a worker only when its free CPU and memory cover these. */
    int64_t cpu_m_per_worker;
    int64_t mem_mib_per_worker;
    int priority;
    bool preemptible;
    int64_t created_ms;
    int64_t queued_ms; /* when it (re-)entered the queue; 0 = created_ms */
    int attempt;
    int64_t max_runtime_s;         /* 0 = unknown */
    int64_t checkpoint_interval_s; /* 0 = does not checkpoint */
    const char *const *affinity;   /* cluster names in preference order; empty = any */
    size_t n_affinity;
    const char *region; /* preferred region (data locality); NULL = none */
    /* Prerequisites this job needs besides those every job needs (NAMESPACE, PERMISSIONS,
     * PRIORITY_CLASS, and PRIORITY_CLASS_BORROWED on borrowed capacity): bits
     * 1u << SNAPSHOT_PREREQ_*; policy_framework_prereqs() gives them. 0 = none. */
    uint32_t prereqs;
    /* Clusters where the job's starts timed out since it last ran (its workers did not all
     * start, as when the member's scheduler cannot use capacity the snapshot shows free):
     * the job is placed in one of them again only when no other cluster can take it now.
     * Unknown names are ignored; empty = none. */
    const char *const *avoid_clusters;
    size_t n_avoid_clusters;
};

/* The extra prerequisites of a framework ("ray": KUBERAY and RAY_PERMISSIONS; any other,
 * NULL included: 0). */
uint32_t policy_framework_prereqs(const char *framework);

/* Where one worker of a placement goes: a node (snapshot index in results; by name in
 * running placements, which outlive snapshots) and its GPUs. */
struct policy_worker {
    size_t node;
    int gpus;
    /* nodefit's verdict on the node chosen (policy/nodefit.h): the expected stranded GPU
     * capacity this worker adds, plus the demand it turns away on that kind of node, in
     * GPUs; scored false when best fit chose alone (no profile, or a node of more than
     * NODEFIT_GPUS_MAX GPUs). */
    bool scored;
    double stranded_gpus;
};

/* A placement that holds GPUs now (Admitted, Dispatched, Running, Preempting). */
struct policy_running {
    uint64_t id;
    const char *ns;
    const char *name;
    const char *cluster;
    enum snapshot_pool pool; /* SNAPSHOT_POOL_SERVING = runs on borrowed serving GPUs */
    int sku;
    int gpus;
    int priority;
    bool preemptible;
    int64_t started_ms;         /* admission time when not started yet */
    int64_t last_checkpoint_ms; /* 0 = none reported */
    int64_t lease_end_ms;       /* borrowed only: end of the lease */
    bool reclaiming;            /* a reclaim is already under way */
    int64_t checkpoint_by_ms;   /* reclaiming checkpoint-first: not deleted before its
                                   checkpoint or this time; 0 = deleted at once */
    /* false while its pods are not yet in the snapshot (just admitted): the policy then
     * subtracts plan from the nodes' free GPUs itself. */
    bool in_snapshot;
    int gpus_per_worker;      /* 0 = gpus (one worker) */
    int64_t cpu_m_per_worker; /* as policy_job: held on the plan's nodes while !in_snapshot */
    int64_t mem_mib_per_worker;
    const struct job_node_use *plan;
    size_t n_plan;
};

/* Quota of namespace ns for one SKU, with Kueue's meaning. Limits < 0 = unlimited. */
struct policy_quota {
    const char *ns;
    int sku;
    int nominal;         /* GPUs guaranteed to ns */
    int borrowing_limit; /* GPUs ns may use above nominal, taken from others' unused quota */
    int lending_limit;   /* GPUs of ns's unused nominal quota that others may borrow */
};

/* A quota as configured, by SKU name (snapshots number SKUs by the catalogue in force,
 * so names are resolved per cycle with policy_quotas_resolve()). */
struct policy_quota_spec {
    char ns[POLICY_NS_MAX];
    char sku[SNAPSHOT_SKU_NAME_MAX];
    int nominal;
    int borrowing_limit; /* < 0: unlimited */
    int lending_limit;   /* < 0: unlimited */
};

/* Writes the specs whose SKU the snapshot knows into out (room for n) as policy_quota,
 * borrowing the namespace strings from specs; returns how many it wrote. */
size_t policy_quotas_resolve(const struct snapshot *snap, const struct policy_quota_spec *specs,
                             size_t n, struct policy_quota *out);

/* Fair-share weight of a namespace (default 1 for namespaces not listed). */
struct policy_namespace {
    const char *ns;
    double weight;
};

/* The serving-demand forecast of one cluster's serving pool for one SKU: its high quantile
 * (p95, rounded up) of serving GPUs wanted per 15-minute step for the next 24 h,
 * high[i] over [from_ms + i * 15 min, from_ms + (i + 1) * 15 min); -1 = unknown. The
 * scheduler learns it from capacity samples (policy/forecast.h); lending reads it
 * (docs/policy.md, "Borrowing serving GPUs"). */
#define POLICY_FORECAST_STEPS 96
struct policy_forecast {
    const char *cluster;
    int sku; /* snapshot SKU id */
    int64_t from_ms;
    int high[POLICY_FORECAST_STEPS];
};

struct policy_input {
    const struct snapshot *snap;
    const struct policy_job *queue;
    size_t n_queue;
    const struct policy_running *running;
    size_t n_running;
    const struct policy_quota *quotas;
    size_t n_quotas;
    const struct policy_namespace *namespaces;
    size_t n_namespaces;
    const struct policy_config *cfg;
    int64_t now_ms;
    const struct policy_forecast *forecasts; /* none: lending by the fixed rules alone */
    size_t n_forecasts;
};

/* ---- state carried between cycles ---------------------------------------------------- */

/* Per-cluster serving-pool state: hysteresis, rate limit, back-off. */
struct policy_pool_state {
    char cluster[SNAPSHOT_NAME_MAX];
    int streak[SNAPSHOT_SKU_MAX];               /* consecutive snapshots with a positive deficit */
    int64_t deficit_since_ms[SNAPSHOT_SKU_MAX]; /* taken_ms of the streak's first snapshot
                                                   (not kept across leaders: a new leader
                                                   starts the clock again) */
    uint64_t last_seq;                          /* seq + 1 of the snapshot last counted; 0 = none */
    int64_t tokens_milli;                       /* reclaim tokens x 1000 */
    int64_t tokens_at_ms;                       /* last refill; 0 = bucket not started (full) */
    int64_t backoff_until_ms;                   /* no lending before this */
    int backoff_level;                          /* reclaims in a row without a quiet period */
    int64_t last_reclaim_ms;
};

/* Decayed GPU-hours of one namespace per SKU, as of as_of_ms. */
struct policy_usage {
    char ns[POLICY_NS_MAX];
    double gpu_hours[SNAPSHOT_SKU_MAX];
    int64_t as_of_ms;
};

/* What the caller keeps between cycles and passes back unchanged. Zeroed is a valid
 * empty state; policy_decide() adds entries as it meets clusters and namespaces. */
/* Per-cluster priority preemptions: the times of the last preempt_budget victims, a ring. */
struct policy_preempt_log {
    char cluster[SNAPSHOT_NAME_MAX];
    int64_t at_ms[POLICY_PREEMPT_BUDGET_MAX];
    size_t next; /* slot the next preemption overwrites */
};

struct policy_state {
    struct policy_pool_state *pools;
    size_t n_pools, cap_pools;
    struct policy_preempt_log *preempts; /* not kept across leaders: a new leader starts with
                                            the whole budget */
    size_t n_preempts, cap_preempts;
    struct policy_usage *usage;
    size_t n_usage, cap_usage;
    int64_t last_now_ms; /* now of the previous cycle; 0 before the first */
    uint64_t *backfill;  /* ids of the jobs placed on reserved nodes (backfill) that still run
                            or were just placed, sorted; not kept across leaders: a new
                            leader waits for them to end instead of evicting them */
    size_t n_backfill, cap_backfill;
    uint64_t *reserved; /* the nodes reserved at the end of the previous cycle, each with
                           its holder (engine_reserve_key()), sorted: a reservation evicts
                           backfilled jobs only from nodes it held then too; not kept
                           across leaders */
    size_t n_reserved, cap_reserved;
};

/* What reclaiming a running job costs: GPU-hours since its last checkpoint (or its start). */
double policy_lost_gpu_hours(const struct policy_running *ru, int64_t now_ms);
/* Workers of running placement ru on entry p of its plan (one when gpus_per_worker is 0):
 * what it holds there besides GPUs is that many times its per-worker CPU and memory. */
int64_t policy_plan_workers(const struct policy_running *ru, size_t p);
/* The grace period a reclaimed job gets: grace_period_s, at least 1, at most
 * grace_period_max_s. */
int64_t policy_grace_s(const struct policy_config *cfg);

struct policy_state *policy_state_new(void);     /* caller owns; policy_state_free() */
void policy_state_free(struct policy_state **s); /* NULL-safe; sets *s to NULL */

/* Finds (or, with create, adds) the entry of a cluster / namespace. NULL when absent and
 * !create. Pointers are valid until the next call that may add an entry. */
struct policy_pool_state *policy_state_pool(struct policy_state *s, const char *cluster,
                                            bool create);
struct policy_usage *policy_state_usage(struct policy_state *s, const char *ns, bool create);
/* The preemption log of a cluster, as policy_state_pool(). */
struct policy_preempt_log *policy_state_preempts(struct policy_state *s, const char *cluster,
                                                 bool create);
/* Priority preemptions in cluster's log within the window (now - window_s, now]. */
int policy_preempts_in_window(const struct policy_preempt_log *l, int64_t now_ms, int64_t window_s);

/* ---- outputs ----------------------------------------------------------------------- */

/* Why a job cannot go to a cluster (or anywhere). Stable snake_case names on the wire. */
enum policy_reason {
    POLICY_REASON_NONE = 0,
    POLICY_REASON_INVALID_SPEC,    /* gpu count not a multiple of per-worker, ... */
    POLICY_REASON_UNKNOWN_SKU,     /* no SKU of the job exists in the snapshot */
    POLICY_REASON_NO_CLUSTERS,     /* the snapshot has no clusters */
    POLICY_REASON_AFFINITY,        /* cluster not in the job's clusterAffinity */
    POLICY_REASON_CORDONED,        /* cluster cordoned */
    POLICY_REASON_UNHEALTHY,       /* cluster not Ready (or Degraded when allowed) */
    POLICY_REASON_STALE,           /* capacity data older than max_data_age_s */
    POLICY_REASON_NO_SKU_NODES,    /* cluster has no nodes of the SKU in any usable pool */
    POLICY_REASON_NEVER_FITS,      /* even empty, the cluster cannot hold the gang */
    POLICY_REASON_INSUFFICIENT,    /* not enough free GPUs in whole-worker slots now */
    POLICY_REASON_RESERVED,        /* the free GPUs are reserved for an earlier job */
    POLICY_REASON_QUOTA,           /* namespace quota (borrowing limit or cohort) */
    POLICY_REASON_NOT_PREEMPTIBLE, /* serving capacity is only lent to preemptible jobs */
    POLICY_REASON_LENDING_CLOSED,  /* outside lending window and not idle long enough */
    POLICY_REASON_LENDING_BACKOFF, /* pool recently reclaimed: lending paused */
    POLICY_REASON_NO_LENDABLE,     /* free - reserve - pending serving demand too small */
    POLICY_REASON_LEASE_TOO_SHORT, /* maxRuntime exceeds lease, checkpoints too rare */
    POLICY_REASON_NO_SERVING_POOL, /* cluster has no serving pool */
    POLICY_REASON_MISSING_PREREQ,  /* the cluster lacks a prerequisite of the job (the
                                      why's prereq; its message is the snapshot's) */
    POLICY_REASON_NODE_RESOURCES,  /* the GPUs are free in whole-worker slots, but the nodes
                                      that have them lack a worker's CPU or memory */
    POLICY_REASON_COUNT
};
const char *policy_reason_name(enum policy_reason r);

/* Details of a reason, enough to write the sentence ("needs 8 workers of 8 GPUs, 5 nodes
 * have 8 free"). Fields not relevant to the reason are 0 / -1. */
struct policy_why {
    enum policy_reason reason;
    int cluster; /* snapshot cluster index, -1 for job-wide reasons */
    int sku;     /* -1 when not about one SKU */
    enum snapshot_pool pool;
    int workers;    /* workers needed */
    int per_worker; /* GPUs per worker */
    int have;       /* INSUFFICIENT/NEVER_FITS/RESERVED: workers that fit; NO_LENDABLE: GPUs
                       lendable; QUOTA: GPUs the namespace uses of the SKU */
    int nodes;      /* INSUFFICIENT/RESERVED: nodes with at least per_worker GPUs free */
    int need;       /* GPUs the job needs */
    int64_t value;  /* STALE: age s; LEASE_TOO_SHORT: lease left s; LENDING_BACKOFF: s left;
                       QUOTA: the limit that was hit (GPUs) */
    int64_t value2; /* LEASE_TOO_SHORT: job maxRuntime s; QUOTA: nominal quota */
    const char *ns; /* QUOTA: the namespace (borrowed from the input) */
    /* RESERVED: the job holding the reservation when it is of the same namespace (borrowed
     * from the input); by_other_ns when it is of another, which is not named. */
    const char *by_ns, *by_name;
    bool by_other_ns;
    /* CORDONED/UNHEALTHY/STALE: the cluster has room for the job now, so its state is what
     * keeps the job waiting */
    bool room;
    /* NEVER_FITS for every cluster: counted over the job's clusterAffinity */
    bool aff;
    /* NEVER_FITS: nodes of the SKU (and their GPUs) that could hold a worker but are left
     * out of "even when idle" because they take no pods of ours: NotReady, cordoned, or
     * tainted against them */
    int down_nodes, down_gpus;
    /* CORDONED/UNHEALTHY/STALE/MISSING_PREREQ: no cluster that takes placements could hold
     * the job even idle, and this one could: the job waits for its state to change, not for
     * capacity. NOT_PREEMPTIBLE: no training pool could hold it even idle, serving pools
     * could. AFFINITY (job-wide, cluster -1): no cluster the job's clusterAffinity names is
     * a member cluster (a typo, or one not registered yet). */
    bool only;
    /* QUOTA: refused because a non-preemptible job may not run above nominal quota (value is
     * then the nominal quota) */
    bool in_nominal;
    enum snapshot_prereq prereq; /* MISSING_PREREQ: which one */
    /* NODE_RESOURCES, and NEVER_FITS when CPU or memory is what never fits: one worker's
     * request (value: nodes with the GPUs short of CPU, value2: short of memory). */
    int64_t cpu_m, mem_mib;
};

/* Whether namespaces a and b are the same (NULL is none). */
bool policy_same_ns(const char *a, const char *b);

/* Writes one English sentence for w ("h100-80gb: needs 8 workers of 8 GPUs, 5 nodes have 8
 * free") into out (truncated to size). */
void policy_why_format(const struct policy_why *w, const struct snapshot *snap, char *out,
                       size_t size);

struct policy_pending;
/* Writes "waiting for the preemption of ns/a, ns/b in cluster az1" for a pending job that
 * preempts (p->preempting) into out (truncated to size); -1 (out untouched) for any other.
 * Victims of another namespace than the job's are counted, not named ("ns/a, 2 jobs of
 * another namespace"): a tenant learns nothing of the others' jobs (docs/security.md). */
int policy_preemption_format(const struct policy_input *in, const struct policy_pending *p,
                             char *out, size_t size);

/* Score of one candidate (cluster, pool, SKU), term by term. */
struct policy_score {
    int cluster;
    enum snapshot_pool pool;
    int sku;
    double fit, cost, locality, freshness, sku_pref, borrowed;
    double total;
    /* What the cost term priced: the SKU's price per GPU-hour, and the factor that made it
     * a price per unit of work (policy_job.throughput; 1 when the job declares none). */
    double price_per_gpu_hour;
    double work_factor;
};

struct policy_placement {
    size_t job; /* index into input queue */
    int cluster;
    enum snapshot_pool pool;
    int sku;
    struct policy_worker *workers; /* n_workers, one per worker; owned by the result */
    size_t n_workers;
    bool over_quota;      /* runs above nominal quota (a quota borrower) */
    int64_t lease_end_ms; /* borrowed placements only; 0 otherwise */
    struct policy_score chosen;
    struct policy_score runner_up; /* valid when has_runner_up */
    bool has_runner_up;
    int n_candidates; /* feasible candidates considered */
};

struct policy_pending {
    size_t job;            /* index into input queue */
    struct policy_why why; /* the most telling reason over all clusters */
    bool reserving;        /* holds a reservation this cycle */
    bool reclaiming;       /* quota borrowers are being reclaimed to make room for it */
    bool preempting;       /* lower-priority jobs are being preempted to make room for it */
    /* The running jobs (indices into the input's running) whose end it waits for when
     * preempting: this cycle's victims and those still stopping from earlier cycles, all
     * in one cluster (victims_cluster). Points into the result. */
    const size_t *victims;
    size_t n_victims;
    int victims_cluster;
};

enum policy_reclaim_reason {
    POLICY_RECLAIM_DEFICIT = 0, /* serving demand + reserve exceeded free GPUs for K snaps */
    POLICY_RECLAIM_LEASE_END,   /* the lease ends within the grace period */
    POLICY_RECLAIM_QUOTA,       /* a quota borrower gives GPUs back to a job within its
                                   namespace's nominal quota */
    POLICY_RECLAIM_PRIORITY,    /* preempted for a queued job of higher priority */
    POLICY_RECLAIM_ANNOUNCED,   /* serving replicas announced by HPAs or Deployments, with no
                                   pods yet, exceed free GPUs (proactive_reclaim) */
    POLICY_RECLAIM_FORECAST,    /* the forecast's high quantile of serving demand within
                                   reclaim_lead_s exceeds free GPUs (proactive_reclaim) */
    POLICY_RECLAIM_BACKFILL,    /* a preemptible job that went ahead of a reserving job
                                   (backfill) gives its reserved nodes back */
};
const char *policy_reclaim_reason_name(enum policy_reclaim_reason r);

struct policy_reclaim {
    size_t running; /* index into input running */
    size_t for_job; /* QUOTA, PRIORITY, BACKFILL: queue index of the job the GPUs are reclaimed
                       for */
    int cluster;
    int sku;
    enum policy_reclaim_reason reason;
    int deficit;           /* GPUs the pool was short (DEFICIT) */
    double lost_gpu_hours; /* GPUs x time since last checkpoint or start */
    int64_t grace_s;
    int64_t checkpoint_by_ms; /* > 0 (ANNOUNCED, FORECAST): ask the job to checkpoint first and
                                 delete it at its next checkpoint or at this time, whichever
                                 comes first; 0: delete now */
    /* DEFICIT for a Pending serving pod that no node could take (policy_pool_status.stuck):
     * that pod (in the snapshot) and the node this reclaim makes room on; NULL otherwise. */
    const struct snapshot_pending_pod *pod;
    const char *node;
    /* PRIORITY for a job its own namespace's quota refused: this victim, of the same
     * namespace, gives that quota back (docs/policy.md, "Within its own quota"). */
    bool within_quota;
};

/* Per cluster x SKU serving-pool status this cycle (for explanations and dashboards). */
struct policy_pool_status {
    int cluster;
    int sku;
    bool lending;                     /* new borrowers accepted this cycle */
    enum policy_reason closed_reason; /* why not, when !lending */
    int64_t lease_end_ms;             /* lease a new borrower gets */
    const char *lease_bound;          /* what set it and lendable ("window_end", "idle_lease",
                                         "forecast_peak", "forecast_horizon", "min_lease",
                                         "none") */
    int forecast_peak;                /* forecast GPUs left to serving over it; -1: none */
    int64_t forecast_peak_at_ms;      /* forecast_peak, min_lease: the step of the peak */
    int lendable;                     /* GPUs lendable at the start of the cycle */
    int lent;                         /* GPUs lent by this cycle's placements */
    int deficit;                      /* GPUs short; with proactive_reclaim, of demand ahead too */
    int deficit_now; /* of these, short for pods Pending now (pending + reserve - free) */
    /* GPUs of Pending serving pods (snapshot_serving_pool.pending) that no serving node can
     * take now, by its free GPUs, CPU and memory, once the borrowers already leaving are
     * gone: reclaimed node by node even when the pool's free GPUs cover the demand. */
    int stuck;
    int ahead_peak; /* proactive_reclaim: the forecast's high quantile of serving demand
                          within reclaim_lead_s; -1 = none */
    int streak;
    int reclaimed;     /* GPUs reclaimed this cycle */
    int short_by;      /* deficit not covered (protected by min runtime or rate limit) */
    bool rate_limited; /* some victims were held back by the rate limit */
};

struct policy_residual; /* capacity left after the cycle, for explanations (opaque) */

struct policy_result {
    struct policy_placement *placements;
    size_t n_placements;
    struct policy_pending *pending;
    size_t n_pending;
    struct policy_reclaim *reclaims;
    size_t n_reclaims;
    struct policy_pool_status *pools;
    size_t n_pools;
    struct policy_residual *residual;
    size_t *victims; /* arena of the pending entries' victims */
    size_t n_victims;
};

/* Runs one decision cycle. Reads in (which must stay valid while *out is used), updates
 * *st (hysteresis counters, token buckets, back-off, fair-share usage), and returns the
 * decisions in *out (caller owns; policy_result_free()). Every queued job appears exactly
 * once, either placed or pending; placements appear in decision order. On failure (invalid
 * config or snapshot: ERR_CONFIG / ERR_INVALID) *st and *out are untouched.
 * Not thread-safe on the same st; different states may be used from different threads. */
int policy_decide(const struct policy_input *in, struct policy_state *st,
                  struct policy_result **out, struct err *e);
void policy_result_free(struct policy_result **r); /* NULL-safe; sets *r to NULL */

#endif
