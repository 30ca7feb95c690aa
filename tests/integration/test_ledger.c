/* test_ledger.c -- the lost-work ledger (issue 16): store_sched_apply() writes a row for a
 * reclaim, a priority preemption and a failure retry, on the cluster, pool and placed SKU
 * the job ran on, and its events record them; GET /v1/reclaims filters, pages and scopes
 * by namespace; the Prometheus counters equal the table; and after borrowed jobs are
 * reclaimed at peak by the real scheduler, the endpoint and the counters agree with
 * SELECT * FROM reclaims. */
#include "tests/integration/test_sched_env.h"

#include "base/buf.h"
#include "store/election.h"
#include "store/live_jobs.h"
#include "store/store.h"
#include "tests/support/defaults.h"
#include "tests/support/promtext.h"

#include <check.h>
#include <inttypes.h>
#include <math.h>

/* ---- helpers ------------------------------------------------------------------------------ */

/* One request with a token (NULL: none) to base + path. Returns the status; *body. */
static long call(const char *base, const char *token, const char *path, char **body)
{
    char url[1024], auth[128];
    const char *hdr[2] = {NULL, NULL};

    snprintf(url, sizeof(url), "%s%s", base, path);
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        hdr[0] = auth;
    }
    return itest_http("GET", url, hdr, NULL, body);
}

/* GET path as JSON with status 200. Caller json_decref()s. */
static json_t *get_ok(const char *base, const char *token, const char *path)
{
    char *body = NULL;
    long st = call(base, token, path, &body);
    json_t *j;

    ck_assert_msg(st == 200, "GET %s: %ld: %s", path, st, body);
    j = json_loads(body, 0, NULL);
    ck_assert_msg(j != NULL, "GET %s: not JSON: %s", path, body);
    free(body);
    return j;
}

/* Every item of the list at path (which has a query; limit sets the page), following
 * continue tokens. *pages counts the pages. Caller json_decref()s the array. */
static json_t *get_all(const char *base, const char *token, const char *path, int *pages)
{
    json_t *all = json_array(), *page;
    char p[1024];
    const char *cont;

    snprintf(p, sizeof(p), "%s", path);
    *pages = 0;
    for (;;) {
        page = get_ok(base, token, p);
        ck_assert_str_eq(json_string_value(json_object_get(page, "kind")), "ReclaimList");
        json_array_extend(all, json_object_get(page, "items"));
        (*pages)++;
        ck_assert_int_lt(*pages, 1000);
        cont = json_string_value(json_object_get(json_object_get(page, "metadata"), "continue"));
        if (!cont) {
            json_decref(page);
            return all;
        }
        snprintf(p, sizeof(p), "%s&continue=%s", path, cont);
        json_decref(page);
    }
}

static int64_t ms_of(json_t *item, const char *key)
{
    json_t *v = json_object_get(item, key);
    int64_t ms = 0;

    if (json_is_null(v))
        return 0;
    ck_assert_msg(json_is_string(v), "%s is not a string", key);
    ck_assert_int_eq(clock_parse_rfc3339(json_string_value(v), &ms), 0);
    return ms;
}

/* An item as one line, in the form the SQL of ledger_sql() writes a row. */
static void item_line(json_t *x, char *out, size_t size)
{
    json_t *job = json_object_get(x, "job");
    const char *pool = json_string_value(json_object_get(x, "pool"));

    snprintf(out, size, "%s/%s/%s/%d/%s/%s/%s/%s/%s/%d/%.6f/%" PRId64 "/%" PRId64,
             json_string_value(json_object_get(job, "namespace")),
             json_string_value(json_object_get(job, "name")),
             json_string_value(json_object_get(job, "uid")),
             (int)json_integer_value(json_object_get(x, "attempt")),
             json_string_value(json_object_get(x, "cluster")), pool ? pool : "",
             json_string_value(json_object_get(x, "sku")),
             json_string_value(json_object_get(x, "cause")),
             json_string_value(json_object_get(x, "reason")),
             (int)json_integer_value(json_object_get(x, "gpus")),
             json_real_value(json_object_get(x, "lostGpuHours")), ms_of(x, "requestedAt"),
             ms_of(x, "freedAt"));
}

