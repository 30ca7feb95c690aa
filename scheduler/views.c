/* views.c -- the cycle's view of each member cluster (from the snapshot and the
 * registry), and what the scheduler remembers of them between cycles: when a cluster went
 * bad, whether it is lost, and until when it asked (429) not to be called. */
#include "scheduler/internal.h"

/* Per-cluster view of the cycle. */

struct cview *sched_cview_find(struct cycle *c, const char *name)
{
    for (size_t i = 0; i < c->n_cv; i++)
        if (strcmp(c->cv[i].name, name) == 0)
            return &c->cv[i];
    return NULL;
}

static struct cluster_mem *cmem_get(struct sched *s, const char *name)
{
    for (size_t i = 0; i < s->n_cmem; i++)
        if (strcmp(s->cmem[i].name, name) == 0)
            return &s->cmem[i];
    s->cmem = xrealloc(s->cmem, (s->n_cmem + 1) * sizeof(*s->cmem));
    memset(&s->cmem[s->n_cmem], 0, sizeof(*s->cmem));
    snprintf(s->cmem[s->n_cmem].name, sizeof(s->cmem[0].name), "%s", name);
    return &s->cmem[s->n_cmem++];
}

void sched_cluster_refused(struct cycle *c, const char *name, const struct k8s_client *client,
                           const struct err *e)
{
    struct cluster_mem *m;
    int wait_s;

    if (e->code != ERR_RATE_LIMITED)
        return;
    wait_s = k8s_client_retry_after_s(client);
    if (wait_s <= 0)
        wait_s = c->s->o.backoff_base_s;
    m = cmem_get(c->s, name);
    if (m->calm_until_ms < c->now + (int64_t)wait_s * 1000)
        m->calm_until_ms = c->now + (int64_t)wait_s * 1000;
    /* The server asked the client, not one caller: the connector waits too. */
    poller_calm(c->s->poller, name, m->calm_until_ms);
    LOG(LOG_INFO, "sched", "event=cluster_rate_limited cluster=%s retry_in_s=%d", name, wait_s);
}

int64_t sched_cluster_calm_until(struct cycle *c, const char *name)
{
    const struct cview *v = sched_cview_find(c, name);
    int64_t until = v ? v->calm_until_ms : 0; /* the connector's Retry-After */

    for (size_t i = 0; i < c->s->n_cmem; i++)
        if (strcmp(c->s->cmem[i].name, name) == 0 && c->s->cmem[i].calm_until_ms > until)
            until = c->s->cmem[i].calm_until_ms;
    return until;
}

/* The clusters of the snapshot (and when the last good poll of each started). */
void sched_read_snapshot_clusters(struct cycle *c, const struct cluster_snapshot *cs, size_t extra)
{
    c->cv = xcalloc(cs->snap->n_clusters + extra + 1, sizeof(*c->cv));
    c->snap_taken_ms = cs->snap->taken_ms;
    for (size_t i = 0; i < cs->snap->n_clusters; i++) {
        struct cview *v = &c->cv[c->n_cv++];
        const struct cluster_status *st = &cs->status[i];

        snprintf(v->name, sizeof(v->name), "%s", cs->snap->clusters[i].name);
        v->snap = (int)i;
        v->health = st->health;
        v->last_success_ms = st->last_success_ms;
        v->data_as_of_ms = st->data_as_of_ms;
        v->calm_until_ms = st->calm_until_ms;
        v->lost_timeout_s = st->lost_timeout_s > 0 ? st->lost_timeout_s : 900;
        v->reachable =
            st->health == SNAPSHOT_HEALTH_READY || st->health == SNAPSHOT_HEALTH_DEGRADED;
    }
}

void sched_read_clusters(struct cycle *c, const struct cluster_snapshot *cs)
{
    struct sched *s = c->s;
    size_t n_names = sched_clients_count(s->clients);

    sched_read_snapshot_clusters(c, cs, n_names);
    /* Clusters in the registry the poller has not picked up yet (or never will). */
    for (size_t i = 0; i < n_names; i++) {
        const char *name = sched_clients_name(s->clients, i);
        struct cview *v;

        if (sched_cview_find(c, name))
            continue;
        v = &c->cv[c->n_cv++];
        snprintf(v->name, sizeof(v->name), "%s", name);
        v->snap = -1;
        v->health = SNAPSHOT_HEALTH_UNKNOWN;
        v->lost_timeout_s = s->o.default_lost_timeout_s;
    }
}

/* A cluster is lost once it has been unreachable (or unknown to the poller) for longer than
 * its lost-timeout, counted from its last good poll or, when it never had one in this
 * process, from when this leader first saw it bad. */
void sched_detect_lost(struct cycle *c)
{
    struct sched *s = c->s;

    for (size_t i = 0; i < c->n_cv; i++) {
        struct cview *v = &c->cv[i];
        struct cluster_mem *m = cmem_get(s, v->name);
        int64_t since;

        if (v->reachable) {
            if (m->lost)
                LOG(LOG_INFO, "sched", "event=cluster_back cluster=%s", v->name);
            m->bad_since_ms = 0;
            m->lost = false;
            continue;
        }
        if (!m->bad_since_ms)
            m->bad_since_ms = c->now;
        since = v->last_success_ms > 0 ? v->last_success_ms : m->bad_since_ms;
        if (c->now - since > v->lost_timeout_s * 1000) {
            if (!m->lost)
                LOG(LOG_WARN, "sched", "event=sched_cluster_lost cluster=%s unreachable_s=%" PRId64,
                    v->name, (c->now - since) / 1000);
            m->lost = true;
        }
        v->lost = m->lost;
    }
    /* Placements in clusters that left the registry and the poller alike. */
    for (size_t k = 0; k < c->jobs.n; k++) {
        struct store_sched_job *j = &c->jobs.v[k];

        if (sched_placed_phase(j->phase) && j->cluster[0] && !sched_cview_find(c, j->cluster)) {
            struct cluster_mem *m = cmem_get(s, j->cluster);

            if (!m->bad_since_ms)
                m->bad_since_ms = c->now;
            if (c->now - m->bad_since_ms > (int64_t)s->o.default_lost_timeout_s * 1000)
                m->lost = true;
        }
    }
}

bool sched_cluster_lost(struct cycle *c, const char *name)
{
    struct cview *v = sched_cview_find(c, name);

    if (v)
        return v->lost;
    for (size_t i = 0; i < c->s->n_cmem; i++)
        if (strcmp(c->s->cmem[i].name, name) == 0)
            return c->s->cmem[i].lost;
    return false;
}
