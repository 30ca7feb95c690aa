/* cli_cluster.c -- the cluster verbs: a kubeconfig in, PUT /v1/clusters/NAME out; cluster
 * tables, prerequisite conditions and the federation's capacity on stdout. */
#include "client/cli_cluster.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "base/num.h"
#include "base/wire.h"
#include "client/cli.h"
#include "client/cli_http.h"
#include "client/cli_out.h"
#include "client/yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_URL         "http://127.0.0.1:8080"
#define DEFAULT_SECRETS_DIR "/etc/fedsched/secrets"
#define DEFAULT_RETRY_MS    (60 * 1000)
#define REQUEST_TIMEOUT_S   60
#define NODES_PAGE          500   /* nodes: default --chunk-size, as kubectl's */
#define NODES_PAGE_MAX      10000 /* the API's largest limit */
#define KUBECONFIG_MAX      (1024 * 1024)
#define CRED_MAX            (1024 * 1024) /* a credential file or its decoded data */

struct opts {
    const char *url, *token, *output, *kubeconfig, *context, *secrets_dir, *region, *provider;
    const char *sku, *pool; /* capacity, nodes (and quotas: sku): the API's filters */
    int64_t retry_ms;
    int chunk_size; /* nodes: how many nodes a request asks for */
    bool verbose, allow_http;
};

struct ctx {
    struct opts o;
    struct cli_http *http;
    char verb[32]; /* "cluster add", "clusters", "capacity": for messages */
};

/* One credential cluster add hands the server as a file in the secrets directory. */
struct cred {
    const char *member; /* the cluster config's member: "caFile" ... */
    const char *file;   /* its name under SECRETS_DIR/NAME/ */
    bool secret;        /* wiped from memory once written */
    char *data;         /* NULL: the kubeconfig has none */
    size_t len;
};

enum { CRED_CA, CRED_TOKEN, CRED_CERT, CRED_KEY, CRED_N };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fedsched cluster <verb> [options]\n"
            "  add NAME --kubeconfig FILE [--context C] [--secrets-dir DIR]\n"
            "      [--region R] [--provider P] [--allow-insecure-http]\n"
            "                       register the cluster the kubeconfig's context names; its\n"
            "                       inline credentials are written to DIR/NAME/ (default\n"
            "                       $FEDSCHED_SECRETS_DIR or %s)\n"
            "  list                 every cluster (also: fedsched clusters)\n"
            "  get NAME             one cluster\n"
            "  cordon NAME          no new jobs go there\n"
            "  uncordon NAME\n"
            "  check NAME           its prerequisite conditions; exit 1 when one is False\n"
            "  nodes NAME [--chunk-size N] [--sku S] [--pool P]\n"
            "                       its GPU nodes as the policy sees them: free GPUs, cores\n"
            "                       and memory of each, read N at a time (default 500)\n"
            "  remove NAME          forget the cluster (its jobs are not touched)\n"
            "fedsched capacity [--sku S] [--pool training|serving]\n"
            "                       free and used GPUs of the federation by SKU and pool\n"
            "fedsched quotas [--sku S]\n"
            "                       GPU quotas per namespace and SKU: nominal, used, borrowed,\n"
            "                       queued; and what each cohort has left to lend\n"
            "options: -o table|json, --url URL, --token TOKEN, --retry-for D, -v\n",
            DEFAULT_SECRETS_DIR);
}

bool cli_cluster_is_verb(const char *name)
{
    return strcmp(name, "cluster") == 0 || strcmp(name, "clusters") == 0 ||
           strcmp(name, "capacity") == 0 || strcmp(name, "quotas") == 0;
}

/* ---- output ------------------------------------------------------------------------------ */

static const char *jstr(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) && *json_string_value(v) ? json_string_value(v) : "-";
}

/* ---- requests ---------------------------------------------------------------------------- */

/* Sends method path (body: JSON or NULL) and parses the 2xx reply into *out. Reports any
 * failure on stderr and returns its exit code; hint (may be NULL) follows a 422. */
static int call(struct ctx *c, const char *method, const char *path, const char *body,
                const char *hint, json_t **out)
{
    struct cli_http_reply r = {0};
    struct err e = {0};
    char text[4096];
    int rc = CLI_EXIT_API;

    if (cli_http_do(c->http, method, path, body, NULL, REQUEST_TIMEOUT_S, &r, &e)) {
        fprintf(stderr, "fedsched: %s: cannot reach the API: %s\n", c->verb, e.msg);
        return e.code == ERR_UNAVAILABLE ? CLI_EXIT_UNREACHABLE : CLI_EXIT_API;
    }
    if (r.status < 200 || r.status > 299) {
        cli_http_error_text(&r, text, sizeof(text));
        fprintf(stderr, "fedsched: %s: %s\n", c->verb, text);
        if (r.status == 401)
            fprintf(stderr, "fedsched: hint: set FEDSCHED_TOKEN (or --token) to a valid API "
                            "token\n");
        if (r.status == 422 && hint)
            fprintf(stderr, "fedsched: hint: %s\n", hint);
        goto out;
    }
    *out = json_loads(r.body, 0, NULL);
    if (!*out) {
        fprintf(stderr, "fedsched: %s: HTTP %ld but the reply is not JSON: %.200s\n", c->verb,
                r.status, r.body);
        goto out;
    }
    rc = CLI_EXIT_OK;
out:
    cli_http_reply_clear(&r);
    return rc;
}

