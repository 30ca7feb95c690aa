/* test_manifest.c -- object names, labels and the Job/RayJob manifests the scheduler
 * creates in member clusters. */
#include "cluster/manifest.h"

#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define UID "0b6f3c1e-8f4a-4a51-9d2e-3c1f0e9a7b21"

static const char spec_json[] =
    "{\"code\":{\"args\":[\"--epochs\",\"3\"],\"command\":[\"python\",\"train.py\"],"
    "\"env\":[{\"name\":\"LR\",\"value\":\"0.1\"}],\"image\":\"trainer:1\","
    "\"workingDir\":\"/work\"},\"framework\":\"pytorch\",\"resources\":{\"cpu\":1.5,"
    "\"gpuCount\":16,\"gpusPerWorker\":8,\"instanceType\":\"a100-80gb\",\"memoryGb\":64},"
    "\"scheduling\":{\"maxRuntimeSeconds\":3600,\"preemptible\":true,\"priority\":5}}";

static struct cluster_config *cluster(void)
{
    struct cluster_config *c = calloc(1, sizeof(*c));

    cluster_config_init(c);
    snprintf(c->name, sizeof(c->name), "az1");
    snprintf(c->api_server, sizeof(c->api_server), "http://127.0.0.1:1");
    snprintf(c->job_namespace, sizeof(c->job_namespace), "training-jobs");
    c->serving.enabled = true;
    snprintf(c->serving.selector[0].key, sizeof(c->serving.selector[0].key), "fedsched.io/pool");
    snprintf(c->serving.selector[0].value, sizeof(c->serving.selector[0].value), "serving");
    c->serving.n_selector = 1;
    return c;
}

static json_t *spec, *labels;

static struct manifest_in input(const struct cluster_config *c, const char *sku, bool borrowed)
{
    struct manifest_in in;

    memset(&in, 0, sizeof(in));
    in.uid = UID;
    in.attempt = 2;
    in.ns = "maps-team";
    in.name = "deepeta-472";
    in.framework = "pytorch";
    /* Parsed once, as the scheduler's spec cache does; reachable until exit. */
    if (!spec)
        spec = json_loads(spec_json, 0, NULL);
    if (!labels)
        labels = json_loads("{\"pipeline\":\"deepeta\"}", 0, NULL);
    in.spec = spec;
    in.labels = labels;
    in.sku = sku;
    in.gpu_count = 16;
    in.gpus_per_worker = 8;
    in.max_runtime_s = 3600;
    in.borrowed = borrowed;
    in.cluster = c;
    in.skus = sku_defaults();
    in.grace_s = 45;
    in.priority_class = "";
    in.priority_class_borrowed = "fedsched-borrowed";
    in.origin = "fs-east";
    return in;
}

static const json_t *path(const json_t *j, const char *p)
{
    char buf[256], *save = NULL, *tok;

    snprintf(buf, sizeof(buf), "%s", p);
    for (tok = strtok_r(buf, ".", &save); tok && j; tok = strtok_r(NULL, ".", &save))
        j = json_is_array(j) ? json_array_get(j, (size_t)strtoul(tok, NULL, 10))
                             : json_object_get(j, tok);
    return j;
}

static const char *str(const json_t *j, const char *p)
{
    const char *s = json_string_value(path(j, p));

    return s ? s : "";
}

