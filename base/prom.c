/* prom.c -- escaping label values for the Prometheus text format (see prom.h). */
#include "base/prom.h"

#include <string.h>

size_t prom_utf8_len(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;

    if (u[0] == 0)
        return 0;
    if (u[0] < 0x80)
        return 1;
    /* The second byte's range excludes overlong forms (E0, F0), surrogates (ED) and
     * code points above U+10FFFF (F4); C0, C1 and F5..FF never start a character. */
    if (u[0] >= 0xC2 && u[0] <= 0xDF)
        n = 2;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
        n = 3;
        if (u[0] == 0xE0)
            lo = 0xA0;
        else if (u[0] == 0xED)
            hi = 0x9F;
    } else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
        n = 4;
        if (u[0] == 0xF0)
            lo = 0x90;
        else if (u[0] == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (u[i] < 0x80 || u[i] > 0xBF)
            return 0;
    return n;
}

/* The escaped form of the element at s: sets *out and *outlen and returns how many input
 * bytes it stands for. */
static size_t next_piece(const char *s, const char **out, size_t *outlen)
{
    size_t n = prom_utf8_len(s);

    switch (*s) {
    case '\\':
        *out = "\\\\";
        *outlen = 2;
        return 1;
    case '"':
        *out = "\\\"";
        *outlen = 2;
        return 1;
    case '\n':
        *out = "\\n";
        *outlen = 2;
        return 1;
    default: break;
    }
    if (n == 0) {
        *out = "\xEF\xBF\xBD"; /* U+FFFD REPLACEMENT CHARACTER */
        *outlen = 3;
        return 1;
    }
    *out = s;
    *outlen = n;
    return n;
}

const char *prom_label(char *dst, size_t size, const char *s)
{
    size_t used = 0;

    dst[0] = '\0';
    while (s && *s) {
        const char *piece;
        size_t plen, in = next_piece(s, &piece, &plen);

        if (used + plen + 1 > size)
            break;
        memcpy(dst + used, piece, plen);
        used += plen;
        s += in;
    }
    dst[used] = '\0';
    return dst;
}

int prom_label_append(struct buf *b, const char *s)
{
    while (s && *s) {
        const char *piece;
        size_t plen, in = next_piece(s, &piece, &plen);

        if (buf_append(b, piece, plen))
            return -1;
        s += in;
    }
    return 0;
}
