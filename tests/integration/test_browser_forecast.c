/* test_browser_forecast.c -- serving-demand forecast against actual (issue 17, acceptance
 * 5): simulated member clusters (`fedsched-kubesim`), `fedsched serve` against them and a
 * fresh database holding eight days of sim-west's serving samples (a known pattern by hour
 * of day). The capacity report carries, per serving step, the forecast the pattern gives
 * and the mean actual (JSON, CSV, Markdown and HTML). The clusters view's chart, in real headless
 * Chromium: tests/browser/forecast.test.js
 * checks that the chart draws (the actual and p50 paths with their points, the p50..p95
 * band) and that every number the page prints equals the API's: now (actual serving GPUs
 * from GET /v1/clusters, p50 and p95 from GET /v1/capacity), the past 24 hours by 15
 * minutes (GET /v1/reports/capacity) and the next 24 hours (GET /v1/capacity); and for
 * sim-onprem's L4 serving pool, whose autoscaler wants 4 replicas of 2 GPUs while 1 exists
 * (announced 6) and whose demand query (a fake Prometheus wanting 12 in all) adds 4, the
 * announced serving GPUs (10), the demand bar (pending + announced + reserve vs free) and the
 * demand-query line equal GET /v1/clusters, the overview's announced column GET /v1/capacity. A
 * screenshot lands in $BUILD/screenshots/forecast.png. Needs Debian's chromium and nodejs,
 * as test_browser.c does. */
#include "tests/support/fake_prom.h"
#include "tests/support/itest.h"

#include "base/clock.h"
#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct itest_server srv;
static struct fake_prom *prom; /* sim-onprem's demand query asks it (in the parent process) */
static pid_t sim_pid;
static char dsn[1024], dir[128], base_cfg[256], clusters_cfg[256], secrets_env[200];
static const char *const serve_args[] = {"--config", base_cfg, "--config", clusters_cfg, NULL};
/* The simulator writes its token files beside clusters.json: dir is the secrets directory. */
static const char *const serve_env[] = {secrets_env, NULL};
/* When the suite started, before the sampler wrote its first row: hours before this one
 * hold seeded samples only. */
static int64_t started_ms;

#define HOUR_MS INT64_C(3600000)

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    data = xmalloc((size_t)n + 1);
    n = (long)fread(data, 1, (size_t)n, f);
    data[n] = '\0';
    fclose(f);
    return data;
}

/* The simulator's clusters.json with a demand query on sim-onprem's serving pool: a fake
 * Prometheus wanting 12 L4 GPUs in all, over 2 in use and 6 its HPA announces (4 more). */
static void demand_query_config(void)
{
    char in[256], body[512];
    json_error_t je;
    json_t *j, *c;
    size_t i;

    prom = fake_prom_start();
    fake_prom_vector_body("12", body, sizeof(body));
    fake_prom_set(prom, 200, body, 0);
    snprintf(in, sizeof(in), "%s/clusters.json", dir);
    j = json_load_file(in, 0, &je);
    ck_assert_msg(j != NULL, "%s: %s", in, je.text);
    json_array_foreach(json_object_get(j, "clusters"), i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), "sim-onprem") == 0)
            json_object_set_new(json_object_get(c, "servingPool"), "demandQuery",
                                json_pack("{s:s,s:s,s:i}", "url", fake_prom_url(prom), "query",
                                          "sum(llm_gpus_wanted)", "maxAgeSeconds", 86400));
    }
    ck_assert_int_eq(json_dump_file(j, clusters_cfg, 0), 0);
    json_decref(j);
}

static void suite_setup(void)
{
    FILE *f;

    started_ms = clock_realtime_ms();
    snprintf(dir, sizeof(dir), "/tmp/fedsched-forecast-ui-%d", (int)getpid());
    mkdir(dir, 0755);
    /* three-clusters.json at real time: its serving deployments follow their curve a minute
     * a second there, so the actual the page shows and the one the API gives a moment later
     * would differ under load. */
    sim_pid = itest_sim_start("testdata/sim/forecast-browser.json", dir);
    snprintf(base_cfg, sizeof(base_cfg), "%s/base.json", dir);
    snprintf(clusters_cfg, sizeof(clusters_cfg), "%s/clusters-dq.json", dir);
    demand_query_config();
    f = fopen(base_cfg, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"poller\": {\"intervalMs\": 500, \"sampleIntervalS\": 1}}", f);
    fclose(f);
    itest_create_db(dsn, sizeof(dsn));
    snprintf(secrets_env, sizeof(secrets_env), "FEDSCHED_SECRETS_DIR=%s", dir);
    itest_server_start_args(&srv, dsn, serve_env, serve_args, 1);
    /* Before anything asks for the forecast: its first read takes these. sim-west's L4
     * serving pool (40 GPUs) used base(hour) = 4, 6, .. 14 GPUs by UTC hour modulo 6, and
     * 5 more in the last third of each quarter hour (so p95 stands above p50), every 5
     * minutes on the hour for eight days, up to the sampler's own rows; its A100 training
     * pool, 24 of 64 GPUs used, has no forecast. */
    free(itest_sql(dsn, "WITH x AS (SELECT t, 4 + 2 * (extract(hour FROM t AT TIME ZONE"
                        " 'UTC')::int % 6) + 5 * (extract(minute FROM t)::int % 15 >= 10)::int"
                        " AS u FROM generate_series(date_trunc('hour', now()) - interval"
                        " '8 days', now() - interval '1 minute', interval '5 minutes') t)"
                        " INSERT INTO capacity_samples (ts, cluster, sku, pool, total, used,"
                        " free, borrowed) SELECT t, 'sim-west', 'l4', 'serving', 40, u, 40 - u,"
                        " 0 FROM x UNION ALL SELECT t, 'sim-west', 'a100-40gb', 'training', 64,"
                        " 24, 40, 0 FROM x ON CONFLICT DO NOTHING"));
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    if (sim_pid > 0) {
        kill(sim_pid, SIGTERM);
        sim_pid = 0;
    }
    fake_prom_stop(&prom);
}

