/* config.c -- defaults, JSON file and environment, each value checked where it is read. */
#include "cmd/config.h"

#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"
#include "policy/policy.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
    c->listen_port = 8080;
    c->log_level = LOG_INFO;
    snprintf(c->secrets_dir, sizeof(c->secrets_dir), "%s", CLUSTER_SECRETS_DIR_DEFAULT);
    snprintf(c->database.dsn, sizeof(c->database.dsn),
             "host=127.0.0.1 port=5432 user=postgres dbname=fedsched");
    c->database.pool_size = 16;
    c->database.statement_timeout_ms = 5000;
    c->database.connect_timeout_s = 3;
    c->database.migrate_on_start = true;
    c->http.max_body_bytes = 1024 * 1024;
    c->http.max_connections = 512;
    c->http.request_timeout_s = 30;
    c->http.drain_timeout_s = 20;
    c->http.max_header_bytes = 16 * 1024;
    c->http.threads = 8;
    c->http.max_connections_per_ip = 64;
    c->http.header_timeout_s = 10;
    c->http.body_timeout_s = 60;
    c->http.max_watches = 2048;
    c->http.max_watches_per_token = 64;
    snprintf(c->http.tls_priorities, sizeof(c->http.tls_priorities), "%s", CONFIG_TLS_PRIORITIES);
    c->auth.enabled = true;
    c->auth.rate_per_s = 50;
    c->auth.burst = 100;
    c->auth.unauth_audit_per_minute = 10;
    c->poller.interval_ms = 10000;
    c->poller.request_timeout_ms = 10000;
    c->poller.sample_interval_s = 60;
    c->poller.registry_sync_s = 10;
    c->scheduler.enabled = true;
    c->scheduler.cycle_interval_ms = 1000;
    c->scheduler.min_cycle_gap_ms = 100;
    c->scheduler.leader_retry_ms = 1000;
    c->scheduler.leader_renew_ms = 1000;
    c->scheduler.request_timeout_ms = 10000;
    c->scheduler.backoff_base_s = 10;
    c->scheduler.backoff_max_s = 600;
    c->scheduler.max_dispatch_failures = 10;
    c->scheduler.gc_interval_s = 60;
    c->scheduler.missing_grace_s = 60;
    c->scheduler.start_timeout_s = 900;
    snprintf(c->scheduler.priority_class_borrowed, sizeof(c->scheduler.priority_class_borrowed),
             "fedsched-borrowed");
    snprintf(c->scheduler.job_annotations, sizeof(c->scheduler.job_annotations), "{}");
    c->skus = *sku_defaults();
    policy_config_defaults(&c->policy);
}

void config_free(struct config *c)
{
    free(c->clusters);
    c->clusters = NULL;
    c->n_clusters = 0;
    free(c->quotas);
    c->quotas = NULL;
    c->n_quotas = 0;
    for (size_t i = 0; i < c->n_weights; i++)
        free((char *)c->weights[i].ns);
    free(c->weights);
    c->weights = NULL;
    c->n_weights = 0;
}

/* "host:port", "[v6]:port" or ":port" (all interfaces). */
static int parse_listen(struct config *c, const char *v, const char *field, struct err *e)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    size_t hostlen;
    const char *host = v;

    if (!colon || num_parse_i64(colon + 1, 1, 65535, &port))
        return err_set(e, ERR_CONFIG, field, "%s: \"%s\" is not host:port with port 1..65535",
                       field, v);
    hostlen = (size_t)(colon - v);
    if (hostlen >= 2 && v[0] == '[' && v[hostlen - 1] == ']') {
        host++;
        hostlen -= 2;
    }
    if (hostlen >= sizeof(c->listen_host))
        return err_set(e, ERR_CONFIG, field, "%s: host in \"%s\" is too long", field, v);
    if (hostlen == 0)
        snprintf(c->listen_host, sizeof(c->listen_host), "0.0.0.0");
    else
        snprintf(c->listen_host, sizeof(c->listen_host), "%.*s", (int)hostlen, host);
    c->listen_port = (int)port;
    return 0;
}

