/* test_clusters_api.c -- the cluster registry and capacity end to end: `fedsched-kubesim`
 * serving three simulated clusters, `fedsched serve` polling them. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024], dir[256], base_cfg[300], clusters_cfg[300], secrets_env[300];
static pid_t sim_pid;

static const char *const serve_args[] = {"--config", base_cfg, "--config", clusters_cfg, NULL};
/* The simulator writes its token files beside clusters.json: dir is the secrets directory. */
static const char *const serve_env[] = {secrets_env, NULL};

static void suite_setup(void)
{
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-clusters-%d", (int)getpid());
    mkdir(dir, 0755);
    sim_pid = itest_sim_start("testdata/sim/three-clusters.json", dir);
    snprintf(base_cfg, sizeof(base_cfg), "%s/base.json", dir);
    snprintf(clusters_cfg, sizeof(clusters_cfg), "%s/clusters.json", dir);
    f = fopen(base_cfg, "w");
    fprintf(f, "{\"poller\": {\"intervalMs\": 300, \"sampleIntervalS\": 1, \"registrySyncS\": 1},"
               " \"quotas\": [{\"namespace\": \"capped\", \"sku\": \"a100-80gb\", \"nominal\": 8,"
               " \"borrowingLimit\": 0}]}");
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    snprintf(secrets_env, sizeof(secrets_env), "FEDSCHED_SECRETS_DIR=%s", dir);
    itest_server_start_args(&srv, dsn, serve_env, serve_args, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    kill(sim_pid, SIGTERM);
    waitpid(sim_pid, NULL, 0);
}

static json_t *find_item(json_t *list, const char *name)
{
    size_t i;
    json_t *it;

    json_array_foreach(json_object_get(list, "items"), i,
                       it) if (strcmp(json_string_value(json_object_get(it, "name")), name) ==
                               0) return it;
    return NULL;
}

static const char *health_of(json_t *cluster)
{
    const char *h =
        json_string_value(json_object_get(json_object_get(cluster, "status"), "health"));

    return h ? h : "";
}

/* Polls GET /v1/clusters until every listed cluster is Ready (10 s at most). */
static json_t *wait_ready(int expect)
{
    for (int i = 0; i < 100; i++) {
        json_t *list = NULL;
        size_t k, ready = 0;
        json_t *it;

        ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters", &list), 200);
        json_array_foreach(json_object_get(list, "items"), k, it) ready +=
            strcmp(health_of(it), "Ready") == 0;
        if ((int)ready == expect && (int)json_array_size(json_object_get(list, "items")) == expect)
            return list;
        json_decref(list);
        usleep(100 * 1000);
    }
    ck_abort_msg("clusters did not all become Ready");
    return NULL;
}

START_TEST(config_clusters_become_ready)
{
    json_t *list = wait_ready(3);
    json_t *east = find_item(list, "sim-east");

    ck_assert_ptr_nonnull(east);
    ck_assert_str_eq(json_string_value(json_object_get(east, "source")), "config");
    ck_assert_ptr_nonnull(find_item(list, "sim-west"));
    ck_assert_ptr_nonnull(find_item(list, "sim-onprem"));
    /* The token file is named, the token itself never shown. */
    {
        char *text = json_dumps(list, 0);

        ck_assert_ptr_null(strstr(text, "sim-east-token\""));
        free(text);
    }
    json_decref(list);
}
END_TEST

/* /readyz says 200 only once the replica has read its clusters: asked as fast as it answers
 * from the start, the first 200 is followed by a capacity view that counts all three (not
 * the empty snapshot of a poller that has not been given the registry yet: a report asked
 * then had no forecast, and a dashboard showed no clusters). */
START_TEST(ready_only_once_the_clusters_are_read)
{
    struct itest_server s2;
    char db[1024], url[128];
    json_t *cap = NULL;
    long st = 0;
    int asked = 0;

    itest_create_db(db, sizeof(db));
    itest_server_start_args(&s2, db, serve_env, serve_args, 0);
    snprintf(url, sizeof(url), "%s/readyz", s2.base);
    for (; asked < 20000 && (st = itest_http("GET", url, NULL, NULL, NULL)) != 200; asked++)
        usleep(500);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(itest_get_json(s2.base, "/v1/capacity", &cap), 200);
    ck_assert_msg(json_integer_value(json_object_get(cap, "clustersCounted")) +
                          (json_int_t)json_array_size(json_object_get(cap, "clustersExcluded")) ==
                      3,
                  "ready after %d asks, but capacity shows %lld + %zu clusters", asked,
                  (long long)json_integer_value(json_object_get(cap, "clustersCounted")),
                  json_array_size(json_object_get(cap, "clustersExcluded")));
    json_decref(cap);
    itest_server_stop(&s2, SIGTERM);
}
END_TEST

static const json_t *capacity_row(json_t *cap, const char *sku, const char *pool)
{
    size_t i;
    json_t *row;

    json_array_foreach(json_object_get(cap, "capacity"), i,
                       row) if (strcmp(json_string_value(json_object_get(row, "sku")), sku) == 0 &&
                                strcmp(json_string_value(json_object_get(row, "pool")), pool) ==
                                    0) return row;
    return NULL;
}

START_TEST(capacity_totals_match_the_scenario)
{
    json_t *cap = NULL, *list = wait_ready(3), *row, *fc, *step;
    const json_t *h100, *l4;
    size_t i;

    json_decref(list);
    /* Two hours of sim-west's serving L4 a week ago, one to three hours ahead of now in
     * the week: 14 used, 2 of them borrowed, 1 pending, so a demand of 13. Inserted before
     * the first GET, which reads four weeks back. */
    free(itest_sql(dsn, "INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used,"
                        " free, borrowed, pending_demand, lendable, healthy)"
                        " SELECT g, 'sim-west', 'l4', 'serving', 40, 14, 26, 2, 1, 0, true"
                        " FROM generate_series(now() - interval '7 days' + interval '1 hour',"
                        " now() - interval '7 days' + interval '3 hours', interval '1 minute')"
                        " AS g"));
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity", &cap), 200);
    /* sim-east: 6 H100 nodes x 8 GPUs, 2 of them busy with other pods. */
    h100 = capacity_row(cap, "h100-80gb", "training");
    ck_assert_ptr_nonnull(h100);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "total")), 48);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "used")), 16);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "free")), 32);
    ck_assert_int_eq(json_integer_value(json_object_get(h100, "unavailable")), 0);
    /* sim-east's a100-0 is NotReady and sim-west's a100-40-0 cordoned, 8 GPUs each; the T4
     * nodes are tainted dedicated=batch:NoSchedule. Their GPUs are neither used nor free. */
    {
        static const struct {
            const char *sku;
            int unavailable;
        } want[] = {{"a100-80gb", 8}, {"a100-40gb", 8}, {"t4", 16}};

        for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
            const json_t *a = capacity_row(cap, want[k].sku, "training");

            ck_assert_msg(a != NULL, "no %s row", want[k].sku);
            ck_assert_int_eq(json_integer_value(json_object_get(a, "unavailable")),
                             want[k].unavailable);
            ck_assert_int_eq(json_integer_value(json_object_get(a, "total")),
                             json_integer_value(json_object_get(a, "used")) +
                                 json_integer_value(json_object_get(a, "free")) +
                                 want[k].unavailable);
        }
    }
    /* sim-west's serving pool: 10 L4 nodes x 4 GPUs with a reserve of 1. */
    l4 = capacity_row(cap, "l4", "serving");
    ck_assert_ptr_nonnull(l4);
    ck_assert_int_eq(json_integer_value(json_object_get(l4, "total")), 40);
    ck_assert_int_eq(json_integer_value(json_object_get(l4, "reserve")), 1);
    /* The serving-demand forecast: 96 quarter hours ahead; two hours from now (an hour
     * either side to spare for a DST change in the week) it is the demand of a week ago. */
    fc = NULL;
    json_array_foreach(json_object_get(cap, "forecast"), i, row)
    {
        if (strcmp(json_string_value(json_object_get(row, "cluster")), "sim-west") == 0 &&
            strcmp(json_string_value(json_object_get(row, "sku")), "l4") == 0)
            fc = row;
    }
    ck_assert_msg(fc != NULL, "no forecast for sim-west l4");
    ck_assert_int_eq(json_array_size(json_object_get(fc, "next24h")), 96);
    step = json_array_get(json_object_get(fc, "next24h"), 7);
    ck_assert_double_eq(json_number_value(json_object_get(step, "p50")), 13);
    ck_assert_double_eq(json_number_value(json_object_get(step, "p95")), 13);
    json_decref(cap);

    /* ?sku= and ?pool= keep one SKU's or pool's rows, of the capacity and of the forecasts
     * (before, the query was ignored and every row came back). */
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?sku=t4", &cap), 200);
    ck_assert_int_eq(json_array_size(json_object_get(cap, "capacity")), 1);
    ck_assert_ptr_nonnull(capacity_row(cap, "t4", "training"));
    ck_assert_int_eq(json_array_size(json_object_get(cap, "forecast")), 0);
    json_decref(cap);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?pool=serving", &cap), 200);
    ck_assert_int_eq(json_array_size(json_object_get(cap, "capacity")), 1);
    ck_assert_ptr_nonnull(capacity_row(cap, "l4", "serving"));
    ck_assert_int_eq(json_array_size(json_object_get(cap, "forecast")), 1);
    json_decref(cap);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?sku=l4&pool=training", &cap), 200);
    ck_assert_int_eq(json_array_size(json_object_get(cap, "capacity")), 0);
    json_decref(cap);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?sku=h200", &cap), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cap, "error"), "field")),
                     "sku");
    json_decref(cap);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?pool=inference", &cap), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(cap, "error"), "field")),
                     "pool");
    json_decref(cap);
    /* The CLI's --sku and --pool: the same rows, and the server's refusal. */
    {
        char cmd[512], line[256], out[1024] = "";
        FILE *f;
        int rc;

        snprintf(cmd, sizeof(cmd),
                 "FEDSCHED_URL=%s '%s' capacity --sku a100-40gb --pool training 2>&1; "
                 "echo rc=$?; FEDSCHED_URL=%s '%s' capacity --pool gpu 2>&1; echo rc=$?",
                 srv.base, getenv("FEDSCHED_BIN"), srv.base, getenv("FEDSCHED_BIN"));
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof(line), f))
            strncat(out, line, sizeof(out) - strlen(out) - 1);
        rc = pclose(f);
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(itest_get_json(srv.base, "/v1/capacity?sku=a100-40gb", &cap), 200);
        row = json_array_get(json_object_get(cap, "capacity"), 0);
        snprintf(line, sizeof(line),
                 "\na100-40gb  training  %" JSON_INTEGER_FORMAT " %*s%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(row, "total")), 4, "",
                 json_integer_value(json_object_get(row, "used")));
        json_decref(cap);
        ck_assert_msg(strstr(out, line) && !strstr(out, "a100-80gb") && !strstr(out, "h100") &&
                          strstr(out, "rc=0\n") &&
                          strstr(out, "400 malformed: pool: unknown pool \"gpu\"") &&
                          strstr(out, "rc=3\n"),
                      "%s", out);
    }
}
END_TEST

