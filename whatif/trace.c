/* trace.c -- CSV, tab-separated and JSON trace loaders (openb 2023, Philly via Gavel). */
#include "whatif/trace.h"

#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS_MAX 16

int trace_read_file(const char *path, char **out, size_t *len, struct err *e)
{
    FILE *f = NULL;
    char *data = NULL;
    size_t n = 0, cap = 1 << 16;
    int rc = -1;

    f = fopen(path, "rb");
    if (!f)
        return err_set(e, ERR_IO, "path", "cannot open %s: %s", path, strerror(errno));
    data = xmalloc(cap + 1);
    for (;;) {
        size_t got;

        if (n == cap) {
            if (cap >= TRACE_MAX_BYTES) {
                err_set(e, ERR_TOO_LARGE, "path", "%s is larger than %u bytes", path,
                        TRACE_MAX_BYTES);
                goto out;
            }
            cap *= 2;
            data = xrealloc(data, cap + 1);
        }
        got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        err_set(e, ERR_IO, "path", "cannot read %s", path);
        goto out;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    data = NULL;
    rc = 0;
out:
    free(data);
    fclose(f);
    return rc;
}

/* ---- line and field splitting ---------------------------------------------------------- */

/* A cursor over text, one line at a time; lines end at \n, a trailing \r is dropped. */
struct lines {
    const char *p, *end;
    size_t no;
};

static bool next_line(struct lines *L, char *buf, size_t size, bool *too_long)
{
    const char *nl;
    size_t n;

    if (L->p >= L->end)
        return false;
    nl = memchr(L->p, '\n', (size_t)(L->end - L->p));
    n = nl ? (size_t)(nl - L->p) : (size_t)(L->end - L->p);
    if (n > 0 && L->p[n - 1] == '\r')
        n--;
    *too_long = n >= size;
    if (*too_long)
        n = size - 1;
    memcpy(buf, L->p, n);
    buf[n] = '\0';
    L->p = nl ? nl + 1 : L->end;
    L->no++;
    return true;
}

/* Splits line in place at sep; returns the number of fields (at most max). */
static size_t split(char *line, char sep, char **f, size_t max)
{
    size_t n = 0;
    char *s = line;

    for (;;) {
        char *c = strchr(s, sep);

        if (n == max)
            return max + 1; /* too many: the caller rejects the line */
        f[n++] = s;
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t')
            return false;
    return true;
}

static int col_of(char **hdr, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(hdr[i], name) == 0)
            return (int)i;
    return -1;
}

static int field_i64(char **f, int col, const char *what, size_t line, const char *name,
                     int64_t min, int64_t max, int64_t *out, struct err *e)
{
    if (num_parse_i64(f[col], min, max, out))
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s: '%s' is not an integer in [%lld, %lld]",
                       what, line, name, f[col], (long long)min, (long long)max);
    return 0;
}

static int field_str(char **f, int col, const char *what, size_t line, const char *name, char *out,
                     size_t size, bool required, struct err *e)
{
    size_t n = strlen(f[col]);

    if (required && n == 0)
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s is empty", what, line, name);
    if (n >= size)
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s '%.40s...' is longer than %zu bytes",
                       what, line, name, f[col], size - 1);
    memcpy(out, f[col], n + 1);
    return 0;
}

/* Reads the header and resolves the named columns (all required) into cols[]. */
static int header(struct lines *L, char *buf, size_t size, const char *what,
                  const char *const *names, size_t n_names, int *cols, size_t *n_fields,
                  struct err *e)
{
    char *f[FIELDS_MAX + 1];
    bool too_long;
    size_t n;

    if (!next_line(L, buf, size, &too_long))
        return err_set(e, ERR_MALFORMED, "header", "%s: empty file, expected a header line", what);
    n = split(buf, ',', f, FIELDS_MAX);
    if (too_long || n > FIELDS_MAX)
        return err_set(e, ERR_MALFORMED, "header", "%s:1: header is too long", what);
    for (size_t i = 0; i < n_names; i++) {
        cols[i] = col_of(f, n, names[i]);
        if (cols[i] < 0)
            return err_set(e, ERR_MALFORMED, names[i], "%s:1: header has no column '%s'", what,
                           names[i]);
    }
    *n_fields = n;
    return 0;
}

