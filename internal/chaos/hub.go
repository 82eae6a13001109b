package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/graphqlsub/gophers"
	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/longpoll"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/ws"
)

// hub is one in-process Switchboard server: every transport on one HTTP
// listener plus an MQTT listener, over a broker reached through a fault
// proxy. A hub can be stopped and started again on the same addresses.
type hub struct {
	name  string
	world *world
	dial  func(ctx context.Context) (pubsub.Broker, error)
	log   *slog.Logger

	httpAddr, mqttAddr string // fixed at the first start

	mu      sync.Mutex
	up      bool
	broker  pubsub.Broker
	server  *http.Server
	mqttSrv *mqttx.Server
	parts   []transport.Shutdowner
	serving sync.WaitGroup
}

// amqpDialer dials RabbitMQ through proxy for a hub of world w.
func amqpDialer(url, name string, log *slog.Logger, w *world) func(ctx context.Context) (pubsub.Broker, error) {
	return func(ctx context.Context) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return amqpx.Dial(ctx, url, &amqpx.Options{
			Exchange: w.exchange, QueuePrefix: w.exchange, ConnectionName: "chaos-" + name,
			History: true, HistoryMaxAge: time.Hour,
			KeepAlive: 2 * time.Second, MaxBackoff: time.Second, PublishWait: 3 * time.Second,
			Logger: log,
		})
	}
}

// mqttDialer dials Mosquitto through proxy for a hub.
func mqttDialer(url, clientID string, log *slog.Logger) func(ctx context.Context) (pubsub.Broker, error) {
	return func(ctx context.Context) (pubsub.Broker, error) {
		ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		return mqttx.Dial(ctx, url, &mqttx.Options{
			ClientID: clientID, KeepAlive: 2 * time.Second, MaxBackoff: time.Second,
			PacketTimeout: 3 * time.Second, ConnectTimeout: 3 * time.Second, Logger: log,
		})
	}
}

// start dials the broker and serves every transport. The first start picks
// free loopback ports; later starts reuse them.
func (h *hub) start(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up {
		return nil
	}
	b, err := h.dial(ctx)
	if err != nil {
		return fmt.Errorf("hub %s: broker: %w", h.name, err)
	}
	httpLn, err := listen(h.httpAddr)
	if err != nil {
		_ = b.Close()
		return fmt.Errorf("hub %s: %w", h.name, err)
	}
	mqttLn, err := listen(h.mqttAddr)
	if err != nil {
		_ = httpLn.Close()
		_ = b.Close()
		return fmt.Errorf("hub %s: %w", h.name, err)
	}
	h.httpAddr, h.mqttAddr = httpLn.Addr().String(), mqttLn.Addr().String()

	mux := http.NewServeMux()
	s := sse.NewHandler(b, &sse.Options{Format: sse.FormatEnvelope, EventName: func(*pubsub.Message) string { return "" }, Logger: h.log})
	mux.Handle("/events", s)
	lp := longpoll.NewHandler(b, &longpoll.Options{Logger: h.log})
	mux.Handle("/poll", lp)
	wsh := ws.NewHandler(b, &ws.Options{Logger: h.log})
	mux.Handle("/ws", wsh)
	_, g := grpcx.NewHandler(b, &grpcx.Options{Logger: h.log})
	g.Register(mux)
	schema, err := gophers.NewBrokerSchema(b, nil)
	if err != nil {
		_ = httpLn.Close()
		_ = mqttLn.Close()
		_ = b.Close()
		return err
	}
	gq := graphqlsub.NewHandler(gophers.New(schema, nil), &graphqlsub.Options{Logger: h.log})
	mux.Handle("/graphql", gq)
	mux.Handle("/topics/", transport.NewRESTHandler(b, &transport.RESTOptions{Logger: h.log}))
	ms, err := mqttx.NewServer(b, &mqttx.ServerOptions{Logger: h.log})
	if err != nil {
		_ = httpLn.Close()
		_ = mqttLn.Close()
		_ = b.Close()
		return err
	}

	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	h.server = &http.Server{Handler: mux, Protocols: p, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(h.log.Handler(), slog.LevelDebug)}
	h.broker, h.mqttSrv = b, ms
	h.parts = []transport.Shutdowner{s, lp, wsh, g, gq, ms}
	srv := h.server
	h.serving.Add(2)
	go func() { defer h.serving.Done(); _ = srv.Serve(httpLn) }()
	go func() { defer h.serving.Done(); _ = ms.Serve(mqttLn) }()
	h.up = true
	return nil
}

// stop shuts the hub down gracefully (every client gets its transport's
// go-away signal), bounded by a few seconds, then closes the broker.
func (h *hub) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up {
		return
	}
	h.up = false
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := transport.Shutdown(ctx, h.server, h.parts...); err != nil {
		h.log.Debug("hub shutdown", "hub", h.name, "err", err)
	}
	h.serving.Wait()
	if err := h.broker.Close(); err != nil && !errors.Is(err, pubsub.ErrClosed) {
		h.log.Debug("broker close", "hub", h.name, "err", err)
	}
}

// crash stops the hub abruptly: every handler and connection is cut at
// once (Close, no go-away signal), then the broker closes.
func (h *hub) crash() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up {
		return
	}
	h.up = false
	_ = h.server.Close()
	for _, p := range h.parts {
		_ = p.Close()
	}
	h.serving.Wait()
	if err := h.broker.Close(); err != nil && !errors.Is(err, pubsub.ErrClosed) {
		h.log.Debug("broker close", "hub", h.name, "err", err)
	}
}

// isUp reports whether the hub serves now.
func (h *hub) isUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

func (h *hub) url(path string) string { return "http://" + h.httpAddr + path }

// listen listens on addr, or on a free loopback port when addr is "".
// A restart may find the port still held for a moment.
func listen(addr string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, err
}

// discard is a logger that drops everything.
var discard = slog.New(slog.NewTextHandler(io.Discard, nil))
