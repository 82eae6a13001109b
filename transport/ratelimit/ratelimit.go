package ratelimit

import (
	"context"
	"fmt"
	"maps"
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/switchboard-go/switchboard/internal/opt"
	"github.com/switchboard-go/switchboard/transport"
)

// Defaults for Options.
const (
	DefaultPublishRate  = 50 // publishes per second per identity
	DefaultPublishBurst = 100
	DefaultConnectRate  = 5 // connection attempts per second per IP and per identity
	DefaultConnectBurst = 20
	DefaultMaxKeys      = 100000
	// DefaultMaxConnectionsPerIP leaves room for many users behind one
	// NAT; DefaultMaxConnectionsPerIdentity for many tabs and devices.
	DefaultMaxConnectionsPerIP       = 1000
	DefaultMaxConnectionsPerIdentity = 100
)

// DefaultConnectTransports are the transports whose connections count
// against ConnectRate by default.
var DefaultConnectTransports = []string{"sse", "ws", "mqtt"}

// ClaimIP is the Identity.Claims key the wrapped Authenticate sets to the
// client's IP address.
const ClaimIP = "ip"

// Options configure a Limiter. Zero values mean the defaults; a negative
// rate turns that limit off.
type Options struct {
	// PublishRate is the sustained publishes (and requests) per second
	// one identity may make; PublishBurst how many it may make at once
	// (0 or negative: DefaultPublishBurst).
	PublishRate  float64
	PublishBurst int
	// ConnectRate is the sustained connection attempts per second from
	// one IP, and separately of one identity; ConnectBurst how many may
	// come at once (0 or negative: DefaultConnectBurst).
	ConnectRate  float64
	ConnectBurst int
	// ConnectTransports lists the transports (transport.Credentials'
	// Transport) whose connections count as attempts; nil means
	// DefaultConnectTransports. REST, long poll, gRPC and GraphQL are left
	// out by default: they authenticate every request or call (GraphQL
	// queries and mutations over HTTP are "graphql" as its WebSockets and
	// event streams are), so a busy client would hit the connection
	// limits before PublishRate. Add "graphql" to count GraphQL
	// connections, and its HTTP requests with them.
	ConnectTransports []string
	// MaxConnectionsPerIP and MaxConnectionsPerIdentity cap the
	// connections of ConnectTransports open at once from one IP and of
	// one identity (Subject); the next is refused as a limit until one
	// ends. 0 means DefaultMaxConnectionsPerIP and
	// DefaultMaxConnectionsPerIdentity, negative no cap. A connection
	// counts until the context its transport gave Authenticate ends,
	// which every transport ends with the connection.
	MaxConnectionsPerIP, MaxConnectionsPerIdentity int
	// MaxKeys bounds the clients (IPs and identities) whose buckets are
	// remembered, per kind of limit; 0 (or negative) means DefaultMaxKeys.
	// Beyond it, buckets that have refilled are dropped first, then
	// arbitrary ones (a client forgotten that way starts with a full
	// bucket again).
	MaxKeys int
}

// Limiter holds the buckets. It is safe for concurrent use.
type Limiter struct {
	publish, connect *buckets
	perIP, perID     *counts
	counted          map[string]bool // transports whose connections count
}

// New returns a Limiter; opts may be nil.
func New(opts *Options) *Limiter {
	var o Options
	if opts != nil {
		o = *opts
	}
	maxKeys := opt.OrMin(o.MaxKeys, DefaultMaxKeys)
	ts := o.ConnectTransports
	if ts == nil {
		ts = DefaultConnectTransports
	}
	counted := make(map[string]bool, len(ts))
	for _, t := range ts {
		counted[t] = true
	}
	return &Limiter{
		counted: counted,
		perIP:   newCounts(opt.Or(o.MaxConnectionsPerIP, DefaultMaxConnectionsPerIP), "connections from one IP"),
		perID:   newCounts(opt.Or(o.MaxConnectionsPerIdentity, DefaultMaxConnectionsPerIdentity), "connections of one identity"),
		publish: newBuckets(opt.Or(o.PublishRate, DefaultPublishRate), opt.OrMin(o.PublishBurst, DefaultPublishBurst), maxKeys),
		connect: newBuckets(opt.Or(o.ConnectRate, DefaultConnectRate), opt.OrMin(o.ConnectBurst, DefaultConnectBurst), maxKeys),
	}
}

