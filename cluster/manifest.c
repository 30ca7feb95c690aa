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

/* ---- manifests --------------------------------------------------------------------------- */

/* What every builder needs besides the input: where the objects go and what they are
 * called. The Service has the Job's name, so "name" is also the pods' subdomain. */
struct ctx {
    const struct manifest_in *in;
    char ns[64];
    char name[MANIFEST_NAME_MAX];
    int workers, per;
};

static int ctx_init(const struct manifest_in *in, struct ctx *c, struct err *e)
{
    memset(c, 0, sizeof(*c));
    c->in = in;
    manifest_object_name(in->uid, in->attempt, c->name, sizeof(c->name));
    if (in->member_ns && *in->member_ns) {
        snprintf(c->ns, sizeof(c->ns), "%s", in->member_ns);
        return 0;
    }
    return cluster_member_namespace(in->cluster, in->ns, c->ns, sizeof(c->ns), e);
}

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

/* metadata {name, namespace, labels} of a companion object or of the Job itself. */
static json_t *object_meta(const struct ctx *c, const char *name)
{
    return json_pack("{s:s, s:s, s:o}", "name", name, "namespace", c->ns, "labels",
                     our_labels(c->in));
}

/* The TrainingJob's own labels and the spec's podLabels go on the pods too (teams select
 * their pods by them); ours win on a clash, though validation already keeps users out of
 * the fedsched.io/ prefix. */
static json_t *pod_labels(const struct manifest_in *in)
{
    json_t *l = json_is_object(in->labels) ? json_copy((json_t *)in->labels) : json_object();
    const json_t *extra = json_object_get(in->spec, "podLabels");
    json_t *ours = our_labels(in);

    if (json_is_object(extra))
        json_object_update(l, (json_t *)extra);
    json_object_update(l, ours);
    json_decref(ours);
    return l;
}

/* The spec's podAnnotations, then fedsched's own (in->annotations), which win. NULL when
 * there are none. */
static json_t *pod_annotations(const struct manifest_in *in)
{
    const json_t *extra = json_object_get(in->spec, "podAnnotations");
    json_t *a = json_is_object(extra) ? json_deep_copy(extra) : json_object();

    if (in->annotations && json_object_size(in->annotations))
        json_object_update(a, (json_t *)in->annotations);
    if (json_object_size(a))
        return a;
    json_decref(a);
    return NULL;
}

static void env_add(json_t *env, const char *name, const char *value)
{
    json_array_append_new(env, json_pack("{s:s, s:s}", "name", name, "value", value));
}

static void env_int(json_t *env, const char *name, int v)
{
    char n[16];

    snprintf(n, sizeof(n), "%d", v);
    env_add(env, name, n);
}

static void env_from(json_t *env, const char *name, json_t *value_from)
{
    json_array_append_new(env, json_pack("{s:s, s:o}", "name", name, "valueFrom", value_from));
}

/* Kubernetes expands $(VAR) in env values and reduces $$ to $; doubling every $ makes a
 * user's value arrive exactly as written. */
static char *literal_value(const char *v)
{
    size_t n = 0;
    char *out = xmalloc(2 * strlen(v) + 1);

    for (; *v; v++) {
        if (*v == '$')
            out[n++] = '$';
        out[n++] = *v;
    }
    out[n] = '\0';
    return out;
}

