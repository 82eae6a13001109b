package wire

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/switchboard-go/switchboard/pubsub"
)

// EmbeddableJSON reports whether data can travel verbatim as a JSON value:
// valid UTF-8 JSON that neither starts nor ends with whitespace (decoders
// drop surrounding whitespace, which would change the bytes) and holds no
// carriage return (line-based framings such as SSE turn CR and CRLF into LF).
func EmbeddableJSON(data []byte) bool {
	if len(data) == 0 || isSpace(data[0]) || isSpace(data[len(data)-1]) || bytes.IndexByte(data, '\r') >= 0 {
		return false
	}
	return utf8.Valid(data) && json.Valid(data)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// AppendEnvelope appends the JSON envelope of m to dst and returns the
// extended buffer.
func AppendEnvelope(dst []byte, m *pubsub.Message) []byte {
	dst = append(dst, `{"topic":`...)
	dst = AppendJSONString(dst, m.Topic)
	if m.ID != "" {
		dst = append(dst, `,"id":`...)
		dst = AppendJSONString(dst, m.ID)
	}
	if m.Cursor != "" {
		dst = append(dst, `,"cursor":`...)
		dst = AppendJSONString(dst, m.Cursor)
	}
	if !m.Time.IsZero() {
		dst = append(dst, `,"time":"`...)
		dst = m.Time.UTC().AppendFormat(dst, time.RFC3339Nano)
		dst = append(dst, '"')
	}
	if len(m.Header) > 0 {
		dst = append(dst, `,"header":`...)
		dst = AppendHeader(dst, m.Header)
	}
	dst = AppendData(dst, m.Data)
	if m.Retain {
		dst = append(dst, `,"retain":true`...)
	}
	return append(dst, '}')
}

// AppendData appends `,"data":<payload>` or `,"data_b64":"…"` (nothing for
// an empty payload), the rule every transport uses for payloads.
func AppendData(dst, data []byte) []byte {
	switch {
	case len(data) == 0:
		return dst
	case EmbeddableJSON(data):
		dst = append(dst, `,"data":`...)
		return append(dst, data...)
	default:
		dst = append(dst, `,"data_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, '"')
	}
}

// AppendHeader appends a header map as a JSON object, keys sorted.
func AppendHeader(dst []byte, h map[string]string) []byte {
	b, _ := json.Marshal(h) // sorted keys; strings never fail
	return append(dst, b...)
}

// AppendJSONString appends s as a JSON string, without allocating when s
// is printable ASCII with nothing to escape.
func AppendJSONString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// DecodeData returns the payload of an envelope's data or data_b64 field;
// setting both is an error wrapping ErrBadRequest. A JSON null data is the
// four bytes "null".
func DecodeData(data json.RawMessage, b64 string) ([]byte, error) {
	if len(data) > 0 && b64 != "" {
		return nil, fmt.Errorf("%w: both data and data_b64 are set", ErrBadRequest)
	}
	if b64 != "" {
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%w: data_b64: %v", ErrBadRequest, err)
		}
		return d, nil
	}
	if len(data) == 0 {
		return nil, nil
	}
	return append([]byte(nil), data...), nil
}
