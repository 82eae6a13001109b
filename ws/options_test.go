package ws

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	o := (*Options)(nil).withDefaults()
	require.EqualValues(t, DefaultReadLimit, o.ReadLimit)
	require.Equal(t, DefaultKeepAlive, o.KeepAlive)
	require.Equal(t, DefaultWriteTimeout, o.WriteTimeout)
	require.Equal(t, DefaultMaxProtocolErrors, o.MaxProtocolErrors)
	require.Equal(t, DefaultCoalesce, o.Coalesce)
	require.Equal(t, DefaultMaxPendingRequests, o.MaxPendingRequests)
	require.Equal(t, DefaultRequestTimeout, o.RequestTimeout)
	require.Equal(t, DefaultMaxRequestTimeout, o.MaxRequestTimeout)
	require.Zero(t, o.Buffer, "the broker's default")
	require.NotNil(t, o.Logger)

	in := &Options{ReadLimit: -1, KeepAlive: -1, WriteTimeout: -1, MaxProtocolErrors: -1, Coalesce: -1,
		MaxPendingRequests: -1, RequestTimeout: -1, MaxRequestTimeout: -1, Buffer: -1,
		OriginPatterns: []string{"a.example"}}
	o = in.withDefaults()
	require.Zero(t, o.ReadLimit)
	require.Zero(t, o.KeepAlive)
	require.Zero(t, o.WriteTimeout)
	require.Zero(t, o.MaxProtocolErrors)
	require.Zero(t, o.Coalesce)
	require.Zero(t, o.MaxPendingRequests)
	require.Zero(t, o.RequestTimeout, "negative: no timeout of its own")
	require.Zero(t, o.MaxRequestTimeout, "negative: no cap")
	require.Zero(t, o.Buffer, "a buffer cannot be off: negative is the default")
	o.OriginPatterns[0] = "b.example"
	require.Equal(t, "a.example", in.OriginPatterns[0], "the caller's options are copied")
	require.EqualValues(t, -1, in.ReadLimit)

	c := (*ClientOptions)(nil).withDefaults()
	require.Equal(t, DefaultMinBackoff, c.MinBackoff)
	require.Equal(t, DefaultMaxBackoff, c.MaxBackoff)
	require.Equal(t, DefaultWriteTimeout, c.WriteTimeout)
	require.EqualValues(t, DefaultClientReadLimit, c.ReadLimit)
	require.Equal(t, DefaultClientBuffer, c.Buffer)
	require.Equal(t, DefaultIdleTimeout, c.IdleTimeout)
	c = (&ClientOptions{MinBackoff: -1, MaxBackoff: -1, WriteTimeout: -1, ReadLimit: -1, Buffer: -1, IdleTimeout: -1}).withDefaults()
	require.Equal(t, DefaultMinBackoff, c.MinBackoff, "reconnecting cannot be off")
	require.Equal(t, DefaultMaxBackoff, c.MaxBackoff)
	require.Zero(t, c.WriteTimeout)
	require.Zero(t, c.ReadLimit)
	require.Equal(t, DefaultClientBuffer, c.Buffer)
	require.Zero(t, c.IdleTimeout)
}

func TestRequestTimeout(t *testing.T) {
	for _, tc := range []struct {
		name      string
		def, max  time.Duration
		timeoutMS int64
		want      time.Duration
	}{
		{"default", 0, 0, 0, DefaultRequestTimeout},
		{"asked", 0, 0, 2000, 2 * time.Second},
		{"capped", 0, 0, 120_000, DefaultMaxRequestTimeout},
		{"no default: the cap", -1, 0, 0, DefaultMaxRequestTimeout},
		{"no default, no cap: none", -1, -1, 0, 0},
		{"no cap", 0, -1, 120_000, 120 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHandler(nil, &Options{RequestTimeout: tc.def, MaxRequestTimeout: tc.max})
			s := &session{h: h}
			require.Equal(t, tc.want, s.requestTimeout(tc.timeoutMS))
		})
	}
}
