/* tz.c -- POSIX TZ rule parsing and evaluation (POSIX.1-2017 section 8.3, with the
 * RFC 8536 extensions: hours up to 167 and negative transition times). */
#include "policy/tz.h"

#include "base/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define DAY_S 86400LL

/* Howard Hinnant's days_from_civil: exact for every Gregorian date, no tables. */
int64_t tz_days_from_civil(int year, int month, int day)
{
    int64_t y = (int64_t)year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t mp = (month + 9) % 12;
    int64_t doy = (153 * mp + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

    return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;

    *year = (int)(yoe + era * 400 + (m <= 2));
    *month = (int)m;
    *day = (int)d;
}

static int wday_of(int64_t days)
{
    int64_t w = (days + 4) % 7; /* 1970-01-01 was a Thursday */

    return (int)(w < 0 ? w + 7 : w);
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    return m == 2 && leap(y) ? 29 : md[m - 1];
}

/* Parsing: p walks the string; every helper returns 0 or -1. */
static int parse_name(const char **p)
{
    const char *s = *p;

    if (*s == '<') {
        const char *q = strchr(s, '>');

        if (!q || q - s < 4)
            return -1;
        *p = q + 1;
        return 0;
    }
    while (isalpha((unsigned char)*s))
        s++;
    if (s - *p < 3)
        return -1;
    *p = s;
    return 0;
}

static int parse_num(const char **p, int max, int *out)
{
    const char *s = *p;
    int v = 0;

    if (!isdigit((unsigned char)*s))
        return -1;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        if (v > max)
            return -1;
        s++;
    }
    *p = s;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] in seconds; hours up to 167 (RFC 8536). */
