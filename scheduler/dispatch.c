/* dispatch.c -- steps 3 and 4 of a cycle: deleting reclaimed jobs' objects with their
 * grace period, and creating the objects of admitted jobs in their member clusters
 * (through member_calls.c). */
#include "scheduler/internal.h"

#include "base/job_token.h"

/* ---- step 3: reclaim deletes ---------------------------------------------------------------- */

/* A Preempting job's object is deleted in the foreground and released: the object stays
 * (with a deletion timestamp) until its pods are gone, so "object absent" means "GPUs
 * free". Unreleased, MANIFEST_FINALIZER would keep it past that; tracking releases it
 * should a crash come between delete and release. */
void sched_step_preempt(struct cycle *c, bool only_new)
{
    struct sched *s = c->s;

    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];
        struct err e = {0};

        if (j->phase != PHASE_PREEMPTING || (only_new && j->preempt_requested_ms != c->now))
            continue;
        if (!leader_fresh(s->leader, 5000))
            return;
        if (j->checkpoint_requested_ms > 0) {
            /* Checkpoint first: the request is made visible now, the delete waits for the
             * checkpoint or the deadline (tracking comes back to it every cycle). */
            sched_checkpoint_first(c, k, NULL);
        } else if (sched_delete_object(c, j, NULL, "Foreground", (int)policy_grace_s(&s->policy),
                                       &e)) {
            LOG(LOG_WARN, "sched", "event=reclaim_delete_failed job=%s/%s cluster=%s msg=\"%s\"",
                j->ns, j->name, j->cluster, e.msg);
            continue;
        }
        if (only_new) {
            pthread_mutex_lock(&s->m.mu);
            s->m.reclaims++;
            s->m.ckpt_requests += j->checkpoint_requested_ms > 0;
            sched_latency_add(&s->m.req, (double)(clock_realtime_ms() - c->snap_taken_ms) / 1000.0);
            pthread_mutex_unlock(&s->m.mu);
            LOG(LOG_INFO, "sched",
                "event=reclaim_requested job=%s/%s cluster=%s latency_ms=%" PRId64, j->ns, j->name,
                j->cluster, clock_realtime_ms() - c->snap_taken_ms);
        }
    }
}

/* ---- checkpoint-first victims ------------------------------------------------------------------ */

/* Why a checkpoint-first victim may go now: it reported a checkpoint at or after the request
 * (last_checkpoint_at and checkpoint_requested_at are both the database's clock, unless the
 * pod gave the checkpoint's own time), or its deadline passed; CKPT_WAIT otherwise. */
enum ckpt_due { CKPT_WAIT, CKPT_AT_CHECKPOINT, CKPT_AT_DEADLINE };

static enum ckpt_due ckpt_due(const struct cycle *c, const struct store_sched_job *j)
{
    if (j->last_checkpoint_ms > 0 && j->last_checkpoint_ms >= j->checkpoint_requested_ms)
        return CKPT_AT_CHECKPOINT;
    if (j->checkpoint_deadline_ms <= 0 || c->now >= j->checkpoint_deadline_ms)
        return CKPT_AT_DEADLINE;
    return CKPT_WAIT;
}

/* Puts the request on j's object unless seen (the object as last read; NULL: not read)
 * carries it already: idempotent, so a new leader or a failed call simply does it again. */
static int ckpt_annotate(struct cycle *c, const struct store_sched_job *j, const json_t *seen,
                         const char *deadline, struct err *e)
{
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *k = sched_client_for(c, j->cluster, &cfg, &v);
    const char *have = json_string_value(
        json_object_get(json_object_get(json_object_get(seen, "metadata"), "annotations"),
                        JOB_CHECKPOINT_ANNOTATION));
    char name[MANIFEST_NAME_MAX], mns[64];

    if (have && strcmp(have, deadline) == 0)
        return 0;
    if (!k)
        return err_set(e, ERR_UNAVAILABLE, "cluster", "cluster %s cannot be reached", j->cluster);
    if (j->member_ns[0])
        snprintf(mns, sizeof(mns), "%s", j->member_ns);
    else if (cluster_member_namespace(cfg, j->ns, mns, sizeof(mns), e))
        return -1;
    manifest_object_name(j->uid, j->attempt, name, sizeof(name));
    if (k8s_job_annotate(k, sched_kind_of(j), mns, name, JOB_CHECKPOINT_ANNOTATION, deadline, NULL,
                         e)) {
        if (sched_transport_error(e->code) && v)
            v->broken = true;
        return -1;
    }
    return 1;
}

