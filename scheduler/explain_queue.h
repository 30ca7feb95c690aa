/* explain_queue.h -- the "queue" member of explain's answer for a queued job: its position
 * in its SKU's queue and its estimated start (policy/eta.h), computed on the inputs of the
 * what-if cycle sched_explain() runs. Not responsible for the rest of the answer
 * (explain_json() in policy/policy_json.c) or for HTTP (api/explain_routes.c). */
#ifndef SCHEDULER_EXPLAIN_QUEUE_H
#define SCHEDULER_EXPLAIN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

struct buf;
struct cycle;
struct decide_ctx;
struct err;
struct policy_input;
struct policy_state;

/* The estimate's assumptions (docs/scheduler.md, "Queue position and estimated start"): a
 * running job without maxRuntimeSeconds is assumed to run 4 hours (and, once past that, as
 * long again as it has run); the simulation steps at least every hour and stops after 500
 * decisions or once its decisions have seen a million jobs in all (queued + running:
 * 0.4 to 0.6 s of CPU with 5,000 to 20,000 queued on 1,000 nodes, tests/bench/bench_eta.c),
 * answering estimatedStart null with basis.capped true. */
#define SCHED_ETA_DEFAULT_RUNTIME_S (4 * 3600)
#define SCHED_ETA_STEP_S            3600
#define SCHED_ETA_MAX_EVENTS        500
#define SCHED_ETA_MAX_WORK          1000000

/* out holds explain_json()'s object for queue job idx of in, the input sched_explain()
 * built from c's live jobs (d maps its running entries to c->jobs). Adds the member
 * "queue": {"position", "ahead": {"jobs", "gpus"}, "estimatedStart", "basis"} inside that
 * object. st is the policy state of the what-if cycle; it is not changed. Fails as
 * eta_estimate() does (out is then unchanged) or with ERR_INTERNAL when out does not end
 * with an object. */
int sched_explain_queue(const struct cycle *c, const struct decide_ctx *d,
                        const struct policy_input *in, const struct policy_state *st, size_t idx,
                        struct buf *out, struct err *e);

/* sched_queue_view()'s answer from the what-if cycle (in, res; st its state, unchanged) that
 * sched_queue_view() ran on c's live jobs (d maps queue entries to c->jobs). */
struct policy_result;
struct sched_queue_query;
int sched_queue_json(const struct cycle *c, const struct decide_ctx *d,
                     const struct policy_input *in, const struct policy_state *st,
                     const struct policy_result *res, const struct sched_queue_query *q,
                     struct buf *out, struct err *e);

#endif
