/* bench_list.c -- the jobs list API with 100,000 jobs in the database: latency of filtered
 * pages (phase, SKU, namespace, label selector, and pages deep into a continue chain)
 * through `fedsched serve`, p50/p95/p99 per query shape. The target is p99 < 50 ms; in
 * full mode the bench exits 1 when a shape misses it. In smoke mode only failed requests
 * fail it (40 requests on a loaded CI machine measure nothing).
 * Env: FEDSCHED_TEST_DSN, FEDSCHED_BIN (run-bench.sh sets them); BENCH_MODE=smoke for a
 * small version (5,000 jobs, fewer requests). */
#include "base/clock.h"
#include "base/mem.h"

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TARGET_P99_MS 50.0

struct sink {
    char *data;
    size_t len;
};

static size_t on_data(char *p, size_t size, size_t n, void *cls)
{
    struct sink *s = cls;

    s->data = xrealloc(s->data, s->len + size * n + 1);
    memcpy(s->data + s->len, p, size * n);
    s->len += size * n;
    s->data[s->len] = '\0';
    return size * n;
}

static void run_sql(const char *dsn, const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r = PQexec(pg, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "bench_list: %s: %s", sql, PQerrorMessage(pg));
        exit(1);
    }
    PQclear(r);
    PQfinish(pg);
}

