/* test_cli.c -- the client verbs end to end: `fedsched submit --wait` against a real
 * server and PostgreSQL, with the job moved through its phases by SQL (no scheduler runs
 * here), a failing job, a server restart in the middle of a wait, retries of a submit
 * while the server is down, API errors, and the report verb. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct itest_server srv;
static char dsn[1024];

static void suite_setup(void)
{
    itest_create_db(dsn, sizeof(dsn));
    itest_server_start(&srv, dsn, NULL, 1);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (!f)
        return xstrdup("");
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = xmalloc((size_t)n + 1);
    n = (long)fread(data, 1, (size_t)n, f);
    data[n] = '\0';
    fclose(f);
    return data;
}

/* A CLI run in the background: stdout and stderr go to files. */
struct run {
    pid_t pid;
    char out[128];
    char err[128];
};

static void cli_start(struct run *r, const char *url, const char *const *args)
{
    static int seq;
    const char *bin = getenv("FEDSCHED_BIN");
    const char *argv[32];
    int n = 0;

    snprintf(r->out, sizeof(r->out), "/tmp/fedsched-cli-%d-%d.out", (int)getpid(), seq);
    snprintf(r->err, sizeof(r->err), "/tmp/fedsched-cli-%d-%d.err", (int)getpid(), seq++);
    argv[n++] = "fedsched";
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        int o = open(r->out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(r->err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        dup2(o, 1);
        dup2(e, 2);
        setenv("FEDSCHED_URL", url, 1);
        unsetenv("FEDSCHED_NAMESPACE");
        execv(bin, (char *const *)argv);
        _exit(127);
    }
}

/* Waits for the run; returns its exit code; *out and *err (may be NULL) get the text. */
static int cli_finish(struct run *r, char **out, char **err)
{
    int status = 0;

    while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (out)
        *out = slurp(r->out);
    if (err)
        *err = slurp(r->err);
    unlink(r->out);
    unlink(r->err);
    ck_assert_msg(WIFEXITED(status), "fedsched did not exit normally (status %d)", status);
    return WEXITSTATUS(status);
}

static int cli(const char *url, const char *const *args, char **out, char **err)
{
    struct run r = {0};

    cli_start(&r, url, args);
    return cli_finish(&r, out, err);
}

/* Waits (bounded) until the run's stderr contains needle. */
static void await_stderr(const struct run *r, const char *needle)
{
    for (int i = 0; i < 200; i++) {
        char *text = slurp(r->err);
        int found = strstr(text, needle) != NULL;

        free(text);
        if (found)
            return;
        usleep(50 * 1000);
    }
    ck_abort_msg("CLI never printed \"%s\"", needle);
}

static char *job_file(const char *name, int gpus)
{
    char *body = itest_job_body(name, gpus, "1");
    char *path = xasprintf("/tmp/fedsched-cli-job-%d-%s.json", (int)getpid(), name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(body, f);
    fclose(f);
    free(body);
    return path;
}

/* Moves a job to phase `to` the way the scheduler will: the row and its event in one
 * statement, with a new resource version (which wakes watchers). */
static void move(const char *ns, const char *name, const char *to, const char *reason,
                 const char *msg)
{
    char *sql = xasprintf(
        "WITH j AS (SELECT id, phase FROM jobs WHERE namespace = '%s' AND name = '%s'),"
        " u AS (UPDATE jobs SET phase = '%s', reason = '%s', message = '%s', cluster = 'az1',"
        " pool = 'training', updated_at = now(), resource_version = "
        "nextval('resource_version_seq'), finished_at = CASE WHEN '%s' IN ('Succeeded', "
        "'Failed') THEN now() END FROM j WHERE jobs.id = j.id RETURNING jobs.id)"
        " INSERT INTO job_events (job_id, type, reason, message, from_phase, to_phase)"
        " SELECT j.id, '%s', '%s', '%s', j.phase, '%s' FROM j, u",
        ns, name, to, reason, msg, to, to, reason, msg, to);

    free(itest_sql(dsn, sql));
    free(sql);
}

START_TEST(submit_wait_succeeds_when_the_job_completes)
{
    char *file = job_file("cli-ok", 8), *out = NULL, *err = NULL;
    const char *args[] = {"submit", "-n", "ci", "-f", file, "--wait", "--timeout", "60s", NULL};
    struct run r = {0};
    int rc;

    cli_start(&r, srv.base, args);
    await_stderr(&r, "ci/cli-ok Queued");
    move("ci", "cli-ok", "Admitted", "Placed", "placed in az1");
    move("ci", "cli-ok", "Running", "Started", "all workers running");
    move("ci", "cli-ok", "Succeeded", "Completed", "exit code 0");
    rc = cli_finish(&r, &out, &err);
    ck_assert_msg(rc == 0, "exit %d; stderr: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "trainingjob ci/cli-ok created"));
    ck_assert_ptr_nonnull(strstr(err, "Running in az1"));
    ck_assert_ptr_nonnull(strstr(err, "Succeeded in az1: exit code 0"));
    free(out);
    free(err);
    free(file);
}
END_TEST

START_TEST(submit_wait_fails_with_the_reason)
{
    char *file = job_file("cli-fail", 8), *err = NULL;
    const char *args[] = {"submit", "-n", "ci", "-f", file, "--wait", "--timeout", "60s", NULL};
    struct run r = {0};
    int rc;

    cli_start(&r, srv.base, args);
    await_stderr(&r, "ci/cli-fail Queued");
    move("ci", "cli-fail", "Running", "Started", "running");
    move("ci", "cli-fail", "Failed", "BackoffLimitExceeded", "worker 3 exited with code 137");
    rc = cli_finish(&r, NULL, &err);
    ck_assert_int_eq(rc, 1);
    ck_assert_msg(strstr(err, "job ci/cli-fail Failed: BackoffLimitExceeded: worker 3 exited "
                              "with code 137"),
                  "stderr: %s", err);
    free(err);
    free(file);
}
END_TEST

START_TEST(wait_times_out_with_exit_5)
{
    char *file = job_file("cli-slow", 8), *err = NULL;
    const char *sub[] = {"submit", "-n", "ci", "-f", file, "-q", NULL};
    const char *args[] = {"wait", "-n", "ci", "cli-slow", "--timeout", "2s", NULL};

    ck_assert_int_eq(cli(srv.base, sub, NULL, NULL), 0);
    ck_assert_int_eq(cli(srv.base, args, NULL, &err), 5);
    ck_assert_ptr_nonnull(strstr(err, "timed out; the job is still Queued"));
    free(err);
    free(file);
}
END_TEST

/* Starts `fedsched serve` on a given port (the restart must come back where the CLI
 * looks). */
static pid_t serve_on(int port)
{
    char listen[64], url[128];
    pid_t pid;

    snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);

        dup2(fd, 1);
        dup2(fd, 2);
        setenv("FEDSCHED_LISTEN", listen, 1);
        setenv("FEDSCHED_DATABASE_DSN", dsn, 1);
        setenv("FEDSCHED_AUTH_MODE", "disabled", 1);
        execl(getenv("FEDSCHED_BIN"), "fedsched", "serve", (char *)NULL);
        _exit(127);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/readyz", port);
    for (int i = 0; i < 300; i++) {
        if (itest_http("GET", url, NULL, NULL, NULL) == 200)
            return pid;
        usleep(50 * 1000);
    }
    ck_abort_msg("fedsched serve did not come up on port %d", port);
    return pid;
}

static void stop(pid_t pid, int sig)
{
    kill(pid, sig);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

START_TEST(wait_survives_a_server_restart)
{
    int port = itest_free_port();
    char base[64], *file = job_file("cli-restart", 8), *err = NULL;
    const char *args[] = {"submit", "-n",        "ci",  "-f", file,
                          "--wait", "--timeout", "60s", "-v", NULL};
    struct run r = {0};
    pid_t server;
    int rc;

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    server = serve_on(port);
    cli_start(&r, base, args);
    await_stderr(&r, "ci/cli-restart Queued");
    move("ci", "cli-restart", "Running", "Started", "running");
    await_stderr(&r, "ci/cli-restart Running");
    /* The CLI is now inside a watch; the server dies under it. */
    stop(server, SIGKILL);
    move("ci", "cli-restart", "Succeeded", "Completed", "finished while the API was down");
    usleep(1500 * 1000);
    server = serve_on(port);
    rc = cli_finish(&r, NULL, &err);
    stop(server, SIGTERM);
    ck_assert_msg(rc == 0, "exit %d; stderr: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "retrying"));
    ck_assert_ptr_nonnull(strstr(err, "Succeeded in az1: finished while the API was down"));
    free(err);
    free(file);
}
END_TEST

START_TEST(submit_retries_until_the_server_is_up_and_creates_once)
{
    int port = itest_free_port();
    char base[64], *file = job_file("cli-late", 4), *out = NULL, *n;
    const char *args[] = {"submit", "-n", "ci", "-f", file, NULL};
    struct run r = {0};
    pid_t server;
    int rc;

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    cli_start(&r, base, args);
    usleep(800 * 1000); /* connection refused, retried with back-off */
    server = serve_on(port);
    rc = cli_finish(&r, &out, NULL);
    stop(server, SIGTERM);
    ck_assert_int_eq(rc, 0);
    ck_assert_str_eq(out, "trainingjob ci/cli-late created\n");
    n = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE namespace = 'ci' AND name = 'cli-late'");
    ck_assert_str_eq(n, "1");
    free(n);
    free(out);
    free(file);
}
END_TEST

START_TEST(same_idempotency_key_gives_the_same_job)
{
    const char *gen = "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{"
                      "\"generateName\":\"nightly-\"},\"spec\":{\"resources\":{\"instanceType\":"
                      "\"a100-80gb\",\"gpuCount\":8},\"code\":{\"image\":\"t:1\"}}}";
    char *path = xasprintf("/tmp/fedsched-cli-gen-%d.json", (int)getpid());
    const char *args[] = {"submit",    "-n", "ci",   "-f", path, "--idempotency-key",
                          "build-991", "-o", "json", NULL};
    char *a = NULL, *b = NULL, *n;
    json_t *ja, *jb;
    FILE *f = fopen(path, "w");

    fputs(gen, f);
    fclose(f);
    ck_assert_int_eq(cli(srv.base, args, &a, NULL), 0);
    ck_assert_int_eq(cli(srv.base, args, &b, NULL), 0);
    ja = json_loads(a, 0, NULL);
    jb = json_loads(b, 0, NULL);
    ck_assert_ptr_nonnull(ja);
    ck_assert_ptr_nonnull(jb);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(ja, "metadata"), "name")),
                     json_string_value(json_object_get(json_object_get(jb, "metadata"), "name")));
    n = itest_sql(dsn, "SELECT count(*) FROM jobs WHERE namespace = 'ci' AND name LIKE "
                       "'nightly-%'");
    ck_assert_str_eq(n, "1");
    free(n);
    json_decref(ja);
    json_decref(jb);
    free(a);
    free(b);
    unlink(path);
    free(path);
}
END_TEST

START_TEST(api_errors_are_clear_and_exit_3)
{
    char *bad = xasprintf("/tmp/fedsched-cli-bad-%d.json", (int)getpid()), *err = NULL;
    const char *sub[] = {"submit", "-n", "ci", "-f", bad, NULL};
    const char *get[] = {"get", "-n", "ci", "no-such-job", NULL};
    const char *use[] = {"get", NULL};
    FILE *f = fopen(bad, "w");

    fputs("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
          "\"bad\"},\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":0},"
          "\"code\":{\"image\":\"t:1\"}}}",
          f);
    fclose(f);
    ck_assert_int_eq(cli(srv.base, sub, NULL, &err), 3);
    ck_assert_msg(strstr(err, "422 invalid: spec.resources.gpuCount: "), "stderr: %s", err);
    free(err);
    /* Several problems: one line each, as kubectl prints a Status's causes. */
    f = fopen(bad, "w");
    fputs("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
          "\"bad\"},\"spec\":{\"framework\":\"caffe\",\"resources\":{\"instanceType\":"
          "\"a100-80gb\",\"gpuCount\":0},\"code\":{}}}",
          f);
    fclose(f);
    ck_assert_int_eq(cli(srv.base, sub, NULL, &err), 3);
    ck_assert_msg(strstr(err, "422 invalid: 3 problems\n"
                              "  spec.framework: framework \"caffe\" is not supported; one of: "
                              "pytorch, tensorflow, jax, ray, xgboost, horovod, deepspeed, mpi\n"
                              "  spec.resources.gpuCount: gpuCount 0 is out of range 1..4096\n"
                              "  spec.code.image: image is required\n"),
                  "stderr: %s", err);
    free(err);
    ck_assert_int_eq(cli(srv.base, get, NULL, &err), 3);
    ck_assert_ptr_nonnull(strstr(err, "404 not_found: trainingjob ci/no-such-job not found"));
    free(err);
    ck_assert_int_eq(cli(srv.base, use, NULL, &err), 2);
    ck_assert_ptr_nonnull(strstr(err, "get needs a job NAME"));
    free(err);
    unlink(bad);
    free(bad);
}
END_TEST

