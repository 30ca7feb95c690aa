/* poller.c -- concurrent capacity polling of member clusters and RCU publication. */
#include "cluster/poller.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/num.h"
#include "cluster/inventory.h"
#include "cluster/k8s.h"
#include "cluster/credentials.h"
#include "cluster/prereq.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <urcu.h>

#define CONT_MAX     4096
#define RESTARTS_MAX 3

enum stage { STAGE_IDLE = 0, STAGE_NODES, STAGE_PODS };

/* One member cluster as the poller thread keeps it. */
struct pc {
    struct cluster_config cfg;
    char tz[SNAPSHOT_TZ_MAX];
    struct poller *p;
    struct cluster_token token;
    struct cluster_ca ca;
    CURL *easy;
    struct curl_slist *headers;
    struct buf body;
    int retry_after_s;
    enum stage stage;
    char cont[CONT_MAX];
    int restarts;
    struct inventory work; /* filled by the poll in progress */
    struct inventory good; /* the last complete poll */
    bool have_good;
    int64_t due_mono;     /* next poll */
    int64_t started_mono; /* of the poll in progress */
    bool inflight;
    struct cluster_status st;
    int64_t idle_since_ms;
    char url[CLUSTER_PATH_MAX + CONT_MAX * 3 + 256];
};

/* One cluster's prerequisite checks. The table of these is shared by the poller thread
 * (which keeps it in step with the cluster set and reads the results) and the check
 * thread, under poller.pq_lock. */
struct pq_slot {
    struct cluster_config cfg;
    struct prereq_result res;
    int64_t due_mono;
    bool busy; /* being checked (outside the lock) */
};

struct poller {
    struct poller_options o;
    CURLM *multi;
    struct k8s_json json; /* one token array: pages are parsed one at a time */
    struct pc **pcs;
    size_t n;
    unsigned rnd;
    int inflight;

    pthread_mutex_t lock; /* the fields below up to `running` */
    struct cluster_config *pending;
    size_t n_pending;
    bool have_pending;
    bool wake;
    bool stop;
    bool running;
    pthread_t thread;

    pthread_mutex_t pq_lock; /* the pq_ fields */
    pthread_cond_t pq_cond;
    struct pq_slot *pq; /* in the order of pcs */
    size_t n_pq;
    bool pq_changed; /* a check finished since the last publish */
    bool pq_stop;
    bool pq_running;
    pthread_t pq_thread;

    struct cluster_snapshot *current; /* RCU-published */
    char tsan_grace;    /* address of the grace-period annotation (TSAN builds only); apart
                        from `current`, whose atomic stores would overwrite it */
    uint64_t published; /* atomic */

    bool dirty;
    int64_t dirty_since;
    int64_t wave_start; /* when inflight went from 0 to 1 */
    int64_t last_round_ms;
    int64_t last_sample;
    int64_t last_publish_mono;
    int64_t last_publish_cpu_ns;
    double cpu_share;
};

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
        {"poller.publish_delay_ms", o->publish_delay_ms},
        {"poller.sample_interval_ms", o->sample_interval_ms},
        {"poller.max_body_bytes", (long long)o->max_body_bytes},
    };

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].v <= 0)
            return err_set(e, ERR_INVALID, nums[i].name, "%s must be > 0, not %lld", nums[i].name,
                           nums[i].v);
    if (o->prereq_interval_ms < 0)
        return err_set(e, ERR_INVALID, "poller.prereq_interval_ms",
                       "poller.prereq_interval_ms must be >= 0 (0: no checks), not %d",
                       o->prereq_interval_ms);
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

/* ---- per-cluster setup -------------------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct pc *c = arg;

    /* Returning less than given makes curl fail the transfer with CURLE_WRITE_ERROR. */
    return buf_append(&c->body, data, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct pc *c = arg;
    size_t len = size * n;

    if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        char v[32];
        size_t k = 0;
        int64_t secs;

        for (size_t i = 12; i < len && k < sizeof(v) - 1; i++)
            if (data[i] != ' ' && data[i] != '\r' && data[i] != '\n')
                v[k++] = data[i];
        v[k] = '\0';
        /* Only delta-seconds; an HTTP-date falls back to our own backoff. */
        if (num_parse_i64(v, 0, 3600, &secs) == 0)
            c->retry_after_s = (int)secs;
    }
    return len;
}

