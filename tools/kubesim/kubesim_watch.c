/* kubesim_watch.c -- watch streams of the simulated clusters over libmicrohttpd: a callback
 * response per watcher that suspends its connection while there is nothing to send. A
 * cluster that records a change resumes its suspended watchers at once (as the API server's
 * watch cache dispatches an event to its watchers); a timer thread lets simulated time act
 * on the watched clusters and resumes the streams whose bookmark or deadline is due. */
#include "tools/kubesim/kubesim_watch.h"
#include "tools/kubesim/kubesim_table.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/mem.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WATCH_CHUNK   ((size_t)64 << 10) /* bytes read from the history at a time */
#define TICK_MS       100
#define TIMEOUT_MIN_S 1800 /* the API server's default: a random 30 to 60 minutes */
#define PRE_DEADLINE_MS                                                                            \
    2000 /* the API server's last bookmark comes this long before the watch's deadline */

struct watcher {
    struct sim_watchers *ws;
    size_t cluster;
    struct sim_watch *w;
    struct MHD_Connection *conn;
    struct buf out; /* at most WATCH_CHUNK plus one event: filled only when empty */
    size_t off;
    int64_t deadline_ms, next_bookmark_ms; /* next_bookmark_ms: -1 when none is due */
    bool bookmarks, suspended, ended;
    int drop_after; /* > 0: close the connection abruptly after this many events */
    bool stall, garble;
    bool fault_cut, fault_end, fault_stall; /* a fault set on the cluster after the open */
    int lines;
    bool table; /* as=Table was asked for: events carry one-row Tables */
    struct sim_table_opts topts;
    char *path;
    struct watcher *next;
};

struct sim_watchers {
    struct sim_cluster **clusters;
    size_t n;
    const struct sim_clock *clock;
    int64_t bookmark_ms;
    int *open;     /* per cluster */
    uint64_t *gen; /* per cluster: changes recorded (a watcher that read before one reads
                      again instead of suspending) */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t timer;
    bool stopping;
    struct watcher *list;
    int suspended;
};

/* Under ws->lock. */
static void resume(struct watcher *w)
{
    w->suspended = false;
    w->ws->suspended--;
    MHD_resume_connection(w->conn);
}

/* The next bookmark as the API server's watch cache schedules it: every bookmark_ms, and one
 * PRE_DEADLINE_MS before the deadline; none once that moment is reached (strictly later
 * than now: one sent in the very millisecond of the pre-deadline moment would otherwise
 * be due again at once, and CI once saw 345 of them). */
static int64_t next_bookmark(const struct watcher *w, int64_t now)
{
    int64_t t = now + w->ws->bookmark_ms, pre = w->deadline_ms - PRE_DEADLINE_MS;

    if (pre < t)
        t = pre;
    return t <= now ? -1 : t;
}

static bool due(const struct watcher *w, int64_t now)
{
    return now >= w->deadline_ms ||
           (w->bookmarks && w->next_bookmark_ms >= 0 && now >= w->next_bookmark_ms);
}

/* Called by cluster i (holding its own lock) after it recorded changes. */
static void changed(void *arg, size_t i)
{
    struct sim_watchers *ws = arg;

    pthread_mutex_lock(&ws->lock);
    ws->gen[i]++;
    for (struct watcher *w = ws->list; w; w = w->next)
        if (w->suspended && w->cluster == i)
            resume(w);
    pthread_mutex_unlock(&ws->lock);
}

static void *timer_main(void *arg)
{
    struct sim_watchers *ws = arg;

    pthread_mutex_lock(&ws->lock);
    while (!ws->stopping) {
        struct timespec t;
        int64_t now;

        /* Simulated time acts on the watched clusters only (what it changes resumes their
         * watchers); then the streams with a bookmark or their end due. */
        for (size_t i = 0; i < ws->n; i++)
            if (ws->open[i]) {
                pthread_mutex_unlock(&ws->lock);
                sim_cluster_tick(ws->clusters[i]);
                pthread_mutex_lock(&ws->lock);
            }
        now = clock_mono_ms();
        for (struct watcher *w = ws->list; w; w = w->next)
            if (w->suspended && due(w, now))
                resume(w);
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_nsec += TICK_MS * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
            t.tv_sec++;
            t.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&ws->cond, &ws->lock, &t);
    }
    for (struct watcher *w = ws->list; w; w = w->next)
        if (w->suspended)
            resume(w);
    pthread_mutex_unlock(&ws->lock);
    return NULL;
}

