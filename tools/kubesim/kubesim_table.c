/* kubesim_table.c -- meta.k8s.io Tables of the simulator's resources: one printer per
 * resource (its column definitions and a function computing a row's cells, as the API
 * server's printers do), the Accept and includeObject parsing, and the watch event form. */
#include "tools/kubesim/kubesim_table.h"

#include "base/clock.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- column definitions ------------------------------------------------------------------ */

struct col {
    const char *name;
    const char *type;
    const char *format;
    int priority;
    const char *description;
};

/* The descriptions the API server takes from ObjectMeta's documentation. */
#define NAME_DOC                                                                                   \
    "Name must be unique within a namespace. Is required when creating resources, although "       \
    "some resources may allow a client to request the generation of an appropriate name "          \
    "automatically. Name is primarily intended for creation idempotence and configuration "        \
    "definition. Cannot be updated. More info: "                                                   \
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
#define AGE_DOC                                                                                    \
    "CreationTimestamp is a timestamp representing the server time when this object was "          \
    "created. It is not guaranteed to be set in happens-before order across separate "             \
    "operations. Clients may not set this value. It is represented in RFC3339 form and is in "     \
    "UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: "                      \
    "https://git.k8s.io/community/contributors/devel/sig-architecture/"                            \
    "api-conventions.md#metadata"
#define NAME_COL                                                                                   \
    {                                                                                              \
        "Name", "string", "name", 0, NAME_DOC                                                      \
    }
#define AGE_COL                                                                                    \
    {                                                                                              \
        "Age", "string", "", 0, AGE_DOC                                                            \
    }
#define END_COL                                                                                    \
    {                                                                                              \
        NULL, NULL, NULL, 0, NULL                                                                  \
    }

static const struct col node_cols[] = {
    NAME_COL,
    {"Status", "string", "", 0, "The status of the node"},
    {"Roles", "string", "", 0, "The roles of the node"},
    AGE_COL,
    {"Version", "string", "", 0, "Kubelet Version reported by the node."},
    {"Internal-IP", "string", "", 1,
     "List of addresses reachable to the node. Queried from cloud provider, if available."},
    {"External-IP", "string", "", 1,
     "List of addresses reachable to the node. Queried from cloud provider, if available."},
    {"OS-Image", "string", "", 1,
     "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."},
    {"Kernel-Version", "string", "", 1,
     "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."},
    {"Container-Runtime", "string", "", 1,
     "ContainerRuntime Version reported by the node through runtime remote API (e.g. "
     "containerd://1.4.2)."},
    END_COL};

static const struct col pod_cols[] = {
    NAME_COL,
    {"Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."},
    {"Status", "string", "", 0, "The aggregate status of the containers in this pod."},
    {"Restarts", "string", "", 0,
     "The number of times the containers in this pod have been restarted and when the last "
     "container in this pod has restarted."},
    AGE_COL,
    {"IP", "string", "", 1,
     "podIP address allocated to the pod. Routable at least within the cluster. Empty if not "
     "yet allocated."},
    {"Node", "string", "", 1,
     "NodeName indicates in which node this pod is scheduled. If empty, this pod is a "
     "candidate for scheduling by the scheduler defined in schedulerName."},
    {"Nominated Node", "string", "", 1,
     "nominatedNodeName is set only when this pod preempts other pods on the node, but it "
     "cannot be scheduled right away as preemption victims receive their graceful termination "
     "periods."},
    {"Readiness Gates", "string", "", 1,
     "If specified, all readiness gates will be evaluated for pod readiness."},
    END_COL};

static const struct col job_cols[] = {
    NAME_COL,
    {"Status", "string", "", 0, "Status of the job."},
    {"Completions", "string", "", 0,
     "The number of pods which reached phase Succeeded. The value increases monotonically for "
     "a given spec."},
    {"Duration", "string", "", 0, "Time required to complete the job."},
    AGE_COL,
    {"Containers", "string", "", 1, "Names of each container in the template."},
    {"Images", "string", "", 1, "Images referenced by each container in the template."},
    {"Selector", "string", "", 1,
     "A label query over pods that should match the pod count. Normally, the system sets this "
     "field for you."},
    END_COL};

static const struct col namespace_cols[] = {
    NAME_COL, {"Status", "string", "", 0, "The status of the namespace"}, AGE_COL, END_COL};

