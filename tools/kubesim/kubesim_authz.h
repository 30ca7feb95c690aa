/* kubesim_authz.h -- what a simulated cluster's credentials may do: the scenario's
 * "forbidden" list ("create secrets", "create jobs.batch"), the request attributes an API
 * server authorizes (verb, group, resource, namespace, name), the 403 Forbidden message in
 * the API server's words, and SelfSubjectAccessReview answers.
 * Not responsible for authentication (kubesim.c compares bearer tokens) or for routing. */
#ifndef TOOLS_KUBESIM_KUBESIM_AUTHZ_H
#define TOOLS_KUBESIM_KUBESIM_AUTHZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* The user every request is authenticated as (the service account fedsched would use). */
#define SIM_AUTHZ_USER "system:serviceaccount:fedsched-system:fedsched"

/* The attributes of a resource request, as the API server's RequestInfo has them. */
struct sim_attrs {
    bool resource;  /* false for /version, /healthz, discovery ... (always allowed) */
    char verb[24];  /* get, list, create, update, patch, delete, deletecollection */
    char group[64]; /* "" for the core group */
    char version[16];
    char res[64];   /* plural: "jobs", "namespaces" */
    char ns[64];    /* "" at the cluster scope */
    char name[254]; /* "" when the request names no object */
};

/* Reads the attributes of method on path (no query string, no /c/NAME prefix). */
void sim_authz_attrs(const char *method, const char *path, struct sim_attrs *out);

/* Whether forbidden (array of "VERB RESOURCE[.GROUP]", may be NULL) allows a. */
bool sim_authz_allowed(const json_t *forbidden, const struct sim_attrs *a);

/* The message of the 403 Status: `jobs.batch is forbidden: User "..." cannot create
 * resource "jobs" in API group "batch" in the namespace "x"`. */
void sim_authz_message(const struct sim_attrs *a, char *out, size_t size);

/* Answers a SelfSubjectAccessReview (review: the request body, parsed): a new reference to
 * the review with its status filled, or NULL with *why set when it is malformed. */
json_t *sim_authz_review(const json_t *forbidden, const json_t *review, const char **why);

#endif
