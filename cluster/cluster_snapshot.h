/* cluster_snapshot.h -- what the connector publishes after each poll round: the policy's
 * struct snapshot plus, per cluster, the connector's own status (health, last error,
 * poll timings and counters, node statistics, unknown GPU products). Immutable once
 * published; rendered to JSON for the API (/v1/clusters, /v1/capacity) and to Prometheus
 * text for /metrics, so the API layer stays thin.
 * Not responsible for polling or RCU publication (poller.c). */
#ifndef CLUSTER_CLUSTER_SNAPSHOT_H
#define CLUSTER_CLUSTER_SNAPSHOT_H

#include "base/buf.h"
#include "base/err.h"
#include "cluster/inventory.h"
#include "cluster/prereq.h"
#include "cluster/promq.h"
#include "policy/snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error kinds counted per cluster (the label of fedsched_cluster_poll_errors_total). */
enum cluster_error_kind {
    CLUSTER_ERR_TIMEOUT = 0, /* connect or transfer timed out */
    CLUSTER_ERR_CONNECT,     /* refused, reset, dropped, DNS, TLS */
    CLUSTER_ERR_HTTP_5XX,
    CLUSTER_ERR_RATE_LIMITED, /* 429 */
    CLUSTER_ERR_UNAUTHORIZED, /* 401/403 */
    CLUSTER_ERR_MALFORMED,    /* a body that is not the list we asked for */
    CLUSTER_ERR_EXPIRED,      /* 410 on a continue token (the list restarts) */
    CLUSTER_ERR_OTHER,
};
#define CLUSTER_ERR_KINDS 8
const char *cluster_error_kind_name(enum cluster_error_kind k); /* "timeout", ... */

/* What one reflector (cluster/reflector.h) of a cluster has done, by resource. */
enum cluster_resource {
    CLUSTER_RES_NODES = 0,
    CLUSTER_RES_PODS,    /* non-terminal */
    CLUSTER_RES_JOBS,    /* fedsched's batch/v1 Jobs whose result is not recorded yet */
    CLUSTER_RES_RAYJOBS, /* the same for ray.io/v1 RayJobs */
    /* Serving-demand signals (announced_serving): optional, they never make a cluster
     * Degraded or Unauthorized; a cluster that refuses them only loses the signal. */
    CLUSTER_RES_DEPLOYMENTS, /* apps/v1 Deployments */
    CLUSTER_RES_HPAS,        /* autoscaling/v2 HorizontalPodAutoscalers */
    CLUSTER_RES_LWS,         /* leaderworkerset.x-k8s.io/v1 LeaderWorkerSets (a CRD: often
                                absent, 404) */
};
#define CLUSTER_RESOURCES   7
#define CLUSTER_RES_SIGNALS CLUSTER_RES_DEPLOYMENTS /* the first optional resource */
const char *cluster_resource_name(int r); /* "nodes", "pods", "jobs", "rayjobs", "deployments",
                                             "horizontalpodautoscalers", "leaderworkersets" */
struct cluster_watch_stats {
    uint64_t lists;          /* LIST pages requested */
    uint64_t watches;        /* WATCH requests */
    uint64_t relists;        /* lists begun again after the first (410, broken event) */
    uint64_t watch_restarts; /* watches begun again from a resourceVersion */
    uint64_t events[5];      /* ADDED, MODIFIED, DELETED, BOOKMARK, ERROR */
    uint64_t bad_events;
    bool watching; /* a watch is open */
    bool absent;   /* the cluster does not serve the resource (404: no KubeRay, no LWS) */
};

/* The serving pool's demand query (servingPool.demandQuery), when configured: what it
 * answered and what its figure added to announced_serving. Never part of the health. */
struct cluster_demand_status {
    bool configured;
    double figure;     /* GPUs wanted, the last good answer's; counted while figure_ms */
    int64_t figure_ms; /* evaluation time of the figure that counts; 0: none (never, or
                          older than maxAgeSeconds) */
    char sku[SNAPSHOT_SKU_NAME_MAX]; /* the SKU it is counted on; "" when none */
    int added;                       /* GPUs it added to that SKU's announced_serving */
    int64_t last_ms;                 /* wall clock of the last answer; 0: not asked yet */
    enum promq_result last;
    char last_error[200]; /* "" when the last answer was good */
    uint64_t results[PROMQ_RESULTS];
};

