// Headless Chromium's WebSocket (playwright-core) against ws.Handler:
// a same-origin page subscribes, publishes and receives its own message and
// a REST publish; a page from another origin is refused by default and
// admitted by a handler whose OriginPatterns list it.
// Usage: node ws-chromium.mjs BASE_URL OTHER_ORIGIN_URL CHROMIUM_PATH
import { chromium } from "playwright-core";

const [base, other, executablePath] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  await page.goto(`${base}/blank`);
  const same = await page.evaluate(async (base) => {
    const url = base.replace(/^http/, "ws") + "/ws";
    const sock = new WebSocket(url, "switchboard.v1");
    const frames = [];
    const waiters = [];
    sock.onmessage = (e) => {
      const f = JSON.parse(e.data);
      frames.push(f);
      for (const w of waiters.splice(0)) w();
    };
    const until = async (pred, what) => {
      const deadline = Date.now() + 5000;
      for (;;) {
        const f = frames.find(pred);
        if (f) return f;
        if (Date.now() > deadline) throw new Error("timeout waiting for " + what + ": " + JSON.stringify(frames));
        await new Promise((r) => { waiters.push(r); setTimeout(r, 200); });
      }
    };
    await new Promise((res, rej) => { sock.onopen = res; sock.onerror = () => rej(new Error("open failed")); });
    const protocol = sock.protocol;
    sock.send(JSON.stringify({ type: "subscribe", id: "s1", filter: "browser/#" }));
    await until((f) => f.type === "subscribed" && f.id === "s1", "subscribed");
    sock.send(JSON.stringify({ type: "publish", id: "p1", topic: "browser/page", data: { from: "chromium" } }));
    const ack = await until((f) => f.type === "ack" && f.id === "p1", "ack");
    const own = await until((f) => f.type === "message" && f.topic === "browser/page", "own message");
    await fetch("/topics/browser/rest", { method: "POST", body: new Uint8Array([1, 2, 3, 255]) });
    const rest = await until((f) => f.type === "message" && f.topic === "browser/rest", "REST message");
    const closed = new Promise((res) => { sock.onclose = (e) => res(e.code); });
    sock.close(1000, "bye");
    return { protocol, ackCursor: ack.cursor, own, rest, closeCode: await closed };
  }, base);

  // Another origin: the page at OTHER tries to open BASE's socket.
  const page2 = await browser.newPage();
  await page2.goto(`${other}/blank`);
  const attempt = (path) => page2.evaluate(async ([base, path]) => {
    const sock = new WebSocket(base.replace(/^http/, "ws") + path, "switchboard.v1");
    return await new Promise((res) => {
      let opened = false;
      sock.onopen = () => { opened = true; sock.close(1000); };
      sock.onclose = (e) => res({ opened, code: e.code });
    });
  }, [base, path]);
  const crossDefault = await attempt("/ws");
  const crossAllowed = await attempt("/ws-open");
  console.log(JSON.stringify({ same, crossDefault, crossAllowed }));
} finally {
  await browser.close();
}
