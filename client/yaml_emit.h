/* yaml_emit.h -- jansson values to YAML text, for `fedsched get -o yaml`.
 * Not responsible for reading YAML (yaml.h); the output reads back through
 * yaml_parse_all() as the same value (tests/unit/test_yaml.c checks the round trip). */
#ifndef CLIENT_YAML_EMIT_H
#define CLIENT_YAML_EMIT_H

#include <jansson.h>

/* v as one YAML document in block style (no "---" line), ending in a newline. A string
 * is written plain only when no YAML 1.1 or 1.2 reader could take it for anything else
 * (it starts with a letter or '/', has only letters, digits and "_./-", and is not a
 * word like null, true or yes); otherwise double-quoted with escapes. Empty objects and
 * arrays are {} and []. Caller frees the result. Never fails (aborts on OOM). */
char *yaml_emit(json_t *v);

#endif
