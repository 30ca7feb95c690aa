/* bench_submit.c -- durable submissions per second through the API, beside pgbench
 * running the same INSERT (job row + first event, one transaction, synchronous_commit
 * on) with the same number of clients on the same database, in the same run.
 * The server runs with as many database connections as there are clients and the shipped
 * HTTP threads.
 * Target: at least 0.8x pgbench's single-row INSERT rate. In full mode a missed target exits
 * 1 ("OVER TARGET"); in smoke mode only failed submissions do.
 * Beside both, Slurm's REST front: the same clients submitting batch jobs of the same size to
 * slurmrestd (POST /slurm/v0.0.38/job/submit over its unix socket) in front of a private
 * slurmctld (tests/bench/slurm.sh), a round of it after each round of ours; no target.
 * Then what a synchronous standby costs: the API's rate against a primary with a streaming
 * standby (tests/pg-pair.sh on this machine), rounds alternating synchronous_standby_names
 * '' (asynchronous) and '*' (each COMMIT waits for the standby), printed side by side; no
 * target. BENCH_SUBMIT_STANDBY=0 skips it.
 * Env: FEDSCHED_TEST_DSN, FEDSCHED_BIN, FEDSCHED_SRC (set by run-bench.sh); BENCH_MODE=smoke
 * for CI. */
#include "base/clock.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <arpa/inet.h>
#include <glob.h>
#include <libpq-fe.h>
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

#define TARGET_RATIO 0.8 /* of pgbench's single-row INSERT rate */

static const char *base_url;
static const char *slurm_sock; /* when set, clients submit to slurmrestd there */
static int round_no;
static atomic_int stop_flag;
static atomic_long created, failed, slurm_ok, slurm_failed;

/* A ~1 KB TrainingJob: the body size the issue asks for. */
static char *job_body(int client, long seq)
{
    return xasprintf(
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"bench-%d-%d-%ld\",\"labels\":{\"pipeline\":\"deepeta\",\"team\":\"maps\",\"stage\":"
        "\"nightly\"}},\"spec\":{\"framework\":\"ray\",\"resources\":{\"instanceType\":"
        "\"a100-80gb\",\"gpuCount\":64,\"memoryGb\":512,\"gpusPerWorker\":8,"
        "\"alternativeInstanceTypes\":[\"h100-80gb\"]},\"code\":{\"image\":"
        "\"michelangelo/deepeta-trainer:3.2.0\",\"command\":[\"python\",\"train.py\","
        "\"--epochs\",\"40\",\"--batch-size\",\"4096\",\"--lr\",\"0.0003\",\"--warmup\","
        "\"2000\"]},\"data\":{\"paletteFeatureSets\":[\"trip-features-v4\",\"eta-features-v2\","
        "\"weather-features-v1\"],\"hiveTable\":\"trips.training_data_2024\"},\"output\":{"
        "\"modelRegistry\":\"gallery\",\"experimentId\":\"deepeta-q1-2025\"},\"scheduling\":{"
        "\"priority\":100,\"preemptible\":true,\"maxRuntimeSeconds\":14400,"
        "\"checkpointIntervalSeconds\":1800,\"clusterAffinity\":[\"az1-onprem\","
        "\"az2-onprem\",\"us-east-cloud\"]}}}",
        round_no, client, seq);
}

/* The same job as a Slurm batch job: the command line as its script, the TrainingJob's other
 * fields as its comment (about the same 1 KB). */
