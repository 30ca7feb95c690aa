/* token.h -- `fedsched token create|list|revoke`: API tokens, straight in PostgreSQL. */
#ifndef SCHEDULER_TOKEN_H
#define SCHEDULER_TOKEN_H

/* Returns the process exit code. */
int token_main(int argc, char **argv);

#endif
