/* auth.c -- API tokens (only their SHA-256 is stored), the installation's key for
 * checkpoint tokens, and the audit log, including the helpers that put a mutation's audit
 * row in the mutation's own transaction. */
#include "store/store.h"

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/conn.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* namespaces[] as a PostgreSQL text[] literal. */
static char *text_array(const char *const *v, size_t n)
{
    struct buf b;

    buf_init(&b, 0);
    buf_puts(&b, "{");
    for (size_t i = 0; i < n; i++)
        store_array_add(&b, v[i]);
    buf_puts(&b, "}");
    return buf_steal(&b);
}

int store_token_create(struct store *s, const char *name, const char *role,
                       const char *const *namespaces, size_t n_ns, const char *hash_hex,
                       struct err *e)
{
    char *ns = text_array(namespaces, n_ns);
    const char *params[4] = {name, hash_hex, role, ns};
    PGresult *r = NULL;
    int rc;

    rc = store_exec(s,
                    "INSERT INTO api_tokens (name, token_hash, role, namespaces)"
                    " VALUES ($1, decode($2, 'hex'), $3, $4::text[])",
                    4, params, &r, e);
    PQclear(r);
    free(ns);
    if (rc && e && e->code == ERR_CONFLICT)
        err_set(e, ERR_CONFLICT, "name", "a token named %s exists already", name);
    return rc;
}

/* {a,b} -> array of strings. */
static void parse_text_array(const char *lit, char ***out, size_t *n)
{
    char **v = NULL;
    size_t count = 0;
    const char *p = lit;

    if (*p == '{')
        p++;
    while (*p && *p != '}') {
        size_t len = strcspn(p, ",}");
        char *item = xstrndup(p, len);

        /* Namespace names never need quoting (DNS labels), but be safe. */
        if (item[0] == '"' && len >= 2) {
            memmove(item, item + 1, len - 2);
            item[len - 2] = '\0';
        }
        v = xrealloc(v, (count + 1) * sizeof(*v));
        v[count++] = item;
        p += len;
        if (*p == ',')
            p++;
    }
    *out = v;
    *n = count;
}

static void token_from_row(PGresult *r, int row, struct store_token *t)
{
    memset(t, 0, sizeof(*t));
    t->name = xstrdup(PQgetvalue(r, row, 0));
    t->role = xstrdup(PQgetvalue(r, row, 1));
    parse_text_array(PQgetvalue(r, row, 2), &t->namespaces, &t->n_namespaces);
    t->created_ms = strtoll(PQgetvalue(r, row, 3), NULL, 10);
    t->revoked = !PQgetisnull(r, row, 4);
    t->last_used_ms = PQgetisnull(r, row, 5) ? 0 : strtoll(PQgetvalue(r, row, 5), NULL, 10);
}

#define TOKEN_COLUMNS                                                                              \
    "name, role, namespaces::text, (extract(epoch FROM created_at) * 1000)::bigint,"               \
    " revoked_at, (extract(epoch FROM last_used_at) * 1000)::bigint"

int store_token_lookup(struct store *s, const char *hash_hex, struct store_token *out,
                       struct err *e)
{
    const char *params[1] = {hash_hex};
    PGresult *r;

    /* Marks it used in the same trip; the API caches lookups, so this runs rarely. */
    if (store_exec(s,
                   "UPDATE api_tokens SET last_used_at = now() WHERE token_hash = decode($1,"
                   " 'hex') RETURNING " TOKEN_COLUMNS,
                   1, params, &r, e))
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return err_set(e, ERR_UNAUTHORIZED, NULL, "unknown token");
    }
    token_from_row(r, 0, out);
    PQclear(r);
    return 0;
}

int store_token_list(struct store *s, struct store_token **out, size_t *n, struct err *e)
{
    PGresult *r;
    struct store_token *v;

    if (store_exec(s, "SELECT " TOKEN_COLUMNS " FROM api_tokens ORDER BY name", 0, NULL, &r, e))
        return -1;
    v = xcalloc((size_t)PQntuples(r) + 1, sizeof(*v));
    for (int row = 0; row < PQntuples(r); row++)
        token_from_row(r, row, &v[row]);
    *out = v;
    *n = (size_t)PQntuples(r);
    PQclear(r);
    return 0;
}

int store_token_revoke(struct store *s, const char *name, struct err *e)
{
    const char *params[1] = {name};
    PGresult *r;
    bool found;

    if (store_exec(s,
                   "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now())"
                   " WHERE name = $1",
                   1, params, &r, e))
        return -1;
    found = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    if (!found)
        return err_set(e, ERR_NOT_FOUND, "name", "no token named %s", name);
    return 0;
}

void store_token_clear(struct store_token *t)
{
    free(t->name);
    free(t->role);
    for (size_t i = 0; i < t->n_namespaces; i++)
        free(t->namespaces[i]);
    free(t->namespaces);
    memset(t, 0, sizeof(*t));
}