START_TEST(names_are_deterministic_and_short)
{
    char a[MANIFEST_NAME_MAX], b[MANIFEST_NAME_MAX];

    manifest_object_name(UID, 3, a, sizeof(a));
    manifest_object_name(UID, 3, b, sizeof(b));
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(a, "fj-" UID "-3");
    ck_assert_uint_le(strlen(a), 63);
    manifest_object_name(UID, 4, b, sizeof(b));
    ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(job_manifest_carries_placement_and_spec)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    enum k8s_job_kind kind = K8S_KIND_RAYJOB;
    json_t *obj = NULL;
    const json_t *pod, *ctr, *env;
    struct err e = {0};
    char uid[64];
    int attempt = -1;
    bool saw_lr = false, saw_uid = false;
    size_t i;
    const json_t *it;

    in.gpu_count = 8;
    in.gpus_per_worker = 4;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_int_eq(kind, K8S_KIND_JOB);
    ck_assert_str_eq(str(obj, "apiVersion"), "batch/v1");
    ck_assert_str_eq(str(obj, "kind"), "Job");
    ck_assert_str_eq(str(obj, "metadata.name"), "fj-" UID "-2");
    ck_assert_str_eq(str(obj, "metadata.namespace"), "training-jobs");
    ck_assert(manifest_object_owner(obj, uid, sizeof(uid), &attempt));
    ck_assert_str_eq(uid, UID);
    ck_assert_int_eq(attempt, 2);
    ck_assert(manifest_object_is(obj, UID, 2));
    ck_assert(!manifest_object_is(obj, UID, 1));
    ck_assert_int_eq(json_integer_value(path(obj, "spec.parallelism")), 2);
    ck_assert_int_eq(json_integer_value(path(obj, "spec.completions")), 2);
    ck_assert_int_eq(json_integer_value(path(obj, "spec.backoffLimit")), 0);
    ck_assert_int_eq(json_integer_value(path(obj, "spec.activeDeadlineSeconds")), 3600);
    ck_assert_str_eq(str(obj, "spec.podFailurePolicy.rules.0.onPodConditions.0.type"),
                     "DisruptionTarget");
    pod = path(obj, "spec.template");
    ck_assert_str_eq(str(pod, "metadata.labels.pipeline"), "deepeta");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(pod, "metadata.labels"), K8S_LABEL_JOB_UID)), UID);
    ck_assert_str_eq(str(pod, "spec.restartPolicy"), "Never");
    ck_assert_int_eq(json_integer_value(path(pod, "spec.terminationGracePeriodSeconds")), 45);
    /* One product: a plain nodeSelector; training capacity: no priority class. */
    ck_assert_str_eq(
        json_string_value(json_object_get(path(pod, "spec.nodeSelector"), K8S_LABEL_GPU_PRODUCT)),
        "NVIDIA-L4");
    ck_assert_ptr_null(json_object_get(path(pod, "spec.nodeSelector"), "fedsched.io/pool"));
    ck_assert_ptr_null(path(pod, "spec.priorityClassName"));
    ck_assert_str_eq(str(pod, "spec.tolerations.0.key"), "nvidia.com/gpu");
    ck_assert_str_eq(str(pod, "spec.tolerations.0.operator"), "Exists");
    ctr = path(pod, "spec.containers.0");
    ck_assert_str_eq(str(ctr, "image"), "trainer:1");
    ck_assert_str_eq(str(ctr, "command.1"), "train.py");
    ck_assert_str_eq(str(ctr, "args.0"), "--epochs");
    ck_assert_str_eq(str(ctr, "workingDir"), "/work");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(ctr, "resources.limits"), K8S_GPU_RESOURCE)), "4");
    ck_assert_str_eq(str(ctr, "resources.requests.cpu"), "1500m");
    ck_assert_str_eq(str(ctr, "resources.requests.memory"), "65536Mi");
    env = path(ctr, "env");
    json_array_foreach(env, i, it)
    {
        saw_lr |= strcmp(str(it, "name"), "LR") == 0 && strcmp(str(it, "value"), "0.1") == 0;
        saw_uid |=
            strcmp(str(it, "name"), "FEDSCHED_JOB_UID") == 0 && strcmp(str(it, "value"), UID) == 0;
    }
    ck_assert(saw_lr);
    ck_assert(saw_uid);
    json_decref(obj);
    free(c);
}
END_TEST

START_TEST(borrowed_pods_select_serving_nodes_at_low_priority)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "a100-80gb", true);
    enum k8s_job_kind kind;
    json_t *obj = NULL, *ann = json_pack("{s:s}", "team", "maps");
    const json_t *pod, *vals;
    struct err e = {0};

    in.annotations = ann;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    pod = path(obj, "spec.template.spec");
    ck_assert_str_eq(str(pod, "priorityClassName"), "fedsched-borrowed");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(pod, "nodeSelector"), "fedsched.io/pool")),
        "serving");
    /* Several board variants: node affinity lists them all. */
    vals = path(pod, "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
                     "nodeSelectorTerms.0.matchExpressions.0.values");
    ck_assert_uint_eq(json_array_size(vals),
                      sku_defaults()->skus[sku_find(sku_defaults(), "a100-80gb")].n_products);
    ck_assert_str_eq(str(obj, "metadata.annotations.team"), "maps");
    ck_assert_str_eq(str(obj, "spec.template.metadata.annotations.team"), "maps");
    /* Kept after any deletion until tracking has read how it ended. */
    ck_assert_uint_eq(json_array_size(path(obj, "metadata.finalizers")), 1);
    ck_assert_str_eq(str(obj, "metadata.finalizers.0"), MANIFEST_FINALIZER);
    json_decref(obj);
    json_decref(ann);
    free(c);
}
END_TEST

