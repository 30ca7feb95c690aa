/* reflector.c -- LIST then WATCH of one resource of one member cluster, into a local store. */
#include "cluster/reflector.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/num.h"
#include "cluster/credentials.h"
#include "cluster/k8s.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define REFLECTOR_MAGIC 0x52464c54u /* "RFLT" */
#define CONT_MAX        4096
#define KEY_MAX         (64 + 1 + SNAPSHOT_NODE_NAME_MAX + 64)
#define ERROR_BODY_MAX  65536
#define LIST_RESTARTS   3
#define STEP_MAX_MS     60000
#define EVENT_TYPES     5

/* ---- the store: entries in a vector, found through an open-addressing index ------------- */

struct entry {
    char *key;
    uint32_t hash;
    void *item;
};

struct store {
    struct entry *v;
    size_t n, cap;
    uint32_t *slots; /* entry index + 1; 0: empty */
    size_t n_slots;  /* a power of two, at least twice n */
};

static uint32_t key_hash(const char *s)
{
    uint32_t h = 2166136261u; /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t store_slot(const struct store *s, const char *key, uint32_t h)
{
    size_t mask = s->n_slots - 1, i = h & mask;

    while (s->slots[i]) {
        const struct entry *e = &s->v[s->slots[i] - 1];

        if (e->hash == h && strcmp(e->key, key) == 0)
            break;
        i = (i + 1) & mask;
    }
    return i;
}

static void store_reindex(struct store *s, size_t n_slots)
{
    free(s->slots);
    s->n_slots = n_slots;
    s->slots = xcalloc(n_slots, sizeof(*s->slots));
    for (size_t k = 0; k < s->n; k++) {
        size_t mask = n_slots - 1, i = s->v[k].hash & mask;

        while (s->slots[i])
            i = (i + 1) & mask;
        s->slots[i] = (uint32_t)(k + 1);
    }
}

static struct entry *store_find(const struct store *s, const char *key)
{
    size_t i;

    if (!s->n_slots)
        return NULL;
    i = store_slot(s, key, key_hash(key));
    return s->slots[i] ? &s->v[s->slots[i] - 1] : NULL;
}

/* Puts item (item_size bytes, copied) under key; *old gets the replaced item's bytes when
 * there was one (returns true then). */
static bool store_put(struct store *s, const char *key, const void *item, size_t item_size,
                      void *old)
{
    uint32_t h = key_hash(key);
    size_t i;
    struct entry *e;

    if ((s->n + 1) * 2 > s->n_slots)
        store_reindex(s, s->n_slots ? s->n_slots * 2 : 64);
    i = store_slot(s, key, h);
    if (s->slots[i]) {
        e = &s->v[s->slots[i] - 1];
        memcpy(old, e->item, item_size);
        memcpy(e->item, item, item_size);
        return true;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
    }
    e = &s->v[s->n];
    e->key = xstrdup(key);
    e->hash = h;
    e->item = xmalloc(item_size);
    memcpy(e->item, item, item_size);
    s->slots[i] = (uint32_t)++s->n;
    return false;
}

/* Removes key; *old gets its item's bytes (returns true) when it was there. Backward-shift
 * deletion keeps probe chains whole without tombstones; the last entry moves into the
 * freed place in the vector. */
static bool store_del(struct store *s, const char *key, void *old, size_t item_size)
{
    size_t mask, i, j, at;

    if (!s->n_slots)
        return false;
    mask = s->n_slots - 1;
    i = store_slot(s, key, key_hash(key));
    if (!s->slots[i])
        return false;
    at = s->slots[i] - 1;
    memcpy(old, s->v[at].item, item_size);
    free(s->v[at].key);
    free(s->v[at].item);
    s->slots[i] = 0;
    for (j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        size_t home = s->v[s->slots[j] - 1].hash & mask;

        /* The entry at j may move to the hole at i when its home is not in (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            s->slots[i] = s->slots[j];
            s->slots[j] = 0;
            i = j;
        }
    }
    if (at != s->n - 1) {
        struct entry *last = &s->v[s->n - 1];

        j = store_slot(s, last->key, last->hash);
        s->slots[j] = (uint32_t)(at + 1);
        s->v[at] = *last;
    }
    s->n--;
    return true;
}

static void store_clear(struct store *s, reflector_release_fn release, void *arg)
{
    for (size_t k = 0; k < s->n; k++) {
        if (release)
            release(s->v[k].item, arg);
        free(s->v[k].item);
        free(s->v[k].key);
    }
    free(s->v);
    free(s->slots);
    memset(s, 0, sizeof(*s));
}

/* ---- the reflector ---------------------------------------------------------------------- */

enum stop_why {
    STOP_NONE = 0,
    STOP_EXPIRED,  /* an ERROR event with a 410: list again */
    STOP_BROKEN,   /* an event we could not read: list again */
    STOP_ERROR,    /* another ERROR event: watch again after a backoff */
    STOP_OVERFLOW, /* a line or a body over its cap */
};

struct reflector {
    uint32_t magic;
    struct cluster_config cfg;
    struct reflector_options o;
    char *path, *label_selector, *field_selector;
    CURL *easy;
    struct curl_slist *headers;
    struct cluster_token token;
    struct cluster_ca ca;
    bool in_multi;
    enum reflector_state state;
    int64_t due_mono;
    unsigned rnd;

    pthread_mutex_t lock; /* live, synced, gen and st */
    struct store live;
    bool synced;
    uint64_t gen;
    uint64_t stats_gen; /* grows with every change under lock; read without it too */
    struct reflector_stats st;

    struct store next; /* the list in progress */
    char cont[CONT_MAX];
    int list_restarts;
    bool relisting; /* the list in progress replaces a synced store */

    struct buf body; /* a list page, the partial event line of a watch, or an error body */
    long http_code;
    int retry_after_s;
    enum stop_why stop;
    char stop_msg[200];
    bool progress;          /* the watch in progress applied an event or a bookmark */
    bool need_list;         /* the next request lists (first, after a 410, a broken event) */
    bool listed_once;       /* a list was begun before: the next is a re-list */
    bool after_list;        /* the next watch starts from a list, not again from an event */
    bool watch_from_list;   /* the watch in progress started from a list */
    int64_t last_byte_mono; /* of the watch in progress */
    int64_t watch_started_mono;
    int quick_failures;        /* watches in a row that ended without an event: failed, or ended at
                           once (a server ending every watch as it starts must not make us
                           ask again and again without a pause) */
    int64_t list_started_mono; /* of the list in progress (its first page) */
    struct k8s_json json;
    void *scratch, *old; /* item_size each */
    char url[CLUSTER_PATH_MAX + CONT_MAX * 3 + 1024];
};

static void set_common(struct reflector *r);

bool reflector_is(const void *p)
{
    return p && ((const struct reflector *)p)->magic == REFLECTOR_MAGIC;
}

bool reflector_wants_list(const struct reflector *r)
{
    return r->need_list && !r->in_multi;
}

bool reflector_listing(const struct reflector *r)
{
    return r->in_multi && r->state == REFLECTOR_LISTING;
}

int64_t reflector_retry_until_ms(const struct reflector *r)
{
    /* st is written only by this thread, under the lock for other readers. */
    return r->st.retry_after_s > 0 && r->st.consecutive_failures > 0 ? r->st.next_request_ms : 0;
}

const char *reflector_path(const struct reflector *r)
{
    return r->path;
}

static int check_options(const struct reflector_options *o, struct err *e)
{
    const struct {
        const char *name;
        long long v;
    } nums[] = {
        {"page_limit", o->page_limit},
        {"request_timeout_ms", o->request_timeout_ms},
        {"connect_timeout_ms", o->connect_timeout_ms},
        {"watch_timeout_s", o->watch_timeout_s},
        {"watch_idle_ms", o->watch_idle_ms},
        {"backoff_base_ms", o->backoff_base_ms},
        {"backoff_max_ms", o->backoff_max_ms},
        {"max_list_bytes", (long long)o->max_list_bytes},
        {"max_event_bytes", (long long)o->max_event_bytes},
        {"item_size", (long long)o->item_size},
    };

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
        if (nums[i].v <= 0)
            return err_set(e, ERR_INVALID, nums[i].name, "reflector %s must be > 0, not %lld",
                           nums[i].name, nums[i].v);
    if (!o->path || o->path[0] != '/')
        return err_set(e, ERR_INVALID, "path", "reflector path must start with '/', not \"%s\"",
                       o->path ? o->path : "");
    if (!o->decode)
        return err_set(e, ERR_INVALID, "decode", "a reflector needs a decode callback");
    return 0;
}

int reflector_new(const struct cluster_config *cfg, const struct reflector_options *o,
                  struct reflector **out, struct err *e)
{
    struct reflector *r;

    if (check_options(o, e))
        return -1;
    r = xcalloc(1, sizeof(*r));
    r->magic = REFLECTOR_MAGIC;
    r->cfg = *cfg;
    r->o = *o;
    r->path = xstrdup(o->path);
    r->label_selector = o->label_selector ? xstrdup(o->label_selector) : NULL;
    r->field_selector = o->field_selector ? xstrdup(o->field_selector) : NULL;
    r->o.path = r->path;
    r->o.label_selector = r->label_selector;
    r->o.field_selector = r->field_selector;
    r->easy = curl_easy_init();
    if (!r->easy) {
        fprintf(stderr, "fedsched: curl_easy_init failed\n");
        abort(); /* only on out-of-memory, which we treat like xmalloc does */
    }
    pthread_mutex_init(&r->lock, NULL);
    buf_init(&r->body, o->max_list_bytes);
    k8s_json_init(&r->json);
    r->scratch = xcalloc(1, o->item_size);
    r->old = xcalloc(1, o->item_size);
    r->rnd = (unsigned)clock_mono_ns() ^ key_hash(cfg->name) ^ key_hash(o->path);
    r->need_list = true;
    set_common(r);
    *out = r;
    return 0;
}

void reflector_free(struct reflector **rp, CURLM *multi)
{
    struct reflector *r;

    if (!rp || !*rp)
        return;
    r = *rp;
    if (r->in_multi)
        curl_multi_remove_handle(multi, r->easy);
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    cluster_token_clear(&r->token);
    cluster_ca_clear(&r->ca);
    store_clear(&r->live, r->o.release, r->o.arg);
    store_clear(&r->next, r->o.release, r->o.arg);
    buf_free(&r->body);
    k8s_json_free(&r->json);
    pthread_mutex_destroy(&r->lock);
    free(r->scratch);
    free(r->old);
    free(r->path);
    free(r->label_selector);
    free(r->field_selector);
    r->magic = 0;
    free(r);
    *rp = NULL;
}

/* ---- outcomes ----------------------------------------------------------------------------- */

/* Unlocks r->lock after a change to what it guards: readers of the stats see that they
 * moved (reflector_get_stats_changed). */
static void stats_unlock(struct reflector *r)
{
    __atomic_store_n(&r->stats_gen, r->stats_gen + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&r->lock);
}

static int64_t backoff_ms(struct reflector *r, int failures)
{
    int64_t d = r->o.backoff_base_ms;

    for (int i = 1; i < failures && d < r->o.backoff_max_ms; i++)
        d *= 2;
    if (d > r->o.backoff_max_ms)
        d = r->o.backoff_max_ms;
    /* Equal jitter: clusters that failed together do not come back in lockstep. */
    return d / 2 + (int64_t)(rand_r(&r->rnd) % (unsigned)(d / 2 + 1));
}

static void good_answer(struct reflector *r)
{
    pthread_mutex_lock(&r->lock);
    r->st.consecutive_failures = 0;
    r->st.last_ok_ms = clock_realtime_ms();
    r->st.last_error[0] = '\0';
    r->st.last_error_code = ERR_NONE;
    r->st.retry_after_s = 0;
    stats_unlock(r);
}

static void failed(struct reflector *r, enum cluster_error_kind kind, enum err_code code,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A request failed: counted, and the next one waits out a backoff (or the server's
 * Retry-After when longer). A list in progress is dropped; the store is kept. */
static void failed(struct reflector *r, enum cluster_error_kind kind, enum err_code code,
                   const char *fmt, ...)
{
    int64_t delay;
    va_list ap;

    pthread_mutex_lock(&r->lock);
    va_start(ap, fmt);
    vsnprintf(r->st.last_error, sizeof(r->st.last_error), fmt, ap);
    va_end(ap);
    r->st.last_error_code = code;
    r->st.last_error_kind = kind;
    r->st.errors_total++;
    r->st.errors_by_kind[kind]++;
    r->st.consecutive_failures++;
    r->st.retry_after_s = r->retry_after_s;
    /* A server that accepts watches and fails them at once resets consecutive_failures
     * with each 200: the backoff grows with the watches that got nowhere too. */
    delay =
        backoff_ms(r, r->st.consecutive_failures > r->quick_failures ? r->st.consecutive_failures
                                                                     : r->quick_failures);
    if (r->retry_after_s > 0 && r->retry_after_s * 1000LL > delay)
        delay = r->retry_after_s * 1000LL;
    r->st.next_request_ms = clock_realtime_ms() + delay;
    stats_unlock(r);
    r->due_mono = clock_mono_ms() + delay;
    LOG(LOG_WARN, "cluster",
        "cluster=%s resource=%s event=request_failed kind=%s retry_in_ms=%lld error=\"%s\"",
        r->cfg.name, r->path, cluster_error_kind_name(kind), (long long)delay, r->st.last_error);
}

/* need_list is read by other threads through reflector_get_stats() (stale). */
static void set_need_list(struct reflector *r, bool v)
{
    pthread_mutex_lock(&r->lock);
    r->need_list = v;
    stats_unlock(r);
}

static void changed(struct reflector *r)
{
    if (r->o.changed)
        r->o.changed(r, r->o.arg);
}

/* ---- requests ------------------------------------------------------------------------------ */

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    struct reflector *r = arg;
    size_t len = size * n;

    r->last_byte_mono = clock_mono_ms(); /* a watch's headers are a sign of life too */
    if (len <= 2 && r->state == REFLECTOR_WATCHING) {
        /* The end of the headers: a watch the server accepted is a good answer, even
         * before its first event. */
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http_code);
        if (r->http_code == 200)
            good_answer(r);
    }
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
            r->retry_after_s = (int)secs;
    }
    return len;
}

static size_t on_list_body(char *data, size_t size, size_t n, void *arg)
{
    struct reflector *r = arg;

    /* Returning less than given makes curl fail the transfer with CURLE_WRITE_ERROR. */
    return buf_append(&r->body, data, size * n) == 0 ? size * n : 0;
}

static int process_line(struct reflector *r, const char *line, size_t len);
static void watch_ended(struct reflector *r, CURLcode rc, bool stalled);

/* Watch bytes: complete lines are events, applied as they come; a partial one waits in
 * body for the rest. A non-200 answer is a Status, kept whole (bounded) for the end. */
static size_t on_watch_body(char *data, size_t size, size_t n, void *arg)
{
    struct reflector *r = arg;
    size_t len = size * n, at = 0;

    r->last_byte_mono = clock_mono_ms();
    if (!r->http_code)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http_code);
    if (r->http_code != 200)
        return r->body.len + len <= ERROR_BODY_MAX && buf_append(&r->body, data, len) == 0 ? len
                                                                                           : 0;
    while (at < len) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t take = nl ? (size_t)(nl - (data + at)) : len - at;

        if (buf_append(&r->body, data + at, take) != 0) {
            r->stop = STOP_OVERFLOW;
            snprintf(r->stop_msg, sizeof(r->stop_msg), "watch event over %zu bytes",
                     r->o.max_event_bytes);
            return 0;
        }
        at += take;
        if (!nl)
            break;
        at++; /* the newline */
        if (process_line(r, r->body.data, r->body.len) != 0)
            return 0;
        buf_reset(&r->body);
    }
    return len;
}

