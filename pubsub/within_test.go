package pubsub_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func TestWithin(t *testing.T) {
	tests := []struct {
		filter, scope string
		want          bool
	}{
		{"user/alice/inbox", "user/alice/#", true},
		{"user/alice/+", "user/alice/#", true},
		{"user/alice/#", "user/alice/#", true},
		{"user/alice", "user/alice/#", true}, // '#' matches its parent
		{"user/alice/+/x/#", "user/alice/#", true},
		{"user/+/#", "user/alice/#", false},
		{"user/#", "user/alice/#", false},
		{"#", "user/alice/#", false},
		{"+/alice/inbox", "user/alice/#", false},
		{"user/alice2/inbox", "user/alice/#", false},
		{"user/alice/inbox", "user/alice/+", true},
		{"user/alice/inbox/x", "user/alice/+", false},
		{"user/alice/#", "user/alice/+", false},
		{"user/alice", "user/alice/+", false},
		{"user/alice/+", "user/+/+", true},
		{"user/+/inbox", "user/alice/+", false},
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a//b", "a/+/b", true},
		{"#", "#", true},
		{"+/#", "#", true},
		{"#", "+/#", true}, // neither reaches '$' topics, and no topic has zero levels
		{"a/#", "+/#", true},
		{"#", "+", false},
		{"$SYS/x", "#", false},
		{"$SYS/x", "+/x", false},
		{"$SYS/x", "$SYS/#", true},
		{"$SYS/#", "$SYS/#", true},
		{"+/x", "$SYS/#", false},
		{"a/$x", "a/+", true}, // only the first level is special
		{"a/+", "#", true},
		{"user/+/#", "user/+/#", true},
		{"user/+", "user/+/#", true},
		{"user", "user/+/#", false},
		{"user/+/#", "user/+", false},
		// Invalid input is never within anything.
		{"", "#", false},
		{"a/#/b", "#", false},
		{"a+", "#", false},
		{"a", "a+", false},
		{"$share/g/a", "#", false},
	}
	for _, tt := range tests {
		t.Run(tt.filter+" in "+tt.scope, func(t *testing.T) {
			require.Equal(t, tt.want, pubsub.Within(tt.filter, tt.scope))
			if tt.want {
				require.Equal(t, tt.want, bruteWithin(t, tt.filter, tt.scope), "brute force disagrees")
			}
		})
	}
	require.False(t, pubsub.Filter{}.Within(pubsub.Filter{}))
}

// ExampleWithin checks a client's filter against the scope its token grants.
func ExampleWithin() {
	const scope = "user/alice/#"
	for _, f := range []string{"user/alice/inbox", "user/alice/+", "user/+/#", "#", "user/alice2/inbox"} {
		fmt.Println(f, pubsub.Within(f, scope))
	}
	// Output:
	// user/alice/inbox true
	// user/alice/+ true
	// user/+/# false
	// # false
	// user/alice2/inbox false
}

// FuzzWithin compares Within with brute force: every topic built from the
// levels of both filters, a fresh level and a fresh '$' level, up to one
// level longer than either filter. A topic outside that set behaves like
// one inside it (a fresh level stands for every level neither names), so
// the brute force is exact.
func FuzzWithin(f *testing.F) {
	for _, s := range [][2]string{
		{"user/alice/inbox", "user/alice/#"}, {"user/+/#", "user/alice/#"}, {"#", "+/#"},
		{"$SYS/x", "#"}, {"a", "a/#"}, {"a/+", "a/+/#"}, {"+/+", "#"}, {"/", "+/+"},
		{"a//#", "a/+/#"}, {"$a/+", "$a/#"}, {"#", "#"}, {"+", "+/#"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, filter, scope string) {
		got := pubsub.Within(filter, scope)
		_, errF := pubsub.ParseFilter(filter)
		_, errS := pubsub.ParseFilter(scope)
		if errF != nil || errS != nil {
			if got {
				t.Fatalf("Within(%q, %q) = true for an invalid filter", filter, scope)
			}
			return
		}
		if strings.Count(filter, "/") > 4 || strings.Count(scope, "/") > 4 {
			return // keep the brute force small
		}
		if want := bruteWithin(t, filter, scope); got != want {
			t.Fatalf("Within(%q, %q) = %v, brute force says %v", filter, scope, got, want)
		}
	})
}

// bruteWithin decides Within by trying every topic of the finite set that
// stands for all topics (see FuzzWithin).
func bruteWithin(t testing.TB, filter, scope string) bool {
	f, err := pubsub.ParseFilter(filter)
	require.NoError(t, err)
	s, err := pubsub.ParseFilter(scope)
	require.NoError(t, err)
	seen := map[string]bool{}
	var levels []string
	for _, l := range append(append([]string{}, f.Levels()...), s.Levels()...) {
		if l != "+" && l != "#" && !seen[l] {
			seen[l] = true
			levels = append(levels, l)
		}
	}
	fresh := "\x01fresh"
	levels = append(levels, fresh, "$"+fresh)
	maxLen := max(len(f.Levels()), len(s.Levels())) + 1
	ok := true
	var walk func(prefix string, n int)
	walk = func(prefix string, n int) {
		if !ok || n > maxLen {
			return
		}
		for _, l := range levels {
			topic := l
			if n > 1 {
				topic = prefix + "/" + l
			}
			if f.Match(topic) && !s.Match(topic) {
				ok = false
				return
			}
			walk(topic, n+1)
		}
	}
	walk("", 1)
	return ok
}

// ExampleReady asks a broker whether it can serve, as a readiness probe
// does; network brokers answer ErrUnavailable with the reason while their
// connection is down.
func ExampleReady() {
	b := pubsub.NewMemory(nil)
	fmt.Println(pubsub.Ready(context.Background(), b))
	b.Close()
	fmt.Println(pubsub.Ready(context.Background(), b))
	// Output:
	// <nil>
	// pubsub: closed
}