START_TEST(ray_jobs_become_rayjobs)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    enum k8s_job_kind kind = K8S_KIND_JOB;
    json_t *obj = NULL;
    const json_t *head, *group;
    struct err e = {0};

    in.framework = "ray";
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_int_eq(kind, K8S_KIND_RAYJOB);
    ck_assert_str_eq(str(obj, "metadata.finalizers.0"), MANIFEST_FINALIZER);
    ck_assert_str_eq(str(obj, "apiVersion"), "ray.io/v1");
    /* The head runs the entrypoint, once (KubeRay submits it to the cluster). */
    ck_assert_str_eq(str(obj, "spec.entrypoint"), "python train.py --epochs 3");
    ck_assert(json_is_true(path(obj, "spec.shutdownAfterJobFinishes")));
    head = path(obj, "spec.rayClusterSpec.headGroupSpec.template.spec.containers.0");
    ck_assert_ptr_null(json_object_get(path(head, "resources.limits"), K8S_GPU_RESOURCE));
    group = path(obj, "spec.rayClusterSpec.workerGroupSpecs.0");
    /* Head and workers run only Ray: with no command or args of ours, KubeRay gives them
     * `ray start` alone instead of `<user command> && ray start`. They keep the image,
     * working directory and environment. */
    for (int g = 0; g < 2; g++) {
        const json_t *ctr = g ? path(group, "template.spec.containers.0") : head;

        ck_assert_uint_eq(json_array_size(g ? path(group, "template.spec.containers")
                                            : path(obj, "spec.rayClusterSpec.headGroupSpec."
                                                        "template.spec.containers")),
                          1);
        ck_assert_ptr_null(json_object_get(ctr, "command"));
        ck_assert_ptr_null(json_object_get(ctr, "args"));
        ck_assert_str_eq(str(ctr, "image"), "trainer:1");
        ck_assert_str_eq(str(ctr, "workingDir"), "/work");
        ck_assert_str_eq(str(ctr, "env.0.name"), "LR");
    }
    ck_assert_str_eq(str(head, "name"), "ray-head");
    ck_assert_str_eq(str(group, "template.spec.containers.0.name"), "ray-worker");
    ck_assert_int_eq(json_integer_value(json_object_get(group, "replicas")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(group, "minReplicas")), 2);
    ck_assert_str_eq(
        json_string_value(json_object_get(
            path(group, "template.spec.containers.0.resources.limits"), K8S_GPU_RESOURCE)),
        "8");
    ck_assert(manifest_object_is(obj, UID, 2));
    json_decref(obj);
    free(c);
}
END_TEST

/* Arguments a shell would otherwise split, expand or run. */
static const char *const nasty[] = {
    "my run; rm -rf /tmp/x",
    "",
    "two  spaces",
    " lead and trail ",
    "it's",
    "'",
    "''",
    "say \"hi\"",
    "$(touch /tmp/fedsched-pwned)",
    "`id`",
    "$HOME ${PATH}",
    "a\nnew\nline",
    "tab\there",
    "back\\slash\\",
    "*.py ?[ab]",
    "a|b&c>d<e",
    "#not a comment",
    "~root",
    "!!",
    "{a,b}",
    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac",
    "--run-name=x=y",
    "-",
};
#define N_NASTY (sizeof(nasty) / sizeof(nasty[0]))

START_TEST(shell_join_quotes_each_argument)
{
    static const char *const plain[] = {"python", "-m", "pkg.train", "--lr=0.1", "a,b:c@d%e+f"};
    char *s = manifest_shell_join(plain, 5);

    /* Safe words stay as they are; the rest are single-quoted, ' as '\''. */
    ck_assert_str_eq(s, "python -m pkg.train --lr=0.1 a,b:c@d%e+f");
    free(s);
    s = manifest_shell_join((const char *const[]){"--run-name", "my run; rm -rf /tmp/x"}, 2);
    ck_assert_str_eq(s, "--run-name 'my run; rm -rf /tmp/x'");
    free(s);
    s = manifest_shell_join((const char *const[]){"it's", "", "$(id)", "caf\xc3\xa9"}, 4);
    ck_assert_str_eq(s, "'it'\\''s' '' '$(id)' 'caf\xc3\xa9'");
    free(s);
    s = manifest_shell_join(NULL, 0);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* What a shell makes of the entrypoint is exactly the spec's command and args: printf
 * prints each argument it gets on a line of its own. */
START_TEST(entrypoint_round_trips_through_sh)
{
    json_t *args = json_array(), *code;
    char *ep, want[4096] = "", got[4096];
    size_t w = 0, n = 0, r;
    FILE *f;
    char *argv[] = {"/bin/sh", "-c", NULL, NULL};
    int pipefd[2], status = 0;
    pid_t pid;

    for (size_t i = 0; i < N_NASTY; i++) {
        json_array_append_new(args, json_string(nasty[i]));
        w += (size_t)snprintf(want + w, sizeof(want) - w, "%s\n", nasty[i]);
    }
    ck_assert_uint_lt(w, sizeof(want));
    code = json_pack("{s:[s,s], s:o}", "command", "printf", "%s\n", "args", args);
    ep = manifest_entrypoint(code);
    argv[2] = ep;
    ck_assert_int_eq(pipe(pipefd), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipefd[1], 1);
        close(pipefd[0]);
        close(pipefd[1]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(pipefd[1]);
    f = fdopen(pipefd[0], "r");
    while ((r = fread(got + n, 1, sizeof(got) - 1 - n, f)) > 0)
        n += r;
    got[n] = '\0';
    fclose(f);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_msg(strcmp(got, want) == 0, "sh -c '%s' printed\n%s\nwanted\n%s", ep, got, want);
    ck_assert_uint_eq(strlen(got), w);
    free(ep);
    json_decref(code);
}
END_TEST

/* The RayJob built from a spec with such arguments carries the quoted entrypoint. */
START_TEST(rayjob_entrypoint_is_quoted)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    enum k8s_job_kind kind;
    json_t *obj = NULL,
           *sp = json_pack("{s:{s:s, s:[s,s], s:[s,s]}}", "code", "image", "ray:2", "command",
                           "python", "train.py", "args", "--run-name", "my run; rm -rf /tmp/x");
    struct err e = {0};

    in.framework = "ray";
    in.spec = sp;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_str_eq(str(obj, "spec.entrypoint"),
                     "python train.py --run-name 'my run; rm -rf /tmp/x'");
    json_decref(obj);
    json_decref(sp);
    free(c);
}
END_TEST

START_TEST(bad_inputs_name_the_field)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "no-such-gpu", false);
    enum k8s_job_kind kind;
    json_t *obj = NULL;
    struct err e = {0};

    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "spec.resources.instanceType");
    in = input(c, "l4", false);
    in.gpu_count = 12;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), -1);
    ck_assert_str_eq(e.field, "spec.resources.gpusPerWorker");
    in = input(c, "l4", false);
    {
        json_t *no_image = json_loads("{\"code\":{}}", 0, NULL);

        in.spec = no_image;
        ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), -1);
        ck_assert_str_eq(e.field, "spec.code.image");
        json_decref(no_image);
    }
    in.spec = NULL; /* the stored text did not parse */
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "spec");
    ck_assert_ptr_null(obj);
    free(c);
}
END_TEST

