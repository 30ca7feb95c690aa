/* snapshot.h -- the capacity snapshot: every member cluster's GPUs per node and per
 * pool x SKU at one instant, as the policy reads it.
 * Built and published by cluster/ (the connector, with RCU) and by whatif/ (traces); read by policy/.
 * Not responsible for polling, RCU publication or reading tzdata (the connector does those).
 *
 * Ownership and threads: a snapshot is one struct snapshot plus three arrays (clusters,
 * nodes, aggregates) that the snapshot owns; snapshot_new() allocates them all and
 * snapshot_free() releases them. Every string is a fixed-size array inside its struct, so
 * there is nothing else to free. The writer fills a snapshot, calls
 * snapshot_compute_aggregates(), then publishes it; after publication it is immutable and
 * any number of threads may read it.
 *
 * Compatibility: fields are only ever ADDED to these structs (never renamed or removed),
 * because cluster/ codes against them. Callers must zero-initialise (snapshot_new does), so
 * a field added later reads as 0 in old writers. */
#ifndef POLICY_SNAPSHOT_H
#define POLICY_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define SNAPSHOT_SKU_MAX         64 /* = SKU_MAX of base/sku.h */
#define SNAPSHOT_SKU_NAME_MAX    32
#define SNAPSHOT_NAME_MAX        64  /* cluster, region, provider names */
#define SNAPSHOT_NODE_NAME_MAX   254 /* Kubernetes object names are at most 253 bytes */
#define SNAPSHOT_TZ_MAX          64
#define SNAPSHOT_WINDOWS_MAX     8
#define SNAPSHOT_PENDING_MAX     16 /* pending serving pods kept per cluster, largest first */
#define SNAPSHOT_MINUTES_PER_DAY 1440

/* Health of a member cluster as the connector last saw it. */
enum snapshot_health {
    SNAPSHOT_HEALTH_UNKNOWN = 0,
    SNAPSHOT_HEALTH_READY,
    SNAPSHOT_HEALTH_DEGRADED, /* reachable, but some lists failed or nodes are missing */
    SNAPSHOT_HEALTH_UNREACHABLE,
    SNAPSHOT_HEALTH_UNAUTHORIZED,
};
#define SNAPSHOT_HEALTH_COUNT 5
const char *snapshot_health_name(enum snapshot_health h); /* "Ready", "Degraded", ... */

/* Which pool a node belongs to. Serving nodes run inference; fedsched only borrows them. */
enum snapshot_pool {
    SNAPSHOT_POOL_TRAINING = 0,
    SNAPSHOT_POOL_SERVING = 1,
};
#define SNAPSHOT_POOL_COUNT 2
const char *snapshot_pool_name(enum snapshot_pool p); /* "training", "serving" */

/* When a serving pool may lend its idle GPUs to preemptible training jobs. */
enum snapshot_lend_policy {
    SNAPSHOT_LEND_NEVER = 0,      /* no lending at all (also the zero value) */
    SNAPSHOT_LEND_WINDOW,         /* only inside one of the lending windows */
    SNAPSHOT_LEND_IDLE,           /* only once idle for at least idle_minutes */
    SNAPSHOT_LEND_WINDOW_OR_IDLE, /* either condition suffices */
    SNAPSHOT_LEND_FORECAST,       /* while the pool's serving-demand forecast is known, for the
                                     lease it fits (inside a window, if any are set); the idle
                                     rule until it is */
};
#define SNAPSHOT_LEND_COUNT 5
const char *snapshot_lend_policy_name(enum snapshot_lend_policy p);

/* A weekly lending window in the cluster's local time. It opens on each day whose bit is
 * set in days (bit 0 = Sunday ... bit 6 = Saturday) at start_min minutes after local
 * midnight and closes at end_min. When end_min <= start_min the window crosses midnight
 * and closes on the following day (22:00-06:00 is start_min 1320, end_min 360); a window
 * with start_min == end_min lasts 24 hours. Both are in [0, 1440]. A days mask of 0 is read
 * as every day, so a writer that forgets the mask does not silently never lend. */
struct snapshot_window {
    uint8_t days;
    int start_min;
    int end_min;
};

/* One unbound Pending serving pod asking for GPUs: what one node must have free to take it
 * (its requests as the kube-scheduler counts them, cluster/k8s.h). */
struct snapshot_pending_pod {
    int sku; /* index into snapshot.sku_names */
    int gpus;
    int64_t cpu_m;   /* 0: none asked */
    int64_t mem_mib; /* 0: none asked */
};

/* The serving pool of one cluster (lending rules). GPU figures per SKU live in the
 * aggregates; this holds what is per pool. */
