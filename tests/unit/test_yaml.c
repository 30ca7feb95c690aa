/* test_yaml.c -- client/yaml.c: YAML and JSON text to jansson values (documents, core
 * schema scalars, anchors and their bound, duplicate keys, errors with line and column),
 * and client/yaml_emit.c, whose output must read back as the value it was made from. */
#include "base/err.h"
#include "client/yaml.h"
#include "client/yaml_emit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Parses s, which must succeed, and returns its documents as compact JSON (caller frees). */
static char *docs_of(const char *s)
{
    struct err e = {0};
    json_t *docs = NULL;
    char *out;

    if (yaml_parse_all(s, strlen(s), &docs, &e) != 0)
        ck_abort_msg("parse failed: %s", e.msg);
    out = json_dumps(docs, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(docs);
    return out;
}

static void expect(const char *yaml, const char *json)
{
    char *got = docs_of(yaml);

    ck_assert_msg(strcmp(got, json) == 0, "%s\n gave %s\n want %s", yaml, got, json);
    free(got);
}

/* Parses s, which must fail with code, and returns the message. */
static const char *fails(const char *s, enum err_code code)
{
    static struct err e;
    json_t *docs = (json_t *)&e; /* must stay untouched */

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(yaml_parse_all(s, strlen(s), &docs, &e), -1);
    ck_assert_ptr_eq(docs, (json_t *)&e);
    ck_assert_msg(e.code == code, "%s: code %d, want %d (%s)", s, e.code, code, e.msg);
    return e.msg;
}

static void fails_at(const char *s, const char *where, const char *what)
{
    const char *msg = fails(s, ERR_MALFORMED);

    ck_assert_msg(strncmp(msg, where, strlen(where)) == 0, "%s: message \"%s\", want %s", s, msg,
                  where);
    ck_assert_msg(strstr(msg, what), "%s: message \"%s\" does not say %s", s, msg, what);
}

START_TEST(mappings_sequences_and_documents)
{
    expect("a: 1\nb: [x, y]\nc:\n  d: e\n", "[{\"a\":1,\"b\":[\"x\",\"y\"],\"c\":{\"d\":\"e\"}}]");
    expect("- a\n- - b\n  - c\n", "[[\"a\",[\"b\",\"c\"]]]");
    /* Several documents, empty ones skipped. */
    expect("---\na: 1\n---\n---\nb: 2\n...\n", "[{\"a\":1},{\"b\":2}]");
    expect("", "[]");
    expect("# only a comment\n", "[]");
    /* JSON is YAML. */
    expect("{\"a\":1,\"b\":[true,null,\"x\\u00e9\"],\"c\":{\"d\":2.5}}",
           "[{\"a\":1,\"b\":[true,null,\"xé\"],\"c\":{\"d\":2.5}}]");
    expect("{\n\t\"a\": \"b\"\n}\n", "[{\"a\":\"b\"}]");
    /* Block scalars stay strings with their newlines. */
    expect("s: |\n  one\n  two\nf: >\n  a\n  b\n", "[{\"f\":\"a b\\n\",\"s\":\"one\\ntwo\\n\"}]");
}
END_TEST

START_TEST(plain_scalars_resolve_by_the_core_schema)
{
    expect("[null, Null, NULL, ~, ]", "[[null,null,null,null]]");
    expect("a:\n", "[{\"a\":null}]");
    expect("[true, True, TRUE, false, False, FALSE]", "[[true,true,true,false,false,false]]");
    expect("[0, -12, +7, 012, 0o17, 0x1F, 9223372036854775807]",
           "[[0,-12,7,12,15,31,9223372036854775807]]");
    expect("[1.5, -0.25, .5, 1., 1e3, 2.5E-1]", "[[1.5,-0.25,0.5,1.0,1000.0,0.25]]");
    /* YAML 1.1's yes/no/on/off, 1_000 and sexagesimal are strings in 1.2. */
    expect("[yes, no, on, off, 1_000, 1:30, 0b101, 1e, 0x, 0o8, -0x1]",
           "[[\"yes\",\"no\",\"on\",\"off\",\"1_000\",\"1:30\",\"0b101\",\"1e\",\"0x\","
           "\"0o8\",\"-0x1\"]]");
    /* Quoted scalars, block scalars and !!str stay strings. */
    expect("['1', \"true\", 'null', !!str 2, ! 3, \"\"]",
           "[[\"1\",\"true\",\"null\",\"2\",\"3\",\"\"]]");
    /* Keys are taken as written. */
    expect("1: a\nnull: b\ntrue: c\n", "[{\"1\":\"a\",\"null\":\"b\",\"true\":\"c\"}]");
}
END_TEST

START_TEST(values_json_cannot_hold_are_refused)
{
    fails_at("a: .inf\n", "line 1, column 4", ".inf cannot be represented");
    fails_at("a: [1, .NaN]\n", "line 1, column 8", ".NaN");
    fails_at("n: 9223372036854775808\n", "line 1, column 4", "does not fit in 64 bits");
    fails_at("n: 1e999\n", "line 1, column 4", "too large");
}
END_TEST

START_TEST(anchors_and_aliases_expand)
{
    expect("base: &b {gpus: 8, sku: h100}\njob: *b\n",
           "[{\"base\":{\"gpus\":8,\"sku\":\"h100\"},\"job\":{\"gpus\":8,\"sku\":\"h100\"}}]");
    expect("- &x 1\n- *x\n- &x two\n- *x\n", "[[1,1,\"two\",\"two\"]]");
    expect("&k name: v\nother: *k\n", "[{\"name\":\"v\",\"other\":\"name\"}]");
    fails_at("a: *nope\n", "line 1, column 4", "alias *nope names no earlier anchor");
    /* Anchors belong to their document. */
    fails_at("a: &x 1\n---\nb: *x\n", "line 3, column 4", "alias *x names no earlier anchor");
    /* An alias inside its own anchor is not yet defined. */
    fails_at("&a [*a]\n", "line 1, column 5", "names no earlier anchor");
}
END_TEST

START_TEST(alias_bombs_stop_at_the_node_bound)
{
    /* Nine levels of ten aliases: 10^9 values if expanded. */
    const char *bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                       "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                       "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
                       "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                       "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n";
    const char *msg = fails(bomb, ERR_TOO_LARGE);

    ck_assert_msg(strstr(msg, "line 5, column ") && strstr(msg, "more than 100000 values"), "%s",
                  msg);
}
END_TEST

START_TEST(depth_is_bounded)
{
    char deep[2 * (YAML_MAX_DEPTH + 2) + 1];
    char ok[2 * YAML_MAX_DEPTH + 1];
    json_t *docs = NULL;
    struct err e;

    memset(deep, '[', YAML_MAX_DEPTH + 1);
    memset(deep + YAML_MAX_DEPTH + 1, ']', YAML_MAX_DEPTH + 1);
    deep[2 * (YAML_MAX_DEPTH + 1)] = '\0';
    ck_assert_str_eq(fails(deep, ERR_TOO_LARGE), "line 1, column 65: nested too deeply (more "
                                                 "than 64 levels)");
    memset(ok, '[', YAML_MAX_DEPTH);
    memset(ok + YAML_MAX_DEPTH, ']', YAML_MAX_DEPTH);
    ok[2 * YAML_MAX_DEPTH] = '\0';
    ck_assert_int_eq(yaml_parse_all(ok, strlen(ok), &docs, &e), 0);
    json_decref(docs);
}
END_TEST

START_TEST(duplicate_and_complex_keys_are_refused)
{
    fails_at("a: 1\nb: 2\na: 3\n", "line 3, column 1", "duplicate key \"a\"");
    fails_at("{\"x\": 1, \"x\": 2}", "line 1, column 10", "duplicate key \"x\"");
    fails_at("? [a, b]\n: c\n", "line 1, column 3", "key must be a scalar");
    fails_at("? {a: b}\n: c\n", "line 1, column 3", "key must be a scalar");
}
END_TEST

START_TEST(syntax_errors_name_line_and_column)
{
    /* A tab cannot indent YAML. */
    fails_at("a:\n\tb: 1\n", "line 2, column 1", "found character that cannot start any token");
    fails_at("a: [1, 2\nb: 3\n", "line 2, column 2", "did not find expected ',' or ']'");
    fails_at("metadata:\n  name: x\n bad: 1\n", "line 3, column 2", "did not find expected key");
    fails_at("a: \"open\n", "line 2, column 1", "found unexpected end of stream");
    fails_at("{\"a\": 1,}x", "line 1, column 10", "");
    /* An error in a later document still names its own line. */
    fails_at("a: 1\n---\nb: 2\n---\nc: [\n", "line 6, column 1", "");
}
END_TEST

START_TEST(bytes_over_the_limit_are_refused)
{
    size_t n = (size_t)YAML_MAX_BYTES + 1;
    char *big = malloc(n);
    json_t *docs = NULL;
    struct err e;

    memset(big, ' ', n);
    ck_assert_int_eq(yaml_parse_all(big, n, &docs, &e), -1);
    ck_assert_int_eq(e.code, ERR_TOO_LARGE);
    ck_assert_ptr_null(docs);
    free(big);
    /* NUL inside a scalar cannot become a C string key or value. */
    ck_assert_int_eq(yaml_parse_all("a: \"x\\0y\"", 9, &docs, &e), -1);
    ck_assert_int_eq(e.code, ERR_MALFORMED);
}
END_TEST

/* Emits v, parses the text back and compares. */
static void round_trip(json_t *v, const char *want_text)
{
    char *text = yaml_emit(v);
    json_t *docs = NULL;
    struct err e = {0};

    if (yaml_parse_all(text, strlen(text), &docs, &e) != 0)
        ck_abort_msg("emitted YAML does not parse: %s\n%s", e.msg, text);
    ck_assert_msg(json_array_size(docs) == 1 && json_equal(json_array_get(docs, 0), v),
                  "round trip changed the value:\n%s", text);
    if (want_text)
        ck_assert_str_eq(text, want_text);
    json_decref(docs);
    free(text);
}

START_TEST(emitted_yaml_reads_back_the_same)
{
    static const char *const tricky[] = {"",
                                         "true",
                                         "True",
                                         "yes",
                                         "No",
                                         "on",
                                         "y",
                                         "null",
                                         "~",
                                         "123",
                                         "0x1F",
                                         "1e3",
                                         ".5",
                                         "-x",
                                         "- x",
                                         "a: b",
                                         "a:b",
                                         "#c",
                                         "x #y",
                                         " lead",
                                         "trail ",
                                         "*a",
                                         "&a",
                                         "!t",
                                         "%p",
                                         "@x",
                                         "`x",
                                         "{x}",
                                         "[x]",
                                         "'q'",
                                         "\"q\"",
                                         "x\ny",
                                         "x\ty",
                                         "back\\slash",
                                         "\x7f",
                                         "\x01",
                                         "\xc2\x85",
                                         "\xe2\x80\xa8",
                                         "\xef\xbb\xbf",
                                         "\xef\xbf\xbe",
                                         "é",
                                         "h100-80gb",
                                         "/a/b",
                                         "?",
                                         "-",
                                         ":",
                                         ".inf",
                                         ".nan",
                                         "2026-11-28T02:28:29.399Z",
                                         NULL};
    json_t *strs = json_array(), *keys = json_object(), *v;

    for (const char *const *s = tricky; *s; s++) {
        json_array_append_new(strs, json_string(*s));
        json_object_set_new(keys, *s, json_string(*s));
    }
    round_trip(strs, NULL);
    round_trip(keys, NULL);
    json_decref(strs);
    json_decref(keys);
    v = json_loads("{\"apiVersion\": \"fedsched.io/v1\", \"metadata\": {\"name\": \"run-1\", "
                   "\"labels\": {}}, \"spec\": {\"args\": [\"--lr\", \"0.1\"], \"n\": 8, "
                   "\"f\": 2.5, \"big\": 1e300, \"on\": true, \"off\": false, \"none\": null, "
                   "\"list\": [[1, [2]], {\"a\": {\"b\": [{\"c\": 1, \"d\": []}]}}, []]}}",
                   0, NULL);
    round_trip(v, "apiVersion: fedsched.io/v1\n"
                  "metadata:\n"
                  "  name: run-1\n"
                  "  labels: {}\n"
                  "spec:\n"
                  "  args:\n"
                  "  - \"--lr\"\n"
                  "  - \"0.1\"\n"
                  "  \"n\": 8\n"
                  "  f: 2.5\n"
                  "  big: 1.0000000000000001e300\n"
                  "  \"on\": true\n"
                  "  \"off\": false\n"
                  "  none: null\n"
                  "  list:\n"
                  "  - - 1\n"
                  "    - - 2\n"
                  "  - a:\n"
                  "      b:\n"
                  "      - c: 1\n"
                  "        d: []\n"
                  "  - []\n");
    json_decref(v);
    v = json_string("plain");
    round_trip(v, "plain\n");
    json_decref(v);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("yaml");
    TCase *tc = tcase_create("yaml");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, mappings_sequences_and_documents);
    tcase_add_test(tc, plain_scalars_resolve_by_the_core_schema);
    tcase_add_test(tc, values_json_cannot_hold_are_refused);
    tcase_add_test(tc, anchors_and_aliases_expand);
    tcase_add_test(tc, alias_bombs_stop_at_the_node_bound);
    tcase_add_test(tc, depth_is_bounded);
    tcase_add_test(tc, duplicate_and_complex_keys_are_refused);
    tcase_add_test(tc, syntax_errors_name_line_and_column);
    tcase_add_test(tc, bytes_over_the_limit_are_refused);
    tcase_add_test(tc, emitted_yaml_reads_back_the_same);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
