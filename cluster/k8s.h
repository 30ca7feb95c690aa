/* k8s.h -- the Kubernetes objects fedsched reads, lifted out of API JSON: Nodes (GPU
 * capacity, SKU, pool, schedulability), Pods (effective GPU request, binding, owner), the
 * serving workloads that announce demand (Deployments, LeaderWorkerSets, HPAs) and
 * Status error objects. The wire format follows the Kubernetes API reference (fixtures in testdata/k8s/).
 * Not responsible for fetching (poller.c, k8s_jobs.c) or adding things up (inventory.c). */
#ifndef CLUSTER_K8S_H
#define CLUSTER_K8S_H

#include "base/err.h"
#include "base/sku.h"
#include "cluster/k8s_json.h"
#include "cluster/node_select.h"
#include "policy/snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cluster_config;

#define K8S_GPU_RESOURCE      "nvidia.com/gpu"
#define K8S_LABEL_GPU_PRODUCT "nvidia.com/gpu.product"
#define K8S_LABEL_GPU_MEMORY  "nvidia.com/gpu.memory"
#define K8S_LABEL_GPU_COUNT   "nvidia.com/gpu.count"
#define K8S_LABEL_MIG         "nvidia.com/mig.strategy"
/* Labels fedsched puts on every object it creates; the pod label is how borrowed GPUs
 * are told apart from serving pods on serving nodes, and how orphans are found. */
#define K8S_LABEL_MANAGED_BY "app.kubernetes.io/managed-by"
#define K8S_MANAGED_BY       "fedsched"
#define K8S_LABEL_JOB_UID    "fedsched.io/job-uid"
#define K8S_LABEL_ATTEMPT    "fedsched.io/attempt"

/* The most GPUs one quantity, one pod or one node's usage may count. Far above any real
 * object, it keeps sums over a hostile or broken list inside an int. */
#define K8S_GPUS_MAX 1000000
/* The same bounds for CPU (a billion cores, in millicores) and memory (8 PiB in bytes: the
 * most cluster/quantity.c holds, since it counts in thousandths). */
#define K8S_CPU_M_MAX INT64_C(1000000000000)
#define K8S_MEM_B_MAX (INT64_C(1) << 53)
#define K8S_MIB       (INT64_C(1) << 20)

/* The resources a pod's request is counted in, and their units. */
enum k8s_resource {
    K8S_RES_GPU = 0, /* nvidia.com/gpu, whole GPUs */
    K8S_RES_CPU,     /* cpu, millicores */
    K8S_RES_MEMORY,  /* memory, bytes */
};
#define K8S_RESOURCES 3

/* A pod's effective request, built container by container in spec order, as the
 * kube-scheduler counts it (k8s.io/component-helpers resource.PodRequests):
 *   max(sum of app containers + sum of restartable (sidecar) init containers,
 *       for each regular init container: it + the sidecars declared before it)
 *   + spec.overhead,
 * per resource. Docs: https://kubernetes.io/docs/concepts/workloads/pods/init-containers/
 * #resource-sharing-within-containers, https://kubernetes.io/docs/concepts/workloads/pods/
 * sidecar-containers/#resource-sharing-within-containers and https://kubernetes.io/docs/
 * concepts/scheduling-eviction/pod-overhead/. The connector (k8s_pod_read) and the simulator
 * (tools/kubesim) both count with it. Values given are in 0..k8s_resource_max(r); sums stop
 * at k8s_resource_max(r) + 1, so nothing wraps and "more than believed" stays visible.
 * Zero-initialise (= {0}) before the first container. */
struct k8s_requests {
    int64_t app[K8S_RESOURCES];      /* sum over spec.containers */
    int64_t sidecars[K8S_RESOURCES]; /* sum over the restartable init containers so far */
    int64_t init[K8S_RESOURCES];     /* max over init containers of it + sidecars before it */
};

/* The largest value of resource r one quantity, pod or node may hold. */
int64_t k8s_resource_max(enum k8s_resource r);

/* Adds one app container's requests (c, indexed by enum k8s_resource). */
void k8s_requests_add_app(struct k8s_requests *r, const int64_t c[K8S_RESOURCES]);

/* Adds the next init container's requests; sidecar: its restartPolicy is Always. */
void k8s_requests_add_init(struct k8s_requests *r, const int64_t c[K8S_RESOURCES], bool sidecar);

/* The pod's effective requests into out, with overhead (spec.overhead; NULL for none). */
void k8s_requests_total(const struct k8s_requests *r, const int64_t overhead[K8S_RESOURCES],
                        int64_t out[K8S_RESOURCES]);

/* The field selector that keeps terminal pods out of pod lists (already URL-encoded). */
#define K8S_POD_FIELD_SELECTOR "status.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed"

