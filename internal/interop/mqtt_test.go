package interop

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

// mqttEnv is an mqttx.Server over a memory broker, on TCP and on
// WebSocket (/mqtt), with an SSE handler (/events) on the same broker.
type mqttEnv struct {
	broker  *pubsub.Memory
	tcpAddr string
	host    string
	port    string
	http    *httptest.Server
}

func startMQTT(t *testing.T) *mqttEnv {
	t.Helper()
	mem := pubsub.NewMemory(nil)
	srv, err := mqttx.NewServer(mem, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	events := sse.NewHandler(mem, &sse.Options{Format: sse.FormatEnvelope})
	mux := http.NewServeMux()
	mux.Handle("/mqtt", srv)
	mux.Handle("/events", events)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = events.Shutdown(ctx)
		require.NoError(t, srv.Close())
		require.ErrorIs(t, <-served, mqttx.ErrServerClosed)
		hs.Close()
		require.NoError(t, mem.Close())
	})
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	return &mqttEnv{broker: mem, tcpAddr: ln.Addr().String(), host: host, port: port, http: hs}
}

// mosquittoSub starts mosquitto_sub with -d and waits for its SUBACK; the
// returned channel yields the lines printed for messages (format
// "topic|qos|retain|payload-hex").
func (e *mqttEnv) mosquittoSub(t *testing.T, ctx context.Context, version string, extra ...string) (<-chan string, *exec.Cmd) {
	t.Helper()
	bin := testenv.Command(t, "mosquitto_sub")
	args := append([]string{"-h", e.host, "-p", e.port, "-V", version, "-d", "-F", "MSG %t|%q|%r|%x"}, extra...)
	// stdio buffers a pipe: ask for line buffering (coreutils stdbuf).
	if sb, err := exec.LookPath("stdbuf"); err == nil {
		args = append([]string{"-oL", bin}, args...)
		bin = sb
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 100)
	subacked := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		once := false
		for sc.Scan() {
			l := sc.Text()
			if strings.Contains(l, "received SUBACK") && !once {
				once = true
				close(subacked)
			}
			if rest, ok := strings.CutPrefix(l, "MSG "); ok {
				lines <- rest
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-subacked:
	case <-ctx.Done():
		t.Fatal("mosquitto_sub got no SUBACK")
	}
	return lines, cmd
}

func (e *mqttEnv) mosquittoPub(t *testing.T, ctx context.Context, args ...string) {
	t.Helper()
	bin := testenv.Command(t, "mosquitto_pub")
	out, err := exec.CommandContext(ctx, bin, append([]string{"-h", e.host, "-p", e.port}, args...)...).CombinedOutput()
	require.NoError(t, err, "mosquitto_pub: %s", out)
}

func nextLine(t *testing.T, ctx context.Context, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		require.True(t, ok, "mosquitto_sub exited")
		return l
	case <-ctx.Done():
		t.Fatal("mosquitto_sub printed no message")
		return ""
	}
}

