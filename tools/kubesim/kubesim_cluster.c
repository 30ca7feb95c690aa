/* kubesim_cluster.c -- the state and behaviour of one simulated Kubernetes cluster. */
#include "tools/kubesim/kubesim_cluster.h"

#include "tools/kubesim/kubesim_authz.h"
#include "tools/kubesim/kubesim_discovery.h"
#include "tools/kubesim/kubesim_objects.h"
#include "tools/kubesim/kubesim_patch.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"
#include "cluster/k8s.h"
#include "cluster/quantity.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_NODES_MAX     200000
#define SIM_BODY_MAX      ((size_t)4 << 20)
#define SIM_DEFAULT_RUN_S 3600
#define SIM_GRACE_DEFAULT 30
#define SIM_WATCH_HISTORY 1000 /* events kept per cluster unless the scenario says */
#define ANNOT_DURATION    "sim.fedsched.io/duration-seconds"
#define ANNOT_OUTCOME     "sim.fedsched.io/outcome"
#define LABEL_INDEX       "batch.kubernetes.io/job-completion-index"
#define DEFAULT_CPU_M     95450LL
#define DEFAULT_MEM_B     (1046208926LL * 1024)

enum phase { PH_PENDING, PH_RUNNING, PH_SUCCEEDED, PH_FAILED };
static const char *const phase_names[] = {"Pending", "Running", "Succeeded", "Failed"};

enum kind { KIND_JOB, KIND_RAYJOB };

struct snode {
    char name[64];
    int idx; /* position in its pool */
    char uid[40];
    size_t pool;
    int used;
    int64_t cpu_used; /* millicores requested by the pods bound here */
    int64_t mem_used; /* bytes */
    bool ready;
    bool cordoned;
    int64_t not_ready_ms; /* simulated time it stopped being Ready; 0 while Ready */
    uint64_t rv;
};

struct sjob;

struct spod {
    char ns[64];
    char name[254];
    char uid[40];
    json_t *labels;              /* object, owned */
    json_t *annotations;         /* object or NULL, owned */
    json_t *owner;               /* ownerReferences array or NULL, owned */
    json_t *spec;                /* pod spec without nodeName, owned */
    long node;                   /* index into nodes, -1 when unbound */
    const char *node_name_cache; /* nodes[node].name while bound */
    int gpus;
    int64_t cpu_m, mem_b; /* requests: millicores, bytes */
    int index;            /* completion index of an Indexed Job's pod, else -1 */
    int exit_code;        /* of its first container once Failed */
    char term_reason[32]; /* ditto: OOMKilled, Error */
    char waiting[32];     /* while Pending on its node: ImagePullBackOff */
    int64_t finish_ms;
    char product[64]; /* nodeSelector product, "" when none */
    enum phase phase;
    int64_t created_ms;
    int64_t bound_ms; /* when the scheduler bound it (PodScheduled=True); 0: at creation */
    int64_t start_ms;
    int64_t delete_ms; /* 0 when not being deleted */
    int grace_s;
    bool disrupted;
    bool evicted;        /* by the taint manager from a node NotReady too long */
    long deploy;         /* deployment (or LeaderWorkerSet) index, -1 */
    int group;           /* a LeaderWorkerSet's pod: its group index, else -1 */
    struct sjob *job;    /* owner, NULL */
    char sched_msg[256]; /* PodScheduled=False message while unbound */
    uint64_t rv;
    json_t *obj; /* rendered object; NULL when stale */
};

struct sjob {
    enum kind kind;
    char ns[64];
    char name[254];
    char uid[40];
    json_t *obj; /* metadata + spec as created; status rewritten on change */
    int64_t created_ms;
    int64_t start_ms; /* all pods running */
    int64_t done_ms;
    int64_t run_ms;
    bool fail;
    bool stop; /* RayJob: ends STOPPED */
    bool finished;
    bool deleting;       /* has a deletionTimestamp: goes once its finalizers are empty */
    bool foreground;     /* deleted in the foreground: its pods go first */
    bool shutdown_after; /* RayJob: delete the cluster pods when finished */
    bool blocked;        /* its pods' PriorityClass does not exist: no pods yet */
    bool spawn_due;      /* created: its controller makes its pods on the next advance, after
                            the create has been answered (never inside the request) */
    bool pods_gone;      /* RayJob: its cluster was shut down after it finished */
    int64_t ttl_ms;      /* ttlSecondsAfterFinished in ms; -1 when not set */
    char outcome[32];    /* annotation sim.fedsched.io/outcome */
    int failed_pods;     /* counted towards backoffLimit */
    char fail_reason[32];
    char fail_msg[400];
    int n_pods;
    uint64_t rv;
    int sig[5];        /* pod counts when the status was last written */
    struct spod **own; /* the pods whose job this is (p->job == j), in store order */
    size_t n_own, cap_own;
};

struct wentry;
struct wevent;

/* An object created since the garbage collector last ran (its owners may not exist). */
struct fresh {
    const struct sim_resource *r;
    char ns[64];
    char name[254];
};

/* The resources a watch can follow (the history below). */
enum wres {
    W_NODES,
    W_PODS,
    W_JOBS,
    W_RAYJOBS,
    W_NAMESPACES,
    W_SERVICES,
    W_SECRETS,
    W_DEPLOYMENTS,
    W_HPAS,
    W_LWS,
    W_NONE
};

/* A whole list's items, kept while its objects are unchanged (rv is theirs). */
struct cache {
    char *key;
    char *items;
    size_t len;
    uint64_t rv;
};

struct sim_cluster {
    pthread_mutex_t lock;
    struct sim_cluster_spec spec; /* pools/deployments borrowed from the scenario copy */
    const struct sim_clock *clock;
    int64_t continue_ttl_ms;
    char **pool_labels;  /* per pool: rendered label members (no braces) */
    char **pool_taints;  /* per pool: rendered taint objects (no brackets), "" none */
    struct snode *nodes; /* sorted by name */
    size_t n_nodes;
    struct spod **pods; /* sorted by namespace/name */
    size_t n_pods, cap_pods;
    struct sjob **jobs; /* sorted by kind, namespace, name */
    size_t n_jobs, cap_jobs;
    struct sim_objects *objs; /* namespaces, services, secrets, priorityclasses */
    json_t *crds;             /* group/versions served besides the built-in ones */
    /* the garbage collector's work: uids (each NUL-terminated) of owners that went, and
     * objects created with ownerReferences, since it last ran */
    struct buf gone;
    struct fresh *fresh;
    size_t n_fresh, cap_fresh;
    uint64_t rv;
    uint64_t nodes_rv;
    uint64_t uid_seq;
    uint64_t name_seq;
    struct cache node_cache, pod_cache;
    /* watch (below): the objects as last recorded, sorted by key, and the event ring */
    struct wentry *w_seen;
    size_t w_n_seen;
    uint64_t w_seen_rv;
    struct wevent *w_ring;
    size_t w_cap, w_head, w_n;
    /* per resource, as an API server's watch cache: every event of it after this
     * resourceVersion is in the ring, so one busy resource does not expire another's
     * watches */
    uint64_t w_window_rv[W_NONE];
    bool w_on;       /* recording: from the start or since the first watch */
    bool w_hold;     /* open watches are sent nothing (sim_cluster_watch_hold) */
    bool sched_hold; /* pending pods are not bound (sim_cluster_scheduler_hold) */
    void (*on_change)(void *arg, size_t i); /* told after events were recorded */
    void *on_change_arg;
    size_t on_change_i;
    struct sim_request_count *counts; /* requests answered, by verb and resource */
    size_t n_counts, cap_counts;
    /* per deployment: a scale announced by sim_cluster_deployment_scale() (scale_at_ms 0:
     * none, the curve), and when its HPA's desiredReplicas last changed */
    int64_t *scale_at_ms;
    int *scale_to;
    int64_t *hpa_scaled_ms;
};

/* ---- clock ----------------------------------------------------------------------------- */

void sim_clock_init(struct sim_clock *c, double scale, int64_t start_sim_ms)
{
    c->scale = scale > 0 ? scale : 1;
    c->start_mono_ms = clock_mono_ms();
    c->start_sim_ms = start_sim_ms ? start_sim_ms : clock_realtime_ms();
    c->skipped_ms = 0;
}

int64_t sim_clock_now(const struct sim_clock *c)
{
    int64_t real = clock_mono_ms() - c->start_mono_ms;

    return c->start_sim_ms + (int64_t)((double)real * c->scale) +
           __atomic_load_n(&c->skipped_ms, __ATOMIC_RELAXED);
}

void sim_clock_skip(struct sim_clock *c, int64_t ms)
{
    __atomic_add_fetch(&c->skipped_ms, ms, __ATOMIC_RELAXED);
}

/* ---- small helpers ----------------------------------------------------------------------- */

static void ts(int64_t ms, char *out, size_t size)
{
    /* Kubernetes timestamps have whole seconds. */
    char tmp[40];
    char *dot;

    clock_format_rfc3339(ms, tmp, sizeof(tmp));
    dot = strchr(tmp, '.');
    if (dot) {
        dot[0] = 'Z';
        dot[1] = '\0';
    }
    snprintf(out, size, "%s", tmp);
}

static json_t *json_ts(int64_t ms)
{
    char t[40];

    ts(ms, t, sizeof(t));
    return json_string(t);
}

static void new_uid(struct sim_cluster *c, char *out, size_t size)
{
    uint64_t n = ++c->uid_seq;
    uint64_t h = n * 0x9E3779B97F4A7C15ULL ^ (uint64_t)(uintptr_t)c;

    snprintf(out, size, "%08x-%04x-4%03x-8%03x-%012llx", (unsigned)(h >> 32),
             (unsigned)(h >> 16) & 0xffff, (unsigned)(n >> 12) & 0xfff, (unsigned)n & 0xfff,
             (unsigned long long)(h & 0xffffffffffffULL));
}

/* Five lower-case alphanumerics, like the suffixes controllers generate. */
static void suffix5(struct sim_cluster *c, char *out)
{
    static const char al[] = "bcdfghjklmnpqrstvwxz2456789";
    uint64_t h = (++c->name_seq) * 0x9E3779B97F4A7C15ULL;

    for (int i = 0; i < 5; i++) {
        out[i] = al[h % (sizeof(al) - 1)];
        h /= sizeof(al) - 1;
    }
    out[5] = '\0';
}

static void bump(struct sim_cluster *c)
{
    c->rv++;
}

static void reply_json(struct sim_reply *out, int status, json_t *obj)
{
    out->status = status;
    out->body = json_dumps(obj, JSON_COMPACT);
    out->len = strlen(out->body);
    json_decref(obj);
}

