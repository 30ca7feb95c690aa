/* test_policy_tz.c -- POSIX TZ rules: parsing, offsets across DST edges, local to UTC,
 * checked against glibc's own TZ evaluation for many instants. */
#include "base/err.h"
#include "policy/tz.h"

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return (tz_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60) * 1000;
}

START_TEST(test_civil_round_trip)
{
    int y, m, d;

    ck_assert_int_eq(tz_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(tz_days_from_civil(2000, 3, 1), 11017);
    for (int64_t day = -800000; day < 800000; day += 97) {
        tz_civil_from_days(day, &y, &m, &d);
        ck_assert_int_eq(tz_days_from_civil(y, m, d), day);
    }
}
END_TEST

START_TEST(test_parse)
{
    struct tz_rule r;
    struct err e;

    ck_assert_int_eq(tz_parse("PST8PDT,M3.2.0,M11.1.0", &r, &e), 0);
    ck_assert_int_eq(r.std_off_s, -8 * 3600);
    ck_assert_int_eq(r.dst_off_s, -7 * 3600);
    ck_assert(r.has_dst);
    ck_assert_int_eq(r.start.month, 3);
    ck_assert_int_eq(r.end.time_s, 7200);
    ck_assert_int_eq(tz_parse("<+0530>-5:30", &r, &e), 0);
    ck_assert_int_eq(r.std_off_s, 5 * 3600 + 1800);
    ck_assert(!r.has_dst);
    ck_assert_int_eq(tz_parse("", &r, &e), 0);
    ck_assert_int_eq(r.std_off_s, 0);
    ck_assert_int_eq(tz_parse("EST5EDT", &r, &e), 0);
    ck_assert_int_eq(r.start.week, 2);
    ck_assert_int_eq(tz_parse("America/New_York", &r, &e), -1);
    ck_assert_int_eq(e.code, ERR_INVALID);
    ck_assert_str_eq(e.field, "tz");
    ck_assert_int_eq(tz_parse("CET-1CEST,M3.5.0,M10.5.0/3x", &r, &e), -1);
    ck_assert_int_eq(tz_parse("CET-1CEST,M13.5.0,M10.5.0/3", &r, &e), -1);
}
END_TEST

START_TEST(test_us_pacific_edges)
{
    struct tz_rule r;
    struct tz_local l;

    ck_assert_int_eq(tz_parse("PST8PDT,M3.2.0,M11.1.0", &r, NULL), 0);
    /* 2026-03-08 02:00 PST = 10:00 UTC: clocks jump to 03:00 PDT. */
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 3, 8, 9, 59)), -8 * 3600);
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 3, 8, 10, 0)), -7 * 3600);
    /* 2026-11-01 02:00 PDT = 09:00 UTC: back to 01:00 PST. */
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 11, 1, 8, 59)), -7 * 3600);
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 11, 1, 9, 0)), -8 * 3600);
    tz_local_at(&r, utc(2026, 11, 28, 6, 30), &l); /* Friday 22:30 PST on the 27th */
    ck_assert_int_eq(l.day, 27);
    ck_assert_int_eq(l.wday, 5);
    ck_assert_int_eq(l.minute_of_day, 22 * 60 + 30);
    /* Local 02:30 on spring-forward day does not exist: maps to the end of the gap. */
    ck_assert_int_eq(tz_utc_of_local(&r, utc(2026, 3, 8, 2, 30)), utc(2026, 3, 8, 10, 0));
    /* Local 01:30 on fall-back day happens twice: the first (PDT) occurrence. */
    ck_assert_int_eq(tz_utc_of_local(&r, utc(2026, 11, 1, 1, 30)), utc(2026, 11, 1, 8, 30));
    ck_assert_int_eq(tz_utc_of_local(&r, utc(2026, 7, 1, 12, 0)), utc(2026, 7, 1, 19, 0));
}
END_TEST

START_TEST(test_southern_hemisphere)
{
    struct tz_rule r;

    /* Sydney: DST from the first Sunday of October to the first Sunday of April. */
    ck_assert_int_eq(tz_parse("AEST-10AEDT,M10.1.0,M4.1.0/3", &r, NULL), 0);
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 1, 15, 0, 0)), 11 * 3600);
    ck_assert_int_eq(tz_offset_at(&r, utc(2026, 7, 15, 0, 0)), 10 * 3600);
}
END_TEST

/* Compares against glibc for rules it understands, at pseudo-random instants. */
static void compare_with_libc(const char *rule)
{
    struct tz_rule r;
    uint64_t x = 88172645463325252ULL;

    ck_assert_int_eq(tz_parse(rule, &r, NULL), 0);
    setenv("TZ", rule, 1);
    tzset();
    for (int i = 0; i < 4000; i++) {
        struct tm tm;
        struct tz_local l;
        time_t t;
        int64_t ms;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        t = (time_t)(1600000000 + (int64_t)(x % 400000000ULL));
        ms = (int64_t)t * 1000;
        ck_assert_ptr_nonnull(localtime_r(&t, &tm));
        tz_local_at(&r, ms, &l);
        ck_assert_msg(l.off_s == tm.tm_gmtoff, "%s at %lld: ours %d libc %ld", rule, (long long)t,
                      l.off_s, (long)tm.tm_gmtoff);
        ck_assert_int_eq(l.wday, tm.tm_wday);
        ck_assert_int_eq(l.minute_of_day, tm.tm_hour * 60 + tm.tm_min);
        ck_assert_int_eq(l.day, tm.tm_mday);
    }
}

START_TEST(test_matches_libc)
{
    compare_with_libc("PST8PDT,M3.2.0,M11.1.0");
    compare_with_libc("CET-1CEST,M3.5.0,M10.5.0/3");
    compare_with_libc("AEST-10AEDT,M10.1.0,M4.1.0/3");
    compare_with_libc("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0");
    compare_with_libc("IST-5:30");
    compare_with_libc("EST5EDT,J60/1,J300/1");
    compare_with_libc("WART4WARST,0/0,365/25");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("policy_tz");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_civil_round_trip);
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_us_pacific_edges);
    tcase_add_test(tc, test_southern_hemisphere);
    tcase_add_test(tc, test_matches_libc);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
