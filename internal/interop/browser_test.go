package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
)

// process is a program of this module (an example) started on random
// ports; its log lines tell where it listens.
type process struct {
	addrs map[string]string // what the patterns captured, by name
	stop  func() error      // SIGTERM, then wait; idempotent
	pid   int

	mu  sync.Mutex
	log strings.Builder
}

func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var (
	hubListening     = regexp.MustCompile(`msg="switchboard hub listening" addr=(\S+)`)
	mqttListening    = regexp.MustCompile(`(?i)msg="mqtt[^"]*listening".*? addr=(\S+)`)
	exampleListening = regexp.MustCompile(`msg="\w+ listening" addr=(\S+)`)
	exampleMQTT      = regexp.MustCompile(`msg="\w+ listening" .*\bmqtt=(\S+)`)
)

// build compiles ./examples/<name> for each name, in one go command, into
// a temporary directory (with the test run's GOFLAGS, so under -race the
// programs are race-checked too), and returns the binaries' paths.
func build(t *testing.T, names ...string) map[string]string {
	t.Helper()
	goBin := testenv.Command(t, "go")
	wd, err := os.Getwd() // go test runs in the package directory
	require.NoError(t, err)
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	bins := make(map[string]string, len(names))
	for _, n := range names {
		args = append(args, "./examples/"+n)
		bins[n] = filepath.Join(dir, n)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = filepath.Join(wd, "..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", names, err, out)
	}
	return bins
}

// hasFlag reports whether the program bin knows flag name.
func hasFlag(bin, name string) bool {
	out, _ := exec.Command(bin, "-h").CombinedOutput() // -h exits 2
	return strings.Contains(string(out), "-"+name+" ")
}

