/* hash.c -- FNV-1a (Fowler, Noll, Vo), 64-bit offset basis and prime; splitmix64. */
#include "base/hash.h"

#include <string.h>

uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

uint64_t hash_fnv1a_str(const char *s)
{
    return hash_fnv1a(HASH_FNV1A_BASIS, s, strlen(s));
}

uint64_t hash_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