/* The CSV line that starts with prefix ("\n" then its first columns), without the "\n"s;
 * NULL when there is none. Caller frees. */
static char *csv_line(const char *csv, const char *prefix)
{
    const char *at = strstr(csv, prefix);

    return at ? xasprintf("%.*s", (int)strcspn(at + 1, "\n"), at + 1) : NULL;
}

/* Each full hour before the suite started: 12 samples, 4 of them 5 GPUs above base, so the
 * mean is base + 5/3, and in every quarter hour 10 minutes at base and 5 at base + 5: the
 * forecast's p50 is base and its p95 base + 5. The report's existing columns stay as they
 * were; the forecast's are added after them, for pool "serving" only, then the unavailable
 * GPU-hours; Markdown and HTML gain a table of them. */
START_TEST(report_carries_forecast_beside_actual)
{
    int64_t to = started_ms - started_ms % HOUR_MS, from = to - 24 * HOUR_MS;
    char f[40], t[40], url[512], *body = NULL, *csv = NULL, *md = NULL, *html = NULL;
    json_t *rep, *row;
    size_t i;
    int serving = 0, training = 0;

    clock_format_rfc3339(from, f, sizeof(f));
    clock_format_rfc3339(to, t, sizeof(t));
    snprintf(url, sizeof(url), "%s/v1/reports/capacity?from=%s&to=%s&step=1h&format=json", srv.base,
             f, t);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &body), 200);
    rep = json_loads(body, 0, NULL);
    ck_assert_ptr_nonnull(rep);
    snprintf(url, sizeof(url), "%s/v1/reports/capacity?from=%s&to=%s&step=1h&format=csv", srv.base,
             f, t);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &csv), 200);
    snprintf(url, sizeof(url), "%s/v1/reports/capacity?from=%s&to=%s&step=1h&format=md", srv.base,
             f, t);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &md), 200);
    snprintf(url, sizeof(url), "%s/v1/reports/capacity?from=%s&to=%s&step=1h&format=html", srv.base,
             f, t);
    ck_assert_int_eq(itest_http("GET", url, NULL, NULL, &html), 200);
    ck_assert_msg(strstr(csv, ",queue_wait_p50_s,queue_wait_p95_s,gpu_hours_lost_reclaim,"
                              "serving_gpus_mean,forecast_p50,forecast_p95,"
                              "gpu_hours_unavailable\n") != NULL,
                  "CSV header: %.400s", csv);
    json_array_foreach(json_object_get(rep, "rows"), i, row)
    {
        const char *cluster = json_string_value(json_object_get(row, "cluster"));
        const char *pool = json_string_value(json_object_get(row, "pool"));
        const char *start = json_string_value(json_object_get(row, "start"));
        int64_t at;
        int base;
        double mean, p50, p95;
        char line[256], want[128], *got;

        if (strcmp(pool, "serving") != 0) {
            /* Other pools have no forecast: no keys, empty CSV columns. */
            ck_assert_ptr_null(json_object_get(row, "forecastP50"));
            ck_assert_ptr_null(json_object_get(row, "servingGpusMean"));
            training++;
            continue;
        }
        if (strcmp(cluster, "sim-west") != 0 ||
            strcmp(json_string_value(json_object_get(row, "sku")), "l4") != 0)
            continue;
        ck_assert_int_eq(clock_parse_rfc3339(start, &at), 0);
        base = 4 + 2 * (int)((at / HOUR_MS % 24) % 6);
        mean = json_number_value(json_object_get(row, "servingGpusMean"));
        p50 = json_number_value(json_object_get(row, "forecastP50"));
        p95 = json_number_value(json_object_get(row, "forecastP95"));
        ck_assert_msg(json_is_number(json_object_get(row, "forecastP50")) &&
                          json_is_number(json_object_get(row, "forecastP95")),
                      "%s: forecast unknown", start);
        ck_assert_msg(mean > base + 5.0 / 3 - 0.0015 && mean < base + 5.0 / 3 + 0.0015,
                      "%s: mean %.3f, want %.3f", start, mean, base + 5.0 / 3);
        ck_assert_msg(p50 == base && p95 == base + 5, "%s: p50 %.3f p95 %.3f, want %d and %d",
                      start, p50, p95, base, base + 5);
        /* The CSV says the same, after the columns that were there before (and before the
         * unavailable GPU-hours, added after them). */
        snprintf(line, sizeof(line), "\n%s,%s,sim-west,l4,serving,", start,
                 json_string_value(json_object_get(row, "end")));
        snprintf(want, sizeof(want), ",%.3f,%.3f,%.3f,%.3f", mean, p50, p95,
                 json_number_value(json_object_get(row, "gpuHoursUnavailable")));
        got = csv_line(csv, line);
        ck_assert_msg(got && strlen(got) > strlen(want) &&
                          strcmp(got + strlen(got) - strlen(want), want) == 0,
                      "CSV row %s does not end %s", got ? got : line + 1, want);
        free(got);
        /* Markdown and HTML have the same figures in their forecast table. */
        snprintf(line, sizeof(line), "| %s | sim-west | l4 | %.3f | %.3f | %.3f |", start, mean,
                 p50, p95);
        ck_assert_msg(strstr(md, line) != NULL, "no Markdown row %s", line);
        snprintf(line, sizeof(line),
                 "<tr><td>%s</td><td>sim-west</td><td>l4</td><td>%.3f</td><td>%.3f</td><td>"
                 "%.3f</td></tr>",
                 start, mean, p50, p95);
        ck_assert_msg(strstr(html, line) != NULL, "no HTML row %s", line);
        serving++;
    }
    ck_assert_int_eq(serving, 24);
    ck_assert_int_gt(training, 0);
    json_decref(rep);
    free(body);
    free(csv);
    free(md);
    free(html);
}
END_TEST

