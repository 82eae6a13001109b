package interop

// Issue 15: the guide's own client snippets (/work/shared/guide.md), run
// with their own npm libraries, calls, topics, exchange and queue names,
// documents and message shapes, only the server address differing,
// against the example that serves the guide's scenario.

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/amqpx"
	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
)

// nodeProc is a Node.js script that runs until the test stops it; its
// stdout arrives line by line.
type nodeProc struct {
	lines <-chan string // closed when stdout ends
	stdin io.WriteCloser
	cmd   *exec.Cmd
	done  chan struct{} // closed when the process was waited for

	mu     sync.Mutex
	out    strings.Builder // every stdout line
	errOut strings.Builder
}

// startNode starts a script from internal/interop/node. At the end of the
// test it is killed (if still running) and waited for; on failure its
// output is logged.
func startNode(t *testing.T, script string, args ...string) *nodeProc {
	t.Helper()
	dir := testenv.NodeDir(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, script)}, args...)...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	p := &nodeProc{stdin: stdin, cmd: cmd, done: make(chan struct{})}
	cmd.Stderr = writerFunc(func(b []byte) {
		p.mu.Lock()
		p.errOut.Write(b)
		p.mu.Unlock()
	})
	require.NoError(t, cmd.Start())
	lines := make(chan string, 1024)
	p.lines = lines
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			lines <- sc.Text() // buffered well beyond what the scripts print
		}
		close(lines)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("node %s stdout:\n%s\nstderr:\n%s", script, p.stdout(), p.stderr())
		}
	})
	return p
}

func (p *nodeProc) stdout() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func (p *nodeProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errOut.String()
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

// waitLine returns the first line (from now on) that re matches, failing
// the test after d or when the script exits first.
func (p *nodeProc) waitLine(t *testing.T, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("the script ended before printing a line matching %s", re)
			}
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-timer.C:
			t.Fatalf("no line matching %s within %v", re, d)
		}
	}
}

// waitLines is waitLine for several lines in any order; it returns each
// pattern's first match.
func (p *nodeProc) waitLines(t *testing.T, d time.Duration, res ...*regexp.Regexp) [][]string {
	t.Helper()
	found := make([][]string, len(res))
	left := len(res)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for left > 0 {
		select {
		case l, ok := <-p.lines:
			if !ok {
				t.Fatalf("the script ended before printing lines matching %v", res)
			}
			for i, re := range res {
				if m := re.FindStringSubmatch(l); m != nil && found[i] == nil {
					found[i] = m
					left--
				}
			}
		case <-timer.C:
			t.Fatalf("no lines matching %v within %v", res, d)
		}
	}
	return found
}

// TestGuideMQTTClient runs the guide's MQTT.js client (MQTT 3.1.1, the
// library's default) against examples/sensors: it connects once,
// subscribes to sensors/#, publishes its temperature to
// sensors/temperature/room1 (QoS 1, retained) and receives it back; the
// dashboard's SSE stream shows it; killed without DISCONNECT, its will
// reaches clients/disconnected.
func TestGuideMQTTClient(t *testing.T) {
	bin := build(t, "sensors")["sensors"]
	p := start(t, bin, []string{"-addr", "127.0.0.1:0", "-mqtt-addr", "127.0.0.1:0"},
		map[string]*regexp.Regexp{"http": exampleListening, "mqtt": exampleMQTT})
	base := "http://" + p.addrs["http"]

	events := followSSE(t, base+"/events?topic="+url.QueryEscape("sensors/temperature/+")+"&topic="+url.QueryEscape("clients/disconnected"))
	client := startNode(t, "guide-mqtt-client.cjs", "mqtt://"+p.addrs["mqtt"])
	client.waitLine(t, regexp.MustCompile(`^Connected to MQTT broker$`), 20*time.Second)
	client.waitLine(t, regexp.MustCompile(`^Subscribed to sensors/#$`), 10*time.Second)
	// The reading comes back through sensors/# before or after the PUBACK
	// that makes the client print "Published".
	both := client.waitLines(t, 15*time.Second, regexp.MustCompile(`^Published temperature: (\d+\.\d)°C$`),
		regexp.MustCompile(`^Received message on sensors/temperature/room1: (\d+\.\d)$`))
	pub, got := both[0], both[1]
	require.Equal(t, pub[1], got[1], "its own reading, back through sensors/#")
	require.Equal(t, "sensors/temperature/room1="+pub[1], nextEvent(t, events))

	// Killed without DISCONNECT: the server publishes its will.
	out := client.stdout()
	require.NotContains(t, out, "Attempting to reconnect", "connected once, never refused")
	require.NotContains(t, out, "Disconnected from MQTT broker")
	require.Empty(t, client.stderr(), "no MQTT error")
	killNode(t, client)
	require.Equal(t, "clients/disconnected=Client disconnected unexpectedly", nextEvent(t, events))
	t.Logf("guide MQTT.js client printed:\n%s", out)
}

