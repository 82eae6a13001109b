package wire

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// CheckText reports whether a JSON document from a client holds only valid
// text: UTF-8 bytes, and no \u escape of a lone UTF-16 surrogate.
// encoding/json decodes either to U+FFFD without an error, which would
// silently turn a client's broken topic into another topic. The error
// wraps ErrBadRequest.
func CheckText(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("%w: not valid UTF-8", ErrBadRequest)
	}
	for i := 0; i < len(b); i++ {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 {
			break
		}
		i += j
		if i+1 >= len(b) || b[i+1] != 'u' {
			i++ // another escape (or invalid JSON, which the decoder refuses)
			continue
		}
		v, ok := hex4(b, i+2)
		if !ok {
			i++
			continue
		}
		switch {
		case v >= 0xD800 && v <= 0xDBFF:
			if lo, ok := hex4(b, i+8); ok && i+7 < len(b) && b[i+6] == '\\' && b[i+7] == 'u' && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
			return fmt.Errorf("%w: \\u%04x at byte %d is a lone UTF-16 surrogate", ErrBadRequest, v, i)
		case v >= 0xDC00 && v <= 0xDFFF:
			return fmt.Errorf("%w: \\u%04x at byte %d is a lone UTF-16 surrogate", ErrBadRequest, v, i)
		}
		i += 5
	}
	return nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var v rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}
