/* poller.c -- the connector: every member cluster's reflectors on one thread, capacity
 * snapshots rebuilt from their stores and published with RCU. */
#include "cluster/poller.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/curl_loop.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "cluster/manifest.h"
#include "cluster/prereq.h"
#include "cluster/promq.h"
#include "cluster/reflector.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <urcu.h>

/* One member cluster as the poller thread keeps it. */
struct pc {
    struct cluster_config cfg;
    char tz[SNAPSHOT_TZ_MAX];
    struct poller *p;
    struct reflector *r[CLUSTER_RESOURCES]; /* nodes, pods, Jobs, RayJobs, the signals */
    struct inventory work;                  /* rebuilt from the stores */
    struct inventory good;                  /* the last rebuilt, copied into snapshots */
    uint64_t version;                       /* of good and of the config: grows with each */
    bool have_good;
    bool changed;          /* a store changed since the last rebuild */
    int64_t changed_mono;  /* the first change since then */
    double tokens;         /* the rate limit's bucket */
    int rr;                /* the resource stepped first next time */
    int64_t calm_until_ms; /* wall clock: poller_calm(), applied by honour_retry_after() */
    int64_t refill_mono;
    struct cluster_status st;
    struct reflector_stats rs[CLUSTER_RESOURCES]; /* as update_status() last read them */
    uint64_t rs_seen[CLUSTER_RESOURCES];
    bool live; /* the last status was Ready with every watch kept: current as of now */
    bool signal_off[CLUSTER_RESOURCES]; /* a serving signal refused (logged once) */
    int64_t idle_since_ms;
    double dq_figure; /* the demand query's figure in the inventory version, when dq_at */
    int64_t dq_at;    /* its evaluation time; 0: none counts */
};

/* One cluster's prerequisite checks. The table of these is shared by the poller thread
 * (which keeps it in step with the cluster set and reads the results) and the check
 * thread, under poller.pq_side.lock. */
struct pq_slot {
    struct cluster_config cfg;
    struct prereq_result res;
    int64_t due_mono;
    bool busy; /* being checked (outside the lock) */
};

/* One cluster's demand query (servingPool.demandQuery). Shared like pq_slot, under
 * poller.dq_side.lock: the query thread asks and records, the poller thread reads. */
struct dq_slot {
    char name[SNAPSHOT_NAME_MAX];
    struct cluster_demand_query q;
    int64_t due_mono;
    bool busy;                /* being asked (outside the lock) */
    struct promq_answer good; /* the last PROMQ_OK answer; good.at_ms 0 when none */
    struct promq_answer last; /* the last answer */
    int64_t last_ms;          /* wall clock of the last answer */
    uint64_t results[PROMQ_RESULTS];
    bool failing; /* logged as failing, not yet as answering again */
};

struct poller;

/* A side thread of the poller: asks what is due (check_one, called with lock held, which
 * it releases around its requests) on a thread of its own, so a slow server never holds
 * up the reflectors; the poller thread takes the results when it builds a snapshot. */
struct side {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct poller *p;
    bool (*check_one)(struct poller *p, int64_t *wait_ms); /* false: none due, *wait_ms */
    const char *what;                                      /* "demand query", for errors */
    bool changed; /* a result came since the last publish */
    bool stop, running;
    int cancel; /* atomic: ends a request being made (poller_stop); check_one may read it */
    pthread_t thread;
};

struct poller {
    struct poller_options o;
    CURLM *multi;
    struct curl_loop *loop; /* drives multi */
    struct pc **pcs;
    size_t n;
    int64_t next_step_mono; /* no reflector needs a step before this, unless a transfer ends */

    pthread_rwlock_t pcs_lock; /* pcs and n: written by the poller thread only, read by
                                  poller_objects() */
    pthread_mutex_t lock;      /* the fields below up to `running` */
    struct cluster_config *pending;
    size_t n_pending;
    bool have_pending;
    bool wake;
    bool stop;
    bool running;
    pthread_t thread;

    struct side pq_side; /* prerequisite checks; its lock guards the pq fields */
    struct pq_slot *pq;  /* in the order of pcs */
    size_t n_pq;
    uint64_t pq_gen; /* grows with each result and each new table */

    struct side dq_side; /* demand queries; its lock guards the dq fields */
    struct dq_slot *dq;  /* clusters with a demand query */
    size_t n_dq;

    struct cluster_snapshot *current; /* RCU-published */
    struct cluster_snapshot *spare;   /* the one before, no longer read: the next is built in it */
    uint64_t layout;                  /* grows with each change of the cluster set */
    char tsan_grace;    /* address of the grace-period annotation (TSAN builds only); apart
                        from `current`, whose atomic stores would overwrite it */
    uint64_t published; /* atomic */
    bool applied;       /* a cluster set was applied (poller thread) */
    bool loaded;        /* atomic: a snapshot published since holds it (poller_loaded()) */

    bool dirty;
    int64_t dirty_since;
    int64_t last_lag_ms; /* of the last publication: its oldest change to its publication */
    int64_t last_sample;
    int64_t last_publish_mono;
    int64_t last_publish_cpu_ns;
    double cpu_share;
};

/* ---- side threads ------------------------------------------------------------------------- */

static void side_init(struct side *sd, struct poller *p,
                      bool (*check_one)(struct poller *, int64_t *), const char *what)
{
    pthread_mutex_init(&sd->lock, NULL);
    pthread_cond_init(&sd->cond, NULL);
    sd->p = p;
    sd->check_one = check_one;
    sd->what = what;
}

static void side_destroy(struct side *sd)
{
    pthread_mutex_destroy(&sd->lock);
    pthread_cond_destroy(&sd->cond);
}

static void *side_main(void *arg)
{
    struct side *sd = arg;

    pthread_mutex_lock(&sd->lock);
    while (!sd->stop) {
        int64_t wait_ms;
        struct timespec ts;

        if (sd->check_one(sd->p, &wait_ms)) {
            curl_loop_wakeup(sd->p->loop); /* the poller thread publishes the result */
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&sd->cond, &sd->lock, &ts);
    }
    pthread_mutex_unlock(&sd->lock);
    return NULL;
}

/* Runs every due request on the calling thread (poller_poll_once). */
static void side_run_due(struct side *sd)
{
    int64_t wait_ms;

    pthread_mutex_lock(&sd->lock);
    while (sd->check_one(sd->p, &wait_ms))
        ;
    pthread_mutex_unlock(&sd->lock);
}

static bool side_take_change(struct side *sd)
{
    bool changed;

    pthread_mutex_lock(&sd->lock);
    changed = sd->changed;
    sd->changed = false;
    pthread_mutex_unlock(&sd->lock);
    return changed;
}

static int side_start(struct side *sd, struct err *e)
{
    int rc = 0;

    pthread_mutex_lock(&sd->lock);
    sd->stop = false;
    __atomic_store_n(&sd->cancel, 0, __ATOMIC_RELAXED);
    if (!sd->running && pthread_create(&sd->thread, NULL, side_main, sd) != 0)
        rc = err_set(e, ERR_INTERNAL, NULL, "cannot create the %s thread", sd->what);
    else
        sd->running = true;
    pthread_mutex_unlock(&sd->lock);
    return rc;
}

/* A request being made is cancelled (its answer dropped) where check_one reads cancel, so
 * stopping never waits for a slow server. */
static void side_stop(struct side *sd)
{
    bool running;

    pthread_mutex_lock(&sd->lock);
    running = sd->running;
    sd->stop = true;
    if (running)
        __atomic_store_n(&sd->cancel, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&sd->cond);
    pthread_mutex_unlock(&sd->lock);
    if (!running)
        return;
    pthread_join(sd->thread, NULL);
    pthread_mutex_lock(&sd->lock);
    sd->running = false;
    __atomic_store_n(&sd->cancel, 0, __ATOMIC_RELAXED); /* poller_poll_once asks again */
    pthread_mutex_unlock(&sd->lock);
}

/* ---- RCU reader registration ------------------------------------------------------------- */

/* ThreadSanitizer cannot see the happens-before that an RCU grace period gives (reader
 * unlock -> writer free). Under TSAN only, state it with its annotation interface. */
#if defined(__SANITIZE_THREAD__)
#define FEDSCHED_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FEDSCHED_TSAN 1
#endif
#endif
#ifdef FEDSCHED_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define TSAN_RELEASE(a) __tsan_release(a)
#define TSAN_ACQUIRE(a) __tsan_acquire(a)
#else
#define TSAN_RELEASE(a) ((void)(a))
#define TSAN_ACQUIRE(a) ((void)(a))
#endif

