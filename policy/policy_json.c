/* policy_json.c -- the one JSON rendering of scores, reasons, decisions and explanations
 * (see policy_json.h). A placement's "where" and its plan (workers, score, runner-up) are
 * written by one function each, for the cycle's decisions and for an explanation alike. */
#include "policy/policy_json.h"

#include "base/buf.h"
#include "policy/explain.h"
#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>

int policy_json_str(struct buf *b, const char *s)
{
    return buf_json_str(b, s);
}

/* Opens a job's object: {"ns":..,"name":.. (after a comma unless it is the first). */
static int job_open(struct buf *b, bool first, const char *ns, const char *name)
{
    int rc = buf_puts(b, first ? "{\"ns\":" : ",{\"ns\":");

    rc = rc ? rc : policy_json_str(b, ns);
    rc = rc ? rc : buf_puts(b, ",\"name\":");
    return rc ? rc : policy_json_str(b, name);
}

/* "cluster":..,"pool":..,"sku":.. of a placement or a score. */
static int where_json(struct buf *b, const struct snapshot *s, int cluster, enum snapshot_pool pool,
                      int sku)
{
    int rc = buf_puts(b, "\"cluster\":");

    rc = rc ? rc : policy_json_str(b, s->clusters[cluster].name);
    rc = rc ? rc : buf_printf(b, ",\"pool\":\"%s\",\"sku\":", snapshot_pool_name(pool));
    return rc ? rc : policy_json_str(b, s->sku_names[sku]);
}

/* "workers":[{"node":..,"gpus":..,"strandedGpus":..}],"score":{..} and ,"runner_up":{..} when there is one. */
static int plan_json(struct buf *b, const struct snapshot *s, const struct policy_placement *p)
{
    int rc = buf_puts(b, "\"workers\":[");

    for (size_t w = 0; w < p->n_workers && !rc; w++) {
        rc = buf_puts(b, w ? ",{\"node\":" : "{\"node\":");
        rc = rc ? rc : policy_json_str(b, s->nodes[p->workers[w].node].name);
        rc = rc ? rc : buf_printf(b, ",\"gpus\":%d", p->workers[w].gpus);
        if (!rc && p->workers[w].scored)
            rc = buf_printf(b, ",\"strandedGpus\":%.3f", p->workers[w].stranded_gpus);
        rc = rc ? rc : buf_puts(b, "}");
    }
    rc = rc ? rc : buf_puts(b, "],\"score\":");
    rc = rc ? rc : policy_score_json(b, s, &p->chosen);
    if (!rc && p->has_runner_up) {
        rc = buf_puts(b, ",\"runner_up\":");
        rc = rc ? rc : policy_score_json(b, s, &p->runner_up);
    }
    return rc;
}

/* ,"preemption":{"cluster":..,"victims":[{"ns":..,"name":..}],"message":..} of a job that
 * waits for lower-priority jobs to stop; nothing for any other. */
static int preemption_json(struct buf *b, const struct policy_input *in,
                           const struct policy_pending *p)
{
    const char *ns = in->queue[p->job].ns;
    char msg[512];
    size_t named = 0, others = 0;
    int rc;

    if (policy_preemption_format(in, p, msg, sizeof(msg)))
        return 0;
    rc = buf_puts(b, ",\"preemption\":{\"cluster\":");
    rc = rc ? rc : policy_json_str(b, in->snap->clusters[p->victims_cluster].name);
    rc = rc ? rc : buf_puts(b, ",\"victims\":[");
    for (size_t i = 0; i < p->n_victims && !rc; i++) {
        const struct policy_running *ru = &in->running[p->victims[i]];

        if (!policy_same_ns(ru->ns, ns)) {
            others++;
            continue;
        }
        rc = job_open(b, named++ == 0, ru->ns, ru->name);
        rc = rc ? rc : buf_puts(b, "}");
    }
    rc = rc ? rc : buf_printf(b, "],\"otherNamespaces\":%zu,\"message\":", others);
    rc = rc ? rc : policy_json_str(b, msg);
    return rc ? rc : buf_puts(b, "}");
}

int policy_score_json(struct buf *b, const struct snapshot *s, const struct policy_score *sc)
{
    int rc = buf_puts(b, "{");

    rc = rc ? rc : where_json(b, s, sc->cluster, sc->pool, sc->sku);
    rc = rc ? rc
            : buf_printf(b,
                         ",\"total\":%.6f,\"terms\":{\"fit\":%.6f,\"cost\":%.6f,"
                         "\"locality\":%.6f,\"freshness\":%.6f,\"sku_pref\":%.6f,"
                         "\"borrowed\":%.6f},\"pricePerGpuHour\":%.6g,\"workFactor\":%.6g}",
                         sc->total, sc->fit, sc->cost, sc->locality, sc->freshness, sc->sku_pref,
                         sc->borrowed, sc->price_per_gpu_hour, sc->work_factor);
    return rc;
}