/* A server from before dry runs: it ignores the query and answers every request 201 with
 * a created job. Serves one request in a child process on a free port; returns its pid. */
static pid_t old_server(int *port)
{
    static const char reply[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"cli-dry\",\"namespace\":\"ci\",\"uid\":\"0b6f8d2e-0000-4000-8000-000000000001\"},"
        "\"status\":{\"phase\":\"Queued\"}}";
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    pid_t pid;

    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    {
        socklen_t len = sizeof(sa);

        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
        *port = ntohs(sa.sin_port);
    }
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char buf[65536], head[256];
        int c = accept(fd, NULL, NULL);
        ssize_t n, got = 0;

        /* Read the request until the client has sent it all (headers and body). */
        while (c >= 0 && (n = read(c, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0) {
            const char *end, *cl;

            got += n;
            buf[got] = '\0';
            if ((end = strstr(buf, "\r\n\r\n")) &&
                (!(cl = strcasestr(buf, "Content-Length:")) ||
                 got - (end + 4 - buf) >= strtol(cl + 15, NULL, 10)))
                break;
        }
        snprintf(head, sizeof(head),
                 "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 strlen(reply));
        if (write(c, head, strlen(head)) < 0 || write(c, reply, strlen(reply)) < 0)
            _exit(1);
        close(c);
        _exit(0);
    }
    close(fd);
    return pid;
}

/* --dry-run against a server that does not know dry runs: it created the job, and the CLI
 * says so (exit 3) rather than report a dry run that did not happen. */
START_TEST(dry_run_against_an_old_server_says_it_created_the_job)
{
    char *file = job_file("cli-dry", 8), *out = NULL, *err = NULL, url[64];
    const char *args[] = {"submit", "-n", "ci", "-f", file, "--dry-run", NULL};
    int port, status = 0;
    pid_t pid = old_server(&port);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    ck_assert_int_eq(cli(url, args, &out, &err), 3);
    ck_assert_msg(strstr(err, "the server does not do dry runs and created trainingjob "
                              "ci/cli-dry; cancel it with 'fedsched cancel -n ci cli-dry'"),
                  "stderr: %s", err);
    ck_assert_str_eq(out, "");
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    free(out);
    free(err);
    unlink(file);
    free(file);
}
END_TEST

START_TEST(unreachable_api_exits_4)
{
    char base[64], *err = NULL;
    const char *get[] = {"get", "-n", "ci", "x", "--retry-for", "1s", NULL};

    snprintf(base, sizeof(base), "http://127.0.0.1:%d", itest_free_port());
    ck_assert_int_eq(cli(base, get, NULL, &err), 4);
    ck_assert_ptr_nonnull(strstr(err, "cannot reach the API"));
    free(err);
}
END_TEST

/* `fedsched list --newest` lists the newest job first, as the API's order=newest does;
 * without it, creation order. */
START_TEST(list_newest_first)
{
    char *a = job_file("cli-older", 1), *b = job_file("cli-newer", 1), *out = NULL;
    const char *sub_a[] = {"submit", "-n", "team-n", "-f", a, NULL};
    const char *sub_b[] = {"submit", "-n", "team-n", "-f", b, NULL};
    const char *newest[] = {"list", "-n", "team-n", "--newest", NULL};
    const char *oldest[] = {"list", "-n", "team-n", NULL};

    ck_assert_int_eq(cli(srv.base, sub_a, NULL, NULL), 0);
    ck_assert_int_eq(cli(srv.base, sub_b, NULL, NULL), 0);
    ck_assert_int_eq(cli(srv.base, newest, &out, NULL), 0);
    ck_assert_msg(strstr(out, "cli-newer") && strstr(out, "cli-newer") < strstr(out, "cli-older"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(cli(srv.base, oldest, &out, NULL), 0);
    ck_assert_msg(strstr(out, "cli-older") && strstr(out, "cli-older") < strstr(out, "cli-newer"),
                  "%s", out);
    free(out);
    free(a);
    free(b);
}
END_TEST

START_TEST(list_get_and_cancel)
{
    char *file = job_file("cli-list", 2), *out = NULL;
    const char *sub[] = {"submit", "-n", "team-b", "-f", file, NULL};
    const char *list[] = {"list", "-n", "team-b", "--phase", "Queued", NULL};
    const char *cancel[] = {"cancel", "-n", "team-b", "cli-list", NULL};
    const char *get[] = {"get", "-n", "team-b", "cli-list", "-o", "json", NULL};
    json_t *j;

    ck_assert_int_eq(cli(srv.base, sub, NULL, NULL), 0);
    ck_assert_int_eq(cli(srv.base, list, &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "NAMESPACE"));
    ck_assert_ptr_nonnull(strstr(out, "cli-list"));
    ck_assert_ptr_nonnull(strstr(out, "a100-80gb"));
    free(out);
    ck_assert_int_eq(cli(srv.base, cancel, &out, NULL), 0);
    ck_assert_str_eq(out, "trainingjob team-b/cli-list cancelled\n");
    free(out);
    ck_assert_int_eq(cli(srv.base, get, &out, NULL), 0);
    j = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "status"), "phase")),
                     "Cancelled");
    json_decref(j);
    free(out);
    free(file);
}
END_TEST

/* `fedsched explain` of a placed job prints the recorded decision with the API's own
 * numbers: "placed in" (not "would be"), the total and every term, the runner-up's total,
 * and the price the cost term used with its work factor, each equal to what GET
 * .../explain answers. */
START_TEST(explain_prints_the_api_numbers)
{
    const char *args[] = {"explain", "-n", "team-c", "cli-placed", NULL};
    char *out = NULL, url[256], line[128];
    json_t *x = NULL, *terms, *v;
    const char *key;

    free(itest_sql(dsn,
                   "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                   " gpus_per_worker, phase, cluster, pool, placement)"
                   " VALUES ('team-c', 'cli-placed', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8,"
                   " 'Running', 'sim-east', 'training', '{\"ns\": \"team-c\", \"name\":"
                   " \"cli-placed\", \"status\": \"placed\", \"cluster\": \"sim-east\", \"pool\":"
                   " \"training\", \"sku\": \"a100-80gb\", \"score\": {\"cluster\": \"sim-east\","
                   " \"pool\": \"training\", \"sku\": \"a100-80gb\", \"total\": 0.8125, \"terms\":"
                   " {\"fit\": 0.5, \"cost\": 0.125, \"locality\": 0.0625, \"freshness\": 0.1,"
                   " \"sku_pref\": 0.025, \"borrowed\": 0}, \"pricePerGpuHour\": 0.8,"
                   " \"workFactor\": 8}, \"runner_up\": {\"cluster\":"
                   " \"sim-west\", \"pool\": \"training\", \"sku\": \"a100-80gb\", \"total\":"
                   " 0.6875, \"terms\": {}}, \"candidates\": 3}')"));
    snprintf(url, sizeof(url), "/v1/namespaces/team-c/trainingjobs/cli-placed/explain");
    ck_assert_int_eq(itest_get_json(srv.base, url, &x), 200);
    ck_assert_int_eq(cli(srv.base, args, &out, NULL), 0);
    ck_assert_msg(strstr(out, "team-c/cli-placed: placed in sim-east (pool training, sku "
                              "a100-80gb)\n"),
                  "%s", out);
    snprintf(line, sizeof(line), "  %-16s %.3f\n", "total",
             json_number_value(json_object_get(json_object_get(x, "score"), "total")));
    ck_assert_msg(strstr(out, line), "no '%s' in %s", line, out);
    terms = json_object_get(json_object_get(x, "score"), "terms");
    ck_assert_int_eq(json_object_size(terms), 6);
    json_object_foreach(terms, key, v)
    {
        snprintf(line, sizeof(line), "  %-16s %.3f\n", key, json_number_value(v));
        ck_assert_msg(strstr(out, line), "no '%s' in %s", line, out);
    }
    snprintf(line, sizeof(line), "runner-up: sim-west (total %.3f)\n",
             json_number_value(json_object_get(json_object_get(x, "runner_up"), "total")));
    ck_assert_msg(strstr(out, line), "no '%s' in %s", line, out);
    ck_assert_ptr_null(strstr(out, " 0.000\n  cluster"));
    snprintf(line, sizeof(line),
             "cost term: %.3f per GPU-hour x %.3f for the job's throughput here (per unit of "
             "work)\n",
             json_number_value(json_object_get(json_object_get(x, "score"), "pricePerGpuHour")),
             json_number_value(json_object_get(json_object_get(x, "score"), "workFactor")));
    ck_assert_msg(strstr(out, "cost term: 0.800 per GPU-hour x 8.000 "), "%s", out);
    ck_assert_msg(strstr(out, line), "no '%s' in %s", line, out);
    json_decref(x);
    free(out);
}
END_TEST

