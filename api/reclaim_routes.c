/* reclaim_routes.c -- GET /v1/reclaims: the lost-work ledger (store/ledger.h), filtered by
 * cluster, namespace, SKU, cause and time, in keyset pages; a caller sees only the
 * namespaces it may read. */
#include "api/internal.h"

#include "api/list_token.h"
#include "api/trainingjob.h"
#include "base/clock.h"
#include "base/num.h"
#include "base/sku.h"
#include "store/ledger.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RECLAIMS_DEFAULT_LIMIT 100

static uint64_t filter_hash(const struct store_ledger_filter *f)
{
    char times[48];
    uint64_t h = LIST_TOKEN_HASH_INIT;

    snprintf(times, sizeof(times), "%" PRId64 "/%" PRId64, f->since_ms, f->until_ms);
    h = list_token_hash(h, f->cluster, 0xff);
    h = list_token_hash(h, f->ns, 0xff);
    h = list_token_hash(h, f->sku, 0xff);
    h = list_token_hash(h, f->cause, 0xff);
    h = list_token_hash(h, times, 0xff);
    for (size_t i = 0; i < f->n_namespaces; i++)
        h = list_token_hash(h, f->namespaces[i], 0xfe);
    return h;
}

static void parse_time(const char *key, const char *v, int64_t *ms, struct err_causes *c)
{
    if (clock_parse_rfc3339(v, ms))
        err_causef(c, ERR_MALFORMED, key,
                   "%s \"%s\" is not an RFC 3339 time (2026-11-28T02:15:38Z)", key, v);
}

/* Reads every parameter, each problem a cause in c; since and until are compared once both
 * were read. */
static void parse_query(const struct api_request *req, struct store_ledger_filter *f,
                        struct err_causes *c)
{
    size_t before = c->n;

    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        struct err e;

        if (strcmp(k, "limit") == 0) {
            int64_t n;

            if (num_parse_i64(v, 1, STORE_LEDGER_MAX_LIMIT, &n))
                err_causef(c, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..%d", v,
                           STORE_LEDGER_MAX_LIMIT);
            else
                f->limit = (int)n;
        } else if (strcmp(k, "cluster") == 0) {
            f->cluster = v;
        } else if (strcmp(k, "namespace") == 0) {
            if (trainingjob_check_namespace(v, &e))
                err_cause(c, &e);
            else
                f->ns = v;
        } else if (strcmp(k, "sku") == 0) {
            if (query_sku(v, &e))
                err_cause(c, &e);
            else
                f->sku = v;
        } else if (strcmp(k, "cause") == 0) {
            if (!store_ledger_cause_valid(v))
                err_causef(c, ERR_MALFORMED, "cause",
                           "unknown cause \"%s\"; causes are reclaim, preemption, retry", v);
            else
                f->cause = v;
        } else if (strcmp(k, "since") == 0) {
            parse_time(k, v, &f->since_ms, c);
        } else if (strcmp(k, "until") == 0) {
            parse_time(k, v, &f->until_ms, c);
        }
    }
    if (c->n == before && f->since_ms && f->until_ms && f->since_ms >= f->until_ms)
        err_causef(c, ERR_INVALID, "until", "until (%s) must be after since (%s)",
                   req_query(req, "until"), req_query(req, "since"));
}

static json_t *time_json(int64_t ms)
{
    char ts[40];

    if (ms <= 0)
        return json_null();
    clock_format_rfc3339(ms, ts, sizeof(ts));
    return json_string(ts);
}

static json_t *entry_json(const struct store_ledger_entry *x)
{
    return json_pack("{s:{s:s, s:s, s:s}, s:i, s:s, s:s?, s:s, s:s, s:s, s:i, s:f, s:o, s:o}",
                     "job", "namespace", x->ns, "name", x->name, "uid", x->uid, "attempt",
                     x->attempt, "cluster", x->cluster, "pool", *x->pool ? x->pool : NULL, "sku",
                     x->sku, "cause", x->cause, "reason", x->reason, "gpus", x->gpus,
                     "lostGpuHours", x->lost_gpu_hours, "requestedAt", time_json(x->requested_ms),
                     "freedAt", time_json(x->freed_ms));
}

void h_reclaim_list(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp)
{
    struct store_ledger_filter f = {.limit = RECLAIMS_DEFAULT_LIMIT};
    struct store_ledger_entry *v = NULL;
    size_t n = 0;
    int64_t next = 0;
    const char *cont;
    json_t *items, *meta;
    struct err_causes causes = {0};
    struct err e = {0};
    bool restricted;

    (void)p;
    parse_query(req, &f, &causes);
    if (api_causes_answer(&causes, resp))
        return;
    /* Anyone who does not read every namespace reads only those its token names. */
    restricted = !access_reads_all(req->who);
    if (restricted) {
        if (f.ns && !access_may_read(req->who, f.ns)) {
            resp_errorf(resp, ERR_FORBIDDEN, "namespace", "not allowed to read namespace \"%s\"",
                        f.ns);
            return;
        }
        f.namespaces = (const char *const *)req->who->namespaces;
        f.n_namespaces = req->who->n_namespaces;
    }
    if ((cont = req_query(req, "continue")) && *cont &&
        list_token_decode(cont, filter_hash(&f), &f.after_id)) {
        resp_errorf(resp, ERR_MALFORMED, "continue",
                    "continue token is invalid or was issued for other filters");
        return;
    }
    /* A token that may read no namespace sees an empty ledger. */
    if ((!restricted || f.n_namespaces) && store_ledger_list(a->store, &f, &v, &n, &next, &e)) {
        resp_error(resp, &e);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, entry_json(&v[i]));
    free(v);
    meta = json_object();
    if (next) {
        char tok[128];

        list_token_encode(next, filter_hash(&f), tok, sizeof(tok));
        json_object_set_new(meta, "continue", json_string(tok));
    }
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "fedsched.io/v1", "kind",
                        "ReclaimList", "metadata", meta, "items", items));
}
