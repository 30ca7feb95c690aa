/* fake_prom.h -- test helper: a stand-in for a Prometheus server's HTTP API on a loopback
 * port. Every request gets the answer the test set last (status, body, an optional delay);
 * the server counts requests and keeps the last request line. One connection at a time,
 * HTTP/1.1 with Connection: close. No main. */
#ifndef TESTS_SUPPORT_FAKE_PROM_H
#define TESTS_SUPPORT_FAKE_PROM_H

#include <stddef.h>
#include <stdint.h>

struct fake_prom;

/* Starts it; aborts the test on failure. Answers 503 with an empty body until set. */
struct fake_prom *fake_prom_start(void);
void fake_prom_stop(struct fake_prom **fp); /* NULL-safe */

/* "http://127.0.0.1:PORT" (no trailing slash). */
const char *fake_prom_url(const struct fake_prom *fp);

/* The answer to every request from now on: HTTP status, body (copied), and how long to wait
 * before answering (ms; 0: at once). */
void fake_prom_set(struct fake_prom *fp, int status, const char *body, int delay_ms);

/* The same with a body that says value at time now: {"status":"success","data":
 * {"resultType":"vector","result":[{"metric":{},"value":[now,"value"]}]}}. */
void fake_prom_set_vector(struct fake_prom *fp, const char *value);

/* Answers from a file instead, read at each request: its first line the status, the rest
 * the body. For tests in Check's fork mode, where the fake runs in the parent (an unchecked
 * fixture) and a test in the child cannot reach its memory. path NULL: back to
 * fake_prom_set(). A missing or unreadable file answers 503. */
void fake_prom_answer_from(struct fake_prom *fp, const char *path);

/* Writes such a file atomically (a temporary file renamed over path); aborts on failure. */
void fake_prom_write_answer(const char *path, int status, const char *body);

/* The body fake_prom_set_vector() sends, into out. */
void fake_prom_vector_body(const char *value, char *out, size_t size);

/* Requests answered so far, and the request line of the last one ("GET /api/v1/query?..."). */
uint64_t fake_prom_requests(struct fake_prom *fp);
void fake_prom_last_request(struct fake_prom *fp, char *out, size_t size);

#endif