/* The spec's env: literal values, or references to Secrets and ConfigMaps by name. */
static void user_env(const json_t *code, json_t *env)
{
    const json_t *it;
    size_t i;

    json_array_foreach(json_object_get(code, "env"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *value = json_string_value(json_object_get(it, "value"));
        const json_t *from = json_object_get(it, "valueFrom");
        char *lit;

        if (!name)
            continue;
        if (json_is_object(from)) {
            env_from(env, name, json_deep_copy(from));
            continue;
        }
        lit = literal_value(value ? value : "");
        env_add(env, name, lit);
        free(lit);
    }
}

/* ---- rendezvous ---- */

#define INDEX_VAR "FEDSCHED_WORKER_INDEX"
#define INDEX_REF "$(" INDEX_VAR ")"

/* The port each launcher listens on by default (the Kubeflow Training Operator's defaults;
 * torch's for DeepSpeed; ssh for the MPI launchers). */
static int rendezvous_port(const char *fw)
{
    static const struct {
        const char *fw;
        int port;
    } ports[] = {{"pytorch", 23456}, {"deepspeed", 29500}, {"tensorflow", 2222}, {"jax", 6666},
                 {"xgboost", 9999},  {"mpi", 22},          {"horovod", 22}};

    for (size_t i = 0; fw && i < sizeof(ports) / sizeof(ports[0]); i++)
        if (strcmp(fw, ports[i].fw) == 0)
            return ports[i].port;
    return 23456;
}

static const char *framework_of(const struct manifest_in *in)
{
    return in->framework ? in->framework : "pytorch";
}

static bool is_fw(const struct ctx *c, const char *fw)
{
    return strcmp(framework_of(c->in), fw) == 0;
}

/* Worker i's stable name: <job>-<i> is its hostname (Indexed Job), <job> its subdomain. */
static void host_of(const struct ctx *c, int i, struct sbuf *b)
{
    char h[160];

    snprintf(h, sizeof(h), "%s-%d.%s.%s.svc", c->name, i, c->name, c->ns);
    sbuf_put(b, h, strlen(h));
}

/* Every worker's host from first on, each followed by suffix, separated by sep. */
static char *host_list(const struct ctx *c, int first, const char *suffix, const char *sep)
{
    struct sbuf b = {NULL, 0, 0};

    sbuf_put(&b, "", 0);
    for (int i = first; i < c->workers; i++) {
        if (i > first)
            sbuf_put(&b, sep, strlen(sep));
        host_of(c, i, &b);
        sbuf_put(&b, suffix, strlen(suffix));
    }
    return b.p;
}

/* torch.distributed's env:// variables and torchrun's PET_* (one pod = one node). */
static void torch_env(const struct ctx *c, json_t *env, const char *master, int port)
{
    env_add(env, "MASTER_ADDR", master);
    env_int(env, "MASTER_PORT", port);
    env_int(env, "WORLD_SIZE", c->workers);
    env_add(env, "RANK", INDEX_REF);
    env_int(env, "PET_NNODES", c->workers);
    env_int(env, "PET_NPROC_PER_NODE", c->per);
    env_add(env, "PET_NODE_RANK", INDEX_REF);
    env_add(env, "PET_MASTER_ADDR", master);
    env_int(env, "PET_MASTER_PORT", port);
}

/* TF_CONFIG for MultiWorkerMirroredStrategy: every worker's host:port, and this pod's index
 * filled in by Kubernetes from INDEX_VAR. */
static void tf_env(const struct ctx *c, json_t *env, int port)
{
    char suffix[16], *hosts, *cfg;

    snprintf(suffix, sizeof(suffix), ":%d\"", port);
    hosts = host_list(c, 0, suffix, ",\"");
    cfg = xasprintf("{\"cluster\":{\"worker\":[\"%s]},\"task\":{\"type\":\"worker\",\"index\":%s}}",
                    hosts, INDEX_REF);
    env_add(env, "TF_CONFIG", cfg);
    free(cfg);
    free(hosts);
}

/* jax.distributed.initialize()'s arguments, and the names Kubeflow's JAXJob uses. */
static void jax_env(const struct ctx *c, json_t *env, const char *master, int port)
{
    char *addr = xasprintf("%s:%d", master, port);

    env_add(env, "JAX_COORDINATOR_ADDRESS", addr);
    env_int(env, "JAX_NUM_PROCESSES", c->workers);
    env_add(env, "JAX_PROCESS_ID", INDEX_REF);
    env_add(env, "COORDINATOR_ADDRESS", master);
    env_int(env, "COORDINATOR_PORT", port);
    env_int(env, "NUM_PROCESSES", c->workers);
    env_add(env, "PROCESS_ID", INDEX_REF);
    free(addr);
}

/* Kubeflow's XGBoostJob variables and the Rabit tracker's DMLC_*: worker 0 runs the
 * tracker. */
static void xgboost_env(const struct ctx *c, json_t *env, const char *master, int port)
{
    char *others = host_list(c, 1, "", ",");

    env_add(env, "MASTER_ADDR", master);
    env_int(env, "MASTER_PORT", port);
    env_int(env, "WORLD_SIZE", c->workers);
    env_add(env, "RANK", INDEX_REF);
    env_add(env, "WORKER_ADDRS", others);
    env_int(env, "WORKER_PORT", port);
    env_add(env, "DMLC_TRACKER_URI", master);
    env_int(env, "DMLC_TRACKER_PORT", port);
    env_add(env, "DMLC_TASK_ID", INDEX_REF);
    env_int(env, "DMLC_NUM_WORKER", c->workers);
    env_add(env, "DMLC_ROLE", "worker");
    free(others);
}

/* An Open MPI hostfile ("host slots=n" lines; DeepSpeed reads the same format), so worker
 * 0, the launcher, can write it out with one printf. */
static void hostfile_env(const struct ctx *c, json_t *env)
{
    char suffix[32], *lines;

    snprintf(suffix, sizeof(suffix), " slots=%d", c->per);
    lines = host_list(c, 0, suffix, "\n");
    env_add(env, "FEDSCHED_HOSTFILE", lines);
    free(lines);
    env_add(env, "OMPI_MCA_orte_keep_fqdn_hostnames", "true");
}

/* What each framework's launcher reads; docs/trainingjob.md has the table. */
static void rendezvous_env(const struct ctx *c, json_t *env)
{
    int port = rendezvous_port(framework_of(c->in));
    struct sbuf m = {NULL, 0, 0};
    char suffix[32], *hosts;

    host_of(c, 0, &m);
    env_from(env, INDEX_VAR,
             json_pack("{s:{s:s}}", "fieldRef", "fieldPath",
                       "metadata.annotations['" MANIFEST_COMPLETION_INDEX "']"));
    snprintf(suffix, sizeof(suffix), ":%d", c->per);
    hosts = host_list(c, 0, suffix, ",");
    env_add(env, "FEDSCHED_HOSTS", hosts);
    free(hosts);
    if (is_fw(c, "pytorch") || is_fw(c, "deepspeed")) {
        torch_env(c, env, m.p, port);
    } else if (is_fw(c, "tensorflow")) {
        tf_env(c, env, port);
    } else if (is_fw(c, "jax")) {
        jax_env(c, env, m.p, port);
    } else if (is_fw(c, "xgboost")) {
        xgboost_env(c, env, m.p, port);
    } else {
        env_add(env, "MASTER_ADDR", m.p);
        env_int(env, "WORLD_SIZE", c->workers);
        env_add(env, "RANK", INDEX_REF);
    }
    if (is_fw(c, "mpi") || is_fw(c, "horovod") || is_fw(c, "deepspeed"))
        hostfile_env(c, env);
    free(m.p);
}

/* ---- pods ---- */

/* Where the spec's volumes are mounted and the env that tells the program where they are. */
static void data_env(const json_t *spec, json_t *env)
{
    static const struct {
        const char *section, *member, *var;
    } vars[] = {{"data", "uri", "FEDSCHED_DATA_URI"},
                {"output", "uri", "FEDSCHED_OUTPUT_URI"},
                {"data", "volume", "FEDSCHED_DATA_DIR"},
                {"output", "volume", "FEDSCHED_OUTPUT_DIR"},
                {"checkpoint", NULL, "FEDSCHED_CHECKPOINT_DIR"}};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const json_t *sec = json_object_get(spec, vars[i].section);
        const json_t *v = vars[i].member ? json_object_get(sec, vars[i].member) : sec;
        const char *s = json_is_string(v) ? json_string_value(v)
                                          : json_string_value(json_object_get(v, "mountPath"));

        if (s)
            env_add(env, vars[i].var, s);
    }
}

