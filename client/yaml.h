/* yaml.h -- YAML (and JSON, which is YAML) text to jansson values, for what people type:
 * job manifests and kubeconfig files. Lives in client/ because base/ may not use jansson.
 * Not responsible for what the values mean (the callers check fields), nor for writing
 * YAML (client/yaml_emit.h). */
#ifndef CLIENT_YAML_H
#define CLIENT_YAML_H

#include <jansson.h>
#include <stddef.h>

struct err;

#define YAML_MAX_DEPTH 64     /* nested collections in one document */
#define YAML_MAX_NODES 100000 /* values built across all documents, aliases counted */
#define YAML_MAX_BYTES (4 * 1024 * 1024)

/* Parses every document of text[0..len) into a new JSON array, one value per document;
 * documents with no content are skipped (so an empty file gives []). Mappings become
 * objects (keys must be scalars; a duplicate key is refused), sequences arrays. Plain
 * scalars resolve as the YAML 1.2 core schema says: null, Null, NULL, ~ and the empty
 * plain scalar are null; true/false (and True, TRUE, ...) booleans; decimal, 0o octal
 * and 0x hex integers that fit in 64 bits integers; decimal floats, .inf and .nan reals;
 * everything else, and every quoted or block scalar, a string. Tags are ignored except
 * !!str, which keeps a plain scalar a string. Anchors and aliases are expanded; the
 * expansion counts toward YAML_MAX_NODES, so an alias bomb fails instead of growing.
 * On success *docs is the array (caller owns it; json_decref) and 0 is returned. On
 * failure *docs is untouched, -1 is returned and e says ERR_MALFORMED (or ERR_TOO_LARGE
 * for the depth, node and byte limits) with a message naming "line L, column C"
 * (1-based) and the problem. Thread-safe (no shared state). */
int yaml_parse_all(const char *text, size_t len, json_t **docs, struct err *e);

#endif