/* Every error is a Status object with reason and code, as the API server sends. */
static void reply_status(struct sim_reply *out, int code, const char *reason, const char *kind,
                         const char *group, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void reply_status(struct sim_reply *out, int code, const char *reason, const char *kind,
                         const char *group, const char *name, const char *fmt, ...)
{
    json_t *st = json_object();
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_object_set_new(st, "kind", json_string("Status"));
    json_object_set_new(st, "apiVersion", json_string("v1"));
    json_object_set_new(st, "metadata", json_object());
    json_object_set_new(st, "status", json_string("Failure"));
    json_object_set_new(st, "message", json_string(msg));
    json_object_set_new(st, "reason", json_string(reason));
    if (name || kind) {
        json_t *d = json_object();

        if (name)
            json_object_set_new(d, "name", json_string(name));
        if (group)
            json_object_set_new(d, "group", json_string(group));
        if (kind)
            json_object_set_new(d, "kind", json_string(kind));
        json_object_set_new(st, "details", d);
    }
    json_object_set_new(st, "code", json_integer(code));
    reply_json(out, code, st);
}

/* ---- continue tokens: base64url(JSON), like the API server's ---------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static char *b64_encode(const char *s, size_t n)
{
    char *out = xmalloc(n * 4 / 3 + 4);
    size_t o = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)s[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)s[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64[v & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64_decode(const char *s, char *out, size_t size, size_t *len)
{
    uint32_t v = 0;
    int bits = 0;
    size_t o = 0;

    for (; *s && *s != '='; s++) {
        const char *p = strchr(b64, *s);

        if (*s == '+')
            p = b64 + 62; /* accept the standard alphabet too */
        else if (*s == '/')
            p = b64 + 63;
        if (!p)
            return -1;
        v = (v << 6) | (uint32_t)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= size)
                return -1;
            out[o++] = (char)((v >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *len = o;
    return 0;
}

static char *make_continue(const char *last_key, uint64_t rv)
{
    size_t n = strlen(last_key);
    char *key = xmalloc(n + 1);
    json_t *t = json_object();
    char *text, *tok;

    /* The real server's start key is the last key plus "\u0000"; keep that shape. */
    memcpy(key, last_key, n + 1);
    json_object_set_new(t, "v", json_string("meta.k8s.io/v1"));
    json_object_set_new(t, "rv", json_integer((json_int_t)rv));
    json_object_set_new(t, "start", json_stringn(key, n + 1));
    json_object_set_new(t, "ts", json_integer(clock_mono_ms()));
    text = json_dumps(t, JSON_COMPACT);
    tok = b64_encode(text, strlen(text));
    free(text);
    free(key);
    json_decref(t);
    return tok;
}

/* Reads a continue token into the key to start after. Returns 0, -1 when malformed, -2
 * when expired. */
static int read_continue(const struct sim_cluster *c, const char *tok, char *start, size_t size)
{
    char raw[1024];
    size_t n;
    json_t *t;
    const char *s;
    size_t slen;
    int rc = -1;

    if (strlen(tok) > 1300 || b64_decode(tok, raw, sizeof(raw), &n) != 0)
        return -1;
    t = json_loadb(raw, n, JSON_ALLOW_NUL, NULL);
    s = json_string_value(json_object_get(t, "start"));
    if (!s || !json_is_integer(json_object_get(t, "ts")))
        goto out;
    slen = json_string_length(json_object_get(t, "start"));
    if (slen == 0 || slen >= size)
        goto out;
    memcpy(start, s, slen);
    start[slen] = '\0'; /* the trailing NUL of the key ends the string here */
    if (clock_mono_ms() - json_integer_value(json_object_get(t, "ts")) > c->continue_ttl_ms) {
        rc = -2;
        goto out;
    }
    rc = 0;
out:
    json_decref(t);
    return rc;
}

/* ---- selectors --------------------------------------------------------------------------- */

/* One requirement of a label selector. */
struct lreq {
    char key[256];
    int op; /* 0 exists, 1 not exists, 2 =, 3 !=, 4 in, 5 notin */
    char values[8][64];
    int n_values;
};

static void trim(char *s)
{
    size_t n = strlen(s), i = 0;

    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    memmove(s, s + i, n - i + 1);
}

/* Parses "a=b,c!=d,e in (x,y),!f,g". Returns the count or -1. */
static int parse_label_selector(const char *sel, struct lreq *out, int max)
{
    int n = 0;
    const char *p = sel;

    while (*p) {
        char part[600];
        size_t len = 0;
        int depth = 0;
        struct lreq *r;
        char *op;

        while (p[len] && (depth || p[len] != ',')) {
            if (p[len] == '(')
                depth++;
            if (p[len] == ')')
                depth--;
            len++;
        }
        if (len >= sizeof(part) || n == max)
            return -1;
        memcpy(part, p, len);
        part[len] = '\0';
        p += len + (p[len] == ',');
        trim(part);
        if (!part[0])
            continue;
        r = &out[n++];
        memset(r, 0, sizeof(*r));
        if ((op = strstr(part, " notin ")) || (op = strstr(part, " in "))) {
            bool notin = strncmp(op, " notin ", 7) == 0;
            char *open = strchr(op, '('), *close = strrchr(op, ')'), *v;

            if (!open || !close || close < open)
                return -1;
            *op = '\0';
            *close = '\0';
            r->op = notin ? 5 : 4;
            for (v = open + 1; v && *v;) {
                char *comma = strchr(v, ',');

                if (comma)
                    *comma = '\0';
                if (r->n_values == 8 || strlen(v) >= 64)
                    return -1;
                snprintf(r->values[r->n_values], 64, "%s", v);
                trim(r->values[r->n_values++]);
                v = comma ? comma + 1 : NULL;
            }
        } else if ((op = strstr(part, "!="))) {
            *op = '\0';
            r->op = 3;
            snprintf(r->values[0], 64, "%s", op + 2);
            r->n_values = 1;
        } else if ((op = strchr(part, '='))) {
            *op = '\0';
            r->op = 2;
            snprintf(r->values[0], 64, "%s", op + (op[1] == '=' ? 2 : 1));
            r->n_values = 1;
        } else if (part[0] == '!') {
            memmove(part, part + 1, strlen(part));
            r->op = 1;
        } else {
            r->op = 0;
        }
        trim(part);
        if (!part[0] || strlen(part) >= sizeof(r->key))
            return -1;
        snprintf(r->key, sizeof(r->key), "%.63s", part);
        for (int i = 0; i < r->n_values; i++)
            trim(r->values[i]);
    }
    return n;
}

static bool labels_match(const json_t *labels, const struct lreq *r, int n)
{
    for (int i = 0; i < n; i++) {
        const char *v = json_string_value(json_object_get(labels, r[i].key));
        bool in = false;

        for (int k = 0; k < r[i].n_values && v; k++)
            in |= strcmp(v, r[i].values[k]) == 0;
        switch (r[i].op) {
        case 0:
            if (!v)
                return false;
            break;
        case 1:
            if (v)
                return false;
            break;
        case 2:
        case 4:
            if (!in)
                return false;
            break;
        case 3:
        case 5:
            if (in)
                return false;
            break;
        }
    }
    return true;
}

/* One requirement of a field selector. */
struct freq {
    char key[64];
    bool neq;
    char value[254];
};

/* Parses "status.phase!=Succeeded,spec.nodeName=n1" against the supported keys. Returns
 * the count, -1 when malformed, -2 - index when a key is not supported. */
static int parse_field_selector(const char *sel, const char *const *keys, struct freq *out, int max)
{
    int n = 0;
    const char *p = sel;

    while (*p) {
        char part[400];
        size_t len = strcspn(p, ",");
        char *op;
        struct freq *r;
        bool ok = false;

        if (len >= sizeof(part) || n == max)
            return -1;
        memcpy(part, p, len);
        part[len] = '\0';
        p += len + (p[len] == ',');
        trim(part);
        if (!part[0])
            continue;
        r = &out[n];
        memset(r, 0, sizeof(*r));
        if ((op = strstr(part, "!="))) {
            r->neq = true;
            *op = '\0';
            snprintf(r->value, sizeof(r->value), "%s", op + 2);
        } else if ((op = strchr(part, '='))) {
            *op = '\0';
            snprintf(r->value, sizeof(r->value), "%s", op + (op[1] == '=' ? 2 : 1));
        } else {
            return -1;
        }
        trim(part);
        trim(r->value);
        snprintf(r->key, sizeof(r->key), "%.63s", part);
        for (int k = 0; keys[k]; k++)
            ok |= strcmp(keys[k], r->key) == 0;
        if (!ok)
            return -2 - n;
        n++;
    }
    return n;
}

static bool field_match(const struct freq *r, int n, const char *(*get)(const void *, const char *),
                        const void *obj)
{
    for (int i = 0; i < n; i++) {
        const char *v = get(obj, r[i].key);
        bool eq = strcmp(v ? v : "", r[i].value) == 0;

        if (eq == r[i].neq)
            return false;
    }
    return true;
}

/* ---- nodes --------------------------------------------------------------------------------- */

static int cmp_node(const void *a, const void *b)
{
    return strcmp(((const struct snode *)a)->name, ((const struct snode *)b)->name);
}

static long find_node(const struct sim_cluster *c, const char *name)
{
    size_t lo = 0, hi = c->n_nodes;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp(c->nodes[mid].name, name);

        if (r == 0)
            return (long)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* Label value of node n, or NULL. Mirrors what render_node() writes. */
static const char *node_label(const struct sim_cluster *c, const struct snode *n, const char *key)
{
    const struct sim_node_pool *p = &c->spec.pools[n->pool];
    const char *v = json_string_value(json_object_get(p->labels, key));

    if (v)
        return v;
    if (strcmp(key, "kubernetes.io/hostname") == 0)
        return n->name;
    if (strcmp(key, "fedsched.io/pool") == 0)
        return p->pool;
    if (strcmp(key, "node.kubernetes.io/instance-type") == 0)
        return p->instance_type;
    if (strcmp(key, "topology.kubernetes.io/zone") == 0)
        return p->zone;
    if (strcmp(key, "kubernetes.io/os") == 0)
        return "linux";
    if (p->product[0] && strcmp(key, "nvidia.com/gpu.product") == 0)
        return p->product;
    if (p->product[0] && strcmp(key, "nvidia.com/gpu.present") == 0)
        return "true";
    return NULL;
}

static void render_pool_fragments(struct sim_cluster *c, size_t i)
{
    const struct sim_node_pool *p = &c->spec.pools[i];
    json_t *l = json_object(), *t = json_array();
    char *text;
    size_t n;

    json_object_set_new(l, "beta.kubernetes.io/arch", json_string("amd64"));
    json_object_set_new(l, "beta.kubernetes.io/os", json_string("linux"));
    json_object_set_new(l, "kubernetes.io/arch", json_string("amd64"));
    json_object_set_new(l, "kubernetes.io/os", json_string("linux"));
    json_object_set_new(l, "node.kubernetes.io/instance-type", json_string(p->instance_type));
    json_object_set_new(l, "topology.kubernetes.io/zone", json_string(p->zone));
    json_object_set_new(l, "fedsched.io/pool", json_string(p->pool));
    if (p->product[0]) {
        char num[32];

        /* GPU Feature Discovery's labels */
        json_object_set_new(l, "nvidia.com/gpu.present", json_string("true"));
        json_object_set_new(l, "nvidia.com/gpu.product", json_string(p->product));
        snprintf(num, sizeof(num), "%d", p->gpus);
        json_object_set_new(l, "nvidia.com/gpu.count", json_string(num));
        if (p->memory_mib) {
            snprintf(num, sizeof(num), "%d", p->memory_mib);
            json_object_set_new(l, "nvidia.com/gpu.memory", json_string(num));
        }
        if (p->family[0])
            json_object_set_new(l, "nvidia.com/gpu.family", json_string(p->family));
        json_object_set_new(l, "nvidia.com/cuda.driver.major", json_string("550"));
        if (p->mig[0])
            json_object_set_new(l, "nvidia.com/mig.strategy", json_string(p->mig));
    }
    if (p->labels)
        json_object_update(l, p->labels);
    text = json_dumps(l, JSON_COMPACT | JSON_SORT_KEYS);
    n = strlen(text);
    memmove(text, text + 1, n - 2); /* strip the braces: members are spliced in */
    text[n - 2] = '\0';
    c->pool_labels[i] = text;
    if (p->taints) {
        size_t k;
        json_t *x;

        json_array_foreach(p->taints, k, x)
        {
            json_array_append(t, x);
        }
    }
    text = json_dumps(t, JSON_COMPACT);
    n = strlen(text);
    memmove(text, text + 1, n - 2);
    text[n - 2] = '\0';
    c->pool_taints[i] = text;
    json_decref(l);
    json_decref(t);
}

static int render_node(const struct sim_cluster *c, const struct snode *n, int64_t now,
                       struct buf *b)
{
    const struct sim_node_pool *p = &c->spec.pools[n->pool];
    const char *pt = c->pool_taints[n->pool];
    char hb[40], created[40], gpu[48] = "";
    char cpu_cap[24] = "96", cpu_alloc[24] = "95450m", mem_cap[32] = "1056694686Ki",
         mem_alloc[32] = "1046208926Ki";
    bool comma = pt[0] != '\0';
    unsigned ip = (unsigned)(n - c->nodes);

    if (p->cpu) {
        snprintf(cpu_cap, sizeof(cpu_cap), "%d", p->cpu);
        snprintf(cpu_alloc, sizeof(cpu_alloc), "%d", p->cpu);
    }
    if (p->memory_gib) {
        snprintf(mem_cap, sizeof(mem_cap), "%dGi", p->memory_gib);
        snprintf(mem_alloc, sizeof(mem_alloc), "%dGi", p->memory_gib);
    }

    ts(now - 10000, hb, sizeof(hb));
    ts(c->clock->start_sim_ms - 86400000, created, sizeof(created));
    if (p->product[0] || p->gpus)
        snprintf(gpu, sizeof(gpu), ",\"nvidia.com/gpu\":\"%d\"", p->gpus);
    buf_printf(b,
               "{\"metadata\":{\"name\":\"%s\",\"uid\":\"%s\",\"resourceVersion\":\"%llu\","
               "\"creationTimestamp\":\"%s\",\"labels\":{\"kubernetes.io/hostname\":\"%s\",%s},"
               "\"annotations\":{\"node.alpha.kubernetes.io/ttl\":\"0\","
               "\"volumes.kubernetes.io/controller-managed-attach-detach\":\"true\"}},"
               "\"spec\":{\"providerID\":\"sim://%s/%s\"%s,\"taints\":[%s",
               n->name, n->uid, (unsigned long long)n->rv, created, n->name,
               c->pool_labels[n->pool], c->spec.name, n->name,
               n->cordoned ? ",\"unschedulable\":true" : "", pt);
    if (n->cordoned) {
        buf_printf(b,
                   "%s{\"key\":\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\","
                   "\"timeAdded\":\"%s\"}",
                   comma ? "," : "", created);
        comma = true;
    }
    if (!n->ready) {
        buf_printf(b,
                   "%s{\"key\":\"node.kubernetes.io/not-ready\",\"effect\":\"NoSchedule\","
                   "\"timeAdded\":\"%s\"},{\"key\":\"node.kubernetes.io/not-ready\","
                   "\"effect\":\"NoExecute\",\"timeAdded\":\"%s\"}",
                   comma ? "," : "", hb, hb);
    }
    return buf_printf(
        b,
        "]},\"status\":{\"capacity\":{\"cpu\":\"%s\",\"ephemeral-storage\":\"1951266268Ki\","
        "\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":\"%s\"%s,"
        "\"pods\":\"110\"},\"allocatable\":{\"cpu\":\"%s\",\"ephemeral-storage\":"
        "\"1798289994412\",\"hugepages-1Gi\":\"0\",\"hugepages-2Mi\":\"0\",\"memory\":"
        "\"%s\"%s,\"pods\":\"110\"},\"conditions\":["
        "{\"type\":\"MemoryPressure\",\"status\":\"False\",\"lastHeartbeatTime\":\"%s\","
        "\"lastTransitionTime\":\"%s\",\"reason\":\"KubeletHasSufficientMemory\",\"message\":"
        "\"kubelet has sufficient memory available\"},"
        "{\"type\":\"DiskPressure\",\"status\":\"False\",\"lastHeartbeatTime\":\"%s\","
        "\"lastTransitionTime\":\"%s\",\"reason\":\"KubeletHasNoDiskPressure\",\"message\":"
        "\"kubelet has no disk pressure\"},"
        "{\"type\":\"Ready\",\"status\":\"%s\",\"lastHeartbeatTime\":\"%s\","
        "\"lastTransitionTime\":\"%s\",\"reason\":\"%s\",\"message\":\"%s\"}],"
        "\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"10.%u.%u.%u\"},"
        "{\"type\":\"Hostname\",\"address\":\"%s\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":"
        "{\"Port\":10250}},\"nodeInfo\":{\"machineID\":\"%.32s\",\"systemUUID\":\"%s\","
        "\"kernelVersion\":\"5.15.0-1051-aws\",\"osImage\":\"Ubuntu 22.04.4 LTS\","
        "\"containerRuntimeVersion\":\"containerd://1.7.11\",\"kubeletVersion\":\"v1.29.3\","
        "\"kubeProxyVersion\":\"v1.29.3\",\"operatingSystem\":\"linux\",\"architecture\":"
        "\"amd64\"}}}",
        cpu_cap, mem_cap, gpu, cpu_alloc, mem_alloc, gpu, hb, created, hb, created,
        n->ready ? "True" : "False", hb, created, n->ready ? "KubeletReady" : "KubeletNotReady",
        n->ready ? "kubelet is posting ready status" : "container runtime is down",
        (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff, n->name, n->uid, n->uid);
}

/* ---- pods ------------------------------------------------------------------------------------ */

/* A container's (or spec.overhead's) requests in the units of enum k8s_resource: each
 * resource's request, else its limit, as the API server defaults requests from limits.
 * A quantity that is not one counts 0 (the real API server would have refused the pod). */
static void requests_of(const json_t *resources, bool overhead, int64_t out[K8S_RESOURCES])
{
    static const char *const names[K8S_RESOURCES] = {K8S_GPU_RESOURCE, "cpu", "memory"};

    for (int r = 0; r < K8S_RESOURCES; r++) {
        const json_t *q = overhead
                              ? json_object_get(resources, names[r])
                              : json_object_get(json_object_get(resources, "requests"), names[r]);
        int64_t v = 0;

        out[r] = 0;
        if (!q && !overhead)
            q = json_object_get(json_object_get(resources, "limits"), names[r]);
        if (json_is_integer(q))
            v = json_integer_value(q) <= k8s_resource_max((enum k8s_resource)r) / 1000
                    ? json_integer_value(q) * (r == K8S_RES_CPU ? 1000 : 1)
                    : 0;
        else if (!json_is_string(q) ||
                 (r == K8S_RES_CPU
                      ? quantity_parse_milli(json_string_value(q), json_string_length(q), &v, NULL)
                      : quantity_parse_value(json_string_value(q), json_string_length(q), &v,
                                             NULL)))
            v = 0;
        if (v > 0 && v <= k8s_resource_max((enum k8s_resource)r))
            out[r] = v;
    }
}

/* The pod's effective requests as the kube-scheduler counts them: init containers, native
 * sidecars and spec.overhead with the connector's own rule (struct k8s_requests). */
static void pod_spec_requests(const json_t *spec, int64_t out[K8S_RESOURCES])
{
    struct k8s_requests req = {0};
    int64_t one[K8S_RESOURCES];
    const json_t *x;
    size_t i;

    json_array_foreach(json_object_get(spec, "containers"), i, x)
    {
        requests_of(json_object_get(x, "resources"), false, one);
        k8s_requests_add_app(&req, one);
    }
    json_array_foreach(json_object_get(spec, "initContainers"), i, x)
    {
        const char *rp = json_string_value(json_object_get(x, "restartPolicy"));

        requests_of(json_object_get(x, "resources"), false, one);
        k8s_requests_add_init(&req, one, rp && strcmp(rp, "Always") == 0);
    }
    requests_of(json_object_get(spec, "overhead"), true, one);
    k8s_requests_total(&req, one, out);
}

static const char *pod_key_ns(const struct spod *p)
{
    return p->ns;
}

static int cmp_pod_key(const struct spod *p, const char *ns, const char *name)
{
    int r = strcmp(pod_key_ns(p), ns);

    return r ? r : strcmp(p->name, name);
}

static size_t pod_lower_bound(const struct sim_cluster *c, const char *ns, const char *name)
{
    size_t lo = 0, hi = c->n_pods;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_pod_key(c->pods[mid], ns, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct spod *find_pod(const struct sim_cluster *c, const char *ns, const char *name)
{
    size_t i = pod_lower_bound(c, ns, name);

    return i < c->n_pods && cmp_pod_key(c->pods[i], ns, name) == 0 ? c->pods[i] : NULL;
}

static void pod_dirty(struct sim_cluster *c, struct spod *p)
{
    bump(c);
    p->rv = c->rv;
    json_decref(p->obj);
    p->obj = NULL;
}

/* Adds p to j's pods, keeping store order (namespace/name), so that walks over a job's pods
 * visit them in the order a walk over every pod would. */
static void own_add(struct sjob *j, struct spod *p)
{
    size_t at = j->n_own;

    if (j->n_own == j->cap_own) {
        j->cap_own = j->cap_own ? j->cap_own * 2 : 4;
        j->own = xrealloc(j->own, j->cap_own * sizeof(*j->own));
    }
    while (at > 0 && cmp_pod_key(j->own[at - 1], p->ns, p->name) > 0)
        at--;
    memmove(&j->own[at + 1], &j->own[at], (j->n_own - at) * sizeof(*j->own));
    j->own[at] = p;
    j->n_own++;
}

static void own_del(struct sjob *j, const struct spod *p)
{
    for (size_t i = 0; i < j->n_own; i++) {
        if (j->own[i] == p) {
            memmove(&j->own[i], &j->own[i + 1], (j->n_own - i - 1) * sizeof(*j->own));
            j->n_own--;
            return;
        }
    }
}

/* Takes ownership of labels, spec and owner. */
static struct spod *pod_add(struct sim_cluster *c, const char *ns, const char *name, json_t *labels,
                            json_t *spec, json_t *owner, int64_t now)
{
    struct spod *p = xcalloc(1, sizeof(*p));
    const char *prod;
    int64_t req[K8S_RESOURCES];
    size_t at;

    snprintf(p->ns, sizeof(p->ns), "%s", ns);
    snprintf(p->name, sizeof(p->name), "%s", name);
    new_uid(c, p->uid, sizeof(p->uid));
    p->labels = labels ? labels : json_object();
    p->spec = spec;
    p->owner = owner;
    p->node = -1;
    p->deploy = -1;
    p->group = -1;
    p->created_ms = now;
    pod_spec_requests(spec, req);
    p->gpus = (int)req[K8S_RES_GPU];
    p->cpu_m = req[K8S_RES_CPU];
    p->mem_b = req[K8S_RES_MEMORY];
    p->index = -1;
    prod = json_string_value(
        json_object_get(json_object_get(spec, "nodeSelector"), "nvidia.com/gpu.product"));
    snprintf(p->product, sizeof(p->product), "%s", prod ? prod : "");
    p->grace_s = SIM_GRACE_DEFAULT;
    if (json_is_integer(json_object_get(spec, "terminationGracePeriodSeconds")))
        p->grace_s =
            (int)json_integer_value(json_object_get(spec, "terminationGracePeriodSeconds"));
    if (c->n_pods == c->cap_pods) {
        c->cap_pods = c->cap_pods ? c->cap_pods * 2 : 64;
        c->pods = xrealloc(c->pods, c->cap_pods * sizeof(*c->pods));
    }
    at = pod_lower_bound(c, ns, name);
    memmove(&c->pods[at + 1], &c->pods[at], (c->n_pods - at) * sizeof(*c->pods));
    c->pods[at] = p;
    c->n_pods++;
    pod_dirty(c, p);
    return p;
}

static void pod_release(struct spod *p)
{
    json_decref(p->labels);
    json_decref(p->annotations);
    json_decref(p->owner);
    json_decref(p->spec);
    json_decref(p->obj);
    free(p);
}

/* uid no longer names an owner (its object went, or is being deleted in the foreground):
 * the garbage collector looks at what it owned. */
static void owner_went(struct sim_cluster *c, const char *uid)
{
    buf_append(&c->gone, uid, strlen(uid) + 1);
}

static void pod_remove_at(struct sim_cluster *c, size_t i)
{
    if (c->pods[i]->job)
        own_del(c->pods[i]->job, c->pods[i]);
    owner_went(c, c->pods[i]->uid);
    pod_release(c->pods[i]);
    memmove(&c->pods[i], &c->pods[i + 1], (c->n_pods - i - 1) * sizeof(*c->pods));
    c->n_pods--;
    bump(c);
}

static bool holds_gpus(const struct spod *p)
{
    return p->node >= 0 && (p->phase == PH_PENDING || p->phase == PH_RUNNING);
}

/* Starts graceful deletion: the pod keeps its GPUs until the grace period ends. */
static void pod_delete(struct sim_cluster *c, struct spod *p, int64_t now, bool disruption)
{
    if (p->delete_ms)
        return;
    p->delete_ms = now;
    p->disrupted = disruption && (p->phase == PH_RUNNING || p->phase == PH_PENDING);
    pod_dirty(c, p);
}

static bool tolerated(const json_t *tolerations, const json_t *taint)
{
    const char *key = json_string_value(json_object_get(taint, "key"));
    const char *value = json_string_value(json_object_get(taint, "value"));
    const char *effect = json_string_value(json_object_get(taint, "effect"));
    const json_t *t;
    size_t i;

    json_array_foreach(tolerations, i, t)
    {
        const char *tk = json_string_value(json_object_get(t, "key"));
        const char *op = json_string_value(json_object_get(t, "operator"));
        const char *tv = json_string_value(json_object_get(t, "value"));
        const char *te = json_string_value(json_object_get(t, "effect"));
        bool exists = op && strcmp(op, "Exists") == 0;

        if (te && *te && effect && strcmp(te, effect) != 0)
            continue;
        if ((!tk || !*tk) && exists)
            return true;
        if (!tk || !key || strcmp(tk, key) != 0)
            continue;
        if (exists || strcmp(tv ? tv : "", value ? value : "") == 0)
            return true;
    }
    return false;
}

/* One matchExpressions entry against node n's labels: In, NotIn, Exists, DoesNotExist,
 * Gt, Lt as in the NodeSelectorRequirement documentation. */
static bool requirement_ok(const struct sim_cluster *c, const struct snode *n, const json_t *req)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    const char *op = json_string_value(json_object_get(req, "operator"));
    const json_t *vals = json_object_get(req, "values"), *v;
    const char *have = key ? node_label(c, n, key) : NULL;
    bool in = false;
    size_t i;

    if (!key || !op)
        return false;
    json_array_foreach(vals, i, v)
    {
        in |= have && json_is_string(v) && strcmp(have, json_string_value(v)) == 0;
    }
    if (strcmp(op, "In") == 0)
        return in;
    if (strcmp(op, "NotIn") == 0)
        return !in;
    if (strcmp(op, "Exists") == 0)
        return have != NULL;
    if (strcmp(op, "DoesNotExist") == 0)
        return have == NULL;
    if ((strcmp(op, "Gt") == 0 || strcmp(op, "Lt") == 0) && have &&
        json_is_string(json_array_get(vals, 0))) {
        long long a = strtoll(have, NULL, 10);
        long long b = strtoll(json_string_value(json_array_get(vals, 0)), NULL, 10);

        return op[0] == 'G' ? a > b : a < b;
    }
    return false;
}

/* One matchFields entry: the only field a NodeSelectorRequirement may name is
 * metadata.name, with In or NotIn. */
static bool field_ok(const struct snode *n, const json_t *req)
{
    const char *key = json_string_value(json_object_get(req, "key"));
    const char *op = json_string_value(json_object_get(req, "operator"));
    const json_t *v;
    bool in = false;
    size_t i;

    if (!key || !op || strcmp(key, "metadata.name") != 0)
        return false;
    json_array_foreach(json_object_get(req, "values"), i, v)
    {
        in |= json_is_string(v) && strcmp(n->name, json_string_value(v)) == 0;
    }
    if (strcmp(op, "In") == 0)
        return in;
    return strcmp(op, "NotIn") == 0 && !in;
}

/* requiredDuringSchedulingIgnoredDuringExecution: the terms are ORed, the expressions and
 * fields of a term ANDed; a term without either matches no node. No node affinity: any
 * node. */
static bool affinity_ok(const struct sim_cluster *c, const struct snode *n, const json_t *spec)
{
    const json_t *req =
        json_object_get(json_object_get(json_object_get(spec, "affinity"), "nodeAffinity"),
                        "requiredDuringSchedulingIgnoredDuringExecution");
    const json_t *term, *x;
    size_t i, k;

    if (!req)
        return true;
    json_array_foreach(json_object_get(req, "nodeSelectorTerms"), i, term)
    {
        const json_t *exprs = json_object_get(term, "matchExpressions");
        const json_t *fields = json_object_get(term, "matchFields");
        bool ok = json_array_size(exprs) + json_array_size(fields) > 0;

        json_array_foreach(exprs, k, x)
        {
            ok = ok && requirement_ok(c, n, x);
        }
        json_array_foreach(fields, k, x)
        {
            ok = ok && field_ok(n, x);
        }
        if (ok)
            return true;
    }
    return false;
}

static int64_t node_cpu_m(const struct sim_node_pool *p)
{
    return p->cpu ? p->cpu * 1000LL : DEFAULT_CPU_M;
}

static int64_t node_mem_b(const struct sim_node_pool *p)
{
    return p->memory_gib ? (int64_t)p->memory_gib << 30 : DEFAULT_MEM_B;
}

/* Counts of nodes a pod did not fit, by reason, for the PodScheduled message. */
struct misfit {
    int gpu, cpu, mem, mismatch, tainted, unready;
};

static void unschedulable_message(const struct sim_cluster *c, const struct misfit *m, char *out,
                                  size_t size)
{
    char res[96] = "";

    if (m->cpu)
        snprintf(res, sizeof(res), "%d Insufficient cpu, ", m->cpu);
    if (m->mem)
        snprintf(res + strlen(res), sizeof(res) - strlen(res), "%d Insufficient memory, ", m->mem);
    snprintf(out, size,
             "0/%zu nodes are available: %s%d Insufficient nvidia.com/gpu, %d node(s) didn't "
             "match Pod's node affinity/selector, %d node(s) had untolerated taint, %d node(s) "
             "were unschedulable.",
             c->n_nodes, res, m->gpu, m->mismatch, m->tainted, m->unready);
}

/* Binds p to the best-fitting node (least free GPUs left) or records why it cannot. */
static void pod_schedule(struct sim_cluster *c, struct spod *p)
{
    const json_t *sel = json_object_get(p->spec, "nodeSelector");
    const json_t *tols = json_object_get(p->spec, "tolerations");
    long best = -1;
    int best_left = 1 << 30;
    struct misfit m = {0};
    char msg[256];

    for (size_t i = 0; i < c->n_nodes; i++) {
        const struct snode *n = &c->nodes[i];
        const struct sim_node_pool *pool = &c->spec.pools[n->pool];
        const char *k;
        const json_t *v, *t;
        bool ok = true;
        size_t ti;
        int left;

        json_object_foreach((json_t *)sel, k, v)
        {
            const char *have = node_label(c, n, k);

            if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0)
                ok = false;
        }
        if (!ok || !affinity_ok(c, n, p->spec)) {
            m.mismatch++;
            continue;
        }
        if (!n->ready || n->cordoned) {
            m.unready++;
            continue;
        }
        json_array_foreach(pool->taints, ti, t)
        {
            const char *eff = json_string_value(json_object_get(t, "effect"));

            if (eff && strcmp(eff, "PreferNoSchedule") != 0 && !tolerated(tols, t))
                ok = false;
        }
        if (!ok) {
            m.tainted++;
            continue;
        }
        left = pool->gpus - n->used - p->gpus;
        if (left < 0) {
            m.gpu++;
            continue;
        }
        if (n->cpu_used + p->cpu_m > node_cpu_m(pool)) {
            m.cpu++;
            continue;
        }
        if (n->mem_used + p->mem_b > node_mem_b(pool)) {
            m.mem++;
            continue;
        }
        if (left < best_left) {
            best = (long)i;
            best_left = left;
        }
    }
    if (best >= 0) {
        p->node = best;
        p->node_name_cache = c->nodes[best].name;
        p->bound_ms = sim_clock_now(c->clock);
        c->nodes[best].used += p->gpus;
        c->nodes[best].cpu_used += p->cpu_m;
        c->nodes[best].mem_used += p->mem_b;
        p->sched_msg[0] = '\0';
        pod_dirty(c, p);
        return;
    }
    unschedulable_message(c, &m, msg, sizeof(msg));
    if (strcmp(msg, p->sched_msg) != 0) {
        snprintf(p->sched_msg, sizeof(p->sched_msg), "%s", msg);
        pod_dirty(c, p);
    }
}

static json_t *condition(const char *type, const char *status, int64_t at, const char *reason,
                         const char *message)
{
    json_t *o = json_object();

    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "status", json_string(status));
    json_object_set_new(o, "lastProbeTime", json_null());
    json_object_set_new(o, "lastTransitionTime", json_ts(at));
    if (reason)
        json_object_set_new(o, "reason", json_string(reason));
    if (message)
        json_object_set_new(o, "message", json_string(message));
    return o;
}

static const char *not_ready_reason(const struct spod *p)
{
    switch (p->phase) {
    case PH_RUNNING: return NULL;
    case PH_PENDING: return "ContainersNotReady";
    case PH_SUCCEEDED: return "PodCompleted";
    default: return "PodFailed";
    }
}

/* The state of container i of bound pod p, as the kubelet reports it. A pod's failure is
 * its first container's; the others completed. */
static json_t *container_state(const struct spod *p, size_t i, const char *image)
{
    int64_t started = p->start_ms ? p->start_ms : p->created_ms;
    char msg[400];

    switch (p->phase) {
    case PH_RUNNING: return json_pack("{s:{s:o}}", "running", "startedAt", json_ts(started));
    case PH_PENDING:
        if (!p->waiting[0])
            return json_pack("{s:{s:s}}", "waiting", "reason", "ContainerCreating");
        snprintf(msg, sizeof(msg), "Back-off pulling image \"%s\"", image);
        return json_pack("{s:{s:s, s:s}}", "waiting", "reason", p->waiting, "message", msg);
    default: break;
    }
    return json_pack(
        "{s:{s:i, s:s, s:o, s:o, s:s}}", "terminated", "exitCode", i == 0 ? p->exit_code : 0,
        "reason", i == 0 && p->term_reason[0] ? p->term_reason : "Completed", "startedAt",
        json_ts(started), "finishedAt", json_ts(p->finish_ms ? p->finish_ms : started),
        "containerID",
        "containerd://0000000000000000000000000000000000000000000000000000000000000000");
}

static json_t *container_statuses(const struct spod *p)
{
    json_t *out = json_array(), *ctr;
    size_t i;

    json_array_foreach(json_object_get(p->spec, "containers"), i, ctr)
    {
        const char *name = json_string_value(json_object_get(ctr, "name"));
        const char *image = json_string_value(json_object_get(ctr, "image"));
        bool running = p->phase == PH_RUNNING;

        json_array_append_new(
            out, json_pack("{s:s, s:s, s:s, s:b, s:i, s:b, s:o, s:{}}", "name", name ? name : "",
                           "image", image ? image : "", "imageID", "", "ready", running,
                           "restartCount", 0, "started", running, "state",
                           container_state(p, i, image ? image : ""), "lastState"));
    }
    return out;
}

static json_t *pod_render(struct sim_cluster *c, struct spod *p)
{
    json_t *o, *md, *spec, *st, *conds;
    char rv[24];

    if (p->obj)
        return p->obj;
    o = json_object();
    md = json_object();
    json_object_set_new(md, "name", json_string(p->name));
    json_object_set_new(md, "namespace", json_string(p->ns));
    json_object_set_new(md, "uid", json_string(p->uid));
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)p->rv);
    json_object_set_new(md, "resourceVersion", json_string(rv));
    json_object_set_new(md, "creationTimestamp", json_ts(p->created_ms));
    json_object_set_new(md, "labels", json_incref(p->labels));
    if (json_object_size(p->annotations))
        json_object_set_new(md, "annotations", json_incref(p->annotations));
    if (p->owner)
        json_object_set_new(md, "ownerReferences", json_incref(p->owner));
    if (p->delete_ms) {
        json_object_set_new(md, "deletionTimestamp", json_ts(p->delete_ms + p->grace_s * 1000LL));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(p->grace_s));
    }
    spec = json_deep_copy(p->spec);
    if (p->node >= 0)
        json_object_set_new(spec, "nodeName", json_string(c->nodes[p->node].name));
    st = json_object();
    conds = json_array();
    json_object_set_new(st, "phase", json_string(phase_names[p->phase]));
    if (p->node < 0) {
        if (p->sched_msg[0])
            json_array_append_new(conds, condition("PodScheduled", "False", p->created_ms,
                                                   "Unschedulable", p->sched_msg));
    } else {
        int64_t at = p->start_ms ? p->start_ms : p->created_ms;
        bool running = p->phase == PH_RUNNING;

        json_array_append_new(conds,
                              condition("PodReadyToStartContainers", "True", at, NULL, NULL));
        json_array_append_new(conds, condition("Initialized", "True", at, NULL, NULL));
        json_array_append_new(
            conds, condition("Ready", running ? "True" : "False", at, not_ready_reason(p), NULL));
        json_array_append_new(conds, condition("ContainersReady", running ? "True" : "False", at,
                                               not_ready_reason(p), NULL));
        /* As the kube-scheduler's binding sets it: when the pod was bound, so creation to
         * this is how long it waited for a node. */
        json_array_append_new(conds,
                              condition("PodScheduled", "True",
                                        p->bound_ms ? p->bound_ms : p->created_ms, NULL, NULL));
        json_object_set_new(st, "hostIP", json_string("10.0.0.1"));
        json_object_set_new(st, "startTime", json_ts(at));
        json_object_set_new(st, "containerStatuses", container_statuses(p));
    }
    if (p->disrupted)
        json_array_append_new(
            conds,
            p->evicted
                ? condition("DisruptionTarget", "True", p->delete_ms, "DeletionByTaintManager",
                            "Taint manager: deleting due to NoExecute taint")
                : condition("DisruptionTarget", "True", p->delete_ms, "DeletionByPodGC",
                            "Simulator: the owner was deleted; the pod "
                            "terminates after its grace period"));
    json_object_set_new(st, "conditions", conds);
    json_object_set_new(st, "qosClass", json_string("Burstable"));
    json_object_set_new(o, "metadata", md);
    json_object_set_new(o, "spec", spec);
    json_object_set_new(o, "status", st);
    p->obj = o;
    return o;
}

