/* fuzz_promq.c -- libFuzzer target for the demand query's reader (cluster/promq.h). The
 * first byte picks the HTTP status (200, 400, 422, 503 or 502); the rest is the body. Besides
 * memory safety it checks what holds for every input: only PROMQ_OK carries a figure, and
 * that figure is finite, not negative and evaluated within the allowed age; every other
 * result has none and says why in valid UTF-8 free of control characters. */
#include "base/utf8.h"
#include "cluster/promq.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1764748800000LL
#define AGE_MS 120000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 400, 422, 503, 502};
    struct promq_answer a;
    long status;
    char *body;

    if (size == 0)
        return 0;
    status = statuses[data[0] % 5];
    /* A copy of exactly the body's bytes, so that a read past its end is caught. */
    body = malloc(size - 1 ? size - 1 : 1);
    memcpy(body, data + 1, size - 1);
    promq_parse(status, body, size - 1, NOW_MS, AGE_MS, &a);
    if (a.result == PROMQ_OK) {
        if (!isfinite(a.value) || a.value < 0 || a.at_ms < NOW_MS - AGE_MS ||
            a.at_ms > NOW_MS + AGE_MS || a.error[0] || status != 200)
            abort();
    } else {
        if (a.value != 0 || a.at_ms != 0 || !a.error[0] || a.result >= PROMQ_RESULTS)
            abort();
    }
    if (!utf8_valid(a.error, strlen(a.error)))
        abort();
    for (const char *p = a.error; *p; p++)
        if ((unsigned char)*p < ' ')
            abort();
    free(body);
    return 0;
}
