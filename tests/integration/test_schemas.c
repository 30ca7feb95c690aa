/* test_schemas.c -- every object fedsched creates in a member cluster is valid against the
 * official schemas (batch/v1 Job, v1 Service, v1 Secret, v1 Namespace from the
 * kubernetes-models npm package; ray.io/v1 RayJob from KubeRay's published CRD in
 * testdata/schemas/), unknown fields counting as failures; so is every LeaderWorkerSet the
 * simulator serves (leaderworkerset.x-k8s.io/v1, the LWS project's published CRD in
 * testdata/schemas/), as the serving signal reads them; and the check itself refuses
 * objects that are wrong in the ways an API server would drop or refuse.
 * Runs $BUILD/tests/schema/dump_objects (the objects) and tests/schema/validate.js (the
 * check). Needs node and npm; npm packages come from tests/schema/package-lock.json,
 * installed here when node_modules is missing. Not responsible for what the objects do
 * once created (test_sched, test_e2e). */
#include "api/internal.h"
#include "base/err.h"
#include "base/mem.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* dump_objects.c's matrix: 8 frameworks x 1 and 4 workers x borrowed or not x full or
 * minimal spec x 2 SKUs; ray is a RayJob, the 7 others a Job with a headless Service;
 * every job has its Secret and its member Namespace. */
#define VARIANTS_PER_FRAMEWORK 16
#define JOB_FRAMEWORKS         7
#define RAY_FRAMEWORKS         1

static char tmpdir[128], schema_dir[1024], dumper[1024];
static int npm_status = -1;

/* Check's failure messages are limited in size: the report from its first FAIL line on,
 * cut to REPORT_MAX characters. */
#define REPORT_MAX "3000"
static const char *failures(const char *report)
{
    const char *first = strstr(report, "FAIL ");

    return first ? first : report;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = xmalloc((size_t)n + 1);
    n = (long)fread(data, 1, (size_t)n, f);
    data[n] = '\0';
    fclose(f);
    return data;
}

static void suite_setup(void)
{
    const char *src = getenv("FEDSCHED_SRC"), *build = getenv("BUILD");
    char *cmd;

    src = src && *src ? src : ".";
    build = build && *build ? build : "build";
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fedsched-schemas.XXXXXX");
    if (!mkdtemp(tmpdir))
        abort();
    snprintf(schema_dir, sizeof(schema_dir), "%s/tests/schema", src);
    /* BUILD may be absolute (make asan) or relative to the source tree. */
    snprintf(dumper, sizeof(dumper), "%s%s%s/tests/schema/dump_objects", build[0] == '/' ? "" : src,
             build[0] == '/' ? "" : "/", build);
    cmd = xasprintf("cd '%s' && { { [ -d node_modules/kubernetes-models ] && "
                    "[ -d node_modules/@apidevtools/swagger-parser ]; } || npm ci --no-audit "
                    "--no-fund > '%s/npm.log' 2>&1; }",
                    schema_dir, tmpdir);
    npm_status = system(cmd);
    free(cmd);
}

static void suite_teardown(void)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);

    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    free(cmd);
}

static void need_packages(void)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/npm.log", tmpdir);
    ck_assert_msg(npm_status == 0, "npm ci in %s failed: %s", schema_dir,
                  access(path, R_OK) == 0 ? slurp(path) : "(no log)");
}

/* Runs the dumper into tmpdir/objects.json and returns what it printed, parsed. */
static json_t *dump(void)
{
    char *cmd = xasprintf("'%s' > '%s/objects.json'", dumper, tmpdir);
    char path[256];
    json_t *objects;
    json_error_t je;
    int rc = system(cmd);

    free(cmd);
    ck_assert_msg(rc == 0, "%s failed (status %d); built by make test", dumper, rc);
    snprintf(path, sizeof(path), "%s/objects.json", tmpdir);
    objects = json_load_file(path, 0, &je);
    ck_assert_msg(json_is_array(objects), "dump_objects printed no JSON array: %s", je.text);
    return objects;
}

/* Runs validate.js on the file input; *report gets its output (caller frees), and the
 * summary (its last line) is returned parsed. *status is the exit status. */
