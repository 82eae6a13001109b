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
