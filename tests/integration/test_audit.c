/* test_audit.c -- the audit log keeps its promise: every acknowledged mutation has its
 * row through a PostgreSQL outage under load and through kill -9 of fedsched under load;
 * failures answered during the outage are written once the database is back, none
 * dropped; each transactional mutation records exactly one row with the status it
 * answered; and a flood of unauthenticated requests from one address writes only the
 * sampled rows, the rest counted in /metrics. */
#include "tests/support/itest.h"

#include "base/clock.h"
#include "base/mem.h"

#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WORKERS      4
#define JOBS_MAX     4000 /* per worker */
#define UNAUTH_LIMIT 7    /* auth.unauthAuditPerMinute, set in the config file (default 10) */

static char dsn[1024], cfg_path[256], auth_hdr[128];
static const char *const tokens_env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
static const char *const serve_args[] = {"--config", cfg_path, NULL};

/* A fresh database and an admin token for it; the config file turns the per-token rate
 * limit off (the load must not be answered with 429s) and sets the 401 sample. */
static void setup_db(void)
{
    char cmd[2048], tok[64];
    FILE *p, *f;

    itest_create_db(dsn, sizeof(dsn));
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/fedsched-audit-%d.json", (int)getpid());
    f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "{\"auth\": {\"ratePerSecond\": 0, \"unauthAuditPerMinute\": %d}}\n", UNAUTH_LIMIT);
    fclose(f);
    /* The schema first: `token create` needs the tables. */
    snprintf(cmd, sizeof(cmd), "FEDSCHED_DATABASE_DSN='%s' '%s' migrate >/dev/null 2>&1", dsn,
             getenv("FEDSCHED_BIN"));
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "FEDSCHED_DATABASE_DSN='%s' '%s' token create --name auditor --role admin "
             "2>/dev/null",
             dsn, getenv("FEDSCHED_BIN"));
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    ck_assert_ptr_nonnull(fgets(tok, sizeof(tok), p));
    tok[strcspn(tok, "\n")] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    snprintf(auth_hdr, sizeof(auth_hdr), "Authorization: Bearer %s", tok);
}

static long call(const char *base, const char *method, const char *path, const char *body,
                 bool with_token)
{
    const char *hdr[3] = {with_token ? auth_hdr : "X-No-Token: 1", "Content-Type: application/json",
                          NULL};
    char url[512];

    snprintf(url, sizeof(url), "%s%s", base, path);
    return itest_http(method, url, hdr, body, NULL);
}

/* Rows of audit_log matching where, on one connection kept for the test (thousands of
 * checks). */
static long count_rows(const char *where)
{
    static PGconn *pg;
    char sql[1024];
    PGresult *r;
    long n;

    if (!pg || PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        pg = PQconnectdb(dsn);
        ck_assert_msg(PQstatus(pg) == CONNECTION_OK, "%s", PQerrorMessage(pg));
    }
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_log WHERE %s", where);
    r = PQexec(pg, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return n;
}

/* The value of an unlabelled (or fully labelled) series in /metrics; -1 when absent. */
static double metric(const char *base, const char *series)
{
    char url[256], *text = NULL, *at;
    double v = -1;

    snprintf(url, sizeof(url), "%s/metrics", base);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &text), 200);
    for (at = strstr(text, series); at; at = strstr(at + 1, series))
        if ((at == text || at[-1] == '\n') && at[strlen(series)] == ' ') {
            v = strtod(at + strlen(series) + 1, NULL);
            break;
        }
    free(text);
    return v;
}

/* Waits until the server's audit queue is empty (the database is back and took it). A
 * server without the gauge (before it existed) gets a second, five times its pace. */
static void wait_queue_empty(const char *base)
{
    for (int i = 0; i < 300; i++) {
        double q = metric(base, "fedsched_audit_queued");

        if (q == 0)
            return;
        if (q < 0) {
            usleep(1000 * 1000);
            return;
        }
        usleep(100 * 1000);
    }
    ck_abort_msg("the audit queue did not drain in 30 s");
}

/* ---- load: workers submitting (and cancelling) jobs, each in a namespace of its own, so
 * a job's audit rows are exactly those whose path names that namespace ---- */

struct ack {
    int create;       /* 201 or 200 acknowledged, else 0 */
    int cancel;       /* 200 or 202 acknowledged, else 0 */
    int cancel_tries; /* calls it took */
};

struct worker {
    const char *base;
    char prefix[16];
    bool cancel;       /* also cancel each job once it is acknowledged */
    atomic_bool *stop; /* set by the test; then a worker finishes the job in hand */
    int64_t deadline;  /* clock_mono_ms() past which a retry is abandoned */
    struct ack acks[JOBS_MAX];
    int n_jobs;
    long n503; /* mutating calls answered 503 (audited through the queue) */
    long other;
};

