// npm graphql-ws (the graphql-transport-ws protocol) against graphqlsub:
// replay from a cursor, a message published over REST reaching the
// subscriber live, complete from the client, a query and a mutation, and
// the server's close codes for a bad message (4400), a duplicate id (4409),
// a late connection_init (4408) and refused credentials (4403).
// Usage: node graphql-ws-client.mjs <base http url> <since cursor>
// Prints one JSON line for the Go test to check.
import { createClient } from "graphql-ws";
import WebSocket from "ws";

const base = process.argv[2];
const since = process.argv[3];
const wsURL = base.replace(/^http/, "ws") + "/graphql";
const result = {};
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms).unref());

// closedWith connects a client and resolves with the close event's code and
// reason after the client's first connection attempt closes.
function closedWith(opts, run) {
  return Promise.race([
    new Promise((resolve) => {
      const client = createClient({
        url: wsURL,
        webSocketImpl: opts.webSocketImpl || WebSocket,
        retryAttempts: 0,
        ...opts,
        on: {
          closed: (ev) => {
            resolve({ code: ev.code, reason: ev.reason });
          },
        },
      });
      // Lazy: the first subscribe opens the connection.
      (run || ((c) => c.subscribe({ query: "{ __typename }" }, { next() {}, error() {}, complete() {} })))(client);
    }),
    deadline(5000, "close " + JSON.stringify(Object.keys(opts))),
  ]);
}

const good = { token: "good" };
const client = createClient({ url: wsURL, webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: good });

// 1. Replay after a cursor, then a live message published over REST.
const events = [];
await Promise.race([
  new Promise((resolve, reject) => {
    let published = false;
    const unsubscribe = client.subscribe(
      {
        query: "subscription S($f: String!, $s: String) { messages(filter: $f, since: $s) { topic data cursor } }",
        variables: { f: "interop/#", s: since },
      },
      {
        next: async (v) => {
          if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
          events.push(v.data.messages);
          if (events.length === 2 && !published) {
            published = true;
            const r = await fetch(base + "/topics/interop/live", { method: "POST", body: "from REST" });
            if (!r.ok) reject(new Error("REST publish: " + r.status));
          }
          if (events.length === 3) {
            unsubscribe(); // sends complete
            resolve();
          }
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => {},
      },
    );
  }),
  deadline(10000, "subscription"),
]);
result.events = events.map((m) => [m.topic, m.data]);

// 2. A mutation and a query on the same connection (iterate API).
const run = async (query) => {
  for await (const r of client.iterate({ query })) return r;
};
result.mutation = await run('mutation { publish(topic: "interop/m", data: "via graphql") { topic data } }');
result.query = await run('{ messages(topic: "interop/m") { data } }');
// A validation error arrives through the sink's error callback.
result.validation = await new Promise((resolve) =>
  client.subscribe({ query: "subscription { nope }" }, {
    next: () => resolve("unexpected next"),
    error: (errs) => resolve(Array.isArray(errs) ? errs[0].message : String(errs)),
    complete: () => resolve("unexpected complete"),
  }),
);
await client.dispose();

// 3. Close codes.
class BadSubscribe extends WebSocket {
  send(data) {
    if (String(data).includes('"subscribe"')) data = '{"type":"subscribe","id":"x"}';
    super.send(data);
  }
}
result.badMessage = await closedWith({ webSocketImpl: BadSubscribe, connectionParams: good }, (c) =>
  c.subscribe({ query: "{ __typename }" }, { next() {}, error() {}, complete() {} }),
);
result.duplicateID = await closedWith({ connectionParams: good, generateID: () => "same" }, (c) => {
  const sink = { next() {}, error() {}, complete() {} };
  const q = { query: 'subscription { messages(filter: "dup") { id } }' };
  c.subscribe(q, sink);
  c.subscribe(q, sink);
});
result.initTimeout = await closedWith({
  connectionParams: () => new Promise((resolve) => setTimeout(() => resolve(good), 3000)),
});
result.forbidden = await closedWith({ connectionParams: { token: "bad" } });

console.log(JSON.stringify(result));
process.exit(0);