static char *slurm_body(int client, long seq)
{
    return xasprintf(
        "{\"job\":{\"name\":\"bench-%d-%d-%ld\",\"partition\":\"train\","
        "\"current_working_directory\":\"/tmp\",\"environment\":{\"PATH\":\"/usr/bin:/bin\","
        "\"PIPELINE\":\"deepeta\",\"TEAM\":\"maps\",\"STAGE\":\"nightly\"},\"priority\":100,"
        "\"time_limit\":240,\"comment\":\"framework=ray instanceType=a100-80gb gpuCount=64 "
        "memoryGb=512 gpusPerWorker=8 alternativeInstanceTypes=h100-80gb "
        "image=michelangelo/deepeta-trainer:3.2.0 paletteFeatureSets=trip-features-v4,"
        "eta-features-v2,weather-features-v1 hiveTable=trips.training_data_2024 "
        "modelRegistry=gallery experimentId=deepeta-q1-2025 preemptible=true "
        "checkpointIntervalSeconds=1800 clusterAffinity=az1-onprem,az2-onprem,us-east-cloud\"},"
        "\"script\":\"#!/bin/bash\\nexec python train.py --epochs 40 --batch-size 4096 --lr "
        "0.0003 --warmup 2000\\n\"}",
        round_no, client, seq);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static void *client(void *arg)
{
    int id = (int)(long)arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    char url[256];
    long seq = 0;

    if (slurm_sock) {
        snprintf(url, sizeof(url), "http://slurmrestd/slurm/v0.0.38/job/submit");
        curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, slurm_sock);
    } else {
        snprintf(url, sizeof(url), "%s/v1/namespaces/bench/trainingjobs", base_url);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    while (!atomic_load(&stop_flag)) {
        char *body = slurm_sock ? slurm_body(id, seq++) : job_body(id, seq++);
        long status = 0;

        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        /* slurmrestd answers 200 with the job id (and, as no node ever registers, the
         * informational error 2068 "Required node not available": the job is queued). */
        if (status == (slurm_sock ? 200 : 201))
            atomic_fetch_add(slurm_sock ? &slurm_ok : &created, 1);
        else
            atomic_fetch_add(slurm_sock ? &slurm_failed : &failed, 1);
        free(body);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return NULL;
}

static void run_sql(const char *dsn, const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r = PQexec(pg, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(pg));
        exit(1);
    }
    PQclear(r);
    PQfinish(pg);
}

static char *pg_bin(const char *name)
{
    glob_t g;
    char *out = NULL, pattern[128];

    snprintf(pattern, sizeof(pattern), "/usr/lib/postgresql/*/bin/%s", name);
    if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0)
        out = xstrdup(g.gl_pathv[g.gl_pathc - 1]);
    globfree(&g);
    return out;
}

/* pgbench inserts the same rows as a submission (the job row and its event, one
 * transaction each, same body); or, with single_row, only the job row: the plain
 * single-row insert rate. */
static double pgbench_rate(const char *dsn, int clients, int seconds, int single_row)
{
    char script[] = "/tmp/fedsched-pgbench-XXXXXX";
    int fd = mkstemp(script);
    char *body = job_body(0, 0), *spec, *cmd, *pgbench = pg_bin("pgbench");
    FILE *f, *p;
    char line[512];
    double tps = 0;

    /* The spec part of the body, with single quotes doubled for SQL (there are none). */
    spec = strstr(body, "\"spec\":") + 7;
    spec[strlen(spec) - 1] = '\0';
    f = fdopen(fd, "w");
    if (single_row)
        fprintf(f,
                "INSERT INTO jobs (namespace, name, api_version, labels, spec, priority,"
                " preemptible, sku, gpu_count, gpus_per_worker) VALUES ('pgbench', 'pgs-' ||"
                " :client_id || '-' || md5(random()::text), 'fedsched.io/v1', '{}'::jsonb,"
                " '%s'::jsonb, 100, true, 'a100-80gb', 64, 8);\n",
                spec);
    else
        fprintf(f,
                "WITH ins AS (INSERT INTO jobs (namespace, name, api_version, labels, spec,"
                " idempotency_key, priority, preemptible, sku, gpu_count, gpus_per_worker)"
                " VALUES ('pgbench', 'pgb-' || :client_id || '-' || md5(random()::text),"
                " 'fedsched.io/v1', '{\"pipeline\":\"deepeta\",\"stage\":\"nightly\","
                "\"team\":\"maps\"}'::jsonb, '%s'::jsonb, NULL, 100, true, 'a100-80gb', 64, 8)"
                " ON CONFLICT DO NOTHING RETURNING id),"
                " ev AS (INSERT INTO job_events (job_id, type, reason, message, to_phase)"
                " SELECT id, 'Queued', 'Submitted', 'accepted and queued', 'Queued' FROM ins),"
                " wake AS (SELECT pg_notify('fedsched_jobs', id::text) FROM ins)"
                " SELECT (SELECT count(*) FROM wake) FROM ins;\n",
                spec);
    fclose(f);
    cmd = xasprintf("%s -n -f %s -c %d -j 2 -T %d \"%s\" 2>&1", pgbench, script, clients, seconds,
                    dsn);
    p = popen(cmd, "r");
    while (p && fgets(line, sizeof(line), p))
        if (strncmp(line, "tps = ", 6) == 0)
            tps = strtod(line + 6, NULL);
    if (p)
        pclose(p);
    unlink(script);
    free(cmd);
    free(body);
    free(pgbench);
    return tps;
}

