/* test_kubectl.c -- a real Kubernetes client against `fedsched-kubesim` over HTTPS (issue 20):
 * kubectl (the kubectl package, .ci/deps: a dispatcher that runs the release matching the
 * server's version, 1.29 for the simulator) with a kubeconfig naming the simulator's https URL,
 * its generated CA and a bearer token; and fedsched's own poller, which must refuse the
 * simulator's certificate without that CA and accept it with it. kubectl's output is checked
 * against the objects as JSON (the simulator's truth); the Table and OpenAPI documents
 * themselves are read raw over HTTPS (libcurl) where kubectl's output cannot show them. */
#include "base/clock.h"
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/poller.h"
#include "cluster/prereq.h"
#include "cluster/secrets.h"
#include "tests/support/defaults.h"
#include "tests/support/itest.h"
#include "tools/kubesim/kubesim.h"

#include <check.h>
#include <curl/curl.h>
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

static bool read_until(FILE *p, const char *a, const char *b, char *out, size_t size);

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

/* Whether fedsched's prerequisite checks (cluster/prereq.c) list cap among the cluster's
 * capabilities. */
static bool has_capability(const char *clusters_dir, const char *name, const char *cap)
{
    json_t *c = cluster_entry(clusters_dir, name);
    const struct prereq_options po = {NULL, NULL, 5000};
    struct cluster_config cfg;
    struct prereq_result res;
    struct err e = {0};
    bool found = false;

    ck_assert_int_eq(cluster_secrets_set_dir(clusters_dir, &e), 0);
    ck_assert_msg(cluster_config_from_json(c, sku_defaults(), &cfg, &e) == 0, "%s", e.msg);
    json_decref(c);
    prereq_check(&cfg, &po, NULL, clock_realtime_ms(), &res);
    ck_assert(res.checked);
    for (size_t i = 0; i < res.n_caps; i++)
        found |= strcmp(res.capabilities[i], cap) == 0;
    return found;
}

START_TEST(a_cluster_without_kuberay_lists_no_rayjobs)
{
    static char out[OUT_MAX];

    ck_assert_int_eq(kubectl(strict_kubeconfig, "api-resources", out), 0);
    ck_assert_msg(lines_starting(out, "pytorchjobs ") == 1, "%s", out);
    ck_assert_ptr_null(strstr(out, "rayjobs"));
    ck_assert_ptr_null(strstr(out, "ray.io"));
    ck_assert_int_ne(kubectl(strict_kubeconfig, "get rayjobs -A", out), 0);
    ck_assert_msg(strstr(out, "the server doesn't have a resource type \"rayjobs\""), "%s", out);
    /* fedsched's capability discovery (the prerequisite checks) sees the same: kubeflow,
     * no ray.io, on this cluster; ray.io/v1 on one that serves it. */
    ck_assert(!has_capability(strict_dir, "strict", "ray.io/v1"));
    ck_assert(has_capability(strict_dir, "strict", "kubeflow.org/v1"));
    ck_assert(has_capability(dir, "sim-east", "ray.io/v1"));
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
    snprintf(args, sizeof(args), "create -f '%s'", path);
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
    /* kubectl's default validation (strict): the OpenAPI v3 documents say the server
     * validates, so kubectl sends fieldValidation=Strict (create_validates_on_the_server). */
    snprintf(args, sizeof(args), "create -f '%s'", path);
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

/* ---- Tables: kubectl prints the columns the API server's printers give ------------------- */

/* Copies the first line of out that starts with prefix (words separated by single spaces,
 * ending at a word's end) into line, its runs of blanks squeezed to one space; false when
 * there is none. */
static bool line_of(const char *out, const char *prefix, char *line, size_t size)
{
    size_t pl = strlen(prefix);

    for (const char *l = out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t n = 0;
        bool blank = false;

        for (const char *c = l; *c && *c != '\n' && n + 1 < size; c++) {
            if (*c == ' ' || *c == '\t') {
                blank = true;
                continue;
            }
            if (blank && n)
                line[n++] = ' ';
            blank = false;
            line[n++] = *c;
        }
        line[n] = '\0';
        if (strncmp(line, prefix, pl) == 0 && (line[pl] == ' ' || line[pl] == '\0'))
            return true;
    }
    return false;
}

/* The items of `kubectl get ARGS -o json` (the objects as the simulator holds them); caller
 * json_decref()s. */
static json_t *items_of(const char *kc, const char *args)
{
    static char out[OUT_MAX];
    char cmd[400];
    json_t *list, *items;

    snprintf(cmd, sizeof(cmd), "get %s -o json", args);
    ck_assert_int_eq(kubectl(kc, cmd, out), 0);
    list = json_loads(out, 0, NULL);
    ck_assert_msg(list, "not JSON: %s", out);
    items = json_incref(json_object_get(list, "items"));
    json_decref(list);
    return items;
}

static const char *jstr(const json_t *o, const char *a, const char *b)
{
    const char *v = json_string_value(json_object_get(json_object_get(o, a), b));

    return v ? v : "";
}

/* The STATUS the API server prints for node n: Ready/NotReady, SchedulingDisabled if cordoned. */
static void node_status(const json_t *n, char *out, size_t size)
{
    size_t i;
    json_t *c;

    snprintf(out, size, "Unknown");
    json_array_foreach(json_object_get(json_object_get(n, "status"), "conditions"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "type")), "Ready") == 0)
            snprintf(out, size, "%s",
                     strcmp(json_string_value(json_object_get(c, "status")), "True") == 0
                         ? "Ready"
                         : "NotReady");
    }
    if (json_is_true(json_object_get(json_object_get(n, "spec"), "unschedulable")))
        snprintf(out + strlen(out), size - strlen(out), ",SchedulingDisabled");
}

