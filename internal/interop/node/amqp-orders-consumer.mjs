// The guide's order-processing consumer: amqplib consumes a durable queue
// with prefetch 1 and manual acks, and prints what Switchboard published.
//
//   node amqp-orders-consumer.mjs amqp://… queue count
import amqp from "amqplib";

const [url, queue, count] = process.argv.slice(2);
const timeout = setTimeout(() => {
  console.error("timed out");
  process.exit(2);
}, 20000);
const connection = await amqp.connect(url);
const channel = await connection.createChannel();
await channel.assertQueue(queue, { durable: true });
await channel.prefetch(1);

const got = [];
let maxUnacked = 0;
let unacked = 0;
await new Promise((done) => {
  channel.consume(queue, (msg) => {
    if (msg === null) return;
    unacked++;
    maxUnacked = Math.max(maxUnacked, unacked);
    got.push({
      routingKey: msg.fields.routingKey,
      content: msg.content.toString(),
      messageId: msg.properties.messageId,
      priority: msg.properties.priority,
      deliveryMode: msg.properties.deliveryMode,
      headers: msg.properties.headers,
    });
    // Acknowledge on the next tick, as a worker does after its job.
    setImmediate(() => {
      unacked--;
      channel.ack(msg);
      if (got.length === Number(count)) done();
    });
  }, { noAck: false });
});
clearTimeout(timeout);
await channel.close(); // waits for close-ok, so every ack was processed
await connection.close();
console.log(JSON.stringify({ got, maxUnacked }));
