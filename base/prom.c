/* prom.c -- escaping label values for the Prometheus text format (see prom.h). */
#include "base/prom.h"

#include "base/utf8.h"

#include <string.h>

/* The escaped form of the element at s: sets *out and *outlen and returns how many input
 * bytes it stands for. */
static size_t next_piece(const char *s, const char **out, size_t *outlen)
{
    size_t n = utf8_seq_len(s, strnlen(s, 4));

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
