/* token.c -- token administration. A token is 256 random bits shown once; only its
 * SHA-256 is stored, so a leaked database does not leak working tokens. */
#include "cmd/token.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "cmd/config.h"
#include "store/store.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#define NS_MAX 32

static const char usage[] =
    "usage: fedsched token create --name NAME --role admin|submitter|viewer\n"
    "                             [--namespace NS]... [--config FILE]\n"
    "       fedsched token list [--config FILE]\n"
    "       fedsched token revoke --name NAME [--config FILE]\n"
    "create prints the new token once; store it in your CI's secret store. A submitter\n"
    "needs at least one --namespace; a viewer without one may read every namespace.\n"
    "The database comes from the config file or FEDSCHED_DATABASE_DSN.\n";

/* "fst_" + 43 base64url characters of 32 random bytes. */
static int new_token(char out[64])
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[33] = {0};
    size_t o = 4;

    if (getrandom(raw, 32, 0) != 32)
        return -1;
    memcpy(out, "fst_", 4);
    for (int i = 0; i < 33; i += 3) {
        unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 | raw[i + 2];

        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    out[4 + 43] = '\0'; /* 32 bytes are 43 characters; the rest encoded the padding */
    return 0;
}

static int open_store(const char *const *configs, size_t n_configs, struct store **s)
{
    struct config cfg;
    struct store_config sc;
    struct err e = {0};
    int rc;

    if (config_load(&cfg, configs, n_configs, &e)) {
        fprintf(stderr, "fedsched: config: %s\n", e.msg);
        return -1;
    }
    config_store_options(&cfg, &sc);
    sc.pool_size = 1; /* one statement at a time */
    rc = store_open(&sc, s, &e);
    config_free(&cfg);
    if (rc)
        fprintf(stderr, "fedsched: database: %s\n", e.msg);
    return rc;
}

int token_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"name", required_argument, NULL, 'n'},
        {"role", required_argument, NULL, 'r'},
        {"namespace", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *name = NULL, *role = NULL, *ns[NS_MAX], *configs[8];
    size_t n_ns = 0, n_configs = 0;
    const char *verb;
    struct store *s = NULL;
    struct err e = {0};
    int ch, rc = 1;

    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    verb = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': name = optarg; break;
        case 'r': role = optarg; break;
        case 's':
            if (n_ns == NS_MAX) {
                fprintf(stderr, "fedsched: at most %d namespaces\n", NS_MAX);
                return 2;
            }
            ns[n_ns++] = optarg;
            break;
        case 'c':
            if (n_configs < 8)
                configs[n_configs++] = optarg;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (strcmp(verb, "create") == 0) {
        char token[64], hash[2 * SHA256_LEN + 1];

        if (!name || !role) {
            fprintf(stderr, "fedsched: token create needs --name and --role\n%s", usage);
            return 2;
        }
        if (strcmp(role, "admin") && strcmp(role, "submitter") && strcmp(role, "viewer")) {
            fprintf(stderr, "fedsched: --role \"%s\" is not admin, submitter or viewer\n", role);
            return 2;
        }
        if (strcmp(role, "submitter") == 0 && n_ns == 0) {
            fprintf(stderr, "fedsched: a submitter token needs at least one --namespace\n");
            return 2;
        }
        if (strcmp(role, "admin") == 0 && n_ns) {
            fprintf(stderr, "fedsched: an admin token covers every namespace; drop --namespace\n");
            return 2;
        }
        if (new_token(token)) {
            fprintf(stderr, "fedsched: the kernel's random source failed\n");
            return 1;
        }
        sha256_hex(token, strlen(token), hash);
        if (open_store(configs, n_configs, &s))
            return 1;
        if (store_token_create(s, name, role, ns, n_ns, hash, &e)) {
            fprintf(stderr, "fedsched: %s\n", e.msg);
        } else {
            printf("%s\n", token);
            fprintf(stderr, "token %s (%s) created; it is shown only this once\n", name, role);
            rc = 0;
        }
    } else if (strcmp(verb, "list") == 0) {
        struct store_token *v = NULL;
        size_t n = 0;

        if (open_store(configs, n_configs, &s))
            return 1;
        if (store_token_list(s, &v, &n, &e)) {
            fprintf(stderr, "fedsched: %s\n", e.msg);
        } else {
            printf("%-24s %-10s %-8s %-24s %-24s %s\n", "NAME", "ROLE", "STATE", "CREATED",
                   "LAST USED", "NAMESPACES");
            for (size_t i = 0; i < n; i++) {
                char created[40], used[40] = "never";

                clock_format_rfc3339(v[i].created_ms, created, sizeof(created));
                if (v[i].last_used_ms)
                    clock_format_rfc3339(v[i].last_used_ms, used, sizeof(used));
                printf("%-24s %-10s %-8s %-24s %-24s ", v[i].name, v[i].role,
                       v[i].revoked ? "revoked" : "active", created, used);
                for (size_t k = 0; k < v[i].n_namespaces; k++)
                    printf("%s%s", k ? "," : "", v[i].namespaces[k]);
                printf("%s\n", v[i].n_namespaces ? "" : "*");
            }
            store_tokens_free(&v, n);
            rc = 0;
        }
    } else if (strcmp(verb, "revoke") == 0) {
        if (!name) {
            fprintf(stderr, "fedsched: token revoke needs --name\n");
            return 2;
        }
        if (open_store(configs, n_configs, &s))
            return 1;
        if (store_token_revoke(s, name, &e))
            fprintf(stderr, "fedsched: %s\n", e.msg);
        else {
            fprintf(stderr, "token %s revoked (servers stop accepting it within 10 s)\n", name);
            rc = 0;
        }
    } else {
        fprintf(stderr, "fedsched: unknown token command '%s'\n%s", verb, usage);
        return 2;
    }
    store_close(&s);
    return rc;
}
