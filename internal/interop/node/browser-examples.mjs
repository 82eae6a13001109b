// Headless Chromium (playwright-core) drives the pages of the examples, as a
// user would. One scenario per run; prints a JSON summary and saves a
// screenshot.
//
// Usage: node browser-examples.mjs SCENARIO BASE_URL CHROMIUM_PATH SCREENSHOT_PATH [MQTT_HOST:PORT]
// Scenarios: chat, sensors, notifications, ticker.
import { execFileSync, spawn } from "node:child_process";
import { chromium } from "playwright-core";

const [scenario, base, executablePath, screenshot, mqttAddr] = process.argv.slice(2);
const timeout = 15_000;

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
const problems = [];
let shotPage;
try {
  const scenarios = { chat, sensors, notifications, ticker };
  if (!scenarios[scenario]) throw new Error(`unknown scenario ${scenario}`);
  const summary = await scenarios[scenario]();
  await shotPage.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ scenario, summary, problems }));
} catch (err) {
  if (shotPage) await shotPage.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
  console.error(JSON.stringify({ scenario, problems }));
  throw err;
} finally {
  await browser.close();
}

async function newPage(context) {
  const page = await (context ?? browser).newPage({ viewport: { width: 1000, height: 700 } });
  page.setDefaultTimeout(timeout);
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  return page;
}

// waitText waits until the element's text contains want.
async function waitText(page, selector, want) {
  await page.waitForFunction(
    ([s, w]) => [...document.querySelectorAll(s)].some((e) => e.textContent.includes(w)),
    [selector, want],
  ).catch(async (e) => {
    const got = await page.$$eval(selector, (els) => els.map((x) => x.textContent)).catch(() => []);
    throw new Error(`${selector}: want "${want}", have ${JSON.stringify(got)}: ${e.message}`);
  });
}

function texts(page, selector) {
  return page.$$eval(selector, (els) => els.map((e) => e.textContent));
}

// chat: two people in one room; join notice, member list (request/reply),
// a message, and a leave notice when one closes the tab.
async function chat() {
  const join = async (name) => {
    const page = await newPage(await browser.newContext());
    await page.goto(`${base}/`);
    await page.fill("#name", name);
    await page.fill("#room", "lobby");
    await page.click("#join button");
    await waitText(page, "#status", `connected to lobby as ${name}`);
    return page;
  };
  const ann = await join("ann");
  shotPage = ann;
  const bob = await join("bob");
  await waitText(ann, "#log li", "bob joined");
  await waitText(ann, "#members", "ann, bob");
  await bob.fill("#text", "hi ann");
  await bob.click("#send");
  await waitText(ann, "#log li", "bob: hi ann");
  await waitText(bob, "#log li", "bob: hi ann");
  await bob.close();
  await waitText(ann, "#log li", "bob left");
  await waitText(ann, "#members", "In the room: ann");
  return { ann: await texts(ann, "#log li") };
}

// sensors: retained values show at once; a live reading updates the row; a
// device that dies (SIGKILL, no DISCONNECT) is marked offline by its will.
async function sensors() {
  const [host, port] = splitHostPort(mqttAddr);
  const pub = (...args) => execFileSync("mosquitto_pub", ["-h", host, "-p", port, "-q", "1", ...args], { timeout });
  pub("-r", "-t", "sensors/kitchen/status", "-m", "online");
  pub("-r", "-t", "sensors/kitchen/temperature", "-m", "21.5");

  const page = await newPage();
  shotPage = page;
  await page.goto(`${base}/`);
  await waitText(page, "#sensor-kitchen .temp", "21.5 °C");
  await waitText(page, "#sensor-kitchen .state", "online");

  pub("-t", "sensors/kitchen/temperature", "-m", "22.5");
  await waitText(page, "#sensor-kitchen .temp", "22.5 °C");

  // A device that stays connected, with a will, then dies.
  // -d prints the protocol exchange: wait for SUBACK, so the server holds the
  // will before the device dies (killed before its CONNECT, it has none).
  // (stdbuf: line-buffered, or the debug lines sit in a pipe buffer.)
  const sub = spawn("stdbuf", ["-oL", "mosquitto_sub", "-d", "-h", host, "-p", port, "-i", "garage", "-t", "sensors/garage/cmd",
    "--will-topic", "sensors/garage/status", "--will-payload", "offline", "--will-retain", "--will-qos", "1"],
  { stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise((res) => sub.on("exit", res));
  await new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`mosquitto_sub never subscribed: ${seen}`)), timeout);
    sub.stdout.on("data", (d) => {
      seen += d;
      if (seen.includes("received SUBACK")) {
        clearTimeout(timer);
        resolve();
      }
    });
    sub.on("exit", (code) => reject(new Error(`mosquitto_sub exited (${code}): ${seen}`)));
  });
  sub.stdout.resume();
  pub("-r", "-t", "sensors/garage/status", "-m", "online");
  await waitText(page, "#sensor-garage .state", "online");
  sub.kill("SIGKILL");
  await exited;
  await waitText(page, "#sensor-garage .state", "offline");
  return { rows: await texts(page, "#sensors tr") };
}

// notifications: what is sent while the page is closed shows up when it
// comes back (its cursor is in localStorage), and nothing shows twice.
async function notifications() {
  const context = await browser.newContext();
  const watch = async () => {
    const page = await newPage(context);
    await page.goto(`${base}/`);
    await page.fill("#user", "ann");
    await page.click("#who button");
    await waitText(page, "#status", "watching ann");
    return page;
  };
  let page = await watch();
  await page.fill("#text", "first");
  await page.click("#send button");
  await waitText(page, "#list li", "first");
  await page.close();

  const r = await fetch(`${base}/topics/notifications/ann`, { method: "POST", body: "while the page was closed" });
  if (!r.ok) throw new Error(`publish: HTTP ${r.status}`);

  page = await watch();
  shotPage = page;
  await waitText(page, "#list li", "while the page was closed");
  const items = await texts(page, "#list li");
  return { items };
}

// ticker: quotes and alerts arrive as named SSE events.
async function ticker() {
  const page = await newPage();
  shotPage = page;
  await page.goto(`${base}/`);
  await page.waitForFunction(() => document.querySelectorAll("#quotes tr").length >= 2);
  await page.waitForFunction(() => document.querySelectorAll("#alerts li").length >= 1);
  await waitText(page, "#status", "live");
  return { symbols: await texts(page, "#quotes tr td:first-child"), alerts: (await texts(page, "#alerts li")).length };
}

function splitHostPort(a) {
  const i = a.lastIndexOf(":");
  return [a.slice(0, i).replace(/^\[|\]$/g, ""), a.slice(i + 1)];
}
