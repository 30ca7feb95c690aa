/* list_token.c -- continue tokens of the paginated lists: "1:<after>:<filter hash>", or
 * "2:<filter hash>:<name>" for lists keyed by name, in base64url. */
#include "api/list_token.h"

#include "base/num.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

uint64_t list_token_hash(uint64_t h, const char *s, unsigned char sep)
{
    h = hash_fnv1a(h, s ? s : "", s ? strlen(s) : 0);
    return hash_fnv1a(h, &sep, 1);
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* raw[0..n) as unpadded base64url into out (size bytes), cut short if it does not fit. */
static void b64_encode(const char *raw, size_t n, char *out, size_t size)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < size; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)raw[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)(unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

/* tok back into raw (size bytes, NUL-terminated); -1 when it is not base64url or too long. */
static int b64_decode(const char *tok, char *raw, size_t size)
{
    size_t n = 0, len = strlen(tok);
    uint32_t acc = 0;
    int bits = 0;

    if (len == 0 || len > size * 4 / 3 + 4)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *pos = strchr(b64url, tok[i]);

        if (!pos || !tok[i])
            return -1;
        acc = (acc << 6) | (uint32_t)(pos - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= size)
                return -1;
            raw[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    raw[n] = '\0';
    return memchr(raw, '\0', n) ? -1 : 0;
}

void list_token_encode(int64_t after, uint64_t hash, char *out, size_t size)
{
    char raw[64];
    int n = snprintf(raw, sizeof(raw), "1:%" PRId64 ":%016" PRIx64, after, hash);

    b64_encode(raw, (size_t)n, out, size);
}

int list_token_decode(const char *tok, uint64_t hash, int64_t *after)
{
    char raw[64], expect[24], *colon;

    if (b64_decode(tok, raw, sizeof(raw)))
        return -1;
    if (strncmp(raw, "1:", 2) != 0 || !(colon = strchr(raw + 2, ':')))
        return -1;
    *colon = '\0';
    snprintf(expect, sizeof(expect), "%016" PRIx64, hash);
    if (strcmp(colon + 1, expect) != 0 || num_parse_i64(raw + 2, 0, INT64_MAX, after))
        return -1;
    return 0;
}

void list_token_encode_name(const char *name, uint64_t hash, char *out, size_t size)
{
    char raw[LIST_TOKEN_NAME_MAX];
    int n = snprintf(raw, sizeof(raw), "2:%016" PRIx64 ":%s", hash, name);

    if (n < 0 || (size_t)n >= sizeof(raw)) {
        out[0] = '\0';
        return;
    }
    b64_encode(raw, (size_t)n, out, size);
}

int list_token_decode_name(const char *tok, uint64_t hash, char *name, size_t size)
{
    char raw[LIST_TOKEN_NAME_MAX], expect[24];
    size_t len;

    if (b64_decode(tok, raw, sizeof(raw)) || strncmp(raw, "2:", 2) != 0 ||
        strlen(raw) < 2 + 16 + 1 || raw[2 + 16] != ':')
        return -1;
    snprintf(expect, sizeof(expect), "%016" PRIx64, hash);
    if (strncmp(raw + 2, expect, 16) != 0)
        return -1;
    len = strlen(raw + 2 + 16 + 1);
    if (len == 0 || len >= size)
        return -1;
    memcpy(name, raw + 2 + 16 + 1, len + 1);
    return 0;
}
