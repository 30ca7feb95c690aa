/* live_jobs.h -- what the scheduler reads and writes in PostgreSQL about jobs: the live
 * jobs, fenced batches of phase transitions each with its event, the policy state,
 * checkpoints, and the lost-work ledger's rows (store/ledger.h reads them). Every write
 * is fenced by the leader epoch (election.h).
 * Not responsible for deciding anything (policy/, scheduler/) or talking to member
 * clusters (cluster/). */
#ifndef STORE_LIVE_JOBS_H
#define STORE_LIVE_JOBS_H

#include "base/job.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct store;

/* ---- live jobs ----------------------------------------------------------------------- */

#define STORE_SCHED_NAME_MAX  64
#define STORE_SCHED_AVOID_MAX 8 /* clusters a job's timed-out starts are remembered in */
#define STORE_SCHED_SKU_MAX   32

/* One live job (not Succeeded, Failed or Cancelled) as the scheduler needs it: the
 * columns it reads and the lists of the spec it places by, typed. Strings bounded by
 * validation are inline; the lists point into their job list's arenas. */
struct store_sched_job {
    int64_t id;
    char uid[40];
    char ns[STORE_SCHED_NAME_MAX];
    char name[STORE_SCHED_NAME_MAX];
    enum job_phase phase;
    char cluster[STORE_SCHED_NAME_MAX]; /* "" when not placed */
    char pool[24];                      /* "training", "serving-borrowed" or "" */
    char sku[STORE_SCHED_SKU_MAX];      /* requested */
    char sku_placed[STORE_SCHED_SKU_MAX];
    char member_ns[64]; /* where its objects are, from Dispatched on; "" before (or unknown) */
    char framework[16];
    const char **alt_skus; /* spec.resources.alternativeInstanceTypes, preference order */
    size_t n_alt_skus;
    /* spec.resources.relativeThroughput in the order of the SKUs: [0] for sku, [1 + i] for
     * alt_skus[i] (0 for a SKU the map leaves out); n_throughput is 0 when the spec has no
     * map, else 1 + n_alt_skus. */
    const double *throughput;
    size_t n_throughput;
    const char **affinity; /* spec.scheduling.clusterAffinity, preference order */
    size_t n_affinity;
    struct job_node_use *plan; /* the placement's nodes and GPUs; none when not placed */
    size_t n_plan;
    int gpu_count;
    int gpus_per_worker;
    int priority;
    bool preemptible;
    bool over_quota;
    bool cancel_requested;
    bool held; /* skipped by the policy until released */
    int attempt;
    int retries;
    int preemptions;
    int dispatch_failures;
    int64_t max_runtime_s;
    int64_t checkpoint_interval_s;
    int64_t cpu_m_per_worker;   /* spec.resources.cpu in millicores; 0 = none */
    int64_t mem_mib_per_worker; /* spec.resources.memoryGb in MiB; 0 = none */
    int64_t created_ms;
    int64_t queued_ms; /* 0 when never requeued */
    int64_t admitted_ms;
    int64_t dispatched_ms;
    int64_t started_ms;
    int64_t last_checkpoint_ms;
    int64_t lease_end_ms;
    int64_t not_before_ms;
    int64_t preempt_requested_ms;
    /* Checkpoint-first reclaim (migration 0028): when the job was asked to checkpoint (0:
     * its reclaim deletes at once) and the deadline of its delete. */
    int64_t checkpoint_requested_ms;
    int64_t checkpoint_deadline_ms;
    /* Queued again because its workers did not all start in time (StartTimeout): the
     * clusters where its starts timed out since it last ran (from those transitions'
     * events), the latest first, at most STORE_SCHED_AVOID_MAX; none otherwise. */
    const char **start_timeout_clusters;
    size_t n_start_timeout_clusters;
};

struct store_sched_jobs {
    struct store_sched_job *v;
    size_t n;
    char *strs;                /* the lists' strings */
    const char **names;        /* the SKU and affinity lists */
    struct job_node_use *uses; /* the plans */
    double *nums;              /* the throughput figures */
};

/* Loads every live job in id order. Caller owns *out; release with
 * store_sched_jobs_free(). */
