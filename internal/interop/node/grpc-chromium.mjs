// Headless Chromium (playwright-core): a page speaks gRPC-Web (JSON
// messages, framed by hand) to grpcx with fetch, no proxy: a server stream,
// a unary publish, and an error code. Usage:
//   node grpc-chromium.mjs BASE_URL CHROMIUM_PATH
import { chromium } from "playwright-core";

const [base, executablePath, ...pageURLs] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync"],
});
try {
  for (const pageURL of pageURLs) {
    const page = await browser.newPage();
    await page.goto(pageURL);
    const result = await page.evaluate(async (base) => {
      const svc = `${base}/switchboard.pubsub.v1.PubSubService`;
      const headers = { "Content-Type": "application/grpc-web+json", "X-Grpc-Web": "1" };
      const frame = (obj) => {
        const body = new TextEncoder().encode(JSON.stringify(obj));
        const out = new Uint8Array(5 + body.length);
        new DataView(out.buffer).setUint32(1, body.length);
        out.set(body, 5);
        return out;
      };
      // frames reads gRPC-Web frames from a byte stream.
      async function* frames(reader) {
        let buf = new Uint8Array(0);
        for (;;) {
          while (buf.length >= 5) {
            const n = new DataView(buf.buffer, buf.byteOffset).getUint32(1);
            if (buf.length < 5 + n) break;
            const flags = buf[0];
            const text = new TextDecoder().decode(buf.slice(5, 5 + n));
            buf = buf.slice(5 + n);
            yield flags & 0x80 ? { trailer: text } : { message: JSON.parse(text) };
          }
          const { value, done } = await reader.read();
          if (done) return;
          const next = new Uint8Array(buf.length + value.length);
          next.set(buf);
          next.set(value, buf.length);
          buf = next;
        }
      }
      const out = {};
      const abort = new AbortController();
      const sub = await fetch(`${svc}/Subscribe`, {
        method: "POST", headers, body: frame({ filters: ["browser/#"] }), signal: abort.signal,
      });
      out.subscribeStatus = sub.status;
      const events = frames(sub.body.getReader());
      out.opened = "opened" in (await events.next()).value.message;

      const pub = await fetch(`${svc}/Publish`, {
        method: "POST", headers, body: frame({ topic: "browser/1", data: btoa("hi from chromium") }),
      });
      const pubFrames = [];
      for await (const f of frames(pub.body.getReader())) pubFrames.push(f);
      out.publishTrailer = /^grpc-status: ?0\r?$/m.test(pubFrames.at(-1).trailer.toLowerCase());
      const cursor = pubFrames[0].message.cursor;

      const msg = (await events.next()).value.message.message;
      out.data = atob(msg.data);
      out.cursorMatches = msg.cursor === cursor && msg.topic === "browser/1";
      abort.abort();

      const bad = await fetch(`${svc}/Publish`, { method: "POST", headers, body: frame({ topic: "bad/#" }) });
      out.errorStatus = bad.headers.get("grpc-status");
      return out;
    }, base);
    console.log(JSON.stringify(result));
    await page.close();
  }
} finally {
  await browser.close();
}
