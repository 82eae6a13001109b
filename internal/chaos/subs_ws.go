package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"

	"github.com/switchboard-go/switchboard/ws"
)

// runWS subscribes with the repo's ws.Client (switchboard.v1), resuming
// with since. The client also repairs drops by itself, from its own last
// cursor; a kill closes it and dials anew.
func runWS(ctx context.Context, s *subscriber, h *hub) error {
	c, err := ws.Dial(ctx, h.url("/ws"), &ws.ClientOptions{MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, IdleTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	defer c.Close()
	sub, err := c.Subscribe(ctx, s.world.filter, &ws.SubscribeOptions{Since: s.getCursor()})
	if err != nil {
		return err
	}
	defer sub.Close()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-sub.C():
			if !ok {
				return fmt.Errorf("ws: subscription ended: %w", sub.Err())
			}
			if ev.Gap {
				s.t.gap("ws gap")
				continue
			}
			s.t.deliver(ev.Message.Data)
			s.setCursor(ev.Message.Cursor)
		}
	}
}

// runGraphQL subscribes over graphql-transport-ws (coder/websocket) to
// gophers.BrokerSchema's Subscription.messages, resuming with since.
func runGraphQL(ctx context.Context, s *subscriber, h *hub) error {
	conn, _, err := websocket.Dial(ctx, "ws://"+h.httpAddr+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return err
	}
	defer func() { _ = conn.CloseNow() }()
	conn.SetReadLimit(1 << 20)
	if err := wsjson.Write(ctx, conn, map[string]any{"type": "connection_init"}); err != nil {
		return err
	}
	var since any
	if c := s.getCursor(); c != "" {
		since = c
	}
	subscribed := false
	// A client bounds the handshake: without connection_ack in time it
	// dials again (as graphql-ws's connectionAckWaitTimeout does).
	ackCtx, cancelAck := context.WithTimeout(ctx, 10*time.Second)
	defer cancelAck()
	for {
		var f struct {
			Type    string `json:"type"`
			ID      string `json:"id"`
			Payload json.RawMessage
		}
		rctx := ctx
		if !subscribed {
			rctx = ackCtx
		}
		if err := wsjson.Read(rctx, conn, &f); err != nil {
			return err
		}
		switch f.Type {
		case "connection_ack":
			if subscribed {
				continue
			}
			subscribed = true
			err := wsjson.Write(ctx, conn, map[string]any{"id": "1", "type": "subscribe", "payload": map[string]any{
				"query":     "subscription($f: String!, $s: String) { messages(filter: $f, since: $s) { data cursor } }",
				"variables": map[string]any{"f": s.world.filter, "s": since},
			}})
			if err != nil {
				return err
			}
		case "ping":
			if err := wsjson.Write(ctx, conn, map[string]any{"type": "pong"}); err != nil {
				return err
			}
		case "next":
			var p struct {
				Data *struct {
					Messages *struct{ Data, Cursor string }
				}
				Errors []struct {
					Message    string
					Extensions map[string]any
				}
			}
			if err := json.Unmarshal(f.Payload, &p); err != nil {
				return fmt.Errorf("graphql: bad next: %w", err)
			}
			if len(p.Errors) > 0 {
				code, _ := p.Errors[0].Extensions["code"].(string)
				if code == "gap" {
					s.t.gap("graphql gap")
					continue
				}
				return fmt.Errorf("graphql: %s (%s)", p.Errors[0].Message, code)
			}
			if p.Data == nil || p.Data.Messages == nil {
				return fmt.Errorf("graphql: next without data: %.200s", f.Payload)
			}
			s.t.deliver([]byte(p.Data.Messages.Data))
			s.setCursor(p.Data.Messages.Cursor)
		case "error", "complete":
			return fmt.Errorf("graphql: %s %s", f.Type, strings.TrimSpace(string(f.Payload)))
		}
	}
}