/* The whole table, one line per row in id order, joined by '\n' ("" when empty). */
static char *ledger_sql(const char *dsn)
{
    char *v = itest_sql(
        dsn, "SELECT COALESCE(string_agg(j.namespace || '/' || j.name || '/' || j.uid || '/' ||"
             " r.attempt || '/' || r.cluster || '/' || COALESCE(r.pool, '') || '/' || r.sku ||"
             " '/' || r.cause || '/' || r.reason || '/' || r.gpus || '/' ||"
             " to_char(r.lost_gpu_hours, 'FM999999990.000000') || '/' ||"
             " (extract(epoch FROM r.requested_at) * 1000)::bigint || '/' ||"
             " COALESCE((extract(epoch FROM r.freed_at) * 1000)::bigint, 0), E'\\n'"
             " ORDER BY r.id), '') FROM reclaims r JOIN jobs j ON j.id = r.job_id");

    return v ? v : xstrdup("");
}

/* The items as ledger_sql() lines. Caller frees. */
static char *items_lines(json_t *items)
{
    struct buf b;
    size_t i;
    json_t *x;

    buf_init(&b, 0);
    json_array_foreach(items, i, x)
    {
        char line[1024];

        item_line(x, line, sizeof(line));
        if (i)
            buf_puts(&b, "\n");
        buf_puts(&b, line);
    }
    return buf_steal(&b);
}

