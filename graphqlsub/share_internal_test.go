package graphqlsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/transport"
)

// feedExec is an Executor whose subscriptions are fed by the test: each
// Subscribe is recorded with its context and result channel.
type feedExec struct {
	mu   sync.Mutex
	subs []*feedSub
	// first, when set, is sent as the first result of every subscription,
	// once gate (when set) is closed.
	first *Result
	gate  chan struct{}
}

type feedSub struct {
	ctx context.Context
	ch  chan *Result
}

func (f *feedExec) Execute(context.Context, *Request) *Result {
	return &Result{Data: json.RawMessage("{}")}
}

func (f *feedExec) Subscribe(ctx context.Context, _ *Request) (<-chan *Result, error) {
	s := &feedSub{ctx: ctx, ch: make(chan *Result)}
	f.mu.Lock()
	f.subs = append(f.subs, s)
	f.mu.Unlock()
	out := make(chan *Result)
	go func() {
		defer close(out)
		if f.first != nil {
			if f.gate != nil {
				<-f.gate
			}
			select {
			case out <- f.first:
			case <-ctx.Done():
				return
			}
			if f.first.isRequestError() {
				return
			}
		}
		for {
			select {
			case r := <-s.ch:
				select {
				case out <- r:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (f *feedExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *feedExec) sub(i int) *feedSub {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.subs[i]
}

func event(i int) *Result {
	return &Result{Data: json.RawMessage(`{"n":` + strconv.Itoa(i) + `}`)}
}

const shareQuery = `subscription { messages(filter: "a") { data } }`

func newShareHandler(t *testing.T, f *feedExec) *Handler {
	t.Helper()
	h := NewHandler(f, &Options{ShareSubscriptions: func(context.Context, *Request) bool { return true }})
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	return h
}

func start(t *testing.T, h *Handler, ctx context.Context, req *Request) <-chan *Result {
	t.Helper()
	ch, _, err := h.start(ctx, req)
	require.NoError(t, err)
	return ch
}

func recv(t *testing.T, ch <-chan *Result) (*Result, bool) {
	t.Helper()
	select {
	case r, ok := <-ch:
		return r, ok
	case <-time.After(5 * time.Second):
		t.Fatal("no result within 5 s")
		return nil, false
	}
}

// TestShareOneExecution: subscribers with the same document, variables and
// identity share one execution and each gets every event once, in order;
// other variables or another identity run their own.
func TestShareOneExecution(t *testing.T) {
	f := &feedExec{}
	h := newShareHandler(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := &Request{Query: shareQuery, Variables: map[string]any{"a": 1, "b": "x"}}
	var chans []<-chan *Result
	for range 3 {
		// Same variables in another map: the key does not depend on order.
		chans = append(chans, start(t, h, ctx, &Request{Query: shareQuery, Variables: map[string]any{"b": "x", "a": 1}}))
	}
	chans = append(chans, start(t, h, ctx, req))
	require.Equal(t, 1, f.count())

	other := start(t, h, ctx, &Request{Query: shareQuery, Variables: map[string]any{"a": 2, "b": "x"}})
	alice := start(t, h, transport.WithIdentity(ctx, &transport.Identity{Subject: "alice"}), req)
	bob := start(t, h, transport.WithIdentity(ctx, &transport.Identity{Subject: "bob"}), req)
	alice2 := start(t, h, transport.WithIdentity(ctx, &transport.Identity{Subject: "alice"}), req)
	require.Equal(t, 4, f.count(), "one execution for the four, one each for other, alice (twice) and bob")
	require.Equal(t, "alice", transport.IdentityFrom(f.sub(2).ctx).Subject, "the shared execution carries the identity")

	for i := range 5 {
		f.sub(0).ch <- event(i)
	}
	for _, ch := range chans {
		for i := range 5 {
			r, ok := recv(t, ch)
			require.True(t, ok)
			require.JSONEq(t, `{"n":`+strconv.Itoa(i)+`}`, string(r.Data))
			require.Equal(t, `{"data":{"n":`+strconv.Itoa(i)+`}}`, string(appendResult(nil, r)))
		}
	}
	f.sub(2).ch <- event(7)
	for _, ch := range []<-chan *Result{alice, alice2} {
		r, _ := recv(t, ch)
		require.JSONEq(t, `{"n":7}`, string(r.Data))
	}
	for _, ch := range []<-chan *Result{other, bob} {
		select {
		case r := <-ch:
			t.Fatalf("unexpected result %s", r.Data)
		default:
		}
	}
}

// TestShareLeave: the execution ends with its last subscriber, a leaving
// subscriber's channel closes, and the next subscriber starts a new one.
func TestShareLeave(t *testing.T) {
	f := &feedExec{}
	h := newShareHandler(t, f)
	req := &Request{Query: shareQuery}
	ctx1, cancel1 := context.WithCancel(context.Background())
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch1, ch2 := start(t, h, ctx1, req), start(t, h, ctx2, req)
	require.Equal(t, 1, f.count())

	cancel1()
	_, ok := recv(t, ch1)
	require.False(t, ok, "closed when its context ended")
	f.sub(0).ch <- event(1)
	r, ok := recv(t, ch2)
	require.True(t, ok)
	require.JSONEq(t, `{"n":1}`, string(r.Data))
	require.NoError(t, f.sub(0).ctx.Err(), "one subscriber left: the execution goes on")

	cancel2()
	<-f.sub(0).ctx.Done() // the last one left: the execution ends
	_, ok = recv(t, ch2)
	require.False(t, ok)

	ctx3, cancel3 := context.WithCancel(context.Background())
	defer cancel3()
	ch3 := start(t, h, ctx3, req)
	require.Equal(t, 2, f.count(), "a new execution")
	f.sub(1).ch <- event(2)
	r, _ = recv(t, ch3)
	require.JSONEq(t, `{"n":2}`, string(r.Data))
}

// TestShareSlowSubscriber: a subscriber that does not read is ended with
// slow_consumer after DefaultShareBuffer results; the others go on.
func TestShareSlowSubscriber(t *testing.T) {
	f := &feedExec{}
	h := newShareHandler(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := &Request{Query: shareQuery}
	fast, slow := start(t, h, ctx, req), start(t, h, ctx, req)
	n := DefaultShareBuffer + 10
	done := make(chan int)
	go func() {
		got := 0
		for range n {
			if _, ok := <-fast; ok {
				got++
			}
		}
		done <- got
	}()
	for i := range n {
		f.sub(0).ch <- event(i)
	}
	require.Equal(t, n, <-done)
	for i := range DefaultShareBuffer {
		r, ok := recv(t, slow)
		require.True(t, ok)
		require.JSONEq(t, `{"n":`+strconv.Itoa(i)+`}`, string(r.Data))
	}
	r, ok := recv(t, slow)
	require.True(t, ok)
	require.Equal(t, "null", string(r.Data))
	require.Equal(t, CodeSlowConsumer, r.Errors[0].Extensions["code"])
	_, ok = recv(t, slow)
	require.False(t, ok)
}

// TestShareRequestError: a request error reaches every subscriber waiting
// and ends the execution; the next subscriber starts anew.
func TestShareRequestError(t *testing.T) {
	f := &feedExec{first: requestError("bad_request", "no"), gate: make(chan struct{})}
	h := newShareHandler(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := &Request{Query: shareQuery}
	a, b := start(t, h, ctx, req), start(t, h, ctx, req)
	require.Equal(t, 1, f.count())
	close(f.gate)
	for _, ch := range []<-chan *Result{a, b} {
		r, ok := recv(t, ch)
		require.True(t, ok)
		require.True(t, r.isRequestError())
		_, ok = recv(t, ch)
		require.False(t, ok)
	}
	c := start(t, h, ctx, req)
	r, _ := recv(t, c)
	require.True(t, r.isRequestError())
	require.Equal(t, 2, f.count())
}

// TestShareOff: without ShareSubscriptions, or when it says no, every
// subscription runs alone.
func TestShareOff(t *testing.T) {
	f := &feedExec{}
	h := NewHandler(f, nil)
	defer h.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := &Request{Query: shareQuery}
	start(t, h, ctx, req)
	start(t, h, ctx, req)
	require.Equal(t, 2, f.count())

	g := NewHandler(f, &Options{ShareSubscriptions: func(_ context.Context, r *Request) bool { return r.OperationName == "" }})
	defer g.Close()
	start(t, g, ctx, &Request{Query: "subscription S { x }", OperationName: "S"})
	start(t, g, ctx, &Request{Query: "subscription S { x }", OperationName: "S"})
	require.Equal(t, 4, f.count())
}

// countExec's subscriptions each yield {"n":0}, {"n":1}, … as fast as they
// are taken, until their context ends.
type countExec struct{ feedExec }

func (c *countExec) Subscribe(ctx context.Context, _ *Request) (<-chan *Result, error) {
	c.mu.Lock()
	c.subs = append(c.subs, &feedSub{ctx: ctx})
	c.mu.Unlock()
	out := make(chan *Result)
	go func() {
		defer close(out)
		for i := 0; ; i++ {
			select {
			case out <- event(i):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// TestShareChurn: subscribers join and leave one key concurrently while
// events flow; each sees increasing events, and its channel closes once it
// leaves (no deadlock between joining, leaving and the end of executions).
func TestShareChurn(t *testing.T) {
	c := &countExec{}
	h := NewHandler(c, &Options{ShareSubscriptions: func(context.Context, *Request) bool { return true }})
	defer func() { require.NoError(t, h.Close()) }()
	req := &Request{Query: shareQuery}
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			errs <- churn(h, req, 50)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Greater(t, c.count(), 1, "executions ended and new ones started")
}

func churn(h *Handler, req *Request, rounds int) error {
	for range rounds {
		ctx, cancel := context.WithCancel(context.Background())
		ch, _, err := h.start(ctx, req)
		if err != nil {
			cancel()
			return err
		}
		last := -1
		for range 5 {
			r, ok := <-ch
			if !ok || string(r.Data) == "null" { // ended as a slow consumer
				break
			}
			var v struct{ N int }
			if err := json.Unmarshal(r.Data, &v); err != nil || v.N <= last {
				cancel()
				return fmt.Errorf("event %s after %d", r.Data, last)
			}
			last = v.N
		}
		cancel()
		timeout := time.After(5 * time.Second)
		for open := true; open; {
			select {
			case _, open = <-ch:
			case <-timeout:
				return errors.New("channel not closed 5 s after leaving")
			}
		}
	}
	return nil
}

// panicExec panics in Subscribe until ok is set.
type panicExec struct {
	feedExec
	ok bool
}

func (p *panicExec) Subscribe(ctx context.Context, req *Request) (<-chan *Result, error) {
	if !p.ok {
		panic("boom")
	}
	return p.feedExec.Subscribe(ctx, req)
}

// TestShareSubscribePanics: an Executor that panics in Subscribe leaves no
// execution behind: the panic reaches the caller (whose transport
// recovers it), the next subscriber starts anew, and Close returns.
func TestShareSubscribePanics(t *testing.T) {
	p := &panicExec{}
	h := newShareHandler(t, &p.feedExec)
	h.exec = p
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := &Request{Query: shareQuery}
	require.PanicsWithValue(t, "boom", func() { _, _, _ = h.start(ctx, req) })
	p.ok = true
	ch := start(t, h, ctx, req)
	p.sub(0).ch <- event(1)
	r, ok := recv(t, ch)
	require.True(t, ok)
	require.JSONEq(t, `{"n":1}`, string(r.Data))
}
