// npm eventsource against the sse handler: plain and named events, a
// server-side drop, messages published while disconnected, and the
// Last-Event-ID resume. Prints one JSON line for the Go test to check.
import { EventSource } from "eventsource";
import { scenario } from "./sse-scenario.mjs";

const base = process.argv[2];
const result = await scenario(base, (url) => new EventSource(url), fetch);
console.log(JSON.stringify(result));
process.exit(0);
