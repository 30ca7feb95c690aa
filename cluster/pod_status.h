/* pod_status.h -- why a job's pods are not running or did not end well, read from Pod
 * objects (containerStatuses, the pod's reason, condition PodScheduled), and the parts of a
 * Job/RayJob status tracking needs beyond its state: Suspended, resumed, finished at.
 * Shapes follow the Kubernetes API reference (Pod v1 PodStatus, Job v1 JobCondition) and
 * KubeRay's RayJob status; fixtures in testdata/k8s/diag/.
 * Not responsible for fetching pods (k8s_jobs.c) or acting on what it finds
 * (scheduler/track.c). Pure: no I/O, no clock. */
#ifndef CLUSTER_POD_STATUS_H
#define CLUSTER_POD_STATUS_H

#include "cluster/k8s_jobs.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What is wrong with a pod, from least to most telling: a diagnosis reports the most
 * telling trouble among a job's pods. */
enum pod_trouble {
    POD_TROUBLE_NONE = 0,
    POD_TROUBLE_UNSCHEDULABLE, /* condition PodScheduled False, reason Unschedulable */
    POD_TROUBLE_WAITING,       /* a container waiting for a reason that does not pass by itself:
                                  ImagePullBackOff, ErrImagePull, InvalidImageName,
                                  CreateContainerConfigError, CreateContainerError,
                                  CrashLoopBackOff, RunContainerError */
    POD_TROUBLE_POD_FAILED,    /* the pod failed as a whole: status.reason (Evicted,
                                  DeadlineExceeded, ...) */
    POD_TROUBLE_TERMINATED,    /* a container terminated with a non-zero exit code */
    POD_TROUBLE_OOM,           /* a container terminated with reason OOMKilled */
};

struct pod_diag {
    enum pod_trouble kind;
    char pod[254];
    char container[64]; /* "" for pod-level troubles */
    char reason[64];    /* "OOMKilled", "Error", "ImagePullBackOff", "Evicted", "Unschedulable" */
    char message[256];  /* the kubelet's or scheduler's message; "" when none */
    int exit_code;      /* when has_exit_code */
    bool has_exit_code;
    int n_pods; /* pods with any trouble, this one included */
};

/* Reads pods (a JSON array of Pod objects; anything else counts as no pods) and fills *out
 * with the most telling trouble (pod_trouble order; among equals, the first pod in the
 * array, and in a pod the first container). A container counts when its state, or else its
 * lastState, is terminated with reason OOMKilled or a non-zero exit code; init containers
 * count like the others. Returns true when some pod is in trouble; *out is zeroed
 * otherwise. */
bool pod_status_diagnose(const json_t *pods, struct pod_diag *out);

/* One line for a job's status and events:
 *   pod P container C: OOMKilled (exit code 137)
 *   pod P container C: ImagePullBackOff: Back-off pulling image "x"
 *   pod P: Evicted: The node was low on resource: memory.
 *   pod P: Unschedulable: 0/3 nodes are available: ...
 * followed by " (and N more pods in trouble)" when n_pods > 1. Truncates to size. */
void pod_diag_format(const struct pod_diag *d, char *out, size_t size);

/* Whether d is a container waiting on its image (ImagePullBackOff, ErrImagePull,
 * InvalidImageName): waiting longer will not help once the registry has said no. */
bool pod_diag_image_trouble(const struct pod_diag *d);

/* Whether obj is suspended: a Job with condition Suspended "True", a RayJob with
 * status.jobDeploymentStatus "Suspended". *since_ms gets the condition's
 * lastTransitionTime (0 when absent or unreadable, and always for a RayJob, whose status
 * has no such time); msg (may be NULL) the condition's message or "". */
bool pod_status_suspended(enum k8s_job_kind kind, const json_t *obj, int64_t *since_ms, char *msg,
                          size_t msg_size);

/* When a Job was last resumed: the lastTransitionTime of its condition Suspended "False";
 * 0 when it never was suspended (or for a RayJob). */
int64_t pod_status_resumed_ms(enum k8s_job_kind kind, const json_t *obj);

/* When a finished object finished: a Job's condition Complete or Failed "True"
 * (lastTransitionTime, else status.completionTime), a RayJob's status.endTime. 0 when it has
 * not finished or the time cannot be read. */
int64_t pod_status_finished_ms(enum k8s_job_kind kind, const json_t *obj);

#endif
