/* eta.h -- where a queued job stands in its SKU's queue and when it will likely start: a
 * forward simulation of one cycle's inputs in which running jobs end at their expected end,
 * and policy_decide() (the real ordering and placement, nothing copied) places the queue
 * as GPUs free up, decision after decision, until the job is placed.
 * Pure: no I/O, no clock (`now` is the input's now_ms). Not responsible for rendering
 * (eta_json() is the one JSON form) or for where the inputs come from (scheduler/,
 * whatif/). docs/scheduler.md, "Queue position and estimated start", says what the
 * estimate assumes. */
#ifndef POLICY_ETA_H
#define POLICY_ETA_H

#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct err;

struct eta_opts {
    /* Runtime assumed for a job (running or queued) without maxRuntimeSeconds, s, >= 1. */
    int64_t default_runtime_s;
    /* Longest simulated gap between two decisions, s, >= 1: lending windows open, aging
     * and reservations move without any job ending. */
    int64_t step_s;
    /* Cap on simulated decisions (each one policy_decide() call), >= 1. */
    int max_events;
    /* Cap on work: the sum over decisions of the jobs each one sees (queued + running),
     * >= 1. A decision's cost grows with the queue, so this bounds an estimate's time on
     * a long queue where max_events alone would not. The first decision always runs. */
    int64_t max_work;
};

struct eta_result {
    int position;   /* 1-based, among queued jobs that can use one of the job's SKUs */
    int ahead_jobs; /* position - 1 */
    int ahead_gpus; /* GPUs those jobs ask for */
    bool placed;    /* the simulation placed the job: start_ms is the estimate */
    int64_t start_ms;
    bool capped;  /* max_events or max_work was reached before the job was placed */
    int events;   /* decisions simulated */
    int64_t work; /* jobs those decisions saw, summed */
    /* Running placements whose end came from a limit (maxRuntimeSeconds), and those whose
     * end was expected or assumed; overdue: those already past that end. */
    int running_known, running_assumed, overdue;
    int64_t default_runtime_s; /* the assumption used, for the answer's basis */
};

/* Every queued job at once (the whole queue's view, Slurm's `squeue --start`): entry i is
 * in->queue[i]'s. */
struct eta_queue_entry {
    int order;      /* 0-based place in the policy's visit order; -1: not visited */
    int position;   /* as eta_result's: among queued jobs sharing one of its SKUs */
    int ahead_jobs; /* position - 1 */
    int ahead_gpus;
    bool placed; /* the simulation placed it: start_ms is the estimate */
    int64_t start_ms;
    /* Not placed, and a decision gave it a reason that stays while the inputs do
     * (never_fits, a clusterAffinity naming no member...): it never starts, whether or not
     * the simulation was capped. */
    bool never;
};

struct eta_queue {
    struct eta_queue_entry *v;
    size_t n; /* in->n_queue */
    /* The simulation's basis (events, work, capped, running_*, default_runtime_s); its
     * position, placed and start_ms are unused. capped: it stopped before every job was
     * placed. */
    struct eta_result basis;
};

/* Checks o (ERR_INVALID naming the field: "eta.step_s"). */
int eta_opts_validate(const struct eta_opts *o, struct err *e);

/* What the caller knows of how long jobs run, in s; any pointer may be NULL and 0 means
 * unknown. Kept apart from the policy's inputs so an estimate can assume a runtime without
 * the policy seeing a maxRuntimeSeconds it was not given. */
struct eta_runtimes {
    const int64_t *running_limit_s;    /* per in->running: maxRuntimeSeconds, a hard end */
    const int64_t *running_expected_s; /* per in->running: expected runtime (a median) */
    const int64_t *queue_expected_s;   /* per in->queue, used when max_runtime_s is 0 */
};

/* Estimates queue job `job` of in. A running placement ends at start + its limit (at once
 * when past it); without one at start + its expected runtime (o->default_runtime_s when
 * unknown), and when already past that it is expected to run as long again as it has:
 * runtimes are heavy-tailed, the longer a job has run the longer it is likely to go on.
 * A queued job, once the simulation places it, runs its max_runtime_s, else its expected
 * runtime, else the default. rt may be NULL. st is the policy state the cycle would use; it
 * is copied, never changed. On success fills *out. Fails with ERR_NOT_FOUND when job is
 * out of range, ERR_INVALID for bad options and as policy_decide() fails (ERR_CONFIG,
 * ERR_INVALID). Cost: at most max_events + 1 policy_decide() calls (and max_work jobs
 * seen, plus the first decision's) on a queue no longer
 * than in's. */
int eta_estimate(const struct policy_input *in, const struct eta_runtimes *rt,
                 const struct policy_state *st, size_t job, const struct eta_opts *o,
                 struct eta_result *out, struct err *e);

/* Estimates every job of in's queue with one visit and one simulation: each entry's
 * position, ahead and estimate are those eta_estimate() gives that job alone with the same
 * inputs (it stops where the job is placed; this goes on until the queue is empty, or a cap
 * or the idle horizon stops it: jobs not placed by then have no estimate). Cost: one
 * eta_estimate() of the last job to start. Caller frees out with eta_queue_free(). Fails
 * as eta_estimate() does. */
int eta_estimate_queue(const struct policy_input *in, const struct eta_runtimes *rt,
                       const struct policy_state *st, const struct eta_opts *o,
                       struct eta_queue *out, struct err *e);
void eta_queue_free(struct eta_queue *q); /* NULL-safe */

/* A deep copy of s (caller owns *out; snapshot_free()). A caller that reads a snapshot
 * under RCU copies it and estimates after leaving the read side: an estimate may simulate
 * hundreds of cycles, and the publisher must not wait that long for its grace period.
 * Fails as snapshot_new() does. */
int eta_snapshot_copy(const struct snapshot *s, struct snapshot **out, struct err *e);

/* Appends r as the JSON object explain's "queue" member holds:
 * {"position":3,"ahead":{"jobs":2,"gpus":16},"estimatedStart":"2026-...Z" or null,
 *  "basis":{...}}; with null, "noEstimate" says why (eta_no_estimate()). */
void eta_json(const struct eta_result *r, struct buf *out);

/* Why a job has no estimate: "capped" when the simulation stopped at a cap before placing
 * it (it may start later than the cap reached); else "never": the simulation went on until
 * nothing held GPUs and a week had passed, so no GPU that frees up under these inputs
 * (capacity, cordons, quotas, lending windows) can take it. */
const char *eta_no_estimate(bool capped);

/* Appends the object eta_json() puts under "basis": how r was reached. */
void eta_basis_json(const struct eta_result *r, struct buf *out);

#endif
