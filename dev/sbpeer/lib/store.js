'use strict';
// The queues' state: messages, sequence numbers, peek-locks, scheduled
// messages, duplicate detection and dead-lettering, with Service Bus'
// semantics. It knows nothing of AMQP links: consumers are objects with
// credit() and deliver(msg) (see amqp.js), and every change is reported to
// an onChange callback (persistence).

const codec = require('./codec.js');

const STATE_ACTIVE = 'active';
const STATE_SCHEDULED = 'scheduled';
const STATE_DEFERRED = 'deferred';
const STATE_CODE = { active: 0, deferred: 1, scheduled: 2 };

// Texts of Azure's own dead-letter reasons (Service Bus dead-letter queue
// documentation, "Application-level dead-lettering" and the system reasons).
const MAX_DELIVERY_REASON = 'MaxDeliveryCountExceeded';
const TTL_REASON = 'TTLExpiredException';
const TTL_DESCRIPTION = 'The message expired and was dead lettered.';

// How often every message's time to live is checked (ms).
const TTL_SCAN_MS = 250;

// Insert n into the ascending array a (no duplicates).
function insertSorted(a, n) {
    let lo = 0; let hi = a.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a[mid] < n) lo = mid + 1; else hi = mid;
    }
    if (a[lo] !== n) a.splice(lo, 0, n);
}

function removeSorted(a, n) {
    let lo = 0; let hi = a.length;
    while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (a[mid] < n) lo = mid + 1; else hi = mid;
    }
    if (a[lo] === n) a.splice(lo, 1);
}

// An Entity is a queue or its dead-letter queue.
class Entity {
    constructor(store, queue, dlq) {
        this.store = store;
        this.queue = queue; // topology properties
        this.isDlq = Boolean(dlq);
        this.path = dlq ? `${queue.name}/$DeadLetterQueue` : queue.name;
        this.messages = new Map(); // seq → message
        this.ready = []; // ascending seqs of active, unlocked messages
        this.locks = new Map(); // lock token hex → message
        this.consumers = [];
        this.nextConsumer = 0;
        this.lastSeq = 0;
        this.dedup = new Map(); // message-id → {at, seq}
        this.scheduled = new Set(); // scheduled messages not yet enqueued
        this.lastTtlScan = 0;
        this.dlq = dlq ? null : new Entity(store, queue, true);
    }

    // --- sending -------------------------------------------------------

    // send stores one parsed message (codec.parse) and returns its sequence
    // number, or the first one's when the queue detects a duplicate (the
    // message is then dropped, and Service Bus reports success all the same).
    send(rec, now) {
        const dup = this.duplicateOf(rec, now);
        if (dup !== undefined) return { seq: dup, duplicate: true };
        const seq = ++this.lastSeq;
        const msg = { seq, rec, deliveries: 0, lock: null, enqueuedTime: now, state: STATE_ACTIVE };
        if (rec.scheduledEnqueueTime !== null && rec.scheduledEnqueueTime > now) {
            msg.state = STATE_SCHEDULED;
            msg.enqueuedTime = rec.scheduledEnqueueTime;
        }
        this.setExpiry(msg);
        this.messages.set(seq, msg);
        if (msg.state === STATE_SCHEDULED) this.scheduled.add(msg);
        if (this.queue.requiresDuplicateDetection && rec.messageId !== null && !this.isDlq) {
            this.dedup.set(rec.messageId, { at: now, seq });
        }
        if (msg.state === STATE_ACTIVE) this.makeReady(msg);
        this.store.changed();
        return { seq, duplicate: false };
    }

    duplicateOf(rec, now) {
        if (!this.queue.requiresDuplicateDetection || rec.messageId === null || this.isDlq) return undefined;
        const seen = this.dedup.get(rec.messageId);
        if (seen && now - seen.at < this.queue.duplicateDetectionHistoryTimeWindow) return seen.seq;
        return undefined;
    }

    // The time a message expires: its own time to live, at most the queue's
    // default, counted from its enqueue time. Dead-lettered messages never
    // expire.
    setExpiry(msg) {
        let ttl = this.queue.defaultMessageTimeToLive;
        if (msg.rec.header.ttl !== undefined && msg.rec.header.ttl > 0) ttl = Math.min(ttl, msg.rec.header.ttl);
        msg.expiresAt = this.isDlq || ttl === Infinity ? null : msg.enqueuedTime + ttl;
    }

    // cancel removes scheduled messages; it returns the sequence numbers
    // that are not (or no longer) scheduled, and removes none if any is.
    cancel(seqs) {
        const missing = seqs.filter((s) => {
            const m = this.messages.get(s);
            return !m || m.state !== STATE_SCHEDULED;
        });
        if (missing.length) return missing;
        for (const s of seqs) {
            this.scheduled.delete(this.messages.get(s));
            this.messages.delete(s);
        }
        this.store.changed();
        return [];
    }

