package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-go/switchboard/sse"
	"github.com/switchboard-go/switchboard/transport"
)

// envelope is the transport JSON envelope as the chaos clients read it.
type envelope struct {
	transport.Envelope
	Text *string `json:"text,omitempty"` // D1: a payload that is UTF-8 but not JSON
}

func (e *envelope) payload() []byte {
	if e.Text != nil {
		return []byte(*e.Text)
	}
	return e.Data
}

// runSSE reads the world's filter as Server-Sent Events with the repo's
// sse.Client (envelope format), resuming with Last-Event-ID.
func runSSE(ctx context.Context, s *subscriber, h *hub) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	c := &sse.Client{
		URL:         h.url("/events?topic=" + url.QueryEscape(s.world.filter)),
		HTTPClient:  &http.Client{Transport: tr},
		LastEventID: s.getCursor(),
		Retry:       100 * time.Millisecond,
		MaxBackoff:  time.Second,
	}
	return c.Run(ctx, func(ev sse.Event) error {
		switch ev.Type {
		case "sb-open":
		case "sb-reset":
			var r struct{ Reason string }
			_ = json.Unmarshal([]byte(ev.Data), &r)
			s.t.gap("sse sb-reset " + r.Reason)
		default:
			var e envelope
			if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
				return fmt.Errorf("sse: bad envelope: %w", err)
			}
			s.t.deliver(e.payload())
		}
		s.setCursor(ev.ID)
		return nil
	})
}

// runLongPoll polls the world's filter with a small client written here:
// GET /poll with the last cursor, in a loop.
func runLongPoll(ctx context.Context, s *subscriber, h *hub) error {
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for {
		q := url.Values{"topic": {s.world.filter}, "timeout": {"5s"}}
		if c := s.getCursor(); c != "" {
			q.Set("cursor", c)
		} else {
			q.Set("timeout", "0") // learn the head first
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url("/poll?"+q.Encode()), nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		_ = resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("longpoll: %s: %.200s", resp.Status, body)
		}
		var r struct {
			Messages []envelope `json:"messages"`
			Cursor   string     `json:"cursor"`
			Gap      bool       `json:"gap"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			return fmt.Errorf("longpoll: bad body: %w", err)
		}
		if r.Gap {
			s.t.gap("longpoll gap")
		}
		for i := range r.Messages {
			s.t.deliver(r.Messages[i].payload())
			s.setCursor(r.Messages[i].Cursor)
		}
		s.setCursor(r.Cursor)
	}
}
