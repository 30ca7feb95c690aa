/* dns.c -- RFC 1123 labels and subdomains (see dns.h). */
#include "base/dns.h"

static bool lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool dns_label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!lower_alnum(s[i]) && s[i] != '-')
            return false;
    return true;
}

bool dns_subdomain_ok(const char *s, size_t n, size_t max)
{
    size_t start = 0;

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '.')
            continue;
        if (!dns_label_ok(s + start, i - start))
            return false;
        start = i + 1;
    }
    return true;
}
