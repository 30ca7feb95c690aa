/* reports.h -- capacity reports: capacity samples and job events aggregated per time step,
 * cluster, SKU and pool over a window [from, to). All the arithmetic runs in PostgreSQL
 * (window functions, percentile_disc), so a month of samples returns a few hundred rows.
 * Not responsible for parsing options from text or rendering (api/reports_format.c). */
#ifndef STORE_REPORTS_H
#define STORE_REPORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;

/* A sample holds its values from its timestamp until the next sample of the same
 * cluster/SKU/pool, but never longer than this: a cluster that stopped reporting stops
 * counting instead of being extrapolated for days. */
#define STORE_REPORT_SAMPLE_MAX_GAP_MS (10 * 60 * 1000)
#define STORE_REPORT_MAX_STEPS         10000 /* (to - from) / step, rounded up */
#define STORE_REPORT_MAX_WINDOW_MS     (400LL * 24 * 3600 * 1000)

#define STORE_REPORT_FILTER_MAX 1024 /* bytes of one filter's list */

/* The caller fills this. Times are milliseconds since the epoch; step > 0. The filters
 * are lists of names joined by commas (names hold none: cluster names are DNS labels, SKU
 * names are refused with one), "" for every one; a row, an event and a ledger row count
 * only when their cluster, SKU and pool are in the lists (api/reports_format.c checks
 * them). */
struct store_report_opts {
    int64_t from_ms;
    int64_t to_ms;
    int64_t step_ms;
    char clusters[STORE_REPORT_FILTER_MAX];
    char skus[STORE_REPORT_FILTER_MAX];
    char pools[32];
};

/* One time step x cluster x SKU x pool. Definitions (docs/operations.md has them too):
 *  - GPU-hours integrate the samples' GPU counts over time (see the max gap above);
 *    training = used in the training pool, borrowed in the serving pool; serving = used
 *    minus borrowed in the serving pool; idle = total - used (never below 0);
 *    unavailable = total - used - free (never below 0), the part of idle on nodes the
 *    policy cannot use (NotReady, cordoned, tainted: free counts schedulable nodes only);
 *  - utilisation = used / total GPU-hours, in percent (0 when total is 0);
 *  - jobs placed / succeeded / failed count events in the step whose to_phase is
 *    Admitted / Succeeded / Failed, attributed to the cluster, pool and placed SKU the
 *    event records (an event from before migration 0026 records none: the job's cluster
 *    and pool as stored now and its requested SKU; "-" when it has none);
 *  - jobs preempted counts the ledger's rows of cause reclaim or preemption requested in
 *    the step, on the cluster, pool and placed SKU the job ran on;
 *  - queue wait is the time from the job's last entry into Queued to an Admitted event
 *    in the step; p50/p95 are nearest-rank percentiles (percentile_disc), -1 when no job
 *    was placed;
 *  - GPU-hours lost: the sum of those ledger rows' lost_gpu_hours (GPUs x the time since
 *    the later of the run's start and its last checkpoint, as the scheduler recorded it
 *    when it asked for the GPUs back). Failure retries are in the ledger but not here. */
struct store_report_row {
    int64_t start_ms;
    int64_t end_ms; /* the last step ends at opts.to_ms */
    char cluster[64];
    char sku[32];
    char pool[32];
    double gpu_hours_total;
    double gpu_hours_used;
    double gpu_hours_training;
    double gpu_hours_serving;
    double gpu_hours_borrowed;
    double gpu_hours_idle;
    double gpu_hours_unavailable; /* part of idle */
    double utilisation_pct;
    int64_t jobs_placed;
    int64_t jobs_succeeded;
    int64_t jobs_failed;
    int64_t jobs_preempted;
    double wait_p50_s; /* -1 when no job was placed here in this step */
    double wait_p95_s;
    double gpu_hours_lost;
    /* Pool "serving" only: the serving-demand forecast for this step (the mean p50 and
     * p95 of its 15-minute slots, api/forecast_json.h), filled in by the API layer; not
     * known when there is no forecast yet or the store layer built the row alone. */
    bool forecast_known;
    double forecast_p50;
    double forecast_p95;
};

