/* whatif_engine.h -- the discrete-event simulation behind `fedsched simulate`: a job trace
 * replayed over a modelled federation in simulated time, decided either by the real policy
 * (policy_decide(), the code `serve` runs, with or without borrowing) or by a baseline
 * scheduler, with serving demand that rises and falls, reclaims with a grace period and the
 * work lost since the last checkpoint, and requeues.
 * Events: job arrivals, policy cycles every cycle_s, completions, serving-demand steps every
 * demand_step_s, the end of reclaim grace periods. At one instant they are handled in that
 * order: completions and kills free GPUs first, demand moves, arrivals join the queue, then
 * the cycle decides.
 * Not responsible for reading inputs (sim/whatif_model.c) or printing (sim/whatif.c).
 * Deterministic: the same inputs and options always give the same report (and digest); no
 * clock, no global state, no randomness beyond the seeded choices in the job trace.
 * Threads: whatif_run() touches only its arguments, so runs may go in parallel. */
#ifndef WHATIF_WHATIF_ENGINE_H
#define WHATIF_WHATIF_ENGINE_H

#include "policy/eta.h"
#include "policy/policy.h"
#include "whatif/serving.h"
#include "whatif/whatif_model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

enum whatif_sched {
    WHATIF_OURS = 0,          /* policy_decide() with the layout's lending rules */
    WHATIF_OURS_NO_BORROW,    /* policy_decide() with every serving pool closed to lending */
    WHATIF_FIFO,              /* strict arrival order, first cluster and first nodes that fit;
                                the head blocks everyone behind it */
    WHATIF_MOST_FREE,         /* arrival order, skipping jobs that fit nowhere; the cluster with
                                the most free GPUs among those that fit (Michelangelo's original
                                LoadScorer) */
    WHATIF_ORDERED_FIRST_FIT, /* arrival order, skipping; the first cluster in configured order
                                that fits (MultiKueue-like) */
    WHATIF_OURS_FORECAST,     /* policy_decide() lending from the serving-demand forecast it is
                                 given (policy_input.forecasts, learned in the run from the
                                 simulated serving use with policy/forecast_set.h, as
                                 scheduler/forecasts.c learns it live); reactive reclaim */
    WHATIF_OURS_PROACTIVE,    /* the same with proactive_reclaim: borrowers are asked to
                                 checkpoint and given back ahead of forecast demand */
    WHATIF_SCHED_COUNT
};

#define WHATIF_SCHED_DEFAULT 5 /* a run without --schedulers: the first five */

/* "ours", "ours-no-borrow", "fifo", "most-free", "ordered-first-fit", "ours-forecast",
 * "ours-proactive". WHATIF_OURS is today's reactive lending: proactive_reclaim is off in it
 * whatever the config says, and it gets no forecast. */
const char *whatif_sched_name(enum whatif_sched s);
int whatif_sched_parse(const char *s, enum whatif_sched *out, struct err *e);

/* The estimate-vs-actual measurement of queue ETAs (policy/eta.h) under the policy
 * schedulers: how it assumes the runtimes nobody declared. */
enum whatif_eta {
    WHATIF_ETA_OFF = 0,
    WHATIF_ETA_HISTORY, /* a job without max_runtime_s runs as the finished jobs of its
                           namespace (3 or more, else of every namespace, else
                           eta.default_runtime_s) did so far: the median for a running job,
                           the mean for a queued one. What a live system can know */
    WHATIF_ETA_ORACLE,  /* every job runs its true runtime, as if each had declared an exact
                          maxRuntimeSeconds: what is left is the queue's own dynamics */
};
const char *whatif_eta_name(enum whatif_eta m); /* "off", "history", "oracle" */
int whatif_eta_parse(const char *s, enum whatif_eta *out, struct err *e);

/* How ours-forecast and ours-proactive lend. */
enum whatif_forecast_lend {
    WHATIF_FORECAST_LEND_ANY_HOUR = 0, /* lend_policy "forecast" without windows: at any hour
                                          the forecast allows, for the lease it fits; the idle
                                          rule until the forecast knows the pool */
    WHATIF_FORECAST_LEND_RULES,        /* the layout's lending rules (windows), leases
                                          shortened by the forecast */
};

