/* rollup_plan.c -- which parts of a report's window come from sums (rollup_plan.h). */
#include "store/rollup_plan.h"

#include "base/mem.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static bool has(const int64_t *v, size_t n, int64_t x)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v[mid] == x)
            return true;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* A growable plan; cap_* are the capacities. */
struct grow {
    struct rollup_plan *p;
    size_t cap_raw, cap_sums;
};

static void add_raw(struct grow *g, int64_t lo, int64_t hi)
{
    struct rollup_plan *p = g->p;

    if (p->n_raw && p->raw_hi[p->n_raw - 1] == lo) {
        p->raw_hi[p->n_raw - 1] = hi;
        return;
    }
    if (p->n_raw == g->cap_raw) {
        g->cap_raw = g->cap_raw ? 2 * g->cap_raw : 16;
        p->raw_lo = xrealloc(p->raw_lo, g->cap_raw * sizeof(*p->raw_lo));
        p->raw_hi = xrealloc(p->raw_hi, g->cap_raw * sizeof(*p->raw_hi));
    }
    p->raw_lo[p->n_raw] = lo;
    p->raw_hi[p->n_raw++] = hi;
}

static void add_sum(struct grow *g, int width_s, int64_t start)
{
    struct rollup_plan *p = g->p;

    if (p->n_sums == g->cap_sums) {
        g->cap_sums = g->cap_sums ? 2 * g->cap_sums : 16;
        p->sum_width_s = xrealloc(p->sum_width_s, g->cap_sums * sizeof(*p->sum_width_s));
        p->sum_start = xrealloc(p->sum_start, g->cap_sums * sizeof(*p->sum_start));
    }
    p->sum_width_s[p->n_sums] = width_s;
    p->sum_start[p->n_sums++] = start;
}

/* Non-negative remainder: the windows are after 1970, but a caller may ask otherwise. */
static int64_t mod(int64_t a, int64_t b)
{
    return ((a % b) + b) % b;
}

void rollup_plan_build(int64_t from, int64_t to, int64_t step, const struct rollup_marks *m,
                       struct rollup_plan *out)
{
    const struct {
        int64_t ms;
        const int64_t *marks;
        size_t n;
    } widths[] = {{ROLLUP_DAY_MS, m->days, m->n_days},
                  {ROLLUP_HOUR_MS, m->hours, m->n_hours},
                  {ROLLUP_QUARTER_MS, m->quarters, m->n_quarters}};
    struct grow g;

    memset(out, 0, sizeof(*out));
    g = (struct grow){out, 0, 0};
    for (int64_t a = from; a < to; a += step) {
        int64_t b = a + step < to ? a + step : to, pos = a;

        while (pos < b) {
            size_t w = 0;

            /* The widest sum that starts here, lies inside the step and exists. */
            while (w < sizeof(widths) / sizeof(widths[0]) &&
                   !(mod(pos, widths[w].ms) == 0 && pos + widths[w].ms <= b &&
                     has(widths[w].marks, widths[w].n, pos)))
                w++;
            if (w < sizeof(widths) / sizeof(widths[0])) {
                add_sum(&g, (int)(widths[w].ms / 1000), pos);
                pos += widths[w].ms;
            } else {
                int64_t next = pos - mod(pos, ROLLUP_QUARTER_MS) + ROLLUP_QUARTER_MS;

                if (next > b)
                    next = b;
                add_raw(&g, pos, next);
                pos = next;
            }
        }
    }
}

void rollup_plan_free(struct rollup_plan *p)
{
    if (!p)
        return;
    free(p->raw_lo);
    free(p->raw_hi);
    free(p->sum_width_s);
    free(p->sum_start);
    memset(p, 0, sizeof(*p));
}
