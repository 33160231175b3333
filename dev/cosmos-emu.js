#!/usr/bin/env node
// cosmos-emu.js: profileflow's launcher for the @vercel/cosmosdb-server
// Cosmos DB stand-in (local development and tests only; never deployed).
//
// It swaps three request handlers of the stock server before its route table
// is built, then starts the server:
//   - read document: a missing item gives 404 NotFound (stock: 500, because it
//     dereferences the missing document);
//   - transactional batch: the partition key comes from the
//     x-ms-documentdb-partitionkey header (the SDKs send it there, not per
//     operation), Patch is supported, and atomic batches are all-or-nothing:
//     on the first failing operation every earlier change is undone and the
//     reply is 207 Multi-Status with that operation's status and 424 Failed
//     Dependency for all the others;
//   - account metadata: endpoints carry the scheme actually served (http with
//     --no-ssl; stock always says https).
//
// Usage: node dev/cosmos-emu.js [--host 127.0.0.1] [--port 8081] [--no-ssl]
//                               [--cert cert.pem --key key.pem]
// Prints one line "cosmos-emu ready <endpoint>" on stdout when listening and
// exits with status 0 on SIGTERM or SIGINT. A listen error (e.g. EADDRINUSE)
// is printed as "cosmos-emu: listen error CODE: message" and exits with 1.
"use strict";

const fs = require("fs");
const path = require("path");

const PKG = "@vercel/cosmosdb-server";

function usage(code) {
  process.stdout.write(
    "usage: node cosmos-emu.js [--host H] [--port P] [--no-ssl] [--cert FILE --key FILE]\n"
  );
  process.exit(code);
}

function parseArgs(argv) {
  const opts = { host: "127.0.0.1", port: 8081, ssl: true, cert: "", key: "" };
  for (let i = 0; i < argv.length; i += 1) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) {
        process.stderr.write(`cosmos-emu: ${a} needs a value\n`);
        usage(2);
      }
      i += 1;
      return argv[i];
    };
    switch (a) {
      case "-h":
      case "--help":
        usage(0);
        break;
      case "--host":
        opts.host = next();
        break;
      case "-p":
      case "--port": {
        const v = next();
        const p = Number(v);
        if (!Number.isInteger(p) || p < 0 || p > 65535) {
          process.stderr.write(`cosmos-emu: bad port ${JSON.stringify(v)}\n`);
          process.exit(2);
        }
        opts.port = p;
        break;
      }
      case "--no-ssl":
        opts.ssl = false;
        break;
      case "--cert":
        opts.cert = next();
        break;
      case "--key":
        opts.key = next();
        break;
      default:
        process.stderr.write(`cosmos-emu: unknown argument ${JSON.stringify(a)}\n`);
        usage(2);
    }
  }
  if (Boolean(opts.cert) !== Boolean(opts.key)) {
    process.stderr.write("cosmos-emu: --cert and --key go together\n");
    process.exit(2);
  }
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const scheme = opts.ssl ? "https" : "http";

// Locate the package's lib directory (node resolution from this file, so the
// repository's node_modules is found).
let lib;
try {
  lib = path.dirname(require.resolve(`${PKG}/lib/index.js`, { paths: [__dirname, process.cwd()] }));
} catch (err) {
  process.stderr.write(`cosmos-emu: cannot find ${PKG} (run \`npm ci\`): ${err.message}\n`);
  process.exit(1);
}
const load = rel => require(path.join(lib, rel));

const readJSON = load("json").default;
const isTrueHeader = load("true-header").default;
const docOps = load("handler/_document-operations");
const { patchOperation } = load("handler/_patch-operations");

const PK_HEADER = "x-ms-documentdb-partitionkey";

function headerValue(req, name) {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function notFound(res) {
  res.statusCode = 404;
  return { code: "NotFound", message: "Entity with the specified id does not exist in the system." };
}

function badRequest(res, message) {
  res.statusCode = 400;
  return { code: "BadRequest", message };
}

// pkPaths returns the collection's partition key paths as segment arrays,
// e.g. [["id"]] for /id (the stock server's default when none is defined).
function pkPaths(collectionMeta) {
  const paths = ((collectionMeta && collectionMeta.partitionKey) || {}).paths || [];
  const segs = paths
    .filter(p => p !== "/_partitionKey")
    .map(p => p.slice(1).split("/").map(s => s.replace(/~1/g, "/").replace(/~0/g, "~")));
  return segs.length ? segs : [["id"]];
}

function getPath(obj, segs) {
  let cur = obj;
  for (const s of segs) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[s];
  }
  return cur;
}

