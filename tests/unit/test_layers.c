/* test_layers.c -- the layer check of `make lint` (tests/layers.sh) can fail: a tree with
 * a deliberate upward include, or a library included outside its layer, is refused with
 * the file, the line and the rule; this checkout passes. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tree[64];

static void put(const char *rel, const char *text)
{
    char path[256], dir[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tree, rel);
    snprintf(dir, sizeof(dir), "%s", path);
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0755);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Runs the checker on root; returns its exit status and its output in out. */
static int check_tree(const char *root, char *out, size_t size)
{
    char cmd[1024];
    size_t n;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd), "'%s/tests/layers.sh' '%s' 2>&1", getenv("FEDSCHED_SRC"), root);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WEXITSTATUS(st);
}

static void make_tree(void)
{
    snprintf(tree, sizeof(tree), "/tmp/fedsched-layers-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tree));
    put("base/err.h", "/* err.h */\n");
    put("policy/engine.c", "#include \"policy/engine.h\"\n\n#include \"base/err.h\"\n");
    put("store/jobs.c", "#include <libpq-fe.h>\n#include \"base/err.h\"\n");
    put("api/jobs.c", "#include <microhttpd.h>\n#include \"store/store.h\"\n");
}

START_TEST(a_clean_tree_passes)
{
    char out[4096];

    make_tree();
    ck_assert_int_eq(check_tree(tree, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, "layers: ok"));
}
END_TEST

START_TEST(an_upward_include_fails)
{
    char out[4096];

    make_tree();
    /* policy/ is pure: it may not reach up into the store. */
    put("policy/reclaim.c", "#include \"base/err.h\"\n#include \"store/store.h\"\n");
    ck_assert_int_eq(check_tree(tree, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "policy/reclaim.c:2: policy/ may not include store/"), "%s", out);
}
END_TEST

START_TEST(a_library_outside_its_layer_fails)
{
    char out[4096];

    make_tree();
    put("client/cli.c", "#include <curl/curl.h>\n#include \"base/err.h\"\n");
    put("store/watch.c", "#include <microhttpd.h>\n");
    put("client/verbs.c", "#include \"api/internal.h\"\n");
    ck_assert_int_eq(check_tree(tree, out, sizeof(out)), 1);
    ck_assert_msg(strstr(out, "store/watch.c:1: store/ may not include <microhttpd.h>"), "%s", out);
    ck_assert_msg(strstr(out, "client/verbs.c:1: client/ may not include api/"), "%s", out);
    ck_assert_ptr_null(strstr(out, "client/cli.c")); /* the client may use curl */
}
END_TEST

START_TEST(this_checkout_passes)
{
    char out[8192];

    ck_assert_msg(check_tree(getenv("FEDSCHED_SRC"), out, sizeof(out)) == 0, "%s", out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("layers");
    TCase *tc = tcase_create("layers");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, a_clean_tree_passes);
    tcase_add_test(tc, an_upward_include_fails);
    tcase_add_test(tc, a_library_outside_its_layer_fails);
    tcase_add_test(tc, this_checkout_passes);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
