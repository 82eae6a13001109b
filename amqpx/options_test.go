package amqpx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	d := (*Options)(nil).withDefaults()
	require.Equal(t, DefaultExchange, d.Exchange)
	require.Equal(t, DefaultMinBackoff, d.MinBackoff)
	require.Equal(t, DefaultMaxBackoff, d.MaxBackoff)
	require.Equal(t, DefaultKeepAlive, d.KeepAlive)
	require.Equal(t, DefaultMaxMessageBytes, d.MaxMessageBytes)
	require.Equal(t, "switchboard.history", d.HistoryStream)
	require.NotNil(t, d.Logger)

	o := &Options{MaxMessageBytes: -1, DrainTimeout: -1, KeepAlive: -1, NodePrefetch: -1,
		MinBackoff: time.Second, MaxBackoff: time.Millisecond, MaxPriority: 300}
	c := o.withDefaults()
	require.Zero(t, c.MaxMessageBytes, "negative: no cap")
	require.Zero(t, c.DrainTimeout, "negative: no wait")
	require.Equal(t, DefaultKeepAlive, c.KeepAlive, "AMQP heartbeats cannot be turned off")
	require.Equal(t, DefaultNodePrefetch, c.NodePrefetch)
	require.Equal(t, time.Second, c.MaxBackoff, "MaxBackoff below MinBackoff means MinBackoff")
	require.Equal(t, 255, c.MaxPriority)
	require.Equal(t, -1, o.MaxMessageBytes, "the caller's Options are not changed")
	require.Nil(t, o.Logger)
}
