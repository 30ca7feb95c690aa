/* utf8.h -- UTF-8 checks and the sanitiser for text that came from outside and goes
 * into JSON, logs or metrics. Not responsible for any other encoding. */
#ifndef BASE_UTF8_H
#define BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the well-formed UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one: stray continuation bytes, overlong forms, surrogates, code
 * points above U+10FFFF and sequences cut short all count as malformed. */
size_t utf8_seq_len(const char *s, size_t n);

/* Whether all n bytes of s are well-formed UTF-8. */
bool utf8_valid(const char *s, size_t n);

/* Copies the NUL-terminated src into dst (size > 0), writing each byte that is not part
 * of a well-formed sequence as the four characters \xNN, and stopping before a sequence
 * or escape that would not fit whole, so the result is always valid UTF-8 and never cut
 * mid-character. Returns the length written (without the NUL). */
size_t utf8_sanitize(char *dst, size_t size, const char *src);

#endif
