/* dump_objects.c -- prints, as one JSON array of {"label", "object"}, every kind of object
 * fedsched creates in a member cluster, for every framework, one and four workers,
 * borrowed and not, a spec with every optional field and a minimal one, and a SKU placed
 * by nodeSelector and one placed by node affinity. tests/schema/validate.js checks them
 * against the official schemas; tests/integration/test_schemas.c runs both.
 * Not responsible for judging the objects: it only builds them, through the same calls
 * the scheduler makes (trainingjob_parse() for the spec as it is stored, then the
 * cluster/manifest.h builders). */
#include "api/trainingjob.h"
#include "base/err.h"
#include "base/job.h"
#include "base/job_token.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/manifest.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UID_FMT "0b6f3c1e-8f4a-4a51-9d2e-%012d"
/* The Kubernetes uid of the created Job/RayJob, which the companions' ownerReferences name. */
#define K8S_UID "5f0c2a4e-1d7b-4c3a-9e8f-7a6b5c4d3e2f"

static const char *const frameworks[] = {"pytorch", "tensorflow", "jax", "xgboost",
                                         "horovod", "deepspeed",  "mpi", "ray"};

/* A member cluster with a serving pool and a second toleration, read by the same parser
 * as a cluster in the config file, so the manifest sees every cluster-side option. */
static const char cluster_json[] =
    "{\"name\":\"az1\",\"apiServer\":\"http://127.0.0.1:1\",\"jobNamespace\":\"fedsched-{ns}\","
    "\"servingPool\":{\"nodeSelector\":{\"fedsched.io/pool\":\"serving\"},"
    "\"namespaces\":[\"serving\"],\"lendPolicy\":\"idle\",\"idleMinutes\":30},"
    "\"tolerations\":[{\"key\":\"nvidia.com/gpu\",\"operator\":\"Exists\"},"
    "{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"ml\",\"effect\":\"NoSchedule\"}]}";

/* One TrainingJob shape of the matrix. */
struct variant {
    const char *framework;
    int workers;
    bool borrowed;
    bool full; /* every optional spec field set */
    const char *sku;
};

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "dump_objects: %s: %s%s%s\n", what, e->field, e->field[0] ? ": " : "", e->msg);
    exit(1);
}

/* The TrainingJob body a user would POST for v. */
static char *body_of(const struct variant *v)
{
    int gpus = 8 * v->workers;
    char *body = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&body, &size);

    fprintf(f, "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{");
    fprintf(f, "\"name\":\"%s-%dw\"", v->framework, v->workers);
    if (v->full)
        fprintf(f, ",\"labels\":{\"team\":\"maps\",\"example.com/pipeline\":\"deepeta\"}");
    fprintf(f,
            "},\"spec\":{\"framework\":\"%s\",\"resources\":{\"instanceType\":\"%s\","
            "\"gpuCount\":%d,\"gpusPerWorker\":8",
            v->framework, v->sku, gpus);
    if (v->full)
        fprintf(f, ",\"memoryGb\":240.5,\"cpu\":31.5,\"alternativeInstanceTypes\":[\"h100-80gb\","
                   "\"l40s\"]");
    fprintf(f, "},\"code\":{\"image\":\"registry.example.com/trainer:1.4\"");
    if (v->full)
        fprintf(f, ",\"command\":[\"python\",\"-m\",\"train\"],\"args\":[\"--run-name\","
                   "\"my run; rm -rf /tmp/x\",\"--lr=0.1\"],\"env\":[{\"name\":\"LR\","
                   "\"value\":\"0.1\"},{\"name\":\"EMPTY\"},{\"name\":\"WANDB_API_KEY\","
                   "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"wandb\",\"key\":\"api-key\"}}},"
                   "{\"name\":\"DATASET\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":"
                   "\"datasets\",\"key\":\"trips\"}}}],\"workingDir\":\"/work\","
                   "\"serviceAccountName\":\"trainer\",\"imagePullSecrets\":[\"registry-creds\"]");
    fprintf(f, "}");
    if (v->full)
        fprintf(f, ",\"data\":{\"paletteFeatureSets\":[\"eta_features\"],\"hiveTable\":"
                   "\"maps.trips\",\"volume\":{\"claimName\":\"trips\",\"mountPath\":\"/data\","
                   "\"readOnly\":true}},\"output\":{\"modelRegistry\":\"deepeta\","
                   "\"experimentId\":\"exp-42\",\"uri\":\"s3://models/deepeta\"},"
                   "\"checkpoint\":{\"claimName\":\"ckpt\",\"mountPath\":\"/checkpoints\"},"
                   "\"podLabels\":{\"example.com/team\":\"maps\"},\"podAnnotations\":"
                   "{\"example.com/cost-center\":\"4711\"},\"scheduling\":{\"priority\":5,"
                   "\"preemptible\":true,\"maxRuntimeSeconds\":86400,"
                   "\"checkpointIntervalSeconds\":1800,\"clusterAffinity\":[\"az1\",\"az2\"]}");
    else if (v->borrowed)
        fprintf(f, ",\"scheduling\":{\"preemptible\":true}");
    fprintf(f, "}}");
    fclose(f);
    return body;
}

