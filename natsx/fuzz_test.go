package natsx_test

import (
	"strings"
	"testing"

	"github.com/switchboard-go/switchboard/natsx"
	"github.com/switchboard-go/switchboard/pubsub"
)

// FuzzTopicSubject: every valid topic maps to a subject with no empty
// token, no whitespace and no wildcard token, and back to itself; every
// subject that maps to a topic maps back to the same subject.
func FuzzTopicSubject(f *testing.F) {
	for _, s := range []string{"a/b", "a//b", "/", "a.b", "x y", "*", ">", "%", "%41", "$sys/#", "üñí", "a/+/#"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if subject, err := natsx.TopicToSubject("p", s); err == nil {
			for _, tok := range strings.Split(subject, ".") {
				if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
					t.Fatalf("topic %q: bad subject %q", s, subject)
				}
			}
			back, err := natsx.SubjectToTopic("p", subject)
			if err != nil || back != s {
				t.Fatalf("topic %q → %q → %q, %v", s, subject, back, err)
			}
		} else if pubsub.ValidateTopic(s) == nil && len(s) < 600 {
			t.Fatalf("valid topic %q refused: %v", s, err)
		}
		if topic, err := natsx.SubjectToTopic("p", "p."+s); err == nil {
			subject, err := natsx.TopicToSubject("p", topic)
			if err != nil || subject != "p."+s {
				t.Fatalf("subject %q → %q → %q, %v", "p."+s, topic, subject, err)
			}
		}
		if f, subjects, err := natsx.FilterToSubjects("p", s); err == nil {
			if f.String() != s || len(subjects) == 0 || len(subjects) > 2 {
				t.Fatalf("filter %q: %v", s, subjects)
			}
		}
	})
}