/* Registers cluster name through the API (jobNamespace NULL: the config leaves it out). */
/* Inserts a finished job of framework fw placed on cluster at attempt 2, its objects in
 * member namespace member_ns (NULL: none recorded); returns its uid. */
static char *placed_job(const char *ns, const char *name, const char *fw, const char *cluster,
                        const char *member_ns)
{
    char *sql = xasprintf(
        "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count, gpus_per_worker,"
        " phase, cluster, pool, attempt, reason, message, finished_at, member_namespace)"
        " VALUES ('%s', '%s', 'fedsched.io/v1', '{\"framework\": \"%s\"}', 'a100-80gb', 8, 8,"
        " 'Succeeded', '%s', 'training', 2, 'Completed', 'exit code 0', now(), %s%s%s)"
        " RETURNING uid",
        ns, name, fw, cluster, member_ns ? "'" : "", member_ns ? member_ns : "NULL",
        member_ns ? "'" : "");
    char *uid = itest_sql(dsn, sql);

    free(sql);
    ck_assert_ptr_nonnull(uid);
    return uid;
}

/* The job's answer says where its objects are: the member namespace dispatch recorded and
 * the object name of its attempt; `fedsched logs-url` prints the kubectl line
 * for exactly those pods, and for ray also the submitter's, and the template URL as well
 * when FEDSCHED_LOGS_URL_TEMPLATE is set. */
