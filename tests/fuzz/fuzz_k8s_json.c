/* fuzz_k8s_json.c -- libFuzzer target for the token-array JSON reader under the NodeList and
 * PodList parsers (cluster/k8s_json.h), and for the Status reader that shares it. After a
 * successful parse it walks every token and checks the structure the lookups rely on: each
 * value's `next` lies after it and inside its parent, a container's children number exactly
 * `count`, strings decode to the length measured, and every key is found again by name. */
#include "base/err.h"
#include "cluster/k8s.h"
#include "cluster/k8s_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t tok)
{
    fprintf(stderr, "fuzz_k8s_json: %s (token %zu)\n", what, tok);
    abort();
}

static void check_string(const struct k8s_json *d, int t)
{
    char buf[600];
    long n = k8s_json_str(d, t, NULL, 0);
    long m = k8s_json_str(d, t, buf, sizeof(buf));

    if (n < 0 || n != m)
        fail("measured and copied string lengths differ", (size_t)t);
    if (n > (long)d->toks[t].len)
        fail("decoded string longer than its raw text", (size_t)t);
    /* Keys are looked up by their decoded text; a NUL inside cannot be asked for. */
    if ((size_t)n < sizeof(buf) - 1 && (size_t)n == strlen(buf) && n < 511 &&
        !k8s_json_str_eq(d, t, buf))
        fail("a string does not equal its own decoded text", (size_t)t);
}

static void check_container(const struct k8s_json *d, int t)
{
    const struct k8s_json_tok *p = &d->toks[t];
    uint32_t seen = 0;
    int last = -1;

    for (int c = k8s_json_child(d, t); c >= 0; c = k8s_json_next(d, t, c)) {
        if (c <= t || (uint32_t)c >= p->next)
            fail("child outside its parent", (size_t)t);
        if (p->type == K8S_JSON_OBJECT) {
            char key[600];
            long n;
            int v;

            if (d->toks[c].type != K8S_JSON_STRING)
                fail("object key is not a string", (size_t)c);
            n = k8s_json_str(d, c, key, sizeof(key));
            v = k8s_json_get(d, t, key);
            /* The first member with this name wins, so v may precede c + 1, never follow. */
            if ((size_t)n == strlen(key) && n < 511 && (v < 0 || v > c + 1))
                fail("a key is not found by its own name", (size_t)c);
        }
        last = c;
        if (++seen > p->count)
            break;
    }
    if (seen != p->count)
        fail("walk and count disagree", (size_t)t);
    if (last >= 0) {
        uint32_t end = p->type == K8S_JSON_OBJECT ? d->toks[last + 1].next : d->toks[last].next;

        if (end != p->next)
            fail("last child does not end where its parent does", (size_t)t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct k8s_json d;
    struct k8s_status st;
    struct err e = {0};
    int64_t v;
    size_t raw_len;

    k8s_json_init(&d);
    if (k8s_json_parse(&d, s, size, 0, &e) != 0) {
        if (d.n != 0)
            fail("tokens left after a failed parse", d.n);
        if (e.code != ERR_MALFORMED && e.code != ERR_TOO_LARGE)
            fail("failure with an unexpected error code", 0);
        goto status;
    }
    if (d.n == 0 || d.toks[0].next != d.n)
        fail("root does not span the document", 0);
    for (size_t i = 0; i < d.n; i++) {
        const struct k8s_json_tok *t = &d.toks[i];

        if (t->next <= i || t->next > d.n)
            fail("next out of range", i);
        if ((size_t)t->start + t->len > size)
            fail("token runs past the input", i);
        if (k8s_json_raw(&d, (int)i, &raw_len) != s + t->start || raw_len != t->len)
            fail("raw bytes do not match the token", i);
        (void)k8s_json_int(&d, (int)i, INT64_MIN, INT64_MAX, &v);
        (void)k8s_json_true(&d, (int)i);
        if (t->type == K8S_JSON_STRING)
            check_string(&d, (int)i);
        else if (t->type == K8S_JSON_OBJECT || t->type == K8S_JSON_ARRAY)
            check_container(&d, (int)i);
        else if (t->next != i + 1)
            fail("scalar with children", i);
    }
status:
    /* A Status body goes through the same reader; the result must always be printable. */
    k8s_status_read(s, size, 0, &st);
    if (!memchr(st.reason, '\0', sizeof(st.reason)) || !st.reason[0] ||
        !memchr(st.message, '\0', sizeof(st.message)))
        fail("status strings not terminated", 0);
    (void)k8s_status_code(&st);
    k8s_json_free(&d);
    return 0;
}