void sim_watchers_fault(struct sim_watchers *ws, size_t i, const struct sim_faults *f)
{
    /* Only a lasting fault that GETs meet: a one-shot or occasional one (remaining,
     * probability) or one for another method leaves open streams alone. */
    if (f->remaining > 0 || (f->probability > 0 && f->probability < 1) ||
        (f->method[0] && strcmp(f->method, "GET") != 0))
        return;
    pthread_mutex_lock(&ws->lock);
    for (struct watcher *w = ws->list; w; w = w->next) {
        if (w->cluster != i)
            continue;
        if (f->drop)
            w->fault_cut = true;
        else if (f->latency_ms > 0)
            w->fault_stall = true;
        else if (f->status || f->unauthorized)
            w->fault_end = true;
        if (w->suspended)
            resume(w);
    }
    pthread_mutex_unlock(&ws->lock);
}

struct sim_watchers *sim_watchers_new(struct sim_cluster **clusters, size_t n,
                                      const struct sim_clock *clock, int64_t bookmark_ms)
{
    struct sim_watchers *ws = xcalloc(1, sizeof(*ws));

    ws->clusters = clusters;
    ws->n = n;
    ws->clock = clock;
    ws->bookmark_ms = bookmark_ms;
    ws->open = xcalloc(n + 1, sizeof(*ws->open));
    ws->gen = xcalloc(n + 1, sizeof(*ws->gen));
    pthread_mutex_init(&ws->lock, NULL);
    pthread_cond_init(&ws->cond, NULL);
    for (size_t i = 0; i < n; i++)
        sim_cluster_on_change(clusters[i], changed, ws, i);
    if (pthread_create(&ws->timer, NULL, timer_main, ws) != 0)
        abort(); /* as on out-of-memory: the simulator cannot run without it */
    return ws;
}

void sim_watchers_stop(struct sim_watchers *ws)
{
    if (!ws)
        return;
    pthread_mutex_lock(&ws->lock);
    ws->stopping = true;
    pthread_cond_signal(&ws->cond);
    pthread_mutex_unlock(&ws->lock);
    pthread_join(ws->timer, NULL);
    /* The streams end once resumed; wait (bounded) until none is left suspended, as
     * MHD_stop_daemon() requires. */
    for (int i = 0; i < 2000; i++) {
        int n;

        pthread_mutex_lock(&ws->lock);
        n = ws->suspended;
        pthread_mutex_unlock(&ws->lock);
        if (n <= 0)
            break;
        usleep(1000);
    }
}

void sim_watchers_free(struct sim_watchers **wsp)
{
    struct sim_watchers *ws;

    if (!wsp || !*wsp)
        return;
    ws = *wsp;
    pthread_mutex_destroy(&ws->lock);
    pthread_cond_destroy(&ws->cond);
    free(ws->open);
    free(ws->gen);
    free(ws);
    *wsp = NULL;
}

int sim_watchers_open(struct sim_watchers *ws, size_t i)
{
    int n;

    pthread_mutex_lock(&ws->lock);
    n = i < ws->n ? ws->open[i] : 0;
    pthread_mutex_unlock(&ws->lock);
    return n;
}

bool sim_watch_requested(struct MHD_Connection *conn)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "watch");

    return v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0);
}

/* ---- one stream ------------------------------------------------------------------------ */

/* Breaks the first line of out: the fault "one malformed event". */
static void garble_first(struct buf *b)
{
    char *nl = memchr(b->data, '\n', b->len);

    if (nl && nl - b->data > 8)
        memcpy(nl - 4, "\"\x01{", 3);
}

static int count_lines(const struct buf *b, size_t from)
{
    int n = 0;

    for (size_t i = from; i < b->len; i++)
        n += b->data[i] == '\n';
    return n;
}

