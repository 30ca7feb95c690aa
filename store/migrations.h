/* migrations.h -- the SQL migrations compiled into the binary (generated from
 * the .sql files in migrations/ by store/embed-migrations.sh), in version order. */
#ifndef STORE_MIGRATIONS_H
#define STORE_MIGRATIONS_H

#include <stddef.h>

struct migration {
    int version;      /* from the file name's leading number */
    const char *name; /* file name without .sql */
    const char *sql;
    size_t len;
};

extern const struct migration migrations[];
extern const int migrations_count;

#endif
