/* explain_queue.c -- explain's queue position and estimated start (see explain_queue.h). */
#include "scheduler/explain_queue.h"

#include "policy/eta.h"
#include "scheduler/internal.h"

int sched_explain_queue(const struct cycle *c, const struct decide_ctx *d,
                        const struct policy_input *in, const struct policy_state *st, size_t idx,
                        struct buf *out, struct err *e)
{
    struct eta_opts o = {SCHED_ETA_DEFAULT_RUNTIME_S, SCHED_ETA_STEP_S, SCHED_ETA_MAX_EVENTS,
                         SCHED_ETA_MAX_WORK};
    int64_t *limit = xcalloc(in->n_running + 1, sizeof(*limit));
    struct eta_runtimes rt = {limit, NULL, NULL};
    struct eta_result res;
    int rc = -1;

    if (out->len == 0 || out->data[out->len - 1] != '}') {
        err_set(e, ERR_INTERNAL, NULL, "explain answer is not an object");
        goto out;
    }
    /* A running job's maxRuntimeSeconds is its limit: the member Job's deadline ends it. */
    for (size_t r = 0; r < in->n_running && r < d->n_running; r++)
        limit[r] = c->jobs.v[d->ridx[r]].max_runtime_s;
    if (eta_estimate(in, &rt, st, idx, &o, &res, e))
        goto out;
    out->len--;
    out->data[out->len] = '\0';
    buf_puts(out, ",\"queue\":");
    eta_json(&res, out);
    buf_puts(out, "}");
    rc = 0;
out:
    free(limit);
    return rc;
}
