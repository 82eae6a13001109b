package ws

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/internal/wire"

	"github.com/switchboard-go/switchboard/pubsub"
	"github.com/switchboard-go/switchboard/transport"
)

// Subprotocol is the WebSocket subprotocol of the JSON wire protocol this
// package speaks. See the package doc for its frames.
const Subprotocol = "switchboard.v1"

// Frame types of the switchboard.v1 protocol.
const (
	typeSubscribe    = "subscribe"
	typeUnsubscribe  = "unsubscribe"
	typePublish      = "publish"
	typeRequest      = "request"
	typePing         = "ping"
	typeSubscribed   = "subscribed"
	typeUnsubscribed = "unsubscribed"
	typeAck          = "ack"
	typeReply        = "reply"
	typePong         = "pong"
	typeMessage      = "message"
	typeGap          = "gap"
	typeError        = "error"
)

// maxIDLength caps the id of a client frame.
const maxIDLength = 128

// maxRequestTimeoutMS caps timeout_ms so it cannot overflow a Duration.
const maxRequestTimeoutMS = 24 * 60 * 60 * 1000

// clientFrame is a decoded client → server frame. Which fields are set
// depends on Type; decodeClientFrame checks them.
type clientFrame struct {
	Type      string `json:"type"`
	ID        string `json:"id,omitempty"`
	Filter    string `json:"filter,omitempty"`
	Since     string `json:"since,omitempty"`
	Group     string `json:"group,omitempty"`
	TimeoutMS int64  `json:"timeout_ms,omitempty"`
	Key       string `json:"key,omitempty"` // publish, request: the idempotency key
	frameMessage

	payload []byte // Data or DataB64, decoded
}

// frameMessage holds the message fields that client frames (publish,
// request) and server frames (message, reply) share.
type frameMessage struct {
	Topic   string            `json:"topic,omitempty"`
	Header  map[string]string `json:"header,omitempty"`
	Data    json.RawMessage   `json:"data,omitempty"`
	DataB64 string            `json:"data_b64,omitempty"`
	Retain  bool              `json:"retain,omitempty"`
}

// decodeData returns the payload, from data or data_b64.
func (m *frameMessage) decodeData() ([]byte, error) { return wire.DecodeData(m.Data, m.DataB64) }

// frameError is a bad client frame: the id it carried (if any could be
// read) and the reason, which wraps transport.ErrBadRequest.
type frameError struct {
	id  string
	err error
}

func (e *frameError) Error() string { return e.err.Error() }
func (e *frameError) Unwrap() error { return e.err }

func badFrame(id string, format string, args ...any) *frameError {
	return &frameError{id: id, err: fmt.Errorf("%w: %s", transport.ErrBadRequest, fmt.Sprintf(format, args...))}
}

// decodeClientFrame parses and checks one client frame. It never panics;
// errors are *frameError.
func decodeClientFrame(b []byte) (clientFrame, error) {
	var f clientFrame
	err := wire.CheckText(b) // json.Unmarshal would turn broken text into U+FFFD
	if err == nil {
		err = json.Unmarshal(b, &f)
	}
	if err != nil {
		// Recover the id when only a field value is wrong, so the client
		// can match the error to its frame.
		var idOnly struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(b, &idOnly)
		return clientFrame{}, badFrame(safeID(idOnly.ID), "malformed frame: %v", err)
	}
	id := f.ID
	if len(id) > maxIDLength || !utf8.ValidString(id) {
		return clientFrame{}, badFrame("", "id must be at most %d bytes of UTF-8", maxIDLength)
	}
	switch f.Type {
	case typePing:
		return f, nil
	case typeSubscribe:
		if id == "" {
			return f, badFrame("", "subscribe needs an id")
		}
		if _, err := pubsub.ParseFilter(f.Filter); err != nil {
			return f, &frameError{id: id, err: err}
		}
	case typeUnsubscribe:
		if id == "" {
			return f, badFrame("", "unsubscribe needs an id")
		}
	case typePublish, typeRequest:
		if id == "" {
			return f, badFrame("", "%s needs an id", f.Type)
		}
		if err := pubsub.ValidateTopic(f.Topic); err != nil {
			return f, &frameError{id: id, err: err}
		}
		if err := transport.CheckKey(f.Key); err != nil {
			return f, &frameError{id: id, err: err}
		}
		if f.TimeoutMS < 0 || f.TimeoutMS > maxRequestTimeoutMS {
			return f, badFrame(id, "timeout_ms must be between 0 and %d", maxRequestTimeoutMS)
		}
		for k, v := range f.Header {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				return f, badFrame(id, "header keys must be non-empty UTF-8, values UTF-8")
			}
		}
		p, err := f.decodeData()
		if err != nil {
			return f, &frameError{id: id, err: err}
		}
		f.payload = p
	case "":
		return f, badFrame(id, "frame has no type")
	default:
		return f, badFrame(id, "unknown frame type %s", strconv.Quote(clip.String(f.Type)))
	}
	return f, nil
}

func safeID(id string) string {
	if len(id) > maxIDLength || !utf8.ValidString(id) {
		return ""
	}
	return id
}

// appendEnvelopeFields appends the fields of m's transport envelope
// (without its braces), preceded by a comma.
func appendEnvelopeFields(dst []byte, m *pubsub.Message) []byte {
	dst = append(dst, ',')
	start := len(dst)
	dst = wire.AppendEnvelope(dst, m)
	// Drop the envelope's opening brace and closing brace: the fields
	// join the frame object. The memmove keeps the encoder allocation-free.
	copy(dst[start:], dst[start+1:])
	return dst[:len(dst)-2]
}

