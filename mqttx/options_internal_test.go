package mqttx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	d := (*Options)(nil).withDefaults()
	require.Equal(t, DefaultKeepAlive, d.KeepAlive)
	require.Equal(t, DefaultSessionExpiry, d.SessionExpiry)
	require.Equal(t, DefaultMinBackoff, d.MinBackoff)
	require.Equal(t, DefaultMaxBackoff, d.MaxBackoff)
	require.Contains(t, d.ClientID, "sb-")
	require.NotNil(t, d.Logger)

	o := &Options{KeepAlive: -1, SessionExpiry: -1, ConnectTimeout: -1, MaxBackoff: 20 * time.Millisecond}
	c := o.withDefaults()
	require.Zero(t, c.KeepAlive, "negative turns keep-alive off")
	require.Zero(t, c.SessionExpiry, "negative ends the session with the connection")
	require.Equal(t, DefaultConnectTimeout, c.ConnectTimeout, "a connect timeout cannot be off")
	require.Equal(t, DefaultMinBackoff, c.MaxBackoff, "MaxBackoff below MinBackoff means MinBackoff")
	require.Equal(t, time.Duration(-1), o.KeepAlive, "the caller's Options are not changed")
	require.Empty(t, o.ClientID)

	for v, want := range map[int]byte{0: 1, -1: 0, 1: 1, 2: 2, 3: 2} {
		require.Equal(t, want, qosOption(v), "QoS option %d", v)
	}
}
