package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

// hubProcess is the real examples/hub binary running on random ports.
type hubProcess struct {
	URL      string // http://127.0.0.1:PORT
	MQTTAddr string // host:port of its MQTT TCP listener, "" without one

	mu  sync.Mutex
	log strings.Builder
}

func (h *hubProcess) logs() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.log.String()
}

var (
	hubListening  = regexp.MustCompile(`msg="switchboard hub listening" addr=(\S+)`)
	mqttListening = regexp.MustCompile(`(?i)msg="mqtt[^"]*listening".*? addr=(\S+)`)
)

// buildHub compiles examples/hub into a temporary directory (with the test
// run's GOFLAGS, so under -race the hub is race-checked too).
func buildHub(t *testing.T) string {
	t.Helper()
	goBin := testenv.Command(t, "go")
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	bin := filepath.Join(t.TempDir(), "hub")
	cmd := exec.Command(goBin, "build", "-o", bin, "./examples/hub")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/hub: %v\n%s", err, out)
	}
	return bin
}

// hubHasFlag reports whether the hub binary knows flag name.
func hubHasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits 2
	return strings.Contains(string(out), "-"+name+" ")
}

// startHubProcess runs the hub binary until the test ends, then stops it
// with SIGTERM and checks that it shut down cleanly.
func startHubProcess(t *testing.T, bin string, args ...string) *hubProcess {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())

	h := &hubProcess{}
	wantMQTT := strings.Contains(strings.Join(args, " "), "-mqtt-addr")
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			h.mu.Lock()
			h.log.WriteString(line + "\n")
			if m := hubListening.FindStringSubmatch(line); m != nil {
				h.URL = "http://" + m[1]
			}
			if m := mqttListening.FindStringSubmatch(line); m != nil && h.MQTTAddr == "" {
				h.MQTTAddr = m[1]
			}
			done := h.URL != "" && (!wantMQTT || h.MQTTAddr != "")
			h.mu.Unlock()
			if done && !signalled {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()

	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		waited := make(chan error, 1)
		go func() { <-scanned; waited <- cmd.Wait() }()
		select {
		case err := <-waited:
			return err
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-waited
			return context.DeadlineExceeded
		}
	}
	select {
	case <-ready:
	case <-scanned:
		err := stop()
		t.Fatalf("hub exited before listening (%v):\n%s", err, h.logs())
	case <-time.After(30 * time.Second):
		err := stop()
		t.Fatalf("hub did not report its addresses within 30s (%v):\n%s", err, h.logs())
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("hub did not shut down cleanly on SIGTERM: %v\n%s", err, h.logs())
		}
		if t.Failed() {
			t.Logf("hub log:\n%s", h.logs())
		}
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return h
}

// artifactsDir is where screenshots go: $SWITCHBOARD_ARTIFACTS (set by
// .ci/run) or a temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SWITCHBOARD_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

type paneSummary struct {
	State      string   `json:"state"`
	Cursor     string   `json:"cursor"`
	Reconnects int      `json:"reconnects"`
	Notes      []string `json:"notes"`
	Messages   []struct {
		Topic    string `json:"topic"`
		Data     string `json:"data"`
		Cursor   string `json:"cursor"`
		Retained bool   `json:"retained"`
	} `json:"messages"`
}

// TestBrowserHubPage opens the hub's page in headless Chromium: a retained
// value shows first in the SSE and WebSocket panes; disconnect, publish
// over REST, reconnect and find every message exactly once, in order, and
// nothing from before the subscription; publish over WebSocket from the
// page and with mosquitto_pub to the hub's MQTT listener, and see both in
// the SSE, WebSocket and long-poll panes.
func TestBrowserHubPage(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.NodeDir(t)
	bin := buildHub(t)

	var args []string
	mqtt := hubHasFlag(bin, "mqtt-addr")
	if mqtt {
		testenv.Command(t, "mosquitto_pub")
		args = append(args, "-mqtt-addr", "127.0.0.1:0")
	} else {
		t.Log("the hub has no -mqtt-addr flag (no MQTT listener mounted): skipping the mosquitto_pub step")
	}
	h := startHubProcess(t, bin, args...)

	shot := filepath.Join(artifactsDir(t), "browser-hub.png")
	nodeArgs := []string{h.URL, chromium, shot}
	if mqtt {
		nodeArgs = append(nodeArgs, h.MQTTAddr)
	}
	out := runNode(context.Background(), t, "browser-hub.mjs", nodeArgs...)
	t.Logf("screenshot: %s", shot)

	var res struct {
		Expected map[string][]string    `json:"expected"`
		Panes    map[string]paneSummary `json:"panes"`
		Problems []string               `json:"problems"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	require.Empty(t, res.Problems, "console errors on the page")
	if mqtt {
		require.Contains(t, res.Expected["poll"], "from mosquitto_pub")
	}

	var cursors []string
	for _, name := range []string{"sse", "ws", "poll"} {
		p, ok := res.Panes[name]
		require.True(t, ok, "pane %s missing", name)
		var data, cs []string
		for _, m := range p.Messages {
			data = append(data, m.Data)
			require.True(t, strings.HasPrefix(m.Topic, "demo/"), "pane %s shows %q outside the filter", name, m.Topic)
			if !m.Retained {
				cs = append(cs, m.Cursor)
			}
		}
		require.Equal(t, res.Expected[name], data, "pane %s: every message once, in order, nothing from before the subscription", name)
		require.Empty(t, p.Notes, "pane %s reported a gap or error", name)
		require.Positive(t, p.Reconnects, "pane %s counted the reconnect", name)
		// Live cursors increase along the pane and are the same in every
		// pane: the same broker messages, whatever the transport.
		for i := 1; i < len(cs); i++ {
			a, err := pubsub.ParseCursor(cs[i-1])
			require.NoError(t, err)
			b, err := pubsub.ParseCursor(cs[i])
			require.NoError(t, err)
			require.Equal(t, a.Epoch, b.Epoch)
			require.Less(t, a.Seq, b.Seq, "pane %s cursors out of order", name)
		}
		if cursors == nil {
			cursors = cs
		} else {
			require.Equal(t, cursors, cs, "pane %s saw other messages than the SSE pane", name)
		}
	}
	info, err := os.Stat(shot)
	require.NoError(t, err)
	require.Positive(t, info.Size())
}
