package graphqlsub

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOperationType(t *testing.T) {
	for _, tc := range []struct{ doc, name, want string }{
		{"{ a }", "", opQuery},
		{"query { a }", "", opQuery},
		{"mutation M { a }", "", opMutation},
		{"subscription S($x: In = {a: {b: 1}}) @dir(a: [1, {c: 2}]) { a { b } }", "", opSubscription},
		{"# comment\n\uFEFF subscription { a }", "", opSubscription},
		{`query A { a(s: "}{\"") } subscription B { b(s: """ } """) }`, "B", opSubscription},
		{`query A { a } mutation B { b }`, "A", opQuery},
		{`fragment F on query { x } mutation { ...F }`, "", opMutation},
		{"subscription{a},", "", opSubscription},
	} {
		got, err := operationType(tc.doc, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("operationType(%q, %q) = %q, %v; want %q", tc.doc, tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ doc, name string }{
		{"", ""}, {"{", ""}, {"query A { a } query B { b }", ""}, {"query A { a }", "B"},
		{`{ a(s: "unterminated) }`, ""}, {"type Query { a: Int }", ""}, {"query (", ""}, {"{ a } }", ""},
		{"query ) {", ""}, {`{ a(s: """x) }`, ""}, {"%", ""},
	} {
		if got, err := operationType(tc.doc, tc.name); err == nil {
			t.Errorf("operationType(%q, %q) = %q, want an error", tc.doc, tc.name, got)
		}
	}
}

func FuzzOperationType(f *testing.F) {
	for _, s := range []string{"{ a }", "subscription S($x: In = {a: 1}) { a }", `query A { a(s: "}") } mutation B { b }`,
		"fragment F on T { x } query { ...F }", `{ a(s: """ \""" """) }`, "# c\n{a}", "query ( { a }", "{ a } }"} {
		f.Add(s, "")
		f.Add(s, "B")
	}
	f.Fuzz(func(t *testing.T, doc, name string) {
		typ, err := operationType(doc, name)
		if err != nil {
			if typ != "" {
				t.Fatalf("type %q with error %v", typ, err)
			}
			return
		}
		if typ != opQuery && typ != opMutation && typ != opSubscription {
			t.Fatalf("unexpected type %q", typ)
		}
		// The operation keyword is in the document (or a shorthand brace).
		if typ != opQuery && !strings.Contains(doc, typ) {
			t.Fatalf("%q found in %q", typ, doc)
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"connection_init","payload":{"token":"x"}}`,
		`{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":{"a":1},"operationName":null,"extensions":null}}`,
		`{"type":"complete","id":"1"}`, `{"type":"ping","payload":null}`, `{"type":"pong"}`,
		`{"type":"start","id":"1","payload":{"query":"{a}"}}`, `{"type":"stop","id":"1"}`,
		`{"type":1}`, `{"type":"subscribe","id":1}`, `[]`, `null`, `{"type":"subscribe","id":"1","payload":{"query":"{a}","variables":[]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMessage(b)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("error too long for a close reason: %q", err)
			}
			return
		}
		cerr := checkTransportMessage(m)
		if cerr != nil && utf8.ValidString(cerr.Error()) && len(closeReason("Invalid message received: "+cerr.Error())) > maxCloseReason {
			t.Fatalf("close reason too long")
		}
		req, err := parseRequest(m.Payload)
		if err != nil {
			return
		}
		// A decoded request survives a round trip.
		enc, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("marshal %+v: %v", req, err)
		}
		back, err := parseRequest(enc)
		if err != nil {
			t.Fatalf("round trip of %s: %v", enc, err)
		}
		if back.Query != req.Query || back.OperationName != req.OperationName || len(back.Variables) != len(req.Variables) {
			t.Fatalf("round trip changed %+v into %+v", req, back)
		}
		// Messages echo ids verbatim and stay valid JSON.
		out := appendMessage(nil, msgNext, m.ID, enc)
		if !json.Valid(out) {
			t.Fatalf("invalid message %s", out)
		}
	})
}

func FuzzCloseReason(f *testing.F) {
	f.Add("Subscriber for " + strings.Repeat("é", 100) + " already exists")
	f.Add("short")
	f.Fuzz(func(t *testing.T, s string) {
		r := closeReason(s)
		if len(r) > maxCloseReason || !strings.HasPrefix(s, r) {
			t.Fatalf("closeReason(%q) = %q", s, r)
		}
		if utf8.ValidString(s) && !utf8.ValidString(r) {
			t.Fatalf("closeReason cut a rune: %q", r)
		}
	})
}

func FuzzRequestFromQuery(f *testing.F) {
	f.Add("{a}", "", `{"x":1}`, "")
	f.Add("", "A", "[]", "null")
	f.Fuzz(func(t *testing.T, query, op, vars, ext string) {
		req, err := requestFromQuery(map[string][]string{"query": {query}, "operationName": {op}, "variables": {vars}, "extensions": {ext}})
		if err == nil && (req.Query != query || req.OperationName != op) {
			t.Fatalf("lost fields: %+v", req)
		}
		_, _ = responseMedia(query)
	})
}