/* A pod spec with one container asking for gpus GPUs (limits only, as GPU pods often do),
 * tolerating the GPU taint. */
static json_t *simple_spec(int gpus, const char *product, const json_t *node_selector,
                           const char *image)
{
    json_t *spec = json_object(), *ctr = json_object(), *res = json_object();
    json_t *lim = json_object(), *req = json_object(), *tols = json_array(), *tol = json_object();
    json_t *sel = node_selector ? json_deep_copy(node_selector) : json_object();

    json_object_set_new(req, "cpu", json_string("4"));
    json_object_set_new(req, "memory", json_string("32Gi"));
    json_object_set_new(lim, "memory", json_string("32Gi"));
    if (gpus) {
        char g[16];

        snprintf(g, sizeof(g), "%d", gpus);
        json_object_set_new(lim, "nvidia.com/gpu", json_string(g));
    }
    json_object_set_new(res, "requests", req);
    json_object_set_new(res, "limits", lim);
    json_object_set_new(ctr, "name", json_string("main"));
    json_object_set_new(ctr, "image", json_string(image));
    json_object_set_new(ctr, "resources", res);
    json_object_set_new(spec, "containers", json_pack("[o]", ctr));
    json_object_set_new(tol, "key", json_string("nvidia.com/gpu"));
    json_object_set_new(tol, "operator", json_string("Exists"));
    json_object_set_new(tol, "effect", json_string("NoSchedule"));
    json_array_append_new(tols, tol);
    json_object_set_new(spec, "tolerations", tols);
    if (product && *product)
        json_object_set_new(sel, "nvidia.com/gpu.product", json_string(product));
    if (json_object_size(sel))
        json_object_set_new(spec, "nodeSelector", sel);
    else
        json_decref(sel);
    json_object_set_new(spec, "restartPolicy", json_string("Always"));
    json_object_set_new(spec, "schedulerName", json_string("default-scheduler"));
    json_object_set_new(spec, "terminationGracePeriodSeconds", json_integer(SIM_GRACE_DEFAULT));
    return spec;
}

/* ---- jobs ------------------------------------------------------------------------------------- */

static const char *kind_plural(enum kind k)
{
    return k == KIND_JOB ? "jobs" : "rayjobs";
}

static const char *kind_group(enum kind k)
{
    return k == KIND_JOB ? "batch" : "ray.io";
}

static int cmp_job_key(const struct sjob *j, enum kind k, const char *ns, const char *name)
{
    int r;

    if (j->kind != k)
        return j->kind < k ? -1 : 1;
    r = strcmp(j->ns, ns);
    return r ? r : strcmp(j->name, name);
}

static size_t job_lower_bound(const struct sim_cluster *c, enum kind k, const char *ns,
                              const char *name)
{
    size_t lo = 0, hi = c->n_jobs;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;

        if (cmp_job_key(c->jobs[mid], k, ns, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct sjob *find_job(const struct sim_cluster *c, enum kind k, const char *ns,
                             const char *name)
{
    size_t i = job_lower_bound(c, k, ns, name);

    return i < c->n_jobs && cmp_job_key(c->jobs[i], k, ns, name) == 0 ? c->jobs[i] : NULL;
}

static void job_remove(struct sim_cluster *c, struct sjob *j)
{
    size_t i = job_lower_bound(c, j->kind, j->ns, j->name);

    for (size_t p = 0; p < j->n_own; p++)
        j->own[p]->job = NULL;
    owner_went(c, j->uid);
    json_decref(j->obj);
    free(j->own);
    free(j);
    memmove(&c->jobs[i], &c->jobs[i + 1], (c->n_jobs - i - 1) * sizeof(*c->jobs));
    c->n_jobs--;
    bump(c);
}

static int64_t annotation_seconds(const json_t *obj, const json_t *tmpl, int64_t dflt)
{
    const char *paths[2] = {NULL, NULL};
    int64_t v;

    paths[0] = json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "annotations"), ANNOT_DURATION));
    paths[1] = json_string_value(json_object_get(
        json_object_get(json_object_get(tmpl, "metadata"), "annotations"), ANNOT_DURATION));
    for (int i = 0; i < 2; i++) {
        char *end;

        if (!paths[i])
            continue;
        v = strtoll(paths[i], &end, 10);
        if (*end == '\0' && end != paths[i] && v >= 0)
            return v;
    }
    return dflt;
}

/* The annotation sim.fedsched.io/outcome of obj into out, "" when none. */
static void read_outcome(const json_t *obj, char *out, size_t size)
{
    const char *v = json_string_value(json_object_get(
        json_object_get(json_object_get(obj, "metadata"), "annotations"), ANNOT_OUTCOME));

    snprintf(out, size, "%s", v ? v : "");
}

/* The container failure the outcome asks for (OOMKilled: 137; Error:<code>); false when it
 * asks for none. */
static bool outcome_failure(const struct sjob *j, int *code, const char **reason)
{
    if (strcmp(j->outcome, "OOMKilled") == 0) {
        *code = 137;
        *reason = "OOMKilled";
        return true;
    }
    if (strncmp(j->outcome, "Error:", 6) == 0) {
        char *end;
        long v = strtol(j->outcome + 6, &end, 10);

        if (*end == '\0' && end != j->outcome + 6 && v >= 1 && v <= 255) {
            *code = (int)v;
            *reason = "Error";
            return true;
        }
    }
    return false;
}

/* The Job controller gives each container of an Indexed Job's pod its index. */
static void add_index_env(json_t *spec)
{
    static const char *const lists[] = {"containers", "initContainers"};

    for (int l = 0; l < 2; l++) {
        json_t *ctr;
        size_t i;

        json_array_foreach(json_object_get(spec, lists[l]), i, ctr)
        {
            json_t *env = json_object_get(ctr, "env"), *x;
            size_t k;
            bool have = false;

            if (!json_is_array(env)) {
                env = json_array();
                json_object_set_new(ctr, "env", env);
            }
            json_array_foreach(env, k, x)
            {
                const char *n = json_string_value(json_object_get(x, "name"));

                have |= n && strcmp(n, "JOB_COMPLETION_INDEX") == 0;
            }
            if (!have)
                json_array_append_new(env, json_pack("{s:s, s:{s:{s:s}}}", "name",
                                                     "JOB_COMPLETION_INDEX", "valueFrom",
                                                     "fieldRef", "fieldPath",
                                                     "metadata.annotations['" LABEL_INDEX "']"));
        }
    }
}

/* Creates a pod of template tmpl (a PodTemplateSpec) for job j; index >= 0 for a pod of an
 * Indexed Job. */
static struct spod *job_spawn(struct sim_cluster *c, struct sjob *j, const json_t *tmpl,
                              const char *pod_name, int index, int64_t now)
{
    const json_t *tmd = json_object_get(tmpl, "metadata");
    json_t *labels = json_deep_copy(json_object_get(tmd, "labels"));
    json_t *annotations = json_deep_copy(json_object_get(tmd, "annotations"));
    json_t *spec = json_deep_copy(json_object_get(tmpl, "spec"));
    json_t *owner = json_array(), *ref = json_object();
    struct spod *p;

    if (!json_is_object(labels)) {
        json_decref(labels);
        labels = json_object();
    }
    if (!json_is_object(annotations)) {
        json_decref(annotations);
        annotations = json_object();
    }
    if (!json_is_object(spec)) {
        json_decref(spec);
        spec = json_object();
    }
    json_object_del(spec, "nodeName");
    if (j->kind == KIND_JOB) {
        json_object_set_new(labels, "batch.kubernetes.io/job-name", json_string(j->name));
        json_object_set_new(labels, "job-name", json_string(j->name));
        json_object_set_new(labels, "batch.kubernetes.io/controller-uid", json_string(j->uid));
        json_object_set_new(ref, "apiVersion", json_string("batch/v1"));
        json_object_set_new(ref, "kind", json_string("Job"));
    } else {
        json_object_set_new(labels, "ray.io/cluster", json_string(j->name));
        json_object_set_new(ref, "apiVersion", json_string("ray.io/v1"));
        json_object_set_new(ref, "kind", json_string("RayCluster"));
    }
    if (index >= 0) {
        char idx[16], host[80];

        snprintf(idx, sizeof(idx), "%d", index);
        json_object_set_new(labels, LABEL_INDEX, json_string(idx));
        json_object_set_new(annotations, LABEL_INDEX, json_string(idx));
        if (!json_is_string(json_object_get(spec, "hostname"))) {
            snprintf(host, sizeof(host), "%.56s-%d", j->name, index);
            json_object_set_new(spec, "hostname", json_string(host));
        }
        add_index_env(spec);
    }
    json_object_set_new(ref, "name", json_string(j->name));
    json_object_set_new(ref, "uid", json_string(j->uid));
    json_object_set_new(ref, "controller", json_true());
    json_object_set_new(ref, "blockOwnerDeletion", json_true());
    json_array_append_new(owner, ref);
    p = pod_add(c, j->ns, pod_name, labels, spec, owner, now);
    p->annotations = annotations;
    p->index = index;
    p->job = j;
    own_add(j, p);
    if (strcmp(j->outcome, "ImagePullBackOff") == 0)
        snprintf(p->waiting, sizeof(p->waiting), "%s", "ImagePullBackOff");
    j->n_pods++;
    return p;
}

/* The pod templates of j: the Job's, or the RayJob's head and worker groups. */
static size_t job_templates(const struct sjob *j, const json_t **out, size_t max)
{
    const json_t *spec = json_object_get(j->obj, "spec"), *rc, *g;
    size_t n = 0, i;

    if (j->kind == KIND_JOB) {
        out[n++] = json_object_get(spec, "template");
        return n;
    }
    rc = json_object_get(spec, "rayClusterSpec");
    out[n++] = json_object_get(json_object_get(rc, "headGroupSpec"), "template");
    json_array_foreach(json_object_get(rc, "workerGroupSpecs"), i, g)
    {
        if (n < max)
            out[n++] = json_object_get(g, "template");
    }
    return n;
}

/* The Priority admission plugin refuses a pod whose priorityClassName does not exist, so
 * such a job's pods are never created (until the class is). */
static bool classes_exist(const struct sim_cluster *c, const struct sjob *j)
{
    const json_t *t[16];
    size_t n = job_templates(j, t, 16);

    for (size_t i = 0; i < n; i++) {
        const char *pc =
            json_string_value(json_object_get(json_object_get(t[i], "spec"), "priorityClassName"));

        if (pc && *pc && !sim_objects_get(c->objs, "priorityclasses", "", pc))
            return false;
    }
    return true;
}

static void job_pod_name(struct sim_cluster *c, const struct sjob *j, int index, char *out,
                         size_t size)
{
    char sfx[6];

    suffix5(c, sfx);
    if (index >= 0)
        snprintf(out, size, "%.200s-%d-%s", j->name, index, sfx);
    else
        snprintf(out, size, "%.240s-%s", j->name, sfx);
}

/* Creates the pods of a job that is not suspended, or marks it blocked when admission
 * would refuse them. */
static void job_spawn_all(struct sim_cluster *c, struct sjob *j, int64_t now)
{
    const json_t *spec = json_object_get(j->obj, "spec");
    char pn[300], sfx[6];

    j->blocked = !classes_exist(c, j);
    if (j->blocked)
        return;
    if (j->kind == KIND_JOB) {
        json_int_t n = json_integer_value(json_object_get(spec, "parallelism"));
        json_int_t comp = json_integer_value(json_object_get(spec, "completions"));
        const char *mode = json_string_value(json_object_get(spec, "completionMode"));
        bool indexed = mode && strcmp(mode, "Indexed") == 0;

        if (comp > 0 && comp < n)
            n = comp;
        for (json_int_t i = 0; i < n && i < 1024; i++) {
            job_pod_name(c, j, indexed ? (int)i : -1, pn, sizeof(pn));
            job_spawn(c, j, json_object_get(spec, "template"), pn, indexed ? (int)i : -1, now);
        }
    } else {
        const json_t *rc = json_object_get(spec, "rayClusterSpec"), *g;
        size_t gi;

        suffix5(c, sfx);
        snprintf(pn, sizeof(pn), "%.200s-head-%s", j->name, sfx);
        job_spawn(c, j, json_object_get(json_object_get(rc, "headGroupSpec"), "template"), pn, -1,
                  now);
        json_array_foreach(json_object_get(rc, "workerGroupSpecs"), gi, g)
        {
            json_int_t n = json_integer_value(json_object_get(g, "replicas"));
            const char *group = json_string_value(json_object_get(g, "groupName"));

            for (json_int_t i = 0; i < n && i < 1024; i++) {
                suffix5(c, sfx);
                snprintf(pn, sizeof(pn), "%.160s-%.60s-worker-%s", j->name,
                         group ? group : "workers", sfx);
                job_spawn(c, j, json_object_get(g, "template"), pn, -1, now);
            }
        }
    }
}

static int job_pods(const struct sjob *j, int *running, int *pending, int *succeeded, int *failed)
{
    int n = 0;

    *running = *pending = *succeeded = *failed = 0;
    for (size_t i = 0; i < j->n_own; i++) {
        const struct spod *p = j->own[i];

        n++;
        if (p->phase == PH_RUNNING)
            (*running)++;
        else if (p->phase == PH_PENDING)
            (*pending)++;
        else if (p->phase == PH_SUCCEEDED)
            (*succeeded)++;
        else
            (*failed)++;
    }
    return n;
}

static bool job_suspended(const struct sjob *j)
{
    return j->kind == KIND_JOB &&
           json_is_true(json_object_get(json_object_get(j->obj, "spec"), "suspend"));
}

static void job_render_conditions(const struct sjob *j, json_t *st)
{
    json_t *conds = json_array();
    const char *reason = j->fail_reason[0] ? j->fail_reason : "BackoffLimitExceeded";
    const char *msg = j->fail_msg[0] ? j->fail_msg : "Job has reached the specified backoff limit";

    if (j->finished && !j->fail) {
        json_array_append_new(conds, condition("SuccessCriteriaMet", "True", j->done_ms,
                                               "CompletionsReached",
                                               "Reached expected number of succeeded pods"));
        json_array_append_new(conds, condition("Complete", "True", j->done_ms, "CompletionsReached",
                                               "Reached expected number of succeeded pods"));
        json_object_set_new(st, "completionTime", json_ts(j->done_ms));
    } else if (j->finished) {
        json_array_append_new(conds, condition("FailureTarget", "True", j->done_ms, reason, msg));
        json_array_append_new(conds, condition("Failed", "True", j->done_ms, reason, msg));
    } else if (job_suspended(j)) {
        json_array_append_new(
            conds, condition("Suspended", "True", j->created_ms, "JobSuspended", "Job suspended"));
    }
    if (json_array_size(conds))
        json_object_set_new(st, "conditions", conds);
    else
        json_decref(conds);
}

static void job_render_status(struct sjob *j)
{
    json_t *st = json_object(), *md = json_object_get(j->obj, "metadata");
    int running, pending, succeeded, failed;
    char rv[24];

    job_pods(j, &running, &pending, &succeeded, &failed);
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)j->rv);
    json_object_set_new(md, "resourceVersion", json_string(rv));
    if (j->kind == KIND_JOB) {
        if (running + pending)
            json_object_set_new(st, "active", json_integer(running + pending));
        json_object_set_new(st, "ready", json_integer(running));
        if (succeeded)
            json_object_set_new(st, "succeeded", json_integer(succeeded));
        if (failed)
            json_object_set_new(st, "failed", json_integer(failed));
        if (!job_suspended(j))
            json_object_set_new(st, "startTime", json_ts(j->created_ms));
        job_render_conditions(j, st);
        json_object_set_new(st, "uncountedTerminatedPods", json_object());
    } else {
        const char *js = "PENDING", *ds = "Initializing";

        if (j->finished) {
            js = j->fail ? "FAILED" : j->stop ? "STOPPED" : "SUCCEEDED";
            ds = j->fail ? "Failed" : "Complete";
        } else if (j->start_ms) {
            js = "RUNNING";
            ds = "Running";
        }
        json_object_set_new(st, "jobStatus", json_string(js));
        json_object_set_new(st, "jobDeploymentStatus", json_string(ds));
        json_object_set_new(st, "rayClusterName", json_string(j->name));
        json_object_set_new(st, "jobId", json_string(j->name));
        json_object_set_new(st, "startTime", json_ts(j->created_ms));
        if (j->finished)
            json_object_set_new(st, "endTime", json_ts(j->done_ms));
        if (j->fail && j->fail_msg[0])
            json_object_set_new(st, "message", json_string(j->fail_msg));
        json_object_set_new(st, "observedGeneration", json_integer(1));
    }
    json_object_set_new(j->obj, "status", st);
}

static void job_dirty(struct sim_cluster *c, struct sjob *j)
{
    bump(c);
    j->rv = c->rv;
    job_render_status(j);
}

/* ---- time passing ------------------------------------------------------------------------- */

int sim_deployment_replicas(const struct sim_deployment *d, int64_t now_ms)
{
    double h = fmod((double)now_ms / 3600000.0, 24.0);
    double x = (1 + cos(2 * M_PI * (h - d->peak_hour) / 24.0)) / 2;

    return d->min_replicas + (int)lround(x * (d->max_replicas - d->min_replicas));
}

/* What deployment di's autoscaler wants at simulated time t: the announced scale once it
 * is due, else the curve; before a scale the scenario announced at its start
 * ("desiredReplicas"), minReplicas. */
static int deploy_target(const struct sim_cluster *c, size_t di, int64_t t)
{
    if (c->scale_at_ms[di] && t >= c->scale_at_ms[di])
        return c->scale_to[di];
    if (c->spec.deployments[di].hpa_desired > 0)
        return c->spec.deployments[di].min_replicas;
    return sim_deployment_replicas(&c->spec.deployments[di], t);
}

/* The Deployment's spec.replicas at t: the autoscaler's wish hpa_delay_s later. */
static int deploy_spec_replicas(const struct sim_cluster *c, size_t di, int64_t t)
{
    const struct sim_deployment *d = &c->spec.deployments[di];

    return deploy_target(c, di, t - (d->hpa ? d->hpa_delay_s * 1000LL : 0));
}

/* The label keys the LWS controller puts on a group's pods (sigs.k8s.io/lws,
 * api/leaderworkerset/v1/leaderworkerset_types.go). */
#define LWS_LABEL_NAME   "leaderworkerset.sigs.k8s.io/name"
#define LWS_LABEL_GROUP  "leaderworkerset.sigs.k8s.io/group-index"
#define LWS_LABEL_WORKER "leaderworkerset.sigs.k8s.io/worker-index"
#define LWS_IMAGE        "vllm/vllm-openai:v0.6.3"

/* One pod of a LeaderWorkerSet's pod templates: the leader's (worker 0) or a worker's. */
static json_t *lws_pod_spec(const struct sim_deployment *d, bool leader)
{
    return simple_spec(leader && d->leader_gpus >= 0 ? d->leader_gpus : d->gpus_per_replica,
                       d->product, d->node_selector, LWS_IMAGE);
}

/* LeaderWorkerSet di as its controller keeps it: groups 0 .. spec.replicas - 1, each a
 * leader pod NAME-G (worker-index 0, from the leader StatefulSet) and workers NAME-G-W
 * (from the group's worker StatefulSet), missing pods made again; groups past the end go
 * whole (scaling down removes the highest indexes). */
