package sse

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func readAll(t testing.TB, s string, max int) ([]Event, *eventReader, error) {
	er := newEventReader(strings.NewReader(s), max)
	var evs []Event
	for {
		ev, err := er.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = nil
			}
			return evs, er, err
		}
		evs = append(evs, ev)
	}
}

func TestEventReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []Event
	}{
		{"lf", "data: a\n\n", []Event{{Data: "a"}}},
		{"crlf", "data: a\r\ndata: b\r\n\r\n", []Event{{Data: "a\nb"}}},
		{"cr", "data: a\rdata:b\r\r", []Event{{Data: "a\nb"}}},
		{"bom", "\uFEFFdata: a\n\n", []Event{{Data: "a"}}},
		{"only one bom", "\uFEFF\uFEFFdata: a\n\n\uFEFFdata: b\n\ndata: c\n\n", []Event{{Data: "c"}}},
		{"comment", ": hi\ndata: a\n\n", []Event{{Data: "a"}}},
		{"no space", "data:a\n\n", []Event{{Data: "a"}}},
		{"two spaces", "data:  a\n\n", []Event{{Data: " a"}}},
		{"field only", "data\n\n", []Event{{Data: ""}}},
		{"no data no dispatch", "event: x\n\ndata: a\n\n", []Event{{Data: "a"}}},
		{"sticky id", "id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}, {Data: "c"}}},
		{"id without data sets id", "id: 5\n\ndata: a\n\n", []Event{{ID: "5", Data: "a"}}},
		{"nul id ignored", "id: 1\ndata: a\n\nid: 2\x00\ndata: b\n\n", []Event{{ID: "1", Data: "a"}, {ID: "1", Data: "b"}}},
		{"event type", "event: up\ndata: a\n\ndata: b\n\n", []Event{{Type: "up", Data: "a"}, {Data: "b"}}},
		{"unterminated dropped", "data: a\n\ndata: b\n", []Event{{Data: "a"}}},
		{"unknown field", "foo: bar\ndata: a\n\n", []Event{{Data: "a"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := readAll(t, tc.in, 0)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEventReaderRetry(t *testing.T) {
	_, er, err := readAll(t, "retry: 1500\nretry: 1x\nretry:\n\n", 0)
	require.NoError(t, err)
	require.Equal(t, 1500*time.Millisecond, er.retry)
}

func TestEventReaderLimits(t *testing.T) {
	_, _, err := readAll(t, "data: "+strings.Repeat("a", 100)+"\n\n", 50)
	require.ErrorIs(t, err, ErrEventTooLarge)
	_, _, err = readAll(t, strings.Repeat("data: aaaa\n", 20)+"\n", 50)
	require.ErrorIs(t, err, ErrEventTooLarge)
}

func TestAppendDataRoundTrip(t *testing.T) {
	for _, in := range []string{"", "a", "a\nb", "a\r\nb", "a\rb", "\n", "\r\n\r\n", "a\n", " lead", "x\r"} {
		b := appendField(nil, "id", "1")
		b = appendData(b, []byte(in))
		b = append(b, '\n')
		got, _, err := readAll(t, string(b), 0)
		require.NoError(t, err)
		require.Len(t, got, 1, "%q", in)
		require.Equal(t, normalizeNewlines(in), got[0].Data, "%q", in)
	}
}

func normalizeNewlines(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
}
