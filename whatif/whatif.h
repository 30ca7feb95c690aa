/* whatif.h -- `fedsched simulate`: the trace-driven what-if simulator's command line. It
 * reads a federation layout (or splits a trace's node list into one), a job trace and policy
 * knobs, runs our policy (with and without borrowing) and the baselines over the same
 * inputs, and prints them side by side as a table and/or JSON.
 * Not responsible for the simulation itself (sim/whatif_engine.c) or the inputs' formats
 * (sim/whatif_model.c); docs/simulation.md is the user guide with a worked run. */
#ifndef WHATIF_WHATIF_H
#define WHATIF_WHATIF_H

#include <stdio.h>

struct buf;
struct err;
struct policy_config;
struct whatif_layout;
struct whatif_report;

/* The subcommand. argv[0] is "simulate". policy is the knobs to start from (cmd passes the
 * configuration's; --policy FILE overrides some). Returns the process exit status: 0 on
 * success, 1 when an input is bad or a run fails (the error is printed on stderr), 2 on bad
 * usage. */
int whatif_main(int argc, char **argv, const struct policy_config *policy);

/* Applies a policy-knob document ({"reclaim_k": 2, "w_fit": 1.5, ...}; names as in struct
 * policy_config) onto cfg. ERR_INVALID names an unknown knob or a value of the wrong type;
 * ranges are checked by policy_config_validate(). */
int whatif_policy_parse(const char *text, size_t len, const char *what, struct policy_config *cfg,
                        struct err *e);

/* Writes the runs as one JSON document into b: {"runs":[{"scheduler":"ours",...}]}. Returns
 * 0, or -1 when b's cap is reached. */
int whatif_reports_json(const struct whatif_layout *l, struct whatif_report *const *r, size_t n,
                        struct buf *b);

/* Prints the runs side by side (one row per scheduler), then, with per_ns, one table per
 * namespace, and the utilisation of every pool. */
void whatif_reports_table(const struct whatif_layout *l, struct whatif_report *const *r, size_t n,
                          int per_ns, FILE *f);

#endif