static void reconcile_lws(struct sim_cluster *c, size_t di, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    int want = deploy_spec_replicas(c, di, now - d->rollout_delay_s * 1000LL);

    for (size_t i = c->n_pods; i-- > 0;) {
        struct spod *p = c->pods[i];

        if (p->deploy == (long)di && p->group >= want && !p->delete_ms)
            pod_delete(c, p, now, false);
    }
    for (int g = 0; g < want; g++) {
        for (int w = 0; w < d->lws_size; w++) {
            char name[160], gs[16], ws[16];
            json_t *labels;
            struct spod *p;

            if (w == 0)
                snprintf(name, sizeof(name), "%s-%d", d->name, g);
            else
                snprintf(name, sizeof(name), "%s-%d-%d", d->name, g, w);
            if (find_pod(c, d->ns, name))
                continue; /* there, or still going: a StatefulSet waits for the name */
            snprintf(gs, sizeof(gs), "%d", g);
            snprintf(ws, sizeof(ws), "%d", w);
            labels = json_pack("{s:s, s:s, s:s}", LWS_LABEL_NAME, d->name, LWS_LABEL_GROUP, gs,
                               LWS_LABEL_WORKER, ws);
            p = pod_add(c, d->ns, name, labels, lws_pod_spec(d, w == 0), NULL, now);
            p->deploy = (long)di;
            p->group = g;
        }
    }
}

static void reconcile_deployment(struct sim_cluster *c, size_t di, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    int want = deploy_spec_replicas(c, di, now - d->rollout_delay_s * 1000LL), have = 0;

    if (d->lws) {
        reconcile_lws(c, di, now);
        return;
    }

    for (size_t i = 0; i < c->n_pods; i++)
        have += c->pods[i]->deploy == (long)di && !c->pods[i]->delete_ms;
    while (have < want) {
        char name[160], sfx[6];
        json_t *labels = json_object();
        struct spod *p;

        suffix5(c, sfx);
        snprintf(name, sizeof(name), "%s-6d8f9c7b5d-%s", d->name, sfx);
        json_object_set_new(labels, "app", json_string(d->name));
        json_object_set_new(labels, "pod-template-hash", json_string("6d8f9c7b5d"));
        p = pod_add(c, d->ns, name, labels,
                    simple_spec(d->gpus_per_replica, d->product, d->node_selector,
                                "nvcr.io/nvidia/tritonserver:24.05-py3"),
                    NULL, now);
        p->deploy = (long)di;
        have++;
    }
    while (have > want) {
        /* A ReplicaSet scales down unscheduled pods first, then the newest. */
        struct spod *victim = NULL;

        for (size_t i = 0; i < c->n_pods; i++) {
            struct spod *p = c->pods[i];

            if (p->deploy != (long)di || p->delete_ms)
                continue;
            if (!victim || (p->node < 0 && victim->node >= 0) ||
                ((p->node < 0) == (victim->node < 0) && p->created_ms > victim->created_ms))
                victim = p;
        }
        if (!victim)
            break;
        pod_delete(c, victim, now, false);
        have--;
    }
}

static void json_set_rv(json_t *obj, uint64_t rv);

/* Puts obj (owned) in place of the stored object of resource res when its spec or status
 * differ, keeping uid and creationTimestamp, with a new resourceVersion; a new object gets
 * them. Deployments bump metadata.generation when their spec changes. */
static void sync_object(struct sim_cluster *c, const char *res, const char *ns, const char *name,
                        json_t *obj, int64_t now)
{
    json_t *old = sim_objects_get(c->objs, res, ns, name);
    json_t *md = json_object_get(obj, "metadata");
    json_int_t gen = 1;
    char uid[40];

    if (old) {
        gen = json_integer_value(json_object_get(json_object_get(old, "metadata"), "generation"));
        gen += !json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec"));
    }
    if (strcmp(res, "deployments") == 0 || strcmp(res, "leaderworkersets") == 0) {
        json_object_set_new(md, "generation", json_integer(gen));
        json_object_set_new(json_object_get(obj, "status"), "observedGeneration",
                            json_integer(gen));
    }
    if (old && json_equal(json_object_get(old, "spec"), json_object_get(obj, "spec")) &&
        json_equal(json_object_get(old, "status"), json_object_get(obj, "status"))) {
        json_decref(obj);
        return;
    }
    if (old) {
        json_t *omd = json_object_get(old, "metadata");

        json_object_set(md, "uid", json_object_get(omd, "uid"));
        json_object_set(md, "creationTimestamp", json_object_get(omd, "creationTimestamp"));
        json_decref(sim_objects_remove(c->objs, res, ns, name));
    } else {
        new_uid(c, uid, sizeof(uid));
        json_object_set_new(md, "uid", json_string(uid));
        json_object_set_new(md, "creationTimestamp", json_ts(now));
    }
    bump(c);
    json_set_rv(obj, c->rv);
    sim_objects_seed(c->objs, sim_objects_resource(res), obj);
}

/* An int32 status field as the API server writes it: omitted when zero (omitempty). */
static void set_count(json_t *st, const char *key, int v)
{
    if (v)
        json_object_set_new(st, key, json_integer(v));
}

/* A pod template: labels and spec (owned). */
static json_t *pod_template(json_t *labels, json_t *spec)
{
    return json_pack("{s:{s:o}, s:o}", "metadata", "labels", labels, "spec", spec);
}

/* LeaderWorkerSet di as an API object (its CRD's v1 schema, testdata/schemas/): status
 * from its pods. Returns status.replicas (groups created: those with a leader). */
static int sync_lws_object(struct sim_cluster *c, size_t di, int spec_replicas, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    int groups = 0, ready = 0;
    json_t *lwt, *st, *lws;
    int top = -1, *n, *up;
    bool *leader;

    for (size_t i = 0; i < c->n_pods; i++)
        if (c->pods[i]->deploy == (long)di && c->pods[i]->group > top)
            top = c->pods[i]->group;
    n = xcalloc((size_t)top + 2, sizeof(*n));
    up = xcalloc((size_t)top + 2, sizeof(*up));
    leader = xcalloc((size_t)top + 2, sizeof(*leader));
    for (size_t i = 0; i < c->n_pods; i++) {
        const struct spod *p = c->pods[i];

        if (p->deploy != (long)di || p->group < 0 || p->delete_ms)
            continue;
        n[p->group]++;
        up[p->group] += p->node >= 0 && p->phase == PH_RUNNING;
        leader[p->group] |=
            strcmp(json_string_value(json_object_get(p->labels, LWS_LABEL_WORKER)), "0") == 0;
    }
    /* A group is created once its leader is; ready when all its pods run. */
    for (int g = 0; g <= top; g++) {
        groups += leader[g];
        ready += leader[g] && n[g] == d->lws_size && up[g] == n[g];
    }
    free(n);
    free(up);
    free(leader);
    lwt = json_pack("{s:i, s:s, s:o}", "size", d->lws_size, "restartPolicy",
                    "RecreateGroupOnPodRestart", "workerTemplate",
                    pod_template(json_pack("{s:s}", "app", d->name), lws_pod_spec(d, false)));
    if (d->leader_gpus >= 0)
        json_object_set_new(lwt, "leaderTemplate",
                            pod_template(json_pack("{s:s, s:s}", "app", d->name, "role", "leader"),
                                         lws_pod_spec(d, true)));
    st = json_object();
    set_count(st, "replicas", groups);
    set_count(st, "readyReplicas", ready);
    set_count(st, "updatedReplicas", groups);
    json_object_set_new(st, "hpaPodSelector",
                        json_sprintf(LWS_LABEL_NAME "=%s," LWS_LABEL_WORKER "=0", d->name));
    lws = json_pack("{s:s, s:s, s:{s:s, s:s}, s:{s:i, s:o, s:s, s:{s:s, s:{s:i, s:i, s:i}}},"
                    " s:o}",
                    "apiVersion", SIM_LWS_GV, "kind", "LeaderWorkerSet", "metadata", "name",
                    d->name, "namespace", d->ns, "spec", "replicas", spec_replicas,
                    "leaderWorkerTemplate", lwt, "startupPolicy", "LeaderCreated",
                    "rolloutStrategy", "type", "RollingUpdate", "rollingUpdateConfiguration",
                    "partition", 0, "maxUnavailable", 1, "maxSurge", 0, "status", st);
    sync_object(c, "leaderworkersets", d->ns, d->name, lws, now);
    return groups;
}

/* Deployment di as an API object, from its pods. Returns status.replicas (pods created). */
static int sync_deployment_object(struct sim_cluster *c, size_t di, int spec_replicas, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    int have = 0, ready = 0;
    json_t *dep, *st;

    for (size_t i = 0; i < c->n_pods; i++) {
        const struct spod *p = c->pods[i];

        if (p->deploy != (long)di || p->delete_ms)
            continue;
        have++;
        ready += p->node >= 0 && p->phase == PH_RUNNING;
    }
    st = json_object();
    set_count(st, "replicas", have);
    set_count(st, "updatedReplicas", have);
    set_count(st, "readyReplicas", ready);
    set_count(st, "availableReplicas", ready);
    set_count(st, "unavailableReplicas", spec_replicas > ready ? spec_replicas - ready : 0);
    dep = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:i, s:{s:{s:s}}, s:{s:{s:{s:s}}, s:o},"
        " s:{s:s, s:{s:s, s:s}},"
        " s:i, s:i}, s:o}",
        "apiVersion", "apps/v1", "kind", "Deployment", "metadata", "name", d->name, "namespace",
        d->ns, "labels", "app", d->name, "spec", "replicas", spec_replicas, "selector",
        "matchLabels", "app", d->name, "template", "metadata", "labels", "app", d->name, "spec",
        simple_spec(d->gpus_per_replica, d->product, d->node_selector,
                    "nvcr.io/nvidia/tritonserver:24.05-py3"),
        "strategy", "type", "RollingUpdate", "rollingUpdate", "maxUnavailable", "25%", "maxSurge",
        "25%", "revisionHistoryLimit", 10, "progressDeadlineSeconds", 600, "status", st);
    sync_object(c, "deployments", d->ns, d->name, dep, now);
    return have;
}

/* The HorizontalPodAutoscaler (autoscaling/v2) of workload di as an API object: it wants
 * desired replicas of its target, which has created have. */
static void sync_hpa_object(struct sim_cluster *c, size_t di, int desired, int have, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    json_t *old = sim_objects_get(c->objs, "horizontalpodautoscalers", d->ns, d->name);
    json_t *hst = json_object(), *hpa;

    if (!old || json_integer_value(
                    json_object_get(json_object_get(old, "status"), "desiredReplicas")) != desired)
        c->hpa_scaled_ms[di] = now;
    set_count(hst, "currentReplicas", have);
    json_object_set_new(hst, "desiredReplicas", json_integer(desired));
    json_object_set_new(hst, "lastScaleTime", json_ts(c->hpa_scaled_ms[di]));
    hpa = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:{s:s, s:s, s:s}, s:i, s:i, s:[{s:s, "
        "s:{s:s, s:{s:s, s:i}}}]}, s:o}",
        "apiVersion", "autoscaling/v2", "kind", "HorizontalPodAutoscaler", "metadata", "name",
        d->name, "namespace", d->ns, "spec", "scaleTargetRef", "apiVersion",
        d->lws ? SIM_LWS_GV : "apps/v1", "kind", d->lws ? "LeaderWorkerSet" : "Deployment", "name",
        d->name, "minReplicas", d->min_replicas > 0 ? d->min_replicas : 1, "maxReplicas",
        d->max_replicas > 0 ? d->max_replicas : 1, "metrics", "type", "Resource", "resource",
        "name", "cpu", "target", "type", "Utilization", "averageUtilization", 70, "status", hst);
    sync_object(c, "horizontalpodautoscalers", d->ns, d->name, hpa, now);
}

/* Workload di (a Deployment or a LeaderWorkerSet) and its HPA as API objects, from the
 * curve, the announced scale and its pods. */
static void sync_deployment_objects(struct sim_cluster *c, size_t di, int64_t now)
{
    const struct sim_deployment *d = &c->spec.deployments[di];
    int spec_replicas = deploy_spec_replicas(c, di, now);
    int have = d->lws ? sync_lws_object(c, di, spec_replicas, now)
                      : sync_deployment_object(c, di, spec_replicas, now);

    if (d->hpa)
        sync_hpa_object(c, di, deploy_target(c, di, now), have, now);
}

static int cmp_created(const void *a, const void *b)
{
    const struct spod *x = *(struct spod *const *)a, *y = *(struct spod *const *)b;

    if (x->created_ms != y->created_ms)
        return x->created_ms < y->created_ms ? -1 : 1;
    return strcmp(x->uid, y->uid);
}

/* Deleted pods go once their grace period is over; pods that never ran (or have
 * finished) go at once, as the API server removes pods no kubelet holds. */
static void reap(struct sim_cluster *c, int64_t now)
{
    for (size_t i = c->n_pods; i-- > 0;) {
        struct spod *p = c->pods[i];

        if (p->delete_ms && (!holds_gpus(p) || now >= p->delete_ms + p->grace_s * 1000LL))
            pod_remove_at(c, i);
    }
}

/* GPUs, cpu and memory of the pods bound to each node, from scratch. */
static void node_usage(struct sim_cluster *c)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        c->nodes[i].used = 0;
        c->nodes[i].cpu_used = c->nodes[i].mem_used = 0;
    }
    for (size_t i = 0; i < c->n_pods; i++) {
        const struct spod *p = c->pods[i];

        if (!holds_gpus(p))
            continue;
        c->nodes[p->node].used += p->gpus;
        c->nodes[p->node].cpu_used += p->cpu_m;
        c->nodes[p->node].mem_used += p->mem_b;
    }
}

/* Binds what is waiting, oldest first; a bound pod runs at once unless its image cannot be
 * pulled. */
static void schedule_pending(struct sim_cluster *c, int64_t now)
{
    struct spod **pending;
    size_t n_pending = 0;

    if (c->sched_hold)
        return;
    pending = xmalloc((c->n_pods + 1) * sizeof(*pending));
    for (size_t i = 0; i < c->n_pods; i++) {
        struct spod *p = c->pods[i];

        if (p->node < 0 && p->phase == PH_PENDING && !p->delete_ms)
            pending[n_pending++] = p;
    }
    qsort(pending, n_pending, sizeof(*pending), cmp_created);
    for (size_t i = 0; i < n_pending; i++) {
        pod_schedule(c, pending[i]);
        if (pending[i]->node >= 0 && !pending[i]->waiting[0]) {
            pending[i]->phase = PH_RUNNING;
            pending[i]->start_ms = now;
            pod_dirty(c, pending[i]);
        }
    }
    free(pending);
}

/* A multi-worker Job whose pods name a subdomain rendezvous through that headless Service:
 * its workers cannot find each other, so it makes no progress, until the Service exists. */
static bool rendezvous_ready(const struct sim_cluster *c, const struct sjob *j, int active)
{
    const char *sub = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(j->obj, "spec"), "template"), "spec"),
        "subdomain"));

    if (j->kind != KIND_JOB || active < 2 || !sub)
        return true;
    return sim_objects_get(c->objs, "services", j->ns, sub) != NULL;
}

/* The job runs from when its last pod started (gang semantics). */
static void job_maybe_start(struct sim_cluster *c, struct sjob *j)
{
    int running, pending, succeeded, failed, total;

    total = job_pods(j, &running, &pending, &succeeded, &failed);
    if (j->finished || j->deleting || j->start_ms || running == 0 || pending ||
        running != total - succeeded - failed || !rendezvous_ready(c, j, running))
        return;
    for (size_t k = 0; k < j->n_own; k++)
        if (j->own[k]->phase == PH_RUNNING && j->own[k]->start_ms > j->start_ms)
            j->start_ms = j->own[k]->start_ms;
}

/* The job failed: the Job controller deletes the pods still active. */
static void job_fail(struct sim_cluster *c, struct sjob *j, const char *reason, const char *msg,
                     int64_t at)
{
    j->finished = true;
    j->fail = true;
    j->done_ms = at;
    snprintf(j->fail_reason, sizeof(j->fail_reason), "%s", reason);
    snprintf(j->fail_msg, sizeof(j->fail_msg), "%s", msg);
    if (j->kind != KIND_JOB)
        return;
    for (size_t k = 0; k < j->n_own; k++) {
        struct spod *p = j->own[k];

        if (p->phase == PH_RUNNING || p->phase == PH_PENDING)
            pod_delete(c, p, at, false);
    }
}

static const char *first_container(const struct spod *p)
{
    const char *n = json_string_value(
        json_object_get(json_array_get(json_object_get(p->spec, "containers"), 0), "name"));

    return n ? n : "";
}

/* The podFailurePolicy rule that matches failed pod p: its action and index; NULL when
 * none does (the failure counts towards backoffLimit). */
static const char *pod_failure_rule(const struct sjob *j, const struct spod *p, size_t *at)
{
    const json_t *rules = json_object_get(
        json_object_get(json_object_get(j->obj, "spec"), "podFailurePolicy"), "rules");
    const json_t *r, *x;
    size_t i, k;

    json_array_foreach(rules, i, r)
    {
        const json_t *codes = json_object_get(r, "onExitCodes");
        const char *op = json_string_value(json_object_get(codes, "operator"));
        const char *cn = json_string_value(json_object_get(codes, "containerName"));
        bool match = false, in = false;

        if (codes && op && (!cn || strcmp(cn, first_container(p)) == 0)) {
            json_array_foreach(json_object_get(codes, "values"), k, x)
            {
                in |= json_integer_value(x) == p->exit_code;
            }
            match = strcmp(op, "In") == 0 ? in : strcmp(op, "NotIn") == 0 && !in;
        }
        json_array_foreach(json_object_get(r, "onPodConditions"), k, x)
        {
            const char *type = json_string_value(json_object_get(x, "type"));
            const char *status = json_string_value(json_object_get(x, "status"));

            match |= type && strcmp(type, "DisruptionTarget") == 0 && p->disrupted &&
                     (!status || strcmp(status, "True") == 0);
        }
        if (match) {
            *at = i;
            return json_string_value(json_object_get(r, "action"));
        }
    }
    return NULL;
}

/* Pod p of job j failed at `at`: the podFailurePolicy, then backoffLimit decide whether the
 * job fails or the pod is replaced (and the gang starts again). */
static void job_pod_failed(struct sim_cluster *c, struct sjob *j, struct spod *p, int64_t at)
{
    const json_t *spec = json_object_get(j->obj, "spec");
    const char *action = NULL;
    size_t rule = 0;
    char msg[400], pn[300];

    if (j->kind == KIND_JOB)
        action = pod_failure_rule(j, p, &rule);
    if (action && strcmp(action, "FailJob") == 0) {
        snprintf(msg, sizeof(msg),
                 "Container %s for pod %s/%s failed with exit code %d matching FailJob rule at "
                 "index %zu",
                 first_container(p), p->ns, p->name, p->exit_code, rule);
        return job_fail(c, j, "PodFailurePolicy", msg, at);
    }
    if (!action || strcmp(action, "Ignore") != 0)
        j->failed_pods++;
    if (j->kind != KIND_JOB ||
        j->failed_pods > json_integer_value(json_object_get(spec, "backoffLimit")))
        return job_fail(c, j, "BackoffLimitExceeded", "Job has reached the specified backoff limit",
                        at);
    job_pod_name(c, j, p->index, pn, sizeof(pn));
    job_spawn(c, j, json_object_get(spec, "template"), pn, p->index, at);
    j->start_ms = 0;
}

/* The job's run time is over: it succeeds, or fails as its outcome annotation says. */
static void job_end(struct sim_cluster *c, struct sjob *j, int64_t at)
{
    const char *reason;
    int code;

    if (outcome_failure(j, &code, &reason)) {
        struct spod *victim = NULL;

        /* A worker's container fails: the one with the highest index, else the last pod. */
        for (size_t k = 0; k < j->n_own; k++) {
            struct spod *p = j->own[k];

            if (p->phase == PH_RUNNING && !p->delete_ms && (!victim || p->index >= victim->index))
                victim = p;
        }
        if (victim) {
            victim->phase = PH_FAILED;
            victim->exit_code = code;
            snprintf(victim->term_reason, sizeof(victim->term_reason), "%s", reason);
            victim->finish_ms = at;
            pod_dirty(c, victim);
            return job_pod_failed(c, j, victim, at);
        }
    }
    j->finished = true;
    j->done_ms = at;
    for (size_t k = 0; k < j->n_own; k++) {
        struct spod *p = j->own[k];

        if (p->phase == PH_RUNNING && !p->delete_ms) {
            p->phase = j->fail ? PH_FAILED : PH_SUCCEEDED;
            p->exit_code = j->fail ? 1 : 0;
            snprintf(p->term_reason, sizeof(p->term_reason), "%s", j->fail ? "Error" : "Completed");
            p->finish_ms = at;
            pod_dirty(c, p);
        }
    }
}

static void job_delete_as(struct sim_cluster *c, struct sjob *j, const char *policy, int64_t now);

static json_t *job_finalizers(const struct sjob *j)
{
    return json_object_get(json_object_get(j->obj, "metadata"), "finalizers");
}

/* Whether finalizer name is in the list fin. */
static bool finalizer_in(const json_t *fin, const char *name)
{
    size_t i;
    const json_t *f;

    json_array_foreach(fin, i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), name) == 0)
            return true;
    }
    return false;
}

/* Removes finalizer name from j's list; the list goes when empty, as the API server
 * omits an empty one. */
static void finalizer_drop(struct sjob *j, const char *name)
{
    json_t *md = json_object_get(j->obj, "metadata"), *f = json_object_get(md, "finalizers");

    for (size_t i = json_array_size(f); i-- > 0;)
        if (json_is_string(json_array_get(f, i)) &&
            strcmp(json_string_value(json_array_get(f, i)), name) == 0)
            json_array_remove(f, i);
    if (f && json_array_size(f) == 0)
        json_object_del(md, "finalizers");
}

/* A job being deleted: the garbage collector takes foregroundDeletion off once its pods
 * are gone, and the object goes with its last finalizer; its remaining pods then go in
 * the background. */
static void job_finalize(struct sim_cluster *c, struct sjob *j, int64_t now)
{
    int r, p, s, f;

    if (!j->deleting)
        return;
    if (j->foreground && job_pods(j, &r, &p, &s, &f) == 0 &&
        finalizer_in(job_finalizers(j), "foregroundDeletion")) {
        finalizer_drop(j, "foregroundDeletion");
        job_dirty(c, j);
    }
    if (json_array_size(job_finalizers(j)) > 0)
        return;
    for (size_t k = 0; k < j->n_own; k++)
        pod_delete(c, j->own[k], now, true);
    job_remove(c, j);
}

/* ttlSecondsAfterFinished: the TTL controller deletes a finished Job (propagation
 * Foreground); KubeRay deletes a finished RayJob's cluster (shutdownAfterJobFinishes) that
 * long after it finished, and keeps the RayJob. */
static void job_expire(struct sim_cluster *c, struct sjob *j, int64_t now)
{
    int64_t ttl = j->ttl_ms > 0 ? j->ttl_ms : 0;

    if (!j->finished || j->deleting || now < j->done_ms + ttl)
        return;
    if (j->kind == KIND_JOB && j->ttl_ms >= 0)
        return job_delete_as(c, j, "Foreground", now);
    if (j->kind == KIND_RAYJOB && j->shutdown_after && !j->pods_gone) {
        j->pods_gone = true;
        for (size_t k = 0; k < j->n_own; k++)
            pod_delete(c, j->own[k], now, false);
    }
}

