/* serve.c -- `fedsched serve`: config, database, migrations, the HTTP API, and a clean
 * drain on SIGTERM. `fedsched migrate`: apply migrations and exit. */
#include "cmd/serve.h"

#include "api/api.h"
#include "base/err.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/sku.h"
#include "cluster/poller.h"
#include "cluster/secrets.h"
#include "cmd/config.h"
#include "cmd/registry.h"
#include "scheduler/retry.h"
#include "scheduler/sched.h"
#include "base/version.h"
#include "store/store.h"

#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONFIG_FILES_MAX 8

struct cli {
    const char *config_paths[CONFIG_FILES_MAX];
    size_t n_config;
    bool no_migrate;
};

static int parse_cli(int argc, char **argv, struct cli *cli, const char *usage)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"no-migrate", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            if (cli->n_config == CONFIG_FILES_MAX) {
                fprintf(stderr, "fedsched: at most %d --config files\n", CONFIG_FILES_MAX);
                return -1;
            }
            cli->config_paths[cli->n_config++] = optarg;
            break;
        case 'n': cli->no_migrate = true; break;
        case 'h': printf("%s", usage); return 1;
        default: fprintf(stderr, "%s", usage); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "fedsched: unexpected argument '%s'\n%s", argv[optind], usage);
        return -1;
    }
    return 0;
}

static int setup(const struct cli *cli, struct config *cfg, struct store **store)
{
    struct err e = {0};
    struct store_config sc;

    if (config_load(cfg, cli->config_paths, cli->n_config, &e)) {
        fprintf(stderr, "fedsched: config: %s\n", e.msg);
        return -1;
    }
    log_set_level(cfg->log_level);
    config_store_options(cfg, &sc);
    if (store_open(&sc, store, &e)) {
        fprintf(stderr, "fedsched: database: %s\n", e.msg);
        config_free(cfg);
        return -1;
    }
    return 0;
}

int migrate_main(int argc, char **argv)
{
    static const char usage[] = "usage: fedsched migrate [--config FILE]\n"
                                "Applies pending database migrations and exits.\n";
    struct cli cli = {0};
    struct config cfg;
    struct store *store = NULL;
    struct err e = {0};
    int applied = 0, rc;

    if ((rc = parse_cli(argc, argv, &cli, usage)))
        return rc > 0 ? 0 : 2;
    if (setup(&cli, &cfg, &store))
        return 1;
    rc = store_migrate(store, &applied, &e);
    store_close(&store);
    config_free(&cfg);
    if (rc) {
        LOG(LOG_ERROR, "store", "event=migrate_failed field=%s msg=\"%s\"", e.field, e.msg);
        return 1;
    }
    LOG(LOG_INFO, "store", "event=migrated applied=%d", applied);
    return 0;
}

struct serve_ctx {
    struct store *store;
    struct poller *poller;
    const struct sku_catalogue *skus;
};

/* The admin API changed the registry: hand the new set to the poller now rather than at
 * the next periodic sync. */
static void clusters_changed(void *arg)
{
    struct serve_ctx *ctx = arg;
    struct err e = {0};

    if (registry_sync(ctx->store, ctx->poller, ctx->skus, &e))
        LOG(LOG_WARN, "registry", "event=sync_failed msg=\"%s\"", e.msg);
}

/* A watched Job or RayJob changed: the scheduler tracks it now rather than at its next
 * cycle. *arg is the scheduler, made before the poller thread starts. */
static void objects_changed(void *arg)
{
    struct sched *s = *(struct sched **)arg;

    if (s)
        sched_wake(s);
}

static int start_poller(const struct config *cfg, struct store *store, struct sched **sched,
                        struct poller **out, struct err *e)
{
    struct poller_options o;

    config_poller_options(cfg, &o);
    o.sink = registry_sample_sink;
    o.sink_arg = store;
    o.objects_changed = objects_changed;
    o.objects_arg = sched;
    return poller_create(NULL, 0, &o, out, e);
}

/* The scheduler (leader election and the cycle): made before the API starts, so /metrics
 * can render it from the first request; its thread starts once the poller runs. Every
 * replica stands by, one leads. holder ("host:pid:port") names it in the leader row. */