/* A private Slurm controller and slurmrestd under dir (tests/bench/slurm.sh); the path of
 * slurmrestd's socket, or NULL when they did not come up. */
static char *start_slurm(const char *dir)
{
    char *cmd = xasprintf("%s/tests/bench/slurm.sh start %s", getenv("FEDSCHED_SRC"), dir);
    char line[512] = "";
    FILE *p = popen(cmd, "r");
    int rc = -1;

    if (p) {
        if (!fgets(line, sizeof(line), p))
            line[0] = '\0';
        rc = pclose(p);
    }
    free(cmd);
    line[strcspn(line, "\n")] = '\0';
    if (rc != 0 || line[0] != '/') {
        fprintf(stderr, "bench_submit: slurm.sh could not start Slurm in %s\n", dir);
        return NULL;
    }
    return xstrdup(line);
}

static pid_t start_server(const char *dsn, int port, int pool)
{
    char cfg[] = "/tmp/fedsched-bench-cfg-XXXXXX";
    int fd = mkstemp(cfg);
    FILE *f = fdopen(fd, "w");
    pid_t pid;

    /* The API replica alone: the scheduler (a leader-only loop, measured by bench_e2e)
     * would otherwise chew on the tens of thousands of jobs this run queues. As many
     * database connections as clients, as pgbench has; the HTTP threads are the shipped
     * ones (submissions wait for their commit on http.submitThreads, not on them). */
    fprintf(f,
            "{\"listen\":\"127.0.0.1:%d\",\"logLevel\":\"warn\",\"database\":{\"dsn\":\"%s\","
            "\"poolSize\":%d},\"scheduler\":{\"enabled\":false}}",
            port, dsn, pool);
    fclose(f);
    pid = fork();
    if (pid == 0) {
        unsetenv("FEDSCHED_DATABASE_DSN");
        unsetenv("FEDSCHED_LISTEN");
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        char url[128];
        CURL *c = curl_easy_init();
        long st = 0;

        snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_cleanup(c);
        if (st == 200)
            break;
        usleep(50 * 1000);
    }
    unlink(cfg);
    return pid;
}

/* One timed API round: clients submit as fast as they are answered. Returns jobs/s. */
static double api_round(int clients, int seconds)
{
    pthread_t threads[64];
    atomic_long *ok = slurm_sock ? &slurm_ok : &created;
    long before = atomic_load(ok);
    int64_t t0, t1;

    atomic_store(&stop_flag, 0);
    t0 = clock_mono_ns();
    for (int i = 0; i < clients; i++)
        pthread_create(&threads[i], NULL, client, (void *)(long)i);
    sleep((unsigned)seconds);
    atomic_store(&stop_flag, 1);
    for (int i = 0; i < clients; i++)
        pthread_join(threads[i], NULL);
    t1 = clock_mono_ns();
    round_no++;
    return (double)(atomic_load(ok) - before) / ((double)(t1 - t0) / 1e9);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- with a streaming standby ------------------------------------------------------------ */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Runs tests/pg-pair.sh cmd dir args; the first line it prints goes to out (may be NULL).
 * Exits the bench when it fails: a run that cannot measure is broken. */
static void pair(const char *cmd, const char *dir, const char *args, char *out, size_t size)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *line = xasprintf("%s/tests/pg-pair.sh %s %s %s", src ? src : ".", cmd, dir, args);
    FILE *p = popen(line, "r");
    char first[512] = "";

    if (p && !fgets(first, sizeof(first), p))
        first[0] = '\0';
    if (!p || pclose(p) != 0) {
        fprintf(stderr, "bench_submit: %s failed\n", line);
        exit(1);
    }
    first[strcspn(first, "\n")] = '\0';
    if (out)
        snprintf(out, size, "%s", first);
    free(line);
}