static pthread_key_t rcu_key;
static pthread_once_t rcu_once = PTHREAD_ONCE_INIT;
static __thread bool rcu_registered;

static void rcu_thread_exit(void *arg)
{
    (void)arg;
    if (rcu_registered) {
        rcu_unregister_thread();
        rcu_registered = false;
    }
}

static void rcu_key_init(void)
{
    pthread_key_create(&rcu_key, rcu_thread_exit);
}

const struct cluster_snapshot *poller_read_begin(struct poller *p)
{
    if (!rcu_registered) {
        pthread_once(&rcu_once, rcu_key_init);
        rcu_register_thread();
        rcu_registered = true;
        /* The key's destructor unregisters the thread when it exits. */
        pthread_setspecific(rcu_key, &rcu_registered);
    }
    rcu_read_lock();
    /* An acquire load orders like rcu_dereference() and is visible to ThreadSanitizer,
     * which does not understand liburcu's own primitives. */
    return __atomic_load_n(&p->current, __ATOMIC_ACQUIRE);
}

void poller_read_end(struct poller *p)
{
    TSAN_RELEASE(&p->tsan_grace);
    rcu_read_unlock();
}

bool poller_loaded(struct poller *p)
{
    return __atomic_load_n(&p->loaded, __ATOMIC_ACQUIRE);
}

uint64_t poller_published(struct poller *p)
{
    return __atomic_load_n(&p->published, __ATOMIC_ACQUIRE);
}

/* ---- options ------------------------------------------------------------------------------ */

/* No defaults here: cmd/config.c's table has them, and a number left at zero is refused.
 * o must not be NULL. */
static int check_options(const struct poller_options *o, struct err *e)
{
    const struct {
        const char *name;
        long long v;
    } nums[] = {
        {"poller.interval_ms", o->interval_ms},
        {"poller.request_timeout_ms", o->request_timeout_ms},
        {"poller.connect_timeout_ms", o->connect_timeout_ms},
        {"poller.page_limit", o->page_limit},
        {"poller.max_inflight", o->max_inflight},
        {"poller.backoff_base_ms", o->backoff_base_ms},
        {"poller.backoff_max_ms", o->backoff_max_ms},
        {"poller.absent_recheck_ms", o->absent_recheck_ms},
        {"poller.publish_delay_ms", o->publish_delay_ms},
        {"poller.sample_interval_ms", o->sample_interval_ms},
        {"poller.max_body_bytes", (long long)o->max_body_bytes},
        {"poller.watch_timeout_s", o->watch_timeout_s},
        {"poller.watch_idle_ms", o->watch_idle_ms},
        {"poller.max_event_bytes", (long long)o->max_event_bytes},
        {"poller.burst", o->burst},
    };

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].v <= 0)
            return err_set(e, ERR_INVALID, nums[i].name, "%s must be > 0, not %lld", nums[i].name,
                           nums[i].v);
    if (o->prereq_interval_ms < 0)
        return err_set(e, ERR_INVALID, "poller.prereq_interval_ms",
                       "poller.prereq_interval_ms must be >= 0 (0: no checks), not %d",
                       o->prereq_interval_ms);
    if (!(o->qps > 0))
        return err_set(e, ERR_INVALID, "poller.qps", "poller.qps must be > 0, not %g", o->qps);
    return 0;
}

static void fill_options(struct poller_options *o, const struct poller_options *in)
{
    *o = *in;
    if (o->unreachable_after_ms <= 0)
        o->unreachable_after_ms = 3 * o->interval_ms;
    if (!o->skus)
        o->skus = sku_catalogue();
}

const struct poller_options *poller_get_options(const struct poller *p)
{
    return &p->o;
}

/* ---- per-cluster: two reflectors, nodes and non-terminal pods -------------------------------- */

static void mark_dirty(struct poller *p)
{
    if (!p->dirty) {
        p->dirty = true;
        p->dirty_since = clock_mono_ms();
    }
}

static int decode_node(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    const struct pc *c = arg;

    return k8s_node_read(d, tok, &c->cfg, c->p->o.skus, item, e);
}

static int decode_pod(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    (void)arg;
    return k8s_pod_read(d, tok, item, e);
}

static int decode_deployment(const struct k8s_json *d, int tok, void *item, void *arg,
                             struct err *e)
{
    (void)arg;
    return k8s_deployment_read(d, tok, item, e);
}

static int decode_hpa(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    (void)arg;
    return k8s_hpa_read(d, tok, item, e);
}

static int decode_lws(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    (void)arg;
    return k8s_lws_read(d, tok, item, e);
}

/* A store changed: the cluster's inventory is rebuilt at the next publication. */
static void store_changed(struct reflector *r, void *arg)
{
    struct pc *c = arg;

    (void)r;
    if (!c->changed) {
        c->changed = true;
        c->changed_mono = clock_mono_ms();
    }
    mark_dirty(c->p);
}

static void pc_reflectors_free(struct poller *p, struct pc *c)
{
    for (int k = 0; k < CLUSTER_RESOURCES; k++)
        reflector_free(&c->r[k], p->multi);
}

/* The value at tok, as jansson holds it; NULL when it cannot be read. A string token
 * starts after its opening quote. */
static json_t *json_of(const struct k8s_json *d, int tok)
{
    size_t len;
    const char *raw = k8s_json_raw(d, tok, &len);
    bool str = k8s_json_type(d, tok) == K8S_JSON_STRING;

    if (!raw)
        return NULL;
    return json_loadb(str ? raw - 1 : raw, str ? len + 2 : len, JSON_DECODE_ANY, NULL);
}

/* The members of object tok as a new object in *o, but spec at the top (top) and
 * managedFields in metadata, which is read the same way; -1 (and *o NULL) when one cannot
 * be read. */
static int members_of(const struct k8s_json *d, int tok, bool top, json_t **o)
{
    const char *skip = top ? "spec" : "managedFields";
    char key[256];

    *o = json_object();
    for (int k = k8s_json_child(d, tok); k >= 0; k = k8s_json_next(d, tok, k)) {
        long n = k8s_json_str(d, k, key, sizeof(key));
        json_t *v = NULL;

        if (n < 0 || n >= (long)sizeof(key) || strcmp(key, skip) == 0)
            continue;
        if (top && strcmp(key, "metadata") == 0 && k8s_json_type(d, k + 1) == K8S_JSON_OBJECT)
            members_of(d, k + 1, false, &v);
        else
            v = json_of(d, k + 1);
        if (!v) {
            json_decref(*o);
            *o = NULL;
            return -1;
        }
        json_object_set_new(*o, key, v);
    }
    return 0;
}

/* fedsched's Jobs and RayJobs, as the scheduler's tracking reads them (metadata and status),
 * shared read-only with readers: every member but spec (the pod template, most of the
 * object, never parsed), metadata without managedFields. */
static int decode_object(const struct k8s_json *d, int tok, void *item, void *arg, struct err *e)
{
    json_t *o;

    (void)arg;
    if (k8s_json_type(d, tok) != K8S_JSON_OBJECT || members_of(d, tok, true, &o) != 0)
        return err_set(e, ERR_MALFORMED, "object", "not a JSON object");
    *(json_t **)item = o;
    return 0;
}

static void release_object(void *item, void *arg)
{
    (void)arg;
    json_decref(*(json_t **)item);
}

/* A Job or RayJob changed: tracking may have work (no capacity to rebuild). */
static void objects_changed(struct reflector *r, void *arg)
{
    struct pc *c = arg;

    (void)r;
    if (c->p->o.objects_changed)
        c->p->o.objects_changed(c->p->o.objects_arg);
}

/* (Re)creates the reflectors: node items depend on the config (pool selector, tolerated
 * taints), so a changed config lists again. Options were checked by poller_create(). */