    // --- receiving -----------------------------------------------------

    makeReady(msg) {
        insertSorted(this.ready, msg.seq);
        this.store.wake(this);
    }

    addConsumer(c) {
        this.consumers.push(c);
        this.store.wake(this);
    }

    removeConsumer(c) {
        const i = this.consumers.indexOf(c);
        if (i >= 0) this.consumers.splice(i, 1);
    }

    // pickConsumer returns the next consumer with credit, round robin.
    pickConsumer() {
        const n = this.consumers.length;
        for (let i = 0; i < n; i++) {
            const c = this.consumers[(this.nextConsumer + i) % n];
            if (c.credit() > 0) {
                this.nextConsumer = (this.nextConsumer + i + 1) % n;
                return c;
            }
        }
        return null;
    }

    // dispatch hands ready messages to consumers with credit, in sequence
    // order: peek-lock consumers get them locked, receive-and-delete
    // consumers take them away.
    dispatch(now) {
        let changed = false;
        while (this.ready.length) {
            const c = this.pickConsumer();
            if (!c) break;
            const seq = this.ready.shift();
            const msg = this.messages.get(seq);
            if (!msg) continue;
            if (msg.expiresAt !== null && msg.expiresAt <= now) {
                this.expire(msg, now);
                changed = true;
                continue;
            }
            changed = true;
            if (c.peekLock) {
                msg.deliveries++;
                this.lock(msg, now);
                c.deliver(msg, this.encodeMessage(msg));
            } else {
                msg.deliveries++;
                this.messages.delete(seq);
                c.deliver(msg, this.encodeMessage(msg));
            }
        }
        if (changed) this.store.changed();
    }

    lock(msg, now) {
        const token = codec.newLockToken();
        msg.lock = { token, hex: token.toString('hex'), until: now + this.queue.lockDuration };
        this.locks.set(msg.lock.hex, msg);
    }

    unlock(msg) {
        if (msg.lock) this.locks.delete(msg.lock.hex);
        msg.lock = null;
    }

    // encodeMessage returns the message as delivered now (header
    // delivery-count = earlier deliveries, lock token and locked-until of
    // its lock) or, with peek, as peeked (no lock; delivery-count = the
    // deliveries so far).
    encodeMessage(msg, peek) {
        const locked = !peek && msg.lock;
        return codec.encode(msg.rec, {
            sequenceNumber: msg.seq,
            enqueuedTime: msg.enqueuedTime,
            lockedUntil: locked ? msg.lock.until : undefined,
            lockToken: locked ? msg.lock.token : undefined,
            state: STATE_CODE[msg.state],
            deadLetterSource: msg.deadLetterSource,
            deliveryCount: peek ? msg.deliveries : Math.max(0, msg.deliveries - 1),
        });
    }

    // --- settlement ----------------------------------------------------

    // locked returns the message holding a live lock token (hex), or null.
    locked(hex, now) {
        const msg = this.locks.get(hex);
        if (!msg || msg.lock.until <= now) return null;
        return msg;
    }

    // settle applies a peek-lock outcome to the message locked by the token:
    //   complete                   removes it;
    //   abandon                    unlocks it (dead-letters it once it has
    //                              been delivered maxDeliveryCount times);
    //   release                    unlocks it and takes back the delivery;
    //   defer                      keeps it for receive-by-sequence-number;
    //   deadletter {reason, description} moves it to the dead-letter queue.
    // It returns false when the lock is unknown or expired (lock lost).
    settle(hex, outcome, info, now) {
        const msg = this.locked(hex, now);
        if (!msg) return false;
        this.unlock(msg);
        switch (outcome) {
        case 'complete':
            this.messages.delete(msg.seq);
            break;
        case 'release':
            msg.deliveries = Math.max(0, msg.deliveries - 1);
            this.returnMessage(msg, now, false);
            break;
        case 'abandon':
            this.returnMessage(msg, now, true);
            break;
        case 'defer':
            msg.state = STATE_DEFERRED;
            break;
        case 'deadletter':
            if (this.isDlq) this.returnMessage(msg, now, false);
            else this.deadLetter(msg, (info && info.reason) || '', (info && info.description) || '', now);
            break;
        default:
            throw new Error(`unknown outcome ${outcome}`);
        }
        this.store.changed();
        return true;
    }

