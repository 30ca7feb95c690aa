/* test_openapi_answers.c -- what fedsched answers is what docs/openapi.yaml says: `fedsched
 * serve` against kubesim and a real PostgreSQL, jobs in several states (running, queued
 * and never fitting, held, cancelled), then one answer of every route but /metrics and the
 * dashboard (the reports as JSON), errors among them, each body checked by
 * tests/schema/responses.js (Ajv) against the document's schema for its path, method and
 * status with every described object closed, so a field the document does not name fails.
 * One answer with a field added is expected to fail: the check can. Needs node and npm
 * (tests/schema/package-lock.json, installed here when missing). Not responsible for the
 * document being valid OpenAPI (test_schemas) or for what the values mean (the other
 * suites). */
#include "tests/integration/test_sched_env.h"

#include "base/buf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define BASE                                                                                       \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"leaderRetryMs\": 200, \"leaderRenewMs\": 200, \"jobAnnotations\":"                          \
    " {\"sim.fedsched.io/duration-seconds\": \"360000\"}}"

#define J "/v1/namespaces/{ns}/trainingjobs"
#define N "/v1/namespaces/{ns}/trainingjobs/{name}"

static struct senv env;
/* Where answer() sends and how: NULL for the first replica, no token, JSON bodies. */
static const char *cur_base, *cur_token, *cur_ctype;

static void teardown(void)
{
    senv_stop(&env);
}

/* Appends {method, path, url, status, body, expect} for one answer to all and returns its
 * status. body may be NULL (a GET); mutate adds an undocumented field to the answer (expect
 * "fail"). */
static long answer(json_t *all, const char *method, const char *path, const char *url,
                   const char *body, bool mutate)
{
    char auth[128];
    const char *hdr[3] = {cur_ctype ? cur_ctype
                          : strcmp(method, "patch") == 0
                              ? "Content-Type: application/merge-patch+json"
                              : "Content-Type: application/json",
                          NULL, NULL};
    char full[512], *text = NULL, upper[8];
    json_t *j;
    long st;
    size_t i;

    for (i = 0; method[i] && i + 1 < sizeof(upper); i++)
        upper[i] = (char)(method[i] - 'a' + 'A');
    upper[i] = '\0';
    snprintf(full, sizeof(full), "%s%s", cur_base ? cur_base : senv_base(&env), url);
    if (cur_token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", cur_token);
        hdr[body ? 1 : 0] = auth;
    }
    st = itest_http(upper, full, body || cur_token ? hdr : NULL, body, &text);
    j = json_loads(text ? text : "", 0, NULL);
    ck_assert_msg(j, "%s %s: %ld, not JSON: %s", upper, url, st, text ? text : "");
    if (mutate)
        json_object_set_new(json_object_get(j, "status") ? json_object_get(j, "status") : j,
                            "undocumented", json_true());
    json_array_append_new(all, json_pack("{s:s, s:s, s:s, s:I, s:o, s:s}", "method", method, "path",
                                         path, "url", url, "status", (json_int_t)st, "body", j,
                                         "expect", mutate ? "fail" : "ok"));
    free(text);
    return st;
}

static char *job_body(const char *name, int gpus, int cpu, const char *labels)
{
    return xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                     "{\"name\":\"%s\",\"labels\":%s},\"spec\":{\"framework\":\"pytorch\","
                     "\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":%d,\"cpu\":%d},"
                     "\"code\":{\"image\":\"trainer:1\",\"command\":[\"python\",\"train.py\"]}}}",
                     name, labels, gpus, cpu);
}

