/* test_base.c -- err, buf caps, checked number parsing, RFC 3339 time, the SKU catalogue,
 * job phases. */
#include "base/buf.h"
#include "base/clock.h"
#include "base/dns.h"
#include "base/err.h"
#include "base/job.h"
#include "base/num.h"
#include "base/sha256.h"
#include "base/sku.h"
#include "base/utf8.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

START_TEST(err_set_fills_and_returns_minus_one)
{
    struct err e;

    ck_assert_int_eq(err_set(&e, ERR_INVALID, "spec.x", "bad %d", 7), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "spec.x");
    ck_assert_str_eq(e.msg, "bad 7");
    ck_assert_int_eq(err_set(NULL, ERR_INVALID, NULL, "x"), -1);
    ck_assert_str_eq(err_code_name(ERR_NOT_FOUND), "not_found");
    err_clear(&e);
    ck_assert_int_eq(e.code, ERR_NONE);
    ck_assert_str_eq(e.field, "");
}
END_TEST

/* Causes keep their order up to ERR_CAUSES_MAX, then are counted. */
START_TEST(err_causes_keep_then_count)
{
    struct err_causes c = {0};
    struct err e;

    for (int i = 0; i < ERR_CAUSES_MAX + 2; i++)
        err_causef(&c, ERR_INVALID, "f", "cause %d", i);
    ck_assert_uint_eq(c.n, ERR_CAUSES_MAX);
    ck_assert_uint_eq(c.more, 2);
    ck_assert_str_eq(c.items[0].msg, "cause 0");
    ck_assert_str_eq(c.items[ERR_CAUSES_MAX - 1].field, "f");
    c = (struct err_causes){0};
    err_set(&e, ERR_MALFORMED, NULL, "x");
    err_cause(&c, &e);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_int_eq(c.items[0].code, ERR_MALFORMED);
    ck_assert_str_eq(c.items[0].field, "");
}
END_TEST

/* err_join: the causes on one line, prefixed or as they are; the first always there, cut
 * if it must be; what does not fit counted, so every cause is named or counted once. */
START_TEST(err_join_names_or_counts_each)
{
    struct err_causes c = {0};
    struct err e;
    char long_msg[700];
    const char *more;
    size_t named = 0, counted = 0;

    err_causef(&c, ERR_CONFIG, "a", "a: bad");
    err_causef(&c, ERR_INVALID, "", "no field");
    ck_assert_int_eq(err_join(&e, ERR_CONFIG, "clusters[2]", &c), -1);
    ck_assert_int_eq(e.code, ERR_CONFIG);
    ck_assert_str_eq(e.field, "clusters[2].a");
    ck_assert_str_eq(e.msg, "clusters[2].a: a: bad; clusters[2]: no field");
    err_join(&e, ERR_INVALID, NULL, &c);
    ck_assert_str_eq(e.field, "a");
    ck_assert_str_eq(e.msg, "a: bad; no field");

    c = (struct err_causes){0};
    for (int i = 0; i < ERR_CAUSES_MAX + 5; i++)
        err_causef(&c, ERR_CONFIG, "k", "key%02d is wrong in a way that takes some room", i);
    err_join(&e, ERR_CONFIG, NULL, &c);
    for (const char *p = e.msg; (p = strstr(p, " is wrong ")); p++)
        named++;
    more = strstr(e.msg, " (and ");
    ck_assert_msg(more && sscanf(more, " (and %zu more)", &counted) == 1, "%s", e.msg);
    ck_assert_uint_eq(named + counted, ERR_CAUSES_MAX + 5);
    ck_assert_uint_gt(named, 1);

    c = (struct err_causes){0};
    memset(long_msg, 'x', sizeof(long_msg) - 1);
    long_msg[sizeof(long_msg) - 1] = '\0';
    err_causef(&c, ERR_CONFIG, "big", "%s", long_msg);
    err_causef(&c, ERR_CONFIG, "next", "next");
    err_join(&e, ERR_CONFIG, NULL, &c);
    ck_assert_msg(strncmp(e.msg, "xxxx", 4) == 0, "%s", e.msg);
    ck_assert_msg(strstr(e.msg, "x (and 1 more)"), "%s", e.msg);
    ck_assert_uint_lt(strlen(e.msg), sizeof(e.msg) - 1);
}
END_TEST