static int parse_level(struct config *c, const char *v, const char *field, struct err *e)
{
    if (log_parse_level(v, &c->log_level))
        return err_set(e, ERR_CONFIG, field, "%s: \"%s\" is not one of debug, info, warn, error",
                       field, v);
    return 0;
}

static int parse_auth_mode(struct config *c, const char *v, const char *field, struct err *e)
{
    if (strcmp(v, "tokens") == 0)
        c->auth.enabled = true;
    else if (strcmp(v, "disabled") == 0)
        c->auth.enabled = false;
    else
        return err_set(e, ERR_CONFIG, field, "%s: \"%s\" is not tokens or disabled", field, v);
    return 0;
}

static int set_path(char *dst, size_t size, const char *v, const char *field, struct err *e)
{
    if (strlen(v) >= size)
        return err_set(e, ERR_CONFIG, field, "%s: path is too long", field);
    snprintf(dst, size, "%s", v);
    return 0;
}

static int set_tls_cert(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_path(c->http.tls_cert_file, sizeof(c->http.tls_cert_file), v, field, e);
}

static int set_nonempty(char *dst, size_t size, const char *v, const char *field, struct err *e)
{
    if (!*v)
        return err_set(e, ERR_CONFIG, field, "%s: must not be empty", field);
    return set_path(dst, size, v, field, e);
}

static int set_secrets_dir(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_nonempty(c->secrets_dir, sizeof(c->secrets_dir), v, field, e);
}

static int set_tls_priorities(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_nonempty(c->http.tls_priorities, sizeof(c->http.tls_priorities), v, field, e);
}

static int set_tls_key(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_path(c->http.tls_key_file, sizeof(c->http.tls_key_file), v, field, e);
}

/* Kubernetes object names: at most 253 of [a-z0-9.-]. */
static int set_priority_class(char *dst, size_t size, const char *v, const char *field,
                              struct err *e)
{
    if (strlen(v) >= size || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(v))
        return err_set(e, ERR_CONFIG, field,
                       "%s: \"%s\" is not a PriorityClass name (lowercase, digits, '-', '.')",
                       field, v);
    snprintf(dst, size, "%s", v);
    return 0;
}

static int set_pc_training(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_priority_class(c->scheduler.priority_class, sizeof(c->scheduler.priority_class), v,
                              field, e);
}

static int set_pc_borrowed(struct config *c, const char *v, const char *field, struct err *e)
{
    return set_priority_class(c->scheduler.priority_class_borrowed,
                              sizeof(c->scheduler.priority_class_borrowed), v, field, e);
}

/* "scheduler.jobAnnotations": {"key": "value", ...}, kept as compact JSON text. */
static int parse_annotations(struct config *c, const json_t *v, struct err *e)
{
    const char *field = "scheduler.jobAnnotations", *k;
    json_t *x;
    char *text;

    if (!json_is_object(v))
        return err_set(e, ERR_CONFIG, field, "%s: must be an object of strings", field);
    json_object_foreach((json_t *)v, k, x)
    {
        if (!json_is_string(x))
            return err_set(e, ERR_CONFIG, field, "%s.%s: must be a string", field, k);
    }
    text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || strlen(text) >= sizeof(c->scheduler.job_annotations)) {
        free(text);
        return err_set(e, ERR_CONFIG, field, "%s: over %zu bytes", field,
                       sizeof(c->scheduler.job_annotations) - 1);
    }
    snprintf(c->scheduler.job_annotations, sizeof(c->scheduler.job_annotations), "%s", text);
    free(text);
    return 0;
}

static int set_dsn(struct config *c, const char *v, const char *field, struct err *e)
{
    if (!*v || strlen(v) >= sizeof(c->database.dsn))
        return err_set(e, ERR_CONFIG, field, "%s: must be a non-empty string under %zu bytes",
                       field, sizeof(c->database.dsn));
    snprintf(c->database.dsn, sizeof(c->database.dsn), "%s", v);
    return 0;
}