/* /metrics, checked by the strict exposition checker and by promtool. Caller frees. */
static char *scrape(const char *base, const char *token)
{
    char *body = NULL, err[256];

    ck_assert_int_eq(call(base, token, "/metrics", &body), 200);
    ck_assert_msg(promtext_check(body, strlen(body), NULL, err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(promtext_promtool(body, strlen(body), err, sizeof(err)) == 0 && err[0] == '\0',
                  "promtool check metrics: %s", err);
    return body;
}

/* The value of one series (-1 when absent). */
static double series(const char *text, const char *family, const char *cluster, const char *sku,
                     const char *cause)
{
    char key[512];
    const char *p;

    snprintf(key, sizeof(key), "\n%s{cluster=\"%s\",sku=\"%s\",cause=\"%s\"} ", family, cluster,
             sku, cause);
    p = strstr(text, key);
    return p ? strtod(p + strlen(key), NULL) : -1;
}

/* Checks every (cluster, sku, cause) of the table against both counters, and that the
 * counters have no other series. Returns the number of series. */
static int check_counters(const char *dsn, const char *text)
{
    char *rows = itest_sql(dsn, "SELECT COALESCE(string_agg(cluster || '|' || sku || '|' ||"
                                " cause || '|' || n || '|' || lost, ';'), '') FROM (SELECT"
                                " cluster, sku, cause, count(*) AS n, sum(lost_gpu_hours) AS lost"
                                " FROM reclaims GROUP BY 1, 2, 3) g");
    char *save = NULL;
    int n = 0, lines = 0;

    for (char *r = strtok_r(rows, ";", &save); r; r = strtok_r(NULL, ";", &save)) {
        char cl[64], sku[32], cause[16];
        long count;
        double lost;

        ck_assert_int_eq(
            sscanf(r, "%63[^|]|%31[^|]|%15[^|]|%ld|%lf", cl, sku, cause, &count, &lost), 5);
        ck_assert_double_eq_tol(series(text, "fedsched_preemptions_total", cl, sku, cause),
                                (double)count, 1e-9);
        ck_assert_double_eq_tol(series(text, "fedsched_lost_gpu_seconds_total", cl, sku, cause),
                                lost * 3600.0, 1e-6);
        n++;
    }
    free(rows);
    for (const char *p = text; (p = strstr(p, "\nfedsched_preemptions_total{")); p++)
        lines++;
    ck_assert_int_eq(lines, n);
    lines = 0;
    for (const char *p = text; (p = strstr(p, "\nfedsched_lost_gpu_seconds_total{")); p++)
        lines++;
    ck_assert_int_eq(lines, n);
    return n;
}

/* ---- the store writes the ledger ---------------------------------------------------------- */

struct fixture {
    char dsn[1024];
    struct store *s;
    struct store_leader *l;
    int64_t epoch;
};

static int64_t job_id(struct fixture *f, const char *name)
{
    char sql[256], *v;
    int64_t id;

    snprintf(sql, sizeof(sql), "SELECT id FROM jobs WHERE name = '%s'", name);
    v = itest_sql(f->dsn, sql);
    ck_assert_ptr_nonnull(v);
    id = strtoll(v, NULL, 10);
    free(v);
    return id;
}

/* Applies t (its job at attempt, from `from`) and requires that it applied. */
static void apply(struct fixture *f, struct store_transition *t)
{
    bool applied = false;
    struct err e = {0};

    ck_assert_msg(store_sched_apply(f->s, f->epoch, t, 1, &applied, &e) == 0, "%s", e.msg);
    ck_assert_msg(applied, "%s -> %s not applied", job_phase_name(t->from), job_phase_name(t->to));
}

static void move(struct fixture *f, int64_t id, int attempt, enum job_phase from, enum job_phase to)
{
    struct store_transition t = {
        .job_id = id, .from = from, .attempt = attempt, .to = to, .reason = "Test"};

    apply(f, &t);
}

static void admit(struct fixture *f, int64_t id, const char *cluster, const char *pool,
                  const char *sku)
{
    struct store_transition t = {.job_id = id,
                                 .from = PHASE_QUEUED,
                                 .to = PHASE_ADMITTED,
                                 .cluster = cluster,
                                 .pool = pool,
                                 .sku = sku,
                                 .plan = &(struct job_node_use){"n1", 8},
                                 .n_plan = 1};

    apply(f, &t);
}

static char *sql1(struct fixture *f, const char *sql)
{
    char *v = itest_sql(f->dsn, sql);

    ck_assert_msg(v != NULL, "no row: %s", sql);
    return v;
}

#define ASSERT_SQL(f, sql, want)                                                                   \
    do {                                                                                           \
        char *got_ = sql1(f, sql);                                                                 \
        ck_assert_msg(strcmp(got_, want) == 0, "%s: got \"%s\", want \"%s\"", sql, got_, want);    \
        free(got_);                                                                                \
    } while (0)

START_TEST(apply_writes_rows_for_all_three_causes)
{
    struct fixture f = {0};
    struct store_config sc = {0};
    struct err e = {0};
    bool acquired = false, applied = true;
    int64_t j1, j2, j3;

    itest_create_db(f.dsn, sizeof(f.dsn));
    defaults_store(&sc, f.dsn, 2);
    ck_assert_int_eq(store_open(&sc, &f.s, &e), 0);
    ck_assert_msg(store_migrate(f.s, NULL, &e) == 0, "%s", e.msg);
    free(itest_sql(f.dsn, "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count,"
                          " gpus_per_worker) VALUES"
                          " ('led', 'j1', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8),"
                          " ('led', 'j2', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8),"
                          " ('led', 'j3', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8)"));
    ck_assert_int_eq(store_leader_open(f.dsn, "one", &f.l, &e), 0);
    ck_assert_int_eq(store_leader_try(f.l, &acquired, &f.epoch, &e), 0);
    ck_assert(acquired);
    j1 = job_id(&f, "j1");
    j2 = job_id(&f, "j2");
    j3 = job_id(&f, "j3");

    /* j1: borrowed on c1 (placed on its alternative SKU), reclaimed, requeued. */
    admit(&f, j1, "c1", "serving-borrowed", "h100-80gb");
    move(&f, j1, 0, PHASE_ADMITTED, PHASE_DISPATCHED);
    move(&f, j1, 0, PHASE_DISPATCHED, PHASE_RUNNING);
    {
        struct store_transition t = {.job_id = j1,
                                     .from = PHASE_RUNNING,
                                     .to = PHASE_PREEMPTING,
                                     .reason = "ServingDemand",
                                     .reclaim_reason = "deficit",
                                     .gpus = 8,
                                     .deficit = 3,
                                     .lost_gpu_hours = 1.5,
                                     .snapshot_ms = clock_realtime_ms()};

        apply(&f, &t);
    }
    ASSERT_SQL(&f, "SELECT count(*) FROM reclaims WHERE freed_at IS NULL", "1");
    {
        struct store_transition t = {.job_id = j1,
                                     .from = PHASE_PREEMPTING,
                                     .to = PHASE_QUEUED,
                                     .reason = "Preempted",
                                     .preempted = true};

        apply(&f, &t);
    }
    /* j2: preempted by priority on c2, still Preempting. */
    admit(&f, j2, "c2", "training", "a100-80gb");
    move(&f, j2, 0, PHASE_ADMITTED, PHASE_RUNNING);
    {
        struct store_transition t = {.job_id = j2,
                                     .from = PHASE_RUNNING,
                                     .to = PHASE_PREEMPTING,
                                     .reason = "Preempted",
                                     .reclaim_reason = "priority",
                                     .gpus = 8,
                                     .lost_gpu_hours = 0.25};

        apply(&f, &t);
    }
    /* j3: failed on c1 and retried: requeued with retry. */
    admit(&f, j3, "c1", "training", "a100-80gb");
    move(&f, j3, 0, PHASE_ADMITTED, PHASE_RUNNING);
    {
        struct store_transition t = {.job_id = j3,
                                     .from = PHASE_RUNNING,
                                     .to = PHASE_QUEUED,
                                     .reason = "Retrying",
                                     .retry = true,
                                     .gpus = 8,
                                     .lost_gpu_hours = 2.0};

        apply(&f, &t);
        /* The same transition again is stale (j3 is Queued at attempt 1): no second row. */
        ck_assert_int_eq(store_sched_apply(f.s, f.epoch, &t, 1, &applied, &e), 0);
        ck_assert(!applied);
    }

    ASSERT_SQL(&f, "SELECT count(*) FROM reclaims", "3");
    ASSERT_SQL(&f,
               "SELECT string_agg(j.name || ' ' || r.cause || ' ' || r.reason || ' ' || r.cluster"
               " || ' ' || COALESCE(r.pool, '-') || ' ' || r.sku || ' ' || r.attempt || ' ' ||"
               " r.gpus || ' ' || r.lost_gpu_hours || ' ' || (r.freed_at IS NOT NULL), ', '"
               " ORDER BY j.name) FROM reclaims r JOIN jobs j ON j.id = r.job_id",
               "j1 reclaim deficit c1 serving-borrowed h100-80gb 0 8 1.5 true, "
               "j2 preemption priority c2 training a100-80gb 0 8 0.25 false, "
               "j3 retry retry c1 training a100-80gb 0 8 2 true");
    /* The retry's work is gone when it is written; the reclaim's when the job left. */
    ASSERT_SQL(&f, "SELECT count(*) FROM reclaims WHERE freed_at < requested_at", "0");
    ASSERT_SQL(&f,
               "SELECT retries || ' ' || attempt || ' ' || COALESCE(cluster, '-') FROM jobs"
               " WHERE name = 'j3'",
               "1 1 -");
    /* Events record where each transition happened: the placement's cluster, pool and SKU
     * from Admitted on, and on the requeue the ones the job left. */
    ASSERT_SQL(&f,
               "SELECT string_agg(e.to_phase || ' ' || COALESCE(e.cluster, '-') || ' ' ||"
               " COALESCE(e.pool, '-') || ' ' || COALESCE(e.sku, '-'), ', ' ORDER BY e.id)"
               " FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'j1'",
               "Admitted c1 serving-borrowed h100-80gb, Dispatched c1 serving-borrowed h100-80gb, "
               "Running c1 serving-borrowed h100-80gb, Preempting c1 serving-borrowed h100-80gb, "
               "Queued c1 serving-borrowed h100-80gb");
    ASSERT_SQL(&f,
               "SELECT string_agg(e.to_phase || ' ' || COALESCE(e.cluster, '-'), ', ' ORDER BY"
               " e.id) FROM job_events e JOIN jobs j ON j.id = e.job_id WHERE j.name = 'j3'",
               "Admitted c1, Running c1, Queued c1");
    store_leader_close(&f.l);
    store_close(&f.s);
}
END_TEST

/* ---- GET /v1/reclaims and the counters over a known ledger -------------------------------- */

static struct itest_server srv;
static char api_dsn[1024];
static char tok_admin[64], tok_sub_a[64], tok_view_a[64], tok_view_all[64], tok_sub_c[64];

/* Five rows: team-a's a1 (twice) and a2, team-b's b1 (twice); every cause. */
static const char seed[] =
    "INSERT INTO jobs (namespace, name, api_version, spec, sku, gpu_count, gpus_per_worker,"
    " phase) VALUES ('team-a', 'a1', 'fedsched.io/v1', '{}', 'a100-80gb', 8, 8, 'Succeeded'),"
    " ('team-a', 'a2', 'fedsched.io/v1', '{}', 'h100-80gb', 8, 8, 'Succeeded'),"
    " ('team-b', 'b1', 'fedsched.io/v1', '{}', 'a100-80gb', 4, 4, 'Succeeded');"
    "INSERT INTO reclaims (job_id, namespace, cluster, sku, pool, attempt, reason, gpus,"
    " lost_gpu_hours, requested_at, freed_at)"
    " SELECT j.id, j.namespace, v.cluster, v.sku, v.pool, v.attempt, v.reason, v.gpus, v.lost,"
    " v.req::timestamptz, v.freed::timestamptz FROM (VALUES"
    " (1, 'a1', 'c1', 'h100-80gb', 'serving-borrowed', 0, 'deficit', 8, 2.5,"
    "  '2026-01-01T00:10:00Z', '2026-01-01T00:11:00Z'),"
    " (2, 'a1', 'c2', 'a100-80gb', 'training', 1, 'priority', 8, 1.25,"
    "  '2026-01-01T00:20:00Z', '2026-01-01T00:21:00Z'),"
    " (3, 'b1', 'c1', 'a100-80gb', 'training', 0, 'retry', 4, 0.5,"
    "  '2026-01-01T00:30:00Z', '2026-01-01T00:30:00Z'),"
    " (4, 'b1', 'c2', 'l4', NULL, 1, 'quota', 2, 0.125, '2026-01-01T00:40:00Z', NULL),"
    " (5, 'a2', 'c1', 'h100-80gb', 'serving-borrowed', 0, 'lease_end', 8, 0.75,"
    "  '2026-01-01T00:50:00Z', '2026-01-01T00:52:00Z')"
    ") AS v(seq, name, cluster, sku, pool, attempt, reason, gpus, lost, req, freed)"
    " JOIN jobs j ON j.name = v.name ORDER BY v.seq";

static void api_setup(void)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};

    itest_create_db(api_dsn, sizeof(api_dsn));
    itest_server_start(&srv, api_dsn, env, 1);
    free(itest_sql(api_dsn, seed));
    itest_create_token(api_dsn, "admin", "admin", NULL, tok_admin);
    itest_create_token(api_dsn, "sub-a", "submitter", "team-a", tok_sub_a);
    itest_create_token(api_dsn, "view-a", "viewer", "team-a", tok_view_a);
    itest_create_token(api_dsn, "view-all", "viewer", NULL, tok_view_all);
    itest_create_token(api_dsn, "sub-c", "submitter", "team-c", tok_sub_c);
}