START_TEST(every_answer_is_what_the_document_says)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *run = job_body("run", 1, 4, "{\"team\":\"a\"}"), *huge = job_body("huge", 8, 200, "{}");
    char *held = job_body("held", 8, 200, "{\"set\":\"h\"}"), *gone = job_body("gone", 1, 4, "{}");
    char *dry = job_body("dry", 2, 8, "{}"), *file, *cmd, *out;
    json_t *all = json_array(), *j;
    char dir[512];
    int rc;

    senv_sim(&env, "testdata/sim/node-fit.json");
    senv_config(&env, BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", run, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", run, false); /* replay */
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs?dryRun=All", dry, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs?dryRun=true", dry, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", huge, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", held, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", gone, false);
    json_decref(senv_wait_phase(senv_base(&env), "team-a", "run", "Running", 30000));
    answer(all, "post", "/v1/namespaces/{ns}/trainingjobs:hold",
           "/v1/namespaces/team-a/trainingjobs:hold?labelSelector=set%3Dh", "{}", false);
    answer(all, "delete", N, "/v1/namespaces/team-a/trainingjobs/gone", NULL, false);
    /* Give huge a what-if of its own (its GET memo) and the scheduler a few cycles. */
    usleep(1000 * 1000);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/run", NULL, false);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/run", NULL, true);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/huge", NULL, false);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/held", NULL, false);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/gone", NULL, false);
    answer(all, "get", N, "/v1/namespaces/team-a/trainingjobs/none", NULL, false);
    answer(all, "get", J, "/v1/namespaces/team-a/trainingjobs?limit=2", NULL, false);
    answer(all, "get", J, "/v1/namespaces/team-a/trainingjobs?limit=0", NULL, false);
    answer(all, "get", "/v1/trainingjobs", "/v1/trainingjobs?phase=Queued", NULL, false);
    answer(all, "get", N "/events", "/v1/namespaces/team-a/trainingjobs/run/events", NULL, false);
    answer(all, "get", N "/explain", "/v1/namespaces/team-a/trainingjobs/run/explain", NULL, false);
    answer(all, "get", N "/explain", "/v1/namespaces/team-a/trainingjobs/huge/explain", NULL,
           false);
    answer(all, "get", N "/explain", "/v1/namespaces/team-a/trainingjobs/held/explain", NULL,
           false);
    answer(all, "get", N "/checkpoint", "/v1/namespaces/team-a/trainingjobs/run/checkpoint", NULL,
           false);
    answer(all, "get", "/v1/queue", "/v1/queue", NULL, false);
    /* The held job follows the queue, without a place: the schema must allow its nulls. */
    {
        json_t *items = json_object_get(
            json_object_get(json_array_get(all, json_array_size(all) - 1), "body"), "items");
        json_t *last = json_array_get(items, json_array_size(items) - 1);

        ck_assert_str_eq(
            json_string_value(json_object_get(json_object_get(last, "pendingReason"), "reason")),
            "Held");
        ck_assert(json_is_null(json_object_get(last, "order")));
    }
    answer(all, "get", "/v1/queue", "/v1/queue?limit=1&offset=1&sku=a100-80gb", NULL, false);
    answer(all, "get", "/v1/queue", "/v1/queue?offset=x", NULL, false);
    answer(all, "get", "/v1/namespaces/{ns}/queue", "/v1/namespaces/team-a/queue", NULL, false);
    answer(all, "get", "/v1/leader", "/v1/leader", NULL, false);
    answer(all, "get", "/v1/reclaims", "/v1/reclaims", NULL, false);
    answer(all, "get", "/v1/quotas", "/v1/quotas", NULL, false);
    answer(all, "get", "/v1/clusters", "/v1/clusters", NULL, false);
    answer(all, "get", "/v1/clusters/{name}", "/v1/clusters/east", NULL, false);
    answer(all, "get", "/v1/clusters/{name}/nodes", "/v1/clusters/east/nodes?limit=1", NULL, false);
    answer(all, "post", "/v1/clusters/{name}/cordon", "/v1/clusters/west/cordon", "{}", false);
    answer(all, "get", "/v1/capacity", "/v1/capacity", NULL, false);
    answer(all, "get", "/v1/reports/queue", "/v1/reports/queue", NULL, false);
    answer(all, "get", "/v1/reports/queue", "/v1/reports/queue?x=1", NULL, false);
    answer(all, "get", "/v1/reports/capacity", "/v1/reports/capacity?format=json", NULL, false);
    answer(all, "get", "/v1/audit", "/v1/audit?limit=3", NULL, false);
    /* The other writes: job sets, a priority, a checkpoint, a cluster added and removed. */
    answer(all, "post", J ":reprioritize",
           "/v1/namespaces/team-a/trainingjobs:reprioritize?"
           "labelSelector=set%3Dh",
           "{\"priority\": 5}", false);
    answer(all, "post", J ":release",
           "/v1/namespaces/team-a/trainingjobs:release?"
           "labelSelector=set%3Dh",
           "{}", false);
    answer(all, "post", "/v1/trainingjobs:hold", "/v1/trainingjobs:hold?labelSelector=set%3Dh",
           "{}", false);
    answer(all, "post", "/v1/trainingjobs:cancel", "/v1/trainingjobs:cancel?labelSelector=set%3Dh",
           "{}", false);
    answer(all, "patch", N, "/v1/namespaces/team-a/trainingjobs/huge",
           "{\"spec\": {\"scheduling\": {\"priority\": 7}}}", false);
    answer(all, "post", N "/checkpoint", "/v1/namespaces/team-a/trainingjobs/run/checkpoint", "{}",
           false);
    answer(all, "put", "/v1/clusters/{name}", "/v1/clusters/extra",
           "{\"apiServer\": \"http://127.0.0.1:1\", \"allowInsecureHttp\": true}", false);
    answer(all, "delete", "/v1/clusters/{name}", "/v1/clusters/extra", NULL, false);
    /* The dry run's job created for real; then refusals: another spec under its name (409),
     * an invalid spec (422), a body that is not JSON and an unknown SKU filter (400), a
     * cluster that does not exist (404). */
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", dry, false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs",
           "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
           "{\"name\":\"dry\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\","
           "\"gpuCount\":1},\"code\":{\"image\":\"t:1\"}}}",
           false);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs",
           "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
           "{\"name\":\"bad\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\","
           "\"gpuCount\":0},\"code\":{\"image\":\"t:1\"}}}",
           false);
    /* Every part of the body wrong: 22 causes, 16 of them listed, both codes among them. */
    ck_assert_int_eq(
        answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs",
               "{\"x\":1,\"apiVersion\":1,\"kind\":1,\"metadata\":{\"y\":1,\"name\":1,"
               "\"namespace\":1,\"labels\":1,\"annotations\":1},\"spec\":{\"z\":1,"
               "\"framework\":1,\"resources\":{\"w\":1,\"instanceType\":\"z80\",\"gpuCount\":0,"
               "\"memoryGb\":-1,\"cpu\":\"1\"},\"code\":1,\"data\":1,\"output\":1,"
               "\"checkpoint\":1,\"scheduling\":1,\"podLabels\":1,\"podAnnotations\":1}}",
               false),
        400);
    answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", "{nope", false);
    answer(all, "get", "/v1/trainingjobs", "/v1/trainingjobs?sku=z80", NULL, false);
    answer(all, "get", "/v1/clusters/{name}/nodes", "/v1/clusters/none/nodes", NULL, false);
    answer(all, "get", "/readyz", "/readyz", NULL, false);
    answer(all, "get", "/healthz", "/healthz", NULL, false);
    /* A replica with tokens: none (401); a viewer of team-b on team-a's queue and jobs, and
     * submitting (403); a body past http.maxBodyBytes (413); a body not typed JSON (415). */
    {
        const char *env_auth[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
        char tok_b[64], tok_admin[64], pad[1025];
        struct buf big;

        senv_serve(&env, 1, env_auth);
        itest_create_token(env.dsn, "view-b", "viewer", "team-b", tok_b);
        itest_create_token(env.dsn, "admin", "admin", NULL, tok_admin);
        cur_base = env.srv[1].base;
        ck_assert_int_eq(answer(all, "get", "/v1/queue", "/v1/queue", NULL, false), 401);
        cur_token = tok_b;
        ck_assert_int_eq(answer(all, "get", "/v1/namespaces/{ns}/queue",
                                "/v1/namespaces/team-a/queue", NULL, false),
                         403);
        ck_assert_int_eq(answer(all, "get", J, "/v1/namespaces/team-a/trainingjobs", NULL, false),
                         403);
        ck_assert_int_eq(answer(all, "post", J, "/v1/namespaces/team-b/trainingjobs", run, false),
                         403);
        cur_token = tok_admin;
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = '\0';
        buf_init(&big, 0);
        buf_puts(&big, "{\"pad\":\"");
        for (int i = 0; i < 1100; i++) /* 1.1 MB: past the default 1 MiB */
            buf_puts(&big, pad);
        buf_puts(&big, "\"}");
        ck_assert_int_eq(
            answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", big.data, false), 413);
        buf_free(&big);
        cur_ctype = "Content-Type: text/plain";
        ck_assert_int_eq(answer(all, "post", J, "/v1/namespaces/team-a/trainingjobs", run, false),
                         415);
        cur_ctype = NULL;
        cur_token = NULL;
        cur_base = NULL;
    }

    /* A default Error response stands for statuses an operation does not list, so a 5xx
     * here would pass the schemas: none of these answers may be one. */
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *a = json_array_get(all, i);

        ck_assert_msg(json_integer_value(json_object_get(a, "status")) < 500, "%s %s: %lld",
                      json_string_value(json_object_get(a, "method")),
                      json_string_value(json_object_get(a, "url")),
                      (long long)json_integer_value(json_object_get(a, "status")));
    }
    snprintf(dir, sizeof(dir), "%s/tests/schema", src && *src ? src : ".");
    file = xasprintf("%s/answers.json", env.dir);
    ck_assert_int_eq(json_dump_file(all, file, JSON_INDENT(1)), 0);
    cmd = xasprintf("cd '%s' && { { [ -d node_modules/ajv-formats ] && [ -d node_modules/yaml ]; } "
                    "|| npm ci --no-audit --no-fund > '%s/npm.log' 2>&1; } && node responses.js "
                    "'%s' > '%s/answers.out' 2>&1",
                    dir, env.dir, file, env.dir);
    rc = system(cmd);
    free(cmd);
    cmd = xasprintf("%s/answers.out", env.dir);
    {
        FILE *f = fopen(cmd, "r");
        struct buf b;
        char chunk[4096];
        size_t n;

        buf_init(&b, 0);
        while (f && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
            buf_append(&b, chunk, n);
        if (f)
            fclose(f);
        buf_puts(&b, "");
        out = buf_steal(&b);
    }
    ck_assert_msg(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "responses.js (status %d):\n%s", rc, out);
    j = json_loads(strrchr(out, '{') ? strrchr(out, '{') : "", 0, NULL);
    ck_assert_msg(j, "no summary:\n%s", out);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "checked")), json_array_size(all));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "failed")), 1); /* the mutated one */
    ck_assert_int_eq(json_integer_value(json_object_get(j, "unexpected")), 0);
    ck_assert_msg(strstr(out, "undocumented"), "%s", out);
    json_decref(j);
    free(out);
    free(cmd);
    free(file);
    json_decref(all);
    free(run);
    free(huge);
    free(held);
    free(gone);
    free(dry);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("openapi_answers");
    TCase *tc = tcase_create("answers");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, every_answer_is_what_the_document_says);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
