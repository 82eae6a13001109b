package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// TestLongPollChromiumFetchLoop: a page's fetch loop long-polls with its
// cursor while the page publishes, and gets every message once, in order.
func TestLongPollChromiumFetchLoop(t *testing.T) {
	chromium := testenv.Chromium(t)
	ps := startPushServer(t, nil)
	out := runNode(context.Background(), t, "longpoll-chromium.mjs", ps.URL, chromium)
	var run struct {
		Published []string `json:"published"`
		Got       []struct {
			Cursor string `json:"cursor"`
			N      int    `json:"n"`
			Topic  string `json:"topic"`
		} `json:"got"`
		Polls int `json:"polls"`
		Gaps  int `json:"gaps"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(out)), &run), out)
	require.Len(t, run.Published, 60)
	require.Len(t, run.Got, 60, out)
	for i, m := range run.Got {
		require.Equal(t, i, m.N)
		require.Equal(t, run.Published[i], m.Cursor)
		require.Equal(t, fmt.Sprintf("interop/poll/%d", i%3), m.Topic)
	}
	require.Zero(t, run.Gaps)
	t.Logf("%d messages in %d polls", len(run.Got), run.Polls)
}
