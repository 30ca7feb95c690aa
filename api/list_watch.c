/* list_watch.c -- the list watch: the changes of the jobs a list's filters select, as
 * Kubernetes watch events ({"type":"ADDED"|"MODIFIED"|"DELETED"|"BOOKMARK"|"ERROR",
 * "object":{...}}), one a line, read from the jobs table by resource version.
 *
 * Every job change takes the next value of one global sequence, so "what changed after
 * N" is a query (store_job_changes), and a watch needs no history of its own: it reads
 * on from the last version it sent whenever a job changes or is created. A job that
 * changed twice since then is sent once, in its latest state, which is all a watch
 * promises. Memory per watch is one batch of rendered events (OUT_CAP), read only when
 * the client has taken the previous one, so a slow client costs no more; one that stops
 * reading is closed by the server's idle timeout (http.requestTimeoutS).
 * Not responsible for suspending the connection between events (server.c). */
#include "api/list_watch.h"

#include "api/trainingjob.h"
#include "base/clock.h"
#include "base/job.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/watch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH          100           /* jobs read per query */
#define OUT_CAP        (64 * 1024)   /* rendering stops past this many bytes until they are sent */
#define SETTLE_POLL_MS 50            /* while writers are in flight, besides their NOTIFY */
#define NO_SERVER_MAX  (1024 * 1024) /* the body of a watch answered at once (api_handle) */

struct list_watch {
    struct api_stream st; /* first: the server holds the watch by it */
    struct api_wait *w;   /* the request's: stopping when the server drains */
    struct store *store;
    struct store_job_filter f; /* its strings owned below */
    char *ns, *sku, *cluster, *labels;
    char **namespaces;
    int64_t pos;                 /* the resource version read through */
    bool initial;                /* sending the current list as ADDED */
    bool bookmarks;              /* allowWatchBookmarks */
    bool read_all;               /* the last query found no more rows */
    uint64_t seq;                /* store_change_seq() before the last query */
    int64_t settled;             /* every change up to it has committed */
    struct store_settle pending; /* writers in flight when it was taken; settles when drained */
    bool has_pending;
    bool unsettled; /* changes may be in flight: read again soon */
    bool ending;    /* end once out is sent */
    int64_t deadline_ms, next_bookmark_ms;
    struct buf out;
    size_t off; /* of out already sent */
};

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void lw_free(struct api_stream *st)
{
    struct list_watch *lw = (struct list_watch *)st;

    if (!lw)
        return;
    for (size_t i = 0; i < lw->f.n_namespaces; i++)
        free(lw->namespaces[i]);
    free(lw->namespaces);
    free(lw->ns);
    free(lw->sku);
    free(lw->cluster);
    free(lw->labels);
    buf_free(&lw->out);
    free(lw);
}

static bool matches(const struct list_watch *lw, const struct job *j)
{
    if (lw->f.phase_mask && !(lw->f.phase_mask & (1u << j->phase)))
        return false;
    return !lw->f.cluster || (j->cluster && strcmp(j->cluster, lw->f.cluster) == 0);
}

static void put_event(struct buf *b, const char *type, const struct job *j)
{
    buf_printf(b, "{\"type\":\"%s\",\"object\":", type);
    trainingjob_render(j, b);
    buf_puts(b, "}\n");
}

static void put_bookmark(struct buf *b, int64_t rv, bool initial_end)
{
    buf_printf(b,
               "{\"type\":\"BOOKMARK\",\"object\":{\"apiVersion\":\"fedsched.io/v1\","
               "\"kind\":\"TrainingJob\",\"metadata\":{\"resourceVersion\":\"%" PRId64 "\"%s}}}\n",
               rv, initial_end ? ",\"annotations\":{\"k8s.io/initial-events-end\":\"true\"}" : "");
}

/* A Kubernetes Status in an ERROR event: what a watch sends instead of an HTTP status
 * once its 200 is out. */
static void put_status(struct buf *b, int code, const char *reason, const char *message)
{
    buf_puts(b, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\","
                "\"metadata\":{},\"status\":\"Failure\",\"message\":");
    buf_json_str(b, message);
    buf_puts(b, ",\"reason\":");
    buf_json_str(b, reason);
    buf_printf(b, ",\"code\":%d}}\n", code);
}

