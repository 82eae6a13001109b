package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/transport"
	"github.com/switchboard-go/switchboard/transport/ratelimit"
)

func creds(ip, token string) transport.Credentials {
	return transport.Credentials{Transport: "ws", RemoteAddr: ip + ":1234", Token: token}
}

var byToken = &transport.Auth{Authenticate: func(_ context.Context, c transport.Credentials) (*transport.Identity, error) {
	if c.Token == "bad" {
		return nil, transport.ErrUnauthenticated
	}
	if c.Token == "" {
		return nil, nil
	}
	return &transport.Identity{Subject: c.Token, Claims: map[string]string{"role": "user"}}, nil
}}

// TestPublishRate: each identity has its own bucket; over it, a
// LimitError with the wait; the bucket refills with time.
func TestPublishRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ratelimit.New(&ratelimit.Options{PublishRate: 2, PublishBurst: 3}).Wrap(byToken)
		ctx := context.Background()
		alice, err := a.Authenticate(ctx, creds("10.0.0.1", "alice"))
		require.NoError(t, err)
		bob, err := a.Authenticate(ctx, creds("10.0.0.1", "bob"))
		require.NoError(t, err)
		for range 3 {
			require.NoError(t, a.Check(ctx, alice, transport.ActionPublish, "t"))
		}
		err = a.Check(ctx, alice, transport.ActionRequest, "t")
		require.ErrorIs(t, err, transport.ErrLimit)
		require.NotErrorIs(t, err, transport.ErrForbidden)
		d, ok := transport.RetryAfter(err)
		require.True(t, ok)
		require.Equal(t, 500*time.Millisecond, d)
		require.Equal(t, transport.CodeRateLimited, transport.Code(err))
		require.NoError(t, a.Check(ctx, bob, transport.ActionPublish, "t"), "bob has his own bucket")
		require.NoError(t, a.Check(ctx, alice, transport.ActionSubscribe, "t"), "subscribes are not counted")

		time.Sleep(d)
		require.NoError(t, a.Check(ctx, alice, transport.ActionPublish, "t"))
		require.ErrorIs(t, a.Check(ctx, alice, transport.ActionPublish, "t"), transport.ErrLimit)
	})
}

// TestAnonymousByIP: clients without a subject are counted per IP.
func TestAnonymousByIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ratelimit.New(&ratelimit.Options{PublishRate: 1, PublishBurst: 1}).Wrap(nil)
		ctx := context.Background()
		one, err := a.Authenticate(ctx, creds("10.0.0.1", ""))
		require.NoError(t, err)
		require.Equal(t, "10.0.0.1", one.Claims[ratelimit.ClaimIP])
		same, err := a.Authenticate(ctx, creds("10.0.0.1", ""))
		require.NoError(t, err)
		other, err := a.Authenticate(ctx, creds("10.0.0.2", ""))
		require.NoError(t, err)
		require.NoError(t, a.Check(ctx, one, transport.ActionPublish, "t"))
		require.ErrorIs(t, a.Check(ctx, same, transport.ActionPublish, "t"), transport.ErrLimit, "same IP, same bucket")
		require.NoError(t, a.Check(ctx, other, transport.ActionPublish, "t"))
	})
}

// TestConnectRate: attempts per IP (bad credentials count), then per
// identity across IPs; REST is not counted by default.
func TestConnectRate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ratelimit.New(&ratelimit.Options{ConnectRate: 1, ConnectBurst: 2}).Wrap(byToken)
		ctx := context.Background()
		_, err := a.Authenticate(ctx, creds("10.0.0.1", "bad"))
		require.ErrorIs(t, err, transport.ErrUnauthenticated)
		_, err = a.Authenticate(ctx, creds("10.0.0.1", "alice"))
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, creds("10.0.0.1", "alice"))
		require.ErrorIs(t, err, transport.ErrLimit, "third attempt from the IP")
		require.Equal(t, transport.CodeRateLimited, transport.Code(transport.AuthenticateError(err)))

		_, err = a.Authenticate(ctx, creds("10.0.0.2", "alice"))
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, creds("10.0.0.3", "alice"))
		require.ErrorIs(t, err, transport.ErrLimit, "third connection of alice, from another IP")

		rest := creds("10.0.0.1", "carol")
		rest.Transport = "rest"
		for range 5 {
			_, err = a.Authenticate(ctx, rest)
			require.NoError(t, err)
		}
		time.Sleep(time.Second)
		_, err = a.Authenticate(ctx, creds("10.0.0.1", "dave"))
		require.NoError(t, err)
	})
}