static void append_selectors(struct reflector *r, size_t *off)
{
    if (r->label_selector && *off < sizeof(r->url))
        *off += (size_t)snprintf(r->url + *off, sizeof(r->url) - *off, "&labelSelector=%s",
                                 r->label_selector);
    if (r->field_selector && *off < sizeof(r->url))
        *off += (size_t)snprintf(r->url + *off, sizeof(r->url) - *off, "&fieldSelector=%s",
                                 r->field_selector);
}

static void set_common(struct reflector *r)
{
    curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)r->o.connect_timeout_ms);
    curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
    /* Wait for a connection that can multiplex (HTTP/2) rather than open another. */
    curl_easy_setopt(r->easy, CURLOPT_PIPEWAIT, 1L);
    if (r->cfg.insecure_skip_tls_verify) {
        curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(r->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

/* Reads the token and CA files again when they changed (both are rotated in place). */
static int refresh_credentials(struct reflector *r, struct err *e)
{
    bool changed;

    if (cluster_token_refresh(&r->token, r->cfg.token_file, &changed, e))
        return -1;
    if (changed) {
        curl_slist_free_all(r->headers);
        r->headers = cluster_token_headers(&r->token);
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    }
    if (cluster_tls_refresh(&r->ca, &r->cfg, &changed, e))
        return -1;
    if (changed)
        cluster_ca_apply(&r->ca, r->easy);
    return 0;
}

static void start_list(struct reflector *r)
{
    char *esc = r->cont[0] ? curl_easy_escape(r->easy, r->cont, 0) : NULL;
    size_t off;

    if (!r->cont[0]) {
        store_clear(&r->next, r->o.release, r->o.arg);
        if (r->listed_once) {
            pthread_mutex_lock(&r->lock);
            r->st.relists++;
            stats_unlock(r);
        }
        r->listed_once = true;
        r->list_started_mono = clock_mono_ms();
    }
    off = (size_t)snprintf(r->url, sizeof(r->url), "%s%s?limit=%d%s%s", r->cfg.api_server, r->path,
                           r->o.page_limit, esc ? "&continue=" : "", esc ? esc : "");
    curl_free(esc);
    append_selectors(r, &off);
    r->state = REFLECTOR_LISTING;
    r->body.max = r->o.max_list_bytes;
    curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_list_body);
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)r->o.request_timeout_ms);
    pthread_mutex_lock(&r->lock);
    r->st.lists++;
    r->st.state = REFLECTOR_LISTING;
    r->st.last_request_ms = clock_realtime_ms();
    r->st.next_request_ms = 0;
    stats_unlock(r);
}