int store_sched_load(struct store *s, struct store_sched_jobs *out, struct err *e);
/* The same with one more queued job that is not stored (a dry run's), as if it had been
 * submitted at extra->created_ms (now when 0): after every stored job in id order, uid all
 * zeros. extra is a parsed,
 * valid job (trainingjob_parse()); NULL loads the stored jobs alone. */
int store_sched_load_with(struct store *s, const struct job *extra, struct store_sched_jobs *out,
                          struct err *e);
void store_sched_jobs_free(struct store_sched_jobs *jobs); /* NULL-safe; leaves it empty */

/* What dispatch needs beyond the live-job row, for many jobs in one round trip: the
 * canonical spec and the labels (JSON text), (*out)[i] for each id found (in id order;
 * missing ids are left out). Caller frees with store_sched_specs_free(). */
struct store_sched_spec {
    int64_t id;
    char *spec_json;
    char *labels_json;
};
int store_sched_specs(struct store *s, const int64_t *ids, size_t n, struct store_sched_spec **out,
                      size_t *n_out, struct err *e);
void store_sched_specs_free(struct store_sched_spec **v, size_t n); /* NULL-safe */

/* The current attempt of the job each of uids names, live or ended, in attempt[i] (n of
 * each); -1 when no job has that uid (strings that are not UUIDs included). Garbage
 * collection keeps the finished object of a job's last attempt for its logs, and deletes at
 * once one whose uid no job has or whose attempt was superseded. */
int store_jobs_attempts(struct store *s, const char *const *uids, size_t n, int *attempt,
                        struct err *e);

/* ---- transitions --------------------------------------------------------------------- */

/* One phase change with its event. It applies only when the job is still in `from` at
 * `attempt` (so a decision based on a stale read changes nothing), and only while epoch is
 * the leader epoch. What else changes depends on `to`:
 *   Admitted:   cluster, pool, sku_placed, node_plan, placement, lease_end, over_quota,
 *               admitted_at = now;
 *   Dispatched: dispatched_at = at_ms (now when 0: the scheduler gives the moment it sent
 *               the create request, after which the job's pods can exist);
 *   Running:    started_at = at_ms (now when 0);
 *   Preempting: preempt_requested_at = now and a reclaims row (the ledger); with
 *               checkpoint_by_ms > 0 also checkpoint_requested_at = now, checkpoint_deadline
 *               = checkpoint_by_ms and a CheckpointRequested event after the phase's (the
 *               scheduler then deletes the object at the job's next checkpoint or the
 *               deadline, docs/scheduler.md); Preempting again (from Preempting): only
 *               the event, and checkpoint_deadline = the earlier of it and
 *               checkpoint_by_ms (> 0);
 *   Queued:     placement fields cleared, attempt + 1 (when from is not Queued),
 *               preemptions + 1 when preempted, dispatch_failures + 1 when failed_dispatch,
 *               not_before = not_before_ms, queued_at = now, the checkpoint request
 *               cleared; a Preempting job's ledger
 *               row gets freed_at = now; with retry, a ledger row of reason "retry"
 *               (gpus, lost_gpu_hours; freed_at = now, the work is already gone);
 *   Succeeded, Failed, Cancelled: finished_at = at_ms (now when 0).
 * Every event records the cluster, pool and placed SKU the job is on: the new ones for
 * Admitted, the ones the attempt ran on for the transitions after it (a requeue too).
 * Ledger rows (store/ledger.h reads them) carry the cluster, pool and placed SKU the job
 * ran on; their cause is derived from the reason (migration 0026).
 * Strings may be NULL. */
