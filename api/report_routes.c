/* report_routes.c -- GET /v1/reports/capacity (options from the query, the report in the
 * format asked for: reports_format.c) and GET /v1/reports/queue (what waits, by SKU). */
#include "api/internal.h"

#include "api/reports_format.h"
#include "base/clock.h"
#include "store/reports.h"

#include <stdlib.h>
#include <string.h>

void h_report_capacity(struct api *a, const struct api_request *req, const struct route_params *p,
                       struct api_response *resp)
{
    static const char *const known[] = {"from", "to", "step", "format"};
    struct store_report_opts o;
    struct store_report *rep = NULL;
    enum wire_report_format fmt = WIRE_REPORT_JSON;
    const char *fs = req_query(req, "format");
    struct err e = {0};

    (void)p;
    for (size_t i = 0; i < req->n_query; i++) {
        size_t k = 0;

        while (k < 4 && strcmp(req->query[i].key, known[k]) != 0)
            k++;
        if (k == 4) {
            resp_errorf(resp, ERR_MALFORMED, req->query[i].key,
                        "unknown query parameter \"%s\"; known: from, to, step, format",
                        req->query[i].key);
            return;
        }
    }
    if ((fs && *fs && wire_parse_report_format(fs, &fmt, &e)) ||
        reports_parse_opts(req_query(req, "from"), req_query(req, "to"), req_query(req, "step"),
                           clock_realtime_ms(), &o, &e) ||
        store_report_capacity(a->store, &o, &rep, &e)) {
        resp_error(resp, &e);
        return;
    }
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

    (void)p;
    if (req->n_query > 0) {
        resp_errorf(resp, ERR_MALFORMED, req->query[0].key,
                    "unknown query parameter \"%s\"; this endpoint takes none", req->query[0].key);
        return;
    }
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
