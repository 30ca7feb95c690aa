/* batch.c -- the insert batcher: application-level group commit for submissions.
 *
 * Each submission is one job row plus its event. Committed one by one, every submission
 * pays for a statement, a commit and a WAL flush of its own. Instead, callers queue their
 * job and sleep; a few flusher threads each take whatever is queued (up to BATCH_MAX),
 * insert it with one statement (arrays unnested into rows) and one commit, then wake
 * each caller with its own row. At low load a batch is one job and nothing waits; under
 * load batches grow by themselves. A caller still returns only after COMMIT, so a 201
 * still means durable.
 *
 * A created job's audit row (when the caller gives one) is inserted by the same
 * statement, joined to the rows the insert returned, so the job and the record of who
 * submitted it commit together or not at all. For that join (and for handing each row to
 * its caller) to be exact, a batch never holds two submissions of the same
 * namespace/name or namespace/idempotency key: the later one waits for the next batch. */
#include "store/store.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/rows.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 128                   /* jobs per statement: about 128 KiB of 1 KiB specs */
#define NCOLS     11                    /* job columns */
#define NPARAMS   (NCOLS + AUDIT_NCOLS) /* and the audit rows' */

static const struct stmt stmt_insert = {
    STMT_JOB_INSERT,
    "WITH ins AS ("
    " INSERT INTO jobs (namespace, name, api_version, labels, spec, idempotency_key,"
    "  priority, preemptible, sku, gpu_count, gpus_per_worker)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[],"
    "  $6::text[], $7::int[], $8::bool[], $9::text[], $10::int[], $11::int[])"
    " ON CONFLICT DO NOTHING RETURNING " JOB_COLUMNS "),"
    " ev AS (INSERT INTO job_events (job_id, type, reason, message, to_phase)"
    "  SELECT id, 'Queued', 'Submitted', 'accepted and queued', 'Queued' FROM ins),"
    /* One wake-up per batch for the scheduler's LISTEN, sent at COMMIT. */
    " wake AS (SELECT pg_notify('fedsched_jobs', count(*)::text) FROM ins),"
    /* Audit rows of the jobs inserted (placeholders for jobs without one have t NULL). */
    " aud AS (INSERT INTO audit_log (ts, token_name, role, remote, method, path, namespace,"
    "  status, detail) SELECT to_timestamp(a.t / 1000.0), a.tn, a.ro, a.re, a.me, a.pa, a.ns,"
    "  a.st, a.de FROM unnest($1::text[], $2::text[], $12::bigint[], $13::text[], $14::text[],"
    "  $15::text[], $16::text[], $17::text[], $18::text[], $19::int[], $20::text[])"
    "  AS a(jns, jname, t, tn, ro, re, me, pa, ns, st, de)"
    "  JOIN ins ON ins.namespace = a.jns AND ins.name = a.jname WHERE a.t IS NOT NULL"
    "  RETURNING 1)"
    " SELECT ins.*, (SELECT count(*) FROM wake), (SELECT count(*) FROM aud) FROM ins"};

struct entry {
    pthread_cond_t wake; /* its own, so a finished batch wakes only its callers */
    const struct job *j;
    const char *idem;
    const struct store_audit *audit; /* NULL: none */
    bool done;
    bool conflict;
    int rc;
    struct err e;
    struct job *out;
    struct entry *next;
};

struct batcher {
    struct store *s;
    pthread_mutex_t mu;
    pthread_cond_t work;
    struct entry *head, *tail;
    bool stop;
    int nthreads;
    pthread_t *threads;
};

static void flush(struct batcher *b, struct entry **batch, int n)
{
    struct buf cols[NPARAMS];
    const char *params[NPARAMS];
    struct err e = {0};
    PGresult *r = NULL;
    int rc;

    for (int c = 0; c < NPARAMS; c++) {
        buf_init(&cols[c], 0);
        buf_puts(&cols[c], "{");
    }
    for (int i = 0; i < n; i++) {
        const struct job *j = batch[i]->j;
        char prio[16], gpus[16], gpw[16];

        snprintf(prio, sizeof(prio), "%d", j->priority);
        snprintf(gpus, sizeof(gpus), "%d", j->gpu_count);
        snprintf(gpw, sizeof(gpw), "%d", j->gpus_per_worker);
        store_array_add(&cols[0], j->ns);
        store_array_add(&cols[1], j->name);
        store_array_add(&cols[2], j->api_version);
        store_array_add(&cols[3], j->labels_json ? j->labels_json : "{}");
        store_array_add(&cols[4], j->spec_json);
        store_array_add(&cols[5], batch[i]->idem);
        store_array_add(&cols[6], prio);
        store_array_add(&cols[7], j->preemptible ? "t" : "f");
        store_array_add(&cols[8], j->sku);
        store_array_add(&cols[9], gpus);
        store_array_add(&cols[10], gpw);
        store_audit_column_add(&cols[NCOLS], batch[i]->audit, false);
    }
    for (int c = 0; c < NPARAMS; c++) {
        buf_puts(&cols[c], "}");
        params[c] = cols[c].data;
    }
    /* Safe to retry on a fresh connection: a batch that did commit conflicts with itself
     * the second time (inserting no audit rows), and each caller then finds its own job
     * as an idempotent retry, recorded as such. */
    rc = store_exec_stmt(b->s, &stmt_insert, NPARAMS, params, &r, &e);
    for (int i = 0; i < n; i++) {
        batch[i]->rc = rc;
        batch[i]->e = e;
        batch[i]->conflict = rc == 0;
    }
    /* Rows come back in input order with the conflicting ones missing, so the search
     * for a row's caller starts where the previous one was found: linear in the batch.
     * Should an order ever differ, it wraps around and still finds it. */
    for (int row = 0, from = 0; rc == 0 && row < PQntuples(r); row++) {
        const char *ns = PQgetvalue(r, row, 2), *name = PQgetvalue(r, row, 3);

        for (int k = 0; k < n; k++) {
            int i = (from + k) % n;

            if (batch[i]->conflict && !batch[i]->out && strcmp(batch[i]->j->name, name) == 0 &&
                strcmp(batch[i]->j->ns, ns) == 0) {
                batch[i]->out = store_job_from_row(r, row);
                batch[i]->conflict = false;
                from = i + 1;
                break;
            }
        }
    }
    PQclear(r);
    for (int c = 0; c < NPARAMS; c++)
        buf_free(&cols[c]);
}

