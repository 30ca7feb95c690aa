/* kubesim_table.h -- server-side printing: a GET whose Accept asks for
 * application/json;as=Table;v=v1;g=meta.k8s.io (kubectl get does) answers a meta.k8s.io
 * Table with the columns the API server prints (pkg/printers/internalversion/printers.go of
 * Kubernetes 1.32) for nodes, pods, Jobs, namespaces, services and secrets, and those of
 * KubeRay's CRD (additionalPrinterColumns) for RayJobs; in a watch, each event's object is a
 * one-row Table, the column definitions in the first one only.
 * Not responsible for the objects (kubesim_cluster.c answers the list or object this
 * converts) or for HTTP (kubesim.c, kubesim_watch.c). Other resources have no Table here:
 * they are answered as plain JSON, which kubectl's Accept allows and prints itself. */
#ifndef TOOLS_KUBESIM_KUBESIM_TABLE_H
#define TOOLS_KUBESIM_KUBESIM_TABLE_H

#include "tools/kubesim/kubesim_cluster.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* includeObject: what a row's "object" holds. */
enum sim_table_include {
    SIM_TABLE_NONE,     /* null */
    SIM_TABLE_METADATA, /* a PartialObjectMetadata (the default) */
    SIM_TABLE_OBJECT    /* the whole object */
};

struct sim_table_opts {
    const char *version; /* "v1" or "v1beta1": the Table's meta.k8s.io version */
    enum sim_table_include include;
    bool no_headers; /* leave columnDefinitions null (watch events after the first) */
    int64_t now_ms;  /* the cluster's time, for AGE and DURATION */
};

/* The meta.k8s.io version of Table the Accept header (may be NULL) asks for first ("v1" or
 * "v1beta1"); NULL when it asks for none (then plain JSON is answered). */
const char *sim_table_wanted(const char *accept);

/* Reads includeObject (NULL or "": Metadata). -1 when it is none of None, Metadata, Object. */
int sim_table_include_of(const char *v, enum sim_table_include *out);

/* Whether GETs of path (a list, or one object, of a resource) have a Table. */
bool sim_table_path(const char *path);

/* The Table of doc, what a GET of path answered (a list or one object); a new reference. */
json_t *sim_table_of(const char *path, const json_t *doc, const struct sim_table_opts *o);

/* Rewrites rep, the answer to a GET of path, as a Table when accept asks for one, the answer
 * is 200 and path has a Table; include_object: the includeObject parameter (NULL: Metadata).
 * An unknown includeObject makes rep a 400 BadRequest Status, as the API server answers. */
void sim_table_reply(const char *path, const char *accept, const char *include_object,
                     int64_t now_ms, struct sim_reply *rep);

/* Converts a WatchEvent ({"type","object"}) of a watch of path in place: the object of an
 * ADDED, MODIFIED or DELETED event becomes a one-row Table (ERROR and BOOKMARK events are left
 * as they are). After the first converted event o->no_headers is set, as the API server leaves
 * the column definitions out of later events. */
void sim_table_event(const char *path, json_t *event, struct sim_table_opts *o);

#endif
