/* watch.c -- change notifications for long-polls and list watches: one thread LISTENs on
 * a dedicated connection and calls the subscribers of the jobs a NOTIFY names (changes,
 * fedsched_changes) and the subscribers of any job (those and creations, fedsched_jobs). Subscribers are
 * callbacks, not blocked threads, so a waiting watch costs no thread (api/server.c
 * suspends its connection). A short history of recent notifications lets a subscriber
 * that read a job before subscribing learn that it changed in between.
 * Not responsible for what a subscriber does when called (it re-reads the job). */
#include "store/store.h"

#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Notifications remembered for store_job_subscribe's since_seq, and the ids kept per
 * notification; a longer payload is remembered as "any job". */
#define HISTORY     256
#define HISTORY_IDS 16

struct store_sub {
    int64_t job_id; /* 0: any job */
    void (*fn)(void *arg);
    void *arg;
    bool fired;
    struct store_sub *prev, *next;
};

struct past {
    uint64_t seq;
    bool any;
    bool created; /* jobs were created: only subscribers of any job care */
    int n;
    int64_t ids[HISTORY_IDS];
};

struct watcher {
    char *dsn;
    pthread_t thread;
    pthread_mutex_t mu;
    struct store_sub *subs;
    uint64_t seq; /* notifications seen so far */
    struct past history[HISTORY];
    bool stop;
};

/* Under w->mu: whether job_id was named by a notification after since. */
static bool changed_since(const struct watcher *w, int64_t job_id, uint64_t since)
{
    if (w->seq - since >= HISTORY)
        return w->seq != since; /* older than the history: assume it changed */
    for (uint64_t s = since + 1; s <= w->seq; s++) {
        const struct past *p = &w->history[s % HISTORY];

        if (p->any || job_id == 0)
            return true;
        if (p->created)
            continue;
        for (int i = 0; i < p->n; i++)
            if (p->ids[i] == job_id)
                return true;
    }
    return false;
}

/* Under w->mu: takes x off the subscriber list. */
static void unlink_sub(struct watcher *w, struct store_sub *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        w->subs = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
}

/* Under w->mu: calls and unlinks every subscriber the notification p concerns. The
 * callbacks run with the lock held; they must only hand the event on. */
static void fire(struct watcher *w, const struct past *p)
{
    struct store_sub *x = w->subs, *next;

    for (; x; x = next) {
        bool hit = p->any || x->job_id == 0;

        next = x->next;
        for (int i = 0; !hit && i < p->n; i++)
            hit = p->ids[i] == x->job_id;
        if (!hit)
            continue;
        unlink_sub(w, x);
        x->fired = true;
        x->fn(x->arg);
    }
}

/* Records payload ("1,2,3", or "" for any job) and calls its subscribers; created: the
 * payload is a count of new jobs (fedsched_jobs), which no job's subscriber waits for. */
static void notify(struct watcher *w, const char *payload, bool created)
{
    struct past p = {.any = !created && payload[0] == '\0', .created = created};

    for (const char *c = payload; !p.any && !created && *c;) {
        char *end;
        long long id = strtoll(c, &end, 10);

        if (end == c)
            break;
        if (p.n == HISTORY_IDS)
            p.any = true;
        else
            p.ids[p.n++] = id;
        c = *end == ',' ? end + 1 : end;
    }
    pthread_mutex_lock(&w->mu);
    p.seq = ++w->seq;
    w->history[p.seq % HISTORY] = p;
    fire(w, &p);
    pthread_mutex_unlock(&w->mu);
}

/* On the primary, wherever a failover moved it: a standby cannot LISTEN. */
static PGconn *listen_connect(struct watcher *w)
{
    const char *keys[] = {"dbname", "target_session_attrs", NULL};
    const char *vals[] = {w->dsn, "read-write", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    PGresult *r;

    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    r = PQexec(pg, "LISTEN fedsched_changes; LISTEN fedsched_jobs");
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        PQclear(r);
        PQfinish(pg);
        return NULL;
    }
    PQclear(r);
    return pg;
}

static void *listen_loop(void *arg)
{
    struct watcher *w = arg;
    PGconn *pg = NULL;
    bool stop = false;

    while (!stop) {
        struct pollfd pfd;

        if (!pg) {
            pg = listen_connect(w);
            if (!pg)
                sleep(1);
            else
                notify(w, "", false); /* anything may have changed while we were not listening */
        }
        if (pg) {
            pfd.fd = PQsocket(pg);
            pfd.events = POLLIN;
            if (poll(&pfd, 1, 500) > 0) {
                PGnotify *n;

                if (!PQconsumeInput(pg)) {
                    LOG(LOG_WARN, "store", "event=listen_lost msg=\"%s\"", PQerrorMessage(pg));
                    PQfinish(pg);
                    pg = NULL;
                    continue;
                }
                while ((n = PQnotifies(pg))) {
                    notify(w, n->extra ? n->extra : "", strcmp(n->relname, "fedsched_jobs") == 0);
                    PQfreemem(n);
                }
            }
        }
        pthread_mutex_lock(&w->mu);
        stop = w->stop;
        pthread_mutex_unlock(&w->mu);
    }
    if (pg)
        PQfinish(pg);
    return NULL;
}

static struct watcher *watch_new(const char *dsn)
{
    struct watcher *w = xcalloc(1, sizeof(*w));

    w->dsn = xstrdup(dsn);
    pthread_mutex_init(&w->mu, NULL);
    pthread_create(&w->thread, NULL, listen_loop, w);
    return w;
}

/* The store's watcher, started on first use. */
static struct watcher *store_watcher(struct store *s)
{
    struct watcher *w;

    pthread_mutex_lock(&s->mu);
    if (!s->watcher)
        s->watcher = watch_new(s->dsn);
    w = s->watcher;
    pthread_mutex_unlock(&s->mu);
    return w;
}

void watch_free(struct watcher **wp)
{
    struct watcher *w;

    if (!wp || !*wp)
        return;
    w = *wp;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    free(w->dsn);
    free(w);
    *wp = NULL;
}

uint64_t store_change_seq(struct store *s)
{
    struct watcher *w = store_watcher(s);
    uint64_t seq;

    pthread_mutex_lock(&w->mu);
    seq = w->seq;
    pthread_mutex_unlock(&w->mu);
    return seq;
}

int store_job_subscribe(struct store *s, int64_t job_id, uint64_t since_seq, void (*fn)(void *arg),
                        void *arg, struct store_sub **out)
{
    struct watcher *w = store_watcher(s);
    struct store_sub *x;

    pthread_mutex_lock(&w->mu);
    if (changed_since(w, job_id, since_seq)) {
        pthread_mutex_unlock(&w->mu);
        return 1;
    }
    x = xcalloc(1, sizeof(*x));
    x->job_id = job_id;
    x->fn = fn;
    x->arg = arg;
    x->next = w->subs;
    if (w->subs)
        w->subs->prev = x;
    w->subs = x;
    *out = x;
    pthread_mutex_unlock(&w->mu);
    return 0;
}

void store_job_unsubscribe(struct store *s, struct store_sub **subp)
{
    struct watcher *w;
    struct store_sub *x;

    if (!subp || !*subp)
        return;
    x = *subp;
    w = store_watcher(s);
    pthread_mutex_lock(&w->mu);
    if (!x->fired)
        unlink_sub(w, x);
    pthread_mutex_unlock(&w->mu);
    free(x);
    *subp = NULL;
}