int policy_why_json(struct buf *b, const struct snapshot *s, const struct policy_why *w)
{
    char msg[256];
    int rc;

    policy_why_format(w, s, msg, sizeof(msg));
    rc = buf_printf(b, "{\"reason\":\"%s\"", policy_reason_name(w->reason));
    if (!rc && w->cluster >= 0 && (size_t)w->cluster < s->n_clusters) {
        rc = buf_puts(b, ",\"cluster\":");
        rc = rc ? rc : policy_json_str(b, s->clusters[w->cluster].name);
    }
    if (!rc && w->sku >= 0 && (size_t)w->sku < s->n_skus) {
        rc = buf_puts(b, ",\"sku\":");
        rc = rc ? rc : policy_json_str(b, s->sku_names[w->sku]);
        rc = rc ? rc : buf_printf(b, ",\"pool\":\"%s\"", snapshot_pool_name(w->pool));
    }
    if (!rc && w->reason == POLICY_REASON_NODE_RESOURCES)
        rc = buf_printf(b, ",\"nodesShortOfCpu\":%lld,\"nodesShortOfMemory\":%lld",
                        (long long)w->value, (long long)w->value2);
    if (!rc && w->reason == POLICY_REASON_RESERVED && w->by_name) {
        rc = buf_puts(b, ",\"reservedFor\":{\"namespace\":");
        rc = rc ? rc : policy_json_str(b, w->by_ns ? w->by_ns : "");
        rc = rc ? rc : buf_puts(b, ",\"name\":");
        rc = rc ? rc : policy_json_str(b, w->by_name);
        rc = rc ? rc : buf_puts(b, "}");
    }
    if (!rc && w->reason == POLICY_REASON_MISSING_PREREQ)
        rc = buf_printf(b, ",\"condition\":\"%s\"", snapshot_prereq_name(w->prereq));
    rc = rc ? rc : buf_puts(b, ",\"message\":");
    rc = rc ? rc : policy_json_str(b, msg);
    return rc ? rc : buf_puts(b, "}");
}

int policy_result_json(const struct policy_input *in, const struct policy_result *r, struct buf *b)
{
    const struct snapshot *s = in->snap;
    int rc = buf_puts(b, "{\"placements\":[");

    for (size_t i = 0; i < r->n_placements && !rc; i++) {
        const struct policy_placement *p = &r->placements[i];
        const struct policy_job *job = &in->queue[p->job];

        rc = job_open(b, i == 0, job->ns, job->name);
        rc = rc ? rc : buf_puts(b, ",");
        rc = rc ? rc : where_json(b, s, p->cluster, p->pool, p->sku);
        rc = rc ? rc
                : buf_printf(b, ",\"over_quota\":%s,\"lease_end_ms\":%lld,",
                             p->over_quota ? "true" : "false", (long long)p->lease_end_ms);
        rc = rc ? rc : plan_json(b, s, p);
        rc = rc ? rc : buf_puts(b, "}");
    }
    rc = rc ? rc : buf_puts(b, "],\"pending\":[");
    for (size_t i = 0; i < r->n_pending && !rc; i++) {
        const struct policy_pending *p = &r->pending[i];
        const struct policy_job *job = &in->queue[p->job];

        rc = job_open(b, i == 0, job->ns, job->name);
        rc = rc ? rc : buf_printf(b, ",\"reserving\":%s,\"why\":", p->reserving ? "true" : "false");
        rc = rc ? rc : policy_why_json(b, s, &p->why);
        rc = rc ? rc : preemption_json(b, in, p);
        rc = rc ? rc : buf_puts(b, "}");
    }
    rc = rc ? rc : buf_puts(b, "],\"reclaims\":[");
    for (size_t i = 0; i < r->n_reclaims && !rc; i++) {
        const struct policy_reclaim *rc_ = &r->reclaims[i];
        const struct policy_running *ru = &in->running[rc_->running];

        rc = job_open(b, i == 0, ru->ns, ru->name);
        rc = rc ? rc : buf_puts(b, ",\"cluster\":");
        rc = rc ? rc : policy_json_str(b, ru->cluster);
        rc = rc ? rc
                : buf_printf(b,
                             ",\"reason\":\"%s\",\"deficit\":%d,\"lost_gpu_hours\":%.6f,"
                             "\"grace_s\":%lld,\"checkpoint_by_ms\":%lld}",
                             policy_reclaim_reason_name(rc_->reason), rc_->deficit,
                             rc_->lost_gpu_hours, (long long)rc_->grace_s,
                             (long long)rc_->checkpoint_by_ms);
        if (!rc &&
            (rc_->reason == POLICY_RECLAIM_QUOTA || rc_->reason == POLICY_RECLAIM_PRIORITY)) {
            /* Reopen the object to name the job the GPUs go to. */
            b->len--;
            rc = buf_puts(b, ",\"for\":");
            rc = rc ? rc : policy_json_str(b, in->queue[rc_->for_job].name);
            rc = rc ? rc : buf_puts(b, "}");
        }
    }
    rc = rc ? rc : buf_puts(b, "],\"pools\":[");
    for (size_t i = 0; i < r->n_pools && !rc; i++) {
        const struct policy_pool_status *p = &r->pools[i];

        rc = buf_puts(b, i ? ",{\"cluster\":" : "{\"cluster\":");
        rc = rc ? rc : policy_json_str(b, s->clusters[p->cluster].name);
        rc = rc ? rc : buf_puts(b, ",\"sku\":");
        rc = rc ? rc : policy_json_str(b, s->sku_names[p->sku]);
        rc = rc ? rc
                : buf_printf(b,
                             ",\"lending\":%s,\"closed_reason\":\"%s\",\"lease_end_ms\":%lld,"
                             "\"lendable\":%d,\"lent\":%d,\"deficit\":%d,\"deficit_now\":%d,"
                             "\"stuck\":%d,\"ahead_peak\":%d,\"streak\":%d,"
                             "\"reclaimed\":%d,\"short_by\":%d,\"rate_limited\":%s,"
                             "\"lease_bound\":\"%s\",\"forecast_peak\":%d,"
                             "\"forecast_peak_at_ms\":%lld}",
                             p->lending ? "true" : "false", policy_reason_name(p->closed_reason),
                             (long long)p->lease_end_ms, p->lendable, p->lent, p->deficit,
                             p->deficit_now, p->stuck, p->ahead_peak, p->streak, p->reclaimed,
                             p->short_by, p->rate_limited ? "true" : "false",
                             p->lease_bound ? p->lease_bound : "none", p->forecast_peak,
                             (long long)p->forecast_peak_at_ms);
    }
    return rc ? rc : buf_puts(b, "]}");
}