static const struct col service_cols[] = {
    NAME_COL,
    {"Type", "string", "", 0, "type determines how the Service is exposed. Defaults to ClusterIP."},
    {"Cluster-IP", "string", "", 0,
     "clusterIP is the IP address of the service and is usually assigned randomly."},
    {"External-IP", "string", "", 0,
     "externalIPs is a list of IP addresses for which nodes in the cluster will also accept "
     "traffic for this service."},
    {"Port(s)", "string", "", 0, "The list of ports that are exposed by this service."},
    AGE_COL,
    {"Selector", "string", "", 1,
     "Route service traffic to pods with label keys and values matching this selector."},
    END_COL};

static const struct col secret_cols[] = {
    NAME_COL,
    {"Type", "string", "", 0, "Used to facilitate programmatic handling of secret data."},
    {"Data", "string", "", 0,
     "Data contains the secret data. Each key must consist of alphanumeric characters, '-', "
     "'_' or '.'."},
    AGE_COL,
    END_COL};

/* KubeRay's rayjobs.ray.io CRD (ray-operator/config/crd/bases/ray.io_rayjobs.yaml):
 * additionalPrinterColumns, each described by its JSONPath as the API server does when the
 * CRD gives no description; "age" is the CRD's own date column. */
static const struct col rayjob_cols[] = {
    NAME_COL,
    {"job status", "string", "", 0,
     "Custom resource definition column (in JSONPath format): .status.jobStatus"},
    {"deployment status", "string", "", 0,
     "Custom resource definition column (in JSONPath format): .status.jobDeploymentStatus"},
    {"start time", "string", "", 0,
     "Custom resource definition column (in JSONPath format): .status.startTime"},
    {"end time", "string", "", 0,
     "Custom resource definition column (in JSONPath format): .status.endTime"},
    {"age", "date", "", 0,
     "Custom resource definition column (in JSONPath format): .metadata.creationTimestamp"},
    END_COL};

/* ---- helpers ------------------------------------------------------------------------------ */

static const char *str_at(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);

    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

/* apimachinery's duration.HumanDuration. */
static json_t *human_duration(int64_t ms)
{
    int64_t s = ms / 1000, m, h;

    if (s < -1)
        return json_string("<invalid>");
    if (s < 0)
        return json_string("0s");
    if (s < 120)
        return json_sprintf("%llds", (long long)s);
    m = s / 60;
    if (m < 10)
        return s % 60 ? json_sprintf("%lldm%llds", (long long)m, (long long)(s % 60))
                      : json_sprintf("%lldm", (long long)m);
    if (m < 180)
        return json_sprintf("%lldm", (long long)m);
    h = s / 3600;
    if (h < 8)
        return m % 60 ? json_sprintf("%lldh%lldm", (long long)h, (long long)(m % 60))
                      : json_sprintf("%lldh", (long long)h);
    if (h < 48)
        return json_sprintf("%lldh", (long long)h);
    if (h < 24 * 8)
        return h % 24 ? json_sprintf("%lldd%lldh", (long long)(h / 24), (long long)(h % 24))
                      : json_sprintf("%lldd", (long long)(h / 24));
    if (h < 24 * 365 * 2)
        return json_sprintf("%lldd", (long long)(h / 24));
    if (h < 24 * 365 * 8)
        return (h / 24) % 365 ? json_sprintf("%lldy%lldd", (long long)(h / 24 / 365),
                                             (long long)((h / 24) % 365))
                              : json_sprintf("%lldy", (long long)(h / 24 / 365));
    return json_sprintf("%lldy", (long long)(h / 24 / 365));
}

/* The time since an RFC 3339 timestamp, "<unknown>" when there is none. */
static json_t *since(const char *ts, int64_t now_ms)
{
    int64_t t;

    if (!ts || clock_parse_rfc3339(ts, &t) != 0)
        return json_string("<unknown>");
    return human_duration(now_ms - t);
}

