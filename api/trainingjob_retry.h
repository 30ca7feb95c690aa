/* trainingjob_retry.h -- spec.scheduling.retry of a TrainingJob on the wire: its limits and
 * its validation, which api/trainingjob.c applies to a submitted spec and the configuration
 * (retryDefaults) to each namespace's default. The scheduler reads the canonical object it
 * makes (scheduler/retry.h). Implemented in trainingjob.c, beside the rest of the spec. */
#ifndef API_TRAININGJOB_RETRY_H
#define API_TRAININGJOB_RETRY_H

#include <jansson.h>

struct err;

#define RETRY_MAX_RETRIES           100
#define RETRY_RULES_MAX             20    /* as Kubernetes' podFailurePolicy.rules */
#define RETRY_BACKOFF_MAX_S         86400 /* backoffSeconds and maxBackoffSeconds */
#define RETRY_BACKOFF_DEFAULT_S     10
#define RETRY_MAX_BACKOFF_DEFAULT_S 600

/* Validates the retry object in (at path, "spec.scheduling.retry" say, which every error's
 * field starts with) and sets *out to its canonical form (caller json_decref()s): maxRetries
 * (0..100, default 0), backoffSeconds (0..86400, default 10), maxBackoffSeconds (0..86400,
 * default 600, at least backoffSeconds), and rules when there are any: at most 20 of
 * {class: Infrastructure | ExitCode | OOM, action: Retry | Fail} and, for ExitCode only,
 * {operator: In | NotIn, values: 1..255 distinct codes of 0..255, 0 not In}. Fails with
 * ERR_MALFORMED for a wrong JSON type or an unknown field, ERR_INVALID for a value out of
 * range or not one of the choices; *out is then untouched. */
int trainingjob_retry_parse(json_t *in, const char *path, json_t **out, struct err *e);

#endif
