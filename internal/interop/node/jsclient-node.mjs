// switchboard.mjs (ws/js) in Node, with npm's ws package as its WebSocket
// (Node 20 has none built in), through jsclient-scenario.mjs.
// Usage: node jsclient-node.mjs BASE_URL
import WebSocket from "ws";
import { connect } from "../../../ws/js/switchboard.mjs";
import { run } from "./jsclient-scenario.mjs";

const [base] = process.argv.slice(2);
console.log(JSON.stringify(await run({ connect, WebSocket, base, runtime: "node" })));
