// switchboard.mjs: a client for Switchboard's WebSocket protocol
// switchboard.v1 (see the doc of Go package ws). One ES module, no
// dependencies, no build step; types in switchboard.d.mts beside it.
//
//   import { connect } from "/switchboard.mjs";
//   const sb = connect("/ws", { token });
//   for await (const ev of sb.subscribe("chat/#")) { ... }
//
// The client reconnects by itself (exponential backoff with jitter) and
// resubscribes each subscription from the cursor of the last message it
// delivered, so nothing is lost while the server's history reaches back; a
// "gap" event says when it did not.

const PROTOCOL = "switchboard.v1";
// Close codes after which retrying cannot help: authentication (4401,
// 4403), protocol (1002, 1003) and policy (1008).
const FATAL = [4401, 4403, 1002, 1003, 1008];
const REPLY_TO = "sb-reply-to", CORRELATION = "sb-correlation-id";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An error frame from the server, or a local failure (code "unavailable",
 * "closed", "timeout"). */
export class SwitchboardError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = "SwitchboardError";
    this.code = code;
  }
}

const fail = (code, message) => new SwitchboardError(code, message);

const b64encode = (bytes) => {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};

const toBytes = (v) => (v instanceof Uint8Array ? v
  : ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
    : v instanceof ArrayBuffer ? new Uint8Array(v) : null);

// payloadFields: bytes and strings travel as exact bytes (data_b64), other
// values as JSON (data), undefined as no payload.
function payloadFields(v) {
  if (v === undefined) return {};
  const b = typeof v === "string" ? encoder.encode(v) : toBytes(v);
  return b ? (b.length ? { data_b64: b64encode(b) } : {}) : { data: v };
}

// Messages share this prototype: bytes() and text() give the payload as
// bytes or as UTF-8 text whatever form it travelled in.
const messageProto = {
  bytes() {
    const d = this.data;
    return d === undefined ? new Uint8Array(0) : d instanceof Uint8Array ? d
      : encoder.encode(typeof d === "string" && this.format === "text" ? d : JSON.stringify(d));
  },
  text() {
    const d = this.data;
    return this.format === "text" ? d : this.format === "json" ? JSON.stringify(d) : decoder.decode(this.bytes());
  },
};

// decodeMessage turns a message or reply frame into a Message; null when
// it carries more than one payload form or bad base64.
function decodeMessage(f) {
  const forms = ["data", "text", "data_b64"].filter((k) => f[k] !== undefined);
  if (forms.length > 1) return null;
  const m = Object.create(messageProto);
  m.type = "message";
  m.topic = f.topic;
  m.id = f.type === "message" ? f.id : undefined;
  m.cursor = f.cursor;
  m.time = f.time;
  m.header = f.header || {};
  m.retain = !!f.retain;
  m.format = forms[0] === "data_b64" ? "bytes" : forms[0] === "data" ? "json" : forms[0] || "empty";
  if (forms[0] === "data_b64") {
    try {
      m.data = Uint8Array.from(atob(f.data_b64), (c) => c.charCodeAt(0));
    } catch {
      return null;
    }
  } else m.data = f[forms[0]];
  return m;
}

/** connect returns a client that connects to url (ws:, wss:, http:,
 * https: or a path relative to the page) now and again whenever the
 * connection drops, until close(). */
export function connect(url, options) {
  return new Client(url, options);
}

export class Client {
  constructor(url, o = {}) {
    this.url = url;
    this.o = o;
    this.state = "connecting";
    this.error = undefined;
    this.seq = 0;
    this.attempt = 0;
    this.subs = new Map(); // server-side id → Subscription
    this.all = new Set(); // every open Subscription
    this.pending = new Map(); // frame id → operation waiting for its answer
    this.outbox = []; // operations waiting for a connection
    this.opened = new Promise((res, rej) => { this.openedRes = res; this.openedRej = rej; });
    this.opened.catch(() => {});
    this.dial();
  }