static json_t *age(const json_t *obj, int64_t now_ms)
{
    return since(str_at(obj, "metadata", "creationTimestamp", NULL), now_ms);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends piece to *acc with sep between pieces. */
static void join(char **acc, const char *sep, const char *piece)
{
    char *next = xasprintf("%s%s%s", *acc ? *acc : "", *acc ? sep : "", piece);

    free(*acc);
    *acc = next;
}

/* labels.FormatLabels: "k=v,..." sorted by key, "<none>" when empty. */
static json_t *format_labels(const json_t *map)
{
    const char *keys[128], *k;
    size_t n = 0;
    json_t *v;
    char *acc = NULL;
    json_t *out;

    json_object_foreach((json_t *)map, k, v)
    {
        if (n < sizeof(keys) / sizeof(keys[0]))
            keys[n++] = k;
    }
    qsort(keys, n, sizeof(keys[0]), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char *kv = xasprintf("%s=%s", keys[i], json_string_value(json_object_get(map, keys[i])));

        join(&acc, ",", kv);
        free(kv);
    }
    out = json_string(acc ? acc : "<none>");
    free(acc);
    return out;
}

/* metav1.FormatLabelSelector: matchLabels then matchExpressions, "<none>" when empty. */
static json_t *format_selector(const json_t *sel)
{
    json_t *labels = format_labels(json_object_get(sel, "matchLabels")), *e, *out;
    char *acc =
        strcmp(json_string_value(labels), "<none>") ? xstrdup(json_string_value(labels)) : NULL;
    size_t i;

    json_decref(labels);
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e)
    {
        const char *key = str_at(e, "key", NULL, NULL), *op = str_at(e, "operator", NULL, NULL);
        char *vals = NULL, *req;
        size_t k;
        json_t *v;

        if (!key || !op)
            continue;
        json_array_foreach(json_object_get(e, "values"), k, v)
        {
            join(&vals, ",", json_string_value(v) ? json_string_value(v) : "");
        }
        if (strcmp(op, "Exists") == 0)
            req = xstrdup(key);
        else if (strcmp(op, "DoesNotExist") == 0)
            req = xasprintf("!%s", key);
        else
            req = xasprintf("%s %s (%s)", key, strcmp(op, "In") == 0 ? "in" : "notin",
                            vals ? vals : "");
        join(&acc, ",", req);
        free(req);
        free(vals);
    }
    out = json_string(acc ? acc : "<none>");
    free(acc);
    return out;
}

/* layoutContainerCells: the containers' names and images, comma-separated. */
static void container_cells(const json_t *containers, json_t *cells)
{
    char *names = NULL, *images = NULL;
    size_t i;
    json_t *c;

    json_array_foreach(containers, i, c)
    {
        const char *n = str_at(c, "name", NULL, NULL), *im = str_at(c, "image", NULL, NULL);

        join(&names, ",", n ? n : "");
        join(&images, ",", im ? im : "");
    }
    json_array_append_new(cells, json_string(names ? names : ""));
    json_array_append_new(cells, json_string(images ? images : ""));
    free(names);
    free(images);
}

static bool condition_true(const json_t *conditions, const char *type)
{
    size_t i;
    json_t *c;

    json_array_foreach(conditions, i, c)
    {
        if (strcmp(str_at(c, "type", NULL, NULL) ? str_at(c, "type", NULL, NULL) : "", type) == 0)
            return strcmp(str_at(c, "status", NULL, NULL) ? str_at(c, "status", NULL, NULL) : "",
                          "True") == 0;
    }
    return false;
}

/* ---- cells per resource ----------------------------------------------------------------------- */

