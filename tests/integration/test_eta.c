/* test_eta.c -- queue position and estimated start through GET .../explain and `fedsched
 * list` (issue 16): `fedsched serve` with one simulated 32-GPU cluster kept full by four
 * running jobs, two jobs queued behind them, and the "queue" member of their explanations
 * (and the list's POSITION and ETA columns) checked against the times worked out by hand. Not responsible for the estimate's rules one by one
 * (tests/unit/test_eta.c) nor for its accuracy on a trace (whatif, docs/simulation.md). */
#include "tests/integration/test_sched_env.h"

#include "base/buf.h"

#include <check.h>

#define FAST_BASE                                                                                  \
    "\"poller\": {\"intervalMs\": 200, \"sampleIntervalS\": 5, \"registrySyncS\": 1},"             \
    "\"scheduler\": {\"cycleIntervalMs\": 200, \"gcIntervalS\": 1, \"missingGraceS\": 3,"          \
    "\"dispatchBackoffBaseS\": 1, \"dispatchBackoffMaxS\": 2, \"leaderRetryMs\": 200,"             \
    "\"leaderRenewMs\": 200, \"jobAnnotations\": "                                                 \
    "{\"sim.fedsched.io/duration-seconds\": \"360000\"}}"

#define H_MS     3600000LL
#define SLACK_MS (5 * 60 * 1000LL)

static struct senv env;

static void teardown(void)
{
    senv_stop(&env);
}

/* GET .../explain of team-e/name (caller json_decref()s). */
static json_t *explain(const char *name)
{
    char path[256];
    json_t *x = NULL;

    snprintf(path, sizeof(path), "/v1/namespaces/team-e/trainingjobs/%s/explain", name);
    ck_assert_int_eq(itest_get_json(senv_base(&env), path, &x), 200);
    return x;
}

static long long jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return (long long)json_integer_value(v);
}

/* The queue member of name's explanation: its position, the jobs and GPUs ahead, and an
 * estimated start within SLACK_MS of after_ms after the call; and the same position and
 * estimate in the job's status. */
static void expect_queue(const char *name, int position, int ahead_jobs, int ahead_gpus,
                         int64_t after_ms)
{
    int64_t t0 = clock_realtime_ms(), start = 0;
    json_t *x = explain(name), *q = json_object_get(x, "queue"), *basis, *g, *st;
    const char *s;

    ck_assert_str_eq(json_string_value(json_object_get(x, "phase")), "Queued");
    ck_assert_str_eq(json_string_value(json_object_get(x, "status")), "pending");
    ck_assert_msg(json_is_object(q), "no queue member in %s's explanation", name);
    ck_assert_int_eq(jint(q, "position"), position);
    ck_assert_int_eq(jint(json_object_get(q, "ahead"), "jobs"), ahead_jobs);
    ck_assert_int_eq(jint(json_object_get(q, "ahead"), "gpus"), ahead_gpus);
    s = json_string_value(json_object_get(q, "estimatedStart"));
    ck_assert_msg(s && clock_parse_rfc3339(s, &start) == 0, "estimatedStart %s", s ? s : "null");
    ck_assert_msg(start > t0 + after_ms - SLACK_MS && start < t0 + after_ms + SLACK_MS,
                  "%s: estimated %s, %lld s from now, not %lld s", name, s,
                  (long long)(start - t0) / 1000, (long long)after_ms / 1000);
    /* The job's status carries the same two figures (the same what-if, a moment later). */
    g = senv_get(senv_base(&env), "team-e", name);
    st = json_object_get(g, "status");
    ck_assert_int_eq(jint(st, "queuePosition"), position);
    s = json_string_value(json_object_get(st, "estimatedStartTime"));
    ck_assert_msg(s && clock_parse_rfc3339(s, &start) == 0, "estimatedStartTime %s",
                  s ? s : "null");
    ck_assert_msg(start > t0 + after_ms - SLACK_MS && start < t0 + after_ms + SLACK_MS,
                  "%s: status says %s, %lld s from now, not %lld s", name, s,
                  (long long)(start - t0) / 1000, (long long)after_ms / 1000);
    json_decref(g);
    basis = json_object_get(q, "basis");
    ck_assert_str_eq(json_string_value(json_object_get(basis, "method")), "simulation");
    ck_assert(json_is_false(json_object_get(basis, "capped")));
    ck_assert_int_eq(jint(basis, "runningWithMaxRuntime"), 3);
    ck_assert_int_eq(jint(basis, "runningAssumed"), 1);
    ck_assert_int_eq(jint(basis, "assumedRuntimeSeconds"), 4 * 3600);
    json_decref(x);
}