static void pc_reflectors_new(struct poller *p, struct pc *c)
{
    struct reflector_options ro = {
        .page_limit = p->o.page_limit,
        .request_timeout_ms = p->o.request_timeout_ms,
        .connect_timeout_ms = p->o.connect_timeout_ms,
        .watch_timeout_s = p->o.watch_timeout_s,
        .watch_idle_ms = p->o.watch_idle_ms,
        .backoff_base_ms = p->o.backoff_base_ms,
        .backoff_max_ms = p->o.backoff_max_ms,
        .max_list_bytes = p->o.max_body_bytes,
        .max_event_bytes = p->o.max_event_bytes,
        .changed = store_changed,
        .arg = c,
    };
    struct err e = {0};

    char *sel = curl_easy_escape(
        NULL, K8S_LABEL_MANAGED_BY "=" K8S_MANAGED_BY ",!" MANIFEST_LABEL_RECORDED, 0);

    ro.path = "/api/v1/nodes";
    ro.item_size = sizeof(struct k8s_node);
    ro.decode = decode_node;
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_NODES], &e) != 0)
        abort(); /* the options were checked: cannot fail */
    ro.path = "/api/v1/pods";
    ro.field_selector = K8S_POD_FIELD_SELECTOR;
    ro.item_size = sizeof(struct k8s_pod);
    ro.decode = decode_pod;
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_PODS], &e) != 0)
        abort();
    /* Tracking's: objects whose result is recorded leave the selector (DELETED). */
    ro.field_selector = NULL;
    ro.label_selector = sel;
    ro.item_size = sizeof(json_t *);
    ro.decode = decode_object;
    ro.release = release_object;
    ro.changed = objects_changed;
    ro.path = "/apis/batch/v1/jobs";
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_JOBS], &e) != 0)
        abort();
    ro.path = "/apis/ray.io/v1/rayjobs";
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_RAYJOBS], &e) != 0)
        abort();
    curl_free(sel);
    /* Serving-demand signals, cluster-wide: only those in serving namespaces count
     * (inventory_add_announced), which one list cannot select. A signal a cluster does not
     * serve is asked for again after absent_recheck_ms; tracking's RayJobs keep the
     * back-off's minute, since a job may be dispatched there once KubeRay is installed. */
    ro.absent_recheck_ms = p->o.absent_recheck_ms;
    ro.label_selector = NULL;
    ro.release = NULL;
    ro.changed = store_changed;
    ro.path = "/apis/apps/v1/deployments";
    ro.item_size = sizeof(struct k8s_deployment);
    ro.decode = decode_deployment;
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_DEPLOYMENTS], &e) != 0)
        abort();
    ro.path = "/apis/autoscaling/v2/horizontalpodautoscalers";
    ro.item_size = sizeof(struct k8s_hpa);
    ro.decode = decode_hpa;
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_HPAS], &e) != 0)
        abort();
    /* A CRD (kubernetes-sigs/lws): where it is not installed the list answers 404, which
     * the reflector takes as an empty store, asked again after absent_recheck_ms. */
    ro.path = "/apis/leaderworkerset.x-k8s.io/v1/leaderworkersets";
    ro.item_size = sizeof(struct k8s_lws);
    ro.decode = decode_lws;
    if (reflector_new(&c->cfg, &ro, &c->r[CLUSTER_RES_LWS], &e) != 0)
        abort();
}

static void apply_config(struct pc *c, const struct cluster_config *cfg)
{
    struct err e = {0};

    c->cfg = *cfg;
    c->version++;
    if (cluster_config_tz_rule(cfg->timezone, c->tz, sizeof(c->tz), &e) != 0) {
        LOG(LOG_WARN, "cluster", "cluster=%s event=timezone_unknown msg=\"%s\" using=UTC0",
            cfg->name, e.msg);
        snprintf(c->tz, sizeof(c->tz), "%s", "UTC0");
    }
    snprintf(c->st.name, sizeof(c->st.name), "%s", cfg->name);
    snprintf(c->st.api_server, sizeof(c->st.api_server), "%s", cfg->api_server);
    c->st.lost_timeout_s = cfg->lost_timeout_s;
    if (cfg->insecure_skip_tls_verify)
        LOG(LOG_WARN, "cluster",
            "cluster=%s event=insecure_tls msg=\"TLS verification is off (development only)\"",
            cfg->name);
    if (c->r[0]) {
        for (int k = 0; k < CLUSTER_RESOURCES; k++)
            reflector_set_config(c->r[k], cfg, c->p->multi);
    } else {
        pc_reflectors_new(c->p, c);
    }
}

static struct pc *pc_new(struct poller *p, const struct cluster_config *cfg)
{
    struct pc *c = xcalloc(1, sizeof(*c));

    c->p = p;
    c->tokens = p->o.burst;
    c->refill_mono = clock_mono_ms();
    inventory_init(&c->work);
    inventory_init(&c->good);
    c->st.health = SNAPSHOT_HEALTH_UNKNOWN;
    apply_config(c, cfg);
    return c;
}

static void pc_free(struct poller *p, struct pc *c)
{
    pc_reflectors_free(p, c);
    inventory_free(&c->work);
    inventory_free(&c->good);
    free(c);
}

/* ---- from the stores to the cluster's inventory and status ----------------------------------- */

struct fill {
    struct inventory *inv;
    const struct cluster_config *cfg;
    const struct sku_catalogue *skus;
};

static void fill_node(const char *key, const void *item, void *arg)
{
    struct fill *f = arg;

    (void)key;
    inventory_add_node(f->inv, item);
}

static void fill_pod(const char *key, const void *item, void *arg)
{
    struct fill *f = arg;

    (void)key;
    inventory_add_pod(f->inv, item, f->cfg, f->skus);
}

/* The HPAs of a cluster that target Deployments or LeaderWorkerSets, copied out of their
 * store. */
struct hpas {
    struct k8s_hpa *v;
    size_t n, cap;
};

static void take_hpa(const char *key, const void *item, void *arg)
{
    struct hpas *h = arg;
    const struct k8s_hpa *x = item;

    (void)key;
    if (x->target_kind == K8S_TARGET_OTHER)
        return;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 8;
        h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
    }
    h->v[h->n++] = *x;
}

struct fill_announced {
    struct fill f;
    const struct hpas *h;
};

/* The largest desiredReplicas of the HPAs targeting kind ns/name, -1 when none does. */
static int hpa_desired(const struct hpas *h, enum k8s_scale_target kind, const char *ns,
                       const char *name)
{
    int desired = -1;

    for (size_t i = 0; i < h->n; i++) {
        const struct k8s_hpa *x = &h->v[i];

        if (x->target_kind == kind && strcmp(x->ns, ns) == 0 && strcmp(x->target, name) == 0 &&
            x->desired > desired)
            desired = x->desired;
    }
    return desired;
}

static void fill_deployment(const char *key, const void *item, void *arg)
{
    struct fill_announced *fa = arg;
    const struct k8s_deployment *w = item;

    (void)key;
    inventory_add_announced(fa->f.inv, w, hpa_desired(fa->h, K8S_TARGET_DEPLOYMENT, w->ns, w->name),
                            fa->f.cfg, fa->f.skus);
}

static void fill_lws(const char *key, const void *item, void *arg)
{
    struct fill_announced *fa = arg;
    const struct k8s_lws *l = item;

    (void)key;
    inventory_add_announced_lws(
        fa->f.inv, l, hpa_desired(fa->h, K8S_TARGET_LEADERWORKERSET, l->group.ns, l->group.name),
        fa->f.cfg, fa->f.skus);
}

/* Announced serving demand from the Deployments, LeaderWorkerSets and HPAs the stores hold
 * (none while a store is not listed, refused, or not served). */
static void fill_announced(struct pc *c, const struct fill *f)
{
    struct hpas h = {0};
    struct fill_announced fa = {*f, &h};

    if (!c->cfg.serving.enabled)
        return;
    reflector_foreach(c->r[CLUSTER_RES_HPAS], take_hpa, &h);
    reflector_foreach(c->r[CLUSTER_RES_DEPLOYMENTS], fill_deployment, &fa);
    reflector_foreach(c->r[CLUSTER_RES_LWS], fill_lws, &fa);
    free(h.v);
}

/* Rebuilds the inventory from both stores once both have been listed. A few hundred
 * objects per cluster: cheaper than keeping per-node sums right through every event. */
static void rebuild(struct pc *c)
{
    struct fill f = {&c->work, &c->cfg, c->p->o.skus};
    struct inventory tmp;

    if (!c->changed || !reflector_synced(c->r[CLUSTER_RES_NODES]) ||
        !reflector_synced(c->r[CLUSTER_RES_PODS]))
        return;
    c->changed = false;
    inventory_reset(&c->work);
    reflector_foreach(c->r[CLUSTER_RES_NODES], fill_node, &f);
    reflector_foreach(c->r[CLUSTER_RES_PODS], fill_pod, &f);
    fill_announced(c, &f);
    inventory_finish(&c->work);
    tmp = c->good;
    c->good = c->work;
    c->work = tmp;
    c->have_good = true;
    c->version++;
}

/* Whether a serving signal (Deployments, HPAs, LeaderWorkerSets) is off: the cluster
 * refuses it (401/403) or does not serve it (404: LeaderWorkerSets where the CRD is not
 * installed, which is common and so only INFO). Logged once when it goes off and once when
 * it is back; such a failure does not change the cluster's health (announced_serving only
 * lacks its share). */
