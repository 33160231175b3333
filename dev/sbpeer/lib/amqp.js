'use strict';
// The AMQP 1.0 side of the peer (rhea): links to entities, the $cbs node and
// the $management nodes, as azservicebus v1.11 uses them. Every behaviour
// the SDK depends on is marked "SDK:" below.

const rhea = require('rhea');
const message = require('rhea/lib/message.js');
const codec = require('./codec.js');
const management = require('./management.js');

const types = rhea.types;

// Service Bus Standard tier's message size limit (256 KB). SDK: with no
// max-message-size, MessageBatch.AddMessage refuses every message.
const MAX_MESSAGE_SIZE = 262144;

// Entity messages are stored byte for byte, so the encoded bytes of every
// decoded message are kept beside it (rhea decodes format-0 transfers itself
// and drops them otherwise).
const decode = message.decode;
message.decode = function decodeKeepingBytes(buf) {
    const m = decode(buf);
    Object.defineProperty(m, 'raw', { value: buf });
    return m;
};

// entityPath turns a link address ("q", "q/$DeadLetterQueue", or an
// amqp://host/q form) into an entity path.
function entityPath(address) {
    const m = /^[a-z]+:\/\/[^/]+\/(.*)$/i.exec(address || '');
    return m ? m[1] : address || '';
}

function connState(conn) {
    if (!conn.sbpeer) conn.sbpeer = { consumers: new Set(), replies: new Map() };
    return conn.sbpeer;
}

// accept answers an attach: the settle modes the client asked for are
// echoed (SDK: go-amqp detaches on any other), source and target are set
// (SDK: a missing one is read as a refusal) and max-message-size is given.
function acceptAttach(link, source, target) {
    const remote = link.remote.attach;
    link.local.attach.snd_settle_mode = remote.snd_settle_mode;
    link.local.attach.rcv_settle_mode = remote.rcv_settle_mode;
    link.local.attach.max_message_size = MAX_MESSAGE_SIZE;
    link.set_source({ address: source });
    link.set_target({ address: target });
}

// finish settles a peek-lock delivery the client has given an outcome to.
// The client (receiver-settle-mode second) settles nothing after that, so
// the delivery is marked settled on both ends; otherwise the session keeps
// it, and after 2048 such deliveries (rhea's session buffer) it stops
// sending.
function finish(d, state) {
    d.update(true, state);
    d.remote_settled = true;
    if (d.sbpeer) d.sbpeer.consumer.outstanding.delete(d);
}

function refuse(link, condition, description) {
    link.close({ condition, description });
}

class Server {
    // store: a Store; log(line): diagnostics.
    constructor(store, log) {
        this.store = store;
        this.log = log || (() => {});
        const c = rhea.create_container({
            id: 'sbpeer',
            autoaccept: false,
            treat_modified_as_released: false,
        });
        this.container = c;
        c.on('receiver_open', (ctx) => this.onClientSender(ctx));
        c.on('sender_open', (ctx) => this.onClientReceiver(ctx));
        c.on('message', (ctx) => this.onMessage(ctx));
        c.on('accepted', (ctx) => this.onOutcome(ctx, 'complete'));
        c.on('rejected', (ctx) => this.onOutcome(ctx, 'deadletter'));
        c.on('modified', (ctx) => this.onOutcome(ctx, 'modified'));
        c.on('released', (ctx) => this.onOutcome(ctx, 'release'));
        c.on('sendable', (ctx) => this.wakeLink(ctx.sender));
        c.on('sender_draining', (ctx) => this.wakeLink(ctx.sender));
        c.on('sender_close', (ctx) => this.forgetLink(ctx.connection, ctx.sender));
        c.on('receiver_close', () => {});
        c.on('session_close', () => {});
        c.on('connection_close', (ctx) => this.forgetConnection(ctx.connection));
        c.on('disconnected', (ctx) => this.forgetConnection(ctx.connection));
        c.on('error', (e) => this.log(`error: ${e && e.message}`));
    }

    // listen starts serving on host:port (0 = a free port) and resolves to
    // the bound port. SDK: TCP_NODELAY, or Nagle holds back every transfer
    // after the first until the client's next frame.
    listen(host, port) {
        return new Promise((resolve, reject) => {
            this.server = this.container.listen({ host, port, tcp_no_delay: true });
            this.server.once('error', reject);
            this.server.once('listening', () => resolve(this.server.address().port));
        });
    }