static json_t *env_list(const struct ctx *c, const json_t *spec, bool rendezvous)
{
    const struct manifest_in *in = c->in;
    json_t *env = json_array();
    char secret[MANIFEST_NAME_MAX + 8];

    user_env(json_object_get(spec, "code"), env);
    env_add(env, "FEDSCHED_JOB_UID", in->uid);
    env_int(env, "FEDSCHED_ATTEMPT", in->attempt);
    env_int(env, "FEDSCHED_WORKERS", c->workers);
    if (in->fedsched_url && *in->fedsched_url)
        env_add(env, "FEDSCHED_URL", in->fedsched_url);
    env_add(env, "FEDSCHED_JOB_NAMESPACE", in->ns);
    env_add(env, "FEDSCHED_JOB_NAME", in->name);
    snprintf(secret, sizeof(secret), "%s" MANIFEST_CKPT_SECRET_SUFFIX, c->name);
    env_from(env, "FEDSCHED_CHECKPOINT_TOKEN",
             json_pack("{s:{s:s, s:s}}", "secretKeyRef", "name", secret, "key",
                       MANIFEST_CKPT_SECRET_KEY));
    data_env(spec, env);
    if (rendezvous)
        rendezvous_env(c, env);
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

/* Adds one volume and its mount. */
static void add_volume(json_t *vols, json_t *mounts, const char *name, json_t *source,
                       const char *source_key, const char *path, bool read_only)
{
    json_t *v = json_pack("{s:s}", "name", name), *m;

    json_object_set_new(v, source_key, source);
    json_array_append_new(vols, v);
    m = json_pack("{s:s, s:s}", "name", name, "mountPath", path);
    if (read_only)
        json_object_set_new(m, "readOnly", json_true());
    json_array_append_new(mounts, m);
}

static void add_claim(json_t *vols, json_t *mounts, const char *name, const json_t *vol,
                      bool read_only)
{
    const char *claim = json_string_value(json_object_get(vol, "claimName"));
    const char *path = json_string_value(json_object_get(vol, "mountPath"));
    json_t *src;

    if (!claim || !path)
        return;
    src = json_pack("{s:s}", "claimName", claim);
    if (read_only)
        json_object_set_new(src, "readOnly", json_true());
    add_volume(vols, mounts, name, src, "persistentVolumeClaim", path, read_only);
}

/* /dev/shm (NCCL and data loaders need more than the runtime's 64 MiB) and the spec's data,
 * output and checkpoint claims. Data is read-only unless spec.data.volume.readOnly is false. */
static void volumes(const struct manifest_in *in, json_t *ps, json_t *ctr)
{
    const json_t *spec = in->spec, *data = json_object_get(json_object_get(spec, "data"), "volume");
    json_t *vols = json_array(), *mounts = json_array();
    char size[32];

    if (in->shm_mib > 0) {
        snprintf(size, sizeof(size), "%dMi", in->shm_mib);
        add_volume(vols, mounts, "dshm",
                   json_pack("{s:s, s:s}", "medium", "Memory", "sizeLimit", size), "emptyDir",
                   "/dev/shm", false);
    }
    add_claim(vols, mounts, "data", data, !json_is_false(json_object_get(data, "readOnly")));
    add_claim(vols, mounts, "output", json_object_get(json_object_get(spec, "output"), "volume"),
              false);
    add_claim(vols, mounts, "checkpoint", json_object_get(spec, "checkpoint"), false);
    if (json_array_size(vols)) {
        json_object_set_new(ps, "volumes", vols);
        json_object_set_new(ctr, "volumeMounts", mounts);
    } else {
        json_decref(vols);
        json_decref(mounts);
    }
}

/* A container of the user's image. run_user_command: a batch/v1 Job's trainer runs the
 * spec's command and args. Ray containers never do: KubeRay appends `ray start` to whatever
 * command a Ray container has, so a command there would run the script outside Ray on every
 * pod first; the RayJob's entrypoint (run once, on the cluster) is where it goes. */
static json_t *container(const struct ctx *cx, const json_t *spec, const char *name, int gpus,
                         bool run_user_command)
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
    json_object_set_new(c, "env", env_list(cx, spec, run_user_command));
    json_object_set_new(c, "resources",
                        resources(gpus > 0 ? json_object_get(spec, "resources") : NULL, gpus));
    return c;
}