/* Whether uid names anything that exists: a Job not being deleted in the foreground, a
 * RayJob, a pod or one of the plain objects. Walks everything: only for owner references
 * owner_alive() cannot resolve by their coordinates. */
static bool uid_exists(const struct sim_cluster *c, const char *uid)
{
    const char *res;
    const json_t *o;

    for (size_t i = 0; i < c->n_jobs; i++)
        if (strcmp(c->jobs[i]->uid, uid) == 0 && !c->jobs[i]->foreground)
            return true;
    for (size_t i = 0; i < c->n_pods; i++)
        if (strcmp(c->pods[i]->uid, uid) == 0)
            return true;
    for (size_t i = 0; (o = sim_objects_at(c->objs, i, &res)); i++) {
        const char *u = json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));

        if (u && strcmp(u, uid) == 0)
            return true;
    }
    return false;
}

/* The plain resource (namespaces, services ...) whose objects are of kind and apiVersion
 * api; NULL for others. */
static const struct sim_resource *plain_resource(const char *kind, const char *api)
{
    static const char *const plurals[] = {"namespaces", "services", "secrets", "priorityclasses"};

    for (size_t i = 0; i < sizeof(plurals) / sizeof(plurals[0]); i++) {
        const struct sim_resource *r = sim_objects_resource(plurals[i]);

        if (r && strcmp(r->kind, kind) == 0 && strcmp(r->api_version, api) == 0)
            return r;
    }
    return NULL;
}

/* Whether the owner that ref names (for an object in namespace ns) exists, by uid as the
 * collector decides. Found at its coordinates (apiVersion, kind, name; the dependent's
 * namespace) with that uid it is looked up, not searched for; otherwise every uid is. */
static bool owner_alive(void *arg, const json_t *ref, const char *ns)
{
    const struct sim_cluster *c = arg;
    const char *uid = json_string_value(json_object_get(ref, "uid"));
    const char *kind = json_string_value(json_object_get(ref, "kind"));
    const char *api = json_string_value(json_object_get(ref, "apiVersion"));
    const char *name = json_string_value(json_object_get(ref, "name"));

    if (!uid)
        return false;
    if (kind && api && name) {
        const struct sim_resource *r = plain_resource(kind, api);
        const struct sjob *j = NULL;
        const struct spod *p = NULL;
        const json_t *o = NULL;

        if (strcmp(kind, "Job") == 0 && strcmp(api, "batch/v1") == 0)
            j = find_job(c, KIND_JOB, ns, name);
        else if (strcmp(kind, "RayJob") == 0 && strcmp(api, "ray.io/v1") == 0)
            j = find_job(c, KIND_RAYJOB, ns, name);
        else if (strcmp(kind, "Pod") == 0 && strcmp(api, "v1") == 0)
            p = find_pod(c, ns, name);
        else if (r)
            o = sim_objects_get(c->objs, r->res, r->namespaced ? ns : "", name);
        if (j && strcmp(j->uid, uid) == 0)
            return !j->foreground;
        if (p && strcmp(p->uid, uid) == 0)
            return true;
        if (o) {
            const char *u =
                json_string_value(json_object_get(json_object_get(o, "metadata"), "uid"));

            if (u && strcmp(u, uid) == 0)
                return true;
        }
    }
    return uid_exists(c, uid);
}

/* The garbage collector: new objects whose owners do not exist go, and so do the objects
 * all of whose owners went (and, in turn, what those owned). Costs what went and what
 * they owned, not the size of the cluster. Returns whether anything went. */
static bool collect_garbage(struct sim_cluster *c)
{
    bool any = false;
    size_t at = 0;

    for (size_t i = 0; i < c->n_fresh; i++)
        any |= sim_objects_collect_one(c->objs, c->fresh[i].r->res, c->fresh[i].ns,
                                       c->fresh[i].name, owner_alive, c);
    c->n_fresh = 0;
    sim_objects_take_gone(c->objs, &c->gone);
    while (at < c->gone.len) {
        const char *uid = c->gone.data + at;

        at += strlen(uid) + 1;
        any |= sim_objects_collect_owned(c->objs, uid, owner_alive, c) > 0;
        sim_objects_take_gone(c->objs, &c->gone); /* what went owned things too */
    }
    buf_reset(&c->gone);
    return any;
}

/* The taint manager: the pods of a node NotReady for notReadyEvictionSeconds (the
 * not-ready NoExecute taint's default toleration, 300 s) are evicted, with a
 * DisruptionTarget condition (DeletionByTaintManager). Its kubelet is gone, so a running
 * pod is marked Failed there and then (as the pod garbage collector marks a terminating
 * pod on a lost node) and its Job's podFailurePolicy decides; the pod itself goes after its
 * grace period. */
static void evict_from_lost_nodes(struct sim_cluster *c, int64_t now)
{
    int64_t after = (c->spec.not_ready_eviction_s ? c->spec.not_ready_eviction_s : 300) * 1000LL;

    for (size_t i = 0; i < c->n_pods; i++) {
        struct spod *p = c->pods[i];
        const struct snode *n = p->node >= 0 ? &c->nodes[p->node] : NULL;
        bool running;

        if (!n || n->ready || !n->not_ready_ms || now < n->not_ready_ms + after || p->delete_ms ||
            (p->phase != PH_RUNNING && p->phase != PH_PENDING))
            continue;
        running = p->phase == PH_RUNNING;
        pod_delete(c, p, now, true);
        p->evicted = true;
        if (!running || !p->job || p->job->finished)
            continue;
        p->phase = PH_FAILED;
        p->exit_code = 137;
        snprintf(p->term_reason, sizeof(p->term_reason), "%s", "Error");
        p->finish_ms = now;
        job_pod_failed(c, p->job, p, now);
    }
}

static void advance(struct sim_cluster *c)
{
    int64_t now = sim_clock_now(c->clock);

    evict_from_lost_nodes(c, now);
    reap(c, now);
    for (size_t i = 0; i < c->spec.n_deployments; i++)
        reconcile_deployment(c, i, now);
    reap(c, now);
    for (size_t i = 0; i < c->n_jobs; i++) {
        struct sjob *j = c->jobs[i];

        if ((j->blocked || j->spawn_due) && !j->deleting) {
            j->spawn_due = false;
            job_spawn_all(c, j, now);
        }
    }
    node_usage(c);
    schedule_pending(c, now);
    for (size_t i = 0; i < c->n_jobs; i++) {
        struct sjob *j = c->jobs[i];

        job_maybe_start(c, j);
        if (!j->finished && j->start_ms && now >= j->start_ms + j->run_ms)
            job_end(c, j, j->start_ms + j->run_ms);
        job_expire(c, j, now);
    }
    reap(c, now);
    for (size_t i = c->n_jobs; i-- > 0;)
        job_finalize(c, c->jobs[i], now);
    if (collect_garbage(c))
        bump(c);
    /* Jobs that just finished released their GPUs. */
    node_usage(c);

    for (size_t i = 0; i < c->n_jobs; i++) {
        struct sjob *j = c->jobs[i];
        int sig[5];

        job_pods(j, &sig[0], &sig[1], &sig[2], &sig[3]);
        sig[4] = j->finished * 2 + (j->start_ms != 0);
        if (memcmp(sig, j->sig, sizeof(sig)) != 0) {
            memcpy(j->sig, sig, sizeof(sig));
            job_dirty(c, j);
        }
    }
    for (size_t i = 0; i < c->spec.n_deployments; i++)
        sync_deployment_objects(c, i, now);
}

/* ---- lists ---------------------------------------------------------------------------------- */

struct paging {
    long limit; /* 0: all */
    char start[600];
};

/* Reads limit and continue; on error the reply is filled and -1 returned. */
static int read_paging(const struct sim_cluster *c, const struct sim_query *q, struct paging *pg,
                       struct sim_reply *out)
{
    pg->limit = 0;
    pg->start[0] = '\0';
    if (q->limit && *q->limit) {
        char *end;
        long v = strtol(q->limit, &end, 10);

        if (*end || v < 0) {
            reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                         "limit: Invalid value: \"%s\": must be a non-negative integer", q->limit);
            return -1;
        }
        pg->limit = v;
    }
    if (q->cont && *q->cont) {
        int rc = read_continue(c, q->cont, pg->start, sizeof(pg->start));

        if (rc == -2) {
            reply_status(out, 410, "Expired", NULL, NULL, NULL,
                         "The provided continue parameter is too old to display a consistent "
                         "list result. You can start a new list without the continue "
                         "parameter.");
            return -1;
        }
        if (rc != 0) {
            reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                         "continue key is not valid: illegal base64 data or JSON");
            return -1;
        }
    }
    return 0;
}

/* Writes the list envelope around the items' text (len bytes, comma-separated objects). */
static void finish_list(struct sim_reply *out, const char *kind, const char *api_version,
                        uint64_t rv, const char *cont, long remaining, const char *items,
                        size_t len)
{
    struct buf b;

    buf_init(&b, 0);
    buf_printf(&b,
               "{\"kind\":\"%s\",\"apiVersion\":\"%s\",\"metadata\":{\"resourceVersion\":"
               "\"%llu\"",
               kind, api_version, (unsigned long long)rv);
    if (cont) {
        buf_printf(&b, ",\"continue\":\"%s\"", cont);
        if (remaining >= 0)
            buf_printf(&b, ",\"remainingItemCount\":%ld", remaining);
    }
    buf_puts(&b, "},\"items\":[");
    buf_append(&b, items, len);
    buf_puts(&b, "]}");
    out->status = 200;
    out->len = b.len;
    out->body = buf_steal(&b);
    out->list = true;
}

/* One list request being answered: its paging and label selector, and the page of items
 * written so far. The field selector is each list's own: the keys it supports and the
 * messages for a bad one differ. */
struct list_walk {
    struct paging pg;
    struct lreq lr[16];
    int nl;
    struct buf items;
    char last_key[400];
    long emitted, remaining;
};

/* Reads the paging and the label selector of q. On error the reply is filled and -1
 * returned. */
static int list_start(const struct sim_cluster *c, const struct sim_query *q, struct list_walk *w,
                      struct sim_reply *out)
{
    w->nl = 0;
    w->last_key[0] = '\0';
    w->emitted = w->remaining = 0;
    buf_init(&w->items, 0);
    if (read_paging(c, q, &w->pg, out) != 0)
        return -1;
    if (q->label_selector && (w->nl = parse_label_selector(q->label_selector, w->lr, 16)) < 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "unable to parse requirement: labelSelector \"%s\"", q->label_selector);
        return -1;
    }
    return 0;
}

/* True when the item at key was on an earlier page (at or before the continue key). */
static bool list_seen(const struct list_walk *w, const char *key)
{
    return w->pg.start[0] && strcmp(key, w->pg.start) <= 0;
}

/* Whether the item at key, which passed the selectors, goes on this page; past the limit
 * it is only counted. When it goes, the separator is written and key kept for the
 * continue token; the caller then appends the item. */
static bool list_take(struct list_walk *w, const char *key)
{
    if (w->pg.limit && w->emitted == w->pg.limit) {
        w->remaining++;
        return false;
    }
    if (w->emitted)
        buf_puts(&w->items, ",");
    snprintf(w->last_key, sizeof(w->last_key), "%s", key);
    w->emitted++;
    return true;
}

/* Writes the reply, with a continue token when items were left for a next page. A whole
 * list (no continue given or asked) keeps its items in k (NULL: not kept) under key and
 * objects_rv, the version of the objects it shows. */
static void list_finish(struct list_walk *w, uint64_t rv, const char *kind, const char *api_version,
                        struct sim_reply *out, struct cache *k, const char *key,
                        uint64_t objects_rv)
{
    char *cont = w->remaining && w->last_key[0] ? make_continue(w->last_key, rv) : NULL;

    if (k && !cont && !w->pg.start[0]) {
        free(k->key);
        free(k->items);
        k->key = xstrdup(key);
        k->len = w->items.len;
        k->items = buf_steal(&w->items);
        k->rv = objects_rv;
        finish_list(out, kind, api_version, rv, NULL, -1, k->items, k->len);
    } else {
        finish_list(out, kind, api_version, rv, cont, w->remaining,
                    w->items.data ? w->items.data : "", w->items.len);
    }
    free(cont);
    buf_free(&w->items);
}

/* The kept list for key while its objects are still at objects_rv. The list's own
 * resourceVersion is rv, now: a watch from it starts after every change made so far,
 * whatever resource changed, as an API server's list says. */
static bool cache_get(struct cache *k, const char *key, uint64_t objects_rv, uint64_t rv,
                      const char *kind, struct sim_reply *out)
{
    if (!k->items || k->rv != objects_rv || strcmp(k->key, key) != 0)
        return false;
    finish_list(out, kind, "v1", rv, NULL, -1, k->items, k->len);
    return true;
}

static const char *node_field(const void *obj, const char *key)
{
    const struct snode *n = obj;

    if (strcmp(key, "metadata.name") == 0)
        return n->name;
    if (strcmp(key, "spec.unschedulable") == 0)
        return n->cordoned ? "true" : "false";
    return "";
}

static void list_nodes(struct sim_cluster *c, const struct sim_query *q, struct sim_reply *out)
{
    static const char *const keys[] = {"metadata.name", "spec.unschedulable", NULL};
    struct list_walk w;
    struct freq fr[8];
    int nf = 0;
    char key[700];
    int64_t now = sim_clock_now(c->clock);

    if (list_start(c, q, &w, out) != 0)
        return;
    if (q->field_selector && (nf = parse_field_selector(q->field_selector, keys, fr, 8)) < 0)
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "field label not supported in fieldSelector \"%s\"", q->field_selector);
    snprintf(key, sizeof(key), "%ld|%s|%s", w.pg.limit, q->label_selector ? q->label_selector : "",
             q->field_selector ? q->field_selector : "");
    if (!w.pg.start[0] && cache_get(&c->node_cache, key, c->nodes_rv, c->rv, "NodeList", out))
        return;
    for (size_t i = 0; i < c->n_nodes; i++) {
        const struct snode *n = &c->nodes[i];
        json_t *labels = NULL;
        bool ok;

        if (list_seen(&w, n->name))
            continue;
        if (nf && !field_match(fr, nf, node_field, n))
            continue;
        if (w.nl) {
            /* Label selectors on nodes are rare; build the label set only then. */
            char *text = xasprintf("{\"kubernetes.io/hostname\":\"%s\",%s}", n->name,
                                   c->pool_labels[n->pool]);

            labels = json_loads(text, 0, NULL);
            free(text);
            ok = labels_match(labels, w.lr, w.nl);
            json_decref(labels);
            if (!ok)
                continue;
        }
        if (list_take(&w, n->name))
            render_node(c, n, now, &w.items);
    }
    list_finish(&w, c->rv, "NodeList", "v1", out, &c->node_cache, key, c->nodes_rv);
}

static const char *pod_field(const void *obj, const char *key)
{
    const struct spod *p = obj;

    if (strcmp(key, "metadata.name") == 0)
        return p->name;
    if (strcmp(key, "metadata.namespace") == 0)
        return p->ns;
    if (strcmp(key, "status.phase") == 0)
        return phase_names[p->phase];
    if (strcmp(key, "spec.nodeName") == 0)
        return p->node >= 0 ? p->node_name_cache : "";
    if (strcmp(key, "spec.restartPolicy") == 0) {
        const char *v = json_string_value(json_object_get(p->spec, "restartPolicy"));

        return v ? v : "Always";
    }
    if (strcmp(key, "spec.schedulerName") == 0)
        return "default-scheduler";
    return "";
}

static void list_pods(struct sim_cluster *c, const char *ns, const struct sim_query *q,
                      struct sim_reply *out)
{
    static const char *const keys[] = {"metadata.name",
                                       "metadata.namespace",
                                       "status.phase",
                                       "spec.nodeName",
                                       "spec.restartPolicy",
                                       "spec.schedulerName",
                                       NULL};
    struct list_walk w;
    struct freq fr[8];
    int nf = 0;
    char key[700];

    if (list_start(c, q, &w, out) != 0)
        return;
    if (q->field_selector) {
        nf = parse_field_selector(q->field_selector, keys, fr, 8);
        if (nf == -1)
            return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                                "invalid fieldSelector \"%s\"", q->field_selector);
        if (nf < -1)
            return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                                "field label not supported: %s", q->field_selector);
    }
    snprintf(key, sizeof(key), "%s|%ld|%.300s|%.300s", ns ? ns : "", w.pg.limit,
             q->label_selector ? q->label_selector : "",
             q->field_selector ? q->field_selector : "");
    if (!w.pg.start[0] && cache_get(&c->pod_cache, key, c->rv, c->rv, "PodList", out))
        return;
    for (size_t i = 0; i < c->n_pods; i++) {
        struct spod *p = c->pods[i];
        char pk[400];
        char *text;

        if (ns && strcmp(p->ns, ns) != 0)
            continue;
        snprintf(pk, sizeof(pk), "%s/%s", p->ns, p->name);
        if (list_seen(&w, pk))
            continue;
        if (nf && !field_match(fr, nf, pod_field, p))
            continue;
        if (w.nl && !labels_match(p->labels, w.lr, w.nl))
            continue;
        if (!list_take(&w, pk))
            continue;
        text = json_dumps(pod_render(c, p), JSON_COMPACT);
        buf_puts(&w.items, text);
        free(text);
        /* The list text is cached; keeping every pod's tree too would double memory. */
        json_decref(p->obj);
        p->obj = NULL;
    }
    list_finish(&w, c->rv, "PodList", "v1", out, &c->pod_cache, key, c->rv);
}

static const char *job_field(const void *obj, const char *key)
{
    const struct sjob *j = obj;

    if (strcmp(key, "metadata.name") == 0)
        return j->name;
    if (strcmp(key, "metadata.namespace") == 0)
        return j->ns;
    return "";
}

static void list_jobs(struct sim_cluster *c, enum kind k, const char *ns, const struct sim_query *q,
                      struct sim_reply *out)
{
    static const char *const keys[] = {"metadata.name", "metadata.namespace", NULL};
    struct list_walk w;
    struct freq fr[8];
    int nf = 0;

    if (list_start(c, q, &w, out) != 0)
        return;
    if (q->field_selector && (nf = parse_field_selector(q->field_selector, keys, fr, 8)) < 0)
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "field label not supported: %s", q->field_selector);
    for (size_t i = 0; i < c->n_jobs; i++) {
        struct sjob *j = c->jobs[i];
        char jk[400];
        char *text;

        if (j->kind != k || (ns && strcmp(j->ns, ns) != 0))
            continue;
        snprintf(jk, sizeof(jk), "%s/%s", j->ns, j->name);
        if (list_seen(&w, jk))
            continue;
        if (nf && !field_match(fr, nf, job_field, j))
            continue;
        if (w.nl && !labels_match(json_object_get(json_object_get(j->obj, "metadata"), "labels"),
                                  w.lr, w.nl))
            continue;
        if (!list_take(&w, jk))
            continue;
        text = json_dumps(j->obj, JSON_COMPACT);
        buf_puts(&w.items, text);
        free(text);
    }
    list_finish(&w, c->rv, k == KIND_JOB ? "JobList" : "RayJobList",
                k == KIND_JOB ? "batch/v1" : "ray.io/v1", out, NULL, NULL, 0);
}

/* ---- job requests ------------------------------------------------------------------------------ */

static bool namespace_exists(const struct sim_cluster *c, const char *ns)
{
    return sim_objects_get(c->objs, "namespaces", "", ns) != NULL;
}

static void reply_invalid(struct sim_reply *out, enum kind k, const char *name, const char *field,
                          const char *why)
{
    reply_status(out, 422, "Invalid", kind_plural(k), kind_group(k), name,
                 "%s.%s \"%s\" is invalid: %s: %s", k == KIND_JOB ? "Job" : "RayJob", kind_group(k),
                 name, field, why);
}

static void create_job(struct sim_cluster *c, enum kind k, const char *ns, const char *body,
                       size_t len, struct sim_reply *out)
{
    const char *want_api = k == KIND_JOB ? "batch/v1" : "ray.io/v1";
    const char *want_kind = k == KIND_JOB ? "Job" : "RayJob";
    json_error_t je;
    json_t *obj = json_loadb(body, len, 0, &je), *md, *spec;
    const char *name, *api, *kind, *ons;
    char gen[300];
    struct sjob *j;
    int64_t now = sim_clock_now(c->clock);
    size_t at;

    if (!json_is_object(obj)) {
        json_decref(obj);
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "the body of the request was in an unknown format: %s", je.text);
    }
    api = json_string_value(json_object_get(obj, "apiVersion"));
    kind = json_string_value(json_object_get(obj, "kind"));
    if (!api || !kind || strcmp(api, want_api) != 0 || strcmp(kind, want_kind) != 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "the API version in the data (%s) does not match the expected API version "
                     "(%s) or kind (%s) is not %s",
                     api ? api : "", want_api, kind ? kind : "", want_kind);
        goto out;
    }
    md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    name = json_string_value(json_object_get(md, "name"));
    if ((!name || !*name) && json_is_string(json_object_get(md, "generateName"))) {
        char sfx[6];

        suffix5(c, sfx);
        snprintf(gen, sizeof(gen), "%.240s%s",
                 json_string_value(json_object_get(md, "generateName")), sfx);
        json_object_set_new(md, "name", json_string(gen));
        name = json_string_value(json_object_get(md, "name"));
    }
    if (!name || !*name) {
        reply_invalid(out, k, "", "metadata.name",
                      "Required value: name or generateName is "
                      "required");
        goto out;
    }
    if (!dns_subdomain_ok(name, strlen(name), 63)) {
        reply_invalid(out, k, name, "metadata.name",
                      "Invalid value: a lowercase RFC 1123 subdomain of at most 63 characters "
                      "is required");
        goto out;
    }
    ons = json_string_value(json_object_get(md, "namespace"));
    if (ons && *ons && strcmp(ons, ns) != 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "the namespace of the provided object does not match the namespace sent "
                     "on the request");
        goto out;
    }
    spec = json_object_get(obj, "spec");
    if (k == KIND_JOB &&
        !json_is_array(json_object_get(json_object_get(json_object_get(spec, "template"), "spec"),
                                       "containers"))) {
        reply_invalid(out, k, name, "spec.template.spec.containers", "Required value");
        goto out;
    }
    if (k == KIND_RAYJOB &&
        !json_is_object(json_object_get(
            json_object_get(json_object_get(spec, "rayClusterSpec"), "headGroupSpec"),
            "template"))) {
        reply_invalid(out, k, name, "spec.rayClusterSpec.headGroupSpec.template", "Required value");
        goto out;
    }
    if (!namespace_exists(c, ns)) {
        reply_status(out, 404, "NotFound", "namespaces", NULL, ns, "namespaces \"%s\" not found",
                     ns);
        goto out;
    }
    if (find_job(c, k, ns, name)) {
        reply_status(out, 409, "AlreadyExists", kind_plural(k), kind_group(k), name,
                     "%s.%s \"%s\" already exists", kind_plural(k), kind_group(k), name);
        goto out;
    }

    j = xcalloc(1, sizeof(*j));
    j->kind = k;
    snprintf(j->ns, sizeof(j->ns), "%.63s", ns);
    snprintf(j->name, sizeof(j->name), "%s", name);
    new_uid(c, j->uid, sizeof(j->uid));
    j->created_ms = now;
    j->run_ms =
        annotation_seconds(obj, json_object_get(spec, "template"), SIM_DEFAULT_RUN_S) * 1000;
    read_outcome(obj, j->outcome, sizeof(j->outcome));
    j->fail = strcmp(j->outcome, "Failed") == 0;
    /* Only a Ray job can be stopped (ray job stop); KubeRay then reports it Complete. */
    j->stop = k == KIND_RAYJOB && strcmp(j->outcome, "Stopped") == 0;
    j->ttl_ms = json_is_integer(json_object_get(spec, "ttlSecondsAfterFinished"))
                    ? json_integer_value(json_object_get(spec, "ttlSecondsAfterFinished")) * 1000
                    : -1;
    j->shutdown_after = json_is_true(json_object_get(spec, "shutdownAfterJobFinishes"));
    json_object_set_new(md, "namespace", json_string(ns));
    json_object_set_new(md, "uid", json_string(j->uid));
    json_object_set_new(md, "generation", json_integer(1));
    json_object_set_new(md, "creationTimestamp", json_ts(now));
    json_object_del(md, "resourceVersion");
    if (k == KIND_JOB) {
        if (!json_is_integer(json_object_get(spec, "parallelism")))
            json_object_set_new(spec, "parallelism", json_integer(1));
        if (!json_is_integer(json_object_get(spec, "completions")))
            json_object_set_new(
                spec, "completions",
                json_integer(json_integer_value(json_object_get(spec, "parallelism"))));
        if (!json_is_integer(json_object_get(spec, "backoffLimit")))
            json_object_set_new(spec, "backoffLimit", json_integer(6));
        if (!json_is_boolean(json_object_get(spec, "suspend")))
            json_object_set_new(spec, "suspend", json_false());
    }
    j->obj = obj;
    obj = NULL;
    if (c->n_jobs == c->cap_jobs) {
        c->cap_jobs = c->cap_jobs ? c->cap_jobs * 2 : 16;
        c->jobs = xrealloc(c->jobs, c->cap_jobs * sizeof(*c->jobs));
    }
    at = job_lower_bound(c, k, ns, name);
    memmove(&c->jobs[at + 1], &c->jobs[at], (c->n_jobs - at) * sizeof(*c->jobs));
    c->jobs[at] = j;
    c->n_jobs++;

    /* The API server only stores the object; the Job (or KubeRay) controller sees it and
     * makes its pods afterwards, so they are never there before the create is answered:
     * the next request or tick makes and binds them, as a fast controller and scheduler
     * would. */
    j->spawn_due = !json_is_true(json_object_get(json_object_get(j->obj, "spec"), "suspend"));
    job_dirty(c, j);
    reply_json(out, 201, json_incref(j->obj));