/* Every object and pod carries this installation's origin; with none, no origin label. */
START_TEST(objects_carry_their_origin)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    enum k8s_job_kind kind;
    json_t *obj = NULL;
    struct err e = {0};
    static const char *const at[] = {"metadata.labels", "spec.template.metadata.labels",
                                     "metadata.labels",
                                     "spec.rayClusterSpec.headGroupSpec.template.metadata.labels",
                                     "spec.rayClusterSpec.workerGroupSpecs.0.template.metadata."
                                     "labels"};

    for (int ray = 0; ray < 2; ray++) {
        in.framework = ray ? "ray" : "pytorch";
        ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
        for (size_t i = ray ? 2 : 0; i < (ray ? 5 : 2); i++)
            ck_assert_str_eq(
                json_string_value(json_object_get(path(obj, at[i]), MANIFEST_LABEL_ORIGIN)),
                "fs-east");
        ck_assert_str_eq(manifest_object_origin(obj), "fs-east");
        json_decref(obj);
    }
    in.origin = "";
    in.framework = "pytorch";
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_ptr_null(manifest_object_origin(obj));
    ck_assert_ptr_null(json_object_get(path(obj, at[1]), MANIFEST_LABEL_ORIGIN));
    json_decref(obj);
    free(c);
}
END_TEST

START_TEST(foreign_objects_are_not_ours)
{
    json_t *o = json_pack("{s:{s:{s:s, s:s, s:s}}}", "metadata", "labels", K8S_LABEL_MANAGED_BY,
                          "helm", K8S_LABEL_JOB_UID, UID, K8S_LABEL_ATTEMPT, "1");
    char uid[64];
    int attempt;

    ck_assert(!manifest_object_owner(o, uid, sizeof(uid), &attempt));
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"),
                        K8S_LABEL_MANAGED_BY, json_string(K8S_MANAGED_BY));
    ck_assert(manifest_object_owner(o, uid, sizeof(uid), &attempt));
    ck_assert_int_eq(attempt, 1);
    json_object_set_new(json_object_get(json_object_get(o, "metadata"), "labels"),
                        K8S_LABEL_ATTEMPT, json_string("x1"));
    ck_assert(!manifest_object_owner(o, uid, sizeof(uid), &attempt));
    json_decref(o);
}
END_TEST

/* ---- rendezvous, companions and the pod template (issue 13) ---- */

/* The value of env var name in container ctr, or of its valueFrom as compact JSON in
 * from (when given); NULL when absent. */
static const char *env_of(const json_t *ctr, const char *name, const json_t **from)
{
    const json_t *it;
    size_t i;

    json_array_foreach(json_object_get(ctr, "env"), i, it)
    {
        if (strcmp(str(it, "name"), name) != 0)
            continue;
        if (from)
            *from = json_object_get(it, "valueFrom");
        return json_string_value(json_object_get(it, "value"));
    }
    if (from)
        *from = NULL;
    return NULL;
}

/* Position of name in the env list, or -1: Kubernetes expands $(VAR) only from earlier
 * entries. */
static int env_pos(const json_t *ctr, const char *name)
{
    const json_t *it;
    size_t i;

    json_array_foreach(json_object_get(ctr, "env"), i,
                       it) if (strcmp(str(it, "name"), name) == 0) return (int)i;
    return -1;
}

/* True when every key of selector has the same value in labels (a Service's selection). */
static bool selects(const json_t *selector, const json_t *pod)
{
    const char *k;
    const json_t *v;

    if (!json_object_size(selector))
        return false;
    json_object_foreach((json_t *)selector, k, v)
    {
        const char *have = json_string_value(json_object_get(pod, k));

        if (!have || strcmp(have, json_string_value(v)) != 0)
            return false;
    }
    return true;
}

#define NAME4   "fj-" UID "-2"
#define HOST(i) NAME4 "-" #i "." NAME4 ".fedsched-maps-team.svc"

/* A 4-worker job (32 GPUs, 8 a worker) of framework fw in the default member namespace
 * (jobNamespace "fedsched-{ns}"). */
