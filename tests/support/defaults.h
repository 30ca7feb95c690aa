/* defaults.h -- test helper: the configuration table's defaults (cmd/config.c, the only place
 * they are written) for tests that build one subsystem by hand. No main. */
#ifndef TESTS_SUPPORT_DEFAULTS_H
#define TESTS_SUPPORT_DEFAULTS_H

struct policy_config;
struct poller_options;
struct sched_options;
struct store_config;

/* The policy knobs as `fedsched serve` runs them without a config file. */
void defaults_policy(struct policy_config *out);

/* The poller's options; skus NULL (the process catalogue), no sink. */
void defaults_poller(struct poller_options *out);

/* The scheduler's numbers; every pointer NULL: set dsn and policy before sched_new(). */
void defaults_sched(struct sched_options *out);

/* The store's options for dsn (borrowed: it must outlive the store) and pool_size
 * connections, the timeouts as the table has them. */
void defaults_store(struct store_config *out, const char *dsn, int pool_size);

#endif