START_TEST(get_prints_the_servers_columns)
{
    static char out[OUT_MAX];
    char line[512], want[512], status[64];
    json_t *nodes = items_of(kubeconfig, "nodes"), *n, *a;
    size_t i, k;
    int not_ready = 0;

    ck_assert_int_eq(kubectl(kubeconfig, "get nodes", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME STATUS ROLES AGE VERSION");
    ck_assert_int_eq(json_array_size(nodes), 10);
    json_array_foreach(nodes, i, n)
    {
        const char *name = jstr(n, "metadata", "name");

        node_status(n, status, sizeof(status));
        not_ready += strcmp(status, "NotReady") == 0;
        ck_assert_msg(line_of(out, name, line, sizeof(line)), "no row %s: %s", name, out);
        snprintf(want, sizeof(want), "%s %s <none> ", name, status);
        ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s, want %s...", line, want);
        /* AGE, then VERSION: the node's kubelet. */
        snprintf(want, sizeof(want), " %s",
                 jstr(json_object_get(n, "status"), "nodeInfo", "kubeletVersion"));
        ck_assert_str_eq(line + strlen(line) - strlen(want), want);
    }
    ck_assert_int_eq(not_ready, 1); /* the scenario's a100-0: a row that is not all alike */
    /* -o wide: the priority-1 columns too. */
    ck_assert_int_eq(kubectl(kubeconfig, "get nodes -o wide", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME STATUS ROLES AGE VERSION INTERNAL-IP EXTERNAL-IP OS-IMAGE "
                           "KERNEL-VERSION CONTAINER-RUNTIME");
    json_array_foreach(nodes, i, n)
    {
        const json_t *st = json_object_get(n, "status");
        const char *ip = "";

        json_array_foreach(json_object_get(st, "addresses"), k, a)
        {
            if (strcmp(json_string_value(json_object_get(a, "type")), "InternalIP") == 0)
                ip = json_string_value(json_object_get(a, "address"));
        }
        ck_assert(line_of(out, jstr(n, "metadata", "name"), line, sizeof(line)));
        snprintf(want, sizeof(want), " %s <none> %s %s %s", ip, jstr(st, "nodeInfo", "osImage"),
                 jstr(st, "nodeInfo", "kernelVersion"),
                 jstr(st, "nodeInfo", "containerRuntimeVersion"));
        ck_assert_msg(strstr(line, want), "%s, want ...%s", line, want);
    }
    json_decref(nodes);
    ck_assert_int_eq(kubectl(kubeconfig, "get namespaces", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME STATUS AGE");
    ck_assert(line_of(out, "research", line, sizeof(line)));
    ck_assert_msg(strncmp(line, "research Active ", 16) == 0, "%s", line);
}
END_TEST

START_TEST(get_pods_prints_ready_status_and_node)
{
    static char out[OUT_MAX];
    char line[512], want[512];
    json_t *pods = items_of(kubeconfig, "pods -A"), *p;
    size_t i;

    ck_assert_int_eq(kubectl(kubeconfig, "get pods -A -o wide", out), 0);
    ck_assert(line_of(out, "NAMESPACE", line, sizeof(line)));
    ck_assert_str_eq(line, "NAMESPACE NAME READY STATUS RESTARTS AGE IP NODE NOMINATED NODE "
                           "READINESS GATES");
    ck_assert_int_ge(json_array_size(pods), 2);
    json_array_foreach(pods, i, p)
    {
        const json_t *cs =
            json_array_get(json_object_get(json_object_get(p, "status"), "containerStatuses"), 0);
        const char *ns = jstr(p, "metadata", "namespace");

        /* research's pods: one container each, running and ready, on their node. */
        ck_assert_str_eq(ns, "research");
        ck_assert(json_is_true(json_object_get(cs, "ready")));
        snprintf(want, sizeof(want), "research %s", jstr(p, "metadata", "name"));
        ck_assert_msg(line_of(out, want, line, sizeof(line)), "no %s: %s", want, out);
        snprintf(want, sizeof(want), "research %s 1/1 %s %lld ", jstr(p, "metadata", "name"),
                 jstr(p, "status", "phase"),
                 (long long)json_integer_value(json_object_get(cs, "restartCount")));
        ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s, want %s...", line, want);
        snprintf(want, sizeof(want), " <none> %s <none> <none>", jstr(p, "spec", "nodeName"));
        ck_assert_str_eq(line + strlen(line) - strlen(want), want);
    }
    json_decref(pods);
}
END_TEST

/* Writes text to dir/name and puts the path in path. */
static void write_file(const char *name, const char *text, char *path, size_t size)
{
    FILE *f;

    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(jobs_secrets_services_and_rayjobs_print_their_columns)
{
    static char out[OUT_MAX];
    char path[400], args[600], line[512], want[256];
    json_t *items;

    write_job(path, sizeof(path));
    snprintf(args, sizeof(args), "create -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_int_eq(kubectl(kubeconfig, "get jobs -n default -o wide", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME STATUS COMPLETIONS DURATION AGE CONTAINERS IMAGES SELECTOR");
    ck_assert(line_of(out, "kubectl-probe", line, sizeof(line)));
    /* Not finished (the model's Job runs for a while): Running, 0 of 1 completions. */
    items = items_of(kubeconfig, "jobs -n default");
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_array_get(items, 0), "status"), "succeeded")),
                     0);
    json_decref(items);
    ck_assert_msg(strncmp(line, "kubectl-probe Running 0/1 ", 26) == 0, "%s", line);
    ck_assert_msg(strstr(line, " c busybox "), "%s", line);
    ck_assert_int_eq(kubectl(kubeconfig,
                             "create secret generic s1 -n default --from-literal=a=b "
                             "--from-literal=c=d",
                             out),
                     0);
    ck_assert_int_eq(kubectl(kubeconfig, "get secrets -n default", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME TYPE DATA AGE");
    ck_assert(line_of(out, "s1", line, sizeof(line)));
    ck_assert_msg(strncmp(line, "s1 Opaque 2 ", 12) == 0, "%s", line);
    ck_assert_int_eq(
        kubectl(kubeconfig, "create service clusterip svc1 -n default --tcp=80:8080", out), 0);
    items = items_of(kubeconfig, "services -n default");
    snprintf(
        want, sizeof(want), "svc1 ClusterIP %s <none> 80/TCP ",
        json_string_value(json_array_get(
            json_object_get(json_object_get(json_array_get(items, 0), "spec"), "clusterIPs"), 0)));
    json_decref(items);
    ck_assert_int_eq(kubectl(kubeconfig, "get services -n default -o wide", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR");
    ck_assert(line_of(out, "svc1", line, sizeof(line)));
    ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s, want %s...", line, want);
    ck_assert_str_eq(line + strlen(line) - 9, " app=svc1");
    /* RayJobs: KubeRay's additionalPrinterColumns. */
    write_file("ray.yaml",
               "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: ray-probe, namespace: "
               "default}\nspec:\n  entrypoint: python -c pass\n  rayClusterSpec:\n"
               "    headGroupSpec:\n      rayStartParams: {}\n      template:\n        spec:\n"
               "          containers: [{name: ray-head, image: rayproject/ray:2.9.0}]\n",
               path, sizeof(path));
    snprintf(args, sizeof(args), "create -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    items = items_of(kubeconfig, "rayjobs -n default");
    snprintf(want, sizeof(want), "ray-probe %s %s %s ",
             jstr(json_array_get(items, 0), "status", "jobStatus"),
             jstr(json_array_get(items, 0), "status", "jobDeploymentStatus"),
             jstr(json_array_get(items, 0), "status", "startTime"));
    json_decref(items);
    ck_assert_int_eq(kubectl(kubeconfig, "get rayjobs -n default", out), 0);
    ck_assert(line_of(out, "NAME", line, sizeof(line)));
    ck_assert_str_eq(line, "NAME JOB STATUS DEPLOYMENT STATUS START TIME END TIME AGE");
    ck_assert(line_of(out, "ray-probe", line, sizeof(line)));
    ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%s, want %s...", line, want);
}
END_TEST

/* --sort-by makes kubectl ask includeObject=Object: the rows carry whole objects, so it can
 * sort on a field outside metadata (the nodes' machine IDs, in no name order). The order to
 * expect is kubectl's own on the plain objects (-o name asks for no Table). */
START_TEST(sort_by_reads_whole_objects)
{
    static char out[OUT_MAX], names[OUT_MAX];
    const char *at, *n;
    int rows = 0;

    ck_assert_int_eq(
        kubectl(kubeconfig, "get nodes --sort-by=.status.nodeInfo.machineID -o name", names), 0);
    ck_assert_msg(strncmp(names, "node/a100-0\n", 12) != 0, "%s", names); /* not name order */
    ck_assert_int_eq(
        kubectl(kubeconfig, "get nodes --sort-by=.status.nodeInfo.machineID -v=6", out), 0);
    ck_assert_msg(strstr(out, "/api/v1/nodes?includeObject=Object 200 OK"), "%s", out);
    at = strstr(out, "\nNAME ");
    ck_assert_ptr_nonnull(at);
    for (n = names; (n = strstr(n, "node/")) != NULL; n += 5, rows++) {
        char row[80];

        snprintf(row, sizeof(row), "\n%.*s ", (int)strcspn(n + 5, "\n"), n + 5);
        at = strstr(at, row);
        ck_assert_msg(at, "%s out of order: %s", row + 1, out);
    }
    ck_assert_int_eq(rows, 10);
}
END_TEST

/* get -w: the watch events' objects are one-row Tables, printed with the list's columns. */
START_TEST(get_jobs_watch_prints_table_rows)
{
    static char out[OUT_MAX];
    char cmd[1200], path[400], args[600];
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "timeout 20 kubectl --kubeconfig='%s' --cache-dir='%s/cache' get jobs -A -w "
             "--output-watch-events 2>&1",
             kubeconfig, dir);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    out[0] = '\0';
    /* No Job yet: kubectl prints nothing until the first event, so wait for the watch to be
     * open before creating one. */
    sleep(2);
    write_job(path, sizeof(path));
    snprintf(args, sizeof(args), "create -f '%s'", path);
    {
        static char o2[OUT_MAX];

        ck_assert_int_eq(kubectl(kubeconfig, args, o2), 0);
    }
    ck_assert_msg(read_until(p, "ADDED", "kubectl-probe", out, sizeof(out)), "%s", out);
    pclose(p);
    ck_assert_msg(strstr(out, "EVENT"), "%s", out);
    {
        char line[512];

        ck_assert(line_of(out, "EVENT", line, sizeof(line)));
        ck_assert_str_eq(line, "EVENT NAMESPACE NAME STATUS COMPLETIONS DURATION AGE");
        ck_assert(line_of(out, "ADDED", line, sizeof(line)));
        ck_assert_msg(strncmp(line, "ADDED default kubectl-probe Running 0/1 ", 40) == 0, "%s",
                      line);
    }
}
END_TEST

/* ---- raw HTTPS: the documents themselves ------------------------------------------------- */

struct raw {
    long code;
    char *body;
    size_t len;
    char location[512];
};

static size_t raw_keep(char *data, size_t size, size_t n, void *arg)
{
    struct raw *r = arg;

    if (r->len + size * n > (8u << 20))
        return 0;
    r->body = realloc(r->body, r->len + size * n + 1);
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

/* GET path (with its query) from cluster name of the simulator that wrote clusters_dir, with
 * its CA and token and the given Accept (NULL: none); caller frees r->body. */
static void raw_get(const char *clusters_dir, const char *name, const char *path,
                    const char *accept, struct raw *r)
{
    json_t *c = cluster_entry(clusters_dir, name);
    const char *tf = json_string_value(json_object_get(c, "tokenFile"));
    char url[600], token[200] = "any", hdr[300], *loc = NULL;
    struct curl_slist *hd = NULL;
    CURL *h = curl_easy_init();
    FILE *f;

    memset(r, 0, sizeof(*r));
    if (tf) {
        f = fopen(tf, "r");
        ck_assert_ptr_nonnull(f);
        ck_assert_ptr_nonnull(fgets(token, sizeof(token), f));
        token[strcspn(token, "\n")] = '\0';
        fclose(f);
    }
    snprintf(url, sizeof(url), "%s%s", json_string_value(json_object_get(c, "apiServer")), path);
    snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", token);
    hd = curl_slist_append(hd, hdr);
    if (accept) {
        snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
        hd = curl_slist_append(hd, hdr);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CAINFO, json_string_value(json_object_get(c, "caFile")));
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, raw_keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
    snprintf(r->location, sizeof(r->location), "%s", loc ? loc : "");
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    json_decref(c);
}

/* The JSON body of a raw GET answered code (caller json_decref()s). */
static json_t *raw_json(const char *path, const char *accept, long code)
{
    struct raw r;
    json_t *doc;

    raw_get(dir, "sim-east", path, accept, &r);
    ck_assert_msg(r.code == code, "GET %s: %ld, want %ld: %s", path, r.code, code,
                  r.body ? r.body : "");
    doc = json_loads(r.body ? r.body : "", 0, NULL);
    ck_assert_msg(doc, "GET %s: not JSON: %s", path, r.body ? r.body : "");
    free(r.body);
    return doc;
}

#define KUBECTL_ACCEPT                                                                             \
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;"            \
    "g=meta.k8s.io,application/json"

START_TEST(tables_as_the_api_server_serves_them)
{
    json_t *t = raw_json("/api/v1/nodes", KUBECTL_ACCEPT, 200), *c, *row;
    size_t i;
    int wide = 0;
    struct raw r;

    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "Table");
    ck_assert_str_eq(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1");
    ck_assert_ptr_nonnull(
        json_string_value(json_object_get(json_object_get(t, "metadata"), "resourceVersion")));
    ck_assert_int_eq(json_array_size(json_object_get(t, "columnDefinitions")), 10);
    json_array_foreach(json_object_get(t, "columnDefinitions"), i, c)
    {
        ck_assert(json_is_string(json_object_get(c, "name")));
        ck_assert(json_is_string(json_object_get(c, "type")));
        ck_assert(json_is_string(json_object_get(c, "format")));
        ck_assert(json_string_length(json_object_get(c, "description")) > 0);
        wide += (int)json_integer_value(json_object_get(c, "priority"));
    }
    ck_assert_int_eq(wide, 5); /* INTERNAL-IP .. CONTAINER-RUNTIME */
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_array_get(json_object_get(t, "columnDefinitions"), 0), "format")),
                     "name");
    ck_assert_int_eq(json_array_size(json_object_get(t, "rows")), 10);
    json_array_foreach(json_object_get(t, "rows"), i, row)
    {
        json_t *o = json_object_get(row, "object");

        ck_assert_int_eq(json_array_size(json_object_get(row, "cells")), 10);
        ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "PartialObjectMetadata");
        ck_assert_str_eq(json_string_value(json_object_get(o, "apiVersion")), "meta.k8s.io/v1");
        ck_assert_str_eq(jstr(o, "metadata", "name"),
                         json_string_value(json_array_get(json_object_get(row, "cells"), 0)));
        ck_assert_ptr_null(json_object_get(o, "status"));
    }
    json_decref(t);
    /* includeObject=Object: the whole Node, with its kind; None: null. */
    t = raw_json("/api/v1/nodes/h100-0?includeObject=Object", KUBECTL_ACCEPT, 200);
    ck_assert_int_eq(json_array_size(json_object_get(t, "rows")), 1);
    row = json_array_get(json_object_get(t, "rows"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(row, "object"), "kind")),
                     "Node");
    ck_assert_ptr_nonnull(
        json_object_get(json_object_get(json_object_get(row, "object"), "status"), "capacity"));
    json_decref(t);
    t = raw_json("/api/v1/nodes?includeObject=None", KUBECTL_ACCEPT, 200);
    ck_assert(
        json_is_null(json_object_get(json_array_get(json_object_get(t, "rows"), 0), "object")));
    json_decref(t);
    t = raw_json("/api/v1/nodes?includeObject=All", KUBECTL_ACCEPT, 400);
    ck_assert_str_eq(json_string_value(json_object_get(t, "message")),
                     "unrecognized includeObject value: \"All\"");
    json_decref(t);
    /* v1beta1 when asked for first; plain JSON without as=Table, or for a resource without a
     * printer here (fedsched's own requests never ask). */
    t = raw_json("/api/v1/namespaces", "application/json;as=Table;v=v1beta1;g=meta.k8s.io", 200);
    ck_assert_str_eq(json_string_value(json_object_get(t, "apiVersion")), "meta.k8s.io/v1beta1");
    json_decref(t);
    t = raw_json("/api/v1/nodes", "application/json", 200);
    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "NodeList");
    json_decref(t);
    t = raw_json("/apis/scheduling.k8s.io/v1/priorityclasses", KUBECTL_ACCEPT, 200);
    ck_assert_str_eq(json_string_value(json_object_get(t, "kind")), "PriorityClassList");
    json_decref(t);
    /* A watch (timeoutSeconds=1 ends it): one Table of one row per event, the column
     * definitions in the first only. */
    raw_get(dir, "sim-east", "/api/v1/nodes?watch=1&timeoutSeconds=1", KUBECTL_ACCEPT, &r);
    ck_assert_int_eq(r.code, 200);
    {
        char *save = NULL, *l = strtok_r(r.body, "\n", &save);
        int events = 0;

        for (; l; l = strtok_r(NULL, "\n", &save), events++) {
            json_t *ev = json_loads(l, 0, NULL), *o = json_object_get(ev, "object");

            ck_assert_msg(ev, "%s", l);
            ck_assert_str_eq(json_string_value(json_object_get(ev, "type")), "ADDED");
            ck_assert_str_eq(json_string_value(json_object_get(o, "kind")), "Table");
            ck_assert_int_eq(json_array_size(json_object_get(o, "rows")), 1);
            if (events == 0)
                ck_assert_int_eq(json_array_size(json_object_get(o, "columnDefinitions")), 10);
            else
                ck_assert(json_is_null(json_object_get(o, "columnDefinitions")));
            json_decref(ev);
        }
        ck_assert_int_eq(events, 10);
    }
    free(r.body);
}
END_TEST

/* ---- OpenAPI and server-side field validation -------------------------------------------- */

START_TEST(openapi_v3_says_the_server_validates_fields)
{
    json_t *idx = raw_json("/openapi/v3", NULL, 200), *paths = json_object_get(idx, "paths");
    json_t *doc, *patch, *p;
    const char *url = json_string_value(
        json_object_get(json_object_get(paths, "apis/batch/v1"), "serverRelativeURL"));
    bool fv = false;
    size_t i;
    struct raw r;
    char stale[600];

    ck_assert_ptr_nonnull(json_object_get(paths, "api/v1"));
    ck_assert_ptr_nonnull(json_object_get(paths, "apis/ray.io/v1"));
    ck_assert_msg(url && strncmp(url, "/openapi/v3/apis/batch/v1?hash=", 31) == 0, "%s", url);
    doc = raw_json(url, "application/json", 200);
    /* What kubectl reads (cli-runtime query_param_verifier_v3.go): the PATCH of the kind,
     * found by x-kubernetes-group-version-kind, naming fieldValidation among its parameters. */
    patch = json_object_get(json_object_get(json_object_get(doc, "paths"),
                                            "/apis/batch/v1/namespaces/{namespace}/jobs/{name}"),
                            "patch");
    ck_assert_ptr_nonnull(patch);
    p = json_object_get(patch, "x-kubernetes-group-version-kind");
    ck_assert_str_eq(json_string_value(json_object_get(p, "group")), "batch");
    ck_assert_str_eq(json_string_value(json_object_get(p, "version")), "v1");
    ck_assert_str_eq(json_string_value(json_object_get(p, "kind")), "Job");
    json_array_foreach(json_object_get(patch, "parameters"), i, p)
    {
        fv |= strcmp(json_string_value(json_object_get(p, "name")), "fieldValidation") == 0;
    }
    ck_assert(fv);
    ck_assert_ptr_nonnull(json_object_get(
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"),
                        "io.k8s.api.batch.v1.JobSpec"),
        "properties"));
    json_decref(doc);
    /* A stale hash is sent to the current one. */
    snprintf(stale, sizeof(stale), "%.*sDEADBEEF", (int)(strchr(url, '=') + 1 - url), url);
    raw_get(dir, "sim-east", stale, NULL, &r);
    ck_assert_int_eq(r.code, 301);
    ck_assert_msg(strstr(r.location, url), "%s", r.location);
    free(r.body);
    json_decref(idx);
    /* A cluster without KubeRay has no ray.io document. */
    raw_get(strict_dir, "strict", "/openapi/v3", NULL, &r);
    ck_assert_int_eq(r.code, 200);
    ck_assert_ptr_null(strstr(r.body, "ray.io"));
    ck_assert_ptr_nonnull(strstr(r.body, "\"apis/batch/v1\""));
    free(r.body);
}
END_TEST