static void api_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
}

/* The jobs' names of the items at path (one page of up to 100), as "a1,a1,b1". */
static void names(const char *token, const char *path, char *out, size_t size)
{
    json_t *j = get_ok(srv.base, token, path), *x;
    size_t i, used = 0;

    out[0] = '\0';
    json_array_foreach(json_object_get(j, "items"), i, x)
    {
        used +=
            (size_t)snprintf(out + used, size - used, "%s%s", i ? "," : "",
                             json_string_value(json_object_get(json_object_get(x, "job"), "name")));
    }
    json_decref(j);
}

#define ASSERT_NAMES(token, path, want)                                                            \
    do {                                                                                           \
        char got_[256];                                                                            \
        names(token, path, got_, sizeof(got_));                                                    \
        ck_assert_msg(strcmp(got_, want) == 0, "%s: got \"%s\", want \"%s\"", path, got_, want);   \
    } while (0)

START_TEST(list_renders_rows_and_filters)
{
    json_t *j = get_ok(srv.base, tok_admin, "/v1/reclaims"), *items = json_object_get(j, "items");
    json_t *x = json_array_get(items, 1), *y = json_array_get(items, 3);
    char *want = ledger_sql(api_dsn), *got = items_lines(items);

    ck_assert_int_eq(json_array_size(items), 5);
    ck_assert_str_eq(got, want); /* every field of every row, in id order */
    ck_assert_str_eq(json_string_value(json_object_get(x, "cause")), "preemption");
    ck_assert_str_eq(json_string_value(json_object_get(x, "reason")), "priority");
    ck_assert_str_eq(json_string_value(json_object_get(x, "requestedAt")),
                     "2026-01-01T00:20:00.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(x, "freedAt")), "2026-01-01T00:21:00.000Z");
    ck_assert_double_eq_tol(json_real_value(json_object_get(x, "lostGpuHours")), 1.25, 1e-12);
    ck_assert(json_is_null(json_object_get(y, "freedAt"))); /* GPUs not free yet */
    ck_assert(json_is_null(json_object_get(y, "pool")));
    ck_assert_ptr_null(json_object_get(json_object_get(j, "metadata"), "continue"));
    free(want);
    free(got);
    json_decref(j);

    ASSERT_NAMES(tok_admin, "/v1/reclaims?cluster=c1", "a1,b1,a2");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?namespace=team-b", "b1,b1");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?sku=a100-80gb", "a1,b1");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?cause=reclaim", "a1,b1,a2");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?cause=preemption", "a1");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?cause=retry", "b1");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?cluster=c1&cause=reclaim", "a1,a2");
    /* since is inclusive, until exclusive */
    ASSERT_NAMES(tok_admin, "/v1/reclaims?since=2026-01-01T00:20:00Z&until=2026-01-01T00:50:00Z",
                 "a1,b1,b1");
    ASSERT_NAMES(tok_admin, "/v1/reclaims?since=2026-01-01T01:00:00Z", "");
}
END_TEST

