/* test_kubectl.c -- a real Kubernetes client against `fedsched-kubesim` over HTTPS (issue 20):
 * kubectl (the kubectl package, .ci/deps: a dispatcher that runs the release matching the
 * server's version, 1.29 for the simulator) with a kubeconfig naming the simulator's https URL,
 * its generated CA and a bearer token; and fedsched's own poller, which must refuse the
 * simulator's certificate without that CA and accept it with it.
 * Not covered here: Table columns (docs/simulator.md says what kubectl prints instead). */
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/poller.h"
#include "cluster/secrets.h"
#include "tests/support/defaults.h"
#include "tests/support/itest.h"
#include "tools/kubesim/kubesim.h"

#include <check.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define OUT_MAX 65536

static char dir[] = "/tmp/fedsched-kubectl-XXXXXX", strict_dir[300];
static char kubeconfig[300], strict_kubeconfig[300];
static pid_t sim_pid, strict_pid;

/* The member-cluster config the simulator wrote for cluster name (caller json_decref()s). */
static json_t *cluster_entry(const char *clusters_dir, const char *name)
{
    char path[400];
    json_t *root, *c, *found = NULL;
    size_t i;

    snprintf(path, sizeof(path), "%s/clusters.json", clusters_dir);
    root = json_load_file(path, 0, NULL);
    ck_assert_ptr_nonnull(root);
    json_array_foreach(json_object_get(root, "clusters"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), name) == 0)
            found = json_incref(c);
    }
    json_decref(root);
    ck_assert_msg(found, "no cluster %s in %s", name, path);
    return found;
}

/* Writes a kubeconfig for cluster name of the simulator that wrote clusters_dir. */
static void write_kubeconfig(const char *clusters_dir, const char *name, const char *path)
{
    json_t *c = cluster_entry(clusters_dir, name);
    const char *tf = json_string_value(json_object_get(c, "tokenFile"));
    char token[160] = "any"; /* a cluster without a token takes any; none: kubectl prompts */
    FILE *f;

    if (tf) {
        f = fopen(tf, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(token, sizeof(token), f));
        token[strcspn(token, "\n")] = '\0';
        fclose(f);
    }
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n"
            "    server: \"%s\"\n    certificate-authority: \"%s\"\n"
            "users:\n- name: u\n  user:\n    token: \"%s\"\n"
            "contexts:\n- name: sim\n  context: {cluster: sim, user: u}\ncurrent-context: sim\n",
            json_string_value(json_object_get(c, "apiServer")),
            json_string_value(json_object_get(c, "caFile")), token);
    fclose(f);
    json_decref(c);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(strict_dir, sizeof(strict_dir), "%s/strict", dir);
    ck_assert_int_eq(mkdir(strict_dir, 0700), 0);
    sim_pid = itest_sim_start("testdata/sim/three-clusters.json", dir);
    strict_pid = itest_sim_start("testdata/sim/strict.json", strict_dir);
    snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
    snprintf(strict_kubeconfig, sizeof(strict_kubeconfig), "%s/kubeconfig", strict_dir);
    write_kubeconfig(dir, "sim-east", kubeconfig);
    write_kubeconfig(strict_dir, "strict", strict_kubeconfig);
}