static void node_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const json_t *st = json_object_get(o, "status"), *c, *a, *labels;
    const char *k, *roles[32];
    const char *info_keys[] = {"osImage", "kernelVersion", "containerRuntimeVersion"};
    char status[64] = "Unknown", *role_list = NULL, internal[64] = "<none>",
         external[64] = "<none>";
    size_t i, n = 0;
    json_t *v;

    (void)row;
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (strcmp(str_at(c, "type", NULL, NULL) ? str_at(c, "type", NULL, NULL) : "", "Ready"))
            continue;
        snprintf(status, sizeof(status), "%s",
                 strcmp(str_at(c, "status", NULL, NULL) ? str_at(c, "status", NULL, NULL) : "",
                        "True") == 0
                     ? "Ready"
                     : "NotReady");
    }
    if (json_is_true(json_object_get(json_object_get(o, "spec"), "unschedulable")))
        snprintf(status + strlen(status), sizeof(status) - strlen(status), ",SchedulingDisabled");
    labels = json_object_get(json_object_get(o, "metadata"), "labels");
    json_object_foreach((json_t *)labels, k, v)
    {
        if (strncmp(k, "node-role.kubernetes.io/", 24) == 0 && k[24] && n < 32)
            roles[n++] = k + 24;
        else if (strcmp(k, "kubernetes.io/role") == 0 && json_string_length(v) && n < 32)
            roles[n++] = json_string_value(v);
    }
    qsort(roles, n, sizeof(roles[0]), cmp_str);
    for (i = 0; i < n; i++)
        if (i == 0 || strcmp(roles[i], roles[i - 1]) != 0)
            join(&role_list, ",", roles[i]);
    json_array_append_new(cells, json_string(status));
    json_array_append_new(cells, json_string(role_list ? role_list : "<none>"));
    free(role_list);
    json_array_append_new(cells, age(o, now));
    json_array_append_new(cells, json_string(str_at(st, "nodeInfo", "kubeletVersion", NULL)
                                                 ? str_at(st, "nodeInfo", "kubeletVersion", NULL)
                                                 : ""));
    json_array_foreach(json_object_get(st, "addresses"), i, a)
    {
        const char *t = str_at(a, "type", NULL, NULL), *ad = str_at(a, "address", NULL, NULL);

        if (t && ad && strcmp(t, "InternalIP") == 0 && strcmp(internal, "<none>") == 0)
            snprintf(internal, sizeof(internal), "%s", ad);
        if (t && ad && strcmp(t, "ExternalIP") == 0 && strcmp(external, "<none>") == 0)
            snprintf(external, sizeof(external), "%s", ad);
    }
    json_array_append_new(cells, json_string(internal));
    json_array_append_new(cells, json_string(external));
    for (i = 0; i < 3; i++) {
        const char *s = str_at(st, "nodeInfo", info_keys[i], NULL);

        json_array_append_new(cells, json_string(s && *s ? s : "<unknown>"));
    }
}

/* The pod's STATUS from its last container states, as printPod reads them (from the last
 * container back); counts ready containers and restarts. */
static void pod_reason(const json_t *o, char *reason, size_t size, int *ready, int *restarts,
                       int64_t *last_restart)
{
    const json_t *st = json_object_get(o, "status"), *cs;
    size_t n = json_array_size(json_object_get(st, "containerStatuses"));
    bool running = false;

    for (size_t i = n; i-- > 0;) {
        const json_t *state, *term;
        const char *w, *tr, *fin;
        int64_t t;

        cs = json_array_get(json_object_get(st, "containerStatuses"), i);
        state = json_object_get(cs, "state");
        term = json_object_get(state, "terminated");
        w = str_at(state, "waiting", "reason", NULL);
        tr = str_at(term, "reason", NULL, NULL);
        *restarts += (int)json_integer_value(json_object_get(cs, "restartCount"));
        fin = str_at(cs, "lastState", "terminated", "finishedAt");
        if (fin && clock_parse_rfc3339(fin, &t) == 0 && t > *last_restart)
            *last_restart = t;
        if (w && *w)
            snprintf(reason, size, "%s", w);
        else if (tr && *tr)
            snprintf(reason, size, "%s", tr);
        else if (term && json_integer_value(json_object_get(term, "signal")))
            snprintf(reason, size, "Signal:%lld",
                     (long long)json_integer_value(json_object_get(term, "signal")));
        else if (term)
            snprintf(reason, size, "ExitCode:%lld",
                     (long long)json_integer_value(json_object_get(term, "exitCode")));
        else if (json_is_true(json_object_get(cs, "ready")) && json_object_get(state, "running")) {
            running = true;
            (*ready)++;
        }
    }
    if (strcmp(reason, "Completed") == 0 && running)
        snprintf(reason, size, "%s",
                 condition_true(json_object_get(st, "conditions"), "Ready") ? "Running"
                                                                            : "NotReady");
}