struct snapshot_serving_pool {
    bool present;     /* false: the cluster has no serving pool */
    int reserve_gpus; /* configured reserve; the connector copies it into each serving
                         aggregate's reserve (per SKU), which is what the policy uses */
    enum snapshot_lend_policy lend_policy;
    int idle_minutes; /* for SNAPSHOT_LEND_IDLE*: minimum continuous idle time */
    struct snapshot_window windows[SNAPSHOT_WINDOWS_MAX];
    size_t n_windows;
    /* Since when (ms since the epoch) the pool has been continuously idle, i.e. had no
     * pending serving demand and free GPUs above the reserve; 0 when not idle now. The
     * connector tracks it across polls. */
    int64_t idle_since_ms;
    /* The largest unbound Pending serving pods (GPUs, then CPU, then memory, descending),
     * at most SNAPSHOT_PENDING_MAX; all of them count in the aggregates' pending_serving.
     * The policy checks that each fits some serving node, not only the pool's free GPUs.
     * Writers that do not read pods (whatif, tests) leave none. */
    struct snapshot_pending_pod pending[SNAPSHOT_PENDING_MAX];
    size_t n_pending;
};

/* One GPU node. free GPUs = allocatable - used (never below 0). */
struct snapshot_node {
    char name[SNAPSHOT_NODE_NAME_MAX];
    int sku; /* index into snapshot.sku_names; -1 when the product is unknown */
    enum snapshot_pool pool;
    int allocatable;  /* status.allocatable["nvidia.com/gpu"] */
    int used;         /* GPU requests of all non-terminal pods bound here (ours included) */
    int borrowed;     /* the part of used held by fedsched pods on serving nodes */
    bool schedulable; /* Ready, not cordoned, no untolerated NoSchedule/NoExecute taint */
    /* CPU (millicores) and memory (MiB) of the node: status.allocatable, and the requests of
     * all non-terminal pods bound here, each pod counted as the kube-scheduler counts it
     * (cluster/k8s.h, struct k8s_requests): the larger of its containers plus its sidecars
     * (init containers with restartPolicy Always) and, for each regular init container, it
     * plus the sidecars declared before it; plus spec.overhead. An allocatable
     * of 0 means unknown (a writer that does not read it): the policy then checks only GPUs
     * on that node. */
    int64_t cpu_alloc_m, cpu_used_m;
    int64_t mem_alloc_mib, mem_used_mib;
    /* Serving nodes: bit p set when the cluster's pending serving pod p
     * (snapshot_serving_pool.pending[p]) may not go here by its own nodeSelector, required
     * node affinity or tolerations; 0: every pending pod may. */
    uint16_t pending_barred;
};

/* Per cluster x pool x SKU totals. The connector sets pending_serving and reserve;
 * snapshot_compute_aggregates() derives the rest from the nodes. */
struct snapshot_agg {
    int total;           /* allocatable GPUs of every node of this pool and SKU */
    int used;            /* used GPUs (serving pods + ours) */
    int free;            /* free GPUs on schedulable nodes */
    int borrowed;        /* GPUs held by fedsched's borrowed jobs (serving pool only) */
    int pending_serving; /* GPU requests of unbound Pending serving pods (serving only) */
    /* GPUs the serving workloads have announced but not yet asked for with pods (serving
     * only; issue 17's leading signals): HorizontalPodAutoscalers whose desiredReplicas
     * exceed currentReplicas, and Deployments / LeaderWorkerSets whose spec.replicas exceed
     * the replicas that have pods, times each replica's GPUs. The connector sets it; 0 from
     * writers that do not read these objects. */
    int announced_serving;
    int reserve; /* GPUs never lent (serving only) */
    /* max(0, free - reserve - pending_serving - announced_serving) for serving, else 0;
     * whether lending is allowed right now (window, idle) is the policy's call */
    int lendable;
};

/* Prerequisites a member cluster must meet before fedsched's objects can run there,
 * checked by the connector (cluster/prereq.c) and shown as conditions of the same name. */
enum snapshot_prereq {
    SNAPSHOT_PREREQ_NAMESPACE = 0,           /* NamespaceReady: the job namespace exists, or
                                               fedsched may create the per-tenant ones */
    SNAPSHOT_PREREQ_PERMISSIONS,             /* PermissionsGranted: the verbs every job needs */
    SNAPSHOT_PREREQ_PRIORITY_CLASS,          /* PriorityClassReady: training pods' class */
    SNAPSHOT_PREREQ_PRIORITY_CLASS_BORROWED, /* BorrowedPriorityClassReady: borrowed pods' */
    SNAPSHOT_PREREQ_KUBERAY,                 /* KubeRayInstalled: ray.io/v1 rayjobs served */
    SNAPSHOT_PREREQ_RAY_PERMISSIONS,         /* RayPermissionsGranted: the rayjobs.ray.io verbs */
};
#define SNAPSHOT_PREREQ_COUNT   6
#define SNAPSHOT_PREREQ_MSG_MAX 192
/* The condition type of p ("NamespaceReady", ...); "Unknown" out of range. */
const char *snapshot_prereq_name(enum snapshot_prereq p);

/* What the connector knows of one prerequisite. The zero value, NOT_CHECKED, is what
 * writers that do not check (whatif traces, tests) leave: the policy then ignores it. */
