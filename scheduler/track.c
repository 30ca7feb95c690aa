/* track.c -- step 5 of a cycle: member-cluster objects to phases (Running, Succeeded,
 * Failed, Cancelled), cancellation, reclaim completion, missing objects, diagnosis of a
 * job's pods (cluster/pod_status.h), suspended Jobs, and garbage collection. Finished
 * objects are left to Kubernetes' ttlSecondsAfterFinished; collection removes them only
 * well after that (finished_collectable()). Every object carries MANIFEST_FINALIZER, so
 * one the TTL (or anybody) deleted stays, marked, until it is released here: a finished
 * one once its final phase is committed, an unfinished marked one at once, any other of
 * ours that no live attempt owns by collection. */
#include "scheduler/internal.h"

#include "cluster/pod_status.h"
#include "scheduler/retry.h"
#include "scheduler/specs.h"

/* A finished object of ours is collected this long after its ttlSecondsAfterFinished (or
 * after it finished, when no TTL is set): Kubernetes' TTL controller normally got it first,
 * this is the fallback for clusters where it did not run. */
#define FINISHED_GC_SLACK_S 600

/* What tracking remembers about a placed job between cycles (leader-local: a new leader
 * lists pods at once and starts the clocks again, which only makes it later to act). */
struct diag_mem {
    int64_t id;
    int attempt;
    int64_t next_check_ms;     /* wall clock: its pods are not listed again before */
    int64_t image_since_ms;    /* first seen waiting on its image; 0: not waiting */
    int64_t suspended_seen_ms; /* first seen suspended, for a RayJob (no condition time) */
};

static struct diag_mem *diag_mem_get(struct sched *s, const struct store_sched_job *j)
{
    struct diag_mem *m;

    for (size_t i = 0; i < s->n_diag; i++)
        if (s->diag[i].id == j->id && s->diag[i].attempt == j->attempt)
            return &s->diag[i];
    s->diag = xrealloc(s->diag, (s->n_diag + 1) * sizeof(*s->diag));
    m = &s->diag[s->n_diag++];
    memset(m, 0, sizeof(*m));
    m->id = j->id;
    m->attempt = j->attempt;
    return m;
}

/* Forgets jobs that are no longer Dispatched or Running at the attempt remembered. */
static void diag_mem_prune(struct cycle *c)
{
    struct sched *s = c->s;
    size_t n = 0;

    for (size_t i = 0; i < s->n_diag; i++) {
        bool keep = false;

        for (size_t k = 0; k < c->jobs.n && !keep; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];

            keep = j->id == s->diag[i].id && j->attempt == s->diag[i].attempt &&
                   (j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING);
        }
        if (keep)
            s->diag[n++] = s->diag[i];
    }
    s->n_diag = n;
}

/* Lists the pods of j's current attempt and diagnoses them into *d and line. False when
 * none is in trouble or the pods cannot be listed (logged; tracking goes on without). */
static bool diagnose_pods(struct cycle *c, const struct store_sched_job *j, struct pod_diag *d,
                          char *line, size_t size)
{
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *client = sched_client_for(c, j->cluster, &cfg, &v);
    char selector[160];
    json_t *pods = NULL;
    bool found;
    struct err e = {0};

    if (!client)
        return false;
    snprintf(selector, sizeof(selector), "%s=%s,%s=%d", K8S_LABEL_JOB_UID, j->uid,
             K8S_LABEL_ATTEMPT, j->attempt);
    if (k8s_job_list(client, K8S_KIND_POD, NULL, selector, &pods, &e)) {
        LOG(LOG_WARN, "sched", "event=pods_list_failed cluster=%s job=%s msg=\"%s\"", j->cluster,
            j->name, e.msg);
        sched_cluster_refused(c, j->cluster, client, &e);
        if (sched_transport_error(e.code) && v)
            v->broken = true;
        return false;
    }
    found = pod_status_diagnose(pods, d);
    json_decref(pods);
    if (found)
        pod_diag_format(d, line, size);
    return found;
}

/* Records a note (status reason and message, and an event) on j; a failure is logged and
 * only costs the note. */