static json_int_t num(const json_t *o, const char *obj, const char *key)
{
    const json_t *v = json_object_get(obj ? json_object_get(o, obj) : o, key);

    ck_assert_msg(json_is_integer(v), "%s.%s is not an integer", obj ? obj : "", key);
    return json_integer_value(v);
}

/* GET /v1/clusters/{name}/nodes: the GPU nodes the policy fits jobs to, as the simulator
 * serves them (sim-east: 6 H100 nodes of 8 GPUs, 2 of them filled by other pods; 4 A100
 * nodes, one NotReady; each node's allocatable CPU "95450m" and memory "1046208926Ki"). */
START_TEST(nodes_list_what_the_policy_fits_to)
{
    json_t *list = wait_ready(3), *nodes = NULL, *it, *err = NULL;
    json_int_t gpus = 0, used = 0, unschedulable = 0;
    const char *prev = "";
    size_t i;

    json_decref(list);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes", &nodes), 200);
    ck_assert_str_eq(json_string_value(json_object_get(nodes, "kind")), "NodeList");
    ck_assert_str_eq(json_string_value(json_object_get(nodes, "health")), "Ready");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(nodes, "lastSuccessfulPoll")));
    ck_assert_int_eq(json_array_size(json_object_get(nodes, "items")), 10);
    json_array_foreach(json_object_get(nodes, "items"), i, it)
    {
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *sku = json_string_value(json_object_get(it, "sku"));

        ck_assert_msg(strcmp(prev, name) < 0, "%s listed after %s", name, prev);
        prev = name;
        ck_assert_str_eq(json_string_value(json_object_get(it, "pool")), "training");
        ck_assert_int_eq(num(it, "gpus", "allocatable"), 8);
        ck_assert_int_eq(num(it, "gpus", "free"),
                         num(it, "gpus", "allocatable") - num(it, "gpus", "requested"));
        ck_assert_int_eq(num(it, "cpuMillicores", "allocatable"), 95450);
        ck_assert_int_eq(num(it, "memoryMiB", "allocatable"), 1046208926LL / 1024);
        ck_assert_int_eq(num(it, "cpuMillicores", "free"),
                         95450 - num(it, "cpuMillicores", "requested"));
        ck_assert_int_eq(num(it, "gpus", "borrowed"), 0);
        if (strcmp(sku, "h100-80gb") == 0) {
            gpus += num(it, "gpus", "allocatable");
            used += num(it, "gpus", "requested");
        } else {
            ck_assert_str_eq(sku, "a100-80gb");
            unschedulable += !json_is_true(json_object_get(it, "schedulable"));
        }
    }
    ck_assert_int_eq(gpus, 48);
    ck_assert_int_eq(used, 16);
    ck_assert_int_eq(unschedulable, 1);
    json_decref(nodes);
    /* Filters, and what they refuse. */
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?sku=a100-80gb&pool=training", &nodes),
        200);
    ck_assert_int_eq(json_array_size(json_object_get(nodes, "items")), 4);
    json_decref(nodes);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-west/nodes?pool=serving", &nodes),
                     200);
    ck_assert_int_eq(json_array_size(json_object_get(nodes, "items")), 10);
    json_array_foreach(json_object_get(nodes, "items"), i, it)
    {
        ck_assert_str_eq(json_string_value(json_object_get(it, "sku")), "l4");
        ck_assert_int_eq(num(it, "gpus", "allocatable"), 4);
    }
    json_decref(nodes);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?pool=inference", &err),
                     400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "error"), "field")),
                     "pool");
    ck_assert_msg(
        strstr(json_string_value(json_object_get(json_object_get(err, "error"), "message")),
               "\"inference\""),
        "the message names the value");
    json_decref(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?sku=b200", &err), 400);
    json_decref(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?limit=0", &err), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "error"), "field")),
                     "limit");
    json_decref(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?watch=1", &err), 400);
    json_decref(err);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/nowhere/nodes", &err), 404);
    json_decref(err);
}
END_TEST

/* ?limit= pages the nodes by name; the pages together are the whole list, in order, and a
 * token is refused with other filters or for another cluster. */
START_TEST(nodes_page_by_name)
{
    json_t *all = NULL, *page = NULL, *err = NULL, *list = wait_ready(3);
    char path[1024], tok[600] = "", first_tok[600] = "";
    size_t seen = 0, pages = 0;

    json_decref(list);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-east/nodes", &all), 200);
    ck_assert_ptr_null(json_object_get(json_object_get(all, "metadata"), "continue"));
    do {
        const char *next;
        size_t i;
        json_t *it;

        snprintf(path, sizeof(path), "/v1/clusters/sim-east/nodes?limit=4%s%s",
                 tok[0] ? "&continue=" : "", tok);
        ck_assert_int_eq(itest_get_json(srv.base, path, &page), 200);
        json_array_foreach(json_object_get(page, "items"), i, it)
        {
            ck_assert_str_eq(json_string_value(json_object_get(it, "name")),
                             json_string_value(json_object_get(
                                 json_array_get(json_object_get(all, "items"), seen), "name")));
            seen++;
        }
        ck_assert_int_le(json_array_size(json_object_get(page, "items")), 4);
        next = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
        snprintf(tok, sizeof(tok), "%s", next ? next : "");
        if (pages++ == 0)
            snprintf(first_tok, sizeof(first_tok), "%s", tok);
        json_decref(page);
    } while (tok[0] && pages < 10);
    ck_assert_uint_eq(seen, json_array_size(json_object_get(all, "items")));
    ck_assert_uint_eq(pages, 3); /* 4 + 4 + 2 */
    json_decref(all);
    snprintf(path, sizeof(path), "/v1/clusters/sim-east/nodes?limit=4&pool=training&continue=%s",
             first_tok);
    ck_assert_int_eq(itest_get_json(srv.base, path, &err), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "error"), "field")),
                     "continue");
    json_decref(err);
    snprintf(path, sizeof(path), "/v1/clusters/sim-west/nodes?limit=4&continue=%s", first_tok);
    ck_assert_int_eq(itest_get_json(srv.base, path, &err), 400);
    json_decref(err);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/clusters/sim-east/nodes?continue=bm90LWEtdG9rZW4", &err),
        400);
    json_decref(err);
}
END_TEST

