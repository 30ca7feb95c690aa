/* decide.c -- step 2 of a cycle: the policy's inputs from the store and the snapshot,
 * the decisions, and their persistence (Admitted with the node plan, pending reasons,
 * reclaims). */
#include "scheduler/internal.h"

#include "policy/policy_json.h"

/* ---- step 2: decide and persist --------------------------------------------------------------- */

/* The node plan of placement p: one entry per node with the GPUs of all its workers there,
 * in the order the workers first name the nodes. One allocation holds the entries and
 * copies of the node names, so it outlives the snapshot. */
static struct job_node_use *node_plan(const struct snapshot *snap, const struct policy_placement *p,
                                      size_t *n)
{
    size_t *idx = xcalloc(p->n_workers + 1, sizeof(*idx)), bytes = 0;
    int *gpus = xcalloc(p->n_workers + 1, sizeof(*gpus));
    struct job_node_use *plan;
    char *names;

    *n = 0;
    for (size_t w = 0; w < p->n_workers; w++) {
        size_t u = 0;

        while (u < *n && idx[u] != p->workers[w].node)
            u++;
        if (u == *n) {
            idx[(*n)++] = p->workers[w].node;
            bytes += strlen(snap->nodes[p->workers[w].node].name) + 1;
        }
        gpus[u] += p->workers[w].gpus;
    }
    plan = xmalloc((*n + 1) * sizeof(*plan) + bytes);
    names = (char *)(plan + *n + 1);
    for (size_t u = 0; u < *n; u++) {
        size_t len = strlen(snap->nodes[idx[u]].name) + 1;

        memcpy(names, snap->nodes[idx[u]].name, len);
        plan[u] = (struct job_node_use){names, gpus[u]};
        names += len;
    }
    free(idx);
    free(gpus);
    return plan;
}

static const char *reclaim_reason_code(enum policy_reclaim_reason r)
{
    switch (r) {
    case POLICY_RECLAIM_DEFICIT: return "ServingDemand";
    case POLICY_RECLAIM_LEASE_END: return "LeaseEnded";
    case POLICY_RECLAIM_QUOTA: return "QuotaReclaim";
    case POLICY_RECLAIM_PRIORITY: return "PriorityPreemption";
    case POLICY_RECLAIM_ANNOUNCED: return "ServingAnnounced";
    case POLICY_RECLAIM_FORECAST: return "ServingForecast";
    case POLICY_RECLAIM_BACKFILL: return "BackfillEviction";
    }
    return "Reclaimed";
}

/* The bound that set a borrowed placement's lease (policy/lease.h names), from its pool's
 * status; "" for a training placement. */
static const char *lease_bound(const struct policy_result *res, const struct policy_placement *p)
{
    for (size_t i = 0; p->pool == SNAPSHOT_POOL_SERVING && i < res->n_pools; i++)
        if (res->pools[i].cluster == p->cluster && res->pools[i].sku == p->sku &&
            res->pools[i].lease_bound)
            return res->pools[i].lease_bound;
    return "";
}

void sched_decide_ctx_free(struct decide_ctx *d)
{
    free(d->queue);
    free(d->qidx);
    free(d->running);
    free(d->ridx);
    free(d->quotas);
    free(d->forecasts);
}

/* The one adapter from a live job to the policy's queued job (sched.h). */
void sched_policy_job(const struct snapshot *snap, const struct store_sched_job *j,
                      struct policy_job *q)
{
    assert(j->n_alt_skus <= POLICY_ALT_SKUS_MAX); /* the API's limit (base/job.h) */
    q->id = (uint64_t)j->id;
    q->ns = j->ns;
    q->name = j->name;
    q->sku = snapshot_sku_find(snap, j->sku);
    for (size_t a = 0; a < j->n_alt_skus; a++)
        q->alt_skus[q->n_alt_skus++] = snapshot_sku_find(snap, j->alt_skus[a]);
    /* Every entry above is kept, a SKU the snapshot lacks included, so figure i belongs to
     * entry i. The store lines the figures up the same way (store/live_jobs.h); a list of
     * another length cannot be matched to the SKUs, and then none counts (0). */
    q->throughput = j->n_throughput == 1 + q->n_alt_skus ? j->throughput : NULL;
    q->gpu_count = j->gpu_count;
    q->gpus_per_worker = j->gpus_per_worker;
    q->cpu_m_per_worker = j->cpu_m_per_worker;
    q->mem_mib_per_worker = j->mem_mib_per_worker;
    q->priority = j->priority;
    q->preemptible = j->preemptible;
    q->created_ms = j->created_ms;
    q->queued_ms = j->queued_ms;
    q->attempt = j->attempt;
    q->max_runtime_s = j->max_runtime_s;
    q->checkpoint_interval_s = j->checkpoint_interval_s;
    q->affinity = j->affinity;
    q->n_affinity = j->n_affinity;
    q->prereqs = policy_framework_prereqs(j->framework);
    q->avoid_clusters = j->start_timeout_clusters;
    q->n_avoid_clusters = j->n_start_timeout_clusters;
}

