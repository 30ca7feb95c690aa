/* internal.h -- what the scheduler's files share: the scheduler and cycle structs, the
 * batch of transitions, the metrics, and the steps. Not included outside scheduler/. */
#ifndef SCHEDULER_INTERNAL_H
#define SCHEDULER_INTERNAL_H

#include "scheduler/sched.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/prom.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/k8s.h"
#include "cluster/manifest.h"
#include "cluster/poller.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "scheduler/leader.h"
#include "scheduler/clients.h"
#include "scheduler/sched_state.h"
#include "scheduler/specs.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/retention.h"
#include "store/store.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_TRAINING "training"
#define POOL_BORROWED "serving-borrowed"
#define CLUSTERS_MAX  4096
#define LATENCY_RING  1024 /* reclaim latency samples kept for the percentiles */

/* One latency summary: the last LATENCY_RING samples for the quantiles, and the count and
 * sum of every sample since start (Prometheus' _count and _sum), in seconds. */
struct latency {
    double ring[LATENCY_RING];
    size_t n;
    double sum;
};
#define METRIC_SKUS SKU_MAX

/* ---- metrics ------------------------------------------------------------------------------ */

struct dispatch_errors {
    char cluster[64];
    uint64_t n;
};

struct borrowed_gauge {
    char cluster[64];
    char sku[32];
    int gpus;
};

struct metrics {
    pthread_mutex_t mu;
    uint64_t cycles;
    double cycle_seconds_sum;
    double cycle_seconds_last;
    uint64_t cycle_buckets[8]; /* <= 0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, +Inf */
    uint64_t placements;
    uint64_t dispatched;
    uint64_t succeeded, failed, cancelled, requeued, lost;
    struct dispatch_errors *derr;
    size_t n_derr;
    uint64_t reclaims;
    double lost_gpu_hours;
    struct latency req;   /* snapshot showing the deficit -> delete request */
    struct latency freed; /* delete request -> GPUs free */
    /* checkpoint-first reclaims (dispatch.c): requests made visible, deletes by cause */
    uint64_t ckpt_requests, ckpt_at_checkpoint, ckpt_at_deadline;
    /* gauges of the last cycle */
    int64_t queue[METRIC_SKUS][PHASE_COUNT];
    char queue_sku[METRIC_SKUS][32];
    size_t n_queue_sku;
    struct borrowed_gauge *borrowed;
    size_t n_borrowed;
    uint64_t retention_deleted[STORE_RETAINED_COUNT]; /* rows past their retention */
    uint64_t rollup_quarters;                         /* quarter hours of capacity samples summed */
    long rollup_left; /* finished quarter hours not summed yet, at the last pass */
};

/* ---- the scheduler ------------------------------------------------------------------------- */

/* An Admitted job whose create was refused with a 429, a 5xx or a transport error: it stays
 * Admitted at the same attempt (so the same object name) and is not created again before
 * not_before_ms. Leader-local memory: a new leader retries at once, which is safe since the
 * name is the same and AlreadyExists with our labels counts as created. */
struct dispatch_wait {
    int64_t id;
    int attempt;
    int64_t not_before_ms; /* wall clock, as cycle.now */
    int streak;            /* refusals in a row, for the back-off */
    int counted;           /* of which 5xx and transport errors (429s are not counted) */
};

struct diag_mem; /* track.c: when a placed job's pods were last looked at, and why */

/* A checkpoint-first victim whose delete this leader has sent (dispatch.c): tracking may
 * still read the object from a watch that has not seen the delete yet, and must not send
 * it (nor its event) again. A ring: entries matter for the seconds a watch may lag. */
#define CKPT_SENT_RING 256
struct ckpt_sent {
    int64_t id;
    int attempt;
};

/* What the scheduler remembers about a cluster between cycles. */
struct cluster_mem {
    char name[64];
    int64_t bad_since_ms;  /* wall clock when we first saw it unreachable or missing; 0: fine */
    bool lost;             /* its jobs were declared Lost */
    int64_t calm_until_ms; /* wall clock: it answered 429; no calls to it before this */
};

