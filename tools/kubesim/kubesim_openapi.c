/* kubesim_openapi.c -- OpenAPI v3 index and group/version documents of a simulated cluster,
 * built from the discovery table and a table of the batch/v1 Job's fields; the unknown-field
 * check the fieldValidation parameter asks for. */
#include "tools/kubesim/kubesim_openapi.h"
#include "tools/kubesim/kubesim_discovery.h"

#include "base/mem.h"
#include "base/sha256.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the field table ------------------------------------------------------------------------ */

/* How a field's value is shaped; REF, ARRAY and the maps name their element type. */
enum shape {
    STR,
    INT,
    BOOL,
    TIME,
    STRS,      /* array of strings */
    STR_MAP,   /* object of strings */
    QTY_MAP,   /* object of quantities */
    REF,       /* an object of type ref */
    ARRAY,     /* array of objects of type ref */
    OPEN,      /* an object whose fields the simulator does not list */
    OPEN_ARRAY /* array of such objects */
};

struct prop {
    const char *name;
    enum shape shape;
    const char *ref; /* REF, ARRAY: the schema id */
};

struct type {
    const char *id;
    const struct prop *props;
};

#define META     "io.k8s.apimachinery.pkg.apis.meta.v1."
#define CORE     "io.k8s.api.core.v1."
#define QUANTITY "io.k8s.apimachinery.pkg.api.resource.Quantity"
#define END                                                                                        \
    {                                                                                              \
        NULL, STR, NULL                                                                            \
    }

/* Fields as in Kubernetes 1.32's API reference (k8s.io/api), the types fedsched's Jobs use
 * down to their containers. */
static const struct prop job[] = {{"apiVersion", STR, NULL},
                                  {"kind", STR, NULL},
                                  {"metadata", REF, META "ObjectMeta"},
                                  {"spec", REF, "io.k8s.api.batch.v1.JobSpec"},
                                  {"status", OPEN, NULL},
                                  END};
static const struct prop object_meta[] = {{"annotations", STR_MAP, NULL},
                                          {"creationTimestamp", TIME, NULL},
                                          {"deletionGracePeriodSeconds", INT, NULL},
                                          {"deletionTimestamp", TIME, NULL},
                                          {"finalizers", STRS, NULL},
                                          {"generateName", STR, NULL},
                                          {"generation", INT, NULL},
                                          {"labels", STR_MAP, NULL},
                                          {"managedFields", OPEN_ARRAY, NULL},
                                          {"name", STR, NULL},
                                          {"namespace", STR, NULL},
                                          {"ownerReferences", ARRAY, META "OwnerReference"},
                                          {"resourceVersion", STR, NULL},
                                          {"selfLink", STR, NULL},
                                          {"uid", STR, NULL},
                                          END};
static const struct prop owner_reference[] = {{"apiVersion", STR, NULL},
                                              {"blockOwnerDeletion", BOOL, NULL},
                                              {"controller", BOOL, NULL},
                                              {"kind", STR, NULL},
                                              {"name", STR, NULL},
                                              {"uid", STR, NULL},
                                              END};
static const struct prop job_spec[] = {{"activeDeadlineSeconds", INT, NULL},
                                       {"backoffLimit", INT, NULL},
                                       {"backoffLimitPerIndex", INT, NULL},
                                       {"completionMode", STR, NULL},
                                       {"completions", INT, NULL},
                                       {"managedBy", STR, NULL},
                                       {"maxFailedIndexes", INT, NULL},
                                       {"parallelism", INT, NULL},
                                       {"podFailurePolicy", OPEN, NULL},
                                       {"podReplacementPolicy", STR, NULL},
                                       {"selector", REF, META "LabelSelector"},
                                       {"successPolicy", OPEN, NULL},
                                       {"suspend", BOOL, NULL},
                                       {"template", REF, CORE "PodTemplateSpec"},
                                       {"ttlSecondsAfterFinished", INT, NULL},
                                       END};