/* Cuts out after the line that reaches the drop fault's count. */
static bool cut_for_drop(struct watcher *w)
{
    size_t i = 0;

    if (w->drop_after <= 0 || w->lines + count_lines(&w->out, 0) < w->drop_after)
        return false;
    for (int seen = w->lines; i < w->out.len; i++)
        if (w->out.data[i] == '\n' && ++seen == w->drop_after)
            break;
    w->out.len = i + 1 < w->out.len ? i + 1 : w->out.len;
    return true;
}

/* Rewrites the events in w->out with their objects as one-row Tables (kubesim_table.h). */
static void tabulate(struct watcher *w)
{
    struct buf t;
    size_t from = 0;

    buf_init(&t, 0);
    w->topts.now_ms = sim_clock_now(w->ws->clock);
    while (from < w->out.len) {
        char *nl = memchr(w->out.data + from, '\n', w->out.len - from);
        size_t n = (nl ? (size_t)(nl - w->out.data) : w->out.len) - from;
        json_t *ev = json_loadb(w->out.data + from, n, 0, NULL);

        if (ev) {
            char *line;

            sim_table_event(w->path, ev, &w->topts);
            line = json_dumps(ev, JSON_COMPACT);
            buf_puts(&t, line);
            buf_puts(&t, "\n");
            free(line);
            json_decref(ev);
        } else {
            buf_append(&t, w->out.data + from, n + (nl ? 1 : 0));
        }
        from += n + 1;
    }
    buf_free(&w->out);
    w->out = t;
}

/* Fills the empty buffer with what is due; sets ended when the stream is over. */
static void refill(struct watcher *w)
{
    struct sim_cluster *c = w->ws->clusters[w->cluster];
    int64_t now = clock_mono_ms();

    buf_reset(&w->out);
    w->off = 0;
    if (now >= w->deadline_ms) {
        w->ended = true;
        return;
    }
    if (w->stall)
        return;
    if (sim_cluster_watch_read(c, w->w, &w->out, WATCH_CHUNK) == 1)
        w->ended = true;
    if (w->out.len == 0 && w->bookmarks && w->next_bookmark_ms >= 0 && now >= w->next_bookmark_ms) {
        sim_cluster_watch_bookmark(c, w->w, &w->out);
        w->next_bookmark_ms = next_bookmark(w, now);
    }
    if (w->table && w->out.len)
        tabulate(w);
    if (w->garble && w->out.len) {
        garble_first(&w->out);
        w->garble = false;
    }
    if (cut_for_drop(w))
        w->drop_after = -1; /* the connection goes once this is sent */
    w->lines += count_lines(&w->out, 0);
}

