/* test_metrics.c -- /metrics under attack: 20,000 requests with random methods (bytes of
 * the token charset, `A"B`, bytes >= 0x80) must neither grow the page past 100 KB nor
 * make it unparsable; and with PostgreSQL down, /readyz and 503 bodies must not name the
 * database's host or port. */
#include "tests/support/itest.h"
#include "tests/support/promtext.h"

#include "base/clock.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOD_REQUESTS 20000
#define FLOOD_THREADS  4

/* ---- a minimal HTTP/1.1 client over a raw socket ----------------------------------------- */

struct raw_conn {
    int port;
    int fd;
};

static int raw_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 10};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        close(fd);
        return -1;
    }
    return fd;
}

static void raw_close(struct raw_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Finds header name (case-insensitive) in the head; returns its value or NULL. */
static const char *header_value(const char *head, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
            return p + 2 + n + 1;
    return NULL;
}

/* Sends req (len bytes) on c (connecting first when needed) and reads one response.
 * Returns its status, or 0 when the server closed the connection without one. The
 * connection is closed after a response that says so, or one without Content-Length. */
static int raw_request(struct raw_conn *c, const char *req, size_t len)
{
    char buf[65536];
    size_t got = 0, need;
    const char *end = NULL, *cl;
    int status = 0;
    ssize_t n;

    for (int attempt = 0; attempt < 2; attempt++) {
        if (c->fd < 0 && (c->fd = raw_connect(c->port)) < 0)
            return 0;
        if (write(c->fd, req, len) == (ssize_t)len)
            break;
        raw_close(c); /* the server ended the keep-alive connection: once more, afresh */
    }
    if (c->fd < 0)
        return 0;
    while (!end) {
        n = read(c->fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0) {
            raw_close(c);
            return 0;
        }
        got += (size_t)n;
        buf[got] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (!end && got == sizeof(buf) - 1) {
            raw_close(c);
            return 0;
        }
    }
    if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
        status = 0;
    cl = header_value(buf, "Content-Length");
    if (!cl) { /* read to the end */
        while (read(c->fd, buf, sizeof(buf)) > 0)
            ;
        raw_close(c);
        return status;
    }
    need = (size_t)(end + 4 - buf) + strtoul(cl, NULL, 10);
    while (got < need) {
        n = read(c->fd, buf, sizeof(buf) < need - got ? sizeof(buf) : need - got);
        if (n <= 0) {
            raw_close(c);
            return status;
        }
        got += (size_t)n;
    }
    {
        const char *conn = header_value(buf, "Connection");

        if (conn && strncasecmp(conn + strspn(conn, " "), "close", 5) == 0)
            raw_close(c);
    }
    return status;
}

/* ---- the flood ------------------------------------------------------------------------------ */

/* Token characters (RFC 9110), the only ones a method may have. */
static const char tchar[] = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            "abcdefghijklmnopqrstuvwxyz";
static const char *const paths[] = {"/healthz", "/nope", "/v1/namespaces/m/trainingjobs",
                                    "/v1/clusters/x", "/metrics"};

struct flood {
    int port;
    unsigned seed;
    int n;
    int answered, closed;
};

static void *flood_thread(void *arg)
{
    struct flood *f = arg;
    struct raw_conn c = {.port = f->port, .fd = -1};
    char method[80], req[256];

    for (int i = 0; i < f->n; i++) {
        size_t len = 1 + (size_t)rand_r(&f->seed) % 40;
        int kind = rand_r(&f->seed) % 10, st, n;

        for (size_t k = 0; k < len; k++)
            method[k] = tchar[(size_t)rand_r(&f->seed) % (sizeof(tchar) - 1)];
        method[len] = '\0';
        if (kind == 0) /* a double quote: not a token character, yet it once became a label */
            snprintf(method, sizeof(method), "A\"B%d", i % 7);
        else if (kind == 1) /* bytes >= 0x80, some cut mid-character */
            snprintf(method, sizeof(method), "G\xc3%c\xff\xe6\x97", tchar[i % 60]);
        else if (kind == 2) /* a known method in the wrong case */
            snprintf(method, sizeof(method), "%s", i % 2 ? "get" : "Post");
        n = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                     method, paths[(size_t)i % (sizeof(paths) / sizeof(paths[0]))]);
        st = raw_request(&c, req, (size_t)n);
        if (st)
            f->answered++;
        else
            f->closed++;
    }
    raw_close(&c);
    return NULL;
}

static void check_page(const char *page, size_t len)
{
    char err[512];
    struct promtext_stats st = {0};

    ck_assert_msg(promtext_check(page, len, &st, err, sizeof(err)) == 0, "/metrics invalid: %s",
                  err);
    ck_assert_uint_gt(st.families, 5);
    ck_assert_msg(promtext_promtool(page, len, err, sizeof(err)) == 0 && err[0] == '\0',
                  "promtool check metrics: %s", err);
}