/* One config key: its path, its JSON type, and where it goes. */
/* K_INT stores an int, or a long / int64_t when is_long is 1 / 2; K_DOUBLE a double. */
enum kind { K_STRING, K_INT, K_BOOL, K_DOUBLE };
struct key {
    const char *path;
    enum kind kind;
    long min, max;
    size_t offset; /* into struct config, for K_INT (int or long) and K_BOOL */
    int is_long;
    int (*set)(struct config *c, const char *v, const char *field, struct err *e);
};

#define OFF(m) offsetof(struct config, m)
static const struct key keys[] = {
    {"listen", K_STRING, 0, 0, 0, 0, parse_listen},
    {"logLevel", K_STRING, 0, 0, 0, 0, parse_level},
    {"secretsDir", K_STRING, 0, 0, 0, 0, set_secrets_dir},
    {"database.dsn", K_STRING, 0, 0, 0, 0, set_dsn},
    {"database.poolSize", K_INT, 1, 500, OFF(database.pool_size), 0, NULL},
    {"database.statementTimeoutMs", K_INT, 10, 600000, OFF(database.statement_timeout_ms), 0, NULL},
    {"database.connectTimeoutS", K_INT, 1, 60, OFF(database.connect_timeout_s), 0, NULL},
    {"database.migrateOnStart", K_BOOL, 0, 0, OFF(database.migrate_on_start), 0, NULL},
    {"http.maxBodyBytes", K_INT, 1024, 64L * 1024 * 1024, OFF(http.max_body_bytes), 1, NULL},
    {"http.maxConnections", K_INT, 1, 100000, OFF(http.max_connections), 0, NULL},
    {"http.requestTimeoutS", K_INT, 1, 3600, OFF(http.request_timeout_s), 0, NULL},
    {"http.maxHeaderBytes", K_INT, 1024, 1024 * 1024, OFF(http.max_header_bytes), 0, NULL},
    {"http.tlsCertFile", K_STRING, 0, 0, 0, 0, set_tls_cert},
    {"http.tlsKeyFile", K_STRING, 0, 0, 0, 0, set_tls_key},
    {"http.tlsPriorities", K_STRING, 0, 0, 0, 0, set_tls_priorities},
    {"http.threads", K_INT, 1, 256, OFF(http.threads), 0, NULL},
    {"http.maxConnectionsPerIp", K_INT, 1, 100000, OFF(http.max_connections_per_ip), 0, NULL},
    {"http.headerTimeoutS", K_INT, 1, 3600, OFF(http.header_timeout_s), 0, NULL},
    {"http.bodyTimeoutS", K_INT, 1, 3600, OFF(http.body_timeout_s), 0, NULL},
    {"http.maxWatches", K_INT, 0, 1000000, OFF(http.max_watches), 0, NULL},
    {"http.maxWatchesPerToken", K_INT, 0, 1000000, OFF(http.max_watches_per_token), 0, NULL},
    {"auth.mode", K_STRING, 0, 0, 0, 0, parse_auth_mode},
    {"auth.ratePerSecond", K_DOUBLE, 0, 1000000, OFF(auth.rate_per_s), 0, NULL},
    {"auth.burst", K_DOUBLE, 1, 1000000, OFF(auth.burst), 0, NULL},
    {"auth.unauthAuditPerMinute", K_INT, 0, 1000000, OFF(auth.unauth_audit_per_minute), 0, NULL},
    {"http.drainTimeoutS", K_INT, 0, 600, OFF(http.drain_timeout_s), 0, NULL},
    {"poller.intervalMs", K_INT, 100, 3600000, OFF(poller.interval_ms), 0, NULL},
    {"poller.requestTimeoutMs", K_INT, 100, 600000, OFF(poller.request_timeout_ms), 0, NULL},
    {"poller.sampleIntervalS", K_INT, 1, 86400, OFF(poller.sample_interval_s), 0, NULL},
    /* The policy's knobs, named as in docs/policy.md; policy_config_validate() checks
     * the relations between them after loading. */
    {"policy.w_fit", K_DOUBLE, 0, 1000000, OFF(policy.w_fit), 0, NULL},
    {"policy.w_cost", K_DOUBLE, 0, 1000000, OFF(policy.w_cost), 0, NULL},
    {"policy.w_locality", K_DOUBLE, 0, 1000000, OFF(policy.w_locality), 0, NULL},
    {"policy.w_freshness", K_DOUBLE, 0, 1000000, OFF(policy.w_freshness), 0, NULL},
    {"policy.w_sku", K_DOUBLE, 0, 1000000, OFF(policy.w_sku), 0, NULL},
    {"policy.w_borrow", K_DOUBLE, 0, 1000000, OFF(policy.w_borrow), 0, NULL},
    {"policy.cost_reference", K_DOUBLE, 0, 1000000, OFF(policy.cost_reference), 0, NULL},
    {"policy.default_cost", K_DOUBLE, 0, 1000000, OFF(policy.default_cost), 0, NULL},
    {"policy.aging_per_hour", K_DOUBLE, 0, 1000000, OFF(policy.aging_per_hour), 0, NULL},
    {"policy.aging_max", K_DOUBLE, 0, 1000000, OFF(policy.aging_max), 0, NULL},
    {"policy.reclaim_rate_per_hour", K_DOUBLE, 0, 1000000, OFF(policy.reclaim_rate_per_hour), 0,
     NULL},
    {"policy.max_data_age_s", K_INT, 0, 31536000, OFF(policy.max_data_age_s), 2, NULL},
    {"policy.fair_share_half_life_s", K_INT, 0, 31536000, OFF(policy.fair_share_half_life_s), 2,
     NULL},
    {"policy.reserve_after_s", K_INT, 0, 31536000, OFF(policy.reserve_after_s), 2, NULL},
    {"policy.max_checkpoint_loss_s", K_INT, 0, 31536000, OFF(policy.max_checkpoint_loss_s), 2,
     NULL},
    {"policy.min_lease_s", K_INT, 0, 31536000, OFF(policy.min_lease_s), 2, NULL},
    {"policy.idle_lease_s", K_INT, 0, 31536000, OFF(policy.idle_lease_s), 2, NULL},
    {"policy.min_runtime_s", K_INT, 0, 31536000, OFF(policy.min_runtime_s), 2, NULL},
    {"policy.relend_backoff_s", K_INT, 0, 31536000, OFF(policy.relend_backoff_s), 2, NULL},
    {"policy.relend_backoff_max_s", K_INT, 0, 31536000, OFF(policy.relend_backoff_max_s), 2, NULL},
    {"policy.grace_period_s", K_INT, 0, 31536000, OFF(policy.grace_period_s), 2, NULL},
    {"policy.grace_period_max_s", K_INT, 0, 31536000, OFF(policy.grace_period_max_s), 2, NULL},
    {"policy.max_reservations", K_INT, 0, 1000000, OFF(policy.max_reservations), 0, NULL},
    {"policy.reclaim_k", K_INT, 0, 1000000, OFF(policy.reclaim_k), 0, NULL},
    {"policy.reclaim_burst", K_INT, 0, 1000000, OFF(policy.reclaim_burst), 0, NULL},
    {"policy.place_on_degraded", K_BOOL, 0, 0, OFF(policy.place_on_degraded), 0, NULL},
    {"policy.quota_reclaim", K_BOOL, 0, 0, OFF(policy.quota_reclaim), 0, NULL},
    {"poller.registrySyncS", K_INT, 1, 3600, OFF(poller.registry_sync_s), 0, NULL},
    {"scheduler.enabled", K_BOOL, 0, 0, OFF(scheduler.enabled), 0, NULL},
    {"scheduler.cycleIntervalMs", K_INT, 10, 3600000, OFF(scheduler.cycle_interval_ms), 0, NULL},
    {"scheduler.minCycleGapMs", K_INT, 0, 60000, OFF(scheduler.min_cycle_gap_ms), 0, NULL},
    {"scheduler.leaderRetryMs", K_INT, 50, 60000, OFF(scheduler.leader_retry_ms), 0, NULL},
    {"scheduler.leaderRenewMs", K_INT, 50, 60000, OFF(scheduler.leader_renew_ms), 0, NULL},
    {"scheduler.requestTimeoutMs", K_INT, 100, 600000, OFF(scheduler.request_timeout_ms), 0, NULL},
    {"scheduler.dispatchBackoffBaseS", K_INT, 0, 86400, OFF(scheduler.backoff_base_s), 0, NULL},
    {"scheduler.dispatchBackoffMaxS", K_INT, 0, 86400, OFF(scheduler.backoff_max_s), 0, NULL},
    {"scheduler.maxDispatchFailures", K_INT, 1, 1000, OFF(scheduler.max_dispatch_failures), 0,
     NULL},
    {"scheduler.gcIntervalS", K_INT, 1, 86400, OFF(scheduler.gc_interval_s), 0, NULL},
    {"scheduler.missingGraceS", K_INT, 0, 86400, OFF(scheduler.missing_grace_s), 0, NULL},
    {"scheduler.startTimeoutS", K_INT, 0, 86400, OFF(scheduler.start_timeout_s), 0, NULL},
    {"scheduler.priorityClass", K_STRING, 0, 0, 0, 0, set_pc_training},
    {"scheduler.priorityClassBorrowed", K_STRING, 0, 0, 0, 0, set_pc_borrowed},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

static int apply_key(struct config *c, const struct key *k, const json_t *v, struct err *e)
{
    char *base = (char *)c;

    switch (k->kind) {
    case K_STRING:
        if (!json_is_string(v))
            return err_set(e, ERR_CONFIG, k->path, "%s: must be a string, got %s", k->path,
                           type_name(v));
        return k->set(c, json_string_value(v), k->path, e);
    case K_INT: {
        json_int_t n;

        if (!json_is_integer(v))
            return err_set(e, ERR_CONFIG, k->path, "%s: must be an integer, got %s", k->path,
                           type_name(v));
        n = json_integer_value(v);
        if (n < k->min || n > k->max)
            return err_set(e, ERR_CONFIG, k->path, "%s: %lld not in %ld..%ld", k->path,
                           (long long)n, k->min, k->max);
        if (k->is_long == 2)
            *(int64_t *)(base + k->offset) = (int64_t)n;
        else if (k->is_long)
            *(long *)(base + k->offset) = (long)n;
        else
            *(int *)(base + k->offset) = (int)n;
        return 0;
    }
    case K_DOUBLE:
        if (!json_is_number(v))
            return err_set(e, ERR_CONFIG, k->path, "%s: must be a number, got %s", k->path,
                           type_name(v));
        if (json_number_value(v) < (double)k->min || json_number_value(v) > (double)k->max)
            return err_set(e, ERR_CONFIG, k->path, "%s: %g not in %ld..%ld", k->path,
                           json_number_value(v), k->min, k->max);
        {
            double d = json_number_value(v);

            memcpy(base + k->offset, &d, sizeof(d));
        }
        return 0;
    case K_BOOL:
        if (!json_is_boolean(v))
            return err_set(e, ERR_CONFIG, k->path, "%s: must be true or false, got %s", k->path,
                           type_name(v));
        *(bool *)(base + k->offset) = json_is_true(v);
        return 0;
    }
    return err_set(e, ERR_INTERNAL, k->path, "unhandled key kind");
}

/* "skus": [{"name": "a100-80gb", "products": ["NVIDIA-A100-SXM4-80GB"], "memoryMiB": 0}]
 * replaces the whole built-in catalogue. */
static int parse_skus(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > SKU_MAX)
        return err_set(e, ERR_CONFIG, "skus", "skus: must be an array of 1..%d SKUs", SKU_MAX);
    memset(&c->skus, 0, sizeof(c->skus));
    json_array_foreach(v, i, item)
    {
        struct sku *k = &c->skus.skus[i];
        const char *key, *name;
        json_t *field, *products;
        size_t p;
        char path[64];

        snprintf(path, sizeof(path), "skus[%zu]", i);
        if (!json_is_object(item))
            return err_set(e, ERR_CONFIG, path, "%s: must be an object", path);
        json_object_foreach(item, key, field)
        {
            if (strcmp(key, "name") && strcmp(key, "products") && strcmp(key, "memoryMiB"))
                return err_set(e, ERR_CONFIG, path, "%s.%s: unknown configuration key", path, key);
        }
        name = json_string_value(json_object_get(item, "name"));
        if (!name || !*name || strlen(name) >= sizeof(k->name) || strchr(name, ','))
            return err_set(e, ERR_CONFIG, path, "%s.name: must be a short non-empty string", path);
        if (sku_find(&c->skus, name) >= 0)
            return err_set(e, ERR_CONFIG, path, "%s.name: \"%s\" is listed twice", path, name);
        snprintf(k->name, sizeof(k->name), "%s", name);
        products = json_object_get(item, "products");
        if (!json_is_array(products) || json_array_size(products) == 0 ||
            json_array_size(products) > SKU_PRODUCTS_MAX)
            return err_set(e, ERR_CONFIG, path, "%s.products: must be an array of 1..%d strings",
                           path, SKU_PRODUCTS_MAX);
        json_array_foreach(products, p, field)
        {
            const char *prod = json_string_value(field);

            if (!prod || !*prod || strlen(prod) >= sizeof(k->products[0]))
                return err_set(e, ERR_CONFIG, path, "%s.products[%zu]: must be a short string",
                               path, p);
            snprintf(k->products[p], sizeof(k->products[p]), "%s", prod);
        }
        k->n_products = json_array_size(products);
        field = json_object_get(item, "memoryMiB");
        if (field && (!json_is_integer(field) || json_integer_value(field) < 0))
            return err_set(e, ERR_CONFIG, path, "%s.memoryMiB: must be a non-negative integer",
                           path);
        k->memory_mib = field ? (int)json_integer_value(field) : 0;
        c->skus.n = i + 1;
    }
    return 0;
}

