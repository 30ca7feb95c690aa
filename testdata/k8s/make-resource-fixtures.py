#!/usr/bin/env python3
# make-resource-fixtures.py -- regenerates resources-nodes.json and resources-pods.json
# (deterministic): nodes whose allocatable CPU and memory take every quantity form, and pods
# whose CPU and memory requests exercise the kube-scheduler's rule (limits only, init
# containers, sidecars before and after them, spec.overhead, terminating, terminal and
# unbound pods). The expected figures live in tests/unit/test_k8s_resources.c; change both.
import json, os, zlib
def hash(s): return zlib.crc32(s.encode())
HERE = os.path.dirname(os.path.abspath(__file__))
def node(name, product, alloc_cpu, alloc_mem, cap_cpu, cap_mem, gpus=8):
    alloc = {"ephemeral-storage": "1798289994412", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": "110"}
    cap = {"ephemeral-storage": "1951266268Ki", "hugepages-1Gi": "0", "hugepages-2Mi": "0", "pods": "110"}
    if alloc_cpu: alloc["cpu"] = alloc_cpu
    if alloc_mem: alloc["memory"] = alloc_mem
    if cap_cpu: cap["cpu"] = cap_cpu
    if cap_mem: cap["memory"] = cap_mem
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
              "topology.kubernetes.io/zone": "us-east-1a"}
    if product:
        alloc["nvidia.com/gpu"] = str(gpus); cap["nvidia.com/gpu"] = str(gpus)
        labels.update({"nvidia.com/gpu.product": product, "nvidia.com/gpu.count": str(gpus),
                       "nvidia.com/gpu.present": "true"})
    return {"metadata": {"name": name, "uid": "6f1c0e2a-%012d" % (abs(hash(name)) % 10**12),
                         "resourceVersion": "8812301", "creationTimestamp": "2026-11-01T08:00:00Z",
                         "labels": labels},
            "spec": {"providerID": "aws:///us-east-1a/i-0%s" % name.replace('-', '')[:12]},
            "status": {"capacity": cap, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "message": "kubelet is posting ready status",
                                       "lastHeartbeatTime": "2026-12-03T07:00:00Z",
                                       "lastTransitionTime": "2026-11-01T08:01:00Z"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.4", "architecture": "amd64",
                                    "operatingSystem": "linux"}}}
nodes = {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "8812345"},
 "items": [
  node("gpu-h100-a1", "NVIDIA-H100-80GB-HBM3", "191450m", "2097892156Ki", "192", "2113389372Ki"),
  node("gpu-a100-b1", "NVIDIA-A100-SXM4-80GB", "96", "512Gi", "96", "512Gi"),
  node("gpu-l4-c1", "NVIDIA-L4", "1e3", "1e12", "1e3", "1e12", 4),
  node("gpu-t4-d1", "Tesla-T4", "2.5", "1056694686Ki", "4", "1056694686Ki", 1),
  node("gpu-v100-e1", "Tesla-V100-SXM2-16GB", None, None, None, None),
  node("cpu-f1", None, "63770m", "257758876Ki", "64", "263974108Ki"),
 ]}
