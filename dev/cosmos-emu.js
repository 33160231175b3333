#!/usr/bin/env node
// cosmos-emu.js: profileflow's launcher for the @vercel/cosmosdb-server
// Cosmos DB stand-in (local development and tests only; never deployed).
//
// It swaps request handlers of the stock server before its route table is
// built, then starts the server. It behaves like Azure Cosmos DB (NoSQL API,
// gateway mode, as azcosmos uses it) where profileflow depends on it:
//   - read document: a missing item gives 404 NotFound (stock: 500, because it
//     dereferences the missing document);
//   - transactional batch: the partition key comes from the
//     x-ms-documentdb-partitionkey header (the SDKs send it there, not per
//     operation), Patch is supported, and atomic batches are all-or-nothing:
//     on the first failing operation every earlier change is undone and the
//     reply is 207 Multi-Status with that operation's status and 424 Failed
//     Dependency for all the others;
//   - queries over all partitions (no partition key header) that need state
//     across pages, i.e. TOP, ORDER BY, OFFSET LIMIT, aggregates (COUNT, SUM,
//     MIN, MAX, AVG, MakeList, MakeSet), DISTINCT or GROUP BY in the outer
//     query or a FROM subquery, answer 400 {"code":"BadRequest","message":
//     "The provided cross partition query can not be directly served by the
//     gateway. …","additionalErrorInfo":"<query plan>"} with x-ms-substatus
//     1004, as Azure's gateway does (keywords are found outside string
//     literals and property accessors, case-insensitively; correlated
//     subqueries such as ARRAY(SELECT …) and EXISTS(SELECT …) do not count);
//     a query whose WHERE fixes the partition key to one value (c.pk = 'x'
//     AND …) is routed to that partition and served whole, as Azure does;
//     filters and projections are served with paging (x-ms-max-item-count,
//     x-ms-continuation). Without the partition key header and without
//     x-ms-documentdb-query-enablecrosspartition: true, a query that does not
//     filter on the partition key is 400 "Cross partition query is required
//     but disabled";
//   - a query with a partition key header sees only that partition (matched
//     on the container's partitionKey paths; {} in the header = path absent);
//   - time to live: in a container with defaultTtl (-1 = on, no default) an
//     item expires _ts + ttl seconds after its last write (its own ttl, else
//     the default; -1 = never); expired items are purged before every request
//     on their container's documents (so reads, queries, replace, patch and
//     delete answer as if absent, and the id is free again) and by a sweep
//     every second. A container without defaultTtl ignores item ttl;
//   - session tokens: every successful document response carries
//     x-ms-session-token "0:-1#<lsn>" (one partition key range, "0"); the
//     container's lsn rises with every successful write;
//   - account metadata: endpoints carry the scheme actually served (http with
//     --no-ssl; stock always says https);
//   - test hook (only here, never in Azure): POST /_test/faults
//     {"status":429,"count":N,"retryAfterMs":M,"substatus":"3200","match":"/colls/x/","method":"PUT"}
//     makes the next N requests whose path contains match (default "/dbs/")
//     and, when method is given, whose HTTP method it is (PUT = replace),
//     answer status with Azure's error body ({"code":"TooManyRequests",
//     "PreconditionFailed" or "ServiceUnavailable" …,"message":…}), x-ms-retry-after-ms and
//     x-ms-substatus (3200 by default for 429); GET /_test/faults returns
//     {"status","remaining","served"}; DELETE /_test/faults clears.
//     GET /_test/ops counts the document operations answered since the
//     last DELETE /_test/ops, by container and outcome:
//     {"<container>":{"read":n,"readMissing":n,"write":n,"writeRefused":n,"query":n}}
//     (write = create, replace, upsert or delete answered 2xx; writeRefused
//     = answered 4xx, e.g. a 412 on a stale ETag or a 409 on a duplicate id).
// Not like Azure: authentication is not checked; there is one partition key
// range; single-partition OFFSET LIMIT, GROUP BY, DISTINCT and LIKE do not
// parse (the stock query engine, @zeit/cosmosdb-query); an item's ttl is not
// validated; request charges are always 1.
//
// Usage: node dev/cosmos-emu.js [--host 127.0.0.1] [--port 8081] [--no-ssl]
//                               [--cert cert.pem --key key.pem]
// Prints one line "cosmos-emu ready <endpoint>" on stdout when listening and
// exits with status 0 on SIGTERM or SIGINT. A listen error (e.g. EADDRINUSE)
// is printed as "cosmos-emu: listen error CODE: message" and exits with 1.
"use strict";