START_TEST(pages_follow_the_continue_token)
{
    int pages = 0;
    json_t *all = get_all(srv.base, tok_admin, "/v1/reclaims?limit=2", &pages);
    char *got = items_lines(all), *want = ledger_sql(api_dsn), *body = NULL;
    json_t *first = get_ok(srv.base, tok_admin, "/v1/reclaims?limit=2&cluster=c1");
    const char *tok =
        json_string_value(json_object_get(json_object_get(first, "metadata"), "continue"));
    char path[512];

    ck_assert_int_eq(pages, 3);
    ck_assert_str_eq(got, want);
    json_decref(all);
    free(got);
    /* Filtered pages: c1 has three rows. */
    all = get_all(srv.base, tok_admin, "/v1/reclaims?limit=1&cluster=c1", &pages);
    ck_assert_int_eq(pages, 3);
    ck_assert_int_eq(json_array_size(all), 3);
    json_decref(all);
    /* A token replayed with other filters is refused. */
    ck_assert_ptr_nonnull(tok);
    snprintf(path, sizeof(path), "/v1/reclaims?limit=2&cluster=c2&continue=%s", tok);
    ck_assert_int_eq(call(srv.base, tok_admin, path, &body), 400);
    ck_assert_ptr_nonnull(strstr(body, "\"continue\""));
    free(body);
    json_decref(first);
    free(want);
}
END_TEST