static void teardown(void)
{
    char cmd[400];

    kill(sim_pid, SIGTERM);
    kill(strict_pid, SIGTERM);
    waitpid(sim_pid, NULL, 0);
    waitpid(strict_pid, NULL, 0);
    /* The CA's and the server's keys, tokens and kubeconfigs go with the directory. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Runs `kubectl --kubeconfig kc ARGS` (args: a fixed shell word list); its stdout and
 * stderr go to out. Returns kubectl's exit status. */
static int kubectl(const char *kc, const char *args, char *out)
{
    char cmd[1200];
    size_t n = 0, k;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd),
             "timeout 60 kubectl --kubeconfig='%s' --cache-dir='%s/cache' %s 2>&1", kc, dir, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (n < OUT_MAX - 1 && (k = fread(out + n, 1, OUT_MAX - 1 - n, p)) > 0)
        n += k;
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of out that start with prefix. */
static int lines_starting(const char *out, const char *prefix)
{
    int n = 0;

    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        n += strncmp(l, prefix, strlen(prefix)) == 0;
    return n;
}

START_TEST(api_resources_come_from_discovery)
{
    static char out[OUT_MAX];

    ck_assert_int_eq(kubectl(kubeconfig, "api-resources", out), 0);
    /* NAME SHORTNAMES APIVERSION NAMESPACED KIND, one resource a line. */
    ck_assert_msg(strstr(out, "NAME") && strstr(out, "SHORTNAMES"), "%s", out);
    ck_assert_int_eq(lines_starting(out, "jobs "), 1);
    ck_assert_ptr_nonnull(strstr(out, "batch/v1"));
    ck_assert_int_eq(lines_starting(out, "nodes "), 1);
    ck_assert_ptr_nonnull(strstr(out, " no "));
    ck_assert_int_eq(lines_starting(out, "rayjobs "), 1);
    ck_assert_ptr_nonnull(strstr(out, "SelfSubjectAccessReview"));
    /* Only what kubectl can pipe to `get`: create-only reviews are not listable. */
    ck_assert_int_eq(kubectl(kubeconfig, "api-resources --verbs=list -o name", out), 0);
    ck_assert_ptr_nonnull(strstr(out, "jobs.batch\n"));
    ck_assert_ptr_null(strstr(out, "selfsubjectaccessreviews"));
}
END_TEST

/* kubectl asks for aggregated discovery first: answered, it needs no request per
 * group/version (with the legacy documents only it GETs /api/v1, /apis/batch/v1 ...). */
START_TEST(discovery_is_aggregated)
{
    static char out[OUT_MAX];

    ck_assert_int_eq(kubectl(kubeconfig, "api-resources -v=6", out), 0);
    ck_assert_msg(strstr(out, "/apis?timeout=32s 200 OK"), "%s", out);
    ck_assert_msg(!strstr(out, "/api/v1?") && !strstr(out, "/apis/batch/v1?"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "\njobs "));
    ck_assert_ptr_nonnull(strstr(out, "\nrayjobs "));
}
END_TEST

START_TEST(a_cluster_without_kuberay_lists_no_rayjobs)
{
    static char out[OUT_MAX];

    ck_assert_int_eq(kubectl(strict_kubeconfig, "api-resources", out), 0);
    ck_assert_msg(lines_starting(out, "pytorchjobs ") == 1, "%s", out);
    ck_assert_ptr_null(strstr(out, "rayjobs"));
    ck_assert_ptr_null(strstr(out, "ray.io"));
    ck_assert_int_ne(kubectl(strict_kubeconfig, "get rayjobs -A", out), 0);
    ck_assert_msg(strstr(out, "the server doesn't have a resource type \"rayjobs\""), "%s", out);
}
END_TEST

START_TEST(get_nodes_and_pods)
{
    static char out[OUT_MAX];

    /* sim-east: 6 H100 and 4 A100 nodes; 2 H100 nodes busy with other teams' pods. */
    ck_assert_int_eq(kubectl(kubeconfig, "get nodes", out), 0);
    ck_assert_msg(lines_starting(out, "NAME ") == 1, "%s", out);
    ck_assert_int_eq(lines_starting(out, "h100-"), 6);
    ck_assert_int_eq(lines_starting(out, "a100-"), 4);
    ck_assert_int_eq(kubectl(kubeconfig, "get nodes -o json", out), 0);
    ck_assert_ptr_nonnull(strstr(out, "\"nvidia.com/gpu\": \"8\""));
    ck_assert_int_eq(kubectl(kubeconfig, "get pods -A", out), 0);
    ck_assert_msg(lines_starting(out, "NAMESPACE ") == 1, "%s", out);
    ck_assert_int_ge(lines_starting(out, "research "), 2);
}
END_TEST

/* Writes a batch/v1 Job named kubectl-probe in default to dir/job.yaml; path gets its name. */
static void write_job(char *path, size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/job.yaml", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("apiVersion: batch/v1\nkind: Job\nmetadata: {name: kubectl-probe, namespace: default}\n"
          "spec:\n  template:\n    spec:\n      restartPolicy: Never\n"
          "      containers: [{name: c, image: busybox, command: [\"true\"]}]\n",
          f);
    fclose(f);
}

