/* registry.c -- cluster registry <-> poller, and capacity samples. */
#include "cmd/registry.h"

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/poller.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

int registry_import(struct store *s, const struct cluster_config *cfgs, size_t n, struct err *e)
{
    for (size_t i = 0; i < n; i++) {
        json_t *j = cluster_config_to_json(&cfgs[i]);
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        int rc =
            store_cluster_put(s, cfgs[i].name, text, cfgs[i].cordoned, true, "config", NULL, e);

        free(text);
        json_decref(j);
        if (rc)
            return -1;
    }
    return 0;
}

int registry_sync(struct store *s, struct poller *p, const struct sku_catalogue *skus,
                  struct err *e)
{
    struct store_cluster *rows = NULL;
    struct cluster_config *cfgs;
    size_t n = 0, used = 0;
    int rc;

    if (store_cluster_list(s, &rows, &n, e))
        return -1;
    cfgs = xcalloc(n + 1, sizeof(*cfgs));
    for (size_t i = 0; i < n; i++) {
        struct err ce = {0};

        if (cluster_config_parse(rows[i].config_json, strlen(rows[i].config_json), skus,
                                 &cfgs[used], &ce)) {
            LOG(LOG_WARN, "registry", "event=cluster_skipped cluster=%s field=%s msg=\"%s\"",
                rows[i].name, ce.field, ce.msg);
            continue;
        }
        cfgs[used].cordoned = rows[i].cordoned;
        used++;
    }
    rc = poller_set_clusters(p, cfgs, used, e);
    free(cfgs);
    store_clusters_free(&rows, n);
    return rc;
}

void registry_sample_sink(const struct cluster_snapshot *cs, void *arg)
{
    struct store *s = arg;
    const struct snapshot *snap = cs->snap;
    struct store_capacity_sample *rows;
    size_t n = 0;
    struct err e = {0};

    rows = xcalloc(snap->n_clusters * SNAPSHOT_POOL_COUNT * snap->n_skus + 1, sizeof(*rows));
    for (size_t c = 0; c < snap->n_clusters; c++) {
        for (int p = 0; p < SNAPSHOT_POOL_COUNT; p++) {
            for (size_t k = 0; k < snap->n_skus; k++) {
                const struct snapshot_agg *a =
                    snapshot_agg_const(snap, c, (enum snapshot_pool)p, (int)k);

                if (!a || (a->total == 0 && a->pending_serving == 0))
                    continue;
                rows[n++] = (struct store_capacity_sample){
                    .ts_ms = snap->taken_ms,
                    .cluster = snap->clusters[c].name,
                    .sku = snap->sku_names[k],
                    .pool = snapshot_pool_name((enum snapshot_pool)p),
                    .total = a->total,
                    .used = a->used,
                    .free = a->free,
                    .borrowed = a->borrowed,
                    .pending_demand = a->pending_serving,
                    .lendable = a->lendable,
                    .healthy = snap->clusters[c].health == SNAPSHOT_HEALTH_READY,
                };
            }
        }
    }
    if (store_capacity_samples_insert(s, rows, n, &e))
        LOG(LOG_WARN, "registry", "event=samples_failed rows=%zu msg=\"%s\"", n, e.msg);
    free(rows);
}
