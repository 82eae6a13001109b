package pubsub_test

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/switchboard-go/switchboard/pubsub"
)

func ExampleMemory() {
	ctx := context.Background()
	b := pubsub.NewMemory(nil)
	defer b.Close()

	sub, _ := b.Subscribe(ctx, "chat/+", nil)
	defer sub.Close()
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "chat/room1", Data: []byte("hello")})

	m := <-sub.C()
	fmt.Printf("%s: %s\n", m.Topic, m.Data)
	// Output: chat/room1: hello
}

// A client that reconnects with the cursor of the last message it saw gets
// every message it missed, in order, then live ones.
func ExampleSubscribeOptions_since() {
	ctx := context.Background()
	b := pubsub.NewMemory(nil)
	defer b.Close()

	seen, _ := b.Publish(ctx, pubsub.Message{Topic: "news", Data: []byte("one")})
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "news", Data: []byte("two")}) // missed while offline
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "news", Data: []byte("three")})

	sub, _ := b.Subscribe(ctx, "news", &pubsub.SubscribeOptions{Since: seen.Cursor})
	defer sub.Close()
	fmt.Println("gap:", sub.Gap())
	fmt.Println(string((<-sub.C()).Data))
	fmt.Println(string((<-sub.C()).Data))
	// Output:
	// gap: false
	// two
	// three
}

func ExampleRequest() {
	ctx := context.Background()
	b := pubsub.NewMemory(nil)
	defer b.Close()

	svc, _ := b.Subscribe(ctx, "svc/upper", nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for req := range svc.C() {
			_, _ = pubsub.Reply(ctx, b, req, pubsub.Message{Data: []byte(fmt.Sprintf("%s!", req.Data))})
		}
	}()

	reply, err := pubsub.Request(ctx, b, pubsub.Message{Topic: "svc/upper", Data: []byte("hi")})
	fmt.Println(string(reply.Data), err)
	svc.Close()
	<-done
	// Output: hi! <nil>
}

func ExampleSubscription_Nack() {
	ctx := context.Background()
	b := pubsub.NewMemory(nil)
	defer b.Close()

	dead, _ := b.Subscribe(ctx, "$deadletter/#", nil)
	jobs, _ := b.Subscribe(ctx, "jobs", &pubsub.SubscribeOptions{ManualAck: true, MaxDeliveries: 2})
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "jobs", Data: []byte("poison")})

	for range 2 {
		m := <-jobs.C()
		fmt.Println("attempt", m.Attempt)
		_ = jobs.Nack(m, true)
	}
	d := <-dead.C()
	fmt.Println(d.Topic, d.Header[pubsub.HeaderDeadLetterReason])
	// Output:
	// attempt 1
	// attempt 2
	// $deadletter/jobs max-deliveries
}

// Wrap counts publishes without hiding the broker's history: resume and
// history reads keep working through the wrapper.
func ExampleWrap() {
	mem := pubsub.NewMemory(nil)
	defer mem.Close()
	var published atomic.Int64
	b := pubsub.Wrap(mem, pubsub.Middleware{
		Publish: func(ctx context.Context, m pubsub.Message, next func(context.Context, pubsub.Message) (pubsub.Receipt, error)) (pubsub.Receipt, error) {
			published.Add(1)
			return next(ctx, m)
		},
	})
	ctx := context.Background()
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "news", Data: []byte("one")})
	_, _ = b.Publish(ctx, pubsub.Message{Topic: "news", Data: []byte("two")})

	hr, ok := b.(pubsub.HistoryReader)
	fmt.Println("history kept:", ok)
	page, _ := hr.History(ctx, "news", pubsub.HistoryOptions{})
	fmt.Println(len(page.Messages), "messages,", published.Load(), "publishes counted")
	// Output:
	// history kept: true
	// 2 messages, 2 publishes counted
}
