/* policy_scenario.h -- loads policy scenario files (testdata/policy/ (one .json per scenario)) into policy
 * inputs, runs their cycles and compares decisions with the expected ones.
 * The file format is described in testdata/policy/README.md. Tests only (uses jansson). */
#ifndef TESTS_SUPPORT_POLICY_SCENARIO_H
#define TESTS_SUPPORT_POLICY_SCENARIO_H

#include "policy/policy.h"

#include <stddef.h>

struct err;
struct policy_scenario; /* the parsed file, the state carried across its cycles */

/* Parses path. Caller owns *out; release with policy_scenario_free(). Fails with
 * ERR_IO / ERR_MALFORMED / ERR_INVALID naming the offending key. */
int policy_scenario_load(const char *path, struct policy_scenario **out, struct err *e);
void policy_scenario_free(struct policy_scenario **sc);

const char *policy_scenario_name(const struct policy_scenario *sc);
size_t policy_scenario_cycles(const struct policy_scenario *sc); /* 1 + steps */

/* Runs cycle i (0 = the base input, i > 0 = step i applied on top of the base) with the
 * scenario's carried state and compares the decisions with that cycle's "expect". Returns
 * 0 when they match; otherwise -1 with a description of the first difference in msg. */
int policy_scenario_run(struct policy_scenario *sc, size_t i, char *msg, size_t size);

/* Builds the input of cycle i without running it (for property tests and benchmarks).
 * The input stays valid until the next call or policy_scenario_free(). */
int policy_scenario_input(struct policy_scenario *sc, size_t i, const struct policy_input **in,
                          struct err *e);
struct policy_state *policy_scenario_state(struct policy_scenario *sc);

#endif