def ctr(name, requests=None, limits=None, restart=None):
    c = {"name": name, "image": "registry.example.com/%s:1.4" % name,
         "resources": {}, "terminationMessagePath": "/dev/termination-log",
         "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}
    if requests: c["resources"]["requests"] = requests
    if limits: c["resources"]["limits"] = limits
    if restart: c["restartPolicy"] = restart
    return c
def pod(ns, name, node, containers, init=None, overhead=None, phase="Running", deleting=False, runtime=None, owner="Job"):
    meta = {"name": name, "namespace": ns, "uid": "0b7e%s" % (abs(hash(name)) % 10**12),
            "resourceVersion": "8812340", "creationTimestamp": "2026-12-03T06:00:00Z",
            "labels": {"app": name.split('-')[0]},
            "ownerReferences": [{"apiVersion": "batch/v1", "kind": owner, "name": name.rsplit('-', 1)[0],
                                 "uid": "c1d2", "controller": True, "blockOwnerDeletion": True}]}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T07:00:00Z"; meta["deletionGracePeriodSeconds"] = 30
    spec = {"containers": containers, "restartPolicy": "Never", "schedulerName": "default-scheduler",
            "terminationGracePeriodSeconds": 30, "dnsPolicy": "ClusterFirst", "enableServiceLinks": True,
            "priority": 0, "preemptionPolicy": "PreemptLowerPriority",
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    if node: spec["nodeName"] = node
    if init: spec["initContainers"] = init
    if overhead: spec["overhead"] = overhead
    if runtime: spec["runtimeClassName"] = runtime
    st = {"phase": phase, "qosClass": "Burstable"}
    if node:
        st["conditions"] = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-03T06:00:01Z"}]
        st["hostIP"] = "10.0.0.7"; st["startTime"] = "2026-12-03T06:00:01Z"
    else:
        st["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/6 nodes are available: 6 Insufficient cpu."}]
    return {"metadata": meta, "spec": spec, "status": st}
G = "nvidia.com/gpu"
H = "gpu-h100-a1"
pods = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "8812345"},
 "items": [
  # requests summed over app containers: 2000m, 1536Mi, 1 GPU
  pod("train", "plain-7x2kq", H, [ctr("trainer", {"cpu": "500m", "memory": "1Gi"}, {G: "1"}),
                                  ctr("logger", {"cpu": "1500m", "memory": "512Mi"})]),
  # limits only: requests default to limits (per resource): 2100m, 4352Mi, 2 GPUs
  pod("train", "limitonly-p4d8s", H, [ctr("trainer", None, {"cpu": "2", "memory": "4Gi", G: "2"}),
                                      ctr("exporter", {"cpu": "100m"}, {"memory": "256Mi"})]),
  # a regular init container bigger than app + sidecar: max(4+1, 8) = 8000m, max(9Gi, 16Gi)
  pod("train", "initbig-h8v2c", H, [ctr("trainer", {"cpu": "4", "memory": "8Gi", G: "1"}, {G: "1"})],
      init=[ctr("download", {"cpu": "8", "memory": "16Gi"}),
            ctr("proxy", {"cpu": "1", "memory": "1Gi"}, restart="Always")]),
  # a sidecar before the init container runs beside it: max(4+1, 1+8) = 9000m, max(9Gi, 3Gi)
  pod("train", "sidecarfirst-q9w4e", H, [ctr("trainer", {"cpu": "4", "memory": "8Gi"}, {G: "1"})],
      init=[ctr("proxy", {"cpu": "1", "memory": "1Gi"}, restart="Always"),
            ctr("warmup", {"cpu": "8", "memory": "2Gi"})]),
  # spec.overhead (set by the RuntimeClass admission) adds: 1250m, 1144Mi
  pod("train", "kata-m3n5b", H, [ctr("trainer", {"cpu": "1", "memory": "1Gi"}, {G: "1"})],
      overhead={"cpu": "250m", "memory": "120Mi"}, runtime="kata-qemu"),
  # terminating: still holds what it requested: 3000m, 3072Mi
  pod("train", "leaving-z2x7c", H, [ctr("trainer", {"cpu": "3", "memory": "3Gi"}, {G: "1"})], deleting=True),
  # a DaemonSet agent without GPUs: 100m, 200Mi
  pod("kube-system", "agent-k7f2m", H, [ctr("agent", {"cpu": "100m", "memory": "200Mi"}, {"memory": "200Mi"})], owner="DaemonSet"),
  # terminal and unbound pods hold nothing on the node
  pod("train", "done-r5t6y", H, [ctr("trainer", {"cpu": "50", "memory": "500Gi"}, {G: "1"})], phase="Succeeded"),
  pod("train", "waiting-b8n1m", None, [ctr("trainer", {"cpu": "50", "memory": "500Gi"}, {G: "1"})], phase="Pending"),
  # another node: 2500m and 1e9 bytes (953.67 MiB, counted as 954)
  pod("train", "decimal-j4k6l", "gpu-a100-b1", [ctr("trainer", {"cpu": "2.5", "memory": "1e9"}, {G: "1"})]),
 ]}
json.dump(nodes, open(os.path.join(HERE, "resources-nodes.json"), "w"), indent=1)
json.dump(pods, open(os.path.join(HERE, "resources-pods.json"), "w"), indent=1)
