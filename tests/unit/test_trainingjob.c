/* test_trainingjob.c -- TrainingJob parsing, validation, canonical spec and rendering,
 * driven by the fixtures in testdata/jobs/ (good/ and bad/ JSON files, bad/index.tsv). */
#include "api/trainingjob.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/job.h"
#include "base/mem.h"
#include "base/sku.h"

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS "maps-team"

/* Fixture lists, read once in main() before Check forks, so each child inherits them. */
static char **good_files;
static size_t n_good;

struct bad_case {
    char *file;
    int status;
    char *code;
    char *field;
    char *substr;
};
static struct bad_case *bad_cases;
static size_t n_bad;

static const char *src_dir(void)
{
    const char *s = getenv("FEDSCHED_SRC");

    return s && *s ? s : ".";
}

static char *slurp(const char *rel, size_t *len)
{
    char *path = xasprintf("%s/%s", src_dir(), rel);
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    ck_assert_int_ge(n, 0);
    rewind(f);
    data = xmalloc((size_t)n + 1);
    ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    free(path);
    *len = (size_t)n;
    return data;
}

/* The mapping the API applies (api/ owns it); restated here to check the index. */
static int status_of(enum err_code c)
{
    switch (c) {
    case ERR_MALFORMED: return 400;
    case ERR_INVALID: return 422;
    case ERR_TOO_LARGE: return 413;
    default: return 500;
    }
}

static bool valid_utf8(const char *s)
{
    json_t *v = json_string(s); /* jansson validates UTF-8 */
    bool ok = v != NULL;

    json_decref(v);
    return ok;
}

static int parse_str(const char *body, struct job **out, struct err *e)
{
    return trainingjob_parse(body, strlen(body), NS, NULL, out, e);
}

/* Parses body, which must fail, and checks code and field. */
static void expect_fail(const char *body, size_t len, enum err_code code, const char *field,
                        const char *substr)
{
    struct job *sentinel = (struct job *)&sentinel, *j = sentinel;
    struct err e;

    err_clear(&e);
    ck_assert_int_eq(trainingjob_parse(body, len, NS, NULL, &j, &e), -1);
    ck_assert_ptr_eq(j, sentinel);
    ck_assert_msg(e.code == code, "code %s, want %s (%s: %s)", err_code_name(e.code),
                  err_code_name(code), e.field, e.msg);
    if (field)
        ck_assert_str_eq(e.field, field);
    if (substr)
        ck_assert_msg(strstr(e.msg, substr), "message \"%s\" lacks \"%s\"", e.msg, substr);
    ck_assert(valid_utf8(e.msg));
    ck_assert(valid_utf8(e.field));
}

static struct job *expect_ok(const char *body)
{
    struct job *j = NULL;
    struct err e;

    err_clear(&e);
    ck_assert_msg(parse_str(body, &j, &e) == 0, "parse failed: %s: %s", e.field, e.msg);
    ck_assert_ptr_nonnull(j);
    return j;
}

static char *dump_canonical(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
}

/* ---- good fixtures ---- */

static void check_lifted(const struct job *j)
{
    json_t *spec = json_loads(j->spec_json, 0, NULL), *res, *sch, *v;

    ck_assert_ptr_nonnull(spec);
    ck_assert_str_eq(j->framework, json_string_value(json_object_get(spec, "framework")));
    res = json_object_get(spec, "resources");
    ck_assert_str_eq(j->sku, json_string_value(json_object_get(res, "instanceType")));
    ck_assert_int_eq(j->gpu_count, json_integer_value(json_object_get(res, "gpuCount")));
    ck_assert_int_eq(j->gpus_per_worker, json_integer_value(json_object_get(res, "gpusPerWorker")));
    ck_assert_int_eq(j->gpu_count % j->gpus_per_worker, 0);
    v = json_object_get(res, "alternativeInstanceTypes");
    ck_assert_uint_eq(j->n_alt_skus, json_array_size(v));
    for (size_t i = 0; i < j->n_alt_skus; i++)
        ck_assert_str_eq(j->alt_skus[i], json_string_value(json_array_get(v, i)));
    sch = json_object_get(spec, "scheduling");
    ck_assert_int_eq(j->priority, json_integer_value(json_object_get(sch, "priority")));
    ck_assert_int_eq(j->preemptible, json_is_true(json_object_get(sch, "preemptible")));
    ck_assert_int_eq(j->max_runtime_s,
                     json_integer_value(json_object_get(sch, "maxRuntimeSeconds")));
    ck_assert_int_eq(j->checkpoint_interval_s,
                     json_integer_value(json_object_get(sch, "checkpointIntervalSeconds")));
    v = json_object_get(sch, "clusterAffinity");
    ck_assert_uint_eq(j->n_cluster_affinity, json_array_size(v));
    for (size_t i = 0; i < j->n_cluster_affinity; i++)
        ck_assert_str_eq(j->cluster_affinity[i], json_string_value(json_array_get(v, i)));
    json_decref(spec);
}

START_TEST(test_good_fixture)
{
    char *rel = xasprintf("testdata/jobs/good/%s", good_files[_i]);
    size_t len;
    char *body = slurp(rel, &len), *spec_text, *full_text, *again;
    struct job *j = NULL, *k = NULL;
    struct err e;
    json_t *doc;

    err_clear(&e);
    ck_assert_msg(trainingjob_parse(body, len, NS, NULL, &j, &e) == 0, "%s: %s: %s", rel, e.field,
                  e.msg);
    ck_assert_str_eq(j->ns, NS);
    ck_assert_int_eq(trainingjob_check_name(j->name, NULL), 0);
    ck_assert_int_eq(j->phase, PHASE_QUEUED);
    ck_assert_ptr_null(j->uid);
    ck_assert_ptr_nonnull(j->labels_json);
    ck_assert_ptr_nonnull(j->api_version);
    check_lifted(j);

    /* Pretend the store saved it, as GET would then show it. */
    j->uid = xstrdup("0b5e6c1a-7d2f-4e61-9d1f-3f1c2a4b5c6d");
    j->created_ms = 1764296138123;
    j->resource_version = 7;
    doc = trainingjob_to_json(j);
    spec_text = dump_canonical(json_object_get(doc, "spec"));
    ck_assert_str_eq(spec_text, j->spec_json);

    /* Resubmitting what GET returned is the same job: same name, labels and spec. */
    full_text = json_dumps(doc, JSON_INDENT(1));
    ck_assert_msg(trainingjob_parse(full_text, strlen(full_text), NS, NULL, &k, &e) == 0,
                  "%s round trip: %s: %s", rel, e.field, e.msg);
    ck_assert_str_eq(k->spec_json, j->spec_json);
    ck_assert_str_eq(k->labels_json, j->labels_json);
    ck_assert_str_eq(k->name, j->name);
    ck_assert_str_eq(k->api_version, j->api_version);

    /* Canonical text is a fixed point: parsing it again changes nothing. */
    again = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                      "\"metadata\":{\"name\":\"x\"},\"spec\":%s}",
                      j->spec_json);
    job_free(&k);
    k = expect_ok(again);
    ck_assert_str_eq(k->spec_json, j->spec_json);

    free(again);
    free(full_text);
    free(spec_text);
    json_decref(doc);
    job_free(&k);
    job_free(&j);
    ck_assert_ptr_null(j);
    free(body);
    free(rel);
}
END_TEST

/* ---- bad fixtures ---- */

START_TEST(test_bad_fixture)
{
    const struct bad_case *c = &bad_cases[_i];
    char *rel = xasprintf("testdata/jobs/bad/%s", c->file);
    size_t len;
    char *body = slurp(rel, &len);
    struct job *sentinel = (struct job *)&sentinel, *j = sentinel;
    struct err e;

    err_clear(&e);
    ck_assert_msg(trainingjob_parse(body, len, NS, NULL, &j, &e) == -1, "%s was accepted", rel);
    ck_assert_ptr_eq(j, sentinel);
    ck_assert_msg(strcmp(err_code_name(e.code), c->code) == 0, "%s: code %s, want %s (%s: %s)", rel,
                  err_code_name(e.code), c->code, e.field, e.msg);
    ck_assert_int_eq(status_of(e.code), c->status);
    ck_assert_msg(strcmp(e.field, strcmp(c->field, "-") == 0 ? "" : c->field) == 0,
                  "%s: field \"%s\", want \"%s\" (%s)", rel, e.field, c->field, e.msg);
    ck_assert_msg(strcmp(c->substr, "-") == 0 || strstr(e.msg, c->substr),
                  "%s: message \"%s\" lacks \"%s\"", rel, e.msg, c->substr);
    ck_assert(e.msg[0] != '\0');
    ck_assert(valid_utf8(e.msg));
    ck_assert(valid_utf8(e.field));
    free(body);
    free(rel);
}
END_TEST

START_TEST(test_every_bad_fixture_is_indexed)
{
    char *dir = xasprintf("%s/testdata/jobs/bad", src_dir());
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n_json = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        bool found = false;

        if (n < 5 || strcmp(de->d_name + n - 5, ".json") != 0)
            continue;
        n_json++;
        for (size_t i = 0; i < n_bad; i++)
            found = found || strcmp(bad_cases[i].file, de->d_name) == 0;
        ck_assert_msg(found, "%s has no line in bad/index.tsv", de->d_name);
    }
    closedir(d);
    ck_assert_uint_eq(n_json, n_bad);
    ck_assert_uint_ge(n_bad, 50);
    ck_assert_uint_ge(n_good, 5);
    free(dir);
}
END_TEST

/* ---- defaults and canonical form ---- */

static const char *const minimal =
    "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":\"a\"},"
    "\"spec\":{\"resources\":{\"instanceType\":\"a100-80gb\",\"gpuCount\":4,\"cpu\":8},"
    "\"code\":{\"image\":\"img:1\",\"env\":[{\"name\":\"A\"}]}}}";