/* Turns the primary's synchronous standby on or off and waits until the primary reports
 * the standby so (the setting takes effect at reload, not at ALTER SYSTEM). */
static void set_sync(const char *dsn, int on)
{
    PGconn *pg = PQconnectdb(dsn);
    const char *want = on ? "sync" : "async";

    PQclear(PQexec(pg, on ? "ALTER SYSTEM SET synchronous_standby_names = '*'"
                          : "ALTER SYSTEM SET synchronous_standby_names = ''"));
    PQclear(PQexec(pg, "SELECT pg_reload_conf()"));
    for (int i = 0; i < 100; i++) {
        PGresult *r = PQexec(pg, "SELECT sync_state FROM pg_stat_replication LIMIT 1");
        int done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                   strcmp(PQgetvalue(r, 0, 0), want) == 0;

        PQclear(r);
        if (done) {
            PQfinish(pg);
            return;
        }
        usleep(50 * 1000);
    }
    fprintf(stderr, "bench_submit: the standby did not become %s\n", want);
    exit(1);
}

/* The standby rounds' pair directory and server while they run, for standby_clear(). */
static char standby_dir[64];
static pid_t standby_server;

/* Stops the standby rounds' server and pair and removes the pair's directory. Registered
 * with atexit() too, so a run that exits on an error leaves nothing running. */
static void standby_clear(void)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *line;

    if (standby_server > 0) {
        kill(standby_server, SIGTERM);
        waitpid(standby_server, NULL, 0);
        standby_server = 0;
    }
    if (!standby_dir[0])
        return;
    line = xasprintf("%s/tests/pg-pair.sh stop %s; rm -rf %s", src ? src : ".", standby_dir,
                     standby_dir);
    if (system(line) != 0)
        fprintf(stderr, "bench_submit: could not clear %s\n", standby_dir);
    free(line);
    standby_dir[0] = '\0';
}

/* The API's rate against a primary with a streaming standby, asynchronous and
 * synchronous in each round; the medians go to *async_rate and *sync_rate. */
static void standby_rates(int clients, int seconds, int rounds, double *async_rate,
                          double *sync_rate)
{
    char dir[] = "/tmp/fedsched-bench-pair-XXXXXX", args[64], dsn[512], primary[600], url[64];
    double as[5] = {0}, sy[5] = {0};
    int port = free_port();

    if (!mkdtemp(dir) || chmod(dir, 0755) != 0) {
        perror("bench_submit: mkdtemp");
        exit(1);
    }
    snprintf(standby_dir, sizeof(standby_dir), "%s", dir);
    atexit(standby_clear);
    snprintf(args, sizeof(args), "%d %d async", free_port(), free_port());
    pair("start", dir, args, dsn, sizeof(dsn));
    snprintf(primary, sizeof(primary), "%s target_session_attrs=read-write", dsn);
    standby_server = start_server(dsn, port, clients);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    base_url = url;
    /* Which goes first alternates, so neither always meets the freshly started server. */
    for (int r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
            set_sync(primary, 0);
            as[r] = api_round(clients, seconds);
        }
        set_sync(primary, 1);
        sy[r] = api_round(clients, seconds);
        if (r % 2 == 1) {
            set_sync(primary, 0);
            as[r] = api_round(clients, seconds);
        }
        fprintf(stderr, "submit: standby round %d: async %.0f, sync %.0f\n", r + 1, as[r], sy[r]);
    }
    standby_clear();
    *async_rate = median(as, rounds);
    *sync_rate = median(sy, rounds);
}

/* The API and the two pgbench baselines take turns, round after round, on the same
 * database, so a neighbour's load on this shared machine hits all three alike; each
 * figure is the median of its rounds. */
