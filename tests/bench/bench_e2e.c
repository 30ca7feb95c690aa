/* bench_e2e.c -- the scheduler end to end against the simulator: fedsched CPU per job
 * (submit, place, dispatch, track to Succeeded) over 10,000 jobs, and reclaim latency
 * p50/p99 (from the snapshot that showed the deficit to the delete request, and to GPUs
 * free) while serving demand rises; and, under the default knobs, from serving pods
 * pending in a member cluster to the reclaim's delete request. Targets: under 0.5 ms of
 * fedsched CPU per job; delete issued within one poll interval plus 100 ms of the
 * snapshot; serving pods pending to delete request under 10 s with the default knobs.
 * Env: FEDSCHED_TEST_DSN, FEDSCHED_BIN, FEDSCHED_SRC (set by run-bench.sh);
 * BENCH_MODE=smoke for CI (500 jobs, a shorter reclaim phase). In full mode a missed target
 * exits 1 ("OVER TARGET"); in smoke mode only a broken run does (jobs not finishing, no
 * reclaim). */
#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "tools/kubesim/kubesim.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SUBMITTERS 4

static void die(const char *what)
{
    fprintf(stderr, "bench_e2e: %s\n", what);
    exit(1);
}

/* First value of the first row of sql on dsn as a double (0 when NULL). */
static double sql_num(const char *dsn, const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r = PQexec(pg, sql);
    double v = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "bench_e2e: %s: %s", sql, PQerrorMessage(pg));
        exit(1);
    }
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtod(PQgetvalue(r, 0, 0), NULL);
    PQclear(r);
    PQfinish(pg);
    return v;
}

