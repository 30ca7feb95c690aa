/* leader.h -- the scheduler's side of the API: GET /v1/leader (leader.c) and the source of
 * the scheduler's metrics that GET /metrics appends.
 * Not responsible for the scheduler itself (scheduler/sched.c). */
#ifndef API_LEADER_H
#define API_LEADER_H

struct api;
struct buf;

/* Gives /metrics a source of more Prometheus text (the scheduler's sched_metrics()). Call
 * before the server starts; fn runs on request threads, so it must be thread-safe, and arg
 * must outlive the api. */
void api_attach_scheduler(struct api *a, int (*fn)(void *arg, struct buf *b), void *arg);

/* Appends the attached source's text to b (nothing when none is attached). For the
 * /metrics handler. */
void api_scheduler_metrics(struct api *a, struct buf *b);

struct err;
/* Gives GET .../explain its source for queued jobs (the scheduler's sched_explain()),
 * called on request threads: fn must be thread-safe, arg must outlive the api. */
void api_attach_explainer(struct api *a,
                          int (*fn)(void *arg, const char *ns, const char *name, struct buf *out,
                                    struct err *e),
                          void *arg);

#endif
