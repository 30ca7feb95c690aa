/* test_tenant_policy.c -- the "tenants" configuration section end to end: `fedsched serve`
 * refuses a submission that references what its namespace may not (403, the field, the
 * value, the rule; nothing stored; audited as forbidden), accepts what it may, falls back
 * to the "*" entry, allows everything without the section, and does not start with a bad
 * section (the key and the value on stderr). */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const rules =
    "{\"tenants\": {"
    "\"*\": {\"serviceAccountNames\": [\"default\"], \"secrets\": []},"
    "\"team-a\": {\"serviceAccountNames\": [\"trainer\"], \"secrets\": [\"team-a-s3\"],"
    "\"uriPrefixes\": [\"s3://team-a/\"]}}}";

/* Writes text to a config file of this test process; returns its path (static). */
static const char *config_file(const char *text)
{
    static char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "/tmp/fedsched-tenants-%d.json", (int)getpid());
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void start(struct itest_server *srv, char *dsn, size_t size, const char *config_text)
{
    const char *args[] = {"--config", config_file(config_text), NULL};

    itest_create_db(dsn, size);
    itest_server_start_args(srv, dsn, NULL, args, 1);
}

/* A job named name whose spec.code holds code_extra (JSON members) and spec spec_extra. */
static char *job(const char *name, const char *code_extra, const char *spec_extra)
{
    return xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                     "\"metadata\":{\"name\":\"%s\"},\"spec\":{\"resources\":{\"instanceType\":"
                     "\"a100-80gb\",\"gpuCount\":1},\"code\":{\"image\":\"trainer:1\"%s%s}%s%s}}",
                     name, *code_extra ? "," : "", code_extra, *spec_extra ? "," : "", spec_extra);
}

static long submit(const struct itest_server *srv, const char *ns, const char *body, json_t **out)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    return itest_post_json(srv->base, path, body, out);
}

/* The error of a refused submission: code, field, message. */
static void expect_refusal(const struct itest_server *srv, const char *ns, const char *body,
                           const char *field, const char *message)
{
    json_t *reply = NULL, *err;
    long status = submit(srv, ns, body, &reply);

    ck_assert_int_eq(status, 403);
    err = json_object_get(reply, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "forbidden");
    ck_assert_str_eq(json_string_value(json_object_get(err, "field")), field);
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), message);
    json_decref(reply);
}

START_TEST(refused_references_are_403_and_not_stored)
{
    struct itest_server srv;
    char dsn[1024], *body, *rows = NULL;
    long status;

    start(&srv, dsn, sizeof(dsn), rules);
    body = job("run-1", "\"serviceAccountName\":\"root-sa\"", "");
    expect_refusal(&srv, "team-a", body, "spec.code.serviceAccountName",
                   "spec.code.serviceAccountName \"root-sa\" is not allowed in namespace team-a "
                   "(tenants.team-a.serviceAccountNames); allowed: trainer");
    free(body);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/team-a/trainingjobs/run-1", NULL),
                     404);
    /* The refusal is in the audit log with its code (written by the audit thread). */
    for (int i = 0; i < 50; i++) {
        free(rows);
        rows = itest_sql(dsn, "SELECT count(*) FROM audit_log WHERE status = 403 AND detail = "
                              "'forbidden' AND namespace = 'team-a' AND method = 'POST'");
        if (rows && strcmp(rows, "1") == 0)
            break;
        usleep(100 * 1000);
    }
    ck_assert_str_eq(rows, "1");
    free(rows);
    /* The same name with what the rules allow is created: nothing was left behind. */
    body = job("run-1",
               "\"serviceAccountName\":\"trainer\",\"env\":[{\"name\":\"AWS\",\"valueFrom\":"
               "{\"secretKeyRef\":{\"name\":\"team-a-s3\",\"key\":\"k\"}}}]",
               "\"data\":{\"uri\":\"s3://team-a/imagenet/\"}");
    status = submit(&srv, "team-a", body, NULL);
    ck_assert_int_eq(status, 201);
    free(body);
    /* Validation comes first: a malformed spec is still 400, not 403. */
    body = job("run-2", "\"serviceAccountName\":7", "");
    ck_assert_int_eq(submit(&srv, "team-a", body, NULL), 400);
    free(body);
    body = job("run-3", "", "\"data\":{\"uri\":\"s3://team-a/../team-b/x\"}");
    expect_refusal(&srv, "team-a", body, "spec.data.uri",
                   "spec.data.uri \"s3://team-a/../team-b/x\" is not allowed in namespace "
                   "team-a: a URI with '.' or '..' segments or '%' escapes cannot be held to "
                   "tenants.team-a.uriPrefixes");
    free(body);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

