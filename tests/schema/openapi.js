// openapi.js -- checks docs/openapi.yaml, the API's OpenAPI document, against the OpenAPI
// 3.0 specification with an outside validator (@apidevtools/swagger-parser: the document's
// own JSON schema, every $ref resolved). The YAML is read with the yaml package in strict
// mode, so a flow mapping broken by a comma or a quote inside an unquoted string (the
// mistake that turned 'description: The cluster, cordoned.' into two keys) is caught by
// the schema it then fails. Not responsible for whether the API answers as the document
// says (the integration tests are).
//
// Usage: node openapi.js [FILE]   (default ../../docs/openapi.yaml)
// Prints one summary line {"valid": true|false, "paths": N, "schemas": N, "error": "...",
// "queries": {"GET /v1/capacity": ["sku", "pool"], ...}} and exits 1 when the document is
// not valid.

import {readFileSync} from "node:fs";
import {dirname, join} from "node:path";
import {fileURLToPath} from "node:url";
import SwaggerParser from "@apidevtools/swagger-parser";
import {parse} from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || join(here, "../../docs/openapi.yaml");

let doc;
try {
    doc = parse(readFileSync(file, "utf8"), {strict : true, uniqueKeys : true});
} catch (e) {
    console.log(
        JSON.stringify({valid : false, paths : 0, schemas : 0, error : `YAML: ${e.message}`}));
    process.exit(1);
}
const paths = Object.keys(doc.paths || {}).length;
const schemas = Object.keys((doc.components && doc.components.schemas) || {}).length;
// "METHOD /path" -> the query parameters the operation takes (its own and its path's), for
// the test that holds the route table to the document.
function queries(api) {
    const out = {};
    for (const [path, item] of Object.entries(api.paths || {}))
        for (const [method, op] of Object.entries(item)) {
            if (!["get", "put", "post", "delete", "patch"].includes(method))
                continue;
            out[`${method.toUpperCase()} ${path}`] =
                [...(item.parameters || []), ...(op.parameters || [])]
                    .filter((p) => p.in === "query")
                    .map((p) => p.name);
        }
    return out;
}

try {
    await SwaggerParser.validate(structuredClone(doc));
    const api = await SwaggerParser.dereference(structuredClone(doc));
    console.log(JSON.stringify({valid : true, paths, schemas, queries : queries(api)}));
} catch (e) {
    console.log(JSON.stringify({valid : false, paths, schemas, error : e.message.slice(0, 4000)}));
    process.exit(1);
}
