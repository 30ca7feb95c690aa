/* clusters.c -- the member-cluster registry and capacity samples in PostgreSQL. A cluster's
 * configuration is stored whole as JSON (validated by cluster/ before it gets here);
 * `cordoned` is also a column so it can be queried. */
#include "store/store.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct store_cluster *clusters_from(PGresult *r, size_t *n)
{
    struct store_cluster *out = xcalloc((size_t)PQntuples(r) + 1, sizeof(*out));

    for (int row = 0; row < PQntuples(r); row++) {
        out[row].name = xstrdup(PQgetvalue(r, row, 0));
        out[row].config_json = xstrdup(PQgetvalue(r, row, 1));
        out[row].cordoned = PQgetvalue(r, row, 2)[0] == 't';
        out[row].source = xstrdup(PQgetvalue(r, row, 3));
        out[row].resource_version = strtoll(PQgetvalue(r, row, 4), NULL, 10);
    }
    *n = (size_t)PQntuples(r);
    return out;
}

#define CLUSTER_COLUMNS "name, config::text, cordoned, source, resource_version"

/* A single-row change: was the row there (status) or not (nothing to record)? */
static enum audit_outcome changed_one(const PGresult *r)
{
    return strcmp(PQcmdTuples((PGresult *)r), "0") != 0 ? AUDIT_STATUS : AUDIT_NONE;
}

/* Frees r, the result of a change to cluster name: 0 when it changed a row, ERR_NOT_FOUND
 * when there was none. */
static int found_or_not(PGresult *r, const char *name, struct err *e)
{
    bool found = strcmp(PQcmdTuples(r), "0") != 0;

    PQclear(r);
    if (!found)
        return err_set(e, ERR_NOT_FOUND, NULL, "cluster %s not found", name);
    return 0;
}

/* The upsert: created (status) or replaced (status_alt). */
static enum audit_outcome put_outcome(const PGresult *r)
{
    return PQgetvalue(r, 0, 0)[0] == 't' ? AUDIT_STATUS : AUDIT_STATUS_ALT;
}

int store_cluster_put(struct store *s, const char *name, const char *config_json, bool cordoned,
                      bool keep_cordon, const char *source, bool *created, struct err *e)
{
    return store_cluster_put_audited(s, name, config_json, cordoned, keep_cordon, source, NULL,
                                     created, e);
}

int store_cluster_put_audited(struct store *s, const char *name, const char *config_json,
                              bool cordoned, bool keep_cordon, const char *source,
                              const struct store_audit *audit, bool *created, struct err *e)
{
    const char *params[5] = {name, config_json, cordoned ? "t" : "f", source,
                             keep_cordon ? "t" : "f"};
    PGresult *r;

    /* xmax = 0 only for a freshly inserted row: tells insert from update in one trip. */
    if (store_exec_audited(s,
                           "INSERT INTO clusters (name, config, cordoned, source) VALUES ($1,"
                           " $2::jsonb, $3, $4) ON CONFLICT (name) DO UPDATE SET config ="
                           " EXCLUDED.config, cordoned = CASE WHEN $5 THEN clusters.cordoned"
                           " ELSE EXCLUDED.cordoned END, source = EXCLUDED.source,"
                           " updated_at = now(), resource_version ="
                           " nextval('resource_version_seq') RETURNING (xmax = 0)",
                           5, params, audit, put_outcome, &r, e))
        return -1;
    if (created)
        *created = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return 0;
}

int store_cluster_set_cordoned(struct store *s, const char *name, bool cordoned,
                               const struct store_audit *audit, struct err *e)
{
    const char *params[2] = {name, cordoned ? "t" : "f"};
    PGresult *r;

    if (store_exec_audited(s,
                           "UPDATE clusters SET cordoned = $2, updated_at = now(),"
                           " resource_version = nextval('resource_version_seq') WHERE name = $1",
                           2, params, audit, changed_one, &r, e))
        return -1;
    return found_or_not(r, name, e);
}

int store_cluster_get(struct store *s, const char *name, struct store_cluster **out, struct err *e)
{
    const char *params[1] = {name};
    PGresult *r;
    size_t n;

    if (store_exec(s, "SELECT " CLUSTER_COLUMNS " FROM clusters WHERE name = $1", 1, params, &r, e))
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, ERR_NOT_FOUND, NULL, "cluster %s not found", name);
    }
    *out = clusters_from(r, &n);
    PQclear(r);
    return 0;
}

int store_cluster_list(struct store *s, struct store_cluster **out, size_t *n, struct err *e)
{
    PGresult *r;

    if (store_exec(s, "SELECT " CLUSTER_COLUMNS " FROM clusters ORDER BY name", 0, NULL, &r, e))
        return -1;
    *out = clusters_from(r, n);
    PQclear(r);
    return 0;
}

int store_cluster_delete(struct store *s, const char *name, const struct store_audit *audit,
                         struct err *e)
{
    const char *params[1] = {name};
    PGresult *r;

    if (store_exec_audited(s, "DELETE FROM clusters WHERE name = $1", 1, params, audit, changed_one,
                           &r, e))
        return -1;
    return found_or_not(r, name, e);
}

void store_clusters_free(struct store_cluster **cs, size_t n)
{
    if (!cs || !*cs)
        return;
    for (size_t i = 0; i < n; i++) {
        free((*cs)[i].name);
        free((*cs)[i].config_json);
        free((*cs)[i].source);
    }
    free(*cs);
    *cs = NULL;
}

int store_capacity_samples_insert(struct store *s, const struct store_capacity_sample *rows,
                                  size_t n, struct err *e)
{
    struct buf cols[11];
    const char *params[11];
    PGresult *r = NULL;
    int rc;

    if (n == 0)
        return 0;
    for (int c = 0; c < 11; c++) {
        buf_init(&cols[c], 0);
        buf_puts(&cols[c], "{");
    }
    for (size_t i = 0; i < n; i++) {
        const struct store_capacity_sample *x = &rows[i];
        const char *sep = i ? "," : "";

        buf_printf(&cols[0], "%s%lld", sep, (long long)x->ts_ms);
        store_array_add(&cols[1], x->cluster);
        store_array_add(&cols[2], x->sku);
        store_array_add(&cols[3], x->pool);
        buf_printf(&cols[4], "%s%d", sep, x->total);
        buf_printf(&cols[5], "%s%d", sep, x->used);
        buf_printf(&cols[6], "%s%d", sep, x->free);
        buf_printf(&cols[7], "%s%d", sep, x->borrowed);
        buf_printf(&cols[8], "%s%d", sep, x->pending_demand);
        buf_printf(&cols[9], "%s%d", sep, x->lendable);
        buf_printf(&cols[10], "%s%s", sep, x->healthy ? "t" : "f");
    }
    for (int c = 0; c < 11; c++) {
        buf_puts(&cols[c], "}");
        params[c] = cols[c].data;
    }
    rc = store_exec(s,
                    "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used, free,"
                    " borrowed, pending_demand, lendable, healthy)"
                    " SELECT to_timestamp(t / 1000.0), c, k, p, a, u, f, b, d, l, h FROM"
                    " unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::int[],"
                    " $6::int[], $7::int[], $8::int[], $9::int[], $10::int[], $11::bool[])"
                    " AS x(t, c, k, p, a, u, f, b, d, l, h)"
                    " ON CONFLICT DO NOTHING",
                    11, params, &r, e);
    PQclear(r);
    for (int c = 0; c < 11; c++)
        buf_free(&cols[c]);
    return rc;
}
