/* secrets.c -- credential files only from the configured secrets directory (see secrets.h). */
#include "cluster/secrets.h"

#include "base/err.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process-wide configuration, written once at start (secrets.h). */
static char secrets_dir[CLUSTER_SECRETS_DIR_MAX] = CLUSTER_SECRETS_DIR_DEFAULT;

int cluster_secrets_set_dir(const char *dir, struct err *e)
{
    if (!dir || !*dir)
        return err_set(e, ERR_CONFIG, "secretsDir", "secretsDir must not be empty");
    if (strlen(dir) >= sizeof(secrets_dir))
        return err_set(e, ERR_CONFIG, "secretsDir", "secretsDir is longer than %zu bytes",
                       sizeof(secrets_dir) - 1);
    snprintf(secrets_dir, sizeof(secrets_dir), "%s", dir);
    return 0;
}

const char *cluster_secrets_dir(void)
{
    return secrets_dir;
}

/* True when path (resolved, absolute) is strictly below dir (resolved, absolute), on a
 * component boundary: /etc/fedsched/secrets-evil is not inside /etc/fedsched/secrets. */
static bool inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    if (strcmp(dir, "/") == 0)
        return path[0] == '/' && path[1] != '\0';
    return strncmp(path, dir, n) == 0 && path[n] == '/' && path[n + 1] != '\0';
}

/* Resolves dir into a malloc'd absolute path, or fails naming field. */
static int resolve_dir(const char *dir, const char *path, const char *field, char **out,
                       struct err *e)
{
    char *d = realpath(dir, NULL);

    if (!d)
        return err_set(e, ERR_INVALID, field,
                       "%s \"%s\": the secrets directory (secretsDir) cannot be resolved: %s",
                       field, path, strerror(errno));
    *out = d;
    return 0;
}

int cluster_secrets_resolve(const char *dir, const char *path, const char *field, char *out,
                            size_t size, struct err *e)
{
    char *d = NULL, *joined = NULL, *r = NULL;
    int rc = -1;

    if (!path[0])
        return err_set(e, ERR_INVALID, field, "%s must not be empty", field);
    if (resolve_dir(dir, path, field, &d, e))
        return -1;
    joined = path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", d, path);
    r = realpath(joined, NULL);
    if (!r) {
        if (errno == ENOENT || errno == ENOTDIR)
            err_set(e, ERR_INVALID, field, "%s \"%s\" does not exist", field, path);
        else
            err_set(e, ERR_INVALID, field, "%s \"%s\" cannot be resolved: %s", field, path,
                    strerror(errno));
        goto out;
    }
    if (!inside(d, r)) {
        err_set(e, ERR_INVALID, field,
                "%s \"%s\" is outside the secrets directory (secretsDir); `..` and symlinks "
                "leading out are refused",
                field, path);
        goto out;
    }
    if (strlen(r) >= size) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" resolves to a path that is too long", field,
                path);
        goto out;
    }
    snprintf(out, size, "%s", r);
    rc = 0;
out:
    free(r);
    free(joined);
    free(d);
    return rc;
}

static int not_regular(const char *path, const char *field, const struct stat *st, struct err *e)
{
    const char *what = S_ISDIR(st->st_mode)                           ? "a directory"
                       : S_ISFIFO(st->st_mode)                        ? "a FIFO"
                       : S_ISLNK(st->st_mode)                         ? "a symbolic link"
                       : S_ISSOCK(st->st_mode)                        ? "a socket"
                       : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? "a device"
                                                                      : "not a regular file";

    return err_set(e, ERR_INVALID, field, "%s \"%s\" is %s, not a regular file", field, path, what);
}

int cluster_secrets_stat(const char *dir, const char *path, const char *field, struct stat *st,
                         struct err *e)
{
    char resolved[PATH_MAX];

    if (cluster_secrets_resolve(dir, path, field, resolved, sizeof(resolved), e))
        return -1;
    if (lstat(resolved, st) != 0)
        return err_set(e, ERR_INVALID, field, "%s \"%s\" cannot be read: %s", field, path,
                       strerror(errno));
    if (!S_ISREG(st->st_mode))
        return not_regular(path, field, st, e);
    return 0;
}

/* What fd really is, by the kernel's account; false when it cannot say (no /proc), in
 * which case the checks before the open stand alone. */
static bool opened_path(int fd, char *out, size_t size)
{
    char link[64];
    ssize_t n;

    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    n = readlink(link, out, size - 1);
    if (n <= 0 || (size_t)n >= size - 1)
        return false;
    out[n] = '\0';
    return true;
}

int cluster_secrets_read(const char *dir, const char *path, const char *field, size_t max,
                         char **out, size_t *len, struct stat *st, struct err *e)
{
    char resolved[PATH_MAX], really[PATH_MAX], *d = NULL, *buf = NULL;
    size_t n = 0;
    int fd = -1, rc = -1;

    if (cluster_secrets_resolve(dir, path, field, resolved, sizeof(resolved), e))
        return -1;
    /* The resolved path has no symlink in it; if one was swapped in since, O_NOFOLLOW
     * refuses the last component and the /proc check below catches the others. */
    fd = open(resolved, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        if (errno == ELOOP)
            err_set(e, ERR_INVALID, field, "%s \"%s\" became a symbolic link", field, path);
        else
            err_set(e, ERR_INVALID, field, "%s \"%s\" cannot be opened: %s", field, path,
                    strerror(errno));
        goto out;
    }
    if (fstat(fd, st) != 0) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" cannot be read: %s", field, path,
                strerror(errno));
        goto out;
    }
    if (!S_ISREG(st->st_mode)) {
        not_regular(path, field, st, e);
        goto out;
    }
    if (resolve_dir(dir, path, field, &d, e))
        goto out;
    if (opened_path(fd, really, sizeof(really)) && !inside(d, really)) {
        err_set(e, ERR_INVALID, field,
                "%s \"%s\" is outside the secrets directory (secretsDir); `..` and symlinks "
                "leading out are refused",
                field, path);
        goto out;
    }
    if (st->st_size == 0) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" is empty", field, path);
        goto out;
    }
    if ((unsigned long long)st->st_size > max) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" is over %zu bytes", field, path, max);
        goto out;
    }
    /* Read one byte past the cap, so a file that grew since fstat is still refused. */
    buf = xmalloc(max + 2);
    while (n <= max) {
        ssize_t got = read(fd, buf + n, max + 1 - n);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            err_set(e, ERR_INVALID, field, "%s \"%s\" cannot be read: %s", field, path,
                    strerror(errno));
            goto out;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (n == 0) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" is empty", field, path);
        goto out;
    }
    if (n > max) {
        err_set(e, ERR_INVALID, field, "%s \"%s\" is over %zu bytes", field, path, max);
        goto out;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    buf = NULL;
    rc = 0;
out:
    if (buf) {
        memset(buf, 0, max + 2);
        free(buf);
    }
    free(d);
    if (fd >= 0)
        close(fd);
    return rc;
}