out:
    json_decref(obj);
}

static void delete_job(struct sim_cluster *c, enum kind k, const char *ns, const char *name,
                       const struct sim_query *q, const char *body, size_t len,
                       struct sim_reply *out)
{
    struct sjob *j = find_job(c, k, ns, name);
    const char *policy = q->propagation_policy;
    const char *grace = q->grace_period_seconds;
    json_t *opts = NULL, *reply;
    char policy_buf[64];
    int64_t now = sim_clock_now(c->clock);

    if (len) {
        opts = json_loadb(body, len, 0, NULL);
        if (!json_is_object(opts)) {
            json_decref(opts);
            return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                                "the body of the request was in an unknown format: expected "
                                "DeleteOptions");
        }
        if (!policy)
            policy = json_string_value(json_object_get(opts, "propagationPolicy"));
    }
    if (grace) {
        char *end;
        long v = strtol(grace, &end, 10);

        if (*end || v < 0) {
            json_decref(opts);
            return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                                "gracePeriodSeconds: Invalid value: \"%s\"", grace);
        }
    }
    if (!policy)
        policy = k == KIND_JOB ? "Orphan" : "Background"; /* each resource's default */
    /* policy may point into opts, which goes before the object does */
    snprintf(policy_buf, sizeof(policy_buf), "%s", policy);
    policy = policy_buf;
    if (strcmp(policy, "Orphan") != 0 && strcmp(policy, "Background") != 0 &&
        strcmp(policy, "Foreground") != 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "propagationPolicy: Unsupported value: \"%s\": supported values: "
                     "\"Foreground\", \"Background\", \"Orphan\"",
                     policy);
        json_decref(opts);
        return;
    }
    json_decref(opts);
    if (!j)
        return reply_status(out, 404, "NotFound", kind_plural(k), kind_group(k), name,
                            "%s.%s \"%s\" not found", kind_plural(k), kind_group(k), name);
    /* The answer is the object as deleted (marked, when finalizers keep it). */
    reply = json_incref(j->obj);
    job_delete_as(c, j, policy, now);
    advance(c);
    reply_json(out, 200, reply);
}

/* Deletes j with propagation policy (Orphan, Background, Foreground): its pods and the
 * objects it owns are orphaned, deleted after it, or deleted before it. An object with
 * finalizers (or deleted in the foreground, which adds foregroundDeletion) is only marked:
 * deletionTimestamp and deletionGracePeriodSeconds 0; it goes once its finalizers are
 * empty (job_finalize()), and until then its pods stay unless the deletion is in the
 * foreground, as the garbage collector deletes dependents only of an absent owner. A
 * second delete of a marked object can only turn it to the foreground. */
static void job_delete_as(struct sim_cluster *c, struct sjob *j, const char *policy, int64_t now)
{
    json_t *md = json_object_get(j->obj, "metadata");
    bool orphan = strcmp(policy, "Orphan") == 0, fg = strcmp(policy, "Foreground") == 0;

    if (j->deleting && (!fg || j->foreground))
        return;
    for (size_t i = 0; i < j->n_own && orphan; i++) {
        struct spod *p = j->own[i];

        json_decref(p->owner);
        p->owner = NULL;
        p->job = NULL;
        pod_dirty(c, p);
    }
    if (orphan)
        j->n_own = 0;
    if (orphan)
        sim_objects_orphan(c->objs, j->uid);
    if (fg) {
        j->foreground = true;
        owner_went(c, j->uid); /* dependents go before their owner */
        for (size_t i = 0; i < j->n_own; i++)
            pod_delete(c, j->own[i], now, true);
        if (!json_is_array(json_object_get(md, "finalizers")))
            json_object_set_new(md, "finalizers", json_array());
        json_array_append_new(json_object_get(md, "finalizers"), json_string("foregroundDeletion"));
    }
    if (!j->deleting) {
        j->deleting = true;
        json_object_set_new(md, "deletionTimestamp", json_ts(now));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
    }
    job_dirty(c, j);
    job_finalize(c, j, now);
}

/* The part of a Job or RayJob a PATCH may change here: metadata's finalizers, labels and
 * annotations. Anything else it touches is refused rather than half-simulated. */
static const char *patch_outside(const json_t *before, const json_t *after)
{
    static const char *const mutable_md[] = {"finalizers", "labels", "annotations", NULL};
    json_t *a = json_deep_copy(before), *b = json_deep_copy(after);
    const char *field = NULL;

    for (int i = 0; mutable_md[i]; i++) {
        json_object_del(json_object_get(a, "metadata"), mutable_md[i]);
        json_object_del(json_object_get(b, "metadata"), mutable_md[i]);
    }
    if (!json_equal(json_object_get(a, "metadata"), json_object_get(b, "metadata")))
        field = "metadata";
    else if (!json_equal(json_object_get(a, "spec"), json_object_get(b, "spec")))
        field = "spec";
    else if (!json_equal(a, b))
        field = "status";
    json_decref(a);
    json_decref(b);
    return field;
}

/* Checks the finalizers a patch leaves: a list of strings, and none new on an object being
 * deleted. On refusal fills out and returns false. */
static bool finalizers_ok(const struct sjob *j, const json_t *after, struct sim_reply *out)
{
    const json_t *fin = json_object_get(json_object_get(after, "metadata"), "finalizers");
    size_t i;
    const json_t *f;

    if (fin && !json_is_array(fin) && !json_is_null(fin)) {
        reply_invalid(out, j->kind, j->name, "metadata.finalizers",
                      "Invalid value: a list of strings is required");
        return false;
    }
    json_array_foreach(fin, i, f)
    {
        if (!json_is_string(f) || !*json_string_value(f)) {
            reply_invalid(out, j->kind, j->name, "metadata.finalizers",
                          "Invalid value: a list of non-empty strings is required");
            return false;
        }
        if (j->deleting && !finalizer_in(job_finalizers(j), json_string_value(f))) {
            char why[400];

            snprintf(why, sizeof(why),
                     "Forbidden: no new finalizers can be added if the object is being deleted, "
                     "found new finalizers []string{\"%.200s\"}",
                     json_string_value(f));
            reply_invalid(out, j->kind, j->name, "metadata.finalizers", why);
            return false;
        }
    }
    return true;
}

/* PATCH of a Job or RayJob: JSON Patch or JSON Merge Patch (by Content-Type); a strategic
 * merge patch, which RayJobs (a custom resource) never accept, is refused for both with
 * 415. The object goes when the patch took its last finalizer while it was being
 * deleted. */
static void patch_job(struct sim_cluster *c, enum kind k, const char *ns, const char *name,
                      const char *ctype, const char *body, size_t len, struct sim_reply *out)
{
    struct sjob *j = find_job(c, k, ns, name);
    json_t *patch, *doc;
    const char *field;
    char why[300];
    enum sim_patch_result r = SIM_PATCH_OK;
    bool json_patch = ctype && strncmp(ctype, "application/json-patch+json", 27) == 0;
    bool merge = ctype && strncmp(ctype, "application/merge-patch+json", 28) == 0;

    if (!json_patch && !merge)
        return reply_status(out, 415, "UnsupportedMediaType", NULL, NULL, NULL,
                            "the body of the request was in an unknown format - accepted media "
                            "types include: application/json-patch+json, "
                            "application/merge-patch+json (Content-Type \"%.100s\")",
                            ctype ? ctype : "");
    if (!j)
        return reply_status(out, 404, "NotFound", kind_plural(k), kind_group(k), name,
                            "%s.%s \"%s\" not found", kind_plural(k), kind_group(k), name);
    patch = json_loadb(body, len, 0, NULL);
    if (!patch || (merge && !json_is_object(patch))) {
        json_decref(patch);
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "error decoding patch: the body is not a JSON %s",
                            merge ? "object" : "array");
    }
    doc = json_deep_copy(j->obj);
    if (merge)
        sim_merge_patch(&doc, patch);
    else
        r = sim_json_patch(&doc, patch, why, sizeof(why));
    json_decref(patch);
    if (r == SIM_PATCH_BAD) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL, "%s", why);
        goto out;
    }
    if (r == SIM_PATCH_UNAPPLIED) {
        reply_status(out, 422, "Invalid", kind_plural(k), kind_group(k), name,
                     "the server rejected our request due to an error in our request: %s", why);
        goto out;
    }
    if (!json_equal(json_object_get(json_object_get(doc, "metadata"), "resourceVersion"),
                    json_object_get(json_object_get(j->obj, "metadata"), "resourceVersion"))) {
        reply_status(out, 409, "Conflict", kind_plural(k), kind_group(k), name,
                     "Operation cannot be fulfilled on %s.%s \"%s\": the object has been "
                     "modified; please apply your changes to the latest version and try again",
                     kind_plural(k), kind_group(k), name);
        goto out;
    }
    if ((field = patch_outside(j->obj, doc))) {
        reply_invalid(out, k, name, field,
                      "Forbidden: the simulator patches only metadata.finalizers, labels and "
                      "annotations");
        goto out;
    }
    if (!finalizers_ok(j, doc, out))
        goto out;
    if (json_is_null(json_object_get(json_object_get(doc, "metadata"), "finalizers")) ||
        json_array_size(json_object_get(json_object_get(doc, "metadata"), "finalizers")) == 0)
        json_object_del(json_object_get(doc, "metadata"), "finalizers");
    json_decref(j->obj);
    j->obj = json_incref(doc);
    job_dirty(c, j);
    reply_json(out, 200, json_incref(j->obj));
    job_finalize(c, j, sim_clock_now(c->clock));
    advance(c);
out:
    json_decref(doc);
}

/* ---- routing ----------------------------------------------------------------------------------- */

static void not_found_path(struct sim_reply *out)
{
    reply_status(out, 404, "NotFound", NULL, NULL, NULL,
                 "the server could not find the requested resource");
}

static void method_not_allowed(struct sim_reply *out, const char *method)
{
    reply_status(out, 405, "MethodNotAllowed", NULL, NULL, NULL,
                 "the server does not allow this method on the requested resource (%s)", method);
}

static void get_node(struct sim_cluster *c, const char *name, struct sim_reply *out)
{
    long i = find_node(c, name);
    struct buf b;
    size_t prefix;

    if (i < 0)
        return reply_status(out, 404, "NotFound", "nodes", NULL, name, "nodes \"%s\" not found",
                            name);
    buf_init(&b, 0);
    buf_puts(&b, "{\"kind\":\"Node\",\"apiVersion\":\"v1\",");
    prefix = b.len;
    render_node(c, &c->nodes[i], sim_clock_now(c->clock), &b);
    /* splice: drop the '{' render_node() opened with */
    memmove(b.data + prefix, b.data + prefix + 1, b.len - prefix);
    b.len--;
    out->status = 200;
    out->len = b.len;
    out->body = buf_steal(&b);
}

static void get_pod(struct sim_cluster *c, const char *ns, const char *name, struct sim_reply *out)
{
    struct spod *p = find_pod(c, ns, name);
    json_t *o;

    if (!p)
        return reply_status(out, 404, "NotFound", "pods", NULL, name, "pods \"%s\" not found",
                            name);
    o = json_deep_copy(pod_render(c, p));
    json_object_set_new(o, "kind", json_string("Pod"));
    json_object_set_new(o, "apiVersion", json_string("v1"));
    reply_json(out, 200, o);
}

/* Splits path into at most max segments (copied into storage). */
static int split(const char *path, char storage[][256], int max)
{
    int n = 0;

    while (*path == '/')
        path++;
    while (*path) {
        size_t len = strcspn(path, "/");

        if (n == max || len >= 256)
            return -1;
        memcpy(storage[n], path, len);
        storage[n][len] = '\0';
        n++;
        path += len;
        while (*path == '/')
            path++;
    }
    return n;
}

/* ---- namespaces, services, secrets, priorityclasses ------------------------------------- */

static const char *res_group(const struct sim_resource *r)
{
    static const char *const groups[] = {"scheduling.k8s.io", "apps", "autoscaling"};

    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        size_t n = strlen(groups[i]);

        if (strncmp(r->api_version, groups[i], n) == 0 && r->api_version[n] == '/')
            return groups[i];
    }
    return NULL;
}

static void reply_missing(struct sim_reply *out, const struct sim_resource *r, const char *name)
{
    const char *g = res_group(r);

    reply_status(out, 404, "NotFound", r->res, g, name, "%s%s%s \"%s\" not found", r->res,
                 g ? "." : "", g ? g : "", name);
}

/* obj (just created) names owners: the garbage collector checks them. */
static void object_created(struct sim_cluster *c, const struct sim_resource *r, const char *ns,
                           const json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

    if (json_array_size(json_object_get(json_object_get(obj, "metadata"), "ownerReferences")) ==
            0 ||
        !name)
        return;
    if (c->n_fresh == c->cap_fresh) {
        c->cap_fresh = c->cap_fresh ? c->cap_fresh * 2 : 8;
        c->fresh = xrealloc(c->fresh, c->cap_fresh * sizeof(*c->fresh));
    }
    c->fresh[c->n_fresh].r = r;
    snprintf(c->fresh[c->n_fresh].ns, sizeof(c->fresh[0].ns), "%s", r->namespaced ? ns : "");
    snprintf(c->fresh[c->n_fresh].name, sizeof(c->fresh[0].name), "%s", name);
    c->n_fresh++;
}

static void create_object(struct sim_cluster *c, const struct sim_resource *r, const char *ns,
                          const char *body, size_t len, struct sim_reply *out)
{
    json_error_t je;
    json_t *obj;
    struct sim_refusal why;
    char uid[40], now[40];

    if (r->namespaced && !namespace_exists(c, ns))
        return reply_status(out, 404, "NotFound", "namespaces", NULL, ns,
                            "namespaces \"%s\" not found", ns);
    obj = json_loadb(body, len, 0, &je);
    if (!json_is_object(obj)) {
        json_decref(obj);
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "the body of the request was in an unknown format: %s", je.text);
    }
    new_uid(c, uid, sizeof(uid));
    ts(sim_clock_now(c->clock), now, sizeof(now));
    bump(c);
    if (sim_objects_create(c->objs, r, ns ? ns : "", obj, uid, c->rv, now, &why) != 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

        reply_status(out, why.code, why.reason, r->res, res_group(r), name, "%s", why.msg);
    } else {
        object_created(c, r, ns ? ns : "", obj); /* its owners may not exist */
        reply_json(out, 201, json_incref(obj));
    }
    json_decref(obj);
}

/* Deleting a namespace deletes everything in it. (A real one stays Terminating until its
 * contents are gone; here they go at once, pods over their grace period.) */
static void delete_namespace(struct sim_cluster *c, json_t *ns_obj, int64_t now)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(ns_obj, "metadata"), "name"));

    for (size_t i = c->n_jobs; i-- > 0;)
        if (strcmp(c->jobs[i]->ns, ns) == 0)
            job_delete_as(c, c->jobs[i], "Background", now);
    for (size_t i = 0; i < c->n_pods; i++)
        if (strcmp(c->pods[i]->ns, ns) == 0)
            pod_delete(c, c->pods[i], now, true);
    sim_objects_remove_namespace(c->objs, ns);
    json_object_set_new(json_object_get(ns_obj, "metadata"), "deletionTimestamp", json_ts(now));
    json_object_set_new(ns_obj, "status", json_pack("{s:s}", "phase", "Terminating"));
}

static void delete_object(struct sim_cluster *c, const struct sim_resource *r, const char *ns,
                          const char *name, struct sim_reply *out)
{
    json_t *obj = sim_objects_remove(c->objs, r->res, ns ? ns : "", name);

    if (!obj)
        return reply_missing(out, r, name);
    bump(c);
    if (strcmp(r->res, "namespaces") == 0)
        delete_namespace(c, obj, sim_clock_now(c->clock));
    advance(c);
    reply_json(out, 200, obj);
}

static const char *object_field(const void *obj, const char *key)
{
    const json_t *md = json_object_get(obj, "metadata");
    const char *v = NULL;

    if (strcmp(key, "metadata.name") == 0)
        v = json_string_value(json_object_get(md, "name"));
    else if (strcmp(key, "metadata.namespace") == 0)
        v = json_string_value(json_object_get(md, "namespace"));
    return v ? v : "";
}

static void list_objects(struct sim_cluster *c, const struct sim_resource *r, const char *ns,
                         const struct sim_query *q, struct sim_reply *out)
{
    static const char *const keys[] = {"metadata.name", "metadata.namespace", NULL};
    struct list_walk w;
    struct freq fr[8];
    int nf = 0;
    const char *res;
    const json_t *o;
    char kind[64];

    if (list_start(c, q, &w, out) != 0)
        return;
    if (q->field_selector && (nf = parse_field_selector(q->field_selector, keys, fr, 8)) < 0) {
        buf_free(&w.items);
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "field label not supported: %s", q->field_selector);
    }
    for (size_t i = 0; (o = sim_objects_at(c->objs, i, &res)); i++) {
        const json_t *md = json_object_get(o, "metadata");
        char key[400];
        char *text;

        if (strcmp(res, r->res) != 0 || (ns && strcmp(object_field(o, "metadata.namespace"), ns)))
            continue;
        snprintf(key, sizeof(key), "%s/%s", object_field(o, "metadata.namespace"),
                 object_field(o, "metadata.name"));
        if (list_seen(&w, key) || (nf && !field_match(fr, nf, object_field, o)))
            continue;
        if (w.nl && !labels_match(json_object_get(md, "labels"), w.lr, w.nl))
            continue;
        if (!list_take(&w, key))
            continue;
        text = json_dumps(o, JSON_COMPACT);
        buf_puts(&w.items, text);
        free(text);
    }
    snprintf(kind, sizeof(kind), "%sList", r->kind);
    list_finish(&w, c->rv, kind, r->api_version, out, NULL, NULL, 0);
}

static void handle_objects(struct sim_cluster *c, const struct sim_resource *r, const char *method,
                           const char *ns, const char *name, const struct sim_query *q,
                           const char *body, size_t len, struct sim_reply *out)
{
    bool get = strcmp(method, "GET") == 0;

    if (!name && get)
        return list_objects(c, r, ns, q, out);
    if (!name && strcmp(method, "POST") == 0 && (ns || !r->namespaced))
        return create_object(c, r, ns, body, len, out);
    if (name && get) {
        json_t *o = sim_objects_get(c->objs, r->res, ns, name);

        return o ? reply_json(out, 200, json_incref(o)) : reply_missing(out, r, name);
    }
    if (name && strcmp(method, "DELETE") == 0)
        return delete_object(c, r, ns, name, out);
    method_not_allowed(out, method);
}

static void create_review(struct sim_cluster *c, const char *body, size_t len,
                          struct sim_reply *out)
{
    json_t *rv = json_loadb(body, len, 0, NULL), *ans;
    const char *kind = json_string_value(json_object_get(rv, "kind"));
    const char *api = json_string_value(json_object_get(rv, "apiVersion"));
    const char *why = NULL;

    if (!kind || !api || strcmp(kind, "SelfSubjectAccessReview") != 0 ||
        strcmp(api, "authorization.k8s.io/v1") != 0) {
        json_decref(rv);
        return reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                            "the API version in the data (%s) does not match the expected API "
                            "version (authorization.k8s.io/v1) or kind (%s) is not "
                            "SelfSubjectAccessReview",
                            api ? api : "", kind ? kind : "");
    }
    ans = sim_authz_review(c->spec.forbidden, rv, &why);
    json_decref(rv);
    if (!ans)
        return reply_status(
            out, 422, "Invalid", "SelfSubjectAccessReview", "authorization.k8s.io", NULL,
            "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: %s", why);
    reply_json(out, 201, ans);
}

static void handle_jobs(struct sim_cluster *c, enum kind k, const char *method, const char *ns,
                        const char *name, const struct sim_query *q, const char *body, size_t len,
                        struct sim_reply *out)
{
    if (ns && !dns_subdomain_ok(ns, strlen(ns), 63))
        return reply_status(out, 404, "NotFound", "namespaces", NULL, ns,
                            "namespaces \"%.63s\" not found", ns);
    if (!name) {
        if (strcmp(method, "GET") == 0)
            return list_jobs(c, k, ns, q, out);
        if (strcmp(method, "POST") == 0 && ns)
            return create_job(c, k, ns, body, len, out);
        return method_not_allowed(out, method);
    }
    if (strcmp(method, "GET") == 0) {
        struct sjob *j = find_job(c, k, ns, name);

        if (!j)
            return reply_status(out, 404, "NotFound", kind_plural(k), kind_group(k), name,
                                "%s.%s \"%s\" not found", kind_plural(k), kind_group(k), name);
        return reply_json(out, 200, json_incref(j->obj));
    }
    if (strcmp(method, "DELETE") == 0)
        return delete_job(c, k, ns, name, q, body, len, out);
    if (strcmp(method, "PATCH") == 0)
        return patch_job(c, k, ns, name, q->content_type, body, len, out);
    method_not_allowed(out, method);
}

