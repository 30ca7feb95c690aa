/* test_config.c -- the configuration table (every default within its bounds, landing in
 * the options each subsystem runs with, documented, overridable from the environment in
 * the same place as from the file), file overlay, environment overrides, and errors that
 * name the key and the value. */
#include "api/api.h"
#include "base/err.h"
#include "cluster/poller.h"
#include "cmd/config.h"
#include "scheduler/sched.h"
#include "store/store.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

START_TEST(defaults_are_sane)
{
    struct config c;

    config_defaults(&c);
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 8080);
    ck_assert_int_eq(c.http.max_body_bytes, 1024 * 1024);
    ck_assert(c.database.migrate_on_start);
    ck_assert_int_eq(c.log_level, LOG_INFO);
}
END_TEST

START_TEST(json_overlays_only_given_keys)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"listen\":\"0.0.0.0:9090\",\"logLevel\":\"debug\","
                                       "\"database\":{\"poolSize\":4,\"migrateOnStart\":false},"
                                       "\"http\":{\"maxBodyBytes\":2048}}",
                                       &e),
                     0);
    ck_assert_str_eq(c.listen_host, "0.0.0.0");
    ck_assert_int_eq(c.listen_port, 9090);
    ck_assert_int_eq(c.log_level, LOG_DEBUG);
    ck_assert_int_eq(c.database.pool_size, 4);
    ck_assert(!c.database.migrate_on_start);
    ck_assert_int_eq(c.http.max_body_bytes, 2048);
    ck_assert_int_eq(c.database.statement_timeout_ms, 5000); /* untouched default */
}
END_TEST

START_TEST(policy_knobs)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"policy\":{\"w_borrow\":5.5,\"reclaim_k\":7,"
                                       "\"min_runtime_s\":120,\"quota_reclaim\":false}}",
                                       &e),
                     0);
    ck_assert(c.policy.w_borrow == 5.5);
    ck_assert_int_eq(c.policy.reclaim_k, 7);
    ck_assert_int_eq(c.policy.min_runtime_s, 120);
    ck_assert(!c.policy.quota_reclaim);
    ck_assert_int_eq(config_apply_json(&c, "{\"policy\":{\"w_borow\":1}}", &e), -1);
    ck_assert_str_eq(e.field, "policy.w_borow");
    ck_assert_int_eq(config_apply_json(&c, "{\"policy\":{\"w_fit\":\"high\"}}", &e), -1);
    ck_assert_str_eq(e.field, "policy.w_fit");
}
END_TEST

START_TEST(skus_and_clusters)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"skus\":[{\"name\":\"b200\",\"products\":["
                                       "\"NVIDIA-B200\"]}],\"clusters\":[{\"name\":\"c1\","
                                       "\"apiServer\":\"https://c1.example:6443\"}]}",
                                       &e),
                     0);
    ck_assert_uint_eq(c.skus.n, 1);
    ck_assert_str_eq(c.skus.skus[0].name, "b200");
    ck_assert_uint_eq(c.n_clusters, 1);
    ck_assert_int_eq(config_apply_json(&c, "{\"clusters\":[{\"name\":\"Bad Name\"}]}", &e), -1);
    ck_assert_int_eq(strncmp(e.field, "clusters[0]", 11), 0);
    ck_assert_uint_eq(c.n_clusters, 1); /* unchanged on failure */
    ck_assert_int_eq(config_apply_json(&c, "{\"skus\":[{\"name\":\"x\"}]}", &e), -1);
    ck_assert_str_eq(e.field, "skus[0]");
    config_free(&c);
}
END_TEST

START_TEST(quotas_and_weights)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"quotas\":[{\"namespace\":\"maps\",\"sku\":\"a100-80gb\","
                                       "\"nominal\":64,\"borrowingLimit\":32}],"
                                       "\"namespaceWeights\":{\"maps\":2.5,\"search\":1}}",
                                       &e),
                     0);
    ck_assert_uint_eq(c.n_quotas, 1);
    ck_assert_str_eq(c.quotas[0].ns, "maps");
    ck_assert_int_eq(c.quotas[0].nominal, 64);
    ck_assert_int_eq(c.quotas[0].borrowing_limit, 32);
    ck_assert_int_eq(c.quotas[0].lending_limit, -1); /* absent: unlimited */
    ck_assert_uint_eq(c.n_weights, 2);
    ck_assert(c.weights[0].weight == 2.5);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"quotas\":[{\"namespace\":\"maps\",\"sku\":"
                                       "\"a999\",\"nominal\":1}]}",
                                       &e),
                     -1);
    ck_assert_str_eq(e.field, "quotas[0]");
    ck_assert_msg(strstr(e.msg, "a999"), "%s", e.msg);
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"quotas\":[{\"namespace\":\"maps\",\"sku\":"
                                       "\"l4\"}]}",
                                       &e),
                     -1);
    ck_assert_msg(strstr(e.msg, "nominal: required"), "%s", e.msg);
    ck_assert_int_eq(config_apply_json(&c, "{\"namespaceWeights\":{\"Bad_NS\":1}}", &e), -1);
    ck_assert_uint_eq(c.n_quotas, 1); /* unchanged on failure */
    config_free(&c);
}
END_TEST

/* "tenants" reaches the API; a later file replaces it, {} removes it, a bad one names its
 * key and leaves the config as it was. */
