/* test_cluster_kubeconfig.c -- member clusters from kubeconfig files (issue 18, acceptance 3):
 * `fedsched cluster add NAME --kubeconfig FILE` against the simulator over HTTPS, with a
 * bearer token and the CA inline, and with a client certificate and key that the simulator's
 * CA signed (the simulator asks for client certificates and takes the CN as the user); each
 * cluster must become Ready. An exec-plugin user gets a clear error and registers nothing.
 * PUT /v1/clusters/{name} refuses a missing token or key file and an http:// apiServer
 * (unless allowInsecureHttp) with 422 naming the field. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024], dir[64], secrets[128], ca[128];
static pid_t sim;

static void suite_setup(void)
{
    char env_secrets[200];
    const char *env[] = {env_secrets, NULL};

    snprintf(dir, sizeof(dir), "/tmp/fedsched-kc-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(secrets, sizeof(secrets), "%s/secrets", dir);
    ck_assert_int_eq(mkdir(secrets, 0700), 0);
    snprintf(ca, sizeof(ca), "%s/kubesim-ca.crt", dir);
    sim = itest_sim_start("testdata/sim/kubeconfig.json", dir);
    snprintf(env_secrets, sizeof(env_secrets), "FEDSCHED_SECRETS_DIR=%s", secrets);
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, env, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    kill(sim, SIGTERM);
    waitpid(sim, NULL, 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = xmalloc(1 << 16);
    size_t n = 0;

    if (f) {
        n = fread(data, 1, (1 << 16) - 1, f);
        fclose(f);
    }
    data[n] = '\0';
    return data;
}

static char *b64(const char *path)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *in = slurp(path), *out = xmalloc(strlen(in) * 4 / 3 + 8), *o = out;
    const unsigned char *p = (const unsigned char *)in;
    size_t n = strlen(in);

    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                     (i + 2 < n ? p[i + 2] : 0);

        *o++ = a[v >> 18 & 63];
        *o++ = a[v >> 12 & 63];
        *o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? a[v & 63] : '=';
    }
    *o = '\0';
    free(in);
    return out;
}

/* The simulated cluster's URL from the simulator's clusters.json. */
static void sim_url(const char *name, char *out, size_t size)
{
    char path[128];
    json_t *root, *c;
    size_t i;

    snprintf(path, sizeof(path), "%s/clusters.json", dir);
    root = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(root);
    json_array_foreach(json_object_get(root, "clusters"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            snprintf(out, size, "%s", json_string_value(json_object_get(c, "apiServer")));
    }
    json_decref(root);
    ck_assert_msg(strncmp(out, "https://", 8) == 0, "%s: %s", name, out);
}

/* Writes a kubeconfig with one context, "ctx", of cluster (cluster_extra: its members
 * besides server) and user (user_body: the user's members, indented under "user:"). */
static char *kubeconfig(const char *file, const char *cluster, const char *cluster_extra,
                        const char *user_body)
{
    char url[256] = "", *path = xasprintf("%s/%s", dir, file);
    FILE *f = fopen(path, "w");

    sim_url(cluster, url, sizeof(url));
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\ncurrent-context: ctx\nclusters:\n- name: %s\n"
            "  cluster:\n    server: %s\n%s"
            "users:\n- name: u\n  user:\n%s"
            "contexts:\n- name: ctx\n  context:\n    cluster: %s\n    user: u\n",
            cluster, url, cluster_extra, user_body, cluster);
    fclose(f);
    return path;
}

/* Runs the fedsched binary with args (NULL-terminated) against the server; returns the
 * exit code, stdout in *out (may be NULL) and stderr in *err (caller frees). */