static bool ckpt_sent_find(const struct sched *s, const struct store_sched_job *j)
{
    size_t n = s->n_ckpt_sent < CKPT_SENT_RING ? s->n_ckpt_sent : CKPT_SENT_RING;

    for (size_t i = 0; i < n; i++)
        if (s->ckpt_sent[i].id == j->id && s->ckpt_sent[i].attempt == j->attempt)
            return true;
    return false;
}

/* Records a checkpoint-first victim's delete: the ReclaimDelete event saying which came
 * first, the ledger's lost work, the metrics. */
static void ckpt_record_delete(struct cycle *c, const struct store_sched_job *j, enum ckpt_due due,
                               const char *asked, const char *deadline)
{
    struct sched *s = c->s;
    struct store_note n = {j->id, j->attempt, "ReclaimDelete", NULL, NULL};
    struct policy_running ru = {0};
    char at[40], msg[400];
    struct err e = {0};
    double lost = 0;

    clock_format_rfc3339(j->last_checkpoint_ms, at, sizeof(at));
    if (due == CKPT_AT_CHECKPOINT) {
        n.reason = "DeletedAtCheckpoint";
        snprintf(msg, sizeof(msg),
                 "deleted from %s at its checkpoint of %s (asked at %s, deadline %s)", j->cluster,
                 at, asked, deadline);
    } else {
        n.reason = "DeletedAtDeadline";
        snprintf(msg, sizeof(msg),
                 "deleted from %s at the checkpoint deadline %s: no checkpoint "
                 "reported since the request at %s",
                 j->cluster, deadline, asked);
    }
    n.message = msg;
    LOG(LOG_INFO, "sched",
        "event=reclaim_deleted job=%s/%s cluster=%s at=%s requested_at=%s deadline=%s "
        "last_checkpoint=%s",
        j->ns, j->name, j->cluster, due == CKPT_AT_CHECKPOINT ? "checkpoint" : "deadline", asked,
        deadline, j->last_checkpoint_ms ? at : "none");
    if (store_job_note(s->store, s->epoch, &n, NULL, &e)) {
        LOG(LOG_WARN, "sched", "event=note_failed job=%s msg=\"%s\"", j->name, e.msg);
        if (e.code == ERR_CONFLICT)
            c->deposed = true;
    }
    /* The ledger counted the work at risk at the request; what is lost is the work since
     * the last checkpoint now, at the delete. */
    ru.gpus = j->gpu_count;
    ru.started_ms = j->started_ms ? j->started_ms : j->admitted_ms;
    ru.last_checkpoint_ms = j->last_checkpoint_ms;
    if (ru.started_ms > 0 || ru.last_checkpoint_ms > 0)
        lost = policy_lost_gpu_hours(&ru, c->now);
    if (!c->deposed && store_sched_ledger_lost(s->store, s->epoch, j->id, j->attempt, lost, &e)) {
        LOG(LOG_WARN, "sched", "event=ledger_update_failed job=%s msg=\"%s\"", j->name, e.msg);
        if (e.code == ERR_CONFLICT)
            c->deposed = true;
    }
    pthread_mutex_lock(&s->m.mu);
    if (due == CKPT_AT_CHECKPOINT)
        s->m.ckpt_at_checkpoint++;
    else
        s->m.ckpt_at_deadline++;
    pthread_mutex_unlock(&s->m.mu);
}

