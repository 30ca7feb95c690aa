/* test_cluster_config.c -- member-cluster config: JSON in/out, defaults, validation. */
#include "base/err.h"
#include "base/sku.h"
#include "cluster/cluster_config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *full =
    "{\"name\":\"az1-onprem\",\"apiServer\":\"https://10.0.0.1:6443\","
    "\"tokenFile\":\"/etc/fedsched/az1.token\",\"caFile\":\"/etc/fedsched/az1-ca.pem\","
    "\"region\":\"us-west\",\"provider\":\"onprem\","
    "\"costPerGpuHour\":{\"a100-80gb\":2.5,\"l4\":0.7},\"timezone\":\"America/Los_Angeles\","
    "\"jobNamespace\":\"training\",\"lostTimeoutSeconds\":600,\"cordoned\":true,"
    "\"tolerations\":[{\"key\":\"nvidia.com/gpu\",\"operator\":\"Exists\"},"
    "{\"key\":\"dedicated\",\"operator\":\"Equal\",\"value\":\"ml\",\"effect\":\"NoSchedule\"}],"
    "\"servingPool\":{\"nodeSelector\":{\"fedsched.io/pool\":\"serving\"},"
    "\"namespaces\":[\"serving\",\"inference\"],\"reserveGpus\":2,\"lendPolicy\":\"window\","
    "\"idleMinutes\":30,\"lendingWindows\":[{\"days\":[\"Mon\",\"Fri\"],\"start\":\"22:00\","
    "\"end\":\"06:00\"},{\"start\":\"00:00\",\"end\":\"24:00\"}]}}";

static int parse(const char *s, struct cluster_config *c, struct err *e)
{
    return cluster_config_parse(s, strlen(s), sku_defaults(), c, e);
}

/* Parses full with one member replaced and returns the error. */
static struct err fail_with(const char *from, const char *to)
{
    char text[4096];
    const char *at = strstr(full, from);
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err e = {0};

    ck_assert_ptr_nonnull(at);
    snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - full), full, to, at + strlen(from));
    ck_assert_msg(parse(text, c, &e) == -1, "accepted %s", text);
    free(c);
    return e;
}

START_TEST(reads_every_member)
{
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err e = {0};

    ck_assert_msg(parse(full, c, &e) == 0, "%s: %s", e.field, e.msg);
    ck_assert_str_eq(c->name, "az1-onprem");
    ck_assert_str_eq(c->api_server, "https://10.0.0.1:6443");
    ck_assert_str_eq(c->token_file, "/etc/fedsched/az1.token");
    ck_assert_str_eq(c->ca_file, "/etc/fedsched/az1-ca.pem");
    ck_assert(!c->insecure_skip_tls_verify);
    ck_assert_str_eq(c->region, "us-west");
    ck_assert_str_eq(c->job_namespace, "training");
    ck_assert(c->cordoned);
    ck_assert_int_eq(c->lost_timeout_s, 600);
    ck_assert_double_eq(cluster_config_cost(c, "a100-80gb"), 2.5);
    ck_assert_double_eq(cluster_config_cost(c, "h100-80gb"), 0);
    ck_assert(c->serving.enabled);
    ck_assert_int_eq(c->serving.n_selector, 1);
    ck_assert_str_eq(c->serving.selector[0].key, "fedsched.io/pool");
    ck_assert(cluster_config_serving_namespace(c, "inference"));
    ck_assert(!cluster_config_serving_namespace(c, "default"));
    ck_assert_int_eq(c->serving.reserve_gpus, 2);
    ck_assert_int_eq(c->serving.lend_policy, SNAPSHOT_LEND_WINDOW);
    {
        /* Every policy's name reads back as that policy ("forecast" the last added). */
        for (int k = 0; k < SNAPSHOT_LEND_COUNT; k++) {
            char text[4096], name[64];
            const char *at = strstr(full, "\"lendPolicy\":\"window\"");
            struct cluster_config *c2 = calloc(1, sizeof(*c2));

            snprintf(name, sizeof(name), "\"lendPolicy\":\"%s\"",
                     snapshot_lend_policy_name((enum snapshot_lend_policy)k));
            snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - full), full, name,
                     at + strlen("\"lendPolicy\":\"window\""));
            ck_assert_msg(parse(text, c2, &e) == 0, "%s: %s", e.field, e.msg);
            ck_assert_int_eq(c2->serving.lend_policy, k);
            free(c2);
        }
        ck_assert_str_eq(snapshot_lend_policy_name(SNAPSHOT_LEND_FORECAST), "forecast");
    }
    ck_assert_int_eq(c->serving.n_windows, 2);
    ck_assert_int_eq(c->serving.windows[0].days, (1 << 1) | (1 << 5));
    ck_assert_int_eq(c->serving.windows[0].start_min, 22 * 60);
    ck_assert_int_eq(c->serving.windows[0].end_min, 6 * 60);
    ck_assert_int_eq(c->serving.windows[1].days, 0x7f);
    ck_assert_int_eq(c->serving.windows[1].end_min, 1440);
    ck_assert(cluster_config_tolerates(c, "nvidia.com/gpu", "present", "NoSchedule"));
    ck_assert(cluster_config_tolerates(c, "dedicated", "ml", "NoSchedule"));
    ck_assert(!cluster_config_tolerates(c, "dedicated", "ml", "NoExecute"));
    ck_assert(!cluster_config_tolerates(c, "dedicated", "web", "NoSchedule"));
    ck_assert(!cluster_config_tolerates(c, "node.kubernetes.io/unschedulable", "", "NoSchedule"));
    free(c);
}
END_TEST

