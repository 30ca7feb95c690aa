/* k8s_sim.c -- running the simulator inside a test process. */
#include "tests/support/k8s_sim.h"

#include "base/clock.h"
#include "base/err.h"
#include "base/mem.h"
#include "cluster/secrets.h"
#include "tests/support/k8s_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, const struct err *e)
{
    fprintf(stderr, "k8s_env: %s: %s\n", what, e ? e->msg : "");
    abort();
}

void k8s_env_start_text(struct k8s_env *env, const char *text, bool shared)
{
    struct sim_options o;
    struct sim_scenario *scn = NULL;
    struct err e = {0};

    memset(env, 0, sizeof(*env));
    snprintf(env->dir, sizeof(env->dir), "/tmp/fedsched-k8s-XXXXXX");
    if (!mkdtemp(env->dir))
        die("mkdtemp", NULL);
    /* Token files are written here, and credential files are read only from the secrets
     * directory: the in-process pollers and job clients of the test read from env->dir. */
    if (cluster_secrets_set_dir(env->dir, &e) != 0)
        die("secrets dir", &e);
    memset(&o, 0, sizeof(o));
    o.scenario_text = text;
    o.scenario_len = strlen(text);
    o.shared = shared;
    if (sim_start(&o, &env->sim, &e) != 0)
        die("sim_start", &e);
    if (sim_scenario_parse(text, strlen(text), &scn, &e) != 0)
        die("scenario", &e);
    env->n = scn->n_clusters;
    env->cfgs = xcalloc(env->n, sizeof(*env->cfgs));
    for (size_t i = 0; i < env->n; i++) {
        const struct sim_cluster_spec *sp = &scn->clusters[i];
        struct cluster_config *c = &env->cfgs[i];
        bool serving = false;

        cluster_config_init(c);
        snprintf(c->name, sizeof(c->name), "%s", sp->name);
        if (sim_url(env->sim, sp->name, c->api_server, sizeof(c->api_server), &e) != 0)
            die("sim_url", &e);
        snprintf(c->region, sizeof(c->region), "sim");
        snprintf(c->provider, sizeof(c->provider), "fedsched-sim");
        if (sp->token[0]) {
            FILE *f;

            snprintf(c->token_file, sizeof(c->token_file), "%s/%s.token", env->dir, sp->name);
            f = fopen(c->token_file, "w");
            if (!f)
                die("token file", NULL);
            fprintf(f, "%s\n", sp->token);
            fclose(f);
        }
        for (size_t p = 0; p < sp->n_pools; p++)
            serving |= strcmp(sp->pools[p].pool, "serving") == 0;
        if (serving) {
            c->serving.enabled = true;
            snprintf(c->serving.selector[0].key, sizeof(c->serving.selector[0].key),
                     "fedsched.io/pool");
            snprintf(c->serving.selector[0].value, sizeof(c->serving.selector[0].value), "serving");
            c->serving.n_selector = 1;
            snprintf(c->serving.namespaces[0], sizeof(c->serving.namespaces[0]), "serving");
            c->serving.n_namespaces = 1;
            c->serving.reserve_gpus = 1;
        }
        if (cluster_config_validate(c, sku_defaults(), &e) != 0)
            die("config", &e);
    }
    sim_scenario_free(&scn);
}

void k8s_env_start(struct k8s_env *env, const char *rel, bool shared)
{
    char *text = k8s_fixture_read(rel, NULL);

    k8s_env_start_text(env, text, shared);
    free(text);
}

void k8s_env_stop(struct k8s_env *env)
{
    sim_stop(&env->sim);
    for (size_t i = 0; i < env->n; i++)
        if (env->cfgs[i].token_file[0])
            unlink(env->cfgs[i].token_file);
    rmdir(env->dir);
    free(env->cfgs);
    memset(env, 0, sizeof(*env));
}

size_t k8s_env_index(const struct k8s_env *env, const char *name)
{
    for (size_t i = 0; i < env->n; i++)
        if (strcmp(env->cfgs[i].name, name) == 0)
            return i;
    fprintf(stderr, "k8s_env: no cluster %s\n", name);
    abort();
}

bool k8s_wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
    int64_t end = clock_mono_ms() + timeout_ms;

    do {
        if (cond(arg))
            return true;
        usleep(20000);
    } while (clock_mono_ms() < end);
    return cond(arg);
}
