/* test_auth.c -- authentication and authorisation end to end: every endpoint x every
 * role x own/other namespace gives the documented status, and no response leaks another
 * namespace's jobs; revoked and unknown tokens; audit records; the per-token rate limit
 * under a wrk load; HTTPS, and a member cluster whose certificate does not verify. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024];
static char tok_admin[64], tok_sub_a[64], tok_view_a[64], tok_view_all[64], tok_sub_b[64];

/* One request with a token (NULL: none). Returns the status; *body (may be NULL). */
static long call(const char *token, const char *method, const char *path, const char *json,
                 char **body)
{
    char url[512], auth[128];
    const char *hdr[3] = {NULL, NULL, NULL};
    int n = 0;

    snprintf(url, sizeof(url), "%s%s", srv.base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr[n++] = auth;
    }
    if (json)
        hdr[n++] = "Content-Type: application/json";
    return itest_http(method, url, hdr, json, body);
}

static void expect(const char *token, const char *method, const char *path, const char *json,
                   long status)
{
    char *body = NULL;
    long got = call(token, method, path, json, &body);

    ck_assert_msg(got == status, "%s %s: %ld, want %ld: %s", method, path, got, status, body);
    free(body);
}

static void suite_setup(void)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    char *a, *b;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, env, 1);
    itest_create_token(dsn, "admin", "admin", NULL, tok_admin);
    itest_create_token(dsn, "sub-a", "submitter", "team-a", tok_sub_a);
    itest_create_token(dsn, "view-a", "viewer", "team-a", tok_view_a);
    itest_create_token(dsn, "view-all", "viewer", NULL, tok_view_all);
    itest_create_token(dsn, "sub-b", "submitter", "team-b", tok_sub_b);
    a = itest_job_body("a-job", 8, "1");
    b = itest_job_body("b-job", 8, "1");
    ck_assert_int_eq(call(tok_admin, "POST", "/v1/namespaces/team-a/trainingjobs", a, NULL), 201);
    ck_assert_int_eq(call(tok_admin, "POST", "/v1/namespaces/team-b/trainingjobs", b, NULL), 201);
    free(a);
    free(b);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

START_TEST(no_or_bad_token_is_401)
{
    char *body = NULL, url[256];

    expect(NULL, "GET", "/v1/trainingjobs", NULL, 401);
    expect(NULL, "POST", "/v1/namespaces/team-a/trainingjobs", "{}", 401);
    expect("fst_not-a-real-token", "GET", "/v1/trainingjobs", NULL, 401);
    ck_assert_int_eq(call(NULL, "GET", "/v1/clusters", NULL, &body), 401);
    ck_assert_ptr_nonnull(strstr(body, "\"unauthorized\""));
    free(body);
    /* Probes, metrics and the dashboard's files need no token. */
    expect(NULL, "GET", "/healthz", NULL, 200);
    expect(NULL, "GET", "/readyz", NULL, 200);
    expect(NULL, "GET", "/metrics", NULL, 200);
    expect(NULL, "GET", "/ui/", NULL, 200);
    /* A Basic header is not a bearer token. */
    snprintf(url, sizeof(url), "%s/v1/trainingjobs", srv.base);
    {
        const char *hdr[] = {"Authorization: Basic YWRtaW46YWRtaW4=", NULL};

        ck_assert_int_eq(itest_http("GET", url, hdr, NULL, NULL), 401);
    }
}
END_TEST

