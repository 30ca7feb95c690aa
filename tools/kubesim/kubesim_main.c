/* kubesim_main.c -- the fedsched-kubesim binary: simulated member clusters that speak the
 * Kubernetes API, for tests, benchmarks and `make run`. */
#include "tools/kubesim/kubesim.h"

int main(int argc, char **argv)
{
    return sim_main(argc, argv);
}
