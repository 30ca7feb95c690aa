/* prereq.h -- a member cluster's prerequisites, checked against its API server: which
 * framework CRDs it serves (discovery, GET /apis), whether the job namespace exists or may
 * be created, whether the PriorityClasses fedsched's pods name exist, and whether the
 * credentials may do every verb fedsched uses (SelfSubjectAccessReview). The results are
 * named conditions in the Kubernetes style (type, status, reason, message,
 * lastTransitionTime), one per enum snapshot_prereq, plus the cluster's capabilities.
 * Not responsible for when checks run (poller.c) or what the policy makes of them
 * (policy/engine.c reads the snapshot's copy). */
#ifndef CLUSTER_PREREQ_H
#define CLUSTER_PREREQ_H

#include "cluster/cluster_config.h"
#include "policy/snapshot.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

#define PREREQ_CAPS_MAX  8
#define PREREQ_CAP_LEN   64
#define PREREQ_BODY_MAX  ((size_t)4 << 20) /* discovery documents are far smaller */
#define PREREQ_DEPTH_MAX 16

/* One condition. status is "True", "False" or "Unknown". */
struct prereq_condition {
    char status[8];
    char reason[64];
    char message[SNAPSHOT_PREREQ_MSG_MAX];
    int64_t last_transition_ms; /* wall clock; 0 until the first check */
};

struct prereq_result {
    bool checked;       /* a check has finished at least once */
    int64_t checked_ms; /* wall clock of the end of the last check; 0 never */
    struct prereq_condition conds[SNAPSHOT_PREREQ_COUNT]; /* by enum snapshot_prereq */
    /* Framework CRD group/versions the cluster serves ("ray.io/v1", "kubeflow.org/v1",
     * "kubeflow.org/v2beta1", "jobset.x-k8s.io/v1alpha2"), as discovery listed them. */
    char capabilities[PREREQ_CAPS_MAX][PREREQ_CAP_LEN];
    size_t n_caps;
};

/* What the checks look for besides the cluster config. Strings may be NULL or "" (no
 * PriorityClass configured: its condition is True, reason NotRequired). */
struct prereq_options {
    const char *priority_class;          /* training pods' priorityClassName */
    const char *priority_class_borrowed; /* borrowed pods' priorityClassName */
    int timeout_ms;                      /* per request; 0: 10 s */
};

/* Every condition Unknown with reason NotChecked, no capabilities. */
void prereq_init(struct prereq_result *r);

/* Runs every check against the cluster cfg describes, synchronously (about twenty small
 * requests), and fills *out. Never fails as a whole: a check that cannot get an answer
 * (transport error, 5xx, the token file unreadable, the review API refused) leaves its
 * condition Unknown with the error as message, unless prev knew it (True or False): then it
 * keeps prev's status, reason and message; only answers that prove a piece missing make a
 * condition False. lastTransitionTime carries over from prev (NULL: none) while a
 * status stays the same. now_ms is the wall clock stamped on changes. */
void prereq_check(const struct cluster_config *cfg, const struct prereq_options *o,
                  const struct prereq_result *prev, int64_t now_ms, struct prereq_result *out);

/* ---- the pieces, exposed for tests ----------------------------------------------------- */

/* Reads an APIGroupList (GET /apis) and writes the framework group/versions it lists into
 * r's capabilities. Fails with ERR_MALFORMED (field "groups") when the body is not one. */
int prereq_read_groups(const char *body, size_t len, struct prereq_result *r, struct err *e);

/* Reads an APIResourceList (GET /apis/{group}/{version}); *served tells whether it lists
 * resource by name. Fails with ERR_MALFORMED (field "resources"). */
int prereq_read_resources(const char *body, size_t len, const char *resource, bool *served,
                          struct err *e);

/* Reads a SelfSubjectAccessReview answer: status.allowed. Fails with ERR_MALFORMED (field
 * "status.allowed") when absent. */
int prereq_read_review(const char *body, size_t len, bool *allowed, struct err *e);

/* True when a 404 body is a Status saying that object name of kind (plural resource) does
 * not exist -- details.kind == kind --, as opposed to a server that does not serve the
 * resource at all ("the server could not find the requested resource"). */
bool prereq_is_not_found(const char *body, size_t len, const char *kind);

/* The SelfSubjectAccessReview asking whether verb on resource of group ("" core) in ns
 * ("" all namespaces / cluster scope) is allowed. Caller owns the result. */
json_t *prereq_review_request(const char *verb, const char *group, const char *resource,
                              const char *ns);

/* Sets condition p (status "True"/"False"/"Unknown", reason, printf message). */
void prereq_set(struct prereq_result *r, enum snapshot_prereq p, const char *status,
                const char *reason, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Stamps lastTransitionTime: prev's when the status did not change, now_ms otherwise. */
void prereq_carry_times(struct prereq_result *r, const struct prereq_result *prev, int64_t now_ms);

/* Copies the conditions into the policy's view: True -> MET, False -> MISSING, Unknown ->
 * UNKNOWN (r never checked: every one UNKNOWN). */
void prereq_to_snapshot(const struct prereq_result *r, struct snapshot_cluster *sc);

/* [{"type","status","reason","message","lastTransitionTime"}...] (the time in RFC 3339,
 * left out while 0). Caller owns the result. */
json_t *prereq_conditions_json(const struct prereq_result *r);

/* ["ray.io/v1", ...]. Caller owns the result. */
json_t *prereq_capabilities_json(const struct prereq_result *r);

#endif