static int parse_hms(const char **p, int *out)
{
    int sign = 1, h = 0, m = 0, sec = 0;

    if (**p == '+' || **p == '-') {
        sign = **p == '-' ? -1 : 1;
        (*p)++;
    }
    if (parse_num(p, 167, &h))
        return -1;
    if (**p == ':') {
        (*p)++;
        if (parse_num(p, 59, &m))
            return -1;
        if (**p == ':') {
            (*p)++;
            if (parse_num(p, 59, &sec))
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + sec);
    return 0;
}

static int parse_date(const char **p, struct tz_date *d)
{
    memset(d, 0, sizeof(*d));
    d->time_s = 7200;
    if (**p == 'M') {
        (*p)++;
        d->kind = 'M';
        if (parse_num(p, 12, &d->month) || d->month < 1 || **p != '.')
            return -1;
        (*p)++;
        if (parse_num(p, 5, &d->week) || d->week < 1 || **p != '.')
            return -1;
        (*p)++;
        if (parse_num(p, 6, &d->wday))
            return -1;
    } else if (**p == 'J') {
        (*p)++;
        d->kind = 'J';
        if (parse_num(p, 365, &d->yday) || d->yday < 1)
            return -1;
    } else {
        d->kind = 'N';
        if (parse_num(p, 365, &d->yday))
            return -1;
    }
    if (**p == '/') {
        (*p)++;
        if (parse_hms(p, &d->time_s))
            return -1;
    }
    return 0;
}

int tz_parse(const char *s, struct tz_rule *out, struct err *e)
{
    struct tz_rule r;
    const char *p = s;
    int off;

    memset(&r, 0, sizeof(r));
    if (!s || !*s) {
        *out = r;
        return 0;
    }
    if (*p == ':')
        goto bad; /* an implementation-defined zone name, not a rule */
    if (parse_name(&p) || parse_hms(&p, &off))
        goto bad;
    r.std_off_s = -off;
    if (*p == '\0') {
        *out = r;
        return 0;
    }
    if (parse_name(&p))
        goto bad;
    r.has_dst = true;
    r.dst_off_s = r.std_off_s + 3600;
    if (*p && *p != ',') {
        if (parse_hms(&p, &off))
            goto bad;
        r.dst_off_s = -off;
    }
    if (*p == '\0') {
        r.start = (struct tz_date){'M', 3, 2, 0, 0, 7200};
        r.end = (struct tz_date){'M', 11, 1, 0, 0, 7200};
        *out = r;
        return 0;
    }
    if (*p != ',')
        goto bad;
    p++;
    if (parse_date(&p, &r.start) || *p != ',')
        goto bad;
    p++;
    if (parse_date(&p, &r.end) || *p != '\0')
        goto bad;
    *out = r;
    return 0;
bad:
    return err_set(e, ERR_INVALID, "tz", "TZ rule \"%s\" is not a POSIX TZ string (near \"%s\")", s,
                   p);
}

/* Epoch day of a transition date in year y. */
static int64_t date_day(const struct tz_date *d, int y)
{
    int64_t jan1 = tz_days_from_civil(y, 1, 1);

    if (d->kind == 'J') {
        /* Jn counts 1..365 and never February 29: from March on, skip it in leap years. */
        int64_t day = jan1 + d->yday - 1;

        return leap(y) && d->yday >= 60 ? day + 1 : day;
    }
    if (d->kind == 'N')
        return jan1 + d->yday;
    {
        int64_t first = tz_days_from_civil(y, d->month, 1);
        int dd = (d->wday - wday_of(first) + 7) % 7 + (d->week - 1) * 7;

        while (dd >= month_days(y, d->month))
            dd -= 7;
        return first + dd;
    }
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;

    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool in_dst(const struct tz_rule *r, int64_t utc_s)
{
    int y, m, d;
    int64_t start, end;

    if (!r->has_dst)
        return false;
    tz_civil_from_days(floor_div(utc_s + r->std_off_s, DAY_S), &y, &m, &d);
    start = date_day(&r->start, y) * DAY_S + r->start.time_s - r->std_off_s;
    end = date_day(&r->end, y) * DAY_S + r->end.time_s - r->dst_off_s;
    if (start < end)
        return utc_s >= start && utc_s < end;
    /* Southern hemisphere: DST spans the new year. */
    return !(utc_s >= end && utc_s < start);
}

int tz_offset_at(const struct tz_rule *r, int64_t utc_ms)
{
    return in_dst(r, floor_div(utc_ms, 1000)) ? r->dst_off_s : r->std_off_s;
}

void tz_local_at(const struct tz_rule *r, int64_t utc_ms, struct tz_local *out)
{
    int off = tz_offset_at(r, utc_ms);
    int64_t local_s = floor_div(utc_ms, 1000) + off;
    int64_t days = floor_div(local_s, DAY_S);

    out->off_s = off;
    out->epoch_day = days;
    out->second_of_day = local_s - days * DAY_S;
    out->minute_of_day = (int)(out->second_of_day / 60);
    out->wday = wday_of(days);
    tz_civil_from_days(days, &out->year, &out->month, &out->day);
}

int64_t tz_utc_of_local(const struct tz_rule *r, int64_t local_ms)
{
    /* Try the earlier-occurring offset first (the larger one: DST in the north), so an
     * ambiguous autumn time maps to its first occurrence. */
    int a = r->has_dst && r->dst_off_s > r->std_off_s ? r->dst_off_s : r->std_off_s;
    int b = a == r->std_off_s ? r->dst_off_s : r->std_off_s;
    int64_t ua = local_ms - (int64_t)a * 1000;
    int64_t ub;

    if (tz_offset_at(r, ua) == a)
        return ua;
    if (!r->has_dst)
        return ua;
    ub = local_ms - (int64_t)b * 1000;
    if (tz_offset_at(r, ub) == b)
        return ub;
    /* In a gap: the wall time never happens. The offset changes somewhere between the
     * two candidates; bisect (in whole seconds) for the instant the gap ends. */
    {
        int64_t lo = ua < ub ? ua : ub, hi = ua < ub ? ub : ua;
        int off_lo = tz_offset_at(r, lo);

        while (hi - lo > 1000) {
            int64_t mid = lo + (hi - lo) / 2000 * 1000;

            if (tz_offset_at(r, mid) == off_lo)
                lo = mid;
            else
                hi = mid;
        }
        return hi;
    }
}
