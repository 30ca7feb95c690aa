/* test_queue_view.c -- GET /v1/queue and GET /v1/namespaces/{ns}/queue end to end:
 * `fedsched serve` with tokens, kubesim and a real PostgreSQL. Four 8-GPU jobs fill the
 * node-fit scenario's four A100 nodes; seven more wait, in two namespaces, one of them
 * urgent, one taking an H100 or an A100, one only an H100 (no cluster has one). Every item
 * of the view is compared with the job's own explanation (its position, the jobs and GPUs
 * ahead, its estimated start and why it waits); a held job follows the queue with its
 * explanation's reason; the pages, the filters and a viewer limited to one namespace are
 * checked against the whole view; an answer is reused for the same query within 10 s. A job
 * in its retry backoff is test_retry.c's. Not responsible for the
 * estimate itself (tests/unit/test_eta.c) or for explain (test_node_fit_e2e.c). */
#include "tests/integration/test_sched_env.h"

#include "base/buf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Jobs run 1,000 h in the simulator (1,000 s at its 3,600x); each says it runs at most 10 h, so every estimate is
 * fixed in time and two what-ifs a moment apart agree. */
#define BASE                                                                                       \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"leaderRetryMs\": 200, \"leaderRenewMs\": 200, \"jobAnnotations\":"                          \
    " {\"sim.fedsched.io/duration-seconds\": \"3600000\"}}"

static struct senv env;
static char tok_admin[64], tok_view_b[64];

static void teardown(void)
{
    senv_stop(&env);
}

/* method path with token (body may be NULL); returns the status, *out the parsed answer
 * (may be NULL; caller json_decref()s). */
static long call(const char *method, const char *token, const char *path, const char *body,
                 json_t **out)
{
    char url[512], auth[128], *text = NULL;
    const char *hdr[3] = {auth, "Content-Type: application/json", NULL};
    long st;

    snprintf(url, sizeof(url), "%s%s", senv_base(&env), path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    st = itest_http(method, url, hdr, body, &text);
    if (out) {
        *out = json_loads(text ? text : "", 0, NULL);
        ck_assert_msg(*out != NULL, "%s %s: %ld, not JSON: %s", method, path, st, text);
    }
    free(text);
    return st;
}

/* Submits ns/name: gpus A100 GPUs (sku, alternatives alt: a JSON array or NULL), priority,
 * at most 10 h. */
static void submit(const char *ns, const char *name, const char *sku, const char *alt, int gpus,
                   int priority)
{
    char path[128], altm[96] = "";
    char *body;
    long st;

    if (alt)
        snprintf(altm, sizeof(altm), ",\"alternativeInstanceTypes\":%s", alt);
    body = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                     "{\"name\":\"%s\"},\"spec\":{\"framework\":\"pytorch\",\"resources\":"
                     "{\"instanceType\":\"%s\",\"gpuCount\":%d%s},\"code\":{\"image\":"
                     "\"trainer:1\",\"command\":[\"python\",\"train.py\"]},\"scheduling\":"
                     "{\"priority\":%d,\"maxRuntimeSeconds\":36000}}}",
                     name, sku, gpus, altm, priority);
    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    st = call("POST", tok_admin, path, body, NULL);
    ck_assert_msg(st == 201, "submit %s/%s: %ld", ns, name, st);
    free(body);
}

static void wait_running(const char *ns, const char *name)
{
    char path[256];
    int64_t until = clock_mono_ms() + 30000;
    const char *phase = "";

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs/%s", ns, name);
    while (clock_mono_ms() < until) {
        json_t *j = NULL;

        if (call("GET", tok_admin, path, NULL, &j) == 200) {
            phase = json_string_value(json_object_get(json_object_get(j, "status"), "phase"));
            if (phase && strcmp(phase, "Running") == 0) {
                json_decref(j);
                return;
            }
        }
        json_decref(j);
        usleep(100 * 1000);
    }
    ck_abort_msg("%s/%s not Running in 30 s", ns, name);
}