START_TEST(tenants_reach_the_api)
{
    struct config c;
    struct api_config ac;
    struct err e = {0};
    const struct trainingjob_tenants *first;

    config_defaults(&c);
    config_api_options(&c, &ac);
    ck_assert_ptr_null(ac.tenants); /* absent: nothing restricted */
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"tenants\":{\"team-a\":{\"secrets\":[\"s3\"]},"
                                       "\"*\":{\"serviceAccountNames\":[]}}}",
                                       &e),
                     0);
    config_api_options(&c, &ac);
    ck_assert_ptr_nonnull(ac.tenants);
    ck_assert_ptr_eq(ac.tenants, c.tenants);
    first = c.tenants;
    ck_assert_int_eq(config_apply_json(&c, "{\"tenants\":{\"team-a\":{\"secrets\":[\"A\"]}}}", &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "tenants.team-a.secrets[0]");
    ck_assert_msg(strstr(e.msg, "tenants.team-a.secrets[0]: \"A\" is not a name"), "%s", e.msg);
    ck_assert_ptr_eq(c.tenants, first); /* unchanged on failure */
    ck_assert_int_eq(config_apply_json(&c, "{\"tenants\":{\"*\":{\"secrets\":[]}}}", &e), 0);
    ck_assert_ptr_nonnull(c.tenants); /* replaced (the first is freed: ASan checks) */
    ck_assert_int_eq(config_apply_json(&c, "{\"tenants\":{}}", &e), 0);
    ck_assert_ptr_null(c.tenants);
    config_free(&c);
}
END_TEST

START_TEST(ipv6_and_any_listen)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c, "{\"listen\":\"[::1]:8443\"}", &e), 0);
    ck_assert_str_eq(c.listen_host, "::1");
    ck_assert_int_eq(c.listen_port, 8443);
    ck_assert_int_eq(config_apply_json(&c, "{\"listen\":\":7000\"}", &e), 0);
    ck_assert_str_eq(c.listen_host, "0.0.0.0");
}
END_TEST

struct bad_case {
    const char *json;
    const char *field;
    const char *in_msg;
};

static const struct bad_case bad[] = {
    {"{\"listen\":\"localhost\"}", "listen", "\"localhost\""},
    {"{\"listen\":\"1.2.3.4:70000\"}", "listen", "70000"},
    {"{\"logLevel\":\"loud\"}", "logLevel", "\"loud\""},
    {"{\"database\":{\"poolSize\":0}}", "database.poolSize", "0 not in 1..500"},
    {"{\"database\":{\"poolSize\":\"8\"}}", "database.poolSize", "must be an integer"},
    {"{\"database\":{\"dns\":\"x\"}}", "database.dns", "unknown configuration key"},
    {"{\"databse\":{}}", "databse", "unknown configuration key"},
    {"{\"database\":5}", "database", "must be an object"},
    {"{\"http\":{\"maxBodyBytes\":1}}", "http.maxBodyBytes", "1 not in"},
    {"{\"database\":{\"migrateOnStart\":\"yes\"}}", "database.migrateOnStart", "true or false"},
    {"{\"auth\":{\"burst\":0.5}}", "auth.burst", "0.5 not in 1..1000000"},
    {"{\"poller\":{\"registrySyncS\":3601}}", "poller.registrySyncS", "3601 not in 1..3600"},
    {"{\"tenants\":{\"Team\":{}}}", "tenants.Team", "\"Team\" is not a namespace name"},
    {"{\"tenants\":{\"*\":{\"uriPrefix\":[]}}}", "tenants.*.uriPrefix",
     "unknown configuration key (did you mean \"uriPrefixes\"?)"},
};

/* A member cluster wrong in several members names them all, in the order PUT
 * /v1/clusters/{name} lists its causes, so an operator fixes them in one start; past the
 * message's room the rest are counted. */
START_TEST(every_problem_of_a_cluster)
{
    struct config c;
    struct err e = {0};
    char big[4096];
    const char *name, *api;
    int n;

    config_defaults(&c);
    ck_assert_int_eq(
        config_apply_json(
            &c,
            "{\"clusters\":[{\"name\":\"c1\",\"apiServer\":\"https://c1.example:6443\"},"
            "{\"name\":\"Bad Name\",\"apiServer\":\"nope\",\"bogus\":1}]}",
            &e),
        -1);
    ck_assert_str_eq(e.field, "clusters[1].bogus");
    ck_assert_ptr_nonnull(strstr(e.msg, "clusters[1].bogus: unknown member \"bogus\"; "));
    name = strstr(e.msg, "clusters[1].name: name \"Bad Name\"");
    api = strstr(e.msg, "; clusters[1].apiServer: apiServer \"nope\"");
    ck_assert_ptr_nonnull(name);
    ck_assert_ptr_nonnull(api);
    ck_assert_msg(name < api, "name after apiServer: %s", e.msg);
    ck_assert_ptr_null(strstr(e.msg, "more)"));

    n = snprintf(big, sizeof(big),
                 "{\"clusters\":[{\"name\":\"c1\",\"apiServer\":\"https://c1.example:6443\"");
    for (int i = 0; i < 20; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, ",\"unknownMember%02d\":1", i);
    snprintf(big + n, sizeof(big) - (size_t)n, "}]}");
    ck_assert_int_eq(config_apply_json(&c, big, &e), -1);
    ck_assert_str_eq(e.field, "clusters[0].unknownMember00");
    ck_assert_ptr_nonnull(strstr(e.msg, "clusters[0].unknownMember01: unknown member"));
    ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg) - 1);
    {
        /* Each of the twenty is named or counted, once. */
        const char *p = e.msg, *more = strstr(e.msg, " (and ");
        size_t named = 0, counted = 0;

        while ((p = strstr(p, "clusters[0].unknownMember"))) {
            named++;
            p++;
        }
        ck_assert_msg(more && sscanf(more, " (and %zu more)", &counted) == 1, "%s", e.msg);
        ck_assert_uint_eq(named + counted, 20);
        ck_assert_uint_gt(named, 1);
    }
    config_free(&c);
}
END_TEST

