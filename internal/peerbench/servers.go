package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/dunglas/mercure"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// benchTopic is the one topic (channel) every server publishes to and every
// subscriber listens on.
const benchTopic = "bench"

// mercureKey signs the publisher JWT the load generator sends to Mercure. It
// only guards a hub on a loopback port that lives for one measurement.
var mercureKey = []byte("peerbench-loopback-only-key-0123456789")

// serve runs one server (the child process of a measurement) until SIGTERM or
// SIGINT. It listens on a free loopback port and prints "LISTEN host:port" on
// stdout once it accepts connections, which is what the parent waits for.
func serve(name string) error {
	_ = raiseFDLimit()
	var h http.Handler
	var stop func()
	switch name {
	case "switchboard":
		h, stop = switchboardServer()
	case "centrifuge":
		var err error
		h, stop, err = centrifugeServer()
		if err != nil {
			return err
		}
	case "mercure":
		var err error
		h, stop, err = mercureServer()
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown server %q", name)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	if name == "switchboard" {
		// gRPC needs HTTP/2; clients connect with prior knowledge (h2c).
		// HTTP/1.1 requests (SSE, WebSocket upgrades) are served as before.
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Printf("LISTEN %s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-errc:
		stop()
		return err
	}
	// Streams never end on their own: close everything rather than wait.
	_ = srv.Close()
	stop()
	<-errc
	return nil
}

// switchboardServer: the sse, ws, grpcx and graphqlsub handlers on one
// pubsub.Memory, publishing over transport's REST handler, all defaults
// except the connection caps (the idle test opens more than the default
// 10,000). graphqlsub serves gophers.BrokerSchema, the ready-made API a
// user mounts, with its live subscriptions (no since) sharing one execution
// (Options.ShareSubscriptions with gophers.ShareLive).
func switchboardServer() (http.Handler, func()) {
	b := pubsub.NewMemory(nil)
	limits := transport.Limits{MaxConnections: -1}
	sh := sse.NewHandler(b, &sse.Options{Limits: limits})
	wh := ws.NewHandler(b, &ws.Options{Limits: limits})
	gpath, gh := grpcx.NewHandler(b, &grpcx.Options{Limits: limits})
	schema, err := gophers.NewBrokerSchema(b, nil)
	if err != nil {
		panic(err) // the schema is a constant
	}
	qh := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{
		Limits:             limits,
		ShareSubscriptions: gophers.ShareLive,
	})
	mux := http.NewServeMux()
	mux.Handle("/events", sh)
	mux.Handle("/ws", wh)
	mux.Handle(gpath, gh)
	mux.Handle("/graphql", qh)
	mux.Handle("/topics/", transport.NewRESTHandler(b, &transport.RESTOptions{Limits: limits}))
	return mux, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = sh.Shutdown(ctx)
		_ = wh.Shutdown(ctx)
		_ = gh.Shutdown(ctx)
		_ = qh.Shutdown(ctx)
		_ = b.Close()
	}
}

// centrifugeServer: a centrifuge Node with the in-memory broker, its
// WebSocket handler (bidirectional, client-side subscribe: what centrifuge-js
// does) and its SSE handler. Centrifuge v0.40.1 ships no uni-directional SSE
// handler (that lives in the Centrifugo server); its SSE handler takes the
// connect command in the URL (cf_connect), and a fan-out user subscribes the
// stream on the server side in OnConnecting, so the stream needs no second
// (emulation) endpoint. Publishing is the few lines a centrifuge user writes:
// an HTTP handler calling Node.Publish.
func centrifugeServer() (http.Handler, func(), error) {
	node, err := centrifuge.New(centrifuge.Config{LogLevel: centrifuge.LogLevelNone})
	if err != nil {
		return nil, nil, err
	}
	node.OnConnecting(func(_ context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		r := centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: ""}}
		if e.Transport.Name() == "sse" {
			r.Subscriptions = map[string]centrifuge.SubscribeOptions{benchTopic: {}}
		}
		return r, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
	})
	if err := node.Run(); err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", centrifuge.NewWebsocketHandler(node, centrifuge.WebsocketConfig{}))
	// The stream carries no pongs back (they would go through the emulation
	// endpoint), so pings go out without a pong check, like an SSE keep-alive.
	mux.Handle("/connection/sse", centrifuge.NewSSEHandler(node, centrifuge.SSEConfig{
		PingPongConfig: centrifuge.PingPongConfig{PongTimeout: -1},
	}))
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, err := node.Publish(benchTopic, body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	return mux, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = node.Shutdown(ctx)
	}, nil
}

// mercureServer: the Mercure hub as a library with its default local
// transport, anonymous subscribers and a publisher JWT (HS256).
func mercureServer() (http.Handler, func(), error) {
	ctx := context.Background()
	h, err := mercure.NewHub(ctx,
		mercure.WithPublisherJWT(mercureKey, "HS256"),
		mercure.WithAnonymous(),
		mercure.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/.well-known/mercure", h)
	return mux, func() {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = h.Stop(ctx)
	}, nil
}

// mercureJWT returns an HS256 token allowing to publish on every topic.
func mercureJWT() string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims := enc.EncodeToString([]byte(`{"mercure":{"publish":["*"]}}`))
	m := hmac.New(sha256.New, mercureKey)
	m.Write([]byte(head + "." + claims))
	return head + "." + claims + "." + enc.EncodeToString(m.Sum(nil))
}

// raiseFDLimit lifts RLIMIT_NOFILE as far as the process may (the hard limit
// too when it is allowed to, as root usually is) and returns the soft limit
// it ended with.
func raiseFDLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	want := uint64(1 << 20) // fs.nr_open's usual ceiling
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: want, Max: want}) != nil {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 1024
	}
	return int(min(l.Cur, 1<<30))
}
