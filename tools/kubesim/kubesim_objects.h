/* kubesim_objects.h -- the plain API objects of a simulated cluster that no controller
 * acts on: Namespaces, Services, Secrets and PriorityClasses; and the store of the serving
 * Deployments and HorizontalPodAutoscalers kubesim_cluster.c writes. Admission (the shape checks
 * and defaults the API server applies to each), a store sorted by resource, namespace and
 * name, and the garbage collector's ownerReferences rules.
 * Not responsible for HTTP, lists and paging, or for Jobs and pods (kubesim_cluster.c). */
#ifndef TOOLS_KUBESIM_KUBESIM_OBJECTS_H
#define TOOLS_KUBESIM_KUBESIM_OBJECTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_objects;

/* Why a request was refused: HTTP status, Status reason and message. */
struct sim_refusal {
    int code;
    char reason[32];
    char msg[512];
};

/* One of the resources kept here: "namespaces", "services", "secrets", "priorityclasses",
 * "deployments", "horizontalpodautoscalers" (the last two only seeded, never admitted);
 * NULL otherwise. Gives the kind, apiVersion and whether it is namespaced. */
struct sim_resource {
    const char *res;
    const char *kind;
    const char *api_version;
    bool namespaced;
};
const struct sim_resource *sim_objects_resource(const char *res);

struct sim_objects *sim_objects_new(void);
void sim_objects_free(struct sim_objects **s); /* NULL-safe */

/* Admits obj (a parsed request body, owned by the caller) as a new object of r in ns ("" at
 * the cluster scope): checks kind, apiVersion, name and the resource's own rules, fills
 * the API server's defaults and metadata (uid, resourceVersion rv, creationTimestamp now,
 * namespace). Returns 0, or -1 with *why filled (400 BadRequest, 409 AlreadyExists, 422
 * Invalid). Does not check that ns exists. On success the store holds a reference. */
int sim_objects_create(struct sim_objects *s, const struct sim_resource *r, const char *ns,
                       json_t *obj, const char *uid, uint64_t rv, const char *now,
                       struct sim_refusal *why);

/* Puts obj (owned; metadata complete) into the store without admission: the objects a
 * cluster has from the start, such as the system PriorityClasses whose names admission
 * reserves. */
void sim_objects_seed(struct sim_objects *s, const struct sim_resource *r, json_t *obj);

/* The object, borrowed; NULL when there is none. */
json_t *sim_objects_get(const struct sim_objects *s, const char *res, const char *ns,
                        const char *name);

/* Removes the object and returns it (the caller owns it); NULL when there is none. */
json_t *sim_objects_remove(struct sim_objects *s, const char *res, const char *ns,
                           const char *name);

/* Objects in store order (resource, namespace, name): the i-th, borrowed, or NULL past the
 * end; *res is set to its resource. */
json_t *sim_objects_at(const struct sim_objects *s, size_t i, const char **res);

/* Removes every object in namespace ns (its namespace is deleted). Returns how many. */
size_t sim_objects_remove_namespace(struct sim_objects *s, const char *ns);

/* Orphan propagation: drops the ownerReferences to uid; the objects stay. */
void sim_objects_orphan(struct sim_objects *s, const char *uid);

/* The garbage collector, driven by what went: alive(arg, ref, ns) says whether the owner
 * an ownerReference (ref) of an object in namespace ns ("" at the cluster scope) names
 * exists. Objects keep an index of their ownerReferences by owner uid, so both cost what
 * the objects concerned cost, not the size of the store.
 * sim_objects_collect_owned: the owner uid went; removes each object that names it and
 * none of whose other owners is alive. Returns how many went.
 * sim_objects_collect_one: removes the object (a new one) when it has ownerReferences and
 * none of its owners is alive; returns whether it went. */
size_t sim_objects_collect_owned(struct sim_objects *s, const char *uid,
                                 bool (*alive)(void *arg, const json_t *ref, const char *ns),
                                 void *arg);
bool sim_objects_collect_one(struct sim_objects *s, const char *res, const char *ns,
                             const char *name,
                             bool (*alive)(void *arg, const json_t *ref, const char *ns),
                             void *arg);

/* Appends to out the uids (each NUL-terminated) of the objects removed since the last call,
 * however they went (DELETE, a namespace's deletion, the collector), so that the caller
 * can collect what they owned; returns whether there were any. */
struct buf;
bool sim_objects_take_gone(struct sim_objects *s, struct buf *out);

#endif