  id(p) { return p + ++this.seq; }

  setState(s, detail) {
    this.state = s;
    this.o.onState?.(s, detail);
  }

  async dial() {
    let t = this.o.token, sock;
    try {
      // A token function is asked on every connect (tokens expire).
      if (typeof t === "function") t = await t();
    } catch (e) {
      return this.retry(0, String(e?.message || e));
    }
    if (this.state === "closed") return;
    try {
      const u = new URL(this.url, globalThis.location?.href);
      u.protocol = u.protocol.replace(/^http/, "ws");
      if (t) u.searchParams.set("access_token", t);
      sock = new (this.o.WebSocket || globalThis.WebSocket)(u.href, [PROTOCOL, ...(this.o.protocols || [])]);
    } catch (e) {
      return this.finish(fail("bad_request", String(e?.message || e)));
    }
    this.sock = sock;
    sock.binaryType = "arraybuffer";
    let pongWait = 0, hello = this.id("h");
    // A handshake (upgrade and greeting ping) that hangs is given up on.
    const limit = this.o.connectTimeout ?? 10000;
    this.stuck = limit > 0 && setTimeout(() => sock.close(4000), limit);
    sock.onopen = () => {
      for (const s of this.all) s.resubscribe();
      this.send({ type: "ping", id: hello });
      this.flush();
      const every = this.o.pingInterval ?? 25000;
      if (every > 0) {
        this.pinger = setInterval(() => {
          // No pong since the last ping: the connection is dead.
          if (pongWait) return sock.close(4000, "no pong");
          pongWait = 1;
          this.send({ type: "ping", id: "k" });
        }, every);
      }
    };
    sock.onmessage = (e) => {
      if (typeof e.data !== "string") return;
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      if (f.type === "pong") {
        pongWait = 0;
        if (f.id === hello) {
          clearTimeout(this.stuck);
          this.attempt = 0;
          this.setState("open");
          this.openedRes();
        }
      } else this.frame(f);
    };
    // A close event follows every error (and npm ws throws an error
    // nobody listens to).
    sock.onerror = () => {};
    sock.onclose = (e) => this.dropped(sock, e.code, e.reason);
  }

  // dropped handles the end of connection sock: fail or keep what waited
  // on it, then reconnect unless the close says retrying is pointless.
  dropped(sock, code, reason) {
    if (this.sock !== sock) return;
    this.sock = null;
    clearInterval(this.pinger);
    clearTimeout(this.stuck);
    for (const s of this.all) s.sid = "";
    this.subs.clear();
    for (const op of this.pending.values()) {
      // A keyed publish is idempotent: send it again. (A request is not:
      // its reply went to the old connection.)
      if (op.f.type === "publish" && op.f.key !== undefined) this.outbox.push(op);
      else op.done(fail("unavailable", "disconnected"));
    }
    this.pending.clear();
    if (this.state === "closed") return;
    if (FATAL.includes(code)) return this.finish(fail(code === 4401 ? "unauthorized" : code === 4403 ? "forbidden" : "refused", `closed ${code} ${reason || ""}`.trim()));
    this.retry(code, reason);
  }

  retry(code, reason) {
    const min = this.o.minBackoff ?? 100, max = Math.max(min, this.o.maxBackoff ?? 5000);
    const d = Math.min(max, min * 2 ** Math.min(this.attempt++, 30));
    const delay = d / 2 + Math.random() * d / 2;
    this.setState("reconnecting", { code, reason, attempt: this.attempt, delay });
    this.timer = setTimeout(() => this.dial(), delay);
  }

  frame(f) {
    const op = this.pending.get(f.id), s = this.subs.get(f.type === "message" || f.type === "gap" ? f.sub : f.id);
    if (op) {
      this.pending.delete(f.id);
      if (f.type === "error") op.done(fail(f.code, f.message));
      else op.done(null, f);
    } else if (s) s.frame(f);
  }