static bool signal_status(struct pc *c, int i)
{
    const struct reflector_stats *r = &c->rs[i];
    bool off = r->absent ||
               (r->consecutive_failures > 0 && r->last_error_kind == CLUSTER_ERR_UNAUTHORIZED);

    if (off == c->signal_off[i])
        return off;
    c->signal_off[i] = off;
    if (off)
        LOG(r->absent ? LOG_INFO : LOG_WARN, "cluster",
            "cluster=%s event=serving_signal_off resource=%s msg=\"%s\" effect=\"announced "
            "serving demand from %s is not counted\"",
            c->cfg.name, cluster_resource_name(i), r->absent ? "not served (404)" : r->last_error,
            cluster_resource_name(i));
    else
        LOG(LOG_INFO, "cluster", "cluster=%s event=serving_signal_on resource=%s", c->cfg.name,
            cluster_resource_name(i));
    return off;
}

/* The cluster's status from its reflectors: Ready while both are listed and answer;
 * Unauthorized on 401/403; otherwise Degraded while the data is younger than
 * unreachable_after_ms, then Unreachable. The data is as recent as the older of the two
 * reflectors' last good answers (an event, a bookmark, a list page). */
static void update_status(struct poller *p, struct pc *c, int64_t now_ms)
{
    const struct reflector_stats *rs = c->rs;
    struct cluster_status *st = &c->st;
    int failing = -1;
    bool changed = false;

    for (int i = 0; i < CLUSTER_RESOURCES; i++)
        changed |= reflector_get_stats_changed(c->r[i], &c->rs_seen[i], &c->rs[i]);
    /* Ready on open watches, and nothing moved since: only the data's age does. */
    if (!changed && c->live) {
        st->last_success_ms = now_ms;
        return;
    }
    c->live = false;
    st->polls_total = st->errors_total = 0;
    memset(st->errors_by_kind, 0, sizeof(st->errors_by_kind));
    st->consecutive_failures = 0;
    st->last_attempt_ms = st->next_attempt_ms = 0;
    for (int i = 0; i < CLUSTER_RESOURCES; i++) {
        /* A serving signal the cluster refuses or does not serve is only off; its other
         * failures (timeouts, 429, 5xx) are the API server's and count as any. */
        bool off = i >= CLUSTER_RES_SIGNALS && signal_status(c, i);

        st->polls_total += rs[i].lists + rs[i].watches;
        st->errors_total += rs[i].errors_total;
        for (int k = 0; k < CLUSTER_ERR_KINDS; k++)
            st->errors_by_kind[k] += rs[i].errors_by_kind[k];
        if (rs[i].last_request_ms > st->last_attempt_ms)
            st->last_attempt_ms = rs[i].last_request_ms;
        if (rs[i].next_request_ms > st->next_attempt_ms)
            st->next_attempt_ms = rs[i].next_request_ms;
        if (!off && rs[i].consecutive_failures > st->consecutive_failures) {
            st->consecutive_failures = rs[i].consecutive_failures;
            failing = i;
        }
        st->watch[i].lists = rs[i].lists;
        st->watch[i].watches = rs[i].watches;
        st->watch[i].relists = rs[i].relists;
        st->watch[i].watch_restarts = rs[i].watch_restarts;
        memcpy(st->watch[i].events, rs[i].events, sizeof(st->watch[i].events));
        st->watch[i].bad_events = rs[i].bad_events;
        st->watch[i].watching = rs[i].state == REFLECTOR_WATCHING;
        st->watch[i].absent = rs[i].absent;
    }
    st->poll_duration_ms = rs[0].list_ms > rs[1].list_ms ? rs[0].list_ms : rs[1].list_ms;
    if (c->have_good) {
        st->data_as_of_ms = rs[1].last_ok_ms;
        st->last_success_ms =
            rs[0].last_ok_ms < rs[1].last_ok_ms ? rs[0].last_ok_ms : rs[1].last_ok_ms;
    }
    if (failing < 0) {
        st->last_error[0] = '\0';
        st->last_error_code = ERR_NONE;
        if (c->have_good) {
            st->health = SNAPSHOT_HEALTH_READY;
            /* Both stores listed and kept by their watches (open, or about to be opened
             * again): whatever changes reaches us within milliseconds. */
            if (!reflector_wants_list(c->r[0]) && !reflector_wants_list(c->r[1]) &&
                rs[0].state != REFLECTOR_LISTING && rs[1].state != REFLECTOR_LISTING) {
                st->last_success_ms = now_ms;
                c->live = true;
            }
        }
        return;
    }
    snprintf(st->last_error, sizeof(st->last_error), "%s", rs[failing].last_error);
    st->last_error_code = rs[failing].last_error_code;
    if (rs[failing].last_error_kind == CLUSTER_ERR_UNAUTHORIZED)
        st->health = SNAPSHOT_HEALTH_UNAUTHORIZED;
    else if (c->have_good && now_ms - st->last_success_ms < p->o.unreachable_after_ms)
        st->health = SNAPSHOT_HEALTH_DEGRADED;
    else
        st->health = SNAPSHOT_HEALTH_UNREACHABLE;
}

/* ---- publication ------------------------------------------------------------------------------ */

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- prerequisite checks ------------------------------------------------------------------ */

static bool pq_enabled(const struct poller *p)
{
    return p->o.prereq_interval_ms > 0;
}

static struct pq_slot *pq_find(struct pq_slot *pq, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pq[i].cfg.name, name) == 0)
            return &pq[i];
    return NULL;
}

/* Brings the table in step with the cluster set (poller thread): a new cluster or a
 * changed config is checked at once, a removed one forgotten. */
static void pq_sync(struct poller *p)
{
    struct pq_slot *next = xcalloc(p->n + 1, sizeof(*next));
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&p->pq_side.lock);
    for (size_t i = 0; i < p->n; i++) {
        const struct cluster_config *cfg = &p->pcs[i]->cfg;
        struct pq_slot *old = pq_find(p->pq, p->n_pq, cfg->name);

        if (old)
            next[i] = *old;
        else
            prereq_init(&next[i].res);
        if (!old || memcmp(&old->cfg, cfg, sizeof(*cfg)) != 0) {
            next[i].cfg = *cfg;
            next[i].due_mono = now;
        }
    }
    free(p->pq);
    p->pq = next;
    p->n_pq = p->n;
    p->pq_gen++;
    pthread_cond_signal(&p->pq_side.cond);
    pthread_mutex_unlock(&p->pq_side.lock);
}

/* Checks one due cluster, if any; the lock is held on entry and on return but not during
 * the requests. Returns false when none was due (*wait_ms: until the next one). */
static bool pq_check_one(struct poller *p, int64_t *wait_ms)
{
    const struct prereq_options po = {p->o.priority_class, p->o.priority_class_borrowed,
                                      p->o.request_timeout_ms};
    int64_t now = clock_mono_ms();
    struct cluster_config *cfg = NULL;
    struct prereq_result *prev = NULL, res;
    struct pq_slot *slot = NULL;

    *wait_ms = 1000;
    for (size_t i = 0; i < p->n_pq; i++) {
        if (p->pq[i].busy)
            continue;
        if (p->pq[i].due_mono <= now) {
            slot = &p->pq[i];
            break;
        }
        if (p->pq[i].due_mono - now < *wait_ms)
            *wait_ms = p->pq[i].due_mono - now;
    }
    if (!slot)
        return false;
    slot->busy = true;
    cfg = xmalloc(sizeof(*cfg));
    prev = xmalloc(sizeof(*prev));
    *cfg = slot->cfg;
    *prev = slot->res;
    pthread_mutex_unlock(&p->pq_side.lock);
    prereq_check(cfg, &po, prev, clock_realtime_ms(), &res);
    pthread_mutex_lock(&p->pq_side.lock);
    /* The table may have been replaced meanwhile; a changed config is checked again. */
    slot = pq_find(p->pq, p->n_pq, cfg->name);
    if (slot && memcmp(&slot->cfg, cfg, sizeof(*cfg)) == 0) {
        slot->res = res;
        slot->due_mono = clock_mono_ms() + p->o.prereq_interval_ms;
        LOG(LOG_INFO, "cluster", "cluster=%s event=prerequisites_checked", cfg->name);
    }
    if (slot)
        slot->busy = false;
    p->pq_side.changed = true;
    p->pq_gen++;
    free(cfg);
    free(prev);
    return true;
}