enum snapshot_prereq_state {
    SNAPSHOT_PREREQ_NOT_CHECKED = 0,
    SNAPSHOT_PREREQ_MET,
    SNAPSHOT_PREREQ_MISSING, /* checked: the cluster lacks it (message says what) */
    SNAPSHOT_PREREQ_UNKNOWN, /* checks are on but have not answered yet (or failed) */
};

struct snapshot_prereq_status {
    enum snapshot_prereq_state state;
    char message[SNAPSHOT_PREREQ_MSG_MAX]; /* "" when met */
};

struct snapshot_cluster {
    char name[SNAPSHOT_NAME_MAX];
    char region[SNAPSHOT_NAME_MAX];
    char provider[SNAPSHOT_NAME_MAX];
    bool cordoned; /* an operator stopped new placements here */
    enum snapshot_health health;
    int64_t last_poll_ms; /* end of the last successful poll; 0 when never */
    /* Cost per GPU-hour in the operator's currency, indexed by SKU id; 0 when unknown
     * (the policy then uses its configured default). */
    double cost_per_gpu_hour[SNAPSHOT_SKU_MAX];
    /* The cluster's time zone as a POSIX TZ rule ("PST8PDT,M3.2.0,M11.1.0", "UTC0",
     * "CET-1CEST,M3.5.0,M10.5.0/3"): the connector reads it from the footer of the TZif
     * file of the configured zone name, so policy/ can evaluate local time purely, without
     * tzdata files. Empty means UTC. */
    char tz[SNAPSHOT_TZ_MAX];
    struct snapshot_serving_pool serving;
    size_t node_first; /* this cluster's nodes are nodes[node_first .. node_first+n_nodes) */
    size_t n_nodes;
    struct snapshot_prereq_status prereqs[SNAPSHOT_PREREQ_COUNT]; /* by enum snapshot_prereq */
};

struct snapshot {
    int64_t taken_ms; /* when the connector finished building it */
    uint64_t seq;     /* increases by one per published snapshot */
    /* SKU names in use; the index is the SKU id used by nodes and aggregates. Copying the
     * base/sku.h catalogue in order is the expected choice. */
    char sku_names[SNAPSHOT_SKU_MAX][SNAPSHOT_SKU_NAME_MAX];
    size_t n_skus;
    struct snapshot_cluster *clusters; /* n_clusters, owned */
    size_t n_clusters;
    struct snapshot_node *nodes; /* n_nodes, grouped by cluster (see node_first), owned */
    size_t n_nodes;
    /* n_clusters * SNAPSHOT_POOL_COUNT * n_skus entries, owned; use snapshot_agg(). */
    struct snapshot_agg *aggs;
};

/* Allocates a zeroed snapshot with room for the given counts (n_skus <= SNAPSHOT_SKU_MAX)
 * and sets the counts. Caller owns *out; release with snapshot_free(). Fails with
 * ERR_INVALID when n_skus is out of range. */
int snapshot_new(size_t n_clusters, size_t n_nodes, size_t n_skus, struct snapshot **out,
                 struct err *e);
void snapshot_free(struct snapshot **s); /* NULL-safe; sets *s to NULL */

/* The aggregate of cluster c, pool p, SKU k (all in range, else NULL). */
struct snapshot_agg *snapshot_agg(struct snapshot *s, size_t c, enum snapshot_pool p, int k);
const struct snapshot_agg *snapshot_agg_const(const struct snapshot *s, size_t c,
                                              enum snapshot_pool p, int k);

/* Free GPUs of node n: allocatable - used, at least 0; 0 when not schedulable. */
int snapshot_node_free(const struct snapshot_node *n);

/* The serving nodes of cluster c of the SKU of its pending serving pod p
 * (clusters[c].serving.pending[p]); *allowed gets how many of them the pod's own
 * constraints let it onto (snapshot_node.pending_barred). */
int snapshot_pending_nodes(const struct snapshot *s, size_t c, size_t p, int *allowed);

/* Recomputes total, used, free, borrowed and lendable of every aggregate from the nodes;
 * keeps pending_serving and reserve as the writer set them. Nodes with sku -1 are left out.
 * Call before publishing. */
void snapshot_compute_aggregates(struct snapshot *s);

/* The same for cluster c alone (c < n_clusters): a writer that changed one cluster's nodes
 * in a snapshot it reuses. */
void snapshot_compute_cluster_aggregates(struct snapshot *s, size_t c);

/* Checks the invariants the policy relies on: node ranges cover nodes[] in order without
 * overlap, SKU ids in range, non-negative counts, used <= allocatable is NOT required
 * (a node can be over-committed by pods the policy did not place), windows in range.
 * Fails with ERR_INVALID naming the first offending field ("clusters[2].node_first"). */
int snapshot_validate(const struct snapshot *s, struct err *e);

/* Index of the SKU named name in s, or -1. */
int snapshot_sku_find(const struct snapshot *s, const char *name);

/* Index of the cluster named name in s, or -1. */
int snapshot_cluster_find(const struct snapshot *s, const char *name);

#endif
