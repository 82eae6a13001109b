// switchboard.mjs (ws/js) in headless Chromium (playwright-core): a page of
// the server imports /switchboard.mjs and /scenario.mjs
// (jsclient-scenario.mjs) and runs the scenario with the browser's own
// WebSocket. Any console error fails the run.
// Usage: node jsclient-chromium.mjs BASE_URL CHROMIUM_PATH
import { chromium } from "playwright-core";

const [base, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${base}/blank`);
  const res = await page.evaluate(async (base) => {
    const { connect } = await import("/switchboard.mjs");
    const { run } = await import("/scenario.mjs");
    return run({ connect, WebSocket, base, runtime: "chromium" });
  }, base);
  if (problems.length) throw new Error(problems.join("\n"));
  console.log(JSON.stringify(res));
} finally {
  await browser.close();
}