static const struct prop label_selector[] = {
    {"matchExpressions", ARRAY, META "LabelSelectorRequirement"},
    {"matchLabels", STR_MAP, NULL},
    END};
static const struct prop label_selector_requirement[] = {
    {"key", STR, NULL}, {"operator", STR, NULL}, {"values", STRS, NULL}, END};
static const struct prop pod_template_spec[] = {
    {"metadata", REF, META "ObjectMeta"}, {"spec", REF, CORE "PodSpec"}, END};
static const struct prop pod_spec[] = {{"activeDeadlineSeconds", INT, NULL},
                                       {"affinity", OPEN, NULL},
                                       {"automountServiceAccountToken", BOOL, NULL},
                                       {"containers", ARRAY, CORE "Container"},
                                       {"dnsConfig", OPEN, NULL},
                                       {"dnsPolicy", STR, NULL},
                                       {"enableServiceLinks", BOOL, NULL},
                                       {"ephemeralContainers", OPEN_ARRAY, NULL},
                                       {"hostAliases", OPEN_ARRAY, NULL},
                                       {"hostIPC", BOOL, NULL},
                                       {"hostNetwork", BOOL, NULL},
                                       {"hostPID", BOOL, NULL},
                                       {"hostUsers", BOOL, NULL},
                                       {"hostname", STR, NULL},
                                       {"imagePullSecrets", ARRAY, CORE "LocalObjectReference"},
                                       {"initContainers", ARRAY, CORE "Container"},
                                       {"nodeName", STR, NULL},
                                       {"nodeSelector", STR_MAP, NULL},
                                       {"os", OPEN, NULL},
                                       {"overhead", QTY_MAP, NULL},
                                       {"preemptionPolicy", STR, NULL},
                                       {"priority", INT, NULL},
                                       {"priorityClassName", STR, NULL},
                                       {"readinessGates", OPEN_ARRAY, NULL},
                                       {"resourceClaims", OPEN_ARRAY, NULL},
                                       {"resources", REF, CORE "ResourceRequirements"},
                                       {"restartPolicy", STR, NULL},
                                       {"runtimeClassName", STR, NULL},
                                       {"schedulerName", STR, NULL},
                                       {"schedulingGates", OPEN_ARRAY, NULL},
                                       {"securityContext", OPEN, NULL},
                                       {"serviceAccount", STR, NULL},
                                       {"serviceAccountName", STR, NULL},
                                       {"setHostnameAsFQDN", BOOL, NULL},
                                       {"shareProcessNamespace", BOOL, NULL},
                                       {"subdomain", STR, NULL},
                                       {"terminationGracePeriodSeconds", INT, NULL},
                                       {"tolerations", ARRAY, CORE "Toleration"},
                                       {"topologySpreadConstraints", OPEN_ARRAY, NULL},
                                       {"volumes", OPEN_ARRAY, NULL},
                                       END};
static const struct prop container[] = {{"args", STRS, NULL},
                                        {"command", STRS, NULL},
                                        {"env", ARRAY, CORE "EnvVar"},
                                        {"envFrom", OPEN_ARRAY, NULL},
                                        {"image", STR, NULL},
                                        {"imagePullPolicy", STR, NULL},
                                        {"lifecycle", OPEN, NULL},
                                        {"livenessProbe", OPEN, NULL},
                                        {"name", STR, NULL},
                                        {"ports", ARRAY, CORE "ContainerPort"},
                                        {"readinessProbe", OPEN, NULL},
                                        {"resizePolicy", OPEN_ARRAY, NULL},
                                        {"resources", REF, CORE "ResourceRequirements"},
                                        {"restartPolicy", STR, NULL},
                                        {"securityContext", OPEN, NULL},
                                        {"startupProbe", OPEN, NULL},
                                        {"stdin", BOOL, NULL},
                                        {"stdinOnce", BOOL, NULL},
                                        {"terminationMessagePath", STR, NULL},
                                        {"terminationMessagePolicy", STR, NULL},
                                        {"tty", BOOL, NULL},
                                        {"volumeDevices", OPEN_ARRAY, NULL},
                                        {"volumeMounts", ARRAY, CORE "VolumeMount"},
                                        {"workingDir", STR, NULL},
                                        END};
