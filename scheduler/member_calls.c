/* member_calls.c -- what every step needs to call a member cluster: its client (none when
 * a call to it already failed this cycle), the kind of a job's object, and deleting
 * that object and releasing its finalizer (MANIFEST_FINALIZER). */
#include "scheduler/internal.h"

bool sched_transport_error(enum err_code code)
{
    return code == ERR_UNAVAILABLE || code == ERR_TIMEOUT;
}

struct k8s_client *sched_client_for(struct cycle *c, const char *cluster,
                                    const struct cluster_config **cfg, struct cview **vout)
{
    struct cview *v = sched_cview_find(c, cluster);

    *vout = v;
    if (!v || v->broken)
        return NULL;
    return sched_clients_get(c->s->clients, cluster, cfg);
}

enum k8s_job_kind sched_kind_of(const struct store_sched_job *j)
{
    return strcmp(j->framework, "ray") == 0 ? K8S_KIND_RAYJOB : K8S_KIND_JOB;
}

bool sched_object_deleting(const json_t *obj)
{
    return json_object_get(json_object_get(obj, "metadata"), "deletionTimestamp") != NULL;
}

bool sched_object_held(const json_t *obj)
{
    const json_t *fin = json_object_get(json_object_get(obj, "metadata"), "finalizers"), *f;
    size_t i;

    if (!obj)
        return true;
    json_array_foreach(fin, i, f)
    {
        if (json_is_string(f) && strcmp(json_string_value(f), MANIFEST_FINALIZER) == 0)
            return true;
    }
    return false;
}

int sched_release(struct k8s_client *k, enum k8s_job_kind kind, const char *ns, const char *name,
                  const json_t *seen, struct err *e)
{
    if (!sched_object_held(seen))
        return 0;
    if (k8s_job_release(k, kind, ns, name, seen, MANIFEST_FINALIZER, MANIFEST_LABEL_RECORDED, NULL,
                        e) &&
        e->code != ERR_NOT_FOUND)
        return -1;
    return 0;
}

/* Delete first, release second: a crash in between leaves the object marked and held,
 * which tracking (a placed job's object) or collection (any other of ours) releases on a
 * later pass. The other order would leave a live object unheld should the delete then
 * fail, and a job that finished unseen could be lost to its TTL and run again. */
int sched_delete_release(struct k8s_client *k, enum k8s_job_kind kind, const char *ns,
                         const char *name, const json_t *seen, const char *propagation, int grace_s,
                         struct err *e)
{
    /* A marked object is not deleted again: its deletion is under way. */
    if (!seen || !sched_object_deleting(seen)) {
        if (k8s_job_delete(k, kind, ns, name, propagation, grace_s, NULL, e))
            return e->code == ERR_NOT_FOUND ? 0 : -1;
    }
    return sched_release(k, kind, ns, name, seen, e);
}

/* Whether the object of j's current attempt exists in its member namespace: 1 yes, 0 no
 * (404), -1 when the cluster could not say (e set). For a decision that must not rest on
 * a watch that may lag: requeueing a job whose object vanished. */
int sched_object_exists(struct cycle *c, const struct store_sched_job *j, struct err *e)
{
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *k = sched_client_for(c, j->cluster, &cfg, &v);
    char name[MANIFEST_NAME_MAX], mns[64];
    json_t *obj = NULL;

    if (!k)
        return err_set(e, ERR_UNAVAILABLE, "cluster", "cluster %s cannot be reached", j->cluster);
    if (j->member_ns[0])
        snprintf(mns, sizeof(mns), "%s", j->member_ns);
    else if (cluster_member_namespace(cfg, j->ns, mns, sizeof(mns), e))
        return -1;
    manifest_object_name(j->uid, j->attempt, name, sizeof(name));
    if (k8s_job_get(k, sched_kind_of(j), mns, name, &obj, NULL, e) == 0) {
        json_decref(obj);
        return 1;
    }
    if (e && e->code == ERR_NOT_FOUND)
        return 0;
    if (e && sched_transport_error(e->code) && v)
        v->broken = true;
    return -1;
}

/* Deletes the object of j's current attempt from its member namespace (where dispatch put
 * it; before that, the cluster's template applied to j's namespace) and releases it; its
 * Service and Secret go with it (owner references). Returns 0 when the delete was accepted
 * or the object is already gone. */
int sched_delete_object(struct cycle *c, const struct store_sched_job *j, const json_t *seen,
                        const char *propagation, int grace_s, struct err *e)
{
    const struct cluster_config *cfg = NULL;
    struct cview *v = NULL;
    struct k8s_client *k = sched_client_for(c, j->cluster, &cfg, &v);
    char name[MANIFEST_NAME_MAX], mns[64];

    if (!k)
        return err_set(e, ERR_UNAVAILABLE, "cluster", "cluster %s cannot be reached", j->cluster);
    if (j->member_ns[0])
        snprintf(mns, sizeof(mns), "%s", j->member_ns);
    else if (cluster_member_namespace(cfg, j->ns, mns, sizeof(mns), e))
        return -1;
    manifest_object_name(j->uid, j->attempt, name, sizeof(name));
    if (sched_delete_release(k, sched_kind_of(j), mns, name, seen, propagation, grace_s, e)) {
        if (sched_transport_error(e->code) && v)
            v->broken = true;
        return -1;
    }
    return 0;
}