  send(f) {
    if (this.sock?.readyState !== 1) return false;
    this.sock.send(JSON.stringify(f));
    return true;
  }

  flush() {
    for (const op of this.outbox.splice(0)) this.op(op);
  }

  // op sends operation op (an outgoing frame f that expects an answer)
  // now or, while disconnected, once connected.
  op(op) {
    if (this.state === "closed") return op.done(this.error);
    if (op.f.type === "request" && op.deadline) op.f.timeout_ms = Math.max(1, Math.round(op.deadline - Date.now()));
    if (this.send(op.f)) this.pending.set(op.f.id, op);
    else this.outbox.push(op);
  }

  // call sends frame f and resolves with the answer frame; timeout (ms)
  // bounds the wait, including the wait for a connection.
  call(f, timeout, request) {
    return new Promise((resolve, reject) => {
      const op = {
        f,
        deadline: request && timeout > 0 ? Date.now() + timeout : 0,
        done: (err, answer) => {
          clearTimeout(timer);
          this.pending.delete(f.id);
          const i = this.outbox.indexOf(op);
          if (i >= 0) this.outbox.splice(i, 1);
          err ? reject(err) : resolve(answer);
        },
      };
      // A request's server-side timeout answers first; ours is the
      // backstop a second later.
      const timer = timeout > 0 && setTimeout(() => op.done(fail("timeout", `no answer in ${timeout} ms`)), timeout + (request ? 1000 : 0));
      this.op(op);
    });
  }

  /** publish sends payload to topic and resolves with the broker's
   * receipt once the server acknowledged it. */
  async publish(topic, payload, o = {}) {
    const f = { type: "publish", id: this.id("p"), topic, ...payloadFields(payload) };
    if (o.header) f.header = o.header;
    if (o.retain) f.retain = true;
    if (o.key !== undefined) f.key = String(o.key);
    const a = await this.call(f, o.timeout ?? this.o.timeout ?? 10000);
    return { id: a.message_id, cursor: a.cursor, time: a.time };
  }

  /** request publishes payload to topic with a reply address and resolves
   * with the first reply. */
  async request(topic, payload, o = {}) {
    const f = { type: "request", id: this.id("r"), topic, ...payloadFields(payload) };
    if (o.header) f.header = o.header;
    if (o.key !== undefined) f.key = String(o.key);
    const r = await this.call(f, o.timeout ?? this.o.requestTimeout ?? 10000, true);
    const m = decodeMessage(r);
    if (!m) throw fail("bad_request", "malformed reply");
    return m;
  }

  /** reply answers a request message (one carrying sb-reply-to). */
  reply(req, payload, o = {}) {
    const to = req.header?.[REPLY_TO];
    if (!to) return Promise.reject(fail("bad_request", "not a request"));
    const header = { ...o.header, [CORRELATION]: req.header[CORRELATION] ?? "" };
    return this.publish(to, payload, { ...o, header });
  }

  /** serve subscribes to filter and answers every request that arrives
   * with what handler returns (or resolves to). */
  serve(filter, handler, o = {}) {
    return this.subscribe(filter, {
      ...o,
      onMessage: async (m) => {
        if (!m.header[REPLY_TO]) return;
        try {
          await this.reply(m, await handler(m));
        } catch (e) {
          o.onError?.(e);
        }
      },
    });
  }

  /** subscribe starts a subscription to filter; see Subscription. */
  subscribe(filter, o = {}) {
    const s = new Subscription(this, filter, o);
    if (this.state === "closed") s.end(this.error);
    else {
      this.all.add(s);
      s.resubscribe();
    }
    return s;
  }

  /** ready resolves once the first connection is open. */
  ready() { return this.opened; }

