/* promtext.h -- a strict checker of the Prometheus text exposition format (0.0.4), for
 * tests of /metrics. Stricter than Prometheus itself where our emitters should be: every
 * sample needs a TYPE first, a family's lines stay together, counters are not negative.
 * Not a general-purpose parser: it keeps nothing but what the checks need. */
#ifndef TESTS_SUPPORT_PROMTEXT_H
#define TESTS_SUPPORT_PROMTEXT_H

#include <stddef.h>

struct promtext_stats {
    size_t families; /* TYPE lines */
    size_t samples;  /* sample lines */
};

/* Checks len bytes of text. Returns 0 when it is valid, filling *st (may be NULL); or -1
 * with "line N: what is wrong" in err (errsize bytes, may be 0). The rules:
 *  - valid UTF-8 throughout; every line ends with '\n'; blank lines are ignored;
 *  - "# HELP name text" (escapes \\ and \n only) and "# TYPE name type" (counter, gauge,
 *    histogram, summary, untyped), at most one each per family, both before its samples;
 *    other comments are ignored;
 *  - a sample is name[{label="value",...}] value [timestamp]: names match
 *    [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not "__..." nor
 *    repeated, values quoted with escapes \\, \" and \n only; the value is a decimal
 *    float, +Inf, -Inf or NaN; the timestamp an integer (milliseconds);
 *  - the sample belongs to the family of the last TYPE (name, or name_bucket, _sum,
 *    _count for histograms, name, _sum, _count for summaries), and a family once left is
 *    never resumed;
 *  - no two samples share name and label set;
 *  - counters are >= 0; histogram series have buckets with le ascending and counts not
 *    decreasing, a le="+Inf" bucket, _sum and _count, and +Inf bucket == _count;
 *    summary samples have a quantile label in [0, 1] (_sum and _count are optional, as
 *    in OpenMetrics).
 * Thread-safe; allocates only while it runs. */
int promtext_check(const char *text, size_t len, struct promtext_stats *st, char *err,
                   size_t errsize);

/* The outside referee: Prometheus' own `promtool check metrics` (the prometheus package,
 * .ci/deps) on len bytes of text, which parses the page as Prometheus does and lints it
 * (base units in names, counters ending in _total, HELP present...). Returns promtool's exit
 * status (0: no problem), or -1 when it could not be run; what it printed goes to out
 * (outsize bytes, may be 0). */
int promtext_promtool(const char *text, size_t len, char *out, size_t outsize);

#endif
