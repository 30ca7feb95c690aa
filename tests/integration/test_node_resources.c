/* test_node_resources.c -- per-node CPU and memory in the published snapshot (issue 15),
 * end to end: the simulator reports each node's allocatable CPU and memory and binds pods
 * counting their requests as the kube-scheduler does (sidecar init containers, regular init
 * containers, spec.overhead); the connector (poller, LIST+WATCH) reads both and publishes
 * allocatable and requested CPU and memory per node. Both sides count with one rule
 * (struct k8s_requests in cluster/k8s.h); the test checks the figures against numbers
 * worked out by hand from the Kubernetes documentation, so a wrong shared rule fails too. */
#include "base/err.h"
#include "cluster/k8s_jobs.h"
#include "cluster/poller.h"
#include "tools/kubesim/kubesim.h"
#include "tests/support/defaults.h"
#include "tests/support/k8s_sim.h"

#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MIB (INT64_C(1) << 20)

/* One H100 node of 16 cores and 64 GiB, and one L4 node with the simulator's defaults
 * ("95450m", "1046208926Ki"). */
static const char scenario[] =
    "{\"timeScale\":1,\"clusters\":[{\"name\":\"alpha\",\"nodePools\":["
    "{\"name\":\"h\",\"count\":1,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,"
    "\"memoryMiB\":81559,\"pool\":\"training\",\"cpu\":16,\"memoryGib\":64},"
    "{\"name\":\"d\",\"count\":1,\"product\":\"NVIDIA-L4\",\"gpus\":4,\"memoryMiB\":23034,"
    "\"pool\":\"training\"}]}]}";

/* A sidecar (1 core, 1 GiB) declared before a regular init container (8 cores, 2 GiB), an
 * app container (4 cores, 8 GiB, 1 GPU) and an overhead of 250m and 128 MiB: the scheduler
 * counts max(4+1, 1+8) + 0.25 = 9.25 cores and max(8+1, 1+2) GiB + 128 MiB = 9344 MiB. */
static const char job_sidecar[] =
    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"sidecar\"},"
    "\"spec\":{\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
    "\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"},"
    "\"overhead\":{\"cpu\":\"250m\",\"memory\":\"128Mi\"},"
    "\"initContainers\":["
    "{\"name\":\"proxy\",\"image\":\"envoy:1\",\"restartPolicy\":\"Always\","
    "\"resources\":{\"requests\":{\"cpu\":\"1\",\"memory\":\"1Gi\"}}},"
    "{\"name\":\"warmup\",\"image\":\"warmup:1\","
    "\"resources\":{\"requests\":{\"cpu\":\"8\",\"memory\":\"2Gi\"}}}],"
    "\"containers\":[{\"name\":\"trainer\",\"image\":\"trainer:1\",\"resources\":{"
    "\"requests\":{\"cpu\":\"4\",\"memory\":\"8Gi\"},\"limits\":{\"nvidia.com/gpu\":\"1\"}}}]"
    "}}}}";

/* Limits only (7.5 cores, 4 GiB, 1 GPU): 9.25 + 7.5 cores do not fit in 16, so it stays
 * Pending. (Counting the first pod without its sidecar or overhead, 8 + 7.5 would fit.) */
static const char job_tight[] =
    "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"tight\"},"
    "\"spec\":{\"backoffLimit\":0,\"template\":{\"spec\":{\"restartPolicy\":\"Never\","
    "\"nodeSelector\":{\"nvidia.com/gpu.product\":\"NVIDIA-H100-80GB-HBM3\"},"
    "\"containers\":[{\"name\":\"trainer\",\"image\":\"trainer:1\",\"resources\":{"
    "\"limits\":{\"cpu\":\"7500m\",\"memory\":\"4Gi\",\"nvidia.com/gpu\":\"1\"}}}]}}}}";

static struct k8s_env env;
static struct poller *poller;
static struct k8s_client *client;