// killNode kills the script (SIGKILL: no goodbye) and waits for it.
func killNode(t *testing.T, p *nodeProc) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	for range p.lines { // drain, so its reader can finish
	}
	<-p.done
}

// followSSE reads an SSE stream in the sse package's default payload mode
// or envelope mode and returns "topic=payload" per message.
func followSSE(t *testing.T, u string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan string, 64)
	done := make(chan struct{})
	c := &sse.Client{URL: u}
	go func() {
		defer close(done)
		_ = c.Run(ctx, func(e sse.Event) error {
			if e.Type != "" {
				return nil // sb-* control events
			}
			var env struct {
				Topic   string          `json:"topic"`
				Data    json.RawMessage `json:"data"`
				Text    *string         `json:"text"`
				DataB64 []byte          `json:"data_b64"`
			}
			if err := json.Unmarshal([]byte(e.Data), &env); err != nil {
				return err
			}
			payload := string(env.Data)
			if env.Text != nil {
				payload = *env.Text
			} else if env.DataB64 != nil {
				payload = string(env.DataB64)
			}
			select {
			case ch <- env.Topic + "=" + payload:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func nextEvent(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(15 * time.Second):
		t.Fatal("no event within 15s")
		return ""
	}
}

// guideAMQPNames are the guide's: the test uses them as they are, so it
// cleans them up before and after.
const (
	guideExchange = "orders"
	guideQueue    = "order_processing"
)

func resetGuideTopology(t *testing.T, amqpURL string) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err)
	defer conn.Close()
	ch, err := conn.Channel()
	require.NoError(t, err)
	_, _ = ch.QueueDelete(guideQueue, false, false, false)
}

// TestGuideAMQPProducerAndConsumer runs the guide's amqplib producer and
// consumer against examples/orders (exchange orders): the example
// processes the producer's ten orders; the consumer processes them from
// order_processing, and then an order placed through the example's API,
// and a Switchboard message without headers, which crashed it before
// (msg.properties.headers was undefined).
func TestGuideAMQPProducerAndConsumer(t *testing.T) {
	// The guide's fixed names on a vhost of the test's own, so that another
	// run on the same RabbitMQ cannot take its orders.
	amqpURL := guideVHost(t, testenv.RabbitMQ(t))
	resetGuideTopology(t, amqpURL)
	t.Cleanup(func() { resetGuideTopology(t, amqpURL) })
	prefix := "sbguide." + pubsub.NewEpoch()
	bin := build(t, "orders")["orders"]
	p := start(t, bin, []string{"-addr", "127.0.0.1:0", "-amqp", amqpURL, "-queue-prefix", prefix,
		"-queue-expiry", "10s", "-work-time", "10ms"}, map[string]*regexp.Regexp{"http": exampleListening})
	base := "http://" + p.addrs["http"]

	// An observer on the guide's exchange, as a dashboard would be.
	obs := dialAMQP(t, amqpURL, &amqpx.Options{Exchange: guideExchange, QueuePrefix: prefix + ".observer"})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	processed, err := obs.Subscribe(ctx, "order/processed/+", nil)
	require.NoError(t, err)
	failed, err := obs.Subscribe(ctx, "order/failed/+", nil)
	require.NoError(t, err)

	out := runNode(ctx, t, "guide-amqp-producer.cjs", amqpURL)
	t.Logf("guide producer printed:\n%s", out)
	var want []string
	for i := 1; i <= 10; i++ {
		want = append(want, fmt.Sprintf("Published order ORD-%d", 1000+i))
	}
	want = append(want, "Producer connection closed")
	require.Equal(t, want, strings.Split(strings.TrimSpace(out), "\n"))

	var got []string
	for range 10 {
		m := next(t, processed)
		got = append(got, strings.TrimPrefix(m.Topic, "order/processed/"))
		var o struct{ OrderID, Customer string }
		require.NoError(t, json.Unmarshal(m.Data, &o))
		require.Equal(t, strings.TrimPrefix(m.Topic, "order/processed/"), o.OrderID)
		n := 0
		_, _ = fmt.Sscanf(o.OrderID, "ORD-%d", &n)
		require.Equal(t, map[bool]string{true: "high", false: "normal"}[(n-1000)%3 == 0], m.Header["order-priority"])
	}
	slices.Sort(got)
	require.Equal(t, []string{"ORD-1001", "ORD-1002", "ORD-1003", "ORD-1004", "ORD-1005",
		"ORD-1006", "ORD-1007", "ORD-1008", "ORD-1009", "ORD-1010"}, got, "the example processed every order of the guide's producer")

	// The consumer finds the ten orders waiting in order_processing.
	consumer := startNode(t, "guide-amqp-consumer.cjs", amqpURL)
	consumer.waitLine(t, regexp.MustCompile(`^Waiting for messages in queue: order_processing$`), 20*time.Second)
	for i := 1; i <= 10; i++ {
		prio := map[bool]string{true: "high", false: "normal"}[i%3 == 0]
		consumer.waitLine(t, regexp.MustCompile(fmt.Sprintf(`^Processing order ORD-%d \(Priority: %s\)$`, 1000+i, prio)), 10*time.Second)
		consumer.waitLine(t, regexp.MustCompile(fmt.Sprintf(`^Order ORD-%d processed successfully$`, 1000+i)), 10*time.Second)
	}

	// An order placed through the example's API reaches it too.
	req, err := http.NewRequest(http.MethodPost, base+"/orders",
		strings.NewReader(`{"customer":"Ann","items":[{"product":"Product B","quantity":2}]}`))
	require.NoError(t, err)
	req.Header.Set("Order-Priority", "high")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var placed struct{ OrderID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&placed))
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	consumer.waitLine(t, regexp.MustCompile(`^Processing order `+regexp.QuoteMeta(placed.OrderID)+` \(Priority: high\)$`), 15*time.Second)
	consumer.waitLine(t, regexp.MustCompile(`^Order `+regexp.QuoteMeta(placed.OrderID)+` processed successfully$`), 10*time.Second)

	// A Switchboard message with no header at all: the consumer reads
	// headers['order-priority'] and carries on. The example's workers
	// dead-letter it (no orderId), they do not "fulfil" it.
	_, err = obs.Publish(ctx, pubsub.Message{Topic: "order/created", Data: []byte(`{"note":"no id"}`)})
	require.NoError(t, err)
	consumer.waitLine(t, regexp.MustCompile(`^Processing order undefined \(Priority: normal\)$`), 15*time.Second)
	consumer.waitLine(t, regexp.MustCompile(`^Order undefined processed successfully$`), 10*time.Second)
	m := next(t, failed)
	require.Equal(t, "rejected", m.Header["reason"])
	require.Empty(t, consumer.stderr(), "the consumer did not crash")
	t.Logf("guide consumer printed:\n%s", consumer.stdout())
}