START_TEST(buf_refuses_past_its_cap)
{
    struct buf b;
    char *s;

    buf_init(&b, 8);
    ck_assert_int_eq(buf_puts(&b, "12345"), 0);
    ck_assert_int_eq(buf_printf(&b, "%d", 678), 0);
    ck_assert_int_eq(buf_puts(&b, "9"), -1);
    ck_assert_str_eq(b.data, "12345678");
    ck_assert_uint_eq(b.len, 8);
    s = buf_steal(&b);
    ck_assert_str_eq(s, "12345678");
    ck_assert_ptr_null(b.data);
    free(s);
    buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        ck_assert_int_eq(buf_puts(&b, "abc"), 0);
    ck_assert_uint_eq(b.len, 30000);
    buf_free(&b);
}
END_TEST

START_TEST(num_parse_is_strict)
{
    int64_t v;
    double d;

    ck_assert_int_eq(num_parse_i64("42", 0, 100, &v), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(num_parse_i64("-5", -10, 10, &v), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(num_parse_i64("101", 0, 100, &v), -1);
    ck_assert_int_eq(num_parse_i64("4x", 0, 100, &v), -1);
    ck_assert_int_eq(num_parse_i64(" 4", 0, 100, &v), -1);
    ck_assert_int_eq(num_parse_i64("", 0, 100, &v), -1);
    ck_assert_int_eq(num_parse_i64("99999999999999999999", INT64_MIN, INT64_MAX, &v), -1);
    ck_assert_int_eq(num_parse_double("1.5", &d), 0);
    ck_assert(d == 1.5);
    ck_assert_int_eq(num_parse_double("nan", &d), -1);
    ck_assert_int_eq(num_parse_double("1e999", &d), -1);
}
END_TEST

START_TEST(rfc3339_round_trip)
{
    char out[40];
    int64_t ms;

    clock_format_rfc3339(1795832138123LL, out, sizeof(out));
    ck_assert_str_eq(out, "2026-11-28T02:15:38.123Z");
    ck_assert_int_eq(clock_parse_rfc3339(out, &ms), 0);
    ck_assert_int_eq(ms, 1795832138123LL);
    ck_assert_int_eq(clock_parse_rfc3339("2026-11-28T03:15:38+01:00", &ms), 0);
    ck_assert_int_eq(ms, 1795832138000LL);
    ck_assert_int_eq(clock_parse_rfc3339("1970-01-01T00:00:00Z", &ms), 0);
    ck_assert_int_eq(ms, 0);
    ck_assert_int_eq(clock_parse_rfc3339("2024-02-29T23:59:59.5Z", &ms), 0);
    ck_assert_int_eq(ms, 1709251199500LL);
    ck_assert_int_eq(clock_parse_rfc3339("2026-13-01T00:00:00Z", &ms), -1);
    ck_assert_int_eq(clock_parse_rfc3339("2026-11-28T02:15:38", &ms), -1);
    ck_assert_int_eq(clock_parse_rfc3339("2026-11-28T02:15:38Zjunk", &ms), -1);
    ck_assert_int_eq(clock_parse_rfc3339("yesterday", &ms), -1);
}
END_TEST

START_TEST(sku_catalogue_matches_products)
{
    const struct sku_catalogue *c = sku_defaults();
    char names[512];
    int v16, v32;

    ck_assert_int_ge(sku_find(c, "a100-80gb"), 0);
    ck_assert_int_eq(sku_find(c, "a100"), -1);
    ck_assert_int_eq(sku_match_product(c, "NVIDIA-H100-80GB-HBM3", 0), sku_find(c, "h100-80gb"));
    ck_assert_int_eq(sku_match_product(c, "nvidia-l4", 0), sku_find(c, "l4"));
    ck_assert_int_eq(sku_match_product(c, "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb", 0), -1);
    /* The PCIe V100 name is ambiguous; the memory label decides. */
    v16 = sku_find(c, "v100-16gb");
    v32 = sku_find(c, "v100-32gb");
    ck_assert_int_eq(sku_match_product(c, "Tesla-V100-PCIE", 16160), v16);
    ck_assert_int_eq(sku_match_product(c, "Tesla-V100-PCIE", 32510), v32);
    sku_list_names(c, names, sizeof(names));
    ck_assert_ptr_nonnull(strstr(names, "h200-141gb"));
    ck_assert_ptr_nonnull(strstr(names, "t4"));
    ck_assert_ptr_eq(sku_catalogue(), c);
}
END_TEST

START_TEST(phases_parse_and_terminal)
{
    enum job_phase p;

    for (int i = 0; i < PHASE_COUNT; i++) {
        ck_assert_int_eq(job_phase_parse(job_phase_name((enum job_phase)i), &p), 0);
        ck_assert_int_eq(p, i);
    }
    ck_assert_int_eq(job_phase_parse("queued", &p), -1);
    ck_assert(job_phase_terminal(PHASE_SUCCEEDED));
    ck_assert(job_phase_terminal(PHASE_CANCELLED));
    ck_assert(!job_phase_terminal(PHASE_PREEMPTING));
    ck_assert(!job_phase_terminal(PHASE_LOST));
}
END_TEST

START_TEST(utf8_validity)
{
    static const struct {
        const char *s;
        bool ok;
    } cases[] = {
        {"", true},
        {"plain", true},
        {"\xc3\xa9", true},          /* é */
        {"\xe2\x82\xac", true},      /* € */
        {"\xf0\x9f\x98\x80", true},  /* 😀 */
        {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
        {"\xff", false},             /* never in UTF-8 */
        {"\x80", false},             /* stray continuation */
        {"\xc3", false},             /* cut short */
        {"\xe2\x82", false},         /* cut short */
        {"\xc0\xaf", false},         /* overlong '/' */
        {"\xe0\x80\xaf", false},     /* overlong */
        {"\xed\xa0\x80", false},     /* surrogate D800 */
        {"\xf4\x90\x80\x80", false}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", false},
        {"ok\xc3\xa9\xc3", false}, /* valid then cut */
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(utf8_valid(cases[i].s, strlen(cases[i].s)) == cases[i].ok, "case %zu", i);
}
END_TEST

/* The sanitiser escapes bad bytes, never cuts a character, and always fits. */
START_TEST(utf8_sanitize_escapes_and_never_cuts)
{
    char out[16], big[2048], src[1024];
    size_t n;

    n = utf8_sanitize(out, sizeof(out),
                      "a\xff"
                      "b");
    ck_assert_str_eq(out, "a\\xFFb");
    ck_assert_uint_eq(n, 6);
    /* 9 bytes of room for "é" x 8 (16 bytes): 4 whole characters, nothing cut. */
    memset(src, 0, sizeof(src));
    for (int i = 0; i < 8; i++)
        memcpy(src + 2 * i, "\xc3\xa9", 2);
    n = utf8_sanitize(out, 10, src);
    ck_assert_uint_eq(n, 8);
    ck_assert(utf8_valid(out, n));
    /* An escape that would not fit whole is left out. */
    n = utf8_sanitize(out, 4, "\xff");
    ck_assert_uint_eq(n, 0);
    /* Any bytes at all come out valid. */
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i + 1 < sizeof(src); i++)
            src[i] = (char)(1 + (rand() % 255));
        src[sizeof(src) - 1] = '\0';
        n = utf8_sanitize(big, (size_t)(1 + rand() % (int)sizeof(big)), src);
        ck_assert(utf8_valid(big, n));
        ck_assert_uint_eq(strlen(big), n);
    }
}
END_TEST

/* The worker arithmetic every layer uses (base/job.h). */
START_TEST(job_workers_divides_or_refuses)
{
    int per = -1, workers = -1;

    ck_assert_int_eq(job_workers(16, 8, &per, &workers), 0);
    ck_assert_int_eq(per, 8);
    ck_assert_int_eq(workers, 2);
    ck_assert_int_eq(job_workers(4, 0, &per, &workers), 0); /* 0: one worker of all */
    ck_assert_int_eq(per, 4);
    ck_assert_int_eq(workers, 1);
    per = workers = -1;
    ck_assert_int_eq(job_workers(12, 8, &per, &workers), -1);
    ck_assert_int_eq(job_workers(0, 8, &per, &workers), -1);
    ck_assert_int_eq(job_workers(8, -2, &per, &workers), -1);
    ck_assert_int_eq(per, -1); /* written only on success */
    ck_assert_int_eq(workers, -1);
    ck_assert_int_eq(job_workers(JOB_GPU_COUNT_MAX, JOB_GPUS_PER_WORKER_MAX, NULL, NULL), 0);
}
END_TEST

START_TEST(dns_names)
{
    ck_assert(dns_label_ok("maps-team", 9));
    ck_assert(dns_label_ok("a", 1));
    ck_assert(!dns_label_ok("", 0));
    ck_assert(!dns_label_ok("-maps", 5));
    ck_assert(!dns_label_ok("maps-", 5));
    ck_assert(!dns_label_ok("Maps", 4));
    ck_assert(!dns_label_ok("a.b", 3));
    ck_assert(
        !dns_label_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64));
    ck_assert(dns_subdomain_ok("deepeta.run-472", 15, 253));
    ck_assert(!dns_subdomain_ok("a..b", 4, 253));
    ck_assert(!dns_subdomain_ok(".a", 2, 253));
    ck_assert(!dns_subdomain_ok("a.-b", 4, 253));
    ck_assert(!dns_subdomain_ok("abcdef", 6, 5));
}
END_TEST

/* One parser of times of day for the cluster config and the simulator: two digits each,
 * 24:00 only as the end of a day, no sign (the simulator's own parsers used to take one). */
START_TEST(hhmm_times_of_day)
{
    static const char *const bad[] = {"+8:00", "-0:30", "8:30",   "08:3", "08-30", "24:01",
                                      "25:00", "08:60", "08:30 ", "",     "0a:00", "08:+3"};
    int m = -7;

    ck_assert_int_eq(clock_parse_hhmm("00:00", &m), 0);
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(clock_parse_hhmm("08:30", &m), 0);
    ck_assert_int_eq(m, 510);
    ck_assert_int_eq(clock_parse_hhmm("23:59", &m), 0);
    ck_assert_int_eq(m, 1439);
    ck_assert_int_eq(clock_parse_hhmm("24:00", &m), 0);
    ck_assert_int_eq(m, 1440);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        m = -7;
        ck_assert_msg(clock_parse_hhmm(bad[i], &m) == -1 && m == -7, "\"%s\" accepted", bad[i]);
    }
    ck_assert_int_eq(clock_parse_hhmm(NULL, &m), -1);
}
END_TEST