/* fedsched_api_queue_whatifs_total from /metrics. */
static long whatifs(void)
{
    long n = senv_counter(&env, "fedsched_api_queue_whatifs_total");

    ck_assert_msg(n >= 0, "no fedsched_api_queue_whatifs_total in /metrics");
    return n;
}

/* fedsched_http_requests_total of GETs of route, code 200 (0 before the first). */
static long gets_of(const char *route)
{
    char key[256];
    long n;

    snprintf(key, sizeof(key),
             "fedsched_http_requests_total{route=\"%s\",method=\"GET\",code=\"200\"}", route);
    n = senv_counter(&env, key);
    return n < 0 ? 0 : n;
}

/* `fedsched ARGS` against the server; returns its stdout (caller frees). */
static char *cli_run(const char *args)
{
    const char *bin = getenv("FEDSCHED_BIN");
    char *cmd, buf[4096];
    struct buf out;
    FILE *p;
    size_t n;

    ck_assert_ptr_nonnull(bin);
    cmd = xasprintf("FEDSCHED_URL='%s' '%s' %s", senv_base(&env), bin, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    buf_init(&out, 0);
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
        buf_append(&out, buf, n);
    ck_assert_int_eq(pclose(p), 0);
    free(cmd);
    return buf_steal(&out);
}

/* The whitespace-separated words of the line of out whose second word is name. */
static size_t row_words(const char *out, const char *name, char words[][32], size_t max)
{
    char *dup = xstrdup(out), *save = NULL;
    size_t n = 0;

    for (char *line = strtok_r(dup, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *ws = NULL;
        size_t k = 0;

        for (char *w = strtok_r(line, " ", &ws); w && k < max; w = strtok_r(NULL, " ", &ws))
            snprintf(words[k++], 32, "%s", w);
        if (k > 1 && strcmp(words[1], name) == 0) {
            n = k;
            break;
        }
    }
    free(dup);
    return n;
}

/* Four 8-GPU jobs fill the 32 GPUs: three will end within 2 h (maxRuntimeSeconds), one
 * declares nothing and is assumed to run 4 h. Behind them a 32-GPU job (1 h) starts when
 * the last ends, at + 4 h; an 8-GPU job behind it at + 5 h, with the 32 GPUs ahead. */
START_TEST(explain_gives_queue_position_and_estimated_start)
{
    char name[32];

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env, FAST_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "fill-%d", i);
        free(senv_submit(senv_base(&env), "team-e", name, "a100-80gb", 8, NULL,
                         i < 3 ? "\"maxRuntimeSeconds\": 7200" : ""));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "fill-%d", i);
        json_decref(senv_wait_phase(senv_base(&env), "team-e", name, "Running", 20000));
    }
    free(senv_submit(senv_base(&env), "team-e", "big", "a100-80gb", 32, NULL,
                     "\"maxRuntimeSeconds\": 3600"));
    free(senv_submit(senv_base(&env), "team-e", "small", "a100-80gb", 8, NULL,
                     "\"maxRuntimeSeconds\": 600"));
    usleep(1000 * 1000); /* a few cycles: both stay Queued */
    expect_queue("big", 1, 0, 0, 4 * H_MS);
    expect_queue("small", 2, 1, 32, 5 * H_MS);
    /* A pipeline polling its queued job does not run a what-if each time: twenty GETs
     * within the figures' 10 s carry the same position, and at most one what-if runs. */
    {
        long before = whatifs();

        for (int i = 0; i < 20; i++) {
            json_t *g = senv_get(senv_base(&env), "team-e", "small");

            ck_assert_int_eq(jint(json_object_get(g, "status"), "queuePosition"), 2);
            json_decref(g);
        }
        ck_assert_msg(whatifs() - before <= 1, "%ld what-ifs for 20 GETs", whatifs() - before);
    }
}
END_TEST

