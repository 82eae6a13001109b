package grpcx

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/switchboard-go/switchboard/transport"
)

// credentials collects what a call presented: the request headers (gRPC
// metadata arrives as headers), a bearer token from Authorization, or HTTP
// Basic credentials, and the access_token query parameter of Connect GET
// requests.
func credentials(header http.Header, peer connect.Peer) transport.Credentials {
	c := transport.Credentials{Transport: "grpc", Header: header, RemoteAddr: peer.Addr}
	auth := header.Get("Authorization")
	switch {
	case len(auth) > 7 && strings.EqualFold(auth[:7], "bearer "):
		c.Token = strings.TrimSpace(auth[7:])
	case len(auth) > 6 && strings.EqualFold(auth[:6], "basic "):
		if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(auth[6:])); err == nil {
			c.Username, c.Password, _ = strings.Cut(string(b), ":")
		}
	}
	if c.Token == "" && peer.Query != nil {
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
		if !errors.Is(err, transport.ErrForbidden) && !errors.Is(err, transport.ErrUnauthenticated) {
			err = errors.Join(transport.ErrUnauthenticated, err)
		}
		return ctx, nil, h.toError(err)
	}
	return transport.WithIdentity(ctx, id), id, nil
}

// authorize runs the Authorize hook for one operation.
func (h *Handler) authorize(ctx context.Context, id *transport.Identity, act transport.Action, topic string) error {
	return h.o.Auth.Check(ctx, id, act, topic)
}
