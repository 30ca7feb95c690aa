/* test_sim_binary.c -- `fedsched-kubesim` as a process: it prints its clusters, writes the
 * member-cluster configs (--clusters-out) that fedsched reads, serves them until SIGTERM,
 * and the poller finds every cluster Ready through those configs; a scenario file's
 * stricter keys (apis, namespaces, priorityClasses, forbidden, cpu, memoryGib) reach the
 * served API; a watch streams over real HTTP. */
#include "base/clock.h"
#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/secrets.h"
#include "cluster/poller.h"
#include "tests/support/defaults.h"
#include "tests/support/k8s_fixture.h"

#include <check.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void binary(char *out, size_t size)
{
    const char *bin = getenv("FEDSCHED_KUBESIM_BIN");
    const char *src = getenv("FEDSCHED_SRC");

    if (bin && *bin)
        snprintf(out, size, "%s", bin);
    else
        snprintf(out, size, "%s/build/fedsched-kubesim", src && *src ? src : ".");
}

START_TEST(serves_until_sigterm_with_usable_configs)
{
    char bin[1024], scenario[1024], dir[] = "/tmp/fedsched-simbin-XXXXXX", out[1200], log[1200];
    struct cluster_config cfgs[3];
    struct poller *p = NULL;
    struct poller_options po;
    struct err e = {0};
    const struct cluster_snapshot *s;
    json_t *root = NULL, *c;
    pid_t pid;
    int status = 0, lines = 0;
    size_t i;
    FILE *f;
    char line[512];

    binary(bin, sizeof(bin));
    k8s_fixture_path("sim/faults.json", scenario, sizeof(scenario));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(out, sizeof(out), "%s/clusters.json", dir);
    snprintf(log, sizeof(log), "%s/sim.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(127);
        execl(bin, bin, "--scenario", scenario, "--clusters-out", out, (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 200 && access(out, R_OK) != 0; t++)
        usleep(25000);
    ck_assert_msg(access(out, R_OK) == 0, "%s wrote no %s", bin, out);
    usleep(100000);
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f))
        lines += strncmp(line, "cluster ", 8) == 0 && strstr(line, "https://127.0.0.1:");
    fclose(f);
    ck_assert_int_eq(lines, 3);

    root = json_load_file(out, 0, NULL);
    ck_assert_int_eq(json_array_size(json_object_get(root, "clusters")), 3);
    json_array_foreach(json_object_get(root, "clusters"), i, c)
    {
        ck_assert_msg(cluster_config_from_json(c, sku_defaults(), &cfgs[i], &e) == 0, "%s", e.msg);
    }
    json_decref(root);
    ck_assert(cfgs[1].serving.enabled); /* beta has serving nodes */
    ck_assert(cfgs[0].token_file[0]);   /* alpha needs a token */
    /* The simulator writes token files beside its clusters file: our secrets directory. */
    ck_assert_int_eq(cluster_secrets_set_dir(dir, &e), 0);
    defaults_poller(&po);
    ck_assert_int_eq(poller_create(cfgs, 3, &po, &p, &e), 0);
    ck_assert_int_eq(poller_poll_once(p, &e), 0);
    s = poller_read_begin(p);
    for (i = 0; i < 3; i++)
        ck_assert_msg(s->snap->clusters[i].health == SNAPSHOT_HEALTH_READY, "%s: %s",
                      s->snap->clusters[i].name, s->status[i].last_error);
    ck_assert_int_eq(s->snap->n_nodes, 5 + 7 + 3);
    poller_read_end(p);
    poller_free(&p);

    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    for (i = 0; i < 3; i++)
        if (cfgs[i].token_file[0])
            unlink(cfgs[i].token_file);
    unlink(out);
    unlink(log);
    rmdir(dir);
}
END_TEST

struct body {
    char text[8192];
    size_t len;
};

static size_t keep(char *p, size_t sz, size_t n, void *arg)
{
    struct body *b = arg;
    size_t k = sz * n;

    if (b->len + k < sizeof(b->text)) {
        memcpy(b->text + b->len, p, k);
        b->len += k;
        b->text[b->len] = '\0';
    }
    return k;
}