static ssize_t reader(void *cls, uint64_t pos, char *to, size_t max)
{
    struct watcher *w = cls;
    struct sim_watchers *ws = w->ws;
    size_t n;

    (void)pos;
    while (w->off == w->out.len) {
        uint64_t gen;

        pthread_mutex_lock(&ws->lock);
        w->ended |= ws->stopping || w->fault_end;
        w->stall |= w->fault_stall;
        if (w->fault_cut)
            w->drop_after = -1;
        gen = ws->gen[w->cluster];
        pthread_mutex_unlock(&ws->lock);
        if (w->drop_after < 0)
            return MHD_CONTENT_READER_END_WITH_ERROR;
        if (w->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        refill(w);
        if (w->off < w->out.len)
            break;
        if (w->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&ws->lock);
        if (ws->stopping) {
            pthread_mutex_unlock(&ws->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (ws->gen[w->cluster] != gen) { /* a change came since the read: read again */
            pthread_mutex_unlock(&ws->lock);
            continue;
        }
        w->suspended = true;
        ws->suspended++;
        MHD_suspend_connection(w->conn);
        pthread_mutex_unlock(&ws->lock);
        return 0;
    }
    n = w->out.len - w->off < max ? w->out.len - w->off : max;
    memcpy(to, w->out.data + w->off, n);
    w->off += n;
    return (ssize_t)n;
}

static void release(void *cls)
{
    struct watcher *w = cls;
    struct sim_watchers *ws = w->ws;

    pthread_mutex_lock(&ws->lock);
    for (struct watcher **p = &ws->list; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    ws->open[w->cluster]--;
    if (w->suspended)
        ws->suspended--;
    pthread_mutex_unlock(&ws->lock);
    sim_cluster_watch_free(&w->w);
    buf_free(&w->out);
    free(w->path);
    free(w);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, struct sim_reply *rep)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(rep->len, rep->body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc;

    MHD_add_response_header(r, "Content-Type", "application/json");
    rc = MHD_queue_response(conn, (unsigned)rep->status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, int code, const char *reason,
                              const char *msg)
{
    json_t *st =
        json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:i}", "kind", "Status", "apiVersion", "v1",
                  "metadata", "status", "Failure", "message", msg, "reason", reason, "code", code);
    struct sim_reply rep = {.status = code};

    rep.body = json_dumps(st, JSON_COMPACT);
    rep.len = strlen(rep.body);
    json_decref(st);
    return send_json(conn, &rep);
}

/* timeoutSeconds: a positive integer, else the API server's random default. */
static int read_timeout(struct MHD_Connection *conn, int64_t *ms)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "timeoutSeconds");
    char *end;
    long t;

    if (!v || !*v) {
        *ms = ((int64_t)TIMEOUT_MIN_S + (int64_t)(clock_mono_ns() % TIMEOUT_MIN_S)) * 1000;
        return 0;
    }
    t = strtol(v, &end, 10);
    if (*end || t < 0 || t > 86400)
        return -1;
    *ms = t == 0 ? (int64_t)TIMEOUT_MIN_S * 1000 : (int64_t)t * 1000;
    return 0;
}

enum MHD_Result sim_watch_serve(struct sim_watchers *ws, size_t i, struct MHD_Connection *conn,
                                const char *path, const struct sim_query *q,
                                const struct sim_faults *f)
{
    const char *bm =
        MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "allowWatchBookmarks");
    struct sim_watch *sw = NULL;
    struct sim_reply rep;
    struct watcher *w;
    struct MHD_Response *r;
    enum MHD_Result rc;
    int64_t timeout_ms;
    bool full;

    const char *table =
        sim_table_wanted(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept"));
    enum sim_table_include include;

    if (read_timeout(conn, &timeout_ms) != 0)
        return refuse(conn, 400, "BadRequest",
                      "timeoutSeconds: Invalid value: must be an integer in 0..86400");
    const char *inc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "includeObject");

    if (table && sim_table_include_of(inc, &include) != 0) {
        char msg[160];

        snprintf(msg, sizeof(msg), "unrecognized includeObject value: \"%.100s\"", inc);
        return refuse(conn, 400, "BadRequest", msg);
    }
    pthread_mutex_lock(&ws->lock);
    full = ws->open[i] >= SIM_WATCHERS_MAX;
    if (!full)
        ws->open[i]++; /* held while the watch opens */
    pthread_mutex_unlock(&ws->lock);
    if (full)
        return refuse(conn, 429, "TooManyRequests", "too many watches of this cluster");
    if (sim_cluster_watch_open(ws->clusters[i], path, q, &sw, &rep) != 0) {
        pthread_mutex_lock(&ws->lock);
        ws->open[i]--;
        pthread_mutex_unlock(&ws->lock);
        return send_json(conn, &rep);
    }
    w = xcalloc(1, sizeof(*w));
    w->ws = ws;
    w->cluster = i;
    w->w = sw;
    w->conn = conn;
    buf_init(&w->out, 0);
    w->deadline_ms = clock_mono_ms() + timeout_ms;
    w->bookmarks = bm && (strcmp(bm, "true") == 0 || strcmp(bm, "1") == 0);
    w->next_bookmark_ms = next_bookmark(w, clock_mono_ms());
    if (table && sim_table_path(path)) {
        w->table = true;
        w->topts.version = table;
        w->topts.include = include;
        w->path = xstrdup(path);
    }
    if (f) {
        w->drop_after = f->watch_drop_after;
        w->stall = f->watch_stall;
        w->garble = f->watch_garble;
    }
    pthread_mutex_lock(&ws->lock);
    w->next = ws->list;
    ws->list = w;
    pthread_mutex_unlock(&ws->lock);
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 << 10, reader, w, release);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Cache-Control", "no-cache, private");
    rc = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return rc;
}