START_TEST(test_defaults_give_identical_spec)
{
    /* The same job spelt with every default explicit, keys reordered, integral reals,
     * nulls and empty collections, another apiVersion, and a namespace and labels. */
    static const char *const explicit_form =
        "{ \"kind\": \"TrainingJob\", \"apiVersion\": \"michelangelo.uber.com/v1\",\n"
        "  \"metadata\": {\"namespace\": \"maps-team\", \"name\": \"b\", \"labels\": {}},\n"
        "  \"spec\": {\"code\": {\"env\": [{\"value\": \"\", \"name\": \"A\"}], "
        "\"image\": \"img:1\", \"command\": [], \"args\": null},\n"
        "    \"scheduling\": {\"preemptible\": false, \"priority\": 0, \"clusterAffinity\": []},\n"
        "    \"data\": {}, \"output\": null, \"framework\": \"pytorch\",\n"
        "    \"resources\": {\"gpusPerWorker\": 4, \"gpuCount\": 4, \"cpu\": 8.0,\n"
        "                  \"instanceType\": \"a100-80gb\", \"alternativeInstanceTypes\": []}},\n"
        "  \"status\": {\"phase\": \"Running\"} }";
    struct job *a = expect_ok(minimal), *b = expect_ok(explicit_form), *c;
    char *changed = xstrdup(minimal);

    ck_assert_str_eq(a->spec_json, b->spec_json);
    ck_assert_str_eq(a->labels_json, "{}");
    ck_assert_str_eq(b->labels_json, "{}");
    ck_assert_str_eq(a->spec_json,
                     "{\"code\":{\"env\":[{\"name\":\"A\",\"value\":\"\"}],\"image\":\"img:1\"},"
                     "\"framework\":\"pytorch\",\"resources\":{\"cpu\":8,\"gpuCount\":4,"
                     "\"gpusPerWorker\":4,\"instanceType\":\"a100-80gb\"},"
                     "\"scheduling\":{\"preemptible\":false,\"priority\":0}}");

    /* A real difference must show. */
    memcpy(strstr(changed, "\"gpuCount\":4"), "\"gpuCount\":8", 12);
    c = expect_ok(changed);
    ck_assert_str_ne(a->spec_json, c->spec_json);
    job_free(&a);
    job_free(&b);
    job_free(&c);
    free(changed);
}
END_TEST

START_TEST(test_default_values)
{
    struct job *j = expect_ok(minimal), *k;
    char *big;

    ck_assert_str_eq(j->framework, "pytorch");
    ck_assert_int_eq(j->gpus_per_worker, 4); /* gpuCount <= 8: one worker */
    ck_assert_int_eq(j->priority, 0);
    ck_assert(!j->preemptible);
    ck_assert_int_eq(j->max_runtime_s, 0);
    ck_assert_int_eq(j->checkpoint_interval_s, 0);
    ck_assert_uint_eq(j->n_alt_skus, 0);
    ck_assert_ptr_null(j->alt_skus);
    ck_assert_uint_eq(j->n_cluster_affinity, 0);
    ck_assert_str_eq(j->api_version, "fedsched.io/v1");
    ck_assert_ptr_null(j->cluster);

    big = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                    "\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{\"instanceType\":"
                    "\"h100-80gb\",\"gpuCount\":64},\"code\":{\"image\":\"i\"}}}");
    k = expect_ok(big);
    ck_assert_int_eq(k->gpus_per_worker, 8); /* gpuCount > 8: workers of 8 */
    job_free(&k);
    job_free(&j);
    free(big);
}
END_TEST

/* spec.scheduling.retry: absent stays absent; given, its defaults are written out and its
 * rules kept in order, in the canonical spec the scheduler reads. */
START_TEST(test_retry_canonical)
{
    struct job *j = expect_ok("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                              "\"metadata\":{\"name\":\"r\"},\"spec\":{\"resources\":"
                              "{\"instanceType\":\"l4\",\"gpuCount\":1},\"code\":{\"image\":"
                              "\"x:1\"}}}");

    ck_assert_ptr_null(strstr(j->spec_json, "retry"));
    job_free(&j);
    j = expect_ok("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":"
                  "{\"name\":\"r\"},\"spec\":{\"resources\":{\"instanceType\":\"l4\","
                  "\"gpuCount\":1},\"code\":{\"image\":\"x:1\"},\"scheduling\":{\"retry\":"
                  "{\"maxRetries\":2,\"rules\":[{\"action\":\"Fail\",\"class\":\"ExitCode\","
                  "\"values\":[3,1],\"operator\":\"NotIn\"},{\"class\":\"OOM\",\"action\":"
                  "\"Retry\"}]}}}}");
    ck_assert_ptr_nonnull(strstr(
        j->spec_json, "\"retry\":{\"backoffSeconds\":10,\"maxBackoffSeconds\":600,"
                      "\"maxRetries\":2,\"rules\":[{\"action\":\"Fail\",\"class\":\"ExitCode\","
                      "\"operator\":\"NotIn\",\"values\":[3,1]},{\"action\":\"Retry\","
                      "\"class\":\"OOM\"}]}"));
    job_free(&j);
}
END_TEST

START_TEST(test_architecture_example_lifted)
{
    size_t len;
    char *body = slurp("testdata/jobs/good/architecture_example.json", &len);
    struct job *j = NULL;

    ck_assert_int_eq(trainingjob_parse(body, len, NS, sku_defaults(), &j, NULL), 0);
    ck_assert_str_eq(j->name, "deepeta-training-run-472");
    ck_assert_str_eq(j->framework, "ray");
    ck_assert_str_eq(j->sku, "a100-80gb");
    ck_assert_uint_eq(j->n_alt_skus, 1);
    ck_assert_str_eq(j->alt_skus[0], "h100-80gb");
    ck_assert_int_eq(j->gpu_count, 64);
    ck_assert_int_eq(j->gpus_per_worker, 8);
    ck_assert_int_eq(j->priority, 100);
    ck_assert(j->preemptible);
    ck_assert_int_eq(j->max_runtime_s, 14400);
    ck_assert_int_eq(j->checkpoint_interval_s, 1800);
    ck_assert_uint_eq(j->n_cluster_affinity, 1);
    ck_assert_str_eq(j->cluster_affinity[0], "az1-onprem");
    ck_assert_str_eq(j->labels_json, "{\"pipeline\":\"deepeta\"}");
    /* The client's status is ignored on create. */
    ck_assert_int_eq(j->phase, PHASE_QUEUED);
    ck_assert_int_eq(j->attempt, 0);
    ck_assert_ptr_null(j->cluster);
    ck_assert_ptr_null(strstr(j->spec_json, "Running"));
    job_free(&j);
    free(body);
}
END_TEST

/* relativeThroughput is kept canonically (sorted keys, integral reals as integers)
 * whatever order the client wrote it in, GET returns it, and its bounds are inclusive at
 * 1e6 and exclusive at 0. */
START_TEST(test_relative_throughput_kept_canonically)
{
    static const char *const fmt =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":\"a\"},"
        "\"spec\":{\"resources\":{\"instanceType\":\"l4\",\"gpuCount\":1,"
        "\"alternativeInstanceTypes\":[\"t4\",\"a10\"],\"relativeThroughput\":%s},"
        "\"code\":{\"image\":\"img:1\"}}}";
    size_t len;
    char *body = slurp("testdata/jobs/good/relative_throughput.json", &len), *s;
    struct job *j = NULL, *k;
    struct err e;
    json_t *doc, *rt;

    err_clear(&e);
    ck_assert_msg(trainingjob_parse(body, len, NS, NULL, &j, &e) == 0, "%s: %s", e.field, e.msg);
    ck_assert_str_eq(j->api_version, "michelangelo.uber.com/v1");
    ck_assert_str_eq(
        j->spec_json,
        "{\"code\":{\"image\":\"registry.local/ranker:2.0\"},\"framework\":\"pytorch\","
        "\"resources\":{\"alternativeInstanceTypes\":[\"h100-80gb\",\"v100-32gb\"],"
        "\"gpuCount\":16,\"gpusPerWorker\":8,\"instanceType\":\"a100-80gb\","
        "\"relativeThroughput\":{\"a100-80gb\":1,\"h100-80gb\":2,\"v100-32gb\":0.35}},"
        "\"scheduling\":{\"preemptible\":false,\"priority\":0}}");
    /* GET shows it as stored. */
    j->uid = xstrdup("0b5e6c1a-7d2f-4e61-9d1f-3f1c2a4b5c6d");
    doc = trainingjob_to_json(j);
    rt = json_object_get(json_object_get(json_object_get(doc, "spec"), "resources"),
                         "relativeThroughput");
    ck_assert_uint_eq(json_object_size(rt), 3);
    ck_assert(json_is_integer(json_object_get(rt, "a100-80gb")));
    ck_assert_int_eq(json_integer_value(json_object_get(rt, "h100-80gb")), 2);
    ck_assert_double_eq(json_real_value(json_object_get(rt, "v100-32gb")), 0.35);
    json_decref(doc);
    job_free(&j);

    /* Another key order, the same spec. */
    s = xasprintf(fmt, "{\"a10\":3,\"t4\":0.5,\"l4\":1.0}");
    j = expect_ok(s);
    free(s);
    s = xasprintf(fmt, "{\"l4\":1,\"a10\":3.0,\"t4\":0.5}");
    k = expect_ok(s);
    free(s);
    ck_assert_str_eq(j->spec_json, k->spec_json);
    ck_assert_ptr_nonnull(
        strstr(j->spec_json, "\"relativeThroughput\":{\"a10\":3,\"l4\":1,\"t4\":0.5}"));
    job_free(&j);
    job_free(&k);

    /* The bounds: 1e6 and a tiny positive figure are accepted, just above 1e6 and -0 not. */
    s = xasprintf(fmt, "{\"l4\":1e6,\"t4\":1e-9,\"a10\":1000000}");
    j = expect_ok(s);
    free(s);
    ck_assert_ptr_nonnull(strstr(j->spec_json, "\"l4\":1000000"));
    job_free(&j);
    s = xasprintf(fmt, "{\"l4\":1,\"t4\":1.000001e6,\"a10\":1}");
    len = strlen(s);
    expect_fail(s, len, ERR_INVALID, "spec.resources.relativeThroughput.t4", "1000001");
    free(s);
    s = xasprintf(fmt, "{\"l4\":1,\"t4\":1,\"a10\":-0.0}");
    len = strlen(s);
    expect_fail(s, len, ERR_INVALID, "spec.resources.relativeThroughput.a10", "must be > 0");
    free(s);
    /* null is absent, as for every optional field. */
    s = xasprintf(fmt, "null");
    j = expect_ok(s);
    free(s);
    ck_assert_ptr_null(strstr(j->spec_json, "relativeThroughput"));
    job_free(&j);
    free(body);
}
END_TEST

