// switchboard.mjs across a restart of the hub (a new process on the same
// address, on a broker that keeps its history: Redis): a headless Chromium
// page importing the hub's /switchboard.mjs and a Node client (npm ws)
// subscribe to jsr/#; the Go test publishes while the hub is down; both
// reconnect by themselves, resume from their cursors and miss nothing.
//
// Usage: node jsclient-hub-restart.mjs BASE_URL CHROMIUM_PATH N
// Protocol with the Go test: prints "READY" once both are subscribed, then
// waits for "RESTARTED" on stdin; its last line is a JSON summary, printed
// once each client has N messages.
import readline from "node:readline";
import WebSocket from "ws";
import { chromium } from "playwright-core";
import { connect } from "../../../ws/js/switchboard.mjs";

const [base, executablePath, nText] = process.argv.slice(2);
const n = Number(nText);
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const deadline = (p, what) => Promise.race([p, new Promise((_, rej) => setTimeout(() => rej(new Error("timeout: " + what)), 30_000))]);
const t0 = Date.now();
try {
  const page = await browser.newPage();
  await page.goto(`${base}/`); // the hub's page: its origin is the hub's
  // In the page: a client from the hub, its events and states kept on window.
  await page.evaluate(async () => {
    const { connect } = await import("/switchboard.mjs");
    const seen = (window.seen = { events: [], states: [] });
    const c = connect("/ws", { minBackoff: 50, maxBackoff: 500, onState: (s) => seen.states.push(s) });
    const sub = c.subscribe("jsr/#", {
      onMessage: (m) => seen.events.push(m.text()),
      onGap: () => seen.events.push("gap"),
    });
    await sub.ready;
  });
  const node = { events: [], states: [] };
  // The client is "open" again when the hub answers its greeting ping,
  // which may come after the messages its resubscription replays.
  let reopened;
  const nodeReopened = new Promise((resolve) => { reopened = resolve; });
  let restarted = false;
  const c = connect(base + "/ws", { WebSocket, minBackoff: 50, maxBackoff: 500, onState: (s, d) => {
    node.states.push(s);
    console.error("node state", s, Date.now() - t0, JSON.stringify(d ?? null));
    if (s === "open" && restarted) reopened();
  } });
  const sub = c.subscribe("jsr/#");
  await deadline(sub.ready, "node subscribed");
  const reading = (async () => {
    for await (const ev of sub) {
      node.events.push(ev.type === "gap" ? "gap" : ev.text());
      if (node.events.length >= n) break;
    }
  })();

  console.log("READY");
  const { value } = await input.next();
  console.error("restarted", Date.now() - t0);
  if (value !== "RESTARTED") throw new Error(`expected RESTARTED on stdin, got ${value}`);
  restarted = true;
  if (node.states.at(-1) === "open" && node.states.includes("reconnecting")) reopened();

  const dump = () => JSON.stringify({ ...node, t: Date.now() - t0, readyState: c.sock?.readyState, state: c.state,
    subs: [...c.all].map((s) => ({ sid: s.sid, cursor: s.cursor, head: s.head })), pending: [...c.pending.keys()], outbox: c.outbox.length });
  await deadline(reading, "node messages").catch((e) => { throw new Error(e.message + ": " + dump()); });
  await deadline(nodeReopened, "node open again");
  console.error("node done", Date.now() - t0);
  await deadline(page.waitForFunction((n) => window.seen.events.length >= n && window.seen.states.at(-1) === "open", n, { timeout: 30_000 }), "page messages and open again");
  const chromiumSeen = await page.evaluate(() => window.seen);
  console.error("done", Date.now() - t0);
  console.log(JSON.stringify({ node, chromium: chromiumSeen }));
  c.close();
} finally {
  await browser.close();
  process.stdin.destroy();
}
