// Headless Chromium (playwright-core) drives the hub's own page (GET /):
// subscribe, publish over WebSocket, see the message in the SSE, WebSocket
// and long-poll panes; disconnect, publish over REST, reconnect and see
// nothing lost or repeated; publish with mosquitto_pub (when an MQTT address
// is given) and see it too. Saves a screenshot and prints a JSON summary.
//
// Usage: node browser-hub.mjs BASE_URL CHROMIUM_PATH SCREENSHOT_PATH [MQTT_HOST:PORT]
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const [base, executablePath, screenshot, mqttAddr] = process.argv.slice(2);
const panes = ["sse", "ws", "poll"];
const timeout = 15_000;
// What each pane must show, in order, as the scenario goes on.
const want = { sse: [], ws: [], poll: [] };

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const problems = [];
let page;
try {
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(timeout);
  // Any console error (a CSP violation, an uncaught exception) fails the run.
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

  // Before the page subscribes: a retained value (new subscribers get it
  // first, with its old cursor) and then an ordinary message. Resuming from
  // the retained message's cursor would wrongly replay the second one.
  await restPublish("demo/state", "retained state", true);
  await restPublish("demo/old", "history before subscribing", false);

  await page.goto(`${base}/`);
  // A malformed filter gets a clear message and opens no connection.
  await page.fill("#filter", "demo/#/x");
  await page.click("#subscribe");
  await page.waitForFunction(() => document.querySelector("#subscribe-status").textContent.includes("'#' must be the last level"));
  await allState("idle");
  await page.fill("#filter", "demo/#");
  await page.click("#subscribe");
  await allState("open");
  // SSE and WebSocket subscriptions start with the retained value; long
  // polling starts from now.
  want.sse.push("retained state");
  want.ws.push("retained state");
  await allHave(want);

  // 1. Disconnect every pane, publish twice over REST, reconnect: nothing
  //    lost, nothing repeated, nothing from before the subscription.
  await page.click("#disconnect");
  await allState("closed");
  await publish("rest", "demo/two", "while you were away");
  await publish("rest", "demo/three", '{"n":3}');
  await page.click("#reconnect");
  await allState("open");
  add("while you were away", '{"n":3}');
  await allHave(want);

  // 2. Publish from the page over WebSocket.
  await publish("ws", "demo/one", '{"n":1}');
  add('{"n":1}');
  await allHave(want);

  // 3. A message from an MQTT device.
  if (mqttAddr) {
    const [host, port] = splitHostPort(mqttAddr);
    execFileSync("mosquitto_pub", ["-h", host, "-p", port, "-q", "1", "-t", "demo/mqtt", "-m", "from mosquitto_pub"],
      { timeout });
    add("from mosquitto_pub");
    await allHave(want);
  }
  // A message outside the filter never shows up: publish one, then one
  // inside, and wait for the second; the first must be absent.
  await publish("rest", "other/topic", "not for demo/#");
  await publish("ws", "demo/last", '"last"');
  add('"last"');
  await allHave(want);

  await page.screenshot({ path: screenshot, fullPage: true });
  const summary = {};
  for (const p of panes) summary[p] = await paneSummary(p);
  console.log(JSON.stringify({ expected: want, panes: summary, problems }));
} catch (err) {
  if (page) {
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    const summary = {};
    for (const p of panes) summary[p] = await paneSummary(p).catch((e) => String(e));
    console.error(JSON.stringify({ panes: summary, problems }));
  }
  throw err;
} finally {
  await browser.close();
}

async function publish(via, topic, message) {
  await page.fill("#topic", topic);
  await page.fill("#message", message);
  await page.click(via === "ws" ? "#publish-ws" : "#publish-rest");
  const want = via === "ws" ? "published over WebSocket" : "published over REST";
  await page.waitForFunction(
    ([want, topic]) => {
      const s = document.querySelector("#publish-status");
      return s.textContent.startsWith(want) && s.dataset.topic === topic;
    },
    [want, topic],
  ).catch(async (e) => {
    throw new Error(`publish ${via} ${topic}: status "${await page.textContent("#publish-status")}": ${e.message}`);
  });
}

async function allState(state) {
  for (const p of panes) {
    await page.waitForSelector(`#${p} .state[data-state="${state}"]`).catch(async (e) => {
      throw new Error(`pane ${p} never ${state}: "${await page.textContent(`#${p} .state`)}": ${e.message}`);
    });
  }
}

// allHave waits until every pane shows at least the messages want[pane]
// (the Go test checks the exact lists at the end).
async function allHave(want) {
  for (const p of panes) {
    await page.waitForFunction(
      ([p, n]) => document.querySelectorAll(`#${p} li.msg`).length >= n,
      [p, want[p].length],
    ).catch(async (e) => {
      throw new Error(`pane ${p}: ${JSON.stringify(await paneSummary(p))}, want ${JSON.stringify(want[p])}: ${e.message}`);
    });
  }
}

function add(...texts) {
  for (const p of panes) want[p].push(...texts);
}

async function restPublish(topic, body, retain) {
  const r = await fetch(`${base}/topics/${topic}${retain ? "?retain=true" : ""}`, { method: "POST", body });
  if (!r.ok) throw new Error(`REST publish ${topic}: HTTP ${r.status} ${await r.text()}`);
}

async function paneSummary(p) {
  return page.evaluate((p) => ({
    state: document.querySelector(`#${p} .state`).textContent,
    cursor: document.querySelector(`#${p} .last-cursor`).textContent,
    reconnects: Number(document.querySelector(`#${p} .reconnects`).textContent),
    messages: [...document.querySelectorAll(`#${p} li.msg`)].map((li) => ({
      topic: (li.querySelector(".topic")?.textContent ?? "").trim(),
      data: li.querySelector(".data").textContent,
      cursor: li.dataset.cursor,
      retained: li.dataset.retained === "true",
    })),
    notes: [...document.querySelectorAll(`#${p} li.note`)].map((li) => li.textContent),
  }), p);
}

function splitHostPort(a) {
  const i = a.lastIndexOf(":");
  return [a.slice(0, i).replace(/^\[|\]$/g, ""), a.slice(i + 1)];
}