static const struct prop env_var[] = {
    {"name", STR, NULL}, {"value", STR, NULL}, {"valueFrom", OPEN, NULL}, END};
static const struct prop container_port[] = {{"containerPort", INT, NULL}, {"hostIP", STR, NULL},
                                             {"hostPort", INT, NULL},      {"name", STR, NULL},
                                             {"protocol", STR, NULL},      END};
static const struct prop resource_requirements[] = {
    {"claims", OPEN_ARRAY, NULL}, {"limits", QTY_MAP, NULL}, {"requests", QTY_MAP, NULL}, END};
static const struct prop volume_mount[] = {{"mountPath", STR, NULL},
                                           {"mountPropagation", STR, NULL},
                                           {"name", STR, NULL},
                                           {"readOnly", BOOL, NULL},
                                           {"recursiveReadOnly", STR, NULL},
                                           {"subPath", STR, NULL},
                                           {"subPathExpr", STR, NULL},
                                           END};
static const struct prop toleration[] = {{"effect", STR, NULL},   {"key", STR, NULL},
                                         {"operator", STR, NULL}, {"tolerationSeconds", INT, NULL},
                                         {"value", STR, NULL},    END};
static const struct prop local_object_reference[] = {{"name", STR, NULL}, END};

#define JOB_ID "io.k8s.api.batch.v1.Job"

static const struct type types[] = {
    {JOB_ID, job},
    {META "ObjectMeta", object_meta},
    {META "OwnerReference", owner_reference},
    {"io.k8s.api.batch.v1.JobSpec", job_spec},
    {META "LabelSelector", label_selector},
    {META "LabelSelectorRequirement", label_selector_requirement},
    {CORE "PodTemplateSpec", pod_template_spec},
    {CORE "PodSpec", pod_spec},
    {CORE "Container", container},
    {CORE "EnvVar", env_var},
    {CORE "ContainerPort", container_port},
    {CORE "ResourceRequirements", resource_requirements},
    {CORE "VolumeMount", volume_mount},
    {CORE "Toleration", toleration},
    {CORE "LocalObjectReference", local_object_reference},
};

#define N_TYPES (sizeof(types) / sizeof(types[0]))

static const struct type *type_of(const char *id)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (strcmp(types[i].id, id) == 0)
            return &types[i];
    return NULL;
}

/* ---- unknown fields ----------------------------------------------------------------------- */

static void unknown_in(const struct type *t, const json_t *obj, const char *path, json_t *out);

static void unknown_in_value(const struct prop *p, const json_t *v, const char *path, json_t *out)
{
    size_t i;
    json_t *x;

    if (p->shape == REF && json_is_object(v)) {
        unknown_in(type_of(p->ref), v, path, out);
    } else if (p->shape == ARRAY && json_is_array(v)) {
        json_array_foreach(v, i, x)
        {
            char *sub = xasprintf("%s[%zu]", path, i);

            if (json_is_object(x))
                unknown_in(type_of(p->ref), x, sub, out);
            free(sub);
        }
    }
}

static void unknown_in(const struct type *t, const json_t *obj, const char *path, json_t *out)
{
    const char *key;
    json_t *v;

    json_object_foreach((json_t *)obj, key, v)
    {
        const struct prop *p = t->props;
        char *sub = path[0] ? xasprintf("%s.%s", path, key) : xstrdup(key);

        while (p->name && strcmp(p->name, key) != 0)
            p++;
        if (!p->name)
            json_array_append_new(out, json_sprintf("unknown field \"%s\"", sub));
        else
            unknown_in_value(p, v, sub, out);
        free(sub);
    }
}

json_t *sim_openapi_job_unknown_fields(const json_t *obj)
{
    json_t *out = json_array();

    unknown_in(type_of(JOB_ID), obj, "", out);
    return out;
}

