/* token.h -- `fedsched token create|list|revoke`: API tokens, straight in PostgreSQL. */
#ifndef CMD_TOKEN_H
#define CMD_TOKEN_H

/* Returns the process exit code. */
int token_main(int argc, char **argv);

#endif
