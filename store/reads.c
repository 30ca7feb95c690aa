/* reads.c -- point reads of jobs, coalesced. Under load many API threads ask for one job
 * each at the same moment; asked one by one, every read pays a round trip and a backend
 * wake-up of its own. Here a caller queues its key; while fewer than READ_LEADERS reads
 * are in flight, it leads: takes what is queued (FIFO, up to READ_MAX keys), reads it
 * with one statement and hands each caller its row. Otherwise it waits for a leader to
 * serve it. At low load a read is a lone key and nothing waits.
 * Not responsible for watches (watch.c) or lists (jobs.c). */
#include "store/store.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/utf8.h"
#include "store/conn.h"
#include "store/rows.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define READ_MAX     256
#define READ_LEADERS 2 /* round trips in flight; the next batch forms meanwhile */

static const struct stmt stmt_get = {STMT_JOB_GET, "SELECT " JOB_COLUMNS
                                                   " FROM jobs WHERE namespace = $1 AND name = $2"};
static const struct stmt stmt_get_many = {STMT_JOB_GET_MANY,
                                          "SELECT " JOB_COLUMNS " FROM jobs"
                                          " WHERE (namespace, name) IN"
                                          " (SELECT * FROM unnest($1::text[], $2::text[]))"};

struct read {
    const char *ns, *name;
    bool done;
    int rc;
    struct err e;
    struct job *out;
    struct read *next;
};

struct reader {
    struct store *s;
    pthread_mutex_t mu;
    pthread_cond_t done; /* a batch was served */
    struct read *head, *tail;
    int leaders;
};

struct reader *reader_new(struct store *s)
{
    struct reader *r = xcalloc(1, sizeof(*r));

    r->s = s;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->done, NULL);
    return r;
}

void reader_free(struct reader **rp)
{
    if (!rp || !*rp)
        return;
    pthread_cond_destroy(&(*rp)->done);
    pthread_mutex_destroy(&(*rp)->mu);
    free(*rp);
    *rp = NULL;
}

/* Reads batch[0..n) with one statement (the plain point read for one key) and fills each
 * entry's result. Runs without the lock. */
static void serve(struct reader *r, struct read **batch, int n)
{
    struct buf cols[2];
    const char *params[2];
    struct err e = {0};
    PGresult *res = NULL;
    int rc;

    if (n == 1) {
        params[0] = batch[0]->ns;
        params[1] = batch[0]->name;
        rc = store_exec_stmt(r->s, &stmt_get, 2, params, &res, &e);
    } else {
        for (int c = 0; c < 2; c++) {
            buf_init(&cols[c], 0);
            buf_puts(&cols[c], "{");
        }
        for (int i = 0; i < n; i++) {
            store_array_add(&cols[0], batch[i]->ns);
            store_array_add(&cols[1], batch[i]->name);
        }
        for (int c = 0; c < 2; c++) {
            buf_puts(&cols[c], "}");
            params[c] = cols[c].data;
        }
        rc = store_exec_stmt(r->s, &stmt_get_many, 2, params, &res, &e);
        buf_free(&cols[0]);
        buf_free(&cols[1]);
    }
    for (int i = 0; i < n; i++) {
        struct read *x = batch[i];

        x->rc = rc;
        if (rc) {
            x->e = e;
            continue;
        }
        /* (namespace, name) is unique: at most one row per key. */
        for (int row = 0; row < PQntuples(res) && !x->out; row++)
            if (strcmp(PQgetvalue(res, row, 2), x->ns) == 0 &&
                strcmp(PQgetvalue(res, row, 3), x->name) == 0)
                x->out = store_job_from_row(res, row);
        if (!x->out)
            x->rc =
                err_set(&x->e, ERR_NOT_FOUND, NULL, "trainingjob %s/%s not found", x->ns, x->name);
    }
    PQclear(res);
}

int store_job_get(struct store *s, const char *ns, const char *name, struct job **out,
                  struct err *e)
{
    struct reader *r = s->reader;
    struct read me = {.ns = ns, .name = name};
    struct read *batch[READ_MAX];

    /* A key PostgreSQL would refuse (bytes that are not UTF-8) fails its statement:
     * read it alone, so it cannot fail the reads batched with it. */
    if (!utf8_valid(ns, strlen(ns)) || !utf8_valid(name, strlen(name))) {
        struct read *alone = &me;

        serve(r, &alone, 1);
        goto out;
    }
    pthread_mutex_lock(&r->mu);
    if (r->tail)
        r->tail->next = &me;
    else
        r->head = &me;
    r->tail = &me;
    while (!me.done) {
        int n = 0;

        if (r->leaders == READ_LEADERS || !r->head) {
            pthread_cond_wait(&r->done, &r->mu);
            continue;
        }
        r->leaders++;
        while (r->head && n < READ_MAX) {
            batch[n++] = r->head;
            r->head = r->head->next;
        }
        if (!r->head)
            r->tail = NULL;
        pthread_mutex_unlock(&r->mu);
        serve(r, batch, n);
        pthread_mutex_lock(&r->mu);
        for (int i = 0; i < n; i++)
            batch[i]->done = true;
        r->leaders--;
        pthread_cond_broadcast(&r->done);
    }
    pthread_mutex_unlock(&r->mu);
out:
    if (me.rc) {
        if (e)
            *e = me.e;
        return -1;
    }
    *out = me.out;
    return 0;
}