// TestMQTTMosquittoClients drives mosquitto_pub and mosquitto_sub (MQTT
// 3.1.1 and 5) against mqttx.Server: wildcards, QoS 1 and 2, retained,
// user properties into the broker, and a will when a client is killed.
func TestMQTTMosquittoClients(t *testing.T) {
	for _, version := range []string{"mqttv311", "mqttv5"} {
		t.Run(version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			e := startMQTT(t)
			watch, err := e.broker.Subscribe(ctx, "#", nil)
			require.NoError(t, err)
			defer watch.Close()

			lines, _ := e.mosquittoSub(t, ctx, version, "-q", "2", "-t", "a/+/c", "-t", "b/#", "-t", "will/#")
			e.mosquittoPub(t, ctx, "-V", version, "-q", "1", "-t", "a/x/c", "-m", "one")
			require.Equal(t, "a/x/c|1|0|6f6e65", nextLine(t, ctx, lines))
			e.mosquittoPub(t, ctx, "-V", version, "-q", "2", "-t", "b", "-m", "parent")
			require.Equal(t, "b|2|0|706172656e74", nextLine(t, ctx, lines), "b/# matches b; QoS 2 end to end")
			e.mosquittoPub(t, ctx, "-V", version, "-q", "0", "-t", "a/x/y/c", "-m", "no match")
			e.mosquittoPub(t, ctx, "-V", version, "-q", "2", "-t", "b/deep/er", "-m", "deep")
			require.Equal(t, "b/deep/er|2|0|64656570", nextLine(t, ctx, lines))

			// What the devices published reached the broker, QoS in the header.
			var qos []string
			for range 4 {
				m := <-watch.C()
				qos = append(qos, m.Topic+"@"+m.Header[mqttx.HeaderQoS])
			}
			require.Equal(t, []string{"a/x/c@1", "b@2", "a/x/y/c@0", "b/deep/er@2"}, qos)

			// Retained: a new subscriber gets the stored message with the
			// retain flag.
			e.mosquittoPub(t, ctx, "-V", version, "-q", "1", "-r", "-t", "r/state", "-m", "kept")
			<-watch.C()
			late, _ := e.mosquittoSub(t, ctx, version, "-q", "1", "-t", "r/#")
			require.Equal(t, "r/state|1|1|6b657074", nextLine(t, ctx, late))

			// Will: kill a client that set one.
			_, victim := e.mosquittoSub(t, ctx, version, "-t", "nothing", "--will-topic", "will/victim", "--will-payload", "gone", "--will-qos", "1")
			require.NoError(t, victim.Process.Kill())
			require.Equal(t, "will/victim|1|0|676f6e65", nextLine(t, ctx, lines))

			if version == "mqttv5" {
				e.mosquittoPub(t, ctx, "-V", version, "-q", "1", "-t", "p/x", "-m", "props",
					"-D", "publish", "user-property", "unit", "C",
					"-D", "publish", "response-topic", "p/replies",
					"-D", "publish", "correlation-data", "c-1")
				var m *pubsub.Message
				for m = range watch.C() {
					if m.Topic == "p/x" {
						break
					}
				}
				require.Equal(t, "C", m.Header["unit"])
				require.Equal(t, "p/replies", m.Header[pubsub.HeaderReplyTo])
				require.Equal(t, "c-1", m.Header[pubsub.HeaderCorrelationID])
			}
		})
	}
}

// TestMQTTDeviceToSSE: bytes a device publishes with mosquitto_pub reach
// an SSE subscriber of the same broker byte-identical.
func TestMQTTDeviceToSSE(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := startMQTT(t)
	payload := []byte{0, 1, 2, 0xfe, 0xff, '\r', '\n', 'd', 'a', 't', 'a', ':', ' ', 0x80}
	file := filepath.Join(t.TempDir(), "payload.bin")
	require.NoError(t, os.WriteFile(file, payload, 0o600))

	got := make(chan pubsub.Message, 1)
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	opened := make(chan struct{})
	runDone := make(chan error, 1)
	go func() {
		c := &sse.Client{URL: e.http.URL + "/events?topic=devices/%23"}
		runDone <- c.Run(sctx, func(ev sse.Event) error {
			if ev.Type == "sb-open" {
				close(opened)
				return nil
			}
			m, err := transport.DecodeEnvelope([]byte(ev.Data))
			if err != nil {
				return err
			}
			got <- m
			scancel()
			return nil
		})
	}()
	select {
	case <-opened:
	case <-ctx.Done():
		t.Fatal("SSE stream did not open")
	}
	e.mosquittoPub(t, ctx, "-V", "mqttv311", "-q", "1", "-t", "devices/d1/blob", "-f", file)
	select {
	case m := <-got:
		require.Equal(t, "devices/d1/blob", m.Topic)
		require.Equal(t, payload, m.Data, "byte-identical")
	case <-ctx.Done():
		t.Fatal("SSE subscriber got nothing")
	}
	<-runDone
}

// mqttNodeResult is one line printed by node/mqtt-client.mjs.
type mqttNodeResult struct {
	Step    string            `json:"step"`
	QoS     json.RawMessage   `json:"qos"`
	Topic   string            `json:"topic"`
	Payload string            `json:"payload"`
	Retain  bool              `json:"retain"`
	User    map[string]string `json:"user"`
}