/* kubectl's default validation sends fieldValidation=Strict and the server refuses a Job with
 * an unknown field, in the API server's words; --validate=warn gets the field dropped with a
 * Warning, --validate=false (Ignore) silently. */
START_TEST(create_validates_on_the_server)
{
    static char out[OUT_MAX];
    char path[400], args[600];

    write_job(path, sizeof(path));
    snprintf(args, sizeof(args), "create -f '%s' -v=6", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_msg(strstr(out, "GET https://127.0.0.1:") && strstr(out, "/openapi/v3?timeout="),
                  "%s", out);
    ck_assert_msg(strstr(out, "/apis/batch/v1/namespaces/default/jobs?fieldManager=kubectl-create"
                              "&fieldValidation=Strict 201 Created"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "/openapi/v2"), "%s", out);
    ck_assert_int_eq(kubectl(kubeconfig, "delete job kubectl-probe -n default", out), 0);
    write_file("bad-job.yaml",
               "apiVersion: batch/v1\nkind: Job\nmetadata: {name: kubectl-probe, namespace: "
               "default}\nspec:\n  foo: 1\n  template:\n    spec:\n      restartPolicy: Never\n"
               "      containers: [{name: c, image: busybox, command: [\"true\"], colour: red}]\n",
               path, sizeof(path));
    snprintf(args, sizeof(args), "create -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 1);
    {
        char want[800];

        snprintf(want, sizeof(want),
                 "Error from server (BadRequest): error when creating \"%s\": Job in version "
                 "\"v1\" cannot be handled as a Job: strict decoding error: unknown field "
                 "\"spec.foo\", unknown field \"spec.template.spec.containers[0].colour\"\n",
                 path);
        ck_assert_str_eq(out, want);
    }
    ck_assert_int_ne(kubectl(kubeconfig, "get job kubectl-probe -n default", out), 0);
    snprintf(args, sizeof(args), "create --validate=warn -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_str_eq(out, "Warning: unknown field \"spec.foo\"\nWarning: unknown field "
                          "\"spec.template.spec.containers[0].colour\"\n"
                          "job.batch/kubectl-probe created\n");
    ck_assert_int_eq(kubectl(kubeconfig, "delete job kubectl-probe -n default", out), 0);
    snprintf(args, sizeof(args), "create --validate=false -f '%s'", path);
    ck_assert_int_eq(kubectl(kubeconfig, args, out), 0);
    ck_assert_str_eq(out, "job.batch/kubectl-probe created\n");
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
    tcase_add_test(tc, get_prints_the_servers_columns);
    tcase_add_test(tc, get_pods_prints_ready_status_and_node);
    tcase_add_test(tc, jobs_secrets_services_and_rayjobs_print_their_columns);
    tcase_add_test(tc, sort_by_reads_whole_objects);
    tcase_add_test(tc, get_jobs_watch_prints_table_rows);
    tcase_add_test(tc, tables_as_the_api_server_serves_them);
    tcase_add_test(tc, openapi_v3_says_the_server_validates_fields);
    tcase_add_test(tc, create_validates_on_the_server);
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
