// manifests.js -- checks the Kubernetes manifests under deploy/ (YAML, several documents a
// file) against the official schemas of kubernetes-models, unknown fields failing
// (strict.js), and checks that the member-cluster kit grants fedsched every verb it uses.
// Not responsible for what an API server checks beyond the schema (names, immutability,
// admission) nor for fedsched's own config file inside the ConfigMap (test_manifests runs
// fedsched on it).
//
// Usage: node manifests.js [--kit DIR] [--prereq FILE] [--objects-out FILE] PATH...
//   PATH: a .yaml file, or a directory whose *.yaml files (not subdirectories) are read.
//   --kit DIR: DIR's *.yaml with, in turn, each of DIR/jobs/*.yaml must grant the
//     ServiceAccount fedsched/fedsched-system every permission of --prereq FILE's table
//     (cluster/prereq.c), in the job namespace that file sets up (cluster-wide when it makes
//     none), and what the connector watches.
//   --objects-out FILE: every document read from PATH..., as a JSON array of {label, object}.
// Prints "ok LABEL" or "FAIL LABEL: PATH MESSAGE" per document (LABEL "FILE#N Kind/name")
// and per kit variant, then one summary line {"checked": N, "failed": N, "kinds": {...}};
// exits 1 when anything failed.

import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { strictModel } from "./strict.js";
import { validate as deployment } from "kubernetes-models/_schemas/IoK8sApiAppsV1Deployment";
import { validate as service } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as configMap } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as secret } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as namespace } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as serviceAccount } from "kubernetes-models/_schemas/IoK8sApiCoreV1ServiceAccount";
import { validate as pdb } from "kubernetes-models/_schemas/IoK8sApiPolicyV1PodDisruptionBudget";
import { validate as clusterRole } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRole";
import { validate as clusterRoleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1ClusterRoleBinding";
import { validate as role } from "kubernetes-models/_schemas/IoK8sApiRbacV1Role";
import { validate as roleBinding } from "kubernetes-models/_schemas/IoK8sApiRbacV1RoleBinding";
import { validate as priorityClass } from "kubernetes-models/_schemas/IoK8sApiSchedulingV1PriorityClass";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SUBJECT = { kind: "ServiceAccount", name: "fedsched", namespace: "fedsched-system" };

// kubernetes-models strips every "description" key from the schemas it compiles, and with
// them PriorityClass's property of that name: its validator never reads it, so strict.js
// would call it unknown. The official schema has it as a string: checked here instead.
function describedBy(validate) {
  return (obj) => {
    const { description, ...rest } = obj;
    const errors = validate(rest);
    if (description !== undefined && typeof description !== "string")
      errors.push("/description must be string");
    return errors;
  };
}

const validators = {
  "apps/v1 Deployment": strictModel(deployment),
  "v1 Service": strictModel(service),
  "v1 ConfigMap": strictModel(configMap),
  "v1 Secret": strictModel(secret),
  "v1 Namespace": strictModel(namespace),
  "v1 ServiceAccount": strictModel(serviceAccount),
  "policy/v1 PodDisruptionBudget": strictModel(pdb),
  "rbac.authorization.k8s.io/v1 ClusterRole": strictModel(clusterRole),
  "rbac.authorization.k8s.io/v1 ClusterRoleBinding": strictModel(clusterRoleBinding),
  "rbac.authorization.k8s.io/v1 Role": strictModel(role),
  "rbac.authorization.k8s.io/v1 RoleBinding": strictModel(roleBinding),
  "scheduling.k8s.io/v1 PriorityClass": describedBy(strictModel(priorityClass)),
};

function check(obj) {
  const type = `${obj && obj.apiVersion} ${obj && obj.kind}`;
  const validate = validators[type];
  if (!validate) return [`/ no schema for apiVersion/kind "${type}" (known: ${Object.keys(validators).join(", ")})`];
  return validate(obj);
}

function yamlFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(path, f));
}

function shown(file) {
  const r = relative(root, resolve(file));
  return r.startsWith("..") ? resolve(file) : r;
}

// Every document of a file, as kubectl reads it: YAML 1.1 (sigs.k8s.io/yaml), so "on" is a
// boolean and 0440 octal. A syntax error is one failed entry naming line and column.
function load(file) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"), { version: "1.1", prettyErrors: true });
  const out = [];
  docs.forEach((doc, i) => {
    const label = `${shown(file)}#${i}`;
    if (doc.errors.length) {
      out.push({ label, errors: doc.errors.map((e) => `/ YAML ${e.message.split("\n")[0]}`) });
      return;
    }
    const object = doc.toJS();
    if (object === null || object === undefined) return;
    const name = object.metadata && object.metadata.name;
    out.push({ label: `${label} ${object.kind}/${name}`, object, errors: check(object) });
  });
  return out;
}

// ---- RBAC: what the kit grants the ServiceAccount --------------------------------------

// cluster/prereq.c's perms[]: {"verb", "group", "resource", cluster_wide, prereq}.
function prereqPerms(file) {
  const re = /\{"(\w+)", "([\w.]*)", "(\w+)", (true|false), SNAPSHOT_PREREQ_\w+\}/g;
  const perms = [...readFileSync(file, "utf8").matchAll(re)].map((m) => ({
    verb: m[1], group: m[2], resource: m[3], clusterWide: m[4] === "true",
  }));
  if (perms.length === 0) throw new Error(`no permission table found in ${file}`);
  return perms;
}