/* method on base + path with an optional JSON body; returns the status, the answer in b. */
static long http(const char *method, const char *base, const char *path, const char *json,
                 struct body *b)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    char url[512];
    long code = 0;

    memset(b, 0, sizeof(*b));
    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (json)
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L /* a watch test streams for 3 s */);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
    return code;
}

START_TEST(strict_scenario_keys_reach_the_api)
{
    char bin[1024], scenario[1024], dir[] = "/tmp/fedsched-simbin-XXXXXX", log[1200];
    char line[512], base[256] = "";
    struct body b;
    pid_t pid;
    int status = 0;
    FILE *f;

    binary(bin, sizeof(bin));
    k8s_fixture_path("sim/strict.json", scenario, sizeof(scenario));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log, sizeof(log), "%s/sim.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(127);
        execl(bin, bin, "--scenario", scenario, "--insecure-http", (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 200 && !base[0]; t++) {
        usleep(25000);
        f = fopen(log, "r");
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "cluster strict %255s", base) != 1)
                base[0] = '\0';
        if (f)
            fclose(f);
    }
    ck_assert_msg(base[0], "%s printed no cluster line", bin);
    ck_assert_int_eq(http("GET", base, "/apis", NULL, &b), 200);
    ck_assert_ptr_nonnull(strstr(b.text, "\"kubeflow.org\""));
    ck_assert_ptr_null(strstr(b.text, "\"ray.io\""));
    ck_assert_int_eq(http("GET", base, "/apis/ray.io/v1/rayjobs", NULL, &b), 404);
    ck_assert_int_eq(http("POST", base, "/api/v1/namespaces",
                          "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":"
                          "{\"name\":\"fedsched-default\"}}",
                          &b),
                     403);
    ck_assert_ptr_nonnull(strstr(b.text, "namespaces is forbidden: User"));
    ck_assert_int_eq(http("GET", base, "/api/v1/namespaces/fedsched-jobs", NULL, &b), 404);
    ck_assert_int_eq(http("GET", base, "/api/v1/namespaces/kube-system", NULL, &b), 200);
    ck_assert_int_eq(
        http("GET", base, "/apis/scheduling.k8s.io/v1/priorityclasses/fedsched-borrowed", NULL, &b),
        404);
    ck_assert_int_eq(http("GET", base, "/api/v1/nodes/a100-0", NULL, &b), 200);
    ck_assert_ptr_nonnull(strstr(b.text, "\"allocatable\":{\"cpu\":\"32\""));
    ck_assert_ptr_nonnull(strstr(b.text, "\"memory\":\"256Gi\""));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    unlink(log);
    rmdir(dir);
}
END_TEST

/* A watch over real HTTP from the binary, as curl (or kubectl get -w) reads it: a chunked
 * stream of one WatchEvent per line that ends cleanly at timeoutSeconds, with bookmarks;
 * 410 Expired for a resourceVersion the history no longer holds. */
