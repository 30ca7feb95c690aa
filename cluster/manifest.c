/* manifest.c -- names, labels and manifests of the objects fedsched creates in member
 * clusters. */
#include "cluster/manifest.h"

#include "base/err.h"
#include "base/job.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/num.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void manifest_object_name(const char *uid, int attempt, char *out, size_t size)
{
    snprintf(out, size, "fj-%s-%d", uid, attempt);
}

bool manifest_object_owner(const json_t *obj, char *uid, size_t uid_size, int *attempt)
{
    const json_t *labels = json_object_get(json_object_get(obj, "metadata"), "labels");
    const char *u = json_string_value(json_object_get(labels, K8S_LABEL_JOB_UID));
    const char *a = json_string_value(json_object_get(labels, K8S_LABEL_ATTEMPT));
    const char *m = json_string_value(json_object_get(labels, K8S_LABEL_MANAGED_BY));
    int64_t n;

    if (!u || !a || !m || strcmp(m, K8S_MANAGED_BY) != 0 || num_parse_i64(a, 0, 1000000, &n))
        return false;
    snprintf(uid, uid_size, "%s", u);
    *attempt = (int)n;
    return true;
}

const char *manifest_object_origin(const json_t *obj)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "labels"), MANIFEST_LABEL_ORIGIN));
}

bool manifest_object_is(const json_t *obj, const char *uid, int attempt)
{
    char u[64];
    int a;

    return manifest_object_owner(obj, u, sizeof(u), &a) && strcmp(u, uid) == 0 && a == attempt;
}

/* ---- manifests --------------------------------------------------------------------------- */

static json_t *our_labels(const struct manifest_in *in)
{
    char attempt[16];
    json_t *l;

    snprintf(attempt, sizeof(attempt), "%d", in->attempt);
    l = json_pack("{s:s, s:s, s:s, s:s, s:s}", K8S_LABEL_MANAGED_BY, K8S_MANAGED_BY,
                  K8S_LABEL_JOB_UID, in->uid, K8S_LABEL_ATTEMPT, attempt, MANIFEST_LABEL_NAMESPACE,
                  in->ns, MANIFEST_LABEL_NAME, in->name);
    if (in->origin && *in->origin)
        json_object_set_new(l, MANIFEST_LABEL_ORIGIN, json_string(in->origin));
    return l;
}

/* The TrainingJob's own labels go on the pods too (teams select their pods by them); ours
 * win on a clash, though validation already keeps users out of the fedsched.io/ prefix. */
static json_t *pod_labels(const struct manifest_in *in)
{
    json_t *l = json_is_object(in->labels) ? json_copy((json_t *)in->labels) : json_object();
    json_t *ours = our_labels(in);

    json_object_update(l, ours);
    json_decref(ours);
    return l;
}

