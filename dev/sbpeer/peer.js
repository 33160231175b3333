#!/usr/bin/env node
'use strict';
// sbpeer: a local AMQP 1.0 peer that serves Service Bus queues to
// azservicebus, for tests and local development (never deployed). See
// README.md for what it serves and what of Service Bus it does not do.
//
// Usage: node dev/sbpeer/peer.js [--port N] [--topology FILE] [--state FILE]
//   --port      TCP port on 127.0.0.1; 0 (default) picks a free one
//   --topology  queues to serve (default: topology.json beside this file)
//   --state     persistence file: a JSON snapshot rewritten after every
//               change and loaded at start, so a restarted peer keeps its
//               messages, locks and duplicate-detection history; without
//               it everything is in memory and lost on exit
// Prints "sbpeer ready amqp://127.0.0.1:PORT" once it accepts connections.

const fs = require('fs');
const path = require('path');
const topology = require('./lib/topology.js');
const { Store } = require('./lib/store.js');
const { Server } = require('./lib/amqp.js');

// How often scheduled messages, lock expiry, TTL and the duplicate
// detection window are checked (ms).
const TICK_MS = 50;

function parseArgs(argv) {
    const o = { port: 0, topology: path.join(__dirname, 'topology.json'), state: '' };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const v = argv[i + 1];
        if (a === '--port' && v !== undefined) { o.port = Number(v); i++; }
        else if (a === '--topology' && v !== undefined) { o.topology = v; i++; }
        else if (a === '--state' && v !== undefined) { o.state = v; i++; }
        else throw new Error(`unknown or incomplete argument ${JSON.stringify(a)}`);
    }
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new Error(`--port: ${o.port} is not a port`);
    return o;
}

function writeState(file, store) {
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(store.snapshot()));
    fs.renameSync(tmp, file);
}

async function main() {
    const opts = parseArgs(process.argv.slice(2));
    const topo = topology.load(opts.topology);
    let store;
    store = new Store(topo, opts.state ? () => writeState(opts.state, store) : undefined);
    if (opts.state && fs.existsSync(opts.state)) {
        const dropped = store.restore(JSON.parse(fs.readFileSync(opts.state, 'utf8')));
        if (dropped.length) console.log(`sbpeer: state of queues no longer in the topology ignored: ${dropped.join(', ')}`);
    }
    const log = (line) => console.log(`sbpeer: ${line}`);
    const server = new Server(store, log);
    const port = await server.listen('127.0.0.1', opts.port);
    setInterval(() => store.tick(Date.now()), TICK_MS);
    const names = [...topo.queues.values()].map((q) => q.name).join(', ');
    console.log(`sbpeer serving queues: ${names}${opts.state ? ` (state in ${opts.state})` : ' (in memory)'}`);
    console.log(`sbpeer ready amqp://127.0.0.1:${port}`);
    const stop = () => { server.close(); process.exit(0); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
}

main().catch((e) => {
    if (e && e.code === 'EADDRINUSE') console.error(`sbpeer: EADDRINUSE: ${e.message}`);
    else console.error(`sbpeer: ${e && e.message ? e.message : e}`);
    process.exit(1);
});
