/* watch.c -- change notifications for long-polls: one thread LISTENs on a dedicated
 * connection and wakes the callers waiting for the jobs a NOTIFY names.
 * Not responsible for what a waiter does when woken (it re-reads the job). */
#include "store/store.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "store/conn.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct waiter {
    int64_t job_id;
    bool woken;
    pthread_cond_t cv;
    struct waiter *next;
};

struct watcher {
    char *dsn;
    pthread_t thread;
    pthread_mutex_t mu;
    struct waiter *waiters;
    bool stop;
    bool shutting_down; /* waiters return at once */
};

/* Wakes the waiters for the ids in payload ("1,2,3"), or all of them for "". */
static void wake(struct watcher *w, const char *payload)
{
    pthread_mutex_lock(&w->mu);
    for (struct waiter *x = w->waiters; x; x = x->next) {
        bool hit = payload[0] == '\0';

        for (const char *p = payload; !hit && *p;) {
            char *end;
            long long id = strtoll(p, &end, 10);

            if (end == p)
                break;
            hit = id == x->job_id;
            p = *end == ',' ? end + 1 : end;
        }
        if (hit) {
            x->woken = true;
            pthread_cond_signal(&x->cv);
        }
    }
    pthread_mutex_unlock(&w->mu);
}

static PGconn *listen_connect(struct watcher *w)
{
    PGconn *pg = PQconnectdb(w->dsn);
    PGresult *r;

    if (PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        return NULL;
    }
    r = PQexec(pg, "LISTEN fedsched_changes");
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
            if (!pg) {
                sleep(1);
            } else {
                /* Anything may have changed while we were not listening. */
                wake(w, "");
            }
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
                    wake(w, n->extra ? n->extra : "");
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

struct watcher *watch_new(const char *dsn)
{
    struct watcher *w = xcalloc(1, sizeof(*w));

    w->dsn = xstrdup(dsn);
    pthread_mutex_init(&w->mu, NULL);
    pthread_create(&w->thread, NULL, listen_loop, w);
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

void store_watch_shutdown(struct store *s)
{
    struct watcher *w = store_watcher(s);

    pthread_mutex_lock(&w->mu);
    w->shutting_down = true;
    pthread_mutex_unlock(&w->mu);
    wake(w, "");
}

int store_job_watch(struct store *s, const char *ns, const char *name, int64_t after_rv,
                    int timeout_ms, struct job **out, struct err *e)
{
    struct watcher *w = store_watcher(s);
    struct waiter me = {0};
    int64_t deadline = clock_realtime_ms() + timeout_ms;
    struct job *j = NULL;
    int rc = -1;

    pthread_cond_init(&me.cv, NULL);
    for (;;) {
        struct timespec ts;
        int64_t left;
        bool stopping;

        /* Register before reading, so a change between the read and the wait is not
         * missed: it marks us woken. */
        if (me.job_id) {
            pthread_mutex_lock(&w->mu);
            me.woken = false;
            me.next = w->waiters;
            w->waiters = &me;
            pthread_mutex_unlock(&w->mu);
        }
        if (store_job_get(s, ns, name, &j, e))
            break;
        left = deadline - clock_realtime_ms();
        pthread_mutex_lock(&w->mu);
        stopping = w->shutting_down;
        pthread_mutex_unlock(&w->mu);
        if (j->resource_version > after_rv || left <= 0 || stopping) {
            rc = 0;
            break;
        }
        if (!me.job_id) {
            /* First pass: now we know the id to wait for; register and re-read. */
            me.job_id = j->id;
            job_free(&j);
            continue;
        }
        ts.tv_sec = (time_t)(deadline / 1000);
        ts.tv_nsec = (long)(deadline % 1000) * 1000000L;
        pthread_mutex_lock(&w->mu);
        while (!me.woken && !w->shutting_down &&
               pthread_cond_timedwait(&me.cv, &w->mu, &ts) != ETIMEDOUT)
            ;
        /* Unlink before the next read (it registers again). */
        for (struct waiter **pp = &w->waiters; *pp; pp = &(*pp)->next) {
            if (*pp == &me) {
                *pp = me.next;
                break;
            }
        }
        pthread_mutex_unlock(&w->mu);
        job_free(&j);
    }
    if (me.job_id) {
        pthread_mutex_lock(&w->mu);
        for (struct waiter **pp = &w->waiters; *pp; pp = &(*pp)->next) {
            if (*pp == &me) {
                *pp = me.next;
                break;
            }
        }
        pthread_mutex_unlock(&w->mu);
    }
    pthread_cond_destroy(&me.cv);
    if (rc == 0)
        *out = j;
    return rc;
}
