package sse

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/internal/backoff"
	"github.com/switchboard-go/switchboard/internal/opt"
)

// Client reads a text/event-stream the way a browser's EventSource does,
// reconnecting after the delay the server sets with retry: and sending
// Last-Event-ID so a Switchboard server resumes without loss. Unlike a
// browser it also retries 408, 429 and 5xx answers, with backoff.
//
// Set the fields before calling Run; a Client is not changed by Run and may
// run several streams at once.
type Client struct {
	// URL is the stream's address, such as
	// "http://localhost:8080/events?topic=chat/%23".
	URL string
	// HTTPClient sends the requests; nil means a client without timeout
	// (a stream is long-lived; cancel Run's context to stop it).
	HTTPClient *http.Client
	// Header is added to every request (for example Authorization).
	Header http.Header
	// LastEventID resumes the first connection after this id; "" starts
	// fresh.
	LastEventID string
	// Retry is the reconnection delay until the server sets one with
	// retry:; 0 (or negative: reconnecting cannot be off) means
	// DefaultRetry. Consecutive failed connections double it, with jitter,
	// up to MaxBackoff.
	Retry time.Duration
	// MaxBackoff caps the reconnection delay, and the server's
	// Retry-After; 0 (or negative) means DefaultMaxBackoff.
	MaxBackoff time.Duration
	// MaxEventBytes bounds a line and an event's data; 0 (or negative)
	// means DefaultMaxEventBytes.
	MaxEventBytes int
	// Logger receives a debug event per reconnection; nil is silent.
	Logger *slog.Logger
}

var streamClient = &http.Client{}

// Run streams events to fn, reconnecting until ctx is done (it returns
// ctx.Err()), fn returns an error (returned as is), or the server answers
// with a status a browser would not retry (a *StatusError) or a wrong
// Content-Type (ErrNotEventStream). fn runs on the caller's goroutine, one
// event at a time; Event.ID is the id to resume from after that event.
func (c *Client) Run(ctx context.Context, fn func(Event) error) error {
	hc := c.HTTPClient
	if hc == nil {
		hc = streamClient
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	bo := backoff.Backoff{Min: opt.OrMin(c.Retry, DefaultRetry), Max: opt.OrMin(c.MaxBackoff, DefaultMaxBackoff)}
	lastID := c.LastEventID
	failed := 0 // connections in a row that the server did not accept
	for {
		r := c.once(ctx, hc, &lastID, fn)
		if r.retry > 0 {
			bo.Min = r.retry
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case r.fatal:
			return r.err
		}
		if r.got {
			failed = 0
		}
		failed++
		wait := bo.Delay(failed)
		if r.wait > wait {
			wait = min(r.wait, bo.Max)
		}
		log.Debug("sse: reconnecting", "url", c.URL, "in", wait, "last_event_id", lastID, "err", r.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// result is how one connection ended.
type result struct {
	got   bool          // the server accepted the stream
	retry time.Duration // the server's retry: field, 0 if none
	wait  time.Duration // the server's Retry-After, 0 if none
	fatal bool          // do not reconnect: return err
	err   error
}

// once runs one connection.
func (c *Client) once(ctx context.Context, hc *http.Client, lastID *string, fn func(Event) error) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return result{fatal: true, err: err}
	}
	for k, v := range c.Header {
		req.Header[k] = append([]string(nil), v...)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-store")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return result{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		se := &StatusError{StatusCode: resp.StatusCode, Body: string(body)}
		if resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			r := result{err: se}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				r.wait = time.Duration(s) * time.Second
			}
			return r
		}
		return result{fatal: true, err: se}
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/event-stream" {
		return result{fatal: true, err: fmt.Errorf("%w: %q", ErrNotEventStream, resp.Header.Get("Content-Type"))}
	}
	er := newEventReader(resp.Body, c.MaxEventBytes)
	er.lastID, er.idBuf = *lastID, *lastID
	for {
		ev, err := er.next()
		*lastID = er.lastID
		if err != nil {
			return result{got: true, retry: er.retry, err: err}
		}
		if err := fn(ev); err != nil {
			return result{got: true, fatal: true, err: err}
		}
	}
}
