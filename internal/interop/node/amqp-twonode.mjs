// Scale-out recipe: two Switchboard nodes share RabbitMQ. An npm eventsource
// client and an npm ws client subscribe on node B; a REST publish (fetch) on
// node A must reach both. Prints one JSON line for the Go test to check.
//
//   node amqp-twonode.mjs http://nodeA http://nodeB
import { EventSource } from "eventsource";
import WebSocket from "ws";

const [a, b] = process.argv.slice(2);
const timeout = setTimeout(() => {
  console.error("timed out");
  process.exit(2);
}, 20000);

// SSE on node B: ready at the sb-open event, then the first data event.
let sseReady, sseGot;
const sseOpen = new Promise((r) => (sseReady = r));
const sseMsg = new Promise((r) => (sseGot = r));
const es = new EventSource(`${b}/events?topic=${encodeURIComponent("chat/#")}`);
es.addEventListener("sb-open", () => sseReady());
es.onmessage = (e) => sseGot(JSON.parse(e.data));
es.onerror = (e) => console.error("eventsource error", e.message ?? e);

// WebSocket (switchboard.v1) on node B.
let wsReady, wsGot;
const wsOpen = new Promise((r) => (wsReady = r));
const wsMsg = new Promise((r) => (wsGot = r));
const ws = new WebSocket(b.replace(/^http/, "ws") + "/ws", "switchboard.v1");
ws.on("open", () => ws.send(JSON.stringify({ type: "subscribe", id: "s1", filter: "chat/#" })));
ws.on("message", (raw) => {
  const f = JSON.parse(raw.toString());
  if (f.type === "subscribed") wsReady();
  else if (f.type === "message") wsGot(f);
  else if (f.type === "error") console.error("ws error frame", JSON.stringify(f));
});

await Promise.all([sseOpen, wsOpen]);
const res = await fetch(`${a}/topics/chat/room1`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ text: "hello from node A" }),
});
const receipt = await res.json();
const [sse, wsFrame] = await Promise.all([sseMsg, wsMsg]);
clearTimeout(timeout);
es.close();
ws.close();
console.log(JSON.stringify({ status: res.status, receipt, sse, ws: wsFrame }));
process.exit(0);