/* "clusters": [ member cluster objects, as PUT /v1/clusters/{name} takes them ]. The
 * list replaces any earlier one (from a file applied before). */
static int parse_clusters(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v))
        return err_set(e, ERR_CONFIG, "clusters", "clusters: must be an array");
    c->clusters = xcalloc(json_array_size(v) + 1, sizeof(*c->clusters));
    c->n_clusters = 0;
    json_array_foreach(v, i, item)
    {
        struct err ce = {0};

        if (cluster_config_from_json(item, &c->skus, &c->clusters[i], &ce)) {
            char field[160];

            snprintf(field, sizeof(field), "clusters[%zu]%s%s", i, ce.field[0] ? "." : "",
                     ce.field);
            return err_set(e, ERR_CONFIG, field, "%s: %s", field, ce.msg);
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->clusters[k].name, c->clusters[i].name) == 0)
                return err_set(e, ERR_CONFIG, "clusters", "clusters: \"%s\" is listed twice",
                               c->clusters[i].name);
        c->n_clusters = i + 1;
    }
    return 0;
}

static int quota_int(const json_t *o, const char *key, const char *path, bool required, int *out,
                     struct err *e)
{
    const json_t *v = json_object_get(o, key);

    if (!v) {
        if (required)
            return err_set(e, ERR_CONFIG, path, "%s.%s: required", path, key);
        *out = -1; /* unlimited */
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000)
        return err_set(e, ERR_CONFIG, path, "%s.%s: must be an integer in 0..1000000", path, key);
    *out = (int)json_integer_value(v);
    return 0;
}

