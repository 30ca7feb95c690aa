/* clients.c -- the scheduler's pool of member-cluster Job clients, kept equal to the
 * cluster registry. */
#include "scheduler/clients.h"

#include "base/err.h"
#include "base/log.h"
#include "base/mem.h"
#include "cluster/cluster_config.h"
#include "cluster/k8s.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct client_entry {
    char name[64];
    char *config_json; /* as stored, to notice changes */
    struct cluster_config cfg;
    struct k8s_client *client; /* NULL when it could not be made */
    char **namespaces;         /* known to exist (sched_clients_ns_known) */
    size_t n_namespaces;
};

struct sched_clients {
    struct client_entry **v;
    size_t n;
    int timeout_ms;
};

struct sched_clients *sched_clients_new(int request_timeout_ms)
{
    struct sched_clients *c = xcalloc(1, sizeof(*c));

    c->timeout_ms = request_timeout_ms > 0 ? request_timeout_ms : 10000;
    return c;
}

static void entry_free(struct client_entry *x)
{
    if (!x)
        return;
    k8s_client_free(&x->client);
    for (size_t i = 0; i < x->n_namespaces; i++)
        free(x->namespaces[i]);
    free(x->namespaces);
    free(x->config_json);
    free(x);
}

void sched_clients_free(struct sched_clients **cp)
{
    struct sched_clients *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    for (size_t i = 0; i < c->n; i++)
        entry_free(c->v[i]);
    free(c->v);
    free(c);
    *cp = NULL;
}

int sched_clients_sync(struct sched_clients *c, struct store *s, const struct sku_catalogue *skus,
                       struct err *e)
{
    struct store_cluster *rows = NULL;
    struct client_entry **next;
    size_t n = 0, used = 0;

    if (store_cluster_list(s, &rows, &n, e))
        return -1;
    next = xcalloc(n + 1, sizeof(*next));
    for (size_t i = 0; i < n; i++) {
        struct client_entry *x = NULL;
        struct err ce = {0};

        for (size_t k = 0; k < c->n; k++) {
            if (c->v[k] && strcmp(c->v[k]->name, rows[i].name) == 0 &&
                strcmp(c->v[k]->config_json, rows[i].config_json) == 0) {
                x = c->v[k];
                c->v[k] = NULL; /* moved */
                break;
            }
        }
        if (!x) {
            x = xcalloc(1, sizeof(*x));
            snprintf(x->name, sizeof(x->name), "%s", rows[i].name);
            x->config_json = xstrdup(rows[i].config_json);
            if (cluster_config_parse(rows[i].config_json, strlen(rows[i].config_json), skus,
                                     &x->cfg, &ce) ||
                k8s_client_new(&x->cfg, c->timeout_ms, &x->client, &ce)) {
                LOG(LOG_WARN, "sched", "event=client_failed cluster=%s field=%s msg=\"%s\"",
                    rows[i].name, ce.field, ce.msg);
                x->client = NULL;
            }
        }
        next[used++] = x;
    }
    for (size_t k = 0; k < c->n; k++)
        entry_free(c->v[k]);
    free(c->v);
    c->v = next;
    c->n = used;
    store_clusters_free(&rows, n);
    return 0;
}

static struct client_entry *entry_find(const struct sched_clients *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->v[i]->name, name) == 0)
            return c->v[i];
    return NULL;
}

struct k8s_client *sched_clients_get(struct sched_clients *c, const char *name,
                                     const struct cluster_config **cfg)
{
    struct client_entry *x = entry_find(c, name);

    if (!x)
        return NULL;
    if (cfg)
        *cfg = &x->cfg;
    return x->client;
}

static long ns_index(const struct client_entry *x, const char *ns)
{
    for (size_t i = 0; i < x->n_namespaces; i++)
        if (strcmp(x->namespaces[i], ns) == 0)
            return (long)i;
    return -1;
}

bool sched_clients_ns_known(const struct sched_clients *c, const char *name, const char *ns)
{
    const struct client_entry *x = entry_find(c, name);

    return x && ns_index(x, ns) >= 0;
}

void sched_clients_ns_set(struct sched_clients *c, const char *name, const char *ns, bool known)
{
    struct client_entry *x = entry_find(c, name);
    long i;

    if (!x)
        return;
    i = ns_index(x, ns);
    if (known && i < 0) {
        x->namespaces = xrealloc(x->namespaces, (x->n_namespaces + 1) * sizeof(*x->namespaces));
        x->namespaces[x->n_namespaces++] = xstrdup(ns);
    } else if (!known && i >= 0) {
        free(x->namespaces[i]);
        x->namespaces[i] = x->namespaces[--x->n_namespaces];
    }
}

size_t sched_clients_count(const struct sched_clients *c)
{
    return c->n;
}

const char *sched_clients_name(const struct sched_clients *c, size_t i)
{
    return c->v[i]->name;
}