struct cluster_status {
    char name[SNAPSHOT_NAME_MAX];
    char api_server[512];
    enum snapshot_health health;
    int64_t last_success_ms; /* wall clock the data was last known current; 0 when never.
                                While both watches are open and answering: the publication */
    int64_t data_as_of_ms;   /* wall clock of the last pod event, bookmark or list page: every
                                pod created before it is in the data; 0 when never */
    int64_t last_attempt_ms; /* wall clock, start of the last poll */
    int64_t next_attempt_ms; /* wall clock of the next poll (backoff shows here) */
    char last_error[256];    /* "" after a success */
    int64_t calm_until_ms;   /* wall clock: a Retry-After asks every caller to wait until */
    enum err_code last_error_code;
    int64_t poll_duration_ms; /* how long the last complete list took (the slower resource) */
    uint64_t polls_total;     /* requests: list pages and watches */
    struct cluster_watch_stats watch[CLUSTER_RESOURCES];
    uint64_t errors_total;
    uint64_t errors_by_kind[CLUSTER_ERR_KINDS];
    int consecutive_failures;
    int64_t lost_timeout_s;
    struct cluster_demand_status demand;
    struct inventory_stats stats;                            /* of the last good poll */
    struct inventory_unknown unknown[INVENTORY_UNKNOWN_MAX]; /* products matching no SKU */
    size_t n_unknown;
    char item_error[160]; /* first object skipped in the last good poll, "" when none */
    /* fedsched's pods in the data by job attempt, sorted (inventory_job_gpus()); owned by
     * the snapshot. A dispatched job counts in the snapshot once they are all here. */
    struct inventory_job_pods *job_pods;
    size_t n_job_pods;
    struct prereq_result prereq; /* conditions and capabilities (all Unknown until checked) */
};

/* status[i] describes snap->clusters[i]. */
struct cluster_snapshot {
    struct snapshot *snap;
    struct cluster_status *status;
    int64_t lag_ms; /* from the oldest change it holds (an event applied) to its publication */
    double poller_cpu_share; /* poller thread CPU time / wall time since the previous publish */
    /* The poller's, to build a later snapshot into this one once no reader can hold it:
     * only the clusters whose inventory changed since are copied again. */
    uint64_t *versions; /* per cluster: the inventory version its nodes were copied from */
    uint64_t layout;    /* the cluster set they were copied for */
    uint64_t pq_gen;    /* the prerequisite results it holds (poller.pq_gen then) */
    size_t node_cap;    /* room in snap->nodes */
};

/* Releases s and everything in it. NULL-safe. Only the poller calls this (after an RCU
 * grace period); tests that build snapshots by hand may too. */
void cluster_snapshot_free(struct cluster_snapshot *s);

/* Index of the cluster named name, or -1. */
int cluster_snapshot_find(const struct cluster_snapshot *s, const char *name);

/* GPUs of the pods of job uid's attempt in cluster i's data (i in range), 0 when none. */
int cluster_snapshot_job_gpus(const struct cluster_snapshot *s, size_t i, const char *uid,
                              int attempt);

/* Seconds since the cluster's last good poll at now_ms; -1 when it never succeeded. */
double cluster_snapshot_data_age(const struct cluster_snapshot *s, size_t i, int64_t now_ms);

/* JSON for GET /v1/clusters/{name}: health, lastSuccessfulPoll, dataAgeMs, lastError,
 * counters, node statistics, unknown products and, per SKU and pool, total, used, free,
 * borrowed, pendingServing, announcedServing (serving pools), reserve and lendable. Caller
 * owns the result. */
json_t *cluster_snapshot_cluster_json(const struct cluster_snapshot *s, size_t i, int64_t now_ms);

/* The items of GET /v1/clusters/{name}/nodes: cluster i's GPU nodes by name, those of SKU
 * sku (a catalogue name; NULL: any) and pool (< 0: any), each with its SKU (null when the
 * product is unknown), pool, schedulable, and GPUs, CPU (millicores) and memory (MiB):
 * allocatable, requested by the pods bound there (ours included) and free (allocatable less
 * requested, at least 0); CPU and memory are null when the node's allocatable is unknown.
 * One page: the nodes named after `after` (NULL: from the first), at most limit of them (0:
 * all); *more is set when more nodes match. Caller owns the array. */
json_t *cluster_snapshot_nodes_json(const struct cluster_snapshot *s, size_t i, const char *sku,
                                    int pool, const char *after, size_t limit, bool *more);

/* {"clusters":[...]} for GET /v1/clusters. */
json_t *cluster_snapshot_clusters_json(const struct cluster_snapshot *s, int64_t now_ms);

/* Federation totals by SKU and pool for GET /v1/capacity, summed over clusters that are
 * not cordoned and have data (Ready or Degraded); the excluded ones are listed. */
json_t *cluster_snapshot_capacity_json(const struct cluster_snapshot *s, int64_t now_ms);

/* Appends Prometheus text (with HELP/TYPE) for: poll duration, poll errors by kind, data
 * age, health, GPUs by cluster/SKU/pool/state (total, used, free, borrowed,
 * pending_serving, announced_serving, lendable), round duration. Returns 0 or -1 when b's
 * cap is reached. */
int cluster_snapshot_prometheus(const struct cluster_snapshot *s, int64_t now_ms, struct buf *b);

#endif