int main(void)
{
    const char *dsn = getenv("FEDSCHED_TEST_DSN");
    int smoke = getenv("BENCH_MODE") && strcmp(getenv("BENCH_MODE"), "smoke") == 0;
    int clients = smoke ? 8 : 32, seconds = smoke ? 2 : 8, rounds = smoke ? 1 : 3;
    int port = 18000 + (int)(getpid() % 5000);
    int standby = !getenv("BENCH_SUBMIT_STANDBY") || strcmp(getenv("BENCH_SUBMIT_STANDBY"), "0");
    double api[5], pg[5], single[5], slurm[5], api_rate, pg_rate, pg_single, slurm_rate, ratio,
        async_rate = 0, sync_rate = 0;
    char url[64], slurm_dir[] = "/tmp/fedsched-bench-slurm-XXXXXX", *slurm_cmd, *slurm_path;
    pid_t server;

    if (!dsn || !getenv("FEDSCHED_BIN")) {
        fprintf(stderr, "bench_submit: FEDSCHED_TEST_DSN and FEDSCHED_BIN must be set\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!mkdtemp(slurm_dir) || !(slurm_path = start_slurm(slurm_dir)))
        return 1;
    server = start_server(dsn, port, clients);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    base_url = url;
    for (int r = 0; r < rounds; r++) {
        slurm_sock = NULL;
        api[r] = api_round(clients, seconds);
        pg[r] = pgbench_rate(dsn, clients, seconds, 0);
        single[r] = pgbench_rate(dsn, clients, seconds, 1);
        slurm_sock = slurm_path;
        slurm[r] = api_round(clients, seconds);
        fprintf(stderr,
                "submit: round %d: api %.0f, pgbench %.0f, pgbench1 %.0f, slurmrestd %.0f\n", r + 1,
                api[r], pg[r], single[r], slurm[r]);
    }
    slurm_sock = NULL;
    slurm_cmd = xasprintf("%s/tests/bench/slurm.sh stop %s; rm -rf %s", getenv("FEDSCHED_SRC"),
                          slurm_dir, slurm_dir);
    if (system(slurm_cmd) != 0)
        fprintf(stderr, "bench_submit: %s failed\n", slurm_cmd);
    free(slurm_cmd);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    run_sql(dsn, "DELETE FROM jobs WHERE namespace IN ('bench', 'pgbench')");
    if (standby)
        standby_rates(clients, seconds, rounds, &async_rate, &sync_rate);
    api_rate = median(api, rounds);
    pg_rate = median(pg, rounds);
    pg_single = median(single, rounds);
    slurm_rate = median(slurm, rounds);

    printf("submit: clients=%d rounds=%d x %d s body=1KB synchronous_commit=on (medians)\n",
           clients, rounds, seconds);
    printf("submit: api      %10.1f jobs/s  (%ld created, %ld failed)\n", api_rate,
           atomic_load(&created), atomic_load(&failed));
    printf("submit: pgbench  %10.1f tx/s    (job row + event row per transaction)\n", pg_rate);
    printf("submit: pgbench1 %10.1f tx/s    (single-row INSERT of the job row only)\n", pg_single);
    printf("submit: slurmrestd %8.1f jobs/s  (%ld accepted, %ld failed; Slurm 22.05 job/submit, "
           "same clients and job size; slurmctld saves its state asynchronously) api %.2fx\n",
           slurm_rate, atomic_load(&slurm_ok), atomic_load(&slurm_failed),
           slurm_rate > 0 ? api_rate / slurm_rate : 0.0);
    ratio = pg_single > 0 ? api_rate / pg_single : 0.0;
    printf("submit: ratio    %10.2f x pgbench job+event, %.2f x pgbench single-row insert "
           "(target >= %.1f) %s\n",
           pg_rate > 0 ? api_rate / pg_rate : 0.0, ratio, TARGET_RATIO,
           ratio >= TARGET_RATIO ? "ok" : "OVER TARGET");
    if (standby)
        printf("submit: standby  %10.1f jobs/s asynchronous, %.1f jobs/s synchronous (%.2fx):"
               " a streaming standby on this machine, synchronous_standby_names '' vs '*'\n",
               async_rate, sync_rate, async_rate > 0 ? sync_rate / async_rate : 0.0);
    free(slurm_path);
    curl_global_cleanup();
    /* A failed submission fails the bench in both modes; a missed target fails a full run. */
    return atomic_load(&failed) > 0 || atomic_load(&slurm_failed) > 0 ||
                   (!smoke && ratio < TARGET_RATIO)
               ? 1
               : 0;
}
