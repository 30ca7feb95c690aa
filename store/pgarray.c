/* pgarray.c -- PostgreSQL one-dimensional array literals in text form, both ways: built
 * for parameters ("{"a","b"}") and read from results ("{a,"b c",NULL}"). */
#include "store/conn.h"

#include "base/buf.h"
#include "base/num.h"

#include <string.h>

void store_array_add(struct buf *b, const char *v)
{
    buf_puts(b, b->len > 1 ? "," : "");
    if (!v) {
        buf_puts(b, "NULL");
        return;
    }
    buf_puts(b, "\"");
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, p, 1);
    }
    buf_puts(b, "\"");
}

size_t store_array_count(const char *text)
{
    size_t n = 0;
    bool quoted = false, any = false;

    if (!text || text[0] != '{')
        return 0;
    for (const char *p = text + 1; *p && (quoted || *p != '}'); p++) {
        if (quoted && *p == '\\' && p[1])
            p++;
        else if (*p == '"')
            quoted = !quoted;
        else if (!quoted && *p == ',')
            n++;
        any = true;
    }
    return any ? n + 1 : 0;
}

size_t store_array_parse(const char *text, char **dstp, const char **out, size_t max)
{
    const char *p = text;
    char *dst = *dstp;
    size_t n = 0;

    if (!p || *p++ != '{')
        return 0;
    while (*p && *p != '}' && n < max) {
        char *start = dst;

        if (*p == '"') {
            for (p++; *p && *p != '"'; p++) {
                if (*p == '\\' && p[1])
                    p++;
                *dst++ = *p;
            }
            if (*p == '"')
                p++;
            *dst++ = '\0';
            out[n++] = start;
        } else {
            size_t len = strcspn(p, ",}");

            memcpy(dst, p, len);
            dst[len] = '\0';
            dst += len + 1;
            /* An unquoted NULL is the SQL null; as a string it would be quoted. */
            out[n++] = len == 4 && memcmp(p, "NULL", 4) == 0 ? NULL : start;
            p += len;
        }
        if (*p == ',')
            p++;
    }
    *dstp = dst;
    return n;
}

size_t store_array_numbers(const char *text, double *out, size_t max)
{
    const char *p = text;
    size_t n = 0;

    if (!p || *p++ != '{')
        return 0;
    while (*p && *p != '}' && n < max) {
        size_t len = strcspn(p, ",}");
        char one[64]; /* float8's longest text is 24 bytes */
        double d = 0;

        /* Elements of a number array are never quoted; NULL, NaN and Infinity fail the
         * parse and stay 0. */
        if (len < sizeof(one)) {
            memcpy(one, p, len);
            one[len] = '\0';
            if (num_parse_double(one, &d))
                d = 0;
        }
        out[n++] = d;
        p += len;
        if (*p == ',')
            p++;
    }
    return n;
}