static int sched_explain_source(void *arg, const char *ns, const char *name,
                                const struct job *unsaved, struct buf *out, struct err *e)
{
    return unsaved ? sched_explain_new(arg, unsaved, out, e) : sched_explain(arg, ns, name, out, e);
}

static int sched_queue_source(void *arg, const struct api_queue_query *q, struct buf *out,
                              struct err *e)
{
    const struct sched_queue_query sq = {q->ns,  q->namespaces, q->n_namespaces,
                                         q->sku, q->offset,     q->limit};

    return sched_queue_view(arg, &sq, out, e);
}

static int make_scheduler(const struct config *cfg, struct store *store, struct poller *poller,
                          struct sched **out, struct err *e)
{
    struct sched_options o;
    char holder[160], host[64] = "";
    json_t *annotations;
    int rc = -1;

    config_sched_options(cfg, &o);
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0])
        snprintf(host, sizeof(host), "fedsched");
    snprintf(holder, sizeof(holder), "%s:%d:%d", host, (int)getpid(), cfg->listen_port);
    o.holder = holder;
    annotations = json_loads(cfg->scheduler_text.job_annotations, 0, NULL);
    o.annotations = annotations;
    /* Process-wide, before the scheduler thread starts: the policy of jobs without one. */
    retry_defaults_set(cfg->retry_defaults);
    rc = sched_new(&o, store, poller, out, e);
    json_decref(annotations);
    return rc;
}

static int sched_metrics_source(void *arg, struct buf *b)
{
    return sched_metrics(arg, b);
}

/* Member-cluster credential files come only from secretsDir (process-wide, set before any
 * thread reads them); the config file's clusters must name files that are there now. */
static int setup_secrets(const struct config *cfg, struct err *e)
{
    if (cluster_secrets_set_dir(cfg->secrets_dir, e))
        return -1;
    for (size_t i = 0; i < cfg->n_clusters; i++) {
        struct err ce = {0};
        char field[96];

        if (cluster_config_check_files(&cfg->clusters[i], &ce) == 0)
            continue;
        snprintf(field, sizeof(field), "clusters[%zu].%s", i, ce.field);
        return err_set(e, ERR_CONFIG, field, "clusters[%zu] (%s): %s", i, cfg->clusters[i].name,
                       ce.msg);
    }
    return 0;
}

