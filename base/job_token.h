/* job_token.h -- checkpoint tokens: a bearer token that names one TrainingJob by its uid and
 * carries an HMAC-SHA256 of that uid under the installation's key, so the API can check it
 * without storing it. Form: "fjt_" <uid> "." <64 lowercase hex digits of the HMAC>.
 * Not responsible for the key (store_job_token_key() keeps it in PostgreSQL) nor for what
 * such a token may do (api/access.c: POST that job's checkpoint, nothing else). */
#ifndef BASE_JOB_TOKEN_H
#define BASE_JOB_TOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define JOB_TOKEN_KEY_LEN 32
#define JOB_TOKEN_PREFIX  "fjt_"
#define JOB_TOKEN_UID_MAX 64 /* longest uid a token may name; fedsched's are 36 (UUIDs) */
/* Bytes a token and its NUL need at most: prefix, uid, '.', 64 hex digits, NUL. */
#define JOB_TOKEN_MAX (4 + JOB_TOKEN_UID_MAX + 1 + 64 + 1)

/* Writes the token of the job with this uid into out (size bytes; JOB_TOKEN_MAX are
 * enough). A uid that is empty, longer than JOB_TOKEN_UID_MAX or holds anything but
 * lowercase letters, digits and '-', or a size too small, writes "" (which never
 * checks). Thread-safe. */
void job_token_make(const unsigned char key[JOB_TOKEN_KEY_LEN], const char *uid, char *out,
                    size_t size);

/* True when token is well formed, names exactly uid, and its HMAC is the one key gives
 * (compared in constant time). A token for uid X is never true for uid Y. */
bool job_token_check(const unsigned char key[JOB_TOKEN_KEY_LEN], const char *token,
                     const char *uid);

/* True when token starts with JOB_TOKEN_PREFIX: it is meant as a job token, whatever the
 * rest (so a caller never tries it as another kind of token). */
bool job_token_is(const char *token);

/* Copies the uid a well-formed token names into out (size bytes). Says nothing about the
 * HMAC: check it with job_token_check(). Returns -1 (out untouched) when token is
 * malformed or the uid does not fit. */
int job_token_uid(const char *token, char *out, size_t size);

#endif