static char *cluster_path(const char *name, const char *suffix)
{
    return xasprintf("/v1/clusters/%s%s", name, suffix);
}

/* ---- listing ----------------------------------------------------------------------------- */

/* Free and total GPUs over a cluster's status.capacity entries. */
static void gpus_text(const json_t *status, char *out, size_t size)
{
    const json_t *a;
    json_int_t free_gpus = 0, total = 0;
    size_t i;

    json_array_foreach(json_object_get(status, "capacity"), i, a)
    {
        free_gpus += json_integer_value(json_object_get(a, "free"));
        total += json_integer_value(json_object_get(a, "total"));
    }
    snprintf(out, size, "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT, free_gpus, total);
}

static void cluster_row(struct cli_table *t, const json_t *cl)
{
    const json_t *st = json_object_get(cl, "status");
    char gpus[48], nodes[24];
    const char *cells[7];

    gpus_text(st, gpus, sizeof(gpus));
    snprintf(nodes, sizeof(nodes), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(json_object_get(st, "nodes"), "listed")));
    cells[0] = jstr(cl, "name");
    cells[1] = jstr(st, "health");
    cells[2] = json_is_true(json_object_get(cl, "cordoned")) ? "yes" : "no";
    cells[3] = nodes;
    cells[4] = gpus;
    cells[5] = jstr(json_object_get(cl, "spec"), "apiServer");
    cells[6] = jstr(st, "lastError");
    cli_table_row(t, cells);
}

static const char *const cluster_header[] = {
    "NAME", "HEALTH", "CORDONED", "NODES", "GPUS FREE/TOTAL", "API SERVER", "LAST ERROR"};

static int verb_list(struct ctx *c)
{
    struct cli_table t = {.ncols = 7};
    json_t *r = NULL, *it;
    size_t i;
    int rc = call(c, "GET", "/v1/clusters", NULL, NULL, &r);

    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(r);
    } else {
        cli_table_row(&t, cluster_header);
        json_array_foreach(json_object_get(r, "items"), i, it)
        {
            cluster_row(&t, it);
        }
        cli_table_print(&t);
    }
    json_decref(r);
    return CLI_EXIT_OK;
}

/* get, cordon, uncordon: one cluster, shown as a one-row table or as JSON. */
static int verb_one(struct ctx *c, const char *method, const char *name, const char *suffix)
{
    struct cli_table t = {.ncols = 7};
    char *path = cluster_path(name, suffix);
    json_t *r = NULL;
    int rc = call(c, method, path, NULL, NULL, &r);

    free(path);
    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(r);
    } else {
        cli_table_row(&t, cluster_header);
        cluster_row(&t, r);
        cli_table_print(&t);
    }
    json_decref(r);
    return CLI_EXIT_OK;
}

static int verb_remove(struct ctx *c, const char *name)
{
    char *path = cluster_path(name, "");
    json_t *r = NULL;
    int rc = call(c, "DELETE", path, NULL, NULL, &r);

    free(path);
    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0)
        cli_print_json(r);
    else
        printf("cluster %s removed\n", name);
    json_decref(r);
    return CLI_EXIT_OK;
}

/* The prerequisite conditions the server last found (docs/clusters.md); exit 1 when one is
 * False, so a script can stop before submitting there. */
static int verb_check(struct ctx *c, const char *name)
{
    static const char *const header[] = {"TYPE", "STATUS", "REASON", "MESSAGE"};
    struct cli_table t = {.ncols = 4};
    char *path = cluster_path(name, "");
    json_t *r = NULL, *cond, *st, *conds;
    bool failed = false;
    size_t i;
    int rc = call(c, "GET", path, NULL, NULL, &r);

    free(path);
    if (rc)
        return rc;
    st = json_object_get(r, "status");
    conds = json_object_get(st, "conditions");
    json_array_foreach(conds, i, cond)
    {
        failed |= strcmp(jstr(cond, "status"), "False") == 0;
    }
    if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(conds ? conds : json_array());
    } else {
        printf("cluster %s: health %s, prerequisites checked at %s\n", name, jstr(st, "health"),
               jstr(st, "prerequisitesCheckedAt"));
        cli_table_row(&t, header);
        json_array_foreach(conds, i, cond)
        {
            const char *cells[4] = {jstr(cond, "type"), jstr(cond, "status"), jstr(cond, "reason"),
                                    jstr(cond, "message")};

            cli_table_row(&t, cells);
        }
        cli_table_print(&t);
    }
    json_decref(r);
    return failed ? CLI_EXIT_JOB_FAILED : CLI_EXIT_OK;
}

