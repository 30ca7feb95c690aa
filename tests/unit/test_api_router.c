/* test_api_router.c -- routing, error-to-status mapping and the handler checks that run
 * before any database access, all without a socket (api_handle directly). */
#include "api/internal.h"
#include "api/list_token.h"
#include "policy/snapshot.h"

#include <check.h>
#include <jansson.h>
#include <string.h>

static struct api *api;

static void setup(void)
{
    struct api_config c = {.max_body_bytes = 1024, .max_connections = 8, .request_timeout_s = 5};

    ck_assert_int_eq(api_new(&c, NULL, &api, NULL), 0);
}

static void teardown(void)
{
    api_free(&api);
}

/* Runs one request and checks status, error code and field (NULL: not present). */
static void expect(const char *method, const char *path, const struct api_kv *q, size_t nq,
                   const char *ctype, const char *body, int status, const char *code,
                   const char *field)
{
    struct api_request req = {.method = method,
                              .path = path,
                              .query = q,
                              .n_query = nq,
                              .content_type = ctype,
                              .body = body,
                              .body_len = body ? strlen(body) : 0};
    struct api_response resp;
    json_t *root, *errobj;

    api_handle(api, &req, &resp);
    ck_assert_msg(resp.status == status, "%s %s: status %d, want %d (%s)", method, path,
                  resp.status, status, resp.body);
    root = json_loads(resp.body, 0, NULL);
    ck_assert_ptr_nonnull(root);
    errobj = json_object_get(root, "error");
    ck_assert_ptr_nonnull(errobj);
    ck_assert_str_eq(json_string_value(json_object_get(errobj, "code")), code);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(errobj, "message")));
    if (field)
        ck_assert_str_eq(json_string_value(json_object_get(errobj, "field")), field);
    else
        ck_assert_ptr_null(json_object_get(errobj, "field"));
    json_decref(root);
    api_response_clear(&resp);
}