/* ---- decoding limits ---- */

static char *nested(int levels, const char *open, const char *close)
{
    size_t ol = strlen(open), cl = strlen(close), n = 0;
    char *s = xmalloc((size_t)levels * (ol + cl) + 1);

    for (int i = 0; i < levels; i++, n += ol)
        memcpy(s + n, open, ol);
    for (int i = 0; i < levels; i++, n += cl)
        memcpy(s + n, close, cl);
    s[n] = '\0';
    return s;
}

START_TEST(test_depth_limit)
{
    char *ok32 = nested(32, "[", "]"), *deep33 = nested(33, "[", "]"), *obj33;
    char *huge = nested(100000, "{\"a\":", "}");
    struct err e;
    struct job *j = NULL;

    /* 32 levels pass the scan (and fail later for not being an object). */
    expect_fail(ok32, strlen(ok32), ERR_MALFORMED, "", "not an array");
    expect_fail(deep33, strlen(deep33), ERR_MALFORMED, "", "deeper than 32");
    obj33 = nested(33, "{\"a\":", "}");
    expect_fail(obj33, strlen(obj33), ERR_MALFORMED, "", "deeper than 32");
    /* Hostile depth is stopped by the scan; jansson never sees it. */
    ck_assert_int_eq(trainingjob_parse(huge, strlen(huge), NS, NULL, &j, &e), -1);
    ck_assert_ptr_null(j);
    ck_assert_str_eq(err_code_name(e.code), "malformed");
    ck_assert_ptr_nonnull(strstr(e.msg, "offset 160")); /* 33rd '{' */
    free(ok32);
    free(deep33);
    free(obj33);
    free(huge);
}
END_TEST

START_TEST(test_brackets_inside_strings_do_not_count)
{
    /* Escaped quotes must not end the string early: "\"[[[..." stays inside it. */
    char *inner = nested(40, "[", "");
    char *body = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                           "\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{"
                           "\"instanceType\":\"t4\",\"gpuCount\":1},\"code\":{\"image\":\"i\","
                           "\"args\":[\"\\\\\\\"%s\", \"\\\\\"]}}}",
                           inner);
    struct job *j = expect_ok(body);

    ck_assert_ptr_nonnull(strstr(j->spec_json, inner));
    job_free(&j);
    free(body);
    free(inner);
}
END_TEST

START_TEST(test_duplicate_keys)
{
    static const char *const bodies[] = {
        "{\"apiVersion\":\"fedsched.io/v1\",\"apiVersion\":\"fedsched.io/v1\"}",
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"a\"},\"spec\":{\"resources\":{\"instanceType\":\"t4\",\"gpuCount\":1,\"gpuCount\":"
        "2},\"code\":{\"image\":\"i\"}}}",
        "{\"metadata\":{\"labels\":{\"a\":\"1\",\"a\":\"1\"}}}",
    };

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        expect_fail(bodies[i], strlen(bodies[i]), ERR_MALFORMED, "", "duplicate object key");
}
END_TEST

static char *with_resources(const char *resources)
{
    return xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                     "\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{%s},"
                     "\"code\":{\"image\":\"i\"}}}",
                     resources);
}

START_TEST(test_huge_numbers)
{
    static const struct {
        const char *res;
        enum err_code code;
        const char *field;
    } cases[] = {
        {"\"instanceType\":\"t4\",\"gpuCount\":9223372036854775808", ERR_MALFORMED, ""},
        {"\"instanceType\":\"t4\",\"gpuCount\":-9223372036854775809", ERR_MALFORMED, ""},
        {"\"instanceType\":\"t4\",\"gpuCount\":9223372036854775807", ERR_INVALID,
         "spec.resources.gpuCount"},
        {"\"instanceType\":\"t4\",\"gpuCount\":4294967297", ERR_INVALID, "spec.resources.gpuCount"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1e3", ERR_MALFORMED, "spec.resources.gpuCount"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"gpusPerWorker\":-4294967295", ERR_INVALID,
         "spec.resources.gpusPerWorker"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"memoryGb\":1e308", ERR_INVALID,
         "spec.resources.memoryGb"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"cpu\":1e-320", ERR_INVALID,
         "spec.resources.cpu"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"cpu\":0.001", ERR_NONE, NULL},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"cpu\":1e400", ERR_MALFORMED, ""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = with_resources(cases[i].res);

        if (cases[i].code == ERR_NONE) {
            struct job *j = expect_ok(body);

            ck_assert_ptr_nonnull(strstr(j->spec_json, "\"cpu\":"));
            job_free(&j);
        } else {
            expect_fail(body, strlen(body), cases[i].code, cases[i].field, NULL);
        }
        free(body);
    }
}
END_TEST

