/* job_token.c -- checkpoint tokens: make one for a job's uid, parse and check one. The HMAC
 * is taken over a fixed context string and the uid, so the key signs nothing else by
 * accident; the uid travels in clear (it is no secret, and the API needs it to find the
 * job). Not responsible for the key or for what a token may do. */
#include "base/job_token.h"

#include "base/sha256.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define PREFIX_LEN  (sizeof(JOB_TOKEN_PREFIX) - 1)
#define MAC_HEX_LEN (2 * SHA256_LEN)
#define CONTEXT     "fedsched job token v1\n"

/* A uid we sign: what PostgreSQL's uuid text form is made of, and not too long. Returns its
 * length, or 0 when it is not one. */
static size_t uid_len(const char *uid, size_t max_scan)
{
    size_t n = 0;

    while (n < max_scan && uid[n] && uid[n] != '.') {
        char c = uid[n];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
            return 0;
        n++;
    }
    return n <= JOB_TOKEN_UID_MAX ? n : 0;
}

static void mac_of(const unsigned char key[JOB_TOKEN_KEY_LEN], const char *uid, size_t len,
                   uint8_t mac[SHA256_LEN])
{
    char msg[sizeof(CONTEXT) + JOB_TOKEN_UID_MAX];

    memcpy(msg, CONTEXT, sizeof(CONTEXT) - 1);
    memcpy(msg + sizeof(CONTEXT) - 1, uid, len);
    sha256_hmac(key, JOB_TOKEN_KEY_LEN, msg, sizeof(CONTEXT) - 1 + len, mac);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

void job_token_make(const unsigned char key[JOB_TOKEN_KEY_LEN], const char *uid, char *out,
                    size_t size)
{
    static const char digits[] = "0123456789abcdef";
    size_t len = uid ? uid_len(uid, JOB_TOKEN_UID_MAX + 1) : 0;
    uint8_t mac[SHA256_LEN];
    char hex[MAC_HEX_LEN + 1];

    if (!out || size == 0)
        return;
    out[0] = '\0';
    if (len == 0 || uid[len] != '\0' || size < PREFIX_LEN + len + 1 + MAC_HEX_LEN + 1)
        return;
    mac_of(key, uid, len, mac);
    for (int i = 0; i < SHA256_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[MAC_HEX_LEN] = '\0';
    snprintf(out, size, "%s%.*s.%s", JOB_TOKEN_PREFIX, (int)len, uid, hex);
}

bool job_token_is(const char *token)
{
    return token && strncmp(token, JOB_TOKEN_PREFIX, PREFIX_LEN) == 0;
}

/* Splits a token into its uid (start and length) and MAC bytes; -1 when malformed. */
static int parse(const char *token, const char **uid, size_t *len, uint8_t mac[SHA256_LEN])
{
    const char *hex;

    if (!job_token_is(token))
        return -1;
    *uid = token + PREFIX_LEN;
    *len = uid_len(*uid, JOB_TOKEN_UID_MAX + 1);
    if (*len == 0 || (*uid)[*len] != '.')
        return -1;
    hex = *uid + *len + 1;
    if (strlen(hex) != MAC_HEX_LEN)
        return -1;
    for (int i = 0; i < SHA256_LEN; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

bool job_token_check(const unsigned char key[JOB_TOKEN_KEY_LEN], const char *token, const char *uid)
{
    uint8_t got[SHA256_LEN], want[SHA256_LEN], diff = 0;
    const char *named;
    size_t len;

    if (!uid || parse(token, &named, &len, got))
        return false;
    if (strlen(uid) != len || memcmp(named, uid, len) != 0)
        return false;
    mac_of(key, named, len, want);
    /* Every byte is compared whatever the first difference, so the time taken does not
     * tell a forger how much of a MAC was right. */
    for (int i = 0; i < SHA256_LEN; i++)
        diff |= (uint8_t)(got[i] ^ want[i]);
    return diff == 0;
}

int job_token_uid(const char *token, char *out, size_t size)
{
    uint8_t mac[SHA256_LEN];
    const char *uid;
    size_t len;

    if (parse(token, &uid, &len, mac) || len + 1 > size)
        return -1;
    memcpy(out, uid, len);
    out[len] = '\0';
    return 0;
}
