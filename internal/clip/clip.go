// Package clip shortens client input quoted in error messages and logs, so
// a hostile request cannot make an error (or a log line) as large as
// itself. Package pubsub keeps its own copy: it imports only the standard
// library.
package clip

import "unicode/utf8"

// Max is how many bytes of the input String keeps.
const Max = 64

// String returns s, or its first Max bytes (cut on a rune boundary)
// followed by "…" when s is longer.
func String(s string) string {
	if len(s) <= Max {
		return s
	}
	n := Max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
