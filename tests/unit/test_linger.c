/* test_linger.c -- the lingering close over loopback TCP: a client still sending after
 * the server's answer and FIN has every byte taken, and the socket is closed at the
 * client's EOF, after the idle limit, past the byte limit, and at linger_stop(); past
 * max_socks a socket is refused. */
#include "api/linger.h"

#include "base/clock.h"
#include "base/mem.h"
#include "tests/support/itest.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A connected loopback pair: *client and *server. */
static void tcp_pair(int *client, int *server)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &alen), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_eq(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
    *server = accept(lfd, NULL, NULL);
    ck_assert_int_ge(*server, 0);
    close(lfd);
}

/* As libmicrohttpd ends a connection answered early: FIN, the lingerer's duplicate, and
 * the close of its own descriptor. */
static void hand_over(struct linger *l, int server)
{
    shutdown(server, SHUT_WR);
    ck_assert_int_eq(linger_add(l, server), 0);
    close(server);
}

/* Waits up to 2 s for l to hold n sockets. */
static void wait_count(struct linger *l, int n)
{
    int64_t until = clock_mono_ms() + 2000;

    while (linger_count(l) != n && clock_mono_ms() < until)
        usleep(10 * 1000);
    ck_assert_int_eq(linger_count(l), n);
}

START_TEST(a_client_sends_everything_then_reads_the_fin)
{
    struct linger_limits lim = {
        .total_ms = 30000, .idle_ms = 30000, .max_bytes = (size_t)64 << 20, .max_socks = 4};
    size_t len = (size_t)16 << 20;
    char *big = xcalloc(1, len), c;
    struct linger *l;
    int client, server;

    linger_start(&lim, &l);
    tcp_pair(&client, &server);
    hand_over(l, server);
    ck_assert_uint_eq(itest_send_all(client, big, len), len);
    ck_assert_int_eq(recv(client, &c, 1, 0), 0); /* the FIN, not a reset */
    ck_assert_int_eq(linger_count(l), 1);
    shutdown(client, SHUT_WR);
    wait_count(l, 0); /* closed at the client's EOF, long before its limits */
    close(client);
    free(big);
    linger_stop(&l);
    ck_assert_ptr_null(l);
}
END_TEST

START_TEST(limits_end_the_linger)
{
    struct linger_limits lim = {
        .total_ms = 30000, .idle_ms = 200, .max_bytes = 65536, .max_socks = 2};
    size_t len = (size_t)64 << 20;
    char *big = xcalloc(1, len);
    struct linger *l;
    int client[3], server[3];
    int64_t t0;

    linger_start(&lim, &l);
    /* Idle: a client that sends nothing is let go after idle_ms. */
    tcp_pair(&client[0], &server[0]);
    t0 = clock_mono_ms();
    hand_over(l, server[0]);
    wait_count(l, 0);
    ck_assert_int_ge(clock_mono_ms() - t0, 150);
    close(client[0]);
    /* Bytes: past max_bytes the socket is closed, and the client's writes then fail. */
    tcp_pair(&client[1], &server[1]);
    hand_over(l, server[1]);
    ck_assert_uint_lt(itest_send_all(client[1], big, len), len);
    wait_count(l, 0);
    close(client[1]);
    /* max_socks: two linger, the third is refused; stop closes the two. */
    for (int i = 0; i < 3; i++)
        tcp_pair(&client[i], &server[i]);
    ck_assert_int_eq(linger_add(l, server[0]), 0);
    ck_assert_int_eq(linger_add(l, server[1]), 0);
    ck_assert_int_eq(linger_add(l, server[2]), -1);
    ck_assert_int_eq(linger_count(l), 2);
    linger_stop(&l);
    for (int i = 0; i < 3; i++) {
        close(server[i]);
        close(client[i]);
    }
    free(big);
}
END_TEST

/* Threads handing sockets over while the lingerer reads others (ThreadSanitizer runs this,
 * make tsan): every byte of every client is taken, and every socket closed at its EOF. */
struct hander {
    struct linger *l;
    pthread_t thread;
    size_t sent;
};

static void *hand_and_send(void *arg)
{
    struct hander *h = arg;
    size_t len = 256 * 1024;
    char *data = xcalloc(1, len);

    for (int i = 0; i < 8; i++) {
        int client, server;

        tcp_pair(&client, &server);
        hand_over(h->l, server);
        h->sent += itest_send_all(client, data, len);
        shutdown(client, SHUT_WR);
        close(client);
    }
    free(data);
    return NULL;
}

START_TEST(sockets_handed_over_from_threads)
{
    struct linger_limits lim = {
        .total_ms = 30000, .idle_ms = 30000, .max_bytes = (size_t)64 << 20, .max_socks = 64};
    struct hander h[4];
    struct linger *l;

    linger_start(&lim, &l);
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hander){.l = l};
        ck_assert_int_eq(pthread_create(&h[i].thread, NULL, hand_and_send, &h[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(h[i].thread, NULL);
        ck_assert_uint_eq(h[i].sent, 8 * 256 * 1024);
    }
    wait_count(l, 0);
    linger_stop(&l);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("linger");
    TCase *tc = tcase_create("linger");

    tcase_add_test(tc, a_client_sends_everything_then_reads_the_fin);
    tcase_add_test(tc, limits_end_the_linger);
    tcase_add_test(tc, sockets_handed_over_from_threads);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *r = srunner_create(suite());
    int failed;

    srunner_run_all(r, CK_NORMAL);
    failed = srunner_ntests_failed(r);
    srunner_free(r);
    return failed ? 1 : 0;
}