/* Results into the snapshot being built: the conditions for the API, their states for
 * the policy. With checks off the policy's copy stays NOT_CHECKED. */
static void copy_prereqs(struct poller *p, struct cluster_snapshot *cs, const bool *refilled)
{
    bool all;

    pthread_mutex_lock(&p->pq_side.lock);
    all = cs->pq_gen != p->pq_gen; /* else the buffer has every result but refilled ones */
    for (size_t i = 0; i < p->n; i++) {
        const char *name = p->pcs[i]->cfg.name;
        /* pq_sync() keeps the table in the order of pcs: look there first. */
        const struct pq_slot *slot = i < p->n_pq && strcmp(p->pq[i].cfg.name, name) == 0
                                         ? &p->pq[i]
                                         : pq_find(p->pq, p->n_pq, name);

        if (!all && !refilled[i])
            continue;
        if (slot)
            cs->status[i].prereq = slot->res;
        else
            prereq_init(&cs->status[i].prereq);
        if (pq_enabled(p))
            prereq_to_snapshot(&cs->status[i].prereq, &cs->snap->clusters[i]);
    }
    cs->pq_gen = p->pq_gen;
    pthread_mutex_unlock(&p->pq_side.lock);
}

void poller_recheck(struct poller *p)
{
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&p->pq_side.lock);
    for (size_t i = 0; i < p->n_pq; i++)
        p->pq[i].due_mono = now;
    pthread_cond_signal(&p->pq_side.cond);
    pthread_mutex_unlock(&p->pq_side.lock);
}

/* ---- demand queries ---------------------------------------------------------------------- */

/* Each serving pool's demand query is asked on a thread of its own, one at a time, every
 * intervalMs (timeoutMs at most each), so a slow or dead Prometheus never holds up the
 * reflectors; the poller thread only reads the last answers when it builds a snapshot. */

static struct dq_slot *dq_find(struct dq_slot *dq, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(dq[i].name, name) == 0)
            return &dq[i];
    return NULL;
}

/* Brings the table in step with the cluster set (poller thread): a new or changed query is
 * asked at once and forgets the old one's figure; a removed one is forgotten. */
static void dq_sync(struct poller *p)
{
    struct dq_slot *next = xcalloc(p->n + 1, sizeof(*next));
    size_t n = 0;
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&p->dq_side.lock);
    for (size_t i = 0; i < p->n; i++) {
        const struct cluster_config *cfg = &p->pcs[i]->cfg;
        const struct cluster_demand_query *q = &cfg->serving.demand_query;
        struct dq_slot *old = dq_find(p->dq, p->n_dq, cfg->name);

        if (!cfg->serving.enabled || !q->enabled)
            continue;
        if (old && memcmp(&old->q, q, sizeof(*q)) == 0) {
            next[n++] = *old;
            continue;
        }
        snprintf(next[n].name, sizeof(next[n].name), "%s", cfg->name);
        next[n].q = *q;
        next[n].due_mono = now;
        n++;
    }
    free(p->dq);
    p->dq = next;
    p->n_dq = n;
    pthread_cond_signal(&p->dq_side.cond);
    pthread_mutex_unlock(&p->dq_side.lock);
}

/* Records an answer for slot (lock held); logs only when the query starts failing and when
 * it answers again, so a dead Prometheus is one line, not one per interval. */
static void dq_record(struct dq_slot *slot, const struct promq_answer *a, int64_t now_ms)
{
    slot->results[a->result]++;
    slot->last = *a;
    slot->last_ms = now_ms;
    if (a->result == PROMQ_OK) {
        slot->good = *a;
        if (slot->failing)
            LOG(LOG_INFO, "cluster", "cluster=%s event=demand_query_ok figure=%.3f", slot->name,
                a->value);
        slot->failing = false;
        return;
    }
    if (!slot->failing)
        LOG(LOG_WARN, "cluster",
            "cluster=%s event=demand_query_failed result=%s msg=\"%s\" effect=\"the last figure "
            "counts for %d s after it was taken, then none\"",
            slot->name, promq_result_name(a->result), a->error, slot->q.max_age_ms / 1000);
    slot->failing = true;
}

/* Asks one due query, if any; the lock is held on entry and on return but not during the
 * request. Returns false when none was due (*wait_ms: until the next one). */
static bool dq_check_one(struct poller *p, int64_t *wait_ms)
{
    int64_t now = clock_mono_ms();
    struct dq_slot *slot = NULL;
    struct cluster_demand_query *q;
    struct promq_answer a;
    char name[SNAPSHOT_NAME_MAX];

    *wait_ms = 1000;
    for (size_t i = 0; i < p->n_dq; i++) {
        if (p->dq[i].busy)
            continue;
        if (p->dq[i].due_mono <= now) {
            slot = &p->dq[i];
            break;
        }
        if (p->dq[i].due_mono - now < *wait_ms)
            *wait_ms = p->dq[i].due_mono - now;
    }
    if (!slot)
        return false;
    slot->busy = true;
    q = xmalloc(sizeof(*q));
    *q = slot->q;
    snprintf(name, sizeof(name), "%s", slot->name);
    pthread_mutex_unlock(&p->dq_side.lock);
    promq_fetch(q, clock_realtime_ms(), &p->dq_side.cancel, &a);
    pthread_mutex_lock(&p->dq_side.lock);
    /* The table may have been replaced meanwhile; a changed query's answer is dropped. */
    slot = dq_find(p->dq, p->n_dq, name);
    if (slot && memcmp(&slot->q, q, sizeof(*q)) == 0 &&
        !__atomic_load_n(&p->dq_side.cancel, __ATOMIC_RELAXED)) {
        dq_record(slot, &a, clock_realtime_ms());
        slot->due_mono = clock_mono_ms() + q->interval_ms;
    }
    if (slot)
        slot->busy = false;
    p->dq_side.changed = true;
    free(q);
    return true;
}

/* Cluster c's query status into c->st.demand, and the figure that counts now (the last good
 * one until maxAgeSeconds after its evaluation) into c->dq_figure; a figure that changes
 * makes a new inventory version, so the snapshot's aggregates are computed again. */
static void dq_read(struct poller *p, struct pc *c, int64_t now_ms)
{
    struct cluster_demand_status *d = &c->st.demand;
    const struct dq_slot *slot;
    double figure = 0;
    int64_t at = 0;

    pthread_mutex_lock(&p->dq_side.lock);
    slot = dq_find(p->dq, p->n_dq, c->cfg.name);
    d->configured = slot != NULL;
    if (slot) {
        memcpy(d->results, slot->results, sizeof(d->results));
        d->last = slot->last.result;
        d->last_ms = slot->last_ms;
        snprintf(d->last_error, sizeof(d->last_error), "%s", slot->last.error);
        if (slot->good.at_ms && now_ms <= slot->good.at_ms + slot->q.max_age_ms) {
            figure = slot->good.value;
            at = slot->good.at_ms;
        }
    } else {
        memset(d, 0, sizeof(*d));
    }
    pthread_mutex_unlock(&p->dq_side.lock);
    d->figure = figure;
    d->figure_ms = at;
    if (at != c->dq_at || figure != c->dq_figure) {
        c->dq_figure = figure;
        c->dq_at = at;
        c->version++;
    }
}

/* Adds the figure to the serving aggregate of its SKU (the configured one, else the
 * cluster's serving SKU with most GPUs) in snapshot s; records what it added. */
static void dq_apply(struct pc *c, struct snapshot *s, size_t i)
{
    struct cluster_demand_status *d = &c->st.demand;
    int k = -1;

    d->added = 0;
    d->sku[0] = '\0';
    if (!c->dq_at || !c->cfg.serving.enabled || !c->have_good)
        return;
    if (c->cfg.serving.demand_query.sku[0]) {
        k = snapshot_sku_find(s, c->cfg.serving.demand_query.sku);
    } else {
        for (size_t j = 0; j < s->n_skus; j++) {
            const struct snapshot_agg *a = snapshot_agg_const(s, i, SNAPSHOT_POOL_SERVING, (int)j);

            if (a->total > 0 &&
                (k < 0 || a->total > snapshot_agg_const(s, i, SNAPSHOT_POOL_SERVING, k)->total))
                k = (int)j;
        }
    }
    if (k < 0)
        return; /* no serving GPUs to count it on */
    snprintf(d->sku, sizeof(d->sku), "%s", s->sku_names[k]);
    d->added = promq_announce(snapshot_agg(s, i, SNAPSHOT_POOL_SERVING, k), c->dq_figure);
}