/* serviceAccountName and imagePullSecrets of the spec's code. */
static void identity(const json_t *code, json_t *ps)
{
    const char *sa = json_string_value(json_object_get(code, "serviceAccountName"));
    const json_t *pulls = json_object_get(code, "imagePullSecrets"), *it;
    json_t *refs;
    size_t i;

    if (sa)
        json_object_set_new(ps, "serviceAccountName", json_string(sa));
    if (!json_array_size(pulls))
        return;
    refs = json_array();
    json_array_foreach(pulls, i, it)
    {
        json_array_append_new(refs, json_pack("{s:O}", "name", it));
    }
    json_object_set_new(ps, "imagePullSecrets", refs);
}

/* The node selection of a worker: the SKU's GPU product (nodeSelector for one product, node
 * affinity for several) and, when borrowed, the serving pool's selector. */
static void placement(const struct manifest_in *in, const struct sku *sku, int gpus, json_t *ps)
{
    json_t *sel = json_object();

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
}

/* The pod template of a worker (gpus > 0) or of a Ray head (gpus == 0). ray: the pods of a
 * RayCluster, whose containers run only Ray and which KubeRay connects itself. */
static int pod_template(const struct ctx *c, int gpus, bool ray, json_t **out, struct err *e)
{
    const struct manifest_in *in = c->in;
    const json_t *spec = in->spec;
    int k = sku_find(in->skus, in->sku);
    json_t *ps, *md, *ctr, *ann;
    const char *pc = in->borrowed ? in->priority_class_borrowed : in->priority_class;

    if (k < 0)
        return err_set(e, ERR_INVALID, "spec.resources.instanceType", "unknown SKU \"%s\"",
                       in->sku);
    ps = json_object();
    json_object_set_new(ps, "restartPolicy", json_string("Never"));
    json_object_set_new(ps, "terminationGracePeriodSeconds",
                        json_integer(in->grace_s > 0 ? in->grace_s : 30));
    placement(in, &in->skus->skus[k], gpus, ps);
    json_object_set_new(ps, "tolerations", cluster_tolerations_json(in->cluster));
    if (pc && *pc)
        json_object_set_new(ps, "priorityClassName", json_string(pc));
    if (!ray)
        json_object_set_new(ps, "subdomain", json_string(c->name));
    identity(json_object_get(spec, "code"), ps);
    ctr = container(c, spec, gpus > 0 ? (ray ? "ray-worker" : "trainer") : "ray-head", gpus, !ray);
    volumes(in, ps, ctr);
    json_object_set_new(ps, "containers", json_pack("[o]", ctr));
    md = json_pack("{s:o}", "labels", pod_labels(in));
    if ((ann = pod_annotations(in)))
        json_object_set_new(md, "annotations", ann);
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

/* The Job's spec around the worker template tmpl (stolen). */
static json_t *job_spec(const struct ctx *c, json_t *tmpl)
{
    const struct manifest_in *in = c->in;
    json_t *js =
        json_pack("{s:i, s:i, s:s, s:i, s:o}", "parallelism", c->workers, "completions", c->workers,
                  "completionMode", "Indexed", "backoffLimit", 0, "template", tmpl);

    if (in->max_runtime_s > 0)
        json_object_set_new(js, "activeDeadlineSeconds", json_integer(in->max_runtime_s));
    if (in->ttl_after_finished_s > 0)
        json_object_set_new(js, "ttlSecondsAfterFinished", json_integer(in->ttl_after_finished_s));
    /* A pod evicted or preempted by Kubernetes (serving took its GPUs back) fails the Job
     * with reason PodFailurePolicy, which the scheduler requeues instead of failing: that is
     * a reclaim, not the job's fault. */
    json_object_set_new(js, "podFailurePolicy",
                        json_pack("{s:[{s:s, s:[{s:s, s:s}]}]}", "rules", "action", "FailJob",
                                  "onPodConditions", "type", "DisruptionTarget", "status", "True"));
    return js;
}

/* The RayJob's spec: a head without GPUs and one worker group of fixed size around tmpl
 * (stolen). */
static int rayjob_spec(const struct ctx *c, json_t *tmpl, json_t **out, struct err *e)
{
    const struct manifest_in *in = c->in;
    json_t *head = NULL, *group, *rs;
    char *ep;

    if (pod_template(c, 0, true, &head, e)) {
        json_decref(tmpl);
        return -1;
    }
    ep = manifest_entrypoint(json_object_get(in->spec, "code"));
    group = json_pack("{s:s, s:i, s:i, s:i, s:{}, s:o}", "groupName", "gpu-workers", "replicas",
                      c->workers, "minReplicas", c->workers, "maxReplicas", c->workers,
                      "rayStartParams", "template", tmpl);
    rs = json_pack("{s:s, s:b, s:{s:{s:{}, s:o}, s:[o]}}", "entrypoint", ep,
                   "shutdownAfterJobFinishes", 1, "rayClusterSpec", "headGroupSpec",
                   "rayStartParams", "template", head, "workerGroupSpecs", group);
    free(ep);
    if (in->ttl_after_finished_s >= 0)
        json_object_set_new(
            rs, "ttlSecondsAfterFinished",
            json_integer(in->ttl_after_finished_s > 0 ? in->ttl_after_finished_s : 600));
    if (in->max_runtime_s > 0)
        json_object_set_new(rs, "activeDeadlineSeconds", json_integer(in->max_runtime_s));
    *out = rs;
    return 0;
}

int manifest_build(const struct manifest_in *in, enum k8s_job_kind *kind, json_t **out,
                   struct err *e)
{
    const json_t *spec = in->spec;
    json_t *md, *tmpl = NULL, *body = NULL;
    struct ctx c;
    bool ray = in->framework && strcmp(in->framework, "ray") == 0;

    if (!json_is_object(spec))
        return err_set(e, ERR_INVALID, "spec", "the stored spec is not a JSON object");
    if (ctx_init(in, &c, e))
        return -1;
    /* The API validated the shape; a job that still does not divide is refused here
     * rather than created with the wrong number of workers. */
    if (job_workers(in->gpu_count, in->gpus_per_worker, &c.per, &c.workers))
        return err_set(e, ERR_INVALID, "spec.resources.gpusPerWorker",
                       "gpuCount %d is not a multiple of gpusPerWorker %d", in->gpu_count,
                       in->gpus_per_worker);
    if (!json_is_string(json_object_get(json_object_get(spec, "code"), "image")))
        return err_set(e, ERR_INVALID, "spec.code.image", "spec has no image");
    if (pod_template(&c, c.per, ray, &tmpl, e))
        return -1;
    if (!ray)
        body = job_spec(&c, tmpl);
    else if (rayjob_spec(&c, tmpl, &body, e))
        return -1;
    md = object_meta(&c, c.name);
    if (in->annotations && json_object_size(in->annotations))
        json_object_set_new(md, "annotations", json_deep_copy(in->annotations));
    /* Kept until tracking has recorded how it ended: see MANIFEST_FINALIZER. */
    json_object_set_new(md, "finalizers", json_pack("[s]", MANIFEST_FINALIZER));
    *out = json_pack("{s:s, s:s, s:o, s:o}", "apiVersion", ray ? "ray.io/v1" : "batch/v1", "kind",
                     ray ? "RayJob" : "Job", "metadata", md, "spec", body);
    *kind = ray ? K8S_KIND_RAYJOB : K8S_KIND_JOB;
    return 0;
}

/* ---- companions ---------------------------------------------------------------------------- */

int manifest_service(const struct manifest_in *in, json_t **out, struct err *e)
{
    struct ctx c;
    char attempt[16];
    int port = rendezvous_port(framework_of(in));
    json_t *sel;

    if (in->framework && strcmp(in->framework, "ray") == 0) {
        *out = NULL;
        return 0;
    }
    if (ctx_init(in, &c, e))
        return -1;
    /* uid and attempt only: a user's podLabels cannot widen or narrow it, and an older
     * attempt's pods (same uid, other attempt) are not selected. */
    snprintf(attempt, sizeof(attempt), "%d", in->attempt);
    sel = json_pack("{s:s, s:s}", K8S_LABEL_JOB_UID, in->uid, K8S_LABEL_ATTEMPT, attempt);
    *out = json_pack("{s:s, s:s, s:o, s:{s:s, s:b, s:o, s:[{s:s, s:i, s:i, s:s}]}}", "apiVersion",
                     "v1", "kind", "Service", "metadata", object_meta(&c, c.name), "spec",
                     "clusterIP", "None", "publishNotReadyAddresses", 1, "selector", sel, "ports",
                     "name", port == 22 ? "ssh" : "rendezvous", "port", port, "targetPort", port,
                     "protocol", "TCP");
    return 0;
}

/* Standard base64 with padding, as Kubernetes expects in a Secret's data. */
static char *base64(const char *s)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);

    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)(unsigned char)s[i] << 16;

        if (i + 1 < n)
            v |= (unsigned)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

