/* quota_routes.c -- GET /v1/quotas: each namespace's GPU quota per SKU (the configuration's
 * "quotas", Kueue's meaning: docs/policy.md, "Quotas") beside what it uses, borrows and
 * waits for now, and per SKU what its cohort still has to lend; a caller sees only the
 * namespaces it may read, and the cohorts only when it may read them all. */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/mem.h"
#include "base/sku.h"
#include "policy/policy.h"
#include "store/reports.h"

#include <stdlib.h>
#include <string.h>

/* One namespace and SKU: a configured row, or a namespace using a SKU that has quotas
 * without a row of its own (nominal 0, no borrowing limit, nothing to lend). */
struct quota_row {
    const char *ns, *sku;
    int nominal, borrowing_limit, lending_limit; /* limits < 0: unlimited */
    bool configured;
    const struct store_quota_use *use; /* NULL: nothing held or queued */
};

/* Reads every parameter, each problem a cause in c. */
static void parse_query(const struct api_request *req, const char **ns, const char **sku,
                        struct err_causes *c)
{
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        struct err e;

        if (strcmp(k, "namespace") == 0) {
            if (trainingjob_check_namespace(v, &e))
                err_cause(c, &e);
            else
                *ns = v;
        } else if (strcmp(k, "sku") == 0) {
            if (query_sku(v, &e))
                err_cause(c, &e);
            else
                *sku = v;
        }
    }
}

static bool managed(const struct api_config *c, const char *sku)
{
    for (size_t i = 0; i < c->n_quotas; i++)
        if (strcmp(c->quotas[i].sku, sku) == 0)
            return true;
    return false;
}

static const struct store_quota_use *use_of(const struct store_quota_use *u, size_t n,
                                            const char *ns, const char *sku)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(u[i].ns, ns) == 0 && strcmp(u[i].sku, sku) == 0)
            return &u[i];
    return NULL;
}

/* Every configured row, then every namespace using a SKU with quotas and no row of its
 * own; *n rows (caller frees). */
static struct quota_row *rows_of(const struct api_config *c, const struct store_quota_use *u,
                                 size_t n_use, size_t *n)
{
    struct quota_row *v = xcalloc(c->n_quotas + n_use + 1, sizeof(*v));
    size_t m = 0;

    for (size_t i = 0; i < c->n_quotas; i++) {
        const struct policy_quota_spec *q = &c->quotas[i];

        v[m++] = (struct quota_row){q->ns,
                                    q->sku,
                                    q->nominal,
                                    q->borrowing_limit,
                                    q->lending_limit,
                                    true,
                                    use_of(u, n_use, q->ns, q->sku)};
    }
    for (size_t i = 0; i < n_use; i++) {
        bool listed = false;

        for (size_t r = 0; r < c->n_quotas && !listed; r++)
            listed =
                strcmp(c->quotas[r].ns, u[i].ns) == 0 && strcmp(c->quotas[r].sku, u[i].sku) == 0;
        if (!listed && managed(c, u[i].sku))
            v[m++] = (struct quota_row){u[i].ns, u[i].sku, 0, -1, 0, false, &u[i]};
    }
    *n = m;
    return v;
}

/* What the row puts in its cohort, and how much of the cohort's lendable quota it uses now:
 * the policy's lendable(m) = min(lending limit, nominal), and its usage beyond what it keeps
 * for itself, nominal - lendable (docs/policy.md, "Quotas"). */
static int lendable_of(const struct quota_row *r)
{
    return r->lending_limit < 0 || r->lending_limit > r->nominal ? r->nominal : r->lending_limit;
}

static int64_t in_use_of(const struct quota_row *r)
{
    int64_t held = r->use ? r->use->held_gpus : 0, above = held - (r->nominal - lendable_of(r));

    return above > 0 ? above : 0;
}

static json_t *limit_json(int v)
{
    return v < 0 ? json_null() : json_integer(v);
}

static json_t *row_json(const struct quota_row *r)
{
    int64_t held = r->use ? r->use->held_gpus : 0;

    return json_pack("{s:s, s:s, s:b, s:i, s:o, s:o, s:I, s:I, s:I, s:I}", "namespace", r->ns,
                     "sku", r->sku, "configured", r->configured, "nominal", r->nominal,
                     "borrowingLimit", limit_json(r->borrowing_limit), "lendingLimit",
                     limit_json(r->lending_limit), "usedGpus", (json_int_t)held, "borrowedGpus",
                     (json_int_t)(held > r->nominal ? held - r->nominal : 0), "queuedJobs",
                     (json_int_t)(r->use ? r->use->queued_jobs : 0), "queuedGpus",
                     (json_int_t)(r->use ? r->use->queued_gpus : 0));
}

/* Per SKU with quotas: what its namespaces put in the cohort (the sum of their lendable
 * quota), how much of it is in use (their usage above what they keep for themselves) and
 * what is left for a namespace to borrow, as the policy's admission counts them. */
static json_t *cohorts_json(const struct quota_row *v, size_t n, const char *sku)
{
    json_t *out = json_array();

    for (size_t i = 0; i < n; i++) {
        int64_t lendable = 0, in_use = 0;
        bool first = true;

        if (sku && strcmp(v[i].sku, sku) != 0)
            continue;
        for (size_t k = 0; k < i && first; k++)
            first = strcmp(v[k].sku, v[i].sku) != 0;
        if (!first)
            continue;
        for (size_t k = i; k < n; k++)
            if (strcmp(v[k].sku, v[i].sku) == 0) {
                lendable += lendable_of(&v[k]);
                in_use += in_use_of(&v[k]);
            }
        json_array_append_new(
            out, json_pack("{s:s, s:I, s:I, s:I}", "sku", v[i].sku, "lendableGpus",
                           (json_int_t)lendable, "inUseGpus", (json_int_t)in_use, "availableGpus",
                           (json_int_t)(lendable > in_use ? lendable - in_use : 0)));
    }
    return out;
}

void h_quota_list(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    const char *ns = NULL, *sku = NULL;
    struct store_quota_use *u = NULL;
    struct quota_row *v;
    size_t n_use = 0, n = 0;
    json_t *items, *body;
    struct err_causes causes = {0};
    struct err e = {0};
    bool restricted;

    (void)p;
    parse_query(req, &ns, &sku, &causes);
    if (api_causes_answer(&causes, resp))
        return;
    restricted = !access_reads_all(req->who);
    if (restricted && ns && !access_may_read(req->who, ns)) {
        resp_errorf(resp, ERR_FORBIDDEN, "namespace", "not allowed to read namespace \"%s\"", ns);
        return;
    }
    if (a->cfg.n_quotas && store_quota_usage(a->store, &u, &n_use, &e)) {
        resp_error(resp, &e);
        return;
    }
    v = rows_of(&a->cfg, u, n_use, &n);
    items = json_array();
    for (size_t i = 0; i < n; i++) {
        if ((ns && strcmp(v[i].ns, ns) != 0) || (sku && strcmp(v[i].sku, sku) != 0) ||
            (restricted && !access_may_read(req->who, v[i].ns)))
            continue;
        json_array_append_new(items, row_json(&v[i]));
    }
    body = json_pack("{s:s, s:s, s:o}", "apiVersion", "fedsched.io/v1", "kind", "QuotaList",
                     "items", items);
    /* A cohort's figures add up every namespace's use: only for callers who read them all. */
    if (!restricted)
        json_object_set_new(body, "cohorts", cohorts_json(v, n, sku));
    free(v);
    free(u);
    resp_json(resp, 200, body);
}