int serve_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: fedsched serve [--config FILE]... [--no-migrate]\n"
        "Serves the API. Several --config files are applied in order, later ones\n"
        "overriding earlier ones. Applies pending migrations first unless --no-migrate or\n"
        "database.migrateOnStart=false. FEDSCHED_LISTEN, FEDSCHED_DATABASE_DSN,\n"
        "FEDSCHED_LOG_LEVEL, FEDSCHED_AUTH_MODE and FEDSCHED_SECRETS_DIR override the\n"
        "config file. SIGTERM/SIGINT drain and exit.\n";
    struct cli cli = {0};
    struct config cfg;
    struct store *store = NULL;
    struct api *api = NULL;
    struct api_server *srv = NULL;
    struct api_config ac = {0};
    struct poller *poller = NULL;
    struct sched *sched = NULL;
    struct serve_ctx ctx;
    struct err e = {0};
    sigset_t sigs;
    bool migrated, polling = false, sched_started = false;
    int64_t next_sync = 0;
    int rc, sig = 0;

    if ((rc = parse_cli(argc, argv, &cli, usage)))
        return rc > 0 ? 0 : 2;
    /* Block the shutdown signals before any thread exists, so every thread inherits the
     * mask and only this one receives them, with sigtimedwait. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (setup(&cli, &cfg, &store))
        return 1;
    if (setup_secrets(&cfg, &e)) {
        LOG(LOG_ERROR, "serve", "event=start_failed field=%s msg=\"%s\"", e.field, e.msg);
        rc = 1;
        goto out;
    }
    /* The TrainingJob validator reads the process-wide catalogue; set it before threads. */
    sku_set_catalogue(&cfg.skus);
    config_api_options(&cfg, &ac);
    if (!cfg.auth.enabled)
        LOG(LOG_WARN, "serve",
            "event=auth_disabled msg=\"AUTHENTICATION IS DISABLED: every caller is an admin. "
            "Development only; set auth.mode to tokens\"");
    if (start_poller(&cfg, store, &sched, &poller, &e) || api_new(&ac, store, &api, &e)) {
        LOG(LOG_ERROR, "serve", "event=start_failed field=%s msg=\"%s\"", e.field, e.msg);
        rc = 1;
        goto out;
    }
    ctx = (struct serve_ctx){store, poller, &cfg.skus};
    api_attach_clusters(api, poller, &cfg.skus, clusters_changed, &ctx);
    /* Every replica has a scheduler object, so any of them can explain; only those with
     * scheduler.enabled run its thread (and stand for election). */
    if (make_scheduler(&cfg, store, poller, &sched, &e)) {
        LOG(LOG_ERROR, "serve", "event=start_failed field=%s msg=\"%s\"", e.field, e.msg);
        rc = 1;
        goto out;
    }
    api_attach_explainer(api, sched_explain_source, sched);
    api_attach_queue_view(api, sched_queue_source, sched);
    if (cfg.scheduler_enabled)
        api_attach_scheduler(api, sched_metrics_source, sched);
    if (api_server_start(api, cfg.listen_host, cfg.listen_port, &srv, &e)) {
        LOG(LOG_ERROR, "serve", "event=start_failed field=%s msg=\"%s\"", e.field, e.msg);
        rc = 1;
        goto out;
    }
    LOG(LOG_INFO, "serve", "event=listening addr=%s port=%d tls=%s auth=%s version=%s",
        cfg.listen_host, api_server_port(srv), ac.tls_cert_file ? "on" : "off",
        cfg.auth.enabled ? "tokens" : "DISABLED", fedsched_version);

    /* The API answers from the start (readyz says 503 until the schema is current), and
     * migrations are retried until the database is reachable. */
    migrated = cli.no_migrate || !cfg.database.migrate_on_start;
    for (;;) {
        struct timespec wait = {.tv_sec = migrated ? 1 : 2};

        if (!migrated) {
            int applied = 0;

            if (store_migrate(store, &applied, &e) == 0) {
                LOG(LOG_INFO, "store", "event=migrated applied=%d", applied);
                migrated = true;
            } else if (e.code == ERR_CONFIG) {
                LOG(LOG_ERROR, "store", "event=migrate_refused msg=\"%s\"", e.msg);
                rc = 1;
                break;
            } else {
                LOG(LOG_WARN, "store", "event=migrate_retry msg=\"%s\"", e.msg);
            }
        }
        /* Once the schema is there: the config file's clusters into the registry, then
         * the registry into the poller, again every registrySyncS (other replicas and the
         * admin API edit it too). */
        if (migrated && clock_mono_ms() >= next_sync) {
            if (!polling && registry_import(store, cfg.clusters, cfg.n_clusters, &e) == 0 &&
                registry_sync(store, poller, &cfg.skus, &e) == 0 && poller_start(poller, &e) == 0)
                polling = true;
            else if (polling && registry_sync(store, poller, &cfg.skus, &e))
                LOG(LOG_WARN, "registry", "event=sync_failed msg=\"%s\"", e.msg);
            else if (!polling)
                LOG(LOG_WARN, "registry", "event=start_failed msg=\"%s\"", e.msg);
            next_sync = clock_mono_ms() + cfg.scheduler.registry_sync_ms;
        }
        if (polling && cfg.scheduler_enabled && !sched_started) {
            if (sched_start(sched, &e) == 0) {
                sched_started = true;
                LOG(LOG_INFO, "serve", "event=scheduler_started");
            } else {
                LOG(LOG_ERROR, "serve", "event=scheduler_failed msg=\"%s\"", e.msg);
            }
        }
        sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            rc = 0;
            break;
        }
    }
    /* Resign first, so a standby takes over while this replica drains. */
    if (sched)
        sched_stop(sched);
    if (sig) {
        int left;

        LOG(LOG_INFO, "serve", "event=draining signal=%d timeout_s=%d", sig,
            cfg.http.drain_timeout_s);
        left = api_server_drain(srv, cfg.http.drain_timeout_s);
        LOG(left ? LOG_WARN : LOG_INFO, "serve", "event=drained unfinished=%d", left);
    }
out:
    api_server_stop(&srv);
    api_free(&api);
    sched_free(&sched);
    poller_free(&poller);
    store_close(&store);
    config_free(&cfg);
    LOG(LOG_INFO, "serve", "event=stopped rc=%d", rc);
    return rc;
}
