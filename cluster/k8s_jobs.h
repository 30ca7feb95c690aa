/* k8s_jobs.h -- batch/v1 Jobs and ray.io/v1 RayJobs in one member cluster, and the objects
 * that go with them (Service, Secret, Namespace): create, get, list (all pages), delete and
 * the release of a finalizer, synchronously with a libcurl easy handle. Errors carry the
 * API server's Status (reason AlreadyExists, NotFound, ...). Used by the scheduler's
 * dispatch, tracking and garbage collection.
 * Not responsible for building manifests (manifest.c) or polling capacity (poller.c). */
#ifndef CLUSTER_K8S_JOBS_H
#define CLUSTER_K8S_JOBS_H

#include "cluster/cluster_config.h"
#include "cluster/k8s.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct err;
struct k8s_client;

/* The kinds of object fedsched creates: a job's workload object and its companions. */
enum k8s_job_kind {
    K8S_KIND_JOB = 0,   /* batch/v1 Job, /apis/batch/v1/namespaces/{ns}/jobs */
    K8S_KIND_RAYJOB,    /* ray.io/v1 RayJob, /apis/ray.io/v1/namespaces/{ns}/rayjobs */
    K8S_KIND_SERVICE,   /* v1 Service (the workers' headless Service), /api/v1/.../services */
    K8S_KIND_SECRET,    /* v1 Secret (the checkpoint token), /api/v1/.../secrets */
    K8S_KIND_NAMESPACE, /* v1 Namespace, cluster-scoped: /api/v1/namespaces (ns is ignored) */
    K8S_KIND_POD,       /* v1 Pod, only listed (a job's pods, for diagnosis): /api/v1/.../pods */
};

/* "Job", "RayJob", "Service", "Secret", "Namespace". */
const char *k8s_kind_name(enum k8s_job_kind kind);

/* A client for the cluster cfg describes (URL, token file, CA, TLS verification); the
 * token is read now and again whenever its file changes. timeout_ms bounds each request
 * (0: 10 s). Caller owns *out; free with k8s_client_free(). One thread at a time per
 * client. Fails with ERR_CONFIG (token file) or ERR_INTERNAL. */
int k8s_client_new(const struct cluster_config *cfg, int timeout_ms, struct k8s_client **out,
                   struct err *e);
void k8s_client_free(struct k8s_client **c); /* NULL-safe */

/* The Retry-After (delta-seconds, at most 3600) of the client's last answer, typically a
 * 429 or 503; 0 when it had none, an HTTP-date, or the call failed before an answer. Read
 * it right after the failed call. NULL-safe. */
int k8s_client_retry_after_s(const struct k8s_client *c);

/* One request to path (below the API server URL, e.g. "/apis") with an optional JSON body:
 * *status gets the HTTP status, whatever it is, and *resp / *len the answer (owned by c,
 * valid until its next call). Fails only when no answer came: ERR_UNAVAILABLE,
 * ERR_TIMEOUT, or ERR_CONFIG (the token file). For calls the typed ones below do not
 * cover: discovery, SelfSubjectAccessReviews, PriorityClasses. */
int k8s_client_call(struct k8s_client *c, const char *method, const char *path, const char *body,
                    long *status, const char **resp, size_t *len, struct err *e);

/* Every call below fails with: ERR_UNAVAILABLE (connection, 5xx), ERR_TIMEOUT,
 * ERR_UNAUTHORIZED / ERR_FORBIDDEN (401/403), ERR_RATE_LIMITED (429), ERR_MALFORMED (a
 * 2xx body that is not JSON), or the code of the Status the server sent (see
 * k8s_status_code()); then e->field holds the Status reason ("AlreadyExists") and, when st
 * is not NULL, *st the whole Status. */

/* POST obj (a complete Job or RayJob) into namespace ns. On success uid (when not NULL)
 * gets the created object's metadata.uid; an answer without one that fits uid_size is
 * ERR_MALFORMED. AlreadyExists gives ERR_CONFLICT: fetch the existing object with
 * k8s_job_get() to verify it is the same job. */