/* ---- openb ------------------------------------------------------------------------------ */

enum { NC_SN, NC_CPU, NC_MEM, NC_GPU, NC_MODEL, NC_COUNT };
static const char *const node_cols[NC_COUNT] = {"sn", "cpu_milli", "memory_mib", "gpu", "model"};

int trace_openb_nodes_parse(const char *text, size_t len, const char *what,
                            struct trace_openb_node **out, size_t *n_out, struct err *e)
{
    struct lines L = {text, text + len, 0};
    char buf[1024];
    char *f[FIELDS_MAX + 1];
    int cols[NC_COUNT];
    size_t nf, n = 0, cap = 256;
    struct trace_openb_node *v = NULL;
    bool too_long;
    int rc = -1;

    if (header(&L, buf, sizeof(buf), what, node_cols, NC_COUNT, cols, &nf, e))
        return -1;
    v = xcalloc(cap, sizeof(*v));
    while (next_line(&L, buf, sizeof(buf), &too_long)) {
        struct trace_openb_node *r;
        int64_t g;

        if (blank(buf))
            continue;
        if (too_long || split(buf, ',', f, FIELDS_MAX) != nf) {
            err_set(e, ERR_MALFORMED, "line", "%s:%zu: expected %zu comma-separated fields", what,
                    L.no, nf);
            goto out;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        r = &v[n];
        memset(r, 0, sizeof(*r));
        if (field_str(f, cols[NC_SN], what, L.no, "sn", r->name, sizeof(r->name), true, e) ||
            field_i64(f, cols[NC_CPU], what, L.no, "cpu_milli", 0, INT64_MAX / 4, &r->cpu_milli,
                      e) ||
            field_i64(f, cols[NC_MEM], what, L.no, "memory_mib", 0, INT64_MAX / 4, &r->memory_mib,
                      e) ||
            field_i64(f, cols[NC_GPU], what, L.no, "gpu", 0, 64, &g, e) ||
            field_str(f, cols[NC_MODEL], what, L.no, "model", r->model, sizeof(r->model), false, e))
            goto out;
        r->gpus = (int)g;
        if (r->gpus > 0 && !r->model[0]) {
            err_set(e, ERR_MALFORMED, "model", "%s:%zu: node %s has %d GPUs but no model", what,
                    L.no, r->name, r->gpus);
            goto out;
        }
        n++;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    rc = 0;
out:
    free(v);
    return rc;
}

enum {
    PC_NAME,
    PC_CPU,
    PC_MEM,
    PC_NGPU,
    PC_MILLI,
    PC_SPEC,
    PC_QOS,
    PC_PHASE,
    PC_CREATED,
    PC_DELETED,
    PC_SCHEDULED,
    PC_COUNT
};
static const char *const pod_cols[PC_COUNT] = {
    "name", "cpu_milli", "memory_mib",    "num_gpu",       "gpu_milli",     "gpu_spec",
    "qos",  "pod_phase", "creation_time", "deletion_time", "scheduled_time"};

static int opt_time(char **f, int col, const char *what, size_t line, const char *name,
                    int64_t *out, struct err *e)
{
    if (f[col][0] == '\0') {
        *out = -1;
        return 0;
    }
    return field_i64(f, col, what, line, name, 0, INT64_MAX / 4, out, e);
}

int trace_openb_pods_parse(const char *text, size_t len, const char *what,
                           struct trace_openb_pod **out, size_t *n_out, struct err *e)
{
    struct lines L = {text, text + len, 0};
    char buf[1024];
    char *f[FIELDS_MAX + 1];
    int cols[PC_COUNT];
    size_t nf, n = 0, cap = 1024;
    struct trace_openb_pod *v = NULL;
    bool too_long;
    int rc = -1;

    if (header(&L, buf, sizeof(buf), what, pod_cols, PC_COUNT, cols, &nf, e))
        return -1;
    v = xcalloc(cap, sizeof(*v));
    while (next_line(&L, buf, sizeof(buf), &too_long)) {
        struct trace_openb_pod *r;
        int64_t g, m;

        if (blank(buf))
            continue;
        if (too_long || split(buf, ',', f, FIELDS_MAX) != nf) {
            err_set(e, ERR_MALFORMED, "line", "%s:%zu: expected %zu comma-separated fields", what,
                    L.no, nf);
            goto out;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        r = &v[n];
        memset(r, 0, sizeof(*r));
        if (field_str(f, cols[PC_NAME], what, L.no, "name", r->name, sizeof(r->name), true, e) ||
            field_i64(f, cols[PC_CPU], what, L.no, "cpu_milli", 0, INT64_MAX / 4, &r->cpu_milli,
                      e) ||
            field_i64(f, cols[PC_MEM], what, L.no, "memory_mib", 0, INT64_MAX / 4, &r->memory_mib,
                      e) ||
            field_i64(f, cols[PC_NGPU], what, L.no, "num_gpu", 0, 64, &g, e) ||
            field_i64(f, cols[PC_MILLI], what, L.no, "gpu_milli", 0, 1000, &m, e) ||
            field_str(f, cols[PC_SPEC], what, L.no, "gpu_spec", r->gpu_spec, sizeof(r->gpu_spec),
                      false, e) ||
            field_str(f, cols[PC_QOS], what, L.no, "qos", r->qos, sizeof(r->qos), false, e) ||
            field_str(f, cols[PC_PHASE], what, L.no, "pod_phase", r->phase, sizeof(r->phase), false,
                      e) ||
            opt_time(f, cols[PC_CREATED], what, L.no, "creation_time", &r->creation_s, e) ||
            opt_time(f, cols[PC_DELETED], what, L.no, "deletion_time", &r->deletion_s, e) ||
            opt_time(f, cols[PC_SCHEDULED], what, L.no, "scheduled_time", &r->scheduled_s, e))
            goto out;
        r->num_gpu = (int)g;
        r->gpu_milli = (int)m;
        /* GPU sharing exists only for single-GPU pods (open-gpu-share's rule). */
        if (r->num_gpu > 1 && r->gpu_milli != 1000) {
            err_set(e, ERR_MALFORMED, "gpu_milli",
                    "%s:%zu: pod %s asks for %d GPUs of %d milli; only 1-GPU pods may share", what,
                    L.no, r->name, r->num_gpu, r->gpu_milli);
            goto out;
        }
        if ((r->num_gpu == 0) != (r->gpu_milli == 0)) {
            err_set(e, ERR_MALFORMED, "gpu_milli", "%s:%zu: pod %s has num_gpu %d but gpu_milli %d",
                    what, L.no, r->name, r->num_gpu, r->gpu_milli);
            goto out;
        }
        n++;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    rc = 0;
out:
    free(v);
    return rc;
}

static int load_with(const char *path, struct err *e, char **text, size_t *len)
{
    return trace_read_file(path, text, len, e);
}

int trace_openb_nodes_load(const char *path, struct trace_openb_node **out, size_t *n,
                           struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load_with(path, e, &text, &len))
        return -1;
    rc = trace_openb_nodes_parse(text, len, path, out, n, e);
    free(text);
    return rc;
}

int trace_openb_pods_load(const char *path, struct trace_openb_pod **out, size_t *n, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load_with(path, e, &text, &len))
        return -1;
    rc = trace_openb_pods_parse(text, len, path, out, n, e);
    free(text);
    return rc;
}

bool trace_openb_spec_allows(const char *spec, const char *model)
{
    size_t ml = strlen(model);
    const char *s = spec;

    if (!spec || !*spec)
        return true;
    while (*s) {
        const char *bar = strchr(s, '|');
        size_t n = bar ? (size_t)(bar - s) : strlen(s);

        if (n == ml && strncmp(s, model, n) == 0)
            return true;
        if (!bar)
            break;
        s = bar + 1;
    }
    return false;
}

/* ---- Philly (Gavel) ----------------------------------------------------------------------- */

int trace_philly_parse(const char *text, size_t len, const char *what,
                       struct trace_philly_job **out, size_t *n_out, struct err *e)
{
    struct lines L = {text, text + len, 0};
    char buf[4096];
    char *f[FIELDS_MAX + 1];
    size_t n = 0, cap = 256;
    struct trace_philly_job *v = xcalloc(cap, sizeof(*v));
    bool too_long;
    int rc = -1;

    while (next_line(&L, buf, sizeof(buf), &too_long)) {
        struct trace_philly_job *r;
        int64_t g;

        if (blank(buf))
            continue;
        if (too_long || split(buf, '\t', f, FIELDS_MAX) != 7) {
            err_set(e, ERR_MALFORMED, "line",
                    "%s:%zu: expected 7 tab-separated fields (type, command, steps argument, "
                    "needs data dir, total steps, arrival, GPUs)",
                    what, L.no);
            goto out;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof(*v));
        }
        r = &v[n];
        memset(r, 0, sizeof(*r));
        if (field_str(f, 0, what, L.no, "job_type", r->type, sizeof(r->type), true, e) ||
            field_i64(f, 4, what, L.no, "total_steps", 1, INT64_MAX / 4, &r->total_steps, e) ||
            field_i64(f, 6, what, L.no, "scale_factor", 1, 4096, &g, e))
            goto out;
        if (num_parse_double(f[5], &r->arrival_s) || r->arrival_s < 0) {
            err_set(e, ERR_MALFORMED, "arrival_time",
                    "%s:%zu: arrival_time: '%s' is not a time >= 0", what, L.no, f[5]);
            goto out;
        }
        r->gpus = (int)g;
        n++;
    }
    *out = v;
    *n_out = n;
    v = NULL;
    rc = 0;
out:
    free(v);
    return rc;
}

int trace_philly_load(const char *path, struct trace_philly_job **out, size_t *n, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load_with(path, e, &text, &len))
        return -1;
    rc = trace_philly_parse(text, len, path, out, n, e);
    free(text);
    return rc;
}

