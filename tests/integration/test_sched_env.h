/* test_sched_env.h -- shared by the scheduler's integration and end-to-end tests: an
 * in-process simulator (so tests can inspect and fault it), a fresh database, config
 * files, `fedsched serve` replicas, and small API helpers. Header-only (static inline) so
 * each test binary carries its own copy; not a test binary itself. */
#ifndef TESTS_INTEGRATION_TEST_SCHED_ENV_H
#define TESTS_INTEGRATION_TEST_SCHED_ENV_H

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "tools/kubesim/kubesim.h"
#include "tests/support/itest.h"

#include <check.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SENV_SERVERS 3

struct senv {
    char dsn[1024];
    char dir[256];
    char base_cfg[320];
    char clusters_cfg[320];
    struct sim *sim;
    struct itest_server srv[SENV_SERVERS];
};

/* Starts the simulator of scenario (path relative to the source tree) in this process. */
static inline void senv_sim(struct senv *v, const char *scenario)
{
    const char *src = getenv("FEDSCHED_SRC");
    char path[512];
    struct sim_options o;
    struct err e = {0};

    memset(v, 0, sizeof(*v));
    snprintf(v->dir, sizeof(v->dir), "/tmp/fedsched-sched-%d", (int)getpid());
    mkdir(v->dir, 0755);
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", scenario);
    memset(&o, 0, sizeof(o));
    o.scenario_path = path;
    ck_assert_msg(sim_start(&o, &v->sim, &e) == 0, "sim: %s", e.msg);
    itest_create_db(v->dsn, sizeof(v->dsn));
}

/* Writes the config files: base (poller, scheduler and policy knobs: the members of one
 * JSON object, without braces) and the clusters of the simulator, each with extra members
 * (cluster_extra, without braces, may be "") and, for clusters with serving nodes, the
 * serving pool (serving, a JSON object text, or NULL for none). */
