/* explain.c -- per-cluster reasons for pending jobs and score breakdowns for placed ones. */
#include "policy/explain.h"

#include "base/err.h"
#include "base/mem.h"
#include "policy/engine.h"

#include <stdlib.h>
#include <string.h>

long explain_find(const struct policy_input *in, const char *ns, const char *name)
{
    for (size_t j = 0; j < in->n_queue; j++)
        if (in->queue[j].ns && in->queue[j].name && strcmp(in->queue[j].ns, ns) == 0 &&
            strcmp(in->queue[j].name, name) == 0)
            return (long)j;
    return -1;
}

int explain_job(const struct policy_input *in, const struct policy_result *r, size_t job,
                struct explain **out, struct err *e)
{
    struct engine *en = (struct engine *)r->residual;
    struct explain *x;
    bool quota_ok[1 + POLICY_ALT_SKUS_MAX];

    if (job >= in->n_queue || !en)
        return err_set(e, ERR_NOT_FOUND, "job", "job index %zu is not in the queue of %zu", job,
                       in->n_queue);
    x = xcalloc(1, sizeof(*x));
    x->job = job;
    for (size_t i = 0; i < r->n_placements; i++)
        if (r->placements[i].job == job) {
            x->status = EXPLAIN_PLACED;
            x->placement = &r->placements[i];
            *out = x;
            return 0;
        }
    x->status = EXPLAIN_PENDING;
    for (size_t i = 0; i < r->n_pending; i++)
        if (r->pending[i].job == job)
            x->pending = &r->pending[i];
    {
        const struct engine_job *ej = &en->jobs[job];

        for (int o = 0; o < ej->n_opts; o++) {
            bool over;
            struct policy_why w;

            quota_ok[o] = engine_quota_check(en, ej->ns, ej->opts[o], in->queue[job].gpu_count,
                                             in->queue[job].preemptible, &over, &w) == 0;
            if (!quota_ok[o])
                x->quota[x->n_quota++] = w;
        }
        if (ej->invalid) {
            *out = x;
            return 0;
        }
    }
    x->clusters = xcalloc(en->n_clusters + 1, sizeof(*x->clusters));
    x->n_clusters = en->n_clusters;
    for (size_t c = 0; c < en->n_clusters; c++) {
        struct explain_cluster *xc = &x->clusters[c];
        struct engine_cand cand;
        struct policy_why why;

        memset(&cand, 0, sizeof(cand));
        xc->cluster = (int)c;
        xc->fits = engine_eval_cluster(en, job, (int)c, quota_ok, false, true, &cand, &why,
                                       xc->whys, &xc->n_whys, EXPLAIN_WHYS_MAX) != 0;
    }
    *out = x;
    return 0;
}

void explain_free(struct explain **x)
{
    if (!x || !*x)
        return;
    free((*x)->clusters);
    free(*x);
    *x = NULL;
}
