package natsx

import (
	"fmt"
	"strings"

	"github.com/switchboard-go/switchboard/internal/clip"
	"github.com/switchboard-go/switchboard/pubsub"
)

// maxSubjectLength bounds the subjects the broker produces; NATS servers
// refuse protocol lines over 4 KiB by default.
const maxSubjectLength = 2048

// mustEscape reports whether byte c cannot appear as itself in a subject
// token: NATS separators and wildcards, whitespace and control bytes, and
// '%', the escape character itself.
func mustEscape(c byte) bool {
	return c <= ' ' || c == 0x7f || c == '.' || c == '*' || c == '>' || c == '%'
}

const hexDigits = "0123456789ABCDEF"

// escapeLevel turns one topic level into a subject token: an empty level
// becomes "%", and every byte mustEscape reports becomes %XX.
func escapeLevel(b *strings.Builder, level string) {
	if level == "" {
		b.WriteByte('%')
		return
	}
	for i := 0; i < len(level); i++ {
		c := level[i]
		if mustEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		} else {
			b.WriteByte(c)
		}
	}
}

// unescapeToken is escapeLevel's inverse; ok is false for a token
// escapeLevel never produces.
func unescapeToken(tok string) (string, bool) {
	if tok == "%" {
		return "", true
	}
	if tok == "" {
		return "", false
	}
	if !strings.ContainsRune(tok, '%') {
		for i := 0; i < len(tok); i++ {
			if mustEscape(tok[i]) || tok[i] == '/' || tok[i] == '+' || tok[i] == '#' {
				return "", false
			}
		}
		return tok, true
	}
	var b strings.Builder
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		switch {
		case c == '%':
			if i+2 >= len(tok) {
				return "", false
			}
			hi, lo := unhex(tok[i+1]), unhex(tok[i+2])
			if hi < 0 || lo < 0 {
				return "", false
			}
			d := byte(hi<<4 | lo)
			if !mustEscape(d) {
				return "", false // not canonical
			}
			b.WriteByte(d)
			i += 2
		case mustEscape(c) || c == '/' || c == '+' || c == '#':
			return "", false
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// TopicToSubject translates a Switchboard topic name to the NATS subject
// it is published on under prefix: prefix + "." + the levels joined by
// '.'. Bytes a subject token cannot carry ('.', '*', '>', whitespace,
// control bytes) and '%' are escaped as %XX (upper-case hex), and an empty
// level becomes the token "%". It fails, wrapping pubsub.ErrInvalidTopic,
// for an invalid topic and for a subject longer than 2048 bytes.
func TopicToSubject(prefix, topic string) (string, error) {
	if err := pubsub.ValidateTopic(topic); err != nil {
		return "", err
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(topic) + 1)
	b.WriteString(prefix)
	for level := range strings.SplitSeq(topic, "/") {
		b.WriteByte('.')
		escapeLevel(&b, level)
	}
	if b.Len() > maxSubjectLength {
		return "", fmt.Errorf("%w %q: its NATS subject is longer than %d bytes", pubsub.ErrInvalidTopic, clip.String(topic), maxSubjectLength)
	}
	return b.String(), nil
}

// SubjectToTopic translates a subject under prefix back to a topic name.
// It fails, wrapping pubsub.ErrInvalidTopic, for a subject outside prefix
// and for tokens TopicToSubject never produces (raw '/', '+', '#', a '%'
// not followed by an escape of a byte that needs one).
func SubjectToTopic(prefix, subject string) (string, error) {
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok || rest == "" {
		return "", fmt.Errorf("%w: NATS subject %q is not under %q", pubsub.ErrInvalidTopic, clip.String(subject), prefix)
	}
	var b strings.Builder
	first := true
	for tok := range strings.SplitSeq(rest, ".") {
		level, ok := unescapeToken(tok)
		if !ok {
			return "", fmt.Errorf("%w: NATS subject %q has the token %q, which no topic maps to", pubsub.ErrInvalidTopic, clip.String(subject), clip.String(tok))
		}
		if !first {
			b.WriteByte('/')
		}
		first = false
		b.WriteString(level)
	}
	topic := b.String()
	if err := pubsub.ValidateTopic(topic); err != nil {
		return "", err
	}
	return topic, nil
}

// FilterToSubjects translates a Switchboard (MQTT 5) filter to the NATS
// subjects that carry it under prefix: '+' becomes '*', '#' becomes '>',
// literal levels are escaped as by TopicToSubject. MQTT's "a/#" also
// matches "a" itself, which NATS "a.>" does not, so a trailing '#' after
// at least one level yields two subjects, the parent and parent + ".>".
// It fails, wrapping pubsub.ErrInvalidFilter, for an invalid filter and
// for subjects longer than 2048 bytes.
//
// NATS has no '$' rule ("*" and ">" match "$sys" tokens), so deliveries
// are matched again with the returned pubsub.Filter.
func FilterToSubjects(prefix, filter string) (pubsub.Filter, []string, error) {
	f, err := pubsub.ParseFilter(filter)
	if err != nil {
		return pubsub.Filter{}, nil, err
	}
	var b strings.Builder
	b.WriteString(prefix)
	levels := f.Levels()
	var parent string
	for i, l := range levels {
		if l == "#" && i > 0 {
			parent = b.String()
		}
		b.WriteByte('.')
		switch l {
		case "+":
			b.WriteByte('*')
		case "#":
			b.WriteByte('>')
		default:
			escapeLevel(&b, l)
		}
	}
	if b.Len() > maxSubjectLength {
		return pubsub.Filter{}, nil, fmt.Errorf("%w %q: its NATS subject is longer than %d bytes", pubsub.ErrInvalidFilter, clip.String(filter), maxSubjectLength)
	}
	if parent != "" {
		return f, []string{parent, b.String()}, nil
	}
	return f, []string{b.String()}, nil
}

// streamFilter returns the one subject covering every subject of subjects
// (the 2.9 servers take one filter per consumer): the wildcard subject of
// a trailing '#' widened to its parent level's parent ("p.a.b.>" for
// "a/b/#", which must also match "a/b"), matched again locally.
func streamFilter(prefix string, subjects []string) string {
	if len(subjects) == 1 {
		return subjects[0]
	}
	parent := subjects[0] // "<prefix>.a.b" for a/b/#
	i := strings.LastIndexByte(parent, '.')
	if i <= len(prefix) {
		return prefix + ".>"
	}
	return parent[:i] + ".>"
}
