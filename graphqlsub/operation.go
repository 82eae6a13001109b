package graphqlsub

import (
	"context"
	"net/http"
	"strings"

	"github.com/switchboard-go/switchboard/transport"
)

// start runs req on the executor: Subscribe for a subscription operation,
// Execute (one result) for anything else, including documents the handler
// cannot classify, so the engine reports their errors.
func (h *Handler) start(ctx context.Context, req *Request) (<-chan *Result, error) {
	if typ, err := operationType(req.Query, req.OperationName); err == nil && typ == opSubscription {
		return h.exec.Subscribe(ctx, req)
	}
	return closedResult(h.exec.Execute(ctx, req)), nil
}

// closedResult returns a closed channel holding res.
func closedResult(res *Result) <-chan *Result {
	ch := make(chan *Result, 1)
	ch <- res
	close(ch)
	return ch
}

// authenticate runs the Auth hook for a WebSocket connection_init: the
// upgrade request's credentials, with the payload attached and its "token"
// (or "Authorization: Bearer …") taking precedence.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, payload map[string]any) (*transport.Identity, error) {
	a := h.opts.Auth
	if a == nil || a.Authenticate == nil {
		return nil, nil
	}
	c := transport.RequestCredentials(r, "graphql")
	c.Payload = payload
	if tok := payloadToken(payload); tok != "" {
		c.Token = tok
	}
	return a.Authenticate(ctx, c)
}

// payloadToken finds a bearer token in a connection_init payload: "token",
// or an "Authorization"/"authorization" value "Bearer …".
func payloadToken(p map[string]any) string {
	if s, ok := p["token"].(string); ok && s != "" {
		return s
	}
	for _, k := range []string{"Authorization", "authorization"} {
		if s, ok := p[k].(string); ok && len(s) > 7 && strings.EqualFold(s[:7], "bearer ") {
			return strings.TrimSpace(s[7:])
		}
	}
	return ""
}
