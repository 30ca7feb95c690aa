/* test_jobs_api.c -- the TrainingJob API end to end: a real `fedsched serve` on loopback
 * against the test PostgreSQL. Each error case checks status, code and field. */
#include "tests/support/itest.h"

#include "base/clock.h"
#include "base/mem.h"

#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024];

static void suite_setup(void)
{
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

static const char *str_at(json_t *root, const char *path)
{
    json_t *v;
    char *copy = xstrdup(path), *save = NULL;
    const char *out;

    v = root;
    for (char *k = strtok_r(copy, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    free(copy);
    out = json_string_value(v);
    return out ? out : "";
}

/* Sends a request and parses its reply: returns the HTTP status the server answered (0 when
 * the request failed); *reply gets the parsed body, NULL when it is not JSON. Caller owns
 * *reply. */
static long http_json(const char *method, const char *url, const char *const *headers,
                      const char *body, json_t **reply)
{
    char *out = NULL;
    long st = itest_http(method, url, headers, body, &out);

    *reply = out ? json_loads(out, 0, NULL) : NULL;
    free(out);
    return st;
}

/* Checks an error reply's status, code and field. */
/* reply is a pointer so it is read after got was computed: C leaves the order in which
 * arguments are evaluated open. */
static void expect_error(long got, json_t **replyp, long status, const char *code,
                         const char *field)
{
    json_t *reply = *replyp;

    ck_assert_msg(got == status, "status %ld, want %ld", got, status);
    ck_assert_str_eq(str_at(reply, "error.code"), code);
    ck_assert_msg(*str_at(reply, "error.message"), "empty error message");
    ck_assert_str_eq(str_at(reply, "error.field"), field ? field : "");
}

START_TEST(submit_then_get)
{
    char *body = itest_job_body("submit-get", 16, "1");
    json_t *r = NULL, *g = NULL;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &r), 201);
    ck_assert_str_eq(str_at(r, "metadata.name"), "submit-get");
    ck_assert_str_eq(str_at(r, "metadata.namespace"), "maps");
    ck_assert_str_eq(str_at(r, "status.phase"), "Queued");
    ck_assert_int_eq(strlen(str_at(r, "metadata.uid")), 36);
    ck_assert_ptr_nonnull(json_object_get(json_object_get(r, "metadata"), "creationTimestamp"));
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/submit-get", &g),
                     200);
    ck_assert_str_eq(str_at(g, "metadata.uid"), str_at(r, "metadata.uid"));
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(g, "spec"), "resources"), "gpuCount")),
                     16);
    /* The row is in PostgreSQL, with its first event. */
    {
        char *n = itest_sql(dsn, "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = "
                                 "e.job_id WHERE j.name = 'submit-get' AND e.to_phase = "
                                 "'Queued'");
        ck_assert_str_eq(n, "1");
        free(n);
    }
    json_decref(r);
    json_decref(g);
    free(body);
}
END_TEST

START_TEST(retry_is_idempotent_and_conflict_is_409)
{
    char *body = itest_job_body("retry", 8, "1"), *other = itest_job_body("retry", 8, "2");
    json_t *a = NULL, *b = NULL, *c = NULL;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &a), 201);
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &b), 200);
    ck_assert_str_eq(str_at(a, "metadata.uid"), str_at(b, "metadata.uid"));
    expect_error(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", other, &c), &c, 409,
                 "conflict", "metadata.name");
    json_decref(a);
    json_decref(b);
    json_decref(c);
    free(body);
    free(other);
}
END_TEST

START_TEST(idempotency_key_returns_the_first_job)
{
    const char *hdr[] = {"Content-Type: application/json", "Idempotency-Key: ci-build-77", NULL};
    char *first = itest_job_body("idem-a", 8, "1"), *second = itest_job_body("idem-b", 8, "1");
    char *changed = itest_job_body("idem-c", 8, "9");
    char url[256], *out = NULL;
    json_t *j;

    snprintf(url, sizeof(url), "%s/v1/namespaces/maps/trainingjobs", srv.base);
    ck_assert_int_eq(itest_http("POST", url, hdr, first, &out), 201);
    free(out);
    /* A retry with the same key answers the first job even if the name differs. */
    ck_assert_int_eq(itest_http("POST", url, hdr, second, &out), 200);
    j = json_loads(out, 0, NULL);
    ck_assert_str_eq(str_at(j, "metadata.name"), "idem-a");
    json_decref(j);
    free(out);
    expect_error(http_json("POST", url, hdr, changed, &j), &j, 409, "conflict", "Idempotency-Key");
    json_decref(j);
    free(first);
    free(second);
    free(changed);
}
END_TEST

