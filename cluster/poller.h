/* poller.h -- the member-cluster connector: one thread keeps every cluster's nodes, pods
 * and fedsched's Jobs and RayJobs by LIST+WATCH (cluster/reflector.h, libcurl multi,
 * per-cluster rate limits, Retry-After, backoff with jitter, health per cluster),
 * rebuilds the per-node figures of the clusters whose stores changed, and publishes an
 * immutable struct cluster_snapshot with RCU, at most every publish_delay_ms. Readers
 * never block and never see a half-built snapshot; old snapshots are freed by the poller
 * after a grace period. The scheduler's tracking reads the Job stores
 * (poller_objects()).
 * Not responsible for storing samples (the sink does, e.g. in store/) or serving HTTP
 * (api/ renders with cluster_snapshot.h). */
#ifndef CLUSTER_POLLER_H
#define CLUSTER_POLLER_H

#include "base/sku.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/k8s_jobs.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct poller;

/* Called on the poller thread with the snapshot just published, at most once per
 * sample_interval_ms. s stays valid for the duration of the call only; the callback must
 * not block for long (it delays the next poll) and must not call poller functions other
 * than the read functions. */
typedef void (*poller_sink_fn)(const struct cluster_snapshot *s, void *arg);

/* Every number is required (> 0): there are no defaults here. The process's values are rows
 * of the table in cmd/config.c (docs/configuration.md); tests take them from there too. */
struct poller_options {
    int interval_ms;                  /* a snapshot at least this often, changes or not */
    int request_timeout_ms;           /* a LIST page, whole */
    int connect_timeout_ms;           /* TCP + TLS connect */
    int page_limit;                   /* list page size (limit=) */
    int max_inflight;                 /* LIST requests at once (watches do not count) */
    int backoff_base_ms;              /* first retry delay after a failure */
    int backoff_max_ms;               /* the delay doubles up to this */
    int absent_recheck_ms;            /* a serving signal a cluster does not serve (404: the
                                         LeaderWorkerSet CRD not installed) is asked for
                                         again after this */
    int unreachable_after_ms;         /* Degraded becomes Unreachable when the last success is
                                         older than this; 0: 3 * interval_ms */
    int publish_delay_ms;             /* changes are published at most this often (and so
                                         at most this late) */
    size_t max_body_bytes;            /* per response (a LIST page) */
    int watch_timeout_s;              /* a watch's timeoutSeconds (each asks between this
                                         and twice this) */
    int watch_idle_ms;                /* a watch silent this long has stalled: watched again */
    size_t max_event_bytes;           /* one watch event */
    double qps;                       /* requests a second per cluster (a token bucket, as */
    int burst;                        /* client-go's), and how many may go at once */
    const struct sku_catalogue *skus; /* NULL: sku_catalogue(); must outlive the poller */
    poller_sink_fn sink;              /* optional capacity-sample hook */
    void *sink_arg;
    int sample_interval_ms; /* at most one sink call per this */
    /* Prerequisite checks (prereq.h), on their own thread so that they never delay a
     * poll: each cluster is checked when it is added or its config changes, then every
     * prereq_interval_ms. 0: never checked, conditions stay Unknown and the policy
     * ignores them. The PriorityClass names (NULL or "": none) must outlive the poller. */
    int prereq_interval_ms;
    const char *priority_class;
    const char *priority_class_borrowed;
    /* Called on the poller thread when a watched Job or RayJob of fedsched's changed (the
     * scheduler wakes to track it); must not block. Optional. */
    void (*objects_changed)(void *arg);
    void *objects_arg;
};

/* Creates a poller for n clusters (configs are copied; names must be unique) and publishes
 * an initial snapshot in which every cluster is Unknown. Nothing is polled until
 * poller_start() or poller_poll_once(). o is required and copied. Caller owns *out; free
 * with poller_free(). Fails with ERR_INVALID (no options, a number in them not > 0 -- the
 * field is named --, duplicate name, bad config) or ERR_INTERNAL (curl). */