int explain_json(const struct policy_input *in, const struct explain *x, struct buf *b)
{
    const struct snapshot *s = in->snap;
    const struct policy_job *job = &in->queue[x->job];
    int rc = job_open(b, true, job->ns, job->name);

    if (x->status == EXPLAIN_PLACED) {
        const struct policy_placement *p = x->placement;

        rc = rc ? rc : buf_puts(b, ",\"status\":\"placed\",");
        rc = rc ? rc : where_json(b, s, p->cluster, p->pool, p->sku);
        rc = rc ? rc : buf_puts(b, ",");
        rc = rc ? rc : plan_json(b, s, p);
        rc = rc ? rc
                : buf_printf(b, ",\"candidates\":%d,\"over_quota\":%s,\"lease_end_ms\":%lld}",
                             p->n_candidates, p->over_quota ? "true" : "false",
                             (long long)p->lease_end_ms);
        return rc;
    }
    rc = rc ? rc : buf_puts(b, ",\"status\":\"pending\"");
    if (!rc && x->pending) {
        rc = buf_puts(b, ",\"reason\":");
        rc = rc ? rc : policy_why_json(b, s, &x->pending->why);
        rc = rc ? rc : buf_printf(b, ",\"reserving\":%s", x->pending->reserving ? "true" : "false");
        rc = rc ? rc : preemption_json(b, in, x->pending);
    }
    rc = rc ? rc : buf_puts(b, ",\"quota\":[");
    for (size_t i = 0; i < x->n_quota && !rc; i++) {
        rc = i ? buf_puts(b, ",") : 0;
        rc = rc ? rc : policy_why_json(b, s, &x->quota[i]);
    }
    rc = rc ? rc : buf_puts(b, "],\"clusters\":[");
    for (size_t c = 0; c < x->n_clusters && !rc; c++) {
        const struct explain_cluster *xc = &x->clusters[c];

        rc = buf_puts(b, c ? ",{\"cluster\":" : "{\"cluster\":");
        rc = rc ? rc : policy_json_str(b, s->clusters[xc->cluster].name);
        rc = rc ? rc : buf_printf(b, ",\"fits\":%s,\"reasons\":[", xc->fits ? "true" : "false");
        for (size_t i = 0; i < xc->n_whys && !rc; i++) {
            rc = i ? buf_puts(b, ",") : 0;
            rc = rc ? rc : policy_why_json(b, s, &xc->whys[i]);
        }
        rc = rc ? rc : buf_puts(b, "]}");
    }
    return rc ? rc : buf_puts(b, "]}");
}
