/* explain_queue.c -- explain's queue position and estimated start, and the whole queue's
 * view (see explain_queue.h). */
#include "scheduler/explain_queue.h"

#include "policy/eta.h"
#include "policy/policy_json.h"
#include "scheduler/internal.h"

static const struct eta_opts eta_opts = {SCHED_ETA_DEFAULT_RUNTIME_S, SCHED_ETA_STEP_S,
                                         SCHED_ETA_MAX_EVENTS, SCHED_ETA_MAX_WORK};

/* Each running placement's limit: its maxRuntimeSeconds, which the member Job's deadline
 * enforces. Caller frees. */
static int64_t *running_limits(const struct cycle *c, const struct decide_ctx *d,
                               const struct policy_input *in)
{
    int64_t *limit = xcalloc(in->n_running + 1, sizeof(*limit));

    for (size_t r = 0; r < in->n_running && r < d->n_running; r++)
        limit[r] = c->jobs.v[d->ridx[r]].max_runtime_s;
    return limit;
}

int sched_explain_queue(const struct cycle *c, const struct decide_ctx *d,
                        const struct policy_input *in, const struct policy_state *st, size_t idx,
                        struct buf *out, struct err *e)
{
    int64_t *limit = running_limits(c, d, in);
    struct eta_runtimes rt = {limit, NULL, NULL};
    struct eta_result res;
    int rc = -1;

    if (out->len == 0 || out->data[out->len - 1] != '}') {
        err_set(e, ERR_INTERNAL, NULL, "explain answer is not an object");
        goto out;
    }
    if (eta_estimate(in, &rt, st, idx, &eta_opts, &res, e))
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

/* Whether live job j is one q asks for. */
static bool selected(const struct store_sched_job *j, const struct sched_queue_query *q)
{
    bool sku = !q->sku || strcmp(j->sku, q->sku) == 0, ns = q->n_namespaces == 0;

    if (q->ns && strcmp(j->ns, q->ns) != 0)
        return false;
    for (size_t i = 0; !sku && i < j->n_alt_skus; i++)
        sku = strcmp(j->alt_skus[i], q->sku) == 0;
    for (size_t i = 0; !ns && i < q->n_namespaces; i++)
        ns = strcmp(j->ns, q->namespaces[i]) == 0;
    return sku && ns;
}

/* An item's first members, up to its SKUs, and the comma after them. */
static void item_head_json(const struct store_sched_job *j, struct buf *b)
{
    buf_puts(b, "{\"metadata\":{\"namespace\":");
    policy_json_str(b, j->ns);
    buf_puts(b, ",\"name\":");
    policy_json_str(b, j->name);
    buf_puts(b, ",\"uid\":");
    policy_json_str(b, j->uid);
    buf_printf(b, "},\"priority\":%d,\"gpus\":%d,\"skus\":[", j->priority, j->gpu_count);
    policy_json_str(b, j->sku);
    for (size_t i = 0; i < j->n_alt_skus; i++) {
        buf_puts(b, ",");
        policy_json_str(b, j->alt_skus[i]);
    }
    buf_puts(b, "],");
}

/* One item of the policy's queue: the job, its place and estimate, and why it waits (pend
 * NULL: the what-if cycle places it). */
static void item_json(const struct store_sched_job *j, size_t order,
                      const struct eta_queue_entry *x, bool capped,
                      const struct policy_pending *pend, const struct snapshot *snap, struct buf *b)
{
    char ts[40];

    item_head_json(j, b);
    buf_printf(b, "\"order\":%zu,\"position\":%d,\"ahead\":{\"jobs\":%d,\"gpus\":%d},", order,
               x->position, x->ahead_jobs, x->ahead_gpus);
    buf_puts(b, "\"estimatedStart\":");
    if (x->placed) {
        clock_format_rfc3339(x->start_ms, ts, sizeof(ts));
        buf_printf(b, "\"%s\"", ts);
    } else {
        buf_printf(b, "null,\"noEstimate\":\"%s\"", eta_no_estimate(capped && !x->never));
    }
    if (pend) {
        buf_puts(b, ",\"pendingReason\":");
        policy_why_json(b, snap, &pend->why);
    }
    buf_puts(b, "}");
}

/* Whether live job j is queued, not being cancelled, and set aside at now. */
static bool aside(const struct store_sched_job *j, int64_t now)
{
    return j->phase == PHASE_QUEUED && !j->cancel_requested && sched_set_aside(j, now);
}

/* The jobs set aside: those in a retry backoff first, the soonest back first; then the held
 * ones, the oldest first; ties by namespace and name. */
static int cmp_aside(const void *a, const void *b)
{
    const struct store_sched_job *x = *(const struct store_sched_job *const *)a;
    const struct store_sched_job *y = *(const struct store_sched_job *const *)b;
    int64_t kx = x->held ? x->created_ms : x->not_before_ms;
    int64_t ky = y->held ? y->created_ms : y->not_before_ms;
    int c;

    if (x->held != y->held)
        return x->held ? 1 : -1;
    if (kx != ky)
        return kx < ky ? -1 : 1;
    c = strcmp(x->ns, y->ns);
    return c ? c : strcmp(x->name, y->name);
}

/* A job set aside at now, as an item: no place, no estimate (the policy does not consider
 * it now), and why in pendingReason (job_aside_reason(), as explain and a GET say it), with
 * the time a job in a retry backoff joins the queue again. */
static void aside_json(const struct store_sched_job *j, int64_t now, struct buf *b)
{
    char msg[160], ts[40];
    const char *code = job_aside_reason(j->held, j->not_before_ms, now, msg, sizeof(msg));

    item_head_json(j, b);
    buf_puts(b, "\"order\":null,\"position\":null,\"ahead\":null,\"estimatedStart\":null,"
                "\"pendingReason\":{\"reason\":");
    policy_json_str(b, code);
    buf_puts(b, ",\"message\":");
    policy_json_str(b, msg);
    if (!j->held) {
        clock_format_rfc3339(j->not_before_ms, ts, sizeof(ts));
        buf_printf(b, ",\"retryAt\":\"%s\"", ts);
    }
    buf_puts(b, "}}");
}

/* Queue entries in visit order; those the visit did not report last, in queue order. */
static int cmp_order(const void *a, const void *b, void *arg)
{
    const struct eta_queue *q = arg;
    int oa = q->v[*(const size_t *)a].order, ob = q->v[*(const size_t *)b].order;
    size_t ia = *(const size_t *)a, ib = *(const size_t *)b;

    if (oa != ob)
        return oa < 0 ? 1 : ob < 0 ? -1 : oa < ob ? -1 : 1;
    return ia < ib ? -1 : ia > ib;
}

int sched_queue_json(const struct cycle *c, const struct decide_ctx *d,
                     const struct policy_input *in, const struct policy_state *st,
                     const struct policy_result *res, const struct sched_queue_query *q,
                     struct buf *out, struct err *e)
{
    int64_t *limit = running_limits(c, d, in);
    struct eta_runtimes rt = {limit, NULL, NULL};
    const struct policy_pending **pend = xcalloc(in->n_queue + 1, sizeof(*pend));
    size_t *by = xcalloc(in->n_queue + 1, sizeof(*by)), total = 0, shown = 0, held = 0, later = 0;
    const struct store_sched_job **set = xcalloc(c->jobs.n + 1, sizeof(*set));
    size_t n_aside = 0;
    struct eta_queue eq;
    char ts[40];

