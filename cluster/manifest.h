/* manifest.h -- the objects fedsched creates in member clusters: deterministic names from
 * job uid and attempt, the labels that identify job and attempt, the batch/v1 Job or
 * ray.io/v1 RayJob manifest built from a TrainingJob's spec and its placement (with the
 * rendezvous environment of its framework, docs/trainingjob.md), and its companions: the
 * headless Service, the checkpoint-token Secret and the member Namespace. Beside the Job
 * client (k8s_jobs.h) that creates them.
 * Not responsible for deciding where jobs go (policy/) or when to create and delete them
 * (scheduler/). */
#ifndef CLUSTER_MANIFEST_H
#define CLUSTER_MANIFEST_H

#include "cluster/k8s_jobs.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_config;
struct err;
struct sku_catalogue;

/* Label keys besides K8S_LABEL_MANAGED_BY / K8S_LABEL_JOB_UID / K8S_LABEL_ATTEMPT
 * (cluster/k8s.h): where the object came from, for people reading the member cluster. */
#define MANIFEST_LABEL_NAMESPACE "fedsched.io/namespace"
#define MANIFEST_LABEL_NAME      "fedsched.io/name"
/* The installation that created the object (scheduler.originId), so that several fedsched
 * installations can share a member cluster: each collects only its own garbage. */
#define MANIFEST_LABEL_ORIGIN "fedsched.io/origin"
/* Set ("true") when fedsched has recorded how the object ended and released it: tracking's
 * lists leave such objects out ("!fedsched.io/recorded"), so finished objects kept for
 * their TTL cost the frequent lists nothing. */
#define MANIFEST_LABEL_RECORDED "fedsched.io/recorded"
#define MANIFEST_NAME_MAX       64
/* The checkpoint Secret is the object name plus this suffix; its one key holds the token. */
#define MANIFEST_CKPT_SECRET_SUFFIX "-ckpt"
#define MANIFEST_CKPT_SECRET_KEY    "token"
/* The finalizer on every Job and RayJob fedsched creates: Kubernetes keeps the object
 * (marked with a deletionTimestamp) after any deletion, its TTL's included, until fedsched
 * has recorded how it ended and removes the finalizer (k8s_job_release()). Without it a
 * job finishing while fedsched is away longer than the TTL would be found missing and run
 * again. */
#define MANIFEST_FINALIZER "fedsched.io/result"
/* The annotation the Job controller sets on each pod of an Indexed Job. */
#define MANIFEST_COMPLETION_INDEX "batch.kubernetes.io/job-completion-index"

/* "fj-<uid>-<attempt>": the same job and attempt always get the same name, so a repeated
 * create finds the first one (AlreadyExists) instead of running the attempt twice. */
void manifest_object_name(const char *uid, int attempt, char *out, size_t size);

/* Reads the job uid and attempt from an object's labels. False when the object is not
 * fedsched's or the labels are malformed. */
bool manifest_object_owner(const json_t *obj, char *uid, size_t uid_size, int *attempt);

/* The object's origin label (MANIFEST_LABEL_ORIGIN), borrowed from obj; NULL when it has
 * none (created by a fedsched older than the label, or not by fedsched). */
const char *manifest_object_origin(const json_t *obj);

/* True when obj carries the labels of uid/attempt (an AlreadyExists answer is ours). */
bool manifest_object_is(const json_t *obj, const char *uid, int attempt);

/* Joins argv into one POSIX shell command line that a shell splits back into exactly argv:
 * each argument made only of [A-Za-z0-9_@%+=:,./-] as it is, any other (the empty string,
 * spaces, quotes, ;, $(), backticks, newlines, non-ASCII bytes) in single quotes with each '
 * written '\''. A NULL argument counts as "". Caller frees the result (never NULL). */
char *manifest_shell_join(const char *const *argv, size_t argc);

/* The RayJob entrypoint of a spec's code object: its command then its args, joined by
 * manifest_shell_join(). Ray runs the entrypoint through a shell, so an argument such as
 * "my run; rm -rf /tmp/x" reaches the program as one argument. Caller frees. */
char *manifest_entrypoint(const json_t *code);

