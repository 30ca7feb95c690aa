/* main.c -- the fedsched binary: dispatches to subcommands. */
#include "client/cli.h"
#include "cmd/config.h"
#include "cmd/serve.h"
#include "cmd/token.h"
#include "whatif/whatif.h"
#include "base/version.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f, "usage: fedsched <command> [options]\n"
               "commands:\n"
               "  serve      run the API server\n"
               "  migrate    apply pending database migrations and exit\n"
               "  token      create, list or revoke API tokens\n"
               "  simulate   replay a job trace through the policy and baselines (what-if)\n"
               "  version    print the version\n"
               "client verbs (talk to $FEDSCHED_URL with $FEDSCHED_TOKEN):\n"
               "  submit     submit a TrainingJob (-f job.json [--wait --timeout 2h])\n"
               "  get, list, cancel, wait, explain, logs-url   one job or many\n"
               "  cancel, hold, release -l SELECTOR   every job a label selector matches\n"
               "  report     capacity report (--from --to --step --format csv|json|md|html)\n"
               "  cluster    add NAME --kubeconfig F, list, get, cordon, uncordon, check, remove\n"
               "  clusters, capacity   member clusters; free and used GPUs by SKU and pool\n"
               "  quotas     GPU quotas per namespace and SKU beside their use\n"
               "Run 'fedsched <command> --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "serve") == 0)
        return serve_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "migrate") == 0)
        return migrate_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "token") == 0)
        return token_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "simulate") == 0) {
        /* The simulator starts from the configuration's policy knobs (the table's
         * defaults); --policy FILE overrides some of them. */
        struct config cfg;
        int rc;

        config_defaults(&cfg);
        rc = whatif_main(argc - 1, argv + 1, &cfg.policy);
        config_free(&cfg);
        return rc;
    }
    if (cli_is_verb(argv[1]))
        return cli_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("fedsched %s\n", fedsched_version);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "fedsched: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