struct store_transition {
    int64_t job_id;
    enum job_phase from;
    int attempt;
    enum job_phase to;
    const char *type; /* event type; NULL: the name of `to` */
    const char *reason;
    const char *message;
    int64_t at_ms;
    /* Admitted */
    const char *cluster;
    const char *pool;
    const char *sku;
    const struct job_node_use *plan; /* the node plan */
    size_t n_plan;
    const char *placement_json; /* explanation object */
    int64_t lease_end_ms;       /* 0: none */
    bool over_quota;
    /* Dispatched */
    const char *member_ns; /* the namespace its objects were created in */
    /* Queued */
    int64_t not_before_ms; /* 0: at once */
    bool preempted;
    bool failed_dispatch;
    bool retry; /* a failed attempt run again under its retry policy: retries + 1 */
    /* Preempting (and Queued with retry): the ledger row */
    const char *reclaim_reason; /* "deficit", "lease_end", "quota", "priority" */
    int gpus;
    int deficit;
    double lost_gpu_hours;
    int grace_s;
    int64_t snapshot_ms;      /* when the snapshot that showed the deficit was taken */
    int64_t checkpoint_by_ms; /* > 0: checkpoint first, deleted at the checkpoint or by then */
};

/* Applies the transitions in one statement (one transaction): all of them, or those whose
 * job is no longer in `from` at `attempt` are skipped; applied[i] (may be NULL) tells which
 * happened. Fails with ERR_CONFLICT (field "leader.epoch") and applies nothing when epoch
 * is no longer the leader epoch; ERR_DB and the like otherwise. */
int store_sched_apply(struct store *s, int64_t epoch, const struct store_transition *t, size_t n,
                      bool *applied, struct err *e);

/* A checkpoint-first victim's ledger row, at its delete: the work it loses is what it did
 * since its last checkpoint up to now (near nothing when it checkpointed on request). The
 * row was written with 0 at the request; this raises lost_gpu_hours of the job's open
 * reclaims row (freed_at NULL) of attempt to lost_gpu_hours (never lowers it, so the
 * ledger's counters only grow), while epoch is the leader epoch (ERR_CONFLICT otherwise);
 * no row: 0, nothing changed. */
int store_sched_ledger_lost(struct store *s, int64_t epoch, int64_t job_id, int attempt,
                            double lost_gpu_hours, struct err *e);

/* ---- the policy state ------------------------------------------------------------------ */

/* Saves the policy state (JSON text) while epoch is the leader epoch (ERR_CONFLICT
 * otherwise). */
int store_sched_state_save(struct store *s, int64_t epoch, const char *state_json, struct err *e);

/* The last saved state; *state_json is NULL when none was ever saved. Caller frees. */
int store_sched_state_load(struct store *s, char **state_json, struct err *e);

/* ---- checkpoints ----------------------------------------------------------------------- */

/* Records that ns/name wrote a checkpoint at at_ms (now when 0; a time in the future is
 * refused): last_checkpoint_at and a Checkpoint event (from and to the current phase).
 * ERR_NOT_FOUND; ERR_CONFLICT (field "status.phase") unless the job is Dispatched,
 * Running or Preempting; ERR_INVALID (field "time") for a time in the future or before
 * the job started. audit (may be NULL; audit->status) is inserted in the same
 * transaction when the checkpoint is recorded. Caller owns *out (the job after the
 * change; may be NULL). */
struct store_audit;
int store_job_checkpoint(struct store *s, const char *ns, const char *name, int64_t at_ms,
                         const struct store_audit *audit, struct job **out, struct err *e);

/* ---- notes (notes.c) ------------------------------------------------------------------- */

/* What the scheduler found out about a placed job without a phase change: a diagnosis of
 * its pods ("PodFailed", "Diagnosis") or a suspension ("Suspended"). */
struct store_note {
    int64_t job_id;
    int attempt;         /* the note applies only while the job is at this attempt */
    const char *type;    /* event type */
    const char *reason;  /* becomes the job's status reason */
    const char *message; /* becomes the job's status message */
};

/* Sets the job's status reason and message and adds an event (from and to its current
 * phase) while the job is Dispatched, Running or Preempting at n->attempt and epoch is the
 * leader epoch; nothing when the reason and message are already those (so a note repeated
 * every minute is one event). *noted (may be NULL) says whether it landed. ERR_CONFLICT
 * (field "leader.epoch") when the epoch is superseded; ERR_INVALID (field "note") without
 * type, reason or message; ERR_DB and the like otherwise. */
int store_job_note(struct store *s, int64_t epoch, const struct store_note *n, bool *noted,
                   struct err *e);

#endif