static json_t *build4(const char *fw, struct cluster_config *c, json_t **svc, const json_t **ctr)
{
    struct manifest_in in;
    enum k8s_job_kind kind;
    json_t *obj = NULL;
    struct err e = {0};

    cluster_config_init(c);
    snprintf(c->name, sizeof(c->name), "az1");
    in = input(c, "a100-80gb", false);
    in.framework = fw;
    in.gpu_count = 32;
    in.fedsched_url = "https://fedsched.example:8443";
    ck_assert_msg(manifest_build(&in, &kind, &obj, &e) == 0, "%s: %s", e.field, e.msg);
    ck_assert_int_eq(kind, K8S_KIND_JOB);
    ck_assert_str_eq(str(obj, "metadata.namespace"), "fedsched-maps-team");
    ck_assert_int_eq(json_integer_value(path(obj, "spec.parallelism")), 4);
    ck_assert_int_eq(manifest_service(&in, svc, &e), 0);
    ck_assert_ptr_nonnull(*svc);
    *ctr = path(obj, "spec.template.spec.containers.0");
    return obj;
}

/* What every framework's pods get: the index from the downward API, the Service as
 * subdomain, the fedsched variables, the token from the Secret; and a Service selecting
 * exactly this job's attempt. */
static void check_common(const json_t *obj, const json_t *svc, const json_t *ctr, int port)
{
    const json_t *from, *tmpl_labels = path(obj, "spec.template.metadata.labels");
    json_t *other;

    ck_assert_ptr_null(env_of(ctr, "FEDSCHED_WORKER_INDEX", &from));
    ck_assert_str_eq(str(from, "fieldRef.fieldPath"),
                     "metadata.annotations['batch.kubernetes.io/job-completion-index']");
    ck_assert_str_eq(str(obj, "spec.template.spec.subdomain"), NAME4);
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_URL", NULL), "https://fedsched.example:8443");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_JOB_NAMESPACE", NULL), "maps-team");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_JOB_NAME", NULL), "deepeta-472");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_HOSTS", NULL),
                     HOST(0) ":8," HOST(1) ":8," HOST(2) ":8," HOST(3) ":8");
    ck_assert_ptr_null(env_of(ctr, "FEDSCHED_CHECKPOINT_TOKEN", &from));
    ck_assert_str_eq(str(from, "secretKeyRef.name"), NAME4 "-ckpt");
    ck_assert_str_eq(str(from, "secretKeyRef.key"), MANIFEST_CKPT_SECRET_KEY);

    ck_assert_str_eq(str(svc, "kind"), "Service");
    ck_assert_str_eq(str(svc, "metadata.name"), NAME4);
    ck_assert_str_eq(str(svc, "metadata.namespace"), "fedsched-maps-team");
    ck_assert_str_eq(str(svc, "spec.clusterIP"), "None");
    ck_assert(json_is_true(path(svc, "spec.publishNotReadyAddresses")));
    ck_assert_int_eq(json_integer_value(path(svc, "spec.ports.0.port")), port);
    ck_assert(selects(path(svc, "spec.selector"), tmpl_labels));
    /* Another attempt of the same job, and another job, are not selected. */
    other = json_deep_copy(tmpl_labels);
    json_object_set_new(other, K8S_LABEL_ATTEMPT, json_string("1"));
    ck_assert(!selects(path(svc, "spec.selector"), other));
    json_object_set_new(other, K8S_LABEL_ATTEMPT, json_string("2"));
    json_object_set_new(other, K8S_LABEL_JOB_UID, json_string("another-uid"));
    ck_assert(!selects(path(svc, "spec.selector"), other));
    json_decref(other);
}

START_TEST(pytorch_workers_get_torch_rendezvous)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4("pytorch", &c, &svc, &ctr);
    check_common(obj, svc, ctr, 23456);
    ck_assert_str_eq(env_of(ctr, "MASTER_ADDR", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "MASTER_PORT", NULL), "23456");
    ck_assert_str_eq(env_of(ctr, "WORLD_SIZE", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "RANK", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "PET_NNODES", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "PET_NPROC_PER_NODE", NULL), "8");
    ck_assert_str_eq(env_of(ctr, "PET_NODE_RANK", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "PET_MASTER_ADDR", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "PET_MASTER_PORT", NULL), "23456");
    ck_assert_int_lt(env_pos(ctr, "FEDSCHED_WORKER_INDEX"), env_pos(ctr, "RANK"));
    ck_assert_ptr_null(env_of(ctr, "FEDSCHED_HOSTFILE", NULL));
    json_decref(obj);
    json_decref(svc);
}
END_TEST