int k8s_job_create(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const json_t *obj,
                   char *uid, size_t uid_size, struct k8s_status *st, struct err *e);

/* GET one object; ERR_NOT_FOUND when absent. Caller owns *out. */
int k8s_job_get(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                json_t **out, struct k8s_status *st, struct err *e);

/* Lists objects in ns (NULL: all namespaces) matching label_selector (NULL: all), following
 * continue tokens (restarting once on 410 Expired). *items is a JSON array the caller
 * owns. */
int k8s_job_list(struct k8s_client *c, enum k8s_job_kind kind, const char *ns,
                 const char *label_selector, json_t **items, struct err *e);

/* DELETE with propagationPolicy (NULL: "Background", so the pods go too) and, when
 * grace_s >= 0, gracePeriodSeconds. ERR_NOT_FOUND when already gone (callers usually
 * treat that as success). */
int k8s_job_delete(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                   const char *propagation, int grace_s, struct k8s_status *st, struct err *e);

/* Removes finalizer from the object's metadata.finalizers with a JSON patch
 * (application/json-patch+json) that tests the entry before removing it, so another
 * controller's finalizers are never touched; when the list changed in between (422 or
 * 409), it reads the object again and retries, up to 3 times (then ERR_CONFLICT). The same
 * patch sets label (when not NULL, and the object has labels) to "true", so lists can
 * leave released objects out ("!label"). seen: the object as last read (NULL: GET it
 * first). 0 when the finalizer is gone, or was not there; ERR_NOT_FOUND when the object is
 * gone (callers usually treat that as success). An object being deleted goes when its last
 * finalizer does. */
int k8s_job_release(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                    const json_t *seen, const char *finalizer, const char *label,
                    struct k8s_status *st, struct err *e);

/* Sets metadata.annotations[key] = value (NULL: removes it) on the object with a JSON merge
 * patch (application/merge-patch+json), leaving its other annotations alone; no
 * resourceVersion, so it applies whatever else changed meanwhile. ERR_NOT_FOUND when the
 * object is gone. */
int k8s_job_annotate(struct k8s_client *c, enum k8s_job_kind kind, const char *ns, const char *name,
                     const char *key, const char *value, struct k8s_status *st, struct err *e);

/* Where a Job or RayJob object stands. */
enum k8s_job_state {
    K8S_JOB_PENDING = 0, /* created, pods not all running */
    K8S_JOB_RUNNING,
    K8S_JOB_SUCCEEDED, /* final */
    K8S_JOB_FAILED,    /* final */
    K8S_JOB_STOPPED,   /* final: a RayJob's Ray job stopped from outside (ray job stop) */
};

/* Reads the state from obj's status: a Job is final only with condition Complete or Failed
 * "True" (reason copied, e.g. BackoffLimitExceeded). A RayJob, from jobStatus and
 * jobDeploymentStatus together: deployment ValidationFailed is Failed (reason
 * ValidationFailed); Initializing, Suspending, Suspended, Retrying, Waiting, Scheduling and
 * Scheduled are Pending whatever jobStatus says (reason: that status); then jobStatus
 * SUCCEEDED is Succeeded; deployment Failed or jobStatus FAILED is Failed (reason: the
 * RayJob's status.reason, e.g. DeadlineExceeded, AppFailed, else "Failed"); jobStatus
 * STOPPED is Stopped (reason Stopped); deployment Complete with no other terminal sign is
 * Failed (reason NoJobStatus); jobStatus RUNNING is Running; anything else Pending.
 * reason gets "" when none. */
enum k8s_job_state k8s_job_state_of(enum k8s_job_kind kind, const json_t *obj, char *reason,
                                    size_t reason_size);

const char *k8s_job_state_name(enum k8s_job_state s); /* "Pending", "Running", ... */

#endif