// TestGuideApolloClient runs the guide's Apollo Client (HttpLink and
// WebSocketLink split, its Messages query and MessageAdded subscription)
// against examples/graphqlchat.
func TestGuideApolloClient(t *testing.T) {
	bin := build(t, "graphqlchat")["graphqlchat"]
	p := start(t, bin, []string{"-addr", "127.0.0.1:0"}, map[string]*regexp.Regexp{"http": exampleListening})
	httpURL := "http://" + p.addrs["http"] + "/graphql"
	add := func(user, room, content string) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": `mutation($r: ID!, $c: String!) { addMessage(roomId: $r, content: $c) { id } }`,
			"variables": map[string]any{"r": room, "c": content}})
		req, err := http.NewRequest(http.MethodPost, httpURL, strings.NewReader(string(body)))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", user)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", b)
		require.NotContains(t, string(b), `"errors"`)
	}
	add("u1", "general", "before you came")
	add("u1", "lobby", "elsewhere")

	client := startNode(t, "guide-apollo-client.cjs", httpURL, "ws://"+p.addrs["http"]+"/graphql", "ann", "general")
	type message struct{ ID, Content, Sender, Timestamp string }
	type line struct {
		Kind  string
		Value json.RawMessage
	}
	read := func() line {
		t.Helper()
		m := client.waitLine(t, regexp.MustCompile(`^(\{.*\})$`), 20*time.Second)
		var l line
		require.NoError(t, json.Unmarshal([]byte(m[1]), &l), m[1])
		require.NotEqual(t, "error", l.Kind, "%s", l.Value)
		return l
	}
	first := read()
	require.Equal(t, "messages", first.Kind)
	var history []message
	require.NoError(t, json.Unmarshal(first.Value, &history))
	require.Len(t, history, 1, "room general only")
	require.Equal(t, "before you came", history[0].Content)
	require.Equal(t, "u1", history[0].Sender)
	require.NotEmpty(t, history[0].ID)
	require.NotEmpty(t, history[0].Timestamp)

	// The subscription is live once the server has it; publish until the
	// first message arrives (the query above may answer before it is).
	stop := make(chan struct{})
	published := make(chan error, 1)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			body, _ := json.Marshal(map[string]any{"query": `mutation($c: String!) { addMessage(roomId: "general", content: $c) { id } }`,
				"variables": map[string]any{"c": fmt.Sprintf("live %d", i)}})
			resp, err := http.Post(httpURL, "application/json", strings.NewReader(string(body)))
			if err != nil {
				published <- err
				return
			}
			resp.Body.Close()
			select {
			case <-stop:
				published <- nil
				return
			case <-tick.C:
			}
		}
	}()
	live := read()
	close(stop)
	require.NoError(t, <-published)
	require.Equal(t, "messageAdded", live.Kind)
	var m message
	require.NoError(t, json.Unmarshal(live.Value, &m))
	require.True(t, strings.HasPrefix(m.Content, "live "), m.Content)
	require.Equal(t, "anonymous", m.Sender)
	require.NotEmpty(t, m.ID)

	// A message by the user whose id the client sends as Authorization.
	add("ann", "lobby", "not for general")
	add("ann", "general", "from ann")
	for {
		l := read()
		require.Equal(t, "messageAdded", l.Kind)
		require.NoError(t, json.Unmarshal(l.Value, &m))
		require.NotEqual(t, "not for general", m.Content)
		if m.Content == "from ann" {
			break
		}
	}
	require.Equal(t, "ann", m.Sender)
	require.NoError(t, client.stdin.Close())
	require.Equal(t, "done", read().Kind)
	require.Empty(t, client.stderr())
	t.Logf("guide Apollo client printed:\n%s", client.stdout())
}

