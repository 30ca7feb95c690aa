/* buf.c -- capped growing buffers. */
#include "base/buf.h"

#include "base/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap;

    if (b->max && b->len + extra > b->max)
        return -1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int buf_url_escape(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (const unsigned char *p = (const unsigned char *)s; *p && rc == 0; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            rc = buf_append(b, p, 1);
        } else {
            const char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            rc = buf_append(b, esc, 3);
        }
    }
    return rc;
}

int buf_json_str(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    int rc = buf_append(b, "\"", 1);

    /* Copy runs of plain bytes at once; escape the rest. */
    for (; s && *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[7] = {'\\', (char)ch, 0};
        size_t n = 2;

        if (ch != '"' && ch != '\\' && ch >= 0x20)
            continue;
        rc = buf_append(b, run, (size_t)(s - run));
        if (ch < 0x20) {
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[ch >> 4];
            esc[5] = hex[ch & 15];
            n = 6;
        }
        rc = rc ? rc : buf_append(b, esc, n);
        run = s + 1;
    }
    if (rc == 0 && s)
        rc = buf_append(b, run, (size_t)(s - run));
    return rc ? rc : buf_append(b, "\"", 1);
}

char *buf_steal(struct buf *b)
{
    char *p = b->data;

    if (!p)
        p = xstrdup("");
    buf_init(b, b->max);
    return p;
}