START_TEST(watch_streams_events_over_http)
{
    char bin[1024], scenario[1024], dir[] = "/tmp/fedsched-simbin-XXXXXX", log[1200];
    char line[512], base[256] = "";
    struct body b;
    pid_t pid;
    int status = 0, added = 0, bookmarks = 0;
    int64_t t0;
    double secs;
    FILE *f;

    binary(bin, sizeof(bin));
    k8s_fixture_path("sim/strict.json", scenario, sizeof(scenario));
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(log, sizeof(log), "%s/sim.log", dir);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stdout))
            _exit(127);
        execl(bin, bin, "--scenario", scenario, "--insecure-http", (char *)NULL);
        _exit(127);
    }
    for (int t = 0; t < 200 && !base[0]; t++) {
        usleep(25000);
        f = fopen(log, "r");
        while (f && fgets(line, sizeof(line), f))
            if (sscanf(line, "cluster strict %255s", base) != 1)
                base[0] = '\0';
        if (f)
            fclose(f);
    }
    ck_assert_msg(base[0], "%s printed no cluster line", bin);
    t0 = clock_mono_ms();
    ck_assert_int_eq(http("GET", base,
                          "/api/v1/nodes?watch=true&fieldSelector=metadata.name%3Da100-0"
                          "&allowWatchBookmarks=true&timeoutSeconds=3",
                          NULL, &b),
                     200);
    secs = (double)(clock_mono_ms() - t0) / 1000;
    ck_assert_msg(secs > 2.5 && secs < 3.9, "timeoutSeconds=3 ended after %.1f s", secs);
    for (char *l = b.text, *nl; *l; l = nl + 1) {
        json_t *ev;
        const char *type;

        nl = strchr(l, '\n');
        ck_assert_msg(nl != NULL, "an event without its newline: %s", l);
        ev = json_loadb(l, (size_t)(nl - l), 0, NULL);
        ck_assert_msg(ev != NULL, "not JSON: %.*s", (int)(nl - l), l);
        type = json_string_value(json_object_get(ev, "type"));
        ck_assert_ptr_nonnull(json_string_value(json_object_get(
            json_object_get(json_object_get(ev, "object"), "metadata"), "resourceVersion")));
        added += strcmp(type, "ADDED") == 0;
        bookmarks += strcmp(type, "BOOKMARK") == 0;
        json_decref(ev);
    }
    ck_assert_int_eq(added, 1); /* the one node the selector names, synthetic */
    ck_assert_int_ge(bookmarks, 1);
    ck_assert_int_eq(http("GET", base, "/api/v1/nodes?watch=1&resourceVersion=1", NULL, &b), 410);
    ck_assert_ptr_nonnull(strstr(b.text, "too old resource version: 1"));
    ck_assert_int_eq(kill(pid, SIGTERM), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    unlink(log);
    rmdir(dir);
}
END_TEST

START_TEST(bad_arguments_exit_2)
{
    char bin[1024], cmd[1400];

    binary(bin, sizeof(bin));
    snprintf(cmd, sizeof(cmd), "%s --port nope --scenario x >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof(cmd), "%s >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    snprintf(cmd, sizeof(cmd), "%s --scenario /nonexistent.json >/dev/null 2>&1", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 1);
    snprintf(cmd, sizeof(cmd), "%s --help | grep -q -- --clusters-out", bin);
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 0);
}
END_TEST

/* The simulator is a tool of its own: the product binary has none of its code and no
 * `sim` command. */
START_TEST(fedsched_does_not_contain_the_simulator)
{
    char cmd[1024], line[256];
    int found = 0, symbols = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "nm '%s' 2>/dev/null", getenv("FEDSCHED_BIN"));
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p)) {
        symbols++;
        if (strstr(line, " sim_") || strstr(line, "kubesim"))
            found++;
    }
    pclose(p);
    ck_assert_int_gt(symbols, 100); /* nm did read a binary with symbols */
    ck_assert_int_eq(found, 0);
    snprintf(cmd, sizeof(cmd), "'%s' sim --help >/dev/null 2>&1", getenv("FEDSCHED_BIN"));
    ck_assert_int_eq(WEXITSTATUS(system(cmd)), 2);
    /* ... while the tool's own symbols are where they belong. */
    snprintf(cmd, sizeof(cmd), "nm '%s' 2>/dev/null | grep -c ' T sim_main$'",
             getenv("FEDSCHED_KUBESIM_BIN"));
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    pclose(p);
    ck_assert_int_eq(strtol(line, NULL, 10), 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_binary");
    TCase *tc = tcase_create("process");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, serves_until_sigterm_with_usable_configs);
    tcase_add_test(tc, strict_scenario_keys_reach_the_api);
    tcase_add_test(tc, watch_streams_events_over_http);
    tcase_add_test(tc, bad_arguments_exit_2);
    tcase_add_test(tc, fedsched_does_not_contain_the_simulator);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
