/* kubesim_discovery.c -- discovery documents of a simulated cluster, legacy and aggregated,
 * built from a table of the resources each known group/version has. */
#include "tools/kubesim/kubesim_discovery.h"

#include <stdio.h>
#include <string.h>

/* One resource of a group/version, as an APIResource lists it. */
struct res {
    const char *gv;
    const char *name;
    const char *singular;
    const char *kind;
    bool namespaced;
    const char *short_name; /* NULL: none */
    bool create_only;       /* reviews: verbs ["create"] */
    bool read_only;         /* nodes as fedsched may see them: get, list, watch */
};

static const struct res resources[] = {
    {"v1", "namespaces", "namespace", "Namespace", false, "ns", false, false},
    {"v1", "nodes", "node", "Node", false, "no", false, true},
    {"v1", "pods", "pod", "Pod", true, "po", false, false},
    {"v1", "secrets", "secret", "Secret", true, NULL, false, false},
    {"v1", "services", "service", "Service", true, "svc", false, false},
    {"authorization.k8s.io/v1", "selfsubjectaccessreviews", "selfsubjectaccessreview",
     "SelfSubjectAccessReview", false, NULL, true, false},
    {"apps/v1", "deployments", "deployment", "Deployment", true, "deploy", false, true},
    {"autoscaling/v2", "horizontalpodautoscalers", "horizontalpodautoscaler",
     "HorizontalPodAutoscaler", true, "hpa", false, true},
    {"batch/v1", "jobs", "job", "Job", true, NULL, false, false},
    {"leaderworkerset.x-k8s.io/v1", "leaderworkersets", "leaderworkerset", "LeaderWorkerSet", true,
     "lws", false, true},
    {"scheduling.k8s.io/v1", "priorityclasses", "priorityclass", "PriorityClass", false, "pc",
     false, false},
    {"ray.io/v1", "rayclusters", "raycluster", "RayCluster", true, NULL, false, false},
    {"ray.io/v1", "rayjobs", "rayjob", "RayJob", true, NULL, false, false},
    {"ray.io/v1", "rayservices", "rayservice", "RayService", true, NULL, false, false},
    {"kubeflow.org/v1", "jaxjobs", "jaxjob", "JAXJob", true, NULL, false, false},
    {"kubeflow.org/v1", "mpijobs", "mpijob", "MPIJob", true, NULL, false, false},
    {"kubeflow.org/v1", "paddlejobs", "paddlejob", "PaddleJob", true, NULL, false, false},
    {"kubeflow.org/v1", "pytorchjobs", "pytorchjob", "PyTorchJob", true, NULL, false, false},
    {"kubeflow.org/v1", "tfjobs", "tfjob", "TFJob", true, NULL, false, false},
    {"kubeflow.org/v1", "xgboostjobs", "xgboostjob", "XGBoostJob", true, NULL, false, false},
    {"kubeflow.org/v2beta1", "mpijobs", "mpijob", "MPIJob", true, NULL, false, false},
    {"jobset.x-k8s.io/v1alpha2", "jobsets", "jobset", "JobSet", true, NULL, false, false},
};

static const char *const builtin_gvs[] = {"apps/v1", "authorization.k8s.io/v1", "autoscaling/v2",
                                          "batch/v1", "scheduling.k8s.io/v1"};

#define N_RES     (sizeof(resources) / sizeof(resources[0]))
#define N_BUILTIN (sizeof(builtin_gvs) / sizeof(builtin_gvs[0]))

