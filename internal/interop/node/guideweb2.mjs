// More browser clients of the guide, each on a page of its own in headless
// Chromium against the hub (pages in guideweb/, the guide's snippets
// unchanged but for the URL, served from the hub's origin through a
// playwright route):
//   mqtt:  "MQTT over WebSockets" (MQTT.js's browser bundle, which the page
//          loads from unpkg.com; the route serves node_modules' copy),
//   wsapi: "WebSocket API in Browsers" (sends 'Hello Server!' on open).
// Prints one JSON object: what each page showed, and any page errors.
// Usage: node guideweb2.mjs BASE_URL CHROMIUM_PATH [PAGES [MQTT_ADDR]]
// PAGES is "mqtt,wsapi" by default. Without MQTT_ADDR the mqtt page's
// second message is published through the hub's REST API; with it (for
// examples/sensors, which has none), by an MQTT.js device on that TCP
// address.
import { readFile } from "node:fs/promises";
import mqtt from "mqtt";
import { chromium } from "playwright-core";

const [base, executablePath, pagesArg = "mqtt,wsapi", mqttAddr] = process.argv.slice(2);
const pages = pagesArg.split(",");
const dir = new URL("./guideweb/", import.meta.url);
const mqttBundle = new URL("./node_modules/mqtt/dist/mqtt.min.js", import.meta.url);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
    // See guideweb.mjs: a routed page stands for a page the hub serves.
    "--disable-features=LocalNetworkAccessChecks"],
});

const publish = async (topic, body, contentType) => {
  const r = await fetch(`${base}/topics/${topic}`, { method: "POST", body, headers: { "Content-Type": contentType } });
  if (r.status !== 200) throw new Error(`publish ${topic}: ${r.status} ${await r.text()}`);
};

const result = { pages: {}, problems: [] };
try {
  const context = await browser.newContext();
  // Nothing leaves the machine: only the hub and the routes below answer.
  await context.route((u) => !u.href.startsWith(base + "/"), (route) => {
    result.problems.push(`unexpected request ${route.request().url()}`);
    return route.abort();
  });
  await context.route("https://unpkg.com/mqtt/dist/mqtt.min.js", async (route) =>
    route.fulfill({ status: 200, contentType: "text/javascript", body: await readFile(mqttBundle) }));
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
  const text = (page, id) => page.evaluate((id) => document.getElementById(id).innerText, id);
  const until = async (page, name, id, line) => {
    const deadline = Date.now() + 20000;
    for (;;) {
      const t = await text(page, id);
      if (t.split("\n").includes(line)) return;
      if (Date.now() > deadline) throw new Error(`${name}: no line ${JSON.stringify(line)} in #${id}:\n${t}`);
      await page.waitForTimeout(50);
    }
  };

  // MQTT over WebSockets: once connected (and subscribed to
  // notifications/#, sent before any publish), a person types a message
  // and clicks Send; it comes back through the subscription. Then a
  // text/plain "hello world" through the hub's REST API (or a device).
  if (pages.includes("mqtt")) {
    const mq = await open("mqtt");
    await until(mq, "mqtt", "out", "Connected to MQTT broker via WebSockets");
    await mq.fill("#message-input", "hello from the browser");
    await mq.click("#send-button");
    await until(mq, "mqtt", "messages-list", "notifications/browser: hello from the browser");
    if (mqttAddr) {
      const device = await mqtt.connectAsync(`mqtt://${mqttAddr}`, { reconnectPeriod: 0 });
      await device.publishAsync("notifications/system", "hello world", { qos: 1 });
      await device.endAsync();
    } else {
      await publish("notifications/system", "hello world", "text/plain");
    }
    await until(mq, "mqtt", "messages-list", "notifications/system: hello world");
    result.pages.mqtt = { list: await text(mq, "messages-list"), out: await text(mq, "out"),
      input: await mq.inputValue("#message-input") };
    await mq.close();
  }

  // WebSocket API: the snippet sends 'Hello Server!' on open and logs what
  // comes back. Then, as a person would in the console, a guide-form
  // subscribe on the same socket, a publish, and the snippet's commented
  // socket.close().
  if (pages.includes("wsapi")) {
    const wa = await open("wsapi");
    await wa.waitForFunction(() => document.getElementById("out").innerText.includes("Message from server:"));
    result.pages.wsapiOpen = await wa.evaluate(() => socket.readyState === WebSocket.OPEN);
    await wa.evaluate(() => socket.send(JSON.stringify({ type: "subscribe", topics: ["system-notifications"] })));
    await wa.waitForFunction(() => document.getElementById("out").innerText.includes('"type":"subscribed"'));
    await publish("system-notifications", "hello world", "text/plain");
    await wa.waitForFunction(() => document.getElementById("out").innerText.includes('"type":"message"'));
    await wa.evaluate(() => socket.close());
    await wa.waitForFunction(() => document.getElementById("out").innerText.includes("Connection closed"));
    result.pages.wsapi = await text(wa, "out");
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