static char *get_metrics(const struct itest_server *srv)
{
    char url[128], *page = NULL;

    snprintf(url, sizeof(url), "%s/metrics", srv->base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &page), 200);
    ck_assert_ptr_nonnull(page);
    return page;
}

static char dir[256], base_cfg[300], clusters_cfg[300];
static const char *const serve_args[] = {"--config", base_cfg, "--config", clusters_cfg, NULL};
static char secrets_env[300];
/* The simulator writes the clusters' token files beside clusters.json. */
static const char *const flood_env[] = {"FEDSCHED_AUTH_MODE=tokens", secrets_env, NULL};

START_TEST(random_methods_keep_metrics_small_and_valid)
{
    char dsn[1024], url[128], *page;
    struct itest_server srv;
    pthread_t th[FLOOD_THREADS];
    struct flood fl[FLOOD_THREADS];
    int answered = 0, closed = 0;
    size_t before;
    int64_t t0;
    pid_t sim;
    FILE *f;

    /* Simulated member clusters, so the page carries the connector's metrics too. */
    snprintf(dir, sizeof(dir), "/tmp/fedsched-metrics-%d", (int)getpid());
    mkdir(dir, 0755);
    sim = itest_sim_start("testdata/sim/three-clusters.json", dir);
    snprintf(base_cfg, sizeof(base_cfg), "%s/base.json", dir);
    snprintf(clusters_cfg, sizeof(clusters_cfg), "%s/clusters.json", dir);
    f = fopen(base_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"poller\": {\"intervalMs\": 300}}", f);
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    snprintf(secrets_env, sizeof(secrets_env), "FEDSCHED_SECRETS_DIR=%s", dir);
    itest_server_start_args(&srv, dsn, flood_env, serve_args, 1);
    /* Until the first snapshot is published (the clusters' first lists: a poll round or two,
     * longer under a sanitizer on a loaded machine). */
    t0 = clock_mono_ms();
    for (;;) {
        page = get_metrics(&srv);
        if (strstr(page, "fedsched_cluster_gpus{cluster=") || clock_mono_ms() - t0 > 30000)
            break;
        free(page);
        usleep(100 * 1000);
    }
    before = strlen(page);
    check_page(page, before);
    ck_assert_ptr_nonnull(strstr(page, "fedsched_cluster_gpus{cluster="));
    free(page);

    signal(SIGPIPE, SIG_IGN);
    t0 = clock_mono_ms();
    for (int i = 0; i < FLOOD_THREADS; i++) {
        fl[i] = (struct flood){
            .port = srv.port, .seed = 1000u + (unsigned)i, .n = FLOOD_REQUESTS / FLOOD_THREADS};
        ck_assert_int_eq(pthread_create(&th[i], NULL, flood_thread, &fl[i]), 0);
    }
    for (int i = 0; i < FLOOD_THREADS; i++) {
        pthread_join(th[i], NULL);
        answered += fl[i].answered;
        closed += fl[i].closed;
    }
    fprintf(stderr, "metrics: %d requests in %lld ms, %d answered, %d closed unanswered\n",
            FLOOD_REQUESTS, (long long)(clock_mono_ms() - t0), answered, closed);
    ck_assert_int_eq(answered + closed, FLOOD_REQUESTS);
    ck_assert_int_gt(answered, FLOOD_REQUESTS / 2); /* the flood really reached the server */

    page = get_metrics(&srv);
    fprintf(stderr, "metrics: /metrics %zu bytes before, %zu after\n", before, strlen(page));
    ck_assert_uint_lt(strlen(page), 100 * 1024);
    check_page(page, strlen(page));
    ck_assert_ptr_nonnull(strstr(page, "method=\"other\""));
    ck_assert_ptr_null(strstr(page, "A\"B"));
    ck_assert_ptr_null(strstr(page, "A\\\"B"));
    ck_assert_ptr_null(strstr(page, "method=\"get\""));
    free(page);

    snprintf(url, sizeof(url), "%s/healthz", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200);
    ck_assert_int_eq(waitpid(srv.pid, NULL, WNOHANG), 0); /* the same process */
    ck_assert(WIFEXITED(itest_server_stop(&srv, SIGTERM)));
    kill(sim, SIGTERM);
    waitpid(sim, NULL, 0);
}
END_TEST

/* ---- nothing about the database in bodies --------------------------------------------------- */

