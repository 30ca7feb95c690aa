/* secrets.h -- where member-cluster credential files (tokenFile, caFile) may come from: one
 * configured directory. A path is resolved with realpath() (so `..` and symlinks are
 * followed to where they really lead) and must land strictly inside the resolved directory,
 * on a path-component boundary. Files are opened without following a final symlink, must be
 * regular, non-empty and under a byte cap. Without this an admin could name
 * /proc/self/environ as a token file and have fedsched send it to a server of their choice.
 * Not responsible for what the files contain (credentials.c parses tokens and CA bundles). */
#ifndef CLUSTER_SECRETS_H
#define CLUSTER_SECRETS_H

#include <stddef.h>
#include <sys/stat.h>

struct err;

#define CLUSTER_SECRETS_DIR_DEFAULT "/etc/fedsched/secrets"
#define CLUSTER_SECRETS_DIR_MAX     512

/* Sets the process-wide secrets directory (the config key secretsDir). Call once at start,
 * before any thread reads credential files; later calls are for tests that run in one
 * process. The directory need not exist yet (files in it are then refused). Fails with
 * ERR_CONFIG (field secretsDir) when dir is empty or too long. Until it is called the
 * directory is CLUSTER_SECRETS_DIR_DEFAULT. */
int cluster_secrets_set_dir(const char *dir, struct err *e);

/* The configured directory, as given (not resolved). Valid until the next set_dir. */
const char *cluster_secrets_dir(void);

/* Resolves path against dir: a relative path is taken relative to dir, an absolute one as
 * is; either must, once every symlink and `..` is resolved, name something strictly inside
 * the resolved dir. Writes the resolved absolute path into out. Fails with ERR_INVALID,
 * e->field = field ("tokenFile"), e->msg quoting path (never the file's contents), when
 * the path is empty, cannot be resolved (missing, unreadable directory), or leads outside. */
int cluster_secrets_resolve(const char *dir, const char *path, const char *field, char *out,
                            size_t size, struct err *e);

/* cluster_secrets_resolve(), then lstat() of the result, which must be a regular file.
 * For cheap change detection before a read. Fails like resolve. */
int cluster_secrets_stat(const char *dir, const char *path, const char *field, struct stat *st,
                         struct err *e);

/* Reads the whole file path names (resolved as above) into *out, NUL-terminated, *len
 * bytes. The resolved path is opened with O_NOFOLLOW|O_CLOEXEC|O_NONBLOCK (a symlink swapped
 * in after the check, or a FIFO, cannot make us read elsewhere or block), and what was
 * opened is checked again: a regular file, inside dir, 1..max bytes. *st receives its
 * fstat. Caller owns *out: wipe it if secret, then free(). Fails with ERR_INVALID naming
 * field when the file is missing, unreadable, not regular, empty or over max bytes; *out is
 * written only on success. */
int cluster_secrets_read(const char *dir, const char *path, const char *field, size_t max,
                         char **out, size_t *len, struct stat *st, struct err *e);

#endif
