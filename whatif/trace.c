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

/* Field col of a row; an optional column the header does not have (col < 0) reads as empty. */
static const char *fld(char **f, int col)
{
    return col < 0 ? "" : f[col];
}

static int field_i64(char **f, int col, const char *what, size_t line, const char *name,
                     int64_t min, int64_t max, int64_t *out, struct err *e)
{
    if (num_parse_i64(fld(f, col), min, max, out))
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s: '%s' is not an integer in [%lld, %lld]",
                       what, line, name, fld(f, col), (long long)min, (long long)max);
    return 0;
}

static int field_str(char **f, int col, const char *what, size_t line, const char *name, char *out,
                     size_t size, bool required, struct err *e)
{
    const char *v = fld(f, col);
    size_t n = strlen(v);

    if (required && n == 0)
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s is empty", what, line, name);
    if (n >= size)
        return err_set(e, ERR_MALFORMED, name, "%s:%zu: %s '%.40s...' is longer than %zu bytes",
                       what, line, name, v, size - 1);
    memcpy(out, v, n + 1);
    return 0;
}

/* Reads the header and resolves the named columns into cols[]: the first n_required must be
 * there, the others are optional (-1 when absent). */
static int header(struct lines *L, char *buf, size_t size, const char *what,
                  const char *const *names, size_t n_names, size_t n_required, int *cols,
                  size_t *n_fields, struct err *e)
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
        if (i < n_required && cols[i] < 0)
            return err_set(e, ERR_MALFORMED, names[i], "%s:1: header has no column '%s'", what,
                           names[i]);
    }
    *n_fields = n;
    return 0;
}

/* How one kind of trace file is laid out; read_table() does the reading, row() the
 * checking of one record. */
struct table_spec {
    char sep;                 /* ',' or '\t' */
    const char *const *names; /* columns the header must have, or NULL: no header */
    size_t n_names;           /* resolved into cols[] in this order */
    size_t n_required;        /* the first n_required names must be in the header */
    size_t n_fields;          /* without a header: the fields a line must have */
    const char *fields;       /* what they are, for the message when a line has others */
    size_t line_max;          /* longer lines are refused (at most TABLE_LINE_MAX) */
    size_t size, cap;         /* record size; records allocated at first */
    int (*row)(char **f, const int *cols, const char *what, size_t line, void *rec,
               struct err *e); /* fills the zeroed rec from f; fails naming the field */
};

#define TABLE_LINE_MAX 4096

/* Reads every line that is not blank into an array of records the caller owns (*out,
 * free()); ERR_MALFORMED naming the line when one is too long, has other fields than the
 * header (or spec) says, or fails s->row(). */
static int read_table(const struct table_spec *s, const char *text, size_t len, const char *what,
                      void **out, size_t *n_out, struct err *e)
{
    struct lines L = {text, text + len, 0};
    char buf[TABLE_LINE_MAX];
    char *f[FIELDS_MAX + 1];
    int cols[FIELDS_MAX] = {0};
    size_t nf = s->n_fields, n = 0, cap = s->cap;
    char *v = NULL;
    bool too_long;
    int rc = -1;

    if (s->names &&
        header(&L, buf, s->line_max, what, s->names, s->n_names, s->n_required, cols, &nf, e))
        return -1;
    v = xcalloc(cap, s->size);
    while (next_line(&L, buf, s->line_max, &too_long)) {
        if (blank(buf))
            continue;
        if (too_long || split(buf, s->sep, f, FIELDS_MAX) != nf) {
            err_set(e, ERR_MALFORMED, "line", "%s:%zu: expected %zu %s", what, L.no, nf, s->fields);
            goto out;
        }
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * s->size);
        }
        memset(v + n * s->size, 0, s->size);
        if (s->row(f, cols, what, L.no, v + n * s->size, e))
            goto out;
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

/* ---- openb ------------------------------------------------------------------------------ */

enum { NC_SN, NC_CPU, NC_MEM, NC_GPU, NC_MODEL, NC_COUNT };
static const char *const node_cols[NC_COUNT] = {"sn", "cpu_milli", "memory_mib", "gpu", "model"};

static int node_row(char **f, const int *cols, const char *what, size_t line, void *rec,
                    struct err *e)
{
    struct trace_openb_node *r = rec;
    int64_t g;

    if (field_str(f, cols[NC_SN], what, line, "sn", r->name, sizeof(r->name), true, e) ||
        field_i64(f, cols[NC_CPU], what, line, "cpu_milli", 0, INT64_MAX / 4, &r->cpu_milli, e) ||
        field_i64(f, cols[NC_MEM], what, line, "memory_mib", 0, INT64_MAX / 4, &r->memory_mib, e) ||
        field_i64(f, cols[NC_GPU], what, line, "gpu", 0, 64, &g, e) ||
        field_str(f, cols[NC_MODEL], what, line, "model", r->model, sizeof(r->model), false, e))
        return -1;
    r->gpus = (int)g;
    if (r->gpus > 0 && !r->model[0])
        return err_set(e, ERR_MALFORMED, "model", "%s:%zu: node %s has %d GPUs but no model", what,
                       line, r->name, r->gpus);
    return 0;
}