START_TEST(job_endpoints_by_role_and_namespace)
{
    char *sub = itest_job_body("sub-made", 8, "1"), *view = itest_job_body("view-made", 8, "1");

    /* Submit. */
    expect(tok_sub_a, "POST", "/v1/namespaces/team-a/trainingjobs", sub, 201);
    expect(tok_sub_a, "POST", "/v1/namespaces/team-b/trainingjobs", sub, 403);
    expect(tok_view_a, "POST", "/v1/namespaces/team-a/trainingjobs", view, 403);
    expect(tok_view_all, "POST", "/v1/namespaces/team-a/trainingjobs", view, 403);
    /* Read one job: own namespace 200; another is indistinguishable from missing. */
    expect(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs/a-job", NULL, 200);
    expect(tok_view_a, "GET", "/v1/namespaces/team-a/trainingjobs/a-job", NULL, 200);
    expect(tok_view_all, "GET", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 200);
    expect(tok_admin, "GET", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 200);
    expect(tok_sub_a, "GET", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 404);
    expect(tok_view_a, "GET", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 404);
    expect(tok_sub_a, "GET", "/v1/namespaces/team-b/trainingjobs/b-job/events", NULL, 404);
    expect(tok_sub_a, "GET", "/v1/namespaces/team-b/trainingjobs/b-job/explain", NULL, 404);
    expect(tok_view_a, "GET", "/v1/namespaces/team-a/trainingjobs/a-job/events", NULL, 200);
    /* List a namespace. */
    expect(tok_sub_a, "GET", "/v1/namespaces/team-a/trainingjobs", NULL, 200);
    expect(tok_sub_a, "GET", "/v1/namespaces/team-b/trainingjobs", NULL, 403);
    expect(tok_view_all, "GET", "/v1/namespaces/team-b/trainingjobs", NULL, 200);
    /* Cancel. */
    expect(tok_sub_a, "DELETE", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 404);
    expect(tok_view_a, "DELETE", "/v1/namespaces/team-a/trainingjobs/sub-made", NULL, 403);
    expect(tok_view_all, "DELETE", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 403);
    expect(tok_sub_a, "DELETE", "/v1/namespaces/team-a/trainingjobs/sub-made", NULL, 200);
    expect(tok_admin, "GET", "/v1/namespaces/team-b/trainingjobs/b-job", NULL, 200);
    free(sub);
    free(view);
}
END_TEST

/* Nothing a team-a token gets back mentions team-b's job. */
START_TEST(no_leaks_across_namespaces)
{
    /* Requests that do not name b-job must never mention it. */
    const char *paths[] = {"/v1/trainingjobs?limit=1000", "/v1/trainingjobs?phase=Queued",
                           "/v1/namespaces/team-b/trainingjobs", "/v1/reports/capacity",
                           "/v1/reports/capacity?format=csv"};
    const char *tokens[] = {tok_sub_a, tok_view_a};
    char *body = NULL, *missing = NULL;

    for (size_t t = 0; t < 2; t++) {
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            call(tokens[t], "GET", paths[i], NULL, &body);
            ck_assert_msg(!strstr(body, "b-job"), "%s leaks b-job: %s", paths[i], body);
            free(body);
        }
    }
    /* Those that do get the answer a job that does not exist gets, name for name. */
    {
        const char *suffix[] = {"", "/events", "/explain"};

        for (size_t i = 0; i < 3; i++) {
            char exists[256], absent[256], *p;

            snprintf(exists, sizeof(exists), "/v1/namespaces/team-b/trainingjobs/b-job%s",
                     suffix[i]);
            snprintf(absent, sizeof(absent), "/v1/namespaces/team-b/trainingjobs/x-job%s",
                     suffix[i]);
            ck_assert_int_eq(call(tok_sub_a, "GET", exists, NULL, &body), 404);
            ck_assert_int_eq(call(tok_sub_a, "GET", absent, NULL, &missing), 404);
            while ((p = strstr(missing, "x-job")))
                *p = 'b';
            ck_assert_str_eq(body, missing);
            free(body);
            free(missing);
        }
    }
    /* The all-namespace list shows a team-a token its namespace only; admins see both. */
    call(tok_sub_a, "GET", "/v1/trainingjobs?limit=1000", NULL, &body);
    ck_assert_ptr_nonnull(strstr(body, "a-job"));
    free(body);
    call(tok_view_all, "GET", "/v1/trainingjobs?limit=1000", NULL, &body);
    ck_assert_ptr_nonnull(strstr(body, "a-job"));
    ck_assert_ptr_nonnull(strstr(body, "b-job"));
    free(body);
}
END_TEST

