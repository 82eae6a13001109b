package transport

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-go/switchboard/internal/cors"
	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/switchboard-go/switchboard/pubsub"
)

// RESTOptions configures NewRESTHandler. The zero value (or nil) is valid.
type RESTOptions struct {
	// Prefix is the path the handler is mounted at; "" means "/topics/".
	Prefix string
	// Auth authenticates each request and authorizes it (ActionPublish for
	// POST, ActionHistory for GET).
	Auth *Auth
	// Limits: MaxMessageBytes bounds the request body (413 beyond),
	// ReadTimeout the time to receive it (408 beyond), MaxConnections the
	// requests served at once (503 with Retry-After beyond), and
	// MaxResponseBytes cuts a history page (default 4 MiB; "more": true
	// and "next" tell the client to read on).
	Limits Limits
	// CORS lets pages on other origins publish and read; nil sends no CORS
	// headers. Its AllowedOrigins are also the only foreign origins a
	// browser may POST from: other cross-origin POSTs (a form or fetch on
	// another site, which would carry the user's cookies) get 403, through
	// http.CrossOriginProtection. "*" turns that protection off.
	CORS *CORS
	// Logger receives internal errors; nil means silent.
	Logger *slog.Logger
}

// HeaderPrefix marks request headers that become message headers on POST:
// "Sb-Header-Event: update" sets the message header "event" to "update".
const HeaderPrefix = "Sb-Header-"

// PublishResponse is the JSON body answering a POST.
type PublishResponse struct {
	ID     string `json:"id"`
	Cursor string `json:"cursor,omitempty"`
	Time   string `json:"time"`
}

// HistoryResponse is the JSON body answering a GET. Messages are envelopes.
type HistoryResponse struct {
	Messages []json.RawMessage `json:"messages"`
	// Next is the cursor to pass as ?since= for the following page.
	Next string `json:"next"`
	// Gap: history no longer reaches back to since; messages may be missing.
	Gap bool `json:"gap"`
	// More: the page was cut, at the limit or at Limits.MaxResponseBytes;
	// read again from Next at once.
	More bool `json:"more"`
}

type restHandler struct {
	b     pubsub.Broker
	opts  RESTOptions
	guard *restGuard
}

// NewRESTHandler returns the plain HTTP/REST transport, mounted at
// opts.Prefix (default "/topics/"):
//
//	POST /topics/{topic...}[?retain=true]   body = payload (bytes, as is)
//	  → 200 {"id":"…","cursor":"…","time":"…"}
//	GET  /topics/{filter...}?since=CURSOR&limit=N
//	  → 200 {"messages":[envelope…],"next":"…","gap":false,"more":false}
//
// The topic is the rest of the path, percent-decoded ("%23" for '#' in a
// filter). Topics a path cannot carry (empty levels, a leading '/') go in
// the "topic" query parameter instead. Request headers "Sb-Header-<Name>"
// become message headers (lower-cased names). The request header
// Idempotency-Key (HeaderIdempotencyKey, see CheckKey) becomes the
// message's ID: a POST repeated with it within the broker's dedup window
// gets the original answer and is not delivered again, so a client may
// retry a POST whose answer it did not get. limit defaults to 100 and is
// capped at 1,000, and a page is also cut at Limits.MaxResponseBytes of
// envelopes (default 4 MiB; "more" is then true), written as a stream;
// GET needs a broker with history (501 otherwise).
// Errors are JSON bodies written by WriteError: 400 for a bad topic, filter,
// cursor, limit or idempotency key, 401/403 from Auth, 403 for a cross-origin browser POST
// from an origin CORS does not allow, 405 for other methods, 408 for a body
// not received within Limits.ReadTimeout (default 30 s), 413 for a body
// over Limits.MaxMessageBytes (default 1 MiB), 503 beyond
// Limits.MaxConnections requests at once (default 10,000).
func NewRESTHandler(b pubsub.Broker, opts *RESTOptions) http.Handler {
	h := &restHandler{b: b}
	if opts != nil {
		h.opts = *opts
	}
	if h.opts.Prefix == "" {
		h.opts.Prefix = "/topics/"
	}
	h.opts.Limits = h.opts.Limits.WithDefaults()
	h.guard = newRESTGuard(h.opts.Limits.MaxConnections, h.opts.CORS)
	return h
}

func (h *restHandler) topic(r *http.Request) (string, error) {
	if t := r.URL.Query().Get("topic"); t != "" {
		return t, nil
	}
	p := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(p, h.opts.Prefix)
	if !ok {
		return "", fmt.Errorf("%w: path %q is not under %q", ErrNotFound, p, h.opts.Prefix)
	}
	t, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("%w: topic path: %v", ErrBadRequest, err)
	}
	if t == "" {
		return "", fmt.Errorf("%w: no topic in the path (or the topic parameter)", ErrBadRequest)
	}
	return t, nil
}

