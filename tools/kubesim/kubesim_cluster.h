/* kubesim_cluster.h -- one simulated member cluster: GPU nodes, pods (static, serving
 * deployments on a diurnal curve, and those of the Jobs and RayJobs it is asked to run),
 * answering the Kubernetes API subset fedsched uses with real JSON shapes. HTTP-agnostic:
 * kubesim.c parses requests, applies faults and calls sim_cluster_handle().
 * Not responsible for sockets, faults or authentication (kubesim.c). */
#ifndef TOOLS_KUBESIM_KUBESIM_CLUSTER_H
#define TOOLS_KUBESIM_KUBESIM_CLUSTER_H

#include "tools/kubesim/kubesim_scenario.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;
struct sim_cluster;

/* Simulated time: start_sim_ms + (monotonic now - start_mono_ms) * scale + skipped_ms.
 * Shared by every cluster of one simulator; sim_clock_skip() is thread-safe. */
struct sim_clock {
    double scale;
    int64_t start_sim_ms;
    int64_t start_mono_ms;
    int64_t skipped_ms; /* accessed atomically */
};

void sim_clock_init(struct sim_clock *c, double scale, int64_t start_sim_ms);
int64_t sim_clock_now(const struct sim_clock *c);
void sim_clock_skip(struct sim_clock *c, int64_t ms); /* jump simulated time forward */

/* Query parameters of a request, URL-decoded, and the Content-Type header (which picks a
 * PATCH's format); NULL when absent. */
struct sim_query {
    const char *limit;
    const char *cont;
    const char *field_selector;
    const char *label_selector;
    const char *propagation_policy;
    const char *grace_period_seconds;
    const char *content_type;
    const char *resource_version; /* a watch's starting point */
};

/* An answer. body is owned by the caller (free()). */
struct sim_reply {
    int status;
    char *body;
    size_t len;
    bool list; /* the answer is a list (faults that garble bodies apply to lists) */
};

/* Builds the cluster from spec (copied); clock must outlive it. Continue tokens older
 * than continue_ttl_ms (real time) expire with 410. Fails with ERR_INVALID when the spec
 * is inconsistent (a static pod on an unknown node, too many nodes). */
int sim_cluster_new(const struct sim_cluster_spec *spec, const struct sim_clock *clock,
                    int64_t continue_ttl_ms, struct sim_cluster **out, struct err *e);
void sim_cluster_free(struct sim_cluster **c); /* NULL-safe */

const char *sim_cluster_name(const struct sim_cluster *c);

/* Answers one API request (path without any /c/NAME prefix, no query string). Always
 * fills out: errors are Status objects with reason and code. Thread-safe (one lock per
 * cluster). */
void sim_cluster_handle(struct sim_cluster *c, const char *method, const char *path,
                        const struct sim_query *q, const char *body, size_t len,
                        struct sim_reply *out);

/* ---- watches: the change history as the API server's watch serves it ----------------------
 * Every change of a node, pod, Job, RayJob, namespace, service, secret, Deployment, HPA or
 * LeaderWorkerSet is an event with its own resourceVersion, kept in a ring of the
 * scenario's watchHistory events per cluster. Thread-safe (the cluster's lock); a watch is used by one thread at a time. */
struct buf;
struct sim_watch;

/* Opens a watch of a list path ("/api/v1/namespaces/x/pods"); q gives the label and field
 * selectors and resource_version: "" or "0" start with a synthetic ADDED per current
 * object, a number the events after it. On failure (-1) rep holds the Status: 404 for a
 * path that cannot be watched, 400 for a bad selector or resourceVersion, 410 Expired
 * when the events after it are no longer kept. Caller owns *out (sim_cluster_watch_free). */
int sim_cluster_watch_open(struct sim_cluster *c, const char *path, const struct sim_query *q,
                           struct sim_watch **out, struct sim_reply *rep);
void sim_cluster_watch_free(struct sim_watch **w); /* NULL-safe */

/* Appends the next WatchEvent lines ({"type":...,"object":...}, one per line) for w to out, stopping
 * once out holds max bytes (bounded; the rest stays for the next call). Returns 1 when the
 * history has moved past w: an ERROR event with a 410 Expired Status was written and the
 * watch is over; else 0. */