/* ---- building a snapshot ---------------------------------------------------------------- */

/* The snapshot to build into: the spare when it fits the cluster set and its nodes (then
 * *reuse), else a new one. */
static struct cluster_snapshot *take_buffer(struct poller *p, size_t total, size_t n_skus,
                                            bool *reuse)
{
    struct cluster_snapshot *cs = p->spare;

    p->spare = NULL;
    *reuse = cs && cs->layout == p->layout && cs->snap->n_clusters == p->n &&
             cs->snap->n_skus == n_skus && cs->node_cap >= total;
    if (*reuse) {
        cs->snap->n_nodes = total;
        return cs;
    }
    cluster_snapshot_free(cs);
    cs = xcalloc(1, sizeof(*cs));
    if (snapshot_new(p->n, total, n_skus, &cs->snap, NULL) != 0)
        abort(); /* n_skus is bounded above, so this cannot fail */
    cs->status = xcalloc(p->n + 1, sizeof(*cs->status));
    cs->versions = xcalloc(p->n + 1, sizeof(*cs->versions));
    cs->layout = p->layout;
    cs->node_cap = total;
    return cs;
}

/* Cluster i of the snapshot from c. When the buffer holds this version of c (its
 * inventory and config) at the same place, only what moves between versions is written:
 * health, data age and status; else everything, nodes included. Returns whether its
 * nodes (and so its aggregates) were written. */
static bool fill_cluster(struct cluster_snapshot *cs, size_t i, struct pc *c, size_t first,
                         bool reuse)
{
    struct snapshot_cluster *sc = &cs->snap->clusters[i];
    const struct cluster_serving_config *sv = &c->cfg.serving;
    size_t n_nodes = c->have_good ? c->good.n_nodes : 0;
    bool same =
        reuse && cs->versions[i] == c->version && sc->node_first == first && sc->n_nodes == n_nodes;

    /* The status up to what comes from the inventory (below, when it changed) and the
     * prerequisites (copy_prereqs()). */
    memcpy(&cs->status[i], &c->st, offsetof(struct cluster_status, stats));
    sc->health = c->st.health;
    sc->last_poll_ms = c->st.last_success_ms;
    if (same)
        return false;
    cs->status[i].stats = c->good.stats;
    memcpy(cs->status[i].unknown, c->good.unknown, sizeof(c->good.unknown));
    cs->status[i].n_unknown = c->good.n_unknown;
    snprintf(cs->status[i].item_error, sizeof(cs->status[i].item_error), "%s",
             c->good.last_item_error);
    free(cs->status[i].job_pods);
    cs->status[i].job_pods = NULL;
    cs->status[i].n_job_pods = 0;
    if (c->have_good && c->good.n_jobs > 0) {
        cs->status[i].job_pods = xmalloc(c->good.n_jobs * sizeof(*c->good.jobs));
        memcpy(cs->status[i].job_pods, c->good.jobs, c->good.n_jobs * sizeof(*c->good.jobs));
        cs->status[i].n_job_pods = c->good.n_jobs;
    }
    memset(sc, 0, sizeof(*sc));
    snprintf(sc->name, sizeof(sc->name), "%s", c->cfg.name);
    snprintf(sc->region, sizeof(sc->region), "%s", c->cfg.region);
    snprintf(sc->provider, sizeof(sc->provider), "%s", c->cfg.provider);
    snprintf(sc->tz, sizeof(sc->tz), "%s", c->tz);
    sc->cordoned = c->cfg.cordoned;
    sc->health = c->st.health;
    sc->last_poll_ms = c->st.last_success_ms;
    for (size_t k = 0; k < c->cfg.n_costs; k++) {
        int idx = snapshot_sku_find(cs->snap, c->cfg.costs[k].sku);

        if (idx >= 0)
            sc->cost_per_gpu_hour[idx] = c->cfg.costs[k].per_gpu_hour;
    }
    sc->serving.present = sv->enabled;
    sc->serving.reserve_gpus = sv->reserve_gpus;
    sc->serving.lend_policy = sv->lend_policy;
    sc->serving.idle_minutes = sv->idle_minutes;
    memcpy(sc->serving.windows, sv->windows, sizeof(sc->serving.windows));
    sc->serving.n_windows = sv->n_windows;
    sc->node_first = first;
    sc->n_nodes = n_nodes;
    for (size_t k = 0; k < cs->snap->n_skus; k++) {
        *snapshot_agg(cs->snap, i, SNAPSHOT_POOL_TRAINING, (int)k) = (struct snapshot_agg){0};
        *snapshot_agg(cs->snap, i, SNAPSHOT_POOL_SERVING, (int)k) = (struct snapshot_agg){0};
    }
    sc->serving.n_pending = 0;
    if (c->have_good)
        inventory_copy(&c->good, sv->enabled ? sv->reserve_gpus : 0, cs->snap, i, first);
    cs->versions[i] = c->version;
    snapshot_compute_cluster_aggregates(cs->snap, i);
    dq_apply(c, cs->snap, i);
    cs->status[i].demand = c->st.demand;
    return true;
}

static struct cluster_snapshot *build(struct poller *p)
{
    const struct sku_catalogue *cat = p->o.skus;
    struct cluster_snapshot *cs;
    size_t total = 0, first = 0, n_skus = cat->n < SNAPSHOT_SKU_MAX ? cat->n : SNAPSHOT_SKU_MAX;
    int64_t now_ms = clock_realtime_ms(), now_mono = clock_mono_ms(), oldest = 0;
    bool reuse, *refilled = xcalloc(p->n + 1, sizeof(*refilled));

    for (size_t i = 0; i < p->n; i++) {
        struct pc *c = p->pcs[i];

        if (c->changed && (!oldest || c->changed_mono < oldest))
            oldest = c->changed_mono;
        rebuild(c);
        update_status(p, c, now_ms);
        dq_read(p, c, now_ms);
        total += c->have_good ? c->good.n_nodes : 0;
    }
    p->last_lag_ms = oldest ? now_mono - oldest : 0;
    cs = take_buffer(p, total, n_skus, &reuse);
    for (size_t k = 0; k < cs->snap->n_skus; k++)
        snprintf(cs->snap->sku_names[k], sizeof(cs->snap->sku_names[k]), "%s", cat->skus[k].name);
    for (size_t i = 0; i < p->n; i++) {
        refilled[i] = fill_cluster(cs, i, p->pcs[i], first, reuse);
        first += cs->snap->clusters[i].n_nodes;
    }
    copy_prereqs(p, cs, refilled);
    free(refilled);
    /* Idle tracking across polls: no pending or announced serving demand and free above
     * the reserve. */
    for (size_t i = 0; i < p->n; i++) {
        struct pc *c = p->pcs[i];
        int pending = 0, free_gpus = 0, reserve = 0;

        if (!c->cfg.serving.enabled || !c->have_good) {
            c->idle_since_ms = 0;
            continue;
        }
        for (size_t k = 0; k < cs->snap->n_skus; k++) {
            const struct snapshot_agg *a =
                snapshot_agg_const(cs->snap, i, SNAPSHOT_POOL_SERVING, (int)k);

            pending += a->pending_serving + a->announced_serving;
            free_gpus += a->free;
            reserve += a->reserve;
        }
        if (pending == 0 && free_gpus > reserve) {
            if (!c->idle_since_ms)
                c->idle_since_ms = now_ms;
        } else {
            c->idle_since_ms = 0;
        }
        cs->snap->clusters[i].serving.idle_since_ms = c->idle_since_ms;
    }
    cs->snap->taken_ms = now_ms;
    cs->snap->seq = poller_published(p) + 1;
    cs->lag_ms = p->last_lag_ms;
    return cs;
}

static void publish(struct poller *p)
{
    struct cluster_snapshot *next = build(p), *old;
    int64_t now = clock_mono_ms(), cpu = thread_cpu_ns();

    if (p->last_publish_mono && now > p->last_publish_mono)
        p->cpu_share =
            (double)(cpu - p->last_publish_cpu_ns) / 1e6 / (double)(now - p->last_publish_mono);
    next->poller_cpu_share = p->cpu_share;
    p->last_publish_mono = now;
    p->last_publish_cpu_ns = cpu;
    old = p->current;
    __atomic_store_n(&p->current, next, __ATOMIC_RELEASE); /* = rcu_assign_pointer() */
    __atomic_add_fetch(&p->published, 1, __ATOMIC_RELEASE);
    if (p->applied)
        __atomic_store_n(&p->loaded, true, __ATOMIC_RELEASE);
    p->dirty = false;
    /* Wait until no reader can still hold the old snapshot, then free it. Only the poller
     * thread waits here; readers are never blocked. */
    if (old) {
        synchronize_rcu();
        TSAN_ACQUIRE(&p->tsan_grace);
        cluster_snapshot_free(p->spare);
        p->spare = old;
    }
    if (p->o.sink && (p->last_sample == 0 || now - p->last_sample >= p->o.sample_interval_ms)) {
        p->last_sample = now;
        p->o.sink(next, p->o.sink_arg);
    }
}