/* "; its nodeSelector, affinity and tolerations allow N of the M nodes" when they bar
 * cluster c's pending serving pod pod from some of its SKU's serving nodes, else "". */
static const char *barred_note(const struct snapshot *s, int c,
                               const struct snapshot_pending_pod *pod, char *buf, size_t size)
{
    size_t p = (size_t)(pod - s->clusters[c].serving.pending);
    int allowed, all = snapshot_pending_nodes(s, (size_t)c, p, &allowed);

    if (allowed == all)
        return "";
    snprintf(buf, size, "; its nodeSelector, affinity and tolerations allow %d of the %d nodes",
             allowed, all);
    return buf;
}

/* msg with why the job is (or is not) where its starts timed out: "; its last start timed
 * out in east", "; its starts timed out in west, east" (the latest first), and ", the only
 * cluster that takes it now" ("; no other cluster takes it now") when it is placed in one of
 * them again. Caller frees. */
static char *timed_out_note(const char *msg, const struct store_sched_job *j, const char *placed)
{
    struct buf b;
    bool back = false;

    buf_init(&b, 0);
    buf_printf(&b, "%s; its %s timed out in ", msg,
               j->n_start_timeout_clusters == 1 ? "last start" : "starts");
    for (size_t i = 0; i < j->n_start_timeout_clusters; i++) {
        buf_printf(&b, "%s%s", i ? ", " : "", j->start_timeout_clusters[i]);
        back = back || strcmp(j->start_timeout_clusters[i], placed) == 0;
    }
    if (back)
        buf_printf(&b, "%s",
                   j->n_start_timeout_clusters == 1 ? ", the only cluster that takes it now"
                                                    : "; no other cluster takes it now");
    return buf_steal(&b);
}

/* How long after its dispatch a job whose pods are not all in the data yet still holds its
 * plan's GPUs when the data is younger than the dispatch: its controller may not have made
 * them, or they may never all be there (refused, ended early). */
#define POD_SETTLE_MS 60000

/* Whether a dispatched job's pods count in the snapshot (v: its cluster's view): once
 * they are all in the data (their GPUs), or POD_SETTLE_MS after the data is as recent as
 * the dispatch. Not from the data's age alone: the API server answers the create before
 * the Job controller makes the pods, so data newer than the dispatch may not have them
 * yet, and a pod event in the same millisecond as the dispatch may. */
static bool pods_in_snapshot(const struct cluster_snapshot *cs, const struct store_sched_job *j,
                             const struct cview *v)
{
    if (j->dispatched_ms <= 0 || !v)
        return false;
    if (v->snap >= 0 && (size_t)v->snap < cs->snap->n_clusters &&
        cluster_snapshot_job_gpus(cs, (size_t)v->snap, j->uid, j->attempt) >= j->gpu_count)
        return true;
    return v->data_as_of_ms > j->dispatched_ms + POD_SETTLE_MS;
}

/* And to a placement that holds GPUs; v is the cycle's view of its cluster. */
static void running_job(const struct cluster_snapshot *cs, const struct store_sched_job *j,
                        const struct cview *v, struct policy_running *r)
{
    const struct snapshot *snap = cs->snap;

    r->id = (uint64_t)j->id;
    r->ns = j->ns;
    r->name = j->name;
    r->cluster = j->cluster;
    r->pool = strcmp(j->pool, POOL_BORROWED) == 0 ? SNAPSHOT_POOL_SERVING : SNAPSHOT_POOL_TRAINING;
    r->sku = snapshot_sku_find(snap, j->sku_placed[0] ? j->sku_placed : j->sku);
    r->gpus = j->gpu_count;
    r->priority = j->priority;
    r->preemptible = j->preemptible;
    r->started_ms = j->started_ms ? j->started_ms : j->admitted_ms;
    r->last_checkpoint_ms = j->last_checkpoint_ms;
    r->lease_end_ms = j->lease_end_ms;
    r->reclaiming = j->phase == PHASE_PREEMPTING;
    /* A checkpoint-first victim still waiting for its checkpoint or deadline (dispatch.c);
     * one that has checkpointed is being deleted now. */
    r->checkpoint_by_ms = r->reclaiming && j->checkpoint_requested_ms > 0 &&
                                  j->last_checkpoint_ms < j->checkpoint_requested_ms
                              ? j->checkpoint_deadline_ms
                              : 0;
    /* Until its pods count in the snapshot, the policy holds the plan's GPUs itself. */
    r->in_snapshot = pods_in_snapshot(cs, j, v);
    r->gpus_per_worker = j->gpus_per_worker;
    r->cpu_m_per_worker = j->cpu_m_per_worker;
    r->mem_mib_per_worker = j->mem_mib_per_worker;
    r->plan = j->plan;
    r->n_plan = j->n_plan;
}

