// Drives grpcx with @connectrpc/connect-node over three protocols, using the
// service descriptor the Go test writes (no generated JavaScript needed).
// Usage: node grpc-connect-node.mjs BASE_URL DESCRIPTOR_SET_FILE
// Prints one JSON line per protocol.
import { readFileSync } from "node:fs";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { createClient, ConnectError, Code } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

const [baseUrl, descPath] = process.argv.slice(2);
const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(descPath)));
const service = registry.getService("switchboard.pubsub.v1.PubSubService");
if (!service) throw new Error("service not in descriptor set");

const transports = {
  "grpc-web": createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }),
  connect: createConnectTransport({ baseUrl, httpVersion: "1.1" }),
  grpc: createGrpcTransport({ baseUrl, httpVersion: "2" }),
};

const codeName = (c) => Code[c].replace(/[A-Z]/g, (m, i) => (i ? "_" : "") + m.toLowerCase());

for (const [protocol, transport] of Object.entries(transports)) {
  const client = createClient(service, transport);
  const out = { protocol };
  const topic = `node/${protocol}`;
  const abort = new AbortController();
  const stream = client.subscribe({ filters: [topic] }, { signal: abort.signal, timeoutMs: 20000 });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  out.opened = first.value?.event.case === "opened";
  const res = await client.publish({ topic, data: new Uint8Array([0, 1, 255]), header: { via: "node" } });
  const ev = await it.next();
  const msg = ev.value.event.value;
  out.data = Array.from(msg.data);
  out.cursorMatches = msg.cursor === res.cursor && msg.header.via === "node";
  abort.abort();
  try {
    await it.next();
  } catch {
    // aborted
  }
  try {
    await client.publish({ topic: "bad/#" });
    out.invalidCode = "none";
  } catch (err) {
    out.invalidCode = codeName(ConnectError.from(err).code);
  }
  if (protocol === "grpc") {
    async function* batch() {
      yield { message: { topic: "node/batch", data: new Uint8Array([1]) } };
      yield { message: { topic: "node/batch", data: new Uint8Array([2]) } };
    }
    const sum = await client.publishStream(batch());
    out.streamSuccess = sum.successCount;

    // Session: subscribe, then publish once the subscribe result arrived.
    let release, finish;
    const subscribed = new Promise((r) => (release = r));
    const finished = new Promise((r) => (finish = r));
    async function* commands() {
      yield { id: "s", command: { case: "subscribe", value: { filter: "node/session" } } };
      await subscribed;
      yield { id: "p", command: { case: "publish", value: { topic: "node/session", data: new TextEncoder().encode("hi") } } };
      await finished; // the request side stays open until the delivery arrives
    }
    const sabort = new AbortController();
    for await (const r of client.session(commands(), { signal: sabort.signal })) {
      if (r.event.case === "result" && r.event.value.id === "s") release();
      if (r.event.case === "delivery") {
        out.sessionData = new TextDecoder().decode(r.event.value.message.data);
        finish();
        break;
      }
    }
    sabort.abort();
  }
  console.log(JSON.stringify(out));
}