// restMethods are the methods the REST handler serves.
const restMethods = "GET, HEAD, POST"

func (h *restHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.guard.enter(w) {
		return
	}
	defer h.guard.leave()
	if cors.Handle((*cors.Policy)(h.opts.CORS), w, r, restMethods) || !h.guard.checkOrigin(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		h.publish(w, r)
	case http.MethodGet, http.MethodHead:
		h.history(w, r)
	default:
		httpx.MethodNotAllowed(w, r, restMethods, h.opts.CORS != nil)
	}
}

func (h *restHandler) publish(w http.ResponseWriter, r *http.Request) {
	topic, err := h.topic(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if err := pubsub.ValidateTopic(topic); err != nil {
		WriteError(w, err)
		return
	}
	ctx, _, err := h.opts.Auth.Admit(r, "rest", ActionPublish, []string{topic})
	if err != nil {
		WriteError(w, err)
		return
	}
	data, err := readBody(w, r, h.opts.Limits)
	if err != nil {
		writeBodyError(w, err)
		return
	}
	key := r.Header.Get(HeaderIdempotencyKey)
	if err := CheckKey(key); err != nil {
		WriteError(w, err)
		return
	}
	msg := pubsub.Message{Topic: topic, Data: data, ID: key}
	for k, vs := range r.Header {
		if name, ok := cutPrefixFold(k, HeaderPrefix); ok && name != "" && len(vs) > 0 {
			if msg.Header == nil {
				msg.Header = make(map[string]string)
			}
			msg.Header[strings.ToLower(name)] = vs[0]
		}
	}
	if v := r.URL.Query().Get("retain"); v != "" {
		if msg.Retain, err = strconv.ParseBool(v); err != nil {
			WriteError(w, fmt.Errorf("%w: retain=%q is not a boolean", ErrBadRequest, v))
			return
		}
	}
	rec, err := h.b.Publish(ctx, msg)
	if err != nil {
		h.logInternal(err)
		WriteError(w, err)
		return
	}
	writeJSON(w, PublishResponse{ID: rec.ID, Cursor: rec.Cursor, Time: rec.Time.UTC().Format(time.RFC3339Nano)})
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// MaxHistoryLimit caps the limit parameter of a history read.
const MaxHistoryLimit = 1000

func (h *restHandler) history(w http.ResponseWriter, r *http.Request) {
	filter, err := h.topic(r)
	if err != nil {
		WriteError(w, err)
		return
	}
	if _, err := pubsub.ParseFilter(filter); err != nil {
		WriteError(w, err)
		return
	}
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > MaxHistoryLimit {
			WriteError(w, fmt.Errorf("%w: limit=%q: want 1 to %d", ErrBadRequest, v, MaxHistoryLimit))
			return
		}
	}
	ctx, _, err := h.opts.Auth.Admit(r, "rest", ActionHistory, []string{filter})
	if err != nil {
		WriteError(w, err)
		return
	}
	hr, ok := h.b.(pubsub.HistoryReader)
	if !ok || !h.b.Capabilities().History {
		WriteError(w, fmt.Errorf("%w: this broker keeps no history", pubsub.ErrNotSupported))
		return
	}
	page, err := hr.History(ctx, filter, pubsub.HistoryOptions{Since: q.Get("since"), Limit: limit})
	if err != nil {
		h.logInternal(err)
		WriteError(w, err)
		return
	}
	writeHistory(w, page, h.opts.Limits.MaxResponseBytes)
}

// writeHistory streams page as a HistoryResponse, cut after the last
// message that fits in budget bytes (0: no bound): one envelope at a time
// goes through memory, never the whole body.
func writeHistory(w http.ResponseWriter, page pubsub.HistoryPage, budget int64) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"messages":[`)
	pw := wire.PageWriter{W: w, Budget: budget}
	next, more := page.Next, page.More
	for _, m := range page.Messages {
		if !pw.Add(m) {
			if pw.Err() != nil {
				return // the client left
			}
			next, more = page.Messages[pw.Count()-1].Cursor, true
			break
		}
	}
	b := append(make([]byte, 0, 128), `],"next":`...)
	b = wire.AppendJSONString(b, next)
	b = append(b, `,"gap":`...)
	b = strconv.AppendBool(b, page.Gap)
	b = append(b, `,"more":`...)
	b = strconv.AppendBool(b, more)
	b = append(b, "}\n"...)
	_, _ = w.Write(b)
}

func (h *restHandler) logInternal(err error) {
	if h.opts.Logger != nil && Code(err) == CodeInternal {
		h.opts.Logger.Error("switchboard rest: internal error", "err", err)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