START_TEST(generate_name_gives_distinct_names)
{
    const char *body = "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                       "{\"generateName\":\"nightly-\"},\"spec\":{\"resources\":{\"instanceType\":"
                       "\"l4\",\"gpuCount\":1},\"code\":{\"image\":\"x:1\"}}}";
    json_t *a = NULL, *b = NULL;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/gen/trainingjobs", body, &a), 201);
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/gen/trainingjobs", body, &b), 201);
    ck_assert_int_eq(strncmp(str_at(a, "metadata.name"), "nightly-", 8), 0);
    ck_assert_int_eq(strlen(str_at(a, "metadata.name")), 13);
    ck_assert_str_ne(str_at(a, "metadata.name"), str_at(b, "metadata.name"));
    json_decref(a);
    json_decref(b);
}
END_TEST

/* ---- pagination while another client inserts ---- */

struct inserter {
    const char *ns;
    int from, to;
};

static void *insert_range(void *arg)
{
    struct inserter *in = arg;

    for (int i = in->from; i < in->to; i++) {
        char name[64], path[128], *body;

        snprintf(name, sizeof(name), "page-%04d", i);
        snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", in->ns);
        body = itest_job_body(name, 1, "1");
        if (itest_post_json(srv.base, path, body, NULL) != 201)
            abort();
        free(body);
    }
    return NULL;
}

START_TEST(pagination_is_stable_under_concurrent_inserts)
{
    struct inserter before = {"paging", 0, 120}, during = {"paging", 120, 220};
    pthread_t t;
    int seen[220] = {0}, pages = 0;
    char path[512], cont[256] = "";

    insert_range(&before);
    pthread_create(&t, NULL, insert_range, &during);
    for (;;) {
        json_t *r = NULL, *items;
        size_t i;
        json_t *it;

        snprintf(path, sizeof(path), "/v1/namespaces/paging/trainingjobs?limit=7%s%s",
                 cont[0] ? "&continue=" : "", cont);
        ck_assert_int_eq(itest_get_json(srv.base, path, &r), 200);
        items = json_object_get(r, "items");
        ck_assert_int_le(json_array_size(items), 7);
        json_array_foreach(items, i, it)
        {
            const char *name = str_at(it, "metadata.name");
            int n = atoi(name + 5); /* lint-ok: test input we generated */

            ck_assert_int_eq(strncmp(name, "page-", 5), 0);
            seen[n]++;
        }
        pages++;
        snprintf(cont, sizeof(cont), "%s", str_at(r, "metadata.continue"));
        json_decref(r);
        if (!cont[0])
            break;
        ck_assert_int_lt(pages, 100);
    }
    pthread_join(t, NULL);
    for (int i = 0; i < 120; i++)
        ck_assert_msg(seen[i] == 1, "job page-%04d seen %d times", i, seen[i]);
    for (int i = 120; i < 220; i++)
        ck_assert_msg(seen[i] <= 1, "job page-%04d seen %d times", i, seen[i]);
    ck_assert_int_ge(pages, 120 / 7);
}
END_TEST

/* order=newest: the same keyset pages, newest first, and a job submitted while paging
 * lands before the first page, never on a later one. A token is bound to its order; order
 * takes oldest or newest, and a watch has none. */
START_TEST(newest_first_pages)
{
    struct inserter first = {"newest", 0, 20}, later = {"newest", 20, 21};
    char path[512], cont[256] = "";
    int want = 19, pages = 0;
    json_t *bad = NULL;

    insert_range(&first);
    for (;;) {
        json_t *r = NULL, *it;
        size_t i;

        snprintf(path, sizeof(path), "/v1/namespaces/newest/trainingjobs?order=newest&limit=7%s%s",
                 cont[0] ? "&continue=" : "", cont);
        ck_assert_int_eq(itest_get_json(srv.base, path, &r), 200);
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            char name[16];

            snprintf(name, sizeof(name), "page-%04d", want--);
            ck_assert_str_eq(str_at(it, "metadata.name"), name);
        }
        if (pages++ == 0)
            insert_range(&later);
        snprintf(cont, sizeof(cont), "%s", str_at(r, "metadata.continue"));
        json_decref(r);
        if (!cont[0])
            break;
        if (pages == 1) { /* the token does not serve creation order */
            snprintf(path, sizeof(path), "/v1/namespaces/newest/trainingjobs?limit=7&continue=%s",
                     cont);
            expect_error(itest_get_json(srv.base, path, &bad), &bad, 400, "malformed", "continue");
            json_decref(bad);
        }
    }
    ck_assert_int_eq(want, -1);
    ck_assert_int_eq(pages, 3);
    expect_error(itest_get_json(srv.base, "/v1/trainingjobs?order=latest", &bad), &bad, 400,
                 "malformed", "order");
    json_decref(bad);
    expect_error(itest_get_json(srv.base, "/v1/trainingjobs?watch=true&order=newest", &bad), &bad,
                 400, "malformed", "order");
    json_decref(bad);
}
END_TEST

