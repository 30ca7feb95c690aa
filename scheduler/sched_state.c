/* sched_state.c -- the policy state to and from JSON. */
#include "scheduler/sched_state.h"

#include "base/err.h"
#include "policy/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *int_array(const int *v, size_t n)
{
    json_t *a = json_array();
    size_t last = 0;

    /* Trailing zeros are left out: most pools have one SKU with a streak, if any. */
    for (size_t i = 0; i < n; i++)
        if (v[i])
            last = i + 1;
    for (size_t i = 0; i < last; i++)
        json_array_append_new(a, json_integer(v[i]));
    return a;
}

static json_t *real_array(const double *v, size_t n)
{
    json_t *a = json_array();
    size_t last = 0;

    for (size_t i = 0; i < n; i++)
        if (v[i] != 0)
            last = i + 1;
    for (size_t i = 0; i < last; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

char *sched_state_to_json(const struct policy_state *st)
{
    json_t *root = json_object(), *pools = json_array(), *usage = json_array();
    char *text;

    for (size_t i = 0; i < st->n_pools; i++) {
        const struct policy_pool_state *p = &st->pools[i];

        json_array_append_new(
            pools, json_pack("{s:s, s:o, s:I, s:I, s:I, s:i, s:I}", "cluster", p->cluster, "streak",
                             int_array(p->streak, SNAPSHOT_SKU_MAX), "tokensMilli",
                             (json_int_t)p->tokens_milli, "tokensAtMs", (json_int_t)p->tokens_at_ms,
                             "backoffUntilMs", (json_int_t)p->backoff_until_ms, "backoffLevel",
                             p->backoff_level, "lastReclaimMs", (json_int_t)p->last_reclaim_ms));
    }
    for (size_t i = 0; i < st->n_usage; i++) {
        const struct policy_usage *u = &st->usage[i];

        json_array_append_new(usage, json_pack("{s:s, s:o, s:I}", "ns", u->ns, "gpuHours",
                                               real_array(u->gpu_hours, SNAPSHOT_SKU_MAX), "asOfMs",
                                               (json_int_t)u->as_of_ms));
    }
    json_object_set_new(root, "lastNowMs", json_integer(st->last_now_ms));
    json_object_set_new(root, "pools", pools);
    json_object_set_new(root, "usage", usage);
    text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return text;
}

static int get_i64(const json_t *o, const char *key, const char *where, int64_t *out, struct err *e)
{
    const json_t *v = json_object_get(o, key);

    if (!v) {
        *out = 0;
        return 0;
    }
    if (!json_is_integer(v))
        return err_set(e, ERR_MALFORMED, key, "%s.%s: must be an integer", where, key);
    *out = json_integer_value(v);
    return 0;
}

static int read_pool(const json_t *o, size_t i, struct policy_state *st, struct err *e)
{
    char where[32];
    const char *cluster = json_string_value(json_object_get(o, "cluster"));
    const json_t *streak = json_object_get(o, "streak"), *v;
    struct policy_pool_state *p;
    int64_t level = 0;
    size_t k;

    snprintf(where, sizeof(where), "pools[%zu]", i);
    if (!cluster || !*cluster || strlen(cluster) >= SNAPSHOT_NAME_MAX)
        return err_set(e, ERR_MALFORMED, "cluster", "%s.cluster: must be a cluster name", where);
    if (streak && (!json_is_array(streak) || json_array_size(streak) > SNAPSHOT_SKU_MAX))
        return err_set(e, ERR_MALFORMED, "streak", "%s.streak: must be an array of at most %d",
                       where, SNAPSHOT_SKU_MAX);
    p = policy_state_pool(st, cluster, true);
    json_array_foreach(streak, k, v)
    {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return err_set(e, ERR_MALFORMED, "streak", "%s.streak[%zu]: must be a count", where, k);
        p->streak[k] = (int)json_integer_value(v);
    }
    if (get_i64(o, "tokensMilli", where, &p->tokens_milli, e) ||
        get_i64(o, "tokensAtMs", where, &p->tokens_at_ms, e) ||
        get_i64(o, "backoffUntilMs", where, &p->backoff_until_ms, e) ||
        get_i64(o, "backoffLevel", where, &level, e) ||
        get_i64(o, "lastReclaimMs", where, &p->last_reclaim_ms, e))
        return -1;
    p->backoff_level = (int)level;
    p->last_seq = 0; /* another process's snapshot numbers mean nothing here */
    return 0;
}

static int read_usage(const json_t *o, size_t i, struct policy_state *st, struct err *e)
{
    char where[32];
    const char *ns = json_string_value(json_object_get(o, "ns"));
    const json_t *hours = json_object_get(o, "gpuHours"), *v;
    struct policy_usage *u;
    size_t k;

    snprintf(where, sizeof(where), "usage[%zu]", i);
    if (!ns || !*ns || strlen(ns) >= POLICY_NS_MAX)
        return err_set(e, ERR_MALFORMED, "ns", "%s.ns: must be a namespace", where);
    if (hours && (!json_is_array(hours) || json_array_size(hours) > SNAPSHOT_SKU_MAX))
        return err_set(e, ERR_MALFORMED, "gpuHours", "%s.gpuHours: must be an array of at most %d",
                       where, SNAPSHOT_SKU_MAX);
    u = policy_state_usage(st, ns, true);
    json_array_foreach(hours, k, v)
    {
        if (!json_is_number(v) || json_number_value(v) < 0)
            return err_set(e, ERR_MALFORMED, "gpuHours", "%s.gpuHours[%zu]: must be >= 0", where,
                           k);
        u->gpu_hours[k] = json_number_value(v);
    }
    return get_i64(o, "asOfMs", where, &u->as_of_ms, e);
}

int sched_state_from_json(const char *text, struct policy_state *st, struct err *e)
{
    json_error_t je;
    json_t *root = json_loads(text ? text : "", 0, &je), *it;
    size_t i;
    int rc = -1;

    if (!json_is_object(root)) {
        err_set(e, ERR_MALFORMED, NULL, "policy state is not a JSON object: %s", je.text);
        goto out;
    }
    if (get_i64(root, "lastNowMs", "state", &st->last_now_ms, e))
        goto out;
    json_array_foreach(json_object_get(root, "pools"), i, it)
    {
        if (read_pool(it, i, st, e))
            goto out;
    }
    json_array_foreach(json_object_get(root, "usage"), i, it)
    {
        if (read_usage(it, i, st, e))
            goto out;
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}
