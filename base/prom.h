/* prom.h -- label values for the Prometheus text exposition format (0.0.4), shared by
 * every /metrics emitter (api/, cluster/, scheduler/).
 * Not responsible for bounding label cardinality: callers pick label values from fixed
 * sets or from admin-configured names, never from raw request data. */
#ifndef BASE_PROM_H
#define BASE_PROM_H

#include "base/buf.h"

#include <stddef.h>

/* Room for any label value we emit: 64-byte names, escaped, with margin. */
#define PROM_LABEL_MAX 256

/* Writes s into dst (size bytes, NUL-terminated) as the inside of a quoted label value:
 * backslash, double quote and newline become \\, \" and \n, as the format requires, and
 * every byte that is not part of a well-formed UTF-8 sequence (a stray continuation, an
 * overlong form, a surrogate, a character cut short) becomes U+FFFD. When dst is too
 * small the value is cut before the first character or escape that does not fit, never
 * inside one. NULL s gives "". Returns dst, so it can feed a %s directly. size must be
 * at least 1. Thread-safe; no allocation. */
const char *prom_label(char *dst, size_t size, const char *s);

/* Appends s to b escaped as prom_label() does, without a length limit. Returns 0, or -1
 * when b's cap is reached (b then holds part of the value). */
int prom_label_append(struct buf *b, const char *s);

#endif