/* Racing submissions of one name land in the same insert batch: exactly one creates
 * the job, identical retries get it back, different specs get 409. */
struct racer {
    const char *name;
    char tag[8];
    long status;
    char uid[64];
};

static void *race(void *arg)
{
    struct racer *r = arg;
    char *body = itest_job_body(r->name, 8, r->tag);
    json_t *reply = NULL;
    const char *uid;

    r->status = itest_post_json(srv.base, "/v1/namespaces/race/trainingjobs", body, &reply);
    uid = json_string_value(json_object_get(json_object_get(reply, "metadata"), "uid"));
    snprintf(r->uid, sizeof(r->uid), "%s", uid ? uid : "");
    json_decref(reply);
    free(body);
    return NULL;
}

START_TEST(racing_submissions_of_one_name)
{
    struct racer same[16], diff[8];
    pthread_t t[16];
    int created = 0, retried = 0, conflicts = 0;

    for (int i = 0; i < 16; i++) {
        same[i] = (struct racer){.name = "race-same"};
        snprintf(same[i].tag, sizeof(same[i].tag), "1");
        pthread_create(&t[i], NULL, race, &same[i]);
    }
    for (int i = 0; i < 16; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 16; i++) {
        created += same[i].status == 201;
        retried += same[i].status == 200;
        ck_assert_str_eq(same[i].uid, same[0].uid);
    }
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(retried, 15);

    created = 0;
    for (int i = 0; i < 8; i++) {
        diff[i] = (struct racer){.name = "race-diff"};
        snprintf(diff[i].tag, sizeof(diff[i].tag), "v%d", i);
        pthread_create(&t[i], NULL, race, &diff[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 8; i++) {
        created += diff[i].status == 201;
        conflicts += diff[i].status == 409;
    }
    ck_assert_int_eq(created, 1);
    ck_assert_int_eq(conflicts, 7);
    {
        char *n = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE namespace = 'race'");

        ck_assert_str_eq(n, "2");
        free(n);
    }
}
END_TEST

START_TEST(list_filters)
{
    const char *l4 = "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                     "{\"name\":\"filt-l4\",\"labels\":{\"team\":\"search\"}},\"spec\":{"
                     "\"resources\":{\"instanceType\":\"l4\",\"gpuCount\":2},\"code\":{"
                     "\"image\":\"x:1\"}}}";
    char *a100 = itest_job_body("filt-a100", 8, "1");
    json_t *r = NULL;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/filt/trainingjobs", l4, NULL), 201);
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/filt/trainingjobs", a100, NULL),
                     201);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?sku=l4", &r), 200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    ck_assert_str_eq(str_at(json_array_get(json_object_get(r, "items"), 0), "metadata.name"),
                     "filt-l4");
    json_decref(r);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/trainingjobs?labelSelector=team%3Dsearch&limit=1000", &r),
        200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?phase=Running", &r),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?phase=Queued,Running", &r), 200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    /* Cluster and creation-time filters. */
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?cluster=az1", &r),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    ck_assert_int_eq(
        itest_get_json(srv.base,
                       "/v1/namespaces/filt/trainingjobs?createdAfter=2099-01-01T00:00:00Z", &r),
        200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    ck_assert_int_eq(
        itest_get_json(srv.base,
                       "/v1/namespaces/filt/trainingjobs?createdAfter=2020-01-01T00:00:00Z"
                       "&createdBefore=2099-01-01T00:00:00Z",
                       &r),
        200);
    ck_assert_int_eq(json_array_size(json_object_get(r, "items")), 2);
    json_decref(r);
    expect_error(
        itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?createdAfter=yesterday", &r), &r,
        400, "malformed", "createdAfter");
    json_decref(r);
    /* Every bad value at once, in the order given; the error is the first. */
    expect_error(itest_get_json(srv.base,
                                "/v1/namespaces/filt/trainingjobs?limit=abc&phase=Bogus&sku=zzz"
                                "&createdBefore=x&timeoutSeconds=5",
                                &r),
                 &r, 400, "malformed", "limit");
    {
        static const char *const want[] = {"limit", "phase", "sku", "createdBefore",
                                           "timeoutSeconds"};
        json_t *causes = json_object_get(json_object_get(r, "error"), "causes");

        ck_assert_uint_eq(json_array_size(causes), 5);
        for (size_t i = 0; i < 5; i++)
            ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, i), "field")),
                             want[i]);
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(json_array_get(causes, 4), "message")),
                   "only with watch=true"));
    }
    json_decref(r);
    /* The same on the queue view and the capacity report. */
    expect_error(itest_get_json(srv.base, "/v1/queue?limit=0&offset=-1&sku=zzz", &r), &r, 400,
                 "malformed", "limit");
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(r, "error"), "causes")), 3);
    json_decref(r);
    expect_error(
        itest_get_json(srv.base, "/v1/reports/capacity?format=pdf&to=x&from=y&step=7q", &r), &r,
        400, "malformed", "format");
    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(r, "error"), "causes")), 4);
    json_decref(r);
    /* A continue token from one filter is refused for another. */
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/filt/trainingjobs?limit=1", &r), 200);
    {
        char path[512];
        json_t *bad = NULL;

        snprintf(path, sizeof(path), "/v1/namespaces/filt/trainingjobs?limit=1&sku=l4&continue=%s",
                 str_at(r, "metadata.continue"));
        expect_error(itest_get_json(srv.base, path, &bad), &bad, 400, "malformed", "continue");
        json_decref(bad);
    }
    json_decref(r);
    free(a100);
}
END_TEST