/* ---- the loop ------------------------------------------------------------------------------- */

static int find_pc(struct pc **pcs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (pcs[i] && strcmp(pcs[i]->cfg.name, name) == 0)
            return (int)i;
    return -1;
}

/* Keep the idle connections of every cluster's reflectors: TLS handshakes cost more than
 * the requests. */
static void set_max_connects(struct poller *p)
{
    long n = (long)(p->n * 2 + 16);

    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, n < 100000 ? n : 100000L);
}

/* Applies a cluster set handed over by poller_set_clusters(). */
static void apply_pending(struct poller *p)
{
    struct cluster_config *cfgs;
    size_t n;
    struct pc **next;

    pthread_mutex_lock(&p->lock);
    if (!p->have_pending) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    cfgs = p->pending;
    n = p->n_pending;
    p->pending = NULL;
    p->n_pending = 0;
    p->have_pending = false;
    pthread_mutex_unlock(&p->lock);
    p->applied = true;

    next = xcalloc(n + 1, sizeof(*next));
    pthread_rwlock_wrlock(&p->pcs_lock);
    for (size_t i = 0; i < n; i++) {
        int at = find_pc(p->pcs, p->n, cfgs[i].name);

        if (at < 0) {
            next[i] = pc_new(p, &cfgs[i]);
            LOG(LOG_INFO, "cluster", "cluster=%s event=added", cfgs[i].name);
            continue;
        }
        next[i] = p->pcs[at];
        p->pcs[at] = NULL;
        if (memcmp(&next[i]->cfg, &cfgs[i], sizeof(cfgs[i])) != 0) {
            apply_config(next[i], &cfgs[i]);
            LOG(LOG_INFO, "cluster", "cluster=%s event=changed", cfgs[i].name);
        }
    }
    for (size_t i = 0; i < p->n; i++) {
        if (p->pcs[i]) {
            LOG(LOG_INFO, "cluster", "cluster=%s event=removed", p->pcs[i]->cfg.name);
            pc_free(p, p->pcs[i]);
        }
    }
    free(p->pcs);
    free(cfgs);
    p->pcs = next;
    p->n = n;
    p->layout++;
    pthread_rwlock_unlock(&p->pcs_lock);
    p->next_step_mono = 0;
    set_max_connects(p);
    pq_sync(p);
    dq_sync(p);
    mark_dirty(p);
}

/* Client-side rate limit per cluster, a token bucket as client-go's: qps tokens a second
 * up to burst. False when r's request must wait (*wait_ms: until the next token). */
static bool take_token(struct poller *p, struct pc *c, int64_t now, int64_t *wait_ms)
{
    double add = (double)(now - c->refill_mono) * p->o.qps / 1000.0;

    c->tokens = c->tokens + add > p->o.burst ? p->o.burst : c->tokens + add;
    c->refill_mono = now;
    if (c->tokens >= 1.0) {
        c->tokens -= 1.0;
        return true;
    }
    *wait_ms = (int64_t)((1.0 - c->tokens) * 1000.0 / p->o.qps) + 1;
    return false;
}

/* A Retry-After one reflector got holds back the cluster's other requests too: the server
 * asked the client, not one URL, to wait. */
static void honour_retry_after(struct pc *c, int64_t now)
{
    int64_t now_ms = clock_realtime_ms(), calm;

    pthread_mutex_lock(&c->p->lock);
    calm = c->calm_until_ms;
    pthread_mutex_unlock(&c->p->lock);
    for (int k = 0; k < CLUSTER_RESOURCES; k++)
        if (reflector_retry_until_ms(c->r[k]) > calm)
            calm = reflector_retry_until_ms(c->r[k]);
    c->st.calm_until_ms = calm > now_ms ? calm : 0;
    if (calm > now_ms)
        for (int k = 0; k < CLUSTER_RESOURCES; k++)
            reflector_defer(c->r[k], now + (calm - now_ms));
}

/* Steps every reflector: starts requests that are due (lists at most max_inflight at once,
 * since lists are what loads an API server; every request within its cluster's rate
 * limit) and ends stalled watches. Returns the ms until one next needs a step (at most
 * cap). */
/* Whether cluster c reads resource k: the serving signals only where there is a serving
 * pool (their reflectors exist everywhere but are never stepped elsewhere, so a cluster
 * without one is sent nothing more). */
static bool pc_reads(const struct pc *c, int k)
{
    return k < CLUSTER_RES_SIGNALS || c->cfg.serving.enabled;
}

static int64_t step_all(struct poller *p, int64_t now, int64_t cap)
{
    int64_t wait = cap;
    int listing = 0;

    for (size_t i = 0; i < p->n; i++) {
        struct reflector **rs = p->pcs[i]->r;

        for (int k = 0; k < CLUSTER_RESOURCES; k++)
            listing += reflector_listing(rs[k]);
    }
    for (size_t i = 0; i < p->n; i++) {
        struct pc *c = p->pcs[i];
        struct reflector **rs = c->r;

        honour_retry_after(c, now);
        /* Round robin: when the rate limit leaves one token, a resource that keeps wanting
         * requests (a list restarting its pages) must not starve the others. */
        c->rr = (c->rr + 1) % CLUSTER_RESOURCES;
        for (int j = 0; j < CLUSTER_RESOURCES; j++) {
            int k = (c->rr + j) % CLUSTER_RESOURCES;
            bool list = reflector_wants_list(rs[k]);
            int64_t due = reflector_next_request_mono(rs[k]), w;

            if (!pc_reads(c, k))
                continue;
            if (due >= 0 && due <= now) {
                if (list && listing >= p->o.max_inflight) {
                    wait = wait < 50 ? wait : 50; /* a slot frees when a list ends */
                    continue;
                }
                if (!take_token(p, c, now, &w)) {
                    wait = w < wait ? w : wait;
                    continue;
                }
            }
            w = reflector_step(rs[k], p->multi, now);
            if (w < 0) {
                listing += list;
                continue;
            }
            if (w < wait)
                wait = w;
        }
    }
    p->next_step_mono = now + wait;
    return wait;
}

/* Hands finished transfers to their reflectors. Returns how many ended. */
static int drain(struct poller *p)
{
    CURLMsg *m;
    int left, ended = 0;

    while ((m = curl_multi_info_read(p->multi, &left))) {
        void *r = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        if (reflector_is(r)) {
            reflector_done(r, p->multi, m->data.result);
            ended++;
        }
    }
    if (ended)
        mark_dirty(p); /* health and counters move */
    return ended;
}

/* Changes are published at most every publish_delay_ms (coalesced), and the snapshot at
 * least every interval_ms, so that data ages and health move on a quiet federation. */
static int64_t publish_wait(struct poller *p, int64_t now)
{
    int64_t due = p->last_publish_mono + (p->dirty ? p->o.publish_delay_ms : p->o.interval_ms);

    return due > now ? due - now : 0;
}