START_TEST(test_wrong_types_are_malformed)
{
    static const struct {
        const char *res;
        const char *field;
        const char *msg;
    } cases[] = {
        {"\"instanceType\":4,\"gpuCount\":1", "spec.resources.instanceType",
         "instanceType must be a string, not an integer"},
        {"\"instanceType\":\"t4\",\"gpuCount\":true", "spec.resources.gpuCount",
         "gpuCount must be an integer, not a boolean"},
        {"\"instanceType\":\"t4\",\"gpuCount\":[1]", "spec.resources.gpuCount", "not an array"},
        {"\"instanceType\":\"t4\",\"gpuCount\":{}", "spec.resources.gpuCount", "not an object"},
        {"\"instanceType\":\"t4\",\"gpuCount\":2.0", "spec.resources.gpuCount",
         "not a fractional number"},
        {"\"instanceType\":\"t4\",\"gpuCount\":1,\"cpu\":\"2\"", "spec.resources.cpu",
         "must be a number"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *body = with_resources(cases[i].res);

        expect_fail(body, strlen(body), ERR_MALFORMED, cases[i].field, cases[i].msg);
        free(body);
    }
}
END_TEST

START_TEST(test_empty_and_non_object_bodies)
{
    static const char *const not_objects[] = {"null", "[]", "42", "\"x\"", "true", "  "};

    expect_fail("", 0, ERR_MALFORMED, "", "empty");
    expect_fail(NULL, 0, ERR_MALFORMED, "", "empty");
    expect_fail("{}", 0, ERR_MALFORMED, "", "empty"); /* len wins over the text */
    for (size_t i = 0; i < sizeof(not_objects) / sizeof(not_objects[0]); i++)
        expect_fail(not_objects[i], strlen(not_objects[i]), ERR_MALFORMED, "", NULL);
    expect_fail("{} x", 4, ERR_MALFORMED, "", "end of file expected");
    expect_fail("{}{}", 4, ERR_MALFORMED, "", "end of file expected");
    /* Not NUL-terminated: only len bytes count, the rest is never read. */
    expect_fail("{}garbage", 2, ERR_INVALID, "apiVersion", "required");
}
END_TEST

START_TEST(test_utf8_and_nul)
{
    static const struct {
        const char *bytes;
        size_t len;
        const char *msg;
    } cases[] = {
        {"{\"a\":\"\xff\"}", 8, "UTF-8 at offset 6"},
        {"{\"a\":\"\xc0\xaf\"}", 9, "UTF-8"},             /* overlong '/' */
        {"{\"a\":\"\xed\xa0\x80\"}", 10, "UTF-8"},        /* surrogate */
        {"{\"a\":\"\xf4\x90\x80\x80\"}", 11, "UTF-8"},    /* above U+10FFFF */
        {"{\"a\":\"\xe2\x82", 8, "UTF-8"},                /* cut at the end of the body */
        {"{\"a\":\"\x80\"}", 8, "UTF-8"},                 /* stray continuation */
        {"{\"a\":\"x\0y\"}", 10, "NUL byte at offset 7"}, /* raw NUL */
        {"{\"a\":\"x\\u0000y\"}", 15, "invalid JSON"},    /* escaped NUL */
        {"{\"a\":\"\\udc00\"}", 13, "invalid JSON"},      /* lone low surrogate */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_fail(cases[i].bytes, cases[i].len, ERR_MALFORMED, "", cases[i].msg);
}
END_TEST

START_TEST(test_valid_multibyte_text_is_kept)
{
    static const char body[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{\"name\":"
        "\"a\"},\"spec\":{\"resources\":{\"instanceType\":\"t4\",\"gpuCount\":1},\"code\":{"
        "\"image\":\"i\",\"args\":[\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x9a\x80\","
        "\"\\u00e9\"]}}}";
    struct job *j = expect_ok(body);

    ck_assert_ptr_nonnull(strstr(j->spec_json, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac"));
    ck_assert_ptr_nonnull(strstr(j->spec_json, "\"\xc3\xa9\""));
    job_free(&j);
}
END_TEST

START_TEST(test_too_large)
{
    size_t len = TRAININGJOB_MAX_BODY + 1;
    char *body = xmalloc(len);

    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    expect_fail(body, len, ERR_TOO_LARGE, "", "at most");
    free(body);
}
END_TEST

/* ---- names ---- */

START_TEST(test_generate_name)
{
    static const char body[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{"
        "\"generateName\":\"nightly-\"},\"spec\":{\"resources\":{\"instanceType\":\"t4\","
        "\"gpuCount\":1},\"code\":{\"image\":\"i\"}}}";
    char *names[16];
    size_t distinct = 0;

    for (size_t i = 0; i < 16; i++) {
        struct job *j = expect_ok(body);

        ck_assert_uint_eq(strlen(j->name), strlen("nightly-") + 5);
        ck_assert(strncmp(j->name, "nightly-", 8) == 0);
        for (size_t k = 8; k < 13; k++)
            ck_assert_msg(strchr("bcdfghjklmnpqrstvwxz2456789", j->name[k]), "bad char in %s",
                          j->name);
        ck_assert_int_eq(trainingjob_check_name(j->name, NULL), 0);
        names[i] = xstrdup(j->name);
        job_free(&j);
    }
    /* 27^5 = 14 million names: 16 draws collide with probability below 1e-5. */
    for (size_t i = 0; i < 16; i++) {
        bool seen = false;

        for (size_t k = 0; k < i; k++)
            seen = seen || strcmp(names[i], names[k]) == 0;
        distinct += !seen;
    }
    ck_assert_uint_eq(distinct, 16);
    for (size_t i = 0; i < 16; i++)
        free(names[i]);
}
END_TEST

START_TEST(test_name_wins_over_generate_name)
{
    static const char body[] =
        "{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{"
        "\"generateName\":\"x-\",\"name\":\"fixed\"},\"spec\":{\"resources\":{"
        "\"instanceType\":\"t4\",\"gpuCount\":1},\"code\":{\"image\":\"i\"}}}";
    struct job *j = expect_ok(body);

    ck_assert_str_eq(j->name, "fixed");
    job_free(&j);
}
END_TEST

START_TEST(test_check_namespace_and_name)
{
    struct err e;
    struct job *j = NULL;
    static const char *const good_names[] = {"a", "a-b", "a.b", "0", "a1.b-2.c3"};
    static const char *const bad_names[] = {"",   "A",  "a_b",  "-a",   "a-",
                                            ".a", "a.", "a..b", "a.-b", "a b"};

    for (size_t i = 0; i < sizeof(good_names) / sizeof(good_names[0]); i++)
        ck_assert_int_eq(trainingjob_check_name(good_names[i], NULL), 0);
    for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
        ck_assert_int_eq(trainingjob_check_name(bad_names[i], &e), -1);
        ck_assert_int_eq(e.code, ERR_INVALID);
        ck_assert_str_eq(e.field, "metadata.name");
    }
    ck_assert_int_eq(trainingjob_check_namespace("maps-team", &e), 0);
    ck_assert_int_eq(trainingjob_check_namespace("maps.team", &e), -1); /* label, not subdomain */
    ck_assert_str_eq(e.field, "metadata.namespace");
    ck_assert_int_eq(trainingjob_check_namespace(NULL, &e), -1);
    /* An invalid path namespace fails the parse before the body is decoded. */
    ck_assert_int_eq(trainingjob_parse(minimal, strlen(minimal), "Bad_NS", NULL, &j, &e), -1);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "metadata.namespace");
    ck_assert_ptr_nonnull(strstr(e.msg, "Bad_NS"));
}
END_TEST

/* ---- catalogue ---- */

START_TEST(test_custom_catalogue)
{
    struct sku_catalogue cat;
    struct job *j = NULL;
    struct err e;
    char *ok = with_resources("\"instanceType\":\"x1-gpu\",\"gpuCount\":1");
    char *unknown = with_resources("\"instanceType\":\"a100-80gb\",\"gpuCount\":1");

    memset(&cat, 0, sizeof(cat));
    snprintf(cat.skus[0].name, sizeof(cat.skus[0].name), "x1-gpu");
    snprintf(cat.skus[1].name, sizeof(cat.skus[1].name), "x2-gpu");
    cat.n = 2;
    ck_assert_int_eq(trainingjob_parse(ok, strlen(ok), NS, &cat, &j, &e), 0);
    ck_assert_str_eq(j->sku, "x1-gpu");
    job_free(&j);
    ck_assert_int_eq(trainingjob_parse(unknown, strlen(unknown), NS, &cat, &j, &e), -1);
    ck_assert_ptr_null(j);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "spec.resources.instanceType");
    ck_assert_ptr_nonnull(strstr(e.msg, "\"a100-80gb\""));
    ck_assert_ptr_nonnull(strstr(e.msg, "known SKUs: x1-gpu, x2-gpu"));
    free(ok);
    free(unknown);
}
END_TEST

/* ---- error text hygiene ---- */

START_TEST(test_error_text_stays_valid_utf8)
{
    /* An unknown key of 300 three-byte characters: the path is cut by err.field's size in
     * the middle of a character, and the message quotes a shortened copy. */
    char key[901];
    char *body;
    struct err e;
    struct job *j = NULL;

    for (size_t i = 0; i < 300; i++)
        memcpy(key + 3 * i, "\xe6\x97\xa5", 3);
    key[900] = '\0';
    body = xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\",\"metadata\":{"
                     "\"name\":\"a\",\"labels\":{\"%s\":\"v\"}}}",
                     key);
    ck_assert_int_eq(parse_str(body, &j, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert(strncmp(e.field, "metadata.labels.\xe6\x97\xa5", 19) == 0);
    ck_assert(valid_utf8(e.field));
    ck_assert(valid_utf8(e.msg));
    ck_assert_ptr_nonnull(strstr(e.msg, "..."));
    free(body);

    /* Control characters in a value never reach the message raw (no forged log lines). */
    body = with_resources("\"instanceType\":\"t4\\n2026 ERROR forged\",\"gpuCount\":1");
    ck_assert_int_eq(parse_str(body, &j, &e), -1);
    ck_assert_ptr_null(strchr(e.msg, '\n'));
    ck_assert_ptr_nonnull(strstr(e.msg, "t4?2026 ERROR forged"));
    free(body);

    /* e may be NULL. */
    ck_assert_int_eq(trainingjob_parse("[", 1, NS, NULL, &j, NULL), -1);
    ck_assert_ptr_null(j);
}
END_TEST

/* Every prefix of a good body, and every byte replaced by a structural or invalid one:
 * the parser must return cleanly (ASAN/UBSAN catch overreads and leaks). A smoke test
 * ahead of the real fuzzer, small enough to run in well under a second. */
START_TEST(test_mutations_never_crash)
{
    static const char repl[] = {'{', '"', '\\', ']', '\xff', '9'};
    size_t len, accepted = 0, rejected = 0;
    char *body = slurp("testdata/jobs/good/all_fields.json", &len);
    char *copy = xmalloc(len);

    for (size_t n = 0; n <= len; n++) {
        struct job *j = NULL;
        struct err e;

        if (trainingjob_parse(body, n, NS, NULL, &j, &e) == 0) {
            accepted++;
            job_free(&j);
        } else {
            rejected++;
            ck_assert(e.code == ERR_MALFORMED || e.code == ERR_INVALID);
        }
    }
    /* Only the whole body (or it minus trailing whitespace) is a valid document. */
    ck_assert_uint_ge(accepted, 1);
    ck_assert_uint_le(accepted, 2);
    for (size_t i = 0; i < len; i++) {
        for (size_t r = 0; r < sizeof(repl); r++) {
            struct job *j = NULL;
            struct err e;

            memcpy(copy, body, len);
            copy[i] = repl[r];
            if (trainingjob_parse(copy, len, NS, NULL, &j, &e) == 0)
                job_free(&j);
            else
                ck_assert(valid_utf8(e.msg) && valid_utf8(e.field));
        }
    }
    ck_assert_uint_gt(rejected, len / 2);
    free(copy);
    free(body);
}
END_TEST

/* ---- rendering ---- */

START_TEST(test_to_json_fresh_job_omits_unset)
{
    struct job *j = expect_ok(minimal);
    json_t *doc = trainingjob_to_json(j), *meta, *status;

    ck_assert_str_eq(json_string_value(json_object_get(doc, "apiVersion")), "fedsched.io/v1");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "kind")), "TrainingJob");
    meta = json_object_get(doc, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "name")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "namespace")), NS);
    ck_assert_ptr_null(json_object_get(meta, "uid"));
    ck_assert_ptr_null(json_object_get(meta, "labels"));
    ck_assert_ptr_null(json_object_get(meta, "creationTimestamp"));
    ck_assert_ptr_null(json_object_get(meta, "resourceVersion"));
    status = json_object_get(doc, "status");
    ck_assert_str_eq(json_string_value(json_object_get(status, "phase")), "Queued");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "attempt")), 0);
    ck_assert_ptr_null(json_object_get(status, "cluster"));
    ck_assert_ptr_null(json_object_get(status, "admittedAt"));
    ck_assert_ptr_null(json_object_get(status, "message"));
    ck_assert(json_is_array(json_object_get(status, "conditions")));
    ck_assert_uint_eq(json_array_size(json_object_get(status, "conditions")), 0);
    json_decref(doc);
    job_free(&j);
}
END_TEST

/* The members a queued job's GET adds to its status are spliced in as text, last, and the
 * answer is the document trainingjob_to_json() gives with them set on its tree. */
START_TEST(test_render_with_status_members)
{
    static const char extra[] =
        "\"queuePosition\":4,\"estimatedStartTime\":null,\"noEstimate\":\"never\","
        "\"pendingReason\":{\"reason\":\"never_fits\",\"message\":\"m\"}";
    struct job *j = expect_ok(minimal);
    json_t *doc, *want, *members;
    struct buf b;

    buf_init(&b, 0);
    trainingjob_render_with(j, extra, &b);
    doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_msg(doc != NULL, "not JSON: %s", b.data);
    want = trainingjob_to_json(j);
    members = json_loads("{"
                         "\"queuePosition\":4,\"estimatedStartTime\":null,\"noEstimate\":"
                         "\"never\",\"pendingReason\":{\"reason\":\"never_fits\",\"message\":"
                         "\"m\"}}",
                         0, NULL);
    json_object_update(json_object_get(want, "status"), members);
    ck_assert(json_equal(doc, want));
    ck_assert_ptr_nonnull(strstr(b.data, "],\"queuePosition\":4,")); /* after the conditions */
    json_decref(members);
    json_decref(want);
    json_decref(doc);
    buf_free(&b);
    /* NULL and "" add nothing. */
    buf_init(&b, 0);
    trainingjob_render_with(j, "", &b);
    doc = json_loadb(b.data, b.len, 0, NULL);
    want = trainingjob_to_json(j);
    ck_assert(json_equal(doc, want));
    json_decref(want);
    json_decref(doc);
    buf_free(&b);
    job_free(&j);
}
END_TEST

