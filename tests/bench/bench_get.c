/* bench_get.c -- point GETs of one job through fedsched (wrk, 64 keep-alive connections),
 * beside pgbench's prepared point SELECT of the same row (16 clients) and fedsched's own
 * /healthz (same wrk settings), in the same run on the same database. The three take
 * turns, round after round, so a neighbour's load hits them alike; each figure is the
 * median of its rounds. Prints GET/s, the ratio to pgbench and p99 latency.
 * Env: FEDSCHED_TEST_DSN, FEDSCHED_BIN (set by run-bench.sh); BENCH_MODE=smoke for ~1 s
 * runs. Needs wrk and pgbench; exits 1 when a tool is missing or fails, or more than
 * 0.1% of the requests fail. The targets (>= 0.6x pgbench, p99 <= 10 ms) fail a full run
 * when missed ("OVER TARGET", exit 1); in smoke mode (one 1 s round) they are reported only. */
#include "base/mem.h"

#include <curl/curl.h>
#include <glob.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NS            "benchget"
#define NAME          "get-1"
#define WRK_CONNS     64
#define PG_CLIENT     16
#define TARGET_RATIO  0.6
#define TARGET_P99_MS 10.0

struct figure {
    double rate;   /* requests or transactions per second */
    double p99_ms; /* -1 when the tool does not say */
    long requests; /* wrk: requests completed */
    long errors;   /* non-2xx answers and socket errors */
    bool broken;   /* the tool failed or is missing */
};

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static long http(const char *method, const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    long st = 0;

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return st;
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

/* wrk's latency figures carry a unit: "850.00us", "4.21ms", "1.02s". */
static double to_ms(const char *v)
{
    char *end;
    double x = strtod(v, &end);

    if (strncmp(end, "us", 2) == 0)
        return x / 1000.0;
    if (strncmp(end, "ms", 2) == 0)
        return x;
    if (*end == 's')
        return x * 1000.0;
    if (*end == 'm') /* minutes */
        return x * 60000.0;
    return x;
}

static struct figure wrk(const char *url, int seconds)
{
    struct figure f = {0, -1, 0, 0, false};
    char *cmd = xasprintf("wrk -t2 -c%d -d%ds --latency '%s' 2>&1", WRK_CONNS, seconds, url);
    char line[512];
    FILE *p = popen(cmd, "r");
    long a, b, c, d;

    while (p && fgets(line, sizeof(line), p)) {
        const char *s = line + strspn(line, " \t");

        if (strstr(s, " requests in "))
            f.requests = strtol(s, NULL, 10);
        else if (strncmp(s, "Requests/sec:", 13) == 0)
            f.rate = strtod(s + 13, NULL);
        else if (strncmp(s, "99%", 3) == 0)
            f.p99_ms = to_ms(s + 3 + strspn(s + 3, " \t"));
        else if (strncmp(s, "Non-2xx or 3xx responses:", 25) == 0)
            f.errors += strtol(s + 25, NULL, 10);
        else if (sscanf(s, "Socket errors: connect %ld, read %ld, write %ld, timeout %ld", &a, &b,
                        &c, &d) == 4)
            f.errors += a + b + c + d;
    }
    if (!p || pclose(p) != 0 || f.rate <= 0) {
        fprintf(stderr, "bench_get: %s failed (is wrk installed?)\n", cmd);
        f.broken = true;
    }
    free(cmd);
    return f;
}

/* pgbench, prepared protocol, the SELECT a GET of the job needs at least: its row. */
static struct figure pgbench(const char *dsn, int seconds)
{
    struct figure f = {0, -1, 0, 0, false};
    char script[] = "/tmp/fedsched-pgbench-get-XXXXXX";
    int fd = mkstemp(script);
    char *bin = pg_bin("pgbench"), *cmd, line[512];
    FILE *s = fdopen(fd, "w"), *p;

    fprintf(s, "SELECT * FROM jobs WHERE namespace = '" NS "' AND name = '" NAME "';\n");
    fclose(s);
    cmd = xasprintf("'%s' -M prepared -n -f %s -c %d -j 2 -T %d \"%s\" 2>&1", bin ? bin : "pgbench",
                    script, PG_CLIENT, seconds, dsn);
    p = popen(cmd, "r");
    while (p && fgets(line, sizeof(line), p)) {
        if (strstr(line, "error") || strstr(line, "FATAL") || strstr(line, "aborted"))
            fputs(line, stderr);
        if (strncmp(line, "tps = ", 6) == 0)
            f.rate = strtod(line + 6, NULL);
        else if (strncmp(line, "number of failed transactions: ", 31) == 0)
            f.errors += strtol(line + 31, NULL, 10);
    }
    if (!p || pclose(p) != 0 || f.rate <= 0) {
        fprintf(stderr, "bench_get: %s failed\n", cmd);
        f.broken = true;
    }
    unlink(script);
    free(cmd);
    free(bin);
    return f;
}

static pid_t start_server(const char *dsn, int port)
{
    char cfg[] = "/tmp/fedsched-bench-cfg-XXXXXX", url[128];
    int fd = mkstemp(cfg);
    FILE *f = fdopen(fd, "w");
    pid_t pid;

    /* The API replica alone, with its shipped pool and thread settings; only the
     * per-address cap is raised, since all 64 connections come from 127.0.0.1. */
    fprintf(f,
            "{\"listen\":\"127.0.0.1:%d\",\"logLevel\":\"warn\",\"database\":{\"dsn\":\"%s\"},"
            "\"http\":{\"maxConnectionsPerIp\":1024},\"scheduler\":{\"enabled\":false}}",
            port, dsn);
    fclose(f);
    pid = fork();
    if (pid == 0) {
        unsetenv("FEDSCHED_DATABASE_DSN");
        unsetenv("FEDSCHED_LISTEN");
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", "--config", cfg, (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    for (int i = 0; i < 200 && http("GET", url, NULL) != 200; i++)
        usleep(50 * 1000);
    unlink(cfg);
    return pid;
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

int main(void)
{
    const char *dsn = getenv("FEDSCHED_TEST_DSN");
    int smoke = getenv("BENCH_MODE") && strcmp(getenv("BENCH_MODE"), "smoke") == 0;
    int seconds = smoke ? 1 : 10, rounds = smoke ? 1 : 3;
    int port = 23000 + (int)(getpid() % 5000);
    double get_rate[5], get_p99[5], pg_rate[5], hz_rate[5], hz_p99[5];
    double get_r, get_p, pg_r, hz_r, hz_p, ratio;
    long errors = 0, requests = 0;
    bool broken = false, met;
    char base[64], url[256], *body;
    pid_t server;

    if (!dsn || !getenv("FEDSCHED_BIN")) {
        fprintf(stderr, "bench_get: FEDSCHED_TEST_DSN and FEDSCHED_BIN must be set\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    server = start_server(dsn, port);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    body = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                     "{\"name\":\"" NAME "\",\"labels\":{\"team\":\"maps\"}},\"spec\":{"
                     "\"framework\":\"ray\",\"resources\":{\"instanceType\":\"a100-80gb\","
                     "\"gpuCount\":8},\"code\":{\"image\":\"trainer:1\"}}}");
    snprintf(url, sizeof(url), "%s/v1/namespaces/" NS "/trainingjobs", base);
    {
        long st = http("POST", url, body);

        if (st != 201 && st != 200 && st != 409) {
            fprintf(stderr, "bench_get: creating the job answered %ld\n", st);
            kill(server, SIGTERM);
            waitpid(server, NULL, 0);
            return 1;
        }
    }
    free(body);
    for (int r = 0; r < rounds; r++) {
        struct figure g, p, h;

        snprintf(url, sizeof(url), "%s/v1/namespaces/" NS "/trainingjobs/" NAME, base);
        g = wrk(url, seconds);
        p = pgbench(dsn, seconds);
        snprintf(url, sizeof(url), "%s/healthz", base);
        h = wrk(url, seconds);
        get_rate[r] = g.rate, get_p99[r] = g.p99_ms;
        pg_rate[r] = p.rate;
        hz_rate[r] = h.rate, hz_p99[r] = h.p99_ms;
        errors += g.errors + h.errors;
        requests += g.requests + h.requests;
        broken |= g.broken || p.broken || h.broken;
        fprintf(stderr,
                "get: round %d: GET %.0f/s p99 %.2f ms (%ld failed), pgbench %.0f tx/s (%ld "
                "failed), /healthz %.0f/s (%ld failed)\n",
                r + 1, g.rate, g.p99_ms, g.errors, p.rate, p.errors, h.rate, h.errors);
    }
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    get_r = median(get_rate, rounds), get_p = median(get_p99, rounds);
    pg_r = median(pg_rate, rounds);
    hz_r = median(hz_rate, rounds), hz_p = median(hz_p99, rounds);
    ratio = pg_r > 0 ? get_r / pg_r : 0;

    printf("get: rounds=%d x %d s; wrk -t2 -c%d keep-alive; pgbench -M prepared -c%d -j2 "
           "(medians)\n",
           rounds, seconds, WRK_CONNS, PG_CLIENT);
    printf("get: GET job       %10.1f GET/s  p99 %7.2f ms\n", get_r, get_p);
    printf("get: pgbench       %10.1f tx/s   (prepared point SELECT of the same row)\n", pg_r);
    printf("get: /healthz      %10.1f req/s  p99 %7.2f ms\n", hz_r, hz_p);
    met = ratio >= TARGET_RATIO && get_p <= TARGET_P99_MS;
    printf("get: ratio         %10.2f x pgbench (target >= %.1f), p99 %s %.0f ms target: %s\n",
           ratio, TARGET_RATIO, get_p <= TARGET_P99_MS ? "within" : "over", TARGET_P99_MS,
           met ? "met" : "OVER TARGET");
    printf("get: failed       %10ld of %ld requests (non-2xx, socket errors, timeouts)\n", errors,
           requests);
    curl_global_cleanup();
    /* A tool that did not run, or more than 0.1% of requests failing, fails the bench; a
     * few timeouts on a loaded shared machine do not. A missed target fails a full run. */
    return broken || errors * 1000 > requests || (!smoke && !met) ? 1 : 0;
}