START_TEST(cordon_and_uncordon)
{
    char url[256], *out = NULL;
    json_t *r = NULL;

    snprintf(url, sizeof(url), "%s/v1/clusters/sim-onprem/cordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, &out), 200);
    r = json_loads(out, 0, NULL);
    ck_assert(json_is_true(json_object_get(r, "cordoned")));
    json_decref(r);
    free(out);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-onprem", &r), 200);
    ck_assert(json_is_true(json_object_get(r, "cordoned")));
    /* Cordoning does not turn a config-file cluster into an API one. */
    ck_assert_str_eq(json_string_value(json_object_get(r, "source")), "config");
    json_decref(r);
    snprintf(url, sizeof(url), "%s/v1/clusters/sim-onprem/uncordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/sim-onprem", &r), 200);
    ck_assert(json_is_false(json_object_get(r, "cordoned")));
    json_decref(r);
    snprintf(url, sizeof(url), "%s/v1/clusters/nope/cordon", srv.base);
    ck_assert_int_eq(itest_http("POST", url, NULL, NULL, NULL), 404);
}
END_TEST

START_TEST(admin_api_adds_and_removes_clusters)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    char url[256], body[512], *out = NULL, onprem_url[256];
    json_t *r = NULL, *list;

    list = wait_ready(3);
    snprintf(onprem_url, sizeof(onprem_url), "%s",
             json_string_value(json_object_get(
                 json_object_get(find_item(list, "sim-onprem"), "spec"), "apiServer")));
    json_decref(list);
    /* A second name for sim-onprem's API server (trusting the simulator's CA): it is polled
     * and becomes Ready. */
    snprintf(url, sizeof(url), "%s/v1/clusters/extra", srv.base);
    snprintf(body, sizeof(body),
             "{\"apiServer\": \"%s\", \"region\": \"dc2\", \"caFile\": \"%s/kubesim-ca.crt\"}",
             onprem_url, dir);
    ck_assert_int_eq(itest_http("PUT", url, hdr, body, &out), 201);
    free(out);
    ck_assert_int_eq(itest_http("PUT", url, hdr, body, &out), 200);
    free(out);
    list = wait_ready(4);
    ck_assert_str_eq(json_string_value(json_object_get(find_item(list, "extra"), "source")), "api");
    json_decref(list);
    /* Bad input names the field. */
    ck_assert_int_eq(itest_http("PUT", url, hdr, "{\"apiServer\": \"ftp://x\"}", &out), 422);
    r = json_loads(out, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "field")),
                     "apiServer");
    json_decref(r);
    free(out);
    ck_assert_int_eq(
        itest_http("PUT", url, hdr, "{\"name\": \"other\", \"apiServer\": \"http://x\"}", &out),
        422);
    free(out);
    /* Every problem at once, in causes, as for a TrainingJob; the error is the first. */
    ck_assert_int_eq(itest_http("PUT", url, hdr,
                                "{\"apiServer\": \"ftp://x\", \"timezone\": \"Mars/Base\","
                                " \"lostTimeoutSeconds\": 1, \"zone\": \"a\"}",
                                &out),
                     422);
    r = json_loads(out, 0, NULL);
    {
        json_t *err = json_object_get(r, "error"), *causes = json_object_get(err, "causes");
        static const char *const want[] = {"zone", "lostTimeoutSeconds", "apiServer", "timezone"};

        ck_assert_uint_eq(json_array_size(causes), 4);
        for (size_t i = 0; i < 4; i++)
            ck_assert_str_eq(json_string_value(json_object_get(json_array_get(causes, i), "field")),
                             want[i]);
        ck_assert_str_eq(json_string_value(json_object_get(err, "field")), "zone");
        ck_assert_ptr_nonnull(
            strstr(json_string_value(json_object_get(err, "message")), "(and 3 more; see causes)"));
    }
    json_decref(r);
    free(out);
    /* Nothing of it was stored: the cluster is as the last good PUT left it. */
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/extra", &r), 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "spec"), "timezone")),
                     "UTC");
    json_decref(r);
    ck_assert_int_eq(itest_http("PUT", url, NULL, "{}", &out), 415);
    free(out);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(itest_http("DELETE", url, NULL, NULL, NULL), 404);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/extra", &r), 404);
    json_decref(r);
}
END_TEST