static void start_watch(struct reflector *r)
{
    int timeout_s =
        r->o.watch_timeout_s + (int)(rand_r(&r->rnd) % (unsigned)(r->o.watch_timeout_s + 1));
    char *rv;
    size_t off;

    pthread_mutex_lock(&r->lock);
    rv = curl_easy_escape(r->easy, r->st.resource_version, 0);
    r->st.watches++;
    if (!r->after_list)
        r->st.watch_restarts++;
    r->st.state = REFLECTOR_WATCHING;
    r->st.last_request_ms = clock_realtime_ms();
    r->st.next_request_ms = 0;
    stats_unlock(r);
    off = (size_t)snprintf(r->url, sizeof(r->url),
                           "%s%s?watch=true&allowWatchBookmarks=true&resourceVersion=%s"
                           "&timeoutSeconds=%d",
                           r->cfg.api_server, r->path, rv ? rv : "", timeout_s);
    curl_free(rv);
    append_selectors(r, &off);
    r->watch_from_list = r->after_list;
    r->after_list = false;
    r->state = REFLECTOR_WATCHING;
    r->body.max = r->o.max_event_bytes;
    r->progress = false;
    r->last_byte_mono = r->watch_started_mono = clock_mono_ms();
    curl_easy_setopt(r->easy, CURLOPT_URL, r->url);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_watch_body);
    /* The server ends the watch at timeoutSeconds; this bounds a server that does not. */
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS,
                     (long)timeout_s * 1000L + (long)r->o.request_timeout_ms);
}

