// npm's ws client speaking switchboard.v1 to ws.Handler: subscribe,
// publish (JSON and data_b64, read back byte-identical over REST), a REST
// publish arriving byte-identical,
// request/reply in both roles (node answers a node request; Go answers a
// node request), resume with since, gap, and an error frame.
// Usage: node ws-client.mjs BASE_URL   (prints one JSON line; exits 1 on failure)
import WebSocket from "ws";
import assert from "node:assert/strict";

const base = process.argv[2];
const url = base.replace(/^http/, "ws") + "/ws";

// open returns a socket with a frame queue: next(pred) resolves with the
// first queued or future frame matching pred.
function open() {
  return new Promise((resolve, reject) => {
    const sock = new WebSocket(url, "switchboard.v1");
    const queue = [], waiters = [];
    sock.on("message", (data, isBinary) => {
      assert.equal(isBinary, false, "server frames are text");
      const text = data.toString("utf8");
      const f = JSON.parse(text);
      f._raw = text;
      const i = waiters.findIndex((w) => w.pred(f));
      if (i >= 0) { const [w] = waiters.splice(i, 1); clearTimeout(w.timer); w.resolve(f); } else queue.push(f);
    });
    sock.on("error", reject);
    sock.on("open", () => {
      assert.equal(sock.protocol, "switchboard.v1");
      resolve({
        sock,
        send: (f) => sock.send(JSON.stringify(f)),
        next(pred, what) {
          const i = queue.findIndex(pred);
          if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
          return new Promise((res, rej) => {
            const w = { pred, resolve: res, timer: setTimeout(() => rej(new Error("timeout waiting for " + what)), 5000) };
            waiters.push(w);
          });
        },
        closed: new Promise((res) => sock.on("close", (code, reason) => res({ code, reason: reason.toString() }))),
      });
    });
  });
}

const is = (type, key, id) => (f) => f.type === type && f[key] === id;
const steps = [];

const a = await open();
a.send({ type: "subscribe", id: "s1", filter: "interop/#" });
const subscribed = await a.next(is("subscribed", "id", "s1"), "subscribed s1");
assert.ok(subscribed.cursor, "subscribed carries the head cursor");
steps.push("subscribe");

// JSON payload, verbatim
a.send({ type: "publish", id: "p1", topic: "interop/a", data: { hello: "world" }, header: { k: "v" } });
const ack1 = await a.next(is("ack", "id", "p1"), "ack p1");
const m1 = await a.next(is("message", "sub", "s1"), "message p1");
assert.equal(m1.topic, "interop/a");
assert.deepEqual(m1.data, { hello: "world" });
assert.ok(m1._raw.includes('"data":{"hello":"world"}'), m1._raw);
assert.equal(m1.cursor, ack1.cursor);
assert.equal(m1.header.k, "v");
steps.push("publish-json");

// binary payload
const bin = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a]);
a.send({ type: "publish", id: "p2", topic: "interop/b", data_b64: bin.toString("base64") });
await a.next(is("ack", "id", "p2"), "ack p2");
const m2 = await a.next(is("message", "sub", "s1"), "message p2");
assert.ok(Buffer.from(m2.data_b64, "base64").equals(bin));
// …and REST reads the same bytes back from history
const hist = await (await fetch(base + "/topics/interop/b")).json();
assert.equal(hist.messages.length, 1);
assert.ok(Buffer.from(hist.messages[0].data_b64, "base64").equals(bin), JSON.stringify(hist));
assert.equal(hist.messages[0].cursor, m2.cursor);
steps.push("publish-binary");

