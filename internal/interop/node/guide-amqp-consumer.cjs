// The guide's amqplib consumer ("AMQP", "Implementation Examples"), as
// written there: queue order_processing (durable), prefetch 1, reads
// msg.properties.headers['order-priority'], acknowledges after 1 s. Only
// the server URL differs: it comes from argv. It runs until it is killed.
//
//   node guide-amqp-consumer.cjs amqp://user:pass@host:port/
const amqp = require('amqplib');

const serverURL = process.argv[2];

async function consumeMessages() {
  try {
    const connection = await amqp.connect(serverURL);
    const channel = await connection.createChannel();

    const queue = 'order_processing';

    await channel.assertQueue(queue, { durable: true });
    await channel.prefetch(1);

    console.log(`Waiting for messages in queue: ${queue}`);

    channel.consume(queue, (msg) => {
      if (msg !== null) {
        const content = JSON.parse(msg.content.toString());
        const priority = msg.properties.headers['order-priority'] || 'normal';

        console.log(`Processing order ${content.orderId} (Priority: ${priority})`);

        setTimeout(() => {
          channel.ack(msg);
          console.log(`Order ${content.orderId} processed successfully`);
        }, 1000);
      }
    });

  } catch (error) {
    console.error('Error:', error);
    process.exitCode = 1;
  }
}

consumeMessages();
