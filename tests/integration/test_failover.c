/* test_failover.c -- a PostgreSQL failover under load: a primary with a synchronous
 * streaming standby (tests/pg-pair.sh), `fedsched serve` on the multi-host DSN,
 * submissions from several threads, kill -9 of the primary mid-load with the standby
 * 300 ms behind, pg_ctl promote of the standby. Every acknowledged (201) job must be on
 * the new primary, submissions must succeed again, and the scheduler must lead again on
 * the new primary (one of two replicas) and run a job submitted after the failover, once.
 * Also a primary fenced read-only: 503, not 500.
 * Not responsible for a restart of a single server (test_durability.c). */
#include "tests/integration/test_sched_env.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>

#define LOADERS   4
#define ACKED_MAX 100000

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200}"

static struct senv env;
/* Each test's pair lives in a directory of its own under base_dir, which the runner (the
 * parent process) makes before the tests and clears after them, so a pair is stopped even
 * when a failed test ends its process before any teardown of its own. */
static char base_dir[128], pair_dir[192];

/* Runs tests/pg-pair.sh cmd on this test's pair, with more arguments after the directory
 * (tail); returns its first output line in out (may be NULL). */
static void pair(const char *cmd, const char *tail, char *out, size_t size)
{
    const char *src = getenv("FEDSCHED_SRC");
    char line[512];
    FILE *p;

    snprintf(line, sizeof(line), "%s/tests/pg-pair.sh %s %s %s", src ? src : ".", cmd, pair_dir,
             tail);
    p = popen(line, "r");
    ck_assert_ptr_nonnull(p);
    if (out) {
        out[0] = '\0';
        if (fgets(out, (int)size, p))
            out[strcspn(out, "\n")] = '\0';
    }
    ck_assert_msg(pclose(p) == 0, "%s failed", line);
}

static void teardown(void)
{
    senv_stop(&env);
}

static void base_make(void)
{
    snprintf(base_dir, sizeof(base_dir), "/tmp/fedsched-failover-%d", (int)getpid());
    if (mkdir(base_dir, 0755) != 0)
        fprintf(stderr, "test_failover: cannot make %s\n", base_dir);
}

/* In the runner: stops whatever every test's pair left running, then removes them. */
static void base_clear(void)
{
    const char *src = getenv("FEDSCHED_SRC");
    char line[512];

    snprintf(line, sizeof(line),
             "for d in %s/*/; do [ -d \"$d\" ] && %s/tests/pg-pair.sh stop \"$d\"; done; rm -rf %s",
             base_dir, src ? src : ".", base_dir);
    if (system(line) != 0)
        fprintf(stderr, "test_failover: could not clear %s\n", base_dir);
}

/* This test's pair directory, named for it. */
static void pair_dir_make(const char *test)
{
    snprintf(pair_dir, sizeof(pair_dir), "%s/%s", base_dir, test);
    ck_assert_int_eq(mkdir(pair_dir, 0755), 0);
}

/* ---- the load ------------------------------------------------------------------------------ */

struct load {
    const char *base[2]; /* the two replicas; loader i submits to base[i % 2] */
    pthread_mutex_t mu;
    bool stop;
    bool promoted;
    char (*acked)[32]; /* names answered 201 */
    int nacked;
    int acked_after;                     /* 201s after the promotion */
    int64_t promoted_ms, first_after_ms; /* when promoted, and the first 201 after it */
    int unavailable;                     /* 503s */
    int other;                           /* any other status (0: no answer) */
    long other_status;
};

struct loader {
    struct load *l;
    int id;
    pthread_t thread;
};

/* Submits jobs one after another until told to stop. The jobs ask for more GPUs than the
 * simulated clusters hold, so they stay queued and leave the clusters to the job that
 * shows the scheduler running after the failover. */
