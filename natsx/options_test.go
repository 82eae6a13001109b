package natsx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOptionsDefaults(t *testing.T) {
	var nilOpts *Options
	o := nilOpts.withDefaults()
	require.Equal(t, DefaultStream, o.Stream)
	require.Equal(t, DefaultSubjectPrefix, o.SubjectPrefix)
	require.Equal(t, DefaultHistoryMaxAge, o.HistoryMaxAge)
	require.Equal(t, int64(DefaultHistoryMaxBytes), o.HistoryMaxBytes)
	require.Equal(t, DefaultNackDelay, o.NackDelay)
	require.Equal(t, DefaultKeepAlive, o.KeepAlive)
	require.Equal(t, DefaultStreamCheck, o.StreamCheck)
	require.NotNil(t, o.Logger)

	in := &Options{NackDelay: -1, KeepAlive: -1, StreamCheck: -1, MinBackoff: time.Second, MaxBackoff: time.Millisecond,
		HistoryMaxAge: -1, NodeBuffer: -5, DrainTimeout: -1}
	o = in.withDefaults()
	require.Zero(t, o.NackDelay, "negative: redeliver at once")
	require.Zero(t, o.KeepAlive, "negative: no pings")
	require.Zero(t, o.StreamCheck, "negative: no check")
	require.Zero(t, o.DrainTimeout)
	require.Equal(t, time.Second, o.MaxBackoff, "MaxBackoff is at least MinBackoff")
	require.Equal(t, DefaultHistoryMaxAge, o.HistoryMaxAge, "the stream is always bounded")
	require.Equal(t, DefaultNodeBuffer, o.NodeBuffer)
	require.Equal(t, time.Duration(-1), in.NackDelay, "the caller's Options are not changed")
	require.Equal(t, "switchboard_live", o.livePrefix())
}
