'use strict';
// The request/response operations of an entity's $management node, as
// azservicebus sends them (application property "operation", a map body)
// and reads their replies (status-code, a map body with the exact AMQP
// types it asserts).

const rhea = require('rhea');
const codec = require('./codec.js');

const types = rhea.types;
const LONG = 0x81;
const TIMESTAMP = 0x83;

function reply(status, description, body, condition) {
    return { status, description, body, condition };
}

function ok(body) {
    return reply(200, 'OK', body);
}

function bad(description) {
    return reply(400, description, undefined, 'amqp:invalid-field');
}

function lockLost(description) {
    return reply(410, description, undefined, 'com.microsoft:message-lock-lost');
}

function notFound(description) {
    return reply(404, description, undefined, 'com.microsoft:message-not-found');
}

// toNumber accepts the integer encodings a client may use for a sequence
// number (rhea decodes longs beyond 2^53 as Buffers, which are refused).
function toNumber(v) {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    return NaN;
}

function seqList(v) {
    if (!Array.isArray(v)) return null;
    const out = v.map(toNumber);
    return out.some(Number.isNaN) ? null : out;
}

function tokenList(v) {
    if (!Array.isArray(v)) return null;
    if (!v.every((t) => Buffer.isBuffer(t) && t.length === 16)) return null;
    return v.map((t) => t.toString('hex'));
}

function encodedList(msgs, entity, peek) {
    return { messages: msgs.map((m) => ({ message: entity.encodeMessage(m, peek) })) };
}

const operations = {
    // peek-message {from-sequence-number: long, message-count: int} →
    // 200 {messages: [{message: binary}]} or 204 when there is none.
    'com.microsoft:peek-message'(entity, body) {
        const from = toNumber(body['from-sequence-number']);
        const count = toNumber(body['message-count']);
        if (Number.isNaN(from) || Number.isNaN(count) || count < 1) return bad('from-sequence-number and a positive message-count are required');
        const msgs = entity.peek(from, count);
        if (!msgs.length) return reply(204, 'No messages');
        return ok(encodedList(msgs, entity, true));
    },

    // renew-lock {lock-tokens: uuid[]} → {expirations: timestamp[]}; 410
    // lock lost when any token has no live lock.
    'com.microsoft:renew-lock'(entity, body, now) {
        const tokens = tokenList(body['lock-tokens']);
        if (!tokens) return bad('lock-tokens must be an array of uuid');
        const until = [];
        for (const t of tokens) {
            const u = entity.renew(t, now);
            if (u === null) return lockLost('The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
            until.push(u);
        }
        return ok({ expirations: types.wrap_array(until, TIMESTAMP) });
    },

    // schedule-message {messages: [{message: binary, message-id, …}]} →
    // {sequence-numbers: long[]}. A message-id the queue has seen within its
    // duplicate detection window returns the first message's number.
    'com.microsoft:schedule-message'(entity, body, now) {
        if (entity.isDlq) return reply(400, 'Cannot schedule messages on a dead-letter queue', undefined, 'amqp:not-allowed');
        const list = body.messages;
        if (!Array.isArray(list) || !list.length) return bad('messages must be a non-empty list');
        const recs = [];
        for (const item of list) {
            if (!item || !Buffer.isBuffer(item.message)) return bad('each scheduled message needs an encoded message');
            let rec;
            try {
                rec = codec.parse(item.message);
            } catch (e) {
                return bad(`malformed scheduled message: ${e.message}`);
            }
            if (rec.scheduledEnqueueTime === null) return bad('a scheduled message needs x-opt-scheduled-enqueue-time');
            recs.push(rec);
        }
        const seqs = recs.map((rec) => entity.send(rec, now).seq);
        return ok({ 'sequence-numbers': types.wrap_array(seqs, LONG) });
    },

    // cancel-scheduled-message {sequence-numbers: long[]} → 200; 404
    // com.microsoft:message-not-found "Messages not found. Missing sequence
    // numbers: …" (Azure's text) when a number is not a scheduled message
    // (already enqueued, cancelled or unknown); nothing is cancelled then.
    'com.microsoft:cancel-scheduled-message'(entity, body) {
        const seqs = seqList(body['sequence-numbers']);
        if (!seqs) return bad('sequence-numbers must be an array of long');
        const missing = entity.cancel(seqs);
        if (missing.length) return notFound(`Messages not found. Missing sequence numbers: ${missing.join(', ')}`);
        return ok({});
    },

    // update-disposition {disposition-status, lock-tokens, deadletter-*}:
    // settles by lock token (messages received on a link that is gone, and
    // deferred messages).
    'com.microsoft:update-disposition'(entity, body, now) {
        const tokens = tokenList(body['lock-tokens']);
        if (!tokens) return bad('lock-tokens must be an array of uuid');
        const outcome = {
            completed: 'complete', abandoned: 'abandon', suspended: 'deadletter', defered: 'defer', deferred: 'defer',
        }[body['disposition-status']];
        if (!outcome) return bad(`unknown disposition-status ${JSON.stringify(body['disposition-status'])}`);
        const info = { reason: body['deadletter-reason'], description: body['deadletter-description'] };
        for (const t of tokens) {
            if (!entity.settle(t, outcome, info, now)) {
                return lockLost('The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.');
            }
        }
        return ok({});
    },

    // receive-by-sequence-number {sequence-numbers, receiver-settle-mode}
    // → {messages: [{message, lock-token}]} for deferred messages.
    'com.microsoft:receive-by-sequence-number'(entity, body, now) {
        const seqs = seqList(body['sequence-numbers']);
        if (!seqs) return bad('sequence-numbers must be an array of long');
        const peekLock = body['receiver-settle-mode'] !== 0;
        let msgs;
        try {
            msgs = entity.takeDeferred(seqs, peekLock, now);
        } catch (e) {
            if (e && e.notFound !== undefined) return notFound(`Failed to lock one or more specified messages. The message with sequence number ${e.notFound} was not found or is not deferred.`);
            throw e;
        }
        return ok({
            messages: msgs.map((m) => {
                const item = { message: entity.encodeMessage(m, false) };
                if (m.lock) item['lock-token'] = types.wrap_uuid(m.lock.token);
                return item;
            }),
        });
    },
};

// handle runs one request (a decoded rhea message) against entity and
// returns {status, description, body, condition}.
function handle(entity, request, now) {
    const props = request.application_properties || {};
    const op = props.operation;
    const fn = operations[op];
    if (!fn) return reply(501, `The operation ${JSON.stringify(op)} is not supported by this Service Bus peer.`, undefined, 'amqp:not-implemented');
    const body = request.body && typeof request.body === 'object' && !Buffer.isBuffer(request.body) ? request.body : {};
    return fn(entity, body, now);
}

module.exports = { handle };