static void build_headers(struct pc *c)
{
    curl_slist_free_all(c->headers);
    c->headers = cluster_token_headers(&c->token);
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
}

/* Re-reads the token file when it changed (tokens are rotated in place). */
static int refresh_token(struct pc *c, struct err *e)
{
    bool changed;

    if (cluster_token_refresh(&c->token, c->cfg.token_file, &changed, e))
        return -1;
    if (changed)
        build_headers(c);
    return 0;
}

/* Re-reads the CA bundle when it changed; we read it (from the secrets directory), curl
 * gets the bytes. */
static int refresh_ca(struct pc *c, struct err *e)
{
    bool changed;

    if (cluster_ca_refresh(&c->ca, c->cfg.ca_file, &changed, e))
        return -1;
    if (changed)
        cluster_ca_apply(&c->ca, c->easy);
    return 0;
}

static void configure_easy(struct pc *c)
{
    const struct poller_options *o = &c->p->o;

    curl_easy_reset(c->easy);
    curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
    curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)o->request_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
    curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->easy, CURLOPT_ACCEPT_ENCODING, "");
    if (c->cfg.insecure_skip_tls_verify) {
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        LOG(LOG_WARN, "cluster",
            "cluster=%s event=insecure_tls msg=\"TLS verification is off (development only)\"",
            c->cfg.name);
    }
    cluster_token_clear(&c->token); /* headers are rebuilt before the next request */
    cluster_ca_clear(&c->ca);       /* and the CA bundle set again */
}

static void apply_config(struct pc *c, const struct cluster_config *cfg)
{
    struct err e = {0};

    c->cfg = *cfg;
    if (cluster_config_tz_rule(cfg->timezone, c->tz, sizeof(c->tz), &e) != 0) {
        LOG(LOG_WARN, "cluster", "cluster=%s event=timezone_unknown msg=\"%s\" using=UTC0",
            cfg->name, e.msg);
        snprintf(c->tz, sizeof(c->tz), "%s", "UTC0");
    }
    snprintf(c->st.name, sizeof(c->st.name), "%s", cfg->name);
    snprintf(c->st.api_server, sizeof(c->st.api_server), "%s", cfg->api_server);
    c->st.lost_timeout_s = cfg->lost_timeout_s;
    configure_easy(c);
}

static struct pc *pc_new(struct poller *p, const struct cluster_config *cfg)
{
    struct pc *c = xcalloc(1, sizeof(*c));

    c->p = p;
    c->easy = curl_easy_init();
    if (!c->easy) {
        fprintf(stderr, "fedsched: curl_easy_init failed\n");
        abort(); /* only on out-of-memory, which we treat like xmalloc does */
    }
    buf_init(&c->body, p->o.max_body_bytes);
    inventory_init(&c->work);
    inventory_init(&c->good);
    inventory_use_parser(&c->work, &p->json);
    inventory_use_parser(&c->good, &p->json);
    c->st.health = SNAPSHOT_HEALTH_UNKNOWN;
    apply_config(c, cfg);
    return c;
}

static void pc_free(struct poller *p, struct pc *c)
{
    if (c->inflight) {
        curl_multi_remove_handle(p->multi, c->easy);
        p->inflight--;
    }
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    cluster_token_clear(&c->token);
    cluster_ca_clear(&c->ca);
    buf_free(&c->body);
    inventory_free(&c->work);
    inventory_free(&c->good);
    free(c);
}

/* ---- one poll: requests and their outcomes -------------------------------------------------- */

static int64_t jitter_backoff(struct poller *p, int failures)
{
    int64_t d = p->o.backoff_base_ms;

    for (int i = 1; i < failures && d < p->o.backoff_max_ms; i++)
        d *= 2;
    if (d > p->o.backoff_max_ms)
        d = p->o.backoff_max_ms;
    /* "Equal jitter": half fixed, half random, so clusters that failed together do not
     * come back in lockstep. */
    return d / 2 + (int64_t)(rand_r(&p->rnd) % (unsigned)(d / 2 + 1));
}

static void mark_dirty(struct poller *p)
{
    if (!p->dirty) {
        p->dirty = true;
        p->dirty_since = clock_mono_ms();
    }
}

/* Between polls a cluster keeps no response buffer beyond a small one: 1,000 idle
 * clusters would otherwise hold 1,000 list bodies. */