static void expect_error(const char *path, long status, const char *field)
{
    char *body = NULL;
    long st = call(srv.base, tok_admin, path, &body);
    json_t *j;

    ck_assert_msg(st == status, "%s: %ld, want %ld: %s", path, st, status, body);
    j = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                     field);
    json_decref(j);
    free(body);
}

START_TEST(bad_filters_name_their_field)
{
    expect_error("/v1/reclaims?cause=eviction", 400, "cause");
    expect_error("/v1/reclaims?since=yesterday", 400, "since");
    expect_error("/v1/reclaims?until=2026-13-01T00:00:00Z", 400, "until");
    expect_error("/v1/reclaims?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", 422,
                 "until");
    expect_error("/v1/reclaims?limit=0", 400, "limit");
    expect_error("/v1/reclaims?limit=1001", 400, "limit");
    expect_error("/v1/reclaims?sku=z80", 400, "sku");
    expect_error("/v1/reclaims?continue=garbage", 400, "continue");
    expect_error("/v1/reclaims?clusters=c1", 400, "clusters");
}
END_TEST

START_TEST(callers_see_their_namespaces)
{
    char *body = NULL;

    ck_assert_int_eq(call(srv.base, NULL, "/v1/reclaims", &body), 401);
    free(body);
    ASSERT_NAMES(tok_sub_a, "/v1/reclaims", "a1,a1,a2");
    ASSERT_NAMES(tok_view_a, "/v1/reclaims", "a1,a1,a2");
    ASSERT_NAMES(tok_view_all, "/v1/reclaims", "a1,a1,b1,b1,a2");
    ASSERT_NAMES(tok_sub_c, "/v1/reclaims", "");
    ASSERT_NAMES(tok_sub_a, "/v1/reclaims?cause=reclaim", "a1,a2");
    ck_assert_int_eq(call(srv.base, tok_sub_a, "/v1/reclaims?namespace=team-b", &body), 403);
    ck_assert_ptr_nonnull(strstr(body, "namespace"));
    free(body);
}
END_TEST

