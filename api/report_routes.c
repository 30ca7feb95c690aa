/* report_routes.c -- GET /v1/reports/capacity (options from the query, the serving pools'
 * forecast beside each step, the report in the format asked for: reports_format.c) and
 * GET /v1/reports/queue (what waits, by SKU). */
#include "api/internal.h"

#include "api/forecast_json.h"
#include "api/reports_format.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "policy/forecast.h"
#include "store/reports.h"

#include <stdlib.h>
#include <string.h>

/* Fills each serving row's forecast from the forecasts GET /v1/capacity keeps (learning
 * the samples written since their last read first). The forecast is an addition: the
 * report is still answered, without it, when there is no poller or the samples cannot be
 * read. */
static void report_forecasts(struct api *a, struct store_report *rep, int64_t now_ms)
{
    const struct cluster_snapshot *cs;
    struct api_forecast_cluster *cl;
    size_t n;
    struct err e = {0};

    if (!a->poller)
        return;
    cs = poller_read_begin(a->poller);
    n = cs ? cs->snap->n_clusters : 0;
    cl = xcalloc(n + 1, sizeof(*cl));
    for (size_t i = 0; i < n; i++)
        cl[i] = (struct api_forecast_cluster){xstrdup(cs->snap->clusters[i].name),
                                              xstrdup(cs->snap->clusters[i].tz)};
    poller_read_end(a->poller);
    if (api_forecasts_refresh(a->forecasts, a->store, cl, n, now_ms, &e))
        LOG(LOG_WARN, "api", "event=forecast_failed msg=\"%s\"", e.msg);
    for (size_t i = 0; i < rep->n_rows; i++) {
        struct store_report_row *w = &rep->rows[i];
        struct forecast_estimate est;

        if (strcmp(w->pool, "serving") != 0)
            continue;
        api_forecasts_mean(a->forecasts, w->cluster, w->sku, w->start_ms, w->end_ms, &est);
        w->forecast_known = est.known;
        w->forecast_p50 = est.p50;
        w->forecast_p95 = est.p95;
    }
    for (size_t i = 0; i < n; i++) {
        free((char *)cl[i].name);
        free((char *)cl[i].tz);
    }
    free(cl);
}

void h_report_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp)
{
    struct store_report_opts o = {0};
    struct store_report *rep = NULL;
    enum wire_report_format fmt = WIRE_REPORT_JSON;
    const char *fs = req_query(req, "format"), *from = req_query(req, "from"),
               *to = req_query(req, "to"), *step = req_query(req, "step");
    int64_t now = clock_realtime_ms();
    struct err_causes causes = {0};
    struct err e = {0};

    (void)p;
    if (fs && *fs && wire_parse_report_format(fs, &fmt, &e))
        err_cause(&causes, &e);
    reports_parse_opts_all(from, to, step, now, &o, &causes);
    reports_parse_filters(req_query(req, "cluster"), req_query(req, "sku"), req_query(req, "pool"),
                          &o, &causes);
    if (api_causes_answer(&causes, resp))
        return;
    if (store_report_capacity(a->store, &o, &rep, &e)) {
        resp_error(resp, &e);
        return;
    }
    report_forecasts(a, rep, now);
    resp_text(resp, 200, reports_content_type(fmt), reports_render(rep, fmt));
    store_report_free(&rep);
}

void h_report_queue(struct api *a, const struct api_request *req, const struct route_params *p,
                    struct api_response *resp)
{
    struct store_queue_sku *q = NULL;
    size_t n = 0;
    struct err e = {0};
    json_t *items;

    (void)req;
    (void)p;
    if (store_report_queue(a->store, &q, &n, &e)) {
        resp_error(resp, &e);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < n; i++) {
        char oldest[40];

        clock_format_rfc3339(q[i].oldest_ms, oldest, sizeof(oldest));
        json_array_append_new(items, json_pack("{s:s, s:I, s:I, s:s}", "sku", q[i].sku, "jobs",
                                               (json_int_t)q[i].jobs, "gpus", (json_int_t)q[i].gpus,
                                               "oldestQueuedAt", oldest));
    }
    free(q);
    resp_json(resp, 200,
              json_pack("{s:s, s:s, s:o}", "apiVersion", "fedsched.io/v1", "kind", "QueueReport",
                        "items", items));
}