enum k8s_pod_phase {
    K8S_POD_PENDING = 0,
    K8S_POD_RUNNING,
    K8S_POD_SUCCEEDED,
    K8S_POD_FAILED,
    K8S_POD_UNKNOWN,
};

/* A node as the capacity model sees it. */
struct k8s_node {
    char name[SNAPSHOT_NODE_NAME_MAX];
    char product[64]; /* nvidia.com/gpu.product, "" when the label is absent */
    int memory_mib;   /* nvidia.com/gpu.memory, 0 when absent */
    int sku;          /* catalogue index, -1 when the product matches no SKU */
    bool mig;         /* nvidia.com/mig.strategy is set (single or mixed) */
    bool gpu;         /* has GPUs at all: allocatable or capacity > 0, or a product label */
    int allocatable;  /* status.allocatable["nvidia.com/gpu"] */
    int capacity;     /* status.capacity["nvidia.com/gpu"] */
    int64_t cpu_m;    /* status.allocatable.cpu in millicores, 0 when absent */
    int64_t mem_mib;  /* status.allocatable.memory in MiB (rounded down), 0 when absent */
    enum snapshot_pool pool;
    bool ready;         /* condition Ready is "True" */
    bool unschedulable; /* spec.unschedulable */
    bool tainted;       /* a NoSchedule/NoExecute taint our pods do not tolerate */
    bool schedulable;   /* ready && !unschedulable && !tainted */
    /* Serving nodes only (others: none): labels and taints, for the serving pods that wait
     * for a node (struct k8s_pod.select). */
    struct node_labels labels;
};

/* A pod as the capacity model sees it. */
struct k8s_pod {
    char ns[64];
    char name[SNAPSHOT_NODE_NAME_MAX];
    char node[SNAPSHOT_NODE_NAME_MAX]; /* spec.nodeName, "" when unbound */
    char product[64]; /* spec.nodeSelector["nvidia.com/gpu.product"], "" when none */
    int memory_mib;   /* spec.nodeSelector["nvidia.com/gpu.memory"], 0 when none */
    enum k8s_pod_phase phase;
    /* Effective requests (struct k8s_requests): each container's requests, a resource with
     * a limit but no request counting its limit, as the API server defaults it. */
    int gpus;
    int64_t cpu_m;      /* millicores */
    int64_t mem_b;      /* bytes */
    bool terminating;   /* metadata.deletionTimestamp is set: still holds its GPUs */
    bool ours;          /* carries fedsched's labels */
    char job_uid[40];   /* fedsched's job-uid label, "" when none (or too long) */
    int attempt;        /* its attempt label; -1 when none */
    bool unschedulable; /* condition PodScheduled False, reason Unschedulable */
    bool gated;         /* spec.schedulingGates not empty: not yet for the kube-scheduler */
    /* Unbound pods not ours that ask for GPUs (others: none, every node): the nodes the
     * pod's own constraints let it onto. */
    struct pod_select select;
};

/* Reads the Node object at token tok. cfg decides the pool (serving selector) and which
 * taints are tolerated; skus maps the product label. Fails with ERR_MALFORMED naming the
 * field ("status.allocatable.nvidia.com/gpu", "status.allocatable.memory") and the value
 * when the object or a quantity is bad (negative, not a quantity, beyond the bounds). */
int k8s_node_read(const struct k8s_json *d, int tok, const struct cluster_config *cfg,
                  const struct sku_catalogue *skus, struct k8s_node *out, struct err *e);

/* Reads the Pod object at token tok. Fails with ERR_MALFORMED naming the field
 * ("spec.initContainers[1].resources.limits.cpu") and the value of a bad quantity, or
 * "spec.containers[].resources" when the pod's total is beyond k8s_resource_max(). */
int k8s_pod_read(const struct k8s_json *d, int tok, struct k8s_pod *out, struct err *e);

/* A Deployment (apps/v1) as serving demand reads it: replicas asked for and replicas that
 * have pods, and each replica's GPUs and GPU product from the pod template. */
struct k8s_deployment {
    char ns[64];
    char name[SNAPSHOT_NODE_NAME_MAX];
    int spec_replicas;   /* spec.replicas; 1 when absent, as the API server defaults it */
    int status_replicas; /* status.replicas: pods created (Pending ones included) */
    int gpus_per_replica;
    char product[64]; /* the template's nvidia.com/gpu.product node selector, "" none */
    int memory_mib;   /* the template's nvidia.com/gpu.memory node selector, 0 none */
};

/* A LeaderWorkerSet (leaderworkerset.x-k8s.io/v1, https://lws.sigs.k8s.io): replicas are
 * groups of spec.leaderWorkerTemplate.size pods, one leader and size - 1 workers, scaled
 * (and autoscaled, through its scale subresource) a group at a time. */
