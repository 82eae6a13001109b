package transport

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/switchboard-go/switchboard/pubsub"
)

// Errors an Auth hook returns (wrap them for detail). Transports map them to
// 401/403, WebSocket close 4401/4403, gRPC Unauthenticated/PermissionDenied
// and MQTT reason codes 0x86/0x87.
var (
	ErrUnauthenticated = errors.New("transport: unauthenticated")
	ErrForbidden       = errors.New("transport: forbidden")
)

// Action is what a client asks to do with a topic (or, for ActionJoin, a
// consumer group).
type Action string

// Actions passed to Auth.Authorize.
const (
	ActionSubscribe Action = "subscribe" // the topic is a filter
	ActionPublish   Action = "publish"
	ActionRequest   Action = "request" // publish and wait for a reply
	ActionHistory   Action = "history" // read history; the topic is a filter
	// ActionJoin is asked when a client subscribes as a member of a
	// consumer group it named (WebSocket and gRPC "group", MQTT
	// $share/<group>/<filter>); the topic argument is the group name, not
	// a topic. It comes after the ActionSubscribe check of the filter, and
	// both must allow: a refusal answers like any refused subscribe. An
	// application that lets tenants share a broker refuses names that are
	// not the caller's, or a member of a group takes a share of its
	// messages away from the group's owner.
	ActionJoin Action = "join"
)

// Credentials is what a client presented when it connected. Fields a
// transport does not have are empty.
type Credentials struct {
	// Transport names the transport: "rest", "sse", "longpoll", "ws",
	// "grpc", "graphql", "mqtt".
	Transport string
	// Header holds the HTTP request headers (the upgrade request for
	// WebSockets); nil for MQTT over TCP.
	Header http.Header
	// Token is a bearer token: "Authorization: Bearer …", the access_token
	// query parameter (browsers cannot set headers on EventSource and
	// WebSocket), or a GraphQL connection_init payload's "token".
	Token string
	// Username and Password come from MQTT CONNECT or HTTP Basic auth.
	Username, Password string
	// Payload is a GraphQL connection_init payload.
	Payload map[string]any
	// RemoteAddr is the client's network address.
	RemoteAddr string
}

// Identity is an authenticated client. Applications put what they need in
// Claims.
type Identity struct {
	Subject string
	Claims  map[string]string
	// Scope, when not nil, bounds the filters and topics this identity
	// may use; Auth.Check refuses anything outside it before Authorize
	// runs. nil leaves every decision to Authorize.
	Scope *Scope
}

// Auth is the one set of access hooks every transport calls. The zero value
// allows everything, anonymously.
type Auth struct {
	// Authenticate checks a connection's credentials once, when it
	// connects. Its ctx ends when the connection (HTTP request, gRPC
	// call or stream, WebSocket, MQTT connection) ends, so a hook may tie
	// something to the connection's life with context.AfterFunc. A nil
	// func accepts everyone with a nil Identity. An error refuses the
	// connection: wrapping ErrForbidden gives 403, wrapping
	// ErrLimit 429 (WebSocket close 4429, MQTT 0x97), anything else 401.
	Authenticate func(ctx context.Context, c Credentials) (*Identity, error)
	// Authorize checks every subscribe, publish, request and history read,
	// and every consumer group a client asks to join (ActionJoin, with the
	// group name as topic), after the identity's Scope allowed it. A nil
	// func allows all. An error refuses the operation with 403 (or 401
	// when it wraps ErrUnauthenticated); one wrapping ErrLimit or
	// pubsub.ErrLimit (a rate limit, see *LimitError) is answered as a
	// limit instead: 429 with Retry-After, gRPC ResourceExhausted, MQTT
	// 0x97 quota exceeded.
	Authorize func(ctx context.Context, id *Identity, a Action, topic string) error
}

// AuthenticateRequest runs Authenticate with the credentials of an HTTP
// request and returns a context carrying the identity.
func (a *Auth) AuthenticateRequest(r *http.Request, transport string) (context.Context, *Identity, error) {
	ctx := r.Context()
	if a == nil || a.Authenticate == nil {
		return ctx, nil, nil
	}
	id, err := a.Authenticate(ctx, RequestCredentials(r, transport))
	if err != nil {
		return ctx, nil, AuthenticateError(err)
	}
	return WithIdentity(ctx, id), id, nil
}

// Admit authenticates an HTTP request and authorizes act on every topic
// (or filter) in topics: the whole access check of a request that names
// its topics up front. It returns a context carrying the identity; an
// error is ready for WriteError (401 or 403).
func (a *Auth) Admit(r *http.Request, transport string, act Action, topics []string) (context.Context, *Identity, error) {
	ctx, id, err := a.AuthenticateRequest(r, transport)
	if err != nil {
		return ctx, nil, err
	}
	for _, t := range topics {
		if err := a.Check(ctx, id, act, t); err != nil {
			return ctx, nil, err
		}
	}
	return ctx, id, nil
}

// AuthenticateError classifies an error of an Authenticate hook as the
// transports answer it: kept as it is when it wraps ErrForbidden,
// ErrUnauthenticated or a limit (ErrLimit, pubsub.ErrLimit), else joined
// with ErrUnauthenticated. Transports that call Authenticate themselves use
// it; nil stays nil.
func AuthenticateError(err error) error {
	if err == nil || errors.Is(err, ErrForbidden) || errors.Is(err, ErrUnauthenticated) || isLimit(err) {
		return err
	}
	return errors.Join(ErrUnauthenticated, err)
}

// Check checks that act on topic lies within id's Scope (when it has one),
// then runs Authorize; nil when allowed. A refusal wraps ErrForbidden
// unless the hook's error wraps ErrUnauthenticated or a limit (ErrLimit,
// pubsub.ErrLimit), which it keeps as they are.
func (a *Auth) Check(ctx context.Context, id *Identity, act Action, topic string) error {
	if id != nil && id.Scope != nil {
		if err := id.Scope.Allows(act, topic); err != nil {
			return err
		}
	}
	if a == nil || a.Authorize == nil {
		return nil
	}
	err := a.Authorize(ctx, id, act, topic)
	if err == nil {
		return nil
	}
	if !errors.Is(err, ErrForbidden) && !errors.Is(err, ErrUnauthenticated) && !isLimit(err) {
		err = errors.Join(ErrForbidden, err)
	}
	return err
}

func isLimit(err error) bool { return errors.Is(err, ErrLimit) || errors.Is(err, pubsub.ErrLimit) }

// RequestCredentials collects the credentials of an HTTP request: a bearer
// token or HTTP Basic credentials from Authorization, else the
// access_token query parameter (for clients that cannot set headers, such
// as EventSource and browser WebSockets).
func RequestCredentials(r *http.Request, transport string) Credentials {
	h := r.Header
	c := Credentials{Transport: transport, Header: h, RemoteAddr: r.RemoteAddr}
	if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		c.Token = strings.TrimSpace(a[7:])
	} else if u, p, ok := r.BasicAuth(); ok {
		c.Username, c.Password = u, p
	}
	if c.Token == "" && r.URL != nil {
		c.Token = r.URL.Query().Get("access_token")
	}
	return c
}

type identityKey struct{}

// WithIdentity returns a context carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the identity stored by WithIdentity, or nil.
func IdentityFrom(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}
