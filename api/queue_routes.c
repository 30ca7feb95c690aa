/* queue_routes.c -- GET /v1/queue and GET /v1/namespaces/{ns}/queue: every queued job in the
 * order the policy takes them, with its place, the jobs and GPUs ahead of it, its estimated
 * start and why it waits, from one what-if (the scheduler's sched_queue_view(), attached with
 * api_attach_queue_view()). docs/api.md, "The queue".
 * A view costs what an explanation of the job that starts last costs (up to about a second
 * of CPU on a long queue), and dashboards and scripts poll it. So an answer is reused for
 * VIEW_TTL_MS per query (namespace, the caller's namespaces, SKU, page), and one view's
 * what-if runs at a time per replica: a request that finds another running gets its
 * query's last answer up to VIEW_STALE_MS old, or 503 with Retry-After. */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "api/whatif_memo.h"
#include "base/buf.h"
#include "base/num.h"
#include "base/sku.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_DEFAULT_LIMIT 100
#define QUEUE_MAX_LIMIT     1000
#define QUEUE_MAX_OFFSET    10000000
#define VIEW_SLOTS          64
#define VIEW_TTL_MS         10000
#define VIEW_STALE_MS       60000

struct whatif_memo *queue_views_new(void)
{
    return whatif_memo_new(VIEW_SLOTS, VIEW_TTL_MS, VIEW_STALE_MS);
}

void queue_views_metrics(struct api *a, struct buf *out)
{
    struct whatif_memo_counts c;

    whatif_memo_counts(a->queue_views, &c);
    buf_printf(out,
               "# HELP fedsched_api_queue_view_whatifs_total What-ifs run for GET /v1/queue.\n"
               "# TYPE fedsched_api_queue_view_whatifs_total counter\n"
               "fedsched_api_queue_view_whatifs_total %llu\n"
               "# HELP fedsched_api_queue_view_reused_total Queue views answered with an answer "
               "already made for the same query.\n"
               "# TYPE fedsched_api_queue_view_reused_total counter\n"
               "fedsched_api_queue_view_reused_total %llu\n"
               "# HELP fedsched_api_queue_view_refused_total Queue views answered 503 while "
               "another view's what-if ran.\n"
               "# TYPE fedsched_api_queue_view_refused_total counter\n"
               "fedsched_api_queue_view_refused_total %llu\n",
               (unsigned long long)c.made, (unsigned long long)c.reused,
               (unsigned long long)c.busy);
}

/* q as one string: the key of its answers. */
static char *query_key(const struct api_queue_query *q)
{
    struct buf b;

    buf_init(&b, 0);
    buf_printf(&b, "%s|%s|%zu|%zu|", q->ns ? q->ns : "*", q->sku ? q->sku : "*", q->offset,
               q->limit);
    for (size_t i = 0; i < q->n_namespaces; i++)
        buf_printf(&b, "%s,", q->namespaces[i]);
    return buf_steal(&b);
}

struct view_arg {
    struct api *a;
    const struct api_queue_query *q;
    struct err *e;
};

/* The scheduler's view for the query, or NULL with the error. */
static char *make_view(void *arg)
{
    struct view_arg *v = arg;
    struct buf b;

    buf_init(&b, 0);
    if (v->a->queue_view(v->a->queue_view_arg, v->q, &b, v->e)) {
        buf_free(&b);
        return NULL;
    }
    buf_puts(&b, "");
    return buf_steal(&b);
}

void api_attach_queue_view(struct api *a,
                           int (*fn)(void *arg, const struct api_queue_query *q, struct buf *out,
                                     struct err *e),
                           void *arg)
{
    a->queue_view = fn;
    a->queue_view_arg = arg;
}

/* Reads every parameter, each problem a cause in c. */
static void parse_queue_query(const struct api_request *req, struct api_queue_query *q,
                              struct err_causes *c)
{
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        struct err e;
        int64_t n;

        if (strcmp(k, "limit") == 0) {
            if (num_parse_i64(v, 1, QUEUE_MAX_LIMIT, &n))
                err_causef(c, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..%d", v,
                           QUEUE_MAX_LIMIT);
            else
                q->limit = (size_t)n;
        } else if (strcmp(k, "offset") == 0) {
            if (num_parse_i64(v, 0, QUEUE_MAX_OFFSET, &n))
                err_causef(c, ERR_MALFORMED, "offset", "offset \"%s\" is not an integer in 0..%d",
                           v, QUEUE_MAX_OFFSET);
            else
                q->offset = (size_t)n;
        } else if (strcmp(k, "sku") == 0) {
            if (query_sku(v, &e))
                err_cause(c, &e);
            else
                q->sku = v;
        }
    }
}

void h_queue_view(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    struct api_queue_query q = {.ns = p->ns, .limit = QUEUE_DEFAULT_LIMIT};
    struct err_causes causes = {0};
    struct err e = {0};
    struct view_arg v = {a, &q, &e};
    char *key, *body;
    bool busy;

    if (p->ns && trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return;
    }
    parse_queue_query(req, &q, &causes);
    if (api_causes_answer(&causes, resp))
        return;
    /* Across namespaces, a token sees only the jobs of those it may read; the others still
     * count ahead of them. */
    if (!p->ns && req->who && req->who->role != ROLE_ADMIN && req->who->n_namespaces) {
        q.namespaces = (const char *const *)req->who->namespaces;
        q.n_namespaces = req->who->n_namespaces;
    }
    if (!a->queue_view) {
        resp_errorf(resp, ERR_UNAVAILABLE, NULL, "no scheduler on this replica to view the queue");
        return;
    }
    key = query_key(&q);
    body = whatif_memo_get(a->queue_views, key, 0, make_view, &v, &busy);
    free(key);
    if (!body) {
        if (busy)
            err_set(&e, ERR_UNAVAILABLE, NULL,
                    "another queue view is being made on this replica; retry");
        resp_error(resp, &e);
        return;
    }
    resp_text(resp, 200, "application/json", body);
}