/* "quotas": [{"namespace", "sku", "nominal", "borrowingLimit", "lendingLimit"}], with
 * Kueue's meaning (docs/policy.md); an absent limit is unlimited. Replaces any earlier. */
static int parse_quotas(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;

    if (!json_is_array(v))
        return err_set(e, ERR_CONFIG, "quotas", "quotas: must be an array");
    c->quotas = xcalloc(json_array_size(v) + 1, sizeof(*c->quotas));
    c->n_quotas = 0;
    json_array_foreach(v, i, item)
    {
        struct policy_quota_spec *q = &c->quotas[i];
        const char *key, *ns, *sku;
        json_t *field;
        char path[32];

        snprintf(path, sizeof(path), "quotas[%zu]", i);
        if (!json_is_object(item))
            return err_set(e, ERR_CONFIG, path, "%s: must be an object", path);
        json_object_foreach(item, key, field)
        {
            if (strcmp(key, "namespace") && strcmp(key, "sku") && strcmp(key, "nominal") &&
                strcmp(key, "borrowingLimit") && strcmp(key, "lendingLimit"))
                return err_set(e, ERR_CONFIG, path, "%s.%s: unknown configuration key", path, key);
        }
        ns = json_string_value(json_object_get(item, "namespace"));
        sku = json_string_value(json_object_get(item, "sku"));
        if (!ns || !dns_label_ok(ns, strlen(ns)))
            return err_set(e, ERR_CONFIG, path, "%s.namespace: \"%s\" is not a namespace name",
                           path, ns ? ns : "");
        if (!sku || sku_find(&c->skus, sku) < 0)
            return err_set(e, ERR_CONFIG, path, "%s.sku: \"%s\" is not in the SKU catalogue", path,
                           sku ? sku : "");
        snprintf(q->ns, sizeof(q->ns), "%s", ns);
        snprintf(q->sku, sizeof(q->sku), "%s", sku);
        if (quota_int(item, "nominal", path, true, &q->nominal, e) ||
            quota_int(item, "borrowingLimit", path, false, &q->borrowing_limit, e) ||
            quota_int(item, "lendingLimit", path, false, &q->lending_limit, e))
            return -1;
        for (size_t k = 0; k < i; k++)
            if (strcmp(c->quotas[k].ns, q->ns) == 0 && strcmp(c->quotas[k].sku, q->sku) == 0)
                return err_set(e, ERR_CONFIG, path, "%s: %s/%s has a quota already", path, ns, sku);
        c->n_quotas = i + 1;
    }
    return 0;
}