void sched_checkpoint_first(struct cycle *c, size_t k, const json_t *obj)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    enum ckpt_due due = ckpt_due(c, j);
    char deadline[40], asked[40];
    struct err e = {0};
    int rc;

    if (!leader_fresh(s->leader, 5000))
        return;
    if (due != CKPT_WAIT && ckpt_sent_find(s, j))
        return; /* sent; the watch will show it deleting, then gone */
    clock_format_rfc3339(j->checkpoint_deadline_ms, deadline, sizeof(deadline));
    clock_format_rfc3339(j->checkpoint_requested_ms, asked, sizeof(asked));
    if (due == CKPT_WAIT) {
        rc = ckpt_annotate(c, j, obj, deadline, &e);
        if (rc < 0) {
            /* The API's checkpoint channel carries the request all the same. */
            LOG(LOG_WARN, "sched",
                "event=checkpoint_annotate_failed job=%s/%s cluster=%s msg=\"%s\"", j->ns, j->name,
                j->cluster, e.msg);
        } else if (rc > 0) {
            LOG(LOG_INFO, "sched",
                "event=checkpoint_annotated job=%s/%s cluster=%s requested_at=%s deadline=%s",
                j->ns, j->name, j->cluster, asked, deadline);
        }
        return;
    }
    if (sched_delete_object(c, j, obj, "Foreground", (int)policy_grace_s(&s->policy), &e)) {
        LOG(LOG_WARN, "sched", "event=reclaim_delete_failed job=%s/%s cluster=%s msg=\"%s\"", j->ns,
            j->name, j->cluster, e.msg);
        return;
    }
    s->ckpt_sent[s->n_ckpt_sent++ % CKPT_SENT_RING] = (struct ckpt_sent){j->id, j->attempt};
    ckpt_record_delete(c, j, due, asked, deadline);
}

/* ---- step 4: dispatch ------------------------------------------------------------------------- */

/* base * 2^(failures - 1), capped at the maximum. */
static int64_t backoff_ms(const struct sched *s, int failures)
{
    int64_t backoff = (int64_t)s->o.backoff_base_s * 1000;

    for (int i = 1; i < failures && backoff < (int64_t)s->o.backoff_max_s * 1000; i++)
        backoff *= 2;
    if (backoff > (int64_t)s->o.backoff_max_s * 1000)
        backoff = (int64_t)s->o.backoff_max_s * 1000;
    return backoff;
}

static struct dispatch_wait *wait_find(struct sched *s, const struct store_sched_job *j)
{
    for (size_t i = 0; i < s->n_dwait; i++)
        if (s->dwait[i].id == j->id && s->dwait[i].attempt == j->attempt)
            return &s->dwait[i];
    return NULL;
}

/* Drops the waits of jobs that are no longer Admitted at the same attempt. */
static void wait_prune(struct cycle *c)
{
    struct sched *s = c->s;
    size_t n = 0;

    for (size_t i = 0; i < s->n_dwait; i++) {
        bool keep = false;

        for (size_t k = 0; k < c->jobs.n && !keep; k++)
            keep = c->jobs.v[k].id == s->dwait[i].id &&
                   c->jobs.v[k].attempt == s->dwait[i].attempt &&
                   c->jobs.v[k].phase == PHASE_ADMITTED;
        if (keep)
            s->dwait[n++] = s->dwait[i];
    }
    s->n_dwait = n;
}

/* The job's wait, made (not yet waiting) when it has none. */
static struct dispatch_wait *wait_get(struct sched *s, const struct store_sched_job *j)
{
    struct dispatch_wait *w = wait_find(s, j);

    if (!w) {
        s->dwait = xrealloc(s->dwait, (s->n_dwait + 1) * sizeof(*s->dwait));
        w = &s->dwait[s->n_dwait++];
        memset(w, 0, sizeof(*w));
        w->id = j->id;
        w->attempt = j->attempt;
    }
    return w;
}

static void dispatch_failed(struct cycle *c, size_t k, const char *reason, const char *msg);

