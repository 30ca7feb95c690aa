/* track.c -- step 5 of a cycle: member-cluster objects to phases (Running, Succeeded,
 * Failed, Cancelled), cancellation, reclaim completion, missing objects and garbage collection. */
#include "scheduler/internal.h"

/* ---- step 5: tracking, cancellation, reclaim completion, GC --------------------------------- */

struct uid_ref {
    const char *uid;
    size_t job;
};

static int cmp_uid_ref(const void *a, const void *b)
{
    return strcmp(((const struct uid_ref *)a)->uid, ((const struct uid_ref *)b)->uid);
}

/* The message of the object's final condition (Job) or its status message (RayJob). */
static void final_message(enum k8s_job_kind kind, const json_t *obj, char *out, size_t size)
{
    const json_t *st = json_object_get(obj, "status"), *cond;
    size_t i;

    out[0] = '\0';
    if (kind == K8S_KIND_RAYJOB) {
        const char *m = json_string_value(json_object_get(st, "message"));

        snprintf(out, size, "%s", m ? m : "");
        return;
    }
    json_array_foreach(json_object_get(st, "conditions"), i, cond)
    {
        const char *type = json_string_value(json_object_get(cond, "type"));
        const char *status = json_string_value(json_object_get(cond, "status"));
        const char *m = json_string_value(json_object_get(cond, "message"));

        if (type && status && strcmp(status, "True") == 0 &&
            (strcmp(type, "Complete") == 0 || strcmp(type, "Failed") == 0) && m)
            snprintf(out, size, "%s", m);
    }
}

static bool deleting(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

static void track_job(struct cycle *c, size_t k, const json_t *obj, enum k8s_job_kind kind)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct store_transition *t;
    char reason[64], msg[256];
    struct err e = {0};

    if (j->cancel_requested) {
        if (obj && !deleting(obj) && sched_delete_object(c, j, "Background", -1, &e))
            return;
        t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
        t->message =
            sched_batch_own(&c->b, xasprintf("cancelled by the user; deleted from %s", j->cluster));
        return;
    }
    if (j->phase == PHASE_PREEMPTING) {
        if (!obj) {
            int64_t freed = clock_realtime_ms();

            t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Preempted");
            t->preempted = true;
            t->message = sched_batch_own(&c->b, xasprintf("reclaimed from %s; its GPUs are free; "
                                                          "requeued",
                                                          j->cluster));
            pthread_mutex_lock(&s->m.mu);
            sched_ring_add(
                s->m.freed_ms, &s->m.n_freed,
                (double)(freed - (j->preempt_requested_ms ? j->preempt_requested_ms : freed)));
            pthread_mutex_unlock(&s->m.mu);
        } else if (!deleting(obj) && leader_fresh(s->leader, 5000)) {
            sched_delete_object(c, j, "Foreground", (int)policy_grace_s(&s->policy), &e);
        }
        return;
    }
    if (!obj) {
        /* Absent right after creation can be a lagging cache on a real API server; absent
         * for longer, somebody deleted it: run the attempt again elsewhere. */
        int64_t since = j->dispatched_ms ? j->dispatched_ms : j->admitted_ms;

        if (c->now - since < (int64_t)s->o.missing_grace_s * 1000)
            return;
        t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "ObjectMissing");
        t->message =
            sched_batch_own(&c->b, xasprintf("its %s vanished from %s; requeued",
                                             kind == K8S_KIND_JOB ? "Job" : "RayJob", j->cluster));
        return;
    }
    switch (k8s_job_state_of(kind, obj, reason, sizeof(reason))) {
    case K8S_JOB_PENDING:
        /* Placed on capacity the member cluster's own scheduler cannot find (the
         * snapshot was stale, or it packs differently): give the GPUs back and place the
         * job again rather than hold them forever. */
        if (s->o.start_timeout_s > 0 && j->phase == PHASE_DISPATCHED && j->dispatched_ms &&
            c->now - j->dispatched_ms > (int64_t)s->o.start_timeout_s * 1000 && !deleting(obj) &&
            sched_delete_object(c, j, "Background", -1, &e) == 0) {
            t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "StartTimeout");
            t->message =
                sched_batch_own(&c->b, xasprintf("workers not all running in %s after %d s;"
                                                 " deleted and requeued",
                                                 j->cluster, s->o.start_timeout_s));
        }
        break;
    case K8S_JOB_RUNNING:
        if (j->phase == PHASE_DISPATCHED) {
            t = sched_batch_add(&c->b, k, j, PHASE_RUNNING, "Running");
            t->message = sched_batch_own(&c->b, xasprintf("all workers running in %s", j->cluster));
        }
        break;
    case K8S_JOB_SUCCEEDED:
        final_message(kind, obj, msg, sizeof(msg));
        t = sched_batch_add(&c->b, k, j, PHASE_SUCCEEDED,
                            reason[0] ? sched_batch_own(&c->b, xstrdup(reason)) : "Completed");
        t->message = sched_batch_own(
            &c->b, xasprintf("completed in %s%s%s", j->cluster, msg[0] ? ": " : "", msg));
        break;
    case K8S_JOB_STOPPED:
        /* Somebody stopped the Ray job in the member cluster (ray job stop): the work
         * did not finish, and it was not the job's fault either. */
        final_message(kind, obj, msg, sizeof(msg));
        t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Stopped");
        t->message = sched_batch_own(&c->b, xasprintf("stopped in %s, outside fedsched%s%s",
                                                      j->cluster, msg[0] ? ": " : "", msg));
        break;
    case K8S_JOB_FAILED:
        if (strcmp(reason, "PodFailurePolicy") == 0) {
            /* Our pod-failure rule fired: Kubernetes evicted or preempted a worker. */
            t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Disrupted");
            t->preempted = true;
            t->message = sched_batch_own(&c->b, xasprintf("a worker was evicted or preempted in %s;"
                                                          " requeued",
                                                          j->cluster));
            break;
        }
        final_message(kind, obj, msg, sizeof(msg));
        t = sched_batch_add(&c->b, k, j, PHASE_FAILED,
                            reason[0] ? sched_batch_own(&c->b, xstrdup(reason)) : "Failed");
        t->message = sched_batch_own(
            &c->b, xasprintf("failed in %s%s%s", j->cluster, msg[0] ? ": " : "", msg));
        break;
    }
}