// Wrap returns an Auth that applies the limits around a (nil allows
// everyone, as a nil Auth does). See the package doc.
func (l *Limiter) Wrap(a *transport.Auth) *transport.Auth {
	var inner innerAuth
	if a != nil {
		inner = innerAuth(*a)
	}
	return &transport.Auth{
		Authenticate: func(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
			ip := hostOf(c.RemoteAddr)
			if !l.counted[c.Transport] {
				id, err := inner.authenticate(ctx, c)
				if err != nil {
					return nil, err
				}
				return withIP(id, ip), nil
			}
			if err := l.connect.take("ip:"+ip, "connection attempts"); err != nil {
				return nil, err
			}
			releaseIP, err := l.perIP.acquire(ip)
			if err != nil {
				return nil, err
			}
			id, err := inner.authenticate(ctx, c)
			if err != nil {
				releaseIP()
				return nil, err
			}
			releaseID := func() {}
			if id != nil && id.Subject != "" {
				if err := l.connect.take("sub:"+id.Subject, "connection attempts"); err != nil {
					releaseIP()
					return nil, err
				}
				if releaseID, err = l.perID.acquire(id.Subject); err != nil {
					releaseIP()
					return nil, err
				}
			}
			context.AfterFunc(ctx, func() {
				releaseID()
				releaseIP()
			})
			return withIP(id, ip), nil
		},
		Authorize: func(ctx context.Context, id *transport.Identity, act transport.Action, topic string) error {
			if act == transport.ActionPublish || act == transport.ActionRequest {
				if err := l.publish.take(identityKey(id), "publish rate"); err != nil {
					return err
				}
			}
			if inner.Authorize == nil {
				return nil
			}
			return inner.Authorize(ctx, id, act, topic)
		},
	}
}

// innerAuth is the wrapped Auth.
type innerAuth transport.Auth

// authenticate runs the wrapped Authenticate; nil without one.
func (a innerAuth) authenticate(ctx context.Context, c transport.Credentials) (*transport.Identity, error) {
	if a.Authenticate == nil {
		return nil, nil
	}
	return a.Authenticate(ctx, c)
}

// counts is the number of open connections per key, capped.
type counts struct {
	max  int // 0: no cap
	what string

	mu sync.Mutex
	m  map[string]int // keys with open connections only
}

func newCounts(maxOpen int, what string) *counts {
	return &counts{max: max(0, maxOpen), what: what, m: make(map[string]int)}
}

// acquire counts one more connection of key, or refuses with a
// *transport.LimitError; release (idempotent) counts it out.
func (c *counts) acquire(key string) (release func(), err error) {
	if c.max == 0 {
		return func() {}, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m[key] >= c.max {
		return nil, &transport.LimitError{What: fmt.Sprintf("%s (at most %d)", c.what, c.max), RetryAfter: time.Second}
	}
	c.m[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if c.m[key]--; c.m[key] <= 0 {
				delete(c.m, key)
			}
		})
	}, nil
}

// withIP returns a copy of id (a new Identity when nil) with ClaimIP set.
func withIP(id *transport.Identity, ip string) *transport.Identity {
	out := &transport.Identity{}
	if id != nil {
		*out = *id
	}
	out.Claims = maps.Clone(out.Claims)
	if out.Claims == nil {
		out.Claims = make(map[string]string, 1)
	}
	out.Claims[ClaimIP] = ip
	return out
}

// identityKey keys an identity's publish bucket: its Subject, else its IP.
func identityKey(id *transport.Identity) string {
	switch {
	case id == nil:
		return "anon" // not through Wrap's Authenticate: one shared bucket
	case id.Subject != "":
		return "sub:" + id.Subject
	}
	return "ip:" + id.Claims[ClaimIP]
}

// hostOf is the IP of a host:port address (the address itself when it has
// no port).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// buckets is one kind of limit, one token bucket per key.
type buckets struct {
	limit   rate.Limit // 0: the limit is off
	burst   int
	maxKeys int

	mu sync.Mutex
	m  map[string]*rate.Limiter
}

func newBuckets(perSecond float64, burst, maxKeys int) *buckets {
	b := &buckets{burst: burst, maxKeys: maxKeys, m: make(map[string]*rate.Limiter)}
	if perSecond > 0 {
		b.limit = rate.Limit(perSecond)
	}
	return b
}

// take spends one token of key's bucket, or returns a *transport.LimitError
// with the wait until the next one.
func (b *buckets) take(key, what string) error {
	if b.limit == 0 {
		return nil
	}
	now := time.Now()
	b.mu.Lock()
	lim := b.m[key]
	if lim == nil {
		if len(b.m) >= b.maxKeys {
			b.evictLocked(now)
		}
		lim = rate.NewLimiter(b.limit, b.burst)
		b.m[key] = lim
	}
	b.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return &transport.LimitError{What: what, RetryAfter: d}
	}
	return nil
}

// evictLocked forgets the buckets that have refilled (a new one is the
// same), and then arbitrary ones until a tenth of maxKeys is free, so
// that the next sweep is that many new keys away.
func (b *buckets) evictLocked(now time.Time) {
	for k, lim := range b.m {
		if lim.TokensAt(now) >= float64(b.burst) {
			delete(b.m, k)
		}
	}
	keep := b.maxKeys - max(1, b.maxKeys/10)
	for k := range b.m {
		if len(b.m) <= keep {
			break
		}
		delete(b.m, k)
	}
}
