/* test_node_select.c -- a pod's nodeSelector, required node affinity and tolerations against
 * node labels and taints, one rule of the Kubernetes documentation ("Assigning Pods to
 * Nodes", "Taints and Tolerations") per check. */
#include "cluster/k8s_json.h"
#include "cluster/node_select.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct node_labels node(const char *labels, const char *taints)
{
    struct k8s_json d;
    struct node_labels n;
    char json[2048];

    snprintf(json, sizeof(json), "{\"metadata\":{\"labels\":{%s}},\"spec\":{\"taints\":[%s]}}",
             labels, taints);
    k8s_json_init(&d);
    ck_assert_int_eq(k8s_json_parse(&d, json, strlen(json), 0, NULL), 0);
    node_labels_read(&d, 0, &n);
    k8s_json_free(&d);
    return n;
}

static struct pod_select pod(const char *spec)
{
    struct k8s_json d;
    struct pod_select p;
    char json[2048];

    snprintf(json, sizeof(json), "{\"spec\":{%s}}", spec);
    k8s_json_init(&d);
    ck_assert_msg(k8s_json_parse(&d, json, strlen(json), 0, NULL) == 0, "%s", json);
    pod_select_read(&d, 0, &p);
    k8s_json_free(&d);
    return p;
}

#define AFFINITY(terms)                                                                            \
    "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":"          \
    "{\"nodeSelectorTerms\":[" terms "]}}}"

static const char *const gpu_a = "\"pool\":\"serving\",\"zone\":\"a\",\"tier\":\"1\"";
static const char *const gpu_b = "\"pool\":\"serving\",\"zone\":\"b\"";

START_TEST(node_selector_needs_every_pair)
{
    struct node_labels a = node(gpu_a, ""), b = node(gpu_b, "");
    struct pod_select p = pod("\"nodeSelector\":{\"pool\":\"serving\",\"zone\":\"a\"}");
    struct pod_select none = pod("\"containers\":[]");

    ck_assert(!p.unknown);
    ck_assert(pod_select_allows(&p, &a, "a-0"));
    ck_assert(!pod_select_allows(&p, &b, "b-0"));
    ck_assert(pod_select_allows(&none, &b, "b-0"));
    /* A key whose value is another label's value does not match. */
    p = pod("\"nodeSelector\":{\"zone\":\"serving\"}");
    ck_assert(!pod_select_allows(&p, &a, "a-0"));
}
END_TEST

START_TEST(affinity_operators)
{
    struct node_labels a = node(gpu_a, ""), b = node(gpu_b, "");
    struct pod_select p;

    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
                     "\"values\":[\"a\",\"c\"]}]}"));
    ck_assert(pod_select_allows(&p, &a, "a-0") && !pod_select_allows(&p, &b, "b-0"));
    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"NotIn\","
                     "\"values\":[\"a\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-0") && pod_select_allows(&p, &b, "b-0"));
    /* NotIn matches a node without the label. */
    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"NotIn\","
                     "\"values\":[\"1\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-0") && pod_select_allows(&p, &b, "b-0"));
    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Exists\"}]}"));
    ck_assert(pod_select_allows(&p, &a, "a-0") && !pod_select_allows(&p, &b, "b-0"));
    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"DoesNotExist\"}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-0") && pod_select_allows(&p, &b, "b-0"));
}
END_TEST

/* Terms are ORed, the requirements of one term ANDed, nodeSelector ANDed with all; a term
 * with no requirement matches no node. */
START_TEST(affinity_terms_or_and)
{
    struct node_labels a = node(gpu_a, ""), b = node(gpu_b, "");
    struct pod_select p;

    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
                     "\"values\":[\"a\"]},{\"key\":\"tier\",\"operator\":\"In\","
                     "\"values\":[\"2\"]}]},"
                     "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\","
                     "\"values\":[\"b\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-0")); /* first term: tier 1, not 2 */
    ck_assert(pod_select_allows(&p, &b, "b-0"));  /* second term */
    p = pod("\"nodeSelector\":{\"zone\":\"a\"}," AFFINITY(
        "{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"In\",\"values\":[\"b\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-0") && !pod_select_allows(&p, &b, "b-0"));
    p = pod(AFFINITY("{}"));
    ck_assert(!p.unknown);
    ck_assert(!pod_select_allows(&p, &a, "a-0") && !pod_select_allows(&p, &b, "b-0"));
    p = pod(AFFINITY("{},{\"matchExpressions\":[{\"key\":\"zone\",\"operator\":\"Exists\"}]}"));
    ck_assert(pod_select_allows(&p, &a, "a-0"));
}
END_TEST

