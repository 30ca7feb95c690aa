// strict.js -- kubernetes-models' validators made strict: unknown fields fail. Shared by
// validate.js (the objects fedsched creates) and manifests.js (the YAML under deploy/).
// Not responsible for which schema checks which object (each caller's table).

// kubernetes-models' validators are ajv code compiled from the Kubernetes OpenAPI schema
// without additionalProperties: false, so they accept any unknown field. They do read
// every property their schema declares, and enumerate the keys of maps (labels, limits):
// so each object is handed to them behind a Proxy that records what they read, and a key
// of a struct that the validator never read is one its schema does not have.
function tracked(root) {
  const records = new Map(); // target object -> {path, read: Set, enumerated}
  const proxies = new WeakMap();
  function wrap(value, path) {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    const rec = { path, read: new Set(), enumerated: false };
    records.set(value, rec);
    const proxy = new Proxy(value, {
      get(target, key) {
        if (typeof key !== "string") return target[key];
        rec.read.add(key);
        return wrap(target[key], `${path}/${key}`);
      },
      has(target, key) {
        if (typeof key === "string") rec.read.add(key);
        return key in target;
      },
      ownKeys(target) {
        rec.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  }
  return { proxy: wrap(root, ""), records };
}

function unknownFields(records) {
  const out = [];
  for (const [value, rec] of records) {
    if (Array.isArray(value) || rec.enumerated) continue;
    for (const key of Object.keys(value))
      if (!rec.read.has(key)) out.push(`${rec.path}/${key} unknown field`);
  }
  return out;
}

export function ajvErrors(errors) {
  return (errors || []).map((e) => `${e.instancePath || "/"} ${e.message || e.keyword} ${JSON.stringify(e.params)}`);
}

// A kubernetes-models validator made strict: its own errors plus every unknown field.
export function strictModel(validate) {
  return (obj) => {
    const { proxy, records } = tracked(obj);
    const errors = validate(proxy) ? [] : ajvErrors(validate.errors);
    return errors.concat(unknownFields(records));
  };
}
