/* test_durability.c -- what survives what: kill -9 right after a 201, a PostgreSQL
 * restart under a running server, SIGTERM in the middle of a request, and migrations run
 * by two replicas at once or over an edited history. */
#include "tests/support/itest.h"

#include "base/clock.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *uid_of(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "metadata"), "uid"));
}

START_TEST(acknowledged_job_survives_kill_9)
{
    char dsn[1024];
    struct itest_server srv;

    itest_create_db(dsn, sizeof(dsn));
    for (int round = 0; round < 5; round++) {
        char name[32], path[128], *body;
        json_t *created = NULL, *got = NULL;

        itest_server_start(&srv, dsn, NULL, 1);
        snprintf(name, sizeof(name), "kill9-%d", round);
        body = itest_job_body(name, 8, "1");
        ck_assert_int_eq(
            itest_post_json(srv.base, "/v1/namespaces/dur/trainingjobs", body, &created), 201);
        /* No grace at all: the process dies the moment the reply is in. */
        itest_server_stop(&srv, SIGKILL);
        itest_server_start(&srv, dsn, NULL, 1);
        snprintf(path, sizeof(path), "/v1/namespaces/dur/trainingjobs/%s", name);
        ck_assert_int_eq(itest_get_json(srv.base, path, &got), 200);
        ck_assert_str_eq(uid_of(got), uid_of(created));
        itest_server_stop(&srv, SIGKILL);
        json_decref(created);
        json_decref(got);
        free(body);
    }
}
END_TEST

START_TEST(database_restart_gives_503_then_full_service)
{
    char dsn[1024], url[256], *out = NULL, *body;
    struct itest_server srv;
    json_t *r = NULL;
    long st = 0;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
    body = itest_job_body("before-outage", 8, "1");
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/dur/trainingjobs", body, NULL), 201);
    free(body);

    itest_pg("kill");
    snprintf(url, sizeof(url), "%s/readyz", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 503);
    body = itest_job_body("during-outage", 8, "1");
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/dur/trainingjobs", body, &r), 503);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "error"), "code")),
                     "database_unavailable");
    json_decref(r);
    ck_assert_int_eq(itest_get_json(srv.base, "/v1/namespaces/dur/trainingjobs/before-outage", &r),
                     503);
    json_decref(r);
    snprintf(url, sizeof(url), "%s/healthz", srv.base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, NULL), 200); /* alive all along */

    itest_pg("start");
    snprintf(url, sizeof(url), "%s/readyz", srv.base);
    for (int i = 0; i < 100 && st != 200; i++) {
        st = itest_http("GET", url, NULL, NULL, NULL);
        if (st != 200)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(st, 200);
    /* Every pooled connection died with the server; each request must still succeed. */
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(
            itest_get_json(srv.base, "/v1/namespaces/dur/trainingjobs/before-outage", &r), 200);
        json_decref(r);
    }
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/dur/trainingjobs", body, &r), 201);
    json_decref(r);
    free(body);
    ck_assert(WIFEXITED(itest_server_stop(&srv, SIGTERM)));
    (void)out;
}
END_TEST

/* Sends the headers and half the body, SIGTERMs the server, then the rest: the request
 * in flight must complete with 201 and the server must then exit 0. */
