/* k8s_json.h -- a fast, allocation-light JSON reader for large Kubernetes list bodies.
 * One pass turns the text into a flat array of tokens that point into the caller's buffer;
 * lookups walk that array without building a tree. A NodeList of 100 nodes parses about
 * ten times faster than with jansson, which is what lets one poller keep up with 1,000
 * clusters. Strict RFC 8259 structure (no trailing commas, no comments); strings are
 * decoded on demand.
 * Not responsible for writing JSON or for small documents (jansson does those). */
#ifndef CLUSTER_K8S_JSON_H
#define CLUSTER_K8S_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct err;

enum k8s_json_type {
    K8S_JSON_OBJECT = 1,
    K8S_JSON_ARRAY,
    K8S_JSON_STRING,
    K8S_JSON_NUMBER,
    K8S_JSON_TRUE,
    K8S_JSON_FALSE,
    K8S_JSON_NULL,
};

/* One value. Objects hold 2*count children (key, value, key, value ...). */
struct k8s_json_tok {
    uint32_t start;  /* byte offset; strings: first byte after the opening quote */
    uint32_t len;    /* bytes; strings: raw length between the quotes, escapes undecoded */
    uint32_t next;   /* index of the first token after this value and all it contains */
    uint32_t count;  /* members of an object, elements of an array, else 0 */
    uint8_t type;    /* enum k8s_json_type */
    uint8_t escaped; /* string contains a backslash escape */
};

/* A parsed document. It borrows the text: keep the buffer alive and unchanged while the
 * document is used. One thread at a time; reuse across parses keeps the token array. */
struct k8s_json {
    const char *src;
    struct k8s_json_tok *toks;
    size_t n;
    size_t cap;
};

#define K8S_JSON_MAX_BYTES ((size_t)1 << 30)
#define K8S_JSON_MAX_DEPTH 64

void k8s_json_init(struct k8s_json *d);
void k8s_json_free(struct k8s_json *d); /* releases the token array; d may be reused */

/* Parses len bytes at s (NUL not needed). The root is token 0. Fails with ERR_MALFORMED
 * (message gives the byte offset) or ERR_TOO_LARGE (over K8S_JSON_MAX_BYTES or nested
 * deeper than max_depth, which is capped at K8S_JSON_MAX_DEPTH). On failure d holds no
 * document (n == 0). */
int k8s_json_parse(struct k8s_json *d, const char *s, size_t len, int max_depth, struct err *e);

/* Member key of object token obj, or -1 when obj is not an object or has no such key. */
int k8s_json_get(const struct k8s_json *d, int obj, const char *key);

/* Follows a chain of keys ended by K8S_JSON_END: k8s_json_path(d, t, "status",
 * "allocatable", K8S_JSON_END). -1 when any step is missing or tok is -1. */
#define K8S_JSON_END ((const char *)NULL) /* a typed NULL: safe through varargs */
int k8s_json_path(const struct k8s_json *d, int tok, ...);

/* Iteration. For arrays, child(d, a) is the first element and next(d, a, c) the one after
 * c; for objects they step over keys (the value of key k is k + 1). -1 ends the walk. */
int k8s_json_child(const struct k8s_json *d, int tok);
int k8s_json_next(const struct k8s_json *d, int parent, int child);

int k8s_json_type(const struct k8s_json *d, int tok); /* 0 when tok is -1 */

/* True when tok is a string whose decoded value equals s. */
bool k8s_json_str_eq(const struct k8s_json *d, int tok, const char *s);

/* Copies the decoded string tok into out (always NUL-terminated when size > 0) and returns
 * the full decoded length, which may exceed size - 1 (then out is truncated). Returns -1
 * when tok is not a string. */
long k8s_json_str(const struct k8s_json *d, int tok, char *out, size_t size);

/* Raw bytes of tok (for strings without escapes and numbers: the value itself). */
const char *k8s_json_raw(const struct k8s_json *d, int tok, size_t *len);

/* Whole-number value of a NUMBER token, or of a STRING token holding digits (labels such
 * as "nvidia.com/gpu.memory": "81559"). Returns 0, or -1 when absent or not an integer
 * within [min, max]. */
int k8s_json_int(const struct k8s_json *d, int tok, int64_t min, int64_t max, int64_t *out);

/* True for the JSON literal true, false otherwise (absent, false, other types). */
bool k8s_json_true(const struct k8s_json *d, int tok);

#endif
