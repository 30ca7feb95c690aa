/* sha256.h -- SHA-256 (FIPS 180-4), for hashing API tokens before they are stored or
 * compared, and HMAC-SHA256 (RFC 2104) for the checkpoint tokens of base/job_token.h.
 * Not a general crypto library: no streaming beyond what tokens need. */
#ifndef BASE_SHA256_H
#define BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* Writes the digest of data[0..len) into out. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Writes the digest as 64 lowercase hex characters and a NUL into hex. */
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_LEN + 1]);

/* Writes HMAC-SHA256(key, data) (RFC 2104) into out. A key longer than the 64-byte block
 * is hashed first, as the RFC says. Copies data once (aborts on out-of-memory). */
void sha256_hmac(const void *key, size_t key_len, const void *data, size_t len,
                 uint8_t out[SHA256_LEN]);

#endif
