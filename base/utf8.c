/* utf8.c -- UTF-8 checks and sanitising, following RFC 3629's well-formed byte table. */
#include "base/utf8.h"

#include <stdio.h>

size_t utf8_seq_len(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;

    if (n == 0)
        return 0;
    if (u[0] < 0x80)
        return 1;
    if (u[0] >= 0xC2 && u[0] <= 0xDF)
        len = 2;
    else if (u[0] >= 0xE0 && u[0] <= 0xEF)
        len = 3;
    else if (u[0] >= 0xF0 && u[0] <= 0xF4)
        len = 4;
    else
        return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
    /* The second byte's range excludes overlongs, surrogates and values past U+10FFFF. */
    if (u[0] == 0xE0)
        lo = 0xA0;
    else if (u[0] == 0xED)
        hi = 0x9F;
    else if (u[0] == 0xF0)
        lo = 0x90;
    else if (u[0] == 0xF4)
        hi = 0x8F;
    if (n < len || u[1] < lo || u[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (u[i] < 0x80 || u[i] > 0xBF)
            return 0;
    return len;
}

bool utf8_valid(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t len = utf8_seq_len(s + i, n - i);

        if (!len)
            return false;
        i += len;
    }
    return true;
}

size_t utf8_sanitize(char *dst, size_t size, const char *src)
{
    size_t in = 0, out = 0, n = 0;

    while (src[n])
        n++;
    while (in < n) {
        size_t len = utf8_seq_len(src + in, n - in);

        if (len) {
            if (out + len >= size)
                break;
            for (size_t i = 0; i < len; i++)
                dst[out++] = src[in + i];
            in += len;
        } else {
            if (out + 4 >= size)
                break;
            snprintf(dst + out, 5, "\\x%02X", (unsigned char)src[in]);
            out += 4;
            in++;
        }
    }
    dst[out] = '\0';
    return out;
}