int sim_cluster_watch_read(struct sim_cluster *c, struct sim_watch *w, struct buf *out, size_t max);

/* Appends a BOOKMARK at the cluster's current resourceVersion when w has been sent every
 * event (true); else writes nothing (false). */
bool sim_cluster_watch_bookmark(struct sim_cluster *c, struct sim_watch *w, struct buf *out);

/* Lets simulated time act on the model (as any request does) and records the changes. */
void sim_cluster_tick(struct sim_cluster *c);

/* fn(arg, i) is called, with the cluster's lock held, each time it has recorded watch events
 * (fn must not call back into the cluster). One hook per cluster; NULL removes it. */
void sim_cluster_on_change(struct sim_cluster *c, void (*fn)(void *arg, size_t i), void *arg,
                           size_t i);

/* The simulator's own view of a node, for tests. */
struct sim_node_view {
    char name[64];
    char product[64];
    char pool[16];
    int allocatable;
    int used; /* GPUs of non-terminal pods bound here, terminating ones included */
    bool ready;
    bool cordoned;
};

/* Copies up to max nodes (sorted by name) into out and returns the node count. */
size_t sim_cluster_nodes(struct sim_cluster *c, struct sim_node_view *out, size_t max);

/* GPUs placed on node name (used) and its allocatable. ERR_NOT_FOUND when no such node. */
int sim_cluster_node_gpus(struct sim_cluster *c, const char *name, int *allocatable, int *used,
                          struct err *e);

/* Requests the model answered since the start, by verb and resource as the API server's
 * audit log names them: "list pods", "watch nodes", "create jobs.batch", "patch
 * rayjobs.ray.io", "GET nonresource" (/version, /healthz, discovery). Requests refused
 * before they reach the model (faults, a wrong token, aggregated discovery) are not here;
 * sim_requests() counts every request. Copies up to max rows into out; returns the count. */
struct sim_request_count {
    char what[96];
    uint64_t n;
};
size_t sim_cluster_request_counts(struct sim_cluster *c, struct sim_request_count *out, size_t max);

/* Counts of pods by state: bound non-terminal, unbound pending, terminating. */
void sim_cluster_pod_counts(struct sim_cluster *c, int *bound, int *pending, int *terminating);

/* Flips a node's Ready condition and cordon. ERR_NOT_FOUND when no such node. */
int sim_cluster_set_node(struct sim_cluster *c, const char *name, bool ready, bool cordoned,
                         struct err *e);

/* Holds back every open watch of the cluster (true), as an API server whose watch cache
 * lags its store: the watches are sent no events and no bookmarks while changes go on being
 * recorded, so a short history can pass them by (410 Expired once released); false
 * releases them. A test's lever: no scenario sets it. */
void sim_cluster_watch_hold(struct sim_cluster *c, bool hold);

/* Holds back the cluster's scheduler (true), as when the kube-scheduler is down: pods
 * created meanwhile stay Pending, unbound and without a PodScheduled condition, whatever
 * room the nodes have; false binds them again from the next request. For a job whose pods
 * cannot start although every figure fedsched reads says they fit. A test's lever: no
 * scenario sets it. */
void sim_cluster_scheduler_hold(struct sim_cluster *c, bool hold);

/* Announces a scale of the scenario's deployment ns/name from now on, in place of its curve,
 * as an autoscaler that decides to scale: its HorizontalPodAutoscaler's desiredReplicas is
 * replicas at once, the Deployment's spec.replicas after the autoscaler's delaySeconds, its
 * pods rolloutDelaySeconds after that (simulated time). ERR_NOT_FOUND when there is no such
 * deployment, ERR_INVALID when replicas is not in 0..maxReplicas. A test's lever. */
struct err;
int sim_cluster_deployment_scale(struct sim_cluster *c, const char *ns, const char *name,
                                 int replicas, struct err *e);

/* Replica count of deployment i at simulated time now_ms (the diurnal curve). */
int sim_deployment_replicas(const struct sim_deployment *d, int64_t now_ms);

#endif
