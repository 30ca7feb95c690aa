/* node_select.h -- which nodes a pod may be scheduled on by its own hard constraints, as the
 * kube-scheduler's NodeAffinity and TaintToleration filters decide: spec.nodeSelector, the
 * required node affinity (spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuring
 * Execution) and spec.tolerations against the node's labels and its NoSchedule and
 * NoExecute taints. Labels and values are kept as 32-bit hashes, bounded per node and per
 * pod; whatever is not kept (too many labels or terms, Gt and Lt, matchFields other than
 * metadata.name) is read as "may use the node", which is what the capacity model assumed
 * before it read any of this.
 * Not responsible for resources (cpu, memory, GPUs: the inventory and the policy), or for
 * fedsched's own tolerations (cluster_config_tolerates(), struct k8s_node.tainted). */
#ifndef CLUSTER_NODE_SELECT_H
#define CLUSTER_NODE_SELECT_H

#include <stdbool.h>
#include <stdint.h>

struct k8s_json;

#define NODE_SELECT_LABELS_MAX 64
#define NODE_SELECT_TAINTS_MAX 8
#define NODE_SELECT_REQS_MAX   8 /* nodeSelector entries and affinity expressions, in all */
#define NODE_SELECT_VALUES_MAX 4 /* values of one In / NotIn expression */
#define NODE_SELECT_TERMS_MAX  4 /* nodeSelectorTerms */
#define NODE_SELECT_TOLS_MAX   6

struct node_taint {
    uint32_t key, value;
    uint8_t effect; /* NODE_SELECT_NO_SCHEDULE or NODE_SELECT_NO_EXECUTE */
};

/* A node's labels and blocking taints. */
struct node_labels {
    bool overflow; /* more labels or taints than kept: any pod may use the node */
    uint8_t n_labels, n_taints;
    uint32_t key[NODE_SELECT_LABELS_MAX];  /* hash of the label's key */
    uint32_t pair[NODE_SELECT_LABELS_MAX]; /* hash of key and value */
    struct node_taint taint[NODE_SELECT_TAINTS_MAX];
};

enum node_select_op { NODE_SELECT_IN, NODE_SELECT_NOT_IN, NODE_SELECT_EXISTS, NODE_SELECT_ABSENT };

struct node_select_req {
    uint32_t key;     /* hash of the label key; for a field, of "metadata.name" */
    uint8_t op;       /* enum node_select_op */
    uint8_t term;     /* 0: spec.nodeSelector (ANDed with everything); t: nodeSelectorTerms[t-1] */
    uint8_t n_values; /* In, NotIn */
    bool field;       /* matchFields on metadata.name: values are hashes of node names */
    uint32_t value[NODE_SELECT_VALUES_MAX]; /* pair hashes (key and value); names for field */
};

struct node_select_tol {
    uint32_t key, value;
    bool any_key;   /* empty key with operator Exists: tolerates every taint */
    bool exists;    /* operator Exists: any value */
    uint8_t effect; /* 0: every effect */
};

/* A pod's hard node constraints. Zero-initialised: none (every node). */
struct pod_select {
    bool unknown;    /* some constraint is not modelled: read as "may use every node" */
    bool affinity;   /* a required node affinity is set (n_terms may be 0: no node) */
    uint8_t n_terms; /* nodeSelectorTerms, 1..NODE_SELECT_TERMS_MAX */
    uint8_t n_reqs, n_tols;
    struct node_select_req req[NODE_SELECT_REQS_MAX];
    struct node_select_tol tol[NODE_SELECT_TOLS_MAX];
};

#define NODE_SELECT_NO_SCHEDULE 1
#define NODE_SELECT_NO_EXECUTE  2

/* Reads metadata.labels and spec.taints of the Node object at tok. */
void node_labels_read(const struct k8s_json *d, int tok, struct node_labels *out);

/* Reads the constraints of the Pod object (or pod template) at tok. */
void pod_select_read(const struct k8s_json *d, int tok, struct pod_select *out);

/* True when the pod's constraints let it onto the node called name with labels n. */
bool pod_select_allows(const struct pod_select *p, const struct node_labels *n, const char *name);

#endif