/* The create was refused with a 429 (counted = false), a 5xx or a transport error: the job
 * stays Admitted at the same attempt, so its object keeps its name, and is not created
 * again before the Retry-After (retry_after_s > 0) or else its back-off. 429s never count
 * toward maxDispatchFailures (the server said when to come back); 5xx and transport errors
 * do, so a cluster that keeps failing still ends the job as DispatchFailed. */
static void dispatch_wait(struct cycle *c, size_t k, bool counted, int retry_after_s,
                          const char *msg)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    struct dispatch_wait *w = wait_get(s, j);
    int64_t wait;

    w->streak++;
    if (counted && j->dispatch_failures + ++w->counted >= s->o.max_dispatch_failures) {
        j->dispatch_failures += w->counted - 1; /* dispatch_failed adds the last one */
        dispatch_failed(c, k, "DispatchFailed", msg);
        return;
    }
    wait = retry_after_s > 0 ? (int64_t)retry_after_s * 1000 : backoff_ms(s, w->streak);
    w->not_before_ms = c->now + wait;
    LOG(LOG_INFO, "sched",
        "event=dispatch_deferred job=%s/%s cluster=%s attempt=%d retry_in_ms=%" PRId64
        " retry_after_s=%d msg=\"%s\"",
        j->ns, j->name, j->cluster, j->attempt, wait, retry_after_s, msg);
}

static void dispatch_failed(struct cycle *c, size_t k, const char *reason, const char *msg)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    int failures = j->dispatch_failures + 1;
    struct store_transition *t;

    if (failures >= s->o.max_dispatch_failures) {
        t = sched_batch_add(&c->b, k, j, PHASE_FAILED, "DispatchFailed");
        t->message = sched_batch_own(
            &c->b, xasprintf("gave up after %d failed dispatches; last: %s", failures, msg));
        return;
    }
    {
        int64_t backoff = backoff_ms(s, failures);

        t = sched_batch_add(&c->b, k, j, PHASE_QUEUED, reason);
        t->failed_dispatch = true;
        t->not_before_ms = c->now + backoff;
        t->message = sched_batch_own(
            &c->b, xasprintf("dispatch to %s failed (%s); retry after %" PRId64 " s", j->cluster,
                             msg, backoff / 1000));
    }
}

/* A refused call to the member cluster while dispatching: a 429, 5xx or transport error
 * waits (same attempt, same name); anything else fails this attempt. */
static void dispatch_refused(struct cycle *c, size_t k, struct k8s_client *client, struct cview *v,
                             const struct err *e)
{
    struct store_sched_job *j = &c->jobs.v[k];

    sched_cluster_refused(c, j->cluster, client, e);
    if (sched_transport_error(e->code) && v)
        v->broken = true;
    sched_metrics_dispatch_error(&c->s->m, j->cluster);
    LOG(LOG_WARN, "sched", "event=dispatch_failed job=%s/%s cluster=%s code=%s msg=\"%s\"", j->ns,
        j->name, j->cluster, err_code_name(e->code), e->msg);
    if (e->code == ERR_RATE_LIMITED || sched_transport_error(e->code) || e->code == ERR_NOT_FOUND) {
        dispatch_wait(c, k, e->code != ERR_RATE_LIMITED, k8s_client_retry_after_s(client), e->msg);
        return;
    }
    dispatch_failed(c, k, "DispatchFailed", e->msg);
}

/* Makes sure the member namespace exists, once per scheduler and cluster: creates it
 * (AlreadyExists is fine); when creating is forbidden, one that an administrator made will
 * do. */
