/* job.c -- phases and ownership of struct job. */
#include "base/job.h"

#include "base/clock.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const phase_names[PHASE_COUNT] = {
    "Queued", "Admitted",  "Dispatched", "Running", "Succeeded",
    "Failed", "Cancelled", "Preempting", "Lost",
};

const char *job_phase_name(enum job_phase p)
{
    return (unsigned)p < PHASE_COUNT ? phase_names[p] : "Unknown";
}

int job_phase_parse(const char *s, enum job_phase *out)
{
    for (int i = 0; i < PHASE_COUNT; i++) {
        if (strcmp(s, phase_names[i]) == 0) {
            *out = (enum job_phase)i;
            return 0;
        }
    }
    return -1;
}

int job_workers(int gpu_count, int gpus_per_worker, int *per, int *workers)
{
    int p = gpus_per_worker > 0 ? gpus_per_worker : gpu_count;

    if (gpu_count <= 0 || gpus_per_worker < 0 || p <= 0 || gpu_count % p != 0)
        return -1;
    if (per)
        *per = p;
    if (workers)
        *workers = gpu_count / p;
    return 0;
}

const char *job_aside_reason(bool held, int64_t not_before_ms, int64_t now_ms, char *msg,
                             size_t size)
{
    char ts[40];

    if (held) {
        snprintf(msg, size, "held by the user: not placed until released");
        return "Held";
    }
    if (not_before_ms <= now_ms)
        return NULL;
    clock_format_rfc3339(not_before_ms, ts, sizeof(ts));
    snprintf(msg, size, "requeued after a failed attempt: waits out its retry backoff until %s",
             ts);
    return "RetryBackoff";
}

bool job_phase_terminal(enum job_phase p)
{
    return p == PHASE_SUCCEEDED || p == PHASE_FAILED || p == PHASE_CANCELLED;
}

struct job *job_new(void)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->phase = PHASE_QUEUED;
    return j;
}

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void job_free(struct job **jp)
{
    struct job *j;

    if (!jp || !*jp)
        return;
    j = *jp;
    free(j->ns);
    free(j->name);
    free(j->uid);
    free(j->api_version);
    free(j->labels_json);
    free(j->spec_json);
    free(j->framework);
    free(j->sku);
    free_strv(j->alt_skus, j->n_alt_skus);
    free_strv(j->cluster_affinity, j->n_cluster_affinity);
    free(j->cluster);
    free(j->member_ns);
    free(j->pool);
    free(j->reason);
    free(j->message);
    free(j);
    *jp = NULL;
}

void job_event_clear(struct job_event *ev)
{
    free(ev->type);
    free(ev->reason);
    free(ev->message);
    free(ev->from_phase);
    free(ev->to_phase);
    memset(ev, 0, sizeof(*ev));
}