json_t *sim_discovery_api(void)
{
    return json_pack("{s:s, s:[s], s:[{s:s, s:s}]}", "kind", "APIVersions", "versions", "v1",
                     "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                     "10.0.0.1:6443");
}

/* The group/versions served, built-in ones first, in the order given; no repeats. */
static json_t *served(const json_t *crds)
{
    json_t *all = json_array(), *x;
    size_t i, k;

    for (i = 0; i < N_BUILTIN; i++)
        json_array_append_new(all, json_string(builtin_gvs[i]));
    json_array_foreach(crds, i, x)
    {
        json_t *y;
        bool dup = false;

        json_array_foreach(all, k, y)
        {
            dup |= json_equal(x, y);
        }
        if (!dup && json_is_string(x))
            json_array_append(all, x);
    }
    return all;
}

bool sim_discovery_serves(const json_t *crds, const char *gv)
{
    json_t *all, *x;
    size_t i;
    bool yes = strcmp(gv, "v1") == 0;

    if (yes)
        return true;
    all = served(crds);
    json_array_foreach(all, i, x)
    {
        yes |= strcmp(json_string_value(x), gv) == 0;
    }
    json_decref(all);
    return yes;
}

static json_t *version_entry(const char *gv)
{
    return json_pack("{s:s, s:s}", "groupVersion", gv, "version", strchr(gv, '/') + 1);
}

/* The APIGroup of group from the served list; NULL when none of its versions is served. */
static json_t *group_of(const json_t *all, const char *group)
{
    json_t *versions = json_array(), *x;
    size_t i, n = strlen(group);

    json_array_foreach(all, i, x)
    {
        const char *gv = json_string_value(x);

        if (strncmp(gv, group, n) == 0 && gv[n] == '/')
            json_array_append_new(versions, version_entry(gv));
    }
    if (json_array_size(versions) == 0) {
        json_decref(versions);
        return NULL;
    }
    return json_pack("{s:s, s:o, s:O}", "name", group, "versions", versions, "preferredVersion",
                     json_array_get(versions, 0));
}

json_t *sim_discovery_groups(const json_t *crds)
{
    json_t *all = served(crds), *groups = json_array(), *x;
    size_t i;

    json_array_foreach(all, i, x)
    {
        const char *gv = json_string_value(x);
        char group[256];
        size_t k;
        json_t *g;
        bool seen = false;

        snprintf(group, sizeof(group), "%.*s", (int)(strchr(gv, '/') - gv), gv);
        json_array_foreach(groups, k, g)
        {
            seen |= strcmp(json_string_value(json_object_get(g, "name")), group) == 0;
        }
        if (!seen)
            json_array_append_new(groups, group_of(all, group));
    }
    json_decref(all);
    return json_pack("{s:s, s:s, s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups",
                     groups);
}

json_t *sim_discovery_group(const json_t *crds, const char *group)
{
    json_t *all = served(crds), *g = group_of(all, group);

    json_decref(all);
    if (!g)
        return NULL;
    json_object_set_new(g, "kind", json_string("APIGroup"));
    json_object_set_new(g, "apiVersion", json_string("v1"));
    return g;
}

static json_t *verbs(const struct res *r)
{
    if (r->create_only)
        return json_pack("[s]", "create");
    if (r->read_only)
        return json_pack("[s, s, s]", "get", "list", "watch");
    return json_pack("[s, s, s, s, s, s, s, s]", "create", "delete", "deletecollection", "get",
                     "list", "patch", "update", "watch");
}

json_t *sim_discovery_resources(const json_t *crds, const char *gv)
{
    json_t *list;

    if (!sim_discovery_serves(crds, gv))
        return NULL;
    list = json_array();
    for (size_t i = 0; i < N_RES; i++) {
        const struct res *r = &resources[i];
        json_t *o;

        if (strcmp(r->gv, gv) != 0)
            continue;
        o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", r->name, "singularName", r->singular,
                      "namespaced", r->namespaced, "kind", r->kind, "verbs", verbs(r));
        if (r->short_name)
            json_object_set_new(o, "shortNames", json_pack("[s]", r->short_name));
        json_array_append_new(list, o);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                     "groupVersion", gv, "resources", list);
}