static int ensure_namespace(struct cycle *c, struct k8s_client *client, const char *cluster,
                            const char *mns, struct err *e)
{
    struct sched *s = c->s;
    json_t *ns;
    int rc;

    if (sched_clients_ns_known(s->clients, cluster, mns))
        return 0;
    ns = manifest_namespace(mns, s->o.origin_id);
    rc = k8s_job_create(client, K8S_KIND_NAMESPACE, NULL, ns, NULL, 0, NULL, e);
    json_decref(ns);
    if (rc && e->code == ERR_FORBIDDEN) {
        struct err ge = {0};
        json_t *got = NULL;

        if (k8s_job_get(client, K8S_KIND_NAMESPACE, NULL, mns, &got, NULL, &ge) == 0)
            rc = 0;
        else if (ge.code == ERR_NOT_FOUND || ge.code == ERR_FORBIDDEN)
            err_set(e, ERR_FORBIDDEN, "namespace",
                    "namespace %s does not exist in cluster %s and fedsched may not create it: "
                    "create it, or grant create on namespaces (docs/clusters.md)",
                    mns, cluster);
        else
            *e = ge;
        json_decref(got);
    }
    if (rc && e->code != ERR_CONFLICT)
        return -1;
    sched_clients_ns_set(s->clients, cluster, mns, true);
    return 0;
}

/* Creates the job's companions, owned by its object (owner_uid) so Kubernetes deletes them
 * with it: the workers' headless Service (when the framework needs one) and the Secret
 * holding the job's checkpoint token. AlreadyExists means an earlier try made it. */
static int create_companions(struct cycle *c, struct k8s_client *client,
                             const struct manifest_in *mi, enum k8s_job_kind kind,
                             const char *owner_uid, struct err *e)
{
    struct sched *s = c->s;
    char name[MANIFEST_NAME_MAX], token[JOB_TOKEN_MAX];
    json_t *objs[2] = {NULL, NULL};
    enum k8s_job_kind kinds[2] = {K8S_KIND_SERVICE, K8S_KIND_SECRET};
    int rc = 0;

    manifest_object_name(mi->uid, mi->attempt, name, sizeof(name));
    if (manifest_service(mi, &objs[0], e))
        return -1;
    job_token_make(s->token_key, mi->uid, token, sizeof(token));
    objs[1] = manifest_checkpoint_secret(mi, token);
    memset(token, 0, sizeof(token));
    for (int i = 0; i < 2 && rc == 0; i++) {
        if (!objs[i])
            continue;
        manifest_set_owner(objs[i], kind, name, owner_uid);
        if (k8s_job_create(client, kinds[i], mi->member_ns, objs[i], NULL, 0, NULL, e) &&
            e->code != ERR_CONFLICT)
            rc = -1;
    }
    json_decref(objs[0]);
    json_decref(objs[1]);
    return rc;
}

/* Creates j's object in its member namespace, or finds it created by an earlier try;
 * *uid gets the object's uid. Returns 1 when the name is taken by somebody else's object,
 * -1 on any other failure (e set). */
static int create_workload(struct k8s_client *client, enum k8s_job_kind kind,
                           const struct manifest_in *mi, const json_t *obj, char *uid,
                           size_t uid_size, bool *found, struct err *e)
{
    char name[MANIFEST_NAME_MAX];
    json_t *made = NULL;
    struct err ge = {0};
    int rc;

    *found = false;
    if (k8s_job_create(client, kind, mi->member_ns, obj, uid, uid_size, NULL, e) == 0)
        return 0;
    if (e->code != ERR_CONFLICT)
        return -1;
    /* AlreadyExists: ours from an earlier try (a crash between create and commit, or a
     * companion that failed), or somebody else's object under our name. */
    manifest_object_name(mi->uid, mi->attempt, name, sizeof(name));
    if (k8s_job_get(client, kind, mi->member_ns, name, &made, NULL, &ge) != 0) {
        *e = ge;
        return -1;
    }
    rc = manifest_object_is(made, mi->uid, mi->attempt) ? 0 : 1;
    if (rc == 0) {
        const char *u =
            json_string_value(json_object_get(json_object_get(made, "metadata"), "uid"));

        snprintf(uid, uid_size, "%s", u ? u : "");
        *found = true;
    }
    json_decref(made);
    return rc;
}

