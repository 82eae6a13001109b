package sse

import "strconv"

// appendField appends "name: value\n". value must hold no CR or LF.
func appendField(dst []byte, name, value string) []byte {
	dst = append(dst, name...)
	dst = append(dst, ':', ' ')
	dst = append(dst, value...)
	return append(dst, '\n')
}

// appendData appends one "data:" line per line of data. Lines end at CR,
// LF or CRLF (WHATWG HTML §9.2.6), so the client sees them joined by LF. An
// empty payload is one empty data line, so the event is still dispatched.
func appendData(dst, data []byte) []byte {
	start := 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		if c != '\r' && c != '\n' {
			continue
		}
		dst = appendDataLine(dst, data[start:i])
		if c == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		start = i + 1
	}
	return appendDataLine(dst, data[start:])
}

func appendDataLine(dst, line []byte) []byte {
	if len(line) == 0 {
		return append(dst, "data:\n"...)
	}
	dst = append(dst, "data: "...)
	dst = append(dst, line...)
	return append(dst, '\n')
}

// appendRetry appends "retry: <ms>\n".
func appendRetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = strconv.AppendInt(dst, ms, 10)
	return append(dst, '\n')
}

// cleanField reports whether s can travel as an id or event field: no CR,
// LF or NUL (a NUL makes browsers ignore an id).
func cleanField(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			return false
		}
	}
	return true
}
