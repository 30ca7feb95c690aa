/* wire.c -- text forms the server and its client share: durations and report formats. */
#include "base/wire.h"

#include "base/err.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define DURATION_MAX_MS (10LL * 366 * 24 * 3600 * 1000)

int wire_parse_report_format(const char *s, enum wire_report_format *out, struct err *e)
{
    static const struct {
        const char *name;
        enum wire_report_format f;
    } names[] = {{"json", WIRE_REPORT_JSON},
                 {"csv", WIRE_REPORT_CSV},
                 {"md", WIRE_REPORT_MD},
                 {"markdown", WIRE_REPORT_MD},
                 {"html", WIRE_REPORT_HTML}};

    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return 0;
        }
    }
    return err_set(e, ERR_MALFORMED, "format", "format \"%s\" is not one of csv, json, md, html",
                   s ? s : "");
}

int wire_parse_duration(const char *s, const char *field, int64_t *out_ms, struct err *e)
{
    const char *p = s;
    int64_t total = 0;

    if (!s || !*s)
        return err_set(e, ERR_MALFORMED, field, "%s is empty; use a duration like 90s, 15m, 2h, 1d",
                       field);
    while (*p) {
        int64_t v = 0, unit;
        int digits = 0;

        while (isdigit((unsigned char)*p) && digits < 12) {
            v = v * 10 + (*p++ - '0');
            digits++;
        }
        if (digits == 0 || isdigit((unsigned char)*p))
            goto bad;
        if (strncmp(p, "ms", 2) == 0) {
            unit = 1;
            p += 2;
        } else {
            switch (*p) {
            case 's': unit = 1000; break;
            case 'm': unit = 60 * 1000; break;
            case 'h': unit = 3600 * 1000; break;
            case 'd': unit = 24 * 3600 * 1000; break;
            case 'w': unit = 7LL * 24 * 3600 * 1000; break;
            default: goto bad;
            }
            p++;
        }
        if (v > DURATION_MAX_MS / unit)
            goto bad;
        total += v * unit;
        if (total > DURATION_MAX_MS)
            goto bad;
    }
    if (total <= 0)
        goto bad;
    *out_ms = total;
    return 0;
bad:
    return err_set(e, ERR_MALFORMED, field,
                   "%s \"%s\" is not a duration like 90s, 15m, 2h, 1d or 1h30m (at most 10 years)",
                   field, s);
}
