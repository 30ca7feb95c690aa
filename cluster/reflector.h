/* reflector.h -- one resource of one member cluster kept in step the way client-go's
 * reflector does it: a LIST (limit/continue), then a WATCH from the list's
 * resourceVersion with allowWatchBookmarks and timeoutSeconds, whose ADDED, MODIFIED,
 * DELETED, BOOKMARK and ERROR events are applied to a local store. Only a 410 (Expired,
 * "too old resource version") or a broken event makes it list again; a dropped or stalled
 * stream, or one the server ended at its timeout, is watched again from the last
 * resourceVersion seen. Transfers run on a libcurl multi handle the caller drives, so one
 * thread keeps many reflectors, and a cluster's reflectors share its connections
 * (keep-alive, HTTP/2 where the server offers it).
 * Streaming: a watch body is cut into events at newlines as bytes arrive; a line longer
 * than max_event_bytes, a list page over max_list_bytes or an error body over 64 KiB end
 * the transfer: nothing grows without bound.
 * Not responsible for what an object means (the decode callback turns it into an item),
 * nor for building or publishing snapshots (poller.c). Request pattern:
 * docs/clusters.md. */
#ifndef CLUSTER_REFLECTOR_H
#define CLUSTER_REFLECTOR_H

#include "base/err.h"
#include "cluster/cluster_config.h"
#include "cluster/cluster_snapshot.h"
#include "cluster/k8s_json.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reflector;

/* Turns the object at token tok of d into *item (item_size bytes, zeroed before the call).
 * Returns 0, or -1 with e set to leave the object out of the store (counted as a bad item;
 * the store then holds no entry under its key). Called on the thread that drives the
 * multi handle. */
typedef int (*reflector_decode_fn)(const struct k8s_json *d, int tok, void *item, void *arg,
                                   struct err *e);

/* Releases what an item points to (not the item itself). NULL: items own nothing. */
typedef void (*reflector_release_fn)(void *item, void *arg);

/* Called after the store changed: events applied, or a list replaced it. Called on the
 * thread that drives the multi handle, without the store's lock held. */
typedef void (*reflector_changed_fn)(struct reflector *r, void *arg);

/* Every number is required (> 0). */
struct reflector_options {
    const char *path;           /* list path below the API server: "/api/v1/pods" */
    const char *label_selector; /* URL-encoded, or NULL */
    const char *field_selector; /* URL-encoded, or NULL */
    int page_limit;             /* limit= of each LIST page */
    int request_timeout_ms;     /* a LIST page, whole */
    int connect_timeout_ms;
    int watch_timeout_s;          /* timeoutSeconds of a watch; each watch asks for a random value
                               between this and twice this, as client-go does, so that
                               clusters' watches do not all end together */
    int watch_idle_ms;            /* a watch with no byte for this long has stalled: it is ended
                               and watched again (servers send bookmarks; the simulator every
                               2 s, kube-apiserver about once a minute) */
    int backoff_base_ms;          /* first delay after a failure; doubles (equal jitter) */
    int backoff_max_ms;           /* up to this */
    int absent_recheck_ms;        /* a 404 on a list (the resource is not served) is asked
                                     again after this; 0: backoff_max_ms */
    size_t max_list_bytes;        /* one LIST page */
    size_t max_event_bytes;       /* one watch event (one line) */
    size_t item_size;             /* bytes per stored item */
    reflector_decode_fn decode;   /* required */
    reflector_release_fn release; /* optional */
    reflector_changed_fn changed; /* optional */
    void *arg;                    /* passed to the three callbacks */
};

/* Creates a reflector for cfg's cluster (the config is copied: API server URL, token file,
 * CA file, TLS verification) and o (copied; path and selectors too). Nothing is requested
 * until reflector_step(). Caller owns *out; free with reflector_free(). Fails with
 * ERR_INVALID naming the option (a number not > 0, no path or decode). */
int reflector_new(const struct cluster_config *cfg, const struct reflector_options *o,
                  struct reflector **out, struct err *e);

/* Removes its transfer from multi when one is running, releases every item and frees r.
 * NULL-safe; sets *r to NULL. multi may be NULL when no transfer was ever added. */
void reflector_free(struct reflector **r, CURLM *multi);

/* Starts what is due at now_mono (monotonic ms): the first LIST, a watch after a backoff,
 * a re-list. A started transfer is added to multi, with CURLOPT_PRIVATE set to r. While a
 * watch runs it checks for a stall: a watch with no byte for watch_idle_ms is removed from
 * multi and ended here (then watched again, at once after events, else after a backoff).
 * Returns the ms until r next needs a step (0: at once; at most 60,000; while a watch
 * runs, until its stall deadline), or -1 while a LIST page is in flight (it needs
 * reflector_done() first). */
int64_t reflector_step(struct reflector *r, CURLM *multi, int64_t now_mono);

/* The transfer of r ended (the multi handle's CURLMSG_DONE for the easy handle whose
 * CURLOPT_PRIVATE is r) with rc: removes it from multi and decides what comes next. */
void reflector_done(struct reflector *r, CURLM *multi, CURLcode rc);

/* Whether r's next request is a LIST page (callers bound how many lists run at once:
 * watches are long and cheap, lists are what loads an API server). */
bool reflector_wants_list(const struct reflector *r);

/* For the thread that drives the multi handle only (no lock, no copy; the poller asks
 * these of thousands of reflectors on every step): whether a LIST page is in flight, and
 * until when (wall clock) the server's Retry-After holds r back (0: it does not). */