  finish(err) {
    if (this.state === "closed") return;
    this.error = err;
    this.setState("closed", err);
    clearTimeout(this.timer);
    clearTimeout(this.stuck);
    clearInterval(this.pinger);
    const sock = this.sock;
    this.sock = null;
    if (sock) {
      sock.onclose = null;
      if (sock.readyState < 2) sock.close(1000);
    }
    for (const op of [...this.pending.values(), ...this.outbox]) op.done(err);
    this.pending.clear();
    this.outbox = [];
    for (const s of this.all) s.end(err.code === "closed" ? undefined : err);
    this.openedRej(err);
  }

  /** close closes the connection (1000) and ends every subscription. */
  close() {
    this.finish(fail("closed", "client closed"));
  }
}

/** Subscription is a subscription that survives reconnects. Iterate it
 * (for await) or pass onMessage/onGap callbacks to Client.subscribe. */
export class Subscription {
  constructor(c, filter, o) {
    this.c = c;
    this.filter = filter;
    this.group = o.group;
    this.cursor = o.since || ""; // resume point: the last delivered message's cursor
    this.head = "";
    this.o = o;
    this.sid = "";
    this.confirmed = false;
    this.closed = false;
    this.queue = [];
    this.wake = null;
    this.paused = false;
    this.ready = new Promise((res, rej) => { this.readyRes = res; this.readyRej = rej; });
    this.ready.catch(() => {});
  }

  // resubscribe (re)starts the server side under a fresh id, from the
  // resume cursor.
  resubscribe() {
    if (this.closed || this.paused || this.sid) return;
    const f = { type: "subscribe", id: this.c.id("s"), filter: this.filter };
    if (this.group) f.group = this.group;
    else if (this.cursor) f.since = this.cursor;
    else if (this.confirmed) this.push({ type: "gap" }); // no history to resume from
    if (this.c.send(f)) {
      this.sid = f.id;
      this.c.subs.set(f.id, this);
    }
  }

  frame(f) {
    if (f.type === "subscribed") {
      this.head = f.cursor || "";
      if (!this.cursor) this.cursor = this.head;
      this.confirmed = true;
      this.readyRes();
    } else if (f.type === "gap") {
      // Delivery goes on live from the head.
      if (this.head) this.cursor = this.head;
      this.push({ type: "gap" });
    } else if (f.type === "message") {
      const m = decodeMessage(f);
      if (!m || this.paused) return;
      // A retained message is state, not a position: it does not move the
      // resume cursor.
      if (m.cursor && !m.retain) this.cursor = m.cursor;
      this.push(m);
    } else if (f.type === "error") {
      this.close(fail(f.code, f.message));
    }
  }

  push(ev) {
    const o = this.o;
    if (o.onMessage) return ev.type === "gap" ? o.onGap?.() : o.onMessage(ev);
    this.queue.push(ev);
    if (this.wake) this.wake();
    // A consumer that falls behind: stop the server side and resume from
    // the cursor once it has caught up (nothing lost while history lasts).
    if (this.queue.length >= (o.buffer ?? 1000) && !this.group && !this.paused) {
      this.paused = true;
      this.stop(true);
    }
  }

  end(err) {
    if (this.closed) return;
    this.closed = true;
    this.err = err;
    this.c.all.delete(this);
    this.readyRej(err || fail("closed", "closed"));
    if (err) this.o.onError?.(err);
    if (this.wake) this.wake();
  }

  // stop ends the server side (telling the server when tell is set).
  stop(tell) {
    if (tell && this.sid) this.c.send({ type: "unsubscribe", id: this.sid });
    this.c.subs.delete(this.sid);
    this.sid = "";
  }

  /** close ends the subscription (the iterator finishes). */
  close(err) {
    this.stop(!err);
    this.end(err);
  }

  async next() {
    for (;;) {
      if (this.queue.length) {
        const value = this.queue.shift();
        if (!this.queue.length && this.paused) {
          this.paused = false;
          this.resubscribe();
        }
        return { value, done: false };
      }
      if (this.closed) {
        if (this.err) throw this.err;
        return { value: undefined, done: true };
      }
      await new Promise((r) => { this.wake = r; });
      this.wake = null;
    }
  }

  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() { return this; }
}
