/* retry.h -- a job's retry policy (spec.scheduling.retry, or its namespace's default from
 * the configuration's retryDefaults) and what it says about one failed attempt: which
 * failure class the attempt's end falls in, which rule fires, and whether the job is run
 * again (and after how long) or fails. docs/trainingjob.md ("Retries") is the reference.
 * Not responsible for validating what users write (api/trainingjob.c does, and the
 * configuration's parser through it: this module reads their canonical form), for reading
 * pods (cluster/pod_status.h) or for acting on the verdict (scheduler/track.c). Pure: no I/O,
 * no clock; the namespace defaults are process-wide configuration set once at start. */
#ifndef SCHEDULER_RETRY_H
#define SCHEDULER_RETRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pod_diag;

/* What ended an attempt. */
enum retry_class {
    RETRY_CLASS_NONE = 0,       /* nothing a rule can name: no diagnosis, a deadline */
    RETRY_CLASS_INFRASTRUCTURE, /* node lost, eviction, preemption by the member cluster, an
                                   image not pulled in time */
    RETRY_CLASS_EXIT_CODE,      /* a container ended with a non-zero exit code */
    RETRY_CLASS_OOM,            /* a container was OOMKilled */
};

enum retry_action { RETRY_ACTION_RETRY, RETRY_ACTION_FAIL };

struct retry_rule {
    enum retry_class cls;
    enum retry_action action;
    bool not_in;    /* ExitCode: operator NotIn (else In) */
    uint8_t *codes; /* ExitCode: the values (owned by the policy) */
    size_t n_codes;
};

struct retry_policy {
    int max_retries; /* 0: no policy; failures end the job as without one */
    int backoff_s;   /* before the first retry; doubled for each one after */
    int max_backoff_s;
    struct retry_rule *rules; /* owned */
    size_t n_rules;
};

/* One failed attempt as tracking saw it. */
struct retry_failure {
    enum retry_class cls;
    int exit_code; /* RETRY_CLASS_EXIT_CODE, RETRY_CLASS_OOM (137) */
};

/* The class of a failure: disrupted (the Job failed by fedsched's DisruptionTarget
 * pod-failure rule: a worker evicted or preempted, its node drained or lost) or
 * image_timeout (a pod waited on its image longer than the scheduler's imagePullTimeoutS)
 * are Infrastructure; otherwise d (may be NULL: the pods could not be read, or none was in
 * trouble) decides: OOMKilled is OOM, another non-zero exit code ExitCode, a pod Evicted or
 * a container waiting on its image Infrastructure, anything else NONE. */
struct retry_failure retry_classify(bool disrupted, bool image_timeout, const struct pod_diag *d);

/* "Infrastructure", "ExitCode", "OOM", "Other". */
const char *retry_class_name(enum retry_class c);

/* Reads a canonical retry object (what trainingjob_retry_parse() makes of
 * spec.scheduling.retry and of each of the configuration's retryDefaults: every number
 * present and in range) into *out. Returns 0, or -1 when v is not such an object (out is
 * then a policy of no retries). Free with retry_policy_clear(). */
int retry_policy_read(const json_t *v, struct retry_policy *out);
void retry_policy_clear(struct retry_policy *p);

/* The process-wide defaults by namespace: an object {"<namespace>": {retry}, "*": {retry}}
 * of canonical retry objects (copied), or NULL for none. Set once at start, before the
 * scheduler thread runs. */
void retry_defaults_set(const json_t *by_ns);

/* The policy of a job: its spec's scheduling.retry, else its namespace's default, else the
 * "*" default, else no retries. */
void retry_policy_for(const json_t *spec, const char *ns, struct retry_policy *out);

/* What the policy says about failure f of a job that was retried `retries` times. */
struct retry_verdict {
    bool retry;         /* run it again; else it fails */
    bool by_policy;     /* false: the policy has no say (max_retries 0 or class NONE) */
    size_t rule;        /* 1-based index of the rule that fired; 0: none matched */
    int64_t backoff_ms; /* when retry: wait this long before it may be placed again */
    char reason[32];    /* "RetryOOM", "FailExitCode", "RetriesExhausted" ("" without a say) */
    char message[192];  /* "rule 2 (OOM: Retry) fired; retry 1 of 3 in 30 s" */
};
void retry_decide(const struct retry_policy *p, const struct retry_failure *f, int retries,
                  struct retry_verdict *out);

/* The pause before retry number n (1-based): backoff_s x 2^(n-1), at most max_backoff_s. */
int64_t retry_backoff_ms(const struct retry_policy *p, int n);

#endif