/* A file wrong in several places names every problem, in the file's order, so an operator
 * fixes them in one start; the config is unchanged. A bad SKU catalogue stops the walk:
 * the clusters and quotas after it name its SKUs and would fail for its sake. */
START_TEST(every_problem_of_the_file)
{
    struct config c, before;
    struct err e = {0};
    const char *unknown, *pool, *level, *cluster;

    config_defaults(&c);
    before = c;
    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"logLevel\":\"chatty\",\"databse\":{},"
                                       "\"database\":{\"poolSize\":0,\"migrateOnStart\":true},"
                                       "\"clusters\":[{\"name\":\"Bad Name\"}],\"http\":7}",
                                       &e),
                     -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "logLevel");
    level = strstr(e.msg, "logLevel: \"chatty\" is not one of");
    unknown = strstr(e.msg, "; databse: unknown configuration key");
    pool = strstr(e.msg, "; database.poolSize: 0 not in 1..500");
    cluster = strstr(e.msg, "; clusters[0].name: name \"Bad Name\"");
    ck_assert_msg(level == e.msg && unknown && pool && cluster, "%s", e.msg);
    ck_assert_msg(unknown < pool && pool < cluster, "out of the file's order: %s", e.msg);
    ck_assert_ptr_nonnull(strstr(e.msg, "; http: must be an object, got an integer"));
    ck_assert_ptr_null(strstr(e.msg, "migrateOnStart"));
    ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);

    ck_assert_int_eq(config_apply_json(&c,
                                       "{\"skus\":[{\"name\":\"\"}],\"logLevel\":\"chatty\","
                                       "\"quotas\":[{\"namespace\":\"a\",\"sku\":\"nope\"}]}",
                                       &e),
                     -1);
    ck_assert_str_eq(e.field, "skus[0]");
    ck_assert_msg(!strstr(e.msg, "; "), "went on past the SKUs: %s", e.msg);
    config_free(&c);
}
END_TEST

START_TEST(bad_values_name_key_and_value)
{
    struct config c, before;
    struct err e = {0};

    config_defaults(&c);
    before = c;
    ck_assert_int_eq(config_apply_json(&c, bad[_i].json, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, bad[_i].field);
    ck_assert_msg(strstr(e.msg, bad[_i].in_msg), "message '%s' lacks '%s'", e.msg, bad[_i].in_msg);
    ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0); /* unchanged on failure */
}
END_TEST

START_TEST(not_json_or_not_object)
{
    struct config c;
    struct err e = {0};

    config_defaults(&c);
    ck_assert_int_eq(config_apply_json(&c, "{\"listen\":", &e), -1);
    ck_assert_msg(strstr(e.msg, "not valid JSON"), "%s", e.msg);
    ck_assert_int_eq(config_apply_json(&c, "[1]", &e), -1);
    ck_assert_msg(strstr(e.msg, "must be a JSON object"), "%s", e.msg);
    ck_assert_int_eq(config_apply_json(&c, "{\"logLevel\":\"info\",\"logLevel\":\"debug\"}", &e),
                     -1);
}
END_TEST

START_TEST(env_overrides_file)
{
    struct config c;
    struct err e = {0};
    char path[] = "/tmp/fedsched-config-XXXXXX";
    int fd = mkstemp(path);
    const char *text = "{\"listen\":\"127.0.0.1:9000\",\"logLevel\":\"warn\"}";

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    setenv("FEDSCHED_LISTEN", "127.0.0.2:9001", 1);
    setenv("FEDSCHED_DATABASE_DSN", "host=db dbname=x", 1);
    unsetenv("FEDSCHED_LOG_LEVEL");
    unsetenv("FEDSCHED_PUBLIC_URL");
    {
        const char *paths[1] = {path};

        ck_assert_int_eq(config_load(&c, paths, 1, &e), 0);
    }
    unlink(path);
    ck_assert_str_eq(c.listen_host, "127.0.0.2");
    ck_assert_int_eq(c.listen_port, 9001);
    /* No scheduler.publicUrl: the pods are told the address fedsched listens on. */
    ck_assert_str_eq(c.scheduler_text.public_url, "http://127.0.0.2:9001");
    ck_assert_str_eq(c.database.dsn, "host=db dbname=x");
    ck_assert_int_eq(c.log_level, LOG_WARN); /* from the file */

    setenv("FEDSCHED_LOG_LEVEL", "chatty", 1);
    ck_assert_int_eq(config_load(&c, NULL, 0, &e), -1);
    ck_assert_str_eq(e.field, "FEDSCHED_LOG_LEVEL");
    ck_assert_msg(strstr(e.msg, "chatty"), "%s", e.msg);
}
END_TEST

START_TEST(missing_file_is_an_error)
{
    struct config c;
    struct err e = {0};

    {
        const char *paths[1] = {"/nonexistent/fedsched.json"};

        ck_assert_int_eq(config_load(&c, paths, 1, &e), -1);
    }
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_msg(strstr(e.msg, "/nonexistent/fedsched.json"), "%s", e.msg);
}
END_TEST

