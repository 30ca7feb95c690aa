/* serve.c -- `fedsched serve`: config, database, migrations, the HTTP API, and a clean
 * drain on SIGTERM. `fedsched migrate`: apply migrations and exit. */
#include "scheduler/serve.h"

#include "api/api.h"
#include "base/err.h"
#include "base/log.h"
#include "scheduler/config.h"
#include "scheduler/version.h"
#include "store/store.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

struct cli {
    const char *config_path;
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
        case 'c': cli->config_path = optarg; break;
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

    if (config_load(cfg, cli->config_path, &e)) {
        fprintf(stderr, "fedsched: config: %s\n", e.msg);
        return -1;
    }
    log_set_level(cfg->log_level);
    sc.dsn = cfg->database.dsn;
    sc.pool_size = cfg->database.pool_size;
    sc.statement_timeout_ms = cfg->database.statement_timeout_ms;
    sc.connect_timeout_s = cfg->database.connect_timeout_s;
    sc.acquire_timeout_ms = cfg->database.statement_timeout_ms;
    if (store_open(&sc, store, &e)) {
        fprintf(stderr, "fedsched: database: %s\n", e.msg);
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
    if (rc) {
        LOG(LOG_ERROR, "store", "event=migrate_failed field=%s msg=\"%s\"", e.field, e.msg);
        return 1;
    }
    LOG(LOG_INFO, "store", "event=migrated applied=%d", applied);
    return 0;
}

int serve_main(int argc, char **argv)
{
    static const char usage[] =
        "usage: fedsched serve [--config FILE] [--no-migrate]\n"
        "Serves the API. Applies pending migrations first unless --no-migrate or\n"
        "database.migrateOnStart=false. FEDSCHED_LISTEN, FEDSCHED_DATABASE_DSN and\n"
        "FEDSCHED_LOG_LEVEL override the config file. SIGTERM/SIGINT drain and exit.\n";
    struct cli cli = {0};
    struct config cfg;
    struct store *store = NULL;
    struct api *api = NULL;
    struct api_server *srv = NULL;
    struct api_config ac;
    struct err e = {0};
    sigset_t sigs;
    bool migrated;
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
    ac.max_body_bytes = cfg.http.max_body_bytes;
    ac.max_connections = cfg.http.max_connections;
    ac.request_timeout_s = cfg.http.request_timeout_s;
    if (api_new(&ac, store, &api, &e) ||
        api_server_start(api, cfg.listen_host, cfg.listen_port, &srv, &e)) {
        LOG(LOG_ERROR, "serve", "event=start_failed field=%s msg=\"%s\"", e.field, e.msg);
        rc = 1;
        goto out;
    }
    LOG(LOG_INFO, "serve", "event=listening addr=%s port=%d version=%s", cfg.listen_host,
        api_server_port(srv), fedsched_version);

    /* The API answers from the start (readyz says 503 until the schema is current), and
     * migrations are retried until the database is reachable. */
    migrated = cli.no_migrate || !cfg.database.migrate_on_start;
    for (;;) {
        struct timespec wait = {.tv_sec = migrated ? 3600 : 2};

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
        sig = sigtimedwait(&sigs, NULL, &wait);
        if (sig == SIGTERM || sig == SIGINT) {
            rc = 0;
            break;
        }
    }
    if (sig) {
        int left;

        LOG(LOG_INFO, "serve", "event=draining signal=%d timeout_s=%d", sig,
            cfg.http.drain_timeout_s);
        store_watch_shutdown(store); /* long-polls answer now instead of holding the drain */
        left = api_server_drain(srv, cfg.http.drain_timeout_s);
        LOG(left ? LOG_WARN : LOG_INFO, "serve", "event=drained unfinished=%d", left);
    }
out:
    api_server_stop(&srv);
    api_free(&api);
    store_close(&store);
    LOG(LOG_INFO, "serve", "event=stopped rc=%d", rc);
    return rc;
}