// TestMQTTNodeClient runs MQTT.js (protocol versions 4 and 5, over TCP and
// WebSocket) against mqttx.Server.
func TestMQTTNodeClient(t *testing.T) {
	testenv.NodeDir(t)
	e := startMQTT(t)
	ws := "ws" + strings.TrimPrefix(e.http.URL, "http") + "/mqtt"
	for _, tc := range []struct{ url, version string }{
		{"mqtt://" + e.tcpAddr, "4"}, {"mqtt://" + e.tcpAddr, "5"}, {ws, "4"}, {ws, "5"},
	} {
		t.Run(strings.SplitN(tc.url, ":", 2)[0]+"-v"+tc.version, func(t *testing.T) {
			prefix := "node" + pubsub.NewEpoch()
			out := runNode(context.Background(), t, "mqtt-client.mjs", tc.url, tc.version, prefix)
			var res []mqttNodeResult
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				var r mqttNodeResult
				require.NoError(t, json.Unmarshal([]byte(l), &r), l)
				res = append(res, r)
			}
			require.Len(t, res, 6, out)
			require.JSONEq(t, "[1,2,1]", string(res[0].QoS))
			b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
			require.Equal(t, prefix+"/x/c", res[1].Topic)
			require.Equal(t, base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 255}), res[1].Payload)
			require.JSONEq(t, "1", string(res[1].QoS))
			if tc.version == "5" {
				require.Equal(t, "C", res[1].User["unit"])
			}
			require.Equal(t, prefix+"/m", res[2].Topic)
			require.Equal(t, b64("parent matched by #"), res[2].Payload)
			require.Equal(t, prefix+"/m/a/b", res[3].Topic)
			require.JSONEq(t, "2", string(res[3].QoS), "QoS 2 end to end")
			require.Equal(t, "retained", res[4].Step)
			require.True(t, res[4].Retain)
			require.Equal(t, b64("kept"), res[4].Payload)
			require.Equal(t, "will", res[5].Step)
			require.Equal(t, prefix+"/will/pub", res[5].Topic)
			require.Equal(t, b64("gone"), res[5].Payload)
		})
	}
}

// TestMQTTBrokerMosquittoClients: mqttx.Broker on the real Mosquitto
// exchanges messages with mosquitto_pub and mosquitto_sub (MQTT 5): user
// properties become headers and back, bytes stay identical.
func TestMQTTBrokerMosquittoClients(t *testing.T) {
	mosq := testenv.Mosquitto(t)
	host, port, err := net.SplitHostPort(mosq)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := mqttx.Dial(ctx, "mqtt://"+mosq, nil)
	require.NoError(t, err)
	defer b.Close()
	prefix := "interop/" + pubsub.NewEpoch()
	sub, err := b.Subscribe(ctx, prefix+"/in/+", nil)
	require.NoError(t, err)
	defer sub.Close()

	pub := testenv.Command(t, "mosquitto_pub")
	out, err := exec.CommandContext(ctx, pub, "-h", host, "-p", port, "-V", "mqttv5", "-q", "1",
		"-t", prefix+"/in/dev", "-m", "from mosquitto_pub", "-D", "publish", "user-property", "k", "v").CombinedOutput()
	require.NoError(t, err, "%s", out)
	select {
	case m := <-sub.C():
		require.Equal(t, "from mosquitto_pub", string(m.Data))
		require.Equal(t, "v", m.Header["k"])
	case <-ctx.Done():
		t.Fatal("mqttx.Broker got nothing from mosquitto_pub")
	}

	e := &mqttEnv{host: host, port: port}
	lines, _ := e.mosquittoSub(t, ctx, "mqttv5", "-q", "1", "-t", prefix+"/out/#")
	_, err = b.Publish(ctx, pubsub.Message{Topic: prefix + "/out/x", Data: []byte{0, 0xff, 'A'}, Header: map[string]string{mqttx.HeaderQoS: "1"}})
	require.NoError(t, err)
	require.Equal(t, prefix+"/out/x|1|0|00ff41", nextLine(t, ctx, lines))
}
