/* cluster_routes.c -- the member-cluster registry endpoints and federation capacity. The
 * configuration comes from PostgreSQL (the registry); the live status from the poller's
 * RCU snapshot, read without blocking the poller. */
#include "api/internal.h"

#include "api/forecast_json.h"
#include "api/list_token.h"
#include "api/trainingjob.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/num.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void api_attach_clusters(struct api *a, struct poller *p, const struct sku_catalogue *skus,
                         void (*changed)(void *arg), void *arg)
{
    a->poller = p;
    a->skus = skus;
    a->clusters_changed = changed;
    a->clusters_changed_arg = arg;
}

static const struct sku_catalogue *catalogue(const struct api *a)
{
    return a->skus ? a->skus : sku_catalogue();
}

/* {"name", "source", "cordoned", "spec": config, "status": live status or Unknown}. */
static json_t *cluster_json(struct api *a, const struct store_cluster *row)
{
    json_t *spec = json_loads(row->config_json, 0, NULL), *status = NULL;

    if (a->poller) {
        const struct cluster_snapshot *cs = poller_read_begin(a->poller);
        int i = cluster_snapshot_find(cs, row->name);

        if (i >= 0)
            status = cluster_snapshot_cluster_json(cs, (size_t)i, clock_realtime_ms());
        poller_read_end(a->poller);
    }
    if (!status)
        status = json_pack("{s:s}", "health", "Unknown");
    if (spec)
        json_object_set_new(spec, "cordoned", json_boolean(row->cordoned));
    return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o}", "apiVersion", "fedsched.io/v1", "name",
                     row->name, "source", row->source, "cordoned", row->cordoned, "spec",
                     spec ? spec : json_object(), "status", status);
}

static void notify_changed(struct api *a)
{
    if (a->clusters_changed)
        a->clusters_changed(a->clusters_changed_arg);
}

void h_cluster_list(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp)
{
    struct store_cluster *rows = NULL;
    size_t n = 0;
    struct err e = {0};
    json_t *items;

    (void)req;
    (void)p;
    if (store_cluster_list(a->store, &rows, &n, &e)) {
        resp_error(resp, &e);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(items, cluster_json(a, &rows[i]));
    store_clusters_free(&rows, n);
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:o}", "apiVersion", "fedsched.io/v1", "kind", "ClusterList",
                        "items", items));
}