static json_t *submit_and_explain(const char *name, const char *sku, int gpus,
                                  const char *scheduling)
{
    char body[1024], path[256];
    json_t *x = NULL;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
             "{\"name\":\"%s\"},\"spec\":{\"resources\":{\"instanceType\":\"%s\","
             "\"gpuCount\":%d},\"code\":{\"image\":\"x:1\"},\"scheduling\":%s}}",
             name, sku, gpus, scheduling);
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/explain/trainingjobs", body, NULL),
                     201);
    snprintf(path, sizeof(path), "/v1/namespaces/explain/trainingjobs/%s/explain", name);
    ck_assert_int_eq(itest_get_json(srv.base, path, &x), 200);
    return x;
}

START_TEST(explain_uses_the_live_snapshot)
{
    json_t *x, *clusters, *it;
    size_t i;
    int saw_east = 0;

    json_decref(wait_ready(3));
    /* 8 H100s fit in sim-east, the only cluster with H100s: either still queued (what-if
     * says placed) or already admitted by the scheduler (its recorded decision). */
    x = submit_and_explain("fits", "h100-80gb", 8, "{}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "placed");
    ck_assert_str_eq(json_string_value(json_object_get(x, "cluster")), "sim-east");
    ck_assert_ptr_nonnull(json_object_get(x, "score"));
    json_decref(x);
    for (int tries = 0; tries < 100; tries++) {
        char *ph;

        ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/fits", &x),
                         200);
        ph = xstrdup(json_string_value(json_object_get(json_object_get(x, "status"), "phase")));
        json_decref(x);
        if (strcmp(ph, "Queued") != 0) {
            free(ph);
            break;
        }
        free(ph);
        usleep(100 * 1000);
    }
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/fits/explain", &x), 200);
    ck_assert_str_ne(json_string_value(json_object_get(x, "phase")), "Queued");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "placed");
    ck_assert_str_eq(json_string_value(json_object_get(x, "cluster")), "sim-east");
    ck_assert_ptr_nonnull(json_object_get(x, "score"));
    json_decref(x);
    /* 128 H100s (16 workers of 8) do not: sim-east says how many workers fit. */
    x = submit_and_explain("too-big", "h100-80gb", 128, "{}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    clusters = json_object_get(x, "clusters");
    ck_assert_int_ge(json_array_size(clusters), 3); /* the others may still list "extra" */
    json_array_foreach(clusters, i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "cluster")), "sim-east") == 0) {
            char *text = json_dumps(it, 0);

            saw_east = 1;
            ck_assert_msg(strstr(text, "needs 16 workers of 8 GPUs"), "%s", text);
            free(text);
        }
    }
    ck_assert(saw_east);
    json_decref(x);
    /* Affinity to a cluster without H100s is named as the reason. */
    x = submit_and_explain("affine", "h100-80gb", 8, "{\"clusterAffinity\":[\"sim-west\"]}");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    {
        char *text = json_dumps(x, 0);

        ck_assert_msg(strstr(text, "affinity"), "%s", text);
        free(text);
    }
    json_decref(x);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/explain/trainingjobs/nope/explain", &x), 404);
    json_decref(x);
}
END_TEST