void store_tokens_free(struct store_token **v, size_t n)
{
    if (!v || !*v)
        return;
    for (size_t i = 0; i < n; i++)
        store_token_clear(&(*v)[i]);
    free(*v);
    *v = NULL;
}

/* ---- the checkpoint token key ---- */

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int store_job_token_key(struct store *s, unsigned char key[32], struct err *e)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char fresh[32];
    char hex[65];
    const char *params[1] = {hex};
    PGresult *r = NULL;
    const char *got;

    if (getrandom(fresh, sizeof(fresh), 0) != (ssize_t)sizeof(fresh))
        return err_set(e, ERR_INTERNAL, NULL, "cannot make the job token key: getrandom failed");
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[fresh[i] >> 4];
        hex[2 * i + 1] = digits[fresh[i] & 15];
    }
    hex[64] = '\0';
    /* Two statements, not one: a SELECT in the INSERT's statement would not see the row of
     * a replica that won the race after our snapshot was taken. */
    if (store_exec(s,
                   "INSERT INTO job_token_key (key) VALUES (decode($1, 'hex'))"
                   " ON CONFLICT (id) DO NOTHING",
                   1, params, &r, e))
        return -1;
    PQclear(r);
    if (store_exec(s, "SELECT encode(key, 'hex') FROM job_token_key", 0, NULL, &r, e))
        return -1;
    got = PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "";
    if (strlen(got) != 64) {
        PQclear(r);
        return err_set(e, ERR_INTERNAL, NULL, "job_token_key holds no 32-byte key");
    }
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)(hex_nibble(got[2 * i]) << 4 | hex_nibble(got[2 * i + 1]));
    PQclear(r);
    return 0;
}

static const char sql_audit_insert[] =
    "INSERT INTO audit_log (ts, token_name, role, remote, method, path, namespace, status,"
    " detail) SELECT to_timestamp(t / 1000.0), tn, ro, re, me, pa, ns, st, de FROM"
    " unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    " $7::text[], $8::int[], $9::text[]) AS x(t, tn, ro, re, me, pa, ns, st, de)";

void store_audit_columns(struct buf *cols, const struct store_audit *rows, size_t n, bool alt)
{
    for (int c = 0; c < AUDIT_NCOLS; c++) {
        buf_init(&cols[c], 0);
        buf_puts(&cols[c], "{");
    }
    for (size_t i = 0; i < n; i++)
        store_audit_column_add(cols, rows ? &rows[i] : NULL, alt);
    for (int c = 0; c < AUDIT_NCOLS; c++)
        buf_puts(&cols[c], "}");
}

void store_audit_column_add(struct buf *cols, const struct store_audit *a, bool alt)
{
    char num[24];

    if (!a) {
        /* A placeholder: the batch's jobs that have no audit row. */
        for (int c = 0; c < AUDIT_NCOLS; c++)
            store_array_add(&cols[c], NULL);
        return;
    }
    snprintf(num, sizeof(num), "%lld", (long long)a->ts_ms);
    store_array_add(&cols[0], num);
    store_array_add(&cols[1], a->token_name);
    store_array_add(&cols[2], a->role);
    store_array_add(&cols[3], a->remote ? a->remote : "");
    store_array_add(&cols[4], a->method);
    store_array_add(&cols[5], a->path);
    store_array_add(&cols[6], a->ns);
    snprintf(num, sizeof(num), "%d", alt ? a->status_alt : a->status);
    store_array_add(&cols[7], num);
    store_array_add(&cols[8], a->detail);
}

int store_audit_insert(struct store *s, const struct store_audit *rows, size_t n, struct err *e)
{
    struct buf cols[AUDIT_NCOLS];
    const char *params[AUDIT_NCOLS];
    PGresult *r = NULL;
    int rc;

    if (n == 0)
        return 0;
    store_audit_columns(cols, rows, n, false);
    for (int c = 0; c < AUDIT_NCOLS; c++)
        params[c] = cols[c].data;
    rc = store_exec(s, sql_audit_insert, AUDIT_NCOLS, params, &r, e);
    PQclear(r);
    for (int c = 0; c < AUDIT_NCOLS; c++)
        buf_free(&cols[c]);
    /* A data exception (class 22, e.g. invalid UTF-8) or a violated constraint (23) is
     * about the rows themselves: no retry will change it. */
    if (rc && e && e->code == ERR_INTERNAL &&
        (strncmp(e->msg, "database error 22", 17) == 0 ||
         strncmp(e->msg, "database error 23", 17) == 0))
        e->code = ERR_INVALID;
    return rc;
}

/* ---- audit rows inside a mutation's transaction ---- */

int conn_begin(struct store *s, struct store_conn *c, struct err *e)
{
    for (int attempt = 0;; attempt++) {
        struct err local = {0};
        PGresult *r = NULL;

        if (conn_acquire(s, c, e))
            return -1;
        if (conn_exec(c, "BEGIN", 0, NULL, &r, &local) == 0) {
            PQclear(r);
            return 0;
        }
        conn_release(s, c); /* closes it: its socket broke */
        if (local.code != ERR_DB || attempt > 0) {
            if (e)
                *e = local;
            return -1;
        }
    }
}

