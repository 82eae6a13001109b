package transport_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

func TestScopeAllows(t *testing.T) {
	s := &transport.Scope{Subscribe: []string{"user/alice/#", "news/+"}, Publish: []string{"user/alice/out/#"}}
	for _, tt := range []struct {
		act   transport.Action
		topic string
		ok    bool
	}{
		{transport.ActionSubscribe, "user/alice/inbox", true},
		{transport.ActionSubscribe, "user/alice/+", true},
		{transport.ActionHistory, "news/today", true},
		{transport.ActionSubscribe, "user/+/#", false},
		{transport.ActionSubscribe, "#", false},
		{transport.ActionSubscribe, "news/#", false},
		{transport.ActionPublish, "user/alice/out/1", true},
		{transport.ActionRequest, "user/alice/out", true},
		{transport.ActionPublish, "user/alice/inbox", false},
		{transport.ActionPublish, "user/alice/out/+", false}, // no wildcard is a topic
		{transport.ActionJoin, "anything", true},
	} {
		err := s.Allows(tt.act, tt.topic)
		if tt.ok {
			require.NoError(t, err, "%s %s", tt.act, tt.topic)
		} else {
			require.ErrorIs(t, err, transport.ErrForbidden, "%s %s", tt.act, tt.topic)
		}
	}
	require.ErrorIs(t, (&transport.Scope{}).Allows(transport.ActionSubscribe, "a"), transport.ErrForbidden)
}

// TestCheckScopeBeforeAuthorize: an identity's Scope refuses before the
// Authorize hook is asked, and without a hook too.
func TestCheckScopeBeforeAuthorize(t *testing.T) {
	ctx := context.Background()
	id := &transport.Identity{Subject: "alice", Scope: &transport.Scope{Subscribe: []string{"user/alice/#"}}}
	asked := 0
	a := &transport.Auth{Authorize: func(context.Context, *transport.Identity, transport.Action, string) error {
		asked++
		return nil
	}}
	require.ErrorIs(t, a.Check(ctx, id, transport.ActionSubscribe, "user/+/#"), transport.ErrForbidden)
	require.Zero(t, asked)
	require.NoError(t, a.Check(ctx, id, transport.ActionSubscribe, "user/alice/+"))
	require.Equal(t, 1, asked)
	require.ErrorIs(t, (&transport.Auth{}).Check(ctx, id, transport.ActionSubscribe, "#"), transport.ErrForbidden)
	require.ErrorIs(t, (*transport.Auth)(nil).Check(ctx, id, transport.ActionSubscribe, "#"), transport.ErrForbidden)
}

// TestAuthorizeLimitIs429: a hook's error wrapping ErrLimit or
// pubsub.ErrLimit is a limit (429, with the LimitError's Retry-After),
// not a refusal (it used to be 403 "forbidden\nlimit reached").
func TestAuthorizeLimitIs429(t *testing.T) {
	for name, hookErr := range map[string]error{
		"LimitError":    &transport.LimitError{What: "publish rate", RetryAfter: 1500 * time.Millisecond},
		"pubsub":        fmt.Errorf("quota: %w", pubsub.ErrLimit),
		"transport":     transport.ErrLimit,
		"joinedWrapped": errors.Join(errors.New("busy"), transport.ErrLimit),
	} {
		t.Run(name, func(t *testing.T) {
			auth := &transport.Auth{Authorize: func(context.Context, *transport.Identity, transport.Action, string) error {
				return hookErr
			}}
			srv, _ := newREST(t, &transport.RESTOptions{Auth: auth})
			resp, body := do(t, "POST", srv.URL+"/topics/a", "x")
			require.Equal(t, 429, resp.StatusCode, string(body))
			require.Contains(t, string(body), `"rate_limited"`)
			require.NotContains(t, string(body), "forbidden")
			if name == "LimitError" {
				require.Equal(t, "2", resp.Header.Get("Retry-After"))
			}
			require.Equal(t, transport.CodeRateLimited, transport.Code(auth.Check(context.Background(), nil, transport.ActionPublish, "a")))
		})
	}
}

// TestAuthenticateLimitIs429: the same for Authenticate.
func TestAuthenticateLimitIs429(t *testing.T) {
	auth := &transport.Auth{Authenticate: func(context.Context, transport.Credentials) (*transport.Identity, error) {
		return nil, &transport.LimitError{What: "connection attempts", RetryAfter: time.Second}
	}}
	srv, _ := newREST(t, &transport.RESTOptions{Auth: auth})
	resp, body := do(t, "GET", srv.URL+"/topics/a", "")
	require.Equal(t, 429, resp.StatusCode, string(body))
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Empty(t, resp.Header.Get("WWW-Authenticate"))
	d, ok := transport.RetryAfter(fmt.Errorf("x: %w", &transport.LimitError{RetryAfter: time.Second}))
	require.True(t, ok)
	require.Equal(t, time.Second, d)
	require.ErrorIs(t, transport.AuthenticateError(errors.New("bad")), transport.ErrUnauthenticated)
	require.NoError(t, transport.AuthenticateError(nil))
}

// ExampleScope bounds an identity to its own topics: Check refuses the
// rest before any Authorize hook runs.
func ExampleScope() {
	id := &transport.Identity{Subject: "alice", Scope: &transport.Scope{
		Subscribe: []string{"user/alice/#"},
		Publish:   []string{"user/alice/outbox"},
	}}
	var auth transport.Auth // no hooks: the scope alone decides
	for _, f := range []string{"user/alice/+", "user/+/#", "#"} {
		fmt.Println("subscribe", f, auth.Check(context.Background(), id, transport.ActionSubscribe, f) == nil)
	}
	fmt.Println("publish user/bob/inbox", auth.Check(context.Background(), id, transport.ActionPublish, "user/bob/inbox") == nil)
	// Output:
	// subscribe user/alice/+ true
	// subscribe user/+/# false
	// subscribe # false
	// publish user/bob/inbox false
}