static void setup(void)
{
    struct poller_options o;
    struct err e = {0};

    defaults_poller(&o);
    o.interval_ms = 200;
    o.publish_delay_ms = 50;
    o.prereq_interval_ms = 0; /* not what this test is about */
    k8s_env_start_text(&env, scenario, false);
    ck_assert_msg(poller_create(env.cfgs, env.n, &o, &poller, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(poller_start(poller, &e), 0);
    ck_assert_msg(k8s_client_new(&env.cfgs[0], 5000, &client, &e) == 0, "%s", e.msg);
}

static void teardown(void)
{
    k8s_client_free(&client);
    poller_free(&poller);
    k8s_env_stop(&env);
}

/* One node's figures and the cluster's pod count, from the current snapshot. */
struct view {
    bool found;
    int gpus_used;
    int64_t cpu_alloc_m, cpu_used_m, mem_alloc_mib, mem_used_mib;
    int pods;
};

static struct view look(const char *node)
{
    const struct cluster_snapshot *s = poller_read_begin(poller);
    int c = cluster_snapshot_find(s, "alpha");
    struct view v;

    memset(&v, 0, sizeof(v));
    if (c >= 0) {
        const struct snapshot_cluster *sc = &s->snap->clusters[c];

        v.pods = s->status[c].stats.pods;
        for (size_t i = sc->node_first; i < sc->node_first + sc->n_nodes; i++) {
            const struct snapshot_node *n = &s->snap->nodes[i];

            if (strcmp(n->name, node) != 0)
                continue;
            v.found = true;
            v.gpus_used = n->used;
            v.cpu_alloc_m = n->cpu_alloc_m;
            v.cpu_used_m = n->cpu_used_m;
            v.mem_alloc_mib = n->mem_alloc_mib;
            v.mem_used_mib = n->mem_used_mib;
        }
    }
    poller_read_end(poller);
    return v;
}

struct want {
    const char *node;
    int pods;
    int64_t cpu_used_m;
};

static bool reached(void *arg)
{
    const struct want *w = arg;
    struct view v = look(w->node);

    return v.found && v.pods == w->pods && v.cpu_used_m == w->cpu_used_m;
}

/* Waits until the snapshot has seen pods pods in the cluster and node's CPU used is cpu_m. */
static void wait_for(const char *node, int pods, int64_t cpu_m)
{
    struct want w = {node, pods, cpu_m};

    ck_assert_msg(k8s_wait_until(reached, &w, 10000), "%s: cpu used %lld, pods %d; want %lld, %d",
                  node, (long long)look(node).cpu_used_m, look(node).pods, (long long)cpu_m, pods);
}

static void create_job(const char *body)
{
    long status = 0;
    const char *resp;
    size_t len;
    struct err e = {0};

    ck_assert_msg(k8s_client_call(client, "POST", "/apis/batch/v1/namespaces/fedsched-jobs/jobs",
                                  body, &status, &resp, &len, &e) == 0,
                  "%s", e.msg);
    ck_assert_msg(status == 201, "HTTP %ld: %.*s", status, (int)len, resp);
}

/* The PodScheduled message of job's only pod, "" when it is bound; *bound says which. */
static void pod_of(const char *job, bool *bound, char *msg, size_t size)
{
    char path[256];
    long status = 0;
    const char *resp;
    size_t len, i;
    struct err e = {0};
    json_t *list, *pod, *c;

    snprintf(path, sizeof(path),
             "/api/v1/namespaces/fedsched-jobs/pods?labelSelector=job-name%%3D%s", job);
    ck_assert_int_eq(k8s_client_call(client, "GET", path, NULL, &status, &resp, &len, &e), 0);
    ck_assert_int_eq(status, 200);
    list = json_loadb(resp, len, 0, NULL);
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(json_array_size(json_object_get(list, "items")), 1);
    pod = json_array_get(json_object_get(list, "items"), 0);
    *bound = json_is_string(json_object_get(json_object_get(pod, "spec"), "nodeName"));
    msg[0] = '\0';
    json_array_foreach(json_object_get(json_object_get(pod, "status"), "conditions"), i, c)
    {
        const char *m = json_string_value(json_object_get(c, "message"));

        if (m && strcmp(json_string_value(json_object_get(c, "type")), "PodScheduled") == 0)
            snprintf(msg, size, "%s", m);
    }
    json_decref(list);
}

START_TEST(allocatable_and_requested_cpu_memory_per_node)
{
    struct view v;
    bool bound;
    char msg[256];

    /* Allocatable as the nodes report it: 16 cores and 64 GiB; the defaults "95450m" and
     * "1046208926Ki" (1021688.4 MiB, rounded down). */
    wait_for("h-0", 0, 0);
    v = look("h-0");
    ck_assert_int_eq(v.cpu_alloc_m, 16000);
    ck_assert_int_eq(v.mem_alloc_mib, 65536);
    ck_assert_int_eq(v.mem_used_mib, 0);
    v = look("d-0");
    ck_assert(v.found);
    ck_assert_int_eq(v.cpu_alloc_m, 95450);
    ck_assert_int_eq(v.mem_alloc_mib, 1021688);

    /* A pod with a sidecar, an init container and an overhead is bound; the snapshot holds
     * its requests as the scheduler counts them. */
    create_job(job_sidecar);
    wait_for("h-0", 1, 9250);
    pod_of("sidecar", &bound, msg, sizeof(msg));
    ck_assert_msg(bound, "sidecar pod not bound: %s", msg);
    v = look("h-0");
    ck_assert_int_eq(v.mem_used_mib, 9344);
    ck_assert_int_eq(v.gpus_used, 1);

    /* The next pod does not fit the node's CPU left: the simulator leaves it Pending as the
     * scheduler would, and an unbound pod is demand, not usage. */
    create_job(job_tight);
    wait_for("h-0", 2, 9250);
    pod_of("tight", &bound, msg, sizeof(msg));
    ck_assert_msg(!bound, "tight pod bound: 9.25 + 7.5 cores on a 16-core node");
    ck_assert_msg(strstr(msg, "1 Insufficient cpu") != NULL, "PodScheduled says \"%s\"", msg);
    v = look("h-0");
    ck_assert_int_eq(v.mem_used_mib, 9344);
    ck_assert_int_eq(v.gpus_used, 1);
}
END_TEST

/* A pod its cluster's scheduler has not bound yet is demand, not usage: with kubesim's
 * scheduler held the pod is listed, unbound and without a PodScheduled condition, and the
 * node shows nothing used; once the scheduler binds it the same pod counts in full. */
START_TEST(unbound_pods_count_once_bound)
{
    struct view v;
    bool bound;
    char msg[256];

    wait_for("h-0", 0, 0);
    sim_cluster_scheduler_hold(sim_get_cluster(env.sim, "alpha"), true);
    create_job(job_sidecar);
    wait_for("h-0", 1, 0);
    pod_of("sidecar", &bound, msg, sizeof(msg));
    ck_assert_msg(!bound, "pod bound while the scheduler is held");
    ck_assert_str_eq(msg, "");
    v = look("h-0");
    ck_assert_int_eq(v.mem_used_mib, 0);
    ck_assert_int_eq(v.gpus_used, 0);

    sim_cluster_scheduler_hold(sim_get_cluster(env.sim, "alpha"), false);
    pod_of("sidecar", &bound, msg, sizeof(msg)); /* a request: the scheduler runs */
    wait_for("h-0", 1, 9250);
    v = look("h-0");
    ck_assert_int_eq(v.mem_used_mib, 9344);
    ck_assert_int_eq(v.gpus_used, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("node_resources");
    TCase *tc = tcase_create("connector");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, allocatable_and_requested_cpu_memory_per_node);
    tcase_add_test(tc, unbound_pods_count_once_bound);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