static inline void senv_config(struct senv *v, const char *base, const char *cluster_extra,
                               const char *serving)
{
    FILE *f;

    snprintf(v->base_cfg, sizeof(v->base_cfg), "%s/base.json", v->dir);
    snprintf(v->clusters_cfg, sizeof(v->clusters_cfg), "%s/clusters.json", v->dir);
    f = fopen(v->base_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{%s}\n", base);
    fclose(f);
    f = fopen(v->clusters_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"clusters\": [");
    for (size_t i = 0; i < sim_cluster_count(v->sim); i++) {
        const char *name = sim_cluster_name_at(v->sim, i);
        char url[256];
        struct err e = {0};
        struct sim_node_view nodes[256];
        size_t n = sim_cluster_nodes(sim_get_cluster(v->sim, name), nodes, 256);
        bool has_serving = false;

        for (size_t k = 0; k < n && k < 256; k++)
            has_serving |= strcmp(nodes[k].pool, "serving") == 0;
        ck_assert_int_eq(sim_url(v->sim, name, url, sizeof(url), &e), 0);
        fprintf(f,
                "%s{\"name\": \"%s\", \"apiServer\": \"%s\", \"region\": \"sim\", "
                "\"timezone\": \"UTC\", \"allowInsecureHttp\": true%s%s",
                i ? ", " : "", name, url, cluster_extra && *cluster_extra ? ", " : "",
                cluster_extra ? cluster_extra : "");
        if (has_serving && serving)
            fprintf(f, ", \"servingPool\": %s", serving);
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

/* Starts replica i (extra_env may be NULL) and waits until it answers /readyz. */
static inline void senv_serve(struct senv *v, int i, const char *const *extra_env)
{
    const char *args[] = {"--config", v->base_cfg, "--config", v->clusters_cfg, NULL};

    itest_server_start_args(&v->srv[i], v->dsn, extra_env, args, 1);
}

static inline void senv_stop(struct senv *v)
{
    for (int i = 0; i < SENV_SERVERS; i++)
        if (v->srv[i].pid > 0)
            itest_server_stop(&v->srv[i], SIGTERM);
    sim_stop(&v->sim);
}

/* The first server that answers. */
static inline const char *senv_base(struct senv *v)
{
    for (int i = 0; i < SENV_SERVERS; i++)
        if (v->srv[i].pid > 0)
            return v->srv[i].base;
    ck_abort_msg("no server running");
    return NULL;
}

/* Submits a TrainingJob; resources are more members of spec.resources and scheduling more
 * members of spec.scheduling (without braces, may be "" or NULL). Returns the uid (caller
 * frees). */
static inline char *senv_submit_with(const char *base, const char *ns, const char *name,
                                     const char *sku, int gpus, const char *framework,
                                     const char *resources, const char *scheduling)
{
    char path[256];
    char *body = xasprintf(
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":\"%s\","
        "\"labels\":{\"team\":\"%s\"}},\"spec\":{\"framework\":\"%s\",\"resources\":"
        "{\"instanceType\":\"%s\",\"gpuCount\":%d%s%s},\"code\":{\"image\":\"trainer:1\","
        "\"command\":[\"python\",\"train.py\"],\"env\":[{\"name\":\"EPOCHS\",\"value\":\"3\"}]},"
        "\"scheduling\":{%s}}}",
        name, ns, framework ? framework : "pytorch", sku, gpus, resources && *resources ? "," : "",
        resources ? resources : "", scheduling ? scheduling : "");
    json_t *out = NULL;
    long st;
    char *uid;

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
    st = itest_post_json(base, path, body, &out);
    ck_assert_msg(st == 201, "submit %s/%s: %ld", ns, name, st);
    uid = xstrdup(json_string_value(json_object_get(json_object_get(out, "metadata"), "uid")));
    json_decref(out);
    free(body);
    return uid;
}

/* senv_submit_with() without more resources. */
static inline char *senv_submit(const char *base, const char *ns, const char *name, const char *sku,
                                int gpus, const char *framework, const char *scheduling)
{
    return senv_submit_with(base, ns, name, sku, gpus, framework, NULL, scheduling);
}

/* GET the job; NULL when the server does not answer 200 (it may be down in failover
 * tests). Caller json_decref()s. */
static inline json_t *senv_get(const char *base, const char *ns, const char *name)
{
    char path[256];
    json_t *out = NULL;
    long st;

    snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs/%s", ns, name);
    st = itest_get_json(base, path, &out);
    if (st != 200) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static inline const char *senv_phase(json_t *job)
{
    const char *p = json_string_value(json_object_get(json_object_get(job, "status"), "phase"));

    return p ? p : "";
}

/* Waits up to timeout_ms for ns/name to reach phase; returns the job (caller frees). */
static inline json_t *senv_wait_phase(const char *base, const char *ns, const char *name,
                                      const char *phase, int timeout_ms)
{
    int64_t until = clock_mono_ms() + timeout_ms;
    char last[512] = "";

    while (clock_mono_ms() < until) {
        json_t *j = senv_get(base, ns, name);
        json_t *st = json_object_get(j, "status");
        const char *reason = json_string_value(json_object_get(st, "reason"));
        const char *msg = json_string_value(json_object_get(st, "message"));

        if (j && strcmp(senv_phase(j), phase) == 0)
            return j;
        /* The reason and message say why a job ended elsewhere. */
        if (j)
            snprintf(last, sizeof(last), "%s, reason %s: %s", senv_phase(j),
                     reason ? reason : "none", msg ? msg : "");
        json_decref(j);
        usleep(50 * 1000);
    }
    ck_abort_msg("%s/%s did not reach %s in %d ms (last %s)", ns, name, phase, timeout_ms, last);
    return NULL;
}

/* Objects (Jobs, or RayJobs with ray) in any namespace of a simulated cluster that carry
 * label=value (label NULL: all). */
static inline size_t senv_sim_objects(struct senv *v, const char *cluster, bool ray,
                                      const char *label, const char *value)
{
    struct sim_cluster *c = sim_get_cluster(v->sim, cluster);
    struct sim_query q;
    struct sim_reply r;
    json_t *list, *it;
    size_t n = 0, i;

    ck_assert_ptr_nonnull(c);
    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c, "GET", ray ? "/apis/ray.io/v1/rayjobs" : "/apis/batch/v1/jobs", &q, NULL,
                       0, &r);
    ck_assert_int_eq(r.status, 200);
    list = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        const char *have =
            label ? json_string_value(json_object_get(
                        json_object_get(json_object_get(it, "metadata"), "labels"), label))
                  : NULL;

        if (!label || (have && strcmp(have, value) == 0))
            n++;
    }
    json_decref(list);
    return n;
}

/* The number of a job's events of type (for "exactly once" checks), from the database. */
static inline int senv_events(struct senv *v, const char *ns, const char *name, const char *type)
{
    char sql[512], *val;
    int n;

    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM job_events e JOIN jobs j ON j.id = e.job_id"
             " WHERE j.namespace = '%s' AND j.name = '%s' AND e.type = '%s'",
             ns, name, type);
    val = itest_sql(v->dsn, sql);
    n = val ? (int)strtol(val, NULL, 10) : 0;
    free(val);
    return n;
}

/* A sample of the first server's /metrics: the value after "name " (name with its labels,
 * as printed), -1 when there is none. */
static inline long senv_counter(struct senv *v, const char *name)
{
    char url[256], key[256], *page = NULL, *at;
    long n = -1;

    snprintf(url, sizeof(url), "%s/metrics", senv_base(v));
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &page), 200);
    snprintf(key, sizeof(key), "\n%s ", name);
    if ((at = strstr(page, key)))
        n = strtol(at + strlen(key), NULL, 10);
    free(page);
    return n;
}

/* A scalar from the test database as a long (0 when NULL). */
static inline long senv_sql_long(struct senv *v, const char *sql)
{
    char *val = itest_sql(v->dsn, sql);
    long n = val ? strtol(val, NULL, 10) : 0;

    free(val);
    return n;
}

#endif
