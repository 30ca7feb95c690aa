/* fuzz_quantity.c -- libFuzzer target for the Kubernetes quantity parser (cluster/quantity.h).
 * Besides memory safety it checks three properties that hold for every input: an accepted
 * quantity matches the grammar (checked by an independent recogniser below), the whole-unit
 * value is the milli value rounded up, and failures leave the output untouched and say why
 * with ERR_MALFORMED or ERR_TOO_LARGE. */
#include "base/err.h"
#include "cluster/quantity.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The grammar of k8s.io/apimachinery/pkg/api/resource, written out independently of the
 * parser: sign? (digits ('.' digits?)? | '.' digits) suffix, where suffix is empty, one of
 * m k M G T P E, one of Ki Mi Gi Ti Pi Ei, or e|E sign? digits. */
static bool grammar_ok(const char *s, size_t n)
{
    static const char *const binary[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    size_t i = 0, int_digits = 0, frac_digits = 0;
    const char *suf;
    size_t sn;

    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    for (; i < n && digit(s[i]); i++)
        int_digits++;
    if (i < n && s[i] == '.')
        for (i++; i < n && digit(s[i]); i++)
            frac_digits++;
    if (int_digits + frac_digits == 0)
        return false;
    suf = s + i;
    sn = n - i;
    if (sn == 0)
        return true;
    if (sn == 1)
        return memchr("mkMGTPE", suf[0], 7) != NULL;
    if (sn == 2)
        for (size_t k = 0; k < sizeof(binary) / sizeof(binary[0]); k++)
            if (memcmp(suf, binary[k], 2) == 0)
                return true;
    if (suf[0] != 'e' && suf[0] != 'E')
        return false;
    i = 1;
    if (i < sn && (suf[i] == '+' || suf[i] == '-'))
        i++;
    if (i == sn)
        return false;
    for (; i < sn; i++)
        if (!digit(suf[i]))
            return false;
    return true;
}

static void fail(const char *what, const uint8_t *data, size_t size)
{
    fprintf(stderr, "fuzz_quantity: %s for input \"", what);
    for (size_t i = 0; i < size; i++)
        fprintf(stderr, data[i] >= 0x20 && data[i] < 0x7f ? "%c" : "\\x%02x", data[i]);
    fprintf(stderr, "\"\n");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const int64_t untouched = INT64_MIN + 7;
    int64_t milli = untouched, value = untouched;
    struct err em = {0}, ev = {0};
    int rm, rv;

    rm = quantity_parse_milli(s, size, &milli, &em);
    rv = quantity_parse_value(s, size, &value, &ev);
    if (rm != rv)
        fail("milli and value parsers disagree on success", data, size);
    if (rm != 0) {
        if (milli != untouched || value != untouched)
            fail("output written on failure", data, size);
        if (em.code != ERR_MALFORMED && em.code != ERR_TOO_LARGE)
            fail("failure with an unexpected error code", data, size);
        if (!grammar_ok(s, size) && em.code != ERR_MALFORMED)
            fail("a string outside the grammar failed as something other than malformed", data,
                 size);
        if (!memchr(em.msg, '\0', sizeof(em.msg)) || !em.msg[0])
            fail("failure without a message", data, size);
        return 0;
    }
    if (!grammar_ok(s, size))
        fail("accepted a string outside the quantity grammar", data, size);
    /* Value() rounds towards +infinity; C division truncates towards zero, which is already
     * upwards for negative numbers. */
    if (value != milli / 1000 + (milli > 0 && milli % 1000 != 0))
        fail("value is not the milli value rounded up", data, size);
    return 0;
}