static void *load_loop(void *arg)
{
    struct loader *me = arg;
    struct load *l = me->l;

    for (int i = 0;; i++) {
        char name[32], *body;
        bool stop;
        long st;

        pthread_mutex_lock(&l->mu);
        stop = l->stop;
        pthread_mutex_unlock(&l->mu);
        if (stop)
            break;
        snprintf(name, sizeof(name), "load-%d-%d", me->id, i);
        body = itest_job_body(name, 4096, "1");
        st = itest_post_json(l->base[me->id % 2], "/v1/namespaces/load/trainingjobs", body, NULL);
        free(body);
        pthread_mutex_lock(&l->mu);
        if (st == 201 && l->nacked < ACKED_MAX) {
            snprintf(l->acked[l->nacked++], sizeof(l->acked[0]), "%s", name);
            l->acked_after += l->promoted;
            if (l->promoted && !l->first_after_ms)
                l->first_after_ms = clock_mono_ms();
        } else if (st == 503) {
            l->unavailable++;
        } else {
            l->other++;
            l->other_status = st;
        }
        pthread_mutex_unlock(&l->mu);
        if (st != 201)
            usleep(20 * 1000); /* a client honouring Retry-After would wait longer */
    }
    return NULL;
}

static int load_count(struct load *l, const int *field)
{
    int n;

    pthread_mutex_lock(&l->mu);
    n = *field;
    pthread_mutex_unlock(&l->mu);
    return n;
}

/* One POST on a raw socket, so the reply's headers can be read: the status line and
 * whether Retry-After is there. */
static void post_raw(int port, const char *path, const char *body, char *reply, size_t size)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    char head[512];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    snprintf(head, sizeof(head),
             "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n",
             path, strlen(body));
    ck_assert_int_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
    ck_assert_int_eq(write(fd, body, strlen(body)), (ssize_t)strlen(body));
    while (got + 1 < size && (n = read(fd, reply + got, size - 1 - got)) > 0)
        got += (size_t)n;
    reply[got] = '\0';
    close(fd);
}

/* The names of namespace load on the database dsn points at, as a set. */
static json_t *stored_names(const char *dsn)
{
    char *all = itest_sql(dsn, "SELECT string_agg(name, ',') FROM jobs WHERE namespace = 'load'");
    json_t *set = json_object();

    for (char *p = all, *end; p && *p; p = *end ? end + 1 : end) {
        end = p + strcspn(p, ",");
        json_object_setn_new(set, p, (size_t)(end - p), json_true());
    }
    free(all);
    return set;
}

/* Whether the file at path holds text. */
static bool log_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    bool found = false;

    while (f && !found && fgets(line, sizeof(line), f))
        found = strstr(line, text) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* Whether the replica at base says it leads (its fedsched_scheduler_leader gauge). */
static bool leads(const char *base)
{
    char url[128], *text = NULL;
    bool yes;

    snprintf(url, sizeof(url), "%s/metrics", base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &text), 200);
    yes = text && strstr(text, "\nfedsched_scheduler_leader 1\n") != NULL;
    free(text);
    return yes;
}

static int64_t leader_epoch(const char *base, bool *active)
{
    json_t *j = NULL;
    int64_t ep;

    ck_assert_int_eq(itest_get_json(base, "/v1/leader", &j), 200);
    ep = json_integer_value(json_object_get(j, "epoch"));
    *active = json_is_true(json_object_get(j, "active"));
    json_decref(j);
    return ep;
}

/* Waits up to timeout_ms for this replica to lead with an epoch above after; returns it. */
static int64_t wait_leader_after(const char *base, int64_t after, int timeout_ms)
{
    int64_t until = clock_mono_ms() + timeout_ms, ep = 0;
    bool active = false;

    while (clock_mono_ms() < until) {
        json_t *j = NULL;

        if (itest_get_json(base, "/v1/leader", &j) == 200) {
            ep = json_integer_value(json_object_get(j, "epoch"));
            active = json_is_true(json_object_get(j, "active"));
        }
        json_decref(j);
        if (active && ep > after)
            return ep;
        usleep(100 * 1000);
    }
    ck_abort_msg("no leader above epoch %lld in %d ms (last %lld, active %d)", (long long)after,
                 timeout_ms, (long long)ep, (int)active);
    return 0;
}

