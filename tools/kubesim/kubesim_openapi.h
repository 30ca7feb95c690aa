/* kubesim_openapi.h -- the OpenAPI v3 documents of a simulated cluster (GET /openapi/v3 and
 * /openapi/v3/api/v1, /openapi/v3/apis/GROUP/VERSION) and server-side field validation
 * (the fieldValidation parameter of a create) as the API server applies them.
 * What kubectl reads: the index's serverRelativeURL per group/version, then in that
 * document the PATCH operation carrying x-kubernetes-group-version-kind of the object's kind
 * and whether its parameters name fieldValidation; when they do, kubectl skips client-side
 * validation and sends ?fieldValidation=Strict (cli-runtime query_param_verifier_v3.go).
 * Not responsible for the objects (kubesim_cluster.c) or for HTTP (kubesim.c). The schemas
 * list the fields of batch/v1 Job down to its containers; deeper types and other kinds are
 * described without their fields, and unknown fields are found in Jobs only. */
#ifndef TOOLS_KUBESIM_KUBESIM_OPENAPI_H
#define TOOLS_KUBESIM_KUBESIM_OPENAPI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* An OpenAPI answer: status 200 with body (caller frees), or 301 to location (a stale hash),
 * or 404. immutable: the body was asked for by its current hash (cache it for good). */
struct sim_openapi_reply {
    int status;
    char *body;
    size_t len;
    char location[256];
    bool immutable;
};

/* Answers GET path (starting "/openapi/v3") for a cluster serving crds (array of
 * "group/version" besides the built-in ones, as kubesim_discovery.h); hash: the request's
 * ?hash= or NULL; prefix: what the client put before /openapi/v3 ("" or "/c/NAME"), for the
 * redirect of a stale hash. The index names each document as
 * /openapi/v3/api/v1?hash=HEX, HEX the SHA-256 of its body in upper case. */
void sim_openapi_serve(const json_t *crds, const char *path, const char *hash, const char *prefix,
                       struct sim_openapi_reply *out);

/* Field validation of a create (POST) of path with body, as the API server applies its
 * fieldValidation parameter (directive: the parameter; NULL or "" means "Warn", the API
 * server's default):
 * - 0: it may go ahead; *warnings (caller json_decref()s; NULL when none) holds the messages
 *   ("unknown field \"spec.foo\"") to send as Warning headers (Warn);
 * - -1: refused with *code and *message (caller frees): 422 for a directive other than
 *   Ignore, Warn, Strict; 400 BadRequest "Job in version \"v1\" cannot be handled as a Job:
 *   strict decoding error: unknown field \"spec.foo\"" for unknown fields under Strict.
 * A body that is not a JSON object is left to the cluster (0, no warnings). */
int sim_openapi_check_create(const char *path, const char *directive, const char *body, size_t len,
                             json_t **warnings, int *code, char **message);

/* The value of a Warning header carrying message, as the API server writes it:
 * 299 - "message" with " and \ escaped. Caller frees. */
char *sim_warning_header(const char *message);

/* The unknown fields of a batch/v1 Job (a parsed object), as the API server's strict decoder
 * names them, in document order: a new array of strings "unknown field \"PATH\"", PATH dotted
 * from the root, array elements as [i]. */
json_t *sim_openapi_job_unknown_fields(const json_t *job);

#endif
