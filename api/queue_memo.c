/* queue_memo.c -- what a plain GET of a queued job carries from the scheduler
 * (status.queuePosition, status.estimatedStartTime, status.pendingReason), remembered per
 * job for a few seconds.
 * They come from the scheduler's what-if (api_attach_explainer()): every live job read,
 * one policy cycle, then simulated cycles, so its cost grows with the queue. Asked on
 * every GET, it made a GET of a queued job cost a what-if: 1,680 GET/s on an empty queue
 * against 12,617 before it, and 4 GET/s with 500,000 jobs queued, while CI pipelines poll
 * their queued jobs. Here a job's figures are reused for QUEUE_MEMO_TTL_MS, and one what-if
 * runs at a time per replica (api/whatif_memo.h): a GET that finds another running answers
 * with the job's last figures (up to QUEUE_MEMO_STALE_MS old) or without them.
 * Not responsible for /explain, which always runs its own what-if. */
#include "api/internal.h"

#include "api/whatif_memo.h"
#include "base/clock.h"
#include "base/job.h"
#include "base/mem.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MEMO_SLOTS    1024
#define QUEUE_MEMO_TTL_MS   10000
#define QUEUE_MEMO_STALE_MS 60000

struct whatif_memo *queue_memo_new(void)
{
    return whatif_memo_new(QUEUE_MEMO_SLOTS, QUEUE_MEMO_TTL_MS, QUEUE_MEMO_STALE_MS);
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
        if (json_object_get(q, "noEstimate"))
            json_object_set(status, "noEstimate", json_object_get(q, "noEstimate"));
    }
    if (json_object_get(f, "reason"))
        json_object_set(status, "pendingReason", json_object_get(f, "reason"));
}

json_t *queue_aside_reason(const struct job *j)
{
    char msg[160], ts[40];
    const char *code =
        j->phase == PHASE_QUEUED
            ? job_aside_reason(j->held, j->not_before_ms, clock_realtime_ms(), msg, sizeof(msg))
            : NULL;
    json_t *r;

    if (!code)
        return NULL;
    r = json_pack("{s:s, s:s}", "reason", code, "message", msg);
    if (!j->held) {
        clock_format_rfc3339(j->not_before_ms, ts, sizeof(ts));
        json_object_set_new(r, "retryAt", json_string(ts));
    }
    return r;
}

struct whatif_arg {
    struct api *a;
    const struct job *j;
};

/* The what-if's figures for the stored job (queue_figures()) as JSON text, or NULL. */
static char *run_whatif(void *arg)
{
    struct whatif_arg *w = arg;
    struct err e = {0};
    struct buf b;
    json_t *f = NULL;
    char *text = NULL;

    buf_init(&b, 0);
    if (w->a->explainer(w->a->explainer_arg, w->j->ns, w->j->name, NULL, &b, &e) == 0)
        f = queue_figures(b.data, b.len);
    buf_free(&b);
    if (f) {
        /* Once, here, as the status members they become: a GET then splices the text into
         * the job it renders, with no JSON parsed or built (half a GET's CPU before). */
        json_t *job = json_pack("{s:{}}", "status");
        char *members;

        queue_figures_apply(job, f);
        members = json_dumps(json_object_get(job, "status"), JSON_COMPACT);
        if (members && strlen(members) > 2)
            text = xstrndup(members + 1, strlen(members) - 2); /* without the braces */
        free(members);
        json_decref(job);
    }
    json_decref(f);
    return text;
}

char *queue_memo_get(struct api *a, const struct job *j)
{
    struct whatif_arg w = {a, j};
    /* Namespaces are at most 63 bytes and names 253 (api/trainingjob.c), so key holds any. */
    char key[512];
    bool busy;

    snprintf(key, sizeof(key), "%s/%s", j->ns, j->name);
    return whatif_memo_get(a->queue_memo, key, j->resource_version, run_whatif, &w, &busy);
}

bool queue_memo_begin(struct api *a)
{
    return whatif_memo_begin(a->queue_memo);
}

void queue_memo_end(struct api *a)
{
    whatif_memo_end(a->queue_memo);
}

void queue_memo_metrics(struct api *a, struct buf *out)
{
    struct whatif_memo_counts c;

    whatif_memo_counts(a->queue_memo, &c);
    buf_printf(out,
               "# HELP fedsched_api_queue_whatifs_total What-ifs run for the queue figures of "
               "a GET of a queued job (one at a time, each job's reused for 10 s).\n"
               "# TYPE fedsched_api_queue_whatifs_total counter\n"
               "fedsched_api_queue_whatifs_total %llu\n"
               "# HELP fedsched_api_queue_figures_skipped_total GETs of a queued job answered "
               "without queue figures because another GET's what-if was running.\n"
               "# TYPE fedsched_api_queue_figures_skipped_total counter\n"
               "fedsched_api_queue_figures_skipped_total %llu\n",
               (unsigned long long)c.made, (unsigned long long)c.busy);
}