START_TEST(forecast_chart_shows_the_apis_numbers)
{
    const char *src = getenv("FEDSCHED_SRC"), *build = getenv("BUILD");
    char shots[1024], out[256], err[256], npm_log[256], *cmd, *text, *last, *log;
    json_t *summary;
    int rc;

    ck_assert_msg(access("/usr/bin/chromium", X_OK) == 0,
                  "/usr/bin/chromium is missing: apt-get install chromium (see .ci/deps)");
    snprintf(shots, sizeof(shots), "%s/%s/screenshots", src, build && *build ? build : "build");
    snprintf(out, sizeof(out), "%s/node.out", dir);
    snprintf(err, sizeof(err), "%s/node.err", dir);
    snprintf(npm_log, sizeof(npm_log), "%s/npm.log", dir);
    cmd = xasprintf("cd '%s/tests/browser' && { [ -d node_modules/playwright-core ] || npm ci "
                    "--no-audit --no-fund > '%s' 2>&1; } && FEDSCHED_UI_BASE='%s' "
                    "FORECAST_CLUSTER=sim-west FORECAST_SKU=l4 ANNOUNCED_POOL=sim-onprem/l4 "
                    "ANNOUNCED_GPUS=10 SCREENSHOT_DIR='%s' "
                    "node forecast.test.js > '%s' 2> '%s'",
                    src, npm_log, srv.base, shots, out, err);
    rc = system(cmd);
    free(cmd);
    text = slurp(out);
    log = slurp(err);
    /* The summary is the last line. */
    while (*text && text[strlen(text) - 1] == '\n')
        text[strlen(text) - 1] = '\0';
    last = strrchr(text, '\n');
    last = last ? last + 1 : text;
    summary = json_loads(last, 0, NULL);
    ck_assert_msg(summary != NULL, "no summary from forecast.test.js (exit %d): %s %s", rc, text,
                  log);
    ck_assert_msg(json_integer_value(json_object_get(summary, "failed")) == 0 && rc == 0,
                  "browser checks failed (exit %d):\n%s", rc, log);
    /* The script makes 15 checks; fewer means some were dropped from it. */
    ck_assert_int_ge(json_integer_value(json_object_get(summary, "passed")), 15);
    printf("browser forecast: %lld checks passed\n",
           (long long)json_integer_value(json_object_get(summary, "passed")));
    json_decref(summary);
    free(text);
    free(log);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("browser_forecast");
    TCase *tc = tcase_create("forecast");
    SRunner *sr;
    int failed;

    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, report_carries_forecast_beside_actual);
    tcase_add_test(tc, forecast_chart_shows_the_apis_numbers);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
