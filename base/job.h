/* job.h -- the TrainingJob as the store, the API and the scheduler share it.
 * The spec is kept whole as canonical JSON text (what the jsonb column holds); the fields
 * the scheduler and the queries need are lifted out of it at validation time.
 * Not responsible for parsing or validating JSON (api/trainingjob.c) or storing (store/). */
#ifndef BASE_JOB_H
#define BASE_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum job_phase {
    PHASE_QUEUED = 0,
    PHASE_ADMITTED,
    PHASE_DISPATCHED,
    PHASE_RUNNING,
    PHASE_SUCCEEDED,
    PHASE_FAILED,
    PHASE_CANCELLED,
    PHASE_PREEMPTING,
    PHASE_LOST,
};
#define PHASE_COUNT 9

const char *job_phase_name(enum job_phase p);            /* "Queued" ... */
int job_phase_parse(const char *s, enum job_phase *out); /* 0, or -1 when unknown */
bool job_phase_terminal(enum job_phase p);               /* Succeeded, Failed, Cancelled */

/* The limits the API holds a job's shape to; later layers may rely on them. */
#define JOB_GPU_COUNT_MAX           4096
#define JOB_GPUS_PER_WORKER_MAX     16
#define JOB_GPUS_PER_WORKER_DEFAULT 8  /* when the spec sets none (or fewer GPUs in all) */
#define JOB_ALT_SKUS_MAX            63 /* distinct alternatives: every other SKU (SKU_MAX 64) */
#define JOB_AFFINITY_MAX            64 /* cluster names in spec.scheduling.clusterAffinity */
#define JOB_PRIORITY_MIN            (-1000) /* spec.scheduling.priority */
#define JOB_PRIORITY_MAX            1000

/* The worker arithmetic, in one place: gpu_count GPUs in equal workers of
 * gpus_per_worker (0: one worker with all of them). Returns 0 with *per and *workers set
 * (either may be NULL), or -1 when gpu_count is not a positive multiple of a positive
 * per-worker count (a negative one included). */
int job_workers(int gpu_count, int gpus_per_worker, int *per, int *workers);

/* One node of a placement's plan and the GPUs the job holds there. The node name is
 * borrowed from whoever owns the plan (the scheduler's job list, a policy result). */
struct job_node_use {
    const char *node;
    int gpus;
};

struct job {
    /* identity */
    int64_t id;        /* store's row id: creation order, used for keyset paging */
    char *ns;          /* metadata.namespace */
    char *name;        /* metadata.name */
    char *uid;         /* assigned by the store on insert */
    char *api_version; /* as submitted: fedsched.io/v1 or michelangelo.uber.com/v1 */
    char *labels_json; /* canonical JSON object text, "{}" when none */
    char *spec_json;   /* canonical JSON text of spec (sorted keys, compact) */

    /* lifted from spec */
    char *framework; /* "pytorch", "ray", ... */
    char *sku;       /* spec.resources.instanceType */
    char **alt_skus; /* spec.resources.alternativeInstanceTypes */
    size_t n_alt_skus;
    int gpu_count;
    int gpus_per_worker;
    int priority;
    bool preemptible;
    int64_t max_runtime_s;         /* 0 when unset */
    int64_t checkpoint_interval_s; /* 0 when unset */
    char **cluster_affinity;
    size_t n_cluster_affinity;

    /* status */
    enum job_phase phase;
    char *cluster;   /* NULL until admitted */
    char *member_ns; /* namespace of its objects in the cluster; NULL until dispatched */
    char *pool;      /* "training" or "serving-borrowed"; NULL until admitted */
    int attempt;
    int preemptions;
    int retries;   /* failed attempts run again under spec.scheduling.retry */
    bool held;     /* skipped by the policy until released */
    char *reason;  /* machine-readable reason of the last transition */
    char *message; /* human-readable message of the last transition */
    int64_t created_ms;
    int64_t updated_ms;
    int64_t admitted_ms; /* 0 when never */
    int64_t started_ms;
    int64_t finished_ms;
    int64_t last_checkpoint_ms;
    int64_t checkpoint_requested_ms; /* checkpoint-first reclaim: asked at; 0 when not asked */
    int64_t checkpoint_deadline_ms;  /* ... and deleted by then at the latest */
    int64_t not_before_ms; /* Queued after a failed attempt: not placed before; 0 when never */
    int64_t resource_version;
};

/* The annotation a checkpoint-first reclaim puts on the victim's object in its member
 * cluster (and that the job's GET .../checkpoint mirrors): the deadline, RFC 3339. */
#define JOB_CHECKPOINT_ANNOTATION "fedsched.io/checkpoint-requested"

/* Why a queued job is left out of the policy's queue at now_ms (scheduler/decide.c), as
 * explain, GET and the queue view say it: "Held" (held by its user) or "RetryBackoff"
 * (requeued after a failed attempt, until not_before_ms), with a message for people in msg;
 * NULL when the policy considers it. */
const char *job_aside_reason(bool held, int64_t not_before_ms, int64_t now_ms, char *msg,
                             size_t size);

struct job *job_new(void);     /* zeroed; phase Queued */
void job_free(struct job **j); /* NULL-safe; frees every owned string, sets *j NULL */

/* One row of a job's timeline. */
struct job_event {
    int64_t id;
    int64_t ts_ms;
    char *type; /* "Queued", "Admitted", ... or "Checkpoint" */
    char *reason;
    char *message;
    char *from_phase; /* NULL for the first event */
    char *to_phase;
};

void job_event_clear(struct job_event *ev); /* frees strings, keeps ev */

#endif