START_TEST(defaults_apply)
{
    struct cluster_config c;
    struct err e = {0};

    ck_assert_int_eq(parse("{\"name\":\"sim-a\",\"apiServer\":\"http://127.0.0.1:1\"}", &c, &e), 0);
    ck_assert_str_eq(c.job_namespace, "fedsched-{ns}");
    ck_assert_str_eq(c.timezone, "UTC");
    ck_assert_int_eq(c.lost_timeout_s, 900);
    ck_assert(!c.serving.enabled);
    ck_assert(!c.cordoned);
    ck_assert(cluster_config_tolerates(&c, "nvidia.com/gpu", "present", "NoSchedule"));
    ck_assert(!cluster_config_tolerates(&c, "other", "x", "NoSchedule"));
}
END_TEST

START_TEST(round_trips_through_json)
{
    struct cluster_config *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    struct err e = {0};
    json_t *j, *j2;

    ck_assert_int_eq(parse(full, a, &e), 0);
    j = cluster_config_to_json(a);
    ck_assert_int_eq(cluster_config_from_json(j, sku_defaults(), b, &e), 0);
    j2 = cluster_config_to_json(b);
    ck_assert(json_equal(j, j2));
    ck_assert_str_eq(
        json_string_value(json_object_get(
            json_array_get(json_object_get(json_object_get(j, "servingPool"), "lendingWindows"), 0),
            "start")),
        "22:00");
    ck_assert_int_eq(memcmp(&a->serving, &b->serving, sizeof(a->serving)), 0);
    json_decref(j);
    json_decref(j2);
    free(a);
    free(b);
}
END_TEST