char *sim_warning_header(const char *message)
{
    size_t n = strlen(message), k = 0;
    char *out = xmalloc(2 * n + 9);

    k += (size_t)snprintf(out, 8, "299 - \"");
    for (const char *p = message; *p; p++) {
        if (*p == '"' || *p == '\\')
            out[k++] = '\\';
        out[k++] = *p;
    }
    out[k++] = '"';
    out[k] = '\0';
    return out;
}

/* Whether path is a collection of Jobs: /apis/batch/v1/namespaces/NS/jobs. */
static bool is_jobs_collection(const char *path)
{
    const char *p = "/apis/batch/v1/namespaces/";
    const char *ns = path + strlen(p), *slash;

    if (strncmp(path, p, strlen(p)) != 0)
        return false;
    slash = strchr(ns, '/');
    return slash && slash > ns && strcmp(slash, "/jobs") == 0;
}

int sim_openapi_check_create(const char *path, const char *directive, const char *body, size_t len,
                             json_t **warnings, int *code, char **message)
{
    json_t *obj, *unknown;
    const char *d = directive && *directive ? directive : "Warn";
    char *joined = NULL;
    size_t i;
    json_t *u;

    *warnings = NULL;
    if (strcmp(d, "Ignore") != 0 && strcmp(d, "Warn") != 0 && strcmp(d, "Strict") != 0) {
        *code = 422;
        *message = xasprintf("CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: "
                             "Unsupported value: \"%s\": supported values: \"\", \"Ignore\", "
                             "\"Strict\", \"Warn\"",
                             d);
        return -1;
    }
    if (strcmp(d, "Ignore") == 0 || !is_jobs_collection(path))
        return 0;
    obj = json_loadb(body, len, 0, NULL);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return 0;
    }
    unknown = sim_openapi_job_unknown_fields(obj);
    json_decref(obj);
    if (json_array_size(unknown) == 0) {
        json_decref(unknown);
        return 0;
    }
    if (strcmp(d, "Warn") == 0) {
        *warnings = unknown;
        return 0;
    }
    json_array_foreach(unknown, i, u)
    {
        char *next =
            xasprintf("%s%s%s", joined ? joined : "", joined ? ", " : "", json_string_value(u));

        free(joined);
        joined = next;
    }
    json_decref(unknown);
    *code = 400;
    *message = xasprintf("Job in version \"v1\" cannot be handled as a Job: strict decoding "
                         "error: %s",
                         joined);
    free(joined);
    return -1;
}

/* ---- schemas ------------------------------------------------------------------------------- */

static json_t *ref_to(const char *id)
{
    return json_pack("{s:[{s:s+}]}", "allOf", "$ref", "#/components/schemas/", id);
}

static json_t *prop_schema(const struct prop *p)
{
    switch (p->shape) {
    case STR: return json_pack("{s:s}", "type", "string");
    case INT: return json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
    case BOOL: return json_pack("{s:s}", "type", "boolean");
    case TIME: return json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
    case STRS: return json_pack("{s:s, s:{s:s}}", "type", "array", "items", "type", "string");
    case STR_MAP:
        return json_pack("{s:s, s:{s:s}}", "type", "object", "additionalProperties", "type",
                         "string");
    case QTY_MAP:
        return json_pack("{s:s, s:o}", "type", "object", "additionalProperties", ref_to(QUANTITY));
    case REF: return ref_to(p->ref);
    case ARRAY: return json_pack("{s:s, s:o}", "type", "array", "items", ref_to(p->ref));
    case OPEN:
        return json_pack("{s:s, s:s}", "type", "object", "description",
                         "Not modelled by the simulator: its fields are not listed or checked.");
    case OPEN_ARRAY:
        return json_pack("{s:s, s:{s:s, s:s}}", "type", "array", "items", "type", "object",
                         "description",
                         "Not modelled by the simulator: its fields are not listed or checked.");
    }
    return json_object();
}

static json_t *type_schema(const struct type *t)
{
    json_t *props = json_object();

    for (const struct prop *p = t->props; p->name; p++)
        json_object_set_new(props, p->name, prop_schema(p));
    return json_pack("{s:s, s:o}", "type", "object", "properties", props);
}

