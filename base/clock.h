/* clock.h -- wall and monotonic time in milliseconds, and RFC 3339 text.
 * policy/ never calls these: it takes `now` as a parameter. */
#ifndef BASE_CLOCK_H
#define BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_realtime_ms(void); /* milliseconds since the Unix epoch */
int64_t clock_mono_ms(void);     /* milliseconds on a clock that never goes back */
int64_t clock_mono_ns(void);

/* Writes "2026-11-28T02:15:38.123Z" (UTC) into out; truncates when size is short. */
void clock_format_rfc3339(int64_t ms, char *out, size_t size);

/* Parses RFC 3339 ("2026-11-28T02:15:38Z", fractional seconds and +hh:mm offsets
 * allowed) into milliseconds since the epoch. Returns 0, or -1 when malformed. */
int clock_parse_rfc3339(const char *s, int64_t *out_ms);

/* Parses a time of day "HH:MM" (two digits each; "24:00" allowed as the end of a day) into
 * minutes after midnight. Returns 0, or -1 when malformed (nothing written). */
int clock_parse_hhmm(const char *s, int *out_min);

#endif
