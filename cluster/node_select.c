/* node_select.c -- a pod's nodeSelector, required node affinity and tolerations against a
 * node's labels and taints, on hashes. */
#include "cluster/node_select.h"

#include "base/hash.h"
#include "cluster/k8s_json.h"

#include <string.h>

#define STR_MAX 320 /* a label key is at most 253 + 1 + 63 bytes; values are shorter */

/* 64-bit FNV-1a folded to 32 bits: two different strings meet with a chance of 1 in 4e9 per
 * comparison, and a node holds at most NODE_SELECT_LABELS_MAX labels. */
static uint32_t fold(uint64_t h)
{
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t hash_key(const char *key)
{
    return fold(hash_fnv1a_str(key));
}

/* "=" cannot appear in a label key, so key=value names one pair. */
static uint32_t hash_pair(const char *key, const char *value)
{
    return fold(hash_fnv1a(hash_fnv1a(hash_fnv1a_str(key), "=", 1), value, strlen(value)));
}

static uint32_t hash_name(const char *name)
{
    return fold(hash_fnv1a(hash_fnv1a_str("name:"), name, strlen(name)));
}

/* The string at tok into buf; false when it is not a string or too long to be kept whole. */
static bool str_of(const struct k8s_json *d, int tok, char *buf)
{
    long n = k8s_json_str(d, tok, buf, STR_MAX);

    return n >= 0 && n < STR_MAX;
}

static uint8_t effect_of(const struct k8s_json *d, int tok)
{
    if (k8s_json_str_eq(d, tok, "NoSchedule"))
        return NODE_SELECT_NO_SCHEDULE;
    if (k8s_json_str_eq(d, tok, "NoExecute"))
        return NODE_SELECT_NO_EXECUTE;
    return 0;
}

void node_labels_read(const struct k8s_json *d, int tok, struct node_labels *out)
{
    int labels = k8s_json_path(d, tok, "metadata", "labels", K8S_JSON_END);
    int taints = k8s_json_path(d, tok, "spec", "taints", K8S_JSON_END);
    char key[STR_MAX], value[STR_MAX];

    memset(out, 0, sizeof(*out));
    for (int k = k8s_json_child(d, labels); k >= 0; k = k8s_json_next(d, labels, k)) {
        if (out->n_labels == NODE_SELECT_LABELS_MAX || !str_of(d, k, key) ||
            !str_of(d, k + 1, value)) {
            out->overflow = true;
            return;
        }
        out->key[out->n_labels] = hash_key(key);
        out->pair[out->n_labels++] = hash_pair(key, value);
    }
    for (int t = k8s_json_child(d, taints); t >= 0; t = k8s_json_next(d, taints, t)) {
        struct node_taint *x = &out->taint[out->n_taints];
        uint8_t effect = effect_of(d, k8s_json_get(d, t, "effect"));

        if (!effect)
            continue; /* PreferNoSchedule only steers */
        if (out->n_taints == NODE_SELECT_TAINTS_MAX || !str_of(d, k8s_json_get(d, t, "key"), key)) {
            out->overflow = true;
            return;
        }
        if (!str_of(d, k8s_json_get(d, t, "value"), value))
            value[0] = '\0';
        x->key = hash_key(key);
        x->value = hash_key(value);
        x->effect = effect;
        out->n_taints++;
    }
}

/* Adds one requirement of term; false when it cannot be kept (then the pod is unknown). */
static bool add_req(struct pod_select *p, const struct k8s_json *d, int expr, uint8_t term,
                    bool field)
{
    struct node_select_req *r = &p->req[p->n_reqs];
    int values = k8s_json_get(d, expr, "values");
    char key[STR_MAX], v[STR_MAX];

    if (p->n_reqs == NODE_SELECT_REQS_MAX || !str_of(d, k8s_json_get(d, expr, "key"), key))
        return false;
    memset(r, 0, sizeof(*r));
    if (field && strcmp(key, "metadata.name") != 0)
        return false;
    r->key = hash_key(key);
    r->term = term;
    r->field = field;
    if (k8s_json_str_eq(d, k8s_json_get(d, expr, "operator"), "In"))
        r->op = NODE_SELECT_IN;
    else if (k8s_json_str_eq(d, k8s_json_get(d, expr, "operator"), "NotIn"))
        r->op = NODE_SELECT_NOT_IN;
    else if (!field && k8s_json_str_eq(d, k8s_json_get(d, expr, "operator"), "Exists"))
        r->op = NODE_SELECT_EXISTS;
    else if (!field && k8s_json_str_eq(d, k8s_json_get(d, expr, "operator"), "DoesNotExist"))
        r->op = NODE_SELECT_ABSENT;
    else
        return false; /* Gt, Lt: not modelled */
    for (int x = k8s_json_child(d, values); x >= 0; x = k8s_json_next(d, values, x)) {
        if (r->n_values == NODE_SELECT_VALUES_MAX || !str_of(d, x, v))
            return false;
        r->value[r->n_values++] = field ? hash_name(v) : hash_pair(key, v);
    }
    p->n_reqs++;
    return true;
}

static bool read_affinity(struct pod_select *p, const struct k8s_json *d, int spec)
{
    int req = k8s_json_path(d, spec, "affinity", "nodeAffinity",
                            "requiredDuringSchedulingIgnoredDuringExecution", K8S_JSON_END);
    int terms = k8s_json_get(d, req, "nodeSelectorTerms");

    if (req < 0 || k8s_json_type(d, req) != K8S_JSON_OBJECT)
        return true;
    p->affinity = true;
    for (int t = k8s_json_child(d, terms); t >= 0; t = k8s_json_next(d, terms, t)) {
        int ex = k8s_json_get(d, t, "matchExpressions"), mf = k8s_json_get(d, t, "matchFields");

        if (p->n_terms == NODE_SELECT_TERMS_MAX)
            return false;
        p->n_terms++;
        for (int x = k8s_json_child(d, ex); x >= 0; x = k8s_json_next(d, ex, x))
            if (!add_req(p, d, x, p->n_terms, false))
                return false;
        for (int x = k8s_json_child(d, mf); x >= 0; x = k8s_json_next(d, mf, x))
            if (!add_req(p, d, x, p->n_terms, true))
                return false;
    }
    return true;
}

static bool read_tolerations(struct pod_select *p, const struct k8s_json *d, int spec)
{
    int tols = k8s_json_get(d, spec, "tolerations");
    char key[STR_MAX], value[STR_MAX];

    for (int t = k8s_json_child(d, tols); t >= 0; t = k8s_json_next(d, tols, t)) {
        struct node_select_tol *x = &p->tol[p->n_tols];
        int effect = k8s_json_get(d, t, "effect");

        if (p->n_tols == NODE_SELECT_TOLS_MAX)
            return false;
        memset(x, 0, sizeof(*x));
        if (!str_of(d, k8s_json_get(d, t, "key"), key))
            key[0] = '\0';
        if (!str_of(d, k8s_json_get(d, t, "value"), value))
            value[0] = '\0';
        x->exists = k8s_json_str_eq(d, k8s_json_get(d, t, "operator"), "Exists");
        x->any_key = x->exists && key[0] == '\0';
        x->key = hash_key(key);
        x->value = hash_key(value);
        x->effect = effect_of(d, effect);
        if (!x->effect && k8s_json_type(d, effect) == K8S_JSON_STRING &&
            !k8s_json_str_eq(d, effect, ""))
            continue; /* PreferNoSchedule: tolerates no blocking taint */
        p->n_tols++;
    }
    return true;
}

void pod_select_read(const struct k8s_json *d, int tok, struct pod_select *out)
{
    int spec = k8s_json_get(d, tok, "spec");
    int sel = k8s_json_get(d, spec, "nodeSelector");
    char key[STR_MAX], value[STR_MAX];

    memset(out, 0, sizeof(*out));
    for (int k = k8s_json_child(d, sel); k >= 0; k = k8s_json_next(d, sel, k)) {
        struct node_select_req *r = &out->req[out->n_reqs];

        if (out->n_reqs == NODE_SELECT_REQS_MAX || !str_of(d, k, key) || !str_of(d, k + 1, value)) {
            out->unknown = true;
            return;
        }
        r->key = hash_key(key);
        r->op = NODE_SELECT_IN;
        r->n_values = 1;
        r->value[0] = hash_pair(key, value);
        out->n_reqs++;
    }
    if (!read_affinity(out, d, spec) || !read_tolerations(out, d, spec))
        out->unknown = true;
}

static bool has(const uint32_t *v, size_t n, uint32_t h)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == h)
            return true;
    return false;
}

