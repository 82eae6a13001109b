package grpcx

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	"github.com/switchboard-go/switchboard/transport"
)

// credentials collects what a call presented: the request headers (gRPC
// metadata arrives as headers) with a bearer token or HTTP Basic
// credentials from Authorization, and the access_token query parameter of
// Connect GET requests, read as transport.RequestCredentials reads them.
func credentials(header http.Header, peer connect.Peer) transport.Credentials {
	c := transport.RequestCredentials(&http.Request{Header: header, RemoteAddr: peer.Addr}, "grpc")
	if c.Token == "" { // as RequestCredentials does with a URL
		c.Token = peer.Query.Get("access_token")
	}
	return c
}

// authenticate runs the Authenticate hook once per call and returns a
// context carrying the identity. The error is Unauthenticated or
// PermissionDenied.
func (h *Handler) authenticate(ctx context.Context, header http.Header, peer connect.Peer) (context.Context, *transport.Identity, error) {
	a := h.o.Auth
	if a == nil || a.Authenticate == nil {
		return ctx, nil, nil
	}
	id, err := a.Authenticate(ctx, credentials(header, peer))
	if err != nil {
		return ctx, nil, h.toError(transport.AuthenticateError(err))
	}
	return transport.WithIdentity(ctx, id), id, nil
}

// authorize runs the Authorize hook for one operation.
func (h *Handler) authorize(ctx context.Context, id *transport.Identity, act transport.Action, topic string) error {
	return h.o.Auth.Check(ctx, id, act, topic)
}

// authorizeJoin asks the Authorize hook whether id may join group (none
// asked when group is empty).
func (h *Handler) authorizeJoin(ctx context.Context, id *transport.Identity, group string) error {
	if group == "" {
		return nil
	}
	return h.o.Auth.Check(ctx, id, transport.ActionJoin, group)
}
