package graphqlsub

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/coder/websocket"
)

// legacyWS is the legacy graphql-ws subprotocol
// (subscriptions-transport-ws): "start"/"stop", results in "data", "ka"
// keep-alive messages, "connection_error" for malformed messages (which do
// not end the connection), and close code 1011 after a refused
// connection_init.
type legacyWS struct{}

// errStartID is the reference server's answer to a start without an id.
var errStartID = errors.New("start needs an id")

func (legacyWS) classify(m message) (wsAction, error) {
	switch m.Type {
	case msgConnectionInit:
		return actInit, nil
	case msgStart:
		if !m.HasID || m.ID == "" {
			return actOther, errStartID
		}
		return actStart, nil
	case msgStop:
		return actStop, nil
	}
	return actOther, nil
}

// other closes with 1000 on connection_terminate and answers an unknown
// type with an error for its id.
func (legacyWS) other(s *wsSession, m message) bool {
	if m.Type == msgConnectionTerminate {
		s.closeWith(websocket.StatusNormalClosure, "")
		return false
	}
	return s.send(msgError, m.ID, legacyError("Invalid message type!"))
}

func (legacyWS) fault(s *wsSession, f wsFault, id, msg string) bool {
	switch f {
	case faultMalformed:
		return s.send(msgConnectionError, "", legacyError(msg))
	case faultSecondInit:
		return s.send(msgConnectionError, "", legacyError("connection_init sent twice"))
	case faultRefused:
		if msg == "" {
			msg = "Prohibited connection!" // the reference server's answer
		}
		_ = s.send(msgConnectionError, "", legacyError(msg))
		s.closeWith(websocket.StatusInternalError, "Prohibited connection")
		return false
	case faultNotAcked:
		return s.send(msgError, id, legacyError("connection_init must come first"))
	case faultBadRequest, faultTooMany:
		return s.send(msgError, id, legacyError(msg))
	case faultExecutor:
		return s.send(msgError, id, legacyError("internal error"))
	case faultPanic:
		s.closeWith(websocket.StatusInternalError, "Internal server error")
	}
	return false // faultDuplicate is not reached: start replaces
}

// replaces is true: the legacy server replaces an operation with the same
// id.
func (legacyWS) replaces() bool { return true }

// result sends every result, request errors included, as "data", as
// subscriptions-transport-ws's server does; complete follows.
func (legacyWS) result(dst []byte, id string, res *Result, _ bool) ([]byte, bool) {
	return appendResultMessage(dst, msgData, id, res), false
}

// keepAlive sends "ka" right after the ack and every d.
func (legacyWS) keepAlive(s *wsSession, d time.Duration) {
	select {
	case <-s.acked:
	case <-s.ctx.Done():
		return
	}
	ka := appendMessage(nil, msgKeepAlive, "", nil)
	if s.write(ka) != nil {
		return
	}
	s.every(d, func() bool { return s.write(ka) == nil })
}

// legacyError returns the payload {"message":…}.
func legacyError(msg string) []byte {
	b, _ := json.Marshal(map[string]string{"message": msg})
	return b
}
