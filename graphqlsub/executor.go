package graphqlsub

import (
	"context"
	"encoding/json"
)

// Executor runs GraphQL operations for a Handler. Implementations adapt a
// GraphQL engine; graphqlsub/gophers adapts github.com/graph-gophers/graphql-go.
// The Handler calls it concurrently from many connections.
type Executor interface {
	// Execute runs a query or mutation and returns its result. A request
	// error (syntax, validation) is a Result with Errors and a nil Data.
	Execute(ctx context.Context, req *Request) *Result

	// Subscribe starts a subscription. The returned channel yields one
	// Result per event and is closed by the executor when the event stream
	// ends or ctx is done; cancelling ctx is how the Handler unsubscribes,
	// and the executor must then stop sending promptly. A request error is
	// reported as a single Result with Errors and a nil Data followed by
	// the close. The error return is for failures of the executor itself
	// (it is reported to the client as an internal error).
	Subscribe(ctx context.Context, req *Request) (<-chan *Result, error)
}

// Request is a GraphQL request: the "params" of GraphQL over HTTP and the
// payload of a graphql-transport-ws "subscribe" message.
type Request struct {
	Query         string         `json:"query"`
	OperationName string         `json:"operationName,omitempty"`
	Variables     map[string]any `json:"variables,omitempty"`
	Extensions    map[string]any `json:"extensions,omitempty"`
}

// Result is a GraphQL execution result.
//
// Data is the JSON of the "data" entry. A nil Data means the entry is absent,
// which by the GraphQL specification marks a request error (raised before
// execution began): the Handler then answers graphql-transport-ws with an
// "error" message and GraphQL over HTTP with 400 under
// application/graphql-response+json. A field error that nulls the whole
// result must set Data to the JSON literal null.
type Result struct {
	Data       json.RawMessage `json:"data,omitempty"`
	Errors     []*Error        `json:"errors,omitempty"`
	Extensions map[string]any  `json:"extensions,omitempty"`

	// enc is the result encoded, when a shared execution encoded it once
	// for all its subscribers (see Options.ShareSubscriptions).
	enc []byte
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Locations  []Location     `json:"locations,omitempty"`
	Path       []any          `json:"path,omitempty"`
	Extensions map[string]any `json:"extensions,omitempty"`
}

// Location is a line and column (both from 1) in a GraphQL document.
type Location struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// requestError returns a Result holding one request error with a code in
// its extensions.
func requestError(code, msg string) *Result {
	return &Result{Errors: []*Error{{Message: msg, Extensions: map[string]any{"code": code}}}}
}

// isRequestError reports whether r is a request error (no data entry).
func (r *Result) isRequestError() bool { return r.Data == nil && len(r.Errors) > 0 }

// appendResult appends r as JSON. Data is copied verbatim (an Executor
// produces valid JSON; re-validating it per subscriber per event was the
// largest avoidable cost under load); errors and extensions go through
// encoding/json. A result that cannot be encoded becomes an internal error.
func appendResult(dst []byte, r *Result) []byte {
	if r.enc != nil {
		return append(dst, r.enc...)
	}
	start := len(dst)
	dst = append(dst, '{')
	sep := false
	if r.Data != nil {
		dst = append(dst, `"data":`...)
		dst = append(dst, r.Data...)
		sep = true
	}
	if len(r.Errors) > 0 {
		b, err := json.Marshal(r.Errors)
		if err != nil {
			return append(dst[:start], errorsResult("internal", "internal error: result not encodable")...)
		}
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"errors":`...)
		dst = append(dst, b...)
		sep = true
	}
	if len(r.Extensions) > 0 {
		b, err := json.Marshal(r.Extensions)
		if err != nil {
			return append(dst[:start], errorsResult("internal", "internal error: result not encodable")...)
		}
		if sep {
			dst = append(dst, ',')
		}
		dst = append(dst, `"extensions":`...)
		dst = append(dst, b...)
	}
	return append(dst, '}')
}
