// The guide's MQTT.js client ("MQTT (Message Queuing Telemetry Transport)",
// "Client Implementation"), as written there: the same options, will,
// subscription, topic, QoS, retain flag and 5 s publishing interval. Only
// the broker URL differs: it comes from argv. It runs until it is killed
// (the Go test kills it without DISCONNECT, so the will fires).
//
//   node guide-mqtt-client.cjs mqtt://host:port
const mqtt = require('mqtt');

const brokerURL = process.argv[2];

// Connect to MQTT broker
const client = mqtt.connect(brokerURL, {
  clientId: 'node-client-' + Math.random().toString(16).substr(2, 8),
  clean: true,
  connectTimeout: 4000,
  reconnectPeriod: 1000,
  will: {
    topic: 'clients/disconnected',
    payload: 'Client disconnected unexpectedly',
    qos: 1,
    retain: false
  }
});

client.on('connect', () => {
  console.log('Connected to MQTT broker');
  client.subscribe('sensors/#', { qos: 1 }, (err) => {
    if (!err) {
      console.log('Subscribed to sensors/#');
      publishSensorData();
    }
  });
});

client.on('message', (topic, message) => {
  console.log(`Received message on ${topic}: ${message.toString()}`);
  if (topic.startsWith('sensors/temperature')) {
    const temperature = parseFloat(message.toString());
    processTemperature(temperature);
  }
});

client.on('error', (err) => {
  console.error('MQTT error:', err);
});

client.on('reconnect', () => {
  console.log('Attempting to reconnect to MQTT broker');
});

client.on('close', () => {
  console.log('Disconnected from MQTT broker');
});

function publishSensorData() {
  setInterval(() => {
    const temperature = (20 + Math.random() * 5).toFixed(1);
    client.publish('sensors/temperature/room1', temperature.toString(), { qos: 1, retain: true }, (err) => {
      if (!err) {
        console.log(`Published temperature: ${temperature}°C`);
      }
    });
  }, 5000);
}

function processTemperature(temperature) {
  if (temperature > 24) {
    console.log('Temperature alert: above threshold');
  }
}