static void note(struct cycle *c, const struct store_sched_job *j, const char *type,
                 const char *reason, const char *message)
{
    struct store_note n = {j->id, j->attempt, type, reason, message};
    struct err e = {0};

    if (store_job_note(c->s->store, c->s->epoch, &n, NULL, &e)) {
        LOG(LOG_WARN, "sched", "event=note_failed job=%s msg=\"%s\"", j->name, e.msg);
        if (e.code == ERR_CONFLICT)
            c->deposed = true;
    }
}

/* The retry policy of j (scheduler/retry.h): its spec's, or its namespace's default. The
 * spec comes from the leader's cache (one query when this leader did not dispatch it); when
 * it cannot be read the job has no policy this pass, which only fails it as before. */
static void job_retry_policy(struct cycle *c, const struct store_sched_job *j,
                             struct retry_policy *p)
{
    const struct spec_entry *sp;
    struct err e = {0};

    if (spec_cache_fill(c->s->specs, c->s->store, &j->id, 1, &e)) {
        LOG(LOG_WARN, "sched", "event=spec_read_failed job=%s msg=\"%s\"", j->name, e.msg);
        memset(p, 0, sizeof(*p));
        return;
    }
    sp = spec_cache_get(c->s->specs, j->id);
    retry_policy_for(sp ? sp->spec : NULL, j->ns, p);
}

/* A failed attempt under its retry policy: the first matching rule (or none) decides
 * whether j is queued again after its back-off, as a new attempt placed afresh (resuming
 * from its checkpoint volume, as every requeue does), or fails; the event's reason and
 * message name the rule. what: how it failed ("failed in east: ..."); disrupted: evicted or
 * preempted by the member cluster, which counts as a preemption too. Returns false when the
 * policy has no say (no retries, or nothing a rule can name): the caller ends j as it would
 * without one. */
static bool retry_failed(struct cycle *c, size_t k, const struct retry_failure *f, const char *what,
                         bool disrupted)
{
    struct store_sched_job *j = &c->jobs.v[k];
    struct retry_policy p;
    struct retry_verdict v;
    struct store_transition *t;

    job_retry_policy(c, j, &p);
    retry_decide(&p, f, j->retries, &v);
    retry_policy_clear(&p);
    if (!v.by_policy)
        return false;
    t = sched_batch_add(&c->b, k, j, v.retry ? PHASE_QUEUED : PHASE_FAILED,
                        sched_batch_own(&c->b, xstrdup(v.reason)));
    t->message =
        sched_batch_own(&c->b, xasprintf("%s; %s%s", v.message, what, v.retry ? "; requeued" : ""));
    if (v.retry) {
        struct policy_running ru = {0};

        t->retry = true;
        t->preempted = disrupted;
        t->not_before_ms = c->now + v.backoff_ms;
        /* The work since the last checkpoint (or the start) is lost: the ledger's row. */
        ru.gpus = j->gpu_count;
        ru.started_ms = j->started_ms ? j->started_ms : c->now;
        ru.last_checkpoint_ms = j->last_checkpoint_ms;
        t->reclaim_reason = "retry";
        t->gpus = j->gpu_count;
        t->lost_gpu_hours = policy_lost_gpu_hours(&ru, c->now);
    }
    return true;
}

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

/* The namespace a listed object is in (lists span every namespace: each tenant's objects
 * are in its own member namespace, cluster_member_namespace()). */
static const char *object_ns(const json_t *obj)
{
    const char *ns =
        json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));

    return ns ? ns : "";
}

/* Releases a tracked object (the finalizer comes off; a marked object then goes). Its
 * namespace and name are read from obj, as j may have moved on to another attempt. A
 * failure is logged; the next pass tries again. */
static void track_release(struct cycle *c, const char *cluster, enum k8s_job_kind kind,
                          const json_t *obj)
{
    const char *name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *client = sched_client_for(c, cluster, &cfg, &v);
    struct err e = {0};

    if (!client || !name || !leader_fresh(c->s->leader, 5000))
        return;
    if (sched_release(client, kind, object_ns(obj), name, obj, &e)) {
        LOG(LOG_WARN, "sched", "event=release_failed cluster=%s object=%s msg=\"%s\"", cluster,
            name, e.msg);
        if (sched_transport_error(e.code) && v)
            v->broken = true;
    }
}

