// The guide's amqplib publisher ("Publish-Subscribe (Pub/Sub) Pattern",
// "Message Broker Implementation"), as written there: topic exchange
// updates declared {durable: false}, routing key user.profile.updated, a
// JSON body, connection closed after 500 ms. Only the server URL differs:
// it comes from argv.
//
//   node guide-amqp-pubsub-publisher.cjs amqp://user:pass@host:port/
const amqp = require('amqplib');

const serverURL = process.argv[2];

async function publish() {
  const connection = await amqp.connect(serverURL);
  const channel = await connection.createChannel();
  const exchange = 'updates';

  await channel.assertExchange(exchange, 'topic', { durable: false });

  const routingKey = 'user.profile.updated';
  const message = Buffer.from(JSON.stringify({
    userId: 42,
    action: 'profile-updated',
    timestamp: Date.now()
  }));

  channel.publish(exchange, routingKey, message);
  console.log(`Message sent to ${routingKey}`);

  setTimeout(() => {
    connection.close();
  }, 500);
}

publish();