// TestGuideGRPCClient runs the guide's grpc-js client (its main: create,
// batch create, list, stream by title) against examples/notes over gRPC
// (HTTP/2 without TLS).
func TestGuideGRPCClient(t *testing.T) {
	bin := build(t, "notes")["notes"]
	p := start(t, bin, []string{"-addr", "127.0.0.1:0"}, map[string]*regexp.Regexp{"addr": exampleListening})
	proto, err := filepath.Abs(filepath.Join("..", "..", "examples", "notes", "notespb", "notes.proto"))
	require.NoError(t, err)
	out := runNode(context.Background(), t, "guide-grpc-client.cjs", p.addrs["addr"], proto)
	t.Logf("guide grpc-js client printed:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var res struct {
		Created struct {
			ID, Title, Content string
			CreatedAt          string `json:"created_at"`
		}
		Batch struct {
			NoteIDs      []string `json:"note_ids"`
			SuccessCount int      `json:"success_count"`
			FailureCount int      `json:"failure_count"`
		}
		All      []struct{ ID, Title string }
		Matching []struct{ ID, Title string }
		Error    string
	}
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &res))
	require.Empty(t, res.Error)
	require.Equal(t, "My First Note", res.Created.Title)
	require.Equal(t, "Hello gRPC!", res.Created.Content)
	require.NotEmpty(t, res.Created.ID)
	require.NotEmpty(t, res.Created.CreatedAt)
	require.Len(t, res.Batch.NoteIDs, 3)
	require.Equal(t, 3, res.Batch.SuccessCount)
	require.Zero(t, res.Batch.FailureCount)
	titles := func(ns []struct{ ID, Title string }) []string {
		var out []string
		for _, n := range ns {
			out = append(out, n.Title)
		}
		return out
	}
	all := []string{"My First Note", "Note 1", "Note 2", "Note 3"}
	require.Equal(t, all, titles(res.All))
	// protobufjs encodes {filter: {title_contains}} as an empty NoteQuery
	// ("filter" is the oneof's name): every note.
	require.Equal(t, all, titles(res.Matching))
	for _, title := range all {
		require.Contains(t, out, "Received note: "+title)
	}
}
