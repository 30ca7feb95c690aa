/* test_quotas_api.c -- GET /v1/quotas against a real PostgreSQL and `fedsched serve` (the
 * scheduler off, so the jobs seeded in the table stay as they are): each configured quota
 * row with the GPUs its namespace holds (placed jobs, by the SKU they were placed on),
 * borrows above nominal and waits for (queued, not held, by the SKU asked for); a namespace
 * using a SKU with quotas but no row of its own; the cohort's lendable, lent and available
 * GPUs; filters; a caller sees only its namespaces, and no cohort unless it reads them all;
 * and `fedsched quotas` prints the same figures. */
#include "tests/support/itest.h"

#include "base/mem.h"

#include <check.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dsn[1024], cfg_path[128];
static char tok_admin[64], tok_view_a[64], tok_view_all[64];
static struct itest_server srv;

/* team-a: nominal 16 A100s, lends at most 4; team-b: nominal 8, may borrow 8, lends all.
 * team-c has no row. */
static const char config[] =
    "{\"auth\": {\"ratePerSecond\": 0}, \"scheduler\": {\"enabled\": false},"
    " \"quotas\": [{\"namespace\": \"team-a\", \"sku\": \"a100-80gb\", \"nominal\": 16,"
    " \"lendingLimit\": 4},"
    " {\"namespace\": \"team-b\", \"sku\": \"a100-80gb\", \"nominal\": 8, \"borrowingLimit\": 8}]}";

/* team-a holds 8 (Running) + 4 (Preempting) A100s, one of them placed on A100 though it
 * asked H100 first; 8 more queued and 8 held (not counted). team-b holds 12 (Admitted 4,
 * Dispatched 8): 4 above its nominal. team-c holds 2 with no row. Finished jobs count for
 * nothing. */
static const char seed[] =
    "INSERT INTO jobs (namespace, name, api_version, spec, sku, sku_placed, gpu_count,"
    " gpus_per_worker, phase, held) VALUES"
    " ('team-a', 'a-run', 'fedsched.io/v1', '{}', 'a100-80gb', 'a100-80gb', 8, 8, 'Running',"
    "  false),"
    " ('team-a', 'a-stop', 'fedsched.io/v1', '{}', 'h100-80gb', 'a100-80gb', 4, 4, 'Preempting',"
    "  false),"
    " ('team-a', 'a-wait', 'fedsched.io/v1', '{}', 'a100-80gb', NULL, 8, 8, 'Queued', false),"
    " ('team-a', 'a-held', 'fedsched.io/v1', '{}', 'a100-80gb', NULL, 8, 8, 'Queued', true),"
    " ('team-a', 'a-done', 'fedsched.io/v1', '{}', 'a100-80gb', 'a100-80gb', 8, 8, 'Succeeded',"
    "  false),"
    " ('team-b', 'b-adm', 'fedsched.io/v1', '{}', 'a100-80gb', 'a100-80gb', 4, 4, 'Admitted',"
    "  false),"
    " ('team-b', 'b-disp', 'fedsched.io/v1', '{}', 'a100-80gb', 'a100-80gb', 8, 8, 'Dispatched',"
    "  false),"
    " ('team-c', 'c-run', 'fedsched.io/v1', '{}', 'a100-80gb', 'a100-80gb', 2, 2, 'Running',"
    "  false),"
    " ('team-c', 'c-l4', 'fedsched.io/v1', '{}', 'l4', 'l4', 1, 1, 'Running', false)";