static json_t *validate(const char *input, char **report, int *status)
{
    char out[256], *cmd, *last;
    json_t *summary;
    int rc;

    snprintf(out, sizeof(out), "%s/validate.out", tmpdir);
    cmd = xasprintf("cd '%s' && node validate.js '%s' > '%s' 2>&1", schema_dir, input, out);
    rc = system(cmd);
    free(cmd);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    *report = slurp(out);
    while (**report && (*report)[strlen(*report) - 1] == '\n')
        (*report)[strlen(*report) - 1] = '\0';
    last = strrchr(*report, '\n');
    summary = json_loads(last ? last + 1 : *report, 0, NULL);
    ck_assert_msg(json_is_object(summary),
                  "no summary from validate.js (exit %d):\n%." REPORT_MAX "s", *status, *report);
    return summary;
}

static json_int_t count(const json_t *summary, const char *key)
{
    return json_integer_value(json_object_get(summary, key));
}

static json_int_t kind_count(const json_t *summary, const char *kind)
{
    return json_integer_value(json_object_get(json_object_get(summary, "kinds"), kind));
}

START_TEST(every_object_is_schema_valid)
{
    char input[256], *report;
    json_t *objects, *summary;
    int status;

    need_packages();
    objects = dump();
    snprintf(input, sizeof(input), "%s/objects.json", tmpdir);
    summary = validate(input, &report, &status);
    ck_assert_msg(count(summary, "failed") == 0 && status == 0,
                  "objects fedsched creates fail their schemas (exit %d):\n%." REPORT_MAX "s",
                  status, failures(report));
    ck_assert_int_eq(count(summary, "checked"), json_array_size(objects));
    /* Every framework and shape is there: a dumper that lost some would pass vacuously. */
    ck_assert_int_eq(kind_count(summary, "Job"), JOB_FRAMEWORKS * VARIANTS_PER_FRAMEWORK);
    ck_assert_int_eq(kind_count(summary, "RayJob"), RAY_FRAMEWORKS * VARIANTS_PER_FRAMEWORK);
    ck_assert_int_eq(kind_count(summary, "Service"), JOB_FRAMEWORKS * VARIANTS_PER_FRAMEWORK);
    ck_assert_int_eq(kind_count(summary, "Secret"),
                     (JOB_FRAMEWORKS + RAY_FRAMEWORKS) * VARIANTS_PER_FRAMEWORK);
    ck_assert_int_eq(kind_count(summary, "Namespace"),
                     (JOB_FRAMEWORKS + RAY_FRAMEWORKS) * VARIANTS_PER_FRAMEWORK);
    printf("schemas: %lld objects valid\n", (long long)count(summary, "checked"));
    json_decref(summary);
    json_decref(objects);
    free(report);
}
END_TEST

/* The value at a dotted path ("spec.template.spec.containers.0"); fails the test when a
 * step is missing, so a case never mutates nothing. */
static json_t *at(json_t *j, const char *path)
{
    const char *p = path;

    while (j && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char step[128];

        snprintf(step, sizeof(step), "%.*s", (int)n, p);
        j = json_is_array(j) ? json_array_get(j, strtoul(step, NULL, 10))
                             : json_object_get(j, step);
        p += n + (dot ? 1 : 0);
    }
    ck_assert_msg(j != NULL, "no %s in the dumped object", path);
    return j;
}

/* The first dumped object of this kind whose label contains want. */
static json_t *pick(const json_t *objects, const char *kind, const char *want)
{
    size_t i;
    json_t *entry;

    json_array_foreach(objects, i, entry)
    {
        json_t *obj = json_object_get(entry, "object");
        const char *label = json_string_value(json_object_get(entry, "label"));

        if (strcmp(json_string_value(json_object_get(obj, "kind")), kind) == 0 && label &&
            strstr(label, want))
            return json_deep_copy(obj);
    }
    ck_abort_msg("no %s \"%s\" in the dump", kind, want);
    return NULL;
}

/* A deliberately wrong object: label, the object, and what its FAIL line must say. */
struct bad {
    const char *label;
    json_t *object;
    const char *expect;
};

