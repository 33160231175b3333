// Prints the wire (REST JSON) property names of Azure management SDK
// models, read from the packages' own serializers, as one JSON document:
//
//   {"package": "@azure/arm-storage", "version": "20.0.0",
//    "models": {"<model>": {"<wire key>": "<child model>" | null | "*"}}}
//
// null marks a leaf (string, number, list of scalars, free-form value),
// "*" an object with arbitrary keys (a record or dictionary). Two layouts
// are read:
//   - TypeSpec-generated packages (dist/commonjs/models/models.js): the
//     functions fooSerializer(item) { return { wireKey: …barSerializer(…) } }
//     and fooArraySerializer(result) (element model bar);
//   - AutoRest packages (models/mappers.js): the mappers' modelProperties
//     with serializedName "properties.x" (nested under "properties").
//
// usage: node armmodels.mjs PACKAGE
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(join(process.cwd(), 'package.json'));

async function main(pkg) {
  if (!pkg) {
    process.stderr.write('usage: node armmodels.mjs PACKAGE\n');
    return 2;
  }
  const root = dirname(require.resolve(`${pkg}/package.json`));
  const typespec = join(root, 'dist', 'commonjs', 'models', 'models.js');
  let models;
  if (existsSync(typespec)) {
    models = fromSerializers(readFileSync(typespec, 'utf8'));
  } else {
    const candidates = [
      join(root, 'dist', 'commonjs', 'models', 'mappers.js'),
      join(root, 'dist-esm', 'src', 'models', 'mappers.js'),
    ];
    const file = candidates.find((c) => existsSync(c));
    if (!file) throw new Error(`${pkg}: no models.js or mappers.js`);
    models = fromMappers(await import(pathToFileURL(file).href));
  }
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  process.stdout.write(JSON.stringify({ package: pkg, version, models }));
  return 0;
}

function fromSerializers(src) {
  const models = {};
  const fnRe = /^function (_?\w+Serializer)\((item|result)\) \{\n([\s\S]*?)^\}/gm;
  for (const m of src.matchAll(fnRe)) {
    const [, name, arg, body] = m;
    if (arg === 'result') {
      // fooArraySerializer / fooRecordSerializer: keep the element model.
      const el = body.match(/(\w+Serializer)\(/);
      models[name] = { $element: el ? el[1] : null, $record: /Record/.test(name) };
      continue;
    }
    const ret = body.match(/^ {2}return \{/m);
    if (!ret) continue;
    const fields = {};
    for (const entry of topLevelEntries(body.slice(ret.index + ret[0].length))) {
      const km = entry.match(/^\s*(?:"([^"]+)"|([\w$]+))\s*:\s*([\s\S]*)$/);
      if (!km) continue;
      const refs = [...km[3].matchAll(/(\w+Serializer)\(/g)].map((r) => r[1]);
      fields[km[1] ?? km[2]] = refs.length ? refs[refs.length - 1] : null;
    }
    models[name] = fields;
  }
  // Resolve array and record serializers to their element models.
  const out = {};
  for (const [name, fields] of Object.entries(models)) {
    if (fields.$element !== undefined) continue;
    const o = {};
    for (const [k, child] of Object.entries(fields)) {
      let c = child;
      const seen = new Set();
      while (c && models[c] && models[c].$element !== undefined && !seen.has(c)) {
        seen.add(c);
        if (models[c].$record) {
          c = '*';
          break;
        }
        c = models[c].$element;
      }
      if (c && c !== '*' && !models[c]) c = null;
      o[k] = c;
    }
    out[name] = o;
  }
  return out;
}

// topLevelEntries splits the text after an object literal's "{" into its
// comma-separated entries, up to the matching "}" (strings and nesting
// respected).
function topLevelEntries(text) {
  const entries = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = null;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      if (depth === 0) {
        entries.push(text.slice(start, i));
        return entries.filter((e) => e.trim() !== '');
      }
      depth--;
    } else if (c === ',' && depth === 0) {
      entries.push(text.slice(start, i));
      start = i + 1;
    }
  }
  return entries;
}

function fromMappers(mod) {
  const mappers = {};
  for (const v of Object.values(mod)) {
    if (v && v.type && v.type.name === 'Composite' && v.type.className) mappers[v.type.className] = v;
  }
  const out = {};
  const childOf = (type) => {
    if (!type) return null;
    if (type.name === 'Composite') return type.className ?? null;
    if (type.name === 'Sequence') return childOf(type.element && type.element.type);
    if (type.name === 'Dictionary') return '*';
    return null;
  };
  const collect = (className, seen = new Set()) => {
    const m = mappers[className];
    if (!m || seen.has(className)) return {};
    seen.add(className);
    let props = { ...(m.type.modelProperties ?? {}) };
    if (m.type.uberParent && m.type.uberParent !== className) props = { ...collect(m.type.uberParent, seen), ...props };
    return props;
  };
  for (const className of Object.keys(mappers)) {
    const o = {};
    for (const p of Object.values(collect(className))) {
      if (!p.serializedName || p.readOnly) continue;
      const path = p.serializedName.split(/(?<!\\)\./).map((s) => s.replace(/\\\./g, '.'));
      let cur = o;
      let name = className;
      for (let i = 0; i < path.length - 1; i++) {
        name = `${name}.${path[i]}`;
        if (typeof cur[path[i]] !== 'string' || !out[cur[path[i]]]) {
          out[name] = out[name] ?? {};
          cur[path[i]] = name;
        }
        cur = out[cur[path[i]]];
      }
      cur[path[path.length - 1]] = childOf(p.type);
    }
    out[className] = { ...(out[className] ?? {}), ...o };
  }
  return out;
}

main(process.argv[2]).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`armmodels.mjs: ${err.stack || err}\n`);
    process.exitCode = 2;
  },
);