START_TEST(sha256_known_answers)
{
    char hex[65], *million;
    static const char long_msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex(long_msg, strlen(long_msg), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    million = malloc(1000000);
    memset(million, 'a', 1000000);
    sha256_hex(million, 1000000, hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
    /* Lengths around the padding boundary (55, 56, 64 bytes) against Python's hashlib. */
    sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55, hex);
    ck_assert_str_eq(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56, hex);
    ck_assert_str_eq(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    sha256_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64, hex);
    ck_assert_str_eq(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("base");
    TCase *tc = tcase_create("base");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, err_set_fills_and_returns_minus_one);
    tcase_add_test(tc, err_causes_keep_then_count);
    tcase_add_test(tc, err_join_names_or_counts_each);
    tcase_add_test(tc, buf_refuses_past_its_cap);
    tcase_add_test(tc, num_parse_is_strict);
    tcase_add_test(tc, rfc3339_round_trip);
    tcase_add_test(tc, sku_catalogue_matches_products);
    tcase_add_test(tc, phases_parse_and_terminal);
    tcase_add_test(tc, sha256_known_answers);
    tcase_add_test(tc, hhmm_times_of_day);
    tcase_add_test(tc, utf8_validity);
    tcase_add_test(tc, dns_names);
    tcase_add_test(tc, job_workers_divides_or_refuses);
    tcase_add_test(tc, utf8_sanitize_escapes_and_never_cuts);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