START_TEST(counters_equal_the_ledger_and_only_grow)
{
    char *text = scrape(srv.base, tok_admin), *after;

    /* c1/h100-80gb reclaims: a1's deficit and a2's lease end. */
    ck_assert_double_eq_tol(
        series(text, "fedsched_preemptions_total", "c1", "h100-80gb", "reclaim"), 2, 1e-12);
    ck_assert_double_eq_tol(
        series(text, "fedsched_lost_gpu_seconds_total", "c1", "h100-80gb", "reclaim"), 3.25 * 3600,
        1e-9);
    ck_assert_double_eq_tol(
        series(text, "fedsched_preemptions_total", "c2", "a100-80gb", "preemption"), 1, 1e-12);
    ck_assert_double_eq_tol(
        series(text, "fedsched_lost_gpu_seconds_total", "c1", "a100-80gb", "retry"), 0.5 * 3600,
        1e-9);
    ck_assert_int_eq(check_counters(api_dsn, text), 4);
    /* One more retry on c1: its series goes up by one row's worth, no other moves. */
    free(itest_sql(api_dsn, "INSERT INTO reclaims (job_id, namespace, cluster, sku, pool, attempt,"
                            " reason, gpus, lost_gpu_hours, freed_at) SELECT id, namespace, 'c1',"
                            " 'a100-80gb', 'training', 2, 'retry', 4, 0.25, now() FROM jobs"
                            " WHERE name = 'b1'"));
    after = scrape(srv.base, tok_admin);
    ck_assert_double_eq_tol(series(after, "fedsched_preemptions_total", "c1", "a100-80gb", "retry"),
                            2, 1e-12);
    ck_assert_double_eq_tol(
        series(after, "fedsched_lost_gpu_seconds_total", "c1", "a100-80gb", "retry"), 0.75 * 3600,
        1e-9);
    ck_assert_double_eq_tol(
        series(after, "fedsched_preemptions_total", "c1", "h100-80gb", "reclaim"), 2, 1e-12);
    ck_assert_int_eq(check_counters(api_dsn, after), 4);
    free(itest_sql(api_dsn, "DELETE FROM reclaims WHERE attempt = 2"));
    free(text);
    free(after);
}
END_TEST

/* ---- end to end: off-peak borrowing, reclaim at peak -------------------------------------- */

static struct senv env;

static void e2e_teardown(void)
{
    senv_stop(&env);
}

/* Preemptible jobs borrow the serving pool off-peak; the diurnal demand rises and the
 * scheduler reclaims them; once every job has finished, the endpoint (paged) lists exactly
 * the table's rows, the counters equal its sums, and every Preempting event names the
 * cluster, pool and SKU of its ledger row. */
