// Command chaos checks Switchboard's delivery contract under chaos: every
// message reaches every subscriber exactly once and in its publisher's
// order, or after an explicit gap signal.
//
// It starts, in process and on loopback only, two hubs on RabbitMQ (amqpx
// with history, one exchange and stream per run) and one hub on Mosquitto
// (mqttx), each serving every transport (SSE, long polling, WebSocket
// switchboard.v1, gRPC, GraphQL over graphql-transport-ws, REST and an
// MQTT listener), each hub's broker link through its own TCP fault proxy
// (internal/testenv.Proxy). Then:
//
//   - Subscribers over SSE (sse.Client), long polling (a small client
//     here), WebSocket (ws.Client), gRPC (the generated Connect client,
//     gRPC protocol over h2c), GraphQL (coder/websocket speaking
//     graphql-transport-ws) and MQTT 5 (paho.golang) subscribe to the
//     world's filter. Publishers over REST (Idempotency-Key header),
//     WebSocket (publish frame "key"), gRPC (PublishRequest key) and MQTT
//     (user property sb-id) publish numbered payloads, one at a time, each
//     to its own topic. A publish that fails is counted and retried with
//     the same key until it is acknowledged, after reconnecting.
//   - -disconnects random clients are killed over -duration (publishers
//     too, with a publish in flight). A killed client reconnects at once,
//     to the other RabbitMQ hub, resuming from its last cursor.
//   - -faults broker-link faults: cuts (connections closed, new ones
//     refused for 1–3 s) and black holes (nothing forwarded for 3–8 s,
//     connections left open) of a hub↔RabbitMQ or the hub↔Mosquitto
//     link, and -restarts restarts of a RabbitMQ hub, every other one a
//     crash (handlers and connections cut at once, no go-away signal);
//     its clients move to the other hub.
//
// Each subscriber's stream is checked per publisher: a repeated message is
// a duplicate, an older one is out of order, and a hole is a loss unless an
// explicit gap signal came before the next message (SSE sb-reset, long
// poll "gap", WebSocket gap frame, gRPC Opened.gap, GraphQL error code
// "gap", and for MQTT subscribers a CONNACK without Session Present after a
// reconnect: mqttx.Server sessions end with the connection). A gap
// explains only messages whose first publish attempt began before the
// client learned of it (for MQTT, before its SUBACK): the subscription was
// live again by then, so a later hole, or silence to the end of the run,
// is a loss. After the
// chaos, publishers finish the message in flight and the subscribers get
// up to -drain to catch up. Clients of the Mosquitto hub are not killed
// (that broker keeps no history, so each of their reconnects would be a gap
// by design, and long polling cannot be checked there at all); they live
// through the link faults.
//
// MQTT subscribers have no cursor, so they stay on their hub while it is
// up (they move only when it restarts): one that moved to a hub whose
// RabbitMQ link lagged behind after a fault got again, as new live
// messages, what it had already had from the other hub (a fresh live
// amqpx subscription on a lagging node receives the node's backlog).
// -mqtt-move moves them all the same and shows those duplicates.
//
// It prints a table per world, role and client kind, and the totals:
// disconnects, faults, published, delivered, lost, duplicated, out of
// order and gaps (by reason, with the number of messages skipped after
// them), and exits 1 when anything was lost, duplicated or reordered (2
// when the run could not be set up).
//
// The short run (about 100 disconnects, 4 link faults and 2 restarts in 60 s) is
// TestChaos in this package (it skips without RabbitMQ and Mosquitto unless
// SWITCHBOARD_REQUIRE_SERVICES=1). The long run, 1,000 disconnects and 12
// link faults plus 3 hub restarts in 10 minutes:
//
//	go run ./internal/chaos -duration 10m -disconnects 1000 -faults 12 -restarts 3
//
// Flags: -duration, -disconnects, -faults, -restarts, -seed (repeatable
// choices of clients, faults and pauses; timing still varies), -interval
// (each publisher's pause), -per-kind (clients of each kind on the
// RabbitMQ hubs), -drain, -amqp and -mqtt (service addresses, loopback
// only; SWITCHBOARD_AMQP_URL and SWITCHBOARD_MQTT_ADDR by default), -v
// (the hubs' logs too), -mqtt-move (see above). Runs are bounded: at most an hour, 100,000
// disconnects and 1,000 faults.
package main
