package interop

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// TestGuideBrowserClients runs the guide's browser clients in headless
// Chromium against the hub, each on a page holding the guide's snippet
// with only its URL changed (node/guideweb): WebSocket pub/sub
// (subscribe with topics, publish without id), EventSource with
// JSON.parse(event.data) and named update/alert events, and the long-poll
// fetch loop. A text/plain "hello world" shows as that text.
func TestGuideBrowserClients(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.NodeDir(t)
	bin := build(t, "hub")["hub"]
	h := start(t, bin, []string{"-addr", "127.0.0.1:0"}, map[string]*regexp.Regexp{"http": hubListening})
	out := runNode(context.Background(), t, "guideweb.mjs", "http://"+h.addrs["http"], chromium)
	var res struct {
		Pages    map[string]string `json:"pages"`
		Problems []string          `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Empty(t, res.Problems, "errors on the guide's pages")
	for name, text := range res.Pages {
		t.Logf("the guide's %s client showed:\n%s", name, text)
		require.NotContains(t, text, "ERROR", "page %s logged an error", name)
	}
	lines := func(name string) []string { return strings.Split(strings.TrimSpace(res.Pages[name]), "\n") }
	require.Equal(t, []string{
		`Message on user-events: {"userId":42,"action":"login"}`,
		"Message on system-notifications: hello world",
	}, lines("ws"))
	require.Equal(t, []string{
		`Received data: {"userId":42,"action":"login"}`,
		`Update event: {"temperature":23.4}`,
		"Alert event: hello world",
	}, lines("sse"))
	lp := lines("longpoll")
	require.NotEmpty(t, lp)
	for _, l := range lp {
		require.True(t, strings.HasPrefix(l, "Received update: {"), l)
		require.Contains(t, l, `"text":"hello world"`)
		require.NotContains(t, l, "data_b64")
	}
}