START_TEST(errors_name_field_and_value)
{
    struct err e;

    e = fail_with("\"name\":\"az1-onprem\"", "\"name\":\"AZ1_onprem\"");
    ck_assert_str_eq(e.field, "name");
    ck_assert_ptr_nonnull(strstr(e.msg, "AZ1_onprem"));
    e = fail_with("\"apiServer\":\"https://10.0.0.1:6443\"", "\"apiServer\":\"ftp://x\"");
    ck_assert_str_eq(e.field, "apiServer");
    ck_assert_ptr_nonnull(strstr(e.msg, "ftp://x"));
    e = fail_with("\"l4\":0.7", "\"b200\":0.7");
    ck_assert_str_eq(e.field, "costPerGpuHour.b200");
    ck_assert_int_eq(e.code, ERR_INVALID);
    e = fail_with("\"l4\":0.7", "\"l4\":-1");
    ck_assert_str_eq(e.field, "costPerGpuHour.l4");
    e = fail_with("\"timezone\":\"America/Los_Angeles\"", "\"timezone\":\"Mars/Olympus\"");
    ck_assert_str_eq(e.field, "timezone");
    ck_assert_ptr_nonnull(strstr(e.msg, "Mars/Olympus"));
    e = fail_with("\"timezone\":\"America/Los_Angeles\"", "\"timezone\":\"../../etc/passwd\"");
    ck_assert_str_eq(e.field, "timezone");
    e = fail_with("\"end\":\"06:00\"", "\"end\":\"25:00\"");
    ck_assert_str_eq(e.field, "servingPool.lendingWindows[0].end");
    ck_assert_ptr_nonnull(strstr(e.msg, "25:00"));
    e = fail_with("\"Fri\"", "\"Funday\"");
    ck_assert_str_eq(e.field, "servingPool.lendingWindows[0].days");
    ck_assert_ptr_nonnull(strstr(e.msg, "Funday"));
    e = fail_with("\"lendPolicy\":\"window\"", "\"lendPolicy\":\"sometimes\"");
    ck_assert_str_eq(e.field, "servingPool.lendPolicy");
    ck_assert_ptr_nonnull(strstr(e.msg, "window-or-idle, forecast"));
    e = fail_with("\"reserveGpus\":2", "\"reserveGpus\":-3");
    ck_assert_str_eq(e.field, "servingPool.reserveGpus");
    ck_assert_ptr_nonnull(strstr(e.msg, "-3"));
    e = fail_with("\"cordoned\":true", "\"cordonned\":true");
    ck_assert_str_eq(e.field, "cordonned");
    e = fail_with("\"reserveGpus\":2", "\"reserve\":2");
    ck_assert_str_eq(e.field, "servingPool.reserve");
    e = fail_with("\"operator\":\"Exists\"}", "\"operator\":\"Maybe\"}");
    ck_assert_str_eq(e.field, "tolerations[].operator");
    e = fail_with("\"lostTimeoutSeconds\":600", "\"lostTimeoutSeconds\":1");
    ck_assert_str_eq(e.field, "lostTimeoutSeconds");
    e = fail_with("{\"fedsched.io/pool\":\"serving\"}", "{}");
    ck_assert_str_eq(e.field, "servingPool.nodeSelector");
}
END_TEST

/* servingPool.demandQuery: off when absent (or null), every member read, defaults, a round
 * trip, and errors naming the member. */