START_TEST(acknowledged_jobs_survive_failover)
{
    const char *mode = getenv("FEDSCHED_FAILOVER_REPLICATION");
    char args[128], dsn[512], primary[600], reply[2048], port_sql[32];
    struct load l = {0};
    struct loader ld[LOADERS];
    int p1 = itest_free_port(), p2 = itest_free_port(), acked_before, missing = 0;
    int64_t epoch_before, until;
    bool active = false;
    json_t *stored, *after;
    char *body, *port;

    /* FEDSCHED_FAILOVER_REPLICATION=async runs the same test without a synchronous
     * standby: acknowledged jobs can then be lost, and this test says which. */
    pair_dir_make("failover");
    snprintf(args, sizeof(args), "%d %d %s", p1, p2, mode ? mode : "sync");
    pair("start", args, dsn, sizeof(dsn));
    /* The server gets the DSN as printed, without target_session_attrs: fedsched must ask
     * for a read-write session itself, or it lands on the standby and answers 500 to every
     * write. The test's own queries ask for the primary explicitly. */
    snprintf(primary, sizeof(primary), "%s target_session_attrs=read-write", dsn);
    senv_sim(&env, "testdata/sim/sched-three.json");
    snprintf(env.dsn, sizeof(env.dsn), "%s", dsn);
    senv_config(&env, FAST_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    senv_serve(&env, 1, NULL);
    epoch_before = 0;
    until = clock_mono_ms() + 10000;
    while (!active && clock_mono_ms() < until) {
        epoch_before = leader_epoch(env.srv[0].base, &active);
        if (!active)
            usleep(100 * 1000);
    }
    ck_assert_msg(active, "the replica never led before the failover");

    /* Load, then the primary dies under it. */
    l.base[0] = env.srv[0].base;
    l.base[1] = env.srv[1].base;
    l.acked = xcalloc(ACKED_MAX, sizeof(*l.acked));
    pthread_mutex_init(&l.mu, NULL);
    for (int i = 0; i < LOADERS; i++) {
        ld[i].l = &l;
        ld[i].id = i;
        ck_assert_int_eq(pthread_create(&ld[i].thread, NULL, load_loop, &ld[i]), 0);
    }
    usleep(2000 * 1000);
    acked_before = load_count(&l, &l.nacked);
    ck_assert_msg(acked_before > 0, "no submission succeeded before the failover");
    /* The standby 300 ms behind when the primary dies: what a synchronous standby must
     * make harmless, and what loses acknowledged jobs without one. */
    pair("kill-primary", "300", NULL, 0);

    /* While no primary accepts writes: 503 with Retry-After, never a 201. */
    usleep(500 * 1000);
    body = itest_job_body("during-failover", 8, "1");
    post_raw(env.srv[0].port, "/v1/namespaces/other/trainingjobs", body, reply, sizeof(reply));
    free(body);
    ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0, "reply: %.200s", reply);
    ck_assert_msg(strcasestr(reply, "\r\nRetry-After: ") != NULL, "reply: %.300s", reply);

    pair("promote", "", NULL, 0);
    pthread_mutex_lock(&l.mu);
    l.promoted = true;
    l.promoted_ms = clock_mono_ms();
    pthread_mutex_unlock(&l.mu);
    until = clock_mono_ms() + 20000;
    while (load_count(&l, &l.acked_after) < 20 && clock_mono_ms() < until)
        usleep(100 * 1000);
    pthread_mutex_lock(&l.mu);
    l.stop = true;
    pthread_mutex_unlock(&l.mu);
    for (int i = 0; i < LOADERS; i++)
        pthread_join(ld[i].thread, NULL);
    fprintf(stderr,
            "failover: %d acknowledged (%d before the kill, %d after the promotion, the first "
            "%lld ms after it), %d answered 503\n",
            l.nacked, acked_before, l.acked_after,
            (long long)(l.first_after_ms ? l.first_after_ms - l.promoted_ms : -1), l.unavailable);
    ck_assert_msg(l.acked_after >= 20, "submissions did not succeed again after the promotion");
    ck_assert_msg(l.other == 0, "%d answers neither 201 nor 503 (last %ld)", l.other,
                  l.other_status);
    /* The log says why each host was not taken, not only the first (the dead primary). */
    ck_assert_msg(log_has(env.srv[0].log, "failed: session is read-only"),
                  "%s does not say why the standby was refused", env.srv[0].log);

    /* Every acknowledged job is on the new primary (the DSN now leads there). */
    port = itest_sql(primary, "SELECT inet_server_port()");
    snprintf(port_sql, sizeof(port_sql), "%d", p2);
    ck_assert_str_eq(port, port_sql);
    free(port);
    stored = stored_names(primary);
    for (int i = 0; i < l.nacked; i++)
        if (!json_object_get(stored, l.acked[i]) && missing++ < 5)
            fprintf(stderr, "failover: acknowledged %s is not on the new primary\n", l.acked[i]);
    ck_assert_msg(missing == 0, "%d of %d acknowledged jobs lost", missing, l.nacked);
    json_decref(stored);

    /* The scheduler leads again, on the new primary (a new epoch there), and runs a job
     * submitted after the failover exactly once. */
    wait_leader_after(env.srv[0].base, epoch_before, 20000);
    free(senv_submit(env.srv[0].base, "after", "after-failover", "h100-80gb", 8, NULL,
                     "\"priority\": 9"));
    after = senv_wait_phase(env.srv[0].base, "after", "after-failover", "Succeeded", 30000);
    json_decref(after);
    ck_assert_int_eq(senv_events(&env, "after", "after-failover", "Dispatched"), 1);
    ck_assert_msg(leads(env.srv[0].base) + leads(env.srv[1].base) == 1,
                  "not exactly one replica leads after the failover");
    pthread_mutex_destroy(&l.mu);
    free(l.acked);
}
END_TEST

