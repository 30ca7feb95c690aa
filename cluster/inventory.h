/* inventory.h -- one member cluster's GPU picture, built from the pages of one NodeList and
 * one PodList: per-node allocatable/used/borrowed GPUs, allocatable/requested CPU and memory,
 * pool and SKU, pending serving demand, and GPU products that match no SKU. The poller keeps one per cluster and copies it into
 * each published snapshot.
 * Not responsible for HTTP (poller.c) or publication (RCU, poller.c). */
#ifndef CLUSTER_INVENTORY_H
#define CLUSTER_INVENTORY_H

#include "base/sku.h"
#include "cluster/node_select.h"
#include "policy/snapshot.h"

#include <stdbool.h>
#include <stddef.h>

struct err;
struct cluster_config;
struct k8s_node;
struct k8s_pod;
struct k8s_deployment;
struct k8s_lws;

#define INVENTORY_UNKNOWN_MAX 8

/* A GPU product seen on nodes that no SKU claims (including MIG slices). */
struct inventory_unknown {
    char product[64]; /* "" means the nodes carry no nvidia.com/gpu.product label */
    bool mig;
    int nodes;
    int gpus; /* allocatable */
};

/* fedsched's own non-terminal pods of one job attempt (labels fedsched.io/job-uid and
 * fedsched.io/attempt), bound or not: whether a dispatched job's pods are in the data. */
struct inventory_job_pods {
    char uid[40];
    int attempt;
    int pods;
    int gpus; /* their GPU requests, summed */
};

/* The GPUs of uid's pods of that attempt in v (n entries, sorted by inventory_finish()),
 * 0 when it has none. */
int inventory_job_gpus(const struct inventory_job_pods *v, size_t n, const char *uid, int attempt);

struct inventory_stats {
    int nodes;             /* every node listed */
    int gpu_nodes;         /* nodes with GPUs (kept) */
    int not_ready;         /* GPU nodes whose Ready condition is not True */
    int cordoned;          /* GPU nodes with spec.unschedulable */
    int tainted;           /* GPU nodes with an untolerated NoSchedule/NoExecute taint */
    int plugin_down;       /* GPU nodes with capacity > 0 but allocatable 0 */
    int pods;              /* pods listed */
    int gpu_pods;          /* non-terminal pods requesting GPUs */
    int terminal_skipped;  /* Succeeded/Failed pods the server returned anyway */
    int pods_unknown_node; /* GPU pods bound to nodes not in the node list */
    int pending_serving_pods;
    int announcing_workloads; /* serving Deployments asking for replicas without pods */
    int bad_items;            /* objects skipped because a field could not be read */
    int unknown_overflow;     /* unknown products beyond INVENTORY_UNKNOWN_MAX */
};

/* Owned by one thread at a time (the poller). Reuse it across polls: inventory_reset()
 * keeps its memory. */
struct inventory {
    struct snapshot_node *nodes;
    size_t n_nodes;
    size_t cap_nodes;
    int pending_serving[SNAPSHOT_SKU_MAX]; /* by SKU index */
    int pending_unassigned; /* serving demand with no product selector, resolved by _finish */
    /* The largest pending serving pods (snapshot_serving_pool.pending); sku -1 until
     * _finish for a pod without a product selector. */
    struct snapshot_pending_pod pending_pods[SNAPSHOT_PENDING_MAX];
    struct pod_select pending_select[SNAPSHOT_PENDING_MAX]; /* each one's node constraints */
    size_t n_pending_pods;
    int announced_serving[SNAPSHOT_SKU_MAX]; /* by SKU index: inventory_add_announced() */
    int announced_unassigned;                /* the same without a product, as pending */
    struct inventory_unknown unknown[INVENTORY_UNKNOWN_MAX];
    size_t n_unknown;
    struct inventory_stats stats;
    char last_item_error[160];       /* the first bad item's error, for the cluster's status */
    struct inventory_job_pods *jobs; /* n_jobs, sorted by uid then attempt after _finish */
    size_t n_jobs;
    /* private */
    int64_t *mem_used_b;        /* per node (cap_nodes), requested memory in bytes: summed exactly,
                            then rounded up into nodes[].mem_used_mib */
    struct node_labels *labels; /* per node (cap_nodes): serving nodes' labels and taints */
    unsigned *index;            /* open-addressing table of node positions + 1, 0 = empty */
    size_t index_cap;
    size_t cap_jobs;
    void *json;      /* the k8s_json token array, reused across pages */
    bool json_owned; /* false when lent by inventory_use_parser() */
};