struct tp_entry {
    int gpu; /* index into names */
    char type[TRACE_NAME_MAX];
    int scale;
    double rate;
};

struct trace_throughputs {
    char (*names)[32];
    size_t n_names;
    struct tp_entry *v;
    size_t n;
};

/* Keys look like "('ResNet-18 (batch size 16)', 1)". */
static int parse_key(const char *k, char *type, size_t size, int *scale)
{
    const char *q, *comma;
    size_t n;
    int64_t s;
    char num[16];

    if (strncmp(k, "('", 2) != 0)
        return -1;
    q = strstr(k + 2, "', ");
    if (!q)
        return -1;
    n = (size_t)(q - (k + 2));
    if (n == 0 || n >= size)
        return -1;
    memcpy(type, k + 2, n);
    type[n] = '\0';
    comma = q + 3;
    n = strlen(comma);
    if (n < 2 || comma[n - 1] != ')' || n - 1 >= sizeof(num))
        return -1;
    memcpy(num, comma, n - 1);
    num[n - 1] = '\0';
    if (num_parse_i64(num, 1, 4096, &s))
        return -1;
    *scale = (int)s;
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct tp_entry *x = a, *y = b;
    int c;

    if (x->gpu != y->gpu)
        return x->gpu < y->gpu ? -1 : 1;
    c = strcmp(x->type, y->type);
    if (c)
        return c;
    return (x->scale > y->scale) - (x->scale < y->scale);
}