/* A job suspended in its member cluster (by the cluster's own queueing, Kueue say, or an
 * admin): reported once, not held to the start timeout, and given back after
 * suspended_timeout_s so it can run elsewhere. since_ms: when it was suspended (0:
 * unknown, then when we first saw it). */
static void track_suspended(struct cycle *c, size_t k, const json_t *obj, int64_t since_ms,
                            const char *why)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct diag_mem *m = diag_mem_get(s, j);
    struct store_transition *t;
    struct err e = {0};

    if (!since_ms) {
        if (!m->suspended_seen_ms)
            m->suspended_seen_ms = c->now;
        since_ms = m->suspended_seen_ms;
    } else {
        /* The condition's time has whole seconds: it happened up to 999 ms after that, and
         * the timeout must not fire early. */
        since_ms += 999;
    }
    if (s->o.suspended_timeout_s > 0 &&
        c->now - since_ms > (int64_t)s->o.suspended_timeout_s * 1000 &&
        sched_delete_object(c, j, obj, "Background", -1, &e) == 0) {
        t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Suspended");
        t->message = sched_batch_own(&c->b, xasprintf("suspended in %s for more than %d s%s%s;"
                                                      " deleted and requeued",
                                                      j->cluster, s->o.suspended_timeout_s,
                                                      why[0] ? ": " : "", why));
        return;
    }
    if (c->now >= m->next_check_ms) {
        char *msg = xasprintf("suspended in %s%s%s; not counted against the start timeout",
                              j->cluster, why[0] ? ": " : "", why);

        m->next_check_ms = c->now + (int64_t)s->o.pod_check_interval_s * 1000;
        note(c, j, "Suspended", "Suspended", msg);
        free(msg);
    }
}

/* A dispatched job whose pods are not all running: at most once per pod_check_interval_s,
 * its pods' troubles become its status and an event; a pod waiting on its image longer
 * than image_pull_timeout_s fails the job. Returns true when it ended the job. */
static bool diagnose_pending(struct cycle *c, size_t k, const json_t *obj)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct diag_mem *m = diag_mem_get(s, j);
    struct pod_diag d;
    struct store_transition *t;
    char line[512], *msg;
    struct err e = {0};

    if (c->now < m->next_check_ms)
        return false;
    m->next_check_ms = c->now + (int64_t)s->o.pod_check_interval_s * 1000;
    if (!diagnose_pods(c, j, &d, line, sizeof(line))) {
        m->image_since_ms = 0;
        return false;
    }
    if (!pod_diag_image_trouble(&d))
        m->image_since_ms = 0;
    else if (!m->image_since_ms)
        m->image_since_ms = c->now;
    if (m->image_since_ms && s->o.image_pull_timeout_s > 0 &&
        c->now - m->image_since_ms >= (int64_t)s->o.image_pull_timeout_s * 1000 &&
        sched_delete_object(c, j, obj, "Background", -1, &e) == 0) {
        struct retry_failure f = retry_classify(false, true, &d);

        msg = sched_batch_own(&c->b, xasprintf("image not pulled in %s within %d s: %s; deleted",
                                               j->cluster, s->o.image_pull_timeout_s, line));
        if (retry_failed(c, k, &f, msg, false))
            return true;
        t = sched_batch_add(&c->b, k, j, PHASE_FAILED, "ImagePullBackOff");
        t->message = msg;
        return true;
    }
    msg = xasprintf("pods not all running in %s: %s", j->cluster, line);
    note(c, j, "Diagnosis", d.reason, msg);
    free(msg);
    return false;
}

/* Pending in the member cluster: suspended, in trouble, or simply slow. Placed on capacity
 * the member cluster's own scheduler cannot find (the snapshot was stale, or it packs
 * differently), the job gives the GPUs back after start_timeout_s and is placed again
 * rather than hold them forever; time suspended does not count (the clock starts again
 * when the Job is resumed). */