static void emit(json_t *out, const struct variant *v, const char *what, json_t *obj)
{
    char label[256];

    snprintf(label, sizeof(label), "%s %dw %s %s %s: %s", v->framework, v->workers,
             v->borrowed ? "borrowed" : "training", v->full ? "full" : "minimal", v->sku, what);
    json_array_append_new(out, json_pack("{s:s, s:o}", "label", label, "object", obj));
}

/* What dispatch creates beside the Job/RayJob: the member namespace, the headless Service
 * (not for ray) and the checkpoint token's Secret, the last two owned by the Job/RayJob. */
static void dump_companions(json_t *out, const struct variant *v, const struct manifest_in *in,
                            enum k8s_job_kind kind)
{
    static const unsigned char key[JOB_TOKEN_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8};
    char token[JOB_TOKEN_MAX], owner[MANIFEST_NAME_MAX];
    json_t *svc = NULL, *secret;
    struct err e = {0};

    manifest_object_name(in->uid, in->attempt, owner, sizeof(owner));
    emit(out, v, "Namespace", manifest_namespace(in->member_ns, in->origin));
    if (manifest_service(in, &svc, &e))
        die(in->name, &e);
    if (svc) {
        manifest_set_owner(svc, kind, owner, K8S_UID);
        emit(out, v, "Service", svc);
    }
    job_token_make(key, in->uid, token, sizeof(token));
    secret = manifest_checkpoint_secret(in, token);
    if (!secret) {
        fprintf(stderr, "dump_objects: %s: no Secret\n", in->name);
        exit(1);
    }
    manifest_set_owner(secret, kind, owner, K8S_UID);
    emit(out, v, "Secret", secret);
}

/* The objects of one TrainingJob, built as scheduler/dispatch.c builds them. */
static void dump_variant(json_t *out, const struct variant *v, int n,
                         const struct cluster_config *cluster)
{
    static const char *annotations_json = "{\"example.com/owner\":\"ml-platform\"}";
    char *body = body_of(v), uid[64], member_ns[64];
    struct job *j = NULL;
    struct manifest_in in = {0};
    enum k8s_job_kind kind = K8S_KIND_JOB;
    json_t *spec, *labels, *annotations = json_loads(annotations_json, 0, NULL), *obj = NULL;
    struct err e = {0};

    if (trainingjob_parse(body, strlen(body), "maps-team", sku_defaults(), &j, &e))
        die(body, &e);
    snprintf(uid, sizeof(uid), UID_FMT, n);
    spec = json_loads(j->spec_json, 0, NULL);
    labels = json_loads(j->labels_json, 0, NULL);
    in.uid = uid;
    in.attempt = 2;
    in.origin = "fs-east";
    in.ns = j->ns;
    in.name = j->name;
    in.framework = j->framework;
    in.spec = spec;
    in.labels = labels;
    in.sku = j->sku;
    in.gpu_count = j->gpu_count;
    in.gpus_per_worker = j->gpus_per_worker;
    in.max_runtime_s = j->max_runtime_s;
    in.borrowed = v->borrowed;
    in.cluster = cluster;
    in.skus = sku_defaults();
    in.grace_s = 45;
    in.priority_class = v->full ? "fedsched-training" : "";
    in.priority_class_borrowed = "fedsched-borrowed";
    in.annotations = v->full ? annotations : NULL;
    in.fedsched_url = v->full ? "https://fedsched.example.com" : NULL;
    in.shm_mib = v->full ? 16384 : 0;
    in.ttl_after_finished_s = v->full ? 3600 : 0;
    if (cluster_member_namespace(cluster, j->ns, member_ns, sizeof(member_ns), &e))
        die(body, &e);
    in.member_ns = member_ns;
    if (manifest_build(&in, &kind, &obj, &e))
        die(body, &e);
    emit(out, v, kind == K8S_KIND_JOB ? "Job" : "RayJob", obj);
    dump_companions(out, v, &in, kind);
    json_decref(spec);
    json_decref(labels);
    json_decref(annotations);
    job_free(&j);
    free(body);
}

int main(void)
{
    static const char *const skus[] = {"l4", "a100-80gb"}; /* nodeSelector, node affinity */
    struct cluster_config *cluster = calloc(1, sizeof(*cluster));
    json_t *out = json_array();
    struct err e = {0};
    int n = 0;

    if (!cluster ||
        cluster_config_parse(cluster_json, strlen(cluster_json), sku_defaults(), cluster, &e))
        die("cluster", &e);
    for (size_t f = 0; f < sizeof(frameworks) / sizeof(frameworks[0]); f++)
        for (int workers = 1; workers <= 4; workers += 3)
            for (int borrowed = 0; borrowed <= 1; borrowed++)
                for (int full = 0; full <= 1; full++)
                    for (size_t s = 0; s < sizeof(skus) / sizeof(skus[0]); s++) {
                        struct variant v = {frameworks[f], workers, borrowed, full, skus[s]};

                        dump_variant(out, &v, n++, cluster);
                    }
    if (json_dumpf(out, stdout, JSON_COMPACT | JSON_SORT_KEYS) || fputc('\n', stdout) == EOF ||
        fflush(stdout))
        return 1;
    json_decref(out);
    free(cluster);
    return 0;
}