/* A namespace with a nominal quota of 8 A100s and no borrowing gets one 8-GPU job placed;
 * the next waits, and explain names the quota. */
START_TEST(quota_holds_jobs_back)
{
    char body[1024];
    json_t *x = NULL;
    const char *phase = NULL;

    json_decref(wait_ready(3));
    for (int i = 0; i < 2; i++) {
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                 "{\"name\":\"capped-%d\"},\"spec\":{\"resources\":{\"instanceType\":"
                 "\"a100-80gb\",\"gpuCount\":8},\"code\":{\"image\":\"x:1\"}}}",
                 i);
        ck_assert_int_eq(
            itest_post_json(srv.base, "/v1/namespaces/capped/trainingjobs", body, NULL), 201);
    }
    for (int tries = 0; tries < 100; tries++) {
        ck_assert_int_eq(
            itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-0", &x), 200);
        phase = json_string_value(json_object_get(json_object_get(x, "status"), "phase"));
        if (strcmp(phase, "Queued") != 0)
            break;
        json_decref(x);
        x = NULL;
        usleep(100 * 1000);
    }
    ck_assert_str_ne(phase, "Queued");
    json_decref(x);
    /* Several cycles later the second is still queued, and explain says why. */
    usleep(1500 * 1000);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-1", &x),
                     200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "status"), "phase")),
                     "Queued");
    json_decref(x);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/capped/trainingjobs/capped-1/explain", &x), 200);
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(x, "reason"), "reason")),
                     "quota");
    json_decref(x);
}
END_TEST