/* /api/v1/...: nodes, pods, namespaces, services, secrets, and the core discovery. */
static void route_core(struct sim_cluster *c, const char *method, char seg[][256], int n,
                       const struct sim_query *q, const char *body, size_t len,
                       struct sim_reply *out)
{
    bool get = strcmp(method, "GET") == 0;
    const struct sim_resource *r = n >= 3 ? sim_objects_resource(seg[2]) : NULL;

    if (n == 2)
        get ? reply_json(out, 200, sim_discovery_resources(c->crds, "v1"))
            : method_not_allowed(out, method);
    else if (n == 3 && strcmp(seg[2], "nodes") == 0)
        get ? list_nodes(c, q, out) : method_not_allowed(out, method);
    else if (n == 4 && strcmp(seg[2], "nodes") == 0)
        get ? get_node(c, seg[3], out) : method_not_allowed(out, method);
    else if (n == 3 && strcmp(seg[2], "pods") == 0)
        get ? list_pods(c, NULL, q, out) : method_not_allowed(out, method);
    else if (n == 5 && strcmp(seg[2], "namespaces") == 0 && strcmp(seg[4], "pods") == 0)
        get ? list_pods(c, seg[3], q, out) : method_not_allowed(out, method);
    else if (n == 6 && strcmp(seg[2], "namespaces") == 0 && strcmp(seg[4], "pods") == 0)
        get ? get_pod(c, seg[3], seg[5], out) : method_not_allowed(out, method);
    else if ((n == 3 || n == 4) && r && strcmp(r->api_version, "v1") == 0)
        handle_objects(c, r, method, NULL, n == 4 ? seg[3] : NULL, q, body, len, out);
    else if ((n == 5 || n == 6) && strcmp(seg[2], "namespaces") == 0 &&
             (r = sim_objects_resource(seg[4])) && r->namespaced)
        handle_objects(c, r, method, seg[3], n == 6 ? seg[5] : NULL, q, body, len, out);
    else
        not_found_path(out);
}

/* /apis/...: discovery, then the group/versions this cluster serves. */
static void route_groups(struct sim_cluster *c, const char *method, char seg[][256], int n,
                         const struct sim_query *q, const char *body, size_t len,
                         struct sim_reply *out)
{
    bool get = strcmp(method, "GET") == 0;
    json_t *doc = NULL;
    char gv[520];

    if (n <= 2) {
        if (!get)
            return method_not_allowed(out, method);
        doc = n == 1 ? sim_discovery_groups(c->crds) : sim_discovery_group(c->crds, seg[1]);
        return doc ? reply_json(out, 200, doc) : not_found_path(out);
    }
    snprintf(gv, sizeof(gv), "%s/%s", seg[1], seg[2]);
    if (!sim_discovery_serves(c->crds, gv))
        return not_found_path(out);
    if (n == 3)
        return get ? reply_json(out, 200, sim_discovery_resources(c->crds, gv))
                   : method_not_allowed(out, method);
    if (strcmp(gv, "batch/v1") == 0 || strcmp(gv, "ray.io/v1") == 0) {
        enum kind k = gv[0] == 'b' ? KIND_JOB : KIND_RAYJOB;
        const char *plural = kind_plural(k);

        if (n == 4 && strcmp(seg[3], plural) == 0)
            return handle_jobs(c, k, method, NULL, NULL, q, body, len, out);
        if (n == 6 && strcmp(seg[3], "namespaces") == 0 && strcmp(seg[5], plural) == 0)
            return handle_jobs(c, k, method, seg[4], NULL, q, body, len, out);
        if (n == 7 && strcmp(seg[3], "namespaces") == 0 && strcmp(seg[5], plural) == 0)
            return handle_jobs(c, k, method, seg[4], seg[6], q, body, len, out);
    } else if (strcmp(gv, "apps/v1") == 0 || strcmp(gv, "autoscaling/v2") == 0 ||
               strcmp(gv, SIM_LWS_GV) == 0) {
        /* The scenario's serving deployments, LeaderWorkerSets and their autoscalers:
         * read-only. */
        const struct sim_resource *r = sim_objects_resource(seg[n == 4 || n == 5 ? 3 : 5]);

        if (!r || strcmp(r->api_version, gv) != 0 || (n != 4 && n != 6 && n != 7) ||
            (n >= 6 && strcmp(seg[3], "namespaces") != 0))
            return not_found_path(out);
        if (!get)
            return method_not_allowed(out, method);
        return handle_objects(c, r, method, n == 4 ? NULL : seg[4], n == 7 ? seg[6] : NULL, q, body,
                              len, out);
    } else if (strcmp(gv, "scheduling.k8s.io/v1") == 0 && (n == 4 || n == 5) &&
               strcmp(seg[3], "priorityclasses") == 0) {
        return handle_objects(c, sim_objects_resource("priorityclasses"), method, NULL,
                              n == 5 ? seg[4] : NULL, q, body, len, out);
    } else if (strcmp(gv, "authorization.k8s.io/v1") == 0 && n == 4 &&
               strcmp(seg[3], "selfsubjectaccessreviews") == 0) {
        return strcmp(method, "POST") == 0 ? create_review(c, body, len, out)
                                           : method_not_allowed(out, method);
    }
    not_found_path(out);
}

/* The credentials may not do what the scenario's "forbidden" names: 403 Forbidden. */
static bool refuse_forbidden(const struct sim_cluster *c, const char *method, const char *path,
                             struct sim_reply *out)
{
    struct sim_attrs a;
    char msg[600];

    sim_authz_attrs(method, path, &a);
    if (sim_authz_allowed(c->spec.forbidden, &a))
        return false;
    sim_authz_message(&a, msg, sizeof(msg));
    reply_status(out, 403, "Forbidden", a.res, a.group[0] ? a.group : NULL,
                 a.name[0] ? a.name : NULL, "%s", msg);
    return true;
}

/* ---- request counts by verb and resource (benchmarks: API-server load) ---------------------- */

/* Counts one request the model answers: verb and resource as the API server's audit log
 * names them ("list pods", "create jobs.batch", "watch nodes"; "GET nonresource" for
 * /version, /healthz and discovery). Called with the lock held. */
static void count_request(struct sim_cluster *c, const char *method, const char *path, bool watch)
{
    struct sim_attrs a;
    char key[sizeof(c->counts[0].what)];

    sim_authz_attrs(method, path, &a);
    if (!a.resource)
        snprintf(key, sizeof(key), "%s nonresource", method);
    else
        snprintf(key, sizeof(key), "%s %s%s%s", watch ? "watch" : a.verb, a.res,
                 a.group[0] ? "." : "", a.group);
    for (size_t i = 0; i < c->n_counts; i++) {
        if (strcmp(c->counts[i].what, key) == 0) {
            c->counts[i].n++;
            return;
        }
    }
    if (c->n_counts == c->cap_counts) {
        c->cap_counts = c->cap_counts ? c->cap_counts * 2 : 16;
        c->counts = xrealloc(c->counts, c->cap_counts * sizeof(*c->counts));
    }
    snprintf(c->counts[c->n_counts].what, sizeof(key), "%s", key);
    c->counts[c->n_counts++].n = 1;
}

size_t sim_cluster_request_counts(struct sim_cluster *c, struct sim_request_count *out, size_t max)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = c->n_counts;
    if (out && max)
        memcpy(out, c->counts, (n < max ? n : max) * sizeof(*out));
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ---- watch: the change history ------------------------------------------------------------
 * The model changes objects in many places; rather than hook each, every request (and every
 * tick) ends with record_changes(), which compares each object's resourceVersion with the
 * one last seen and appends ADDED / MODIFIED / DELETED events to a bounded ring. Objects
 * keep the resourceVersion of their last change; a deletion gets a fresh one, as the API
 * server gives it. A LIST's resourceVersion is c->rv after the record, so a watch from it
 * sees exactly the events after the list. */

static const struct {
    const char *res, *kind, *api_version;
} wres_info[] = {
    {"nodes", "Node", "v1"},
    {"pods", "Pod", "v1"},
    {"jobs", "Job", "batch/v1"},
    {"rayjobs", "RayJob", "ray.io/v1"},
    {"namespaces", "Namespace", "v1"},
    {"services", "Service", "v1"},
    {"secrets", "Secret", "v1"},
    {"deployments", "Deployment", "apps/v1"},
    {"horizontalpodautoscalers", "HorizontalPodAutoscaler", "autoscaling/v2"},
    {"leaderworkersets", "LeaderWorkerSet", SIM_LWS_GV},
};

struct wentry {
    char key[340]; /* "R|namespace|name" */
    int res;
    char ns[64];
    uint64_t rv;
    char uid[40];
    char *text; /* the object as a watch sends it (kind, apiVersion), compact JSON; text,
                   not a tree, as every object of every cluster is kept */
    void *ref;  /* the model's object while building (snode, spod, sjob or json_t) */
};

struct wevent {
    uint64_t rv;
    char type; /* 'A', 'M', 'D' */
    int res;
    char ns[64];
    char *text; /* the object, owned */
    char *prev; /* MODIFIED: the object before, owned; else NULL */
};

static int wres_of(const char *res)
{
    for (int i = 0; i < W_NONE; i++)
        if (strcmp(wres_info[i].res, res) == 0)
            return i;
    return W_NONE;
}

/* Appends src to dst (holding *len bytes of size) as far as it fits, NUL-terminated: what
 * snprintf would write, without its cost (every object, every recorded change). */
static void put_str(char *dst, size_t size, size_t *len, const char *src)
{
    size_t n = strnlen(src, size - 1 - *len);

    memcpy(dst + *len, src, n);
    *len += n;
    dst[*len] = '\0';
}

static void wentry_set(struct wentry *e, int res, const char *ns, const char *name, uint64_t rv,
                       const char *uid, void *ref)
{
    size_t k = 0, n = 0, u = 0;

    e->key[k++] = (char)('0' + res); /* "R|ns|name"; res < W_NONE, one digit */
    put_str(e->key, sizeof(e->key), &k, "|");
    put_str(e->key, sizeof(e->key), &k, ns);
    put_str(e->key, sizeof(e->key), &k, "|");
    put_str(e->key, sizeof(e->key), &k, name);
    e->res = res;
    put_str(e->ns, sizeof(e->ns), &n, ns);
    e->rv = rv;
    put_str(e->uid, sizeof(e->uid), &u, uid);
    e->text = NULL;
    e->ref = ref;
}

static int cmp_wentry(const void *a, const void *b)
{
    return strcmp(((const struct wentry *)a)->key, ((const struct wentry *)b)->key);
}

static uint64_t json_rv(const json_t *obj)
{
    const char *v =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));

    return v ? strtoull(v, NULL, 10) : 0;
}

static void json_set_rv(json_t *obj, uint64_t rv)
{
    char v[24];

    snprintf(v, sizeof(v), "%llu", (unsigned long long)rv);
    json_object_set_new(json_object_get(obj, "metadata"), "resourceVersion", json_string(v));
}

/* Every object a watch can see, unsorted; caller frees. */
static struct wentry *watch_entries(struct sim_cluster *c, size_t *n)
{
    size_t cap = c->n_nodes + c->n_pods + c->n_jobs + 16, k = 0;
    struct wentry *v = xmalloc(cap * sizeof(*v));
    const char *res;
    json_t *o;

    for (size_t i = 0; i < c->n_nodes; i++)
        wentry_set(&v[k++], W_NODES, "", c->nodes[i].name, c->nodes[i].rv, c->nodes[i].uid,
                   &c->nodes[i]);
    for (size_t i = 0; i < c->n_pods; i++)
        wentry_set(&v[k++], W_PODS, c->pods[i]->ns, c->pods[i]->name, c->pods[i]->rv,
                   c->pods[i]->uid, c->pods[i]);
    for (size_t i = 0; i < c->n_jobs; i++)
        wentry_set(&v[k++], c->jobs[i]->kind == KIND_JOB ? W_JOBS : W_RAYJOBS, c->jobs[i]->ns,
                   c->jobs[i]->name, c->jobs[i]->rv, c->jobs[i]->uid, c->jobs[i]);
    for (size_t i = 0; (o = sim_objects_at(c->objs, i, &res)); i++) {
        json_t *md = json_object_get(o, "metadata");
        const char *ns = json_string_value(json_object_get(md, "namespace"));
        const char *uid = json_string_value(json_object_get(md, "uid"));
        int r = wres_of(res);

        if (r == W_NONE)
            continue;
        if (k == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        wentry_set(&v[k++], r, ns ? ns : "", json_string_value(json_object_get(md, "name")),
                   json_rv(o), uid ? uid : "", o);
    }
    *n = k;
    return v;
}

/* The object of e as a watch event carries it, with kind and apiVersion: compact JSON. */
static char *watch_render(struct sim_cluster *c, const struct wentry *e)
{
    json_t *o;
    char *text;

    if (e->res == W_NODES) {
        struct buf b;

        buf_init(&b, 0);
        render_node(c, e->ref, sim_clock_now(c->clock), &b);
        text =
            xasprintf("{\"kind\":\"Node\",\"apiVersion\":\"v1\",%.*s", (int)b.len - 1, b.data + 1);
        buf_free(&b);
        return text;
    }
    if (e->res == W_PODS)
        o = json_copy(pod_render(c, e->ref));
    else if (e->res == W_JOBS || e->res == W_RAYJOBS)
        o = json_copy(((struct sjob *)e->ref)->obj);
    else
        o = json_copy(e->ref);
    json_object_set_new(o, "kind", json_string(wres_info[e->res].kind));
    json_object_set_new(o, "apiVersion", json_string(wres_info[e->res].api_version));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* text with metadata.resourceVersion rv (a deletion's own version). */
static char *text_with_rv(const char *text, uint64_t rv)
{
    json_t *o = json_loads(text, 0, NULL);
    char *out;

    json_set_rv(o, rv);
    out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return out;
}

/* Gives the object of e a fresh resourceVersion (one replaced under the same name within
 * one record: its ADDED must follow the DELETED of the old one). */
static void watch_restamp(struct sim_cluster *c, struct wentry *e)
{
    e->rv = ++c->rv;
    if (e->res == W_PODS) {
        struct spod *p = e->ref;

        p->rv = e->rv;
        json_decref(p->obj);
        p->obj = NULL;
    } else if (e->res == W_JOBS || e->res == W_RAYJOBS) {
        struct sjob *j = e->ref;

        j->rv = e->rv;
        job_render_status(j);
    } else if (e->res != W_NODES) {
        json_set_rv(e->ref, e->rv);
    }
}

/* Appends ev (its strings now owned by the ring), dropping the oldest when full. */
static void wevent_push(struct sim_cluster *c, const struct wevent *ev)
{
    if (c->w_n == c->w_cap) {
        struct wevent *old = &c->w_ring[c->w_head];

        c->w_window_rv[old->res] = old->rv;
        free(old->text);
        free(old->prev);
        c->w_head = (c->w_head + 1) % c->w_cap;
        c->w_n--;
    }
    c->w_ring[(c->w_head + c->w_n) % c->w_cap] = *ev;
    c->w_n++;
}

static int cmp_pending(const void *a, const void *b)
{
    uint64_t x = ((const struct wevent *)a)->rv, y = ((const struct wevent *)b)->rv;

    return x < y ? -1 : x > y;
}

static void pend(struct wevent *p, size_t *np, char type, const struct wentry *e, uint64_t rv,
                 char *text, char *prev)
{
    struct wevent *ev = &p[(*np)++];

    ev->rv = rv;
    ev->type = type;
    ev->res = e->res;
    snprintf(ev->ns, sizeof(ev->ns), "%s", e->ns);
    ev->text = text;
    ev->prev = prev;
}

/* Compares the model with what was last recorded and appends the events, in
 * resourceVersion order. Called with the lock held. */
static void record_changes(struct sim_cluster *c)
{
    size_t n, i = 0, k = 0, np = 0;
    struct wentry *cur, *old = c->w_seen;
    struct wevent *p;

    if (!c->w_on || (c->rv == c->w_seen_rv && c->w_seen))
        return;
    cur = watch_entries(c, &n);
    qsort(cur, n, sizeof(*cur), cmp_wentry);
    p = xmalloc((n + c->w_n_seen) * 2 * sizeof(*p) + sizeof(*p));
    while (i < n || k < c->w_n_seen) {
        int d = i == n ? 1 : k == c->w_n_seen ? -1 : strcmp(cur[i].key, old[k].key);

        if (d > 0 || (d == 0 && strcmp(cur[i].uid, old[k].uid) != 0)) {
            /* gone, or replaced under the same name: its ADDED follows this DELETED */
            uint64_t rv = ++c->rv;

            pend(p, &np, 'D', &old[k], rv, text_with_rv(old[k].text, rv), NULL);
            free(old[k++].text);
            if (d > 0)
                continue;
            watch_restamp(c, &cur[i]);
            d = -1;
        }
        if (d < 0) {
            cur[i].text = watch_render(c, &cur[i]);
            pend(p, &np, 'A', &cur[i], cur[i].rv, xstrdup(cur[i].text), NULL);
        } else if (cur[i].rv != old[k].rv) {
            cur[i].text = watch_render(c, &cur[i]);
            pend(p, &np, 'M', &cur[i], cur[i].rv, xstrdup(cur[i].text), old[k++].text);
        } else {
            cur[i].text = old[k++].text;
        }
        cur[i].ref = NULL;
        i++;
    }
    qsort(p, np, sizeof(*p), cmp_pending);
    for (size_t e = 0; e < np; e++) {
        if (c->w_seen) {
            wevent_push(c, &p[e]);
        } else { /* the first record is the cluster as it starts: no events */
            free(p[e].text);
            free(p[e].prev);
        }
    }
    free(p);
    free(old);
    if (c->w_seen && np && c->on_change)
        c->on_change(c->on_change_arg, c->on_change_i);
    c->w_seen = cur;
    c->w_n_seen = n;
    c->w_seen_rv = c->rv;
}

void sim_cluster_watch_hold(struct sim_cluster *c, bool hold)
{
    pthread_mutex_lock(&c->lock);
    c->w_hold = hold;
    if (!hold && c->on_change)
        c->on_change(c->on_change_arg, c->on_change_i);
    pthread_mutex_unlock(&c->lock);
}

void sim_cluster_scheduler_hold(struct sim_cluster *c, bool hold)
{
    pthread_mutex_lock(&c->lock);
    c->sched_hold = hold;
    pthread_mutex_unlock(&c->lock);
}

void sim_cluster_on_change(struct sim_cluster *c, void (*fn)(void *arg, size_t i), void *arg,
                           size_t i)
{
    pthread_mutex_lock(&c->lock);
    c->on_change = fn;
    c->on_change_arg = arg;
    c->on_change_i = i;
    pthread_mutex_unlock(&c->lock);
}

/* Starts recording (once): the cluster as it is now is the start of its history. A cluster
 * records from the start, as an API server does (kubectl get -w does not re-list on 410);
 * keeping every object's text costs memory and time (1,000 clusters x 100 nodes: seconds
 * and a GiB), so "watchHistory": 0 defers it to the first watch, for benchmarks. */
static void watch_begin(struct sim_cluster *c)
{
    if (c->w_on)
        return;
    c->w_on = true;
    c->w_ring = xcalloc(c->w_cap, sizeof(*c->w_ring));
    record_changes(c);
    for (int r = 0; r < W_NONE; r++)
        c->w_window_rv[r] = c->rv;
}

/* ---- watch: the watchers' side ------------------------------------------------------------ */

struct sim_watch {
    int res;
    char ns[64]; /* "": every namespace */
    struct lreq lr[16];
    int nl;
    struct freq fr[8];
    int nf;
    uint64_t pos;   /* the resourceVersion up to which this watcher has been sent events */
    char **initial; /* synthetic ADDED objects still to send (owned), or NULL */
    size_t n_initial, initial_at;
};

/* The value of a field selector's key in a JSON object ("spec.nodeName"): strings as
 * they are, booleans as "true"/"false", absent as "" (an unbound pod's nodeName). */
static const char *json_field(const void *obj, const char *key)
{
    const json_t *v = obj;
    char part[64];
    const char *p = key;

    while (*p && v) {
        size_t len = strcspn(p, ".");

        snprintf(part, sizeof(part), "%.*s", (int)(len < 63 ? len : 63), p);
        v = json_object_get(v, part);
        p += len + (p[len] == '.');
    }
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    if (!v && strcmp(key, "spec.unschedulable") == 0)
        return "false";
    return "";
}

static bool watch_matches(const struct sim_watch *w, int res, const char *ns, const char *text)
{
    json_t *obj;
    bool ok;

    if (!text || res != w->res || (w->ns[0] && strcmp(ns, w->ns) != 0))
        return false;
    if (!w->nf && !w->nl)
        return true;
    obj = json_loads(text, 0, NULL);
    ok = !w->nf || field_match(w->fr, w->nf, json_field, obj);
    ok = ok && (!w->nl || labels_match(json_object_get(json_object_get(obj, "metadata"), "labels"),
                                       w->lr, w->nl));
    json_decref(obj);
    return ok;
}

/* Which resource and namespace a watch's path names; W_NONE when none. */
static int watch_target(const struct sim_cluster *c, const char *path, char *ns, size_t size)
{
    char seg[8][256];
    int n = split(path, seg, 8), r;

    ns[0] = '\0';
    if (n >= 3 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0) {
        if (n == 3)
            return wres_of(seg[2]);
        if (n != 5 || strcmp(seg[2], "namespaces") != 0)
            return W_NONE;
        snprintf(ns, size, "%s", seg[3]);
        r = wres_of(seg[4]);
        return r == W_PODS || r == W_SERVICES || r == W_SECRETS ? r : W_NONE;
    }
    if (n < 4 || strcmp(seg[0], "apis") != 0)
        return W_NONE;
    {
        char gv[520];

        snprintf(gv, sizeof(gv), "%s/%s", seg[1], seg[2]);
        if (!sim_discovery_serves(c->crds, gv))
            return W_NONE;
        r = wres_of(n == 4 ? seg[3] : n == 6 ? seg[5] : "");
        if (r < W_JOBS || r == W_NONE || (r > W_RAYJOBS && r < W_DEPLOYMENTS) ||
            strcmp(gv, wres_info[r].api_version) != 0)
            return W_NONE;
        if (n == 6) {
            if (strcmp(seg[3], "namespaces") != 0)
                return W_NONE;
            snprintf(ns, size, "%s", seg[4]);
        }
        return r;
    }
}

static int watch_selectors(struct sim_watch *w, const struct sim_query *q, struct sim_reply *out)
{
    static const char *const keys[W_NONE][8] = {
        [W_NODES] = {"metadata.name", "spec.unschedulable", NULL},
        [W_PODS] = {"metadata.name", "metadata.namespace", "status.phase", "spec.nodeName",
                    "spec.restartPolicy", "spec.schedulerName", NULL},
        [W_JOBS] = {"metadata.name", "metadata.namespace", NULL},
        [W_RAYJOBS] = {"metadata.name", "metadata.namespace", NULL},
        [W_NAMESPACES] = {"metadata.name", NULL},
        [W_SERVICES] = {"metadata.name", "metadata.namespace", NULL},
        [W_SECRETS] = {"metadata.name", "metadata.namespace", "type", NULL},
        [W_DEPLOYMENTS] = {"metadata.name", "metadata.namespace", NULL},
        [W_HPAS] = {"metadata.name", "metadata.namespace", NULL},
        [W_LWS] = {"metadata.name", "metadata.namespace", NULL},
    };

    if (q->label_selector && (w->nl = parse_label_selector(q->label_selector, w->lr, 16)) < 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "unable to parse requirement: labelSelector \"%s\"", q->label_selector);
        return -1;
    }
    if (q->field_selector &&
        (w->nf = parse_field_selector(q->field_selector, keys[w->res], w->fr, 8)) < 0) {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "field label not supported in fieldSelector \"%s\"", q->field_selector);
        return -1;
    }
    w->nl = w->nl < 0 ? 0 : w->nl;
    w->nf = w->nf < 0 ? 0 : w->nf;
    return 0;
}

/* Where the watch starts: "" or "0" (any): the current objects as synthetic ADDED events,
 * then what follows; else the events after that resourceVersion, 410 when they are no
 * longer all kept. */
static int watch_start_at(struct sim_cluster *c, struct sim_watch *w, const char *rv,
                          struct sim_reply *out)
{
    char *end;
    unsigned long long v;

