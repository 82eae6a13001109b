package longpoll

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/internal/httpstream"
	"github.com/switchboard-go/switchboard/transport"
)

// maxCursor bounds the cursor a client may send; longer is malformed.
const maxCursor = 256

// request is a parsed poll.
type request struct {
	filters []string      // valid, deduplicated, in request order
	cursor  string        // "" = start from now
	timeout time.Duration // how long to hold an empty poll; 0 answers at once
	limit   int           // messages per response
}

// parseRequest reads r's filters, cursor, timeout and limit for
// httpstream.Open.
func (h *Handler) parseRequest(r *http.Request) (request, []string, error) {
	req, err := parseRequest(r.URL.RawQuery, &h.o)
	return req, req.filters, err
}

// parseRequest reads topic, cursor, timeout and limit. Errors wrap
// transport.ErrBadRequest or pubsub.ErrInvalidFilter (both 400). A
// malformed cursor is not an error here: the poll reports a gap.
func parseRequest(rawQuery string, o *Options) (request, error) {
	q, filters, err := httpstream.Query(rawQuery, o.Limits.MaxSubscriptions, "poll")
	if err != nil {
		return request{}, err
	}
	r := request{filters: filters, cursor: q.Get("cursor"), timeout: o.Timeout, limit: o.MaxBatch}
	if q.Has("timeout") {
		d, err := parseTimeout(q.Get("timeout"))
		if err != nil {
			return request{}, err
		}
		r.timeout = min(d, o.MaxTimeout)
	}
	if q.Has("limit") {
		n, err := strconv.Atoi(q.Get("limit"))
		if err != nil || n < 1 {
			return request{}, fmt.Errorf("%w: limit must be a positive integer", transport.ErrBadRequest)
		}
		r.limit = min(n, o.MaxBatch)
	}
	return r, nil
}

// parseTimeout accepts whole seconds ("30") or a Go duration ("1.5s",
// "500ms"), 0 or more.
func parseTimeout(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%w: timeout %.32q: want seconds or a duration such as 500ms", transport.ErrBadRequest, s)
	}
	return d, nil
}