/* Reads the next batch of changes after pos into out as events. A job is ADDED while
 * the current list is sent, and later when it has not changed since its creation;
 * MODIFIED when it still matches the filters; DELETED when a change took it out of them
 * (phase or cluster), in its new state. */
static void read_changes(struct list_watch *lw)
{
    struct job **jobs = NULL;
    size_t n = 0, i;
    struct store_settle now;
    bool drained;
    struct err e = {0};

    lw->seq = store_change_seq(lw->store);
    /* Read only up to the settle point, so no change that commits later with a lower
     * version is skipped (store/watch.h); what lies above it is read once its writers
     * have committed, which their NOTIFY announces. */
    if (store_jobs_settle(lw->store, lw->has_pending ? &lw->pending : NULL, &now, &drained, &e)) {
        LOG(LOG_WARN, "api", "event=list_watch_read_failed msg=\"%s\"", e.msg);
        put_status(&lw->out, 500, "InternalError", e.msg);
        lw->ending = true;
        return;
    }
    if (lw->has_pending && drained && lw->pending.latest > lw->settled)
        lw->settled = lw->pending.latest;
    if (now.n == 0) {
        lw->has_pending = false;
        if (now.latest > lw->settled)
            lw->settled = now.latest;
    } else if (!lw->has_pending || drained) {
        lw->pending = now;
        lw->has_pending = true;
    }
    lw->unsettled = lw->has_pending;
    if (lw->settled > lw->pos &&
        store_job_changes(lw->store, &lw->f, lw->pos, lw->settled, BATCH, &jobs, &n, &e)) {
        LOG(LOG_WARN, "api", "event=list_watch_read_failed msg=\"%s\"", e.msg);
        put_status(&lw->out, 500, "InternalError", e.msg);
        lw->ending = true;
        return;
    }
    for (i = 0; i < n && lw->out.len < OUT_CAP; i++) {
        const struct job *j = jobs[i];
        bool fresh = j->created_ms == j->updated_ms;

        lw->pos = j->resource_version;
        if (matches(lw, j))
            put_event(&lw->out, lw->initial || fresh ? "ADDED" : "MODIFIED", j);
        else if (!lw->initial && !fresh)
            put_event(&lw->out, "DELETED", j);
    }
    lw->read_all = i == n && n < BATCH;
    if (lw->read_all && lw->settled > lw->pos)
        lw->pos = lw->settled; /* nothing the filters select is left up to it */
    if (lw->read_all && lw->initial && !lw->unsettled) {
        lw->initial = false;
        if (lw->bookmarks)
            put_bookmark(&lw->out, lw->pos, true);
    }
    store_jobs_free(&jobs, n);
}

static long lw_read(struct api_stream *st, char *out, size_t max, int64_t *wake_ms)
{
    struct list_watch *lw = (struct list_watch *)st;

    for (;;) {
        int64_t now;

        if (lw->off < lw->out.len) {
            size_t n = lw->out.len - lw->off;

            if (n > max)
                n = max;
            memcpy(out, lw->out.data + lw->off, n);
            lw->off += n;
            if (lw->off == lw->out.len) {
                buf_reset(&lw->out);
                lw->off = 0;
            }
            return (long)n;
        }
        now = clock_realtime_ms();
        if (lw->ending || lw->w->stopping || now >= lw->deadline_ms)
            return -1;
        /* Read again only when a job changed (or was created) since the last read, or
         * changes were in flight then. */
        if (!lw->read_all || lw->unsettled || store_change_seq(lw->store) != lw->seq) {
            read_changes(lw);
            if (lw->out.len)
                continue;
        }
        if (lw->bookmarks && now >= lw->next_bookmark_ms) {
            put_bookmark(&lw->out, lw->pos, false);
            lw->next_bookmark_ms = now + LIST_WATCH_BOOKMARK_MS;
            continue;
        }
        if (!lw->read_all)
            continue;
        /* Nothing more: wait for a change, the next bookmark or the end. Without bookmarks
         * it still wakes as often, which costs no query, so that the server can notice a
         * client gone away and give its slot back. */
        if (!lw->bookmarks && now >= lw->next_bookmark_ms)
            lw->next_bookmark_ms = now + LIST_WATCH_BOOKMARK_MS;
        *wake_ms = lw->next_bookmark_ms < lw->deadline_ms ? lw->next_bookmark_ms : lw->deadline_ms;
        if (lw->unsettled && now + SETTLE_POLL_MS < *wake_ms)
            *wake_ms = now + SETTLE_POLL_MS;
        return 0;
    }
}