const crypto = require("crypto");
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

// parsePKValues parses the partition key header, a JSON array of key values
// (a bare value counts as one): {ok, values} with values null when the
// header is absent, or {ok:false, message}.
function parsePKValues(raw) {
  if (raw === undefined || raw === "") return { ok: true, values: null };
  let v;
  try {
    v = JSON.parse(raw);
  } catch (_) {
    return { ok: false, message: `malformed ${PK_HEADER} header` };
  }
  return { ok: true, values: Array.isArray(v) ? v : [v] };
}

// parsePK parses the partition key header of a document operation:
// "[{}]" / "[]" mean "none".
function parsePK(raw) {
  const pk = parsePKValues(raw);
  if (!pk.ok || pk.values === null) return pk;
  const v = pk.values;
  if (v.length === 0 || (v.length === 1 && v[0] !== null && typeof v[0] === "object")) {
    return { ok: true, values: null };
  }
  return pk;
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

// --- gateway query rules --------------------------------------------------

// Azure's gateway serves a query over all partitions only when it needs no
// state across pages: filters and projections. TOP, ORDER BY, OFFSET LIMIT,
// aggregates, DISTINCT and GROUP BY are refused with 400 BadRequest and
// substatus 1004 (CrossPartitionQueryNotServable); SDKs with a query engine
// then fetch a query plan, the Go SDK (azcosmos v1.5.0) has none and returns
// the error. Source: "Queries that cannot be served by gateway" in the Cosmos
// DB REST API documentation, and azcosmos's emulator test
// TestCrossPartitionQueryFailsIfGatewayCannotSatisfyRequest.
const SUBSTATUS_CROSS_PARTITION_NOT_SERVABLE = "1004";
const GATEWAY_REFUSAL =
  "The provided cross partition query can not be directly served by the gateway. " +
  "This is a first chance (internal) exception that all newer clients will know how to handle gracefully. " +
  "This exception is traced, but unless you see it bubble up as an exception (which only happens on older SDK clients), " +
  "then you can safely ignore this message.";
const CROSS_PARTITION_DISABLED =
  "Cross partition query is required but disabled. Please set x-ms-documentdb-query-enablecrosspartition to true, " +
  "specify x-ms-documentdb-partitionkey, or revise your query to avoid this exception.";

const AGGREGATES = new Set(["count", "sum", "min", "max", "avg", "makelist", "makeset"]);

// tokenize splits Cosmos SQL into identifiers/keywords, parameters, numbers
// and single punctuation characters; string literals ('…' or "…", with
// backslash escapes) and -- comments are dropped, so keywords inside them
// are never seen.
function tokenize(sql) {
  const out = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i];
    if (/\s/.test(ch)) {
      i += 1;
    } else if (ch === "'" || ch === '"') {
      i += 1;
      while (i < sql.length && sql[i] !== ch) i += sql[i] === "\\" ? 2 : 1;
      i += 1;
      out.push({ t: "str" });
    } else if (ch === "-" && sql[i + 1] === "-") {
      while (i < sql.length && sql[i] !== "\n") i += 1;
    } else if (/[A-Za-z_@$]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_$]/.test(sql[j])) j += 1;
      out.push({ t: ch === "@" ? "param" : "ident", v: sql.slice(i, j).toLowerCase() });
      i = j;
    } else if (/[0-9]/.test(ch)) {
      let j = i + 1;
      while (j < sql.length && /[0-9.eExX]/.test(sql[j])) j += 1;
      out.push({ t: "num" });
      i = j;
    } else {
      out.push({ t: "punct", v: ch });
      i += 1;
    }
  }
  return out;
}