static int cli(const char *const *args, char **out, char **err)
{
    char out_path[128], err_path[128];
    const char *argv[16];
    int n = 0, status = 0;
    pid_t pid;

    snprintf(out_path, sizeof(out_path), "%s/cli.out", dir);
    snprintf(err_path, sizeof(err_path), "%s/cli.err", dir);
    argv[n++] = "fedsched";
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(o, 1);
        dup2(e, 2);
        setenv("FEDSCHED_URL", srv.base, 1);
        setenv("FEDSCHED_SECRETS_DIR", secrets, 1);
        execv(getenv("FEDSCHED_BIN"), (char *const *)argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    *err = slurp(err_path);
    if (out)
        *out = slurp(out_path);
    ck_assert_msg(WIFEXITED(status), "fedsched did not exit normally");
    return WEXITSTATUS(status);
}

/* Waits for the cluster to be Ready and, with checked, for its prerequisites to have been
 * checked once: the poller checks them on a thread of their own, so Ready can come first. */
static json_t *await_ready_checked(const char *name, bool checked)
{
    char path[128], *text = NULL;
    json_t *c = NULL;

    snprintf(path, sizeof(path), "/v1/clusters/%s", name);
    for (int i = 0; i < 100; i++) {
        json_t *st;
        const char *health;

        json_decref(c);
        c = NULL;
        ck_assert_int_eq(itest_get_json(srv.base, path, &c), 200);
        st = json_object_get(c, "status");
        health = json_string_value(json_object_get(st, "health"));
        if (health && strcmp(health, "Ready") == 0 &&
            (!checked || json_is_string(json_object_get(st, "prerequisitesCheckedAt"))))
            return c;
        usleep(100 * 1000);
    }
    text = json_dumps(json_object_get(c, "status"), 0);
    ck_abort_msg("cluster %s never Ready%s: %s", name, checked ? " and checked" : "", text);
    return NULL;
}

static json_t *await_ready(const char *name)
{
    return await_ready_checked(name, false);
}

START_TEST(token_and_ca_data_make_a_ready_cluster)
{
    char *ca_data = b64(ca), *extra = xasprintf("    certificate-authority-data: %s\n", ca_data);
    char *kc = kubeconfig("token.yaml", "kc-token", extra, "    token: kc-token-secret\n");
    const char *args[] = {"cluster", "add", "kc-token", "--kubeconfig", kc, NULL};
    char *err = NULL, *text;
    json_t *c;

    ck_assert_msg(cli(args, NULL, &err) == 0, "%s", err);
    c = await_ready("kc-token");
    /* The token went to a file in the secrets directory, never into the API's answers. */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "spec"), "tokenFile")),
                     "kc-token/token");
    text = json_dumps(c, 0);
    ck_assert_ptr_null(strstr(text, "kc-token-secret"));
    free(text);
    json_decref(c);
    free(err);
    free(kc);
    free(extra);
    free(ca_data);
}
END_TEST

START_TEST(client_certificate_and_key_make_a_ready_cluster)
{
    char crt[128], key[128];
    char *crt_data, *key_data, *user, *kc,
        *extra = xasprintf("    certificate-authority: %s\n", ca);
    const char *args[] = {"cluster", "add",       "kc-cert", "--kubeconfig",
                          NULL,      "--context", "ctx",     NULL};
    char *err = NULL;
    json_t *c;

    snprintf(crt, sizeof(crt), "%s/kubesim-client-kc-cert.crt", dir);
    snprintf(key, sizeof(key), "%s/kubesim-client-kc-cert.key", dir);
    crt_data = b64(crt);
    key_data = b64(key);
    user =
        xasprintf("    client-certificate-data: %s\n    client-key-data: %s\n", crt_data, key_data);
    kc = kubeconfig("cert.yaml", "kc-cert", extra, user);
    args[4] = kc;
    ck_assert_msg(cli(args, NULL, &err) == 0, "%s", err);
    c = await_ready("kc-cert");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(c, "spec"), "clientKeyFile")),
        "kc-cert/client.key");
    json_decref(c);
    free(err);
    free(kc);
    free(user);
    free(extra);
    free(crt_data);
    free(key_data);
}
END_TEST

