// The guide's amqplib subscriber ("Publish-Subscribe (Pub/Sub) Pattern",
// "Message Broker Implementation"), as written there: topic exchange
// updates declared {durable: false}, an exclusive server-named queue bound
// user.#, noAck. Only the server URL differs: it comes from argv. It runs
// until it is killed.
//
//   node guide-amqp-pubsub-subscriber.cjs amqp://user:pass@host:port/
const amqp = require('amqplib');

const serverURL = process.argv[2];

async function subscribe() {
  const connection = await amqp.connect(serverURL);
  const channel = await connection.createChannel();
  const exchange = 'updates';

  await channel.assertExchange(exchange, 'topic', { durable: false });
  const q = await channel.assertQueue('', { exclusive: true });

  const pattern = 'user.#'; // Subscribe to all user-related events
  await channel.bindQueue(q.queue, exchange, pattern);

  console.log(`Waiting for messages matching ${pattern}`);

  channel.consume(q.queue, (msg) => {
    if (msg !== null) {
      console.log(`Received: ${msg.content.toString()}`);
      console.log(`Routing key: ${msg.fields.routingKey}`);
    }
  }, { noAck: true });
}

subscribe();
