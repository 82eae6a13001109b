package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/grpcx"
	"github.com/switchboard-go/switchboard/pubsub"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs a small load against an in-process handler and checks the
// report: every message reached every stream once, in order.
func TestRun(t *testing.T) {
	b := pubsub.NewMemory(nil)
	defer b.Close()
	_, h := grpcx.NewHandler(b, nil)
	defer h.Close()
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()

	var out bytes.Buffer
	require.NoError(t, run([]string{"-url", srv.URL, "-n", "20", "-conns", "2", "-pubs", "50", "-pub-conc", "2", "-msgs", "10", "-idle", "0s"}, &out))
	var r result
	require.NoError(t, json.Unmarshal(out.Bytes(), &r))
	require.Equal(t, 20, r.Connected)
	require.EqualValues(t, 200, r.Expected)
	require.Equal(t, r.Expected, r.Delivered)
	require.Zero(t, r.Missing)
	require.Zero(t, r.Dups)
	require.Positive(t, r.PubPerSec)

	require.Error(t, run([]string{"-url", "http://192.0.2.1:80"}, &out), "non-loopback targets are refused")
}
