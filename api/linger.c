/* linger.c -- the lingering close: one thread polls the sockets handed to it, drops what
 * they read and closes each at EOF, on an error, or at the first of its limits. */
#include "api/linger.h"

#include "base/clock.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define POLL_MS     100       /* how soon a socket added while the thread polls is read */
#define ROUND_BYTES (1 << 20) /* read from one socket a round, so one fast sender waits its turn */

struct lsock {
    int fd;
    int64_t until_ms, idle_until_ms;
    size_t dropped;
};

struct linger {
    struct linger_limits lim;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lsock *socks; /* lim.max_socks of them; n in use */
    int n;
    bool stop;
    pthread_t thread;
};

/* Reads and drops what s has, up to ROUND_BYTES; returns whether it is done with (EOF, an
 * error, or a limit). */
static bool drain(const struct linger_limits *lim, struct lsock *s, int64_t now)
{
    char scratch[65536];

    for (size_t round = 0; round < ROUND_BYTES; round += sizeof(scratch)) {
        ssize_t n = read(s->fd, scratch, sizeof(scratch));

        if (n == 0)
            return true;
        if (n < 0)
            return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
        s->dropped += (size_t)n;
        s->idle_until_ms = now + lim->idle_ms;
        if (s->dropped >= lim->max_bytes)
            return true;
    }
    return false;
}

static void *run(void *arg)
{
    struct linger *l = arg;
    struct pollfd *pfd = xcalloc((size_t)l->lim.max_socks, sizeof(*pfd));
    bool *done = xcalloc((size_t)l->lim.max_socks, sizeof(*done));

    for (;;) {
        nfds_t n;
        int64_t now;

        pthread_mutex_lock(&l->mu);
        while (!l->stop && l->n == 0)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            break;
        }
        n = (nfds_t)l->n;
        for (nfds_t i = 0; i < n; i++)
            pfd[i] = (struct pollfd){.fd = l->socks[i].fd, .events = POLLIN};
        pthread_mutex_unlock(&l->mu);
        /* Sockets are only added, past index n, and only this thread changes or removes
         * them: the first n are read unlocked, so linger_add() never waits for a read. */
        poll(pfd, n, POLL_MS);
        now = clock_mono_ms();
        for (nfds_t i = 0; i < n; i++) {
            struct lsock *s = &l->socks[i];

            done[i] = (pfd[i].revents && drain(&l->lim, s, now)) || now >= s->until_ms ||
                      now >= s->idle_until_ms;
        }
        pthread_mutex_lock(&l->mu);
        for (nfds_t i = n; i-- > 0;) {
            if (!done[i])
                continue;
            close(l->socks[i].fd);
            /* The last moves here: one above i, already kept, or one added since the poll. */
            l->socks[i] = l->socks[--l->n];
        }
        pthread_mutex_unlock(&l->mu);
    }
    free(done);
    free(pfd);
    return NULL;
}

void linger_start(const struct linger_limits *lim, struct linger **out)
{
    struct linger *l = xcalloc(1, sizeof(*l));

    l->lim = *lim;
    if (l->lim.max_socks < 1)
        l->lim.max_socks = 1;
    l->socks = xcalloc((size_t)l->lim.max_socks, sizeof(*l->socks));
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    pthread_create(&l->thread, NULL, run, l);
    *out = l;
}

int linger_add(struct linger *l, int fd)
{
    int64_t now = clock_mono_ms();
    int dup_fd;

    pthread_mutex_lock(&l->mu);
    if (l->stop || l->n >= l->lim.max_socks) {
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) {
        pthread_mutex_unlock(&l->mu);
        return -1;
    }
    /* The duplicate shares the socket's flags: libmicrohttpd's are non-blocking already. */
    fcntl(dup_fd, F_SETFL, fcntl(dup_fd, F_GETFL) | O_NONBLOCK);
    l->socks[l->n++] = (struct lsock){
        .fd = dup_fd, .until_ms = now + l->lim.total_ms, .idle_until_ms = now + l->lim.idle_ms};
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return 0;
}

int linger_count(struct linger *l)
{
    int n;

    pthread_mutex_lock(&l->mu);
    n = l->n;
    pthread_mutex_unlock(&l->mu);
    return n;
}

void linger_stop(struct linger **lp)
{
    struct linger *l;

    if (!lp || !*lp)
        return;
    l = *lp;
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    for (int i = 0; i < l->n; i++)
        close(l->socks[i].fd);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l->socks);
    free(l);
    *lp = NULL;
}
