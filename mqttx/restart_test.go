package mqttx_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/internal/testenv"
	"github.com/switchboard-go/switchboard/mqttx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// mosquittoProc is a Mosquitto process owned by a test, on a spare port,
// with persistence in a temporary directory.
type mosquittoProc struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	cmd  *exec.Cmd
}

func startMosquittoProc(t *testing.T) *mosquittoProc {
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/mosquitto"); serr == nil {
			bin = "/usr/sbin/mosquitto"
		} else {
			testenv.Absent(t, "mosquitto (the broker) not found: apt-get install mosquitto")
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	dir := t.TempDir()
	me, err := user.Current()
	require.NoError(t, err)
	conf := filepath.Join(dir, "mosquitto.conf")
	require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil,
		"listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location %s/\nmax_queued_messages 10000\nuser %s\n",
		port, dir, me.Username), 0o600)) // as root, mosquitto would switch to user mosquitto, who cannot write dir
	p := &mosquittoProc{t: t, bin: bin, conf: conf, addr: "127.0.0.1:" + strconv.Itoa(port)}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *mosquittoProc) start() {
	p.cmd = exec.Command(p.bin, "-c", p.conf, "-v")
	logf, err := os.OpenFile(p.conf+".log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	require.NoError(p.t, err)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	require.NoError(p.t, p.cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for { // wait until it listens
		c, err := net.DialTimeout("tcp", p.addr, time.Second)
		if err == nil {
			_ = c.Close()
			return
		}
		require.True(p.t, time.Now().Before(deadline), "mosquitto did not start: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process with SIGTERM, which makes Mosquitto save its
// sessions and queued messages.
func (p *mosquittoProc) stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	p.cmd = nil
}

// TestBrokerMosquittoRestartQoS1 restarts the Mosquitto process in the
// middle of a QoS 1 stream. Mosquitto persists the subscriber's session
// and queued messages; the publisher waits for the connection and retries
// what failed. Every message arrives at least once.
func TestBrokerMosquittoRestartQoS1(t *testing.T) {
	mosq := startMosquittoProc(t)
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	opts := mqttx.Options{MaxBackoff: 200 * time.Millisecond, WaitForConnection: true, ConnectTimeout: 2 * time.Second,
		ResumeSession: true} // Mosquitto 2.0 persists only sessions not started clean
	subOpts, pubOpts := opts, opts
	subOpts.ClientID, pubOpts.ClientID = "restart-sub-"+pubsub.NewEpoch(), "restart-pub-"+pubsub.NewEpoch()
	sub := dialAddr(t, mosq.addr, &subOpts)
	pub := dialAddr(t, mosq.addr, &pubOpts)
	topic := prefix(t) + "stream"
	s, err := sub.Subscribe(ctx, topic, &pubsub.SubscribeOptions{Buffer: 2000})
	require.NoError(t, err)
	defer s.Close()

	const n = 300
	pubDone := make(chan error, 1)
	go func() {
		for i := 0; i < n; {
			pctx, pcancel := context.WithTimeout(ctx, 3*time.Second)
			_, err := pub.Publish(pctx, pubsub.Message{Topic: topic, Data: fmt.Appendf(nil, "%d", i)})
			pcancel()
			if err == nil {
				i++
				continue
			}
			if ctx.Err() != nil {
				pubDone <- fmt.Errorf("publish %d: %w", i, err)
				return
			}
			// the broker went away mid-publish: publish it again
		}
		pubDone <- nil
	}()
	seen := make(map[string]bool, n)
	dups := 0
	restarted := false
	for len(seen) < n {
		select {
		case m, ok := <-s.C():
			if !ok {
				log, _ := os.ReadFile(mosq.conf + ".log")
				t.Fatalf("subscription ended: %v\n%s", s.Err(), log)
			}
			if seen[string(m.Data)] {
				dups++
			}
			seen[string(m.Data)] = true
			if len(seen) == n/3 && !restarted {
				restarted = true
				mosq.stop()
				mosq.start()
			}
		case <-ctx.Done():
			t.Fatalf("received %d of %d messages (restarted: %v)", len(seen), n, restarted)
		}
	}
	require.NoError(t, <-pubDone)
	require.True(t, restarted)
	t.Logf("all %d messages arrived across a Mosquitto restart (%d duplicates)", n, dups)
}