static void release_body(struct pc *c)
{
    if (c->body.cap > 65536)
        buf_free(&c->body);
}

static void poll_failed(struct pc *c, enum cluster_error_kind kind, enum err_code code,
                        int retry_after_s, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void poll_failed(struct pc *c, enum cluster_error_kind kind, enum err_code code,
                        int retry_after_s, const char *fmt, ...)
{
    struct poller *p = c->p;
    int64_t now = clock_mono_ms(), real = clock_realtime_ms(), delay;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->st.last_error, sizeof(c->st.last_error), fmt, ap);
    va_end(ap);
    c->st.last_error_code = code;
    c->st.errors_total++;
    c->st.errors_by_kind[kind]++;
    c->st.consecutive_failures++;
    c->st.polls_total++;
    c->st.poll_duration_ms = now - c->started_mono;
    delay = jitter_backoff(p, c->st.consecutive_failures);
    if (retry_after_s > 0 && retry_after_s * 1000LL > delay)
        delay = retry_after_s * 1000LL;
    c->due_mono = now + delay;
    c->st.next_attempt_ms = real + delay;
    if (kind == CLUSTER_ERR_UNAUTHORIZED)
        c->st.health = SNAPSHOT_HEALTH_UNAUTHORIZED;
    else if (c->have_good && real - c->st.last_success_ms < p->o.unreachable_after_ms)
        c->st.health = SNAPSHOT_HEALTH_DEGRADED;
    else
        c->st.health = SNAPSHOT_HEALTH_UNREACHABLE;
    c->stage = STAGE_IDLE;
    release_body(c);
    LOG(LOG_WARN, "cluster",
        "cluster=%s event=poll_failed kind=%s health=%s retry_in_ms=%lld "
        "error=\"%s\"",
        c->cfg.name, cluster_error_kind_name(kind), snapshot_health_name(c->st.health),
        (long long)delay, c->st.last_error);
    mark_dirty(p);
}

static void poll_succeeded(struct pc *c)
{
    struct poller *p = c->p;
    struct inventory tmp;
    int64_t now = clock_mono_ms();

    inventory_finish(&c->work);
    tmp = c->good;
    c->good = c->work;
    c->work = tmp;
    c->have_good = true;
    c->st.polls_total++;
    c->st.consecutive_failures = 0;
    c->st.last_error[0] = '\0';
    c->st.last_error_code = ERR_NONE;
    c->st.last_success_ms = clock_realtime_ms();
    c->st.poll_duration_ms = now - c->started_mono;
    c->st.health = SNAPSHOT_HEALTH_READY;
    /* Keep the cadence from the start of this poll, not its end. */
    c->due_mono = c->started_mono + p->o.interval_ms;
    if (c->due_mono < now)
        c->due_mono = now;
    c->st.next_attempt_ms = c->st.last_success_ms + (c->due_mono - now);
    c->stage = STAGE_IDLE;
    release_body(c);
    mark_dirty(p);
}

static void issue(struct pc *c)
{
    struct poller *p = c->p;
    char *esc = NULL;

    if (c->cont[0])
        esc = curl_easy_escape(c->easy, c->cont, 0);
    if (c->stage == STAGE_NODES)
        snprintf(c->url, sizeof(c->url), "%s/api/v1/nodes?limit=%d%s%s", c->cfg.api_server,
                 p->o.page_limit, esc ? "&continue=" : "", esc ? esc : "");
    else
        snprintf(c->url, sizeof(c->url), "%s/api/v1/pods?fieldSelector=%s&limit=%d%s%s",
                 c->cfg.api_server, K8S_POD_FIELD_SELECTOR, p->o.page_limit,
                 esc ? "&continue=" : "", esc ? esc : "");
    curl_free(esc);
    buf_reset(&c->body);
    c->retry_after_s = 0;
    curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
    if (p->inflight == 0)
        p->wave_start = clock_mono_ms();
    curl_multi_add_handle(p->multi, c->easy);
    c->inflight = true;
    p->inflight++;
}