static void suite_setup(void)
{
    const char *env[] = {"FEDSCHED_AUTH_MODE=tokens", NULL};
    const char *args[] = {"--config", cfg_path, NULL};
    FILE *f;

    itest_create_db(dsn, sizeof(dsn));
    snprintf(cfg_path, sizeof(cfg_path), "/tmp/fedsched-quotas-%d.json", (int)getpid());
    f = fopen(cfg_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(config, f);
    fclose(f);
    itest_server_start_args(&srv, dsn, env, args, 1);
    free(itest_sql(dsn, seed));
    itest_create_token(dsn, "admin", "admin", NULL, tok_admin);
    itest_create_token(dsn, "view-a", "viewer", "team-a", tok_view_a);
    itest_create_token(dsn, "view-all", "viewer", NULL, tok_view_all);
}

static void suite_teardown(void)
{
    itest_server_stop(&srv, SIGTERM);
    unlink(cfg_path);
}

/* GET path with token; returns the status and *out (parsed body, caller json_decref()s). */
static long get(const char *token, const char *path, json_t **out)
{
    char url[512], auth[128], *body = NULL;
    const char *hdr[2] = {auth, NULL};
    long st;

    snprintf(url, sizeof(url), "%s%s", srv.base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    st = itest_http("GET", url, hdr, NULL, &body);
    *out = json_loads(body ? body : "", 0, NULL);
    ck_assert_msg(*out != NULL, "GET %s: %ld, not JSON: %s", path, st, body);
    free(body);
    return st;
}

static json_t *item(json_t *list, const char *ns, const char *sku)
{
    size_t i;
    json_t *x;

    json_array_foreach(json_object_get(list, "items"), i, x)
    {
        if (strcmp(json_string_value(json_object_get(x, "namespace")), ns) == 0 &&
            strcmp(json_string_value(json_object_get(x, "sku")), sku) == 0)
            return x;
    }
    return NULL;
}

static long num(json_t *x, const char *key)
{
    ck_assert_msg(json_is_integer(json_object_get(x, key)), "%s is not an integer", key);
    return (long)json_integer_value(json_object_get(x, key));
}

/* Whether some line of text, its runs of spaces squeezed to one, is want. */
static bool has_row(const char *text, const char *want)
{
    char line[512];

    while (*text) {
        size_t n = 0;
        bool space = false;

        for (; *text && *text != '\n'; text++) {
            if (*text == ' ') {
                space = n > 0;
                continue;
            }
            if (space && n + 1 < sizeof(line))
                line[n++] = ' ';
            space = false;
            if (n + 1 < sizeof(line))
                line[n++] = *text;
        }
        line[n] = '\0';
        if (strcmp(line, want) == 0)
            return true;
        if (*text)
            text++;
    }
    return false;
}

START_TEST(rows_hold_usage_borrowing_and_queue)
{
    json_t *j, *a, *b, *c, *co;

    ck_assert_int_eq(get(tok_admin, "/v1/quotas", &j), 200);
    ck_assert_str_eq(json_string_value(json_object_get(j, "kind")), "QuotaList");
    ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 3);
    a = item(j, "team-a", "a100-80gb");
    ck_assert_ptr_nonnull(a);
    ck_assert(json_is_true(json_object_get(a, "configured")));
    ck_assert_int_eq(num(a, "nominal"), 16);
    ck_assert(json_is_null(json_object_get(a, "borrowingLimit")));
    ck_assert_int_eq(num(a, "lendingLimit"), 4);
    ck_assert_int_eq(num(a, "usedGpus"), 12);
    ck_assert_int_eq(num(a, "borrowedGpus"), 0);
    ck_assert_int_eq(num(a, "queuedJobs"), 1);
    ck_assert_int_eq(num(a, "queuedGpus"), 8);
    b = item(j, "team-b", "a100-80gb");
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(num(b, "borrowingLimit"), 8);
    ck_assert(json_is_null(json_object_get(b, "lendingLimit")));
    ck_assert_int_eq(num(b, "usedGpus"), 12);
    ck_assert_int_eq(num(b, "borrowedGpus"), 4);
    ck_assert_int_eq(num(b, "queuedJobs"), 0);
    /* No row, on a SKU with quotas: nominal 0, no borrowing limit, nothing to lend. */
    c = item(j, "team-c", "a100-80gb");
    ck_assert_ptr_nonnull(c);
    ck_assert(json_is_false(json_object_get(c, "configured")));
    ck_assert_int_eq(num(c, "nominal"), 0);
    ck_assert(json_is_null(json_object_get(c, "borrowingLimit")));
    ck_assert_int_eq(num(c, "lendingLimit"), 0);
    ck_assert_int_eq(num(c, "usedGpus"), 2);
    ck_assert_int_eq(num(c, "borrowedGpus"), 2);
    /* l4 has no quotas: not listed. */
    ck_assert_ptr_null(item(j, "team-c", "l4"));
    /* The cohort holds 4 (team-a lends at most 4 of its 16) + 8 (team-b lends all its 8).
     * In use: none of team-a's (12 used of the 12 it keeps), all 12 of team-b's (it keeps
     * nothing back), team-c's 2: 14, so nothing is left to borrow. */
    ck_assert_uint_eq(json_array_size(json_object_get(j, "cohorts")), 1);
    co = json_array_get(json_object_get(j, "cohorts"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(co, "sku")), "a100-80gb");
    ck_assert_int_eq(num(co, "lendableGpus"), 12);
    ck_assert_int_eq(num(co, "inUseGpus"), 14);
    ck_assert_int_eq(num(co, "availableGpus"), 0);
    json_decref(j);
}
END_TEST

START_TEST(filters_and_callers)
{
    json_t *j;

    ck_assert_int_eq(get(tok_admin, "/v1/quotas?namespace=team-b", &j), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
    ck_assert_ptr_nonnull(item(j, "team-b", "a100-80gb"));
    json_decref(j);
    ck_assert_int_eq(get(tok_admin, "/v1/quotas?sku=h100-80gb", &j), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 0);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "cohorts")), 0);
    json_decref(j);
    /* A viewer of team-a: its row only, and no cohort (it adds up the others' use). */
    ck_assert_int_eq(get(tok_view_a, "/v1/quotas", &j), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 1);
    ck_assert_ptr_nonnull(item(j, "team-a", "a100-80gb"));
    ck_assert_ptr_null(json_object_get(j, "cohorts"));
    json_decref(j);
    ck_assert_int_eq(get(tok_view_a, "/v1/quotas?namespace=team-b", &j), 403);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                     "namespace");
    json_decref(j);
    ck_assert_int_eq(get(tok_view_all, "/v1/quotas", &j), 200);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "items")), 3);
    ck_assert_ptr_nonnull(json_object_get(j, "cohorts"));
    json_decref(j);
    /* Bad filters name the field and the value. */
    ck_assert_int_eq(get(tok_admin, "/v1/quotas?sku=a200", &j), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                     "sku");
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(j, "error"), "message")), "\"a200\""));
    json_decref(j);
    ck_assert_int_eq(get(tok_admin, "/v1/quotas?limit=3", &j), 400);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "field")),
                     "limit");
    json_decref(j);
}
END_TEST