bool sched_set_aside(const struct store_sched_job *j, int64_t now)
{
    return j->held || j->not_before_ms > now;
}

void sched_build_inputs(struct cycle *c, const struct cluster_snapshot *cs, struct decide_ctx *d,
                        struct policy_input *in)
{
    const struct snapshot *snap = cs->snap;
    const struct sched *s = c->s;
    size_t n = c->jobs.n;

    d->queue = xcalloc(n + 1, sizeof(*d->queue));
    d->qidx = xcalloc(n + 1, sizeof(*d->qidx));
    d->running = xcalloc(n + 1, sizeof(*d->running));
    d->ridx = xcalloc(n + 1, sizeof(*d->ridx));
    for (size_t k = 0; k < n; k++) {
        const struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase == PHASE_QUEUED && !j->cancel_requested && !sched_set_aside(j, c->now)) {
            sched_policy_job(snap, j, &d->queue[d->n_queue]);
            d->qidx[d->n_queue++] = k;
        } else if (sched_placed_phase(j->phase) && j->cluster[0] &&
                   snapshot_cluster_find(snap, j->cluster) >= 0) {
            running_job(cs, j, sched_cview_find(c, j->cluster), &d->running[d->n_running]);
            d->ridx[d->n_running++] = k;
        }
    }
    d->quotas = xcalloc(s->o.n_quotas + 1, sizeof(*d->quotas));
    memset(in, 0, sizeof(*in));
    in->snap = snap;
    in->queue = d->queue;
    in->n_queue = d->n_queue;
    in->running = d->running;
    in->n_running = d->n_running;
    in->cfg = &s->policy;
    in->now_ms = c->now;
    in->quotas = d->quotas;
    in->n_quotas = policy_quotas_resolve(snap, s->o.quotas, s->o.n_quotas, d->quotas);
    in->namespaces = s->o.weights;
    in->n_namespaces = s->o.n_weights;
}