static void track_pending(struct cycle *c, size_t k, const json_t *obj, enum k8s_job_kind kind)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct store_transition *t;
    int64_t since = 0, from;
    char why[256];
    struct err e = {0};

    if (j->phase != PHASE_DISPATCHED || sched_object_deleting(obj))
        return;
    if (pod_status_suspended(kind, obj, &since, why, sizeof(why))) {
        track_suspended(c, k, obj, since, why);
        return;
    }
    if (diagnose_pending(c, k, obj))
        return;
    from = j->dispatched_ms;
    if (pod_status_resumed_ms(kind, obj) > from)
        from = pod_status_resumed_ms(kind, obj);
    if (s->o.start_timeout_s > 0 && from && c->now - from > (int64_t)s->o.start_timeout_s * 1000 &&
        sched_delete_object(c, j, obj, "Background", -1, &e) == 0) {
        t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "StartTimeout");
        t->message = sched_batch_own(&c->b, xasprintf("workers not all running in %s after %d s;"
                                                      " deleted and requeued",
                                                      j->cluster, s->o.start_timeout_s));
    }
}

/* A failed object: its pods say why (OOMKilled, an exit code, an eviction). The diagnosis
 * (in *d; false when there is none) becomes a PodFailed event before the phase change and
 * ends the failure message. */
static bool pods_failed(struct cycle *c, const struct store_sched_job *j, struct pod_diag *d,
                        char *line, size_t size)
{
    line[0] = '\0';
    if (!diagnose_pods(c, j, d, line, size))
        return false;
    note(c, j, "PodFailed", d->reason, line);
    return true;
}

/* Moves j along by its object obj (NULL: absent). Returns true when obj has finished: its
 * release waits until what tracking made of it is committed (finish_tracked()). A marked
 * object that has not finished (somebody deleted it, or a crash came between our delete and
 * release) is released at once: nothing in it is waited for. watched: obj comes from the
 * connector's watch, which may lag: an absence is asked of the cluster before it counts. */
static bool track_job(struct cycle *c, size_t k, const json_t *obj, enum k8s_job_kind kind,
                      bool watched)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct store_transition *t;
    char reason[64], msg[256], pods[512];
    struct pod_diag d;
    enum k8s_job_state st;
    struct err e = {0};

    if (j->cancel_requested) {
        /* Not in a watch's store may only mean not seen yet: delete by name all the same
         * (gone already is fine). */
        if ((obj || watched) && sched_delete_object(c, j, obj, "Background", -1, &e))
            return false;
        t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
        t->message =
            sched_batch_own(&c->b, xasprintf("cancelled by the user; deleted from %s", j->cluster));
        return false;
    }
    if (j->phase == PHASE_PREEMPTING) {
        if (!obj && watched && sched_object_exists(c, j, &e) != 0)
            return false; /* the watch has not seen it go yet */
        if (!obj) {
            int64_t freed = clock_realtime_ms();

            t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Preempted");
            t->preempted = true;
            t->message = sched_batch_own(&c->b, xasprintf("reclaimed from %s; its GPUs are free; "
                                                          "requeued",
                                                          j->cluster));
            pthread_mutex_lock(&s->m.mu);
            sched_latency_add(
                &s->m.freed,
                (double)(freed - (j->preempt_requested_ms ? j->preempt_requested_ms : freed)) /
                    1000.0);
            pthread_mutex_unlock(&s->m.mu);
        } else if (j->checkpoint_requested_ms > 0 && !sched_object_deleting(obj)) {
            /* Asked to checkpoint: deleted at the checkpoint or the deadline. */
            sched_checkpoint_first(c, k, obj);
        } else if (leader_fresh(s->leader, 5000)) {
            /* Deleted already: only released, should a crash have come in between. */
            sched_delete_object(c, j, obj, "Foreground", (int)policy_grace_s(&s->policy), &e);
        }
        return false;
    }
    if (!obj) {
        /* Absent right after creation can be a lagging cache on a real API server; absent
         * for longer, somebody deleted it: run the attempt again elsewhere. */
        int64_t since = j->dispatched_ms ? j->dispatched_ms : j->admitted_ms;

        if (c->now - since < (int64_t)s->o.missing_grace_s * 1000)
            return false;
        if (watched && sched_object_exists(c, j, &e) != 0) {
            if (e.code == ERR_NONE)
                LOG(LOG_WARN, "sched", "event=watch_lagging cluster=%s job=%s", j->cluster,
                    j->name);
            return false; /* there after all (the watch is behind), or the cluster cannot say */
        }
        t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "ObjectMissing");
        t->message =
            sched_batch_own(&c->b, xasprintf("its %s vanished from %s; requeued",
                                             kind == K8S_KIND_JOB ? "Job" : "RayJob", j->cluster));
        return false;
    }
    st = k8s_job_state_of(kind, obj, reason, sizeof(reason));
    if ((st == K8S_JOB_PENDING || st == K8S_JOB_RUNNING) && sched_object_deleting(obj))
        track_release(c, j->cluster, kind, obj);
    switch (st) {
    case K8S_JOB_PENDING: track_pending(c, k, obj, kind); break;
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
    case K8S_JOB_FAILED: {
        bool disrupted = strcmp(reason, "PodFailurePolicy") == 0;
        bool diagnosed = pods_failed(c, j, &d, pods, sizeof(pods));
        struct retry_failure f = retry_classify(disrupted, false, diagnosed ? &d : NULL);
        char *what;

        final_message(kind, obj, msg, sizeof(msg));
        /* Our pod-failure rule fired: Kubernetes evicted or preempted a worker. */
        what = sched_batch_own(
            &c->b, disrupted ? xasprintf("a worker was evicted or preempted in %s%s%s", j->cluster,
                                         pods[0] ? ": " : "", pods)
                             : xasprintf("failed in %s%s%s%s%s", j->cluster, msg[0] ? ": " : "",
                                         msg, pods[0] ? "; " : "", pods));
        if (retry_failed(c, k, &f, what, disrupted))
            break;
        if (disrupted) {
            /* Without a retry policy an eviction is not the job's fault: requeued. */
            t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, "Disrupted");
            t->preempted = true;
            t->message = sched_batch_own(&c->b, xasprintf("%s; requeued", what));
            break;
        }
        t = sched_batch_add(&c->b, k, j, PHASE_FAILED,
                            reason[0] ? sched_batch_own(&c->b, xstrdup(reason)) : "Failed");
        t->message = what;
        break;
    }
    }
    return st == K8S_JOB_SUCCEEDED || st == K8S_JOB_FAILED || st == K8S_JOB_STOPPED;
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