START_TEST(logs_url_prints_the_kubectl_command)
{
    const char *torch[] = {"logs-url", "-n", "team-d", "cli-logs", NULL};
    const char *ray[] = {"logs-url", "-n", "team-d", "cli-logs-ray", NULL};
    char *uid, *uid_ray, *out = NULL, *want, url[256];
    json_t *j = NULL, *st;

    uid = placed_job("team-d", "cli-logs", "pytorch", "logs-east", "ml-team-d");
    uid_ray = placed_job("team-d", "cli-logs-ray", "ray", "logs-west", "fedsched-team-d");

    snprintf(url, sizeof(url), "/v1/namespaces/team-d/trainingjobs/cli-logs");
    ck_assert_int_eq(itest_get_json(srv.base, url, &j), 200);
    st = json_object_get(j, "status");
    ck_assert_str_eq(json_string_value(json_object_get(st, "memberNamespace")), "ml-team-d");
    want = xasprintf("fj-%s-2", uid);
    ck_assert_str_eq(json_string_value(json_object_get(st, "objectName")), want);
    free(want);
    json_decref(j);

    ck_assert_int_eq(cli(srv.base, torch, &out, NULL), 0);
    want = xasprintf("kubectl --context logs-east -n ml-team-d logs -l fedsched.io/job-uid=%s,"
                     "fedsched.io/attempt=2 --all-containers --prefix --tail=-1\n",
                     uid);
    ck_assert_str_eq(out, want);
    free(out);

    /* Both, the kubectl line first. */
    setenv("FEDSCHED_LOGS_URL_TEMPLATE", "https://logs.example/?c={cluster}&job={name}", 1);
    ck_assert_int_eq(cli(srv.base, torch, &out, NULL), 0);
    unsetenv("FEDSCHED_LOGS_URL_TEMPLATE");
    free(want);
    want = xasprintf("kubectl --context logs-east -n ml-team-d logs -l fedsched.io/job-uid=%s,"
                     "fedsched.io/attempt=2 --all-containers --prefix --tail=-1\n"
                     "https://logs.example/?c=logs-east&job=cli-logs\n",
                     uid);
    ck_assert_str_eq(out, want);
    free(out);
    free(want);

    /* Another namespace; ray adds the submitter. */
    ck_assert_int_eq(cli(srv.base, ray, &out, NULL), 0);
    want =
        xasprintf("kubectl --context logs-west -n fedsched-team-d logs -l fedsched.io/job-uid=%s,"
                  "fedsched.io/attempt=2 --all-containers --prefix --tail=-1\n"
                  "kubectl --context logs-west -n fedsched-team-d logs -l job-name=fj-%s-2 "
                  "--tail=-1\n",
                  uid_ray, uid_ray);
    ck_assert_str_eq(out, want);
    free(out);
    free(want);
    free(uid);
    free(uid_ray);
}
END_TEST