START_TEST(test_to_json_full_status)
{
    struct job *j = expect_ok(minimal);
    json_t *doc, *meta, *status, *cond;

    free(j->labels_json);
    j->labels_json = xstrdup("{\"team\":\"maps\"}");
    j->uid = xstrdup("uid-1");
    j->created_ms = 1764296138123; /* 2025-11-28T02:15:38.123Z */
    j->resource_version = 42;
    j->phase = PHASE_SUCCEEDED;
    j->cluster = xstrdup("az1-onprem");
    j->pool = xstrdup("serving-borrowed");
    j->attempt = 2;
    j->preemptions = 1;
    j->reason = xstrdup("Completed");
    j->message = xstrdup("bad \xff utf-8 is dropped, not printed");
    j->admitted_ms = 1764296139000;
    j->started_ms = 1764296140000;
    j->finished_ms = 1764299740000;
    j->last_checkpoint_ms = 1764298000000;
    doc = trainingjob_to_json(j);
    meta = json_object_get(doc, "metadata");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "uid")), "uid-1");
    ck_assert(json_is_string(json_object_get(meta, "resourceVersion")));
    ck_assert_str_eq(json_string_value(json_object_get(meta, "resourceVersion")), "42");
    ck_assert_str_eq(json_string_value(json_object_get(meta, "creationTimestamp")),
                     "2025-11-28T02:15:38.123Z");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(meta, "labels"), "team")),
                     "maps");
    status = json_object_get(doc, "status");
    ck_assert_str_eq(json_string_value(json_object_get(status, "phase")), "Succeeded");
    ck_assert_str_eq(json_string_value(json_object_get(status, "cluster")), "az1-onprem");
    ck_assert_str_eq(json_string_value(json_object_get(status, "pool")), "serving-borrowed");
    ck_assert_int_eq(json_integer_value(json_object_get(status, "attempt")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(status, "preemptions")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(status, "reason")), "Completed");
    ck_assert_ptr_null(json_object_get(status, "message"));
    ck_assert_str_eq(json_string_value(json_object_get(status, "admittedAt")),
                     "2025-11-28T02:15:39.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(status, "startTime")),
                     "2025-11-28T02:15:40.000Z");
    ck_assert_str_eq(json_string_value(json_object_get(status, "completionTime")),
                     "2025-11-28T03:15:40.000Z");
    ck_assert_ptr_nonnull(json_object_get(status, "lastCheckpointTime"));
    cond = json_array_get(json_object_get(status, "conditions"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(cond, "type")), "Complete");
    ck_assert_str_eq(json_string_value(json_object_get(cond, "status")), "True");
    ck_assert_str_eq(json_string_value(json_object_get(cond, "lastTransitionTime")),
                     "2025-11-28T03:15:40.000Z");
    json_decref(doc);

    /* Failed maps to a Failed condition; a running job has none. */
    j->phase = PHASE_FAILED;
    doc = trainingjob_to_json(j);
    cond = json_array_get(json_object_get(json_object_get(doc, "status"), "conditions"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(cond, "type")), "Failed");
    json_decref(doc);
    j->phase = PHASE_RUNNING;
    doc = trainingjob_to_json(j);
    ck_assert_uint_eq(
        json_array_size(json_object_get(json_object_get(doc, "status"), "conditions")), 0);
    json_decref(doc);
    job_free(&j);
}
END_TEST

START_TEST(test_to_json_corrupt_text_is_omitted)
{
    struct job *j = job_new();
    json_t *doc;

    j->name = xstrdup("a");
    j->ns = xstrdup(NS);
    j->spec_json = xstrdup("{not json");
    j->labels_json = xstrdup("[1]");
    doc = trainingjob_to_json(j);
    ck_assert_ptr_nonnull(doc);
    ck_assert_ptr_null(json_object_get(doc, "spec"));
    ck_assert_ptr_null(json_object_get(json_object_get(doc, "metadata"), "labels"));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "apiVersion")), "fedsched.io/v1");
    json_decref(doc);
    job_free(&j);
}
END_TEST

START_TEST(test_event_to_json)
{
    struct job_event ev = {0};
    json_t *o;

    ev.id = 9;
    ev.ts_ms = 1764296138123;
    ev.type = xstrdup("Admitted");
    ev.reason = xstrdup("Placed");
    ev.from_phase = xstrdup("Queued");
    ev.to_phase = xstrdup("Admitted");
    o = trainingjob_event_to_json(&ev);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), 9);
    ck_assert_str_eq(json_string_value(json_object_get(o, "time")), "2025-11-28T02:15:38.123Z");
    ck_assert_str_eq(json_string_value(json_object_get(o, "type")), "Admitted");
    ck_assert_str_eq(json_string_value(json_object_get(o, "reason")), "Placed");
    ck_assert_str_eq(json_string_value(json_object_get(o, "fromPhase")), "Queued");
    ck_assert_str_eq(json_string_value(json_object_get(o, "toPhase")), "Admitted");
    ck_assert_ptr_null(json_object_get(o, "message"));
    json_decref(o);

    /* The first event has no fromPhase. */
    free(ev.from_phase);
    ev.from_phase = NULL;
    o = trainingjob_event_to_json(&ev);
    ck_assert_ptr_null(json_object_get(o, "fromPhase"));
    ck_assert_uint_eq(json_object_size(o), 5);
    json_decref(o);
    job_event_clear(&ev);
}
END_TEST

/* ---- fixture loading (in main, before forking) ---- */

static int is_json(const struct dirent *de)
{
    size_t n = strlen(de->d_name);

    return n > 5 && strcmp(de->d_name + n - 5, ".json") == 0;
}

static void load_good(void)
{
    char *dir = xasprintf("%s/testdata/jobs/good", src_dir());
    struct dirent **list = NULL;
    int n = scandir(dir, &list, is_json, alphasort);

    if (n < 0) {
        fprintf(stderr, "test_trainingjob: cannot list %s\n", dir);
        exit(1);
    }
    good_files = xcalloc((size_t)n, sizeof(*good_files));
    for (int i = 0; i < n; i++) {
        good_files[i] = xstrdup(list[i]->d_name);
        free(list[i]);
    }
    n_good = (size_t)n;
    free(list);
    free(dir);
}

static void load_bad(void)
{
    char *path = xasprintf("%s/testdata/jobs/bad/index.tsv", src_dir());
    FILE *f = fopen(path, "r");
    char line[1024];

    if (!f) {
        fprintf(stderr, "test_trainingjob: cannot open %s\n", path);
        exit(1);
    }
    while (fgets(line, sizeof(line), f)) {
        char *cols[5], *save = NULL, *p = line;
        size_t nc = 0;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        for (char *t; nc < 5 && (t = strtok_r(p, "\t", &save)); p = NULL)
            cols[nc++] = t;
        if (nc != 5) {
            fprintf(stderr, "test_trainingjob: bad index line: %s\n", line);
            exit(1);
        }
        bad_cases = xrealloc(bad_cases, (n_bad + 1) * sizeof(*bad_cases));
        bad_cases[n_bad].file = xstrdup(cols[0]);
        bad_cases[n_bad].status = (int)strtol(cols[1], NULL, 10);
        bad_cases[n_bad].code = xstrdup(cols[2]);
        bad_cases[n_bad].field = xstrdup(cols[3]);
        bad_cases[n_bad].substr = xstrdup(cols[4]);
        n_bad++;
    }
    fclose(f);
    free(path);
}

/* ---- the pod template fields (issue 13) ---- */

/* A job whose spec holds extra, given as JSON members after resources and before code's
 * end: code_extra goes inside spec.code, spec_extra inside spec. */
static char *with_pod(const char *code_extra, const char *spec_extra)
{
    return xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                     "\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{\"instanceType\":"
                     "\"l4\",\"gpuCount\":1},\"code\":{\"image\":\"i\"%s%s}%s%s}}",
                     *code_extra ? "," : "", code_extra, *spec_extra ? "," : "", spec_extra);
}

static void pod_fails(const char *code_extra, const char *spec_extra, enum err_code code,
                      const char *field, const char *substr)
{
    char *b = with_pod(code_extra, spec_extra);

    expect_fail(b, strlen(b), code, field, substr);
    free(b);
}

static json_t *pod_spec(const char *code_extra, const char *spec_extra)
{
    char *b = with_pod(code_extra, spec_extra);
    struct job *j = expect_ok(b);
    json_t *spec = json_loads(j->spec_json, 0, NULL);

    ck_assert_ptr_nonnull(spec);
    job_free(&j);
    free(b);
    return spec;
}

START_TEST(test_pod_fields_are_kept_canonically)
{
    json_t *s = pod_spec(
        "\"env\":[{\"name\":\"TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"hf-token\","
        "\"key\":\"token\"}}},{\"name\":\"CFG\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":"
        "\"cfg.v1\",\"key\":\"train.yaml\"}}},{\"name\":\"P\",\"value\":\"$(HOME) 'x'\"}],"
        "\"serviceAccountName\":\"trainer\",\"imagePullSecrets\":[\"regcred\",\"other\"]",
        "\"data\":{\"volume\":{\"claimName\":\"imagenet\",\"mountPath\":\"/data\"},"
        "\"uri\":\"s3://bucket/imagenet/\"},\"output\":{\"volume\":{\"claimName\":\"out\","
        "\"mountPath\":\"/out\"},\"uri\":\"gs://b/models\"},\"checkpoint\":{\"claimName\":"
        "\"ckpt\",\"mountPath\":\"/ckpt\"},\"podLabels\":{\"example.com/team\":\"maps\"},"
        "\"podAnnotations\":{\"example.com/note\":\"any text: $x, \\\"quoted\\\"\"}");
    char *t = dump_canonical(s);

    ck_assert_str_eq(
        t, "{\"checkpoint\":{\"claimName\":\"ckpt\",\"mountPath\":\"/ckpt\"},\"code\":{"
           "\"env\":[{\"name\":\"TOKEN\",\"valueFrom\":{\"secretKeyRef\":{\"key\":\"token\","
           "\"name\":\"hf-token\"}}},{\"name\":\"CFG\",\"valueFrom\":{\"configMapKeyRef\":{"
           "\"key\":\"train.yaml\",\"name\":\"cfg.v1\"}}},{\"name\":\"P\",\"value\":\"$(HOME) "
           "'x'\"}],\"image\":\"i\",\"imagePullSecrets\":[\"regcred\",\"other\"],"
           "\"serviceAccountName\":\"trainer\"},\"data\":{\"uri\":\"s3://bucket/imagenet/\","
           "\"volume\":{\"claimName\":\"imagenet\",\"mountPath\":\"/data\",\"readOnly\":true}},"
           "\"framework\":\"pytorch\",\"output\":{\"uri\":\"gs://b/models\",\"volume\":{"
           "\"claimName\":\"out\",\"mountPath\":\"/out\"}},\"podAnnotations\":{"
           "\"example.com/note\":\"any text: $x, \\\"quoted\\\"\"},\"podLabels\":{"
           "\"example.com/team\":\"maps\"},\"resources\":{\"gpuCount\":1,\"gpusPerWorker\":1,"
           "\"instanceType\":\"l4\"},\"scheduling\":{\"preemptible\":false,\"priority\":0}}");
    free(t);
    json_decref(s);
    /* readOnly false is kept for data (a cache written back). */
    s = pod_spec("", "\"data\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"/d\","
                     "\"readOnly\":false}}");
    ck_assert(json_is_false(
        json_object_get(json_object_get(json_object_get(s, "data"), "volume"), "readOnly")));
    json_decref(s);
}
END_TEST

