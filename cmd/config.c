/* config.c -- the one configuration table (name, type, default, bounds, environment
 * variable, where the value lands, as Redis' config.c has it), and the walks over it that
 * fill the defaults, read the JSON file and apply the environment. */
#include "cmd/config.h"

#include "api/api.h"
#include "api/trainingjob.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"
#include "cmd/retry_config.h"
#include "policy/policy.h"
#include "store/store.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    trainingjob_tenants_free(&c->tenants);
    json_decref(c->retry_defaults);
    c->retry_defaults = NULL;
}

/* ---- custom setters and string checks ------------------------------------------------------ */

/* "host:port", "[v6]:port" or ":port" (all interfaces). */
static int parse_listen(struct config *c, const struct config_row *r, const char *v,
                        const char *field, struct err *e)
{
    const char *colon = strrchr(v, ':');
    int64_t port;
    size_t hostlen;
    const char *host = v;

    (void)r;
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

static int parse_level(struct config *c, const struct config_row *r, const char *v,
                       const char *field, struct err *e)
{
    (void)r;
    if (log_parse_level(v, &c->log_level))
        return err_set(e, ERR_CONFIG, field, "%s: \"%s\" is not one of debug, info, warn, error",
                       field, v);
    return 0;
}

static int parse_auth_mode(struct config *c, const struct config_row *r, const char *v,
                           const char *field, struct err *e)
{
    (void)r;
    if (strcmp(v, "tokens") == 0)
        c->auth.enabled = true;
    else if (strcmp(v, "disabled") == 0)
        c->auth.enabled = false;
    else
        return err_set(e, ERR_CONFIG, field, "%s: \"%s\" is not tokens or disabled", field, v);
    return 0;
}

static int check_nonempty(struct config *c, const struct config_row *r, const char *v,
                          const char *field, struct err *e)
{
    (void)c;
    (void)r;
    if (!*v)
        return err_set(e, ERR_CONFIG, field, "%s: must not be empty", field);
    return 0;
}

/* Kubernetes object names: [a-z0-9.-] (our buffers are shorter than the 253 allowed). */
static int check_priority_class(struct config *c, const struct config_row *r, const char *v,
                                const char *field, struct err *e)
{
    (void)c;
    (void)r;
    if (strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") != strlen(v))
        return err_set(e, ERR_CONFIG, field,
                       "%s: \"%s\" is not a PriorityClass name (lowercase, digits, '-', '.')",
                       field, v);
    return 0;
}

/* Where pods reach the API (FEDSCHED_URL): "" (derived from listen) or an http(s) URL
 * without spaces or quotes. */
static int check_public_url(struct config *c, const struct config_row *r, const char *v,
                            const char *field, struct err *e)
{
    (void)c;
    (void)r;
    if (*v && ((strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
               strcspn(v, " \t\r\n\"'") != strlen(v)))
        return err_set(e, ERR_CONFIG, field,
                       "%s: \"%s\" is not an http:// or https:// URL without spaces or quotes",
                       field, v);
    return 0;
}

/* A label value that is also a DNS-1123 label, so it can name things later (and never
 * needs quoting in a selector). */
static int check_origin_id(struct config *c, const struct config_row *r, const char *v,
                           const char *field, struct err *e)
{
    (void)c;
    (void)r;
    if (!dns_label_ok(v, strlen(v)))
        return err_set(e, ERR_CONFIG, field,
                       "%s: \"%s\" is not a DNS-1123 label (1-63 of a-z, 0-9, '-', alphanumeric "
                       "at both ends)",
                       field, v);
    return 0;
}

/* ---- JSON setters: lists and objects; v == NULL (a row without def_str) sets the empty or
 * built-in default ----------------------------------------------------------------------- */

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
    if (!text || strlen(text) >= sizeof(c->scheduler_text.job_annotations)) {
        free(text);
        return err_set(e, ERR_CONFIG, field, "%s: over %zu bytes", field,
                       sizeof(c->scheduler_text.job_annotations) - 1);
    }
    snprintf(c->scheduler_text.job_annotations, sizeof(c->scheduler_text.job_annotations), "%s",
             text);
    free(text);
    return 0;
}

/* "skus": [{"name": "a100-80gb", "products": ["NVIDIA-A100-SXM4-80GB"], "memoryMiB": 0}]
 * replaces the whole built-in catalogue. NULL: the built-in one. */
static int parse_skus(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;
    if (!v) {
        c->skus = *sku_defaults();
        return 0;
    }

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
 * list replaces any earlier one (from a file applied before). NULL: none. */
static int parse_clusters(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;
    if (!v) {
        c->clusters = NULL;
        c->n_clusters = 0;
        return 0;
    }

    if (!json_is_array(v))
        return err_set(e, ERR_CONFIG, "clusters", "clusters: must be an array");
    c->clusters = xcalloc(json_array_size(v) + 1, sizeof(*c->clusters));
    c->n_clusters = 0;
    json_array_foreach(v, i, item)
    {
        struct err_causes cs = {0};

        if (cluster_config_from_json_all(item, &c->skus, &c->clusters[i], &cs)) {
            char prefix[32];

            /* Every problem an operator would otherwise meet one start at a time. */
            snprintf(prefix, sizeof(prefix), "clusters[%zu]", i);
            return err_join(e, ERR_CONFIG, prefix, &cs);
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
 * Kueue's meaning (docs/policy.md); an absent limit is unlimited. Replaces any earlier.
 * NULL: none. */
static int parse_quotas(struct config *c, const json_t *v, struct err *e)
{
    size_t i;
    json_t *item;
    if (!v) {
        c->quotas = NULL;
        c->n_quotas = 0;
        return 0;
    }

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

/* "namespaceWeights": {"maps-team": 2.0}: fair-share weights (default 1). NULL: none. */
static int parse_weights(struct config *c, const json_t *v, struct err *e)
{
    const char *ns;
    json_t *w;
    size_t i = 0;
    if (!v) {
        c->weights = NULL;
        c->n_weights = 0;
        return 0;
    }

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

/* "retryDefaults": {"team-a": {retry}, "*": {retry}}: the retry policy of jobs whose spec
 * has none (cmd/retry_config.h). NULL: none. */
static int parse_retry_defaults(struct config *c, const json_t *v, struct err *e)
{
    c->retry_defaults = NULL;
    return v ? retry_config_parse(v, &c->retry_defaults, e) : 0;
}

/* "tenants": {"team-a": {"secrets": ["team-a-s3"]}, "*": {...}}: what each namespace's
 * specs may reference (api/trainingjob.h). Replaces any earlier. NULL: nothing restricted. */
static int parse_tenants(struct config *c, const json_t *v, struct err *e)
{
    if (!v) {
        c->tenants = NULL;
        return 0;
    }
    return trainingjob_tenants_from_json(v, &c->tenants, e);
}

/* ---- the table ----------------------------------------------------------------------------- */

#define OFF(m) offsetof(struct config, m)
#define SZ(m)  sizeof(((struct config *)0)->m)

/* Row builders, each: name, default, bounds, then where the value lands. */
#define ROW_NUM(name, type, def, min, max, field)                                                  \
    {                                                                                              \
        name, type, 0, def, NULL, min, max, NULL, OFF(field), 0, NULL, NULL                        \
    }
#define ROW_INT(name, def, min, max, field)  ROW_NUM(name, CONFIG_INT, def, min, max, field)
#define ROW_I64(name, def, min, max, field)  ROW_NUM(name, CONFIG_INT64, def, min, max, field)
#define ROW_DBL(name, def, min, max, field)  ROW_NUM(name, CONFIG_DOUBLE, def, min, max, field)
#define ROW_MS(name, def_s, min, max, field) ROW_NUM(name, CONFIG_MS_FROM_S, def_s, min, max, field)
#define ROW_BOOL(name, def, field)           ROW_NUM(name, CONFIG_BOOL, def, 0, 1, field)
#define ROW_STR(name, def, env, check, field)                                                      \
    {                                                                                              \
        name, CONFIG_STRING, 0, 0, def, 0, 0, env, OFF(field), SZ(field), check, NULL              \
    }
#define ROW_CUSTOM(name, def, env, set, field)                                                     \
    {                                                                                              \
        name, CONFIG_CUSTOM, 0, 0, def, 0, 0, env, OFF(field), 0, set, NULL                        \
    }
#define ROW_JSON(name, flags, def, set_json, field)                                                \
    {                                                                                              \
        name, CONFIG_JSON, flags, 0, def, 0, 0, NULL, OFF(field), 0, NULL, set_json                \
    }
#define ROW_FIXED(name, type, def, min, max, field)                                                \
    {                                                                                              \
        name, type, CONFIG_FIXED, def, NULL, min, max, NULL, OFF(field), 0, NULL, NULL             \
    }

/* In the order of docs/configuration.md. Units are the file's: a row of CONFIG_MS_FROM_S has
 * its default and bounds in seconds and lands as milliseconds. */
static const struct config_row rows[] = {
    ROW_CUSTOM("listen", "127.0.0.1:8080", "FEDSCHED_LISTEN", parse_listen, listen_host),
    ROW_CUSTOM("logLevel", "info", "FEDSCHED_LOG_LEVEL", parse_level, log_level),
    ROW_STR("secretsDir", CLUSTER_SECRETS_DIR_DEFAULT, "FEDSCHED_SECRETS_DIR", check_nonempty,
            secrets_dir),
    ROW_STR("database.dsn", "host=127.0.0.1 port=5432 user=postgres dbname=fedsched",
            "FEDSCHED_DATABASE_DSN", check_nonempty, database.dsn),
    ROW_INT("database.poolSize", 16, 1, 500, database.pool_size),
    ROW_INT("database.statementTimeoutMs", 5000, 10, 600000, database.statement_timeout_ms),
    ROW_INT("database.connectTimeoutS", 3, 1, 60, database.connect_timeout_s),
    ROW_BOOL("database.migrateOnStart", 1, database.migrate_on_start),
    ROW_NUM("http.maxBodyBytes", CONFIG_LONG, 1048576, 1024, 67108864, http.max_body_bytes),
    ROW_INT("http.maxConnections", 512, 1, 100000, http.max_connections),
    ROW_INT("http.maxConnectionsPerIp", 64, 1, 100000, http.max_connections_per_ip),
    ROW_INT("http.threads", 8, 1, 256, http.threads),
    ROW_INT("http.submitThreads", 64, 1, 1024, http.submit_threads),
    ROW_INT("http.requestTimeoutS", 30, 1, 3600, http.request_timeout_s),
    ROW_INT("http.headerTimeoutS", 10, 1, 3600, http.header_timeout_s),
    ROW_INT("http.bodyTimeoutS", 60, 1, 3600, http.body_timeout_s),
    ROW_INT("http.maxWatches", 2048, 0, 1000000, http.max_watches),
    ROW_INT("http.maxWatchesPerToken", 64, 0, 1000000, http.max_watches_per_token),
    ROW_INT("http.drainTimeoutS", 20, 0, 600, http.drain_timeout_s),
    ROW_INT("http.maxHeaderBytes", 16384, 1024, 1048576, http.max_header_bytes),
    ROW_STR("http.tlsCertFile", "", NULL, NULL, http.tls_cert_file),
    ROW_STR("http.tlsKeyFile", "", NULL, NULL, http.tls_key_file),
    ROW_STR("http.tlsPriorities", CONFIG_TLS_PRIORITIES, NULL, check_nonempty, http.tls_priorities),
    ROW_CUSTOM("auth.mode", "tokens", "FEDSCHED_AUTH_MODE", parse_auth_mode, auth.enabled),
    ROW_DBL("auth.ratePerSecond", 50, 0, 1000000, auth.rate_per_s),
    ROW_DBL("auth.burst", 100, 1, 1000000, auth.burst),
    ROW_INT("auth.unauthAuditPerMinute", 10, 0, 1000000, auth.unauth_audit_per_minute),
    ROW_INT("poller.intervalMs", 10000, 100, 3600000, poller.interval_ms),
    ROW_INT("poller.requestTimeoutMs", 10000, 100, 600000, poller.request_timeout_ms),
    ROW_MS("poller.sampleIntervalS", 60, 1, 86400, poller.sample_interval_ms),
    ROW_MS("poller.registrySyncS", 10, 1, 3600, scheduler.registry_sync_ms),
    ROW_MS("poller.prereqIntervalSeconds", 3600, 0, 86400, poller.prereq_interval_ms),
    ROW_INT("poller.watchTimeoutSeconds", 300, 1, 3600, poller.watch_timeout_s),
    ROW_INT("poller.watchIdleMs", 90000, 100, 3600000, poller.watch_idle_ms),
    ROW_DBL("poller.qps", 5, 0.01, 100000, poller.qps),
    ROW_INT("poller.burst", 10, 1, 100000, poller.burst),
    ROW_BOOL("scheduler.enabled", 1, scheduler_enabled),
    ROW_INT("scheduler.cycleIntervalMs", 1000, 10, 3600000, scheduler.cycle_interval_ms),
    ROW_INT("scheduler.minCycleGapMs", 100, 0, 60000, scheduler.min_cycle_gap_ms),
    ROW_INT("scheduler.leaderRetryMs", 1000, 50, 60000, scheduler.leader_retry_ms),
    ROW_INT("scheduler.leaderRenewMs", 1000, 50, 60000, scheduler.leader_renew_ms),
    ROW_INT("scheduler.requestTimeoutMs", 10000, 100, 600000, scheduler.request_timeout_ms),
    ROW_INT("scheduler.dispatchBackoffBaseS", 10, 0, 86400, scheduler.backoff_base_s),
    ROW_INT("scheduler.dispatchBackoffMaxS", 600, 0, 86400, scheduler.backoff_max_s),
    ROW_INT("scheduler.maxDispatchFailures", 10, 1, 1000, scheduler.max_dispatch_failures),
    ROW_MS("scheduler.gcIntervalS", 600, 1, 86400, scheduler.gc_interval_ms),
    ROW_INT("scheduler.missingGraceS", 60, 0, 86400, scheduler.missing_grace_s),
    ROW_INT("scheduler.startTimeoutS", 900, 0, 86400, scheduler.start_timeout_s),
    ROW_STR("scheduler.priorityClass", "", NULL, check_priority_class,
            scheduler_text.priority_class),
    ROW_STR("scheduler.priorityClassBorrowed", "fedsched-borrowed", NULL, check_priority_class,
            scheduler_text.priority_class_borrowed),
    ROW_JSON("scheduler.jobAnnotations", 0, "{}", parse_annotations,
             scheduler_text.job_annotations),
    ROW_STR("scheduler.originId", "default", NULL, check_origin_id, scheduler.origin_id),
    ROW_STR("scheduler.publicUrl", "", "FEDSCHED_PUBLIC_URL", check_public_url,
            scheduler_text.public_url),
    ROW_INT("scheduler.shmMib", 8192, 0, 1048576, scheduler.shm_mib),
    ROW_INT("scheduler.finishedTtlSeconds", 86400, 60, 31536000, scheduler.finished_ttl_s),
    ROW_INT("scheduler.podCheckIntervalS", 60, 0, 3600, scheduler.pod_check_interval_s),
    ROW_INT("scheduler.imagePullTimeoutS", 600, 0, 86400, scheduler.image_pull_timeout_s),
    ROW_INT("scheduler.suspendedTimeoutS", 900, 0, 604800, scheduler.suspended_timeout_s),
    ROW_INT("retention.capacitySamplesDays", 400, 0, 36500, scheduler.retain_samples_days),
    ROW_INT("retention.auditDays", 0, 0, 36500, scheduler.retain_audit_days),
    ROW_INT("retention.finishedJobsDays", 0, 0, 36500, scheduler.retain_jobs_days),
    /* The policy's knobs, named as in docs/policy.md; policy_config_validate() checks the
     * relations between them after loading. */
    ROW_DBL("policy.w_fit", 1.0, 0, 1000000, policy.w_fit),
    ROW_DBL("policy.w_cost", 1.0, 0, 1000000, policy.w_cost),
    ROW_DBL("policy.w_locality", 0.5, 0, 1000000, policy.w_locality),
    ROW_DBL("policy.w_freshness", 0.25, 0, 1000000, policy.w_freshness),
    ROW_DBL("policy.w_sku", 0.5, 0, 1000000, policy.w_sku),
    ROW_DBL("policy.w_borrow", 2.0, 0, 1000000, policy.w_borrow),
    ROW_DBL("policy.cost_reference", 2.0, 0, 1000000, policy.cost_reference),
    ROW_DBL("policy.default_cost", 3.0, 0, 1000000, policy.default_cost),
    ROW_I64("policy.max_data_age_s", 60, 0, 31536000, policy.max_data_age_s),
    ROW_BOOL("policy.place_on_degraded", 1, policy.place_on_degraded),
    ROW_DBL("policy.aging_per_hour", 10.0, 0, 1000000, policy.aging_per_hour),
    ROW_DBL("policy.aging_max", 0, 0, 1000000, policy.aging_max),
    ROW_I64("policy.fair_share_half_life_s", 86400, 0, 31536000, policy.fair_share_half_life_s),
    ROW_INT("policy.max_reservations", 4, 0, 1000000, policy.max_reservations),
    ROW_I64("policy.reserve_after_s", 0, 0, 31536000, policy.reserve_after_s),
    ROW_I64("policy.max_checkpoint_loss_s", 1800, 0, 31536000, policy.max_checkpoint_loss_s),
    ROW_I64("policy.min_lease_s", 600, 0, 31536000, policy.min_lease_s),
    ROW_I64("policy.idle_lease_s", 3600, 0, 31536000, policy.idle_lease_s),
    ROW_INT("policy.reclaim_k", 1, 0, 1000000, policy.reclaim_k),
    ROW_I64("policy.reclaim_settle_s", 5, 0, 86400, policy.reclaim_settle_s),
    ROW_I64("policy.min_runtime_s", 600, 0, 31536000, policy.min_runtime_s),
    ROW_DBL("policy.reclaim_rate_per_hour", 6.0, 0, 1000000, policy.reclaim_rate_per_hour),
    ROW_INT("policy.reclaim_burst", 3, 0, 1000000, policy.reclaim_burst),
    ROW_I64("policy.relend_backoff_s", 600, 0, 31536000, policy.relend_backoff_s),
    ROW_I64("policy.relend_backoff_max_s", 14400, 0, 31536000, policy.relend_backoff_max_s),
    ROW_I64("policy.grace_period_s", 30, 0, 31536000, policy.grace_period_s),
    ROW_I64("policy.grace_period_max_s", 300, 0, 31536000, policy.grace_period_max_s),
    ROW_BOOL("policy.quota_reclaim", 1, policy.quota_reclaim),
    ROW_BOOL("policy.proactive_reclaim", 0, policy.proactive_reclaim),
    ROW_I64("policy.reclaim_lead_s", 900, 0, 86400, policy.reclaim_lead_s),
    ROW_I64("policy.checkpoint_deadline_s", 120, 1, 86400, policy.checkpoint_deadline_s),
    ROW_BOOL("policy.preemption", 1, policy.preemption),
    ROW_I64("policy.preempt_min_runtime_s", 600, 0, 31536000, policy.preempt_min_runtime_s),
    ROW_INT("policy.preempt_budget", 4, 0, 64, policy.preempt_budget),
    ROW_I64("policy.preempt_window_s", 600, 1, 31536000, policy.preempt_window_s),
    /* Lists and objects; without def_str their setter's NULL case is the default (none, or
     * the built-in SKU catalogue). */
    ROW_JSON("quotas", 0, NULL, parse_quotas, quotas),
    ROW_JSON("namespaceWeights", 0, NULL, parse_weights, weights),
    ROW_JSON("skus", CONFIG_FIRST, NULL, parse_skus, skus),
    ROW_JSON("clusters", 0, NULL, parse_clusters, clusters),
    ROW_JSON("tenants", 0, NULL, parse_tenants, tenants),
    ROW_JSON("retryDefaults", 0, NULL, parse_retry_defaults, retry_defaults),
    /* Built in: the subsystems need them, the file does not set them (docs/configuration.md,
     * "Built-in values"). */
    ROW_FIXED("poller.connectTimeoutMs", CONFIG_INT, 3000, 1, 600000, poller.connect_timeout_ms),
    ROW_FIXED("poller.pageLimit", CONFIG_INT, 500, 1, 100000, poller.page_limit),
    ROW_FIXED("poller.maxInflight", CONFIG_INT, 256, 1, 100000, poller.max_inflight),
    ROW_FIXED("poller.backoffBaseMs", CONFIG_INT, 1000, 1, 3600000, poller.backoff_base_ms),
    ROW_FIXED("poller.backoffMaxMs", CONFIG_INT, 60000, 1, 3600000, poller.backoff_max_ms),
    ROW_FIXED("poller.absentRecheckMs", CONFIG_INT, 600000, 1, 86400000, poller.absent_recheck_ms),
    ROW_FIXED("poller.publishDelayMs", CONFIG_INT, 100, 1, 60000, poller.publish_delay_ms),
    ROW_FIXED("poller.maxBodyBytes", CONFIG_SIZE, 268435456, 1024, 4294967296.0,
              poller.max_body_bytes),
    ROW_FIXED("poller.maxEventBytes", CONFIG_SIZE, 16777216, 1024, 268435456.0,
              poller.max_event_bytes),
    ROW_FIXED("scheduler.defaultLostTimeoutS", CONFIG_INT, 900, 1, 86400,
              scheduler.default_lost_timeout_s),
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

const struct config_row *config_table(size_t *n)
{
    *n = NROWS;
    return rows;
}

const struct config_row *config_row_find(const char *name)
{
    for (size_t i = 0; i < NROWS; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

/* ---- storing one value --------------------------------------------------------------------- */

static int is_integer_type(enum config_type t)
{
    return t == CONFIG_INT || t == CONFIG_LONG || t == CONFIG_INT64 || t == CONFIG_SIZE ||
           t == CONFIG_MS_FROM_S;
}

/* Writes v (already within the row's bounds) where the row lands, in the unit it lands in. */
static void store_number(struct config *c, const struct config_row *r, double v)
{
    char *at = (char *)c + r->offset;

    switch (r->type) {
    case CONFIG_INT: *(int *)at = (int)v; break;
    case CONFIG_LONG: *(long *)at = (long)v; break;
    case CONFIG_INT64: *(int64_t *)at = (int64_t)v; break;
    case CONFIG_SIZE: *(size_t *)at = (size_t)v; break;
    case CONFIG_MS_FROM_S: *(int *)at = (int)v * 1000; break;
    case CONFIG_DOUBLE: memcpy(at, &v, sizeof(v)); break;
    case CONFIG_BOOL: *(bool *)at = v != 0; break;
    case CONFIG_STRING:
    case CONFIG_CUSTOM:
    case CONFIG_JSON: break;
    }
}

static int set_integer(struct config *c, const struct config_row *r, long long n, const char *field,
                       struct err *e)
{
    if ((double)n < r->min || (double)n > r->max)
        return err_set(e, ERR_CONFIG, field, "%s: %lld not in %lld..%lld", field, n,
                       (long long)r->min, (long long)r->max);
    store_number(c, r, (double)n);
    return 0;
}

static int set_double(struct config *c, const struct config_row *r, double d, const char *field,
                      struct err *e)
{
    if (!isfinite(d) || d < r->min || d > r->max)
        return err_set(e, ERR_CONFIG, field, "%s: %g not in %.15g..%.15g", field, d, r->min,
                       r->max);
    store_number(c, r, d);
    return 0;
}

/* Strings and custom rows: the text as the file or the environment gives it. */
static int set_text(struct config *c, const struct config_row *r, const char *v, const char *field,
                    struct err *e)
{
    if (r->type == CONFIG_CUSTOM)
        return r->set(c, r, v, field, e);
    if (strlen(v) >= r->size)
        return err_set(e, ERR_CONFIG, field, "%s: longer than %zu bytes", field, r->size - 1);
    if (r->set && r->set(c, r, v, field, e))
        return -1;
    snprintf((char *)c + r->offset, r->size, "%s", v);
    return 0;
}

static int set_json_default(struct config *c, const struct config_row *r, struct err *e)
{
    json_t *v;
    int rc;

    if (!r->def_str)
        return r->set_json(c, NULL, e);
    v = json_loads(r->def_str, 0, NULL);
    if (!v)
        return err_set(e, ERR_INTERNAL, r->name, "%s: default is not JSON", r->name);
    rc = r->set_json(c, v, e);
    json_decref(v);
    return rc;
}

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < NROWS; i++) {
        const struct config_row *r = &rows[i];
        struct err e = {0};
        int rc = 0;

        if (r->type == CONFIG_JSON)
            rc = set_json_default(c, r, &e);
        else if (r->type == CONFIG_STRING || r->type == CONFIG_CUSTOM)
            rc = set_text(c, r, r->def_str ? r->def_str : "", r->name, &e);
        else
            store_number(c, r, r->def);
        if (rc) {
            /* A default its own row refuses is a bug in the table; test_config finds it. */
            fprintf(stderr, "fedsched: config: bad built-in default: %s\n", e.msg);
            abort();
        }
    }
}

/* ---- the file and the environment ---------------------------------------------------------- */

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

/* One value from the file, checked against its row. */
static int apply_json_value(struct config *c, const struct config_row *r, const json_t *v,
                            struct err *e)
{
    const char *k = r->name;

    if (r->type == CONFIG_JSON)
        return r->set_json(c, v, e);
    if (r->type == CONFIG_STRING || r->type == CONFIG_CUSTOM) {
        if (!json_is_string(v))
            return err_set(e, ERR_CONFIG, k, "%s: must be a string, got %s", k, type_name(v));
        return set_text(c, r, json_string_value(v), k, e);
    }
    if (r->type == CONFIG_BOOL) {
        if (!json_is_boolean(v))
            return err_set(e, ERR_CONFIG, k, "%s: must be true or false, got %s", k, type_name(v));
        store_number(c, r, json_is_true(v));
        return 0;
    }
    if (is_integer_type(r->type)) {
        if (!json_is_integer(v))
            return err_set(e, ERR_CONFIG, k, "%s: must be an integer, got %s", k, type_name(v));
        return set_integer(c, r, (long long)json_integer_value(v), k, e);
    }
    if (!json_is_number(v))
        return err_set(e, ERR_CONFIG, k, "%s: must be a number, got %s", k, type_name(v));
    return set_double(c, r, json_number_value(v), k, e);
}

/* One value from the environment variable var, checked against its row as the file's is. */
static int apply_env_value(struct config *c, const struct config_row *r, const char *v,
                           const char *var, struct err *e)
{
    if (r->type == CONFIG_STRING || r->type == CONFIG_CUSTOM)
        return set_text(c, r, v, var, e);
    if (r->type == CONFIG_BOOL) {
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return err_set(e, ERR_CONFIG, var, "%s: \"%s\" is not true or false", var, v);
        store_number(c, r, strcmp(v, "true") == 0);
        return 0;
    }
    if (is_integer_type(r->type)) {
        int64_t n;

        if (num_parse_i64(v, INT64_MIN, INT64_MAX, &n))
            return err_set(e, ERR_CONFIG, var, "%s: \"%s\" is not an integer", var, v);
        return set_integer(c, r, (long long)n, var, e);
    }
    if (r->type == CONFIG_DOUBLE) {
        double d;

        if (num_parse_double(v, &d))
            return err_set(e, ERR_CONFIG, var, "%s: \"%s\" is not a number", var, v);
        return set_double(c, r, d, var, e);
    }
    return err_set(e, ERR_INTERNAL, var, "%s: %s cannot come from the environment", var, r->name);
}

/* The row the file may set at path, or NULL. */
static const struct config_row *file_row(const char *path)
{
    const struct config_row *r = config_row_find(path);

    return r && !(r->flags & CONFIG_FIXED) ? r : NULL;
}

/* Whether path is a section ("database") holding rows the file may set. */
static int is_section(const char *path)
{
    size_t plen = strlen(path);

    for (size_t i = 0; i < NROWS; i++)
        if (!(rows[i].flags & CONFIG_FIXED) && strncmp(rows[i].name, path, plen) == 0 &&
            rows[i].name[plen] == '.')
            return 1;
    return 0;
}

/* Walks obj; every leaf must be a row the file may set, every object a known section. Each
 * problem is kept in cs and the walk goes on, so one start names them all; a bad
 * CONFIG_FIRST row stops it, since the rows after it would fail for its sake. */
static int apply_object(struct config *c, const json_t *obj, const char *prefix,
                        struct err_causes *cs)
{
    const char *name;
    json_t *v;
    struct err e;

    /* Rows marked CONFIG_FIRST (skus) go first: clusters' prices and quotas name SKUs. */
    for (size_t i = 0; !*prefix && i < NROWS; i++)
        if ((rows[i].flags & CONFIG_FIRST) && (v = json_object_get(obj, rows[i].name)) &&
            apply_json_value(c, &rows[i], v, &e)) {
            err_cause(cs, &e);
            return -1;
        }
    json_object_foreach((json_t *)obj, name, v)
    {
        char path[256];
        const struct config_row *r;

        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", name);
        if ((r = file_row(path))) {
            if (!(r->flags & CONFIG_FIRST) && apply_json_value(c, r, v, &e))
                err_cause(cs, &e);
        } else if (!is_section(path)) {
            err_causef(cs, ERR_CONFIG, path, "%s: unknown configuration key", path);
        } else if (!json_is_object(v)) {
            err_causef(cs, ERR_CONFIG, path, "%s: must be an object, got %s", path, type_name(v));
        } else {
            apply_object(c, v, path, cs);
        }
    }
    return cs->n ? -1 : 0;
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
    if (old->tenants != new->tenants)
        trainingjob_tenants_free(&old->tenants);
    if (old->retry_defaults != new->retry_defaults)
        json_decref(old->retry_defaults);
}

int config_apply_json(struct config *c, const char *text, struct err *e)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    struct config tmp = *c;
    struct err_causes cs = {0};
    int rc;

    if (!root)
        return err_set(e, ERR_CONFIG, NULL, "config is not valid JSON: %s at line %d column %d",
                       jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(e, ERR_CONFIG, NULL, "config must be a JSON object");
    }
    /* tmp shares c's cluster list until parse_clusters replaces it with its own. */
    rc = apply_object(&tmp, root, "", &cs);
    json_decref(root);
    if (rc)
        err_join(e, cs.items[0].code, NULL, &cs);
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

    /* Every row with a variable is a string, custom or number row: none allocates, so tmp
     * shares c's lists and a failure needs no cleanup. */
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].env && (v = getenv(rows[i].env)) &&
            apply_env_value(&tmp, &rows[i], v, rows[i].env, e))
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
    if (!c->scheduler_text.public_url[0])
        snprintf(c->scheduler_text.public_url, sizeof(c->scheduler_text.public_url), "%s://%s:%d",
                 c->http.tls_cert_file[0] ? "https" : "http", c->listen_host, c->listen_port);
    return 0;
}

/* ---- what the subsystems run with ---------------------------------------------------------- */

void config_store_options(const struct config *c, struct store_config *out)
{
    memset(out, 0, sizeof(*out));
    out->dsn = c->database.dsn;
    out->pool_size = c->database.pool_size;
    out->statement_timeout_ms = c->database.statement_timeout_ms;
    out->connect_timeout_s = c->database.connect_timeout_s;
    /* A request waits for a pooled connection as long as a statement may run. */
    out->acquire_timeout_ms = c->database.statement_timeout_ms;
}

void config_api_options(const struct config *c, struct api_config *out)
{
    memset(out, 0, sizeof(*out));
    out->max_body_bytes = c->http.max_body_bytes;
    out->max_connections = c->http.max_connections;
    out->request_timeout_s = c->http.request_timeout_s;
    out->auth_enabled = c->auth.enabled;
    out->rate_per_s = c->auth.rate_per_s;
    out->rate_burst = c->auth.burst;
    out->tls_cert_file = c->http.tls_cert_file[0] ? c->http.tls_cert_file : NULL;
    out->tls_key_file = c->http.tls_key_file[0] ? c->http.tls_key_file : NULL;
    out->max_header_bytes = c->http.max_header_bytes;
    out->threads = c->http.threads;
    out->submit_threads = c->http.submit_threads;
    out->max_connections_per_ip = c->http.max_connections_per_ip;
    out->header_timeout_s = c->http.header_timeout_s;
    out->body_timeout_s = c->http.body_timeout_s;
    out->max_watches = c->http.max_watches;
    out->max_watches_per_token = c->http.max_watches_per_token;
    out->tls_priorities = c->http.tls_priorities;
    out->unauth_audit_per_minute = c->auth.unauth_audit_per_minute;
    out->tenants = c->tenants;
    out->quotas = c->quotas;
    out->n_quotas = c->n_quotas;
}

void config_poller_options(const struct config *c, struct poller_options *out)
{
    *out = c->poller;
    out->skus = &c->skus;
    out->priority_class = c->scheduler_text.priority_class;
    out->priority_class_borrowed = c->scheduler_text.priority_class_borrowed;
}

void config_sched_options(const struct config *c, struct sched_options *out)
{
    *out = c->scheduler;
    out->dsn = c->database.dsn;
    out->policy = &c->policy;
    out->skus = &c->skus;
    out->priority_class = c->scheduler_text.priority_class;
    out->priority_class_borrowed = c->scheduler_text.priority_class_borrowed;
    out->public_url = c->scheduler_text.public_url;
    out->quotas = c->quotas;
    out->n_quotas = c->n_quotas;
    out->weights = c->weights;
    out->n_weights = c->n_weights;
}
