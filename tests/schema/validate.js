// validate.js -- checks objects fedsched creates in member clusters against the official
// schemas: batch/v1 Job, v1 Service, v1 Secret and v1 Namespace with the kubernetes-models
// package, ray.io/v1 RayJob with KubeRay's published CRD schema (testdata/schemas/); and
// the objects fedsched reads that the simulator serves from a CRD, leaderworkerset.x-k8s.io/v1
// LeaderWorkerSet with the LWS project's published CRD schema (testdata/schemas/).
// Unknown fields are failures, as they are silently dropped (or refused) by an API server.
// Not responsible for making the objects (dump_objects.c does) nor for what an API server
// checks beyond the schema (name syntax, immutability, CEL rules of the CRD).
//
// Usage: node validate.js [FILE]   (FILE, or stdin: a JSON array of {"label", "object"})
// Prints "ok LABEL" or "FAIL LABEL: PATH MESSAGE" per object, then one summary line
// {"checked": N, "failed": N, "kinds": {"Job": N, ...}}; exits 1 when any object failed.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv from "ajv";
import { validate as validateJob } from "kubernetes-models/_schemas/IoK8sApiBatchV1Job";
import { validate as validateService } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as validateSecret } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as validateNamespace } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as validateObjectMeta } from "@kubernetes-models/apimachinery/_schemas/IoK8sApimachineryPkgApisMetaV1ObjectMeta";

const here = dirname(fileURLToPath(import.meta.url));
const RAYJOB_SCHEMA = join(here, "../../testdata/schemas/kuberay-v1.7.0-rayjob-v1.json");
const LWS_SCHEMA = join(here, "../../testdata/schemas/lws-v0.10.0-leaderworkerset-v1.json");

// kubernetes-models' validators accept unknown fields: strict.js records what they read.
import { ajvErrors, strictModel } from "./strict.js";

// A CRD's structural schema (KubeRay's, LWS's), read the way an API server prunes it: an object without
// x-kubernetes-preserve-unknown-fields keeps only its declared properties (or, with
// additionalProperties, map entries), so here anything else is refused instead.
function closeObjects(node) {
  if (Array.isArray(node)) return node.forEach(closeObjects);
  if (node === null || typeof node !== "object") return;
  if (node.type === "object" && !node["x-kubernetes-preserve-unknown-fields"] &&
      node.additionalProperties === undefined)
    node.additionalProperties = false;
  Object.values(node).forEach(closeObjects);
}

function crdValidator(file) {
  const schema = JSON.parse(readFileSync(file, "utf8"));
  // The root metadata is the API server's ObjectMeta (the CRD says only "type: object"):
  // checked below with the official ObjectMeta schema instead.
  schema.properties.metadata = {};
  closeObjects(schema);
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  // OpenAPI extensions with no JSON Schema meaning; the CEL rules are not evaluated.
  for (const k of ["x-kubernetes-int-or-string", "x-kubernetes-list-map-keys",
                   "x-kubernetes-list-type", "x-kubernetes-map-type",
                   "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations"])
    ajv.addKeyword(k);
  ajv.addFormat("int32", { type: "number", validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
  ajv.addFormat("int64", { type: "number", validate: (n) => Number.isSafeInteger(n) });
  ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  const validate = ajv.compile(schema);
  const meta = strictModel(validateObjectMeta);
  return (obj) => {
    const errors = validate(obj) ? [] : ajvErrors(validate.errors);
    if (obj && obj.metadata !== undefined)
      errors.push(...meta(obj.metadata).map((m) => `/metadata${m.startsWith("/") ? m : " " + m}`));
    return errors;
  };
}

const validators = {
  "batch/v1 Job": strictModel(validateJob),
  "v1 Service": strictModel(validateService),
  "v1 Secret": strictModel(validateSecret),
  "v1 Namespace": strictModel(validateNamespace),
  "ray.io/v1 RayJob": crdValidator(RAYJOB_SCHEMA),
  "leaderworkerset.x-k8s.io/v1 LeaderWorkerSet": crdValidator(LWS_SCHEMA),
};

function check(obj) {
  const type = `${obj && obj.apiVersion} ${obj && obj.kind}`;
  const validate = validators[type];
  if (!validate) return [`/ no schema for apiVersion/kind "${type}" (known: ${Object.keys(validators).join(", ")})`];
  return validate(obj);
}

const entries = JSON.parse(readFileSync(process.argv[2] || 0, "utf8"));
if (!Array.isArray(entries)) {
  console.error("validate.js: input must be a JSON array of {label, object}");
  process.exit(2);
}
const summary = { checked: 0, failed: 0, kinds: {} };
for (const { label, object } of entries) {
  const errors = check(object);
  summary.checked++;
  summary.kinds[object && object.kind] = (summary.kinds[object && object.kind] || 0) + 1;
  if (errors.length === 0) {
    console.log(`ok ${label}`);
    continue;
  }
  summary.failed++;
  for (const e of errors) console.log(`FAIL ${label}: ${e}`);
}
console.log(JSON.stringify(summary));
process.exit(summary.failed ? 1 : 0);