static void pod_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const json_t *st = json_object_get(o, "status"), *spec = json_object_get(o, "spec"), *c;
    const char *phase = str_at(st, "phase", NULL, NULL), *sr = str_at(st, "reason", NULL, NULL);
    const char *node = str_at(spec, "nodeName", NULL, NULL),
               *nominated = str_at(st, "nominatedNodeName", NULL, NULL),
               *ip = str_at(json_array_get(json_object_get(st, "podIPs"), 0), "ip", NULL, NULL);
    char reason[128], restarts_s[96];
    int ready = 0, restarts = 0;
    int64_t last = 0;
    size_t i, gates = json_array_size(json_object_get(spec, "readinessGates"));
    bool terminal = phase && (strcmp(phase, "Succeeded") == 0 || strcmp(phase, "Failed") == 0);

    snprintf(reason, sizeof(reason), "%s", sr && *sr ? sr : phase ? phase : "");
    json_array_foreach(json_object_get(st, "conditions"), i, c)
    {
        if (strcmp(str_at(c, "type", NULL, NULL) ? str_at(c, "type", NULL, NULL) : "",
                   "PodScheduled") == 0 &&
            strcmp(str_at(c, "reason", NULL, NULL) ? str_at(c, "reason", NULL, NULL) : "",
                   "SchedulingGated") == 0)
            snprintf(reason, sizeof(reason), "SchedulingGated");
    }
    if (terminal)
        json_object_set_new(row, "conditions",
                            json_pack("[{s:s, s:s, s:s, s:s}]", "type", "Completed", "status",
                                      "True", "reason", phase, "message",
                                      strcmp(phase, "Succeeded") == 0
                                          ? "The pod has completed successfully."
                                          : "The pod failed."));
    pod_reason(o, reason, sizeof(reason), &ready, &restarts, &last);
    if (str_at(o, "metadata", "deletionTimestamp", NULL)) {
        if (sr && strcmp(sr, "NodeLost") == 0)
            snprintf(reason, sizeof(reason), "Unknown");
        else if (!terminal)
            snprintf(reason, sizeof(reason), "Terminating");
    }
    snprintf(restarts_s, sizeof(restarts_s), "%d", restarts);
    if (restarts && last) {
        json_t *ago = human_duration(now - last);

        snprintf(restarts_s, sizeof(restarts_s), "%d (%s ago)", restarts, json_string_value(ago));
        json_decref(ago);
    }
    json_array_append_new(
        cells, json_sprintf("%d/%zu", ready, json_array_size(json_object_get(spec, "containers"))));
    json_array_append_new(cells, json_string(reason));
    json_array_append_new(cells, json_string(restarts_s));
    json_array_append_new(cells, age(o, now));
    json_array_append_new(cells, json_string(ip && *ip ? ip : "<none>"));
    json_array_append_new(cells, json_string(node && *node ? node : "<none>"));
    json_array_append_new(cells, json_string(nominated && *nominated ? nominated : "<none>"));
    if (gates) {
        size_t t = 0;

        json_array_foreach(json_object_get(spec, "readinessGates"), i, c)
        {
            t += condition_true(json_object_get(st, "conditions"),
                                str_at(c, "conditionType", NULL, NULL)
                                    ? str_at(c, "conditionType", NULL, NULL)
                                    : "");
        }
        json_array_append_new(cells, json_sprintf("%zu/%zu", t, gates));
    } else {
        json_array_append_new(cells, json_string("<none>"));
    }
}

static void job_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const json_t *spec = json_object_get(o, "spec"), *st = json_object_get(o, "status");
    const json_t *conds = json_object_get(st, "conditions");
    long long ok = (long long)json_integer_value(json_object_get(st, "succeeded"));
    const char *start = str_at(st, "startTime", NULL, NULL),
               *done = str_at(st, "completionTime", NULL, NULL), *status = "Running";
    json_t *completions = json_object_get(spec, "completions");
    long long par = (long long)json_integer_value(json_object_get(spec, "parallelism"));
    int64_t t0, t1;

    (void)row;
    if (condition_true(conds, "Complete"))
        status = "Complete";
    else if (condition_true(conds, "Failed"))
        status = "Failed";
    else if (str_at(o, "metadata", "deletionTimestamp", NULL))
        status = "Terminating";
    else if (condition_true(conds, "Suspended"))
        status = "Suspended";
    else if (condition_true(conds, "FailureTarget"))
        status = "FailureTarget";
    json_array_append_new(cells, json_string(status));
    if (json_is_integer(completions))
        json_array_append_new(
            cells, json_sprintf("%lld/%lld", ok, (long long)json_integer_value(completions)));
    else if (par > 1)
        json_array_append_new(cells, json_sprintf("%lld/1 of %lld", ok, par));
    else
        json_array_append_new(cells, json_sprintf("%lld/1", ok));
    if (!start || clock_parse_rfc3339(start, &t0) != 0)
        json_array_append_new(cells, json_string(""));
    else if (!done || clock_parse_rfc3339(done, &t1) != 0)
        json_array_append_new(cells, human_duration(now - t0));
    else
        json_array_append_new(cells, human_duration(t1 - t0));
    json_array_append_new(cells, age(o, now));
    container_cells(
        json_object_get(json_object_get(json_object_get(spec, "template"), "spec"), "containers"),
        cells);
    json_array_append_new(cells, format_selector(json_object_get(spec, "selector")));
}

