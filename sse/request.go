package sse

import (
	"fmt"
	"net/url"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// maxLastEventID bounds the resume cursor a client may send; longer values
// are treated as malformed (a reset), never stored.
const maxLastEventID = 256

// request is a parsed subscribe request.
type request struct {
	filters []string // valid, deduplicated, in request order
	lastID  string   // resume cursor; "" for a fresh stream
	resume  bool     // the client sent a Last-Event-ID (possibly empty or malformed)
}

// parseRequest reads the topic filters and the resume cursor. header is the
// Last-Event-ID request header ("" if absent); it wins over the lastEventId
// query parameter, which only the first connection of an EventSource
// carries. Errors wrap transport.ErrBadRequest or pubsub.ErrInvalidFilter
// (both 400).
func parseRequest(rawQuery string, header []string, maxFilters int) (request, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return request{}, fmt.Errorf("%w: query: %v", transport.ErrBadRequest, err)
	}
	var r request
	topics := q["topic"]
	if len(topics) == 0 {
		return request{}, fmt.Errorf("%w: at least one topic parameter is required", transport.ErrBadRequest)
	}
	if maxFilters > 0 && len(topics) > maxFilters {
		return request{}, fmt.Errorf("%w: %d topic filters, at most %d per stream", transport.ErrBadRequest, len(topics), maxFilters)
	}
	seen := make(map[string]bool, len(topics))
	for _, t := range topics {
		if _, err := pubsub.ParseFilter(t); err != nil {
			return request{}, err
		}
		if !seen[t] {
			seen[t] = true
			r.filters = append(r.filters, t)
		}
	}
	switch {
	case len(header) > 0:
		r.lastID, r.resume = header[0], true
	case q.Has("lastEventId"):
		r.lastID, r.resume = q.Get("lastEventId"), true
	}
	if r.resume && r.lastID == "" {
		// An empty Last-Event-ID means "no position": a fresh stream.
		r.resume = false
	}
	if len(r.lastID) > maxLastEventID {
		r.lastID = "" // malformed: resume is still true, so the stream resets
	}
	return r, nil
}
