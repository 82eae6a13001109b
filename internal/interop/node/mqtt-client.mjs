// MQTT.js against mqttx.Server: subscribe with + and #, QoS 1 and 2,
// retained, user properties (v5), will on an abrupt disconnect.
// Usage: node mqtt-client.mjs <url> <protocolVersion 4|5> <prefix>
// Prints one JSON line per observation; exits non-zero on failure.
import mqtt from 'mqtt';

const [url, pv, prefix] = process.argv.slice(2);
const protocolVersion = Number(pv);
const out = (o) => console.log(JSON.stringify(o));
const fail = (e) => { console.error(e?.stack || String(e)); process.exit(1); };
const timer = setTimeout(() => fail(new Error('timeout')), 20000);

function connect(id, extra = {}) {
  return mqtt.connectAsync(url, { protocolVersion, clientId: `${prefix}-${id}-${pv}`, reconnectPeriod: 0, clean: true, ...extra });
}

// Resolves with the next n messages a client receives.
function take(client, n) {
  return new Promise((resolve) => {
    const got = [];
    const on = (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString('base64'), qos: packet.qos, retain: packet.retain,
        user: packet.properties?.userProperties ?? null });
      if (got.length === n) { client.off('message', on); resolve(got); }
    };
    client.on('message', on);
  });
}

try {
  const sub = await connect('sub');
  const granted = await sub.subscribeAsync({ [`${prefix}/+/c`]: { qos: 1 }, [`${prefix}/m/#`]: { qos: 2 }, [`${prefix}/will/#`]: { qos: 1 } });
  out({ step: 'granted', qos: granted.map((g) => g.qos) });

  const pub = await connect('pub', { will: { topic: `${prefix}/will/pub`, payload: Buffer.from('gone'), qos: 1, retain: false } });
  const three = take(sub, 3);
  const props = protocolVersion === 5 ? { properties: { userProperties: { unit: 'C' } } } : {};
  await pub.publishAsync(`${prefix}/x/c`, Buffer.from([0, 1, 2, 255]), { qos: 1, ...props });
  await pub.publishAsync(`${prefix}/m`, 'parent matched by #', { qos: 2 });
  await pub.publishAsync(`${prefix}/m/a/b`, 'deep', { qos: 2 });
  for (const m of await three) out({ step: 'message', ...m });

  await pub.publishAsync(`${prefix}/r/state`, 'kept', { qos: 1, retain: true });
  const late = await connect('late');
  const retained = take(late, 1);
  await late.subscribeAsync(`${prefix}/r/#`, { qos: 1 });
  out({ step: 'retained', ...(await retained)[0] });

  const will = take(sub, 1);
  pub.stream.destroy(); // no DISCONNECT: the server publishes the will
  out({ step: 'will', ...(await will)[0] });

  await late.endAsync();
  await sub.endAsync();
  pub.end(true);
  clearTimeout(timer);
} catch (e) {
  fail(e);
}
