// Real GraphQL clients against the gqlgen chat schema
// (examples/gqlgenchat/chat) served by graphqlsub through graphqlsub/gqlgen.
// One scenario per protocol: mutations through the client, a subscription
// replayed after a cursor then live (a message to another room never
// arrives), unsubscribe, resume after the last cursor received with
// nothing lost or repeated, and a resume from a cursor the history no
// longer reaches, which yields the gap error in band and then goes on live;
// and a subscription the resolver refuses, whose error keeps its code.
// Usage: node gqlgen-chat.mjs <base http url> <ws|sse|sse-single|legacy> <stale cursor>
// Prints one JSON line for the Go test to check.
import { createClient as createWSClient } from "graphql-ws";
import { createClient as createSSEClient } from "graphql-sse";
import legacy from "subscriptions-transport-ws";
import WebSocket from "ws";

const [base, proto, stale] = process.argv.slice(2);
const url = base + "/graphql";
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms).unref());

// subscribe(payload, sink) returns an unsubscribe function, for every
// client the same way.
let subscribe;
let dispose;
switch (proto) {
  case "ws": {
    const c = createWSClient({ url: url.replace(/^http/, "ws"), webSocketImpl: WebSocket, retryAttempts: 0 });
    subscribe = (p, sink) => c.subscribe(p, sink);
    dispose = () => c.dispose();
    break;
  }
  case "sse":
  case "sse-single": {
    const c = createSSEClient({ url, singleConnection: proto === "sse-single", retryAttempts: 0 });
    subscribe = (p, sink) => c.subscribe(p, sink);
    dispose = () => c.dispose();
    break;
  }
  case "legacy": {
    const c = new legacy.SubscriptionClient(url.replace(/^http/, "ws"), { reconnect: false }, WebSocket);
    subscribe = (p, sink) => {
      const s = c.request(p).subscribe({ next: sink.next, error: sink.error, complete: sink.complete });
      return () => s.unsubscribe();
    };
    dispose = () => c.close();
    break;
  }
  default:
    throw new Error("unknown protocol " + proto);
}

// op runs a query or mutation through the client and returns its result.
const op = (query, variables) =>
  Promise.race([
    new Promise((resolve, reject) => {
      let got;
      subscribe({ query, variables }, {
        next: (v) => (got = v),
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => resolve(got),
      });
    }),
    deadline(5000, query),
  ]);

const send = async (room, content) => {
  const r = await op(
    "mutation M($r: ID!, $c: String!) { sendMessage(roomId: $r, sender: $s, content: $c) { cursor } }".replace("$s", '"' + proto + '"'),
    { r: room, c: content },
  );
  if (r.errors) throw new Error(JSON.stringify(r.errors));
  return r.data.sendMessage.cursor;
};

// take subscribes to room "general" after since and calls step(events)
// after each event until it returns true; then it unsubscribes.
const SUB = "subscription S($s: String) { messageAdded(roomId: \"general\", since: $s) { content sender cursor } }";
const take = (since, step) =>
  Promise.race([
    new Promise((resolve, reject) => {
      const events = [];
      let done = false;
      const unsubscribe = subscribe({ query: SUB, variables: { s: since } }, {
        next: async (v) => {
          if (done) return;
          events.push(v);
          try {
            if (await step(events)) {
              done = true;
              unsubscribe();
              resolve(events);
            }
          } catch (e) {
            reject(e);
          }
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => {
          if (!done) reject(new Error("completed early after " + JSON.stringify(events)));
        },
      });
    }),
    deadline(10000, "subscription since " + since),
  ]);

const content = (v) => {
  if (v.errors) throw new Error(JSON.stringify(v.errors));
  return v.data.messageAdded.content;
};
const result = {};

// 1. Replay after a cursor, then live; another room's message never shows.
const c1 = await send("general", "one");
await send("general", "two");
const first = await take(c1, async (ev) => {
  if (ev.length === 1) {
    await send("lobby", "not for general");
    await send("general", "three");
  }
  return ev.length === 2;
});
result.first = first.map(content);
const last = first[first.length - 1].data.messageAdded.cursor;

// 2. Messages sent while unsubscribed arrive on resume, once each.
await send("general", "four");
await send("general", "five");
const resumed = await take(last, async (ev) => {
  if (ev.length === 2) await send("general", "six");
  return ev.length === 3;
});
result.resumed = resumed.map(content);

// 3. A cursor the history no longer reaches: the gap in band, then live.
const gap = await take(stale, async (ev) => {
  if (ev.length === 1) await send("general", "seven");
  return ev.length === 2;
});
result.gap = gap[0];
result.afterGap = content(gap[1]);

// 4. A subscription the resolver refuses (a room id with '/'): the
// GraphQL error with its code, however the protocol carries it.
result.refused = await Promise.race([
  new Promise((resolve) => {
    subscribe({ query: 'subscription { messageAdded(roomId: "a/b") { content } }' }, {
      next: (v) => resolve(v.errors),
      error: (e) => resolve(Array.isArray(e) ? e : e.errors || String(e)),
      complete: () => {},
    });
  }),
  deadline(5000, "refused subscription"),
]);

dispose();
console.log(JSON.stringify(result));