static void namespace_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const char *phase = str_at(o, "status", "phase", NULL);

    (void)row;
    json_array_append_new(cells, json_string(phase ? phase : ""));
    json_array_append_new(cells, age(o, now));
}

/* getServiceExternalIP. */
static json_t *service_external_ip(const json_t *spec, const json_t *st)
{
    const char *type = str_at(spec, "type", NULL, NULL);
    const json_t *ext = json_object_get(spec, "externalIPs"), *x;
    char *acc = NULL;
    json_t *out;
    size_t i;

    if (!type)
        type = "ClusterIP";
    if (strcmp(type, "ExternalName") == 0)
        return json_string(str_at(spec, "externalName", NULL, NULL)
                               ? str_at(spec, "externalName", NULL, NULL)
                               : "");
    if (strcmp(type, "LoadBalancer") == 0)
        json_array_foreach(json_object_get(json_object_get(st, "loadBalancer"), "ingress"), i, x)
        {
            const char *a = str_at(x, "ip", NULL, NULL);

            if (!a || !*a)
                a = str_at(x, "hostname", NULL, NULL);
            if (a && *a)
                join(&acc, ",", a);
        }
    json_array_foreach(ext, i, x)
    {
        join(&acc, ",", json_string_value(x) ? json_string_value(x) : "");
    }
    if (!acc && strcmp(type, "LoadBalancer") == 0)
        return json_string("<pending>");
    if (!acc && strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0)
        return json_string("<unknown>");
    out = json_string(acc ? acc : "<none>");
    free(acc);
    return out;
}

static void service_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const json_t *spec = json_object_get(o, "spec"), *p;
    const char *type = str_at(spec, "type", NULL, NULL),
               *ip = json_string_value(json_array_get(json_object_get(spec, "clusterIPs"), 0));
    char *ports = NULL;
    size_t i;

    (void)row;
    json_array_foreach(json_object_get(spec, "ports"), i, p)
    {
        long long port = (long long)json_integer_value(json_object_get(p, "port")),
                  node = (long long)json_integer_value(json_object_get(p, "nodePort"));
        const char *proto = str_at(p, "protocol", NULL, NULL);
        char *piece = node > 0 ? xasprintf("%lld:%lld/%s", port, node, proto ? proto : "TCP")
                               : xasprintf("%lld/%s", port, proto ? proto : "TCP");

        join(&ports, ",", piece);
        free(piece);
    }
    json_array_append_new(cells, json_string(type ? type : "ClusterIP"));
    json_array_append_new(cells, json_string(ip ? ip : "<none>"));
    json_array_append_new(cells, service_external_ip(spec, json_object_get(o, "status")));
    json_array_append_new(cells, json_string(ports ? ports : "<none>"));
    free(ports);
    json_array_append_new(cells, age(o, now));
    json_array_append_new(cells, format_labels(json_object_get(spec, "selector")));
}

static void secret_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const char *type = str_at(o, "type", NULL, NULL);

    (void)row;
    json_array_append_new(cells, json_string(type ? type : ""));
    json_array_append_new(cells,
                          json_integer((json_int_t)json_object_size(json_object_get(o, "data"))));
    json_array_append_new(cells, age(o, now));
}

/* A CRD column of type string: the value printed, null when absent. */
static json_t *crd_string(const json_t *v)
{
    if (json_is_string(v))
        return json_string(json_string_value(v));
    if (!v || json_is_null(v))
        return json_null();
    {
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        json_t *out = json_string(text ? text : "");

        free(text);
        return out;
    }
}

static void rayjob_cells(const json_t *o, json_t *cells, json_t *row, int64_t now)
{
    const json_t *st = json_object_get(o, "status");
    const char *created = str_at(o, "metadata", "creationTimestamp", NULL);

    (void)row;
    json_array_append_new(cells, crd_string(json_object_get(st, "jobStatus")));
    json_array_append_new(cells, crd_string(json_object_get(st, "jobDeploymentStatus")));
    json_array_append_new(cells, crd_string(json_object_get(st, "startTime")));
    json_array_append_new(cells, crd_string(json_object_get(st, "endTime")));
    json_array_append_new(cells, created ? since(created, now) : json_null());
}