START_TEST(other_namespaces_fall_back_to_star)
{
    struct itest_server srv;
    char dsn[1024], *body;

    start(&srv, dsn, sizeof(dsn), rules);
    body = job("run-1", "\"serviceAccountName\":\"trainer\"", "");
    expect_refusal(&srv, "team-b", body, "spec.code.serviceAccountName",
                   "spec.code.serviceAccountName \"trainer\" is not allowed in namespace team-b "
                   "(tenants.*.serviceAccountNames); allowed: default");
    free(body);
    body = job("run-1",
               "\"env\":[{\"name\":\"AWS\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
               "\"team-a-s3\",\"key\":\"k\"}}}]",
               "");
    expect_refusal(&srv, "team-b", body, "spec.code.env[0].valueFrom.secretKeyRef.name",
                   "spec.code.env[0].valueFrom.secretKeyRef.name \"team-a-s3\" is not allowed "
                   "in namespace team-b (tenants.*.secrets); allowed: none");
    free(body);
    /* No uriPrefixes for team-b anywhere: any URI; no serviceAccountName: the default. */
    body = job("run-1", "", "\"data\":{\"uri\":\"s3://team-a/imagenet/\"}");
    ck_assert_int_eq(submit(&srv, "team-b", body, NULL), 201);
    free(body);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

START_TEST(without_the_section_everything_is_allowed)
{
    struct itest_server srv;
    char dsn[1024], *body;

    start(&srv, dsn, sizeof(dsn), "{\"logLevel\": \"info\"}");
    body = job("run-1",
               "\"serviceAccountName\":\"root-sa\",\"env\":[{\"name\":\"AWS\",\"valueFrom\":"
               "{\"secretKeyRef\":{\"name\":\"anything\",\"key\":\"k\"}}}]",
               "\"data\":{\"uri\":\"s3://x/../y\"}");
    ck_assert_int_eq(submit(&srv, "team-a", body, NULL), 201);
    free(body);
    itest_server_stop(&srv, SIGTERM);
}
END_TEST

START_TEST(a_bad_section_stops_serve_naming_key_and_value)
{
    char cmd[1024], out[4096] = "";
    const char *path = config_file("{\"tenants\": {\"team-a\": {\"uriPrefixes\": "
                                   "[\"s3://team-a\"]}}}");
    size_t got;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "FEDSCHED_DATABASE_DSN='%s' '%s' serve --config '%s' 2>&1",
             itest_dsn(), getenv("FEDSCHED_BIN"), path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    ck_assert_int_ne(pclose(p), 0);
    ck_assert_msg(strstr(out, "fedsched: config: tenants.team-a.uriPrefixes[0]: \"s3://team-a\" "
                              "is not a URI prefix: scheme://location ending in '/'"),
                  "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tenant_policy");
    TCase *tc = tcase_create("tenant_policy");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, refused_references_are_403_and_not_stored);
    tcase_add_test(tc, other_namespaces_fall_back_to_star);
    tcase_add_test(tc, without_the_section_everything_is_allowed);
    tcase_add_test(tc, a_bad_section_stops_serve_naming_key_and_value);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