static void start_poll(struct pc *c)
{
    struct err e = {0};

    c->started_mono = clock_mono_ms();
    c->st.last_attempt_ms = clock_realtime_ms();
    c->stage = STAGE_NODES;
    c->cont[0] = '\0';
    c->restarts = 0;
    inventory_reset(&c->work);
    if (refresh_token(c, &e) != 0) {
        poll_failed(c, CLUSTER_ERR_UNAUTHORIZED, e.code, 0, "%s", e.msg);
        return;
    }
    if (refresh_ca(c, &e) != 0) {
        poll_failed(c, CLUSTER_ERR_OTHER, e.code, 0, "%s", e.msg);
        return;
    }
    issue(c);
}

static enum cluster_error_kind curl_kind(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return CLUSTER_ERR_TIMEOUT;
    case CURLE_WRITE_ERROR: return CLUSTER_ERR_OTHER;
    default: return CLUSTER_ERR_CONNECT;
    }
}

/* A transfer of cluster c ended. */
static void transfer_done(struct pc *c, CURLcode rc)
{
    struct poller *p = c->p;
    const char *what = c->stage == STAGE_NODES ? "nodes" : "pods";
    long code = 0;
    struct err e = {0};
    int parsed;

    curl_multi_remove_handle(p->multi, c->easy);
    c->inflight = false;
    p->inflight--;
    if (rc != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR)
            return poll_failed(c, CLUSTER_ERR_OTHER, ERR_TOO_LARGE, 0,
                               "GET %s: response over %zu bytes", what, p->o.max_body_bytes);
        return poll_failed(c, curl_kind(rc),
                           rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE, 0,
                           "GET %s: %s", what, curl_easy_strerror(rc));
    }
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        struct k8s_status st;

        k8s_status_read(c->body.data, c->body.len, (int)code, &st);
        if (code == 410 && c->cont[0]) {
            /* The continue token expired: the list starts again from the beginning. */
            c->st.errors_by_kind[CLUSTER_ERR_EXPIRED]++;
            if (++c->restarts > RESTARTS_MAX)
                return poll_failed(c, CLUSTER_ERR_EXPIRED, ERR_CONFLICT, 0,
                                   "GET %s: continue token expired %d times in a row", what,
                                   c->restarts);
            LOG(LOG_INFO, "cluster", "cluster=%s event=list_restart list=%s reason=Expired",
                c->cfg.name, what);
            c->cont[0] = '\0';
            if (c->stage == STAGE_NODES)
                inventory_reset(&c->work);
            else
                inventory_reset_pods(&c->work);
            return issue(c);
        }
        if (code == 401 || code == 403)
            return poll_failed(c, CLUSTER_ERR_UNAUTHORIZED, k8s_status_code(&st), 0,
                               "GET %s: HTTP %ld %s: %s", what, code, st.reason, st.message);
        if (code == 429)
            return poll_failed(c, CLUSTER_ERR_RATE_LIMITED, ERR_RATE_LIMITED, c->retry_after_s,
                               "GET %s: HTTP 429 %s: %s", what, st.reason, st.message);
        return poll_failed(c, code >= 500 ? CLUSTER_ERR_HTTP_5XX : CLUSTER_ERR_OTHER,
                           k8s_status_code(&st), c->retry_after_s, "GET %s: HTTP %ld %s: %s", what,
                           code, st.reason, st.message);
    }
    if (c->stage == STAGE_NODES)
        parsed = inventory_add_nodes(&c->work, c->body.data ? c->body.data : "", c->body.len,
                                     &c->cfg, p->o.skus, c->cont, sizeof(c->cont), &e);
    else
        parsed = inventory_add_pods(&c->work, c->body.data ? c->body.data : "", c->body.len,
                                    &c->cfg, p->o.skus, c->cont, sizeof(c->cont), &e);
    if (parsed != 0)
        return poll_failed(c, CLUSTER_ERR_MALFORMED, e.code, 0, "GET %s: %s", what, e.msg);
    if (c->cont[0])
        return issue(c);
    if (c->stage == STAGE_NODES) {
        c->stage = STAGE_PODS;
        c->restarts = 0;
        return issue(c);
    }
    poll_succeeded(c);
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

    pthread_mutex_lock(&p->pq_lock);
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
    pthread_cond_signal(&p->pq_cond);
    pthread_mutex_unlock(&p->pq_lock);
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
    pthread_mutex_unlock(&p->pq_lock);
    prereq_check(cfg, &po, prev, clock_realtime_ms(), &res);
    pthread_mutex_lock(&p->pq_lock);
    /* The table may have been replaced meanwhile; a changed config is checked again. */
    slot = pq_find(p->pq, p->n_pq, cfg->name);
    if (slot && memcmp(&slot->cfg, cfg, sizeof(*cfg)) == 0) {
        slot->res = res;
        slot->due_mono = clock_mono_ms() + p->o.prereq_interval_ms;
        LOG(LOG_INFO, "cluster", "cluster=%s event=prerequisites_checked", cfg->name);
    }
    if (slot)
        slot->busy = false;
    p->pq_changed = true;
    free(cfg);
    free(prev);
    return true;
}

