// The guide's order-processing producer, on Switchboard's exchange: amqplib
// publishes order.created with an order-priority header (and a few header
// values that are not strings), plus two messages no Switchboard topic can
// carry, then a marker. Publisher confirms make sure RabbitMQ has them all.
//
//   node amqp-orders-producer.mjs amqp://… exchange count
import amqp from "amqplib";

const [url, exchange, count] = process.argv.slice(2);
const connection = await amqp.connect(url);
const channel = await connection.createConfirmChannel();
await channel.assertExchange(exchange, "topic", { durable: true });

const publish = (key, body, opts) => channel.publish(exchange, key, Buffer.from(body), opts);
for (let i = 1; i <= Number(count); i++) {
  const message = {
    orderId: `ORD-${1000 + i}`,
    customer: `Customer ${i}`,
    items: [{ product: "Product A", quantity: i }],
  };
  publish("order.created", JSON.stringify(message), {
    persistent: true,
    contentType: "application/json",
    messageId: `amqplib-${i}`,
    priority: 4,
    headers: {
      "order-priority": i % 3 === 0 ? "high" : "normal",
      attempt: i,
      express: i % 2 === 0,
      weight: 1.5,
    },
  });
}
// Malformed for Switchboard: a routing key with '/', and the empty key.
publish("order/created", "slash", { persistent: true });
publish("", "empty", { persistent: true });
publish("order.marker", "done", { persistent: true });
await channel.waitForConfirms();
await connection.close();
console.log(JSON.stringify({ published: Number(count) + 3 }));