START_TEST(wrong_objects_are_refused)
{
    json_t *objects, *job, *ray, *svc, *secret, *ns, *cases = json_array(), *summary;
    struct bad bad[16];
    size_t n = 0;
    char input[256], *report;
    int status;

    need_packages();
    objects = dump();
    job = pick(objects, "Job", "pytorch 4w borrowed full a100-80gb");
    ray = pick(objects, "RayJob", "ray 4w borrowed full a100-80gb");
    svc = pick(objects, "Service", "pytorch 4w borrowed full a100-80gb");
    secret = pick(objects, "Secret", "pytorch 4w borrowed full a100-80gb");
    ns = pick(objects, "Namespace", "pytorch 4w borrowed full a100-80gb");

    bad[n] = (struct bad){"unknown field in a container", json_deep_copy(job),
                          "/spec/template/spec/containers/0/gpuMemory unknown field"};
    json_object_set_new(at(bad[n++].object, "spec.template.spec.containers.0"), "gpuMemory",
                        json_string("80Gi"));
    bad[n] = (struct bad){"unknown field in pod metadata", json_deep_copy(job),
                          "/spec/template/metadata/label unknown field"};
    json_object_set_new(at(bad[n++].object, "spec.template.metadata"), "label", json_object());
    bad[n] = (struct bad){"an integer as a string", json_deep_copy(job), "/spec/parallelism type"};
    json_object_set_new(at(bad[n++].object, "spec"), "parallelism", json_string("4"));
    bad[n] = (struct bad){"a number where a string is required", json_deep_copy(job),
                          "/spec/template/spec/containers/0/env/0/value type"};
    json_object_set_new(at(bad[n++].object, "spec.template.spec.containers.0.env.0"), "value",
                        json_integer(4));
    bad[n] = (struct bad){"a quantity that is not one", json_deep_copy(job),
                          "/spec/template/spec/containers/0/resources/limits/nvidia.com~1gpu "
                          "format"};
    json_object_set_new(at(bad[n++].object, "spec.template.spec.containers.0.resources.limits"),
                        "nvidia.com/gpu", json_string("8 GPUs"));
    bad[n] = (struct bad){"a kind without a schema", json_deep_copy(job),
                          "/ no schema for apiVersion/kind \"batch/v2 Job\""};
    json_object_set_new(bad[n++].object, "apiVersion", json_string("batch/v2"));
    bad[n] = (struct bad){"a quantity as a number in rayStartParams", json_deep_copy(ray),
                          "/spec/rayClusterSpec/workerGroupSpecs/0/rayStartParams/num-gpus "
                          "must be string"};
    json_object_set_new(at(bad[n++].object, "spec.rayClusterSpec.workerGroupSpecs.0"),
                        "rayStartParams", json_pack("{s:i}", "num-gpus", 8));
    bad[n] = (struct bad){"unknown field in a RayJob container", json_deep_copy(ray),
                          "/spec/rayClusterSpec/headGroupSpec/template/spec/containers/0 must "
                          "NOT have additional properties {\"additionalProperty\":\"gpuMemory\"}"};
    json_object_set_new(
        at(bad[n++].object, "spec.rayClusterSpec.headGroupSpec.template.spec.containers.0"),
        "gpuMemory", json_string("80Gi"));
    bad[n] = (struct bad){"unknown field in RayJob metadata", json_deep_copy(ray),
                          "/metadata/generation2 unknown field"};
    json_object_set_new(at(bad[n++].object, "metadata"), "generation2", json_integer(1));
    bad[n] = (struct bad){"a RayJob integer as a string", json_deep_copy(ray),
                          "/spec/rayClusterSpec/workerGroupSpecs/0/replicas must be integer"};
    json_object_set_new(at(bad[n++].object, "spec.rayClusterSpec.workerGroupSpecs.0"), "replicas",
                        json_string("4"));
    bad[n] =
        (struct bad){"a Service port as a string", json_deep_copy(svc), "/spec/ports/0/port type"};
    json_object_set_new(at(bad[n++].object, "spec.ports.0"), "port", json_string("23456"));
    bad[n] = (struct bad){"an owner reference's flag as a string", json_deep_copy(svc),
                          "/metadata/ownerReferences/0/controller type"};
    json_object_set_new(at(bad[n++].object, "metadata.ownerReferences.0"), "controller",
                        json_string("true"));
    bad[n] = (struct bad){"Secret data that is not base64", json_deep_copy(secret),
                          "/data/token format"};
    json_object_set_new(at(bad[n++].object, "data"), "token", json_string("fjt_ not base64"));
    bad[n] = (struct bad){"a misspelt Secret field", json_deep_copy(secret),
                          "/stringdata unknown field"};
    json_object_set_new(bad[n++].object, "stringdata", json_pack("{s:s}", "token", "x"));
    bad[n] = (struct bad){"a Namespace label as a number", json_deep_copy(ns),
                          "/metadata/labels/team type"};
    json_object_set_new(at(bad[n++].object, "metadata.labels"), "team", json_integer(7));
    ck_assert_uint_le(n, sizeof(bad) / sizeof(bad[0]));

    /* The untouched originals must pass, or a check that refuses everything would too. */
    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the Job", "object", job));
    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the RayJob", "object", ray));
    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the Service", "object", svc));
    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the Secret", "object", secret));
    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the Namespace", "object", ns));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            cases, json_pack("{s:s, s:o}", "label", bad[i].label, "object", bad[i].object));
    snprintf(input, sizeof(input), "%s/bad.json", tmpdir);
    ck_assert_int_eq(json_dump_file(cases, input, JSON_COMPACT), 0);
    summary = validate(input, &report, &status);

    ck_assert_msg(strstr(report, "ok the Job\n") && strstr(report, "ok the RayJob\n") &&
                      strstr(report, "ok the Service\n") && strstr(report, "ok the Secret\n") &&
                      strstr(report, "ok the Namespace\n"),
                  "a valid object was refused:\n%." REPORT_MAX "s", failures(report));
    for (size_t i = 0; i < n; i++) {
        char *line = xasprintf("FAIL %s: %s", bad[i].label, bad[i].expect);

        ck_assert_msg(strstr(report, line) != NULL, "%s: no \"%s\" in:\n%." REPORT_MAX "s",
                      bad[i].label, line, report);
        free(line);
    }
    ck_assert_int_eq(count(summary, "checked"), (json_int_t)n + 5);
    ck_assert_int_eq(count(summary, "failed"), (json_int_t)n);
    ck_assert_int_eq(status, 1);
    json_decref(summary);
    json_decref(cases);
    json_decref(job);
    json_decref(ray);
    json_decref(svc);
    json_decref(secret);
    json_decref(ns);
    json_decref(objects);
    free(report);
}
END_TEST

