/* retry_config.c -- retryDefaults from the configuration file: namespaces' retry policies
 * checked by the same rules as a job's spec.scheduling.retry. */
#include "cmd/retry_config.h"

#include "api/trainingjob_retry.h"
#include "base/dns.h"
#include "base/err.h"

#include <stdio.h>
#include <string.h>

int retry_config_parse(const json_t *v, json_t **out, struct err *e)
{
    json_t *all, *policy;
    const char *ns;

    if (!json_is_object(v))
        return err_set(e, ERR_CONFIG, "retryDefaults", "retryDefaults: must be an object");
    all = json_object();
    json_object_foreach((json_t *)v, ns, policy)
    {
        char path[128];
        json_t *canon = NULL;
        struct err pe = {0};

        snprintf(path, sizeof(path), "retryDefaults.%s", ns);
        if (strcmp(ns, "*") != 0 && !dns_label_ok(ns, strlen(ns))) {
            json_decref(all);
            return err_set(e, ERR_CONFIG, "retryDefaults",
                           "retryDefaults: \"%.63s\" is not a namespace name or \"*\"", ns);
        }
        if (trainingjob_retry_parse(policy, path, &canon, &pe)) {
            json_decref(all);
            return err_set(e, ERR_CONFIG, pe.field, "%s: %s", pe.field, pe.msg);
        }
        json_object_set_new(all, ns, canon);
    }
    *out = all;
    return 0;
}
