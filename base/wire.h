/* wire.h -- text forms the server and its client share: durations ("90s", "1h30m") and
 * the report formats. Pure; no I/O. */
#ifndef BASE_WIRE_H
#define BASE_WIRE_H

#include <stdint.h>

struct err;

enum wire_report_format { WIRE_REPORT_JSON = 0, WIRE_REPORT_CSV, WIRE_REPORT_MD, WIRE_REPORT_HTML };

/* "csv", "json", "md" (or "markdown"), "html", any case. ERR_MALFORMED naming field
 * "format". */
int wire_parse_report_format(const char *s, enum wire_report_format *out, struct err *e);

/* A duration: one or more <integer><unit> parts, units ms, s, m, h, d, w ("90s", "2h",
 * "1h30m"). Result in (0, 10 years]. ERR_MALFORMED naming field otherwise. */
int wire_parse_duration(const char *s, const char *field, int64_t *out_ms, struct err *e);

#endif
