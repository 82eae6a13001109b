package graphqlsub

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/switchboard-go/switchboard/transport"
)

// start runs req on the executor: Subscribe for a subscription operation,
// Execute (one result) for anything else, including documents the handler
// cannot classify, so the engine reports their errors.
//
// A subscription that starts is reported to the Observer: the returned
// *opObserver (nil without one) reports its results and its end.
func (h *Handler) start(ctx context.Context, req *Request) (<-chan *Result, *opObserver, error) {
	if res := h.admit(req); res != nil {
		return closedResult(res), nil, nil
	}
	if typ, err := operationType(req.Query, req.OperationName); err == nil && typ == opSubscription {
		if share := h.opts.ShareSubscriptions; share != nil && share(ctx, req) {
			if key, ok := shareKey(ctx, req); ok {
				ch, err := h.subscribeShared(ctx, key, req)
				if err != nil {
					return nil, nil, err
				}
				return ch, h.observeOp(), nil
			}
		}
		ch, err := h.exec.Subscribe(ctx, req)
		if err != nil {
			return nil, nil, err
		}
		return ch, h.observeOp(), nil
	}
	return closedResult(h.execute(ctx, req)), nil, nil
}

// admit checks req's cost and depth before it runs: nil when it may run,
// else the request error refusing it. A document the analysis cannot read
// is refused too (the engine would refuse it as well), so that no
// document reaches the engine unmeasured.
func (h *Handler) admit(req *Request) *Result {
	if h.opts.MaxCost <= 0 && h.opts.MaxDepth <= 0 {
		return nil
	}
	cost, depth, err := queryCost(req)
	switch {
	case err != nil:
		return requestError(transport.CodeBadRequest, err.Error())
	case h.opts.MaxCost > 0 && cost > h.opts.MaxCost:
		return requestError(CodeTooCostly, fmt.Sprintf("graphqlsub: operation cost %d exceeds the limit of %d "+
			"(each field counts 1, times the limit/first/last of the lists it is under): ask for fewer items or fields", cost, h.opts.MaxCost))
	case h.opts.MaxDepth > 0 && depth > int64(h.opts.MaxDepth):
		return requestError(CodeTooCostly, fmt.Sprintf("graphqlsub: operation depth %d exceeds the limit of %d", depth, h.opts.MaxDepth))
	}
	return nil
}

// execute runs a query or mutation with the response budget in ctx, and
// replaces a result whose data is over Limits.MaxResponseBytes with an
// error.
func (h *Handler) execute(ctx context.Context, req *Request) *Result {
	max := h.opts.Limits.MaxResponseBytes
	if max > 0 {
		ctx = withResponseBudget(ctx, max)
	}
	res := h.exec.Execute(ctx, req)
	if max > 0 && int64(len(res.Data)) > max {
		return &Result{Data: json.RawMessage("null"), Errors: []*Error{{
			Message:    fmt.Sprintf("graphqlsub: result of %d bytes exceeds the limit of %d: ask for fewer items or fields", len(res.Data), max),
			Extensions: map[string]any{"code": transport.CodeTooLarge},
		}}}
	}
	return res
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
