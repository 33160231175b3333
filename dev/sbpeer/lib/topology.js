'use strict';
// The static topology the peer serves: a JSON file
//
//   {"queues": {"<name>": {<queue properties>}, ...}}
//
// Queue properties carry the names and ISO 8601 duration format of the
// Microsoft.ServiceBus/namespaces/queues ARM resource (the same names Bicep
// uses), so a queue can be copied between the topology file and the
// infrastructure template:
//   lockDuration                         duration, default PT1M
//   maxDeliveryCount                     integer ≥ 1, default 10
//   requiresDuplicateDetection           boolean, default false
//   duplicateDetectionHistoryTimeWindow  duration, default PT10M
//   deadLetteringOnMessageExpiration     boolean, default false
//   defaultMessageTimeToLive             duration, default: never expires
// Azure allows lockDuration from PT5S to PT5M; the peer also accepts shorter
// locks (down to 100 ms) so tests of lock expiry run quickly.
// Unknown properties, bad durations and bad names are errors: the peer
// refuses to start rather than serve something other than what was meant.

const fs = require('fs');

const DEFAULTS = {
    lockDuration: 60000,
    maxDeliveryCount: 10,
    requiresDuplicateDetection: false,
    duplicateDetectionHistoryTimeWindow: 600000,
    deadLetteringOnMessageExpiration: false,
    defaultMessageTimeToLive: Infinity,
};

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

// parseDuration turns an ISO 8601 duration of days, hours, minutes and
// seconds (e.g. "PT30S", "P14D", "PT1M30.5S") into milliseconds.
function parseDuration(s, what) {
    const m = typeof s === 'string' ? DURATION.exec(s) : null;
    if (!m || s === 'P' || s.endsWith('T')) {
        throw new Error(`${what}: ${JSON.stringify(s)} is not an ISO 8601 duration like PT30S or P14D`);
    }
    const [d, h, min, sec] = m.slice(1).map((v) => Number(v || 0));
    return Math.round((((d * 24 + h) * 60 + min) * 60 + sec) * 1000);
}

// Queue names: letters, digits, '.', '-', '_', up to 260 characters, starting
// and ending with a letter or digit (Service Bus naming rules, without '/'
// because the peer has no hierarchical names).
const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,258}[A-Za-z0-9])?$/;

function parseQueue(name, raw) {
    const where = `queue ${JSON.stringify(name)}`;
    if (!NAME.test(name)) throw new Error(`${where}: not a valid queue name`);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new Error(`${where}: properties must be an object`);
    }
    const q = { name, ...DEFAULTS };
    for (const [k, v] of Object.entries(raw)) {
        switch (k) {
        case 'lockDuration':
        case 'duplicateDetectionHistoryTimeWindow':
        case 'defaultMessageTimeToLive':
            q[k] = parseDuration(v, `${where}.${k}`);
            if (q[k] <= 0) throw new Error(`${where}.${k}: must be positive`);
            break;
        case 'maxDeliveryCount':
            if (!Number.isInteger(v) || v < 1) throw new Error(`${where}.${k}: must be an integer ≥ 1`);
            q[k] = v;
            break;
        case 'requiresDuplicateDetection':
        case 'deadLetteringOnMessageExpiration':
            if (typeof v !== 'boolean') throw new Error(`${where}.${k}: must be true or false`);
            q[k] = v;
            break;
        default:
            throw new Error(`${where}: unknown property ${JSON.stringify(k)}`);
        }
    }
    if (q.lockDuration < 100 || q.lockDuration > 300000) {
        throw new Error(`${where}.lockDuration: must be between 100 ms and PT5M`);
    }
    return q;
}

// parse validates a topology document and returns {queues: Map name → queue}.
// Names are matched case-insensitively, as Service Bus does.
function parse(doc) {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        throw new Error('topology: the document must be an object {"queues": {...}}');
    }
    for (const k of Object.keys(doc)) {
        if (k !== 'queues') throw new Error(`topology: unknown key ${JSON.stringify(k)} (only "queues" is served)`);
    }
    const queues = new Map();
    const raw = doc.queues || {};
    if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error('topology: "queues" must be an object');
    for (const [name, props] of Object.entries(raw)) {
        const key = name.toLowerCase();
        if (queues.has(key)) throw new Error(`topology: queue ${JSON.stringify(name)} is declared twice`);
        queues.set(key, parseQueue(name, props));
    }
    return { queues };
}

function load(path) {
    let text;
    try {
        text = fs.readFileSync(path, 'utf8');
    } catch (e) {
        throw new Error(`topology: cannot read ${path}: ${e.message}`);
    }
    let doc;
    try {
        doc = JSON.parse(text);
    } catch (e) {
        throw new Error(`topology: ${path} is not JSON: ${e.message}`);
    }
    return parse(doc);
}

module.exports = { load, parse, parseDuration };