START_TEST(deepspeed_workers_get_torch_rendezvous_and_a_hostfile)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4("deepspeed", &c, &svc, &ctr);
    check_common(obj, svc, ctr, 29500);
    ck_assert_str_eq(env_of(ctr, "MASTER_ADDR", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "MASTER_PORT", NULL), "29500");
    ck_assert_str_eq(env_of(ctr, "WORLD_SIZE", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "RANK", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(
        env_of(ctr, "FEDSCHED_HOSTFILE", NULL),
        HOST(0) " slots=8\n" HOST(1) " slots=8\n" HOST(2) " slots=8\n" HOST(3) " slots=8");
    json_decref(obj);
    json_decref(svc);
}
END_TEST

START_TEST(tensorflow_workers_get_tf_config)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4("tensorflow", &c, &svc, &ctr);
    check_common(obj, svc, ctr, 2222);
    ck_assert_str_eq(env_of(ctr, "TF_CONFIG", NULL),
                     "{\"cluster\":{\"worker\":[\"" HOST(0) ":2222\",\"" HOST(1) ":2222\",\"" HOST(
                         2) ":2222\",\"" HOST(3) ":2222\"]},\"task\":{\"type\":\"worker\","
                                                 "\"index\":$(FEDSCHED_WORKER_INDEX)}}");
    ck_assert_int_lt(env_pos(ctr, "FEDSCHED_WORKER_INDEX"), env_pos(ctr, "TF_CONFIG"));
    /* Once Kubernetes fills in the index it is JSON. */
    {
        char buf[2048];
        const char *v = env_of(ctr, "TF_CONFIG", NULL), *at = strstr(v, "$(FEDSCHED_WORKER_INDEX)");
        json_t *cfg;

        snprintf(buf, sizeof(buf), "%.*s3}}", (int)(at - v), v);
        cfg = json_loads(buf, 0, NULL);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_int_eq(json_array_size(path(cfg, "cluster.worker")), 4);
        ck_assert_int_eq(json_integer_value(path(cfg, "task.index")), 3);
        json_decref(cfg);
    }
    json_decref(obj);
    json_decref(svc);
}
END_TEST

START_TEST(jax_workers_get_the_coordinator)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4("jax", &c, &svc, &ctr);
    check_common(obj, svc, ctr, 6666);
    ck_assert_str_eq(env_of(ctr, "JAX_COORDINATOR_ADDRESS", NULL), HOST(0) ":6666");
    ck_assert_str_eq(env_of(ctr, "JAX_NUM_PROCESSES", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "JAX_PROCESS_ID", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "COORDINATOR_ADDRESS", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "COORDINATOR_PORT", NULL), "6666");
    ck_assert_str_eq(env_of(ctr, "NUM_PROCESSES", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "PROCESS_ID", NULL), "$(FEDSCHED_WORKER_INDEX)");
    json_decref(obj);
    json_decref(svc);
}
END_TEST

START_TEST(xgboost_workers_get_the_rabit_tracker)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4("xgboost", &c, &svc, &ctr);
    check_common(obj, svc, ctr, 9999);
    ck_assert_str_eq(env_of(ctr, "DMLC_TRACKER_URI", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "DMLC_TRACKER_PORT", NULL), "9999");
    ck_assert_str_eq(env_of(ctr, "DMLC_TASK_ID", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "DMLC_NUM_WORKER", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "MASTER_ADDR", NULL), HOST(0));
    ck_assert_str_eq(env_of(ctr, "WORLD_SIZE", NULL), "4");
    ck_assert_str_eq(env_of(ctr, "RANK", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "WORKER_ADDRS", NULL), HOST(1) "," HOST(2) "," HOST(3));
    json_decref(obj);
    json_decref(svc);
}
END_TEST

static void check_mpi(const char *fw)
{
    struct cluster_config c;
    json_t *svc, *obj;
    const json_t *ctr;

    obj = build4(fw, &c, &svc, &ctr);
    check_common(obj, svc, ctr, 22);
    ck_assert_str_eq(str(svc, "spec.ports.0.name"), "ssh");
    ck_assert_str_eq(
        env_of(ctr, "FEDSCHED_HOSTFILE", NULL),
        HOST(0) " slots=8\n" HOST(1) " slots=8\n" HOST(2) " slots=8\n" HOST(3) " slots=8");
    ck_assert_str_eq(env_of(ctr, "OMPI_MCA_orte_keep_fqdn_hostnames", NULL), "true");
    ck_assert_str_eq(env_of(ctr, "RANK", NULL), "$(FEDSCHED_WORKER_INDEX)");
    ck_assert_str_eq(env_of(ctr, "WORLD_SIZE", NULL), "4");
    json_decref(obj);
    json_decref(svc);
}

START_TEST(mpi_and_horovod_workers_get_the_hostfile)
{
    check_mpi("mpi");
    check_mpi("horovod");
}
END_TEST

START_TEST(ray_needs_no_service)
{
    struct cluster_config c;
    struct manifest_in in;
    json_t *svc = (json_t *)&svc, *obj = NULL;
    enum k8s_job_kind kind;
    struct err e = {0};
    const json_t *from;

    cluster_config_init(&c);
    in = input(&c, "a100-80gb", false);
    in.framework = "ray";
    in.member_ns = "ray-space";
    ck_assert_int_eq(manifest_service(&in, &svc, &e), 0);
    ck_assert_ptr_null(svc);
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_str_eq(str(obj, "metadata.namespace"), "ray-space");
    /* The Ray pods get fedsched's variables but no rendezvous and no subdomain. */
    from = path(obj, "spec.rayClusterSpec.workerGroupSpecs.0.template.spec");
    ck_assert_ptr_null(json_object_get(from, "subdomain"));
    ck_assert_ptr_null(env_of(path(from, "containers.0"), "RANK", NULL));
    ck_assert_str_eq(env_of(path(from, "containers.0"), "FEDSCHED_JOB_NAME", NULL), "deepeta-472");
    ck_assert_int_eq(json_integer_value(path(obj, "spec.ttlSecondsAfterFinished")), 600);
    json_decref(obj);
}
END_TEST