/* Whether a finished object may go: when it is not its job's last attempt (no job has its
 * uid, or the job was requeued since: nobody will read its logs), or once it finished more
 * than its TTL and FINISHED_GC_SLACK_S ago, or when its finish time cannot be read.
 * Objects still running that no live attempt owns may always go. */
static bool finished_collectable(struct cycle *c, enum k8s_job_kind kind, const json_t *obj,
                                 bool last_attempt)
{
    char reason[64];
    enum k8s_job_state st = k8s_job_state_of(kind, obj, reason, sizeof(reason));
    int64_t at, keep_s = c->s->o.finished_ttl_s > 0 ? c->s->o.finished_ttl_s : 0;

    if (!last_attempt || (st != K8S_JOB_SUCCEEDED && st != K8S_JOB_FAILED && st != K8S_JOB_STOPPED))
        return true;
    at = pod_status_finished_ms(kind, obj);
    return !at || c->now - at > (keep_s + FINISHED_GC_SLACK_S) * 1000;
}

/* An object collection may delete: of our origin, and no live attempt at this cluster
 * owns it. */
struct gc_candidate {
    const json_t *obj;
    const char *name;
    char uid[64];
    int attempt;
};

/* The objects in items that collection may delete, in *out (caller frees); live is sorted
 * by uid. */
