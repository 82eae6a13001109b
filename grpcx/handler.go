package grpcx

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/switchboard-go/switchboard/internal/cors"
	"github.com/switchboard-go/switchboard/internal/lifecycle"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Options configures NewHandler. The zero value (or nil) is valid: anyone may
// publish and subscribe, with the default limits.
type Options struct {
	// Auth authenticates each call once (from its request headers: a bearer
	// token or HTTP Basic credentials) and authorizes every publish,
	// subscribe and request. Refusals are Unauthenticated or
	// PermissionDenied.
	Auth *transport.Auth

	// Limits: MaxMessageBytes caps a published payload plus its header
	// (default 1 MiB); MaxSubscriptions caps the filters of one Subscribe
	// call and the subscriptions of one Session (default 100);
	// MaxConnections caps the open streams (Subscribe, PublishStream and
	// Session calls) of the handler (default 10,000). Beyond them:
	// ResourceExhausted (Unavailable for MaxConnections).
	Limits transport.Limits

	// ReadMaxBytes caps one encoded request message; 0 means 4 MiB, a
	// negative value means no limit. Beyond it: ResourceExhausted.
	ReadMaxBytes int

	// Buffer is each subscription's delivery buffer; 0 means the broker's
	// default (pubsub.DefaultBuffer). A client that falls this far behind
	// is ended with ResourceExhausted and the cursor to resume from.
	Buffer int

	// MaxBatch caps the messages of one PublishStream call; 0 means
	// 10,000, a negative value means no limit. Beyond it the call ends with
	// ResourceExhausted (the summary of what was published is lost to the
	// client, so keep batches under the limit).
	MaxBatch int

	// RequestTimeout bounds how long Request waits for a reply when the
	// client set no shorter deadline; 0 means 30 s, a negative value means
	// only the client's deadline applies.
	RequestTimeout time.Duration

	// CORS lets browser pages on other origins call the service (gRPC-Web
	// and Connect); nil sends no CORS headers, so only same-origin pages
	// can. Nil AllowHeaders and ExposeHeaders mean the gRPC-Web and Connect
	// headers (and the resume cursor trailer).
	CORS *transport.CORS

	// NoReflection leaves out the gRPC server reflection handlers in
	// Handler.Register; NoHealth leaves out the health handler.
	NoReflection, NoHealth bool

	// CompressMinBytes is the smallest response message connect compresses
	// (gzip, when the client accepts it); 0 means 4 KiB, a negative value
	// compresses every message (connect's default). Compressing small
	// messages once per stream costs more CPU than it saves: with 1,000
	// streams of 256-byte messages, gzip took 70 % of the server's time.
	CompressMinBytes int

	// HandlerOptions are passed to connect (interceptors, compression, …)
	// after the handler's own WithReadMaxBytes and WithCompressMinBytes,
	// so they take precedence.
	HandlerOptions []connect.HandlerOption

	// Logger receives internal errors; nil means silent.
	Logger *slog.Logger
}

// DefaultReadMaxBytes is the request message limit used when
// Options.ReadMaxBytes is 0.
const DefaultReadMaxBytes = 4 << 20

// DefaultCompressMinBytes is used when Options.CompressMinBytes is 0.
const DefaultCompressMinBytes = 4 << 10

// DefaultMaxBatch is used when Options.MaxBatch is 0.
const DefaultMaxBatch = 10000

// DefaultRequestTimeout is used when Options.RequestTimeout is 0.
const DefaultRequestTimeout = 30 * time.Second

// Handler serves switchboard.pubsub.v1.PubSubService over gRPC, gRPC-Web and
// the Connect protocol. Create it with NewHandler. It is safe for concurrent
// use.
type Handler struct {
	b      pubsub.Broker
	hr     pubsub.HistoryReader // nil when the broker keeps no history
	o      Options
	lim    transport.Limits
	gate   *lifecycle.Tracker
	log    *slog.Logger
	inner  http.Handler
	health *grpchealth.StaticChecker

	ctx     context.Context // cancelled by Shutdown
	cancel  context.CancelFunc
	closing <-chan struct{} // ctx.Done()
	mu      sync.Mutex
	calls   int            // calls in progress
	idle    chan struct{}  // made by Shutdown, closed when calls reaches 0
	readers sync.WaitGroup // Session reader goroutines

}

var _ http.Handler = (*Handler)(nil)

// ServiceName is the fully-qualified name of the service.
const ServiceName = pubsubv1connect.PubSubServiceName