/* ---- the table ------------------------------------------------------------------------------ */

static struct config *new_defaults(void)
{
    struct config *c = calloc(1, sizeof(*c));

    ck_assert_ptr_nonnull(c);
    config_defaults(c);
    return c;
}

static void free_config(struct config *c)
{
    config_free(c);
    free(c);
}

static int is_number_row(const struct config_row *r)
{
    return r->type != CONFIG_STRING && r->type != CONFIG_CUSTOM && r->type != CONFIG_JSON;
}

/* The number stored at `at` for row r, in the row's (the file's) unit. */
static double value_at(const struct config_row *r, const char *at)
{
    double d;

    switch (r->type) {
    case CONFIG_INT: return *(const int *)at;
    case CONFIG_LONG: return (double)*(const long *)at;
    case CONFIG_INT64: return (double)*(const int64_t *)at;
    case CONFIG_SIZE: return (double)*(const size_t *)at;
    case CONFIG_MS_FROM_S: return *(const int *)at / 1000.0;
    case CONFIG_DOUBLE: memcpy(&d, at, sizeof(d)); return d;
    case CONFIG_BOOL: return *(const bool *)at ? 1 : 0;
    default: return NAN;
    }
}

/* Every row's default is within its bounds, fits its buffer, and names are unique. */
START_TEST(table_defaults_within_bounds)
{
    size_t n;
    const struct config_row *t = config_table(&n);

    ck_assert_uint_gt(n, 80);
    for (size_t i = 0; i < n; i++) {
        const struct config_row *r = &t[i];

        ck_assert_ptr_eq(config_row_find(r->name), r); /* unique */
        if (is_number_row(r)) {
            ck_assert_msg(r->min <= r->def && r->def <= r->max, "%s: default %g not in %g..%g",
                          r->name, r->def, r->min, r->max);
            if (r->type != CONFIG_DOUBLE)
                ck_assert_msg(r->def == floor(r->def) && r->min == floor(r->min),
                              "%s: integer row with a fraction", r->name);
            if (r->type == CONFIG_BOOL)
                ck_assert_msg(r->min == 0 && r->max == 1, "%s: bool bounds", r->name);
        } else if (r->type == CONFIG_STRING) {
            ck_assert_msg(!r->def_str || strlen(r->def_str) < r->size, "%s: default too long",
                          r->name);
        } else if (r->type == CONFIG_CUSTOM) {
            ck_assert_msg(r->def_str && r->set, "%s: custom row without default or setter",
                          r->name);
        }
        if (r->flags & CONFIG_FIXED)
            ck_assert_msg(!r->env, "%s: built-in row with an environment variable", r->name);
        for (size_t k = 0; r->env && k < i; k++)
            ck_assert_msg(!t[k].env || strcmp(t[k].env, r->env) != 0, "%s twice", r->env);
    }
}
END_TEST

/* config_defaults() walks the table: every number lands where its row says, in the
 * subsystem's unit, and writing the default through the file changes nothing. */
START_TEST(table_defaults_land_in_config)
{
    size_t n;
    const struct config_row *t = config_table(&n);
    struct config *c = new_defaults(), *f = new_defaults();

    for (size_t i = 0; i < n; i++) {
        const struct config_row *r = &t[i];
        json_t *doc, *leaf = NULL;
        char *text;
        struct err e = {0};

        if (is_number_row(r))
            ck_assert_msg(value_at(r, (const char *)c + r->offset) == r->def,
                          "%s: config holds %g, the table says %g", r->name,
                          value_at(r, (const char *)c + r->offset), r->def);
        if (r->type == CONFIG_STRING)
            ck_assert_str_eq((const char *)c + r->offset, r->def_str ? r->def_str : "");
        if (r->flags & CONFIG_FIXED || (r->type == CONFIG_JSON && !r->def_str))
            continue;
        /* {"a": {"b": default}} applied over the defaults leaves them byte for byte. */
        if (r->type == CONFIG_STRING || r->type == CONFIG_CUSTOM)
            leaf = json_string(r->def_str ? r->def_str : "");
        else if (r->type == CONFIG_BOOL)
            leaf = json_boolean(r->def != 0);
        else if (r->type == CONFIG_DOUBLE)
            leaf = json_real(r->def);
        else if (r->type == CONFIG_JSON)
            leaf = json_loads(r->def_str, 0, NULL);
        else
            leaf = json_integer((json_int_t)r->def);
        doc = leaf;
        {
            char name[128], *dot;

            snprintf(name, sizeof(name), "%s", r->name);
            while ((dot = strrchr(name, '.'))) {
                json_t *o = json_object();

                json_object_set_new(o, dot + 1, doc);
                doc = o;
                *dot = '\0';
            }
            {
                json_t *o = json_object();

                json_object_set_new(o, name, doc);
                doc = o;
            }
        }
        text = json_dumps(doc, JSON_COMPACT);
        ck_assert_msg(config_apply_json(f, text, &e) == 0, "%s: %s", text, e.msg);
        ck_assert_msg(memcmp(f, c, sizeof(*c)) == 0, "%s moved something", text);
        free(text);
        json_decref(doc);
    }
    free_config(c);
    free_config(f);
}
END_TEST