    // returnMessage puts an unlocked message back, or dead-letters it when
    // counted deliveries have reached the queue's maxDeliveryCount.
    returnMessage(msg, now, counted) {
        if (counted && !this.isDlq && msg.deliveries >= this.queue.maxDeliveryCount) {
            this.deadLetter(msg, MAX_DELIVERY_REASON,
                `Message could not be consumed after ${this.queue.maxDeliveryCount} delivery attempts.`, now);
            return;
        }
        if (msg.state === STATE_DEFERRED) return;
        this.makeReady(msg);
    }

    // renew extends a live lock by the queue's lock duration and returns the
    // new expiry (ms), or null when the lock is lost.
    renew(hex, now) {
        const msg = this.locked(hex, now);
        if (!msg) return null;
        msg.lock.until = now + this.queue.lockDuration;
        this.store.changed();
        return msg.lock.until;
    }

    deadLetter(msg, reason, description, now) {
        this.unlock(msg);
        removeSorted(this.ready, msg.seq);
        this.messages.delete(msg.seq);
        const dlq = this.dlq;
        const rec = Object.assign({}, msg.rec, {
            appProps: codec.withAppProps(msg.rec.appProps, {
                DeadLetterReason: reason, DeadLetterErrorDescription: description,
            }),
        });
        const seq = ++dlq.lastSeq;
        const moved = {
            seq, rec, deliveries: msg.deliveries, lock: null, enqueuedTime: msg.enqueuedTime,
            state: STATE_ACTIVE, deadLetterSource: this.queue.name, expiresAt: null,
        };
        dlq.messages.set(seq, moved);
        dlq.makeReady(moved);
    }

    expire(msg, now) {
        if (this.queue.deadLetteringOnMessageExpiration) {
            this.deadLetter(msg, TTL_REASON, TTL_DESCRIPTION, now);
        } else {
            removeSorted(this.ready, msg.seq);
            this.messages.delete(msg.seq);
        }
    }

    // --- management ----------------------------------------------------

    // peek returns up to count messages from sequence number from on, in
    // order, whatever their state (active, locked, scheduled, deferred).
    peek(from, count) {
        const out = [];
        const seqs = [...this.messages.keys()].filter((s) => s >= from).sort((a, b) => a - b);
        for (const s of seqs.slice(0, count)) out.push(this.messages.get(s));
        return out;
    }

    // takeDeferred locks (peekLock) or removes deferred messages by sequence
    // number; it returns the messages, or throws {notFound: seq}.
    takeDeferred(seqs, peekLock, now) {
        const msgs = seqs.map((s) => {
            const m = this.messages.get(s);
            if (!m || m.state !== STATE_DEFERRED) throw { notFound: s };
            return m;
        });
        for (const m of msgs) {
            m.deliveries++;
            if (peekLock) {
                if (m.lock) this.unlock(m);
                this.lock(m, now);
            } else {
                this.messages.delete(m.seq);
            }
        }
        this.store.changed();
        return msgs;
    }

    // --- time ----------------------------------------------------------

    // tick enqueues scheduled messages that are due, releases expired locks,
    // expires messages past their time to live and forgets message-ids
    // older than the duplicate detection window.
    // Time to live is checked at most every TTL_SCAN_MS (and again when a
    // message is about to be delivered).
    tick(now) {
        let changed = false;
        for (const msg of this.scheduled) {
            if (msg.enqueuedTime <= now) {
                this.scheduled.delete(msg);
                msg.state = STATE_ACTIVE;
                this.makeReady(msg);
                changed = true;
            }
        }
        for (const msg of [...this.locks.values()]) {
            if (msg.lock.until <= now) {
                this.unlock(msg);
                this.returnMessage(msg, now, true);
                changed = true;
            }
        }
        if (now - this.lastTtlScan >= TTL_SCAN_MS) {
            this.lastTtlScan = now;
            for (const msg of [...this.messages.values()]) {
                if (msg.expiresAt !== null && msg.expiresAt <= now && !msg.lock && msg.state !== STATE_SCHEDULED) {
                    this.expire(msg, now);
                    changed = true;
                }
            }
        }
        for (const [id, seen] of this.dedup) {
            if (now - seen.at >= this.queue.duplicateDetectionHistoryTimeWindow) {
                this.dedup.delete(id);
                changed = true;
            }
        }
        if (changed) this.store.changed();
    }

    // --- persistence ---------------------------------------------------