int poller_create(const struct cluster_config *cfgs, size_t n, const struct poller_options *o,
                  struct poller **out, struct err *e);

/* Stops the thread when running, frees everything (waits for an RCU grace period so that
 * readers finish). NULL-safe; sets *p to NULL. No reader may use the poller afterwards. */
void poller_free(struct poller **p);

/* Starts / stops the polling thread. start fails with ERR_INTERNAL when the thread cannot
 * be created or it already runs. stop returns after the thread has exited. */
int poller_start(struct poller *p, struct err *e);
void poller_stop(struct poller *p);

/* Lists every cluster that is not backing off again, on the calling thread, waits for the
 * lists (not the watches that would follow) and publishes. Prerequisite checks that are
 * due run first, on the calling thread too. For tests and benchmarks; fails with
 * ERR_INVALID while the thread runs. */
int poller_poll_once(struct poller *p, struct err *e);

/* Replaces the cluster set (the admin API added, changed or removed clusters). Clusters
 * keep their data and status across a change of other fields; new ones start Unknown and
 * are polled at once. Thread-safe; applied by the poller within milliseconds (or by the
 * next poller_poll_once()). Fails with ERR_INVALID on duplicate names. */
int poller_set_clusters(struct poller *p, const struct cluster_config *cfgs, size_t n,
                        struct err *e);

/* Asks for an immediate poll of every cluster not backing off. Thread-safe. */
void poller_wake(struct poller *p);

/* Makes every cluster's prerequisite check due now (an operator fixed something and
 * does not want to wait for the interval). Thread-safe; no-op when checks are off. */
void poller_recheck(struct poller *p);

/* fedsched's workload objects in cluster (kind K8S_KIND_JOB or K8S_KIND_RAYJOB) as the
 * connector's watch holds them: labelled managed-by fedsched, result not yet recorded
 * (label fedsched.io/recorded absent), without their spec. *items is a new JSON array the
 * caller owns; the objects in it are shared with the poller and must not be changed.
 * Thread-safe. Fails (-1, ERR_UNAVAILABLE) when the cluster is unknown or its watch may be
 * behind (not listed yet, re-listing, failing): the caller lists itself then. A cluster without the resource (no
 * KubeRay) gives an empty array. */
int poller_objects(struct poller *p, const char *cluster, enum k8s_job_kind kind, json_t **items,
                   struct err *e);

/* The cluster's API server asked another of our callers (the scheduler's client) to wait
 * until until_ms (wall clock, Retry-After): the connector sends it nothing before either.
 * Thread-safe; applied by the poller thread within milliseconds. */
void poller_calm(struct poller *p, const char *cluster, int64_t until_ms);

/* Reading: between poller_read_begin() and poller_read_end() the returned snapshot stays
 * valid and unchanged, whatever the poller publishes meanwhile. Never blocks, never NULL.
 * The calling thread is registered with RCU on first use and unregistered when it exits.
 * Do not nest, and do not call poller_free()/poller_stop() between the two. */
const struct cluster_snapshot *poller_read_begin(struct poller *p);
void poller_read_end(struct poller *p);

/* The options p runs with (unreachable_after_ms and skus filled in). Never changes after
 * poller_create(), so any thread may read it until poller_free(). */
const struct poller_options *poller_get_options(const struct poller *p);

/* How many snapshots have been published (including the initial one). Thread-safe. */
uint64_t poller_published(struct poller *p);

/* Whether a snapshot holding a cluster set was published: the one given to poller_create()
 * (cfgs not NULL) or to poller_set_clusters(). Until then readers find the empty snapshot
 * of a poller created with cfgs NULL, which says "no clusters" when the truth is "not read
 * yet" (/readyz waits for this). Thread-safe. */
bool poller_loaded(struct poller *p);

/* CPU time used by the poller thread, in milliseconds (0 when not started). */
int64_t poller_thread_cpu_ms(struct poller *p);

#endif