START_TEST(sigterm_drains_request_in_flight)
{
    char dsn[1024], head[512], reply[4096];
    struct itest_server srv;
    struct sockaddr_in a = {.sin_family = AF_INET};
    char *body;
    size_t len, half;
    ssize_t n, got = 0;
    int fd, status;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
    body = itest_job_body("drained", 8, "1");
    len = strlen(body);
    half = len / 2;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_port = htons((uint16_t)srv.port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(head, sizeof(head),
             "POST /v1/namespaces/dur/trainingjobs HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
             len);
    ck_assert_int_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    ck_assert_int_eq(write(fd, body, half), (ssize_t)half);
    usleep(200 * 1000);
    kill(srv.pid, SIGTERM);
    usleep(300 * 1000);
    ck_assert_int_eq(write(fd, body + half, len - half), (ssize_t)(len - half));
    while ((n = read(fd, reply + got, sizeof(reply) - 1 - (size_t)got)) > 0)
        got += n;
    reply[got] = '\0';
    close(fd);
    ck_assert_msg(strncmp(reply, "HTTP/1.1 201", 12) == 0, "reply: %s", reply);
    status = itest_server_stop(&srv, 0);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    {
        char *count = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE name = 'drained'");

        ck_assert_str_eq(count, "1");
        free(count);
    }
    free(body);
}
END_TEST

struct watch_call {
    char url[256];
    long status;
    int64_t ms;
};

static void *watch_thread(void *arg)
{
    struct watch_call *w = arg;
    int64_t t0 = clock_mono_ms();

    w->status = itest_http("GET", w->url, NULL, NULL, NULL);
    w->ms = clock_mono_ms() - t0;
    return NULL;
}

/* A long-poll must not hold the drain for its whole timeout. */
START_TEST(sigterm_answers_waiting_watchers)
{
    char dsn[1024], *body;
    struct itest_server srv;
    struct watch_call w = {0};
    pthread_t t;
    int status;

    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
    body = itest_job_body("watched", 8, "1");
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/dur/trainingjobs", body, NULL), 201);
    snprintf(w.url, sizeof(w.url),
             "%s/v1/namespaces/dur/trainingjobs/watched?watch=true&timeoutSeconds=120", srv.base);
    pthread_create(&t, NULL, watch_thread, &w);
    usleep(500 * 1000);
    status = itest_server_stop(&srv, SIGTERM);
    pthread_join(t, NULL);
    ck_assert_int_eq(w.status, 200);
    ck_assert_int_lt(w.ms, 10000);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    free(body);
}
END_TEST

static int run_migrate(const char *dsn, char *log, size_t size)
{
    pid_t pid;
    int status;

    snprintf(log, size, "/tmp/fedsched-migrate-%d-%ld.log", (int)getpid(), random());
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (!freopen(log, "w", stderr))
            _exit(126);
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        execl(getenv("FEDSCHED_BIN"), "fedsched", "migrate", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    return status;
}

START_TEST(concurrent_migrations_apply_once)
{
    char dsn[1024], logs[4][256];
    pid_t kids[4];
    char *count;

    itest_create_db(dsn, sizeof(dsn));
    /* Four replicas at once: the advisory lock serialises them. */
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        ck_assert_int_ge(kids[i], 0);
        if (kids[i] == 0) {
            int st = run_migrate(dsn, logs[i], sizeof(logs[i]));

            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 99);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;

        waitpid(kids[i], &st, 0);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 0);
    }
    count = itest_sql(dsn, "SELECT count(*) FROM schema_migrations WHERE version = 1");
    ck_assert_str_eq(count, "1");
    free(count);
    count = itest_sql(dsn, "SELECT count(*) FROM leader");
    ck_assert_str_eq(count, "1");
    free(count);
}
END_TEST

START_TEST(edited_migration_is_refused)
{
    char dsn[1024], log[256];
    int st;
    FILE *f;
    char text[2048] = "";

    itest_create_db(dsn, sizeof(dsn));
    st = run_migrate(dsn, log, sizeof(log));
    ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    free(itest_sql(dsn, "UPDATE schema_migrations SET checksum = 'deadbeef' WHERE version = 1"));
    st = run_migrate(dsn, log, sizeof(log));
    ck_assert(WIFEXITED(st));
    ck_assert_int_ne(WEXITSTATUS(st), 0);
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
    fclose(f);
    ck_assert_msg(strstr(text, "0001_init was edited"), "log: %s", text);
    /* serve refuses to start over an edited history rather than serving on it. */
    {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (!freopen(log, "w", stderr))
                _exit(126);
            setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
            char listen[32];

            snprintf(listen, sizeof(listen), "127.0.0.1:%d", itest_free_port());
            setenv("FEDSCHED_LISTEN", listen, 1);
            execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", (char *)NULL);
            _exit(127);
        }
        waitpid(pid, &st, 0);
        ck_assert(WIFEXITED(st));
        ck_assert_int_eq(WEXITSTATUS(st), 1);
        f = fopen(log, "r");
        ck_assert_ptr_nonnull(f);
        memset(text, 0, sizeof(text));
        ck_assert_uint_gt(fread(text, 1, sizeof(text) - 1, f), 0);
        fclose(f);
        ck_assert_msg(strstr(text, "migrate_refused"), "log: %s", text);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("durability");
    TCase *tc = tcase_create("durability");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, acknowledged_job_survives_kill_9);
    tcase_add_test(tc, database_restart_gives_503_then_full_service);
    tcase_add_test(tc, sigterm_drains_request_in_flight);
    tcase_add_test(tc, sigterm_answers_waiting_watchers);
    tcase_add_test(tc, concurrent_migrations_apply_once);
    tcase_add_test(tc, edited_migration_is_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
