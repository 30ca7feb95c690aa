/* curl_loop.c -- libcurl's multi_socket API on epoll (see curl_loop.h). */
#include "cluster/curl_loop.h"

#include "base/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVENTS_MAX 256 /* socket events taken per epoll_wait */

struct curl_loop {
    CURLM *multi;
    int ep;   /* epoll instance */
    int wake; /* eventfd, in ep with data.fd = wake */
};

/* CURLMOPT_SOCKETFUNCTION: keeps ep's interest in s as libcurl wants it. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct curl_loop *l = userp;
    struct epoll_event ev = {0};

    (void)easy;
    (void)socketp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(l->ep, EPOLL_CTL_DEL, s, NULL); /* ENOENT/EBADF: already gone */
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.fd = s;
    if (epoll_ctl(l->ep, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT &&
        epoll_ctl(l->ep, EPOLL_CTL_ADD, s, &ev) != 0)
        return -1; /* libcurl fails the transfer */
    return 0;
}

struct curl_loop *curl_loop_new(CURLM *multi)
{
    struct curl_loop *l = xcalloc(1, sizeof(*l));
    struct epoll_event ev = {.events = EPOLLIN};

    l->multi = multi;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    ev.data.fd = l->wake;
    if (l->ep < 0 || l->wake < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->wake, &ev) != 0) {
        curl_loop_free(&l);
        return NULL;
    }
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, l);
    return l;
}

void curl_loop_free(struct curl_loop **lp)
{
    struct curl_loop *l;

    if (!lp || !*lp)
        return;
    l = *lp;
    if (l->multi)
        curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    if (l->ep >= 0)
        close(l->ep);
    if (l->wake >= 0)
        close(l->wake);
    free(l);
    *lp = NULL;
}

/* Runs libcurl's timeouts that are due; returns the ms until its next one (-1: none), and
 * in *ran whether it ran any (transfers may have ended: the caller reads them before it
 * waits). libcurl's own answer (curl_multi_timeout) rather than CURLMOPT_TIMERFUNCTION:
 * that callback is not called again for a timeout libcurl believes it reported already. */
static long run_due(struct curl_loop *l, bool *ran)
{
    long t = -1;
    int running;

    for (int i = 0; i < 8; i++) { /* a timeout run can make another due at once */
        if (curl_multi_timeout(l->multi, &t) != CURLM_OK || t != 0)
            break;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        *ran = true;
    }
    return t;
}

void curl_loop_run(struct curl_loop *l, int64_t wait_ms)
{
    struct epoll_event evs[EVENTS_MAX];
    bool ran = false;
    long t = run_due(l, &ran);
    int n, running;

    if (ran)
        wait_ms = 0; /* what ran may have ended transfers: no wait before they are read */
    else if (t >= 0 && t < wait_ms)
        wait_ms = t;
    n = epoll_wait(l->ep, evs, EVENTS_MAX, (int)(wait_ms > INT32_MAX ? INT32_MAX : wait_ms));
    for (int i = 0; i < n; i++) {
        uint32_t e = evs[i].events;
        int flags = (e & EPOLLIN ? CURL_CSELECT_IN : 0) | (e & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                    (e & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);

        if (evs[i].data.fd == l->wake) {
            uint64_t v;

            while (read(l->wake, &v, sizeof(v)) > 0)
                ;
            continue;
        }
        curl_multi_socket_action(l->multi, evs[i].data.fd, flags, &running);
    }
    run_due(l, &ran);
}

void curl_loop_wakeup(struct curl_loop *l)
{
    uint64_t one = 1;
    ssize_t r = write(l->wake, &one, sizeof(one)); /* EAGAIN: a wakeup is pending already */

    (void)r;
}
