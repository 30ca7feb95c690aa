/* list_watch.h -- GET /v1/trainingjobs?watch=true (and the namespaced form): the list's
 * changes as a stream of Kubernetes watch events, one JSON object a line.
 * Not responsible for the list's query parameters (job_routes.c parses them) or for the
 * socket (server.c sends the stream and suspends it between events). */
#ifndef API_LIST_WATCH_H
#define API_LIST_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "api/internal.h"

struct store_job_filter;

/* A watch's own parameters, besides the list's filters. */
struct list_watch_opts {
    int64_t after_rv; /* resourceVersion: changes after it; -1: the current list first */
    int timeout_s;    /* timeoutSeconds: the stream ends after it */
    bool bookmarks;   /* allowWatchBookmarks */
};

/* The longest and default timeoutSeconds, the changes a resourceVersion may be behind
 * before it is too old (410), and the BOOKMARK interval. */
#define LIST_WATCH_MAX_S       3600
#define LIST_WATCH_DEFAULT_S   1800
#define LIST_WATCH_REPLAY_MAX  1000
#define LIST_WATCH_BOOKMARK_MS 5000

/* Answers req with the watch: a 200 whose body is streamed (resp->stream) when a server
 * can suspend it (req->wait set), else the events available now as one body. Takes a
 * slot of the watch caps (429 when none is left). f is copied. Fills resp with an error
 * (4xx/5xx) when the watch cannot start; a resourceVersion too old or newer than any
 * becomes a 200 with one ERROR event carrying a 410 Status, as Kubernetes sends it. */
void list_watch_start(struct api *a, const struct api_request *req,
                      const struct store_job_filter *f, const struct list_watch_opts *o,
                      struct api_response *resp);

#endif