/* A primary fenced read-only (as in a planned switchover, before the standby is promoted)
 * refuses writes with SQLSTATE 25006: a 503 with Retry-After, not a 500, and writes go
 * through again once it is writable, on fresh connections. */
START_TEST(read_only_primary_answers_503)
{
    char args[64], dsn[512], admin[640], reply[2048];
    struct itest_server srv;
    int p1 = itest_free_port(), p2 = itest_free_port();
    long st = 0;
    char *body;

    pair_dir_make("read-only");
    snprintf(args, sizeof(args), "%d %d async", p1, p2);
    pair("start", args, dsn, sizeof(dsn));
    /* The test's own session on the primary stays writable whatever the default. */
    snprintf(admin, sizeof(admin),
             "host=127.0.0.1 port=%d user=postgres dbname=fedsched"
             " options='-c default_transaction_read_only=off'",
             p1);
    itest_server_start(&srv, dsn, NULL, 1);
    env.srv[0] = srv; /* stopped by teardown */
    body = itest_job_body("before-fence", 8, "1");
    ck_assert_int_eq(itest_post_json(srv.base, "/v1/namespaces/ro/trainingjobs", body, NULL), 201);
    free(body);

    free(itest_sql(admin, "ALTER SYSTEM SET default_transaction_read_only = on"));
    free(itest_sql(admin, "SELECT pg_reload_conf()"));
    usleep(500 * 1000);
    body = itest_job_body("during-fence", 8, "1");
    post_raw(srv.port, "/v1/namespaces/ro/trainingjobs", body, reply, sizeof(reply));
    ck_assert_msg(strncmp(reply, "HTTP/1.1 503", 12) == 0, "reply: %.300s", reply);
    ck_assert_msg(strcasestr(reply, "\r\nRetry-After: ") != NULL, "reply: %.300s", reply);

    free(itest_sql(admin, "ALTER SYSTEM RESET default_transaction_read_only"));
    free(itest_sql(admin, "SELECT pg_reload_conf()"));
    for (int i = 0; i < 50 && st != 201; i++) {
        st = itest_post_json(srv.base, "/v1/namespaces/ro/trainingjobs", body, NULL);
        if (st != 201)
            usleep(100 * 1000);
    }
    ck_assert_int_eq(st, 201);
    free(body);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("failover");
    TCase *tc = tcase_create("failover");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, base_make, base_clear);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, acknowledged_jobs_survive_failover);
    tcase_add_test(tc, read_only_primary_answers_503);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