struct k8s_lws {
    /* The set as serving demand reads a Deployment, a replica being one group:
     * spec_replicas = spec.replicas (1 when absent), status_replicas = status.replicas
     * (groups created, ready or not), gpus_per_replica = a whole group's GPUs, leader
     * included, product/memory_mib = the worker template's GPU node selectors. */
    struct k8s_deployment group;
    int ready_replicas;   /* status.readyReplicas: groups all of whose pods are ready */
    int size;             /* spec.leaderWorkerTemplate.size, 1 when absent: pods per group */
    int worker_gpus;      /* one worker pod's effective GPU request (workerTemplate) */
    int leader_gpus;      /* the leader's: leaderTemplate's, else the worker template's */
    bool leader_template; /* spec.leaderWorkerTemplate.leaderTemplate is given */
    /* The leader template's GPU node selectors; the worker's when there is no leader
     * template. Where they name another product than the worker's, the leader's GPUs are
     * demand on the leader's SKU (inventory_add_announced_lws). */
    char leader_product[64];
    int leader_memory_mib;
};

/* What an HPA's spec.scaleTargetRef names, as far as serving demand cares. */
enum k8s_scale_target {
    K8S_TARGET_OTHER = 0,       /* anything else: ignored */
    K8S_TARGET_DEPLOYMENT,      /* apps/v1 Deployment */
    K8S_TARGET_LEADERWORKERSET, /* leaderworkerset.x-k8s.io/v1 LeaderWorkerSet */
};

/* A HorizontalPodAutoscaler (autoscaling/v2): what it wants of its target. */
struct k8s_hpa {
    char ns[64];
    char name[SNAPSHOT_NODE_NAME_MAX];
    char target[SNAPSHOT_NODE_NAME_MAX]; /* spec.scaleTargetRef.name */
    enum k8s_scale_target target_kind;   /* spec.scaleTargetRef's apiVersion and kind */
    int desired;                         /* status.desiredReplicas */
    int current;                         /* status.currentReplicas (0 when omitted) */
};

/* Read the object at tok. Fail with ERR_MALFORMED naming the field ("spec.replicas",
 * "status.desiredReplicas", a template's "spec.containers[0].resources.limits.nvidia.com/gpu")
 * and the value. An HPA without status.desiredReplicas (not yet reconciled) is refused. */
int k8s_deployment_read(const struct k8s_json *d, int tok, struct k8s_deployment *out,
                        struct err *e);
int k8s_hpa_read(const struct k8s_json *d, int tok, struct k8s_hpa *out, struct err *e);

/* Reads a LeaderWorkerSet. GPUs per group = leader's + (size - 1) x a worker's, each pod's
 * being its template's effective request (k8s_pod_read's rule). Fails with ERR_MALFORMED
 * naming the field and value: "spec.replicas", "spec.leaderWorkerTemplate.size" (below 1),
 * "spec.leaderWorkerTemplate" or its "workerTemplate" (missing: both are required),
 * a bad quantity in either template (field "spec.leaderWorkerTemplate.workerTemplate.spec.
 * containers[0].resources.limits.nvidia.com/gpu", the message quoting the value), or a
 * group of more than K8S_GPUS_MAX GPUs. */
int k8s_lws_read(const struct k8s_json *d, int tok, struct k8s_lws *out, struct err *e);

/* What a failed API call said. */
struct k8s_status {
    int code;          /* HTTP status */
    char reason[64];   /* "AlreadyExists", "NotFound", "Expired", ...; derived from the
                          HTTP status when the body is not a Status object */
    char message[256]; /* the Status message, or a short excerpt of the body */
};

/* Reads an error response. Never fails: a body that is not a Status object still gives
 * the HTTP code and a reason derived from it. */
void k8s_status_read(const char *body, size_t len, int http_code, struct k8s_status *out);

/* Maps a status to an err code: AlreadyExists/Conflict -> ERR_CONFLICT, NotFound ->
 * ERR_NOT_FOUND, Unauthorized -> ERR_UNAUTHORIZED, Forbidden -> ERR_FORBIDDEN,
 * TooManyRequests -> ERR_RATE_LIMITED, Invalid/BadRequest -> ERR_INVALID, Expired/Gone ->
 * ERR_CONFLICT, 5xx -> ERR_UNAVAILABLE. */
enum err_code k8s_status_code(const struct k8s_status *s);

/* Fills e from s ("AlreadyExists: jobs.batch \"tj-1\" already exists", field = reason)
 * and returns -1. */
int k8s_status_err(const struct k8s_status *s, struct err *e);

#endif