static bool req_ok(const struct node_select_req *r, const struct node_labels *n, uint32_t name)
{
    bool in = false;

    for (size_t i = 0; i < r->n_values && !in; i++)
        in = r->field ? r->value[i] == name : has(n->pair, n->n_labels, r->value[i]);
    switch (r->op) {
    case NODE_SELECT_IN: return in;
    case NODE_SELECT_NOT_IN: return !in;
    case NODE_SELECT_EXISTS: return has(n->key, n->n_labels, r->key);
    default: return !has(n->key, n->n_labels, r->key);
    }
}

static bool tolerated(const struct pod_select *p, const struct node_taint *t)
{
    for (size_t i = 0; i < p->n_tols; i++) {
        const struct node_select_tol *x = &p->tol[i];

        if (x->effect && x->effect != t->effect)
            continue;
        if (x->any_key || (x->key == t->key && (x->exists || x->value == t->value)))
            return true;
    }
    return false;
}

bool pod_select_allows(const struct pod_select *p, const struct node_labels *n, const char *name)
{
    uint32_t nh = hash_name(name);
    bool term_ok[NODE_SELECT_TERMS_MAX + 1];

    if (p->unknown || n->overflow)
        return true;
    for (size_t i = 0; i < n->n_taints; i++)
        if (!tolerated(p, &n->taint[i]))
            return false;
    /* A term without requirements matches no node, as in the API. */
    for (size_t t = 0; t <= NODE_SELECT_TERMS_MAX; t++)
        term_ok[t] = t == 0;
    for (size_t i = 0; i < p->n_reqs; i++)
        if (p->req[i].term > 0)
            term_ok[p->req[i].term] = true;
    for (size_t i = 0; i < p->n_reqs; i++)
        if (!req_ok(&p->req[i], n, nh))
            term_ok[p->req[i].term] = false;
    if (!term_ok[0])
        return false;
    if (!p->affinity)
        return true;
    for (size_t t = 1; t <= p->n_terms; t++)
        if (term_ok[t])
            return true;
    return false;
}
