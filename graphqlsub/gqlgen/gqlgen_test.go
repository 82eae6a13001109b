package gqlgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/stretchr/testify/require"
	gqlparser "github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/switchboard-go/switchboard/examples/gqlgenchat/chat"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gqlgen"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

const subQuery = `subscription S($room: ID!, $since: String) {
  messageAdded(roomId: $room, since: $since) { id content cursor }
}`

type chatMsg struct {
	ID      string `json:"id"`
	Content string `json:"content"`
	Cursor  string `json:"cursor"`
}

func newExecutor(t *testing.T, b pubsub.Broker, opts *gqlgen.Options) *gqlgen.Executor {
	t.Helper()
	return gqlgen.New(chat.New(b, nil), opts)
}

func publish(t *testing.T, b pubsub.Broker, room, content string) pubsub.Receipt {
	t.Helper()
	data, err := json.Marshal(map[string]string{"roomId": room, "sender": "test", "content": content})
	require.NoError(t, err)
	rc, err := b.Publish(context.Background(), pubsub.Message{Topic: chat.RoomTopic(room), Data: data})
	require.NoError(t, err)
	return rc
}

// event decodes a subscription result that must carry a message.
func event(t *testing.T, r *graphqlsub.Result) chatMsg {
	t.Helper()
	require.Empty(t, r.Errors)
	var d struct{ MessageAdded chatMsg }
	require.NoError(t, json.Unmarshal(r.Data, &d), string(r.Data))
	return d.MessageAdded
}

func subscribe(t *testing.T, ctx context.Context, e *gqlgen.Executor, room, since string) <-chan *graphqlsub.Result {
	t.Helper()
	vars := map[string]any{"room": room}
	if since != "" {
		vars["since"] = since
	}
	ch, err := e.Subscribe(ctx, &graphqlsub.Request{Query: subQuery, Variables: vars})
	require.NoError(t, err)
	return ch
}