START_TEST(cancel_and_events)
{
    char *body = itest_job_body("to-cancel", 8, "1");
    char url[256], *out = NULL;
    json_t *r = NULL, *ev = NULL, *items;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, NULL),
                     201);
    snprintf(url, sizeof(url), "%s/v1/namespaces/maps/trainingjobs/to-cancel", srv.base);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, &out), 200);
    r = json_loads(out, 0, NULL);
    free(out);
    ck_assert_str_eq(str_at(r, "status.phase"), "Cancelled");
    json_decref(r);
    /* Again: still Cancelled, no second event. */
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/to-cancel/events", &ev), 200);
    items = json_object_get(ev, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_str_eq(str_at(json_array_get(items, 0), "toPhase"), "Queued");
    ck_assert_str_eq(str_at(json_array_get(items, 1), "fromPhase"), "Queued");
    ck_assert_str_eq(str_at(json_array_get(items, 1), "toPhase"), "Cancelled");
    json_decref(ev);
    /* Still queryable. */
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/to-cancel", &r),
                     200);
    json_decref(r);
    free(body);
}
END_TEST

START_TEST(cancel_of_finished_job_is_409)
{
    char *body = itest_job_body("finished", 8, "1");
    char url[256];
    json_t *r;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, NULL),
                     201);
    free(itest_sql(dsn, "UPDATE jobs SET phase = 'Succeeded' WHERE name = 'finished'"));
    snprintf(url, sizeof(url), "%s/v1/namespaces/maps/trainingjobs/finished", srv.base);
    expect_error(http_json("DELETE", url, NULL, NULL, &r), &r, 409, "conflict", "status.phase");
    json_decref(r);
    free(body);
}
END_TEST

