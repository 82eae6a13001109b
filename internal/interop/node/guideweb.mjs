// The browser clients of the guide (WebSocket pub/sub, SSE, long polling),
// each on a page of its own in headless Chromium, against the hub: the
// pages in guideweb/ hold the guide's snippets unchanged but for the URL.
// The pages are served from the hub's origin (playwright routes
// /guide/*), so their WebSocket is same-origin. Prints one JSON object:
// what each page showed, and any page errors.
// Usage: node guideweb.mjs HUB_BASE_URL CHROMIUM_PATH
import { readFile } from "node:fs/promises";
import { chromium } from "playwright-core";

const [base, executablePath] = process.argv.slice(2);
const dir = new URL("./guideweb/", import.meta.url);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
    // A routed page has no IP address space, so Local Network Access
    // would treat it as a public site calling 127.0.0.1; it stands for a
    // page the hub serves itself.
    "--disable-features=LocalNetworkAccessChecks"],
});

const publish = async (topic, body, contentType, headers = {}) => {
  const r = await fetch(`${base}/topics/${topic}`, { method: "POST", body, headers: { "Content-Type": contentType, ...headers } });
  if (r.status !== 200) throw new Error(`publish ${topic}: ${r.status} ${await r.text()}`);
};

const result = { pages: {}, problems: [] };
try {
  const context = await browser.newContext();
  await context.route(`${base}/guide/*`, async (route) => {
    const name = new URL(route.request().url()).pathname.slice("/guide/".length);
    const type = name.endsWith(".js") ? "text/javascript" : "text/html; charset=utf-8";
    await route.fulfill({ status: 200, contentType: type, body: await readFile(new URL(name, dir)) });
  });
  const open = async (name) => {
    const page = await context.newPage();
    page.on("pageerror", (e) => result.problems.push(`${name}: ${e.message}`));
    await page.goto(`${base}/guide/${name}.html`);
    return page;
  };
  const shown = (page) => page.evaluate(() => document.getElementById("out").textContent);
  const until = async (page, name, line, again) => {
    const deadline = Date.now() + 20000;
    for (;;) {
      const text = await shown(page);
      if (text.split("\n").includes(line)) return;
      if (Date.now() > deadline) throw new Error(`${name}: no line ${JSON.stringify(line)} in:\n${text}`);
      if (again) await again();
      await page.waitForTimeout(again ? 300 : 50);
    }
  };

  // WebSocket: the snippet subscribes and publishes {userId:42} on open;
  // its own message proves the subscription, then a text/plain publish.
  const ws = await open("ws");
  await until(ws, "ws", 'Message on user-events: {"userId":42,"action":"login"}');
  await publish("system-notifications", "hello world", "text/plain");
  await until(ws, "ws", "Message on system-notifications: hello world");
  result.pages.ws = await shown(ws);
  await ws.close();

  // SSE: the snippet parses every event's data as JSON; once the stream
  // is open, JSON payloads (a named update and alert event among them).
  const sse = await open("sse");
  await sse.waitForFunction(() => evtSource.readyState === EventSource.OPEN);
  await publish("user-events", JSON.stringify({ userId: 42, action: "login" }), "application/json");
  await publish("system-notifications", JSON.stringify({ temperature: 23.4 }), "application/json", { "Sb-Header-Event": "update" });
  await publish("system-notifications", JSON.stringify("hello world"), "application/json", { "Sb-Header-Event": "alert" });
  await until(sse, "sse", 'Received data: {"userId":42,"action":"login"}');
  await until(sse, "sse", 'Update event: {"temperature":23.4}');
  await until(sse, "sse", "Alert event: hello world");
  result.pages.sse = await shown(sse);
  await sse.close();

  // (The SSE page is closed: its JSON.parse would throw on the text/plain
  // publishes below, as with any server.)
  // Long polling: the snippet polls without a cursor (from now), so a
  // message published between two of its polls is not for it: publish
  // until one lands in a held poll.
  const lp = await open("longpoll");
  const hasText = async () => (await shown(lp)).includes('"text":"hello world"');
  const deadline = Date.now() + 20000;
  while (!(await hasText())) {
    if (Date.now() > deadline) throw new Error("longpoll: hello world never shown:\n" + (await shown(lp)));
    await publish("system-notifications", "hello world", "text/plain");
    await lp.waitForTimeout(300);
  }
  result.pages.longpoll = await shown(lp);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