/* ---- group/version documents --------------------------------------------------------------- */

/* The schema id prefix of gv's kinds: io.k8s.api.core.v1., io.k8s.api.batch.v1., and for
 * a custom resource its group reversed (ray.io/v1: io.ray.v1.), as the API server names them. */
static char *id_prefix(const char *gv)
{
    const char *slash = strchr(gv, '/');
    char group[128], out[256] = "";
    const char *k8s = ".k8s.io";
    size_t n;

    if (!slash)
        return xasprintf("io.k8s.api.core.%s.", gv);
    snprintf(group, sizeof(group), "%.*s", (int)(slash - gv), gv);
    n = strlen(group);
    if (strcmp(group, "batch") == 0 ||
        (n > strlen(k8s) && strcmp(group + n - strlen(k8s), k8s) == 0 && !strchr(group, '-') &&
         strchr(group, '.') == group + n - strlen(k8s)))
        return xasprintf("io.k8s.api.%.*s.%s.", (int)strcspn(group, "."), group, slash + 1);
    while (n > 0) {
        char *dot;

        group[n] = '\0';
        dot = strrchr(group, '.');
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s.", dot ? dot + 1 : group);
        n = dot ? (size_t)(dot - group) : 0;
    }
    return xasprintf("%s%s.", out, slash + 1);
}

/* The operation-id stem of gv: CoreV1, BatchV1, SchedulingV1, RayIoV1, JobsetXK8sIoV1alpha2. */
static void op_stem(const char *gv, char *out, size_t size)
{
    const char *slash = strchr(gv, '/'), *p;
    size_t n = 0, glen;
    bool up = true;

    if (!slash) {
        snprintf(out, size, "Core%c%s", toupper((unsigned char)gv[0]), gv + 1);
        return;
    }
    glen = (size_t)(slash - gv);
    if (glen > 7 && strncmp(slash - 7, ".k8s.io", 7) == 0 && !memchr(gv, '-', glen))
        glen -= 7;
    for (p = gv; p < gv + glen && n + 2 < size; p++) {
        if (*p == '.' || *p == '-') {
            up = true;
            continue;
        }
        out[n++] = up ? (char)toupper((unsigned char)*p) : *p;
        up = false;
    }
    snprintf(out + n, size - n, "%c%s", toupper((unsigned char)slash[1]), slash + 2);
}

static json_t *query_param(const char *name, const char *type, const char *desc)
{
    return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "name", name, "in", "query", "description",
                     desc, "schema", "type", type, "uniqueItems", 1);
}

static json_t *write_params(bool patch)
{
    json_t *a = json_array();

    json_array_append_new(a, query_param("dryRun", "string",
                                         "When present, indicates that modifications should not "
                                         "be persisted."));
    json_array_append_new(a, query_param("fieldManager", "string",
                                         "A name associated with the actor or entity that is "
                                         "making these changes."));
    json_array_append_new(
        a, query_param("fieldValidation", "string",
                       "How the server handles objects in the request containing unknown or "
                       "duplicate fields: Ignore (drop them), Warn (the default: drop them and "
                       "answer a Warning header for each), Strict (refuse the request with a "
                       "BadRequest naming them). The simulator finds unknown fields in Jobs."));
    if (patch)
        json_array_append_new(
            a, query_param("force", "boolean", "Force is going to \"force\" Apply requests."));
    return a;
}

static json_t *list_params(void)
{
    static const char *const names[][2] = {{"allowWatchBookmarks", "boolean"},
                                           {"continue", "string"},
                                           {"fieldSelector", "string"},
                                           {"labelSelector", "string"},
                                           {"limit", "integer"},
                                           {"resourceVersion", "string"},
                                           {"resourceVersionMatch", "string"},
                                           {"sendInitialEvents", "boolean"},
                                           {"timeoutSeconds", "integer"},
                                           {"watch", "boolean"}};
    json_t *a = json_array();

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        json_array_append_new(a, query_param(names[i][0], names[i][1], names[i][0]));
    return a;
}

