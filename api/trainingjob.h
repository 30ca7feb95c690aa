/* trainingjob.h -- the TrainingJob resource on the wire: parse and validate a submitted body
 * into struct job, and render a stored job (and its events) back as API JSON.
 * Not responsible for HTTP (status mapping, body size caps at the socket), storage (store/)
 * or placement (policy/). The full field reference is docs/trainingjob.md. */
#ifndef API_TRAININGJOB_H
#define API_TRAININGJOB_H

#include "base/err.h"

#include <jansson.h>
#include <stddef.h>

struct job;
struct job_event;
struct sku_catalogue;

#define TRAININGJOB_MAX_BODY   (1024 * 1024) /* bytes; larger bodies fail with ERR_TOO_LARGE */
#define TRAININGJOB_MAX_DEPTH  32            /* nesting levels of arrays/objects, top = 1 */
#define TRAININGJOB_NAME_MAX   63            /* metadata.name: usable as a label value */
#define TRAININGJOB_LABELS_MAX 64

/* Parses and validates a TrainingJob create body (body need not be NUL-terminated) for
 * the namespace named in the request path, checking SKUs against skus (NULL means the
 * process-wide sku_catalogue()).
 *
 * On success returns 0 and sets *out to a new job (caller owns it; free with job_free())
 * with ns = path_ns, name (generated when metadata.generateName was used), api_version,
 * labels_json and spec_json as canonical JSON (compact, sorted keys, defaults applied,
 * empty arrays/objects dropped: equal specs give equal text), the lifted spec fields and
 * phase Queued. uid, created_ms, resource_version and the rest of the status are left
 * zero for the store to assign. Client-sent status and server-set metadata (uid,
 * resourceVersion, creationTimestamp, ...) are ignored, as Kubernetes does on create.
 *
 * On failure returns -1, leaves *out untouched and fills e (may be NULL) with:
 *   ERR_MALFORMED  the body cannot be decoded: empty, NUL byte, invalid UTF-8, nested
 *                  deeper than TRAININGJOB_MAX_DEPTH, bad JSON syntax, duplicate key,
 *                  trailing garbage, not an object, a field of the wrong JSON type, or an
 *                  unknown field (400);
 *   ERR_INVALID    decoded but semantically wrong: bad names, out-of-range numbers,
 *                  unknown SKU (the message lists the known ones), inconsistent values,
 *                  metadata.namespace different from path_ns (422);
 *   ERR_TOO_LARGE  len > TRAININGJOB_MAX_BODY (413);
 *   ERR_INTERNAL   the kernel random source failed while generating a name (500).
 * e->field is the JSON path of the offending value ("spec.resources.gpuCount",
 * "spec.scheduling.clusterAffinity[1]", "metadata.labels.team"), empty when the body as a
 * whole is at fault; e->field and e->msg are always valid UTF-8.
 *
 * Never reads past body[len - 1]; safe on arbitrary bytes. Thread-safe (no shared state
 * except the catalogue, which is immutable once threads exist). Linear in len. */
int trainingjob_parse(const char *body, size_t len, const char *path_ns,
                      const struct sku_catalogue *skus, struct job **out, struct err *e);

/* trainingjob_parse(), keeping every cause of a refused body in c (n 0 on success):
 * items[0] is the one trainingjob_parse() reports, the rest follow in the order the body
 * is checked. Independent parts are checked on after a problem (apiVersion, kind, each
 * metadata and spec section, each field of spec.resources); within a part the first
 * problem stops it, and a part that needs another (the mounts, relativeThroughput) is
 * skipped when that one failed. A body refused before it
 * is decoded (empty, too large, bad JSON), or a cause other than ERR_MALFORMED and
 * ERR_INVALID, gives that one cause alone. */
int trainingjob_parse_all(const char *body, size_t len, const char *path_ns,
                          const struct sku_catalogue *skus, struct job **out, struct err_causes *c);

/* What administrators let tenants reference, per namespace: the config section "tenants"
 * (docs/trainingjob.md, "What administrators may restrict"). Immutable once built, so
 * request threads share it without locks. */
struct trainingjob_tenants;

/* Builds the rules from the config value v: {"<namespace>" or "*": {"serviceAccountNames",
 * "secrets", "configMaps", "volumeClaims", "imagePullSecrets", "imagePrefixes",
 * "uriPrefixes", "podLabelPrefixes", "podAnnotationPrefixes": [strings]}}. An empty object
 * sets *out to NULL (nothing restricted). Caller owns *out; free with
 * trainingjob_tenants_free(). Fails with ERR_CONFIG, e->field and the message naming the
 * key and the value ("tenants.team-a.secrets[1]: \"Bad_Name\" is not ..."); *out untouched. */
int trainingjob_tenants_from_json(const json_t *v, struct trainingjob_tenants **out, struct err *e);
void trainingjob_tenants_free(struct trainingjob_tenants **t); /* NULL-safe; sets *t NULL */

/* Whether every reference of j's spec (j as trainingjob_parse() made it) is allowed in its
 * namespace by t: a namespace's own list for a kind, else the "*" entry's, else anything.
 * t NULL allows everything. Returns 0, or -1 with ERR_FORBIDDEN for the first reference
 * that is not allowed: e->field its JSON path, the message its value, the namespace, the
 * rule ("tenants.team-a.serviceAccountNames") and what it allows. Thread-safe. */
int trainingjob_check_tenant(const struct job *j, const struct trainingjob_tenants *t,
                             struct err *e);

/* Checks a namespace or job name taken from a request path, with the same rules the body
 * is held to: a namespace is a DNS-1123 label (<= 63), a name a DNS-1123 subdomain of at
 * most TRAININGJOB_NAME_MAX characters. Returns 0, or -1 with ERR_INVALID (field
 * "metadata.namespace" or "metadata.name"). Thread-safe. */
int trainingjob_check_namespace(const char *ns, struct err *e);
int trainingjob_check_name(const char *name, struct err *e);

/* The checks trainingjob_parse() runs before decoding, for any JSON request body: no NUL
 * bytes, valid UTF-8, nesting at most TRAININGJOB_MAX_DEPTH (so jansson's recursion is
 * bounded). ERR_MALFORMED naming the offset. */
int api_json_prescan(const char *body, size_t len, struct err *e);

/* Renders j as the API returns it: apiVersion, kind, metadata {name, namespace, uid,
 * labels, creationTimestamp, resourceVersion (a string)}, spec, status {phase, cluster,
 * pool, attempt, preemptions, retries, held, reason, message, admittedAt, startTime, completionTime,
 * lastCheckpointTime, conditions}. Unset fields (NULL strings, zero times) are omitted.
 * Returns a new reference (caller json_decref()s it); never NULL. Does not modify j.
 * Thread-safe for distinct or unshared-mutable j. */
json_t *trainingjob_to_json(const struct job *j);

/* The same document as JSON text appended to b, built without a jansson tree (labels and
 * spec are embedded as the store's text): what the API's answers are made of. */
struct buf;
void trainingjob_render(const struct job *j, struct buf *b);
/* The same with status_extra (members as JSON text, without braces: "\"a\":1,\"b\":2"; NULL
 * or "" for none) added last to the status object. */
void trainingjob_render_with(const struct job *j, const char *status_extra, struct buf *b);

/* Renders one timeline entry: {id, time, type, reason, message, fromPhase, toPhase}, NULL
 * strings omitted. Returns a new reference; never NULL. */
json_t *trainingjob_event_to_json(const struct job_event *ev);

#endif
