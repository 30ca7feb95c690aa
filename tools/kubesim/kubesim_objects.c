/* kubesim_objects.c -- Namespaces, Services, Secrets and PriorityClasses of a simulated
 * cluster: admission, storage and ownerReferences. */
#include "tools/kubesim/kubesim_objects.h"

#include "base/buf.h"
#include "base/dns.h"
#include "base/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sobj {
    const struct sim_resource *r;
    char ns[64];
    char name[254];
    json_t *obj;
};

/* One ownerReference: the owner's uid (a copy) and the object that names it. */
struct oref {
    char *owner;
    json_t *obj;
    const struct sim_resource *r; /* obj's resource */
};

struct sim_objects {
    struct sobj *v; /* sorted by resource, namespace, name */
    size_t n, cap;
    unsigned next_ip;  /* ClusterIP allocator */
    struct oref *refs; /* every ownerReference, sorted by owner uid, then object */
    size_t n_refs, cap_refs;
    struct buf went; /* uids of the objects removed since sim_objects_take_gone() */
};

static const struct sim_resource resources[] = {
    {"deployments", "Deployment", "apps/v1", true},
    {"horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling/v2", true},
    {"leaderworkersets", "LeaderWorkerSet", "leaderworkerset.x-k8s.io/v1", true},
    {"namespaces", "Namespace", "v1", false},
    {"priorityclasses", "PriorityClass", "scheduling.k8s.io/v1", false},
    {"secrets", "Secret", "v1", true},
    {"services", "Service", "v1", true},
};

const struct sim_resource *sim_objects_resource(const char *res)
{
    for (size_t i = 0; i < sizeof(resources) / sizeof(resources[0]); i++)
        if (strcmp(resources[i].res, res) == 0)
            return &resources[i];
    return NULL;
}

struct sim_objects *sim_objects_new(void)
{
    struct sim_objects *s = xcalloc(1, sizeof(*s));

    s->next_ip = 10;
    buf_init(&s->went, 0);
    return s;
}

void sim_objects_free(struct sim_objects **sp)
{
    if (!sp || !*sp)
        return;
    for (size_t i = 0; i < (*sp)->n; i++)
        json_decref((*sp)->v[i].obj);
    for (size_t i = 0; i < (*sp)->n_refs; i++)
        free((*sp)->refs[i].owner);
    free((*sp)->refs);
    buf_free(&(*sp)->went);
    free((*sp)->v);
    free(*sp);
    *sp = NULL;
}

static int cmp_key(const struct sobj *o, const char *res, const char *ns, const char *name)
{
    int r = strcmp(o->r->res, res);

    if (!r)
        r = strcmp(o->ns, ns);
    return r ? r : strcmp(o->name, name);
}

