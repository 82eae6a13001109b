package wire_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestEncodeCache(t *testing.T) {
	var c wire.EncodeCache
	calls := 0
	enc := func(dst []byte, m *pubsub.Message) []byte { calls++; return wire.AppendEnvelope(dst, m) }
	m := &pubsub.Message{Topic: "t", Data: []byte(`{"a":1}`)}
	first := c.Append([]byte("prefix:"), m, enc)
	second := c.Append(nil, m, enc)
	require.Equal(t, "prefix:"+string(second), string(first))
	require.Equal(t, 1, calls, "the second encoding comes from the cache")
	other := &pubsub.Message{Topic: "t", Data: []byte(`{"a":1}`)}
	c.Append(nil, other, enc)
	require.Equal(t, 2, calls, "another message (same content) is encoded on its own")
	big := &pubsub.Message{Topic: "b", Data: bytes.Repeat([]byte{1}, wire.MaxCachedPayload+1)}
	c.Append(nil, big, enc)
	c.Append(nil, big, enc)
	require.Equal(t, 4, calls, "large payloads are not cached")
	buf := make([]byte, 0, 256)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf = c.Append(buf[:0], m, enc) }))
}