/* A queued job has no logs: nothing on stdout, exit 3 and why on stderr; a job with a
 * cluster but no recorded member namespace (not dispatched yet, or by an older fedsched)
 * has its objectName but no memberNamespace, and the CLI says why there is no kubectl
 * line. */
START_TEST(logs_url_without_a_place_says_why)
{
    char *file = job_file("cli-logs-queued", 8), *out = NULL, *err = NULL, *uid;
    const char *sub[] = {"submit", "-n", "team-d", "-f", file, NULL};
    const char *queued[] = {"logs-url", "-n", "team-d", "cli-logs-queued", NULL};
    const char *gone[] = {"logs-url", "-n", "team-d", "cli-logs-gone", NULL};
    json_t *j = NULL, *st;

    ck_assert_int_eq(cli(srv.base, sub, NULL, NULL), 0);
    ck_assert_int_eq(cli(srv.base, queued, &out, &err), 3);
    ck_assert_str_eq(out, "");
    ck_assert_msg(strstr(err, "logs-url team-d/cli-logs-queued: the job is Queued and "
                              "not placed yet"),
                  "%s", err);
    free(out);
    free(err);

    uid = placed_job("team-d", "cli-logs-gone", "pytorch", "never-registered", NULL);
    ck_assert_int_eq(
        itest_get_json(srv.base, "/v1/namespaces/team-d/trainingjobs/cli-logs-gone", &j), 200);
    st = json_object_get(j, "status");
    ck_assert_ptr_null(json_object_get(st, "memberNamespace"));
    ck_assert_ptr_nonnull(json_object_get(st, "objectName"));
    json_decref(j);
    ck_assert_int_eq(cli(srv.base, gone, &out, &err), 3);
    ck_assert_str_eq(out, "");
    ck_assert_msg(strstr(err, "has no objects in cluster never-registered yet (not dispatched)"),
                  "%s", err);
    free(out);
    free(err);
    free(uid);
    free(file);
}
END_TEST