int64_t reflector_step(struct reflector *r, CURLM *multi, int64_t now_mono)
{
    struct err e = {0};

    if (r->in_multi) {
        int64_t idle = now_mono - r->last_byte_mono;

        if (r->state != REFLECTOR_WATCHING)
            return -1;
        if (idle < r->o.watch_idle_ms)
            return r->o.watch_idle_ms - idle;
        /* A stalled stream: no event, no bookmark, not even the headers for too long. */
        curl_multi_remove_handle(multi, r->easy);
        r->in_multi = false;
        watch_ended(r, CURLE_OPERATION_TIMEDOUT, true);
    }
    if (now_mono < r->due_mono)
        return r->due_mono - now_mono < STEP_MAX_MS ? r->due_mono - now_mono : STEP_MAX_MS;
    if (refresh_credentials(r, &e) != 0) {
        failed(r, e.code == ERR_CONFIG ? CLUSTER_ERR_UNAUTHORIZED : CLUSTER_ERR_OTHER, e.code, "%s",
               e.msg);
        return r->due_mono - now_mono > 0 ? r->due_mono - now_mono : 0;
    }
    buf_reset(&r->body);
    r->http_code = 0;
    r->retry_after_s = 0;
    r->stop = STOP_NONE;
    r->stop_msg[0] = '\0';
    if (r->need_list)
        start_list(r);
    else
        start_watch(r);
    curl_multi_add_handle(multi, r->easy);
    r->in_multi = true;
    return -1;
}

