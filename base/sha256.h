/* sha256.h -- SHA-256 (FIPS 180-4), for hashing API tokens before they are stored or
 * compared. Not a general crypto library: no HMAC, no streaming beyond what tokens need. */
#ifndef BASE_SHA256_H
#define BASE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

/* Writes the digest of data[0..len) into out. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

/* Writes the digest as 64 lowercase hex characters and a NUL into hex. */
void sha256_hex(const void *data, size_t len, char hex[2 * SHA256_LEN + 1]);

#endif