static void assert_names_no_host(const char *what, const char *body)
{
    const char *port = getenv("FEDSCHED_TEST_PGPORT");

    ck_assert_ptr_nonnull(body);
    ck_assert_msg(!strstr(body, "127.0.0.1"), "%s names the host: %s", what, body);
    ck_assert_msg(!strstr(body, "host="), "%s names the host: %s", what, body);
    ck_assert_msg(!strstr(body, "localhost"), "%s names the host: %s", what, body);
    ck_assert_msg(port && !strstr(body, port), "%s names the port %s: %s", what, port, body);
}

static int log_contains(const char *path, const char *needle)
{
    char line[4096];
    FILE *f = fopen(path, "r");
    int found = 0;

    if (!f)
        return 0;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* Brings the runner's PostgreSQL back when a failed outage test left it down (a failed
 * assertion ends the test before its own restart). Runs in the parent, outside tests. */
static void pg_ensure_up(void)
{
    const char *src = getenv("FEDSCHED_SRC"), *pgdir = getenv("FEDSCHED_TEST_PGDIR"),
               *port = getenv("FEDSCHED_TEST_PGPORT"), *dsn = getenv("FEDSCHED_TEST_DSN");
    char line[1024];

    if (!src || !pgdir || !port || !dsn || PQping(dsn) == PQPING_OK)
        return;
    snprintf(line, sizeof(line), "%s/tests/pg.sh start %s %s >/dev/null 2>&1", src, pgdir, port);
    if (system(line) != 0)
        fprintf(stderr, "metrics: could not restart PostgreSQL\n");
}

/* Starts a server, kills PostgreSQL, runs check on the server, then restarts PostgreSQL
 * (the other tests of the run share it) and stops the server. */
static void with_database_down(void (*check)(const struct itest_server *srv))
{
    char dsn[1024], url[128];
    struct itest_server srv;
    long st = 0;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
    itest_pg("kill");
    check(&srv);
    itest_pg("start");
    snprintf(url, sizeof(url), "%s/readyz", srv.base);
    for (int i = 0; i < 100 && st != 200; i++)
        if ((st = itest_http("GET", url, NULL, NULL, NULL)) != 200)
            usleep(100 * 1000);
    ck_assert_int_eq(st, 200);
    ck_assert(WIFEXITED(itest_server_stop(&srv, SIGTERM)));
}

static void readyz_check(const struct itest_server *srv)
{
    char url[128], *body = NULL, *page;
    json_t *j;

    snprintf(url, sizeof(url), "%s/readyz", srv->base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &body), 503);
    assert_names_no_host("/readyz", body);
    j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "unavailable");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "checks"), "database")),
                     "unavailable");
    /* And the API's error envelope, as every other 503. */
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "unavailable");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "not ready: the database is unavailable");
    json_decref(j);
    free(body);
    /* The detail is not lost: it is in the log. */
    ck_assert_msg(log_contains(srv->log, "readyz=unavailable"), "no log line in %s", srv->log);
    /* The scrape still answers, valid, saying the store is down. */
    page = get_metrics(srv);
    check_page(page, strlen(page));
    ck_assert_ptr_nonnull(strstr(page, "fedsched_store_up 0\n"));
    free(page);
}

START_TEST(readyz_names_no_host)
{
    with_database_down(readyz_check);
}
END_TEST

static void post_check(const struct itest_server *srv)
{
    char url[160], *out = NULL, *job = itest_job_body("outage", 8, "1");
    static const char *const headers[] = {"Content-Type: application/json", NULL};

    snprintf(url, sizeof(url), "%s/v1/namespaces/m/trainingjobs", srv->base);
    ck_assert_int_eq(itest_http("POST", url, headers, job, &out), 503);
    assert_names_no_host("the POST's 503", out);
    free(out);
    out = NULL;
    snprintf(url, sizeof(url), "%s/v1/namespaces/m/trainingjobs/outage", srv->base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &out), 503);
    assert_names_no_host("the GET's 503", out);
    free(out);
    free(job);
}

START_TEST(error_503_names_no_host)
{
    with_database_down(post_check);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *flood = tcase_create("flood"), *ready = tcase_create("readyz"),
          *post = tcase_create("post");
    SRunner *r;
    int failed;

    tcase_set_timeout(flood, 240);
    tcase_add_test(flood, random_methods_keep_metrics_small_and_valid);
    /* One outage per test case, each followed (in the parent) by a check that the
     * database is back, so one failure does not fail the next test for the wrong reason. */
    tcase_add_unchecked_fixture(ready, NULL, pg_ensure_up);
    tcase_add_test(ready, readyz_names_no_host);
    tcase_add_unchecked_fixture(post, NULL, pg_ensure_up);
    tcase_add_test(post, error_503_names_no_host);
    suite_add_tcase(s, flood);
    suite_add_tcase(s, ready);
    suite_add_tcase(s, post);
    r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
