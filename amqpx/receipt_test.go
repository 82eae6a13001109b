package amqpx_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// A key repeated through another node, which saw the message delivered,
// gets the original Receipt, Time included: the AMQP timestamp has whole
// seconds, so the Receipt's Time is the one every node's subscribers see.
func TestRepeatThroughOtherNodeSameReceipt(t *testing.T) {
	for _, history := range []bool{false, true} {
		t.Run("history="+strconv.FormatBool(history), func(t *testing.T) {
			sp := newSpace(t)
			mod := func(o *amqpx.Options) { o.History = history }
			b1, b2 := sp.broker(mod), sp.broker(mod)
			sub, err := b2.Subscribe(ctx(t), "rcpt/x", nil)
			require.NoError(t, err)
			key := "key-" + pubsub.NewID()
			first, err := b1.Publish(ctx(t), pubsub.Message{Topic: "rcpt/x", Data: []byte("once"), ID: key})
			require.NoError(t, err)
			m := recv(t, sub)
			require.Equal(t, key, m.ID)
			require.True(t, first.Time.Equal(m.Time), "receipt time %v, delivered %v", first.Time, m.Time)
			again, err := b2.Publish(ctx(t), pubsub.Message{Topic: "rcpt/x", Data: []byte("twice"), ID: key})
			require.NoError(t, err)
			require.Equal(t, first.ID, again.ID)
			require.Equal(t, first.Cursor, again.Cursor)
			require.True(t, first.Time.Equal(again.Time), "receipt time %v, want %v", again.Time, first.Time)
		})
	}
}