/* A limit as the CLI prints it: "unlimited" for null. */
static void limit_cell(const json_t *v, char out[24])
{
    if (json_is_integer(v))
        snprintf(out, 24, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, 24, "unlimited");
}

/* `fedsched quotas` as a cron job or a person runs it: stdout with the token of who. */
static char *quotas_cli(const char *token, const char *output)
{
    char *cmd = xasprintf("FEDSCHED_URL='%s' FEDSCHED_TOKEN='%s' '%s' quotas -o %s 2>&1", srv.base,
                          token, getenv("FEDSCHED_BIN"), output);
    FILE *p = popen(cmd, "r");
    char *out = xcalloc(1, 8192);
    size_t n;

    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, 8191, p);
    out[n] = '\0';
    ck_assert_int_eq(pclose(p), 0);
    free(cmd);
    return out;
}

/* The table's rows are the API's items, cell by cell, and the cohort table follows for an
 * admin; -o json is the API's answer. */
START_TEST(cli_prints_the_api_figures)
{
    char *table = quotas_cli(tok_admin, "table"), *json_text = quotas_cli(tok_admin, "json");
    json_t *api, *cli = json_loads(json_text, 0, NULL);
    char line[256];
    size_t i;
    json_t *x;

    ck_assert_int_eq(get(tok_admin, "/v1/quotas", &api), 200);
    ck_assert_msg(cli && json_equal(cli, api), "-o json is not the API's answer: %s", json_text);
    ck_assert_msg(strncmp(table, "NAMESPACE", 9) == 0, "no header: %s", table);
    json_array_foreach(json_object_get(api, "items"), i, x)
    {
        char limit[2][24];

        limit_cell(json_object_get(x, "borrowingLimit"), limit[0]);
        limit_cell(json_object_get(x, "lendingLimit"), limit[1]);
        /* The cells in order, however the columns are padded. */
        snprintf(line, sizeof(line), "%s %s %ld %ld %ld %ld %ld %s %s",
                 json_string_value(json_object_get(x, "namespace")),
                 json_string_value(json_object_get(x, "sku")), num(x, "nominal"),
                 num(x, "usedGpus"), num(x, "borrowedGpus"), num(x, "queuedJobs"),
                 num(x, "queuedGpus"), limit[0], limit[1]);
        ck_assert_msg(has_row(table, line), "row \"%s\" not in:\n%s", line, table);
    }
    ck_assert_msg(has_row(table, "a100-80gb 12 14 0"), "no cohort row in:\n%s", table);
    json_decref(api);
    json_decref(cli);
    free(json_text);
    free(table);
    /* A viewer of team-a: one row, no cohort table. */
    table = quotas_cli(tok_view_a, "table");
    ck_assert_msg(has_row(table, "team-a a100-80gb 16 12 0 1 8 unlimited 4"), "%s", table);
    ck_assert_ptr_null(strstr(table, "team-b"));
    ck_assert_ptr_null(strstr(table, "COHORT"));
    free(table);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("quotas_api");
    TCase *tc = tcase_create("api");

    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, suite_setup, suite_teardown);
    tcase_add_test(tc, rows_hold_usage_borrowing_and_queue);
    tcase_add_test(tc, filters_and_callers);
    tcase_add_test(tc, cli_prints_the_api_figures);
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
