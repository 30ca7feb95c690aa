/* test_config.c -- defaults, file overlay, environment overrides, and errors that name
 * the key and the value. */
#include "base/err.h"
#include "cmd/config.h"

#include <check.h>
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
};

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
    {
        const char *paths[1] = {path};

        ck_assert_int_eq(config_load(&c, paths, 1, &e), 0);
    }
    unlink(path);
    ck_assert_str_eq(c.listen_host, "127.0.0.2");
    ck_assert_int_eq(c.listen_port, 9001);
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

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, defaults_are_sane);
    tcase_add_test(tc, json_overlays_only_given_keys);
    tcase_add_test(tc, ipv6_and_any_listen);
    tcase_add_test(tc, policy_knobs);
    tcase_add_test(tc, skus_and_clusters);
    tcase_add_test(tc, quotas_and_weights);
    tcase_add_loop_test(tc, bad_values_name_key_and_value, 0, sizeof(bad) / sizeof(bad[0]));
    tcase_add_test(tc, not_json_or_not_object);
    tcase_add_test(tc, env_overrides_file);
    tcase_add_test(tc, missing_file_is_an_error);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