static size_t lower_bound(const struct sim_objects *s, const char *res, const char *ns,
                          const char *name)
{
    size_t lo = 0, hi = s->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_key(&s->v[mid], res, ns, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

json_t *sim_objects_get(const struct sim_objects *s, const char *res, const char *ns,
                        const char *name)
{
    size_t i = lower_bound(s, res, ns ? ns : "", name);

    return i < s->n && cmp_key(&s->v[i], res, ns ? ns : "", name) == 0 ? s->v[i].obj : NULL;
}

static json_t *owners(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
}

static const char *ref_uid(const json_t *ref)
{
    return json_string_value(json_object_get(ref, "uid"));
}

static const char *obj_uid(const json_t *obj)
{
    return json_string_value(json_object_get(json_object_get(obj, "metadata"), "uid"));
}

static int cmp_ref(const struct oref *r, const char *owner, const json_t *obj)
{
    int d = strcmp(r->owner, owner);

    if (d)
        return d;
    return r->obj < obj ? -1 : r->obj > obj;
}

/* The first entry of the owner index at or after (owner, obj); obj NULL: the first of owner. */
static size_t refs_lower_bound(const struct sim_objects *s, const char *owner, const json_t *obj)
{
    size_t lo = 0, hi = s->n_refs;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_ref(&s->refs[mid], owner, obj) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Indexes the ownerReferences of obj (in the store, of resource r). */
static void refs_add(struct sim_objects *s, const struct sim_resource *r, json_t *obj)
{
    const json_t *ref;
    size_t k;

    json_array_foreach(owners(obj), k, ref)
    {
        const char *u = ref_uid(ref);
        size_t at;

        if (!u)
            continue;
        if (s->n_refs == s->cap_refs) {
            s->cap_refs = s->cap_refs ? s->cap_refs * 2 : 32;
            s->refs = xrealloc(s->refs, s->cap_refs * sizeof(*s->refs));
        }
        at = refs_lower_bound(s, u, obj);
        memmove(&s->refs[at + 1], &s->refs[at], (s->n_refs - at) * sizeof(*s->refs));
        s->refs[at] = (struct oref){xstrdup(u), obj, r};
        s->n_refs++;
    }
}

static void refs_del_at(struct sim_objects *s, size_t at)
{
    free(s->refs[at].owner);
    memmove(&s->refs[at], &s->refs[at + 1], (s->n_refs - at - 1) * sizeof(*s->refs));
    s->n_refs--;
}

/* Drops obj's entries from the owner index. */
static void refs_del(struct sim_objects *s, const json_t *obj)
{
    const json_t *ref;
    size_t k;

    json_array_foreach(owners(obj), k, ref)
    {
        const char *u = ref_uid(ref);
        size_t at = u ? refs_lower_bound(s, u, obj) : s->n_refs;

        if (at < s->n_refs && cmp_ref(&s->refs[at], u, obj) == 0)
            refs_del_at(s, at);
    }
}

static void remove_at(struct sim_objects *s, size_t i)
{
    const char *u = obj_uid(s->v[i].obj);

    if (u)
        buf_append(&s->went, u, strlen(u) + 1);
    refs_del(s, s->v[i].obj);
    json_decref(s->v[i].obj);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

json_t *sim_objects_remove(struct sim_objects *s, const char *res, const char *ns, const char *name)
{
    size_t i = lower_bound(s, res, ns ? ns : "", name);
    json_t *o;

    if (i >= s->n || cmp_key(&s->v[i], res, ns ? ns : "", name) != 0)
        return NULL;
    o = json_incref(s->v[i].obj);
    remove_at(s, i);
    return o;
}

json_t *sim_objects_at(const struct sim_objects *s, size_t i, const char **res)
{
    if (i >= s->n)
        return NULL;
    *res = s->v[i].r->res;
    return s->v[i].obj;
}

size_t sim_objects_remove_namespace(struct sim_objects *s, const char *ns)
{
    size_t gone = 0;

    for (size_t i = s->n; i-- > 0;) {
        if (s->v[i].r->namespaced && strcmp(s->v[i].ns, ns) == 0) {
            remove_at(s, i);
            gone++;
        }
    }
    return gone;
}

void sim_objects_orphan(struct sim_objects *s, const char *uid)
{
    size_t at = refs_lower_bound(s, uid, NULL);

    while (at < s->n_refs && strcmp(s->refs[at].owner, uid) == 0) {
        json_t *obj = s->refs[at].obj, *refs = owners(obj);

        for (size_t k = json_array_size(refs); k-- > 0;) {
            const char *u = ref_uid(json_array_get(refs, k));

            if (u && strcmp(u, uid) == 0)
                json_array_remove(refs, k);
        }
        if (refs && json_array_size(refs) == 0)
            json_object_del(json_object_get(obj, "metadata"), "ownerReferences");
        refs_del_at(s, at);
    }
}

/* Whether obj has an owner that exists: none but those with uid gone (NULL: none known
 * gone) is asked about. */
static bool owned_alive(const json_t *obj, const char *ns, const char *gone,
                        bool (*alive)(void *arg, const json_t *ref, const char *ns), void *arg)
{
    const json_t *ref;
    size_t k;

    json_array_foreach(owners(obj), k, ref)
    {
        const char *u = ref_uid(ref);

        if (u && (!gone || strcmp(u, gone) != 0) && alive(arg, ref, ns))
            return true;
    }
    return false;
}

size_t sim_objects_collect_owned(struct sim_objects *s, const char *uid,
                                 bool (*alive)(void *arg, const json_t *ref, const char *ns),
                                 void *arg)
{
    size_t from = refs_lower_bound(s, uid, NULL), to = from, gone = 0;
    struct oref *named;

    while (to < s->n_refs && strcmp(s->refs[to].owner, uid) == 0)
        to++;
    if (to == from)
        return 0;
    /* A copy: removing an object drops its entries, wherever they are in the index. */
    named = xmalloc((to - from) * sizeof(*named));
    memcpy(named, &s->refs[from], (to - from) * sizeof(*named));
    for (size_t k = 0; k < to - from; k++)
        json_incref(named[k].obj);
    for (size_t k = 0; k < to - from; k++) {
        const json_t *md = json_object_get(named[k].obj, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *name = json_string_value(json_object_get(md, "name"));
        size_t i;

        ns = named[k].r->namespaced && ns ? ns : "";
        i = lower_bound(s, named[k].r->res, ns, name ? name : "");
        if (i >= s->n || s->v[i].obj != named[k].obj ||
            owned_alive(named[k].obj, ns, uid, alive, arg))
            continue; /* gone already (named twice), or an owner is alive */
        remove_at(s, i);
        gone++;
    }
    for (size_t k = 0; k < to - from; k++)
        json_decref(named[k].obj);
    free(named);
    return gone;
}

bool sim_objects_collect_one(struct sim_objects *s, const char *res, const char *ns,
                             const char *name,
                             bool (*alive)(void *arg, const json_t *ref, const char *ns), void *arg)
{
    size_t i = lower_bound(s, res, ns ? ns : "", name);

    if (i >= s->n || cmp_key(&s->v[i], res, ns ? ns : "", name) != 0 ||
        json_array_size(owners(s->v[i].obj)) == 0 ||
        owned_alive(s->v[i].obj, s->v[i].ns, NULL, alive, arg))
        return false;
    remove_at(s, i);
    return true;
}

bool sim_objects_take_gone(struct sim_objects *s, struct buf *out)
{
    if (s->went.len == 0)
        return false;
    buf_append(out, s->went.data, s->went.len);
    buf_reset(&s->went);
    return true;
}

/* ---- admission ---------------------------------------------------------------------------- */

static int refuse(struct sim_refusal *why, int code, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct sim_refusal *why, int code, const char *reason, const char *fmt, ...)
{
    va_list ap;

    why->code = code;
    snprintf(why->reason, sizeof(why->reason), "%s", reason);
    va_start(ap, fmt);
    vsnprintf(why->msg, sizeof(why->msg), fmt, ap);
    va_end(ap);
    return -1;
}

static int invalid(struct sim_refusal *why, const struct sim_resource *r, const char *name,
                   const char *field, const char *what)
{
    return refuse(why, 422, "Invalid", "%s \"%s\" is invalid: %s: %s", r->kind, name, field, what);
}

static bool name_ok(const struct sim_resource *r, const char *name)
{
    size_t n = strlen(name);

    if (strcmp(r->res, "namespaces") == 0)
        return dns_subdomain_ok(name, n, 63) && !strchr(name, '.');
    if (strcmp(r->res, "services") == 0) /* a DNS-1035 label: it starts with a letter */
        return dns_subdomain_ok(name, n, 63) && !strchr(name, '.') && name[0] >= 'a' &&
               name[0] <= 'z';
    return dns_subdomain_ok(name, n, 253);
}

static const char *name_rule(const struct sim_resource *r)
{
    if (strcmp(r->res, "namespaces") == 0)
        return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
               "or '-', and must start and end with an alphanumeric character";
    if (strcmp(r->res, "services") == 0)
        return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
               "start with an alphabetic character, and end with an alphanumeric character";
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character";
}

static int admit_namespace(json_t *obj, const char *name)
{
    json_t *md = json_object_get(obj, "metadata"), *labels = json_object_get(md, "labels");

    if (!json_is_object(labels)) {
        labels = json_object();
        json_object_set_new(md, "labels", labels);
    }
    json_object_set_new(labels, "kubernetes.io/metadata.name", json_string(name));
    json_object_set_new(obj, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
    json_object_set_new(obj, "status", json_pack("{s:s}", "phase", "Active"));
    return 0;
}

static int admit_port(const struct sim_resource *r, const char *name, json_t *p, size_t i, size_t n,
                      struct sim_refusal *why)
{
    json_t *port = json_object_get(p, "port");
    const char *proto = json_string_value(json_object_get(p, "protocol"));
    char field[64];

    snprintf(field, sizeof(field), "spec.ports[%zu].port", i);
    if (!json_is_integer(port) || json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        return invalid(why, r, name, field,
                       port ? "Invalid value: must be between 1 and 65535, inclusive"
                            : "Required value");
    if (n > 1 && !json_is_string(json_object_get(p, "name"))) {
        snprintf(field, sizeof(field), "spec.ports[%zu].name", i);
        return invalid(why, r, name, field, "Required value");
    }
    if (proto && strcmp(proto, "TCP") != 0 && strcmp(proto, "UDP") != 0 &&
        strcmp(proto, "SCTP") != 0) {
        snprintf(field, sizeof(field), "spec.ports[%zu].protocol", i);
        return invalid(why, r, name, field,
                       "Unsupported value: supported values: \"SCTP\", \"TCP\", \"UDP\"");
    }
    if (!proto)
        json_object_set_new(p, "protocol", json_string("TCP"));
    if (!json_object_get(p, "targetPort"))
        json_object_set(p, "targetPort", port);
    return 0;
}

static int admit_service(struct sim_objects *s, const struct sim_resource *r, json_t *obj,
                         const char *name, struct sim_refusal *why)
{
    json_t *spec = json_object_get(obj, "spec"), *ports, *p;
    const char *ip, *type;
    char addr[32];
    size_t i;

    if (!json_is_object(spec)) {
        spec = json_object();
        json_object_set_new(obj, "spec", spec);
    }
    ip = json_string_value(json_object_get(spec, "clusterIP"));
    type = json_string_value(json_object_get(spec, "type"));
    ports = json_object_get(spec, "ports");
    if (type && strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0 &&
        strcmp(type, "LoadBalancer") != 0 && strcmp(type, "ExternalName") != 0)
        return invalid(why, r, name, "spec.type",
                       "Unsupported value: supported values: \"ClusterIP\", \"ExternalName\", "
                       "\"LoadBalancer\", \"NodePort\"");
    if (ports && !json_is_array(ports))
        return invalid(why, r, name, "spec.ports", "Invalid value: must be an array");
    if (json_array_size(ports) == 0 && !(ip && strcmp(ip, "None") == 0))
        return invalid(why, r, name, "spec.ports", "Required value");
    if (json_object_get(spec, "selector") && !json_is_object(json_object_get(spec, "selector")))
        return invalid(why, r, name, "spec.selector", "Invalid value: must be a map");
    json_array_foreach(ports, i, p)
    {
        if (admit_port(r, name, p, i, json_array_size(ports), why) != 0)
            return -1;
    }
    if (!ip) {
        snprintf(addr, sizeof(addr), "10.96.%u.%u", (s->next_ip >> 8) & 0xff, s->next_ip & 0xff);
        s->next_ip++;
        ip = addr;
        json_object_set_new(spec, "clusterIP", json_string(ip));
    }
    json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
    if (!type)
        json_object_set_new(spec, "type", json_string("ClusterIP"));
    if (!json_object_get(spec, "sessionAffinity"))
        json_object_set_new(spec, "sessionAffinity", json_string("None"));
    json_object_set_new(spec, "ipFamilies", json_pack("[s]", "IPv4"));
    json_object_set_new(spec, "ipFamilyPolicy", json_string("SingleStack"));
    if (!json_object_get(spec, "internalTrafficPolicy"))
        json_object_set_new(spec, "internalTrafficPolicy", json_string("Cluster"));
    json_object_set_new(obj, "status", json_pack("{s:{}}", "loadBalancer"));
    return 0;
}

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *base64(const char *src, size_t n)
{
    char *out = xmalloc((n + 2) / 3 * 4 + 1);
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)src[i] << 16;

        v |= i + 1 < n ? (uint32_t)(unsigned char)src[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned char)src[i + 2] : 0;
        out[o++] = b64std[(v >> 18) & 63];
        out[o++] = b64std[(v >> 12) & 63];
        out[o++] = i + 1 < n ? b64std[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? b64std[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* Standard base64 with padding, as encoding/json decodes []byte. */
static bool base64_ok(const char *v)
{
    size_t n = strlen(v), pad = 0;

    if (n % 4)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '=' && i >= n - 2) {
            pad++;
            continue;
        }
        if (pad || !strchr(b64std, v[i]) || v[i] == '\0')
            return false;
    }
    return true;
}

static bool config_key_ok(const char *k)
{
    size_t n = strlen(k);

    if (n == 0 || n > 253 || strcmp(k, ".") == 0 || strcmp(k, "..") == 0)
        return false;
    return strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n;
}

static int admit_secret(const struct sim_resource *r, json_t *obj, const char *name,
                        struct sim_refusal *why)
{
    json_t *data = json_object_get(obj, "data"), *sd = json_object_get(obj, "stringData"), *v;
    const char *k;
    char field[300], *enc;

    if (data && !json_is_object(data))
        return invalid(why, r, name, "data", "Invalid value: must be a map");
    if (sd && !json_is_object(sd))
        return invalid(why, r, name, "stringData", "Invalid value: must be a map");
    if (!data) {
        data = json_object();
        json_object_set_new(obj, "data", data);
    }
    json_object_foreach(data, k, v)
    {
        snprintf(field, sizeof(field), "data[%.250s]", k);
        if (!config_key_ok(k))
            return invalid(why, r, name, field,
                           "Invalid value: a valid config key must consist of alphanumeric "
                           "characters, '-', '_' or '.'");
        if (!json_is_string(v) || !base64_ok(json_string_value(v)))
            return refuse(why, 400, "BadRequest",
                          "Secret in version \"v1\" cannot be handled as a Secret: illegal "
                          "base64 data in data[%.250s]",
                          k);
    }
    json_object_foreach(sd, k, v)
    {
        snprintf(field, sizeof(field), "stringData[%.250s]", k);
        if (!config_key_ok(k) || !json_is_string(v))
            return invalid(why, r, name, field,
                           "Invalid value: a valid config key must consist of alphanumeric "
                           "characters, '-', '_' or '.', with a string value");
        enc = base64(json_string_value(v), json_string_length(v));
        json_object_set_new(data, k, json_string_nocheck(enc));
        free(enc);
    }
    json_object_del(obj, "stringData");
    if (!json_is_string(json_object_get(obj, "type")))
        json_object_set_new(obj, "type", json_string("Opaque"));
    return 0;
}

static int admit_priority_class(const struct sim_resource *r, json_t *obj, const char *name,
                                struct sim_refusal *why)
{
    const json_t *v = json_object_get(obj, "value");
    const char *pp = json_string_value(json_object_get(obj, "preemptionPolicy"));

    if (strncmp(name, "system-", 7) == 0)
        return invalid(why, r, name, "metadata.name",
                       "Invalid value: priority class names with 'system-' prefix are reserved");
    if (!json_is_integer(v))
        return invalid(why, r, name, "value", "Required value");
    if (json_integer_value(v) > 1000000000)
        return invalid(why, r, name, "value",
                       "Forbidden: maximum allowed value of a user defined priority is "
                       "1000000000");
    if (pp && strcmp(pp, "PreemptLowerPriority") != 0 && strcmp(pp, "Never") != 0)
        return invalid(why, r, name, "preemptionPolicy",
                       "Unsupported value: supported values: \"Never\", "
                       "\"PreemptLowerPriority\"");
    if (!pp)
        json_object_set_new(obj, "preemptionPolicy", json_string("PreemptLowerPriority"));
    if (!json_is_boolean(json_object_get(obj, "globalDefault")))
        json_object_set_new(obj, "globalDefault", json_false());
    return 0;
}

/* kind and apiVersion must name r; the name must follow r's rule. Sets *name. */
static int admit_meta(const struct sim_resource *r, const char *ns, json_t *obj, const char **name,
                      struct sim_refusal *why)
{
    const char *api = json_string_value(json_object_get(obj, "apiVersion"));
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    json_t *md = json_object_get(obj, "metadata");
    const char *ons;

    if (!api || !kind || strcmp(api, r->api_version) != 0 || strcmp(kind, r->kind) != 0)
        return refuse(why, 400, "BadRequest",
                      "the API version in the data (%s) does not match the expected API version "
                      "(%s) or kind (%s) is not %s",
                      api ? api : "", r->api_version, kind ? kind : "", r->kind);
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    *name = json_string_value(json_object_get(md, "name"));
    if (!*name || !**name)
        return invalid(why, r, "", "metadata.name",
                       "Required value: name or generateName is required");
    if (!name_ok(r, *name))
        return refuse(why, 422, "Invalid",
                      "%s \"%.200s\" is invalid: metadata.name: Invalid "
                      "value: \"%.200s\": %s",
                      r->kind, *name, *name, name_rule(r));
    ons = json_string_value(json_object_get(md, "namespace"));
    if (r->namespaced && ons && *ons && strcmp(ons, ns) != 0)
        return refuse(why, 400, "BadRequest",
                      "the namespace of the provided object does not match the namespace sent "
                      "on the request");
    return 0;
}

static void insert(struct sim_objects *s, const struct sim_resource *r, const char *ns,
                   const char *name, json_t *obj)
{
    size_t at = lower_bound(s, r->res, ns, name);

    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
    s->v[at].r = r;
    snprintf(s->v[at].ns, sizeof(s->v[at].ns), "%s", ns);
    snprintf(s->v[at].name, sizeof(s->v[at].name), "%s", name);
    s->v[at].obj = json_incref(obj);
    s->n++;
    refs_add(s, r, obj);
}

int sim_objects_create(struct sim_objects *s, const struct sim_resource *r, const char *ns,
                       json_t *obj, const char *uid, uint64_t rv, const char *now,
                       struct sim_refusal *why)
{
    const char *name = NULL;
    json_t *md;
    char rvs[24];
    int rc;

    if (!r->namespaced)
        ns = "";
    if (!json_is_object(obj))
        return refuse(why, 400, "BadRequest", "the body of the request was in an unknown format");
    if (admit_meta(r, ns, obj, &name, why) != 0)
        return -1;
    if (sim_objects_get(s, r->res, ns, name))
        return refuse(why, 409, "AlreadyExists", "%s \"%s\" already exists", r->res, name);
    if (strcmp(r->res, "namespaces") == 0)
        rc = admit_namespace(obj, name);
    else if (strcmp(r->res, "services") == 0)
        rc = admit_service(s, r, obj, name, why);
    else if (strcmp(r->res, "secrets") == 0)
        rc = admit_secret(r, obj, name, why);
    else
        rc = admit_priority_class(r, obj, name, why);
    if (rc != 0)
        return -1;
    md = json_object_get(obj, "metadata");
    if (r->namespaced)
        json_object_set_new(md, "namespace", json_string(ns));
    json_object_set_new(md, "uid", json_string(uid));
    snprintf(rvs, sizeof(rvs), "%llu", (unsigned long long)rv);
    json_object_set_new(md, "resourceVersion", json_string(rvs));
    json_object_set_new(md, "creationTimestamp", json_string(now));
    json_object_del(md, "generateName");
    insert(s, r, ns, json_string_value(json_object_get(md, "name")), obj);
    return 0;
}

void sim_objects_seed(struct sim_objects *s, const struct sim_resource *r, json_t *obj)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *ns = json_string_value(json_object_get(md, "namespace"));

    insert(s, r, r->namespaced && ns ? ns : "", json_string_value(json_object_get(md, "name")),
           obj);
    json_decref(obj);
}
