package longpoll

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard-go/switchboard/pubsub"
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

// parseRequest reads topic, cursor, timeout and limit. Errors wrap
// transport.ErrBadRequest or pubsub.ErrInvalidFilter (both 400). A
// malformed cursor is not an error here: the poll reports a gap.
func parseRequest(rawQuery string, o *Options) (request, error) {
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return request{}, fmt.Errorf("%w: query: %v", transport.ErrBadRequest, err)
	}
	topics := q["topic"]
	if len(topics) == 0 {
		return request{}, fmt.Errorf("%w: at least one topic parameter is required", transport.ErrBadRequest)
	}
	if max := o.Limits.MaxSubscriptions; max > 0 && len(topics) > max {
		return request{}, fmt.Errorf("%w: %d topic filters, at most %d per poll", transport.ErrBadRequest, len(topics), max)
	}
	r := request{cursor: q.Get("cursor"), timeout: o.DefaultTimeout, limit: o.MaxBatch}
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
		return 0, fmt.Errorf("%w: timeout %s: want seconds or a duration such as 500ms", transport.ErrBadRequest, strconv.Quote(clip(s)))
	}
	return d, nil
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}
