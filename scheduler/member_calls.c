/* member_calls.c -- what every step needs to call a member cluster: its client (none when
 * a call to it already failed this cycle), the kind of a job's object, and deleting
 * that object. */
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

/* Deletes the object of j's current attempt from its member namespace (where dispatch put
 * it; before that, the cluster's template applied to j's namespace); its Service and
 * Secret go with it (owner references). Returns 0 when the delete was accepted or the
 * object is already gone. */
int sched_delete_object(struct cycle *c, const struct store_sched_job *j, const char *propagation,
                        int grace_s, struct err *e)
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
    if (k8s_job_delete(k, sched_kind_of(j), mns, name, propagation, grace_s, NULL, e) &&
        e->code != ERR_NOT_FOUND) {
        if (sched_transport_error(e->code) && v)
            v->broken = true;
        return -1;
    }
    return 0;
}