static bool same_str(const char *x, const char *y)
{
    return x && y && strcmp(x, y) == 0;
}

/* Would x and y compete for the same row (name or idempotency key in one namespace)? */
static bool clash(const struct entry *x, const struct entry *y)
{
    return strcmp(x->j->ns, y->j->ns) == 0 &&
           (strcmp(x->j->name, y->j->name) == 0 || same_str(x->idem, y->idem));
}

/* Moves up to BATCH_MAX entries from the queue into batch, skipping (leaving queued, in
 * order) any that clashes with one taken already. Called with b->mu held. */
static int take(struct batcher *b, struct entry **batch)
{
    struct entry *prev = NULL, *it = b->head;
    int n = 0;

    while (it && n < BATCH_MAX) {
        struct entry *next = it->next;
        bool dup = false;

        for (int k = 0; k < n && !dup; k++)
            dup = clash(batch[k], it);
        if (dup) {
            prev = it;
        } else {
            batch[n++] = it;
            if (prev)
                prev->next = next;
            else
                b->head = next;
            if (b->tail == it)
                b->tail = prev;
            it->next = NULL;
        }
        it = next;
    }
    return n;
}

static void *flusher(void *arg)
{
    struct batcher *b = arg;

    for (;;) {
        struct entry *batch[BATCH_MAX];
        int n = 0;

        pthread_mutex_lock(&b->mu);
        while (!b->head && !b->stop)
            pthread_cond_wait(&b->work, &b->mu);
        if (!b->head && b->stop) {
            pthread_mutex_unlock(&b->mu);
            return NULL;
        }
        n = take(b, batch);
        pthread_mutex_unlock(&b->mu);

        flush(b, batch, n);

        pthread_mutex_lock(&b->mu);
        for (int i = 0; i < n; i++) {
            batch[i]->done = true;
            pthread_cond_signal(&batch[i]->wake);
        }
        pthread_mutex_unlock(&b->mu);
    }
}

struct batcher *batch_new(struct store *s, int threads)
{
    struct batcher *b = xcalloc(1, sizeof(*b));

    b->s = s;
    b->nthreads = threads;
    b->threads = xcalloc((size_t)threads, sizeof(*b->threads));
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->work, NULL);
    for (int i = 0; i < threads; i++)
        pthread_create(&b->threads[i], NULL, flusher, b);
    return b;
}

void batch_free(struct batcher **bp)
{
    struct batcher *b;

    if (!bp || !*bp)
        return;
    b = *bp;
    pthread_mutex_lock(&b->mu);
    b->stop = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; i < b->nthreads; i++)
        pthread_join(b->threads[i], NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->work);
    free(b->threads);
    free(b);
    *bp = NULL;
}

int batch_insert(struct store *s, const struct job *j, const char *idempotency_key,
                 const struct store_audit *audit, bool *conflict, struct job **out, struct err *e)
{
    struct batcher *b = s->batcher;
    struct entry me = {.j = j, .idem = idempotency_key, .audit = audit};

    pthread_cond_init(&me.wake, NULL);
    pthread_mutex_lock(&b->mu);
    if (b->tail)
        b->tail->next = &me;
    else
        b->head = &me;
    b->tail = &me;
    pthread_cond_signal(&b->work);
    while (!me.done)
        pthread_cond_wait(&me.wake, &b->mu);
    pthread_mutex_unlock(&b->mu);
    pthread_cond_destroy(&me.wake);
    if (me.rc) {
        if (e)
            *e = me.e;
        return -1;
    }
    *conflict = me.conflict;
    if (!me.conflict)
        *out = me.out;
    return 0;
}
