/* curl_loop.h -- a libcurl multi handle driven by epoll, as libcurl's event-based API
 * intends for many transfers: libcurl says which sockets it waits on
 * (CURLMOPT_SOCKETFUNCTION) and when its next timeout is due (curl_multi_timeout), and each
 * wait acts only on the sockets that have something (curl_multi_socket_action). A wait costs what is
 * active, not what is open: thousands of idle watches cost nothing between their events,
 * where curl_multi_poll() and curl_multi_perform() walk every transfer at each wake.
 * An eventfd lets other threads end a wait.
 * Not responsible for starting or ending transfers, nor for reading finished ones
 * (curl_multi_info_read() stays with the caller). */
#ifndef CLUSTER_CURL_LOOP_H
#define CLUSTER_CURL_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

struct curl_loop;

/* Takes over multi's socket callback; multi must not be driven by
 * curl_multi_perform() or curl_multi_poll() afterwards. NULL when the kernel refuses an
 * epoll instance or an eventfd. multi outlives the loop. */
struct curl_loop *curl_loop_new(CURLM *multi);

/* NULL-safe; sets *l to NULL. */
void curl_loop_free(struct curl_loop **l);

/* Waits up to wait_ms (0: does not wait) for a socket with something to do, libcurl's
 * timeout or a wakeup, and lets libcurl act on what came. The thread that calls this owns
 * multi. */
void curl_loop_run(struct curl_loop *l, int64_t wait_ms);

/* Ends the current or next wait. Any thread; async-signal-safe. */
void curl_loop_wakeup(struct curl_loop *l);

#endif