static void job_ns(const struct worker *w, int i, char *out, size_t size)
{
    snprintf(out, size, "%s-%d", w->prefix, i);
}

/* Repeats method path until it is acknowledged (2xx) or the server is gone (status 0,
 * no retry) or the deadline passes. Returns the last status. */
static long until_acked(struct worker *w, const char *method, const char *path, const char *body,
                        int *tries)
{
    for (;;) {
        long st = call(w->base, method, path, body, true);

        if (tries)
            (*tries)++;
        if (st >= 200 && st < 300)
            return st;
        if (st == 503)
            w->n503++;
        else
            w->other++;
        if (st == 0 || clock_mono_ms() > w->deadline)
            return st;
        usleep(20 * 1000);
    }
}

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    char *body = itest_job_body("j", 8, "1");

    for (int i = 0; i < JOBS_MAX && !atomic_load(w->stop); i++) {
        char ns[48], path[160];
        long st;

        job_ns(w, i, ns, sizeof(ns));
        snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs", ns);
        w->n_jobs = i + 1;
        st = until_acked(w, "POST", path, body, NULL);
        if (st != 201 && st != 200)
            break;
        w->acks[i].create = (int)st;
        if (!w->cancel)
            continue;
        snprintf(path, sizeof(path), "/v1/namespaces/%s/trainingjobs/j", ns);
        st = until_acked(w, "DELETE", path, NULL, &w->acks[i].cancel_tries);
        if (st != 200 && st != 202)
            break;
        w->acks[i].cancel = (int)st;
    }
    free(body);
    return NULL;
}

/* Checks every acknowledged call of w against audit_log: a created job has exactly one
 * row with 201, a replay at least one with 200 (one per replay answered), a cancel
 * exactly one with its status when the first call was acknowledged. (A cancel that
 * committed but whose answer was lost to the outage has its row too; the retry then
 * finds the job Cancelled and adds its own.) Adds to the totals what it expected, what
 * it found, and the calls whose rows are wrong in number (missing or too many); names
 * the first of those in *first. */
struct tally {
    long expected, found, wrong;
    char first[160];
};

static void check_one(struct tally *t, const char *ns, const char *what, long n, bool ok)
{
    t->expected++;
    t->found += n > 0;
    if (!ok && t->wrong++ == 0)
        snprintf(t->first, sizeof(t->first), "%s: %s has %ld rows", ns, what, n);
}

static void check_worker(const struct worker *w, struct tally *t)
{
    for (int i = 0; i < w->n_jobs; i++) {
        const struct ack *a = &w->acks[i];
        char ns[48], where[512], what[64];
        long n;

        job_ns(w, i, ns, sizeof(ns));
        if (a->create) {
            snprintf(where, sizeof(where),
                     "method = 'POST' AND path = '/v1/namespaces/%s/trainingjobs' AND status = %d"
                     " AND token_name = 'auditor'",
                     ns, a->create);
            n = count_rows(where);
            snprintf(what, sizeof(what), "submit acknowledged with %d", a->create);
            check_one(t, ns, what, n, a->create == 201 ? n == 1 : n >= 1);
        }
        if (a->cancel) {
            snprintf(where, sizeof(where),
                     "method = 'DELETE' AND path = '/v1/namespaces/%s/trainingjobs/j' AND"
                     " status = %d",
                     ns, a->cancel);
            n = count_rows(where);
            snprintf(what, sizeof(what), "cancel acknowledged with %d after %d calls", a->cancel,
                     a->cancel_tries);
            check_one(t, ns, what, n,
                      a->cancel_tries == 1 ? n == 1 : n >= 1 && n <= a->cancel_tries);
        }
    }
}

static void start_workers(struct worker *ws, pthread_t *t, const char *base, const char *tag,
                          bool cancel, atomic_bool *stop, int64_t deadline)
{
    for (int k = 0; k < WORKERS; k++) {
        memset(&ws[k], 0, sizeof(ws[k]));
        ws[k].base = base;
        snprintf(ws[k].prefix, sizeof(ws[k].prefix), "%s%d", tag, k);
        ws[k].cancel = cancel;
        ws[k].stop = stop;
        ws[k].deadline = deadline;
        ck_assert_int_eq(pthread_create(&t[k], NULL, worker_run, &ws[k]), 0);
    }
}