static json_t *delete_params(void)
{
    json_t *a = json_array();

    json_array_append_new(a, query_param("dryRun", "string", "dryRun"));
    json_array_append_new(a, query_param("gracePeriodSeconds", "integer", "gracePeriodSeconds"));
    json_array_append_new(a, query_param("propagationPolicy", "string", "propagationPolicy"));
    return a;
}

/* One operation on kind (schema id id) of gv. */
static json_t *operation(const char *gv, const char *action, const char *op_id, const char *kind,
                         const char *id, json_t *params, bool body)
{
    const char *slash = strchr(gv, '/');
    char group[128];
    json_t *op;

    snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - gv) : 0, gv);
    op = json_pack("{s:s, s:o, s:{s:{s:s, s:{s:{s:o}}}, s:{s:s}}, s:s, s:{s:s, s:s, s:s}}",
                   "operationId", op_id, "parameters", params, "responses", "200", "description",
                   "OK", "content", "application/json", "schema", ref_to(id), "401", "description",
                   "Unauthorized", "x-kubernetes-action", action, "x-kubernetes-group-version-kind",
                   "group", group, "version", slash ? slash + 1 : gv, "kind", kind);
    if (body)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:{s:{s:o}}, s:b}", "content", "application/json", "schema",
                                      ref_to(id), "required", 1));
    return op;
}

static json_t *path_param(const char *name)
{
    return json_pack("{s:s, s:s, s:b, s:{s:s, s:b}}", "name", name, "in", "path", "required", 1,
                     "schema", "type", "string", "uniqueItems", 1);
}

static bool has_verb(const json_t *res, const char *verb)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(res, "verbs"), i, v)
    {
        if (strcmp(json_string_value(v), verb) == 0)
            return true;
    }
    return false;
}

/* Adds the paths of resource res (an APIResource) of gv to paths. */
static void add_resource_paths(json_t *paths, const char *gv, const json_t *res, const char *pre)
{
    const char *name = json_string_value(json_object_get(res, "name"));
    const char *kind = json_string_value(json_object_get(res, "kind"));
    bool ns = json_is_true(json_object_get(res, "namespaced"));
    char *root = strchr(gv, '/') ? xasprintf("/apis/%s", gv) : xasprintf("/api/%s", gv);
    char *coll =
        ns ? xasprintf("%s/namespaces/{namespace}/%s", root, name) : xasprintf("%s/%s", root, name);
    char *item = xasprintf("%s/{name}", coll);
    char *id = xasprintf("%s%s", pre, kind), *list_id = xasprintf("%s%sList", pre, kind);
    char stem[96], op[192];
    const char *nsd = ns ? "Namespaced" : "";
    json_t *c = json_object(), *it = json_object();

    op_stem(gv, stem, sizeof(stem));
    if (has_verb(res, "list")) {
        snprintf(op, sizeof(op), "list%s%s%s", stem, nsd, kind);
        json_object_set_new(c, "get", operation(gv, "list", op, kind, list_id, list_params(), 0));
    }
    if (has_verb(res, "create")) {
        snprintf(op, sizeof(op), "create%s%s%s", stem, nsd, kind);
        json_object_set_new(c, "post", operation(gv, "post", op, kind, id, write_params(0), 1));
    }
    if (has_verb(res, "get")) {
        snprintf(op, sizeof(op), "read%s%s%s", stem, nsd, kind);
        json_object_set_new(it, "get", operation(gv, "get", op, kind, id, json_array(), 0));
    }
    if (has_verb(res, "update")) {
        snprintf(op, sizeof(op), "replace%s%s%s", stem, nsd, kind);
        json_object_set_new(it, "put", operation(gv, "put", op, kind, id, write_params(0), 1));
    }
    if (has_verb(res, "patch")) {
        snprintf(op, sizeof(op), "patch%s%s%s", stem, nsd, kind);
        json_object_set_new(it, "patch", operation(gv, "patch", op, kind, id, write_params(1), 1));
    }
    if (has_verb(res, "delete")) {
        snprintf(op, sizeof(op), "delete%s%s%s", stem, nsd, kind);
        json_object_set_new(it, "delete",
                            operation(gv, "delete", op, kind, id, delete_params(), 0));
    }
    if (ns) {
        json_object_set_new(c, "parameters", json_pack("[o]", path_param("namespace")));
        json_object_set_new(it, "parameters",
                            json_pack("[o, o]", path_param("name"), path_param("namespace")));
    } else {
        json_object_set_new(it, "parameters", json_pack("[o]", path_param("name")));
    }
    if (json_object_size(c) > 1 || (!ns && json_object_size(c) > 0))
        json_object_set_new(paths, coll, c);
    else
        json_decref(c);
    if (json_object_size(it) > 1)
        json_object_set_new(paths, item, it);
    else
        json_decref(it);
    if (ns && has_verb(res, "list")) {
        char *all = xasprintf("%s/%s", root, name);

        snprintf(op, sizeof(op), "list%s%sForAllNamespaces", stem, kind);
        json_object_set_new(
            paths, all,
            json_pack("{s:o}", "get", operation(gv, "list", op, kind, list_id, list_params(), 0)));
        free(all);
    }
    free(root);
    free(coll);
    free(item);
    free(id);
    free(list_id);
}

