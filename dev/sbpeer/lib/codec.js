'use strict';
// AMQP 1.0 message encoding as Service Bus uses it: splitting received
// messages into their sections (the bare message is stored byte for byte),
// unpacking batches, and encoding deliveries with the broker's annotations
// in the exact types azservicebus expects.

const crypto = require('crypto');
const rhea = require('rhea');
const message = require('rhea/lib/message.js');

const types = rhea.types;

// Section descriptors (AMQP 1.0 §3.2).
const HEADER = 0x70;
const DELIVERY_ANNOTATIONS = 0x71;
const MESSAGE_ANNOTATIONS = 0x72;
const PROPERTIES = 0x73;
const APPLICATION_PROPERTIES = 0x74;
const DATA = 0x75;

// Message format of a batch: every data section of the payload is one
// encoded message (Service Bus' "batched message" format).
const BATCH_FORMAT = 0x80013700;

// Annotations only the broker sets; a sender's values are dropped.
const BROKER_ANNOTATIONS = new Set([
    'x-opt-sequence-number', 'x-opt-enqueued-time', 'x-opt-locked-until',
    'x-opt-enqueue-sequence-number', 'x-opt-message-state', 'x-opt-deadletter-source',
    'x-opt-lock-token',
]);

function descriptorOf(section) {
    const d = section.descriptor;
    if (!d) return undefined;
    return typeof d.value === 'number' ? d.value : Number(d.value);
}

// parse splits one encoded message into the record the queue keeps:
//   header      {durable, priority, ttl?, first_acquirer} (ttl in ms)
//   annotations raw message-annotations section or null
//   properties  raw properties section or null
//   appProps    raw application-properties section or null
//   body        raw body sections and footer
//   messageId   message-id as a string (or null), for duplicate detection
//   scheduledEnqueueTime  ms since the epoch, from x-opt-scheduled-enqueue-time, or null
// It throws on bytes that are not a sequence of described sections.
function parse(buf) {
    const reader = new types.Reader(buf);
    const rec = {
        header: { durable: false, priority: 4, first_acquirer: false },
        annotations: null, properties: null, appProps: null,
        messageId: null, scheduledEnqueueTime: null,
    };
    const body = [];
    while (reader.remaining() > 0) {
        const start = reader.position;
        const section = reader.read();
        const raw = buf.subarray(start, reader.position);
        const code = descriptorOf(section);
        switch (code) {
        case HEADER: {
            const h = message.decode(raw);
            rec.header = {
                durable: Boolean(h.durable),
                priority: h.priority === undefined ? 4 : h.priority,
                first_acquirer: Boolean(h.first_acquirer),
            };
            if (h.ttl !== undefined) rec.header.ttl = h.ttl;
            break;
        }
        case DELIVERY_ANNOTATIONS:
            break; // per hop; not kept
        case MESSAGE_ANNOTATIONS: {
            rec.annotations = Buffer.from(raw);
            const a = message.decode(raw).message_annotations || {};
            const t = a['x-opt-scheduled-enqueue-time'];
            if (t instanceof Date) rec.scheduledEnqueueTime = t.getTime();
            else if (typeof t === 'number') rec.scheduledEnqueueTime = t;
            break;
        }
        case PROPERTIES: {
            rec.properties = Buffer.from(raw);
            const id = message.decode(raw).message_id;
            if (id !== undefined && id !== null) {
                rec.messageId = Buffer.isBuffer(id) ? id.toString('hex') : String(id);
            }
            break;
        }
        case APPLICATION_PROPERTIES:
            rec.appProps = Buffer.from(raw);
            break;
        default:
            if (code === undefined || code < DATA || code > 0x78) {
                throw new Error(`not an AMQP message: unexpected section ${code === undefined ? 'without descriptor' : '0x' + code.toString(16)}`);
            }
            body.push(raw);
        }
    }
    rec.body = Buffer.concat(body);
    return rec;
}

// unbatch returns the encoded messages inside a batch payload (format
// 0x80013700): each data section holds one message.
function unbatch(buf) {
    const reader = new types.Reader(buf);
    const out = [];
    while (reader.remaining() > 0) {
        const section = reader.read();
        if (descriptorOf(section) === DATA) out.push(Buffer.from(section.value));
    }
    return out;
}