int conn_finish(struct store *s, struct store_conn *c, bool commit, struct err *e)
{
    PGresult *r = NULL;
    int rc = 0;

    if (!c->pg)
        return commit ? err_set(e, ERR_INTERNAL, NULL, "no transaction to commit") : 0;
    if (commit) {
        rc = conn_exec(c, "COMMIT", 0, NULL, &r, e);
        PQclear(r);
    }
    if ((!commit || rc) && PQstatus(c->pg) == CONNECTION_OK)
        PQclear(PQexec(c->pg, "ROLLBACK"));
    conn_release(s, c);
    return rc;
}

int conn_audit_insert(struct store_conn *c, const struct store_audit *a, bool alt, struct err *e)
{
    struct buf cols[AUDIT_NCOLS];
    const char *params[AUDIT_NCOLS];
    PGresult *r = NULL;
    int rc;

    store_audit_columns(cols, a, 1, alt);
    for (int i = 0; i < AUDIT_NCOLS; i++)
        params[i] = cols[i].data;
    rc = conn_exec(c, sql_audit_insert, AUDIT_NCOLS, params, &r, e);
    PQclear(r);
    for (int i = 0; i < AUDIT_NCOLS; i++)
        buf_free(&cols[i]);
    return rc;
}

int store_exec_audited(struct store *s, const char *sql, int nparams, const char *const *params,
                       const struct store_audit *audit,
                       enum audit_outcome (*outcome)(const PGresult *r), PGresult **out,
                       struct err *e)
{
    struct store_conn c = {0};
    PGresult *r = NULL;
    enum audit_outcome o;

    if (!audit)
        return store_exec(s, sql, nparams, params, out, e);
    if (conn_begin(s, &c, e))
        return -1;
    if (conn_exec(&c, sql, nparams, params, &r, e))
        goto fail;
    o = outcome(r);
    if (o != AUDIT_NONE && conn_audit_insert(&c, audit, o == AUDIT_STATUS_ALT, e))
        goto fail;
    /* Nothing changed: nothing to commit, and no row (the caller's error is audited). */
    if (conn_finish(s, &c, o != AUDIT_NONE, e)) {
        PQclear(r);
        return -1;
    }
    *out = r;
    return 0;
fail:
    PQclear(r);
    conn_finish(s, &c, false, NULL);
    return -1;
}

int store_audit_list(struct store *s, int64_t before_id, int limit, const char *token_name,
                     struct store_audit_page *out, struct err *e)
{
    char before[24], lim[16];
    const char *params[3] = {before, lim, token_name};
    PGresult *r;

    snprintf(before, sizeof(before), "%lld", (long long)(before_id > 0 ? before_id : INT64_MAX));
    snprintf(lim, sizeof(lim), "%d", limit);
    if (store_exec(s,
                   "SELECT id, (extract(epoch FROM ts) * 1000)::bigint, token_name, role, remote,"
                   " method, path, namespace, status, detail FROM audit_log"
                   " WHERE id < $1 AND ($3::text IS NULL OR token_name = $3)"
                   " ORDER BY id DESC LIMIT $2",
                   3, params, &r, e))
        return -1;
    out->n = (size_t)PQntuples(r);
    out->rows = xcalloc(out->n + 1, sizeof(*out->rows));
    out->ids = xcalloc(out->n + 1, sizeof(*out->ids));
    for (int row = 0; row < PQntuples(r); row++) {
        struct store_audit *a = &out->rows[row];

        out->ids[row] = strtoll(PQgetvalue(r, row, 0), NULL, 10);
        a->ts_ms = strtoll(PQgetvalue(r, row, 1), NULL, 10);
        a->token_name = PQgetisnull(r, row, 2) ? NULL : xstrdup(PQgetvalue(r, row, 2));
        a->role = PQgetisnull(r, row, 3) ? NULL : xstrdup(PQgetvalue(r, row, 3));
        a->remote = xstrdup(PQgetvalue(r, row, 4));
        a->method = xstrdup(PQgetvalue(r, row, 5));
        a->path = xstrdup(PQgetvalue(r, row, 6));
        a->ns = PQgetisnull(r, row, 7) ? NULL : xstrdup(PQgetvalue(r, row, 7));
        a->status = (int)strtol(PQgetvalue(r, row, 8), NULL, 10);
        a->detail = PQgetisnull(r, row, 9) ? NULL : xstrdup(PQgetvalue(r, row, 9));
    }
    PQclear(r);
    return 0;
}

void store_audit_page_free(struct store_audit_page *p)
{
    for (size_t i = 0; i < p->n; i++) {
        struct store_audit *a = &p->rows[i];

        free((char *)a->token_name);
        free((char *)a->role);
        free((char *)a->remote);
        free((char *)a->method);
        free((char *)a->path);
        free((char *)a->ns);
        free((char *)a->detail);
    }
    free(p->rows);
    free(p->ids);
    memset(p, 0, sizeof(*p));
}
