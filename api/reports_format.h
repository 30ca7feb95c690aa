/* reports_format.h -- the capacity report on the wire: options from text (times, durations,
 * formats) and rendering as CSV, JSON, Markdown or self-contained HTML with inline SVG
 * charts (no scripts, no external files: fit for e-mail). Served by
 * GET /v1/reports/capacity (h_report_capacity in internal.h); `fedsched report` calls it.
 * Not responsible for the numbers themselves (store/reports.c). */
#ifndef API_REPORTS_FORMAT_H
#define API_REPORTS_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "base/wire.h"

struct err;
struct store_report;
struct store_report_opts;

/* Formats and durations are parsed by base/wire.h (the client shares them). */
const char *reports_content_type(enum wire_report_format f); /* static string */

/* A point in time: RFC 3339 ("2026-11-28T02:00:00Z"), a date ("2026-11-28", midnight
 * UTC), "now", or now minus a duration ("now-24h" or "-24h"). ERR_MALFORMED naming
 * field otherwise. Pure (now_ms is given). */
int reports_parse_time(const char *s, int64_t now_ms, const char *field, int64_t *out_ms,
                       struct err *e);

/* Options from the query strings (each may be NULL or empty: to = now, from = to - 24h,
 * step = 1h), then store_report_check(). ERR_MALFORMED or ERR_INVALID naming the field. */
int reports_parse_opts(const char *from, const char *to, const char *step, int64_t now_ms,
                       struct store_report_opts *o, struct err *e);

/* The same, with every problem a cause in c: from, to and step each, then the window they
 * make once each is readable. */
struct err_causes;
int reports_parse_opts_all(const char *from, const char *to, const char *step, int64_t now_ms,
                           struct store_report_opts *o, struct err_causes *c);

/* The filters (each NULL or "" for every name, else names joined by commas): cluster
 * names (DNS labels), SKU names and pools (training, serving), into o's lists.
 * ERR_MALFORMED naming the field and the name, a cause in c each. */
int reports_parse_filters(const char *cluster, const char *sku, const char *pool,
                          struct store_report_opts *o, struct err_causes *c);

/* Renders r. Returns a new NUL-terminated string (caller frees); never NULL.
 * CSV: a header line then one line per row of r (columns in docs/operations.md), numbers
 * with fixed decimals (GPU-hours 3, percent 1, seconds 3), empty wait when none.
 * JSON: {kind, from, to, stepSeconds, filters, rows, totals, federation, queueWaitBySku},
 * written directly (the bytes jansson would write).
 * Markdown and HTML: totals per cluster/SKU/pool, the federation by step, queue wait by
 * SKU; HTML adds inline SVG charts. Thread-safe. */
char *reports_render(const struct store_report *r, enum wire_report_format f);

#endif