START_TEST(test_env_references_are_checked)
{
    pod_fails("\"env\":[{\"name\":\"A\",\"value\":\"v\",\"valueFrom\":{\"secretKeyRef\":"
              "{\"name\":\"s\",\"key\":\"k\"}}}]",
              "", ERR_INVALID, "spec.code.env[0]", "both value and valueFrom");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{}}]", "", ERR_INVALID,
              "spec.code.env[0].valueFrom", "exactly one of secretKeyRef or configMapKeyRef");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\","
              "\"key\":\"k\"},\"configMapKeyRef\":{\"name\":\"c\",\"key\":\"k\"}}}]",
              "", ERR_INVALID, "spec.code.env[0].valueFrom", "exactly one");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"x\"}}}]", "",
              ERR_MALFORMED, "spec.code.env[0].valueFrom.fieldRef", "unknown field");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"Bad_Name\","
              "\"key\":\"k\"}}}]",
              "", ERR_INVALID, "spec.code.env[0].valueFrom.secretKeyRef.name",
              "Secret name \"Bad_Name\" is invalid");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"c\","
              "\"key\":\"a/b\"}}}]",
              "", ERR_INVALID, "spec.code.env[0].valueFrom.configMapKeyRef.key",
              "key \"a/b\" is invalid");
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\"}}}]", "",
              ERR_INVALID, "spec.code.env[0].valueFrom.secretKeyRef.key", "key is required");
    /* A value: never accepted inside the reference (fedsched keeps no secret values). */
    pod_fails("\"env\":[{\"name\":\"A\",\"valueFrom\":{\"secretKeyRef\":{\"name\":\"s\","
              "\"key\":\"k\",\"value\":\"hunter2\"}}}]",
              "", ERR_MALFORMED, "spec.code.env[0].valueFrom.secretKeyRef.value", "unknown field");
}
END_TEST

START_TEST(test_identity_fields_are_checked)
{
    pod_fails("\"serviceAccountName\":\"Trainer\"", "", ERR_INVALID, "spec.code.serviceAccountName",
              "serviceAccountName \"Trainer\" is invalid");
    pod_fails("\"serviceAccountName\":7", "", ERR_MALFORMED, "spec.code.serviceAccountName",
              "must be a string");
    pod_fails("\"imagePullSecrets\":[\"ok\",\"no way\"]", "", ERR_INVALID,
              "spec.code.imagePullSecrets[1]", "\"no way\" is invalid");
    pod_fails("\"imagePullSecrets\":[\"a\",\"a\"]", "", ERR_INVALID,
              "spec.code.imagePullSecrets[1]", "listed twice");
    pod_fails("\"imagePullSecrets\":\"regcred\"", "", ERR_MALFORMED, "spec.code.imagePullSecrets",
              "must be an array");
}
END_TEST

START_TEST(test_volumes_are_checked)
{
    pod_fails("", "\"data\":{\"volume\":{\"claimName\":\"UPPER\",\"mountPath\":\"/d\"}}",
              ERR_INVALID, "spec.data.volume.claimName", "claimName \"UPPER\" is invalid");
    pod_fails("", "\"data\":{\"volume\":{\"mountPath\":\"/d\"}}", ERR_INVALID,
              "spec.data.volume.claimName", "claimName is required");
    pod_fails("", "\"output\":{\"volume\":{\"claimName\":\"c\"}}", ERR_INVALID,
              "spec.output.volume.mountPath", "mountPath is required");
    pod_fails("", "\"output\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"out\"}}",
              ERR_INVALID, "spec.output.volume.mountPath", "mountPath \"out\" is invalid");
    pod_fails("", "\"checkpoint\":{\"claimName\":\"c\",\"mountPath\":\"/a/../etc\"}", ERR_INVALID,
              "spec.checkpoint.mountPath", "\"/a/../etc\" is invalid");
    pod_fails("", "\"checkpoint\":{\"claimName\":\"c\",\"mountPath\":\"/dev/shm\"}", ERR_INVALID,
              "spec.checkpoint.mountPath", "outside /dev/shm");
    pod_fails("", "\"checkpoint\":{\"claimName\":\"c\",\"mountPath\":\"/c:d\"}", ERR_INVALID,
              "spec.checkpoint.mountPath", "without ':'");
    pod_fails("", "\"checkpoint\":{\"claimName\":\"c\",\"mountPath\":\"/c\",\"readOnly\":true}",
              ERR_MALFORMED, "spec.checkpoint.readOnly", "unknown field");
    pod_fails("",
              "\"data\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"/d\",\"readOnly\":"
              "\"yes\"}}",
              ERR_MALFORMED, "spec.data.volume.readOnly", "must be a boolean");
    pod_fails("",
              "\"data\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"/x\"}},"
              "\"checkpoint\":{\"claimName\":\"d\",\"mountPath\":\"/x\"}",
              ERR_INVALID, "spec.checkpoint.mountPath", "already used by spec.data.volume");
    pod_fails("", "\"data\":{\"uri\":\"/local/path\"}", ERR_INVALID, "spec.data.uri",
              "uri \"/local/path\" is invalid");
    pod_fails("", "\"output\":{\"uri\":\"s3://b/with space\"}", ERR_INVALID, "spec.output.uri",
              "is invalid");
    pod_fails("", "\"output\":{\"uri\":\"S3://b\"}", ERR_INVALID, "spec.output.uri", "S3://b");
    pod_fails("", "\"output\":{\"uri\":\"s3://\"}", ERR_INVALID, "spec.output.uri", "s3://");
}
END_TEST

/* Parses body, which must fail, and checks that its causes are fields[] in that order (n of
 * them), items[0] being what trainingjob_parse() reports. */
static void expect_causes(const char *body, const char *const *fields, size_t n)
{
    struct err_causes c;
    struct job *j = NULL;
    struct err e;

    ck_assert_int_eq(trainingjob_parse_all(body, strlen(body), NS, NULL, &j, &c), -1);
    ck_assert_ptr_null(j);
    for (size_t i = 0; i < c.n; i++)
        ck_assert_msg(i < n && strcmp(c.items[i].field, fields[i]) == 0,
                      "cause %zu is %s (%s), want %s", i, c.items[i].field, c.items[i].msg,
                      i < n ? fields[i] : "no more");
    ck_assert_uint_eq(c.n, n);
    ck_assert_uint_eq(c.more, 0);
    ck_assert_int_eq(trainingjob_parse(body, strlen(body), NS, NULL, &j, &e), -1);
    ck_assert_str_eq(e.field, c.items[0].field);
    ck_assert_str_eq(e.msg, c.items[0].msg);
}

START_TEST(test_every_independent_problem_is_a_cause)
{
    static const char *const five[] = {"metadata.name", "spec.resources.instanceType",
                                       "spec.resources.gpuCount", "spec.resources.cpu",
                                       "spec.code.image"};
    static const char *const four[] = {"metadata.labels.Bad Key", "spec.framework",
                                       "spec.resources.gpusPerWorker", "spec.scheduling.priority"};
    static const char *const top[] = {"extra", "apiVersion", "kind", "metadata", "spec"};
    static const char *const mounts[] = {"spec.output.volume.mountPath"};
    static const char *const throughput[] = {"spec.resources.gpuCount"};

    expect_causes("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                  "\"metadata\":{\"name\":\"BAD_NAME\"},\"spec\":{\"resources\":{\"instanceType\":"
                  "\"x99\",\"gpuCount\":-1,\"cpu\":0},\"code\":{}}}",
                  five, 5);
    expect_causes("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                  "\"metadata\":{\"name\":\"ok\",\"labels\":{\"Bad Key\":\"x\"}},\"spec\":{"
                  "\"framework\":\"caffe\",\"resources\":{\"instanceType\":\"h100-80gb\","
                  "\"gpuCount\":3,\"gpusPerWorker\":2},\"code\":{\"image\":\"x:1\"},"
                  "\"scheduling\":{\"priority\":5000}}}",
                  four, 4);
    expect_causes("{\"extra\":1,\"apiVersion\":\"v9\",\"kind\":\"Pod\",\"metadata\":[],"
                  "\"spec\":null}",
                  top, 5);
    /* A volume that failed is not compared with the others: only its own cause. */
    expect_causes("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                  "\"metadata\":{\"name\":\"ok\"},\"spec\":{\"resources\":{\"instanceType\":"
                  "\"h100-80gb\",\"gpuCount\":1},\"code\":{\"image\":\"x:1\"},"
                  "\"data\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"/x\"}},"
                  "\"output\":{\"volume\":{\"claimName\":\"c\",\"mountPath\":\"x\"}},"
                  "\"checkpoint\":{\"claimName\":\"d\",\"mountPath\":\"/x\"}}}",
                  mounts, 1);
    /* The alternatives and throughputs are read when instanceType is known, whatever
     * gpuCount holds. */
    expect_causes("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                  "\"metadata\":{\"name\":\"ok\"},\"spec\":{\"resources\":{\"instanceType\":"
                  "\"h100-80gb\",\"gpuCount\":0,\"alternativeInstanceTypes\":[\"a100-80gb\"],"
                  "\"relativeThroughput\":{\"h100-80gb\":2,\"a100-80gb\":1}},"
                  "\"code\":{\"image\":\"x:1\"}}}",
                  throughput, 1);
}
END_TEST

