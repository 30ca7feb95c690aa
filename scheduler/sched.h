/* sched.h -- the scheduler loop: on the leader replica, one thread runs the cycle
 * decide -> persist -> dispatch -> track, woken by submissions (LISTEN/NOTIFY), capacity
 * changes (a new snapshot) and a timer. Each cycle loads the live jobs, detects lost
 * clusters, runs the policy on the current snapshot, persists admissions and reclaims
 * (fenced by the leader epoch) with their events, creates Jobs/RayJobs in member clusters,
 * follows them to their end, finishes cancellations and reclaims, and garbage-collects
 * member-cluster objects that no live attempt owns. Every step is idempotent and driven
 * by the stored phase, so a new leader (or a restart) repairs whatever was half done.
 * Not responsible for the API (api/), capacity polling (cluster/) or placement rules
 * (policy/). docs/scheduler.md describes the phases and knobs. */
#ifndef SCHEDULER_SCHED_H
#define SCHEDULER_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;
struct job;
struct poller;
struct policy_config;
struct policy_job;
struct policy_namespace;
struct policy_quota_spec;
struct sku_catalogue;
struct snapshot;
struct store;
struct store_sched_job;
struct sched;

struct sched_options {
    const char *dsn;                    /* for the leader session */
    const char *holder;                 /* this replica's name in the leader row */
    const struct policy_config *policy; /* required (copied); cmd/config.h's table has it */
    const struct sku_catalogue *skus;   /* NULL: sku_catalogue() */
    int cycle_interval_ms;              /* timer between cycles when nothing wakes us */
    int min_cycle_gap_ms;               /* at least this between two cycles */
    int leader_retry_ms;                /* a standby tries the lock this often */
    int leader_renew_ms;                /* the leader confirms its epoch this often */
    int request_timeout_ms;             /* each member-cluster call */
    int backoff_base_s;                 /* first pause after a failed dispatch */
    int backoff_max_s;                  /* the pause doubles up to this */
    int max_dispatch_failures;          /* then the job fails */
    int gc_interval_ms;                 /* orphan collection */
    int missing_grace_s;                /* a dispatched object absent this long is requeued */
    int start_timeout_s;  /* dispatched but not all workers running this long: requeued; 0 never */
    int registry_sync_ms; /* re-read member-cluster configs */
    int default_lost_timeout_s;          /* for clusters that vanished from the registry */
    const char *priority_class;          /* pods on training capacity; "" none */
    const char *priority_class_borrowed; /* pods on borrowed serving capacity */
    const json_t *annotations;           /* added to every object and pod; may be NULL */
    const char *public_url;   /* FEDSCHED_URL in every pod: where pods post checkpoints */
    int shm_mib;              /* size of each pod's /dev/shm (emptyDir, medium Memory); 0 none */
    int finished_ttl_s;       /* ttlSecondsAfterFinished of every object (>= 60) */
    int pod_check_interval_s; /* a pending job's pods are listed at most this often; 0 each pass */
    int image_pull_timeout_s; /* a pod waiting on its image this long fails the job; 0 never */
    int suspended_timeout_s;  /* suspended in its member cluster this long: requeued; 0 never */
    /* Retention (retention.*), days; 0 keeps for ever. The leader deletes what is older at
     * each collection pass (store/retention.h). Samples: 0 or at least 28, the four weeks
     * the serving forecast reads. */
    int retain_samples_days, retain_audit_days, retain_jobs_days;
    /* This installation's id: the fedsched.io/origin label of every object it creates, and
     * the only origin its garbage collection deletes. "": objects get no origin label and
     * collection takes those without one (fedsched before the label). A DNS-1123 label. */
    char origin_id[64];
    /* Quotas and fair-share weights (borrowed: they must outlive the scheduler). */
    const struct policy_quota_spec *quotas;
    size_t n_quotas;
    const struct policy_namespace *weights;
    size_t n_weights;
};

/* There are no defaults here: every number comes from the caller, and the process's
 * values (docs/configuration.md) are rows of the table in cmd/config.c
 * (config_sched_options()). */

