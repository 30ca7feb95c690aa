/* cli_completion.h -- `fedsched completion bash|zsh`: shell completion scripts.
 * Not responsible for the verbs themselves (cli.c): it is given their names. */
#ifndef CLIENT_CLI_COMPLETION_H
#define CLIENT_CLI_COMPLETION_H

#include <stddef.h>
#include <stdio.h>

/* Writes the completion script for shell ("bash" or "zsh") to out. The script completes
 * verbs[0..n), the options, -o and --format values, files after -f and --out, the
 * words after `cluster`, and job names after the job verbs by running
 * `fedsched list -q -o name` with the -n, --url and --token of the line being completed
 * (so a server that does not answer within a second gives no names, not a hang).
 * Returns 0, or -1 for another shell (nothing written). */
int cli_completion(FILE *out, const char *shell, const char *const *verbs, size_t n);

#endif
