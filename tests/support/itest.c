/* itest.c -- integration-test helpers (see itest.h). */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *itest_dsn(void)
{
    const char *dsn = getenv("FEDSCHED_TEST_DSN");

    ck_assert_msg(dsn && *dsn, "FEDSCHED_TEST_DSN is not set: run through make test");
    return dsn;
}

char *itest_sql(const char *dsn, const char *sql)
{
    PGconn *pg = PQconnectdb(dsn);
    PGresult *r;
    char *out = NULL;

    ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "connect %s: %s", dsn, PQerrorMessage(pg));
    r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK || PQresultStatus(r) == PGRES_COMMAND_OK,
                  "%s: %s", sql, PQresultErrorMessage(r));
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        out = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(pg);
    return out;
}

void itest_create_db(char *out, size_t size)
{
    static int seq;
    char name[64], sql[128];

    snprintf(name, sizeof(name), "fedsched_t%d_%d_%ld", (int)getpid(), seq++,
             (long)time(NULL) % 100000);
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
    free(itest_sql(itest_dsn(), sql));
    /* In a conninfo string a later keyword overrides an earlier one. */
    snprintf(out, size, "%s dbname=%s", itest_dsn(), name);
}

void itest_create_token(const char *dsn, const char *name, const char *role, const char *ns,
                        char out[64])
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name %s --role %s %s%s 2>/dev/null",
             dsn, getenv("FEDSCHED_BIN"), name, role, ns ? "--namespace " : "", ns ? ns : "");
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(out, 64, p));
    out[strcspn(out, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_int_eq(strncmp(out, "fst_", 4), 0);
    ck_assert_int_eq(strlen(out), 47);
}

void itest_pg(const char *cmd)
{
    const char *src = getenv("FEDSCHED_SRC"), *dir = getenv("FEDSCHED_TEST_PGDIR"),
               *port = getenv("FEDSCHED_TEST_PGPORT");
    char line[1024];

    ck_assert_msg(src && dir && port, "FEDSCHED_SRC/TEST_PGDIR/TEST_PGPORT not set");
    snprintf(line, sizeof(line), "%s/tests/pg.sh %s %s %s >/dev/null", src, cmd, dir, port);
    ck_assert_msg(system(line) == 0, "%s failed", line);
}

/* A port below the kernel's ephemeral range (32768 and up): a port the kernel hands out
 * there can be taken by an outgoing connection, the server's own to PostgreSQL among them,
 * between this call and the server's bind. Free when bound here; tried in a random order
 * so concurrent test processes seldom race for one. */
int itest_free_port(void)
{
    static unsigned seed;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    if (seed == 0)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    for (int tries = 0; tries < 1000; tries++) {
        int port = 20000 + (int)(rand_r(&seed) % 12000);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            close(fd);
            return port;
        }
    }
    close(fd);
    ck_abort_msg("no free port in 20000-31999 after 1000 tries");
    return -1;
}

void itest_server_start(struct itest_server *s, const char *dsn, const char *const *extra_env,
                        int wait_ready)
{
    itest_server_start_args(s, dsn, extra_env, NULL, wait_ready);
}

/* Whether env entry e ("KEY=VALUE") sets the same variable as k ("KEY=..."). */
static bool same_key(const char *e, const char *k)
{
    size_t n = strcspn(k, "=");

    return strncmp(e, k, n) == 0 && e[n] == '=';
}

/* The server's environment: this process's, with the test's settings on top (later ones
 * win). Built before fork(): the child of a threaded test may only call async-signal-safe
 * functions, and setenv() in it could wait forever for a lock (the allocator's, the
 * environment's) that another thread held at the fork (seen under asan: an empty log and
 * "did not become ready in 15 s"). Caller frees the array and its first n_own strings. */
static char **server_env(const char *const *own, size_t n_own)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **env;

    while (environ[n])
        n++;
    env = xcalloc(n + n_own + 1, sizeof(*env));
    for (size_t i = 0; i < n; i++) {
        bool mine = false;

        for (size_t j = 0; j < n_own && !mine; j++)
            mine = same_key(environ[i], own[j]);
        if (!mine)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < n_own; j++) {
        bool later = false;

        for (size_t l = j + 1; l < n_own && !later; l++)
            later = same_key(own[l], own[j]);
        if (!later)
            env[k++] = (char *)own[j];
    }
    env[k] = NULL;
    return env;
}