// gatewayUnservable returns the features of sql's outer query that need
// state across pages (empty when the gateway can serve it across
// partitions). Correlated subqueries (ARRAY(SELECT …), EXISTS(SELECT …),
// JOIN … IN (SELECT …)) are evaluated per document and do not count; a
// subquery that is the FROM source does. Property names (c.top, c["order"])
// are not keywords.
function gatewayUnservable(sql) {
  const toks = tokenize(sql);
  const found = new Set();
  // Stack of open parentheses: true when the parenthesis opens a subquery
  // that does not count (its contents are per document).
  const parens = [];
  let inner = 0; // number of open non-counting subqueries
  for (let k = 0; k < toks.length; k += 1) {
    const tok = toks[k];
    const prev = toks[k - 1];
    const next = toks[k + 1];
    if (tok.t === "punct" && tok.v === "(") {
      const isSub = next && next.t === "ident" && next.v === "select";
      const fromSource = prev && prev.t === "ident" && prev.v === "from";
      const skip = isSub && !fromSource;
      parens.push(skip);
      if (skip) inner += 1;
      continue;
    }
    if (tok.t === "punct" && tok.v === ")") {
      if (parens.pop()) inner -= 1;
      continue;
    }
    if (inner > 0 || tok.t !== "ident") continue;
    if (prev && prev.t === "punct" && prev.v === ".") continue; // property or udf.name
    const nextIs = v => next && next.t === "ident" && next.v === v;
    switch (tok.v) {
      case "top":
        found.add("TOP");
        break;
      case "distinct":
        found.add("DISTINCT");
        break;
      case "offset":
        found.add("OFFSET LIMIT");
        break;
      case "order":
        if (nextIs("by")) found.add("ORDER BY");
        break;
      case "group":
        if (nextIs("by")) found.add("GROUP BY");
        break;
      default:
        if (AGGREGATES.has(tok.v) && next && next.t === "punct" && next.v === "(") {
          found.add(`aggregate ${tok.v.toUpperCase()}`);
        }
    }
  }
  return [...found];
}

// pinsOnePartition reports whether sql's WHERE clause fixes every
// partition key path to one value (a top-level AND of `alias.path = constant
// or @parameter`); the gateway then routes the query to that one partition
// and serves it whole, ORDER BY and TOP included (azcosmos's emulator test
// TestSinglePartitionQueryInline relies on it). A query the stock parser
// cannot read counts as not pinned.
function pinsOnePartition(sql, paths) {
  let ast;
  try {
    ast = cosmosQuery(sql).ast;
  } catch (_) {
    return false;
  }
  const body = ast && ast.body;
  if (!body || !body.where || !paths.length) return false;
  const alias = (() => {
    const src = body.from && body.from.source;
    if (!src) return null;
    if (src.alias) return src.alias.name;
    const e = src.expression && src.expression.expression;
    return e && e.type === "identifier" ? e.name : null;
  })();
  const pathOf = node => {
    const segs = [];
    let n = node;
    while (n && n.type === "scalar_member_expression") {
      const p = n.property;
      if (p.type === "identifier" && !n.computed) segs.unshift(p.name);
      else if (p.type === "string_constant") segs.unshift(p.value);
      else return null;
      n = n.object;
    }
    return n && n.type === "identifier" && n.name === alias && segs.length ? segs.join("/") : null;
  };
  const isValue = n => n && /^(string|number|boolean|null)_constant$|^parameter_name$/.test(n.type);
  const pinned = new Set();
  const walk = n => {
    if (!n || n.type !== "scalar_binary_expression") return;
    if (n.operator === "AND") {
      walk(n.left);
      walk(n.right);
    } else if (n.operator === "=") {
      const p = isValue(n.right) ? pathOf(n.left) : isValue(n.left) ? pathOf(n.right) : null;
      if (p) pinned.add(p);
    }
  };
  walk(body.where.condition);
  return paths.every(segs => pinned.has(segs.join("/")));
}

// queryInfo is the partitioned query execution info Azure attaches to a
// refused query (additionalErrorInfo), reduced to the features found.
function queryInfo(features) {
  const has = f => features.some(x => x === f || x.startsWith(`${f} `));
  return JSON.stringify({
    partitionedQueryExecutionInfoVersion: 2,
    queryInfo: {
      distinctType: has("DISTINCT") ? "Unordered" : "None",
      hasTop: has("TOP"),
      hasOrderBy: has("ORDER BY"),
      hasOffset: has("OFFSET LIMIT"),
      hasGroupBy: has("GROUP BY"),
      aggregates: features.filter(f => f.startsWith("aggregate ")).map(f => f.slice(10)),
      hasSelectValue: false
    },
    queryRanges: [{ min: "", max: "FF", isMinInclusive: true, isMaxInclusive: false }]
  });
}

