/* num.h -- checked conversions from text; the replacement for atoi and friends. */
#ifndef BASE_NUM_H
#define BASE_NUM_H

#include <stdint.h>

/* Parses a whole decimal integer in [min, max] that fills all of s.
 * Returns 0 and writes *out, or -1 (nothing written). */
int num_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Value of one hexadecimal digit (0..15), or -1 when c is none. */
int num_hex_digit(char c);

/* Parses a finite decimal number that fills all of s. Returns 0 or -1. */
int num_parse_double(const char *s, double *out);

#endif
