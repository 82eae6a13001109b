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

// AppendData appends the payload field of an envelope, the one rule every
// transport uses (nothing for an empty payload):
//
//   - `,"data":<payload>` when the payload is JSON that can travel verbatim
//     (EmbeddableJSON);
//   - `,"text":"<payload>"` when it is other valid UTF-8: the payload as a
//     JSON string, escaped so that decoding it gives back the same bytes;
//   - `,"data_b64":"<base64>"` (standard, padded) for anything else.
func AppendData(dst, data []byte) []byte {
	switch {
	case len(data) == 0:
		return dst
	case EmbeddableJSON(data):
		dst = append(dst, `,"data":`...)
		return append(dst, data...)
	case utf8.Valid(data):
		dst = append(dst, `,"text":`...)
		return AppendText(dst, data)
	default:
		dst = append(dst, `,"data_b64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, data)
		return append(dst, '"')
	}
}

// AppendText appends valid UTF-8 text as a JSON string without allocating:
// '"', '\\' and the control characters below U+0020 are escaped (\n, \r,
// \t, else \u00XX), U+2028 and U+2029 too (so the JSON is also a valid
// JavaScript literal), everything else is copied. Decoding the string gives
// back text byte for byte. Text that is not valid UTF-8 must not be passed
// (AppendJSONString handles any string).
func AppendText(dst, text []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(text); {
		c := text[i]
		if c >= 0x20 && c != '"' && c != '\\' && c != 0xE2 {
			i++
			continue
		}
		if c == 0xE2 { // U+2028 and U+2029 are E2 80 A8 and E2 80 A9
			if i+2 < len(text) && text[i+1] == 0x80 && (text[i+2] == 0xA8 || text[i+2] == 0xA9) {
				dst = append(dst, text[start:i]...)
				dst = append(dst, `\u202`...)
				dst = append(dst, "89"[text[i+2]-0xA8])
				i += 3
				start = i
				continue
			}
			i++
			continue
		}
		dst = append(dst, text[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, text[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

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

// DecodeData returns the payload of an envelope's payload fields, of which
// at most one may be set: data (JSON, kept verbatim; a JSON null is the four
// bytes "null"), text (the string's UTF-8 bytes) or data_b64 (standard,
// padded base64). None set, or an empty text or data_b64, is the empty
// payload. Two or more set is an error wrapping ErrBadRequest, as is bad
// base64.
func DecodeData(data json.RawMessage, text, b64 string) ([]byte, error) {
	n := 0
	for _, set := range [...]bool{len(data) > 0, text != "", b64 != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("%w: set one of data, text and data_b64, not %d", ErrBadRequest, n)
	}
	switch {
	case b64 != "":
		d, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, fmt.Errorf("%w: data_b64: %v", ErrBadRequest, err)
		}
		return d, nil
	case text != "":
		return []byte(text), nil
	case len(data) == 0:
		return nil, nil
	}
	return append([]byte(nil), data...), nil
}
