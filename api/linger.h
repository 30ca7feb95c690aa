/* linger.h -- a lingering close for connections answered before their request body was
 * read (RFC 9112 section 9.6): the answer and a FIN go out, then what the client still
 * sends is read and dropped for a while, so its own writes do not meet a reset that
 * destroys the answer before it reads it. Not responsible for sending the answer or the
 * FIN (libmicrohttpd does both before it closes the connection). */
#ifndef API_LINGER_H
#define API_LINGER_H

#include <stddef.h>
#include <stdint.h>

struct linger; /* one thread and the sockets it reads */

struct linger_limits {
    int64_t total_ms; /* a socket is closed this long after it was added, */
    int64_t idle_ms;  /* or this long after the last bytes came, */
    size_t max_bytes; /* or once it has dropped this many bytes */
    int max_socks;    /* sockets lingering at once; past it, linger_add() refuses */
};

/* Starts the thread. Caller owns *out; stop with linger_stop(). */
void linger_start(const struct linger_limits *lim, struct linger **out);

/* Lingers on a duplicate of fd (the caller may close fd at once: the connection stays
 * open until the duplicate is closed). Thread-safe. Returns 0, or -1 when max_socks
 * sockets already linger or fd cannot be duplicated; the caller's close is then the end. */
int linger_add(struct linger *l, int fd);

/* Sockets lingering now. Thread-safe. */
int linger_count(struct linger *l);

/* Closes every lingering socket and joins the thread. NULL-safe; sets *l to NULL. */
void linger_stop(struct linger **l);

#endif