/* Whether after_rv can be replayed: not newer than any version handed out, and not more
 * than LIST_WATCH_REPLAY_MAX changes behind. Fills *gone with the 410's message when not. */
static int check_replay(struct api *a, const struct store_job_filter *f, int64_t after_rv,
                        char *gone, size_t size, struct err *e)
{
    int64_t count, latest;

    gone[0] = '\0';
    if (store_job_changes_count(a->store, f, after_rv, LIST_WATCH_REPLAY_MAX + 1, &count, &latest,
                                e))
        return -1;
    if (after_rv > latest)
        snprintf(gone, size,
                 "resource version %" PRId64 " is newer than the latest (%" PRId64
                 "): the server's history was reset; list again",
                 after_rv, latest);
    else if (count > LIST_WATCH_REPLAY_MAX)
        snprintf(gone, size,
                 "too old resource version: %" PRId64 " (%" PRId64
                 "): more than %d changes since; list again",
                 after_rv, latest, LIST_WATCH_REPLAY_MAX);
    return 0;
}

static struct list_watch *lw_new(struct api *a, struct api_wait *w,
                                 const struct store_job_filter *f, const struct list_watch_opts *o)
{
    struct list_watch *lw = xcalloc(1, sizeof(*lw));
    int64_t now = clock_realtime_ms();

    lw->st.read = lw_read;
    lw->st.free = lw_free;
    lw->w = w;
    lw->store = a->store;
    lw->f = *f;
    lw->f.ns = lw->ns = dup_or_null(f->ns);
    lw->f.sku = lw->sku = dup_or_null(f->sku);
    lw->f.cluster = lw->cluster = dup_or_null(f->cluster);
    lw->f.labels_json = lw->labels = dup_or_null(f->labels_json);
    if (f->n_namespaces) {
        lw->namespaces = xcalloc(f->n_namespaces, sizeof(*lw->namespaces));
        for (size_t i = 0; i < f->n_namespaces; i++)
            lw->namespaces[i] = xstrdup(f->namespaces[i]);
        lw->f.namespaces = (const char *const *)lw->namespaces;
    }
    lw->initial = o->after_rv < 0;
    lw->pos = o->after_rv < 0 ? 0 : o->after_rv;
    lw->settled = lw->pos; /* the caller's version: what it already has is settled */
    lw->bookmarks = o->bookmarks;
    lw->deadline_ms = now + (int64_t)o->timeout_s * 1000;
    lw->next_bookmark_ms = now + LIST_WATCH_BOOKMARK_MS;
    buf_init(&lw->out, 0);
    return lw;
}

void list_watch_start(struct api *a, const struct api_request *req,
                      const struct store_job_filter *f, const struct list_watch_opts *o,
                      struct api_response *resp)
{
    struct api_wait none = {.active = false};
    struct api_wait *w = req->wait ? req->wait : &none;
    struct list_watch *lw;
    char gone[256];
    struct err e = {0};
    struct buf b;
    char chunk[16384];
    int64_t wake;
    long n;

    if (o->after_rv >= 0 && check_replay(a, f, o->after_rv, gone, sizeof(gone), &e)) {
        resp_error(resp, &e);
        return;
    }
    if (!(o->after_rv >= 0 && gone[0]) && req->wait && api_watch_acquire(a, req, req->wait, &e)) {
        resp_error(resp, &e);
        return;
    }
    lw = lw_new(a, w, f, o);
    if (o->after_rv >= 0 && gone[0]) { /* the stream is the one ERROR event */
        put_status(&lw->out, 410, "Expired", gone);
        lw->ending = true;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    if (req->wait) {
        resp->stream = &lw->st;
        return;
    }
    /* No server to hold the connection: the events there are now, as one body of at
     * most NO_SERVER_MAX bytes (and whole events). */
    buf_init(&b, 0);
    lw->bookmarks = false;
    lw->deadline_ms = INT64_MAX;
    while (b.len < NO_SERVER_MAX && (n = lw_read(&lw->st, chunk, sizeof(chunk), &wake)) > 0)
        buf_append(&b, chunk, (size_t)n);
    while (lw->off && (n = lw_read(&lw->st, chunk, sizeof(chunk), &wake)) > 0)
        buf_append(&b, chunk, (size_t)n);
    lw_free(&lw->st);
    resp->body = buf_steal(&b);
}
