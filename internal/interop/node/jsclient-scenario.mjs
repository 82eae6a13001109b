// The scenario of switchboard.mjs (ws/js), run in Node (jsclient-node.mjs)
// and in headless Chromium (jsclient-chromium.mjs) against the server of
// internal/interop/jsclient_test.go. It uses only standard APIs (fetch,
// TextEncoder), throws on the first wrong result and returns a summary the
// Go test checks.
export async function run({ connect, WebSocket, base, runtime }) {
  const steps = [], states = [];
  const ctl = async (path, body) => {
    const r = await fetch(base + "/ctl/" + path, { method: "POST", body });
    const text = await r.text();
    if (!r.ok) throw new Error(`ctl ${path}: HTTP ${r.status} ${text}`);
    return text;
  };
  const check = (ok, what, got) => { if (!ok) throw new Error(`${runtime}: ${what}: got ${JSON.stringify(got)}`); };
  const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const within = (p, ms, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error(`${runtime}: timeout: ${what}`)), ms))]);
  const fast = { WebSocket, minBackoff: 20, maxBackoff: 200 };

  // a subscribes (iterator form); b publishes. a takes its URL as http://
  // and a token string, b as ws:// and a token function.
  const a = connect(base + "/ws", { ...fast, token: "secret", onState: (s) => states.push(s) });
  const b = connect(base.replace(/^http/, "ws") + "/ws", { ...fast, token: async () => "secret" });
  await within(Promise.all([a.ready(), b.ready()]), 5000, "connect");
  const sub = a.subscribe("js/#");
  await within(sub.ready, 5000, "subscribed");
  const next = async (what) => {
    const r = await within(sub.next(), 5000, what);
    check(!r.done, what + ": iterator ended", r);
    return r.value;
  };
  const nextMessage = async (what) => {
    const ev = await next(what);
    check(ev.type === "message", what + ": want a message", ev);
    return ev;
  };

  // 1. Payloads, byte-exact: bytes, UTF-8 text that is not JSON, JSON,
  //    and bytes published over REST.
  const bin = new Uint8Array([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x80]);
  const text = 'héllo ✓ "quoted"\n\ttab \u0000 end 🎉';
  await b.publish("js/bin", bin);
  await b.publish("js/text", text);
  const ack = await b.publish("js/json", { n: 1, s: "x" }, { header: { k: "v" } });
  check(typeof ack.cursor === "string" && ack.cursor !== "", "ack cursor", ack);
  await b.publish("js/empty");
  let m = await nextMessage("bin");
  check(m.topic === "js/bin" && m.format === "bytes" && same([...m.bytes()], [...bin]), "binary payload", { ...m, data: [...m.bytes()] });
  m = await nextMessage("text");
  check(m.topic === "js/text" && m.text() === text && same([...m.bytes()], [...new TextEncoder().encode(text)]), "text payload", m);
  check(m.format === "text" || m.format === "bytes", "text format", m.format);
  m = await nextMessage("json");
  check(m.format === "json" && m.data.n === 1 && m.data.s === "x" && m.header.k === "v" && m.cursor === ack.cursor, "json payload", m);
  check(m.text() === '{"n":1,"s":"x"}', "json text()", m.text());
  m = await nextMessage("empty");
  check(m.format === "empty" && m.data === undefined && m.bytes().length === 0 && m.text() === "", "empty payload", m);
  const rest = await fetch(base + "/topics/js/rest", { method: "POST", body: new Uint8Array([1, 2, 3, 255]) });
  check(rest.ok, "REST publish", rest.status);
  m = await nextMessage("rest");
  check(m.topic === "js/rest" && same([...m.bytes()], [1, 2, 3, 255]), "REST bytes", [...m.bytes()]);
  steps.push("payloads");

  // 2. The server goes away (1001) while messages are published; a keyed
  //    publish waits for the connection. After the restart the
  //    subscription resumes from its cursor: every message, once, in order.
  await ctl("stop?topic=js/r&n=3");
  const queued = b.publish("js/r", "queued while away", { key: `away-${runtime}` });
  await ctl("start");
  const restart = [];
  for (let i = 0; i < 4; i++) restart.push((await nextMessage("after restart")).text());
  const qack = await within(queued, 5000, "queued publish ack");
  check(typeof qack.cursor === "string", "queued publish acked", qack);
  await within(a.ready(), 1000, "a open");
  check(states.includes("reconnecting"), "state went through reconnecting", states);
  steps.push("restart-nothing-lost");

  // 3. More is published while away than history keeps: a gap, then live.
  await ctl("stop?topic=js/lost&n=20");
  await ctl("start");
  const gap = await next("gap");
  check(gap.type === "gap", "gap event", gap);
  await b.publish("js/live", "after the gap");
  m = await nextMessage("live after gap");
  check(m.topic === "js/live" && m.text() === "after the gap", "live after the gap", m);
  steps.push("gap");

  // 4. Request/reply both ways: JS asks Go; Go and JS ask JS; bytes
  //    round-trip; a request nobody answers times out.
  let r = await a.request("svc/go", { n: 41 });
  check(r.data.n === 42 && r.format === "json", "Go's reply", r);
  r = await a.request("svc/echo", bin);
  check(same([...r.bytes()], [...bin]), "echoed bytes", [...r.bytes()]);
  const served = b.serve("svc/js", (req) => ({ got: req.data, runtime }));
  await within(served.ready, 5000, "serve subscribed");
  r = await a.request("svc/js", { q: 1 });
  check(r.data.got.q === 1 && r.data.runtime === runtime, "JS's reply to JS", r);
  const fromGo = JSON.parse(await ctl("ask?topic=svc/js", JSON.stringify({ q: 2 })));
  check(fromGo.got.q === 2, "JS's reply to Go", fromGo);
  const err = await a.request("svc/nobody", 1, { timeout: 300 }).then(() => null, (e) => e);
  check(err && err.code === "timeout" && err.name === "SwitchboardError", "request timeout", String(err));
  served.close();
  steps.push("request-reply");

  // 5. Callback form.
  const got = [];
  let gotOne;
  const arrived = new Promise((res) => { gotOne = res; });
  const cb = b.subscribe("cb/+", { onMessage: (m) => { got.push(m.text()); gotOne(); } });
  await within(cb.ready, 5000, "callback subscribed");
  await a.publish("cb/x", "via callback");
  await within(arrived, 5000, "callback");
  check(got[0] === "via callback", "callback message", got);
  cb.close();
  steps.push("callback");

  // 5b. A group: two members share the messages, each delivered once.
  const shared = [];
  let allShared;
  const gotAll = new Promise((res) => { allShared = res; });
  const member = (c) => c.subscribe("grp/+", { group: "g", onMessage: (m) => { shared.push(m.data); if (shared.length === 6) allShared(); } });
  const g1 = member(a), g2 = member(b);
  await within(Promise.all([g1.ready, g2.ready]), 5000, "group subscribed");
  for (let i = 1; i <= 6; i++) await a.publish("grp/x", i);
  await within(gotAll, 5000, "group messages");
  check(same([...shared].sort(), [1, 2, 3, 4, 5, 6]), "each group message once", shared);
  g1.close();
  g2.close();
  steps.push("group");

  // 5c. Idempotency key: a second publish with the same key is the same
  //    message. Where the server deduplicates (the ack repeats the first
  //    message id), the subscriber gets it once.
  const k = `dup-${runtime}`;
  const first = await b.publish("js/dup", "once", { key: k });
  const again = await b.publish("js/dup", "once", { key: k });
  await b.publish("js/dup-end", "end");
  const dups = [];
  for (;;) {
    const ev = await nextMessage("dedup");
    if (ev.topic === "js/dup-end") break;
    dups.push(ev.text());
  }
  const dedup = first.id !== undefined && first.id === again.id;
  check(dedup ? dups.length === 1 : dups.length === 2, "keyed publishes delivered", { first, again, dups });
  steps.push("idempotency-key");

  // 6. A slow iterator: with buffer 3 the server side pauses, and resumes
  //    from the cursor once the consumer has caught up: nothing lost.
  const slow = b.subscribe("slow/#", { buffer: 3 });
  await within(slow.ready, 5000, "slow subscribed");
  for (let i = 1; i <= 6; i++) await a.publish("slow/x", i);
  const seen = [];
  for await (const ev of slow) {
    seen.push(ev.type === "gap" ? "gap" : ev.data);
    if (seen.length === 6) break; // return() closes the subscription
  }
  check(same(seen, [1, 2, 3, 4, 5, 6]), "slow consumer sees everything once", seen);
  steps.push("slow-consumer");

  // 7. A refused token ends the client: no retry loop.
  const bad = connect(base + "/ws", { ...fast, token: "wrong" });
  const refused = await within(bad.ready().then(() => null, (e) => e), 5000, "refusal");
  check(refused && refused.code === "unauthorized" && bad.state === "closed", "refused token", String(refused));
  const ended = bad.subscribe("x");
  check(await ended.next().then(() => false, (e) => e.code === "unauthorized"), "subscribe on a closed client fails", null);
  steps.push("unauthorized");

  // 8. A handshake the server answers with HTTP (404 here; 503 while
  //    shutting down) is retried with backoff, not fatal.
  let retries = 0, retried;
  const twice = new Promise((res) => { retried = res; });
  const nowhere = connect(base + "/nowhere", { ...fast, onState: (s) => { if (s === "reconnecting" && ++retries === 3) retried(); } });
  await within(twice, 5000, "retries after HTTP refusals");
  check(nowhere.state === "reconnecting", "still retrying", nowhere.state);
  nowhere.close();
  check(await nowhere.ready().then(() => "", (e) => e.code) === "closed", "ready rejects after close", null);
  steps.push("http-refusal-retried");

  // 9. A handshake the server never answers is given up after
  //    connectTimeout and retried.
  let hung = 0, hungTwice;
  const gaveUp = new Promise((res) => { hungTwice = res; });
  const hang = connect(base + "/hang", { ...fast, connectTimeout: 200, onState: (s) => { if (s === "reconnecting" && ++hung === 2) hungTwice(); } });
  await within(gaveUp, 5000, "connect timeouts");
  hang.close();
  steps.push("connect-timeout");

  // The iterator ends when the client closes.
  a.close();
  const end = await within(sub.next(), 1000, "end of iteration");
  check(end.done, "iteration ends on close", end);
  b.close();
  return { steps, states, restart, dedup };
}
