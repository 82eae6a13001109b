package ws

import (
	"bytes"
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
	// Topics marks the guide form of subscribe and unsubscribe (see the
	// package doc); nil when absent, empty but non-nil for "topics":[].
	Topics []string `json:"topics,omitempty"`
	Key    string   `json:"key,omitempty"` // publish, request: the idempotency key
	frameMessage

	payload []byte // Data, Text or DataB64, decoded
}

// frameMessage holds the message fields that client frames (publish,
// request) and server frames (message, reply) share.
type frameMessage struct {
	Topic   string            `json:"topic,omitempty"`
	Header  map[string]string `json:"header,omitempty"`
	Data    json.RawMessage   `json:"data,omitempty"`
	Text    string            `json:"text,omitempty"`
	DataB64 string            `json:"data_b64,omitempty"`
	Retain  bool              `json:"retain,omitempty"`
}

// decodeData returns the payload, from data, text or data_b64.
func (m *frameMessage) decodeData() ([]byte, error) {
	return wire.DecodeData(m.Data, m.Text, m.DataB64)
}

// frameError is a bad client frame: the id it carried (if any could be
// read) and the reason, which wraps transport.ErrBadRequest.
type frameError struct {
	id    string
	topic string // guide-form frames: the topic the error is about, if any
	err   error
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
		if t := bytes.TrimLeft(b, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			// Plain text, such as the guide's socket.send('Hello Server!').
			what := "is not JSON"
			if json.Valid(b) {
				what = "is JSON but not an object"
			}
			return clientFrame{}, badFrame("", "a frame is a JSON object with a \"type\", such as {\"type\":\"ping\"}; this text frame %s", what)
		}
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
	if f.guide() {
		return f, checkGuideFrame(&f)
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

// guide reports whether f is in the guide form: a subscribe or
// unsubscribe with topics, or a publish without an id.
func (f *clientFrame) guide() bool {
	switch f.Type {
	case typeSubscribe, typeUnsubscribe:
		return f.Topics != nil
	case typePublish:
		return f.ID == ""
	}
	return false
}

// maxGuideTopics caps the topics of one guide-form subscribe or
// unsubscribe (Limits.MaxSubscriptions caps the subscriptions).
const maxGuideTopics = 1000

// checkGuideFrame checks a guide-form frame (f.guide() is true) and, for a
// publish, decodes its payload: a JSON string in data is text, the string's
// UTF-8 bytes; any other JSON value is kept verbatim.
func checkGuideFrame(f *clientFrame) error {
	if f.Type == typePublish {
		if err := pubsub.ValidateTopic(f.Topic); err != nil {
			return &frameError{topic: safeTopic(f.Topic), err: err}
		}
		if err := transport.CheckKey(f.Key); err != nil {
			return &frameError{topic: f.Topic, err: err}
		}
		for k, v := range f.Header {
			if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
				return &frameError{topic: f.Topic, err: badFrame("", "header keys must be non-empty UTF-8, values UTF-8").err}
			}
		}
		p, err := guidePayload(f.Data, f.Text, f.DataB64)
		if err != nil {
			return &frameError{topic: f.Topic, err: err}
		}
		f.payload = p
		return nil
	}
	if f.ID != "" || f.Filter != "" || f.Group != "" {
		return badFrame("", "%s with topics is the guide form: it takes no id, filter or group", f.Type)
	}
	if len(f.Topics) > maxGuideTopics {
		return badFrame("", "at most %d topics per %s", maxGuideTopics, f.Type)
	}
	for _, t := range f.Topics {
		if _, err := pubsub.ParseFilter(t); err != nil {
			return &frameError{topic: safeTopic(t), err: err}
		}
	}
	return nil
}

// guidePayload decodes the payload of a guide-form publish.
func guidePayload(data json.RawMessage, text, b64 string) ([]byte, error) {
	if len(data) > 0 && data[0] == '"' && text == "" && b64 == "" {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("%w: data: %v", transport.ErrBadRequest, err)
		}
		return []byte(s), nil
	}
	return wire.DecodeData(data, text, b64)
}

// safeTopic is a refused topic as an error frame may quote it: clipped,
// and "" when it is not UTF-8.
func safeTopic(t string) string {
	if !utf8.ValidString(t) {
		return ""
	}
	return clip.String(t)
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
	return appendErrorAbout(dst, id, "", err)
}

// appendErrorAbout is appendErrorFrame with the topic a guide-form frame's
// error is about ("" for none).
func appendErrorAbout(dst []byte, id, topic string, err error) []byte {
	code := transport.Code(err)
	msg := err.Error()
	if code == transport.CodeInternal {
		msg = "internal error"
	}
	return appendErrorCodeAbout(dst, id, topic, code, msg)
}

func appendErrorCodeAbout(dst []byte, id, topic, code, msg string) []byte {
	dst = append(dst, `{"type":"error"`...)
	if id != "" {
		dst = append(dst, `,"id":`...)
		dst = wire.AppendJSONString(dst, id)
	}
	if topic != "" {
		dst = append(dst, `,"topic":`...)
		dst = wire.AppendJSONString(dst, topic)
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

// appendGuideFields appends the fields of a guide-form message frame after
// its type: topic, the payload as data (see appendGuideData), then id,
// cursor, time, header and retain, which the guide's client ignores and a
// resuming client uses. It depends on m alone (the handler caches it).
func appendGuideFields(dst []byte, m *pubsub.Message) []byte {
	dst = append(dst, `,"topic":`...)
	dst = wire.AppendJSONString(dst, m.Topic)
	dst = appendGuideData(dst, m.Data)
	if m.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = wire.AppendJSONString(dst, m.ID)
	}
	if m.Cursor != "" {
		dst = append(dst, `,"cursor":`...)
		dst = wire.AppendJSONString(dst, m.Cursor)
	}
	if !m.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = m.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(m.Header) > 0 {
		dst = append(dst, `,"header":`...)
		dst = wire.AppendHeader(dst, m.Header)
	}
	if m.Retain {
		dst = append(dst, `,"retain":true`...)
	}
	return dst
}

// appendGuideData appends the payload as the guide's client reads it, in
// data: a JSON payload as that JSON value, other UTF-8 text (the empty
// payload included) as a JSON string; bytes that are not UTF-8 cannot be
// a string and travel as data_b64 instead.
func appendGuideData(dst, data []byte) []byte {
	switch {
	case wire.EmbeddableJSON(data):
		dst = append(dst, `,"data":`...)
		return append(dst, data...)
	case utf8.Valid(data):
		dst = append(dst, `,"data":`...)
		return wire.AppendText(dst, data)
	}
	return wire.AppendData(dst, data) // data_b64
}

// appendTopicsFrame appends {"type":typ,"topics":[…]} (subscribed,
// unsubscribed, gap of the guide form), with the broker's head cursor when
// known.
func appendTopicsFrame(dst []byte, typ string, topics []string, cursor string) []byte {
	dst = append(dst, `{"type":`...)
	dst = wire.AppendJSONString(dst, typ)
	dst = append(dst, `,"topics":[`...)
	for i, t := range topics {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = wire.AppendJSONString(dst, t)
	}
	dst = append(dst, ']')
	if cursor != "" {
		dst = append(dst, `,"cursor":`...)
		dst = wire.AppendJSONString(dst, cursor)
	}
	return append(dst, '}')
}