START_TEST(error_statuses_codes_and_fields)
{
    json_t *r = NULL;
    char url[256], *big;
    const char *json_hdr[] = {"Content-Type: application/json", NULL};
    const char *json_expect_hdr[] = {"Content-Type: application/json", "Expect: 100-continue",
                                     NULL};
    const char *text_hdr[] = {"Content-Type: text/plain", NULL};
    char *good = itest_job_body("errs", 8, "1");

    /* 400: not JSON at all. */
    expect_error(
        itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", "{\"apiVersion\":", &r), &r,
        400, "malformed", NULL);
    json_decref(r);
    /* 400: a typo'd field is named with its path. */
    {
        const char *typo = "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                           "\"metadata\":{\"name\":\"typo\"},\"spec\":{\"resources\":{"
                           "\"instanceType\":\"l4\",\"gpuCoutn\":1},\"code\":{\"image\":\"x\"}}}";

        expect_error(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", typo, &r), &r,
                     400, "malformed", "spec.resources.gpuCoutn");
        json_decref(r);
    }
    /* 422: unknown SKU; the message lists the known ones. */
    {
        char *bad = itest_job_body("sku", 8, "1");
        char *p = strstr(bad, "a100-80gb");

        memcpy(p, "a100-99gb", 9);
        expect_error(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", bad, &r), &r,
                     422, "invalid", "spec.resources.instanceType");
        ck_assert_ptr_nonnull(strstr(str_at(r, "error.message"), "h100-80gb"));
        json_decref(r);
        free(bad);
    }
    /* 422: gpuCount out of range. */
    {
        char *bad = itest_job_body("zero", 0, "1");

        expect_error(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", bad, &r), &r,
                     422, "invalid", "spec.resources.gpuCount");
        json_decref(r);
        free(bad);
    }
    /* 422 with every cause, in the order the body is read; nothing is stored, on a dry run
     * either. */
    {
        static const char *const want[][2] = {
            {"metadata.name", "name \"Many_Bad\" is invalid"},
            {"spec.resources.instanceType", "a100-99gb"},
            {"spec.resources.gpuCount", "gpuCount 0 is out of range"},
            {"spec.scheduling.priority", "priority 5000"}};
        const char *many = "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                           "\"metadata\":{\"name\":\"Many_Bad\"},\"spec\":{\"resources\":{"
                           "\"instanceType\":\"a100-99gb\",\"gpuCount\":0},\"code\":{"
                           "\"image\":\"x\"},\"scheduling\":{\"priority\":5000}}}";
        const char *paths[] = {"/v1/namespaces/maps/trainingjobs",
                               "/v1/namespaces/maps/trainingjobs?dryRun=All"};
        char *count;

        for (size_t k = 0; k < 2; k++) {
            json_t *causes;

            expect_error(itest_post_json(srv.base, paths[k], many, &r), &r, 422, "invalid",
                         "metadata.name");
            causes = json_object_get(json_object_get(r, "error"), "causes");
            ck_assert_uint_eq(json_array_size(causes), 4);
            for (size_t i = 0; i < 4; i++) {
                json_t *c = json_array_get(causes, i);

                ck_assert_str_eq(str_at(c, "field"), want[i][0]);
                ck_assert_str_eq(str_at(c, "code"), "invalid");
                ck_assert_msg(strstr(str_at(c, "message"), want[i][1]), "cause %zu: %s", i,
                              str_at(c, "message"));
            }
            ck_assert_msg(strstr(str_at(r, "error.message"), "(and 3 more; see causes)"), "%s",
                          str_at(r, "error.message"));
            json_decref(r);
        }
        count = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE name ILIKE 'many_bad'");
        ck_assert_str_eq(count, "0");
        free(count);
    }
    /* 404: no such job; no such path. */
    expect_error(itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/nope", &r), &r, 404,
                 "not_found", NULL);
    json_decref(r);
    expect_error(itest_get_json(srv.base, "/v1/namespaces/maps/widgets", &r), &r, 404, "not_found",
                 NULL);
    json_decref(r);
    /* 405 with Allow. */
    snprintf(url, sizeof(url), "%s/v1/namespaces/maps/trainingjobs", srv.base);
    expect_error(http_json("PUT", url, json_hdr, good, &r), &r, 405, "method_not_allowed", NULL);
    json_decref(r);
    /* 415. */
    expect_error(http_json("POST", url, text_hdr, good, &r), &r, 415, "unsupported_media_type",
                 "Content-Type");
    json_decref(r);
    /* 413: over the 1 MiB default. */
    big = xmalloc(1100 * 1024 + 1);
    memset(big, ' ', 1100 * 1024);
    big[0] = '{';
    big[1100 * 1024 - 1] = '}';
    big[1100 * 1024] = '\0';
    /* With Expect: 100-continue, as curl sends a body this size: the answer comes before
     * any of it is sent. test_http_front sends one at once, over a raw socket. */
    expect_error(http_json("POST", url, json_expect_hdr, big, &r), &r, 413, "too_large", NULL);
    json_decref(r);
    free(big);
    free(good);
}
END_TEST