    if (eta_estimate_queue(in, &rt, st, &eta_opts, &eq, e)) {
        free(limit);
        free(pend);
        free(by);
        free(set);
        return -1;
    }
    for (size_t p = 0; p < res->n_pending; p++)
        if (res->pending[p].job < in->n_queue)
            pend[res->pending[p].job] = &res->pending[p];
    for (size_t i = 0; i < in->n_queue; i++)
        by[i] = i;
    qsort_r(by, in->n_queue, sizeof(*by), cmp_order, &eq);
    clock_format_rfc3339(in->now_ms, ts, sizeof(ts));
    buf_puts(out, "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"QueueView\",\"items\":[");
    for (size_t k = 0; k < in->n_queue; k++) {
        size_t i = by[k];
        const struct store_sched_job *j = &c->jobs.v[d->qidx[i]];

        if (!selected(j, q))
            continue;
        if (total++ < q->offset || shown >= q->limit)
            continue;
        if (shown++)
            buf_puts(out, ",");
        item_json(j, k + 1, &eq.v[i], eq.basis.capped, pend[i], in->snap, out);
    }
    /* Queued jobs the policy does not take now: after the queue, so a reader sees them and
     * why, as squeue lists held jobs with their reason. */
    for (size_t k = 0; k < c->jobs.n; k++)
        if (aside(&c->jobs.v[k], c->now) && selected(&c->jobs.v[k], q))
            set[n_aside++] = &c->jobs.v[k];
    qsort(set, n_aside, sizeof(*set), cmp_aside);
    for (size_t k = 0; k < n_aside; k++) {
        held += set[k]->held;
        later += !set[k]->held;
        if (total++ < q->offset || shown >= q->limit)
            continue;
        if (shown++)
            buf_puts(out, ",");
        aside_json(set[k], c->now, out);
    }
    buf_printf(out,
               "],\"metadata\":{\"generatedAt\":\"%s\",\"queued\":%zu,\"total\":%zu,"
               "\"offset\":%zu,\"limit\":%zu,\"held\":%zu,\"retryBackoff\":%zu},\"basis\":",
               ts, in->n_queue, total, q->offset, q->limit, held, later);
    eta_basis_json(&eq.basis, out);
    buf_puts(out, "}");
    eta_queue_free(&eq);
    free(limit);
    free(pend);
    free(by);
    free(set);
    return 0;
}
