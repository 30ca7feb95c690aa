/* test_sim_gc.c -- the simulated cluster's garbage collector by ownerReferences, beyond the
 * owner-deleted case of test_sim_cluster: an object created for an owner that does not
 * exist goes; what an object that went owned goes in turn (cascade); an object with two
 * owners stays while one exists; an owner of a kind the collector cannot look up (the
 * RayCluster of a RayJob's pods) is found by its uid. */
#include "base/err.h"
#include "tools/kubesim/kubesim_cluster.h"
#include "tools/kubesim/kubesim_scenario.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *scn_text =
    "{\"timeScale\":1,\"clusters\":[{\"name\":\"c1\",\"nodePools\":[{\"name\":\"h100\","
    "\"count\":2,\"product\":\"NVIDIA-H100-80GB-HBM3\",\"gpus\":8,\"memoryMiB\":81559}]}]}";

#define NS   "/api/v1/namespaces/gc"
#define JOBS "/apis/batch/v1/namespaces/gc/jobs"

static struct sim_scenario *scn;
static struct sim_clock clk;
static struct sim_cluster *c1;

/* Sends one request and checks its status; returns the body parsed (caller frees). */
static json_t *req(const char *method, const char *path, const char *body, int want)
{
    struct sim_query q;
    struct sim_reply r;
    json_t *j;

    memset(&q, 0, sizeof(q));
    sim_cluster_handle(c1, method, path, &q, body ? body : "", body ? strlen(body) : 0, &r);
    ck_assert_msg(r.status == want, "%s %s: %d %.*s", method, path, r.status, (int)r.len, r.body);
    j = json_loadb(r.body, r.len, 0, NULL);
    free(r.body);
    return j;
}

static void req0(const char *method, const char *path, const char *body, int want)
{
    json_decref(req(method, path, body, want));
}

static void setup(void)
{
    struct err e = {0};

    ck_assert_msg(sim_scenario_parse(scn_text, strlen(scn_text), &scn, &e) == 0, "%s", e.msg);
    sim_clock_init(&clk, scn->time_scale, scn->start_ms);
    ck_assert_int_eq(sim_cluster_new(&scn->clusters[0], &clk, 60000, &c1, &e), 0);
    req0("POST", "/api/v1/namespaces",
         "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"gc\"}}", 201);
}

static void teardown(void)
{
    sim_cluster_free(&c1);
    sim_scenario_free(&scn);
}

/* Creates Job name; returns its uid (static storage, one at a time). */
static const char *job(const char *name)
{
    static char uid[64];
    char body[1024];
    json_t *j;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"%s\"},"
             "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":"
             "[{\"name\":\"main\",\"image\":\"train:1\"}]}}}}",
             name);
    j = req("POST", JOBS, body, 201);
    snprintf(uid, sizeof(uid), "%s",
             json_string_value(json_object_get(json_object_get(j, "metadata"), "uid")));
    json_decref(j);
    return uid;
}

/* An ownerReference member: {"apiVersion":api,"kind":kind,"name":name,"uid":uid}. */
static char *ref(const char *api, const char *kind, const char *name, const char *uid)
{
    char *out = malloc(512);

    snprintf(out, 512, "{\"apiVersion\":\"%s\",\"kind\":\"%s\",\"name\":\"%s\",\"uid\":\"%s\"}",
             api, kind, name, uid);
    return out;
}

/* Creates a Secret (kind "Secret") or headless Service owned by refs (a JSON array body);
 * returns its uid (static storage). */
static const char *owned(const char *kind, const char *name, const char *refs)
{
    static char uid[64];
    char body[2048];
    json_t *o;
    bool secret = strcmp(kind, "Secret") == 0;

    snprintf(body, sizeof(body),
             "{\"apiVersion\":\"v1\",\"kind\":\"%s\",\"metadata\":{\"name\":\"%s\","
             "\"ownerReferences\":[%s]}%s}",
             kind, name, refs, secret ? "" : ",\"spec\":{\"clusterIP\":\"None\"}");
    o = req("POST", secret ? NS "/secrets" : NS "/services", body, 201);
    snprintf(uid, sizeof(uid), "%s",
             json_string_value(json_object_get(json_object_get(o, "metadata"), "uid")));
    json_decref(o);
    return uid;
}

START_TEST(created_for_an_absent_owner_goes)
{
    char *r = ref("batch/v1", "Job", "ghost", "5b1b7a52-0000-4000-8000-000000000000");

    owned("Secret", "dangling", r);
    /* Created (201), then collected before the next request is answered. */
    req0("GET", NS "/secrets/dangling", NULL, 404);
    free(r);
}
END_TEST

START_TEST(created_for_an_owner_that_exists_stays)
{
    char *r = ref("batch/v1", "Job", "a", job("a"));

    owned("Secret", "kept", r);
    req0("GET", NS "/secrets/kept", NULL, 200);
    req0("GET", NS "/secrets/kept", NULL, 200);
    free(r);
}
END_TEST

START_TEST(what_went_takes_what_it_owned)
{
    char *r1 = ref("batch/v1", "Job", "a", job("a")), *r2;

    r2 = ref("v1", "Service", "svc", owned("Service", "svc", r1));
    owned("Secret", "leaf", r2);
    req0("GET", NS "/secrets/leaf", NULL, 200);
    req0("DELETE", JOBS "/a", "{\"propagationPolicy\":\"Background\"}", 200);
    req0("GET", NS "/services/svc", NULL, 404);
    req0("GET", NS "/secrets/leaf", NULL, 404);
    free(r1);
    free(r2);
}
END_TEST

START_TEST(two_owners_one_left)
{
    char *ra = ref("batch/v1", "Job", "a", job("a")), *rb = ref("batch/v1", "Job", "b", job("b"));
    char refs[1100];

    snprintf(refs, sizeof(refs), "%s,%s", ra, rb);
    owned("Secret", "shared", refs);
    req0("DELETE", JOBS "/a", "{\"propagationPolicy\":\"Background\"}", 200);
    req0("GET", NS "/secrets/shared", NULL, 200);
    req0("DELETE", JOBS "/b", "{\"propagationPolicy\":\"Background\"}", 200);
    req0("GET", NS "/secrets/shared", NULL, 404);
    free(ra);
    free(rb);
}
END_TEST

START_TEST(deleting_the_owner_object_collects)
{
    char *r = ref("v1", "Service", "svc", owned("Service", "svc", ""));

    owned("Secret", "of-svc", r);
    req0("GET", NS "/secrets/of-svc", NULL, 200);
    req0("DELETE", NS "/services/svc", NULL, 200);
    req0("GET", NS "/secrets/of-svc", NULL, 404);
    free(r);
}
END_TEST

START_TEST(an_owner_found_by_uid_alone)
{
    /* The uid is the Job's; the kind is one the collector has no store of. */
    char *r = ref("ray.io/v1", "RayCluster", "a", job("a"));

    owned("Secret", "by-uid", r);
    req0("GET", NS "/secrets/by-uid", NULL, 200);
    req0("DELETE", JOBS "/a", "{\"propagationPolicy\":\"Background\"}", 200);
    req0("GET", NS "/secrets/by-uid", NULL, 404);
    free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_gc");
    TCase *tc = tcase_create("gc");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, created_for_an_absent_owner_goes);
    tcase_add_test(tc, created_for_an_owner_that_exists_stays);
    tcase_add_test(tc, what_went_takes_what_it_owned);
    tcase_add_test(tc, two_owners_one_left);
    tcase_add_test(tc, deleting_the_owner_object_collects);
    tcase_add_test(tc, an_owner_found_by_uid_alone);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