/* "namespaceWeights": {"maps-team": 2.0}: fair-share weights (default 1). */
static int parse_weights(struct config *c, const json_t *v, struct err *e)
{
    const char *ns;
    json_t *w;
    size_t i = 0;

    if (!json_is_object(v))
        return err_set(e, ERR_CONFIG, "namespaceWeights", "namespaceWeights: must be an object");
    c->weights = xcalloc(json_object_size(v) + 1, sizeof(*c->weights));
    c->n_weights = 0;
    json_object_foreach((json_t *)v, ns, w)
    {
        char path[96];

        snprintf(path, sizeof(path), "namespaceWeights.%s", ns);
        if (!dns_label_ok(ns, strlen(ns)))
            return err_set(e, ERR_CONFIG, path, "%s: \"%s\" is not a namespace name", path, ns);
        if (!json_is_number(w) || json_number_value(w) <= 0 || json_number_value(w) > 1000)
            return err_set(e, ERR_CONFIG, path, "%s: must be a number in (0, 1000]", path);
        c->weights[i].ns = xstrdup(ns);
        c->weights[i].weight = json_number_value(w);
        c->n_weights = ++i;
    }
    return 0;
}

/* Walks obj; every leaf must be a known key, every object a known section. */
static int apply_object(struct config *c, const json_t *obj, const char *prefix, struct err *e)
{
    const char *name;
    json_t *v;

    /* The catalogue first: clusters' prices name SKUs. */
    if (!*prefix && json_object_get(obj, "skus") && parse_skus(c, json_object_get(obj, "skus"), e))
        return -1;
    json_object_foreach((json_t *)obj, name, v)
    {
        char path[256];
        int section = 0;

        if (!*prefix && strcmp(name, "skus") == 0)
            continue;
        if (strcmp(prefix, "scheduler") == 0 && strcmp(name, "jobAnnotations") == 0) {
            if (parse_annotations(c, v, e))
                return -1;
            continue;
        }
        if (!*prefix && strcmp(name, "clusters") == 0) {
            if (parse_clusters(c, v, e))
                return -1;
            continue;
        }
        if (!*prefix && strcmp(name, "quotas") == 0) {
            if (parse_quotas(c, v, e))
                return -1;
            continue;
        }
        if (!*prefix && strcmp(name, "namespaceWeights") == 0) {
            if (parse_weights(c, v, e))
                return -1;
            continue;
        }

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
        for (size_t i = 0; i < NKEYS; i++) {
            size_t plen = strlen(path);

            if (strcmp(keys[i].path, path) == 0) {
                if (apply_key(c, &keys[i], v, e))
                    return -1;
                section = -1;
                break;
            }
            if (strncmp(keys[i].path, path, plen) == 0 && keys[i].path[plen] == '.')
                section = 1;
        }
        if (section == -1)
            continue;
        if (section == 1) {
            if (!json_is_object(v))
                return err_set(e, ERR_CONFIG, path, "%s: must be an object, got %s", path,
                               type_name(v));
            if (apply_object(c, v, path, e))
                return -1;
            continue;
        }
        return err_set(e, ERR_CONFIG, path, "%s: unknown configuration key", path);
    }
    return 0;
}

