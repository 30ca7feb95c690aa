/* itest.h -- helpers for integration tests: the private PostgreSQL the test runner
 * started, fresh databases, `fedsched serve` as a child process, and HTTP via libcurl. */
#ifndef TESTS_SUPPORT_ITEST_H
#define TESTS_SUPPORT_ITEST_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* FEDSCHED_TEST_DSN (set by tests/run-tests.sh); aborts the test when unset, so a
 * missing database is a failure, never a silent skip. */
const char *itest_dsn(void);

/* Creates an empty database with a unique name; writes its DSN into out. */
void itest_create_db(char *out, size_t size);

/* Runs `fedsched token create` against the database dsn (ns NULL: no --namespace) and puts
 * the token it prints in out; fails the test unless it is an fst_ token. */
void itest_create_token(const char *dsn, const char *name, const char *role, const char *ns,
                        char out[64]);

/* Runs one SQL statement on dsn; returns the first value of the first row (caller frees)
 * or NULL when there is none. Aborts the test on error. */
char *itest_sql(const char *dsn, const char *sql);

/* Runs tests/pg.sh CMD on the runner's private server ("kill", "start", "stop"). */
void itest_pg(const char *cmd);

int itest_free_port(void);

struct itest_server {
    pid_t pid;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    char log[128]; /* the server's stderr */
};

/* Starts `fedsched serve` on a free port against dsn (env "K=V" strings in extra_env,
 * NULL-terminated, may be NULL) and waits until /readyz answers 200 (or /healthz when
 * wait_ready is 0). Authentication is off unless extra_env says
 * FEDSCHED_AUTH_MODE=tokens. */
void itest_server_start(struct itest_server *s, const char *dsn, const char *const *extra_env,
                        int wait_ready);
/* Like itest_server_start, with extra arguments after "serve" (NULL-terminated). */
void itest_server_start_args(struct itest_server *s, const char *dsn, const char *const *extra_env,
                             const char *const *args, int wait_ready);

/* Starts `fedsched-kubesim --scenario scenario --clusters-out dir/clusters.json` on free
 * ports and waits until it listens; returns its pid. dir/clusters.json is then a config
 * file listing its clusters. */
pid_t itest_sim_start(const char *scenario, const char *dir);

/* Sends sig (SIGTERM, SIGKILL) and waits; returns the wait status. */
int itest_server_stop(struct itest_server *s, int sig);

/* One HTTP request. headers is NULL-terminated ("Name: value"), may be NULL; body may be
 * NULL. The body goes without waiting for 100 Continue unless headers has an Expect.
 * Returns the status (0 on transport failure); *resp (may be NULL) receives the body,
 * caller frees. */
long itest_http(const char *method, const char *url, const char *const *headers, const char *body,
                char **resp);

/* Sends len bytes on the socket fd, blocking, without SIGPIPE; returns how many went
 * before the first error (len when all did). */
size_t itest_send_all(int fd, const void *data, size_t len);

/* POSTs body as JSON to base + path; returns the status and the parsed reply in *out
 * (may be NULL; caller json_decref()s). */
long itest_post_json(const char *base, const char *path, const char *body, json_t **out);
long itest_get_json(const char *base, const char *path, json_t **out);

/* A valid TrainingJob body for name (printf-style extra spec fields not needed by most
 * tests are fixed): a100-80gb, gpuCount gpus, image tag tag. Caller frees. */
char *itest_job_body(const char *name, int gpus, const char *tag);

#endif