// Not reviewed by the prerequisite check, used all the same: the connector's watches
// (docs/clusters.md, LIST+WATCH), the serving-demand signals' lists and watches
// (docs/clusters.md, "Announced serving demand") and the check's own reads.
const EXTRA = [
  ["watch", "", "nodes"], ["watch", "", "pods"], ["watch", "batch", "jobs"],
  ["watch", "ray.io", "rayjobs"], ["get", "", "namespaces"],
  ["get", "scheduling.k8s.io", "priorityclasses"],
  ["list", "apps", "deployments"], ["watch", "apps", "deployments"],
  ["list", "autoscaling", "horizontalpodautoscalers"],
  ["watch", "autoscaling", "horizontalpodautoscalers"],
  ["list", "leaderworkerset.x-k8s.io", "leaderworkersets"],
  ["watch", "leaderworkerset.x-k8s.io", "leaderworkersets"],
].map(([verb, group, resource]) => ({ verb, group, resource, clusterWide: true }));

const has = (list, v) => (list || []).includes(v) || (list || []).includes("*");
const ruleAllows = (rule, p) =>
  has(rule.apiGroups, p.group) && has(rule.resources, p.resource) && has(rule.verbs, p.verb);
const boundToUs = (b) => (b.subjects || []).some((s) =>
  s.kind === SUBJECT.kind && s.name === SUBJECT.name && s.namespace === SUBJECT.namespace);

// As the RBAC authorizer decides: a ClusterRoleBinding grants its ClusterRole everywhere,
// a RoleBinding its Role or ClusterRole in its own namespace only.
function allows(objects, p, ns) {
  const find = (kind, name, inNs) => objects.find((o) => o.kind === kind &&
    o.metadata.name === name && (inNs === undefined || o.metadata.namespace === inNs));
  return objects.some((b) => {
    if (!boundToUs(b)) return false;
    let r;
    if (b.kind === "ClusterRoleBinding") r = find("ClusterRole", b.roleRef.name);
    else if (b.kind === "RoleBinding" && !p.clusterWide && b.metadata.namespace === ns)
      r = b.roleRef.kind === "Role" ? find("Role", b.roleRef.name, ns) : find("ClusterRole", b.roleRef.name);
    return r !== undefined && (r.rules || []).some((rule) => ruleAllows(rule, p));
  });
}

// The kit with one jobs/ variant: every permission granted, in the namespace it makes.
function checkKit(dir, variant, perms) {
  const own = load(variant).map((e) => e.object).filter(Boolean);
  const objects = yamlFiles(dir).flatMap(load).map((e) => e.object).filter(Boolean).concat(own);
  const made = own.find((o) => o.kind === "Namespace");
  const ns = made ? made.metadata.name : "";
  const wanted = ns ? perms : perms.concat([{ verb: "create", group: "", resource: "namespaces", clusterWide: true }]);
  const name = (p) => `${p.verb} ${p.resource}${p.group ? "." + p.group : ""}${p.clusterWide ? " (all namespaces)" : ""}`;
  const denied = wanted.filter((p) => !allows(objects, p, p.clusterWide ? "" : ns)).map(name);
  const sa = objects.some((o) => o.kind === "ServiceAccount" && o.metadata.name === SUBJECT.name &&
    o.metadata.namespace === SUBJECT.namespace);
  const token = objects.some((o) => o.kind === "Secret" && o.type === "kubernetes.io/service-account-token" &&
    o.metadata.namespace === SUBJECT.namespace &&
    (o.metadata.annotations || {})["kubernetes.io/service-account.name"] === SUBJECT.name);
  const errors = [];
  if (denied.length) errors.push(`forbidden (job namespace ${ns || "any"}): ${denied.join(", ")}`);
  if (!sa) errors.push(`no ServiceAccount ${SUBJECT.namespace}/${SUBJECT.name}`);
  if (!token) errors.push(`no kubernetes.io/service-account-token Secret for ${SUBJECT.name}`);
  return { label: `kit ${shown(dir)} + ${shown(variant)}`, errors };
}

// ---- main --------------------------------------------------------------------------------

const args = process.argv.slice(2);
const opts = { kit: null, prereq: join(root, "cluster/prereq.c"), objectsOut: null };
const paths = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--kit") opts.kit = args[++i];
  else if (args[i] === "--prereq") opts.prereq = args[++i];
  else if (args[i] === "--objects-out") opts.objectsOut = args[++i];
  else paths.push(args[i]);
}
if (paths.length === 0 && !opts.kit) {
  console.error("usage: node manifests.js [--kit DIR] [--prereq FILE] [--objects-out FILE] PATH...");
  process.exit(2);
}

const summary = { checked: 0, failed: 0, kinds: {} };
function report({ label, object, errors }) {
  summary.checked++;
  if (object) summary.kinds[object.kind] = (summary.kinds[object.kind] || 0) + 1;
  if (errors.length === 0) return console.log(`ok ${label}`);
  summary.failed++;
  for (const e of errors) console.log(`FAIL ${label}: ${e}`);
}

const entries = paths.flatMap(yamlFiles).flatMap(load);
entries.forEach(report);
if (opts.objectsOut)
  writeFileSync(opts.objectsOut, JSON.stringify(entries.filter((e) => e.object)
    .map(({ label, object }) => ({ label, object }))));
if (opts.kit) {
  const perms = prereqPerms(opts.prereq).concat(EXTRA);
  const variants = yamlFiles(join(opts.kit, "jobs"));
  if (variants.length === 0) report({ label: `kit ${shown(opts.kit)}`, errors: ["no jobs/*.yaml variant"] });
  for (const v of variants) report(checkKit(opts.kit, v, perms));
}
console.log(JSON.stringify(summary));
process.exit(summary.failed ? 1 : 0);