/* GET base+path with the shared handle; returns the status; *body (may be NULL) gets it. */
static long get(CURL *c, const char *base, const char *path, char **body)
{
    char url[1024];
    struct sink s = {NULL, 0};
    long st = 0;

    snprintf(url, sizeof(url), "%s%s", base, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    if (body)
        *body = s.data ? s.data : xstrdup("");
    else
        free(s.data);
    return st;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double pct(const double *sorted, int n, double p)
{
    int k = (int)(p * n + 0.999999) - 1;

    return sorted[k < 0 ? 0 : k >= n ? n - 1 : k];
}

static pid_t start_server(const char *dsn, int port)
{
    char listen[64], url[128];
    pid_t pid = fork();

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    if (pid == 0) {
        setenv("FEDSCHED_LISTEN", listen, 1);
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        setenv("FEDSCHED_LOG_LEVEL", "warn", 1);
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1); /* this measures listing, not auth */
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    for (int i = 0; i < 300; i++) {
        CURL *c = curl_easy_init();
        long st = 0;
        struct sink s = {NULL, 0};

        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
        if (curl_easy_perform(c) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
        curl_easy_cleanup(c);
        free(s.data);
        if (st == 200)
            return pid;
        usleep(50 * 1000);
    }
    fprintf(stderr, "bench_list: fedsched serve did not become ready\n");
    kill(pid, SIGKILL);
    exit(1);
}

/* A continue token some pages deep into the given listing, for the "deep page" shape. */
static char *deep_token(CURL *c, const char *base, const char *path, int pages)
{
    char *tok = NULL;

    for (int i = 0; i < pages; i++) {
        char p[1024], *body = NULL;
        json_t *root;
        const char *next;

        snprintf(p, sizeof(p), "%s%s%s", path, tok ? "&continue=" : "", tok ? tok : "");
        if (get(c, base, p, &body) != 200) {
            fprintf(stderr, "bench_list: %s failed: %s\n", p, body);
            exit(1);
        }
        root = json_loads(body, 0, NULL);
        next = json_string_value(json_object_get(json_object_get(root, "metadata"), "continue"));
        free(tok);
        tok = next ? xstrdup(next) : NULL;
        json_decref(root);
        free(body);
        if (!tok)
            break;
    }
    return tok;
}

int main(void)
{
    const char *admin = getenv("FEDSCHED_TEST_DSN");
    int smoke = getenv("BENCH_MODE") && strcmp(getenv("BENCH_MODE"), "smoke") == 0;
    int jobs = smoke ? 5000 : 100000, rounds = smoke ? 40 : 300;
    int port = 19000 + (int)(getpid() % 5000);
    char dbname[64], dsn[1200], sql[2048], base[64], *tok;
    const char *shapes[][2] = {
        {"all, first page of 100", "/v1/trainingjobs?limit=100"},
        {"phase=Running", "/v1/trainingjobs?phase=Running&limit=100"},
        {"phase+sku", "/v1/trainingjobs?phase=Queued,Running&sku=h100-80gb&limit=100"},
        {"rare phase+sku", "/v1/trainingjobs?phase=Failed&sku=l4&limit=50"},
        {"namespace+phase", "/v1/namespaces/team-7/trainingjobs?phase=Succeeded&limit=100"},
        {"labelSelector", "/v1/trainingjobs?labelSelector=team%3Dmaps,stage%3Dnightly&limit=100"},
        {"deep page (phase)", NULL},
    };
    const int nshapes = (int)(sizeof(shapes) / sizeof(shapes[0]));
    double *lat = xcalloc((size_t)rounds, sizeof(*lat));
    int worst_fail = 0;
    pid_t server;
    CURL *c;

    if (!admin || !getenv("FEDSCHED_BIN")) {
        fprintf(stderr, "bench_list: FEDSCHED_TEST_DSN and FEDSCHED_BIN must be set\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    snprintf(dbname, sizeof(dbname), "bench_list_%d", (int)getpid());
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", dbname);
    run_sql(admin, sql);
    snprintf(dsn, sizeof(dsn), "%s dbname=%s", admin, dbname);
    server = start_server(dsn, port); /* applies the migrations */
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);

    /* 40 namespaces, 9 phases weighted towards finished jobs, 5 SKUs, labels on all. */
    snprintf(sql, sizeof(sql),
             "INSERT INTO jobs (namespace, name, api_version, labels, spec, sku, gpu_count,"
             " gpus_per_worker, phase, cluster, pool, created_at)"
             " SELECT 'team-' || (g %% 40), 'job-' || g, 'fedsched.io/v1',"
             " jsonb_build_object('team', (ARRAY['maps','eats','rides','ads'])[g %% 4 + 1],"
             "  'stage', (ARRAY['nightly','adhoc','ci'])[g %% 3 + 1], 'run', g::text),"
             " jsonb_build_object('framework', 'pytorch', 'resources', jsonb_build_object("
             "  'instanceType', (ARRAY['a100-80gb','h100-80gb','l4','a10','t4'])[g %% 5 + 1],"
             "  'gpuCount', 8, 'gpusPerWorker', 8), 'code', jsonb_build_object('image',"
             "  'trainer:1', 'command', jsonb_build_array('python', 'train.py')),"
             "  'scheduling', jsonb_build_object('priority', g %% 100, 'preemptible', true)),"
             " (ARRAY['a100-80gb','h100-80gb','l4','a10','t4'])[g %% 5 + 1], 8, 8,"
             " (ARRAY['Succeeded','Succeeded','Succeeded','Succeeded','Failed','Cancelled',"
             "  'Running','Running','Queued','Admitted','Dispatched','Preempting','Lost'])"
             "  [g %% 13 + 1],"
             " (ARRAY['az1','az2','us-east','us-west'])[g %% 4 + 1], 'training',"
             " now() - (%d - g) * interval '1 second'"
             " FROM generate_series(1, %d) g",
             jobs, jobs);
    {
        int64_t t0 = clock_mono_ms();

        run_sql(dsn, sql);
        run_sql(dsn,
                "INSERT INTO job_events (job_id, type, reason, message, to_phase)"
                " SELECT id, 'Queued', 'Submitted', 'accepted and queued', 'Queued' FROM jobs");
        run_sql(dsn, "ANALYZE");
        printf("list: %d jobs seeded in %.1f s\n", jobs, (double)(clock_mono_ms() - t0) / 1000.0);
    }

    c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    tok = deep_token(c, base, "/v1/trainingjobs?phase=Succeeded&limit=100", smoke ? 5 : 200);
    printf("list: %-24s %8s %8s %8s %8s  (target p99 < %.0f ms, %d requests each)\n", "shape",
           "p50 ms", "p95 ms", "p99 ms", "max ms", TARGET_P99_MS, rounds);
    for (int s = 0; s < nshapes; s++) {
        char path[1024];
        int bad = 0;

        if (shapes[s][1])
            snprintf(path, sizeof(path), "%s", shapes[s][1]);
        else
            snprintf(path, sizeof(path), "/v1/trainingjobs?phase=Succeeded&limit=100%s%s",
                     tok ? "&continue=" : "", tok ? tok : "");
        get(c, base, path, NULL); /* warm the connection and the plan */
        for (int i = 0; i < rounds; i++) {
            int64_t t0 = clock_mono_ns();

            if (get(c, base, path, NULL) != 200)
                bad++;
            lat[i] = (double)(clock_mono_ns() - t0) / 1e6;
        }
        qsort(lat, (size_t)rounds, sizeof(*lat), cmp_double);
        printf("list: %-24s %8.2f %8.2f %8.2f %8.2f%s%s\n", shapes[s][0], pct(lat, rounds, 0.50),
               pct(lat, rounds, 0.95), pct(lat, rounds, 0.99), lat[rounds - 1],
               pct(lat, rounds, 0.99) < TARGET_P99_MS ? "" : "  OVER TARGET",
               bad ? "  (errors)" : "");
        if ((!smoke && pct(lat, rounds, 0.99) >= TARGET_P99_MS) || bad)
            worst_fail = 1;
    }
    free(tok);
    curl_easy_cleanup(c);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", dbname);
    run_sql(admin, sql);
    free(lat);
    curl_global_cleanup();
    return worst_fail;
}