json_t *manifest_checkpoint_secret(const struct manifest_in *in, const char *token)
{
    struct ctx c;
    char name[MANIFEST_NAME_MAX + 8];
    char *b64;
    json_t *obj;

    if (ctx_init(in, &c, NULL))
        return NULL;
    snprintf(name, sizeof(name), "%s" MANIFEST_CKPT_SECRET_SUFFIX, c.name);
    b64 = base64(token ? token : "");
    obj =
        json_pack("{s:s, s:s, s:o, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret", "metadata",
                  object_meta(&c, name), "type", "Opaque", "data", MANIFEST_CKPT_SECRET_KEY, b64);
    free(b64);
    return obj;
}

json_t *manifest_namespace(const char *name, const char *origin)
{
    json_t *labels = json_pack("{s:s}", K8S_LABEL_MANAGED_BY, K8S_MANAGED_BY);

    if (origin && *origin)
        json_object_set_new(labels, MANIFEST_LABEL_ORIGIN, json_string(origin));
    return json_pack("{s:s, s:s, s:{s:s, s:o}}", "apiVersion", "v1", "kind", "Namespace",
                     "metadata", "name", name, "labels", labels);
}

void manifest_set_owner(json_t *obj, enum k8s_job_kind kind, const char *name, const char *uid)
{
    json_t *md = json_object_get(obj, "metadata");
    bool ray = kind == K8S_KIND_RAYJOB;

    if (!json_is_object(md))
        return;
    json_object_set_new(md, "ownerReferences",
                        json_pack("[{s:s, s:s, s:s, s:s}]", "apiVersion",
                                  ray ? "ray.io/v1" : "batch/v1", "kind", ray ? "RayJob" : "Job",
                                  "name", name, "uid", uid));
}