    // A client sender: to an entity, to $cbs or to an entity's $management.
    onClientSender(ctx) {
        const link = ctx.receiver;
        const target = (link.remote.attach.target && link.remote.attach.target.address) || '';
        const source = (link.remote.attach.source && link.remote.attach.source.address) || '';
        const path = entityPath(target);
        if (path === '$cbs') {
            link.sbpeer = { kind: 'cbs' };
            acceptAttach(link, source, target);
            return;
        }
        const mgmt = /^(.*)\/\$management$/i.exec(path);
        const entity = this.store.entity(mgmt ? mgmt[1] : path);
        if (!entity) {
            refuse(link, 'amqp:not-found', this.notFoundText(ctx, mgmt ? mgmt[1] : path));
            return;
        }
        if (!mgmt && entity.isDlq) {
            refuse(link, 'amqp:not-allowed', `Cannot send to the dead-letter queue ${entity.path}.`);
            return;
        }
        link.sbpeer = { kind: mgmt ? 'management' : 'entity', entity };
        acceptAttach(link, source, target);
    }

    // A client receiver: from an entity (a consumer), or the reply link of
    // $cbs or $management (SDK: replies go to the link whose target is the
    // request's reply-to, e.g. "$cbs$$cbs-reply-to-<uuid>").
    onClientReceiver(ctx) {
        const link = ctx.sender;
        const source = (link.remote.attach.source && link.remote.attach.source.address) || '';
        const target = (link.remote.attach.target && link.remote.attach.target.address) || '';
        const path = entityPath(source);
        const mgmt = /^(.*)\/\$management$/i.exec(path);
        if (path === '$cbs' || mgmt) {
            if (mgmt && !this.store.entity(mgmt[1])) {
                refuse(link, 'amqp:not-found', this.notFoundText(ctx, mgmt[1]));
                return;
            }
            link.sbpeer = { kind: 'reply' };
            connState(ctx.connection).replies.set(target, link);
            acceptAttach(link, source, target);
            return;
        }
        const entity = this.store.entity(path);
        if (!entity) {
            refuse(link, 'amqp:not-found', this.notFoundText(ctx, path));
            return;
        }
        const filter = link.remote.attach.source && link.remote.attach.source.filter;
        if (filter && Object.keys(filter).some((k) => /session-filter/.test(k))) {
            refuse(link, 'amqp:not-implemented', 'Sessions are not supported by this Service Bus peer.');
            return;
        }
        acceptAttach(link, source, target);
        // Peek-lock: receiver settles second. Receive-and-delete: the
        // client asks for pre-settled transfers.
        const peekLock = link.remote.attach.rcv_settle_mode === 1;
        const consumer = {
            entity, link, peekLock, unsent: [], outstanding: new Set(),
            credit() {
                if (!link.is_open()) return 0;
                const next = link.session.outgoing.next_pending_delivery;
                this.unsent = this.unsent.filter((d) => d.id >= next);
                return link.credit - this.unsent.length;
            },
            deliver(msg, bytes) {
                const tag = peekLock ? codec.deliveryTag(msg.lock.token) : codec.newLockToken();
                const d = link.send(bytes, tag, 0);
                if (peekLock) {
                    d.sbpeer = { entity, hex: msg.lock.hex, consumer: this };
                    this.outstanding.add(d);
                }
                this.unsent.push(d);
            },
        };
        link.sbpeer = { kind: 'consumer', consumer };
        connState(ctx.connection).consumers.add(consumer);
        entity.addConsumer(consumer);
    }

    notFoundText(ctx, path) {
        const host = (ctx.connection.remote.open && ctx.connection.remote.open.hostname) || '127.0.0.1';
        return `The messaging entity 'sb://${host}/${path}' could not be found.`;
    }

    onMessage(ctx) {
        const link = ctx.receiver;
        const info = link.sbpeer || {};
        const delivery = ctx.delivery;
        switch (info.kind) {
        case 'entity':
            return this.onEntityMessage(ctx, info.entity);
        case 'cbs':
            delivery.accept();
            // The peer validates no token: every put-token is accepted.
            // SDK: status-code must be an AMQP int (int32).
            return this.reply(ctx, 202, 'Accepted');
        case 'management': {
            delivery.accept();
            let res;
            try {
                res = this.store.batch(() => management.handle(info.entity, ctx.message, Date.now()));
            } catch (e) {
                this.log(`management: ${e.stack || e}`);
                res = { status: 500, description: String(e && e.message), condition: 'amqp:internal-error' };
            }
            return this.reply(ctx, res.status, res.description, res.body, res.condition);
        }
        default:
            delivery.reject({ condition: 'amqp:not-allowed', description: 'unexpected transfer' });
        }
    }

