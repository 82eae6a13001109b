// npm graphql-sse in distinct connections mode against graphqlsub:
// a subscription replayed from a cursor plus a live REST publish, then a
// query, and a validation error delivered inside the stream.
// Usage: node graphql-sse-client.mjs <base http url> <since cursor>
import { createClient } from "graphql-sse";

const base = process.argv[2];
const since = process.argv[3];
const client = createClient({ url: base + "/graphql", singleConnection: false, retryAttempts: 0,
  headers: { Authorization: "Bearer good" } });
const result = {};
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error("timeout: " + what)), ms).unref());

const events = [];
await Promise.race([
  new Promise((resolve, reject) => {
    let published = false;
    const unsubscribe = client.subscribe(
      {
        query: "subscription S($f: String!, $s: String) { messages(filter: $f, since: $s) { topic data } }",
        variables: { f: "interop/#", s: since },
      },
      {
        next: async (v) => {
          if (v.errors) return reject(new Error(JSON.stringify(v.errors)));
          events.push(v.data.messages);
          if (events.length === 2 && !published) {
            published = true;
            const r = await fetch(base + "/topics/interop/sse", { method: "POST", body: "from REST to SSE" });
            if (!r.ok) reject(new Error("REST publish: " + r.status));
          }
          if (events.length === 3) {
            unsubscribe();
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

const collect = (query) =>
  Promise.race([
    new Promise((resolve) => {
      const got = [];
      client.subscribe({ query }, {
        next: (v) => got.push(v),
        error: (e) => resolve({ got, error: String(e) }),
        complete: () => resolve({ got, complete: true }),
      });
    }),
    deadline(5000, query),
  ]);
result.query = await collect('{ messages(topic: "interop/a", limit: 1) { data } }');
result.validation = await collect("subscription { nope }");
client.dispose();

// Single connection mode: one reserved stream carries both operations.
const single = createClient({ url: base + "/graphql", singleConnection: true, retryAttempts: 0,
  headers: { Authorization: "Bearer good" } });
const take = (query, variables, n) =>
  Promise.race([
    new Promise((resolve, reject) => {
      const got = [];
      const stop = single.subscribe({ query, variables }, {
        next: (v) => {
          got.push(v);
          if (got.length === n) {
            stop();
            resolve(got.slice(0, n));
          }
        },
        error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
        complete: () => resolve(got),
      });
    }),
    deadline(5000, "single " + query),
  ]);
result.single = await Promise.all([
  take("subscription S($s: String) { messages(filter: \"interop/+\", since: $s) { data } }", { s: since }, 2),
  take('{ messages(topic: "interop/b") { data } }', undefined, 1),
]);
single.dispose();
console.log(JSON.stringify(result));
process.exit(0);