/* Everything a manifest is built from; strings are borrowed. */
struct manifest_in {
    const char *uid;
    int attempt;
    const char *origin; /* this installation's id, the origin label; NULL or "": none */
    const char *ns;     /* the TrainingJob's namespace (a label, not where it runs) */
    const char *name;   /* the TrainingJob's name */
    const char *framework;
    const json_t *spec;   /* the canonical spec object: code.image, command, args, env,
                             workingDir, resources.cpu, resources.memoryGb */
    const json_t *labels; /* the TrainingJob's labels (may be NULL), copied onto the pods */
    const char *sku;      /* the SKU placed (may be an alternative) */
    int gpu_count;
    int gpus_per_worker;
    int64_t max_runtime_s; /* activeDeadlineSeconds when > 0 */
    bool borrowed;         /* runs on lent serving GPUs */
    const struct cluster_config *cluster;
    const struct sku_catalogue *skus;
    int grace_s;                         /* terminationGracePeriodSeconds */
    const char *priority_class;          /* "" or NULL: none */
    const char *priority_class_borrowed; /* for borrowed placements */
    const json_t *annotations;           /* object added to the object and its pods; may be NULL */
    const char *member_ns;    /* namespace the objects go into; NULL: cluster_member_namespace(
                                 cluster, ns) */
    const char *fedsched_url; /* the pods' FEDSCHED_URL; NULL or "": none */
    int shm_mib;              /* emptyDir (medium Memory) at /dev/shm of this size; 0: none */
    int ttl_after_finished_s; /* > 0: ttlSecondsAfterFinished of the Job and the RayJob;
                                 0: the Job none, the RayJob 600 (the behaviour before the
                                 field); < 0: neither */
};

/* Builds the object to create, in in->member_ns: a batch/v1 Job (parallelism = completions
 * = workers, Indexed, backoffLimit 0, restartPolicy Never; its containers run the spec's
 * command and args; subdomain = the headless Service of manifest_service(); the
 * rendezvous environment of the framework, FEDSCHED_* env, volumes, service account, image
 * pull secrets and pod labels/annotations of the spec, all in docs/trainingjob.md), or for framework "ray" a RayJob (a head without GPUs and one worker group of fixed
 * size; spec.entrypoint is manifest_entrypoint(), and neither the head's nor the workers'
 * containers carry a command or args, so KubeRay gives them only `ray start`). Pods select
 * the SKU's GPU product
 * (nodeSelector when the SKU has one product, node affinity otherwise), carry the
 * cluster's tolerations and, when borrowed, the serving pool's selector and the low
 * priority class, so Kubernetes itself may preempt them for serving pods. The object
 * carries metadata.finalizers [MANIFEST_FINALIZER]. Caller owns
 * *out. Fails with ERR_INVALID (unknown SKU, no spec object, a spec without an image, a
 * shape that does not divide into workers). */
int manifest_build(const struct manifest_in *in, enum k8s_job_kind *kind, json_t **out,
                   struct err *e);

/* The headless Service (clusterIP None, publishNotReadyAddresses true, so workers resolve
 * each other before they are Ready) named like the Job, in the same namespace, selecting
 * exactly the pods of this job and attempt (K8S_LABEL_JOB_UID and K8S_LABEL_ATTEMPT), with
 * the framework's rendezvous port. With the pods' subdomain it gives each worker the name
 * <job>-<index>.<job>.<namespace>.svc. *out = NULL for ray (KubeRay makes its own). Caller
 * owns *out. Fails with ERR_INVALID when the member namespace cannot be derived. */
int manifest_service(const struct manifest_in *in, json_t **out, struct err *e);

/* The v1 Secret (type Opaque) named manifest_object_name() + MANIFEST_CKPT_SECRET_SUFFIX in
 * in->member_ns (or the derived namespace), holding token under MANIFEST_CKPT_SECRET_KEY;
 * the pods read it as FEDSCHED_CHECKPOINT_TOKEN. NULL when the namespace cannot be derived
 * (manifest_build() fails for the same input). Caller owns the result. */
json_t *manifest_checkpoint_secret(const struct manifest_in *in, const char *token);

/* A v1 Namespace named name with our managed-by label and, when origin is non-empty, the
 * origin label. Caller owns the result (never NULL). */
json_t *manifest_namespace(const char *name, const char *origin);

/* Adds to obj (a Service or Secret) metadata.ownerReferences naming the Job (kind
 * K8S_KIND_JOB, batch/v1) or RayJob (ray.io/v1) called name with Kubernetes uid uid, so
 * Kubernetes' garbage collector deletes obj with it. Replaces earlier owner references. */
void manifest_set_owner(json_t *obj, enum k8s_job_kind kind, const char *name, const char *uid);

#endif