/* Whether collection may touch obj: only objects of this installation's origin. Objects
 * of another origin belong to another fedsched sharing the cluster. Objects without an
 * origin label were made by a fedsched older than the label (or by hand): they may be
 * another installation's, so they are left alone, and logged at debug level; an
 * installation with no origin id (embedders, tests) takes them as its own, as before. */
static bool collectable(const json_t *obj, const char *origin, const char *cluster,
                        const char *name)
{
    const char *have = manifest_object_origin(obj);

    if (!origin || !*origin)
        return !have || !*have;
    if (!have)
        LOG(LOG_DEBUG, "sched", "event=gc_skipped cluster=%s object=%s reason=no_origin", cluster,
            name);
    return have && strcmp(have, origin) == 0;
}

/* Deletes the objects in items of our origin that no live attempt at this cluster owns.
 * live is sorted by uid. */
static void collect(struct cycle *c, struct cview *v, const json_t *items, enum k8s_job_kind kind,
                    const struct uid_ref *live, size_t n_live)
{
    const struct cluster_config *cfg = NULL;
    struct k8s_client *client = sched_clients_get(c->s->clients, v->name, &cfg);
    size_t i;
    const json_t *obj;

    json_array_foreach(items, i, obj)
    {
        char uid[64];
        int attempt = 0;
        struct uid_ref key = {uid, 0}, *hit;
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        struct err e = {0};

        if (!name || deleting(obj) || !manifest_object_owner(obj, uid, sizeof(uid), &attempt) ||
            !collectable(obj, c->s->o.origin_id, v->name, name))
            continue;
        hit = bsearch(&key, live, n_live, sizeof(*live), cmp_uid_ref);
        if (hit) {
            const struct store_sched_job *j = &c->jobs.v[hit->job];

            if (sched_placed_phase(j->phase) && j->attempt == attempt &&
                strcmp(j->cluster, v->name) == 0)
                continue;
        }
        if (!client || v->broken || !leader_fresh(c->s->leader, 5000))
            return;
        if (k8s_job_delete(client, kind, cfg->job_namespace, name, "Background", -1, NULL, &e) &&
            e.code != ERR_NOT_FOUND) {
            LOG(LOG_WARN, "sched", "event=gc_failed cluster=%s object=%s msg=\"%s\"", v->name, name,
                e.msg);
            if (sched_transport_error(e.code))
                v->broken = true;
            continue;
        }
        LOG(LOG_INFO, "sched", "event=gc_deleted cluster=%s object=%s uid=%s attempt=%d", v->name,
            name, uid, attempt);
    }
}

/* Finds the item named name in a list (items are few per cluster compared with a hash's
 * set-up cost; the list is walked once per job otherwise, so index it). */
static json_t *index_items(const json_t *items)
{
    json_t *idx = json_object();
    size_t i;
    json_t *obj;

    json_array_foreach(items, i, obj)
    {
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));

        if (name)
            json_object_set(idx, name, obj);
    }
    return idx;
}

/* Applies what tracking found; the objects of jobs that just ended are deleted at once
 * (their outcome is recorded), which keeps the lists the next cycles parse short. */
static void finish_tracked(struct cycle *c)
{
    size_t n = c->b.n;
    bool *ok = xcalloc(n + 1, sizeof(*ok));

    sched_apply(c, ok);
    for (size_t i = 0; i < n && !c->deposed; i++) {
        const struct store_transition *t = &c->b.t[i];
        struct err e = {0};

        /* A user's cancel deleted its object already; a Ray job stopped outside did not. */
        if (!ok[i] || (t->to != PHASE_SUCCEEDED && t->to != PHASE_FAILED &&
                       !(t->to == PHASE_CANCELLED && strcmp(t->reason, "Stopped") == 0)))
            continue;
        if (!leader_fresh(c->s->leader, 5000))
            break;
        if (sched_delete_object(c, &c->jobs.v[c->b.job[i]], "Background", -1, &e))
            LOG(LOG_DEBUG, "sched", "event=finished_delete_failed job=%s msg=\"%s\"",
                c->jobs.v[c->b.job[i]].name, e.msg);
    }
    free(ok);
    sched_batch_reset(&c->b);
}

