package graphqlsub_test

import (
	"bytes"
	"context"
	"log"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-go/switchboard/graphqlsub"
)

// panicWriter records whether net/http logged a recovered handler panic.
type panicWriter struct{ seen atomic.Bool }

func (p *panicWriter) Write(b []byte) (int, error) {
	if bytes.Contains(b, []byte("panic")) {
		p.seen.Store(true)
	}
	return len(b), nil
}

// FuzzConnection drives both WebSocket protocols with arbitrary message
// sequences (one message per line): the server must never panic, and must
// either answer a final ping or close the socket with a code.
func FuzzConnection(f *testing.F) {
	for _, s := range []string{
		"{\"type\":\"connection_init\"}\n{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":\"subscription { messages(filter: \\\"a\\\") { id } }\"}}\n{\"type\":\"complete\",\"id\":\"1\"}",
		"{\"type\":\"connection_init\"}\n{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":\"{ messages(topic: \\\"a\\\") { id } }\"}}",
		"{\"type\":\"connection_init\",\"payload\":{\"token\":1}}\n{\"type\":\"start\",\"id\":\"1\",\"payload\":{\"query\":\"mutation { publish(topic: \\\"a\\\", data: \\\"b\\\") { id } }\"}}\n{\"type\":\"stop\",\"id\":\"1\"}",
		"{\"type\":\"subscribe\"}", "{", "null", "{\"type\":\"connection_terminate\"}",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	e := newEnv(f, &graphqlsub.Options{InitTimeout: -1, KeepAlive: -1, WriteTimeout: 2 * time.Second})
	pw := &panicWriter{}
	e.srv.Config.ErrorLog = log.New(pw, "", 0)
	f.Fuzz(func(t *testing.T, script string, legacy bool) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		proto := graphqlsub.SubprotocolTransportWS
		ping := `{"type":"ping"}`
		if legacy {
			proto = graphqlsub.SubprotocolLegacyWS
			ping = `{"type":"start","id":"zz-final","payload":{"query":"{ messages(topic: \"none\") { id } }"}}`
		}
		c, _, err := websocket.Dial(ctx, e.url, &websocket.DialOptions{Subprotocols: []string{proto}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		for _, line := range strings.Split(script, "\n") {
			if err := c.Write(ctx, websocket.MessageText, []byte(line)); err != nil {
				break // closed by the server: fine
			}
		}
		_ = c.Write(ctx, websocket.MessageText, []byte(ping))
		for {
			_, b, err := c.Read(ctx)
			if err != nil {
				if websocket.CloseStatus(err) == -1 && ctx.Err() != nil {
					t.Fatalf("no answer and no close: %v", err)
				}
				break
			}
			if bytes.Contains(b, []byte(`"pong"`)) || bytes.Contains(b, []byte(`"zz-final"`)) {
				break
			}
		}
		if pw.seen.Load() {
			t.Fatal("a handler panicked")
		}
	})
}
