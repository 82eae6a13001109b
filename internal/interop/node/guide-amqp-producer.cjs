// The guide's amqplib producer ("AMQP", "Implementation Examples"), as
// written there: exchange orders (topic, durable), queue order_processing
// (durable) bound order.*, ten orders with routing key order.created,
// persistent, JSON, an order-priority header, then close after 1 s. Only
// the server URL differs: it comes from argv.
//
//   node guide-amqp-producer.cjs amqp://user:pass@host:port/
const amqp = require('amqplib');

const serverURL = process.argv[2];

async function publishMessages() {
  try {
    const connection = await amqp.connect(serverURL);
    const channel = await connection.createChannel();

    const exchange = 'orders';
    const queue = 'order_processing';
    const routingKey = 'order.created';

    await channel.assertExchange(exchange, 'topic', { durable: true });
    await channel.assertQueue(queue, { durable: true });
    await channel.bindQueue(queue, exchange, 'order.*');

    for (let i = 1; i <= 10; i++) {
      const message = {
        orderId: `ORD-${1000 + i}`,
        customer: `Customer ${i}`,
        items: [{
          product: 'Product A',
          quantity: i
        }],
        timestamp: new Date().toISOString()
      };

      channel.publish(
        exchange,
        routingKey,
        Buffer.from(JSON.stringify(message)),
        {
          persistent: true,
          contentType: 'application/json',
          headers: {
            'order-priority': i % 3 === 0 ? 'high' : 'normal'
          }
        }
      );

      console.log(`Published order ${message.orderId}`);
    }

    setTimeout(() => {
      connection.close();
      console.log('Producer connection closed');
    }, 1000);

  } catch (error) {
    console.error('Error:', error);
    process.exitCode = 1;
  }
}

publishMessages();