void itest_server_start_args(struct itest_server *s, const char *dsn, const char *const *extra_env,
                             const char *const *args, int wait_ready)
{
    const char *bin = getenv("FEDSCHED_BIN");
    bool under_valgrind = getenv("FEDSCHED_VALGRIND") != NULL;
    char url[128];
    const char *own[64];
    char *listen, *dsn_env, vlog[200];
    const char *argv[40];
    char **env;
    size_t n_own = 0;
    int n = 0;

    ck_assert_msg(bin && *bin, "FEDSCHED_BIN is not set");
    s->port = itest_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    snprintf(s->log, sizeof(s->log), "/tmp/fedsched-itest-%d-%d.log", (int)getpid(), s->port);
    listen = xasprintf("FEDSCHED_LISTEN=127.0.0.1:%d", s->port);
    dsn_env = xasprintf("FEDSCHED_DATABASE_DSN=%s", dsn);
    own[n_own++] = listen;
    own[n_own++] = dsn_env;
    /* Tests of other things run without tokens; test_auth turns them on. */
    own[n_own++] = "FEDSCHED_AUTH_MODE=disabled";
    for (int i = 0; extra_env && extra_env[i]; i++) {
        ck_assert_uint_lt(n_own, 64);
        own[n_own++] = extra_env[i];
    }
    env = server_env(own, n_own);
    /* FEDSCHED_VALGRIND=1: the server runs under memcheck, and a definite or indirect leak
     * (or any error) at its exit makes the exit status 99. */
    if (under_valgrind) {
        snprintf(vlog, sizeof(vlog), "--log-file=%s.valgrind", s->log);
        argv[n++] = "valgrind";
        argv[n++] = "--leak-check=full";
        argv[n++] = "--errors-for-leak-kinds=definite,indirect";
        argv[n++] = "--show-leak-kinds=definite,indirect";
        argv[n++] = "--error-exitcode=99";
        argv[n++] = vlog;
        argv[n++] = bin; /* valgrind takes the program path, not argv[0] */
    } else {
        argv[n++] = "fedsched";
    }
    argv[n++] = "serve";
    for (int i = 0; args && args[i] && n < 38; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        /* Only async-signal-safe calls from here to exec. */
        int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (under_valgrind)
            execve("/usr/bin/valgrind", (char *const *)argv, env);
        else
            execve(bin, (char *const *)argv, env);
        _exit(127);
    }
    free(env);
    free(listen);
    free(dsn_env);
    snprintf(url, sizeof(url), "%s%s", s->base, wait_ready ? "/readyz" : "/healthz");
    for (int i = 0; i < (getenv("FEDSCHED_VALGRIND") ? 1200 : 300); i++) {
        if (itest_http("GET", url, NULL, NULL, NULL) == 200)
            return;
        ck_assert_msg(waitpid(s->pid, NULL, WNOHANG) == 0, "fedsched serve exited; see %s", s->log);
        usleep(50 * 1000);
    }
    ck_abort_msg("fedsched serve did not become ready in 15 s; see %s", s->log);
}

int itest_server_stop(struct itest_server *s, int sig)
{
    int status = 0;

    if (s->pid <= 0)
        return 0;
    kill(s->pid, sig);
    while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
    ck_assert_msg(!(WIFEXITED(status) && WEXITSTATUS(status) == 99 && getenv("FEDSCHED_VALGRIND")),
                  "valgrind found leaks or errors in fedsched serve; see %s.valgrind", s->log);
    return status;
}

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

long itest_http(const char *method, const char *url, const char *const *headers, const char *body,
                char **resp)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    struct sink sink = {NULL, 0};
    long status = 0;

    ck_assert_ptr_nonnull(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    bool expect = false;

    for (int i = 0; headers && headers[i]; i++) {
        h = curl_slist_append(h, headers[i]);
        expect = expect || strncasecmp(headers[i], "Expect:", 7) == 0;
    }
    if (!expect) /* the body at once, as most API clients send it */
        h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    if (resp)
        *resp = sink.data ? sink.data : xstrdup("");
    else
        free(sink.data);
    return status;
}

static long json_call(const char *method, const char *base, const char *path, const char *body,
                      json_t **out)
{
    static const char *const hdrs[] = {"Content-Type: application/json", NULL};
    char url[1024], *text = NULL;
    long st;

    snprintf(url, sizeof(url), "%s%s", base, path);
    st = itest_http(method, url, body ? hdrs : NULL, body, &text);
    if (out) {
        *out = json_loads(text, 0, NULL);
        ck_assert_msg(st == 0 || *out, "%s %s: %ld: reply is not JSON: %s", method, path, st, text);
    }
    free(text);
    return st;
}

long itest_post_json(const char *base, const char *path, const char *body, json_t **out)
{
    return json_call("POST", base, path, body, out);
}

long itest_get_json(const char *base, const char *path, json_t **out)
{
    return json_call("GET", base, path, NULL, out);
}

char *itest_job_body(const char *name, int gpus, const char *tag)
{
    return xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                     "\"metadata\":{\"name\":\"%s\",\"labels\":{\"pipeline\":\"deepeta\"}},"
                     "\"spec\":{\"framework\":\"pytorch\",\"resources\":{\"instanceType\":"
                     "\"a100-80gb\",\"gpuCount\":%d},\"code\":{\"image\":\"trainer:%s\","
                     "\"command\":[\"python\",\"train.py\"]},\"scheduling\":{\"priority\":10,"
                     "\"preemptible\":true,\"maxRuntimeSeconds\":3600}}}",
                     name, gpus, tag);
}

pid_t itest_sim_start(const char *scenario, const char *dir)
{
    const char *bin = getenv("FEDSCHED_KUBESIM_BIN"), *src = getenv("FEDSCHED_SRC");
    char path[512], out[512], log[512];
    pid_t pid;

    ck_assert_msg(bin && src, "FEDSCHED_KUBESIM_BIN/FEDSCHED_SRC not set");
    snprintf(path, sizeof(path), "%s/%s", src, scenario);
    snprintf(out, sizeof(out), "%s/clusters.json", dir);
    snprintf(log, sizeof(log), "%s/sim.log", dir);
    unlink(out);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        /* No --port: every cluster gets an ephemeral port of its own (the scenario sets
         * none), so nothing can clash; --clusters-out tells us which. */
        execl(bin, "fedsched-kubesim", "--scenario", path, "--clusters-out", out, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (access(out, R_OK) == 0)
            return pid;
        ck_assert_msg(waitpid(pid, NULL, WNOHANG) == 0, "fedsched-kubesim exited; see %s", log);
        usleep(50 * 1000);
    }
    ck_abort_msg("fedsched-kubesim did not start in 10 s; see %s", log);
    return -1;
}

size_t itest_send_all(int fd, const void *data, size_t len)
{
    size_t sent = 0;

    while (sent < len) {
        ssize_t n = send(fd, (const char *)data + sent, len - sent, MSG_NOSIGNAL);

        if (n <= 0)
            break;
        sent += (size_t)n;
    }
    return sent;
}