// parsePK parses the partition key header: a JSON array of key values.
// Returns {ok, values} or {ok:false, message}. "[{}]" / "[]" mean "none".
function parsePK(raw) {
  if (raw === undefined || raw === "") return { ok: true, values: null };
  let v;
  try {
    v = JSON.parse(raw);
  } catch (_) {
    return { ok: false, message: `malformed ${PK_HEADER} header` };
  }
  if (!Array.isArray(v)) v = [v];
  if (v.length === 0 || (v.length === 1 && v[0] !== null && typeof v[0] === "object")) {
    return { ok: true, values: null };
  }
  return { ok: true, values: v };
}

// The stock store indexes documents by (partition value, id), where the
// partition value is the first key component (or the id when absent).
function storePartition(pk, id) {
  if (!pk || pk.values === null) return id;
  const first = pk.values[0];
  return first === undefined || first === null || typeof first === "object" ? id : first;
}

// --- read document --------------------------------------------------------

async function readDocument(account, req, res, { dbId, collId, docId }) {
  const collection = account.database(dbId).collection(collId);
  const meta = collection.read();
  if (!meta) return notFound(res);
  const pk = parsePK(headerValue(req, PK_HEADER));
  if (!pk.ok) return badRequest(res, pk.message);
  const paths = pkPaths(meta);
  const crossPartition = isTrueHeader(req, "x-ms-documentdb-query-enablecrosspartition");
  if (!crossPartition && (pk.values === null || pk.values.length < paths.length)) {
    return badRequest(
      res,
      "The partition key supplied in x-ms-partitionkey header has fewer components than defined in the collection"
    );
  }
  const data = collection.document(docId, storePartition(pk, docId)).read();
  if (!data) return notFound(res);
  if (!crossPartition) {
    for (let i = 0; i < paths.length; i += 1) {
      if (getPath(data, paths[i]) !== pk.values[i]) return notFound(res);
    }
  }
  res.statusCode = 200;
  return data;
}

// --- transactional batch ---------------------------------------------------

const MAX_BATCH_OPS = 100;

function opResult(result) {
  const ok = result.statusCode < 400;
  const out = { statusCode: result.statusCode, requestCharge: ok ? 1 : 0 };
  if (result.body && result.body._etag) out.eTag = result.body._etag;
  if (ok && result.body) out.resourceBody = result.body;
  if (!ok && result.body && result.body.message) out.message = result.body.message;
  return out;
}

function runOperation(collection, pkRaw, pk, paths, input) {
  const type = input && input.operationType;
  const body = input && input.resourceBody;
  // A document written in a batch must belong to the batch's partition.
  const checkBody = () => {
    if (!body || typeof body !== "object" || Array.isArray(body) || typeof body.id !== "string" || !body.id) {
      return { statusCode: 400, body: { code: "BadRequest", message: "resourceBody with a string id is required" } };
    }
    if (pk.values !== null) {
      for (let i = 0; i < paths.length; i += 1) {
        if (getPath(body, paths[i]) !== pk.values[i]) {
          return {
            statusCode: 400,
            body: { code: "BadRequest", message: "PartitionKey extracted from document doesn't match the one specified in the header" }
          };
        }
      }
    }
    return null;
  };
  const withPK = { ...input, partitionKey: pkRaw };
  switch (type) {
    case "Create":
      return checkBody() || docOps.createOperation(collection, withPK);
    case "Upsert":
      return checkBody() || docOps.upsertOperation(collection, withPK);
    case "Replace": {
      const bad = checkBody();
      if (bad) return bad;
      if (input.id && input.id !== body.id) {
        return { statusCode: 400, body: { code: "BadRequest", message: "replacing id is not allowed" } };
      }
      return docOps.replaceOperation(collection, withPK);
    }
    case "Read":
      return docOps.readOperation(collection, withPK);
    case "Delete":
      return docOps.deleteOperation(collection, withPK);
    case "Patch":
      if (!body || !Array.isArray(body.operations)) {
        return { statusCode: 400, body: { code: "BadRequest", message: "patch operations are required" } };
      }
      return patchOperation(collection, {
        id: input.id,
        partitionKey: pkRaw,
        ifMatch: input.ifMatch,
        operations: body.operations,
        condition: body.condition
      });
    default:
      return { statusCode: 400, body: { code: "BadRequest", message: `operation type ${JSON.stringify(type)} is not supported in a batch` } };
  }
}

function targetId(input) {
  if (!input) return undefined;
  if (typeof input.id === "string" && input.id) return input.id;
  const b = input.resourceBody;
  return b && typeof b.id === "string" ? b.id : undefined;
}

