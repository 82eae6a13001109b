package mqttx_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// A device publishes over MQTT; a subscriber of the broker (any transport)
// receives it.
func ExampleServer() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	broker := pubsub.NewMemory(nil)
	defer broker.Close()
	srv, err := mqttx.NewServer(broker, nil)
	if err != nil {
		panic(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln) // returns ErrServerClosed after Close
	sub, err := broker.Subscribe(ctx, "sensors/+/temp", nil)
	if err != nil {
		panic(err)
	}
	defer sub.Close()

	// Any MQTT client will do; this one is paho.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		panic(err)
	}
	device := paho.NewClient(paho.ClientConfig{Conn: conn})
	if _, err := device.Connect(ctx, &paho.Connect{ClientID: "sensor-1", CleanStart: true, KeepAlive: 30}); err != nil {
		panic(err)
	}
	if _, err := device.Publish(ctx, &paho.Publish{Topic: "sensors/1/temp", QoS: 1, Payload: []byte("21.5")}); err != nil {
		panic(err)
	}
	m := <-sub.C()
	fmt.Println(m.Topic, string(m.Data), m.Header[mqttx.HeaderQoS])
	_ = device.Disconnect(&paho.Disconnect{})
	<-device.Done()
	// Output: sensors/1/temp 21.5 1
}

// Run the application on an external MQTT 5 broker instead of in memory;
// every transport handler takes the returned Broker unchanged.
func ExampleDial() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := mqttx.Dial(ctx, "mqtt://127.0.0.1:1883", &mqttx.Options{
		ClientID:   "web-1",
		PublishQoS: 1,
	})
	if err != nil {
		fmt.Println("no MQTT broker:", err)
		return
	}
	defer b.Close()
	sub, err := b.Subscribe(ctx, "orders/#", &pubsub.SubscribeOptions{Group: "billing"}) // $share/billing/orders/#
	if err != nil {
		panic(err)
	}
	defer sub.Close()
	_, err = b.Publish(ctx, pubsub.Message{Topic: "orders/42", Data: []byte(`{"total":9.5}`),
		Header: map[string]string{mqttx.HeaderQoS: "2"}})
	if err != nil {
		panic(err)
	}
	m := <-sub.C()
	fmt.Println(m.Topic, string(m.Data))
}
