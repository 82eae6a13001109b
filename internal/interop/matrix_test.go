package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1"
	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// matrixPayloads are the bytes every transport must carry unchanged: JSON
// with inner whitespace, binary with NUL and invalid UTF-8, every line
// ending, a JSON string, an empty payload and a large one.
var matrixPayloads = [][]byte{
	[]byte(`{"n": 1, "s": "é",` + "\n" + `"x": [1, 2]}`),
	{0, 1, 2, 0xff, 0xfe, '\r', '\n', '\r'},
	[]byte("line1\r\nline2\rline3\nline4"),
	[]byte(`"just a string"`),
	{},
	bytes.Repeat([]byte("0123456789abcdef"), 2048), // 32 KiB: under the WebSocket read limit (64 KiB) once base64-encoded
}

// matrixServer mounts REST, SSE, long polling, WebSocket and gRPC over one
// broker on HTTP/1.1 and h2c, and drains them when the test ends.
func matrixServer(t *testing.T) (*httptest.Server, pubsub.Broker) {
	b := pubsub.NewMemory(nil)
	mux := http.NewServeMux()
	mux.Handle("/topics/", transport.NewRESTHandler(b, nil))
	sseH := sse.NewHandler(b, &sse.Options{Format: sse.FormatEnvelope})
	mux.Handle("/events", sseH)
	lp := longpoll.NewHandler(b, nil)
	mux.Handle("/poll", lp)
	wsH := ws.NewHandler(b, nil)
	mux.Handle("/ws", wsH)
	path, g := grpcx.NewHandler(b, nil)
	mux.Handle(path, g)
	srv := httptest.NewUnstartedServer(mux)
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv.Config.Protocols = p
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, sseH.Shutdown(ctx))
		require.NoError(t, lp.Shutdown(ctx))
		require.NoError(t, wsH.Shutdown(ctx))
		require.NoError(t, g.Shutdown(ctx))
		srv.Close()
		require.NoError(t, b.Close())
	})
	return srv, b
}

type matrixGot struct {
	topic string
	data  []byte
}