START_TEST(outage_under_load_loses_no_audit_row)
{
    struct itest_server srv;
    struct worker *ws = xcalloc(WORKERS, sizeof(*ws));
    pthread_t t[WORKERS];
    atomic_bool stop = false;
    struct tally tl = {0};
    long n503 = 0, rows503, jobs = 0;
    int64_t outage_ms;

    setup_db();
    itest_server_start_args(&srv, dsn, tokens_env, serve_args, 1);
    start_workers(ws, t, srv.base, "o", true, &stop, clock_mono_ms() + 60000);
    usleep(1500 * 1000);
    outage_ms = clock_mono_ms();
    itest_pg("kill");
    usleep(6000 * 1000); /* longer than the token cache, the pool's timeouts, the backoff */
    itest_pg("start");
    outage_ms = clock_mono_ms() - outage_ms;
    usleep(2500 * 1000);
    atomic_store(&stop, true);
    for (int k = 0; k < WORKERS; k++)
        pthread_join(t[k], NULL);
    for (int k = 0; k < WORKERS; k++) {
        check_worker(&ws[k], &tl);
        n503 += ws[k].n503;
        jobs += ws[k].n_jobs;
    }
    /* The failures answered during the outage went through the queue: kept, retried, all
     * written once the database was back; none dropped. */
    wait_queue_empty(srv.base);
    rows503 = count_rows("status = 503");
    fprintf(stderr,
            "outage %lld ms: %ld jobs, acknowledged mutations %ld, with their row %ld, wrong "
            "%ld; 503 answers %ld, 503 rows %ld\n",
            (long long)outage_ms, jobs, tl.expected, tl.found, tl.wrong, n503, rows503);
    ck_assert_msg(tl.wrong == 0, "%ld calls with missing or extra rows; first: %s", tl.wrong,
                  tl.first);
    ck_assert_int_eq(tl.found, tl.expected);
    ck_assert_int_gt(tl.expected, 20);
    ck_assert_int_gt(n503, 0); /* the outage was felt */
    ck_assert_int_ge(rows503, n503);
    ck_assert(metric(srv.base, "fedsched_audit_dropped_total") == 0);
    itest_server_stop(&srv, SIGTERM);
    free(ws);
}
END_TEST

START_TEST(kill_9_under_load_loses_no_audit_row)
{
    struct itest_server srv;
    struct worker *ws = xcalloc(WORKERS, sizeof(*ws));
    pthread_t t[WORKERS];
    struct tally tl = {0};

    setup_db();
    for (int round = 0; round < 3; round++) {
        atomic_bool stop = false;
        char tag[8];

        itest_server_start_args(&srv, dsn, tokens_env, serve_args, 1);
        snprintf(tag, sizeof(tag), "k%d", round);
        start_workers(ws, t, srv.base, tag, round == 1, &stop, clock_mono_ms() + 30000);
        usleep(1500 * 1000);
        itest_server_stop(&srv, SIGKILL); /* workers see the connection refused and stop */
        for (int k = 0; k < WORKERS; k++)
            pthread_join(t[k], NULL);
        for (int k = 0; k < WORKERS; k++)
            check_worker(&ws[k], &tl);
    }
    fprintf(stderr, "kill -9 x3: acknowledged mutations %ld, with their row %ld, wrong %ld\n",
            tl.expected, tl.found, tl.wrong);
    ck_assert_msg(tl.wrong == 0, "%ld calls with missing or extra rows; first: %s", tl.wrong,
                  tl.first);
    ck_assert_int_eq(tl.found, tl.expected);
    ck_assert_int_gt(tl.expected, 30);
    free(ws);
}
END_TEST

START_TEST(unauthenticated_flood_is_sampled)
{
    struct itest_server srv;
    char *body = itest_job_body("j", 8, "1");
    long rows, written, sampled;

    setup_db();
    itest_server_start_args(&srv, dsn, tokens_env, serve_args, 1);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(call(srv.base, "POST", "/v1/namespaces/x/trainingjobs", body, false), 401);
    wait_queue_empty(srv.base);
    rows = count_rows("status = 401");
    written = (long)metric(srv.base, "fedsched_audit_unauthenticated_total{outcome=\"written\"}");
    sampled =
        (long)metric(srv.base, "fedsched_audit_unauthenticated_total{outcome=\"sampled_out\"}");
    fprintf(stderr, "1000 unauthenticated POSTs: %ld rows, metric written %ld sampled_out %ld\n",
            rows, written, sampled);
    /* At most the limit per one-minute window; the flood may straddle two windows. */
    ck_assert_int_ge(rows, UNAUTH_LIMIT);
    ck_assert_int_le(rows, 2 * UNAUTH_LIMIT);
    ck_assert_int_eq(written, rows);
    ck_assert_int_eq(written + sampled, 1000);
    /* An authenticated failure is not sampled: each one is written. */
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(call(srv.base, "POST", "/v1/namespaces/x/trainingjobs", "{", true), 400);
    wait_queue_empty(srv.base);
    ck_assert_int_eq(count_rows("status = 400 AND token_name = 'auditor'"), 30);
    /* Queued records are flushed at shutdown, not left behind. */
    for (int i = 0; i < 20; i++)
        ck_assert_int_eq(call(srv.base, "POST", "/v1/namespaces/x/trainingjobs", "{", true), 400);
    itest_server_stop(&srv, SIGTERM);
    ck_assert_int_eq(count_rows("status = 400 AND token_name = 'auditor'"), 50);
    free(body);
}
END_TEST