START_TEST(reclaims_at_peak_agree_with_the_table)
{
    char name[32], *want, *got, *text;
    json_t *all;
    int pages = 0;
    long reclaimed;
    int64_t deadline;

    senv_sim(&env, "testdata/sim/sched-peak.json");
    senv_config(
        &env,
        "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"
        "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 5,"
        "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"
        "\"leaderRenewMs\": 200, \"jobAnnotations\":"
        " {\"sim.fedsched.io/duration-seconds\": \"36000\"}},"
        "\"policy\": {\"reclaim_k\": 2, \"min_runtime_s\": 0,"
        " \"reclaim_rate_per_hour\": 36000, \"reclaim_burst\": 50,"
        " \"relend_backoff_s\": 3, \"relend_backoff_max_s\": 6,"
        " \"min_lease_s\": 0, \"grace_period_s\": 1}",
        "",
        "{\"nodeSelector\": {\"fedsched.io/pool\": \"serving\"}, \"namespaces\":"
        " [\"serving\"], \"reserveGpus\": 1, \"lendPolicy\": \"window\","
        " \"lendingWindows\": [{\"start\": \"00:00\", \"end\": \"00:00\"}]}");
    senv_serve(&env, 0, NULL);
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof(name), "borrow-%d", i);
        free(senv_submit(env.srv[0].base, "team-p", name, "l4", 4, NULL,
                         "\"preemptible\": true, \"priority\": 1, \"maxRuntimeSeconds\":"
                         " 600, \"checkpointIntervalSeconds\": 60"));
    }
    deadline = clock_mono_ms() + 90000;
    while (senv_sql_long(&env, "SELECT count(*) FROM jobs WHERE phase NOT IN ('Succeeded',"
                               " 'Failed', 'Cancelled')") > 0) {
        ck_assert_msg(clock_mono_ms() < deadline, "jobs still running after 90 s");
        usleep(200 * 1000);
    }
    reclaimed = senv_sql_long(&env, "SELECT count(*) FROM reclaims");
    fprintf(stderr, "reclaims_at_peak_agree_with_the_table: %ld reclaims\n", reclaimed);
    ck_assert_int_ge(reclaimed, 1);
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM reclaims WHERE freed_at IS NULL"
                                         " OR cause <> 'reclaim' OR cluster <> 'serve'"
                                         " OR pool <> 'serving-borrowed' OR sku <> 'l4'"),
                     0);
    /* The endpoint, a page of one row at a time, is the table. */
    all = get_all(env.srv[0].base, NULL, "/v1/reclaims?limit=1", &pages);
    got = items_lines(all);
    want = ledger_sql(env.dsn);
    ck_assert_int_eq(json_array_size(all), (size_t)reclaimed);
    ck_assert_int_eq(pages, reclaimed);
    ck_assert_str_eq(got, want);
    json_decref(all);
    free(got);
    free(want);
    /* The counters are the table's sums. */
    text = scrape(env.srv[0].base, NULL);
    ck_assert_int_eq(check_counters(env.dsn, text), 1);
    ck_assert_double_eq_tol(series(text, "fedsched_preemptions_total", "serve", "l4", "reclaim"),
                            (double)reclaimed, 1e-12);
    free(text);
    /* Each Preempting event records where the job ran, as its ledger row does. */
    ck_assert_int_eq(senv_sql_long(&env, "SELECT count(*) FROM job_events e JOIN reclaims r ON"
                                         " r.job_id = e.job_id AND e.to_phase = 'Preempting'"
                                         " AND e.cluster = r.cluster AND e.pool = r.pool"
                                         " AND e.sku = r.sku"),
                     reclaimed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ledger");
    TCase *store = tcase_create("store"), *api = tcase_create("api"), *e2e = tcase_create("e2e");
    SRunner *sr;
    int failed;

    tcase_add_test(store, apply_writes_rows_for_all_three_causes);
    suite_add_tcase(s, store);
    tcase_add_unchecked_fixture(api, api_setup, api_teardown);
    tcase_set_timeout(api, 60);
    tcase_add_test(api, list_renders_rows_and_filters);
    tcase_add_test(api, pages_follow_the_continue_token);
    tcase_add_test(api, bad_filters_name_their_field);
    tcase_add_test(api, callers_see_their_namespaces);
    tcase_add_test(api, counters_equal_the_ledger_and_only_grow);
    suite_add_tcase(s, api);
    tcase_add_checked_fixture(e2e, NULL, e2e_teardown);
    tcase_set_timeout(e2e, 180);
    tcase_add_test(e2e, reclaims_at_peak_agree_with_the_table);
    suite_add_tcase(s, e2e);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