/* The LeaderWorkerSets the simulator serves for testdata/sim/serving-lws.json, as one
 * list of {"label", "object"}: at start (llama-405b with a leader template, embed without),
 * and after llama-405b scaled to 2 groups (its status from the groups' pods). */
#define SIM_LWS 4
static json_t *sim_lws(void)
{
    const char *src = getenv("FEDSCHED_SRC");
    char path[1024];
    struct sim_scenario *scn = NULL;
    struct sim_cluster *c = NULL;
    struct sim_clock clk;
    struct err e = {0};
    json_t *out = json_array();

    snprintf(path, sizeof(path), "%s/testdata/sim/serving-lws.json", src && *src ? src : ".");
    ck_assert_msg(sim_scenario_load(path, &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, 0.000001, scn->start_ms);
    ck_assert_msg(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c, &e) == 0, "%s", e.msg);
    for (int round = 0; round < 2; round++) {
        struct sim_query q;
        struct sim_reply r;
        json_t *list, *item;
        size_t i;

        if (round == 1) {
            ck_assert_msg(sim_cluster_deployment_scale(c, "serving", "llama-405b", 2, &e) == 0,
                          "%s", e.msg);
            sim_clock_skip(&clk, 120000);
        }
        memset(&q, 0, sizeof(q));
        sim_cluster_handle(c, "GET", "/apis/leaderworkerset.x-k8s.io/v1/leaderworkersets", &q, NULL,
                           0, &r);
        ck_assert_msg(r.status == 200, "%d %.*s", r.status, (int)r.len, r.body);
        list = json_loadb(r.body, r.len, 0, NULL);
        free(r.body);
        ck_assert_ptr_nonnull(list);
        json_array_foreach(json_object_get(list, "items"), i, item)
        {
            const char *name =
                json_string_value(json_object_get(json_object_get(item, "metadata"), "name"));
            char *label = xasprintf("simulator LeaderWorkerSet %s %s", name,
                                    round ? "scaled to 2" : "at start");

            /* A list's items carry kind and apiVersion for custom resources. */
            ck_assert_str_eq(json_string_value(json_object_get(item, "kind")), "LeaderWorkerSet");
            json_array_append_new(out, json_pack("{s:s, s:O}", "label", label, "object", item));
            free(label);
        }
        if (round == 1) {
            /* Sorted by name: embed, then llama-405b with its two groups created. */
            json_t *llama = json_array_get(json_object_get(list, "items"), 1);

            ck_assert_int_eq(
                json_integer_value(json_object_get(json_object_get(llama, "status"), "replicas")),
                2);
        }
        json_decref(list);
    }
    sim_cluster_free(&c);
    sim_scenario_free(&scn);
    ck_assert_int_eq(json_array_size(out), SIM_LWS);
    return out;
}