async function batchDocuments(account, req, res, { dbId, collId }) {
  const ops = await readJSON(req);
  const collection = account.database(dbId).collection(collId);
  const meta = collection.read();
  if (!meta) return notFound(res);
  if (!Array.isArray(ops) || ops.length === 0) return badRequest(res, "a batch is a non-empty JSON array of operations");
  if (ops.length > MAX_BATCH_OPS) return badRequest(res, `a batch holds at most ${MAX_BATCH_OPS} operations`);
  const pkRaw = headerValue(req, PK_HEADER);
  const pk = parsePK(pkRaw);
  if (!pk.ok) return badRequest(res, pk.message);
  if (pk.values === null) return badRequest(res, `a batch needs the ${PK_HEADER} header`);
  const paths = pkPaths(meta);
  const atomicHeader = headerValue(req, "x-ms-cosmos-batch-atomic");
  const atomic = !(typeof atomicHeader === "string" && atomicHeader.toLowerCase() === "false");
  const continueOnError = !atomic && isTrueHeader(req, "x-ms-cosmos-batch-continue-on-error");

  // Undo log: the state of every document the batch touches, before its
  // first change (null = did not exist).
  const before = new Map();
  const remember = id => {
    if (id === undefined) return;
    const part = storePartition(pk, id);
    const key = JSON.stringify([part, id]);
    if (!before.has(key)) {
      before.set(key, { id, part, data: collection.document(id, part).read() || null });
    }
  };
  const rollback = () => {
    const entries = [...before.values()].reverse();
    for (const e of entries) {
      if (collection.document(e.id, e.part).read()) collection.documents.delete(e.id, e.part);
    }
    for (const e of entries) {
      if (e.data) collection.documents._set(e.data);
    }
  };

  const results = [];
  let failedAt = -1;
  for (let i = 0; i < ops.length; i += 1) {
    if (failedAt >= 0 && !continueOnError) {
      results.push({ statusCode: 424, requestCharge: 0 });
      continue;
    }
    remember(targetId(ops[i]));
    let result;
    try {
      result = runOperation(collection, pkRaw, pk, paths, ops[i]);
    } catch (err) {
      result = { statusCode: err && err.badRequest ? 400 : 500, body: { message: String(err && err.message) } };
    }
    results.push(opResult(result));
    if (result.statusCode >= 400 && failedAt < 0) failedAt = i;
  }

  if (failedAt < 0) {
    res.statusCode = 200;
    return results;
  }
  if (atomic) {
    rollback();
    for (let i = 0; i < results.length; i += 1) {
      if (i !== failedAt) results[i] = { statusCode: 424, requestCharge: 0 };
    }
  }
  res.statusCode = 207;
  return results;
}

// --- account metadata ----------------------------------------------------

function readMeta(account) {
  const meta = account.read();
  const fix = locs =>
    (locs || []).map(l => ({
      ...l,
      databaseAccountEndpoint: String(l.databaseAccountEndpoint || "").replace(/^https?:/, `${scheme}:`)
    }));
  return { ...meta, writableLocations: fix(meta.writableLocations), readableLocations: fix(meta.readableLocations) };
}

// Install the replacements before routes.js captures the handlers.
load("handler/read-document").default = readDocument;
load("handler/batch-documents").default = batchDocuments;
load("handler/read-meta").default = readMeta;

const emu = load("index");

let server;
if (opts.ssl && opts.cert) {
  server = emu.createHttpsServer({
    keepAlive: true,
    cert: fs.readFileSync(opts.cert),
    key: fs.readFileSync(opts.key)
  });
} else if (opts.ssl) {
  server = emu.createHttpsServer({ keepAlive: true });
} else {
  server = emu.createHttpServer({ keepAlive: true });
}

server.on("error", err => {
  process.stderr.write(`cosmos-emu: listen error ${err.code || "?"}: ${err.message}\n`);
  process.exit(1);
});

server.listen(opts.port, opts.host, () => {
  const addr = server.address();
  const host = addr.family === "IPv6" || addr.family === 6 ? `[${addr.address}]` : addr.address;
  process.stdout.write(`cosmos-emu ready ${scheme}://${host}:${addr.port}/\n`);
});

let stopping = false;
function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`cosmos-emu: ${signal}, shutting down\n`);
  server.close(() => process.exit(0));
  if (typeof server.closeAllConnections === "function") server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", () => shutdown("SIGTERM"));
process.on("SIGINT", () => shutdown("SIGINT"));
