/* tz.h -- POSIX TZ rules ("PST8PDT,M3.2.0,M11.1.0") evaluated purely, without tzdata.
 * The connector copies the rule from the footer of the zone's TZif file into the snapshot;
 * policy/ uses this module to find a cluster's local time for lending windows.
 * Not responsible for zone names ("America/Los_Angeles") or historical rule changes: a TZ
 * rule describes the zone's current recurring behaviour, which is all a weekly lending
 * window needs. Pure functions, no state: safe from any thread. */
#ifndef POLICY_TZ_H
#define POLICY_TZ_H

#include <stdbool.h>
#include <stdint.h>

struct err;

/* One end of the daylight-saving period: Mm.w.d (month, week 1-5 where 5 = last,
 * weekday 0 = Sunday), Jn (1-365, February 29 never counted) or n (0-365, counted). */
struct tz_date {
    char kind; /* 'M', 'J' or 'N' */
    int month, week, wday;
    int yday;
    int time_s; /* local time of the transition, seconds after midnight (may be < 0 or > 24 h) */
};

struct tz_rule {
    int std_off_s; /* seconds east of UTC in standard time (PST8 gives -28800) */
    int dst_off_s; /* seconds east of UTC in daylight time */
    bool has_dst;
    struct tz_date start, end; /* DST starts at start (standard local time), ends at end */
};

/* Broken-down local time. */
struct tz_local {
    int year, month, day; /* month 1-12 */
    int wday;             /* 0 = Sunday */
    int minute_of_day;    /* 0-1439 */
    int64_t epoch_day;    /* days since 1970-01-01 of the local date */
    int64_t second_of_day;
    int off_s; /* offset in force, seconds east of UTC */
};

/* Parses a POSIX TZ rule. NULL or "" is UTC. A rule with a DST name but no transition
 * dates uses the US rule M3.2.0,M11.1.0. Fails with ERR_INVALID naming the rule text. */
int tz_parse(const char *s, struct tz_rule *out, struct err *e);

/* Offset east of UTC in force at utc_ms. */
int tz_offset_at(const struct tz_rule *r, int64_t utc_ms);

/* Local time at utc_ms. */
void tz_local_at(const struct tz_rule *r, int64_t utc_ms, struct tz_local *out);

/* The UTC instant of a local wall-clock time given as milliseconds since 1970-01-01
 * local. A time skipped by a spring-forward gap maps to the instant the gap ends; a time
 * repeated in the autumn maps to its first occurrence. */
int64_t tz_utc_of_local(const struct tz_rule *r, int64_t local_ms);

/* Civil-date helpers (proleptic Gregorian). */
int64_t tz_days_from_civil(int year, int month, int day);
void tz_civil_from_days(int64_t days, int *year, int *month, int *day);

#endif