// NewHandler returns the service handler and the path to mount it at
// ("/switchboard.pubsub.v1.PubSubService/"), like connect's generated
// constructors: mux.Handle(grpcx.NewHandler(b, nil)). opts may be nil.
//
// Serve it over HTTP/2 for gRPC and for Session (bidirectional streaming):
// with TLS, or in clear text by enabling http.Protocols.SetUnencryptedHTTP2
// on the http.Server (see the package doc). Publish, Subscribe,
// PublishStream and Request also work over HTTP/1.1 with the Connect and
// gRPC-Web protocols.
func NewHandler(b pubsub.Broker, opts *Options) (string, *Handler) {
	var o Options
	if opts != nil {
		o = *opts
	}
	h := &Handler{b: b, o: o, lim: o.Limits.WithDefaults(),
		log: o.Logger, health: grpchealth.NewStaticChecker(ServiceName)}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.closing = h.ctx.Done()
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.gate = lifecycle.New(h.lim.MaxConnections)
	if o.CORS != nil {
		c := *o.CORS
		if c.AllowHeaders == nil {
			c.AllowHeaders = corsAllowHeaders
		}
		if c.ExposeHeaders == nil {
			c.ExposeHeaders = corsExposeHeaders
		}
		h.o.CORS = &c
	}
	if hr, ok := b.(pubsub.HistoryReader); ok && b.Capabilities().History {
		h.hr = hr
	}
	switch {
	case o.ReadMaxBytes == 0:
		h.o.ReadMaxBytes = DefaultReadMaxBytes
	case o.ReadMaxBytes < 0:
		h.o.ReadMaxBytes = 0
	}
	switch {
	case o.MaxBatch == 0:
		h.o.MaxBatch = DefaultMaxBatch
	case o.MaxBatch < 0:
		h.o.MaxBatch = 0
	}
	switch {
	case o.RequestTimeout == 0:
		h.o.RequestTimeout = DefaultRequestTimeout
	case o.RequestTimeout < 0:
		h.o.RequestTimeout = 0
	}
	switch {
	case o.CompressMinBytes == 0:
		h.o.CompressMinBytes = DefaultCompressMinBytes
	case o.CompressMinBytes < 0:
		h.o.CompressMinBytes = 0
	}
	hopts := make([]connect.HandlerOption, 0, len(o.HandlerOptions)+2)
	if h.o.ReadMaxBytes > 0 {
		hopts = append(hopts, connect.WithReadMaxBytes(h.o.ReadMaxBytes))
	}
	hopts = append(hopts, connect.WithCompressMinBytes(h.o.CompressMinBytes))
	hopts = append(hopts, o.HandlerOptions...)
	path, inner := pubsubv1connect.NewPubSubServiceHandler(&service{h: h}, hopts...)
	h.inner = inner
	return path, h
}

// ServeHTTP serves one call.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if cors.Handle((*cors.Policy)(h.o.CORS), w, r, "GET, POST") {
		return
	}
	bw := &batchWriter{ResponseWriter: w}
	h.inner.ServeHTTP(bw, r.WithContext(context.WithValue(r.Context(), batchWriterKey{}, bw)))
}

// Register mounts the service on mux, together with gRPC server reflection
// (grpc.reflection.v1 and v1alpha, listing PubSubService, the reflection
// service and the health service) and the gRPC
// health service (grpc.health.v1, reporting PubSubService and the server
// as SERVING until Shutdown), unless Options.NoReflection or
// Options.NoHealth. Tools such as grpcurl then work without a .proto file.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/"+ServiceName+"/", h)
	if !h.o.NoHealth {
		mux.Handle(grpchealth.NewHandler(h.health))
	}
	if !h.o.NoReflection {
		names := []string{ServiceName, grpcreflect.ReflectV1ServiceName}
		if !h.o.NoHealth {
			names = append(names, grpchealth.HealthV1ServiceName)
		}
		r := grpcreflect.NewStaticReflector(names...)
		mux.Handle(grpcreflect.NewHandlerV1(r))
		mux.Handle(grpcreflect.NewHandlerV1Alpha(r))
	}
}

// Shutdown stops accepting calls (new ones fail with Unavailable), marks the
// health service NOT_SERVING, ends every Subscribe and Session stream with
// Unavailable and the cursor to resume from, and waits until the calls in
// progress have returned or ctx is done. Call it before
// http.Server.Shutdown, which waits for streams it cannot end itself.
// Client-streaming calls (PublishStream) end when their client finishes.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	if h.idle == nil {
		h.cancel()
		h.health.SetStatus("", grpchealth.StatusNotServing)
		h.health.SetStatus(ServiceName, grpchealth.StatusNotServing)
		h.idle = make(chan struct{})
		if h.calls == 0 {
			close(h.idle)
		}
	}
	idle := h.idle
	h.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close is Shutdown without a deadline that also waits for the goroutines
// reading Session streams (they end when the HTTP server closes the
// streams' bodies, so call Close after http.Server.Shutdown or Close). It
// is idempotent.
func (h *Handler) Close() error {
	err := h.Shutdown(context.Background())
	h.readers.Wait()
	return err
}

// enter registers a call in progress; it fails once the handler is closing.
func (h *Handler) enter() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.idle != nil {
		return errShuttingDown
	}
	h.calls++
	return nil
}

func (h *Handler) leave() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls--
	if h.calls == 0 && h.idle != nil {
		close(h.idle)
	}
}

// enterStream is enter plus the connection gate for long-lived calls.
func (h *Handler) enterStream() error {
	if err := h.gate.Enter(); err != nil {
		return err
	}
	if err := h.enter(); err != nil {
		h.gate.Leave(nil)
		return err
	}
	return nil
}

func (h *Handler) leaveStream() {
	h.leave()
	h.gate.Leave(nil)
}