START_TEST(report_verb_writes_the_csv)
{
    const char *src = getenv("FEDSCHED_SRC");
    char *seed_path = xasprintf("%s/testdata/reports/history.sql", src);
    char *want_path = xasprintf("%s/testdata/reports/expected.csv", src);
    char *seed = slurp(seed_path), *want = slurp(want_path), *got;
    char *dst = xasprintf("/tmp/fedsched-cli-report-%d.csv", (int)getpid());
    const char *args[] = {"report",
                          "--from",
                          "2026-01-01T00:00:00Z",
                          "--to",
                          "2026-01-01T02:00:00Z",
                          "--step",
                          "1h",
                          "--format",
                          "csv",
                          "--out",
                          dst,
                          NULL};

    const char *filtered[] = {"report",
                              "--from",
                              "2026-01-01T00:00:00Z",
                              "--to",
                              "2026-01-01T02:00:00Z",
                              "--cluster",
                              "az1",
                              "--pool",
                              "serving",
                              NULL};
    const char *bad[] = {"report", "--pool", "inference", NULL};
    char *out = NULL, *err = NULL, *line;
    int rows = 0;

    ck_assert_msg(*seed, "cannot read %s", seed_path);
    free(itest_sql(dsn, seed));
    ck_assert_int_eq(cli(srv.base, args, NULL, NULL), 0);
    got = slurp(dst);
    ck_assert_str_eq(got, want);
    /* The filters reach the API: the two az1 serving rows of the CSV, and every one of them
     * is a line of the whole report. */
    ck_assert_int_eq(cli(srv.base, filtered, &out, NULL), 0);
    for (line = strchr(out, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        char row[512];

        snprintf(row, sizeof(row), "%.*s", (int)(strcspn(line + 1, "\n") + 1), line + 1);
        ck_assert_msg(strstr(row, ",az1,a100-80gb,serving,") && strstr(want, row), "%s", row);
        rows++;
    }
    ck_assert_int_eq(rows, 2);
    free(out);
    ck_assert_int_eq(cli(srv.base, bad, NULL, &err), 3);
    ck_assert_msg(strstr(err, "\"inference\""), "%s", err);
    free(err);
    unlink(dst);
    free(got);
    free(dst);
    free(seed);
    free(want);
    free(seed_path);
    free(want_path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("verbs");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, submit_wait_succeeds_when_the_job_completes);
    tcase_add_test(tc, submit_wait_fails_with_the_reason);
    tcase_add_test(tc, wait_times_out_with_exit_5);
    tcase_add_test(tc, wait_survives_a_server_restart);
    tcase_add_test(tc, submit_retries_until_the_server_is_up_and_creates_once);
    tcase_add_test(tc, same_idempotency_key_gives_the_same_job);
    tcase_add_test(tc, api_errors_are_clear_and_exit_3);
    tcase_add_test(tc, dry_run_against_an_old_server_says_it_created_the_job);
    tcase_add_test(tc, unreachable_api_exits_4);
    tcase_add_test(tc, list_get_and_cancel);
    tcase_add_test(tc, list_newest_first);
    tcase_add_test(tc, report_verb_writes_the_csv);
    tcase_add_test(tc, explain_prints_the_api_numbers);
    tcase_add_test(tc, logs_url_prints_the_kubectl_command);
    tcase_add_test(tc, logs_url_without_a_place_says_why);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
