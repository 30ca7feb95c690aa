// responses.js -- checks answers fedsched gave against docs/openapi.yaml: each body against
// the schema the document gives for its path, method and status, with every object the
// document describes closed (a field it does not name is a failure, as kubernetes-models'
// checks are made strict in strict.js), by Ajv, which reads OpenAPI's nullable. An answer
// whose status the document does not list fails too. Not responsible for fetching the
// answers (tests/integration/test_openapi_answers.c does) or for the document being valid
// OpenAPI (openapi.js).
//
// Usage: node responses.js FILE   (a JSON array of {"method", "path": the document's path
// template, "url", "status", "body", "expect": "ok"|"fail"})
// Prints "ok"/"FAIL" and the url per answer (with the first errors), then one summary line
// {"checked": N, "failed": N, "unexpected": N}; exits 1 when an answer's outcome is not the
// one it expects.

import {readFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";
import Ajv from "ajv";
import addFormats from "ajv-formats";
import {parse} from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const doc = parse(readFileSync(join(here, "../../docs/openapi.yaml"), "utf8"));

// Every described object closed; OpenAPI 3.0's boolean exclusiveMinimum and
// exclusiveMaximum (JSON Schema draft 4) in the numeric form Ajv reads.
(function close(x) {
    if (Array.isArray(x))
        return x.forEach(close);
    if (x && typeof x === "object") {
        if (x.properties && x.additionalProperties === undefined)
            x.additionalProperties = false;
        for (const [flag, bound] of [[ "exclusiveMinimum", "minimum" ],
                                     [ "exclusiveMaximum", "maximum" ]]) {
            if (typeof x[flag] !== "boolean")
                continue;
            if (x[flag] && x[bound] !== undefined) {
                x[flag] = x[bound];
                delete x[bound];
            } else
                delete x[flag];
        }
        Object.values(x).forEach(close);
    }
})(doc);

const ajv = new Ajv({strict : false, allErrors : true});
addFormats(ajv);
ajv.addSchema(doc, "openapi");

const esc = s => s.replace(/~/g, "~0").replace(/\//g, "~1");

// The schema pointer of the answer's body, or an error text.
function schemaOf(a)
{
    const op = doc.paths[a.path] && doc.paths[a.path][a.method];
    if (!op)
        return {error : `${a.method} ${a.path} is not in the document`};
    const key = op.responses[String(a.status)] ? String(a.status) : "default";
    let r = op.responses[key], ptr = `/paths/${esc(a.path)}/${a.method}/responses/${esc(key)}`;
    if (!r)
        return {error : `status ${a.status} is not documented for ${a.method} ${a.path}`};
    if (r.$ref) {
        ptr = r.$ref.slice(1);
        r = doc.components.responses[r.$ref.split("/").pop()];
    }
    if (!r.content || !r.content["application/json"])
        return {error : `no JSON body documented for ${a.status}`};
    return {ptr : `${ptr}/content/application~1json/schema`};
}

const answers = JSON.parse(readFileSync(process.argv[2], "utf8"));
let failed = 0, unexpected = 0;
for (const a of answers) {
    const s = schemaOf(a);
    let errors = [];
    if (s.error)
        errors = [ s.error ];
    else {
        const validate = ajv.getSchema(`openapi#${s.ptr}`);
        if (!validate(a.body))
            errors = validate.errors.map(e => `${e.instancePath || "/"} ${e.message}${
                                             e.params && e.params.additionalProperty
                                                 ? ": " + e.params.additionalProperty
                                                 : ""}`);
    }
    const ok = errors.length === 0;
    failed += ok ? 0 : 1;
    if (ok !== ((a.expect || "ok") === "ok"))
        unexpected++;
    process.stdout.write(`${ok ? "ok  " : "FAIL"} ${a.method.toUpperCase()} ${a.url} ${a.status}${
        ok ? ""
           : ": " + errors.slice(0, 5).join(
                        "; ")}${ok === ((a.expect || "ok") === "ok") ? "" : " (UNEXPECTED)"}\n`);
}
console.log(JSON.stringify({checked : answers.length, failed, unexpected}));
process.exit(unexpected ? 1 : 0);
