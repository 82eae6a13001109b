// npm graphql-ws: subscribe to Subscription.messages(filter, since), print
// the first n events as one JSON line, then complete and exit.
// Usage: node graphql-ws-take.mjs <ws url> <filter> <since> <n>
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const [url, filter, since, n] = process.argv.slice(2);
const client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0 });
const got = [];
const timer = setTimeout(() => {
  console.error("timeout after", JSON.stringify(got));
  process.exit(2);
}, 10000);
await new Promise((resolve, reject) => {
  const stop = client.subscribe(
    {
      query: "subscription S($f: String!, $s: String) { messages(filter: $f, since: $s) { topic data dataBase64 } }",
      variables: { f: filter, s: since },
    },
    {
      next: (v) => {
        if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
        got.push(v.data.messages);
        if (got.length === Number(n)) {
          stop();
          resolve();
        }
      },
      error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
      complete: resolve,
    },
  );
});
clearTimeout(timer);
await client.dispose();
console.log(JSON.stringify(got));
process.exit(0);