/* GETs path for a table verb; with -o json prints the reply instead and leaves *r NULL. */
static int get_for_table(struct ctx *c, const char *path, json_t **r)
{
    int rc = call(c, "GET", path, NULL, NULL, r);

    if (rc == CLI_EXIT_OK && strcmp(c->o.output, "json") == 0) {
        cli_print_json(*r);
        json_decref(*r);
        *r = NULL;
    }
    return rc;
}

/* "free/allocatable" of one of a node's amounts, divided by unit ("-" when unknown). */
static const char *amount_text(const json_t *node, const char *key, double unit, char *buf,
                               size_t size)
{
    const json_t *a = json_object_get(node, key);

    if (!json_is_object(a))
        return "-";
    snprintf(buf, size, "%.0f/%.0f", (double)json_integer_value(json_object_get(a, "free")) / unit,
             (double)json_integer_value(json_object_get(a, "allocatable")) / unit);
    return buf;
}

/* path with --sku and --pool as its query (the server checks them). Caller frees. */
static char *filtered(const struct opts *o, const char *path)
{
    struct buf b;

    buf_init(&b, 0);
    buf_puts(&b, path);
    cli_query_param(&b, "sku", o->sku);
    cli_query_param(&b, "pool", o->pool);
    return buf_steal(&b);
}

/* Every GPU node of cluster name, --chunk-size at a time (GET /v1/clusters/NAME/nodes with
 * limit and continue, as kubectl reads long lists in chunks of 500): one NodeList whose
 * items are all the pages' (each page comes from the snapshot of its own request), without
 * a continue token. */
static int nodes_all(struct ctx *c, const char *name, json_t **out)
{
    char *cont = NULL, *base = cluster_path(name, "/nodes");
    json_t *all = NULL;
    int rc;

    do {
        struct buf b;
        json_t *page = NULL;
        char *path;

        buf_init(&b, 0);
        buf_printf(&b, "%s?limit=%d", base, c->o.chunk_size);
        cli_query_param(&b, "sku", c->o.sku);
        cli_query_param(&b, "pool", c->o.pool);
        if (cont) {
            buf_puts(&b, "&continue=");
            buf_url_escape(&b, cont);
        }
        path = buf_steal(&b);
        rc = call(c, "GET", path, NULL, NULL, &page);
        free(path);
        free(cont);
        cont = NULL;
        if (rc) {
            json_decref(all);
            free(base);
            return rc;
        }
        if (json_is_string(json_object_get(json_object_get(page, "metadata"), "continue")))
            cont = xstrdup(
                json_string_value(json_object_get(json_object_get(page, "metadata"), "continue")));
        if (!all) {
            all = page;
        } else {
            json_array_extend(json_object_get(all, "items"), json_object_get(page, "items"));
            json_decref(page);
        }
    } while (cont);
    free(base);
    json_object_del(json_object_get(all, "metadata"), "continue");
    *out = all;
    return CLI_EXIT_OK;
}

/* The cluster's GPU nodes as the policy sees them (GET /v1/clusters/NAME/nodes). */
static int verb_nodes(struct ctx *c, const char *name)
{
    static const char *const header[] = {"NODE",
                                         "SKU",
                                         "POOL",
                                         "SCHEDULABLE",
                                         "GPUS FREE",
                                         "BORROWED",
                                         "CPU FREE (cores)",
                                         "MEMORY FREE (GiB)"};
    struct cli_table t = {.ncols = 8};
    json_t *r = NULL, *n;
    size_t i;
    int rc = nodes_all(c, name, &r);

    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(r);
        json_decref(r);
        return CLI_EXIT_OK;
    }
    cli_table_row(&t, header);
    json_array_foreach(json_object_get(r, "items"), i, n)
    {
        char gpus[32], borrowed[16], cpu[48], mem[48];
        const json_t *g = json_object_get(n, "gpus");
        const char *cells[8];

        snprintf(gpus, sizeof(gpus), "%" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(g, "free")),
                 json_integer_value(json_object_get(g, "allocatable")));
        snprintf(borrowed, sizeof(borrowed), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(g, "borrowed")));
        cells[0] = jstr(n, "name");
        cells[1] = json_is_string(json_object_get(n, "sku")) ? jstr(n, "sku") : "unknown";
        cells[2] = jstr(n, "pool");
        cells[3] = json_is_true(json_object_get(n, "schedulable")) ? "yes" : "no";
        cells[4] = gpus;
        cells[5] = borrowed;
        cells[6] = amount_text(n, "cpuMillicores", 1000.0, cpu, sizeof(cpu));
        cells[7] = amount_text(n, "memoryMiB", 1024.0, mem, sizeof(mem));
        cli_table_row(&t, cells);
    }
    cli_table_print(&t);
    printf("cluster %s: health %s, %zu GPU nodes, last polled %s\n", name, jstr(r, "health"),
           json_array_size(json_object_get(r, "items")),
           json_is_string(json_object_get(r, "lastSuccessfulPoll")) ? jstr(r, "lastSuccessfulPoll")
                                                                    : "never");
    json_decref(r);
    return CLI_EXIT_OK;
}