// typedEntries reads a raw map section into [typedKey, typedValue] pairs,
// keeping every value's AMQP type.
function typedEntries(raw) {
    if (!raw) return [];
    const section = new types.Reader(raw).read();
    const items = section.value || [];
    const pairs = [];
    for (let i = 0; i + 1 < items.length; i += 2) pairs.push([items[i], items[i + 1]]);
    return pairs;
}

function keyOf(typed) {
    return String(typed.value);
}

// wrapValue wraps a plain value as Service Bus types it in properties and
// annotations: strings as string, integers as long, Dates as timestamp.
function wrapValue(v) {
    if (v instanceof Date) return types.wrap_timestamp(v.getTime());
    if (typeof v === 'number' && Number.isInteger(v)) return types.wrap_long(v);
    return types.wrap(v);
}

function mapSection(code, pairs, keyWrap) {
    const items = [];
    for (const [k, v] of pairs) items.push(typeof k === 'string' ? keyWrap(k) : k, v);
    return types.described(types.wrap_ulong(code), types.Map32(items));
}

// withAppProps returns a new raw application-properties section: the old
// entries with the given string-keyed values set (replacing same keys).
function withAppProps(raw, values) {
    const pairs = typedEntries(raw).filter(([k]) => !(keyOf(k) in values));
    for (const [k, v] of Object.entries(values)) pairs.push([k, wrapValue(v)]);
    const w = new types.Writer();
    w.write(mapSection(APPLICATION_PROPERTIES, pairs, types.wrap_string));
    return w.toBuffer();
}

// encode returns the bytes of a message as delivered or peeked: header
// (delivery-count = earlier deliveries), message annotations (the sender's,
// plus broker values typed as azservicebus asserts: long sequence numbers,
// timestamp times, int message state), then the bare message unchanged.
// broker: {sequenceNumber, enqueuedTime, lockedUntil?, scheduledEnqueueTime?,
// state (0 active, 1 deferred, 2 scheduled), deadLetterSource?,
// deliveryCount, lockToken? (Buffer, AMQP uuid order, as delivery annotation)}.
function encode(rec, broker) {
    const w = new types.Writer();
    const header = Object.assign({}, rec.header, { delivery_count: broker.deliveryCount });
    w.write(message.header(header).described());
    if (broker.lockToken) {
        w.write(mapSection(DELIVERY_ANNOTATIONS, [['x-opt-lock-token', types.wrap_uuid(broker.lockToken)]], types.wrap_symbol));
    }
    const pairs = typedEntries(rec.annotations).filter(([k]) => !BROKER_ANNOTATIONS.has(keyOf(k)));
    pairs.push(['x-opt-sequence-number', types.wrap_long(broker.sequenceNumber)]);
    pairs.push(['x-opt-enqueue-sequence-number', types.wrap_long(broker.sequenceNumber)]);
    pairs.push(['x-opt-enqueued-time', types.wrap_timestamp(broker.enqueuedTime)]);
    if (broker.lockedUntil !== undefined) pairs.push(['x-opt-locked-until', types.wrap_timestamp(broker.lockedUntil)]);
    if (broker.state) pairs.push(['x-opt-message-state', types.wrap_int(broker.state)]);
    if (broker.deadLetterSource) pairs.push(['x-opt-deadletter-source', types.wrap_string(broker.deadLetterSource)]);
    w.write(mapSection(MESSAGE_ANNOTATIONS, pairs, types.wrap_symbol));
    const parts = [w.toBuffer()];
    if (rec.properties) parts.push(rec.properties);
    if (rec.appProps) parts.push(rec.appProps);
    parts.push(rec.body);
    return Buffer.concat(parts);
}

// newLockToken returns a random version-4 UUID (16 bytes, RFC 4122 order).
function newLockToken() {
    return crypto.randomUUID ? Buffer.from(crypto.randomUUID().replace(/-/g, ''), 'hex') : crypto.randomBytes(16);
}

// deliveryTag is the lock token in .NET Guid byte order, as Service Bus
// sends it as the delivery tag (azservicebus swaps it back).
function deliveryTag(token) {
    const t = Buffer.from(token);
    t[0] = token[3]; t[1] = token[2]; t[2] = token[1]; t[3] = token[0];
    t[4] = token[5]; t[5] = token[4];
    t[6] = token[7]; t[7] = token[6];
    return t;
}

module.exports = {
    BATCH_FORMAT, parse, unbatch, encode, withAppProps, newLockToken, deliveryTag,
};