START_TEST(describe_nodes_pods_and_jobs)
{
    static char out[OUT_MAX];
    char path[400], args[600];

    ck_assert_int_eq(kubectl(kubeconfig, "describe node h100-0", out), 0);
    ck_assert_msg(strstr(out, "Name:               h100-0\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "Taints:             nvidia.com/gpu=present:NoSchedule"));
    ck_assert_ptr_nonnull(strstr(out, "nvidia.com/gpu:     8"));
    ck_assert_int_eq(kubectl(kubeconfig, "describe -n research pod load-h100-4", out), 0);
    ck_assert_msg(strstr(out, "Node:         h100-4/"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "Status:       Running"));
    write_job(path, sizeof(path));
    snprintf(args, sizeof(args), "create --validate=false -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_int_eq(kubectl(kubeconfig, "describe -n default job kubectl-probe", out), 0);
    ck_assert_msg(strstr(out, "Namespace:      default\n"), "%s", out);
    ck_assert_ptr_nonnull(strstr(out, "Parallelism:    1\n"));
    ck_assert_int_eq(kubectl(kubeconfig, "get -n default jobs -o yaml", out), 0);
    ck_assert_ptr_nonnull(strstr(out, "  kind: Job\n"));
    ck_assert_ptr_nonnull(strstr(out, "    name: kubectl-probe\n"));
}
END_TEST

START_TEST(create_get_and_delete_a_job)
{
    static char out[OUT_MAX];
    char path[400], args[600];
    json_t *list, *item, *found = NULL;
    size_t i;

    write_job(path, sizeof(path));
    /* --validate=false: the simulator serves no OpenAPI document (docs/simulator.md). */
    snprintf(args, sizeof(args), "create --validate=false -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_str_eq(out, "job.batch/kubectl-probe created\n");
    ck_assert_int_eq(kubectl(kubeconfig, "get jobs -A -o json", out), 0);
    list = json_loads(out, 0, NULL);
    ck_assert_msg(list, "not JSON: %s", out);
    ck_assert_str_eq(json_string_value(json_object_get(list, "kind")), "List");
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        json_t *md = json_object_get(item, "metadata");

        if (strcmp(json_string_value(json_object_get(md, "name")), "kubectl-probe") == 0)
            found = item;
    }
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(json_string_value(json_object_get(found, "kind")), "Job");
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(found, "metadata"), "namespace")),
        "default");
    json_decref(list);
    ck_assert_int_eq(kubectl(kubeconfig, "delete job kubectl-probe -n default", out), 0);
    ck_assert_str_eq(out, "job.batch \"kubectl-probe\" deleted\n");
    ck_assert_int_ne(kubectl(kubeconfig, "get job kubectl-probe -n default", out), 0);
    ck_assert_msg(strstr(out, "(NotFound)"), "%s", out);
}
END_TEST

START_TEST(auth_can_i_asks_the_cluster)
{
    static char out[OUT_MAX];

    ck_assert_int_eq(kubectl(kubeconfig, "auth can-i create jobs", out), 0);
    ck_assert_str_eq(out, "yes\n");
    /* strict forbids creating namespaces: can-i says no and exits 1. */
    ck_assert_int_eq(kubectl(strict_kubeconfig, "auth can-i create namespaces", out), 1);
    /* After kubectl's own warning that namespaces are not namespaced. */
    ck_assert_msg(strlen(out) >= 3 && strcmp(out + strlen(out) - 3, "no\n") == 0, "%s", out);
    ck_assert_int_eq(kubectl(strict_kubeconfig, "auth can-i create jobs.batch", out), 0);
    ck_assert_str_eq(out, "yes\n");
}
END_TEST

START_TEST(a_wrong_token_is_refused)
{
    static char out[OUT_MAX];

    ck_assert_int_ne(kubectl(kubeconfig, "--token=wrong get nodes", out), 0);
    ck_assert_msg(strstr(out, "Unauthorized") || strstr(out, "provide credentials"), "%s", out);
}
END_TEST

/* A small file's text (caller frees). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *text = calloc(1, 65536);
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(text, 1, 65535, f);
    fclose(f);
    ck_assert_int_gt(n, 0);
    return text;
}

/* Reads lines of p into out until one holds both a and b (20 s at most); false on EOF. */
static bool read_until(FILE *p, const char *a, const char *b, char *out, size_t size)
{
    char line[512];
    size_t n = strlen(out);

    while (fgets(line, sizeof(line), p)) {
        snprintf(out + n, size - n, "%s", line);
        n += strlen(out + n);
        if (strstr(line, a) && strstr(line, b))
            return true;
    }
    return false;
}

/* get -w: the simulator's in-process API (its fault injection) cordons a node and marks it
 * NotReady; kubectl's watch shows the change. The in-process simulator serves HTTPS with the
 * certificate the fixture's binary made, so the same CA holds. */