    onEntityMessage(ctx, entity) {
        const raw = ctx.format === codec.BATCH_FORMAT ? ctx.message : ctx.message.raw;
        let recs;
        try {
            if (ctx.format === codec.BATCH_FORMAT) recs = codec.unbatch(raw).map(codec.parse);
            else if (!ctx.format) recs = [codec.parse(raw)];
            else throw new Error(`message format 0x${ctx.format.toString(16)} is not supported`);
        } catch (e) {
            ctx.delivery.reject({ condition: 'amqp:decode-error', description: e.message });
            return;
        }
        const now = Date.now();
        this.store.batch(() => {
            for (const rec of recs) entity.send(rec, now);
        });
        ctx.delivery.accept();
    }

    // reply answers a $cbs or $management request on its reply link.
    reply(ctx, status, description, body, condition) {
        const req = ctx.message;
        const link = connState(ctx.connection).replies.get(req.reply_to);
        if (!link || !link.is_open()) {
            this.log(`no reply link for ${req.reply_to}`);
            return;
        }
        const props = {
            'status-code': types.wrap_int(status),
            'status-description': description || '',
        };
        if (condition) props['error-condition'] = types.wrap_symbol(condition);
        link.send({
            correlation_id: req.message_id,
            to: req.reply_to,
            application_properties: props,
            body: body === undefined ? null : body,
        });
    }

    // onOutcome applies a peek-lock settlement sent by the client and settles
    // the delivery. SDK: the client settles second, so it waits for this;
    // a lost lock answers rejected with com.microsoft:message-lock-lost.
    onOutcome(ctx, kind) {
        const d = ctx.delivery;
        if (!d.sbpeer || d.settled) return;
        const state = d.remote_state || {};
        let outcome = kind;
        let info;
        if (kind === 'modified') {
            outcome = state.undeliverable_here && !state.delivery_failed ? 'defer' : 'abandon';
        } else if (kind === 'deadletter') {
            const i = (state.error && state.error.info) || {};
            info = { reason: i.DeadLetterReason, description: i.DeadLetterErrorDescription };
        }
        const ok = d.sbpeer.entity.settle(d.sbpeer.hex, outcome, info, Date.now());
        if (kind === 'release') {
            finish(d);
            return;
        }
        if (ok) {
            // The outcome is echoed; a dead-letter's rejected carries no
            // error (SDK: go-amqp returns a rejected's error to the caller).
            const echo = {
                complete: () => message.accepted(),
                deadletter: () => message.rejected(),
                modified: () => message.modified({
                    delivery_failed: state.delivery_failed, undeliverable_here: state.undeliverable_here,
                }),
            }[kind]();
            finish(d, echo.described());
        } else {
            finish(d, message.rejected({
                error: {
                    condition: 'com.microsoft:message-lock-lost',
                    description: 'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
                },
            }).described());
        }
    }

    wakeLink(link) {
        const info = link && link.sbpeer;
        if (!info || info.kind !== 'consumer') return;
        const entity = info.consumer.entity;
        entity.dispatch(Date.now());
        if (link._draining) link.set_drained(true);
    }

    forgetLink(conn, link) {
        const info = link && link.sbpeer;
        if (!info) return;
        if (info.kind === 'consumer') {
            info.consumer.entity.removeConsumer(info.consumer);
            connState(conn).consumers.delete(info.consumer);
            // No outcome can come for a detached link's deliveries; their
            // messages stay locked until the lock expires, as in Azure.
            for (const d of info.consumer.outstanding) {
                d.settled = true;
                d.remote_settled = true;
            }
            info.consumer.outstanding.clear();
        } else if (info.kind === 'reply') {
            const replies = connState(conn).replies;
            for (const [k, v] of replies) if (v === link) replies.delete(k);
        }
    }

    // forgetConnection drops the consumers of a closed or dropped
    // connection. SDK: a dropped connection detaches nothing, and messages
    // sent to its links would be lost until their locks expire.
    forgetConnection(conn) {
        const st = connState(conn);
        for (const c of st.consumers) c.entity.removeConsumer(c);
        st.consumers.clear();
        st.replies.clear();
    }

    close() {
        if (this.server) this.server.close();
    }
}

module.exports = { Server, MAX_MESSAGE_SIZE };