START_TEST(an_exec_plugin_gets_a_clear_error)
{
    char *kc = kubeconfig("exec.yaml", "kc-token", "",
                          "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n"
                          "      command: aws\n      args: [eks, get-token]\n");
    const char *args[] = {"cluster", "add", "kc-exec", "--kubeconfig", kc, NULL};
    char *err = NULL;

    ck_assert_int_eq(cli(args, NULL, &err), 2);
    ck_assert_msg(strstr(err, "exec credential plugins are not supported") &&
                      strstr(err, "\"aws\"") && strstr(err, "service-account token"),
                  "%s", err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/kc-exec", NULL), 404);
    free(err);
    free(kc);
}
END_TEST

/* The other verbs on a cluster added from the token kubeconfig under another name. */
START_TEST(list_check_cordon_capacity_and_remove)
{
    char *ca_data = b64(ca), *extra = xasprintf("    certificate-authority-data: %s\n", ca_data);
    char *kc = kubeconfig("verbs.yaml", "kc-token", extra, "    token: kc-token-secret\n");
    const char *add[] = {"cluster", "add", "kc-verbs", "--kubeconfig", kc, NULL};
    const char *list[] = {"clusters", NULL}, *check[] = {"cluster", "check", "kc-verbs", NULL};
    const char *capacity[] = {"capacity", NULL},
               *cordon[] = {"cluster", "cordon", "kc-verbs", NULL},
               *nodes[] = {"cluster", "nodes", "kc-verbs", NULL},
               *nodes_json[] = {"cluster", "nodes", "kc-verbs", "-o", "json", NULL},
               *nodes_paged[] = {"cluster", "nodes", "kc-verbs", "--chunk-size", "1", NULL},
               *nodes_paged_json[] = {"cluster", "nodes", "kc-verbs", "--chunk-size",
                                      "1",       "-o",    "json",     NULL};
    const char *rm[] = {"cluster", "remove", "kc-verbs", NULL};
    char *out = NULL, *err = NULL;
    json_t *c;

    ck_assert_msg(cli(add, NULL, &err) == 0, "%s", err);
    free(err);
    json_decref(await_ready_checked("kc-verbs", true));
    ck_assert_int_eq(cli(list, &out, &err), 0);
    ck_assert_msg(strstr(out, "NAME") && strstr(out, "kc-verbs") && strstr(out, "Ready"), "%s",
                  out);
    free(out);
    free(err);
    ck_assert_int_eq(cli(check, &out, &err), 0);
    ck_assert_msg(strstr(out, "PermissionsGranted") && strstr(out, "True"), "%s", out);
    free(out);
    free(err);
    ck_assert_int_eq(cli(capacity, &out, &err), 0);
    ck_assert_msg(strstr(out, "a100-80gb") && strstr(out, "training"), "%s", out);
    free(out);
    free(err);
    /* One row per GPU node, free/allocatable as the API gives them (the scenario fills one of
     * kc-token's two nodes with other pods, so free and allocatable differ there). */
    ck_assert_int_eq(cli(nodes, &out, &err), 0);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/kc-verbs/nodes", &c), 200);
    {
        size_t i, busy = 0;
        json_t *n;

        json_array_foreach(json_object_get(c, "items"), i, n)
        {
            const json_t *g = json_object_get(n, "gpus");
            char *row = xasprintf("%s ", json_string_value(json_object_get(n, "name")));
            char *gpus = xasprintf(" %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT " ",
                                   json_integer_value(json_object_get(g, "free")),
                                   json_integer_value(json_object_get(g, "allocatable")));
            const char *line = strstr(out, row);

            ck_assert_msg(line, "no row for %s in %s", row, out);
            ck_assert_msg(strstr(line, gpus) && strstr(line, gpus) < strchr(line, '\n'),
                          "row %s lacks %s: %s", row, gpus, out);
            free(row);
            free(gpus);
            busy += json_integer_value(json_object_get(g, "free")) <
                    json_integer_value(json_object_get(g, "allocatable"));
        }
        ck_assert_int_eq(json_array_size(json_object_get(c, "items")), 2);
        ck_assert_uint_eq(busy, 1);
        ck_assert_msg(strstr(out, "GPU nodes, last polled"), "%s", out);
    }
    free(out);
    free(err);
    /* -o json: the API's object as it is. */
    ck_assert_int_eq(cli(nodes_json, &out, &err), 0);
    {
        json_t *j = json_loads(out, 0, NULL);

        ck_assert_msg(j, "not JSON: %s", out);
        ck_assert_int_eq(json_array_size(json_object_get(j, "items")),
                         json_array_size(json_object_get(c, "items")));
        json_decref(j);
    }
    free(out);
    free(err);
    /* Read one node at a time (limit and continue): the same table, and one object with
     * every node, in order, and no continue token. */
    {
        char *whole = NULL;
        json_t *j;

        ck_assert_int_eq(cli(nodes, &whole, &err), 0);
        free(err);
        ck_assert_int_eq(cli(nodes_paged, &out, &err), 0);
        ck_assert_str_eq(out, whole);
        free(whole);
        free(out);
        free(err);
        ck_assert_int_eq(cli(nodes_paged_json, &out, &err), 0);
        j = json_loads(out, 0, NULL);
        ck_assert_msg(j, "not JSON: %s", out);
        ck_assert_int_eq(json_array_size(json_object_get(j, "items")), 2);
        for (size_t i = 0; i < 2; i++)
            ck_assert_str_eq(json_string_value(json_object_get(
                                 json_array_get(json_object_get(j, "items"), i), "name")),
                             json_string_value(json_object_get(
                                 json_array_get(json_object_get(c, "items"), i), "name")));
        ck_assert_ptr_null(json_object_get(json_object_get(j, "metadata"), "continue"));
        json_decref(j);
        free(out);
        free(err);
    }
    json_decref(c);
    ck_assert_int_eq(cli(cordon, &out, &err), 0);
    free(out);
    free(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/kc-verbs", &c), 200);
    ck_assert(json_is_true(json_object_get(c, "cordoned")));
    json_decref(c);
    ck_assert_int_eq(cli(rm, &out, &err), 0);
    free(out);
    free(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/kc-verbs", NULL), 404);
    free(kc);
    free(extra);
    free(ca_data);
}
END_TEST

/* PUT body; the 422's field and message. */
static void put_422(const char *body, const char *field, const char *quoted)
{
    char url[128], *resp = NULL;
    const char *hdr[] = {"Content-Type: application/json", NULL};
    json_t *r, *e;

    snprintf(url, sizeof(url), "%s/v1/clusters/refused", srv.base);
    ck_assert_int_eq(itest_http("PUT", url, hdr, body, &resp), 422);
    r = json_loads(resp, 0, NULL);
    e = json_object_get(r, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "field")), field);
    ck_assert_msg(strstr(json_string_value(json_object_get(e, "message")), quoted), "%s", resp);
    json_decref(r);
    free(resp);
}

START_TEST(put_refuses_missing_credential_files)
{
    char body[512];

    put_422("{\"apiServer\": \"https://127.0.0.1:1\", \"tokenFile\": \"missing.token\"}",
            "tokenFile", "missing.token");
    snprintf(body, sizeof(body),
             "{\"apiServer\": \"https://127.0.0.1:1\", \"clientCertificateFile\": "
             "\"%s/kubesim-client-kc-cert.crt\", \"clientKeyFile\": \"missing.key\"}",
             dir);
    /* The certificate is outside the secrets directory, the key is missing: the first
     * named is the certificate. */
    put_422(body, "clientCertificateFile", "kubesim-client-kc-cert.crt");
    put_422("{\"apiServer\": \"https://127.0.0.1:1\", \"clientCertificateFile\": \"a.crt\"}",
            "clientKeyFile", "a.crt");
    put_422("{\"apiServer\": \"https://127.0.0.1:1\", \"token\": \"inline\"}", "token",
            "tokenFile");
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/refused", NULL), 404);
}
END_TEST

START_TEST(http_is_refused_unless_marked)
{
    char url[128];
    const char *hdr[] = {"Content-Type: application/json", NULL};

    put_422("{\"apiServer\": \"http://127.0.0.1:1\"}", "apiServer", "http://127.0.0.1:1");
    snprintf(url, sizeof(url), "%s/v1/clusters/plain", srv.base);
    ck_assert_int_eq(itest_http("PUT", url, hdr,
                                "{\"apiServer\": \"http://127.0.0.1:1\", \"allowInsecureHttp\": "
                                "true}",
                                NULL),
                     201);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cluster_kubeconfig");
    TCase *tc = tcase_create("kubeconfig");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, token_and_ca_data_make_a_ready_cluster);
    tcase_add_test(tc, client_certificate_and_key_make_a_ready_cluster);
    tcase_add_test(tc, an_exec_plugin_gets_a_clear_error);
    tcase_add_test(tc, list_check_cordon_capacity_and_remove);
    tcase_add_test(tc, put_refuses_missing_credential_files);
    tcase_add_test(tc, http_is_refused_unless_marked);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