/* Lists fedsched's objects per cluster and moves the jobs there along. all: every placed
 * job (a new snapshot came, or the timer); otherwise only those waiting on us (cancel
 * requests, reclaims), so a burst of submissions does not re-list every cluster each
 * cycle. The list selects the managed-by label only, not the origin: tracking finds a job's
 * object by name, and the objects of jobs dispatched before the origin label existed (or
 * before originId changed) must still be found, or they would be requeued as missing and
 * run twice. Collection filters by origin itself (collectable()). */
void sched_step_track(struct cycle *c, bool gc, bool all)
{
    struct sched *s = c->s;
    struct uid_ref *live = xcalloc(c->jobs.n + 1, sizeof(*live));
    size_t n_live = 0;
    char selector[128];

    snprintf(selector, sizeof(selector), "%s=%s", K8S_LABEL_MANAGED_BY, K8S_MANAGED_BY);
    for (size_t k = 0; k < c->jobs.n; k++)
        live[n_live++] = (struct uid_ref){c->jobs.v[k].uid, k};
    qsort(live, n_live, sizeof(*live), cmp_uid_ref);
    for (size_t ci = 0; ci < c->n_cv && !c->deposed; ci++) {
        struct cview *v = &c->cv[ci];
        const struct cluster_config *cfg = NULL;
        struct k8s_client *client;
        json_t *items[2] = {NULL, NULL}, *idx[2] = {NULL, NULL};
        bool need[2] = {gc, gc}, any = false;
        struct err e = {0};

        for (size_t k = 0; k < c->jobs.n; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];

            if ((j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING ||
                 j->phase == PHASE_PREEMPTING) &&
                (all || j->cancel_requested || j->phase == PHASE_PREEMPTING) &&
                strcmp(j->cluster, v->name) == 0) {
                need[sched_kind_of(j)] = true;
                any = true;
            }
        }
        if (!any && !gc)
            continue;
        /* A cluster the poller has given up on (it backs off for up to a minute) is still
         * tried at collection time: that is how stale copies go as soon as it is back. */
        if (v->broken || ((!v->reachable || v->lost) && !gc))
            continue;
        client = sched_clients_get(s->clients, v->name, &cfg);
        if (!client)
            continue;
        for (int kind = 0; kind < 2; kind++) {
            if (!need[kind])
                continue;
            if (k8s_job_list(client, (enum k8s_job_kind)kind, cfg->job_namespace, selector,
                             &items[kind], &e)) {
                /* A cluster without KubeRay answers 404 for RayJobs: nothing of ours there. */
                if (kind == K8S_KIND_RAYJOB && e.code == ERR_NOT_FOUND && !any) {
                    items[kind] = json_array();
                    continue;
                }
                LOG(LOG_WARN, "sched", "event=list_failed cluster=%s kind=%d msg=\"%s\"", v->name,
                    kind, e.msg);
                if (sched_transport_error(e.code))
                    v->broken = true;
                break;
            }
            idx[kind] = index_items(items[kind]);
        }
        if (v->broken || (need[0] && !idx[0]) || (need[1] && !idx[1])) {
            for (int kind = 0; kind < 2; kind++) {
                json_decref(items[kind]);
                json_decref(idx[kind]);
            }
            continue;
        }
        for (size_t k = 0; k < c->jobs.n; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];
            char name[MANIFEST_NAME_MAX];
            enum k8s_job_kind kind = sched_kind_of(j);

            if (!(j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING ||
                  j->phase == PHASE_PREEMPTING) ||
                strcmp(j->cluster, v->name) != 0)
                continue;
            manifest_object_name(j->uid, j->attempt, name, sizeof(name));
            track_job(c, k, json_object_get(idx[kind], name), kind);
        }
        /* Persist what tracking found before collecting, so an object is only deleted
         * once no live attempt owns it in the database either. */
        finish_tracked(c);
        if (gc && !c->deposed)
            for (int kind = 0; kind < 2; kind++)
                if (items[kind])
                    collect(c, v, items[kind], (enum k8s_job_kind)kind, live, n_live);
        for (int kind = 0; kind < 2; kind++) {
            json_decref(items[kind]);
            json_decref(idx[kind]);
        }
    }
    free(live);
}

/* Queued jobs whose cancel arrived after a requeue end here (the API ends Queued ones at
 * once, but a job may be requeued after the request). */
void sched_step_cancel_queued(struct cycle *c)
{
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase == PHASE_QUEUED && j->cancel_requested) {
            struct store_transition *t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");

            t->message = "cancelled by the user";
        }
    }
    sched_apply(c, NULL);
    sched_batch_reset(&c->b);
}
