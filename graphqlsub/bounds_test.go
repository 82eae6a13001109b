package graphqlsub_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/graphqlsub"
	"github.com/switchboard-go/switchboard/transport"
)

const mutation = `{"query":"mutation { publish(topic: \"csrf\", data: \"x\") { id } }"}`

// TestHTTPSlowBodyCut is the slow-body attack on GraphQL over HTTP: a
// client sends its POST body one byte every 50 ms. It is cut at
// Limits.ReadTimeout with 408 and the connection is closed.
func TestHTTPSlowBodyCut(t *testing.T) {
	const readTimeout = 300 * time.Millisecond
	e := newEnv(t, &graphqlsub.Options{Limits: transport.Limits{ReadTimeout: readTimeout}})
	addr := strings.TrimPrefix(e.srv.URL, "http://")
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	_, err = fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", addr)
	require.NoError(t, err)
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
				return
			case <-tk.C:
			}
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	defer func() { close(done); wg.Wait(); _ = c.Close() }()

	start := time.Now()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(5*time.Second)))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	require.NoError(t, err, "no answer within 5 s: the trickling body is still being read")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestTimeout, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), transport.CodeTimeout)
	_, err = r.ReadByte()
	require.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET),
		"the server closed the connection (EOF, or a reset as the trickle still writes): %v", err)
	t.Logf("cut after %v (ReadTimeout %v)", time.Since(start).Round(time.Millisecond), readTimeout)
}

// TestHTTPCrossOrigin: a browser page on another site cannot run a
// mutation (POST) unless OriginPatterns allows its origin; same-origin
// pages and non-browser clients can.
func TestHTTPCrossOrigin(t *testing.T) {
	// A pattern with a scheme matches scheme://host, as for WebSockets.
	e := newEnv(t, &graphqlsub.Options{OriginPatterns: []string{"app.example", "https://trusted.example"}})
	s, err := e.broker.Subscribe(context.Background(), "csrf", nil)
	require.NoError(t, err)
	defer s.Close()
	for _, tc := range []struct {
		name   string
		hdr    []string
		status int
	}{
		{"cross-site", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, 403},
		{"foreign Origin, no Sec-Fetch-Site", []string{"Origin", "https://evil.example"}, 403},
		{"same-origin", []string{"Origin", e.srv.URL, "Sec-Fetch-Site", "same-origin"}, 200},
		{"allowed origin", []string{"Origin", "https://app.example", "Sec-Fetch-Site", "cross-site"}, 200},
		{"no browser headers", nil, 200},
		{"allowed scheme and host", []string{"Origin", "https://trusted.example", "Sec-Fetch-Site", "cross-site"}, 200},
		{"other scheme", []string{"Origin", "http://trusted.example", "Sec-Fetch-Site", "cross-site"}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", e.url, strings.NewReader(mutation))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				req.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, "%s", body)
			if tc.status == 403 {
				require.Contains(t, string(body), transport.CodeForbidden)
			}
		})
	}
	bound := time.After(30 * time.Second) // a bound, not a timing assertion
	for i := range 4 {
		select {
		case <-s.C():
		case <-bound:
			t.Fatalf("only %d of the 4 allowed mutations were published", i)
		}
	}
	select {
	case m := <-s.C():
		t.Fatalf("a refused mutation was published: %v", m)
	default:
	}

	open := newEnv(t, &graphqlsub.Options{InsecureSkipVerify: true})
	req, _ := http.NewRequest("POST", open.url, strings.NewReader(mutation))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, "InsecureSkipVerify allows every origin")
}
