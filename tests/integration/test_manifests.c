/* test_manifests.c -- the manifests under deploy/ (fedsched on Kubernetes, the member-cluster
 * kit) are valid against the official schemas (kubernetes-models, unknown fields failing,
 * through tests/schema/manifests.js), the kit grants every verb cluster/prereq.c checks for,
 * the deployment is what the docs promise (2 replicas, probes, non-root, read-only root,
 * no capabilities), the config files shipped (ConfigMap, Debian package) are accepted by
 * fedsched itself, and the check refuses manifests with a misspelt field, a wrong type, a
 * YAML syntax error or a missing verb. Needs node and npm (packages from
 * tests/schema/package-lock.json, installed here when missing) and the test PostgreSQL
 * (fedsched migrate reads each config file). Not responsible for what a real API server
 * does with the objects (nothing here runs Kubernetes). */
#include "base/mem.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[128], src[1024];
static int npm_status = -1;

#define REPORT_MAX "3000"

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

static void spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void suite_setup(void)
{
    const char *s = getenv("FEDSCHED_SRC");
    char *cmd;

    snprintf(src, sizeof(src), "%s", s && *s ? s : ".");
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/fedsched-manifests.XXXXXX");
    if (!mkdtemp(tmpdir))
        abort();
    /* A node_modules from before yaml joined package.json is reinstalled too. */
    cmd = xasprintf("cd '%s/tests/schema' && { [ -d node_modules/kubernetes-models ] && "
                    "[ -d node_modules/yaml ] || npm ci --no-audit --no-fund > '%s/npm.log' "
                    "2>&1; }",
                    src, tmpdir);
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
    ck_assert_msg(npm_status == 0, "npm ci in %s/tests/schema failed: %s", src,
                  access(path, R_OK) == 0 ? slurp(path) : "(no log)");
}

/* Runs manifests.js with args (paths relative to the source tree or absolute); *report
 * gets its output (caller frees), *status its exit status; returns the summary line. */
static json_t *run_check(const char *args, char **report, int *status)
{
    char out[256], *cmd, *last;
    json_t *summary;
    int rc;

    snprintf(out, sizeof(out), "%s/check.out", tmpdir);
    cmd = xasprintf("cd '%s' && node tests/schema/manifests.js %s > '%s' 2>&1", src, args, out);
    rc = system(cmd);
    free(cmd);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    *report = slurp(out);
    while (**report && (*report)[strlen(*report) - 1] == '\n')
        (*report)[strlen(*report) - 1] = '\0';
    last = strrchr(*report, '\n');
    summary = json_loads(last ? last + 1 : *report, 0, NULL);
    ck_assert_msg(json_is_object(summary),
                  "no summary from manifests.js (exit %d):\n%." REPORT_MAX "s", *status, *report);
    return summary;
}

static json_int_t kind_count(const json_t *summary, const char *kind)
{
    return json_integer_value(json_object_get(json_object_get(summary, "kinds"), kind));
}

/* The object of this kind and name among manifests.js's --objects-out entries. */
static json_t *object(const json_t *entries, const char *kind, const char *name)
{
    size_t i;
    json_t *e;

    json_array_foreach(entries, i, e)
    {
        json_t *o = json_object_get(e, "object");

        if (strcmp(json_string_value(json_object_get(o, "kind")), kind) == 0 &&
            strcmp(json_string_value(json_object_get(json_object_get(o, "metadata"), "name")),
                   name) == 0)
            return o;
    }
    ck_abort_msg("no %s/%s under deploy/", kind, name);
    return NULL;
}

/* The value at a slash path ("spec/template/spec/containers/0"); the test fails when a
 * step is missing. */
static json_t *at(json_t *j, const char *path)
{
    const char *p = path;

    while (j && *p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char step[128];

        snprintf(step, sizeof(step), "%.*s", (int)n, p);
        j = json_is_array(j) ? json_array_get(j, strtoul(step, NULL, 10))
                             : json_object_get(j, step);
        p += n + (slash ? 1 : 0);
    }
    ck_assert_msg(j != NULL, "no %s", path);
    return j;
}

