/* list_token.h -- the opaque continue token of keyset-paginated lists (GET
 * /v1/trainingjobs, GET /v1/reclaims; GET /v1/clusters/{name}/nodes by name): the last id
 * (or name) of a page bound to a hash of the filters it was issued for, so a token replayed
 * with other filters is refused instead of silently skipping rows. Pure; no allocation. */
#ifndef API_LIST_TOKEN_H
#define API_LIST_TOKEN_H

#include "base/hash.h"

#include <stddef.h>
#include <stdint.h>

#define LIST_TOKEN_HASH_INIT HASH_FNV1A_BASIS

/* Folds s (NULL counts as "") and then the separator byte sep into the FNV-1a hash h. */
uint64_t list_token_hash(uint64_t h, const char *s, unsigned char sep);

/* Writes the token of (after, hash) as base64url text into out (size bytes; 128 is
 * plenty). */
void list_token_encode(int64_t after, uint64_t hash, char *out, size_t size);

/* Reads a token back into *after; -1 when it is not one of ours or was issued for another
 * hash (other filters). */
int list_token_decode(const char *tok, uint64_t hash, int64_t *after);

/* The same for a list keyed by name (GET /v1/clusters/{name}/nodes: the last node of a
 * page). out needs LIST_TOKEN_NAME_MAX * 4 / 3 + 8 bytes; a name too long for a token gives
 * an empty one. */
#define LIST_TOKEN_NAME_MAX 300
void list_token_encode_name(const char *name, uint64_t hash, char *out, size_t size);

/* Reads a name token back into name (size bytes); -1 when it is not one of ours, was issued
 * for another hash, or its name does not fit. */
int list_token_decode_name(const char *tok, uint64_t hash, char *name, size_t size);

#endif