/* Creates the scheduler (not started). store and poller must outlive it; the options'
 * strings, objects and policy config are copied. Caller owns *out (sched_free). ERR_CONFIG
 * on bad options, naming the field: no DSN ("database.dsn"), no policy ("policy"), a
 * number out of range (a zero interval, say: "scheduler.cycle_interval_ms"), an invalid
 * policy ("policy.reclaim_k"). ERR_DB never (the database is reached lazily). */
int sched_new(const struct sched_options *o, struct store *s, struct poller *p, struct sched **out,
              struct err *e);

/* The options s runs with: its own copies of the strings, policy pointing at its copy of
 * the policy config. Valid until sched_free(); they never change, so any thread may read. */
const struct sched_options *sched_get_options(const struct sched *s);

/* Starts / stops the scheduler thread. stop resigns leadership and returns after the
 * thread has exited; a cycle in flight finishes first (member-cluster calls are bounded
 * by request_timeout_ms). */
int sched_start(struct sched *s, struct err *e);
void sched_stop(struct sched *s);
void sched_free(struct sched **s); /* NULL-safe; stops first */

/* Explains queued job ns/name: one what-if cycle over the live snapshot with exactly the
 * inputs a real cycle would use (queue, running placements, quotas, weights, the leader's
 * last saved state), changing nothing. Writes explain_json() into out. ERR_NOT_FOUND when
 * the job is not (or no longer) queued. Thread-safe; any replica may call it. */
int sched_explain(struct sched *s, const char *ns, const char *name, struct buf *out,
                  struct err *e);

/* The same for j, a job not stored (a dry run: trainingjob_parse()'s, valid), as if it had
 * been submitted now beside the live jobs (store_sched_load_with()). A stored job of the
 * same namespace and name is the caller's to refuse first. */
int sched_explain_new(struct sched *s, const struct job *j, struct buf *out, struct err *e);

/* What a view of the whole queue asks for (sched_queue_view()). */
struct sched_queue_query {
    const char *ns;                /* one namespace; NULL: every one */
    const char *const *namespaces; /* those the caller may read; n_namespaces 0: every one */
    size_t n_namespaces;
    const char *sku;      /* the jobs that accept this SKU; NULL: every job */
    size_t offset, limit; /* the page, in queue order; limit >= 1 */
};

/* Every queued job at once, in the order the policy takes them (Slurm's squeue --start,
 * Kueue's pending workloads): one what-if cycle as sched_explain()'s and one forward
 * simulation for the whole queue (policy/eta.h, eta_estimate_queue()), so each job's
 * position, jobs and GPUs ahead and estimated start are those its explanation gives, and
 * why it waits is the what-if cycle's reason. Writes a QueueView object into out
 * (docs/api.md, "The queue"): the jobs q selects, from q->offset, at most q->limit. A
 * namespace the caller may not read is the caller's to refuse; q->namespaces only hides
 * the other namespaces' jobs, which still count ahead. Held jobs are not in the queue the
 * policy takes. Thread-safe; any replica may call it. Its cost is one explanation of the
 * job that starts last (capped as estimates are). */
int sched_queue_view(struct sched *s, const struct sched_queue_query *q, struct buf *out,
                     struct err *e);

/* The one adapter from a live job to the policy's queued job, as every cycle and
 * sched_explain() build it: SKUs resolved in snap (-1 for one it lacks), the declared
 * throughput lined up with them (sku first, then each alternative), the lists borrowed
 * from j (q must not outlive j's job list). q must be zeroed. Exported for its test. */
void sched_policy_job(const struct snapshot *snap, const struct store_sched_job *j,
                      struct policy_job *q);

/* Asks for a cycle now (thread-safe). */
void sched_wake(struct sched *s);

/* Whether this replica leads, and since when. Thread-safe. */
struct sched_status {
    bool leader;
    int64_t epoch;
    int64_t leader_since_ms; /* wall clock; 0 when not leading */
    uint64_t cycles;
    int64_t last_cycle_ms; /* wall clock of the last finished cycle */
};
void sched_get_status(struct sched *s, struct sched_status *out);

/* Appends the scheduler's metrics in Prometheus text format: cycle duration, placements,
 * dispatch errors per cluster, queue depth by SKU and phase, borrowed GPUs per pool,
 * reclaims and reclaim latency, leadership. Thread-safe. Returns 0, or -1 when b's cap is
 * reached. */
int sched_metrics(struct sched *s, struct buf *b);

#endif