/* ---- printers --------------------------------------------------------------------------------- */

struct printer {
    const char *api;                /* "/api/v1/" or "/apis/GROUP/VERSION/" */
    const char *resource;           /* as in the path */
    const char *api_version, *kind; /* a whole row object's, as the API server sets them */
    const struct col *cols;
    void (*cells)(const json_t *obj, json_t *cells, json_t *row, int64_t now_ms);
};

static const struct printer printers[] = {
    {"/api/v1/", "nodes", "v1", "Node", node_cols, node_cells},
    {"/api/v1/", "pods", "v1", "Pod", pod_cols, pod_cells},
    {"/api/v1/", "namespaces", "v1", "Namespace", namespace_cols, namespace_cells},
    {"/api/v1/", "services", "v1", "Service", service_cols, service_cells},
    {"/api/v1/", "secrets", "v1", "Secret", secret_cols, secret_cells},
    {"/apis/batch/v1/", "jobs", "batch/v1", "Job", job_cols, job_cells},
    {"/apis/ray.io/v1/", "rayjobs", "ray.io/v1", "RayJob", rayjob_cols, rayjob_cells},
};

/* The printer of a GET of path: .../R, .../R/NAME, .../namespaces/NS/R[/NAME]. */
static const struct printer *printer_of(const char *path)
{
    for (size_t i = 0; i < sizeof(printers) / sizeof(printers[0]); i++) {
        const struct printer *p = &printers[i];
        const char *rest = path + strlen(p->api), *seg[5];
        size_t n = 0, rl = strlen(p->resource);

        if (strncmp(path, p->api, strlen(p->api)) != 0)
            continue;
        for (const char *s = rest; s && *s && n < 5; s = strchr(s, '/') ? strchr(s, '/') + 1 : NULL)
            seg[n++] = s;
        if (n >= 3 && strncmp(seg[0], "namespaces/", 11) == 0 && strcmp(p->resource, "namespaces"))
            memmove(seg, seg + 2, (n -= 2) * sizeof(seg[0]));
        if ((n == 1 || n == 2) && strncmp(seg[0], p->resource, rl) == 0 &&
            (seg[0][rl] == '\0' || (seg[0][rl] == '/' && n == 2)))
            return p;
    }
    return NULL;
}

const char *sim_table_wanted(const char *accept)
{
    const char *p = accept;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char range[256];
        bool table = false, meta = false;
        const char *version = NULL;

        snprintf(range, sizeof(range), "%.*s", (int)n, p);
        for (char *q = range; q; q = strchr(q, ';') ? strchr(q, ';') + 1 : NULL) {
            size_t len = strcspn(q, ";");

            while (*q == ' ')
                q++, len--;
            while (len && q[len - 1] == ' ')
                len--;
            table |= len == 8 && strncmp(q, "as=Table", 8) == 0;
            meta |= len == 13 && strncmp(q, "g=meta.k8s.io", 13) == 0;
            if (len == 4 && strncmp(q, "v=v1", 4) == 0)
                version = "v1";
            if (len == 9 && strncmp(q, "v=v1beta1", 9) == 0)
                version = "v1beta1";
        }
        if (strncmp(range + strspn(range, " "), "application/json", 16) == 0 && table && meta &&
            version)
            return version;
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}

int sim_table_include_of(const char *v, enum sim_table_include *out)
{
    if (!v || !*v || strcmp(v, "Metadata") == 0)
        *out = SIM_TABLE_METADATA;
    else if (strcmp(v, "None") == 0)
        *out = SIM_TABLE_NONE;
    else if (strcmp(v, "Object") == 0)
        *out = SIM_TABLE_OBJECT;
    else
        return -1;
    return 0;
}

bool sim_table_path(const char *path)
{
    return printer_of(path) != NULL;
}

static json_t *columns(const struct printer *p)
{
    json_t *a = json_array();

    for (const struct col *c = p->cols; c->name; c++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s, s:i}", "name", c->name, "type",
                                           c->type, "format", c->format, "description",
                                           c->description, "priority", c->priority));
    return a;
}

