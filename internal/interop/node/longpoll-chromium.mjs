// Headless Chromium (playwright-core): a page's fetch loop long-polls
// /poll with its cursor while the page publishes over REST, in bursts with
// pauses so that some polls are held and some answer at once. Usage:
// node longpoll-chromium.mjs BASE_URL CHROMIUM_PATH
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
  await page.goto(`${base}/blank`);
  const result = await page.evaluate(async (base) => {
    const n = 60;
    const q = "topic=" + encodeURIComponent("interop/poll/#");
    const first = await (await fetch(`${base}/poll?${q}&timeout=0`)).json();
    const published = [];
    const got = [];
    let polls = 0, gaps = 0;
    const publisher = (async () => {
      for (let i = 0; i < n; i++) {
        const r = await fetch(`${base}/topics/interop/poll/${i % 3}`, { method: "POST", body: JSON.stringify({ n: i }) });
        published.push((await r.json()).cursor);
        if (i % 10 === 9) await new Promise((res) => setTimeout(res, 30));
      }
    })();
    let cursor = first.cursor;
    const deadline = Date.now() + 20000;
    while (got.length < n && Date.now() < deadline) {
      const r = await fetch(`${base}/poll?${q}&timeout=5s&cursor=${encodeURIComponent(cursor)}`, { cache: "no-store" });
      if (!r.ok) throw new Error(`poll: HTTP ${r.status}`);
      const body = await r.json();
      polls++;
      if (body.gap) gaps++;
      for (const m of body.messages) got.push({ cursor: m.cursor, n: m.data.n, topic: m.topic });
      cursor = body.cursor;
    }
    await publisher;
    return { published, got, polls, gaps };
  }, base);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
