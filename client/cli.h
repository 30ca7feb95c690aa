/* cli.h -- the client verbs of the fedsched binary: submit, get, list, cancel, wait,
 * explain, logs-url and report. They talk to the REST API (FEDSCHED_URL, FEDSCHED_TOKEN)
 * and are made for CI pipelines and cron: clear messages on stderr, machine-readable
 * output on stdout (-o json), and exit codes a script can branch on.
 * Not responsible for the server (serve.c) or for the HTTP details (cli_http.c). */
#ifndef CLIENT_CLI_H
#define CLIENT_CLI_H

#include <stdbool.h>

/* Exit codes, stable for scripts (docs/operations.md). */
enum cli_exit {
    CLI_EXIT_OK = 0,          /* done; for wait: the job Succeeded */
    CLI_EXIT_JOB_FAILED = 1,  /* the job ended Failed or Cancelled (reason on stderr) */
    CLI_EXIT_USAGE = 2,       /* bad command line or input file */
    CLI_EXIT_API = 3,         /* the API refused the request (status, code, field, message) */
    CLI_EXIT_UNREACHABLE = 4, /* the API could not be reached within the retry budget */
    CLI_EXIT_TIMEOUT = 5,     /* --timeout passed before the job finished */
    /* wait --fail-if-unschedulable: the job can never start as the federation stands (its
     * estimated start is "never"); it stays queued */
    CLI_EXIT_UNSCHEDULABLE = 6,
};

/* True when name is one of the client verbs. */
bool cli_is_verb(const char *name);

/* Runs verb argv[0] with its arguments; returns an enum cli_exit value. Reads the
 * environment (FEDSCHED_URL, FEDSCHED_TOKEN, FEDSCHED_NAMESPACE); writes results to
 * stdout and messages to stderr. Single-threaded. */
int cli_main(int argc, char **argv);

#endif