/* Past ERR_CAUSES_MAX causes the rest are counted, not kept; a body that cannot be
 * decoded is one cause. */
START_TEST(test_causes_past_the_limit_are_counted)
{
    static const char body[] =
        "{\"x\":1,\"apiVersion\":1,\"kind\":1,\"metadata\":{\"y\":1,\"name\":1,"
        "\"namespace\":1,\"labels\":1,\"annotations\":1},\"spec\":{\"z\":1,\"framework\":1,"
        "\"resources\":{\"w\":1,\"instanceType\":1,\"gpuCount\":\"1\",\"memoryGb\":\"1\","
        "\"cpu\":\"1\"},\"code\":1,\"data\":1,\"output\":1,\"checkpoint\":1,\"scheduling\":1,"
        "\"podLabels\":1,\"podAnnotations\":1}}";
    struct err_causes c;
    struct job *j = NULL;

    ck_assert_int_eq(trainingjob_parse_all(body, strlen(body), NS, NULL, &j, &c), -1);
    ck_assert_uint_eq(c.n, ERR_CAUSES_MAX);
    ck_assert_uint_eq(c.n + c.more, 22);
    ck_assert_str_eq(c.items[0].field, "x");
    ck_assert_str_eq(c.items[ERR_CAUSES_MAX - 1].field, "spec.code");
    for (size_t i = 0; i < c.n; i++)
        ck_assert_msg(c.items[i].code == ERR_MALFORMED || c.items[i].code == ERR_INVALID, "%s",
                      c.items[i].field);
    ck_assert_int_eq(trainingjob_parse_all("{\"a\":", 5, NS, NULL, &j, &c), -1);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_uint_eq(c.more, 0);
    ck_assert_int_eq(c.items[0].code, ERR_MALFORMED);
}
END_TEST

START_TEST(test_pod_labels_need_a_user_prefix)
{
    pod_fails("", "\"podLabels\":{\"team\":\"maps\"}", ERR_INVALID, "spec.podLabels.team",
              "needs a prefix of your own");
    pod_fails("", "\"podLabels\":{\"fedsched.io/job-uid\":\"x\"}", ERR_INVALID,
              "spec.podLabels.fedsched.io/job-uid", "reserved for fedsched");
    pod_fails("", "\"podAnnotations\":{\"sim.fedsched.io/outcome\":\"OOMKilled\"}", ERR_INVALID,
              "spec.podAnnotations.sim.fedsched.io/outcome", "reserved for fedsched");
    pod_fails("", "\"podLabels\":{\"app.kubernetes.io/name\":\"x\"}", ERR_INVALID,
              "spec.podLabels.app.kubernetes.io/name", "reserved for Kubernetes");
    pod_fails("", "\"podAnnotations\":{\"k8s.io/x\":\"y\"}", ERR_INVALID,
              "spec.podAnnotations.k8s.io/x", "reserved for Kubernetes");
    pod_fails("", "\"podLabels\":{\"example.com/team\":\"has space\"}", ERR_INVALID,
              "spec.podLabels.example.com/team", "label value \"has space\" is invalid");
    pod_fails("", "\"podLabels\":{\"example.com/team\":1}", ERR_MALFORMED,
              "spec.podLabels.example.com/team", "must be a string");
    pod_fails("", "\"podAnnotations\":{\"Example.com/x\":\"y\"}", ERR_INVALID,
              "spec.podAnnotations.Example.com/x", "prefix must be a DNS subdomain");
    /* mykubernetes.io is somebody else's domain, not Kubernetes'. */
    json_decref(pod_spec("", "\"podLabels\":{\"mykubernetes.io/a\":\"b\"}"));
    {
        char *big = xcalloc(1, 4100);
        char *extra;

        memset(big, 'x', 4097);
        extra = xasprintf("\"podAnnotations\":{\"example.com/big\":\"%s\"}", big);
        pod_fails("", extra, ERR_INVALID, "spec.podAnnotations.example.com/big",
                  "4097 bytes; at most 4096");
        free(extra);
        free(big);
    }
}
END_TEST

/* ---- what administrators let tenants reference (config "tenants") ---- */

static struct trainingjob_tenants *tenant_rules(const char *config)
{
    json_t *v = json_loads(config, 0, NULL);
    struct trainingjob_tenants *t = NULL;
    struct err e;

    err_clear(&e);
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(trainingjob_tenants_from_json(v, &t, &e) == 0, "%s: %s", e.field, e.msg);
    json_decref(v);
    return t;
}

/* The namespace's job with image and the extras (as with_pod()) checked against t: 0, or
 * -1 with *e filled. */
static int tenant_check(const struct trainingjob_tenants *t, const char *ns, const char *image,
                        const char *code_extra, const char *spec_extra, struct err *e)
{
    char *b =
        xasprintf("{\"apiVersion\":\"fedsched.io/v1\",\"kind\":\"TrainingJob\","
                  "\"metadata\":{\"name\":\"a\"},\"spec\":{\"resources\":{\"instanceType\":"
                  "\"l4\",\"gpuCount\":1},\"code\":{\"image\":\"%s\"%s%s}%s%s}}",
                  image, *code_extra ? "," : "", code_extra, *spec_extra ? "," : "", spec_extra);
    struct job *j = NULL;
    int rc;

    err_clear(e);
    ck_assert_msg(trainingjob_parse(b, strlen(b), ns, NULL, &j, e) == 0, "%s: %s", e->field,
                  e->msg);
    rc = trainingjob_check_tenant(j, t, e);
    job_free(&j);
    free(b);
    return rc;
}

static void tenant_allows(const struct trainingjob_tenants *t, const char *ns, const char *image,
                          const char *code_extra, const char *spec_extra)
{
    struct err e;

    ck_assert_msg(tenant_check(t, ns, image, code_extra, spec_extra, &e) == 0,
                  "refused in %s: %s: %s", ns, e.field, e.msg);
}

static void tenant_refuses(const struct trainingjob_tenants *t, const char *ns, const char *image,
                           const char *code_extra, const char *spec_extra, const char *field,
                           const char *msg)
{
    struct err e;

    ck_assert_msg(tenant_check(t, ns, image, code_extra, spec_extra, &e) == -1,
                  "allowed in %s: %s %s", ns, code_extra, spec_extra);
    ck_assert_msg(e.code == ERR_FORBIDDEN, "code %s (%s)", err_code_name(e.code), e.msg);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, msg), "message \"%s\" lacks \"%s\"", e.msg, msg);
    ck_assert(valid_utf8(e.msg));
}

#define IMG "registry.example.com/ml/trainer:1"

static const char *const tenants_example =
    "{\"*\":{\"serviceAccountNames\":[\"default\"],\"secrets\":[],"
    "\"imagePrefixes\":[\"registry.example.com/ml/\"]},"
    "\"team-a\":{\"serviceAccountNames\":[\"trainer\",\"team-a-*\"],\"secrets\":[\"team-a-s3\"],"
    "\"volumeClaims\":[\"ckpt-*\"],\"uriPrefixes\":[\"s3://team-a/\"],"
    "\"podLabelPrefixes\":[\"example.com\"]}}";