static const char *str_at(json_t *j, const char *path)
{
    const char *s = json_string_value(at(j, path));

    ck_assert_msg(s != NULL, "%s is not a string", path);
    return s;
}

#define ALL_MANIFESTS "deploy/kubernetes deploy/member-cluster deploy/member-cluster/jobs"

START_TEST(every_manifest_is_schema_valid)
{
    char *report, *args;
    json_t *summary;
    int status;

    need_packages();
    args = xasprintf("--kit deploy/member-cluster %s", ALL_MANIFESTS);
    summary = run_check(args, &report, &status);
    ck_assert_msg(json_integer_value(json_object_get(summary, "failed")) == 0 && status == 0,
                  "manifests under deploy/ fail (exit %d):\n%." REPORT_MAX "s", status,
                  strstr(report, "FAIL ") ? strstr(report, "FAIL ") : report);
    /* Every manifest is there: a file lost or a document dropped would pass vacuously. */
    ck_assert_int_eq(kind_count(summary, "Deployment"), 1);
    ck_assert_int_eq(kind_count(summary, "Service"), 1);
    ck_assert_int_eq(kind_count(summary, "PodDisruptionBudget"), 1);
    ck_assert_int_eq(kind_count(summary, "ConfigMap"), 1);
    ck_assert_int_eq(kind_count(summary, "Namespace"), 3);
    ck_assert_int_eq(kind_count(summary, "ServiceAccount"), 2);
    ck_assert_int_eq(kind_count(summary, "Secret"), 1);
    ck_assert_int_eq(kind_count(summary, "ClusterRole"), 2);
    ck_assert_int_eq(kind_count(summary, "ClusterRoleBinding"), 2);
    ck_assert_int_eq(kind_count(summary, "Role"), 1);
    ck_assert_int_eq(kind_count(summary, "RoleBinding"), 1);
    ck_assert_int_eq(kind_count(summary, "PriorityClass"), 2);
    /* 18 documents and the kit with each of its two jobs/ variants. */
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "checked")), 20);
    ck_assert_msg(strstr(report, "ok kit deploy/member-cluster + "
                                 "deploy/member-cluster/jobs/fixed-namespace.yaml") &&
                      strstr(report, "ok kit deploy/member-cluster + "
                                     "deploy/member-cluster/jobs/per-tenant.yaml"),
                  "the kit was not checked:\n%." REPORT_MAX "s", report);
    printf("manifests: %lld checked, all valid\n",
           (long long)json_integer_value(json_object_get(summary, "checked")));
    json_decref(summary);
    free(report);
    free(args);
}
END_TEST

/* Runs fedsched migrate --config path against the test PostgreSQL: 0 when fedsched took
 * the file. */
static int fedsched_takes_config(const char *path, char **out)
{
    const char *bin = getenv("FEDSCHED_BIN"), *dsn = getenv("FEDSCHED_TEST_DSN");
    char log[256], *cmd;
    int rc;

    ck_assert_msg(bin && dsn, "FEDSCHED_BIN and FEDSCHED_TEST_DSN are set by tests/run-tests.sh");
    snprintf(log, sizeof(log), "%s/migrate.out", tmpdir);
    cmd = xasprintf("FEDSCHED_DATABASE_DSN='%s' '%s' migrate --config '%s' > '%s' 2>&1", dsn, bin,
                    path, log);
    rc = system(cmd);
    free(cmd);
    *out = slurp(log);
    return rc;
}