/* Rows whose value `serve` reads from struct config itself (no subsystem option holds it). */
static const char *const read_by_serve[] = {
    "listen",
    "logLevel",
    "secretsDir",
    "database.migrateOnStart",
    "http.drainTimeoutS",
    "http.tlsCertFile",
    "http.tlsKeyFile",
    "scheduler.enabled",
    "scheduler.jobAnnotations",
    "quotas",
    "namespaceWeights",
    "retryDefaults",
    "skus",
    "clusters",
};

/* Rows that reach the API and the store through config_api_options() and
 * config_store_options(), and the field each lands in there. */
static const struct {
    const char *row;
    size_t offset;
    int store; /* 1: struct store_config, 0: struct api_config */
} copied[] = {
    {"http.maxBodyBytes", offsetof(struct api_config, max_body_bytes), 0},
    {"http.maxConnections", offsetof(struct api_config, max_connections), 0},
    {"http.maxConnectionsPerIp", offsetof(struct api_config, max_connections_per_ip), 0},
    {"http.threads", offsetof(struct api_config, threads), 0},
    {"http.submitThreads", offsetof(struct api_config, submit_threads), 0},
    {"http.requestTimeoutS", offsetof(struct api_config, request_timeout_s), 0},
    {"http.headerTimeoutS", offsetof(struct api_config, header_timeout_s), 0},
    {"http.bodyTimeoutS", offsetof(struct api_config, body_timeout_s), 0},
    {"http.maxWatches", offsetof(struct api_config, max_watches), 0},
    {"http.maxWatchesPerToken", offsetof(struct api_config, max_watches_per_token), 0},
    {"http.maxHeaderBytes", offsetof(struct api_config, max_header_bytes), 0},
    {"auth.ratePerSecond", offsetof(struct api_config, rate_per_s), 0},
    {"auth.burst", offsetof(struct api_config, rate_burst), 0},
    {"auth.unauthAuditPerMinute", offsetof(struct api_config, unauth_audit_per_minute), 0},
    {"database.poolSize", offsetof(struct store_config, pool_size), 1},
    {"database.statementTimeoutMs", offsetof(struct store_config, statement_timeout_ms), 1},
    {"database.connectTimeoutS", offsetof(struct store_config, connect_timeout_s), 1},
};

/* Whether row r lands inside the member of struct config at [off, off + size). */
static int lands_in(const struct config_row *r, size_t off, size_t size)
{
    return r->offset >= off && r->offset < off + size;
}

/* Every row's default is what the subsystems actually run with, built the way `serve`
 * builds them: the poller and the scheduler are created and asked for their options. */
START_TEST(subsystems_run_with_the_table)
{
    size_t n;
    const struct config_row *t = config_table(&n);
    struct config *c = new_defaults();
    struct poller_options po;
    struct sched_options so;
    struct api_config ac;
    struct store_config sc;
    struct poller *p = NULL;
    struct sched *s = NULL;
    struct err e = {0};
    const struct poller_options *held_p;
    const struct sched_options *held_s;

    config_poller_options(c, &po);
    ck_assert_msg(poller_create(NULL, 0, &po, &p, &e) == 0, "%s", e.msg);
    config_sched_options(c, &so);
    so.holder = "test";
    ck_assert_msg(sched_new(&so, NULL, p, &s, &e) == 0, "%s", e.msg);
    config_api_options(c, &ac);
    config_store_options(c, &sc);
    held_p = poller_get_options(p);
    held_s = sched_get_options(s);
    ck_assert_ptr_ne(held_s->policy, &c->policy); /* the scheduler's own copy */

    for (size_t i = 0; i < n; i++) {
        const struct config_row *r = &t[i];
        const char *at = NULL;
        int checked = 0;

        if (lands_in(r, offsetof(struct config, poller), sizeof(c->poller)))
            at = (const char *)held_p + (r->offset - offsetof(struct config, poller));
        else if (lands_in(r, offsetof(struct config, scheduler), sizeof(c->scheduler)))
            at = (const char *)held_s + (r->offset - offsetof(struct config, scheduler));
        else if (lands_in(r, offsetof(struct config, policy), sizeof(c->policy)))
            at = (const char *)held_s->policy + (r->offset - offsetof(struct config, policy));
        for (size_t k = 0; !at && k < sizeof(copied) / sizeof(copied[0]); k++)
            if (strcmp(copied[k].row, r->name) == 0)
                at = (copied[k].store ? (const char *)&sc : (const char *)&ac) + copied[k].offset;
        if (at && r->type == CONFIG_STRING) {
            /* A string held in the options themselves (scheduler.originId). */
            ck_assert_str_eq(at, r->def_str);
            checked = 1;
        } else if (at) {
            ck_assert_msg(is_number_row(r), "%s", r->name);
            ck_assert_msg(value_at(r, at) == r->def,
                          "%s: the subsystem runs with %g, the table "
                          "says %g",
                          r->name, value_at(r, at), r->def);
            checked = 1;
        } else if (strcmp(r->name, "database.dsn") == 0) {
            ck_assert_str_eq(sc.dsn, r->def_str);
            ck_assert_str_eq(held_s->dsn, r->def_str);
            checked = 1;
        } else if (strcmp(r->name, "http.tlsPriorities") == 0) {
            ck_assert_str_eq(ac.tls_priorities, r->def_str);
            checked = 1;
        } else if (strcmp(r->name, "tenants") == 0) {
            ck_assert_ptr_null(ac.tenants); /* none by default: everything allowed */
            checked = 1;
        } else if (strcmp(r->name, "auth.mode") == 0) {
            ck_assert(ac.auth_enabled == (strcmp(r->def_str, "tokens") == 0));
            checked = 1;
        } else if (strcmp(r->name, "scheduler.priorityClass") == 0) {
            ck_assert_str_eq(held_s->priority_class, r->def_str);
            checked = 1;
        } else if (strcmp(r->name, "scheduler.priorityClassBorrowed") == 0) {
            ck_assert_str_eq(held_s->priority_class_borrowed, r->def_str);
            checked = 1;
        } else if (strcmp(r->name, "scheduler.publicUrl") == 0) {
            /* "" in the table; config_load() derives it from listen (env_overrides_file). */
            ck_assert_str_eq(held_s->public_url, r->def_str);
            checked = 1;
        }
        for (size_t k = 0; !checked && k < sizeof(read_by_serve) / sizeof(read_by_serve[0]); k++)
            checked = strcmp(read_by_serve[k], r->name) == 0;
        ck_assert_msg(checked, "%s: no test follows this row into a subsystem", r->name);
    }
    /* The one derived value: Unreachable after three missed polls. */
    ck_assert_int_eq(held_p->unreachable_after_ms, 3 * c->poller.interval_ms);
    sched_free(&s);
    poller_free(&p);
    free_config(c);
}
END_TEST