/* The APIResourceDiscovery of r (aggregated discovery, apidiscovery.k8s.io/v2). */
static json_t *resource_discovery(const struct res *r)
{
    const char *slash = strchr(r->gv, '/');
    char group[128];
    json_t *o;

    snprintf(group, sizeof(group), "%.*s", slash ? (int)(slash - r->gv) : 0, r->gv);
    o = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s, s:s, s:o}", "resource", r->name, "responseKind",
                  "group", group, "version", slash ? slash + 1 : r->gv, "kind", r->kind, "scope",
                  r->namespaced ? "Namespaced" : "Cluster", "singularResource", r->singular,
                  "verbs", verbs(r));
    if (r->short_name)
        json_object_set_new(o, "shortNames", json_pack("[s]", r->short_name));
    return o;
}

/* The APIVersionDiscovery of gv, with every resource of the table under it. */
static json_t *version_discovery(const char *gv)
{
    const char *slash = strchr(gv, '/');
    json_t *list = json_array();

    for (size_t i = 0; i < N_RES; i++)
        if (strcmp(resources[i].gv, gv) == 0)
            json_array_append_new(list, resource_discovery(&resources[i]));
    return json_pack("{s:s, s:o, s:s}", "version", slash ? slash + 1 : gv, "resources", list,
                     "freshness", "Current");
}

json_t *sim_discovery_aggregated(const json_t *crds, bool core, const char *version)
{
    char api_version[64];

    json_t *items = json_array(), *groups, *g;
    size_t i;

    if (core) {
        json_array_append_new(
            items, json_pack("{s:{}, s:[o]}", "metadata", "versions", version_discovery("v1")));
        goto out;
    }
    groups = sim_discovery_groups(crds);
    json_array_foreach(json_object_get(groups, "groups"), i, g)
    {
        json_t *versions = json_array(), *v;
        size_t k;

        json_array_foreach(json_object_get(g, "versions"), k, v)
        {
            json_array_append_new(
                versions, version_discovery(json_string_value(json_object_get(v, "groupVersion"))));
        }
        json_array_append_new(items, json_pack("{s:{s:O}, s:o}", "metadata", "name",
                                               json_object_get(g, "name"), "versions", versions));
    }
    json_decref(groups);
out:
    snprintf(api_version, sizeof(api_version), "apidiscovery.k8s.io/%s", version);
    return json_pack("{s:s, s:s, s:{}, s:o}", "kind", "APIGroupDiscoveryList", "apiVersion",
                     api_version, "metadata", "items", items);
}

/* The version ("v2", "v2beta1") of aggregated discovery one media range names
 * ("application/json;g=...;v=v2;as=..."), its parameters in any order, spaces around them
 * ignored; NULL when it names something else. */
static const char *range_aggregated(const char *range, size_t len)
{
    static const char *const want[] = {"g=apidiscovery.k8s.io", "as=APIGroupDiscoveryList"};
    const char *version = NULL;
    int hits = 0;
    const char *p = range, *end = range + len;

    if (len < 16 || strncmp(range, "application/json", 16) != 0)
        return NULL;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        size_t n = (size_t)((semi ? semi : end) - p);

        while (n && *p == ' ')
            p++, n--;
        while (n && p[n - 1] == ' ')
            n--;
        for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++)
            hits += strlen(want[k]) == n && strncmp(p, want[k], n) == 0;
        if (n == 4 && strncmp(p, "v=v2", 4) == 0)
            version = "v2";
        if (n == 9 && strncmp(p, "v=v2beta1", 9) == 0)
            version = "v2beta1";
        p = semi ? semi + 1 : end;
    }
    return hits == 2 ? version : NULL;
}

const char *sim_discovery_wants_aggregated(const char *accept)
{
    const char *p = accept, *version;

    while (p && *p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);

        while (n && *p == ' ')
            p++, n--;
        version = range_aggregated(p, n);
        if (version)
            return version;
        p = comma ? comma + 1 : NULL;
    }
    return NULL;
}