// appendMessageFrame appends a message frame for the subscription whose
// JSON-quoted id is subJSON.
func appendMessageFrame(dst []byte, subJSON string, m *pubsub.Message) []byte {
	dst = append(dst, `{"type":"message","sub":`...)
	dst = append(dst, subJSON...)
	dst = appendEnvelopeFields(dst, m)
	return append(dst, '}')
}

// appendReplyFrame appends the reply to request id: the reply message's
// envelope without its message id (the frame's id is the request's).
func appendReplyFrame(dst []byte, id string, m *pubsub.Message) []byte {
	dst = append(dst, `{"type":"reply","id":`...)
	dst = wire.AppendJSONString(dst, id)
	r := *m
	r.ID = ""
	dst = appendEnvelopeFields(dst, &r)
	return append(dst, '}')
}

func appendAckFrame(dst []byte, id string, r pubsub.Receipt) []byte {
	dst = append(dst, `{"type":"ack","id":`...)
	dst = wire.AppendJSONString(dst, id)
	if r.ID != "" {
		dst = append(dst, `,"message_id":`...)
		dst = wire.AppendJSONString(dst, r.ID)
	}
	if r.Cursor != "" {
		dst = append(dst, `,"cursor":`...)
		dst = wire.AppendJSONString(dst, r.Cursor)
	}
	if !r.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = r.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

// appendSubscribedFrame appends {"type":"subscribed","id":id} with the
// broker's head cursor when known.
func appendSubscribedFrame(dst []byte, id, cursor string) []byte {
	dst = append(dst, `{"type":"subscribed","id":`...)
	dst = wire.AppendJSONString(dst, id)
	if cursor != "" {
		dst = append(dst, `,"cursor":`...)
		dst = wire.AppendJSONString(dst, cursor)
	}
	return append(dst, '}')
}

// appendIDFrame appends {"type":typ,"id":id} (or {"type":typ} without id,
// or {"type":typ,"sub":id} when key is "sub").
func appendIDFrame(dst []byte, typ, key, id string) []byte {
	dst = append(dst, `{"type":`...)
	dst = wire.AppendJSONString(dst, typ)
	if id != "" {
		dst = append(dst, ',', '"')
		dst = append(dst, key...)
		dst = append(dst, '"', ':')
		dst = wire.AppendJSONString(dst, id)
	}
	return append(dst, '}')
}

// appendErrorFrame appends an error frame for err (the code from
// transport.Code). Internal errors do not leak their text.
func appendErrorFrame(dst []byte, id string, err error) []byte {
	code := transport.Code(err)
	msg := err.Error()
	if code == transport.CodeInternal {
		msg = "internal error"
	}
	return appendErrorCode(dst, id, code, msg)
}

func appendErrorCode(dst []byte, id, code, msg string) []byte {
	dst = append(dst, `{"type":"error"`...)
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = wire.AppendJSONString(dst, id)
	}
	dst = append(dst, `,"code":`...)
	dst = wire.AppendJSONString(dst, code)
	dst = append(dst, `,"message":`...)
	dst = wire.AppendJSONString(dst, msg)
	return append(dst, '}')
}

// serverFrame is a decoded server → client frame (the Go client's view).
type serverFrame struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	Sub       string `json:"sub"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	MessageID string `json:"message_id"`
	Cursor    string `json:"cursor"`
	Time      string `json:"time"`
	frameMessage
}

// decodeServerFrame parses one server frame. It never panics; errors wrap
// transport.ErrBadRequest.
func decodeServerFrame(b []byte) (serverFrame, error) {
	var f serverFrame
	if err := json.Unmarshal(b, &f); err != nil {
		return serverFrame{}, fmt.Errorf("%w: malformed server frame: %v", transport.ErrBadRequest, err)
	}
	if f.Type == "" {
		return serverFrame{}, fmt.Errorf("%w: server frame has no type", transport.ErrBadRequest)
	}
	return f, nil
}

// message returns the message carried by a message or reply frame.
func (f *serverFrame) message() (*pubsub.Message, error) {
	data, err := f.decodeData()
	if err != nil {
		return nil, err
	}
	m := &pubsub.Message{Topic: f.Topic, Cursor: f.Cursor, Header: f.Header, Data: data, Retain: f.Retain}
	if f.Type == typeMessage {
		m.ID = f.ID
	}
	if f.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, f.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: frame time %s", transport.ErrBadRequest, strconv.Quote(clip.String(f.Time)))
		}
		m.Time = t
	}
	return m, nil
}

// appendClientFrame encodes a client frame (the Go client's side).
func appendClientFrame(dst []byte, f *clientFrame) []byte {
	dst = append(dst, `{"type":`...)
	dst = wire.AppendJSONString(dst, f.Type)
	field := func(k, v string) {
		if v != "" {
			dst = append(dst, ',', '"')
			dst = append(dst, k...)
			dst = append(dst, '"', ':')
			dst = wire.AppendJSONString(dst, v)
		}
	}
	field("id", f.ID)
	field("filter", f.Filter)
	field("since", f.Since)
	field("group", f.Group)
	field("topic", f.Topic)
	field("key", f.Key)
	if len(f.Header) > 0 {
		dst = append(dst, `,"header":`...)
		dst = wire.AppendHeader(dst, f.Header)
	}
	dst = wire.AppendData(dst, f.payload)
	if f.Retain {
		dst = append(dst, `,"retain":true`...)
	}
	if f.TimeoutMS > 0 {
		dst = append(dst, `,"timeout_ms":`...)
		dst = strconv.AppendInt(dst, f.TimeoutMS, 10)
	}
	return append(dst, '}')
}