/* The schema of a kind the field table does not list: what every object has. */
static json_t *kind_schema(const char *gv, const char *kind, bool list, const char *id)
{
    const char *slash = strchr(gv, '/');
    char group[128];
    json_t *s;

    snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - gv) : 0, gv);
    if (list)
        s = json_pack("{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s, s:o}, s:{s:s}}}", "type", "object",
                      "properties", "apiVersion", "type", "string", "kind", "type", "string",
                      "items", "type", "array", "items", ref_to(id), "metadata", "type", "object");
    else if (type_of(id))
        s = type_schema(type_of(id));
    else
        s = json_pack("{s:s, s:s, s:{s:{s:s}, s:{s:s}, s:o}}", "type", "object", "description",
                      "Its fields other than these are not listed by the simulator.", "properties",
                      "apiVersion", "type", "string", "kind", "type", "string", "metadata",
                      ref_to(META "ObjectMeta"));
    json_object_set_new(s, "x-kubernetes-group-version-kind",
                        json_pack("[{s:s, s:s, s:s+}]", "group", group, "version",
                                  slash ? slash + 1 : gv, "kind", kind, list ? "List" : ""));
    return s;
}

/* The OpenAPI v3 document of gv ("v1", "batch/v1"), NULL when the cluster does not serve it. */
static json_t *gv_document(const json_t *crds, const char *gv)
{
    json_t *rl = sim_discovery_resources(crds, gv), *paths, *schemas, *res;
    char *pre;
    size_t i;

    if (!rl)
        return NULL;
    pre = id_prefix(gv);
    paths = json_object();
    schemas = json_object();
    json_array_foreach(json_object_get(rl, "resources"), i, res)
    {
        const char *kind = json_string_value(json_object_get(res, "kind"));
        char *id = xasprintf("%s%s", pre, kind), *list_id = xasprintf("%sList", id);

        add_resource_paths(paths, gv, res, pre);
        json_object_set_new(schemas, id, kind_schema(gv, kind, false, id));
        if (has_verb(res, "list"))
            json_object_set_new(schemas, list_id, kind_schema(gv, kind, true, id));
        free(id);
        free(list_id);
    }
    /* The types the kinds refer to. */
    for (size_t t = 1; t < N_TYPES; t++)
        if (strcmp(gv, "batch/v1") == 0 || strncmp(types[t].id, META, strlen(META)) == 0)
            json_object_set_new(schemas, types[t].id, type_schema(&types[t]));
    if (strcmp(gv, "batch/v1") == 0)
        json_object_set_new(
            schemas, QUANTITY,
            json_pack("{s:[{s:s}, {s:s}]}", "oneOf", "type", "string", "type", "number"));
    json_decref(rl);
    free(pre);
    return json_pack("{s:s, s:{s:s, s:s}, s:o, s:{s:o}}", "openapi", "3.0.0", "info", "title",
                     "Kubernetes", "version", "v1.29.3-fedsched-sim", "paths", paths, "components",
                     "schemas", schemas);
}

