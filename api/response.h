/* response.h -- one request and its answer as the handlers see them, independent of the
 * socket: what api/server.c fills from libmicrohttpd (or a test by hand) and what it sends
 * back. The helpers that fill an answer are in api/internal.h (response.c).
 * Not responsible for routing, authentication or the request's lifecycle (api.c). */
#ifndef API_RESPONSE_H
#define API_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct principal;

struct api_kv {
    const char *key;
    const char *value;
};

/* A watch's state across the passes of one call: api/server.c keeps it while the
 * connection is suspended, and calls the handler again when the job changes or the
 * deadline passes. */
struct api_wait {
    bool active;         /* the first pass parsed the watch and took a cap slot */
    bool stopping;       /* the server drains: answer now */
    int64_t after_rv;    /* answer once the job's version passes this */
    int64_t deadline_ms; /* realtime ms; answer with the job as it is then */
    int64_t job_id;      /* the job to wait for, set when the handler asks to wait */
    char cap_key[72];    /* the token (or address) holding the slot; "" none */
};

/* A streamed answer (a list watch), sent chunked as the client takes it. The server calls
 * read() whenever the connection can take more; read() writes at most max bytes to out
 * and returns how many (> 0), or -1 at the end of the stream, or 0 when nothing is ready:
 * the server then suspends the connection without a thread until a job changes or is
 * created, or *wake_ms (realtime ms) passes, and calls again. The server owns it once
 * the handler returned it and calls free() when the connection is done with it. */
struct api_stream {
    long (*read)(struct api_stream *st, char *out, size_t max, int64_t *wake_ms);
    void (*free)(struct api_stream *st);
};

/* One request as the handlers see it. Strings are borrowed for the call's duration. */
struct api_request {
    const char *method;
    const char *path;           /* without the query string, percent-decoded */
    const struct api_kv *query; /* decoded query arguments */
    size_t n_query;
    const char *content_type;    /* NULL when absent */
    const char *idempotency_key; /* NULL when absent */
    const char *body;            /* NULL when empty; not NUL-terminated */
    size_t body_len;
    const char *authorization;   /* Authorization header, NULL when absent */
    const char *remote;          /* peer address, "" when unknown */
    const struct principal *who; /* set by api_handle for the handlers */
    struct api_wait *wait;       /* NULL: the caller cannot wait; a watch answers at once */
};

struct api_response {
    int status;
    char *body;                /* owned; NULL for none */
    size_t body_len;           /* 0: strlen(body); set for binary bodies */
    const char *content_type;  /* static string */
    char allow[64];            /* Allow header for 405, else empty */
    char location[512];        /* Location header for 201, else empty */
    char retry_after[16];      /* Retry-After header for 503/429, else empty */
    char www_authenticate[48]; /* WWW-Authenticate header for 401, else empty */
    char route[64];            /* route template for metrics ("/v1/namespaces/{ns}/...") */
    bool audited;              /* the handler wrote the audit row in the mutation's transaction */
    bool wait; /* no answer yet: wait for req->wait->job_id to change, then call again */
    struct api_stream *stream; /* with status 200: the body is streamed from it (server.c) */
};

/* Frees r's body and zeroes it. */
void api_response_clear(struct api_response *r);

#endif