static int verb_capacity(struct ctx *c)
{
    static const char *const header[] = {"SKU",     "POOL",     "TOTAL",   "USED",      "FREE",
                                         "UNAVAIL", "BORROWED", "PENDING", "ANNOUNCED", "LENDABLE"};
    static const char *const keys[] = {
        "total",   "used", "free", "unavailable", "borrowed", "pendingServing", "announcedServing",
        "lendable"};
    struct cli_table t = {.ncols = 10};
    json_t *r = NULL, *a;
    size_t i;
    char *path = filtered(&c->o, "/v1/capacity");
    int rc = get_for_table(c, path, &r);

    free(path);
    if (rc || !r)
        return rc;
    cli_table_row(&t, header);
    json_array_foreach(json_object_get(r, "capacity"), i, a)
    {
        char num[8][24];
        const char *cells[10] = {jstr(a, "sku"), jstr(a, "pool")};

        bool serving = strcmp(jstr(a, "pool"), "serving") == 0;

        /* Serving demand (PENDING, ANNOUNCED) belongs to serving pools: "-" elsewhere. */
        for (int k = 0; k < 8; k++) {
            const json_t *v = json_object_get(a, keys[k]);

            if (v && (serving || (k != 5 && k != 6)))
                snprintf(num[k], sizeof(num[k]), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else
                snprintf(num[k], sizeof(num[k]), "-");
            cells[2 + k] = num[k];
        }
        cli_table_row(&t, cells);
    }
    cli_table_print(&t);
    json_array_foreach(json_object_get(r, "clustersExcluded"), i, a)
    {
        fprintf(stderr, "fedsched: capacity: cluster %s not counted (%s)\n", jstr(a, "name"),
                jstr(a, "reason"));
    }
    json_decref(r);
    return CLI_EXIT_OK;
}

/* A quota limit: "unlimited" for null. */
static const char *limit_text(const json_t *v, char *buf, size_t size)
{
    if (!json_is_integer(v))
        return "unlimited";
    snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    return buf;
}

static int verb_quotas(struct ctx *c)
{
    static const char *const header[] = {"NAMESPACE",   "SKU",          "NOMINAL",
                                         "USED",        "BORROWED",     "QUEUED-JOBS",
                                         "QUEUED-GPUS", "BORROW-LIMIT", "LEND-LIMIT"};
    static const char *const keys[] = {"nominal", "usedGpus", "borrowedGpus", "queuedJobs",
                                       "queuedGpus"};
    static const char *const cohort_header[] = {"COHORT", "LENDABLE", "IN-USE", "AVAILABLE"};
    static const char *const cohort_keys[] = {"lendableGpus", "inUseGpus", "availableGpus"};
    struct cli_table t = {.ncols = 9}, ct = {.ncols = 4};
    json_t *r = NULL, *a;
    size_t i;
    char *path = filtered(&c->o, "/v1/quotas");
    int rc = call(c, "GET", path, NULL, NULL, &r);

    free(path);
    if (rc)
        return rc;
    if (strcmp(c->o.output, "json") == 0) {
        cli_print_json(r);
        json_decref(r);
        return CLI_EXIT_OK;
    }
    cli_table_row(&t, header);
    json_array_foreach(json_object_get(r, "items"), i, a)
    {
        char num[7][24];
        const char *cells[9] = {jstr(a, "namespace"), jstr(a, "sku")};

        for (int k = 0; k < 5; k++) {
            snprintf(num[k], sizeof(num[k]), "%" JSON_INTEGER_FORMAT,
                     json_integer_value(json_object_get(a, keys[k])));
            cells[2 + k] = num[k];
        }
        cells[7] = limit_text(json_object_get(a, "borrowingLimit"), num[5], sizeof(num[5]));
        cells[8] = limit_text(json_object_get(a, "lendingLimit"), num[6], sizeof(num[6]));
        cli_table_row(&t, cells);
    }
    cli_table_print(&t);
    /* Only for callers who may read every namespace (the API leaves it out otherwise). */
    if (json_array_size(json_object_get(r, "cohorts")) > 0) {
        printf("\n");
        cli_table_row(&ct, cohort_header);
        json_array_foreach(json_object_get(r, "cohorts"), i, a)
        {
            char num[3][24];
            const char *cells[4] = {jstr(a, "sku")};

            for (int k = 0; k < 3; k++) {
                snprintf(num[k], sizeof(num[k]), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(json_object_get(a, cohort_keys[k])));
                cells[1 + k] = num[k];
            }
            cli_table_row(&ct, cells);
        }
        cli_table_print(&ct);
    }
    json_decref(r);
    return CLI_EXIT_OK;
}

/* ---- kubeconfig ---------------------------------------------------------------------------- */

/* Reads at most max bytes of path (NUL-terminated). */
static int read_all(const char *path, size_t max, char **out, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    char *data;
    size_t n;

    if (!f)
        return err_set(e, ERR_IO, NULL, "cannot read %s: %s", path, strerror(errno));
    data = xmalloc(max + 1);
    n = fread(data, 1, max + 1, f);
    fclose(f);
    if (n > max) {
        free(data);
        return err_set(e, ERR_TOO_LARGE, NULL, "%s is larger than %zu bytes", path, max);
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}

/* Standard base64 (whitespace ignored, padding optional), as kubeconfig *-data fields hold
 * PEM. */
static int b64_decode(const char *in, char **out, size_t *len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = xmalloc(strlen(in) / 4 * 3 + 4);
    unsigned acc = 0;
    int bits = 0;
    size_t k = 0;
    bool pad = false;

    for (const char *p = in; *p; p++) {
        const char *q = strchr(alphabet, *p);

        if (strchr(" \t\r\n", *p))
            continue;
        if (*p == '=') {
            pad = true;
            continue;
        }
        if (pad || !q)
            goto bad;
        acc = (acc << 6) | (unsigned)(q - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            o[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6) /* one character alone in the last group */
        goto bad;
    o[k] = '\0';
    *out = o;
    *len = k;
    return 0;
bad:
    free(o);
    return -1;
}

/* The member named name of the kubeconfig list doc[list] ([{name, inner: {...}}]). */
static const json_t *named(const json_t *doc, const char *list, const char *inner, const char *name)
{
    const json_t *it;
    size_t i;

    json_array_foreach(json_object_get(doc, list), i, it)
    {
        const json_t *n = json_object_get(it, "name");

        if (json_is_string(n) && strcmp(json_string_value(n), name) == 0)
            return json_is_object(json_object_get(it, inner)) ? json_object_get(it, inner) : NULL;
    }
    return NULL;
}

/* A string member of o, NULL when absent or not a string. */
static const char *member(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* path as kubectl takes it: relative to the kubeconfig's directory. Caller frees. */
static char *beside(const char *kubeconfig, const char *path)
{
    const char *slash = strrchr(kubeconfig, '/');

    if (path[0] == '/' || !slash)
        return xstrdup(path);
    return xasprintf("%.*s/%s", (int)(slash - kubeconfig), kubeconfig, path);
}

/* Fills cr from the kubeconfig's "<key>-data" (base64) or "<key>" (a file), what = the
 * kubeconfig's key for messages. Neither: cr->data stays NULL. */
static int load_cred(const char *kc, const json_t *o, const char *key, struct cred *cr,
                     struct err *e)
{
    char data_key[64], *path;
    struct err re = {0};
    const char *v;
    int rc;

    snprintf(data_key, sizeof(data_key), "%s-data", key);
    if ((v = member(o, data_key))) {
        if (b64_decode(v, &cr->data, &cr->len) || cr->len == 0 || cr->len > CRED_MAX)
            return err_set(e, ERR_INVALID, data_key, "kubeconfig %s: %s is not base64 data", kc,
                           data_key);
        return 0;
    }
    if (!(v = member(o, key)))
        return 0;
    path = beside(kc, v);
    rc = read_all(path, CRED_MAX, &cr->data, &cr->len, &re);
    free(path);
    if (rc)
        return err_set(e, ERR_INVALID, key, "kubeconfig %s: %s: %s", kc, key, re.msg);
    return 0;
}

/* Refuses the kinds of user fedsched cannot act as: credential plugins run a command (or
 * refresh through a provider) each time, which a server cannot do on a user's behalf. */
static int user_kind_check(const char *kc, const char *user, const json_t *u, struct err *e)
{
    const json_t *ex = json_object_get(u, "exec"), *ap = json_object_get(u, "auth-provider");

    if (ex)
        return err_set(e, ERR_INVALID, "exec",
                       "kubeconfig %s: user \"%s\" uses an exec credential plugin (\"%s\"): exec "
                       "credential plugins are not supported: use a service-account token "
                       "(deploy/member-cluster/) or a client certificate",
                       kc, user, member(ex, "command") ? member(ex, "command") : "?");
    if (ap)
        return err_set(e, ERR_INVALID, "auth-provider",
                       "kubeconfig %s: user \"%s\" uses the auth-provider plugin \"%s\": "
                       "auth-provider plugins are not supported: use a service-account token "
                       "(deploy/member-cluster/) or a client certificate",
                       kc, user, member(ap, "name") ? member(ap, "name") : "?");
    if (json_object_get(u, "username") || json_object_get(u, "password"))
        return err_set(e, ERR_INVALID, "username",
                       "kubeconfig %s: user \"%s\" uses basic authentication, which Kubernetes "
                       "no longer offers: use a service-account token or a client certificate",
                       kc, user);
    return 0;
}

/* From the kubeconfig kc: the context's server into body (apiServer, insecureSkipTLSVerify)
 * and its credentials into cr (the token file, when named, into body as tokenFile). */
static int read_kubeconfig(const struct opts *o, json_t *body, struct cred *cr, struct err *e)
{
    const char *kc = o->kubeconfig, *ctx_name, *cl_name, *user_name, *server, *v;
    const json_t *doc, *ctx, *cl, *u;
    json_t *docs = NULL;
    struct err ye = {0};
    char *text = NULL;
    size_t len = 0;
    int rc = -1;

    if (read_all(kc, KUBECONFIG_MAX, &text, &len, e))
        return -1;
    if (yaml_parse_all(text, len, &docs, &ye)) {
        err_set(e, ERR_MALFORMED, "kubeconfig", "kubeconfig %s: %s", kc, ye.msg);
        goto out;
    }
    doc = json_array_get(docs, 0);
    if (json_array_size(docs) != 1 || !json_is_object(doc)) {
        err_set(e, ERR_MALFORMED, "kubeconfig", "kubeconfig %s is not one YAML mapping", kc);
        goto out;
    }
    ctx_name = o->context ? o->context : member(doc, "current-context");
    if (!ctx_name || !*ctx_name) {
        err_set(e, ERR_INVALID, "current-context",
                "kubeconfig %s has no current-context: name one with --context", kc);
        goto out;
    }
    if (!(ctx = named(doc, "contexts", "context", ctx_name))) {
        err_set(e, ERR_INVALID, "context", "kubeconfig %s has no context \"%s\"", kc, ctx_name);
        goto out;
    }
    cl_name = member(ctx, "cluster");
    user_name = member(ctx, "user");
    if (!cl_name || !(cl = named(doc, "clusters", "cluster", cl_name))) {
        err_set(e, ERR_INVALID, "cluster",
                "kubeconfig %s: context \"%s\" names cluster \"%s\", "
                "which is not in clusters",
                kc, ctx_name, cl_name ? cl_name : "");
        goto out;
    }
    if (!user_name || !(u = named(doc, "users", "user", user_name))) {
        err_set(e, ERR_INVALID, "user",
                "kubeconfig %s: context \"%s\" names user \"%s\", which "
                "is not in users",
                kc, ctx_name, user_name ? user_name : "");
        goto out;
    }
    if (!(server = member(cl, "server")) || !*server) {
        err_set(e, ERR_INVALID, "server", "kubeconfig %s: cluster \"%s\" has no server", kc,
                cl_name);
        goto out;
    }
    if (user_kind_check(kc, user_name, u, e))
        goto out;
    json_object_set_new(body, "apiServer", json_string(server));
    if (json_is_true(json_object_get(cl, "insecure-skip-tls-verify")))
        json_object_set_new(body, "insecureSkipTLSVerify", json_true());
    if (load_cred(kc, cl, "certificate-authority", &cr[CRED_CA], e) ||
        load_cred(kc, u, "client-certificate", &cr[CRED_CERT], e) ||
        load_cred(kc, u, "client-key", &cr[CRED_KEY], e))
        goto out;
    if ((v = member(u, "token")) && *v) {
        cr[CRED_TOKEN].data = xasprintf("%s\n", v);
        cr[CRED_TOKEN].len = strlen(cr[CRED_TOKEN].data);
    } else if ((v = member(u, "tokenFile")) || (v = member(u, "token-file"))) {
        /* Tokens are rotated in place: the server reads this file itself, so it must lie
         * in the server's secrets directory. */
        char *path = beside(kc, v), real[PATH_MAX];

        json_object_set_new(body, "tokenFile", json_string(realpath(path, real) ? real : path));
        free(path);
    }
    if (!cr[CRED_TOKEN].data && !json_object_get(body, "tokenFile") && !cr[CRED_CERT].data) {
        err_set(e, ERR_INVALID, "user",
                "kubeconfig %s: user \"%s\" has no token, tokenFile or client certificate", kc,
                user_name);
        goto out;
    }
    rc = 0;
out:
    json_decref(docs);
    free(text);
    return rc;
}

/* Writes data to path (mode 0600) through a temporary file, so a reader never sees half. */
static int write_secret(const char *path, const char *data, size_t len, struct err *e)
{
    char *tmp = xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    ssize_t n = -1;
    int rc = -1;

    if (fd >= 0) {
        n = write(fd, data, len);
        if (close(fd) == 0 && n == (ssize_t)len && rename(tmp, path) == 0)
            rc = 0;
    }
    if (rc)
        err_set(e, ERR_IO, "secrets-dir", "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    free(tmp);
    return rc;
}

/* Writes the credentials into dir/name/ and names them in body, relative to the secrets
 * directory (the server takes relative paths from its secretsDir). */
static int store_creds(const char *dir, const char *name, struct cred *cr, json_t *body,
                       struct err *e)
{
    char *sub = xasprintf("%s/%s", dir, name);
    int rc = -1;

    if (mkdir(sub, 0700) != 0 && errno != EEXIST) {
        err_set(e, ERR_IO, "secrets-dir",
                "cannot make %s: %s (the secrets directory is "
                "--secrets-dir, $FEDSCHED_SECRETS_DIR or %s)",
                sub, strerror(errno), DEFAULT_SECRETS_DIR);
        goto out;
    }
    for (int i = 0; i < CRED_N; i++) {
        char *path, *rel;

        if (!cr[i].data)
            continue;
        path = xasprintf("%s/%s", sub, cr[i].file);
        rel = xasprintf("%s/%s", name, cr[i].file);
        rc = write_secret(path, cr[i].data, cr[i].len, e);
        if (rc == 0)
            json_object_set_new(body, cr[i].member, json_string(rel));
        free(path);
        free(rel);
        if (rc)
            goto out;
    }
    rc = 0;
out:
    free(sub);
    return rc;
}

static int verb_add(struct ctx *c, const char *name)
{
    struct cred cr[CRED_N] = {
        [CRED_CA] = {"caFile", "ca.crt", false, NULL, 0},
        [CRED_TOKEN] = {"tokenFile", "token", true, NULL, 0},
        [CRED_CERT] = {"clientCertificateFile", "client.crt", false, NULL, 0},
        [CRED_KEY] = {"clientKeyFile", "client.key", true, NULL, 0},
    };
    json_t *body = json_object(), *r = NULL;
    char *text = NULL, *path = NULL, *hint = NULL;
    struct err e = {0};
    int rc = CLI_EXIT_USAGE;

    if (!c->o.kubeconfig) {
        rc = cli_usage_error("cluster", "cluster add needs --kubeconfig FILE");
        goto out;
    }
    if (read_kubeconfig(&c->o, body, cr, &e) || store_creds(c->o.secrets_dir, name, cr, body, &e)) {
        fprintf(stderr, "fedsched: %s %s: %s\n", c->verb, name, e.msg);
        goto out;
    }
    if (c->o.region)
        json_object_set_new(body, "region", json_string(c->o.region));
    if (c->o.provider)
        json_object_set_new(body, "provider", json_string(c->o.provider));
    if (c->o.allow_http)
        json_object_set_new(body, "allowInsecureHttp", json_true());
    text = json_dumps(body, JSON_COMPACT);
    path = cluster_path(name, "");
    hint = xasprintf("the server reads credential files from its own secretsDir; this command "
                     "wrote them under %s/%s: run it where that directory is the server's, or "
                     "name the server's with --secrets-dir",
                     c->o.secrets_dir, name);
    rc = call(c, "PUT", path, text, hint, &r);
    if (rc)
        goto out;
    if (strcmp(c->o.output, "json") == 0)
        cli_print_json(r);
    else
        printf("cluster %s added (%s); credentials in %s/%s\n", name,
               jstr(json_object_get(r, "spec"), "apiServer"), c->o.secrets_dir, name);
out:
    for (int i = 0; i < CRED_N; i++)
        if (cr[i].data) {
            if (cr[i].secret)
                memset(cr[i].data, 0, cr[i].len);
            free(cr[i].data);
        }
    json_decref(body);
    json_decref(r);
    free(text);
    free(path);
    free(hint);
    return rc;
}

/* ---- command line ---------------------------------------------------------------------------- */

enum {
    OPT_URL = 256,
    OPT_TOKEN,
    OPT_RETRY,
    OPT_KUBECONFIG,
    OPT_CONTEXT,
    OPT_SECRETS_DIR,
    OPT_REGION,
    OPT_PROVIDER,
    OPT_ALLOW_HTTP,
    OPT_CHUNK_SIZE,
    OPT_SKU,
    OPT_POOL,
};

/* Options into o; -1 after --help (exit 0), else 0 or a usage exit code. */
static int parse(int argc, char **argv, struct opts *o)
{
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"url", required_argument, NULL, OPT_URL},
        {"token", required_argument, NULL, OPT_TOKEN},
        {"retry-for", required_argument, NULL, OPT_RETRY},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"context", required_argument, NULL, OPT_CONTEXT},
        {"secrets-dir", required_argument, NULL, OPT_SECRETS_DIR},
        {"region", required_argument, NULL, OPT_REGION},
        {"provider", required_argument, NULL, OPT_PROVIDER},
        {"allow-insecure-http", no_argument, NULL, OPT_ALLOW_HTTP},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {"sku", required_argument, NULL, OPT_SKU},
        {"pool", required_argument, NULL, OPT_POOL},
        {NULL, 0, NULL, 0},
    };
    struct err e = {0};
    int ch;

    optind = 1;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":o:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'o':
            if (strcmp(optarg, "json") && strcmp(optarg, "table"))
                return cli_usage_error("cluster", "-o must be table or json, not '%s'", optarg);
            o->output = optarg;
            break;
        case 'v': o->verbose = true; break;
        case 'h': usage(stdout); return -1;
        case OPT_URL: o->url = optarg; break;
        case OPT_TOKEN: o->token = optarg; break;
        case OPT_RETRY:
            if (wire_parse_duration(optarg, "--retry-for", &o->retry_ms, &e))
                return cli_usage_error("cluster", "%s", e.msg);
            break;
        case OPT_KUBECONFIG: o->kubeconfig = optarg; break;
        case OPT_CONTEXT: o->context = optarg; break;
        case OPT_SECRETS_DIR: o->secrets_dir = optarg; break;
        case OPT_REGION: o->region = optarg; break;
        case OPT_PROVIDER: o->provider = optarg; break;
        case OPT_ALLOW_HTTP: o->allow_http = true; break;
        case OPT_CHUNK_SIZE: {
            int64_t n;

            if (num_parse_i64(optarg, 1, NODES_PAGE_MAX, &n))
                return cli_usage_error("cluster",
                                       "--chunk-size must be an integer in 1..%d, not '%s'",
                                       NODES_PAGE_MAX, optarg);
            o->chunk_size = (int)n;
            break;
        }
        case OPT_SKU: o->sku = optarg; break;
        case OPT_POOL: o->pool = optarg; break;
        case ':': return cli_usage_error("cluster", "option '%s' needs a value", argv[optind - 1]);
        default: return cli_usage_error("cluster", "unknown option '%s'", argv[optind - 1]);
        }
    }
    return 0;
}

/* Runs sub (argv[optind...]: the sub-verb's operands). */
static int dispatch(struct ctx *c, const char *sub, int argc, char **argv)
{
    static const char *const with_name[] = {"add",   "get",   "cordon", "uncordon",
                                            "check", "nodes", "remove", NULL};
    const char *name = optind < argc ? argv[optind++] : NULL;
    bool takes_filters = strcmp(sub, "capacity") == 0 || strcmp(sub, "nodes") == 0;
    size_t i;

    if ((c->o.sku && !takes_filters && strcmp(sub, "quotas") != 0) || (c->o.pool && !takes_filters))
        return cli_usage_error("cluster", "%s applies to capacity and cluster nodes%s, not %s",
                               c->o.sku ? "--sku" : "--pool", c->o.sku ? " (and quotas)" : "", sub);

    if (strcmp(sub, "list") == 0 || strcmp(sub, "capacity") == 0 || strcmp(sub, "quotas") == 0) {
        if (name)
            return cli_usage_error("cluster", "unexpected argument '%s'", name);
        return strcmp(sub, "list") == 0       ? verb_list(c)
               : strcmp(sub, "capacity") == 0 ? verb_capacity(c)
                                              : verb_quotas(c);
    }
    for (i = 0; with_name[i] && strcmp(with_name[i], sub) != 0; i++)
        ;
    if (!with_name[i])
        return cli_usage_error("cluster", "unknown cluster verb '%s'", sub);
    if (!name)
        return cli_usage_error("cluster", "cluster %s needs a cluster NAME", sub);
    if (optind < argc)
        return cli_usage_error("cluster", "unexpected argument '%s'", argv[optind]);
    if (strcmp(sub, "add") == 0)
        return verb_add(c, name);
    if (strcmp(sub, "get") == 0)
        return verb_one(c, "GET", name, "");
    if (strcmp(sub, "cordon") == 0)
        return verb_one(c, "POST", name, "/cordon");
    if (strcmp(sub, "uncordon") == 0)
        return verb_one(c, "POST", name, "/uncordon");
    if (strcmp(sub, "check") == 0)
        return verb_check(c, name);
    if (strcmp(sub, "nodes") == 0)
        return verb_nodes(c, name);
    return verb_remove(c, name);
}

int cli_cluster_main(int argc, char **argv)
{
    struct ctx c = {0};
    struct cli_http_opts ho;
    struct err e = {0};
    const char *env, *sub;
    int rc;

    c.o.url = (env = getenv("FEDSCHED_URL")) && *env ? env : DEFAULT_URL;
    c.o.token = getenv("FEDSCHED_TOKEN");
    c.o.secrets_dir = (env = getenv("FEDSCHED_SECRETS_DIR")) && *env ? env : DEFAULT_SECRETS_DIR;
    c.o.output = "table";
    c.o.retry_ms = DEFAULT_RETRY_MS;
    c.o.chunk_size = NODES_PAGE;
    if ((rc = parse(argc, argv, &c.o)))
        return rc < 0 ? CLI_EXIT_OK : rc;
    if (strcmp(argv[0], "cluster") == 0) {
        if (optind >= argc)
            return cli_usage_error("cluster",
                                   "cluster needs a verb: add, list, get, cordon, uncordon, check, "
                                   "nodes or remove");
        sub = argv[optind++];
    } else {
        sub = strcmp(argv[0], "clusters") == 0 ? "list" : argv[0]; /* capacity, quotas */
    }
    snprintf(c.verb, sizeof(c.verb), "%s%s%s", argv[0], strcmp(argv[0], "cluster") ? "" : " ",
             strcmp(argv[0], "cluster") ? "" : sub);
    ho = (struct cli_http_opts){
        .base_url = c.o.url, .token = c.o.token, .retry_ms = c.o.retry_ms, .verbose = c.o.verbose};
    if (cli_http_new(&ho, &c.http, &e)) {
        fprintf(stderr, "fedsched: %s\n", e.msg);
        return CLI_EXIT_USAGE;
    }
    rc = dispatch(&c, sub, argc, argv);
    cli_http_free(&c.http);
    return rc;
}