    if (!rv || !*rv || strcmp(rv, "0") == 0) {
        w->initial = xcalloc(c->w_n_seen + 1, sizeof(*w->initial));
        for (size_t i = 0; i < c->w_n_seen; i++)
            if (watch_matches(w, c->w_seen[i].res, c->w_seen[i].ns, c->w_seen[i].text))
                w->initial[w->n_initial++] = xstrdup(c->w_seen[i].text);
        w->pos = c->rv;
        return 0;
    }
    v = strtoull(rv, &end, 10);
    if (*end || rv[0] == '-') {
        reply_status(out, 400, "BadRequest", NULL, NULL, NULL,
                     "resourceVersion: Invalid value: \"%s\": must be an integer", rv);
        return -1;
    }
    if (v < c->w_window_rv[w->res]) {
        reply_status(out, 410, "Expired", NULL, NULL, NULL, "too old resource version: %llu (%llu)",
                     v, (unsigned long long)c->w_window_rv[w->res] + 1);
        return -1;
    }
    w->pos = v;
    return 0;
}

int sim_cluster_watch_open(struct sim_cluster *c, const char *path, const struct sim_query *q,
                           struct sim_watch **out, struct sim_reply *rep)
{
    struct sim_watch *w = xcalloc(1, sizeof(*w));
    int rc = -1;

    memset(rep, 0, sizeof(*rep));
    pthread_mutex_lock(&c->lock);
    count_request(c, "GET", path, true);
    advance(c);
    watch_begin(c);
    record_changes(c);
    w->res = watch_target(c, path, w->ns, sizeof(w->ns));
    if (refuse_forbidden(c, "GET", path, rep))
        goto out;
    if (w->res == W_NONE) {
        not_found_path(rep);
        goto out;
    }
    if (watch_selectors(w, q, rep) != 0 || watch_start_at(c, w, q->resource_version, rep) != 0)
        goto out;
    rc = 0;
out:
    pthread_mutex_unlock(&c->lock);
    if (rc == 0)
        *out = w;
    else
        sim_cluster_watch_free(&w);
    return rc;
}

void sim_cluster_watch_free(struct sim_watch **w)
{
    if (!w || !*w)
        return;
    for (size_t i = (*w)->initial_at; (*w)->initial && i < (*w)->n_initial; i++)
        free((*w)->initial[i]);
    free((*w)->initial);
    free(*w);
    *w = NULL;
}

static void watch_line(struct buf *b, const char *type, const char *text)
{
    buf_printf(b, "{\"type\":\"%s\",\"object\":%s}\n", type, text);
}

/* The type a watcher sees for ev under its selectors, or NULL when it sees nothing. An
 * object that stops matching is DELETED for it, one that starts matching ADDED. */
static const char *watch_type(const struct sim_watch *w, const struct wevent *ev)
{
    bool now = watch_matches(w, ev->res, ev->ns, ev->text);
    bool before = ev->type == 'M' && watch_matches(w, ev->res, ev->ns, ev->prev);

    if (ev->type == 'A')
        return now ? "ADDED" : NULL;
    if (ev->type == 'D')
        return now ? "DELETED" : NULL;
    if (now)
        return before ? "MODIFIED" : "ADDED";
    return before ? "DELETED" : NULL;
}

int sim_cluster_watch_read(struct sim_cluster *c, struct sim_watch *w, struct buf *out, size_t max)
{
    int rc = 0;

    pthread_mutex_lock(&c->lock);
    for (; w->initial && w->initial_at < w->n_initial && out->len < max; w->initial_at++) {
        watch_line(out, "ADDED", w->initial[w->initial_at]);
        free(w->initial[w->initial_at]);
    }
    if (w->initial && w->initial_at == w->n_initial) {
        free(w->initial);
        w->initial = NULL;
    }
    if (!w->initial && c->w_hold) {
        pthread_mutex_unlock(&c->lock);
        return 0;
    }
    if (!w->initial && w->pos < c->w_window_rv[w->res]) {
        json_t *st = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion",
                               "v1", "metadata", "status", "Failure", "message", "", "reason",
                               "Expired", "code", 410);
        char msg[128], *text;

        snprintf(msg, sizeof(msg), "too old resource version: %llu (%llu)",
                 (unsigned long long)w->pos, (unsigned long long)c->w_window_rv[w->res] + 1);
        json_object_set_new(st, "message", json_string(msg));
        text = json_dumps(st, JSON_COMPACT);
        watch_line(out, "ERROR", text);
        free(text);
        json_decref(st);
        rc = 1;
    }
    for (size_t i = 0; rc == 0 && !w->initial && i < c->w_n && out->len < max; i++) {
        const struct wevent *ev = &c->w_ring[(c->w_head + i) % c->w_cap];
        const char *type;

        if (ev->rv <= w->pos)
            continue;
        if ((type = watch_type(w, ev)))
            watch_line(out, type, ev->text);
        w->pos = ev->rv;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

bool sim_cluster_watch_bookmark(struct sim_cluster *c, struct sim_watch *w, struct buf *out)
{
    bool caught_up;

    pthread_mutex_lock(&c->lock);
    caught_up = !w->initial && !c->w_hold && w->pos >= c->w_window_rv[w->res] &&
                (c->w_n == 0 || c->w_ring[(c->w_head + c->w_n - 1) % c->w_cap].rv <= w->pos);
    if (caught_up) {
        w->pos = c->w_seen_rv > w->pos ? c->w_seen_rv : w->pos;
        buf_printf(out,
                   "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"%s\",\"apiVersion\":\"%s\","
                   "\"metadata\":{\"resourceVersion\":\"%llu\"}}}\n",
                   wres_info[w->res].kind, wres_info[w->res].api_version,
                   (unsigned long long)w->pos);
    }
    pthread_mutex_unlock(&c->lock);
    return caught_up;
}

void sim_cluster_tick(struct sim_cluster *c)
{
    pthread_mutex_lock(&c->lock);
    advance(c);
    record_changes(c);
    pthread_mutex_unlock(&c->lock);
}

void sim_cluster_handle(struct sim_cluster *c, const char *method, const char *path,
                        const struct sim_query *q, const char *body, size_t len,
                        struct sim_reply *out)
{
    char seg[8][256];
    int n = split(path, seg, 8);
    bool get = strcmp(method, "GET") == 0;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&c->lock);
    count_request(c, method, path, false);
    advance(c);
    record_changes(c);
    if (n < 0) {
        not_found_path(out);
    } else if (refuse_forbidden(c, method, path, out)) {
        /* answered */
    } else if (n == 1 && get && strcmp(seg[0], "version") == 0) {
        reply_json(out, 200,
                   json_pack("{s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "29", "gitVersion",
                             "v1.29.3-fedsched-sim", "platform", "linux/amd64", "goVersion",
                             "go1.21.8"));
    } else if (n == 1 && get &&
               (strcmp(seg[0], "healthz") == 0 || strcmp(seg[0], "readyz") == 0 ||
                strcmp(seg[0], "livez") == 0)) {
        out->status = 200;
        out->body = xstrdup("ok");
        out->len = 2;
    } else if (n == 1 && strcmp(seg[0], "api") == 0) {
        get ? reply_json(out, 200, sim_discovery_api()) : method_not_allowed(out, method);
    } else if (n >= 2 && strcmp(seg[0], "api") == 0 && strcmp(seg[1], "v1") == 0) {
        route_core(c, method, seg, n, q, body, len, out);
    } else if (n >= 1 && strcmp(seg[0], "apis") == 0) {
        route_groups(c, method, seg, n, q, body, len, out);
    } else {
        not_found_path(out);
    }
    record_changes(c);
    pthread_mutex_unlock(&c->lock);
}

/* ---- life cycle and inspection ------------------------------------------------------------------ */

static void seed_namespace(struct sim_cluster *c, const char *name, const char *now)
{
    json_t *o = json_pack("{s:s, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                          "metadata", "name", name);
    struct sim_refusal why;
    char uid[40];

    new_uid(c, uid, sizeof(uid));
    if (!sim_objects_get(c->objs, "namespaces", "", name))
        sim_objects_create(c->objs, sim_objects_resource("namespaces"), "", o, uid, ++c->rv, now,
                           &why);
    json_decref(o);
}

static void seed_priority_class(struct sim_cluster *c, const char *name, json_int_t value,
                                const char *now)
{
    char uid[40], rv[24];

    new_uid(c, uid, sizeof(uid));
    snprintf(rv, sizeof(rv), "%llu", (unsigned long long)++c->rv);
    if (!sim_objects_get(c->objs, "priorityclasses", "", name))
        sim_objects_seed(c->objs, sim_objects_resource("priorityclasses"),
                         json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:I, s:b, s:s, s:s}",
                                   "apiVersion", "scheduling.k8s.io/v1", "kind", "PriorityClass",
                                   "metadata", "name", name, "uid", uid, "resourceVersion", rv,
                                   "creationTimestamp", now, "value", value, "globalDefault", 0,
                                   "preemptionPolicy", "PreemptLowerPriority", "description",
                                   "simulated"));
}

/* The namespaces and PriorityClasses a cluster has from the start: the scenario's or the
 * defaults, plus the namespaces its deployments and static pods live in. */
static void seed_objects(struct sim_cluster *c, int64_t now_ms)
{
    static const char *const dflt_ns[] = {"default", "kube-system", "kube-public",
                                          "kube-node-lease", "fedsched-jobs"};
    const struct sim_cluster_spec *spec = &c->spec;
    const json_t *x;
    char now[40];
    size_t i;

    ts(now_ms, now, sizeof(now));
    json_array_foreach(spec->namespaces, i, x)
    {
        seed_namespace(c, json_string_value(x), now);
    }
    for (i = 0; !spec->namespaces && i < sizeof(dflt_ns) / sizeof(dflt_ns[0]); i++)
        seed_namespace(c, dflt_ns[i], now);
    for (i = 0; i < spec->n_deployments; i++)
        seed_namespace(c, spec->deployments[i].ns, now);
    for (i = 0; i < spec->n_pods; i++)
        seed_namespace(c, spec->pods[i].ns, now);
    for (i = 0; i < spec->n_pools; i++)
        if (spec->pools[i].busy)
            seed_namespace(c, "research", now);
    seed_priority_class(c, "system-cluster-critical", 2000000000, now);
    seed_priority_class(c, "system-node-critical", 2000001000, now);
    json_array_foreach(spec->priority_classes, i, x)
    {
        seed_priority_class(c, json_string_value(x), 0, now);
    }
    if (!spec->priority_classes)
        seed_priority_class(c, "fedsched-borrowed", 0, now);
}

int sim_cluster_new(const struct sim_cluster_spec *spec, const struct sim_clock *clock,
                    int64_t continue_ttl_ms, struct sim_cluster **out, struct err *e)
{
    struct sim_cluster *c;
    size_t total = 0, k = 0;
    int64_t now = sim_clock_now(clock);

    for (size_t i = 0; i < spec->n_pools; i++)
        total += (size_t)spec->pools[i].count;
    if (total > SIM_NODES_MAX)
        return err_set(e, ERR_INVALID, "nodePools", "cluster %s has %zu nodes, over %d", spec->name,
                       total, SIM_NODES_MAX);
    c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    c->spec = *spec;
    c->scale_at_ms = xcalloc(spec->n_deployments + 1, sizeof(*c->scale_at_ms));
    c->scale_to = xcalloc(spec->n_deployments + 1, sizeof(*c->scale_to));
    c->hpa_scaled_ms = xcalloc(spec->n_deployments + 1, sizeof(*c->hpa_scaled_ms));
    for (size_t i = 0; i < spec->n_deployments; i++)
        if (spec->deployments[i].hpa_desired > 0) { /* announced at the start */
            c->scale_at_ms[i] = now;
            c->scale_to[i] = spec->deployments[i].hpa_desired;
        }
    c->clock = clock;
    c->continue_ttl_ms = continue_ttl_ms;
    c->rv = 1000;
    buf_init(&c->gone, 0);
    c->objs = sim_objects_new();
    c->crds = spec->apis ? json_incref(spec->apis) : json_pack("[s]", "ray.io/v1");
    seed_objects(c, now);
    c->pool_labels = xcalloc(spec->n_pools + 1, sizeof(char *));
    c->pool_taints = xcalloc(spec->n_pools + 1, sizeof(char *));
    c->nodes = xcalloc(total + 1, sizeof(*c->nodes));
    for (size_t i = 0; i < spec->n_pools; i++) {
        const struct sim_node_pool *p = &spec->pools[i];

        render_pool_fragments(c, i);
        for (int n = 0; n < p->count; n++, k++) {
            struct snode *sn = &c->nodes[k];

            snprintf(sn->name, sizeof(sn->name), "%s-%d", p->name, n);
            new_uid(c, sn->uid, sizeof(sn->uid));
            sn->pool = i;
            sn->idx = n;
            sn->ready = n >= p->not_ready;
            sn->not_ready_ms = sn->ready ? 0 : sim_clock_now(clock);
            sn->cordoned = n >= p->not_ready && n < p->not_ready + p->cordoned;
            sn->rv = ++c->rv;
        }
    }
    c->n_nodes = total;
    qsort(c->nodes, c->n_nodes, sizeof(*c->nodes), cmp_node);
    for (size_t i = 1; i < c->n_nodes; i++) {
        if (strcmp(c->nodes[i - 1].name, c->nodes[i].name) == 0) {
            err_set(e, ERR_INVALID, "nodePools", "cluster %s has two nodes named %s", spec->name,
                    c->nodes[i].name);
            sim_cluster_free(&c);
            return -1;
        }
    }
    c->nodes_rv = c->rv;
    /* Busy nodes: a static pod that fills the node, as a long training run would. */
    for (size_t i = 0; i < c->n_nodes; i++) {
        struct snode *sn = &c->nodes[i];
        const struct sim_node_pool *p = &spec->pools[sn->pool];
        if (p->busy && sn->idx >= p->count - p->busy && p->gpus > 0) {
            char name[160];
            json_t *labels = json_pack("{s:s}", "app", "long-training");
            struct spod *pod;

            snprintf(name, sizeof(name), "load-%s", sn->name);
            pod = pod_add(c, "research", name, labels,
                          simple_spec(p->gpus, NULL, NULL, "nvcr.io/nvidia/pytorch:24.03-py3"),
                          NULL, now);
            pod->node = (long)i;
            pod->node_name_cache = sn->name;
            pod->phase = PH_RUNNING;
            pod->start_ms = now;
        }
    }
    for (size_t i = 0; i < spec->n_pods; i++) {
        const struct sim_static_pod *sp = &spec->pods[i];
        struct spod *pod;
        long at = -1;

        if (sp->node[0] && (at = find_node(c, sp->node)) < 0) {
            err_set(e, ERR_INVALID, "pods", "pod %s/%s names unknown node \"%s\"", sp->ns, sp->name,
                    sp->node);
            sim_cluster_free(&c);
            return -1;
        }
        if (find_pod(c, sp->ns, sp->name)) {
            err_set(e, ERR_INVALID, "pods", "pod %s/%s is repeated", sp->ns, sp->name);
            sim_cluster_free(&c);
            return -1;
        }
        pod = pod_add(c, sp->ns, sp->name, sp->labels ? json_deep_copy(sp->labels) : NULL,
                      simple_spec(sp->gpus, sp->product, NULL, "registry.local/app:1"), NULL, now);
        pod->node = at;
        pod->node_name_cache = at >= 0 ? c->nodes[at].name : NULL;
        for (int ph = 0; ph < 4; ph++)
            if (strcmp(sp->phase, phase_names[ph]) == 0)
                pod->phase = (enum phase)ph;
        pod->start_ms = at >= 0 ? now : 0;
        if (sp->terminating) {
            pod->delete_ms = now;
            pod->grace_s = 1 << 20; /* stays terminating for the whole scenario */
        }
    }
    advance(c);
    c->w_cap = spec->watch_history > 0 ? (size_t)spec->watch_history : SIM_WATCH_HISTORY;
    if (!spec->watch_lazy)
        watch_begin(c);
    *out = c;
    return 0;
}

void sim_cluster_free(struct sim_cluster **cp)
{
    struct sim_cluster *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    for (size_t i = 0; i < c->n_pods; i++)
        pod_release(c->pods[i]);
    for (size_t i = 0; i < c->n_jobs; i++) {
        json_decref(c->jobs[i]->obj);
        free(c->jobs[i]->own);
        free(c->jobs[i]);
    }
    for (size_t i = 0; i < c->spec.n_pools; i++) {
        free(c->pool_labels[i]);
        free(c->pool_taints[i]);
    }
    free(c->pool_labels);
    free(c->pool_taints);
    free(c->scale_at_ms);
    free(c->scale_to);
    free(c->hpa_scaled_ms);
    sim_objects_free(&c->objs);
    json_decref(c->crds);
    for (size_t i = 0; i < c->w_n_seen; i++)
        free(c->w_seen[i].text);
    free(c->w_seen);
    for (size_t i = 0; i < c->w_n; i++) {
        free(c->w_ring[(c->w_head + i) % c->w_cap].text);
        free(c->w_ring[(c->w_head + i) % c->w_cap].prev);
    }
    free(c->w_ring);
    free(c->pods);
    free(c->jobs);
    free(c->nodes);
    free(c->node_cache.key);
    free(c->node_cache.items);
    free(c->pod_cache.key);
    free(c->pod_cache.items);
    free(c->counts);
    buf_free(&c->gone);
    free(c->fresh);
    pthread_mutex_destroy(&c->lock);
    free(c);
    *cp = NULL;
}

const char *sim_cluster_name(const struct sim_cluster *c)
{
    return c->spec.name;
}

size_t sim_cluster_nodes(struct sim_cluster *c, struct sim_node_view *out, size_t max)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    advance(c);
    n = c->n_nodes;
    for (size_t i = 0; i < n && i < max; i++) {
        const struct snode *sn = &c->nodes[i];
        const struct sim_node_pool *p = &c->spec.pools[sn->pool];

        memset(&out[i], 0, sizeof(out[i]));
        snprintf(out[i].name, sizeof(out[i].name), "%s", sn->name);
        snprintf(out[i].product, sizeof(out[i].product), "%s", p->product);
        snprintf(out[i].pool, sizeof(out[i].pool), "%s", p->pool);
        out[i].allocatable = p->gpus;
        out[i].used = sn->used;
        out[i].ready = sn->ready;
        out[i].cordoned = sn->cordoned;
    }
    pthread_mutex_unlock(&c->lock);
    return n;
}

int sim_cluster_node_gpus(struct sim_cluster *c, const char *name, int *allocatable, int *used,
                          struct err *e)
{
    long i;
    int rc = 0;

    pthread_mutex_lock(&c->lock);
    advance(c);
    i = find_node(c, name);
    if (i < 0) {
        rc = err_set(e, ERR_NOT_FOUND, "node", "cluster %s has no node \"%s\"", c->spec.name, name);
    } else {
        *allocatable = c->spec.pools[c->nodes[i].pool].gpus;
        *used = c->nodes[i].used;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

void sim_cluster_pod_counts(struct sim_cluster *c, int *bound, int *pending, int *terminating)
{
    pthread_mutex_lock(&c->lock);
    advance(c);
    *bound = *pending = *terminating = 0;
    for (size_t i = 0; i < c->n_pods; i++) {
        const struct spod *p = c->pods[i];

        if (p->delete_ms)
            (*terminating)++;
        else if (holds_gpus(p))
            (*bound)++;
        else if (p->phase == PH_PENDING)
            (*pending)++;
    }
    pthread_mutex_unlock(&c->lock);
}

int sim_cluster_set_node(struct sim_cluster *c, const char *name, bool ready, bool cordoned,
                         struct err *e)
{
    long i;
    int rc = 0;

    pthread_mutex_lock(&c->lock);
    i = find_node(c, name);
    if (i < 0) {
        rc = err_set(e, ERR_NOT_FOUND, "node", "cluster %s has no node \"%s\"", c->spec.name, name);
    } else if (c->nodes[i].ready != ready || c->nodes[i].cordoned != cordoned) {
        if (c->nodes[i].ready != ready)
            c->nodes[i].not_ready_ms = ready ? 0 : sim_clock_now(c->clock);
        c->nodes[i].ready = ready;
        c->nodes[i].cordoned = cordoned;
        bump(c);
        c->nodes[i].rv = c->rv;
        c->nodes_rv = c->rv;
        advance(c);
        record_changes(c);
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int sim_cluster_deployment_scale(struct sim_cluster *c, const char *ns, const char *name,
                                 int replicas, struct err *e)
{
    int rc = 1;

    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->spec.n_deployments; i++) {
        const struct sim_deployment *d = &c->spec.deployments[i];

        if (strcmp(d->ns, ns) != 0 || strcmp(d->name, name) != 0)
            continue;
        if (replicas < 0 || replicas > d->max_replicas) {
            rc = err_set(e, ERR_INVALID, "replicas", "replicas %d is not in 0..%d (maxReplicas)",
                         replicas, d->max_replicas);
            break;
        }
        advance(c);
        c->scale_at_ms[i] = sim_clock_now(c->clock);
        c->scale_to[i] = replicas;
        advance(c);
        record_changes(c);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&c->lock);
    return rc > 0 ? err_set(e, ERR_NOT_FOUND, "deployment", "no deployment %s/%s", ns, name) : rc;
}