START_TEST(demand_query_members_defaults_and_errors)
{
    static const char *const with =
        "{\"name\":\"c\",\"apiServer\":\"https://10.0.0.1\",\"servingPool\":{\"nodeSelector\":"
        "{\"fedsched.io/pool\":\"serving\"},\"demandQuery\":%s}}";
    static const struct {
        const char *q, *field, *says;
    } bad[] = {
        {"3", "servingPool.demandQuery", "must be an object"},
        {"{\"query\":\"x\"}", "servingPool.demandQuery.url", "needs url and query"},
        {"{\"url\":\"http://p\"}", "servingPool.demandQuery.query", "needs url and query"},
        {"{\"url\":\"ftp://p\",\"query\":\"x\"}", "servingPool.demandQuery.url", "ftp://p"},
        {"{\"url\":\"http://p/?a=1\",\"query\":\"x\"}", "servingPool.demandQuery.url",
         "without query"},
        {"{\"url\":\"http://\",\"query\":\"x\"}", "servingPool.demandQuery.url", "base URL"},
        {"{\"url\":\"http://p q\",\"query\":\"x\"}", "servingPool.demandQuery.url", "base URL"},
        {"{\"url\":\"http://p\",\"query\":\"\"}", "servingPool.demandQuery.query", "empty"},
        {"{\"url\":\"http://p\",\"query\":\"a\\u0001\"}", "servingPool.demandQuery.query",
         "control"},
        {"{\"url\":\"http://p\",\"query\":\"x\",\"sku\":\"b200\"}", "servingPool.demandQuery.sku",
         "b200"},
        {"{\"url\":\"http://p\",\"query\":\"x\",\"timeoutMs\":50}",
         "servingPool.demandQuery.timeoutMs", "100..30000"},
        {"{\"url\":\"http://p\",\"query\":\"x\",\"intervalMs\":999}",
         "servingPool.demandQuery.intervalMs", "999"},
        {"{\"url\":\"http://p\",\"query\":\"x\",\"maxAgeSeconds\":0}",
         "servingPool.demandQuery.maxAgeSeconds", "1..86400"},
        {"{\"url\":\"http://p\",\"query\":\"x\",\"token\":\"s3cret\"}",
         "servingPool.demandQuery.token", ""},
    };
    struct cluster_config *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
    char text[2048];
    struct err e = {0};
    json_t *j, *dq;

    /* Off by default, and with null. */
    ck_assert_int_eq(parse(full, a, &e), 0);
    ck_assert(!a->serving.demand_query.enabled);
    j = cluster_config_to_json(a);
    ck_assert(json_is_null(json_object_get(json_object_get(j, "servingPool"), "demandQuery")));
    json_decref(j);
    snprintf(text, sizeof(text), with, "null");
    ck_assert_msg(parse(text, a, &e) == 0, "%s", e.msg);
    ck_assert(!a->serving.demand_query.enabled);
    /* Defaults. */
    snprintf(text, sizeof(text), with,
             "{\"url\":\"http://prometheus.monitoring:9090\",\"query\":\"sum(llm_gpus_wanted)\"}");
    ck_assert_msg(parse(text, a, &e) == 0, "%s", e.msg);
    ck_assert(a->serving.demand_query.enabled);
    ck_assert_str_eq(a->serving.demand_query.url, "http://prometheus.monitoring:9090");
    ck_assert_str_eq(a->serving.demand_query.query, "sum(llm_gpus_wanted)");
    ck_assert_str_eq(a->serving.demand_query.sku, "");
    ck_assert_int_eq(a->serving.demand_query.timeout_ms, 2000);
    ck_assert_int_eq(a->serving.demand_query.interval_ms, 30000);
    ck_assert_int_eq(a->serving.demand_query.max_age_ms, 120000);
    /* Every member, and back. */
    snprintf(text, sizeof(text), with,
             "{\"url\":\"https://m.example/prom/\",\"query\":\"sum(x) / 2\",\"sku\":\"h100-80gb\","
             "\"timeoutMs\":500,\"intervalMs\":15000,\"maxAgeSeconds\":60}");
    ck_assert_msg(parse(text, a, &e) == 0, "%s", e.msg);
    ck_assert_str_eq(a->serving.demand_query.sku, "h100-80gb");
    ck_assert_int_eq(a->serving.demand_query.timeout_ms, 500);
    ck_assert_int_eq(a->serving.demand_query.interval_ms, 15000);
    ck_assert_int_eq(a->serving.demand_query.max_age_ms, 60000);
    j = cluster_config_to_json(a);
    dq = json_object_get(json_object_get(j, "servingPool"), "demandQuery");
    ck_assert_int_eq(json_integer_value(json_object_get(dq, "maxAgeSeconds")), 60);
    ck_assert_str_eq(json_string_value(json_object_get(dq, "query")), "sum(x) / 2");
    ck_assert_int_eq(cluster_config_from_json(j, sku_defaults(), b, &e), 0);
    ck_assert_int_eq(memcmp(&a->serving, &b->serving, sizeof(a->serving)), 0);
    json_decref(j);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(text, sizeof(text), with, bad[i].q);
        ck_assert_msg(parse(text, a, &e) == -1, "accepted %s", bad[i].q);
        ck_assert_msg(strcmp(e.field, bad[i].field) == 0, "%s: field %s", bad[i].q, e.field);
        ck_assert_msg(strstr(e.msg, bad[i].says) != NULL, "%s: %s", bad[i].q, e.msg);
    }
    free(a);
    free(b);
}
END_TEST

