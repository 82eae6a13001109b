package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/switchboard-go/switchboard/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", 0, func(a string) { addrc <- a }) }()
	addr := <-addrc
	defer func() {
		cancel()
		require.NoError(t, <-done)
	}()

	c, err := ws.Dial(ctx, "ws://"+addr+"/ws", nil)
	require.NoError(t, err)
	defer c.Close()
	sub, err := c.Subscribe(ctx, "bench", nil)
	require.NoError(t, err)
	resp, err := http.Post("http://"+addr+"/topics/bench", "application/json", strings.NewReader(`{"t":1,"i":0}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ev := <-sub.C()
	require.Equal(t, `{"t":1,"i":0}`, string(ev.Message.Data))

	resp, err = http.Get("http://" + addr + "/debug/mem")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), "conns=1 ")
	require.NoError(t, c.Close())
	http.DefaultClient.CloseIdleConnections()
}