static void dispatch_one(struct cycle *c, size_t k, const struct spec_entry *sp)
{
    struct sched *s = c->s;
    struct store_sched_job *j = &c->jobs.v[k];
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *client = sched_client_for(c, j->cluster, &cfg, &v);
    struct manifest_in mi = {0};
    char name[MANIFEST_NAME_MAX], mns[64], uid[128];
    enum k8s_job_kind kind = K8S_KIND_JOB;
    json_t *obj = NULL;
    struct store_transition *t;
    struct err e = {0};
    bool found;
    int64_t sent_ms;
    int rc;

    if (!client && v && v->broken) {
        /* Another call to the cluster just failed at the transport level: do not wait for
         * this one to time out too. Not counted as this job's failure, nor a new attempt:
         * it stays Admitted and waits the base back-off. */
        wait_get(s, j)->not_before_ms = c->now + (int64_t)s->o.backoff_base_s * 1000;
        return;
    }
    if (!client) {
        sched_metrics_dispatch_error(&s->m, j->cluster);
        dispatch_failed(c, k, "ClusterUnavailable", "no client for the cluster");
        return;
    }
    if (c->now < sched_cluster_calm_until(c, j->cluster)) {
        /* The cluster answered 429 to another call: wait as it asked, uncounted. */
        wait_get(s, j)->not_before_ms = sched_cluster_calm_until(c, j->cluster);
        return;
    }
    if (!s->have_token_key) {
        if (store_job_token_key(s->store, s->token_key, &e)) {
            LOG(LOG_WARN, "sched", "event=token_key_failed msg=\"%s\"", e.msg);
            wait_get(s, j)->not_before_ms = c->now + (int64_t)s->o.backoff_base_s * 1000;
            return;
        }
        s->have_token_key = true;
    }
    if (cluster_member_namespace(cfg, j->ns, mns, sizeof(mns), &e)) {
        dispatch_failed(c, k, "DispatchFailed", e.msg);
        return;
    }
    mi.uid = j->uid;
    mi.attempt = j->attempt;
    mi.origin = s->o.origin_id;
    mi.ns = j->ns;
    mi.name = j->name;
    mi.member_ns = mns;
    mi.framework = j->framework;
    mi.spec = sp->spec;
    mi.labels = sp->labels;
    mi.sku = j->sku_placed[0] ? j->sku_placed : j->sku;
    mi.gpu_count = j->gpu_count;
    mi.gpus_per_worker = j->gpus_per_worker;
    mi.max_runtime_s = j->max_runtime_s;
    mi.borrowed = strcmp(j->pool, POOL_BORROWED) == 0;
    mi.cluster = cfg;
    mi.skus = s->o.skus;
    mi.grace_s = (int)policy_grace_s(&s->policy);
    mi.priority_class = s->o.priority_class;
    mi.priority_class_borrowed = s->o.priority_class_borrowed;
    mi.annotations = s->o.annotations;
    mi.fedsched_url = s->o.public_url;
    mi.shm_mib = s->o.shm_mib;
    mi.ttl_after_finished_s = s->o.finished_ttl_s;
    if (manifest_build(&mi, &kind, &obj, &e)) {
        t = sched_batch_add(&c->b, k, j, PHASE_FAILED, "InvalidSpec");
        t->message = sched_batch_own(
            &c->b, xasprintf("cannot build the %s object: %s", k8s_kind_name(kind), e.msg));
        goto out;
    }
    if (ensure_namespace(c, client, j->cluster, mns, &e)) {
        dispatch_refused(c, k, client, v, &e);
        goto out;
    }
    /* Its pods can exist from this moment on: a pod event applied later has them. */
    sent_ms = clock_realtime_ms();
    rc = create_workload(client, kind, &mi, obj, uid, sizeof(uid), &found, &e);
    if (rc == 1) {
        sched_metrics_dispatch_error(&s->m, j->cluster);
        dispatch_failed(c, k, "NameTaken", "an object with our name and other labels exists");
        goto out;
    }
    if (rc) {
        /* The namespace went away since we made it: make it again on the next try. */
        if (e.code == ERR_NOT_FOUND)
            sched_clients_ns_set(s->clients, j->cluster, mns, false);
        dispatch_refused(c, k, client, v, &e);
        goto out;
    }
    if (create_companions(c, client, &mi, kind, uid, &e)) {
        /* The object stands without what its pods need. A passing refusal retries the
         * companions on the next try (the object is then found); any other takes the
         * object away again, so the next attempt starts clean. */
        if (e.code != ERR_RATE_LIMITED && !sched_transport_error(e.code)) {
            struct err de = {0};

            manifest_object_name(j->uid, j->attempt, name, sizeof(name));
            if (sched_delete_release(client, kind, mns, name, NULL, "Background", -1, &de))
                LOG(LOG_WARN, "sched", "event=dispatch_undo_failed job=%s/%s msg=\"%s\"", j->ns,
                    j->name, de.msg);
        }
        dispatch_refused(c, k, client, v, &e);
        goto out;
    }
    manifest_object_name(j->uid, j->attempt, name, sizeof(name));
    t = sched_batch_add(&c->b, k, j, PHASE_DISPATCHED, "Dispatched");
    t->at_ms = sent_ms;
    t->member_ns = sched_batch_own(&c->b, xstrdup(mns));
    t->message = sched_batch_own(&c->b, xasprintf("%s %s %s/%s in %s", found ? "found" : "created",
                                                  k8s_kind_name(kind), mns, name, j->cluster));
out:
    json_decref(obj);
}