START_TEST(simulator_lws_are_schema_valid)
{
    json_t *objects = sim_lws(), *summary;
    char input[256], *report;
    int status;

    need_packages();
    snprintf(input, sizeof(input), "%s/lws.json", tmpdir);
    ck_assert_int_eq(json_dump_file(objects, input, JSON_COMPACT), 0);
    summary = validate(input, &report, &status);
    ck_assert_msg(count(summary, "failed") == 0 && status == 0,
                  "the simulator's LeaderWorkerSets fail the CRD's schema (exit %d):\n"
                  "%." REPORT_MAX "s",
                  status, failures(report));
    ck_assert_int_eq(kind_count(summary, "LeaderWorkerSet"), SIM_LWS);
    json_decref(summary);
    json_decref(objects);
    free(report);
}
END_TEST

/* The check refuses LeaderWorkerSets wrong the ways an API server refuses or prunes. */
START_TEST(wrong_lws_are_refused)
{
    json_t *objects = sim_lws(), *good, *cases = json_array(), *summary;
    struct bad bad[8];
    size_t n = 0;
    char input[256], *report;
    int status;

    need_packages();
    good = json_deep_copy(json_object_get(json_array_get(objects, 1), "object"));
    ck_assert_ptr_nonnull(json_object_get(
        json_object_get(json_object_get(good, "spec"), "leaderWorkerTemplate"), "leaderTemplate"));
    bad[n] = (struct bad){"an LWS size as a string", json_deep_copy(good),
                          "/spec/leaderWorkerTemplate/size must be integer"};
    json_object_set_new(at(bad[n++].object, "spec.leaderWorkerTemplate"), "size", json_string("3"));
    bad[n] = (struct bad){"an unknown LWS field", json_deep_copy(good),
                          "/spec/leaderWorkerTemplate must NOT have additional properties "
                          "{\"additionalProperty\":\"workers\"}"};
    json_object_set_new(at(bad[n++].object, "spec.leaderWorkerTemplate"), "workers",
                        json_integer(2));
    bad[n] = (struct bad){"an unknown field in the worker's container", json_deep_copy(good),
                          "/spec/leaderWorkerTemplate/workerTemplate/spec/containers/0 must NOT "
                          "have additional properties {\"additionalProperty\":\"gpus\"}"};
    json_object_set_new(at(bad[n++].object, "spec.leaderWorkerTemplate.workerTemplate.spec."
                                            "containers.0"),
                        "gpus", json_integer(8));
    bad[n] = (struct bad){"an LWS without its workerTemplate", json_deep_copy(good),
                          "/spec/leaderWorkerTemplate must have required property "
                          "'workerTemplate'"};
    json_object_del(at(bad[n++].object, "spec.leaderWorkerTemplate"), "workerTemplate");
    bad[n] = (struct bad){"an LWS status count as a string", json_deep_copy(good),
                          "/status/readyReplicas must be integer"};
    json_object_set_new(at(bad[n++].object, "status"), "readyReplicas", json_string("1"));
    ck_assert_uint_le(n, sizeof(bad) / sizeof(bad[0]));

    json_array_append_new(cases, json_pack("{s:s, s:O}", "label", "the LWS", "object", good));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            cases, json_pack("{s:s, s:o}", "label", bad[i].label, "object", bad[i].object));
    snprintf(input, sizeof(input), "%s/bad-lws.json", tmpdir);
    ck_assert_int_eq(json_dump_file(cases, input, JSON_COMPACT), 0);
    summary = validate(input, &report, &status);
    ck_assert_msg(strstr(report, "ok the LWS\n"), "a valid object was refused:\n%." REPORT_MAX "s",
                  failures(report));
    for (size_t i = 0; i < n; i++) {
        char *line = xasprintf("FAIL %s: %s", bad[i].label, bad[i].expect);

        ck_assert_msg(strstr(report, line) != NULL, "%s: no \"%s\" in:\n%." REPORT_MAX "s",
                      bad[i].label, line, report);
        free(line);
    }
    ck_assert_int_eq(count(summary, "failed"), (json_int_t)n);
    json_decref(summary);
    json_decref(cases);
    json_decref(good);
    json_decref(objects);
    free(report);
}
END_TEST

