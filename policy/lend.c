/* lend.c -- lending windows in local time, and the idle rule. */
#include "policy/lend.h"

#define MIN_MS   60000LL
#define DAY_MIN  1440LL
#define WEEK_MIN (7 * DAY_MIN)

/* End (local minutes since the epoch) of the occurrence of w that contains local minute t,
 * or -1 when none does. Occurrences start on a permitted day and may run into the next. */
static int64_t occurrence_end(const struct snapshot_window *w, int64_t t)
{
    int64_t day = t >= 0 ? t / DAY_MIN : (t - DAY_MIN + 1) / DAY_MIN;
    int64_t len =
        w->end_min > w->start_min ? w->end_min - w->start_min : DAY_MIN - w->start_min + w->end_min;
    uint8_t days = w->days ? w->days : 0x7f;

    /* An occurrence lasts at most 24 hours, so it started today or yesterday. */
    for (int64_t d = day; d >= day - 1; d--) {
        int64_t start = d * DAY_MIN + w->start_min;
        int64_t wd = ((d + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */

        if (!(days & (1u << wd)))
            continue;
        if (t >= start && t < start + len)
            return start + len;
    }
    return -1;
}

bool lend_window_open(const struct snapshot_serving_pool *sp, const struct tz_rule *tz,
                      int64_t now_ms, int64_t *end_ms)
{
    struct tz_local l;
    int64_t t, end = -1;

    tz_local_at(tz, now_ms, &l);
    t = l.epoch_day * DAY_MIN + l.minute_of_day;
    for (size_t i = 0; i < sp->n_windows && i < SNAPSHOT_WINDOWS_MAX; i++) {
        int64_t e = occurrence_end(&sp->windows[i], t);

        if (e > end)
            end = e;
    }
    if (end < 0)
        return false;
    /* Follow windows that continue the open period. */
    for (int guard = 0; guard < 64 && end - t < WEEK_MIN; guard++) {
        int64_t next = end;

        for (size_t i = 0; i < sp->n_windows && i < SNAPSHOT_WINDOWS_MAX; i++) {
            int64_t e = occurrence_end(&sp->windows[i], end);

            if (e > next)
                next = e;
        }
        if (next == end)
            break;
        end = next;
    }
    if (end - t > WEEK_MIN)
        end = t + WEEK_MIN;
    if (end_ms)
        *end_ms = tz_utc_of_local(tz, end * MIN_MS);
    return true;
}

bool lend_idle_enough(const struct snapshot_serving_pool *sp, int64_t now_ms)
{
    return sp->idle_since_ms > 0 && now_ms - sp->idle_since_ms >= sp->idle_minutes * MIN_MS;
}
