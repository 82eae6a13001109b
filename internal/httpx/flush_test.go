package httpx_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/httpx"
)

// logged is a middleware's ResponseWriter that forgot Flush and Unwrap.
type logged struct{ http.ResponseWriter }

// unwrapping forgot Flush but has Unwrap, which ResponseController follows.
type unwrapping struct{ http.ResponseWriter }

func (u unwrapping) Unwrap() http.ResponseWriter { return u.ResponseWriter }

func TestCanFlush(t *testing.T) {
	rec := httptest.NewRecorder()
	require.True(t, httpx.CanFlush(rec))
	require.False(t, httpx.CanFlush(logged{rec}))
	require.True(t, httpx.CanFlush(unwrapping{rec}))
	require.True(t, httpx.CanFlush(unwrapping{unwrapping{rec}}))
	require.False(t, httpx.CanFlush(unwrapping{logged{rec}}))
	// The answer agrees with what ResponseController does.
	require.ErrorIs(t, http.NewResponseController(logged{httptest.NewRecorder()}).Flush(), http.ErrNotSupported)
	require.NoError(t, http.NewResponseController(unwrapping{httptest.NewRecorder()}).Flush())
}

// hijackable is a ResponseWriter that can be hijacked.
type hijackable struct{ http.ResponseWriter }

func (hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return nil, nil, nil }

func TestCanHijack(t *testing.T) {
	rec := httptest.NewRecorder() // cannot hijack
	require.False(t, httpx.CanHijack(rec))
	require.True(t, httpx.CanHijack(hijackable{rec}))
	require.True(t, httpx.CanHijack(unwrapping{hijackable{rec}}))
	require.False(t, httpx.CanHijack(logged{hijackable{rec}}))
}