struct sched {
    struct sched_options o;
    char *dsn, *holder, *priority_class, *priority_class_borrowed, *public_url;
    json_t *annotations;
    struct policy_config policy;
    struct store *store;
    struct poller *poller;
    struct leader *leader;
    struct sched_clients *clients;
    struct policy_state *pstate;
    struct forecast_set *forecasts; /* forecasts.c: serving demand, for lending */
    int64_t next_forecast_ms;       /* wall clock: next read of the capacity samples */
    struct spec_cache *specs;       /* parsed once per job per term */

    pthread_t thread;
    bool running;
    pthread_mutex_t mu; /* guards stop, wake and status */
    bool stop;
    bool wake;
    struct sched_status status;

    int64_t epoch;
    int64_t next_gc_ms;    /* monotonic */
    int64_t next_sync_ms;  /* monotonic */
    uint64_t last_seq;     /* poller publications seen */
    int64_t next_state_ms; /* monotonic: next save of the policy state */
    char *saved_state;     /* the policy state as last saved */
    struct cluster_mem *cmem;
    size_t n_cmem;
    struct dispatch_wait *dwait; /* dispatch.c; pruned to the Admitted jobs each cycle */
    size_t n_dwait;
    struct diag_mem *diag; /* track.c; pruned to the placed jobs each tracking pass */
    size_t n_diag;
    struct ckpt_sent ckpt_sent[CKPT_SENT_RING]; /* dispatch.c */
    size_t n_ckpt_sent;                         /* ever added; the ring holds the last */
    unsigned char token_key[32]; /* signs each job's checkpoint token (base/job_token.h) */
    bool have_token_key;         /* read from the store on the first dispatch */
    struct metrics m;
};

/* ---- one cycle ------------------------------------------------------------------------------ */

/* Transitions gathered during a step and applied together; the strings they point to are
 * owned here until the batch is applied. */
struct batch {
    struct store_transition *t;
    size_t *job; /* index of each transition's job in the cycle's job list */
    size_t n, cap;
    void **owned;
    size_t n_owned, cap_owned;
};

struct cview {
    char name[64];
    int snap; /* index in the snapshot, -1 when the poller does not know it */
    enum snapshot_health health;
    int64_t last_success_ms;
    int64_t data_as_of_ms; /* the snapshot's pods include every pod created before this */
    int64_t calm_until_ms; /* the cluster asked the connector (Retry-After) to wait until */
    int64_t lost_timeout_s;
    bool reachable; /* worth calling this cycle */
    bool broken;    /* a call failed at the transport level this cycle */
    bool lost;
};

struct cycle {
    struct sched *s;
    int64_t now;
    int64_t snap_taken_ms;
    struct store_sched_jobs jobs;
    struct cview *cv;
    size_t n_cv;
    struct batch b;
    bool deposed;
};

struct decide_ctx {
    struct policy_job *queue;
    size_t *qidx; /* queue entry -> job index */
    size_t n_queue;
    struct policy_running *running;
    size_t *ridx;
    size_t n_running;
    struct policy_quota *quotas; /* resolved in the snapshot */
    struct policy_forecast *forecasts;
    size_t n_forecasts;
};

/* transitions.c */
size_t sched_apply(struct cycle *c, bool *applied_out);
struct store_transition *sched_batch_add(struct batch *b, size_t job,
                                         const struct store_sched_job *j, enum job_phase to,
                                         const char *reason);
void sched_batch_free(struct batch *b);
void *sched_batch_own(struct batch *b, void *p);
void sched_batch_reset(struct batch *b);
bool sched_placed_phase(enum job_phase p);

/* views.c */
bool sched_cluster_lost(struct cycle *c, const char *name);
struct cview *sched_cview_find(struct cycle *c, const char *name);
void sched_detect_lost(struct cycle *c);
void sched_read_clusters(struct cycle *c, const struct cluster_snapshot *cs);
void sched_read_snapshot_clusters(struct cycle *c, const struct cluster_snapshot *cs, size_t extra);
/* A 429 from cluster name (e its error; client its Job client, for the Retry-After): no
 * calls to it before the Retry-After, or the base back-off when it gave none. Other errors:
 * nothing. */