static void *thread_main(void *arg)
{
    struct poller *p = arg;

    for (;;) {
        bool wake;
        int64_t now, wait, pw;

        pthread_mutex_lock(&p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        wake = p->wake;
        p->wake = false;
        pthread_mutex_unlock(&p->lock);
        apply_pending(p);
        if (wake) {
            mark_dirty(p);
            p->next_step_mono = 0;
        }
        now = clock_mono_ms();
        wait = now >= p->next_step_mono ? step_all(p, now, 1000) : p->next_step_mono - now;
        pw = publish_wait(p, now);
        curl_loop_run(p->loop, pw < wait ? pw : wait);
        if (drain(p))
            p->next_step_mono = 0;
        if (side_take_change(&p->pq_side))
            mark_dirty(p);
        if (side_take_change(&p->dq_side))
            mark_dirty(p);
        if (publish_wait(p, clock_mono_ms()) == 0)
            publish(p);
    }
    return NULL;
}

/* ---- API ---------------------------------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int check_names(const struct cluster_config *cfgs, size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfgs[i].name, cfgs[k].name) == 0)
                return err_set(e, ERR_INVALID, "name", "cluster name \"%s\" appears twice",
                               cfgs[i].name);
    return 0;
}

int poller_create(const struct cluster_config *cfgs, size_t n, const struct poller_options *o,
                  struct poller **out, struct err *e)
{
    struct poller *p;

    if (!o)
        return err_set(e, ERR_INVALID, "poller", "the poller needs its options");
    if (check_options(o, e) != 0 || check_names(cfgs, n, e) != 0)
        return -1;
    pthread_once(&curl_once, curl_init_once);
    p = xcalloc(1, sizeof(*p));
    fill_options(&p->o, o);
    pthread_rwlock_init(&p->pcs_lock, NULL);
    pthread_mutex_init(&p->lock, NULL);
    side_init(&p->pq_side, p, pq_check_one, "prerequisite check");
    side_init(&p->dq_side, p, dq_check_one, "demand query");
    p->multi = curl_multi_init();
    p->loop = p->multi ? curl_loop_new(p->multi) : NULL;
    if (!p->loop) {
        if (p->multi)
            curl_multi_cleanup(p->multi);
        free(p);
        return err_set(e, ERR_INTERNAL, NULL, "cannot set up libcurl's multi handle on epoll");
    }
    p->pcs = xcalloc(n + 1, sizeof(*p->pcs));
    for (size_t i = 0; i < n; i++)
        p->pcs[i] = pc_new(p, &cfgs[i]);
    p->n = n;
    set_max_connects(p);
    pq_sync(p);
    dq_sync(p);
    p->applied = cfgs != NULL; /* NULL: the set comes later, from poller_set_clusters() */
    publish(p);                /* readers always find a snapshot */
    *out = p;
    return 0;
}

int poller_start(struct poller *p, struct err *e)
{
    pthread_mutex_lock(&p->lock);
    if (p->running) {
        pthread_mutex_unlock(&p->lock);
        return err_set(e, ERR_INTERNAL, NULL, "the poller already runs");
    }
    p->stop = false;
    if (pthread_create(&p->thread, NULL, thread_main, p) != 0) {
        pthread_mutex_unlock(&p->lock);
        return err_set(e, ERR_INTERNAL, NULL, "cannot create the poller thread");
    }
    p->running = true;
    pthread_mutex_unlock(&p->lock);
    if (side_start(&p->dq_side, e) != 0)
        return -1;
    return pq_enabled(p) ? side_start(&p->pq_side, e) : 0;
}

void poller_stop(struct poller *p)
{
    side_stop(&p->pq_side);
    side_stop(&p->dq_side);
    pthread_mutex_lock(&p->lock);
    if (!p->running) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    curl_loop_wakeup(p->loop);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->lock);
    p->running = false;
    pthread_mutex_unlock(&p->lock);
}

/* Lists every cluster that is not backing off again, on the calling thread, and waits
 * for the lists (not the watches that would follow). */
int poller_poll_once(struct poller *p, struct err *e)
{
    bool running, again = true;

    pthread_mutex_lock(&p->lock);
    running = p->running;
    pthread_mutex_unlock(&p->lock);
    if (running)
        return err_set(e, ERR_INVALID, NULL, "poller_poll_once while the poller thread runs");
    apply_pending(p);
    if (pq_enabled(p))
        side_run_due(&p->pq_side);
    side_run_due(&p->dq_side);
    for (size_t i = 0; i < p->n; i++) {
        struct reflector **rs = p->pcs[i]->r;

        for (int k = 0; k < CLUSTER_RESOURCES; k++) {
            struct reflector_stats st;

            reflector_get_stats(rs[k], &st);
            if (st.consecutive_failures == 0 && pc_reads(p->pcs[i], k))
                reflector_relist(rs[k], p->multi);
        }
    }
    while (again) {
        int listing = 0;

        again = false;
        for (size_t i = 0; i < p->n; i++) {
            struct reflector **rs = p->pcs[i]->r;

            for (int k = 0; k < CLUSTER_RESOURCES; k++) {
                struct reflector_stats st;

                reflector_get_stats(rs[k], &st);
                if (!pc_reads(p->pcs[i], k))
                    continue;
                if (st.state == REFLECTOR_LISTING) {
                    again = true;
                    listing++;
                } else if (reflector_wants_list(rs[k]) && listing < p->o.max_inflight &&
                           reflector_step(rs[k], p->multi, clock_mono_ms()) < 0) {
                    again = true; /* started; one in backoff waits for the next call */
                    listing++;
                }
            }
        }
        if (!again)
            break;
        curl_loop_run(p->loop, 100);
        drain(p);
    }
    publish(p);
    return 0;
}

int poller_set_clusters(struct poller *p, const struct cluster_config *cfgs, size_t n,
                        struct err *e)
{
    struct cluster_config *copy;

    if (check_names(cfgs, n, e) != 0)
        return -1;
    copy = xcalloc(n + 1, sizeof(*copy));
    if (n)
        memcpy(copy, cfgs, n * sizeof(*copy));
    pthread_mutex_lock(&p->lock);
    free(p->pending);
    p->pending = copy;
    p->n_pending = n;
    p->have_pending = true;
    pthread_mutex_unlock(&p->lock);
    curl_loop_wakeup(p->loop);
    return 0;
}

void poller_wake(struct poller *p)
{
    pthread_mutex_lock(&p->lock);
    p->wake = true;
    pthread_mutex_unlock(&p->lock);
    curl_loop_wakeup(p->loop);
}

static void append_object(const char *key, const void *item, void *arg)
{
    (void)key;
    json_array_append(arg, *(json_t *const *)item);
}

void poller_calm(struct poller *p, const char *cluster, int64_t until_ms)
{
    int at;

    pthread_rwlock_rdlock(&p->pcs_lock);
    at = find_pc(p->pcs, p->n, cluster);
    if (at >= 0) {
        pthread_mutex_lock(&p->lock);
        if (p->pcs[at]->calm_until_ms < until_ms)
            p->pcs[at]->calm_until_ms = until_ms;
        pthread_mutex_unlock(&p->lock);
    }
    pthread_rwlock_unlock(&p->pcs_lock);
    poller_wake(p); /* steps every reflector, which applies it */
}

int poller_objects(struct poller *p, const char *cluster, enum k8s_job_kind kind, json_t **items,
                   struct err *e)
{
    struct reflector *r = NULL;
    struct reflector_stats st;
    json_t *a;
    int at;

    if (kind != K8S_KIND_JOB && kind != K8S_KIND_RAYJOB)
        return err_set(e, ERR_INVALID, "kind", "only Jobs and RayJobs are watched");
    pthread_rwlock_rdlock(&p->pcs_lock);
    at = find_pc(p->pcs, p->n, cluster);
    if (at >= 0)
        r = p->pcs[at]->r[kind == K8S_KIND_JOB ? CLUSTER_RES_JOBS : CLUSTER_RES_RAYJOBS];
    if (r)
        reflector_get_stats(r, &st);
    if (!r || st.stale) {
        pthread_rwlock_unlock(&p->pcs_lock);
        return err_set(e, ERR_UNAVAILABLE, "cluster", "no current %s of cluster \"%s\"",
                       k8s_kind_name(kind), cluster);
    }
    a = json_array();
    reflector_foreach(r, append_object, a);
    pthread_rwlock_unlock(&p->pcs_lock);
    *items = a;
    return 0;
}

int64_t poller_thread_cpu_ms(struct poller *p)
{
    clockid_t cid;
    struct timespec ts;
    bool running;

    pthread_mutex_lock(&p->lock);
    running = p->running;
    pthread_mutex_unlock(&p->lock);
    if (!running || pthread_getcpuclockid(p->thread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void poller_free(struct poller **pp)
{
    struct poller *p;

    if (!pp || !*pp)
        return;
    p = *pp;
    poller_stop(p);
    for (size_t i = 0; i < p->n; i++)
        pc_free(p, p->pcs[i]);
    free(p->pcs);
    free(p->pending);
    curl_loop_free(&p->loop);
    curl_multi_cleanup(p->multi);
    cluster_snapshot_free(p->spare);
    if (p->current) {
        struct cluster_snapshot *old = p->current;

        __atomic_store_n(&p->current, NULL, __ATOMIC_RELEASE);
        synchronize_rcu();
        TSAN_ACQUIRE(&p->tsan_grace);
        cluster_snapshot_free(old);
    }
    pthread_mutex_destroy(&p->lock);
    pthread_rwlock_destroy(&p->pcs_lock);
    free(p->pq);
    side_destroy(&p->pq_side);
    free(p->dq);
    side_destroy(&p->dq_side);
    free(p);
    *pp = NULL;
}