/* Frees the lists of `old` that `new` no longer shares (tmp and c share them until a
 * file replaces one). */
static void drop_replaced(struct config *old, const struct config *new)
{
    if (old->clusters != new->clusters)
        free(old->clusters);
    if (old->quotas != new->quotas)
        free(old->quotas);
    if (old->weights != new->weights) {
        for (size_t i = 0; i < old->n_weights; i++)
            free((char *)old->weights[i].ns);
        free(old->weights);
    }
}

int config_apply_json(struct config *c, const char *text, struct err *e)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    struct config tmp = *c;
    int rc;

    if (!root)
        return err_set(e, ERR_CONFIG, NULL, "config is not valid JSON: %s at line %d column %d",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_CONFIG, NULL, "config must be a JSON object");
    }
    /* tmp shares c's cluster list until parse_clusters replaces it with its own. */
    rc = apply_object(&tmp, root, "", e);
    json_decref(root);
    if (rc == 0) {
        drop_replaced(c, &tmp);
        *c = tmp;
    } else {
        drop_replaced(&tmp, c);
    }
    return rc;
}

int config_load_file(struct config *c, const char *path, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long size;
    int rc;

    if (!f)
        return err_set(e, ERR_CONFIG, "config", "cannot open config file %s", path);
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || size > 16L * 1024 * 1024 ||
        fseek(f, 0, SEEK_SET)) {
        fclose(f);
        return err_set(e, ERR_CONFIG, "config", "cannot read config file %s (or over 16 MiB)",
                       path);
    }
    text = xmalloc((size_t)size + 1);
    if (fread(text, 1, (size_t)size, f) != (size_t)size) {
        free(text);
        fclose(f);
        return err_set(e, ERR_CONFIG, "config", "short read on config file %s", path);
    }
    text[size] = '\0';
    fclose(f);
    rc = config_apply_json(c, text, e);
    free(text);
    return rc;
}