static const char *str(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));

    return v ? v : "";
}

/* A counter of /metrics. */
static long counter(const char *name)
{
    long n = senv_counter(&env, name);

    ck_assert_msg(n >= 0, "no %s in /metrics", name);
    return n;
}

static const char *item_ns(json_t *it)
{
    return str(json_object_get(it, "metadata"), "namespace");
}

static const char *item_name(json_t *it)
{
    return str(json_object_get(it, "metadata"), "name");
}

/* The view of path (with tok); fails unless 200. */
static json_t *view(const char *tok, const char *path)
{
    json_t *v = NULL;
    long st = call("GET", tok, path, NULL, &v);

    ck_assert_msg(st == 200, "GET %s: %ld", path, st);
    ck_assert_str_eq(str(v, "kind"), "QueueView");
    return v;
}

/* The names of v's items, space-separated, into out. */
static void names(json_t *v, char *out, size_t size)
{
    size_t i, n = 0;
    json_t *it;

    out[0] = '\0';
    json_array_foreach(json_object_get(v, "items"), i, it)
    {
        n += (size_t)snprintf(out + n, n < size ? size - n : 0, "%s%s/%s", i ? " " : "",
                              item_ns(it), item_name(it));
    }
}

/* it agrees with its job's explanation, asked now. */
static void same_as_explain(json_t *it)
{
    char path[256];
    json_t *x = NULL, *q, *r, *pr = json_object_get(it, "pendingReason");

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs/%s/explain", item_ns(it),
             item_name(it));
    ck_assert_int_eq(call("GET", tok_admin, path, NULL, &x), 200);
    q = json_object_get(x, "queue");
    ck_assert_msg(json_equal(json_object_get(it, "position"), json_object_get(q, "position")),
                  "%s: position %lld, explain %lld", item_name(it),
                  json_integer_value(json_object_get(it, "position")),
                  json_integer_value(json_object_get(q, "position")));
    ck_assert_msg(json_equal(json_object_get(it, "ahead"), json_object_get(q, "ahead")),
                  "%s: ahead differs", item_name(it));
    ck_assert_msg(
        json_equal(json_object_get(it, "estimatedStart"), json_object_get(q, "estimatedStart")),
        "%s: estimatedStart %s, explain %s", item_name(it), str(it, "estimatedStart"),
        str(q, "estimatedStart"));
    r = json_object_get(x, "reason");
    ck_assert_str_eq(str(x, "status"), "pending");
    ck_assert_msg(pr && json_equal(pr, r), "%s: pendingReason %s, explain %s", item_name(it),
                  str(pr, "reason"), str(r, "reason"));
    json_decref(x);
}

/* it is the held job b-held: no place and no estimate, and the reason its explanation and
 * a GET of it give. */
static void held_as_explain(json_t *it)
{
    json_t *x = NULL;

    ck_assert_str_eq(item_name(it), "b-held");
    ck_assert(json_is_null(json_object_get(it, "order")));
    ck_assert(json_is_null(json_object_get(it, "position")));
    ck_assert(json_is_null(json_object_get(it, "ahead")));
    ck_assert(json_is_null(json_object_get(it, "estimatedStart")));
    ck_assert_int_eq(
        call("GET", tok_admin, "/v1/namespaces/team-b/trainingjobs/b-held/explain", NULL, &x), 200);
    ck_assert_str_eq(str(json_object_get(it, "pendingReason"), "reason"), "Held");
    ck_assert(json_equal(json_object_get(it, "pendingReason"), json_object_get(x, "reason")));
    json_decref(x);
    ck_assert_int_eq(call("GET", tok_admin, "/v1/namespaces/team-b/trainingjobs/b-held", NULL, &x),
                     200);
    ck_assert(json_equal(json_object_get(it, "pendingReason"),
                         json_object_get(json_object_get(x, "status"), "pendingReason")));
    json_decref(x);
}

