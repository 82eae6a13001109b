package sse

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/transport"

	"github.com/switchboard-go/switchboard/internal/httpstream"
)

// maxLastEventID bounds the resume cursor a client may send; longer values
// are treated as malformed (a reset), never stored.
const maxLastEventID = 256

// request is a parsed subscribe request.
type request struct {
	filters []string // valid, deduplicated, in request order
	lastID  string   // resume cursor; "" for a fresh stream
	resume  bool     // the client sent a Last-Event-ID (possibly empty or malformed)
	format  Format   // what the data lines carry
}

// parseRequest reads r's filters and resume cursor for httpstream.Open.
func (h *Handler) parseRequest(r *http.Request) (request, []string, error) {
	req, err := parseRequest(r.URL.RawQuery, r.Header.Values("Last-Event-ID"), h.o.Limits.MaxSubscriptions)
	if err != nil {
		return req, nil, err
	}
	req.format, err = parseFormat(r.URL.Query().Get("format"), h.o.Format)
	return req, req.filters, err
}

// parseFormat reads the format query parameter: "data", "envelope", or
// absent for the handler's own (def).
func parseFormat(s string, def Format) (Format, error) {
	switch s {
	case "":
		return def, nil
	case "data":
		return FormatData, nil
	case "envelope":
		return FormatEnvelope, nil
	}
	return def, fmt.Errorf("%w: format %s: want data or envelope", transport.ErrBadRequest, strconv.Quote(clip.String(s)))
}

// parseRequest reads the topic filters and the resume cursor. header is the
// Last-Event-ID request header ("" if absent); it wins over the lastEventId
// query parameter, which only the first connection of an EventSource
// carries. Errors wrap transport.ErrBadRequest or pubsub.ErrInvalidFilter
// (both 400).
func parseRequest(rawQuery string, header []string, maxFilters int) (request, error) {
	q, filters, err := httpstream.Query(rawQuery, maxFilters, "stream")
	if err != nil {
		return request{}, err
	}
	r := request{filters: filters}
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