START_TEST(cluster_and_admin_endpoints)
{
    const char *body = "{\"apiServer\": \"http://127.0.0.1:1\", \"allowInsecureHttp\": true}";
    const char *readers[] = {tok_sub_a, tok_view_a, tok_view_all, tok_admin};

    for (size_t i = 0; i < 4; i++) {
        expect(readers[i], "GET", "/v1/clusters", NULL, 200);
        expect(readers[i], "GET", "/v1/reports/capacity", NULL, 200);
        expect(readers[i], "GET", "/v1/reclaims", NULL, 200); /* their namespaces' rows */
        expect(readers[i], "GET", "/v1/quotas", NULL, 200);   /* likewise */
    }
    for (size_t i = 0; i < 3; i++) {
        expect(readers[i], "PUT", "/v1/clusters/c1", body, 403);
        expect(readers[i], "POST", "/v1/clusters/c1/cordon", NULL, 403);
        expect(readers[i], "DELETE", "/v1/clusters/c1", NULL, 403);
        expect(readers[i], "GET", "/v1/audit", NULL, 403);
    }
    expect(tok_admin, "PUT", "/v1/clusters/c1", body, 201);
    expect(tok_admin, "POST", "/v1/clusters/c1/cordon", NULL, 200);
    expect(tok_admin, "DELETE", "/v1/clusters/c1", NULL, 200);
}
END_TEST

START_TEST(mutations_are_audited)
{
    char *body = NULL;
    char *c = itest_job_body("audited", 8, "1");
    json_t *j;

    expect(tok_sub_a, "POST", "/v1/namespaces/team-a/trainingjobs", c, 201);
    expect(tok_sub_a, "POST", "/v1/namespaces/team-b/trainingjobs", c, 403);
    ck_assert_int_eq(call(tok_admin, "GET", "/v1/audit?token=sub-a&limit=50", NULL, &body), 200);
    j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    {
        size_t i;
        json_t *it;
        int ok = 0, denied = 0;

        json_array_foreach(json_object_get(j, "items"), i, it)
        {
            const char *path = json_string_value(json_object_get(it, "path"));
            int status = (int)json_integer_value(json_object_get(it, "status"));

            ck_assert_str_eq(json_string_value(json_object_get(it, "token")), "sub-a");
            ck_assert_str_eq(json_string_value(json_object_get(it, "role")), "submitter");
            ck_assert_str_eq(json_string_value(json_object_get(it, "remote")), "127.0.0.1");
            ok += strcmp(json_string_value(json_object_get(it, "method")), "POST") == 0 &&
                  status == 201 && strcmp(path, "/v1/namespaces/team-a/trainingjobs") == 0;
            denied += status == 403 && strcmp(path, "/v1/namespaces/team-b/trainingjobs") == 0 &&
                      strcmp(json_string_value(json_object_get(it, "error")), "forbidden") == 0;
        }
        ck_assert_int_ge(ok, 1);
        ck_assert_int_ge(denied, 1);
    }
    json_decref(j);
    free(body);
    free(c);
}
END_TEST

START_TEST(revoked_token_is_refused)
{
    char tok[64], cmd[2048];

    itest_create_token(dsn, "short-lived", "viewer", NULL, tok);
    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token revoke --name short-lived 2>/dev/null", dsn,
             getenv("FEDSCHED_BIN"));
    ck_assert_int_eq(system(cmd), 0);
    expect(tok, "GET", "/v1/trainingjobs", NULL, 401);
    /* The database holds only the hash. */
    {
        char sql[256], *n;

        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM api_tokens WHERE position('%s' in token_hash::text) > 0",
                 tok + 4);
        n = itest_sql(dsn, sql);
        ck_assert_str_eq(n, "0");
        free(n);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, no_or_bad_token_is_401);
    tcase_add_test(tc, job_endpoints_by_role_and_namespace);
    tcase_add_test(tc, no_leaks_across_namespaces);
    tcase_add_test(tc, cluster_and_admin_endpoints);
    tcase_add_test(tc, mutations_are_audited);
    tcase_add_test(tc, revoked_token_is_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
