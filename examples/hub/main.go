// Command hub is Switchboard's all-in-one server: every transport mounted on
// one mux over one broker.
//
//	go run ./examples/hub                      # in-memory broker on :8080
//	go run ./examples/hub -broker amqp://guest:guest@127.0.0.1:5672/
//
// Each transport mounts itself in its own file (rest.go, sse.go, …) through
// register, so this file stays the same as transports are added.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr, nil); err != nil {
		fmt.Fprintln(os.Stderr, "hub:", err)
		os.Exit(1)
	}
}

// hub is what a transport's mount function gets.
type hub struct {
	ctx    context.Context // cancelled when the hub starts shutting down
	mux    *http.ServeMux
	broker pubsub.Broker
	log    *slog.Logger
	server *http.Server
	auth   *transport.Auth // every transport's; nil allows everyone (see auth.go)
	// observer is set on every transport's Options (Observer); the setups
	// (-metrics, -tracing) fill it before the transports mount.
	observer *transport.Observer

	mu    sync.Mutex
	parts []transport.Shutdowner // handlers stopped with the HTTP server
	wg    sync.WaitGroup         // background listeners started with goBackground
}

// mount is one transport's setup; see register.
type mount struct {
	name string
	fn   func(h *hub) error
}

var (
	mounts      []mount
	brokerKinds = map[string]func(ctx context.Context, url string, log *slog.Logger) (pubsub.Broker, error){}
)

// register adds a transport mount; called from init in each transport's file.
func register(name string, fn func(h *hub) error) { mounts = append(mounts, mount{name, fn}) }

// registerBroker adds a -broker URL scheme ("amqp", "mqtt", …).
func registerBroker(scheme string, fn func(ctx context.Context, url string, log *slog.Logger) (pubsub.Broker, error)) {
	brokerKinds[scheme] = fn
}

// manage has p shut down with the HTTP server (transport.Shutdown): its
// clients are told to come back while the server stops accepting.
func (h *hub) manage(p transport.Shutdowner) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.parts = append(h.parts, p)
}

// goBackground runs fn (a listener loop) until the hub stops, and waits for
// it on shutdown.
func (h *hub) goBackground(fn func()) {
	h.wg.Add(1)
	go func() { defer h.wg.Done(); fn() }()
}

// run starts the hub and blocks until ctx is done. ready, if set, gets the
// HTTP address once it listens (tests use it).
func run(ctx context.Context, args []string, logOut io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("hub", flag.ContinueOnError)
	addr := fs.String("addr", ":8080", "HTTP listen address")
	brokerURL := fs.String("broker", "memory", "broker: memory, or a URL such as amqp://guest:guest@127.0.0.1:5672/ or mqtt://127.0.0.1:1883")
	idleTimeout := fs.Duration("idle-timeout", defaultIdleTimeout, "close a keep-alive connection idle this long (0: never)")
	for _, f := range extraFlags {
		f(fs)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))

	broker, err := openBroker(ctx, *brokerURL, log)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true) // gRPC clients connect with prior-knowledge h2c
	h := &hub{ctx: hctx, mux: http.NewServeMux(), broker: broker, log: log}
	if h.auth, err = hubAuth(); err != nil {
		_ = broker.Close()
		return err
	}
	h.server = newServer(h.mux, p, *idleTimeout, log)

	for _, setup := range setups {
		if err := setup(h); err != nil {
			_ = broker.Close()
			return err
		}
	}
	broker = h.broker // a setup may have wrapped it
	sort.SliceStable(mounts, func(i, j int) bool { return mounts[i].name < mounts[j].name })
	for _, m := range mounts {
		if err := m.fn(h); err != nil {
			_ = broker.Close()
			return fmt.Errorf("failed to mount %s: %w", m.name, err)
		}
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		_ = broker.Close()
		return fmt.Errorf("failed to listen: %w", err)
	}
	log.Info("switchboard hub listening", "addr", ln.Addr().String(), "broker", redact(*brokerURL))
	if ready != nil {
		ready(ln.Addr().String())
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- h.server.Serve(ln) }()

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	log.Info("switchboard hub shutting down")
	cancel()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	h.mu.Lock()
	parts := h.parts
	h.mu.Unlock()
	if e := transport.Shutdown(sctx, h.server, parts...); e != nil {
		log.Warn("shutdown", "err", e)
	}
	if err == nil {
		<-serveErr
	}
	h.wg.Wait()
	if e := broker.Close(); e != nil {
		log.Warn("broker close", "err", e)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Server timeouts; see newServer.
const (
	defaultIdleTimeout = 60 * time.Second
	readHeaderTimeout  = 10 * time.Second
)

// newServer returns the hub's HTTP server. Its timeouts bound what a client
// can hold without sending a request, and nothing else:
//
//   - ReadHeaderTimeout (10 s) bounds the request line and headers, so a
//     client trickling its headers (slowloris) is cut.
//   - IdleTimeout (-idle-timeout, 60 s; 0 turns it off, as ReadTimeout is
//     0) closes a keep-alive connection (or an HTTP/2 connection with no
//     stream open) that sends no next request, so idle connections do not
//     pile up.
//
// ReadTimeout and WriteTimeout stay 0: they bound the whole request and
// the whole response, so they would cut every SSE stream, held long poll
// and gRPC stream after that time (and a hijacked WebSocket keeps the
// connection deadline that was in force when the handler took it). The
// handlers bound the rest themselves: request bodies are read under
// transport.Limits.ReadTimeout (REST publish, GraphQL POST), writes to
// stream clients under each handler's WriteTimeout, and idle streams are
// probed with KeepAlive.
func newServer(h http.Handler, p *http.Protocols, idle time.Duration, log *slog.Logger) *http.Server {
	return &http.Server{Handler: h, Protocols: p, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idle,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

// extraFlags lets a transport's file add its flags (e.g. -mqtt-addr).
var extraFlags []func(fs *flag.FlagSet)

// setups run before the transports mount: they may set h.observer and
// wrap h.broker (pubsub.Wrap) for every transport.
var setups []func(h *hub) error

func openBroker(ctx context.Context, u string, log *slog.Logger) (pubsub.Broker, error) {
	if u == "" || u == "memory" {
		return pubsub.NewMemory(nil), nil
	}
	scheme, _, ok := strings.Cut(u, "://")
	if !ok {
		return nil, fmt.Errorf("unknown -broker %q: want memory or a URL", u)
	}
	open := brokerKinds[scheme]
	if open == nil { // amqps, mqtts: the TLS form of a registered scheme
		open = brokerKinds[strings.TrimSuffix(scheme, "s")]
	}
	if open == nil {
		return nil, fmt.Errorf("unknown -broker scheme %q", scheme)
	}
	return open(ctx, u, log)
}

// redact hides a password in a broker URL.
func redact(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, _, hasPw := strings.Cut(rest[:at], ":"); hasPw {
			return scheme + "://" + user + ":***" + rest[at:]
		}
	}
	return u
}