START_TEST(the_queue_at_once_as_each_job_alone)
{
    const char *env_auth[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    static const char *const fill[] = {"fill-1", "fill-2", "fill-3", "fill-4"};
    static const struct {
        const char *path;
        long status;
        const char *field;
    } refusals[] = {{"/v1/queue?limit=0", 400, "limit"},
                    {"/v1/queue?offset=-1", 400, "offset"},
                    {"/v1/queue?sku=b200", 400, "sku"},
                    {"/v1/queue?phase=Queued", 400, "phase"},
                    {"/v1/namespaces/Team_A/queue", 422, "metadata.namespace"}};
    char got[1024], want[1024], paged[1024] = "";
    json_t *v, *p, *it;
    size_t i, n;
    int64_t prev_order = 0;
    bool never = false;

    senv_sim(&env, "testdata/sim/node-fit.json");
    senv_config(&env, BASE, "", NULL);
    senv_serve(&env, 0, env_auth);
    itest_create_token(env.dsn, "admin", "admin", NULL, tok_admin);
    itest_create_token(env.dsn, "view-b", "viewer", "team-b", tok_view_b);

    for (i = 0; i < 4; i++) {
        submit("team-a", fill[i], "a100-80gb", NULL, 8, 0);
        wait_running("team-a", fill[i]);
    }
    submit("team-a", "a-1", "a100-80gb", NULL, 8, 0);
    submit("team-b", "b-1", "a100-80gb", NULL, 4, 0);
    submit("team-a", "a-2", "a100-80gb", NULL, 16, 0);
    submit("team-b", "b-urgent", "a100-80gb", NULL, 8, 100);
    submit("team-b", "b-either", "h100-80gb", "[\"a100-80gb\"]", 8, 0);
    submit("team-a", "a-h100", "h100-80gb", NULL, 8, 0);
    submit("team-b", "b-2", "a100-80gb", NULL, 2, 0);
    /* A job held by its user: after the queue, with its reason, and counted in
     * metadata.held. */
    {
        json_t *r = NULL;
        char *body = xasprintf(
            "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
            "{\"name\":\"b-held\",\"labels\":{\"set\":\"h\"}},\"spec\":{\"resources\":"
            "{\"instanceType\":\"a100-80gb\",\"gpuCount\":1},\"code\":{\"image\":\"t:1\"}}}");

        ck_assert_int_eq(call("POST", tok_admin, "/v1/namespaces/team-b/trainingjobs", body, NULL),
                         201);
        ck_assert_int_eq(call("POST", tok_admin,
                              "/v1/namespaces/team-b/trainingjobs:hold?labelSelector=set%3Dh", "{}",
                              &r),
                         200);
        json_decref(r);
        free(body);
    }

    /* b-2 was requeued after a failed attempt and its back-off has ended: in the queue, as
     * any other (its not_before is past, not 0). */
    free(itest_sql(env.dsn, "UPDATE jobs SET not_before = now() - interval '1 hour'"
                            " WHERE name = 'b-2'"));
    /* The whole queue: seven jobs, in the policy's order, each as its explanation says, then
     * the held one, without a place. */
    v = view(tok_admin, "/v1/queue");
    p = json_object_get(v, "metadata");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "queued")), 7);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "total")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "held")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "retryBackoff")), 0);
    ck_assert(json_is_false(json_object_get(json_object_get(v, "basis"), "capped")));
    ck_assert_uint_eq(json_array_size(json_object_get(v, "items")), 8);
    /* The urgent job first; a job that waits for an H100 no cluster has, without estimate. */
    ck_assert_str_eq(item_name(json_array_get(json_object_get(v, "items"), 0)), "b-urgent");
    json_array_foreach(json_object_get(v, "items"), i, it)
    {
        if (i == 7) {
            held_as_explain(it);
            continue;
        }
        ck_assert_int_eq(json_integer_value(json_object_get(it, "order")), (json_int_t)i + 1);
        ck_assert_int_gt(json_integer_value(json_object_get(it, "order")), prev_order);
        prev_order = json_integer_value(json_object_get(it, "order"));
        same_as_explain(it);
        if (strcmp(item_name(it), "a-h100") == 0) {
            ck_assert(json_is_null(json_object_get(it, "estimatedStart")));
            never = true;
        } else {
            ck_assert_msg(json_is_string(json_object_get(it, "estimatedStart")), "%s: no estimate",
                          item_name(it));
        }
    }
    ck_assert(never);
    names(v, want, sizeof(want));

    /* Pages of two cover it once, in order. */
    for (size_t off = 0; off < 8; off += 2) {
        char path[64];

        snprintf(path, sizeof(path), "/v1/queue?limit=2&offset=%zu", off);
        p = view(tok_admin, path);
        ck_assert_int_eq(
            json_integer_value(json_object_get(json_object_get(p, "metadata"), "total")), 8);
        ck_assert_uint_le(json_array_size(json_object_get(p, "items")), 2);
        names(p, got, sizeof(got));
        if (*got)
            snprintf(paged + strlen(paged), sizeof(paged) - strlen(paged), "%s%s",
                     *paged ? " " : "", got);
        json_decref(p);
    }
    ck_assert_str_eq(paged, want);

    /* A namespace, and the jobs that accept a SKU: the whole view's items, filtered. */
    p = view(tok_admin, "/v1/namespaces/team-b/queue");
    n = 0;
    json_array_foreach(json_object_get(p, "items"), i, it)
    {
        ck_assert_str_eq(item_ns(it), "team-b");
        n++;
    }
    ck_assert_uint_eq(n, 5);
    json_decref(p);
    p = view(tok_admin, "/v1/queue?sku=h100-80gb");
    names(p, got, sizeof(got));
    ck_assert_str_eq(got, "team-b/b-either team-a/a-h100");
    json_decref(p);

    /* A viewer of team-b sees team-b's jobs only, placed as in the whole view (team-a's
     * still count ahead), and may not ask for team-a's. */
    p = view(tok_view_b, "/v1/queue");
    n = 0;
    json_array_foreach(json_object_get(p, "items"), i, it)
    {
        size_t k;
        json_t *w;

        ck_assert_str_eq(item_ns(it), "team-b");
        json_array_foreach(json_object_get(v, "items"), k, w)
        {
            if (strcmp(item_name(w), item_name(it)) == 0) {
                ck_assert(json_equal(json_object_get(w, "order"), json_object_get(it, "order")));
                ck_assert(json_equal(json_object_get(w, "ahead"), json_object_get(it, "ahead")));
            }
        }
        n++;
    }
    ck_assert_uint_eq(n, 5);
    json_decref(p);
    ck_assert_int_eq(call("GET", tok_view_b, "/v1/namespaces/team-a/queue", NULL, &p), 403);
    json_decref(p);

    /* The same query twice within 10 s: one what-if, the second answer reused, the same. */
    {
        long runs = counter("fedsched_api_queue_view_whatifs_total");
        long reused = counter("fedsched_api_queue_view_reused_total");
        json_t *a1 = view(tok_admin, "/v1/queue?limit=7"),
               *a2 = view(tok_admin, "/v1/queue?limit=7");

        ck_assert_int_eq(counter("fedsched_api_queue_view_whatifs_total"), runs + 1);
        ck_assert_int_eq(counter("fedsched_api_queue_view_reused_total"), reused + 1);
        ck_assert(json_equal(a1, a2));
        json_decref(a1);
        json_decref(a2);
    }

    /* Refusals name the parameter. */
    for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        ck_assert_int_eq(call("GET", tok_admin, refusals[i].path, NULL, &p), refusals[i].status);
        ck_assert_str_eq(str(json_object_get(p, "error"), "field"), refusals[i].field);
        json_decref(p);
    }
    json_decref(v);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("queue_view");
    TCase *tc = tcase_create("e2e");

    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, the_queue_at_once_as_each_job_alone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