// --- partition scoping ---------------------------------------------------

// queryPartition parses the partition key header of a query: null = none
// (the query runs over all partitions), otherwise one matcher per key path
// ({} in the header = the path is absent from the document).
function queryPartition(raw) {
  const pk = parsePKValues(raw);
  if (pk.ok && pk.values !== null && pk.values.length === 0) return { ok: true, values: null };
  return pk;
}

function inPartition(doc, paths, values) {
  for (let i = 0; i < values.length && i < paths.length; i += 1) {
    const want = values[i];
    const got = getPath(doc, paths[i]);
    if (want !== null && typeof want === "object") {
      if (got !== undefined) return false;
    } else if (got !== want) {
      return false;
    }
  }
  return true;
}

// --- time to live -----------------------------------------------------------

// expiresAt returns when doc expires, in Unix seconds (Infinity = never),
// by Azure's rules: TTL is on only when the container has defaultTtl
// (-1 = on, no default); the item's own ttl (seconds) then overrides the
// default, -1 meaning never; expiry is _ts (last write, seconds) + ttl.
// Without defaultTtl an item's ttl is ignored.
function expiresAt(meta, doc) {
  const def = meta && meta.defaultTtl;
  if (typeof def !== "number") return Infinity;
  let ttl = def;
  if (doc && typeof doc.ttl === "number") ttl = doc.ttl;
  if (!(ttl > 0) || typeof doc._ts !== "number") return Infinity;
  return doc._ts + ttl;
}

function nowSeconds() {
  return Date.now() / 1000;
}

// purgeExpired deletes the collection's expired documents. It runs before
// every document request on the collection (so expired items are never
// read, queried, replaced or patched) and from the periodic sweep.
function purgeExpired(collection) {
  const meta = collection && collection.read();
  if (!meta || typeof meta.defaultTtl !== "number") return 0;
  const docs = collection.documents;
  const now = nowSeconds();
  let n = 0;
  for (const item of [...docs._data.values()]) {
    const d = item.read();
    if (d && now >= expiresAt(meta, d)) {
      try {
        docs.delete(d.id, docs._getPartition(d));
        n += 1;
      } catch (_) {
        // already gone
      }
    }
  }
  return n;
}

let knownAccount = null;
const SWEEP_MS = 1000;

function sweepAll() {
  if (!knownAccount) return;
  for (const db of knownAccount.databases._data.values()) {
    if (!db.collections) continue;
    for (const coll of db.collections._data.values()) purgeExpired(coll);
  }
}

// --- query documents ---------------------------------------------------------

const readItems = load("handler/_read-items").default;
const cosmosQuery = require(require.resolve("@zeit/cosmosdb-query", { paths: [lib] })).default;

async function queryDocuments(account, req, res, { dbId, collId }) {
  return readItems(req, res, "Documents", async ({ continuation, maxItemCount }) => {
    const body = await readJSON(req);
    if (!body || typeof body.query !== "string" || !body.query.trim()) {
      return badRequest(res, "missing query");
    }
    const collection = account.database(dbId).collection(collId);
    const meta = collection.read();
    if (!meta) return null; // 404
    const pk = queryPartition(headerValue(req, PK_HEADER));
    if (!pk.ok) return badRequest(res, pk.message);
    const paths = pkPaths(meta);
    if (pk.values === null) {
      if (!isTrueHeader(req, "x-ms-documentdb-query-enablecrosspartition")) {
        const declared = ((meta.partitionKey || {}).paths || []);
        if (declared.length && !cosmosQuery(body.query).containsPartitionKeys(declared)) {
          return badRequest(res, CROSS_PARTITION_DISABLED);
        }
      } else {
        const features = gatewayUnservable(body.query);
        if (features.length && !pinsOnePartition(body.query, paths)) {
          res.setHeader("x-ms-substatus", SUBSTATUS_CROSS_PARTITION_NOT_SERVABLE);
          const out = badRequest(res, GATEWAY_REFUSAL);
          out.additionalErrorInfo = queryInfo(features);
          return out;
        }
      }
    }
    const docs = collection.documents;
    let data = [...docs._data.values()].map(item => item.read()).filter(Boolean);
    if (pk.values !== null) data = data.filter(d => inPartition(d, paths, pk.values));
    const q = docs._getQuery(body.query);
    try {
      return q.exec(data, {
        parameters: body.parameters,
        udf: docs._userDefinedFunctions(),
        maxItemCount,
        continuation,
        compositeIndexes: ((meta.indexingPolicy || {}).compositeIndexes) || []
      });
    } catch (err) {
      return badRequest(res, String(err && err.message));
    }
  });
}