/* ---- objects into the store ------------------------------------------------------------------ */

/* "namespace/name", or "name" for cluster-scoped objects, from the object at tok. */
static int object_key(const struct k8s_json *d, int tok, char *key, size_t size, char *rv,
                      size_t rv_size)
{
    int md = k8s_json_get(d, tok, "metadata");
    int name = k8s_json_get(d, md, "name"), ns = k8s_json_get(d, md, "namespace");
    char nsbuf[128] = "", namebuf[SNAPSHOT_NODE_NAME_MAX + 64];
    long l;

    rv[0] = '\0';
    k8s_json_str(d, k8s_json_get(d, md, "resourceVersion"), rv, rv_size);
    l = k8s_json_str(d, name, namebuf, sizeof(namebuf));
    if (l <= 0 || (size_t)l >= sizeof(namebuf))
        return -1;
    if (ns >= 0 && k8s_json_str(d, ns, nsbuf, sizeof(nsbuf)) >= (long)sizeof(nsbuf))
        return -1;
    snprintf(key, size, "%s%s%s", nsbuf, nsbuf[0] ? "/" : "", namebuf);
    return 0;
}

/* Decodes the object at tok into r->scratch; false when it is left out (counted). */
static bool decode(struct reflector *r, const struct k8s_json *d, int tok)
{
    struct err e = {0};

    memset(r->scratch, 0, r->o.item_size);
    if (r->o.decode(d, tok, r->scratch, r->o.arg, &e) == 0)
        return true;
    pthread_mutex_lock(&r->lock);
    r->st.bad_items++;
    stats_unlock(r);
    LOG(LOG_DEBUG, "cluster", "cluster=%s resource=%s event=bad_item msg=\"%s\"", r->cfg.name,
        r->path, e.msg);
    return false;
}

/* Puts the decoded scratch item under key into s (the lock held when s is the live
 * store); the item it replaces is released. */
static void put(struct reflector *r, struct store *s, const char *key)
{
    if (store_put(s, key, r->scratch, r->o.item_size, r->old) && r->o.release)
        r->o.release(r->old, r->o.arg);
}

static void del(struct reflector *r, struct store *s, const char *key)
{
    if (store_del(s, key, r->old, r->o.item_size) && r->o.release)
        r->o.release(r->old, r->o.arg);
}

static const char *const event_names[EVENT_TYPES] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK",
                                                     "ERROR"};

/* One watch event line. Returns -1 to end the watch (r->stop says why). */
static int process_line(struct reflector *r, const char *line, size_t len)
{
    struct k8s_json *d = &r->json;
    char key[KEY_MAX], rv[64];
    int type = -1, tt, obj;
    struct err e = {0};

    while (len && (line[len - 1] == '\r' || line[len - 1] == ' '))
        len--;
    if (!len)
        return 0;
    if (k8s_json_parse(d, line, len, K8S_JSON_MAX_DEPTH, &e) != 0)
        goto broken;
    tt = k8s_json_get(d, 0, "type");
    obj = k8s_json_get(d, 0, "object");
    for (int i = 0; i < EVENT_TYPES; i++)
        if (k8s_json_str_eq(d, tt, event_names[i]))
            type = i;
    if (type < 0 || k8s_json_type(d, obj) != K8S_JSON_OBJECT) {
        err_set(&e, ERR_MALFORMED, "type", "not a WatchEvent");
        goto broken;
    }
    pthread_mutex_lock(&r->lock);
    r->st.events[type]++;
    stats_unlock(r);
    if (type == 4) { /* ERROR: a Status */
        int64_t code = 0;
        char msg[160] = "";

        k8s_json_int(d, k8s_json_get(d, obj, "code"), 0, 999, &code);
        k8s_json_str(d, k8s_json_get(d, obj, "message"), msg, sizeof(msg));
        r->stop = code == 410 ? STOP_EXPIRED : STOP_ERROR;
        snprintf(r->stop_msg, sizeof(r->stop_msg), "watch ERROR event %lld: %s", (long long)code,
                 msg);
        return -1;
    }
    if (type == 3) { /* BOOKMARK: only a newer resourceVersion */
        int md = k8s_json_get(d, obj, "metadata");

        rv[0] = '\0';
        k8s_json_str(d, k8s_json_get(d, md, "resourceVersion"), rv, sizeof(rv));
    } else {
        if (object_key(d, obj, key, sizeof(key), rv, sizeof(rv)) != 0) {
            err_set(&e, ERR_MALFORMED, "metadata.name", "an object without a name");
            goto broken;
        }
        if (type != 2 && decode(r, d, obj)) {
            pthread_mutex_lock(&r->lock);
            put(r, &r->live, key);
        } else {
            /* DELETED, or an object we cannot read: either way not in the store. */
            pthread_mutex_lock(&r->lock);
            del(r, &r->live, key);
        }
        r->gen++;
        stats_unlock(r);
    }
    pthread_mutex_lock(&r->lock);
    if (rv[0])
        snprintf(r->st.resource_version, sizeof(r->st.resource_version), "%s", rv);
    if (type != 3)
        r->st.last_event_mono = clock_mono_ms();
    stats_unlock(r);
    good_answer(r);
    r->progress = true;
    if (type != 3)
        changed(r);
    return 0;
broken:
    pthread_mutex_lock(&r->lock);
    r->st.bad_events++;
    stats_unlock(r);
    r->stop = STOP_BROKEN;
    snprintf(r->stop_msg, sizeof(r->stop_msg), "watch event not readable: %s", e.msg);
    return -1;
}

