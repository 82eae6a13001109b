package sse

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestHeadHint(t *testing.T) {
	b := pubsub.NewMemory(pubsub.MemoryOptions{HistorySize: 4})
	defer b.Close()
	ctx := context.Background()
	var hh headHint
	head, err := hh.head(ctx, b, "nothing/matches")
	require.NoError(t, err)
	var last string
	for range 10 {
		last = publish(t, b, "t", "x", nil).Cursor
	}
	for _, hint := range []string{"", head, "zzz-3", "not a cursor"} {
		if hint != "" {
			hh.p.Store(&hint)
		}
		got, err := hh.head(ctx, b, "nothing/matches")
		require.NoError(t, err)
		require.Equal(t, last, got, "hint %q", hint)
		require.Equal(t, last, *hh.p.Load())
	}
}