static void create_db(char *out, size_t size, const char *tag)
{
    const char *base = getenv("FEDSCHED_TEST_DSN");
    char sql[128];

    if (!base)
        die("FEDSCHED_TEST_DSN is not set (run through make bench)");
    snprintf(sql, sizeof(sql), "CREATE DATABASE bench_e2e_%s_%d", tag, (int)getpid());
    sql_num(base, sql);
    snprintf(out, size, "%s dbname=bench_e2e_%s_%d", base, tag, (int)getpid());
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
        getsockname(fd, (struct sockaddr *)&a, &len))
        die("no free port");
    close(fd);
    return ntohs(a.sin_port);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static long http(const char *method, const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    long status = 0;

    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

static size_t collect(char *p, size_t s, size_t n, void *u)
{
    buf_append(u, p, s * n);
    return s * n;
}

/* GET url as JSON; NULL unless 200 and JSON. */
static json_t *get_json(const char *url)
{
    CURL *c = curl_easy_init();
    struct buf b;
    long status = 0;
    json_t *j = NULL;

    buf_init(&b, 0);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
        j = json_loadb(b.data, b.len, 0, NULL);
    buf_free(&b);
    curl_easy_cleanup(c);
    return j;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Writes base.json and clusters.json for the simulator s into dir. */
static void write_configs(struct sim *s, const char *dir, const char *base, const char *serving)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/base.json", dir);
    if (!(f = fopen(path, "w")))
        die("cannot write base.json");
    fprintf(f, "{%s}\n", base);
    fclose(f);
    snprintf(path, sizeof(path), "%s/clusters.json", dir);
    if (!(f = fopen(path, "w")))
        die("cannot write clusters.json");
    fprintf(f, "{\"clusters\": [");
    for (size_t i = 0; i < sim_cluster_count(s); i++) {
        char url[256];
        struct err e = {0};

        sim_url(s, sim_cluster_name_at(s, i), url, sizeof(url), &e);
        fprintf(f,
                "%s{\"name\": \"%s\", \"apiServer\": \"%s\", \"region\": \"sim\", "
                "\"allowInsecureHttp\": true%s%s}",
                i ? ", " : "", sim_cluster_name_at(s, i), url, serving ? ", \"servingPool\": " : "",
                serving ? serving : "");
    }
    fprintf(f, "]}\n");
    fclose(f);
}

struct server {
    pid_t pid;
    int port;
    char base[64];
};

static void serve_start(struct server *srv, const char *dsn, const char *dir)
{
    const char *bin = getenv("FEDSCHED_BIN");
    char url[128];

    if (!bin)
        die("FEDSCHED_BIN is not set");
    srv->port = free_port();
    snprintf(srv->base, sizeof(srv->base), "http://127.0.0.1:%d", srv->port);
    srv->pid = fork();
    if (srv->pid == 0) {
        char listen[64], cfg1[512], cfg2[512], log[512];
        int fd;

        snprintf(log, sizeof(log), "%s/serve.log", dir);
        fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", srv->port);
        snprintf(cfg1, sizeof(cfg1), "%s/base.json", dir);
        snprintf(cfg2, sizeof(cfg2), "%s/clusters.json", dir);
        setenv("FEDSCHED_LISTEN", listen, 1);
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        setenv("FEDSCHED_LOG_LEVEL", "warn", 1);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, "fedsched", "serve", "--config", cfg1, "--config", cfg2, (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof(url), "%s/readyz", srv->base);
    for (int i = 0; i < 300; i++) {
        if (http("GET", url, NULL) == 200)
            return;
        usleep(50 * 1000);
    }
    die("fedsched serve did not become ready");
}

static void serve_stop(struct server *srv)
{
    if (srv->pid > 0) {
        kill(srv->pid, SIGTERM);
        waitpid(srv->pid, NULL, 0);
    }
    srv->pid = 0;
}

/* utime + stime of pid in milliseconds, from /proc. */
static double cpu_ms(pid_t pid)
{
    char path[64], buf[2048], *p;
    FILE *f;
    unsigned long ut = 0, st = 0;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if (!(f = fopen(path, "r")))
        return 0;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command (which may hold spaces) start after the last ')'. */
    p = strrchr(buf, ')');
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

struct submit_arg {
    const char *base;
    int from, to;
    const char *sku_mix; /* "scale" or "peak" */
    atomic_long *failed;
};

static void *submitter(void *arg)
{
    struct submit_arg *a = arg;
    static const char *const skus[] = {"a100-80gb", "h100-80gb", "l4"};
    static const int gpus[3][3] = {{8, 16, 4}, {8, 8, 16}, {1, 2, 4}};
    char url[128];

    snprintf(url, sizeof(url), "%s/v1/namespaces/bench/trainingjobs", a->base);
    for (int i = a->from; i < a->to; i++) {
        char *body;
        bool peak = strcmp(a->sku_mix, "peak") == 0;

        body =
            xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                      "{\"name\":\"e2e-%d\"},\"spec\":{\"resources\":{\"instanceType\":\"%s\","
                      "\"gpuCount\":%d},\"code\":{\"image\":\"trainer:1\",\"command\":[\"python\","
                      "\"train.py\"]},\"scheduling\":{\"preemptible\":%s,\"maxRuntimeSeconds\":600,"
                      "\"checkpointIntervalSeconds\":60}}}",
                      i, peak ? "l4" : skus[i % 3], peak ? 4 : gpus[i % 3][(i / 3) % 3],
                      peak ? "true" : "false");
        if (http("POST", url, body) != 201)
            atomic_fetch_add(a->failed, 1);
        free(body);
    }
    return NULL;
}

static void submit_all(const char *base, int n, const char *mix)
{
    pthread_t t[SUBMITTERS];
    struct submit_arg a[SUBMITTERS];
    atomic_long failed = 0;

    for (int i = 0; i < SUBMITTERS; i++) {
        a[i] =
            (struct submit_arg){base, n * i / SUBMITTERS, n * (i + 1) / SUBMITTERS, mix, &failed};
        pthread_create(&t[i], NULL, submitter, &a[i]);
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(t[i], NULL);
    if (atomic_load(&failed))
        die("some submissions failed");
}

static struct sim *sim_from(const char *scenario)
{
    const char *src = getenv("FEDSCHED_SRC");
    char path[512];
    struct sim_options o;
    struct sim *s = NULL;
    struct err e = {0};

    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", scenario);
    memset(&o, 0, sizeof(o));
    o.scenario_path = path;
    o.threads = 2;
    if (sim_start(&o, &s, &e)) {
        fprintf(stderr, "bench_e2e: sim: %s\n", e.msg);
        exit(1);
    }
    return s;
}

/* Phase 1: CPU per job. Returns whether the target was met. */
static bool bench_cpu(int jobs)
{
    char dsn[1024], dir[128];
    struct sim *s = sim_from("testdata/sim/sched-bench.json");
    struct server srv = {0};
    double cpu0, cpu1, per_job;
    int64_t t0, t1;
    long live;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-bench-e2e-%d", (int)getpid());
    mkdir(dir, 0755);
    create_db(dsn, sizeof(dsn), "cpu");
    /* The collection pass at its default interval (600 s, so none in the run): it lists
     * every Job of fedsched's in each cluster, a cost per pass and not per job. At 10 s, as
     * here until 2026-12-05, it was 15 % of the figure. */
    write_configs(s, dir,
                  "\"poller\": {\"intervalMs\": 1000, \"sampleIntervalS\": 60},"
                  "\"scheduler\": {\"jobAnnotations\":"
                  " {\"sim.fedsched.io/duration-seconds\": \"1800\"}}",
                  NULL);
    serve_start(&srv, dsn, dir);
    sleep(2); /* the first polls and the election */
    cpu0 = cpu_ms(srv.pid);
    t0 = clock_mono_ms();
    submit_all(srv.base, jobs, "scale");
    do {
        usleep(200 * 1000);
        live = (long)sql_num(dsn, "SELECT count(*) FROM jobs WHERE phase NOT IN"
                                  " ('Succeeded', 'Failed', 'Cancelled')");
        if (clock_mono_ms() - t0 > 600000)
            die("jobs did not finish in 10 minutes");
    } while (live > 0);
    t1 = clock_mono_ms();
    cpu1 = cpu_ms(srv.pid);
    if ((long)sql_num(dsn, "SELECT count(*) FROM jobs WHERE phase = 'Succeeded'") != jobs)
        die("not every job succeeded");
    per_job = (cpu1 - cpu0) / jobs;
    printf("bench_e2e: %d jobs submitted, placed, dispatched and tracked to Succeeded in %.1f s"
           " (%.0f jobs/s)\n",
           jobs, (double)(t1 - t0) / 1000, jobs * 1000.0 / (double)(t1 - t0));
    printf("bench_e2e: fedsched CPU %.0f ms in all, %.3f ms per job (target < 0.5 ms) %s\n",
           cpu1 - cpu0, per_job, per_job < 0.5 ? "ok" : "OVER TARGET");
    serve_stop(&srv);
    sim_stop(&s);
    return per_job < 0.5;
}

/* Phase 2: reclaim latency while serving demand rises. Returns whether the target was met. */
static bool bench_reclaim(int jobs, int seconds)
{
    char dsn[1024], dir[128];
    struct sim *s = sim_from("testdata/sim/sched-bench-peak.json");
    struct server srv = {0};
    const int poll_ms = 500;
    double req50, req99, freed50, freed99, n;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-bench-e2e-peak-%d", (int)getpid());
    mkdir(dir, 0755);
    create_db(dsn, sizeof(dsn), "peak");
    write_configs(s, dir,
                  "\"poller\": {\"intervalMs\": 500, \"sampleIntervalS\": 60},"
                  "\"scheduler\": {\"gcIntervalS\": 10, \"jobAnnotations\":"
                  " {\"sim.fedsched.io/duration-seconds\": \"72000\"}},"
                  "\"policy\": {\"reclaim_k\": 2, \"reclaim_settle_s\": 0, \"min_runtime_s\": 0,"
                  " \"reclaim_rate_per_hour\": 360000, \"reclaim_burst\": 1000,"
                  " \"relend_backoff_s\": 2, \"relend_backoff_max_s\": 4, \"min_lease_s\": 0,"
                  " \"grace_period_s\": 1}",
                  "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\":"
                  " [\"serving\"], \"reserveGpus\": 2, \"lendPolicy\": \"window\","
                  " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}");
    serve_start(&srv, dsn, dir);
    sleep(2);
    submit_all(srv.base, jobs, "peak");
    sleep((unsigned)seconds);
    n = sql_num(dsn, "SELECT count(*) FROM reclaims");
    req50 = sql_num(dsn, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
                         " requested_at - snapshot_at) * 1000) FROM reclaims");
    req99 = sql_num(dsn, "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM"
                         " requested_at - snapshot_at) * 1000) FROM reclaims");
    freed50 = sql_num(dsn, "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM"
                           " freed_at - snapshot_at) * 1000) FROM reclaims WHERE freed_at IS NOT"
                           " NULL");
    freed99 = sql_num(dsn, "SELECT percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM"
                           " freed_at - snapshot_at) * 1000) FROM reclaims WHERE freed_at IS NOT"
                           " NULL");
    printf("bench_e2e: %.0f reclaims of %d borrowers; snapshot -> delete request p50 %.0f ms, p99"
           " %.0f ms (target <= poll %d ms + 100 ms) %s\n",
           n, jobs, req50, req99, poll_ms, req99 <= poll_ms + 100 ? "ok" : "OVER TARGET");
    printf("bench_e2e: snapshot -> GPUs free p50 %.0f ms, p99 %.0f ms\n", freed50, freed99);
    if (n < 1)
        die("no reclaim happened");
    serve_stop(&srv);
    sim_stop(&s);
    return req99 <= poll_ms + 100;
}

/* Job tracking from the watch: a member Job's completion to its Succeeded phase in
 * PostgreSQL. Jobs of 2 simulated seconds (timeScale 1) run on one cluster; the bench polls
 * each member Job every 2 ms until its Complete condition shows (a bound on when the
 * event was sent), then takes the Succeeded event's commit time. Prints p50 and max over
 * n jobs against the 100 ms target; returns whether the max met it. */
static bool bench_tracking(int n)
{
    char dsn[1024], dir[128], base[256], url[640];
    struct sim *s = sim_from("testdata/sim/reclaim-latency.json");
    struct server srv = {0};
    struct err e = {0};
    double *lat = xcalloc((size_t)n, sizeof(*lat)), worst = 0;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-bench-e2e-track-%d", (int)getpid());
    mkdir(dir, 0755);
    create_db(dsn, sizeof(dsn), "track");
    write_configs(s, dir,
                  "\"poller\": {\"sampleIntervalS\": 60},"
                  "\"scheduler\": {\"jobAnnotations\":"
                  " {\"sim.fedsched.io/duration-seconds\": \"2\"}}",
                  NULL);
    serve_start(&srv, dsn, dir);
    if (sim_url(s, "serve-a", base, sizeof(base), &e) != 0)
        die(e.msg);
    for (int i = 0; i < n; i++) {
        char body[512], sql[256], name[32];
        json_t *j = NULL;
        const char *obj, *mns;
        double t_done = 0, t_pg = 0;
        int64_t until = clock_mono_ms() + 60000;

        snprintf(name, sizeof(name), "track-%d", i);
        snprintf(url, sizeof(url), "%s/v1/namespaces/bench/trainingjobs", srv.base);
        snprintf(body, sizeof(body),
                 "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                 "{\"name\":\"%s\"},\"spec\":{\"resources\":{\"instanceType\":\"l4\","
                 "\"gpuCount\":1},\"code\":{\"image\":\"trainer:1\",\"command\":[\"train\"]}}}",
                 name);
        if (http("POST", url, body) != 201)
            die("submit refused");
        snprintf(url, sizeof(url), "%s/v1/namespaces/bench/trainingjobs/%s", srv.base, name);
        for (;;) { /* until dispatched: the member object's name */
            json_decref(j);
            j = get_json(url);
            obj = j ? json_string_value(json_object_get(json_object_get(j, "status"), "objectName"))
                    : NULL;
            mns = j ? json_string_value(
                          json_object_get(json_object_get(j, "status"), "memberNamespace"))
                    : NULL;
            if (obj && mns)
                break;
            if (clock_mono_ms() > until)
                die("a tracking job was not dispatched within 60 s");
            usleep(20 * 1000);
        }
        snprintf(url, sizeof(url), "%s/apis/batch/v1/namespaces/%s/jobs/%s", base, mns, obj);
        json_decref(j);
        while (!t_done) {
            json_t *m = get_json(url), *c;
            size_t k;

            json_array_foreach(json_object_get(json_object_get(m, "status"), "conditions"), k, c)
            {
                const char *type = json_string_value(json_object_get(c, "type"));

                if (type && strcmp(type, "Complete") == 0)
                    t_done = sql_num(dsn, "SELECT extract(epoch FROM clock_timestamp()) * 1000");
            }
            json_decref(m);
            if (!t_done && clock_mono_ms() > until)
                die("a tracking job did not complete within 60 s");
            if (!t_done)
                usleep(2 * 1000);
        }
        snprintf(sql, sizeof(sql),
                 "SELECT extract(epoch FROM e.ts) * 1000 FROM job_events e JOIN jobs j ON"
                 " j.id = e.job_id WHERE j.name = '%s' AND e.type = 'Succeeded'",
                 name);
        while (!(t_pg = sql_num(dsn, sql))) {
            if (clock_mono_ms() > until)
                die("a completed job was not Succeeded in PostgreSQL within 60 s");
            usleep(2 * 1000);
        }
        lat[i] = t_pg - t_done;
        worst = lat[i] > worst ? lat[i] : worst;
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("bench_e2e: tracking: member Job complete -> Succeeded in PostgreSQL p50 %.0f ms,"
           " max %.0f ms over %d jobs (target: 100 ms) %s\n",
           lat[n / 2], worst, n, worst <= 100 ? "ok" : "OVER TARGET");
    free(lat);
    serve_stop(&srv);
    sim_stop(&s);
    return worst <= 100;
}

/* Phase 3: serving demand -> reclaim delete request under the default knobs (watches,
 * reclaim_k 1, reclaim_settle_s 5), min_runtime_s aside (0: the borrowers are seconds old).
 * Two 4-GPU borrowers run on a serving pool of 16 L4 GPUs (4 serving replicas, reserve 2);
 * then a serving Job of two 4-GPU pods, which cannot all bind, appears in the member
 * cluster. Measured from its create request (wall clock) to the reclaim's delete request
 * (reclaims.requested_at). One fresh server per trial (a reclaim pauses lending). Returns
 * the trial's ms (below 0: a borrower was reclaimed before there was any demand), or
 * HUGE_VAL when nothing was reclaimed within 60 s. */
static double reclaim_defaults_trial(int trial)
{
    char dsn[1024], dir[128], tag[32], url[512], base[256];
    struct sim *s = sim_from("testdata/sim/reclaim-latency.json");
    struct server srv = {0};
    struct err e = {0};
    double t0, ms = HUGE_VAL;
    int64_t until;

    snprintf(dir, sizeof(dir), "/tmp/fedsched-bench-e2e-defaults-%d-%d", (int)getpid(), trial);
    mkdir(dir, 0755);
    snprintf(tag, sizeof(tag), "defaults%d", trial);
    create_db(dsn, sizeof(dsn), tag);
    write_configs(s, dir,
                  "\"poller\": {\"sampleIntervalS\": 60},"
                  "\"scheduler\": {\"jobAnnotations\":"
                  " {\"sim.fedsched.io/duration-seconds\": \"72000\"}},"
                  "\"policy\": {\"min_runtime_s\": 0}",
                  "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\":"
                  " [\"serving\"], \"reserveGpus\": 2, \"lendPolicy\": \"window\","
                  " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}");
    serve_start(&srv, dsn, dir);
    submit_all(srv.base, 2, "peak");
    until = clock_mono_ms() + 60000;
    while (sql_num(dsn, "SELECT count(*) FROM jobs WHERE phase = 'Running'") < 2) {
        if (clock_mono_ms() > until)
            die("the borrowers did not start within 60 s");
        usleep(100 * 1000);
    }
    sleep(2); /* the serving pool settles with them */
    if (sim_url(s, "serve-a", base, sizeof(base), &e) != 0)
        die(e.msg);
    snprintf(url, sizeof(url), "%s/apis/batch/v1/namespaces/serving/jobs", base);
    t0 = sql_num(dsn, "SELECT extract(epoch FROM clock_timestamp()) * 1000");
    if (http("POST", url,
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":"
             "\"ranker-surge\"},\"spec\":{\"parallelism\":2,\"completions\":2,\"template\":"
             "{\"spec\":{\"restartPolicy\":\"Never\",\"nodeSelector\":{\"fedsched.io/pool\":"
             "\"serving\"},\"containers\":[{\"name\":\"ranker\",\"image\":\"ranker:1\","
             "\"resources\":{\"limits\":{\"nvidia.com/gpu\":\"4\"}}}]}}}}") != 201)
        die("the simulator refused the serving Job");
    until = clock_mono_ms() + 60000;
    while (clock_mono_ms() < until) {
        if (sql_num(dsn, "SELECT count(*) FROM reclaims") > 0) {
            ms = sql_num(dsn, "SELECT min(extract(epoch FROM requested_at) * 1000) FROM "
                              "reclaims") -
                 t0;
            break;
        }
        usleep(20 * 1000);
    }
    serve_stop(&srv);
    sim_stop(&s);
    return ms;
}

static bool bench_reclaim_defaults(int trials)
{
    double worst = 0, sum = 0;

    for (int i = 0; i < trials; i++) {
        double ms = reclaim_defaults_trial(i);

        if (ms == HUGE_VAL)
            die("no reclaim within 60 s of the serving demand (default knobs)");
        if (ms < 5000) /* reclaim_settle_s: the deficit began before the demand */
            die("a borrower was reclaimed within reclaim_settle_s of the serving demand: the"
                " pool looked short before it");
        printf("bench_e2e: default knobs, trial %d: serving pods pending -> reclaim delete request"
               " %.0f ms\n",
               i + 1, ms);
        sum += ms;
        worst = ms > worst ? ms : worst;
    }
    printf("bench_e2e: default knobs (watch, reclaim_k 1, reclaim_settle_s 5): mean %.0f ms, worst"
           " %.0f ms over %d trials (target: under 10 s; 10 s polls, reclaim_k 3 took 60 s and"
           " more) %s\n",
           sum / trials, worst, trials, worst < 10000 ? "ok" : "OVER TARGET");
    return worst < 10000;
}

static int parse_jobs(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*end || v < 1 || v > 1000000)
        die("BENCH_E2E_JOBS must be 1..1000000");
    return (int)v;
}

int main(void)
{
    const char *mode = getenv("BENCH_MODE");
    bool smoke = mode && strcmp(mode, "smoke") == 0, met;

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *jobs = getenv("BENCH_E2E_JOBS"); /* for profiling runs */

    met = bench_cpu(jobs ? parse_jobs(jobs) : smoke ? 500 : 10000);
    /* Both phases run even when the first misses: the report shows every figure. */
    if (!jobs)
        met = bench_reclaim(smoke ? 20 : 60, smoke ? 10 : 20) && met;
    if (!jobs)
        met = bench_reclaim_defaults(smoke ? 1 : 3) && met;
    if (!jobs)
        met = bench_tracking(smoke ? 3 : 10) && met;
    curl_global_cleanup();
    /* A missed target fails a full run (make bench exits non-zero); smoke mode checks that
     * jobs get through and a reclaim happens, which die() enforces in both modes. */
    return !smoke && !met ? 1 : 0;
}