void sched_step_decide(struct cycle *c)
{
    struct sched *s = c->s;
    const struct cluster_snapshot *cs;
    struct decide_ctx d = {0};
    struct policy_input in;
    struct policy_result *res = NULL;
    struct err e = {0};

    cs = poller_read_begin(s->poller);
    sched_read_clusters(c, cs);
    sched_build_inputs(c, cs, &d, &in);
    /* The leader's thread alone learns forecasts (explanations run on API threads and lend
     * by the fixed rules). */
    sched_forecasts(c, cs->snap, &d);
    in.forecasts = d.forecasts;
    in.n_forecasts = d.n_forecasts;
    /* With placements running the policy still has work: reclaims, and the fair-share
     * usage they add up. */
    if (d.n_queue == 0 && d.n_running == 0) {
        poller_read_end(s->poller);
        sched_decide_ctx_free(&d);
        return;
    }
    if (policy_decide(&in, s->pstate, &res, &e)) {
        poller_read_end(s->poller);
        LOG(LOG_ERROR, "sched", "event=policy_failed field=%s msg=\"%s\"", e.field, e.msg);
        sched_decide_ctx_free(&d);
        return;
    }
    for (size_t i = 0; i < res->n_placements; i++) {
        const struct policy_placement *p = &res->placements[i];
        size_t k = d.qidx[p->job];
        struct store_sched_job *j = &c->jobs.v[k];
        struct store_transition *t = sched_batch_add(&c->b, k, j, PHASE_ADMITTED, "Placed");
        struct explain *x = NULL;
        struct buf xb;

        t->cluster = cs->snap->clusters[p->cluster].name;
        t->pool = p->pool == SNAPSHOT_POOL_SERVING ? POOL_BORROWED : POOL_TRAINING;
        t->sku = cs->snap->sku_names[p->sku];
        t->plan = sched_batch_own(&c->b, node_plan(cs->snap, p, &t->n_plan));
        t->lease_end_ms = p->lease_end_ms;
        t->over_quota = p->over_quota;
        buf_init(&xb, 0);
        if (explain_job(&in, res, p->job, &x, NULL) == 0 && explain_json(&in, x, &xb) == 0)
            t->placement_json = sched_batch_own(&c->b, buf_steal(&xb));
        buf_free(&xb);
        explain_free(&x);
        if (p->has_runner_up)
            t->message = sched_batch_own(
                &c->b,
                xasprintf("placed on %s (%s, %s, %zu worker%s), score %.3f; runner-up %s %.3f",
                          t->cluster, t->pool, t->sku, p->n_workers, p->n_workers == 1 ? "" : "s",
                          p->chosen.total, cs->snap->clusters[p->runner_up.cluster].name,
                          p->runner_up.total));
        else
            t->message = sched_batch_own(
                &c->b, xasprintf("placed on %s (%s, %s, %zu worker%s), score %.3f; the only "
                                 "candidate",
                                 t->cluster, t->pool, t->sku, p->n_workers,
                                 p->n_workers == 1 ? "" : "s", p->chosen.total));
        if (*lease_bound(res, p)) {
            char end[40];

            clock_format_rfc3339(p->lease_end_ms, end, sizeof(end));
            t->message = sched_batch_own(
                &c->b, xasprintf("%s; lease until %s (%s)", t->message, end, lease_bound(res, p)));
        }
        if (j->n_start_timeout_clusters)
            t->message = sched_batch_own(&c->b, timed_out_note(t->message, j, t->cluster));
        /* The strings above point into the snapshot: copy them before it is released. */
        t->cluster = sched_batch_own(&c->b, xstrdup(t->cluster));
        t->sku = sched_batch_own(&c->b, xstrdup(t->sku));
    }
    for (size_t i = 0; i < res->n_reclaims; i++) {
        const struct policy_reclaim *r = &res->reclaims[i];
        size_t k = d.ridx[r->running];
        struct store_sched_job *j = &c->jobs.v[k];
        struct store_transition *t;
        const char *cl = cs->snap->clusters[r->cluster].name;
        const char *sku = r->sku >= 0 ? cs->snap->sku_names[r->sku] : "?";

        if (j->phase == PHASE_PREEMPTING) {
            /* Escalation: a checkpoint-first victim reclaimed again to be deleted now
             * (serving pods are Pending): its deadline is brought forward to now. */
            if (j->checkpoint_requested_ms > 0 && j->checkpoint_deadline_ms > c->now &&
                (r->checkpoint_by_ms <= 0 || r->checkpoint_by_ms < j->checkpoint_deadline_ms)) {
                int64_t by = r->checkpoint_by_ms > c->now ? r->checkpoint_by_ms : c->now;
                char at[40];

                clock_format_rfc3339(by, at, sizeof(at));
                t = sched_batch_add(&c->b, k, j, PHASE_PREEMPTING, "CheckpointDeadlineAdvanced");
                t->checkpoint_by_ms = by;
                t->message = sched_batch_own(
                    &c->b,
                    xasprintf("%s %s serving pool short of %d GPUs now (%s): the "
                              "checkpoint deadline moves to %s",
                              cl, sku, r->deficit, policy_reclaim_reason_name(r->reason), at));
            }
            continue;
        }
        t = sched_batch_add(&c->b, k, j, PHASE_PREEMPTING, reclaim_reason_code(r->reason));
        t->reclaim_reason = policy_reclaim_reason_name(r->reason);
        t->gpus = j->gpu_count;
        t->deficit = r->deficit;
        /* A checkpoint-first victim loses what it has not saved at its delete, not now: its
         * ledger row gets that then (dispatch.c), and 0 until, so the ledger's counters
         * only ever grow. */
        t->lost_gpu_hours = r->checkpoint_by_ms > 0 ? 0 : r->lost_gpu_hours;
        t->grace_s = (int)r->grace_s;
        t->snapshot_ms = cs->snap->taken_ms;
        t->checkpoint_by_ms = r->checkpoint_by_ms > 0 ? r->checkpoint_by_ms : 0;
        switch (r->reason) {
        case POLICY_RECLAIM_DEFICIT: {
            const struct snapshot_agg *a =
                snapshot_agg_const(cs->snap, (size_t)r->cluster, SNAPSHOT_POOL_SERVING, r->sku);

            if (r->pod) {
                char note[96];

                t->message = sched_batch_own(
                    &c->b,
                    xasprintf("reclaimed for serving: a Pending serving pod of %d GPUs, %" PRId64
                              " m CPU and %" PRId64 " MiB fits no %s %s serving node (%d GPUs "
                              "free in the pool%s); this job's going makes room on %s; grace "
                              "%" PRId64 " s, %.2f GPU-hours since the last checkpoint lost",
                              r->pod->gpus, r->pod->cpu_m, r->pod->mem_mib, cl, sku,
                              a ? a->free : 0,
                              barred_note(cs->snap, r->cluster, r->pod, note, sizeof(note)),
                              r->node, r->grace_s, r->lost_gpu_hours));
                break;
            }
            t->message = sched_batch_own(
                &c->b, xasprintf("reclaimed for serving: %s %s serving pool short of %d GPUs "
                                 "(pending serving demand %d, announced %d, reserve %d, free %d);"
                                 " grace %" PRId64 " s, %.2f GPU-hours since the last checkpoint"
                                 " lost",
                                 cl, sku, r->deficit, a ? a->pending_serving : 0,
                                 a ? a->announced_serving : 0, a ? a->reserve : 0, a ? a->free : 0,
                                 r->grace_s, r->lost_gpu_hours));
            break;
        }
        case POLICY_RECLAIM_LEASE_END:
            t->message = sched_batch_own(
                &c->b, xasprintf("the lease on borrowed %s serving GPUs in %s ends; grace %" PRId64
                                 " s, %.2f GPU-hours since the last checkpoint lost",
                                 sku, cl, r->grace_s, r->lost_gpu_hours));
            break;
        case POLICY_RECLAIM_QUOTA:
            t->message = sched_batch_own(
                &c->b,
                xasprintf("%s GPUs in %s returned to namespace %s's nominal quota (for %s); grace "
                          "%" PRId64 " s, %.2f GPU-hours since the last checkpoint lost",
                          sku, cl, d.queue[r->for_job].ns, d.queue[r->for_job].name, r->grace_s,
                          r->lost_gpu_hours));
            break;
        case POLICY_RECLAIM_PRIORITY: {
            /* Within its quota, GPUs may be free: say what the preemptor lacked. */
            char lacked[160] = "";

            if (r->within_quota)
                snprintf(lacked, sizeof(lacked), ", to give back namespace %s's quota of %s",
                         d.queue[r->for_job].ns, sku);
            t->message = sched_batch_own(
                &c->b,
                xasprintf("preempted for %s/%s (priority %d, this job %d)%s: %d %s GPUs in %s; "
                          "grace %" PRId64 " s, %.2f GPU-hours since the last checkpoint lost",
                          d.queue[r->for_job].ns, d.queue[r->for_job].name,
                          d.queue[r->for_job].priority, j->priority, lacked, j->gpu_count, sku, cl,
                          r->grace_s, r->lost_gpu_hours));
            break;
        }
        case POLICY_RECLAIM_BACKFILL:
            t->message = sched_batch_own(
                &c->b,
                xasprintf("backfilled nodes reserved for %s/%s given back: it waited since before "
                          "this job started, and its nodes are free of other work: %d %s GPUs in "
                          "%s; grace %" PRId64 " s, %.2f GPU-hours since the last checkpoint lost",
                          d.queue[r->for_job].ns, d.queue[r->for_job].name, j->gpu_count, sku, cl,
                          r->grace_s, r->lost_gpu_hours));
            break;
        case POLICY_RECLAIM_ANNOUNCED:
        case POLICY_RECLAIM_FORECAST: {
            char by[40];

            clock_format_rfc3339(r->checkpoint_by_ms, by, sizeof(by));
            t->message = sched_batch_own(
                &c->b,
                xasprintf("reclaimed ahead of serving demand: %s %s serving pool will be short of "
                          "%d GPUs (%s); asked to checkpoint, deleted at its checkpoint or at %s; "
                          "grace %" PRId64 " s, %.2f GPU-hours since the last checkpoint",
                          cl, sku, r->deficit,
                          r->reason == POLICY_RECLAIM_ANNOUNCED
                              ? "replicas announced by autoscalers and deployments"
                              : "the forecast's high quantile",
                          by, r->grace_s, r->lost_gpu_hours));
            break;
        }
        }
    }
    poller_read_end(s->poller);
    policy_result_free(&res);
    /* The policy's strings now all live in the batch or the job list. */
    sched_apply(c, NULL);
    sched_batch_reset(&c->b);
    sched_decide_ctx_free(&d);
}