struct whatif_opts {
    int64_t cycle_s;       /* decision cadence (policy cycles and baselines alike) */
    int64_t demand_step_s; /* serving demand is re-evaluated this often */
    double window_s;       /* utilisation is measured over [0, window_s); 0 = up to the last
                              arrival */
    double drain_s;        /* after the last arrival, run at most this long */
    struct policy_config cfg;
    enum whatif_eta eta; /* OFF: no estimates (and no cost) */
    /* Serving demand from a trace (serving.h) in every serving pool, read in each cluster's
     * local time, instead of the layout's demand curves; NULL: the curves. */
    const struct whatif_serving *serving;
    int64_t checkpoint_write_s; /* a checkpoint-first victim takes this long to checkpoint */
    /* Every job declares its relative throughput on each SKU it accepts (the inverse of
     * its duration there) to the policy, which then prices work, not GPU time
     * (policy_job.throughput); false: no job declares one, as a job without
     * spec.resources.relativeThroughput. The baselines never look. */
    bool declared_throughput;
    enum whatif_forecast_lend forecast_lending;
    /* The forecasts start with this much serving demand learned from before the run (a
     * pool with history); 0: they learn from the run alone (a new pool). */
    int64_t forecast_history_s;
    struct eta_opts eta_opts; /* default 4 h runtime, 1 h step, 2,000 decisions, no work cap */
};

/* cycle 60 s, demand step 300 s, window = arrivals, drain 30 days, checkpoint write 60 s,
 * no serving trace, and a copy of policy (the
 * simulator has no policy defaults of its own: cmd passes the configuration's, tests
 * config_defaults()'s). */
void whatif_opts_defaults(struct whatif_opts *o, const struct policy_config *policy);

/* The serving guarantee the configuration implies: a borrower admitted just before demand
 * rises is safe for min_runtime_s, a deficit must last reclaim_k snapshots, the decision
 * comes at the next cycle, then the grace period runs. */
double whatif_reclaim_bound_s(const struct whatif_opts *o);

struct whatif_ns_stats {
    char ns[WHATIF_NAME_MAX];
    size_t jobs, completed;
    double avg_jct_s, p95_jct_s, avg_wait_s, p95_wait_s;
};

struct whatif_pool_stats {
    int cluster;
    enum snapshot_pool pool;
    int sku;
    int gpus;
    double util;         /* share of GPU time held by training jobs (borrowers on serving) */
    double serving_util; /* serving pools: share held by serving replicas */
};

/* Estimated start vs actual first start. Each job is estimated once, at the first cycle
 * that sees it queued, before that cycle decides (as explain would answer then). Errors
 * are in hours; relative error is |estimate - actual| / the wait that followed. */
struct whatif_eta_stats {
    size_t estimated;   /* jobs estimated */
    size_t no_estimate; /* the estimate was null: capped, or never placed in the simulation */
    size_t capped;      /* of those, capped by eta_opts.max_events */
    size_t measured;    /* estimate and actual start both known */
    size_t waited;      /* of those, started a cycle or more after the estimate */
    double p50_abs_h, p90_abs_h;               /* over measured */
    double p50_abs_waited_h, p90_abs_waited_h; /* over waited */
    double p50_rel, p90_rel;                   /* over waited */
    double p50_signed_h; /* over waited, median of estimate - actual; < 0: optimistic */
    double cpu_s;        /* time spent estimating */
};

