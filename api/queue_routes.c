/* queue_routes.c -- GET /v1/queue and GET /v1/namespaces/{ns}/queue: every queued job in the
 * order the policy takes them, with its place, the jobs and GPUs ahead of it, its estimated
 * start and why it waits, from one what-if (the scheduler's sched_queue_view(), attached with
 * api_attach_queue_view()). docs/api.md, "The queue". */
#include "api/internal.h"

#include "api/trainingjob.h"
#include "base/num.h"
#include "base/sku.h"

#include <stdlib.h>
#include <string.h>

#define QUEUE_DEFAULT_LIMIT 100
#define QUEUE_MAX_LIMIT     1000
#define QUEUE_MAX_OFFSET    10000000

void api_attach_queue_view(struct api *a,
                           int (*fn)(void *arg, const struct api_queue_query *q, struct buf *out,
                                     struct err *e),
                           void *arg)
{
    a->queue_view = fn;
    a->queue_view_arg = arg;
}

static int parse_queue_query(const struct api_request *req, struct api_queue_query *q,
                             struct err *e)
{
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        int64_t n;

        if (strcmp(k, "limit") == 0) {
            if (num_parse_i64(v, 1, QUEUE_MAX_LIMIT, &n))
                return err_set(e, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..%d",
                               v, QUEUE_MAX_LIMIT);
            q->limit = (size_t)n;
        } else if (strcmp(k, "offset") == 0) {
            if (num_parse_i64(v, 0, QUEUE_MAX_OFFSET, &n))
                return err_set(e, ERR_MALFORMED, "offset",
                               "offset \"%s\" is not an integer in 0..%d", v, QUEUE_MAX_OFFSET);
            q->offset = (size_t)n;
        } else if (strcmp(k, "sku") == 0) {
            if (sku_find(sku_catalogue(), v) < 0) {
                char names[512];

                sku_list_names(sku_catalogue(), names, sizeof(names));
                return err_set(e, ERR_MALFORMED, "sku", "unknown sku \"%s\"; known: %s", v, names);
            }
            q->sku = v;
        } else {
            return err_set(e, ERR_MALFORMED, k,
                           "unknown query parameter \"%s\"; known: limit, offset, sku", k);
        }
    }
    return 0;
}

void h_queue_view(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    struct api_queue_query q = {.ns = p->ns, .limit = QUEUE_DEFAULT_LIMIT};
    struct err e = {0};
    struct buf b;

    if (p->ns && trainingjob_check_namespace(p->ns, &e)) {
        resp_error(resp, &e);
        return;
    }
    if (parse_queue_query(req, &q, &e)) {
        resp_error(resp, &e);
        return;
    }
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
    buf_init(&b, 0);
    if (a->queue_view(a->queue_view_arg, &q, &b, &e)) {
        buf_free(&b);
        resp_error(resp, &e);
        return;
    }
    resp_text(resp, 200, "application/json", buf_steal(&b));
}