// REST publish → WebSocket, byte-identical
const restBody = Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x20, 0x31, 0x7d, 0x00, 0xc3, 0x28]);
const resp = await fetch(base + "/topics/interop/rest", { method: "POST", body: restBody });
assert.equal(resp.status, 200);
const m3 = await a.next(is("message", "sub", "s1"), "message from REST");
assert.equal(m3.topic, "interop/rest");
assert.ok(Buffer.from(m3.data_b64, "base64").equals(restBody), "REST bytes arrive unchanged");
const restJSON = '{"x": [1, 2.50, "é"]}';
await fetch(base + "/topics/interop/rest", { method: "POST", body: restJSON });
const m4 = await a.next(is("message", "sub", "s1"), "JSON message from REST");
assert.ok(m4._raw.includes('"data":' + restJSON), m4._raw);
// REST text/plain → WebSocket: UTF-8 text travels as "text", byte-exact
const restText = "hello world\r\n\té \u2028";
await fetch(base + "/topics/interop/rest", { method: "POST", body: restText, headers: { "Content-Type": "text/plain" } });
const m5 = await a.next(is("message", "sub", "s1"), "text message from REST");
assert.equal(m5.text, restText, m5._raw);
assert.equal(m5.data, undefined, m5._raw);
assert.equal(m5.data_b64, undefined, m5._raw);
steps.push("rest-to-ws");

// request/reply with a node responder on another socket
const b = await open();
b.send({ type: "subscribe", id: "svc", filter: "svc/node" });
await b.next(is("subscribed", "id", "svc"), "subscribed svc");
b.sock.on("message", (data) => {
  const f = JSON.parse(data.toString());
  if (f.type === "message" && f.sub === "svc" && f.header && f.header["sb-reply-to"]) {
    b.send({ type: "publish", id: "reply-" + f.id, topic: f.header["sb-reply-to"],
      header: { "sb-correlation-id": f.header["sb-correlation-id"] }, data: { echo: f.data } });
  }
});
a.send({ type: "request", id: "r1", topic: "svc/node", data: "ping", timeout_ms: 5000 });
const r1 = await a.next((f) => f.id === "r1", "reply r1");
assert.equal(r1.type, "reply", JSON.stringify(r1));
assert.deepEqual(r1.data, { echo: "ping" });
steps.push("request-node-responder");

// request answered by a Go responder on the broker
a.send({ type: "request", id: "r2", topic: "svc/go", data: { n: 41 }, timeout_ms: 5000 });
const r2 = await a.next((f) => f.id === "r2", "reply r2");
assert.equal(r2.type, "reply", JSON.stringify(r2));
assert.deepEqual(r2.data, { n: 42 });
steps.push("request-go-responder");

// request nobody answers
a.send({ type: "request", id: "r3", topic: "svc/nobody", data: 1, timeout_ms: 100 });
const r3 = await a.next((f) => f.id === "r3", "error r3");
assert.equal(r3.type, "error");
assert.equal(r3.code, "timeout");
steps.push("request-timeout");

// resume with since: exactly the messages after the cursor, in order
const cursors = [];
for (const n of [1, 2, 3]) {
  a.send({ type: "publish", id: "c" + n, topic: "interop/r", data: n });
  cursors.push((await a.next(is("ack", "id", "c" + n), "ack c" + n)).cursor);
}
a.send({ type: "subscribe", id: "s2", filter: "interop/r", since: cursors[0] });
await a.next(is("subscribed", "id", "s2"), "subscribed s2");
const got = [(await a.next(is("message", "sub", "s2"), "resume 1")).data, (await a.next(is("message", "sub", "s2"), "resume 2")).data];
assert.deepEqual(got, [2, 3]);
steps.push("resume");

// a cursor from another epoch: subscribed, then gap
a.send({ type: "subscribe", id: "s3", filter: "interop/r", since: "otherepoch-5" });
await a.next(is("subscribed", "id", "s3"), "subscribed s3");
await a.next(is("gap", "sub", "s3"), "gap s3");
steps.push("gap");

// errors keep the connection usable
a.send({ type: "publish", id: "bad", topic: "bad/+", data: 1 });
const e = await a.next(is("error", "id", "bad"), "error bad");
assert.equal(e.code, "bad_request");
a.send({ type: "ping", id: "still" });
await a.next(is("pong", "id", "still"), "pong");
steps.push("errors");

a.sock.close(1000, "bye");
b.sock.close(1000, "bye");
assert.equal((await a.closed).code, 1000);
await b.closed;
console.log(JSON.stringify({ ok: true, steps }));