/* What happened in one run. Caller owns it; whatif_report_free(). */
struct whatif_report {
    enum whatif_sched sched;
    size_t jobs, completed, never_placed, unfinished;
    double avg_jct_s, p95_jct_s, avg_wait_s, p95_wait_s;
    /* Jobs of more than one worker (the multi-node gangs reservations protect), and their
     * average and longest queueing delay, counted as avg_wait_s counts it. */
    size_t gangs;
    double gang_avg_wait_s, gang_max_wait_s;
    double training_util; /* training pools, over the window */
    double serving_util;  /* serving pools: replicas + borrowers, over the window */
    double overall_util;  /* every GPU: training jobs + borrowers + serving replicas */
    /* Training work done by the window's end, in GPU-hours on each job's fastest SKU: a job
     * that runs on a slower SKU holds more GPU-time (utilisation) for the same work. Work
     * lost to reclaims is not counted; a job running at the end counts its progress so far. */
    double work_gpu_hours;
    /* GPU-hours of training pools left free over the window while a queued job accepted
     * their SKU (judged after each cycle's decisions): capacity idle with work waiting for
     * it, for whatever reason (a reservation, a gang that does not fit, fragments, the
     * policy's choice). Utilisation also falls when nothing waits; this does not. */
    double idle_queued_gpu_hours;
    double borrowed_gpu_hours;
    size_t reclaims, reclaims_deficit, reclaims_lease_end;
    /* Preempted for a higher-priority job, and quota taken back (the simulator has no
     * quotas, so always 0 for now). */
    size_t reclaims_priority, reclaims_quota;
    /* Backfilled jobs giving reserved nodes back to the job that reserved them. */
    size_t reclaims_backfill;
    double lost_gpu_hours;
    double unmet_serving_gpu_hours; /* serving demand that found no GPU */
    double max_unmet_s;             /* longest stretch with unmet serving demand (any pool) */
    double max_unmet_borrowed_s;    /* the same, counting only stretches while borrowers held
                                       GPUs of that pool (what reclaim is for) */
    double reclaim_bound_s;         /* whatif_reclaim_bound_s() */
    /* Reclaims ahead of serving demand (reasons ANNOUNCED, FORECAST: checkpoint first), and
     * of those the victims that wrote their checkpoint before the deadline. */
    size_t reclaims_ahead, ckpt_in_time;
    /* Victims asked to checkpoint first (ahead of demand, and lease ends with
     * proactive_reclaim), and those the policy then deleted at once because pods were
     * Pending (escalated; not counted again in reclaims). */
    size_t ckpt_asked, reclaims_escalated;
    /* GPU-hours lost by borrowers given back to serving (deficit, lease end, ahead), the
     * part of lost_gpu_hours that lending costs training. */
    double lost_lending_gpu_hours;
    /* Serving pods (with a serving trace): how many arrived, how many waited for GPUs, and
     * their pending time (arrival to GPUs; a pod that left or is still waiting at the end
     * counts its wait so far), over every pod. */
    size_t spods, spods_waited;
    double spod_wait_avg_s, spod_wait_p50_s, spod_wait_p99_s, spod_wait_max_s;
    double spod_waited_p50_s, spod_waited_p99_s; /* over the pods that waited */
    double serving_wanted_gpu_hours;             /* serving demand over the run, GPU-hours */
    double window_s, end_s;
    size_t cycles, decisions; /* cycles run, policy_decide() calls (or baseline passes) */
    double decide_s;          /* CPU time spent deciding */
    uint64_t digest;          /* FNV-1a over every placement and reclaim, in order */
    size_t overcommits;       /* placements that left a node with more GPUs used than it has
                                 (always 0 unless something is wrong) */
    struct whatif_ns_stats *ns;
    size_t n_ns;
    struct whatif_pool_stats *pools;
    size_t n_pools;
    enum whatif_eta eta_mode; /* OFF for baselines and when not asked */
    struct whatif_eta_stats eta;
};

/* Runs one scheduler over the trace. ERR_INVALID when the layout has no nodes or more
 * nodes than WHATIF_NODES_MAX; ERR_CONFIG when the policy config is invalid. */
int whatif_run(const struct whatif_layout *l, const struct whatif_jobs *jobs, enum whatif_sched s,
               const struct whatif_opts *o, struct whatif_report **out, struct err *e);
void whatif_report_free(struct whatif_report **r); /* NULL-safe; sets *r to NULL */

#endif
