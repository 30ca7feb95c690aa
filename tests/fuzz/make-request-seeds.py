#!/usr/bin/env python3
# make-request-seeds.py -- writes the seeds of fuzz_request into testdata/fuzz/request/: one
# raw HTTP request per route and method of docs/openapi.yaml (valid tokens, valid bodies
# from testdata/), the attack vectors of issue 11, and a few shapes of the wire protocol
# (chunked body, pipelining, HEAD, HTTP/1.0, Expect). The tokens, jobs and cluster are the
# ones tests/fuzz/fuzz_request.c creates. Run from the repository root; rewrites the seeds
# it owns (seed-*) and leaves crash-* files alone.
import json
import os
import sys

OUT = "testdata/fuzz/request"

ADMIN = "fst_fuzzAdmin1000000000000000000000000000000000"
ADMIN2 = "fst_fuzzAdmin2000000000000000000000000000000000"
SUB = "fst_fuzzSubmitterMaps00000000000000000000000000"
SUB2 = "fst_fuzzSubmitterTwo000000000000000000000000000"
VIEW = "fst_fuzzViewerAll000000000000000000000000000000"
VIEWMAPS = "fst_fuzzViewerMaps00000000000000000000000000000"
REVOKED = "fst_fuzzRevoked00000000000000000000000000000000"

NS = "/v1/namespaces/maps-team/trainingjobs"