/* Each transactional mutation writes one row, with the status it answered (the generic
 * row is not added on top), and its failures are audited through the queue. */
START_TEST(each_mutation_records_one_row_with_its_status)
{
    static const struct {
        const char *method, *path, *body;
        long status;
    } calls[] = {
        {"PUT", "/v1/clusters/c1",
         "{\"apiServer\": \"http://127.0.0.1:1\", \"allowInsecureHttp\": true}", 201},
        {"PUT", "/v1/clusters/c1",
         "{\"apiServer\": \"http://127.0.0.1:2\", \"allowInsecureHttp\": true}", 200},
        {"POST", "/v1/clusters/c1/cordon", NULL, 200},
        {"POST", "/v1/clusters/c1/uncordon", NULL, 200},
        {"DELETE", "/v1/clusters/c1", NULL, 200},
        {"DELETE", "/v1/clusters/c1", NULL, 404},
        {"POST", "/v1/clusters/nope/cordon", NULL, 404},
        {"POST", "/v1/namespaces/m/trainingjobs", NULL, 201},
        {"POST", "/v1/namespaces/m/trainingjobs", NULL, 200},              /* idempotent replay */
        {"POST", "/v1/namespaces/m/trainingjobs/j/checkpoint", NULL, 409}, /* Queued */
        {"DELETE", "/v1/namespaces/m/trainingjobs/j", NULL, 200},
        {"DELETE", "/v1/namespaces/m/trainingjobs/j", NULL, 200}, /* already Cancelled */
        {"DELETE", "/v1/namespaces/m/trainingjobs/none", NULL, 404},
    };
    struct itest_server srv;
    char *job = itest_job_body("j", 8, "1"), *dry = itest_job_body("dry", 8, "1");
    const size_t n = sizeof(calls) / sizeof(calls[0]);

    setup_db();
    itest_server_start_args(&srv, dsn, tokens_env, serve_args, 1);
    for (size_t i = 0; i < n; i++) {
        const char *body = calls[i].body;

        if (!body && strcmp(calls[i].path, "/v1/namespaces/m/trainingjobs") == 0)
            body = job;
        ck_assert_msg(call(srv.base, calls[i].method, calls[i].path, body, true) == calls[i].status,
                      "%s %s", calls[i].method, calls[i].path);
    }
    wait_queue_empty(srv.base);
    ck_assert_int_eq(count_rows("true"), (long)n);
    for (size_t i = 0; i < n; i++) {
        char where[512];
        long want = 0;

        for (size_t k = 0; k < n; k++)
            want += strcmp(calls[k].method, calls[i].method) == 0 &&
                    strcmp(calls[k].path, calls[i].path) == 0 && calls[k].status == calls[i].status;
        snprintf(where, sizeof(where),
                 "method = '%s' AND path = '%s' AND status = %ld AND token_name = 'auditor'"
                 " AND role = 'admin' AND remote = '127.0.0.1'",
                 calls[i].method, calls[i].path, calls[i].status);
        ck_assert_msg(count_rows(where) == want, "%s %s %ld: want %ld rows", calls[i].method,
                      calls[i].path, calls[i].status, want);
    }
    /* Namespaced calls name their namespace. */
    ck_assert_int_eq(count_rows("path LIKE '/v1/namespaces/m/%' AND namespace = 'm'"), 6);
    /* A dry run is recorded as a POST that changed nothing: one row, detail dryRun. */
    ck_assert_int_eq(call(srv.base, "POST", "/v1/namespaces/m/trainingjobs?dryRun=All", dry, true),
                     200);
    wait_queue_empty(srv.base);
    ck_assert_int_eq(count_rows("true"), (long)n + 1);
    ck_assert_int_eq(count_rows("method = 'POST' AND path LIKE '/v1/namespaces/m/trainingjobs%'"
                                " AND status = 200 AND detail = 'dryRun' AND namespace = 'm'"),
                     1);
    ck_assert_int_eq(count_rows("detail = 'dryRun'"), 1);
    itest_server_stop(&srv, SIGTERM);
    free(dry);
    free(job);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("audit");
    TCase *tc = tcase_create("audit");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, each_mutation_records_one_row_with_its_status);
    tcase_add_test(tc, unauthenticated_flood_is_sampled);
    tcase_add_test(tc, kill_9_under_load_loses_no_audit_row);
    tcase_add_test(tc, outage_under_load_loses_no_audit_row);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