/* ---- the end of a transfer ------------------------------------------------------------------ */

static enum cluster_error_kind curl_kind(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT: return CLUSTER_ERR_TIMEOUT;
    case CURLE_WRITE_ERROR: return CLUSTER_ERR_OTHER;
    default: return CLUSTER_ERR_CONNECT;
    }
}

/* A non-200 answer (its Status in body). */
static void http_failed(struct reflector *r, const char *what, long code)
{
    struct k8s_status st;

    k8s_status_read(r->body.data, r->body.len, (int)code, &st);
    if (code == 401 || code == 403) {
        /* The token may have been rotated since: read it again before the next try. */
        cluster_token_clear(&r->token);
        failed(r, CLUSTER_ERR_UNAUTHORIZED, k8s_status_code(&st), "%s: HTTP %ld %s: %s", what, code,
               st.reason, st.message);
    } else if (code == 429) {
        failed(r, CLUSTER_ERR_RATE_LIMITED, ERR_RATE_LIMITED, "%s: HTTP 429 %s: %s", what,
               st.reason, st.message);
    } else {
        failed(r, code >= 500 ? CLUSTER_ERR_HTTP_5XX : CLUSTER_ERR_OTHER, k8s_status_code(&st),
               "%s: HTTP %ld %s: %s", what, code, st.reason, st.message);
    }
}

/* An error recovered from at once (a 410 on a continue token, a watch dropped after its
 * events): counted, but no failure in a row and no backoff. */
static void count_error(struct reflector *r, enum cluster_error_kind kind)
{
    pthread_mutex_lock(&r->lock);
    r->st.errors_total++;
    r->st.errors_by_kind[kind]++;
    stats_unlock(r);
}
/* A LIST page came back 200: its items go into the store being built; the last page swaps
 * it in. */
static void list_page(struct reflector *r)
{
    struct k8s_json *d = &r->json;
    char key[KEY_MAX], rv[64], list_rv[64] = "";
    int items, md, item;
    struct err e = {0};
    struct store old;

    if (k8s_json_parse(d, r->body.data ? r->body.data : "", r->body.len, K8S_JSON_MAX_DEPTH, &e) !=
            0 ||
        k8s_json_type(d, (items = k8s_json_get(d, 0, "items"))) != K8S_JSON_ARRAY) {
        store_clear(&r->next, r->o.release, r->o.arg);
        r->cont[0] = '\0';
        failed(r, CLUSTER_ERR_MALFORMED, e.code ? e.code : ERR_MALFORMED, "LIST %s: %s", r->path,
               e.code ? e.msg : "the answer is not a list (no items)");
        return;
    }
    for (item = k8s_json_child(d, items); item >= 0; item = k8s_json_next(d, items, item)) {
        if (object_key(d, item, key, sizeof(key), rv, sizeof(rv)) != 0) {
            pthread_mutex_lock(&r->lock);
            r->st.bad_items++;
            stats_unlock(r);
            continue;
        }
        if (decode(r, d, item))
            put(r, &r->next, key);
    }
    md = k8s_json_get(d, 0, "metadata");
    r->cont[0] = '\0';
    if (k8s_json_str(d, k8s_json_get(d, md, "continue"), r->cont, sizeof(r->cont)) >=
        (long)sizeof(r->cont)) {
        store_clear(&r->next, r->o.release, r->o.arg);
        r->cont[0] = '\0';
        failed(r, CLUSTER_ERR_MALFORMED, ERR_MALFORMED, "LIST %s: continue token over %d bytes",
               r->path, CONT_MAX);
        return;
    }
    k8s_json_str(d, k8s_json_get(d, md, "resourceVersion"), list_rv, sizeof(list_rv));
    r->due_mono = 0;
    if (r->cont[0])
        return; /* a page is no good answer yet: the store is not consistent until the end */
    good_answer(r);
    /* The whole list: it replaces the store; the watch goes on from its resourceVersion. */
    pthread_mutex_lock(&r->lock);
    old = r->live;
    r->live = r->next;
    r->synced = true;
    r->st.synced = true;
    r->st.absent = false;
    r->st.list_ms = clock_mono_ms() - r->list_started_mono;
    r->gen++;
    snprintf(r->st.resource_version, sizeof(r->st.resource_version), "%s", list_rv);
    stats_unlock(r);
    memset(&r->next, 0, sizeof(r->next));
    store_clear(&old, r->o.release, r->o.arg);
    set_need_list(r, false);
    r->after_list = true;
    r->list_restarts = 0;
    changed(r);
}

/* 404 on a list: the cluster does not serve the resource (a CRD not installed). That is
 * an empty store, not a failure; it is asked again after absent_recheck_ms, should the CRD
 * be installed meanwhile. */
static void resource_absent(struct reflector *r)
{
    struct store old;

    store_clear(&r->next, r->o.release, r->o.arg);
    pthread_mutex_lock(&r->lock);
    old = r->live;
    memset(&r->live, 0, sizeof(r->live));
    r->synced = true;
    r->st.synced = true;
    r->st.absent = true;
    r->gen++;
    stats_unlock(r);
    store_clear(&old, r->o.release, r->o.arg);
    good_answer(r);
    r->due_mono = clock_mono_ms() +
                  (r->o.absent_recheck_ms > 0 ? r->o.absent_recheck_ms : r->o.backoff_max_ms);
    if (old.n)
        changed(r);
}