/* The CLI's list shows POSITION and ETA for queued jobs, "-" for running ones, from one
 * queue view and no explanation; queue shows the view in the policy's order; explain prints
 * the queue line. */
START_TEST(list_shows_position_and_eta)
{
    char name[32], words[16][32], *out;
    long views, explains;

    senv_sim(&env, "testdata/sim/sched-solo.json");
    senv_config(&env, FAST_BASE, "", NULL);
    senv_serve(&env, 0, NULL);
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "fill-%d", i);
        free(senv_submit(senv_base(&env), "team-e", name, "a100-80gb", 8, NULL,
                         "\"maxRuntimeSeconds\": 7200"));
    }
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "fill-%d", i);
        json_decref(senv_wait_phase(senv_base(&env), "team-e", name, "Running", 20000));
    }
    free(senv_submit(senv_base(&env), "team-e", "big", "a100-80gb", 32, NULL,
                     "\"maxRuntimeSeconds\": 10800"));
    free(senv_submit(senv_base(&env), "team-e", "small", "a100-80gb", 8, NULL, ""));
    usleep(1000 * 1000);
    views = gets_of("/v1/namespaces/{ns}/queue");
    explains = gets_of("/v1/namespaces/{ns}/trainingjobs/{name}/explain");
    out = cli_run("list -n team-e");
    ck_assert_int_eq(gets_of("/v1/namespaces/{ns}/queue"), views + 1);
    ck_assert_int_eq(gets_of("/v1/namespaces/{ns}/trainingjobs/{name}/explain"), explains);
    ck_assert_msg(strstr(out, "POSITION") && strstr(out, "ETA"), "%s", out);
    /* NAMESPACE NAME PHASE SKU GPUS CLUSTER POOL AGE POSITION ETA(2 words) MESSAGE */
    ck_assert_uint_ge(row_words(out, "big", words, 16), 10);
    ck_assert_str_eq(words[2], "Queued");
    ck_assert_str_eq(words[8], "1");
    ck_assert_str_eq(words[9], "in");
    ck_assert_msg(strcmp(words[10], "2h") == 0 || strcmp(words[10], "120m") == 0 ||
                      strcmp(words[10], "119m") == 0,
                  "%s", out);
    ck_assert_uint_ge(row_words(out, "small", words, 16), 10);
    ck_assert_str_eq(words[8], "2");
    ck_assert_str_eq(words[9], "in");
    ck_assert_msg(strcmp(words[10], "5h") == 0 || strcmp(words[10], "4h") == 0, "%s", out);
    ck_assert_uint_ge(row_words(out, "fill-0", words, 16), 10);
    ck_assert_str_eq(words[2], "Running");
    ck_assert_str_eq(words[8], "-");
    ck_assert_str_eq(words[9], "-");
    free(out);
    /* NAMESPACE NAME ORDER PRIORITY GPUS SKUS POSITION ETA(2 words) REASON MESSAGE */
    out = cli_run("queue -n team-e");
    ck_assert_uint_ge(row_words(out, "big", words, 16), 10);
    ck_assert_str_eq(words[2], "1");
    ck_assert_str_eq(words[4], "32");
    ck_assert_str_eq(words[6], "1");
    ck_assert_str_eq(words[7], "in");
    ck_assert_msg(strcmp(words[8], "2h") == 0 || strcmp(words[8], "120m") == 0 ||
                      strcmp(words[8], "119m") == 0,
                  "%s", out);
    ck_assert_str_eq(words[9], "insufficient_capacity");
    ck_assert_uint_ge(row_words(out, "small", words, 16), 10);
    ck_assert_str_eq(words[2], "2");
    ck_assert_str_eq(words[6], "2");
    ck_assert_msg(strcmp(words[8], "5h") == 0 || strcmp(words[8], "4h") == 0, "%s", out);
    ck_assert_msg(!strstr(out, "fill-0"), "%s", out);
    free(out);
    out = cli_run("explain -n team-e small");
    ck_assert_msg(strstr(out, "queue: position 2, 1 job and 32 GPUs ahead; estimated start "), "%s",
                  out);
    ck_assert_msg(strstr(out, "(in 4h)") || strstr(out, "(in 5h)"), "%s", out);
    free(out);
    /* A job that never fits has no estimate: "never", and why, nothing in brackets after
     * it; `queue` says "never" in its ETA column, as the API's noEstimate does. */
    free(senv_submit(senv_base(&env), "team-n", "huge", "a100-80gb", 4096, NULL, ""));
    out = cli_run("explain -n team-n huge");
    ck_assert_msg(strstr(out, "ahead; estimated start never as the federation stands: no GPU "
                              "that frees up can take it\n"),
                  "%s", out);
    free(out);
    out = cli_run("queue -n team-n");
    ck_assert_uint_ge(row_words(out, "huge", words, 16), 9);
    ck_assert_str_eq(words[7], "never");
    ck_assert_str_eq(words[8], "never_fits");
    free(out);
    /* A pipeline that asks to fail fast gets exit 6 at once, with the reason, and the job
     * stays queued; without the flag the same wait runs to its timeout (exit 5). */
    {
        int64_t t = clock_mono_ms();

        out = cli_run("wait -n team-n huge --fail-if-unschedulable --timeout 60s 2>&1; echo rc=$?");
        ck_assert_msg(strstr(out, "fedsched: wait team-n/huge: the job can never start as the "
                                  "federation stands, never_fits: ") &&
                          strstr(out, "rc=6\n"),
                      "%s", out);
        ck_assert_int_lt(clock_mono_ms() - t, 30000);
        free(out);
        out = cli_run("wait -n team-n huge --timeout 2s 2>&1; echo rc=$?");
        ck_assert_msg(strstr(out, "timed out") && strstr(out, "rc=5\n"), "%s", out);
        free(out);
        out = cli_run("get -n team-n huge --fail-if-unschedulable 2>&1; echo rc=$?");
        ck_assert_msg(strstr(out, "applies to wait and submit --wait") && strstr(out, "rc=2\n"),
                      "%s", out);
        free(out);
    }
    /* A held job follows the queue in `queue`, without a place or an ETA, with its reason;
     * `list` shows it Queued, without a position. */
    {
        const char *hdr[] = {"Content-Type: application/json", NULL};
        char url[256];

        free(senv_submit(senv_base(&env), "team-h", "paused", "a100-80gb", 8, NULL, ""));
        snprintf(url, sizeof(url),
                 "%s/v1/namespaces/team-h/trainingjobs:hold?labelSelector=team%%3Dteam-h",
                 senv_base(&env));
        ck_assert_int_eq(itest_http("POST", url, hdr, "{}", NULL), 200);
    }
    out = cli_run("queue");
    ck_assert_uint_ge(row_words(out, "paused", words, 16), 9);
    ck_assert_str_eq(words[2], "-");
    ck_assert_str_eq(words[6], "-");
    ck_assert_str_eq(words[7], "-");
    ck_assert_str_eq(words[8], "Held");
    ck_assert_msg(strstr(out, "small") < strstr(out, "paused"), "%s", out);
    free(out);
    /* Its last requeue's message (kept in its status) is history: `list` says why it waits
     * now, as `queue` does. */
    free(itest_sql(env.dsn, "UPDATE jobs SET reason = 'ObjectMissing', message = 'its Job"
                            " vanished from east; requeued' WHERE name = 'paused'"));
    out = cli_run("list -n team-h");
    ck_assert_uint_ge(row_words(out, "paused", words, 16), 10);
    ck_assert_str_eq(words[2], "Queued");
    ck_assert_str_eq(words[8], "-");
    ck_assert_str_eq(words[9], "-");
    ck_assert_msg(strstr(out, "held by the user: not placed until released") &&
                      !strstr(out, "vanished"),
                  "%s", out);
    free(out);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("eta");
    TCase *tc = tcase_create("explain");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, explain_gives_queue_position_and_estimated_start);
    tcase_add_test(tc, list_shows_position_and_eta);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