START_TEST(samples_and_metrics)
{
    char url[256], *out = NULL, *n = NULL;

    json_decref(wait_ready(3));
    for (int i = 0; i < 50; i++) {
        free(n);
        n = itest_sql(dsn, "SELECT count(DISTINCT ts) FROM capacity_samples WHERE cluster = "
                           "'sim-east' AND sku = 'h100-80gb' AND total = 48");
        if (strtol(n, NULL, 10) >= 2)
            break;
        usleep(200 * 1000);
    }
    ck_assert_int_ge(strtol(n, NULL, 10), 2);
    free(n);
    snprintf(url, sizeof(url), "%s/metrics", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &out), 200);
    ck_assert_ptr_nonnull(strstr(out, "cluster=\"sim-west\""));
    free(out);
}
END_TEST

/* ---- credential files only from the secrets directory ----------------------------------- */

/* A loopback socket that listens and never answers: the apiServer an attacker would name. */
static int listen_socket(int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* The request someone sent to fd within timeout_ms (its head), or NULL when nobody came. */
static char *accept_request(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    char *buf;
    size_t n = 0;
    int c;

    if (poll(&pfd, 1, timeout_ms) != 1)
        return NULL;
    c = accept(fd, NULL, NULL);
    ck_assert_int_ge(c, 0);
    buf = xcalloc(1, 8192);
    while (n < 8191 && !strstr(buf, "\r\n\r\n")) {
        struct pollfd cp = {.fd = c, .events = POLLIN};
        ssize_t got;

        if (poll(&cp, 1, 5000) != 1 || (got = read(c, buf + n, 8191 - n)) <= 0)
            break;
        n += (size_t)got;
    }
    close(c);
    return buf;
}

/* PUT /v1/clusters/name; returns the status and, on an error, its field and message in
 * out_field / out_msg (caller frees; may be NULL). */
static long put_cluster(const char *name, const char *body, char **out_field, char **out_msg)
{
    const char *hdr[] = {"Content-Type: application/json", NULL};
    char url[256], *out = NULL;
    json_t *r, *err;
    long st;

    snprintf(url, sizeof(url), "%s/v1/clusters/%s", srv.base, name);
    st = itest_http("PUT", url, hdr, body, &out);
    r = json_loads(out, 0, NULL);
    ck_assert_msg(r, "reply is not JSON: %s", out);
    err = json_object_get(r, "error");
    if (out_field)
        *out_field = xstrdup(json_string_value(json_object_get(err, "field")));
    if (out_msg)
        *out_msg = xstrdup(json_string_value(json_object_get(err, "message")));
    json_decref(r);
    free(out);
    return st;
}

/* PUT with member=value answers 422 naming member and quoting value, and shows nothing of
 * what any file holds (the environment, the outside secret). */
static void put_refused(int port, const char *member, const char *value, const char *why)
{
    char body[1024], *field = NULL, *msg = NULL;

    snprintf(
        body, sizeof(body),
        "{\"apiServer\": \"http://127.0.0.1:%d\", \"allowInsecureHttp\": true, \"%s\": \"%s\"}",
        port, member, value);
    ck_assert_int_eq(put_cluster("leak", body, &field, &msg), 422);
    ck_assert_msg(field && strcmp(field, member) == 0, "%s %s: field %s", member, value,
                  field ? field : "(none)");
    ck_assert_msg(msg && strstr(msg, value), "message does not quote %s: %s", value, msg);
    ck_assert_msg(strstr(msg, why), "%s: message lacks \"%s\": %s", value, why, msg);
    ck_assert_ptr_null(strstr(msg, "FEDSCHED_"));
    ck_assert_ptr_null(strstr(msg, "PATH="));
    ck_assert_ptr_null(strstr(msg, "dbname"));
    ck_assert_ptr_null(strstr(msg, "OUTSIDE-SECRET"));
    free(field);
    free(msg);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Acceptance 6 of issue 11: an admin could name /proc/self/environ as tokenFile and an
 * apiServer of their choosing, and fedsched sent its environment (the database DSN
 * included) there as a bearer token. */
START_TEST(token_file_outside_secrets_dir_is_refused)
{
    char outside[300], evil_dir[300], evil[340], link[300], rel_up[300], *req;
    int port, fd = listen_socket(&port);
    json_t *r = NULL;

    snprintf(outside, sizeof(outside), "%s-outside.token", dir);
    write_text(outside, "OUTSIDE-SECRET\n");
    snprintf(evil_dir, sizeof(evil_dir), "%s-evil", dir); /* same prefix as dir */
    mkdir(evil_dir, 0755);
    snprintf(evil, sizeof(evil), "%s/x.token", evil_dir);
    write_text(evil, "OUTSIDE-SECRET\n");
    snprintf(link, sizeof(link), "%s/environ.link", dir);
    unlink(link);
    ck_assert_int_eq(symlink("/proc/self/environ", link), 0);
    snprintf(link, sizeof(link), "%s/outside.link", dir);
    unlink(link);
    ck_assert_int_eq(symlink(outside, link), 0);
    snprintf(rel_up, sizeof(rel_up), "../%s", strrchr(outside, '/') + 1);

    put_refused(port, "tokenFile", "/proc/self/environ", "outside the secrets directory");
    put_refused(port, "tokenFile", "../../../../../../proc/self/environ",
                "outside the secrets directory");
    put_refused(port, "tokenFile", "environ.link", "outside the secrets directory");
    put_refused(port, "tokenFile", "outside.link", "outside the secrets directory");
    put_refused(port, "tokenFile", outside, "outside the secrets directory");
    put_refused(port, "tokenFile", rel_up, "outside the secrets directory");
    put_refused(port, "tokenFile", evil, "outside the secrets directory");
    put_refused(port, "caFile", "/proc/self/environ", "outside the secrets directory");
    put_refused(port, "caFile", "environ.link", "outside the secrets directory");
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/leak", &r), 404);
    json_decref(r);
    /* Longer than a poll interval and a registry sync: the fake server hears nothing. */
    req = accept_request(fd, 1500);
    ck_assert_msg(req == NULL, "the fake apiServer received: %s", req);
    close(fd);
    unlink(outside);
    unlink(evil);
    rmdir(evil_dir);
}
END_TEST

START_TEST(token_file_missing_or_not_a_file_is_refused)
{
    char p[300];
    int port, fd = listen_socket(&port);

    put_refused(port, "tokenFile", "missing.token", "does not exist");
    put_refused(port, "caFile", "missing-ca.pem", "does not exist");
    snprintf(p, sizeof(p), "%s/subdir", dir);
    mkdir(p, 0755);
    put_refused(port, "tokenFile", "subdir", "a directory");
    snprintf(p, sizeof(p), "%s/fifo.token", dir);
    unlink(p);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    put_refused(port, "tokenFile", "fifo.token", "a FIFO"); /* answered, not blocked */
    snprintf(p, sizeof(p), "%s/empty.token", dir);
    write_text(p, "");
    put_refused(port, "tokenFile", "empty.token", "is empty");
    snprintf(p, sizeof(p), "%s/two-lines.token", dir);
    write_text(p, "OUTSIDE-SECRET-1\nOUTSIDE-SECRET-2\n");
    put_refused(port, "tokenFile", "two-lines.token", "single line");
    ck_assert_ptr_null(accept_request(fd, 0));
    close(fd);
}
END_TEST

/* A token file inside the secrets directory, named relative to it, is accepted and its
 * token is what the member cluster receives. */
START_TEST(token_file_inside_secrets_dir_is_used)
{
    char p[300], body[512], *req, *text;
    int port, fd = listen_socket(&port);
    json_t *r = NULL;

    snprintf(p, sizeof(p), "%s/api-good.token", dir);
    write_text(p, "api-good-token-value\n");
    snprintf(body, sizeof(body),
             "{\"apiServer\": \"http://127.0.0.1:%d\", \"allowInsecureHttp\": true, \"tokenFile\": "
             "\"api-good.token\"}",
             port);
    ck_assert_int_eq(put_cluster("good", body, NULL, NULL), 201);
    req = accept_request(fd, 5000);
    ck_assert_msg(req, "the member cluster was never called");
    ck_assert_msg(strstr(req, "Authorization: Bearer api-good-token-value\r\n"), "%s", req);
    free(req);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/clusters/good", &r), 200);
    text = json_dumps(r, 0);
    ck_assert_ptr_nonnull(strstr(text, "api-good.token"));
    ck_assert_ptr_null(strstr(text, "api-good-token-value"));
    free(text);
    json_decref(r);
    snprintf(p, sizeof(p), "%s/v1/clusters/good", srv.base);
    ck_assert_int_eq(itest_http("DELETE", p, NULL, NULL, NULL), 200);
    close(fd);
}
END_TEST

/* A cluster stored before the rule (or written into PostgreSQL by other means) is held to
 * it when its token is read: nothing is sent, and the cluster shows why. */
START_TEST(stored_cluster_outside_secrets_dir_sends_nothing)
{
    char sql[512], *req, *text = NULL;
    int port, fd = listen_socket(&port);
    json_t *r = NULL;

    snprintf(sql, sizeof(sql),
             "INSERT INTO clusters (name, config) VALUES ('stored-leak', '{\"name\": "
             "\"stored-leak\", \"apiServer\": \"http://127.0.0.1:%d\", \"tokenFile\": "
             "\"/proc/self/environ\"}')",
             port);
    free(itest_sql(dsn, sql));
    for (int i = 0; i < 60 && !(text && strstr(text, "outside the secrets directory")); i++) {
        free(text);
        text = NULL;
        usleep(100 * 1000);
        if (itest_get_json(srv.base, "/v1/clusters/stored-leak", &r) == 200)
            text = json_dumps(json_object_get(r, "status"), 0);
        json_decref(r);
        r = NULL;
    }
    ck_assert_msg(text && strstr(text, "outside the secrets directory"), "status: %s",
                  text ? text : "(none)");
    ck_assert_ptr_null(strstr(text, "PATH="));
    free(text);
    req = accept_request(fd, 1000);
    ck_assert_msg(req == NULL, "the fake apiServer received: %s", req);
    free(itest_sql(dsn, "DELETE FROM clusters WHERE name = 'stored-leak'"));
    close(fd);
}
END_TEST

/* The config file's clusters go through the same check at start: serve exits, naming the
 * cluster and the field. */
START_TEST(config_file_token_outside_secrets_dir_stops_start)
{
    char cfg[300], log[300], text[4096] = "";
    pid_t pid;
    int status = -1;
    FILE *f;

    snprintf(cfg, sizeof(cfg), "%s/bad-clusters.json", dir);
    write_text(cfg, "{\"clusters\": [{\"name\": \"bad\", \"apiServer\": \"http://127.0.0.1:1\","
                    " \"allowInsecureHttp\": true, \"tokenFile\": \"/proc/self/environ\"}]}");
    snprintf(log, sizeof(log), "%s/bad-serve.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char listen_addr[64];
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(out, 1);
        dup2(out, 2);
        snprintf(listen_addr, sizeof(listen_addr), "127.0.0.1:%d", itest_free_port());
        setenv("FEDSCHED_LISTEN", listen_addr, 1);
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        setenv("FEDSCHED_SECRETS_DIR", dir, 1);
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(50 * 1000);
    if (status == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        ck_abort_msg("fedsched serve started with a token file outside the secrets directory");
    }
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 1);
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    text[fread(text, 1, sizeof(text) - 1, f)] = '\0';
    fclose(f);
    ck_assert_msg(strstr(text, "clusters[0].tokenFile"), "%s", text);
    ck_assert_msg(strstr(text, "outside the secrets directory"), "%s", text);
    ck_assert_ptr_null(strstr(text, "PATH="));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clusters_api");
    TCase *tc = tcase_create("clusters_api");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, config_clusters_become_ready);
    tcase_add_test(tc, capacity_totals_match_the_scenario);
    tcase_add_test(tc, nodes_list_what_the_policy_fits_to);
    tcase_add_test(tc, nodes_page_by_name);
    tcase_add_test(tc, ready_only_once_the_clusters_are_read);
    tcase_add_test(tc, cordon_and_uncordon);
    tcase_add_test(tc, admin_api_adds_and_removes_clusters);
    tcase_add_test(tc, explain_uses_the_live_snapshot);
    tcase_add_test(tc, quota_holds_jobs_back);
    tcase_add_test(tc, samples_and_metrics);
    tcase_add_test(tc, token_file_outside_secrets_dir_is_refused);
    tcase_add_test(tc, token_file_missing_or_not_a_file_is_refused);
    tcase_add_test(tc, token_file_inside_secrets_dir_is_used);
    tcase_add_test(tc, stored_cluster_outside_secrets_dir_sends_nothing);
    tcase_add_test(tc, config_file_token_outside_secrets_dir_stops_start);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