    snapshot() {
        const b64 = (b) => (b ? b.toString('base64') : null);
        return {
            lastSeq: this.lastSeq,
            dedup: [...this.dedup],
            messages: [...this.messages.values()].map((m) => ({
                seq: m.seq, deliveries: m.deliveries, enqueuedTime: m.enqueuedTime, state: m.state,
                expiresAt: m.expiresAt, deadLetterSource: m.deadLetterSource,
                lock: m.lock ? { token: m.lock.hex, until: m.lock.until } : null,
                rec: {
                    header: m.rec.header, messageId: m.rec.messageId, scheduledEnqueueTime: m.rec.scheduledEnqueueTime,
                    annotations: b64(m.rec.annotations), properties: b64(m.rec.properties),
                    appProps: b64(m.rec.appProps), body: b64(m.rec.body),
                },
            })),
        };
    }

    restore(snap) {
        const buf = (s) => (s === null || s === undefined ? null : Buffer.from(s, 'base64'));
        this.lastSeq = snap.lastSeq || 0;
        this.dedup = new Map(snap.dedup || []);
        for (const m of snap.messages || []) {
            const msg = {
                seq: m.seq, deliveries: m.deliveries, enqueuedTime: m.enqueuedTime, state: m.state,
                expiresAt: m.expiresAt, deadLetterSource: m.deadLetterSource || undefined, lock: null,
                rec: Object.assign({}, m.rec, {
                    annotations: buf(m.rec.annotations), properties: buf(m.rec.properties),
                    appProps: buf(m.rec.appProps), body: buf(m.rec.body) || Buffer.alloc(0),
                }),
            };
            this.messages.set(msg.seq, msg);
            if (msg.state === STATE_SCHEDULED) this.scheduled.add(msg);
            if (m.lock) {
                msg.lock = { token: Buffer.from(m.lock.token, 'hex'), hex: m.lock.token, until: m.lock.until };
                this.locks.set(m.lock.token, msg);
            } else if (msg.state === STATE_ACTIVE) {
                insertSorted(this.ready, msg.seq);
            }
        }
    }
}

// Store holds every entity of the topology.
class Store {
    // topology: topology.parse() result; onChange(): called after every
    // change (persistence).
    constructor(topology, onChange) {
        this.queues = new Map();
        for (const [key, q] of topology.queues) this.queues.set(key, new Entity(this, q, false));
        this.onChange = onChange || (() => {});
        this.batchDepth = 0;
        this.dirty = false;
        this.pendingWake = new Set();
        this.wakeScheduled = false;
    }

    // entity resolves an entity path ("q", "q/$DeadLetterQueue", any case)
    // to its Entity, or null when the topology has no such entity.
    entity(path) {
        const parts = path.split('/');
        const q = this.queues.get(parts[0].toLowerCase());
        if (!q) return null;
        if (parts.length === 1) return q;
        if (parts.length === 2 && parts[1].toLowerCase() === '$deadletterqueue') return q.dlq;
        return null;
    }

    entities() {
        const out = [];
        for (const q of this.queues.values()) out.push(q, q.dlq);
        return out;
    }

    // changed reports a change to onChange at once, or at the end of the
    // outermost batch.
    changed() {
        if (this.batchDepth > 0) {
            this.dirty = true;
            return;
        }
        this.onChange();
    }

    // batch runs fn and reports its changes once, when it returns (so a
    // batch of messages is persisted in one write, before it is
    // acknowledged).
    batch(fn) {
        this.batchDepth++;
        try {
            return fn();
        } finally {
            this.batchDepth--;
            if (this.batchDepth === 0 && this.dirty) {
                this.dirty = false;
                this.onChange();
            }
        }
    }

    // wake dispatches the entity's ready messages soon (once per turn of
    // the event loop, after the current frame is handled).
    wake(entity) {
        this.pendingWake.add(entity);
        if (this.wakeScheduled) return;
        this.wakeScheduled = true;
        setImmediate(() => {
            this.wakeScheduled = false;
            const todo = [...this.pendingWake];
            this.pendingWake.clear();
            const now = Date.now();
            this.batch(() => {
                for (const e of todo) e.dispatch(now);
            });
        });
    }

    tick(now) {
        this.batch(() => {
            for (const e of this.entities()) e.tick(now);
        });
    }

    snapshot() {
        const out = { version: 1, queues: {} };
        for (const q of this.queues.values()) {
            out.queues[q.queue.name] = { queue: q.snapshot(), deadLetter: q.dlq.snapshot() };
        }
        return out;
    }

    // restore loads a snapshot; queues no longer in the topology are
    // ignored (and reported by the returned list of their names).
    restore(snap) {
        const dropped = [];
        for (const [name, s] of Object.entries((snap && snap.queues) || {})) {
            const q = this.queues.get(name.toLowerCase());
            if (!q) { dropped.push(name); continue; }
            q.restore(s.queue || {});
            q.dlq.restore(s.deadLetter || {});
        }
        return dropped;
    }
}

module.exports = { Store, STATE_CODE };
