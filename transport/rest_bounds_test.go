package transport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// trickle opens a raw connection to addr, sends the head of a POST
// announcing a body of n bytes and then one body byte per tick until the
// returned stop is called (or the server closes the connection). It
// returns the connection for reading the answer.
func trickle(t *testing.T, addr, path string, n int, tick time.Duration) (*bufio.Reader, net.Conn, func()) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", path, addr, n)
	require.NoError(t, err)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(tick)
		defer tk.Stop()
		for range n {
			select {
			case <-done:
				return
			case <-tk.C:
			}
			if _, err := c.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { close(done); wg.Wait(); _ = c.Close() }) }
	t.Cleanup(stop)
	return bufio.NewReader(c), c, stop
}

// TestRESTSlowBodyCut is the slow-body attack: a client sends its POST body
// one byte every 50 ms (1,000 bytes would take 50 s). The read deadline
// cuts it at Limits.ReadTimeout with 408 and closes the connection.
func TestRESTSlowBodyCut(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	srv, _ := newREST(t, &transport.RESTOptions{Limits: transport.Limits{ReadTimeout: readTimeout}})
	addr := strings.TrimPrefix(srv.URL, "http://")
	r, c, stop := trickle(t, addr, "/topics/slow", 1000, 50*time.Millisecond)
	defer stop()

	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err, "no answer within 5 s: the trickling body is still being read")
	held := time.Since(start)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", body)
	require.True(t, resp.Close, "the connection is closed after a timed-out body")
	var e transport.ErrorBody
	require.NoError(t, json.Unmarshal(body, &e), "%s", body)
	require.Equal(t, transport.CodeTimeout, e.Error.Code)
	_, err = r.ReadByte()
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET),
		"the server closed the connection (EOF, or a reset as the trickle still writes): %v", err)
	t.Logf("a body trickled at 1 byte / 50 ms was cut after %v (ReadTimeout %v)", held.Round(time.Millisecond), readTimeout)
}

// TestRESTSlowBodyDefault: the default read timeout is bounded.
func TestRESTSlowBodyDefault(t *testing.T) {
	require.Equal(t, transport.DefaultReadTimeout, transport.Limits{}.WithDefaults().ReadTimeout)
	require.Zero(t, transport.Limits{ReadTimeout: -1}.WithDefaults().ReadTimeout, "negative turns it off")
	require.Equal(t, 30*time.Second, transport.DefaultReadTimeout)
}

// TestRESTConnectionGate: the REST handler serves at most
// Limits.MaxConnections requests at once; the next gets 503 with
// Retry-After, and once the first is done requests are served again.
func TestRESTConnectionGate(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	auth := &transport.Auth{Authorize: func(ctx context.Context, _ *transport.Identity, _ transport.Action, topic string) error {
		if topic == "hold" {
			once.Do(func() { close(entered); <-release })
		}
		return nil
	}}
	srv, _ := newREST(t, &transport.RESTOptions{Auth: auth, Limits: transport.Limits{MaxConnections: 1}})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the server closes, should the test fail
	first := make(chan int, 1)
	go func() {
		resp, err := http.Post(srv.URL+"/topics/hold", "text/plain", strings.NewReader("x"))
		if err != nil {
			first <- 0
			return
		}
		resp.Body.Close()
		first <- resp.StatusCode
	}()
	<-entered
	resp, body := do(t, "POST", srv.URL+"/topics/other", "y")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "%s", body)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), `"unavailable"`)
	resp, _ = do(t, "GET", srv.URL+"/topics/other", "")
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "reads count too")
	unblock()
	require.Equal(t, http.StatusOK, <-first)
	resp, body = do(t, "POST", srv.URL+"/topics/other", "y")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
}

// TestRESTCrossOrigin is the cross-site write: a page on another site
// POSTs text/plain (a simple request: no preflight) with the user's
// cookies. It is refused unless CORS allows the origin; same-origin pages
// and clients that send neither Origin nor Sec-Fetch-Site (curl, servers)
// pass, and reads stay open.
func TestRESTCrossOrigin(t *testing.T) {
	srv, b := newREST(t, &transport.RESTOptions{CORS: &transport.CORS{AllowedOrigins: []string{"https://app.example"}}})
	sub, err := b.Subscribe(context.Background(), "#", nil)
	require.NoError(t, err)
	defer sub.Close()
	tests := []struct {
		name   string
		method string
		hdr    []string
		status int
	}{
		{"cross-site", "POST", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"cross-site, same-site", "POST", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "same-site"}, 403},
		{"foreign Origin, no Sec-Fetch-Site", "POST", []string{"Origin", "https://evil.example"}, 403},
		{"same-origin", "POST", []string{"Origin", srv.URL, "Sec-Fetch-Site", "same-origin"}, 200},
		{"same host, old browser", "POST", []string{"Origin", srv.URL}, 200},
		{"allowed origin", "POST", []string{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"}, 200},
		{"no browser headers", "POST", nil, 200},
		{"typed URL", "POST", []string{"Sec-Fetch-Site", "none"}, 200},
		{"cross-site read", "GET", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := append([]string{"Content-Type", "text/plain"}, tt.hdr...)
			resp, body := do(t, tt.method, srv.URL+"/topics/csrf", "x", hdr...)
			require.Equal(t, tt.status, resp.StatusCode, "%s", body)
			if tt.status == 403 {
				require.Contains(t, string(body), `"forbidden"`)
			}
		})
	}
	// Exactly the five allowed POSTs were published.
	for range 5 {
		<-sub.C()
	}
	select {
	case m := <-sub.C():
		t.Fatalf("a refused POST was published: %v", m)
	default:
	}

	open, _ := newREST(t, &transport.RESTOptions{CORS: &transport.CORS{AllowedOrigins: []string{"*"}}})
	resp, body := do(t, "POST", open.URL+"/topics/csrf", "x", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	require.Equal(t, 200, resp.StatusCode, "CORS \"*\" lets any origin publish: %s", body)
}

// TestRESTSlowBodyCutHTTP2: over HTTP/2 the read deadline cuts the one
// stream (408), not the connection.
func TestRESTSlowBodyCutHTTP2(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	srv := httptest.NewUnstartedServer(transport.NewRESTHandler(b, &transport.RESTOptions{Limits: transport.Limits{ReadTimeout: 300 * time.Millisecond}}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	cl := srv.Client()
	defer cl.CloseIdleConnections()

	pr, pw := io.Pipe()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the trickle
		defer wg.Done()
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-done:
				_ = pw.Close()
				return
			case <-tk.C:
			}
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
		}
	}()
	defer func() { close(done); wg.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", srv.URL+"/topics/slow", pr)
	require.NoError(t, err)
	resp, err := cl.Do(req)
	require.NoError(t, err, "no answer within 5 s")
	resp.Body.Close()
	require.Equal(t, 2, resp.ProtoMajor)
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode)

	// The connection still serves other requests.
	resp, err = cl.Post(srv.URL+"/topics/fast", "text/plain", strings.NewReader("x"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}
