/* kubesim_discovery.h -- the discovery documents of a simulated cluster (GET /api, /api/v1,
 * /apis, /apis/GROUP, /apis/GROUP/VERSION) in the API server's shapes (APIVersions,
 * APIGroupList, APIGroup, APIResourceList, and the aggregated APIGroupDiscoveryList), from
 * the built-in groups and the cluster's CRDs (the scenario's "apis").
 * Not responsible for serving the resources it lists (kubesim_cluster.c): a CRD group the
 * simulator does not implement (kubeflow.org, jobset.x-k8s.io) is only listed. */
#ifndef TOOLS_KUBESIM_KUBESIM_DISCOVERY_H
#define TOOLS_KUBESIM_KUBESIM_DISCOVERY_H

#include <jansson.h>
#include <stdbool.h>

/* crds: array of "group/version" strings served besides the built-in ones (batch/v1,
 * scheduling.k8s.io/v1, authorization.k8s.io/v1 and the core v1). Every function returns
 * a new reference the caller owns. */

/* GET /api: the APIVersions of the core group. */
json_t *sim_discovery_api(void);

/* GET /apis: the APIGroupList, one entry per group with each of its versions. */
json_t *sim_discovery_groups(const json_t *crds);

/* GET /apis/GROUP: the APIGroup; NULL when the cluster serves no version of group. */
json_t *sim_discovery_group(const json_t *crds, const char *group);

/* GET /api/v1 (gv "v1") or /apis/GROUP/VERSION (gv "GROUP/VERSION"): the APIResourceList;
 * NULL when the cluster does not serve gv. */
json_t *sim_discovery_resources(const json_t *crds, const char *gv);

/* GET /api (core true) or /apis (core false) when the client asks for aggregated discovery:
 * the APIGroupDiscoveryList (apidiscovery.k8s.io/VERSION, version "v2" or "v2beta1": the
 * same shape), every group and version with its resources inline, so a client needs no
 * request per group/version. */
json_t *sim_discovery_aggregated(const json_t *crds, bool core, const char *version);

/* The version of aggregated discovery an Accept header (may be NULL) asks for first, "v2"
 * or "v2beta1" (kubectl 1.32 sends "application/json;g=apidiscovery.k8s.io;v=v2;
 * as=APIGroupDiscoveryList,...;v=v2beta1;...,application/json", 1.26-1.29 only v2beta1);
 * NULL when it asks for none. */
const char *sim_discovery_wants_aggregated(const char *accept);

/* Whether the cluster serves gv ("v1", "batch/v1", "ray.io/v1"). */
bool sim_discovery_serves(const json_t *crds, const char *gv);

#endif
