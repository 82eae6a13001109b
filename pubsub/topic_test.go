package pubsub_test

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/switchboard-go/switchboard/pubsub"
)

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		filter, topic string
		want          bool
	}{
		{"sport/tennis/player1", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"#", "sport/tennis", true},
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/tournament", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"#", "$SYS/monitor", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"a/#", "a/$x", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		{"a/b", "a/b/", false},
		{"/", "/", true},
		{"+/+", "/", true},
		{"#", "/", true},
		{"a/b", "A/b", false},
		{"with space", "with space", true},
	}
	for _, tt := range tests {
		f, err := pubsub.ParseFilter(tt.filter)
		require.NoError(t, err, tt.filter)
		require.Equal(t, tt.want, f.Match(tt.topic), "filter %q topic %q", tt.filter, tt.topic)
	}
}

func TestInvalidFiltersAndTopics(t *testing.T) {
	for _, f := range []string{"", "sport/tennis#", "sport/tennis/#/ranking", "sport+", "#/a", "a/+b", "a\x00b",
		"$share/g/a", "$share", strings.Repeat("a", pubsub.MaxTopicLength+1), string([]byte{'a', 0xc3})} {
		_, err := pubsub.ParseFilter(f)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, "%q", f)
	}
	for _, topic := range []string{"", "a/+", "a/#", "+", "a\x00", string([]byte{0xff})} {
		require.ErrorIs(t, pubsub.ValidateTopic(topic), pubsub.ErrInvalidTopic, "%q", topic)
	}
	for _, topic := range []string{"/", "a//b", "$SYS/x", "with space", strings.Repeat("a", pubsub.MaxTopicLength),
		"\uFFFD", "caf\u00e9/\U0001F600"} {
		require.NoError(t, pubsub.ValidateTopic(topic), "%q", topic)
		_, err := pubsub.ParseFilter(topic)
		require.NoError(t, err, "%q", topic)
	}
}

// notUTF8 holds what MQTT 5 (§1.5.4, §4.7.3) forbids in a topic name or
// filter: ill-formed UTF-8 of every kind, and U+0000.
var notUTF8 = map[string]string{
	"lone continuation byte": "a/\x80",
	"truncated sequence":     "a/\xe2\x82",
	"invalid byte":           "a/\xff/b",
	"overlong NUL":           "a/\xc0\x80",     // Java's "modified UTF-8" NUL
	"overlong slash":         "a\xc0\xafb",     // would read as "a/b"
	"surrogate half":         "a/\xed\xa0\x80", // U+D800
	"beyond U+10FFFF":        "a/\xf4\x90\x80\x80",
	"NUL":                    "a/\x00",
	"NUL alone":              "\x00",
	"invalid in a wildcard":  "+/\xff/#",
}

// TestTopicsAndFiltersMustBeUTF8 is issue 13's invalid UTF-8 point, for
// pubsub: neither a topic name nor a filter may hold ill-formed UTF-8 or
// U+0000, whatever the transport that carried it.
func TestTopicsAndFiltersMustBeUTF8(t *testing.T) {
	for name, s := range notUTF8 {
		_, err := pubsub.ParseFilter(s)
		require.ErrorIs(t, err, pubsub.ErrInvalidFilter, "%s: %q", name, s)
		if !strings.ContainsAny(s, "+#") {
			require.ErrorIs(t, pubsub.ValidateTopic(s), pubsub.ErrInvalidTopic, "%s: %q", name, s)
		}
	}
	b := pubsub.NewMemory(nil)
	defer b.Close()
	ctx := context.Background()
	_, err := b.Publish(ctx, pubsub.Message{Topic: "a/\xc0\x80"})
	require.ErrorIs(t, err, pubsub.ErrInvalidTopic)
	_, err = b.Subscribe(ctx, "a/\xed\xa0\x80", nil)
	require.ErrorIs(t, err, pubsub.ErrInvalidFilter)
}

func TestCursorRoundTrip(t *testing.T) {
	c := pubsub.Cursor{Epoch: pubsub.NewEpoch(), Seq: 18446744073709551615}
	got, err := pubsub.ParseCursor(c.String())
	require.NoError(t, err)
	require.Equal(t, c, got)
	for _, bad := range []string{"", "-", "abc", "abc-", "-1", "ABC-1", "abc-1x", "abc--1", "abc-+1",
		"abc-18446744073709551616", "abc-1-2", strings.Repeat("a", 33) + "-1"} {
		_, err := pubsub.ParseCursor(bad)
		require.ErrorIs(t, err, pubsub.ErrInvalidCursor, "%q", bad)
	}
}

// FuzzParseFilter checks that parsing never panics, that what it accepts
// is valid UTF-8 without U+0000 (and so for ValidateTopic), that a valid
// filter matches like a reference implementation, and that ValidateTopic
// agrees with it on names.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"a/b", "a/+", "#", "+/#", "$SYS/#", "a//b", "/", "sport/tennis#", "$share/g/x", "a\x00", "\xff"} {
		f.Add(s, "a/b")
	}
	for _, s := range notUTF8 {
		f.Add(s, s)
		f.Add("a/+", s)
	}
	f.Fuzz(func(t *testing.T, filter, topic string) {
		flt, err := pubsub.ParseFilter(filter)
		if err != nil {
			return
		}
		if !utf8.ValidString(filter) || strings.IndexByte(filter, 0) >= 0 {
			t.Fatalf("ParseFilter accepted %q: not UTF-8 or holds U+0000", filter)
		}
		if pubsub.ValidateTopic(topic) != nil {
			return
		}
		if !utf8.ValidString(topic) || strings.IndexByte(topic, 0) >= 0 {
			t.Fatalf("ValidateTopic accepted %q: not UTF-8 or holds U+0000", topic)
		}
		if got, want := flt.Match(topic), refMatch(filter, topic); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference says %v", filter, topic, got, want)
		}
	})
}

// refMatch is a straightforward reference matcher (split both, compare).
func refMatch(filter, topic string) bool {
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (fl[0] == "+" || fl[0] == "#") {
		return false
	}
	for i, l := range fl {
		if l == "#" {
			return true
		}
		if i >= len(tl) || (l != "+" && l != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"abc-1", "0-0", "", "-", "abc-18446744073709551615", "abc-18446744073709551616", "Z-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := pubsub.ParseCursor(s)
		if err != nil {
			return
		}
		back, err := pubsub.ParseCursor(c.String())
		if err != nil || back != c {
			t.Fatalf("cursor %q does not round-trip: %v %v", s, back, err)
		}
	})
}

func TestDeadLetter(t *testing.T) {
	m := &pubsub.Message{Topic: "jobs/1", ID: "id1", Data: []byte("x"), Header: map[string]string{"k": "v"}}
	dl := pubsub.DeadLetter(nil, m, "max-deliveries")
	require.Equal(t, "$deadletter/jobs/1", dl.Topic)
	require.Equal(t, "id1", dl.ID)
	require.Equal(t, []byte("x"), dl.Data)
	require.Equal(t, map[string]string{"k": "v", pubsub.HeaderDeadLetterReason: "max-deliveries", pubsub.HeaderOriginalTopic: "jobs/1"}, dl.Header)
	require.Equal(t, map[string]string{"k": "v"}, m.Header, "the original is not changed")
	require.Equal(t, "dlq", pubsub.DeadLetter(&pubsub.SubscribeOptions{DeadLetterTopic: "dlq"}, m, "nack").Topic)
}