func TestMutationQueryAndSubscription(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	e := newExecutor(t, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	marker := publish(t, b, "other", "marker")
	res := e.Execute(ctx, &graphqlsub.Request{Query: `mutation { sendMessage(roomId: "r1", sender: "ann", content: "héllo") { id roomId sender content cursor } }`})
	require.Empty(t, res.Errors)
	var sent struct{ SendMessage map[string]string }
	require.NoError(t, json.Unmarshal(res.Data, &sent))
	require.Equal(t, "r1", sent.SendMessage["roomId"])
	require.Equal(t, "héllo", sent.SendMessage["content"])
	require.NotEmpty(t, sent.SendMessage["cursor"])

	res = e.Execute(ctx, &graphqlsub.Request{Query: `query Q($r: ID!) { messages(roomId: $r) { content sender } }`, Variables: map[string]any{"r": "r1"}})
	require.Empty(t, res.Errors)
	require.JSONEq(t, `{"messages":[{"content":"héllo","sender":"ann"}]}`, string(res.Data))

	// Replay from before the mutation, then live; another room's message
	// never shows up.
	ch := subscribe(t, ctx, e, "r1", marker.Cursor)
	require.Equal(t, "héllo", event(t, <-ch).Content)
	publish(t, b, "r2", "not for r1")
	live := publish(t, b, "r1", "live")
	got := event(t, <-ch)
	require.Equal(t, "live", got.Content)
	require.Equal(t, live.Cursor, got.Cursor)
	cancel()
	for range ch { // drain until closed
	}
}

// gqlgen reuses one buffer for every event of a subscription: a result
// already handed over must keep its bytes when the next event is read.
func TestEventDataIsNotReused(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	e := newExecutor(t, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := subscribe(t, ctx, e, "r", "")
	var first pubsub.Receipt
	for i := range 3 {
		rc := publish(t, b, "r", fmt.Sprintf("message %d", i))
		if i == 0 {
			first = rc
		}
	}
	r1 := <-ch
	r2 := <-ch
	r3 := <-ch // r3 was read into gqlgen's buffer after r1 and r2 were handed over
	require.Equal(t, "message 0", event(t, r1).Content)
	require.Equal(t, first.Cursor, event(t, r1).Cursor)
	require.Equal(t, "message 1", event(t, r2).Content)
	require.Equal(t, "message 2", event(t, r3).Content)
}

// A client that does not read is not given a silent gap: the stream ends
// with slow_consumer and the last cursor delivered, and resuming from it
// yields exactly the rest.
func TestSlowConsumerThenResume(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	e := newExecutor(t, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	const n = pubsub.DefaultBuffer + 150
	ch := subscribe(t, ctx, e, "r", "")
	for i := range n {
		publish(t, b, "r", fmt.Sprint(i))
	}
	var got []string
	var last string
	var end *graphqlsub.Result
	for r := range ch {
		if len(r.Errors) > 0 {
			end = r
			continue
		}
		require.Nil(t, end, "an event after the end of the stream")
		m := event(t, r)
		got = append(got, m.Content)
		last = m.Cursor
	}
	require.NotNil(t, end, "the stream must end with an error, got %d events", len(got))
	require.Len(t, end.Errors, 1, "reported once: %+v", end.Errors)
	require.Equal(t, graphqlsub.CodeSlowConsumer, end.Errors[0].Extensions["code"])
	require.Equal(t, last, end.Errors[0].Extensions["cursor"])
	require.Less(t, len(got), n)

	ch = subscribe(t, ctx, e, "r", last)
	for len(got) < n {
		got = append(got, event(t, <-ch).Content)
	}
	for i, c := range got {
		require.Equal(t, fmt.Sprint(i), c)
	}
	cancel()
	for range ch { // drain until closed
	}
}

// Resuming from a cursor the history no longer reaches starts with a gap
// event (one error, code and cursor), then goes on live (Memory resumes
// live from the subscribe after a gap).
func TestGapThenLive(t *testing.T) {
	b := pubsub.NewMemory(&pubsub.MemoryOptions{HistorySize: 2})
	defer b.Close()
	e := newExecutor(t, b, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	old := publish(t, b, "r", "0")
	for i := 1; i <= 3; i++ {
		publish(t, b, "r", fmt.Sprint(i))
	}
	ch := subscribe(t, ctx, e, "r", old.Cursor)
	gap := <-ch
	require.Len(t, gap.Errors, 1, "%+v", gap.Errors)
	require.Equal(t, map[string]any{"code": graphqlsub.CodeGap, "cursor": old.Cursor}, gap.Errors[0].Extensions)
	require.Equal(t, []any{"messageAdded", "id"}, gap.Errors[0].Path)
	require.JSONEq(t, `{"messageAdded":null}`, string(gap.Data))
	publish(t, b, "r", "4")
	require.Equal(t, "4", event(t, <-ch).Content)
}

// A broker that closes ends the stream with unavailable and the cursor to
// resume from.
func TestBrokerClosed(t *testing.T) {
	b := pubsub.NewMemory(nil)
	e := newExecutor(t, b, nil)
	ch := subscribe(t, context.Background(), e, "r", "")
	rc := publish(t, b, "r", "only")
	require.Equal(t, "only", event(t, <-ch).Content)
	require.NoError(t, b.Close())
	end := <-ch
	require.Len(t, end.Errors, 1)
	require.Equal(t, map[string]any{"code": graphqlsub.CodeUnavailable, "cursor": rc.Cursor}, end.Errors[0].Extensions)
	_, open := <-ch
	require.False(t, open)
}

func TestRequestErrors(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	e := newExecutor(t, b, nil)
	ctx := context.Background()

	// Validation: no data entry.
	res := e.Execute(ctx, &graphqlsub.Request{Query: `{ nope }`})
	require.Nil(t, res.Data)
	require.Contains(t, res.Errors[0].Message, "nope")
	require.Equal(t, []graphqlsub.Location{{Line: 1, Column: 3}}, res.Errors[0].Locations)

	ch, err := e.Subscribe(ctx, &graphqlsub.Request{Query: `subscription { nope }`})
	require.NoError(t, err)
	r := <-ch
	require.Nil(t, r.Data)
	require.NotEmpty(t, r.Errors)
	_, open := <-ch
	require.False(t, open)

	// The subscription resolver refuses: a request error with the
	// transport code, then the end.
	ch = subscribe(t, ctx, e, "a/b", "")
	r = <-ch
	require.Nil(t, r.Data)
	require.Len(t, r.Errors, 1)
	require.Equal(t, transport.CodeBadRequest, r.Errors[0].Extensions["code"])
	_, open = <-ch
	require.False(t, open)

	// A bad cursor.
	ch = subscribe(t, ctx, e, "r", "not-a-cursor")
	r = <-ch
	require.Nil(t, r.Data)
	require.Equal(t, transport.CodeBadRequest, r.Errors[0].Extensions["code"])
	_, open = <-ch
	require.False(t, open)

	// A field error of a mutation keeps its code and path.
	res = e.Execute(ctx, &graphqlsub.Request{Query: `mutation { sendMessage(roomId: "r", sender: "a", content: " ") { id } }`})
	require.JSONEq(t, `null`, string(res.Data))
	require.Equal(t, transport.CodeBadRequest, res.Errors[0].Extensions["code"])
	require.Equal(t, []any{"sendMessage"}, res.Errors[0].Path)
}

func TestAuthAndIdentity(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	auth := &transport.Auth{Authorize: func(ctx context.Context, id *transport.Identity, act transport.Action, topic string) error {
		if id == nil || id.Subject != "ann" {
			return transport.ErrForbidden
		}
		return nil
	}}
	e := gqlgen.New(chat.New(b, auth), nil)
	q := &graphqlsub.Request{Query: `{ messages(roomId: "r") { id } }`}
	res := e.Execute(context.Background(), q)
	require.Equal(t, transport.CodeForbidden, res.Errors[0].Extensions["code"])
	ctx := transport.WithIdentity(context.Background(), &transport.Identity{Subject: "ann"})
	res = e.Execute(ctx, q)
	require.Empty(t, res.Errors)
	require.JSONEq(t, `{"messages":[]}`, string(res.Data))
}

func TestIntrospectionIsAnExtension(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	q := &graphqlsub.Request{Query: `{ __schema { queryType { name } } }`}
	res := newExecutor(t, b, nil).Execute(context.Background(), q)
	require.NotEmpty(t, res.Errors)
	res = newExecutor(t, b, &gqlgen.Options{Extensions: []graphql.HandlerExtension{extension.Introspection{}}}).Execute(context.Background(), q)
	require.Empty(t, res.Errors)
	require.JSONEq(t, `{"__schema":{"queryType":{"name":"Query"}}}`, string(res.Data))
}

// A resolver panic is an error for its field, logged to Options.Logger
// (gqlgen's own default would print to stderr).
func TestPanicIsLogged(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	e := gqlgen.New(chat.New(nil, nil), &gqlgen.Options{Logger: log}) // a nil broker panics on use
	res := e.Execute(context.Background(), &graphqlsub.Request{Query: `mutation { sendMessage(roomId: "r", sender: "a", content: "x") { id } }`})
	require.JSONEq(t, `null`, string(res.Data))
	require.Equal(t, "internal system error", res.Errors[0].Message)
	require.Contains(t, logs.String(), "resolver panic")
	require.Contains(t, logs.String(), "sendMessage")
}

// fakeSchema is an ExecutableSchema whose responses a test writes, for
// what a generated schema does not do on demand.
type fakeSchema struct {
	s    *ast.Schema
	next func(n int) *graphql.Response // the n-th response (from 1)
}

func newFake(sdl string, next func(n int) *graphql.Response) fakeSchema {
	return fakeSchema{s: gqlparser.MustLoadSchema(&ast.Source{Input: sdl}), next: next}
}

func (f fakeSchema) Schema() *ast.Schema { return f.s }

func (fakeSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (f fakeSchema) Exec(context.Context) graphql.ResponseHandler {
	n := 0
	return func(context.Context) *graphql.Response {
		n++
		return f.next(n)
	}
}

// graphqlsub carries one result per query: deferred fragments are not
// delivered, and the result says so instead of leaving them out silently.
// (The chat schema resolves its fragments inline: gqlgen defers only
// fields with resolvers of their own.)
func TestDeferIsRefusedLoudly(t *testing.T) {
	e := gqlgen.New(newFake("type Query { a: String }", func(n int) *graphql.Response {
		more := n < 2
		switch n {
		case 1:
			return &graphql.Response{Data: json.RawMessage(`{"a":"now"}`), HasNext: &more}
		case 2:
			return &graphql.Response{Data: json.RawMessage(`{"b":"later"}`), Label: "late", Path: ast.Path{ast.PathName("a")}, HasNext: &more}
		}
		return nil
	}), nil)
	res := e.Execute(context.Background(), &graphqlsub.Request{Query: `{ a }`})
	require.JSONEq(t, `{"a":"now"}`, string(res.Data))
	require.Len(t, res.Errors, 1)
	require.Equal(t, transport.CodeNotSupported, res.Errors[0].Extensions["code"])
	require.Contains(t, res.Errors[0].Message, `"late"`)
	require.Equal(t, []any{"a"}, res.Errors[0].Path)
}

// A subscription event with errors and no data stays an event (data null,
// so the client still gets complete), and a panic gqlgen did not recover
// ends the stream with an internal error rather than the process.
func TestSubscriptionEventErrorsAndPanic(t *testing.T) {
	e := gqlgen.New(newFake("type Query { a: String } type Subscription { s: Int }", func(n int) *graphql.Response {
		switch n {
		case 1:
			return &graphql.Response{Data: json.RawMessage(`{"s":1}`)}
		case 2:
			return &graphql.Response{Errors: gqlerror.List{{Message: "boom", Path: ast.Path{ast.PathName("s")}}}}
		}
		panic("engine bug")
	}), nil)
	ch, err := e.Subscribe(context.Background(), &graphqlsub.Request{Query: `subscription { s }`})
	require.NoError(t, err)
	require.JSONEq(t, `{"s":1}`, string((<-ch).Data))
	r := <-ch
	require.Equal(t, json.RawMessage("null"), r.Data)
	require.Equal(t, "boom", r.Errors[0].Message)
	r = <-ch
	require.Equal(t, json.RawMessage("null"), r.Data)
	require.Equal(t, transport.CodeInternal, r.Errors[0].Extensions["code"])
	_, open := <-ch
	require.False(t, open)
}

// Options.ErrorPresenter shapes resolver errors; the adapter still adds
// the transport code the presenter left out.
func TestErrorPresenter(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	e := newExecutor(t, b, &gqlgen.Options{ErrorPresenter: func(ctx context.Context, err error) *gqlerror.Error {
		ge := graphql.DefaultErrorPresenter(ctx, err)
		ge.Message = "presented: " + ge.Message
		return ge
	}})
	res := e.Execute(context.Background(), &graphqlsub.Request{Query: `{ messages(roomId: "a/b") { id } }`})
	require.Len(t, res.Errors, 1)
	require.True(t, strings.HasPrefix(res.Errors[0].Message, "presented: "), res.Errors[0].Message)
	require.Equal(t, transport.CodeBadRequest, res.Errors[0].Extensions["code"])
}
