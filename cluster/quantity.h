/* quantity.h -- Kubernetes resource quantities ("8", "1500m", "64Gi", "2113389372Ki",
 * "1e3") parsed into integers.
 * Not responsible for knowing which resource a quantity belongs to (k8s.c does). */
#ifndef CLUSTER_QUANTITY_H
#define CLUSTER_QUANTITY_H

#include <stddef.h>
#include <stdint.h>

struct err;

/* Parses the len bytes at s (no NUL needed) as a quantity and writes its value in
 * thousandths of a unit ("1500m" -> 1500, "2" -> 2000, "1Ki" -> 1024000). Sub-milli
 * fractions round up, as the API server's MilliValue() does. Suffixes: m k M G T P E,
 * Ki Mi Gi Ti Pi Ei, and e/E exponents. Pure; thread-safe.
 * Fails with ERR_MALFORMED (not a quantity) or ERR_TOO_LARGE (beyond int64 milli-units);
 * *out is written only on success. */
int quantity_parse_milli(const char *s, size_t len, int64_t *out, struct err *e);

/* Like quantity_parse_milli() but in whole units, rounding up ("1500m" -> 2), which is
 * what Quantity.Value() returns. */
int quantity_parse_value(const char *s, size_t len, int64_t *out, struct err *e);

#endif
