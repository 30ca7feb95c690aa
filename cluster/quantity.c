/* quantity.c -- the Kubernetes quantity grammar: <signed number><suffix>. */
#include "cluster/quantity.h"

#include "base/err.h"

#include <stdbool.h>
#include <string.h>

/* 30 significant digits keep every intermediate below 2^127 even after the largest
 * multiplier we allow (2^60 or 10^21), so overflow is checked once, at the end. */
#define MANTISSA_DIGITS_MAX 30

typedef unsigned __int128 u128;

static int bad(struct err *e, const char *s, size_t len)
{
    return err_set(e, ERR_MALFORMED, "quantity", "invalid quantity \"%.*s\"",
                   (int)(len > 64 ? 64 : len), s);
}

/* Reads the suffix at s[0..len) into a power of two and a power of ten. */
static int parse_suffix(const char *s, size_t len, int *pow2, int *pow10)
{
    static const char dec[] = "kMGTPE";
    const char *p;

    *pow2 = 0;
    *pow10 = 0;
    if (len == 0)
        return 0;
    if (len == 1 && s[0] == 'm') {
        *pow10 = -3;
        return 0;
    }
    /* memchr, not strchr: strchr also finds the terminating NUL, which made "0\0" a valid
     * quantity and "1\0" an exa one. */
    if (len == 1 && (p = memchr(dec, s[0], sizeof(dec) - 1)) != NULL) {
        *pow10 = 3 * (int)(p - dec + 1);
        return 0;
    }
    if (len == 2 && s[1] == 'i' && s[0] != 'k' &&
        (p = memchr(dec, s[0], sizeof(dec) - 1)) != NULL) {
        *pow2 = 10 * (int)(p - dec + 1);
        return 0;
    }
    if (s[0] == 'K' && len == 2 && s[1] == 'i') {
        *pow2 = 10;
        return 0;
    }
    if (s[0] == 'e' || s[0] == 'E') {
        size_t i = 1;
        bool neg = false;
        int v = 0;

        if (i < len && (s[i] == '+' || s[i] == '-'))
            neg = s[i++] == '-';
        if (i == len)
            return -1;
        for (; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || v > 100)
                return -1;
            v = v * 10 + (s[i] - '0');
        }
        *pow10 = neg ? -v : v;
        return 0;
    }
    return -1;
}

int quantity_parse_milli(const char *s, size_t len, int64_t *out, struct err *e)
{
    size_t i = 0;
    bool neg = false, any = false;
    int frac = 0, pow2, pow10;
    size_t digits = 0; /* significant ones; counted past the limit, so not an int */
    u128 m = 0;

    if (!s)
        return bad(e, "", 0);
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    /* Too many digits is only known to mean "too large" once the rest of the text has
     * proved to be a quantity, so the digits are counted on and the verdict waits. */
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, any = true) {
        if (m == 0 && s[i] == '0')
            continue;
        if (++digits > MANTISSA_DIGITS_MAX)
            continue;
        m = m * 10 + (u128)(s[i] - '0');
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, any = true) {
            if (m == 0 && s[i] == '0') {
                frac++;
                continue;
            }
            frac++;
            if (++digits > MANTISSA_DIGITS_MAX)
                continue;
            m = m * 10 + (u128)(s[i] - '0');
        }
    }
    if (!any || parse_suffix(s + i, len - i, &pow2, &pow10) != 0)
        return bad(e, s, len);
    if (digits > MANTISSA_DIGITS_MAX)
        return err_set(e, ERR_TOO_LARGE, "quantity", "quantity \"%.*s\" has too many digits",
                       (int)(len > 64 ? 64 : len), s);

    pow10 += 3 - frac; /* milli-units, minus the digits after the point */
    /* m < 2^100, so a shift that would pass bit 127 needs 20 or more fraction digits to
     * come back into range; no real quantity looks like that, so it is refused. */
    if (m != 0 && (pow2 > 127 - 100 && (m >> (127 - pow2)) != 0))
        goto too_large;
    m <<= pow2;
    if (pow10 >= 0) {
        for (int k = 0; k < pow10; k++) {
            if (m > (u128)INT64_MAX)
                goto too_large;
            m *= 10;
        }
    } else {
        u128 div = 1;
        bool rest;

        if (pow10 < -38) {
            m = m != 0; /* anything non-zero rounds up to one milli-unit */
        } else {
            for (int k = 0; k < -pow10; k++)
                div *= 10;
            rest = m % div != 0;
            m /= div;
            if (rest && !neg)
                m++;
        }
    }
    if (m > (u128)INT64_MAX)
        goto too_large;
    *out = neg ? -(int64_t)m : (int64_t)m;
    return 0;
too_large:
    return err_set(e, ERR_TOO_LARGE, "quantity", "quantity \"%.*s\" is out of range",
                   (int)(len > 64 ? 64 : len), s);
}

int quantity_parse_value(const char *s, size_t len, int64_t *out, struct err *e)
{
    int64_t milli;

    if (quantity_parse_milli(s, len, &milli, e) != 0)
        return -1;
    /* Round towards +infinity, as Quantity.Value() does. */
    if (milli >= 0)
        *out = milli / 1000 + (milli % 1000 != 0);
    else
        *out = milli / 1000;
    return 0;
}
