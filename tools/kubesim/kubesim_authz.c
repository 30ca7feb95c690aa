/* kubesim_authz.c -- authorization of a simulated cluster: request attributes, the
 * scenario's forbidden list, Forbidden messages and SelfSubjectAccessReviews. */
#include "tools/kubesim/kubesim_authz.h"

#include <stdio.h>
#include <string.h>

#define SEGS 8

static int split(const char *path, char seg[][254])
{
    int n = 0;

    while (*path == '/')
        path++;
    while (*path && n < SEGS) {
        size_t len = strcspn(path, "/");

        snprintf(seg[n++], 254, "%.*s", (int)(len < 253 ? len : 253), path);
        path += len;
        while (*path == '/')
            path++;
    }
    return *path ? -1 : n;
}

static const char *verb_of(const char *method, bool named)
{
    if (strcmp(method, "POST") == 0)
        return "create";
    if (strcmp(method, "PUT") == 0)
        return "update";
    if (strcmp(method, "PATCH") == 0)
        return "patch";
    if (strcmp(method, "DELETE") == 0)
        return named ? "delete" : "deletecollection";
    return named ? "get" : "list";
}

void sim_authz_attrs(const char *method, const char *path, struct sim_attrs *out)
{
    char seg[SEGS][254];
    int n = split(path, seg), at;

    memset(out, 0, sizeof(*out));
    if (n >= 2 && strcmp(seg[0], "api") == 0) {
        snprintf(out->version, sizeof(out->version), "%s", seg[1]);
        at = 2;
    } else if (n >= 3 && strcmp(seg[0], "apis") == 0) {
        snprintf(out->group, sizeof(out->group), "%s", seg[1]);
        snprintf(out->version, sizeof(out->version), "%s", seg[2]);
        at = 3;
    } else {
        return;
    }
    if (n == at)
        return; /* discovery of a group/version */
    /* /namespaces/NS/RES[/NAME] is namespaced; /namespaces[/NAME] is the namespace itself. */
    if (strcmp(seg[at], "namespaces") == 0 && n >= at + 3) {
        snprintf(out->ns, sizeof(out->ns), "%s", seg[at + 1]);
        at += 2;
    }
    out->resource = true;
    snprintf(out->res, sizeof(out->res), "%s", seg[at]);
    if (n > at + 1)
        snprintf(out->name, sizeof(out->name), "%s", seg[at + 1]);
    snprintf(out->verb, sizeof(out->verb), "%s", verb_of(method, n > at + 1));
}

bool sim_authz_allowed(const json_t *forbidden, const struct sim_attrs *a)
{
    char want[200];
    const json_t *x;
    size_t i;

    if (!a->resource)
        return true;
    snprintf(want, sizeof(want), "%s %s%s%s", a->verb, a->res, a->group[0] ? "." : "", a->group);
    json_array_foreach(forbidden, i, x)
    {
        if (json_is_string(x) && strcmp(json_string_value(x), want) == 0)
            return false;
    }
    return true;
}

void sim_authz_message(const struct sim_attrs *a, char *out, size_t size)
{
    char what[400], scope[120];

    snprintf(what, sizeof(what), "%s%s%s", a->res, a->group[0] ? "." : "", a->group);
    if (a->name[0]) {
        size_t n = strlen(what);

        snprintf(what + n, sizeof(what) - n, " \"%s\"", a->name);
    }
    if (a->ns[0])
        snprintf(scope, sizeof(scope), "in the namespace \"%s\"", a->ns);
    else
        snprintf(scope, sizeof(scope), "at the cluster scope");
    snprintf(out, size,
             "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" %s", what,
             SIM_AUTHZ_USER, a->verb, a->res, a->group, scope);
}

static void copy_attr(const json_t *ra, const char *key, char *out, size_t size)
{
    const char *v = json_string_value(json_object_get(ra, key));

    snprintf(out, size, "%s", v ? v : "");
}

json_t *sim_authz_review(const json_t *forbidden, const json_t *review, const char **why)
{
    const json_t *spec = json_object_get(review, "spec");
    const json_t *ra = json_object_get(spec, "resourceAttributes");
    struct sim_attrs a;
    json_t *out;
    bool ok;

    if (!json_is_object(ra) && !json_is_object(json_object_get(spec, "nonResourceAttributes"))) {
        *why = "spec.resourceAttributes: Required value: exactly one of nonResourceAttributes "
               "or resourceAttributes must be specified";
        return NULL;
    }
    memset(&a, 0, sizeof(a));
    a.resource = json_is_object(ra);
    copy_attr(ra, "verb", a.verb, sizeof(a.verb));
    copy_attr(ra, "group", a.group, sizeof(a.group));
    copy_attr(ra, "resource", a.res, sizeof(a.res));
    copy_attr(ra, "namespace", a.ns, sizeof(a.ns));
    copy_attr(ra, "name", a.name, sizeof(a.name));
    ok = sim_authz_allowed(forbidden, &a);
    out = json_deep_copy(review);
    json_object_set_new(out, "metadata", json_pack("{s:n}", "creationTimestamp"));
    json_object_set_new(out, "status",
                        ok ? json_pack("{s:b, s:s}", "allowed", 1, "reason",
                                       "RBAC: allowed by the simulator's role")
                           : json_pack("{s:b}", "allowed", 0));
    return out;
}