static json_t *env_list(const struct manifest_in *in, const json_t *code, int workers)
{
    json_t *env = json_array(), *it;
    size_t i;
    char n[16];

    json_array_foreach(json_object_get(code, "env"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *value = json_string_value(json_object_get(it, "value"));

        if (name)
            json_array_append_new(
                env, json_pack("{s:s, s:s}", "name", name, "value", value ? value : ""));
    }
    snprintf(n, sizeof(n), "%d", in->attempt);
    json_array_append_new(env,
                          json_pack("{s:s, s:s}", "name", "FEDSCHED_JOB_UID", "value", in->uid));
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", "FEDSCHED_ATTEMPT", "value", n));
    snprintf(n, sizeof(n), "%d", workers);
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", "FEDSCHED_WORKERS", "value", n));
    return env;
}

/* requests/limits of one container: GPUs (both, as the device plugin wants), and cpu and
 * memory requests when the spec gives them. */
static json_t *resources(const json_t *res, int gpus)
{
    json_t *limits = json_object(), *requests = json_object();
    const json_t *cpu = json_object_get(res, "cpu"), *mem = json_object_get(res, "memoryGb");
    char q[32];

    if (gpus > 0) {
        snprintf(q, sizeof(q), "%d", gpus);
        json_object_set_new(limits, K8S_GPU_RESOURCE, json_string(q));
        json_object_set_new(requests, K8S_GPU_RESOURCE, json_string(q));
    }
    if (json_is_number(cpu) && json_number_value(cpu) > 0) {
        snprintf(q, sizeof(q), "%lldm", (long long)(json_number_value(cpu) * 1000 + 0.5));
        json_object_set_new(requests, "cpu", json_string(q));
    }
    if (json_is_number(mem) && json_number_value(mem) > 0) {
        snprintf(q, sizeof(q), "%lldMi", (long long)(json_number_value(mem) * 1024 + 0.5));
        json_object_set_new(requests, "memory", json_string(q));
    }
    return json_pack("{s:o, s:o}", "limits", limits, "requests", requests);
}

/* A container of the user's image. run_user_command: a batch/v1 Job's trainer runs the
 * spec's command and args. Ray containers never do: KubeRay appends `ray start` to whatever
 * command a Ray container has, so a command there would run the script outside Ray on every
 * pod first; the RayJob's entrypoint (run once, on the cluster) is where it goes. */
static json_t *container(const struct manifest_in *in, const json_t *spec, const char *name,
                         int gpus, int workers, bool run_user_command)
{
    const json_t *code = json_object_get(spec, "code");
    json_t *c = json_object();
    const char *wd = json_string_value(json_object_get(code, "workingDir"));

    json_object_set_new(c, "name", json_string(name));
    json_object_set(c, "image", json_object_get(code, "image"));
    if (run_user_command && json_array_size(json_object_get(code, "command")))
        json_object_set_new(c, "command", json_deep_copy(json_object_get(code, "command")));
    if (run_user_command && json_array_size(json_object_get(code, "args")))
        json_object_set_new(c, "args", json_deep_copy(json_object_get(code, "args")));
    if (wd)
        json_object_set_new(c, "workingDir", json_string(wd));
    json_object_set_new(c, "env", env_list(in, code, workers));
    json_object_set_new(c, "resources",
                        resources(gpus > 0 ? json_object_get(spec, "resources") : NULL, gpus));
    return c;
}

/* The pod template of a worker (gpus > 0) or of a Ray head (gpus == 0). ray: the pods of a
 * RayCluster, whose containers run only Ray. */
static int pod_template(const struct manifest_in *in, const json_t *spec, int gpus, int workers,
                        bool ray, json_t **out, struct err *e)
{
    int k = sku_find(in->skus, in->sku);
    const struct sku *sku;
    json_t *ps = json_object(), *sel = json_object(), *md;
    const char *pc = in->borrowed ? in->priority_class_borrowed : in->priority_class;

    if (k < 0) {
        json_decref(ps);
        json_decref(sel);
        return err_set(e, ERR_INVALID, "spec.resources.instanceType", "unknown SKU \"%s\"",
                       in->sku);
    }
    sku = &in->skus->skus[k];
    json_object_set_new(ps, "restartPolicy", json_string("Never"));
    json_object_set_new(ps, "terminationGracePeriodSeconds",
                        json_integer(in->grace_s > 0 ? in->grace_s : 30));
    if (gpus > 0 && sku->n_products == 1) {
        json_object_set_new(sel, K8S_LABEL_GPU_PRODUCT, json_string(sku->products[0]));
    } else if (gpus > 0) {
        /* Several board variants share the SKU: any of them will do. */
        json_t *vals = json_array();

        for (size_t i = 0; i < sku->n_products; i++)
            json_array_append_new(vals, json_string(sku->products[i]));
        json_object_set_new(ps, "affinity",
                            json_pack("{s:{s:{s:[{s:[{s:s, s:s, s:o}]}]}}}", "nodeAffinity",
                                      "requiredDuringSchedulingIgnoredDuringExecution",
                                      "nodeSelectorTerms", "matchExpressions", "key",
                                      K8S_LABEL_GPU_PRODUCT, "operator", "In", "values", vals));
    }
    if (in->borrowed)
        for (size_t i = 0; i < in->cluster->serving.n_selector; i++)
            json_object_set_new(sel, in->cluster->serving.selector[i].key,
                                json_string(in->cluster->serving.selector[i].value));
    if (json_object_size(sel))
        json_object_set_new(ps, "nodeSelector", sel);
    else
        json_decref(sel);
    json_object_set_new(ps, "tolerations", cluster_tolerations_json(in->cluster));
    if (pc && *pc)
        json_object_set_new(ps, "priorityClassName", json_string(pc));
    json_object_set_new(
        ps, "containers",
        json_pack("[o]",
                  container(in, spec, gpus > 0 ? (ray ? "ray-worker" : "trainer") : "ray-head",
                            gpus, workers, !ray)));
    md = json_pack("{s:o}", "labels", pod_labels(in));
    if (in->annotations && json_object_size(in->annotations))
        json_object_set_new(md, "annotations", json_deep_copy(in->annotations));
    *out = json_pack("{s:o, s:o}", "metadata", md, "spec", ps);
    return 0;
}

/* Characters that never need quoting in a POSIX shell word (those of Python's
 * shlex.quote); anything else, non-ASCII bytes included, is single-quoted. */
static bool shell_safe(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_@%+=:,./-", *s)))
            return false;
    return true;
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sbuf_put(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

char *manifest_shell_join(const char *const *argv, size_t argc)
{
    struct sbuf b = {NULL, 0, 0};

    sbuf_put(&b, "", 0);
    for (size_t i = 0; i < argc; i++) {
        const char *s = argv[i] ? argv[i] : "";

        if (i)
            sbuf_put(&b, " ", 1);
        if (shell_safe(s)) {
            sbuf_put(&b, s, strlen(s));
            continue;
        }
        /* Inside single quotes nothing is special except the quote itself: each one closes
         * the quoted run, is written as \' and opens a new run, so ' becomes '\''. */
        sbuf_put(&b, "'", 1);
        for (const char *q; (q = strchr(s, '\'')) != NULL; s = q + 1) {
            sbuf_put(&b, s, (size_t)(q - s));
            sbuf_put(&b, "'\\''", 4);
        }
        sbuf_put(&b, s, strlen(s));
        sbuf_put(&b, "'", 1);
    }
    return b.p;
}

char *manifest_entrypoint(const json_t *code)
{
    const json_t *cmd = json_object_get(code, "command"), *args = json_object_get(code, "args");
    size_t n = 0, i;
    const char **argv = xcalloc(json_array_size(cmd) + json_array_size(args) + 1, sizeof(*argv));
    const json_t *it;
    char *out;

    json_array_foreach(cmd, i, it) argv[n++] = json_string_value(it);
    json_array_foreach(args, i, it) argv[n++] = json_string_value(it);
    out = manifest_shell_join(argv, n);
    free(argv);
    return out;
}

int manifest_build(const struct manifest_in *in, enum k8s_job_kind *kind, json_t **out,
                   struct err *e)
{
    const json_t *spec = in->spec;
    json_t *md = NULL, *obj = NULL, *tmpl = NULL, *head = NULL;
    int per = 0, workers = 0;
    char name[MANIFEST_NAME_MAX];
    bool ray = in->framework && strcmp(in->framework, "ray") == 0;
    int rc = -1;

    if (!json_is_object(spec)) {
        err_set(e, ERR_INVALID, "spec", "the stored spec is not a JSON object");
        goto out;
    }
    /* The API validated the shape; a job that still does not divide is refused here
     * rather than created with the wrong number of workers. */
    if (job_workers(in->gpu_count, in->gpus_per_worker, &per, &workers)) {
        err_set(e, ERR_INVALID, "spec.resources.gpusPerWorker",
                "gpuCount %d is not a multiple of gpusPerWorker %d", in->gpu_count,
                in->gpus_per_worker);
        goto out;
    }
    if (!json_is_string(json_object_get(json_object_get(spec, "code"), "image"))) {
        err_set(e, ERR_INVALID, "spec.code.image", "spec has no image");
        goto out;
    }
    if (pod_template(in, spec, per, workers, ray, &tmpl, e))
        goto out;
    manifest_object_name(in->uid, in->attempt, name, sizeof(name));
    md = json_pack("{s:s, s:s, s:o}", "name", name, "namespace", in->cluster->job_namespace,
                   "labels", our_labels(in));
    if (in->annotations && json_object_size(in->annotations))
        json_object_set_new(md, "annotations", json_deep_copy(in->annotations));
    if (!ray) {
        json_t *js =
            json_pack("{s:i, s:i, s:s, s:i, s:o}", "parallelism", workers, "completions", workers,
                      "completionMode", "Indexed", "backoffLimit", 0, "template", tmpl);

        tmpl = NULL;
        if (in->max_runtime_s > 0)
            json_object_set_new(js, "activeDeadlineSeconds", json_integer(in->max_runtime_s));
        /* A pod evicted or preempted by Kubernetes (serving took its GPUs back) fails the
         * Job with reason PodFailurePolicy, which the scheduler requeues instead of
         * failing: that is a reclaim, not the job's fault. */
        json_object_set_new(js, "podFailurePolicy",
                            json_pack("{s:[{s:s, s:[{s:s, s:s}]}]}", "rules", "action", "FailJob",
                                      "onPodConditions", "type", "DisruptionTarget", "status",
                                      "True"));
        obj = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "batch/v1", "kind", "Job", "metadata",
                        md, "spec", js);
        md = NULL;
        *kind = K8S_KIND_JOB;
    } else {
        char *ep = manifest_entrypoint(json_object_get(spec, "code"));
        json_t *rs, *group;

        if (pod_template(in, spec, 0, workers, true, &head, e)) {
            free(ep);
            goto out;
        }
        group = json_pack("{s:s, s:i, s:i, s:i, s:{}, s:o}", "groupName", "gpu-workers", "replicas",
                          workers, "minReplicas", workers, "maxReplicas", workers, "rayStartParams",
                          "template", tmpl);
        tmpl = NULL;
        rs = json_pack("{s:s, s:b, s:i, s:{s:{s:{}, s:o}, s:[o]}}", "entrypoint", ep,
                       "shutdownAfterJobFinishes", 1, "ttlSecondsAfterFinished", 600,
                       "rayClusterSpec", "headGroupSpec", "rayStartParams", "template", head,
                       "workerGroupSpecs", group);
        head = NULL;
        free(ep);
        if (in->max_runtime_s > 0)
            json_object_set_new(rs, "activeDeadlineSeconds", json_integer(in->max_runtime_s));
        obj = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", "ray.io/v1", "kind", "RayJob",
                        "metadata", md, "spec", rs);
        md = NULL;
        *kind = K8S_KIND_RAYJOB;
    }
    *out = obj;
    rc = 0;
out:
    json_decref(md);
    json_decref(tmpl);
    json_decref(head);
    return rc;
}