bool reflector_listing(const struct reflector *r);
int64_t reflector_retry_until_ms(const struct reflector *r);

/* Whether CURLOPT_PRIVATE p of a finished easy handle is a reflector (callers that run
 * other transfers on the same multi handle tell them apart with this). */
bool reflector_is(const void *p);

/* Ends the current watch (or list) and makes the next step list again from scratch, as
 * after a 410; the store is kept until the new list replaces it. For a changed config. */
void reflector_relist(struct reflector *r, CURLM *multi);

/* Takes cfg (copied) for the next requests: ends the current transfer, reads the
 * credentials again and lists again, keeping the store until the new list replaces it and
 * the counters. For a cluster whose config changed (its URL, credentials, or what decode
 * makes of an object). */
void reflector_set_config(struct reflector *r, const struct cluster_config *cfg, CURLM *multi);

/* No request starts before until_mono (a transfer in flight goes on). For a cluster-wide
 * Retry-After or a rate limit shared by a cluster's reflectors. */
void reflector_defer(struct reflector *r, int64_t until_mono);

/* Monotonic ms at which r's next request is due (it may be in the past), or -1 while a
 * transfer of r is in flight. */
int64_t reflector_next_request_mono(const struct reflector *r);

/* For fuzzing and tests without a socket: hands data to r as the 200 body of a LIST page
 * (list) or of a watch, chunk bytes per write callback (0: all at once), and ends the
 * transfer as a server closing it cleanly would. Everything after the answer runs as for
 * a real transfer (store, counters, what comes next). Fails (-1) while a transfer of r is
 * in flight. */
int reflector_feed(struct reflector *r, bool list, const char *data, size_t len, size_t chunk);

/* ---- the store ------------------------------------------------------------------------
 * Keyed by "namespace/name" ("name" for cluster-scoped objects). The thread that drives
 * the multi handle changes it; any thread may read it through the functions below, which
 * take the store's lock. A re-list builds the new store aside and swaps it in at its end,
 * so readers never see a half-listed store. */

/* True once a complete list has been taken (and stays true through later re-lists). */
bool reflector_synced(struct reflector *r);

/* Number of items. */
size_t reflector_count(struct reflector *r);

/* Calls fn on every item, in no particular order, with the store's lock held: fn must not
 * call other reflector functions, and should be quick. */
void reflector_foreach(struct reflector *r,
                       void (*fn)(const char *key, const void *item, void *arg), void *arg);

/* Copies the item under key into item (item_size bytes) and returns 0, or -1 when absent.
 * Items that own pointers are copied shallowly: hold them only under reflector_foreach(). */
int reflector_get(struct reflector *r, const char *key, void *item);

/* Bumped by every change applied to the store (each event, each list swapped in). */
uint64_t reflector_generation(struct reflector *r);

/* ---- health and counters ------------------------------------------------------------- */

enum reflector_state {
    REFLECTOR_IDLE = 0, /* nothing requested yet, or waiting to (backoff, Retry-After) */
    REFLECTOR_LISTING,
    REFLECTOR_WATCHING,
};

struct reflector_stats {
    enum reflector_state state;
    bool synced;
    bool stale;  /* the store may be behind the cluster: not listed yet, a re-list due or
                    running, or the last request failed */
    bool absent; /* the last list got 404: the cluster does not serve the resource (the
                    store is empty; listed again every absent_recheck_ms) */
    char resource_version[64]; /* last seen: of the list, an event or a bookmark */
    uint64_t lists;            /* LIST requests (pages) sent */
    uint64_t watches;          /* WATCH requests sent */
    uint64_t relists;          /* lists begun again after the first: 410, broken event */
    uint64_t watch_restarts;   /* watches begun again from a resourceVersion */
    uint64_t events[5];        /* ADDED, MODIFIED, DELETED, BOOKMARK, ERROR received */
    uint64_t bad_events;       /* event lines that were not a WatchEvent (skipped) */
    uint64_t bad_items;        /* objects the decode callback refused */
    uint64_t errors_total;
    uint64_t errors_by_kind[CLUSTER_ERR_KINDS];
    int consecutive_failures; /* failed requests since the last good answer */
    int64_t last_ok_ms;       /* wall clock of the last good answer: a complete list, a
                                 watch accepted (200), an event, a bookmark, or a watch the
                                 server ended cleanly; 0: never */
    int64_t last_event_mono;  /* monotonic ms of the last event applied; 0: none */
    char last_error[256];     /* "" after a good answer */
    enum err_code last_error_code;
    enum cluster_error_kind last_error_kind;
    int retry_after_s;       /* of the last failed answer, 0 when it had none */
    int64_t last_request_ms; /* wall clock the last request was sent; 0: never */
    int64_t next_request_ms; /* wall clock of the next request while waiting (backoff,
                                Retry-After); 0 when due at once or one is in flight */
    int64_t list_ms;         /* how long the last complete list took (all its pages) */
};

void reflector_get_stats(struct reflector *r, struct reflector_stats *out);

/* The same when they may have changed since *seen (a count this call keeps, 0 at first):
 * true and *out filled; false, without taking the lock, when nothing changed. */
bool reflector_get_stats_changed(struct reflector *r, uint64_t *seen, struct reflector_stats *out);

const char *reflector_path(const struct reflector *r);

#endif
