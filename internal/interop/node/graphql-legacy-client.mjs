// npm subscriptions-transport-ws (the legacy graphql-ws subprotocol)
// against graphqlsub: connection params, a subscription replayed from a
// cursor plus a live REST publish, unsubscribe (stop), and a query.
// Usage: node graphql-legacy-client.mjs <base http url> <since cursor>
import pkg from "subscriptions-transport-ws";
import WebSocket from "ws";

const { SubscriptionClient } = pkg;
const base = process.argv[2];
const since = process.argv[3];
const result = { ka: 0 };
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms).unref());

const client = new SubscriptionClient(
  base.replace(/^http/, "ws") + "/graphql",
  { reconnect: false, connectionParams: { token: "good" } },
  WebSocket,
);
const connected = new Promise((resolve) => client.onConnected(resolve));
await Promise.race([connected, deadline(5000, "connect")]);
result.connected = true;

const events = [];
await Promise.race([
  new Promise((resolve, reject) => {
    let published = false;
    const sub = client
      .request({
        query: "subscription S($f: String!, $s: String) { messages(filter: $f, since: $s) { topic data } }",
        variables: { f: "interop/#", s: since },
      })
      .subscribe({
        next: async (v) => {
          if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
          events.push(v.data.messages);
          if (events.length === 2 && !published) {
            published = true;
            const r = await fetch(base + "/topics/interop/legacy", { method: "POST", body: "from REST to legacy" });
            if (!r.ok) reject(new Error("REST publish: " + r.status));
          }
          if (events.length === 3) {
            sub.unsubscribe(); // sends stop
            resolve();
          }
        },
        error: (e) => reject(new Error(JSON.stringify(e))),
      });
  }),
  deadline(10000, "subscription"),
]);
result.events = events.map((m) => [m.topic, m.data]);

result.query = await Promise.race([
  new Promise((resolve, reject) => {
    client.request({ query: '{ messages(topic: "interop/a", limit: 1) { data } }' }).subscribe({
      next: (v) => resolve(v),
      error: (e) => reject(new Error(JSON.stringify(e))),
    });
  }),
  deadline(5000, "query"),
]);
client.close();
console.log(JSON.stringify(result));
process.exit(0);
