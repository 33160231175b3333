// Parses .bicep files with the tree-sitter-bicep grammar (WebAssembly build,
// run by web-tree-sitter) and prints one JSON document on stdout:
//
//   {"files":[{"file", "errors":[{"line","column","near"}],
//              "statements":[{"kind","name","type","decorators","assigned","value"}]}]}
//
// kind is the declaration keyword (resource, module, param, var, output,
// targetScope, func, type, import, metadata); type is a resource's
// 'Type@apiVersion' or a module's path; value is what follows '=' (absent
// for a param without default), converted to JSON: objects → objects, arrays → arrays, literal strings,
// numbers and booleans → themselves, null → null, `if (c) {…}` → the object
// with "$if": c, `[for … : x]` → {"$for": header, "$body": x}, and any other
// expression → {"$expr": source text}. Interpolated strings keep their
// ${…} text. Positions are 1-based.
//
// Exit status: 0 when every file parsed without an ERROR or MISSING node,
// 1 when any did (the JSON still lists them), 2 on a usage or load error.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Parser, Language } from 'web-tree-sitter';

const require = createRequire(import.meta.url);

async function main(files) {
  if (files.length === 0) {
    process.stderr.write('usage: node bicep.mjs FILE.bicep...\n');
    return 2;
  }
  await Parser.init();
  const lang = await Language.load(require.resolve('tree-sitter-bicep/tree-sitter-bicep.wasm'));
  const parser = new Parser();
  parser.setLanguage(lang);
  const out = [];
  let failed = false;
  for (const file of files) {
    const src = readFileSync(file, 'utf8');
    const tree = parser.parse(src);
    const errors = [];
    collectErrors(tree.rootNode, errors);
    if (errors.length > 0) failed = true;
    out.push({ file, errors, statements: statements(tree.rootNode) });
  }
  process.stdout.write(JSON.stringify({ files: out }));
  return failed ? 1 : 0;
}

function collectErrors(node, errors) {
  if (node.type === 'ERROR' || node.isMissing) {
    errors.push({
      line: node.startPosition.row + 1,
      column: node.startPosition.column + 1,
      near: node.isMissing ? `missing ${node.type}` : node.text.split('\n')[0].slice(0, 60),
    });
    if (node.type === 'ERROR') return;
  }
  for (const child of node.children) collectErrors(child, errors);
}

const kinds = {
  resource_declaration: 'resource',
  module_declaration: 'module',
  parameter_declaration: 'param',
  variable_declaration: 'var',
  output_declaration: 'output',
  target_scope_assignment: 'targetScope',
  user_defined_function: 'func',
  type_declaration: 'type',
  import_statement: 'import',
  import_with_statement: 'import',
  import_functionality: 'import',
  metadata_declaration: 'metadata',
};

function statements(root) {
  const list = [];
  let decorators = [];
  for (const node of root.namedChildren) {
    if (node.type === 'decorators') {
      decorators = node.namedChildren.map((d) => d.text);
      continue;
    }
    if (node.type === 'comment' || node.type === 'diagnostic_comment') continue;
    const kind = kinds[node.type] ?? node.type;
    const named = node.namedChildren.filter((c) => c.type !== 'comment');
    const ident = named.find((c) => c.type === 'identifier');
    const str = named.find((c) => c.type === 'string');
    const st = { kind, name: ident ? ident.text : '', decorators };
    if ((kind === 'resource' || kind === 'module') && str) st.type = stringValue(str);
    // The value is what follows '=' (a param without one has no default).
    const eq = node.children.findIndex((c) => c.type === '=');
    if (eq >= 0) {
      const value = node.children.slice(eq + 1).find((c) => c.isNamed && c.type !== 'comment');
      if (value) {
        st.assigned = true;
        st.value = convert(value);
      }
    }
    list.push(st);
    decorators = [];
  }
  return list;
}

function stringValue(node) {
  const t = node.text;
  if (t.startsWith("'''")) return t.slice(3, -3);
  return t.slice(1, -1).replace(/\\'/g, "'").replace(/\\\\/g, '\\');
}

function convert(node) {
  switch (node.type) {
    case 'object': {
      const obj = {};
      for (const p of node.namedChildren) {
        if (p.type !== 'object_property') continue;
        const [k, v] = p.namedChildren.filter((c) => c.type !== 'comment');
        const key = k.type === 'string' ? stringValue(k) : k.text;
        obj[key] = v ? convert(v) : null;
      }
      return obj;
    }
    case 'array':
      return node.namedChildren.filter((c) => c.type !== 'comment' && c.type !== 'decorators').map(convert);
    case 'string':
      return stringValue(node);
    case 'number':
      return Number(node.text);
    case 'boolean':
      return node.text === 'true';
    case 'null':
      return null;
    case 'parenthesized_expression':
      return node.namedChildren.length === 1 ? convert(node.namedChildren[0]) : { $expr: node.text };
    case 'if_statement': {
      const [cond, body] = node.namedChildren.filter((c) => c.type !== 'comment');
      const value = body ? convert(body) : {};
      if (value && typeof value === 'object' && !Array.isArray(value)) value.$if = cond.text;
      return value;
    }
    case 'for_statement': {
      const kids = node.namedChildren.filter((c) => c.type !== 'comment');
      const body = kids[kids.length - 1];
      const header = node.text.slice(0, body.startIndex - node.startIndex).replace(/^\[\s*/, '').replace(/:\s*$/, '');
      return { $for: header.trim(), $body: convert(body) };
    }
    default:
      if (node.type.endsWith('expression') && node.namedChildren.length === 1 && node.text === node.namedChildren[0].text) {
        return convert(node.namedChildren[0]);
      }
      return { $expr: node.text };
  }
}

// exitCode, not process.exit: stdout to a pipe is flushed only as the
// process ends normally.
main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`bicep.mjs: ${err.stack || err}\n`);
    process.exitCode = 2;
  },
);
