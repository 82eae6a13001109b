// Headless Chromium (playwright-core): a page's native EventSource reads
// GraphQL over SSE (distinct connections, GET): a subscription replayed
// from a cursor plus a live mutation sent with fetch, and a query whose
// "complete" event (an empty data field) must reach the listener.
// Usage: node graphql-chromium.mjs BASE_URL CHROMIUM_PATH SINCE
import { chromium } from "playwright-core";

const [base, executablePath, since] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/blank`);
  const result = await page.evaluate(async (since) => {
    const timeout = (ms) => new Promise((_, rej) => setTimeout(() => rej(new Error("timeout")), ms));
    const url = (query, variables) =>
      "/graphql?query=" + encodeURIComponent(query) + (variables ? "&variables=" + encodeURIComponent(JSON.stringify(variables)) : "");
    const out = {};
    // 1. Subscription: two replayed events, then one published live.
    out.events = await Promise.race([timeout(8000), new Promise((resolve, reject) => {
      const got = [];
      const es = new EventSource(url("subscription S($s: String) { messages(filter: \"web/#\", since: $s) { topic data } }", { s: since }));
      es.addEventListener("next", async (ev) => {
        const r = JSON.parse(ev.data);
        got.push(r.data.messages);
        if (got.length === 2) {
          const res = await fetch("/graphql", { method: "POST", headers: { "content-type": "application/json" },
            body: JSON.stringify({ query: 'mutation { publish(topic: "web/live", data: "from the browser") { id } }' }) });
          if (!res.ok) reject(new Error("mutation " + res.status));
        }
        if (got.length === 3) {
          es.close();
          resolve(got.map((m) => [m.topic, m.data]));
        }
      });
      es.onerror = () => reject(new Error("EventSource error"));
    })]);
    // 2. A query: next, then complete fires (its data field is empty).
    out.query = await Promise.race([timeout(8000), new Promise((resolve) => {
      const seen = [];
      const es = new EventSource(url('{ messages(topic: "web/a") { data } }'));
      es.addEventListener("next", (ev) => seen.push("next " + ev.data));
      es.addEventListener("complete", (ev) => {
        seen.push("complete " + JSON.stringify(ev.data));
        es.close(); // otherwise EventSource reconnects when the stream ends
        resolve(seen);
      });
    })]);
    return out;
  }, since);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