START_TEST(the_manifests_hold_what_docs_install_md_says)
{
    char *report, *args, path[256], *out;
    json_t *summary, *entries, *dep, *pod, *c, *cfg, *deb, *pc;
    json_error_t je;
    int status;

    need_packages();
    snprintf(path, sizeof(path), "%s/objects.json", tmpdir);
    args = xasprintf("--objects-out '%s' %s", path, ALL_MANIFESTS);
    summary = run_check(args, &report, &status);
    ck_assert_int_eq(status, 0);
    entries = json_load_file(path, 0, &je);
    ck_assert_msg(json_is_array(entries), "no objects from manifests.js: %s", je.text);

    dep = object(entries, "Deployment", "fedsched");
    ck_assert_int_eq(json_integer_value(at(dep, "spec/replicas")), 2);
    pod = at(dep, "spec/template/spec");
    c = at(pod, "containers/0");
    ck_assert_str_eq(str_at(c, "livenessProbe/httpGet/path"), "/healthz");
    ck_assert_str_eq(str_at(c, "readinessProbe/httpGet/path"), "/readyz");
    ck_assert(json_is_true(at(pod, "securityContext/runAsNonRoot")));
    ck_assert(json_is_true(at(c, "securityContext/readOnlyRootFilesystem")));
    ck_assert(json_is_false(at(c, "securityContext/allowPrivilegeEscalation")));
    ck_assert_str_eq(str_at(c, "securityContext/capabilities/drop/0"), "ALL");
    ck_assert_str_eq(str_at(c, "env/0/name"), "FEDSCHED_DATABASE_DSN");
    ck_assert_str_eq(str_at(c, "env/0/valueFrom/secretKeyRef/name"), "fedsched-database");
    ck_assert(json_is_string(at(c, "resources/requests/cpu")));
    ck_assert(json_is_string(at(c, "resources/limits/memory")));
    ck_assert_int_eq(json_integer_value(at(object(entries, "PodDisruptionBudget", "fedsched"),
                                           "spec/minAvailable")),
                     1);

    /* The ConfigMap's config file and the Debian package's: fedsched takes both, and the
     * kit has the PriorityClasses they name, the borrowed one never preempting. */
    cfg = json_loads(str_at(object(entries, "ConfigMap", "fedsched-config"), "data/config.json"), 0,
                     &je);
    ck_assert_msg(cfg != NULL, "the ConfigMap's config.json is not JSON: %s", je.text);
    snprintf(path, sizeof(path), "%s/configmap-config.json", tmpdir);
    ck_assert_int_eq(json_dump_file(cfg, path, 0), 0);
    ck_assert_msg(fedsched_takes_config(path, &out) == 0, "fedsched refuses %s: %s", path, out);
    free(out);
    snprintf(path, sizeof(path), "%s/deploy/debian/config.json", src);
    ck_assert_msg(fedsched_takes_config(path, &out) == 0, "fedsched refuses %s: %s", path, out);
    free(out);
    deb = json_load_file(path, 0, &je);
    ck_assert_msg(deb != NULL, "%s: %s", path, je.text);
    ck_assert_str_eq(str_at(deb, "scheduler/priorityClass"),
                     str_at(cfg, "scheduler/priorityClass"));
    ck_assert_str_eq(str_at(deb, "scheduler/priorityClassBorrowed"),
                     str_at(cfg, "scheduler/priorityClassBorrowed"));
    object(entries, "PriorityClass", str_at(cfg, "scheduler/priorityClass"));
    pc = object(entries, "PriorityClass", str_at(cfg, "scheduler/priorityClassBorrowed"));
    ck_assert_str_eq(str_at(pc, "preemptionPolicy"), "Never");
    ck_assert_str_eq(str_at(object(entries, "Secret", "fedsched-token"), "type"),
                     "kubernetes.io/service-account-token");

    json_decref(deb);
    json_decref(cfg);
    json_decref(entries);
    json_decref(summary);
    free(report);
    free(args);
}
END_TEST

/* A copy of the source tree's file with the first `from` replaced by `to`, written to
 * tmpdir/name; the test fails when `from` is not in the file (so a case never tests an
 * unchanged manifest). */
static void altered(const char *file, const char *from, const char *to, const char *name)
{
    char path[1200], *text, *hit, *copy;

    snprintf(path, sizeof(path), "%s/%s", src, file);
    text = slurp(path);
    hit = strstr(text, from);
    ck_assert_msg(hit != NULL, "no \"%s\" in %s", from, file);
    copy = xasprintf("%.*s%s%s", (int)(hit - text), text, to, hit + strlen(from));
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    spit(path, copy);
    free(copy);
    free(text);
}