START_TEST(get_nodes_watch_sees_a_node_change)
{
    static char out[OUT_MAX];
    struct sim_options o;
    struct sim *s = NULL;
    struct err e = {0};
    char path[400], url[256], kc[400], cmd[1200], scenario[600];
    char *cert, *key;
    FILE *f, *p;

    snprintf(path, sizeof(path), "%s/kubesim-server.crt", dir);
    cert = slurp(path);
    snprintf(path, sizeof(path), "%s/kubesim-server.key", dir);
    key = slurp(path);
    snprintf(scenario, sizeof(scenario), "%s/testdata/sim/three-clusters.json",
             getenv("FEDSCHED_SRC"));
    memset(&o, 0, sizeof(o));
    o.scenario_path = scenario;
    o.tls_cert_pem = cert;
    o.tls_key_pem = key;
    ck_assert_msg(sim_start(&o, &s, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(sim_url(s, "sim-east", url, sizeof(url), &e), 0);
    ck_assert_ptr_nonnull(strstr(url, "https://"));
    snprintf(kc, sizeof(kc), "%s/kubeconfig-inproc", dir);
    f = fopen(kc, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n"
            "    server: \"%s\"\n    certificate-authority: \"%s/kubesim-ca.crt\"\n"
            "users:\n- name: u\n  user:\n    token: sim-east-token\n"
            "contexts:\n- name: sim\n  context: {cluster: sim, user: u}\ncurrent-context: sim\n",
            url, dir);
    fclose(f);
    snprintf(cmd, sizeof(cmd),
             "timeout 20 kubectl --kubeconfig='%s' --cache-dir='%s/cache' get nodes -w "
             "--output-watch-events -o jsonpath='{.type} {.object.metadata.name} "
             "{.object.spec.unschedulable}{\"\\n\"}' 2>&1",
             kc, dir);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    /* The list comes first, as ADDED events; the last node listed is h100-5. */
    ck_assert_msg(read_until(p, "ADDED h100-5", "", out, sizeof(out)), "%s", out);
    ck_assert_ptr_null(strstr(out, "h100-1 true"));
    ck_assert_int_eq(
        sim_cluster_set_node(sim_get_cluster(s, "sim-east"), "h100-1", false, true, &e), 0);
    /* "MODIFIED h100-1 true": the watch event carries the cordoned node. */
    ck_assert_msg(read_until(p, "MODIFIED h100-1 true", "", out, sizeof(out)), "%s", out);
    pclose(p);
    sim_stop(&s);
    free(cert);
    free(key);
}
END_TEST

/* Polls sim-east once with fedsched's poller, its caFile replaced by ca ("" none); returns
 * whether the cluster came out Ready, with the poller's error in why. */
static bool poll_with_ca(const char *ca, char *why, size_t size)
{
    json_t *c = cluster_entry(dir, "sim-east");
    struct cluster_config cfg;
    struct poller_options po;
    struct poller *p = NULL;
    const struct cluster_snapshot *s;
    struct err e = {0};
    bool ready;

    json_object_set_new(c, "caFile", json_string(ca));
    if (!ca[0])
        json_object_del(c, "caFile");
    ck_assert_msg(cluster_config_from_json(c, sku_defaults(), &cfg, &e) == 0, "%s", e.msg);
    json_decref(c);
    defaults_poller(&po);
    ck_assert_int_eq(poller_create(&cfg, 1, &po, &p, &e), 0);
    poller_poll_once(p, &e);
    s = poller_read_begin(p);
    ready = s->snap->clusters[0].health == SNAPSHOT_HEALTH_READY;
    snprintf(why, size, "%s", s->status[0].last_error);
    poller_read_end(p);
    poller_free(&p);
    return ready;
}

START_TEST(fedsched_verifies_the_simulators_certificate)
{
    struct err e = {0};
    char why[512], ca[400], other_ca[400];

    snprintf(ca, sizeof(ca), "%s/kubesim-ca.crt", dir);
    snprintf(other_ca, sizeof(other_ca), "%s/kubesim-ca.crt", strict_dir);
    ck_assert_int_eq(cluster_secrets_set_dir(dir, &e), 0);
    ck_assert_msg(poll_with_ca(ca, why, sizeof(why)), "with the CA: %s", why);
    /* Without the CA: the system's trust store does not know the simulator's CA. */
    ck_assert(!poll_with_ca("", why, sizeof(why)));
    ck_assert_msg(strstr(why, "certificate") || strstr(why, "SSL"), "%s", why);
    /* Another simulator's CA (a fresh one each start) does not sign this certificate. */
    ck_assert(!poll_with_ca(other_ca, why, sizeof(why)));
    ck_assert_msg(strstr(why, "certificate") || strstr(why, "SSL"), "%s", why);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kubectl");
    TCase *tc = tcase_create("kubectl");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, api_resources_come_from_discovery);
    tcase_add_test(tc, discovery_is_aggregated);
    tcase_add_test(tc, a_cluster_without_kuberay_lists_no_rayjobs);
    tcase_add_test(tc, get_nodes_and_pods);
    tcase_add_test(tc, describe_nodes_pods_and_jobs);
    tcase_add_test(tc, create_get_and_delete_a_job);
    tcase_add_test(tc, auth_can_i_asks_the_cluster);
    tcase_add_test(tc, a_wrong_token_is_refused);
    tcase_add_test(tc, get_nodes_watch_sees_a_node_change);
    tcase_add_test(tc, fedsched_verifies_the_simulators_certificate);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
