package sse

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-go/switchboard/internal/opt"
)

// Event is one event dispatched from a text/event-stream.
type Event struct {
	// ID is the stream's last event ID after this event: ids are sticky,
	// so an event without an id: field carries the previous one.
	ID string
	// Type is the event: field; "" means the default type, "message".
	Type string
	// Data is the event's data lines joined with "\n".
	Data string
}

// eventReader parses a text/event-stream as WHATWG HTML §9.2.6 says:
// lines end at CRLF, LF or CR, one leading BOM is dropped, events are
// dispatched at a blank line, events without data are not dispatched (but
// their id still sets the last event ID), an id holding NUL is ignored,
// retry takes digits only, and an unterminated event at EOF is discarded.
type eventReader struct {
	r      *bufio.Reader
	max    int
	bom    bool // the BOM check is done
	skipLF bool // the previous line ended with CR

	line   []byte
	data   []byte
	hasDat bool
	typ    string
	idBuf  string // the last event ID buffer
	lastID string // the last event ID string, set at dispatch

	retry time.Duration // the latest valid retry: field, 0 if none
}

func newEventReader(r io.Reader, max int) *eventReader {
	return &eventReader{r: bufio.NewReaderSize(r, 4096), max: opt.OrMin(max, DefaultMaxEventBytes)}
}

// next returns the next dispatched event. At the end of the stream it
// returns io.EOF (an unterminated event is dropped); a line or event
// larger than the limit is an error wrapping ErrEventTooLarge.
func (er *eventReader) next() (Event, error) {
	for {
		line, err := er.readLine()
		if err != nil {
			return Event{}, err
		}
		if len(line) == 0 {
			if ev, ok := er.dispatch(); ok {
				return ev, nil
			}
			continue
		}
		if err := er.field(line); err != nil {
			return Event{}, err
		}
	}
}

func (er *eventReader) readLine() ([]byte, error) {
	er.line = er.line[:0]
	for {
		n := er.r.Buffered()
		if n == 0 {
			if _, err := er.r.Peek(1); err != nil {
				if err == io.EOF && len(er.line) > 0 {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			n = er.r.Buffered()
		}
		buf, _ := er.r.Peek(n)
		if er.skipLF {
			er.skipLF = false
			if buf[0] == '\n' {
				_, _ = er.r.Discard(1)
				continue
			}
		}
		i := bytes.IndexAny(buf, "\r\n")
		end := i
		if i < 0 {
			end = len(buf)
		}
		if len(er.line)+end > er.max {
			return nil, fmt.Errorf("%w: a line is longer than %d bytes", ErrEventTooLarge, er.max)
		}
		er.line = append(er.line, buf[:end]...)
		if i < 0 {
			_, _ = er.r.Discard(n)
			continue
		}
		er.skipLF = buf[i] == '\r'
		_, _ = er.r.Discard(i + 1)
		return er.line, er.checkBOM()
	}
}

// checkBOM drops one U+FEFF at the start of the stream.
func (er *eventReader) checkBOM() error {
	if !er.bom {
		er.bom = true
		if strings.HasPrefix(string(er.line), "\uFEFF") {
			er.line = er.line[:copy(er.line, er.line[3:])]
		}
	}
	return nil
}

func (er *eventReader) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	name, value := line, []byte(nil)
	if i := indexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(name) {
	case "event":
		er.typ = string(value)
	case "data":
		if len(er.data)+len(value)+1 > er.max {
			return fmt.Errorf("%w: an event's data is longer than %d bytes", ErrEventTooLarge, er.max)
		}
		er.data = append(er.data, value...)
		er.data = append(er.data, '\n')
		er.hasDat = true
	case "id":
		if indexByte(value, 0) < 0 {
			er.idBuf = string(value)
		}
	case "retry":
		if ms, ok := digits(value); ok {
			er.retry = time.Duration(ms) * time.Millisecond
		}
	}
	return nil
}

func (er *eventReader) dispatch() (Event, bool) {
	er.lastID = er.idBuf
	if !er.hasDat {
		er.typ = ""
		return Event{}, false
	}
	ev := Event{ID: er.lastID, Type: er.typ, Data: string(er.data[:len(er.data)-1])}
	er.data, er.hasDat, er.typ = er.data[:0], false, ""
	if cap(er.data) > 64<<10 {
		er.data = nil
	}
	return ev, true
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// digits parses a retry value: ASCII digits only, capped at a day.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 12 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, false
	}
	return min(n, 24*3600*1000), true
}
