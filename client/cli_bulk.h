/* cli_bulk.h -- the job-set verbs of the fedsched binary: `cancel -l SELECTOR`, `hold -l
 * SELECTOR` and `release -l SELECTOR` (POST .../trainingjobs:cancel|hold|release), and how
 * their result is printed. cli.c parses the command line and makes the call.
 * Not responsible for HTTP (cli_http.c) or the single-job verbs (cli.c). */
#ifndef CLIENT_CLI_BULK_H
#define CLIENT_CLI_BULK_H

#include <jansson.h>
#include <stdbool.h>

/* True for "hold" and "release", which only exist with a selector ("cancel" is one when
 * given -l). */
bool cli_bulk_is_verb(const char *name);

/* Prints a TrainingJobBulkResult on stdout: -o json as it came, -o name the changed jobs
 * (trainingjob/NAME), otherwise a table of every matched job (NAMESPACE, NAME, RESULT:
 * "Queued -> Cancelled" or "unchanged: AlreadyCancelled") and a summary line. */
void cli_bulk_print(const json_t *result, const char *output);

#endif