int trace_throughputs_parse(const char *text, size_t len, const char *what,
                            struct trace_throughputs **out, struct err *e)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    struct trace_throughputs *t = NULL;
    size_t cap = 0;
    int rc = -1;

    if (!root)
        return err_set(e, ERR_MALFORMED, "json", "%s:%d: %s", what, je.line, je.text);
    if (!json_is_object(root)) {
        err_set(e, ERR_MALFORMED, "json", "%s: top level is not an object of GPU types", what);
        goto out;
    }
    t = xcalloc(1, sizeof(*t));
    t->names = xcalloc(json_object_size(root) + 1, sizeof(*t->names));
    for (void *it = json_object_iter(root); it; it = json_object_iter_next(root, it)) {
        const char *gk = json_object_iter_key(it);
        json_t *gv = json_object_iter_value(it);
        int gi = (int)t->n_names;

        if (!json_is_object(gv)) {
            err_set(e, ERR_MALFORMED, gk, "%s: %s is not an object", what, gk);
            goto out;
        }
        snprintf(t->names[t->n_names++], sizeof(t->names[0]), "%s", gk);
        for (void *jt = json_object_iter(gv); jt; jt = json_object_iter_next(gv, jt)) {
            const char *jk = json_object_iter_key(jt);
            json_t *jv = json_object_iter_value(jt), *null_rate;
            struct tp_entry en;

            memset(&en, 0, sizeof(en));
            en.gpu = gi;
            if (parse_key(jk, en.type, sizeof(en.type), &en.scale)) {
                err_set(e, ERR_MALFORMED, jk, "%s: %s: key '%s' is not ('job type', GPUs)", what,
                        gk, jk);
                goto out;
            }
            null_rate = json_is_object(jv) ? json_object_get(jv, "null") : NULL;
            if (!json_is_number(null_rate)) {
                err_set(e, ERR_MALFORMED, jk, "%s: %s: %s has no numeric \"null\" (isolated) rate",
                        what, gk, jk);
                goto out;
            }
            en.rate = json_number_value(null_rate);
            if (t->n == cap) {
                cap = cap ? cap * 2 : 512;
                t->v = xrealloc(t->v, cap * sizeof(*t->v));
            }
            t->v[t->n++] = en;
        }
    }
    if (t->n > 1)
        qsort(t->v, t->n, sizeof(*t->v), cmp_entry);
    *out = t;
    t = NULL;
    rc = 0;