static const struct table_spec node_table = {
    .sep = ',',
    .names = node_cols,
    .n_names = NC_COUNT,
    .n_required = NC_COUNT,
    .fields = "comma-separated fields",
    .line_max = 1024,
    .size = sizeof(struct trace_openb_node),
    .cap = 256,
    .row = node_row,
};

int trace_openb_nodes_parse(const char *text, size_t len, const char *what,
                            struct trace_openb_node **out, size_t *n_out, struct err *e)
{
    void *v;

    if (read_table(&node_table, text, len, what, &v, n_out, e))
        return -1;
    *out = v;
    return 0;
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
    if (fld(f, col)[0] == '\0') {
        *out = -1;
        return 0;
    }
    return field_i64(f, col, what, line, name, 0, INT64_MAX / 4, out, e);
}

static int pod_row(char **f, const int *cols, const char *what, size_t line, void *rec,
                   struct err *e)
{
    struct trace_openb_pod *r = rec;
    int64_t g, m;

    if (field_str(f, cols[PC_NAME], what, line, "name", r->name, sizeof(r->name), true, e) ||
        field_i64(f, cols[PC_CPU], what, line, "cpu_milli", 0, INT64_MAX / 4, &r->cpu_milli, e) ||
        field_i64(f, cols[PC_MEM], what, line, "memory_mib", 0, INT64_MAX / 4, &r->memory_mib, e) ||
        field_i64(f, cols[PC_NGPU], what, line, "num_gpu", 0, 64, &g, e) ||
        field_i64(f, cols[PC_MILLI], what, line, "gpu_milli", 0, 1000, &m, e) ||
        field_str(f, cols[PC_SPEC], what, line, "gpu_spec", r->gpu_spec, sizeof(r->gpu_spec), false,
                  e) ||
        field_str(f, cols[PC_QOS], what, line, "qos", r->qos, sizeof(r->qos), false, e) ||
        field_str(f, cols[PC_PHASE], what, line, "pod_phase", r->phase, sizeof(r->phase), false,
                  e) ||
        opt_time(f, cols[PC_CREATED], what, line, "creation_time", &r->creation_s, e) ||
        opt_time(f, cols[PC_DELETED], what, line, "deletion_time", &r->deletion_s, e) ||
        opt_time(f, cols[PC_SCHEDULED], what, line, "scheduled_time", &r->scheduled_s, e))
        return -1;
    r->num_gpu = (int)g;
    r->gpu_milli = (int)m;
    /* GPU sharing exists only for single-GPU pods (open-gpu-share's rule). */
    if (r->num_gpu > 1 && r->gpu_milli != 1000)
        return err_set(e, ERR_MALFORMED, "gpu_milli",
                       "%s:%zu: pod %s asks for %d GPUs of %d milli; only 1-GPU pods may share",
                       what, line, r->name, r->num_gpu, r->gpu_milli);
    if ((r->num_gpu == 0) != (r->gpu_milli == 0))
        return err_set(e, ERR_MALFORMED, "gpu_milli",
                       "%s:%zu: pod %s has num_gpu %d but gpu_milli %d", what, line, r->name,
                       r->num_gpu, r->gpu_milli);
    return 0;
}

static const struct table_spec pod_table = {
    .sep = ',',
    .names = pod_cols,
    .n_names = PC_COUNT,
    .n_required = PC_SPEC, /* the five basic columns; the rest default (trace.h) */
    .fields = "comma-separated fields",
    .line_max = 1024,
    .size = sizeof(struct trace_openb_pod),
    .cap = 1024,
    .row = pod_row,
};

int trace_openb_pods_parse(const char *text, size_t len, const char *what,
                           struct trace_openb_pod **out, size_t *n_out, struct err *e)
{
    void *v;

    if (read_table(&pod_table, text, len, what, &v, n_out, e))
        return -1;
    *out = v;
    return 0;
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

static int philly_row(char **f, const int *cols, const char *what, size_t line, void *rec,
                      struct err *e)
{
    struct trace_philly_job *r = rec;
    int64_t g;

    (void)cols; /* no header: the fields are in a fixed order */
    if (field_str(f, 0, what, line, "job_type", r->type, sizeof(r->type), true, e) ||
        field_i64(f, 4, what, line, "total_steps", 1, INT64_MAX / 4, &r->total_steps, e) ||
        field_i64(f, 6, what, line, "scale_factor", 1, 4096, &g, e))
        return -1;
    if (num_parse_double(f[5], &r->arrival_s) || r->arrival_s < 0)
        return err_set(e, ERR_MALFORMED, "arrival_time",
                       "%s:%zu: arrival_time: '%s' is not a time >= 0", what, line, f[5]);
    r->gpus = (int)g;
    return 0;
}

static const struct table_spec philly_table = {
    .sep = '\t',
    .n_fields = 7,
    .fields = "tab-separated fields (type, command, steps argument, needs data dir, total "
              "steps, arrival, GPUs)",
    .line_max = 4096,
    .size = sizeof(struct trace_philly_job),
    .cap = 256,
    .row = philly_row,
};

int trace_philly_parse(const char *text, size_t len, const char *what,
                       struct trace_philly_job **out, size_t *n_out, struct err *e)
{
    void *v;

    if (read_table(&philly_table, text, len, what, &v, n_out, e))
        return -1;
    *out = v;
    return 0;
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
