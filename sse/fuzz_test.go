package sse

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/switchboard-go/switchboard/pubsub"
)

// FuzzEventReader feeds arbitrary bytes to the event-stream parser: it
// must not panic, must stay within its limit, and must dispatch only
// events whose data came from data fields.
func FuzzEventReader(f *testing.F) {
	for _, s := range []string{"data: a\n\n", "id: 1\r\ndata: a\r\n\r\n", "\uFEFFevent: x\rdata\r\r", "retry: 10\n:c\n\n", "data: " + strings.Repeat("z", 80) + "\n\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		er := newEventReader(strings.NewReader(s), 64)
		for range len(s) + 1 {
			ev, err := er.next()
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrEventTooLarge) {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(ev.Data) > 64 || strings.ContainsAny(ev.ID, "\x00\r\n") || strings.ContainsAny(ev.Type, "\r\n") {
				t.Fatalf("bad event %+v", ev)
			}
		}
		t.Fatalf("more events than input bytes")
	})
}

// FuzzAppendData checks that any payload survives the data-line encoding
// up to the line-end normalisation browsers apply.
func FuzzAppendData(f *testing.F) {
	for _, s := range []string{"", "a\nb", "a\r\nb\rc", "\r", " x"} {
		f.Add([]byte(s), "ev")
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		var b []byte
		if name != "" && cleanField(name) {
			b = appendField(b, "event", name)
		} else {
			name = ""
		}
		b = appendData(b, data)
		b = append(b, '\n')
		er := newEventReader(strings.NewReader(string(b)), len(b)+1)
		ev, err := er.next()
		if err != nil {
			t.Fatal(err)
		}
		wantName := name
		if strings.HasPrefix(string(b), "\uFEFF") {
			t.Skip()
		}
		if ev.Data != normalizeNewlines(string(data)) || ev.Type != wantName {
			t.Fatalf("got %+v for %q", ev, data)
		}
	})
}

// FuzzParseRequest checks the query and Last-Event-ID parsing: any input
// gives a request of valid filters or an error, never a panic.
func FuzzParseRequest(f *testing.F) {
	for _, q := range []string{"topic=a", "topic=a/%23&topic=b&lastEventId=x-1", "topic=%zz", "topic=a/%23/b", "lastEventId=1", "topic=$share/g/a", "topic=a&topic=a"} {
		f.Add(q, "abc-12")
	}
	f.Fuzz(func(t *testing.T, q, last string) {
		var hdr []string
		if last != "" {
			hdr = []string{last}
		}
		r, err := parseRequest(q, hdr, 3)
		if err != nil {
			return
		}
		if len(r.filters) == 0 || len(r.filters) > 3 {
			t.Fatalf("%d filters", len(r.filters))
		}
		for _, flt := range r.filters {
			if _, err := pubsub.ParseFilter(flt); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.lastID) > maxLastEventID || (r.lastID != "" && !r.resume) {
			t.Fatalf("bad resume %+v", r)
		}
		if last != "" && !r.resume {
			t.Fatalf("Last-Event-ID %q ignored", last)
		}
	})
}

// refParse is a direct transcription of WHATWG HTML §9.2.6 over a whole
// string, the reference FuzzEventReaderMatchesReference checks against.
func refParse(s string) []Event {
	s = strings.TrimPrefix(s, "\uFEFF")
	var lines []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' || s[i] == '\n' {
			lines = append(lines, s[start:i])
			if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	var evs []Event
	var data, typ, idBuf, lastID string
	hasData := false
	for _, l := range lines {
		if l == "" {
			lastID = idBuf
			if hasData {
				evs = append(evs, Event{ID: lastID, Type: typ, Data: strings.TrimSuffix(data, "\n")})
			}
			data, typ, hasData = "", "", false
			continue
		}
		if l[0] == ':' {
			continue
		}
		name, value, found := strings.Cut(l, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch name {
		case "event":
			typ = value
		case "data":
			data += value + "\n"
			hasData = true
		case "id":
			if !strings.Contains(value, "\x00") {
				idBuf = value
			}
		}
	}
	return evs
}

// FuzzEventReaderMatchesReference: the streaming parser, fed in small
// chunks, dispatches exactly the events of the reference parser.
func FuzzEventReaderMatchesReference(f *testing.F) {
	for _, s := range []string{"data: a\n\n", "id: 1\r\ndata: a\r\n\r\n", "\uFEFFevent: x\rdata\r\r", "data:a\r\rdata:b\n\r\n", ":c\nid\x00: 1\ndata: x\n\n"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		want := refParse(s)
		er := newEventReader(&chunkReader{s: s, n: int(chunk%16) + 1}, len(s)+1)
		var got []Event
		for {
			ev, err := er.next()
			if err != nil {
				break
			}
			got = append(got, ev)
		}
		if len(got) != len(want) {
			t.Fatalf("got %d events %+v, want %d %+v", len(got), got, len(want), want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("event %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	})
}

// chunkReader returns s at most n bytes per Read, to exercise line ends
// split across reads (a CR at the end of one read, LF at the start of the
// next).
type chunkReader struct {
	s string
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	k := min(len(p), c.n, len(c.s))
	copy(p, c.s[:k])
	c.s = c.s[k:]
	return k, nil
}
