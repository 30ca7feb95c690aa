/* audit_routes.c -- GET /v1/audit (admins): the audit log, newest first, with keyset paging. */
#include "api/internal.h"

#include "base/clock.h"
#include "base/num.h"
#include "store/store.h"

#include <stdio.h>

void h_audit_list(struct api *a, const struct api_request *req, const struct route_params *p,
                  struct api_response *resp)
{
    const char *limit_s = req_query(req, "limit"), *before_s = req_query(req, "before");
    struct store_audit_page page = {0};
    struct err_causes causes = {0};
    struct err e = {0};
    int64_t limit = 100, before = 0;
    json_t *items, *out;

    (void)p;
    if (limit_s && num_parse_i64(limit_s, 1, 1000, &limit))
        err_causef(&causes, ERR_MALFORMED, "limit", "limit \"%s\" is not an integer in 1..1000",
                   limit_s);
    if (before_s && num_parse_i64(before_s, 1, INT64_MAX, &before))
        err_causef(&causes, ERR_MALFORMED, "before", "before \"%s\" is not an audit record id",
                   before_s);
    if (api_causes_answer(&causes, resp))
        return;
    access_audit_flush(a);
    if (store_audit_list(a->store, before, (int)limit, req_query(req, "token"), &page, &e)) {
        resp_error(resp, &e);
        return;
    }
    items = json_array();
    for (size_t i = 0; i < page.n; i++) {
        const struct store_audit *r = &page.rows[i];
        char ts[40];

        clock_format_rfc3339(r->ts_ms, ts, sizeof(ts));
        json_array_append_new(
            items, json_pack("{s:I, s:s, s:s?, s:s?, s:s, s:s, s:s, s:s?, s:i, s:s?}", "id",
                             (json_int_t)page.ids[i], "time", ts, "token", r->token_name, "role",
                             r->role, "remote", r->remote, "method", r->method, "path", r->path,
                             "namespace", r->ns, "status", r->status, "error", r->detail));
    }
    out = json_pack("{s:s, s:s, s:o}", "apiVersion", "fedsched.io/v1", "kind", "AuditList", "items",
                    items);
    if (page.n == (size_t)limit)
        json_object_set_new(out, "next", json_integer(page.ids[page.n - 1]));
    store_audit_page_free(&page);
    resp_json(resp, 200, out);
}