// TestWrapKeepsInner: the inner hooks still decide; the inner identity is
// not modified.
func TestWrapKeepsInner(t *testing.T) {
	id := &transport.Identity{Subject: "alice", Claims: map[string]string{"k": "v"}}
	inner := &transport.Auth{
		Authenticate: func(context.Context, transport.Credentials) (*transport.Identity, error) { return id, nil },
		Authorize: func(_ context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
			if topic == "no" {
				return errors.New("no")
			}
			return nil
		},
	}
	a := ratelimit.New(nil).Wrap(inner)
	got, err := a.Authenticate(context.Background(), creds("10.0.0.1", ""))
	require.NoError(t, err)
	require.Equal(t, "v", got.Claims["k"])
	require.Equal(t, "10.0.0.1", got.Claims[ratelimit.ClaimIP])
	require.NotContains(t, id.Claims, ratelimit.ClaimIP)
	require.ErrorIs(t, a.Check(context.Background(), got, transport.ActionPublish, "no"), transport.ErrForbidden)
	require.NoError(t, a.Check(context.Background(), got, transport.ActionPublish, "yes"))
}

// TestMaxKeys: memory stays bounded under many distinct clients, and a
// refilled bucket's client is forgotten without losing anything.
func TestMaxKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ratelimit.New(&ratelimit.Options{PublishRate: 1, PublishBurst: 1, MaxKeys: 10}).Wrap(nil)
		ctx := context.Background()
		for i := range 1000 {
			id := &transport.Identity{Subject: fmt.Sprint(i)}
			require.NoError(t, a.Check(ctx, id, transport.ActionPublish, "t"))
		}
		// The last client is still remembered as empty.
		require.ErrorIs(t, a.Check(ctx, &transport.Identity{Subject: "999"}, transport.ActionPublish, "t"), transport.ErrLimit)
	})
}

// TestMaxConnections: open connections are capped per IP and per
// identity, and counted out when the context Authenticate got ends.
func TestMaxConnections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := ratelimit.New(&ratelimit.Options{ConnectRate: -1, MaxConnectionsPerIP: 2, MaxConnectionsPerIdentity: 1}).Wrap(byToken)
		var cancels []context.CancelFunc
		defer func() {
			for _, c := range cancels {
				c()
			}
		}()
		connect := func(ip, token string) (context.CancelFunc, error) {
			ctx, cancel := context.WithCancel(context.Background())
			cancels = append(cancels, cancel)
			_, err := a.Authenticate(ctx, creds(ip, token))
			return cancel, err
		}
		alice, err := connect("10.0.0.1", "alice")
		require.NoError(t, err)
		_, err = connect("10.0.0.2", "alice")
		require.ErrorIs(t, err, transport.ErrLimit, "a second connection of alice")
		_, err = connect("10.0.0.1", "")
		require.NoError(t, err)
		_, err = connect("10.0.0.1", "")
		require.ErrorIs(t, err, transport.ErrLimit, "a third connection from the IP")
		_, err = connect("10.0.0.1", "bad")
		require.ErrorIs(t, err, transport.ErrLimit, "refused before the inner Authenticate")

		alice()         // alice's connection ends: both of its counts are released
		synctest.Wait() // by context.AfterFunc's goroutine
		_, err = connect("10.0.0.1", "alice")
		require.NoError(t, err)

		rest := creds("10.0.0.9", "carol")
		rest.Transport = "rest"
		for range 5 { // not a counted transport
			_, err := a.Authenticate(context.Background(), rest)
			require.NoError(t, err)
		}
	})
}
