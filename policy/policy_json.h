/* policy_json.h -- the one JSON rendering of the policy's numbers: scores, reasons, a
 * cycle's decisions and a job's explanation. Every answer that shows them (the REST
 * explain, the decision recorded at admission, the dashboard and the CLI that read those,
 * the what-if reports) takes this shape from here; the API adds only the job's phase.
 * Not responsible for computing anything (policy.h, explain.h) or for HTTP (api/).
 * Every function returns 0, or -1 when b's cap is reached. */
#ifndef POLICY_POLICY_JSON_H
#define POLICY_POLICY_JSON_H

struct buf;
struct explain;
struct policy_input;
struct policy_result;
struct policy_score;
struct policy_why;
struct snapshot;

/* A quoted, escaped JSON string. */
int policy_json_str(struct buf *b, const char *s);

/* One score, the one shape every answer uses: {cluster, pool, sku, total, terms: {fit,
 * cost, locality, freshness, sku_pref, borrowed}} (terms already weighted). */
int policy_score_json(struct buf *b, const struct snapshot *s, const struct policy_score *sc);

/* {"reason":"insufficient_capacity","cluster":"az1","sku":"h100-80gb","pool":"training",
 *  "message":"h100-80gb: needs 8 workers of 8 GPUs, 5 nodes have 8 free"} */
int policy_why_json(struct buf *b, const struct snapshot *s, const struct policy_why *w);

/* The decisions of one cycle as one object (names resolved through in):
 * {"placements":[...],"pending":[...],"reclaims":[...],"pools":[...]}; a pending job that
 * preempts has "preemption" as in explain_json(), a quota or priority reclaim "for". */
int policy_result_json(const struct policy_input *in, const struct policy_result *r, struct buf *b);

/* The explanation x (explain_job()) of a job of in:
 *   placed:  {"ns":..,"name":..,"status":"placed","cluster":..,"pool":..,"sku":..,
 *             "workers":[{"node":..,"gpus":8}],"score":{..},"runner_up":{..},"candidates":3,
 *             "over_quota":false,"lease_end_ms":0}
 *   pending: {"ns":..,"name":..,"status":"pending","reason":{why},"reserving":false,
 *             "quota":[{why}],"clusters":[{"cluster":"az1","fits":false,"reasons":[{why}]}]}
 *            and, when it waits for lower-priority jobs it preempts, after "reserving":
 *            "preemption":{"cluster":"az1","victims":[{"ns":..,"name":..}],"message":..}
 * where {why} is policy_why_json()'s object and a placement's workers, score and
 * runner_up are written as in policy_result_json(). */
int explain_json(const struct policy_input *in, const struct explain *x, struct buf *b);

#endif
