package transport_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/transport"
)

func TestRESTIdempotencyKey(t *testing.T) {
	srv, b := newREST(t, nil)
	sub, err := b.Subscribe(context.Background(), "idem/#", nil)
	require.NoError(t, err)
	defer sub.Close()

	var first, again transport.PublishResponse
	resp, body := do(t, "POST", srv.URL+"/topics/idem/a", "one", "Idempotency-Key", "order-17")
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	require.NoError(t, json.Unmarshal(body, &first))
	require.Equal(t, "order-17", first.ID, "the key is the message ID")
	resp, body = do(t, "POST", srv.URL+"/topics/idem/a", "one, retried", "Idempotency-Key", "order-17")
	require.Equal(t, 200, resp.StatusCode, "%s", body)
	require.NoError(t, json.Unmarshal(body, &again))
	require.Equal(t, first, again, "a retry gets the original answer")
	resp, body = do(t, "POST", srv.URL+"/topics/idem/a", "two")
	require.Equal(t, 200, resp.StatusCode, "%s", body)

	m := <-sub.C()
	require.Equal(t, "one", string(m.Data))
	m = <-sub.C()
	require.Equal(t, "two", string(m.Data), "the retry was not delivered")
}

func TestRESTIdempotencyKeyRefused(t *testing.T) {
	srv, _ := newREST(t, nil)
	for _, key := range []string{strings.Repeat("k", transport.MaxKeyBytes+1), "\xff"} {
		resp, body := do(t, "POST", srv.URL+"/topics/idem/a", "x", "Idempotency-Key", key)
		require.Equal(t, 400, resp.StatusCode, "key %q: %s", key, body)
	}
	require.NoError(t, transport.CheckKey(strings.Repeat("k", transport.MaxKeyBytes)))
	require.NoError(t, transport.CheckKey(""))
	require.ErrorIs(t, transport.CheckKey("a\x01b"), transport.ErrBadRequest)
	require.NoError(t, transport.CheckKey("ключ-1"))
}