// start runs bin with args until the test ends, then stops it with
// SIGTERM and checks that it shut down cleanly (exit status 0). It returns
// once every pattern has matched a log line; each pattern's first group is
// kept in process.addrs under its name.
func start(t *testing.T, bin string, args []string, patterns map[string]*regexp.Regexp) *process {
	t.Helper()
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = io.Discard
	require.NoError(t, cmd.Start())

	p := &process{addrs: map[string]string{}, pid: cmd.Process.Pid}
	ready := make(chan struct{})
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(stderr)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			for name, re := range patterns {
				if m := re.FindStringSubmatch(line); m != nil && p.addrs[name] == "" {
					p.addrs[name] = m[1]
				}
			}
			done := len(p.addrs) == len(patterns)
			p.mu.Unlock()
			if done && !signalled {
				signalled = true
				close(ready)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()

	var (
		stopOnce sync.Once
		stopErr  error
	)
	stop := func() error {
		stopOnce.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			waited := make(chan error, 1)
			go func() { <-scanned; waited <- cmd.Wait() }()
			select {
			case stopErr = <-waited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-waited
				stopErr = context.DeadlineExceeded
			}
		})
		return stopErr
	}
	p.stop = stop
	name := filepath.Base(bin)
	select {
	case <-ready:
	case <-scanned:
		err := stop()
		t.Fatalf("%s exited before listening (%v):\n%s", name, err, p.logs())
	case <-time.After(30 * time.Second):
		err := stop()
		t.Fatalf("%s did not report its addresses within 30s (%v):\n%s", name, err, p.logs())
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("%s did not shut down cleanly on SIGTERM: %v\n%s", name, err, p.logs())
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, p.logs())
		}
	})
	p.mu.Lock()
	defer p.mu.Unlock()
	return p
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
	bin := build(t, "hub")["hub"]

	args := []string{"-addr", "127.0.0.1:0"}
	patterns := map[string]*regexp.Regexp{"http": hubListening}
	mqtt := hasFlag(bin, "mqtt-addr")
	if mqtt {
		testenv.Command(t, "mosquitto_pub")
		args = append(args, "-mqtt-addr", "127.0.0.1:0")
		patterns["mqtt"] = mqttListening
	} else {
		t.Log("the hub has no -mqtt-addr flag (no MQTT listener mounted): skipping the mosquitto_pub step")
	}
	h := start(t, bin, args, patterns)

	shot := filepath.Join(artifactsDir(t), "browser-hub.png")
	nodeArgs := []string{"http://" + h.addrs["http"], chromium, shot}
	if mqtt {
		nodeArgs = append(nodeArgs, h.addrs["mqtt"])
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

// TestBrowserExamples opens the pages of the examples in headless Chromium
// and uses them as a person would (see browser-examples.mjs).
func TestBrowserExamples(t *testing.T) {
	chromium := testenv.Chromium(t)
	testenv.NodeDir(t)
	dir := artifactsDir(t)
	bins := build(t, "chat", "sensors", "notifications", "ticker")

	run := func(t *testing.T, scenario string, args []string, patterns map[string]*regexp.Regexp, extra ...string) map[string]json.RawMessage {
		p := start(t, bins[scenario], append([]string{"-addr", "127.0.0.1:0"}, args...), patterns)
		shot := filepath.Join(dir, "browser-"+scenario+".png")
		out := runNode(context.Background(), t, "browser-examples.mjs",
			append([]string{scenario, "http://" + p.addrs["http"], chromium, shot}, extra...)...)
		t.Logf("screenshot: %s", shot)
		var res struct {
			Summary  map[string]json.RawMessage `json:"summary"`
			Problems []string                   `json:"problems"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &res), out)
		require.Empty(t, res.Problems, "console errors on the page")
		return res.Summary
	}
	httpOnly := map[string]*regexp.Regexp{"http": exampleListening}

	t.Run("chat", func(t *testing.T) {
		s := run(t, "chat", nil, httpOnly)
		var log []string
		require.NoError(t, json.Unmarshal(s["ann"], &log))
		require.Equal(t, []string{"bob joined", "bob: hi ann", "bob left"}, log, "ann's view of the room")
	})
	t.Run("sensors", func(t *testing.T) {
		testenv.Command(t, "mosquitto_pub")
		testenv.Command(t, "mosquitto_sub")
		p := start(t, bins["sensors"], []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0"},
			map[string]*regexp.Regexp{"http": exampleListening, "mqtt": exampleMQTT})
		shot := filepath.Join(dir, "browser-sensors.png")
		out := runNode(context.Background(), t, "browser-examples.mjs", "sensors", "http://"+p.addrs["http"], chromium, shot, p.addrs["mqtt"])
		t.Logf("screenshot: %s", shot)
		require.Contains(t, out, `"problems":[]`)
		require.Contains(t, out, "offline")
	})
	t.Run("notifications", func(t *testing.T) {
		s := run(t, "notifications", nil, httpOnly)
		var items []string
		require.NoError(t, json.Unmarshal(s["items"], &items))
		require.Len(t, items, 1, "only what was sent while the page was closed: %q", items)
		require.True(t, strings.HasPrefix(items[0], "while the page was closed "), items[0])
	})
	t.Run("ticker", func(t *testing.T) {
		s := run(t, "ticker", []string{"-interval", "50ms", "-alert-pct", "0.5"}, httpOnly)
		var symbols []string
		require.NoError(t, json.Unmarshal(s["symbols"], &symbols))
		require.Subset(t, []string{"ACME", "GLOBEX", "INITECH", "UMBRELLA"}, symbols)
	})
}

// TestBrowserHubRestart keeps the hub's page open in headless Chromium while
// the hub restarts on the same address. The new process has a new broker
// epoch, so the panes' cursors point into a history that no longer exists:
// each pane must reconnect by itself, report the gap explicitly, and go on
// receiving.
func TestBrowserHubRestart(t *testing.T) {
	chromium := testenv.Chromium(t)
	dir := testenv.NodeDir(t)
	bin := build(t, "hub")["hub"]

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	args := []string{"-addr", addr}
	if hasFlag(bin, "mqtt-addr") {
		args = append(args, "-mqtt-addr", "off")
	}
	patterns := map[string]*regexp.Regexp{"http": hubListening}
	hub := start(t, bin, args, patterns)

	shot := filepath.Join(artifactsDir(t), "browser-hub-restart.png")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "browser-hub-restart.mjs"), "http://"+addr, chromium, shot)
	cmd.Dir = dir
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); _ = cmd.Wait() }) // if the test stops early

	var last string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if line != "RESTART" {
			last = line
			continue
		}
		require.NoError(t, hub.stop(), "the hub shuts down cleanly with a page connected")
		hub = start(t, bin, args, patterns)
		_, err := io.WriteString(stdin, "RESTARTED\n")
		require.NoError(t, err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node browser-hub-restart.mjs: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("screenshot: %s", shot)

	var panes map[string]paneSummary
	require.NoError(t, json.Unmarshal([]byte(last), &panes), last)
	for _, name := range []string{"sse", "ws", "poll"} {
		p := panes[name]
		var data []string
		for _, m := range p.Messages {
			data = append(data, m.Data)
		}
		require.Equal(t, []string{"before restart", "after restart"}, data, "pane %s", name)
		require.Len(t, p.Notes, 1, "pane %s reports the gap once: %q", name, p.Notes)
		require.Contains(t, p.Notes[0], "gap", "pane %s", name)
		require.Positive(t, p.Reconnects, "pane %s", name)
	}
}
