// Headless Chromium keeps the hub's page open while the hub restarts (a new
// process: a new broker epoch, so the history the panes would resume from
// is gone). Every pane must reconnect by itself and say plainly that
// messages may have been missed — a gap is never silent — then carry on.
//
// Usage: node browser-hub-restart.mjs BASE_URL CHROMIUM_PATH SCREENSHOT_PATH
// Protocol with the Go test: the script prints "RESTART" on stdout and waits
// for a line "RESTARTED" on stdin; its last stdout line is a JSON summary.
import readline from "node:readline";
import { chromium } from "playwright-core";

const [base, executablePath, screenshot] = process.argv.slice(2);
const panes = ["sse", "ws", "poll"];
const input = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
let page;
try {
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(20_000);
  await page.goto(`${base}/`);
  await page.fill("#filter", "demo/#");
  await page.click("#subscribe");
  await allState("open");
  await publishWS("demo/a", "before restart");
  await allCount("li.msg", 1);

  console.log("RESTART");
  const { value } = await input.next();
  if (value !== "RESTARTED") throw new Error(`expected RESTARTED on stdin, got ${value}`);

  // Each pane reconnects by itself and reports the gap.
  await allCount("li.note", 1);
  await allState("open");
  await publishWS("demo/b", "after restart");
  await allCount("li.msg", 2);

  await page.screenshot({ path: screenshot, fullPage: true });
  const summary = {};
  for (const p of panes) summary[p] = await paneSummary(p);
  console.log(JSON.stringify(summary));
} catch (err) {
  if (page) {
    await page.screenshot({ path: screenshot, fullPage: true }).catch(() => {});
    const summary = {};
    for (const p of panes) summary[p] = await paneSummary(p).catch((e) => String(e));
    console.error(JSON.stringify(summary));
  }
  throw err;
} finally {
  await browser.close();
  process.stdin.destroy();
}

async function publishWS(topic, message) {
  await page.fill("#topic", topic);
  await page.fill("#message", message);
  await page.click("#publish-ws");
  await page.waitForFunction((topic) => {
    const s = document.querySelector("#publish-status");
    return s.dataset.topic === topic && s.textContent.startsWith("published over WebSocket");
  }, topic);
}

async function allState(state) {
  for (const p of panes) await page.waitForSelector(`#${p} .state[data-state="${state}"]`);
}

async function allCount(selector, n) {
  for (const p of panes) {
    await page.waitForFunction(([p, s, n]) => document.querySelectorAll(`#${p} ${s}`).length >= n, [p, selector, n])
      .catch(async (e) => { throw new Error(`pane ${p}: ${JSON.stringify(await paneSummary(p))}: ${e.message}`); });
  }
}

async function paneSummary(p) {
  return page.evaluate((p) => ({
    state: document.querySelector(`#${p} .state`).textContent,
    cursor: document.querySelector(`#${p} .last-cursor`).textContent,
    reconnects: Number(document.querySelector(`#${p} .reconnects`).textContent),
    messages: [...document.querySelectorAll(`#${p} li.msg`)].map((li) => ({ data: li.querySelector(".data").textContent, cursor: li.dataset.cursor })),
    notes: [...document.querySelectorAll(`#${p} li.note`)].map((li) => li.textContent),
  }), p);
}
