/* explain.h -- why a job is pending (per cluster, per SKU and pool) or why it was placed
 * where it was (score breakdown of the chosen and runner-up clusters), as plain structs.
 * Evaluates against the capacity left after the cycle that produced the result, so "5
 * nodes have 8 free" counts what this cycle did not hand out.
 * Not responsible for rendering (policy_json.h: explain_json), HTTP (api/) or deciding
 * anything (policy.h). */
#ifndef POLICY_EXPLAIN_H
#define POLICY_EXPLAIN_H

#include "policy/policy.h"

#include <stdbool.h>
#include <stddef.h>

struct err;

#define EXPLAIN_WHYS_MAX (2 * (1 + POLICY_ALT_SKUS_MAX) + 1)

/* One cluster's verdict for a pending job: one entry per SKU option x pool, in the order
 * the policy tries them (training first), or one cluster-wide reason. */
struct explain_cluster {
    int cluster; /* snapshot index */
    bool fits;   /* some (SKU, pool) would take the job now (it was ordered behind others
                      or blocked by quota; see the job-wide reasons) */
    struct policy_why whys[EXPLAIN_WHYS_MAX]; /* reason NONE marks a fitting entry */
    size_t n_whys;
};

enum explain_status {
    EXPLAIN_PLACED = 0,
    EXPLAIN_PENDING,
};

struct explain {
    size_t job; /* index into the input queue */
    enum explain_status status;
    const struct policy_placement *placement;         /* PLACED; points into the result */
    const struct policy_pending *pending;             /* PENDING; points into the result */
    struct policy_why quota[1 + POLICY_ALT_SKUS_MAX]; /* job-wide quota verdicts, PENDING */
    size_t n_quota;
    struct explain_cluster *clusters; /* PENDING: one per snapshot cluster */
    size_t n_clusters;
};

/* Index of the queued job ns/name in in->queue, or -1. */
long explain_find(const struct policy_input *in, const char *ns, const char *name);

/* Explains queue job `job` of the cycle (in, r) that policy_decide() produced. Caller owns
 * *out; release with explain_free(). Read-only on r: any number of threads may explain
 * jobs of one result at once. Fails with ERR_NOT_FOUND when job is out of range. */
int explain_job(const struct policy_input *in, const struct policy_result *r, size_t job,
                struct explain **out, struct err *e);
void explain_free(struct explain **x); /* NULL-safe; sets *x to NULL */

#endif