/* spec.resources.relativeThroughput over HTTP: accepted and returned by GET as stored
 * (keys sorted), and each refusal with its status, code and field. */
START_TEST(relative_throughput_is_kept_and_checked)
{
    static const char *const fmt =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"%s\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":8,"
        "\"alternativeInstanceTypes\":[\"h100-80gb\",\"v100-32gb\"],\"relativeThroughput\":%s},"
        "\"code\":{\"image\":\"t:1\"}}}";
    static const struct {
        const char *map;
        long status;
        const char *code, *field, *text;
    } bad[] = {
        {"{\"a100-80gb\":1,\"h100-80gb\":2}", 422, "invalid", "spec.resources.relativeThroughput",
         "\"v100-32gb\" has no figure"},
        {"{}", 422, "invalid", "spec.resources.relativeThroughput", "\"a100-80gb\" has no figure"},
        {"{\"a100-80gb\":1,\"h100-80gb\":2,\"v100-32gb\":0.4,\"l4\":0.2}", 422, "invalid",
         "spec.resources.relativeThroughput.l4", "\"l4\""},
        {"{\"a100-80gb\":1,\"h100-80gb\":0,\"v100-32gb\":0.4}", 422, "invalid",
         "spec.resources.relativeThroughput.h100-80gb", "is 0"},
        {"{\"a100-80gb\":1,\"h100-80gb\":2,\"v100-32gb\":2e6}", 422, "invalid",
         "spec.resources.relativeThroughput.v100-32gb", "is 2000000"},
        {"{\"a100-80gb\":true,\"h100-80gb\":2,\"v100-32gb\":0.4}", 400, "malformed",
         "spec.resources.relativeThroughput.a100-80gb", "must be a number"},
    };
    char *body = xasprintf(fmt, "rt-ok", "{\"v100-32gb\":0.4,\"a100-80gb\":1.0,\"h100-80gb\":2.5}");
    json_t *r = NULL, *g = NULL, *rt;
    char *v;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &r), 201);
    free(body);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/rt-ok", &g), 200);
    rt = json_object_get(json_object_get(json_object_get(g, "spec"), "resources"),
                         "relativeThroughput");
    ck_assert_uint_eq(json_object_size(rt), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(rt, "a100-80gb")), 1);
    ck_assert_double_eq(json_real_value(json_object_get(rt, "h100-80gb")), 2.5);
    ck_assert_double_eq(json_real_value(json_object_get(rt, "v100-32gb")), 0.4);
    v = itest_sql(dsn, "SELECT spec->'resources'->'relativeThroughput' FROM jobs"
                       " WHERE name = 'rt-ok'");
    ck_assert_str_eq(v, "{\"a100-80gb\": 1, \"h100-80gb\": 2.5, \"v100-32gb\": 0.4}");
    free(v);
    json_decref(r);
    json_decref(g);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        body = xasprintf(fmt, "rt-bad", bad[i].map);
        expect_error(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &r), &r,
                     bad[i].status, bad[i].code, bad[i].field);
        ck_assert_msg(strstr(str_at(r, "error.message"), bad[i].text), "%s: message \"%s\"",
                      bad[i].map, str_at(r, "error.message"));
        json_decref(r);
        free(body);
    }
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/maps/trainingjobs/rt-bad", &r), 404);
    json_decref(r);
}
END_TEST

struct watch_call {
    char path[256];
    long status;
    json_t *reply;
    int64_t ms;
};

static void *watch_thread(void *arg)
{
    struct watch_call *w = arg;
    int64_t t0 = clock_mono_ms();

    w->status = itest_get_json(srv.base, w->path, &w->reply);
    w->ms = clock_mono_ms() - t0;
    return NULL;
}

static int64_t rv_of(json_t *j)
{
    return strtoll(str_at(j, "metadata.resourceVersion"), NULL, 10);
}