/* Dispatches the Admitted jobs in chunks: one query fetches the specs the leader has not
 * parsed yet, one statement persists the chunk's outcomes (so a crash loses little and the
 * API sees progress). */
#define DISPATCH_CHUNK 256

static void dispatch_chunk(struct cycle *c, const size_t *ks, size_t n)
{
    int64_t ids[DISPATCH_CHUNK] = {0};
    struct err e = {0};

    for (size_t i = 0; i < n; i++)
        ids[i] = c->jobs.v[ks[i]].id;
    if (spec_cache_fill(c->s->specs, c->s->store, ids, n, &e)) {
        LOG(LOG_WARN, "sched", "event=spec_failed n=%zu msg=\"%s\"", n, e.msg);
        return; /* the database is in trouble; the next cycle retries */
    }
    for (size_t i = 0; i < n && !c->deposed; i++) {
        const struct spec_entry *sp = spec_cache_get(c->s->specs, ids[i]);

        if (!sp)
            continue; /* deleted meanwhile */
        if (!leader_fresh(c->s->leader, 5000))
            break;
        dispatch_one(c, ks[i], sp);
    }
    sched_apply(c, NULL);
    sched_batch_reset(&c->b);
}

void sched_step_dispatch(struct cycle *c)
{
    size_t ks[DISPATCH_CHUNK], n = 0;

    wait_prune(c);
    for (size_t k = 0; k < c->jobs.n && !c->deposed; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (j->phase != PHASE_ADMITTED)
            continue;
        if (j->cancel_requested) {
            struct err e = {0};
            struct store_transition *t;

            /* A crash may have come between create and commit: delete to be sure. */
            if (sched_delete_object(c, j, NULL, "Background", -1, &e) &&
                !sched_cluster_lost(c, j->cluster))
                continue;
            t = sched_batch_add(&c->b, k, j, PHASE_CANCELLED, "Cancelled");
            t->message = "cancelled by the user before it was dispatched";
            continue;
        }
        {
            const struct dispatch_wait *w = wait_find(c->s, j);

            if (w && c->now < w->not_before_ms)
                continue; /* a refused create waits for its Retry-After or back-off */
        }
        ks[n++] = k;
        if (n == DISPATCH_CHUNK) {
            dispatch_chunk(c, ks, n);
            n = 0;
        }
    }
    if (n)
        dispatch_chunk(c, ks, n);
    sched_apply(c, NULL);
    sched_batch_reset(&c->b);
}