START_TEST(rejects_non_json_and_missing_required)
{
    struct cluster_config c;
    struct err e = {0};

    ck_assert_int_eq(parse("{\"name\":", &c, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
    ck_assert_int_eq(parse("{\"apiServer\":\"http://x:1\"}", &c, &e), -1);
    ck_assert_str_eq(e.field, "name");
    ck_assert_int_eq(parse("{\"name\":\"a\"}", &c, &e), -1);
    ck_assert_str_eq(e.field, "apiServer");
    ck_assert_int_eq(parse("[]", &c, &e), -1);
    ck_assert_int_eq(parse("{\"name\":\"a\",\"apiServer\":\"http://x:1\",\"name\":\"b\"}", &c, &e),
                     -1); /* duplicate members are refused */
}
END_TEST

/* Client certificates and the http:// mark are read and written back; credentials inline
 * are refused with the file member to use instead (they would be stored in PostgreSQL). */
START_TEST(client_certificate_members_and_inline_credentials)
{
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err e = {0};
    json_t *j;

    ck_assert_int_eq(parse("{\"name\":\"a\",\"apiServer\":\"http://x:1\",\"allowInsecureHttp\":"
                           "true,\"clientCertificateFile\":\"a/client.crt\",\"clientKeyFile\":"
                           "\"a/client.key\"}",
                           c, &e),
                     0);
    ck_assert_str_eq(c->client_cert_file, "a/client.crt");
    ck_assert_str_eq(c->client_key_file, "a/client.key");
    ck_assert(c->allow_insecure_http);
    j = cluster_config_to_json(c);
    ck_assert_str_eq(json_string_value(json_object_get(j, "clientKeyFile")), "a/client.key");
    ck_assert(json_is_true(json_object_get(j, "allowInsecureHttp")));
    json_decref(j);
    ck_assert_int_eq(
        parse("{\"name\":\"a\",\"apiServer\":\"https://x:1\",\"token\":\"s3cret\"}", c, &e), -1);
    ck_assert_str_eq(e.field, "token");
    ck_assert_ptr_nonnull(strstr(e.msg, "tokenFile"));
    ck_assert_ptr_null(strstr(e.msg, "s3cret"));
    ck_assert_int_eq(
        parse("{\"name\":\"a\",\"apiServer\":\"https://x:1\",\"clientKeyData\":\"x\"}", c, &e), -1);
    ck_assert_str_eq(e.field, "clientKeyData");
    free(c);
}
END_TEST

/* A config wrong in several members lists each problem once, in the order the object is
 * read, and a member that could not be read is not judged again on its default. */
START_TEST(every_problem_is_a_cause)
{
    const char *text =
        "{\"name\":\"Bad_Name\",\"apiServer\":\"ftp://x\",\"token\":\"s3cret\",\"zone\":\"x\","
        "\"lostTimeoutSeconds\":5,\"timezone\":\"Mars/Base\",\"costPerGpuHour\":{\"h200\":1},"
        "\"servingPool\":{\"reserveGpus\":\"two\"},\"tolerations\":[{\"key\":\"a\","
        "\"effect\":\"Never\"}],\"jobNamespace\":\"{ns}\"}";
    static const char *const want[] = {
        "token",       "zone",      "lostTimeoutSeconds",  "servingPool.reserveGpus",
        "name",        "apiServer", "costPerGpuHour.h200", "timezone",
        "tolerations",
    };
    json_t *j = json_loads(text, 0, NULL);
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err_causes *cs = calloc(1, sizeof(*cs));
    struct err e = {0};

    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(cluster_config_from_json_all(j, sku_defaults(), c, cs), -1);
    for (size_t i = 0; i < cs->n && i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_msg(strcmp(cs->items[i].field, want[i]) == 0, "cause %zu: %s (%s), want %s", i,
                      cs->items[i].field, cs->items[i].msg, want[i]);
    ck_assert_uint_eq(cs->n, sizeof(want) / sizeof(want[0]));
    ck_assert_uint_eq(cs->more, 0);
    ck_assert_ptr_nonnull(strstr(cs->items[4].msg, "\"Bad_Name\""));
    ck_assert_ptr_nonnull(strstr(cs->items[8].msg, "\"Never\""));
    /* The single-error form reports the first, and nothing is written on failure. */
    ck_assert_int_eq(cluster_config_from_json(j, sku_defaults(), c, &e), -1);
    ck_assert_str_eq(e.field, "token");
    ck_assert_str_eq(c->name, "");
    /* One problem fixed, one cause fewer; all fixed, none. */
    json_object_set_new(j, "name", json_string("good-name"));
    ck_assert_int_eq(cluster_config_from_json_all(j, sku_defaults(), c, cs), -1);
    ck_assert_uint_eq(cs->n, sizeof(want) / sizeof(want[0]) - 1);
    json_decref(j);
    j = json_loads(full, 0, NULL);
    ck_assert_int_eq(cluster_config_from_json_all(j, sku_defaults(), c, cs), 0);
    ck_assert_uint_eq(cs->n, 0);
    json_decref(j);
    free(cs);
    free(c);
}
END_TEST

/* Past 16 problems, more counts the rest. */
START_TEST(causes_past_the_limit_are_counted)
{
    json_t *j = json_pack("{s:s, s:s}", "name", "a", "apiServer", "https://x:1");
    struct cluster_config *c = calloc(1, sizeof(*c));
    struct err_causes *cs = calloc(1, sizeof(*cs));

    for (int i = 0; i < 20; i++) {
        char key[16];

        snprintf(key, sizeof(key), "bogus%02d", i);
        json_object_set_new(j, key, json_true());
    }
    ck_assert_int_eq(cluster_config_from_json_all(j, sku_defaults(), c, cs), -1);
    ck_assert_uint_eq(cs->n, ERR_CAUSES_MAX);
    ck_assert_uint_eq(cs->more, 20 - ERR_CAUSES_MAX);
    json_decref(j);
    free(cs);
    free(c);
}
END_TEST

START_TEST(reads_tz_rules)
{
    char rule[SNAPSHOT_TZ_MAX];
    struct err e = {0};

    ck_assert_int_eq(cluster_config_tz_rule("America/Los_Angeles", rule, sizeof(rule), &e), 0);
    ck_assert_str_eq(rule, "PST8PDT,M3.2.0,M11.1.0");
    ck_assert_int_eq(cluster_config_tz_rule("Europe/Berlin", rule, sizeof(rule), &e), 0);
    ck_assert_str_eq(rule, "CET-1CEST,M3.5.0,M10.5.0/3");
    ck_assert_int_eq(cluster_config_tz_rule("UTC", rule, sizeof(rule), &e), 0);
    ck_assert_str_eq(rule, "UTC0");
    ck_assert_int_eq(cluster_config_tz_rule("Nowhere/Special", rule, sizeof(rule), &e), -1);
    ck_assert_str_eq(e.field, "timezone");
}
END_TEST

static void expect_member_ns(const char *tmpl, const char *ns, const char *want)
{
    struct cluster_config c;
    struct err e = {0};
    char out[64], body[256];

    snprintf(body, sizeof(body),
             "{\"name\":\"a\",\"apiServer\":\"http://127.0.0.1:1\",\"jobNamespace\":\"%s\"}", tmpl);
    ck_assert_msg(parse(body, &c, &e) == 0, "%s: %s", tmpl, e.msg);
    ck_assert_int_eq(cluster_member_namespace(&c, ns, out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, want);
}

START_TEST(member_namespace_expands_the_template)
{
    struct cluster_config c;
    struct err e = {0};
    char out[64] = "untouched", ns63[64], a[64], b[64];

    cluster_config_init(&c);
    ck_assert_int_eq(cluster_member_namespace(&c, "maps", out, sizeof(out), &e), 0);
    ck_assert_str_eq(out, "fedsched-maps");
    expect_member_ns("{ns}", "maps", "maps");
    expect_member_ns("shared-jobs", "maps", "shared-jobs");
    expect_member_ns("t-{ns}-{ns}", "ab", "t-ab-ab");
    expect_member_ns("{ns}-fs", "x1", "x1-fs");
    /* 63 + 9 characters: cut to 54, then '-' and 8 hex digits of the whole expansion. */
    memset(ns63, 'a', 63);
    ns63[63] = '\0';
    ck_assert_int_eq(cluster_member_namespace(&c, ns63, a, sizeof(a), &e), 0);
    ck_assert_uint_eq(strlen(a), 63);
    ck_assert_int_eq(strncmp(a, "fedsched-aaaa", 13), 0);
    ck_assert_int_eq(a[54], '-');
    ns63[62] = 'b'; /* differs only beyond the cut: the hash keeps them apart */
    ck_assert_int_eq(cluster_member_namespace(&c, ns63, b, sizeof(b), &e), 0);
    ck_assert_uint_eq(strlen(b), 63);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(strncmp(a, b, 54), 0);
    /* A cut that ends on '-' drops it: "x-" repeated. */
    {
        char dashy[64];

        for (int i = 0; i < 63; i++)
            dashy[i] = i % 2 ? '-' : 'x';
        dashy[63] = '\0';
        snprintf(c.job_namespace, sizeof(c.job_namespace), "%s", "ab{ns}");
        ck_assert_int_eq(cluster_member_namespace(&c, dashy, out, sizeof(out), &e), 0);
        ck_assert_msg(strstr(out, "--") == NULL && strlen(out) <= 63, "%s", out);
    }
    /* A bad tenant namespace is refused, naming jobNamespace and the value. */
    snprintf(out, sizeof(out), "untouched");
    ck_assert_int_eq(cluster_member_namespace(&c, "Bad_NS", out, sizeof(out), &e), -1);
    ck_assert_str_eq(e.field, "jobNamespace");
    ck_assert_ptr_nonnull(strstr(e.msg, "Bad_NS"));
    ck_assert_str_eq(out, "untouched");
}
END_TEST

START_TEST(bad_namespace_templates_are_refused)
{
    static const char *const bad[] = {"Fedsched-{ns}", "fedsched-{n}", "{ns", "fs-{NS}", "-{ns}",
                                      "{ns}-",         "fs_{ns}",      "",    "a{ns}}",  "x.{ns}"};
    struct cluster_config c;
    struct err e = {0};
    char body[256];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"a\",\"apiServer\":\"http://127.0.0.1:1\",\"jobNamespace\":\"%s\"}",
                 bad[i]);
        ck_assert_msg(parse(body, &c, &e) == -1, "%s accepted", bad[i]);
        ck_assert_str_eq(e.field, "jobNamespace");
        ck_assert_msg(strstr(e.msg, bad[i]) != NULL, "%s", e.msg);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, reads_every_member);
    tcase_add_test(tc, defaults_apply);
    tcase_add_test(tc, round_trips_through_json);
    tcase_add_test(tc, client_certificate_members_and_inline_credentials);
    tcase_add_test(tc, errors_name_field_and_value);
    tcase_add_test(tc, rejects_non_json_and_missing_required);
    tcase_add_test(tc, reads_tz_rules);
    tcase_add_test(tc, every_problem_is_a_cause);
    tcase_add_test(tc, causes_past_the_limit_are_counted);
    tcase_add_test(tc, member_namespace_expands_the_template);
    tcase_add_test(tc, bad_namespace_templates_are_refused);
    tcase_add_test(tc, demand_query_members_defaults_and_errors);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