START_TEST(pods_carry_the_spec_template_fields)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    enum k8s_job_kind kind;
    json_t *obj = NULL, *sp, *ann;
    const json_t *ps, *ctr, *from, *md;
    struct err e = {0};

    sp = json_loads(
        "{\"code\":{\"image\":\"t:1\",\"env\":[{\"name\":\"NASTY\",\"value\":\"$(HOME) $$ "
        "'q' \\\"dq\\\" ; rm -rf / \\n ünï\"},{\"name\":\"TOKEN\",\"valueFrom\":{"
        "\"secretKeyRef\":{\"name\":\"hf\",\"key\":\"token\"}}},{\"name\":\"CFG\",\"valueFrom\":"
        "{\"configMapKeyRef\":{\"name\":\"cfg\",\"key\":\"a.yaml\"}}}],\"serviceAccountName\":"
        "\"trainer\",\"imagePullSecrets\":[\"regcred\"]},\"data\":{\"volume\":{\"claimName\":"
        "\"imagenet\",\"mountPath\":\"/data\",\"readOnly\":true},\"uri\":\"s3://b/in\"},"
        "\"output\":{\"volume\":{\"claimName\":\"models\",\"mountPath\":\"/out\"},\"uri\":"
        "\"gs://b/out\"},\"checkpoint\":{\"claimName\":\"ckpt\",\"mountPath\":\"/ckpt\"},"
        "\"podLabels\":{\"example.com/team\":\"maps\"},\"podAnnotations\":{\"example.com/"
        "note\":\"x\",\"sim.fedsched.io/outcome\":\"user-cannot-win\"},\"resources\":{}}",
        0, NULL);
    ck_assert_ptr_nonnull(sp);
    ann = json_pack("{s:s}", "sim.fedsched.io/outcome", "Succeeded");
    in.spec = sp;
    in.annotations = ann;
    in.gpu_count = 4;
    in.gpus_per_worker = 4;
    in.shm_mib = 8192;
    in.ttl_after_finished_s = 3600;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_int_eq(json_integer_value(path(obj, "spec.ttlSecondsAfterFinished")), 3600);
    ps = path(obj, "spec.template.spec");
    md = path(obj, "spec.template.metadata");
    ctr = path(ps, "containers.0");
    /* Values arrive literally: Kubernetes turns $$ back into $ and expands no $(VAR). */
    ck_assert_str_eq(env_of(ctr, "NASTY", NULL), "$$(HOME) $$$$ 'q' \"dq\" ; rm -rf / \n ünï");
    ck_assert_ptr_null(env_of(ctr, "TOKEN", &from));
    ck_assert_str_eq(str(from, "secretKeyRef.name"), "hf");
    ck_assert_ptr_null(env_of(ctr, "CFG", &from));
    ck_assert_str_eq(str(from, "configMapKeyRef.key"), "a.yaml");
    ck_assert_str_eq(str(ps, "serviceAccountName"), "trainer");
    ck_assert_str_eq(str(ps, "imagePullSecrets.0.name"), "regcred");
    ck_assert_str_eq(str(ps, "volumes.0.name"), "dshm");
    ck_assert_str_eq(str(ps, "volumes.0.emptyDir.medium"), "Memory");
    ck_assert_str_eq(str(ps, "volumes.0.emptyDir.sizeLimit"), "8192Mi");
    ck_assert_str_eq(str(ctr, "volumeMounts.0.mountPath"), "/dev/shm");
    ck_assert_str_eq(str(ps, "volumes.1.persistentVolumeClaim.claimName"), "imagenet");
    ck_assert(json_is_true(path(ps, "volumes.1.persistentVolumeClaim.readOnly")));
    ck_assert_str_eq(str(ctr, "volumeMounts.1.mountPath"), "/data");
    ck_assert(json_is_true(path(ctr, "volumeMounts.1.readOnly")));
    ck_assert_str_eq(str(ps, "volumes.2.persistentVolumeClaim.claimName"), "models");
    ck_assert_ptr_null(path(ctr, "volumeMounts.2.readOnly"));
    ck_assert_str_eq(str(ctr, "volumeMounts.3.mountPath"), "/ckpt");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_DATA_URI", NULL), "s3://b/in");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_OUTPUT_URI", NULL), "gs://b/out");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_DATA_DIR", NULL), "/data");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_OUTPUT_DIR", NULL), "/out");
    ck_assert_str_eq(env_of(ctr, "FEDSCHED_CHECKPOINT_DIR", NULL), "/ckpt");
    ck_assert_str_eq(str(md, "labels.pipeline"), "deepeta");
    ck_assert_str_eq(json_string_value(json_object_get(path(md, "labels"), "example.com/team")),
                     "maps");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(md, "annotations"), "example.com/note")), "x");
    /* fedsched's own annotation wins over a (smuggled) user one. */
    ck_assert_str_eq(
        json_string_value(json_object_get(path(md, "annotations"), "sim.fedsched.io/outcome")),
        "Succeeded");
    /* Pod-only: the Job object itself carries neither. */
    ck_assert_ptr_null(json_object_get(path(obj, "metadata.labels"), "example.com/team"));
    json_decref(obj);
    /* Off by default: no /dev/shm, no TTL, no URL, no volumes. */
    in.spec = spec;
    in.annotations = NULL;
    in.shm_mib = 0;
    in.ttl_after_finished_s = 0;
    ck_assert_int_eq(manifest_build(&in, &kind, &obj, &e), 0);
    ck_assert_ptr_null(path(obj, "spec.ttlSecondsAfterFinished"));
    ck_assert_ptr_null(path(obj, "spec.template.spec.volumes"));
    ck_assert_ptr_null(env_of(path(obj, "spec.template.spec.containers.0"), "FEDSCHED_URL", NULL));
    json_decref(obj);
    json_decref(sp);
    json_decref(ann);
    free(c);
}
END_TEST