static void *pq_main(void *arg)
{
    struct poller *p = arg;

    pthread_mutex_lock(&p->pq_lock);
    while (!p->pq_stop) {
        int64_t wait_ms;
        struct timespec ts;

        if (pq_check_one(p, &wait_ms)) {
            curl_multi_wakeup(p->multi); /* the poller thread publishes the result */
            continue;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait_ms / 1000;
        ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->pq_cond, &p->pq_lock, &ts);
    }
    pthread_mutex_unlock(&p->pq_lock);
    return NULL;
}

/* Runs every due check on the calling thread (poller_poll_once). */
static void pq_run_due(struct poller *p)
{
    int64_t wait_ms;

    pthread_mutex_lock(&p->pq_lock);
    while (pq_check_one(p, &wait_ms))
        ;
    pthread_mutex_unlock(&p->pq_lock);
}

static bool pq_take_change(struct poller *p)
{
    bool changed;

    pthread_mutex_lock(&p->pq_lock);
    changed = p->pq_changed;
    p->pq_changed = false;
    pthread_mutex_unlock(&p->pq_lock);
    return changed;
}

/* Results into the snapshot being built: the conditions for the API, their states for
 * the policy. With checks off the policy's copy stays NOT_CHECKED. */
static void copy_prereqs(struct poller *p, struct cluster_snapshot *cs)
{
    pthread_mutex_lock(&p->pq_lock);
    for (size_t i = 0; i < p->n; i++) {
        const struct pq_slot *slot = pq_find(p->pq, p->n_pq, p->pcs[i]->cfg.name);

        if (slot)
            cs->status[i].prereq = slot->res;
        else
            prereq_init(&cs->status[i].prereq);
        if (pq_enabled(p))
            prereq_to_snapshot(&cs->status[i].prereq, &cs->snap->clusters[i]);
    }
    pthread_mutex_unlock(&p->pq_lock);
}

void poller_recheck(struct poller *p)
{
    int64_t now = clock_mono_ms();

    pthread_mutex_lock(&p->pq_lock);
    for (size_t i = 0; i < p->n_pq; i++)
        p->pq[i].due_mono = now;
    pthread_cond_signal(&p->pq_cond);
    pthread_mutex_unlock(&p->pq_lock);
}

/* ---- building a snapshot ---------------------------------------------------------------- */

static struct cluster_snapshot *build(struct poller *p)
{
    const struct sku_catalogue *cat = p->o.skus;
    struct cluster_snapshot *cs = xcalloc(1, sizeof(*cs));
    size_t total = 0, first = 0;
    int64_t now_ms = clock_realtime_ms();

    for (size_t i = 0; i < p->n; i++)
        total += p->pcs[i]->have_good ? p->pcs[i]->good.n_nodes : 0;
    if (snapshot_new(p->n, total, cat->n < SNAPSHOT_SKU_MAX ? cat->n : SNAPSHOT_SKU_MAX, &cs->snap,
                     NULL) != 0)
        abort(); /* n_skus is bounded above, so this cannot fail */
    cs->status = xcalloc(p->n + 1, sizeof(*cs->status));
    for (size_t k = 0; k < cs->snap->n_skus; k++)
        snprintf(cs->snap->sku_names[k], sizeof(cs->snap->sku_names[k]), "%s", cat->skus[k].name);
    for (size_t i = 0; i < p->n; i++) {
        struct pc *c = p->pcs[i];
        struct snapshot_cluster *sc = &cs->snap->clusters[i];
        const struct cluster_serving_config *sv = &c->cfg.serving;

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
        if (c->have_good) {
            inventory_copy(&c->good, sv->enabled ? sv->reserve_gpus : 0, cs->snap, i, first);
            first += c->good.n_nodes;
        }
        cs->status[i] = c->st;
        if (c->have_good) {
            cs->status[i].stats = c->good.stats;
            memcpy(cs->status[i].unknown, c->good.unknown, sizeof(c->good.unknown));
            cs->status[i].n_unknown = c->good.n_unknown;
            snprintf(cs->status[i].item_error, sizeof(cs->status[i].item_error), "%s",
                     c->good.last_item_error);
        }
    }
    copy_prereqs(p, cs);
    snapshot_compute_aggregates(cs->snap);
    /* Idle tracking across polls: no pending serving demand and free above the reserve. */
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

