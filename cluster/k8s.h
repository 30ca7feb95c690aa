/* k8s.h -- the Kubernetes objects fedsched reads, lifted out of API JSON: Nodes (GPU
 * capacity, SKU, pool, schedulability), Pods (effective GPU request, binding, owner) and
 * Status error objects. The wire format follows the Kubernetes API reference (fixtures in testdata/k8s/).
 * Not responsible for fetching (poller.c, k8s_jobs.c) or adding things up (inventory.c). */
#ifndef CLUSTER_K8S_H
#define CLUSTER_K8S_H

#include "base/err.h"
#include "base/sku.h"
#include "cluster/k8s_json.h"
#include "policy/snapshot.h"

#include <stdbool.h>
#include <stddef.h>

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
    enum snapshot_pool pool;
    bool ready;         /* condition Ready is "True" */
    bool unschedulable; /* spec.unschedulable */
    bool tainted;       /* a NoSchedule/NoExecute taint our pods do not tolerate */
    bool schedulable;   /* ready && !unschedulable && !tainted */
};

/* A pod as the capacity model sees it. */
struct k8s_pod {
    char ns[64];
    char name[SNAPSHOT_NODE_NAME_MAX];
    char node[SNAPSHOT_NODE_NAME_MAX]; /* spec.nodeName, "" when unbound */
    char product[64]; /* spec.nodeSelector["nvidia.com/gpu.product"], "" when none */
    int memory_mib;   /* spec.nodeSelector["nvidia.com/gpu.memory"], 0 when none */
    enum k8s_pod_phase phase;
    int gpus;           /* effective request: max(sum of app containers and sidecars, largest
                         init container) + overhead; requests, else limits */
    bool terminating;   /* metadata.deletionTimestamp is set: still holds its GPUs */
    bool ours;          /* carries fedsched's labels */
    bool unschedulable; /* condition PodScheduled False, reason Unschedulable */
};

/* Reads the Node object at token tok. cfg decides the pool (serving selector) and which
 * taints are tolerated; skus maps the product label. Fails with ERR_MALFORMED naming the
 * field ("status.allocatable.nvidia.com/gpu") when the object or a quantity is bad. */
int k8s_node_read(const struct k8s_json *d, int tok, const struct cluster_config *cfg,
                  const struct sku_catalogue *skus, struct k8s_node *out, struct err *e);

/* Reads the Pod object at token tok. Fails with ERR_MALFORMED naming the field. */
int k8s_pod_read(const struct k8s_json *d, int tok, struct k8s_pod *out, struct err *e);

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
