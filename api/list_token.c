/* list_token.c -- continue tokens of the paginated lists: "1:<after>:<filter hash>" in
 * base64url. */
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

void list_token_encode(int64_t after, uint64_t hash, char *out, size_t size)
{
    char raw[64];
    size_t n = (size_t)snprintf(raw, sizeof(raw), "1:%" PRId64 ":%016" PRIx64, after, hash);
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

int list_token_decode(const char *tok, uint64_t hash, int64_t *after)
{
    char raw[64];
    size_t n = 0, len = strlen(tok);
    uint32_t acc = 0;
    int bits = 0;
    char *colon;
    char expect[24];

    if (len == 0 || len > 80)
        return -1;
    for (size_t i = 0; i < len; i++) {
        const char *pos = strchr(b64url, tok[i]);

        if (!pos || !tok[i])
            return -1;
        acc = (acc << 6) | (uint32_t)(pos - b64url);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= sizeof(raw))
                return -1;
            raw[n++] = (char)((acc >> bits) & 0xff);
        }
    }
    raw[n] = '\0';
    if (strncmp(raw, "1:", 2) != 0 || !(colon = strchr(raw + 2, ':')))
        return -1;
    *colon = '\0';
    snprintf(expect, sizeof(expect), "%016" PRIx64, hash);
    if (strcmp(colon + 1, expect) != 0 || num_parse_i64(raw + 2, 0, INT64_MAX, after))
        return -1;
    return 0;
}
