/* dns.h -- the RFC 1123 name rules Kubernetes holds names to (a namespace is a label, an
 * object name or a label key's prefix a subdomain), one place for every layer. Pure. */
#ifndef BASE_DNS_H
#define BASE_DNS_H

#include <stdbool.h>
#include <stddef.h>

/* A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, 1..63 characters (the n bytes at s). */
bool dns_label_ok(const char *s, size_t n);

/* A DNS-1123 subdomain: dot-separated labels, 1..max characters in all (max <= 253). */
bool dns_subdomain_ok(const char *s, size_t n, size_t max);

#endif
