/* pod_status.c -- a job's pods' troubles and its object's Suspended and finish times, read
 * from API JSON. Not responsible for fetching anything or deciding what to do. */
#include "cluster/pod_status.h"

#include "base/clock.h"

#include <stdio.h>
#include <string.h>

static const char *str_at(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s ? s : "";
}

static void copy(char *out, size_t size, const char *s)
{
    snprintf(out, size, "%s", s ? s : "");
}

/* A terminated state worth reporting: OOMKilled, or any non-zero exit code. A container
 * that ended with 0 ("Completed") is fine. */
static enum pod_trouble terminated_trouble(const json_t *term)
{
    const json_t *code = json_object_get(term, "exitCode");

    if (!json_is_object(term))
        return POD_TROUBLE_NONE;
    if (strcmp(str_at(term, "reason"), "OOMKilled") == 0)
        return POD_TROUBLE_OOM;
    if (json_is_integer(code) && json_integer_value(code) != 0)
        return POD_TROUBLE_TERMINATED;
    return POD_TROUBLE_NONE;
}

static bool waiting_trouble(const char *reason)
{
    static const char *const bad[] = {"ImagePullBackOff",     "ErrImagePull",
                                      "InvalidImageName",     "CreateContainerConfigError",
                                      "CreateContainerError", "CrashLoopBackOff",
                                      "RunContainerError"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (strcmp(reason, bad[i]) == 0)
            return true;
    return false;
}

/* The worst trouble of one container status, written into d when it beats d's. */
static void read_container(const char *pod, const json_t *cs, struct pod_diag *d)
{
    const json_t *state = json_object_get(cs, "state");
    const json_t *term = json_object_get(state, "terminated");
    const json_t *waiting = json_object_get(state, "waiting");
    enum pod_trouble k = terminated_trouble(term);

    if (k == POD_TROUBLE_NONE && !json_is_object(term)) {
        const json_t *last = json_object_get(json_object_get(cs, "lastState"), "terminated");

        if ((k = terminated_trouble(last)) != POD_TROUBLE_NONE)
            term = last;
    }
    if (k == POD_TROUBLE_NONE && json_is_object(waiting) &&
        waiting_trouble(str_at(waiting, "reason")))
        k = POD_TROUBLE_WAITING;
    if (k <= d->kind)
        return;
    d->kind = k;
    copy(d->pod, sizeof(d->pod), pod);
    copy(d->container, sizeof(d->container), str_at(cs, "name"));
    d->has_exit_code = false;
    if (k == POD_TROUBLE_WAITING) {
        copy(d->reason, sizeof(d->reason), str_at(waiting, "reason"));
        copy(d->message, sizeof(d->message), str_at(waiting, "message"));
        return;
    }
    copy(d->reason, sizeof(d->reason), str_at(term, "reason"));
    if (!d->reason[0])
        copy(d->reason, sizeof(d->reason), "Error");
    copy(d->message, sizeof(d->message), str_at(term, "message"));
    d->exit_code = (int)json_integer_value(json_object_get(term, "exitCode"));
    d->has_exit_code = json_is_integer(json_object_get(term, "exitCode"));
}

/* A pod-level trouble: the pod failed with a reason (Evicted), or cannot be scheduled. */
static void read_pod_level(const char *pod, const json_t *st, struct pod_diag *d)
{
    enum pod_trouble k = POD_TROUBLE_NONE;
    const char *reason = "", *message = "";
    size_t i;
    const json_t *cond;

    if (strcmp(str_at(st, "phase"), "Failed") == 0 && *str_at(st, "reason")) {
        k = POD_TROUBLE_POD_FAILED;
        reason = str_at(st, "reason");
        message = str_at(st, "message");
    } else {
        json_array_foreach(json_object_get(st, "conditions"), i, cond)
        {
            if (strcmp(str_at(cond, "type"), "PodScheduled") == 0 &&
                strcmp(str_at(cond, "status"), "False") == 0 &&
                strcmp(str_at(cond, "reason"), "Unschedulable") == 0) {
                k = POD_TROUBLE_UNSCHEDULABLE;
                reason = "Unschedulable";
                message = str_at(cond, "message");
            }
        }
    }
    if (k <= d->kind)
        return;
    d->kind = k;
    copy(d->pod, sizeof(d->pod), pod);
    d->container[0] = '\0';
    copy(d->reason, sizeof(d->reason), reason);
    copy(d->message, sizeof(d->message), message);
    d->has_exit_code = false;
}

bool pod_status_diagnose(const json_t *pods, struct pod_diag *out)
{
    struct pod_diag d;
    size_t i;
    const json_t *pod;

    memset(&d, 0, sizeof(d));
    json_array_foreach(pods, i, pod)
    {
        const char *name = str_at(json_object_get(pod, "metadata"), "name");
        const json_t *st = json_object_get(pod, "status");
        struct pod_diag one;
        static const char *const lists[] = {"initContainerStatuses", "containerStatuses"};
        size_t k;
        const json_t *cs;

        memset(&one, 0, sizeof(one));
        for (size_t l = 0; l < 2; l++)
            json_array_foreach(json_object_get(st, lists[l]), k, cs)
            {
                read_container(name, cs, &one);
            }
        read_pod_level(name, st, &one);
        if (one.kind == POD_TROUBLE_NONE)
            continue;
        d.n_pods++;
        if (one.kind > d.kind) {
            int n = d.n_pods;

            d = one;
            d.n_pods = n;
        }
    }
    *out = d;
    return d.kind != POD_TROUBLE_NONE;
}

void pod_diag_format(const struct pod_diag *d, char *out, size_t size)
{
    char code[32] = "", more[48] = "";

    if (d->has_exit_code)
        snprintf(code, sizeof(code), " (exit code %d)", d->exit_code);
    if (d->n_pods > 1)
        snprintf(more, sizeof(more), " (and %d more pod%s in trouble)", d->n_pods - 1,
                 d->n_pods > 2 ? "s" : "");
    snprintf(out, size, "pod %s%s%s: %s%s%s%s%s", d->pod, d->container[0] ? " container " : "",
             d->container, d->reason, code, d->message[0] ? ": " : "", d->message, more);
}

bool pod_diag_image_trouble(const struct pod_diag *d)
{
    return d->kind == POD_TROUBLE_WAITING &&
           (strcmp(d->reason, "ImagePullBackOff") == 0 || strcmp(d->reason, "ErrImagePull") == 0 ||
            strcmp(d->reason, "InvalidImageName") == 0);
}

/* The Job's condition of type with status, or NULL. */
static const json_t *condition(const json_t *obj, const char *type, const char *status)
{
    size_t i;
    const json_t *cond;

    json_array_foreach(json_object_get(json_object_get(obj, "status"), "conditions"), i, cond)
    {
        if (strcmp(str_at(cond, "type"), type) == 0 && strcmp(str_at(cond, "status"), status) == 0)
            return cond;
    }
    return NULL;
}

static int64_t time_at(const json_t *o, const char *key)
{
    int64_t ms = 0;

    if (clock_parse_rfc3339(str_at(o, key), &ms) != 0)
        return 0;
    return ms;
}

bool pod_status_suspended(enum k8s_job_kind kind, const json_t *obj, int64_t *since_ms, char *msg,
                          size_t msg_size)
{
    const json_t *cond;

    if (kind == K8S_KIND_RAYJOB) {
        bool yes =
            strcmp(str_at(json_object_get(obj, "status"), "jobDeploymentStatus"), "Suspended") == 0;

        *since_ms = 0;
        if (msg)
            copy(msg, msg_size, yes ? str_at(json_object_get(obj, "status"), "message") : "");
        return yes;
    }
    cond = condition(obj, "Suspended", "True");
    *since_ms = cond ? time_at(cond, "lastTransitionTime") : 0;
    if (msg)
        copy(msg, msg_size, cond ? str_at(cond, "message") : "");
    return cond != NULL;
}

int64_t pod_status_resumed_ms(enum k8s_job_kind kind, const json_t *obj)
{
    const json_t *cond;

    if (kind == K8S_KIND_RAYJOB)
        return 0;
    cond = condition(obj, "Suspended", "False");
    return cond ? time_at(cond, "lastTransitionTime") : 0;
}

int64_t pod_status_finished_ms(enum k8s_job_kind kind, const json_t *obj)
{
    const json_t *st = json_object_get(obj, "status"), *cond;
    int64_t ms;

    if (kind == K8S_KIND_RAYJOB)
        return time_at(st, "endTime");
    cond = condition(obj, "Complete", "True");
    if (!cond)
        cond = condition(obj, "Failed", "True");
    if (!cond)
        return 0;
    ms = time_at(cond, "lastTransitionTime");
    return ms ? ms : time_at(st, "completionTime");
}