static json_t *row_of(const struct printer *p, const json_t *obj, const struct sim_table_opts *o)
{
    const char *name = str_at(obj, "metadata", "name", NULL);
    json_t *cells = json_pack("[s]", name ? name : ""), *row = json_object(), *object;

    json_object_set_new(row, "cells", cells);
    p->cells(obj, cells, row, o->now_ms);
    if (o->include == SIM_TABLE_OBJECT) {
        /* List items may leave out kind and apiVersion; the API server converts each row's
         * object to the resource's version, which sets them. */
        object = json_deep_copy(obj);
        json_object_set_new(object, "kind", json_string(p->kind));
        json_object_set_new(object, "apiVersion", json_string(p->api_version));
    } else if (o->include == SIM_TABLE_METADATA)
        object =
            json_pack("{s:s, s:s, s:O}", "kind", "PartialObjectMetadata", "apiVersion",
                      strcmp(o->version, "v1beta1") == 0 ? "meta.k8s.io/v1beta1" : "meta.k8s.io/v1",
                      "metadata", json_object_get(obj, "metadata"));
    else
        object = json_null();
    json_object_set_new(row, "object", object);
    return row;
}

json_t *sim_table_of(const char *path, const json_t *doc, const struct sim_table_opts *o)
{
    const struct printer *p = printer_of(path);
    const json_t *items = json_object_get(doc, "items"), *meta = json_object_get(doc, "metadata");
    json_t *rows = json_array(), *tmeta = json_object(), *it;
    size_t i;
    const char *keys[] = {"resourceVersion", "continue", "remainingItemCount"};

    if (!p)
        p = &printers[0]; /* callers check sim_table_path() first */
    if (json_is_array(items)) {
        json_array_foreach(items, i, it)
        {
            json_array_append_new(rows, row_of(p, it, o));
        }
        for (i = 0; i < 3; i++)
            if (json_object_get(meta, keys[i]))
                json_object_set(tmeta, keys[i], json_object_get(meta, keys[i]));
    } else {
        json_array_append_new(rows, row_of(p, doc, o));
        if (json_object_get(meta, "resourceVersion"))
            json_object_set(tmeta, "resourceVersion", json_object_get(meta, "resourceVersion"));
    }
    return json_pack("{s:s, s:s+, s:o, s:o, s:o}", "kind", "Table", "apiVersion", "meta.k8s.io/",
                     o->version, "metadata", tmeta, "columnDefinitions",
                     o->no_headers ? json_null() : columns(p), "rows", rows);
}

void sim_table_event(const char *path, json_t *event, struct sim_table_opts *o)
{
    const char *type = str_at(event, "type", NULL, NULL);
    json_t *obj = json_object_get(event, "object");

    if (!type || !obj || !printer_of(path) ||
        (strcmp(type, "ADDED") != 0 && strcmp(type, "MODIFIED") != 0 &&
         strcmp(type, "DELETED") != 0))
        return;
    json_object_set_new(event, "object", sim_table_of(path, obj, o));
    o->no_headers = true;
}

void sim_table_reply(const char *path, const char *accept, const char *include_object,
                     int64_t now_ms, struct sim_reply *rep)
{
    struct sim_table_opts o = {.version = sim_table_wanted(accept), .now_ms = now_ms};
    json_t *doc, *table;

    if (!o.version || rep->status != 200 || !printer_of(path))
        return;
    if (sim_table_include_of(include_object, &o.include) != 0) {
        json_t *st = json_pack("{s:s, s:s, s:{}, s:s, s:s++, s:s, s:i}", "kind", "Status",
                               "apiVersion", "v1", "metadata", "status", "Failure", "message",
                               "unrecognized includeObject value: \"", include_object, "\"",
                               "reason", "BadRequest", "code", 400);

        free(rep->body);
        rep->body = json_dumps(st, JSON_COMPACT);
        rep->len = strlen(rep->body);
        rep->status = 400;
        rep->list = false;
        json_decref(st);
        return;
    }
    doc = json_loadb(rep->body, rep->len, 0, NULL);
    if (!doc)
        return;
    table = sim_table_of(path, doc, &o);
    json_decref(doc);
    free(rep->body);
    rep->body = json_dumps(table, JSON_COMPACT);
    rep->len = strlen(rep->body);
    json_decref(table);
}
