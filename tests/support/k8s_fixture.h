/* k8s_fixture.h -- test helper: read files under testdata/ (found through $FEDSCHED_SRC,
 * else the current directory). Aborts the test on failure. No main. */
#ifndef TESTS_SUPPORT_K8S_FIXTURE_H
#define TESTS_SUPPORT_K8S_FIXTURE_H

#include <stddef.h>

/* Reads testdata/<rel> whole; caller frees. *len gets the size (may be NULL). */
char *k8s_fixture_read(const char *rel, size_t *len);

/* Absolute-or-relative path of testdata/<rel> in out. */
void k8s_fixture_path(const char *rel, char *out, size_t size);

#endif
