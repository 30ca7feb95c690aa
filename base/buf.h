/* buf.h -- a growing byte buffer with a hard cap, so a hostile peer cannot make us
 * allocate without bound. Always NUL-terminated after any successful append. */
#ifndef BASE_BUF_H
#define BASE_BUF_H

#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* 0 means unlimited (only for data we produce ourselves) */
};

void buf_init(struct buf *b, size_t max);
void buf_free(struct buf *b);  /* releases data; b may be reused after buf_init */
void buf_reset(struct buf *b); /* len = 0, keeps memory */

/* Appends n bytes. Returns 0, or -1 (buffer unchanged) when max would be exceeded. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends s as a quoted JSON string ("" for NULL): quote, backslash and control
 * characters escaped, other bytes copied (the caller makes sure s is valid UTF-8). */
int buf_json_str(struct buf *b, const char *s);

/* Appends s percent-encoded for a URL's query value: RFC 3986 unreserved bytes
 * (letters, digits, "-._~") kept, every other byte as %XX. */
int buf_url_escape(struct buf *b, const char *s);

/* Hands the data to the caller (who frees it) and re-initialises b. */
char *buf_steal(struct buf *b);

#endif
