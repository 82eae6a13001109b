package grpcx_test

import (
	"bytes"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	pb "github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestPublishSubscribe(t *testing.T) {
	for _, proto := range protocols {
		for _, codec := range []string{"proto", "json"} {
			t.Run(proto+"/"+codec, func(t *testing.T) {
				ctx := testCtx(t)
				e := newEnv(t, nil, pubsub.MemoryOptions{})
				var opts []connect.ClientOption
				if codec == "json" {
					opts = append(opts, connect.WithProtoJSON())
				}
				c := e.client(proto, opts...)
				st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"room/+"}})
				require.Nil(t, op.GetGap())
				require.NotEmpty(t, op.GetHead())

				data := []byte{0, 1, 2, 0xff, 'h', 'i', '\n'}
				res, err := c.Publish(ctx, connect.NewRequest(&pb.PublishRequest{
					Topic: "room/1", Data: data, Header: map[string]string{"event": "update"}}))
				require.NoError(t, err)
				require.NotEmpty(t, res.Msg.GetId())
				require.NotEmpty(t, res.Msg.GetCursor())
				publish(t, ctx, c, "other/1", "not for us")

				m := recv(t, st)
				require.Equal(t, "room/1", m.GetTopic())
				require.True(t, bytes.Equal(data, m.GetData()))
				require.Equal(t, map[string]string{"event": "update"}, m.GetHeader())
				require.Equal(t, res.Msg.GetId(), m.GetId())
				require.Equal(t, res.Msg.GetCursor(), m.GetCursor())
				require.Equal(t, res.Msg.GetTime().AsTime(), m.GetTime().AsTime())
			})
		}
	}
}

func TestSubscribeHTTP1(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	for _, proto := range []string{"connect", "grpcweb"} {
		opts := []connect.ClientOption{}
		if proto == "grpcweb" {
			opts = append(opts, connect.WithGRPCWeb())
		}
		c := pubsubv1connectClient(e.srv.Client(), e.srv.URL, opts...)
		st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"h1"}})
		publish(t, ctx, c, "h1", proto)
		require.Equal(t, proto, string(recv(t, st).GetData()))
	}
}

func TestSubscribeResume(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	var cursors []string
	for i := range 5 {
		cursors = append(cursors, publish(t, ctx, c, "log", fmt.Sprint(i)).GetCursor())
	}
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"log"}, Since: cursors[1]})
	require.Nil(t, op.GetGap())
	require.Empty(t, op.GetHead(), "a resumed stream has no head")
	for i := 2; i < 5; i++ {
		m := recv(t, st)
		require.Equal(t, fmt.Sprint(i), string(m.GetData()))
		require.Equal(t, cursors[i], m.GetCursor())
	}
	publish(t, ctx, c, "log", "live")
	require.Equal(t, "live", string(recv(t, st).GetData()))
}

func TestSubscribeHeadResume(t *testing.T) {
	// A client that got only Opened resumes from its head and misses
	// nothing published after it.
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("connect")
	publish(t, ctx, c, "x", "old")
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"x"}})
	require.NoError(t, st.Close())
	publish(t, ctx, c, "x", "missed")
	st2, op2 := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"x"}, Since: op.GetHead()})
	require.Nil(t, op2.GetGap())
	require.Equal(t, "missed", string(recv(t, st2).GetData()))
}

func TestSubscribeGap(t *testing.T) {
	ctx := testCtx(t)
	t.Run("history", func(t *testing.T) {
		e := newEnv(t, nil, pubsub.MemoryOptions{HistorySize: 2})
		c := e.client("grpc")
		first := publish(t, ctx, c, "t", "0").GetCursor()
		for i := 1; i < 5; i++ {
			publish(t, ctx, c, "t", fmt.Sprint(i))
		}
		st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"t"}, Since: first})
		require.Equal(t, pb.GapReason_GAP_REASON_HISTORY, op.GetGap().GetReason())
		require.Equal(t, first, op.GetGap().GetSince())
		require.NotEmpty(t, op.GetHead())
		publish(t, ctx, c, "t", "live")
		require.Equal(t, "live", string(recv(t, st).GetData()), "after a gap delivery starts live")
	})
	t.Run("other-epoch", func(t *testing.T) {
		e := newEnv(t, nil, pubsub.MemoryOptions{})
		_, op := subscribe(t, ctx, e.client("grpc"), &pb.SubscribeRequest{Filters: []string{"t"}, Since: "zzzz-3"})
		require.Equal(t, pb.GapReason_GAP_REASON_HISTORY, op.GetGap().GetReason())
	})
	t.Run("malformed", func(t *testing.T) {
		e := newEnv(t, nil, pubsub.MemoryOptions{})
		c := e.client("connect")
		st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"t"}, Since: "not a cursor"})
		require.Equal(t, pb.GapReason_GAP_REASON_INVALID_CURSOR, op.GetGap().GetReason())
		publish(t, ctx, c, "t", "live")
		require.Equal(t, "live", string(recv(t, st).GetData()))
	})
	t.Run("no-history", func(t *testing.T) {
		e := newEnv(t, nil, pubsub.MemoryOptions{HistorySize: -1})
		c := e.client("grpcweb")
		_, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"t"}, Since: "abc-1"})
		require.Equal(t, pb.GapReason_GAP_REASON_NO_HISTORY, op.GetGap().GetReason())
		require.Empty(t, op.GetHead())
	})
}

