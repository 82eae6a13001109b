// Package ratelimit bounds how fast clients may connect and publish, on
// every transport, with token buckets (golang.org/x/time/rate) kept per
// client.
//
// Use [New] and [Limiter.Wrap] around the transport.Auth the handlers
// share:
//
//	lim := ratelimit.New(&ratelimit.Options{PublishRate: 20, ConnectRate: 2})
//	auth := lim.Wrap(myAuth) // myAuth may be nil
//	sse.NewHandler(b, &sse.Options{Auth: auth})
//	ws.NewHandler(b, &ws.Options{Auth: auth})
//
// Connection attempts (of SSE, WebSocket and MQTT clients by default,
// see Options.ConnectTransports) are counted per client IP before
// the wrapped Authenticate runs (so a flood of bad credentials is slowed
// too), then per identity (its Subject) once it accepted. Publishes and
// requests are counted per identity: by Subject, or by IP for a client
// without one. The connections of those transports open at once are
// capped per IP and per identity too (Options.MaxConnectionsPerIP and
// MaxConnectionsPerIdentity); a connection counts until the context its
// transport passed to Authenticate ends, which is when it closes.
// For that, the wrapped Authenticate returns an Identity even for
// anonymous clients (Subject "", Claims[ClaimIP] set), and a copy of the
// inner Identity with Claims[ClaimIP] added otherwise.
//
// A client over a limit gets a *transport.LimitError with the wait until
// its next token, which every transport answers as a limit, never as a
// refusal of access: HTTP 429 with Retry-After, WebSocket close 4429 at
// connect and a "rate_limited" error frame for a publish, gRPC
// ResourceExhausted, MQTT reason 0x97 (quota exceeded).
//
// The limiters of clients idle long enough for their buckets to refill
// are forgotten, and at most Options.MaxKeys are kept, so memory stays
// bounded whatever the number of clients.
package ratelimit
