/* transitions.c -- the batch of phase transitions a step gathers, and applying it: one
 * fenced statement, then the cycle's job list and the counters updated to match. */
#include "scheduler/internal.h"

void *sched_batch_own(struct batch *b, void *p)
{
    if (b->n_owned == b->cap_owned) {
        b->cap_owned = b->cap_owned ? b->cap_owned * 2 : 64;
        b->owned = xrealloc(b->owned, b->cap_owned * sizeof(*b->owned));
    }
    b->owned[b->n_owned++] = p;
    return p;
}

struct store_transition *sched_batch_add(struct batch *b, size_t job,
                                         const struct store_sched_job *j, enum job_phase to,
                                         const char *reason)
{
    struct store_transition *t;

    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->t = xrealloc(b->t, b->cap * sizeof(*b->t));
        b->job = xrealloc(b->job, b->cap * sizeof(*b->job));
    }
    t = &b->t[b->n];
    memset(t, 0, sizeof(*t));
    t->job_id = j->id;
    t->from = j->phase;
    t->attempt = j->attempt;
    t->to = to;
    t->reason = reason;
    b->job[b->n] = job;
    b->n++;
    return t;
}

void sched_batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n_owned; i++)
        free(b->owned[i]);
    b->n_owned = 0;
    b->n = 0;
}

void sched_batch_free(struct batch *b)
{
    sched_batch_reset(b);
    free(b->t);
    free(b->job);
    free(b->owned);
    memset(b, 0, sizeof(*b));
}

bool sched_placed_phase(enum job_phase p)
{
    return p == PHASE_ADMITTED || p == PHASE_DISPATCHED || p == PHASE_RUNNING ||
           p == PHASE_PREEMPTING;
}

/* Applies the batch; on success updates the in-memory jobs that changed (so later steps
 * of the cycle see them), on a superseded epoch marks the cycle deposed. Returns the
 * number applied. */
size_t sched_apply(struct cycle *c, bool *applied_out)
{
    struct sched *s = c->s;
    struct err e = {0};
    bool *applied;
    size_t n_ok = 0;

    if (c->b.n == 0 || c->deposed)
        return 0;
    applied = xcalloc(c->b.n, sizeof(*applied));
    if (store_sched_apply(s->store, s->epoch, c->b.t, c->b.n, applied, &e)) {
        if (e.code == ERR_CONFLICT)
            c->deposed = true;
        LOG(e.code == ERR_CONFLICT ? LOG_WARN : LOG_ERROR, "sched",
            "event=apply_failed n=%zu code=%s msg=\"%s\"", c->b.n, err_code_name(e.code), e.msg);
        free(applied);
        return 0;
    }
    for (size_t i = 0; i < c->b.n; i++) {
        const struct store_transition *t = &c->b.t[i];
        struct store_sched_job *j = &c->jobs.v[c->b.job[i]];

        if (applied_out)
            applied_out[i] = applied[i];
        if (!applied[i])
            continue;
        n_ok++;
        j->phase = t->to;
        switch (t->to) {
        case PHASE_ADMITTED:
            snprintf(j->cluster, sizeof(j->cluster), "%s", t->cluster ? t->cluster : "");
            snprintf(j->pool, sizeof(j->pool), "%s", t->pool ? t->pool : "");
            snprintf(j->sku_placed, sizeof(j->sku_placed), "%s", t->sku ? t->sku : "");
            j->admitted_ms = c->now;
            j->lease_end_ms = t->lease_end_ms;
            break;
        case PHASE_DISPATCHED: j->dispatched_ms = t->at_ms ? t->at_ms : c->now; break;
        case PHASE_RUNNING: j->started_ms = t->at_ms ? t->at_ms : c->now; break;
        case PHASE_PREEMPTING:
            if (t->from != PHASE_PREEMPTING) {
                j->preempt_requested_ms = c->now;
                j->checkpoint_requested_ms = t->checkpoint_by_ms > 0 ? c->now : 0;
                j->checkpoint_deadline_ms = t->checkpoint_by_ms > 0 ? t->checkpoint_by_ms : 0;
            } else if (t->checkpoint_by_ms > 0 && j->checkpoint_deadline_ms > t->checkpoint_by_ms) {
                j->checkpoint_deadline_ms = t->checkpoint_by_ms; /* escalated */
            }
            break;
        case PHASE_QUEUED:
            if (t->from != PHASE_QUEUED)
                j->attempt++;
            j->cluster[0] = '\0';
            j->pool[0] = '\0';
            j->sku_placed[0] = '\0';
            j->not_before_ms = t->not_before_ms;
            j->dispatched_ms = 0;
            j->started_ms = 0;
            j->preempt_requested_ms = 0;
            j->checkpoint_requested_ms = 0;
            j->checkpoint_deadline_ms = 0;
            j->dispatch_failures += t->failed_dispatch;
            j->preemptions += t->preempted;
            break;
        default: break;
        }
    }
    pthread_mutex_lock(&s->m.mu);
    for (size_t i = 0; i < c->b.n; i++) {
        if (!applied[i])
            continue;
        switch (c->b.t[i].to) {
        case PHASE_ADMITTED: s->m.placements++; break;
        case PHASE_DISPATCHED: s->m.dispatched++; break;
        case PHASE_SUCCEEDED: s->m.succeeded++; break;
        case PHASE_FAILED: s->m.failed++; break;
        case PHASE_CANCELLED: s->m.cancelled++; break;
        case PHASE_LOST: s->m.lost++; break;
        case PHASE_QUEUED: s->m.requeued++; break;
        default: break;
        }
    }
    pthread_mutex_unlock(&s->m.mu);
    free(applied);
    return n_ok;
}