/* Queue wait over the whole window, by requested SKU (the placed one may differ); with
 * filters, of the jobs placed on the clusters, SKUs and pools they name. */
struct store_report_wait {
    char sku[32];
    int64_t jobs;
    double p50_s;
    double p95_s;
};

/* Exposed because renderers read it and tests build one by hand. */
struct store_report {
    struct store_report_opts opts;
    struct store_report_row *rows; /* by start, cluster, SKU, pool */
    size_t n_rows;
    struct store_report_wait *waits; /* by SKU */
    size_t n_waits;
};

/* Checks o: from < to, step > 0, window <= STORE_REPORT_MAX_WINDOW_MS, steps <=
 * STORE_REPORT_MAX_STEPS. ERR_INVALID naming "from", "to" or "step" otherwise. Pure. */
int store_report_check(const struct store_report_opts *o, struct err *e);

/* Builds the report for o. Rows exist only for step/cluster/SKU/pool combinations that
 * have samples or events. Caller owns *out (store_report_free). Thread-safe.
 * Fails with ERR_INVALID (store_report_check), ERR_DB, or ERR_TIMEOUT past the statement
 * timeout, its message saying which reports read faster. */
int store_report_capacity(struct store *s, const struct store_report_opts *o,
                          struct store_report **out, struct err *e);

void store_report_free(struct store_report **r); /* NULL-safe; sets *r to NULL */

/* A quarter hour is summed once it ended this long ago: a sample is written with its
 * poller's clock, which may run behind the leader's, and a sample up to the max gap before
 * a quarter counts in it. */
#define STORE_ROLLUP_SETTLE_MS (30 * 60 * 1000)

/* Sums finished quarter hours (UTC) of capacity samples into capacity_rollup (migration
 * 0030), newest first, the quarters of one hour a statement, until budget_ms has passed
 * (one statement at least): the quarters from the oldest sample's to the last that ended
 * STORE_ROLLUP_SETTLE_MS before now_ms (Unix ms), those not summed yet. Then every hour
 * whose quarters are all summed, and every day whose hours are, from those sums. A report
 * reads the sums instead of the samples from then on, with the same result
 * (store/rollup_plan.h). *rolled is the quarter hours summed, *left those still to do. The
 * leader calls it at each collection pass; a failure leaves what was summed, and the rest
 * for the next call. */
int store_capacity_rollup(struct store *s, int64_t now_ms, int64_t budget_ms, long *rolled,
                          long *left, struct err *e);

/* Queue depth now, by requested SKU: jobs in phase Queued, their GPUs, and when the
 * oldest of them was submitted. */
struct store_queue_sku {
    char sku[32];
    int64_t jobs;
    int64_t gpus;
    int64_t oldest_ms;
};

/* Fills *out (by SKU name; caller frees with free()) and *n. ERR_DB, ERR_TIMEOUT.
 * Thread-safe. */
int store_report_queue(struct store *s, struct store_queue_sku **out, size_t *n, struct err *e);

/* What each namespace holds and waits for, by SKU, as the policy counts a quota's usage:
 * held = GPUs of its jobs placed and not yet gone (Admitted, Dispatched, Running,
 * Preempting), by the SKU they were placed on; queued = its jobs waiting in the queue (phase
 * Queued, not held) and their GPUs, by the SKU they ask for first. */
struct store_quota_use {
    char ns[64];
    char sku[32];
    int64_t held_gpus;
    int64_t queued_jobs, queued_gpus;
};

/* Fills *out (by namespace, then SKU; caller frees with free()) and *n. ERR_DB, ERR_TIMEOUT.
 * Thread-safe. */
int store_quota_usage(struct store *s, struct store_quota_use **out, size_t *n, struct err *e);

#endif