func TestSubscribeManyFilters(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a/#", "a/b", "c"}})
	want := []string{}
	for i := range 200 {
		topic := []string{"a/b", "a/x", "c", "d"}[i%4]
		publish(t, ctx, c, topic, fmt.Sprint(i))
		if topic != "d" {
			want = append(want, fmt.Sprint(i))
		}
	}
	var got []string
	prev := ""
	for range want {
		m := recv(t, st)
		got = append(got, string(m.GetData()))
		cur, err := pubsub.ParseCursor(m.GetCursor())
		require.NoError(t, err)
		if prev != "" {
			p, _ := pubsub.ParseCursor(prev)
			require.Greater(t, cur.Seq, p.Seq, "out of order")
		}
		prev = m.GetCursor()
	}
	require.Equal(t, want, got, "each message once, in order")
	// Nothing more: a marker published last is the next event.
	publish(t, ctx, c, "c", "end")
	require.Equal(t, "end", string(recv(t, st).GetData()))
}

func TestSubscribeErrors(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Limits: limits(2, 0)}, pubsub.MemoryOptions{})
	for _, proto := range protocols {
		c := e.client(proto)
		for name, tc := range map[string]struct {
			req  *pb.SubscribeRequest
			code connect.Code
		}{
			"no-filter":       {&pb.SubscribeRequest{}, connect.CodeInvalidArgument},
			"bad-filter":      {&pb.SubscribeRequest{Filters: []string{"a/#/b"}}, connect.CodeInvalidArgument},
			"share":           {&pb.SubscribeRequest{Filters: []string{"$share/g/a"}}, connect.CodeInvalidArgument},
			"nul":             {&pb.SubscribeRequest{Filters: []string{"a\x00"}}, connect.CodeInvalidArgument},
			"too-many":        {&pb.SubscribeRequest{Filters: []string{"a", "b", "c"}}, connect.CodeResourceExhausted},
			"group-and-since": {&pb.SubscribeRequest{Filters: []string{"a"}, Group: "g", Since: publish(t, ctx, c, "a", "x").GetCursor()}, connect.CodeUnimplemented},
		} {
			t.Run(proto+"/"+name, func(t *testing.T) {
				st, err := c.Subscribe(ctx, connect.NewRequest(tc.req))
				require.NoError(t, err)
				defer st.Close()
				require.False(t, st.Receive())
				requireCode(t, tc.code, st.Err())
			})
		}
	}
}