out:
    trace_throughputs_free(&t);
    json_decref(root);
    return rc;
}

int trace_throughputs_load(const char *path, struct trace_throughputs **out, struct err *e)
{
    char *text = NULL;
    size_t len = 0;
    int rc;

    if (load_with(path, e, &text, &len))
        return -1;
    rc = trace_throughputs_parse(text, len, path, out, e);
    free(text);
    return rc;
}

void trace_throughputs_free(struct trace_throughputs **t)
{
    if (!t || !*t)
        return;
    free((*t)->names);
    free((*t)->v);
    free(*t);
    *t = NULL;
}

static double rate_of(const struct trace_throughputs *t, int gi, const char *type, int scale)
{
    struct tp_entry key;
    const struct tp_entry *hit;

    memset(&key, 0, sizeof(key));
    key.gpu = gi;
    snprintf(key.type, sizeof(key.type), "%s", type);
    key.scale = scale;
    hit = bsearch(&key, t->v, t->n, sizeof(*t->v), cmp_entry);
    return hit ? hit->rate : -1.0;
}

double trace_throughput(const struct trace_throughputs *t, const char *gpu_type, const char *type,
                        int gpus)
{
    static const int covered[] = {8, 4, 2, 1};
    int gi = -1;

    if (!t || gpus < 1)
        return 0;
    for (size_t i = 0; i < t->n_names; i++)
        if (strcmp(t->names[i], gpu_type) == 0)
            gi = (int)i;
    if (gi < 0)
        return 0;
    for (size_t c = 0; c < sizeof(covered) / sizeof(covered[0]); c++) {
        double r;

        if (covered[c] > gpus)
            continue;
        r = rate_of(t, gi, type, covered[c]);
        if (r < 0)
            continue; /* not measured at this size: try a smaller one */
        if (!(r > 0))
            return 0; /* measured, and it does not run there */
        return r * (double)gpus / (double)covered[c];
    }
    return 0;
}

size_t trace_throughputs_n_gpu_types(const struct trace_throughputs *t)
{
    return t ? t->n_names : 0;
}

const char *trace_throughputs_gpu_type(const struct trace_throughputs *t, size_t i)
{
    return t && i < t->n_names ? t->names[i] : NULL;
}
