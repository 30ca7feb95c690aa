/* queue_memo.c -- what a plain GET of a queued job carries from the scheduler
 * (status.queuePosition, status.estimatedStartTime, status.pendingReason), remembered per
 * job for a few seconds.
 * They come from the scheduler's what-if (api_attach_explainer()): every live job read,
 * one policy cycle, then simulated cycles, so its cost grows with the queue. Asked on
 * every GET, it made a GET of a queued job cost a what-if: 1,680 GET/s on an empty queue
 * against 12,617 before it, and 4 GET/s with 500,000 jobs queued, while CI pipelines poll
 * their queued jobs. Here a job's figures are reused for QUEUE_MEMO_TTL_MS, and one what-if
 * runs at a time per replica: a GET that finds another running answers with the job's
 * last figures (up to QUEUE_MEMO_STALE_MS old) or without them.
 * Not responsible for /explain, which always runs its own what-if. */
#include "api/internal.h"

#include "api/list_token.h"
#include "base/clock.h"
#include "base/job.h"
#include "base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MEMO_SLOTS    1024
#define QUEUE_MEMO_TTL_MS   10000
#define QUEUE_MEMO_STALE_MS 60000

struct memo_slot {
    char *key; /* "ns/name"; NULL: empty */
    int64_t rv;
    int64_t at_ms;
    json_t *figures; /* {"queue": explain's "queue", "reason": its "reason" when pending} */
};

struct api_queue_memo {
    pthread_mutex_t mu;
    bool busy;                 /* a what-if for a GET is running */
    uint64_t whatifs, skipped; /* what-ifs run; GETs answered without figures while busy */
    struct memo_slot slot[QUEUE_MEMO_SLOTS];
};

struct api_queue_memo *queue_memo_new(void)
{
    struct api_queue_memo *m = xcalloc(1, sizeof(*m));

    pthread_mutex_init(&m->mu, NULL);
    return m;
}

void queue_memo_free(struct api_queue_memo **mp)
{
    if (!mp || !*mp)
        return;
    for (size_t i = 0; i < QUEUE_MEMO_SLOTS; i++) {
        free((*mp)->slot[i].key);
        json_decref((*mp)->slot[i].figures);
    }
    pthread_mutex_destroy(&(*mp)->mu);
    free(*mp);
    *mp = NULL;
}

json_t *queue_figures(const char *explanation, size_t len)
{
    json_t *o = json_loadb(explanation ? explanation : "", len, 0, NULL), *f = NULL;
    json_t *q = json_object_get(o, "queue"), *r = json_object_get(o, "reason");
    const char *status = json_string_value(json_object_get(o, "status"));

    if (!status || strcmp(status, "pending") != 0 || !json_is_object(r))
        r = NULL;
    if (json_is_object(q) || r) {
        f = json_object();
        if (json_is_object(q))
            json_object_set(f, "queue", q);
        if (r)
            json_object_set(f, "reason", r);
    }
    json_decref(o);
    return f;
}

void queue_figures_apply(json_t *job, const json_t *f)
{
    json_t *status = json_object_get(job, "status"), *q = json_object_get(f, "queue");

    if (json_is_integer(json_object_get(q, "position"))) {
        json_object_set(status, "queuePosition", json_object_get(q, "position"));
        json_object_set(status, "estimatedStartTime", json_object_get(q, "estimatedStart"));
    }
    if (json_object_get(f, "reason"))
        json_object_set(status, "pendingReason", json_object_get(f, "reason"));
}

/* The what-if's figures for stored job j (queue_figures()), or NULL. */
static json_t *run_whatif(struct api *a, const struct job *j)
{
    struct err e = {0};
    struct buf b;
    json_t *f = NULL;

    buf_init(&b, 0);
    if (a->explainer(a->explainer_arg, j->ns, j->name, NULL, &b, &e) == 0)
        f = queue_figures(b.data, b.len);
    buf_free(&b);
    return f;
}

json_t *queue_memo_get(struct api *a, const struct job *j)
{
    struct api_queue_memo *m = a->queue_memo;
    /* Namespaces are at most 63 bytes and names 253 (api/trainingjob.c), so key holds any. */
    char key[512];
    struct memo_slot *s =
        &m->slot[list_token_hash(list_token_hash(LIST_TOKEN_HASH_INIT, j->ns, '/'), j->name, 0) %
                 QUEUE_MEMO_SLOTS];
    int64_t now = clock_mono_ms();
    json_t *f = NULL;
    bool mine;

    snprintf(key, sizeof(key), "%s/%s", j->ns, j->name);
    pthread_mutex_lock(&m->mu);
    mine = s->key && strcmp(s->key, key) == 0;
    if (mine && s->rv == j->resource_version && now - s->at_ms < QUEUE_MEMO_TTL_MS) {
        f = json_incref(s->figures);
    } else if (m->busy) {
        if (mine && now - s->at_ms < QUEUE_MEMO_STALE_MS)
            f = json_incref(s->figures);
        else
            m->skipped++;
    } else {
        m->busy = true;
        m->whatifs++;
        pthread_mutex_unlock(&m->mu);
        f = run_whatif(a, j);
        pthread_mutex_lock(&m->mu);
        m->busy = false;
        if (f) {
            free(s->key);
            json_decref(s->figures);
            s->key = xstrdup(key);
            s->rv = j->resource_version;
            s->at_ms = clock_mono_ms();
            s->figures = json_incref(f);
        }
    }
    pthread_mutex_unlock(&m->mu);
    return f;
}

bool queue_memo_begin(struct api *a)
{
    struct api_queue_memo *m = a->queue_memo;
    bool mine;

    pthread_mutex_lock(&m->mu);
    mine = !m->busy;
    m->busy = true;
    pthread_mutex_unlock(&m->mu);
    return mine;
}

void queue_memo_end(struct api *a)
{
    pthread_mutex_lock(&a->queue_memo->mu);
    a->queue_memo->busy = false;
    pthread_mutex_unlock(&a->queue_memo->mu);
}

void queue_memo_metrics(struct api *a, struct buf *out)
{
    struct api_queue_memo *m = a->queue_memo;
    uint64_t runs, skipped;

    pthread_mutex_lock(&m->mu);
    runs = m->whatifs;
    skipped = m->skipped;
    pthread_mutex_unlock(&m->mu);
    buf_printf(out,
               "# HELP fedsched_api_queue_whatifs_total What-ifs run for the queue figures of "
               "a GET of a queued job (one at a time, each job's reused for 10 s).\n"
               "# TYPE fedsched_api_queue_whatifs_total counter\n"
               "fedsched_api_queue_whatifs_total %llu\n"
               "# HELP fedsched_api_queue_figures_skipped_total GETs of a queued job answered "
               "without queue figures because another GET's what-if was running.\n"
               "# TYPE fedsched_api_queue_figures_skipped_total counter\n"
               "fedsched_api_queue_figures_skipped_total %llu\n",
               (unsigned long long)runs, (unsigned long long)skipped);
}
