/* test_job_token.c -- base/job_token: HMAC-SHA256 against RFC 4231's vectors, a token made
 * for a uid checks for that uid only, under that key only, and every malformed or altered
 * token is refused. */
#include "base/job_token.h"
#include "base/sha256.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

static const unsigned char key_a[JOB_TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcdef";
static const unsigned char key_b[JOB_TOKEN_KEY_LEN] = "0123456789abcdef0123456789abcdeF";
static const char uid_x[] = "6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f";
static const char uid_y[] = "6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e50";

static void hex_of(const uint8_t *d, char *out)
{
    for (int i = 0; i < SHA256_LEN; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* RFC 4231 test cases 1, 2 and 6 (a key longer than the block is hashed first). */
START_TEST(hmac_known_answers)
{
    uint8_t mac[SHA256_LEN], key[131];
    char hex[2 * SHA256_LEN + 1];
    const char *big = "Test Using Larger Than Block-Size Key - Hash Key First";

    memset(key, 0x0b, 20);
    sha256_hmac(key, 20, "Hi There", 8, mac);
    hex_of(mac, hex);
    ck_assert_str_eq(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    sha256_hmac("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_of(mac, hex);
    ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, sizeof(key));
    sha256_hmac(key, sizeof(key), big, strlen(big), mac);
    hex_of(mac, hex);
    ck_assert_str_eq(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}
END_TEST

START_TEST(token_names_its_uid_and_checks)
{
    char tok[JOB_TOKEN_MAX], uid[JOB_TOKEN_UID_MAX + 1];

    job_token_make(key_a, uid_x, tok, sizeof(tok));
    ck_assert_int_eq(strncmp(tok, "fjt_", 4), 0);
    ck_assert_int_eq(strncmp(tok + 4, uid_x, strlen(uid_x)), 0);
    ck_assert_int_eq(tok[4 + strlen(uid_x)], '.');
    ck_assert_uint_eq(strlen(tok), 4 + strlen(uid_x) + 1 + 64);
    ck_assert(job_token_is(tok));
    ck_assert(job_token_check(key_a, tok, uid_x));
    ck_assert_int_eq(job_token_uid(tok, uid, sizeof(uid)), 0);
    ck_assert_str_eq(uid, uid_x);
    /* Deterministic: the scheduler and every replica make the same token. */
    {
        char again[JOB_TOKEN_MAX];

        job_token_make(key_a, uid_x, again, sizeof(again));
        ck_assert_str_eq(again, tok);
    }
}
END_TEST

START_TEST(token_for_x_never_checks_for_y)
{
    char tx[JOB_TOKEN_MAX], ty[JOB_TOKEN_MAX], swapped[2 * JOB_TOKEN_MAX];

    job_token_make(key_a, uid_x, tx, sizeof(tx));
    job_token_make(key_a, uid_y, ty, sizeof(ty));
    ck_assert_str_ne(tx, ty);
    ck_assert(!job_token_check(key_a, tx, uid_y));
    ck_assert(!job_token_check(key_a, ty, uid_x));
    /* X's MAC under Y's name: the MAC covers the uid. */
    snprintf(swapped, sizeof(swapped), "fjt_%s%s", uid_y, strchr(tx, '.'));
    ck_assert(!job_token_check(key_a, swapped, uid_y));
    /* A prefix or extension of the uid is another uid. */
    ck_assert(!job_token_check(key_a, tx, "6f1c2d9e"));
    ck_assert(!job_token_check(key_a, tx, ""));
    ck_assert(!job_token_check(key_a, tx, NULL));
}
END_TEST

START_TEST(another_key_refuses)
{
    char ta[JOB_TOKEN_MAX], tb[JOB_TOKEN_MAX];

    job_token_make(key_a, uid_x, ta, sizeof(ta));
    job_token_make(key_b, uid_x, tb, sizeof(tb));
    ck_assert_str_ne(ta, tb);
    ck_assert(!job_token_check(key_b, ta, uid_x));
    ck_assert(job_token_check(key_b, tb, uid_x));
}
END_TEST

/* Every single-character change of the MAC is refused (a forged token), and so is every
 * malformed shape. */
START_TEST(altered_and_malformed_tokens_refused)
{
    char tok[JOB_TOKEN_MAX], bad[2 * JOB_TOKEN_MAX], uid[JOB_TOKEN_UID_MAX + 1];
    size_t dot = 4 + strlen(uid_x);
    static const char *const malformed[] = {
        "",
        "fjt_",
        "fjt_.",
        "fst_6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f.00",
        "fjt_6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f",
        "fjt_6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f.",
        "fjt_6f1c2d9e-3b4a-4c5d-8e7f-0a1b2c3d4e5f.abc",
        "fjt_6F1C2D9E-3b4a-4c5d-8e7f-0a1b2c3d4e5f.0000000000000000000000000000000000000000000000"
        "000000000000000000",
        "fjt_a b.0000000000000000000000000000000000000000000000000000000000000000",
        "fjt_ab.000000000000000000000000000000000000000000000000000000000000000g",
        "fjt_ab.00000000000000000000000000000000000000000000000000000000000000 0",
    };

    job_token_make(key_a, uid_x, tok, sizeof(tok));
    for (size_t i = dot + 1; i < strlen(tok); i++) {
        snprintf(bad, sizeof(bad), "%s", tok);
        bad[i] = bad[i] == '0' ? '1' : '0';
        ck_assert_msg(!job_token_check(key_a, bad, uid_x), "changed at %zu checks", i);
    }
    /* Upper-case hex is not the form we make: refused rather than a second spelling. */
    snprintf(bad, sizeof(bad), "%s", tok);
    for (size_t i = dot + 1; bad[i]; i++)
        if (bad[i] >= 'a' && bad[i] <= 'f')
            bad[i] = (char)(bad[i] - 'a' + 'A');
    ck_assert(!job_token_check(key_a, bad, uid_x));
    /* One character more or less. */
    snprintf(bad, sizeof(bad), "%s0", tok);
    ck_assert(!job_token_check(key_a, bad, uid_x));
    snprintf(bad, sizeof(bad), "%.*s", (int)strlen(tok) - 1, tok);
    ck_assert(!job_token_check(key_a, bad, uid_x));
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        ck_assert_msg(!job_token_check(key_a, malformed[i], uid_x), "%s checks", malformed[i]);
        ck_assert_msg(job_token_uid(malformed[i], uid, sizeof(uid)) == -1, "%s parses",
                      malformed[i]);
    }
    ck_assert(!job_token_check(key_a, NULL, uid_x));
    ck_assert(!job_token_is("fst_abc"));
    ck_assert(!job_token_is(NULL));
}
END_TEST

START_TEST(bad_uids_make_no_token)
{
    char tok[JOB_TOKEN_MAX], uid[JOB_TOKEN_UID_MAX + 2];

    memset(uid, 'a', JOB_TOKEN_UID_MAX);
    uid[JOB_TOKEN_UID_MAX] = '\0';
    job_token_make(key_a, uid, tok, sizeof(tok)); /* the longest allowed */
    ck_assert(job_token_check(key_a, tok, uid));
    uid[JOB_TOKEN_UID_MAX] = 'a';
    uid[JOB_TOKEN_UID_MAX + 1] = '\0';
    job_token_make(key_a, uid, tok, sizeof(tok));
    ck_assert_str_eq(tok, "");
    job_token_make(key_a, "", tok, sizeof(tok));
    ck_assert_str_eq(tok, "");
    job_token_make(key_a, "a.b", tok, sizeof(tok));
    ck_assert_str_eq(tok, "");
    job_token_make(key_a, "A", tok, sizeof(tok));
    ck_assert_str_eq(tok, "");
    job_token_make(key_a, uid_x, tok, 40); /* too small */
    ck_assert_str_eq(tok, "");
    /* A uid that does not fit the caller's buffer is not copied. */
    job_token_make(key_a, uid_x, tok, sizeof(tok));
    ck_assert_int_eq(job_token_uid(tok, uid, 10), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("job_token");
    TCase *tc = tcase_create("job_token");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, hmac_known_answers);
    tcase_add_test(tc, token_names_its_uid_and_checks);
    tcase_add_test(tc, token_for_x_never_checks_for_y);
    tcase_add_test(tc, another_key_refuses);
    tcase_add_test(tc, altered_and_malformed_tokens_refused);
    tcase_add_test(tc, bad_uids_make_no_token);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