def req(method, target, token=None, body=None, ctype="application/json", extra=(),
        version="HTTP/1.1"):
    """One request as bytes. body: bytes or str; Content-Length is set for it."""
    lines = [f"{method} {target} {version}".encode("latin-1") if isinstance(target, str)
             else method.encode() + b" " + target + b" " + version.encode()]
    lines.append(b"Host: fedsched")
    if token:
        lines.append(b"Authorization: Bearer " + token.encode())
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        if ctype:
            lines.append(b"Content-Type: " + ctype.encode())
        lines.append(b"Content-Length: " + str(len(body)).encode())
    for h in extra:
        lines.append(h if isinstance(h, bytes) else h.encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def job_file(name):
    with open(os.path.join("testdata/jobs/good", name), "rb") as f:
        return json.dumps(json.loads(f.read()), ensure_ascii=False, separators=(",", ":"))


def cluster_body(name):
    with open("testdata/k8s/cluster.json") as f:
        c = json.load(f)
    c["name"] = name
    c["apiServer"] = "https://127.0.0.1:9"
    c["tokenFile"] = "/nonexistent/fedsched-fuzz.token"
    c.pop("caFile", None)
    return json.dumps(c, separators=(",", ":"))


seeds = {}

# ---- every route and method of docs/openapi.yaml, plus the router's own paths ----
seeds["post-job-minimal"] = req("POST", NS, SUB, job_file("minimal.json"),
                                extra=["Idempotency-Key: fuzz-key-1"])
seeds["post-job-all-fields"] = req("POST", NS, SUB, job_file("all_fields.json"))
seeds["post-job-dry-run"] = req("POST", NS + "?dryRun=All", SUB, job_file("all_fields.json"))
seeds["post-job-generate-name"] = req("POST", NS, ADMIN, job_file("generate_name.json"))
seeds["post-job-search-team"] = req("POST", "/v1/namespaces/search-team/trainingjobs", SUB2,
                                    job_file("largest_gang.json"))
# every part of a body wrong at once: the refusal lists its causes (docs/trainingjob.md)
seeds["post-job-many-causes"] = req(
    "POST", NS + "?dryRun=All", SUB,
    '{"x":1,"apiVersion":"v9","kind":"Pod","metadata":{"name":"Bad_Name","labels":{"k y":1}},'
    '"spec":{"framework":"caffe","resources":{"instanceType":"z80","gpuCount":0,"cpu":0,'
    '"alternativeInstanceTypes":["z80"]},"code":{"env":[{"name":"1"}]},"data":{"volume":{'
    '"claimName":"c","mountPath":"/x"}},"checkpoint":{"claimName":"c","mountPath":"/x"},'
    '"scheduling":{"priority":5000},"podLabels":{"a":"b"},"podAnnotations":{"b":1}}}')
seeds["list-ns"] = req("GET", NS + "?limit=2&phase=Queued,Running&sku=a100-80gb"
                       "&labelSelector=pipeline%3Ddeepeta,team%3Dfuzz", VIEWMAPS)
seeds["list-ns-continue"] = req("GET", NS + "?limit=1&continue=eyJpZCI6MX0", SUB)
seeds["list-all"] = req("GET", "/v1/trainingjobs?limit=10&cluster=fuzz-west"
                        "&createdAfter=2020-01-01T00:00:00Z&createdBefore=2099-01-01T00:00:00Z",
                        VIEW)
seeds["get-job"] = req("GET", NS + "/fuzz-running", VIEW)
seeds["get-job-watch"] = req("GET", NS + "/fuzz-queued?watch=true&resourceVersion=1"
                             "&timeoutSeconds=1", VIEWMAPS)
seeds["delete-job"] = req("DELETE", NS + "/fuzz-cancel", SUB)
seeds["delete-job-finished"] = req("DELETE", NS + "/fuzz-succeeded", ADMIN)
seeds["events"] = req("GET", NS + "/fuzz-running/events", VIEW)
seeds["explain-queued"] = req("GET", NS + "/fuzz-queued/explain", VIEW)
seeds["explain-running"] = req("GET", NS + "/fuzz-running/explain", ADMIN)
seeds["get-backoff"] = req("GET", NS + "/fuzz-backoff", VIEW)
seeds["explain-backoff"] = req("GET", NS + "/fuzz-backoff/explain", VIEW)
seeds["queue-view"] = req("GET", "/v1/queue?limit=3&offset=1&sku=a100-80gb", VIEWMAPS)
seeds["queue-view-ns"] = req("GET", "/v1/namespaces/maps-team/queue", ADMIN)
seeds["checkpoint"] = req("POST", NS + "/fuzz-running/checkpoint", SUB,
                          '{"time":"2026-01-01T00:00:00Z"}')
seeds["checkpoint-no-body"] = req("POST", NS + "/fuzz-running/checkpoint", SUB,
                                  extra=["Content-Length: 0"])
seeds["leader"] = req("GET", "/v1/leader", VIEW)
seeds["audit"] = req("GET", "/v1/audit?limit=5&before=1000000&token=fuzz-admin-1", ADMIN)
for fmt in ("csv", "json", "md", "html"):
    seeds["report-capacity-" + fmt] = req(
        "GET", f"/v1/reports/capacity?format={fmt}&from=now-1d&to=now&step=1h", VIEW)
seeds["report-capacity-dates"] = req(
    "GET", "/v1/reports/capacity?from=2026-11-27&to=2026-11-28T00:00:00Z&step=1h30m", ADMIN2)
seeds["report-queue"] = req("GET", "/v1/reports/queue", VIEW)
seeds["clusters"] = req("GET", "/v1/clusters", VIEW)
seeds["cluster-get"] = req("GET", "/v1/clusters/fuzz-west", VIEW)
seeds["cluster-put"] = req("PUT", "/v1/clusters/fuzz-east", ADMIN, cluster_body("fuzz-east"))
seeds["cluster-delete"] = req("DELETE", "/v1/clusters/fuzz-east", ADMIN)
seeds["cluster-cordon"] = req("POST", "/v1/clusters/fuzz-west/cordon", ADMIN,
                              extra=["Content-Length: 0"])
seeds["cluster-uncordon"] = req("POST", "/v1/clusters/fuzz-west/uncordon", ADMIN2,
                                extra=["Content-Length: 0"])
seeds["cluster-nodes"] = req("GET", "/v1/clusters/fuzz-west/nodes?sku=a100-80gb&pool=training",
                             VIEW)
seeds["cluster-nodes-page"] = req("GET", "/v1/clusters/fuzz-west/nodes?limit=2&continue="
                                  "MjowMDAwMDAwMDAwMDAwMDAwOmEtMQ", VIEW)
seeds["capacity"] = req("GET", "/v1/capacity", VIEW)
# issue 16: PATCH of the priority, job sets by label, the ledger, the list watch
seeds["patch-priority"] = req("PATCH", NS + "/fuzz-queued", SUB,
                              '{"spec": {"scheduling": {"priority": 500}}}',
                              ctype="application/merge-patch+json")
seeds["bulk-cancel"] = req("POST", NS + ":cancel?labelSelector=team%3Dfuzz", SUB,
                           extra=["Content-Length: 0"])
seeds["bulk-hold-set"] = req("POST", NS + ":hold?labelSelector=team%20in%20(fuzz,x),!gone",
                             SUB, "{}")
seeds["bulk-release"] = req("POST", NS + ":release?labelSelector=team!%3Dx", ADMIN, "{}")
seeds["bulk-reprioritize"] = req("POST", NS + ":reprioritize?labelSelector=team", SUB,
                                 '{"priority": -5}')
seeds["bulk-all-admin"] = req("POST", "/v1/trainingjobs:hold?labelSelector=a%20notin%20(b)",
                              ADMIN, "{}")
seeds["reclaims"] = req("GET", "/v1/reclaims?limit=5&cause=reclaim&cluster=fuzz-west"
                        "&since=2026-01-01T00:00:00Z", VIEW)
seeds["quotas"] = req("GET", "/v1/quotas?namespace=maps&sku=a100-80gb", VIEWMAPS)
seeds["list-watch"] = req("GET", NS + "?watch=true&timeoutSeconds=1&allowWatchBookmarks=true"
                          "&phase=Queued", VIEW)
seeds["list-watch-rv"] = req("GET", "/v1/trainingjobs?watch=1&resourceVersion=1"
                             "&timeoutSeconds=1", ADMIN)
seeds["attack-bulk-selector-ff"] = req("POST", NS + ":cancel?labelSelector=a%20in%20(%ff", SUB,
                                       "{}")
seeds["healthz"] = req("GET", "/healthz")
seeds["readyz"] = req("GET", "/readyz")
seeds["metrics"] = req("GET", "/metrics")
seeds["root"] = req("GET", "/")
seeds["ui"] = req("GET", "/ui/")
seeds["ui-file"] = req("GET", "/ui/app.js")

# ---- authentication and authorisation outcomes ----
seeds["no-token"] = req("GET", "/v1/trainingjobs")
seeds["revoked-token"] = req("GET", "/v1/trainingjobs", REVOKED)
seeds["basic-scheme"] = req("GET", "/v1/leader", extra=["Authorization: Basic Zm9vOmJhcg=="])
seeds["viewer-may-not-submit"] = req("POST", NS, VIEWMAPS, job_file("minimal.json"))
seeds["hidden-namespace"] = req("GET", "/v1/namespaces/search-team/trainingjobs/fuzz-other",
                                VIEWMAPS)
seeds["submitter-not-admin"] = req("GET", "/v1/audit", SUB)
seeds["method-not-allowed"] = req("PUT", NS + "/fuzz-running", ADMIN, "{}")

# ---- the wire protocol ----
body = job_file("minimal.json").encode()
chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (40, body[:40], len(body) - 40, body[40:])
seeds["post-chunked"] = req("POST", NS, SUB, None, extra=[
    "Content-Type: application/json", "Transfer-Encoding: chunked"]) + chunked
seeds["post-expect-continue"] = req("POST", NS, SUB, body, extra=["Expect: 100-continue"])
seeds["pipelined"] = req("GET", "/healthz") + req("GET", NS + "/fuzz-running", VIEW)
seeds["pipelined-post-get"] = req("POST", NS + "/fuzz-running/checkpoint", SUB, "{}") + \
    req("GET", NS + "/fuzz-running/events", SUB)
seeds["head-healthz"] = req("HEAD", "/healthz")
seeds["http10"] = req("GET", "/v1/capacity", VIEW, version="HTTP/1.0")
seeds["no-host"] = b"GET /healthz HTTP/1.1\r\n\r\n"
seeds["oversize-declared"] = req("POST", NS, SUB, None,
                                 extra=["Content-Type: application/json",
                                        "Content-Length: 99999999"]) + b"{"
seeds["bad-content-length"] = req("POST", NS, SUB, None, extra=["Content-Length: x"])
seeds["wrong-content-type"] = req("POST", NS, SUB, body, ctype="text/plain")
seeds["many-query-args"] = req("GET", "/v1/trainingjobs?" + "&".join(
    f"a{i}=1" for i in range(40)), VIEW)

# ---- issue 11's attack vectors ----
seeds["attack-path-ff"] = req("GET", "/%ff")
seeds["attack-path-raw-ff"] = req("GET", b"/\xff")
seeds["attack-limit-ff"] = req("GET", "/v1/trainingjobs?limit=%ff", VIEW)
seeds["attack-query-key-ff"] = req("GET", "/v1/trainingjobs?%ff=1", VIEW)
seeds["attack-label-selector-ff"] = req("GET", NS + "?labelSelector=%ff", VIEW)
seeds["attack-namespace-ff"] = req("GET", "/v1/namespaces/%ff/trainingjobs", VIEW)
seeds["attack-namespace-ff-post"] = req("POST", "/v1/namespaces/%ff/trainingjobs", ADMIN, body)
seeds["attack-name-ff"] = req("GET", NS + "/%ff", VIEW)
seeds["attack-name-ff-delete"] = req("DELETE", NS + "/ab%c3", ADMIN)
seeds["attack-name-ff-events"] = req("GET", NS + "/%ff/events", VIEW)
seeds["attack-cluster-name-ff"] = req("GET", "/v1/clusters/%ff", VIEW)
seeds["attack-cluster-nodes-ff"] = req("GET", "/v1/clusters/%ff/nodes?pool=%ff&sku=%00", VIEW)
seeds["attack-ui-ff"] = req("GET", "/ui/%ff")
seeds["attack-ui-ff-post"] = req("POST", "/ui/%ff", None, "")
seeds["attack-method-ff"] = req(b"G\xffT".decode("latin-1"), "/healthz")
seeds["attack-method-quote"] = req('A"B', "/healthz")
seeds["attack-report-format-ff"] = req("GET", "/v1/reports/capacity?format=%ff", VIEW)
seeds["attack-report-step-ff"] = req("GET", "/v1/reports/capacity?step=%ff&from=%c3", VIEW)
seeds["attack-audit-limit-ff"] = req("GET", "/v1/audit?limit=%ff", ADMIN)
seeds["attack-checkpoint-key-300e"] = req(
    "POST", NS + "/fuzz-running/checkpoint", SUB, "{\"" + "\u00e9" * 300 + "\":1}")
seeds["attack-path-nul"] = req("GET", NS + "/fuzz-running%00x", VIEW)
# "no such path: " is 14 bytes: with "/a" the 512-byte message cap falls inside an "é".
seeds["attack-path-cut-mid-char"] = req("GET", "/a" + "%c3%a9" * 300)
seeds["attack-path-cut-mid-char-2"] = req("GET", "/" + "%c3%a9" * 300)
seeds["attack-name-cut-mid-char"] = req("GET", NS + "/x" + "%e2%82%ac" * 200, VIEW)
seeds["attack-watch-ff"] = req("GET", NS + "/fuzz-queued?watch=%ff&timeoutSeconds=%ff", VIEW)
seeds["attack-token-ff"] = req("GET", "/v1/leader", extra=[b"Authorization: Bearer \xff\xfe"])
seeds["attack-idempotency-key-ff"] = req("POST", NS, SUB, body,
                                         extra=[b"Idempotency-Key: \xc3\x28"])

os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    if f.startswith("seed-"):
        os.remove(os.path.join(OUT, f))
for name, data in sorted(seeds.items()):
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
print(f"{len(seeds)} seeds in {OUT}", file=sys.stderr)