static size_t gc_candidates(struct cycle *c, const struct cview *v, const json_t *items,
                            const struct uid_ref *live, size_t n_live, struct gc_candidate **out)
{
    struct gc_candidate *cand = xcalloc(json_array_size(items) + 1, sizeof(*cand));
    size_t n = 0, i;
    const json_t *obj;

    json_array_foreach(items, i, obj)
    {
        struct gc_candidate *g = &cand[n];
        struct uid_ref key = {g->uid, 0}, *hit;

        g->obj = obj;
        g->name = json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        /* A marked object is ours to touch only while our finalizer holds it. */
        if (!g->name || (sched_object_deleting(obj) && !sched_object_held(obj)) ||
            !manifest_object_owner(obj, g->uid, sizeof(g->uid), &g->attempt) ||
            !collectable(obj, c->s->o.origin_id, v->name, g->name))
            continue;
        hit = bsearch(&key, live, n_live, sizeof(*live), cmp_uid_ref);
        if (hit) {
            const struct store_sched_job *j = &c->jobs.v[hit->job];

            if (sched_placed_phase(j->phase) && j->attempt == g->attempt &&
                strcmp(j->cluster, v->name) == 0)
                continue;
        }
        n++;
    }
    *out = cand;
    return n;
}

/* Deletes and releases the objects in items of our origin that no live attempt at this
 * cluster owns; the finished object of a job's last attempt only well after its TTL. A
 * marked one (its TTL came, or a crash fell between a delete and its release) is only
 * released. live is sorted by uid. */
