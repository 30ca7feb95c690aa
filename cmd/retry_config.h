/* retry_config.h -- the configuration's retryDefaults: each namespace's retry policy for
 * jobs whose spec has none ("*": every other namespace), validated as
 * spec.scheduling.retry is (api/trainingjob_retry.h). The scheduler applies them
 * (scheduler/retry.h: retry_defaults_set()). */
#ifndef CMD_RETRY_CONFIG_H
#define CMD_RETRY_CONFIG_H

#include <jansson.h>

struct err;

/* Validates v, {"<namespace>": {retry}, "*": {retry}}, and sets *out to the same object with
 * each policy in its canonical form (caller json_decref()s). Fails with ERR_CONFIG naming
 * the field ("retryDefaults.team-a.rules[0].class") and the value: v not an object, a key
 * neither a namespace name (DNS-1123 label) nor "*", a policy spec.scheduling.retry would
 * refuse. *out is untouched then. */
int retry_config_parse(const json_t *v, json_t **out, struct err *e);

#endif
