/* hash.h -- FNV-1a, 64 bits: the one non-cryptographic hash of the project (hash tables,
 * list tokens, label hashes). Not for anything an attacker may steer into collisions on
 * purpose where that would cost more than a longer probe. And splitmix64, the mixer that
 * seeds and steps the reproducible random draws of the what-if harness and the policy's
 * rehearsal. */
#ifndef BASE_HASH_H
#define BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_FNV1A_BASIS 1469598103934665603ULL

/* h extended with the n bytes at p; start from HASH_FNV1A_BASIS. */
uint64_t hash_fnv1a(uint64_t h, const void *p, size_t n);

/* The hash of the string s, from HASH_FNV1A_BASIS. */
uint64_t hash_fnv1a_str(const char *s);

/* splitmix64 (Steele, Lea, Flood): advances *state and returns the next of its well-mixed
 * outputs; the same state gives the same sequence on every platform. */
uint64_t hash_splitmix64(uint64_t *state);

#endif