void h_cluster_get(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp)
{
    struct store_cluster *row = NULL;
    struct err e = {0};

    (void)req;
    if (store_cluster_get(a->store, p->name, &row, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp_json(resp, 200, cluster_json(a, row));
    store_clusters_free(&row, 1);
}

/* Stores cfg with req's audit row (201 created, ok_status replaced) and answers with the
 * stored cluster. */
static void save(struct api *a, const struct api_request *req, const struct cluster_config *cfg,
                 int ok_status, struct api_response *resp)
{
    json_t *j = cluster_config_to_json(cfg);
    char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    struct store_cluster *row = NULL;
    struct store_audit audit;
    struct err e = {0};
    bool created = false;

    json_decref(j);
    access_audit_row(req, NULL, 201, ok_status, &audit);
    if (store_cluster_put_audited(a->store, cfg->name, text, cfg->cordoned, false, "api", &audit,
                                  &created, &e)) {
        resp_error(resp, &e);
        free(text);
        return;
    }
    free(text);
    notify_changed(a);
    /* Committed with its row; reading it back can still fail (then that 503 is audited
     * too, as what the caller saw). */
    if (store_cluster_get(a->store, cfg->name, &row, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp->audited = true;
    resp_json(resp, created ? 201 : ok_status, cluster_json(a, row));
    store_clusters_free(&row, 1);
}

void h_cluster_put(struct api *a, const struct api_request *req, const struct route_params *p,
                   struct api_response *resp)
{
    struct cluster_config *cfg = NULL;
    struct err_causes *causes;
    json_error_t jerr;
    json_t *body = NULL, *name;
    struct err e = {0};

    if (!req->content_type || strncmp(req->content_type, "application/json", 16) != 0) {
        resp_errorf(resp, ERR_MEDIA_TYPE, "Content-Type", "Content-Type must be application/json");
        return;
    }
    if (api_json_prescan(req->body ? req->body : "", req->body_len, &e)) {
        resp_error(resp, &e);
        return;
    }
    body = json_loadb(req->body ? req->body : "", req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body || !json_is_object(body)) {
        resp_errorf(resp, ERR_MALFORMED, NULL, "body is not a JSON object: %s",
                    body ? "wrong type" : jerr.text);
        json_decref(body);
        return;
    }
    name = json_object_get(body, "name");
    if (!name) {
        json_object_set_new(body, "name", json_string(p->name));
    } else if (!json_is_string(name) || strcmp(json_string_value(name), p->name) != 0) {
        resp_errorf(resp, ERR_INVALID, "name", "name in the body must equal %s from the path",
                    p->name);
        json_decref(body);
        return;
    }
    cfg = xcalloc(1, sizeof(*cfg));
    causes = xcalloc(1, sizeof(*causes));
    /* Every problem of the object at once, as for a TrainingJob. Credential files only from
     * the secrets directory, and present now: an admin must not be able to name
     * /proc/self/environ and an apiServer of their choosing. */
    if (cluster_config_from_json_all(body, catalogue(a), cfg, causes))
        resp_error_causes(resp, causes->items, causes->n, causes->more);
    else if (cluster_config_check_files(cfg, &e))
        resp_error(resp, &e);
    else
        save(a, req, cfg, 200, resp);
    free(causes);
    free(cfg);
    json_decref(body);
}

void h_cluster_delete(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp)
{
    struct store_audit audit;
    struct err e = {0};

    access_audit_row(req, NULL, 200, 200, &audit);
    if (store_cluster_delete(a->store, p->name, &audit, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp->audited = true;
    notify_changed(a);
    resp_json(resp, 200, json_pack("{s:s, s:s}", "name", p->name, "status", "deleted"));
}

static void set_cordon(struct api *a, const struct api_request *req, const char *name,
                       bool cordoned, struct api_response *resp)
{
    struct store_cluster *row = NULL;
    struct store_audit audit;
    struct err e = {0};

    access_audit_row(req, NULL, 200, 200, &audit);
    if (store_cluster_set_cordoned(a->store, name, cordoned, &audit, &e)) {
        resp_error(resp, &e);
        return;
    }
    notify_changed(a);
    if (store_cluster_get(a->store, name, &row, &e)) {
        resp_error(resp, &e);
        return;
    }
    resp->audited = true;
    resp_json(resp, 200, cluster_json(a, row));
    store_clusters_free(&row, 1);
}

void h_cluster_cordon(struct api *a, const struct api_request *req, const struct route_params *p,
                      struct api_response *resp)
{
    set_cordon(a, req, p->name, true, resp);
}

void h_cluster_uncordon(struct api *a, const struct api_request *req, const struct route_params *p,
                        struct api_response *resp)
{
    set_cordon(a, req, p->name, false, resp);
}

/* The query of GET /v1/clusters/{name}/nodes. */
struct node_query {
    const char *sku; /* NULL: any */
    int pool;        /* < 0: any */
    size_t limit;    /* 0: every node */
    const char *cont;
};

#define NODES_MAX_LIMIT 10000

/* Reads every parameter, each problem a cause in c. */
static void parse_node_query(const struct api_request *req, struct node_query *q,
                             struct err_causes *c)
{
    memset(q, 0, sizeof(*q));
    q->pool = -1;
    for (size_t i = 0; i < req->n_query; i++) {
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";
        struct err e;

        if (strcmp(k, "sku") == 0) {
            if (query_sku(v, &e))
                err_cause(c, &e);
            else
                q->sku = v;
        } else if (strcmp(k, "pool") == 0) {
            if (query_pool(v, &q->pool, &e))
                err_cause(c, &e);
        } else if (strcmp(k, "limit") == 0) {
            int64_t n;

            if (num_parse_i64(v, 1, NODES_MAX_LIMIT, &n))
                err_causef(c, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..%d", v,
                           NODES_MAX_LIMIT);
            else
                q->limit = (size_t)n;
        } else if (strcmp(k, "continue") == 0) {
            q->cont = v;
        }
    }
}

/* What a continue token is bound to: the cluster and the filters. */
static uint64_t node_query_hash(const char *cluster, const struct node_query *q)
{
    char pool[8];
    uint64_t h = list_token_hash(LIST_TOKEN_HASH_INIT, cluster, 0);

    snprintf(pool, sizeof(pool), "%d", q->pool);
    h = list_token_hash(h, q->sku, 0);
    return list_token_hash(h, pool, 0);
}

/* The cluster's GPU nodes as the last snapshot saw them: what the policy fits jobs to. A
 * registered cluster not polled yet has no items and health Unknown. */
void h_cluster_nodes(struct api *a, const struct api_request *req, const struct route_params *p,
                     struct api_response *resp)
{
    const struct cluster_snapshot *cs;
    struct store_cluster *row = NULL;
    struct node_query q;
    const char *health = "Unknown";
    json_t *items = NULL, *meta;
    char after[SNAPSHOT_NODE_NAME_MAX] = "", ts[40] = "";
    int64_t polled = 0;
    uint64_t hash;
    bool more = false;
    int i;
    struct err_causes causes = {0};
    struct err e = {0};

    parse_node_query(req, &q, &causes);
    if (api_causes_answer(&causes, resp))
        return;
    if (store_cluster_get(a->store, p->name, &row, &e)) {
        resp_error(resp, &e);
        return;
    }
    store_clusters_free(&row, 1);
    hash = node_query_hash(p->name, &q);
    if (q.cont && *q.cont && list_token_decode_name(q.cont, hash, after, sizeof(after))) {
        resp_errorf(resp, ERR_MALFORMED, "continue",
                    "continue token is invalid or was issued for other filters");
        return;
    }
    if (!a->poller) {
        resp_errorf(resp, ERR_UNAVAILABLE, NULL, "capacity polling is not running");
        return;
    }
    cs = poller_read_begin(a->poller);
    i = cluster_snapshot_find(cs, p->name);
    if (i >= 0) {
        items = cluster_snapshot_nodes_json(cs, (size_t)i, q.sku, q.pool, after[0] ? after : NULL,
                                            q.limit, &more);
        health = snapshot_health_name(cs->snap->clusters[i].health);
        polled = cs->status[i].last_success_ms;
    }
    poller_read_end(a->poller);
    if (polled > 0)
        clock_format_rfc3339(polled, ts, sizeof(ts));
    meta = json_object();
    if (more) {
        char tok[LIST_TOKEN_NAME_MAX * 4 / 3 + 8];
        const json_t *last = json_array_get(items, json_array_size(items) - 1);

        list_token_encode_name(json_string_value(json_object_get(last, "name")), hash, tok,
                               sizeof(tok));
        json_object_set_new(meta, "continue", json_string(tok));
    }
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:s?, s:o, s:o}", "apiVersion", "fedsched.io/v1",
                        "kind", "NodeList", "cluster", p->name, "health", health,
                        "lastSuccessfulPoll", polled > 0 ? ts : NULL, "metadata", meta, "items",
                        items ? items : json_array()));
}

/* Drops the rows of items (capacity rows, forecasts) of another SKU or pool than asked. */
static void keep_rows(json_t *items, const char *sku, const char *pool)
{
    for (size_t i = json_array_size(items); i-- > 0;) {
        const json_t *row = json_array_get(items, i);
        const char *s = json_string_value(json_object_get(row, "sku")),
                   *pl = json_string_value(json_object_get(row, "pool"));

        if ((sku && (!s || strcmp(s, sku))) || (pool && (!pl || strcmp(pl, pool))))
            json_array_remove(items, i);
    }
}

void h_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                struct api_response *resp)
{
    const struct cluster_snapshot *cs;
    struct api_forecast_cluster *cl;
    int64_t now = clock_realtime_ms();
    const char *sku = NULL, *pool = NULL;
    size_t n;
    json_t *o, *fc;
    struct err_causes causes = {0};
    struct err e = {0};
    int pool_id;

    (void)p;
    for (size_t i = 0; i < req->n_query; i++) { /* sku and pool, each at most once */
        const char *k = req->query[i].key, *v = req->query[i].value ? req->query[i].value : "";

        if (strcmp(k, "sku") == 0 ? query_sku(sku = v, &e) : query_pool(pool = v, &pool_id, &e))
            err_cause(&causes, &e);
    }
    if (api_causes_answer(&causes, resp))
        return;
    if (!a->poller) {
        resp_errorf(resp, ERR_UNAVAILABLE, NULL, "capacity polling is not running");
        return;
    }
    cs = poller_read_begin(a->poller);
    o = cluster_snapshot_capacity_json(cs, now);
    n = cs ? cs->snap->n_clusters : 0;
    cl = xcalloc(n + 1, sizeof(*cl));
    for (size_t i = 0; i < n; i++)
        cl[i] = (struct api_forecast_cluster){xstrdup(cs->snap->clusters[i].name),
                                              xstrdup(cs->snap->clusters[i].tz)};
    poller_read_end(a->poller);
    /* Outside the RCU read side: the first request reads weeks of samples. The forecast is
     * an addition: capacity is still answered when it cannot be read. */
    fc = api_forecasts_json(a->forecasts, a->store, cl, n, now, &e);
    if (!fc)
        LOG(LOG_WARN, "api", "event=forecast_failed msg=\"%s\"", e.msg);
    keep_rows(json_object_get(o, "capacity"), sku, pool);
    keep_rows(fc, sku, pool);
    json_object_set_new(o, "forecast", fc ? fc : json_null());
    for (size_t i = 0; i < n; i++) {
        free((char *)cl[i].name);
        free((char *)cl[i].tz);
    }
    free(cl);
    resp_json(resp, 200, o);
}
