package graphqlsub

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/switchboard-go/switchboard/internal/httpx"
	"github.com/switchboard-go/switchboard/internal/wire"
	"github.com/switchboard-go/switchboard/transport"
)

// Media types of GraphQL over HTTP.
const (
	mediaGraphQLResponse = "application/graphql-response+json"
	mediaJSON            = "application/json"
	mediaEventStream     = "text/event-stream"
)

var (
	// errUnsupportedMedia marks a POST body that is not application/json.
	errUnsupportedMedia = errors.New("unsupported media type")
	// errBodyTimeout marks a POST body not received within
	// Limits.ReadTimeout (408, and the connection is closed).
	errBodyTimeout = errors.New("request timeout")
)

// serveHTTP answers a query or mutation (GraphQL over HTTP): POST with a
// JSON body, or GET with query parameters (queries only).
func (h *Handler) serveHTTP(w http.ResponseWriter, r *http.Request) {
	media, ok := responseMedia(r.Header.Get("Accept"))
	if !ok {
		writeErrorBody(w, mediaJSON, http.StatusNotAcceptable, transport.CodeBadRequest,
			"Accept must allow "+mediaGraphQLResponse+" or "+mediaJSON)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		writeErrorBody(w, media, http.StatusMethodNotAllowed, transport.CodeMethodNotAllowed, "method not allowed: use GET or POST")
		return
	}
	req, err := h.readRequest(w, r)
	if err != nil {
		writeRequestError(w, media, err)
		return
	}
	ctx, _, err := h.opts.Auth.AuthenticateRequest(r, "graphql")
	if err != nil {
		writeAuthError(w, media, err)
		return
	}
	typ, terr := operationType(req.Query, req.OperationName)
	switch {
	case terr == nil && typ == opMutation && r.Method == http.MethodGet:
		w.Header().Set("Allow", "POST")
		writeErrorBody(w, media, http.StatusMethodNotAllowed, transport.CodeMethodNotAllowed, "mutations need POST")
		return
	case terr == nil && typ == opSubscription:
		writeErrorBody(w, media, http.StatusBadRequest, transport.CodeBadRequest,
			"subscriptions need a WebSocket (graphql-transport-ws) or Accept: text/event-stream")
		return
	}
	res := h.admit(req)
	if res == nil {
		res = h.execute(ctx, req)
	}
	status := http.StatusOK
	if media == mediaGraphQLResponse && res.isRequestError() {
		status = http.StatusBadRequest
	}
	b, err := json.Marshal(res)
	if err != nil {
		h.opts.Logger.Warn("graphqlsub: result not encodable", "err", err)
		writeErrorBody(w, media, http.StatusInternalServerError, transport.CodeInternal, "internal error")
		return
	}
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// readRequest decodes the GraphQL request parameters of an HTTP request:
// the JSON body of a POST, the query string of a GET.
func (h *Handler) readRequest(w http.ResponseWriter, r *http.Request) (*Request, error) {
	if r.Method == http.MethodGet {
		return requestFromQuery(r.URL.Query())
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != mediaJSON {
		return nil, fmt.Errorf("%w: POST needs Content-Type: application/json", errUnsupportedMedia)
	}
	b, err := httpx.ReadBody(w, r, h.opts.Limits.MaxMessageBytes, h.opts.Limits.ReadTimeout)
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, fmt.Errorf("%w: request body exceeds %d bytes", transport.ErrTooLarge, mbe.Limit)
		case httpx.IsTimeout(err):
			return nil, fmt.Errorf("%w: request body not received within %s", errBodyTimeout, h.opts.Limits.ReadTimeout)
		}
		return nil, fmt.Errorf("%w: failed to read the body", transport.ErrBadRequest)
	}
	if err := wire.CheckText(b); err != nil { // json.Unmarshal would make it U+FFFD
		return nil, err
	}
	req, err := parseRequest(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", transport.ErrBadRequest, strings.TrimPrefix(err.Error(), errMessage.Error()+": "))
	}
	return req, nil
}

// requestFromQuery decodes the query, operationName, variables and
// extensions parameters of a GET request.
func requestFromQuery(q map[string][]string) (*Request, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req := &Request{Query: get("query"), OperationName: get("operationName")}
	if req.Query == "" {
		return nil, fmt.Errorf("%w: the query parameter is required", transport.ErrBadRequest)
	}
	for _, f := range []struct {
		name string
		dst  *map[string]any
	}{{"variables", &req.Variables}, {"extensions", &req.Extensions}} {
		v := get(f.name)
		if v == "" || v == "null" {
			continue
		}
		if !isObject(json.RawMessage(v)) || json.Unmarshal([]byte(v), f.dst) != nil {
			return nil, fmt.Errorf("%w: the %s parameter must be a JSON object", transport.ErrBadRequest, f.name)
		}
	}
	return req, nil
}

// responseMedia picks the response media type from an Accept header:
// application/graphql-response+json when listed, else application/json
// (also for an absent Accept or a wildcard); ok is false when the client
// accepts neither.
func responseMedia(accept string) (media string, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return mediaJSON, true
	}
	jsonOK := false
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse, true
		case mediaJSON, "*/*", "application/*":
			jsonOK = true
		}
	}
	return mediaJSON, jsonOK
}

// acceptsEventStream reports whether the client asks for GraphQL over SSE.
func acceptsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for _, part := range strings.Split(v, ",") {
			if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == mediaEventStream {
				return true
			}
		}
	}
	return false
}

// writeRequestError answers a request whose parameters could not be read.
func writeRequestError(w http.ResponseWriter, media string, err error) {
	switch {
	case errors.Is(err, errUnsupportedMedia):
		writeErrorBody(w, media, http.StatusUnsupportedMediaType, transport.CodeBadRequest, err.Error())
	case errors.Is(err, errBodyTimeout): // the connection is closed after it (HTTP/1)
		writeErrorBody(w, media, http.StatusRequestTimeout, transport.CodeTimeout, err.Error())
	default:
		writeErrorBody(w, media, transport.HTTPStatus(err), transport.Code(err), err.Error())
	}
}

// writeErrorBody writes {"errors":[{"message":…,"extensions":{"code":…}}]}.
func writeErrorBody(w http.ResponseWriter, media string, status int, code, msg string) {
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(errorsResult(code, msg))
}

// writeAuthError answers a refused authentication with 401 (and
// WWW-Authenticate) or 403.
func writeAuthError(w http.ResponseWriter, media string, err error) {
	if transport.Code(err) == transport.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
	}
	if d, ok := transport.RetryAfter(err); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10))
	}
	writeErrorBody(w, media, transport.HTTPStatus(err), transport.Code(err), err.Error())
}