START_TEST(match_fields_name_the_node)
{
    struct node_labels a = node(gpu_a, "");
    struct pod_select p;

    p = pod(AFFINITY("{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
                     "\"values\":[\"a-1\"]}]}"));
    ck_assert(!p.unknown);
    ck_assert(pod_select_allows(&p, &a, "a-1") && !pod_select_allows(&p, &a, "a-0"));
    p = pod(AFFINITY("{\"matchFields\":[{\"key\":\"metadata.name\",\"operator\":\"NotIn\","
                     "\"values\":[\"a-1\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-1") && pod_select_allows(&p, &a, "a-0"));
    /* A label named like the field is not the field. */
    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"metadata.name\",\"operator\":\"In\","
                     "\"values\":[\"a-1\"]}]}"));
    ck_assert(!pod_select_allows(&p, &a, "a-1"));
}
END_TEST

START_TEST(taints_need_tolerations)
{
    struct node_labels t = node(gpu_a, "{\"key\":\"dedicated\",\"value\":\"serving\","
                                       "\"effect\":\"NoSchedule\"}");
    struct node_labels soft = node(gpu_a, "{\"key\":\"dedicated\",\"value\":\"serving\","
                                          "\"effect\":\"PreferNoSchedule\"}");
    struct node_labels ex = node(gpu_a, "{\"key\":\"gpu-broken\",\"effect\":\"NoExecute\"}");
    struct pod_select p;

    p = pod("\"containers\":[]");
    ck_assert(!pod_select_allows(&p, &t, "a-0"));
    ck_assert(pod_select_allows(&p, &soft, "a-0")); /* PreferNoSchedule only steers */
    ck_assert(!pod_select_allows(&p, &ex, "a-0"));
    p = pod("\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Equal\","
            "\"value\":\"serving\",\"effect\":\"NoSchedule\"}]");
    ck_assert(pod_select_allows(&p, &t, "a-0") && !pod_select_allows(&p, &ex, "a-0"));
    p = pod("\"tolerations\":[{\"key\":\"dedicated\",\"value\":\"training\"}]");
    ck_assert(!pod_select_allows(&p, &t, "a-0")); /* Equal is the default operator */
    p = pod("\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\"}]");
    ck_assert(pod_select_allows(&p, &t, "a-0")); /* any value, any effect */
    p = pod("\"tolerations\":[{\"key\":\"dedicated\",\"operator\":\"Exists\","
            "\"effect\":\"NoExecute\"}]");
    ck_assert(!pod_select_allows(&p, &t, "a-0")); /* another effect */
    p = pod("\"tolerations\":[{\"operator\":\"Exists\"}]");
    ck_assert(pod_select_allows(&p, &t, "a-0") && pod_select_allows(&p, &ex, "a-0"));
    p = pod("\"tolerations\":[{\"key\":\"gpu-broken\",\"operator\":\"Equal\","
            "\"effect\":\"NoExecute\"}]");
    ck_assert(pod_select_allows(&p, &ex, "a-0")); /* empty value equals empty value */
}
END_TEST

/* What is not modelled is read as "may use the node", as before any of this was read. */
START_TEST(what_is_not_modelled_allows)
{
    char labels[4096] = "", spec[2048];
    struct node_labels a = node(gpu_a, ""), many;
    struct pod_select p;
    size_t n = 0;

    p = pod(AFFINITY("{\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"Gt\","
                     "\"values\":[\"5\"]}]}"));
    ck_assert(p.unknown);
    ck_assert(pod_select_allows(&p, &a, "a-0"));
    p = pod(AFFINITY("{\"matchFields\":[{\"key\":\"spec.unschedulable\",\"operator\":\"In\","
                     "\"values\":[\"x\"]}]}"));
    ck_assert(p.unknown);
    for (int i = 0; i <= NODE_SELECT_LABELS_MAX; i++)
        n += (size_t)snprintf(labels + n, sizeof(labels) - n, "%s\"l%d\":\"v\"", i ? "," : "", i);
    many = node(labels, "");
    ck_assert(many.overflow);
    p = pod("\"nodeSelector\":{\"zone\":\"a\"}");
    ck_assert(pod_select_allows(&p, &many, "m-0"));
    n = (size_t)snprintf(spec, sizeof(spec), "\"nodeSelector\":{");
    for (int i = 0; i <= NODE_SELECT_REQS_MAX; i++)
        n += (size_t)snprintf(spec + n, sizeof(spec) - n, "%s\"k%d\":\"v\"", i ? "," : "", i);
    snprintf(spec + n, sizeof(spec) - n, "}");
    p = pod(spec);
    ck_assert(p.unknown);
    ck_assert(pod_select_allows(&p, &a, "a-0"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("node_select");
    TCase *tc = tcase_create("rules");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, node_selector_needs_every_pair);
    tcase_add_test(tc, affinity_operators);
    tcase_add_test(tc, affinity_terms_or_and);
    tcase_add_test(tc, match_fields_name_the_node);
    tcase_add_test(tc, taints_need_tolerations);
    tcase_add_test(tc, what_is_not_modelled_allows);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