// Resuming several filters from a backlog larger than a subscription's
// buffer, while messages keep coming, delivers each message after since
// once and in cursor order, across the resumes the overflows ask for.
func TestSubscribeManyFiltersResume(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Buffer: 64}, pubsub.MemoryOptions{})
	c := e.client("grpc")
	topics := []string{"a/x", "a/y", "b", "c"}
	var all []*pb.PublishResponse // every message, in publish order
	var allTopics []string
	pub := func(i int) {
		topic := topics[i%len(topics)]
		res, err := e.b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte(fmt.Sprint(i))})
		require.NoError(t, err)
		all = append(all, &pb.PublishResponse{Id: res.ID, Cursor: res.Cursor})
		allTopics = append(allTopics, topic)
	}
	for i := range 400 {
		pub(i)
	}
	since := all[49].GetCursor()
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a/#", "b", "a/x"}, Since: since})
	require.Nil(t, op.GetGap())
	for i := 400; i < 1000; i++ { // live, while the replay runs
		pub(i)
	}
	var want []string
	for i := 50; i < len(all); i++ {
		if allTopics[i] != "c" {
			want = append(want, all[i].GetCursor())
		}
	}
	// Like a real client: when the server ends the stream (the live
	// subscriptions overflow while the replay is sent), resume from the
	// cursor it names.
	var got []string
	resumes := 0
	for len(got) < len(want) {
		if st.Receive() {
			m := st.Msg().GetMessage()
			require.NotNil(t, m)
			got = append(got, m.GetCursor())
			continue
		}
		var ce *connect.Error
		require.ErrorAs(t, st.Err(), &ce)
		require.Equal(t, connect.CodeResourceExhausted, ce.Code())
		resume := ce.Meta().Get(grpcx.ResumeCursorKey)
		if len(got) > 0 {
			require.Equal(t, got[len(got)-1], resume)
		} else {
			require.Equal(t, since, resume)
		}
		resumes++
		var op *pb.Opened
		st, op = subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a/#", "b", "a/x"}, Since: resume})
		require.Nil(t, op.GetGap())
	}
	require.Equal(t, want, got, "every message once, in cursor order")
	t.Logf("%d resumes", resumes)
	publish(t, ctx, c, "b", "end")
	require.Equal(t, "end", string(recv(t, st).GetData()))
}

func TestSubscribeManyFiltersGap(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{HistorySize: 5})
	c := e.client("connect")
	first := publish(t, ctx, c, "a", "0").GetCursor()
	for i := 1; i < 10; i++ {
		publish(t, ctx, c, "b", fmt.Sprint(i))
	}
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}, Since: first})
	require.Equal(t, pb.GapReason_GAP_REASON_HISTORY, op.GetGap().GetReason())
	require.NotEmpty(t, op.GetHead())
	publish(t, ctx, c, "a", "live")
	require.Equal(t, "live", string(recv(t, st).GetData()))

	_, op = subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}, Since: "nope"})
	require.Equal(t, pb.GapReason_GAP_REASON_INVALID_CURSOR, op.GetGap().GetReason())
	_, op = subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}, Since: "otherepoch-1"})
	require.Equal(t, pb.GapReason_GAP_REASON_HISTORY, op.GetGap().GetReason())
}

// Concurrent publishers on several topics: a stream over several filters
// still delivers in cursor order, each message once.
func TestSubscribeManyFiltersConcurrent(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, &grpcx.Options{Buffer: 4096}, pubsub.MemoryOptions{})
	c := e.client("grpc")
	st, _ := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a/#", "b", "a/2"}})
	const per = 300
	topics := []string{"a/1", "a/2", "b", "c"}
	var wg sync.WaitGroup
	for _, topic := range topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				if _, err := e.b.Publish(ctx, pubsub.Message{Topic: topic, Data: []byte(fmt.Sprint(i))}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var prev uint64
	seen := map[string]int{}
	for range 3 * per {
		m := recv(t, st)
		cur, err := pubsub.ParseCursor(m.GetCursor())
		require.NoError(t, err)
		require.Greater(t, cur.Seq, prev, "out of order")
		prev = cur.Seq
		seen[m.GetTopic()]++
	}
	require.Equal(t, map[string]int{"a/1": per, "a/2": per, "b": per}, seen)
}

// A short multi-filter replay reaches the client without a live message
// behind it to push it out.
func TestSubscribeManyFiltersShortReplay(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	since := publish(t, ctx, c, "a", "0").GetCursor()
	publish(t, ctx, c, "b", "1")
	publish(t, ctx, c, "a", "2")
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}, Since: since})
	require.Nil(t, op.GetGap())
	require.Equal(t, "1", string(recv(t, st).GetData()))
	require.Equal(t, "2", string(recv(t, st).GetData()))
}

// A group member may take several filters (one group per filter, as the
// memory broker takes one filter per group): it gets the messages of each.
func TestSubscribeGroupManyFilters(t *testing.T) {
	ctx := testCtx(t)
	e := newEnv(t, nil, pubsub.MemoryOptions{})
	c := e.client("grpc")
	st, op := subscribe(t, ctx, c, &pb.SubscribeRequest{Filters: []string{"a", "b"}, Group: "g"})
	require.Nil(t, op.GetGap())
	publish(t, ctx, c, "a", "1")
	require.Equal(t, "1", string(recv(t, st).GetData()))
	publish(t, ctx, c, "b", "2")
	require.Equal(t, "2", string(recv(t, st).GetData()))
}