START_TEST(test_tenant_service_accounts_and_secrets)
{
    struct trainingjob_tenants *t = tenant_rules(tenants_example);
    static const char *const sec = "\"env\":[{\"name\":\"A\",\"value\":\"x\"},{\"name\":\"K\","
                                   "\"valueFrom\":{\"secretKeyRef\":{\"name\":\"%s\",\"key\":"
                                   "\"k\"}}}]";
    char *own = xasprintf(sec, "team-a-s3"), *other = xasprintf(sec, "team-b-s3");

    tenant_allows(t, "team-a", IMG, "\"serviceAccountName\":\"trainer\"", "");
    tenant_allows(t, "team-a", IMG, "\"serviceAccountName\":\"team-a-etl\"", "");
    tenant_refuses(t, "team-a", IMG, "\"serviceAccountName\":\"root-sa\"", "",
                   "spec.code.serviceAccountName",
                   "spec.code.serviceAccountName \"root-sa\" is not allowed in namespace team-a "
                   "(tenants.team-a.serviceAccountNames); allowed: trainer, team-a-*");
    /* "team-a-*" is a prefix, not a pattern anywhere in the name. */
    tenant_refuses(t, "team-a", IMG, "\"serviceAccountName\":\"x-team-a-etl\"", "",
                   "spec.code.serviceAccountName", "\"x-team-a-etl\" is not allowed");
    /* A namespace without an entry falls back to "*". */
    tenant_refuses(t, "team-b", IMG, "\"serviceAccountName\":\"trainer\"", "",
                   "spec.code.serviceAccountName",
                   "in namespace team-b (tenants.*.serviceAccountNames); allowed: default");
    tenant_allows(t, "team-b", IMG, "\"serviceAccountName\":\"default\"", "");
    /* Leaving it out (the namespace's default ServiceAccount) is always allowed. */
    tenant_allows(t, "team-b", IMG, "", "");
    tenant_allows(t, "team-a", IMG, own, "");
    tenant_refuses(t, "team-a", IMG, other, "", "spec.code.env[1].valueFrom.secretKeyRef.name",
                   "\"team-b-s3\" is not allowed in namespace team-a "
                   "(tenants.team-a.secrets); allowed: team-a-s3");
    tenant_refuses(t, "team-b", IMG, other, "", "spec.code.env[1].valueFrom.secretKeyRef.name",
                   "(tenants.*.secrets); allowed: none");
    /* ConfigMaps and pull secrets: no list anywhere, so any. */
    tenant_allows(t, "team-b", IMG,
                  "\"env\":[{\"name\":\"C\",\"valueFrom\":{\"configMapKeyRef\":{\"name\":\"cfg\","
                  "\"key\":\"k\"}}}],\"imagePullSecrets\":[\"regcred\"]",
                  "");
    free(own);
    free(other);
    trainingjob_tenants_free(&t);
    ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_tenant_images_volumes_uris_and_labels)
{
    struct trainingjob_tenants *t = tenant_rules(tenants_example);

    /* team-a's entry has no imagePrefixes: "*"'s list decides, key by key. */
    tenant_refuses(t, "team-a", "docker.io/library/python:3", "", "", "spec.code.image",
                   "spec.code.image \"docker.io/library/python:3\" is not allowed in namespace "
                   "team-a (tenants.*.imagePrefixes); allowed: registry.example.com/ml/");
    tenant_allows(t, "team-a", IMG, "",
                  "\"checkpoint\":{\"claimName\":\"ckpt-a\",\"mountPath\":\"/ckpt\"}");
    tenant_refuses(t, "team-a", IMG, "",
                   "\"checkpoint\":{\"claimName\":\"ckpt-a\",\"mountPath\":\"/ckpt\"},"
                   "\"output\":{\"volume\":{\"claimName\":\"shared\",\"mountPath\":\"/o\"}}",
                   "spec.output.volume.claimName", "\"shared\" is not allowed");
    tenant_refuses(t, "team-a", IMG, "",
                   "\"data\":{\"volume\":{\"claimName\":\"imagenet\",\"mountPath\":\"/d\"}}",
                   "spec.data.volume.claimName", "(tenants.team-a.volumeClaims)");
    tenant_allows(t, "team-a", IMG, "", "\"data\":{\"uri\":\"s3://team-a/imagenet/\"}");
    tenant_refuses(t, "team-a", IMG, "", "\"output\":{\"uri\":\"s3://team-a-other/x\"}",
                   "spec.output.uri", "\"s3://team-a-other/x\" is not allowed");
    tenant_refuses(t, "team-a", IMG, "", "\"data\":{\"uri\":\"s3://team-a/../team-b/x\"}",
                   "spec.data.uri", "'..' segments");
    tenant_refuses(t, "team-a", IMG, "", "\"data\":{\"uri\":\"s3://team-a/%2e%2e/team-b/\"}",
                   "spec.data.uri", "escapes cannot be held to tenants.team-a.uriPrefixes");
    /* A domain allows its subdomains, not look-alikes. */
    tenant_allows(t, "team-a", IMG, "",
                  "\"podLabels\":{\"example.com/team\":\"a\",\"ml.example.com/run\":\"b\"}");
    tenant_refuses(t, "team-a", IMG, "", "\"podLabels\":{\"notexample.com/x\":\"y\"}",
                   "spec.podLabels.notexample.com/x",
                   "spec.podLabels key \"notexample.com/x\" is not allowed in namespace team-a "
                   "(tenants.team-a.podLabelPrefixes); allowed: example.com");
    /* Annotations and team-b's URIs: no list, anything. */
    tenant_allows(t, "team-b", IMG, "",
                  "\"podAnnotations\":{\"evil.io/x\":\"y\"},\"data\":{\"uri\":\"gs://x/y\"}");
    trainingjob_tenants_free(&t);
}
END_TEST

START_TEST(test_tenant_star_and_no_rules_allow_anything)
{
    struct trainingjob_tenants *t = tenant_rules("{\"team-a\":{\"secrets\":[\"*\"],"
                                                 "\"uriPrefixes\":[\"s3://a/\",\"*\"]},"
                                                 "\"*\":{\"secrets\":[]}}");
    struct trainingjob_tenants *none = tenant_rules("{}");
    const char *env = "\"env\":[{\"name\":\"K\",\"valueFrom\":{\"secretKeyRef\":{\"name\":"
                      "\"anything\",\"key\":\"k\"}}}]";

    ck_assert_ptr_null(none); /* {}: nothing restricted */
    tenant_allows(t, "team-a", "i", env, "\"data\":{\"uri\":\"s3://b/../c\"}");
    tenant_refuses(t, "team-b", "i", env, "", "spec.code.env[0].valueFrom.secretKeyRef.name",
                   "allowed: none");
    tenant_allows(NULL, "team-b", "i", env, "\"podLabels\":{\"x.io/a\":\"b\"}");
    trainingjob_tenants_free(&t);
    trainingjob_tenants_free(&none); /* NULL-safe */
}
END_TEST

static const struct {
    const char *config, *field, *msg;
} bad_tenants[] = {
    {"[]", "tenants", "tenants: must be an object of namespaces"},
    {"{\"Team_A\":{}}", "tenants.Team_A", "\"Team_A\" is not a namespace name or \"*\""},
    {"{\"team-a\":[]}", "tenants.team-a", "tenants.team-a: must be an object, not an array"},
    {"{\"team-a\":{\"secret\":[]}}", "tenants.team-a.secret",
     "unknown configuration key (did you mean \"secrets\"?)"},
    {"{\"team-a\":{\"secrets\":\"x\"}}", "tenants.team-a.secrets", "must be an array"},
    {"{\"team-a\":{\"secrets\":[\"ok\",\"Bad_Name\"]}}", "tenants.team-a.secrets[1]",
     "tenants.team-a.secrets[1]: \"Bad_Name\" is not a name"},
    {"{\"*\":{\"secrets\":[1]}}", "tenants.*.secrets[0]", "must be a string, not an integer"},
    {"{\"*\":{\"volumeClaims\":[\"-x*\"]}}", "tenants.*.volumeClaims[0]", "\"-x*\" is not"},
    {"{\"*\":{\"uriPrefixes\":[\"s3://team-a\"]}}", "tenants.*.uriPrefixes[0]",
     "\"s3://team-a\" is not a URI prefix: scheme://location ending in '/'"},
    {"{\"*\":{\"uriPrefixes\":[\"/data/\"]}}", "tenants.*.uriPrefixes[0]", "not a URI prefix"},
    {"{\"*\":{\"imagePrefixes\":[\"registry.example.com\"]}}", "tenants.*.imagePrefixes[0]",
     "is not an image prefix"},
    {"{\"*\":{\"podLabelPrefixes\":[\"Example.com\"]}}", "tenants.*.podLabelPrefixes[0]",
     "\"Example.com\" is not a key prefix"},
};

START_TEST(test_tenant_config_errors_name_key_and_value)
{
    json_t *v = json_loads(bad_tenants[_i].config, 0, NULL);
    struct trainingjob_tenants *sentinel = (struct trainingjob_tenants *)&sentinel, *t = sentinel;
    struct err e;

    err_clear(&e);
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(trainingjob_tenants_from_json(v, &t, &e), -1);
    ck_assert_ptr_eq(t, sentinel); /* untouched on failure */
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, bad_tenants[_i].field);
    ck_assert_msg(strstr(e.msg, bad_tenants[_i].msg), "message \"%s\" lacks \"%s\"", e.msg,
                  bad_tenants[_i].msg);
    json_decref(v);
}
END_TEST

static Suite *trainingjob_suite(void)
{
    Suite *s = suite_create("trainingjob");
    TCase *fx = tcase_create("fixtures"), *tc = tcase_create("parse"), *rn = tcase_create("render");

    tcase_add_loop_test(fx, test_good_fixture, 0, (int)n_good);
    tcase_add_loop_test(fx, test_bad_fixture, 0, (int)n_bad);
    tcase_add_test(fx, test_every_bad_fixture_is_indexed);
    tcase_add_test(tc, test_defaults_give_identical_spec);
    tcase_add_test(tc, test_default_values);
    tcase_add_test(tc, test_retry_canonical);
    tcase_add_test(tc, test_architecture_example_lifted);
    tcase_add_test(tc, test_relative_throughput_kept_canonically);
    tcase_add_test(tc, test_depth_limit);
    tcase_add_test(tc, test_brackets_inside_strings_do_not_count);
    tcase_add_test(tc, test_duplicate_keys);
    tcase_add_test(tc, test_huge_numbers);
    tcase_add_test(tc, test_wrong_types_are_malformed);
    tcase_add_test(tc, test_empty_and_non_object_bodies);
    tcase_add_test(tc, test_utf8_and_nul);
    tcase_add_test(tc, test_valid_multibyte_text_is_kept);
    tcase_add_test(tc, test_too_large);
    tcase_add_test(tc, test_generate_name);
    tcase_add_test(tc, test_name_wins_over_generate_name);
    tcase_add_test(tc, test_check_namespace_and_name);
    tcase_add_test(tc, test_custom_catalogue);
    tcase_add_test(tc, test_error_text_stays_valid_utf8);
    tcase_add_test(tc, test_mutations_never_crash);
    tcase_add_test(tc, test_pod_fields_are_kept_canonically);
    tcase_add_test(tc, test_env_references_are_checked);
    tcase_add_test(tc, test_identity_fields_are_checked);
    tcase_add_test(tc, test_volumes_are_checked);
    tcase_add_test(tc, test_pod_labels_need_a_user_prefix);
    tcase_add_test(tc, test_every_independent_problem_is_a_cause);
    tcase_add_test(tc, test_causes_past_the_limit_are_counted);
    tcase_add_test(tc, test_tenant_service_accounts_and_secrets);
    tcase_add_test(tc, test_tenant_images_volumes_uris_and_labels);
    tcase_add_test(tc, test_tenant_star_and_no_rules_allow_anything);
    tcase_add_loop_test(tc, test_tenant_config_errors_name_key_and_value, 0,
                        (int)(sizeof(bad_tenants) / sizeof(bad_tenants[0])));
    tcase_add_test(rn, test_to_json_fresh_job_omits_unset);
    tcase_add_test(rn, test_to_json_full_status);
    tcase_add_test(rn, test_render_with_status_members);
    tcase_add_test(rn, test_to_json_corrupt_text_is_omitted);
    tcase_add_test(rn, test_event_to_json);
    suite_add_tcase(s, fx);
    suite_add_tcase(s, tc);
    suite_add_tcase(s, rn);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    load_good();
    load_bad();
    sr = srunner_create(trainingjob_suite());
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
