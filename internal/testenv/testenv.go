// Package testenv finds the services and tools integration tests need.
//
// A test that needs RabbitMQ, Mosquitto, Node.js packages or Chromium asks
// here. When the thing is absent the test is skipped with a clear message,
// except when SWITCHBOARD_REQUIRE_SERVICES=1 (set by .ci/run): then absence
// fails the test.
package testenv

import (
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Required reports whether SWITCHBOARD_REQUIRE_SERVICES=1.
func Required() bool { return os.Getenv("SWITCHBOARD_REQUIRE_SERVICES") == "1" }

// Absent skips the test, or fails it when services are required.
func Absent(t testing.TB, format string, args ...any) {
	t.Helper()
	if Required() {
		t.Fatalf("required by SWITCHBOARD_REQUIRE_SERVICES=1: "+format, args...)
	}
	t.Skipf(format, args...)
}

// Addr returns the value of the environment variable env, or def, after
// checking that something listens there (a TCP connect within 2 s).
func Addr(t testing.TB, env, def string) string {
	t.Helper()
	addr := def
	if v := os.Getenv(env); v != "" {
		addr = v
	}
	host := addr
	if u, err := parseHostPort(addr); err == nil {
		host = u
	}
	c, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		Absent(t, "no service at %s (set %s): %v", host, env, err)
		return ""
	}
	_ = c.Close()
	return addr
}

// RabbitMQ returns the AMQP URL of the test RabbitMQ (SWITCHBOARD_AMQP_URL,
// default amqp://guest:guest@127.0.0.1:5672/).
func RabbitMQ(t testing.TB) string {
	return Addr(t, "SWITCHBOARD_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
}

// Mosquitto returns host:port of the test MQTT broker (SWITCHBOARD_MQTT_ADDR,
// default 127.0.0.1:1883).
func Mosquitto(t testing.TB) string {
	return Addr(t, "SWITCHBOARD_MQTT_ADDR", "127.0.0.1:1883")
}

// NATS returns the URL of the test NATS server with JetStream
// (SWITCHBOARD_NATS_URL, default nats://127.0.0.1:4222).
func NATS(t testing.TB) string {
	return Addr(t, "SWITCHBOARD_NATS_URL", "nats://127.0.0.1:4222")
}

// Redis returns the URL of the test Redis (SWITCHBOARD_REDIS_URL, default
// redis://127.0.0.1:6379/0).
func Redis(t testing.TB) string {
	return Addr(t, "SWITCHBOARD_REDIS_URL", "redis://127.0.0.1:6379/0")
}

// Command returns the path of an executable, or skips/fails.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Absent(t, "%s not found on PATH (.ci/run installs it)", name)
	}
	return p
}

// NodeDir returns the directory holding the interop package.json with its
// node_modules installed (internal/interop/node), or skips/fails.
func NodeDir(t testing.TB) string {
	t.Helper()
	Command(t, "node")
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "interop", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		Absent(t, "npm packages not installed: run (cd internal/interop/node && npm ci)")
	}
	return dir
}

// Chromium returns the path of the Chromium binary (SWITCHBOARD_CHROMIUM,
// default /usr/bin/chromium), or skips/fails.
func Chromium(t testing.TB) string {
	t.Helper()
	p := os.Getenv("SWITCHBOARD_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		Absent(t, "chromium not found at %s (apt-get install chromium)", p)
	}
	return p
}

// parseHostPort accepts a URL such as amqp://user:pw@host:port/vhost or a
// plain host:port.
func parseHostPort(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		return addr, nil
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}