/* ---- serving ---------------------------------------------------------------------------------- */

static char *dump(const json_t *doc, size_t *len)
{
    char *body = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);

    *len = strlen(body);
    return body;
}

static void hash_of(const char *body, size_t len, char hex[2 * SHA256_LEN + 1])
{
    sha256_hex(body, len, hex);
    for (char *p = hex; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

/* The index: {"paths": {"api/v1": {"serverRelativeURL": "/openapi/v3/api/v1?hash=..."}}}. */
static json_t *index_document(const json_t *crds)
{
    json_t *groups = sim_discovery_groups(crds), *paths = json_object(), *g, *v;
    size_t i, k;
    char *gvs[64];
    size_t n = 0;

    gvs[n++] = xstrdup("v1");
    json_array_foreach(json_object_get(groups, "groups"), i, g)
    {
        json_array_foreach(json_object_get(g, "versions"), k, v)
        {
            if (n < sizeof(gvs) / sizeof(gvs[0]))
                gvs[n++] = xstrdup(json_string_value(json_object_get(v, "groupVersion")));
        }
    }
    json_decref(groups);
    for (i = 0; i < n; i++) {
        json_t *doc = gv_document(crds, gvs[i]);
        char hex[2 * SHA256_LEN + 1], *key, *body, *url;
        size_t len;

        body = dump(doc, &len);
        hash_of(body, len, hex);
        key = strchr(gvs[i], '/') ? xasprintf("apis/%s", gvs[i]) : xasprintf("api/%s", gvs[i]);
        url = xasprintf("/openapi/v3/%s?hash=%s", key, hex);
        json_object_set_new(paths, key, json_pack("{s:s}", "serverRelativeURL", url));
        free(url);
        free(key);
        free(body);
        json_decref(doc);
        free(gvs[i]);
    }
    return json_pack("{s:o}", "paths", paths);
}

void sim_openapi_serve(const json_t *crds, const char *path, const char *hash, const char *prefix,
                       struct sim_openapi_reply *out)
{
    const char *rest = path + strlen("/openapi/v3");
    char gv[160], hex[2 * SHA256_LEN + 1];
    json_t *doc;

    memset(out, 0, sizeof(*out));
    out->status = 404;
    if (strncmp(path, "/openapi/v3", 11) != 0)
        return;
    if (*rest == '\0' || strcmp(rest, "/") == 0) {
        doc = index_document(crds);
        out->body = dump(doc, &out->len);
        out->status = 200;
        json_decref(doc);
        return;
    }
    /* /api/VERSION or /apis/GROUP/VERSION, nothing more. */
    if (strncmp(rest, "/api/", 5) == 0 && !strchr(rest + 5, '/'))
        snprintf(gv, sizeof(gv), "%s", rest + 5);
    else if (strncmp(rest, "/apis/", 6) == 0 && strchr(rest + 6, '/') &&
             strchr(rest + 6, '/') == strrchr(rest + 6, '/'))
        snprintf(gv, sizeof(gv), "%s", rest + 6);
    else
        return;
    doc = gv_document(crds, gv);
    if (!doc)
        return;
    out->body = dump(doc, &out->len);
    json_decref(doc);
    hash_of(out->body, out->len, hex);
    if (hash && *hash && strcmp(hash, hex) != 0) {
        /* A stale hash: the API server redirects to the document's current address. */
        free(out->body);
        out->body = NULL;
        out->len = 0;
        out->status = 301;
        snprintf(out->location, sizeof(out->location), "%s/openapi/v3%s?hash=%s", prefix, rest,
                 hex);
        return;
    }
    out->immutable = hash && *hash;
    out->status = 200;
}