void inventory_init(struct inventory *inv);
void inventory_free(struct inventory *inv);       /* releases memory; init again to reuse */
void inventory_reset(struct inventory *inv);      /* forget nodes and pods, keep memory */
void inventory_reset_pods(struct inventory *inv); /* a pod list restarts (410 Expired) */

/* Parses pages with d (a struct k8s_json the caller owns and keeps alive) instead of an
 * array of its own, so that one thread polling many clusters keeps one token array, not
 * one per cluster. */
void inventory_use_parser(struct inventory *inv, void *d);

/* Adds the items of one NodeList page (the raw response body). cfg decides pools and
 * tolerations, skus the SKU of each product. Copies metadata.continue into cont ("" on the
 * last page). Fails with ERR_MALFORMED when the body is not a NodeList (bad JSON, a
 * Status object, no items); bad single items are skipped and counted instead. On failure
 * the nodes of the page may be partly added: restart the list with inventory_reset(). */
int inventory_add_nodes(struct inventory *inv, const char *body, size_t len,
                        const struct cluster_config *cfg, const struct sku_catalogue *skus,
                        char *cont, size_t cont_size, struct err *e);

/* Adds the pods of one PodList page; nodes must have been added first. Pods bound to a
 * node count as its usage: their GPU, CPU and memory requests (k8s_pod_read()) whether or
 * not they request GPUs, and fedsched's pods on serving nodes also as borrowed; unbound
 * Pending pods in serving namespaces are serving demand. Terminal pods are skipped even
 * when the server ignored the field selector. Fails like inventory_add_nodes(). */
int inventory_add_pods(struct inventory *inv, const char *body, size_t len,
                       const struct cluster_config *cfg, const struct sku_catalogue *skus,
                       char *cont, size_t cont_size, struct err *e);

/* The same for one node or pod already read (k8s_node_read(), k8s_pod_read()), as a
 * watch keeps them: nodes first, then pods. */
void inventory_add_node(struct inventory *inv, const struct k8s_node *n);
void inventory_add_pod(struct inventory *inv, const struct k8s_pod *p,
                       const struct cluster_config *cfg, const struct sku_catalogue *skus);

/* Announced serving demand (snapshot_agg.announced_serving): a serving Deployment, in one of
 * cfg's serving namespaces, that wants more replicas than have pods. want is the larger of
 * its spec.replicas and the desiredReplicas of an HPA targeting it (hpa_desired, -1 when
 * none): the GPUs are max(0, want - status.replicas) x GPUs per replica, on the SKU of its
 * template's product selector. Pods it already has are counted as pods (usage or
 * pending_serving), never twice. Call after the pods, before inventory_finish(). */
void inventory_add_announced(struct inventory *inv, const struct k8s_deployment *w, int hpa_desired,
                             const struct cluster_config *cfg, const struct sku_catalogue *skus);

/* The same for a LeaderWorkerSet, a replica being a group (l->group: its replicas are
 * groups, its GPUs per replica a whole group's, leader included). The group's GPUs are
 * counted on the SKU of the worker template's product selector, the leader's too unless
 * the leader template names another product: then the leader's GPUs are counted on that
 * product's SKU. hpa_desired is an HPA targeting the LeaderWorkerSet, -1 when none. */
void inventory_add_announced_lws(struct inventory *inv, const struct k8s_lws *l, int hpa_desired,
                                 const struct cluster_config *cfg,
                                 const struct sku_catalogue *skus);

/* Attributes serving demand without a product selector to the serving pool's largest SKU.
 * Call once after the last pod page. */
void inventory_finish(struct inventory *inv);

/* Copies the nodes into s->nodes[node_first ..] and sets cluster c's node range, and on
 * its serving aggregates the pending demand and reserve_gpus (only for SKUs that have
 * serving nodes), and the pending serving pods with the serving nodes each may not use
 * (snapshot_node.pending_barred). s must have room; the caller computes aggregates
 * afterwards. */
void inventory_copy(const struct inventory *inv, int reserve_gpus, struct snapshot *s, size_t c,
                    size_t node_first);

/* Node by name, or NULL. */
const struct snapshot_node *inventory_node(const struct inventory *inv, const char *name);

#endif