static void collect(struct cycle *c, struct cview *v, const json_t *items, enum k8s_job_kind kind,
                    const struct uid_ref *live, size_t n_live)
{
    struct k8s_client *client = sched_clients_get(c->s->clients, v->name, NULL);
    struct gc_candidate *cand = NULL;
    size_t n = gc_candidates(c, v, items, live, n_live, &cand);
    const char **uids = xcalloc(n + 1, sizeof(*uids));
    int *attempt = xcalloc(n + 1, sizeof(*attempt));
    struct err e = {0};

    for (size_t i = 0; i < n; i++)
        uids[i] = cand[i].uid;
    if (n && store_jobs_attempts(c->s->store, uids, n, attempt, &e)) {
        LOG(LOG_WARN, "sched", "event=gc_failed cluster=%s msg=\"%s\"", v->name, e.msg);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        const struct gc_candidate *g = &cand[i];

        if (!sched_object_deleting(g->obj) &&
            !finished_collectable(c, kind, g->obj, attempt[i] == g->attempt))
            continue;
        if (!client || v->broken || !leader_fresh(c->s->leader, 5000))
            break;
        if (sched_delete_release(client, kind, object_ns(g->obj), g->name, g->obj, "Background", -1,
                                 &e)) {
            LOG(LOG_WARN, "sched", "event=gc_failed cluster=%s object=%s msg=\"%s\"", v->name,
                g->name, e.msg);
            if (sched_transport_error(e.code))
                v->broken = true;
            continue;
        }
        LOG(LOG_INFO, "sched", "event=gc_deleted cluster=%s object=%s uid=%s attempt=%d", v->name,
            g->name, g->uid, g->attempt);
    }
out:
    free(attempt);
    free(uids);
    free(cand);
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

/* A finished object whose release waits for the commit of what tracking made of it. */
struct held {
    size_t t;          /* its transition in the batch */
    const json_t *obj; /* borrowed from the cluster's list */
    enum k8s_job_kind kind;
};

/* Applies what tracking found, then releases the finished objects whose transition was
 * committed: from then on Kubernetes may delete them (at their ttlSecondsAfterFinished, or
 * at once when that already came), and a crash before the release leaves them to
 * collection. Until then they stay in their cluster so their pods and logs can be read. */
static void finish_tracked(struct cycle *c, const char *cluster, const struct held *h, size_t n)
{
    bool *applied = xcalloc(c->b.n + 1, sizeof(*applied));

    sched_apply(c, applied);
    for (size_t i = 0; i < n && !c->deposed; i++)
        if (h[i].t < c->b.n && applied[h[i].t])
            track_release(c, cluster, h[i].kind, h[i].obj);
    free(applied);
    sched_batch_reset(&c->b);
}

/* Lists fedsched's objects per cluster and moves the jobs there along. all: every placed
 * job (a new snapshot came, or the timer); otherwise only those waiting on us (cancel
 * requests, reclaims), so a burst of submissions does not re-list every cluster each
 * cycle. The list spans every namespace (each tenant has its own member namespace, and a
 * job keeps the one it was dispatched to should the template change) and selects the
 * managed-by label only, not the origin: tracking finds a job's
 * object by name, and the objects of jobs dispatched before the origin label existed (or
 * before originId changed) must still be found, or they would be requeued as missing and
 * run twice. Collection filters by origin itself (collectable()). */
void sched_step_track(struct cycle *c, bool gc, bool all)
{
    struct sched *s = c->s;
    struct uid_ref *live = xcalloc(c->jobs.n + 1, sizeof(*live));
    struct held *held = xcalloc(c->jobs.n + 1, sizeof(*held));
    size_t n_live = 0, n_held;
    char selector[128];

    diag_mem_prune(c);
    /* Collection sees every object; tracking alone leaves out the objects whose end is
     * recorded and released: they are kept for their logs until their TTL, and would
     * otherwise make every pass list a day of finished jobs. */
    snprintf(selector, sizeof(selector), "%s=%s%s%s", K8S_LABEL_MANAGED_BY, K8S_MANAGED_BY,
             gc ? "" : ",!", gc ? "" : MANIFEST_LABEL_RECORDED);
    for (size_t k = 0; k < c->jobs.n; k++)
        live[n_live++] = (struct uid_ref){c->jobs.v[k].uid, k};
    qsort(live, n_live, sizeof(*live), cmp_uid_ref);
    for (size_t ci = 0; ci < c->n_cv && !c->deposed; ci++) {
        struct cview *v = &c->cv[ci];
        struct k8s_client *client;
        json_t *items[2] = {NULL, NULL}, *idx[2] = {NULL, NULL};
        bool need[2] = {gc, gc}, any = false, watched[2] = {false, false};
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
        if (v->broken || ((!v->reachable || v->lost) && !gc) ||
            c->now < sched_cluster_calm_until(c, v->name))
            continue;
        client = sched_clients_get(s->clients, v->name, NULL);
        if (!client)
            continue;
        for (int kind = 0; kind < 2; kind++) {
            if (!need[kind])
                continue;
            /* Tracking reads what the connector's watch holds; collection, which must see
             * recorded objects too, lists (every gc_interval). So does tracking while the
             * watch has not listed yet. */
            if (!gc && poller_objects(s->poller, v->name, (enum k8s_job_kind)kind, &items[kind],
                                      NULL) == 0) {
                idx[kind] = index_items(items[kind]);
                watched[kind] = true;
                continue;
            }
            if (k8s_job_list(client, (enum k8s_job_kind)kind, NULL, selector, &items[kind], &e)) {
                /* A cluster without KubeRay answers 404 for RayJobs: nothing of ours there. */
                if (kind == K8S_KIND_RAYJOB && e.code == ERR_NOT_FOUND && !any) {
                    items[kind] = json_array();
                    continue;
                }
                LOG(LOG_WARN, "sched", "event=list_failed cluster=%s kind=%d msg=\"%s\"", v->name,
                    kind, e.msg);
                sched_cluster_refused(c, v->name, client, &e);
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
        n_held = 0;
        for (size_t k = 0; k < c->jobs.n; k++) {
            const struct store_sched_job *j = &c->jobs.v[k];
            char name[MANIFEST_NAME_MAX];
            enum k8s_job_kind kind = sched_kind_of(j);
            const json_t *obj;
            size_t before = c->b.n;

            if (!(j->phase == PHASE_DISPATCHED || j->phase == PHASE_RUNNING ||
                  j->phase == PHASE_PREEMPTING) ||
                strcmp(j->cluster, v->name) != 0)
                continue;
            manifest_object_name(j->uid, j->attempt, name, sizeof(name));
            obj = json_object_get(idx[kind], name);
            if (track_job(c, k, obj, kind, watched[kind]) && c->b.n > before)
                held[n_held++] = (struct held){before, obj, kind};
        }
        /* Persist what tracking found before collecting, so an object is only deleted
         * once no live attempt owns it in the database either. */
        finish_tracked(c, v->name, held, n_held);
        if (gc && !c->deposed)
            for (int kind = 0; kind < 2; kind++)
                if (items[kind])
                    collect(c, v, items[kind], (enum k8s_job_kind)kind, live, n_live);
        for (int kind = 0; kind < 2; kind++) {
            json_decref(items[kind]);
            json_decref(idx[kind]);
        }
    }
    free(held);
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
