/* serve.h -- the `serve` and `migrate` subcommands. */
#ifndef CMD_SERVE_H
#define CMD_SERVE_H

/* Each returns the process exit code. */
int serve_main(int argc, char **argv);
int migrate_main(int argc, char **argv);

#endif
