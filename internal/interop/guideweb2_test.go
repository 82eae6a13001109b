package interop

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
)

// TestGuideBrowserMQTTAndWebSocketAPI runs two more browser clients of the
// guide in headless Chromium against the hub (node/guideweb2.mjs), each
// the guide's snippet with only its URL changed:
//
//   - "MQTT over WebSockets": MQTT.js's browser bundle (loaded from unpkg
//     as pages do; served from node_modules by a route) connects to the
//     hub's /mqtt, subscribes to notifications/#; typing a message and
//     clicking Send publishes it to notifications/browser, and it comes
//     back, as does a text/plain "hello world" published through REST.
//     Other transports see the browser's message as text (REST history).
//   - "WebSocket API in Browsers": the page sends 'Hello Server!' on open
//     and logs one well-formed error frame; the connection stays open and
//     serves a subscription afterwards, and closes cleanly.
func TestGuideBrowserMQTTAndWebSocketAPI(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.NodeDir(t)
	bin := build(t, "hub")["hub"]
	h := start(t, bin, []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "off"}, map[string]*regexp.Regexp{"http": hubListening})
	base := "http://" + h.addrs["http"]
	out := runNode(context.Background(), t, "guideweb2.mjs", base, chromium)
	var res struct {
		Pages struct {
			MQTT struct {
				List, Out, Input string
			}
			WSAPI     string `json:"wsapi"`
			WSAPIOpen bool   `json:"wsapiOpen"`
		} `json:"pages"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Empty(t, res.Problems, "errors on the guide's pages")
	t.Logf("the guide's MQTT over WebSockets page listed:\n%s\nand logged:\n%s", res.Pages.MQTT.List, res.Pages.MQTT.Out)
	t.Logf("the guide's WebSocket API page logged:\n%s", res.Pages.WSAPI)

	require.Equal(t, []string{
		"notifications/browser: hello from the browser",
		"notifications/system: hello world",
	}, strings.Split(strings.TrimSpace(res.Pages.MQTT.List), "\n"))
	require.Equal(t, "Connected to MQTT broker via WebSockets\n", res.Pages.MQTT.Out, "connected once, no error")
	require.Empty(t, res.Pages.MQTT.Input, "the snippet cleared its input")

	// The browser's publish, as every other transport sees it.
	resp, err := http.Get(base + "/topics/" + url.PathEscape("notifications/browser"))
	require.NoError(t, err)
	var hist struct {
		Messages []struct {
			Topic string  `json:"topic"`
			Text  *string `json:"text"`
		} `json:"messages"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&hist))
	resp.Body.Close()
	require.Len(t, hist.Messages, 1)
	require.NotNil(t, hist.Messages[0].Text)
	require.Equal(t, "hello from the browser", *hist.Messages[0].Text)

	lines := strings.Split(strings.TrimSpace(res.Pages.WSAPI), "\n")
	require.NotContains(t, res.Pages.WSAPI, "ERROR", "no WebSocket error event")
	require.True(t, res.Pages.WSAPIOpen, "still open after 'Hello Server!'")
	require.Len(t, lines, 4, "error, subscribed, message, closed")
	frame := func(l string) map[string]any {
		t.Helper()
		j, ok := strings.CutPrefix(l, "Message from server: ")
		require.True(t, ok, l)
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(j), &m), "a well-formed frame: %s", j)
		return m
	}
	e := frame(lines[0])
	require.Equal(t, "error", e["type"])
	require.Equal(t, "bad_request", e["code"])
	require.Contains(t, e["message"], `a frame is a JSON object with a "type"`)
	require.Equal(t, "subscribed", frame(lines[1])["type"])
	m := frame(lines[2])
	require.Equal(t, "message", m["type"])
	require.Equal(t, "hello world", m["data"])
	require.Regexp(t, `^Connection closed, code: 100[05] reason:$`, lines[3]) // (reason "", trimmed)
}

// TestGuideBrowserMQTTSensors runs the guide's "MQTT over WebSockets" page
// against examples/sensors, which serves MQTT over WebSocket at /mqtt too
// and lets devices use notifications/#: the browser's own message comes
// back, and an MQTT.js device's text/plain "hello world" (over TCP)
// reaches the page.
func TestGuideBrowserMQTTSensors(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.NodeDir(t)
	bin := build(t, "sensors")["sensors"]
	p := start(t, bin, []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0"},
		map[string]*regexp.Regexp{"http": exampleListening, "mqtt": exampleMQTT})
	out := runNode(context.Background(), t, "guideweb2.mjs", "http://"+p.addrs["http"], chromium, "mqtt", p.addrs["mqtt"])
	var res struct {
		Pages struct {
			MQTT struct{ List, Out string }
		} `json:"pages"`
		Problems []string `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Empty(t, res.Problems, "errors on the guide's page")
	t.Logf("the guide's MQTT over WebSockets page listed:\n%s\nand logged:\n%s", res.Pages.MQTT.List, res.Pages.MQTT.Out)
	require.Equal(t, []string{
		"notifications/browser: hello from the browser",
		"notifications/system: hello world",
	}, strings.Split(strings.TrimSpace(res.Pages.MQTT.List), "\n"))
	require.Equal(t, "Connected to MQTT broker via WebSockets\n", res.Pages.MQTT.Out, "connected once, no error")
	require.NotContains(t, p.logs(), "refused")
}
