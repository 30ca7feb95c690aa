/* explain.c -- GET .../trainingjobs/{name}/explain: for a queued job, why it waits (per
 * cluster, per SKU and pool) or where it would go, from one what-if policy cycle over the
 * live capacity snapshot and the queue (the cycle's state is thrown away: explaining
 * never changes what the scheduler decides); for a placed job, the score breakdown the
 * scheduler recorded when it admitted it. */
#include "api/internal.h"

#include "base/clock.h"
#include "base/mem.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "policy/explain.h"
#include "policy/policy.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

/* Jobs queued ahead of the explained one that the what-if cycle considers; beyond this
 * the answer is an approximation (the docs say so). */
#define EXPLAIN_QUEUE_MAX 10000

/* What a policy_job borrows from its job: the parsed spec and the affinity array. */
struct job_view {
    json_t *spec;
    const char *affinity[32];
};

static void fill_policy_job(const struct snapshot *snap, struct job *j, struct job_view *v,
                            struct policy_job *pj)
{
    json_t *res, *sched, *alts, *aff, *it;
    size_t i;

    memset(pj, 0, sizeof(*pj));
    v->spec = json_loads(j->spec_json ? j->spec_json : "{}", 0, NULL);
    res = json_object_get(v->spec, "resources");
    sched = json_object_get(v->spec, "scheduling");
    pj->id = (uint64_t)j->id;
    pj->ns = j->ns;
    pj->name = j->name;
    pj->sku = snapshot_sku_find(snap, j->sku ? j->sku : "");
    alts = json_object_get(res, "alternativeInstanceTypes");
    json_array_foreach(alts, i, it)
    {
        if (pj->n_alt_skus < POLICY_ALT_SKUS_MAX)
            pj->alt_skus[pj->n_alt_skus++] = snapshot_sku_find(snap, json_string_value(it));
    }
    pj->gpu_count = j->gpu_count;
    pj->gpus_per_worker = j->gpus_per_worker;
    pj->priority = j->priority;
    pj->preemptible = j->preemptible;
    pj->created_ms = j->created_ms;
    pj->attempt = j->attempt;
    pj->max_runtime_s = json_integer_value(json_object_get(sched, "maxRuntimeSeconds"));
    pj->checkpoint_interval_s =
        json_integer_value(json_object_get(sched, "checkpointIntervalSeconds"));
    aff = json_object_get(sched, "clusterAffinity");
    json_array_foreach(aff, i, it)
    {
        if (pj->n_affinity < sizeof(v->affinity) / sizeof(v->affinity[0]))
            v->affinity[pj->n_affinity++] = json_string_value(it);
    }
    pj->affinity = v->affinity;
}

/* Queued jobs in creation order, at most EXPLAIN_QUEUE_MAX (the policy orders them). */
static int load_queue(struct store *s, struct job ***out, size_t *n, struct err *e)
{
    struct store_job_filter f = {.phase_mask = 1u << PHASE_QUEUED, .limit = 1000};
    struct job **all = NULL;
    size_t count = 0;

    do {
        struct job **page = NULL;
        size_t got = 0;
        int64_t next = 0;

        if (store_job_list(s, &f, &page, &got, &next, e)) {
            store_jobs_free(&all, count);
            return -1;
        }
        all = xrealloc(all, (count + got + 1) * sizeof(*all));
        memcpy(all + count, page, got * sizeof(*page));
        count += got;
        free(page);
        f.after_id = next;
    } while (f.after_id && count < EXPLAIN_QUEUE_MAX);
    *out = all;
    *n = count;
    return 0;
}

/* Answers for a queued job. Returns 1 (resp untouched) when the job left the queue
 * meanwhile (the scheduler placed it), else 0 with resp filled. */
static int explain_queued(struct api *a, struct job *target, struct api_response *resp)
{
    const struct cluster_snapshot *cs;
    struct job **queue = NULL;
    size_t n = 0, k;
    struct policy_job *pjobs = NULL;
    struct job_view *views = NULL;
    struct policy_config cfg;
    struct policy_input in = {0};
    struct policy_quota *quotas = NULL;
    struct policy_state *st = NULL;
    struct policy_result *r = NULL;
    struct explain *x = NULL;
    struct err e = {0};
    struct buf b;
    long idx = -1;
    int rc = 0;

    if (load_queue(a->store, &queue, &n, &e)) {
        resp_error(resp, &e);
        return 0;
    }
    buf_init(&b, 0);
    cs = poller_read_begin(a->poller);
    pjobs = xcalloc(n + 1, sizeof(*pjobs));
    views = xcalloc(n + 1, sizeof(*views));
    for (k = 0; k < n; k++)
        fill_policy_job(cs->snap, queue[k], &views[k], &pjobs[k]);
    if (a->policy)
        cfg = *a->policy;
    else
        policy_config_defaults(&cfg);
    in.snap = cs->snap;
    in.queue = pjobs;
    in.n_queue = n;
    in.cfg = &cfg;
    in.now_ms = clock_realtime_ms();
    quotas = xcalloc(a->n_quotas + 1, sizeof(*quotas));
    in.quotas = quotas;
    in.n_quotas = policy_quotas_resolve(cs->snap, a->quotas, a->n_quotas, quotas);
    in.namespaces = a->weights;
    in.n_namespaces = a->n_weights;
    st = policy_state_new();
    if (policy_decide(&in, st, &r, &e) == 0)
        idx = explain_find(&in, target->ns, target->name);
    if (e.code == ERR_NONE && idx < 0 && n < EXPLAIN_QUEUE_MAX) {
        rc = 1;
    } else if (e.code || idx < 0 || explain_job(&in, r, (size_t)idx, &x, &e)) {
        if (!e.code)
            err_set(&e, ERR_UNAVAILABLE, NULL,
                    "trainingjob %s/%s is beyond the %d queued jobs explain considers", target->ns,
                    target->name, EXPLAIN_QUEUE_MAX);
        resp_error(resp, &e);
    } else {
        explain_json(&in, x, &b);
        buf_puts(&b, "");
        resp_text(resp, 200, "application/json", buf_steal(&b));
    }
    poller_read_end(a->poller);
    explain_free(&x);
    policy_result_free(&r);
    policy_state_free(&st);
    for (k = 0; k < n; k++)
        json_decref(views[k].spec);
    free(views);
    free(pjobs);
    free(quotas);
    store_jobs_free(&queue, n);
    buf_free(&b);
    return rc;
}

void h_job_explain(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp)
{
    struct job *j = NULL;
    struct err e = {0};

    (void)req;
    if (store_job_get(a->store, p->ns, p->name, &j, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (j->phase == PHASE_QUEUED && !a->poller) {
        resp_errorf(resp, ERR_UNAVAILABLE, NULL, "capacity polling is not running");
    } else if (j->phase == PHASE_QUEUED && explain_queued(a, j, resp) == 0) {
        /* answered */
    } else {
        /* Placed (or beyond): the decision as the scheduler recorded it at admission, with
         * the job's phase now. */
        char *placement = NULL;
        json_t *o = NULL;

        if (store_job_placement(a->store, p->ns, p->name, &placement, &e)) {
            resp_error(resp, &e);
            job_free(&j);
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
    job_free(&j);
}