void sched_cluster_refused(struct cycle *c, const char *name, const struct k8s_client *client,
                           const struct err *e);
/* Until when (wall clock) cluster name asked not to be called; 0 or past: call away. */
int64_t sched_cluster_calm_until(struct cycle *c, const char *name);

/* member_calls.c */
struct k8s_client *sched_client_for(struct cycle *c, const char *cluster,
                                    const struct cluster_config **cfg, struct cview **vout);
/* 1 when the object of j's current attempt exists, 0 when its cluster says 404, -1 when
 * it cannot tell (e set). */
int sched_object_exists(struct cycle *c, const struct store_sched_job *j, struct err *e);

/* Deletes j's object (seen: as last read, NULL when not read) and releases it, below. */
int sched_delete_object(struct cycle *c, const struct store_sched_job *j, const json_t *seen,
                        const char *propagation, int grace_s, struct err *e);
/* Whether obj has a deletionTimestamp (Terminating: kept by finalizers). */
bool sched_object_deleting(const json_t *obj);
/* Whether obj may still carry MANIFEST_FINALIZER: NULL (not read) may. */
bool sched_object_held(const json_t *obj);
/* Removes MANIFEST_FINALIZER from an object (seen: as last read, NULL: read it first); no
 * call when seen lacks it. 0 when released or gone; a failure is left to the caller to log. */
int sched_release(struct k8s_client *k, enum k8s_job_kind kind, const char *ns, const char *name,
                  const json_t *seen, struct err *e);
/* Deletes an object with propagation and grace_s (none when seen is already marked), then
 * releases it: a crash between the two leaves it marked and held, and the next tracking
 * or collection pass releases it. 0 when done or gone. */
int sched_delete_release(struct k8s_client *k, enum k8s_job_kind kind, const char *ns,
                         const char *name, const json_t *seen, const char *propagation, int grace_s,
                         struct err *e);
enum k8s_job_kind sched_kind_of(const struct store_sched_job *j);
bool sched_transport_error(enum err_code code);

/* cycle.c */
void sched_cycle_run(struct sched *s, bool gc, bool track);

/* decide.c */
/* Whether queued job j is left out of the policy's queue at now: held until released, or
 * waiting out a retry backoff. The queue view lists such jobs after the queue. */
bool sched_set_aside(const struct store_sched_job *j, int64_t now);
/* The policy's input from the cycle's jobs and the snapshot; d owns what in points to. */
void sched_build_inputs(struct cycle *c, const struct cluster_snapshot *cs, struct decide_ctx *d,
                        struct policy_input *in);
void sched_decide_ctx_free(struct decide_ctx *d);

/* forecasts.c */
/* Learns the capacity samples written since the last read (at most once a minute; the first
 * reads four weeks) and fills d->forecasts: each serving pool of snap with a forecast, its
 * p95 per 15-minute step for 24 h from the current step. A failed read is logged and
 * lending uses what was learned. */
void sched_forecasts(struct cycle *c, const struct snapshot *snap, struct decide_ctx *d);
void sched_step_decide(struct cycle *c);

/* dispatch.c */
void sched_step_dispatch(struct cycle *c);
void sched_step_preempt(struct cycle *c, bool only_new);
/* A Preempting job asked to checkpoint first (j->checkpoint_requested_ms > 0) whose object
 * is not being deleted yet (obj: as last read, NULL when not read): deletes it once it has
 * reported a checkpoint since the request or the deadline has passed (with a
 * ReclaimDelete note saying which), and until then keeps the request on the object as
 * JOB_CHECKPOINT_ANNOTATION. */
void sched_checkpoint_first(struct cycle *c, size_t k, const json_t *obj);

/* track.c */
void sched_step_cancel_queued(struct cycle *c);
void sched_step_track(struct cycle *c, bool gc, bool all);

/* sched_metrics.c */
void sched_metrics_dispatch_error(struct metrics *m, const char *cluster);
void sched_latency_add(struct latency *l, double seconds);

#endif
