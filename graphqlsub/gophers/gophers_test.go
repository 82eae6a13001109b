package gophers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	graphql "github.com/graph-gophers/graphql-go"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type counter struct {
	n    int
	done chan struct{} // closed when Count's goroutine ends, if set
}

func (*counter) Ping() string { return "pong" }

func (c *counter) Count(ctx context.Context) <-chan int32 {
	ch := make(chan int32)
	go func() {
		defer close(ch)
		if c.done != nil {
			defer close(c.done)
		}
		for i := 0; i < c.n; i++ {
			select {
			case ch <- int32(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

const counterSDL = `schema { query: Query subscription: Subscription }
type Query { ping: String! }
type Subscription { count: Int! }`

// A client that does not read gets an explicit slow_consumer error rather
// than events silently dropped by graph-gophers' resolver timeout.
func TestSlowConsumerIsExplicit(t *testing.T) {
	res := &counter{n: 50, done: make(chan struct{})}
	schema := graphql.MustParseSchema(counterSDL, res, graphql.SubscribeResolverTimeout(50*time.Millisecond))
	e := gophers.New(schema, &gophers.Options{Buffer: 4})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := e.Subscribe(ctx, &graphqlsub.Request{Query: "subscription { count }"})
	require.NoError(t, err)
	<-res.done // a stalled client: nothing read while the resolver produced
	var got []string
	var last *graphqlsub.Result
	for r := range ch {
		last = r
		if r.Errors == nil {
			got = append(got, string(r.Data))
		}
	}
	require.NotNil(t, last)
	require.Len(t, last.Errors, 1)
	require.Equal(t, graphqlsub.CodeSlowConsumer, last.Errors[0].Extensions["code"])
	require.Equal(t, json.RawMessage("null"), last.Data)
	// What did arrive is a gap-free prefix.
	for i, d := range got {
		require.JSONEq(t, `{"count":`+string(rune('0'+i))+`}`, d)
	}
}

func TestAllEventsWhenRead(t *testing.T) {
	// The queue holds every event, so the adapter never has to end the
	// stream however slowly this reader runs; graph-gophers' default 1 s
	// per-event timeout must not drop any either.
	schema := graphql.MustParseSchema(counterSDL, &counter{n: 1000})
	e := gophers.New(schema, &gophers.Options{Buffer: 1000})
	ch, err := e.Subscribe(context.Background(), &graphqlsub.Request{Query: "subscription { count }"})
	require.NoError(t, err)
	n := 0
	for r := range ch {
		require.Empty(t, r.Errors, "event %d: %+v", n, r.Errors)
		require.JSONEq(t, fmt.Sprintf(`{"count":%d}`, n), string(r.Data))
		n++
	}
	require.Equal(t, 1000, n)
}

func TestRequestErrorHasNoData(t *testing.T) {
	schema := graphql.MustParseSchema(counterSDL, &counter{})
	e := gophers.New(schema, nil)
	ch, err := e.Subscribe(context.Background(), &graphqlsub.Request{Query: "subscription { nope }"})
	require.NoError(t, err)
	r := <-ch
	require.Nil(t, r.Data)
	require.NotEmpty(t, r.Errors)
	_, open := <-ch
	require.False(t, open)

	res := e.Execute(context.Background(), &graphqlsub.Request{Query: "{ ping }"})
	require.JSONEq(t, `{"ping":"pong"}`, string(res.Data))
}

func TestBrokerSchemaHistoryAndPublish(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	schema, err := gophers.NewBrokerSchema(b, nil)
	require.NoError(t, err)
	e := gophers.New(schema, nil)
	ctx := context.Background()
	res := e.Execute(ctx, &graphqlsub.Request{Query: `mutation { publish(topic: "t/1", data: "é") { id topic data dataBase64 cursor time } }`})
	require.Empty(t, res.Errors)
	var pub struct {
		Publish struct{ ID, Topic, Data, DataBase64, Cursor, Time string }
	}
	require.NoError(t, json.Unmarshal(res.Data, &pub))
	require.Equal(t, "é", pub.Publish.Data)
	require.Equal(t, "w6k=", pub.Publish.DataBase64)
	require.NotEmpty(t, pub.Publish.Cursor)
	_, err = time.Parse(time.RFC3339Nano, pub.Publish.Time)
	require.NoError(t, err)

	_, err = b.Publish(ctx, pubsub.Message{Topic: "t/2", Data: []byte{0xff, 'a'}})
	require.NoError(t, err)
	res = e.Execute(ctx, &graphqlsub.Request{Query: `query($s: String) { messages(topic: "t/+", since: $s, limit: 5) { topic data dataBase64 } }`,
		Variables: map[string]any{"s": pub.Publish.Cursor}})
	require.Empty(t, res.Errors)
	require.JSONEq(t, `{"messages":[{"topic":"t/2","data":"\ufffda","dataBase64":"/2E="}]}`, string(res.Data))

	res = e.Execute(ctx, &graphqlsub.Request{Query: `mutation { publish(topic: "a/+", data: "x") { id } }`})
	require.Len(t, res.Errors, 1)
	require.Equal(t, "bad_request", res.Errors[0].Extensions["code"])
}

type slowField struct{}

func (*slowField) Ping() string { return "pong" }

func (*slowField) Count(ctx context.Context) <-chan *slowEvent {
	ch := make(chan *slowEvent)
	go func() {
		defer close(ch)
		for i := int32(0); i < 3; i++ {
			select {
			case ch <- &slowEvent{i}:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

type slowEvent struct{ n int32 }

// N blocks event 1 until graph-gophers' per-event timeout cancels it.
func (e *slowEvent) N(ctx context.Context) int32 {
	if e.n == 1 {
		<-ctx.Done()
	}
	return e.n
}

const slowSDL = `schema { query: Query subscription: Subscription }
type Query { ping: String! }
type Subscription { count: Event! }
type Event { n: Int! }`

// An event graph-gophers fails to resolve ends the stream with event_lost
// instead of leaving a silent gap before event 2.
func TestEventLostEndsStream(t *testing.T) {
	schema := graphql.MustParseSchema(slowSDL, &slowField{}, graphql.SubscribeResolverTimeout(50*time.Millisecond))
	e := gophers.New(schema, nil)
	ch, err := e.Subscribe(context.Background(), &graphqlsub.Request{Query: "subscription { count { n } }"})
	require.NoError(t, err)
	var got []*graphqlsub.Result
	for r := range ch {
		got = append(got, r)
	}
	require.Len(t, got, 2)
	require.JSONEq(t, `{"count":{"n":0}}`, string(got[0].Data))
	require.Equal(t, json.RawMessage("null"), got[1].Data)
	require.Equal(t, graphqlsub.CodeEventLost, got[1].Errors[0].Extensions["code"])
}
