#!/usr/bin/env python3
# make-fixtures.py -- regenerates the NodeList/PodList fixtures of testdata/k8s (deterministic).
# The expected figures live in tests/unit/test_cluster_inventory.c; change both together.
import json, zlib
def hash(s): return zlib.crc32(s.encode())
RV = "8812345"
def node(name, product=None, gpus=8, alloc=None, mem=None, ready="True", unsched=False, taints=None, labels=None, mig=None, zone="us-west-2a", itype="p5.48xlarge"):
    lab = {"beta.kubernetes.io/arch":"amd64","beta.kubernetes.io/os":"linux","kubernetes.io/arch":"amd64",
           "kubernetes.io/hostname":name,"kubernetes.io/os":"linux","node.kubernetes.io/instance-type":itype,
           "topology.kubernetes.io/region":"us-west-2","topology.kubernetes.io/zone":zone}
    if product:
        lab.update({"nvidia.com/gpu.present":"true","nvidia.com/gpu.product":product,"nvidia.com/gpu.count":str(gpus),
                    "nvidia.com/gpu.memory":str(mem or 81559),"nvidia.com/gpu.family":"hopper","nvidia.com/cuda.driver.major":"535",
                    "nvidia.com/gfd.timestamp":"1732758012"})
    if mig: lab["nvidia.com/mig.strategy"] = mig
    if labels: lab.update(labels)
    cap = {"cpu":"192","ephemeral-storage":"1951266268Ki","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"2113389372Ki","pods":"110"}
    al = {"cpu":"191450m","ephemeral-storage":"1798289994412","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"2097892156Ki","pods":"110"}
    if product:
        cap["nvidia.com/gpu"] = str(gpus); al["nvidia.com/gpu"] = str(gpus if alloc is None else alloc)
    conds = [
     {"type":"MemoryPressure","status":"False","lastHeartbeatTime":"2026-11-28T01:58:12Z","lastTransitionTime":"2026-11-02T09:12:40Z","reason":"KubeletHasSufficientMemory","message":"kubelet has sufficient memory available"},
     {"type":"DiskPressure","status":"False","lastHeartbeatTime":"2026-11-28T01:58:12Z","lastTransitionTime":"2026-11-02T09:12:40Z","reason":"KubeletHasNoDiskPressure","message":"kubelet has no disk pressure"},
     {"type":"PIDPressure","status":"False","lastHeartbeatTime":"2026-11-28T01:58:12Z","lastTransitionTime":"2026-11-02T09:12:40Z","reason":"KubeletHasSufficientPID","message":"kubelet has sufficient PID available"},
     {"type":"Ready","status":ready,"lastHeartbeatTime":"2026-11-28T01:58:12Z","lastTransitionTime":"2026-11-02T09:13:01Z",
      "reason":{"True":"KubeletReady","False":"KubeletNotReady","Unknown":"NodeStatusUnknown"}[ready],
      "message":{"True":"kubelet is posting ready status","False":"container runtime network not ready","Unknown":"Kubelet stopped posting node status."}[ready]}]
    spec = {"providerID":"aws:///%s/i-0%s" % (zone, abs(hash(name)) % 10**12)}
    t = list(taints or [])
    if unsched:
        spec["unschedulable"] = True
        t.append({"key":"node.kubernetes.io/unschedulable","effect":"NoSchedule","timeAdded":"2026-11-27T22:00:00Z"})
    if ready != "True":
        t.append({"key":"node.kubernetes.io/unreachable","effect":"NoExecute","timeAdded":"2026-11-28T01:00:00Z"})
        t.append({"key":"node.kubernetes.io/unreachable","effect":"NoSchedule","timeAdded":"2026-11-28T01:00:00Z"})
    if t: spec["taints"] = t
    return {"metadata":{"name":name,"uid":"6b1f%s-1c2d-4e5f-8a9b-0c1d2e3f4a5b" % (abs(hash(name))%10000),"resourceVersion":"88%05d" % (abs(hash(name))%100000),
             "creationTimestamp":"2026-11-02T09:12:30Z","labels":lab,
             "annotations":{"node.alpha.kubernetes.io/ttl":"0","volumes.kubernetes.io/controller-managed-attach-detach":"true"}},
            "spec":spec,
            "status":{"capacity":cap,"allocatable":al,"conditions":conds,
             "addresses":[{"type":"InternalIP","address":"10.0.%d.%d" % (abs(hash(name))%200, abs(hash(name+'x'))%200)},{"type":"Hostname","address":name}],
             "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}},
             "nodeInfo":{"machineID":"ec2a","systemUUID":"ec2a","bootID":"b0","kernelVersion":"5.15.0-1051-aws","osImage":"Ubuntu 22.04.4 LTS",
               "containerRuntimeVersion":"containerd://1.7.11","kubeletVersion":"v1.29.3","kubeProxyVersion":"v1.29.3","operatingSystem":"linux","architecture":"amd64"}}}

GPU_TAINT = {"key":"nvidia.com/gpu","value":"present","effect":"NoSchedule"}
SERV = {"fedsched.io/pool":"serving"}
TRAIN = {"fedsched.io/pool":"training"}
H100 = "NVIDIA-H100-80GB-HBM3"
nodes = [
 node("h100-a1", H100, labels=TRAIN, taints=[GPU_TAINT]),
 node("h100-a2", H100, labels=TRAIN, taints=[GPU_TAINT]),
 node("h100-a3", H100, labels=TRAIN, taints=[GPU_TAINT], unsched=True),
 node("h100-a4", H100, labels=TRAIN, ready="Unknown"),
 node("h100-a5", H100, labels=TRAIN, taints=[{"key":"dedicated","value":"web","effect":"NoSchedule"}]),
 node("h100-a6", H100, labels=TRAIN, alloc=0),
 node("h100-a7", H100, labels=TRAIN, taints=[GPU_TAINT, {"key":"example.com/maintenance","value":"soon","effect":"PreferNoSchedule"}]),
 node("a100-b1", "NVIDIA-A100-SXM4-80GB", mem=81920, labels=TRAIN, itype="p4de.24xlarge"),
 node("a100-mig1", "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", gpus=7, mem=4864, mig="single", labels=TRAIN, itype="p4d.24xlarge"),
 node("b200-x1", "NVIDIA-B200", gpus=8, mem=183359, labels=TRAIN, itype="p6-b200.48xlarge"),
 node("cpu-1", None, itype="m7i.8xlarge"),
 node("l4-s1", "NVIDIA-L4", gpus=4, mem=23034, labels=SERV, itype="g6.12xlarge"),
 node("l4-s2", "NVIDIA-L4", gpus=4, mem=23034, labels=SERV, itype="g6.12xlarge"),
 node("l4-s3", "NVIDIA-L4", gpus=4, mem=23034, labels=SERV, itype="g6.12xlarge"),
 node("l4-s4", "NVIDIA-L4", gpus=4, mem=23034, labels=SERV, ready="False", itype="g6.12xlarge"),
 node("l4-s5", "NVIDIA-L4", gpus=4, mem=23034, labels=SERV, itype="g6.12xlarge"),
]
def nodelist(items, cont, remaining=None):
    md = {"resourceVersion":RV}
    if cont: md["continue"] = cont
    if remaining is not None: md["remainingItemCount"] = remaining
    return {"kind":"NodeList","apiVersion":"v1","metadata":md,"items":items}
CONT_N = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJiMjAwLXgxXHUwMDAwIn0"
json.dump(nodelist(nodes[:10], CONT_N, 6), open("nodes-page1.json","w"), indent=2)
json.dump(nodelist(nodes[10:], None), open("nodes-page2.json","w"), indent=2)

def res(req=None, lim=None, cpu="4", mem="32Gi"):
    r = {"requests":{"cpu":cpu,"memory":mem}, "limits":{"memory":mem}}
    if req is not None: r["requests"]["nvidia.com/gpu"] = req
    if lim is not None: r["limits"]["nvidia.com/gpu"] = lim
    return r
def pod(ns, name, node_name, containers, phase="Running", init=None, labels=None, deleting=False, selector=None, pending_unsched=False, owner=None):
    md = {"name":name,"namespace":ns,"uid":"a1b2%s-0000-4000-8000-00000000%04d" % (abs(hash(name))%10000, abs(hash(name))%10000),
          "resourceVersion":"88%05d" % (abs(hash(name))%100000),"creationTimestamp":"2026-11-27T20:00:00Z","labels":labels or {"app":name.rsplit('-',1)[0]}}
    if owner: md["ownerReferences"] = [owner]
    if deleting:
        md["deletionTimestamp"] = "2026-11-28T01:59:00Z"; md["deletionGracePeriodSeconds"] = 30
    spec = {"containers":[{"name":"c%d" % i,"image":"nvcr.io/nvidia/pytorch:24.03-py3","resources":c} for i,c in enumerate(containers)],
            "restartPolicy":"Never" if ns=="fedsched-jobs" else "Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
            "serviceAccountName":"default","schedulerName":"default-scheduler","priority":0,"enableServiceLinks":True,"preemptionPolicy":"PreemptLowerPriority",
            "tolerations":[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"},
                           {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}
    if init is not None:
        spec["initContainers"] = [{"name":"init%d" % i,"image":"busybox:1.36","resources":c[0], **({"restartPolicy":"Always"} if c[1] else {})} for i,c in enumerate(init)]
    if node_name: spec["nodeName"] = node_name
    if selector: spec["nodeSelector"] = selector
    st = {"phase":phase,"qosClass":"Burstable"}
    if phase == "Running":
        st["conditions"] = [{"type":"PodReadyToStartContainers","status":"True","lastTransitionTime":"2026-11-27T20:00:05Z"},
            {"type":"Initialized","status":"True","lastTransitionTime":"2026-11-27T20:00:05Z"},
            {"type":"Ready","status":"True","lastTransitionTime":"2026-11-27T20:01:00Z"},
            {"type":"ContainersReady","status":"True","lastTransitionTime":"2026-11-27T20:01:00Z"},
            {"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-27T20:00:00Z"}]
        st["hostIP"] = "10.0.1.5"; st["podIP"] = "10.1.%d.%d" % (abs(hash(name))%200, abs(hash(name+'p'))%200); st["startTime"] = "2026-11-27T20:00:00Z"
    elif phase == "Pending" and node_name:
        st["conditions"] = [{"type":"PodScheduled","status":"True","lastTransitionTime":"2026-11-28T01:58:00Z"},
                            {"type":"Initialized","status":"False","lastTransitionTime":"2026-11-28T01:58:00Z","reason":"ContainersNotInitialized"}]
    elif phase == "Pending":
        if pending_unsched:
            st["conditions"] = [{"type":"PodScheduled","status":"False","lastProbeTime":None,"lastTransitionTime":"2026-11-28T01:57:00Z",
               "reason":"Unschedulable","message":"0/16 nodes are available: 4 Insufficient nvidia.com/gpu, 12 node(s) didn't match Pod's node affinity/selector. preemption: 0/16 nodes are available: 16 No preemption victims found for incoming pod."}]
    elif phase in ("Succeeded","Failed"):
        st["conditions"] = [{"type":"Ready","status":"False","lastTransitionTime":"2026-11-28T00:00:00Z","reason":"PodCompleted"}]
    return {"metadata":md,"spec":spec,"status":st}

FED = {"app.kubernetes.io/managed-by":"fedsched","fedsched.io/job-uid":"2f9c1e7a-5b4d-4c3e-9a8f-7e6d5c4b3a21","fedsched.io/attempt":"1","batch.kubernetes.io/job-name":"tj-2f9c1e7a-1"}
JOBOWN = {"apiVersion":"batch/v1","kind":"Job","name":"tj-2f9c1e7a-1","uid":"0c0c0c0c-1111-2222-3333-444444444444","controller":True,"blockOwnerDeletion":True}
pods = [
 # h100-a1: requests 4 (+limits 4) and limits-only 2 -> 6
 pod("research","train-a-0","h100-a1",[res("4","4")]),
 pod("research","train-b-0","h100-a1",[res(None,"2")]),
 # h100-a2: app 4, init container 8 -> 8
 pod("research","prep-c-0","h100-a2",[res("4","4")], init=[(res("8","8"),False),(res(None,None),False)]),
 # h100-a3 (cordoned): 2 used
 pod("research","train-d-0","h100-a3",[res("1","1"),res("1","1")]),
 # h100-a7: terminating 4 (counts), succeeded 8 (skipped), bound pending 2 (counts)
 pod("research","train-e-0","h100-a7",[res("4","4")], deleting=True),
 pod("research","train-f-0","h100-a7",[res("8","8")], phase="Succeeded"),
 pod("research","train-g-0","h100-a7",[res("2","2")], phase="Pending"),
 pod("research","train-h-0","h100-a7",[res("8","8")], phase="Failed"),
 # a100-b1: one GPU from app container plus a native sidecar with no GPU
 pod("research","notebook-i-0","a100-b1",[res("1","1")], init=[(res(None,None),True)]),
 # pod bound to a node that left the cluster
 pod("research","train-j-0","gone-node",[res("2","2")]),
 # serving
 pod("serving","eta-serving-7d9f-abc12","l4-s1",[res("1","1")]),
 pod("serving","eta-serving-7d9f-def34","l4-s1",[res(None,"1")]),
 pod("fedsched-jobs","tj-2f9c1e7a-1-xk2p9","l4-s1",[res("1","1")], labels=FED, owner=JOBOWN),
 pod("serving","ranker-5c8b-qq1","l4-s2",[res("4","4")]),
 pod("serving","sidecar-proxy-zz","l4-s2",[res(None,None,cpu="100m",mem="128Mi")]),
]
pods2 = [
 # unbound serving demand: 1 GPU with product selector, 2 GPUs without selector
 pod("serving","eta-serving-7d9f-pend1",None,[res("1","1")], phase="Pending", selector={"nvidia.com/gpu.product":"NVIDIA-L4"}, pending_unsched=True),
 pod("serving","ranker-5c8b-pend2",None,[res("2","2")], phase="Pending", pending_unsched=True),
 # not demand: training pod pending, terminating unbound serving pod, CPU-only serving pod
 pod("fedsched-jobs","tj-77aa-1-pend",None,[res("8","8")], phase="Pending", labels=FED),
 pod("research","train-k-0",None,[res("8","8")], phase="Pending", pending_unsched=True),
 pod("serving","eta-serving-7d9f-gone",None,[res("1","1")], phase="Pending", deleting=True),
 pod("serving","web-frontend-1",None,[res(None,None)], phase="Pending"),
]
def podlist(items, cont, remaining=None):
    md = {"resourceVersion":RV}
    if cont: md["continue"] = cont
    if remaining is not None: md["remainingItemCount"] = remaining
    return {"kind":"PodList","apiVersion":"v1","metadata":md,"items":items}
CONT_P = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6ODgxMjM0NSwic3RhcnQiOiJzZXJ2aW5nL3NpZGVjYXItcHJveHktenpcdTAwMDAifQ"
json.dump(podlist(pods, CONT_P, len(pods2)), open("pods-page1.json","w"), indent=2)
json.dump(podlist(pods2, None), open("pods-page2.json","w"), indent=2)

# A second cluster with two serving SKUs, for unassigned serving demand (issue 19): serving
# L4 holds 5 x 4 = 20 GPUs and serving H100 2 x 8 = 16, so pending serving pods that select
# no product go to L4, the serving SKU with the most GPUs. L4 is the smaller SKU by GPUs per
# node and comes after H100 in the catalogue, and the training H100 nodes (16 more) would
# make H100 the largest if training capacity were counted: each wrong rule picks H100.
L4 = "NVIDIA-L4"
nodes_two = [
 node("h100-s1", H100, labels=SERV, taints=[GPU_TAINT]),
 node("h100-s2", H100, labels=SERV, taints=[GPU_TAINT]),
 node("h100-t1", H100, labels=TRAIN, taints=[GPU_TAINT]),
 node("h100-t2", H100, labels=TRAIN, taints=[GPU_TAINT]),
] + [node("l4-s%d" % i, L4, gpus=4, mem=23034, labels=SERV, itype="g6.12xlarge") for i in range(1, 6)]
pods_two = [
 # usage, not demand
 pod("serving","eta-serving-7d9f-run1","l4-s1",[res("1","1")]),
 # unbound serving demand: 3 + 2 GPUs selecting no product, 2 selecting H100, 1 selecting L4
 pod("serving","ranker-5c8b-pend3",None,[res("3","3")], phase="Pending", pending_unsched=True),
 pod("serving","eta-serving-7d9f-pend4",None,[res(None,"2")], phase="Pending", pending_unsched=True),
 pod("serving","llm-6f7a-pend5",None,[res("2","2")], phase="Pending", selector={"nvidia.com/gpu.product":H100}, pending_unsched=True),
 pod("serving","eta-serving-7d9f-pend6",None,[res("1","1")], phase="Pending", selector={"nvidia.com/gpu.product":L4}, pending_unsched=True),
 # not serving demand: a pending training pod
 pod("research","train-m-0",None,[res("8","8")], phase="Pending", pending_unsched=True),
]
json.dump(nodelist(nodes_two, None), open("two-serving-nodes.json","w"), indent=2)
json.dump(podlist(pods_two, None), open("two-serving-pods.json","w"), indent=2)
