package graphqlsub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-go/switchboard/transport"
)

// transportWS is graphql-transport-ws, as enisdenjo/graphql-ws's
// PROTOCOL.md specifies: subscribe/next/error/complete, ping/pong
// messages, WebSocket ping frames as keep-alive, and a close code
// (44xx) for every client mistake.
type transportWS struct{}

func (transportWS) classify(m message) (wsAction, error) {
	if err := checkTransportMessage(m); err != nil {
		return actOther, err
	}
	switch m.Type {
	case msgConnectionInit:
		return actInit, nil
	case msgSubscribe:
		return actStart, nil
	case msgComplete:
		return actStop, nil
	}
	return actOther, nil
}

// other answers ping with pong (echoing an object payload) and ignores
// pong; checkTransportMessage rejected every other type.
func (transportWS) other(s *wsSession, m message) bool {
	if m.Type != msgPing {
		return true
	}
	var payload []byte
	if isObject(m.Payload) {
		payload = m.Payload
	}
	return s.send(msgPong, "", payload)
}

func (transportWS) fault(s *wsSession, f wsFault, id, msg string) bool {
	switch f {
	case faultMalformed, faultBadRequest:
		s.closeWith(closeBadRequest, "Invalid message received: "+msg)
	case faultSecondInit:
		s.closeWith(closeTooManyInitialisationReqs, "Too many initialisation requests")
	case faultRefused:
		s.closeWith(closeForbidden, "Forbidden")
	case faultNotAcked:
		s.closeWith(closeUnauthorized, "Unauthorized")
	case faultDuplicate:
		s.closeWith(closeSubscriberAlreadyExists, "Subscriber for "+id+" already exists")
	case faultTooMany:
		return s.send(msgError, id, errorsJSON(transport.CodeRateLimited, msg))
	case faultExecutor:
		return s.send(msgError, id, errorsJSON(transport.CodeInternal, "internal error"))
	case faultPanic:
		s.closeWith(closeInternalServerError, "Internal server error")
	}
	return false
}

// replaces is false: a subscribe with a running id closes with 4409.
func (transportWS) replaces() bool { return false }

// result sends each result as next, except a request error as the first
// result: a single error message with the GraphQL errors, and no complete.
func (transportWS) result(dst []byte, id string, res *Result, first bool) ([]byte, bool) {
	if first && res.isRequestError() {
		b, _ := json.Marshal(res.Errors)
		return appendMessage(dst, msgError, id, b), true
	}
	return appendResultMessage(dst, msgNext, id, res), false
}

// keepAlive pings the peer every d; a peer that does not answer within the
// next interval is disconnected.
func (transportWS) keepAlive(s *wsSession, d time.Duration) {
	s.every(d, func() bool {
		ctx, cancel := context.WithTimeout(s.ctx, d)
		err := s.c.Ping(ctx)
		cancel()
		if err != nil {
			if s.ctx.Err() == nil {
				s.h.opts.Logger.Debug("graphqlsub: ping failed", "err", err, "remote", s.r.RemoteAddr)
			}
			_ = s.c.CloseNow()
			return false
		}
		return true
	})
}

// errorsJSON returns [{"message":…,"extensions":{"code":…}}].
func errorsJSON(code, msg string) []byte {
	b, _ := json.Marshal(requestError(code, msg).Errors)
	return b
}

// errorsResult returns {"errors":[…]} with one error.
func errorsResult(code, msg string) []byte {
	b, _ := json.Marshal(requestError(code, msg))
	return b
}