static void list_ended(struct reflector *r, CURLcode rc)
{
    if (rc != CURLE_OK) {
        store_clear(&r->next, r->o.release, r->o.arg);
        r->cont[0] = '\0';
        if (rc == CURLE_WRITE_ERROR)
            failed(r, CLUSTER_ERR_OTHER, ERR_TOO_LARGE, "LIST %s: page over %zu bytes", r->path,
                   r->o.max_list_bytes);
        else
            failed(r, curl_kind(rc), rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
                   "LIST %s: %s", r->path, curl_easy_strerror(rc));
        return;
    }
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http_code);
    if (r->http_code == 410 && r->cont[0]) {
        /* The continue token expired: the list starts again from the beginning. */
        count_error(r, CLUSTER_ERR_EXPIRED);
        store_clear(&r->next, r->o.release, r->o.arg);
        r->cont[0] = '\0';
        if (++r->list_restarts > LIST_RESTARTS) {
            r->list_restarts = 0;
            failed(r, CLUSTER_ERR_EXPIRED, ERR_CONFLICT,
                   "LIST %s: continue token expired %d times in a row", r->path, LIST_RESTARTS + 1);
            return;
        }
        LOG(LOG_INFO, "cluster", "cluster=%s resource=%s event=list_restart reason=Expired",
            r->cfg.name, r->path);
        r->due_mono = 0;
        return;
    }
    if (r->http_code == 404 && !r->cont[0]) {
        resource_absent(r);
        return;
    }
    if (r->http_code != 200) {
        store_clear(&r->next, r->o.release, r->o.arg);
        r->cont[0] = '\0';
        http_failed(r, "LIST", r->http_code);
        return;
    }
    list_page(r);
}

/* A watch ended: the server closed it at its timeout, the connection dropped or stalled,
 * or we ended it (an event said 410, or could not be read). */
static void watch_ended(struct reflector *r, CURLcode rc, bool stalled)
{
    bool progress = r->progress;

    if (rc == CURLE_OK && !r->http_code)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->http_code);
    if (rc == CURLE_OK && r->http_code == 200 && r->body.len && r->stop == STOP_NONE &&
        process_line(r, r->body.data, r->body.len) == 0)
        buf_reset(&r->body); /* a last event without its newline */
    r->due_mono = 0;
    if (progress)
        r->quick_failures = 0;
    else if (r->stop != STOP_NONE || rc != CURLE_OK || r->http_code != 200 ||
             clock_mono_ms() - r->watch_started_mono < 1000)
        r->quick_failures++;
    if (r->stop == STOP_EXPIRED || r->stop == STOP_BROKEN ||
        (rc == CURLE_OK && r->http_code == 410)) {
        enum cluster_error_kind kind =
            r->stop == STOP_BROKEN ? CLUSTER_ERR_MALFORMED : CLUSTER_ERR_EXPIRED;
        const char *why = r->stop_msg[0] ? r->stop_msg : "HTTP 410 Expired";

        set_need_list(r, true);
        LOG(LOG_INFO, "cluster", "cluster=%s resource=%s event=relist reason=\"%s\"", r->cfg.name,
            r->path, why);
        /* A watch that fails at once, straight after a list, would list again and again:
         * that backs off like any failure. */
        if (!progress && r->watch_from_list) {
            failed(r, kind, kind == CLUSTER_ERR_EXPIRED ? ERR_CONFLICT : ERR_MALFORMED,
                   "WATCH %s: %s", r->path, why);
        } else {
            count_error(r, kind);
        }
        return;
    }
    if (r->stop == STOP_OVERFLOW) {
        set_need_list(r, true); /* an event was lost */
        failed(r, CLUSTER_ERR_OTHER, ERR_TOO_LARGE, "WATCH %s: %s", r->path, r->stop_msg);
        return;
    }
    if (r->stop == STOP_ERROR) {
        failed(r, CLUSTER_ERR_OTHER, ERR_UNAVAILABLE, "WATCH %s: %s", r->path, r->stop_msg);
        return;
    }
    if (rc == CURLE_OK && r->http_code == 404) {
        set_need_list(r, true); /* the resource went away: the list says so */
        return;
    }
    if (rc == CURLE_OK && r->http_code != 200) {
        http_failed(r, "WATCH", r->http_code);
        return;
    }
    if (rc == CURLE_OK) {
        good_answer(r); /* the server ended it at timeoutSeconds */
        /* Ended at once, without an event (a server shutting down, or one that ends every
         * watch as it starts): not a failure, but no reason to ask again without a pause. */
        if (!progress && clock_mono_ms() - r->watch_started_mono < 1000)
            r->due_mono = clock_mono_ms() + backoff_ms(r, r->quick_failures);
        return;
    }
    /* Dropped or stalled. After events it is the ordinary end of a long connection (load
     * balancers cut them): watch again at once from where it stopped. */
    if (progress) {
        count_error(r, stalled ? CLUSTER_ERR_TIMEOUT : curl_kind(rc));
        return;
    }
    if (stalled)
        failed(r, CLUSTER_ERR_TIMEOUT, ERR_TIMEOUT,
               "WATCH %s: timed out, stalled: no byte for %d ms", r->path, r->o.watch_idle_ms);
    else
        failed(r, curl_kind(rc), rc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_UNAVAILABLE,
               "WATCH %s: %s", r->path, curl_easy_strerror(rc));
}

