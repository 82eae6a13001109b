package graphqlsub

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQueryCost(t *testing.T) {
	aliases := func(n int, field string) string {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			b.WriteString(" a" + strconv.Itoa(i) + ": " + field)
		}
		return b.String() + " }"
	}
	for _, tc := range []struct {
		name, query string
		vars        map[string]any
		op          string
		cost, depth int64
	}{
		{"one field", `{ ping }`, nil, "", 1, 1},
		{"list", `{ messages(topic: "#", limit: 1000) { id data } }`, nil, "", 2001, 2},
		{"no limit", `query Q { messages(topic: "#") { id data } }`, nil, "", 3, 2},
		{"first", `{ users(first: 10) { friends(last: 5) { name } } }`, nil, "", 1 + 10*(1+5), 3},
		{"aliases", aliases(300, `messages(topic: "#", limit: 1000) { data }`), nil, "", 300 * 1001, 2},
		{"variable", `query($n: Int) { messages(topic: "#", limit: $n) { data } }`, map[string]any{"n": float64(50)}, "", 51, 2},
		{"variable default", `query($n: Int = 70 @d) { messages(topic: "#", limit: $n) { data } }`, nil, "", 71, 2},
		{"fragments", `query { ...F m: messages(limit: 2) { ...G } } fragment F on Query { a b } fragment G on Message { ... on Message { x y } z }`, nil, "", 2 + 1 + 2*3, 2},
		{"named op", `query A { a } query B($x: [Int!]! = [1, 2], $o: In = {k: "v"}) { b c @skip(if: true) }`, nil, "B", 2, 1},
		{"most costly without a name", `query A { a } query B { b c }`, nil, "", 2, 1},
		{"saturates", `{ a(limit: 9223372036854775807) { b(limit: 9223372036854775807) { c } } }`, nil, "", maxCostValue, 3},
		{"strings and comments", "{ a(s: \"}{\", t: \"\"\"}\n{\"\"\") # }\n b }", nil, "", 2, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cost, depth, err := queryCost(&Request{Query: tc.query, Variables: tc.vars, OperationName: tc.op})
			require.NoError(t, err)
			require.Equal(t, tc.cost, cost)
			require.Equal(t, tc.depth, depth)
		})
	}
	// Fragment bombs are computed once per fragment, not expanded.
	var b strings.Builder
	b.WriteString("{ ...F0 }\nfragment F39 on Q { a }\n")
	for i := 38; i >= 0; i-- {
		b.WriteString("fragment F" + strconv.Itoa(i) + " on Q { ...F" + strconv.Itoa(i+1) + " x: f { ...F" + strconv.Itoa(i+1) + " } }\n")
	}
	cost, _, err := queryCost(&Request{Query: b.String()})
	require.NoError(t, err)
	require.Greater(t, cost, int64(1)<<39)

	for _, bad := range []string{`{`, `{ }`, `{ a(b: ) }`, `{ ...F }`, `{ ...F } fragment F on Q { ...F }`,
		`query ( { a }`, `{ a } garbage`, strings.Repeat("{ a ", 300) + strings.Repeat("}", 300), `{ a(x: [[[[`, `"unterminated`} {
		_, _, err := queryCost(&Request{Query: bad})
		require.ErrorIs(t, err, errCost, "%q", bad)
	}
}

func FuzzQueryCost(f *testing.F) {
	f.Add(`{ messages(topic: "#", limit: 1000) { id data } }`, "")
	f.Add(`query A($n: Int = 3) { ...F } fragment F on Q { a(first: $n) { b } }`, "A")
	f.Add(`{ a { ... on T @include(if: true) { b } } }`, "")
	f.Fuzz(func(t *testing.T, doc, op string) {
		cost, depth, err := queryCost(&Request{Query: doc, OperationName: op})
		if err == nil && (cost < 0 || depth < 0 || cost > maxCostValue) {
			t.Fatalf("cost %d depth %d", cost, depth)
		}
	})
}