// TestDeliveryMatrix publishes the same payloads over REST, WebSocket and
// gRPC, and checks that subscribers on SSE, long polling, WebSocket and gRPC
// each receive all of them, in order, byte-identical.
func TestDeliveryMatrix(t *testing.T) {
	srv, _ := matrixServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	h2cTransport := &http.Transport{Protocols: h2c}
	defer h2cTransport.CloseIdleConnections()
	grpcClient := pubsubv1connect.NewPubSubServiceClient(&http.Client{Transport: h2cTransport}, srv.URL, connect.WithGRPC())

	wsPub, err := ws.Dial(ctx, srv.URL+"/ws", nil)
	require.NoError(t, err)
	defer wsPub.Close()

	publishers := []struct {
		name string
		pub  func(topic string, data []byte) error
	}{
		{"rest", func(topic string, data []byte) error {
			resp, err := http.Post(srv.URL+"/topics/"+topic, "application/octet-stream", bytes.NewReader(data))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				body, _ := io.ReadAll(resp.Body)
				return fmt.Errorf("status %d: %s", resp.StatusCode, body)
			}
			return nil
		}},
		{"ws", func(topic string, data []byte) error {
			_, err := wsPub.Publish(ctx, pubsub.Message{Topic: topic, Data: data})
			return err
		}},
		{"grpc", func(topic string, data []byte) error {
			_, err := grpcClient.Publish(ctx, connect.NewRequest(&pubsubv1.PublishRequest{Topic: topic, Data: data}))
			return err
		}},
	}
	var want []matrixGot
	for _, p := range publishers {
		for _, d := range matrixPayloads {
			want = append(want, matrixGot{"matrix/" + p.name, d})
		}
	}

	// Subscribers: each sends what it receives on its channel, and is
	// active (confirmed by its protocol) before anything is published.
	type subscriber struct {
		name string
		got  chan matrixGot
	}
	var subs []subscriber
	var wg sync.WaitGroup
	defer wg.Wait()
	subCtx, stopSubs := context.WithCancel(ctx)
	defer stopSubs()
	add := func(name string) chan matrixGot {
		c := make(chan matrixGot, len(want))
		subs = append(subs, subscriber{name, c})
		return c
	}

	// SSE (envelope format), via the package's EventSource-like client.
	sseGot, sseReady := add("sse"), make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		c := &sse.Client{URL: srv.URL + "/events?topic=matrix/%23"}
		_ = c.Run(subCtx, func(e sse.Event) error {
			if e.Type == "sb-open" {
				close(sseReady)
				return nil
			}
			m, err := transport.DecodeEnvelope([]byte(e.Data))
			if err != nil {
				t.Errorf("sse envelope: %v", err)
				return err
			}
			sseGot <- matrixGot{m.Topic, m.Data}
			return nil
		})
	}()

	// WebSocket, via the Go client.
	wsSubClient, err := ws.Dial(ctx, srv.URL+"/ws", nil)
	require.NoError(t, err)
	defer wsSubClient.Close()
	wsSub, err := wsSubClient.Subscribe(ctx, "matrix/#", nil)
	require.NoError(t, err)
	wsGot := add("ws")
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case e, ok := <-wsSub.C():
				if !ok {
					return
				}
				if e.Message != nil {
					wsGot <- matrixGot{e.Message.Topic, e.Message.Data}
				}
			case <-subCtx.Done():
				return
			}
		}
	}()

	// gRPC server stream.
	stream, err := grpcClient.Subscribe(subCtx, connect.NewRequest(&pubsubv1.SubscribeRequest{Filters: []string{"matrix/#"}}))
	require.NoError(t, err)
	defer stream.Close()
	require.True(t, stream.Receive(), "opened event: %v", stream.Err())
	require.NotNil(t, stream.Msg().GetOpened())
	grpcGot := add("grpc")
	wg.Add(1)
	go func() {
		defer wg.Done()
		for stream.Receive() {
			if m := stream.Msg().GetMessage(); m != nil {
				grpcGot <- matrixGot{m.Topic, m.Data}
			}
		}
	}()

	// Long polling: take the head cursor now, poll in a loop afterwards.
	type pollResp struct {
		Messages []json.RawMessage `json:"messages"`
		Cursor   string            `json:"cursor"`
		Gap      bool              `json:"gap"`
	}
	poll := func(cursor string, timeout string) pollResp {
		u := srv.URL + "/poll?topic=matrix/%23&timeout=" + timeout
		if cursor != "" {
			u += "&cursor=" + cursor
		}
		resp, err := http.Get(u)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode)
		var r pollResp
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		require.False(t, r.Gap)
		return r
	}
	cursor := poll("", "0").Cursor
	require.NotEmpty(t, cursor)

	select {
	case <-sseReady:
	case <-ctx.Done():
		t.Fatal("SSE stream never opened")
	}

	for _, p := range publishers {
		for _, d := range matrixPayloads {
			require.NoError(t, p.pub("matrix/"+p.name, d), p.name)
		}
	}

	lpGot := add("longpoll")
	for n := 0; n < len(want); {
		r := poll(cursor, "5")
		for _, raw := range r.Messages {
			m, err := transport.DecodeEnvelope(raw)
			require.NoError(t, err)
			lpGot <- matrixGot{m.Topic, m.Data}
			n++
		}
		cursor = r.Cursor
	}

	for _, s := range subs {
		for i, w := range want {
			select {
			case g := <-s.got:
				require.Equal(t, w.topic, g.topic, "%s: message %d topic", s.name, i)
				require.True(t, bytes.Equal(w.data, g.data), "%s: message %d from %s: payload of %d bytes arrived as %d bytes %q", s.name, i, w.topic, len(w.data), len(g.data), clip(g.data))
			case <-ctx.Done():
				t.Fatalf("%s: got %d of %d messages", s.name, i, len(want))
			}
		}
	}
	stopSubs()
	_ = wsSub.Close()
}

func clip(b []byte) []byte {
	if len(b) > 40 {
		return b[:40]
	}
	return b
}
