package grpcx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/switchboard-go/switchboard/internal/cors"
	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/lifecycle"
	"github.com/switchboard-go/switchboard/internal/opt"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/switchboard-go/switchboard/grpcx/pubsubv1/pubsubv1connect"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Handler serves switchboard.pubsub.v1.PubSubService over gRPC, gRPC-Web and
// the Connect protocol. Create it with NewHandler. It is safe for concurrent
// use.
type Handler struct {
	b         pubsub.Broker
	requester pubsub.Broker        // b, reporting the publish of a Request to the Observer
	hr        pubsub.HistoryReader // nil when the broker keeps no history
	o         Options
	lim       transport.Limits
	streams   *lifecycle.Tracker // Subscribe, PublishStream and Session calls
	log       *slog.Logger
	inner     http.Handler
	health    *grpchealth.StaticChecker

	ctx    context.Context // cancelled when Shutdown or Close starts
	cancel context.CancelFunc
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
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.streams = lifecycle.New(h.lim.MaxConnections)
	h.streams.Observe(o.Observer, transportName)
	h.requester = transport.ObserveBroker(b, o.Observer, transportName)
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
	h.o.ReadLimit = opt.Or(o.ReadLimit, DefaultReadLimit)
	h.o.MaxBatch = opt.Or(o.MaxBatch, DefaultMaxBatch)
	h.o.RequestTimeout = opt.Or(o.RequestTimeout, DefaultRequestTimeout)
	h.o.CompressMinBytes = opt.Or(o.CompressMinBytes, DefaultCompressMinBytes)
	hopts := make([]connect.HandlerOption, 0, len(o.HandlerOptions)+2)
	if h.o.ReadLimit > 0 {
		hopts = append(hopts, connect.WithReadMaxBytes(h.o.ReadLimit))
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
	c := &call{ResponseWriter: w, rc: http.NewResponseController(w), h: h}
	h.inner.ServeHTTP(c, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
	c.finish()
}

// Register mounts the service on mux, together with gRPC server reflection
// (grpc.reflection.v1 and v1alpha, listing PubSubService, the reflection
// service and the health service) and the gRPC health service
// (grpc.health.v1, reporting PubSubService and the server as SERVING while
// the broker is ready, pubsub.Ready, and NOT_SERVING while it is not and
// from Shutdown on; Watch streams see broker changes within a second),
// unless Options.NoReflection or Options.NoHealth. Tools such as
// grpcurl then work without a .proto file.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("/"+ServiceName+"/", h)
	if !h.o.NoHealth {
		mux.Handle(grpchealth.NewHandler(&healthChecker{static: h.health, h: h}))
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

// Shutdown shuts the handler down gracefully. New calls fail with
// Unavailable and the health service reports NOT_SERVING. Every Subscribe
// stream ends with Unavailable and the cursor to resume from
// (ResumeCursorKey), every Session stream with Unavailable, and a Request
// waiting for its reply with Unavailable; a PublishStream call goes on
// until its client has sent everything. Shutdown waits until every stream
// has ended. When ctx ends first, it cuts the remaining streams as Close
// does, waits for them, and returns ctx's error.
//
// Unary calls (Publish, Request) are not streams: Shutdown does not wait
// for those in progress, which http.Server.Shutdown does. Call it with
// http.Server.Shutdown, not after it (transport.Shutdown runs both):
// http.Server.Shutdown waits for the streams. It is idempotent and safe to
// call concurrently with Close and ServeHTTP.
func (h *Handler) Shutdown(ctx context.Context) error {
	h.stop()
	return h.streams.Shutdown(ctx)
}

// Close shuts the handler down abruptly: new calls fail with Unavailable,
// the health service reports NOT_SERVING, and every stream is cut now,
// without the go-away of Shutdown: its context is cancelled and its
// blocked reads and writes fail (through http.ResponseController
// deadlines: HTTP/2 resets the stream). Close then waits for the streams'
// goroutines, the Session readers included, and returns nil; it needs
// neither http.Server.Shutdown nor Close first.
//
// A ResponseWriter that does not support deadlines (a middleware wrapper
// without Unwrap) cannot be cut: Close then waits until such a stream
// notices its cancelled context, or the HTTP server ends it. Close is
// idempotent and safe to call concurrently with Shutdown and ServeHTTP.
func (h *Handler) Close() error {
	h.stop()
	return h.streams.Close()
}

// Active returns the number of open streams (Subscribe, PublishStream and
// Session calls), the number Limits.MaxConnections caps.
func (h *Handler) Active() int { return h.streams.Active() }

// stop refuses unary calls from now on, ends the waits of Request calls
// and reports NOT_SERVING.
func (h *Handler) stop() {
	h.cancel()
	h.health.SetStatus("", grpchealth.StatusNotServing)
	h.health.SetStatus(ServiceName, grpchealth.StatusNotServing)
}

// unary admits and authenticates a unary call; it is refused once the
// handler shuts down. The error is the one to return to connect.
func (h *Handler) unary(ctx context.Context, header http.Header, peer connect.Peer) (context.Context, *transport.Identity, error) {
	if h.ctx.Err() != nil {
		return ctx, nil, h.toError(errShuttingDown)
	}
	return h.authenticate(ctx, header, peer)
}

// stream admits a long-lived call into the handler's Tracker (refused
// with Unavailable when shutting down or at Limits.MaxConnections) and
// authenticates it. The context it returns is cancelled when the stream is
// cut. ServeHTTP leaves the Tracker.
func (h *Handler) stream(ctx context.Context, header http.Header, peer connect.Peer) (context.Context, *transport.Identity, error) {
	c := callOf(ctx)
	if c == nil { // the service is only reachable through ServeHTTP
		return ctx, nil, h.toError(errors.New("grpcx: call not served by Handler.ServeHTTP"))
	}
	if !httpx.CanFlush(c.ResponseWriter) {
		// Its messages would wait in a buffer: say so instead.
		msg := fmt.Sprintf("grpcx: the ResponseWriter (%T) cannot flush: a middleware wraps it without Flush or Unwrap", c.ResponseWriter)
		h.log.Warn(msg)
		return ctx, nil, connect.NewError(connect.CodeInternal, errors.New(msg))
	}
	if err := h.streams.Enter(); err != nil {
		return ctx, nil, h.toError(err)
	}
	ctx, c.cancel = context.WithCancel(ctx)
	c.mu.Lock()
	c.refs = 1
	c.mu.Unlock()
	h.streams.Attach(c)
	return h.authenticate(ctx, header, peer)
}
