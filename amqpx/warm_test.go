package amqpx_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// TestStartedNodeKnowsStoredCopies: a message stored twice in the history
// stream (a publish repeated after a lost confirm, through a node that
// could not recognise it) must reach a client once even through a node
// started after both copies were stored, where the client resumes from the
// first copy's cursor (it read that copy on another node). The chaos run
// found one such duplicate at a long-poll client that moved to a restarted
// hub.
func TestStartedNodeKnowsStoredCopies(t *testing.T) {
	t.Parallel()
	sp := newSpace(t)
	// A node without dedup stores both copies, as a node whose publish was
	// repeated before it saw the first copy would.
	writer := sp.broker(func(o *amqpx.Options) { o.History, o.DedupWindow = true, -1 })
	c := ctx(t)
	first, err := writer.Publish(c, pubsub.Message{Topic: "warm/a", Data: []byte("1"), ID: "k1"})
	require.NoError(t, err)
	_, err = writer.Publish(c, pubsub.Message{Topic: "warm/a", Data: []byte("1"), ID: "k1"})
	require.NoError(t, err)
	last, err := writer.Publish(c, pubsub.Message{Topic: "warm/a", Data: []byte("2"), ID: "k2"})
	require.NoError(t, err)

	started := sp.broker(func(o *amqpx.Options) { o.History = true })
	page, err := started.History(c, "warm/#", pubsub.HistoryOptions{Since: first.Cursor})
	require.NoError(t, err)
	var ids []string
	for _, m := range page.Messages {
		ids = append(ids, m.ID)
	}
	require.Equal(t, []string{"k2"}, ids, "history after the first copy's cursor")

	sub, err := started.Subscribe(c, "warm/#", &pubsub.SubscribeOptions{Since: first.Cursor})
	require.NoError(t, err)
	defer sub.Close()
	m := recv(t, sub)
	require.Equal(t, "k2", m.ID, "replay after the first copy's cursor")
	require.Equal(t, last.Cursor, m.Cursor)
}
