package graphqlsub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/internal/wire"
)

// Message types of graphql-transport-ws and of the legacy graphql-ws
// (subscriptions-transport-ws) protocol.
const (
	msgConnectionInit      = "connection_init"
	msgConnectionAck       = "connection_ack"
	msgPing                = "ping"
	msgPong                = "pong"
	msgSubscribe           = "subscribe"
	msgNext                = "next"
	msgError               = "error"
	msgComplete            = "complete"
	msgConnectionError     = "connection_error"     // legacy
	msgKeepAlive           = "ka"                   // legacy
	msgStart               = "start"                // legacy
	msgData                = "data"                 // legacy
	msgStop                = "stop"                 // legacy
	msgConnectionTerminate = "connection_terminate" // legacy
)

// errMessage marks a malformed WebSocket message.
var errMessage = errors.New("invalid message")

// message is a decoded WebSocket message of either protocol.
type message struct {
	Type    string
	ID      string
	HasID   bool
	Payload json.RawMessage // nil when absent; "null" when null
}

// rawMessage is the JSON shape; fields are raw so that their JSON types can
// be checked as strictly as graphql-ws's validateMessage does.
type rawMessage struct {
	Type    json.RawMessage `json:"type"`
	ID      json.RawMessage `json:"id"`
	Payload json.RawMessage `json:"payload"`
}

// parseMessage decodes one WebSocket text message and checks the fields
// every message type needs: "type" is a string; "id", where present, is a
// string. Per-type payload checks happen in checkTransportMessage and
// parseRequest. Errors wrap errMessage and are short enough for a close
// reason.
func parseMessage(b []byte) (message, error) {
	if err := wire.CheckText(b); err != nil { // json.Unmarshal would make it U+FFFD
		return message{}, fmt.Errorf("%w: %v", errMessage, err)
	}
	var raw rawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return message{}, fmt.Errorf("%w: not a JSON object", errMessage)
	}
	var m message
	if err := json.Unmarshal(raw.Type, &m.Type); err != nil || raw.Type == nil {
		return message{}, fmt.Errorf("%w: missing the 'type' property", errMessage)
	}
	if raw.ID != nil && !isNull(raw.ID) {
		if err := json.Unmarshal(raw.ID, &m.ID); err != nil {
			return message{}, fmt.Errorf("%w: the 'id' property must be a string", errMessage)
		}
		m.HasID = true
	}
	m.Payload = raw.Payload
	return m, nil
}

func isNull(b json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }

// isObject reports whether b is a JSON object.
func isObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{'
}

// checkTransportMessage applies graphql-transport-ws's rules for the payload
// and id of each type a client may send. Unknown types are errors.
func checkTransportMessage(m message) error {
	switch m.Type {
	case msgConnectionInit, msgPing, msgPong:
		if m.Payload != nil && !isNull(m.Payload) && !isObject(m.Payload) {
			return fmt.Errorf("%w: %q payload must be an object", errMessage, m.Type)
		}
	case msgSubscribe:
		if !m.HasID || m.ID == "" {
			return fmt.Errorf("%w: %q must have a non-empty 'id'", errMessage, m.Type)
		}
	case msgComplete:
		if !m.HasID || m.ID == "" {
			return fmt.Errorf("%w: %q must have a non-empty 'id'", errMessage, m.Type)
		}
	case msgNext, msgError, msgConnectionAck:
		return fmt.Errorf("%w: unexpected message of type %q", errMessage, clip.String(m.Type))
	default:
		return fmt.Errorf("%w: unknown message type %q", errMessage, clip.String(m.Type))
	}
	return nil
}

// parseRequest decodes a subscribe/start payload: an object with a string
// "query" and optional "operationName" (string or null), "variables" and
// "extensions" (objects or null).
func parseRequest(payload json.RawMessage) (*Request, error) {
	if !isObject(payload) {
		return nil, fmt.Errorf("%w: payload must be an object", errMessage)
	}
	var raw struct {
		Query         json.RawMessage `json:"query"`
		OperationName json.RawMessage `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("%w: payload must be an object", errMessage)
	}
	var req Request
	if raw.Query == nil || json.Unmarshal(raw.Query, &req.Query) != nil || isNull(raw.Query) {
		return nil, fmt.Errorf("%w: payload 'query' must be a string", errMessage)
	}
	if raw.OperationName != nil && !isNull(raw.OperationName) {
		if json.Unmarshal(raw.OperationName, &req.OperationName) != nil {
			return nil, fmt.Errorf("%w: payload 'operationName' must be a string or null", errMessage)
		}
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *map[string]any
	}{{"variables", raw.Variables, &req.Variables}, {"extensions", raw.Extensions, &req.Extensions}} {
		if f.raw == nil || isNull(f.raw) {
			continue
		}
		if !isObject(f.raw) || json.Unmarshal(f.raw, f.dst) != nil {
			return nil, fmt.Errorf("%w: payload '%s' must be an object or null", errMessage, f.name)
		}
	}
	return &req, nil
}

// payloadObject decodes a connection_init payload (an object, null or
// absent) into a map; nil for null or absent.
func payloadObject(p json.RawMessage) (map[string]any, error) {
	if p == nil || isNull(p) {
		return nil, nil
	}
	var m map[string]any
	if !isObject(p) || json.Unmarshal(p, &m) != nil {
		return nil, fmt.Errorf("%w: payload must be an object", errMessage)
	}
	return m, nil
}

// appendMessage appends {"type":…,"id":…,"payload":…} to dst; id and
// payload are left out when empty.
func appendMessage(dst []byte, typ, id string, payload []byte) []byte {
	dst = appendMessageStart(dst, typ, id)
	if len(payload) > 0 {
		dst = append(dst, `,"payload":`...)
		dst = append(dst, payload...)
	}
	return append(dst, '}')
}

// appendResultMessage appends a message whose payload is r.
func appendResultMessage(dst []byte, typ, id string, r *Result) []byte {
	dst = appendMessageStart(dst, typ, id)
	dst = append(dst, `,"payload":`...)
	dst = appendResult(dst, r)
	return append(dst, '}')
}

func appendMessageStart(dst []byte, typ, id string) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, '"')
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = wire.AppendJSONString(dst, id)
	}
	return dst
}
