/* explain_routes.c -- GET .../trainingjobs/{name}/explain. For a queued job the scheduler runs a
 * what-if cycle with the inputs a real cycle would use (sched_explain(), attached with
 * api_attach_explainer()), so the answer is why it waits now, per cluster, SKU and pool,
 * or where it would go; for a placed job, the score breakdown the scheduler recorded when
 * it admitted it. Both have one shape, rendered in one place (explain_json() in
 * policy/policy_json.c, which the scheduler calls for both); this file only adds what
 * the job's row says now (its phase; for a placed job its cluster and message). A held job
 * answers that it is held, without a what-if. */
#include "api/internal.h"

#include "base/mem.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

void api_attach_explainer(struct api *a,
                          int (*fn)(void *arg, const char *ns, const char *name,
                                    const struct job *unsaved, struct buf *out, struct err *e),
                          void *arg)
{
    a->explainer = fn;
    a->explainer_arg = arg;
}

/* The decision recorded at admission, with the job's phase now. */
static void explain_placed(struct api *a, const struct job *j, struct api_response *resp)
{
    char *placement = NULL;
    json_t *o = NULL;
    struct err e = {0};

    if (store_job_placement(a->store, j->ns, j->name, &placement, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (placement)
        o = json_loads(placement, 0, NULL);
    if (!o)
        o = json_pack("{s:s, s:s}", "ns", j->ns, "name", j->name);
    json_object_set_new(o, "phase", json_string(job_phase_name(j->phase)));
    if (j->cluster && !json_object_get(o, "cluster"))
        json_object_set_new(o, "cluster", json_string(j->cluster));
    if (j->message)
        json_object_set_new(o, "message", json_string(j->message));
    free(placement);
    resp_json(resp, 200, o);
}

/* A held job, or one waiting out a retry backoff, is left out of the policy's queue
 * (scheduler/decide.c), so no what-if would say anything true of it: the answer is why
 * (reason, queue_aside_reason(): as the queue view and a GET say it), in the pending
 * shape. */
static void explain_aside(const struct job *j, json_t *reason, struct api_response *resp)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:b, s:[], s:[], s:s}", "ns", j->ns, "name",
                          j->name, "status", "pending", "reason", reason, "reserving", 0, "quota",
                          "clusters", "phase", job_phase_name(j->phase));

    if (j->held)
        json_object_set_new(o, "held", json_true());
    resp_json(resp, 200, o);
}

void h_job_explain(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp)
{
    struct job *j = NULL;
    struct err e = {0};
    json_t *aside;

    (void)req;
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    if ((aside = queue_aside_reason(j))) {
        explain_aside(j, aside, resp);
        job_free(&j);
        return;
    }
    if (j->phase == PHASE_QUEUED) {
        struct buf b;

        if (!a->explainer) {
            resp_errorf(resp, ERR_UNAVAILABLE, NULL, "no scheduler on this replica to explain");
            job_free(&j);
            return;
        }
        buf_init(&b, 0);
        if (a->explainer(a->explainer_arg, p->ns, p->name, NULL, &b, &e) == 0) {
            /* The same shape as a placed job's: the phase tells a what-if ("would be
             * placed") from a decision taken. */
            json_t *o = json_loadb(b.data ? b.data : "", b.len, 0, NULL);

            if (o)
                json_object_set_new(o, "phase", json_string(job_phase_name(j->phase)));
            resp_json(resp, 200, o);
            buf_free(&b);
            job_free(&j);
            return;
        }
        buf_free(&b);
        if (e.code != ERR_NOT_FOUND) {
            resp_error(resp, &e);
            job_free(&j);
            return;
        }
        /* Placed between the two reads: answer with the recorded decision. */
        job_free(&j);
        if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
            resp_error(resp, &e);
            return;
        }
    }
    explain_placed(a, j, resp);
    job_free(&j);
}
