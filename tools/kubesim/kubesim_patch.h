/* kubesim_patch.h -- the two PATCH body formats a simulated API server accepts for Jobs and
 * RayJobs: JSON Patch (RFC 6902, application/json-patch+json) and JSON Merge Patch (RFC
 * 7386, application/merge-patch+json).
 * Not responsible for deciding which fields may change (kubesim_cluster.c) or for
 * strategic merge and apply patches, which the simulator does not speak. */
#ifndef TOOLS_KUBESIM_KUBESIM_PATCH_H
#define TOOLS_KUBESIM_KUBESIM_PATCH_H

#include <jansson.h>
#include <stddef.h>

/* What applying a patch came to. */
enum sim_patch_result {
    SIM_PATCH_OK = 0,
    SIM_PATCH_BAD,      /* the patch itself is malformed: 400 BadRequest */
    SIM_PATCH_UNAPPLIED /* well formed, but does not apply (a failed "test", a missing path):
                           422 Invalid, as the API server answers since Kubernetes 1.13 */
};

/* Applies the JSON Patch ops (an array of add, remove, replace, move, copy, test) to doc in
 * place, all or nothing: on failure doc is unchanged and why says which op failed. */
enum sim_patch_result sim_json_patch(json_t **doc, const json_t *ops, char *why, size_t size);

/* Applies a merge patch to *doc in place (RFC 7386: null deletes a member, objects merge,
 * anything else replaces). Never fails; *doc may be replaced. */
void sim_merge_patch(json_t **doc, const json_t *patch);

#endif