// --- session tokens ----------------------------------------------------------

// Every document response carries x-ms-session-token "0:-1#<lsn>" (the one
// partition key range "0", the format Azure's gateway returns): the
// collection's log sequence number, which every successful write raises.
const lsns = new Map(); // collection _rid → lsn

function sessionToken(meta, write) {
  const key = meta._rid;
  let lsn = lsns.get(key) || 1;
  if (write) lsn += 1;
  lsns.set(key, lsn);
  return `0:-1#${lsn}`;
}

// documentRoute wraps a handler of /dbs/:dbId/colls/:collId/docs[...]:
// expired documents are purged first, and the reply gets a session token.
function documentRoute(handler, write) {
  return async (account, req, res, params) => {
    knownAccount = account;
    const collection = account.database(params.dbId).collection(params.collId);
    purgeExpired(collection);
    const body = await handler(account, req, res, params);
    const meta = collection.read();
    if (meta && res.statusCode < 400) {
      res.setHeader("x-ms-session-token", sessionToken(meta, write && res.statusCode < 300));
    }
    return body;
  };
}

// --- injected faults (test hook) ---------------------------------------------

// POST /_test/faults {"status":429|503|…, "count":N, "retryAfterMs":M,
// "substatus":S, "match":"text", "method":"PUT"} makes the next N requests
// whose path contains match (default "/dbs/"), and whose HTTP method is
// method when one is given, answer status with Azure's error body,
// x-ms-retry-after-ms (when given) and x-ms-substatus (429 default 3200,
// RU budget exceeded). GET /_test/faults returns
// {"status","remaining","served"}; DELETE clears. Only the stand-in has it.
const faults = { status: 0, remaining: 0, served: 0, retryAfterMs: 0, substatus: "", match: "/dbs/", method: "" };

const FAULT_BODIES = {
  408: ["RequestTimeout", "Request timed out."],
  429: [
    "TooManyRequests",
    'Message: {"Errors":["Request rate is large. More Request Units may be needed, so no changes were made. Please retry this request later. Learn more: http://aka.ms/cosmosdb-error-429"]}'
  ],
  412: ["PreconditionFailed", "Operation cannot be performed because one of the specified precondition is not met."],
  449: ["RetryWith", "Conflicting request to resource has been attempted. Retry to avoid conflicts."],
  500: ["InternalServerError", "An unknown error occurred while processing this request."],
  503: [
    "ServiceUnavailable",
    'Message: {"Errors":["The request failed because the client was unable to establish connections to the required number of replicas. Learn more: https://aka.ms/cosmosdb-tsg-service-unavailable"]}'
  ]
};

