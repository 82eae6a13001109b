// Headless Chromium (playwright-core): a page's EventSource runs the SSE
// scenario (plain and named events, a server-side drop, Last-Event-ID
// resume). Usage: node sse-chromium.mjs BASE_URL CHROMIUM_PATH
import { chromium } from "playwright-core";
import { scenario } from "./sse-scenario.mjs";

const [base, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/blank`);
  const result = await page.evaluate(async ([src, base]) => {
    const run = (0, eval)(`(${src})`);
    return run(base, (url) => new EventSource(url), (...a) => fetch(...a));
  }, [scenario.toString(), base]);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