START_TEST(wrong_manifests_are_refused)
{
    static const struct {
        const char *file, *from, *to, *name, *expect;
    } cases[] = {
        {"deploy/kubernetes/30-deployment.yaml",
         "readinessProbe:", "readinesProbe:", "bad/misspelt-probe.yaml",
         "Deployment/fedsched: /spec/template/spec/containers/0/readinesProbe unknown field"},
        {"deploy/kubernetes/30-deployment.yaml", "runAsNonRoot: true\n        runAsUser",
         "runAsNonroot: true\n        runAsUser", "bad/misspelt-pod-field.yaml",
         "Deployment/fedsched: /spec/template/spec/securityContext/runAsNonroot unknown field"},
        {"deploy/kubernetes/30-deployment.yaml", "replicas: 2", "replicas: \"2\"",
         "bad/replicas-string.yaml", "Deployment/fedsched: /spec/replicas type"},
        {"deploy/member-cluster/30-priorityclasses.yaml", "preemptionPolicy: Never",
         "preemptPolicy: Never", "bad/misspelt-priorityclass.yaml",
         "PriorityClass/fedsched-borrowed: /preemptPolicy unknown field"},
        {"deploy/member-cluster/20-clusterrole.yaml", "verbs: [\"get\", \"list\", \"watch\"]",
         "verb: [\"get\", \"list\", \"watch\"]", "bad/misspelt-rule.yaml",
         "ClusterRole/fedsched-read: /rules/0/verb unknown field"},
        {"deploy/kubernetes/50-poddisruptionbudget.yaml", "  minAvailable: 1",
         "  minAvailable: 1\n   maxUnavailable: 1", "bad/syntax.yaml",
         "bad/syntax.yaml#0: / YAML Nested mappings are not allowed in compact mappings at line"},
    };
    size_t n = sizeof(cases) / sizeof(cases[0]);
    char *report, *args, *cmd, *untouched;
    json_t *summary;
    int status;

    need_packages();
    cmd = xasprintf("mkdir -p '%s/bad' '%s/kit/jobs' && cp '%s'/deploy/member-cluster/*.yaml "
                    "'%s/kit/'",
                    tmpdir, tmpdir, src, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    for (size_t i = 0; i < n; i++)
        altered(cases[i].file, cases[i].from, cases[i].to, cases[i].name);
    /* The kit, its fixed job namespace without patch on Jobs and RayJobs (releasing the
     * finalizer); and, beside it, an untouched manifest that must pass. */
    altered("deploy/member-cluster/jobs/fixed-namespace.yaml",
            "verbs: [\"create\", \"get\", \"list\", \"delete\", \"patch\"]",
            "verbs: [\"create\", \"get\", \"list\", \"delete\"]", "kit/jobs/fixed-namespace.yaml");
    cmd = xasprintf("cp '%s/deploy/kubernetes/40-service.yaml' '%s/bad/'", src, tmpdir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);

    args = xasprintf("--kit '%s/kit' '%s/bad'", tmpdir, tmpdir);
    summary = run_check(args, &report, &status);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(strstr(report, cases[i].expect) != NULL,
                      "%s: no \"%s\" in:\n%." REPORT_MAX "s", cases[i].name, cases[i].expect,
                      report);
    ck_assert_msg(strstr(report, "fixed-namespace.yaml: forbidden (job namespace fedsched-jobs): "
                                 "patch jobs.batch") != NULL,
                  "a kit without patch on jobs passed:\n%." REPORT_MAX "s", report);
    untouched = xasprintf("ok %s/bad/40-service.yaml#0 Service/fedsched\n", tmpdir);
    ck_assert_msg(strstr(report, untouched) != NULL,
                  "the untouched Service was refused:\n%." REPORT_MAX "s", report);
    /* Each wrong file fails once, and so does the kit. */
    ck_assert_int_eq(json_integer_value(json_object_get(summary, "failed")), (json_int_t)n + 1);
    ck_assert_int_eq(status, 1);
    free(untouched);
    json_decref(summary);
    free(report);
    free(args);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("manifests");
    TCase *tc = tcase_create("manifests");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_manifest_is_schema_valid);
    tcase_add_test(tc, the_manifests_hold_what_docs_install_md_says);
    tcase_add_test(tc, wrong_manifests_are_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