function sendJSON(res, status, body, headers = {}) {
  res.statusCode = status;
  res.setHeader("content-type", "application/json");
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.end(JSON.stringify(body));
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", c => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

// --- operation counts (test hook) ---------------------------------------------

let ops = {};

// countOp records the outcome of one document request once it is answered.
function countOp(req, res, pathname) {
  const m = pathname.match(/^\/dbs\/[^/]+\/colls\/([^/]+)\/docs(\/[^/]+)?\/?$/);
  if (!m) return;
  res.on("finish", () => {
    const c = (ops[m[1]] = ops[m[1]] || { read: 0, readMissing: 0, write: 0, writeRefused: 0, query: 0 });
    const isQuery = req.method === "POST" && isTrueHeader(req, "x-ms-documentdb-isquery");
    if (isQuery) c.query += 1;
    else if (req.method === "GET" && m[2]) c[res.statusCode < 300 ? "read" : "readMissing"] += 1;
    else if (req.method !== "GET") c[res.statusCode < 300 ? "write" : "writeRefused"] += 1;
  });
}

async function testEndpoint(req, res, pathname) {
  if (pathname === "/_test/ops") {
    await readBody(req);
    if (req.method === "DELETE") ops = {};
    else if (req.method !== "GET") return sendJSON(res, 405, { code: "MethodNotAllowed", message: "GET or DELETE" });
    return sendJSON(res, 200, ops);
  }
  if (pathname !== "/_test/faults") return sendJSON(res, 404, { code: "NotFound", message: "no such test endpoint" });
  const state = () => ({ status: faults.status, remaining: faults.remaining, served: faults.served });
  if (req.method === "GET") return sendJSON(res, 200, state());
  if (req.method === "DELETE") {
    await readBody(req);
    faults.remaining = 0;
    return sendJSON(res, 200, state());
  }
  if (req.method !== "POST") return sendJSON(res, 405, { code: "MethodNotAllowed", message: "GET, POST or DELETE" });
  let f;
  try {
    f = JSON.parse(await readBody(req));
  } catch (_) {
    return sendJSON(res, 400, { code: "BadRequest", message: "body must be JSON" });
  }
  const status = Number(f && f.status);
  const count = Number(f && f.count);
  const retryAfterMs = f && f.retryAfterMs !== undefined ? Number(f.retryAfterMs) : 0;
  if (!Number.isInteger(status) || status < 400 || status > 599) {
    return sendJSON(res, 400, { code: "BadRequest", message: "status must be an HTTP error status (400-599)" });
  }
  if (!Number.isInteger(count) || count < 0) {
    return sendJSON(res, 400, { code: "BadRequest", message: "count must be a non-negative integer" });
  }
  if (!Number.isFinite(retryAfterMs) || retryAfterMs < 0) {
    return sendJSON(res, 400, { code: "BadRequest", message: "retryAfterMs must be a non-negative number" });
  }
  if (f.match !== undefined && typeof f.match !== "string") {
    return sendJSON(res, 400, { code: "BadRequest", message: "match must be a string" });
  }
  if (f.method !== undefined && (typeof f.method !== "string" || !/^[A-Z]+$/.test(f.method))) {
    return sendJSON(res, 400, { code: "BadRequest", message: "method must be an upper-case HTTP method" });
  }
  Object.assign(faults, {
    status,
    remaining: count,
    served: 0,
    retryAfterMs,
    substatus: f.substatus !== undefined ? String(f.substatus) : status === 429 ? "3200" : "",
    match: f.match || "/dbs/",
    method: f.method || ""
  });
  return sendJSON(res, 200, state());
}

// intercept answers /_test/ requests and injected faults; it returns false
// for requests the Cosmos server should handle.
function intercept(req, res) {
  const pathname = (req.url || "").split("?")[0];
  if (pathname.startsWith("/_test/")) {
    testEndpoint(req, res, pathname).catch(err => sendJSON(res, 500, { code: "InternalServerError", message: String(err) }));
    return true;
  }
  countOp(req, res, pathname);
  if (faults.remaining <= 0 || !pathname.includes(faults.match) || (faults.method && req.method !== faults.method)) return false;
  faults.remaining -= 1;
  faults.served += 1;
  const [code, message] = FAULT_BODIES[faults.status] || [String(faults.status), "Injected fault."];
  const headers = {
    "x-ms-activity-id": crypto.randomUUID(),
    "x-ms-request-charge": "0",
    connection: "keep-alive"
  };
  if (faults.retryAfterMs > 0) headers["x-ms-retry-after-ms"] = String(faults.retryAfterMs);
  if (faults.substatus) headers["x-ms-substatus"] = faults.substatus;
  req.resume();
  req.on("end", () => sendJSON(res, faults.status || 500, { code, message }, headers));
  return true;
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
load("handler/query-documents").default = queryDocuments;
for (const [name, write] of [
  ["read-document", false],
  ["read-documents", false],
  ["query-documents", false],
  ["create-document", true],
  ["upsert-document", true],
  ["replace-document", true],
  ["delete-document", true],
  ["patch-document", true],
  ["batch-documents", true]
]) {
  const mod = load(`handler/${name}`);
  mod.default = documentRoute(mod.default, write);
}

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

// The test hook and injected faults answer before the Cosmos server.
const serve = server.listeners("request");
server.removeAllListeners("request");
server.on("request", (req, res) => {
  if (intercept(req, res)) return;
  for (const l of serve) l.call(server, req, res);
});

setInterval(sweepAll, SWEEP_MS).unref();

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
