/* forecast.c -- the serving pools' capacity samples for the demand forecast, streamed
 * through a cursor (the contract: forecast.h). */
#include "store/forecast.h"

#include "base/err.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The key (cluster, sku, pool, ts) is the primary key's order, so the sort is an index
 * scan per cluster and SKU. */
static const char sql_declare[] =
    "DECLARE serving_samples NO SCROLL CURSOR FOR"
    " SELECT cluster, sku, (extract(epoch FROM ts) * 1000)::bigint, total, used, borrowed,"
    "  pending_demand"
    " FROM capacity_samples"
    " WHERE pool = 'serving' AND healthy"
    "  AND ts >= to_timestamp($1::bigint / 1000.0) AND ts < to_timestamp($2::bigint / 1000.0)"
    " ORDER BY cluster COLLATE \"C\", sku COLLATE \"C\", ts";

static int int_col(const PGresult *r, int row, int col)
{
    return (int)strtol(PQgetvalue(r, row, col), NULL, 10);
}

/* Hands the rows of one FETCH to fn. */
static int deliver(const PGresult *r, store_serving_sample_fn fn, void *arg, struct err *e)
{
    for (int i = 0; i < PQntuples(r); i++) {
        struct store_serving_sample x = {
            .cluster = PQgetvalue(r, i, 0),
            .sku = PQgetvalue(r, i, 1),
            .ts_ms = strtoll(PQgetvalue(r, i, 2), NULL, 10),
            .total = int_col(r, i, 3),
            .used = int_col(r, i, 4),
            .borrowed = int_col(r, i, 5),
            .pending_demand = int_col(r, i, 6),
        };

        if (fn(&x, arg, e))
            return -1;
    }
    return 0;
}

int store_serving_samples(struct store *s, int64_t since_ms, int64_t until_ms,
                          store_serving_sample_fn fn, void *arg, struct err *e)
{
    struct store_conn c = {0};
    PGresult *r = NULL;
    char since[24], until[24], fetch_sql[64];
    const char *params[2] = {since, until};
    int rc = -1;

    if (since_ms >= until_ms)
        return err_set(e, ERR_INVALID, "since",
                       "since (%" PRId64 " ms) must be before until (%" PRId64 " ms)", since_ms,
                       until_ms);
    snprintf(since, sizeof(since), "%" PRId64, since_ms);
    snprintf(until, sizeof(until), "%" PRId64, until_ms);
    snprintf(fetch_sql, sizeof(fetch_sql), "FETCH %d FROM serving_samples", STORE_FORECAST_BATCH);
    if (conn_begin(s, &c, e))
        return -1;
    if (conn_exec(&c, "SET TRANSACTION READ ONLY", 0, NULL, &r, e))
        goto out;
    PQclear(r);
    r = NULL;
    if (conn_exec(&c, sql_declare, 2, params, &r, e))
        goto out;
    for (;;) {
        PQclear(r);
        r = NULL;
        if (conn_exec(&c, fetch_sql, 0, NULL, &r, e))
            goto out;
        if (PQntuples(r) == 0)
            break;
        if (deliver(r, fn, arg, e))
            goto out;
    }
    rc = 0;
out:
    PQclear(r);
    conn_finish(s, &c, false, NULL);
    return rc;
}