            pending += a->pending_serving;
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
    cs->round_ms = p->last_round_ms;
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
    p->dirty = false;
    /* Wait until no reader can still hold the old snapshot, then free it. Only the poller
     * thread waits here; readers are never blocked. */
    if (old) {
        synchronize_rcu();
        TSAN_ACQUIRE(&p->tsan_grace);
        cluster_snapshot_free(old);
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

/* Keep one idle connection per cluster: TLS handshakes cost more than the polls. */
static void set_max_connects(struct poller *p)
{
    curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS,
                      (long)(p->n + 16 < 100000 ? p->n + 16 : 100000));
}

/* Applies a cluster set handed over by poller_set_clusters(). */
static void apply_pending(struct poller *p)
{
    struct cluster_config *cfgs;
    size_t n;
    struct pc **next;
    int64_t now = clock_mono_ms();

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

    next = xcalloc(n + 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        int at = find_pc(p->pcs, p->n, cfgs[i].name);

        if (at < 0) {
            next[i] = pc_new(p, &cfgs[i]);
            next[i]->due_mono = now;
            LOG(LOG_INFO, "cluster", "cluster=%s event=added", cfgs[i].name);
            continue;
        }
        next[i] = p->pcs[at];
        p->pcs[at] = NULL;
        if (memcmp(&next[i]->cfg, &cfgs[i], sizeof(cfgs[i])) != 0) {
            if (next[i]->inflight) {
                curl_multi_remove_handle(p->multi, next[i]->easy);
                next[i]->inflight = false;
                next[i]->stage = STAGE_IDLE;
                p->inflight--;
            }
            apply_config(next[i], &cfgs[i]);
            next[i]->due_mono = now;
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
    set_max_connects(p);
    pq_sync(p);
    mark_dirty(p);
}

/* Starts polls that are due; returns the milliseconds until the next one is (capped). */
static int64_t start_due(struct poller *p, int64_t now, int64_t cap)
{
    int64_t wait = cap;

    for (size_t i = 0; i < p->n; i++) {
        struct pc *c = p->pcs[i];

        if (c->inflight || c->stage != STAGE_IDLE)
            continue;
        if (c->due_mono <= now && p->inflight < p->o.max_inflight)
            start_poll(c);
        else if (c->due_mono - now < wait)
            wait = c->due_mono > now ? c->due_mono - now : 0;
    }
    return wait;
}

static void drain(struct poller *p)
{
    CURLMsg *m;
    int left, running;

    curl_multi_perform(p->multi, &running);
    while ((m = curl_multi_info_read(p->multi, &left))) {
        struct pc *c = NULL;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        if (c) {
            transfer_done(c, m->data.result);
            if (p->inflight == 0 && p->wave_start)
                p->last_round_ms = clock_mono_ms() - p->wave_start;
        }
    }
}

static bool should_publish(struct poller *p, int64_t now)
{
    return p->dirty && (p->inflight == 0 || now - p->dirty_since >= p->o.publish_delay_ms);
}

static void *thread_main(void *arg)
{
    struct poller *p = arg;

    for (;;) {
        bool wake;
        int64_t now, wait;

        pthread_mutex_lock(&p->lock);
        if (p->stop) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        wake = p->wake;
        p->wake = false;
        pthread_mutex_unlock(&p->lock);
        apply_pending(p);
        now = clock_mono_ms();
        if (wake)
            for (size_t i = 0; i < p->n; i++)
                if (p->pcs[i]->st.consecutive_failures == 0)
                    p->pcs[i]->due_mono = now;
        wait = start_due(p, now, 1000);
        if (p->dirty) {
            int64_t until = p->dirty_since + p->o.publish_delay_ms - now;

            if (until < wait)
                wait = until > 0 ? until : 0;
        }
        curl_multi_poll(p->multi, NULL, 0, (int)wait, NULL);
        drain(p);
        if (pq_take_change(p))
            mark_dirty(p);
        if (should_publish(p, clock_mono_ms()))
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
    k8s_json_init(&p->json);
    p->rnd = (unsigned)clock_mono_ns();
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->pq_lock, NULL);
    pthread_cond_init(&p->pq_cond, NULL);
    p->multi = curl_multi_init();
    if (!p->multi) {
        free(p);
        return err_set(e, ERR_INTERNAL, NULL, "curl_multi_init failed");
    }
    p->pcs = xcalloc(n + 1, sizeof(*p->pcs));
    for (size_t i = 0; i < n; i++) {
        p->pcs[i] = pc_new(p, &cfgs[i]);
        p->pcs[i]->due_mono = 0;
    }
    p->n = n;
    set_max_connects(p);
    pq_sync(p);
    publish(p); /* readers always find a snapshot */
    *out = p;
    return 0;
}

static int pq_start(struct poller *p, struct err *e)
{
    int rc = 0;

    if (!pq_enabled(p))
        return 0;
    pthread_mutex_lock(&p->pq_lock);
    p->pq_stop = false;
    if (!p->pq_running && pthread_create(&p->pq_thread, NULL, pq_main, p) != 0)
        rc = err_set(e, ERR_INTERNAL, NULL, "cannot create the prerequisite check thread");
    else
        p->pq_running = true;
    pthread_mutex_unlock(&p->pq_lock);
    return rc;
}

static void pq_stop(struct poller *p)
{
    bool running;

    pthread_mutex_lock(&p->pq_lock);
    running = p->pq_running;
    p->pq_stop = true;
    pthread_cond_signal(&p->pq_cond);
    pthread_mutex_unlock(&p->pq_lock);
    if (!running)
        return;
    pthread_join(p->pq_thread, NULL);
    pthread_mutex_lock(&p->pq_lock);
    p->pq_running = false;
    pthread_mutex_unlock(&p->pq_lock);
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
    return pq_start(p, e);
}

void poller_stop(struct poller *p)
{
    pq_stop(p);
    pthread_mutex_lock(&p->lock);
    if (!p->running) {
        pthread_mutex_unlock(&p->lock);
        return;
    }
    p->stop = true;
    pthread_mutex_unlock(&p->lock);
    curl_multi_wakeup(p->multi);
    pthread_join(p->thread, NULL);
    pthread_mutex_lock(&p->lock);
    p->running = false;
    pthread_mutex_unlock(&p->lock);
}

int poller_poll_once(struct poller *p, struct err *e)
{
    int64_t now;
    bool running;

    pthread_mutex_lock(&p->lock);
    running = p->running;
    pthread_mutex_unlock(&p->lock);
    if (running)
        return err_set(e, ERR_INVALID, NULL, "poller_poll_once while the poller thread runs");
    apply_pending(p);
    if (pq_enabled(p))
        pq_run_due(p);
    now = clock_mono_ms();
    for (size_t i = 0; i < p->n; i++)
        if (p->pcs[i]->due_mono > now && p->pcs[i]->st.consecutive_failures == 0)
            p->pcs[i]->due_mono = now;
    start_due(p, now, 0);
    while (p->inflight > 0) {
        curl_multi_poll(p->multi, NULL, 0, 100, NULL);
        drain(p);
        start_due(p, now, 0); /* only those left waiting for a free slot */
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
    curl_multi_wakeup(p->multi);
    return 0;
}

void poller_wake(struct poller *p)
{
    pthread_mutex_lock(&p->lock);
    p->wake = true;
    pthread_mutex_unlock(&p->lock);
    curl_multi_wakeup(p->multi);
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
    curl_multi_cleanup(p->multi);
    k8s_json_free(&p->json);
    if (p->current) {
        struct cluster_snapshot *old = p->current;

        __atomic_store_n(&p->current, NULL, __ATOMIC_RELEASE);
        synchronize_rcu();
        TSAN_ACQUIRE(&p->tsan_grace);
        cluster_snapshot_free(old);
    }
    pthread_mutex_destroy(&p->lock);
    free(p->pq);
    pthread_mutex_destroy(&p->pq_lock);
    pthread_cond_destroy(&p->pq_cond);
    free(p);
    *pp = NULL;
}