int config_apply_env(struct config *c, struct err *e)
{
    struct config tmp = *c;
    const char *v;

    if ((v = getenv("FEDSCHED_LISTEN")) && parse_listen(&tmp, v, "FEDSCHED_LISTEN", e))
        return -1;
    if ((v = getenv("FEDSCHED_DATABASE_DSN")) && set_dsn(&tmp, v, "FEDSCHED_DATABASE_DSN", e))
        return -1;
    if ((v = getenv("FEDSCHED_LOG_LEVEL")) && parse_level(&tmp, v, "FEDSCHED_LOG_LEVEL", e))
        return -1;
    if ((v = getenv("FEDSCHED_AUTH_MODE")) && parse_auth_mode(&tmp, v, "FEDSCHED_AUTH_MODE", e))
        return -1;
    if ((v = getenv("FEDSCHED_SECRETS_DIR")) && set_secrets_dir(&tmp, v, "FEDSCHED_SECRETS_DIR", e))
        return -1;
    *c = tmp;
    return 0;
}

int config_load(struct config *c, const char *const *paths, size_t n, struct err *e)
{
    config_defaults(c);
    for (size_t i = 0; i < n; i++) {
        if (config_load_file(c, paths[i], e)) {
            config_free(c);
            return -1;
        }
    }
    if (config_apply_env(c, e) || policy_config_validate(&c->policy, e) ||
        (!c->http.tls_cert_file[0] != !c->http.tls_key_file[0] &&
         err_set(e, ERR_CONFIG, "http.tlsKeyFile",
                 "http.tlsCertFile and http.tlsKeyFile must be set together"))) {
        config_free(c);
        return -1;
    }
    return 0;
}