START_TEST(watch_returns_on_change_or_timeout)
{
    char *body = itest_job_body("watched", 8, "1");
    json_t *created = NULL, *r = NULL;
    struct watch_call w = {0};
    pthread_t t;
    char url[256];
    int64_t rv;

    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/maps/trainingjobs", body, &created),
                     201);
    rv = rv_of(created);
    /* Already newer than the version given: answers at once. */
    snprintf(w.path, sizeof(w.path),
             "/v1/namespaces/maps/trainingjobs/watched?watch=true&resourceVersion=%lld",
             (long long)(rv - 1));
    watch_thread(&w);
    ck_assert_int_eq(w.status, 200);
    ck_assert_int_lt(w.ms, 1000);
    json_decref(w.reply);
    /* Unchanged: answers with the same version when the timeout passes. */
    snprintf(w.path, sizeof(w.path),
             "/v1/namespaces/maps/trainingjobs/watched?watch=true&resourceVersion=%lld"
             "&timeoutSeconds=1",
             (long long)rv);
    watch_thread(&w);
    ck_assert_int_eq(w.status, 200);
    ck_assert_int_ge(w.ms, 900);
    ck_assert_int_eq(rv_of(w.reply), rv);
    json_decref(w.reply);
    /* A change wakes the waiter long before its timeout. */
    snprintf(w.path, sizeof(w.path),
             "/v1/namespaces/maps/trainingjobs/watched?watch=true&resourceVersion=%lld"
             "&timeoutSeconds=30",
             (long long)rv);
    pthread_create(&t, NULL, watch_thread, &w);
    usleep(400 * 1000);
    snprintf(url, sizeof(url), "%s/v1/namespaces/maps/trainingjobs/watched", srv.base);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 200);
    pthread_join(t, NULL);
    ck_assert_int_eq(w.status, 200);
    ck_assert_int_lt(w.ms, 5000);
    ck_assert_str_eq(str_at(w.reply, "status.phase"), "Cancelled");
    ck_assert_int_gt(rv_of(w.reply), rv);
    json_decref(w.reply);
    /* Bad parameters name themselves. */
    ck_assert_int_eq(itest_get_json(srv.base,
                                    "/v1/namespaces/maps/trainingjobs/watched?watch=true&"
                                    "timeoutSeconds=9999",
                                    &r),
                     400);
    ck_assert_str_eq(str_at(r, "error.field"), "timeoutSeconds");
    json_decref(r);
    ck_assert_int_eq(itest_get_json(srv.base,
                                    "/v1/namespaces/maps/trainingjobs/watched?watch=true&"
                                    "resourceVersion=-4",
                                    &r),
                     400);
    ck_assert_str_eq(str_at(r, "error.field"), "resourceVersion");
    json_decref(r);
    json_decref(created);
    free(body);
}
END_TEST

START_TEST(health_ready_and_metrics)
{
    char url[256], *out = NULL;

    snprintf(url, sizeof(url), "%s/healthz", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200);
    snprintf(url, sizeof(url), "%s/readyz", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200);
    {
        char *body = itest_job_body("metrics-job", 8, "1");

        ck_assert_int_eq(
            itest_post_json(srv.base, "/v1/namespaces/metrics/trainingjobs", body, NULL), 201);
        free(body);
    }
    snprintf(url, sizeof(url), "%s/metrics", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "fedsched_http_requests_total{route=\"/v1/namespaces/{ns}/"
                                      "trainingjobs\",method=\"POST\",code=\"201\"}"));
    ck_assert_ptr_nonnull(strstr(out, "fedsched_http_request_duration_seconds_bucket{"));
    ck_assert_ptr_nonnull(strstr(out, "fedsched_jobs{phase=\"Queued\"} "));
    ck_assert_ptr_nonnull(strstr(out, "fedsched_store_up 1"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jobs_api");
    TCase *tc = tcase_create("jobs_api");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, submit_then_get);
    tcase_add_test(tc, retry_is_idempotent_and_conflict_is_409);
    tcase_add_test(tc, idempotency_key_returns_the_first_job);
    tcase_add_test(tc, generate_name_gives_distinct_names);
    tcase_add_test(tc, pagination_is_stable_under_concurrent_inserts);
    tcase_add_test(tc, newest_first_pages);
    tcase_add_test(tc, racing_submissions_of_one_name);
    tcase_add_test(tc, list_filters);
    tcase_add_test(tc, cancel_and_events);
    tcase_add_test(tc, cancel_of_finished_job_is_409);
    tcase_add_test(tc, error_statuses_codes_and_fields);
    tcase_add_test(tc, relative_throughput_is_kept_and_checked);
    tcase_add_test(tc, watch_returns_on_change_or_timeout);
    tcase_add_test(tc, health_ready_and_metrics);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