/* Runs openapi.js on file; returns its summary line parsed, *status its exit status. */
static json_t *check_openapi(const char *file, int *status)
{
    char out[256], *cmd, *text;
    json_t *summary;
    int rc;

    snprintf(out, sizeof(out), "%s/openapi.out", tmpdir);
    cmd = xasprintf("cd '%s' && node openapi.js '%s' > '%s' 2>&1", schema_dir, file, out);
    rc = system(cmd);
    free(cmd);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    text = slurp(out);
    summary = json_loads(text, 0, NULL);
    ck_assert_msg(json_is_object(summary), "no summary from openapi.js (exit %d): %s", *status,
                  text);
    free(text);
    return summary;
}

/* docs/openapi.yaml is a valid OpenAPI 3.0 document by an outside validator; and the check
 * refuses the mistake it found when it came (a comma in an unquoted flow-mapping string,
 * which YAML reads as a second key), made again on the explanation's quota member. */
START_TEST(openapi_document_is_valid)
{
    char doc[512], broken[256], *text, *at;
    json_t *summary;
    FILE *f;
    int status;

    need_packages();
    snprintf(doc, sizeof(doc), "%s/../../docs/openapi.yaml", schema_dir);
    summary = check_openapi(doc, &status);
    ck_assert_msg(status == 0 && json_is_true(json_object_get(summary, "valid")), "%s",
                  json_string_value(json_object_get(summary, "error")));
    ck_assert_int_ge(json_integer_value(json_object_get(summary, "paths")), 29);
    json_decref(summary);

    text = slurp(doc);
    at = strstr(text, "description: 'Quota reasons, when quota is in the way.'}");
    ck_assert_ptr_nonnull(at);
    memcpy(at, "description:  Quota reasons, when quota is in the way. }",
           strlen("description:  Quota reasons, when quota is in the way. }"));
    snprintf(broken, sizeof(broken), "%s/openapi-broken.yaml", tmpdir);
    f = fopen(broken, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    free(text);
    summary = check_openapi(broken, &status);
    ck_assert_int_eq(status, 1);
    ck_assert(json_is_false(json_object_get(summary, "valid")));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(summary, "error")), "explain"));
    json_decref(summary);
}
END_TEST

/* The route table (api/router.c) and docs/openapi.yaml name the same operations, and each
 * takes the query parameters the document lists for it, no more and no fewer: a route
 * refuses what its list lacks (api_check_query), so a parameter documented but not listed
 * would be refused, and one listed but not documented would be unknown to clients. The
 * probes, which take any, are only held to exist. */
START_TEST(routes_take_the_documented_query_parameters)
{
    char doc[512];
    json_t *summary, *queries;
    size_t n = api_route_count(), matched = 0;
    int status;

    need_packages();
    snprintf(doc, sizeof(doc), "%s/../../docs/openapi.yaml", schema_dir);
    summary = check_openapi(doc, &status);
    ck_assert_int_eq(status, 0);
    queries = json_object_get(summary, "queries");
    ck_assert_msg(json_object_size(queries) >= 30, "%zu operations", json_object_size(queries));
    for (size_t i = 0; i < n; i++) {
        const char *method, *pattern, *known;
        char key[256], listed[512] = "";
        json_t *params, *name;
        size_t used = 0, j;

        api_route_at(i, &method, &pattern, &known);
        if (strcmp(pattern, "/") == 0)
            continue; /* the redirect to /ui/, not part of the API */
        snprintf(key, sizeof(key), "%s %s", method, pattern);
        params = json_object_get(queries, key);
        ck_assert_msg(json_is_array(params), "%s is routed but not in docs/openapi.yaml", key);
        matched++;
        if (!known)
            continue;
        json_array_foreach(params, j, name) used +=
            (size_t)snprintf(listed + used, sizeof(listed) - used, "%s%s", used ? ", " : "",
                             json_string_value(name));
        ck_assert_msg(strcmp(listed, known) == 0,
                      "%s: docs/openapi.yaml lists \"%s\", the route takes \"%s\"", key, listed,
                      known);
    }
    ck_assert_msg(matched == json_object_size(queries),
                  "docs/openapi.yaml has %zu operations, the route table %zu",
                  json_object_size(queries), matched);
    json_decref(summary);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schemas");
    TCase *tc = tcase_create("schemas");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_object_is_schema_valid);
    tcase_add_test(tc, wrong_objects_are_refused);
    tcase_add_test(tc, simulator_lws_are_schema_valid);
    tcase_add_test(tc, wrong_lws_are_refused);
    tcase_add_test(tc, openapi_document_is_valid);
    tcase_add_test(tc, routes_take_the_documented_query_parameters);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
