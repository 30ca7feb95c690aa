/* k8s_fixture.c -- reading testdata files for the cluster/ and sim/ tests. */
#include "tests/support/k8s_fixture.h"

#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>

void k8s_fixture_path(const char *rel, char *out, size_t size)
{
    const char *src = getenv("FEDSCHED_SRC");

    snprintf(out, size, "%s/testdata/%s", src && *src ? src : ".", rel);
}

char *k8s_fixture_read(const char *rel, size_t *len)
{
    char path[1024];
    FILE *f;
    char *data;
    long n;

    k8s_fixture_path(rel, path, sizeof(path));
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fixture %s: cannot open\n", path);
        abort();
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "fixture %s: cannot size\n", path);
        abort();
    }
    data = xmalloc((size_t)n + 1);
    if (fread(data, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "fixture %s: short read\n", path);
        abort();
    }
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}
