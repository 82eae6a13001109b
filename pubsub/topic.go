package pubsub

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxTopicLength is the longest topic name or filter in bytes (MQTT 5 §4.7.3).
const MaxTopicLength = 65535

// ValidateTopic reports whether name is a valid topic name to publish to:
// 1 to MaxTopicLength bytes of UTF-8, no NUL, no '+' or '#'. The error wraps
// ErrInvalidTopic.
func ValidateTopic(name string) error {
	if err := validateString(name); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidTopic, clip(name), err)
	}
	if i := strings.IndexAny(name, "+#"); i >= 0 {
		return fmt.Errorf("%w %q: wildcard %q at byte %d is not allowed in a topic name", ErrInvalidTopic, clip(name), name[i], i)
	}
	return nil
}

func validateString(s string) string {
	switch {
	case s == "":
		return "empty"
	case len(s) > MaxTopicLength:
		return fmt.Sprintf("longer than %d bytes", MaxTopicLength)
	case strings.IndexByte(s, 0) >= 0:
		return "contains NUL"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	}
	return ""
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// Filter is a parsed, valid topic filter. The zero Filter matches nothing.
type Filter struct {
	raw    string
	levels []string // "+" and "#" are wildcards
	wild   bool     // the filter contains a wildcard
}

// ParseFilter parses and validates an MQTT 5 topic filter: '+' must be a
// whole level, '#' a whole last level; "$share/…" is refused (use
// SubscribeOptions.Group). The error wraps ErrInvalidFilter.
func ParseFilter(s string) (Filter, error) {
	if err := validateString(s); err != "" {
		return Filter{}, fmt.Errorf("%w %q: %s", ErrInvalidFilter, clip(s), err)
	}
	if strings.HasPrefix(s, "$share/") || s == "$share" {
		return Filter{}, fmt.Errorf("%w %q: shared subscriptions are set with SubscribeOptions.Group, not in the filter", ErrInvalidFilter, clip(s))
	}
	f := Filter{raw: s, levels: strings.Split(s, "/")}
	for i, l := range f.levels {
		switch {
		case l == "+":
			f.wild = true
		case l == "#":
			if i != len(f.levels)-1 {
				return Filter{}, fmt.Errorf("%w %q: '#' must be the last level", ErrInvalidFilter, clip(s))
			}
			f.wild = true
		case strings.ContainsAny(l, "+#"):
			return Filter{}, fmt.Errorf("%w %q: a wildcard must occupy a whole level (level %d is %q)", ErrInvalidFilter, clip(s), i+1, clip(l))
		}
	}
	return f, nil
}

// String returns the filter as written.
func (f Filter) String() string { return f.raw }

// Levels returns the filter's levels; callers must not modify the slice.
func (f Filter) Levels() []string { return f.levels }

// Wildcard reports whether the filter contains '+' or '#'.
func (f Filter) Wildcard() bool { return f.wild }

// Match reports whether the topic name matches the filter. It does not
// allocate. Topics starting with '$' match only filters whose first level is
// not a wildcard.
func (f Filter) Match(topic string) bool {
	if len(f.levels) == 0 || topic == "" {
		return false
	}
	if !f.wild {
		return f.raw == topic
	}
	if topic[0] == '$' && (f.levels[0] == "+" || f.levels[0] == "#") {
		return false
	}
	rest, exhausted := topic, false
	for _, l := range f.levels {
		if l == "#" {
			return true // '#' also matches the parent level
		}
		if exhausted {
			return false
		}
		level, after, found := strings.Cut(rest, "/")
		if l != "+" && l != level {
			return false
		}
		rest, exhausted = after, !found
	}
	return exhausted // false: the topic has more levels than the filter
}
