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
const timeout = 10_000;

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

  await page.goto(`${base}/`);
  await page.fill("#filter", "demo/#");
  await page.click("#subscribe");
  await allState("open");

  // 1. Publish from the page over WebSocket.
  await publish("ws", "demo/one", '{"n":1}');
  await allHave(['{"n":1}']);

  // 2. Disconnect every pane, publish twice over REST, reconnect.
  await page.click("#disconnect");
  await allState("closed");
  await publish("rest", "demo/two", "while you were away");
  await publish("rest", "demo/three", '{"n":3}');
  await page.click("#reconnect");
  await allState("open");
  const afterReconnect = ['{"n":1}', "while you were away", '{"n":3}'];
  await allHave(afterReconnect);

  // 3. A message from an MQTT device.
  let expected = afterReconnect;
  if (mqttAddr) {
    const [host, port] = splitHostPort(mqttAddr);
    execFileSync("mosquitto_pub", ["-h", host, "-p", port, "-q", "1", "-t", "demo/mqtt", "-m", "from mosquitto_pub"],
      { timeout });
    expected = [...afterReconnect, "from mosquitto_pub"];
    await allHave(expected);
  }
  // A message outside the filter never shows up: publish one, then one
  // inside, and wait for the second; the first must be absent.
  await publish("rest", "other/topic", "not for demo/#");
  await publish("ws", "demo/last", '"last"');
  expected = [...expected, '"last"'];
  await allHave(expected);

  await page.screenshot({ path: screenshot, fullPage: true });
  const summary = {};
  for (const p of panes) summary[p] = await paneSummary(p);
  console.log(JSON.stringify({ expected, panes: summary, problems }));
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

// allHave waits until every pane shows exactly the messages want, in order.
async function allHave(want) {
  for (const p of panes) {
    await page.waitForFunction(
      ([p, want]) => {
        const got = [...document.querySelectorAll(`#${p} li.msg .data`)].map((e) => e.textContent);
        return got.length >= want.length;
      },
      [p, want],
    ).catch(async (e) => {
      throw new Error(`pane ${p}: ${JSON.stringify(await paneSummary(p))}, want ${JSON.stringify(want)}: ${e.message}`);
    });
  }
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
    })),
    notes: [...document.querySelectorAll(`#${p} li.note`)].map((li) => li.textContent),
  }), p);
}

function splitHostPort(a) {
  const i = a.lastIndexOf(":");
  return [a.slice(0, i).replace(/^\[|\]$/g, ""), a.slice(i + 1)];
}
