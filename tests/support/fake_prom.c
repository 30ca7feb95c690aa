/* fake_prom.c -- a canned Prometheus HTTP API on loopback for the demand query's tests. */
#include "tests/support/fake_prom.h"

#include "base/clock.h"
#include "base/mem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct fake_prom {
    int fd;
    char url[64];
    pthread_t thread;
    pthread_mutex_t lock; /* the fields below */
    bool stop;
    int status;
    char *body;
    int delay_ms;
    uint64_t requests;
    char last[512];
    char *file; /* fake_prom_answer_from() */
};

/* status and body from file (first line, rest); 503 and "" when it cannot be read. */
static void read_answer(const char *file, int *status, char **body)
{
    FILE *f = fopen(file, "rb");
    char *data = xcalloc(1, 65536 + 1), *nl;
    size_t n = 0;

    *status = 503;
    if (f) {
        n = fread(data, 1, 65536, f);
        fclose(f);
    }
    data[n] = '\0';
    nl = strchr(data, '\n');
    if (nl) {
        *nl = '\0';
        *status = (int)strtol(data, NULL, 10);
        *body = xstrdup(nl + 1);
    } else {
        *body = xstrdup("");
    }
    free(data);
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the client may have given up */

        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* Reads the request head (up to the blank line, or 8 KiB); copies its first line out. */
static void read_head(int fd, char *first, size_t size)
{
    char buf[8192];
    size_t len = 0;

    first[0] = '\0';
    while (len < sizeof(buf) - 1) {
        struct pollfd pfd = {fd, POLLIN, 0};
        ssize_t r;

        if (poll(&pfd, 1, 2000) <= 0)
            break;
        r = read(fd, buf + len, sizeof(buf) - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    buf[len] = '\0';
    snprintf(first, size, "%.*s", (int)strcspn(buf, "\r\n"), buf);
}

static void *serve(void *arg)
{
    struct fake_prom *fp = arg;

    for (;;) {
        struct pollfd pfd = {fp->fd, POLLIN, 0};
        char line[512], head[256], *body;
        int c, status, delay;
        bool stop;

        pthread_mutex_lock(&fp->lock);
        stop = fp->stop;
        pthread_mutex_unlock(&fp->lock);
        if (stop)
            break;
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        c = accept(fp->fd, NULL, NULL);
        if (c < 0)
            continue;
        read_head(c, line, sizeof(line));
        pthread_mutex_lock(&fp->lock);
        fp->requests++;
        snprintf(fp->last, sizeof(fp->last), "%s", line);
        status = fp->status;
        body = fp->file ? NULL : xstrdup(fp->body ? fp->body : "");
        delay = fp->delay_ms;
        if (fp->file)
            read_answer(fp->file, &status, &body);
        pthread_mutex_unlock(&fp->lock);
        if (delay > 0)
            usleep((useconds_t)delay * 1000);
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                 "Connection: close\r\n\r\n",
                 status, strlen(body));
        write_all(c, head, strlen(head));
        write_all(c, body, strlen(body));
        close(c);
        free(body);
    }
    return NULL;
}

struct fake_prom *fake_prom_start(void)
{
    struct fake_prom *fp = xcalloc(1, sizeof(*fp));
    struct sockaddr_in a = {0};
    socklen_t alen = sizeof(a);
    int one = 1;

    fp->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fp->fd < 0)
        abort();
    setsockopt(fp->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fp->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fp->fd, 16) != 0 ||
        getsockname(fp->fd, (struct sockaddr *)&a, &alen) != 0)
        abort();
    snprintf(fp->url, sizeof(fp->url), "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_mutex_init(&fp->lock, NULL);
    fp->status = 503;
    if (pthread_create(&fp->thread, NULL, serve, fp) != 0)
        abort();
    return fp;
}

void fake_prom_stop(struct fake_prom **pp)
{
    struct fake_prom *fp;

    if (!pp || !*pp)
        return;
    fp = *pp;
    pthread_mutex_lock(&fp->lock);
    fp->stop = true;
    pthread_mutex_unlock(&fp->lock);
    pthread_join(fp->thread, NULL);
    close(fp->fd);
    pthread_mutex_destroy(&fp->lock);
    free(fp->body);
    free(fp->file);
    free(fp);
    *pp = NULL;
}

const char *fake_prom_url(const struct fake_prom *fp)
{
    return fp->url;
}

void fake_prom_set(struct fake_prom *fp, int status, const char *body, int delay_ms)
{
    pthread_mutex_lock(&fp->lock);
    fp->status = status;
    free(fp->body);
    fp->body = xstrdup(body);
    fp->delay_ms = delay_ms;
    pthread_mutex_unlock(&fp->lock);
}

void fake_prom_vector_body(const char *value, char *out, size_t size)
{
    snprintf(out, size,
             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
             "{\"pool\":\"serving\"},\"value\":[%.3f,\"%s\"]}]}}",
             (double)clock_realtime_ms() / 1000.0, value);
}

void fake_prom_set_vector(struct fake_prom *fp, const char *value)
{
    char body[512];

    fake_prom_vector_body(value, body, sizeof(body));
    fake_prom_set(fp, 200, body, 0);
}

void fake_prom_answer_from(struct fake_prom *fp, const char *path)
{
    pthread_mutex_lock(&fp->lock);
    free(fp->file);
    fp->file = path ? xstrdup(path) : NULL;
    pthread_mutex_unlock(&fp->lock);
}

void fake_prom_write_answer(const char *path, int status, const char *body)
{
    char tmp[512];
    FILE *f;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f)
        abort();
    fprintf(f, "%d\n%s", status, body);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        abort();
}

uint64_t fake_prom_requests(struct fake_prom *fp)
{
    uint64_t n;

    pthread_mutex_lock(&fp->lock);
    n = fp->requests;
    pthread_mutex_unlock(&fp->lock);
    return n;
}

void fake_prom_last_request(struct fake_prom *fp, char *out, size_t size)
{
    pthread_mutex_lock(&fp->lock);
    snprintf(out, size, "%s", fp->last);
    pthread_mutex_unlock(&fp->lock);
}