START_TEST(routes_capture_namespace_and_name)
{
    struct route_params p;
    struct api_response resp = {0};
    api_handler h = NULL;
    enum perm perm = PERM_ADMIN;
    const char *q = "";

    ck_assert_int_eq(
        api_route("GET", "/v1/namespaces/maps/trainingjobs/run-1", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_get);
    ck_assert_str_eq(p.ns, "maps");
    ck_assert_str_eq(p.name, "run-1");
    ck_assert_str_eq(resp.route, "/v1/namespaces/{ns}/trainingjobs/{name}");
    ck_assert_int_eq(
        api_route("GET", "/v1/namespaces/maps/trainingjobs/run-1/events", &h, &perm, &q, &p, &resp),
        0);
    ck_assert_ptr_eq(h, h_job_events);
    ck_assert_int_eq(
        api_route("POST", "/v1/namespaces/maps/trainingjobs", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_create);
    ck_assert_ptr_null(p.name);
    ck_assert_int_eq(api_route("GET", "/v1/trainingjobs", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_list);
    ck_assert_ptr_null(p.ns);
    ck_assert_int_eq(
        api_route("DELETE", "/v1/namespaces/a/trainingjobs/b", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_cancel);
    /* The checkpoint channel: POST reports, GET reads the request; both for writers. */
    ck_assert_int_eq(
        api_route("GET", "/v1/namespaces/a/trainingjobs/b/checkpoint", &h, &perm, &q, &p, &resp),
        0);
    ck_assert_ptr_eq(h, h_job_checkpoint_request);
    ck_assert_int_eq(perm, PERM_NS_WRITE);
    ck_assert_str_eq(p.name, "b");
    ck_assert_int_eq(
        api_route("POST", "/v1/namespaces/a/trainingjobs/b/checkpoint", &h, &perm, &q, &p, &resp),
        0);
    ck_assert_ptr_eq(h, h_job_checkpoint);
    ck_assert_int_eq(perm, PERM_NS_WRITE);
    ck_assert_int_eq(perm, PERM_NS_WRITE);
    ck_assert_int_eq(
        api_route("POST", "/v1/namespaces/a/trainingjobs:hold", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_bulk_hold);
    ck_assert_str_eq(p.ns, "a");
    ck_assert_ptr_null(p.name);
    ck_assert_int_eq(perm, PERM_NS_WRITE);
    ck_assert_int_eq(api_route("POST", "/v1/trainingjobs:cancel", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_bulk_cancel);
    /* Every namespace at once: admins only. */
    for (size_t i = 0; i < 4; i++) {
        static const char *const all[] = {"/v1/trainingjobs:cancel", "/v1/trainingjobs:hold",
                                          "/v1/trainingjobs:release",
                                          "/v1/trainingjobs:reprioritize"};

        perm = PERM_PUBLIC;
        ck_assert_int_eq(api_route("POST", all[i], &h, &perm, &q, &p, &resp), 0);
        ck_assert_msg(perm == PERM_ADMIN, "%s is not admin-only", all[i]);
    }
    ck_assert_int_eq(
        api_route("PATCH", "/v1/namespaces/a/trainingjobs/b", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_job_patch);
    ck_assert_int_eq(perm, PERM_NS_WRITE);
    ck_assert_int_eq(api_route("GET", "/healthz", &h, &perm, &q, &p, &resp), 0);
    ck_assert_int_eq(perm, PERM_PUBLIC);
    ck_assert_int_eq(api_route("PUT", "/v1/clusters/x", &h, &perm, &q, &p, &resp), 0);
    ck_assert_int_eq(perm, PERM_ADMIN);
    ck_assert_int_eq(api_route("GET", "/v1/clusters/x", &h, &perm, &q, &p, &resp), 0);
    ck_assert_int_eq(perm, PERM_READ);
    ck_assert_int_eq(api_route("GET", "/v1/reclaims", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_eq(h, h_reclaim_list);
    ck_assert_int_eq(perm, PERM_READ); /* narrowed to the caller's namespaces by the handler */
    ck_assert_str_eq(q, "cluster, namespace, sku, cause, since, until, limit, continue");
    ck_assert_int_eq(api_route("GET", "/ui/app.js", &h, &perm, &q, &p, &resp), 0);
    ck_assert_ptr_null(q); /* the dashboard's assets take any query (cache busters) */
}
END_TEST

/* Runs a request; returns its error object's causes' fields, space-separated, and the
 * status. */
static int query_causes(const char *method, const char *path, const struct api_kv *q, size_t nq,
                        char *fields, size_t cap, json_t **err_out)
{
    struct api_request req = {.method = method, .path = path, .query = q, .n_query = nq};
    struct api_response resp;
    json_t *root, *causes;
    size_t used = 0, i;
    json_t *c;
    int status;

    api_handle(api, &req, &resp);
    status = resp.status;
    fields[0] = '\0';
    root = json_loads(resp.body ? resp.body : "{}", 0, NULL);
    ck_assert_ptr_nonnull(root);
    causes = json_object_get(json_object_get(root, "error"), "causes");
    json_array_foreach(causes, i, c) used +=
        (size_t)snprintf(fields + used, cap - used, "%s%s", used ? " " : "",
                         json_string_value(json_object_get(c, "field")));
    *err_out = json_incref(json_object_get(root, "error"));
    json_decref(root);
    api_response_clear(&resp);
    return status;
}

/* Every route refuses what it does not take, before any handler or database: an unknown
 * parameter (GET /v1/capacity, the job's events and the cluster list answered 200 and
 * ignored them) and one given twice, whose value would be a guess. Each is one cause,
 * named; a name repeated three times is one cause. */
START_TEST(unknown_and_repeated_query_parameters_are_400)
{
    static const struct api_kv bogus = {"bogus", "1"},
                               mixed[] = {{"limit", "5"}, {"x", "1"}, {"limit", "6"}, {"lim", ""},
                                          {"limit", "7"}, {"x", "2"}, {"sku", "t4"}};
    char fields[256];
    json_t *err;

    ck_assert_int_eq(query_causes("GET", "/v1/capacity", &bogus, 1, fields, sizeof(fields), &err),
                     400);
    ck_assert_str_eq(fields, "bogus");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
                     "unknown query parameter \"bogus\"; known: sku, pool");
    json_decref(err);
    ck_assert_int_eq(query_causes("GET", "/v1/namespaces/a/trainingjobs/b/events", &bogus, 1,
                                  fields, sizeof(fields), &err),
                     400);
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
                     "unknown query parameter \"bogus\"; this endpoint takes none");
    json_decref(err);
    ck_assert_int_eq(query_causes("GET", "/v1/queue", mixed, 7, fields, sizeof(fields), &err), 400);
    ck_assert_str_eq(fields, "x limit lim");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")),
                     "unknown query parameter \"x\"; known: sku, limit, offset (and 2 more; "
                     "see causes)");
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(err, "causes"), 1), "message")),
                     "query parameter \"limit\" is given more than once");
    json_decref(err);
    /* Probes take anything: a load balancer's own parameters must not fail them. */
    ck_assert_int_eq(query_causes("GET", "/healthz", &bogus, 1, fields, sizeof(fields), &err), 200);
    json_decref(err);
}
END_TEST

START_TEST(unknown_paths_are_404)
{
    expect("GET", "/v1/namespaces//trainingjobs", NULL, 0, NULL, NULL, 404, "not_found", NULL);
    expect("GET", "/v1/namespaces/a/trainingjobs/", NULL, 0, NULL, NULL, 404, "not_found", NULL);
    expect("GET", "/v2/trainingjobs", NULL, 0, NULL, NULL, 404, "not_found", NULL);
    expect("GET", "/v1", NULL, 0, NULL, NULL, 404, "not_found", NULL);
}
END_TEST

START_TEST(wrong_method_is_405_with_allow)
{
    struct api_request req = {.method = "PUT", .path = "/v1/namespaces/a/trainingjobs/b"};
    struct api_response resp;

    api_handle(api, &req, &resp);
    ck_assert_int_eq(resp.status, 405);
    ck_assert_str_eq(resp.allow, "GET, DELETE, PATCH");
    api_response_clear(&resp);
    expect("PUT", "/v1/namespaces/a/trainingjobs", NULL, 0, NULL, NULL, 405, "method_not_allowed",
           NULL);
}
END_TEST

START_TEST(create_checks_before_the_database)
{
    expect("POST", "/v1/namespaces/maps/trainingjobs", NULL, 0, "text/plain", "{}", 415,
           "unsupported_media_type", "Content-Type");
    expect("POST", "/v1/namespaces/maps/trainingjobs", NULL, 0, NULL, "{}", 415,
           "unsupported_media_type", "Content-Type");
    expect("POST", "/v1/namespaces/maps/trainingjobs", NULL, 0, "application/json", "{nope", 400,
           "malformed", NULL);
    expect("POST", "/v1/namespaces/Bad_NS/trainingjobs", NULL, 0, "application/json", "{}", 422,
           "invalid", "metadata.namespace");
}
END_TEST

static int never_called(void *arg, const char *ns, const char *name, const struct job *unsaved,
                        struct buf *out, struct err *e)
{
    (void)arg, (void)ns, (void)name, (void)unsaved, (void)out, (void)e;
    ck_abort_msg("the explainer ran");
    return -1;
}

/* dryRun takes only All, and no other parameter is taken (before, any query was ignored and
 * a dry run created the job); a dry run waits for no what-if: while one runs, 503 with
 * Retry-After, before the store or the explainer is asked. */
START_TEST(create_query_and_dry_run_slot)
{
    static const struct api_kv mode = {"dryRun", "true"}, other = {"dryrun", "All"},
                               all = {"dryRun", "All"};
    static const char job[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"j\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":8},"
        "\"code\":{\"image\":\"t:1\"}}}";
    struct api_request req = {.method = "POST",
                              .path = "/v1/namespaces/maps/trainingjobs",
                              .query = &all,
                              .n_query = 1,
                              .content_type = "application/json",
                              .body = job,
                              .body_len = sizeof(job) - 1};
    struct api_response resp;

    expect("POST", "/v1/namespaces/maps/trainingjobs", &mode, 1, "application/json", job, 400,
           "malformed", "dryRun");
    expect("POST", "/v1/namespaces/maps/trainingjobs", &other, 1, "application/json", job, 400,
           "malformed", "dryrun");
    api_attach_explainer(api, never_called, NULL);
    ck_assert(queue_memo_begin(api)); /* a GET's what-if runs */
    api_handle(api, &req, &resp);
    ck_assert_msg(resp.status == 503, "%d %s", resp.status, resp.body);
    ck_assert_str_eq(resp.retry_after, "1");
    ck_assert_ptr_nonnull(strstr(resp.body, "another what-if is running"));
    api_response_clear(&resp);
    queue_memo_end(api);
}
END_TEST

/* The queue view's source: counts its calls; the first one asks for another view while it
 * runs, which must be refused (503) without calling it again. */
static int view_calls;

static long get_status(const char *path, const struct api_kv *q, size_t nq, char *retry_after)
{
    struct api_request req = {.method = "GET", .path = path, .query = q, .n_query = nq};
    struct api_response resp;
    long st;

    api_handle(api, &req, &resp);
    st = resp.status;
    if (retry_after)
        snprintf(retry_after, 8, "%s", resp.retry_after);
    api_response_clear(&resp);
    return st;
}

static int counting_view(void *arg, const struct api_queue_query *q, struct buf *out, struct err *e)
{
    static const struct api_kv other = {"limit", "5"};
    char retry[8] = "";

    (void)arg, (void)e;
    if (view_calls++ == 0) {
        ck_assert_int_eq(get_status("/v1/queue", &other, 1, retry), 503);
        ck_assert_str_eq(retry, "1");
    }
    buf_printf(out, "{\"kind\":\"QueueView\",\"limit\":%zu,\"call\":%d}", q->limit, view_calls);
    return 0;
}

/* GET /v1/queue: parameters checked before the scheduler is asked; none attached, 503; one
 * view's what-if at a time (another query meanwhile: 503 with Retry-After); the same query
 * again within 10 s answered from the first. */
START_TEST(queue_view_checks_and_reuse)
{
    static const struct api_kv bad_limit = {"limit", "1001"}, bad_sku = {"sku", "z80"},
                               other = {"phase", "Queued"}, five = {"limit", "5"};

    expect("GET", "/v1/queue", NULL, 0, NULL, NULL, 503, "unavailable", NULL);
    api_attach_queue_view(api, counting_view, NULL);
    expect("GET", "/v1/queue", &bad_limit, 1, NULL, NULL, 400, "malformed", "limit");
    expect("GET", "/v1/queue", &bad_sku, 1, NULL, NULL, 400, "malformed", "sku");
    expect("GET", "/v1/queue", &other, 1, NULL, NULL, 400, "malformed", "phase");
    expect("GET", "/v1/namespaces/Bad_NS/queue", NULL, 0, NULL, NULL, 422, "invalid",
           "metadata.namespace");
    ck_assert_int_eq(view_calls, 0);
    ck_assert_int_eq(get_status("/v1/queue", NULL, 0, NULL), 200); /* refuses limit=5 inside */
    ck_assert_int_eq(view_calls, 1);
    ck_assert_int_eq(get_status("/v1/queue", NULL, 0, NULL), 200);
    ck_assert_int_eq(view_calls, 1);
    ck_assert_int_eq(get_status("/v1/queue", &five, 1, NULL), 200);
    ck_assert_int_eq(view_calls, 2);
}
END_TEST

/* Job sets and PATCH refuse bad selectors, bodies and media types before the store. */
START_TEST(bulk_and_patch_check_before_the_database)
{
    struct api_kv bad[] = {{"labelSelector", "a in ()"}};
    struct api_kv good[] = {{"labelSelector", "a=b"}};

    expect("POST", "/v1/namespaces/maps/trainingjobs:cancel", bad, 1, NULL, NULL, 400, "malformed",
           "labelSelector");
    expect("POST", "/v1/namespaces/maps/trainingjobs:cancel", NULL, 0, NULL, NULL, 400, "malformed",
           "labelSelector");
    expect("POST", "/v1/namespaces/maps/trainingjobs:reprioritize", good, 1, "application/json",
           "{\"priority\": -1001}", 422, "invalid", "priority");
    expect("POST", "/v1/namespaces/maps/trainingjobs:hold", good, 1, "application/json",
           "{\"priority\": 1}", 400, "malformed", "priority");
    expect("PATCH", "/v1/namespaces/maps/trainingjobs/j", NULL, 0, "application/json", "{}", 415,
           "unsupported_media_type", "Content-Type");
    expect("PATCH", "/v1/namespaces/maps/trainingjobs/j", NULL, 0, "application/merge-patch+json",
           "{\"spec\":{\"image\":\"x\"}}", 422, "invalid", "spec.image");
}
END_TEST

START_TEST(list_query_errors_are_400_naming_the_parameter)
{
    struct api_kv limit[] = {{"limit", "0"}};
    struct api_kv big[] = {{"limit", "1001"}};
    struct api_kv phase[] = {{"phase", "Queued,Sleeping"}};
    struct api_kv sku[] = {{"sku", "a999"}};
    struct api_kv sel[] = {{"labelSelector", "team!=maps"}};
    struct api_kv set[] = {{"labelSelector", "team in (maps)"}};
    struct api_kv bad_sel[] = {{"labelSelector", "team=maps=x"}};
    struct api_kv cont[] = {{"continue", "garbage!"}};
    struct api_kv unknown[] = {{"limt", "5"}};

    expect("GET", "/v1/trainingjobs", limit, 1, NULL, NULL, 400, "malformed", "limit");
    expect("GET", "/v1/trainingjobs", big, 1, NULL, NULL, 400, "malformed", "limit");
    expect("GET", "/v1/trainingjobs", phase, 1, NULL, NULL, 400, "malformed", "phase");
    expect("GET", "/v1/trainingjobs", sku, 1, NULL, NULL, 400, "malformed", "sku");
    expect("GET", "/v1/trainingjobs", sel, 1, NULL, NULL, 400, "malformed", "labelSelector");
    expect("GET", "/v1/trainingjobs", set, 1, NULL, NULL, 400, "malformed", "labelSelector");
    expect("GET", "/v1/trainingjobs", bad_sel, 1, NULL, NULL, 400, "malformed", "labelSelector");
    expect("GET", "/v1/trainingjobs", cont, 1, NULL, NULL, 400, "malformed", "continue");
    expect("GET", "/v1/trainingjobs", unknown, 1, NULL, NULL, 400, "malformed", "limt");
}
END_TEST

START_TEST(dashboard_is_served_under_ui)
{
    struct api_request req = {.method = "GET", .path = "/ui/"};
    struct api_response resp;

    api_handle(api, &req, &resp);
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.content_type, "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(resp.body, "<html"));
    ck_assert_uint_gt(resp.body_len, 0);
    api_response_clear(&resp);
    /* A view's deep link gets the app, a job's name with dots too (it used to be taken for
     * a missing file); a missing file does not. */
    for (int i = 0; i < 3; i++) {
        req.path =
            (const char *[]){"/ui/jobs/maps/run-1", "/ui/jobs/maps/ranker.v2-full", "/ui/queue"}[i];
        api_handle(api, &req, &resp);
        ck_assert_msg(resp.status == 200, "%s: %d", req.path, resp.status);
        ck_assert_ptr_nonnull(strstr(resp.body, "<html"));
        api_response_clear(&resp);
    }
    expect("GET", "/ui/missing.js", NULL, 0, NULL, NULL, 404, "not_found", NULL);
    expect("GET", "/ui/../etc/passwd.txt", NULL, 0, NULL, NULL, 404, "not_found", NULL);
    expect("POST", "/ui/", NULL, 0, NULL, NULL, 405, "method_not_allowed", NULL);
    req.path = "/";
    api_handle(api, &req, &resp);
    ck_assert_int_eq(resp.status, 302);
    ck_assert_str_eq(resp.location, "/ui/");
    api_response_clear(&resp);
}
END_TEST

START_TEST(cluster_put_bounds_json_depth)
{
    char deep[4096];
    size_t n = 0;

    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect("PUT", "/v1/clusters/c1", NULL, 0, "application/json", deep, 400, "malformed", NULL);
}
END_TEST

/* Name-keyed continue tokens: back to the name for their own hash only; the id tokens and
 * the name tokens are not each other's. */
START_TEST(name_tokens_round_trip_for_their_filters_only)
{
    char tok[LIST_TOKEN_NAME_MAX * 4 / 3 + 8], name[SNAPSHOT_NODE_NAME_MAX], long_name[400];
    int64_t after;

    list_token_encode_name("h100-7.zone-b", 42, tok, sizeof(tok));
    ck_assert_int_eq(list_token_decode_name(tok, 42, name, sizeof(name)), 0);
    ck_assert_str_eq(name, "h100-7.zone-b");
    ck_assert_int_eq(list_token_decode_name(tok, 43, name, sizeof(name)), -1);
    ck_assert_int_eq(list_token_decode_name(tok, 42, name, 5), -1); /* does not fit */
    ck_assert_int_eq(list_token_decode(tok, 42, &after), -1);
    list_token_encode(7, 42, tok, sizeof(tok));
    ck_assert_int_eq(list_token_decode(tok, 42, &after), 0);
    ck_assert_int_eq(after, 7);
    ck_assert_int_eq(list_token_decode_name(tok, 42, name, sizeof(name)), -1);
    ck_assert_int_eq(list_token_decode_name("", 42, name, sizeof(name)), -1);
    ck_assert_int_eq(list_token_decode_name("!!!", 42, name, sizeof(name)), -1);
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    list_token_encode_name(long_name, 42, tok, sizeof(tok));
    ck_assert_str_eq(tok, "");
}
END_TEST

START_TEST(status_mapping)
{
    ck_assert_int_eq(api_status_for(ERR_MALFORMED), 400);
    ck_assert_int_eq(api_status_for(ERR_INVALID), 422);
    ck_assert_int_eq(api_status_for(ERR_NOT_FOUND), 404);
    ck_assert_int_eq(api_status_for(ERR_METHOD), 405);
    ck_assert_int_eq(api_status_for(ERR_CONFLICT), 409);
    ck_assert_int_eq(api_status_for(ERR_TOO_LARGE), 413);
    ck_assert_int_eq(api_status_for(ERR_MEDIA_TYPE), 415);
    ck_assert_int_eq(api_status_for(ERR_DB), 503);
    ck_assert_int_eq(api_status_for(ERR_TIMEOUT), 503);
    ck_assert_int_eq(api_status_for(ERR_UNAUTHORIZED), 401);
    ck_assert_int_eq(api_status_for(ERR_FORBIDDEN), 403);
    ck_assert_int_eq(api_status_for(ERR_RATE_LIMITED), 429);
    ck_assert_int_eq(api_status_for(ERR_INTERNAL), 500);
}
END_TEST

START_TEST(db_errors_carry_retry_after)
{
    struct api_response resp = {0};
    struct err e = {.code = ERR_DB};

    snprintf(e.msg, sizeof(e.msg), "database unreachable");
    resp_error(&resp, &e);
    ck_assert_int_eq(resp.status, 503);
    ck_assert_str_eq(resp.retry_after, "1");
    ck_assert_ptr_nonnull(strstr(resp.body, "\"database_unavailable\""));
    api_response_clear(&resp);
}
END_TEST

/* Numbers read back from PostgreSQL's jsonb (a stored explanation's 0.4) are written as
 * people wrote them, not as 0.40000000000000002: 15 significant digits, as the reports. */
START_TEST(reals_are_written_short)
{
    struct api_response resp = {0};

    resp_json(&resp, 200,
              json_pack("{s:f, s:f, s:f}", "cost", 0.4, "fresh", 0.966667, "big", 123456.789));
    ck_assert_int_eq(resp.status, 200);
    ck_assert_str_eq(resp.body, "{\"cost\":0.4,\"fresh\":0.966667,\"big\":123456.789}");
    api_response_clear(&resp);
}
END_TEST

START_TEST(metrics_render_counts_and_buckets)
{
    struct api_metrics *m = metrics_new();
    struct buf out;

    buf_init(&out, 0);
    metrics_observe(m, "GET", "/healthz", 200, 300000);     /* 0.3 ms */
    metrics_observe(m, "GET", "/healthz", 200, 2000000000); /* 2 s */
    metrics_observe(m, "POST", "/v1/x", 201, 7000000);      /* 7 ms */
    metrics_render(m, &out);
    ck_assert_ptr_nonnull(strstr(out.data,
                                 "fedsched_http_requests_total{route=\"/healthz\",method=\"GET\","
                                 "code=\"200\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "route=\"/healthz\",method=\"GET\",code=\"200\","
                                           "le=\"0.0005\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "route=\"/healthz\",method=\"GET\",code=\"200\","
                                           "le=\"1\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "route=\"/healthz\",method=\"GET\",code=\"200\","
                                           "le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(out.data, "route=\"/v1/x\",method=\"POST\",code=\"201\","
                                           "le=\"0.01\"} 1\n"));
    buf_free(&out);
    metrics_free(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api_router");
    TCase *tc = tcase_create("router");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, routes_capture_namespace_and_name);
    tcase_add_test(tc, unknown_paths_are_404);
    tcase_add_test(tc, unknown_and_repeated_query_parameters_are_400);
    tcase_add_test(tc, wrong_method_is_405_with_allow);
    tcase_add_test(tc, create_checks_before_the_database);
    tcase_add_test(tc, create_query_and_dry_run_slot);
    tcase_add_test(tc, queue_view_checks_and_reuse);
    tcase_add_test(tc, bulk_and_patch_check_before_the_database);
    tcase_add_test(tc, list_query_errors_are_400_naming_the_parameter);
    tcase_add_test(tc, dashboard_is_served_under_ui);
    tcase_add_test(tc, cluster_put_bounds_json_depth);
    tcase_add_test(tc, status_mapping);
    tcase_add_test(tc, name_tokens_round_trip_for_their_filters_only);
    tcase_add_test(tc, db_errors_carry_retry_after);
    tcase_add_test(tc, reals_are_written_short);
    tcase_add_test(tc, metrics_render_counts_and_buckets);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