/* Capacity samples are kept for ever (0) or at least the four weeks the serving forecast
 * reads: a shorter retention is refused at start, naming the key. */
START_TEST(sample_retention_keeps_the_forecast_weeks)
{
    struct config *c = new_defaults();
    struct poller_options po;
    struct sched_options so;
    struct poller *p = NULL;
    struct sched *s = NULL;
    struct err e = {0};

    config_poller_options(c, &po);
    ck_assert_msg(poller_create(NULL, 0, &po, &p, &e) == 0, "%s", e.msg);
    config_sched_options(c, &so);
    so.holder = "test";
    ck_assert_int_eq(so.retain_samples_days, 400);
    so.retain_samples_days = 27;
    ck_assert_int_eq(sched_new(&so, NULL, p, &s, &e), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "retention.capacitySamplesDays");
    for (int days = 0; days <= 28; days += 28) {
        so.retain_samples_days = days;
        ck_assert_msg(sched_new(&so, NULL, p, &s, &e) == 0, "%d: %s", days, e.msg);
        sched_free(&s);
    }
    poller_free(&p);
    free_config(c);
}
END_TEST

/* The poller and the scheduler keep no defaults: no options, or a zero, is refused. */
START_TEST(subsystems_refuse_missing_options)
{
    struct config *c = new_defaults();
    struct poller_options po;
    struct poller *p = NULL;
    struct err e = {0};

    ck_assert_int_eq(poller_create(NULL, 0, NULL, &p, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    config_poller_options(c, &po);
    po.interval_ms = 0;
    ck_assert_int_eq(poller_create(NULL, 0, &po, &p, &e), -1);
    ck_assert_str_eq(e.field, "poller.interval_ms");
    config_poller_options(c, &po);
    po.max_body_bytes = 0;
    ck_assert_int_eq(poller_create(NULL, 0, &po, &p, &e), -1);
    ck_assert_str_eq(e.field, "poller.max_body_bytes");
    ck_assert_ptr_null(p);
    free_config(c);
}
END_TEST

/* Units: the file's seconds land as the subsystems' milliseconds; built-in rows are not
 * keys of the file. */
START_TEST(units_and_built_in_rows)
{
    struct config *c = new_defaults();
    struct err e = {0};

    ck_assert_int_eq(config_apply_json(c,
                                       "{\"poller\":{\"sampleIntervalS\":5,\"registrySyncS\":7},"
                                       "\"scheduler\":{\"gcIntervalS\":9}}",
                                       &e),
                     0);
    ck_assert_int_eq(c->poller.sample_interval_ms, 5000);
    ck_assert_int_eq(c->scheduler.registry_sync_ms, 7000);
    ck_assert_int_eq(c->scheduler.gc_interval_ms, 9000);
    ck_assert_int_eq(config_apply_json(c, "{\"poller\":{\"sampleIntervalS\":0}}", &e), -1);
    ck_assert_str_eq(e.field, "poller.sampleIntervalS");
    ck_assert_msg(strstr(e.msg, "0 not in 1..86400"), "%s", e.msg);
    ck_assert_int_eq(config_apply_json(c, "{\"poller\":{\"pageLimit\":10}}", &e), -1);
    ck_assert_str_eq(e.field, "poller.pageLimit");
    ck_assert_msg(strstr(e.msg, "unknown configuration key"), "%s", e.msg);
    free_config(c);
}
END_TEST

/* A value for each row that has an environment variable, different from its default. */
static const char *env_sample(const char *row)
{
    static const struct {
        const char *row, *value;
    } samples[] = {
        {"listen", "10.1.2.3:9443"},
        {"logLevel", "debug"},
        {"database.dsn", "host=db dbname=x"},
        {"auth.mode", "disabled"},
        {"secretsDir", "/srv/fedsched/secrets"},
        {"scheduler.publicUrl", "https://fedsched.example.com"},
    };

    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
        if (strcmp(samples[i].row, row) == 0)
            return samples[i].value;
    return NULL;
}

/* Every environment variable lands exactly where its JSON key lands, and nowhere else. */
START_TEST(env_lands_where_the_key_lands)
{
    size_t n, with_env = 0;
    const struct config_row *t = config_table(&n);

    for (size_t i = 0; i < n; i++)
        if (t[i].env)
            unsetenv(t[i].env);
    for (size_t i = 0; i < n; i++) {
        const struct config_row *r = &t[i];
        const char *v;
        struct config *from_file, *from_env, *dflt;
        struct err e = {0};
        json_t *doc;
        char *text, name[128], *dot;

        if (!r->env)
            continue;
        with_env++;
        v = env_sample(r->name);
        ck_assert_msg(v != NULL, "%s: give env_sample() a value for %s", r->name, r->env);
        from_file = new_defaults();
        from_env = new_defaults();
        dflt = new_defaults();
        doc = r->type == CONFIG_STRING || r->type == CONFIG_CUSTOM
                  ? json_string(v)
                  : json_loads(v, JSON_DECODE_ANY, NULL);
        snprintf(name, sizeof(name), "%s", r->name);
        while ((dot = strrchr(name, '.'))) {
            json_t *o = json_object();

            json_object_set_new(o, dot + 1, doc);
            doc = o;
            *dot = '\0';
        }
        {
            json_t *o = json_object();

            json_object_set_new(o, name, doc);
            doc = o;
        }
        text = json_dumps(doc, JSON_COMPACT);
        ck_assert_msg(config_apply_json(from_file, text, &e) == 0, "%s", e.msg);
        setenv(r->env, v, 1);
        ck_assert_msg(config_apply_env(from_env, &e) == 0, "%s", e.msg);
        unsetenv(r->env);
        ck_assert_msg(memcmp(from_file, dflt, sizeof(*dflt)) != 0, "%s changed nothing", text);
        ck_assert_msg(memcmp(from_file, from_env, sizeof(*dflt)) == 0,
                      "%s=%s does not land where %s does", r->env, v, text);
        free(text);
        json_decref(doc);
        free_config(from_file);
        free_config(from_env);
        free_config(dflt);
    }
    ck_assert_uint_eq(with_env, 6); /* the six documented variables */
}
END_TEST

/* ---- the documentation ---------------------------------------------------------------------- */

static char *read_doc(const char *rel)
{
    const char *src = getenv("FEDSCHED_SRC");
    char path[1024];
    FILE *f;
    char *text;
    long size;

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
    f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    text = calloc(1, (size_t)size + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    return text;
}

/* Cell `col` (0-based) of a table line "| a | b | c |", trimmed, into out. */
static void cell(const char *line, int col, char *out, size_t size)
{
    const char *p = line, *end;
    size_t len;

    for (int i = 0; i <= col; i++) {
        p = strchr(p, '|');
        ck_assert_ptr_nonnull(p);
        p++;
    }
    end = strchr(p, '|');
    ck_assert_ptr_nonnull(end);
    while (p < end && *p == ' ')
        p++;
    while (end > p && end[-1] == ' ')
        end--;
    len = (size_t)(end - p) < size - 1 ? (size_t)(end - p) : size - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

/* Compares a documented default with row r: numbers, booleans, "strings", {} and []; other
 * prose ("unset", "see docs/policy.md") is not compared. */
static void check_doc_default(const struct config_row *r, const char *doc, const char *where)
{
    char v[1024];
    size_t len = strlen(doc);
    char *end;
    double d;

    if (len >= 2 && doc[0] == '`' && doc[len - 1] == '`' && !memchr(doc + 1, '`', len - 2)) {
        snprintf(v, sizeof(v), "%.*s", (int)(len - 2), doc + 1);
    } else if (len && strspn(doc, "0123456789.-") == len) {
        snprintf(v, sizeof(v), "%s", doc);
    } else if (strcmp(doc, "true") == 0 || strcmp(doc, "false") == 0) {
        snprintf(v, sizeof(v), "%s", doc);
    } else {
        return;
    }
    if (v[0] == '"') {
        ck_assert_msg(strlen(v) >= 2 && v[strlen(v) - 1] == '"', "%s: %s", where, v);
        v[strlen(v) - 1] = '\0';
        ck_assert_msg(strcmp(v + 1, r->def_str ? r->def_str : "") == 0,
                      "%s: %s documented as \"%s\", the table says \"%s\"", where, r->name, v + 1,
                      r->def_str ? r->def_str : "");
    } else if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0) {
        ck_assert_msg(r->type == CONFIG_BOOL && r->def == (strcmp(v, "true") == 0),
                      "%s: %s documented as %s", where, r->name, v);
    } else if (strcmp(v, "{}") == 0 || strcmp(v, "[]") == 0) {
        ck_assert_msg(r->type == CONFIG_JSON, "%s: %s", where, r->name);
        ck_assert_msg(!r->def_str || strcmp(r->def_str, v) == 0, "%s: %s", where, r->name);
    } else {
        d = strtod(v, &end);
        ck_assert_msg(*end == '\0' && is_number_row(r), "%s: %s default '%s'", where, r->name, v);
        ck_assert_msg(d == r->def, "%s: %s documented as %s, the table says %g", where, r->name, v,
                      r->def);
    }
}

/* Section "## title" of text: from its heading to the next "## ". */
static char *section(const char *text, const char *title)
{
    char head[128];
    const char *start, *end;

    snprintf(head, sizeof(head), "\n## %s\n", title);
    start = strstr(text, head);
    ck_assert_msg(start != NULL, "no section '%s'", title);
    start += strlen(head);
    end = strstr(start, "\n## ");
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* Calls fn for every backquoted name in the first cell of every table row of sec. */
static size_t each_doc_row(const char *sec, int default_col,
                           void (*fn)(const char *name, const char *dflt, void *arg), void *arg)
{
    size_t count = 0;

    for (const char *line = sec; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        char first[512], dflt[1024] = "";
        const char *p;

        if (strncmp(line, "| `", 3) != 0)
            continue;
        cell(line, 0, first, sizeof(first));
        if (default_col >= 0)
            cell(line, default_col, dflt, sizeof(dflt));
        for (p = first; (p = strchr(p, '`'));) {
            const char *q = strchr(p + 1, '`');
            char name[128];

            ck_assert_ptr_nonnull(q);
            snprintf(name, sizeof(name), "%.*s", (int)(q - p - 1), p + 1);
            fn(name, dflt, arg);
            count++;
            p = q + 1;
        }
    }
    return count;
}

struct doc_seen {
    unsigned char seen[256];
    const char *where;
    int fixed;          /* the section lists built-in rows */
    const char *prefix; /* docs/policy.md lists "policy." rows without it */
};

static void doc_key(const char *name, const char *dflt, void *arg)
{
    struct doc_seen *s = arg;
    size_t n;
    const struct config_row *t = config_table(&n), *r;
    char full[160];

    snprintf(full, sizeof(full), "%s%s", s->prefix, name);
    if (strcmp(full, "policy.*") == 0) /* docs/policy.md has them; checked there */
        return;
    r = config_row_find(full);
    ck_assert_msg(r != NULL, "%s documents '%s', which is not in the table", s->where, full);
    ck_assert_msg(!(r->flags & CONFIG_FIXED) == !s->fixed, "%s: %s in the wrong section", s->where,
                  full);
    s->seen[r - t] = 1;
    check_doc_default(r, dflt, s->where);
}

struct doc_env {
    unsigned char seen[256];
};

static void doc_env_row(const char *var, const char *dflt, void *arg)
{
    struct doc_env *s = arg;
    size_t n;
    const struct config_row *t = config_table(&n);
    size_t i;

    (void)dflt;
    for (i = 0; i < n && !(t[i].env && strcmp(t[i].env, var) == 0); i++)
        ;
    ck_assert_msg(i < n, "docs/configuration.md documents %s, which no row has", var);
    s->seen[i] = 1;
}

/* docs/configuration.md lists every key of the table (and docs/policy.md every policy knob)
 * with the table's default, and nothing else; the environment table names each row's
 * variable. */
START_TEST(docs_match_the_table)
{
    size_t n;
    const struct config_row *t = config_table(&n);
    char *conf = read_doc("docs/configuration.md"), *policy = read_doc("docs/policy.md");
    char *keys = section(conf, "Keys"), *fixed = section(conf, "Built-in values"),
         *env = section(conf, "Environment overrides"), *knobs = section(policy, "Every knob");
    struct doc_seen seen = {.where = "docs/configuration.md", .prefix = ""};
    struct doc_env envs = {{0}};

    ck_assert_uint_lt(n, sizeof(seen.seen));
    ck_assert_uint_gt(each_doc_row(keys, 2, doc_key, &seen), 40);
    seen.fixed = 1;
    ck_assert_uint_gt(each_doc_row(fixed, 1, doc_key, &seen), 5);
    seen.fixed = 0;
    seen.where = "docs/policy.md";
    seen.prefix = "policy.";
    ck_assert_uint_gt(each_doc_row(knobs, 1, doc_key, &seen), 20);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(seen.seen[i], "%s is not documented", t[i].name);
    each_doc_row(env, -1, doc_env_row, &envs);
    for (size_t i = 0; i < n; i++) {
        char line[256];

        ck_assert_msg(!t[i].env || envs.seen[i], "%s is not documented", t[i].env);
        if (!t[i].env)
            continue;
        snprintf(line, sizeof(line), "| `%s` | `%s` |", t[i].env, t[i].name);
        ck_assert_msg(strstr(env, line), "docs/configuration.md lacks '%s'", line);
    }
    free(keys);
    free(fixed);
    free(env);
    free(knobs);
    free(conf);
    free(policy);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, defaults_are_sane);
    tcase_add_test(tc, sample_retention_keeps_the_forecast_weeks);
    tcase_add_test(tc, json_overlays_only_given_keys);
    tcase_add_test(tc, ipv6_and_any_listen);
    tcase_add_test(tc, policy_knobs);
    tcase_add_test(tc, skus_and_clusters);
    tcase_add_test(tc, quotas_and_weights);
    tcase_add_test(tc, tenants_reach_the_api);
    tcase_add_loop_test(tc, bad_values_name_key_and_value, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, every_problem_of_a_cluster);
    tcase_add_test(tc, every_problem_of_the_file);
    tcase_add_test(tc, not_json_or_not_object);
    tcase_add_test(tc, env_overrides_file);
    tcase_add_test(tc, missing_file_is_an_error);
    tcase_add_test(tc, table_defaults_within_bounds);
    tcase_add_test(tc, table_defaults_land_in_config);
    tcase_add_test(tc, subsystems_run_with_the_table);
    tcase_add_test(tc, subsystems_refuse_missing_options);
    tcase_add_test(tc, units_and_built_in_rows);
    tcase_add_test(tc, env_lands_where_the_key_lands);
    tcase_add_test(tc, docs_match_the_table);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