START_TEST(companion_objects)
{
    struct cluster_config *c = cluster();
    struct manifest_in in = input(c, "l4", false);
    json_t *sec, *ns, *svc = NULL;
    struct err e = {0};

    in.member_ns = "team-a";
    sec = manifest_checkpoint_secret(&in, "tok.en:1");
    ck_assert_str_eq(str(sec, "apiVersion"), "v1");
    ck_assert_str_eq(str(sec, "kind"), "Secret");
    ck_assert_str_eq(str(sec, "type"), "Opaque");
    ck_assert_str_eq(str(sec, "metadata.name"), "fj-" UID "-2-ckpt");
    ck_assert_str_eq(str(sec, "metadata.namespace"), "team-a");
    ck_assert(manifest_object_is(sec, UID, 2));
    ck_assert_str_eq(str(sec, "data.token"), "dG9rLmVuOjE="); /* base64 of tok.en:1 */
    ck_assert_int_eq(manifest_service(&in, &svc, &e), 0);
    manifest_set_owner(svc, K8S_KIND_JOB, "fj-" UID "-2", "k8s-uid-1");
    ck_assert_str_eq(str(svc, "metadata.ownerReferences.0.apiVersion"), "batch/v1");
    ck_assert_str_eq(str(svc, "metadata.ownerReferences.0.kind"), "Job");
    ck_assert_str_eq(str(svc, "metadata.ownerReferences.0.uid"), "k8s-uid-1");
    manifest_set_owner(sec, K8S_KIND_RAYJOB, "fj-" UID "-2", "k8s-uid-2");
    ck_assert_str_eq(str(sec, "metadata.ownerReferences.0.apiVersion"), "ray.io/v1");
    ck_assert_str_eq(str(sec, "metadata.ownerReferences.0.kind"), "RayJob");
    ck_assert_str_eq(str(sec, "metadata.ownerReferences.0.name"), "fj-" UID "-2");
    ck_assert_int_eq(json_array_size(path(sec, "metadata.ownerReferences")), 1);
    ns = manifest_namespace("fedsched-maps", "fs-east");
    ck_assert_str_eq(str(ns, "kind"), "Namespace");
    ck_assert_str_eq(str(ns, "metadata.name"), "fedsched-maps");
    ck_assert_str_eq(
        json_string_value(json_object_get(path(ns, "metadata.labels"), K8S_LABEL_MANAGED_BY)),
        "fedsched");
    ck_assert_str_eq(manifest_object_origin(ns), "fs-east");
    json_decref(ns);
    json_decref(sec);
    json_decref(svc);
    /* No member namespace can be derived from a bad tenant namespace: no Secret. */
    in.member_ns = NULL;
    in.ns = "Not_A_Namespace";
    ck_assert_ptr_null(manifest_checkpoint_secret(&in, "t"));
    free(c);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("sched_dispatch");
    TCase *tc = tcase_create("manifests");

    tcase_add_test(tc, names_are_deterministic_and_short);
    tcase_add_test(tc, job_manifest_carries_placement_and_spec);
    tcase_add_test(tc, borrowed_pods_select_serving_nodes_at_low_priority);
    tcase_add_test(tc, ray_jobs_become_rayjobs);
    tcase_add_test(tc, shell_join_quotes_each_argument);
    tcase_add_test(tc, entrypoint_round_trips_through_sh);
    tcase_add_test(tc, rayjob_entrypoint_is_quoted);
    tcase_add_test(tc, bad_inputs_name_the_field);
    tcase_add_test(tc, objects_carry_their_origin);
    tcase_add_test(tc, foreign_objects_are_not_ours);
    tcase_add_test(tc, pytorch_workers_get_torch_rendezvous);
    tcase_add_test(tc, deepspeed_workers_get_torch_rendezvous_and_a_hostfile);
    tcase_add_test(tc, tensorflow_workers_get_tf_config);
    tcase_add_test(tc, jax_workers_get_the_coordinator);
    tcase_add_test(tc, xgboost_workers_get_the_rabit_tracker);
    tcase_add_test(tc, mpi_and_horovod_workers_get_the_hostfile);
    tcase_add_test(tc, ray_needs_no_service);
    tcase_add_test(tc, pods_carry_the_spec_template_fields);
    tcase_add_test(tc, companion_objects);
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