void reflector_done(struct reflector *r, CURLM *multi, CURLcode rc)
{
    enum reflector_state was = r->state;

    curl_multi_remove_handle(multi, r->easy);
    r->in_multi = false;
    r->state = REFLECTOR_IDLE;
    if (was == REFLECTOR_LISTING)
        list_ended(r, rc);
    else
        watch_ended(r, rc, false);
    pthread_mutex_lock(&r->lock);
    r->st.state = REFLECTOR_IDLE;
    stats_unlock(r);
    if (r->body.cap > 65536)
        buf_free(&r->body); /* an idle reflector keeps no large buffer */
}

void reflector_relist(struct reflector *r, CURLM *multi)
{
    if (r->in_multi) {
        curl_multi_remove_handle(multi, r->easy);
        r->in_multi = false;
    }
    store_clear(&r->next, r->o.release, r->o.arg);
    r->state = REFLECTOR_IDLE;
    r->cont[0] = '\0';
    set_need_list(r, true);
    r->due_mono = 0;
}

void reflector_set_config(struct reflector *r, const struct cluster_config *cfg, CURLM *multi)
{
    reflector_relist(r, multi);
    r->cfg = *cfg;
    curl_easy_reset(r->easy);
    set_common(r);
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    cluster_token_clear(&r->token); /* headers and CA are set again before the next request */
    cluster_ca_clear(&r->ca);
}

void reflector_defer(struct reflector *r, int64_t until_mono)
{
    if (r->due_mono < until_mono)
        r->due_mono = until_mono;
}

int64_t reflector_next_request_mono(const struct reflector *r)
{
    return r->in_multi ? -1 : r->due_mono;
}

int reflector_feed(struct reflector *r, bool list, const char *data, size_t len, size_t chunk)
{
    size_t at = 0;
    bool cut = false;

    if (r->in_multi)
        return -1;
    buf_reset(&r->body);
    r->http_code = 200;
    r->stop = STOP_NONE;
    r->stop_msg[0] = '\0';
    r->state = list ? REFLECTOR_LISTING : REFLECTOR_WATCHING;
    r->body.max = list ? r->o.max_list_bytes : r->o.max_event_bytes;
    r->progress = false;
    if (!list) {
        r->watch_from_list = r->after_list; /* as start_watch() */
        r->after_list = false;
    }
    r->last_byte_mono = r->watch_started_mono = clock_mono_ms();
    if (!chunk)
        chunk = len ? len : 1;
    while (at < len && !cut) {
        size_t n = len - at < chunk ? len - at : chunk;
        char *p = (char *)(uintptr_t)(data + at); /* the callbacks only read it */

        cut = (list ? on_list_body(p, 1, n, r) : on_watch_body(p, 1, n, r)) != n;
        at += n;
    }
    r->state = REFLECTOR_IDLE;
    if (!list)
        watch_ended(r, cut ? CURLE_WRITE_ERROR : CURLE_OK, false);
    else if (cut)
        list_ended(r, CURLE_WRITE_ERROR);
    else
        list_page(r);
    return 0;
}

/* ---- reading ---------------------------------------------------------------------------------- */

bool reflector_synced(struct reflector *r)
{
    bool v;

    pthread_mutex_lock(&r->lock);
    v = r->synced;
    pthread_mutex_unlock(&r->lock);
    return v;
}

size_t reflector_count(struct reflector *r)
{
    size_t n;

    pthread_mutex_lock(&r->lock);
    n = r->live.n;
    pthread_mutex_unlock(&r->lock);
    return n;
}

void reflector_foreach(struct reflector *r,
                       void (*fn)(const char *key, const void *item, void *arg), void *arg)
{
    pthread_mutex_lock(&r->lock);
    for (size_t k = 0; k < r->live.n; k++)
        fn(r->live.v[k].key, r->live.v[k].item, arg);
    pthread_mutex_unlock(&r->lock);
}

int reflector_get(struct reflector *r, const char *key, void *item)
{
    const struct entry *e;
    int rc = -1;

    pthread_mutex_lock(&r->lock);
    e = store_find(&r->live, key);
    if (e) {
        memcpy(item, e->item, r->o.item_size);
        rc = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return rc;
}

uint64_t reflector_generation(struct reflector *r)
{
    uint64_t g;

    pthread_mutex_lock(&r->lock);
    g = r->gen;
    pthread_mutex_unlock(&r->lock);
    return g;
}

/* Under r->lock. */
static void copy_stats(struct reflector *r, struct reflector_stats *out)
{
    *out = r->st;
    out->stale = !r->synced || r->need_list || r->st.consecutive_failures > 0 ||
                 r->st.state == REFLECTOR_LISTING;
}

bool reflector_get_stats_changed(struct reflector *r, uint64_t *seen, struct reflector_stats *out)
{
    if (__atomic_load_n(&r->stats_gen, __ATOMIC_ACQUIRE) == *seen)
        return false;
    pthread_mutex_lock(&r->lock);
    *seen = r->stats_gen;
    copy_stats(r, out);
    pthread_mutex_unlock(&r->lock);
    return true;
}

void reflector_get_stats(struct reflector *r, struct reflector_stats *out)
{
    pthread_mutex_lock(&r->lock);
    copy_stats(r, out);
    pthread_mutex_unlock(&r->lock);
}
